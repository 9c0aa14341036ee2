/* test_server.c - unit tests of scrimd's pieces that need no socket:
 * settings (ranges, config files, precedence, report round trip), the admin
 * token comparison, the worker pool's back-pressure and hand-back, the
 * Prometheus histogram bookkeeping, the SCRIM_E* -> HTTP error table, and
 * the strict framing scan (the same verdicts whatever pieces a stream
 * arrives in). */
#include "testutil.h"
#include "server/server.h"
#include "base/base.h"
#include "decode/decode.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <unistd.h>

static void settings_ranges(void **state)
{
    scrim_settings s;
    char err[512];
    scrim_settings_defaults(&s);
    assert_int_equal(s.request_timeout, 30);
    assert_int_equal(s.max_body, 64ULL << 20);

    assert_int_equal(scrim_settings_set(&s, "threads", "257", err, sizeof err),
                     SCRIM_EINVAL);
    assert_non_null(strstr(err, "from 0 to 256"));
    assert_int_equal(scrim_settings_set(&s, "threads", "4", err, sizeof err), 0);
    assert_int_equal(s.threads, 4);
    /* underscores and dashes name the same option */
    assert_int_equal(scrim_settings_set(&s, "max_body", "2M", err, sizeof err), 0);
    assert_int_equal(s.max_body, 2u << 20);
    assert_int_equal(scrim_settings_set(&s, "max-body", "1.5", err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "max-body", "-5", err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "request-timeout", "0.25", err,
                                        sizeof err), 0);
    assert_true(s.request_timeout == 0.25);
    assert_int_equal(scrim_settings_set(&s, "request-timeout", "nan", err,
                                        sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "listen", "localhost", err,
                                        sizeof err), SCRIM_EINVAL);
    /* origins are scheme://host[:port], nothing else */
    assert_int_equal(scrim_settings_set(&s, "allowed-origins",
                                        "https://a.example,http://b:8080", err,
                                        sizeof err), 0);
    assert_int_equal(scrim_settings_set(&s, "allowed-origins", "a.example", err,
                                        sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "http[s]://HOST[:PORT]"));
    assert_int_equal(scrim_settings_set(&s, "allowed-origins",
                                        "https://a.example/path", err,
                                        sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "admin-wait", "0", err, sizeof err), 0);
    assert_int_equal(scrim_settings_set(&s, "admin-wait", "-1", err, sizeof err),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "listen", "none", err, sizeof err), 0);
    assert_string_equal(s.listen, "");
    assert_int_equal(scrim_settings_set(&s, "allow-path", "rel/dir", err,
                                        sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_settings_set(&s, "bogus", "1", err, sizeof err),
                     SCRIM_EINVAL);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(scrim_settings_set(&s, "db", NULL, err, sizeof err),
                     SCRIM_EINVAL);
}

static void settings_file_and_precedence(void **state)
{
    char path[] = "/tmp/scrim-settings-XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\n\nthreads = 3\nqueue=7   # inline\n"
                       "allow-path = /tmp\nallow-path = /\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    scrim_settings s;
    int help, print;
    char *argv[] = {"scrimd", "--config", path, "--queue", "9", "--print-settings",
                    NULL};
    assert_int_equal(scrim_settings_resolve(&s, 6, argv, &help, &print, err,
                                            sizeof err), 0);
    assert_int_equal(s.threads, 3);   /* from the file */
    assert_int_equal(s.queue, 9);     /* the command line wins */
    assert_int_equal(s.n_allow_path, 2);
    assert_true(print);
    assert_false(help);

    /* The report reads back to the same settings. */
    char out[] = "/tmp/scrim-settings-out-XXXXXX";
    fd = mkstemp(out);
    FILE *f = fdopen(fd, "w");
    scrim_settings_write(&s, f);
    fclose(f);
    scrim_settings t;
    scrim_settings_defaults(&t);
    assert_int_equal(scrim_settings_load_file(&t, out, err, sizeof err), 0);
    memset(s.config, 0, sizeof s.config);   /* a file cannot name a file */
    assert_memory_equal(&s, &t, sizeof s);
    unlink(out);

    /* Errors name the file and the line. */
    f = fopen(path, "w");
    fputs("threads = 2\nno equals sign\n", f);
    fclose(f);
    assert_int_equal(scrim_settings_load_file(&s, path, err, sizeof err),
                     SCRIM_EINVAL);
    assert_non_null(strstr(err, ":2:"));
    unlink(path);
    assert_int_equal(scrim_settings_load_file(&s, path, err, sizeof err),
                     SCRIM_EIO);

    char *bad[] = {"scrimd", "stray", NULL};
    assert_int_equal(scrim_settings_resolve(&s, 2, bad, &help, &print, err,
                                            sizeof err), SCRIM_EINVAL);
    char *h[] = {"scrimd", "--threads", "999", "--help", NULL};
    assert_int_equal(scrim_settings_resolve(&s, 4, h, &help, &print, err,
                                            sizeof err), 0);
    assert_true(help);
}

