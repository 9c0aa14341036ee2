/* preview.c - benchmark of the preview renderer: milliseconds per matched
 * image at each level, from pixels already decoded (as the daemon has them),
 * over the eval-dev photos.  Usage: preview [DIR] [ROUNDS] */
#include "scrim.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data/eval-dev/orig";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    scrim_image imgs[512];
    int n = 0;
    char err[256];
    if (scrim_init(argv[0]))
        return 1;
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        char path[4096];
        uint8_t *data;
        size_t len;
        scrim_image_hashes h;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len, err, sizeof err))
            continue;
        /* Decoded exactly as the daemon decodes for hashing. */
        if (!scrim_hash_image_buffer(data, len, NULL, &h, &imgs[n], err, sizeof err))
            n++;
        free(data);
    }
    closedir(d);
    if (!n || rounds < 1) {
        fprintf(stderr, "no images in %s\n", dir);
        return 1;
    }
    printf("%d images (decoded for hashing, longest side >= 512), %d rounds\n",
           n, rounds);
    static const char *levels[] = {"strong", "standard", "light"};
    double *t = malloc(sizeof *t * (size_t)n * rounds);
    for (int l = 0; l < 3; l++)
        for (int lighter = 0; lighter < 2; lighter++) {
            scrim_preview_opts o;
            scrim_preview_level_parse(levels[l], &o, err, sizeof err);
            if (lighter)
                scrim_preview_opts_lighter(&o, &o);
            size_t bytes = 0;
            for (int r = 0; r < rounds; r++)
                for (int i = 0; i < n; i++) {
                    scrim_preview p;
                    double t0 = now_ms();
                    if (scrim_preview_render(&imgs[i], &o, &p, err, sizeof err)) {
                        fprintf(stderr, "render: %s\n", err);
                        return 1;
                    }
                    t[r * n + i] = now_ms() - t0;
                    bytes += p.len;
                    scrim_preview_free(&p);
                }
            qsort(t, (size_t)n * rounds, sizeof *t, cmp_double);
            double sum = 0;
            for (int i = 0; i < n * rounds; i++)
                sum += t[i];
            size_t m = (size_t)n * rounds;
            printf("%-8s%s %2d blocks: mean %.3f ms, p50 %.3f, p99 %.3f, max %.3f; "
                   "%zu bytes avg\n", levels[l], lighter ? "+lighter" : "        ",
                   o.detail, sum / m, t[m / 2], t[m * 99 / 100], t[m - 1],
                   bytes / m);
        }
    /* The daemon stores two renderings per match: default + lighter. */
    {
        scrim_preview_opts o, lo;
        scrim_preview_opts_default(&o);
        scrim_preview_opts_lighter(&o, &lo);
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < n; i++) {
                scrim_preview p, q;
                double t0 = now_ms();
                if (scrim_preview_render(&imgs[i], &o, &p, err, sizeof err) ||
                    scrim_preview_render(&imgs[i], &lo, &q, err, sizeof err)) {
                    fprintf(stderr, "render: %s\n", err);
                    return 1;
                }
                t[r * n + i] = now_ms() - t0;
                scrim_preview_free(&p);
                scrim_preview_free(&q);
            }
        size_t m = (size_t)n * rounds;
        qsort(t, m, sizeof *t, cmp_double);
        double sum = 0;
        for (size_t i = 0; i < m; i++)
            sum += t[i];
        printf("per matched image (standard + its lighter level, as scrimd stores "
               "them): mean %.3f ms, p50 %.3f, p99 %.3f, max %.3f (target <= 5 ms)\n",
               sum / m, t[m / 2], t[m * 99 / 100], t[m - 1]);
    }
    for (int i = 0; i < n; i++)
        scrim_image_free(&imgs[i]);
    free(t);
    return 0;
}
