/* jpeg.c - the JPEG fast path: baseline and progressive YCbCr, RGB and grey
 * JPEGs decoded with libjpeg(-turbo) straight into the pixel buffer.
 *
 * libvips decodes JPEGs with the same library and the same settings (slow
 * integer IDCT, fancy upsampling, no colour management), so the pixels are
 * identical; what this path saves is libvips' per-image set-up, its pipeline
 * and the copy out of it, about a third of the time of a 1024-px photo.
 *
 * When only the hash is wanted, YCbCr files in the usual layouts (4:2:0,
 * 4:2:2, 4:4:4) are read as libjpeg's raw planes, and only the pixels PDQ
 * samples (a quarter of a 1024-px photo's) are upsampled and converted to
 * RGB, with libjpeg's own formulas (luma.c, scrim__luma_ycc): the same
 * values, a sixth less time per photo.
 *
 * The entropy-coded data of single-scan baseline files is decoded by
 * jpeg_huff.c in place of libjpeg's own Huffman decoder; when it gives up
 * (damaged or unusual data) the file is decoded again without it.
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
 * of millions of tiny scans cannot burn CPU.  What a decode holds whole
 * (libjpeg's coefficients of a progressive or multi-scan file: 2 bytes per
 * sample of every component; the pixels, when kept) is reckoned from the
 * header and checked against the memory limit before libjpeg allocates it
 * (a 528-byte progressive file declaring 100 megapixels had taken 637 MB);
 * the request's deadline is checked at every row libjpeg hands over and
 * every row of a progressive file it takes in. */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"

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
    volatile int slow; /* jpeg_huff.c gave up: decode again without it */
    double deadline;   /* scrim_now() to stop at (0: never) */
    volatile int late; /* stopped there */
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* jpeg_huff.c met something it leaves to libjpeg's own decoder. */
static void huff_fail(j_decompress_ptr c)
{
    jerr *e = (jerr *)c->err;
    e->slow = 1;
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
    jerr *je = (jerr *)c->err;
    if (je->deadline > 0 && scrim_now() > je->deadline) {
        je->late = 1;
        longjmp(je->jump, 1);
    }
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
    int whole; /* keeps every pixel (reckoned against the memory limit) */
    /* w x h: the size kept; libjpeg writes rows of ow >= w pixels */
    int (*begin)(sink *s, int w, int h, int ow, int ch, int fw, int fh,
                 char *err, size_t errlen);
    uint8_t *(*row)(sink *s, int y);
    void (*rows_done)(sink *s, int y0, int n);
    /* Optional, instead of row/rows_done for YCbCr files that raw_layout
     * accepts: reads all of c's raw planes (after begin). */
    int (*raw)(sink *s, j_decompress_ptr c, const int *truncated);
};

/* YCbCr with the luma at full size and chroma 4:2:0, 4:2:2 or 4:4:4, where
 * libjpeg's upsampling is the fancy kind scrim__luma_ycc reproduces:
 * the layouts whose PDQ samples can be taken from the raw planes. */
static int raw_layout(j_decompress_ptr c)
{
    jpeg_component_info *k = c->comp_info;
    int h = c->max_h_samp_factor, v = c->max_v_samp_factor;
    if (c->jpeg_color_space != JCS_YCbCr || c->num_components != 3 ||
        c->scale_denom != 1 || !c->do_fancy_upsampling ||
        k[0].h_samp_factor != h || k[0].v_samp_factor != v)
        return 0;
    for (int i = 1; i < 3; i++)
        if (k[i].h_samp_factor != 1 || k[i].v_samp_factor != 1)
            return 0;
    if (!((h == 1 && v == 1) || (h == 2 && v == 1) || (h == 2 && v == 2)))
        return 0;
    /* libjpeg upsamples chroma under 3 samples wide without the filter */
    return h == 1 || (c->image_width + 1) / 2 > 2;
}

/* n pixels of inverted CMYK to RGB, as ImageMagick does it (see the top). */
static void cmyk_to_rgb(const uint8_t *restrict in, uint8_t *restrict out,
                        int n)
{
    for (int x = 0; x < n; x++, in += 4, out += 3) {
        out[0] = scrim__cmyk8(in[0], in[3]);
        out[1] = scrim__cmyk8(in[1], in[3]);
        out[2] = scrim__cmyk8(in[2], in[3]);
    }
}

