/* index_bench.c - the PDQ index at scale: N random hashes plus planted near
 * neighbours, imported as text through the import path; import time,
 * database size, time to open, then single-thread radius lookups
 * (throughput, p50/p99) checked against a brute-force scan.
 *
 * usage: index_bench [-n N] [-q QUERIES] [-r RADIUS] [-c CHECKED] [-d DIR]
 *                    [-f FLUSH] (records per index merge) [-k] (keep the
 *                    database) [-s] (skip the import: reuse -d, which
 *                    must have been built with the same -n and -q)
 *                    [-C] (scrim_store_cache_hashes before the lookups,
 *                    as scrimd does: candidates checked from RAM)
 *                    [-p] (scrim_store_preload before the lookups, as
 *                    scrimd does: 2 MB pages where the kernel can)
 */
#include "scrim.h"
#include "../tests/pdq_random.h" /* the store tests' data generator */

#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The state of the data's random sequence: a fixed seed, so -s can rebuild
 * the brute-force reference of a kept database. */
#define BENCH_SEED 42
static uint64_t rng = BENCH_SEED;

/* -s reuses a kept database while the brute-force reference is generated
 * again from the seed: the database must hold this run's data, which the
 * import records as the list's description (gen).  0, or -1 after saying
 * why not. */
static int check_reused(const char *dir, const char *gen)
{
    char err[1024];
    scrim_store *s;
    scrim_store_opts so = {0};
    scrim_list_info *l = NULL;
    size_t nl = 0;
    int rc = scrim_store_open(dir, &so, &s, err, sizeof err);
    if (!rc) {
        rc = scrim_store_lists(s, &l, &nl, err, sizeof err);
        scrim_store_close(s);
    }
    if (rc) {
        fprintf(stderr, "index_bench: -s: %s\n", err);
        return -1;
    }
    const char *have = NULL;
    for (size_t i = 0; i < nl; i++)
        if (!strcmp(l[i].name, "bench"))
            have = l[i].description;
    if (!have || strcmp(have, gen)) {
        fprintf(stderr,
                "index_bench: -s: %s was not built by this run's parameters\n"
                "  database: %s\n  this run: %s\n"
                "  (the brute-force check would report false mismatches): run "
                "again with the database's -n/-q, or without -s\n",
                dir, !have ? "no list 'bench'" : *have ? have : "(no parameters recorded)",
                gen);
        free(l);
        return -1;
    }
    free(l);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    return remove(p);
}

