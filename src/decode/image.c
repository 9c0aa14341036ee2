/* image.c - decoding untrusted images with libvips into 8-bit pixels for
 * hashing: sniff the format, check the header against the pixel limit before
 * any pixel is decoded, shrink-on-load where the format allows, convert to
 * sRGB (or grey), flatten alpha onto white. */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

/* Loaders we accept, matched on the loader's name (libvips reports either a
 * nickname such as "jpegload_buffer" or a class name such as
 * "VipsForeignLoadJpegBuffer").  Anything else (SVG, PDF, ImageMagick, matrix
 * files ...) is refused as unsupported. */
/* A loader's name in lower case without the class prefix, up to n - 1
 * bytes: "VipsForeignLoadMagickBuffer" -> "magickbuffer". */
static void loader_name(const char *name, char *out, size_t n)
{
    size_t i = 0;
    if (!strncasecmp(name, "VipsForeignLoad", 15))
        name += 15;
    for (; name[i] && i < n - 1; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    out[i] = '\0';
}

static const char *loader_format(const char *name)
{
    static const struct { const char *key, *format; } allowed[] = {
        {"jpeg", "jpeg"}, {"png", "png"},   {"webp", "webp"}, {"gif", "gif"},
        {"nsgif", "gif"}, {"tiff", "tiff"}, {"heif", "heif"}};
    char low[64];
    if (!name)
        return NULL;
    loader_name(name, low, sizeof low);
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (!strncmp(low, allowed[i].key, strlen(allowed[i].key)))
            return allowed[i].format;
    return NULL;
}

/* A TIFF its loader does not recognise: libvips knows PNG, GIF and WebP by
 * their signatures alone, but TIFF only by reading the file's directory,
 * which a file cut short (the directory is usually written last) lacks.
 * Such a file is damaged, not of an unsupported kind. */
static int tiff_signature(const uint8_t *p, size_t len)
{
    return len >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4) ||
                        !memcmp(p, "II+\0", 4) || !memcmp(p, "MM\0+", 4));
}

/* Copy libvips' process-wide error text into err and clear it. */
static void vips_err(char *err, size_t errlen, const char *what)
{
    const char *msg = vips_error_buffer();
    size_t n = strlen(msg);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(n && msg[n - 1] == '\n' ? n - 1 : n),
             msg);
    for (char *p = tmp; *p; p++)
        if (*p == '\n')
            *p = ' ';
    scrim__seterr(err, errlen, "%s%s%s", what, *tmp ? ": " : "", tmp);
    vips_error_clear();
}

int scrim_image_sniff(const void *buf, size_t len)
{
    if (!buf || len == 0)
        return 0;
    if (scrim__jpeg_is(buf, len))
        return 1; /* what libvips' JPEG loader recognises, without its search */
    if (scrim__vips(NULL, 0))
        return 0;
    const char *nick = vips_foreign_find_load_buffer(buf, len);
    vips_error_clear();
    /* a damaged file of an accepted format is an image, and its decoder
     * says what is wrong with it */
    return loader_format(nick) != NULL || tiff_signature(buf, len);
}

/* CMYK (TIFF, or JPEG through libvips) to 8-bit RGB as the reference CLI's
 * decoder makes it: ImageMagick 6 (Q16) ignores any ICC profile and computes
 * R = QR - (C / QR * (QR - K) + K) on 16-bit quanta (QR = 65535), rounded
 * to a quantum; G and B likewise from M and Y.  For 8-bit samples that is
 * scrim__cmyk8 (decode.h), as for CMYK JPEGs.  16-bit files keep the high
 * byte of the result, as scrim does for all 16-bit images (the reference CLI
 * would take the low byte: see README).  libvips' own conversion goes
 * through a CMYK profile and moved hashes 6-36 bits from the reference's.
 * A fifth band (alpha) is kept, as 8 bits. */
static void cmyk_rows(const void *mem, int wide, int nb, size_t n, uint8_t *rgb)
{
    const uint8_t *p8 = mem;
    const uint16_t *p16 = mem;
    int ob = nb - 1;
    for (size_t i = 0; i < n; i++) {
        if (!wide) {
            const uint8_t *p = p8 + i * nb;
            for (int b = 0; b < 3; b++)
                rgb[i * ob + b] = scrim__cmyk8(255u - p[b], 255u - p[3]);
            if (nb == 5)
                rgb[i * ob + 3] = p[4];
            continue;
        }
        const uint16_t *p = p16 + i * nb;
        double k = p[3];
        for (int b = 0; b < 3; b++) {
            double v = 65535.0 - (1.0 / 65535.0 * p[b] * (65535.0 - k) + k);
            unsigned r = v <= 0 ? 0 : v >= 65535 ? 65535 : (unsigned)(v + 0.5);
            rgb[i * ob + b] = (uint8_t)(r >> 8);
        }
        if (nb == 5)
            rgb[i * ob + 3] = (uint8_t)(p[4] >> 8);
    }
}

