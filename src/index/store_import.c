/* store_import.c - adding and removing entries: the import session (one
 * write transaction, PDQ records buffered and merged into the index in
 * batches) and scrim_store_remove. */
#include "index/index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FLUSH ((size_t)1 << 20)

struct scrim_import {
    scrim_store *s;
    MDB_txn *txn;
    char list[SCRIM_LIST_NAME_MAX + 1];
    char desc[SCRIM_LIST_DESC_MAX + 1];
    char source[160];
    struct list_rec rec;
    uint64_t start_pdq;   /* PDQs of the list already in the index */
    uint64_t seq;         /* audit sequence number = import id */
    uint64_t create_seq;  /* audit number of the list's creation, if new */
    uint64_t pend_img;    /* image PDQs among the unmerged records */
    uint64_t next_ref;
    int created;
    scrim_import_stats st;
    /* PDQ records not yet merged into the index, and a hash table over the
     * image ones (slot = index + 1) to find repeats within the batch */
    mih_item *pend;
    size_t npend, pcap, flush_every;
    uint32_t *slots;
    size_t nslots;
    uint8_t *buf;         /* record encoding */
    double deadline;      /* scrim_now() to give up at (0: never) */
    unsigned adds;        /* entries offered, for the deadline's checks */
};

/* Past the caller's deadline (looked at every 1024 entries and before each
 * merge into the index): SCRIM_ETIMEOUT, after which the import is
 * aborted. */
static int late(scrim_import *imp, int now, char *err, size_t errlen)
{
    if (imp->deadline <= 0 || (!now && (++imp->adds & 1023)) ||
        scrim_now() <= imp->deadline)
        return 0;
    scrim__seterr(err, errlen, "import stopped at the deadline (the request's "
                  "timeout) after %llu entries; nothing was imported",
                  (unsigned long long)(imp->st.added[0] + imp->st.duplicates[0]));
    return SCRIM_ETIMEOUT;
}

static int mdb_fail(scrim_import *imp, int rc, char *err, size_t errlen)
{
    (void)imp;
    return scrim__mdb_err(rc, "import", err, errlen);
}

/* An import rewrites each touched index value once per batch; LMDB reuses
 * the pages a transaction frees from its own dirty pages only when it has
 * loaded a freelist record (me_pghead).  On a database whose freelist is
 * empty (a fresh one) every rewrite would take new pages, so a big import
 * would leave the file several times larger than its data.  Three tiny
 * commits leave a freelist record old enough for the import to load.
 * Best effort: on any error the import simply runs without it. */
static void seed_freelist(scrim_store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return;
    int rc = mdb_stat(txn, 0 /* FREE_DBI */, &st);
    mdb_txn_abort(txn);
    if (rc || st.ms_entries >= 2)
        return;
    static const char pad[3 * 4096];
    MDB_val k = {10, "scrim.seed"}, v = {sizeof pad, (void *)pad};
    for (int step = 0; step < 3; step++) {
        if (mdb_txn_begin(s->env, NULL, 0, &txn))
            return;
        if (step == 0)
            rc = mdb_put(txn, s->meta, &k, &v, 0);
        else if (step == 1)
            rc = mdb_del(txn, s->meta, &k, NULL);
        else
            rc = store__meta_set(s, txn, "seeded", 1);
        if (rc) {
            mdb_txn_abort(txn);
            return;
        }
        if (mdb_txn_commit(txn))
            return;
    }
}

