/* http.c - scrimd's transport: listeners (Unix socket, TCP), the
 * request life cycle (route, authorise, queue to a worker, time out, reply,
 * log, count), signals (drain, reload) and the server object. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>

double scrim__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ==== settings snapshots ==================================================== */

scrim__settings_ref *scrim__settings_ref_new(const scrim_settings *s,
                                             char *err, size_t errlen)
{
    scrim__settings_ref *r = calloc(1, sizeof *r);
    if (!r) {
        scrim__seterr(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->s = *s;
    if (r->s.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        r->s.threads = n > 0 ? (n > 256 ? 256 : (int)n) : 1;
    }
    if (r->s.queue <= 0)
        r->s.queue = 16 * r->s.threads;
    /* Checked here so that a bad file stops a start or a reload; requests
     * read it again when it changes (tokens.c). */
    if (s->admin_token_file[0] &&
        scrim__token_read(s->admin_token_file, r->admin_token,
                          sizeof r->admin_token, err, errlen))
        goto fail;
    for (int i = 0; i < s->n_allow_path; i++) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(s->allow_path[i], real) || stat(real, &st) ||
            !S_ISDIR(st.st_mode)) {
            scrim__seterr(err, errlen, "--allow-path %s: not an existing "
                          "directory", s->allow_path[i]);
            goto fail;
        }
        if (strlen(real) >= SCRIM_SETTINGS_PATH_MAX) {
            scrim__seterr(err, errlen, "--allow-path %s: resolved path too "
                          "long", s->allow_path[i]);
            goto fail;
        }
        memcpy(r->allow_real[r->n_allow_real++], real, strlen(real) + 1);
    }
    return r;
fail:
    free(r);
    return NULL;
}

void scrim__settings_ref_put(scrim__settings_ref *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        free(r);
}

int scrim__token_equal(const char *given, size_t given_len, const char *want)
{
    size_t wl = strlen(want);
    unsigned char diff = (unsigned char)(given_len != wl);
    /* Always walk the expected token's length: time does not depend on
     * where the first difference is. */
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < given_len ? given[i] : 0));
    return diff == 0;
}

/* ==== calls ================================================================= */

typedef struct call_job {
    scrim__pool_item item;        /* first: the pool links through it */
    scrim_call call;
    scrim_server *srv;
    struct evhttp_request *req;   /* NULL once answered */
    scrim__route *route;
    scrim__settings_ref *set;
    struct evkeyvalq query;
    int query_ok;
    char *path;
    uint8_t *body;
    struct event *timer;
    atomic_int cancelled;         /* timed out before a worker took it */
    atomic_int running;           /* a worker took it (jobs.c reads it) */
    int admin;                    /* on the admin thread: a job past its wait */
    scrim__job *jb;               /* answered 202: its job (jobs.c) */
    int queued;                   /* with the pool: only done() frees it */
    double t0;
    char method_name[8];
    char *authorization;          /* the header, for scrim_call_header */
    char *content_id;             /* X-Content-Id, the same */
    uint64_t held;                /* of the memory budget: its body */
    uint64_t client;              /* its client's key (fair queue, limit) */
    char client_name[80];         /* ... and name */
    int counted;                  /* in srv->inflight (loop thread) */
    int may_move;                 /* on an image worker: may move to the
                                   * heavy or the video workers */
    scrim__pool *pool;            /* the pool it is queued with */
    scrim__pool *move_to;         /* run it again there (job_done) */
    struct evbuffer *inbuf;       /* its body, until a worker takes it */
    int decodes;                  /* scrim_call_decode_opts() calls so far */
    atomic_int move;              /* its first decode is big: to the heavy
                                   * workers (scrim__call_decode_note) */
    uint64_t decoded;             /* bytes its decodes reserved, in all */
    struct { char name[32], value[64]; } reply_headers[4];
    int n_reply_headers;          /* scrim_call_reply_header() */
} call_job;

