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

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PDQ_MIN_DIM 5

/* 16x64 DCT-II basis without the DC row, computed once. */
static float dct16x64[16 * 64];
static int dct_ready;

static void dct_init(void)
{
    /* Benign race: every thread writes the same values. */
    if (__atomic_load_n(&dct_ready, __ATOMIC_ACQUIRE))
        return;
    /* The reference keeps the scale factor in a float. */
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            dct16x64[i * 64 + j] =
                (float)((double)scale * cos((M_PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
    __atomic_store_n(&dct_ready, 1, __ATOMIC_RELEASE);
}

/* Window of the box filter so that two passes cover about one output cell. */
static int jarosz_window(int old_dim, int new_dim)
{
    return (old_dim + 2 * new_dim - 1) / (2 * new_dim);
}

/* One box-filter pass along a vector: a running sum whose window grows at the
 * start and shrinks at the end, each output being sum / (cells in window). */
static void box1d(const float *in, float *out, int len, int stride, int win)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = len - win, n4 = half - 1;
    int li = 0, ri = 0, oi = 0, count = 0;
    float sum = 0.0f;

    for (int i = 0; i < n1; i++) {
        sum += in[ri];
        count++;
        ri += stride;
    }
    for (int i = 0; i < n2; i++) {
        sum += in[ri];
        count++;
        out[oi] = sum / count;
        ri += stride;
        oi += stride;
    }
    for (int i = 0; i < n3; i++) {
        sum += in[ri];
        sum -= in[li];
        out[oi] = sum / count;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for (int i = 0; i < n4; i++) {
        sum -= in[li];
        count--;
        out[oi] = sum / count;
        li += stride;
        oi += stride;
    }
}

/* The column pass of box1d, done for all columns at once, row by row, so that
 * memory is read sequentially.  Each column sees exactly the operations box1d
 * would do on it, in the same order, so results are identical. */
static void box_cols(const float *in, float *out, int rows, int cols, int win,
                     float *sums)
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
        float *o = out + (size_t)oi * cols;
        count++;
        for (int j = 0; j < cols; j++) {
            sums[j] += r[j];
            o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n3; i++, li++, ri++, oi++) {
        const float *r = in + (size_t)ri * cols;
        const float *l = in + (size_t)li * cols;
        float *o = out + (size_t)oi * cols;
        for (int j = 0; j < cols; j++) {
            sums[j] += r[j];
            sums[j] -= l[j];
            o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n4; i++, li++, oi++) {
        const float *l = in + (size_t)li * cols;
        float *o = out + (size_t)oi * cols;
        count--;
        for (int j = 0; j < cols; j++) {
            sums[j] -= l[j];
            o[j] = sums[j] / count;
        }
    }
}

/* The row pass for 8 rows at a time: each row gets exactly box1d's sequence
 * of operations, but the 8 running sums sit side by side so the compiler can
 * keep them in one vector register. */
static void box_rows(const float *in, float *out, int rows, int cols, int win)
{
    enum { B = 8 };
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = cols - win, n4 = half - 1;
    int r0 = 0;
    for (; r0 + B <= rows; r0 += B) {
        const float *ib = in + (size_t)r0 * cols;
        float *ob = out + (size_t)r0 * cols;
        float sum[B] = {0};
        int li = 0, ri = 0, oi = 0, count = 0;
        for (int i = 0; i < n1; i++, ri++) {
            for (int k = 0; k < B; k++)
                sum[k] += ib[(size_t)k * cols + ri];
            count++;
        }
        for (int i = 0; i < n2; i++, ri++, oi++) {
            count++;
            for (int k = 0; k < B; k++) {
                sum[k] += ib[(size_t)k * cols + ri];
                ob[(size_t)k * cols + oi] = sum[k] / count;
            }
        }
        for (int i = 0; i < n3; i++, li++, ri++, oi++)
            for (int k = 0; k < B; k++) {
                sum[k] += ib[(size_t)k * cols + ri];
                sum[k] -= ib[(size_t)k * cols + li];
                ob[(size_t)k * cols + oi] = sum[k] / count;
            }
        for (int i = 0; i < n4; i++, li++, oi++) {
            count--;
            for (int k = 0; k < B; k++) {
                sum[k] -= ib[(size_t)k * cols + li];
                ob[(size_t)k * cols + oi] = sum[k] / count;
            }
        }
    }
    for (; r0 < rows; r0++)
        box1d(in + (size_t)r0 * cols, out + (size_t)r0 * cols, cols, 1, win);
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

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Bits are set where a coefficient exceeds the median.  The reference's
 * Torben median of 256 values returns the 128th smallest, sorted[127]. */
static void bits_of(const float b[16][16], scrim_pdq *h)
{
    float s[256];
    memcpy(s, b, sizeof s);
    qsort(s, 256, sizeof(float), cmp_float);
    float median = s[127];
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

int scrim_pdq_hash_luma(float *luma, int width, int height, scrim_pdq *hash,
                        int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!luma || width <= 0 || height <= 0 || !hash)
        return SCRIM_EINVAL;
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
        memcpy(a, luma, sizeof a);
        goto downsampled;
    }

    size_t n = (size_t)width * height;
    float *tmp = malloc(n * sizeof(float) + (size_t)width * sizeof(float));
    if (!tmp)
        return SCRIM_ENOMEM;
    float *sums = tmp + n;
    int wrow = jarosz_window(width, 64), wcol = jarosz_window(height, 64);
    for (int rep = 0; rep < 2; rep++) {
        box_rows(luma, tmp, height, width, wrow);
        box_cols(tmp, luma, height, width, wcol, sums);
    }
    free(tmp);

    for (int i = 0; i < 64; i++) {
        int si = (int)(((i + 0.5) * height) / 64);
        for (int j = 0; j < 64; j++) {
            int sj = (int)(((j + 0.5) * width) / 64);
            a[i][j] = luma[(size_t)si * width + sj];
        }
    }
downsampled:
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
    bits_of(b, hash);
    if (dihedral) {
        dihedral[0] = *hash;
        for (int v = 1; v < SCRIM_DIH_COUNT; v++) {
            float d[16][16];
            dihedral_of(b, v, d);
            bits_of(d, &dihedral[v]);
        }
    }
    return SCRIM_OK;
}

/* Luma as the reference computes it: float coefficients, R + G + B in that
 * order; grey pixels are taken as they are. */
static inline float luma_of(const uint8_t *p, int channels)
{
    const float kr = 0.299f, kg = 0.587f, kb = 0.114f;
    return channels == 1 ? (float)p[0] : kr * p[0] + kg * p[1] + kb * p[2];
}

int scrim_pdq_hash_sampled(const uint8_t *px, int channels, size_t stride,
                           const int *xs, int nx, const int *ys, int ny,
                           scrim_pdq *hash, int *quality,
                           scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || !xs || !ys || nx <= 0 || ny <= 0 ||
        (channels != 1 && channels != 3 && channels != 4))
        return SCRIM_EINVAL;
    float *luma = malloc((size_t)nx * ny * sizeof(float));
    if (!luma)
        return SCRIM_ENOMEM;
    for (int i = 0; i < ny; i++) {
        const uint8_t *row = px + (size_t)ys[i] * stride;
        float *o = luma + (size_t)i * nx;
        if (i > 0 && ys[i] == ys[i - 1]) {
            memcpy(o, o - nx, (size_t)nx * sizeof(float));
            continue;
        }
        if (channels == 3)
            for (int j = 0; j < nx; j++)
                o[j] = luma_of(row + (size_t)xs[j] * 3, 3);
        else
            for (int j = 0; j < nx; j++)
                o[j] = luma_of(row + (size_t)xs[j] * channels, channels);
    }
    int rc = scrim_pdq_hash_luma(luma, nx, ny, hash, quality, dihedral);
    free(luma);
    return rc;
}

int scrim_pdq_hash_pixels(const uint8_t *px, int width, int height,
                          int channels, size_t stride, scrim_pdq *hash,
                          int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || width <= 0 || height <= 0 ||
        (channels != 1 && channels != 3 && channels != 4))
        return SCRIM_EINVAL;
    float *luma = malloc((size_t)width * height * sizeof(float));
    if (!luma)
        return SCRIM_ENOMEM;
    for (int i = 0; i < height; i++) {
        const uint8_t *p = px + (size_t)i * stride;
        float *o = luma + (size_t)i * width;
        if (channels == 1)
            for (int j = 0; j < width; j++)
                o[j] = luma_of(p + j, 1);
        else if (channels == 3)
            for (int j = 0; j < width; j++)
                o[j] = luma_of(p + 3 * j, 3);
        else
            for (int j = 0; j < width; j++)
                o[j] = luma_of(p + 4 * j, 4);
    }
    int rc = scrim_pdq_hash_luma(luma, width, height, hash, quality, dihedral);
    free(luma);
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
    static const char hx[] = "0123456789abcdef";
    char *p = out;
    for (int i = 15; i >= 0; i--)
        for (int s = 12; s >= 0; s -= 4)
            *p++ = hx[(h->w[i] >> s) & 15];
    *p = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int scrim_pdq_from_hex(const char *hex, size_t len, scrim_pdq *h)
{
    if (!hex || len != SCRIM_PDQ_HEXLEN)
        return SCRIM_EINVAL;
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            int d = hexval((unsigned char)hex[i * 4 + k]);
            if (d < 0)
                return SCRIM_EINVAL;
            v = v << 4 | (unsigned)d;
        }
        h->w[15 - i] = (uint16_t)v;
    }
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
