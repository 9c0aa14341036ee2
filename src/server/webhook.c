/* webhook.c - scrimd's webhooks: an event (a block-list match, a review
 * decision) is written to a queue in LMDB on the thread that answers the
 * request, before the answer; one delivery thread POSTs it, signed, to every
 * --webhook-url with libcurl, retrying with exponential backoff and jitter
 * until the receiver answers 2xx.  The format, the signature and how a
 * receiver checks it: doc/webhooks.md; why it is built so: doc/design.md.
 *
 * The queue: table "webhook.queue" of an LMDB environment of its own in the
 * database directory (webhook.mdb: its own write lock, and its own
 * durability: with --webhook-sync > 0 a commit is not flushed to disk, the
 * delivery thread flushes at most that long after; the page cache holds
 * what a killed scrimd committed), key = the URL's tag (8 bytes of
 * SHA-256 of the URL) . sequence number (8 bytes, big-endian), value = a
 * 64-byte head (created, event id, type) and the event's JSON body.  Each
 * URL has its own copy of each event, so a receiver that is down holds up
 * only its own queue, and its bound (--webhook-queue) drops only its own
 * oldest.  In memory, per URL, the sequence numbers with their retry state
 * (not persisted: after a restart every queued event is tried at once). */
#include "scrim.h"
#include "base/base.h"
#include "index/index.h"
#include "server/server.h"

/* libcurl is opened on first use, as FFmpeg and libvips are (base/lazy.c):
 * only a daemon with --webhook-url needs it, and linked it would bring
 * its own dependencies (nghttp2, ssh2, ldap, ...) into every program and
 * into a static link of libscrim.  Called through cu.*, so without the
 * type-checking macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <lmdb.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define HEAD_BYTES 64     /* value head: created_us (8), id (32), type (24) */
#define ID_HEX 32
#define TYPE_MAX 24
#define KEY_BYTES 16
#define MAX_LOG 32        /* messages waiting for the loop */
#define FAILING_AFTER 3   /* failures in a row logged as "failing" */

typedef struct wh_item {
    uint64_t seq;
    int64_t created_us;   /* wall clock */
    double next_try;      /* scrim__now() */
    uint32_t attempts;    /* failed so far (this run) */
} wh_item;

typedef struct wh_target {
    int index;                  /* 1-based, in --webhook-url order */
    char url[SCRIM_SETTINGS_PATH_MAX];
    uint8_t tag[8];
    wh_item *v;                 /* by seq */
    size_t n, cap;
    /* the delivery in flight (delivery thread only, but busy/seq under lock) */
    int busy;
    uint64_t busy_seq;
    uint32_t busy_attempt;
    CURL *easy;
    struct curl_slist *hdrs;
    char *buf;                  /* "<t>." then the body: what is signed */
    double paused_until;        /* after a failure to reach the receiver */
    uint32_t fails_in_row;
} wh_target;

struct scrim__webhooks {
    scrim_server *srv;
    MDB_env *env;               /* webhook.mdb */
    double sync_every;          /* 0: every commit is flushed */
    atomic_int dirty;           /* commits not flushed yet */
    double last_sync;
    MDB_dbi q;
    pthread_mutex_t lock;
    wh_target t[SCRIM_SETTINGS_MAX_WEBHOOKS];
    int nt;
    uint64_t next_seq;
    int max_queue;
    double retry_base, retry_max, timeout;
    scrim__token_file secret_tf;
    char secret_path[SCRIM_SETTINGS_PATH_MAX];
    pthread_t thread;
    int running;
    atomic_int stop;
    CURLM *multi;
    uint64_t rnd;               /* jitter (delivery thread) */
    /* messages for the log, written by the loop (workers and this thread
     * never write it) */
    struct event *log_ev;
    json_t *logq[MAX_LOG];
    int nlog;
    atomic_uint_least64_t queued, delivered, failed, dropped, emit_errors;
};

/* ---- libcurl, opened on first use ------------------------------------------ */

#define CURL_SONAME "libcurl.so.4"
#define CURL_FUNCS(X)                                                         \
    X(curl_global_init) X(curl_global_cleanup) X(curl_easy_init)              \
    X(curl_easy_cleanup) X(curl_easy_reset) X(curl_easy_setopt)               \
    X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_slist_append)          \
    X(curl_slist_free_all) X(curl_multi_init) X(curl_multi_cleanup)          \
    X(curl_multi_add_handle) X(curl_multi_remove_handle)                     \
    X(curl_multi_perform) X(curl_multi_info_read) X(curl_multi_poll)         \
    X(curl_multi_wakeup)

