/* scrim/store.h - the hash-list store: named lists of PDQ / MD5 / SHA-256 /
 * video entries in one LMDB environment, with an exact nearest-neighbour
 * index for PDQ that lives in LMDB itself.
 *
 * Threads and processes
 *  - One scrim_store handle per process is enough: it may be shared by any
 *    number of threads.  Every lookup runs in its own LMDB read transaction
 *    (the environment is opened with MDB_NOTLS), so lookups run concurrently
 *    with each other and with one writer.
 *  - Writes (imports, list changes) are serialised by LMDB's writer lock,
 *    across processes too.  A committed change is seen by the next lookup in
 *    any process that has the environment open.
 *
 * Index (src/mih.c): multi-index hashing over the 16 16-bit words of a PDQ.
 * The index holds 65536 LMDB values, one per word value v; value v holds, for
 * each word position i, the records of every hash whose word i equals v (a
 * reference plus a few of the hash's following words as a pre-filter).  A
 * radius query probes the words within floor(r/16) bits of the query's, and
 * checks candidates against their full hash, so results equal a brute-force
 * scan.  Radii of 48 and above scan all hashes (still exact).
 *
 * Caveats
 *  - Other modules keep their own named databases (up to
 *    SCRIM_STORE_SPARE_DBS; names not starting with "scrim.") in an
 *    environment beside the store's, side.mdb in the same directory
 *    (scrim_store_side_env()).  It has its own write lock, so their small
 *    writes (a review record per match) never wait for a list import or drop,
 *    which hold the store's for as long as they take.
 *  - Strings in results are owned by the result set and live until it is
 *    freed.
 */
#ifndef SCRIM_STORE_H
#define SCRIM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "scrim.h"   /* scrim_pdq; harmless when included from scrim.h */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct MDB_env MDB_env;
typedef struct scrim_store scrim_store;
typedef struct scrim_import scrim_import;

#define SCRIM_STORE_DEFAULT_DIR   "./var/scrim.db"
#define SCRIM_STORE_DEFAULT_MAP   ((uint64_t)1 << 40)  /* 1 TiB, sparse */
#define SCRIM_STORE_SPARE_DBS     16  /* named DBs left for other modules */
#define SCRIM_LIST_NAME_MAX       64  /* bytes: [A-Za-z0-9._-], not empty */
#define SCRIM_LIST_DESC_MAX       1024
#define SCRIM_ENTRY_TEXT_MAX      1024 /* id and label, bytes each */
#define SCRIM_DEFAULT_RADIUS      31
#define SCRIM_MAX_RADIUS          64

/* Entry types. */
enum scrim_hash_type {
    SCRIM_HASH_PDQ = 1,
    SCRIM_HASH_MD5 = 2,
    SCRIM_HASH_SHA256 = 3,
    SCRIM_HASH_VIDEO = 4,   /* a video entry: many frame PDQs */
};
const char *scrim_hash_type_name(int type);   /* "pdq", "md5", ... */
int scrim_hash_type_parse(const char *s);      /* or SCRIM_EINVAL */

enum scrim_list_kind { SCRIM_LIST_BLOCK = 0, SCRIM_LIST_ALLOW = 1 };
const char *scrim_list_kind_name(int kind);    /* "block" / "allow" */
int scrim_list_kind_parse(const char *s);      /* or SCRIM_EINVAL */

/* ---- opening ------------------------------------------------------------ */

typedef struct scrim_store_opts {
    uint64_t map_size;   /* bytes of address space; 0 = 1 TiB (sparse file) */
    int create;          /* create the directory if missing */
    int readonly;        /* MDB_RDONLY: lookups only */
    unsigned max_readers;/* concurrent read transactions; 0 = 1024 */
} scrim_store_opts;

/* Open (and with opts->create, create) the store in directory `dir`.
 * opts may be NULL (defaults, no create).  Cheap: nothing is loaded into
 * memory, the index is read from the map as queries need it.  A new
 * directory is made 0700, new files 0600.  LMDB's lock file is allocated
 * whole before LMDB maps it (it writes the reader table through the map),
 * so a full disk fails here (SCRIM_EIO, err naming the file) instead of
 * faulting later; scrim_store_side_env() does the same for side.mdb. */
