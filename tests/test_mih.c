/* test_mih.c - the index's run filters (mih_scan.c): every kernel this CPU
 * runs (C, POPCNT, AVX2, AVX-512) lists the same candidates as a plain
 * word-by-word count, for every record width, run length and limit; and a
 * store queried through each kernel answers exactly what brute force
 * does, on data whose index runs are long (the vector kernels' full
 * blocks) as well as short (their tails). */
#include "testutil.h"
#include "pdq_random.h"
#include "index/mih_scan.h"

#include <ftw.h>

static uint64_t rng = 0x5eed0f3a11ce5ULL;

/* The reference: count differing bits word by word. */
static uint32_t scan_reference(const uint8_t *p, uint32_t n, int np,
                               const uint16_t *qw, int limit, uint32_t *out)
{
    uint32_t c = 0;
    for (uint32_t k = 0; k < n; k++) {
        int d = 0;
        for (int j = 0; j < np; j++) {
            uint16_t w;
            memcpy(&w, p + (2 * (size_t)np * k) + 2 * (size_t)j, 2);
            d += __builtin_popcount((unsigned)(w ^ qw[j]));
        }
        if (d <= limit)
            out[c++] = k;
    }
    return c;
}

/* Records near the query (so that every limit keeps some and drops some):
 * each record is the query's words with 0..(16 np) random bits flipped,
 * sometimes none. */
static void fill_run(uint8_t *p, uint32_t n, int np, const uint16_t *qw)
{
    for (uint32_t k = 0; k < n; k++) {
        uint16_t w[6];
        memcpy(w, qw, sizeof w);
        uint64_t r = pdq_random_next(&rng);
        int flips = (int)(r % 4 == 0 ? 0 : r % (16 * (uint64_t)np + 1));
        for (int f = 0; f < flips; f++) {
            int b = (int)(pdq_random_next(&rng) % (16 * (uint64_t)np));
            w[b / 16] ^= (uint16_t)(1u << (b % 16));
        }
        memcpy(p + 2 * (size_t)np * k, w, 2 * (size_t)np);
    }
}

static void kernels_equal_reference(void **state)
{
    static const uint32_t lens[] = {0,  1,  2,  3,  4,  5,  7,  8,   9,   15,  16,
                                    17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000};
    size_t tested = 0;
    mih_scan_fn fns[MIH_SCAN_KINDS];
    for (int kind = 0; kind < MIH_SCAN_KINDS; kind++) {
        fns[kind] = mih__scan_kernel(kind);
        print_message("kernel %s: %s\n", mih__scan_name(kind),
                      fns[kind] ? "runs here" : "not supported by this CPU");
    }
    assert_non_null(fns[MIH_SCAN_GENERIC]);
    for (int np = 2; np <= 6; np++) {
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            uint32_t n = lens[li];
            for (int shift = 0; shift < 4; shift += 2) {
                /* exactly the run's words and refs (4 bytes a record), at an
                 * even but not 4-aligned address half of the time: the
                 * sanitizer build catches a read past the contract */
                size_t bytes = (size_t)n * (2 * (size_t)np + 4);
                uint8_t *mem = malloc(bytes + (size_t)shift + 1);
                uint8_t *p = mem + shift;
                uint16_t qw[6] = {0};
                for (int j = 0; j < np; j++)
                    qw[j] = (uint16_t)pdq_random_next(&rng);
                fill_run(p, n, np, qw);
                memset(p + (size_t)n * 2 * (size_t)np, 0xa5, 4 * (size_t)n);
                uint64_t qa = 0, qb = 0;
                memcpy(&qa, qw, np >= 4 ? 8 : 2 * (size_t)np);
                if (np > 4)
                    memcpy(&qb, qw + 4, 2 * ((size_t)np - 4));
                uint32_t *want = malloc((n + 1) * sizeof *want);
                uint32_t *got = malloc((n + 1) * sizeof *got);
                for (int limit = 0; limit <= 16 * np + 1; limit++) {
                    uint32_t nw = scan_reference(p, n, np, qw, limit, want);
                    for (int kind = 0; kind < MIH_SCAN_KINDS; kind++) {
                        if (!fns[kind])
                            continue;
                        uint32_t ng = fns[kind](p, n, np, qa, qb, limit, got);
                        if (ng != nw || (nw && memcmp(got, want, nw * sizeof *got)))
                            fail_msg("kernel %s, np %d, n %u, limit %d: %u "
                                     "candidates, reference %u",
                                     mih__scan_name(kind), np, n, limit, ng, nw);
                        tested++;
                    }
                }
                free(want);
                free(got);
                free(mem);
            }
        }
    }
    print_message("%zu runs filtered, all equal to the reference\n", tested);
}

