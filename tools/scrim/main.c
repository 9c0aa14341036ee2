/* main.c - bin/scrim: dispatches to the subcommands. */
#include "cli.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"hash", cmd_hash, "hash images: HASH,QUALITY,FILE lines (or JSON)"},
    {"add", cmd_add, "hash removed media into a list, with index-side variants"},
    {"import", cmd_import, "add hashes to a list (hex, pytx, csv, md5, sha256)"},
    {"export", cmd_export, "write a list's hashes (hex, pytx, csv)"},
    {"lookup", cmd_lookup, "look hashes up in the lists (JSON per query)"},
    {"lists", cmd_lists, "show the lists and their counts"},
    {"list-set", cmd_list_set, "enable/disable a list, set its radius or kind"},
    {"drop", cmd_drop, "delete a list and its entries"},
    {"remove", cmd_remove, "remove hashes from a list"},
    {"audit", cmd_audit, "show the record of changes to the lists"},
    {"snapshot", cmd_snapshot, "copy a database, even while it serves, for a new node"},
    {"cluster", cmd_cluster, "a cluster's change log in PostgreSQL: compact, status"},
    {"preview", cmd_preview, "blurred greyscale preview of an image (JPEG)"},
    {"preview-level", cmd_preview_level, "show or set the per-list preview (blur) level"},
    {"reviewer", cmd_reviewer, "reviewer accounts: add (prints a token), list, disable, remove"},
    {"content-warning", cmd_content_warning, "show or set a list's content warning for reviewers"},
    {"review", cmd_review, "the review queue, decisions, entry stats, quarantine"},
    {"compare", cmd_compare, "compare two videos by vPDQ (query/compared match %)"},
    {"match", cmd_match, "match images and videos against the lists (JSON per file)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: scrim COMMAND [OPTIONS] ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'scrim COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("scrim %s\n", SCRIM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            /* A batch of images: keep the large, short-lived decode buffers
             * on the heap instead of an mmap, munmap and page faults each.
             * (The daemon sets its own policy.) */
            mallopt(M_MMAP_THRESHOLD, 256 << 20);
            mallopt(M_TRIM_THRESHOLD, 512 << 20);
            /* libvips starts when first needed: most JPEGs never do */
            if (scrim_init_lazy(argv[0])) {
                fprintf(stderr, "scrim: cannot initialise libvips\n");
                return 1;
            }
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "scrim: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