int scrim_call_reply_header(scrim_call *c, const char *name, const char *value)
{
    call_job *j = c->priv_;
    if (!j || !name || !value || j->n_reply_headers == 4 ||
        strlen(name) >= sizeof j->reply_headers[0].name ||
        strlen(value) >= sizeof j->reply_headers[0].value ||
        strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return SCRIM_EINVAL;
    snprintf(j->reply_headers[j->n_reply_headers].name,
             sizeof j->reply_headers[0].name, "%s", name);
    snprintf(j->reply_headers[j->n_reply_headers].value,
             sizeof j->reply_headers[0].value, "%s", value);
    j->n_reply_headers++;
    return SCRIM_OK;
}

const char *scrim_call_header(const scrim_call *c, const char *name)
{
    call_job *j = c->priv_;
    if (!j || !name)
        return NULL;
    return !strcasecmp(name, "Authorization") ? j->authorization
           : !strcasecmp(name, "X-Content-Id") ? j->content_id : NULL;
}

const char *scrim_call_arg(const scrim_call *c, const char *name)
{
    call_job *j = c->priv_;
    return j && j->query_ok ? evhttp_find_header(&j->query, name) : NULL;
}

/* scrim_call_error with the message's arguments in a va_list. */
static int call_verror(scrim_call *c, int status, const char *code,
                       const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int call_verror(scrim_call *c, int status, const char *code,
                       const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    c->status = status;
    snprintf(c->error_code, sizeof c->error_code, "%s", code);
    json_decref(c->json);
    /* The message may quote the request (a path, a name), and JSON holds
     * only UTF-8: without this the client got an empty {}. */
    scrim__utf8_scrub(msg);
    c->json = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    free(c->raw);
    c->raw = NULL;
    switch (status) {
    case 400: return SCRIM_EINVAL;
    case 404: return SCRIM_ENOTFOUND;
    case 413: return SCRIM_ETOOBIG;
    case 415: return SCRIM_EFORMAT;
    case 504: return SCRIM_ETIMEOUT;
    default: return SCRIM_EINVAL;
    }
}

int scrim_call_error(scrim_call *c, int status, const char *code,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = call_verror(c, status, code, fmt, ap);
    va_end(ap);
    return rc;
}

/* SCRIM_E* -> HTTP, for every endpoint.  400 is "bad_request" (the code the
 * README's clients and the tests know), not the library's "invalid". */
static const scrim__http_error http_errors[] = {
    {SCRIM_OK, 200, "ok"},
    {SCRIM_EINVAL, 400, "bad_request"},
    {SCRIM_ENOMEM, 500, "no_memory"},
    {SCRIM_EIO, 500, "io"},
    {SCRIM_EFORMAT, 415, "unsupported"},
    {SCRIM_ETOOBIG, 413, "too_large"},
    {SCRIM_ECORRUPT, 415, "corrupt"},
    {SCRIM_EDB, 500, "database"},
    {SCRIM_ENOTFOUND, 404, "not_found"},
    {SCRIM_EEXIST, 409, "exists"},
    {SCRIM_ETIMEOUT, 504, "timeout"},
    {SCRIM_EBUSY, 503, "busy"},
};

const scrim__http_error *scrim__http_error_of(int rc)
{
    static const scrim__http_error unknown = {0, 500, "internal"};
    for (size_t i = 0; i < sizeof http_errors / sizeof http_errors[0]; i++)
        if (http_errors[i].rc == rc)
            return &http_errors[i];
    return &unknown;
}

int scrim__call_fail(scrim_call *c, int rc, const char *fmt, ...)
{
    const scrim__http_error *e = scrim__http_error_of(rc);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return scrim_call_error(c, e->status, e->code, "%s",
                            msg[0] ? msg : scrim_strerror(rc));
}

int scrim_http_status_of(int e)
{
    return scrim__http_error_of(e)->status;
}

static const char *method_name(int m)
{
    switch (m) {
    case SCRIM_GET: return "GET";
    case SCRIM_POST: return "POST";
    case SCRIM_PUT: return "PUT";
    case SCRIM_DELETE: return "DELETE";
    case SCRIM_HEAD: return "HEAD";
    default: return "OTHER";
    }
}

static void job_free(call_job *j)
{
    if (!j)
        return;
    if (j->timer)
        event_free(j->timer);
    if (j->query_ok)
        evhttp_clear_headers(&j->query);
    json_decref(j->call.json);
    free(j->call.raw);
    free(j->path);
    scrim__body_free(j->body, j->call.body_len + 1);
    if (j->inbuf)
        evbuffer_free(j->inbuf);
    free(j->authorization);
    free(j->content_id);
    scrim__budget_release(j->srv, j->held);
    scrim__settings_ref_put(j->set);
    free(j);
}

static void drain_check(scrim_server *srv);

static void reply_done(struct evhttp_request *req, void *arg)
{
    scrim_server *srv = arg;
    srv->flushing--;
    if (srv->draining)
        drain_check(srv);
}

static void conn_answered(scrim_server *srv, struct evhttp_request *req);

/* Write the call's answer, its log line and its metrics.  Loop thread. */
static void respond(call_job *j, scrim_call *c)
{
    scrim_server *srv = j->srv;
    struct evhttp_request *req = j->req;
    int status = c->status ? c->status : 200;
    struct evbuffer *out = evbuffer_new();
    size_t out_len = 0;
    char idbuf[32];

    if (c->raw) {
        evbuffer_add(out, c->raw, c->raw_len);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", c->content_type[0] ? c->content_type
                                                             : "application/octet-stream");
        /* a handler's own headers go with its raw body only (an error
         * answered after setting them drops them with the body) */
        for (int i = 0; i < j->n_reply_headers; i++)
            evhttp_add_header(evhttp_request_get_output_headers(req),
                              j->reply_headers[i].name, j->reply_headers[i].value);
    } else {
        if (!c->json)
            c->json = json_object();
        char *text = json_dumps(c->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text) {
            evbuffer_add(out, text, strlen(text));
            evbuffer_add(out, "\n", 1);
            free(text);
        }
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "application/json");
    }
    out_len = evbuffer_get_length(out);
    /* evhttp leaves Content-Length out of its answers to HEAD and CONNECT
     * but still sends the body it is given, and keeps a CONNECT's
     * connection open: the client would read the body as the start of the
     * next answer (fuzz_transport).  The length is said here, and an
     * answer to HEAD has no body. */
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd == EVHTTP_REQ_HEAD || cmd == EVHTTP_REQ_CONNECT) {
        char lenbuf[32];
        snprintf(lenbuf, sizeof lenbuf, "%zu", out_len);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Length", lenbuf);
        if (cmd == EVHTTP_REQ_HEAD) {
            evbuffer_drain(out, out_len);
            out_len = 0;
        }
    }
    snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)c->id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id",
                      idbuf);
    scrim__guard_reply_headers(evhttp_request_get_output_headers(req));
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Bearer");
    if (status == 503 || status == 429)
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", "1");
    /* Counted until the reply is written (reply_done), so a drain waits
     * for it.  libevent gives no callback when the client is gone by the
     * time the reply is written, so drain_check() bounds that wait. */
    conn_answered(srv, req);
    if (evhttp_request_get_connection(req)) {
        srv->flushing++;
        evhttp_request_set_on_complete_cb(req, reply_done, srv);
    }
    evhttp_send_reply(req, status, NULL, out);
    srv->last_reply = scrim__now();
    evbuffer_free(out);
    j->req = NULL;

    double ms = (scrim__now() - j->t0) * 1000;
    scrim__metrics_request(j->route ? &j->route->stats : &srv->unrouted,
                           status, ms);
    srv->metrics.bytes_received_total += c->body_len;
    srv->metrics.bytes_sent_total += out_len;
    if (c->error_code[0])
        scrim__metrics_error(&srv->metrics, c->error_code);
    if (status == 503)
        srv->metrics.queue_rejected_total++;
    if (status == 504)
        srv->metrics.timeouts_total++;
    if (c->hook_failures) {
        srv->metrics.hook_failures_total += (uint64_t)c->hook_failures;
        scrim__metrics_error(&srv->metrics, "hook");
    }
    json_t *matches = c->json ? json_object_get(c->json, "matches") : NULL;
    for (size_t i = 0; matches && i < json_array_size(matches); i++) {
        const char *list = json_string_value(
            json_object_get(json_array_get(matches, i), "list"));
        scrim__metrics_match(&srv->metrics, list ? list : "?");
    }

    /* the path as sent may not be UTF-8: without this the line was lost */
    char *path = strdup(c->path ? c->path : "");
    if (path)
        scrim__utf8_scrub(path);
    json_t *line = json_pack("{s:I, s:s, s:s, s:s, s:i, s:I, s:I, s:f}",
                             "id", (json_int_t)c->id, "method", j->method_name,
                             "endpoint", j->route ? j->route->name : "unrouted",
                             "path", path ? path : "?", "status", status,
                             "bytes_in", (json_int_t)c->body_len, "bytes_out",
                             (json_int_t)out_len, "ms", ms);
    free(path);
    if ((c->json && json_object_get(c->json, "matches")) || c->match_count)
        json_object_set_new(line, "matches", json_integer(c->match_count));
    if (c->content_id[0])
        json_object_set_new(line, "content_id", json_string(c->content_id));
    if (c->hook_failures)
        json_object_set_new(line, "hook_error", json_string(c->hook_error));
    if (c->error_code[0]) {
        json_t *e = json_object_get(json_object_get(c->json, "error"), "message");
        json_object_set_new(line, "error", json_string(c->error_code));
        if (e)
            json_object_set(line, "message", e);
    }
    scrim__log_json(line);
}

/* ---- per client: requests queued or running (loop thread) ---------------- */

static void client_done(scrim_server *srv, call_job *j)
{
    gpointer n = g_hash_table_lookup(srv->inflight, &j->client);
    if (n && GPOINTER_TO_INT(n) > 1)
        g_hash_table_insert(srv->inflight, g_memdup2(&j->client, sizeof j->client),
                            GINT_TO_POINTER(GPOINTER_TO_INT(n) - 1));
    else
        g_hash_table_remove(srv->inflight, &j->client);
    j->counted = 0;
}

static int client_count(scrim_server *srv, uint64_t key)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(srv->inflight, &key));
}

static void client_add(scrim_server *srv, call_job *j)
{
    int n = client_count(srv, j->client);
    g_hash_table_insert(srv->inflight, g_memdup2(&j->client, sizeof j->client),
                        GINT_TO_POINTER(n + 1));
    j->counted = 1;
}

/* A request the loop answers at once (errors before any work). */
static void respond_error_now(call_job *j, int status, const char *code,
                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_error_now(call_job *j, int status, const char *code,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call_verror(&j->call, status, code, fmt, ap);
    va_end(ap);
    respond(j, &j->call);
}

/* Requests whose body and decodes reached this are followed by malloc_trim. */
#define TRIM_FROM (4u << 20)

static atomic_llong last_trim_ms;
static atomic_int trim_owed;   /* a trim was skipped: one is due */

/* malloc_trim unless one ran less than a second ago: 1 if it ran. */
static int trim_now(void)
{
    long long now = (long long)(scrim__now() * 1000), last = atomic_load(&last_trim_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&last_trim_ms, &last, now))
        return 0;
    atomic_store(&trim_owed, 0);
    malloc_trim(0);
    return 1;
}

/* On the loop, a second after a skipped trim: the memory of the last big
 * requests goes back too. */
static void trim_later(evutil_socket_t fd, short what, void *arg)
{
    if (atomic_load(&trim_owed) && !trim_now()) {
        struct timeval tv = {1, 0};
        evtimer_add(((scrim_server *)arg)->trim_ev, &tv);
    }
}

/* The call's own copy of its body, taken from `from` (drained), NUL after
 * it (lets handlers parse JSON text): a worker never touches the
 * connection's buffers, and the connection may go away meanwhile. */
static int body_take(call_job *j, struct evbuffer *from)
{
    j->body = scrim__body_alloc(j->call.body_len + 1);
    if (!j->body)
        return -1;
    evbuffer_remove(from, j->body, j->call.body_len);
    j->body[j->call.body_len] = '\0';
    j->call.body = j->body;
    if (from == j->inbuf) {
        evbuffer_free(j->inbuf);
        j->inbuf = NULL;
    }
    return 0;
}

