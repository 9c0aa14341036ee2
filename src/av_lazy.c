/* av_lazy.c - FFmpeg's libraries opened on first use (see av_lazy.h). */
#define SCRIM__AV_LAZY_IMPL
#include "scrim.h"
#include "internal.h"
#include "av_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct scrim__av scrim__av;

#define STR_(x) #x
#define STR(x) STR_(x)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[256]; /* empty once loaded */

static void load(void)
{
    static const char *const names[] = {
        "libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR),
        "libavcodec.so." STR(LIBAVCODEC_VERSION_MAJOR),
        "libavformat.so." STR(LIBAVFORMAT_VERSION_MAJOR),
        "libswscale.so." STR(LIBSWSCALE_VERSION_MAJOR)};
    void *h[4];
    for (int i = 0; i < 4; i++)
        if (!(h[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL))) {
            snprintf(failure, sizeof failure, "%s", dlerror());
            return;
        }
    void *avutil = h[0], *avcodec = h[1], *avformat = h[2], *swscale = h[3];
    (void)avutil, (void)avcodec, (void)avformat, (void)swscale;
#define SCRIM__AV_SYM(lib, f)                                                 \
    if (!(*(void **)&scrim__av.f = dlsym(lib, #f))) {                         \
        snprintf(failure, sizeof failure, "%s has no %s", STR(lib), #f);      \
        return;                                                               \
    }
    SCRIM__AV_FUNCS(SCRIM__AV_SYM)
#undef SCRIM__AV_SYM
    /* libav* print nothing: problems come back as return codes */
    scrim__av.av_log_set_level(AV_LOG_QUIET);
}

int scrim__av_load(char *err, size_t errlen)
{
    if (pthread_once(&once, load) || failure[0]) {
        scrim__seterr(err, errlen, "video support unavailable: cannot load "
                      "FFmpeg (%s)", failure[0] ? failure : "pthread_once");
        return SCRIM_EFORMAT;
    }
    return SCRIM_OK;
}
