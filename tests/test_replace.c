/* test_replace.c - import modes: a list of 100,000 entries replaced by a
 * file without 1,000 of them and with 500 new ones (exact counts; what went
 * is no longer found, what came is; lookups running meanwhile see the old
 * list or the new, never a mix), the entries' texts updated on the way;
 * remove mode; false positives. */
#include "testutil.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* n random hex digits into out (NUL-terminated). */
static void random_hex(char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        out[i] = digits[next64() >> 60];
    out[n] = '\0';
}

enum { N = 100000, NMD5 = 5000, NPDQ = N - NMD5,
       DROP_PDQ = 950, DROP_MD5 = 50, ADD_PDQ = 450, ADD_MD5 = 50,
       NQ = 100 };

typedef struct entry {
    char hex[65];
    int md5;
} entry;

/* The entries as pytx writes them (`threatexchange dataset -P`), every
 * tenth with a collab, category and tags; "tagged" changes the tags of the
 * first one (an update). */
static char *pytx_text(const entry *e, size_t n, int tagged, size_t *len)
{
    size_t cap = n * 140 + 64, o = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(t + o, cap - o, "%s %s", e[i].md5 ? "video_md5" : "pdq",
                              e[i].hex);
        if (i % 10 == 0)
            o += (size_t)snprintf(t + o, cap - o, " 'Sample Data' POSITIVE_CLASS %s",
                                  tagged && i == 0 ? "new,tags" : "t1,t2");
        t[o++] = '\n';
    }
    t[o] = '\0';
    *len = o;
    return t;
}

static int import(scrim_store *s, int mode, const char *text, size_t len,
                  scrim_import_stats *st)
{
    scrim_import_opts o = {0};
    char err[512];
    o.create = 1;
    o.mode = mode;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    o.source = mode == SCRIM_IMPORT_REPLACE ? "new.txt" : "old.txt";
    int rc = scrim_store_import_buffer(s, "l", &o, SCRIM_FORMAT_AUTO, text, len,
                                       st, err, sizeof err);
    if (rc)
        print_message("import: %s\n", err);
    return rc;
}

/* Queries of the PDQs that go (first NQ) and come (last NQ), looked up in
 * one read transaction again and again while the replace runs. */
typedef struct reader {
    scrim_store *s;
    scrim_pdq q[2 * NQ];
    atomic_int stop, rounds;
    int seen_old, seen_new, mixed, errors;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    char err[256];
    lo.radius = 0;
    while (!atomic_load(&r->stop)) {
        scrim_matches m = {0};
        if (scrim_store_lookup_pdq(r->s, r->q, 2 * NQ, &lo, &m, err, sizeof err)) {
            r->errors++;
            break;
        }
        int hit[2 * NQ] = {0}, old = 0, now = 0;
        for (size_t i = 0; i < m.n; i++)
            hit[m.v[i].query] = 1;
        for (int i = 0; i < NQ; i++) {
            old += hit[i];
            now += hit[NQ + i];
        }
        scrim_matches_free(&m);
        if (old == NQ && now == 0)
            r->seen_old++;
        else if (old == 0 && now == NQ)
            r->seen_new++;
        else
            r->mixed++;
        atomic_fetch_add(&r->rounds, 1);
    }
    return NULL;
}

static int found_pdq(scrim_store *s, const char *hex)
{
    scrim_pdq h;
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    char err[256];
    lo.radius = 0;
    assert_int_equal(scrim_pdq_from_hex(hex, 64, &h), 0);
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, &lo, &m, err, sizeof err), 0);
    int n = (int)m.n;
    scrim_matches_free(&m);
    return n;
}

static int found_md5(scrim_store *s, const char *hex)
{
    scrim_matches m = {0};
    char err[256];
    assert_int_equal(scrim_store_lookup_digest(s, SCRIM_HASH_MD5, hex, NULL, &m,
                                               err, sizeof err), 0);
    int n = (int)m.n;
    scrim_matches_free(&m);
    return n;
}

