/* scrim/server.h - the pieces of scrimd, the HTTP matching daemon: settings,
 * the server object, and the hook points through which other modules (video,
 * review previews) plug into the request path.
 *
 * Threads: one event loop thread does all network I/O (libevent evhttp on a
 * Unix socket and/or TCP); decoding, hashing and matching run on a pool of
 * worker threads fed through a bounded queue (full queue: 503).  A worker
 * hands its finished call back to the loop, which writes the reply, the log
 * line and the metrics.  Nothing a request sends can stop the process.
 *
 * The request path of POST /v1/hash and POST /v1/match, on a worker:
 *   1. media sniff: the first registered scrim_media_handler whose sniff()
 *      accepts the bytes owns the upload (images built in; video: scrim_video_server_attach);
 *   2. handler->hash() fills a scrim_upload (hashes; no decoded pixels are
 *      kept: most uploads match nothing, so a hook that needs pixels decodes
 *      the bytes again);
 *   3. (match only) handler->match() fills a scrim_match_result;
 *   4. (match only) every registered post-match hook runs with the upload
 *      (its bytes) and the result, and may attach keys to
 *      result->extra (e.g. "review": {...}, scrim_review_server_attach);
 *   5. (match only, a block-list entry matched, --webhook-url given) the
 *      webhook event is queued in the database (src/server/webhook.c,
 *      doc/webhooks.md), sent later by a thread of its own;
 *   6. the response is hashes JSON + matched/matches/allowed + extra.
 * Extra endpoints (e.g. /v1/review/...) are added with scrim_server_route().
 *
 * Caveats:
 *  - Hooks and worker routes run on worker threads, concurrently with each
 *    other: they must be thread-safe and must not touch libevent objects.
 *  - Anything a hook or handler keeps after returning must be copied; the
 *    upload's bytes are freed right after the hooks have run.
 *  - Register media kinds, hooks and routes after scrim_server_new() and
 *    before scrim_server_run(); the tables are not locked.
 *  - Workers never write the log (its descriptor changes on SIGHUP): a
 *    handler reports through the call (error, hook_error), the loop logs it.
 *  - A body over --max-body is refused by libevent itself (413 with an HTML
 *    body, no log line), as soon as Content-Length or a chunk says so.
 *  - Before a route runs, src/server/guard.c refuses ambiguous framing
 *    (400, connection closed), a foreign Host over TCP (421) and
 *    cross-site requests (403); handlers never see them.
 */
#ifndef SCRIM_SERVER_H
#define SCRIM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- settings ------------------------------------------------------------ */

#define SCRIM_SETTINGS_PATH_MAX 1024
#define SCRIM_SETTINGS_MAX_ALLOW 16
#define SCRIM_SETTINGS_MAX_WEBHOOKS 8

/* Every option of scrimd.  Each field has a command-line option and a config
 * file key of the same name (e.g. max_body <-> --max-body / max-body = ...). */
