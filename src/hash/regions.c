/* regions.c - candidate picture rectangles in a PDQ luma plane, their hashes,
 * and the index-side variants of an original.  See regions.h.
 *
 * Everything here looks at the plane that PDQ hashes anyway (<= 512 x 512
 * floats), so that finding regions costs a fraction of the decode.  Three
 * detectors run one after the other, each on the previous one's rectangle:
 *
 *  1. trim   Near-uniform lines of any colour are peeled off each side while
 *            they keep the colour of that side's outermost line.  A line is
 *            near-uniform when >= FLAT_SHARE of its samples fall in one
 *            window of 24 luma levels (JPEG ringing, noise and a little text
 *            in a bar do not stop it).  Catches pads, letterboxes,
 *            pillarboxes, borders, a picture pasted on a white page.
 *  2. block  Inside the trimmed rectangle, flat rows (then flat columns) of
 *            at least GAP_MIN samples split it into bands; the tallest band
 *            is kept if there is more than one.  A social-media post is
 *            header / gap / picture / gap / caption: this picks the picture.
 *  3. sharp  The mean gradient (|dx| + |dy|) of each row and of each column
 *            gives two profiles; a picture on a blurred copy of itself is a
 *            run of busy rows (or columns) between soft ones.  The run is
 *            accepted only if the outside is much softer than the inside,
 *            and its ends are moved to the strongest straight edge nearby
 *            (the frame's border), so that a soft sky inside the picture is
 *            not cut off.
 *
 * Regions smaller than MIN_SIDE_FRAC of the plane on a side, and regions
 * hardly different from their parent, are dropped.  The caller also drops
 * any region whose PDQ quality is under 50, so a flat area never becomes a
 * query.
 */
#include "hash/regions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters (reasons in bench/REPOST.md) ---------------------------- */
#define FLAT_SHARE 0.92f    /* share of a line in one 24-level window */
#define SAME_COLOUR 12.0f   /* a side's lines keep its outer line's colour */
#define PAGE_COLOUR 6.0f    /* page gaps: one background colour */
#define GAP_SHARE 0.97f     /* page gaps: share in one 9-level window */
#define TEXT_STEP 48.0f     /* a glyph's edge, in luma levels */
#define GAP_MIN_FRAC 0.01f  /* flat gap splitting blocks: 1% of the side, */
#define GAP_MIN 2           /* and at least 2 samples */
#define MIN_SIDE_FRAC 0.15f /* regions below 15% of a side are dropped */
#define MIN_SIDE 24
#define CHANGE_FRAC 0.03f   /* a region must move a side by >= 3% */
#define SHARP_T 0.25f       /* busy: >= 25% of the profile's 90th pct */
#define SHARP_SOFT 0.30f    /* outside mean <= 30% of inside mean */
#define SHARP_MAX_FRAC 0.92f
#define SHARP_SIDE 0.05f    /* each soft side >= 5% of the extent */
#define SHARP_EDGE 3.0f     /* frame edge: >= 3x the median edge outside */

typedef struct box {
    int x0, y0, x1, y1; /* half-open */
} box;

/* ---- flat lines ---------------------------------------------------------- */

/* The n samples p[0], p[step], ...: share of them inside the densest window
 * of three `bw`-level bins (window 3 * bw levels), and (in *colour) their
 * mean. */
static float dominance(const float *p, ptrdiff_t step, int n, int bw,
                        float *colour);

static float line_dominance(const float *p, ptrdiff_t step, int n, int bw,
                            float *colour)
{
    /* Most lines of a picture are busy: 16 samples spread over the line
     * reject them at once (a flat line's 16 samples would be >= 60% in one
     * window).  Flat candidates are then measured on every other sample. */
    if (n >= 64) {
        ptrdiff_t st = step * (n / 16);
        int best = 0;
        float win = 1.5f * bw;
        for (int i = 0; i < 16; i++) {
            int k = 0;
            for (int j = 0; j < 16; j++)
                k += fabsf(p[j * st] - p[i * st]) <= win;
            best = k > best ? k : best;
        }
        if (best < 10) {
            *colour = p[0];
            return 0;
        }
        return dominance(p, step * 2, n / 2, bw, colour);
    }
    return dominance(p, step, n, bw, colour);
}

