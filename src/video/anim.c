/* anim.c - animated WebP as video: this FFmpeg has no animated-WebP
 * decoder, so libvips decodes the frames and they are sampled by vPDQ's rule
 * with a frame rate taken from the frames' delays. */
#include "scrim.h"
#include "base/base.h"
#include "hash/hash.h"
#include "decode/decode.h"
#include "video/video.h"

#include <math.h>
#include <string.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

int scrim__is_webp(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    return len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4);
}

static void vips_msg(char *err, size_t errlen, const char *what)
{
    const char *m = vips_error_buffer();
    char line[256];
    size_t n = strcspn(m, "\n");
    snprintf(line, sizeof line, "%.*s", (int)(n < 200 ? n : 200), m);
    scrim__seterr(err, errlen, "%s%s%s", what, *line ? ": " : "", line);
    vips_error_clear();
}

int scrim__anim_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *o, scrim_vpdq *out,
                            char *err, size_t errlen)
{
    VipsImage *img = NULL, *page = NULL, *t[4] = {NULL};
    struct scrim__frame_hasher *fh = NULL;
    int *delays = NULL, ndelays = 0, rc = SCRIM_OK;
    uint8_t *px = NULL;

    snprintf(out->format, sizeof out->format, "webp");
    snprintf(out->codec, sizeof out->codec, "webp");
    if ((rc = scrim__vips(err, errlen)))
        return rc;
    const char *loader = vips_foreign_find_load_buffer(buf, len);
    if (!loader || !strcasestr(loader, "webp")) {
        vips_error_clear();
        scrim__seterr(err, errlen, "not a WebP animation we decode");
        return SCRIM_EFORMAT;
    }
    img = vips_image_new_from_buffer(buf, len, "", "n", -1, "fail", TRUE, NULL);
    if (!img) {
        vips_msg(err, errlen, "truncated or corrupt WebP animation");
        return SCRIM_ECORRUPT;
    }
    int w = img->Xsize, ph = vips_image_get_page_height(img);
    int pages = ph > 0 ? img->Ysize / ph : 1;
    out->width = w;
    out->height = ph;
    if (w > o->max_side || ph > o->max_side || (uint64_t)w * (uint64_t)ph > o->max_pixels) {
        scrim__seterr(err, errlen, "animation is %dx%d, over the limit of %d px a side and %llu pixels",
                      w, ph, o->max_side, (unsigned long long)o->max_pixels);
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    /* Frame rate from the delays (0 ms, "as fast as possible", is taken as
     * 100 ms as browsers do). */
    long long ms = 0; /* summed in ms: 20 x 0.1 s must make exactly 10 fps */
    if (vips_image_get_typeof(img, "delay"))
        vips_image_get_array_int(img, "delay", &delays, &ndelays);
    for (int i = 0; i < pages; i++)
        ms += i < ndelays && delays[i] > 0 ? delays[i] : 100;
    double total = ms / 1000.0;
    out->duration = total;
    out->fps = pages * 1000.0 / (double)ms;
    if (total > o->max_duration) {
        scrim__seterr(err, errlen, "animation is %.0f s long, over the limit of %.0f s",
                      total, o->max_duration);
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    int mod = o->keyframes_only ? 1 : (int)(o->seconds_per_hash * out->fps);
    if (mod < 1)
        mod = 1;
    if ((pages + mod - 1) / mod > o->max_frames) {
        scrim__seterr(err, errlen, "%d frames to hash, over the limit of %d: use a longer seconds-per-hash",
                      (pages + mod - 1) / mod, o->max_frames);
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    /* 8-bit sRGB, alpha flattened onto white, as images are. */
    VipsImage *cur = img;
    if (vips_colourspace(cur, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
        goto vfail;
    cur = t[0];
    if (vips_image_hasalpha(cur)) {
        double white[3] = {255, 255, 255};
        VipsArrayDouble *bg = vips_array_double_new(white, 3);
        int r = vips_flatten(cur, &t[1], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg)); /* the operation keeps its own ref */
        if (r)
            goto vfail;
        cur = t[1];
    }
    if (vips_cast(cur, &t[2], VIPS_FORMAT_UCHAR, NULL))
        goto vfail;
    cur = t[2];
    if (cur->Bands != 3) { /* the hasher reads 3 bytes a pixel */
        scrim__seterr(err, errlen, "WebP animation with %d bands", cur->Bands);
        rc = SCRIM_EFORMAT;
        goto done;
    }
    if (!(fh = scrim__frame_hasher_new())) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    double deadline = g_get_monotonic_time() / 1e6 + o->time_budget;
    for (int n = 0; n < pages; n++) {
        out->frames_decoded++;
        if (n % mod)
            continue;
        size_t size;
        if (vips_extract_area(cur, &page, 0, n * ph, w, ph, NULL) ||
            !(px = vips_image_write_to_memory(page, &size)))
            goto vfail;
        scrim_vframe vf = {.frame_number = n, .seconds = n / out->fps};
        rc = scrim__frame_hash_rgb(fh, px, w, ph, (size_t)w * 3, &vf.pdq,
                                   &vf.quality, NULL);
        g_free(px);
        px = NULL;
        g_object_unref(page);
        page = NULL;
        if (!rc)
            rc = scrim_vpdq_append(out, &vf);
        if (rc)
            goto done;
        if (g_get_monotonic_time() / 1e6 > deadline) {
            scrim__seterr(err, errlen, "decoding took longer than the budget of %.3g s",
                          o->time_budget);
            rc = SCRIM_ETIMEOUT;
            goto done;
        }
    }
    goto done;
vfail:
    vips_msg(err, errlen, "truncated or corrupt WebP animation");
    rc = SCRIM_ECORRUPT;
done:
    g_free(px);
    if (page)
        g_object_unref(page);
    for (int i = 0; i < 4; i++)
        if (t[i])
            g_object_unref(t[i]);
    g_object_unref(img);
    scrim__frame_hasher_free(fh);
    return rc;
}