static struct {
#define CURL_PTR(f) __typeof__(f) *f;
    CURL_FUNCS(CURL_PTR)
#undef CURL_PTR
} cu;
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static char cu_failure[256];

static void cu_open(void)
{
    void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cu_failure, sizeof cu_failure, "%s", dlerror());
        return;
    }
#define CURL_SYM(f)                                                           \
    if (!cu_failure[0] && !(*(void **)&cu.f = dlsym(h, #f)))                  \
        snprintf(cu_failure, sizeof cu_failure, CURL_SONAME " has no " #f);
    CURL_FUNCS(CURL_SYM)
#undef CURL_SYM
    /* once, for the process: curl_global_cleanup is never called */
    if (!cu_failure[0] && cu.curl_global_init(CURL_GLOBAL_DEFAULT))
        snprintf(cu_failure, sizeof cu_failure, "curl_global_init failed");
}

static int cu_load(char *err, size_t errlen)
{
    if (pthread_once(&cu_once, cu_open) || cu_failure[0]) {
        scrim__seterr(err, errlen, "webhooks need libcurl (%s): %s",
                      CURL_SONAME, cu_failure[0] ? cu_failure
                                                  : "pthread_once failed");
        return SCRIM_EIO;
    }
    return SCRIM_OK;
}

/* ---- helpers ---------------------------------------------------------------- */

static int64_t wall_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void item_key(const wh_target *t, uint64_t seq, uint8_t key[KEY_BYTES])
{
    memcpy(key, t->tag, 8);
    put_be64(key + 8, seq);
}

/* The index of seq in t->v, or -1. */
static ssize_t item_find(const wh_target *t, uint64_t seq)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->v[lo].seq == seq ? (ssize_t)lo : -1;
}

static void item_remove(wh_target *t, size_t i)
{
    memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof *t->v);
    t->n--;
}

static int item_reserve(wh_target *t, size_t more)
{
    if (t->n + more <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 64;
    while (cap < t->n + more)
        cap *= 2;
    wh_item *v = realloc(t->v, cap * sizeof *v);
    if (!v)
        return -1;
    t->v = v;
    t->cap = cap;
    return 0;
}

/* A message for the log (any thread; under wh->lock). */
static void log_later(scrim__webhooks *wh, const char *level, json_t *o)
{
    json_t *line = o ? json_pack("{s:s}", "level", level) : NULL;
    if (line)
        json_object_update(line, o);
    json_decref(o);
    if (!line)
        return;
    if (wh->nlog == MAX_LOG) {
        json_decref(line);
        return;
    }
    wh->logq[wh->nlog++] = line;
    if (wh->log_ev)
        event_active(wh->log_ev, EV_READ, 0);
}

static void log_flush(evutil_socket_t fd, short what, void *arg)
{
    scrim__webhooks *wh = arg;
    json_t *q[MAX_LOG];
    pthread_mutex_lock(&wh->lock);
    int n = wh->nlog;
    memcpy(q, wh->logq, (size_t)n * sizeof *q);
    wh->nlog = 0;
    pthread_mutex_unlock(&wh->lock);
    for (int i = 0; i < n; i++)
        scrim__log_json(q[i]);
}

/* ---- the queue: writes ---------------------------------------------------- */

static void rfc3339(int64_t us, char *out, size_t n)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(us % 1000000 / 1000));
}

