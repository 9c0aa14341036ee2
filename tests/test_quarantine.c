/* test_quarantine.c - quarantined entries in the store (store_quarantine.c):
 * no lookup reports them (PDQ, the index-side variants stored with them,
 * digests, a video's frames) unless include_disabled; other lists holding
 * the same hash are untouched; the flag survives an import that updates the
 * entry; restore, remove, the registry and the audit; and the review
 * module's per-entry counts, which move when a decision changes. */
#include "testutil.h"
#include "pdq_random.h"

static uint64_t rng = 0x9a4a47715eedULL;

typedef struct fixture {
    char *dir;
    scrim_store *s;
    scrim_pdq x, x1, x2, y, f[3];
    uint8_t md5[16];
    char xhex[65], x1hex[65], yhex[65], md5hex[33];
} fixture;

static void import_into(scrim_store *s, const char *list, int mode,
                        const scrim_entry *e, size_t n, const scrim_store_frame *f,
                        size_t nf)
{
    char err[256];
    scrim_import *imp;
    scrim_import_opts o = {.create = 1, .mode = mode};
    o.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    if (scrim_import_begin(s, list, &o, &imp, err, sizeof err))
        fail_msg("begin: %s", err);
    for (size_t i = 0; i < n; i++)
        if (scrim_import_add(imp, &e[i], err, sizeof err))
            fail_msg("add: %s", err);
    if (nf && scrim_import_add_video(imp, "vid1", NULL, f, nf, err, sizeof err))
        fail_msg("video: %s", err);
    if (scrim_import_commit(imp, NULL, err, sizeof err))
        fail_msg("commit: %s", err);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_temp_dir("quarantine");
    fx->s = test_open_store(fx->dir);
    pdq_random_hash(&rng, &fx->x);
    fx->x1 = fx->x2 = fx->x;
    pdq_random_flip(&rng, &fx->x1, 60);   /* variants: far from x */
    pdq_random_flip(&rng, &fx->x2, 60);
    pdq_random_hash(&rng, &fx->y);
    scrim_store_frame fr[3];
    for (int i = 0; i < 3; i++) {
        pdq_random_hash(&rng, &fx->f[i]);
        fr[i] = (scrim_store_frame){fx->f[i], 100, i};
    }
    for (int i = 0; i < 16; i++)
        fx->md5[i] = (uint8_t)(i * 17 + 3);
    scrim_pdq_to_hex(&fx->x, fx->xhex);
    scrim_pdq_to_hex(&fx->x1, fx->x1hex);
    scrim_pdq_to_hex(&fx->y, fx->yhex);
    for (int i = 0; i < 16; i++)
        sprintf(fx->md5hex + 2 * i, "%02x", fx->md5[i]);
    scrim_entry e[] = {
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x, .id = "img1", .quality = 100},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x1, .id = "img1", .quality = 100,
         .variant = "rot+4"},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x2, .id = "img1", .quality = 100,
         .variant = "crop-5"},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->y, .id = "img2", .quality = 100},
        {.type = SCRIM_HASH_MD5, .hash = fx->md5, .quality = -1},
    };
    import_into(fx->s, "bad", SCRIM_IMPORT_ADD, e, 5, fr, 3);
    import_into(fx->s, "other", SCRIM_IMPORT_ADD, e, 1, NULL, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    scrim_store_close(fx->s);
    test_rm_tree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Hits of q in list (distance <= 8), with include_disabled as asked;
 * *quarantined gets whether a hit says so. */
static int hits(scrim_store *s, const scrim_pdq *q, const char *list, int all,
                int *quarantined)
{
    scrim_lookup_opts o = SCRIM_LOOKUP_OPTS_DEFAULT;
    scrim_matches m = {0};
    char err[256];
    o.radius = 8;
    o.include_disabled = all;
    if (scrim_store_lookup_pdq(s, q, 1, &o, &m, err, sizeof err))
        fail_msg("lookup: %s", err);
    int n = 0;
    if (quarantined)
        *quarantined = 0;
    for (size_t i = 0; i < m.n; i++)
        if (!strcmp(m.v[i].list, list)) {
            n++;
            if (quarantined && m.v[i].quarantined)
                *quarantined = 1;
        }
    scrim_matches_free(&m);
    return n;
}

static int digest_hits(scrim_store *s, const char *hex)
{
    scrim_matches m = {0};
    char err[256];
    if (scrim_store_lookup_digest(s, SCRIM_HASH_MD5, hex, NULL, &m, err, sizeof err))
        fail_msg("digest: %s", err);
    int n = (int)m.n;
    scrim_matches_free(&m);
    return n;
}

static void pdq_entry_with_variants(void **state)
{
    fixture *fx = *state;
    char err[256];
    int changed = -1, q;
    assert_int_equal(hits(fx->s, &fx->x, "bad", 0, NULL), 1);
    assert_int_equal(hits(fx->s, &fx->x1, "bad", 0, NULL), 1);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->xhex, 1,
                                            "alice", "3 rejected", &changed, err,
                                            sizeof err), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(hits(fx->s, &fx->x, "bad", 0, NULL), 0);
    assert_int_equal(hits(fx->s, &fx->x1, "bad", 0, NULL), 0);   /* its variants */
    assert_int_equal(hits(fx->s, &fx->x2, "bad", 0, NULL), 0);
    assert_int_equal(hits(fx->s, &fx->y, "bad", 0, NULL), 1);    /* another entry */
    assert_int_equal(hits(fx->s, &fx->x, "other", 0, NULL), 1);  /* another list */
    assert_int_equal(hits(fx->s, &fx->x, "bad", 1, &q), 1);      /* admin tools */
    assert_int_equal(q, 1);
    /* again: nothing changes, nothing audited */
    size_t na0, na1;
    scrim_audit_rec *a;
    assert_int_equal(scrim_store_audit(fx->s, 0, &a, &na0, err, sizeof err), 0);
    free(a);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->xhex, 1,
                                            "bob", "again", &changed, err,
                                            sizeof err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(scrim_store_audit(fx->s, 0, &a, &na1, err, sizeof err), 0);
    assert_int_equal(na1, na0);
    assert_string_equal(a[na1 - 1].action, "quarantine");
    assert_string_equal(a[na1 - 1].list, "bad");
    assert_int_equal(a[na1 - 1].count, 3);   /* the entry and its 2 variants */
    assert_non_null(strstr(a[na1 - 1].detail, "by alice: 3 rejected"));
    free(a);
    /* listed, with who and why */
    json_t *l;
    assert_int_equal(scrim_store_quarantined(fx->s, &l, err, sizeof err), 0);
    assert_int_equal(json_array_size(l), 1);
    json_t *e = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e, "hash")), fx->xhex);
    assert_string_equal(json_string_value(json_object_get(e, "by")), "alice");
    json_decref(l);
    /* restore: it matches again */
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->xhex, 0,
                                            "admin", NULL, &changed, err,
                                            sizeof err), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(hits(fx->s, &fx->x, "bad", 0, NULL), 1);
    assert_int_equal(hits(fx->s, &fx->x1, "bad", 0, NULL), 1);
    assert_int_equal(scrim_store_quarantined(fx->s, &l, err, sizeof err), 0);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
}

