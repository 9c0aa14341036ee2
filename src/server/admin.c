/* admin.c - scrimd's admin endpoints (Bearer token, checked by the
 * transport before these run): lists, atomic imports, audit, settings. */
#include "scrim.h"
#include "scrim/cluster.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A store call failed: the status and code every endpoint gives rc. */
static int store_error(scrim_call *c, int rc, const char *err)
{
    return scrim__call_fail(c, rc, "%s", err);
}

static int need_store(scrim_call *c)
{
    if (c->store)
        return 0;
    scrim_call_error(c, 503, "no_database", "no database is open");
    return -1;
}

/* ---- cluster mode (cluster.c): a write is a dry run here, whose entries
 * go to PostgreSQL's change log, then applied here as on every node ---- */

static const char *const mode_op[] = {"add", "replace", "remove"};

/* Sets io up for the cluster: NULL *tx if a single node; -1 if the call
 * has been answered (503). */
static int cluster_begin(scrim_call *c, scrim_import_opts *io,
                         scrim__cluster_tx **tx)
{
    *tx = NULL;
    if (!c->server->cluster)
        return 0;
    if (scrim__cluster_begin(c, tx))
        return -1;
    io->dry_run = 1;
    io->capture = scrim__cluster_capture;
    io->capture_ud = *tx;
    return 0;
}

/* The change's params: what applying it needs besides its entries (the
 * same as bin/scrim's: cluster_log.c). */
static json_t *import_params(const scrim_import_opts *io)
{
    return scrim_cluster_import_params(io);
}

/* After a successful dry run: the change appended and applied here; -1 if
 * the call has been answered (503), else 0 with the change's id in the
 * reply. */
static int cluster_commit(scrim_call *c, scrim__cluster_tx *tx,
                          const char *list, const char *op, json_t *params)
{
    uint64_t change = 0;
    if (!tx) {
        json_decref(params);
        return 0;
    }
    json_t *reply = c->json;   /* the dry run's counts */
    c->json = NULL;
    if (scrim__cluster_commit(c, tx, list, op, params, &change)) {
        json_decref(reply);
        return -1;
    }
    c->json = reply;
    if (c->json)
        json_object_set_new(c->json, "change", json_integer((json_int_t)change));
    return 0;
}

/* GET /v1/lists */
static int admin_lists(scrim_call *c, void *arg)
{
    scrim_list_info *v = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc;
    if (need_store(c))
        return -1;
    if ((rc = scrim_store_lists(c->store, &v, &n, err, sizeof err)))
        return store_error(c, rc, err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, scrim_list_json(&v[i]));
    free(v);
    c->json = json_pack("{s:o}", "lists", a);
    return 0;
}

/* PUT /v1/lists/NAME with {"kind", "radius", "enabled", "description"}:
 * creates the list (201) or changes the fields given (200). */