int scrim_import_begin(scrim_store *s, const char *list,
                       const scrim_import_opts *opts, scrim_import **out,
                       char *err, size_t errlen)
{
    scrim_import_opts o = {0};
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    if (opts)
        o = *opts;
    *out = NULL;
    int rc = store__params_check(&o.list, err, errlen);
    if (rc)
        return rc;
    scrim_import *imp = calloc(1, sizeof *imp);
    if (!imp)
        return SCRIM_ENOMEM;
    imp->s = s;
    imp->flush_every = o.flush_every ? o.flush_every : DEFAULT_FLUSH;
    imp->deadline = o.deadline;
    snprintf(imp->list, sizeof imp->list, "%s", list ? list : "");
    snprintf(imp->source, sizeof imp->source, "%s", o.source ? o.source : "");
    /* the batch and its hash table grow with use, up to flush_every */
    imp->pcap = 4096;
    imp->nslots = 2 * imp->pcap;
    imp->pend = malloc(imp->pcap * sizeof *imp->pend);
    imp->slots = calloc(imp->nslots, sizeof *imp->slots);
    imp->buf = malloc(REF_BASE + REF_VIDEO_LEN + 8 + 2 * 65535);
    if (!imp->pend || !imp->slots || !imp->buf) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto fail;
    }
    seed_freelist(s);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &imp->txn))) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    rc = store__list_load(s, imp->txn, imp->list, &imp->rec, imp->desc, err,
                          errlen);
    if (rc == SCRIM_ENOTFOUND && o.create) {
        rc = store__list_new(s, imp->txn, imp->list, &o.list, &imp->rec,
                             imp->desc, err, errlen);
        imp->created = 1;
    } else if (rc == SCRIM_ENOTFOUND) {
        scrim__seterr(err, errlen, "no list named '%s' (create it first)",
                      imp->list);
    } else if (!rc) {
        store__params_apply(&imp->rec, imp->desc, &o.list);
    }
    if (rc)
        goto fail;
    imp->start_pdq = imp->rec.pdq;
    if ((imp->created &&
         (rc = store__meta_next(s, imp->txn, "next_audit", &imp->create_seq))) ||
        (rc = store__meta_next(s, imp->txn, "next_audit", &imp->seq)) ||
        (rc = store__meta_get(s, imp->txn, "next_ref", &imp->next_ref))) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    *out = imp;
    return 0;
fail:
    scrim_import_abort(imp);
    return rc;
}

void scrim_import_abort(scrim_import *imp)
{
    if (!imp)
        return;
    if (imp->txn)
        mdb_txn_abort(imp->txn);
    free(imp->pend);
    free(imp->slots);
    free(imp->buf);
    free(imp);
}

const scrim_import_stats *scrim_import_get_stats(const scrim_import *imp)
{
    return &imp->st;
}

static int flush(scrim_import *imp, char *err, size_t errlen)
{
    if (!imp->npend)
        return 0;
    int rc = late(imp, 1, err, errlen);
    if (rc)
        return rc;
    rc = mih__update(imp->txn, imp->s->index, imp->pend, imp->npend, NULL,
                         0, err, errlen);
    imp->npend = 0;
    imp->pend_img = 0;
    memset(imp->slots, 0, imp->nslots * sizeof *imp->slots);
    return rc;
}

static size_t slot_of(const scrim_import *imp, const scrim_pdq *h)
{
    uint64_t x;
    memcpy(&x, h->w, sizeof x);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 32;
    return (size_t)x & (imp->nslots - 1);
}

/* Room for one more batch record: double the batch (and rehash the image
 * PDQs into a table twice its size). */
static int batch_grow(scrim_import *imp)
{
    if (imp->npend < imp->pcap)
        return 0;
    size_t cap = imp->pcap * 2;
    mih_item *np = realloc(imp->pend, cap * sizeof *np);
    if (!np)
        return SCRIM_ENOMEM;
    imp->pend = np;
    uint32_t *ns = calloc(2 * cap, sizeof *ns);
    if (!ns)
        return SCRIM_ENOMEM;
    free(imp->slots);
    imp->slots = ns;
    imp->nslots = 2 * cap;
    imp->pcap = cap;
    for (size_t k = 0; k < imp->npend; k++) {
        if (imp->pend[k].video)
            continue; /* only image PDQs are de-duplicated */
        size_t sl = slot_of(imp, &imp->pend[k].hash);
        while (imp->slots[sl])
            sl = (sl + 1) & (imp->nslots - 1);
        imp->slots[sl] = (uint32_t)(k + 1);
    }
    return 0;
}

