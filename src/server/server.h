/* server.h - what the files of scrimd's server/ share.  Not public API. */
#ifndef SCRIM_SERVER_H_PRIVATE
#define SCRIM_SERVER_H_PRIVATE

#include "scrim.h"
#include "scrim/server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <glib.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* ---- worker pool (pool.c) ------------------------------------------ */

/* Jobs embed this as their first member. */
typedef struct scrim__pool_item {
    struct scrim__pool_item *next;
    uint64_t client;   /* whose job: the fair queue's key (0: anyone) */
} scrim__pool_item;

typedef struct scrim__pool scrim__pool;

/* run() is called on a worker for each item; done() on the event loop of
 * `base` once run() has returned.  Returns 0 or SCRIM_ENOMEM. */
int scrim__pool_new(int threads, int queue_max, struct event_base *base,
                    void (*run)(scrim__pool_item *),
                    void (*done)(scrim__pool_item *, void *), void *arg,
                    scrim__pool **out);
/* The same, its threads named `name` (at most 15 characters) and run at
 * `nice` above the process's nice value (> 0: also SCHED_BATCH), for
 * heavy work. */
int scrim__pool_new_ex(int threads, int queue_max, const char *name, int nice,
                       struct event_base *base, void (*run)(scrim__pool_item *),
                       void (*done)(scrim__pool_item *, void *), void *arg,
                       scrim__pool **out);
/* The pool's nice value; *failed: threads that could not take it. */
int scrim__pool_nice(scrim__pool *p, int *failed);
/* Queue an item behind its client's (it->client) earlier items; workers
 * take the clients in turn.  SCRIM_ETOOBIG when queue_max items are already waiting. */
int scrim__pool_submit(scrim__pool *p, scrim__pool_item *it);
/* The getters take NULL (no such pool): 0, or idle. */
int scrim__pool_depth(scrim__pool *p);   /* items waiting */
int scrim__pool_busy(scrim__pool *p);    /* items being run */
/* Nothing waiting, running, or finished but not yet handed to done(). */
int scrim__pool_idle(scrim__pool *p);
int scrim__pool_threads(scrim__pool *p);
void scrim__pool_set_queue_max(scrim__pool *p, int queue_max);
/* At most `cap` workers run one client's jobs at once (0: no cap). */
void scrim__pool_set_client_cap(scrim__pool *p, int cap);
/* Finish what is queued, join the workers, deliver the last done()s. */
void scrim__pool_free(scrim__pool *p);

/* ---- metrics (metrics.c): touched on the loop thread only -------- */

#define SCRIM__HIST_BUCKETS 14
#define SCRIM__STATUSES 18

/* Counters declared once: name, help. */
#define SCRIM__COUNTERS(X)                                                    \
    X(bytes_received_total, "Request body bytes received")                    \
    X(bytes_sent_total, "Response body bytes sent")                           \
    X(queue_rejected_total, "Requests refused with 503: work queue full")     \
    X(timeouts_total, "Requests answered 504: request timeout")               \
    X(hook_failures_total, "Post-match hooks that failed")                    \
    X(reloads_total, "Settings reloads (SIGHUP)")                             \
    X(admin_jobs_total, "Admin requests answered 202 and run on as jobs")

typedef struct scrim__route_stats {
    uint64_t by_status[SCRIM__STATUSES];
    uint64_t hist[SCRIM__HIST_BUCKETS]; /* cumulative at render time */
    double sum_ms;
    uint64_t count;
} scrim__route_stats;

typedef struct scrim__metrics {
#define X(name, help) uint64_t name;
    SCRIM__COUNTERS(X)
#undef X
    struct { char code[32]; uint64_t n; } errors[32];
    int n_errors;
    struct { char list[64]; uint64_t n; } matches[64];
    int n_matches;
} scrim__metrics;

void scrim__metrics_request(scrim__route_stats *rs, int status, double ms);
void scrim__metrics_error(scrim__metrics *m, const char *code);
void scrim__metrics_match(scrim__metrics *m, const char *list);
/* The HTTP status index used for by_status (same order as the render). */
int scrim__metrics_status_index(int status);

