/* cmd_cluster.c - scrim cluster compact|status: the change log of a cluster
 * of scrimd --cluster nodes, in its PostgreSQL (scrim/cluster.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cluster_usage(int what)
{
    return cli_usage(what,
        "usage: scrim cluster compact [--cluster URL] [--upto ID] [--full] [--dry-run]\n"
        "                             [--json]\n"
        "       scrim cluster status [--cluster URL] [--json]\n"
        "\n"
        "compact: removes from the cluster's change log what later changes of the\n"
        "same list make moot, so that a new node replays less and the table stops\n"
        "growing with every import: every change of a list before its last drop\n"
        "(the drop stays), and the entries of its imports before its last replace\n"
        "(an import that also creates the list or sets its settings stays, empty).\n"
        "Changes of kinds this scrim does not know are kept, with what precedes\n"
        "them.  Every node, however far behind, ends with the same lists as if\n"
        "nothing had been removed.  One transaction under the cluster's write lock\n"
        "(admin writes wait), then VACUUM.\n"
        "status: the log's last change, its size and changes per list, and the\n"
        "last compactions.\n"
        "  --cluster URL   the cluster's PostgreSQL (libpq URL; default $SCRIM_CLUSTER)\n"
        "  --upto ID       leave the changes after ID as they are (default: none)\n"
        "  --full          VACUUM FULL: give the space back to the file system (the\n"
        "                  table is locked while it is rewritten: nodes wait)\n"
        "  --dry-run       count what would go, change nothing\n"
        "  --json          the result as JSON\n");
}

int cmd_cluster(int argc, char **argv)
{
    static const int take[] = {OPT_CLUSTER, OPT_UPTO, OPT_FULL, OPT_DRY_RUN,
                               OPT_JSON, 0};
    if (argc < 2 || (strcmp(argv[1], "compact") && strcmp(argv[1], "status")))
        return cluster_usage(argc >= 2 && (!strcmp(argv[1], "--help") ||
                                           !strcmp(argv[1], "-h"))
                                 ? OPT_HELP : 0);
    const char *what = argv[1];
    cli_args a = CLI_ARGS_INIT;
    scrim_cluster_compact_opts o = {0};
    int c;
    long long v;
    while ((c = cli_getopt(argc - 1, argv + 1, take, &a)) != -1) {
        switch (c) {
        case OPT_UPTO:
            if ((v = cli_parse_int("--upto", optarg, 1, INT64_MAX)) < 0)
                return 2;
            o.upto = (uint64_t)v;
            break;
        case OPT_FULL: o.full = 1; break;
        case OPT_DRY_RUN: o.dry_run = 1; break;
        default: return cluster_usage(c);
        }
    }
    if (optind != argc - 1)
        return cluster_usage(0);
    const char *url = a.cluster ? a.cluster : getenv("SCRIM_CLUSTER");
    if (!url || !*url) {
        fprintf(stderr, "scrim: cluster: --cluster URL (or SCRIM_CLUSTER) names "
                        "the cluster's PostgreSQL\n");
        return 2;
    }
    char err[1024];
    if (!strcmp(what, "status")) {
        if (o.upto || o.full || o.dry_run)
            return cluster_usage(0);
        json_t *s = scrim_cluster_log_status(url, err, sizeof err);
        if (!s)
            return cli_fail("cluster status", err);
        if (a.json)
            return cli_print_json(stdout, s, JSON_COMPACT) ? 1 : 0;
        printf("head %lld, %lld changes, entries %.1f MB, table %.1f MB\n",
               (long long)json_integer_value(json_object_get(s, "head")),
               (long long)json_integer_value(json_object_get(s, "changes")),
               json_integer_value(json_object_get(s, "payload_bytes")) / 1e6,
               json_integer_value(json_object_get(s, "table_bytes")) / 1e6);
        const char *k;
        json_t *n;
        json_object_foreach(json_object_get(s, "lists"), k, n)
            printf("  %-24s %lld changes\n", k, (long long)json_integer_value(n));
        size_t i;
        json_array_foreach(json_object_get(s, "compactions"), i, n)
            printf("compacted up to %lld: %lld removed, %lld emptied, entries "
                   "%.1f -> %.1f MB\n",
                   (long long)json_integer_value(json_object_get(n, "horizon")),
                   (long long)json_integer_value(json_object_get(n, "deleted")),
                   (long long)json_integer_value(json_object_get(n, "emptied")),
                   json_integer_value(json_object_get(n, "payload_before")) / 1e6,
                   json_integer_value(json_object_get(n, "payload_after")) / 1e6);
        json_decref(s);
        return 0;
    }
    scrim_cluster_compact_stats st;
    if (scrim_cluster_compact(url, &o, &st, err, sizeof err))
        return cli_fail("cluster compact", err);
    if (a.json)
        return cli_print_json(stdout, json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}",
            "horizon", (json_int_t)st.horizon, "deleted", (json_int_t)st.deleted,
            "emptied", (json_int_t)st.emptied, "lists", (json_int_t)st.lists,
            "rows_before", (json_int_t)st.rows_before, "rows_after",
            (json_int_t)st.rows_after, "payload_before",
            (json_int_t)st.payload_before, "payload_after",
            (json_int_t)st.payload_after, "table_before",
            (json_int_t)st.table_before, "table_after",
            (json_int_t)st.table_after, "seconds", st.seconds, "dry_run",
            o.dry_run), JSON_COMPACT) ? 1 : 0;
    printf("%s up to change %llu: %llu changes removed, %llu emptied (%llu "
           "lists); %llu -> %llu changes, entries %.1f -> %.1f MB, table %.1f "
           "-> %.1f MB, %.1f s\n", o.dry_run ? "would compact" : "compacted",
           (unsigned long long)st.horizon, (unsigned long long)st.deleted,
           (unsigned long long)st.emptied, (unsigned long long)st.lists,
           (unsigned long long)st.rows_before, (unsigned long long)st.rows_after,
           st.payload_before / 1e6, st.payload_after / 1e6,
           st.table_before / 1e6, st.table_after / 1e6, st.seconds);
    return 0;
}