static void survives_an_update(void **state)
{
    fixture *fx = *state;
    char err[256];
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->yhex, 1,
                                            "alice", NULL, NULL, err, sizeof err), 0);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_MD5, fx->md5hex,
                                            1, "alice", NULL, NULL, err, sizeof err), 0);
    assert_int_equal(digest_hits(fx->s, fx->md5hex), 0);
    /* a replace import that keeps both with new labels rewrites their
     * records: the flag stays */
    scrim_entry e[] = {
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x, .id = "img1", .quality = 100},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x1, .id = "img1", .quality = 100,
         .variant = "rot+4"},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->x2, .id = "img1", .quality = 100,
         .variant = "crop-5"},
        {.type = SCRIM_HASH_PDQ, .hash = &fx->y, .id = "img2", .label = "new",
         .quality = 90},
        {.type = SCRIM_HASH_MD5, .hash = fx->md5, .label = "new", .quality = -1},
    };
    scrim_store_frame fr[3];
    for (int i = 0; i < 3; i++)
        fr[i] = (scrim_store_frame){fx->f[i], 100, i};
    import_into(fx->s, "bad", SCRIM_IMPORT_REPLACE, e, 5, fr, 3);
    int q;
    assert_int_equal(hits(fx->s, &fx->y, "bad", 0, NULL), 0);
    assert_int_equal(hits(fx->s, &fx->y, "bad", 1, &q), 1);
    assert_int_equal(q, 1);
    assert_int_equal(digest_hits(fx->s, fx->md5hex), 0);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_MD5, fx->md5hex,
                                            0, "admin", NULL, NULL, err, sizeof err), 0);
    assert_int_equal(digest_hits(fx->s, fx->md5hex), 1);
}