/* Worker side: run the route's handler unless the call already timed out. */
static void job_run(scrim__pool_item *it)
{
    call_job *j = (call_job *)it;
    if (atomic_load(&j->cancelled))
        return;
    if (j->inbuf && body_take(j, j->inbuf)) {
        scrim_call_error(&j->call, 500, "no_memory", "out of memory");
        return;
    }
    scrim_server *srv = j->srv;
    if (j->may_move && !j->move_to && srv->vpool &&
        scrim_media_sniff(j->body, j->call.body_len) == SCRIM_MEDIA_VIDEO) {
        j->move_to = srv->vpool;   /* a video: on the video workers */
        return;
    }
    atomic_store(&j->running, 1);
    int rc = j->route->fn(&j->call, j->route->arg);
    if (atomic_load(&j->move)) {
        /* Its first decode was big: nothing done yet but that decode's
         * header; the call is run again from scratch on a heavy worker
         * (job_done).  Its answer so far is dropped. */
        scrim_call *c = &j->call;
        json_decref(c->json);
        free(c->raw);
        c->json = NULL;
        c->raw = NULL;
        c->raw_len = 0;
        c->status = 0;
        c->content_type[0] = c->content_id[0] = c->hook_error[0] = '\0';
        c->error_code[0] = '\0';
        c->match_count = c->hook_failures = 0;
        j->n_reply_headers = 0;
        j->decodes = 0;
        atomic_store(&j->move, 0);
        j->move_to = srv->hpool;
        return;
    }
    if (rc && !j->call.error_code[0])
        scrim__call_fail(&j->call, rc, "%s", scrim_strerror(rc));
    /* A big request leaves its memory in malloc's free lists (decodes up to
     * 48 MB come from the heap: tools/scrimd/main.c; a body arrives in
     * thousands of libevent chains of 4 KB); it goes back, so that the
     * process's memory follows what requests hold.  At most once a second:
     * malloc_trim holds each arena's lock while it returns pages, and the
     * loop allocates from the main arena (trimming after each of 24
     * clients' 12 MB bodies took the good client's p99 to 326 ms). */
    if (j->decoded + j->call.body_len >= TRIM_FROM && !trim_now())
        atomic_store(&trim_owed, 1);   /* the loop trims a second later */
}

int scrim__call_decode_note(const scrim_call *c, int64_t bytes)
{
    call_job *j = c ? c->priv_ : NULL;
    if (!j || bytes <= 0)
        return 0;
    if (j->may_move && j->decodes == 1 && !j->decoded && c->settings &&
        (uint64_t)bytes > c->settings->heavy_decode) {
        atomic_store(&j->move, 1);
        return 1;
    }
    j->decoded += (uint64_t)bytes;
    return 0;
}

void scrim__call_decode_begin(const scrim_call *c)
{
    call_job *j = c ? c->priv_ : NULL;
    if (j)
        j->decodes++;
}

/* Loop side: a worker finished (or skipped) the call. */
static void job_done(scrim__pool_item *it, void *arg)
{
    call_job *j = (call_job *)it;
    if (j->move_to) {
        scrim_server *srv = arg;
        scrim__pool *to = j->move_to;
        j->move_to = NULL;
        j->may_move = 0;
        if (!j->req || atomic_load(&j->cancelled)) {
            ;   /* timed out meanwhile: nothing to run */
        } else if (!scrim__pool_submit(to, &j->item)) {
            j->pool = to;
            if (to == srv->hpool)
                srv->heavy_moved_total++;
            return;   /* job_done() again when that worker is done */
        } else {
            scrim_call_error(&j->call, 503, "queue_full", "all %d %s workers "
                             "are busy and %d requests are waiting; retry "
                             "later", scrim__pool_threads(to),
                             to == srv->hpool ? "heavy" : "video",
                             scrim__pool_depth(to));
        }
    }
    if (j->counted)
        client_done(arg, j);
    scrim_server *tsrv = arg;
    if (atomic_load(&trim_owed) && tsrv->trim_ev &&
        !evtimer_pending(tsrv->trim_ev, NULL)) {
        struct timeval tv = {1, 0};
        evtimer_add(tsrv->trim_ev, &tv);
    }
    if (j->req)
        respond(j, &j->call);
    if (j->jb)
        scrim__job_finish(arg, j->jb, &j->call);
    job_free(j);
    scrim_server *srv = arg;
    if (srv->draining)
        drain_check(srv);
}

/* An admin call past --admin-wait is never cancelled (it would commit
 * anyway, or never start while the client thinks it failed): it is
 * answered 202 with a job, which job_done() completes.  If no job can be
 * made, the client waits for the real answer. */
static void job_detach(call_job *j)
{
    scrim_call t = {.id = j->call.id, .path = j->call.path,
                    .body_len = j->call.body_len};
    j->jb = scrim__job_start(j->srv, j->method_name, j->path, j->call.id,
                             &j->running, &t);
    if (j->jb) {
        evhttp_add_header(evhttp_request_get_output_headers(j->req), "Location",
                          json_string_value(json_object_get(t.json, "url")));
        respond(j, &t);
    }
    json_decref(t.json);
}

static void job_timeout(evutil_socket_t fd, short what, void *arg)
{
    call_job *j = arg;
    if (j->admin) {
        if (j->req)
            job_detach(j);
        return;
    }
    atomic_store(&j->cancelled, 1);
    if (!j->req)
        return;
    /* The worker may still be running and writing j->call's output: the
     * 504 is built on a call of its own; job_done() drops the late result. */
    scrim_call t = {.id = j->call.id, .path = j->call.path,
                    .body_len = j->call.body_len};
    scrim_call_error(&t, 504, "timeout", "no answer within the request "
                     "timeout of %g s", j->set->s.request_timeout);
    respond(j, &t);
    json_decref(t.json);
}

static const char *other_method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "the request's method";
    }
}

static int method_of(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return SCRIM_GET;
    case EVHTTP_REQ_POST: return SCRIM_POST;
    case EVHTTP_REQ_PUT: return SCRIM_PUT;
    case EVHTTP_REQ_DELETE: return SCRIM_DELETE;
    case EVHTTP_REQ_HEAD: return SCRIM_HEAD;
    default: return 0;
    }
}

static scrim__route *route_find(scrim_server *srv, const char *path,
                                int method, const char **tail, int *wrong_method)
{
    *wrong_method = 0;
    for (int i = 0; i < srv->n_routes; i++) {
        scrim__route *r = &srv->routes[i];
        size_t n = strlen(r->path);
        int hit = (r->flags & SCRIM_ROUTE_PREFIX)
                      ? !strncmp(path, r->path, n) && path[n]
                      : !strcmp(path, r->path);
        if (!hit)
            continue;
        if (!(r->methods & method)) {
            *wrong_method = 1;
            continue;
        }
        *tail = path + ((r->flags & SCRIM_ROUTE_PREFIX) ? n : strlen(path));
        return r;
    }
    return NULL;
}

/* Admin authorisation; returns 0 when allowed, else answers and returns -1. */
static int authorise(call_job *j)
{
    if (!scrim__admin_check(j->srv, &j->set->s, j->authorization, &j->call))
        return 0;
    respond(j, &j->call);
    return -1;
}

int scrim_call_is_admin(const scrim_call *c)
{
    call_job *j = c->priv_;
    const char *tok = j && j->set ? j->set->admin_token : "";
    const char *h = j ? j->authorization : NULL;
    if (!tok[0] || !h || strncasecmp(h, "Bearer ", 7))
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return scrim__token_equal(h, strlen(h), tok);
}

/* ==== slow clients: a whole request within --receive-timeout ============= */

