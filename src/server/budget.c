/* budget.c - one memory budget (--memory-budget) for what requests hold:
 * their bodies, from the moment their headers say how big they will be
 * until they are answered, and what decodes hold whole (pixels,
 * progressive JPEGs' coefficients: scrim_decode_opts.reserve).
 *
 * 40 connections sending 60 MB bodies at once took scrimd to 2.47 GB:
 * evhttp keeps a body in memory as it arrives, with no bound across
 * connections.  Now each connection's bytes are scanned as they arrive
 * (conn_input, before evhttp parses them) up to the end of the request's
 * head: Content-Length (or --max-body for a chunked body) is reserved then.
 * When the budget has no room, reading that connection is paused
 * (bufferevent_disable): the client's bytes wait in the kernel and the
 * client is held back by TCP, not by memory; waiting connections are
 * resumed in order of arrival as reservations are released.  A request
 * must still arrive whole within --receive-timeout, its wait included:
 * past it, the connection is closed as any client too slow is.  When the
 * request has arrived, its reservation passes to the call (exactly its
 * body's size) and is released when the call is freed.  A decode that
 * does not fit is refused at once with 503 busy (and Retry-After): a worker
 * waiting for memory held by the bodies queued behind it would never get
 * it.
 *
 * Large bodies being received (over a megabyte, and every chunked body,
 * reserved as --max-body) may hold three quarters of the budget between
 * them, no more: a few connections declaring big bodies and sending them
 * slowly (4 chunked ones, 256 MB) would otherwise hold all of it until
 * their --receive-timeout, every decode answered 503 and every other body
 * waiting meanwhile (bench/attacks.sh chunkhold).  The last quarter is for
 * small bodies and decodes.  Waiters are resumed whenever theirs fits, so
 * that a small body never waits behind a large one.
 *
 * Bodies that arrive with their head in one read (up to 16 KB each time)
 * may be over the budget by that much before reading pauses; a body the
 * scan could not size (a folded Transfer-Encoding header) is counted when
 * it has arrived.  evhttp's copy of a finished body and the call's copy
 * coexist for a moment, one request at a time, on the loop. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

struct scrim__budget {
    scrim_server *srv;
    atomic_uint_least64_t used, limit, peak;
    atomic_int n_waiting;        /* connections in the queue below */
    GQueue waiters;              /* scrim__body *, oldest first (loop only) */
    struct event *wake;          /* resume waiters (after any release) */
    struct event *tick;          /* waiters past their deadline */
    uint64_t waits_total, cut_total; /* loop only */
    uint64_t large;              /* large bodies being received (loop only) */
    atomic_uint_least64_t busy_total;
};

static void note_peak(scrim__budget *b, uint64_t used)
{
    uint64_t p = atomic_load(&b->peak);
    while (used > p && !atomic_compare_exchange_weak(&b->peak, &p, used))
        ;
}

/* Reserve n bytes if they fit (or force them in, over the limit); 0 if not. */
static int take(scrim__budget *b, uint64_t n, int force)
{
    uint64_t used = atomic_load(&b->used), limit = atomic_load(&b->limit);
    for (;;) {
        if (!force && used + n > limit && used > 0)
            return 0;   /* nothing held: one body bigger than all of it fits */
        if (atomic_compare_exchange_weak(&b->used, &used, used + n))
            break;
    }
    note_peak(b, used + n);
    return 1;
}

void scrim__budget_release(scrim_server *srv, uint64_t n)
{
    scrim__budget *b = srv->budget;
    if (!b || !n)
        return;
    atomic_fetch_sub(&b->used, n);
    /* Thread-safe (evthread_use_pthreads): the loop resumes waiters. */
    if (atomic_load(&b->n_waiting))
        event_active(b->wake, EV_READ, 0);
}

/* ---- large bodies ------------------------------------------------------------ */

#define LARGE_BODY (1 << 20)

/* Can a body of `need` bytes be received along with the large ones? */
static int large_fits(scrim__budget *b, uint64_t need)
{
    uint64_t limit = atomic_load(&b->limit);
    return need <= LARGE_BODY || !b->large || b->large + need <= limit / 4 * 3;
}

/* Reserve a body's need (the large ones counted); 1, or 0: no room. */
static int take_body(scrim__budget *b, scrim__body *body, uint64_t need)
{
    if (!large_fits(b, need) || !take(b, need, 0))
        return 0;
    body->reserved = need;
    body->need = 0;
    if (need > LARGE_BODY) {
        b->large += need;
        body->large = 1;
    }
    return 1;
}