int scrim__webhook_emit(scrim_server *srv, const char *type, json_t *data,
                        char *err, size_t errlen)
{
    scrim__webhooks *wh = srv->webhooks;
    uint8_t rnd[16], key[KEY_BYTES];
    char id[ID_HEX + 1], when[40];
    char *body = NULL;
    uint8_t *val = NULL;
    MDB_txn *txn = NULL;
    int rc = SCRIM_OK, mrc;
    size_t drop[SCRIM_SETTINGS_MAX_WEBHOOKS] = {0};

    if (!wh)
        return SCRIM_OK;
    if (strlen(type) >= TYPE_MAX) {
        scrim__seterr(err, errlen, "webhook: event type too long");
        return SCRIM_EINVAL;
    }
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        scrim__seterr(err, errlen, "webhook: no random bytes for an event "
                      "id: %s", strerror(errno));
        rc = SCRIM_EIO;
        goto out;
    }
    scrim__hex_encode(rnd, sizeof rnd, id);
    int64_t now = wall_us();
    rfc3339(now, when, sizeof when);
    /* id, type and time first: a reader sees them at the top */
    json_t *ev = json_pack("{s:s, s:s, s:s}", "id", id, "type", type, "time",
                           when);
    if (ev && data)
        json_object_update_missing(ev, data);
    body = ev ? json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ev);
    if (!body) {
        scrim__seterr(err, errlen, "webhook: out of memory");
        rc = SCRIM_ENOMEM;
        goto out;
    }
    size_t blen = strlen(body);
    if (!(val = malloc(HEAD_BYTES + blen))) {
        scrim__seterr(err, errlen, "webhook: out of memory");
        rc = SCRIM_ENOMEM;
        goto out;
    }
    memset(val, 0, HEAD_BYTES);
    put_be64(val, (uint64_t)now);
    memcpy(val + 8, id, ID_HEX);
    memcpy(val + 8 + ID_HEX, type, strlen(type));
    memcpy(val + HEAD_BYTES, body, blen);

    pthread_mutex_lock(&wh->lock);
    uint64_t seq = wh->next_seq;
    for (int i = 0; i < wh->nt; i++)
        if (item_reserve(&wh->t[i], 1)) {
            pthread_mutex_unlock(&wh->lock);
            scrim__seterr(err, errlen, "webhook: out of memory");
            rc = SCRIM_ENOMEM;
            goto out;
        }
    if ((mrc = mdb_txn_begin(wh->env, NULL, 0, &txn)))
        goto db_fail;
    for (int i = 0; i < wh->nt; i++) {
        wh_target *t = &wh->t[i];
        /* full: the oldest go, in this same transaction */
        drop[i] = t->n + 1 > (size_t)wh->max_queue
                      ? t->n + 1 - (size_t)wh->max_queue : 0;
        for (size_t k = 0; k < drop[i]; k++) {
            item_key(t, t->v[k].seq, key);
            MDB_val dk = {KEY_BYTES, key};
            if ((mrc = mdb_del(txn, wh->q, &dk, NULL)) && mrc != MDB_NOTFOUND)
                goto db_fail;
        }
        item_key(t, seq, key);
        MDB_val k = {KEY_BYTES, key}, v = {HEAD_BYTES + blen, val};
        if ((mrc = mdb_put(txn, wh->q, &k, &v, 0)))
            goto db_fail;
    }
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc)
        goto db_fail;
    wh->next_seq++;
    atomic_store(&wh->dirty, 1);
    for (int i = 0; i < wh->nt; i++) {
        wh_target *t = &wh->t[i];
        if (drop[i]) {
            memmove(t->v, t->v + drop[i], (t->n - drop[i]) * sizeof *t->v);
            t->n -= drop[i];
            atomic_fetch_add(&wh->dropped, drop[i]);
        }
        t->v[t->n++] = (wh_item){.seq = seq, .created_us = now};
    }
    atomic_fetch_add(&wh->queued, (uint64_t)wh->nt);
    pthread_mutex_unlock(&wh->lock);
    cu.curl_multi_wakeup(wh->multi);
    goto out;
db_fail:
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&wh->lock);
    rc = scrim__mdb_err(mrc, "webhook queue", err, errlen);
out:
    if (rc)
        atomic_fetch_add(&wh->emit_errors, 1);
    free(body);
    free(val);
    return rc;
}

