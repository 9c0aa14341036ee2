/* test_reviewers.c - reviewer accounts and exposure in LMDB with a test
 * clock: tokens found by their hash only, disable and remove, per-day rows
 * and the week (the last 7 UTC days), caps counted in the same transaction,
 * the log and its paging, rows and events deleted after 90 days, content
 * warnings, bad input. */
#include "testutil.h"
#include "scrim/reviewers.h"

#include <lmdb.h>
#include <unistd.h>

#define DAY ((int64_t)86400 * 1000000)

typedef struct fixture {
    char *dir;
    MDB_env *env;
    scrim_reviewers *r;
    int64_t now;        /* the test clock, microseconds */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!(f->env = test_lmdb_env("reviewers", (size_t)1 << 28, &f->dir)))
        return -1;
    /* noon, UTC */
    f->now = ((int64_t)1700000000 / 86400 * 86400 + 43200) * 1000000;
    if (scrim_reviewers_open_existing(f->env, test_clock, &f->now, &f->r, err,
                                      sizeof err) != SCRIM_ENOTFOUND ||
        scrim_reviewers_open(f->env, test_clock, &f->now, &f->r, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    scrim_reviewers_close(f->r);
    test_lmdb_env_close(f->env, f->dir);
    free(f);
    return 0;
}

static void accounts(void **state)
{
    fixture *f = *state;
    char tok[SCRIM_REVIEWER_TOKEN_LEN + 1], tok2[SCRIM_REVIEWER_TOKEN_LEN + 1];
    char err[256];
    json_t *a = NULL;
    assert_int_equal(scrim_reviewer_add(f->r, "ann", NULL, tok, &a, err, sizeof err), 0);
    assert_int_equal(strlen(tok), 64);
    assert_string_equal(json_string_value(json_object_get(a, "role")), "reviewer");
    assert_null(json_object_get(a, "hash"));   /* never shown */
    json_decref(a);
    assert_int_equal(scrim_reviewer_add(f->r, "ann", "lead", tok2, NULL, err, sizeof err),
                     SCRIM_EEXIST);
    assert_int_equal(scrim_reviewer_add(f->r, "ben", "lead", tok2, NULL, err, sizeof err), 0);
    assert_string_not_equal(tok, tok2);
    const char *bad[] = {"", "admin", "reviewer", "anonymous", "a b", "a/b",
                         "x123456789012345678901234567890123456789012345678901234567890123456"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(scrim_reviewer_add(f->r, bad[i], NULL, tok2, NULL, err,
                                            sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_reviewer_add(f->r, "cy", "boss", tok2, NULL, err, sizeof err),
                     SCRIM_EINVAL);

    /* found by the token, not by anything like it */
    assert_int_equal(scrim_reviewer_by_token(f->r, tok, &a, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "ann");
    json_decref(a);
    char near[SCRIM_REVIEWER_TOKEN_LEN + 1];
    memcpy(near, tok, sizeof near);
    near[0] = near[0] == '0' ? '1' : '0';
    assert_int_equal(scrim_reviewer_by_token(f->r, near, &a, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_int_equal(scrim_reviewer_by_token(f->r, "", &a, err, sizeof err),
                     SCRIM_ENOTFOUND);

    /* disabled: still found, marked */
    assert_int_equal(scrim_reviewer_set_disabled(f->r, "ann", 1, err, sizeof err), 0);
    assert_int_equal(scrim_reviewer_by_token(f->r, tok, &a, err, sizeof err), 0);
    assert_true(json_is_true(json_object_get(a, "disabled")));
    json_decref(a);
    assert_int_equal(scrim_reviewer_set_disabled(f->r, "nobody", 1, err, sizeof err),
                     SCRIM_ENOTFOUND);

    /* prefs */
    assert_int_equal(scrim_reviewer_prefs(f->r, "ann", "12", 1, &a, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(a, "level")), "strong");
    assert_true(json_is_true(json_object_get(a, "no_pictures")));
    json_decref(a);
    assert_int_equal(scrim_reviewer_prefs(f->r, "ann", "blurry", -1, NULL, err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_reviewer_prefs(f->r, "ann", "default", 0, &a, err, sizeof err), 0);
    assert_true(json_is_null(json_object_get(a, "level")));
    assert_true(json_is_false(json_object_get(a, "no_pictures")));
    json_decref(a);

    /* listed in name order; removed: the token goes too */
    assert_int_equal(scrim_reviewer_list(f->r, &a, err, sizeof err), 0);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "name")), "ben");
    json_decref(a);
    assert_int_equal(scrim_reviewer_remove(f->r, "ann", err, sizeof err), 0);
    assert_int_equal(scrim_reviewer_by_token(f->r, tok, &a, err, sizeof err),
                     SCRIM_ENOTFOUND);
    assert_int_equal(scrim_reviewer_remove(f->r, "ann", err, sizeof err), SCRIM_ENOTFOUND);
    /* the same name again gets a new token; the old one stays refused */
    assert_int_equal(scrim_reviewer_add(f->r, "ann", NULL, tok2, NULL, err, sizeof err), 0);
    assert_int_equal(scrim_reviewer_by_token(f->r, tok, &a, err, sizeof err),
                     SCRIM_ENOTFOUND);
}

static json_int_t figure(json_t *e, const char *period, const char *what)
{
    return json_integer_value(json_object_get(json_object_get(e, period), what));
}

static void exposure_days_and_week(void **state)
{
    fixture *f = *state;
    char err[256];
    json_t *e;
    scrim_exposure one_preview = {.previews = 1}, one_reveal = {.reveals = 1},
                   secs = {.seconds = 2.5}, item = {.items = 1};
    /* 9 days: a preview each day, a reveal on even days */
    for (int d = 0; d < 9; d++) {
        assert_int_equal(scrim_exposure_count(f->r, "ann", &one_preview, NULL, NULL,
                                              NULL, err, sizeof err), 0);
        if (d % 2 == 0)
            assert_int_equal(scrim_exposure_count(f->r, "ann", &one_reveal, NULL,
                                                  NULL, NULL, err, sizeof err), 0);
        if (d < 8)
            f->now += DAY;
    }
    assert_int_equal(scrim_exposure_count(f->r, "ann", &secs, NULL, NULL, NULL, err,
                                          sizeof err), 0);
    assert_int_equal(scrim_exposure_count(f->r, "ann", &item, NULL, NULL, NULL, err,
                                          sizeof err), 0);
    assert_int_equal(scrim_exposure_get(f->r, "ann", &e, err, sizeof err), 0);
    assert_int_equal(figure(e, "today", "previews"), 1);
    assert_int_equal(figure(e, "today", "reveals"), 1);     /* day 8 */
    assert_int_equal(figure(e, "today", "items"), 1);
    assert_true(json_number_value(json_object_get(json_object_get(e, "today"),
                                                  "seconds")) == 2.5);
    assert_int_equal(figure(e, "week", "previews"), 7);     /* days 2..8 */
    assert_int_equal(figure(e, "week", "reveals"), 4);      /* 2, 4, 6, 8 */
    assert_int_equal(json_array_size(json_object_get(e, "days")), 9);
    json_decref(e);
    /* another reviewer's rows are not hers (a name that is a prefix) */
    assert_int_equal(scrim_exposure_count(f->r, "an", &one_preview, NULL, NULL, NULL,
                                          err, sizeof err), 0);
    assert_int_equal(scrim_exposure_get(f->r, "ann", &e, err, sizeof err), 0);
    assert_int_equal(figure(e, "today", "previews"), 1);
    json_decref(e);

    /* 90 days on: the first count of the day deletes the old rows */
    f->now += 91 * DAY;
    assert_int_equal(scrim_exposure_count(f->r, "ann", &one_preview, NULL, NULL, NULL,
                                          err, sizeof err), 0);
    assert_int_equal(scrim_exposure_get(f->r, "ann", &e, err, sizeof err), 0);
    assert_int_equal(json_array_size(json_object_get(e, "days")), 1);
    assert_int_equal(figure(e, "week", "previews"), 1);
    json_decref(e);
}

static void caps(void **state)
{
    fixture *f = *state;
    char err[256];
    const char *which;
    scrim_exposure cap = {.reveals = 2, .items = 3}, today;
    scrim_exposure rev = {.reveals = 1}, prev = {.previews = 1}, item = {.items = 1};
    for (int i = 0; i < 2; i++)
        assert_int_equal(scrim_exposure_count(f->r, "ann", &rev, &cap, &which, &today,
                                              err, sizeof err), 0);
    assert_int_equal(scrim_exposure_count(f->r, "ann", &rev, &cap, &which, &today, err,
                                          sizeof err), SCRIM_EBUSY);
    assert_string_equal(which, "reveals");
    assert_int_equal(today.reveals, 2);
    assert_int_equal(today.refused, 1);
    /* previews are not capped by reveals */
    assert_int_equal(scrim_exposure_count(f->r, "ann", &prev, &cap, &which, NULL, err,
                                          sizeof err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(scrim_exposure_count(f->r, "ann", &item, &cap, &which, NULL,
                                              err, sizeof err), 0);
    assert_int_equal(scrim_exposure_count(f->r, "ann", &prev, &cap, &which, &today, err,
                                          sizeof err), SCRIM_EBUSY);
    assert_string_equal(which, "items");
    assert_int_equal(today.previews, 1);
    /* a new day: the caps start again */
    f->now += DAY;
    assert_int_equal(scrim_exposure_count(f->r, "ann", &rev, &cap, &which, &today, err,
                                          sizeof err), 0);
    assert_int_equal(today.reveals, 1);
    assert_int_equal(today.refused, 0);
}

static void log_and_warnings(void **state)
{
    fixture *f = *state;
    char err[256];
    json_t *out;
    for (int i = 0; i < 5; i++) {
        json_t *ev = json_pack("{s:s, s:s, s:i}", "who", i % 2 ? "ben" : "ann",
                               "event", "reveal", "n", i);
        assert_int_equal(scrim_review_log_add(f->r, ev, err, sizeof err), 0);
        json_decref(ev);
        f->now += 1000;
    }
    assert_int_equal(scrim_review_log_list(f->r, "ann", 0, 2, &out, err, sizeof err), 0);
    json_t *ev = json_object_get(out, "events");
    assert_int_equal(json_array_size(ev), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 1), "n")), 2);
    double next = json_number_value(json_object_get(out, "next"));
    json_decref(out);
    assert_int_equal(scrim_review_log_list(f->r, "ann", next, 2, &out, err, sizeof err), 0);
    ev = json_object_get(out, "events");
    assert_int_equal(json_array_size(ev), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 0), "n")), 4);
    assert_true(json_is_null(json_object_get(out, "next")));
    json_decref(out);
    assert_int_equal(scrim_review_log_list(f->r, NULL, 0, 0, &out, err, sizeof err),
                     SCRIM_EINVAL);

    assert_int_equal(scrim_review_warning_set(f->r, "gore", "graphic violence", err,
                                              sizeof err), 0);
    assert_int_equal(scrim_review_warning_set(f->r, "bad name", "x", err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_review_warning_set(f->r, "gore", "a\nb", err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_review_warning_set(f->r, "gore", "\xff\xfe", err, sizeof err),
                     SCRIM_EINVAL);
    char big[SCRIM_REVIEW_WARNING_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(scrim_review_warning_set(f->r, "gore", big, err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_review_warnings(f->r, &out, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "gore")), "graphic violence");
    json_decref(out);
    assert_int_equal(scrim_review_warning_set(f->r, "gore", "", err, sizeof err), 0);
    assert_int_equal(scrim_review_warnings(f->r, &out, err, sizeof err), 0);
    assert_int_equal(json_object_size(out), 0);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(exposure_days_and_week, setup, teardown),
        cmocka_unit_test_setup_teardown(caps, setup, teardown),
        cmocka_unit_test_setup_teardown(log_and_warnings, setup, teardown),
    };
    return RUN_TESTS("test_reviewers", tests);
}
