/* guard.c - what every request must pass before a handler runs, and what
 * every answer carries.
 *
 *  - Framing (request smuggling).  evhttp is lenient where a proxy in front
 *    may not be: it takes the first of several Content-Length lines, a
 *    Transfer-Encoding it does not know as none, chunk sizes such as "0x10",
 *    "+10", " 10" or "10 junk", empty lines between chunks, chunk data not
 *    followed by CRLF, and it never reads the body of a HEAD request.  A
 *    proxy that reads the same bytes otherwise can slip a second request
 *    past its own checks.  Each connection's input is scanned here as it
 *    arrives (before evhttp parses it) with the strict rules of RFC 9112; a
 *    request whose framing breaks them, or ends where evhttp's does not, is
 *    answered 400 and its connection closed.  The parsed headers are checked
 *    too (several or malformed Content-Length lines, Transfer-Encoding).
 *  - Host, over TCP (DNS rebinding: a page on evil.example whose name then
 *    resolves to 127.0.0.1 reaches the loopback listener with "Host:
 *    evil.example").  Allowed: IP literals (a rebinding always carries a
 *    name), the --listen host, and --allowed-hosts (default localhost).
 *    Others: 421.
 *  - Cross-site requests (a page elsewhere POSTing to localhost): a request
 *    whose Origin is neither this server's own (its Host) nor in
 *    --allowed-origins, or which says Sec-Fetch-Site: cross-site / same-site
 *    without such an Origin, is refused 403 on every endpoint but a GET or
 *    HEAD of a public page (/review, /healthz, /metrics).
 *  - Every answer: X-Frame-Options: DENY, CSP frame-ancestors 'none',
 *    X-Content-Type-Options: nosniff.
 * All on the event loop thread. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http_struct.h> /* the request's version numbers */

/* ==== framing: a strict scan of each connection's input ==================== */

enum {
    F_HEAD,        /* request line and header lines */
    F_BODY,        /* Content-Length bytes */
    F_CHUNK_SIZE,  /* a chunk-size line */
    F_CHUNK_DATA,  /* chunk bytes */
    F_CHUNK_CR,    /* the CR after them */
    F_CHUNK_LF,    /* the LF after them */
    F_TRAILER,     /* trailer lines, to an empty one */
    F_BAD          /* broken: nothing more is scanned */
};

#define ENDS 64            /* request ends remembered */
#define LINE_KEEP 256      /* bytes of a line kept (names, framing values) */
#define LINE_MAX_CHUNK 1024 /* longest chunk-size line, extensions included */

struct scrim__framing {
    int state;
    uint64_t added;        /* bytes ever added to the input */
    uint64_t scanned;      /* bytes of the stream scanned */
    char line[LINE_KEEP];
    char tail[16];         /* the line's last bytes, at [position % 16] */
    size_t line_len;       /* bytes of the current line so far (may be more
                            * than kept) */
    /* the request being scanned */
    int first;             /* its request line is still to come */
    int no_body;           /* HEAD, TRACE, unknown: evhttp reads no body */
    int n_cl, n_te;
    uint64_t cl;
    uint64_t left;         /* of the body or chunk */
    /* verdicts */
    uint64_t complete;     /* requests whose framing ended cleanly */
    uint64_t checked;      /* requests handed to scrim__framing_check */
    uint64_t bad_at;       /* index of the broken request (state F_BAD) */
    /* where requests end in the stream: a strict reading's (the last
     * ENDS, by index) and evhttp's, for the request it hands over now */
    uint64_t at;           /* the scan's offset in the stream */
    uint64_t ends[ENDS];
    uint64_t evhttp_end;
    int marked;
    char why[200];
};

scrim__framing *scrim__framing_new(void)
{
    scrim__framing *f = calloc(1, sizeof *f);
    if (f)
        f->first = 1;
    return f;
}

void scrim__framing_free(scrim__framing *f)
{
    free(f);
}

