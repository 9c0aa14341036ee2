/* api.c - scrimd's public endpoints: POST /v1/hash, POST /v1/match
 * (body or ?path=), GET and POST /v1/lookup, GET /healthz, GET /metrics. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* ==== ?lists= and the content id ============================================= */

#define API_MAX_LISTS 64

/* The lists named by ?lists=a,b (none given: n = 0). */
typedef struct arg_lists {
    char *buf;                        /* the names, NUL-separated */
    const char *v[API_MAX_LISTS];
    size_t n;
} arg_lists;

static void arg_lists_free(arg_lists *l)
{
    free(l->buf);
    l->buf = NULL;
    l->n = 0;
}

/* ?lists=: each a list of the store (else a 400 naming it).  Checked here
 * rather than left to the store's lookup, whose "no list" is a 404 and
 * comes only when a lookup is made (not for an upload too flat to look
 * up).  0, or -1 answered. */
static int arg_lists_parse(scrim_call *c, arg_lists *l)
{
    const char *v = scrim_call_arg(c, "lists");
    memset(l, 0, sizeof *l);
    if (!v)
        return 0;
    if (!(l->buf = strdup(v)))
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    for (char *p = l->buf, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        scrim_list_info li;
        if (!scrim_list_name_valid(p) ||
            (c->store && scrim_store_list_get(c->store, p, &li, NULL, 0))) {
            scrim_call_error(c, 400, "bad_request", "?lists=: no list named "
                             "'%.64s'", p);
            arg_lists_free(l);
            return -1;
        }
        if (l->n == API_MAX_LISTS) {
            scrim_call_error(c, 400, "bad_request", "?lists= names more than "
                             "%d lists", API_MAX_LISTS);
            arg_lists_free(l);
            return -1;
        }
        l->v[l->n++] = p;
    }
    return 0;
}

/* ?content_id= (or, without it, the X-Content-Id header): the client's own
 * id of the upload, 1-256 printable ASCII bytes, into c->content_id (echoed
 * in the answer, logged, kept in the review record).  0, or -1 answered. */
static int arg_content_id(scrim_call *c)
{
    const char *v = scrim_call_arg(c, "content_id");
    const char *from = "?content_id=";
    if (!v) {
        v = scrim_call_header(c, "X-Content-Id");
        from = "X-Content-Id";
    }
    c->content_id[0] = '\0';
    if (!v)
        return 0;
    size_t n = strlen(v);
    int printable = n >= 1 && n < sizeof c->content_id;
    for (size_t i = 0; i < n && printable; i++)
        printable = v[i] >= 0x20 && v[i] < 0x7f;
    if (!printable)
        return scrim_call_error(c, 400, "bad_request", "%s must be 1 to %zu "
                                "printable ASCII bytes", from,
                                sizeof c->content_id - 1);
    memcpy(c->content_id, v, n + 1);
    return 0;
}

/* ==== webhook events ========================================================= */

/* A request that matched block-list entries queues a "match" event
 * (webhook.c; nothing without --webhook-url): its route, request id,
 * content id, the upload's digests (never its bytes), the matches and the
 * review record made.  Queued before the answer: a failure is logged with
 * the request (as a failed hook) and the match is answered all the same. */
static void emit_match(scrim_call *c, json_t *upload, json_t *matches,
                       json_t *review)
{
    char err[256] = "";
    if (!c->server->webhooks || !json_array_size(matches))
        return;
    json_t *d = json_pack("{s:s, s:I}", "route", c->path, "request_id",
                          (json_int_t)c->id);
    if (d && c->content_id[0])
        json_object_set_new(d, "content_id", json_string(c->content_id));
    if (d && upload)
        json_object_set(d, "upload", upload);
    if (d)
        json_object_set(d, "matches", matches);
    if (d && review)
        json_object_set(d, "review", review);
    if (!d)
        snprintf(err, sizeof err, "out of memory");
    if (!d || scrim__webhook_emit(c->server, "match", d, err, sizeof err)) {
        if (!c->hook_failures++)
            snprintf(c->hook_error, sizeof c->hook_error, "webhook: %s", err);
    }
    json_decref(d);
}

/* The block-list matches of a lookup's results (one per query: "matches"),
 * each with the query's hash (and, in a batch, the item's index). */
