/* settings.c - scrimd's settings: one struct, defaults in one place,
 * one table of options shared by the command line, the config file, --help
 * and the effective-settings report. */
#include "scrim.h"
#include "scrim/server.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void scrim_settings_defaults(scrim_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->db, sizeof s->db, "./var/scrim.db");
    snprintf(s->socket, sizeof s->socket, "./var/scrimd.sock");
    snprintf(s->listen, sizeof s->listen, "127.0.0.1:8750");
    snprintf(s->allowed_hosts, sizeof s->allowed_hosts, "localhost,127.0.0.1,::1");
    snprintf(s->log, sizeof s->log, "-");
    s->threads = 0;
    s->queue = 0;
    s->video_threads = 1;
    s->client_requests = 0;
    s->heavy_nice = 10;
    s->heavy_decode = 48ULL << 20;
    s->max_body = 64ULL << 20;
    s->max_pixels = SCRIM_DEFAULT_MAX_PIXELS;
    s->request_timeout = 30;
    s->admin_wait = 10;
    s->idle_timeout = 30;
    s->receive_timeout = 60;
    s->min_quality = 50;
    s->preload = 1;
    s->cache_hashes = 1;
    s->review_retention = 7 * 24 * 3600;
    s->max_compare_frames = SCRIM_VIDEO_DEFAULT_MAX_FRAMES;
    s->review_rate = 120;
    s->quarantine_after = 3;   /* SCRIM_REVIEW_QUARANTINE_AFTER */
    s->memory_budget = 1ULL << 30;
    s->max_decode_memory = SCRIM_DEFAULT_MAX_DECODE_MEMORY;
    s->webhook_queue = 100000;
    s->webhook_retry_base = 1;
    s->webhook_retry_max = 600;
    s->webhook_timeout = 10;
    s->webhook_sync = 1;
    s->review_max_reveals = 100;
    s->review_max_items = 500;
    s->review_break_after = 45 * 60;
    s->review_break = 5 * 60;
}

enum opt_type { T_STR, T_INT, T_U64, T_SECS, T_ALLOW, T_URLS };

/* The option table: name, type, field, range, help.  Everything about an
 * option is here, so parsing, --help and the report cannot disagree. */
