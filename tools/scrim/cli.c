/* cli.c - what the subcommands of bin/scrim share: usage and error
 * messages, option values, opening the database, imports, output. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage(int what, const char *fmt, ...)
{
    if (what == OPT_BAD)
        return 2;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(what == OPT_HELP ? stdout : stderr, fmt, ap);
    va_end(ap);
    return what == OPT_HELP ? 0 : 2;
}

int cli_fail(const char *what, const char *err)
{
    fflush(stdout);
    fprintf(stderr, "scrim: %s: %s\n", what, err);
    return 1;
}

/* ---- option values -------------------------------------------------------- */

long long cli_parse_int(const char *opt, const char *val, long long lo,
                        long long hi)
{
    char *end;
    errno = 0;
    long long v = val ? strtoll(val, &end, 10) : 0;
    if (!val || !*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "scrim: %s: expected an integer from %lld to %lld, got '%s'\n",
                opt, lo, hi, val ? val : "");
        return -1;
    }
    return v;
}

/* WHAT within [lo, hi]; strict: a value strtod cannot represent (errno) is
 * refused too. */
static int parse_real(const char *opt, const char *val, double lo, double hi,
                      const char *what, int strict, double *out)
{
    char *end;
    errno = 0;
    double v = val ? strtod(val, &end) : 0;
    if (!val || !*val || *end || (strict && errno) || !(v >= lo && v <= hi)) {
        fprintf(stderr, "scrim: %s: expected %s from %g to %g, got '%s'\n", opt,
                what, lo, hi, val ? val : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_number(const char *opt, const char *val, double lo, double hi,
                     double *out)
{
    return parse_real(opt, val, lo, hi, "a number", 0, out);
}

int cli_parse_percent(const char *opt, const char *val, double *out)
{
    return parse_real(opt, val, 0, 100, "a percentage", 0, out);
}

int cli_parse_seconds(const char *opt, const char *val, double *out)
{
    return parse_real(opt, val, 0, 3600, "seconds", 1, out);
}

int cli_list_param(int opt, const char *val, scrim_list_params *p)
{
    long long v;
    switch (opt) {
    case OPT_RADIUS:
        if ((v = cli_parse_int("--radius", val, 0, SCRIM_MAX_RADIUS)) < 0)
            return -1;
        p->radius = (int)v;
        return 0;
    case OPT_KIND:
        if ((p->kind = scrim_list_kind_parse(val)) < 0) {
            fprintf(stderr, "scrim: --kind: expected block or allow, got '%s'\n",
                    val);
            return -1;
        }
        return 0;
    default: /* OPT_DESC */
        p->description = val;
        return 0;
    }
}

/* Every option cli_getopt() may take. */
static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"list", required_argument, NULL, OPT_LIST},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"create", no_argument, NULL, OPT_CREATE},
    {"description", required_argument, NULL, OPT_DESC},
    {"radius", required_argument, NULL, OPT_RADIUS},
    {"kind", required_argument, NULL, OPT_KIND},
    {"enable", no_argument, NULL, OPT_ENABLE},
    {"disable", no_argument, NULL, OPT_DISABLE},
    {"json", no_argument, NULL, OPT_JSON},
    {"scan", no_argument, NULL, OPT_SCAN},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"map-size", required_argument, NULL, OPT_MAPSIZE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"id", required_argument, NULL, OPT_ID},
    {"label", required_argument, NULL, OPT_LABEL},
    {"seconds-per-hash", required_argument, NULL, OPT_SECONDS},
    {"variants", no_argument, NULL, OPT_VARIANTS},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"from", required_argument, NULL, OPT_FROM},
    {"with-reviews", no_argument, NULL, OPT_WITH_REVIEWS},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"force", no_argument, NULL, OPT_FORCE},
    {"upto", required_argument, NULL, OPT_UPTO},
    {"full", no_argument, NULL, OPT_FULL},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"help", no_argument, NULL, OPT_HELP},
};
#define N_LONG_OPTS (sizeof long_opts / sizeof *long_opts)

int cli_getopt(int argc, char **argv, const int *take, cli_args *a)
{
    /* Only the command's options: getopt_long also takes unambiguous
     * abbreviations, among these. */
    struct option opts[N_LONG_OPTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_LONG_OPTS; i++) {
        int taken = long_opts[i].val == OPT_HELP;
        for (const int *t = take; *t && !taken; t++)
            taken = *t == long_opts[i].val;
        if (taken)
            opts[n++] = long_opts[i];
    }
    opts[n] = (struct option){0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: a->db = optarg; break;
        case OPT_LIST:
            a->list = optarg;
            if (a->lists)
                a->lists[a->nlists++] = optarg;
            break;
        case OPT_ID: a->id = optarg; break;
        case OPT_LABEL: a->label = optarg; break;
        case OPT_CREATE: a->create = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_CLUSTER: a->cluster = optarg; break;
        case OPT_FORCE: a->force = 1; break;
        case OPT_DESC:
        case OPT_RADIUS:
        case OPT_KIND:
            if (cli_list_param(c, optarg, &a->params))
                return OPT_BAD;
            break;
        default: return c;
        }
    }
    return -1;
}

/* ---- the database ------------------------------------------------------------ */

int cli_open_store(const char *db, int create, uint64_t map_size,
                   scrim_store **s)
{
    char err[512];
    scrim_store_opts o = {0};
    o.create = create;
    o.map_size = map_size;
    int rc = scrim_store_open(db, &o, s, err, sizeof err);
    if (rc)
        fprintf(stderr, "scrim: %s\n", err);
    return rc;
}