/* evhttp's timeout (--idle-timeout) starts again with every byte, so a client
 * that sends a byte a second would hold its connection for ever.  Every
 * connection's input buffer reports what arrives: the first byte of a request
 * starts its clock, and once less than --idle-timeout is left of
 * --receive-timeout the bufferevent's read timeout is cut to what is left, so
 * that evhttp itself closes the connection (as for silence) when time is up.
 * handle_request() stops the clock.  A connection closed with a request part
 * received gets a log line and counts under scrim_errors_total.
 *
 * The bufferevent is ours (evhttp_set_bevcb); its evhttp_connection, for the
 * close callback, is the callback argument evhttp gives the bufferevent
 * (libevent 2.1 has no hook for new server connections).  Until conn_setup()
 * has run, one loop turn after the accept, a reference of ours keeps the
 * bufferevent alive in case evhttp frees the connection first. */
typedef struct {
    scrim_server *srv;
    struct bufferevent *bev;
    struct evbuffer_cb_entry *watch;   /* conn_input() on the input buffer */
    int tracked;                       /* conn_setup() done: closed by conn_closed() */
    int cut;                           /* read timeout shortened */
    double start, last;                /* first and latest byte of the request; 0: none */
    int busy;                          /* requests handed over, not yet answered */
    double quiet;                      /* idle since (accepted, or last answer) */
    uint64_t bytes;                    /* of it so far */
    scrim__framing *framing;           /* its strict scan (guard.c) */
    scrim__body body;                  /* its body in the memory budget (budget.c) */
} scrim__conn;

static struct timeval tv_of(double s)
{
    if (s < 0.001)
        s = 0.001;
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (time_t)s) * 1e6)};
    return tv;
}

/* Stop watching the input buffer and free the state (not the bufferevent). */
static void conn_release(scrim__conn *c)
{
    scrim__body_closed(c->srv, &c->body);
    if (c->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    scrim__framing_free(c->framing);
    free(c);
}

static void conn_forget(scrim__conn *c)
{
    g_hash_table_remove(c->srv->conns, c->bev);
    conn_release(c);
}

static void conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                       void *arg)
{
    scrim__conn *c = arg;
    if (!info->n_added)
        return;
    scrim__framing_feed(c->framing, buf, info->n_added);
    const scrim_settings *s = &c->srv->cur->s;
    double now = scrim__now();
    if (!c->start) {
        c->start = now;
        c->bytes = 0;
    }
    c->last = now;
    c->bytes += info->n_added;
    double left = c->start + s->receive_timeout - now;
    if (left < s->idle_timeout) {
        struct timeval r = tv_of(left), w = tv_of(s->idle_timeout);
        bufferevent_set_timeouts(c->bev, &r, &w);
        c->cut = 1;
    }
    scrim__body_input(c->srv, &c->body, buf, info->n_added,
                      c->start + s->receive_timeout);
}

static scrim__conn *conn_of(scrim_server *srv, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? g_hash_table_lookup(srv->conns, bev) : NULL;
}

/* Its request is answered: idle from now (unless another is in hand). */
static void conn_answered(scrim_server *srv, struct evhttp_request *req)
{
    scrim__conn *cn = conn_of(srv, req);
    if (cn) {
        if (cn->busy)
            cn->busy--;
        cn->quiet = scrim__now();
    }
}

/* A request arrived whole: its clock stops, the idle timeout is back.
 * Returns the bytes of the memory budget its call holds from now on. */
static uint64_t conn_request_done(scrim_server *srv, struct evhttp_request *req)
{
    scrim__conn *c = conn_of(srv, req);
    struct bufferevent *bev = c ? c->bev : NULL;
    if (!c)
        return 0;
    c->start = 0;
    if (c->cut) {
        struct timeval tv = tv_of(srv->cur->s.idle_timeout);
        bufferevent_set_timeouts(bev, &tv, &tv);
        c->cut = 0;
    }
    return scrim__body_done(srv, &c->body,
                            evbuffer_get_length(evhttp_request_get_input_buffer(req)),
                            bufferevent_get_input(bev),
                            scrim__now() + srv->cur->s.receive_timeout);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    scrim__conn *c = arg;
    scrim_server *srv = c->srv;
    if (c->start) {
        const scrim_settings *s = &srv->cur->s;
        double now = scrim__now();
        const char *kind = "incomplete", *why = "the client closed it or sent "
                                                "what evhttp refused";
        if (now - c->start >= s->receive_timeout - 0.01) {
            kind = "receive_timeout";
            why = "not received whole within --receive-timeout";
        } else if (now - c->last >= s->idle_timeout - 0.01) {
            kind = "idle_timeout";
            why = "silent for --idle-timeout mid-request";
        }
        char *host = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evcon, &host, &port);
        scrim__log_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:f}", "level",
                                  "warn", "msg", "connection closed mid-request",
                                  "error", kind, "why", why, "peer",
                                  host ? host : "", "bytes_in", (json_int_t)c->bytes,
                                  "seconds", now - c->start));
        scrim__metrics_error(&srv->metrics, kind);
    }
    conn_forget(c);
    scrim__accept_closed(srv); /* a descriptor is free */
}

static void conn_setup(evutil_socket_t fd, short what, void *arg)
{
    scrim__conn *c = arg;
    struct bufferevent *bev = c->bev;
    void *evcon = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
    if (evcon) {   /* bufferevent_free() clears it */
        c->tracked = 1;
        evhttp_connection_set_closecb(evcon, conn_closed, c);
    } else {
        conn_forget(c);
    }
    bufferevent_decref(bev);
}

static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
    scrim_server *srv = arg;
    /* as evhttp makes them itself */
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    scrim__conn *c = bev ? calloc(1, sizeof *c) : NULL;
    if (!c)
        return bev;   /* not watched: only --idle-timeout applies */
    c->srv = srv;
    c->bev = bev;
    c->quiet = scrim__now();
    c->framing = scrim__framing_new();   /* NULL: the header checks only */
    scrim__body_init(&c->body, bev);
    struct timeval now = {0, 0};
    if (!(c->watch = evbuffer_add_cb(bufferevent_get_input(bev), conn_input, c)) ||
        event_base_once(base, -1, EV_TIMEOUT, conn_setup, c, &now)) {
        conn_release(c);
        return bev;
    }
    bufferevent_incref(bev);
    g_hash_table_insert(srv->conns, bev, c);
    return bev;
}

static gboolean conn_drop(gpointer bev, gpointer c, gpointer unused)
{
    int ours = !((scrim__conn *)c)->tracked;
    conn_release(c);
    if (ours)
        bufferevent_decref(bev);
    return TRUE;
}

/* At exit, after evhttp_free(): connections accepted in the loop's last turn,
 * never set up, hold our reference still. */
static void conns_free(scrim_server *srv)
{
    if (!srv->conns)
        return;
    g_hash_table_foreach_remove(srv->conns, conn_drop, NULL);
    g_hash_table_destroy(srv->conns);
    srv->conns = NULL;
}

/* ---- out of descriptors: the idle connections go first ----------------- */

static int quiet_order(const void *a, const void *b)
{
    double x = (*(scrim__conn *const *)a)->quiet, y = (*(scrim__conn *const *)b)->quiet;
    return x < y ? -1 : x > y;
}

int scrim__conns_shed(scrim_server *srv, int max)
{
    guint n = g_hash_table_size(srv->conns);
    scrim__conn **idle = n ? malloc(n * sizeof *idle) : NULL;
    GHashTableIter it;
    gpointer k, v;
    int k_idle = 0, shed = 0;
    if (!idle)
        return 0;
    g_hash_table_iter_init(&it, srv->conns);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        scrim__conn *c = v;
        /* between requests: nothing arriving, nothing being answered or
         * written, no body waiting for the budget */
        if (c->tracked && !c->start && !c->busy && !c->body.waiting &&
            !c->body.reserved &&
            !evbuffer_get_length(bufferevent_get_output(c->bev)))
            idle[k_idle++] = c;
    }
    qsort(idle, (size_t)k_idle, sizeof *idle, quiet_order);
    for (int i = 0; i < k_idle && shed < max; i++) {
        void *evcon = NULL;
        bufferevent_getcb(idle[i]->bev, NULL, NULL, NULL, &evcon);
        if (!evcon)
            continue;
        evhttp_connection_free(evcon);   /* conn_closed() forgets it */
        shed++;
    }
    free(idle);
    return shed;
}