typedef struct cmyk_sink {
    int wide, nb, width;
    uint8_t *rgb;
} cmyk_sink;

/* vips_sink_disc's callback: the next rows of the image, top to bottom. */
static int cmyk_write(VipsRegion *r, VipsRect *area, void *a)
{
    const cmyk_sink *cs = a;
    size_t pel = (size_t)cs->nb * (cs->wide ? 2 : 1);
    for (int y = area->top; y < area->top + area->height; y++) {
        const VipsPel *p = r->data + (size_t)(y - r->valid.top) * r->bpl +
                           (size_t)(area->left - r->valid.left) * pel;
        cmyk_rows(p, cs->wide, cs->nb, (size_t)area->width,
                  cs->rgb + ((size_t)y * cs->width + area->left) * (cs->nb - 1));
    }
    return 0;
}

/* The image is converted as libvips produces it, a few rows at a time, so
 * that only the RGB result is ever whole in memory. */
static VipsImage *cmyk_to_rgb(VipsImage *in)
{
    cmyk_sink cs = {in->BandFmt == VIPS_FORMAT_USHORT, in->Bands >= 5 ? 5 : 4,
                    in->Xsize, NULL};
    int ob = cs.nb - 1;
    size_t bytes = (size_t)in->Xsize * in->Ysize * ob;
    VipsImage *src = NULL, *out = NULL;
    if (vips_extract_band(in, &src, 0, "n", cs.nb, NULL))
        return NULL;
    if (!(cs.rgb = g_try_malloc(bytes)))
        vips_error("scrim", "out of memory for a %dx%d image", in->Xsize,
                   in->Ysize);
    else if (!vips_sink_disc(src, cmyk_write, &cs) &&
             (out = vips_image_new_from_memory_copy(cs.rgb, bytes, in->Xsize,
                                                    in->Ysize, ob,
                                                    VIPS_FORMAT_UCHAR)))
        out->Type = VIPS_INTERPRETATION_sRGB;
    g_free(cs.rgb);
    g_object_unref(src);
    return out;
}

/* Convert whatever libvips loaded into 8-bit sRGB or grey with alpha
 * flattened onto white (or dropped); returns a new reference or NULL. */
static VipsImage *to_8bit(VipsImage *in, int ignore_alpha)
{
    VipsImage *t[4] = {NULL};
    VipsImage *cur = in;
    VipsInterpretation interp = vips_image_guess_interpretation(in);
    int grey = interp == VIPS_INTERPRETATION_B_W ||
               interp == VIPS_INTERPRETATION_GREY16;
    VipsImage *out = NULL;

    /* The common case needs no conversion at all. */
    if (in->BandFmt == VIPS_FORMAT_UCHAR && !vips_image_hasalpha(in) &&
        ((interp == VIPS_INTERPRETATION_sRGB && in->Bands == 3) ||
         (interp == VIPS_INTERPRETATION_B_W && in->Bands == 1))) {
        g_object_ref(in);
        return in;
    }
    if (interp == VIPS_INTERPRETATION_CMYK && in->Bands >= 4 &&
        (in->BandFmt == VIPS_FORMAT_UCHAR || in->BandFmt == VIPS_FORMAT_USHORT)) {
        if (!(t[0] = cmyk_to_rgb(in)))
            goto done;
    } else if (vips_colourspace(cur, &t[0], grey ? VIPS_INTERPRETATION_B_W
                                                 : VIPS_INTERPRETATION_sRGB, NULL))
        goto done;
    cur = t[0];
    if (vips_image_hasalpha(cur) && !ignore_alpha) {
        VipsArrayDouble *bg = vips_array_double_newv(1, 255.0);
        int rc = vips_flatten(cur, &t[1], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (rc)
            goto done;
        cur = t[1];
    }
    /* Drop any extra bands beyond colour (alpha if ignored, a second one). */
    int want = grey ? 1 : 3;
    if (cur->Bands > want) {
        if (vips_extract_band(cur, &t[2], 0, "n", want, NULL))
            goto done;
        cur = t[2];
    }
    if (cur->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(cur, &t[3], VIPS_FORMAT_UCHAR, NULL))
            goto done;
        cur = t[3];
    }
    g_object_ref(cur);
    out = cur;
done:
    for (int i = 0; i < 4; i++)
        if (t[i])
            g_object_unref(t[i]);
    return out;
}