int scrim_store_open(const char *dir, const scrim_store_opts *opts,
                     scrim_store **out, char *err, size_t errlen);
void scrim_store_close(scrim_store *s);

/* Read the whole database into memory (the page cache), for servers that
 * want no first-query disk reads, and where the kernel can map the file with
 * 2 MB pages, make it so: the index's random reads then miss the TLB far
 * less (doc/design.md).  If
 * most of the database is held in 4 KB folios (e.g. just written by an
 * import), it is dropped and read again, 2 MB at a time, provided a first
 * 2 MB shows that this brings 2 MB pages.  Safe while other threads query and write.  Takes as
 * long as reading the file from disk when it re-reads; stops early once
 * stop(arg) returns non-zero (asked every 2 MB; stop may be NULL).  Returns
 * 0, or SCRIM_EINVAL where the map cannot be found (not Linux).  A database
 * larger than half the machine's RAM is not preloaded (too_big). */
typedef struct scrim_store_preload_stats {
    uint64_t bytes;          /* database bytes mapped in */
    uint64_t huge_before;    /* of which on 2 MB pages before ... */
    uint64_t huge_after;     /* ... and after */
    int reread;              /* small pages were dropped and read again */
    int stopped;             /* stop() ended it early */
    int too_big;             /* over half the RAM: nothing done */
    double seconds;
} scrim_store_preload_stats;
int scrim_store_preload(scrim_store *s, int (*stop)(void *arg), void *arg,
                        scrim_store_preload_stats *st);

/* Keep every PDQ of the database in RAM (32 bytes per hash: 322 MB at 10M),
 * so that an index lookup checks its candidates without reading their
 * records from LMDB.  For servers: the first call reads every ref record,
 * later calls only those committed since, and imports
 * through this handle extend it as they commit.  Hashes committed by other
 * processes are found as before (read from LMDB) until the next call.
 * Safe while other threads query and write; stops early once stop(arg)
 * returns non-zero (stop may be NULL).  Not made if it would need more than
 * a quarter of the RAM (too_big).  Returns 0, SCRIM_ENOMEM or SCRIM_EDB
 * (what was cached before the failure stays in use). */
typedef struct scrim_store_cache_stats {
    uint64_t hashes;   /* hashes in the cache after the call */
    uint64_t added;    /* of which this call read */
    uint64_t bytes;    /* memory the cache holds */
    int too_big;       /* would need over a quarter of the RAM: not made */
    int stopped;       /* stop() ended it early */
    double seconds;
} scrim_store_cache_stats;
int scrim_store_cache_hashes(scrim_store *s, int (*stop)(void *arg), void *arg,
                             scrim_store_cache_stats *st);

/* The store's own LMDB environment (data.mdb).  Valid until
 * scrim_store_close(). */
MDB_env *scrim_store_env(scrim_store *s);

/* The environment for other modules' named databases (see Caveats): side.mdb
 * in the store's directory, opened (and, unless the store is read-only,
 * created) on first call, with the store's options, MDB_NOTLS.  Named
 * databases that an older layout kept in data.mdb (any not starting with
 * "scrim.") are moved into it then, in one transaction each side; what
 * side.mdb already holds under the same key is kept.  Valid until
 * scrim_store_close(). */
int scrim_store_side_env(scrim_store *s, MDB_env **out, char *err, size_t errlen);

/* ---- snapshot ------------------------------------------------------------ */

/* A consistent, compacted copy of the store for a new node to start from,
 * made while it serves (imports and lookups go on): data.mdb in one read
 * transaction (every list, the index and the audit log as of one commit;
 * free pages left out), and side.mdb (if the store has one) in another,
 * leaving out its named databases that side_skip names (NULL-terminated;
 * NULL = none left out; scrim/review.h's SCRIM_REVIEW_QUEUE_DBS are the
 * review queue's).  Written into OUT.partial-PID beside out, fsynced, checked
 * to open, then renamed to out, which must not exist: an interrupted copy
 * never looks complete.  Returns 0, SCRIM_EEXIST (out exists), SCRIM_EINVAL
 * (no such parent directory, or inside the store), SCRIM_EIO (disk full, the
 * partial copy removed) or SCRIM_EDB; err says which.  While it runs, pages
 * freed by writers are not reused (the copy's reader holds them): an import
 * meanwhile grows data.mdb a little. */
