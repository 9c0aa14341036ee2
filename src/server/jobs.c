/* jobs.c - admin requests that outlive their wait.  An import or a drop
 * holds LMDB's one writer for as long as it takes (minutes for millions of
 * hashes), and it commits whatever the client does; answering it 504 at
 * --request-timeout told the client it had failed while it went on and
 * committed.  Now an admin request on the admin thread that is not done
 * within --admin-wait is answered 202 Accepted with a job, which records its
 * outcome: GET /v1/jobs/ID says queued, running, done (with the answer the
 * request would have had: counts) or failed (with its error).
 *
 * Everything here runs on the event loop thread (the job's start and end
 * come from http.c's timer and done callbacks; GET /v1/jobs is a loop
 * route), except the worker's store to *running. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define JOBS_MAX 1024          /* records kept; the oldest finished go first */
#define JOBS_KEEP (24 * 3600)  /* seconds a finished job is kept */

struct scrim__job {
    char id[33];
    char method[8];
    char *path;
    uint64_t request_id;
    const atomic_int *running;   /* the call's flag, until it finishes */
    int finished;
    int status;                  /* the call's HTTP status, once finished */
    json_t *body;                /* its answer, once finished */
    double created, finished_at; /* unix seconds */
};

static double unix_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void job_free(scrim__job *jb)
{
    if (!jb)
        return;
    free(jb->path);
    json_decref(jb->body);
    free(jb);
}

static const char *job_state(const scrim__job *jb)
{
    if (jb->finished)
        return jb->status < 400 ? "done" : "failed";
    return atomic_load(jb->running) ? "running" : "queued";
}

static json_t *job_json(const scrim__job *jb)
{
    char url[64];
    snprintf(url, sizeof url, "/v1/jobs/%s", jb->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:f}", "id", jb->id,
                          "url", url, "state", job_state(jb), "method",
                          jb->method, "path", jb->path, "request_id",
                          (json_int_t)jb->request_id, "created", jb->created);
    if (!j || !jb->finished)
        return j;
    json_object_set_new(j, "finished", json_real(jb->finished_at));
    json_object_set_new(j, "status", json_integer(jb->status));
    json_t *e = json_object_get(jb->body, "error");
    if (jb->status >= 400 && e)
        json_object_set(j, "error", e);
    else
        json_object_set(j, "result", jb->body ? jb->body : json_null());
    return j;
}

/* Forget finished jobs past JOBS_KEEP, and the oldest finished while full. */
static void jobs_trim(scrim_server *srv)
{
    double now = unix_now();
    size_t k = 0;
    for (size_t i = 0; i < srv->n_jobs; i++) {
        scrim__job *jb = srv->jobs[i];
        if (jb->finished && now - jb->finished_at > JOBS_KEEP)
            job_free(jb);
        else
            srv->jobs[k++] = jb;
    }
    srv->n_jobs = k;
    for (size_t i = 0; srv->n_jobs >= JOBS_MAX && i < srv->n_jobs;) {
        if (srv->jobs[i]->finished) {
            job_free(srv->jobs[i]);
            memmove(&srv->jobs[i], &srv->jobs[i + 1],
                    (srv->n_jobs - i - 1) * sizeof *srv->jobs);
            srv->n_jobs--;
        } else {
            i++;
        }
    }
}

scrim__job *scrim__job_start(scrim_server *srv, const char *method,
                             const char *path, uint64_t request_id,
                             const atomic_int *running, scrim_call *reply)
{
    uint8_t rnd[16];
    jobs_trim(srv);
    if (srv->n_jobs >= JOBS_MAX) {   /* all unfinished: cannot happen with
                                      * the admin queue's 64 places */
        scrim_call_error(reply, 503, "queue_full", "too many admin jobs");
        return NULL;
    }
    if (srv->n_jobs == srv->cap_jobs) {
        size_t cap = srv->cap_jobs ? 2 * srv->cap_jobs : 16;
        scrim__job **v = realloc(srv->jobs, cap * sizeof *v);
        if (!v)
            goto nomem;
        srv->jobs = v;
        srv->cap_jobs = cap;
    }
    scrim__job *jb = calloc(1, sizeof *jb);
    if (!jb || !(jb->path = strdup(path ? path : ""))) {
        free(jb);
        goto nomem;
    }
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
        job_free(jb);
        scrim_call_error(reply, 500, "io", "cannot get random bytes for a "
                         "job id");
        return NULL;
    }
    scrim__hex_encode(rnd, sizeof rnd, jb->id);
    snprintf(jb->method, sizeof jb->method, "%s", method);
    jb->request_id = request_id;
    jb->running = running;
    jb->created = unix_now();
    srv->jobs[srv->n_jobs++] = jb;
    srv->metrics.admin_jobs_total++;
    reply->status = 202;
    json_decref(reply->json);
    reply->json = job_json(jb);
    return jb;
nomem:
    scrim_call_error(reply, 500, "no_memory", "out of memory");
    return NULL;
}

void scrim__job_finish(scrim_server *srv, scrim__job *jb, const scrim_call *c)
{
    jb->finished = 1;
    jb->running = NULL;
    jb->finished_at = unix_now();
    jb->status = c->status ? c->status : 200;
    jb->body = c->json ? json_incref(c->json) : json_object();
    json_t *line = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:i, s:f}", "level",
                             "info", "msg", "job finished", "job", jb->id,
                             "request_id", (json_int_t)jb->request_id,
                             "method", jb->method, "path", jb->path,
                             "status", jb->status,
                             "seconds", jb->finished_at - jb->created);
    if (line && c->error_code[0])
        json_object_set_new(line, "error", json_string(c->error_code));
    scrim__log_json(line);
}

/* GET /v1/jobs/ID (admin, on the loop). */
static int jobs_route(scrim_call *c, void *arg)
{
    scrim_server *srv = c->server;
    for (size_t i = 0; i < srv->n_jobs; i++)
        if (!strcmp(srv->jobs[i]->id, c->tail)) {
            c->json = job_json(srv->jobs[i]);
            return c->json ? 0 : scrim_call_error(c, 500, "no_memory",
                                                  "out of memory");
        }
    return scrim_call_error(c, 404, "not_found", "no job %s (jobs are kept "
                            "%d hours after they finish, and not across "
                            "restarts)", c->tail, JOBS_KEEP / 3600);
}

int scrim__jobs_register(scrim_server *srv)
{
    return scrim_server_route(srv, "jobs", SCRIM_GET, "/v1/jobs/",
                              SCRIM_ROUTE_PREFIX | SCRIM_ROUTE_ADMIN,
                              jobs_route, NULL);
}

void scrim__jobs_free(scrim_server *srv)
{
    for (size_t i = 0; i < srv->n_jobs; i++)
        job_free(srv->jobs[i]);
    free(srv->jobs);
    srv->jobs = NULL;
    srv->n_jobs = srv->cap_jobs = 0;
}
