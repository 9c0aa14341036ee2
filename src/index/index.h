/* index.h - the store's on-disk records and the pieces its files (store*.c,
 * mih.c, text.c, vpdq_list.c) share.  Not public API. */
#ifndef SCRIM_STORE_INTERNAL_H
#define SCRIM_STORE_INTERNAL_H

#include "scrim.h"
#include "base/base.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

/* Bumped whenever a record layout below changes. */
#define STORE_FORMAT 2

/* ---- databases -------------------------------------------------------------
 * scrim.meta     string key -> uint64 counters (next ref, list, audit seq)
 * scrim.lists    list name -> list_rec (+ description)
 * scrim.refs     uint32 ref -> ref record: one per PDQ of an image entry and
 *                per frame of a video entry (the index points here)
 * scrim.index    uint32 word value v -> bucket value (see mih.c)
 * scrim.digests  list id (BE) . type . digest bytes -> digest record
 * scrim.videos   list id (BE) . content id -> video record
 * scrim.audit    uint64 seq -> scrim_audit_rec
 */
struct scrim_store {
    MDB_env *env;
    MDB_dbi meta, lists, refs, index, digests, videos, audit;
    char path[4096];
    /* read transactions kept reset between lookups (store_lookup.c) */
    pthread_mutex_t rlock;
    MDB_txn *rfree[64];
    size_t nrfree;
    /* the index directory of the newest snapshot seen (store_lookup.c) */
    pthread_mutex_t dlock;
    struct mih_dir *dir;
    /* every committed PDQ by ref, once scrim_store_cache_hashes() has run
     * (store_cache.c); NULL until then */
    struct hash_cache *_Atomic hc;
    pthread_mutex_t hc_lock; /* creates hc */
    /* where LMDB mapped data.mdb (store_map.c); NULL if not found */
    uint8_t *map;
    size_t map_len;
    /* the other modules' environment, side.mdb, opened on first use */
    pthread_mutex_t side_lock;
    MDB_env *side;
    scrim_store_opts opts;
};

/* A list as stored (followed by the NUL-terminated description). */
struct list_rec {
    uint32_t id;
    uint8_t kind, enabled, radius, pad;
    int64_t created, modified;
    uint64_t pdq, md5, sha256, video, frames;
};

/* A ref record: bytes at fixed offsets (memcpy in and out; values in LMDB are
 * only 2-byte aligned). */
#define REF_HASH     0   /* scrim_pdq, 32 bytes, native words */
#define REF_LIST    32   /* uint32 list id */
#define REF_IMPORT  36   /* uint32 audit seq of the import that added it */
#define REF_TYPE    40   /* uint8 SCRIM_HASH_PDQ or SCRIM_HASH_VIDEO */
#define REF_QUALITY 41   /* uint8, 255 = unknown */
#define REF_FLAGS   42   /* uint8 */
#define REF_BASE    43
/* video frames then carry: uint32 entry (first ref), frame, frames, float
 * seconds; then id and label as uint16 length + bytes when flagged. */
#define REF_VIDEO_LEN 16
#define REF_F_ID     1
#define REF_F_LABEL  2
#define REF_F_VARIANT 4  /* an index-side variant (scrim add): its name */
/* what a shared list says of an entry (pytx: collab, opinion category, tags
 * space-separated); also in digest records.  Builds that predate them skip
 * these strings (they come after the ones such a build knows). */
#define REF_F_SOURCE  8
#define REF_F_CATEGORY 16
#define REF_F_TAGS   32
#define REF_NSTR      6  /* flagged strings: bit i = string i, in this order */
/* Quarantined (store_quarantine.c): reviewers rejected its matches too
 * often; lookups skip it until an admin restores or removes it.  On ref
 * records, digest records and video records alike (not a string). */
#define REF_F_QUARANTINE 64