typedef struct scrim_settings {
    char db[SCRIM_SETTINGS_PATH_MAX];        /* LMDB environment directory */
    char socket[SCRIM_SETTINGS_PATH_MAX];    /* Unix socket; "" = none */
    char listen[SCRIM_SETTINGS_PATH_MAX];    /* HOST:PORT; "" = no TCP */
    char allowed_hosts[SCRIM_SETTINGS_PATH_MAX]; /* Host names TCP answers */
    char allowed_origins[SCRIM_SETTINGS_PATH_MAX]; /* cross-site Origins let in */
    char config[SCRIM_SETTINGS_PATH_MAX];    /* config file read ("" none) */
    char admin_token_file[SCRIM_SETTINGS_PATH_MAX]; /* "" = admin API off */
    char reviewer_token_file[SCRIM_SETTINGS_PATH_MAX]; /* review API token */
    double review_retention;                 /* seconds review records live */
    char log[SCRIM_SETTINGS_PATH_MAX];       /* request log; "-" = stderr */
    char user[64];                           /* drop to this user if root */
    char allow_path[SCRIM_SETTINGS_MAX_ALLOW][SCRIM_SETTINGS_PATH_MAX];
    int n_allow_path;                        /* ?path= roots (none default) */
    int threads;                             /* workers; 0 = one per core */
    int video_threads;                       /* video workers; 0 = shared */
    int queue;                               /* queued jobs; 0 = 16/worker */
    int client_requests;                     /* one client's queued or running
                                              * requests; 0 = 4/worker */
    int client_workers;                      /* image workers one client may
                                              * occupy at once; 0 = all */
    int heavy_nice;                          /* nice of the heavy workers */
    uint64_t heavy_decode;                   /* bytes: bigger decodes run on
                                              * the heavy workers */
    uint64_t max_body;                       /* bytes of a request body */
    uint64_t max_pixels;                     /* pixels of a decoded image */
    double request_timeout;                  /* seconds from queue to reply */
    double admin_wait;                       /* then admin requests: 202 job */
    double idle_timeout;                     /* seconds of connection silence */
    double receive_timeout;                  /* seconds to receive a request */
    int min_quality;                         /* PDQ quality needed to match */
    int fast_decode;                         /* JPEG shrink-on-load to 512 */
    int ignore_alpha;                        /* alpha dropped, not flattened */
    int preload;                             /* read the db in at start/HUP */
    int cache_hashes;                        /* every PDQ in RAM (start/HUP) */
    int max_compare_frames;                  /* frames per side of /v1/compare */
    int review_rate;                         /* review records a client may
                                              * cause per minute; 0 = any */
    int allow_query_overrides;               /* ?radius=, ?min_quality=
                                              * without the admin token */
    uint64_t memory_budget;                  /* bytes bodies and decodes hold */
    uint64_t max_decode_memory;              /* bytes one decode holds */
    /* Webhooks (doc/webhooks.md): events POSTed to these URLs, signed with
     * the secret in webhook_secret_file; all fixed at start-up. */
    char webhook_url[SCRIM_SETTINGS_MAX_WEBHOOKS][SCRIM_SETTINGS_PATH_MAX];
    int n_webhook_url;
    char webhook_secret_file[SCRIM_SETTINGS_PATH_MAX];
    int webhook_queue;                       /* events kept per URL */
    double webhook_retry_base;               /* seconds: first retry's wait */
    double webhook_retry_max;                /* seconds: longest wait */
    double webhook_timeout;                  /* seconds one delivery may take */
    double webhook_sync;                     /* seconds before the queue is on
                                              * disk; 0: before the answer */
    /* reviewers (src/review/people.c) */
    int review_max_reveals;                  /* per reviewer and UTC day; 0 any */
    int review_max_items;                    /* decisions per reviewer and day */
    double review_break_after;               /* seconds of reviewing, then a break */
    double review_break;                     /* seconds the break lasts */
    int review_metrics_by_reviewer;          /* /metrics: per-reviewer series */
    char cluster[SCRIM_SETTINGS_PATH_MAX];   /* PostgreSQL connection string
                                              * of the cluster; "" = single
                                              * node */
    int quarantine_after;                    /* rejected matches before an
                                              * entry is quarantined; 0 never */
} scrim_settings;

/* Fill every field with its default. */
void scrim_settings_defaults(scrim_settings *s);

/* Set one option by its name ("max-body" or "max_body") from text, checking
 * its range.  Returns 0, or SCRIM_EINVAL with a message naming the option,
 * the accepted range and the value given. */
int scrim_settings_set(scrim_settings *s, const char *key, const char *value,
                       char *err, size_t errlen);

/* Apply a config file: "key = value" lines, '#' comments (whole lines, or
 * after white space), blank lines; keys are the long option names.  Errors
 * name the file and line. */
int scrim_settings_load_file(scrim_settings *s, const char *path, char *err,
                             size_t errlen);