static float dominance(const float *p, ptrdiff_t step, int n, int bw,
                       float *colour)
{
    int cnt[90] = {0};
    float sum[90] = {0};
    int nb = 255 / bw + 1;
    float inv = 1.0f / bw;
    for (int i = 0; i < n; i++) {
        float v = p[i * step];
        int b = (int)(v * inv);
        b = b < 0 ? 0 : b >= nb ? nb - 1 : b;
        cnt[b + 1]++;
        sum[b + 1] += v;
    }
    int best = 0, bi = 1;
    for (int b = 1; b <= nb; b++) {
        int c = cnt[b - 1] + cnt[b] + cnt[b + 1];
        if (c > best) {
            best = c;
            bi = b;
        }
    }
    float s = sum[bi - 1] + sum[bi] + sum[bi + 1];
    *colour = best ? s / best : 0;
    return n ? (float)best / n : 1;
}

/* Line i of box b: a row (dir 0, i = y) over b's columns, or a column
 * (dir 1, i = x) over b's rows. */
static int line_flat_bw(const float *L, int w, box b, int dir, int i, int bw,
                        float share, float *c)
{
    if (dir == 0)
        return line_dominance(L + (size_t)i * w + b.x0, 1, b.x1 - b.x0, bw,
                              c) >= share;
    return line_dominance(L + (size_t)b.y0 * w + i, w, b.y1 - b.y0, bw, c) >=
           share;
}

/* near-uniform, for borders: JPEG noise, ringing, a little text pass */
static int line_flat(const float *L, int w, box b, int dir, int i, float *c)
{
    return line_flat_bw(L, w, b, dir, i, 8, FLAT_SHARE, c);
}

/* uniform, for the gaps of a page layout (a UI background is one colour;
 * sky, grass, walls in a photo are not quite) */
static int line_blank(const float *L, int w, box b, int dir, int i, float *c)
{
    return line_flat_bw(L, w, b, dir, i, 3, GAP_SHARE, c);
}

/* ---- 1. trim --------------------------------------------------------------- */

/* Peel near-uniform lines off each side of b.  Returns 0 if what is left is
 * too small to be a picture (a blank or nearly blank plane). */
