/* cli.h - the subcommands of bin/scrim, one file each (cmd_*.c). */
#ifndef SCRIM_CLI_H
#define SCRIM_CLI_H

#include "scrim.h"

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
/* cmd_video.c: video comparison and matching */
int cmd_compare(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_add(int argc, char **argv);   /* cmd_add.c */
/* `scrim import/export --format vpdq` (called from cmd_store.c when
 * cli_format_is_vpdq() says the arguments ask for that format). */
int cli_format_is_vpdq(int argc, char **argv);
int cmd_import_vpdq(int argc, char **argv);
int cmd_export_vpdq(int argc, char **argv);
/* Parse seconds (0..3600) into *out; on error print and return -1. */
int cli_parse_seconds(const char *opt, const char *val, double *out);
/* A video file (hashed with vopts) or a vPDQ hash file, by content. */
int cli_load_vpdq(const char *path, const scrim_video_opts *vopts,
                  scrim_vpdq *out, char *err, size_t errlen);

/* Parse a non-negative integer option value within [lo, hi]; on error print
 * "scrim: OPTION: ..." and return -1. */
long long cli_parse_int(const char *opt, const char *val, long long lo,
                        long long hi);

#endif
