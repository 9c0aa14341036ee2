/* jpeg.c - the JPEG fast path: baseline and progressive YCbCr, RGB and grey
 * JPEGs decoded with libjpeg(-turbo) straight into the pixel buffer.
 *
 * libvips decodes JPEGs with the same library and the same settings (slow
 * integer IDCT, fancy upsampling, no colour management), so the pixels are
 * identical; what this path saves is libvips' per-image set-up, its pipeline
 * and the copy out of it, about a third of the time of a 1024-px photo.
 *
 * CMYK and YCCK JPEGs become RGB as the reference CLI's decoder (ImageMagick,
 * no colour management) makes them: libjpeg's CMYK values are Adobe-style
 * inverted, and R = round(C * K / 255) (G, B likewise), with or without an
 * Adobe marker; measured identical to ImageMagick 6's output on every pixel
 * of YCCK, CMYK and marker-less files.  (libvips' ICC transform moved their
 * hashes 6-20 bits from the reference's.)  Other component counts are left
 * to libvips.
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
#include <stdlib.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/* Rows asked of libjpeg at a time: a whole 4:2:0 row group. */
#define BATCH 16

/* A progressive JPEG needs ~10 scans; libjpeg-turbo's own tools cap at 500.
 * Each scan walks every block of the image, however little data it holds,
 * so on large images scans are also limited to MAX_SCAN_PIXELS pixels in
 * all (30 scans at 100 MP, never fewer than 10): a 0.7 MB file of 500
 * near-empty scans of a 100 MP image took 6.7 s to decode. */
#define MAX_SCANS 500
#define MAX_SCAN_PIXELS 3000000000ULL
#define MIN_SCANS 10

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
    uint64_t px = (uint64_t)d->image_width * d->image_height;
    int max = MAX_SCANS;
    if (px && MAX_SCAN_PIXELS / px < (uint64_t)max)
        max = (int)(MAX_SCAN_PIXELS / px);
    if (max < MIN_SCANS)
        max = MIN_SCANS; /* whatever the size: a standard progressive file */
    if (d->input_scan_number > max) {
        jerr *e = (jerr *)c->err;
        snprintf(e->msg, sizeof e->msg,
                 "more than %d progressive scans (for a %ux%u image)", max,
                 d->image_width, d->image_height);
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

/* Where decoded rows go: row() gives the destination of output row y (of
 * the size libvips reports, w x h), rows_done() is told when rows y0 ..
 * y0+n-1 are there.  The image sink keeps the whole image, the hash sink
 * only the luma of the rows and columns PDQ samples. */
typedef struct sink sink;
struct sink {
    /* w x h: the size kept; libjpeg writes rows of ow >= w pixels */
    int (*begin)(sink *s, int w, int h, int ow, int ch, int fw, int fh,
                 char *err, size_t errlen);
    uint8_t *(*row)(sink *s, int y);
    void (*rows_done)(sink *s, int y0, int n);
};

/* n pixels of inverted CMYK to RGB, as ImageMagick does it (see the top). */
static void cmyk_to_rgb(const uint8_t *restrict in, uint8_t *restrict out,
                        int n)
{
    for (int x = 0; x < n; x++, in += 4, out += 3) {
        unsigned k = in[3];
        out[0] = (uint8_t)((in[0] * k + 127) / 255);
        out[1] = (uint8_t)((in[1] * k + 127) / 255);
        out[2] = (uint8_t)((in[2] * k + 127) / 255);
    }
}

static int decode(const void *buf, size_t len, uint64_t max_pixels,
                  int min_side, sink *sk, int *fw, int *fh, char *err,
                  size_t errlen)
{
    struct jpeg_decompress_struct c;
    uint8_t *volatile cmyk_rows = NULL; /* CMYK rows before conversion */
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jerr e = {0};
    volatile int rc = SCRIM_ECORRUPT; /* read after longjmp */

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
    *fw = (int)c.image_width;
    *fh = (int)c.image_height;
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
    int cmyk = (c.jpeg_color_space == JCS_CMYK ||
                c.jpeg_color_space == JCS_YCCK) && c.num_components == 4;
    if (!grey && !colour && !cmyk) {
        rc = SCRIM__JPEG_OTHER; /* unusual component counts: libvips' job */
        goto done;
    }
    c.out_color_space = grey ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
    unsigned shrink = (unsigned)scrim__jpeg_shrink((int)c.image_width,
                                                   (int)c.image_height, min_side);
    c.scale_num = 1;
    c.scale_denom = shrink;
    jpeg_start_decompress(&c);
    /* libvips rounds a shrunk size down where libjpeg rounds up: keep its
     * size (the pixels are the same), ignoring the last partial row and
     * column; a shrink never empties a side (scrim__jpeg_shrink). */
    int w = (int)(c.image_width / shrink), h = (int)(c.image_height / shrink);
    int ow = (int)c.output_width;
    if ((rc = sk->begin(sk, w, h, ow, cmyk ? 3 : c.output_components, *fw,
                        *fh, err, errlen)))
        goto done;
    if (cmyk && !(cmyk_rows = malloc((size_t)BATCH * ow * 4))) {
        scrim__seterr(err, errlen, "out of memory for a %dx%d image", w, h);
        rc = SCRIM_ENOMEM;
        goto done;
    }
    rc = SCRIM_ECORRUPT;
    while ((int)c.output_scanline < h && !e.truncated) {
        JSAMPROW rows[BATCH];
        int y0 = (int)c.output_scanline, n = 0;
        for (; n < BATCH && y0 + n < h; n++)
            rows[n] = cmyk ? cmyk_rows + (size_t)n * ow * 4 : sk->row(sk, y0 + n);
        n = (int)jpeg_read_scanlines(&c, rows, (JDIMENSION)n);
        if (n == 0)
            break;
        for (int i = 0; cmyk && i < n; i++)
            cmyk_to_rgb(rows[i], sk->row(sk, y0 + i), ow);
        sk->rows_done(sk, y0, n);
    }
    if (e.truncated || (int)c.output_scanline < h) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: JPEG "
                      "data ends at line %u of %d", c.output_scanline, h);
        goto done;
    }
    if (c.output_scanline < c.output_height)
        jpeg_abort_decompress(&c); /* a partial last row, never read */
    else
        jpeg_finish_decompress(&c);
    if (e.truncated) {
        scrim__seterr(err, errlen, "truncated or corrupt image data: JPEG "
                      "has no end-of-image marker");
        goto done;
    }
    rc = SCRIM_OK;
