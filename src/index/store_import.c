/* store_import.c - adding and removing entries: the import session (one
 * write transaction, PDQ records buffered and merged into the index in
 * batches; in replace mode what the input left out is removed at commit, in
 * remove mode the input's entries are removed) and scrim_store_remove. */
#include "index/index.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FLUSH ((size_t)1 << 20)

/* One input of a text import, for the list's import history. */
typedef struct import_input {
    char name[160];
    uint8_t sha256[32];
    uint64_t bytes, lines;
} import_input;

/* An entry's key without its list: type, then the PDQ or digest
 * (zero-padded), or a video's SHA-256 of its id. */
typedef struct dig_key {
    uint8_t b[33];
} dig_key;

/* A hash set of keys (slot = index + 1). */
typedef struct keyset {
    dig_key *v;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots;
} keyset;

struct scrim_import {
    scrim_store *s;
    MDB_txn *txn;
    char list[SCRIM_LIST_NAME_MAX + 1];
    char desc[SCRIM_LIST_DESC_MAX + 1];
    char source[160];
    struct list_rec rec;
    uint64_t start_pdq;   /* PDQs of the list already in the index */
    uint64_t start_frames;
    uint64_t start_ref;   /* refs below this existed before the import */
    uint64_t seq;         /* audit sequence number = import id */
    uint64_t create_seq;  /* audit number of the list's creation, if new */
    uint64_t pend_img;    /* image PDQs among the unmerged records */
    uint64_t next_ref;
    int created, mode, strict, dry_run;
    int (*capture)(void *ud, const struct scrim_entry *e);
    void *capture_ud;
    scrim_import_stats st;
    /* PDQ records not yet merged into the index, and a hash table over the
     * image ones (slot = index + 1) to find repeats within the batch */
    mih_item *pend;
    size_t npend, pcap, flush_every;
    uint32_t *slots;
    size_t nslots;
    /* index records to remove with the next merge */
    mih_item *dels;
    size_t ndel, delcap;
    /* replace: the refs below start_ref the input has (a bit each), and
     * the digests it has that the list had */
    uint64_t *kept;
    keyset kdig;
    /* the entries the input marks false positives */
    keyset neg;
    import_input *inputs;
    size_t ninputs, incap;
    /* what emit_same_list found */
    uint32_t found_ref;
    uint8_t *buf;         /* record encoding */
    double deadline;      /* scrim_now() to give up at (0: never) */
    unsigned adds;        /* entries offered, for the deadline's checks */
};

#define REC_BUF (REF_BASE + REF_VIDEO_LEN + REF_STRS_MAX + 16)
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
    if (o.mode < SCRIM_IMPORT_ADD || o.mode > SCRIM_IMPORT_REMOVE) {
        scrim__seterr(err, errlen, "unknown import mode %d", o.mode);
        return SCRIM_EINVAL;
    }
    scrim_import *imp = calloc(1, sizeof *imp);
    if (!imp)
        return SCRIM_ENOMEM;
    imp->s = s;
    imp->mode = o.mode;
    imp->strict = o.strict;
    imp->flush_every = o.flush_every ? o.flush_every : DEFAULT_FLUSH;
    imp->deadline = o.deadline;
    imp->dry_run = o.dry_run;
    imp->capture = o.capture;
    imp->capture_ud = o.capture_ud;
    snprintf(imp->list, sizeof imp->list, "%s", list ? list : "");
    snprintf(imp->source, sizeof imp->source, "%s", o.source ? o.source : "");
    /* the batch and its hash table grow with use, up to flush_every */
    imp->pcap = 4096;
    imp->nslots = 2 * imp->pcap;
    imp->pend = malloc(imp->pcap * sizeof *imp->pend);
    imp->slots = calloc(imp->nslots, sizeof *imp->slots);
    imp->buf = malloc(REC_BUF);
    if (!imp->pend || !imp->slots || !imp->buf) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (imp->mode != SCRIM_IMPORT_REMOVE)
        seed_freelist(s);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &imp->txn))) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    rc = store__list_load(s, imp->txn, imp->list, &imp->rec, imp->desc, err,
                          errlen);
    if (rc == SCRIM_ENOTFOUND && o.create && imp->mode != SCRIM_IMPORT_REMOVE) {
        rc = store__list_new(s, imp->txn, imp->list, &o.list, &imp->rec,
                             imp->desc, err, errlen);
        imp->created = 1;
    } else if (rc == SCRIM_ENOTFOUND) {
        scrim__seterr(err, errlen, "no list named '%s'%s", imp->list,
                      imp->mode == SCRIM_IMPORT_REMOVE ? "" : " (create it first)");
    } else if (!rc) {
        store__params_apply(&imp->rec, imp->desc, &o.list);
    }
    if (rc)
        goto fail;
    imp->start_pdq = imp->rec.pdq;
    imp->start_frames = imp->rec.frames;
    if ((imp->created &&
         (rc = store__meta_next(s, imp->txn, "next_audit", &imp->create_seq))) ||
        (rc = store__meta_next(s, imp->txn, "next_audit", &imp->seq)) ||
        (rc = store__meta_get(s, imp->txn, "next_ref", &imp->next_ref))) {
        rc = mdb_fail(imp, rc, err, errlen);
        goto fail;
    }
    imp->start_ref = imp->next_ref;
    if (imp->mode == SCRIM_IMPORT_REPLACE && !imp->created &&
        !(imp->kept = calloc(imp->start_ref / 64 + 1, sizeof *imp->kept))) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
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
    free(imp->dels);
    free(imp->kept);
    free(imp->kdig.v);
    free(imp->kdig.slots);
    free(imp->neg.v);
    free(imp->neg.slots);
    free(imp->inputs);
    free(imp->buf);
    free(imp);
}