static void video_entry(void **state)
{
    fixture *fx = *state;
    char err[256];
    int changed;
    for (int i = 0; i < 3; i++)
        assert_int_equal(hits(fx->s, &fx->f[i], "bad", 0, NULL), 1);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_VIDEO, "vid1", 1,
                                            "alice", NULL, &changed, err,
                                            sizeof err), 0);
    assert_int_equal(changed, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hits(fx->s, &fx->f[i], "bad", 0, NULL), 0);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_VIDEO, "vid1", 0,
                                            "admin", NULL, &changed, err,
                                            sizeof err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hits(fx->s, &fx->f[i], "bad", 0, NULL), 1);
}

static void bad_names(void **state)
{
    fixture *fx = *state;
    char err[256], other[65];
    scrim_pdq z;
    pdq_random_hash(&rng, &z);
    scrim_pdq_to_hex(&z, other);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, other, 1,
                                            "a", NULL, NULL, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_non_null(strstr(err, "no pdq entry"));
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, "12zz", 1,
                                            "a", NULL, NULL, err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_store_quarantine(fx->s, "nosuch", SCRIM_HASH_PDQ, fx->xhex,
                                            1, "a", NULL, NULL, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_VIDEO, "nope", 1,
                                            "a", NULL, NULL, err, sizeof err),
                     SCRIM_ENOTFOUND);
    /* only a quarantined entry is removed this way */
    assert_int_equal(scrim_store_quarantine_remove(fx->s, "bad", SCRIM_HASH_PDQ,
                                                   fx->xhex, "a", err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_non_null(strstr(err, "not quarantined"));
}

static void remove_and_drop(void **state)
{
    fixture *fx = *state;
    char err[256];
    scrim_list_info li;
    assert_int_equal(scrim_store_list_get(fx->s, "bad", &li, err, sizeof err), 0);
    uint64_t before = li.pdq;
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->xhex, 1,
                                            "alice", NULL, NULL, err, sizeof err), 0);
    assert_int_equal(scrim_store_quarantine_remove(fx->s, "bad", SCRIM_HASH_PDQ,
                                                   fx->xhex, "admin", err, sizeof err),
                     0);
    assert_int_equal(scrim_store_list_get(fx->s, "bad", &li, err, sizeof err), 0);
    assert_int_equal(li.pdq, before - 3);   /* with its variants */
    assert_int_equal(hits(fx->s, &fx->x, "bad", 1, NULL), 0);
    assert_int_equal(hits(fx->s, &fx->x1, "bad", 1, NULL), 0);
    assert_int_equal(hits(fx->s, &fx->x, "other", 0, NULL), 1);
    size_t na;
    scrim_audit_rec *a;
    assert_int_equal(scrim_store_audit(fx->s, 2, &a, &na, err, sizeof err), 0);
    assert_int_equal(na, 2);
    assert_string_equal(a[0].action, "remove");
    assert_int_equal(a[0].count, 3);
    assert_string_equal(a[1].action, "unquarantine-remove");
    assert_non_null(strstr(a[1].detail, "by admin"));
    free(a);
    /* removed by a plain remove and imported again: not quarantined */
    assert_int_equal(scrim_store_quarantine(fx->s, "bad", SCRIM_HASH_PDQ, fx->yhex, 1,
                                            "alice", NULL, NULL, err, sizeof err), 0);
    const char *vals[] = {fx->yhex};
    assert_int_equal(scrim_store_remove(fx->s, "bad", vals, 1, NULL, NULL, err,
                                        sizeof err), 0);
    scrim_entry ye = {.type = SCRIM_HASH_PDQ, .hash = &fx->y, .quality = 100};
    import_into(fx->s, "bad", SCRIM_IMPORT_ADD, &ye, 1, NULL, 0);
    assert_int_equal(hits(fx->s, &fx->y, "bad", 0, NULL), 1);
    json_t *l0;
    assert_int_equal(scrim_store_quarantined(fx->s, &l0, err, sizeof err), 0);
    assert_int_equal(json_array_size(l0), 0);
    json_decref(l0);
    assert_int_equal(scrim_store_quarantine_remove(fx->s, "bad", SCRIM_HASH_PDQ,
                                                   fx->yhex, "admin", err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_int_equal(hits(fx->s, &fx->y, "bad", 0, NULL), 1);
    /* a dropped list takes its registry entries with it */
    assert_int_equal(scrim_store_quarantine(fx->s, "other", SCRIM_HASH_PDQ, fx->xhex, 1,
                                            "alice", NULL, NULL, err, sizeof err), 0);
    json_t *l;
    assert_int_equal(scrim_store_quarantined(fx->s, &l, err, sizeof err), 0);
    size_t n = json_array_size(l);
    json_decref(l);
    assert_int_equal(scrim_store_list_drop(fx->s, "other", NULL, err, sizeof err), 0);
    assert_int_equal(scrim_store_quarantined(fx->s, &l, err, sizeof err), 0);
    assert_int_equal(json_array_size(l), n - 1);
    json_decref(l);
}

/* The review side: a decision counts on the entries its record matched,
 * and a changed decision moves the count. */
static void review_counts(void **state)
{
    fixture *fx = *state;
    char err[256], id[SCRIM_REVIEW_ID_LEN + 1];
    MDB_env *env;
    scrim_review *rv;
    assert_int_equal(scrim_store_side_env(fx->s, &env, err, sizeof err), 0);
    if (scrim_review_open(env, NULL, &rv, err, sizeof err))
        fail_msg("review: %s", err);
    json_t *m = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "list", "bad",
                          "type", "pdq", "hash", fx->yhex, "list", "bad", "type",
                          "pdq", "hash", fx->yhex); /* twice: counts once */
    scrim_review_input in = {.kind = "image", .matches = m, .level = "none"};
    assert_int_equal(scrim_review_add(rv, &in, id, err, sizeof err), 0);
    json_decref(m);
    json_t *out, *st;
    struct { const char *d; int c, r; } steps[] = {
        {"reject", 0, 1}, {"reject", 0, 1}, {"confirm", 1, 0}, {"reject", 0, 1}};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        assert_int_equal(scrim_review_decide(rv, id, steps[i].d, NULL, "t", &out,
                                             err, sizeof err), 0);
        json_decref(out);
        assert_int_equal(scrim_review_stats(rv, "bad", &st, err, sizeof err), 0);
        json_t *e = json_array_get(json_object_get(st, "entries"), 0);
        assert_int_equal(json_array_size(json_object_get(st, "entries")), 1);
        assert_int_equal(json_integer_value(json_object_get(e, "confirmed")), steps[i].c);
        assert_int_equal(json_integer_value(json_object_get(e, "rejected")), steps[i].r);
        json_decref(st);
    }
    assert_int_equal(scrim_review_stats(rv, "ba", &st, err, sizeof err), 0);
    assert_int_equal(json_array_size(json_object_get(st, "entries")), 0);
    json_decref(st);
    scrim_review_close(rv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pdq_entry_with_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_an_update, setup, teardown),
        cmocka_unit_test_setup_teardown(video_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(remove_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(review_counts, setup, teardown),
    };
    return RUN_TESTS("test_quarantine", tests);
}
