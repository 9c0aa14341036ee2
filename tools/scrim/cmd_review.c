/* cmd_review.c - `scrim preview-level`: read and set the per-list preview
 * level in the database directly (what GET/PUT /v1/review/lists does). */
#include "cli.h"
#include "scrim/review.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opening the review databases purges records older than the retention it
 * is given, and scrimd may keep them up to a year (--review-retention).
 * Changing a level must never delete a record, so the CLI opens with a
 * retention far beyond anything scrimd accepts: nothing is purged here. */
#define CLI_REVIEW_KEEP ((int64_t)100 * 366 * 24 * 3600)

static const char usage_text[] =
    "usage: scrim preview-level [--db DIR] [--json]\n"
    "       scrim preview-level [--db DIR] NAME LEVEL\n"
    "\n"
    "Shows or sets how strongly the previews of a list's matches are blurred\n"
    "(what GET and PUT /v1/review/lists do in scrimd; a running scrimd uses a\n"
    "new level from its next match).\n"
    "Without NAME: one line 'NAME LEVEL' per list in the database and per list\n"
    "with a level of its own; 'default' means the standard level.\n"
    "  --json   the levels set, as GET /v1/review/lists answers them\n"
    "LEVEL: light (40 blocks), standard (24), strong (12), none (no preview is\n"
    "       made), a number of blocks, detail=N,size=N,blur=X,quality=N, or\n"
    "       default (removes the list's own level).  NAME must be a list of\n"
    "       the database, or one with a level of its own.\n";

/* "scrim: preview-level: ERR" on stderr; returns exit status 1. */
static int fail(const char *err)
{
    return cli_fail("preview-level", err);
}

/* Prints 'NAME LEVEL' for every list of the store and every list with a
 * level of its own, merged in name order (both inputs are sorted). */
static int print_levels(const scrim_list_info *l, size_t n, json_t *levels)
{
    const char **names = malloc((json_object_size(levels) + 1) * sizeof *names);
    size_t m = 0, i = 0, j = 0;
    const char *key;
    json_t *v;
    if (!names)
        return -1;
    json_object_foreach(levels, key, v)
        names[m++] = key;
    /* jansson's iteration order is not the key order: sort. */
    for (size_t a = 1; a < m; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            const char *t = names[b];
            names[b] = names[b - 1];
            names[b - 1] = t;
        }
    while (i < n || j < m) {
        int c = i == n ? 1 : j == m ? -1 : strcmp(l[i].name, names[j]);
        const char *name = c <= 0 ? l[i].name : names[j];
        const char *lv = c >= 0 ? json_string_value(json_object_get(levels, names[j]))
                                : "default";
        printf("%s %s\n", name, lv ? lv : "default");
        i += c <= 0;
        j += c >= 0;
    }
    free(names);
    return 0;
}

int cmd_preview_level(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_JSON, 0};
    cli_args a = CLI_ARGS_INIT;
    int status = 1;
    char err[512];
    scrim_store *s = NULL;
    MDB_env *env = NULL;
    scrim_review *rv = NULL;
    scrim_list_info *lists = NULL;
    json_t *levels = NULL;
    size_t n = 0;

    int c = cli_getopt(argc, argv, take, &a);
    int set = argc - optind == 2;
    if (c != -1 || (!set && optind != argc))
        return cli_usage(c, "%s", usage_text);
    const char *db = a.db;
    int as_json = a.json;
    if (set && as_json) {
        fprintf(stderr, "scrim: preview-level: --json is for showing the levels, "
                        "not for setting one\n");
        return 2;
    }

    scrim_store_opts so = {0};
    scrim_review_opts ro = {.retention = CLI_REVIEW_KEEP};
    if (scrim_store_open(db, &so, &s, err, sizeof err) ||
        scrim_store_side_env(s, &env, err, sizeof err) ||
        scrim_review_open(env, &ro, &rv, err, sizeof err) ||
        scrim_review_list_levels(rv, &levels, err, sizeof err)) {
        fail(err);
        goto done;
    }

    if (set) {
        const char *name = argv[optind], *level = argv[optind + 1];
        scrim_list_info info;
        /* The library accepts any valid name (a level may be set before the
         * list is imported); here a typo must not pass silently, so the
         * list must exist, or already have a level (which may be changed
         * or removed after its list was dropped). */
        int rc = scrim_store_list_get(s, name, &info, err, sizeof err);
        if (rc == SCRIM_ENOTFOUND && !json_object_get(levels, name)) {
            fprintf(stderr, "scrim: preview-level: no list named '%s' in %s "
                            "('scrim lists' shows them)\n", name, db);
            goto done;
        }
        if (rc && rc != SCRIM_ENOTFOUND) {
            fail(err);
            goto done;
        }
        /* The same call as PUT /v1/review/lists/NAME: it validates the
         * level and stores its canonical text in one transaction. */
        json_decref(levels);
        levels = NULL;
        if (scrim_review_list_level_set(rv, name, level, err, sizeof err) ||
            scrim_review_list_levels(rv, &levels, err, sizeof err)) {
            fail(err);
            goto done;
        }
        const char *now = json_string_value(json_object_get(levels, name));
        printf("%s %s\n", name, now ? now : "default");
        status = 0;
        goto done;
    }

    if (as_json) {
        /* As scrimd writes its answers. */
        int r = cli_print_json(stdout, levels, JSON_COMPACT | JSON_PRESERVE_ORDER);
        levels = NULL;
        if (r) {
            fail("out of memory");
            goto done;
        }
        status = 0;
        goto done;
    }
    if (scrim_store_lists(s, &lists, &n, err, sizeof err)) {
        fail(err);
        goto done;
    }
    if (print_levels(lists, n, levels)) {
        fail("out of memory");
        goto done;
    }
    status = 0;
done:
    free(lists);
    json_decref(levels);
    if (rv)
        scrim_review_close(rv);
    if (s)
        scrim_store_close(s);
    return status;
}
