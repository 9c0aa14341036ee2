/* cmd_reviewer.c - `scrim reviewer`: reviewer accounts in the database
 * (what /v1/reviewers does in scrimd), and `scrim content-warning`: the
 * per-list content warnings (what /v1/review/warnings does). */
#include "cli.h"
#include "scrim/review.h"
#include "scrim/reviewers.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char reviewer_usage[] =
    "usage: scrim reviewer add NAME [--role reviewer|lead] [--db DIR] [--json]\n"
    "       scrim reviewer list [--db DIR] [--json]\n"
    "       scrim reviewer show NAME [--db DIR]\n"
    "       scrim reviewer disable|enable|remove NAME [--db DIR]\n"
    "\n"
    "Reviewer accounts of scrimd's review page and API (a running scrimd sees\n"
    "a change at the account's next request).\n"
    "  add      make an account and print its token, once: only a hash of it\n"
    "           is kept (--json: the account as JSON with \"token\")\n"
    "  --role   reviewer (default) or lead (may also read every reviewer's\n"
    "           exposure and the review log)\n"
    "  list     one line per account: NAME ROLE enabled|disabled, and today's\n"
    "           previews, reveals, seconds revealed, items decided\n"
    "  show     the account and its exposure per day (JSON)\n"
    "  disable  refuse the account's token from its next request; enable undoes it\n"
    "  remove   delete the account and its token (its exposure and log stay)\n";

static const char warning_usage[] =
    "usage: scrim content-warning [--db DIR] [--json]\n"
    "       scrim content-warning [--db DIR] NAME TEXT\n"
    "\n"
    "Shows or sets the content warning of a list (e.g. \"graphic violence\"):\n"
    "the review page shows it on each of the list's items before it requests\n"
    "any preview image, and waits for the reviewer to acknowledge it.  TEXT\n"
    "\"\" removes it.  Without NAME: one line 'NAME: TEXT' per list with one.\n"
    "  --json   the warnings as GET /v1/review/warnings answers them\n";

/* Nothing is purged by the CLI (see cmd_review.c). */
#define CLI_REVIEW_KEEP ((int64_t)100 * 366 * 24 * 3600)

typedef struct opened {
    scrim_store *store;
    scrim_reviewers *rv;
} opened;

static int open_db(const char *cmd, const char *db, opened *o)
{
    char err[512];
    MDB_env *env;
    scrim_store_opts so = {0};
    memset(o, 0, sizeof *o);
    if (scrim_store_open(db, &so, &o->store, err, sizeof err) ||
        scrim_store_side_env(o->store, &env, err, sizeof err) ||
        scrim_reviewers_open(env, NULL, NULL, &o->rv, err, sizeof err)) {
        cli_fail(cmd, err);
        return -1;
    }
    return 0;
}

static void close_db(opened *o)
{
    if (o->rv)
        scrim_reviewers_close(o->rv);
    if (o->store)
        scrim_store_close(o->store);
}

static void log_cli(scrim_reviewers *rv, const char *event, const char *name)
{
    char err[256];
    json_t *ev = json_pack("{s:s, s:s, s:s}", "who", "cli", "event", event,
                           "reviewer", name);
    scrim_review_log_add(rv, ev, err, sizeof err);
    json_decref(ev);
}