static void emit_lookup(scrim_call *c, json_t *results, int batch)
{
    if (!c->server->webhooks)
        return;
    json_t *all = json_array();
    size_t n = batch ? json_array_size(results) : 1;
    for (size_t i = 0; all && i < n; i++) {
        json_t *r = batch ? json_array_get(results, i) : results;
        json_t *m = json_object_get(r, "matches"), *q = json_object_get(r, "query");
        for (size_t k = 0; k < json_array_size(m); k++) {
            json_t *e = json_copy(json_array_get(m, k));
            if (!e)
                continue;
            if (json_is_string(q))
                json_object_set(e, "query", q);
            if (batch)
                json_object_set_new(e, "item", json_integer((json_int_t)i));
            json_array_append_new(all, e);
        }
    }
    emit_match(c, NULL, all, NULL);
    json_decref(all);
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

    arg_lists lists = {0};

    if (query_opts(c, match, &o) || arg_content_id(c) ||
        (match && arg_lists_parse(c, &lists)))
        return -1;
    o.lists = lists.n ? lists.v : NULL;
    o.nlists = lists.n;
    const char *path = scrim_call_arg(c, "path");
    if (path) {
        if (c->body_len) {
            arg_lists_free(&lists);
            return scrim_call_error(c, 400, "bad_request", "send either a "
                                    "body or ?path=, not both");
        }
        if (read_confined(c, path, &file, &up.len, &held)) {
            scrim__budget_release(srv, held);
            arg_lists_free(&lists);
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
    if (c->content_id[0])
        json_object_set_new(c->json, "content_id", json_string(c->content_id));
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
    if (res.matched && c->server->webhooks) {
        json_t *u = json_pack("{s:s, s:s, s:s}", "kind", h->kind, "md5",
                              up.md5, "sha256", up.sha256);
        emit_match(c, u, res.matches, json_object_get(res.extra, "review"));
        json_decref(u);
    }
    rc = 0;
out:
    if (up.handler && up.handler->free)
        up.handler->free(&up);
    json_decref(res.matches);
    json_decref(res.allowed);
    json_decref(res.extra);
    free(file);
    scrim__budget_release(srv, held);
    arg_lists_free(&lists);
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

/* A hash as a lookup takes it: "pdq:HEX", "md5:HEX", "sha256:HEX", or
 * bare hex (64 digits = PDQ, 32 = MD5).  *type and hex (lowercase, NUL
 * ended); 0, or -1 with a message in err. */
static int parse_hash(const char *t, int type, int *type_out, char hex[65],
                      char *err, size_t errlen)
{
    static const struct { const char *prefix; int type; } pre[] = {
        {"pdq:", SCRIM_HASH_PDQ}, {"md5:", SCRIM_HASH_MD5},
        {"sha256:", SCRIM_HASH_SHA256}};
    for (size_t i = 0; !type && i < sizeof pre / sizeof *pre; i++)
        if (!strncasecmp(t, pre[i].prefix, strlen(pre[i].prefix))) {
            type = pre[i].type;
            t += strlen(pre[i].prefix);
        }
    size_t n = strlen(t);
    if (!type)
        type = n == 32 ? SCRIM_HASH_MD5 : SCRIM_HASH_PDQ;
    size_t want = type == SCRIM_HASH_MD5 ? 32 : 64;
    if (n != want || strspn(t, "0123456789abcdefABCDEF") != want) {
        scrim__seterr(err, errlen, "a %s must be %zu hex digits",
                      scrim_hash_type_name(type), want);
        return -1;
    }
    for (size_t i = 0; i <= want; i++)
        hex[i] = (char)(t[i] >= 'A' && t[i] <= 'F' ? t[i] + 32 : t[i]);
    *type_out = type;
    return 0;
}

/* {"query", "matches", "allowed", "matched"} of the hits m->v[a..b) of one
 * query. */
static json_t *lookup_json(const scrim_matches *m, size_t a, size_t b,
                           const char *hex)
{
    json_t *matches = json_array(), *allowed = json_array();
    for (size_t i = a; i < b; i++)
        json_array_append_new(m->v[i].kind == SCRIM_LIST_ALLOW ? allowed
                                                               : matches,
                              scrim_match_json(&m->v[i]));
    return json_pack("{s:s, s:b, s:o, s:o}", "query", hex, "matched",
                     json_array_size(matches) > 0, "matches", matches,
                     "allowed", allowed);
}

/* GET /v1/lookup?pdq=HEX[&radius=N][&lists=A,B] | ?md5=HEX | ?sha256=HEX */
static int lookup_one(scrim_call *c, scrim_lookup_opts *lo)
{
    const char *pdq = scrim_call_arg(c, "pdq"), *md5 = scrim_call_arg(c, "md5"),
               *sha = scrim_call_arg(c, "sha256");
    scrim_matches m = {0};
    char err[512] = "", hex[65];
    int rc, type;

    if (!!pdq + !!md5 + !!sha != 1)
        return scrim_call_error(c, 400, "bad_request", "give exactly one of "
                                "?pdq=, ?md5=, ?sha256=");
    const char *q = pdq ? pdq : md5 ? md5 : sha;
    if (parse_hash(q, pdq ? SCRIM_HASH_PDQ : md5 ? SCRIM_HASH_MD5
                                               : SCRIM_HASH_SHA256,
                   &type, hex, err, sizeof err))
        return scrim_call_error(c, 400, "bad_request", "?%s=: %s",
                                pdq ? "pdq" : md5 ? "md5" : "sha256", err);
    if (pdq) {
        scrim_pdq h;
        scrim_pdq_from_hex(hex, 64, &h);
        rc = scrim_store_lookup_pdq(c->store, &h, 1, lo, &m, err, sizeof err);
    } else {
        rc = scrim_store_lookup_digest(c->store, type, hex, lo, &m, err,
                                       sizeof err);
    }
    if (rc) {
        scrim_matches_free(&m);
        return scrim__call_fail(c, rc, "lookup failed: %s", err);
    }
    c->json = lookup_json(&m, 0, m.n, hex);
    scrim_matches_free(&m);
    if (!c->json)
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    c->match_count = (int)json_array_size(json_object_get(c->json, "matches"));
    if (c->content_id[0])
        json_object_set_new(c->json, "content_id", json_string(c->content_id));
    emit_lookup(c, c->json, 0);
    return 0;
}

#define LOOKUP_BATCH_MAX 10000

static json_t *item_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static json_t *item_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:{s:s, s:s}}", "error", "code", "bad_request",
                     "message", msg);
}

