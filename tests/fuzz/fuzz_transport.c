/* fuzz_transport.c - libFuzzer: raw bytes on a connection to a real scrimd
 * (in this process: its event loop and workers on threads of their own,
 * its Unix socket and a loopback TCP port), so that they pass through what
 * a client's bytes meet: the strict framing scan and the memory budget
 * (guard.c, budget.c), libevent's parser, the Host and cross-site checks,
 * query strings, routing, the admin token and the handlers.
 *
 * Input: one byte of flags, then the bytes sent as they are.  Flags: bit 0
 * TCP instead of the Unix socket; bit 1 the bytes go out in pieces of
 * (bits 3-7) + 1 bytes with a short pause after each of the first 16, so
 * that the server scans them as they come; bit 2 the client then closes its
 * sending side and reads until the server closes (evhttp then answers the
 * first request only), else it reads until scrimd has been quiet for 20 ms
 * with no call in its queues, and closes (pipelined requests are answered).
 *
 * What must hold: scrimd neither crashes (the sanitizers watch its threads)
 * nor hangs (the connection closes within 20 s: the timeouts here are 2-4
 * s); every answer is well-formed HTTP; a 5xx is 503 or 504 (never the
 * server's fault); scrimd's own errors are JSON {"error": {"code", ...}}
 * and carry the anti-framing headers.  Each input that broke one of these
 * is kept in tests/fuzz/regress/transport/, and tests/fuzz_regress.t sends
 * them to bin/scrimd in every `make test`. */
#include "scrim.h"
#include "scrim/server.h"
#include "scrim/review.h"
#include "server/server.h"
#include "fuzz_util.h"
#include "../temp_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <event2/http.h>

#define TOKEN "fuzz-admin-token-0123456789abcdef"
#define HANG_SECONDS 20

static scrim_server *srv;
static scrim_review_server *review;
static pthread_t loop;
static char dir[] = "/tmp/scrim-fuzz-transport-XXXXXX";
static char sock_path[256];
static int tcp_port;
static char *answer;
static size_t answer_cap;

static void *loop_main(void *arg)
{
    (void)arg;
    scrim_server_run(srv);
    return NULL;
}

static void cleanup(void)
{
    scrim_server_stop(srv);
    pthread_join(loop, NULL);
    scrim_server_free(srv);
    scrim_review_server_free(review);
    free(answer);
    fuzz_rmdir(dir);
}

static void put_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        abort();
}

static void find_port(struct evhttp_bound_socket *b, void *arg)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &sl) &&
        ss.ss_family == AF_INET)
        *(int *)arg = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    scrim_settings s;
    fuzz_init(*argv);
    fuzz_tempdir(dir);
    temp_server_settings(&s, dir);
    snprintf(sock_path, sizeof sock_path, "%s", s.socket);
    snprintf(s.listen, sizeof s.listen, "127.0.0.1:0");
    put_file("admin.token", TOKEN "\n");
    put_file("reviewer.token", "fuzz-reviewer-token-0123456789\n");
    char p[512];
    snprintf(p, sizeof p, "%s/allowed", dir);
    if (mkdir(p, 0700))
        abort();
    put_file("allowed/a.txt", "not an image\n");
    snprintf(s.admin_token_file, sizeof s.admin_token_file, "%s/admin.token", dir);
    snprintf(s.reviewer_token_file, sizeof s.reviewer_token_file,
             "%s/reviewer.token", dir);
    snprintf(s.allow_path[0], sizeof s.allow_path[0], "%s", p);
    s.n_allow_path = 1;
    /* small limits, so that inputs reach them */
    s.max_body = 1 << 20;
    s.memory_budget = 8 << 20;
    s.max_decode_memory = 4 << 20;
    s.max_pixels = 1000000;
    s.request_timeout = 3;
    s.admin_wait = 2;
    s.receive_timeout = 2;
    s.idle_timeout = 2;
    s.threads = 2;
    s.max_compare_frames = 64;
    if (scrim_server_new(&s, *argc, *argv, &srv, err, sizeof err)) {
        fprintf(stderr, "server: %s\n", err);
        abort();
    }
    scrim_review_opts ro = {.retention = 3600};
    if (scrim_review_server_attach(srv, &ro, &review, err, sizeof err) ||
        scrim_video_server_attach(srv, err, sizeof err)) {
        fprintf(stderr, "attach: %s\n", err);
        abort();
    }
    evhttp_foreach_bound_socket(srv->http, find_port, &tcp_port);
    if (!tcp_port || pthread_create(&loop, NULL, loop_main, NULL))
        abort();
    atexit(cleanup);
    return 0;
}