static void handle_request(struct evhttp_request *req, void *arg)
{
    scrim_server *srv = arg;
    scrim__conn *busy_conn = conn_of(srv, req);
    if (busy_conn)
        busy_conn->busy++;
    uint64_t held = conn_request_done(srv, req);
    call_job *j = calloc(1, sizeof *j);
    if (!j) {
        scrim__budget_release(srv, held);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    j->held = held;
    j->t0 = scrim__now();
    j->srv = srv;
    j->req = req;
    j->set = srv->cur;
    atomic_fetch_add(&j->set->refs, 1);
    j->call.id = ++srv->next_id;
    j->call.deadline = j->t0 + j->set->s.request_timeout;
    scrim__peer_name(req, j->call.peer, sizeof j->call.peer);
    j->call.priv_ = j;
    j->call.server = srv;
    j->call.store = srv->store;
    j->call.settings = &j->set->s;
    j->call.method = method_of(evhttp_request_get_command(req));
    snprintf(j->method_name, sizeof j->method_name, "%s",
             method_name(j->call.method));

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    size_t plen = 0;
    j->path = evhttp_uridecode(raw_path && *raw_path ? raw_path : "/", 0, &plen);
    j->call.path = j->path;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    j->call.body_len = evbuffer_get_length(in);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req),
                                          "Authorization");
    j->authorization = auth ? strdup(auth) : NULL;
    const char *cid = evhttp_find_header(evhttp_request_get_input_headers(req),
                                         "X-Content-Id");
    j->content_id = cid ? strdup(cid) : NULL;

    scrim__conn *cn = conn_of(srv, req);
    if (cn)
        scrim__framing_mark(cn->framing, bufferevent_get_input(cn->bev));
    int close_conn;
    if (scrim__guard_request(cn ? cn->framing : NULL, req, &j->set->s, &j->call,
                             &close_conn)) {
        if (close_conn)
            evhttp_add_header(evhttp_request_get_output_headers(req),
                              "Connection", "close");
        respond(j, &j->call);
        goto done;
    }
    if (!j->path || strlen(j->path) != plen || strcspn(j->path, "\r\n") != plen) {
        respond_error_now(j, 400, "bad_request", "malformed request path");
        goto done;
    }
    j->query.tqh_first = NULL;   /* TAILQ_INIT, without <sys/queue.h> */
    j->query.tqh_last = &j->query.tqh_first;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (evhttp_parse_query_str(q ? q : "", &j->query)) {
        j->query_ok = 1;
        respond_error_now(j, 400, "bad_request", "malformed query string");
        goto done;
    }
    j->query_ok = 1;
    if (!j->call.method) {
        /* nothing after it is read: evhttp may frame it otherwise */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
                          "close");
        respond_error_now(j, 405, "method_not_allowed", "%s is not supported: "
                          "scrimd answers GET, HEAD, POST, PUT and DELETE",
                          other_method_name(evhttp_request_get_command(req)));
        goto done;
    }
    int wrong_method;
    const char *tail = "";
    j->route = route_find(srv, j->path, j->call.method, &tail, &wrong_method);
    j->call.tail = tail;
    if (!j->route) {
        if (wrong_method)
            respond_error_now(j, 405, "method_not_allowed", "%s is not allowed "
                              "on %s", j->method_name, j->path);
        else
            respond_error_now(j, 404, "not_found", "no endpoint %s", j->path);
        goto done;
    }
    if (scrim__guard_cross_site(req, &j->set->s, j->call.method,
                                j->route->flags, &j->call)) {
        respond(j, &j->call);
        goto done;
    }
    if ((j->route->flags & SCRIM_ROUTE_ADMIN) && authorise(j))
        goto done;
    if (srv->draining) {
        respond_error_now(j, 503, "shutting_down", "scrimd is shutting down");
        goto done;
    }

    if (!(j->route->flags & SCRIM_ROUTE_WORKER)) {
        if (body_take(j, in)) {
            respond_error_now(j, 500, "no_memory", "out of memory");
            goto done;
        }
        job_run(&j->item);
        respond(j, &j->call);
        goto done;
    }
    /* One client may have so many requests queued or running, and the
     * workers take the clients in turn (pool.c): a flood from one client
     * waits behind itself, and past its limit is refused before its body
     * is even looked at. */
    scrim__client_name(req, scrim_call_is_admin(&j->call), j->client_name,
                       sizeof j->client_name);
    j->client = scrim__client_key(j->client_name);
    j->item.client = j->client;
    int mine = client_count(srv, j->client);
    int limit = j->set->s.client_requests;
    if (limit <= 0) {
        /* By default a client's share of the queue and the workers: all
         * of it for a lone client (an upload service's one process, or
         * HAProxy in front), an equal part when others are waiting too,
         * and never less than 4 per worker. */
        int threads = scrim__pool_threads(srv->pool);
        int room = threads + (j->set->s.queue > 0 ? j->set->s.queue : 16 * threads);
        int active = (int)g_hash_table_size(srv->inflight) + (mine ? 0 : 1);
        limit = room / active;
        if (limit < 4 * threads)
            limit = 4 * threads;
    }
    if (mine >= limit) {
        srv->client_refused_total++;
        respond_error_now(j, 429, "too_many_requests", "this client (%s) has "
                          "%d requests queued or running, the most one client "
                          "may have now (--client-requests %d%s); retry when "
                          "one has been answered", j->client_name, mine, limit,
                          j->set->s.client_requests > 0 ? "" : ", its share "
                          "while other clients wait");
        goto done;
    }
    /* The body's bytes pass to the call as they are (libevent's chain of
     * buffers, moved, not copied): the worker makes them one block.  A
     * 12 MB body copied on the loop, into fresh pages, held every other
     * connection for milliseconds (bench/attacks.sh bigbodies). */
    if (!(j->inbuf = evbuffer_new())) {
        respond_error_now(j, 500, "no_memory", "out of memory");
        goto done;
    }
    evbuffer_add_buffer(j->inbuf, in);
    /* Video routes (/v1/compare) have their own workers (--video-threads),
     * and so do videos (an image worker that finds one moves it there):
     * a long one never holds up the images behind it.  Admin requests have
     * their own thread: an import or drop, and its wait for LMDB's one
     * writer, never takes an image worker. */
    scrim__pool *pool = srv->pool;
    if (j->route->flags & SCRIM_ROUTE_ADMIN)
        pool = srv->apool;
    else if (srv->vpool && (j->route->flags & SCRIM_ROUTE_VIDEO))
        pool = srv->vpool;
    j->pool = pool;
    j->may_move = pool == srv->pool;
    if (scrim__pool_submit(pool, &j->item)) {
        respond_error_now(j, 503, "queue_full", "all %d %sworkers are busy and "
                          "%d requests are waiting; retry later",
                          scrim__pool_threads(pool),
                          pool == srv->vpool ? "video " : pool == srv->apool ? "admin " : "",
                          scrim__pool_depth(pool));
        goto done;
    }
    j->queued = 1;
    client_add(srv, j);
    j->admin = pool == srv->apool;
    if (j->admin && j->set->s.admin_wait <= 0) {
        job_detach(j);
        return;
    }
    double left = j->admin ? j->set->s.admin_wait
                           : j->set->s.request_timeout - (scrim__now() - j->t0);
    struct timeval tv = tv_of(left);
    j->timer = evtimer_new(srv->base, job_timeout, j);
    if (j->timer)
        evtimer_add(j->timer, &tv);
    return;   /* job_done() answers and frees */
done:
    job_free(j);
}

/* ==== routes, media kinds, hooks ============================================ */