typedef struct scrim_store_snapshot_stats {
    uint64_t data_bytes;   /* the copy's data.mdb */
    uint64_t side_bytes;   /* its side.mdb (0: none) */
    double data_seconds;   /* copying data.mdb */
    double seconds;        /* the whole snapshot */
} scrim_store_snapshot_stats;
int scrim_store_snapshot(scrim_store *s, const char *out,
                         const char *const *side_skip,
                         scrim_store_snapshot_stats *st, char *err, size_t errlen);

/* ---- lists ---------------------------------------------------------------- */

#define SCRIM_LIST_IMPORTS 8
typedef struct scrim_list_info {
    char name[SCRIM_LIST_NAME_MAX + 1];
    char description[SCRIM_LIST_DESC_MAX + 1];
    int kind;            /* SCRIM_LIST_BLOCK / SCRIM_LIST_ALLOW */
    int enabled;
    int radius;          /* 0..64 */
    uint32_t id;         /* internal number, stable for the list's life */
    int64_t created, modified;   /* unix seconds */
    uint64_t count;      /* entries: pdq + md5 + sha256 + video */
    uint64_t pdq, md5, sha256, video, frames;   /* by type; frames of videos */
    /* the last imports into the list (a list keeps SCRIM_LIST_IMPORTS),
     * newest first: one per input file or request body */
    size_t nimports;
    struct scrim_list_import {
        int64_t time;            /* unix seconds of the commit */
        char source[160];        /* the file as named, or the request */
        char sha256[65];         /* of its bytes, hex */
        char mode[8];            /* "add", "replace" or "remove" */
        uint64_t bytes, lines;   /* of this input */
        uint64_t added, kept, removed;   /* of the whole import */
    } imports[SCRIM_LIST_IMPORTS];
} scrim_list_info;

/* Changes to a list; -1 / NULL fields are left as they are (on create: the
 * defaults block, enabled, radius 31, no description). */
typedef struct scrim_list_params {
    int kind, enabled, radius;
    const char *description;
} scrim_list_params;
#define SCRIM_LIST_PARAMS_KEEP { -1, -1, -1, NULL }

/* Valid list name?  (1-64 bytes of A-Z a-z 0-9 . _ -) */
int scrim_list_name_valid(const char *name);

/* Create a list: SCRIM_EEXIST if it exists.  Recorded in the audit table. */
int scrim_store_list_create(scrim_store *s, const char *name,
                            const scrim_list_params *p, char *err,
                            size_t errlen);
/* Modify a list (SCRIM_ENOTFOUND if missing).  Audited. */
int scrim_store_list_set(scrim_store *s, const char *name,
                         const scrim_list_params *p, char *err, size_t errlen);
int scrim_store_list_get(scrim_store *s, const char *name,
                         scrim_list_info *out, char *err, size_t errlen);
/* All lists, sorted by name, into a malloc'd array the caller frees. */
int scrim_store_lists(scrim_store *s, scrim_list_info **out, size_t *n,
                      char *err, size_t errlen);
/* Delete a list and all its entries in one transaction; *removed (may be
 * NULL) gets the number of entries.  Audited. */
int scrim_store_list_drop(scrim_store *s, const char *name, uint64_t *removed,
                          char *err, size_t errlen);

/* Remove entries from a list, each given as text: a PDQ (64 hex), an MD5
 * (32 hex), a SHA-256 (64 hex, as "sha256:HEX"; bare 64 hex means PDQ) or a
 * video's content id ("video:ID").  All or nothing: an unparsable value is
 * an error; values not in the list are counted in *missing.  Audited. */
int scrim_store_remove(scrim_store *s, const char *list,
                       const char *const *values, size_t n,
                       uint64_t *removed, uint64_t *missing, char *err,
                       size_t errlen);

/* ---- import --------------------------------------------------------------- */

/* What an import does with the entries it reads. */
enum scrim_import_mode {
    SCRIM_IMPORT_ADD = 0,   /* adds them (those already there are kept) */
    SCRIM_IMPORT_REPLACE,   /* the list becomes exactly them, in the one
                               transaction: added, kept (their id, label,
                               source... updated) and removed */
    SCRIM_IMPORT_REMOVE,    /* removes them (a withdrawal list) */
};

