/* test_preview_review.c - review records in LMDB: add/get, previews (and
 * never anything else), paging through the pending queue, decisions,
 * retention and purging (with a test clock), per-list levels, bad input. */
#include "testutil.h"

#include <lmdb.h>
#include <pthread.h>
#include <unistd.h>

typedef struct fixture {
    char *dir;
    MDB_env *env;
    scrim_review *rv;
    int64_t now;        /* the test clock, microseconds */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!(f->env = test_lmdb_env("review", (size_t)1 << 30, &f->dir)))
        return -1;
    f->now = (int64_t)1700000000 * 1000000;
    scrim_review_opts o = {.retention = 3600, .clock = test_clock, .clock_arg = &f->now};
    if (scrim_review_open(f->env, &o, &f->rv, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    scrim_review_close(f->rv);
    test_lmdb_env_close(f->env, f->dir);
    free(f);
    return 0;
}

/* A preview of a generated image, at a level and its lighter level. */
static void render_pair(const char *level, scrim_preview *p, scrim_preview *l)
{
    static uint8_t px[300 * 200 * 3];
    scrim_preview_opts o, lo;
    char err[256];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 31 % 251);
    assert_true(scrim_preview_level_parse(level, &o, err, sizeof err) > 0);
    scrim_preview_opts_lighter(&o, &lo);
    assert_int_equal(scrim_preview_render_pixels(px, 300, 200, 3, 900, &o, p,
                                                 err, sizeof err), 0);
    assert_int_equal(scrim_preview_render_pixels(px, 300, 200, 3, 900, &lo, l,
                                                 err, sizeof err), 0);
}

static void add_record(fixture *f, const char *list, int with_preview,
                       char id[SCRIM_REVIEW_ID_LEN + 1])
{
    scrim_preview p = {0}, l = {0};
    char err[256];
    json_t *matches = json_pack("[{s:s, s:s, s:i}]", "list", list, "hash",
                                "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
                                "distance", 4);
    json_t *hashes = json_pack("{s:s, s:s}", "kind", "image", "md5",
                               "0123456789abcdef0123456789abcdef");
    if (with_preview)
        render_pair("standard", &p, &l);
    scrim_review_input in = {
        .kind = "image", .size = 12345, .width = 300, .height = 200,
        .hashes = hashes, .matches = matches,
        .level = with_preview ? "standard" : "none",
        .preview = with_preview ? &p : NULL, .lighter = with_preview ? &l : NULL};
    int rc = scrim_review_add(f->rv, &in, id, err, sizeof err);
    if (rc)
        fail_msg("add: %s", err);
    assert_int_equal(strlen(id), SCRIM_REVIEW_ID_LEN);
    json_decref(matches);
    json_decref(hashes);
    scrim_preview_free(&p);
    scrim_preview_free(&l);
}

