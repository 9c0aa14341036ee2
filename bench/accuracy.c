/* accuracy.c - recall and false matches of scrim's matcher against plain
 * PDQ, on a folder of originals and folders of their copies.
 *
 * usage: accuracy [--variants SET] [--radius R] [--min-quality Q] [--misses]
 *                 [--dat FILE] ORIG_DIR XF_DIR...
 *        accuracy --time [--rounds N] FILE...
 *
 * Every XF_DIR holds one folder per transform, <transform>/<id>.<ext>, <id>
 * naming an original in ORIG_DIR.  The list holds each original's plain PDQ
 * (what a partner list holds); "+ variants" adds the index-side variants
 * `scrim add` stores for the platform's own media (--variants, default
 * SCRIM_VARIANTS_DEFAULT).  For every copy:
 *   plain     the copy's PDQ against its original's (Meta's reference as it
 *             is, no quality floor)
 *   scrim     what scrim match looks up: the 8 dihedral variants of the
 *             upload and of each picture found inside it
 *             (scrim_decode_opts.regions), each only if its PDQ quality is
 *             at least --min-quality (50, the daemon's default); the
 *             upload's own hash down to a fifth of it (scrim_whole_radius)
 *   +variants the same against the original's PDQ and its variants
 * and, for false matches, the same distances from every copy of A to the
 * original of B (A != B).  The pseudo-transform "orig" is the originals.
 * Prints Markdown; --dat writes the recall table for gnuplot; --misses
 * lists on stderr every copy scrim misses, with its regions and their
 * distances to the original.
 *
 * --time: microseconds per file, one thread, of scrim_hash_image_buffer as
 * scrimd calls it for /v1/match, with regions and without, alternated file
 * by file, N rounds (default 3).
 */
#include "scrim.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct orig {
    char id[64];
    scrim_pdq pdq;
    int nv;
    scrim_variant v[SCRIM_VARIANTS_MAX];
} orig;

typedef struct copy {
    int oi;
    scrim_image_hashes h;
} copy;

typedef struct xform {
    char name[64];
    int n;
    copy *c;
} xform;

static orig *origs;
static int norig, radius = 31, min_quality = 50, misses;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    int k = 0;
    size_t cap = 0;
    struct dirent *e;
    *n = 0;
    if (!d)
        return NULL;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)k == cap && !(v = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v)))
            exit(1);
        v[k++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(v, k, sizeof *v, cmp_str);
    *n = k;
    return v;
}

static void id_of(const char *name, char *id, size_t len)
{
    snprintf(id, len, "%s", name);
    char *dot = strrchr(id, '.');
    if (dot)
        *dot = 0;
}

static int find_orig(const char *id)
{
    for (int i = 0; i < norig; i++)
        if (!strcmp(origs[i].id, id))
            return i;
    return -1;
}

static int hash_file(const char *path, int regions, scrim_image_hashes *h)
{
    uint8_t *buf;
    size_t len;
    char err[256];
    scrim_decode_opts d = {.regions = regions};
    int rc = scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &buf, &len, err,
                             sizeof err);
    if (!rc)
        rc = scrim_hash_image_buffer(buf, len, &d, h, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s: %s\n", path, err);
    free(buf);
    return rc;
}

/* The smallest distance from any of the copy's queries (as scrim match
 * makes them) to the original's PDQ, and to its variants too with vars. */
static int scrim_dist(const scrim_image_hashes *h, const orig *o, int vars)
{
    int best = 257;
    for (int r = -1; r < h->nregions; r++) {
        const scrim_pdq *d = r < 0 ? h->dihedral : h->region[r].dihedral;
        /* as scrim_image_match: regions at the floor, the whole upload
         * down to a fifth of it */
        if (r < 0 ? scrim_whole_radius(h->quality, min_quality, radius) < 0
                  : h->region[r].quality < min_quality)
            continue;
        for (int k = 0; k < SCRIM_DIH_COUNT; k++) {
            int x = scrim_pdq_distance(&d[k], &o->pdq);
            best = x < best ? x : best;
            for (int i = 0; vars && i < o->nv; i++) {
                x = scrim_pdq_distance(&d[k], &o->v[i].pdq);
                best = x < best ? x : best;
            }
        }
    }
    return best;
}