/* One {"vpdq": TEXT} item: a video as its frames, through the matcher
 * (vPDQ's measure for video entries; images within the radius). */
static json_t *lookup_video(scrim_call *c, json_t *text,
                            const scrim_lookup_opts *lo, int *fail,
                            char *err, size_t errlen)
{
    scrim_vpdq v = {0};
    scrim_vmatch_opts mo;
    json_t *out = NULL;
    if (!json_is_string(text))
        return item_error("\"vpdq\" must be the text of a vPDQ hash "
                          "(FRAME,QUALITY,HASH,SECONDS lines)");
    if (scrim_vpdq_parse(json_string_value(text), json_string_length(text),
                         &v, err, errlen)) {
        out = item_error("vpdq: %s", err);
        goto out;
    }
    if (v.count > (size_t)c->settings->max_compare_frames) {
        out = item_error("vpdq: %zu frames, over the limit of %d "
                         "(--max-compare-frames)", v.count,
                         c->settings->max_compare_frames);
        goto out;
    }
    scrim_vmatch_opts_default(&mo);
    mo.radius = lo->radius;
    mo.min_quality = c->settings->min_quality;
    mo.lists = lo->lists;
    mo.nlists = lo->nlists;
    if ((*fail = scrim_video_match(c->store, &v, NULL, NULL, &mo, &out, err,
                                   errlen)))
        out = NULL;
    else
        json_object_set_new(out, "frames", json_integer((json_int_t)v.count));
out:
    scrim_vpdq_free(&v);
    return out;
}

/* The batch's answer as text: {"results": [...]} (and "content_id"), as
 * json_dumps would write it, but a PDQ without a hit (most items of a large
 * batch) written straight from its hex, with none of jansson's objects; the
 * other items (in results) dumped one by one.  NULL when out of memory. */
typedef struct textbuf {
    char *p;
    size_t n, cap;
    int oom;
} textbuf;

static void tb_add(textbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void tb_json(textbuf *b, const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                JSON_ENCODE_ANY);
    if (!t)
        b->oom = 1;
    else
        tb_add(b, t, strlen(t));
    free(t);
}

