/* pool.c - scrimd's worker threads: jobs in, fairly between clients, and a
 * list of finished jobs handed back to the event loop through
 * event_active().
 *
 * Fair queue: each job carries its client's key (scrim__pool_item.client:
 * a TCP address, a Unix socket peer process, the admin token; http.c).
 * Waiting jobs are kept in one FIFO per client, and the clients that have
 * jobs waiting in a ring: a worker takes the first job of the client at
 * the ring's head and moves that client to the ring's tail.  A client that
 * queued 8 jobs thus gets one worker turn for each turn of every other
 * client with something waiting, not 8 before them (the review flood of
 * bench/attacks.sh: 8 clients against the good client's 2 in one FIFO took
 * its p50 from 7 to 64 ms).  Turns alone still let a client with many
 * requests occupy every worker while the others had nothing waiting, so
 * that the next one to come waits for one of its jobs to end: a cap on
 * the workers one client may occupy at once (--client-workers; 0, the
 * default, none: a lone client may use them all) keeps some free.
 *
 * Priority: a pool's threads may run at a higher nice value, and under
 * SCHED_BATCH (Linux; per thread): the pools of heavy work (videos,
 * /v1/compare, admin imports, big decodes) then yield the CPU to the
 * light work of the image workers whenever both want it, and take what
 * is left otherwise.  A thread cannot lower its nice value again without
 * privilege, so the priority is the pool's, fixed at start. */
#include "scrim.h"
#include "server/server.h"
#include "base/base.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <event2/thread.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

/* The waiting jobs of one client. */
/* The waiting jobs of one client, and how many of its jobs run; kept
 * while it has either. */
typedef struct client_q {
    uint64_t key;
    scrim__pool_item *head, *tail;
    int running;
    int in_ring;                     /* has jobs waiting: in the ring */
} client_q;

struct scrim__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    GHashTable *clients;             /* key -> client_q (jobs waiting or running) */
    int client_cap;                  /* workers one client may have (0: all) */
    GQueue ring;                     /* client_q *, whose turn is next first */
    scrim__pool_item *done;          /* finished, for the loop (LIFO) */
    int depth, busy, queue_max, stopping, nthreads;
    pthread_t *threads;
    struct event *done_ev;
    void (*run)(scrim__pool_item *);
    void (*on_done)(scrim__pool_item *, void *);
    void *arg;
    char name[16];
    int nice;
    atomic_int started;              /* threads that have set themselves up */
    atomic_int nice_failed;          /* threads whose priority could not be set */
};

static guint key_hash(gconstpointer k)
{
    uint64_t v = *(const uint64_t *)k;
    return (guint)(v ^ (v >> 32));
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

/* The next job, fairly: the first client in the ring not already running
 * client_cap jobs, which goes to the ring's tail if it has more waiting.
 * NULL if none may run now.  Lock held. */
static scrim__pool_item *take(scrim__pool *p)
{
    GList *l = p->ring.head;
    while (l && p->client_cap > 0 && ((client_q *)l->data)->running >= p->client_cap)
        l = l->next;
    if (!l)
        return NULL;
    client_q *q = l->data;
    g_queue_delete_link(&p->ring, l);
    scrim__pool_item *it = q->head;
    q->head = it->next;
    q->running++;
    if (q->head)
        g_queue_push_tail(&p->ring, q);
    else
        q->in_ring = 0;
    p->depth--;
    return it;
}

/* A job of the client has finished.  Lock held. */
static void finished(scrim__pool *p, scrim__pool_item *it)
{
    client_q *q = g_hash_table_lookup(p->clients, &it->client);
    if (!q)
        return;
    q->running--;
    if (!q->running && !q->in_ring) {
        g_hash_table_remove(p->clients, &q->key);
        free(q);
    }
    if (p->client_cap > 0)   /* a worker may wait for this client's turn */
        pthread_cond_broadcast(&p->cv);
}

/* This thread's priority: nice value and, when lowered, SCHED_BATCH (the
 * scheduler then never lets it preempt a thread that just woke up).
 * Linux's nice is per thread (setpriority on the thread id). */
static void set_priority(scrim__pool *p)
{
#ifdef __linux__
    pid_t tid = (pid_t)syscall(SYS_gettid);
    char name[16];
    snprintf(name, sizeof name, "%s", p->name);
    pthread_setname_np(pthread_self(), name);
    if (p->nice > 0) {
        /* relative to the process's own nice value (scrimd run under
         * nice(1) keeps its heavy work below its light work) */
        errno = 0;
        int base = getpriority(PRIO_PROCESS, (id_t)tid);
        int want = base + p->nice > 19 ? 19 : base + p->nice;
        struct sched_param sp = {0};
        sched_setscheduler(tid, SCHED_BATCH, &sp);   /* best effort */
        if (errno || setpriority(PRIO_PROCESS, (id_t)tid, want) ||
            getpriority(PRIO_PROCESS, (id_t)tid) != want)
            atomic_fetch_add(&p->nice_failed, 1);
    }
#endif
    atomic_fetch_add(&p->started, 1);
}

static void *worker_main(void *arg)
{
    scrim__pool *p = arg;
    set_priority(p);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        scrim__pool_item *it;
        while (!(it = take(p)) && !(p->stopping && !p->depth))
            pthread_cond_wait(&p->cv, &p->mu);
        if (!it)
            break;   /* stopping and nothing left */
        p->busy++;
        pthread_mutex_unlock(&p->mu);

        p->run(it);

        pthread_mutex_lock(&p->mu);
        p->busy--;
        finished(p, it);
        it->next = p->done;
        p->done = it;
        /* Thread-safe since evthread_use_pthreads(): wakes the loop. */
        event_active(p->done_ev, EV_READ, 0);
    }
    pthread_mutex_unlock(&p->mu);
    if (scrim__vips_started())
        vips_thread_shutdown();   /* libvips keeps per-thread buffers */
    return NULL;
}