/* The client of a request: "uid:N" (Unix socket) or "ip:ADDR" (peer.c). */
void scrim__peer_name(struct evhttp_request *req, char *out, size_t n);
/* The client as the fair queue and --client-requests see it: "admin" (the
 * admin token), "uid:N pid:P" (the Unix socket peer process), "ip:ADDR";
 * and its key (a 64-bit hash of the name). */
void scrim__client_name(struct evhttp_request *req, int admin, char *out,
                        size_t n);
uint64_t scrim__client_key(const char *name);
/* A decode of call c reserves `bytes` (budget.c): 1 if the call is to
 * stop and run again on a heavy worker (its first decode, big, on an image
 * worker), else 0 (the bytes are noted: malloc_trim after big calls).
 * begin: a decode starts (scrim_call_decode_opts). */
int scrim__call_decode_note(const scrim_call *c, int64_t bytes);
void scrim__call_decode_begin(const scrim_call *c);

/* ---- request log (log.c) ---------------------------------------- */

int scrim__log_open(const char *path, char *err, size_t errlen);
int scrim__log_reopen(const char *path, char *err, size_t errlen);
void scrim__log_close(void);
/* One line, a JSON object; `o` is consumed. */
void scrim__log_json(json_t *o);
/* A daemon event: {"ts", "level", "msg"}. */
void scrim__log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- cluster mode (cluster.c) ------------------------------------ */

typedef struct scrim__cluster scrim__cluster;
typedef struct scrim__cluster_tx scrim__cluster_tx;

/* scrimd --cluster: loads libpq and starts the applier thread (which
 * connects, and reconnects, by itself); SCRIM_E* with err set. */
int scrim__cluster_start(scrim_server *srv, const char *conninfo, char *err,
                         size_t errlen);
void scrim__cluster_stop(scrim_server *srv);
/* /healthz's "cluster" object; *ready: in step with the log since start. */
json_t *scrim__cluster_health(scrim_server *srv, int *ready);
void scrim__cluster_metrics(scrim_server *srv, FILE *f);
/* An admin write (admin thread): begin takes the cluster's write lock in
 * PostgreSQL and waits until this node has applied every change (or
 * answers the call 503 and returns -1); the handler then does its write as
 * a dry run with scrim_import_opts.capture = scrim__cluster_capture and
 * capture_ud = the tx, and commit appends the change (params consumed) and
 * waits until it is applied here (or answers 503 and returns -1).  abort
 * gives up (a NULL tx is fine). */
int scrim__cluster_begin(scrim_call *c, scrim__cluster_tx **tx);
int scrim__cluster_capture(void *tx, const scrim_entry *e);
int scrim__cluster_commit(scrim_call *c, scrim__cluster_tx *tx,
                          const char *list, const char *op, json_t *params,
                          uint64_t *change);
void scrim__cluster_abort(scrim__cluster_tx *tx);
/* GET /v1/audit in cluster mode: the cluster's audit (every node's admin
 * writes), the last `limit` (0: all), oldest first; NULL with err set if
 * PostgreSQL cannot be read. */
json_t *scrim__cluster_audit(scrim_server *srv, size_t limit, char *err,
                             size_t errlen);
/* For the review sync (review/sync.c): the connection string (NULL: not
 * clustered), and a function scrim_server_free calls before the store
 * closes (one). */
const char *scrim__cluster_conninfo(scrim_server *srv);
void scrim__cluster_on_stop(scrim_server *srv, void (*fn)(void *), void *arg);
/* bin/scrim's writer (cluster_log.c): srv, a stand-in holding the node's
 * store, gets a cluster object without an applier (the node's scrimd
 * applies; waits poll the store's position); scrim__cluster_stop frees it. */
int scrim__cluster_writer(scrim_server *srv, const char *conninfo, char *err,
                          size_t errlen);
/* libpq through base/lazy_pq.h (loaded first): a connection with a 5 s
 * connect timeout and notices silenced; a statement; a query with text
 * parameters and binary results (NULL on failure); a big-endian int8 of
 * such a result.  err: the first line of PostgreSQL's message. */
