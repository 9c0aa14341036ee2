/* jpeg.c - the JPEG fast path: baseline and progressive YCbCr, RGB and grey
 * JPEGs decoded with libjpeg(-turbo) straight into the pixel buffer.
 *
 * libvips decodes JPEGs with the same library and the same settings (slow
 * integer IDCT, fancy upsampling, no colour management), so the pixels are
 * identical; what this path saves is libvips' per-image set-up, its pipeline
 * and the copy out of it, about a third of the time of a 1024-px photo.
 * Anything else (CMYK/YCCK, unusual component counts) is left to libvips.
 *
 * Untrusted input: the header is read and the pixel limit checked before any
 * pixel is decoded; libjpeg's fatal errors come back through longjmp as
 * SCRIM_ECORRUPT; a file that ends early (libjpeg's "premature end" warning,
 * after which it would pad with grey) is an error, as with libvips'
 * fail_on=truncated; progressive files are limited in scans, so that a file
 * of millions of tiny scans cannot burn CPU. */
#include "scrim.h"
#include "internal.h"

#include <glib.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/* A progressive JPEG needs ~10 scans; libjpeg-turbo's own tools cap at 500. */
#define MAX_SCANS 500

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr c, int level)
{
    jerr *e = (jerr *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
        e->truncated = 1;
}

static void on_progress(j_common_ptr c)
{
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > MAX_SCANS) {
        jerr *e = (jerr *)c->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans",
                 MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

int scrim__jpeg_is(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    return len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff;
}

int scrim__jpeg_shrink(int w, int h, int min_side)
{
    int longest = w > h ? w : h, shortest = w < h ? w : h, s = 1;
    if (min_side <= 0)
        return 1;
    /* never below one pixel on the short side (libvips aborts on that) */
    while (s < 8 && longest / (s * 2) >= min_side && shortest >= s * 2)
        s *= 2;
    return s;
}

int scrim__jpeg_load(const void *buf, size_t len, uint64_t max_pixels,
                     int min_side, scrim_image *out, char *err, size_t errlen)
{
    struct jpeg_decompress_struct c;
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jerr e = {0};
    /* volatile: read after longjmp */
    uint8_t *volatile px = NULL;
    volatile int rc = SCRIM_ECORRUPT;

    memset(out, 0, sizeof *out);
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.emit_message = on_message;
    if (setjmp(e.jump)) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: JPEG: %s",
                      e.msg);
        goto done;
    }
    jpeg_create_decompress(&c);
    c.progress = &progress;
    jpeg_mem_src(&c, buf, (unsigned long)len);
    jpeg_read_header(&c, TRUE);
    out->file_width = (int)c.image_width;
    out->file_height = (int)c.image_height;
    if ((uint64_t)c.image_width * c.image_height > max_pixels) {
        scrim__seterr(err, errlen,
                      "image too large: %ux%u is over the limit of %llu pixels",
                      c.image_width, c.image_height,
                      (unsigned long long)max_pixels);
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    int grey = c.jpeg_color_space == JCS_GRAYSCALE && c.num_components == 1;
    int colour = (c.jpeg_color_space == JCS_YCbCr ||
                  c.jpeg_color_space == JCS_RGB) && c.num_components == 3;
    if (!grey && !colour) {
        rc = SCRIM__JPEG_OTHER; /* CMYK, YCCK, ...: libvips' job */
        goto done;
    }
    c.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    unsigned shrink = (unsigned)scrim__jpeg_shrink((int)c.image_width,
                                                   (int)c.image_height, min_side);
    c.scale_num = 1;
    c.scale_denom = shrink;
    jpeg_start_decompress(&c);
    size_t stride = (size_t)c.output_width * c.output_components;
    px = g_try_malloc(stride * c.output_height);
    if (!px) {
        scrim__seterr(err, errlen, "out of memory for a %ux%u image",
                      c.output_width, c.output_height);
        rc = SCRIM_ENOMEM;
        goto done;
    }
    while (c.output_scanline < c.output_height && !e.truncated) {
        JSAMPROW rows[8];
        int n = 0;
        for (; n < 8 && c.output_scanline + n < c.output_height; n++)
            rows[n] = px + (c.output_scanline + n) * stride;
        if (jpeg_read_scanlines(&c, rows, (JDIMENSION)n) == 0)
            break;
    }
    if (e.truncated || c.output_scanline < c.output_height) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: JPEG "
                      "data ends at line %u of %u",
                      c.output_scanline, c.output_height);
        goto done;
    }
    jpeg_finish_decompress(&c);
    if (e.truncated) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: JPEG "
                      "has no end-of-image marker");
        goto done;
    }
    /* libvips rounds a shrunk size down where libjpeg rounds up: keep its
     * size (the pixels are the same), dropping the last partial row/column. */
    out->width = (int)(c.image_width / shrink);
    out->height = (int)(c.image_height / shrink);
    out->channels = c.output_components;
    if ((JDIMENSION)out->width < c.output_width) {
        size_t row = (size_t)out->width * out->channels;
        for (int y = 1; y < out->height; y++)
            memmove(px + y * row, px + y * stride, row);
    }
    out->pixels = px;
    px = NULL;
    snprintf(out->format, sizeof out->format, "jpeg");
    rc = SCRIM_OK;
done:
    jpeg_destroy_decompress(&c);
    g_free(px);
    return rc;
}
