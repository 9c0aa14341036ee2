/* util.c - library set-up, error names, and file reading. */
#include "scrim.h"
#include "base/base.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

void scrim__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Decoders of damaged streams may leave parts of a picture as they found
 * the memory: libde265 (HEVC, behind libheif) where no slice covers it,
 * FFmpeg's VP8 decoder in partly decoded frames.  The same file then hashes
 * differently on each decode, after other data, and a preview could show
 * bytes of an earlier upload.  While any image or video decode that can do
 * this runs (HEIF images, videos, contact sheets), glibc fills each new
 * allocation with a constant (M_PERTURB; and what is freed then).  Small
 * blocks recycled through glibc's per-thread cache (up to 1 KB) are not
 * filled.  It costs every thread a memset per allocation, so it is not
 * left on.  Under AddressSanitizer, mallopt does nothing: the tests and
 * fuzz_video set ASan's own fill instead (max_malloc_fill_size). */
static pthread_mutex_t fill_lock = PTHREAD_MUTEX_INITIALIZER;
static int fill_users;

double scrim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int scrim__grow(void *arr, size_t *cap, size_t n, size_t size, size_t first)
{
    void **p = arr;
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : first;
    void *q = realloc(*p, nc * size);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

float scrim__select_kth(float *v, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float x = v[i];
                v[i] = v[j];
                v[j] = x;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

void scrim__heap_fill(int on)
{
#ifdef M_PERTURB
    pthread_mutex_lock(&fill_lock);
    if (on ? fill_users++ == 0 : --fill_users == 0)
        mallopt(M_PERTURB, on ? 0xa5 : 0);
    pthread_mutex_unlock(&fill_lock);
#else
    (void)on;
#endif
}

/* One table: code, machine name, text. */
#define SCRIM_ERRORS(X)                                                       \
    X(SCRIM_OK, "ok", "success")                                              \
    X(SCRIM_EINVAL, "invalid", "invalid argument or malformed input")         \
    X(SCRIM_ENOMEM, "no_memory", "out of memory")                             \
    X(SCRIM_EIO, "io", "input/output error")                                  \
    X(SCRIM_EFORMAT, "unsupported", "not a supported image or video")         \
    X(SCRIM_ETOOBIG, "too_large", "over a configured size limit")             \
    X(SCRIM_ECORRUPT, "corrupt", "truncated or corrupt media")                \
    X(SCRIM_EDB, "database", "database error")                                \
    X(SCRIM_ENOTFOUND, "not_found", "not found")                              \
    X(SCRIM_EEXIST, "exists", "already exists")                               \
    X(SCRIM_ETIMEOUT, "timeout", "time budget exhausted")                     \
    X(SCRIM_EBUSY, "busy", "a shared budget is spent; retry later")

const char *scrim_strerror(int code)
{
#define X(c, n, t) if (code == c) return t;
    SCRIM_ERRORS(X)
#undef X
    return "unknown error";
}

const char *scrim_errname(int code)
{
#define X(c, n, t) if (code == c) return n;
    SCRIM_ERRORS(X)
#undef X
    return "unknown";
}

/* libvips warns on stderr about damaged input it works around; scrim reports
 * input problems through return codes instead, so these are dropped. */
static void quiet_log(const gchar *domain, GLogLevelFlags level,
                      const gchar *msg, gpointer data)
{
    (void)domain, (void)level, (void)msg, (void)data;
}

/* libvips starts once, on the first call of scrim__vips(): from scrim_init(),
 * or, after scrim_init_lazy(), from the first decode that needs it (JPEGs
 * mostly do not).  Starting it loads libvips' modules (HEIF, JPEG XL, ...),
 * about half of a short CLI run's start-up. */
static const char *vips_argv0 = "scrim";
static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_rc, vips_started;
static char vips_failure[320];

static void vips_start(void)
{
    if (scrim__vips_load(vips_failure, sizeof vips_failure)) {
        vips_rc = SCRIM_EFORMAT;
        return;
    }
    if (VIPS_INIT(vips_argv0)) {
        snprintf(vips_failure, sizeof vips_failure, "cannot initialise libvips");
        vips_rc = SCRIM_EINVAL;
        return;
    }
    vips_block_untrusted_set(TRUE);
    if (!getenv("SCRIM_VIPS_WARNINGS"))
        g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, quiet_log, NULL);
    /* No operation cache: every upload is new, and what a cache kept
     * (pixels of past requests) would be memory outside the budget. */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    /* Parallelism comes from hashing many images at once, not from
     * splitting one image across threads. */
    vips_concurrency_set(1);
    vips_started = 1;
}

int scrim__vips(char *err, size_t errlen)
{
    pthread_once(&vips_once, vips_start);
    if (vips_rc)
        scrim__seterr(err, errlen, "%s", vips_failure);
    return vips_rc;
}

int scrim__vips_started(void)
{
    return vips_started;
}

int scrim_init_lazy(const char *argv0)
{
    if (argv0)
        vips_argv0 = argv0;
    return SCRIM_OK;
}

int scrim_init(const char *argv0)
{
    scrim_init_lazy(argv0);
    return scrim__vips(NULL, 0);
}

void scrim_shutdown(void)
{
    if (vips_started)
        vips_shutdown();
}

void scrim__utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2
              : *p >= 0xe0 && *p <= 0xef ? 3 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
        int ok = n > 0;
        for (int k = 1; ok && k < n; k++)
            ok = (p[k] & 0xc0) == 0x80;
        /* no overlong 3- and 4-byte forms, no surrogates, nothing past
         * U+10FFFF */
        if (ok && n == 3)
            ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
        if (ok && n == 4)
            ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

int scrim_read_file(const char *path, size_t max_bytes, uint8_t **data,
                    size_t *len, char *err, size_t errlen)
{
    int stdin_ = !strcmp(path, "-");
    FILE *f = stdin_ ? stdin : fopen(path, "rb");
    *data = NULL;
    *len = 0;
    if (!f) {
        scrim__seterr(err, errlen, "cannot open: %s", strerror(errno));
        return SCRIM_EIO;
    }
    struct stat st;
    if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
        scrim__seterr(err, errlen, "is a directory");
        if (!stdin_)
            fclose(f);
        return SCRIM_EIO;
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1
                                                        : 1 << 16;
    if (cap > max_bytes + 1)
        cap = max_bytes + 1;
    uint8_t *buf = malloc(cap);
    size_t n = 0;
    int rc = SCRIM_OK;
    if (!buf) {
        rc = SCRIM_ENOMEM;
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                scrim__seterr(err, errlen, "file too large (over %zu bytes)",
                              max_bytes);
                rc = SCRIM_ETOOBIG;
                goto out;
            }
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                rc = SCRIM_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                scrim__seterr(err, errlen, "read error: %s", strerror(errno));
                rc = SCRIM_EIO;
                goto out;
            }
            break;
        }
    }
    if (n > max_bytes) {
        scrim__seterr(err, errlen, "file too large (over %zu bytes)", max_bytes);
        rc = SCRIM_ETOOBIG;
        goto out;
    }
out:
    if (!stdin_)
        fclose(f);
    if (rc) {
        free(buf);
        if (rc == SCRIM_ENOMEM)
            scrim__seterr(err, errlen, "out of memory");
        return rc;
    }
    *data = buf;
    *len = n;
    return SCRIM_OK;
}
