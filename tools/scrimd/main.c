/* main.c - bin/scrimd: settings from the command line and config file, then
 * the server from the library (src/server_*.c) until SIGTERM. */
#include "scrim.h"
#include "scrim/review.h"
#include "scrim/server.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    scrim_settings s;
    scrim_server *srv = NULL;
    char err[1024];
    int help = 0, print = 0;

    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("scrimd %s\n", SCRIM_VERSION);
        return 0;
    }
    if (scrim_settings_resolve(&s, argc, argv, &help, &print, err, sizeof err)) {
        fprintf(stderr, "scrimd: %s\n", err);
        return 2;
    }
    if (help) {
        scrim_settings_usage(stdout, "scrimd");
        return 0;
    }
    if (print) {
        scrim_settings_write(&s, stdout);
        return 0;
    }
    /* Decoded images are megabytes each and of every size.  Up to 48 MB
     * (a 4000x4000 RGB image) they come from the heap and are reused, saving
     * the page faults of a fresh mapping per request (~20% of a request's
     * CPU); one arena per worker thread bounds how far the heap can
     * fragment; larger buffers are mapped and returned at once. */
    mallopt(M_MMAP_THRESHOLD, 48 << 20);
    mallopt(M_TRIM_THRESHOLD, 96 << 20);
    mallopt(M_ARENA_MAX, 4);
    if (scrim_init(argv[0])) {
        fprintf(stderr, "scrimd: cannot initialise libvips\n");
        return 1;
    }
    if (scrim_server_new(&s, argc, argv, &srv, err, sizeof err)) {
        fprintf(stderr, "scrimd: %s\n", err);
        scrim_shutdown();
        return 1;
    }
    scrim_review_server *review = NULL;
    scrim_review_opts ro = {.retention = (int64_t)s.review_retention};
    if (scrim_review_server_attach(srv, &ro, &review, err, sizeof err)) {
        fprintf(stderr, "scrimd: %s\n", err);
        scrim_server_free(srv);
        scrim_shutdown();
        return 1;
    }
    /* Video uploads and POST /v1/compare (video module, issue 5). */
    if (scrim_video_server_attach(srv, err, sizeof err)) {
        fprintf(stderr, "scrimd: %s\n", err);
        scrim_server_free(srv);
        scrim_review_server_free(review);
        scrim_shutdown();
        return 1;
    }
    int rc = scrim_server_run(srv);
    scrim_server_free(srv);
    scrim_review_server_free(review);
    scrim_shutdown();
    return rc ? 1 : 0;
}
