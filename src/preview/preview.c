/* preview.c - the preview renderer: decoded pixels -> block averages (the
 * pixelation, also the shrink and the greyscale step) -> enlarged blocks ->
 * Gaussian blur -> greyscale JPEG in memory, with libvips.  Pixelating before
 * blurring matters: a plain Gaussian blur can be largely undone, block means
 * cannot be recovered beyond the blocks. */
#include "scrim.h"
#include "base/base.h"
#include "preview/preview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

/* Named levels, and the values of each. */
static const struct level {
    const char *name;
    int level, detail;
} levels[] = {
    {"light", SCRIM_PREVIEW_LIGHT, 40},
    {"standard", SCRIM_PREVIEW_STANDARD, SCRIM_PREVIEW_DEFAULT_DETAIL},
    {"strong", SCRIM_PREVIEW_STRONG, 12},
};

void scrim_preview_opts_default(scrim_preview_opts *o)
{
    o->size = SCRIM_PREVIEW_DEFAULT_SIZE;
    o->detail = SCRIM_PREVIEW_DEFAULT_DETAIL;
    o->blur = SCRIM_PREVIEW_DEFAULT_BLUR;
    o->quality = SCRIM_PREVIEW_DEFAULT_QUALITY;
}

int scrim_preview_opts_check(const scrim_preview_opts *o, char *err,
                             size_t errlen)
{
    if (o->size < 16 || o->size > SCRIM_PREVIEW_MAX_SIZE) {
        scrim__seterr(err, errlen, "preview size must be 16 to %d px, not %d",
                      SCRIM_PREVIEW_MAX_SIZE, o->size);
        return SCRIM_EINVAL;
    }
    int maxd = o->size / 2 < SCRIM_PREVIEW_MAX_DETAIL ? o->size / 2
                                                      : SCRIM_PREVIEW_MAX_DETAIL;
    if (o->detail < SCRIM_PREVIEW_MIN_DETAIL || o->detail > maxd) {
        scrim__seterr(err, errlen,
                      "preview detail must be %d to %d blocks for size %d, not %d",
                      SCRIM_PREVIEW_MIN_DETAIL, maxd, o->size, o->detail);
        return SCRIM_EINVAL;
    }
    if (!(o->blur >= 0.25 && o->blur <= 4.0)) {
        scrim__seterr(err, errlen,
                      "preview blur must be 0.25 to 4 block sizes, not %g",
                      o->blur);
        return SCRIM_EINVAL;
    }
    if (o->quality < 1 || o->quality > 100) {
        scrim__seterr(err, errlen, "preview quality must be 1 to 100, not %d",
                      o->quality);
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}

/* Parse "key=value" pairs separated by commas into o. */
static int parse_fields(const char *text, scrim_preview_opts *o, char *err,
                        size_t errlen)
{
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char field[64], *eq, *num_end;
        if (n == 0 || n >= sizeof field)
            goto bad;
        memcpy(field, p, n);
        field[n] = '\0';
        if (!(eq = strchr(field, '=')))
            goto bad;
        *eq++ = '\0';
        double v = strtod(eq, &num_end);
        if (!*eq || *num_end)
            goto bad;
        int is_int = v == floor(v) && fabs(v) < 1e6;
        if (!strcmp(field, "detail") && is_int)
            o->detail = (int)v;
        else if (!strcmp(field, "size") && is_int)
            o->size = (int)v;
        else if (!strcmp(field, "quality") && is_int)
            o->quality = (int)v;
        else if (!strcmp(field, "blur"))
            o->blur = v;
        else
            goto bad;
        p += n;
        if (*p == ',')
            p++;
        continue;
    bad:
        scrim__seterr(err, errlen,
                      "bad preview level '%s': expected light, standard, strong, "
                      "none, a number of blocks, or detail=N[,size=N][,blur=X]"
                      "[,quality=N]", text);
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}

int scrim_preview_level_parse(const char *text, scrim_preview_opts *o,
                              char *err, size_t errlen)
{
    scrim_preview_opts t;
    if (!text || !*text) {
        scrim__seterr(err, errlen, "empty preview level");
        return SCRIM_EINVAL;
    }
    if (!strcmp(text, "none"))
        return SCRIM_PREVIEW_NONE;
    scrim_preview_opts_default(&t);
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (!strcmp(text, levels[i].name)) {
            t.detail = levels[i].detail;
            *o = t;
            return levels[i].level;
        }
    char *end;
    long n = strtol(text, &end, 10);
    if (*text >= '0' && *text <= '9' && !*end) {
        t.detail = n > 100000 ? 100000 : (int)n;
    } else if (parse_fields(text, &t, err, errlen)) {
        return SCRIM_EINVAL;
    }
    if (scrim_preview_opts_check(&t, err, errlen))
        return SCRIM_EINVAL;
    *o = t;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (t.detail == levels[i].detail && t.size == SCRIM_PREVIEW_DEFAULT_SIZE &&
            t.blur == SCRIM_PREVIEW_DEFAULT_BLUR &&
            t.quality == SCRIM_PREVIEW_DEFAULT_QUALITY)
            return levels[i].level;
    return SCRIM_PREVIEW_CUSTOM;
}

void scrim_preview_opts_format(const scrim_preview_opts *o, char *buf,
                               size_t buflen)
{
    if (o->size == SCRIM_PREVIEW_DEFAULT_SIZE &&
        o->blur == SCRIM_PREVIEW_DEFAULT_BLUR &&
        o->quality == SCRIM_PREVIEW_DEFAULT_QUALITY)
        for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
            if (o->detail == levels[i].detail) {
                snprintf(buf, buflen, "%s", levels[i].name);
                return;
            }
    snprintf(buf, buflen, "detail=%d,size=%d,blur=%g,quality=%d", o->detail,
             o->size, o->blur, o->quality);
}

void scrim_preview_opts_lighter(const scrim_preview_opts *in,
                                scrim_preview_opts *out)
{
    *out = *in;
    int cap = in->size / 4 < 64 ? in->size / 4 : 64;
    int d = in->detail * 2;
    if (d > cap)
        d = cap;
    if (d < in->detail)   /* never coarser than the default it reveals */
        d = in->detail;
    out->detail = d;
}

/* Copy libvips' error text into err and clear it. */
static void vips_fail(char *err, size_t errlen, const char *what)
{
    const char *msg = vips_error_buffer();
    size_t n = strlen(msg);
    scrim__seterr(err, errlen, "%s: %.*s", what,
                  (int)(n && msg[n - 1] == '\n' ? n - 1 : n), msg);
    vips_error_clear();
}

/* Add a row of bytes to 16-bit sums, 16 at a time (GCC/Clang vector
 * extensions: SSE2/NEON without intrinsics).  Large decoded photos make this
 * loop the renderer's main cost. */
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));