/* mih emit for de-duplication: is there a PDQ image record of our list? */
static int emit_same_list(void *ud, uint32_t ref, const void *rec,
                          size_t reclen, int distance)
{
    const scrim_import *imp = ud;
    uint32_t list;
    memcpy(&list, (const uint8_t *)rec + REF_LIST, 4);
    if (list == imp->rec.id && ((const uint8_t *)rec)[REF_TYPE] == SCRIM_HASH_PDQ)
        return 1; /* stops the query: found */
    return 0;
}

static int text_ok(const char *s, const char *what, char *err, size_t errlen)
{
    if (s && strlen(s) > SCRIM_ENTRY_TEXT_MAX) {
        scrim__seterr(err, errlen, "%s longer than %d bytes", what,
                      SCRIM_ENTRY_TEXT_MAX);
        return 0;
    }
    /* Ids and labels go out in JSON (matches, review records), which only
     * holds UTF-8: a match whose label could not be written there went
     * missing from the results. */
    json_t *j = s ? json_string(s) : NULL;
    if (s && !j) {
        scrim__seterr(err, errlen, "%s is not valid UTF-8 text", what);
        return 0;
    }
    json_decref(j);
    return 1;
}

/* Append one ref record and queue its index record. */
static int add_ref(scrim_import *imp, const ref_view *r, char *err,
                   size_t errlen)
{
    if (imp->next_ref >= UINT32_MAX) {
        scrim__seterr(err, errlen, "the store is out of record numbers");
        return SCRIM_ETOOBIG;
    }
    if (batch_grow(imp)) {
        scrim__seterr(err, errlen, "out of memory for the import batch");
        return SCRIM_ENOMEM;
    }
    uint32_t ref = (uint32_t)imp->next_ref++;
    size_t len = store__ref_encode(imp->buf, r);
    MDB_val k = {sizeof ref, &ref}, v = {len, imp->buf};
    int rc = mdb_put(imp->txn, imp->s->refs, &k, &v, MDB_APPEND);
    if (rc)
        return mdb_fail(imp, rc, err, errlen);
    imp->pend[imp->npend].hash = r->hash;
    imp->pend[imp->npend].ref = ref;
    imp->pend[imp->npend].video = r->type == SCRIM_HASH_VIDEO;
    imp->npend++;
    return 0;
}