struct pg_conn;
struct pg_result;
struct pg_conn *scrim__pq_connect(const char *conninfo, char *err,
                                  size_t errlen);
int scrim__pq_run(struct pg_conn *conn, const char *sql, char *err,
                  size_t errlen);
struct pg_result *scrim__pq_query(struct pg_conn *conn, const char *sql, int n,
                                  const char *const *vals, const int *lens,
                                  const int *fmts, char *err, size_t errlen);
uint64_t scrim__pq_u64(const char *p);
/* The false-match loop's writes in cluster mode (review/loop.c): begin
 * takes the write connection and the cluster's write lock in a
 * transaction (SCRIM_EIO with err: PostgreSQL unreachable), append adds a
 * change (params borrowed; the entries as an import's payload) and its
 * audit row (`action`), end commits (or rolls back) and, committed, waits
 * until this node has applied `change` (0: none). */
int scrim__cluster_loop_begin(scrim_server *srv, struct pg_conn **conn,
                              char *err, size_t errlen);
int scrim__cluster_loop_append(scrim_server *srv, struct pg_conn *conn,
                               const char *list, const char *op,
                               const char *action, json_t *params,
                               const scrim_entry *e, size_t n,
                               uint64_t *change, char *err, size_t errlen);
int scrim__cluster_loop_end(scrim_server *srv, struct pg_conn *conn,
                            int commit, uint64_t change, char *err,
                            size_t errlen);

/* ---- the server (http.c) --------------------------------------- */

#define SCRIM__MAX_ROUTES 48
#define SCRIM__MAX_MEDIA 8
#define SCRIM__MAX_HOOKS 8
#define SCRIM__MAX_HEALTH 8
#define SCRIM__MAX_COUNTERS 16

/* A module's counter (scrim_server_counter), rendered in /metrics. */
struct scrim_counter {
    char name[64], help[160];
    atomic_uint_least64_t n;
};

typedef struct scrim__route {
    char name[32];
    int methods;
    char path[128];
    int flags;
    scrim_route_fn fn;
    void *arg;
    scrim__route_stats stats;
} scrim__route;

/* A token file as last read (tokens.c). */
typedef struct scrim__token_file {
    pthread_mutex_t lock;
    char path[SCRIM_SETTINGS_PATH_MAX];
    struct stat st;              /* its identity when read */
    int loaded, rc;
    char token[256];
    char err[SCRIM_SETTINGS_PATH_MAX + 128];
} scrim__token_file;

/* Settings shared by the loop and the calls using them; replaced whole on
 * reload, freed when the last call holding it finishes. */
typedef struct scrim__settings_ref {
    atomic_int refs;
    scrim_settings s;
    char admin_token[256];      /* "" = admin API off */
    char allow_real[SCRIM_SETTINGS_MAX_ALLOW][SCRIM_SETTINGS_PATH_MAX];
    int n_allow_real;           /* allow_path after realpath() */
} scrim__settings_ref;

