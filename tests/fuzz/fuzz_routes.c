/* fuzz_routes.c - libFuzzer: request bodies and paths through scrimd's
 * endpoint handlers, called directly (no socket, no query arguments) on a
 * server with a temporary database.  Input: route selector, method
 * selector, the path's tail up to the first newline, then the body. */
#include "scrim.h"
#include "server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static scrim_server *srv;
static scrim_review_server *review;
static char dir[] = "/tmp/scrim-fuzz-routes-XXXXXX";

static void cleanup(void)
{
    char cmd[128];
    scrim_server_free(srv);
    scrim_review_server_free(review);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    scrim_settings s;
    if (scrim_init((*argv)[0]) || !mkdtemp(dir))
        abort();
    scrim_settings_defaults(&s);
    snprintf(s.db, sizeof s.db, "%s/db", dir);
    snprintf(s.socket, sizeof s.socket, "%s/sock", dir);
    snprintf(s.log, sizeof s.log, "%s/log", dir);
    s.listen[0] = '\0';
    s.threads = 1;
    s.max_pixels = 4000000;
    if (scrim_server_new(&s, *argc, *argv, &srv, err, sizeof err)) {
        fprintf(stderr, "server: %s\n", err);
        abort();
    }
    scrim_review_opts ro = {.retention = 3600};
    if (scrim_review_server_attach(srv, &ro, &review, err, sizeof err) ||
        scrim_video_server_attach(srv, err, sizeof err)) {
        fprintf(stderr, "attach: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || srv->n_routes == 0)
        return 0;
    scrim__route *r = &srv->routes[data[0] % srv->n_routes];
    int method = 1 << (data[1] % 5);
    if (!(r->methods & method))
        method = r->methods & -r->methods; /* its first method */
    data += 2, size -= 2;
    const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
    size_t tl = nl ? (size_t)(nl - data) : 0;
    char tail[256], path[512];
    memcpy(tail, data, tl);
    tail[tl] = '\0';
    if (nl)
        data += tl + 1, size -= tl + 1;
    snprintf(path, sizeof path, "%s%s", r->path, tail);

    scrim_call c = {0};
    c.method = method;
    c.path = path;
    c.tail = (r->flags & SCRIM_ROUTE_PREFIX) ? tail : "";
    c.body = data;
    c.body_len = size;
    c.settings = &srv->cur->s;
    c.store = srv->store;
    c.server = srv;
    c.id = 1;
    int rc = r->fn(&c, r->arg);
    if (rc && !c.json) {
        fprintf(stderr, "route %s (method %d, tail '%s'): error %d without "
                "an error body\n", r->name, method, tail, rc);
        abort();
    }
    /* a bad request is the client's error (4xx), never the server's */
    if (c.status >= 500) {
        char *j = c.json ? json_dumps(c.json, 0) : NULL;
        fprintf(stderr, "route %s: %d %s\n", r->name, c.status, j ? j : "");
        abort();
    }
    json_decref(c.json);
    free(c.raw);
    return 0;
}