/* The full resolution scrimd uses at start-up and on SIGHUP: defaults, then
 * the file named by --config (if any), then the command line, which wins.
 * *help is set when --help was given (nothing else is checked then) and
 * *print when --print-settings was.  argv[0] is the program name. */
int scrim_settings_resolve(scrim_settings *s, int argc, char **argv,
                           int *help, int *print, char *err, size_t errlen);

/* `--help` text, with every default. */
void scrim_settings_usage(FILE *f, const char *prog);

/* Effective settings in config-file syntax (re-readable by load_file), and
 * as a JSON object (GET /v1/settings). */
void scrim_settings_write(const scrim_settings *s, FILE *f);
json_t *scrim_settings_json(const scrim_settings *s);

/* ---- the server ------------------------------------------------------------ */

typedef struct scrim_server scrim_server;

/* Bind the sockets (a stale Unix socket is replaced; a live one is an
 * error), open the log, drop privileges (settings->user, when root), open the
 * database, start the workers.  argc/argv are kept (not copied) to resolve
 * the settings again on SIGHUP. */
int scrim_server_new(const scrim_settings *s, int argc, char **argv,
                     scrim_server **out, char *err, size_t errlen);

/* Serve until SIGTERM or SIGINT, then stop accepting, finish the requests in
 * flight and return 0.  SIGHUP re-reads the settings (those that can change
 * while running: limits, timeouts, tokens, allowed paths, log file) and
 * reopens the log. */
int scrim_server_run(scrim_server *srv);

/* Ask a running server to drain and stop (as SIGTERM does); thread-safe. */
void scrim_server_stop(scrim_server *srv);

void scrim_server_free(scrim_server *srv);

/* ---- one call (a request as handlers see it) --------------------------------- */

enum scrim_http_method {
    SCRIM_GET = 1, SCRIM_POST = 2, SCRIM_PUT = 4, SCRIM_DELETE = 8,
    SCRIM_HEAD = 16
};

typedef struct scrim_call {
    /* input, read-only for handlers */
    int method;                 /* one scrim_http_method */
    const char *path;           /* decoded path, e.g. "/v1/lists/foo" */
    const char *tail;           /* path after the route's prefix ("foo") */
    const uint8_t *body;        /* the request body (not NUL-terminated) */
    size_t body_len;
    const scrim_settings *settings; /* snapshot valid for the whole call */
    struct scrim_store *store;  /* the open database (NULL: none) */
    scrim_server *server;
    uint64_t id;                /* request id (also X-Request-Id) */
    char peer[64];              /* the client: "uid:N" on the Unix socket
                                 * (SO_PEERCRED), "ip:ADDR" over TCP, "" if
                                 * unknown: what per-client limits key on */
    double deadline;            /* scrim_now() by which the reply is due (its
                                 * arrival + --request-timeout): handlers pass
                                 * it to every loop that may run long, which
                                 * stops there with SCRIM_ETIMEOUT (504), so
                                 * a request that timed out stops taking CPU */
    /* output */
    int status;                 /* HTTP status; 0 = 200 */
    json_t *json;               /* response body, owned by the call */
    void *raw;                  /* or a raw body (malloc'd, owned) ... */
    size_t raw_len;
    char content_type[64];      /* ... with its type */
    int match_count;            /* for the log line */
    char content_id[257];       /* the client's id of the upload (?content_id=
                                 * or X-Content-Id), checked by the handler:
                                 * in the log line and the review record */
    int hook_failures;          /* post-match hooks that failed (metrics) */
    char hook_error[160];       /* the first one's message (log line) */
    char error_code[32];        /* set by scrim_call_error */
    void *priv_;                /* the server's; do not touch */
} scrim_call;

/* A query argument, or NULL if absent. */
const char *scrim_call_arg(const scrim_call *c, const char *name);

/* A request header kept for handlers ("Authorization" and "X-Content-Id"
 * only; copied when the request arrives, so workers may read it), or NULL. */