static const struct opt {
    const char *name;
    enum opt_type type;
    size_t off, size;
    double lo, hi;
    const char *arg, *help;
} opts[] = {
#define F(f) offsetof(scrim_settings, f), sizeof(((scrim_settings *)0)->f)
    {"db", T_STR, F(db), 1, 0, "DIR", "LMDB database directory"},
    {"cluster", T_STR, F(cluster), 0, 0, "URL",
     "cluster mode: the PostgreSQL (libpq connection string, e.g. "
     "postgresql:///scrim?host=/run/postgresql) holding the lists and their "
     "change log, which this node's database follows ('' = single node)"},
    {"socket", T_STR, F(socket), 0, 0, "PATH",
     "Unix socket to serve on ('none' = no socket)"},
    {"listen", T_STR, F(listen), 0, 0, "HOST:PORT",
     "TCP address to serve on ('none' = no TCP; port 0 = any free port)"},
    {"allowed-hosts", T_STR, F(allowed_hosts), 0, 0, "NAMES",
     "Host header names answered over TCP, comma-separated, besides the "
     "--listen host ('*' = any; others: 421, against DNS rebinding)"},
    {"allowed-origins", T_STR, F(allowed_origins), 0, 0, "ORIGINS",
     "other web origins (http[s]://HOST[:PORT], comma-separated) whose pages "
     "may POST here; any other cross-site request is refused (403)"},
    {"threads", T_INT, F(threads), 0, 256, "N",
     "worker threads (0 = one per core)"},
    {"video-threads", T_INT, F(video_threads), 0, 64, "N",
     "workers for videos and /v1/compare only, so that long videos never "
     "hold up images (each queues 16 more; 0 = videos take the image "
     "workers)"},
    {"queue", T_INT, F(queue), 0, 1000000, "N",
     "requests waiting for a worker before 503 (0 = 16 per worker)"},
    {"client-requests", T_INT, F(client_requests), 0, 1000000, "N",
     "requests one client (TCP address, Unix socket peer process, the admin "
     "token) may have queued or running at once; past it 429 (0 = a share "
     "of the queue: all of it for a lone client, an equal part when others "
     "wait too, at least 4 per worker); workers take the clients in turn"},
    {"client-workers", T_INT, F(client_workers), 0, 256, "N",
     "image workers one client may occupy at once, so that another client "
     "finds one free (0 = all: a lone client may use every worker)"},
    {"heavy-nice", T_INT, F(heavy_nice), 0, 19, "N",
     "nice value (and SCHED_BATCH) of the threads of heavy work: videos, "
     "/v1/compare, admin imports, big decodes; light requests get the CPU "
     "first (0 = same priority; on restart)"},
    {"heavy-decode", T_U64, F(heavy_decode), 1048576, 1099511627776.0, "BYTES",
     "an image whose decode is reckoned to hold more than this is decoded "
     "on the heavy workers, not the image workers"},
    {"config", T_STR, F(config), 0, 0, "FILE",
     "config file: 'key = value' lines with these option names"},
    {"admin-token-file", T_STR, F(admin_token_file), 0, 0, "FILE",
     "file holding the admin Bearer token (none = admin API off)"},
    {"reviewer-token-file", T_STR, F(reviewer_token_file), 0, 0, "FILE",
     "file holding the reviewer Bearer token for /v1/review and /review"},
    {"review-retention", T_SECS, F(review_retention), 60, 31536000, "SECONDS",
     "how long review records (previews, decisions) are kept"},
    {"review-rate", T_INT, F(review_rate), 0, 1000000, "N",
     "review records one client (Unix socket uid, TCP address) may cause per "
     "minute, in bursts of up to a minute's worth; over it matches are "
     "answered without a record (0 = no limit)"},
    {"review-max-reveals", T_INT, F(review_max_reveals), 0, 1000000, "N",
     "reveals (lighter previews) one reviewer may see per UTC day; past it a "
     "reveal is refused with 429 (0 = no cap; the admin token has none)"},
    {"review-max-items", T_INT, F(review_max_items), 0, 1000000, "N",
     "items one reviewer may decide per UTC day; past it decisions, previews "
     "and reveals are refused with 429 (0 = no cap)"},
    {"review-break-after", T_SECS, F(review_break_after), 1, 86400, "SECONDS",
     "continuous reviewing after which the review page blanks the queue for "
     "a break (a pause of --review-break ends a stretch)"},
    {"review-break", T_SECS, F(review_break), 1, 86400, "SECONDS",
     "how long the break lasts (the reviewer may dismiss it with a reason, "
     "which is logged)"},
    {"review-metrics-by-reviewer", T_INT, F(review_metrics_by_reviewer), 0, 1,
     "0|1", "1: /metrics scraped with the admin token also has exposure "
     "series labelled with each reviewer's name (0: totals only)"},
    {"quarantine-after", T_INT, F(quarantine_after), 0, 1000000, "N",
     "an entry whose matches reviewers rejected N times (distinct uploads) "
     "is quarantined: it stops matching until an admin restores or removes "
     "it (POST /v1/review/quarantine; 0 = never)"},
    {"allow-query-overrides", T_INT, F(allow_query_overrides), 0, 1, "0|1",
     "1: any client may change what matches with ?radius= and ?min_quality=; "
     "0: only with the admin token (403 without)"},
    {"allow-path", T_ALLOW, F(allow_path), 0, 0, "DIR",
     "directory POST /v1/match?path= may read under (repeatable)"},
    {"max-body", T_U64, F(max_body), 1024, 4294967296.0, "BYTES",
     "largest request body (413 above)"},
    {"max-pixels", T_U64, F(max_pixels), 1, 1e12, "N",
     "largest image in pixels, checked before decoding (413 above)"},
    {"max-decode-memory", T_U64, F(max_decode_memory), 1048576, 1099511627776.0,
     "BYTES", "memory one image decode may hold, reckoned from its header "
     "(pixels; a progressive JPEG's coefficients: w x h x components x 2) "
     "before decoding (413 above)"},
    {"memory-budget", T_U64, F(memory_budget), 1048576, 1099511627776.0, "BYTES",
     "memory request bodies (from their headers until answered) and decodes "
     "may hold at once; past it new bodies wait (reading paused, within "
     "--receive-timeout) and decodes get 503 with Retry-After"},
    {"request-timeout", T_SECS, F(request_timeout), 0.001, 3600, "SECONDS",
     "time from a request's arrival to its reply (504 after); decoding, frame "
     "sampling, comparisons and imports stop there too"},
    {"admin-wait", T_SECS, F(admin_wait), 0, 3600, "SECONDS",
     "time an admin request (import, drop, ...) is waited for; then 202 "
     "Accepted and it runs on as a job (GET /v1/jobs/ID; 0 = always)"},
    {"max-compare-frames", T_INT, F(max_compare_frames), 1, 1000000, "N",
     "frames per side of POST /v1/compare, whose work is the product of the "
     "two (413 above)"},
    {"idle-timeout", T_SECS, F(idle_timeout), 0.1, 3600, "SECONDS",
     "silence allowed on a connection mid-request (slow clients are cut)"},
    {"receive-timeout", T_SECS, F(receive_timeout), 0.1, 3600, "SECONDS",
     "time a client has to send a whole request, headers and body, from its "
     "first byte (clients that trickle are cut)"},
    {"min-quality", T_INT, F(min_quality), 0, 100, "N",
     "PDQ quality a hash needs to match; an image upload's own hash needs "
     "a fifth of it (per request: ?min_quality=, see "
     "--allow-query-overrides)"},
    {"fast-decode", T_INT, F(fast_decode), 0, 1, "0|1",
     "shrink big JPEGs on load to 512 px: faster, hashes a few bits off"},
    {"ignore-alpha", T_INT, F(ignore_alpha), 0, 1, "0|1",
     "1: colours of images with alpha as stored (as the reference CLI); 0: onto white"},
    {"preload", T_INT, F(preload), 0, 1, "0|1",
     "1: read the database into memory at start-up and on SIGHUP, in the "
     "background, on 2 MB pages where the kernel can (faster lookups)"},
    {"cache-hashes", T_INT, F(cache_hashes), 0, 1, "0|1",
     "1: keep every PDQ in memory (32 bytes per hash), filled in the background "
     "at start-up and on SIGHUP: lookups check candidates without LMDB reads"},
    {"webhook-url", T_URLS, F(webhook_url), 0, 0, "URL",
     "http:// or https:// URL POSTed a signed JSON event on each block-list "
     "match and review decision (repeatable, or comma-separated; at most 8)"},
    {"webhook-secret-file", T_STR, F(webhook_secret_file), 0, 0, "FILE",
     "file holding the webhooks' HMAC-SHA256 secret (needed with "
     "--webhook-url; re-read when it changes)"},
    {"webhook-queue", T_INT, F(webhook_queue), 1, 10000000, "N",
     "events kept per webhook URL until delivered; past it the oldest is "
     "dropped and counted"},
    {"webhook-retry-base", T_SECS, F(webhook_retry_base), 0.001, 3600,
     "SECONDS", "wait before a failed delivery's first retry, doubled at each "
     "further failure (with jitter)"},
    {"webhook-retry-max", T_SECS, F(webhook_retry_max), 0.001, 86400,
     "SECONDS", "longest wait between retries of a delivery"},
    {"webhook-timeout", T_SECS, F(webhook_timeout), 0.001, 600, "SECONDS",
     "time a webhook delivery may take before it counts as failed"},
    {"webhook-sync", T_SECS, F(webhook_sync), 0, 60, "SECONDS",
     "time before a queued webhook event is flushed to disk: it survives a "
     "crash or kill of scrimd at once, a power loss after this (0 = flushed "
     "before the request is answered: an fsync per event)"},
    {"log", T_STR, F(log), 1, 0, "FILE", "request log ('-' = stderr)"},
    {"user", T_STR, F(user), 0, 0, "NAME",
     "user to run as when started as root"},
#undef F
};
#define N_OPTS (sizeof opts / sizeof *opts)