/* A decoded ref record (pointers into the map: valid for the txn). */
typedef struct ref_view {
    scrim_pdq hash;
    uint32_t list, import;
    int type, quality;
    uint32_t entry, frame, frames;
    float seconds;
    int quarantined;          /* REF_F_QUARANTINE: kept by encode */
    const char *id, *label, *variant, *source, *category, *tags;
    size_t idlen, labellen, variantlen, sourcelen, categorylen, tagslen;
} ref_view;

/* SCRIM_EDB for a record too short for what its flags say. */
int store__ref_decode(const void *data, size_t len, ref_view *out);
/* Encode into buf (at least REF_BASE + REF_VIDEO_LEN + 6 + idlen + labellen +
 * variantlen
 * bytes); returns the length. */
size_t store__ref_encode(uint8_t *buf, const ref_view *r);

/* The flagged strings of a record (uint16 length + bytes each, in flag
 * order) from p to end into the fields of r (ref records: id, label,
 * variant, source, category, tags); SCRIM_EDB if they overrun. */
int store__strs_decode(const uint8_t *p, const uint8_t *end, int flags,
                       ref_view *r);
/* Encode r's strings (those not NULL) at p; returns the end; *flags gets
 * their bits. */
uint8_t *store__strs_encode(uint8_t *p, const ref_view *r, int *flags);
/* The most a record's strings take. */
#define REF_STRS_MAX (REF_NSTR * (2 + SCRIM_ENTRY_TEXT_MAX))

/* Digest record: uint32 import, uint8 quality, uint8 flags, then id, label,
 * source, category, tags as in ref records (never a variant).  Decoded into
 * a ref_view (import, quality and strings; SCRIM_EDB if corrupt).  Video
 * record: uint32 first ref, uint32 frames, uint32 import, uint8 flags, then
 * label. */
#define DIGEST_BASE 6
int store__digest_decode(const void *data, size_t len, ref_view *out);

/* The import history, in scrim.meta: key "imports", list id (BE), import
 * seq (BE), input number (BE); value an import_rec. */
#define IMPORTS_KEY_LEN (7 + 4 + 8 + 4)
struct import_rec {
    int64_t time;
    uint64_t bytes, lines, added, kept, removed;
    uint8_t sha256[32];
    uint8_t mode, pad[7];
    char source[160];
};
void store__imports_key(uint8_t *key, uint32_t list, uint64_t seq,
                        uint32_t input);
/* Drop the list's oldest records beyond SCRIM_LIST_IMPORTS (LMDB codes). */
int store__imports_trim(scrim_store *s, MDB_txn *txn, uint32_t list);
/* The list's records, newest first, into l (LMDB codes). */
int store__imports_load(scrim_store *s, MDB_txn *txn, uint32_t list,
                        scrim_list_info *l);
/* The import session's, for text.c: --strict; and an input read whole
 * (its name, SHA-256, bytes, lines), recorded at commit (SCRIM_ENOMEM). */
int import__strict(const scrim_import *imp);
int import__input(scrim_import *imp, const char *name, const uint8_t *sha256,
                  uint64_t bytes, uint64_t lines);

/* ---- helpers ------------------------------------------------------------
 * Each says what its non-zero return is: an LMDB code (MDB_* or an errno
 * value, as mdb_* return them), or a SCRIM_E* code with err set. */

/* LMDB code rc -> "WHAT: message" in err (a full map says so and what to
 * do); returns SCRIM_ENOMEM or SCRIM_EDB.  Also used by review/. */
int scrim__mdb_err(int rc, const char *what, char *err, size_t errlen);
/* The next value of counter `key` (LMDB code). */
int store__meta_next(scrim_store *s, MDB_txn *txn, const char *key,
                     uint64_t *out);
/* SCRIM_ENOTFOUND if there is no such list; SCRIM_E* codes. */
int store__list_load(scrim_store *s, MDB_txn *txn, const char *name,
                     struct list_rec *rec, char *desc, char *err,
                     size_t errlen);
/* LMDB codes; a missing key is 0 with *out unchanged. */
int store__meta_get(scrim_store *s, MDB_txn *txn, const char *key,
                    uint64_t *out);
