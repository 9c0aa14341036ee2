/* cli.h - the subcommands of bin/scrim, one file each (cmd_*.c), and what
 * they share (cli.c). */
#ifndef SCRIM_CLI_H
#define SCRIM_CLI_H

#include <stdio.h>

#include "scrim.h"
#include "scrim/cluster.h"

/* Each returns the process exit status: 0 ok, 1 some input failed,
 * 2 usage error. argv[0] is the subcommand's name. */
int cmd_hash(int argc, char **argv);
/* cmd_store.c: the hash-list commands */
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_lists(int argc, char **argv);
int cmd_list_set(int argc, char **argv);
int cmd_drop(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_preview(int argc, char **argv);
int cmd_preview_level(int argc, char **argv);   /* cmd_review.c */
int cmd_reviewer(int argc, char **argv);        /* cmd_reviewer.c */
int cmd_content_warning(int argc, char **argv); /* cmd_reviewer.c */
int cmd_review(int argc, char **argv);          /* cmd_review.c */
/* cmd_video.c: video comparison and matching */
int cmd_compare(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_add(int argc, char **argv);   /* cmd_add.c */
int cmd_snapshot(int argc, char **argv);   /* cmd_snapshot.c */
int cmd_cluster(int argc, char **argv);    /* cmd_cluster.c */
/* `scrim import/export --format vpdq` (called from cmd_store.c when
 * cli_format_is_vpdq() says the arguments ask for that format). */
int cli_format_is_vpdq(int argc, char **argv);
int cmd_import_vpdq(int argc, char **argv);
int cmd_export_vpdq(int argc, char **argv);
/* A video file (hashed with vopts) or a vPDQ hash file, by content. */
int cli_load_vpdq(const char *path, const scrim_video_opts *vopts,
                  scrim_vpdq *out, char *err, size_t errlen);

/* ---- cli.c: what the commands share ------------------------------------- */

/* The long options of the commands that take no short ones (the store
 * commands, preview-level, import/export --format vpdq), as cli_getopt()
 * returns them; and one more answer of cli_getopt(). */
enum { OPT_DB = 1000, OPT_LIST, OPT_FORMAT, OPT_CREATE, OPT_DESC, OPT_RADIUS,
       OPT_KIND, OPT_ENABLE, OPT_DISABLE, OPT_JSON, OPT_SCAN, OPT_LIMIT,
       OPT_MAPSIZE, OPT_QUIET, OPT_BATCH, OPT_ID, OPT_LABEL, OPT_SECONDS,
       OPT_VARIANTS, OPT_REPLACE, OPT_STRICT, OPT_FROM, OPT_WITH_REVIEWS,
       OPT_CLUSTER, OPT_FORCE, OPT_UPTO, OPT_FULL, OPT_DRY_RUN, OPT_HELP,
       OPT_BAD };   /* a bad option value, reported */

/* The values of the options cli_getopt() takes care of. */
typedef struct cli_args {
    const char *db;           /* --db DIR */
    const char *list;         /* --list NAME (the last one) */
    const char **lists;       /* not NULL: every --list NAME goes there too */
    size_t nlists;            /* (room for argc of them) */
    const char *id, *label;   /* --id, --label */
    int create, json, quiet;  /* --create, --json, --quiet */
    const char *cluster;      /* --cluster URL */
    int force;                /* --force */
    scrim_list_params params; /* --radius, --kind, --description */
} cli_args;
#define CLI_ARGS_INIT \
    { .db = SCRIM_STORE_DEFAULT_DIR, .params = SCRIM_LIST_PARAMS_KEEP }

/* getopt_long() over the long options listed in take (0 at the end) and
 * --help.  The options of cli_args go there (--radius, --kind and
 * --description checked); the others are returned, as are OPT_HELP, '?'
 * (an unknown option, reported by getopt_long) and OPT_BAD; -1 at the end. */
int cli_getopt(int argc, char **argv, const int *take, cli_args *a);

/* The exit status for what, the usage (printf FMT) printed as it says:
 * OPT_HELP: on stdout, 0; OPT_BAD: not printed (the value was reported), 2;
 * anything else (0: a usage error found by the command) on stderr, 2. */
int cli_usage(int what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "scrim: WHAT: ERR" on stderr, after what stdout holds so far; returns
 * exit status 1.  WHAT names the command or the file. */
int cli_fail(const char *what, const char *err);

/* Option values; on error each prints "scrim: OPTION: expected ..., got
 * 'VAL'" and returns -1. */
/* An integer within [lo, hi] (the value, or -1). */
long long cli_parse_int(const char *opt, const char *val, long long lo,
                        long long hi);
/* A number within [lo, hi] into *out. */
int cli_parse_number(const char *opt, const char *val, double lo, double hi,
                     double *out);
/* A percentage (0..100) into *out. */
int cli_parse_percent(const char *opt, const char *val, double *out);
/* Seconds (0..3600) into *out. */
int cli_parse_seconds(const char *opt, const char *val, double *out);
/* The list settings import and list-set take (option code OPT_RADIUS,
 * OPT_KIND or OPT_DESC) into *p. */
int cli_list_param(int opt, const char *val, scrim_list_params *p);

/* Opens the database DB (creating it with create; map_size 0: the default);
 * on error prints "scrim: ERR" and returns the error code. */
int cli_open_store(const char *db, int create, uint64_t map_size,
                   scrim_store **s);

/* After the options (c: what cli_getopt() returned last) and a check of
 * the operands (ok): the database a->db opened (created with --create),
 * -1 with *s; else the exit status, with the usage (printf FMT "%s") or the
 * error printed as cli_usage() and cli_open_store() do. */
int cli_begin(int c, int ok, const char *usage, const cli_args *a,
              scrim_store **s);

/* ---- cli.c: list writes, to the database or through a cluster ------------ */

/* Where a command's list writes go: the database alone, or (w set) the
 * cluster's change log, through a node's database that its scrimd keeps in
 * step (scrim/cluster.h).  After the write, change is the log's id of it and
 * applied whether the node had applied it when the command ended. */
typedef struct cli_target {
    const char *cmd;
    scrim_store *s;
    scrim_cluster_writer *w;
    int through;              /* w was opened (stays set after close) */
    uint64_t change;
    int applied;
} cli_target;

/* Opens a->db for CMD's list writes (created if missing with create, but
 * for the cluster): through the cluster with --cluster URL, or on a node's
 * database (scrim_store_cluster_node) with SCRIM_CLUSTER set; a node's
 * database is refused otherwise ("scrim: CMD: ...", status 1) unless
 * --force.  0, or the exit status (the error printed). */
int cli_write_open(const char *cmd, const cli_args *a, int create,
                   uint64_t map_size, cli_target *t);
void cli_write_close(cli_target *t);
/* Through the cluster: the lock, the node in step (io, if given, set up
 * for the dry run); the database alone: nothing.  0, or 1 printed. */
int cli_write_begin(cli_target *t, scrim_import_opts *io);
/* Through the cluster: the change appended (params consumed); else
 * params dropped.  0, or 1 printed. */
int cli_write_commit(cli_target *t, const char *list, const char *op,
                     json_t *params);
/* After a write through the cluster: its change id in o (JSON output), or
 * as a line "LIST: cluster change N, applied on this node".  o is
 * returned. */
json_t *cli_write_note(const cli_target *t, const char *list, json_t *o);

/* An import into LIST of a->db (created if missing) or through the cluster
 * (cli_write_open), as io says: 0, 1 after "scrim: import: ERR", or 2 when
 * LIST is not a valid name. */
int cli_import_begin(const cli_args *a, uint64_t map_size, const char *list,
                     scrim_import_opts *io, cli_target *t, scrim_import **imp);
/* Ends it: aborted after an error rc (err says which), else committed (its
 * counts in *st), through the cluster as a change of LIST; the database
 * closed.  0, or 1 after "scrim: import: ERR" and "nothing was imported". */
int cli_import_end(cli_target *t, scrim_import *imp, int rc, char *err,
                   size_t errlen, scrim_import_stats *st, const char *list,
                   const scrim_import_opts *io);

/* After a command wrote its output to stdout: rc, or a write error on
 * stdout, printed as "scrim: CMD: ERR" (status 1); else 0. */
int cli_stdout_done(const char *cmd, int rc, char *err, size_t errlen);

/* One JSON object on a line of f (json_dumps flags), then released;
 * 0, or -1 when there was no memory for its text. */
int cli_print_json(FILE *f, json_t *o, size_t flags);

/* A file ('-' = stdin) whole, up to SCRIM_MAX_INPUT_BYTES. */
int cli_read_file(const char *path, uint8_t **data, size_t *len, char *err,
                  size_t errlen);

#endif