static const struct opt *opt_find(const char *key, size_t len)
{
    char norm[64];
    if (len >= sizeof norm)
        return NULL;
    for (size_t i = 0; i < len; i++)
        norm[i] = key[i] == '_' ? '-' : key[i];
    norm[len] = '\0';
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(opts[i].name, norm))
            return &opts[i];
    return NULL;
}

/* --allowed-origins: comma-separated http://HOST[:PORT] or https://... */
static int origins_check(const char *v, char *err, size_t errlen)
{
    while (*v) {
        size_t n = strcspn(v, ",");
        size_t skip = !strncmp(v, "http://", 7) ? 7 : !strncmp(v, "https://", 8) ? 8 : 0;
        if (!skip || n <= skip || memchr(v + skip, '/', n - skip) ||
            memchr(v, ' ', n)) {
            scrim__seterr(err, errlen, "--allowed-origins: expected "
                          "http[s]://HOST[:PORT], comma-separated, got '%.*s'",
                          (int)n, v);
            return -1;
        }
        v += n + (v[n] == ',');
    }
    return 0;
}

/* "64M", "1G", "512k" or plain bytes. */
static int parse_u64(const char *v, double *out)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        return -1;
    double d = strtod(v, &end);
    if (errno || end == v)
        return -1;
    double mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1024.0; break;
        case 'm': case 'M': mul = 1024.0 * 1024; break;
        case 'g': case 'G': mul = 1024.0 * 1024 * 1024; break;
        default: return -1;
        }
        if (end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
            return -1;
    }
    *out = d * mul;
    return d * mul == floor(d * mul) ? 0 : -1;
}