static int connect_to(int tcp)
{
    int fd;
    if (tcp) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)tcp_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
    }
    fprintf(stderr, "cannot connect to scrimd: %s\n", strerror(errno));
    abort();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for fd to be readable or writable (events) until `end`; 0 on time. */
static int wait_fd(int fd, short events, double end)
{
    struct pollfd p = {.fd = fd, .events = events};
    double left = end - now_s();
    if (left <= 0)
        return 0;
    int r = poll(&p, 1, (int)(left * 1000) + 1);
    return r > 0;
}

/* Read what is there into answer (size *len); 0 at end of stream. */
static ssize_t read_some(int fd, size_t *len)
{
    if (answer_cap - *len < 65536) {
        answer_cap = answer_cap ? answer_cap * 2 : 1 << 20;
        answer = realloc(answer, answer_cap);
        if (!answer)
            abort();
    }
    ssize_t r = read(fd, answer + *len, answer_cap - *len - 1);
    if (r > 0)
        *len += (size_t)r;
    return r;
}

static void fail(const char *what, const char *at, size_t n)
{
    fprintf(stderr, "fuzz_transport: %s\n-- answer from there --\n%.*s\n", what,
            (int)(n < 600 ? n : 600), at);
    abort();
}

/* The value of header `name` in the head [h, h + n), or NULL; length in *vl. */
static const char *header(const char *h, size_t n, const char *name, size_t *vl)
{
    size_t nl = strlen(name);
    const char *end = h + n;
    for (const char *l = h; l < end;) {
        const char *e = memchr(l, '\n', (size_t)(end - l));
        if (!e)
            e = end;
        if ((size_t)(e - l) > nl && l[nl] == ':' && !strncasecmp(l, name, nl)) {
            const char *v = l + nl + 1;
            while (v < e && *v == ' ')
                v++;
            const char *ve = e;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vl = (size_t)(ve - v);
            return v;
        }
        l = e + 1;
    }
    return NULL;
}

/* The client closed its sending side: evhttp, seeing the end of the
 * stream while it writes an answer, may close the connection before the
 * answer's end (its Content-Length tells the client so; not
 * reproducible: timing). */
static int half_closed;