static char *batch_text(json_t *results, const char *plain,
                        const char (*hex)[65], const char *content_id,
                        size_t *len)
{
    static const char nohit[] = "\",\"matched\":false,\"matches\":[],"
                                "\"allowed\":[]}";
    size_t n = json_array_size(results);
    textbuf b = {0};
    tb_add(&b, "{\"results\":[", 12);
    for (size_t i = 0; i < n; i++) {
        if (i)
            tb_add(&b, ",", 1);
        if (plain[i]) {
            tb_add(&b, "{\"query\":\"", 10);
            tb_add(&b, hex[i], strlen(hex[i]));
            tb_add(&b, nohit, sizeof nohit - 1);
        } else {
            tb_json(&b, json_array_get(results, i));
        }
    }
    tb_add(&b, "]", 1);
    if (content_id[0]) {
        json_t *id = json_string(content_id);
        tb_add(&b, ",\"content_id\":", 14);
        if (id)
            tb_json(&b, id);
        else
            b.oom = 1;
        json_decref(id);
    }
    tb_add(&b, "}\n", 2);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

/* POST /v1/lookup: a JSON array of hashes (lookup_one's forms as text, or
 * {"pdq": HEX} / {"vpdq": TEXT}) -> {"results": [one per item, in order]}.
 * Every PDQ of the batch is looked up in one store call (one read
 * transaction, the list table read once), which is what makes a batch
 * faster than as many GETs; a malformed item is an error object in its
 * place, the others are answered. */
static int lookup_batch(scrim_call *c, scrim_lookup_opts *lo)
{
    json_error_t je;
    json_t *body = json_loadb((const char *)c->body, c->body_len, 0, &je);
    json_t *results = NULL;
    scrim_pdq *q = NULL;
    size_t *qitem = NULL, nq = 0;
    int *type = NULL;
    char (*hex)[65] = NULL;
    scrim_matches m = {0};
    char err[512] = "", *plain = NULL;
    int rc = -1, matched = 0;

    if (!json_is_array(body)) {
        rc = scrim_call_error(c, 400, "bad_request", "expected a JSON array "
                              "of hashes (\"pdq:HEX\", \"md5:HEX\", "
                              "\"sha256:HEX\", {\"pdq\": HEX}, {\"vpdq\": "
                              "TEXT})%s%s", body ? "" : ": ",
                              body ? "" : je.text);
        goto out;
    }
    size_t n = json_array_size(body);
    if (n > LOOKUP_BATCH_MAX) {
        rc = scrim_call_error(c, 413, "too_large", "%zu items, over the "
                              "limit of %d a request", n, LOOKUP_BATCH_MAX);
        goto out;
    }
    results = json_array();
    q = malloc((n ? n : 1) * sizeof *q);
    qitem = malloc((n ? n : 1) * sizeof *qitem);
    type = calloc(n ? n : 1, sizeof *type);
    hex = malloc((n ? n : 1) * sizeof *hex);
    if (!results || !q || !qitem || !type || !hex) {
        rc = scrim_call_error(c, 500, "no_memory", "out of memory");
        goto out;
    }
    /* First pass: parse; the items that are not PDQs are answered now
     * (digests, videos, errors), the PDQs gathered for one lookup. */
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(body, i), *r = NULL;
        const char *t = NULL;
        int want = 0;
        if (json_is_string(it)) {
            t = json_string_value(it);
        } else if (json_is_object(it) && json_object_size(it) == 1 &&
                   json_object_get(it, "pdq")) {
            t = json_string_value(json_object_get(it, "pdq"));
            want = SCRIM_HASH_PDQ;
            if (!t)
                r = item_error("\"pdq\" must be a string of 64 hex digits");
        } else if (json_is_object(it) && json_object_size(it) == 1 &&
                   json_object_get(it, "vpdq")) {
            int fail = 0;
            r = lookup_video(c, json_object_get(it, "vpdq"), lo, &fail, err,
                             sizeof err);
            if (fail) {
                rc = scrim__call_fail(c, fail, "item %zu: lookup failed: %s",
                                      i, err);
                goto out;
            }
        } else {
            r = item_error("an item is a hash string (\"pdq:HEX\", "
                           "\"md5:HEX\", \"sha256:HEX\", 64 or 32 hex "
                           "digits) or {\"pdq\": HEX} or {\"vpdq\": TEXT}");
        }
        if (t && !r) {
            if (parse_hash(t, want, &type[i], hex[i], err, sizeof err)) {
                r = item_error("%s", err);
            } else if (type[i] == SCRIM_HASH_PDQ) {
                scrim_pdq_from_hex(hex[i], 64, &q[nq]);
                qitem[nq++] = i;
            } else {
                scrim_matches d = {0};
                if ((rc = scrim_store_lookup_digest(c->store, type[i], hex[i],
                                                    lo, &d, err, sizeof err))) {
                    scrim_matches_free(&d);
                    rc = scrim__call_fail(c, rc, "item %zu: lookup failed: "
                                          "%s", i, err);
                    goto out;
                }
                r = lookup_json(&d, 0, d.n, hex[i]);
                scrim_matches_free(&d);
            }
        }
        if (t && !r && type[i] == SCRIM_HASH_PDQ) {
            json_array_append_new(results, json_null()); /* filled below */
            continue;
        }
        if (!r || json_array_append_new(results, r)) {
            rc = scrim_call_error(c, 500, "no_memory", "out of memory");
            goto out;
        }
    }
    if (nq && (rc = scrim_store_lookup_pdq(c->store, q, nq, lo, &m, err,
                                           sizeof err))) {
        rc = scrim__call_fail(c, rc, "lookup failed: %s", err);
        goto out;
    }
    /* The hits come grouped by query, in query order; a PDQ without any
     * is written as text (batch_text), its place in results left null. */
    if (!(plain = calloc(n ? n : 1, 1))) {
        rc = scrim_call_error(c, 500, "no_memory", "out of memory");
        goto out;
    }
    for (size_t k = 0, a = 0; k < nq; k++) {
        size_t b = a;
        while (b < m.n && m.v[b].query == k)
            b++;
        if (a == b) {
            plain[qitem[k]] = 1;
            continue;
        }
        json_t *r = lookup_json(&m, a, b, hex[qitem[k]]);
        if (!r) {
            rc = scrim_call_error(c, 500, "no_memory", "out of memory");
            goto out;
        }
        json_array_set_new(results, qitem[k], r);
        a = b;
    }
    for (size_t i = 0; i < n; i++)
        matched += (int)json_array_size(
            json_object_get(json_array_get(results, i), "matches"));
    c->raw = batch_text(results, plain, (const char (*)[65])hex,
                        c->content_id, &c->raw_len);
    if (!c->raw) {
        rc = scrim_call_error(c, 500, "no_memory", "out of memory");
        goto out;
    }
    snprintf(c->content_type, sizeof c->content_type, "application/json");
    c->match_count = matched;
    if (matched)
        emit_lookup(c, results, 1);
    rc = 0;
out:
    json_decref(body);
    json_decref(results);
    scrim_matches_free(&m);
    free(q);
    free(qitem);
    free(type);
    free(hex);
    free(plain);
    return rc;
}

