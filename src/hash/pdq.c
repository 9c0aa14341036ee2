/* pdq.c - the PDQ perceptual hash (256 bits + quality), computed exactly as
 * Meta's reference does it so that hashes agree bit for bit on the same pixels.
 *
 * Pipeline: RGB -> float luma; two passes of a Jarosz box filter (rows then
 * columns) with a window of about dim/128; nearest-sample decimation to 64x64;
 * quality from the 64x64 gradients; a 16x16 DCT (frequencies 1..16, no DC);
 * each bit says whether a coefficient is above the median.
 *
 * Every float operation below is done in the order the reference does it:
 * reordering a sum changes rounding and so changes bits.  The build uses
 * -ffp-contract=off for the same reason (no fused multiply-add). */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"
#include "hash/hash.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PDQ_MIN_DIM 5

/* 16x64 DCT-II basis without the DC row, computed once. */
static float dct16x64[16 * 64];

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static void tables_build(void)
{
    /* The reference keeps the scale factor in a float. */
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            dct16x64[i * 64 + j] =
                (float)((double)scale * cos((M_PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
}

static void dct_init(void)
{
    pthread_once(&tables_once, tables_build);
}

/* Window of the box filter so that two passes cover about one output cell. */
static int jarosz_window(int old_dim, int new_dim)
{
    return (old_dim + 2 * new_dim - 1) / (2 * new_dim);
}

/* ---- the Jarosz filter ---------------------------------------------------
 *
 * The reference runs a 1-D box filter along every row, then every column,
 * twice.  Down the columns, all the columns' running sums are kept side by
 * side and advanced one row at a time, which vectorises.  Along a row the
 * running sum is a chain of dependent additions, so the row passes work on
 * strips of STRIP rows: the strip is transposed into a small buffer that
 * stays in L1 cache, filtered there as columns (the STRIP rows' sums side by
 * side), and transposed back.  Each output still sees exactly the reference's
 * operations in the reference's order, so the results agree bit for bit.
 * The last row pass keeps only the 64 sampled columns and the last column
 * pass only the 64 sampled rows. */

#define STRIP 8

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Twice the lanes where the CPU has AVX2; IEEE results are the same. */
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* The box filter down every column of in (rows x cols): the window grows at
 * the top and shrinks at the bottom, each output being sum / (cells in the
 * window), as in the reference.  Output row r is written only if keep is NULL
 * or keep[r]; then to out row (keep ? keep[r] - 1 : r). */
static inline __attribute__((always_inline)) void
box_vert(const float *in, float *out, int rows, int cols, int win,
         float *sums, const int *keep)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = rows - win, n4 = half - 1;
    int li = 0, ri = 0, oi = 0, count = 0;

    for (int j = 0; j < cols; j++)
        sums[j] = 0.0f;
    for (int i = 0; i < n1; i++, ri++) {
        const float *r = in + (size_t)ri * cols;
        for (int j = 0; j < cols; j++)
            sums[j] += r[j];
        count++;
    }
    for (int i = 0; i < n2; i++, ri++, oi++) {
        const float *r = in + (size_t)ri * cols;
        count++;
        for (int j = 0; j < cols; j++)
            sums[j] += r[j];
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n3; i++, li++, ri++, oi++) {
        const float *r = in + (size_t)ri * cols;
        const float *l = in + (size_t)li * cols;
        for (int j = 0; j < cols; j++) {
            sums[j] += r[j];
            sums[j] -= l[j];
        }
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n4; i++, li++, oi++) {
        const float *l = in + (size_t)li * cols;
        count--;
        for (int j = 0; j < cols; j++)
            sums[j] -= l[j];
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
}

WIDE static void box_down(const float *in, float *out, int rows, int cols,
                          int win, float *sums, const int *keep)
{
    box_vert(in, out, rows, cols, win, sums, keep);
}

/* out = in transposed: in is rows x cols (row stride is), out cols x rows
 * (row stride os); 4x4 SSE transposes where available. */
static inline __attribute__((always_inline)) void
transpose(const float *in, size_t is, float *out, size_t os, int rows, int cols)
{
    int i = 0;
#ifdef __SSE2__
    for (; i + 4 <= rows; i += 4) {
        int j = 0;
        for (; j + 4 <= cols; j += 4) {
            __m128 r0 = _mm_loadu_ps(in + (size_t)i * is + j);
            __m128 r1 = _mm_loadu_ps(in + (size_t)(i + 1) * is + j);
            __m128 r2 = _mm_loadu_ps(in + (size_t)(i + 2) * is + j);
            __m128 r3 = _mm_loadu_ps(in + (size_t)(i + 3) * is + j);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(out + (size_t)j * os + i, r0);
            _mm_storeu_ps(out + (size_t)(j + 1) * os + i, r1);
            _mm_storeu_ps(out + (size_t)(j + 2) * os + i, r2);
            _mm_storeu_ps(out + (size_t)(j + 3) * os + i, r3);
        }
        for (; j < cols; j++)
            for (int k = i; k < i + 4; k++)
                out[(size_t)j * os + k] = in[(size_t)k * is + j];
    }
#endif
    for (; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[(size_t)j * os + i] = in[(size_t)i * is + j];
}

/* The same filter along one contiguous vector. */
static void box_line(const float *in, float *out, int len, int win)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = len - win, n4 = half - 1;
    int li = 0, ri = 0, oi = 0, count = 0;
    float sum = 0.0f;
    for (int i = 0; i < n1; i++) {
        sum += in[ri++];
        count++;
    }
    for (int i = 0; i < n2; i++) {
        sum += in[ri++];
        count++;
        out[oi++] = sum / count;
    }
    for (int i = 0; i < n3; i++) {
        sum += in[ri++];
        sum -= in[li++];
        out[oi++] = sum / count;
    }
    for (int i = 0; i < n4; i++) {
        sum -= in[li++];
        count--;
        out[oi++] = sum / count;
    }
}

/* The box filter along every row of in (rows x cols, row stride is) into
 * out (row stride ocols); with keep, only the kept columns j, to column
 * keep[j] - 1.  t1 and t2 hold cols * STRIP floats each. */
WIDE static void box_rows(const float *in, size_t is, float *out, int rows,
                          int cols, int win, const int *keep, int ocols,
                          float *t1, float *t2)
{
    int r = 0;
    for (; r + STRIP <= rows; r += STRIP) {
        float sums[STRIP];
        /* the strip, transposed (cols x STRIP), filtered as columns */
        transpose(in + (size_t)r * is, is, t1, STRIP, STRIP, cols);
        /* with keep, only the kept columns are divided out, packed (two
         * calls, so that each inlined copy knows whether keep is NULL) */
        if (keep)
            box_vert(t1, t2, cols, STRIP, win, sums, keep);
        else
            box_vert(t1, t2, cols, STRIP, win, sums, NULL);
        transpose(t2, STRIP, out + (size_t)r * ocols, ocols, ocols, STRIP);
    }
    for (; r < rows; r++) {
        float *o = out + (size_t)r * ocols;
        if (!keep) {
            box_line(in + (size_t)r * is, o, cols, win);
            continue;
        }
        box_line(in + (size_t)r * is, t2, cols, win);
        for (int j = 0; j < cols; j++)
            if (keep[j])
                o[keep[j] - 1] = t2[j];
    }
}

/* The first column pass, streamed: the reference's box_vert down every
 * column, fed one row at a time (rows of the first row pass, kept in a ring
 * of ring_rows(win) rows, row k at k % that), each output row written to a
 * ring of STRIP rows and, once STRIP of them are there, taken through the
 * second row pass at the sampled columns (box_rows with keep) into out.
 * Every output gets the very operations box_vert would do, in its order;
 * only the planes between the passes are gone (at 1080p each was 8 MB that
 * went through memory twice). */
struct down {
    float *sums, *ring, *out, *t1, *t2;
    const int *keep;
    int ocols, wrow;
    int rows, cols, win, n1, n2, n3, n4;
    int ri, li, oi, count, done; /* rows in, left edge, out; rows out passed on */
};

/* Rows of the first ring: the window's rows behind the one coming in,
 * and a strip being written ahead of them, in whole strips. */
static int ring_rows(int win)
{
    return (win + 2 * STRIP + STRIP - 1) / STRIP * STRIP;
}

static void down_start(struct down *d, int rows, int cols, int win)
{
    int half = (win + 2) / 2;
    d->rows = rows, d->cols = cols, d->win = win;
    d->n1 = half - 1, d->n2 = win - half + 1, d->n3 = rows - win, d->n4 = half - 1;
    d->ri = d->li = d->oi = d->count = d->done = 0;
    for (int j = 0; j < cols; j++)
        d->sums[j] = 0.0f;
}

WIDE static void row_add(float *sums, const float *r, int n)
{
    for (int j = 0; j < n; j++)
        sums[j] += r[j];
}

WIDE static void row_add_sub(float *sums, const float *r, const float *l, int n)
{
    for (int j = 0; j < n; j++) {
        sums[j] += r[j];
        sums[j] -= l[j];
    }
}

WIDE static void row_sub(float *sums, const float *l, int n)
{
    for (int j = 0; j < n; j++)
        sums[j] -= l[j];
}

WIDE static void row_div(float *o, const float *sums, int count, int n)
{
    for (int j = 0; j < n; j++)
        o[j] = sums[j] / count;
}

/* Output row oi of the column pass, then the second row pass on a full
 * strip of them (or, with last, on what is left). */
static void down_emit(struct down *d, int last)
{
    if (!last) {
        row_div(d->ring + (size_t)(d->oi % STRIP) * d->cols, d->sums, d->count,
                d->cols);
        d->oi++;
    }
    int n = d->oi - d->done;
    if (n == STRIP || (last && n > 0)) {
        box_rows(d->ring, d->cols, d->out + (size_t)d->done * d->ocols, n,
                 d->cols, d->wrow, d->keep, d->ocols, d->t1, d->t2);
        d->done = d->oi;
    }
}

/* The next row in (ring row ri % rr). */
static void down_push(struct down *d, const float *ring, int rr)
{
    const float *r = ring + (size_t)(d->ri % rr) * d->cols;
    if (d->ri < d->n1) {
        row_add(d->sums, r, d->cols);
        d->count++;
    } else if (d->ri < d->n1 + d->n2) {
        d->count++;
        row_add(d->sums, r, d->cols);
        down_emit(d, 0);
    } else {
        row_add_sub(d->sums, r, ring + (size_t)(d->li % rr) * d->cols, d->cols);
        d->li++;
        down_emit(d, 0);
    }
    d->ri++;
}

/* The rows out after the last row in, and the second row pass on the
 * rest. */
static void down_finish(struct down *d, const float *ring, int rr)
{
    for (int i = 0; i < d->n4; i++) {
        d->count--;
        row_sub(d->sums, ring + (size_t)(d->li % rr) * d->cols, d->cols);
        d->li++;
        down_emit(d, 0);
    }
    down_emit(d, 1);
}

/* The Jarosz filter of the plane src (row stride `stride`: s->a, or a
 * plane it does not overwrite) sampled at the reference's 64x64 points. */
static void filter_to_64(scrim__pdq_scratch *s, const float *src,
                         size_t stride, int width, int height,
                         float out[64][64])
{
    float *a = s->a, *b = s->b;
    int *keep_j = s->keep, *keep_r = s->keep + s->side;
    int wrow = jarosz_window(width, 64), wcol = jarosz_window(height, 64);
    /* Sampled rows si and columns sj; on images under 64 px a row or column
     * may be sampled more than once, so each distinct one gets one slot. */
    int si[64], slot_j[64], slot_i[64], cols = 0, rows = 0;
    memset(keep_j, 0, (size_t)width * sizeof(int));
    memset(keep_r, 0, (size_t)height * sizeof(int));
    for (int k = 0; k < 64; k++) {
        int sj = (int)(((k + 0.5) * width) / 64);
        si[k] = (int)(((k + 0.5) * height) / 64);
        if (!keep_j[sj])
            keep_j[sj] = ++cols;
        slot_j[k] = keep_j[sj] - 1;
        if (!keep_r[si[k]])
            keep_r[si[k]] = ++rows;
        slot_i[k] = keep_r[si[k]] - 1;
    }
    float *t1 = s->sums, *t2 = s->sums + (size_t)STRIP * s->side;
    /* The first pass and the second's rows stream through a few rows at a
     * time (see struct down): rows of the plane -> rows filtered (ring1)
     * -> down the columns (ring2) -> rows again at the sampled columns
     * into b (height x cols). */
    struct down d;
    int r1 = ring_rows(wcol);
    float *ring1 = t2 + (size_t)STRIP * s->side;
    d.ring = ring1 + (size_t)r1 * width;
    d.sums = d.ring + (size_t)STRIP * width;
    d.out = b, d.t1 = t1, d.t2 = t2, d.keep = keep_j, d.ocols = cols;
    d.wrow = wrow;
    down_start(&d, height, width, wcol);
    for (int r = 0; r < height; r += STRIP) {
        int n = height - r < STRIP ? height - r : STRIP;
        float *rows1 = ring1 + (size_t)(r % r1) * width;
        box_rows(src + (size_t)r * stride, stride, rows1, n, width, wrow, NULL,
                 width, t1, t2);
        for (int k = 0; k < n; k++)
            down_push(&d, ring1, r1);
    }
    down_finish(&d, ring1, r1);
    /* ... then those columns, only at the sampled rows (a: rows x cols). */
    box_down(b, a, height, cols, wcol, t1, keep_r);
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 64; k++)
            out[i][k] = a[(size_t)slot_i[i] * cols + slot_j[k]];
}

static int scratch_alloc_n(scrim__pdq_scratch *s, size_t n, size_t side,
                           float *a);

/* Allocates the scratch for a width x height plane; the first plane only if
 * the caller does not lend its own (a != NULL). */
static int scratch_alloc(scrim__pdq_scratch *s, int width, int height,
                         float *a)
{
    size_t n = (size_t)width * height, side = width > height ? width : height;
    return scratch_alloc_n(s, n > side ? n : side, side, a);
}

/* The planes of n floats each. */
static int scratch_alloc_n(scrim__pdq_scratch *s, size_t n, size_t side,
                           float *a)
{
    s->a = a ? a : malloc(n * sizeof(float));
    s->b = malloc(n * sizeof(float));
    /* t1 and t2 (STRIP floats per row or column each), then the rings
     * and the sums of the streamed column pass (struct down) */
    s->sums = malloc((2 * STRIP + ring_rows(jarosz_window((int)side, 64)) +
                      STRIP + 1) * side * sizeof(float));
    s->keep = malloc(2 * side * sizeof(int));
    if (!s->a || !s->b || !s->sums || !s->keep) {
        if (a)
            s->a = NULL;
        scrim__pdq_scratch_free(s);
        return SCRIM_ENOMEM;
    }
    s->cap = n;
    s->side = side;
    return SCRIM_OK;
}

int scrim__pdq_reserve(scrim__pdq_scratch *s, int width, int height)
{
    size_t n = (size_t)width * height, side = width > height ? width : height;
    if ((n > side ? n : side) <= s->cap && side <= s->side)
        return SCRIM_OK;
    scrim__pdq_scratch_free(s);
    return scratch_alloc(s, width, height, NULL);
}

/* scrim__pdq_hash_strided writes no more of the planes than the second row
 * pass's height x 64 and the 64 x 64 samples. */
static size_t strided_need(size_t side)
{
    return side * 64 + 64 * 64;
}

int scrim__pdq_reserve_strided(scrim__pdq_scratch *s, int width, int height)
{
    size_t side = width > height ? width : height, n = strided_need(side);
    if (n <= s->cap && side <= s->side)
        return SCRIM_OK;
    scrim__pdq_scratch_free(s);
    return scratch_alloc_n(s, n, side, NULL);
}

void scrim__pdq_scratch_free(scrim__pdq_scratch *s)
{
    free(s->a);
    free(s->b);
    free(s->sums);
    free(s->keep);
    memset(s, 0, sizeof *s);
}

static int quality_of(const float a[64][64])
{
    int sum = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100) / 255);
            sum += abs(d);
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100) / 255);
            sum += abs(d);
        }
    int q = sum / 90;
    return q > 100 ? 100 : q;
}