static void add_get_preview(void **state)
{
    fixture *f = *state;
    char id[SCRIM_REVIEW_ID_LEN + 1], err[256];
    json_t *rec;
    add_record(f, "csam", 1, id);
    assert_int_equal(scrim_review_get(f->rv, id, &rec, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "id")), id);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "pending");
    assert_string_equal(json_string_value(json_object_get(rec, "kind")), "image");
    assert_int_equal(json_integer_value(json_object_get(rec, "size")), 12345);
    assert_true(json_real_value(json_object_get(rec, "time")) == 1700000000.0);
    assert_true(json_real_value(json_object_get(rec, "expires")) == 1700003600.0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(rec, "matches"), 0), "list")),
                        "csam");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(rec, "hashes"), "md5")),
                        "0123456789abcdef0123456789abcdef");
    json_t *pv = json_object_get(rec, "preview");
    char url[128];
    snprintf(url, sizeof url, "/v1/review/%s/preview.jpg", id);
    assert_string_equal(json_string_value(json_object_get(pv, "url")), url);
    assert_int_equal(json_integer_value(json_object_get(pv, "detail")), 24);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(rec, "lighter"), "detail")), 48);
    assert_true(json_is_null(json_object_get(rec, "decision")));
    json_decref(rec);

    uint8_t *d, *dl;
    size_t n, nl;
    assert_int_equal(scrim_review_preview(f->rv, id, 0, &d, &n, err, sizeof err), 0);
    assert_int_equal(scrim_review_preview(f->rv, id, 1, &dl, &nl, err, sizeof err), 0);
    assert_true(n > 100 && nl > 100);
    assert_true(n != nl || memcmp(d, dl, n));
    scrim_image im;
    assert_int_equal(scrim_image_load_buffer(d, n, NULL, &im, err, sizeof err), 0);
    assert_int_equal(im.channels, 1);
    assert_int_equal(im.width, 240);
    scrim_image_free(&im);
    free(d);
    free(dl);

    /* A record of a list whose level is none has no preview at all. */
    char id2[SCRIM_REVIEW_ID_LEN + 1];
    add_record(f, "hidden", 0, id2);
    assert_int_equal(scrim_review_preview(f->rv, id2, 0, &d, &n, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_non_null(strstr(err, "no preview"));
    assert_null(d);
    assert_int_equal(scrim_review_get(f->rv, id2, &rec, err, sizeof err), 0);
    assert_true(json_is_null(json_object_get(rec, "preview")));
    assert_string_equal(json_string_value(json_object_get(rec, "level")), "none");
    json_decref(rec);
}

static void bad_ids_and_inputs(void **state)
{
    fixture *f = *state;
    char err[256], id[SCRIM_REVIEW_ID_LEN + 1];
    json_t *rec;
    uint8_t *d;
    size_t n;
    static const char *bad[] = {"", "abc", "zz000000000000000000000000000000",
                                "0000000000000000000000000000000000",
                                "../../etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(scrim_review_get(f->rv, bad[i], &rec, err, sizeof err),
                         SCRIM_EINVAL);
        assert_non_null(strstr(err, "bad review id"));
        assert_int_equal(scrim_review_preview(f->rv, bad[i], 0, &d, &n, err,
                                              sizeof err), SCRIM_EINVAL);
    }
    assert_int_equal(scrim_review_get(f->rv, "00000000000000000000000000000000",
                                      &rec, err, sizeof err), SCRIM_ENOTFOUND);
    assert_int_equal(scrim_review_decide(f->rv, "00000000000000000000000000000000",
                                         "confirm", NULL, NULL, NULL, err,
                                         sizeof err), SCRIM_ENOTFOUND);
    scrim_review_input in = {.kind = "image", .level = "standard"};
    assert_int_equal(scrim_review_add(f->rv, &in, id, err, sizeof err), SCRIM_EINVAL);
    json_t *list;
    assert_int_equal(scrim_review_list(f->rv, NULL, 0, &list, err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_review_list(f->rv, "yesterday", 10, &list, err,
                                       sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "since"));
    assert_int_equal(scrim_review_list(f->rv, NULL, SCRIM_REVIEW_LIST_MAX + 1,
                                       &list, err, sizeof err), SCRIM_EINVAL);
}

static void paging_and_decisions(void **state)
{
    fixture *f = *state;
    char ids[7][SCRIM_REVIEW_ID_LEN + 1], err[256];
    for (int i = 0; i < 7; i++) {
        f->now += 1000000;   /* one second apart */
        add_record(f, "csam", i % 2, ids[i]);
    }
    /* Ids sort in creation order. */
    for (int i = 1; i < 7; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) < 0);

    json_t *page, *rec;
    const char *since = NULL;
    char cursor[SCRIM_REVIEW_ID_LEN + 1];
    int seen = 0, pages = 0;
    do {
        assert_int_equal(scrim_review_list(f->rv, since, 3, &page, err, sizeof err), 0);
        json_t *recs = json_object_get(page, "records");
        for (size_t i = 0; i < json_array_size(recs); i++)
            assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(recs, i), "id")), ids[seen++]);
        json_t *next = json_object_get(page, "next");
        since = NULL;
        if (json_is_string(next)) {
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
            since = cursor;
        }
        json_decref(page);
        pages++;
    } while (since);
    assert_int_equal(seen, 7);
    assert_int_equal(pages, 3);

    /* since as unix seconds: records created at or after. */
    assert_int_equal(scrim_review_list(f->rv, "1700000005", 100, &page, err,
                                       sizeof err), 0);
    assert_int_equal(json_array_size(json_object_get(page, "records")), 3);
    json_decref(page);

    /* Decisions take records out of the queue; a second one replaces the
     * first, which goes to history. */
    assert_int_equal(scrim_review_decide(f->rv, ids[0], "maybe", NULL, NULL, NULL,
                                         err, sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "confirm"));
    assert_int_equal(scrim_review_decide(f->rv, ids[0], "reject", "false positive",
                                         "alice", &rec, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "rejected");
    json_decref(rec);
    assert_int_equal(scrim_review_decide(f->rv, ids[0], "confirm", "on second look",
                                         "bob", NULL, err, sizeof err), 0);
    assert_int_equal(scrim_review_decide(f->rv, ids[3], "confirm", NULL, NULL, NULL,
                                         err, sizeof err), 0);
    assert_int_equal(scrim_review_get(f->rv, ids[0], &rec, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "confirmed");
    json_t *d = json_object_get(rec, "decision");
    assert_string_equal(json_string_value(json_object_get(d, "note")), "on second look");
    assert_string_equal(json_string_value(json_object_get(d, "by")), "bob");
    json_t *h = json_object_get(rec, "history");
    assert_int_equal(json_array_size(h), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0),
                                                          "decision")), "reject");
    json_decref(rec);
    assert_int_equal(scrim_review_list(f->rv, NULL, 100, &page, err, sizeof err), 0);
    json_t *recs = json_object_get(page, "records");
    assert_int_equal(json_array_size(recs), 5);
    for (size_t i = 0; i < 5; i++) {
        const char *got = json_string_value(json_object_get(json_array_get(recs, i), "id"));
        assert_true(strcmp(got, ids[0]) && strcmp(got, ids[3]));
    }
    json_decref(page);

    char big[SCRIM_REVIEW_NOTE_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(scrim_review_decide(f->rv, ids[1], "confirm", big, NULL, NULL,
                                         err, sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_review_decide(f->rv, ids[1], "confirm", "bad \xff utf8",
                                         NULL, NULL, err, sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "UTF-8"));
}

static uint64_t count_entries(fixture *f, const char *db)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

static void retention_and_purge(void **state)
{
    fixture *f = *state;
    char a[SCRIM_REVIEW_ID_LEN + 1], b[SCRIM_REVIEW_ID_LEN + 1], err[256];
    json_t *rec;
    add_record(f, "csam", 1, a);
    f->now += (int64_t)1800 * 1000000;
    add_record(f, "csam", 1, b);
    assert_int_equal(count_entries(f, "review.records"), 2);
    assert_int_equal(count_entries(f, "review.previews"), 4);

    /* Past a's retention (1 h): never served, even before it is purged. */
    f->now += (int64_t)1801 * 1000000;
    assert_int_equal(scrim_review_get(f->rv, a, &rec, err, sizeof err),
                     SCRIM_ENOTFOUND);
    uint8_t *d;
    size_t n;
    assert_int_equal(scrim_review_preview(f->rv, a, 1, &d, &n, err, sizeof err),
                     SCRIM_ENOTFOUND);
    json_t *page;
    assert_int_equal(scrim_review_list(f->rv, NULL, 10, &page, err, sizeof err), 0);
    assert_int_equal(json_array_size(json_object_get(page, "records")), 1);
    json_decref(page);
    assert_int_equal(scrim_review_get(f->rv, b, &rec, err, sizeof err), 0);
    json_decref(rec);

    /* The next write purges it, previews and all. */
    char c[SCRIM_REVIEW_ID_LEN + 1];
    add_record(f, "csam", 1, c);
    assert_int_equal(count_entries(f, "review.records"), 2);
    assert_int_equal(count_entries(f, "review.previews"), 4);
    assert_int_equal(count_entries(f, "review.pending"), 2);

    /* And the scheduled purge removes everything expired. */
    f->now += (int64_t)7200 * 1000000;
    uint64_t purged;
    assert_int_equal(scrim_review_purge(f->rv, &purged, err, sizeof err), 0);
    assert_int_equal(purged, 2);
    assert_int_equal(count_entries(f, "review.records"), 0);
    assert_int_equal(count_entries(f, "review.previews"), 0);
    assert_int_equal(count_entries(f, "review.pending"), 0);
}

static void default_retention_is_a_week(void **state)
{
    fixture *f = *state;
    scrim_review *rv;
    char id[SCRIM_REVIEW_ID_LEN + 1], err[256];
    json_t *rec;
    scrim_review_opts o = {.clock = test_clock, .clock_arg = &f->now};
    assert_int_equal(scrim_review_open(f->env, &o, &rv, err, sizeof err), 0);
    scrim_review *keep = f->rv;
    f->rv = rv;
    add_record(f, "csam", 1, id);
    f->now += (int64_t)(7 * 86400 - 1) * 1000000;
    assert_int_equal(scrim_review_get(rv, id, &rec, err, sizeof err), 0);
    json_decref(rec);
    f->now += 2000000;
    assert_int_equal(scrim_review_get(rv, id, &rec, err, sizeof err), SCRIM_ENOTFOUND);
    f->rv = keep;
    scrim_review_close(rv);
    o.retention = -5;
    assert_int_equal(scrim_review_open(f->env, &o, &rv, err, sizeof err), SCRIM_EINVAL);
}

static void list_levels(void **state)
{
    fixture *f = *state;
    scrim_preview_opts o;
    char err[256];
    assert_int_equal(scrim_review_list_level(f->rv, "csam", &o, err, sizeof err),
                     SCRIM_PREVIEW_STANDARD);
    assert_int_equal(o.detail, 24);
    assert_int_equal(scrim_review_list_level_set(f->rv, "csam", "strong", err,
                                                 sizeof err), 0);
    assert_int_equal(scrim_review_list_level_set(f->rv, "terror", "none", err,
                                                 sizeof err), 0);
    assert_int_equal(scrim_review_list_level_set(f->rv, "spam", "detail=40,blur=1",
                                                 err, sizeof err), 0);
    assert_int_equal(scrim_review_list_level(f->rv, "csam", &o, err, sizeof err),
                     SCRIM_PREVIEW_STRONG);
    assert_int_equal(o.detail, 12);
    assert_int_equal(scrim_review_list_level(f->rv, "terror", &o, err, sizeof err),
                     SCRIM_PREVIEW_NONE);
    assert_int_equal(scrim_review_list_level(f->rv, "spam", &o, err, sizeof err),
                     SCRIM_PREVIEW_CUSTOM);
    assert_true(o.blur == 1.0);

    /* Several lists: the most protective wins. */
    const char *l1[] = {"spam", "csam"}, *l2[] = {"spam", "terror", "csam"},
               *l3[] = {"spam", "other"};
    assert_int_equal(scrim_review_level_for(f->rv, l1, 2, &o, err, sizeof err),
                     SCRIM_PREVIEW_STRONG);
    assert_int_equal(scrim_review_level_for(f->rv, l2, 3, &o, err, sizeof err),
                     SCRIM_PREVIEW_NONE);
    assert_int_equal(scrim_review_level_for(f->rv, l3, 2, &o, err, sizeof err),
                     SCRIM_PREVIEW_STANDARD);
    assert_int_equal(o.detail, 24);

    json_t *all;
    assert_int_equal(scrim_review_list_levels(f->rv, &all, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(all, "terror")), "none");
    assert_string_equal(json_string_value(json_object_get(all, "csam")), "strong");
    assert_int_equal(json_object_size(all), 3);
    json_decref(all);

    assert_int_equal(scrim_review_list_level_set(f->rv, "csam", "default", err,
                                                 sizeof err), 0);
    assert_int_equal(scrim_review_list_level(f->rv, "csam", &o, err, sizeof err),
                     SCRIM_PREVIEW_STANDARD);
    assert_int_equal(scrim_review_list_level_set(f->rv, "csam", "blurry", err,
                                                 sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_review_list_level_set(f->rv, "bad/name", "strong", err,
                                                 sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "list name"));
}

/* Concurrent writers and readers from several threads. */
static void *writer(void *arg)
{
    fixture *f = arg;
    char id[SCRIM_REVIEW_ID_LEN + 1], err[256];
    json_t *m = json_array();
    for (int i = 0; i < 50; i++) {
        scrim_review_input in = {.kind = "image", .matches = m, .level = "none"};
        if (scrim_review_add(f->rv, &in, id, err, sizeof err))
            return (void *)1;
        json_t *rec;
        if (scrim_review_get(f->rv, id, &rec, err, sizeof err))
            return (void *)1;
        json_decref(rec);
    }
    json_decref(m);
    return NULL;
}

static void threads(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, f), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(count_entries(f, "review.records"), 200);
}


/* One record per upload and matches: the same SHA-256 matching the same
 * entries (in any order, at any distance) counts on the record; another
 * file, or other entries, make a new one; past the retention, a new one
 * again, and the purge takes the old key with its record. */
static int add_dedup(fixture *f, const char *sha, json_t *matches,
                     char id[SCRIM_REVIEW_ID_LEN + 1])
{
    char err[256];
    json_t *hashes = json_pack("{s:s, s:s}", "kind", "image", "sha256", sha);
    scrim_review_input in = {.kind = "image", .hashes = hashes,
                             .matches = matches, .level = "none"};
    int rc = scrim_review_add(f->rv, &in, id, err, sizeof err);
    json_decref(hashes);
    return rc;
}

static void one_record_per_upload_and_matches(void **state)
{
    fixture *f = *state;
    char a[SCRIM_REVIEW_ID_LEN + 1], b[SCRIM_REVIEW_ID_LEN + 1], err[256];
    const char *sha1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *sha2 = "2222222222222222222222222222222222222222222222222222222222222222";
    json_t *m12 = json_pack("[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}]",
                            "list", "l1", "type", "pdq", "hash", "ab", "distance", 3,
                            "list", "l2", "type", "md5", "hash", "cd", "distance", 0);
    json_t *m21 = json_pack("[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}]",
                            "list", "l2", "type", "md5", "hash", "cd", "distance", 0,
                            "list", "l1", "type", "pdq", "hash", "ab", "distance", 9);
    json_t *m1 = json_pack("[{s:s, s:s, s:s}]", "list", "l1", "type", "pdq", "hash", "ab");
    json_t *rec, *h1 = json_pack("{s:s}", "sha256", sha1);

    assert_int_equal(add_dedup(f, sha1, m12, a), 0);
    f->now += 1000000;
    assert_int_equal(add_dedup(f, sha1, m21, b), SCRIM_EEXIST);
    assert_string_equal(a, b);
    assert_int_equal(scrim_review_repeat(f->rv, h1, m12, b, err, sizeof err), 0);
    assert_string_equal(a, b);
    assert_int_equal(scrim_review_get(f->rv, a, &rec, err, sizeof err), 0);
    assert_int_equal(json_integer_value(json_object_get(rec, "seen")), 3);
    assert_true(json_real_value(json_object_get(rec, "last_seen")) ==
                (double)f->now / 1e6);
    assert_null(json_object_get(rec, "dedup"));
    json_decref(rec);
    assert_int_equal(count_entries(f, "review.records"), 1);

    assert_int_equal(add_dedup(f, sha2, m12, b), 0); /* another file */
    assert_string_not_equal(a, b);
    assert_int_equal(add_dedup(f, sha1, m1, b), 0);  /* other entries */
    assert_string_not_equal(a, b);
    assert_int_equal(count_entries(f, "review.records"), 3);
    assert_int_equal(count_entries(f, "review.dedup"), 3);
    /* no SHA-256 (a caller of old): no de-duplication */
    char c[SCRIM_REVIEW_ID_LEN + 1];
    scrim_review_input in = {.kind = "image", .matches = m1, .level = "none"};
    assert_int_equal(scrim_review_add(f->rv, &in, c, err, sizeof err), 0);
    assert_int_equal(scrim_review_add(f->rv, &in, b, err, sizeof err), 0);
    assert_string_not_equal(b, c);

    /* past the retention: a new record, and the purge took the old key */
    f->now += (int64_t)3601 * 1000000;
    assert_int_equal(scrim_review_repeat(f->rv, h1, m12, b, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_int_equal(add_dedup(f, sha1, m12, b), 0);
    assert_string_not_equal(a, b);
    uint64_t purged;
    assert_int_equal(scrim_review_purge(f->rv, &purged, err, sizeof err), 0);
    assert_int_equal(count_entries(f, "review.records"), 1);
    assert_int_equal(count_entries(f, "review.dedup"), 1);
    json_decref(h1);
    json_decref(m12);
    json_decref(m21);
    json_decref(m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(add_get_preview, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_ids_and_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(paging_and_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_and_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(default_retention_is_a_week, setup, teardown),
        cmocka_unit_test_setup_teardown(list_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(threads, setup, teardown),
        cmocka_unit_test_setup_teardown(one_record_per_upload_and_matches, setup, teardown),
    };
    return RUN_TESTS("test_preview_review", tests);
}