static int list_put(scrim_call *c, const char *name)
{
    scrim_list_params p = SCRIM_LIST_PARAMS_KEEP;
    json_error_t jerr;
    char err[512] = "";
    int rc, created = 0;
    uint64_t change = 0;
    json_t *body = c->body_len ? json_loadb((const char *)c->body, c->body_len,
                                            0, &jerr)
                               : json_object();
    if (!body)
        return scrim_call_error(c, 400, "bad_request", "body is not JSON: %s "
                                "(line %d)", jerr.text, jerr.line);
    if (!json_is_object(body)) {
        rc = scrim_call_error(c, 400, "bad_request", "body must be a JSON "
                              "object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (!strcmp(key, "kind")) {
            if (!json_is_string(v) ||
                (p.kind = scrim_list_kind_parse(json_string_value(v))) < 0) {
                rc = scrim_call_error(c, 400, "bad_request", "\"kind\" must "
                                      "be \"block\" or \"allow\"");
                goto out;
            }
        } else if (!strcmp(key, "radius")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > SCRIM_MAX_RADIUS) {
                rc = scrim_call_error(c, 400, "bad_request", "\"radius\" must "
                                      "be an integer from 0 to %d",
                                      SCRIM_MAX_RADIUS);
                goto out;
            }
            p.radius = (int)json_integer_value(v);
        } else if (!strcmp(key, "enabled")) {
            if (!json_is_boolean(v)) {
                rc = scrim_call_error(c, 400, "bad_request", "\"enabled\" must "
                                      "be true or false");
                goto out;
            }
            p.enabled = json_is_true(v);
        } else if (!strcmp(key, "description")) {
            if (!json_is_string(v) ||
                strlen(json_string_value(v)) > SCRIM_LIST_DESC_MAX) {
                rc = scrim_call_error(c, 400, "bad_request", "\"description\" "
                                      "must be a string of at most %d bytes",
                                      SCRIM_LIST_DESC_MAX);
                goto out;
            }
            p.description = json_string_value(v);
        } else {
            rc = scrim_call_error(c, 400, "bad_request", "unknown field \"%s\" "
                                  "(kind, radius, enabled, description)", key);
            goto out;
        }
    }
    if (c->server->cluster) {
        /* one "metadata" change: the list made or changed on every node */
        scrim__cluster_tx *tx;
        scrim_list_info info;
        if ((rc = scrim__cluster_begin(c, &tx)))
            goto out;
        rc = scrim_store_list_get(c->store, name, &info, err, sizeof err);
        if (rc && rc != SCRIM_ENOTFOUND) {
            scrim__cluster_abort(tx);
            store_error(c, rc, err);
            goto out;
        }
        created = rc == SCRIM_ENOTFOUND;
        json_t *params = scrim_cluster_metadata_params(created, &p);
        if ((rc = scrim__cluster_commit(c, tx, name, "metadata", params,
                                        &change)))
            goto out;
    } else {
        rc = scrim_store_list_set(c->store, name, &p, err, sizeof err);
        if (rc == SCRIM_ENOTFOUND) {
            rc = scrim_store_list_create(c->store, name, &p, err, sizeof err);
            created = rc == 0;
        }
    }
    if (rc) {
        store_error(c, rc, err);
        goto out;
    }
    scrim_list_info info;
    if ((rc = scrim_store_list_get(c->store, name, &info, err, sizeof err))) {
        store_error(c, rc, err);
        goto out;
    }
    c->json = scrim_list_json(&info);
    if (change)   /* cluster mode: the change-log id */
        json_object_set_new(c->json, "change", json_integer((json_int_t)change));
    c->status = created ? 201 : 200;
out:
    json_decref(body);
    return rc;
}

/* ?format=vpdq: the body is one vPDQ hash file, added as one video entry
 * with id ?id= (and ?label=), or the "# video: ID" sections of an export, one
 * entry each - as `scrim import --format vpdq` does, in one transaction and
 * with the same messages.  The frames go into the PDQ index, so the video
 * matches from the next request on. */
static int list_import_vpdq(scrim_call *c, const char *name,
                            const scrim_import_opts *io)
{
    const char *id = scrim_call_arg(c, "id"), *label = scrim_call_arg(c, "label");
    scrim_import *imp;
    scrim_import_stats st;
    char err[512] = "";
    int rc;

    if (id && !*id)
        id = NULL;
    if (scrim_media_sniff(c->body, c->body_len) == SCRIM_MEDIA_VIDEO)
        return scrim_call_error(c, 415, "unsupported", "?format=vpdq takes a "
                                "vPDQ hash file (FRAME,QUALITY,HASH,SECONDS "
                                "lines, as 'scrim hash VIDEO' prints), not the "
                                "video itself");
    scrim_import_opts o = *io;
    scrim__cluster_tx *tx;
    if (cluster_begin(c, &o, &tx))
        return -1;
    if ((rc = scrim_import_begin(c->store, name, &o, &imp, err, sizeof err))) {
        scrim__cluster_abort(tx);
        return store_error(c, rc, err);
    }
    rc = scrim_vpdq_import(imp, c->body, c->body_len, id, label, NULL, err,
                           sizeof err);
    if (rc) {
        scrim_import_abort(imp);
        scrim__cluster_abort(tx);
        if (rc == SCRIM_EINVAL && !id)
            return scrim_call_error(c, 400, "bad_request", "%s; give the "
                                    "entry's id as ?id=ID", err);
        return store_error(c, rc, err);
    }
    if ((rc = scrim_import_commit(imp, &st, err, sizeof err))) {
        scrim__cluster_abort(tx);
        return store_error(c, rc, err);
    }
    c->json = json_pack("{s:s, s:I, s:I, s:I}", "list", name, "added",
                        (json_int_t)st.added[SCRIM_HASH_VIDEO], "duplicates",
                        (json_int_t)st.duplicates[SCRIM_HASH_VIDEO], "frames",
                        (json_int_t)st.frames);
    return cluster_commit(c, tx, name, mode_op[io->mode], import_params(io));
}