int scrim_server_route(scrim_server *srv, const char *name, int methods,
                       const char *path, int flags, scrim_route_fn fn,
                       void *arg)
{
    if (srv->n_routes == SCRIM__MAX_ROUTES || strlen(name) >= 32 ||
        strlen(path) >= 128 || !fn)
        return SCRIM_EINVAL;
    scrim__route *r = &srv->routes[srv->n_routes++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->methods = methods;
    r->flags = flags;
    r->fn = fn;
    r->arg = arg;
    return SCRIM_OK;
}

int scrim_server_media(scrim_server *srv, const scrim_media_handler *h)
{
    if (srv->n_media == SCRIM__MAX_MEDIA || !h || !h->sniff || !h->hash ||
        !h->to_json)
        return SCRIM_EINVAL;
    /* Newest first: a specific kind (video) is tried before images, so an
     * animated GIF can be claimed as video. */
    memmove(&srv->media[1], &srv->media[0], srv->n_media * sizeof *srv->media);
    srv->media[0] = h;
    srv->n_media++;
    return SCRIM_OK;
}

int scrim_server_match_hook(scrim_server *srv, scrim_match_hook_fn fn,
                            void *arg)
{
    if (srv->n_hooks == SCRIM__MAX_HOOKS || !fn)
        return SCRIM_EINVAL;
    srv->hooks[srv->n_hooks].fn = fn;
    srv->hooks[srv->n_hooks].arg = arg;
    srv->n_hooks++;
    return SCRIM_OK;
}

int scrim_server_metrics(scrim_server *srv, scrim_metrics_fn fn, void *arg)
{
    if (srv->n_mhooks == SCRIM__MAX_HOOKS || !fn)
        return SCRIM_EINVAL;
    srv->mhooks[srv->n_mhooks].fn = fn;
    srv->mhooks[srv->n_mhooks].arg = arg;
    srv->n_mhooks++;
    return SCRIM_OK;
}

/* ==== listeners ============================================================= */

static int mkdir_parents(const char *path)
{
    char tmp[SCRIM_SETTINGS_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return 0;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int bind_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    if (strlen(path) >= sizeof sa.sun_path) {
        scrim__seterr(err, errlen, "--socket %s: path longer than %zu bytes",
                      path, sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (mkdir_parents(path)) {
        scrim__seterr(err, errlen, "--socket %s: cannot create its directory: "
                      "%s", path, strerror(errno));
        return -1;
    }
    if (!lstat(path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            scrim__seterr(err, errlen, "--socket %s: exists and is not a socket",
                          path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof sa)) {
            close(probe);
            scrim__seterr(err, errlen, "--socket %s: another server is "
                          "listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);   /* stale: left by a process that died */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
        chmod(path, 0660) || listen(fd, 1024)) {
        scrim__seterr(err, errlen, "--socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int bind_tcp(scrim_server *srv, const char *listen_on, char *err,
                    size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen_on, ':');
    size_t hl = (size_t)(colon - listen_on);
    if (hl >= sizeof host)
        hl = sizeof host - 1;
    memcpy(host, listen_on, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    int port = atoi(colon + 1);
    struct evhttp_bound_socket *b =
        evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (!b) {
        scrim__seterr(err, errlen, "--listen %s: cannot listen there: %s",
                      listen_on, strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    if (!getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss,
                     &sl)) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof addr);
            port = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof addr);
            port = ntohs(s6->sin6_port);
        }
    }
    /* Tests bind port 0 and read the real port from this line. */
    scrim__log_json(json_pack("{s:s, s:s, s:s, s:i}", "level", "info", "msg",
                              "listening", "tcp", addr, "port", port));
    return 0;
}

/* ==== systemd readiness (the sd_notify protocol, without libsystemd) ====== */

static void notify_systemd(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';   /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
    close(fd);
}

/* ==== signals: drain and reload ============================================ */

static void drain_finish(evutil_socket_t fd, short what, void *arg)
{
    scrim_server *srv = arg;
    event_base_loopexit(srv->base, NULL);
}

/* Stop once every call has been answered (nothing queued, running, or
 * finished but not yet delivered to the loop) and every reply written, or
 * written for a second: a reply to a client that left is never completed. */
static void drain_check(scrim_server *srv)
{
    if (scrim__pool_idle(srv->pool) && scrim__pool_idle(srv->vpool) &&
        scrim__pool_idle(srv->apool) && scrim__pool_idle(srv->hpool) &&
        (srv->flushing <= 0 || scrim__now() - srv->last_reply > 1.0))
        event_base_loopexit(srv->base, NULL);
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    drain_check(arg);
}

static void remove_listeners(struct evhttp_bound_socket *b, void *arg)
{
    struct evhttp_bound_socket **list = arg;
    for (int i = 0; i < 8; i++)
        if (!list[i]) {
            list[i] = b;
            return;
        }
}

static void start_drain(scrim_server *srv)
{
    if (srv->draining)
        return;
    srv->draining = 1;
    notify_systemd("STOPPING=1");
    scrim__log_msg("info", "draining: %d requests in flight, %d queued",
                   scrim__pool_busy(srv->pool) + scrim__pool_busy(srv->vpool) +
                       scrim__pool_busy(srv->apool),
                   scrim__pool_depth(srv->pool) + scrim__pool_depth(srv->vpool) +
                       scrim__pool_depth(srv->apool));
    struct evhttp_bound_socket *list[8] = {0};
    evhttp_foreach_bound_socket(srv->http, remove_listeners, list);
    for (int i = 0; i < 8 && list[i]; i++)
        evhttp_del_accept_socket(srv->http, list[i]);
    /* A client that never reads its reply cannot hold shutdown forever. */
    double limit = srv->cur->s.request_timeout + 5;
    struct timeval tv = {(time_t)limit, 0};
    srv->drain_timer = evtimer_new(srv->base, drain_finish, srv);
    if (srv->drain_timer)
        evtimer_add(srv->drain_timer, &tv);
    struct timeval tick = {0, 50000};
    srv->drain_tick = event_new(srv->base, -1, EV_PERSIST, drain_tick, srv);
    if (srv->drain_tick)
        evtimer_add(srv->drain_tick, &tick);
    drain_check(srv);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    start_drain(arg);
}

static void apply_settings(scrim_server *srv, scrim__settings_ref *r)
{
    const scrim_settings *s = &r->s;
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)s->max_body);
    evhttp_set_max_headers_size(srv->http, 64 * 1024);
    struct timeval tv = tv_of(s->idle_timeout);
    evhttp_set_timeout_tv(srv->http, &tv);
    if (srv->pool) {
        scrim__pool_set_queue_max(srv->pool, s->queue);
        scrim__pool_set_client_cap(srv->pool, s->client_workers);
    }
    scrim__budget_set_limit(srv, s->memory_budget);
}

/* ==== preload: the database read in, in the background =================== */

static int preload_should_stop(void *arg)
{
    scrim_server *srv = arg;
    return atomic_load(&srv->preload_stop);
}

static void *preload_main(void *arg)
{
    scrim_server *srv = arg;
    if (srv->preload_ran)
        srv->preload_rc = scrim_store_preload(srv->store, preload_should_stop, srv,
                                              &srv->preload_stats);
    if (srv->cache_ran) /* reports a stop asked for during the preload */
        srv->cache_rc = scrim_store_cache_hashes(srv->store, preload_should_stop,
                                                 srv, &srv->cache_stats);
    /* Thread-safe since evthread_use_pthreads(): the loop logs it. */
    event_active(srv->preload_ev, EV_READ, 0);
    return NULL;
}

static void preload_log(const scrim_server *srv)
{
    const scrim_store_preload_stats *st = &srv->preload_stats;
    if (srv->preload_rc) {
        scrim__log_msg("warning", "preload: the database's memory map was not "
                       "found; lookups read it as they go");
        return;
    }
    if (st->too_big) {
        scrim__log_json(json_pack("{s:s, s:s, s:I}", "level", "warning", "msg",
                                  "preload: the database is over half the RAM; "
                                  "lookups read it as they go",
                                  "bytes", (json_int_t)st->bytes));
        return;
    }
    scrim__log_json(json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:f}", "level", "info", "msg",
        st->stopped ? "preload stopped" : "preloaded", "bytes", (json_int_t)st->bytes,
        "hugepage_bytes_before", (json_int_t)st->huge_before, "hugepage_bytes",
        (json_int_t)st->huge_after, "reread", st->reread, "stopped", st->stopped,
        "seconds", st->seconds));
}

static void cache_log(const scrim_server *srv)
{
    const scrim_store_cache_stats *st = &srv->cache_stats;
    if (srv->cache_rc) {
        scrim__log_msg("warning", "hash cache: %s; lookups read candidates from "
                       "the database", srv->cache_rc == SCRIM_ENOMEM
                       ? "out of memory" : "the database could not be read");
        return;
    }
    if (st->too_big) {
        scrim__log_msg("warning", "hash cache: it would take over a quarter of "
                       "the RAM; not made");
        return;
    }
    scrim__log_json(json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:b, s:f}", "level", "info", "msg",
        st->stopped ? "hash cache stopped" : "hashes cached", "hashes",
        (json_int_t)st->hashes, "added", (json_int_t)st->added, "bytes",
        (json_int_t)st->bytes, "stopped", st->stopped, "seconds", st->seconds));
}