static void token_compare(void **state)
{
    const char *want = "0123456789abcdef";
    assert_true(scrim__token_equal(want, 16, want));
    assert_false(scrim__token_equal("0123456789abcdeX", 16, want));
    assert_false(scrim__token_equal("0123456789abcde", 15, want));
    assert_false(scrim__token_equal("0123456789abcdef0", 17, want));
    assert_false(scrim__token_equal("", 0, want));
}

/* ---- the pool: a bounded queue, results back on the loop --------------- */

typedef struct item {
    scrim__pool_item it;
    int value, result;
} item;

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int delivered;

static void run_square(scrim__pool_item *it)
{
    item *x = (item *)it;
    pthread_mutex_lock(&gate);   /* held by the test to keep workers busy */
    pthread_mutex_unlock(&gate);
    x->result = x->value * x->value;
}

static struct event_base *loop_base;
static int want_total;

static void on_done_record(scrim__pool_item *it, void *arg)
{
    if (++delivered == *(int *)arg)
        event_base_loopexit(loop_base, NULL);
}

/* On the loop thread: every result arrives, computed. */
static void on_done_loop(scrim__pool_item *it, void *arg)
{
    item *x = (item *)it;
    assert_int_equal(x->result, x->value * x->value);
    if (++delivered == *(int *)arg)
        event_base_loopexit(loop_base, NULL);
}

static void pool_back_pressure(void **state)
{
    scrim__pool *p;
    item items[8];
    assert_int_equal(evthread_use_pthreads(), 0);
    loop_base = event_base_new();
    want_total = 0;
    delivered = 0;
    assert_int_equal(scrim__pool_new(1, 2, loop_base, run_square, on_done_loop,
                                     &want_total, &p), 0);
    pthread_mutex_lock(&gate);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        items[i].value = i;
        if (scrim__pool_submit(p, &items[i].it) == 0)
            accepted++;
        else
            refused++;
        if (i == 0)   /* let the single worker take the first one */
            while (scrim__pool_busy(p) == 0)
                usleep(1000);
    }
    /* one running + two queued; the rest refused at once */
    assert_int_equal(accepted, 3);
    assert_int_equal(refused, 5);
    assert_int_equal(scrim__pool_depth(p), 2);
    assert_false(scrim__pool_idle(p));
    want_total = accepted;
    pthread_mutex_unlock(&gate);
    /* done_ev is only ever activated, never added: keep the loop up. */
    event_base_loop(loop_base, EVLOOP_NO_EXIT_ON_EMPTY);
    assert_int_equal(delivered, 3);
    assert_true(scrim__pool_idle(p));
    scrim__pool_free(p);
    event_base_free(loop_base);
}

/* ---- the pool's fair queue: clients in turn --------------------------- */

static char run_order[16];
static int n_run;

static void run_record(scrim__pool_item *it)
{
    item *x = (item *)it;
    pthread_mutex_lock(&gate);
    run_order[n_run++] = (char)x->value;
    pthread_mutex_unlock(&gate);
}

static void pool_clients_in_turn(void **state)
{
    scrim__pool *p;
    static const char sub[] = "AAAABBC";   /* submitted in this order */
    item items[7];
    loop_base = event_base_new();
    delivered = 0;
    n_run = 0;
    int want = 7;
    assert_int_equal(scrim__pool_new_ex(1, 16, "test-pool", 0, loop_base,
                                        run_record, on_done_record, &want,
                                        &p), 0);
    pthread_mutex_lock(&gate);
    for (int i = 0; i < 7; i++) {
        items[i].value = sub[i];
        items[i].it.client = (uint64_t)sub[i];
        assert_int_equal(scrim__pool_submit(p, &items[i].it), 0);
        if (i == 0)   /* the single worker takes the first and blocks */
            while (scrim__pool_busy(p) == 0)
                usleep(1000);
    }
    assert_int_equal(scrim__pool_depth(p), 6);
    pthread_mutex_unlock(&gate);
    event_base_loop(loop_base, EVLOOP_NO_EXIT_ON_EMPTY);
    run_order[n_run] = '\0';
    /* A's 3 waiting jobs do not all run before B's and C's: one each */
    assert_string_equal(run_order, "AABCABA");
    scrim__pool_free(p);
    event_base_free(loop_base);
}