int scrim_settings_set(scrim_settings *s, const char *key, const char *value,
                       char *err, size_t errlen)
{
    const struct opt *o = opt_find(key, strlen(key));
    char *field;
    if (!o) {
        scrim__seterr(err, errlen, "unknown option '%s' (see --help)", key);
        return SCRIM_EINVAL;
    }
    if (!value) {
        scrim__seterr(err, errlen, "--%s: needs a value (%s)", o->name, o->arg);
        return SCRIM_EINVAL;
    }
    field = (char *)s + o->off;
    switch (o->type) {
    case T_STR: {
        if (!strcmp(value, "none") && o->lo == 0)
            value = "";
        if (strlen(value) >= o->size) {
            scrim__seterr(err, errlen, "--%s: value longer than %zu characters",
                          o->name, o->size - 1);
            return SCRIM_EINVAL;
        }
        if (o->lo > 0 && !*value) {
            scrim__seterr(err, errlen, "--%s: must not be empty", o->name);
            return SCRIM_EINVAL;
        }
        if (!strcmp(o->name, "listen") && *value) {
            const char *colon = strrchr(value, ':');
            char *end;
            long port = colon ? strtol(colon + 1, &end, 10) : -1;
            if (!colon || colon == value || !colon[1] || *end || port < 0 ||
                port > 65535) {
                scrim__seterr(err, errlen,
                              "--listen: expected HOST:PORT with a port from 0 "
                              "to 65535, or 'none', got '%s'", value);
                return SCRIM_EINVAL;
            }
        }
        if (!strcmp(o->name, "allowed-origins") && origins_check(value, err, errlen))
            return SCRIM_EINVAL;
        memcpy(field, value, strlen(value) + 1);
        return SCRIM_OK;
    }
    case T_ALLOW:
        if (!*value || !strcmp(value, "none")) {
            s->n_allow_path = 0;   /* lets a later source clear the list */
            return SCRIM_OK;
        }
        if (value[0] != '/') {
            scrim__seterr(err, errlen, "--allow-path: must be an absolute "
                          "directory, got '%s'", value);
            return SCRIM_EINVAL;
        }
        if (s->n_allow_path >= SCRIM_SETTINGS_MAX_ALLOW ||
            strlen(value) >= SCRIM_SETTINGS_PATH_MAX) {
            scrim__seterr(err, errlen, "--allow-path: at most %d directories "
                          "of under %d characters", SCRIM_SETTINGS_MAX_ALLOW,
                          SCRIM_SETTINGS_PATH_MAX);
            return SCRIM_EINVAL;
        }
        snprintf(s->allow_path[s->n_allow_path++], SCRIM_SETTINGS_PATH_MAX,
                 "%s", value);
        return SCRIM_OK;
    case T_URLS:
        /* Repeated, or comma-separated: each URL is added. */
        if (!*value || !strcmp(value, "none")) {
            s->n_webhook_url = 0;
            return SCRIM_OK;
        }
        while (*value) {
            size_t n = strcspn(value, ",");
            int bad = !(n > 7 && !strncmp(value, "http://", 7)) &&
                      !(n > 8 && !strncmp(value, "https://", 8));
            for (size_t i = 0; i < n && !bad; i++)
                bad = (unsigned char)value[i] <= 0x20 || value[i] == 0x7f;
            if (bad) {
                scrim__seterr(err, errlen, "--webhook-url: expected http:// or "
                              "https:// and a host, without spaces, got "
                              "'%.*s'", (int)(n > 200 ? 200 : n), value);
                return SCRIM_EINVAL;
            }
            if (s->n_webhook_url >= SCRIM_SETTINGS_MAX_WEBHOOKS ||
                n >= SCRIM_SETTINGS_PATH_MAX) {
                scrim__seterr(err, errlen, "--webhook-url: at most %d URLs "
                              "of under %d characters",
                              SCRIM_SETTINGS_MAX_WEBHOOKS,
                              SCRIM_SETTINGS_PATH_MAX);
                return SCRIM_EINVAL;
            }
            for (int i = 0; i < s->n_webhook_url; i++)
                if (strlen(s->webhook_url[i]) == n &&
                    !strncmp(s->webhook_url[i], value, n)) {
                    scrim__seterr(err, errlen, "--webhook-url: '%.*s' is "
                                  "given twice", (int)(n > 200 ? 200 : n),
                                  value);
                    return SCRIM_EINVAL;
                }
            snprintf(s->webhook_url[s->n_webhook_url++],
                     SCRIM_SETTINGS_PATH_MAX, "%.*s", (int)n, value);
            value += n + (value[n] == ',');
        }
        return SCRIM_OK;
    case T_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno || v < o->lo || v > o->hi) {
            scrim__seterr(err, errlen, "--%s: expected an integer from %.0f to "
                          "%.0f, got '%s'", o->name, o->lo, o->hi, value);
            return SCRIM_EINVAL;
        }
        *(int *)field = (int)v;
        return SCRIM_OK;
    }
    case T_U64: {
        double d;
        if (parse_u64(value, &d) || d < o->lo || d > o->hi) {
            scrim__seterr(err, errlen, "--%s: expected a whole number from "
                          "%.0f to %.0f (suffixes k, M, G allowed), got '%s'",
                          o->name, o->lo, o->hi, value);
            return SCRIM_EINVAL;
        }
        *(uint64_t *)field = (uint64_t)d;
        return SCRIM_OK;
    }
    case T_SECS: {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (!*value || *end || errno || !(d >= o->lo && d <= o->hi)) {
            scrim__seterr(err, errlen, "--%s: expected seconds from %g to %g "
                          "(decimals allowed), got '%s'", o->name, o->lo,
                          o->hi, value);
            return SCRIM_EINVAL;
        }
        *(double *)field = d;
        return SCRIM_OK;
    }
    }
    return SCRIM_EINVAL;
}