enum scrim_import_format {
    SCRIM_FORMAT_AUTO = 0,
    SCRIM_FORMAT_HEX,      /* one 64-hex PDQ per line */
    SCRIM_FORMAT_PYTX,     /* "pdq HEX" / "md5 HEX" / "sha256 HEX" lines */
    SCRIM_FORMAT_CSV,      /* header with `hash`; type,id,label,quality */
    SCRIM_FORMAT_MD5,      /* one MD5 per line */
    SCRIM_FORMAT_SHA256,   /* one SHA-256 per line */
};
const char *scrim_import_format_name(int format);
int scrim_import_format_parse(const char *s);   /* or SCRIM_EINVAL */

struct scrim_entry;   /* below */
typedef struct scrim_import_opts {
    int create;                 /* create the list if missing */
    scrim_list_params list;     /* applied to a created list (or changes) */
    const char *source;         /* for the audit table, e.g. the file name */
    size_t flush_every;         /* PDQ records buffered before merging into
                                   the index; 0 = 1M (about 60 MB) */
    int mode;                   /* enum scrim_import_mode */
    int strict;                 /* text: an entry of a signal type scrim does
                                   not know is an error (else counted) */
    double deadline;            /* scrim_now() at which adding stops with
                                   SCRIM_ETIMEOUT (then abort); 0 = none */
    /* Cluster mode (scrimd --cluster): a dry run does everything but write
     * (scrim_import_commit gives the counts and aborts), and capture, if
     * set, is called with each entry offered to scrim_import_add once it has
     * been checked (a non-zero return fails the add: SCRIM_ENOMEM). */
    int dry_run;
    int (*capture)(void *ud, const struct scrim_entry *e);
    void *capture_ud;
} scrim_import_opts;

typedef struct scrim_import_stats {
    uint64_t lines;             /* lines read (text imports) */
    uint64_t added[5];          /* by scrim_hash_type; [0] = all */
    uint64_t duplicates[5];     /* already in the list (or repeated) */
    uint64_t frames;            /* frame hashes of the added videos */
    uint64_t error_line;        /* on a parse error: its line number */
    uint64_t kept[5];           /* replace: in the list and in the input */
    uint64_t updated;           /* of those, with new id, label, quality,
                                   source, category or tags */
    uint64_t removed[5];        /* replace: in the list, not in the input;
                                   remove: removed; add: false positives the
                                   list had */
    uint64_t missing;           /* remove: not in the list */
    uint64_t negative;          /* entries marked false positives by their
                                   source (pytx NEGATIVE_CLASS, TE tag
                                   false_positive): never stored */
    uint64_t unknown;           /* entries of signal types scrim does not
                                   know (pytx url, raw_text...): skipped */
    struct {
        char name[32];
        uint64_t count;
    } unknown_types[8];         /* the first 8 such types, with counts */
    char sha256[65];            /* text: of the last input's bytes, hex */
} scrim_import_stats;

/* One frame of a video entry. */
typedef struct scrim_store_frame {
    scrim_pdq hash;
    int quality;
    double seconds;
} scrim_store_frame;

/* One entry to add.  hash: a PDQ (scrim_pdq, 32 bytes) or digest bytes
 * (16 for MD5, 32 for SHA-256); SCRIM_HASH_VIDEO: the id names it, frames
 * hold its hashes.  quality -1 = unknown. */
typedef struct scrim_entry {
    int type;
    const void *hash;
    const char *id, *label;     /* may be NULL */
    int quality;
    /* PDQ only: NULL for the media itself, else the name of an index-side
     * variant stored with it ("crop-5", "rot+4": scrim_media_add), which
     * scrim_store_export leaves out unless asked. */
    const char *variant;
    /* What a shared list's source says of it, kept with it and returned
     * with its matches (may be NULL): the collaboration or bank it comes
     * from, the opinion category (pytx: POSITIVE_CLASS, INVESTIGATION_SEED,
     * DISPUTED) and tags, space-separated. */
    const char *source, *category, *tags;
    /* Marked a false positive by its source: not stored, counted in
     * stats.negative, and removed from the list if it is there. */
    int negative;
    const scrim_store_frame *frames;   /* SCRIM_HASH_VIDEO */
    size_t nframes;
} scrim_entry;