static void bad(scrim__framing *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad(scrim__framing *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    scrim__utf8_scrub(f->why);
    f->state = F_BAD;
    f->bad_at = f->complete;
}

static void request_done(scrim__framing *f)
{
    f->ends[f->complete % ENDS] = f->at;
    f->complete++;
    f->state = F_HEAD;
    f->first = 1;
    f->no_body = 0;
    f->n_cl = f->n_te = 0;
    f->cl = 0;
}

static void trim(const char **v, size_t *n)
{
    while (*n && ((*v)[0] == ' ' || (*v)[0] == '\t'))
        (*v)++, (*n)--;
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

/* Whether evhttp (2.1) reads a body for the request line l: for the
 * methods it knows but HEAD and TRACE; never for a method it does not know
 * (scrimd answers those 405, fuzz_transport). */
static int reads_body(const char *l, size_t n)
{
    static const char *const m[] = {"GET ", "POST ", "PUT ", "DELETE ",
                                    "OPTIONS ", "CONNECT ", "PATCH "};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (n >= strlen(m[i]) && !memcmp(l, m[i], strlen(m[i])))
            return 1;
    return 0;
}

/* One header line (without its line end; len may exceed what was kept). */
static void head_line(scrim__framing *f, const char *l, size_t len)
{
    size_t kept = len < LINE_KEEP ? len : LINE_KEEP;
    if (f->first) {
        f->first = 0;
        f->no_body = !reads_body(l, kept);
        /* evhttp takes "HTTP/0.5", "HTTP/1.7", "HTTP/1.-3" (any major up to
         * 1, any minor) and echoes it in its answer, whose framing is then
         * neither 1.0's nor 1.1's */
        char v[10] = "";
        for (size_t i = 0; len >= 9 && i < 9; i++)
            v[i] = f->tail[(len - 9 + i) % sizeof f->tail];
        if (strcmp(v, " HTTP/1.1") && strcmp(v, " HTTP/1.0"))
            bad(f, "the request line does not end in HTTP/1.1 or HTTP/1.0");
        return;
    }
    if (l[0] == ' ' || l[0] == '\t') {
        bad(f, "a header line folded onto the next (obsolete line folding)");
        return;
    }
    const char *colon = memchr(l, ':', kept);
    if (!colon)
        return;   /* evhttp refuses it itself */
    size_t nl = (size_t)(colon - l);
    if (!nl || memchr(l, ' ', nl) || memchr(l, '\t', nl)) {
        bad(f, "white space in a header name ('%.*s')", (int)(nl < 40 ? nl : 40), l);
        return;
    }
    int is_cl = nl == 14 && !strncasecmp(l, "Content-Length", 14);
    int is_te = nl == 17 && !strncasecmp(l, "Transfer-Encoding", 17);
    if (!is_cl && !is_te)
        return;
    const char *v = colon + 1;
    size_t vn = kept - nl - 1;
    if (len > LINE_KEEP) {
        bad(f, "%s header too long", is_cl ? "Content-Length" : "Transfer-Encoding");
        return;
    }
    trim(&v, &vn);
    if (is_cl) {
        if (++f->n_cl > 1) {
            bad(f, "more than one Content-Length header");
            return;
        }
        if (!vn || vn > 18 || strspn(v, "0123456789") < vn) {
            bad(f, "Content-Length '%.*s' is not a decimal number",
                (int)(vn < 40 ? vn : 40), v);
            return;
        }
        f->cl = strtoull(v, NULL, 10);
    } else {
        if (++f->n_te > 1) {
            bad(f, "more than one Transfer-Encoding header");
            return;
        }
        if (vn != 7 || strncasecmp(v, "chunked", 7)) {
            bad(f, "Transfer-Encoding '%.*s': only 'chunked' is accepted",
                (int)(vn < 40 ? vn : 40), v);
            return;
        }
    }
}

/* The end of the header lines: how the body is framed. */
static void head_end(scrim__framing *f)
{
    if (f->n_cl && f->n_te) {
        bad(f, "both Content-Length and Transfer-Encoding");
        return;
    }
    if (f->no_body && (f->n_te || f->cl)) {
        bad(f, "a body on a HEAD or TRACE request, or of an unknown method");
        return;
    }
    if (f->n_te) {
        f->state = F_CHUNK_SIZE;
    } else if (f->cl) {
        f->state = F_BODY;
        f->left = f->cl;
    } else {
        request_done(f);
    }
}

/* A chunk-size line, its CR already checked and dropped: 1-16 hex digits,
 * then nothing or white space and ';' extensions. */
static void chunk_size(scrim__framing *f, const char *l, size_t len)
{
    size_t kept = len < LINE_KEEP ? len : LINE_KEEP;
    size_t d = 0;
    uint64_t v = 0;
    while (d < kept && isxdigit((unsigned char)l[d])) {
        if (v >> 58) {
            bad(f, "chunk size %.20s... too large", l);
            return;
        }
        v = v << 4 | (uint64_t)(isdigit((unsigned char)l[d]) ? l[d] - '0'
                                                              : (l[d] | 32) - 'a' + 10);
        d++;
    }
    size_t e = d;
    while (e < kept && (l[e] == ' ' || l[e] == '\t'))
        e++;
    int ok = d > 0 && (d == len || (e < kept && l[e] == ';'));
    for (size_t i = e; ok && i < kept; i++)
        ok = (unsigned char)l[i] >= 0x20 && l[i] != 0x7f ? 1 : l[i] == '\t';
    if (!ok) {
        bad(f, "malformed chunk size '%.*s' (expected hex digits)",
            (int)(kept < 40 ? kept : 40), l);
        return;
    }
    if (v) {
        f->state = F_CHUNK_DATA;
        f->left = v;
    } else {
        f->state = F_TRAILER;
    }
}

/* Scan bytes [p, p + n) of the stream, which start at f->scanned. */
static void scan(scrim__framing *f, const char *p, size_t n)
{
    size_t i = 0;
    uint64_t base = f->scanned;
    while (i < n && f->state != F_BAD) {
        switch (f->state) {
        case F_BODY:
        case F_CHUNK_DATA: {
            size_t k = n - i < f->left ? n - i : (size_t)f->left;
            f->left -= k;
            i += k;
            f->at = base + i;
            if (!f->left) {
                if (f->state == F_BODY)
                    request_done(f);
                else
                    f->state = F_CHUNK_CR;
            }
            continue;
        }
        case F_CHUNK_CR:
        case F_CHUNK_LF:
            if (p[i] != (f->state == F_CHUNK_CR ? '\r' : '\n')) {
                bad(f, "chunk data not followed by CRLF");
                break;
            }
            f->state = f->state == F_CHUNK_CR ? F_CHUNK_LF : F_CHUNK_SIZE;
            i++;
            continue;
        default:
            break;
        }
        if (f->state == F_BAD)
            break;
        /* line states: F_HEAD, F_CHUNK_SIZE, F_TRAILER */
        char c = p[i++];
        /* evhttp reads a head's lines as C strings: a line that starts
         * with NUL is the empty line that ends the head for it, not for a
         * proxy (request smuggling, fuzz_transport) */
        if (!c && f->state != F_CHUNK_SIZE) {
            bad(f, "a NUL byte in the request's head");
            break;
        }
        if (c != '\n') {
            if (f->line_len < LINE_KEEP)
                f->line[f->line_len] = c;
            f->tail[f->line_len % sizeof f->tail] = c;
            f->line_len++;
            if (f->state == F_CHUNK_SIZE && f->line_len > LINE_MAX_CHUNK)
                bad(f, "chunk-size line over %d bytes", LINE_MAX_CHUNK);
            continue;
        }
        f->at = base + i;   /* past the line's end */
        size_t len = f->line_len;
        int cr = len && len <= LINE_KEEP && f->line[len - 1] == '\r';
        if (len > LINE_KEEP)
            cr = 1;   /* not kept: its end was checked by evhttp's limits */
        f->line_len = 0;
        if (cr)
            len--;
        if (f->state == F_HEAD) {
            if (!len) {
                if (f->first)
                    continue;   /* an empty line before a request */
                head_end(f);
            } else {
                head_line(f, f->line, len);
            }
        } else if (!cr) {
            bad(f, "a line of the chunked body ends in LF without CR");
        } else if (f->state == F_CHUNK_SIZE) {
            if (!len)
                bad(f, "an empty line where a chunk size was due");
            else
                chunk_size(f, f->line, len);
        } else if (!len) {   /* F_TRAILER */
            request_done(f);
        }
    }
}

void scrim__framing_feed(scrim__framing *f, struct evbuffer *buf, size_t n_added)
{
    if (!f)
        return;
    f->added += n_added;
    if (f->state == F_BAD)
        return;
    size_t len = evbuffer_get_length(buf);
    uint64_t first = f->added - len;   /* stream offset of the buffer's start */
    if (f->scanned < first) {
        bad(f, "input consumed before it was checked");
        return;
    }
    while (f->scanned < f->added && f->state != F_BAD) {
        /* Body bytes are only counted, never looked at.  evhttp leaves a
         * Content-Length body in this buffer until all of it has come, and
         * finding an offset in the buffer walks its chains from the start
         * (4 KB each): peeking at every read cost the square of the body's
         * size (12 uploads of 12 MB at once: 35-60 s instead of 0.3 s,
         * bench/attacks.sh bigbodies). */
        if (f->state == F_BODY || f->state == F_CHUNK_DATA) {
            uint64_t k = f->added - f->scanned;
            if (k > f->left)
                k = f->left;
            f->left -= k;
            f->scanned += k;
            f->at = f->scanned;
            if (!f->left) {
                if (f->state == F_BODY)
                    request_done(f);
                else
                    f->state = F_CHUNK_CR;
            }
            continue;
        }
        struct evbuffer_ptr at;
        struct evbuffer_iovec v[8];
        if (evbuffer_ptr_set(buf, &at, (size_t)(f->scanned - first),
                             EVBUFFER_PTR_SET))
            break;
        int nv = evbuffer_peek(buf, (ev_ssize_t)(f->added - f->scanned), &at, v, 8);
        if (nv <= 0)
            break;
        for (int k = 0; k < nv && k < 8 && f->state != F_BAD; k++) {
            size_t n = v[k].iov_len;
            if (n > f->added - f->scanned)
                n = (size_t)(f->added - f->scanned);
            scan(f, v[k].iov_base, n);
            f->scanned += n;
        }
    }
}

void scrim__framing_mark(scrim__framing *f, struct evbuffer *input)
{
    if (!f)
        return;
    f->evhttp_end = f->added - evbuffer_get_length(input);
    f->marked = 1;
}

int scrim__framing_check(scrim__framing *f, char *why, size_t n)
{
    if (!f)
        return 0;
    int marked = f->marked;
    f->marked = 0;
    uint64_t idx = f->checked++;
    if (f->state == F_BAD && f->bad_at <= idx) {
        snprintf(why, n, "%s", f->why);
        return -1;
    }
    if (f->complete <= idx) {
        snprintf(why, n, "the request's framing is ambiguous (its end is not "
                 "where a strict reading puts it)");
        return -1;
    }
    /* Counting alone passes a request that evhttp ends elsewhere when more
     * requests follow it: the ends themselves must agree. */
    if (marked && f->complete - idx <= ENDS && f->ends[idx % ENDS] != f->evhttp_end) {
        snprintf(why, n, "the request's framing is ambiguous (evhttp ends it at "
                 "byte %llu, a strict reading at byte %llu)",
                 (unsigned long long)f->evhttp_end,
                 (unsigned long long)f->ends[idx % ENDS]);
        return -1;
    }
    return 0;
}

/* ==== request checks ======================================================== */

/* The values of header `name` in h: the count, the first in *v. */
static int header_count(struct evkeyvalq *h, const char *name, const char **v)
{
    int n = 0;
    *v = NULL;
    for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next)
        if (!strcasecmp(kv->key, name)) {
            if (!n)
                *v = kv->value;
            n++;
        }
    return n;
}

/* The framing headers as evhttp parsed them (also when no scan ran). */
static int framing_headers(struct evkeyvalq *h, char *why, size_t n)
{
    const char *cl, *te;
    int ncl = header_count(h, "Content-Length", &cl);
    int nte = header_count(h, "Transfer-Encoding", &te);
    if (ncl > 1)
        snprintf(why, n, "more than one Content-Length header");
    else if (ncl && (!*cl || strspn(cl, "0123456789") != strlen(cl) ||
                     strlen(cl) > 18))
        snprintf(why, n, "Content-Length '%.40s' is not a decimal number", cl);
    else if (nte > 1)
        snprintf(why, n, "more than one Transfer-Encoding header");
    else if (nte && strcasecmp(te, "chunked"))
        snprintf(why, n, "Transfer-Encoding '%.40s': only 'chunked' is accepted", te);
    else if (ncl && nte)
        snprintf(why, n, "both Content-Length and Transfer-Encoding");
    else
        return 0;
    scrim__utf8_scrub(why);
    return -1;
}

/* Is the connection TCP (not the Unix socket)? */
static int over_tcp(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl))
        return 1;   /* unknown: checked as TCP */
    return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