void scrim__decode_limits(const scrim_decode_opts *opts, int hashing,
                          scrim__limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->max_pixels = opts && opts->max_pixels ? opts->max_pixels
                                               : SCRIM_DEFAULT_MAX_PIXELS;
    if (opts && opts->min_side)
        lim->min_side = opts->min_side;
    else /* hashes agree with the reference's only on full-size pixels */
        lim->min_side = hashing ? -1 : SCRIM_DEFAULT_MIN_SIDE;
    lim->max_memory = opts && opts->max_memory ? opts->max_memory
                                               : SCRIM_DEFAULT_MAX_DECODE_MEMORY;
    if (opts) {
        lim->deadline = opts->deadline;
        lim->reserve = opts->reserve;
        lim->reserve_arg = opts->reserve_arg;
    }
}

int scrim__decode_reserve(const scrim__limits *lim, uint64_t bytes,
                          const char *what, char *err, size_t errlen)
{
    if (bytes > lim->max_memory) {
        scrim__seterr(err, errlen, "image too large to decode: its %s need "
                      "%llu MB, over the limit of %llu MB", what,
                      (unsigned long long)((bytes + (1 << 20) - 1) >> 20),
                      (unsigned long long)(lim->max_memory >> 20));
        return SCRIM_ETOOBIG;
    }
    if (lim->reserve && bytes)
        return lim->reserve(lim->reserve_arg, (int64_t)bytes, err, errlen);
    return SCRIM_OK;
}

void scrim__decode_release(const scrim__limits *lim, uint64_t bytes)
{
    if (lim->reserve && bytes)
        lim->reserve(lim->reserve_arg, -(int64_t)bytes, NULL, 0);
}

int scrim__decode_late(const scrim__limits *lim)
{
    return lim->deadline > 0 && scrim_now() > lim->deadline;
}

/* libvips computes an image a strip at a time and reports each ("eval"):
 * past the deadline the computation is stopped (the image "killed"), and
 * vips_image_write_to_memory fails. */
typedef struct vips_watch {
    const scrim__limits *lim;
    int late;
} vips_watch;

static void on_eval(VipsImage *image, void *progress, void *arg)
{
    vips_watch *w = arg;
    (void)progress;
    if (!w->late && scrim__decode_late(w->lim)) {
        w->late = 1;
        vips_image_set_kill(image, TRUE);
    }
}

/* Bytes a libvips decode holds whole: the pixels it hands over and, for
 * loaders that decode the whole picture before handing out rows (GIF's
 * canvas, WebP, HEIF), the loader's own copy. */
static uint64_t vips_bytes(const char *fmt, VipsImage *img)
{
    uint64_t px = (uint64_t)vips_image_get_width(img) *
                  (uint64_t)vips_image_get_height(img);
    uint64_t out = px * 3;
    /* Loaders that hold the whole image before the first line comes out:
     * GIF, WebP, HEIF, and an interlaced (Adam7) PNG, which libvips reads
     * whole before handing out its first line. */
    if (!strcmp(fmt, "gif") || !strcmp(fmt, "webp") || !strcmp(fmt, "heif") ||
        (!strcmp(fmt, "png") && vips_image_get_typeof(img, "interlaced")))
        out += px * (uint64_t)vips_image_get_bands(img) *
               (uint64_t)vips_format_sizeof(img->BandFmt);
    return out;
}

int scrim_image_load_buffer(const void *buf, size_t len,
                            const scrim_decode_opts *opts, scrim_image *out,
                            char *err, size_t errlen)
{
    return scrim__image_load(buf, len, opts, 0, out, err, errlen);
}