int cmd_reviewer(int argc, char **argv)
{
    static const struct option lo[] = {
        {"db", required_argument, NULL, 'd'}, {"role", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR, *role = NULL;
    int json = 0, c, status = 1;
    char err[512];
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'r': role = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(reviewer_usage, stdout); return 0;
        default:
            fprintf(stderr, "scrim: reviewer: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            fputs(reviewer_usage, stderr);
            return 2;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    int nargs = argc - optind;
    int wants_name = sub && strcmp(sub, "list");
    if (!sub || (wants_name ? nargs != 2 : nargs != 1) ||
        (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "show") &&
         strcmp(sub, "disable") && strcmp(sub, "enable") && strcmp(sub, "remove"))) {
        fputs(reviewer_usage, stderr);
        return 2;
    }
    if (role && strcmp(sub, "add")) {
        fprintf(stderr, "scrim: reviewer: --role is for 'add'\n");
        return 2;
    }
    /* a bad name is a usage error, found before the database is opened */
    if (name && scrim_reviewer_name_check(name, err, sizeof err)) {
        fprintf(stderr, "scrim: reviewer: %s\n", err);
        return 2;
    }
    opened o;
    if (open_db("reviewer", db, &o))
        goto done;
    json_t *out = NULL;
    if (!strcmp(sub, "add")) {
        char token[SCRIM_REVIEWER_TOKEN_LEN + 1];
        if (scrim_reviewer_add(o.rv, name, role, token, &out, err, sizeof err)) {
            cli_fail("reviewer", err);
            goto done;
        }
        log_cli(o.rv, "reviewer_added", name);
        if (json) {
            json_object_set_new(out, "token", json_string(token));
            cli_print_json(stdout, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        } else {
            printf("%s\n", token);
            json_decref(out);
            fprintf(stderr, "scrim: reviewer: '%s' added; the token above is shown "
                            "once (only its hash is kept)\n", name);
        }
        memset(token, 0, sizeof token);
        status = 0;
    } else if (!strcmp(sub, "list")) {
        if (scrim_reviewer_list(o.rv, &out, err, sizeof err)) {
            cli_fail("reviewer", err);
            goto done;
        }
        size_t i;
        json_t *a;
        json_array_foreach(out, i, a) {
            json_t *e = NULL;
            const char *n = json_string_value(json_object_get(a, "name"));
            if (!scrim_exposure_get(o.rv, n, &e, err, sizeof err)) {
                json_object_del(e, "days");
                json_object_set_new(a, "exposure", e);
            }
            if (json)
                continue;
            json_t *t = json_object_get(json_object_get(a, "exposure"), "today");
            printf("%s %s %s previews=%lld reveals=%lld seconds=%g items=%lld\n", n,
                   json_string_value(json_object_get(a, "role")),
                   json_is_true(json_object_get(a, "disabled")) ? "disabled" : "enabled",
                   (long long)json_integer_value(json_object_get(t, "previews")),
                   (long long)json_integer_value(json_object_get(t, "reveals")),
                   json_number_value(json_object_get(t, "seconds")),
                   (long long)json_integer_value(json_object_get(t, "items")));
        }
        if (json) {
            cli_print_json(stdout, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
            out = NULL;
        }
        json_decref(out);
        status = 0;
    } else if (!strcmp(sub, "show")) {
        json_t *e = NULL;
        if (scrim_reviewer_get(o.rv, name, &out, err, sizeof err) ||
            scrim_exposure_get(o.rv, name, &e, err, sizeof err)) {
            json_decref(out);
            cli_fail("reviewer", err);
            goto done;
        }
        json_object_set_new(out, "exposure", e);
        cli_print_json(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        status = 0;
    } else if (!strcmp(sub, "remove")) {
        if (scrim_reviewer_remove(o.rv, name, err, sizeof err)) {
            cli_fail("reviewer", err);
            goto done;
        }
        log_cli(o.rv, "reviewer_removed", name);
        printf("%s removed\n", name);
        status = 0;
    } else {
        int dis = !strcmp(sub, "disable");
        if (scrim_reviewer_set_disabled(o.rv, name, dis, err, sizeof err)) {
            cli_fail("reviewer", err);
            goto done;
        }
        log_cli(o.rv, dis ? "reviewer_disabled" : "reviewer_enabled", name);
        printf("%s %s\n", name, dis ? "disabled" : "enabled");
        status = 0;
    }
done:
    close_db(&o);
    return status;
}

int cmd_content_warning(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_JSON, 0};
    cli_args a = CLI_ARGS_INIT;
    char err[512];
    int status = 1;
    json_t *w = NULL;
    int c = cli_getopt(argc, argv, take, &a);
    int set = argc - optind == 2;
    if (c != -1 || (!set && optind != argc))
        return cli_usage(c, "%s", warning_usage);
    if (set && a.json) {
        fprintf(stderr, "scrim: content-warning: --json is for showing the "
                        "warnings, not for setting one\n");
        return 2;
    }
    opened o;
    if (open_db("content-warning", a.db, &o))
        goto done;
    if (set) {
        const char *name = argv[optind], *text = argv[optind + 1];
        scrim_list_info info;
        if (scrim_review_warnings(o.rv, &w, err, sizeof err)) {
            cli_fail("content-warning", err);
            goto done;
        }
        /* as preview-level: a typo in the list's name must not pass */
        int rc = scrim_store_list_get(o.store, name, &info, err, sizeof err);
        if (rc == SCRIM_ENOTFOUND && !json_object_get(w, name)) {
            fprintf(stderr, "scrim: content-warning: no list named '%s' in %s "
                            "('scrim lists' shows them)\n", name, a.db);
            goto done;
        }
        if ((rc && rc != SCRIM_ENOTFOUND) ||
            scrim_review_warning_set(o.rv, name, text, err, sizeof err)) {
            cli_fail("content-warning", err);
            goto done;
        }
        if (*text)
            printf("%s: %s\n", name, text);
        else
            printf("%s: no warning\n", name);
        status = 0;
        goto done;
    }
    if (scrim_review_warnings(o.rv, &w, err, sizeof err)) {
        cli_fail("content-warning", err);
        goto done;
    }
    if (a.json) {
        cli_print_json(stdout, w, JSON_COMPACT | JSON_SORT_KEYS);
        w = NULL;
    } else {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(w, tmp, k, v)
            printf("%s: %s\n", k, json_string_value(v));
    }
    status = 0;
done:
    json_decref(w);
    close_db(&o);
    return status;
}