/* "host[:port]" or "[v6][:port]" -> lower-case host (no brackets, no final
 * dot) and port (0 if none); -1 if malformed. */
static int split_host(const char *in, size_t len, char *host, size_t hn, int *port)
{
    const char *end = in + len, *h = in, *he, *pp = NULL;
    *port = 0;
    if (len && *in == '[') {
        h = in + 1;
        he = memchr(h, ']', len - 1);
        if (!he)
            return -1;
        if (he + 1 < end) {
            if (he[1] != ':')
                return -1;
            pp = he + 2;
        }
    } else {
        he = memchr(in, ':', len);
        if (he)
            pp = he + 1;
        else
            he = end;
    }
    if (pp) {
        if (pp == end || end - pp > 5)
            return -1;
        for (const char *q = pp; q < end; q++)
            if (!isdigit((unsigned char)*q))
                return -1;
        *port = atoi(pp);   /* stops at end: digits only, up to 5 */
        if (*port > 65535)
            return -1;
    }
    size_t n = (size_t)(he - h);
    if (n && h[n - 1] == '.')
        n--;
    if (!n || n >= hn)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '@')
            return -1;
        host[i] = (char)tolower(c);
    }
    host[n] = '\0';
    return 0;
}

static int is_ip_literal(const char *h)
{
    unsigned char a[16];
    return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/* Is host in the comma-separated list (names as split_host gives them)? */
static int host_listed(const char *list, const char *host)
{
    char one[256];
    int port;
    while (*list) {
        size_t n = strcspn(list, ",");
        const char *e = list;
        size_t en = n;
        trim(&e, &en);
        if (en == 1 && *e == '*')
            return 1;
        /* a bare IPv6 address in the list ("::1") has colons, no port */
        if (en && en < sizeof one && memchr(e, ':', en) && *e != '[') {
            memcpy(one, e, en);
            one[en] = '\0';
            for (char *c = one; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if (!strcmp(one, host))
                return 1;
        } else if (en && !split_host(e, en, one, sizeof one, &port) &&
                   !strcmp(one, host)) {
            return 1;
        }
        list += n + (list[n] == ',');
    }
    return 0;
}

static int host_allowed(const scrim_settings *s, const char *host)
{
    if (is_ip_literal(host) || host_listed(s->allowed_hosts, host))
        return 1;
    /* the --listen host, when it is a name */
    const char *colon = strrchr(s->listen, ':');
    char lh[256];
    int port;
    return colon && !split_host(s->listen, strlen(s->listen), lh, sizeof lh,
                                &port) && !strcmp(lh, host);
}

int scrim__guard_request(scrim__framing *f, struct evhttp_request *req,
                         const scrim_settings *s, scrim_call *c, int *close)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    char why[256];
    *close = 0;
    if (scrim__framing_check(f, why, sizeof why) ||
        framing_headers(h, why, sizeof why)) {
        *close = 1;
        /* the answer's status line repeats the request's version */
        if (req->major != 1 || (req->minor != 0 && req->minor != 1))
            req->major = 1, req->minor = 1;
        return scrim_call_error(c, 400, "bad_request", "request framing "
                                "refused: %s", why);
    }
    if (!over_tcp(req))
        return 0;
    const char *hv;
    int nh = header_count(h, "Host", &hv), port;
    char host[256];
    if (nh != 1)
        return scrim_call_error(c, 400, "bad_request", "a request over TCP "
                                "needs one Host header, got %d", nh);
    if (split_host(hv, strlen(hv), host, sizeof host, &port))
        return scrim_call_error(c, 400, "bad_request", "malformed Host header");
    if (!host_allowed(s, host))
        return scrim_call_error(c, 421, "host_not_allowed", "Host '%s' is not "
                                "a name this server answers to (an IP address, "
                                "the --listen host or --allowed-hosts)", host);
    return 0;
}

/* Is origin (scheme://host[:port]) the one the request was sent to (Host)? */
static int same_origin(const char *origin, const char *hostv)
{
    int https = !strncasecmp(origin, "https://", 8);
    if (!https && strncasecmp(origin, "http://", 7))
        return 0;
    const char *o = origin + (https ? 8 : 7);
    char oh[256], hh[256];
    int op, hp;
    if (!hostv || split_host(o, strlen(o), oh, sizeof oh, &op) ||
        split_host(hostv, strlen(hostv), hh, sizeof hh, &hp))
        return 0;
    int def = https ? 443 : 80;
    return !strcmp(oh, hh) && (op ? op : def) == (hp ? hp : def);
}

static int origin_listed(const char *list, const char *origin)
{
    size_t on = strlen(origin);
    while (on && origin[on - 1] == '/')
        on--;
    while (*list) {
        size_t n = strcspn(list, ",");
        const char *e = list;
        size_t en = n;
        trim(&e, &en);
        while (en && e[en - 1] == '/')
            en--;
        if (en == on && !strncasecmp(e, origin, on))
            return 1;
        list += n + (list[n] == ',');
    }
    return 0;
}

int scrim__guard_cross_site(struct evhttp_request *req, const scrim_settings *s,
                            int method, int route_flags, scrim_call *c)
{
    /* A page anywhere may link to /review or read /healthz and /metrics
     * (it cannot read the answer); everything else is refused. */
    if ((method == SCRIM_GET || method == SCRIM_HEAD) &&
        !(route_flags & (SCRIM_ROUTE_WORKER | SCRIM_ROUTE_ADMIN)))
        return 0;
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *origin, *site, *hostv;
    int no = header_count(h, "Origin", &origin);
    header_count(h, "Sec-Fetch-Site", &site);
    header_count(h, "Host", &hostv);
    if (no > 1)
        return scrim_call_error(c, 403, "cross_site", "more than one Origin "
                                "header");
    if (origin) {
        if (same_origin(origin, hostv) || origin_listed(s->allowed_origins, origin))
            return 0;
        char o[128];
        snprintf(o, sizeof o, "%s", origin);
        return scrim_call_error(c, 403, "cross_site", "cross-site request "
                                "refused: Origin '%s' is neither this server "
                                "nor in --allowed-origins", o);
    }
    if (site && (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site")))
        return scrim_call_error(c, 403, "cross_site", "cross-site request "
                                "refused (Sec-Fetch-Site: %s, no allowed "
                                "Origin)", !strcasecmp(site, "cross-site")
                                ? "cross-site" : "same-site");
    return 0;
}

void scrim__guard_reply_headers(struct evkeyvalq *out)
{
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Content-Security-Policy", "frame-ancestors 'none'");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
}
