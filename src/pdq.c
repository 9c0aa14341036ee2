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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PDQ_MIN_DIM 5

/* 16x64 DCT-II basis without the DC row, computed once; and the three luma
 * products coefficient * value for every byte value (a table lookup gives
 * the very float the multiplication would). */
static float dct16x64[16 * 64];
static float luma_r[256], luma_g[256], luma_b[256];

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_build(void)
{
    /* The reference keeps the scale factor in a float. */
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            dct16x64[i * 64 + j] =
                (float)((double)scale * cos((M_PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
    const float kr = 0.299f, kg = 0.587f, kb = 0.114f;
    for (int v = 0; v < 256; v++) {
        luma_r[v] = kr * (float)v;
        luma_g[v] = kg * (float)v;
        luma_b[v] = kb * (float)v;
    }
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

#ifdef __SSE2__
#include <emmintrin.h>

/* The row pass, 4 rows at a time with SSE: each 4x4 block of the strip is
 * transposed so that the 4 rows' values at one column sit in one register,
 * the running sums are done with the 4 lanes in step, and the results are
 * transposed back.  Each row sees exactly box1d's operations in box1d's
 * order (SSE lanes are plain IEEE single precision), so the results are
 * identical to box1d's. */
static void box_rows(const float *in, float *out, int rows, int cols, int win,
                     float *strip)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = cols - win, n4 = half - 1;
    int c4 = cols & ~3;
    float *t = strip, *u = strip + (size_t)cols * 4;
    int r0 = 0;
    for (; r0 + 4 <= rows; r0 += 4) {
        const float *i0 = in + (size_t)r0 * cols, *i1 = i0 + cols,
                    *i2 = i1 + cols, *i3 = i2 + cols;
        int c = 0;
        for (; c < c4; c += 4) {
            __m128 a = _mm_loadu_ps(i0 + c), b = _mm_loadu_ps(i1 + c),
                   d = _mm_loadu_ps(i2 + c), e = _mm_loadu_ps(i3 + c);
            _MM_TRANSPOSE4_PS(a, b, d, e);
            _mm_storeu_ps(t + 4 * c, a);
            _mm_storeu_ps(t + 4 * c + 4, b);
            _mm_storeu_ps(t + 4 * c + 8, d);
            _mm_storeu_ps(t + 4 * c + 12, e);
        }
        for (; c < cols; c++) {
            t[4 * c] = i0[c];
            t[4 * c + 1] = i1[c];
            t[4 * c + 2] = i2[c];
            t[4 * c + 3] = i3[c];
        }
        __m128 sum = _mm_setzero_ps();
        int li = 0, ri = 0, oi = 0, count = 0;
        for (int i = 0; i < n1; i++, ri++) {
            sum = _mm_add_ps(sum, _mm_loadu_ps(t + 4 * ri));
            count++;
        }
        for (int i = 0; i < n2; i++, ri++, oi++) {
            count++;
            sum = _mm_add_ps(sum, _mm_loadu_ps(t + 4 * ri));
            _mm_storeu_ps(u + 4 * oi, _mm_div_ps(sum, _mm_set1_ps((float)count)));
        }
        __m128 cnt = _mm_set1_ps((float)count);
        for (int i = 0; i < n3; i++, li++, ri++, oi++) {
            sum = _mm_add_ps(sum, _mm_loadu_ps(t + 4 * ri));
            sum = _mm_sub_ps(sum, _mm_loadu_ps(t + 4 * li));
            _mm_storeu_ps(u + 4 * oi, _mm_div_ps(sum, cnt));
        }
        for (int i = 0; i < n4; i++, li++, oi++) {
            count--;
            sum = _mm_sub_ps(sum, _mm_loadu_ps(t + 4 * li));
            _mm_storeu_ps(u + 4 * oi, _mm_div_ps(sum, _mm_set1_ps((float)count)));
        }
        float *o0 = out + (size_t)r0 * cols, *o1 = o0 + cols, *o2 = o1 + cols,
              *o3 = o2 + cols;
        for (c = 0; c < c4; c += 4) {
            __m128 a = _mm_loadu_ps(u + 4 * c), b = _mm_loadu_ps(u + 4 * c + 4),
                   d = _mm_loadu_ps(u + 4 * c + 8), e = _mm_loadu_ps(u + 4 * c + 12);
            _MM_TRANSPOSE4_PS(a, b, d, e);
            _mm_storeu_ps(o0 + c, a);
            _mm_storeu_ps(o1 + c, b);
            _mm_storeu_ps(o2 + c, d);
            _mm_storeu_ps(o3 + c, e);
        }
        for (; c < cols; c++) {
            o0[c] = u[4 * c];
            o1[c] = u[4 * c + 1];
            o2[c] = u[4 * c + 2];
            o3[c] = u[4 * c + 3];
        }
    }
    for (; r0 < rows; r0++)
        box1d(in + (size_t)r0 * cols, out + (size_t)r0 * cols, cols, 1, win);
}
#else
static void box_rows(const float *in, float *out, int rows, int cols, int win,
                     float *strip)
{
    (void)strip;
    for (int r = 0; r < rows; r++)
        box1d(in + (size_t)r * cols, out + (size_t)r * cols, cols, 1, win);
}
#endif

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

/* The k-th smallest of n values (k 0-based); reorders v. */
static float select_kth(float *v, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float x = v[i];
                v[i] = v[j];
                v[j] = x;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

/* Bits are set where a coefficient exceeds the median.  The reference's
 * Torben median of 256 values returns the 128th smallest, sorted[127]. */
static void bits_of(const float b[16][16], scrim_pdq *h)
{
    float s[256];
    memcpy(s, b, sizeof s);
    float median = select_kth(s, 256, 127);
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
    /* Scratch: the intermediate image, the column sums, two row strips. */
    float *tmp = malloc((n + (size_t)width * 9) * sizeof(float));
    if (!tmp)
        return SCRIM_ENOMEM;
    float *sums = tmp + n, *strip = sums + width;
    int wrow = jarosz_window(width, 64), wcol = jarosz_window(height, 64);
    for (int rep = 0; rep < 2; rep++) {
        box_rows(luma, tmp, height, width, wrow, strip);
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
    return channels == 1 ? (float)p[0]
                         : luma_r[p[0]] + luma_g[p[1]] + luma_b[p[2]];
}

int scrim_pdq_hash_sampled(const uint8_t *px, int channels, size_t stride,
                           const int *xs, int nx, const int *ys, int ny,
                           scrim_pdq *hash, int *quality,
                           scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || !xs || !ys || nx <= 0 || ny <= 0 ||
        (channels != 1 && channels != 3 && channels != 4))
        return SCRIM_EINVAL;
    dct_init();
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
    dct_init();
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