struct scrim_server {
    struct event_base *base;
    struct evhttp *http;
    struct event *sig_term, *sig_int, *sig_hup, *stop_ev, *drain_timer;
    struct event *drain_tick;
    struct event *trim_ev;           /* malloc_trim owed after big requests */
    scrim__pool *pool;
    scrim__pool *vpool;              /* videos' workers; NULL: they use pool */
    scrim__pool *hpool;              /* big decodes moved off the image
                                      * workers (--heavy-decode), at
                                      * --heavy-nice like vpool and apool */
    GHashTable *inflight;            /* client key -> requests it has queued
                                      * or running (loop thread) */
    uint64_t client_refused_total;   /* 429s: past --client-requests */
    uint64_t heavy_moved_total;      /* calls moved to hpool */
    scrim__pool *apool;              /* admin work (one thread): imports and
                                      * drops, and their wait for LMDB's one
                                      * writer, never take an image worker */
    scrim__settings_ref *cur;
    int argc;
    char **argv;
    char socket_path[SCRIM_SETTINGS_PATH_MAX];
    int socket_bound;
    struct scrim_store *store;
    scrim__route routes[SCRIM__MAX_ROUTES];
    int n_routes;
    const scrim_media_handler *media[SCRIM__MAX_MEDIA];
    int n_media;
    struct { scrim_match_hook_fn fn; void *arg; } hooks[SCRIM__MAX_HOOKS];
    int n_hooks;
    struct { scrim_metrics_fn fn; void *arg; } mhooks[SCRIM__MAX_HOOKS];
    int n_mhooks;                    /* modules' /metrics text */
    struct { char name[32]; scrim_health_fn fn; void *arg; } health[SCRIM__MAX_HEALTH];
    int n_health;
    /* admin requests answered 202, with their outcome (jobs.c) */
    struct scrim__job **jobs;
    size_t n_jobs, cap_jobs;
    /* the token files, re-read when they change (tokens.c) */
    scrim__token_file admin_tf, reviewer_tf;
    scrim__metrics metrics;
    scrim__route_stats unrouted;     /* 404s and early errors */
    uint64_t next_id;
    int flushing;                    /* replies not known to be written */
    double last_reply;
    int draining;
    double started;
    /* connections, by their bufferevent: the clock of the request each is
     * receiving (--receive-timeout; http.c) */
    GHashTable *conns;
    /* the background scrim_store_preload() and scrim_store_cache_hashes()
     * (http.c) */
    pthread_t preload_thread;
    int preload_running;
    atomic_int preload_stop;
    struct event *preload_ev;
    scrim_store_preload_stats preload_stats;
    int preload_rc, preload_ran;
    scrim_store_cache_stats cache_stats;
    int cache_rc, cache_ran;
    struct scrim__accept *accept;    /* accept.c */
    struct scrim__budget *budget;    /* budget.c */
    scrim__cluster *cluster;         /* cluster.c; NULL: a single node */
    struct scrim_counter counters[SCRIM__MAX_COUNTERS];
    int n_counters;
    struct scrim__webhooks *webhooks; /* webhook.c; NULL: none configured */
};

scrim__settings_ref *scrim__settings_ref_new(const scrim_settings *s,
                                             char *err, size_t errlen);
void scrim__settings_ref_put(scrim__settings_ref *r);

/* Wall-clock seconds (monotonic). */
double scrim__now(void);

/* ---- errors (http.c) --------------------------------------------- */

/* How every endpoint answers a SCRIM_E* code: one table, so the public, admin,
 * review and media endpoints give the same status and "code" for it. */
typedef struct scrim__http_error {
    int rc;              /* SCRIM_OK or a SCRIM_E* */
    int status;          /* HTTP status */
    const char *code;    /* the JSON error's "code" */
} scrim__http_error;

/* The row for rc; a code not in the table gets 500 "internal". */
const scrim__http_error *scrim__http_error_of(int rc);
/* scrim_call_error() with rc's status and code from that table; the message
 * names the problem (an empty one becomes scrim_strerror(rc)). */