static void env_picks_kernel(void **state)
{
    int best = mih__scan_best();
    assert_non_null(mih__scan_kernel(best));
    for (int kind = best + 1; kind < MIH_SCAN_KINDS; kind++)
        assert_null(mih__scan_kernel(kind)); /* best is the fastest */
    setenv("SCRIM_MIH_SCAN", "generic", 1);
    assert_int_equal(mih__scan_best(), MIH_SCAN_GENERIC);
    setenv("SCRIM_MIH_SCAN", "no-such-kernel", 1);
    assert_int_equal(mih__scan_best(), best); /* ignored */
    unsetenv("SCRIM_MIH_SCAN");
    assert_int_equal(mih__scan_use(MIH_SCAN_KINDS), SCRIM_EINVAL);
    assert_int_equal(mih__scan_use(-1), SCRIM_EINVAL);
}

/* ---- a store queried through each kernel -------------------------------------- */

/* Hashes whose words come from a few values (so each probed run holds
 * hundreds of records), half of them within 0..40 of a query center. */
#define NHASH 12000
#define NCENTER 30
#define ALPHABET 24

static void word_alphabet_hash(uint16_t *alpha, scrim_pdq *h)
{
    for (int i = 0; i < 16; i++)
        h->w[i] = alpha[pdq_random_next(&rng) % ALPHABET];
}

static int pdq_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(scrim_pdq));
}

/* A neighbour of h whose first word within 1 bit of h's (radius 31's
 * pigeonhole) is at `pos` when extra is small: 2 bits flipped in each
 * word before pos, `extra` bits among the others.  Hits are then found
 * through runs of every position (every record width). */
static void flip_from(scrim_pdq *h, int pos, int extra)
{
    for (int j = 0; j < pos; j++) {
        int a = (int)(pdq_random_next(&rng) % 16), b;
        do
            b = (int)(pdq_random_next(&rng) % 16);
        while (b == a);
        h->w[j] ^= (uint16_t)(1u << a | 1u << b);
    }
    int room = 16 * (16 - pos);
    if (extra > room)
        extra = room;
    uint8_t used[256] = {0};
    while (extra > 0) {
        int b = (int)(pdq_random_next(&rng) % (uint64_t)room);
        if (used[b])
            continue;
        used[b] = 1;
        h->w[pos + b / 16] ^= (uint16_t)(1u << (b % 16));
        extra--;
    }
}

