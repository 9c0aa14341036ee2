/* lazy.c - FFmpeg, libvips and libpq opened on first use (lazy_av.h,
 * lazy_vips.h, lazy_pq.h):
 * dlopen of the libraries the headers were for, then every function scrim
 * calls looked up once into a table of pointers. */
#define SCRIM__LAZY_IMPL
#include "scrim.h"
#include "base/base.h"
#include "base/lazy_av.h"
#include "base/lazy_vips.h"
#include "base/lazy_pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct scrim__av scrim__av;
struct scrim__vipsfn scrim__vipsfn;
struct scrim__pqfn scrim__pqfn;

/* One set of libraries: their file names, and for each function its name,
 * its library (index into names) and its slot. */
typedef struct lazy_set {
    const char *what;
    int nlib;
    const char *libs[4];
    size_t nfn;
    const char *const *fn;
    const int *lib_of;
    void **const *slot;
    pthread_once_t once;
    char failure[256]; /* empty once loaded */
} lazy_set;

static void lazy_open(lazy_set *s)
{
    void *h[4];
    for (int i = 0; i < s->nlib; i++)
        if (!(h[i] = dlopen(s->libs[i], RTLD_NOW | RTLD_LOCAL))) {
            snprintf(s->failure, sizeof s->failure, "%s", dlerror());
            return;
        }
    for (size_t k = 0; k < s->nfn; k++)
        if (!(*s->slot[k] = dlsym(h[s->lib_of[k]], s->fn[k]))) {
            snprintf(s->failure, sizeof s->failure, "%s has no %s",
                     s->libs[s->lib_of[k]], s->fn[k]);
            return;
        }
}

static int lazy_load(lazy_set *s, void (*once)(void), char *err, size_t errlen)
{
    if (pthread_once(&s->once, once) || s->failure[0]) {
        scrim__seterr(err, errlen, "%s unavailable: cannot load %s", s->what,
                      s->failure[0] ? s->failure : "(pthread_once failed)");
        return SCRIM_EFORMAT;
    }
    return SCRIM_OK;
}

#define STR_(x) #x
#define STR(x) STR_(x)
#define NAME(lib, f) #f,
#define SLOT(lib, f) (void **)&scrim__av.f,
#define VSLOT(lib, f) (void **)&scrim__vipsfn.f,
#define PSLOT(lib, f) (void **)&scrim__pqfn.f,
enum { avutil, avcodec, avformat, swscale };
#define LIB(lib, f) lib,

/* ---- FFmpeg ---- */
static const char *const av_fn[] = {SCRIM__AV_FUNCS(NAME)};
static const int av_lib[] = {SCRIM__AV_FUNCS(LIB)};
static void **const av_slot[] = {SCRIM__AV_FUNCS(SLOT)};
static lazy_set av_set = {
    "video support", 4,
    {"libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR),
     "libavcodec.so." STR(LIBAVCODEC_VERSION_MAJOR),
     "libavformat.so." STR(LIBAVFORMAT_VERSION_MAJOR),
     "libswscale.so." STR(LIBSWSCALE_VERSION_MAJOR)},
    sizeof av_fn / sizeof *av_fn, av_fn, av_lib, av_slot, PTHREAD_ONCE_INIT, ""};

static void av_once(void)
{
    lazy_open(&av_set);
    if (!av_set.failure[0]) /* problems come back as return codes */
        scrim__av.av_log_set_level(AV_LOG_QUIET);
}

int scrim__av_load(char *err, size_t errlen)
{
    return lazy_load(&av_set, av_once, err, errlen);
}

/* ---- libvips ---- */
enum { vips };
static const char *const vips_fn[] = {SCRIM__VIPS_FUNCS(NAME)};
static const int vips_lib[] = {SCRIM__VIPS_FUNCS(LIB)};
static void **const vips_slot[] = {SCRIM__VIPS_FUNCS(VSLOT)};
static lazy_set vips_set = {
    "image decoding beyond JPEG", 1,
    {NULL}, /* libvips.so.(CURRENT - AGE): vips_once */
    sizeof vips_fn / sizeof *vips_fn, vips_fn, vips_lib, vips_slot,
    PTHREAD_ONCE_INIT, ""};

static void vips_once(void)
{
    static char name[32];
    snprintf(name, sizeof name, "libvips.so.%d",
             VIPS_LIBRARY_CURRENT - VIPS_LIBRARY_AGE);
    vips_set.libs[0] = name;
    lazy_open(&vips_set);
}

int scrim__vips_load(char *err, size_t errlen)
{
    return lazy_load(&vips_set, vips_once, err, errlen);
}

/* ---- libpq (scrimd --cluster) ---- */
enum { pq };
static const char *const pq_fn[] = {SCRIM__PQ_FUNCS(NAME)};
static const int pq_lib[] = {SCRIM__PQ_FUNCS(LIB)};
static void **const pq_slot[] = {SCRIM__PQ_FUNCS(PSLOT)};
static lazy_set pq_set = {
    "PostgreSQL (cluster mode)", 1, {"libpq.so.5"},
    sizeof pq_fn / sizeof *pq_fn, pq_fn, pq_lib, pq_slot, PTHREAD_ONCE_INIT,
    ""};

static void pq_once(void)
{
    lazy_open(&pq_set);
}

int scrim__pq_load(char *err, size_t errlen)
{
    return lazy_load(&pq_set, pq_once, err, errlen);
}