static int trim(const float *L, int w, box *b, int minw, int minh,
                float border[4], int *nborder)
{
    /* ref[s]: the colour of side s's border (top, bottom, left, right),
     * fixed by its outermost line in the first round.  Later rounds go on
     * peeling those sides in that colour (their lines are shorter once the
     * other sides are peeled). */
    float ref[4];
    int has[4] = {0, 0, 0, 0};
    for (int round = 0; round < 4; round++) {
        int changed = 0;
        for (int s = 0; s < 4; s++) {
            int dir = s >> 1; /* 0: rows (top, bottom), 1: columns */
            for (;;) {
                int len = dir ? b->x1 - b->x0 : b->y1 - b->y0;
                int minlen = dir ? minw : minh;
                if (len <= minlen)
                    return 0;
                int i = s == 0 ? b->y0 : s == 1 ? b->y1 - 1 : s == 2 ? b->x0 : b->x1 - 1;
                float c;
                if (!line_flat(L, w, *b, dir, i, &c))
                    break;
                if (has[s]) {
                    if (fabsf(c - ref[s]) > SAME_COLOUR)
                        break;
                } else {
                    /* only a side whose outermost line is flat has a border:
                     * the other sides' lines cross the picture at first
                     * (letterbox: left and right), and what flat lines they
                     * show later are the picture's own edge */
                    if (round > 0)
                        break;
                    has[s] = 1;
                    ref[s] = c;
                }
                if (s == 0)
                    b->y0++;
                else if (s == 1)
                    b->y1--;
                else if (s == 2)
                    b->x0++;
                else
                    b->x1--;
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
    if (border)
        for (int k = 0; k < 4; k++)
            if (has[k])
                border[(*nborder)++] = ref[k];
    return 1;
}

/* ---- 2. block -------------------------------------------------------------- */

/* Split b along dir (0: into bands of rows, 1: of columns) at flat gaps of
 * at least `gap` lines; the longest band goes to *out.  Returns the number
 * of bands, or 0 if the split does not look like a page layout: a page has
 * one background colour, so two gaps, or a gap and a trimmed border, must
 * share a colour (a photo's lone flat band - a sky, a wall - does not). */
static int split(const float *L, int w, box b, int dir, int gap,
                 const float *border, int nborder, box *out)
{
    int lo = dir ? b.x0 : b.y0, hi = dir ? b.x1 : b.y1;
    int start = -1, last = -1, bands = 0, bs = 0, be = 0;
    float gcol[64], c, acc = 0;
    int ngap = 0, nacc = 0;
    for (int i = lo; i <= hi; i++) {
        int busy = i < hi && !line_blank(L, w, b, dir, i, &c);
        if (i < hi && !busy) {
            acc += c, nacc++;
            continue;
        }
        if (start >= 0 && (i == hi || i - last - 1 >= gap)) {
            /* close the band start..last */
            bands++;
            if (last + 1 - start > be - bs)
                bs = start, be = last + 1;
            start = -1;
            if (i < hi && ngap < 64)
                gcol[ngap++] = acc / nacc;
        }
        if (busy) {
            if (start < 0)
                start = i;
            last = i;
        }
        acc = 0, nacc = 0;
    }
    *out = b;
    if (dir)
        out->x0 = bs, out->x1 = be;
    else
        out->y0 = bs, out->y1 = be;
    int page = 0;
    for (int g = 0; g < ngap && !page; g++) {
        for (int k = g + 1; k < ngap && !page; k++)
            page = fabsf(gcol[g] - gcol[k]) <= PAGE_COLOUR;
        for (int k = 0; k < nborder && !page; k++)
            page = fabsf(gcol[g] - border[k]) <= PAGE_COLOUR;
    }
    if (!page)
        return 0;
    /* ... and what is cut off must hold text or icons: sharp steps of
     * TEXT_STEP levels or more along a busy line outside the band (a sky's
     * faint bands, which also come in one colour, have none) */
    int text = 0;
    for (int i = lo; i < hi && !text; i++) {
        if (i >= bs && i < be)
            continue;
        const float *p = dir ? L + (size_t)b.y0 * w + i : L + (size_t)i * w + b.x0;
        ptrdiff_t st = dir ? w : 1;
        int n = dir ? b.y1 - b.y0 : b.x1 - b.x0;
        for (int k = 1; k < n && !text; k++)
            text = fabsf(p[k * st] - p[(k - 1) * st]) >= TEXT_STEP;
    }
    return text ? bands : 0;
}

/* ---- 3. sharp -------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float quantile(const float *v, int n, float q, float *tmp)
{
    if (n <= 0)
        return 0;
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_float);
    int k = (int)(q * (n - 1));
    return tmp[k];
}

/* Profile a[0..n) of gradient energy, e[i] the mean step between lines i-1
 * and i.  Finds the one run of busy lines between soft ones; [*r0, *r1). */
static int sharp_run(const float *a, const float *e, int n, float *tmp,
                     int *r0, int *r1)
{
    if (n < 16)
        return 0;
    float t = SHARP_T * quantile(a, n, 0.9f, tmp);
    if (t <= 0)
        return 0;
    int gap = n / 25 > 2 ? n / 25 : 2;
    /* the longest run of busy lines, merging gaps shorter than `gap` */
    int bs = 0, be = 0, start = -1, last = -1;
    for (int i = 0; i <= n; i++) {
        int busy = i < n && a[i] >= t;
        if (start >= 0 && (i == n || (busy && i - last - 1 >= gap) ||
                           (!busy && i - last - 1 >= gap))) {
            if (last + 1 - start > be - bs)
                bs = start, be = last + 1;
            start = -1;
        }
        if (busy) {
            if (start < 0)
                start = i;
            last = i;
        }
    }
    int len = be - bs;
    if (len < MIN_SIDE_FRAC * n || len > SHARP_MAX_FRAC * n)
        return 0;
    /* soft on both sides (the picture is centred on its blurred copy; a
     * photo with a soft sky on top only is not such a frame) */
    if (bs < SHARP_SIDE * n || be > (1 - SHARP_SIDE) * n)
        return 0;
    double in = 0, o1 = 0, o2 = 0;
    for (int i = 0; i < n; i++)
        if (i < bs)
            o1 += a[i];
        else if (i < be)
            in += a[i];
        else
            o2 += a[i];
    in /= len;
    if (o1 / bs > SHARP_SOFT * in || o2 / (n - be) > SHARP_SOFT * in)
        return 0;
    /* Move each end to the strongest straight edge between it and the side
     * of the plane, if that edge stands out from the soft lines around. */
    int m = 0;
    for (int i = 1; i < n; i++)
        if (i <= bs || i >= be)
            tmp[m++] = e[i];
    float med = quantile(tmp, m, 0.5f, tmp + n);
    float floor_ = SHARP_EDGE * (med > 0.5f ? med : 0.5f);
    int bi = -1;
    float bv = floor_;
    for (int i = 1; i <= bs + 1 && i < n; i++)
        if (e[i] > bv)
            bv = e[i], bi = i;
    if (bi >= 0 && bi < bs)
        bs = bi;
    bi = -1, bv = floor_;
    for (int i = be - 1; i < n; i++)
        if (i > 0 && e[i] > bv)
            bv = e[i], bi = i;
    if (bi > be)
        be = bi;
    *r0 = bs;
    *r1 = be;
    return 1;
}

/* The sharp part of b, if b is a picture on a soft (blurred) background. */
static int sharp(const float *L, int w, box b, box *out)
{
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    int n = bw > bh ? bw : bh;
    float *buf = calloc((size_t)6 * n, sizeof *buf);
    if (!buf)
        return 0;
    float *ra = buf, *er = buf + n, *ca = buf + 2 * n, *ec = buf + 3 * n,
          *tmp = buf + 4 * n;
    /* Row profiles need every row (a frame's edge is one row), but only
     * every 4th sample along it; column profiles take every 4th row. */
    int nrows = 0;
    for (int y = b.y0 + 1; y < b.y1; y++) {
        const float *p = L + (size_t)y * w, *q = p - w;
        float sr = 0, sy = 0;
        int odd = (y - b.y0) & 3;
        for (int x = b.x0 + 1 + odd; x < b.x1; x += 4) {
            float dx = fabsf(p[x] - p[x - 1]), dy = fabsf(p[x] - q[x]);
            sr += dx + dy;
            sy += dy;
        }
        if (odd == 1) {
            nrows++;
            for (int x = b.x0 + 1; x < b.x1; x++) {
                float dx = fabsf(p[x] - p[x - 1]), dy = fabsf(p[x] - q[x]);
                ca[x - b.x0] += dx + dy;
                ec[x - b.x0] += dx;
            }
        }
        int ns = (b.x1 - (b.x0 + 1 + odd) + 3) / 4;
        ra[y - b.y0] = ns > 0 ? sr / ns : 0;
        er[y - b.y0] = ns > 0 ? sy / ns : 0;
    }
    for (int x = 1; x < bw; x++) {
        ca[x] /= nrows ? nrows : 1;
        ec[x] /= nrows ? nrows : 1;
    }
    ra[0] = ra[1];
    ca[0] = ca[1];
    int r0 = 0, r1 = bh, c0 = 0, c1 = bw;
    /* Short-video frames fit the picture to the canvas's width or height:
     * exactly one direction narrows.  A photo with a blurred background
     * (shallow depth of field) usually narrows in both or in none. */
    int gr = sharp_run(ra, er, bh, tmp, &r0, &r1);
    int gc = sharp_run(ca, ec, bw, tmp, &c0, &c1);
    free(buf);
    if (gr + gc != 1)
        return 0;
    *out = (box){b.x0 + c0, b.y0 + r0, b.x0 + c1, b.y0 + r1};
    return 1;
}

/* ---- candidates -------------------------------------------------------------- */

static int differs(box a, box b, int w, int h)
{
    int dx = (int)(CHANGE_FRAC * w), dy = (int)(CHANGE_FRAC * h);
    if (dx < 2)
        dx = 2;
    if (dy < 2)
        dy = 2;
    return abs(a.x0 - b.x0) >= dx || abs(a.x1 - b.x1) >= dx ||
           abs(a.y0 - b.y0) >= dy || abs(a.y1 - b.y1) >= dy;
}

static int big_enough(box b, int w, int h)
{
    int mw = (int)(MIN_SIDE_FRAC * w), mh = (int)(MIN_SIDE_FRAC * h);
    if (mw < MIN_SIDE)
        mw = MIN_SIDE;
    if (mh < MIN_SIDE)
        mh = MIN_SIDE;
    return b.x1 - b.x0 >= mw && b.y1 - b.y0 >= mh;
}

static int add(scrim__region *out, int n, int max, box b, int kind,
               const box *prev, int nprev, int w, int h)
{
    if (n >= max || !big_enough(b, w, h))
        return n;
    for (int i = 0; i < nprev; i++)
        if (!differs(b, prev[i], w, h))
            return n;
    out[n] = (scrim__region){b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0, kind, 0, 0, 0, 0};
    return n + 1;
}

int scrim__regions_find(const float *luma, int w, int h, scrim__region *out,
                        int max)
{
    if (!luma || w < MIN_SIDE || h < MIN_SIDE || max <= 0)
        return 0;
    box full = {0, 0, w, h}, seen[8];
    int nseen = 1, n = 0;
    seen[0] = full;
    scrim__region tmp[8];
    int minw = (int)(MIN_SIDE_FRAC * w), minh = (int)(MIN_SIDE_FRAC * h);

    box t = full;
    float border[8];
    int nborder = 0;
    if (!trim(luma, w, &t, minw, minh, border, &nborder))
        return 0; /* blank: nothing worth hashing */
    /* block: bands of rows, then of columns inside the tallest band */
    box bl = t, band;
    int gy = (int)(GAP_MIN_FRAC * h), gx = (int)(GAP_MIN_FRAC * w);
    gy = gy < GAP_MIN ? GAP_MIN : gy;
    gx = gx < GAP_MIN ? GAP_MIN : gx;
    if (split(luma, w, bl, 0, gy, border, nborder, &band) > 1 && big_enough(band, w, h))
        bl = band;
    if (split(luma, w, bl, 1, gx, border, nborder, &band) > 1 && big_enough(band, w, h))
        bl = band;
    if (differs(bl, t, w, h) && !trim(luma, w, &bl, minw, minh, NULL, NULL))
        bl = t;
    /* sharp: inside the block */
    box sh = bl;
    int has_sharp = sharp(luma, w, bl, &sh);

    /* most specific first */
    int k = 0;
    if (has_sharp)
        k = add(tmp, k, 8, sh, SCRIM__REG_SHARP, seen, nseen, w, h);
    if (k)
        seen[nseen++] = sh;
    int k0 = k;
    k = add(tmp, k, 8, bl, differs(bl, t, w, h) ? SCRIM__REG_BLOCK : SCRIM__REG_TRIM,
            seen, nseen, w, h);
    if (k > k0)
        seen[nseen++] = bl;
    k = add(tmp, k, 8, t, SCRIM__REG_TRIM, seen, nseen, w, h);
    for (int i = 0; i < k && n < max; i++)
        out[n++] = tmp[i];
    return n;
}

/* ---- hashing ----------------------------------------------------------------- */

int scrim__region_hash(const float *luma, int w, int h, const scrim__region *r,
                       float *scratch, scrim_pdq *hash, int *quality,
                       scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!luma || !r || r->x < 0 || r->y < 0 || r->w <= 0 || r->h <= 0 ||
        r->x + r->w > w || r->y + r->h > h)
        return SCRIM_EINVAL;
    float *s = scratch ? scratch : malloc((size_t)r->w * r->h * sizeof *s);
    if (!s)
        return SCRIM_ENOMEM;
    for (int y = 0; y < r->h; y++)
        memcpy(s + (size_t)y * r->w, luma + (size_t)(r->y + y) * w + r->x,
               (size_t)r->w * sizeof *s);
    int rc = scrim_pdq_hash_luma(s, r->w, r->h, hash, quality, dihedral);
    if (!scratch)
        free(s);
    return rc;
}

/* ---- index side ---------------------------------------------------------------- */

/* Rotate the plane by `deg` degrees (positive: clockwise on screen) about its
 * centre, in the picture's true geometry (a squashed plane has samples
 * fw/w by fh/h apart), zoomed by `zoom`; bilinear, black outside. */
static void rotate_plane(const float *src, int w, int h, int fw, int fh,
                         double deg, double zoom, float *dst)
{
    double sx = (double)fw / w, sy = (double)fh / h;
    double a = deg * M_PI / 180, ca = cos(a), sa = sin(a);
    double cx = fw / 2.0, cy = fh / 2.0;
    for (int v = 0; v < h; v++)
        for (int u = 0; u < w; u++) {
            /* output point in picture coordinates, relative to the centre */
            double px = ((u + 0.5) * sx - cx) / zoom;
            double py = ((v + 0.5) * sy - cy) / zoom;
            /* inverse rotation gives the source point */
            double qx = ca * px + sa * py + cx, qy = -sa * px + ca * py + cy;
            double fx = qx / sx - 0.5, fy = qy / sy - 0.5;
            float val = 0;
            if (fx > -1 && fy > -1 && fx < w && fy < h) {
                int x0 = (int)floor(fx), y0 = (int)floor(fy);
                double tx = fx - x0, ty = fy - y0;
                float p[4];
                for (int k = 0; k < 4; k++) {
                    int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                    p[k] = (xx >= 0 && yy >= 0 && xx < w && yy < h)
                               ? src[(size_t)yy * w + xx]
                               : 0;
                }
                val = (float)((1 - ty) * ((1 - tx) * p[0] + tx * p[1]) +
                              ty * ((1 - tx) * p[2] + tx * p[3]));
            }
            dst[(size_t)v * w + u] = val;
        }
}

int scrim__index_variants(const float *luma, int w, int h, int file_w,
                          int file_h, const char *set, scrim__variant *out,
                          int max)
{
    if (!luma || w <= 0 || h <= 0 || !out)
        return SCRIM_EINVAL;
    if (!set)
        set = SCRIM__VARIANTS_DEFAULT;
    if (file_w <= 0 || file_h <= 0)
        file_w = w, file_h = h;
    float *s = malloc((size_t)w * h * sizeof *s);
    if (!s)
        return SCRIM_ENOMEM;
    int n = 0, rc = 0;
    const char *p = set;
    while (*p && n < max) {
        size_t len = strcspn(p, ",");
        char name[16];
        if (len == 0 || len >= sizeof name) {
            p += len + (p[len] == ',');
            continue;
        }
        memcpy(name, p, len);
        name[len] = 0;
        p += len + (p[len] == ',');
        scrim__variant *v = &out[n];
        memset(v, 0, sizeof *v);
        memcpy(v->name, name, len + 1);
        double amount;
        if (sscanf(name, "crop-%lf", &amount) == 1) {
            int dx = (int)(w * amount / 100), dy = (int)(h * amount / 100);
            scrim__region r = {dx, dy, w - 2 * dx, h - 2 * dy, 0, 0, 0, 0, 0};
            rc = scrim__region_hash(luma, w, h, &r, s, &v->hash, &v->quality,
                                    NULL);
        } else if (sscanf(name, "rotz%lf", &amount) == 1) {
            double a = fabs(amount) * M_PI / 180;
            double ar = (double)file_w / file_h;
            double z1 = cos(a) + sin(a) / ar, z2 = cos(a) + sin(a) * ar;
            rotate_plane(luma, w, h, file_w, file_h, amount, z1 > z2 ? z1 : z2, s);
            rc = scrim_pdq_hash_luma(s, w, h, &v->hash, &v->quality, NULL);
        } else if (sscanf(name, "rot%lf", &amount) == 1) {
            rotate_plane(luma, w, h, file_w, file_h, amount, 1.0, s);
            rc = scrim_pdq_hash_luma(s, w, h, &v->hash, &v->quality, NULL);
        } else {
            continue; /* unknown name: skipped */
        }
        if (rc)
            break;
        n++;
    }
    free(s);
    return rc ? rc : n;
}