static void replace_100k(void **state)
{
    char *dir = test_temp_dir("replace");
    scrim_store *s = test_open_store(dir);
    scrim_import_stats st;
    /* the list: NPDQ PDQs then NMD5 MD5s, mixed; the new file leaves out
     * the first DROP_* of each kind and has ADD_* new ones at its end */
    entry *e = calloc(N + ADD_PDQ + ADD_MD5, sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < N + ADD_PDQ + ADD_MD5; i++) {
        e[i].md5 = i < N ? i % 20 == 7 : i >= N + ADD_PDQ;
        random_hex(e[i].hex, e[i].md5 ? 32 : 64);
    }
    size_t len;
    char *text = pytx_text(e, N, 0, &len);
    assert_int_equal(import(s, SCRIM_IMPORT_ADD, text, len, &st), 0);
    assert_int_equal(st.added[SCRIM_HASH_PDQ], NPDQ);
    assert_int_equal(st.added[SCRIM_HASH_MD5], NMD5);
    free(text);
    /* as scrimd: lookups through the hash cache */
    scrim_store_cache_stats cs;
    assert_int_equal(scrim_store_cache_hashes(s, NULL, NULL, &cs), 0);

    entry *ne = calloc(N + ADD_PDQ + ADD_MD5, sizeof *ne);
    reader *r = calloc(1, sizeof *r);
    assert_non_null(ne);
    assert_non_null(r);
    size_t nn = 0, dp = 0, dm = 0, nq_old = 0;
    r->s = s;
    for (size_t i = 0; i < N + ADD_PDQ + ADD_MD5; i++) {
        if (i < N && !e[i].md5 && dp < DROP_PDQ) {
            dp++;
            if (nq_old < NQ)
                scrim_pdq_from_hex(e[i].hex, 64, &r->q[nq_old++]);
            continue;
        }
        if (i < N && e[i].md5 && dm < DROP_MD5) {
            dm++;
            continue;
        }
        ne[nn++] = e[i];
    }
    assert_int_equal(nn, N - DROP_PDQ - DROP_MD5 + ADD_PDQ + ADD_MD5);
    for (size_t k = 0; k < NQ; k++)
        scrim_pdq_from_hex(e[N + k].hex, 64, &r->q[NQ + k]);
    text = pytx_text(ne, nn, 1, &len);

    pthread_t tid;
    pthread_create(&tid, NULL, read_loop, r);
    while (atomic_load(&r->rounds) < 3)
        usleep(1000);
    assert_int_equal(import(s, SCRIM_IMPORT_REPLACE, text, len, &st), 0);
    int at_commit = atomic_load(&r->rounds);
    while (atomic_load(&r->rounds) < at_commit + 3)
        usleep(1000);
    atomic_store(&r->stop, 1);
    pthread_join(tid, NULL);
    print_message("replace: added %llu, kept %llu (%llu updated), removed %llu; "
                  "lookups meanwhile: %d old, %d new, %d mixed\n",
                  (unsigned long long)st.added[0], (unsigned long long)st.kept[0],
                  (unsigned long long)st.updated, (unsigned long long)st.removed[0],
                  r->seen_old, r->seen_new, r->mixed);
    assert_int_equal(r->errors, 0);
    assert_int_equal(r->mixed, 0);
    assert_true(r->seen_old >= 3);
    assert_true(r->seen_new >= 3);

    assert_int_equal(st.added[SCRIM_HASH_PDQ], ADD_PDQ);
    assert_int_equal(st.added[SCRIM_HASH_MD5], ADD_MD5);
    assert_int_equal(st.kept[SCRIM_HASH_PDQ], NPDQ - DROP_PDQ);
    assert_int_equal(st.kept[SCRIM_HASH_MD5], NMD5 - DROP_MD5);
    assert_int_equal(st.removed[SCRIM_HASH_PDQ], DROP_PDQ);
    assert_int_equal(st.removed[SCRIM_HASH_MD5], DROP_MD5);
    assert_int_equal(st.removed[0], DROP_PDQ + DROP_MD5);
    assert_int_equal(st.duplicates[0], 0);
    assert_int_equal(st.updated, 1); /* the first entry's tags */

    scrim_list_info li;
    char err[256];
    assert_int_equal(scrim_store_list_get(s, "l", &li, err, sizeof err), 0);
    assert_int_equal(li.count, N - DROP_PDQ - DROP_MD5 + ADD_PDQ + ADD_MD5);
    assert_int_equal(li.md5, NMD5 - DROP_MD5 + ADD_MD5);
    assert_int_equal(li.nimports, 2);
    assert_string_equal(li.imports[0].source, "new.txt");
    assert_string_equal(li.imports[0].mode, "replace");
    assert_int_equal(li.imports[0].removed, DROP_PDQ + DROP_MD5);

    /* what went is not found, what came and stayed is (another handle, as
     * another process sees it) */
    scrim_store_close(s);
    s = test_open_store(dir);
    dp = dm = 0;
    for (size_t i = 0; i < N; i++) {
        int gone = e[i].md5 ? dm++ < DROP_MD5 : dp++ < DROP_PDQ;
        if (gone || i % 97 == 0) {
            int n = e[i].md5 ? found_md5(s, e[i].hex) : found_pdq(s, e[i].hex);
            if (n != !gone)
                fail_msg("entry %zu (%s): %d matches", i, gone ? "removed" : "kept", n);
        }
    }
    for (size_t i = N; i < N + ADD_PDQ + ADD_MD5; i++)
        assert_int_equal(e[i].md5 ? found_md5(s, e[i].hex) : found_pdq(s, e[i].hex), 1);
    /* the updated tags */
    scrim_pdq h;
    scrim_matches m = {0};
    scrim_pdq_from_hex(ne[0].hex, 64, &h);
    assert_false(ne[0].md5);
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.v[0].tags, "new tags");
    assert_string_equal(m.v[0].source, "Sample Data");
    scrim_matches_free(&m);

    /* the same file again: all kept, nothing else */
    assert_int_equal(import(s, SCRIM_IMPORT_REPLACE, text, len, &st), 0);
    assert_int_equal(st.added[0], 0);
    assert_int_equal(st.removed[0], 0);
    assert_int_equal(st.kept[0], nn);
    assert_int_equal(st.updated, 0);
    free(text);
    free(ne);
    free(e);
    free(r);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* Remove mode, false positives, a video entry replaced away, the same hash
 * said twice. */
