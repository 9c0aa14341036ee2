/* test_store.c - the hash-list store: index results equal a brute-force
 * scan (planted neighbours at distances 0-31, radii 0/10/31/40/48/64),
 * with and without the hash cache,
 * after imports in several batches and after removals; import formats and
 * their errors; atomicity; video entries; other processes and threads. */
#include "testutil.h"
#include "pdq_random.h"
#include "index/index.h" /* the hash cache test reads an old snapshot */

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

/* The state of the test data's random sequence (pdq_random.h). */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void import_pdqs(scrim_store *s, const char *list, const scrim_pdq *h,
                        size_t n, size_t flush_every, int radius)
{
    scrim_import_opts o = {0};
    o.create = 1;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    o.list.radius = radius;
    o.flush_every = flush_every;
    scrim_import *imp;
    char err[256];
    int rc = scrim_import_begin(s, list, &o, &imp, err, sizeof err);
    if (rc)
        fail_msg("import begin: %s", err);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "id%zu", i);
        scrim_entry e = {.type = SCRIM_HASH_PDQ, .hash = &h[i], .id = id, .quality = -1};
        if ((rc = scrim_import_add(imp, &e, err, sizeof err)))
            fail_msg("import add: %s", err);
    }
    if ((rc = scrim_import_commit(imp, NULL, err, sizeof err)))
        fail_msg("import commit: %s", err);
}

static uint64_t list_count(scrim_store *s, const char *list)
{
    scrim_list_info li;
    char err[256];
    if (scrim_store_list_get(s, list, &li, err, sizeof err))
        return (uint64_t)-1;
    return li.count;
}

/* A result key for set comparison: list id letter + hash + distance. */
typedef struct hit {
    char list;
    scrim_pdq h;
    int d;
} hit;

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->list != y->list)
        return x->list - y->list;
    int c = memcmp(&x->h, &y->h, sizeof x->h);
    return c ? c : x->d - y->d;
}

/* The database's data, kept in memory for brute force. */
typedef struct model {
    scrim_pdq *a, *b;       /* list "a" and list "b" */
    size_t na, nb;
    int ra, rb;             /* radii */
    char *dead_a;           /* removed from a */
} model;

static size_t brute(const model *m, const scrim_pdq *q, int radius, hit *out)
{
    size_t n = 0;
    for (int l = 0; l < 2; l++) {
        const scrim_pdq *v = l ? m->b : m->a;
        size_t nv = l ? m->nb : m->na;
        int r = radius >= 0 ? radius : (l ? m->rb : m->ra);
        for (size_t i = 0; i < nv; i++) {
            if (!l && m->dead_a && m->dead_a[i])
                continue;
            int d = scrim_pdq_distance(q, &v[i]);
            if (d <= r) {
                out[n].list = l ? 'b' : 'a';
                out[n].h = v[i];
                out[n].d = d;
                n++;
            }
        }
    }
    qsort(out, n, sizeof *out, hit_cmp);
    return n;
}

static size_t via_store(scrim_store *s, const scrim_pdq *q, int radius,
                        int method, hit *out)
{
    scrim_matches m = {0};
    scrim_lookup_opts o = SCRIM_LOOKUP_OPTS_DEFAULT;
    o.radius = radius;
    o.method = method;
    char err[256];
    int rc = scrim_store_lookup_pdq(s, q, 1, &o, &m, err, sizeof err);
    if (rc)
        fail_msg("lookup: %s", err);
    for (size_t i = 0; i < m.n; i++) {
        out[i].list = m.v[i].list[0];
        assert_int_equal(scrim_pdq_from_hex(m.v[i].hash, 64, &out[i].h), 0);
        out[i].d = m.v[i].distance;
        if (i)
            assert_true(m.v[i - 1].distance <= m.v[i].distance);
    }
    size_t n = m.n;
    scrim_matches_free(&m);
    qsort(out, n, sizeof *out, hit_cmp);
    return n;
}

/* Compare index (and scan) against brute force for the queries. */
static void check_exact(scrim_store *s, const model *m, const scrim_pdq *q,
                        size_t nq, const int *radii, size_t nr, size_t *total)
{
    size_t cap = m->na + m->nb;
    hit *want = malloc(cap * sizeof *want), *got = malloc(cap * sizeof *got);
    for (size_t r = 0; r < nr; r++) {
        for (size_t i = 0; i < nq; i++) {
            size_t nw = brute(m, &q[i], radii[r], want);
            int methods[2] = {SCRIM_LOOKUP_INDEX, SCRIM_LOOKUP_AUTO};
            for (int k = 0; k < 2; k++) {
                /* the slow index probes at large radii: check fewer queries */
                if (radii[r] > 40 && k == 0 && i % 8)
                    continue;
                size_t ng = via_store(s, &q[i], radii[r], methods[k], got);
                int same = ng == nw;
                for (size_t j = 0; same && j < nw; j++)
                    same = !hit_cmp(&got[j], &want[j]);
                if (!same)
                    fail_msg("radius %d query %zu method %d: got %zu hits, "
                             "brute force %zu", radii[r], i, methods[k], ng, nw);
            }
            *total += nw;
        }
        /* all the queries in one call (from LOOKUP_BATCH_MIN on, the
         * batch's sorted probes), and 6 copies of them with a helper
         * thread (from LOOKUP_SPLIT_MIN on): each query's hits as brute
         * force's (the copies only where the index is quick, r <= 40) */
        size_t rep = radii[r] <= 40 ? 6 : 1, nb[2] = {nq, nq * rep};
        scrim_pdq *qq = malloc(nb[1] * sizeof *qq);
        for (size_t i = 0; i < nb[1]; i++)
            qq[i] = q[i % nq];
        scrim_matches bm[2] = {{0}, {0}};
        for (int k = 0; k < 2; k++) {
            scrim_lookup_opts o = SCRIM_LOOKUP_OPTS_DEFAULT;
            o.radius = radii[r];
            o.method = SCRIM_LOOKUP_INDEX;
            o.threads = k ? 2 : 1;
            char err[256];
            if (scrim_store_lookup_pdq(s, qq, nb[k], &o, &bm[k], err,
                                       sizeof err))
                fail_msg("batch lookup: %s", err);
        }
        size_t at[2] = {0, 0}, *off = malloc((nq + 1) * sizeof *off);
        for (size_t i = 0; i < nq; i++) {
            size_t nw = brute(m, &q[i], radii[r], want), ng = 0, a = at[0];
            off[i] = a;
            for (; a < bm[0].n && bm[0].v[a].query == i; a++, ng++) {
                got[ng].list = bm[0].v[a].list[0];
                assert_int_equal(scrim_pdq_from_hex(bm[0].v[a].hash, 64,
                                                    &got[ng].h), 0);
                got[ng].d = bm[0].v[a].distance;
            }
            at[0] = off[i + 1] = a;
            qsort(got, ng, sizeof *got, hit_cmp);
            int same = ng == nw;
            for (size_t j = 0; same && j < nw; j++)
                same = !hit_cmp(&got[j], &want[j]);
            if (!same)
                fail_msg("radius %d batch of %zu, query %zu: got %zu hits, "
                         "brute force %zu", radii[r], nq, i, ng, nw);
        }
        /* the copies: the same hits (sorted alike) as the batch above */
        for (size_t i = 0; i < nb[1]; i++) {
            const scrim_match *w = bm[0].v + off[i % nq];
            size_t nw = off[i % nq + 1] - off[i % nq];
            for (size_t j = 0; j < nw; j++, at[1]++) {
                const scrim_match *g = &bm[1].v[at[1]];
                if (at[1] >= bm[1].n || g->query != i || g->ref != w[j].ref ||
                    g->distance != w[j].distance || strcmp(g->hash, w[j].hash))
                    fail_msg("radius %d batch of %zu with a helper thread, "
                             "query %zu: hit %zu differs", radii[r], nb[1],
                             i, j);
            }
        }
        free(off);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(at[k], bm[k].n);
            scrim_matches_free(&bm[k]);
        }
        free(qq);
    }
    free(want);
    free(got);
}