/* Bytes of libjpeg's whole-image coefficient arrays: progressive files and
 * sequential ones whose first scan leaves components out are taken in whole
 * before any row comes out (jdcoefct.c allocates each component's blocks,
 * rounded up to its sampling factors, of 64 JCOEFs). */
static uint64_t coef_bytes(j_decompress_ptr c)
{
    uint64_t n = 0;
    if (!c->progressive_mode && c->comps_in_scan >= c->num_components)
        return 0;
    for (int k = 0; k < c->num_components; k++) {
        const jpeg_component_info *ci = &c->comp_info[k];
        uint64_t bw = ci->width_in_blocks, bh = ci->height_in_blocks;
        uint64_t hs = (uint64_t)ci->h_samp_factor, vs = (uint64_t)ci->v_samp_factor;
        bw = (bw + hs - 1) / hs * hs;
        bh = (bh + vs - 1) / vs * vs;
        n += bw * bh * DCTSIZE2 * sizeof(JCOEF);
    }
    return n;
}

/* fast_huff: let jpeg_huff.c decode the entropy-coded data where it can;
 * SCRIM__JPEG_SLOW if it gave up (nothing is kept: decode again without). */
static int decode(const void *buf, size_t len, const scrim__limits *lim,
                  int fast_huff, sink *sk, int *fw, int *fh, char *err,
                  size_t errlen)
{
    uint64_t max_pixels = lim->max_pixels;
    int min_side = lim->min_side;
    volatile uint64_t held = 0; /* reserved with scrim__decode_reserve */
    scrim__jhuff *volatile huff = NULL;
    struct jpeg_decompress_struct c;
    uint8_t *volatile cmyk_rows = NULL; /* CMYK rows before conversion */
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jerr e = {0};
    volatile int rc = SCRIM_ECORRUPT; /* read after longjmp */

    c.err = jpeg_std_error(&e.pub);
    c.client_data = NULL; /* jpeg_create_decompress keeps it: jpeg_huff.c's */
    e.pub.error_exit = on_error;
    e.pub.emit_message = on_message;
    e.deadline = lim->deadline;
    if (setjmp(e.jump)) {
        if (e.late) {
            rc = SCRIM_ETIMEOUT;
            scrim__seterr(err, errlen, "decoding stopped at the deadline "
                          "(the request's timeout)");
        } else if (e.slow) {
            rc = SCRIM__JPEG_SLOW;
            __atomic_fetch_add(&scrim__jhuff_counts[1], 1, __ATOMIC_RELAXED);
        }
        else
            scrim__seterr(err, errlen,
                          "truncated or corrupt image data: JPEG: %s", e.msg);
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
    /* Before anything is allocated: what will be held whole.  Files left
     * to libvips are checked too (its loader is libjpeg), and reserved
     * there. */
    uint64_t coef = coef_bytes(&c);
    if (coef > lim->max_memory) {
        scrim__seterr(err, errlen, "image too large to decode: a %ux%u "
                      "%s JPEG of %d components needs %llu MB of coefficients, "
                      "over the limit of %llu MB", c.image_width,
                      c.image_height, c.progressive_mode ? "progressive"
                                                         : "multi-scan",
                      c.num_components, (unsigned long long)(coef >> 20),
                      (unsigned long long)(lim->max_memory >> 20));
        rc = SCRIM_ETOOBIG;
        goto done;
    }
    /* libjpeg's own bound on what it allocates, past the reckoning (its
     * smaller buffers included) */
    c.mem->max_memory_to_use = (long)(coef + (64 << 20));
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
    int raw = sk->raw && raw_layout(&c);
    c.raw_data_out = (boolean)raw;
    {
        uint64_t px = 0;
        if (sk->whole) {
            int ch = grey ? 1 : 3;
            px = (uint64_t)((c.image_width + shrink - 1) / shrink) *
                 (c.image_height / shrink) * ch;
        }
        if (coef + px &&
            (rc = scrim__decode_reserve(lim, coef + px, coef
                                        ? "coefficients and pixels of a "
                                          "progressive JPEG"
                                        : "pixels", err, errlen)))
            goto done;
        held = coef + px;
        rc = SCRIM_ECORRUPT;
    }
    jpeg_start_decompress(&c);
    if (fast_huff && scrim__jpeg_fast_huff)
        huff = scrim__jhuff_attach(&c, buf, len, huff_fail);
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
    if (raw) {
        int r = sk->raw(sk, &c, &e.truncated);
        if (r) {
            if (r == SCRIM_ENOMEM)
                scrim__seterr(err, errlen, "out of memory for a %dx%d image",
                              w, h);
            rc = r;
            goto done;
        }
    }
    while (!raw && (int)c.output_scanline < h && !e.truncated) {
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
        if (raw) /* rows are read a row group at a time */
            scrim__seterr(err, errlen, "truncated or corrupt image data: "
                          "JPEG data ends before the last of %d lines", h);
        else
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
    free(huff);
    free(cmyk_rows);
    if (held)
        scrim__decode_release(lim, held);
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

int scrim__jpeg_load(const void *buf, size_t len, const scrim__limits *lim,
                     scrim_image *out, char *err, size_t errlen)
{
    image_sink is = {{1, image_begin, image_row, image_rows_done, NULL}, out, 0};
    int fw, fh, rc = SCRIM__JPEG_SLOW;
    memset(out, 0, sizeof *out);
    for (int fast = 1; rc == SCRIM__JPEG_SLOW && fast >= 0; fast--) {
        scrim_image_free(out);
        memset(out, 0, sizeof *out);
        rc = decode(buf, len, lim, fast, &is.base, &fw, &fh, err, errlen);
    }
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
    float *plane; /* the samples: ny rows of nx */
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH], off[SCRIM__SQUASH];
    int nx, ny, next, ch;
    size_t stride;
    uint8_t *ring;
    /* raw planes: three iMCU rows of each component, their row pointers,
     * scratch for a row's upsampled chroma and luma */
    uint8_t *planes;
    JSAMPROW *rows;
    void *sums;
    int plan;
} hash_sink;

static int hash_begin(sink *s, int w, int h, int ow, int ch, int fw, int fh,
                      char *err, size_t errlen)
{
    hash_sink *hs = (hash_sink *)s;
    scrim__luma_samples(fw, fh, w, h, hs->xs, &hs->nx, hs->ys, &hs->ny);
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
    hs->plane = malloc((size_t)hs->nx * hs->ny * sizeof(float));
    if (!hs->ring || !hs->plane) {
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
            float *o = hs->plane + (size_t)hs->next * hs->nx;
            if (hs->next > 0 && hs->ys[hs->next - 1] == y) {
                memcpy(o, o - hs->nx, (size_t)hs->nx * sizeof *o);
                continue;
            }
            size_t at = (size_t)(y % RING) * hs->stride;
            scrim__luma_row(hs->ring + 1 + at, hs->off, hs->nx, hs->ch,
                                end - at, o);
        }
}

/* Row `row` of component k in the ring of three iMCU rows (n rows each). */
static const uint8_t *raw_row(hash_sink *hs, j_decompress_ptr c, int k,
                              int row)
{
    int base = 0, n = c->comp_info[k].v_samp_factor * DCTSIZE;
    for (int i = 0; i < k; i++)
        base += 3 * c->comp_info[i].v_samp_factor * DCTSIZE;
    return hs->rows[base + (row / n) % 3 * n + row % n];
}

/* The sampled rows of iMCU row m, whose chroma neighbours are all read. */
static void raw_emit(hash_sink *hs, j_decompress_ptr c, int m)
{
    int n0 = c->max_v_samp_factor * DCTSIZE, v2 = c->max_v_samp_factor == 2;
    int cw = (int)c->comp_info[1].downsampled_width;
    int ch = (int)c->comp_info[1].downsampled_height;
    for (; hs->next < hs->ny && hs->ys[hs->next] < (m + 1) * n0; hs->next++) {
        int y = hs->ys[hs->next];
        float *o = hs->plane + (size_t)hs->next * hs->nx;
        if (hs->next > 0 && hs->ys[hs->next - 1] == y) {
            memcpy(o, o - hs->nx, (size_t)hs->nx * sizeof *o);
            continue;
        }
        /* the chroma row nearest to y and the next nearest (libjpeg's
         * context rows repeat the first and last rows at the edges) */
        int r = v2 ? y / 2 : y, f = r;
        if (v2)
            f = y & 1 ? (r + 1 < ch ? r + 1 : r) : (r > 0 ? r - 1 : r);
        const uint8_t *cb[2] = {raw_row(hs, c, 1, r), raw_row(hs, c, 1, f)};
        const uint8_t *cr[2] = {raw_row(hs, c, 2, r), raw_row(hs, c, 2, f)};
        scrim__luma_ycc(raw_row(hs, c, 0, y), cb, cr, (int)c->output_width,
                            cw, c->max_h_samp_factor == 2, v2, hs->plan,
                            hs->sums, hs->xs, hs->nx, o);
    }
}

/* Reads the raw planes an iMCU row at a time, three kept in a ring; the
 * sampled rows of each are made once the next one (their lower chroma
 * neighbours) is in. */
static int hash_raw(sink *s, j_decompress_ptr c, const int *truncated)
{
    hash_sink *hs = (hash_sink *)s;
    int n0 = c->max_v_samp_factor * DCTSIZE;
    int cw = (int)c->comp_info[1].downsampled_width, nrows = 0;
    size_t bytes = 0;
    for (int k = 0; k < 3; k++) {
        nrows += 3 * c->comp_info[k].v_samp_factor * DCTSIZE;
        bytes += (size_t)3 * c->comp_info[k].v_samp_factor * DCTSIZE *
                 c->comp_info[k].width_in_blocks * DCTSIZE;
    }
    hs->planes = malloc(bytes);
    hs->rows = malloc((size_t)nrows * sizeof *hs->rows);
    hs->sums = malloc(scrim__luma_ycc_scratch((int)c->output_width, cw));
    hs->plan = scrim__luma_ycc_plan(hs->xs, hs->nx, (int)c->output_width);
    if (!hs->planes || !hs->rows || !hs->sums)
        return SCRIM_ENOMEM;
    uint8_t *p = hs->planes;
    JSAMPROW *rp = hs->rows;
    for (int k = 0; k < 3; k++) {
        int n = c->comp_info[k].v_samp_factor * DCTSIZE;
        size_t w = c->comp_info[k].width_in_blocks * DCTSIZE;
        for (int i = 0; i < 3 * n; i++, p += w)
            *rp++ = p;
    }
    int imcus = (int)c->total_iMCU_rows;
    for (int m = 0; m < imcus && !*truncated; m++) {
        JSAMPARRAY planes[3];
        for (int k = 0, base = 0; k < 3; k++) {
            int n = c->comp_info[k].v_samp_factor * DCTSIZE;
            planes[k] = hs->rows + base + m % 3 * n;
            base += 3 * n;
        }
        if ((int)jpeg_read_raw_data(c, planes, (JDIMENSION)n0) != n0)
            return SCRIM_OK; /* the caller reports the missing rows */
        if (m > 0)
            raw_emit(hs, c, m - 1);
    }
    if (!*truncated)
        raw_emit(hs, c, imcus - 1);
    return SCRIM_OK;
}

static void hash_sink_free(hash_sink *hs)
{
    free(hs->plane);
    free(hs->ring);
    free(hs->planes);
    free(hs->rows);
    free(hs->sums);
    free(hs);
}

int scrim__jpeg_luma(const void *buf, size_t len, const scrim__limits *lim,
                     scrim__luma *out, char *err, size_t errlen)
{
    hash_sink *hs = NULL;
    int rc = SCRIM__JPEG_SLOW;
    memset(out, 0, sizeof *out);
    for (int fast = 1; rc == SCRIM__JPEG_SLOW && fast >= 0; fast--) {
        if (hs)
            hash_sink_free(hs);
        if (!(hs = calloc(1, sizeof *hs))) {
            scrim__seterr(err, errlen, "out of memory");
            return SCRIM_ENOMEM;
        }
        hs->base = (sink){0, hash_begin, hash_row, hash_rows_done, hash_raw};
        rc = decode(buf, len, lim, fast, &hs->base, &out->file_width,
                    &out->file_height, err, errlen);
    }
    if (!rc && hs->next != hs->ny) {
        scrim__seterr(err, errlen, "internal error: %d of %d sampled rows",
                      hs->next, hs->ny);
        rc = SCRIM_ECORRUPT;
    }
    if (!rc) {
        out->plane = hs->plane; /* handed over */
        hs->plane = NULL;
        out->width = hs->nx;
        out->height = hs->ny;
    }
    hash_sink_free(hs);
    return rc;
}