/* Begin an import into `list` (one write transaction: nothing is visible
 * until scrim_import_commit, and scrim_import_abort or any failure leaves
 * the database exactly as it was).  Only one import (or other write) runs at
 * a time; others wait.  The handle must be used from one thread. */
int scrim_import_begin(scrim_store *s, const char *list,
                       const scrim_import_opts *opts, scrim_import **out,
                       char *err, size_t errlen);
/* Add one entry; duplicates within the list are counted, not stored. */
int scrim_import_add(scrim_import *imp, const scrim_entry *e, char *err,
                     size_t errlen);
/* Add a video entry (content id `id`, required) with its n frame hashes;
 * the frames go into the PDQ index, each pointing back to the entry.  A
 * video id already in the list is a duplicate.  The hook for vPDQ files. */
int scrim_import_add_video(scrim_import *imp, const char *id,
                           const char *label, const scrim_store_frame *frames,
                           size_t n, char *err, size_t errlen);
/* Parse text in `format` from a stream or a buffer and add its entries.
 * `name` names the input in messages ("FILE:LINE: problem"); on a parse
 * error stats->error_line is set and SCRIM_EINVAL returned (the import must
 * then be aborted).  progress, if not NULL, is called now and then with the
 * bytes read so far. */
int scrim_import_stream(scrim_import *imp, FILE *f, const char *name,
                        int format,
                        void (*progress)(void *ud, uint64_t bytes),
                        void *ud, char *err, size_t errlen);
int scrim_import_buffer(scrim_import *imp, const void *buf, size_t len,
                        const char *name, int format, char *err,
                        size_t errlen);
/* Statistics so far (valid until commit/abort). */
const scrim_import_stats *scrim_import_get_stats(const scrim_import *imp);
/* Commit (audited) and free the handle; *stats (may be NULL) gets the final
 * counts.  On failure nothing was written and the handle is freed too. */
int scrim_import_commit(scrim_import *imp, scrim_import_stats *stats,
                        char *err, size_t errlen);
void scrim_import_abort(scrim_import *imp);

/* One-shot import of a buffer (the daemon's POST /v1/lists/NAME/import):
 * begin + buffer + commit, or nothing at all on any error. */
int scrim_store_import_buffer(scrim_store *s, const char *list,
                              const scrim_import_opts *opts, int format,
                              const void *buf, size_t len,
                              scrim_import_stats *stats, char *err,
                              size_t errlen);

/* ---- export --------------------------------------------------------------- */

/* Write a list's entries in `format` (HEX: PDQs only; PYTX: pdq/md5/sha256
 * lines; CSV: type,hash,id,label,quality).  Video entries are written by
 * the video hook if set (scrim_store_set_video_export), else skipped and
 * counted in *skipped.  Index-side variants (scrim_entry.variant) are left
 * out, so a shared list carries only the media's own hashes, unless format
 * is SCRIM_FORMAT_CSV | SCRIM_EXPORT_VARIANTS (a "variant" column is added;
 * scrim import reads it back).  Runs in one read transaction (a consistent
 * copy). */
#define SCRIM_EXPORT_VARIANTS 0x100
int scrim_store_export(scrim_store *s, const char *list, int format, FILE *out,
                       uint64_t *written, uint64_t *skipped, char *err,
                       size_t errlen);
/* The video module's writer for video entries (vPDQ lines); NULL clears. */
typedef int (*scrim_video_export_fn)(FILE *out, const char *id,
                                     const char *label,
                                     const scrim_store_frame *frames,
                                     size_t n);
void scrim_store_set_video_export(scrim_video_export_fn fn);

/* A video entry's frames (malloc'd array, caller frees) and, if label is not
 * NULL, its label (malloc'd, NULL if none; caller frees). */
int scrim_store_video_frames(scrim_store *s, const char *list, const char *id,
                             scrim_store_frame **frames, size_t *n,
                             char **label, char *err, size_t errlen);

/* ---- lookup --------------------------------------------------------------- */