static char *trim(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' ||
                 p[n - 1] == '\r'))
        p[--n] = '\0';
    return p;
}

int scrim_settings_load_file(scrim_settings *s, const char *path, char *err,
                             size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096], msg[512];
    int lineno = 0, rc = SCRIM_OK;
    if (!f) {
        scrim__seterr(err, errlen, "%s: cannot open config file: %s", path,
                      strerror(errno));
        return SCRIM_EIO;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = trim(line);
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            scrim__seterr(err, errlen, "%s:%d: expected 'key = value', got '%s'",
                          path, lineno, p);
            rc = SCRIM_EINVAL;
            break;
        }
        *eq = '\0';
        /* A '#' after white space starts a comment ("log = -  # journal"). */
        for (char *h = eq + 1; *h; h++)
            if (*h == '#' && (h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                break;
            }
        char *key = trim(p), *val = trim(eq + 1);
        if (!strcmp(key, "config") || !strcmp(key, "help")) {
            scrim__seterr(err, errlen, "%s:%d: '%s' cannot be set in a config "
                          "file", path, lineno, key);
            rc = SCRIM_EINVAL;
            break;
        }
        if ((rc = scrim_settings_set(s, key, val, msg, sizeof msg))) {
            scrim__seterr(err, errlen, "%s:%d: %s", path, lineno, msg);
            break;
        }
    }
    fclose(f);
    return rc;
}