static void preload_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scrim_server *srv = arg;
    pthread_join(srv->preload_thread, NULL);
    srv->preload_running = 0;
    if (srv->preload_ran)
        preload_log(srv);
    if (srv->cache_ran)
        cache_log(srv);
}

/* Start a preload unless one runs or the settings say not to. */
static void preload_start(scrim_server *srv)
{
    if (!(srv->cur->s.preload || srv->cur->s.cache_hashes) ||
        srv->preload_running || !srv->preload_ev)
        return;
    atomic_store(&srv->preload_stop, 0);
    /* what to do, read here: the settings may be replaced while it runs */
    srv->preload_ran = srv->cur->s.preload;
    srv->cache_ran = srv->cur->s.cache_hashes;
    if (pthread_create(&srv->preload_thread, NULL, preload_main, srv)) {
        scrim__log_msg("warning", "preload: cannot start its thread");
        return;
    }
    srv->preload_running = 1;
}

static void preload_stop(scrim_server *srv)
{
    if (!srv->preload_running)
        return;
    atomic_store(&srv->preload_stop, 1);
    pthread_join(srv->preload_thread, NULL);
    srv->preload_running = 0;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    scrim_server *srv = arg;
    scrim_settings s;
    char err[600];
    int help, print;
    notify_systemd("RELOADING=1");
    srv->metrics.reloads_total++;
    if (scrim__log_reopen(srv->cur->s.log, err, sizeof err))
        scrim__log_msg("error", "reload: %s", err);
    if (scrim_settings_resolve(&s, srv->argc, srv->argv, &help, &print, err,
                               sizeof err))
        goto failed;
    /* What is bound or opened at start keeps its start-up value. */
    const scrim_settings *old = &srv->cur->s;
    if (strcmp(s.db, old->db) || strcmp(s.socket, old->socket) ||
        strcmp(s.listen, old->listen) || strcmp(s.user, old->user) ||
        strcmp(s.cluster, old->cluster) ||
        (s.threads && s.threads != old->threads) ||
        s.video_threads != old->video_threads || s.heavy_nice != old->heavy_nice)
        scrim__log_msg("warning", "reload: db, socket, listen, user, cluster, "
                       "threads, video-threads and heavy-nice change only on "
                       "restart");
    /* So do the webhooks (their queue and thread are set up at start). */
    int hooks_changed = s.n_webhook_url != old->n_webhook_url ||
        strcmp(s.webhook_secret_file, old->webhook_secret_file) ||
        s.webhook_queue != old->webhook_queue ||
        s.webhook_retry_base != old->webhook_retry_base ||
        s.webhook_retry_max != old->webhook_retry_max ||
        s.webhook_timeout != old->webhook_timeout ||
        s.webhook_sync != old->webhook_sync;
    for (int i = 0; i < s.n_webhook_url && !hooks_changed; i++)
        hooks_changed = strcmp(s.webhook_url[i], old->webhook_url[i]) != 0;
    if (hooks_changed)
        scrim__log_msg("warning", "reload: the webhook-* settings change only "
                       "on restart (the secret file's content is re-read "
                       "whenever it changes)");
    memcpy(s.webhook_url, old->webhook_url, sizeof s.webhook_url);
    s.n_webhook_url = old->n_webhook_url;
    snprintf(s.webhook_secret_file, sizeof s.webhook_secret_file, "%s",
             old->webhook_secret_file);
    s.webhook_queue = old->webhook_queue;
    s.webhook_retry_base = old->webhook_retry_base;
    s.webhook_retry_max = old->webhook_retry_max;
    s.webhook_timeout = old->webhook_timeout;
    s.webhook_sync = old->webhook_sync;
    snprintf(s.db, sizeof s.db, "%s", old->db);
    snprintf(s.socket, sizeof s.socket, "%s", old->socket);
    snprintf(s.listen, sizeof s.listen, "%s", old->listen);
    snprintf(s.user, sizeof s.user, "%s", old->user);
    snprintf(s.cluster, sizeof s.cluster, "%s", old->cluster);
    s.threads = old->threads;
    s.video_threads = old->video_threads;
    s.heavy_nice = old->heavy_nice;
    scrim__settings_ref *r = scrim__settings_ref_new(&s, err, sizeof err);
    if (!r)
        goto failed;
    if (strcmp(r->s.log, old->log) &&
        scrim__log_open(r->s.log, err, sizeof err))
        scrim__log_msg("error", "reload: %s", err);
    apply_settings(srv, r);
    scrim__settings_ref_put(srv->cur);
    srv->cur = r;
    scrim__log_msg("info", "settings reloaded%s%s", r->s.config[0] ? " from " : "",
                   r->s.config);
    preload_start(srv); /* e.g. after a big import by the CLI */
    notify_systemd("READY=1");
    return;
failed:
    scrim__log_msg("error", "reload failed, keeping the old settings: %s", err);
    notify_systemd("READY=1");
}

static void on_stop_request(evutil_socket_t fd, short what, void *arg)
{
    start_drain(arg);
}

void scrim_server_stop(scrim_server *srv)
{
    event_active(srv->stop_ev, EV_READ, 0);
}

/* ==== life cycle ============================================================ */

