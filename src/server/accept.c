/* accept.c - accepting connections when the process is out of file
 * descriptors.
 *
 * libevent's listener accepts until accept() fails; EMFILE is not one of
 * the errors it retries later, so without an error callback it warned on
 * stderr and returned, and the listening socket, still readable (the
 * connection waits in the backlog), woke the loop at once: 4.3 s of CPU in
 * 5 s and 1.43 GB of log in 7 s.  Here, when accept() fails for want of
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), every listener
 * is paused (evconnlistener_disable): the waiting clients stay in the
 * kernel's backlog.  Accepting is tried again when a connection closes (a
 * descriptor is free) and every RETRY seconds; a failure pauses again.
 * One log line per episode, at its start; the episode ends after a second
 * without a failure.  /metrics: scrim_accept_paused (gauge),
 * scrim_accept_pauses_total (episodes), scrim_accept_failures_total.
 *
 * Pausing alone left the descriptors to whoever held them: 3000 idle
 * connections (bench/attacks.sh fds) kept every new client waiting until
 * --idle-timeout cut them.  Now each failure for want of descriptors also
 * closes the connections idle longest (between requests: nothing being
 * received, answered or written; SHED_MIN, or 1/32 of the connections if
 * more), whose closes resume accepting at once: a new client waits for at
 * most a few rounds of that, not for the idle timeout.  Counted in
 * scrim_connections_shed_total; the episode's log line says how many its
 * first round closed.
 *
 * Listeners are found through evhttp each time (evhttp_foreach_bound_socket),
 * never kept: a drain removes them.  The error callback's argument is
 * evhttp's own (the struct evhttp): servers are found from it in a small
 * table. */
#include "scrim.h"
#include "server/server.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <event2/listener.h>

#define RETRY 0.25      /* seconds between tries while paused */
#define CALM 1.0        /* seconds without a failure that end an episode */
#define SHED_MIN 16     /* idle connections closed per failure, at least */

struct scrim__accept {
    scrim_server *srv;
    struct event *timer;
    int paused;           /* listeners disabled */
    int episode;          /* in an episode (logged) */
    double last_fail;
    uint64_t pauses, failures, other_errors, shed;
    double last_other_log;
};

#define MAX_SERVERS 16
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { struct evhttp *http; scrim__accept *a; } table[MAX_SERVERS];

static scrim__accept *accept_of(void *http)
{
    scrim__accept *a = NULL;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_SERVERS && !a; i++)
        if (table[i].http == http)
            a = table[i].a;
    pthread_mutex_unlock(&table_lock);
    return a;
}

static void each_listener(struct evhttp_bound_socket *b, void *arg)
{
    struct evconnlistener *l = evhttp_bound_socket_get_listener(b);
    int enable = *(int *)arg;
    if (l)
        (enable ? evconnlistener_enable : evconnlistener_disable)(l);
}

static void set_listening(scrim__accept *a, int on)
{
    if (a->srv->http)
        evhttp_foreach_bound_socket(a->srv->http, each_listener, &on);
    a->paused = !on;
}

static void arm(scrim__accept *a)
{
    struct timeval tv = {0, (suseconds_t)(RETRY * 1e6)};
    if (!evtimer_pending(a->timer, NULL))
        evtimer_add(a->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    scrim__accept *a = arg;
    if (a->paused) {
        set_listening(a, 1);   /* try again; a failure pauses again */
        arm(a);
    } else if (a->episode && scrim__now() - a->last_fail < CALM) {
        arm(a);
    } else {
        a->episode = 0;
    }
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    scrim__accept *a = accept_of(arg);
    if (!a)
        return;
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
        /* anything else: logged at most once a minute, accepting goes on */
        a->other_errors++;
        if (scrim__now() - a->last_other_log >= 60) {
            a->last_other_log = scrim__now();
            scrim__log_msg("warning", "accept() failed: %s", strerror(e));
        }
        return;
    }
    a->failures++;
    a->last_fail = scrim__now();
    set_listening(a, 0);
    scrim_server *srv = a->srv;
    int conns = (int)g_hash_table_size(srv->conns);
    int want = conns / 32 > SHED_MIN ? conns / 32 : SHED_MIN;
    /* (their closes resume accepting: scrim__accept_closed) */
    int shed = scrim__conns_shed(srv, want);
    a->shed += (uint64_t)shed;
    if (!a->episode) {
        struct rlimit rl = {0, 0};
        getrlimit(RLIMIT_NOFILE, &rl);
        a->episode = 1;
        a->pauses++;
        scrim__log_json(json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:i}", "level", "warning", "msg",
            "accepting paused: out of file descriptors or memory", "error",
            strerror(e), "connections", (json_int_t)conns,
            "fd_limit", (json_int_t)rl.rlim_cur, "idle_closed", shed));
    }
    arm(a);
}

static void watch(struct evhttp_bound_socket *b, void *arg)
{
    struct evconnlistener *l = evhttp_bound_socket_get_listener(b);
    if (l)
        evconnlistener_set_error_cb(l, on_accept_error);
}

int scrim__accept_guard(scrim_server *srv)
{
    scrim__accept *a = calloc(1, sizeof *a);
    int slot = -1;
    if (!a)
        return SCRIM_ENOMEM;
    a->srv = srv;
    a->last_other_log = -1e9;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_SERVERS && slot < 0; i++)
        if (!table[i].http)
            slot = i;
    if (slot >= 0) {
        table[slot].http = srv->http;
        table[slot].a = a;
    }
    pthread_mutex_unlock(&table_lock);
    if (slot < 0 || !(a->timer = evtimer_new(srv->base, on_timer, a))) {
        scrim__accept_free(srv);
        free(a);
        return SCRIM_ENOMEM;
    }
    srv->accept = a;
    evhttp_foreach_bound_socket(srv->http, watch, NULL);
    return SCRIM_OK;
}

void scrim__accept_closed(scrim_server *srv)
{
    scrim__accept *a = srv->accept;
    if (a && a->paused)
        set_listening(a, 1);
}

void scrim__accept_metrics(scrim_server *srv, FILE *f)
{
    scrim__accept *a = srv->accept;
    fprintf(f, "# HELP scrim_accept_paused 1 while accepting is paused for want "
            "of file descriptors.\n# TYPE scrim_accept_paused gauge\n"
            "scrim_accept_paused %d\n", a ? a->episode : 0);
    fprintf(f, "# HELP scrim_accept_pauses_total Episodes of accept() failing "
            "for want of file descriptors or memory.\n# TYPE "
            "scrim_accept_pauses_total counter\nscrim_accept_pauses_total %llu\n",
            (unsigned long long)(a ? a->pauses : 0));
    fprintf(f, "# HELP scrim_accept_failures_total accept() calls that failed "
            "for want of file descriptors or memory.\n# TYPE "
            "scrim_accept_failures_total counter\n"
            "scrim_accept_failures_total %llu\n",
            (unsigned long long)(a ? a->failures : 0));
    fprintf(f, "# HELP scrim_connections_shed_total Idle connections closed "
            "to free descriptors for new clients.\n# TYPE "
            "scrim_connections_shed_total counter\n"
            "scrim_connections_shed_total %llu\n",
            (unsigned long long)(a ? a->shed : 0));
}

void scrim__accept_free(scrim_server *srv)
{
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_SERVERS; i++)
        if (srv->http && table[i].http == srv->http)
            table[i].http = NULL, table[i].a = NULL;
    pthread_mutex_unlock(&table_lock);
    scrim__accept *a = srv->accept;
    if (!a)
        return;
    if (a->timer)
        event_free(a->timer);
    free(a);
    srv->accept = NULL;
}
