/* store_lookup.c - lookups: PDQ radius queries through the index (or a
 * scan), MD5/SHA-256 exact lookups, the result set and its JSON. */
#include "index/index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- cached read transactions ----------------------------------------------
 * mdb_txn_begin for a reader takes a reader-table slot under a mutex;
 * renewing a reset transaction is cheaper, so finished ones are kept. */

int store__rtxn_get(scrim_store *s, MDB_txn **txn)
{
    MDB_txn *t = NULL;
    pthread_mutex_lock(&s->rlock);
    if (s->nrfree)
        t = s->rfree[--s->nrfree];
    pthread_mutex_unlock(&s->rlock);
    if (t) {
        int rc = mdb_txn_renew(t);
        if (!rc) {
            *txn = t;
            return 0;
        }
        mdb_txn_abort(t);
    }
    return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
}

void store__rtxn_put(scrim_store *s, MDB_txn *txn)
{
    mdb_txn_reset(txn);
    pthread_mutex_lock(&s->rlock);
    if (s->nrfree < sizeof s->rfree / sizeof *s->rfree) {
        s->rfree[s->nrfree++] = txn;
        txn = NULL;
    }
    pthread_mutex_unlock(&s->rlock);
    if (txn)
        mdb_txn_abort(txn);
}

void store__rtxn_cache_free(scrim_store *s)
{
    for (size_t i = 0; i < s->nrfree; i++)
        mdb_txn_abort(s->rfree[i]);
    s->nrfree = 0;
}

/* ---- the index directory --------------------------------------------------------
 * Shared by all threads for the newest snapshot; counted references keep an
 * older one alive while a lookup on that snapshot still uses it. */

static mih_dir *dir_get(scrim_store *s, MDB_txn *txn)
{
    uint64_t id = mdb_txn_id(txn);
    mih_dir *d = NULL;
    pthread_mutex_lock(&s->dlock);
    if (s->dir && s->dir->txnid == id) {
        d = s->dir;
        d->refs++;
    }
    pthread_mutex_unlock(&s->dlock);
    if (d || mih__dir_build(txn, s->index, &d))
        return d; /* on failure: NULL, the probes use mdb_get */
    d->refs = 1;
    pthread_mutex_lock(&s->dlock);
    if (!s->dir || s->dir->txnid < id) {
        mih_dir *old = s->dir;
        s->dir = d;
        d->refs++;
        if (old && --old->refs == 0)
            free(old);
    }
    pthread_mutex_unlock(&s->dlock);
    return d;
}

static void dir_put(scrim_store *s, mih_dir *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&s->dlock);
    int last = --d->refs == 0;
    pthread_mutex_unlock(&s->dlock);
    if (last)
        free(d);
}

/* ---- result sets --------------------------------------------------------------- */

/* The pool: a chain of string blocks owned by the result set. */
typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block;