done:
    jpeg_destroy_decompress(&c);
    free(cmyk_rows);
    return rc;
}

/* ---- the whole image ---------------------------------------------------- */

typedef struct image_sink {
    sink base;
    scrim_image *img;
    size_t stride; /* of a row as libjpeg writes it */
} image_sink;

static int image_begin(sink *s, int w, int h, int ow, int ch, int fw, int fh,
                       char *err, size_t errlen)
{
    image_sink *is = (image_sink *)s;
    scrim_image *img = is->img;
    img->width = w;
    img->height = h;
    img->channels = ch;
    img->file_width = fw;
    img->file_height = fh;
    is->stride = (size_t)ow * ch;
    img->pixels = g_try_malloc(is->stride * h);
    if (!img->pixels) {
        scrim__seterr(err, errlen, "out of memory for a %dx%d image", w, h);
        return SCRIM_ENOMEM;
    }
    return SCRIM_OK;
}

static uint8_t *image_row(sink *s, int y)
{
    image_sink *is = (image_sink *)s;
    return is->img->pixels + (size_t)y * is->stride;
}

static void image_rows_done(sink *s, int y0, int n)
{
    (void)s, (void)y0, (void)n;
}

int scrim__jpeg_load(const void *buf, size_t len, uint64_t max_pixels,
                     int min_side, scrim_image *out, char *err, size_t errlen)
{
    image_sink is = {{image_begin, image_row, image_rows_done}, out, 0};
    memset(out, 0, sizeof *out);
    int fw, fh;
    int rc = decode(buf, len, max_pixels, min_side, &is.base, &fw, &fh, err,
                    errlen);
    if (rc) {
        scrim_image_free(out);
        return rc;
    }
    /* rows of a shrunk image may carry libjpeg's extra column: close up */
    size_t row = (size_t)out->width * out->channels;
    if (row < is.stride)
        for (int y = 1; y < out->height; y++)
            memmove(out->pixels + y * row, out->pixels + y * is.stride, row);
    snprintf(out->format, sizeof out->format, "jpeg");
    return SCRIM_OK;
}