const char *scrim_call_header(const scrim_call *c, const char *name);

/* Make the call answer {"error": {"code", "message"}} with `status`.
 * Returns the matching negative SCRIM_E* code for convenience. */
int scrim_call_error(scrim_call *c, int status, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Add a response header (at most 4 a call; name < 32, value < 64 bytes,
 * no CR/LF), sent with a raw body (c->raw) only.  0 or SCRIM_EINVAL. */
int scrim_call_reply_header(scrim_call *c, const char *name, const char *value);

/* 1 if the call carries the admin token (Authorization: Bearer), which
 * lifts the limits meant for ordinary clients (e.g. query overrides). */
int scrim_call_is_admin(const scrim_call *c);

/* Fill the decode options that bound a decode made for this call: its
 * deadline, --max-decode-memory, and the server's memory budget as the
 * reserve hook (a decode that does not fit now is SCRIM_EBUSY: 503).
 * Other fields are left as they are. */
void scrim_call_decode_opts(const scrim_call *c, scrim_decode_opts *d);

/* Map a library error (SCRIM_E*) to the HTTP status scrimd answers with. */
int scrim_http_status_of(int scrim_err);

/* ---- hook point: routes ------------------------------------------------------- */

enum scrim_route_flags {
    SCRIM_ROUTE_PREFIX = 1,   /* path is a prefix ending in '/': tail = rest */
    SCRIM_ROUTE_WORKER = 2,   /* run on a worker (may block: decode, DB) */
    SCRIM_ROUTE_ADMIN = 4,    /* needs the admin Bearer token (401/403) */
    SCRIM_ROUTE_VIDEO = 8,    /* a worker route on the video workers
                               * (--video-threads), when there are any */
};

/* A handler fills c->status/json (or raw) and returns 0, or returns a
 * negative code after scrim_call_error(). */
typedef int (*scrim_route_fn)(scrim_call *c, void *arg);

/* Add an endpoint: `name` labels it in logs and metrics ("review"),
 * `methods` is a mask of scrim_http_method.  Call before scrim_server_run. */
int scrim_server_route(scrim_server *srv, const char *name, int methods,
                       const char *path, int flags, scrim_route_fn fn,
                       void *arg);

/* ---- hook point: media kinds ----------------------------------------------- */

/* enum scrim_media_kind and scrim_media_sniff() are in scrim/video.h. */

/* Query options of one /v1/hash or /v1/match call. */
typedef struct scrim_query_opts {
    int dihedral;       /* hash (and match) the 8 dihedral variants */
    int min_quality;    /* hashes below this never match */
    uint64_t max_pixels;
    int min_side;       /* decode: scrim_decode_opts.min_side */
    int ignore_alpha;   /* decode: scrim_decode_opts.ignore_alpha */
    int radius;         /* -1: each list's own radius */
    int regions;        /* images: also hash the picture found inside the
                           upload (scrim_decode_opts.regions); on for
                           matching, ?regions=0 turns it off */
    double deadline;    /* the call's (scrim_call.deadline); 0: none */
    const char *const *lists;   /* ?lists=: only these lists (NULL: all) */
    size_t nlists;
    /* The call itself, so a media kind can read options of its own with
     * scrim_call_arg() (video: ?seconds_per_hash=, ?keyframes=) without the
     * server core knowing them; a bad value is the handler's SCRIM_EINVAL
     * (400).  NULL when there is no HTTP call. */
    const scrim_call *call;
} scrim_query_opts;

/* One upload after hashing.  The handler that hashed it owns `state` and
 * frees it in its free() callback. */
typedef struct scrim_upload {
    int kind;                     /* scrim_media_kind */
    const struct scrim_media_handler *handler;
    const uint8_t *bytes;         /* the upload, valid for the whole call */
    size_t len;
    char md5[33], sha256[65];     /* of the bytes */
    scrim_image_hashes image;     /* kind == IMAGE */
    void *state;                  /* other kinds' data (video frames ...) */
} scrim_upload;

/* The match step's result; post-match hooks may add keys to `extra`, which
 * are merged into the response. */
typedef struct scrim_match_result {
    int matched;                  /* a block-list entry matched */
    json_t *matches;              /* array, nearest first */
    json_t *allowed;              /* allow-list hits */
    json_t *extra;                /* object merged into the response */
} scrim_match_result;

typedef struct scrim_media_handler {
    const char *kind;             /* "image", "video" */
    /* True if these bytes are this kind (from content, never headers). */
    int (*sniff)(const void *buf, size_t len);
    /* Hash up->bytes into up; SCRIM_E* + message on failure. */
    int (*hash)(scrim_upload *up, const scrim_query_opts *o, char *err,
                size_t errlen);
    /* The hashes part of the response ({"kind", "pdq", "md5", ...}). */
    json_t *(*to_json)(const scrim_upload *up, const scrim_query_opts *o);
    /* Look the hashes up; NULL store or NULL match: no matching. */
    int (*match)(const scrim_upload *up, const scrim_query_opts *o,
                 struct scrim_store *store, scrim_match_result *res,
                 char *err, size_t errlen);
    /* Free what hash() kept in up (NULL: it keeps nothing). */
    void (*free)(scrim_upload *up);
} scrim_media_handler;

/* Register a media kind, tried before those already registered (the image
 * handler is built in and tried last).  Call before scrim_server_run. */
int scrim_server_media(scrim_server *srv, const scrim_media_handler *h);

/* ---- hook point: counters ----------------------------------------------------- */

/* A counter of a module's own, shown in /metrics as scrim_NAME with its help
 * text (e.g. "review_throttled_total").  Register before scrim_server_run;
 * NULL when the table is full.  scrim_counter_add is thread-safe (hooks and
 * worker routes call it). */
typedef struct scrim_counter scrim_counter;
scrim_counter *scrim_server_counter(scrim_server *srv, const char *name,
                                    const char *help);
void scrim_counter_add(scrim_counter *c, uint64_t n);

/* ---- hook point: /metrics ---------------------------------------------------- */

/* Text a module adds to /metrics (Prometheus text format, its own HELP and
 * TYPE lines) with the current settings; `admin` is set for a scrape with
 * the admin token (series with labels that name people or lists only
 * then).  Runs on the loop thread, concurrently with the module's routes
 * on workers. */
typedef void (*scrim_metrics_fn)(FILE *f, const scrim_settings *s, int admin,
                                 void *arg);
int scrim_server_metrics(scrim_server *srv, scrim_metrics_fn fn, void *arg);

/* ---- hook point: after a match ---------------------------------------------- */

/* Runs on the worker after every /v1/match's match step (matched or not;
 * check res->matched).  A failing hook is logged and counted in
 * scrim_errors_total{kind="hook"}; the matches are still answered. */
typedef int (*scrim_match_hook_fn)(scrim_call *c, const scrim_upload *up,
                                   scrim_match_result *res, void *arg,
                                   char *err, size_t errlen);

int scrim_server_match_hook(scrim_server *srv, scrim_match_hook_fn fn,
                            void *arg);

/* ---- hook point: health ------------------------------------------------------- */

/* Adds key `name` to GET /healthz: fn returns a new JSON value describing the
 * module, and sets *degraded when the module works only in part (then
 * /healthz says "status": "degraded", still with 200).  Runs on the loop
 * thread, concurrently with the module's hooks and routes on workers. */
typedef json_t *(*scrim_health_fn)(void *arg, int *degraded);

int scrim_server_health(scrim_server *srv, const char *name,
                        scrim_health_fn fn, void *arg);

/* The server's database (NULL: none), for a module that opens what it needs
 * of it at start-up. */
struct scrim_store *scrim_server_store(scrim_server *srv);

#ifdef __cplusplus
}
#endif

#endif
