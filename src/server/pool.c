/* pool.c - scrimd's worker threads: a bounded FIFO of jobs in, a list
 * of finished jobs handed back to the event loop through event_active(). */
#include "scrim.h"
#include "server/server.h"
#include "base/base.h"

#include <stdlib.h>
#include <event2/thread.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

struct scrim__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    scrim__pool_item *head, *tail;   /* waiting */
    scrim__pool_item *done;          /* finished, for the loop (LIFO) */
    int depth, busy, queue_max, stopping, nthreads;
    pthread_t *threads;
    struct event *done_ev;
    void (*run)(scrim__pool_item *);
    void (*on_done)(scrim__pool_item *, void *);
    void *arg;
};

static void *worker_main(void *arg)
{
    scrim__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head)
            break;   /* stopping and nothing left */
        scrim__pool_item *it = p->head;
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        p->depth--;
        p->busy++;
        pthread_mutex_unlock(&p->mu);

        p->run(it);

        pthread_mutex_lock(&p->mu);
        p->busy--;
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

int scrim__pool_new(int threads, int queue_max, struct event_base *base,
                    void (*run)(scrim__pool_item *),
                    void (*done)(scrim__pool_item *, void *), void *arg,
                    scrim__pool **out)
{
    scrim__pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return SCRIM_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->queue_max = queue_max;
    p->run = run;
    p->on_done = done;
    p->arg = arg;
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

int scrim__pool_submit(scrim__pool *p, scrim__pool_item *it)
{
    pthread_mutex_lock(&p->mu);
    if (p->depth >= p->queue_max || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return SCRIM_ETOOBIG;
    }
    it->next = NULL;
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->depth++;
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
    free(p->threads);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