/* The body has arrived or its connection is gone: no longer received. */
static void large_done(scrim__budget *b, scrim__body *body)
{
    if (body->large) {
        b->large -= body->reserved;
        body->large = 0;
    }
}

/* ---- waiting connections ----------------------------------------------------- */

static void stop_waiting(scrim__budget *b, scrim__body *body)
{
    if (!body->waiting)
        return;
    g_queue_remove(&b->waiters, body);
    body->waiting = 0;
    atomic_fetch_sub(&b->n_waiting, 1);
}

/* On the loop: resume the waiters whose bodies fit, oldest first. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    scrim__budget *b = arg;
    for (GList *l = b->waiters.head; l;) {
        scrim__body *body = l->data;
        l = l->next;   /* stop_waiting removes body from the queue */
        if (!take_body(b, body, body->need))
            continue;
        stop_waiting(b, body);
        bufferevent_enable(body->bev, EV_READ);
    }
}

/* Waiters whose request should have arrived by now are closed (the close
 * callback logs them as receive_timeout and releases what they hold). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    scrim__budget *b = arg;
    double now = scrim__now();
    for (GList *l = b->waiters.head; l;) {
        scrim__body *body = l->data;
        l = l->next;   /* the close below removes body from the queue */
        if (now < body->deadline)
            continue;
        void *evcon = NULL;
        bufferevent_getcb(body->bev, NULL, NULL, NULL, &evcon);
        stop_waiting(b, body);
        b->cut_total++;
        if (evcon)
            evhttp_connection_free(evcon);
        else /* not evhttp's (cannot be): its own timeouts, reading again */
            bufferevent_enable(body->bev, EV_READ);
    }
}

static void wait_for(scrim__budget *b, scrim__body *body, uint64_t need,
                     double deadline)
{
    body->need = need;
    body->deadline = deadline;
    body->waiting = 1;
    g_queue_push_tail(&b->waiters, body);
    atomic_fetch_add(&b->n_waiting, 1);
    b->waits_total++;
    bufferevent_disable(body->bev, EV_READ);
}

/* ---- the request's head, as it arrives ----------------------------------------- */

/* The value of header `name` on this line, or NULL. */
static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) || line[n] != ':')
        return NULL;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

/* A whole line of the head (its first sizeof line - 1 bytes). */
static void head_line(scrim__body *body)
{
    char *l = body->line;
    size_t n = body->line_len < sizeof body->line ? body->line_len
                                                  : sizeof body->line - 1;
    l[n] = '\0';
    while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
        l[--n] = '\0';
    if (body->phase == 0) {
        if (n) /* evhttp takes the first line as the request line */
            body->phase = 1;
        return;
    }
    if (!n) {
        body->phase = 2; /* the head is over */
        return;
    }
    const char *v;
    if (body->content_length < 0 && (v = header_value(l, "Content-Length")) &&
        isdigit((unsigned char)*v)) {
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        body->content_length = *end ? -1 : (int64_t)(x > INT64_MAX ? INT64_MAX : x);
    } else if ((v = header_value(l, "Transfer-Encoding")) && !strcasecmp(v, "chunked")) {
        body->chunked = 1;
    }
}

/* Scan bytes of the head; returns how many were used (the rest is body). */
static size_t scan(scrim__body *body, const char *p, size_t n)
{
    size_t i = 0;
    for (; i < n && body->phase < 2; i++) {
        if (p[i] == '\n') {
            head_line(body);
            body->line_len = 0;
        } else {
            if (body->line_len < sizeof body->line - 1)
                body->line[body->line_len] = p[i];
            body->line_len++;
        }
    }
    return i;
}

/* The head is over: reserve the body, or wait for room. */
static void head_done(scrim__budget *b, scrim__body *body, double deadline)
{
    const scrim_settings *s = &b->srv->cur->s;
    uint64_t need = 0;
    if (body->chunked)
        need = s->max_body;   /* its size is known only at its end */
    else if (body->content_length > 0 &&
             (uint64_t)body->content_length <= s->max_body)
        need = (uint64_t)body->content_length; /* larger: evhttp's 413 */
    if (!need)
        return;
    if (!take_body(b, body, need))
        wait_for(b, body, need, deadline);
}