/* ---- exactness ------------------------------------------------------------------ */

#define NRAND 30000
#define NCENTER 150

static void build_model(model *m, scrim_pdq *centers)
{
    m->na = NRAND + NCENTER * 32;
    m->a = malloc(m->na * sizeof *m->a);
    size_t n = 0;
    for (size_t i = 0; i < NRAND; i++)
        pdq_random_hash(&rng, &m->a[n++]);
    for (size_t c = 0; c < NCENTER; c++) {
        pdq_random_hash(&rng, &centers[c]);
        for (int d = 0; d < 32; d++) {
            m->a[n] = centers[c];
            pdq_random_flip(&rng, &m->a[n++], d);
        }
    }
    /* list b: a few hundred more near the centers, its own radius */
    m->nb = NCENTER * 4;
    m->b = malloc(m->nb * sizeof *m->b);
    for (size_t i = 0; i < m->nb; i++) {
        /* distinct within the list (the store keeps one of each) */
        int dup;
        do {
            m->b[i] = centers[i % NCENTER];
            pdq_random_flip(&rng, &m->b[i], (int)(pdq_random_next(&rng) % 40));
            dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = !memcmp(&m->b[i], &m->b[j], sizeof m->b[i]);
        } while (dup);
    }
    m->ra = 31;
    m->rb = 12;
    m->dead_a = NULL;
}

/* Remove every third planted neighbour of list a (marked dead in m), as
 * hex values through scrim_store_remove; returns how many. */
static size_t remove_third(scrim_store *s, model *m)
{
    m->dead_a = calloc(m->na, 1);
    const char **vals = malloc(m->na * sizeof *vals);
    char (*hex)[65] = malloc(m->na * sizeof *hex);
    size_t nv = 0;
    for (size_t i = NRAND; i < m->na; i += 3) {
        scrim_pdq_to_hex(&m->a[i], hex[nv]);
        vals[nv] = hex[nv];
        nv++;
        m->dead_a[i] = 1;
    }
    /* the same value may have been planted twice (distance 0 of a center
     * equals nothing else in practice); count what the store removed */
    uint64_t removed, missing;
    char err[256];
    assert_int_equal(scrim_store_remove(s, "a", vals, nv, &removed, &missing,
                                        err, sizeof err), 0);
    assert_int_equal(removed, nv);
    assert_int_equal(missing, 0);
    free(vals);
    free(hex);
    return nv;
}

static void model_free(model *m)
{
    free(m->dead_a);
    free(m->a);
    free(m->b);
}

/* The queries: the centers (neighbours at 0..31), near-centers, random;
 * returns how many (at most 2 * NCENTER). */
static size_t build_queries(const scrim_pdq *centers, scrim_pdq *q)
{
    size_t nq = 0;
    for (size_t c = 0; c < NCENTER / 2; c++)
        q[nq++] = centers[c];
    for (size_t c = NCENTER / 2; c < NCENTER; c++) {
        q[nq] = centers[c];
        pdq_random_flip(&rng, &q[nq++], (int)(pdq_random_next(&rng) % 12));
    }
    for (size_t c = 0; c < 40; c++)
        pdq_random_hash(&rng, &q[nq++]);
    return nq;
}

static int stop_now(void *arg)
{
    (void)arg;
    return 1;
}

/* Lookups equal brute force; with `cache`, through the hash cache
 * (scrim_store_cache_hashes), filled after the first import: for hashes
 * cached by that fill, added after it (imports through the same handle
 * extend it), removed or dropped after it. */
