/* api.c - scrimd's public endpoints: POST /v1/hash, POST /v1/match
 * (body or ?path=), GET /v1/lookup, GET /healthz, GET /metrics. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== query options ======================================================= */

static int arg_int(scrim_call *c, const char *name, int lo, int hi, int dflt,
                   int *out)
{
    const char *v = scrim_call_arg(c, name);
    char *end;
    if (!v) {
        *out = dflt;
        return 0;
    }
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        scrim_call_error(c, 400, "bad_request", "?%s= must be an integer from "
                         "%d to %d, got '%s'", name, lo, hi, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* ?radius= and ?min_quality= change what matches, and so what reaches
 * the review queue (a radius of 256 matches every upload): with the admin
 * token or --allow-query-overrides 1 only.  Checked after their values
 * (a malformed one is a 400 either way).  0, or a 403 answered. */
static int overrides_allowed(scrim_call *c, const char *a, const char *b)
{
    const char *given = scrim_call_arg(c, a) ? a
                        : b && scrim_call_arg(c, b) ? b : NULL;
    if (!given || c->settings->allow_query_overrides || scrim_call_is_admin(c))
        return 0;
    scrim_call_error(c, 403, "forbidden", "?%s= changes what matches: it "
                     "needs the admin token (Authorization: Bearer) or "
                     "scrimd --allow-query-overrides 1", given);
    return -1;
}

static int query_opts(scrim_call *c, int match, scrim_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->call = c;
    o->max_pixels = c->settings->max_pixels;
    o->min_side = c->settings->fast_decode ? SCRIM_FAST_MIN_SIDE : 0;
    o->ignore_alpha = c->settings->ignore_alpha;
    o->deadline = c->deadline;
    /* Dihedral variants: off for /v1/hash (output size), on for matching
     * (a rotated or mirrored copy must still match). */
    if (arg_int(c, "dihedral", 0, 1, match, &o->dihedral) ||
        arg_int(c, "min_quality", 0, 100, c->settings->min_quality,
                &o->min_quality) ||
        arg_int(c, "radius", -1, SCRIM_MAX_RADIUS, -1, &o->radius) ||
        arg_int(c, "regions", 0, 1, match, &o->regions))
        return -1;
    if (match && overrides_allowed(c, "radius", "min_quality"))
        return -1;
    return 0;
}

/* ==== ?path= confinement ==================================================== */

/* Open the file a /v1/match?path= names, beneath the --allow-path
 * directory its path starts with, following no symlink below that
 * directory (scrim__open_beneath: a directory on the way swapped for a
 * symlink, even mid-request, makes the open fail; it cannot lead out).
 * -1 for anything else: outside every allowed directory, missing, through
 * a symlink, unreadable, not a regular file. */
static int open_confined(const scrim__settings_ref *set, const char *path,
                         struct stat *st)
{
    for (int i = 0; i < set->n_allow_real; i++) {
        /* the directory as configured, or as it resolved at start-up */
        const char *roots[2] = {set->s.allow_path[i], set->allow_real[i]};
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(roots[k]);
            while (n > 1 && roots[k][n - 1] == '/')
                n--;
            const char *rel = path + n;
            if (n == 1 && roots[k][0] == '/')
                rel = path; /* --allow-path / */
            else if (strncmp(path, roots[k], n) || *rel != '/')
                continue;
            while (*rel == '/')
                rel++;
            int dir = open(set->allow_real[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (dir < 0)
                continue;
            int fd = scrim__open_beneath(dir, rel, O_RDONLY | O_NONBLOCK |
                                                       O_NOCTTY, SCRIM__BENEATH_AUTO);
            close(dir);
            if (fd < 0)
                continue;
            if (!fstat(fd, st) && S_ISREG(st->st_mode))
                return fd;
            close(fd);
        }
    }
    return -1;
}

/* Read the file a /v1/match?path= names (open_confined).  Whatever stops
 * it, outside the allowed directories or missing or through a symlink, the
 * answer is the same 403 with the same message: it must not tell a client
 * which paths exist. */
static int read_confined(scrim_call *c, const char *path, uint8_t **data,
                         size_t *len, uint64_t *held)
{
    const scrim__settings_ref *set =
        (const scrim__settings_ref *)((const char *)c->settings -
                                      offsetof(scrim__settings_ref, s));
    int fd = -1, rc = -1;
    struct stat st;

    *data = NULL;
    if (!set->n_allow_real)
        return scrim_call_error(c, 403, "forbidden", "?path= is off: scrimd "
                                "was started without --allow-path");
    if (path[0] != '/')
        return scrim_call_error(c, 403, "forbidden", "?path= must be absolute");
    /* '..' is refused outright, even where it would stay inside. */
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '/' || !p[2]))
            return scrim_call_error(c, 403, "forbidden", "?path= must not "
                                    "contain '..'");
    if ((fd = open_confined(set, path, &st)) < 0)
        return scrim_call_error(c, 403, "forbidden", "?path= names no file "
                                "scrimd may read: it must be a readable "
                                "regular file under an --allow-path "
                                "directory, reached without symlinks");
    if ((uint64_t)st.st_size > c->settings->max_body) {
        scrim_call_error(c, 413, "too_large", "%s is %lld bytes, over "
                         "--max-body %llu", path, (long long)st.st_size,
                         (unsigned long long)c->settings->max_body);
        goto out;
    }
    /* read into memory: as a body would be, within the memory budget */
    if (!scrim__budget_try(c->server, (uint64_t)st.st_size)) {
        scrim__call_fail(c, SCRIM_EBUSY, "busy: the memory budget "
                         "(--memory-budget) has no room for this file's %lld "
                         "bytes now; retry later", (long long)st.st_size);
        goto out;
    }
    *held = (uint64_t)st.st_size;
    *data = malloc((size_t)st.st_size + 1);
    if (!*data) {
        scrim_call_error(c, 500, "no_memory", "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *data + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    *len = got;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* ==== hash and match ======================================================== */

static int hash_or_match(scrim_call *c, int match)
{
    scrim_server *srv = c->server;
    scrim_query_opts o;
    scrim_upload up = {0};
    scrim_match_result res = {0};
    const scrim_media_handler *h = NULL;
    uint8_t *file = NULL;
    uint64_t held = 0; /* of the memory budget, for the file read */
    char err[512] = "";
    int rc = -1;

    if (query_opts(c, match, &o))
        return -1;
    const char *path = scrim_call_arg(c, "path");
    if (path) {
        if (c->body_len)
            return scrim_call_error(c, 400, "bad_request", "send either a "
                                    "body or ?path=, not both");
        if (read_confined(c, path, &file, &up.len, &held)) {
            scrim__budget_release(srv, held);
            return -1;
        }
        up.bytes = file;
    } else {
        up.bytes = c->body;
        up.len = c->body_len;
    }
    if (!up.len) {
        rc = scrim_call_error(c, 400, "bad_request", "empty body: POST the "
                              "media's bytes");
        goto out;
    }
    for (int i = 0; i < srv->n_media && !h; i++)
        if (srv->media[i]->sniff(up.bytes, up.len))
            h = srv->media[i];
    if (!h) {
        rc = scrim_call_error(c, 415, "unsupported", "not an image or video "
                              "scrim decodes (the type is sniffed from the "
                              "bytes)");
        goto out;
    }
    up.handler = h;
    if ((rc = h->hash(&up, &o, err, sizeof err))) {
        up.handler = NULL;   /* the handler freed what it had made */
        if (h->free)
            h->free(&up);
        scrim__call_fail(c, rc, "%s", err);
        goto out;
    }
    c->json = h->to_json(&up, &o);
    if (!c->json) {
        rc = scrim_call_error(c, 500, "no_memory", "out of memory");
        goto out;
    }
    if (!match) {
        rc = 0;
        goto out;
    }
    if (!c->store) {
        rc = scrim_call_error(c, 503, "no_database", "no database is open");
        goto out;
    }
    res.matches = json_array();
    res.allowed = json_array();
    res.extra = json_object();
    if (h->match &&
        (rc = h->match(&up, &o, c->store, &res, err, sizeof err))) {
        scrim__call_fail(c, rc, "lookup failed: %s", err);
        goto out;
    }
    for (int i = 0; i < srv->n_hooks; i++) {
        err[0] = '\0';
        if (srv->hooks[i].fn(c, &up, &res, srv->hooks[i].arg, err,
                             sizeof err)) {
            /* Logged by the loop with the request's line: workers never
             * write the log (its descriptor changes on SIGHUP). */
            if (!c->hook_failures++)
                snprintf(c->hook_error, sizeof c->hook_error, "%s", err);
        }
    }
    json_object_set_new(c->json, "matched", json_boolean(res.matched));
    json_object_set(c->json, "matches", res.matches);
    json_object_set(c->json, "allowed", res.allowed);
    json_object_update(c->json, res.extra);
    c->match_count = (int)json_array_size(res.matches);
    rc = 0;
out:
    if (up.handler && up.handler->free)
        up.handler->free(&up);
    json_decref(res.matches);
    json_decref(res.allowed);
    json_decref(res.extra);
    free(file);
    scrim__budget_release(srv, held);
    return rc;
}

static int api_hash(scrim_call *c, void *arg)
{
    return hash_or_match(c, 0);
}

static int api_match(scrim_call *c, void *arg)
{
    return hash_or_match(c, 1);
}

/* GET /v1/lookup?pdq=HEX[&radius=N] | ?md5=HEX | ?sha256=HEX */
static int api_lookup(scrim_call *c, void *arg)
{
    const char *pdq = scrim_call_arg(c, "pdq"), *md5 = scrim_call_arg(c, "md5"),
               *sha = scrim_call_arg(c, "sha256");
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    scrim_matches m = {0};
    char err[512] = "";
    int rc;

    if (!!pdq + !!md5 + !!sha != 1)
        return scrim_call_error(c, 400, "bad_request", "give exactly one of "
                                "?pdq=, ?md5=, ?sha256=");
    if (arg_int(c, "radius", 0, SCRIM_MAX_RADIUS, -1, &lo.radius) ||
        overrides_allowed(c, "radius", NULL))
        return -1;
    if (!c->store)
        return scrim_call_error(c, 503, "no_database", "no database is open");
    const char *q = pdq ? pdq : md5 ? md5 : sha;
    size_t want = md5 ? 32 : 64;
    if (strlen(q) != want || strspn(q, "0123456789abcdefABCDEF") != want)
        return scrim_call_error(c, 400, "bad_request", "?%s= must be %zu hex "
                                "digits", pdq ? "pdq" : md5 ? "md5" : "sha256",
                                want);
    char hex[65];
    for (size_t i = 0; i <= want; i++)
        hex[i] = (char)(q[i] >= 'A' && q[i] <= 'F' ? q[i] + 32 : q[i]);
    if (pdq) {
        scrim_pdq h;
        scrim_pdq_from_hex(hex, 64, &h);
        rc = scrim_store_lookup_pdq(c->store, &h, 1, &lo, &m, err, sizeof err);
    } else {
        rc = scrim_store_lookup_digest(c->store, md5 ? SCRIM_HASH_MD5
                                                     : SCRIM_HASH_SHA256,
                                       hex, &lo, &m, err, sizeof err);
    }
    if (rc) {
        scrim_matches_free(&m);
        return scrim__call_fail(c, rc, "lookup failed: %s", err);
    }
    c->json = scrim_matches_json(&m, 0, hex);
    scrim_matches_free(&m);
    if (!c->json)
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    c->match_count = (int)json_array_size(json_object_get(c->json, "matches"));
    json_object_set_new(c->json, "matched", json_boolean(c->match_count > 0));
    return 0;
}

/* ==== health and metrics (on the loop: cheap, never queued) ================ */

static int api_healthz(scrim_call *c, void *arg)
{
    scrim_server *srv = c->server;
    int degraded = 0;
    json_t *parts = json_object();
    for (int i = 0; i < srv->n_health; i++) {
        int d = 0;
        json_t *v = srv->health[i].fn(srv->health[i].arg, &d);
        if (v)
            json_object_set_new(parts, srv->health[i].name, v);
        degraded |= d;
    }
    c->json = json_pack("{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:f}", "status",
                        srv->draining ? "draining" : degraded ? "degraded" : "ok",
                        "version",
                        SCRIM_VERSION, "database", srv->store != NULL,
                        "workers", scrim__pool_threads(srv->pool),
                        "queue_depth", scrim__pool_depth(srv->pool),
                        "video_workers", scrim__pool_threads(srv->vpool),
                        "video_queue_depth", scrim__pool_depth(srv->vpool),
                        "uptime_seconds", scrim__now() - srv->started);
    json_object_update(c->json, parts);
    json_decref(parts);
    return 0;
}

int scrim_server_health(scrim_server *srv, const char *name,
                        scrim_health_fn fn, void *arg)
{
    if (srv->n_health == SCRIM__MAX_HEALTH || !fn || !name ||
        strlen(name) >= sizeof srv->health[0].name)
        return SCRIM_EINVAL;
    snprintf(srv->health[srv->n_health].name, sizeof srv->health[0].name, "%s",
             name);
    srv->health[srv->n_health].fn = fn;
    srv->health[srv->n_health].arg = arg;
    srv->n_health++;
    return SCRIM_OK;
}

struct scrim_store *scrim_server_store(scrim_server *srv)
{
    return srv->store;
}

static int api_metrics(scrim_call *c, void *arg)
{
    size_t len = 0;
    int per_list = scrim__admin_ok(c->server, c->settings,
                                   scrim_call_header(c, "Authorization"));
    c->raw = scrim__metrics_render(c->server, per_list, &len);
    if (!c->raw)
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    c->raw_len = len;
    snprintf(c->content_type, sizeof c->content_type,
             "text/plain; version=0.0.4; charset=utf-8");
    return 0;
}

int scrim__api_register(scrim_server *srv)
{
    int rc;
    if ((rc = scrim_server_media(srv, &scrim__image_handler)) ||
        (rc = scrim_server_route(srv, "hash", SCRIM_POST, "/v1/hash",
                                 SCRIM_ROUTE_WORKER, api_hash, NULL)) ||
        (rc = scrim_server_route(srv, "match", SCRIM_POST, "/v1/match",
                                 SCRIM_ROUTE_WORKER, api_match, NULL)) ||
        (rc = scrim_server_route(srv, "lookup", SCRIM_GET, "/v1/lookup",
                                 SCRIM_ROUTE_WORKER, api_lookup, NULL)) ||
        (rc = scrim_server_route(srv, "healthz", SCRIM_GET, "/healthz", 0,
                                 api_healthz, NULL)) ||
        (rc = scrim_server_route(srv, "metrics", SCRIM_GET, "/metrics", 0,
                                 api_metrics, NULL)))
        return rc;
    return SCRIM_OK;
}
