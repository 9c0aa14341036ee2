/* webhook_emit_bench.c - what queueing one webhook event costs the request
 * that makes it: scrim__webhook_emit() (the LMDB write transaction of
 * side.mdb, committed durably) timed N times in a scrimd server set up as
 * scrimd sets it up, with an event the size of a one-match event (~1 KB).
 * The delivery thread runs meanwhile against a port nobody listens on
 * (events stay queued, as with a receiver that is down).
 *
 *   webhook_emit_bench [-n N] [-s SECONDS] [-d DIR]
 *
 * -s is --webhook-sync (1; 0: every event flushed to disk before the
 * answer); DIR where the database goes (default a new one under /tmp). 
 */
#include "scrim.h"
#include "scrim/server.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = 2000;
    double sync = 1;
    char dir[512] = "", err[1024], path[600];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            sync = atof(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            snprintf(dir, sizeof dir, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-n N] [-s SYNC_SECONDS] [-d DIR]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/webhook_emit.XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/secret", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs("0123456789abcdef0123456789abcdef\n", f) < 0 || fclose(f)) {
        perror(path);
        return 1;
    }
    scrim_settings s;
    scrim_settings_defaults(&s);
    snprintf(s.db, sizeof s.db, "%s/db", dir);
    snprintf(s.socket, sizeof s.socket, "%s/sock", dir);
    s.listen[0] = '\0';
    snprintf(s.log, sizeof s.log, "%s/log", dir);
    snprintf(s.webhook_secret_file, sizeof s.webhook_secret_file, "%s", path);
    snprintf(s.webhook_url[0], sizeof s.webhook_url[0], "http://127.0.0.1:9/hook");
    s.n_webhook_url = 1;
    s.webhook_queue = n + 1;
    s.webhook_sync = sync;
    s.preload = s.cache_hashes = 0;
    scrim_server *srv;
    if (scrim_server_new(&s, 0, NULL, &srv, err, sizeof err)) {
        fprintf(stderr, "webhook_emit_bench: %s\n", err);
        return 1;
    }
    /* a one-match event as /v1/match makes it */
    json_t *d = json_pack(
        "{s:s, s:i, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:i, s:s, s:s, "
        "s:s, s:[s]}], s:{s:s, s:s, s:b, s:i}}",
        "route", "/v1/match", "request_id", 1, "content_id", "bench-1",
        "upload", "kind", "image", "md5", "bc201fc1d06d0ae49ac3c68b5959769f",
        "sha256", "39d84436cd179815d94603ad10a266fd283ddb66190d5068e60ca09f2a5c2275",
        "matches", "list", "bad", "hash",
        "03bc57103525743eadbf626d23f4e6e2f1247b6ca2170532adbdc3067ad98552",
        "distance", 0, "id", "case-1", "label", "blobs", "type", "pdq", "tags",
        "tag", "review", "id", "000662126ca815e2bb853b323010a7c1", "preview",
        "/v1/review/000662126ca815e2bb853b323010a7c1/preview.jpg", "repeat", 0,
        "seen", 1);
    double *t = malloc((size_t)n * sizeof *t), sum = 0;
    for (int i = 0; i < n; i++) {
        double a = now_s();
        if (scrim__webhook_emit(srv, "match", d, err, sizeof err)) {
            fprintf(stderr, "webhook_emit_bench: %s\n", err);
            return 1;
        }
        t[i] = (now_s() - a) * 1e3;
        sum += t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("%d events queued: median %.3f ms, p90 %.3f ms, p99 %.3f ms, "
           "max %.3f ms, mean %.3f ms\n", n, t[n / 2], t[(int)(0.9 * (n - 1))],
           t[(int)(0.99 * (n - 1))], t[n - 1], sum / n);
    json_decref(d);
    free(t);
    scrim_server_free(srv);
    return 0;
}