const scrim_import_stats *scrim_import_get_stats(const scrim_import *imp)
{
    return &imp->st;
}

int import__strict(const scrim_import *imp)
{
    return imp->strict;
}

int import__input(scrim_import *imp, const char *name, const uint8_t *sha256,
                  uint64_t bytes, uint64_t lines)
{
    if (scrim__grow(&imp->inputs, &imp->incap, imp->ninputs,
                    sizeof *imp->inputs, 4))
        return SCRIM_ENOMEM;
    import_input *in = &imp->inputs[imp->ninputs++];
    snprintf(in->name, sizeof in->name, "%s", name);
    memcpy(in->sha256, sha256, 32);
    in->bytes = bytes;
    in->lines = lines;
    scrim__hex_encode(sha256, 32, imp->st.sha256);
    return 0;
}

/* Merge the queued additions and removals into the index. */
static int flush(scrim_import *imp, char *err, size_t errlen)
{
    if (!imp->npend && !imp->ndel)
        return 0;
    int rc = late(imp, 1, err, errlen);
    if (rc)
        return rc;
    rc = mih__update(imp->txn, imp->s->index, imp->pend, imp->npend,
                     imp->dels, imp->ndel, err, errlen);
    imp->npend = 0;
    imp->ndel = 0;
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

/* Is h among the unmerged image PDQs? */
static int in_batch(const scrim_import *imp, const scrim_pdq *h)
{
    for (size_t sl = slot_of(imp, h); imp->slots[sl];
         sl = (sl + 1) & (imp->nslots - 1))
        if (!memcmp(&imp->pend[imp->slots[sl] - 1].hash, h, sizeof *h))
            return 1;
    return 0;
}

/* Queue the removal of index record (hash, ref) for the next merge; hash
 * may be unaligned (a record in the map). */
static int del_queue(scrim_import *imp, const void *hash, uint32_t ref)
{
    if (scrim__grow(&imp->dels, &imp->delcap, imp->ndel, sizeof *imp->dels,
                    1024))
        return SCRIM_ENOMEM;
    memcpy(&imp->dels[imp->ndel].hash, hash, sizeof imp->dels->hash);
    imp->dels[imp->ndel].ref = ref;
    imp->dels[imp->ndel++].video = 0;
    return 0;
}

/* mih emit for de-duplication and removal: is there a PDQ image record of
 * our list?  Its ref goes to found_ref. */
static int emit_same_list(void *ud, uint32_t ref, const void *rec,
                          size_t reclen, int distance)
{
    scrim_import *imp = ud;
    uint32_t list;
    memcpy(&list, (const uint8_t *)rec + REF_LIST, 4);
    if (list == imp->rec.id && ((const uint8_t *)rec)[REF_TYPE] == SCRIM_HASH_PDQ) {
        imp->found_ref = ref;
        return 1; /* stops the query: found */
    }
    return 0;
}

/* The list's PDQ image record of h (1, its ref in found_ref), or 0. */
static int find_pdq(scrim_import *imp, const scrim_pdq *h, char *err,
                    size_t errlen)
{
    int rc = mih__find_exact(imp->txn, imp->s->index, imp->s->refs, h,
                             emit_same_list, imp);
    if (rc != 0 && rc != 1) {
        scrim__seterr(err, errlen, "import: the index is corrupt");
        return SCRIM_EDB;
    }
    return rc;
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

/* The texts of entry e into r. */
static void texts_from(ref_view *r, const scrim_entry *e)
{
    const char *t[REF_NSTR] = {e->id, e->label, e->variant, e->source,
                               e->category, e->tags};
    r->id = t[0];
    r->label = t[1];
    r->variant = t[2];
    r->source = t[3];
    r->category = t[4];
    r->tags = t[5];
    r->idlen = t[0] ? strlen(t[0]) : 0;
    r->labellen = t[1] ? strlen(t[1]) : 0;
    r->variantlen = t[2] ? strlen(t[2]) : 0;
    r->sourcelen = t[3] ? strlen(t[3]) : 0;
    r->categorylen = t[4] ? strlen(t[4]) : 0;
    r->tagslen = t[5] ? strlen(t[5]) : 0;
}

/* Do the texts and quality of a stored record (a) equal those of b? */
static int same_texts(const ref_view *a, const ref_view *b)
{
    const char *sa[REF_NSTR] = {a->id, a->label, a->variant, a->source,
                                a->category, a->tags};
    const char *sb[REF_NSTR] = {b->id, b->label, b->variant, b->source,
                                b->category, b->tags};
    size_t la[REF_NSTR] = {a->idlen, a->labellen, a->variantlen, a->sourcelen,
                           a->categorylen, a->tagslen};
    size_t lb[REF_NSTR] = {b->idlen, b->labellen, b->variantlen, b->sourcelen,
                           b->categorylen, b->tagslen};
    if (a->quality != b->quality)
        return 0;
    for (int i = 0; i < REF_NSTR; i++)
        if (!sa[i] != !sb[i] || la[i] != lb[i] ||
            (sa[i] && memcmp(sa[i], sb[i], la[i])))
            return 0;
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

/* ---- replace: what the input has of the list ------------------------------- */

static int kept_test_set(scrim_import *imp, uint32_t ref)
{
    uint64_t bit = 1ULL << (ref & 63);
    int was = (imp->kept[ref >> 6] & bit) != 0;
    imp->kept[ref >> 6] |= bit;
    return was;
}

static size_t key_slot(const dig_key *k, size_t nslots)
{
    uint64_t x;
    memcpy(&x, k->b + 1, sizeof x);
    return (size_t)(x * 0x9e3779b97f4a7c15ULL >> 20) & (nslots - 1);
}

/* Is k in the set?  With add, put it there.  1, 0 or SCRIM_ENOMEM. */
static int keyset_find(keyset *ks, const dig_key *k, int add)
{
    if (add && 2 * (ks->n + 1) > ks->nslots) {
        size_t n = ks->nslots ? 2 * ks->nslots : 4096;
        uint32_t *ns = calloc(n, sizeof *ns);
        if (!ns)
            return SCRIM_ENOMEM;
        for (size_t i = 0; i < ks->n; i++) {
            size_t sl = key_slot(&ks->v[i], n);
            while (ns[sl])
                sl = (sl + 1) & (n - 1);
            ns[sl] = (uint32_t)(i + 1);
        }
        free(ks->slots);
        ks->slots = ns;
        ks->nslots = n;
    }
    if (!ks->nslots)
        return 0;
    size_t sl = key_slot(k, ks->nslots);
    for (; ks->slots[sl]; sl = (sl + 1) & (ks->nslots - 1))
        if (!memcmp(&ks->v[ks->slots[sl] - 1], k, sizeof *k))
            return 1;
    if (!add)
        return 0;
    if (scrim__grow(&ks->v, &ks->cap, ks->n, sizeof *ks->v, 4096))
        return SCRIM_ENOMEM;
    ks->v[ks->n++] = *k;
    ks->slots[sl] = (uint32_t)ks->n;
    return 0;
}

/* The key of entry e. */
static void entry_key(const scrim_entry *e, dig_key *k)
{
    memset(k, 0, sizeof *k);
    k->b[0] = (uint8_t)e->type;
    if (e->type == SCRIM_HASH_VIDEO) {
        unsigned n = 0;
        uint8_t d[EVP_MAX_MD_SIZE];
        const char *id = e->id ? e->id : "";
        EVP_Digest(id, strlen(id), d, &n, EVP_sha256(), NULL);
        memcpy(k->b + 1, d, 32);
    } else {
        memcpy(k->b + 1, e->hash, e->type == SCRIM_HASH_MD5 ? 16 : 32);
    }
}

/* ---- removal of one entry (remove mode, false positives) ------------------ */

/* Remove the frames [first, first + nf) of a video entry: their records go,
 * their index records are queued. */
static int remove_frames(scrim_import *imp, uint32_t first, uint32_t nf,
                         char *err, size_t errlen)
{
    for (uint32_t f = 0; f < nf; f++) {
        uint32_t ref = first + f;
        MDB_val rk = {4, &ref}, rv;
        if (mdb_get(imp->txn, imp->s->refs, &rk, &rv) || rv.mv_size < REF_BASE)
            continue;
        int rc = del_queue(imp, rv.mv_data, ref);
        if (rc) {
            scrim__seterr(err, errlen, "out of memory");
            return rc;
        }
        if ((rc = mdb_del(imp->txn, imp->s->refs, &rk, NULL)))
            return mdb_fail(imp, rc, err, errlen);
    }
    return 0;
}

/* Is ref, one the list had before this import, marked kept?  (Then clears
 * the mark.) */
static int unkeep(scrim_import *imp, uint32_t ref)
{
    if (!imp->kept || ref >= imp->start_ref)
        return 0;
    uint64_t bit = 1ULL << (ref & 63);
    int was = (imp->kept[ref >> 6] & bit) != 0;
    imp->kept[ref >> 6] &= ~bit;
    return was;
}

/* The list's entry e, if it has it: removed (1) or not there (0).  One
 * this import added is taken back from the added count; one it had kept,
 * from the kept count (a false positive wins wherever it is in the
 * input); the others count as removed. */
static int remove_entry(scrim_import *imp, const scrim_entry *e, char *err,
                        size_t errlen)
{
    int rc, fresh = 0, was_kept = 0;
    uint64_t frames = 0;
    if (e->type == SCRIM_HASH_PDQ) {
        /* added by this import and not yet in the index: merge first */
        if (in_batch(imp, e->hash) && (rc = flush(imp, err, errlen)))
            return rc;
        if ((rc = find_pdq(imp, e->hash, err, errlen)) != 1)
            return rc;
        uint32_t ref = imp->found_ref;
        fresh = ref >= imp->start_ref;
        was_kept = unkeep(imp, ref);
        if ((rc = del_queue(imp, e->hash, ref))) {
            scrim__seterr(err, errlen, "out of memory");
            return rc;
        }
        MDB_val rk = {4, &ref};
        if ((rc = mdb_del(imp->txn, imp->s->refs, &rk, NULL)))
            return mdb_fail(imp, rc, err, errlen);
        imp->rec.pdq--;
    } else if (e->type == SCRIM_HASH_MD5 || e->type == SCRIM_HASH_SHA256) {
        size_t dl = e->type == SCRIM_HASH_MD5 ? 16 : 32;
        uint8_t key[5 + 32];
        store__key_list(key, imp->rec.id);
        key[4] = (uint8_t)e->type;
        memcpy(key + 5, e->hash, dl);
        MDB_val k = {5 + dl, key}, v;
        ref_view old;
        rc = mdb_get(imp->txn, imp->s->digests, &k, &v);
        if (!rc && !store__digest_decode(v.mv_data, v.mv_size, &old)) {
            fresh = old.import == imp->seq;
            if (!fresh && imp->kept) {
                dig_key dk;
                entry_key(e, &dk);
                was_kept = keyset_find(&imp->kdig, &dk, 0) == 1;
            }
        }
        if (!rc)
            rc = mdb_del(imp->txn, imp->s->digests, &k, NULL);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return mdb_fail(imp, rc, err, errlen);
        if (e->type == SCRIM_HASH_MD5)
            imp->rec.md5--;
        else
            imp->rec.sha256--;
    } else if (e->type == SCRIM_HASH_VIDEO) {
        size_t il = e->id ? strlen(e->id) : 0;
        if (!il || 4 + il > (size_t)mdb_env_get_maxkeysize(imp->s->env))
            return 0;
        uint8_t *key = store__video_key(imp->rec.id, e->id, il);
        if (!key)
            return SCRIM_ENOMEM;
        MDB_val k = {4 + il, key}, v;
        uint32_t first = 0, nf = 0;
        rc = mdb_get(imp->txn, imp->s->videos, &k, &v);
        if (!rc && v.mv_size >= 13) {
            memcpy(&first, v.mv_data, 4);
            memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
            rc = mdb_del(imp->txn, imp->s->videos, &k, NULL);
        } else if (!rc) {
            rc = MDB_NOTFOUND;
        }
        free(key);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return mdb_fail(imp, rc, err, errlen);
        /* frames added by this import may not be merged yet */
        if (first >= imp->start_ref && (rc = flush(imp, err, errlen)))
            return rc;
        if ((rc = remove_frames(imp, first, nf, err, errlen)))
            return rc;
        fresh = first >= imp->start_ref;
        was_kept = unkeep(imp, first);
        frames = nf;
        imp->rec.video--;
        imp->rec.frames -= nf;
    } else {
        scrim__seterr(err, errlen, "unknown hash type %d", e->type);
        return SCRIM_EINVAL;
    }
    if (fresh) {
        imp->st.added[0]--;
        imp->st.added[e->type]--;
        imp->st.frames -= frames;
    } else {
        imp->st.removed[0]++;
        imp->st.removed[e->type]++;
    }
    if (was_kept) {
        imp->st.kept[0]--;
        imp->st.kept[e->type]--;
    }
    if (imp->ndel >= imp->flush_every && (rc = flush(imp, err, errlen)))
        return rc;
    return 1;
}

/* ---- adding --------------------------------------------------------------------- */

/* A PDQ or digest entry that the list had before this import, met (the
 * first time) in replace mode: counted as kept; *updated when the input
 * gives it other texts or quality (the caller stores them). */
static void keep_entry(scrim_import *imp, int type, const ref_view *old,
                       const scrim_entry *e, int *updated)
{
    ref_view now = *old;
    texts_from(&now, e);
    now.quality = e->quality;
    *updated = !same_texts(old, &now);
    imp->st.kept[0]++;
    imp->st.kept[type]++;
    imp->st.updated += (uint64_t)*updated;
}

static int add_video(scrim_import *imp, const scrim_entry *e, char *err,
                     size_t errlen);

int scrim_import_add(scrim_import *imp, const scrim_entry *e, char *err,
                     size_t errlen)
{
    int rc;
    if ((rc = late(imp, 0, err, errlen)))
        return rc;
    if (!text_ok(e->id, "id", err, errlen) ||
        !text_ok(e->label, "label", err, errlen) ||
        !text_ok(e->variant, "variant", err, errlen) ||
        !text_ok(e->source, "source", err, errlen) ||
        !text_ok(e->category, "category", err, errlen) ||
        !text_ok(e->tags, "tags", err, errlen))
        return SCRIM_EINVAL;
    if (e->variant && e->type != SCRIM_HASH_PDQ) {
        scrim__seterr(err, errlen, "only a PDQ entry can be a variant");
        return SCRIM_EINVAL;
    }
    if (e->quality < -1 || e->quality > 100) {
        scrim__seterr(err, errlen, "quality %d out of range 0-100", e->quality);
        return SCRIM_EINVAL;
    }
    if (e->type < SCRIM_HASH_PDQ || e->type > SCRIM_HASH_VIDEO) {
        scrim__seterr(err, errlen, "unknown hash type %d", e->type);
        return SCRIM_EINVAL;
    }
    if (imp->capture && (rc = imp->capture(imp->capture_ud, e))) {
        scrim__seterr(err, errlen, "out of memory");
        return rc;
    }
    if (imp->mode == SCRIM_IMPORT_REMOVE) {
        rc = remove_entry(imp, e, err, errlen);
        if (rc == 0)
            imp->st.missing++;
        return rc < 0 ? rc : 0;
    }
    if (e->negative || imp->neg.n) {
        /* a false positive: never stored; one the list has goes, wherever
         * else the input has it */
        dig_key k;
        entry_key(e, &k);
        if ((rc = keyset_find(&imp->neg, &k, e->negative)) < 0) {
            scrim__seterr(err, errlen, "out of memory");
            return rc;
        }
        if (e->negative || rc == 1) {
            imp->st.negative++;
            if ((rc = remove_entry(imp, e, err, errlen)) < 0)
                return rc;
            return 0;
        }
    }
    if (e->type == SCRIM_HASH_VIDEO)
        return add_video(imp, e, err, errlen);
    if (e->type == SCRIM_HASH_PDQ) {
        const scrim_pdq *h = e->hash;
        /* repeated within the unmerged batch? */
        if (in_batch(imp, h))
            goto dup;
        /* already in the index (committed, or merged earlier on)? */
        if (imp->start_pdq + imp->st.added[SCRIM_HASH_PDQ] - imp->pend_img) {
            if ((rc = find_pdq(imp, h, err, errlen)) < 0)
                return rc;
            if (rc == 1) {
                uint32_t ref = imp->found_ref;
                if (!imp->kept || ref >= imp->start_ref ||
                    kept_test_set(imp, ref))
                    goto dup;
                MDB_val k = {4, &ref}, v;
                ref_view old;
                int upd;
                if ((rc = mdb_get(imp->txn, imp->s->refs, &k, &v)) ||
                    (rc = store__ref_decode(v.mv_data, v.mv_size, &old) ? MDB_CORRUPTED : 0))
                    return mdb_fail(imp, rc, err, errlen);
                keep_entry(imp, SCRIM_HASH_PDQ, &old, e, &upd);
                if (upd) {
                    ref_view r = old;
                    texts_from(&r, e);
                    r.quality = e->quality;
                    size_t len = store__ref_encode(imp->buf, &r);
                    MDB_val nv = {len, imp->buf};
                    if ((rc = mdb_put(imp->txn, imp->s->refs, &k, &nv, 0)))
                        return mdb_fail(imp, rc, err, errlen);
                }
                return 0;
            }
        }
        ref_view r = {0};
        r.hash = *h;
        r.list = imp->rec.id;
        r.import = (uint32_t)imp->seq;
        r.type = SCRIM_HASH_PDQ;
        r.quality = e->quality;
        texts_from(&r, e);
        if ((rc = add_ref(imp, &r, err, errlen)))
            return rc;
        size_t sl = slot_of(imp, h); /* the table may have grown */
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
    /* MD5, SHA-256 */
    size_t dl = e->type == SCRIM_HASH_MD5 ? 16 : 32;
    uint8_t key[4 + 1 + 32];
    store__key_list(key, imp->rec.id);
    key[4] = (uint8_t)e->type;
    memcpy(key + 5, e->hash, dl);
    ref_view r = {0};
    texts_from(&r, e);
    uint8_t *p = imp->buf;
    uint32_t imp_id = (uint32_t)imp->seq;
    int flags;
    memcpy(p, &imp_id, 4);
    p[4] = e->quality < 0 ? 255 : (uint8_t)e->quality;
    uint8_t *end = store__strs_encode(p + DIGEST_BASE, &r, &flags);
    p[5] = (uint8_t)flags;
    MDB_val k = {5 + dl, key}, v = {(size_t)(end - p), p};
    rc = mdb_put(imp->txn, imp->s->digests, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        /* v is the stored record: the list's before, or this import's */
        ref_view old;
        dig_key dk;
        entry_key(e, &dk);
        if (!imp->kept || store__digest_decode(v.mv_data, v.mv_size, &old) ||
            old.import == imp->seq)
            goto dup;
        if ((rc = keyset_find(&imp->kdig, &dk, 1)) < 0) {
            scrim__seterr(err, errlen, "out of memory");
            return rc;
        }
        if (rc == 1)
            goto dup;
        int upd;
        keep_entry(imp, e->type, &old, e, &upd);
        if (upd) {
            memcpy(p, &old.import, 4); /* still the import that added it */
            if (old.quarantined) /* stays set aside until an admin decides */
                p[5] |= REF_F_QUARANTINE;
            v.mv_size = (size_t)(end - p);
            v.mv_data = p;
            if ((rc = mdb_put(imp->txn, imp->s->digests, &k, &v, 0)))
                return mdb_fail(imp, rc, err, errlen);
        }
        return 0;
    }
    if (rc)
        return mdb_fail(imp, rc, err, errlen);
    if (e->type == SCRIM_HASH_MD5)
        imp->rec.md5++;
    else
        imp->rec.sha256++;
    imp->st.added[0]++;
    imp->st.added[e->type]++;
    return 0;
dup:
    imp->st.duplicates[0]++;
    imp->st.duplicates[e->type]++;
    return 0;
}

static int add_video(scrim_import *imp, const scrim_entry *e, char *err,
                     size_t errlen)
{
    const char *id = e->id, *label = e->label;
    const scrim_store_frame *frames = e->frames;
    size_t n = e->nframes;
    if (!id || !*id) {
        scrim__seterr(err, errlen, "a video entry needs a content id");
        return SCRIM_EINVAL;
    }
    int lrc = late(imp, 0, err, errlen);
    if (lrc)
        return lrc;
    if (n == 0 || n > 1000000 || !frames) {
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
        uint32_t first = 0, nf = 0;
        if (v.mv_size >= 13) {
            memcpy(&first, v.mv_data, 4);
            memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
        }
        if (imp->kept && first < imp->start_ref && nf &&
            !kept_test_set(imp, first)) {
            for (uint32_t f = 1; f < nf; f++)
                kept_test_set(imp, first + f);
            imp->st.kept[0]++;
            imp->st.kept[SCRIM_HASH_VIDEO]++;
            return 0;
        }
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
        /* each frame carries the entry's id and what its source says */
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
        r.source = e->source;
        r.sourcelen = e->source ? strlen(e->source) : 0;
        r.category = e->category;
        r.categorylen = e->category ? strlen(e->category) : 0;
        r.tags = e->tags;
        r.tagslen = e->tags ? strlen(e->tags) : 0;
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

int scrim_import_add_video(scrim_import *imp, const char *id,
                           const char *label, const scrim_store_frame *frames,
                           size_t n, char *err, size_t errlen)
{
    scrim_entry e = {0};
    e.type = SCRIM_HASH_VIDEO;
    e.id = id;
    e.label = label;
    e.quality = -1;
    e.frames = frames;
    e.nframes = n;
    if (!id || !*id) {
        scrim__seterr(err, errlen, "a video entry needs a content id");
        return SCRIM_EINVAL;
    }
    return scrim_import_add(imp, &e, err, errlen);
}

/* ---- commit ----------------------------------------------------------------------- */

/* Replace: remove what the list had and the input did not: refs below
 * start_ref without their kept bit (image PDQs; the frames of videos not
 * kept), the videos and digests not kept. */
static int sweep(scrim_import *imp, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc;
    if (imp->start_pdq + imp->start_frames) {
        if ((rc = mdb_cursor_open(imp->txn, imp->s->refs, &c)))
            return mdb_fail(imp, rc, err, errlen);
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint32_t ref, list;
            memcpy(&ref, k.mv_data, 4);
            if (ref >= imp->start_ref)
                break;
            if (v.mv_size < REF_BASE)
                continue;
            memcpy(&list, (const uint8_t *)v.mv_data + REF_LIST, 4);
            if (list != imp->rec.id || (imp->kept[ref >> 6] >> (ref & 63) & 1))
                continue;
            int type = ((const uint8_t *)v.mv_data)[REF_TYPE];
            if ((rc = del_queue(imp, v.mv_data, ref)))
                break;
            /* LMDB leaves the cursor so that MDB_NEXT yields the record
             * after the deleted one */
            if ((rc = mdb_cursor_del(c, 0)))
                break;
            if (type == SCRIM_HASH_PDQ) {
                imp->rec.pdq--;
                imp->st.removed[0]++;
                imp->st.removed[SCRIM_HASH_PDQ]++;
            }
        }
        mdb_cursor_close(c);
        if (rc == SCRIM_ENOMEM) {
            scrim__seterr(err, errlen, "out of memory");
            return rc;
        }
        if (rc && rc != MDB_NOTFOUND)
            return mdb_fail(imp, rc, err, errlen);
    }
    uint8_t pfx[4];
    store__key_list(pfx, imp->rec.id);
    for (int pass = 0; pass < 2; pass++) {
        MDB_dbi dbi = pass ? imp->s->videos : imp->s->digests;
        if ((rc = mdb_cursor_open(imp->txn, dbi, &c)))
            return mdb_fail(imp, rc, err, errlen);
        k.mv_size = 4;
        k.mv_data = pfx;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
             rc == 0 && k.mv_size >= 4 && !memcmp(k.mv_data, pfx, 4);
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            const uint8_t *key = k.mv_data;
            int type = SCRIM_HASH_VIDEO;
            if (pass) {
                uint32_t first = 0, nf = 0;
                if (v.mv_size >= 13) {
                    memcpy(&first, v.mv_data, 4);
                    memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
                }
                if (first >= imp->start_ref ||
                    (nf && imp->kept[first >> 6] >> (first & 63) & 1))
                    continue;
                imp->rec.video--;
                imp->rec.frames -= nf;
            } else {
                ref_view d;
                dig_key dk = {{0}};
                type = key[4];
                if (k.mv_size > 5 + 32 || k.mv_size < 5)
                    continue;
                dk.b[0] = key[4];
                memcpy(dk.b + 1, key + 5, k.mv_size - 5);
                if ((!store__digest_decode(v.mv_data, v.mv_size, &d) &&
                     d.import == imp->seq) || keyset_find(&imp->kdig, &dk, 0))
                    continue;
                if (type == SCRIM_HASH_MD5)
                    imp->rec.md5--;
                else if (type == SCRIM_HASH_SHA256)
                    imp->rec.sha256--;
                else
                    continue;
            }
            if ((rc = mdb_cursor_del(c, 0)))
                break;
            imp->st.removed[0]++;
            imp->st.removed[type]++;
        }
        mdb_cursor_close(c);
        if (rc && rc != MDB_NOTFOUND)
            return mdb_fail(imp, rc, err, errlen);
    }
    return 0;
}

/* The import history of the list: a record per input, keyed "imports",
 * list id (BE), import seq (BE), input number; the oldest beyond
 * SCRIM_LIST_IMPORTS dropped. */
static int save_inputs(scrim_import *imp)
{
    const scrim_import_stats *st = &imp->st;
    int rc = 0;
    for (size_t i = 0; i < imp->ninputs && !rc; i++) {
        uint8_t key[IMPORTS_KEY_LEN];
        store__imports_key(key, imp->rec.id, imp->seq, (uint32_t)i);
        const import_input *in = &imp->inputs[i];
        struct import_rec r = {0};
        r.time = store__now();
        r.bytes = in->bytes;
        r.lines = in->lines;
        r.added = st->added[0];
        r.kept = st->kept[0];
        r.removed = st->removed[0];
        r.mode = (uint8_t)imp->mode;
        memcpy(r.sha256, in->sha256, 32);
        snprintf(r.source, sizeof r.source, "%s", in->name);
        MDB_val k = {sizeof key, key}, v = {sizeof r, &r};
        rc = mdb_put(imp->txn, imp->s->meta, &k, &v, 0);
    }
    return rc ? rc : store__imports_trim(imp->s, imp->txn, imp->rec.id);
}

int scrim_import_commit(scrim_import *imp, scrim_import_stats *stats,
                        char *err, size_t errlen)
{
    char detail[256];
    int rc = 0;
    if (imp->kept && (rc = sweep(imp, err, errlen)))
        goto fail;
    if (imp->dry_run) {   /* the counts, known by now: no index merge */
        if (stats)
            *stats = imp->st;
        scrim_import_abort(imp);
        return 0;
    }
    if ((rc = flush(imp, err, errlen)))
        goto fail;
    const scrim_import_stats *st = &imp->st;
    static const char *const mode_names[] = {"", "replace: ", "remove: "};
    int n = snprintf(detail, sizeof detail, "%s%s%s", imp->source,
                     *imp->source ? ": " : "", mode_names[imp->mode]);
    if (imp->mode != SCRIM_IMPORT_REMOVE)
        n += snprintf(detail + n, sizeof detail - (size_t)n,
                      "added pdq=%llu md5=%llu sha256=%llu video=%llu, "
                      "duplicates=%llu",
                      (unsigned long long)st->added[SCRIM_HASH_PDQ],
                      (unsigned long long)st->added[SCRIM_HASH_MD5],
                      (unsigned long long)st->added[SCRIM_HASH_SHA256],
                      (unsigned long long)st->added[SCRIM_HASH_VIDEO],
                      (unsigned long long)st->duplicates[0]);
    if (imp->mode == SCRIM_IMPORT_REPLACE && n < (int)sizeof detail)
        n += snprintf(detail + n, sizeof detail - (size_t)n, ", kept=%llu",
                      (unsigned long long)st->kept[0]);
    if ((imp->mode != SCRIM_IMPORT_ADD || st->removed[0]) && n < (int)sizeof detail)
        n += snprintf(detail + n, sizeof detail - (size_t)n, "%sremoved=%llu",
                      imp->mode == SCRIM_IMPORT_REMOVE ? "" : ", ",
                      (unsigned long long)st->removed[0]);
    if (imp->mode == SCRIM_IMPORT_REMOVE && n < (int)sizeof detail)
        n += snprintf(detail + n, sizeof detail - (size_t)n, ", not found=%llu",
                      (unsigned long long)st->missing);
    if (st->negative && n < (int)sizeof detail)
        n += snprintf(detail + n, sizeof detail - (size_t)n,
                      ", false positives=%llu", (unsigned long long)st->negative);
    if (st->unknown && n < (int)sizeof detail)
        snprintf(detail + n, sizeof detail - (size_t)n, ", unknown types=%llu",
                 (unsigned long long)st->unknown);
    imp->rec.modified = store__now();
    if ((rc = store__list_save(imp->s, imp->txn, imp->list, &imp->rec,
                               imp->desc)) ||
        (rc = store__meta_set(imp->s, imp->txn, "next_ref", imp->next_ref)) ||
        (rc = save_inputs(imp)) ||
        (imp->created &&
         (rc = store__audit_add(imp->s, imp->txn, imp->create_seq, "create",
                                imp->list, 0, "by import"))) ||
        (rc = store__audit_add(imp->s, imp->txn, imp->seq,
                               imp->mode == SCRIM_IMPORT_REMOVE ? "remove" : "import",
                               imp->list,
                               imp->mode == SCRIM_IMPORT_REMOVE ? st->removed[0]
                                                                : st->added[0],
                               detail))) {
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
    rc = import__text(imp, NULL, buf, len, "body", opts ? opts->source : NULL,
                      format, NULL, NULL, &imp->st, err, errlen);
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
    return import__text(imp, f, NULL, 0, name, NULL, format, progress, ud,
                        &imp->st, err, errlen);
}

int scrim_import_buffer(scrim_import *imp, const void *buf, size_t len,
                        const char *name, int format, char *err, size_t errlen)
{
    return import__text(imp, NULL, buf, len, name, NULL, format, NULL, NULL,
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