int scrim_import_add(scrim_import *imp, const scrim_entry *e, char *err,
                     size_t errlen)
{
    int rc;
    if ((rc = late(imp, 0, err, errlen)))
        return rc;
    if (!text_ok(e->id, "id", err, errlen) ||
        !text_ok(e->label, "label", err, errlen))
        return SCRIM_EINVAL;
    if (e->quality < -1 || e->quality > 100) {
        scrim__seterr(err, errlen, "quality %d out of range 0-100", e->quality);
        return SCRIM_EINVAL;
    }
    if (e->type == SCRIM_HASH_PDQ) {
        const scrim_pdq *h = e->hash;
        /* repeated within the unmerged batch? */
        size_t sl = slot_of(imp, h);
        while (imp->slots[sl]) {
            if (!memcmp(&imp->pend[imp->slots[sl] - 1].hash, h, sizeof *h))
                goto dup;
            sl = (sl + 1) & (imp->nslots - 1);
        }
        /* already in the index (committed, or merged earlier on)? */
        if (imp->start_pdq + imp->st.added[SCRIM_HASH_PDQ] - imp->pend_img) {
            rc = mih__find_exact(imp->txn, imp->s->index, imp->s->refs, h,
                                 emit_same_list, imp);
            if (rc == 1)
                goto dup;
            if (rc) {
                scrim__seterr(err, errlen, "import: the index is corrupt");
                return SCRIM_EDB;
            }
        }
        ref_view r = {0};
        r.hash = *h;
        r.list = imp->rec.id;
        r.import = (uint32_t)imp->seq;
        r.type = SCRIM_HASH_PDQ;
        r.quality = e->quality;
        r.id = e->id;
        r.idlen = e->id ? strlen(e->id) : 0;
        r.label = e->label;
        r.labellen = e->label ? strlen(e->label) : 0;
        if ((rc = add_ref(imp, &r, err, errlen)))
            return rc;
        sl = slot_of(imp, h); /* the table may have grown */
        while (imp->slots[sl])
            sl = (sl + 1) & (imp->nslots - 1);
        imp->slots[sl] = (uint32_t)imp->npend;
        imp->pend_img++;
        imp->rec.pdq++;
        imp->st.added[0]++;
        imp->st.added[SCRIM_HASH_PDQ]++;
        if (imp->npend >= imp->flush_every)
            return flush(imp, err, errlen);
        return 0;
    }
    if (e->type == SCRIM_HASH_MD5 || e->type == SCRIM_HASH_SHA256) {
        size_t dl = e->type == SCRIM_HASH_MD5 ? 16 : 32;
        uint8_t key[4 + 1 + 32];
        store__key_list(key, imp->rec.id);
        key[4] = (uint8_t)e->type;
        memcpy(key + 5, e->hash, dl);
        uint8_t *p = imp->buf;
        uint32_t imp_id = (uint32_t)imp->seq;
        memcpy(p, &imp_id, 4);
        p[4] = e->quality < 0 ? 255 : (uint8_t)e->quality;
        p[5] = (uint8_t)((e->id ? REF_F_ID : 0) | (e->label ? REF_F_LABEL : 0));
        p += 6;
        const char *strs[2] = {e->id, e->label};
        for (int i = 0; i < 2; i++) {
            if (!strs[i])
                continue;
            uint16_t n = (uint16_t)strlen(strs[i]);
            memcpy(p, &n, 2);
            memcpy(p + 2, strs[i], n);
            p += 2 + n;
        }
        MDB_val k = {5 + dl, key}, v = {(size_t)(p - imp->buf), imp->buf};
        rc = mdb_put(imp->txn, imp->s->digests, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST)
            goto dup;
        if (rc)
            return mdb_fail(imp, rc, err, errlen);
        if (e->type == SCRIM_HASH_MD5)
            imp->rec.md5++;
        else
            imp->rec.sha256++;
        imp->st.added[0]++;
        imp->st.added[e->type]++;
        return 0;
    }
    scrim__seterr(err, errlen, "unknown hash type %d", e->type);
    return SCRIM_EINVAL;
dup:
    imp->st.duplicates[0]++;
    imp->st.duplicates[e->type]++;
    return 0;
}