/* ---- delivery --------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

/* xorshift64*: the jitter only, never anything secret */
static double rnd01(scrim__webhooks *wh)
{
    uint64_t x = wh->rnd;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    wh->rnd = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* The wait after the n-th failure in a row (n >= 1): base * 2^(n-1), at
 * most --webhook-retry-max, of which a random half ("equal jitter"): retries
 * of many events failed together spread out instead of coming back at once. */
static double backoff(scrim__webhooks *wh, uint32_t n)
{
    double d = wh->retry_base * ldexp(1.0, n > 60 ? 60 : (int)n - 1);
    if (d > wh->retry_max)
        d = wh->retry_max;
    return d / 2 + d / 2 * rnd01(wh);
}

/* Start the delivery of t's first due event.  0 started, 1 nothing to do;
 * -1 failed before sending (counted as a failed attempt). */
static int start_one(scrim__webhooks *wh, wh_target *t, double now)
{
    uint64_t seq = 0;
    uint32_t attempt = 0;
    int found = 0;
    pthread_mutex_lock(&wh->lock);
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].next_try <= now) {
            seq = t->v[i].seq;
            attempt = t->v[i].attempts + 1;
            found = 1;
            break;
        }
    if (found) {
        t->busy = 1;
        t->busy_seq = seq;
        t->busy_attempt = attempt;
    }
    pthread_mutex_unlock(&wh->lock);
    if (!found)
        return 1;

    char secret[256], serr[SCRIM_SETTINGS_PATH_MAX + 128] = "";
    uint8_t key[KEY_BYTES];
    MDB_txn *txn = NULL;
    MDB_val k = {KEY_BYTES, key}, v;
    char prefix[32], id[ID_HEX + 1], type[TYPE_MAX + 1];
    item_key(t, seq, key);
    int mrc = mdb_txn_begin(wh->env, NULL, MDB_RDONLY, &txn);
    if (!mrc)
        mrc = mdb_get(txn, wh->q, &k, &v);
    if (mrc || v.mv_size < HEAD_BYTES) {
        /* dropped meanwhile (the bound): nothing to send */
        if (txn)
            mdb_txn_abort(txn);
        pthread_mutex_lock(&wh->lock);
        t->busy = 0;
        ssize_t i = item_find(t, seq);
        if (i >= 0 && mrc == MDB_NOTFOUND)
            item_remove(t, (size_t)i);
        pthread_mutex_unlock(&wh->lock);
        return mrc == MDB_NOTFOUND ? 0 : -1;
    }
    size_t blen = v.mv_size - HEAD_BYTES;
    snprintf(prefix, sizeof prefix, "%lld.", (long long)time(NULL));
    size_t plen = strlen(prefix);
    free(t->buf);
    t->buf = malloc(plen + blen + 1);
    if (t->buf) {
        memcpy(t->buf, prefix, plen);
        memcpy(t->buf + plen, (const uint8_t *)v.mv_data + HEAD_BYTES, blen);
        t->buf[plen + blen] = '\0';
    }
    memcpy(id, (const uint8_t *)v.mv_data + 8, ID_HEX);
    id[ID_HEX] = '\0';
    memcpy(type, (const uint8_t *)v.mv_data + 8 + ID_HEX, TYPE_MAX);
    type[TYPE_MAX] = '\0';
    mdb_txn_abort(txn);
    if (!t->buf ||
        scrim__token_get(&wh->secret_tf, wh->secret_path, secret,
                         sizeof secret, serr, sizeof serr) || !secret[0]) {
        pthread_mutex_lock(&wh->lock);
        t->busy = 0;
        pthread_mutex_unlock(&wh->lock);
        return -1;
    }
    /* Scrim-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256("<t>.<body>")> */
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)t->buf,
         plen + blen, mac, &maclen);
    explicit_bzero(secret, sizeof secret);
    char hex[2 * EVP_MAX_MD_SIZE + 1], h[256];
    scrim__hex_encode(mac, maclen, hex);
    prefix[plen - 1] = '\0';
    cu.curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    const char *fixed[] = {"Content-Type: application/json", "Expect:",
                           "User-Agent: scrimd/" SCRIM_VERSION};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        t->hdrs = cu.curl_slist_append(t->hdrs, fixed[i]);
    snprintf(h, sizeof h, "Scrim-Signature: t=%s,v1=%s", prefix, hex);
    t->hdrs = cu.curl_slist_append(t->hdrs, h);
    snprintf(h, sizeof h, "Scrim-Event-Id: %s", id);
    t->hdrs = cu.curl_slist_append(t->hdrs, h);
    snprintf(h, sizeof h, "Scrim-Event-Type: %s", type);
    t->hdrs = cu.curl_slist_append(t->hdrs, h);
    snprintf(h, sizeof h, "Scrim-Delivery-Attempt: %u", attempt);
    t->hdrs = cu.curl_slist_append(t->hdrs, h);
    long ms = (long)ceil(wh->timeout * 1000);
    CURL *e = t->easy;
    cu.curl_easy_reset(e);
    cu.curl_easy_setopt(e, CURLOPT_URL, t->url);
    cu.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cu.curl_easy_setopt(e, CURLOPT_POST, 1L);
    cu.curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->buf + plen);
    cu.curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    cu.curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    cu.curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    cu.curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    cu.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    cu.curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (cu.curl_multi_add_handle(wh->multi, e)) {
        pthread_mutex_lock(&wh->lock);
        t->busy = 0;
        pthread_mutex_unlock(&wh->lock);
        return -1;
    }
    return 0;
}

