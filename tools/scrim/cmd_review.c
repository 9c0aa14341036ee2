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

/* ---- scrim review: the queue and the false-match loop ------------------------- */

static const char review_usage[] =
    "usage: scrim review list [--db DIR] [--list NAME] [--newest] [--limit N]\n"
    "                         [--cursor ID] [--since T] [--json]\n"
    "       scrim review decide [--db DIR] [--note TEXT] [--by NAME]\n"
    "                         [--no-suppress] [--quarantine-after N] [--json]\n"
    "                         ID confirm|reject\n"
    "       scrim review stats [--db DIR] [--list NAME] [--json]\n"
    "       scrim review quarantined [--db DIR] [--json]\n"
    "       scrim review restore|remove [--db DIR] [--by NAME] LIST ENTRY\n"
    "\n"
    "The review records of the database, as scrimd's /v1/review answers them.\n"
    "  list         the pending queue: one line 'ID TIME SEEN LISTS' per record,\n"
    "               then '# pending N' and '# next ID' when there is more\n"
    "    --list NAME     only records with a match in list NAME\n"
    "    --newest        newest first (default: oldest first)\n"
    "    --limit N       records per page, 1-1000 (default 50)\n"
    "    --cursor ID     the page after ID (the '# next' of the previous page)\n"
    "    --since T       records created at or after T (unix seconds) or after\n"
    "                    record ID\n"
    "  decide       record a decision, with the false-match loop: a reject puts\n"
    "               the upload into the allow list LIST.suppressed of each block\n"
    "               list it matched (so the same picture is 'allowed' next time),\n"
    "               and quarantines an entry rejected N times; a decision on a\n"
    "               decided record is kept as a change (the earlier one in\n"
    "               \"history\")\n"
    "    --note TEXT     a note kept with the decision\n"
    "    --by NAME       who decides (default: $USER)\n"
    "    --no-suppress   a reject without suppressing the upload\n"
    "    --quarantine-after N  rejects that quarantine an entry (default 3;\n"
    "                    0 = never)\n"
    "  stats        per entry: confirmed and rejected matches, quarantined\n"
    "  quarantined  the entries quarantined, awaiting an admin\n"
    "  restore      a quarantined entry matches again\n"
    "  remove       a quarantined entry is removed from its list\n"
    "               ENTRY: pdq:HEX, md5:HEX, sha256:HEX or video:ID (a bare\n"
    "               64-hex value is a PDQ)\n"
    "  --db DIR     the database (default " SCRIM_STORE_DEFAULT_DIR ")\n"
    "  --json       JSON as scrimd answers it\n";

enum { R_DB = 1, R_LIST, R_NEWEST, R_LIMIT, R_CURSOR, R_SINCE, R_JSON,
       R_NOTE, R_BY, R_NO_SUPPRESS, R_QUARANTINE_AFTER, R_HELP };

static int rfail(const char *err)
{
    return cli_fail("review", err);
}

static void print_list(json_t *out)
{
    json_t *rec, *m;
    size_t i, j;
    json_array_foreach(json_object_get(out, "records"), i, rec) {
        printf("%s %.3f %lld", json_string_value(json_object_get(rec, "id")),
               json_number_value(json_object_get(rec, "time")),
               (long long)json_integer_value(json_object_get(rec, "seen")));
        json_array_foreach(json_object_get(rec, "matches"), j, m)
            printf(" %s", json_string_value(json_object_get(m, "list")));
        printf("\n");
    }
    printf("# pending %lld\n",
           (long long)json_integer_value(json_object_get(out, "pending")));
    const char *next = json_string_value(json_object_get(out, "next"));
    if (next)
        printf("# next %s\n", next);
}

static const char *entry_text(json_t *e, char *buf, size_t n)
{
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *k = json_string_value(json_object_get(e, "hash"));
    if (!k)
        k = json_string_value(json_object_get(e, "id"));
    snprintf(buf, n, "%s:%s", type ? type : "?", k ? k : "?");
    return buf;
}