/* One answer at p (n bytes left): checked; returns its length. */
static size_t check_answer(const char *p, size_t n)
{
    /* evhttp's own refusals (its HTML 400 for a request it cannot parse)
     * repeat whatever version the request line had ("HTTP/1.-1"); they
     * close the connection, so nothing can be misread after them */
    const char *sp = n > 5 && !memcmp(p, "HTTP/", 5) ? memchr(p, ' ', n < 40 ? n : 40) : NULL;
    if (!sp || (size_t)(sp - p) + 4 > n)
        fail("not an HTTP status line", p, n);
    int odd = sp - p != 8 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1');
    int status = atoi(sp + 1);
    if (status < 100 || status > 599)
        fail("bad status", p, n);
    const char *he = memmem(p, n, "\r\n\r\n", 4);
    if (!he)
        fail("an answer's head cut short", p, n);
    size_t hl = (size_t)(he - p) + 4, vl = 0, body = 0;
    const char *cl = header(p, hl, "Content-Length", &vl);
    const char *ct = header(p, hl, "Content-Type", &vl);
    int json = ct && vl >= 16 && !strncmp(ct, "application/json", 16);
    const char *te = header(p, hl, "Transfer-Encoding", &vl);
    const char *b = p + hl;
    size_t left = n - hl;
    if (te) {   /* scrimd streams nothing today; accept chunked all the same */
        const char *q = b;
        for (;;) {
            char *e;
            unsigned long k = strtoul(q, &e, 16);
            const char *crlf = memmem(q, left - (size_t)(q - b), "\r\n", 2);
            if (!crlf || e == q)
                fail("bad chunked answer", p, n);
            q = crlf + 2 + k + 2;
            if ((size_t)(q - b) > left)
                fail("chunked answer cut short", p, n);
            if (!k)
                break;
        }
        body = (size_t)(q - b);
        json = 0;
    } else if (status < 200) {
        body = 0;   /* 100 Continue */
    } else if (cl) {
        body = strtoull(cl, NULL, 10);
        /* an answer to HEAD says its length and sends nothing: the next
         * answer (or the end) comes right after its head */
        if (body && (left == 0 || (left >= 7 && !memcmp(b, "HTTP/1.", 7) &&
                                   !(left >= body + 7 &&
                                     !memcmp(b + body, "HTTP/1.", 7)))))
            body = 0, json = 0;
        if (body > left && half_closed)
            return n;   /* the last one, cut short (above) */
        if (body > left)
            fail("an answer's body cut short", p, n);
    } else {
        body = left;   /* to the end of the stream */
    }
    if (odd && (!header(p, hl, "Connection", &vl) || hl + body != n))
        fail("an odd version on an answer that does not close", p, n);
    if (status >= 500 && status != 503 && status != 504)
        fail("a 5xx other than 503/504", p, hl + body);
    if (json) {
        if (!header(p, hl, "X-Frame-Options", &vl) ||
            !header(p, hl, "X-Content-Type-Options", &vl))
            fail("an answer without its anti-framing headers", p, hl);
        if (status >= 400) {
            json_error_t je;
            json_t *j = json_loadb(b, body, 0, &je);
            json_t *e = json_object_get(j, "error");
            if (!json_is_string(json_object_get(e, "code")) ||
                !json_is_string(json_object_get(e, "message")))
                fail("an error without {\"error\": {\"code\", \"message\"}}",
                     p, hl + body);
            json_decref(j);
        }
    }
    return hl + body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int flags = data[0];
    data++, size--;
    int fd = connect_to(flags & 1);
    size_t piece = (flags & 2) ? (size_t)(flags >> 3) + 1 : size;
    double end = now_s() + HANG_SECONDS;
    size_t sent = 0, got = 0;
    int pauses = 0, closed = 0;
    while (sent < size && !closed) {
        size_t k = size - sent < piece ? size - sent : piece;
        if (!wait_fd(fd, POLLOUT | POLLIN, end))
            fail("scrimd neither reads nor answers", answer, got);
        ssize_t w = send(fd, data + sent, k, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;   /* scrimd closed the connection: it may */
        if (w > 0)
            sent += (size_t)w;
        /* read as we go: scrimd stops reading while its answers wait */
        while (wait_fd(fd, POLLIN, now_s()) && !closed) {
            ssize_t r = read_some(fd, &got);
            if (r <= 0)
                closed = 1;
        }
        if ((flags & 2) && pauses < 16) {
            pauses++;
            usleep(200);
        }
    }
    if (flags & 4) {
        shutdown(fd, SHUT_WR);
        while (!closed) {
            if (!wait_fd(fd, POLLIN, end))
                fail("no end to the answers within 20 s", answer, got);
            ssize_t r = read_some(fd, &got);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                closed = 1;
        }
    } else {
        while (!closed) {
            if (now_s() > end)
                fail("answers still coming after 20 s", answer, got);
            if (!wait_fd(fd, POLLIN, now_s() + 0.02)) {
                if (scrim__pool_idle(srv->pool) && scrim__pool_idle(srv->vpool) &&
                    scrim__pool_idle(srv->apool))
                    break;
                continue;
            }
            ssize_t r = read_some(fd, &got);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                closed = 1;
        }
    }
    close(fd);
    half_closed = (flags & 4) != 0;
    for (size_t at = 0; at < got;)
        at += check_answer(answer + at, got - at);
    return 0;
}