/* POST /v1/lists/NAME/import[?format=auto|hex|pytx|csv|md5|sha256|vpdq]
 * [&create=1][&replace=1][&strict=1][&source=NAME]: the body is one
 * transaction, all or nothing; replace=1 makes the list exactly the body's
 * entries; source names it in the list's import history. */
static int list_import(scrim_call *c, const char *name)
{
    scrim_import_opts io = {.list = SCRIM_LIST_PARAMS_KEEP};
    scrim_import_stats st;
    char err[512] = "", src[96];
    const char *fmt = scrim_call_arg(c, "format");
    const char *create = scrim_call_arg(c, "create");
    const char *replace = scrim_call_arg(c, "replace");
    const char *strict = scrim_call_arg(c, "strict");
    int format = SCRIM_FORMAT_AUTO, rc;

    int vpdq = fmt && !strcmp(fmt, "vpdq");

    if (fmt && !vpdq && (format = scrim_import_format_parse(fmt)) < 0)
        return scrim_call_error(c, 400, "bad_request", "?format= must be auto, "
                                "hex, pytx, csv, md5, sha256 or vpdq, got "
                                "'%s'", fmt);
    if (create && strcmp(create, "0") && strcmp(create, "1"))
        return scrim_call_error(c, 400, "bad_request", "?create= must be 0 or "
                                "1");
    if ((replace && strcmp(replace, "0") && strcmp(replace, "1")) ||
        (strict && strcmp(strict, "0") && strcmp(strict, "1")))
        return scrim_call_error(c, 400, "bad_request", "?replace= and ?strict= "
                                "must be 0 or 1");
    io.create = create && !strcmp(create, "1");
    io.mode = replace && !strcmp(replace, "1") ? SCRIM_IMPORT_REPLACE
                                               : SCRIM_IMPORT_ADD;
    io.strict = strict && !strcmp(strict, "1");
    /* no io.deadline: an admin import that outlives its request becomes a
     * job (--admin-wait) and runs to its end, never "504 but committed" */
    snprintf(src, sizeof src, "http request %llu", (unsigned long long)c->id);
    io.source = scrim_call_arg(c, "source") ? scrim_call_arg(c, "source") : src;
    if (vpdq)
        return list_import_vpdq(c, name, &io);
    memset(&st, 0, sizeof st);
    scrim__cluster_tx *tx;
    if (cluster_begin(c, &io, &tx))
        return -1;
    rc = scrim_store_import_buffer(c->store, name, &io, format, c->body,
                                   c->body_len, &st, err, sizeof err);
    if (rc) {
        scrim__cluster_abort(tx);
        return store_error(c, rc, err);
    }
    c->json = scrim_import_stats_json(name, io.mode, &st);
    return cluster_commit(c, tx, name, mode_op[io.mode], import_params(&io));
}

/* POST /v1/lists/NAME/media?id=ID[&label=TEXT][&variants=SET|none]
 * [&create=1]: the platform's own removed image or video, hashed here, with
 * an image's index-side variants (scrim_media_add). */