int scrim_import_add_video(scrim_import *imp, const char *id,
                           const char *label, const scrim_store_frame *frames,
                           size_t n, char *err, size_t errlen)
{
    if (!id || !*id) {
        scrim__seterr(err, errlen, "a video entry needs a content id");
        return SCRIM_EINVAL;
    }
    int lrc = late(imp, 0, err, errlen);
    if (lrc)
        return lrc;
    if (!text_ok(id, "id", err, errlen) || !text_ok(label, "label", err, errlen))
        return SCRIM_EINVAL;
    if (n == 0 || n > 1000000) {
        scrim__seterr(err, errlen, "video '%s': %zu frames (1-1000000 allowed)",
                      id, n);
        return SCRIM_EINVAL;
    }
    size_t il = strlen(id);
    /* The id is part of an LMDB key (after the list's 4 bytes), and LMDB
     * keys are short (511 bytes): a longer id is the caller's error, not
     * the database's. */
    size_t maxkey = (size_t)mdb_env_get_maxkeysize(imp->s->env);
    if (4 + il > maxkey) {
        scrim__seterr(err, errlen, "video id longer than %zu bytes (%zu)",
                      maxkey - 4, il);
        return SCRIM_EINVAL;
    }
    uint8_t *key = store__video_key(imp->rec.id, id, il);
    if (!key)
        return SCRIM_ENOMEM;
    MDB_val k = {4 + il, key}, v;
    int rc = mdb_get(imp->txn, imp->s->videos, &k, &v);
    if (rc == 0) {
        free(key);
        imp->st.duplicates[0]++;
        imp->st.duplicates[SCRIM_HASH_VIDEO]++;
        return 0;
    }
    uint32_t first = (uint32_t)imp->next_ref, nf = (uint32_t)n,
             imp_id = (uint32_t)imp->seq;
    /* video record: first ref, frames, import, flags, label */
    size_t ll = label ? strlen(label) : 0;
    uint8_t vrec[13 + 2 + SCRIM_ENTRY_TEXT_MAX];
    memcpy(vrec, &first, 4);
    memcpy(vrec + 4, &nf, 4);
    memcpy(vrec + 8, &imp_id, 4);
    vrec[12] = label ? REF_F_LABEL : 0;
    size_t vl = 13;
    if (label) {
        uint16_t l16 = (uint16_t)ll;
        memcpy(vrec + 13, &l16, 2);
        memcpy(vrec + 15, label, ll);
        vl += 2 + ll;
    }
    v.mv_size = vl;
    v.mv_data = vrec;
    rc = mdb_put(imp->txn, imp->s->videos, &k, &v, 0);
    free(key);
    if (rc)
        return mdb_fail(imp, rc, err, errlen);
    for (size_t i = 0; i < n; i++) {
        if (frames[i].quality < -1 || frames[i].quality > 100) {
            scrim__seterr(err, errlen, "video '%s' frame %zu: quality %d out of range",
                          id, i, frames[i].quality);
            return SCRIM_EINVAL;
        }
        ref_view r = {0};
        r.hash = frames[i].hash;
        r.list = imp->rec.id;
        r.import = imp_id;
        r.type = SCRIM_HASH_VIDEO;
        r.quality = frames[i].quality;
        r.entry = first;
        r.frame = (uint32_t)i;
        r.frames = nf;
        r.seconds = (float)frames[i].seconds;
        r.id = id;
        r.idlen = il;
        if ((rc = add_ref(imp, &r, err, errlen)))
            return rc;
        if (imp->npend >= imp->flush_every && (rc = flush(imp, err, errlen)))
            return rc;
    }
    imp->rec.video++;
    imp->rec.frames += n;
    imp->st.added[0]++;
    imp->st.added[SCRIM_HASH_VIDEO]++;
    imp->st.frames += n;
    return 0;
}

int scrim_import_commit(scrim_import *imp, scrim_import_stats *stats,
                        char *err, size_t errlen)
{
    char detail[256];
    int rc = flush(imp, err, errlen);
    if (rc)
        goto fail;
    const scrim_import_stats *st = &imp->st;
    snprintf(detail, sizeof detail,
             "%s%sadded pdq=%llu md5=%llu sha256=%llu video=%llu, duplicates=%llu",
             imp->source, *imp->source ? ": " : "",
             (unsigned long long)st->added[SCRIM_HASH_PDQ],
             (unsigned long long)st->added[SCRIM_HASH_MD5],
             (unsigned long long)st->added[SCRIM_HASH_SHA256],
             (unsigned long long)st->added[SCRIM_HASH_VIDEO],
             (unsigned long long)st->duplicates[0]);
    imp->rec.modified = store__now();
    if ((rc = store__list_save(imp->s, imp->txn, imp->list, &imp->rec,
                               imp->desc)) ||
        (rc = store__meta_set(imp->s, imp->txn, "next_ref", imp->next_ref)) ||
        (imp->created &&
         (rc = store__audit_add(imp->s, imp->txn, imp->create_seq, "create",
                                imp->list, 0, "by import"))) ||
        (rc = store__audit_add(imp->s, imp->txn, imp->seq, "import",
                               imp->list, st->added[0], detail))) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    rc = mdb_txn_commit(imp->txn);
    imp->txn = NULL;
    if (rc) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    if (stats)
        *stats = imp->st;
    scrim_store *s = imp->s;
    scrim_import_abort(imp);
    store__hc_extend(s); /* the new hashes into the cache, if there is one */
    return 0;
fail:
    if (stats)
        *stats = imp->st;
    scrim_import_abort(imp);
    return rc;
}