/* On the loop: take everything finished and hand it to on_done, oldest first. */
static void deliver(evutil_socket_t fd, short what, void *arg)
{
    scrim__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    scrim__pool_item *list = p->done, *rev = NULL;
    p->done = NULL;
    pthread_mutex_unlock(&p->mu);
    while (list) {
        scrim__pool_item *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        scrim__pool_item *n = rev->next;
        p->on_done(rev, p->arg);
        rev = n;
    }
}

int scrim__pool_new_ex(int threads, int queue_max, const char *name, int nice,
                       struct event_base *base, void (*run)(scrim__pool_item *),
                       void (*done)(scrim__pool_item *, void *), void *arg,
                       scrim__pool **out)
{
    scrim__pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return SCRIM_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->clients = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&p->ring);
    p->queue_max = queue_max;
    p->run = run;
    p->on_done = done;
    p->arg = arg;
    p->nice = nice;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "scrim-work");
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    p->done_ev = event_new(base, -1, 0, deliver, p);
    if (!p->threads || !p->done_ev)
        goto fail;
    for (; p->nthreads < threads; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p))
            goto fail;
    *out = p;
    return SCRIM_OK;
fail:
    scrim__pool_free(p);
    return SCRIM_ENOMEM;
}

int scrim__pool_new(int threads, int queue_max, struct event_base *base,
                    void (*run)(scrim__pool_item *),
                    void (*done)(scrim__pool_item *, void *), void *arg,
                    scrim__pool **out)
{
    return scrim__pool_new_ex(threads, queue_max, NULL, 0, base, run, done, arg,
                              out);
}

int scrim__pool_submit(scrim__pool *p, scrim__pool_item *it)
{
    pthread_mutex_lock(&p->mu);
    if (p->depth >= p->queue_max || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return SCRIM_ETOOBIG;
    }
    client_q *q = g_hash_table_lookup(p->clients, &it->client);
    if (!q) {
        if (!(q = calloc(1, sizeof *q))) {
            pthread_mutex_unlock(&p->mu);
            return SCRIM_ENOMEM;
        }
        q->key = it->client;
        g_hash_table_insert(p->clients, &q->key, q);
    }
    if (!q->in_ring) {
        g_queue_push_tail(&p->ring, q);
        q->in_ring = 1;
    }
    it->next = NULL;
    if (q->head)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    p->depth++;
    if (p->client_cap > 0)
        pthread_cond_broadcast(&p->cv);   /* the one woken may not take it */
    else
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return SCRIM_OK;
}

int scrim__pool_depth(scrim__pool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    int d = p->depth;
    pthread_mutex_unlock(&p->mu);
    return d;
}

int scrim__pool_busy(scrim__pool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    int d = p->busy;
    pthread_mutex_unlock(&p->mu);
    return d;
}

int scrim__pool_idle(scrim__pool *p)
{
    if (!p)
        return 1;
    pthread_mutex_lock(&p->mu);
    int idle = !p->depth && !p->busy && !p->done;
    pthread_mutex_unlock(&p->mu);
    return idle;
}

int scrim__pool_threads(scrim__pool *p)
{
    return p ? p->nthreads : 0;
}

int scrim__pool_nice(scrim__pool *p, int *failed)
{
    if (failed)
        *failed = p ? atomic_load(&p->nice_failed) : 0;
    return p ? p->nice : 0;
}

void scrim__pool_set_client_cap(scrim__pool *p, int cap)
{
    pthread_mutex_lock(&p->mu);
    p->client_cap = cap;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void scrim__pool_set_queue_max(scrim__pool *p, int queue_max)
{
    pthread_mutex_lock(&p->mu);
    p->queue_max = queue_max;
    pthread_mutex_unlock(&p->mu);
}

void scrim__pool_free(scrim__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->done_ev) {
        deliver(-1, 0, p);   /* nobody's reply is lost on shutdown */
        event_free(p->done_ev);
    }
    /* what was never run (a pool that failed to start) */
    g_queue_clear(&p->ring);
    GHashTableIter hi;
    gpointer k, v;
    g_hash_table_iter_init(&hi, p->clients);
    while (g_hash_table_iter_next(&hi, &k, &v))
        free(v);
    g_hash_table_destroy(p->clients);
    free(p->threads);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
