/* fuzz_routes.c - libFuzzer: request bodies and paths through scrimd's
 * endpoint handlers, called directly (no socket, no query arguments) on a
 * server with a temporary database.  Input: route selector, method
 * selector, the path's tail up to the first newline, then the body. */
#include "scrim.h"
#include "scrim/server.h"
#include "scrim/review.h"
#include "server/server.h"
#include "fuzz_util.h"
#include "../temp_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static scrim_server *srv;
static scrim_review_server *review;
static char dir[] = "/tmp/scrim-fuzz-routes-XXXXXX";

static void cleanup(void)
{
    scrim_server_free(srv);
    scrim_review_server_free(review);
    fuzz_rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    scrim_settings s;
    fuzz_init(*argv);
    fuzz_tempdir(dir);
    temp_server_settings(&s, dir);
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