/* With --client-workers 1, a client's second job waits while another
 * client's runs on the second worker. */
static pthread_mutex_t starts_lock = PTHREAD_MUTEX_INITIALIZER;

static void run_start_record(scrim__pool_item *it)
{
    item *x = (item *)it;
    pthread_mutex_lock(&starts_lock);
    run_order[n_run++] = (char)x->value;
    pthread_mutex_unlock(&starts_lock);
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
}

static void pool_client_cap(void **state)
{
    scrim__pool *p;
    static const char sub[] = "AAB";
    item items[3];
    loop_base = event_base_new();
    delivered = 0;
    n_run = 0;
    int want = 3;
    assert_int_equal(scrim__pool_new_ex(2, 16, "test-pool", 0, loop_base,
                                        run_start_record, on_done_record,
                                        &want, &p), 0);
    scrim__pool_set_client_cap(p, 1);
    pthread_mutex_lock(&gate);
    for (int i = 0; i < 3; i++) {
        items[i].value = sub[i];
        items[i].it.client = (uint64_t)sub[i];
        assert_int_equal(scrim__pool_submit(p, &items[i].it), 0);
        if (i == 0)
            while (scrim__pool_busy(p) == 0)
                usleep(1000);
    }
    while (scrim__pool_busy(p) < 2)
        usleep(1000);
    pthread_mutex_lock(&starts_lock);
    run_order[n_run] = '\0';
    assert_string_equal(run_order, "AB");   /* not A's second */
    pthread_mutex_unlock(&starts_lock);
    assert_int_equal(scrim__pool_depth(p), 1);
    pthread_mutex_unlock(&gate);
    event_base_loop(loop_base, EVLOOP_NO_EXIT_ON_EMPTY);
    run_order[n_run] = '\0';
    assert_string_equal(run_order, "ABA");
    scrim__pool_free(p);
    event_base_free(loop_base);
}

static void histogram_buckets(void **state)
{
    scrim__route_stats rs;
    memset(&rs, 0, sizeof rs);
    scrim__metrics_request(&rs, 200, 0.5);
    scrim__metrics_request(&rs, 200, 3);
    scrim__metrics_request(&rs, 503, 99999);
    scrim__metrics_request(&rs, 418, 1);
    assert_int_equal(rs.count, 4);
    assert_int_equal(rs.hist[0], 2);                       /* <= 1 ms */
    assert_int_equal(rs.hist[2], 1);                       /* <= 5 ms */
    assert_int_equal(rs.hist[SCRIM__HIST_BUCKETS - 1], 1); /* +Inf */
    assert_int_equal(rs.by_status[scrim__metrics_status_index(200)], 2);
    assert_int_equal(rs.by_status[scrim__metrics_status_index(418)], 1);
    assert_int_equal(scrim__metrics_status_index(418),
                     scrim__metrics_status_index(299));    /* "other" */
}

/* One table answers every SCRIM_E* for every endpoint family: the status
 * and JSON "code" that scrim__call_fail() gives are the documented ones. */
static void error_table(void **state)
{
    static const struct { int rc, status; const char *code; } want[] = {
        {SCRIM_EINVAL, 400, "bad_request"}, {SCRIM_ENOMEM, 500, "no_memory"},
        {SCRIM_EIO, 500, "io"},             {SCRIM_EFORMAT, 415, "unsupported"},
        {SCRIM_ETOOBIG, 413, "too_large"},  {SCRIM_ECORRUPT, 415, "corrupt"},
        {SCRIM_EDB, 500, "database"},       {SCRIM_ENOTFOUND, 404, "not_found"},
        {SCRIM_EEXIST, 409, "exists"},      {SCRIM_ETIMEOUT, 504, "timeout"},
        {-9999, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        scrim_call c;
        memset(&c, 0, sizeof c);
        scrim__call_fail(&c, want[i].rc, "case %zu", i);
        assert_int_equal(c.status, want[i].status);
        assert_int_equal(scrim_http_status_of(want[i].rc), want[i].status);
        assert_string_equal(c.error_code, want[i].code);
        json_t *e = json_object_get(c.json, "error");
        assert_string_equal(json_string_value(json_object_get(e, "code")),
                            want[i].code);
        char msg[32];
        snprintf(msg, sizeof msg, "case %zu", i);
        assert_string_equal(json_string_value(json_object_get(e, "message")),
                            msg);
        json_decref(c.json);
    }
    /* No message: the library's text for the code. */
    scrim_call c;
    memset(&c, 0, sizeof c);
    scrim__call_fail(&c, SCRIM_ETOOBIG, "%s", "");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(c.json, "error"), "message")),
                        scrim_strerror(SCRIM_ETOOBIG));
    json_decref(c.json);
    assert_int_equal(scrim_http_status_of(SCRIM_OK), 200);
}