/* ---- only PDQ's samples ------------------------------------------------- */

enum { RING = BATCH }; /* rows: jpeg_read_scanlines is asked for at most BATCH */

typedef struct hash_sink {
    sink base;
    scrim__pdq_scratch ps;
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH], off[SCRIM__SQUASH];
    int nx, ny, next, ch;
    size_t stride;
    uint8_t *ring;
} hash_sink;

static int hash_begin(sink *s, int w, int h, int ow, int ch, int fw, int fh,
                      char *err, size_t errlen)
{
    hash_sink *hs = (hash_sink *)s;
    scrim__pdq_samples(fw, fh, w, h, hs->xs, &hs->nx, hs->ys, &hs->ny);
    for (int j = 0; j < hs->nx; j++)
        hs->off[j] = hs->xs[j] * ch;
    hs->ch = ch;
    /* Rows are deliberately NOT 16-byte aligned: into aligned rows
     * libjpeg-turbo's SIMD colour conversion writes with non-temporal
     * stores, which bypass the cache, and reading the row back (at once,
     * for its luma) then waits on memory.  Slack after the last row: luma
     * reads 4 bytes per pixel. */
    hs->stride = ((size_t)ow * ch + 15) & ~(size_t)15;
    hs->ring = malloc(hs->stride * RING + 32);
    if (!hs->ring || scrim__pdq_reserve(&hs->ps, hs->nx, hs->ny)) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    return SCRIM_OK;
}

static uint8_t *hash_row(sink *s, int y)
{
    hash_sink *hs = (hash_sink *)s;
    return hs->ring + 1 + (size_t)(y % RING) * hs->stride;
}

static void hash_rows_done(sink *s, int y0, int n)
{
    hash_sink *hs = (hash_sink *)s;
    size_t end = hs->stride * RING + 31; /* bytes after ring + 1 */
    for (int y = y0; y < y0 + n; y++)
        for (; hs->next < hs->ny && hs->ys[hs->next] == y; hs->next++) {
            float *o = hs->ps.a + (size_t)hs->next * hs->nx;
            if (hs->next > 0 && hs->ys[hs->next - 1] == y) {
                memcpy(o, o - hs->nx, (size_t)hs->nx * sizeof *o);
                continue;
            }
            size_t at = (size_t)(y % RING) * hs->stride;
            scrim__pdq_luma_row(hs->ring + 1 + at, hs->off, hs->nx, hs->ch,
                                end - at, o);
        }
}

int scrim__jpeg_hash(const void *buf, size_t len, uint64_t max_pixels,
                     int min_side, scrim_image_hashes *out, char *err,
                     size_t errlen)
{
    hash_sink *hs = calloc(1, sizeof *hs);
    if (!hs) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    hs->base = (sink){hash_begin, hash_row, hash_rows_done};
    int rc = decode(buf, len, max_pixels, min_side, &hs->base, &out->width,
                    &out->height, err, errlen);
    if (!rc && hs->next != hs->ny) {
        scrim__seterr(err, errlen, "internal error: %d of %d sampled rows",
                      hs->next, hs->ny);
        rc = SCRIM_ECORRUPT;
    }
    if (!rc)
        rc = scrim__pdq_hash_plane(&hs->ps, hs->nx, hs->ny, &out->pdq,
                                   &out->quality, out->dihedral);
    if (!rc)
        snprintf(out->format, sizeof out->format, "jpeg");
    scrim__pdq_scratch_free(&hs->ps);
    free(hs->ring);
    free(hs);
    return rc;
}
