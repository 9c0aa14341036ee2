/* cmd_snapshot.c - scrim snapshot: a consistent compacted copy of a
 * database, made while scrimd serves it, for a new node to start from
 * (scrim_store_snapshot). */
#include "cli.h"
#include "scrim/review.h"

#include <getopt.h>
#include <stdio.h>

int cmd_snapshot(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_WITH_REVIEWS, OPT_JSON, 0};
    static const char *const queue[] = SCRIM_REVIEW_QUEUE_DBS;
    cli_args a = CLI_ARGS_INIT;
    int with_reviews = 0, c;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_WITH_REVIEWS)
        with_reviews = 1;
    if (c != -1 || optind != argc - 1)
        return cli_usage(c,
            "usage: scrim snapshot [--db DIR] [--with-reviews] [--json] OUT\n"
            "\n"
            "Copies the database into the new directory OUT: every list, the index and\n"
            "the audit log as of one moment, compacted, while scrimd goes on serving\n"
            "it. scrimd started on OUT (a new node) is ready without an import. OUT is\n"
            "written as OUT.partial-PID and renamed when complete.\n"
            "  --db DIR          the database (default %s)\n"
            "  --with-reviews    copy the review queue too (records and previews; by\n"
            "                    default only the per-list preview levels are copied,\n"
            "                    so that two nodes never show the same records)\n"
            "  --json            the result as JSON\n",
            SCRIM_STORE_DEFAULT_DIR);
    const char *out = argv[optind];
    scrim_store *s;
    char err[1024];
    scrim_store_opts so = {.readonly = 1};
    if (scrim_store_open(a.db, &so, &s, err, sizeof err))
        return cli_fail("snapshot", err);
    scrim_store_snapshot_stats st;
    int rc = scrim_store_snapshot(s, out, with_reviews ? NULL : queue, &st, err,
                                  sizeof err);
    scrim_store_close(s);
    if (rc)
        return cli_fail("snapshot", err);
    if (a.json)
        cli_print_json(stdout,
                       json_pack("{s:s, s:I, s:I, s:b, s:f}", "snapshot", out,
                                 "data_bytes", (json_int_t)st.data_bytes,
                                 "side_bytes", (json_int_t)st.side_bytes,
                                 "reviews", with_reviews, "seconds", st.seconds),
                       JSON_COMPACT);
    else
        printf("%s: data.mdb %.1f MB, side.mdb %.1f MB%s, %.1f s\n", out,
               st.data_bytes / 1e6, st.side_bytes / 1e6,
               with_reviews ? " (with the review queue)" : "", st.seconds);
    return 0;
}