/* The reference's Torben median of 256 values: the 128th smallest,
 * sorted[127]. */
static float median_of(const float b[16][16])
{
    float s[256];
    memcpy(s, b, sizeof s);
    return scrim__select_kth(s, 256, 127);
}

/* Bits are set where a coefficient exceeds the median. */
static void bits_of(const float b[16][16], float median, scrim_pdq *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if (b[i][j] > median)
                h->w[i] |= (uint16_t)(1u << j);
}

/* The dihedral variants are sign flips and transposes of the DCT output: a
 * basis function of odd frequency k+1 (even k) changes sign under a flip. */
static void dihedral_of(const float a[16][16], int variant, float b[16][16])
{
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float v = a[i][j];
            switch (variant) {
            case SCRIM_DIH_ROTATE90:   b[j][i] = (j & 1) ? v : -v; break;
            case SCRIM_DIH_ROTATE180:  b[i][j] = ((i + j) & 1) ? -v : v; break;
            case SCRIM_DIH_ROTATE270:  b[j][i] = (i & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPX:      b[i][j] = (i & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPY:      b[i][j] = (j & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPPLUS1:  b[j][i] = v; break;
            case SCRIM_DIH_FLIPMINUS1: b[j][i] = ((i + j) & 1) ? -v : v; break;
            default:                   b[i][j] = v; break;
            }
        }
}

/* Quality, DCT and bits of the 64x64 downsample. */
static void hash_64(const float a[64][64], scrim_pdq *hash, int *quality,
                    scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (quality)
        *quality = quality_of(a);

    /* B = D A D^T, as T = D A then B = T D^T, sums in k order. */
    float t[16][64], b[16][16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++)
                s += dct16x64[i * 64 + k] * a[k][j];
            t[i][j] = s;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++)
                s += t[i][k] * dct16x64[j * 64 + k];
            b[i][j] = s;
        }
    float medians[SCRIM_DIH_COUNT];
    medians[0] = median_of(b);
    bits_of(b, medians[0], hash);
    if (dihedral) {
        /* A transpose keeps the values, so variants that negate the same
         * coefficients share a median: 4 distinct medians for 8 hashes. */
        static const int8_t median_from[SCRIM_DIH_COUNT] = {
            [SCRIM_DIH_ORIGINAL] = SCRIM_DIH_ORIGINAL,
            [SCRIM_DIH_ROTATE90] = SCRIM_DIH_ROTATE90,
            [SCRIM_DIH_ROTATE180] = SCRIM_DIH_ROTATE180,
            [SCRIM_DIH_ROTATE270] = SCRIM_DIH_ROTATE270,
            [SCRIM_DIH_FLIPX] = SCRIM_DIH_ROTATE270,
            [SCRIM_DIH_FLIPY] = SCRIM_DIH_ROTATE90,
            [SCRIM_DIH_FLIPPLUS1] = SCRIM_DIH_ORIGINAL,
            [SCRIM_DIH_FLIPMINUS1] = SCRIM_DIH_ROTATE180,
        };
        dihedral[0] = *hash;
        for (int v = 1; v < SCRIM_DIH_COUNT; v++) {
            float d[16][16];
            dihedral_of(b, v, d);
            int m = median_from[v];
            medians[v] = m == v ? median_of(d) : medians[m];
            bits_of(d, medians[v], &dihedral[v]);
        }
    }
}