static void row_add16(uint16_t *sum, const uint8_t *row, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 v;
        u16x16 s;
        memcpy(&v, row + i, sizeof v);
        memcpy(&s, sum + i, sizeof s);
        s += __builtin_convertvector(v, u16x16);
        memcpy(sum + i, &s, sizeof s);
    }
    for (; i < n; i++)
        sum[i] = (uint16_t)(sum[i] + row[i]);
}

/* Average the image into bw x bh blocks of grey (Rec. 601 luma of the block
 * means).  Block i spans source columns [i*w/bw, (i+1)*w/bw).  The rows of a
 * block row are summed per byte, in 16-bit sums flushed to 32-bit every 257
 * rows (255 x 257 < 65536), then the columns of each block. */
static void block_means(const uint8_t *px, int w, int h, int ch, size_t stride,
                        int bw, int bh, uint8_t *out, uint32_t *colsum,
                        uint16_t *sum16)
{
    size_t rowlen = (size_t)w * ch;
    for (int by = 0; by < bh; by++) {
        int y0 = (int)((int64_t)by * h / bh), y1 = (int)((int64_t)(by + 1) * h / bh);
        memset(colsum, 0, sizeof *colsum * rowlen);
        for (int y = y0; y < y1;) {
            int stop = y1 - y > 257 ? y + 257 : y1;
            memset(sum16, 0, sizeof *sum16 * rowlen);
            for (; y < stop; y++)
                row_add16(sum16, px + (size_t)y * stride, rowlen);
            for (size_t i = 0; i < rowlen; i++)
                colsum[i] += sum16[i];
        }
        for (int bx = 0; bx < bw; bx++) {
            int x0 = (int)((int64_t)bx * w / bw), x1 = (int)((int64_t)(bx + 1) * w / bw);
            uint64_t a[4] = {0, 0, 0, 0};
            for (int x = x0; x < x1; x++)
                for (int c = 0; c < ch && c < 3; c++)
                    a[c] += colsum[(size_t)x * ch + c];
            double n = (double)(x1 - x0) * (y1 - y0);
            double v = ch >= 3 ? (0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]) / n
                               : a[0] / n;
            out[(size_t)by * bw + bx] = (uint8_t)lrint(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* Gaussian blur of the enlarged blocks, computed exactly and separably:
 * the blur of a piecewise-constant signal at a pixel centre is the sum of the
 * block values weighted by the Gaussian's mass over each block, and the edge
 * blocks extend to infinity (as libvips' edge copy does).  Only blocks within
 * 4.5 sigma count (the first and last of that band take the tails), so the
 * cost is O(pixels x 9 or so) at every level, instead of O(pixels x kernel
 * width) for a convolution of the enlarged image. */
typedef struct band {
    int first, n;      /* blocks [first, first + n) */
    float w[24];       /* their weights, summing to 1 */
} band;

static void blur_weights(int n, int blocks, int bsize, double sigma, band *w)
{
    int k = (int)ceil(4.5 * sigma / bsize) + 1;
    if (k > 11)
        k = 11;   /* 2k + 1 <= 23 weights; beyond 4.5 sigma is < 1e-5 */
    for (int x = 0; x < n; x++) {
        double c = x + 0.5, lo = 0.0;
        int cb = x / bsize;
        int b0 = cb - k < 0 ? 0 : cb - k;
        int b1 = cb + k > blocks - 1 ? blocks - 1 : cb + k;
        w[x].first = b0;
        w[x].n = b1 - b0 + 1;
        for (int b = b0; b <= b1; b++) {
            /* Normal CDF at the block's right edge, from the pixel centre. */
            double hi = b == b1 ? 1.0
                                : 0.5 * erfc((c - (b + 1) * bsize) /
                                             (sigma * M_SQRT2));
            w[x].w[b - b0] = (float)(hi - lo);
            lo = hi;
        }
    }
}

static void blur_blocks(const uint8_t *blocks, int bw, int bh, int bsize,
                        double sigma, uint8_t *out, band *wx, band *wy,
                        float *rows)
{
    int ow = bw * bsize, oh = bh * bsize;
    blur_weights(ow, bw, bsize, sigma, wx);
    blur_weights(oh, bh, bsize, sigma, wy);
    /* Horizontal pass: bh rows of ow values. */
    for (int by = 0; by < bh; by++) {
        const uint8_t *brow = blocks + (size_t)by * bw;
        for (int x = 0; x < ow; x++) {
            const band *w = &wx[x];
            float s = 0;
            for (int i = 0; i < w->n; i++)
                s += w->w[i] * brow[w->first + i];
            rows[(size_t)by * ow + x] = s;
        }
    }
    /* Vertical pass. */
    for (int y = 0; y < oh; y++) {
        const band *w = &wy[y];
        uint8_t *o = out + (size_t)y * ow;
        for (int x = 0; x < ow; x++) {
            float s = 0;
            for (int i = 0; i < w->n; i++)
                s += w->w[i] * rows[(size_t)(w->first + i) * ow + x];
            o[x] = (uint8_t)(s <= 0 ? 0 : s >= 255 ? 255 : (int)(s + 0.5f));
        }
    }
}

int scrim__preview_grey(const uint8_t *pixels, int width, int height,
                        int channels, size_t stride, const scrim_preview_opts *o,
                        uint8_t **grey_out, int *w_out, int *h_out, int *d_out,
                        char *err, size_t errlen)
{
    uint8_t *blocks = NULL, *grey = NULL;
    uint32_t *acc = NULL;
    uint16_t *sum16 = NULL;
    float *rows = NULL;
    band *wx = NULL, *wy = NULL;
    int rc = SCRIM_OK;

    *grey_out = NULL;
    if ((rc = scrim_preview_opts_check(o, err, errlen)))
        return rc;
    if (!pixels || width < 1 || height < 1 ||
        (channels != 1 && channels != 3 && channels != 4) ||
        stride < (size_t)width * channels) {
        scrim__seterr(err, errlen, "preview: bad image (%dx%d, %d channels)",
                      width, height, channels);
        return SCRIM_EINVAL;
    }

    /* Blocks: `detail` along the longest side (fewer if the image has fewer
     * pixels), the other side in proportion, square. */
    int longest = width > height ? width : height;
    int d = o->detail < longest ? o->detail : longest;
    int bw, bh;
    if (width >= height) {
        bw = d;
        bh = (int)lround((double)d * height / width);
    } else {
        bh = d;
        bw = (int)lround((double)d * width / height);
    }
    if (bw < 1) bw = 1;
    if (bh < 1) bh = 1;
    if (bw > width) bw = width;
    if (bh > height) bh = height;
    int bsize = o->size / d;

    int ow = bw * bsize, oh = bh * bsize;
    blocks = malloc((size_t)bw * bh);
    acc = malloc(sizeof *acc * (size_t)width * channels);
    sum16 = malloc(sizeof *sum16 * (size_t)width * channels);
    grey = malloc((size_t)ow * oh);
    rows = malloc(sizeof *rows * (size_t)bh * ow);
    wx = malloc(sizeof *wx * (size_t)ow);
    wy = malloc(sizeof *wy * (size_t)oh);
    if (!blocks || !acc || !sum16 || !grey || !rows || !wx || !wy) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        free(grey);
        goto done;
    }
    block_means(pixels, width, height, channels, stride, bw, bh, blocks, acc,
                sum16);
    blur_blocks(blocks, bw, bh, bsize, o->blur * bsize, grey, wx, wy, rows);
    *grey_out = grey;
    *w_out = ow;
    *h_out = oh;
    *d_out = d;
done:
    free(rows);
    free(wx);
    free(wy);
    free(blocks);
    free(acc);
    free(sum16);
    return rc;
}

int scrim__preview_encode(const uint8_t *grey, int w, int h, int quality,
                          scrim_preview *out, char *err, size_t errlen)
{
    void *jpeg = NULL;
    size_t jlen = 0;
    int rc = SCRIM_OK;
    memset(out, 0, sizeof *out);
    if ((rc = scrim__vips(err, errlen)))
        return rc;
    VipsImage *img = vips_image_new_from_memory(grey, (size_t)w * h, w, h, 1,
                                                VIPS_FORMAT_UCHAR);
    if (!img || vips_jpegsave_buffer(img, &jpeg, &jlen, "Q", quality, "strip",
                                     TRUE, "optimize_coding", TRUE, NULL)) {
        vips_fail(err, errlen, "preview rendering failed");
        rc = SCRIM_ENOMEM;
    } else if (!(out->data = malloc(jlen))) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
    } else {
        memcpy(out->data, jpeg, jlen);
        out->len = jlen;
        out->width = w;
        out->height = h;
    }
    if (img)
        g_object_unref(img);
    g_free(jpeg);
    return rc;
}

int scrim_preview_render_pixels(const uint8_t *pixels, int width, int height,
                                int channels, size_t stride,
                                const scrim_preview_opts *o,
                                scrim_preview *out, char *err, size_t errlen)
{
    scrim_preview_opts def;
    uint8_t *grey;
    int w, h, d;
    memset(out, 0, sizeof *out);
    if (!o) {
        scrim_preview_opts_default(&def);
        o = &def;
    }
    int rc = scrim__preview_grey(pixels, width, height, channels, stride, o,
                                 &grey, &w, &h, &d, err, errlen);
    if (rc)
        return rc;
    rc = scrim__preview_encode(grey, w, h, o->quality, out, err, errlen);
    free(grey);
    out->detail = d;
    return rc;
}

int scrim_preview_render(const scrim_image *img, const scrim_preview_opts *o,
                         scrim_preview *out, char *err, size_t errlen)
{
    if (!img) {
        memset(out, 0, sizeof *out);
        scrim__seterr(err, errlen, "preview: no image");
        return SCRIM_EINVAL;
    }
    return scrim_preview_render_pixels(img->pixels, img->width, img->height,
                                       img->channels,
                                       (size_t)img->width * img->channels, o,
                                       out, err, errlen);
}

void scrim_preview_free(scrim_preview *p)
{
    if (p) {
        free(p->data);
        p->data = NULL;
        p->len = 0;
    }
}