int scrim_store_import_buffer(scrim_store *s, const char *list,
                              const scrim_import_opts *opts, int format,
                              const void *buf, size_t len,
                              scrim_import_stats *stats, char *err,
                              size_t errlen)
{
    scrim_import *imp;
    if (stats)
        memset(stats, 0, sizeof *stats);
    int rc = scrim_import_begin(s, list, opts, &imp, err, errlen);
    if (rc)
        return rc;
    rc = scrim_import_buffer(imp, buf, len, "body", format, err, errlen);
    if (rc) {
        if (stats)
            *stats = imp->st;
        scrim_import_abort(imp);
        return rc;
    }
    return scrim_import_commit(imp, stats, err, errlen);
}

int scrim_import_stream(scrim_import *imp, FILE *f, const char *name,
                        int format, void (*progress)(void *ud, uint64_t bytes),
                        void *ud, char *err, size_t errlen)
{
    return import__text(imp, f, NULL, 0, name, format, progress, ud, &imp->st,
                        err, errlen);
}

int scrim_import_buffer(scrim_import *imp, const void *buf, size_t len,
                        const char *name, int format, char *err, size_t errlen)
{
    return import__text(imp, NULL, buf, len, name, format, NULL, NULL,
                        &imp->st, err, errlen);
}

/* ---- removal ------------------------------------------------------------------------ */

typedef struct found {
    uint32_t list;
    uint32_t ref;
    int hit;
} found;

static int emit_find(void *ud, uint32_t ref, const void *rec, size_t reclen,
                     int distance)
{
    found *f = ud;
    uint32_t list;
    memcpy(&list, (const uint8_t *)rec + REF_LIST, 4);
    if (list == f->list && ((const uint8_t *)rec)[REF_TYPE] == SCRIM_HASH_PDQ) {
        f->ref = ref;
        f->hit = 1;
        return 1;
    }
    return 0;
}

/* Queue (hash, ref) for the one index update at the end of a removal;
 * hash may be unaligned (a record in the map).  0 or SCRIM_ENOMEM. */
static int del_push(mih_item **dels, size_t *ndel, size_t *cap,
                    const void *hash, uint32_t ref)
{
    if (*ndel == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        mih_item *nd = realloc(*dels, ncap * sizeof *nd);
        if (!nd)
            return SCRIM_ENOMEM;
        *dels = nd;
        *cap = ncap;
    }
    memcpy(&(*dels)[*ndel].hash, hash, sizeof (*dels)->hash);
    (*dels)[(*ndel)++].ref = ref;
    return 0;
}