/* /v1/lookup: GET one hash, POST a batch; both take ?radius= (admin or
 * --allow-query-overrides) and ?lists=. */
static int api_lookup(scrim_call *c, void *arg)
{
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    arg_lists lists;
    int rc;

    if (arg_int(c, "radius", 0, SCRIM_MAX_RADIUS, -1, &lo.radius) ||
        overrides_allowed(c, "radius", NULL) || arg_content_id(c))
        return -1;
    if (!c->store)
        return scrim_call_error(c, 503, "no_database", "no database is open");
    if (arg_lists_parse(c, &lists))
        return -1;
    lo.threads = 2; /* a large batch: a helper thread sweeps half */
    lo.lists = lists.n ? lists.v : NULL;
    lo.nlists = lists.n;
    rc = c->method == SCRIM_POST ? lookup_batch(c, &lo) : lookup_one(c, &lo);
    arg_lists_free(&lists);
    return rc;
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
    json_t *wh = scrim__webhooks_health(srv);
    if (wh)
        json_object_set_new(c->json, "webhooks", wh);
    if (srv->cluster) {
        /* not ready (503) until in step with the cluster's change log once
         * since start-up: a load balancer sends it nothing before */
        int ready;
        json_object_set_new(c->json, "cluster",
                            scrim__cluster_health(srv, &ready));
        if (!ready && !srv->draining) {
            json_object_set_new(c->json, "status", json_string("starting"));
            c->status = 503;
        }
    }
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
        (rc = scrim_server_route(srv, "lookup", SCRIM_GET | SCRIM_POST,
                                 "/v1/lookup",
                                 SCRIM_ROUTE_WORKER, api_lookup, NULL)) ||
        (rc = scrim_server_route(srv, "healthz", SCRIM_GET, "/healthz", 0,
                                 api_healthz, NULL)) ||
        (rc = scrim_server_route(srv, "metrics", SCRIM_GET, "/metrics", 0,
                                 api_metrics, NULL)) ||
        (rc = scrim__openapi_register(srv)))
        return rc;
    return SCRIM_OK;
}