/* Scan the bytes [from, from + n) of buf until the head is over. */
static void scan_buffer(scrim__budget *b, scrim__body *body,
                        struct evbuffer *buf, size_t from, size_t n,
                        double deadline)
{
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v[8];
    while (n && body->phase < 2) {
        if (evbuffer_ptr_set(buf, &pos, from, EVBUFFER_PTR_SET))
            return;
        int k = evbuffer_peek(buf, (ev_ssize_t)n, &pos, v, 8);
        if (k <= 0)
            return;
        for (int i = 0; i < k && i < 8 && n && body->phase < 2; i++) {
            size_t len = v[i].iov_len < n ? v[i].iov_len : n;
            size_t used = scan(body, v[i].iov_base, len);
            from += used;
            n -= used;
            if (body->phase == 2)
                head_done(b, body, deadline);
            if (used < len)
                return;
        }
    }
}

void scrim__body_input(scrim_server *srv, scrim__body *body,
                       struct evbuffer *buf, size_t added, double deadline)
{
    scrim__budget *b = srv->budget;
    if (!b)
        return;
    if (body->waiting) {
        /* evhttp enables reading whenever a request starts: still waiting */
        bufferevent_disable(body->bev, EV_READ);
        return;
    }
    size_t len = evbuffer_get_length(buf);
    if (body->phase < 2 && added <= len)
        scan_buffer(b, body, buf, len - added, added, deadline);
}

uint64_t scrim__body_done(scrim_server *srv, scrim__body *body,
                          uint64_t body_len, struct evbuffer *pending,
                          double deadline)
{
    scrim__budget *b = srv->budget;
    if (!b)
        return 0;
    /* The body arrived while waiting (it came with its head): it is in
     * memory, so it counts, over the budget or not. */
    stop_waiting(b, body);
    large_done(b, body);
    if (body->reserved > body_len)
        scrim__budget_release(srv, body->reserved - body_len);
    else if (body->reserved < body_len)
        take(b, body_len - body->reserved, 1);
    body->reserved = 0;
    body->need = 0;
    body->phase = 0;
    body->line_len = 0;
    body->content_length = -1;
    body->chunked = 0;
    /* A pipelined request already in the buffer: its head, now. */
    if (pending && evbuffer_get_length(pending))
        scan_buffer(b, body, pending, 0, evbuffer_get_length(pending), deadline);
    return body_len;
}

void scrim__body_init(scrim__body *body, struct bufferevent *bev)
{
    memset(body, 0, sizeof *body);
    body->bev = bev;
    body->content_length = -1;
}

void scrim__body_closed(scrim_server *srv, scrim__body *body)
{
    scrim__budget *b = srv->budget;
    if (!b)
        return;
    stop_waiting(b, body);
    large_done(b, body);
    scrim__budget_release(srv, body->reserved);
    body->reserved = 0;
}

/* Bodies of a megabyte and more, mapped: the heap is shared with libevent's
 * buffers, and copies taken from it left it fragmented (30 x 12 MB against
 * a budget of 48 MB peaked 80-92 MB over the RSS before, 77-79 MB with
 * mapped copies).  An unmapped body gives its memory back at once. */
#define MAP_FROM (1 << 20)

void *scrim__body_alloc(size_t n)
{
    if (n < MAP_FROM)
        return malloc(n);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void scrim__body_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n < MAP_FROM)
        free(p);
    else
        munmap(p, n);
}

/* ---- decodes ------------------------------------------------------------------ */

int scrim__budget_decode(void *arg, int64_t bytes, char *err, size_t errlen)
{
    const scrim_call *c = arg;
    scrim_server *srv = c->server;
    scrim__budget *b = srv->budget;
    if (!b)
        return SCRIM_OK;
    if (bytes < 0) {
        scrim__budget_release(srv, (uint64_t)-bytes);
        return SCRIM_OK;
    }
    if (scrim__call_decode_note(c, bytes)) {
        scrim__seterr(err, errlen, "a big decode: run again on a heavy worker");
        return SCRIM_EBUSY;
    }
    uint64_t limit = atomic_load(&b->limit), n = (uint64_t)bytes;
    if (n > limit) {
        scrim__seterr(err, errlen, "image too large to decode: it needs %llu MB, "
                      "over the whole memory budget of %llu MB (--memory-budget)",
                      (unsigned long long)((n + (1 << 20) - 1) >> 20),
                      (unsigned long long)(limit >> 20));
        return SCRIM_ETOOBIG;
    }
    if (take(b, n, 0))
        return SCRIM_OK;
    atomic_fetch_add(&b->busy_total, 1);
    uint64_t used = atomic_load(&b->used);
    scrim__seterr(err, errlen, "busy: decoding this image needs %llu MB and "
                  "%llu MB of the memory budget of %llu MB (--memory-budget) "
                  "are free; retry later",
                  (unsigned long long)((n + (1 << 20) - 1) >> 20),
                  (unsigned long long)((used < limit ? limit - used : 0) >> 20),
                  (unsigned long long)(limit >> 20));
    return SCRIM_EBUSY;
}