int scrim_settings_resolve(scrim_settings *s, int argc, char **argv,
                           int *help, int *print, char *err, size_t errlen)
{
    const char *config = NULL;
    int rc;
    *help = *print = 0;
    scrim_settings_defaults(s);
    /* First pass: --help and --config only, so the file applies before the
     * command line overrides it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            *help = 1;
            return SCRIM_OK;
        }
        if (!strcmp(argv[i], "--config"))
            config = i + 1 < argc ? argv[i + 1] : "";
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
    }
    if (config && *config) {
        if ((rc = scrim_settings_load_file(s, config, err, errlen)))
            return rc;
        snprintf(s->config, sizeof s->config, "%s", config);
    }
    int allow_from_cli = 0, urls_from_cli = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--print-settings")) {
            *print = 1;
            continue;
        }
        if (strncmp(a, "--", 2)) {
            scrim__seterr(err, errlen, "unexpected argument '%s' (see --help)",
                          a);
            return SCRIM_EINVAL;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        char key[64];
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        if (klen >= sizeof key) {
            scrim__seterr(err, errlen, "unknown option '%s' (see --help)",
                          argv[i]);
            return SCRIM_EINVAL;
        }
        memcpy(key, a, klen);
        key[klen] = '\0';
        if (eq)
            val = eq + 1;
        else
            val = i + 1 < argc ? argv[++i] : NULL;
        /* --allow-path on the command line replaces the file's list. */
        if (!strcmp(key, "allow-path") && !allow_from_cli++)
            s->n_allow_path = 0;
        /* So does --webhook-url (webhook_url also spelt with '_'). */
        if ((!strcmp(key, "webhook-url") || !strcmp(key, "webhook_url")) &&
            !urls_from_cli++)
            s->n_webhook_url = 0;
        if ((rc = scrim_settings_set(s, key, val, err, errlen)))
            return rc;
    }
    return SCRIM_OK;
}

static void value_text(const scrim_settings *s, const struct opt *o,
                       char *out, size_t n)
{
    const char *field = (const char *)s + o->off;
    switch (o->type) {
    case T_STR:
        snprintf(out, n, "%s", *field ? field : "none");
        break;
    case T_INT:
        snprintf(out, n, "%d", *(const int *)field);
        break;
    case T_U64:
        snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case T_SECS:
        snprintf(out, n, "%g", *(const double *)field);
        break;
    case T_ALLOW:
    case T_URLS:
        snprintf(out, n, "none");
        break;
    }
}