int main(int argc, char **argv)
{
    size_t n = 1000000, nq = 20000, nchecked = 300, flush = 4u << 20; /* as the CLI */
    int radius = 31, keep = 0, skip_import = 0, preload = 0, cache = 0, c;
    char dir[4096] = "";
    while ((c = getopt(argc, argv, "n:q:r:c:d:f:kspC")) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'q': nq = strtoull(optarg, NULL, 10); break;
        case 'r': radius = atoi(optarg); break;
        case 'c': nchecked = strtoull(optarg, NULL, 10); break;
        case 'd': snprintf(dir, sizeof dir, "%s", optarg); break;
        case 'f': flush = strtoull(optarg, NULL, 10); break;
        case 'k': keep = 1; break;
        case 's': skip_import = keep = 1; break;
        case 'p': preload = 1; break;
        case 'C': cache = 1; break;
        default:
            fprintf(stderr, "usage: %s [-n N] [-q Q] [-r R] [-c CHECKED] [-d DIR] [-f FLUSH] [-k] [-s] [-p] [-C]\n",
                    argv[0]);
            return 2;
        }
    }
    char gen[128]; /* what the data is made of, recorded at import */
    snprintf(gen, sizeof gen, "index_bench data: n=%zu q=%zu seed=%d", n, nq,
             BENCH_SEED);
    if (skip_import && !*dir) {
        fprintf(stderr, "index_bench: -s needs -d DIR (the kept database)\n");
        return 2;
    }
    if (skip_import && check_reused(dir, gen))
        return 2;
    if (!*dir) {
        snprintf(dir, sizeof dir, "/tmp/scrim-index-bench-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    if (nchecked > nq)
        nchecked = nq;
    /* the data: n hashes, of which (nq/2 centers x 8) are planted within
     * distance 0..31 of a query center */
    size_t ncenter = nq / 2, nplant = ncenter * 8;
    if (nplant > n / 2) {
        fprintf(stderr, "n too small for %zu queries\n", nq);
        return 2;
    }
    scrim_pdq *all = malloc(n * sizeof *all), *q = malloc(nq * sizeof *q);
    if (!all || !q)
        return 1;
    for (size_t i = 0; i < ncenter; i++)
        pdq_random_hash(&rng, &q[i]);
    for (size_t i = 0; i < n; i++) {
        pdq_random_hash(&rng, &all[i]);
        if (i < nplant) {
            all[i] = q[i / 8];
            pdq_random_flip(&rng, &all[i], (int)(pdq_random_next(&rng) % 32));
        }
    }
    for (size_t i = ncenter; i < nq; i++)
        pdq_random_hash(&rng, &q[i]); /* queries with (almost surely) no neighbour */
    /* shuffle planted and random queries together (the first nchecked are
     * then a mix of both) */
    for (size_t i = nq - 1; i > 0; i--) {
        size_t j = (size_t)(pdq_random_next(&rng) % (i + 1));
        scrim_pdq t = q[i];
        q[i] = q[j];
        q[j] = t;
    }

    char err[1024];
    scrim_store *s;
    scrim_store_opts so = {0};
    so.create = 1;
    double t0, t_import = 0, c_import = 0;
    if (!skip_import) {
        /* the text file the CLI would read */
        char path[4200];
        snprintf(path, sizeof path, "%s.hex", dir);
        FILE *f = fopen(path, "w");
        char hex[65];
        for (size_t i = 0; i < n; i++) {
            scrim_pdq_to_hex(&all[i], hex);
            fprintf(f, "%s\n", hex);
        }
        fclose(f);
        if (scrim_store_open(dir, &so, &s, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        t0 = now();
        double c0 = cpu();
        scrim_import_opts io = {0};
        io.create = 1;
        io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
        io.list.description = gen;
        io.source = "bench";
        io.flush_every = flush;
        scrim_import *imp;
        scrim_import_stats st;
        f = fopen(path, "r");
        if (scrim_import_begin(s, "bench", &io, &imp, err, sizeof err) ||
            scrim_import_stream(imp, f, path, SCRIM_FORMAT_HEX, NULL, NULL, err,
                                sizeof err) ||
            scrim_import_commit(imp, &st, err, sizeof err)) {
            fprintf(stderr, "import: %s\n", err);
            return 1;
        }
        fclose(f);
        t_import = now() - t0;
        c_import = cpu() - c0;
        unlink(path);
        scrim_store_close(s);
        printf("import: %zu hashes in %.1f s wall, %.1f s CPU (%.0f/s), %llu duplicates\n",
               n, t_import, c_import, n / t_import,
               (unsigned long long)st.duplicates[0]);
    }
    char mdb[4200];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
    struct stat sb;
    stat(mdb, &sb);
    double size_gb = (double)sb.st_blocks * 512 / 1e9;
    printf("database: %.2f GB on disk (%.1f bytes per hash)\n", size_gb,
           (double)sb.st_blocks * 512 / n);

    /* open and answer the first query */
    t0 = now();
    if (scrim_store_open(dir, &so, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    lo.radius = radius;
    if (scrim_store_lookup_pdq(s, &q[0], 1, &lo, &m, err, sizeof err)) {
        fprintf(stderr, "lookup: %s\n", err);
        return 1;
    }
    double t_open = now() - t0;
    scrim_matches_free(&m);
    printf("open + first lookup: %.1f ms (page cache warm)\n", t_open * 1e3);
    if (preload) {
        scrim_store_preload_stats ps;
        if (scrim_store_preload(s, NULL, NULL, &ps))
            printf("preload: the database's map was not found\n");
        else
            printf("preload (-p): %.2f GB in %.2f s, on 2 MB pages %.2f GB before, "
                   "%.2f GB after%s\n", ps.bytes / 1e9, ps.seconds, ps.huge_before / 1e9,
                   ps.huge_after / 1e9, ps.reread ? " (read again)" : "");
    }
    if (cache) {
        scrim_store_cache_stats cs;
        if (scrim_store_cache_hashes(s, NULL, NULL, &cs))
            printf("hash cache (-C): failed\n");
        else
            printf("hash cache (-C): %llu hashes, %.0f MB, in %.2f s%s\n",
                   (unsigned long long)cs.hashes, cs.bytes / 1e6, cs.seconds,
                   cs.too_big ? " (too big: not made)" : "");
    }

    /* throughput and latency, one thread */
    double *lat = malloc(nq * sizeof *lat);
    size_t hits = 0;
    t0 = now();
    double cq0 = cpu();
    for (size_t i = 0; i < nq; i++) {
        double a = now();
        if (scrim_store_lookup_pdq(s, &q[i], 1, &lo, &m, err, sizeof err)) {
            fprintf(stderr, "lookup: %s\n", err);
            return 1;
        }
        lat[i] = now() - a;
        hits += m.n;
        scrim_matches_free(&m);
    }
    double t_q = now() - t0, c_q = cpu() - cq0;
    qsort(lat, nq, sizeof *lat, dcmp);
    printf("lookups: %zu at radius %d in %.2f s: %.0f/s, p50 %.3f ms, p99 %.3f ms, "
           "max %.3f ms, %zu hits\n",
           nq, radius, t_q, nq / t_q, lat[nq / 2] * 1e3, lat[nq * 99 / 100] * 1e3,
           lat[nq - 1] * 1e3, hits);
    printf("lookups: %.2f s CPU: %.0f per CPU-second\n", c_q, nq / c_q);

    /* exactness against brute force on the first nchecked queries */
    size_t bad = 0, checked_hits = 0;
    double tb = now();
    for (size_t i = 0; i < nchecked; i++) {
        size_t want = 0;
        for (size_t j = 0; j < n; j++)
            want += scrim_pdq_distance(&q[i], &all[j]) <= radius;
        /* the import de-duplicates; distinct values are what the store has */
        if (scrim_store_lookup_pdq(s, &q[i], 1, &lo, &m, err, sizeof err))
            return 1;
        size_t got = m.n;
        for (size_t k = 0; k < m.n; k++) {
            scrim_pdq h;
            scrim_pdq_from_hex(m.v[k].hash, 64, &h);
            if (scrim_pdq_distance(&h, &q[i]) != m.v[k].distance ||
                m.v[k].distance > radius)
                bad++;
        }
        scrim_matches_free(&m);
        if (got != want) {
            /* allow for exact duplicates in the data (stored once) */
            size_t distinct = 0;
            for (size_t j = 0; j < n; j++) {
                if (scrim_pdq_distance(&q[i], &all[j]) > radius)
                    continue;
                size_t k;
                for (k = 0; k < j; k++)
                    if (!memcmp(&all[k], &all[j], sizeof all[j]))
                        break;
                distinct += k == j;
            }
            if (got != distinct) {
                fprintf(stderr, "query %zu: %zu hits, brute force %zu\n", i, got,
                        distinct);
                bad++;
            }
        }
        checked_hits += got;
    }
    double t_brute = (now() - tb) / (nchecked ? nchecked : 1);
    printf("exactness: %zu queries (%zu hits) checked against brute force: %s "
           "(brute force %.1f ms/query)\n",
           nchecked, checked_hits, bad ? "MISMATCH" : "identical", t_brute * 1e3);
    printf("{\"n\": %zu, \"radius\": %d, \"import_s\": %.2f, \"import_cpu_s\": %.2f, "
           "\"db_gb\": %.3f, \"open_ms\": %.2f, \"lookups_per_s\": %.0f, "
           "\"lookups_per_cpu_s\": %.0f, \"p50_ms\": %.4f, "
           "\"p99_ms\": %.4f, \"exact\": %s}\n",
           n, radius, t_import, c_import, size_gb, t_open * 1e3, nq / t_q, nq / c_q,
           lat[nq / 2] * 1e3, lat[nq * 99 / 100] * 1e3, bad ? "false" : "true");
    scrim_store_close(s);
    if (!keep)
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(lat);
    free(all);
    free(q);
    return bad ? 1 : 0;
}
