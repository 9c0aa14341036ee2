/* scrim/cluster.h - a cluster's change log (scrimd --cluster) from outside
 * scrimd: bin/scrim's list writes go through it as scrimd's admin API's do,
 * and the log is compacted.  libpq is loaded on first use (nothing links
 * it).  Reasons: doc/design.md, "Compacting the change log". */
#ifndef SCRIM_CLUSTER_H
#define SCRIM_CLUSTER_H

#include "scrim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writing through the log --------------------------------------------- */

/* A writer on `store`, the database of a node of the cluster at conninfo
 * (a libpq connection string) that a scrimd --cluster keeps in step: the
 * same steps as scrimd's admin writes (src/server/cluster.c).  SCRIM_EFORMAT
 * if libpq cannot be loaded. */
typedef struct scrim_cluster_writer scrim_cluster_writer;
int scrim_cluster_writer_open(const char *conninfo, scrim_store *store,
                              scrim_cluster_writer **out, char *err,
                              size_t errlen);
void scrim_cluster_writer_close(scrim_cluster_writer *w);

/* One change.  begin takes the cluster's write lock and waits (30 s at
 * most) until the node's database has applied every change of the log;
 * with io, sets it up for the dry run that follows (dry_run, capture: the
 * entries offered become the change's payload).  commit appends the
 * change (op: "add", "replace", "remove", "drop" or "metadata"; params
 * consumed) and waits (30 s at most) until the node has applied it:
 * *applied says whether it did.  abort gives up.  Errors: SCRIM_EBUSY
 * (PostgreSQL unreachable, or the node behind), SCRIM_ETOOBIG, SCRIM_ENOMEM,
 * with err saying which. */
int scrim_cluster_begin(scrim_cluster_writer *w, scrim_import_opts *io,
                        char *err, size_t errlen);
int scrim_cluster_commit(scrim_cluster_writer *w, const char *list,
                         const char *op, json_t *params, uint64_t *change,
                         int *applied, char *err, size_t errlen);
void scrim_cluster_abort(scrim_cluster_writer *w);

/* What a change's params hold: an import's (mode's op: "add", "replace",
 * "remove"; create, source, the list settings given), and a list's
 * settings ("metadata": create, kind, enabled, radius, description). */
const char *scrim_cluster_import_op(int mode);
json_t *scrim_cluster_import_params(const scrim_import_opts *io);
json_t *scrim_cluster_metadata_params(int create, const scrim_list_params *p);

/* ---- compaction ------------------------------------------------------------ */

typedef struct scrim_cluster_compact_opts {
    uint64_t upto;      /* the horizon: changes after it are left alone;
                           0 = the log's last change */
    int full;           /* VACUUM FULL afterwards (gives the space back to
                           the file system; locks the table meanwhile) */
    int dry_run;        /* count, change nothing */
} scrim_cluster_compact_opts;

typedef struct scrim_cluster_compact_stats {
    uint64_t horizon;                   /* the last change considered */
    uint64_t rows_before, rows_after;   /* changes in the log */
    uint64_t payload_before, payload_after; /* bytes of their entries */
    uint64_t table_before, table_after; /* pg_total_relation_size */
    uint64_t deleted;       /* changes removed: superseded */
    uint64_t emptied;       /* changes whose entries were removed, kept for
                               what else they do (create, list settings) */
    uint64_t lists;         /* lists that had changes removed or emptied */
    double seconds;
} scrim_cluster_compact_stats;

/* Removes from the log, in one transaction under the cluster's write lock,
 * what a later change of the same list makes moot, so that replaying the
 * log from any position (a new node: 0) ends with every list as it is:
 *  - before a list's last drop: every change of that list (the drop stays);
 *  - before its last replace (after that drop): the imports' entries (an
 *    import that also creates the list or sets its settings stays, empty);
 *  - a change of a kind this code does not know, and everything of its list
 *    before it, is left as it is (so is its list's everything, for a
 *    change whose list is "").
 * No node, however far behind, needs anything removed.  Then VACUUM. */
int scrim_cluster_compact(const char *conninfo,
                          const scrim_cluster_compact_opts *opts,
                          scrim_cluster_compact_stats *st, char *err,
                          size_t errlen);

/* The log at a glance: {"head", "changes", "payload_bytes", "table_bytes",
 * "lists": {NAME: changes}, "compactions": [the last 5]}; NULL with err. */
json_t *scrim_cluster_log_status(const char *conninfo, char *err,
                                 size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