/* A failed attempt at t's event seq: the event waits backoff(attempts);
 * unreachable (no HTTP answer), or at the third failure in a row and after,
 * the whole URL does. */
static void failed(scrim__webhooks *wh, wh_target *t, uint64_t seq,
                   int unreachable, const char *why)
{
    double now = scrim__now();
    atomic_fetch_add(&wh->failed, 1);
    pthread_mutex_lock(&wh->lock);
    ssize_t i = item_find(t, seq);
    if (i >= 0) {
        wh_item *it = &t->v[i];
        it->attempts++;
        it->next_try = now + backoff(wh, it->attempts);
    }
    /* logged at the third failure in a row: a receiver refusing now and
     * then is retried without a word */
    if (++t->fails_in_row == FAILING_AFTER)
        log_later(wh, "warning", json_pack("{s:s, s:i, s:s}", "msg",
                                           "webhook delivery failing",
                                           "webhook", t->index, "error", why));
    /* a receiver that cannot be reached, or that has failed everything
     * lately, waits as a whole: not tried one event at a time */
    if (unreachable)
        t->paused_until = now + backoff(wh, t->fails_in_row);
    else if (t->fails_in_row >= FAILING_AFTER)
        t->paused_until = now + backoff(wh, t->fails_in_row - FAILING_AFTER + 1);
    t->busy = 0;
    pthread_mutex_unlock(&wh->lock);
}

static void delivered(scrim__webhooks *wh, wh_target *t, uint64_t seq)
{
    uint8_t key[KEY_BYTES];
    MDB_txn *txn = NULL;
    MDB_val k = {KEY_BYTES, key};
    item_key(t, seq, key);
    atomic_fetch_add(&wh->delivered, 1);
    pthread_mutex_lock(&wh->lock);
    int mrc = mdb_txn_begin(wh->env, NULL, 0, &txn);
    if (!mrc && (mrc = mdb_del(txn, wh->q, &k, NULL)) == MDB_NOTFOUND)
        mrc = 0;
    if (!mrc) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    ssize_t i = item_find(t, seq);
    if (!mrc)
        atomic_store(&wh->dirty, 1);
    if (!mrc && i >= 0) {
        item_remove(t, (size_t)i);
    } else if (i >= 0) {
        /* still in the table: it will be sent again (a duplicate) */
        t->v[i].next_try = scrim__now() + wh->retry_base;
        log_later(wh, "error", json_pack("{s:s, s:i, s:s}", "msg",
                                         "webhook queue: cannot remove a "
                                         "delivered event", "webhook",
                                         t->index, "error", mdb_strerror(mrc)));
    }
    if (t->fails_in_row >= FAILING_AFTER)
        log_later(wh, "info", json_pack("{s:s, s:i, s:i}", "msg",
                                        "webhook delivery recovered",
                                        "webhook", t->index, "failures",
                                        (int)t->fails_in_row));
    t->fails_in_row = 0;
    t->paused_until = 0;
    t->busy = 0;
    pthread_mutex_unlock(&wh->lock);
}