int scrim__pdq_hash_plane(scrim__pdq_scratch *s, int width, int height,
                          scrim_pdq *hash, int *quality,
                          scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    return scrim__pdq_hash_strided(s, s->a, (size_t)width, width, height,
                                   hash, quality, dihedral);
}

int scrim__pdq_hash_strided(scrim__pdq_scratch *s, const float *src,
                            size_t stride, int width, int height,
                            scrim_pdq *hash, int *quality,
                            scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (width < PDQ_MIN_DIM || height < PDQ_MIN_DIM) {
        memset(hash, 0, sizeof *hash);
        if (quality)
            *quality = 0;
        if (dihedral)
            memset(dihedral, 0, sizeof(scrim_pdq) * SCRIM_DIH_COUNT);
        return SCRIM_OK;
    }
    dct_init();
    float a[64][64];
    if (width == 64 && height == 64) {
        /* The reference takes a 64x64 input as already downsampled. */
        for (int i = 0; i < 64; i++)
            memcpy(a[i], src + (size_t)i * stride, sizeof a[i]);
    } else {
        filter_to_64(s, src, stride, width, height, a);
    }
    hash_64(a, hash, quality, dihedral);
    return SCRIM_OK;
}

int scrim_pdq_hash_luma(float *luma, int width, int height, scrim_pdq *hash,
                        int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!luma || width <= 0 || height <= 0 || !hash)
        return SCRIM_EINVAL;
    /* The caller's plane is the first scratch plane. */
    scrim__pdq_scratch s = {0};
    int rc = scratch_alloc(&s, width, height, luma);
    if (rc)
        return rc;
    rc = scrim__pdq_hash_plane(&s, width, height, hash, quality, dihedral);
    s.a = NULL;
    scrim__pdq_scratch_free(&s);
    return rc;
}

