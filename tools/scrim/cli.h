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

/* Parse a non-negative integer option value within [lo, hi]; on error print
 * "scrim: OPTION: ..." and return -1. */
long long cli_parse_int(const char *opt, const char *val, long long lo,
                        long long hi);

#endif