/* An error message quoting request bytes that are not UTF-8 (a list name
 * in the path; found fuzzing the endpoints) still makes a JSON error body:
 * it used to be lost, and the client got {}. */
static void error_message_not_utf8(void **state)
{
    scrim_call c = {0};
    assert_int_equal(scrim_call_error(&c, 400, "bad_request",
                                      "invalid list name '%s'", "8,\xcc\x01"),
                     SCRIM_EINVAL);
    assert_int_equal(c.status, 400);
    assert_non_null(c.json);
    json_t *e = json_object_get(c.json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "bad_request");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "invalid list name '8,?\x01'");
    json_decref(c.json);
    /* valid UTF-8 is kept as it is; each byte of a bad sequence is a '?'
     * (overlong, surrogate, past U+10FFFF, cut short) */
    char s[] = "caf\xc3\xa9 \xe2\x82\xac \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82";
    scrim__utf8_scrub(s);
    assert_string_equal(s, "caf\xc3\xa9 \xe2\x82\xac ?? ??? ???? ??");
}

/* The framing scan (guard.c) over a stream fed in pieces of `step` bytes,
 * the front drained as evhttp consumes it: how many requests pass the
 * check before the first that fails (*failed), of `asked`. */
static int framing_verdict(const char *in, size_t n, size_t step, int asked,
                           int *failed, char *why, size_t whylen)
{
    scrim__framing *f = scrim__framing_new();
    struct evbuffer *b = evbuffer_new();
    assert_non_null(f);
    assert_non_null(b);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        evbuffer_add(b, in + i, k);
        scrim__framing_feed(f, b, k);
        evbuffer_drain(b, evbuffer_get_length(b) / 2);
    }
    int passed = 0;
    *failed = 0;
    why[0] = '\0';
    while (passed < asked && !(*failed = scrim__framing_check(f, why, whylen) != 0))
        passed++;
    evbuffer_free(b);
    scrim__framing_free(f);
    return passed;
}

static void framing_scan(void **state)
{
    static const struct {
        const char *in;
        int passed, failed;   /* of 4 checks */
        const char *why;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
         "POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"
         "POST /b HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
         "3\r\nabc\r\n00a ; ext=\"1\"\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"
         "\r\nGET / HTTP/1.0\r\n\r\n", 4, 0, ""},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 0, 1,
         "more than one Content-Length"},
        {"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 0x1\r\n\r\nx", 1, 1,
         "not a decimal"},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n", 0, 1,
         "malformed chunk size"},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n\r\n0\r\n\r\n", 0, 1,
         "empty line"},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", 0, 1,
         "too large"},
        {"HEAD / HTTP/1.1\r\nContent-Length: 2\r\n\r\nGE", 0, 1, "HEAD"},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy", 0, 1,
         "ambiguous"},   /* incomplete when evhttp says it is whole */
    };
    char why[256], why1[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = strlen(cases[i].in);
        int failed, failed1;
        int passed = framing_verdict(cases[i].in, n, n, 4, &failed, why, sizeof why);
        if (passed != cases[i].passed || failed != cases[i].failed ||
            !strstr(why, cases[i].why))
            fail_msg("case %zu: passed %d failed %d '%s'", i, passed, failed, why);
        /* the same verdict whatever the pieces it arrives in */
        static const size_t steps[] = {1, 2, 3, 7, 64};
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            int p1 = framing_verdict(cases[i].in, n, steps[k], 4, &failed1, why1,
                                     sizeof why1);
            if (p1 != passed || failed1 != failed || strcmp(why, why1))
                fail_msg("case %zu, pieces of %zu: passed %d failed %d '%s'", i,
                         steps[k], p1, failed1, why1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_ranges),
        cmocka_unit_test(settings_file_and_precedence),
        cmocka_unit_test(token_compare),
        cmocka_unit_test(pool_back_pressure),
        cmocka_unit_test(pool_clients_in_turn),
        cmocka_unit_test(pool_client_cap),
        cmocka_unit_test(histogram_buckets),
        cmocka_unit_test(error_table),
        cmocka_unit_test(error_message_not_utf8),
        cmocka_unit_test(framing_scan),
    };
    return RUN_TESTS("server", tests);
}