static void modes_small(void **state)
{
    char *dir = test_temp_dir("replace");
    scrim_store *s = test_open_store(dir);
    scrim_import_stats st;
    const char *P1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    const char *P2 = "0000000000000000000000000000000000000000000000000000000000000001";
    const char *M1 = "d41d8cd98f00b204e9800998ecf8427e";
    char t[2048];

    snprintf(t, sizeof t,
             "pdq %s 'c' POSITIVE_CLASS\n"
             "pdq %s 'c' POSITIVE_CLASS\n"
             "vpdq [\"%s,100,0.0\", \"%s,100,1.0\"] 'c' POSITIVE_CLASS\n"
             "video_md5 %s\n", P1, P2, P1, P2, M1);
    assert_int_equal(import(s, SCRIM_IMPORT_ADD, t, strlen(t), &st), 0);
    assert_int_equal(st.added[0], 4);
    assert_int_equal(st.frames, 2);

    /* P2 said to be a false positive: removed, and not added back */
    snprintf(t, sizeof t, "pdq %s 'c' NEGATIVE_CLASS\npdq %s\n", P2, P1);
    assert_int_equal(import(s, SCRIM_IMPORT_ADD, t, strlen(t), &st), 0);
    assert_int_equal(st.negative, 1);
    assert_int_equal(st.removed[SCRIM_HASH_PDQ], 1);
    assert_int_equal(st.duplicates[0], 1);
    /* the video's frame P2 still matches (another entry) */
    assert_int_equal(found_pdq(s, P2), 1);

    /* replace: P1 twice (once kept, once a duplicate), the video and M1 go */
    snprintf(t, sizeof t, "pdq %s\npdq %s\n", P1, P1);
    assert_int_equal(import(s, SCRIM_IMPORT_REPLACE, t, strlen(t), &st), 0);
    assert_int_equal(st.kept[0], 1);
    assert_int_equal(st.duplicates[0], 1);
    assert_int_equal(st.removed[SCRIM_HASH_VIDEO], 1);
    assert_int_equal(st.removed[SCRIM_HASH_MD5], 1);
    assert_int_equal(found_pdq(s, P2), 0);
    assert_int_equal(found_md5(s, M1), 0);
    scrim_list_info li;
    char err[256];
    assert_int_equal(scrim_store_list_get(s, "l", &li, err, sizeof err), 0);
    assert_int_equal(li.count, 1);
    assert_int_equal(li.frames, 0);

    /* a false positive wins wherever it is in the input: P1 kept, then
     * marked; P2 marked, then listed */
    snprintf(t, sizeof t, "pdq %s\npdq %s 'c' NEGATIVE_CLASS\n"
             "pdq %s 'c' NEGATIVE_CLASS\npdq %s\n", P1, P1, P2, P2);
    assert_int_equal(import(s, SCRIM_IMPORT_REPLACE, t, strlen(t), &st), 0);
    assert_int_equal(st.negative, 3); /* the two marked, P2 listed after */
    assert_int_equal(st.kept[0], 0);
    assert_int_equal(st.added[0], 0);
    assert_int_equal(st.removed[0], 1);
    assert_int_equal(found_pdq(s, P1), 0);
    assert_int_equal(found_pdq(s, P2), 0);
    snprintf(t, sizeof t, "pdq %s\npdq %s 'c' NEGATIVE_CLASS\n", P1, P1);
    assert_int_equal(import(s, SCRIM_IMPORT_ADD, t, strlen(t), &st), 0);
    assert_int_equal(st.added[0], 0);
    assert_int_equal(st.removed[0], 0);
    assert_int_equal(st.negative, 1);
    snprintf(t, sizeof t, "pdq %s\n", P1);
    assert_int_equal(import(s, SCRIM_IMPORT_ADD, t, strlen(t), &st), 0);
    assert_int_equal(st.added[0], 1);

    /* remove mode: found once, then missing; a missing list is an error */
    snprintf(t, sizeof t, "%s\n%s\n%s\n", P1, P1, P2);
    assert_int_equal(import(s, SCRIM_IMPORT_REMOVE, t, strlen(t), &st), 0);
    assert_int_equal(st.removed[0], 1);
    assert_int_equal(st.missing, 2);
    assert_int_equal(found_pdq(s, P1), 0);
    scrim_import_opts o = {0};
    o.mode = SCRIM_IMPORT_REMOVE;
    o.create = 1;
    assert_int_equal(scrim_store_import_buffer(s, "nolist", &o, SCRIM_FORMAT_AUTO,
                                               t, strlen(t), &st, err, sizeof err),
                     SCRIM_ENOTFOUND);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replace_100k),
        cmocka_unit_test(modes_small),
    };
    return RUN_TESTS("test_replace", tests);
}