int cli_begin(int c, int ok, const char *usage, const cli_args *a,
              scrim_store **s)
{
    if (c != -1 || !ok)
        return cli_usage(c, "%s", usage);
    return cli_open_store(a->db, a->create, 0, s) ? 1 : -1;
}

/* ---- list writes ---------------------------------------------------------- */

int cli_write_open(const char *cmd, const cli_args *a, int create,
                   uint64_t map_size, cli_target *t)
{
    char err[1024];
    memset(t, 0, sizeof *t);
    t->cmd = cmd;
    const char *url = a->cluster;
    if (url && !*url) {
        fprintf(stderr, "scrim: %s: --cluster: an empty connection string\n", cmd);
        return 2;
    }
    if (cli_open_store(a->db, url ? 0 : create, map_size, &t->s))
        return 1;
    int node;
    uint64_t at;
    if (scrim_store_cluster_node(t->s, &node, &at, err, sizeof err))
        goto fail;
    if (url && !node) {
        snprintf(err, sizeof err, "--cluster: %s is not a cluster node's "
                 "database (no scrimd --cluster has followed the change log "
                 "in it): the write goes through a node's database, kept in "
                 "step by its scrimd", a->db);
        goto fail;
    }
    if (!url && node) {
        const char *env = getenv("SCRIM_CLUSTER");
        if (env && *env) {
            url = env;
        } else if (!a->force) {
            snprintf(err, sizeof err, "%s is a cluster node's database (it "
                     "follows the cluster's change log, at change %llu): a "
                     "write here alone would reach no other node and leave "
                     "this one apart from the cluster; write through the "
                     "cluster with --cluster URL (or SCRIM_CLUSTER=URL), or "
                     "give --force to write this database alone", a->db,
                     (unsigned long long)at);
            goto fail;
        }
    }
    if (url && scrim_cluster_writer_open(url, t->s, &t->w, err, sizeof err))
        goto fail;
    t->through = t->w != NULL;
    return 0;
fail:
    scrim_store_close(t->s);
    t->s = NULL;
    return cli_fail(cmd, err);
}

void cli_write_close(cli_target *t)
{
    scrim_cluster_writer_close(t->w);
    t->w = NULL;
    if (t->s)
        scrim_store_close(t->s);
    t->s = NULL;
}

int cli_write_begin(cli_target *t, scrim_import_opts *io)
{
    char err[1024];
    if (t->w && scrim_cluster_begin(t->w, io, err, sizeof err))
        return cli_fail(t->cmd, err);
    return 0;
}

int cli_write_commit(cli_target *t, const char *list, const char *op,
                     json_t *params)
{
    char err[1024];
    if (!t->w) {
        json_decref(params);
        return 0;
    }
    if (scrim_cluster_commit(t->w, list, op, params, &t->change, &t->applied,
                             err, sizeof err))
        return cli_fail(t->cmd, err);
    return 0;
}

json_t *cli_write_note(const cli_target *t, const char *list, json_t *o)
{
    if (!t->through)
        return o;
    if (o) {
        json_object_set_new(o, "change", json_integer((json_int_t)t->change));
        json_object_set_new(o, "applied", json_boolean(t->applied));
    } else {
        printf("%s: cluster change %llu, %s\n", list,
               (unsigned long long)t->change,
               t->applied ? "applied on this node"
                          : "not applied on this node yet (is its scrimd "
                            "running?)");
    }
    return o;
}

int cli_import_begin(const cli_args *a, uint64_t map_size, const char *list,
                     scrim_import_opts *io, cli_target *t, scrim_import **imp)
{
    char err[1024];
    if (!scrim_list_name_valid(list)) {
        fprintf(stderr, "scrim: import: invalid list name '%s'\n", list);
        return 2;
    }
    int rc = cli_write_open("import", a, 1, map_size, t);
    if (rc)
        return rc;
    if (cli_write_begin(t, io)) {
        cli_write_close(t);
        return 1;
    }
    if (scrim_import_begin(t->s, list, io, imp, err, sizeof err)) {
        cli_write_close(t);
        return cli_fail("import", err);
    }
    return 0;
}

int cli_import_end(cli_target *t, scrim_import *imp, int rc, char *err,
                   size_t errlen, scrim_import_stats *st, const char *list,
                   const scrim_import_opts *io)
{
    if (rc)
        scrim_import_abort(imp);
    else
        rc = scrim_import_commit(imp, st, err, errlen);
    if (!rc && t->w &&
        scrim_cluster_commit(t->w, list, scrim_cluster_import_op(io->mode),
                             scrim_cluster_import_params(io), &t->change,
                             &t->applied, err, errlen))
        rc = SCRIM_EBUSY;
    cli_write_close(t);
    if (rc) {
        fprintf(stderr, "scrim: import: %s\nscrim: import: nothing was imported\n",
                err);
        return 1;
    }
    return 0;
}

/* ---- output and input ------------------------------------------------------------ */

int cli_stdout_done(const char *cmd, int rc, char *err, size_t errlen)
{
    if (fflush(stdout) && !rc) {
        snprintf(err, errlen, "write error on stdout");
        rc = SCRIM_EIO;
    }
    return rc ? cli_fail(cmd, err) : 0;
}

int cli_print_json(FILE *f, json_t *o, size_t flags)
{
    char *s = json_dumps(o, flags);
    json_decref(o);
    if (!s)
        return -1;
    fprintf(f, "%s\n", s);
    free(s);
    return 0;
}

int cli_read_file(const char *path, uint8_t **data, size_t *len, char *err,
                  size_t errlen)
{
    return scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, data, len, err, errlen);
}