/* LMDB codes. */
int store__meta_set(scrim_store *s, MDB_txn *txn, const char *key,
                    uint64_t n);
/* SCRIM_EINVAL with err set for an out-of-range parameter. */
int store__params_check(const scrim_list_params *p, char *err, size_t errlen);
void store__params_apply(struct list_rec *rec, char *desc,
                         const scrim_list_params *p);
/* SCRIM_EINVAL, with a message naming the rule, if name is not a valid list
 * name. */
int store__name_check(const char *name, char *err, size_t errlen);
/* Create list `name` (must not exist) with params p applied (SCRIM_E*). */
int store__list_new(scrim_store *s, MDB_txn *txn, const char *name,
                    const scrim_list_params *p, struct list_rec *rec,
                    char *desc, char *err, size_t errlen);
/* A read transaction from the store's cache (renewed), and back (LMDB
 * codes). */
int store__rtxn_get(scrim_store *s, MDB_txn **txn);
void store__rtxn_put(scrim_store *s, MDB_txn *txn);
void store__rtxn_cache_free(scrim_store *s);
/* Find the data file's map and advise it MADV_HUGEPAGE (store_map.c). */
void store__map_advise(scrim_store *s);
/* LMDB codes. */
int store__list_save(scrim_store *s, MDB_txn *txn, const char *name,
                     const struct list_rec *rec, const char *desc);
/* LMDB codes. */
int store__audit_add(scrim_store *s, MDB_txn *txn, uint64_t seq,
                     const char *action, const char *list, uint64_t count,
                     const char *detail);
int64_t store__now(void);
/* The first 4 bytes of every key of a list's digests and videos: the list's
 * id, big-endian, so one list's keys are adjacent (export and drop walk
 * them as a range). */
void store__key_list(uint8_t *key, uint32_t list);
/* A videos key: the list's 4 bytes, then the video's id; malloc'd (4 + idlen
 * bytes), NULL when out of memory. */
uint8_t *store__video_key(uint32_t list, const char *id, size_t idlen);

/* ---- the hash cache (store_cache.c) ------------------------------------------
 * Chunks of HC_CHUNK refs' hashes.  Slots below `filled` never change once
 * published; they hold every ref that existed in snapshot `txnid` (that of
 * the latest fill) or earlier fills' snapshots. */
#define HC_CHUNK_BITS 16
#define HC_CHUNK ((uint32_t)1 << HC_CHUNK_BITS)
#define HC_NCHUNK ((uint32_t)1 << (32 - HC_CHUNK_BITS))
typedef struct hash_cache {
    _Atomic uint32_t filled;                  /* refs [0, filled) read */
    _Atomic uint64_t txnid;                   /* the latest fill's snapshot */
    scrim_pdq *_Atomic chunk[HC_NCHUNK];
    pthread_mutex_t fill;                     /* one filler at a time */
    uint64_t count, bytes;                    /* under fill */
} hash_cache;

/* What one lookup may take from the cache: refs below `limit`. */
typedef struct hc_view {
    const hash_cache *c;
    uint32_t limit;
} hc_view;

/* The view for a lookup in txn's snapshot: empty if there is no cache, or
 * if the snapshot is older than the latest fill (it may list refs removed
 * before that fill, whose slots were never written). */
hc_view store__hc_view(scrim_store *s, MDB_txn *txn);

/* The cached hash of ref, or NULL (not cached: read scrim.refs). */
static inline const scrim_pdq *store__hc_get(hc_view v, uint32_t ref)
{
    if (ref >= v.limit)
        return NULL;
    const scrim_pdq *ch = atomic_load_explicit(&v.c->chunk[ref >> HC_CHUNK_BITS],
                                               memory_order_relaxed);
    return ch ? ch + (ref & (HC_CHUNK - 1)) : NULL;
}

static inline void store__hc_prefetch(hc_view v, uint32_t ref)
{
    const scrim_pdq *h = store__hc_get(v, ref);
    if (h)
        __builtin_prefetch(h);
}