int scrim__call_fail(scrim_call *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the memory budget (budget.c) ------------------------------- */

typedef struct scrim__budget scrim__budget;

/* Per connection: where the request's head is, and what its body holds of
 * the budget (or waits for). */
typedef struct scrim__body {
    struct bufferevent *bev;
    int phase;              /* 0 request line, 1 headers, 2 past the head */
    char line[48];          /* the start of the line being read */
    size_t line_len;
    int64_t content_length; /* -1: none seen */
    int chunked;
    uint64_t reserved;      /* held for the body */
    uint64_t need;          /* waiting for this much */
    int waiting;            /* reading paused until it fits */
    int large;              /* reserved is counted among large bodies */
    double deadline;        /* closed if still waiting then */
} scrim__body;

int scrim__budget_new(scrim_server *srv);
void scrim__budget_free(scrim_server *srv);
void scrim__budget_set_limit(scrim_server *srv, uint64_t limit);
void scrim__budget_metrics(scrim_server *srv, FILE *f);
/* Give back n bytes (any thread); waiting connections are resumed. */
void scrim__budget_release(scrim_server *srv, uint64_t n);
/* Take n bytes if they fit now: 1, else 0 (counted as refused). */
int scrim__budget_try(scrim_server *srv, uint64_t n);
/* The scrim_decode_opts.reserve hook (arg: the scrim_call). */
int scrim__budget_decode(void *arg, int64_t bytes, char *err, size_t errlen);
void scrim__body_init(scrim__body *body, struct bufferevent *bev);
/* `added` bytes arrived at the end of the connection's input buffer: the
 * head is scanned; at its end the body is reserved, or the connection
 * waits (reading paused) until `deadline`. */
void scrim__body_input(scrim_server *srv, scrim__body *body,
                       struct evbuffer *buf, size_t added, double deadline);
/* The request has arrived with a body of body_len bytes: what the call
 * holds from now on (release it when the call is freed); `pending` (the
 * connection's input, a pipelined request's bytes) is scanned afresh. */
uint64_t scrim__body_done(scrim_server *srv, scrim__body *body,
                          uint64_t body_len, struct evbuffer *pending,
                          double deadline);
void scrim__body_closed(scrim_server *srv, scrim__body *body);
/* A call's copy of its body: bodies of a megabyte and more are mapped
 * (and unmapped when freed), so that they never grow the heap. */
void *scrim__body_alloc(size_t n);

void scrim__body_free(void *p, size_t n);

/* ---- out of descriptors: accepting paused (accept.c) ---------- */

typedef struct scrim__accept scrim__accept;
/* Watch every listener bound so far (call after binding). */
int scrim__accept_guard(scrim_server *srv);
/* Close up to `max` connections idle longest (between requests, nothing
 * pending): how many were closed (http.c). */
int scrim__conns_shed(scrim_server *srv, int max);
/* A connection closed: accepting, if paused, is tried again at once. */
void scrim__accept_closed(scrim_server *srv);
void scrim__accept_metrics(scrim_server *srv, FILE *f);
void scrim__accept_free(scrim_server *srv);

/* ---- endpoints (api.c, admin.c) ----------------------------- */

/* Register the built-in endpoints and the image media handler. */
int scrim__api_register(scrim_server *srv);
/* The match step of every media kind (media.c): the one matcher
 * (scrim_image_match / scrim_video_match, src/match/) with the request's
 * options, its answer moved into res. */
int scrim__media_match(const scrim_upload *up, const scrim_query_opts *o,
                       struct scrim_store *store, scrim_match_result *res,
                       char *err, size_t errlen);
int scrim__admin_register(scrim_server *srv);
/* GET /v1/openapi.json: the embedded doc/openapi.json (openapi.c). */
int scrim__openapi_register(scrim_server *srv);
extern const scrim_media_handler scrim__image_handler;

/* Render /metrics text into a malloc'd buffer; series labelled with list
 * names only if per_list (a scrape with the admin token). */
char *scrim__metrics_render(scrim_server *srv, int per_list, size_t *len);

/* Constant-time comparison of a presented token with the expected one. */
int scrim__token_equal(const char *given, size_t given_len, const char *want);

/* ---- request checks (guard.c): loop thread ------------------------ */

/* A connection's input, scanned as it arrives with RFC 9112's framing
 * rules (Content-Length, chunked), before evhttp parses it. */
typedef struct scrim__framing scrim__framing;
scrim__framing *scrim__framing_new(void);
void scrim__framing_free(scrim__framing *f);
/* n_added bytes were just appended to buf (the connection's input). */
void scrim__framing_feed(scrim__framing *f, struct evbuffer *buf, size_t n_added);
/* evhttp hands over a request now: where it ended it in the stream (what
 * `input`, the connection's input buffer, no longer holds), for the check
 * below. */
void scrim__framing_mark(scrim__framing *f, struct evbuffer *input);
/* The connection's next request arrived whole: 0 if its framing was sound
 * and ended where evhttp's did, else -1 with why (f NULL: 0). */
int scrim__framing_check(scrim__framing *f, char *why, size_t n);
/* Before routing: framing (f may be NULL) and headers (400, *close set:
 * the connection must close), Host over TCP (400, 421).  0, or c made the
 * error and < 0. */
int scrim__guard_request(scrim__framing *f, struct evhttp_request *req,
                         const scrim_settings *s, scrim_call *c, int *close);
/* After routing: cross-site requests (Origin, Sec-Fetch-Site) refused 403
 * but on GET/HEAD of routes that are neither worker nor admin routes. */
int scrim__guard_cross_site(struct evhttp_request *req, const scrim_settings *s,
                            int method, int route_flags, scrim_call *c);
/* X-Frame-Options, CSP frame-ancestors, nosniff: on every answer. */
void scrim__guard_reply_headers(struct evkeyvalq *out);

/* ---- admin jobs (jobs.c): loop thread only ------------------------ */

typedef struct scrim__job scrim__job;
/* An admin call outlived --admin-wait: record it as a job and make `reply`
 * the 202 answer ({"id", "url", "state", ...}).  *running is the call's
 * flag (set by its worker), read until scrim__job_finish.  NULL (reply
 * made an error) if no job could be made. */
scrim__job *scrim__job_start(scrim_server *srv, const char *method,
                             const char *path, uint64_t request_id,
                             const atomic_int *running, scrim_call *reply);
/* The call finished: keep its status and answer (c->json is referenced). */
void scrim__job_finish(scrim_server *srv, scrim__job *jb, const scrim_call *c);
/* GET /v1/jobs/ID, admin. */
int scrim__jobs_register(scrim_server *srv);
void scrim__jobs_free(scrim_server *srv);

/* ---- token files (tokens.c) ---------------------------------------- */

/* Read a token file: one line of 16 to n-1 printable characters.  SCRIM_OK,
 * or SCRIM_EIO / SCRIM_EINVAL with err naming the file and the problem. */
int scrim__token_read(const char *path, char *out, size_t n, char *err,
                      size_t errlen);
void scrim__token_file_init(scrim__token_file *tf);
void scrim__token_file_destroy(scrim__token_file *tf);
/* The token `path` holds now (read again when the file changed: device,
 * inode, size, mtime, ctime); "" for path "" (no file: off).  Thread-safe.
 * SCRIM_OK, or the read's error (err set) while the file is unusable. */
int scrim__token_get(scrim__token_file *tf, const char *path, char *out,
                     size_t n, char *err, size_t errlen);
/* The admin token check of every admin endpoint: 0 when `authorization`
 * ("Bearer TOKEN") carries the admin token now in s->admin_token_file; else
 * makes c a 404 admin_disabled (no file), 503 admin_unavailable (file
 * unusable), 401 or 403, and returns < 0. */
int scrim__admin_check(scrim_server *srv, const scrim_settings *s,
                       const char *authorization, scrim_call *c);
/* True when `authorization` carries the admin token (no answer made). */
int scrim__admin_ok(scrim_server *srv, const scrim_settings *s,
                    const char *authorization);

/* ---- webhooks (webhook.c) ------------------------------------------ */

typedef struct scrim__webhooks scrim__webhooks;
/* Start-up: the queue read from the database, the delivery thread started
 * (nothing without --webhook-url).  On error the caller frees the server. */
int scrim__webhooks_new(scrim_server *srv, const scrim_settings *s, char *err,
                        size_t errlen);
/* Stop the delivery thread (what is queued stays in the database). */
void scrim__webhooks_free(scrim_server *srv);
/* Queue an event for every --webhook-url, durably, before returning: an
 * object of "id" (new, random), "type", "time" and the keys of `data`
 * (borrowed; NULL: none).  Any thread.  SCRIM_OK, also when no webhook is
 * configured; else SCRIM_E* with err set (nothing queued). */
int scrim__webhook_emit(scrim_server *srv, const char *type, json_t *data,
                        char *err, size_t errlen);
void scrim__webhooks_metrics(scrim_server *srv, FILE *f);
/* {"urls", "queue_depth", "oldest_age_seconds"} for /healthz, or NULL. */
json_t *scrim__webhooks_health(scrim_server *srv);

#endif