enum scrim_lookup_method {
    SCRIM_LOOKUP_AUTO = 0,  /* the index, or a scan for radius >= 48 */
    SCRIM_LOOKUP_INDEX,     /* always the index (slow but exact for big r) */
    SCRIM_LOOKUP_SCAN,      /* always a scan of every hash (for checking) */
};

typedef struct scrim_lookup_opts {
    int radius;                   /* -1: each list's own radius; else 0..64 */
    const char *const *lists;     /* only these lists (NULL: all) */
    size_t nlists;
    int method;                   /* enum scrim_lookup_method */
    int include_disabled;         /* also disabled lists and quarantined
                                     entries (admin tools) */
    int threads;                  /* a batch of many PDQs may use this many
                                     threads (0, 1: only the caller's; 2
                                     and more: one helper thread) */
} scrim_lookup_opts;
#define SCRIM_LOOKUP_OPTS_DEFAULT { -1, NULL, 0, SCRIM_LOOKUP_AUTO, 0, 0 }

/* One hit. */
typedef struct scrim_match {
    size_t query;            /* index of the query hash it answers */
    const char *list;        /* list name */
    int kind;                /* the list's kind: block / allow */
    int type;                /* entry type: PDQ (image), MD5, SHA256, VIDEO */
    int distance;            /* Hamming distance (0 for digests) */
    char hash[65];           /* hex of the matched hash (a frame's for video) */
    const char *id, *label;  /* NULL when absent (video: id = content id) */
    const char *variant;     /* the stored index-side variant, or NULL */
    const char *source, *category, *tags;   /* see scrim_entry, or NULL */
    int quality;             /* -1 unknown */
    uint32_t ref;            /* the index record (unique per list+hash/frame) */
    uint32_t entry;          /* video: the entry's first frame's ref */
    uint32_t frame;          /* video: frame number within the entry */
    uint32_t frames;         /* video: frames in the entry */
    double seconds;          /* video: the frame's timestamp */
    int quarantined;         /* the entry is quarantined (only reported
                                with include_disabled) */
} scrim_match;

/* Results, grouped by query, nearest first within a query (then by list
 * name, then hash). */
typedef struct scrim_matches {
    scrim_match *v;
    size_t n, cap;
    void *pool;              /* strings; internal */
} scrim_matches;
void scrim_matches_free(scrim_matches *m);   /* leaves it empty, reusable */

/* PDQ lookup of nq query hashes in one read transaction (e.g. the 8
 * dihedral variants, or the frames of a video).  Results are appended to
 * *out (zero it before the first use).  Only enabled lists (unless
 * include_disabled) within each list's radius (or opts->radius). */
int scrim_store_lookup_pdq(scrim_store *s, const scrim_pdq *q, size_t nq,
                           const scrim_lookup_opts *opts, scrim_matches *out,
                           char *err, size_t errlen);
/* Exact lookup of an MD5 or SHA-256 (hex) in the enabled lists. */
int scrim_store_lookup_digest(scrim_store *s, int type, const char *hex,
                              const scrim_lookup_opts *opts,
                              scrim_matches *out, char *err, size_t errlen);

/* ---- cluster position -------------------------------------------------------- */

/* scrimd --cluster keeps the store in step with a change log in PostgreSQL
 * (src/server/cluster.c).  scrim_store_applying(id) makes the calling
 * thread's next write transactions (imports, list changes, drops, removals)
 * record change `id` as applied, in the same transaction, until it is
 * called again (0: record nothing).  scrim_store_applied() reads the last
 * recorded id (0 if none); scrim_store_set_applied() records one alone (a
 * change that cannot apply here, skipped). */
void scrim_store_applying(uint64_t change);
int scrim_store_applied(scrim_store *s, uint64_t *out, char *err,
                        size_t errlen);
int scrim_store_set_applied(scrim_store *s, uint64_t change, char *err,
                            size_t errlen);
/* Whether the store is (or was copied from) a cluster node's: scrimd
 * --cluster records its position from start-up on, 0 included.  bin/scrim
 * refuses to write such a store but through the cluster. */
int scrim_store_cluster_node(scrim_store *s, int *node, uint64_t *applied,
                             char *err, size_t errlen);

/* ---- audit ---------------------------------------------------------------- */