/* Extend the cache by the refs committed since its last fill, if it exists
 * (after an import in this process). */
void store__hc_extend(scrim_store *s);
void store__hc_free(scrim_store *s);

/* ---- the PDQ index (mih.c) -------------------------------------------------- */

typedef struct mih_item {
    scrim_pdq hash;
    uint32_t ref;
    uint32_t video;   /* a video frame (imports: not de-duplicated) */
} mih_item;

/* Merge additions and removals into the index in one pass over the touched
 * buckets (each bucket is rewritten once).  dels must name records that
 * exist (same hash and ref).  SCRIM_E* codes with err set. */
int mih__update(MDB_txn *txn, MDB_dbi dbi, const mih_item *adds, size_t nadd,
                const mih_item *dels, size_t ndel, char *err, size_t errlen);
/* Remove every record whose ref has its bit set in `bitmap` (bit r of word
 * r/64, nbits bits): rewrites every bucket.  SCRIM_E* codes with err set. */
int mih__remove_bitmap(MDB_txn *txn, MDB_dbi dbi, const uint64_t *bitmap,
                       uint64_t nbits, char *err, size_t errlen);

/* A verified hit: the ref, its record and its distance. */
typedef int (*mih_emit_fn)(void *ud, uint32_t ref, const void *rec,
                           size_t reclen, int distance);
/* Where the index values of one snapshot are (see mih.c): for each value,
 * its address and the byte offsets of its 16 runs (off[16] = its size). */
typedef struct mih_dir_ent {
    const uint8_t *p;
    uint32_t off[17];
} mih_dir_ent;
typedef struct mih_dir {
    uint64_t txnid;
    int refs;                      /* users, under scrim_store.dlock */
    mih_dir_ent e[65536];
} mih_dir;
/* SCRIM_E* codes. */
int mih__dir_build(MDB_txn *txn, MDB_dbi index, mih_dir **out);

/* All refs within `radius` of q (each once), via the index; dir (may be
 * NULL) must belong to txn's snapshot; hc (from store__hc_view for txn;
 * may be empty) gives candidates' hashes without reading their records.
 * SCRIM_E* codes, or the first non-zero value emit returned. */
int mih__query(MDB_txn *txn, MDB_dbi index, MDB_dbi refs, const mih_dir *dir,
               hc_view hc, const scrim_pdq *q, int radius,
               mih_emit_fn emit, void *ud);
/* The same for nq queries (mih.c's batches: faster than as many calls for
 * more than a few dozen; threads > 1: a helper thread sweeps half of the
 * values); *cur is set to a hit's query index before its
 * emit; the hits of a query come in no particular order. */
int mih__query_batch(MDB_txn *txn, MDB_dbi index, MDB_dbi refs,
                     const mih_dir *dir, hc_view hc, const scrim_pdq *q,
                     size_t nq, int radius, int threads, size_t *cur,
                     mih_emit_fn emit, void *ud);
/* The same by scanning every ref record (the same codes). */
int mih__scan(MDB_txn *txn, MDB_dbi refs, const scrim_pdq *q, int radius,
              mih_emit_fn emit, void *ud);
/* Refs with exactly this hash (distance 0), for de-duplication and removal. */
int mih__find_exact(MDB_txn *txn, MDB_dbi index, MDB_dbi refs,
                    const scrim_pdq *q, mih_emit_fn emit, void *ud);

/* ---- text formats (text.c) ------------------------------------------------ */

/* Parse a stream (f) or a buffer (buf,len) and feed scrim_import_add
 * (SCRIM_E* codes with err set, naming the line `name`); the input goes
 * into the list's import history as record_as (NULL: name). */
int import__text(scrim_import *imp, FILE *f, const void *buf, size_t len,
                 const char *name, const char *record_as, int format,
                 void (*progress)(void *ud, uint64_t bytes), void *ud,
                 scrim_import_stats *st, char *err, size_t errlen);

#endif