static void *delivery_main(void *arg)
{
    scrim__webhooks *wh = arg;
    while (!atomic_load(&wh->stop)) {
        double now = scrim__now(), next = now + 1;
        for (int i = 0; i < wh->nt; i++) {
            wh_target *t = &wh->t[i];
            if (t->busy)
                continue;
            if (t->paused_until > now) {
                if (t->paused_until < next)
                    next = t->paused_until;
                continue;
            }
            int r = start_one(wh, t, now);
            if (r < 0) {
                uint64_t seq = t->busy_seq;
                failed(wh, t, seq, 1, "cannot prepare the delivery (secret "
                       "file, memory or database)");
            } else if (r == 1) {
                /* nothing due: when is the next? */
                pthread_mutex_lock(&wh->lock);
                for (size_t k = 0; k < t->n; k++)
                    if (t->v[k].next_try < next)
                        next = t->v[k].next_try;
                pthread_mutex_unlock(&wh->lock);
            }
        }
        int running = 0;
        cu.curl_multi_perform(wh->multi, &running);
        CURLMsg *m;
        int left;
        int finished = 0;
        while ((m = cu.curl_multi_info_read(wh->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            wh_target *t = NULL;
            long status = 0;
            cu.curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            cu.curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            CURLcode cc = m->data.result;
            cu.curl_multi_remove_handle(wh->multi, m->easy_handle);
            finished = 1;
            if (!t)
                continue;
            if (cc == CURLE_OK && status >= 200 && status < 300) {
                delivered(wh, t, t->busy_seq);
            } else {
                char why[160];
                if (cc == CURLE_OK)
                    snprintf(why, sizeof why, "HTTP status %ld", status);
                else
                    snprintf(why, sizeof why, "%s", cu.curl_easy_strerror(cc));
                failed(wh, t, t->busy_seq, cc != CURLE_OK, why);
            }
        }
        now = scrim__now();
        if (wh->sync_every > 0 && atomic_load(&wh->dirty)) {
            if (now - wh->last_sync >= wh->sync_every) {
                atomic_store(&wh->dirty, 0);
                mdb_env_sync(wh->env, 1);
                wh->last_sync = now;
            } else if (wh->last_sync + wh->sync_every < next) {
                next = wh->last_sync + wh->sync_every;
            }
        }
        if (finished)
            continue; /* start the next ones at once */
        int wait_ms = next <= now ? 0 : (int)ceil((next - now) * 1000);
        if (wait_ms > 1000)
            wait_ms = 1000;
        if (wait_ms > 0 || running)
            cu.curl_multi_poll(wh->multi, NULL, 0, wait_ms > 0 ? wait_ms : 1, NULL);
    }
    return NULL;
}

/* ---- set-up ----------------------------------------------------------------- */

/* Read what the table holds: each URL's events into memory; those of URLs
 * no longer configured, and those over the bound (it was lowered), go,
 * counted as dropped. */
static int load(scrim__webhooks *wh, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t orphans = 0, over = 0;
    int mrc = mdb_txn_begin(wh->env, NULL, 0, &txn);
    if (mrc)
        return scrim__mdb_err(mrc, "webhook queue", err, errlen);
    if ((mrc = mdb_dbi_open(txn, "webhook.queue", MDB_CREATE, &wh->q)) ||
        (mrc = mdb_cursor_open(txn, wh->q, &cur)))
        goto fail;
    wh->next_seq = 1;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        wh_target *t = NULL;
        for (int i = 0; i < wh->nt && k.mv_size == KEY_BYTES; i++)
            if (!memcmp(k.mv_data, wh->t[i].tag, 8))
                t = &wh->t[i];
        if (!t || v.mv_size < HEAD_BYTES) {
            if ((mrc = mdb_cursor_del(cur, 0)))
                goto fail;
            orphans++;
            continue;
        }
        uint64_t seq = get_be64((const uint8_t *)k.mv_data + 8);
        if (item_reserve(t, 1)) {
            mrc = ENOMEM;
            goto fail;
        }
        t->v[t->n++] = (wh_item){.seq = seq, .created_us =
                                     (int64_t)get_be64(v.mv_data)};
        if (seq >= wh->next_seq)
            wh->next_seq = seq + 1;
    }
    if (mrc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close(cur);
    cur = NULL;
    for (int i = 0; i < wh->nt; i++) {
        wh_target *t = &wh->t[i];
        size_t d = t->n > (size_t)wh->max_queue ? t->n - (size_t)wh->max_queue : 0;
        for (size_t j = 0; j < d; j++) {
            uint8_t key[KEY_BYTES];
            item_key(t, t->v[j].seq, key);
            MDB_val dk = {KEY_BYTES, key};
            if ((mrc = mdb_del(txn, wh->q, &dk, NULL)))
                goto fail;
        }
        if (d)
            memmove(t->v, t->v + d, (t->n - d) * sizeof *t->v);
        t->n -= d;
        over += d;
    }
    if ((mrc = mdb_txn_commit(txn)))
        return scrim__mdb_err(mrc, "webhook queue", err, errlen);
    atomic_store(&wh->dropped, orphans + over);
    size_t depth = 0;
    for (int i = 0; i < wh->nt; i++)
        depth += wh->t[i].n;
    scrim__log_json(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}", "level",
                              "info", "msg", "webhooks", "urls", wh->nt,
                              "queued", (json_int_t)depth,
                              "dropped_unconfigured", (json_int_t)orphans,
                              "dropped_over_bound", (json_int_t)over));
    return SCRIM_OK;
fail:
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return scrim__mdb_err(mrc, "webhook queue", err, errlen);
}