static int list_media(scrim_call *c, const char *name)
{
    scrim_import_opts io = {.list = SCRIM_LIST_PARAMS_KEEP};
    scrim_media_added st;
    char err[512] = "", src[96];
    const char *id = scrim_call_arg(c, "id"), *label = scrim_call_arg(c, "label");
    const char *variants = scrim_call_arg(c, "variants");
    const char *create = scrim_call_arg(c, "create");

    if (!id || !*id)
        return scrim_call_error(c, 400, "bad_request", "?id= names the media "
                                "(the entry's id)");
    if (create && strcmp(create, "0") && strcmp(create, "1"))
        return scrim_call_error(c, 400, "bad_request", "?create= must be 0 or "
                                "1");
    if (!c->body_len)
        return scrim_call_error(c, 400, "bad_request", "empty body: POST the "
                                "media's bytes");
    if (variants && !strcmp(variants, "none"))
        variants = "";
    io.create = create && !strcmp(create, "1");
    snprintf(src, sizeof src, "http request %llu", (unsigned long long)c->id);
    io.source = src;
    scrim__cluster_tx *tx;
    if (cluster_begin(c, &io, &tx))
        return -1;
    int rc = scrim_media_add(c->store, name, &io, c->body, c->body_len, id,
                             label, variants, &st, err, sizeof err);
    if (rc)
        scrim__cluster_abort(tx);
    if (rc == SCRIM_EFORMAT)
        return scrim_call_error(c, 415, "unsupported", "%s", err);
    if (rc)
        return store_error(c, rc, err);
    json_t *names = json_array();
    for (int i = 0; i < st.nvariants; i++)
        json_array_append_new(names, json_string(st.variant[i]));
    c->json = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "list", name, "id",
                        id, "kind", st.kind, "added",
                        (json_int_t)st.stats.added[0], "duplicates",
                        (json_int_t)st.stats.duplicates[0], "variants", names);
    return cluster_commit(c, tx, name, "add", import_params(&io));
}

/* /v1/lists/NAME, /v1/lists/NAME/import and /v1/lists/NAME/media */
static int admin_list(scrim_call *c, void *arg)
{
    char name[SCRIM_LIST_NAME_MAX + 1];
    char err[512] = "";
    const char *slash = strchr(c->tail, '/');
    size_t n = slash ? (size_t)(slash - c->tail) : strlen(c->tail);
    int rc;

    if (need_store(c))
        return -1;
    if (n > SCRIM_LIST_NAME_MAX)
        return scrim_call_error(c, 400, "bad_request", "list names are at "
                                "most %d bytes", SCRIM_LIST_NAME_MAX);
    memcpy(name, c->tail, n);
    name[n] = '\0';
    if (!scrim_list_name_valid(name))
        return scrim_call_error(c, 400, "bad_request", "invalid list name "
                                "'%s' (1-%d of A-Z a-z 0-9 . _ -)", name,
                                SCRIM_LIST_NAME_MAX);
    if (slash) {
        if (strcmp(slash, "/import") && strcmp(slash, "/media"))
            return scrim_call_error(c, 404, "not_found", "no endpoint %s",
                                    c->path);
        if (c->method != SCRIM_POST)
            return scrim_call_error(c, 405, "method_not_allowed", "%s "
                                    "takes POST", slash + 1);
        return strcmp(slash, "/media") ? list_import(c, name)
                                       : list_media(c, name);
    }
    switch (c->method) {
    case SCRIM_PUT:
        return list_put(c, name);
    case SCRIM_GET: {
        scrim_list_info info;
        if ((rc = scrim_store_list_get(c->store, name, &info, err, sizeof err)))
            return store_error(c, rc, err);
        c->json = scrim_list_json(&info);
        return 0;
    }
    case SCRIM_DELETE: {
        uint64_t removed = 0;
        if (c->server->cluster) {
            scrim__cluster_tx *tx;
            scrim_list_info info;
            uint64_t change;
            if (scrim__cluster_begin(c, &tx))
                return -1;
            if ((rc = scrim_store_list_get(c->store, name, &info, err,
                                           sizeof err))) {
                scrim__cluster_abort(tx);
                return store_error(c, rc, err);
            }
            if (scrim__cluster_commit(c, tx, name, "drop", json_object(),
                                      &change))
                return -1;
            c->json = json_pack("{s:s, s:I, s:I}", "dropped", name, "removed",
                                (json_int_t)info.count, "change",
                                (json_int_t)change);
            return 0;
        }
        if ((rc = scrim_store_list_drop(c->store, name, &removed, err,
                                        sizeof err)))
            return store_error(c, rc, err);
        c->json = json_pack("{s:s, s:I}", "dropped", name, "removed",
                            (json_int_t)removed);
        return 0;
    }
    default:
        return scrim_call_error(c, 405, "method_not_allowed", "use GET, PUT "
                                "or DELETE on a list, POST on its /import");
    }
}