static int valid_channels(int channels)
{
    return channels == 1 || channels == 3 || channels == 4;
}

int scrim_pdq_hash_sampled(const uint8_t *px, int channels, size_t stride,
                           const int *xs, int nx, const int *ys, int ny,
                           scrim_pdq *hash, int *quality,
                           scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || !xs || !ys || nx <= 0 || ny <= 0 || !valid_channels(channels))
        return SCRIM_EINVAL;
    dct_init();
    scrim__pdq_scratch s = {0};
    int rc = scrim__pdq_reserve(&s, nx, ny);
    if (rc)
        return rc;
    rc = scrim__luma_sampled(px, channels, stride, xs, nx, ys, ny, s.a);
    if (!rc)
        rc = scrim__pdq_hash_plane(&s, nx, ny, hash, quality, dihedral);
    scrim__pdq_scratch_free(&s);
    return rc;
}

int scrim_pdq_hash_pixels(const uint8_t *px, int width, int height,
                          int channels, size_t stride, scrim_pdq *hash,
                          int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || width <= 0 || height <= 0 || !valid_channels(channels))
        return SCRIM_EINVAL;
    scrim__pdq_scratch s = {0};
    int rc = scrim__pdq_reserve(&s, width, height);
    if (rc)
        return rc;
    rc = scrim__luma_plane(px, width, height, channels, stride, s.a);
    if (!rc)
        rc = scrim__pdq_hash_plane(&s, width, height, hash, quality, dihedral);
    scrim__pdq_scratch_free(&s);
    return rc;
}