/* ENTRY: TYPE:KEY or a bare PDQ. */
static int entry_parse(const char *arg, char *type, size_t tn, const char **key)
{
    const char *colon = strchr(arg, ':');
    if (!colon) {
        snprintf(type, tn, "pdq");
        *key = arg;
        return 0;
    }
    snprintf(type, tn, "%.*s", (int)(colon - arg), arg);
    *key = colon + 1;
    return scrim_hash_type_parse(type) < 0 ? -1 : 0;
}

int cmd_review(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, R_DB},
        {"list", required_argument, NULL, R_LIST},
        {"newest", no_argument, NULL, R_NEWEST},
        {"limit", required_argument, NULL, R_LIMIT},
        {"cursor", required_argument, NULL, R_CURSOR},
        {"since", required_argument, NULL, R_SINCE},
        {"json", no_argument, NULL, R_JSON},
        {"note", required_argument, NULL, R_NOTE},
        {"by", required_argument, NULL, R_BY},
        {"no-suppress", no_argument, NULL, R_NO_SUPPRESS},
        {"quarantine-after", required_argument, NULL, R_QUARANTINE_AFTER},
        {"help", no_argument, NULL, R_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR, *note = NULL, *by = getenv("USER");
    scrim_review_query q = {.limit = 50};
    int as_json = 0, suppress = -1, c, status = 1;
    long long qa = -1;
    char err[512];

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return cli_usage(OPT_HELP, "%s", review_usage);
    if (argc < 2)
        return cli_usage(0, "%s", review_usage);
    const char *sub = argv[1];
    argc--;
    argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case R_DB: db = optarg; break;
        case R_LIST: q.list = optarg; break;
        case R_NEWEST: q.newest = 1; break;
        case R_LIMIT: {
            long long n = cli_parse_int("--limit", optarg, 1, SCRIM_REVIEW_LIST_MAX);
            if (n < 0)
                return 2;
            q.limit = (size_t)n;
            break;
        }
        case R_CURSOR: q.cursor = optarg; break;
        case R_SINCE: q.since = optarg; break;
        case R_JSON: as_json = 1; break;
        case R_NOTE: note = optarg; break;
        case R_BY: by = optarg; break;
        case R_NO_SUPPRESS: suppress = 0; break;
        case R_QUARANTINE_AFTER:
            if ((qa = cli_parse_int("--quarantine-after", optarg, 0, 1000000)) < 0)
                return 2;
            break;
        case R_HELP: return cli_usage(OPT_HELP, "%s", review_usage);
        default: return cli_usage(0, "%s", review_usage);
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    int want = !strcmp(sub, "decide") ? 2
               : (!strcmp(sub, "restore") || !strcmp(sub, "remove")) ? 2
               : (!strcmp(sub, "list") || !strcmp(sub, "stats") ||
                  !strcmp(sub, "quarantined")) ? 0 : -1;
    if (want < 0) {
        fprintf(stderr, "scrim: review: unknown subcommand '%s'\n", sub);
        return cli_usage(0, "%s", review_usage);
    }
    if (nargs != want)
        return cli_usage(0, "%s", review_usage);

    scrim_store *s = NULL;
    MDB_env *env = NULL;
    scrim_review *rv = NULL;
    json_t *out = NULL;
    scrim_store_opts so = {0};
    scrim_review_opts ro = {.retention = CLI_REVIEW_KEEP};
    if (scrim_store_open(db, &so, &s, err, sizeof err) ||
        scrim_store_side_env(s, &env, err, sizeof err) ||
        scrim_review_open(env, &ro, &rv, err, sizeof err)) {
        rfail(err);
        goto done;
    }
    int rc = 0;
    if (!strcmp(sub, "list")) {
        rc = scrim_review_queue(rv, &q, &out, err, sizeof err);
    } else if (!strcmp(sub, "decide")) {
        scrim_review_decision d = {.decision = args[1], .note = note,
                                   .by = by ? by : "", .suppress = suppress,
                                   .quarantine_after = (int)qa};
        rc = scrim_review_decide_loop(rv, s, args[0], &d, &out, err, sizeof err);
    } else if (!strcmp(sub, "stats")) {
        rc = scrim_review_stats(rv, q.list, &out, err, sizeof err);
    } else if (!strcmp(sub, "quarantined")) {
        json_t *arr = NULL;
        rc = scrim_store_quarantined(s, &arr, err, sizeof err);
        if (!rc)
            out = json_pack("{s:o}", "entries", arr);
    } else {
        char type[16];
        const char *key;
        if (entry_parse(args[1], type, sizeof type, &key)) {
            fprintf(stderr, "scrim: review: '%s': expected pdq:HEX, md5:HEX, "
                            "sha256:HEX or video:ID\n", args[1]);
            status = 2;
            goto done;
        }
        rc = !strcmp(sub, "restore")
                 ? scrim_review_entry_restore(rv, s, args[0], type, key, by, &out,
                                              err, sizeof err)
                 : scrim_review_entry_remove(rv, s, args[0], type, key, by, &out,
                                             err, sizeof err);
    }
    if (rc) {
        rfail(err);
        goto done;
    }
    if (as_json) {
        int r = cli_print_json(stdout, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        out = NULL;
        if (r) {
            rfail("out of memory");
            goto done;
        }
    } else if (!strcmp(sub, "list")) {
        print_list(out);
    } else if (!strcmp(sub, "decide")) {
        json_t *fb = json_object_get(out, "feedback"), *e;
        size_t i;
        char buf[400];
        printf("%s %s\n", json_string_value(json_object_get(out, "id")),
               json_string_value(json_object_get(out, "status")));
        json_array_foreach(json_object_get(fb, "suppressed"), i, e)
            printf("suppressed in %s\n", json_string_value(json_object_get(e, "list")));
        json_array_foreach(json_object_get(fb, "unsuppressed"), i, e)
            printf("unsuppressed in %s\n", json_string_value(json_object_get(e, "list")));
        json_array_foreach(json_object_get(fb, "quarantined"), i, e)
            printf("quarantined %s %s\n", json_string_value(json_object_get(e, "list")),
                   entry_text(e, buf, sizeof buf));
        json_array_foreach(json_object_get(fb, "errors"), i, e)
            fprintf(stderr, "scrim: review: %s\n", json_string_value(e));
    } else if (!strcmp(sub, "stats") || !strcmp(sub, "quarantined")) {
        json_t *e;
        size_t i;
        char buf[400];
        json_array_foreach(json_object_get(out, "entries"), i, e) {
            printf("%s %s", json_string_value(json_object_get(e, "list")),
                   entry_text(e, buf, sizeof buf));
            if (!strcmp(sub, "stats"))
                printf(" confirmed=%lld rejected=%lld%s%s\n",
                       (long long)json_integer_value(json_object_get(e, "confirmed")),
                       (long long)json_integer_value(json_object_get(e, "rejected")),
                       json_is_true(json_object_get(e, "quarantined")) ? " quarantined" : "",
                       json_is_true(json_object_get(e, "removed")) ? " removed" : "");
            else
                printf(" by %s: %s\n", json_string_value(json_object_get(e, "by")),
                       json_string_value(json_object_get(e, "why")));
        }
    } else {
        char buf[400];
        printf("%s %s %s%s\n",
               !strcmp(sub, "restore") ? "restored" : "removed",
               json_string_value(json_object_get(out, "list")),
               entry_text(out, buf, sizeof buf),
               json_is_true(json_object_get(out, "changed")) ? "" : " (it was not quarantined)");
    }
    status = cli_stdout_done("review", 0, err, sizeof err);
done:
    json_decref(out);
    if (rv)
        scrim_review_close(rv);
    if (s)
        scrim_store_close(s);
    return status;
}