/* GET /v1/audit[?limit=N][&source=cluster|node] */
static int admin_audit(scrim_call *c, void *arg)
{
    scrim_audit_rec *v = NULL;
    size_t n = 0;
    char err[512] = "", *end;
    const char *lim = scrim_call_arg(c, "limit");
    long limit = 100;
    int rc;
    if (need_store(c))
        return -1;
    if (lim) {
        errno = 0;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || errno || limit < 0 || limit > 1000000)
            return scrim_call_error(c, 400, "bad_request", "?limit= must be "
                                    "an integer from 0 (all) to 1000000");
    }
    const char *src = scrim_call_arg(c, "source");
    if (src && strcmp(src, "cluster") && strcmp(src, "node"))
        return scrim_call_error(c, 400, "bad_request", "?source= must be "
                                "cluster or node");
    if (c->server->cluster && (!src || !strcmp(src, "cluster"))) {
        /* the cluster's, from PostgreSQL; this node's own when it is away
         * (or asked for: ?source=node) */
        json_t *a = scrim__cluster_audit(c->server, (size_t)limit, err,
                                         sizeof err);
        if (a) {
            c->json = json_pack("{s:o, s:s}", "audit", a, "source", "cluster");
            return 0;
        }
    }
    if ((rc = scrim_store_audit(c->store, (size_t)limit, &v, &n, err,
                                sizeof err)))
        return store_error(c, rc, err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, scrim_audit_json(&v[i]));
    free(v);
    c->json = json_pack("{s:o}", "audit", a);
    if (c->server->cluster)
        json_object_set_new(c->json, "source", json_string("node"));
    return 0;
}

/* GET /v1/settings: the effective settings (the token itself never). */
static int admin_settings(scrim_call *c, void *arg)
{
    c->json = scrim_settings_json(c->settings);
    return 0;
}

int scrim__admin_register(scrim_server *srv)
{
    int rc, w = SCRIM_ROUTE_WORKER | SCRIM_ROUTE_ADMIN;
    if ((rc = scrim_server_route(srv, "lists", SCRIM_GET, "/v1/lists", w,
                                 admin_lists, NULL)) ||
        (rc = scrim_server_route(srv, "list", SCRIM_GET | SCRIM_PUT |
                                 SCRIM_POST | SCRIM_DELETE, "/v1/lists/",
                                 w | SCRIM_ROUTE_PREFIX, admin_list, NULL)) ||
        (rc = scrim_server_route(srv, "audit", SCRIM_GET, "/v1/audit", w,
                                 admin_audit, NULL)) ||
        (rc = scrim_server_route(srv, "settings", SCRIM_GET, "/v1/settings",
                                 SCRIM_ROUTE_ADMIN, admin_settings, NULL)) ||
        (rc = scrim__jobs_register(srv)))
        return rc;
    return SCRIM_OK;
}