int scrim_store_remove(scrim_store *s, const char *list,
                       const char *const *values, size_t n, uint64_t *removed,
                       uint64_t *missing, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    struct list_rec rec;
    char desc[SCRIM_LIST_DESC_MAX + 1], detail[64];
    mih_item *dels = NULL;
    size_t ndel = 0, cap = 0;
    uint64_t nrem = 0, nmiss = 0, seq;
    uint8_t *key = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return scrim__mdb_err(rc, "remove", err, errlen);
    if ((rc = store__list_load(s, txn, list, &rec, desc, err, errlen)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *val = values[i];
        size_t len = strlen(val);
        int type = 0;
        const char *colon = strchr(val, ':');
        if (colon) {
            char t[16];
            size_t tl = (size_t)(colon - val);
            snprintf(t, sizeof t, "%.*s", (int)(tl < 15 ? tl : 15), val);
            type = scrim_hash_type_parse(t);
            val = colon + 1;
            len = strlen(val);
        } else {
            type = len == 32 ? SCRIM_HASH_MD5 : SCRIM_HASH_PDQ;
        }
        if (type == SCRIM_HASH_VIDEO) {
            free(key);
            key = store__video_key(rec.id, val, len);
            if (!key) {
                rc = SCRIM_ENOMEM;
                goto fail;
            }
            MDB_val k = {4 + len, key}, v;
            if (len == 0 || mdb_get(txn, s->videos, &k, &v) || v.mv_size < 13) {
                nmiss++;
                continue;
            }
            uint32_t first, nf;
            memcpy(&first, v.mv_data, 4);
            memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
            for (uint32_t f = 0; f < nf; f++) {
                uint32_t ref = first + f;
                MDB_val rk = {4, &ref}, rv;
                if (mdb_get(txn, s->refs, &rk, &rv) || rv.mv_size < REF_BASE)
                    continue;
                if ((rc = del_push(&dels, &ndel, &cap, rv.mv_data, ref)))
                    goto fail;
                if ((rc = mdb_del(txn, s->refs, &rk, NULL)))
                    goto mdbfail;
            }
            if ((rc = mdb_del(txn, s->videos, &k, NULL)))
                goto mdbfail;
            rec.video--;
            rec.frames -= nf;
            nrem++;
            continue;
        }
        if (type == SCRIM_HASH_PDQ) {
            scrim_pdq h;
            if (scrim_pdq_from_hex(val, len, &h)) {
                scrim__seterr(err, errlen, "'%s' is not a PDQ hash (64 hex digits)",
                              values[i]);
                rc = SCRIM_EINVAL;
                goto fail;
            }
            /* the index already has earlier removals of this call merged? no:
             * so skip refs queued for deletion */
            found f = {rec.id, 0, 0};
            rc = mih__find_exact(txn, s->index, s->refs, &h, emit_find, &f);
            if (rc < 0) {
                scrim__seterr(err, errlen, "remove: the index is corrupt");
                rc = SCRIM_EDB;
                goto fail;
            }
            rc = 0;
            if (!f.hit) {
                nmiss++;
                continue;
            }
            if ((rc = del_push(&dels, &ndel, &cap, &h, f.ref)))
                goto fail;
            MDB_val rk = {4, &f.ref};
            if ((rc = mdb_del(txn, s->refs, &rk, NULL)))
                goto mdbfail;
            rec.pdq--;
            nrem++;
            continue;
        }
        if (type == SCRIM_HASH_MD5 || type == SCRIM_HASH_SHA256) {
            size_t dl = type == SCRIM_HASH_MD5 ? 16 : 32;
            uint8_t dk[5 + 32];
            if (len != 2 * dl || scrim__hex_decode(val, len, dk + 5)) {
                scrim__seterr(err, errlen, "'%s' is not a %s (%zu hex digits)",
                              values[i], scrim_hash_type_name(type), 2 * dl);
                rc = SCRIM_EINVAL;
                goto fail;
            }
            store__key_list(dk, rec.id);
            dk[4] = (uint8_t)type;
            MDB_val k = {5 + dl, dk};
            rc = mdb_del(txn, s->digests, &k, NULL);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                nmiss++;
                continue;
            }
            if (rc)
                goto mdbfail;
            if (type == SCRIM_HASH_MD5)
                rec.md5--;
            else
                rec.sha256--;
            nrem++;
            continue;
        }
        scrim__seterr(err, errlen, "'%s': unknown hash type", values[i]);
        rc = SCRIM_EINVAL;
        goto fail;
    }
    if (ndel && (rc = mih__update(txn, s->index, NULL, 0, dels, ndel, err,
                                  errlen)))
        goto fail;
    rec.modified = store__now();
    snprintf(detail, sizeof detail, "not found: %llu", (unsigned long long)nmiss);
    if ((rc = store__list_save(s, txn, list, &rec, desc)) ||
        (rc = store__meta_next(s, txn, "next_audit", &seq)) ||
        (rc = store__audit_add(s, txn, seq, "remove", list, nrem, detail)))
        goto mdbfail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto mdbfail;
    free(dels);
    free(key);
    if (removed)
        *removed = nrem;
    if (missing)
        *missing = nmiss;
    return 0;
mdbfail:
    rc = scrim__mdb_err(rc, "remove", err, errlen);
fail:
    if (txn)
        mdb_txn_abort(txn);
    free(dels);
    free(key);
    return rc;
}