int scrim__image_load(const void *buf, size_t len,
                      const scrim_decode_opts *opts, int hashing,
                      scrim_image *out, char *err, size_t errlen)
{
    scrim__limits lim;
    scrim__decode_limits(opts, hashing, &lim);
    uint64_t max_pixels = lim.max_pixels, held = 0;
    int min_side = lim.min_side;
    VipsImage *img = NULL, *rgb = NULL;
    int rc = SCRIM_OK, fill = 0;
    vips_watch watch = {&lim, 0};

    memset(out, 0, sizeof *out);
    if (!buf || len == 0) {
        scrim__seterr(err, errlen, "empty input");
        return SCRIM_EFORMAT;
    }
    if (scrim__jpeg_is(buf, len)) {
        rc = scrim__jpeg_load(buf, len, &lim, out, err, errlen);
        if (rc != SCRIM__JPEG_OTHER)
            return rc;
        rc = SCRIM_OK;
    }
    if ((rc = scrim__vips(err, errlen)))
        return rc;
    const char *nick = vips_foreign_find_load_buffer(buf, len);
    vips_error_clear();
    const char *fmt = loader_format(nick);
    if (!fmt && tiff_signature(buf, len)) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: a TIFF "
                      "signature, but no TIFF directory libvips can read");
        return SCRIM_ECORRUPT;
    }
    if (!fmt) {
        char name[48] = "";
        if (nick) { /* VipsForeignLoadMagickBuffer -> magick */
            loader_name(nick, name, sizeof name);
            char *end = strstr(name, "buffer");
            if (end && end > name)
                *end = '\0';
        }
        scrim__seterr(err, errlen, nick ? "unsupported image format (%s; "
                      "accepted: JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF)"
                                        : "not an image (unrecognised format)",
                      name);
        return SCRIM_EFORMAT;
    }
    snprintf(out->format, sizeof out->format, "%s", fmt);
    /* HEIF's decoders may leave parts of a damaged picture unwritten. */
    if ((fill = !strcmp(fmt, "heif")))
        scrim__heap_fill(1);

    /* Header only: libvips decodes no pixels until they are asked for. */
    img = vips_image_new_from_buffer(buf, len, "", "access",
                                     VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                     VIPS_FAIL_ON_TRUNCATED, NULL);
    if (!img) {
        vips_err(err, errlen, "corrupt image header");
        return SCRIM_ECORRUPT;
    }
    out->file_width = vips_image_get_width(img);
    out->file_height = vips_image_get_height(img);
    if ((uint64_t)out->file_width * (uint64_t)out->file_height > max_pixels) {
        scrim__seterr(err, errlen,
                      "image too large: %dx%d is over the limit of %llu pixels",
                      out->file_width, out->file_height,
                      (unsigned long long)max_pixels);
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    uint64_t need = vips_bytes(fmt, img);
    if ((rc = scrim__decode_reserve(&lim, need, "decoded pixels", err, errlen)))
        goto done;
    held = need;

    int shrink = !strcmp(fmt, "jpeg")
                     ? scrim__jpeg_shrink(out->file_width, out->file_height, min_side)
                     : 1;
    if (shrink > 1) {
        g_object_unref(img);
        img = vips_image_new_from_buffer(buf, len, "", "access",
                                         VIPS_ACCESS_SEQUENTIAL, "shrink",
                                         shrink, "fail_on",
                                         VIPS_FAIL_ON_TRUNCATED, NULL);
    }
    if (!img || !(rgb = to_8bit(img, opts && opts->ignore_alpha))) {
        vips_err(err, errlen, "corrupt image");
        rc = SCRIM_ECORRUPT;
        goto done;
    }
    size_t size = 0;
    if (lim.deadline > 0) {
        vips_image_set_progress(rgb, TRUE);
        g_signal_connect(rgb, "eval", G_CALLBACK(on_eval), &watch);
    }
    out->pixels = vips_image_write_to_memory(rgb, &size);
    if (!out->pixels && watch.late) {
        vips_error_clear();
        scrim__seterr(err, errlen, "decoding stopped at the deadline (the "
                      "request's timeout)");
        rc = SCRIM_ETIMEOUT;
        goto done;
    }
    if (!out->pixels) {
        vips_err(err, errlen, "truncated or corrupt image data");
        rc = SCRIM_ECORRUPT;
        goto done;
    }
    out->width = vips_image_get_width(rgb);
    out->height = vips_image_get_height(rgb);
    out->channels = vips_image_get_bands(rgb);
    if (size != (size_t)out->width * out->height * out->channels) {
        scrim__seterr(err, errlen, "internal error: unexpected pixel layout");
        rc = SCRIM_ECORRUPT;
    }
done:
    if (rc)
        scrim_image_free(out);
    if (rgb)
        g_object_unref(rgb);
    if (img)
        g_object_unref(img);
    if (fill)
        scrim__heap_fill(0);
    /* the pixels handed over are the caller's now: what the decode held
     * (the loader's buffers, vips' pipeline) is gone */
    scrim__decode_release(&lim, held);
    return rc;
}

int scrim_image_load_file(const char *path, const scrim_decode_opts *opts,
                          scrim_image *out, char *err, size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len, err,
                             errlen);
    if (rc)
        return rc;
    rc = scrim_image_load_buffer(data, len, opts, out, err, errlen);
    free(data);
    return rc;
}

void scrim_image_free(scrim_image *img)
{
    if (img && img->pixels) {
        g_free(img->pixels);
        img->pixels = NULL;
    }
}