static int drop_privileges(const char *user, const char *socket_path,
                           const char *log_path, char *err, size_t errlen)
{
    if (!user[0])
        return 0;
    if (geteuid() != 0) {
        scrim__log_msg("info", "--user %s ignored: not running as root", user);
        return 0;
    }
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        scrim__seterr(err, errlen, "--user %s: no such user", user);
        return -1;
    }
    if (socket_path[0] && chown(socket_path, pw->pw_uid, pw->pw_gid))
        scrim__log_msg("warning", "cannot chown %s: %s", socket_path,
                       strerror(errno));
    if (strcmp(log_path, "-") && chown(log_path, pw->pw_uid, pw->pw_gid))
        scrim__log_msg("warning", "cannot chown %s: %s", log_path,
                       strerror(errno));
    if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) ||
        setuid(pw->pw_uid)) {
        scrim__seterr(err, errlen, "--user %s: cannot switch user: %s", user,
                      strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {   /* must not be able to regain root */
        scrim__seterr(err, errlen, "--user %s: root could be regained", user);
        return -1;
    }
    scrim__log_msg("info", "running as %s (uid %d)", user, (int)pw->pw_uid);
    return 0;
}

int scrim_server_new(const scrim_settings *s, int argc, char **argv,
                     scrim_server **out, char *err, size_t errlen)
{
    scrim_server *srv = calloc(1, sizeof *srv);
    int rc = SCRIM_EINVAL;
    *out = NULL;
    if (!srv) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    srv->argc = argc;
    srv->argv = argv;
    srv->started = scrim__now();
    scrim__token_file_init(&srv->admin_tf);
    scrim__token_file_init(&srv->reviewer_tf);
    signal(SIGPIPE, SIG_IGN);
    /* Many idle keep-alive clients must not exhaust descriptors early. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (scrim__log_open(s->log, err, errlen)) {
        rc = SCRIM_EIO;
        goto fail;
    }
    if (!(srv->cur = scrim__settings_ref_new(s, err, errlen)))
        goto fail;
    if (!s->socket[0] && !s->listen[0]) {
        scrim__seterr(err, errlen, "nothing to serve on: both --socket and "
                      "--listen are 'none'");
        goto fail;
    }
    static int threads_on;
    if (!threads_on && evthread_use_pthreads()) {
        scrim__seterr(err, errlen, "libevent has no thread support");
        goto fail;
    }
    threads_on = 1;
    srv->base = event_base_new();
    srv->http = srv->base ? evhttp_new(srv->base) : NULL;
    if (!srv->http) {
        scrim__seterr(err, errlen, "cannot create the event loop");
        goto fail;
    }
    /* Every method reaches handle_request, which answers those it does not
     * serve 405 in JSON: evhttp's own answer to the others (OPTIONS, PATCH,
     * TRACE, CONNECT, and names it does not know, its bit 15) is a 501
     * HTML page, a server error for a client's fault (fuzz_transport). */
    evhttp_set_allowed_methods(srv->http, 0xffff);
    evhttp_set_gencb(srv->http, handle_request, srv);
    srv->conns = g_hash_table_new(g_direct_hash, g_direct_equal);
    srv->inflight = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    if (scrim__budget_new(srv)) {
        scrim__seterr(err, errlen, "out of memory");
        goto fail;
    }
    evhttp_set_bevcb(srv->http, conn_new, srv);
    apply_settings(srv, srv->cur);

    if (s->socket[0]) {
        int fd = bind_unix(s->socket, err, errlen);
        if (fd < 0)
            goto fail;
        if (!evhttp_accept_socket_with_handle(srv->http, fd)) {
            close(fd);
            scrim__seterr(err, errlen, "--socket %s: cannot accept", s->socket);
            goto fail;
        }
        snprintf(srv->socket_path, sizeof srv->socket_path, "%s", s->socket);
        srv->socket_bound = 1;
        scrim__log_json(json_pack("{s:s, s:s, s:s}", "level", "info", "msg",
                                  "listening", "socket", s->socket));
    }
    if (s->listen[0] && bind_tcp(srv, s->listen, err, errlen))
        goto fail;
    if (scrim__accept_guard(srv)) {
        scrim__seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (drop_privileges(s->user, s->socket, s->log, err, errlen))
        goto fail;

    scrim_store_opts so = {.create = 1};
    if ((rc = scrim_store_open(s->db, &so, &srv->store, err, errlen)))
        goto fail;
    struct stat dst;   /* new ones are 0700; an older one may not be */
    if (!stat(s->db, &dst) && (dst.st_mode & 077))
        scrim__log_msg("warning", "the database directory %s is open to other "
                       "users (mode %04o): chmod 700 it", s->db,
                       (unsigned)(dst.st_mode & 07777));
    if ((rc = scrim__webhooks_new(srv, s, err, errlen)))
        goto fail;
    if ((rc = scrim__api_register(srv)) || (rc = scrim__admin_register(srv))) {
        scrim__seterr(err, errlen, "cannot set up the endpoints: %s",
                      scrim_strerror(rc));
        goto fail;
    }
    rc = SCRIM_ENOMEM;
    if (scrim__pool_new_ex(srv->cur->s.threads, srv->cur->s.queue, "scrim-work",
                           0, srv->base, job_run, job_done, srv, &srv->pool)) {
        scrim__seterr(err, errlen, "cannot start %d worker threads",
                      srv->cur->s.threads);
        goto fail;
    }
    scrim__pool_set_client_cap(srv->pool, srv->cur->s.client_workers);
    /* Heavy work at a lower priority (--heavy-nice): videos and compares,
     * admin imports, big decodes (--heavy-decode), one worker per image
     * worker for the last. */
    int vt = srv->cur->s.video_threads, hn = srv->cur->s.heavy_nice;
    if (vt > 0 && scrim__pool_new_ex(vt, 16 * vt, "scrim-video", hn, srv->base,
                                     job_run, job_done, srv, &srv->vpool)) {
        scrim__seterr(err, errlen, "cannot start %d video worker threads", vt);
        goto fail;
    }
    int ht = srv->cur->s.threads;
    if (scrim__pool_new_ex(ht, 16 * ht, "scrim-heavy", hn, srv->base, job_run,
                           job_done, srv, &srv->hpool)) {
        scrim__seterr(err, errlen, "cannot start %d heavy worker threads", ht);
        goto fail;
    }
    if (scrim__pool_new_ex(1, 64, "scrim-admin", hn, srv->base, job_run,
                           job_done, srv, &srv->apool)) {
        scrim__seterr(err, errlen, "cannot start the admin thread");
        goto fail;
    }
    srv->sig_term = evsignal_new(srv->base, SIGTERM, on_stop_signal, srv);
    srv->sig_int = evsignal_new(srv->base, SIGINT, on_stop_signal, srv);
    srv->sig_hup = evsignal_new(srv->base, SIGHUP, on_reload, srv);
    srv->stop_ev = event_new(srv->base, -1, 0, on_stop_request, srv);
    srv->preload_ev = event_new(srv->base, -1, 0, preload_done, srv);
    srv->trim_ev = evtimer_new(srv->base, trim_later, srv);
    if (!srv->sig_term || !srv->sig_int || !srv->sig_hup || !srv->stop_ev ||
        !srv->preload_ev || !srv->trim_ev ||
        evsignal_add(srv->sig_term, NULL) || evsignal_add(srv->sig_int, NULL) ||
        evsignal_add(srv->sig_hup, NULL)) {
        scrim__seterr(err, errlen, "cannot install signal handlers");
        goto fail;
    }
    if (s->cluster[0] &&
        (rc = scrim__cluster_start(srv, s->cluster, err, errlen)))
        goto fail;
    preload_start(srv);
    *out = srv;
    return SCRIM_OK;
fail:
    scrim_server_free(srv);
    return rc;
}

int scrim_server_run(scrim_server *srv)
{
    json_t *eff = scrim_settings_json(&srv->cur->s);
    scrim__log_json(json_pack("{s:s, s:s, s:s, s:o}", "level", "info", "msg",
                              "ready", "version", SCRIM_VERSION, "settings",
                              eff));
    notify_systemd("READY=1");
    int rc = event_base_dispatch(srv->base);
    scrim__log_msg("info", "stopped");
    return rc < 0 ? SCRIM_EIO : SCRIM_OK;
}

void scrim_server_free(scrim_server *srv)
{
    if (!srv)
        return;
    preload_stop(srv);
    /* Workers first: they may still hold calls whose done() needs the loop
     * objects below.  Each pointer is cleared once its pool is freed: a
     * done() delivered by a later pool (an admin job that outlived the
     * drain's time limit) runs drain_check(), which asks every pool. */
    scrim__pool_free(srv->pool);
    srv->pool = NULL;
    scrim__pool_free(srv->vpool);
    srv->vpool = NULL;
    scrim__pool_free(srv->hpool);
    srv->hpool = NULL;
    scrim__pool_free(srv->apool);
    srv->apool = NULL;
    scrim__cluster_stop(srv);   /* after the admin jobs, which wait for it */
    scrim__jobs_free(srv);
    scrim__webhooks_free(srv); /* before the store (its environment) */
    scrim__accept_free(srv);
    if (srv->http)
        evhttp_free(srv->http);
    conns_free(srv);
    if (srv->inflight)
        g_hash_table_destroy(srv->inflight);
    scrim__budget_free(srv); /* after the connections, which release into it */
    if (srv->socket_bound)
        unlink(srv->socket_path);
    struct event *evs[] = {srv->sig_term, srv->sig_int, srv->sig_hup,
                           srv->stop_ev, srv->drain_timer, srv->drain_tick,
                           srv->preload_ev, srv->trim_ev};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
        if (evs[i])
            event_free(evs[i]);
    if (srv->base)
        event_base_free(srv->base);
    if (srv->store)
        scrim_store_close(srv->store);
    scrim__settings_ref_put(srv->cur);
    scrim__log_close();
    scrim__token_file_destroy(&srv->admin_tf);
    scrim__token_file_destroy(&srv->reviewer_tf);
    free(srv);
}