int scrim__webhooks_new(scrim_server *srv, const scrim_settings *s, char *err,
                        size_t errlen)
{
    char secret[256];
    int rc;
    if (!s->n_webhook_url)
        return SCRIM_OK;
    if (!s->webhook_secret_file[0]) {
        scrim__seterr(err, errlen, "--webhook-url needs --webhook-secret-file "
                      "(the key its events are signed with)");
        return SCRIM_EINVAL;
    }
    if ((rc = scrim__token_read(s->webhook_secret_file, secret, sizeof secret,
                                err, errlen)))
        return rc;
    explicit_bzero(secret, sizeof secret);
    if (s->webhook_retry_base > s->webhook_retry_max) {
        scrim__seterr(err, errlen, "--webhook-retry-base (%g s) is over "
                      "--webhook-retry-max (%g s)", s->webhook_retry_base,
                      s->webhook_retry_max);
        return SCRIM_EINVAL;
    }
    if (!srv->store) {
        scrim__seterr(err, errlen, "webhooks need the database");
        return SCRIM_EINVAL;
    }
    if ((rc = cu_load(err, errlen)))
        return rc;
    scrim__webhooks *wh = calloc(1, sizeof *wh);
    if (!wh) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    srv->webhooks = wh;   /* freed by scrim__webhooks_free from here on */
    wh->srv = srv;
    pthread_mutex_init(&wh->lock, NULL);
    scrim__token_file_init(&wh->secret_tf);
    snprintf(wh->secret_path, sizeof wh->secret_path, "%s",
             s->webhook_secret_file);
    wh->max_queue = s->webhook_queue;
    wh->retry_base = s->webhook_retry_base;
    wh->retry_max = s->webhook_retry_max;
    wh->timeout = s->webhook_timeout;
    if (getrandom(&wh->rnd, sizeof wh->rnd, 0) != sizeof wh->rnd || !wh->rnd)
        wh->rnd = (uint64_t)wall_us() | 1;
    wh->nt = s->n_webhook_url;
    for (int i = 0; i < wh->nt; i++) {
        wh_target *t = &wh->t[i];
        uint8_t d[SHA256_DIGEST_LENGTH];
        t->index = i + 1;
        snprintf(t->url, sizeof t->url, "%s", s->webhook_url[i]);
        SHA256((const uint8_t *)t->url, strlen(t->url), d);
        memcpy(t->tag, d, 8);
        if (!(t->easy = cu.curl_easy_init())) {
            scrim__seterr(err, errlen, "webhooks: cannot initialise libcurl");
            return SCRIM_EIO;
        }
    }
    if (!(wh->multi = cu.curl_multi_init())) {
        scrim__seterr(err, errlen, "webhooks: cannot initialise libcurl");
        return SCRIM_EIO;
    }
    wh->sync_every = s->webhook_sync;
    char path[SCRIM_SETTINGS_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/webhook.mdb", s->db);
    int mrc = mdb_env_create(&wh->env);
    if (!mrc) {
        mdb_env_set_maxdbs(wh->env, 2);
        mdb_env_set_mapsize(wh->env, SCRIM_STORE_DEFAULT_MAP);
        mrc = mdb_env_open(wh->env, path, MDB_NOSUBDIR | MDB_NOTLS |
                                              (wh->sync_every > 0 ? MDB_NOSYNC : 0),
                           0600);
        if (mrc) {
            mdb_env_close(wh->env);
            wh->env = NULL;
        }
    }
    if (mrc) {
        scrim__seterr(err, errlen, "webhook queue %s: %s", path,
                      mdb_strerror(mrc));
        return SCRIM_EDB;
    }
    wh->last_sync = scrim__now();
    if ((rc = load(wh, err, errlen)))
        return rc;
    if (!(wh->log_ev = event_new(srv->base, -1, 0, log_flush, wh))) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    if (pthread_create(&wh->thread, NULL, delivery_main, wh)) {
        scrim__seterr(err, errlen, "webhooks: cannot start the delivery "
                      "thread");
        return SCRIM_EIO;
    }
    wh->running = 1;
    return SCRIM_OK;
}

void scrim__webhooks_free(scrim_server *srv)
{
    scrim__webhooks *wh = srv->webhooks;
    if (!wh)
        return;
    if (wh->running) {
        atomic_store(&wh->stop, 1);
        cu.curl_multi_wakeup(wh->multi);
        pthread_join(wh->thread, NULL);
    }
    for (int i = 0; i < wh->nt; i++) {
        wh_target *t = &wh->t[i];
        if (t->easy) {
            if (wh->multi)
                cu.curl_multi_remove_handle(wh->multi, t->easy);
            cu.curl_easy_cleanup(t->easy);
        }
        cu.curl_slist_free_all(t->hdrs);
        free(t->buf);
        free(t->v);
    }
    if (wh->multi)
        cu.curl_multi_cleanup(wh->multi);
    if (wh->env) {
        mdb_env_sync(wh->env, 1);
        mdb_env_close(wh->env);
    }
    if (wh->log_ev) {
        log_flush(-1, 0, wh);
        event_free(wh->log_ev);
    }
    for (int i = 0; i < wh->nlog; i++)
        json_decref(wh->logq[i]);
    scrim__token_file_destroy(&wh->secret_tf);
    pthread_mutex_destroy(&wh->lock);
    free(wh);
    srv->webhooks = NULL;
}

/* ---- metrics and health ----------------------------------------------------- */

static void depth_age(scrim__webhooks *wh, uint64_t *depth, double *age)
{
    int64_t oldest = 0, now = wall_us();
    *depth = 0;
    pthread_mutex_lock(&wh->lock);
    for (int i = 0; i < wh->nt; i++) {
        *depth += wh->t[i].n;
        if (wh->t[i].n && (!oldest || wh->t[i].v[0].created_us < oldest))
            oldest = wh->t[i].v[0].created_us;
    }
    pthread_mutex_unlock(&wh->lock);
    *age = oldest ? (double)(now - oldest) / 1e6 : 0;
    if (*age < 0)
        *age = 0;
}

void scrim__webhooks_metrics(scrim_server *srv, FILE *f)
{
    scrim__webhooks *wh = srv->webhooks;
    uint64_t depth = 0;
    double age = 0;
    if (!wh)
        return;
    depth_age(wh, &depth, &age);
    struct { const char *name, *help; uint64_t v; } c[] = {
        {"queued_total", "Webhook deliveries queued (one per event and URL)",
         atomic_load(&wh->queued)},
        {"delivered_total", "Webhook deliveries a receiver answered 2xx",
         atomic_load(&wh->delivered)},
        {"failed_attempts_total", "Webhook delivery attempts that failed "
         "(not 2xx, timeout, unreachable): each is retried",
         atomic_load(&wh->failed)},
        {"dropped_total", "Webhook deliveries dropped undelivered: the "
         "oldest of a full queue (--webhook-queue), or queued for a URL no "
         "longer configured", atomic_load(&wh->dropped)},
        {"enqueue_errors_total", "Webhook events that could not be queued "
         "(logged with their request)", atomic_load(&wh->emit_errors)},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        fprintf(f, "# HELP scrim_webhook_%s %s.\n# TYPE scrim_webhook_%s "
                "counter\nscrim_webhook_%s %llu\n", c[i].name, c[i].help,
                c[i].name, c[i].name, (unsigned long long)c[i].v);
    fprintf(f, "# HELP scrim_webhook_queue_depth Webhook deliveries waiting "
            "(all URLs).\n# TYPE scrim_webhook_queue_depth gauge\n"
            "scrim_webhook_queue_depth %llu\n"
            "# HELP scrim_webhook_oldest_age_seconds Age of the oldest "
            "waiting webhook delivery (0: none).\n"
            "# TYPE scrim_webhook_oldest_age_seconds gauge\n"
            "scrim_webhook_oldest_age_seconds %.3f\n",
            (unsigned long long)depth, age);
}

json_t *scrim__webhooks_health(scrim_server *srv)
{
    scrim__webhooks *wh = srv->webhooks;
    uint64_t depth = 0;
    double age = 0;
    if (!wh)
        return NULL;
    depth_age(wh, &depth, &age);
    return json_pack("{s:i, s:I, s:f}", "urls", wh->nt, "queue_depth",
                     (json_int_t)depth, "oldest_age_seconds", age);
}