typedef struct scrim_audit_rec {
    uint64_t seq;
    int64_t time;            /* unix seconds */
    char action[24];         /* create, set, import, drop, remove */
    char list[SCRIM_LIST_NAME_MAX + 1];
    uint64_t count;          /* entries concerned */
    char detail[256];        /* e.g. the import's source and counts */
} scrim_audit_rec;

/* The last `limit` audit records (0 = all), oldest first; caller frees. */
int scrim_store_audit(scrim_store *s, size_t limit, scrim_audit_rec **out,
                      size_t *n, char *err, size_t errlen);

/* ---- suppression lists --------------------------------------------------------
 * The allow list NAME.suppressed holds uploads reviewers rejected as matches
 * of block list NAME (scrim_review_decide_loop adds them).  The matcher
 * (match.c) reports a hit of NAME under "allowed", with "suppressed_by",
 * when the same upload also hits NAME.suppressed; other allow lists do not
 * suppress anything.  A lookup limited to NAME also looks in
 * NAME.suppressed. */
#define SCRIM_SUPPRESS_SUFFIX ".suppressed"
#define SCRIM_SUPPRESS_RADIUS 16   /* such a list's radius when created */

/* ---- quarantine ------------------------------------------------------------- */

/* An entry set aside: reviewers rejected its matches too often (the review
 * module decides when; scrim_review_decide_loop).  A quarantined entry
 * stays in its list but no lookup reports it (unless include_disabled),
 * until an admin restores it or removes it.  The flag lives in the entry's
 * own records (each PDQ, digest and video frame record), so lookups test
 * it on records they decode anyway: no extra read.
 *
 * An entry is named as its matches name it: `type` SCRIM_HASH_PDQ, MD5 or
 * SHA256 with `key` its hash in hex, or SCRIM_HASH_VIDEO with `key` the
 * video's content id.  A PDQ entry is every record of the list with that
 * hash, with the index-side variants stored beside it under the same id
 * (scrim_media_add).  Every change is audited (action "quarantine",
 * "restore" or "unquarantine-remove", detail naming the entry, who and
 * why). */

/* Set (on != 0) or clear the flag.  *changed (may be NULL) is 0 when the
 * entry was already so (nothing written, nothing audited).
 * SCRIM_ENOTFOUND if the list has no such entry. */
int scrim_store_quarantine(scrim_store *s, const char *list, int type,
                           const char *key, int on, const char *who,
                           const char *why, int *changed, char *err,
                           size_t errlen);
/* Remove a quarantined entry from its list (all its records, as
 * scrim_store_remove does; audited).  SCRIM_ENOTFOUND if it is not
 * quarantined. */
int scrim_store_quarantine_remove(scrim_store *s, const char *list, int type,
                                  const char *key, const char *who,
                                  char *err, size_t errlen);
/* The quarantined entries: [{"list","type","hash" (or "id" for a video),
 * "time","by","why"}], by list then entry. */
int scrim_store_quarantined(scrim_store *s, json_t **out, char *err,
                            size_t errlen);

/* ---- JSON shapes shared by the CLI and the daemon -------------------------- */

/* {"name","kind","enabled","radius","count","description","counts":{...},
 *  "created","modified"} */
json_t *scrim_list_json(const scrim_list_info *l);
/* An import's counts, as scrim import --json and POST /v1/lists/NAME/import
 * answer them: {"list","mode","lines","added","duplicates","kept",
 * "updated","removed","missing","false_positives","unknown":{TYPE: N},
 * "sha256","added_by_type","duplicates_by_type"} (kept... only for the
 * modes that have them). */
json_t *scrim_import_stats_json(const char *list, int mode,
                                const scrim_import_stats *st);
/* {"seq","time","action","list","count","detail"} */
json_t *scrim_audit_json(const scrim_audit_rec *a);
/* {"list","hash","distance","id","label"} (+ "type","quality", and when the
 * list's source gave them "source","category","tags" (an array); video
 * frames: "frame"... see scrim_match) */
json_t *scrim_match_json(const scrim_match *m);
/* {"query": query_hex, "matches": [...], "allowed": [...]} for the results
 * of query number `query` in m. */
json_t *scrim_matches_json(const scrim_matches *m, size_t query,
                           const char *query_hex);

#ifdef __cplusplus
}
#endif

#endif