static const char *pool_strndup(scrim_matches *m, const char *s, size_t n)
{
    pool_block *b = m->pool;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 16384 ? n + 1 : 16384;
        pool_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        m->pool = b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

void scrim_matches_free(scrim_matches *m)
{
    if (!m)
        return;
    for (pool_block *b = m->pool, *nb; b; b = nb) {
        nb = b->next;
        free(b);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

static scrim_match *matches_push(scrim_matches *m)
{
    if (scrim__grow(&m->v, &m->cap, m->n, sizeof *m->v, 16))
        return NULL;
    scrim_match *r = &m->v[m->n++];
    memset(r, 0, sizeof *r);
    r->quality = -1;
    return r;
}

static int match_cmp(const void *a, const void *b)
{
    const scrim_match *x = a, *y = b;
    if (x->query != y->query)
        return x->query < y->query ? -1 : 1;
    if (x->distance != y->distance)
        return x->distance - y->distance;
    int c = strcmp(x->list, y->list);
    if (c)
        return c;
    c = strcmp(x->hash, y->hash);
    if (c)
        return c;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

/* ---- the lists a lookup considers ------------------------------------------------- */

typedef struct lk_list {
    uint32_t id;
    int kind, radius;
    const char *name;     /* in the result pool */
} lk_list;

typedef struct lookup {
    scrim_store *s;
    MDB_txn *txn;
    lk_list *lists;
    size_t nlists;
    int radius;           /* override, or -1 */
    size_t query;
    scrim_matches *out;
    int oom;
    int all;              /* quarantined entries too (include_disabled) */
} lookup;

static int lookup_lists(lookup *lk, const scrim_lookup_opts *o, char *err,
                        size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    size_t cap = 0;
    lk->lists = NULL;
    lk->nlists = 0;
    for (size_t i = 0; o && i < o->nlists; i++) {
        const char *n = o->lists[i];
        MDB_val key = {strlen(n), (void *)n}, val;
        if (!scrim_list_name_valid(n) ||
            mdb_get(lk->txn, lk->s->lists, &key, &val)) {
            scrim__seterr(err, errlen, "no list named '%s'", n);
            return SCRIM_ENOTFOUND;
        }
    }
    int rc = mdb_cursor_open(lk->txn, lk->s->lists, &c);
    if (rc)
        return scrim__mdb_err(rc, "lookup", err, errlen);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct list_rec r;
        if (v.mv_size < sizeof r)
            continue;
        memcpy(&r, v.mv_data, sizeof r);
        if (!r.enabled && !(o && o->include_disabled))
            continue;
        if (o && o->nlists) {
            size_t i;
            for (i = 0; i < o->nlists; i++)
                if (strlen(o->lists[i]) == k.mv_size &&
                    !memcmp(o->lists[i], k.mv_data, k.mv_size))
                    break;
            if (i == o->nlists)
                continue;
        }
        if (scrim__grow(&lk->lists, &cap, lk->nlists, sizeof *lk->lists, 8)) {
            rc = ENOMEM;
            break;
        }
        lk_list *l = &lk->lists[lk->nlists];
        l->id = r.id;
        l->kind = r.kind;
        l->radius = r.radius;
        l->name = pool_strndup(lk->out, k.mv_data, k.mv_size);
        if (!l->name) {
            rc = ENOMEM;
            break;
        }
        lk->nlists++;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return scrim__mdb_err(rc, "lookup", err, errlen);
    return 0;
}

static const lk_list *find_list(const lookup *lk, uint32_t id)
{
    for (size_t i = 0; i < lk->nlists; i++)
        if (lk->lists[i].id == id)
            return &lk->lists[i];
    return NULL;
}

/* A hit's source, category and tags into the result's pool. */
static int match_strings(scrim_matches *out, scrim_match *m, const ref_view *r)
{
    if (r->source && !(m->source = pool_strndup(out, r->source, r->sourcelen)))
        return SCRIM_ENOMEM;
    if (r->category &&
        !(m->category = pool_strndup(out, r->category, r->categorylen)))
        return SCRIM_ENOMEM;
    if (r->tags && !(m->tags = pool_strndup(out, r->tags, r->tagslen)))
        return SCRIM_ENOMEM;
    return 0;
}

/* mih emit: filter by list and radius, then record the hit. */
static int emit_hit(void *ud, uint32_t ref, const void *rec, size_t reclen,
                    int distance)
{
    lookup *lk = ud;
    ref_view r;
    if (store__ref_decode(rec, reclen, &r))
        return SCRIM_EDB;
    /* A quarantined entry (store_quarantine.c): its flag is in the record
     * every hit decodes anyway, so skipping it costs one test. */
    if (r.quarantined && !lk->all)
        return 0;
    const lk_list *l = find_list(lk, r.list);
    if (!l)
        return 0;
    if (distance > (lk->radius >= 0 ? lk->radius : l->radius))
        return 0;
    scrim_match *m = matches_push(lk->out);
    if (!m) {
        lk->oom = 1;
        return SCRIM_ENOMEM;
    }
    m->query = lk->query;
    m->list = l->name;
    m->kind = l->kind;
    m->type = r.type;
    m->distance = distance;
    scrim_pdq_to_hex(&r.hash, m->hash);
    m->quality = r.quality;
    m->quarantined = r.quarantined;
    m->ref = ref;
    if (r.id && !(m->id = pool_strndup(lk->out, r.id, r.idlen)))
        return SCRIM_ENOMEM;
    if (r.label && !(m->label = pool_strndup(lk->out, r.label, r.labellen)))
        return SCRIM_ENOMEM;
    if (r.variant &&
        !(m->variant = pool_strndup(lk->out, r.variant, r.variantlen)))
        return SCRIM_ENOMEM;
    if (match_strings(lk->out, m, &r))
        return SCRIM_ENOMEM;
    if (r.type == SCRIM_HASH_VIDEO) {
        m->entry = r.entry;
        m->frame = r.frame;
        m->frames = r.frames;
        m->seconds = r.seconds;
    }
    return 0;
}

/* From this many queries a call sorts the probes of all (mih__query_batch):
 * measured on 100,000 hashes at r = 31, it pays from about ... queries. */
#define LOOKUP_BATCH_MIN 32
/* From this many, o.threads > 1 lets a helper thread take half the values. */
#define LOOKUP_SPLIT_MIN 1000

int scrim_store_lookup_pdq(scrim_store *s, const scrim_pdq *q, size_t nq,
                           const scrim_lookup_opts *opts, scrim_matches *out,
                           char *err, size_t errlen)
{
    scrim_lookup_opts o = SCRIM_LOOKUP_OPTS_DEFAULT;
    if (opts)
        o = *opts;
    if (o.radius < -1 || o.radius > SCRIM_MAX_RADIUS) {
        scrim__seterr(err, errlen, "radius %d out of range 0-%d", o.radius,
                      SCRIM_MAX_RADIUS);
        return SCRIM_EINVAL;
    }
    lookup lk = {s, NULL, NULL, 0, o.radius, 0, out, 0, o.include_disabled};
    int rc = store__rtxn_get(s, &lk.txn);
    if (rc)
        return scrim__mdb_err(rc, "lookup", err, errlen);
    size_t first = out->n;
    if ((rc = lookup_lists(&lk, &o, err, errlen)))
        goto done;
    int R = o.radius;
    if (R < 0)
        for (size_t i = 0; i < lk.nlists; i++)
            if (lk.lists[i].radius > R)
                R = lk.lists[i].radius;
    if (R < 0)
        goto done; /* no list to look in */
    int scan = o.method == SCRIM_LOOKUP_SCAN ||
               (o.method == SCRIM_LOOKUP_AUTO && R >= 48);
    mih_dir *dir = scan ? NULL : dir_get(s, lk.txn);
    hc_view hc = store__hc_view(s, lk.txn);
    if (!scan && dir && nq >= LOOKUP_BATCH_MIN)
        rc = mih__query_batch(lk.txn, s->index, s->refs, dir, hc, q, nq, R,
                              nq >= LOOKUP_SPLIT_MIN ? o.threads : 1,
                              &lk.query, emit_hit, &lk);
    else
        for (size_t i = 0; i < nq && !rc; i++) {
            lk.query = i;
            rc = scan ? mih__scan(lk.txn, s->refs, &q[i], R, emit_hit, &lk)
                      : mih__query(lk.txn, s->index, s->refs, dir, hc, &q[i],
                                   R, emit_hit, &lk);
        }
    dir_put(s, dir);
    if (rc)
        scrim__seterr(err, errlen, "lookup: %s",
                      rc == SCRIM_ENOMEM ? "out of memory"
                                         : "the index is corrupt");
    else if (out->n > first)
        qsort(out->v + first, out->n - first, sizeof *out->v, match_cmp);
done:
    free(lk.lists);
    store__rtxn_put(s, lk.txn);
    return rc;
}

int scrim_store_lookup_digest(scrim_store *s, int type, const char *hex,
                              const scrim_lookup_opts *opts,
                              scrim_matches *out, char *err, size_t errlen)
{
    size_t dlen = type == SCRIM_HASH_MD5 ? 16 : type == SCRIM_HASH_SHA256 ? 32 : 0;
    uint8_t key[4 + 1 + 32];
    if (!dlen || !hex || strlen(hex) != 2 * dlen ||
        scrim__hex_decode(hex, 2 * dlen, key + 5)) {
        scrim__seterr(err, errlen, "expected a %s of %zu hex digits",
                      scrim_hash_type_name(type), 2 * dlen);
        return SCRIM_EINVAL;
    }
    key[4] = (uint8_t)type;
    lookup lk = {s, NULL, NULL, 0, -1, 0, out, 0,
                 opts && opts->include_disabled};
    int rc = store__rtxn_get(s, &lk.txn);
    if (rc)
        return scrim__mdb_err(rc, "lookup", err, errlen);
    if ((rc = lookup_lists(&lk, opts, err, errlen)))
        goto done;
    for (size_t i = 0; i < lk.nlists; i++) {
        store__key_list(key, lk.lists[i].id);
        MDB_val k = {5 + dlen, key}, v;
        if (mdb_get(lk.txn, s->digests, &k, &v))
            continue;
        int quarantined = v.mv_size >= DIGEST_BASE &&
                          (((const uint8_t *)v.mv_data)[5] & REF_F_QUARANTINE);
        if (quarantined && !lk.all)
            continue;
        scrim_match *m = matches_push(out);
        if (!m) {
            rc = SCRIM_ENOMEM;
            break;
        }
        m->list = lk.lists[i].name;
        m->kind = lk.lists[i].kind;
        m->type = type;
        m->quarantined = quarantined;
        scrim__hex_encode(key + 5, dlen, m->hash);
        ref_view r;
        if (store__digest_decode(v.mv_data, v.mv_size, &r))
            continue; /* corrupt: the hit without its texts */
        m->quality = r.quality;
        if ((r.id && !(m->id = pool_strndup(out, r.id, r.idlen))) ||
            (r.label && !(m->label = pool_strndup(out, r.label, r.labellen))) ||
            match_strings(out, m, &r)) {
            rc = SCRIM_ENOMEM;
            break;
        }
    }
done:
    free(lk.lists);
    store__rtxn_put(s, lk.txn);
    return rc;
}

/* ---- JSON ------------------------------------------------------------------------------ */

json_t *scrim_match_json(const scrim_match *m)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:o, s:o, s:s}", "list", m->list,
                          "hash", m->hash, "distance", m->distance, "id",
                          m->id ? json_string(m->id) : json_null(), "label",
                          m->label ? json_string(m->label) : json_null(),
                          "type", scrim_hash_type_name(m->type));
    if (!o)
        return NULL;
    if (m->quality >= 0)
        json_object_set_new(o, "quality", json_integer(m->quality));
    if (m->variant)
        json_object_set_new(o, "stored_variant", json_string(m->variant));
    if (m->quarantined)
        json_object_set_new(o, "quarantined", json_true());
    if (m->source)
        json_object_set_new(o, "source", json_string(m->source));
    if (m->category)
        json_object_set_new(o, "category", json_string(m->category));
    if (m->tags) {
        json_t *t = json_array();
        for (const char *p = m->tags; *p;) {
            size_t n = strcspn(p, " ");
            if (n)
                json_array_append_new(t, json_stringn(p, n));
            p += n + (p[n] == ' ');
        }
        json_object_set_new(o, "tags", t);
    }
    if (m->type == SCRIM_HASH_VIDEO) {
        json_object_set_new(o, "frame", json_integer(m->frame));
        json_object_set_new(o, "frames", json_integer(m->frames));
        json_object_set_new(o, "seconds", json_real(m->seconds));
    }
    return o;
}

json_t *scrim_matches_json(const scrim_matches *m, size_t query,
                           const char *query_hex)
{
    json_t *matches = json_array(), *allowed = json_array();
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].query != query)
            continue;
        json_array_append_new(m->v[i].kind == SCRIM_LIST_ALLOW ? allowed
                                                               : matches,
                              scrim_match_json(&m->v[i]));
    }
    return json_pack("{s:s, s:o, s:o}", "query", query_hex ? query_hex : "",
                     "matches", matches, "allowed", allowed);
}