void scrim_call_decode_opts(const scrim_call *c, scrim_decode_opts *d)
{
    if (!c)
        return;
    scrim__call_decode_begin(c);
    d->deadline = c->deadline;
    if (c->settings)
        d->max_memory = c->settings->max_decode_memory;
    if (c->server && c->server->budget) {
        d->reserve = scrim__budget_decode;
        d->reserve_arg = (void *)c;
    }
}

int scrim__budget_try(scrim_server *srv, uint64_t n)
{
    scrim__budget *b = srv->budget;
    if (!b || take(b, n, 0))
        return 1;
    atomic_fetch_add(&b->busy_total, 1);
    return 0;
}

/* ---- the budget ------------------------------------------------------------------ */

int scrim__budget_new(scrim_server *srv)
{
    scrim__budget *b = calloc(1, sizeof *b);
    if (!b)
        return SCRIM_ENOMEM;
    b->srv = srv;
    atomic_init(&b->limit, srv->cur->s.memory_budget);
    g_queue_init(&b->waiters);
    struct timeval sec = {1, 0};
    b->wake = event_new(srv->base, -1, 0, on_wake, b);
    b->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, b);
    if (!b->wake || !b->tick || evtimer_add(b->tick, &sec)) {
        if (b->wake)
            event_free(b->wake);
        if (b->tick)
            event_free(b->tick);
        free(b);
        return SCRIM_ENOMEM;
    }
    srv->budget = b;
    return SCRIM_OK;
}

void scrim__budget_set_limit(scrim_server *srv, uint64_t limit)
{
    if (!srv->budget)
        return;
    atomic_store(&srv->budget->limit, limit);
    event_active(srv->budget->wake, EV_READ, 0); /* a larger budget: resume */
}

void scrim__budget_metrics(scrim_server *srv, FILE *f)
{
    scrim__budget *b = srv->budget;
    if (!b)
        return;
    fprintf(f, "# HELP scrim_memory_budget_bytes The memory budget for request "
            "bodies and decodes (--memory-budget).\n# TYPE "
            "scrim_memory_budget_bytes gauge\nscrim_memory_budget_bytes %llu\n",
            (unsigned long long)atomic_load(&b->limit));
    fprintf(f, "# HELP scrim_memory_reserved_bytes Bytes of it held now.\n"
            "# TYPE scrim_memory_reserved_bytes gauge\n"
            "scrim_memory_reserved_bytes %llu\n",
            (unsigned long long)atomic_load(&b->used));
    fprintf(f, "# HELP scrim_memory_reserved_peak_bytes The most held at once "
            "since start.\n# TYPE scrim_memory_reserved_peak_bytes gauge\n"
            "scrim_memory_reserved_peak_bytes %llu\n",
            (unsigned long long)atomic_load(&b->peak));
    fprintf(f, "# HELP scrim_body_waiting Connections whose body waits for room "
            "in the budget (reading paused).\n# TYPE scrim_body_waiting gauge\n"
            "scrim_body_waiting %d\n", atomic_load(&b->n_waiting));
    fprintf(f, "# HELP scrim_body_waits_total Bodies that had to wait for room "
            "in the budget.\n# TYPE scrim_body_waits_total counter\n"
            "scrim_body_waits_total %llu\n", (unsigned long long)b->waits_total);
    fprintf(f, "# HELP scrim_body_wait_cut_total Connections closed while "
            "waiting, at --receive-timeout.\n# TYPE scrim_body_wait_cut_total "
            "counter\nscrim_body_wait_cut_total %llu\n",
            (unsigned long long)b->cut_total);
    fprintf(f, "# HELP scrim_memory_busy_total Decodes and ?path= reads refused "
            "with 503: no room in the budget.\n# TYPE scrim_memory_busy_total "
            "counter\nscrim_memory_busy_total %llu\n",
            (unsigned long long)atomic_load(&b->busy_total));
}

void scrim__budget_free(scrim_server *srv)
{
    scrim__budget *b = srv->budget;
    if (!b)
        return;
    g_queue_clear(&b->waiters);
    event_free(b->wake);
    event_free(b->tick);
    free(b);
    srv->budget = NULL;
}