static void store_exact_with_each_kernel(void **state)
{
    char dir[] = "/tmp/scrim-test-mih-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint16_t alpha[ALPHABET];
    for (int i = 0; i < ALPHABET; i++)
        alpha[i] = (uint16_t)pdq_random_next(&rng);
    scrim_pdq *h = malloc(NHASH * sizeof *h), q[2 * NCENTER];
    for (int c = 0; c < NCENTER; c++)
        word_alphabet_hash(alpha, &q[c]);
    for (size_t i = 0; i < NHASH; i++) {
        if (i % 2) {
            word_alphabet_hash(alpha, &h[i]);
        } else if (i % 4) {
            h[i] = q[i / 2 % NCENTER];
            pdq_random_flip(&rng, &h[i], (int)(pdq_random_next(&rng) % 41));
        } else {
            h[i] = q[i / 2 % NCENTER];
            int pos = (int)(pdq_random_next(&rng) % 16);
            flip_from(&h[i], pos, (int)(pdq_random_next(&rng) % (41 - 2 * pos + 20)));
        }
    }
    /* the store keeps one of each: keep them distinct */
    qsort(h, NHASH, sizeof *h, pdq_cmp);
    size_t n = 0;
    for (size_t i = 0; i < NHASH; i++)
        if (!n || memcmp(&h[i], &h[n - 1], sizeof *h))
            h[n++] = h[i];
    for (int c = NCENTER; c < 2 * NCENTER; c++)
        word_alphabet_hash(alpha, &q[c]); /* random, same alphabet */

    scrim_store *s;
    char err[256];
    scrim_store_opts so = {0};
    so.create = 1;
    if (scrim_store_open(dir, &so, &s, err, sizeof err))
        fail_msg("open: %s", err);
    scrim_import_opts io = {0};
    io.create = 1;
    io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    scrim_import *imp;
    if (scrim_import_begin(s, "l", &io, &imp, err, sizeof err))
        fail_msg("import: %s", err);
    for (size_t i = 0; i < n; i++) {
        scrim_entry e = {.type = SCRIM_HASH_PDQ, .hash = &h[i], .quality = -1};
        if (scrim_import_add(imp, &e, err, sizeof err))
            fail_msg("import add: %s", err);
    }
    if (scrim_import_commit(imp, NULL, err, sizeof err))
        fail_msg("commit: %s", err);

    static const int radii[] = {0, 10, 31, 48};
    int *dist = malloc(NHASH * sizeof *dist);
    size_t total = 0;
    for (int kind = 0; kind < MIH_SCAN_KINDS; kind++) {
        if (mih__scan_use(kind))
            continue; /* not on this CPU */
        for (size_t r = 0; r < sizeof radii / sizeof *radii; r++) {
            for (int c = 0; c < 2 * NCENTER; c++) {
                if (radii[r] > 40 && c % 4)
                    continue; /* the index is slow there: fewer queries */
                scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
                lo.radius = radii[r];
                lo.method = SCRIM_LOOKUP_INDEX;
                scrim_matches m = {0};
                if (scrim_store_lookup_pdq(s, &q[c], 1, &lo, &m, err, sizeof err))
                    fail_msg("lookup: %s", err);
                /* each hit is a stored hash at its distance, once */
                size_t want = 0;
                for (size_t i = 0; i < n; i++) {
                    dist[i] = scrim_pdq_distance(&q[c], &h[i]);
                    want += dist[i] <= radii[r];
                }
                for (size_t k = 0; k < m.n; k++) {
                    scrim_pdq g;
                    assert_int_equal(scrim_pdq_from_hex(m.v[k].hash, 64, &g), 0);
                    size_t i = 0;
                    while (i < n && memcmp(&g, &h[i], sizeof g))
                        i++;
                    if (i == n || dist[i] != m.v[k].distance || dist[i] > radii[r])
                        fail_msg("kernel %s radius %d query %d: hit %zu is wrong",
                                 mih__scan_name(kind), radii[r], c, k);
                    dist[i] = 1000; /* reported: a second report fails */
                }
                if (m.n != want)
                    fail_msg("kernel %s radius %d query %d: %zu hits, brute force %zu",
                             mih__scan_name(kind), radii[r], c, m.n, want);
                total += m.n;
                scrim_matches_free(&m);
            }
        }
        print_message("kernel %s: every query equals brute force (%zu hits so far)\n",
                      mih__scan_name(kind), total);
    }
    assert_int_equal(mih__scan_use(mih__scan_best()), 0);
    assert_true(total > n / 2); /* the centers' neighbours were found */
    free(dist);
    free(h);
    scrim_store_close(s);
    test_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernels_equal_reference),
        cmocka_unit_test(env_picks_kernel),
        cmocka_unit_test(store_exact_with_each_kernel),
    };
    return RUN_TESTS("test_mih", tests);
}