static void exactness(int cache)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    model m;
    scrim_pdq centers[NCENTER], q[2 * NCENTER];
    build_model(&m, centers);
    /* several flushes in one import, and a second import into the list */
    import_pdqs(s, "a", m.a, m.na / 2, 4096, 31);
    scrim_store_cache_stats cs;
    if (cache) {
        assert_int_equal(scrim_store_cache_hashes(s, stop_now, NULL, &cs), 0);
        assert_true(cs.stopped);
        assert_int_equal(cs.added, 0);
        assert_int_equal(scrim_store_cache_hashes(s, NULL, NULL, &cs), 0);
        assert_false(cs.stopped);
        assert_int_equal(cs.hashes, list_count(s, "a"));
        assert_true(cs.bytes >= cs.hashes * sizeof(scrim_pdq));
    }
    import_pdqs(s, "a", m.a + m.na / 2, m.na - m.na / 2, 0, 31);
    import_pdqs(s, "b", m.b, m.nb, 0, 12);
    if (cache) {
        assert_int_equal(scrim_store_cache_hashes(s, NULL, NULL, &cs), 0);
        assert_int_equal(cs.added, 0);
        assert_int_equal(cs.hashes, list_count(s, "a") + list_count(s, "b"));
    }
    size_t nq = build_queries(centers, q);
    static const int radii[] = {0, 10, 31, 40, 48, 64, -1};
    size_t total = 0;
    check_exact(s, &m, q, nq, radii, sizeof radii / sizeof *radii, &total);
    print_message("%zu queries x %zu radii: %zu hits, all equal to brute force\n",
                  nq, sizeof radii / sizeof *radii, total);
    assert_true(total > (size_t)NCENTER * 32);

    /* remove a third of list a's planted neighbours, check again */
    size_t nv = remove_third(s, &m);
    char err[256];
    total = 0;
    static const int radii2[] = {0, 31, 48};
    check_exact(s, &m, q, nq, radii2, 3, &total);
    scrim_list_info li;
    assert_int_equal(scrim_store_list_get(s, "a", &li, err, sizeof err), 0);
    assert_int_equal(li.pdq, m.na - nv);

    /* dropping b removes its hits */
    uint64_t dropped;
    assert_int_equal(scrim_store_list_drop(s, "b", &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, m.nb);
    m.nb = 0;
    check_exact(s, &m, q, 40, radii2, 3, &total);

    model_free(&m);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

static void index_equals_brute_force(void **state)
{
    exactness(0);
}

static void hash_cache_equals_brute_force(void **state)
{
    exactness(1);
}

/* ---- import formats ----------------------------------------------------------------- */

static const char *P1 =
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
static const char *P2 =
    "0000000000000000000000000000000000000000000000000000000000000001";
static const char *M1 = "d41d8cd98f00b204e9800998ecf8427e";
static const char *S1 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static int import_text(scrim_store *s, const char *list, int format,
                       const char *text, scrim_import_stats *st, char *err,
                       size_t errlen)
{
    scrim_import_opts o = {0};
    o.create = 1;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    return scrim_store_import_buffer(s, list, &o, format, text, strlen(text),
                                     st, err, errlen);
}

static void formats_parse(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    scrim_import_stats st;
    char err[512], text[2048];

    snprintf(text, sizeof text, "# comment\n\n%s\r\n  %s  \n%s\n", P1, P2, P1);
    assert_int_equal(import_text(s, "hex", SCRIM_FORMAT_AUTO, text, &st, err,
                                 sizeof err), 0);
    assert_int_equal(st.added[SCRIM_HASH_PDQ], 2);
    assert_int_equal(st.duplicates[SCRIM_HASH_PDQ], 1);

    snprintf(text, sizeof text, "pdq %s\nmd5 %s\nsha256 %s\nmd5 %s\n", P1, M1,
             S1, M1);
    assert_int_equal(import_text(s, "pytx", SCRIM_FORMAT_AUTO, text, &st, err,
                                 sizeof err), 0);
    assert_int_equal(st.added[0], 3);
    assert_int_equal(st.duplicates[SCRIM_HASH_MD5], 1);

    snprintf(text, sizeof text,
             "extra,hash,label,id,quality,type\n"
             "x,%s,\"a, \"\"quoted\"\" label\",c1,90,pdq\n"
             "y,%s,,,,\n"
             "z,%s,plain,,,sha256\n", P1, M1, S1);
    assert_int_equal(import_text(s, "csv", SCRIM_FORMAT_AUTO, text, &st, err,
                                 sizeof err), 0);
    assert_int_equal(st.added[SCRIM_HASH_PDQ], 1);
    assert_int_equal(st.added[SCRIM_HASH_MD5], 1);
    assert_int_equal(st.added[SCRIM_HASH_SHA256], 1);

    /* the CSV label and id come back from a lookup */
    scrim_pdq h;
    scrim_pdq_from_hex(P1, 64, &h);
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    const char *only[] = {"csv"};
    lo.lists = only;
    lo.nlists = 1;
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, &lo, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.v[0].label, "a, \"quoted\" label");
    assert_string_equal(m.v[0].id, "c1");
    assert_int_equal(m.v[0].quality, 90);
    scrim_matches_free(&m);
    assert_int_equal(scrim_store_lookup_digest(s, SCRIM_HASH_SHA256, S1, &lo, &m,
                                               err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.v[0].label, "plain");
    scrim_matches_free(&m);

    snprintf(text, sizeof text, "%s\n%s\n", M1, M1);
    assert_int_equal(import_text(s, "md5", SCRIM_FORMAT_MD5, text, &st, err,
                                 sizeof err), 0);
    assert_int_equal(st.added[SCRIM_HASH_MD5], 1);
    snprintf(text, sizeof text, "%s\n", S1);
    assert_int_equal(import_text(s, "sha", SCRIM_FORMAT_SHA256, text, &st, err,
                                 sizeof err), 0);
    assert_int_equal(st.added[SCRIM_HASH_SHA256], 1);

    /* errors name the line and leave the list as it was */
    struct {
        int format;
        const char *text, *want;
        uint64_t line;
    } bad[] = {
        {SCRIM_FORMAT_HEX, "%s\n#\nnot-a-hash\n", "hex digits", 3},
        {SCRIM_FORMAT_HEX, "%s\nabc\n", "hex digits", 2},
        {SCRIM_FORMAT_PYTX, "%s\npdq\n", "expected 'TYPE SIGNAL'", 2},
        {SCRIM_FORMAT_PYTX, "pdq %s\npdq abc\n", "hex digits", 2},
        {SCRIM_FORMAT_PYTX, "vpdq [\"%s,100\"]\n", "vpdq frame 0", 1},
        {SCRIM_FORMAT_CSV, "id,label\n%s\n", "no 'hash' or 'signal_str' column", 1},
        {SCRIM_FORMAT_CSV, "hash,quality\n%s,101\n", "quality", 2},
        {SCRIM_FORMAT_CSV, "hash,label\n%s,\"open\n", "unterminated quote", 2},
        {SCRIM_FORMAT_AUTO, "hello world\n", "cannot tell the format", 1},
        {SCRIM_FORMAT_MD5, "%s\n", "md5 of 32 hex digits", 1},
    };
    uint64_t before = list_count(s, "hex");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char t[512];
        snprintf(t, sizeof t, bad[i].text, P2);
        memset(&st, 0, sizeof st);
        int rc = import_text(s, "hex", bad[i].format, t, &st, err, sizeof err);
        assert_int_equal(rc, SCRIM_EINVAL);
        if (!strstr(err, bad[i].want) || st.error_line != bad[i].line)
            fail_msg("case %zu: got '%s' at line %llu", i, err,
                     (unsigned long long)st.error_line);
        char where[32];
        snprintf(where, sizeof where, "body:%llu:", (unsigned long long)bad[i].line);
        assert_non_null(strstr(err, where));
        assert_int_equal(list_count(s, "hex"), before);
    }
    /* a list that does not exist is not created by a failed import */
    assert_int_equal(import_text(s, "newlist", SCRIM_FORMAT_HEX, "zz\n", &st,
                                 err, sizeof err), SCRIM_EINVAL);
    assert_int_equal(list_count(s, "newlist"), (uint64_t)-1);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* A malformed line after many good ones aborts everything (one txn), with
 * batches already merged into the index. */
static void bad_line_aborts_everything(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    scrim_pdq h[3];
    for (int i = 0; i < 3; i++)
        pdq_random_hash(&rng, &h[i]);
    import_pdqs(s, "l", h, 3, 0, 31);
    size_t n = 50001;
    char *text = malloc(n * 66 + 64), *p = text;
    scrim_pdq first;
    for (size_t i = 0; i < n - 1; i++) {
        scrim_pdq x;
        pdq_random_hash(&rng, &x);
        if (!i)
            first = x;
        scrim_pdq_to_hex(&x, p);
        p[64] = '\n';
        p += 65;
    }
    strcpy(p, "0123\n");
    scrim_import_opts o = {0};
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    o.flush_every = 8192;
    scrim_import_stats st;
    char err[256];
    int rc = scrim_store_import_buffer(s, "l", &o, SCRIM_FORMAT_HEX, text,
                                       strlen(text), &st, err, sizeof err);
    assert_int_equal(rc, SCRIM_EINVAL);
    assert_int_equal(st.error_line, n);
    assert_non_null(strstr(err, "body:50001:"));
    assert_int_equal(list_count(s, "l"), 3);
    scrim_matches m = {0};
    assert_int_equal(scrim_store_lookup_pdq(s, &first, 1, NULL, &m, err,
                                            sizeof err), 0);
    for (size_t i = 0; i < m.n; i++)
        assert_true(m.v[i].distance > 0);
    scrim_matches_free(&m);
    /* An import past its caller's deadline (a request timed out) stops
     * within 1024 entries and is aborted the same way. */
    *p = '\0';
    o.deadline = scrim_now() - 1;
    rc = scrim_store_import_buffer(s, "l", &o, SCRIM_FORMAT_HEX, text,
                                   strlen(text), &st, err, sizeof err);
    assert_int_equal(rc, SCRIM_ETIMEOUT);
    assert_non_null(strstr(err, "import stopped at the deadline"));
    assert_true(st.lines <= 1024);
    assert_int_equal(list_count(s, "l"), 3);
    free(text);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* ---- lists, video entries, audit ------------------------------------------------------ */

static void lists_and_video(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    char err[256];
    scrim_list_params p = SCRIM_LIST_PARAMS_KEEP;
    p.kind = SCRIM_LIST_ALLOW;
    p.radius = 5;
    assert_int_equal(scrim_store_list_create(s, "ok", &p, err, sizeof err), 0);
    assert_int_equal(scrim_store_list_create(s, "ok", &p, err, sizeof err),
                     SCRIM_EEXIST);
    assert_int_equal(scrim_store_list_create(s, "bad name", &p, err, sizeof err),
                     SCRIM_EINVAL);
    p.radius = 65;
    assert_int_equal(scrim_store_list_set(s, "ok", &p, err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_store_list_set(s, "nope", NULL, err, sizeof err),
                     SCRIM_ENOTFOUND);

    /* a video entry of 50 frames in list v, an image near frame 7 in "ok" */
    scrim_store_frame fr[50];
    for (int i = 0; i < 50; i++) {
        pdq_random_hash(&rng, &fr[i].hash);
        fr[i].quality = 60 + i % 40;
        fr[i].seconds = i * 0.5;
    }
    scrim_import_opts o = {0};
    o.create = 1;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    scrim_import *imp;
    assert_int_equal(scrim_import_begin(s, "v", &o, &imp, err, sizeof err), 0);
    assert_int_equal(scrim_import_add_video(imp, "clip-1", "a label", fr, 50,
                                            err, sizeof err), 0);
    assert_int_equal(scrim_import_add_video(imp, "clip-1", NULL, fr, 50, err,
                                            sizeof err), 0); /* duplicate */
    scrim_import_stats st;
    assert_int_equal(scrim_import_commit(imp, &st, err, sizeof err), 0);
    assert_int_equal(st.added[SCRIM_HASH_VIDEO], 1);
    assert_int_equal(st.duplicates[SCRIM_HASH_VIDEO], 1);
    assert_int_equal(st.frames, 50);
    scrim_pdq near = fr[7].hash;
    pdq_random_flip(&rng, &near, 3);
    scrim_pdq q[2] = {near, fr[20].hash};
    assert_int_equal(scrim_import_begin(s, "ok", NULL, &imp, err, sizeof err), 0);
    scrim_entry e = {.type = SCRIM_HASH_PDQ, .hash = &near, .quality = -1};
    assert_int_equal(scrim_import_add(imp, &e, err, sizeof err), 0);
    assert_int_equal(scrim_import_commit(imp, NULL, err, sizeof err), 0);

    scrim_matches m = {0};
    assert_int_equal(scrim_store_lookup_pdq(s, q, 2, NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 3);
    /* query 0: "ok" at 0 (allow) then the frame at 3 */
    assert_int_equal(m.v[0].query, 0);
    assert_int_equal(m.v[0].distance, 0);
    assert_int_equal(m.v[0].kind, SCRIM_LIST_ALLOW);
    assert_int_equal(m.v[1].type, SCRIM_HASH_VIDEO);
    assert_string_equal(m.v[1].id, "clip-1");
    assert_int_equal(m.v[1].frame, 7);
    assert_int_equal(m.v[1].frames, 50);
    assert_int_equal(m.v[1].distance, 3);
    assert_true(m.v[1].seconds == 3.5);
    assert_int_equal(m.v[2].query, 1);
    assert_int_equal(m.v[2].frame, 20);
    assert_int_equal(m.v[1].entry, m.v[2].entry);
    json_t *j = scrim_matches_json(&m, 0, "q");
    assert_int_equal(json_array_size(json_object_get(j, "allowed")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "matches")), 1);
    json_decref(j);
    scrim_matches_free(&m);

    /* disabled lists give nothing; the radius override applies */
    p = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    p.enabled = 0;
    assert_int_equal(scrim_store_list_set(s, "v", &p, err, sizeof err), 0);
    assert_int_equal(scrim_store_lookup_pdq(s, q, 2, NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    scrim_matches_free(&m);
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    lo.radius = 2;
    lo.include_disabled = 1;
    assert_int_equal(scrim_store_lookup_pdq(s, q, 2, &lo, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 2); /* ok@0 and frame 20 @0, not frame 7 @3 */
    scrim_matches_free(&m);

    scrim_store_frame *back;
    size_t nb;
    char *label = NULL;
    assert_int_equal(scrim_store_video_frames(s, "v", "clip-1", &back, &nb,
                                              &label, err, sizeof err), 0);
    assert_int_equal(nb, 50);
    assert_non_null(label);
    assert_string_equal(label, "a label");
    free(label);
    for (int i = 0; i < 50; i++) {
        assert_memory_equal(&back[i].hash, &fr[i].hash, sizeof fr[i].hash);
        assert_int_equal(back[i].quality, fr[i].quality);
        assert_true(back[i].seconds == fr[i].seconds);
    }
    free(back);
    const char *rm[] = {"video:clip-1", "video:nope"};
    uint64_t removed, missing;
    assert_int_equal(scrim_store_remove(s, "v", rm, 2, &removed, &missing, err,
                                        sizeof err), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(missing, 1);
    lo.radius = 0;
    assert_int_equal(scrim_store_lookup_pdq(s, q, 2, &lo, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    scrim_matches_free(&m);

    scrim_audit_rec *a;
    size_t na;
    assert_int_equal(scrim_store_audit(s, 0, &a, &na, err, sizeof err), 0);
    /* create ok, create v (import), import v, import ok, set v, remove v */
    assert_int_equal(na, 6);
    assert_string_equal(a[0].action, "create");
    assert_string_equal(a[2].action, "import");
    assert_int_equal(a[2].count, 1);
    assert_string_equal(a[5].action, "remove");
    for (size_t i = 1; i < na; i++)
        assert_true(a[i].seq > a[i - 1].seq);
    free(a);
    assert_int_equal(scrim_store_audit(s, 2, &a, &na, err, sizeof err), 0);
    assert_int_equal(na, 2);
    assert_string_equal(a[1].action, "remove");
    free(a);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* ---- other processes and threads -------------------------------------------------------- */

static void other_process_sees_commit(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    scrim_pdq h;
    pdq_random_hash(&rng, &h);
    scrim_matches m = {0};
    char err[256];
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child opens its own environment, as another process would */
        scrim_store *c;
        scrim_store_opts o = {0};
        if (scrim_store_open(dir, &o, &c, err, sizeof err))
            _exit(1);
        scrim_import_opts io = {0};
        io.create = 1;
        io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
        char hex[65];
        scrim_pdq_to_hex(&h, hex);
        scrim_import_stats st;
        int rc = scrim_store_import_buffer(c, "x", &io, SCRIM_FORMAT_HEX, hex, 64,
                                           &st, err, sizeof err);
        scrim_store_close(c);
        _exit(rc ? 1 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    scrim_matches_free(&m);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

typedef struct thr {
    scrim_store *s;
    const scrim_pdq *h;
    size_t n;
    int errors;
    atomic_int *stop;
} thr;

static void *reader(void *arg)
{
    thr *t = arg;
    char err[256];
    size_t i = 0;
    do {
        scrim_matches m = {0};
        if (scrim_store_lookup_pdq(t->s, &t->h[i % t->n], 1, NULL, &m, err,
                                   sizeof err))
            t->errors++;
        /* everything imported before the reader started is always found */
        else if (i % t->n < 100 && m.n < 1)
            t->errors++;
        scrim_matches_free(&m);
        i++;
    } while (!atomic_load(t->stop) || i < 200);
    return NULL;
}

/* A new store in *dir with n random hashes in *h, the first `first` of them
 * imported into list "t". */
static scrim_store *random_store(char **dir, scrim_pdq **h, size_t n, size_t first)
{
    *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(*dir);
    *h = malloc(n * sizeof **h);
    assert_non_null(*h);
    for (size_t i = 0; i < n; i++)
        pdq_random_hash(&rng, &(*h)[i]);
    import_pdqs(s, "t", *h, first, 0, 31);
    return s;
}

/* k reader threads querying h[0 .. of) until *stop; joined by readers_join(),
 * which checks that none saw an error. */
static void readers_start(thr *t, pthread_t *id, int k, scrim_store *s,
                          const scrim_pdq *h, size_t of, atomic_int *stop)
{
    for (int i = 0; i < k; i++) {
        t[i] = (thr){s, h, of, 0, stop};
        pthread_create(&id[i], NULL, reader, &t[i]);
    }
}

static void readers_join(thr *t, pthread_t *id, int k)
{
    for (int i = 0; i < k; i++) {
        pthread_join(id[i], NULL);
        assert_int_equal(t[i].errors, 0);
    }
}

static void threads_read_while_importing(void **state)
{
    char *dir;
    scrim_pdq *h;
    size_t n = 2000;
    scrim_store *s = random_store(&dir, &h, n, 100);
    atomic_int stop = 0;
    thr t[3];
    pthread_t id[3];
    readers_start(t, id, 3, s, h, n, &stop);
    for (size_t i = 100; i < n; i += 100)
        import_pdqs(s, "t", h + i, 100, 0, 31);
    atomic_store(&stop, 1);
    readers_join(t, id, 3);
    assert_int_equal(list_count(s, "t"), n);
    free(h);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

typedef struct preload_arg {
    scrim_store *s;
    scrim_store_preload_stats st;
    int rc;
    scrim_store_cache_stats cs;
    int crc;
} preload_arg;

/* As scrimd's background thread: the preload, then the hash cache. */
static void *preload_thread(void *arg)
{
    preload_arg *p = arg;
    p->rc = scrim_store_preload(p->s, NULL, NULL, &p->st);
    p->crc = scrim_store_cache_hashes(p->s, NULL, NULL, &p->cs);
    return NULL;
}

/* scrim_store_preload() maps the whole database in (dropping and re-reading
 * what the page cache holds in small pages, where the kernel gives 2 MB
 * ones), and scrim_store_cache_hashes() fills the hash cache, while other
 * threads query and import: every query still finds what was imported
 * before it started, lookups give the same answers after, and the cache
 * holds every hash (imports that commit during the fill extend it). */
static void preload_while_reading(void **state)
{
    char *dir;
    scrim_pdq *h;
    size_t n = 60000;
    scrim_store *s = random_store(&dir, &h, n, 50000);
    scrim_matches before = {0}, after = {0};
    char err[256];
    assert_int_equal(scrim_store_lookup_pdq(s, h, 100, NULL, &before, err, sizeof err), 0);

    scrim_store_preload_stats st;
    assert_int_equal(scrim_store_preload(s, stop_now, NULL, &st), 0);
    assert_true(st.stopped);

    atomic_int stop = 0;
    thr t[2];
    pthread_t id[2], pid;
    readers_start(t, id, 2, s, h, 50000, &stop);
    preload_arg pa = {s, {0}, -1, {0}, -1};
    pthread_create(&pid, NULL, preload_thread, &pa);
    for (size_t i = 50000; i < n; i += 2000)
        import_pdqs(s, "t", h + i, 2000, 0, 31);
    pthread_join(pid, NULL);
    atomic_store(&stop, 1);
    readers_join(t, id, 2);
    assert_int_equal(pa.rc, 0);
    assert_false(pa.st.stopped);
    assert_int_equal(pa.crc, 0);
    scrim_store_cache_stats cs;
    assert_int_equal(scrim_store_cache_hashes(s, NULL, NULL, &cs), 0);
    assert_int_equal(cs.hashes, n);
    char mdb[4200];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
    struct stat sb;
    assert_int_equal(stat(mdb, &sb), 0);
    assert_true(pa.st.bytes > 10u << 20);
    assert_true(pa.st.bytes <= (uint64_t)sb.st_size);
    assert_true(pa.st.huge_after <= pa.st.bytes);
    print_message("preload: %.1f MB, on 2 MB pages %.1f MB before, %.1f MB after%s, %.3f s\n",
                  pa.st.bytes / 1e6, pa.st.huge_before / 1e6, pa.st.huge_after / 1e6,
                  pa.st.reread ? " (read again)" : "", pa.st.seconds);
    assert_int_equal(scrim_store_lookup_pdq(s, h, 100, NULL, &after, err, sizeof err), 0);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) {
        assert_int_equal(after.v[i].query, before.v[i].query);
        assert_int_equal(after.v[i].distance, before.v[i].distance);
        assert_string_equal(after.v[i].id, before.v[i].id);
    }
    assert_int_equal(list_count(s, "t"), n);
    scrim_matches_free(&before);
    scrim_matches_free(&after);
    free(h);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

typedef struct ref_hits {
    uint32_t ref[4096];
    int d[4096];
    size_t n;
} ref_hits;

static int collect(void *ud, uint32_t ref, const void *rec, size_t reclen,
                   int distance)
{
    ref_hits *h = ud;
    if (h->n < 4096) {
        h->ref[h->n] = ref;
        h->d[h->n] = distance;
    }
    h->n++;
    return 0;
}

/* A lookup in a snapshot older than the cache's latest fill may list refs
 * removed before that fill, whose slots were never written: such a lookup
 * does not use the cache (its hits are all those of the old snapshot),
 * while a lookup in a newer snapshot does. */
static void hash_cache_old_snapshot(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    scrim_pdq center, h[64];
    pdq_random_hash(&rng, &center);
    for (int i = 0; i < 64; i++) {
        h[i] = center;
        pdq_random_flip(&rng, &h[i], 1 + i % 30);
    }
    import_pdqs(s, "a", h, 64, 0, 31);
    uint64_t n = list_count(s, "a"); /* 64 unless two flips coincided */
    assert_true(n >= 60);
    MDB_txn *old;
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, MDB_RDONLY, &old), 0);
    /* remove half of them, then fill the cache from the newer snapshot */
    char hex[32][65];
    const char *vals[32];
    for (int i = 0; i < 32; i++) {
        scrim_pdq_to_hex(&h[2 * i], hex[i]);
        vals[i] = hex[i];
    }
    uint64_t removed, missing;
    char err[256];
    assert_int_equal(scrim_store_remove(s, "a", vals, 32, &removed, &missing,
                                        err, sizeof err), 0);
    assert_true(removed >= 28);
    scrim_store_cache_stats cs;
    assert_int_equal(scrim_store_cache_hashes(s, NULL, NULL, &cs), 0);
    assert_int_equal(cs.hashes, n - removed);
    /* the old snapshot may list refs the fill never saw: no cache for it */
    hc_view old_view = store__hc_view(s, old), new_view;
    assert_int_equal(old_view.limit, 0);
    MDB_txn *now;
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, MDB_RDONLY, &now), 0);
    new_view = store__hc_view(s, now);
    assert_true(new_view.limit > 0);
    static ref_hits with, without;
    with.n = without.n = 0;
    assert_int_equal(mih__query(old, s->index, s->refs, NULL, old_view, &center, 31,
                                collect, &with), 0);
    assert_int_equal(mih__query(old, s->index, s->refs, NULL, (hc_view){NULL, 0},
                                &center, 31, collect, &without), 0);
    /* every entry of the old snapshot, removed ones included */
    assert_int_equal(without.n, n);
    assert_int_equal(with.n, without.n);
    for (size_t i = 0; i < with.n; i++) {
        size_t j = 0;
        while (j < without.n && without.ref[j] != with.ref[i])
            j++;
        assert_true(j < without.n);
        assert_int_equal(with.d[i], without.d[j]);
    }
    mdb_txn_abort(old);
    /* the new snapshot, through the cache, sees only the survivors */
    with.n = 0;
    assert_int_equal(mih__query(now, s->index, s->refs, NULL, new_view, &center, 31,
                                collect, &with), 0);
    assert_int_equal(with.n, n - removed);
    mdb_txn_abort(now);
    scrim_matches mm = {0};
    assert_int_equal(scrim_store_lookup_pdq(s, &center, 1, NULL, &mm, err, sizeof err), 0);
    assert_int_equal(mm.n, n - removed);
    scrim_matches_free(&mm);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* A video id too long for an LMDB key (found fuzzing the vPDQ import):
 * refused as the caller's error naming the limit, the import still usable,
 * not a database failure (which the daemon answers with 500). */
static void long_video_id_refused(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    char err[256] = "", id[SCRIM_ENTRY_TEXT_MAX + 1];
    scrim_store_frame fr = {.quality = 100, .seconds = 0};
    pdq_random_hash(&rng, &fr.hash);
    scrim_import_opts o = {0};
    o.create = 1;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    scrim_import *imp;
    assert_int_equal(scrim_import_begin(s, "v", &o, &imp, err, sizeof err), 0);
    memset(id, 'a', 600);
    id[600] = '\0';
    assert_int_equal(scrim_import_add_video(imp, id, NULL, &fr, 1, err,
                                            sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "video id longer than"));
    /* the same through the vPDQ text, as POST .../import?format=vpdq gets it */
    char hx[SCRIM_PDQ_HEXLEN + 1], text[1024];
    scrim_pdq_to_hex(&fr.hash, hx);
    snprintf(text, sizeof text, "# video: %s\n0,100,%s,0.0\n", id, hx);
    err[0] = '\0';
    assert_int_equal(scrim_vpdq_import(imp, text, strlen(text), NULL, NULL,
                                       NULL, err, sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "video id longer than"));
    id[500] = '\0'; /* the longest an LMDB key allows: 507 */
    assert_int_equal(scrim_import_add_video(imp, id, NULL, &fr, 1, err,
                                            sizeof err), 0);
    assert_int_equal(scrim_import_commit(imp, NULL, err, sizeof err), 0);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* Ids, labels and descriptions go out in JSON, which holds only UTF-8: an
 * entry with a label of other bytes used to be imported, and then its
 * matches went missing from lookups (its JSON could not be made). */
static void non_utf8_text_refused(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    char err[256] = "", hx[SCRIM_PDQ_HEXLEN + 1], text[512];
    scrim_pdq h;
    pdq_random_hash(&rng, &h);
    scrim_pdq_to_hex(&h, hx);
    scrim_import_opts o = {0};
    o.create = 1;
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    scrim_import_stats st;
    snprintf(text, sizeof text, "hash,id,label\n%s,id1,bad\xff\xfelabel\n", hx);
    assert_int_equal(scrim_store_import_buffer(s, "u", &o, SCRIM_FORMAT_CSV,
                                               text, strlen(text), &st, err,
                                               sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, ":2: label is not valid UTF-8"));
    snprintf(text, sizeof text, "hash,id\n%s,\xc0\xaf\n", hx); /* overlong */
    assert_int_equal(scrim_store_import_buffer(s, "u", &o, SCRIM_FORMAT_CSV,
                                               text, strlen(text), &st, err,
                                               sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "id is not valid UTF-8"));
    scrim_list_params p = SCRIM_LIST_PARAMS_KEEP;
    p.description = "caf\xe9";
    assert_int_equal(scrim_store_list_create(s, "d", &p, err, sizeof err),
                     SCRIM_EINVAL);
    assert_non_null(strstr(err, "description is not valid UTF-8"));

    /* UTF-8 is kept and comes back in the match's JSON */
    snprintf(text, sizeof text, "hash,id,label\n%s,id1,caf\xc3\xa9\n", hx);
    assert_int_equal(scrim_store_import_buffer(s, "u", &o, SCRIM_FORMAT_CSV,
                                               text, strlen(text), &st, err,
                                               sizeof err), 0);
    scrim_matches m = {0};
    assert_int_equal(scrim_store_lookup_pdq(s, &h, 1, NULL, &m, err,
                                            sizeof err), 0);
    assert_int_equal(m.n, 1);
    json_t *j = scrim_match_json(&m.v[0]);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "label")),
                        "caf\xc3\xa9");
    json_decref(j);
    scrim_matches_free(&m);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* ---- side.mdb: other modules' databases, with their own write lock ---------- */

typedef struct {
    MDB_env *env;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
} side_writer;

static void *side_write(void *arg)
{
    side_writer *w = arg;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {3, "key"}, v = {5, "value"};
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (!rc && !(rc = mdb_dbi_open(txn, "mod.test", MDB_CREATE, &dbi)) &&
        !(rc = mdb_put(txn, dbi, &k, &v, 0)))
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* A module's write goes through while a list write (here: a write
 * transaction held open on the store's environment) is under way. */
static void side_writes_do_not_wait_for_the_store(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    char err[256];
    side_writer w = {.done = 0};
    assert_int_equal(scrim_store_side_env(s, &w.env, err, sizeof err), 0);
    assert_non_null(w.env);
    MDB_env *again;
    assert_int_equal(scrim_store_side_env(s, &again, err, sizeof err), 0);
    assert_ptr_equal(again, w.env);
    assert_ptr_not_equal(w.env, scrim_store_env(s));

    MDB_txn *held;
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, 0, &held), 0);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, side_write, &w), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&w.mu);
    while (!w.done && pthread_cond_timedwait(&w.cv, &w.mu, &until) == 0)
        ;
    int done = w.done;
    pthread_mutex_unlock(&w.mu);
    mdb_txn_abort(held);   /* lets a waiting writer finish, so join returns */
    pthread_join(t, NULL);
    assert_true(done);
    assert_int_equal(w.rc, 0);
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

/* A database of the older layout, whose modules kept their named databases
 * in data.mdb: they move to side.mdb when it is created; the store's own
 * stay. */
static void side_env_adopts_the_older_layout(void **state)
{
    char *dir = test_temp_dir("store");
    scrim_store *s = test_open_store(dir);
    static const scrim_pdq one = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
    import_pdqs(s, "kept", &one, 1, 0, 31);
    MDB_txn *txn;
    MDB_dbi a, b;
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", MDB_CREATE, &a), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.lists", MDB_CREATE, &b), 0);
    char key[16], val[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        snprintf(val, sizeof val, "record %d", i);
        MDB_val k = {strlen(key), key}, v = {strlen(val) + 1, val};
        assert_int_equal(mdb_put(txn, a, &k, &v, 0), 0);
    }
    MDB_val k = {4, "bad1"}, v = {6, "light"};
    assert_int_equal(mdb_put(txn, b, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    scrim_store_close(s);

    s = test_open_store(dir);
    MDB_env *side;
    char err[256];
    assert_int_equal(scrim_store_side_env(s, &side, err, sizeof err), 0);
    assert_int_equal(mdb_txn_begin(side, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", 0, &a), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.lists", 0, &b), 0);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, a, &st), 0);
    assert_int_equal(st.ms_entries, 1000);
    snprintf(key, sizeof key, "k%05d", 777);
    MDB_val kk = {strlen(key), key}, vv;
    assert_int_equal(mdb_get(txn, a, &kk, &vv), 0);
    assert_string_equal(vv.mv_data, "record 777");
    assert_int_equal(mdb_get(txn, b, &k, &vv), 0);
    assert_string_equal(vv.mv_data, "light");
    mdb_txn_abort(txn);
    /* gone from data.mdb; the lists still there */
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", 0, &a), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    assert_int_equal(list_count(s, "kept"), 1);
    /* side.mdb now has a newer k00001 */
    assert_int_equal(mdb_txn_begin(side, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", 0, &a), 0);
    MDB_val k1 = {6, "k00001"}, newer = {6, "newer"};
    assert_int_equal(mdb_put(txn, a, &k1, &newer, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    scrim_store_close(s);

    /* As after a crash between the copy and the drop: the old copy is in
     * data.mdb again.  The next open takes what side.mdb lacks, keeps what
     * it has, and empties data.mdb of it. */
    s = test_open_store(dir);
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", MDB_CREATE, &a), 0);
    MDB_val old1 = {4, "old"}, k2 = {6, "k99999"}, only = {5, "only"};
    assert_int_equal(mdb_put(txn, a, &k1, &old1, 0), 0);
    assert_int_equal(mdb_put(txn, a, &k2, &only, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    scrim_store_close(s);
    s = test_open_store(dir);
    assert_int_equal(scrim_store_side_env(s, &side, err, sizeof err), 0);
    assert_int_equal(mdb_txn_begin(side, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", 0, &a), 0);
    assert_int_equal(mdb_get(txn, a, &k1, &vv), 0);
    assert_string_equal(vv.mv_data, "newer");
    assert_int_equal(mdb_get(txn, a, &k2, &vv), 0);
    assert_string_equal(vv.mv_data, "only");
    assert_int_equal(mdb_stat(txn, a, &st), 0);
    assert_int_equal(st.ms_entries, 1001);
    mdb_txn_abort(txn);
    assert_int_equal(mdb_txn_begin(scrim_store_env(s), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "review.records", 0, &a), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    scrim_store_close(s);

    /* read-only, with side.mdb present: opens; without: a clear error */
    scrim_store_opts ro = {.readonly = 1, .map_size = (uint64_t)1 << 32};
    assert_int_equal(scrim_store_open(dir, &ro, &s, err, sizeof err), 0);
    assert_int_equal(scrim_store_side_env(s, &side, err, sizeof err), 0);
    scrim_store_close(s);
    char path[4200];
    snprintf(path, sizeof path, "%s/side.mdb", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(scrim_store_open(dir, &ro, &s, err, sizeof err), 0);
    assert_int_equal(scrim_store_side_env(s, &side, err, sizeof err), SCRIM_EDB);
    assert_non_null(strstr(err, "side.mdb"));
    scrim_store_close(s);
    test_rm_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_equals_brute_force),
        cmocka_unit_test(formats_parse),
        cmocka_unit_test(bad_line_aborts_everything),
        cmocka_unit_test(lists_and_video),
        cmocka_unit_test(other_process_sees_commit),
        cmocka_unit_test(threads_read_while_importing),
        cmocka_unit_test(preload_while_reading),
        cmocka_unit_test(hash_cache_equals_brute_force),
        cmocka_unit_test(hash_cache_old_snapshot),
        cmocka_unit_test(long_video_id_refused),
        cmocka_unit_test(non_utf8_text_refused),
        cmocka_unit_test(side_writes_do_not_wait_for_the_store),
        cmocka_unit_test(side_env_adopts_the_older_layout),
    };
    return RUN_TESTS("test_store", tests);
}