void scrim_settings_usage(FILE *f, const char *prog)
{
    scrim_settings d;
    char v[SCRIM_SETTINGS_PATH_MAX + 8], left[64];
    scrim_settings_defaults(&d);
    fprintf(f, "usage: %s [OPTIONS]\n\nscrimd serves scrim's hashing and "
            "matching over HTTP (a Unix socket and/or TCP).\n\noptions "
            "(default in brackets; each may also be a config file key):\n",
            prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        value_text(&d, &opts[i], v, sizeof v);
        snprintf(left, sizeof left, "--%s %s", opts[i].name, opts[i].arg);
        fprintf(f, "  %-28s %s [%s]\n", left, opts[i].help, v);
    }
    fprintf(f, "  %-28s %s\n  %-28s %s\n", "--print-settings",
            "print the effective settings (config file syntax) and exit",
            "--help", "this text");
    fprintf(f, "\nSignals: SIGTERM/SIGINT drain in-flight requests and exit 0; "
            "SIGHUP reloads the config and reopens the log.\n");
}

void scrim_settings_write(const scrim_settings *s, FILE *f)
{
    char v[SCRIM_SETTINGS_PATH_MAX + 8];
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == T_ALLOW) {
            if (!s->n_allow_path)
                fprintf(f, "%s = none\n", opts[i].name);
            for (int k = 0; k < s->n_allow_path; k++)
                fprintf(f, "%s = %s\n", opts[i].name, s->allow_path[k]);
            continue;
        }
        if (opts[i].type == T_URLS) {
            if (!s->n_webhook_url)
                fprintf(f, "%s = none\n", opts[i].name);
            for (int k = 0; k < s->n_webhook_url; k++)
                fprintf(f, "%s = %s\n", opts[i].name, s->webhook_url[k]);
            continue;
        }
        if (!strcmp(opts[i].name, "config"))
            continue;   /* a config file cannot name another */
        value_text(s, &opts[i], v, sizeof v);
        fprintf(f, "%s = %s\n", opts[i].name, v);
    }
}

/* A connection string without its password (user:PASS@ of a URI,
 * password=PASS of a query or keyword form), for reports and logs. */
static json_t *redacted(const char *conn)
{
    char out[SCRIM_SETTINGS_PATH_MAX + 16];
    size_t o = 0;
    const char *p = conn, *at = strchr(conn, '@'), *scheme = strstr(conn, "://");
    while (*p && o + 4 < sizeof out) {
        if (scheme && at && p > scheme + 2 && p < at && *p == ':' &&
            !memchr(scheme + 3, '/', (size_t)(p - scheme - 3))) {
            o += (size_t)snprintf(out + o, sizeof out - o, ":***");
            p = at;
            continue;
        }
        if (!strncmp(p, "password=", 9) &&
            (p == conn || strchr("?& \t", p[-1]))) {
            o += (size_t)snprintf(out + o, sizeof out - o, "password=***");
            p += 9;
            while (*p && *p != '&' && *p != ' ')
                p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return json_string(out);
}

json_t *scrim_settings_json(const scrim_settings *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *field = (const char *)s + opts[i].off;
        json_t *v = NULL;
        switch (opts[i].type) {
        case T_STR:
            v = field == s->cluster ? redacted(field) : json_string(field);
            break;
        case T_INT: v = json_integer(*(const int *)field); break;
        case T_U64: v = json_integer((json_int_t)*(const uint64_t *)field); break;
        case T_SECS: v = json_real(*(const double *)field); break;
        case T_ALLOW:
            v = json_array();
            for (int k = 0; k < s->n_allow_path; k++)
                json_array_append_new(v, json_string(s->allow_path[k]));
            break;
        case T_URLS:
            v = json_array();
            for (int k = 0; k < s->n_webhook_url; k++)
                json_array_append_new(v, json_string(s->webhook_url[k]));
            break;
        }
        json_object_set_new(o, opts[i].name, v);
    }
    return o;
}