static int int_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int median(int *v, int n)
{
    qsort(v, n, sizeof *v, int_cmp);
    return n ? v[n / 2] : 0;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int timing(int argc, char **argv, int rounds)
{
    double with = 0, without = 0;
    int n = 0, nreg = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < argc; i++) {
            scrim_image_hashes h;
            double t0 = now_us();
            if (hash_file(argv[i], 0, &h))
                return 1;
            double t1 = now_us();
            if (hash_file(argv[i], 1, &h))
                return 1;
            double t2 = now_us();
            without += t1 - t0;
            with += t2 - t1;
            nreg += h.nregions;
            n++;
        }
    printf("%d files x %d rounds: %.0f us per file without regions, %.0f us "
           "with (+%.1f%%), %.2f regions per file\n", argc, rounds,
           without / n, with / n, 100.0 * (with - without) / without,
           (double)nreg / n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *vset = NULL, *dat = NULL;
    int ai = 1, rounds = 3, time_mode = 0;
    for (; ai < argc && argv[ai][0] == '-'; ai++) {
        if (!strcmp(argv[ai], "--variants") && ai + 1 < argc)
            vset = argv[++ai];
        else if (!strcmp(argv[ai], "--radius") && ai + 1 < argc)
            radius = atoi(argv[++ai]);
        else if (!strcmp(argv[ai], "--min-quality") && ai + 1 < argc)
            min_quality = atoi(argv[++ai]);
        else if (!strcmp(argv[ai], "--dat") && ai + 1 < argc)
            dat = argv[++ai];
        else if (!strcmp(argv[ai], "--rounds") && ai + 1 < argc)
            rounds = atoi(argv[++ai]);
        else if (!strcmp(argv[ai], "--misses"))
            misses = 1;
        else if (!strcmp(argv[ai], "--time"))
            time_mode = 1;
        else {
            fprintf(stderr, "accuracy: unknown option %s\n", argv[ai]);
            return 2;
        }
    }
    if (scrim_init(argv[0]))
        return 1;
    if (time_mode)
        return timing(argc - ai, argv + ai, rounds);
    if (argc - ai < 2) {
        fprintf(stderr, "usage: accuracy [--variants SET] [--radius R] "
                        "[--min-quality Q] [--dat FILE] ORIG_DIR XF_DIR...\n");
        return 2;
    }
    /* the originals, with their variants */
    int n;
    char **names = list_dir(argv[ai], &n);
    origs = calloc(n ? n : 1, sizeof *origs);
    for (int i = 0; i < n; i++) {
        char path[4096], err[256];
        uint8_t *buf;
        size_t len;
        scrim_image_hashes h;
        snprintf(path, sizeof path, "%s/%s", argv[ai], names[i]);
        orig *o = &origs[norig];
        id_of(names[i], o->id, sizeof o->id);
        if (scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &buf, &len, err, sizeof err) ||
            scrim_hash_variants(buf, len, vset ? vset : "", &h, o->v,
                                SCRIM_VARIANTS_MAX, &o->nv, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", path, err);
            continue;
        }
        if (!vset) /* the default set: "" above asked for none; redo */
            scrim_hash_variants(buf, len, NULL, &h, o->v, SCRIM_VARIANTS_MAX,
                                &o->nv, err, sizeof err);
        free(buf);
        o->pdq = h.pdq;
        norig++;
    }
    /* the copies: "orig" first */
    xform *xf = NULL;
    int nxf = 0;
    xf = realloc(xf, sizeof *xf);
    snprintf(xf[0].name, sizeof xf[0].name, "orig");
    xf[0].c = calloc(n ? n : 1, sizeof *xf[0].c);
    xf[0].n = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[ai], names[i]);
        copy *c = &xf[0].c[xf[0].n];
        char id[64];
        id_of(names[i], id, sizeof id);
        if ((c->oi = find_orig(id)) >= 0 && !hash_file(path, 1, &c->h))
            xf[0].n++;
    }
    nxf = 1;
    for (int d = ai + 1; d < argc; d++) {
        int nt;
        char **tn = list_dir(argv[d], &nt);
        for (int t = 0; t < nt; t++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", argv[d], tn[t]);
            int nf;
            char **fn = list_dir(dir, &nf);
            if (!fn)
                continue;
            xf = realloc(xf, (nxf + 1) * sizeof *xf);
            xform *x = &xf[nxf++];
            snprintf(x->name, sizeof x->name, "%s", tn[t]);
            x->c = calloc(nf ? nf : 1, sizeof *x->c);
            x->n = 0;
            for (int f = 0; f < nf; f++) {
                char path[8192], id[64];
                snprintf(path, sizeof path, "%s/%s", dir, fn[f]);
                id_of(fn[f], id, sizeof id);
                copy *c = &x->c[x->n];
                if ((c->oi = find_orig(id)) >= 0 && !hash_file(path, 1, &c->h))
                    x->n++;
            }
        }
    }
    /* recall */
    FILE *df = dat ? fopen(dat, "w") : NULL;
    printf("# Re-post recall: plain PDQ against scrim's matcher (radius %d)\n\n", radius);
    printf("%d originals; index-side variants: %s.  scrim: the 8 dihedral variants of "
           "the upload and of each picture found inside it, PDQ quality >= %d.\n\n",
           norig, vset ? vset : SCRIM_VARIANTS_DEFAULT, min_quality);
    printf("| transform | n | plain PDQ | scrim | scrim + variants | median d plain | median d scrim | regions per copy |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    long tot = 0, tp = 0, ts = 0, tv = 0;
    for (int t = 0; t < nxf; t++) {
        xform *x = &xf[t];
        int p = 0, s = 0, v = 0, nr = 0;
        int *dp = malloc((x->n ? x->n : 1) * sizeof *dp);
        int *ds = malloc((x->n ? x->n : 1) * sizeof *ds);
        for (int i = 0; i < x->n; i++) {
            copy *c = &x->c[i];
            const orig *o = &origs[c->oi];
            dp[i] = scrim_pdq_distance(&c->h.pdq, &o->pdq);
            ds[i] = scrim_dist(&c->h, o, 0);
            p += dp[i] <= radius;
            s += ds[i] <= radius;
            v += scrim_dist(&c->h, o, 1) <= radius;
            nr += c->h.nregions;
            if (misses && ds[i] > radius) {
                fprintf(stderr, "miss %s/%s d=%d q=%d", x->name, o->id, ds[i],
                        c->h.quality);
                for (int r = 0; r < c->h.nregions; r++)
                    fprintf(stderr, " [%s %d,%d %dx%d q=%d d=%d]",
                            c->h.region[r].kind, c->h.region[r].x,
                            c->h.region[r].y, c->h.region[r].w,
                            c->h.region[r].h, c->h.region[r].quality,
                            scrim_pdq_distance(&c->h.region[r].dihedral[0],
                                               &o->pdq));
                fprintf(stderr, "\n");
            }
        }
        double n1 = x->n ? x->n : 1;
        printf("| %s | %d | %.1f%% | %.1f%% | %.1f%% | %d | %d | %.2f |\n", x->name,
               x->n, 100 * p / n1, 100 * s / n1, 100 * v / n1, median(dp, x->n),
               median(ds, x->n), nr / n1);
        if (df)
            fprintf(df, "%s %.1f %.1f %.1f\n", x->name, 100 * p / n1, 100 * s / n1,
                    100 * v / n1);
        if (t > 0) {
            tot += x->n;
            tp += p;
            ts += s;
            tv += v;
        }
        free(dp);
        free(ds);
    }
    double nt1 = tot ? tot : 1;
    printf("| **all copies** | %ld | %.1f%% | %.1f%% | %.1f%% | | | |\n\n", tot,
           100 * tp / nt1, 100 * ts / nt1, 100 * tv / nt1);
    if (df)
        fclose(df);
    /* false matches */
    printf("## False matches: every copy of A against the original of B (A != B)\n\n");
    printf("| transform | pairs | plain PDQ | min d | scrim | min d | scrim + variants | min d |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    long ap = 0, fp = 0, fs = 0, fv = 0;
    int mp = 256, ms = 256, mv = 256;
    for (int t = 0; t < nxf; t++) {
        xform *x = &xf[t];
        long pairs = 0, a = 0, b = 0, c2 = 0;
        int m1 = 256, m2 = 256, m3 = 256;
        for (int i = 0; i < x->n; i++)
            for (int j = 0; j < norig; j++) {
                if (j == x->c[i].oi)
                    continue;
                int d1 = scrim_pdq_distance(&x->c[i].h.pdq, &origs[j].pdq);
                int d2 = scrim_dist(&x->c[i].h, &origs[j], 0);
                int d3 = scrim_dist(&x->c[i].h, &origs[j], 1);
                pairs++;
                a += d1 <= radius, b += d2 <= radius, c2 += d3 <= radius;
                m1 = d1 < m1 ? d1 : m1, m2 = d2 < m2 ? d2 : m2, m3 = d3 < m3 ? d3 : m3;
            }
        printf("| %s | %ld | %ld | %d | %ld | %d | %ld | %d |\n", x->name, pairs, a,
               m1, b, m2, c2, m3);
        ap += pairs, fp += a, fs += b, fv += c2;
        mp = m1 < mp ? m1 : mp, ms = m2 < ms ? m2 : ms, mv = m3 < mv ? m3 : mv;
    }
    printf("| **all** | %ld | %ld | %d | %ld | %d | %ld | %d |\n", ap, fp, mp, fs,
           ms, fv, mv);
    return 0;
}
