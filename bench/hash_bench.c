/* hash_bench.c - images per second per core: decode + PDQ (with its
 * dihedral variants) of files already read into memory, one thread, as
 * `scrim hash` does; with --digests also MD5 and SHA-256 of the bytes, as
 * scrimd and `scrim hash --json` do.
 *
 * usage: hash_bench [--fast] [--digests] [--min-seconds S] FILE...
 *        hash_bench --compare-huffman [--min-seconds S] FILE...
 *
 * --compare-huffman times scrim's Huffman decoder (src/jpeg_huff.c) against
 * libjpeg's own on the same files, alternating the two image by image in one
 * process (thread CPU time), so that the machine's drift falls on both.
 */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h" /* scrim__jpeg_fast_huff */

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double thread_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    scrim_decode_opts opts = {0};
    double min_seconds = 5;
    int digests = 0, compare = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--fast"))
            opts.min_side = SCRIM_FAST_MIN_SIDE;
        else if (!strcmp(argv[i], "--digests"))
            digests = 1;
        else if (!strcmp(argv[i], "--compare-huffman"))
            compare = 1;
        else if (!strcmp(argv[i], "--min-seconds") && i + 1 < argc)
            min_seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: hash_bench [--fast] [--digests] [--min-seconds S] FILE...\n"
                            "       hash_bench --compare-huffman [--min-seconds S] FILE...\n");
            return 2;
        }
    }
    int n = argc - i;
    opts.no_digests = !digests;
    /* As bin/scrim does for batches. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    if (n <= 0 || scrim_init(argv[0]))
        return 2;
    uint8_t **data = calloc(n, sizeof *data);
    size_t *len = calloc(n, sizeof *len), total = 0;
    char err[256];
    for (int k = 0; k < n; k++) {
        if (scrim_read_file(argv[i + k], SCRIM_MAX_INPUT_BYTES, &data[k], &len[k],
                            err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", argv[i + k], err);
            return 1;
        }
        total += len[k];
    }
    if (compare) {
        /* image by image, both decoders, in an order that alternates */
        double t[2] = {0, 0}, t0 = now();
        long cnt = 0, failed = 0;
        for (int pass = 0; pass < 2 || now() - t0 < min_seconds; pass++)
            for (int k = 0; k < n; k++, cnt += pass > 0)
                for (int m = 0; m < 2; m++) {
                    int own = (pass + k + m) & 1;
                    scrim__jpeg_fast_huff = own;
                    scrim_image_hashes h;
                    double c = thread_cpu_now();
                    failed += scrim_hash_image_buffer(data[k], len[k], &opts, &h,
                                                      NULL, err, sizeof err) != 0;
                    if (pass > 0) /* the first pass warms up */
                        t[own] += thread_cpu_now() - c;
                }
        printf("huffman: %d files, %ld decodes each: libjpeg's %.3f ms, scrim's "
               "%.3f ms per image (%.1f%% less time), %ld failures\n",
               n, cnt, t[0] * 1000 / cnt, t[1] * 1000 / cnt,
               100 * (1 - t[1] / t[0]), failed);
        return failed ? 1 : 0;
    }
    /* One warm-up pass, then whole passes until min_seconds have gone by. */
    long done = 0, failed = 0;
    double t0 = 0, c0 = 0;
    for (int pass = 0;; pass++) {
        if (pass == 1) {
            t0 = now();
            c0 = cpu_now();
            done = 0;
        }
        for (int k = 0; k < n; k++) {
            scrim_image_hashes h;
            if (scrim_hash_image_buffer(data[k], len[k], &opts, &h, NULL, err,
                                        sizeof err))
                failed++;
            done++;
        }
        if (pass >= 1 && now() - t0 >= min_seconds)
            break;
    }
    double wall = now() - t0, cpu = cpu_now() - c0;
    printf("%s%s: %d files (%.0f KB avg), %ld hashed in %.2f s wall, %.2f s CPU: "
           "%.1f images/s per core (%.2f ms each), %ld failures\n",
           opts.min_side ? "fast" : "default", digests ? " + digests" : "", n, total / 1024.0 / n, done, wall,
           cpu, done / cpu, cpu * 1000 / done, failed);
    return failed ? 1 : 0;
}