/* ---- hash representation ------------------------------------------------ */

static const char *const dih_names[SCRIM_DIH_COUNT] = {
    "original", "rotate90", "rotate180", "rotate270",
    "flipx",    "flipy",    "flipplus1", "flipminus1"};

const char *scrim_dihedral_name(int v)
{
    return v >= 0 && v < SCRIM_DIH_COUNT ? dih_names[v] : "unknown";
}

void scrim_pdq_to_hex(const scrim_pdq *h, char out[SCRIM_PDQ_HEXLEN + 1])
{
    uint8_t b[32];
    scrim_pdq_to_bytes(h, b);
    scrim__hex_encode(b, sizeof b, out);
}

int scrim_pdq_from_hex(const char *hex, size_t len, scrim_pdq *h)
{
    uint8_t b[32];
    if (!hex || len != SCRIM_PDQ_HEXLEN || scrim__hex_decode(hex, len, b))
        return SCRIM_EINVAL;
    scrim_pdq_from_bytes(b, h);
    return SCRIM_OK;
}

void scrim_pdq_to_bytes(const scrim_pdq *h, uint8_t out[32])
{
    for (int i = 0; i < 16; i++) {
        out[2 * i] = (uint8_t)(h->w[15 - i] >> 8);
        out[2 * i + 1] = (uint8_t)h->w[15 - i];
    }
}

void scrim_pdq_from_bytes(const uint8_t in[32], scrim_pdq *h)
{
    for (int i = 0; i < 16; i++)
        h->w[15 - i] = (uint16_t)(in[2 * i] << 8 | in[2 * i + 1]);
}

int scrim_pdq_distance(const scrim_pdq *a, const scrim_pdq *b)
{
    uint64_t x[4], y[4];
    memcpy(x, a->w, sizeof x);
    memcpy(y, b->w, sizeof y);
    int d = 0;
    for (int i = 0; i < 4; i++)
        d += __builtin_popcountll(x[i] ^ y[i]);
    return d;
}
