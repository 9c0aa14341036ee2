/* regions.c - candidate picture rectangles in a PDQ luma plane, their hashes,
 * and the index-side variants of an original.  See regions.h.
 *
 * Everything here looks at the plane that PDQ hashes anyway (<= 512 x 512
 * floats), so that finding regions costs a fraction of the decode.  The
 * first three detectors run one after the other, each on the previous one's
 * rectangle:
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
 *            not cut off.  When no busy run shows, framed() looks for the
 *            straight edges of a picture that is as soft as its blur.
 *  4. post   A screen of a post or an app: the rows between the interface
 *            bands above and below the picture (bars, header, icons,
 *            caption on a few flat colours), walked in from both ends.
 *  5. overlay A semi-transparent box blended over the picture, undone.
 *
 * Regions smaller than MIN_SIDE_FRAC of the plane on a side, and regions
 * hardly different from their parent, are dropped.  The caller also drops
 * any region whose PDQ quality is under 50, so a flat area never becomes a
 * query.
 */
#include "base/base.h"
#include "hash/regions.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters (reasons in bench/REPOST.md) ---------------------------- */
#define FLAT_SHARE 0.92f    /* share of a line in one 24-level window */
#define STRICT_SHARE 0.98f  /* exact page: share in one 9-level window */
#define SAME_COLOUR 12.0f   /* a side's lines keep its outer line's colour */
#define PAGE_COLOUR 6.0f    /* page gaps: one background colour */
#define GAP_SHARE 0.97f     /* page gaps: share in one 9-level window */
#define TEXT_STEP 48.0f     /* a glyph's edge, in luma levels */
#define GAP_MIN_FRAC 0.01f  /* flat gap splitting blocks: 1% of the side, */
#define GAP_MIN 2           /* and at least 2 samples */
#define MIN_SIDE_FRAC 0.15f /* regions below 15% of a side are dropped */
#define MIN_SIDE 24
#define FRAME_STEP 16.0f   /* a frame's inner line: > 16 levels off the border */
#define FRAME_SHARE 0.5f    /* over >= half the side */
#define CHANGE_FRAC 0.03f   /* a region must move a side by >= 3% */
#define SHARP_T 0.25f       /* busy: >= 25% of the profile's 90th pct */
#define SHARP_SOFT 0.30f    /* outside mean <= 30% of inside mean */
#define SHARP_MAX_FRAC 0.92f
#define SHARP_SIDE 0.05f    /* each soft side >= 5% of the extent */
#define SHARP_EDGE 3.0f     /* frame edge: >= 3x the median edge outside */
#define SHARP_STRAIGHT 0.5f /* one end a straight edge over half the side */
#define SHARP_WIN 25        /* and looked for up to 1/25 inside the run */
#define OV_SUB 10            /* overlay runs: every 8th line */
#define OV_STEP 6.0f        /* overlay border: a step of > 6 levels */
#define OV_MIN_SIDE 0.08f   /* overlay box sides >= 8% of the picture's */
#define OV_MAX_AREA 0.5     /* and at most half its area */
#define OV_MIN_STEP 8.0f    /* mean step across its border */
#define OV_AGREE 0.8f       /* share of the border stepping one way */
#define OV_RES 0.5f         /* affine fit's RMS residual / mean step */
#define OV_SLACK 12.0f      /* undone samples this far out of range: text */

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
        float q[16];
        for (int j = 0; j < 16; j++)
            q[j] = p[j * st];
        int best = 0;
        float win = 1.5f * bw;
        for (int i = 0; i < 16; i++) {
            int k = 0;
            for (int j = 0; j < 16; j++)
                k += fabsf(q[j] - q[i]) <= win;
            best = k > best ? k : best;
        }
        /* a line of the page gaps (97% in a 9-level window) leaves at
         * most 3 of 16 samples out far more often than not */
        if (best < (bw <= 3 ? 13 : 10)) {
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
                float border[4], int *nborder, int strict, float sref[4])
{
    /* ref[s]: the colour of side s's border (top, bottom, left, right),
     * fixed by its outermost line in the first round.  Later rounds go on
     * peeling those sides in that colour (their lines are shorter once the
     * other sides are peeled). */
    float ref[4];
    int has[4] = {0, 0, 0, 0};
    /* Which sides have a border is decided on the untouched box: a
     * letterbox's left column runs through both bars and the picture, so it
     * is not flat unless the picture's edge has the bars' colour (judged
     * after the bars were peeled, a white picture edge looked like a white
     * border). */
    for (int s = 0; s < 4; s++) {
        int dir = s >> 1;
        int i = s == 0 ? b->y0 : s == 1 ? b->y1 - 1 : s == 2 ? b->x0 : b->x1 - 1;
        has[s] = line_flat(L, w, *b, dir, i, &ref[s]);
    }
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
                if (!(strict ? line_flat_bw(L, w, *b, dir, i, 3, STRICT_SHARE, &c)
                             : line_flat(L, w, *b, dir, i, &c)))
                    break;
                /* only a side whose outermost line is flat has a border */
                if (!has[s] || fabsf(c - ref[s]) > SAME_COLOUR)
                    break;
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
    if (sref)
        for (int k = 0; k < 4; k++)
            sref[k] = ref[k];
    return 1;
}


/* A border is the picture's frame only if it ends in a straight line across
 * the whole side: most samples of the first two lines inside differ from the
 * border's colour by more than FRAME_STEP.  A sky, a studio backdrop or a
 * dark background trimmed as a "border" ends where the subject pokes into
 * it, and the lines just inside are still mostly its colour. */
static float frame_share(const float *L, int w, box b, int s, float ref)
{
    int dir = s >> 1;
    int i0 = s == 0 ? b.y0 : s == 1 ? b.y1 - 1 : s == 2 ? b.x0 : b.x1 - 1;
    int i1 = s == 0 || s == 2 ? i0 + 1 : i0 - 1;
    int lo = dir ? b.y0 : b.x0, hi = dir ? b.y1 : b.x1;
    if (hi - lo < 4)
        return 0;
    const float *p0 = dir ? L + i0 : L + (size_t)i0 * w;
    const float *p1 = dir ? L + i1 : L + (size_t)i1 * w;
    ptrdiff_t st = dir ? w : 1;
    int n = 0, hit = 0;
    for (int k = lo; k < hi; k += 2, n++)
        hit += fabsf(p0[k * st] - ref) > FRAME_STEP ||
               fabsf(p1[k * st] - ref) > FRAME_STEP;
    return (float)hit / n;
}

/* Undo the trim of t (from the plane's w x h) on the sides that are not a
 * frame.  A side that is not one on its own is kept when the opposite side
 * is a frame and was trimmed nearly as deep (a centred pad whose picture has
 * the pad's colour along that edge), or when two sides are frames and it has
 * their colour (a border goes all around). */
static box frame_only(const float *L, int w, int h, box t, const float ref[4])
{
    int d[4] = {t.y0, h - t.y1, t.x0, w - t.x1}, ok[4];
    for (int s = 0; s < 4; s++)
        ok[s] = d[s] > 0 && frame_share(L, w, t, s, ref[s]) >= FRAME_SHARE;
    int e[4], nok = ok[0] + ok[1] + ok[2] + ok[3];
    for (int s = 0; s < 4; s++) {
        int o = s ^ 1, side = s < 2 ? h : w;
        int tol = (int)(0.02f * side) + 2;
        int keep = ok[s] || (d[s] > 0 && ok[o] && d[s] >= d[o] - tol);
        /* two frame sides make a border, which goes all around in one
         * colour (the picture's edge may have that colour on one side) */
        for (int k = 0; k < 4 && !keep && nok >= 2; k++)
            keep = d[s] > 0 && ok[k] && fabsf(ref[s] - ref[k]) <= SAME_COLOUR;
        e[s] = keep ? d[s] : 0;
    }
    return (box){e[2], e[0], w - e[3], h - e[1]};
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

/* The q-quantile of v[0..n): the k-th smallest, k = (int)(q * (n - 1)),
 * by selection in tmp (n floats; Hoare's quickselect, no full sort). */
static float quantile(const float *v, int n, float q, float *tmp)
{
    if (n <= 0)
        return 0;
    memcpy(tmp, v, n * sizeof *v);
    return scrim__select_kth(tmp, n, (int)(q * (n - 1)));
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
    /* the busy threshold puts an end a few lines off the frame's edge
     * either way: look a little inside the run too */
    int win = n / SHARP_WIN > 2 ? n / SHARP_WIN : 2;
    int bi = -1;
    float bv = floor_;
    for (int i = 1; i <= bs + win && i < n; i++)
        if (e[i] > bv)
            bv = e[i], bi = i;
    if (bi >= 0)
        bs = bi;
    bi = -1, bv = floor_;
    for (int i = be - win > 1 ? be - win : 1; i < n; i++)
        if (e[i] > bv)
            bv = e[i], bi = i;
    if (bi > bs)
        be = bi;
    *r0 = bs;
    *r1 = be;
    return 1;
}


/* A frame's edge between lines i - 1 and i (rows for dir 0, columns for
 * dir 1) of b: the share of samples across it where the step is > 3 levels
 * and the largest of the three steps around it; best of i - 1, i, i + 1
 * (the snap may be a line off).  A picture pasted on its blurred copy has a
 * straight edge; a photo's sky or shallow-focus background turns busy along
 * a ragged line. */
static float edge_straight(const float *L, int w, box b, int dir, int i)
{
    int lim = dir ? b.x1 : b.y1, base = dir ? b.x0 : b.y0;
    int lo = dir ? b.y0 : b.x0, hi = dir ? b.y1 : b.x1;
    ptrdiff_t along = dir ? w : 1, across = dir ? 1 : w;
    float best = 0;
    for (int j = i - 1; j <= i + 1; j++) {
        if (j - 2 < base || j + 1 >= lim)
            continue;
        const float *p = dir ? L + (size_t)j : L + (size_t)j * w;
        int n = 0, hit = 0;
        for (int k = lo; k < hi; k += 2, n++) {
            const float *q = p + k * along;
            float s0 = fabsf(q[0] - q[-across]);
            float sb = fabsf(q[-across] - q[-2 * across]);
            float sa = fabsf(q[across] - q[0]);
            hit += s0 > 3 && s0 >= sb && s0 >= sa;
        }
        float f = n ? (float)hit / n : 0;
        best = f > best ? f : best;
    }
    return best;
}

/* ---- 3b. framed ------------------------------------------------------------ */

/* A picture on a blurred copy of itself whose own content is soft as well (a
 * white product shot, a shallow-focus photo) has no run of busy lines, but
 * its edges are still straight lines across the canvas, where the blur has
 * none.  Tried when the busy run finds nothing and the outer FRAMED_BAND of
 * the canvas is soft at both ends of a direction (a cheap test on the
 * energy profile): in each half, one of the lines with the highest steps
 * that is straight over FRAMED_EDGE of the canvas, and then over the
 * picture's own span. */
#define FRAMED_BAND 0.04f /* the outer 4% lines of each end */
#define FRAMED_SOFT 0.35f /* mean <= 35% of the profile's 90th percentile */
#define FRAMED_EDGE 0.6f  /* a frame's edge over >= 60% of the canvas */

/* Soft at both ends: the outer FRAMED_BAND lines of profile a[0..n). */
static int soft_ends(const float *a, int n, float *tmp)
{
    int k = (int)(FRAMED_BAND * n) + 1;
    if (n < 32)
        return 0;
    float t = FRAMED_SOFT * quantile(a, n, 0.9f, tmp);
    double s0 = 0, s1 = 0;
    for (int i = 1; i <= k; i++)
        s0 += a[i], s1 += a[n - i];
    return t > 0 && s0 / k <= t && s1 / k <= t;
}

/* The line in [a, b) most likely a frame's edge: of the 3 highest steps in
 * e (mean step from the line before), the first straight over FRAMED_EDGE
 * of the canvas; -1 if none. */
static int framed_line(const float *L, int w, box b, int dir, const float *e,
                       int a, int z)
{
    int top[3] = {-1, -1, -1};
    for (int i = a; i < z; i++)
        for (int k = 0; k < 3; k++)
            if (top[k] < 0 || e[i] > e[top[k]]) {
                for (int m = 2; m > k; m--)
                    top[m] = top[m - 1];
                top[k] = i;
                break;
            }
    for (int k = 0; k < 3 && top[k] >= 0; k++)
        if (edge_straight(L, w, b, dir, (dir ? b.x0 : b.y0) + top[k]) >= FRAMED_EDGE)
            return top[k];
    return -1;
}

static int framed(const float *L, int w, box b, const float *ra,
                  const float *ca, const float *er, const float *ec,
                  float *tmp, box *out)
{
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    int got[2] = {0, 0}, lo[2] = {0, 0}, hi[2] = {bh, bw};
    for (int dir = 0; dir < 2; dir++) {
        int n = dir ? bw : bh;
        if (!soft_ends(dir ? ca : ra, n, tmp))
            continue;
        int m = (int)(FRAMED_BAND * n) + 2;
        const float *e = dir ? ec : er;
        int i0 = framed_line(L, w, b, dir, e, m, n / 2);
        int i1 = i0 < 0 ? -1 : framed_line(L, w, b, dir, e, n / 2, n - m);
        if (i0 < 0 || i1 < 0 || i1 - i0 < MIN_SIDE_FRAC * n)
            continue;
        /* softer outside the lines than between them */
        const float *a = dir ? ca : ra;
        double in = 0, o = 0;
        for (int i = 1; i < n; i++)
            if (i >= i0 && i < i1)
                in += a[i];
            else
                o += a[i];
        in /= i1 - i0;
        o /= n - 1 - (i1 - i0);
        if (o > 0.5 * in)
            continue;
        got[dir] = 1, lo[dir] = i0, hi[dir] = i1;
    }
    if (!got[0] && !got[1])
        return 0;
    box o = {b.x0 + lo[1], b.y0 + lo[0], b.x0 + hi[1], b.y0 + hi[0]};
    /* each found edge straight along the picture's own span */
    box rb = {o.x0, b.y0, o.x1, b.y1}, cb = {b.x0, o.y0, b.x1, o.y1};
    if (got[0] && (edge_straight(L, w, rb, 0, o.y0) < SHARP_STRAIGHT ||
                   edge_straight(L, w, rb, 0, o.y1) < SHARP_STRAIGHT))
        return 0;
    if (got[1] && (edge_straight(L, w, cb, 1, o.x0) < SHARP_STRAIGHT ||
                   edge_straight(L, w, cb, 1, o.x1) < SHARP_STRAIGHT))
        return 0;
    *out = o;
    return 1;
}

/* ---- 3c. pasted ------------------------------------------------------------ */

/* A picture pasted on a canvas (a blurred copy of itself, darkened or not,
 * or anything smooth) whatever its own content: each of its edges is a line
 * whose step stands out from the steps just outside it, where the canvas is
 * smooth, and is straight along the picture's own span.  A soft picture
 * does not stand out from its blur as a run of busy lines (sharp_run), and
 * a picture narrower than the canvas both ways is not straight over the
 * whole canvas (framed): here the PASTE_K lines of each side whose step is
 * the largest multiple of the mean step outside them are candidates, and
 * the rectangle whose edges are straightest along its own sides wins. */
#define PASTE_K 3        /* candidates per side */
#define PASTE_Z 2.5f     /* a step >= 2.5x the mean step outside, */
#define PASTE_STEP 1.5f  /* and >= 1.5 levels on average over the line */
#define PASTE_MARGIN 6   /* the outside measured on lines 3..6 away */
#define PASTE_TIE 0.1f   /* straightness sums this close are a tie */

/* Candidate edges of one side in e[a, z): lines whose step is a local
 * maximum, PASTE_Z times the mean of the steps 3..6 lines outside (before
 * for side 0, after for side 1); the PASTE_K best into c, count returned. */
static int paste_cands(const float *e, int a, int z, int side, int *c)
{
    float sc[PASTE_K];
    int k = 0;
    for (int i = a; i < z; i++) {
        if (e[i] < PASTE_STEP || e[i] < e[i - 1] || e[i] < e[i + 1])
            continue;
        float o = 0;
        for (int j = 3; j <= PASTE_MARGIN; j++)
            o += side ? e[i + j] : e[i - j];
        float zs = e[i] / (o / (PASTE_MARGIN - 2) + 0.5f);
        if (zs < PASTE_Z)
            continue;
        int at;
        if (k < PASTE_K)
            at = k++;
        else if (zs > sc[PASTE_K - 1])
            at = PASTE_K - 1;
        else
            continue;
        sc[at] = zs, c[at] = i;
        for (; at > 0 && sc[at] > sc[at - 1]; at--) {
            float t = sc[at];
            int ti = c[at];
            sc[at] = sc[at - 1], c[at] = c[at - 1];
            sc[at - 1] = t, c[at - 1] = ti;
        }
    }
    return k;
}

static int pasted(const float *L, int w, box b, const float *er,
                  const float *ec, box *out)
{
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    if (bw < 64 || bh < 64)
        return 0;
    /* options per direction: pairs of candidates [lo, hi), or the whole */
    int opt[2][PASTE_K * PASTE_K + 1][2], nopt[2];
    for (int dir = 0; dir < 2; dir++) {
        int n = dir ? bw : bh;
        const float *e = dir ? ec : er;
        int c0[PASTE_K], c1[PASTE_K];
        int m = PASTE_MARGIN + 1;
        int k0 = paste_cands(e, m, n / 2, 0, c0);
        int k1 = paste_cands(e, n / 2, n - m, 1, c1);
        nopt[dir] = 0;
        opt[dir][nopt[dir]][0] = 0, opt[dir][nopt[dir]++][1] = n;
        for (int i = 0; i < k0; i++)
            for (int j = 0; j < k1; j++)
                if (c1[j] - c0[i] >= MIN_SIDE_FRAC * n) {
                    opt[dir][nopt[dir]][0] = c0[i];
                    opt[dir][nopt[dir]++][1] = c1[j];
                }
    }
    /* every combination scored; the smallest rectangle scoring within
     * PASTE_TIE of the best wins (a screen's bars are straight lines
     * too, around the picture's) */
    float sc[(PASTE_K * PASTE_K + 1) * (PASTE_K * PASTE_K + 1)], best = 0;
    box cb_[(PASTE_K * PASTE_K + 1) * (PASTE_K * PASTE_K + 1)];
    int nc = 0;
    for (int i = 0; i < nopt[0]; i++)
        for (int j = 0; j < nopt[1]; j++) {
            if (!i && !j)
                continue;
            box o = {b.x0 + opt[1][j][0], b.y0 + opt[0][i][0],
                     b.x0 + opt[1][j][1], b.y0 + opt[0][i][1]};
            box rb = {o.x0, b.y0, o.x1, b.y1}, cb = {b.x0, o.y0, b.x1, o.y1};
            float st[4];
            int ne = 0, ok = 0;
            float sum = 0;
            if (i) {
                st[ne++] = edge_straight(L, w, rb, 0, o.y0);
                st[ne++] = edge_straight(L, w, rb, 0, o.y1);
            }
            if (j) {
                st[ne++] = edge_straight(L, w, cb, 1, o.x0);
                st[ne++] = edge_straight(L, w, cb, 1, o.x1);
            }
            for (int k = 0; k < ne; k++)
                ok += st[k] >= SHARP_STRAIGHT, sum += st[k] - 0.35f;
            /* every edge straight; of four, one may run where the picture
             * has the canvas's colours */
            if (ok < (ne == 4 ? 3 : 2))
                continue;
            sc[nc] = sum, cb_[nc++] = o;
            best = sum > best ? sum : best;
        }
    int found = 0;
    long area = 0;
    for (int k = 0; k < nc; k++) {
        long a = (long)(cb_[k].x1 - cb_[k].x0) * (cb_[k].y1 - cb_[k].y0);
        if (sc[k] >= best - PASTE_TIE && (!found || a < area))
            *out = cb_[k], area = a, found = 1;
    }
    return found;
}

/* The sharp part of b, if b is a picture on a soft (blurred) background. */
static int sharp(const float *L, int w, box b, box *out, box *alt, box *pst)
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
    if (!gr && !gc) {
        int f = framed(L, w, b, ra, ca, er, ec, tmp, out);
        if (!f)
            goto paste;
        free(buf);
        *alt = *out;
        return f;
    }
    *out = (box){b.x0 + c0, b.y0 + r0, b.x0 + c1, b.y0 + r1};
    if (gr && gc) {
        /* A picture set inside both sides of its blurred copy: its four
         * edges are straight lines, which a shallow-focus photo's sharp
         * subject does not have; at least three of them must show (one
         * may run where the picture has the blur's colours). */
        box rb = {out->x0, b.y0, out->x1, b.y1}, cb = {b.x0, out->y0, b.x1, out->y1};
        int ok = (edge_straight(L, w, rb, 0, out->y0) >= SHARP_STRAIGHT) +
                 (edge_straight(L, w, rb, 0, out->y1) >= SHARP_STRAIGHT) +
                 (edge_straight(L, w, cb, 1, out->x0) >= SHARP_STRAIGHT) +
                 (edge_straight(L, w, cb, 1, out->x1) >= SHARP_STRAIGHT);
        if (ok < 3)
            goto paste;
        *alt = *out;
        /* the busy run's ends may sit on the picture's own edges: the
         * straightest rectangle is a second guess */
        int f = pasted(L, w, b, er, ec, pst) ? 3 : 1;
        free(buf);
        return f;
    }
    {
        int a0 = gr ? out->y0 : out->x0, a1 = gr ? out->y1 : out->x1;
        float s0 = edge_straight(L, w, b, gr ? 0 : 1, a0);
        float s1 = edge_straight(L, w, b, gr ? 0 : 1, a1);
        if ((s0 > s1 ? s0 : s1) < SHARP_STRAIGHT)
            goto paste;
    }
    /* The apps centre the picture: when a soft stretch of the picture put
     * one end off, the end on the stronger edge, mirrored, gives the other
     * (*alt; same as *out when the run is already centred). */
    *alt = *out;
    {
        int m = gr ? bh : bw, a0 = gr ? r0 : c0, a1 = gr ? r1 : c1;
        const float *e = gr ? er : ec;
        float s0 = a0 > 0 ? e[a0] : 0, s1 = a1 < m ? e[a1] : 0;
        if (s0 >= s1)
            a1 = m - a0;
        else
            a0 = m - a1;
        if (a1 - a0 >= 8) {
            if (gr)
                alt->y0 = b.y0 + a0, alt->y1 = b.y0 + a1;
            else
                alt->x0 = b.x0 + a0, alt->x1 = b.x0 + a1;
        }
    }
    /* a run one way only: the picture may narrow the other way as well,
     * as soft as the canvas there (a third guess) */
    {
        int f = pasted(L, w, b, er, ec, pst) ? 3 : 1;
        free(buf);
        return f;
    }
paste:
    /* no busy run with straight ends: a picture as soft as its canvas? */
    {
        int f = pasted(L, w, b, er, ec, out);
        free(buf);
        if (f)
            *alt = *out;
        return f;
    }
}

/* ---- 5. overlay -------------------------------------------------------------- */

/* A watermark box: a rectangle blended over the picture, out = (1 - a) in +
 * a c, for one colour c and opacity a.  Its border is a straight step of
 * one sign all along (inside lighter for a white box, darker for a black
 * one) whatever the picture does there, which a picture's own edges rarely
 * are over a long run.  edge_runs() finds, for every column (and every
 * row), the longest run of samples where the step across it is a local
 * maximum of the right sign; boxes are then built from two such runs that
 * meet at a corner, and kept if the inside is an affine function of the
 * outside all along their border (overlay_fit). */

typedef struct run {
    int len, a, b; /* longest run [a, b) */
    int cur, last; /* the run being followed */
} run;

static void run_step(run *r, int i, int hit, int gap)
{
    if (!hit)
        return;
    if (r->cur < 0 || i - r->last > gap)
        r->cur = i;
    r->last = i;
    if (i + 1 - r->cur > r->len)
        r->len = i + 1 - r->cur, r->a = r->cur, r->b = i + 1;
}

/* vr[pol][x]: runs down column x of steps L[x] - L[x-1] of sign pol (0: +,
 * 1: -); hr[pol][y]: runs along row y of steps L[y] - L[y-1].  Every
 * OV_SUB-th row (column) only, so run ends are OV_SUB samples coarse; the
 * line itself is exact. */
/* Local-maximum steps along one line: flag[i] = 1 (step d[i] > 0) or 2
 * (< 0) where |d[i]| > OV_STEP and no smaller than |d[i - 1]|, |d[i + 1]|,
 * for i in [1, n - 1); branch-free, so that the compiler vectorises it. */
static void step_flags(const float *restrict d, int n,
                       unsigned char *restrict flag)
{
    /* byte arithmetic and restrict: gcc vectorises it only so */
    for (int i = 1; i < n - 1; i++) {
        float a = fabsf(d[i]);
        unsigned char hit = (a > OV_STEP) & (a >= fabsf(d[i - 1])) &
                            (a >= fabsf(d[i + 1]));
        unsigned char neg = d[i] < 0;
        flag[i] = hit + (hit & neg);
    }
}

/* The same down the columns of a row c (u, uu the rows above, dn below). */
static void step_flags_down(const float *restrict c, const float *restrict u,
                            const float *restrict uu, const float *restrict dn,
                            int nj, unsigned char *restrict f)
{
    for (int j = 0; j < nj; j++) {
        float e = c[j] - u[j], a = fabsf(e);
        unsigned char hit = (a > OV_STEP) & (a >= fabsf(dn[j] - c[j])) &
                            (a >= fabsf(u[j] - uu[j]));
        unsigned char neg = e < 0;
        f[j] = hit + (hit & neg);
    }
}

/* Feed the flagged samples of one line to their runs, skipping zero words. */
static void flags_to_runs(const unsigned char *flag, int lo, int hi, run *r0,
                          run *r1, ptrdiff_t rstride, int pos, int rmode,
                          int gap, const int *index)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* 8 flags a word, visiting only the set bytes in order (the flags
     * are sparse and a branch per byte mispredicts); the bytes past hi
     * (readable, see edge_runs) are masked off */
    for (int i = lo; i < hi; i += 8) {
        uint64_t wd;
        memcpy(&wd, flag + i, 8);
        if (hi - i < 8)
            wd &= (UINT64_C(1) << (8 * (hi - i))) - 1;
        while (wd) {
            int k = __builtin_ctzll(wd) >> 3;
            unsigned f = (unsigned)(wd >> (8 * k)) & 0xff;
            wd &= ~(UINT64_C(0xff) << (8 * k));
            run *r = (f == 2 ? r1 : r0) + (rmode ? 0 : (i + k) * rstride);
            run_step(r, rmode ? index[i + k] : pos, 1, gap);
        }
    }
    return;
#endif
    for (int i = lo; i < hi; i++) {
        if (!((i - lo) & 7) && i + 8 <= hi) {
            uint64_t wd;
            memcpy(&wd, flag + i, 8);
            if (!wd) {
                i += 7;
                continue;
            }
        }
        unsigned f = flag[i];
        if (!f)
            continue;
        run *r = (f == 2 ? r1 : r0) + (rmode ? 0 : i * rstride);
        run_step(r, rmode ? index[i] : pos, 1, gap);
    }
}

/* vr[pol][x]: runs down column x of steps L[x] - L[x-1] of sign pol (0: +,
 * 1: -); hr[pol][y]: runs along row y of steps L[y] - L[y-1].  Every
 * OV_SUB-th row (column) only, so run ends are OV_SUB samples coarse; the
 * line itself is exact. */
static int edge_runs(const float *L, int w, box b, int minv, run *vr[2],
                     run *hr[2])
{
    int gap = 2 * OV_SUB; /* one missing line bridged */
    for (int p = 0; p < 2; p++) {
        for (int x = 0; x < w; x++)
            vr[p][x] = (run){0, 0, 0, -1, -1};
    }
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    int nj = (bw + OV_SUB - 1) / OV_SUB;
    int n = bw > bh ? bw : bh;
    /* the flags' bytes rounded up so that the ints after them are aligned */
    size_t nflag = ((size_t)n + 8 + sizeof(int) - 1) & ~(sizeof(int) - 1);
    float *d = malloc(((size_t)n + 8) * sizeof *d +
                      (size_t)nj * bh * sizeof *d + nflag +
                      (size_t)nj * sizeof(int));
    if (!d)
        return 0;
    float *C = d + n + 8; /* every OV_SUB-th column of b, row by row */
    unsigned char *flag = (unsigned char *)(C + (size_t)nj * bh);
    int *xs = (int *)(flag + nflag);
    /* steps along rows: flag over x, runs down the columns */
    for (int y = b.y0; y < b.y1; y += OV_SUB) {
        const float *r = L + (size_t)y * w + b.x0;
        /* d[i] = r[i] - r[i - 1], i = 1 .. bw - 1 */
        for (int i = 1; i < bw; i++)
            d[i] = r[i] - r[i - 1];
        d[0] = 0;
        memset(flag, 0, (size_t)bw + 8);
        step_flags(d, bw, flag);
        flag[1] = 0; /* x = b.x0 + 1 has no step before it */
        flags_to_runs(flag, 2, bw - 1, vr[0] + b.x0, vr[1] + b.x0, 1, y, 0,
                      gap, NULL);
    }
    /* a box needs a vertical side of minv: without one, the rows' runs
     * are not needed (most photos have no such straight step) */
    int any = 0;
    for (int x = b.x0; x < b.x1 && !any; x++)
        any = vr[0][x].len >= minv || vr[1][x].len >= minv;
    if (!any) {
        free(d);
        return 0;
    }
    /* steps down columns (every OV_SUB-th): flag over y, runs along rows */
    for (int y = 0; y < bh; y++) {
        const float *r = L + (size_t)(b.y0 + y) * w + b.x0;
        float *c = C + (size_t)y * nj;
        for (int j = 0; j < nj; j++)
            c[j] = r[j * OV_SUB];
    }
    for (int j = 0; j < nj; j++)
        xs[j] = b.x0 + j * OV_SUB;
    for (int y = 0; y < bh; y++) {
        hr[0][b.y0 + y] = (run){0, 0, 0, -1, -1};
        hr[1][b.y0 + y] = (run){0, 0, 0, -1, -1};
    }
    for (int y = 2; y < bh - 1; y++) {
        const float *c = C + (size_t)y * nj, *u = c - nj, *uu = u - nj,
                    *dn = c + nj;
        unsigned char *f = flag;
        step_flags_down(c, u, uu, dn, nj, f);
        flags_to_runs(f, 0, nj, &hr[0][b.y0 + y], &hr[1][b.y0 + y], 0, 0, 1,
                      gap, xs);
    }
    free(d);
    return 1;
}

/* The far sides of a box come from run ends, OV_SUB samples coarse: move
 * each to the strongest straight step within OV_SUB + 1 of it. */
static void overlay_refine(const float *L, int w, int h, box *o)
{
    int r = OV_SUB + 1;
    for (int side = 0; side < 4; side++) {
        int vert = side >= 2;
        int *at = side == 0 ? &o->y0 : side == 1 ? &o->y1 : side == 2 ? &o->x0 : &o->x1;
        int lim = vert ? w : h, lo = vert ? o->y0 : o->x0, hi = vert ? o->y1 : o->x1;
        int best = *at;
        float bv = -1;
        for (int p = *at - r; p <= *at + r; p++) {
            if (p < 1 || p >= lim)
                continue;
            float sum = 0;
            for (int k = lo; k < hi; k += 2)
                sum += vert ? fabsf(L[(size_t)k * w + p] - L[(size_t)k * w + p - 1])
                            : fabsf(L[(size_t)p * w + k] - L[(size_t)(p - 1) * w + k]);
            if (sum > bv)
                bv = sum, best = p;
        }
        *at = best;
    }
}

/* Least-squares fit inside = s * outside + c0 over pairs two samples across
 * o's border (sides at the plane's edge skipped).  Returns the number of
 * pairs; *s, *c0, and *res (RMS residual) / *step (mean |inside - outside|). */
static int overlay_fit(const float *L, int w, int h, box o, float *s, float *c0,
                       float *res, float *step, float *agree)
{
    double so = 0, si = 0, soo = 0, soi = 0, sii = 0, sd = 0;
    int n = 0, pos = 0;
    for (int side = 0; side < 4; side++) {
        int vert = side >= 2;
        int at = side == 0 ? o.y0 : side == 1 ? o.y1 : side == 2 ? o.x0 : o.x1;
        int out = side == 0 || side == 2 ? at - 2 : at + 1;
        int in = side == 0 || side == 2 ? at + 1 : at - 2;
        int lim = vert ? w : h;
        if (out < 0 || out >= lim || in < 0 || in >= lim)
            continue;
        int lo = vert ? o.y0 : o.x0, hi = vert ? o.y1 : o.x1;
        for (int k = lo + 2; k < hi - 2; k++) {
            float vo = vert ? L[(size_t)k * w + out] : L[(size_t)out * w + k];
            float vi = vert ? L[(size_t)k * w + in] : L[(size_t)in * w + k];
            so += vo, si += vi, soo += vo * vo, soi += vo * vi, sii += vi * vi;
            sd += fabsf(vi - vo);
            n++;
            pos += vi > vo;
        }
    }
    if (n < 16)
        return 0;
    double mo = so / n, mi = si / n;
    double voo = soo / n - mo * mo, voi = soi / n - mo * mi, vii = sii / n - mi * mi;
    if (voo < 1)
        return 0;
    double sl = voi / voo;
    double r2 = vii - sl * voi;
    *s = (float)sl;
    *c0 = (float)(mi - sl * mo);
    *res = (float)sqrt(r2 > 0 ? r2 : 0);
    *step = (float)(sd / n);
    *agree = (float)(pos > n - pos ? pos : n - pos) / n;
    return n;
}

static int overlay_ok(const float *L, int w, int h, box o, float *s, float *c0)
{
    float res, step, agree;
    if (!overlay_fit(L, w, h, o, s, c0, &res, &step, &agree))
        return 0;
    /* a real blend: opacity 10..90%, a colour in range, a clear step of one
     * sign, and the inside explained by the outside */
    if (*s < 0.1f || *s > 0.9f || step < OV_MIN_STEP || agree < OV_AGREE ||
        res > OV_RES * step)
        return 0;
    float c = *c0 / (1 - *s);
    return c > -16 && c < 272;
}

static int cmp_run_len(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return y[0] - x[0];
}

/* The best overlay box inside b, if any. */
static int overlay(const float *L, int w, int h, box b, box *out)
{
    int n = w > h ? w : h;
    run *buf = malloc((size_t)4 * n * sizeof *buf);
    if (!buf)
        return 0;
    run *vr[2] = {buf, buf + n}, *hr[2] = {buf + 2 * n, buf + 3 * n};
    for (int p = 0; p < 2; p++)
        for (int y = 0; y < h; y++)
            hr[p][y] = (run){0, 0, 0, -1, -1};
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    int minv = (int)(OV_MIN_SIDE * bh), minh = (int)(OV_MIN_SIDE * bw);
    minv = minv < 12 ? 12 : minv;
    minh = minh < 12 ? 12 : minh;
    if (!edge_runs(L, w, b, minv, vr, hr)) {
        free(buf);
        return 0; /* no vertical side long enough: no box */
    }
    /* the longest runs of each kind: [len, index] */
    enum { K = 6 };
    int top[2][2][K][2]; /* [vertical?][pol][k][len, index] */
    memset(top, 0, sizeof top);
    for (int v = 0; v < 2; v++)
        for (int p = 0; p < 2; p++) {
            int cnt = v ? bw : bh, base = v ? b.x0 : b.y0;
            int mn = v ? minv : minh;
            for (int i = 0; i < cnt; i++) {
                run *r = v ? &vr[p][base + i] : &hr[p][base + i];
                if (r->len < mn || r->len <= top[v][p][K - 1][0])
                    continue;
                top[v][p][K - 1][0] = r->len;
                top[v][p][K - 1][1] = base + i;
                qsort(top[v][p], K, sizeof top[v][p][0], cmp_run_len);
            }
        }
    int tolx = 3 + bw / 50, toly = 3 + bh / 50;
    int found = 0;
    float best = 0;
    for (int pol = 0; pol < 2; pol++) {
        /* lighter box (pol 0): left edge +, right edge -, top +, bottom - */
        for (int vs = 0; vs < 2; vs++)         /* vertical edge: 0 left, 1 right */
            for (int hs = 0; hs < 2; hs++)     /* horizontal: 0 top, 1 bottom */
                for (int i = 0; i < K; i++) {
                    int vp = pol ^ vs, hp = pol ^ hs;
                    if (!top[1][vp][i][0])
                        break;
                    int x = top[1][vp][i][1];
                    run *rv = &vr[vp][x];
                    for (int j = 0; j < K; j++) {
                        if (!top[0][hp][j][0])
                            break;
                        int y = top[0][hp][j][1];
                        run *rh = &hr[hp][y];
                        /* the runs meet at the corner (x, y) */
                        int vy = hs ? rv->b : rv->a, hx = vs ? rh->b : rh->a;
                        if (abs(vy - y) > toly || abs(hx - x) > tolx)
                            continue;
                        box o;
                        o.x0 = vs ? rh->a : x;
                        o.x1 = vs ? x : rh->b;
                        o.y0 = hs ? rv->a : y;
                        o.y1 = hs ? y : rv->b;
                        int ow = o.x1 - o.x0, oh = o.y1 - o.y0;
                        if (ow < minh || oh < minv ||
                            (double)ow * oh > OV_MAX_AREA * bw * bh)
                            continue;
                        overlay_refine(L, w, h, &o);
                        float s, c0;
                        if (!overlay_ok(L, w, h, o, &s, &c0))
                            continue;
                        float score = (float)(rv->len + rh->len);
                        if (score > best)
                            best = score, *out = o, found = 1;
                    }
                }
    }
    free(buf);
    return found;
}

/* Undo an overlay in the sub-plane s (rw x rh, the box at ox, oy in it):
 * in = (out - c0) / s; samples that come out of range (the watermark's own
 * text or logo, opaque) and their neighbours are filled from the nearest
 * good samples of their row and column. */
static void overlay_undo(float *p, int rw, int rh, box o)
{
    float s, c0;
    float res, step, agree;
    if (!overlay_fit(p, rw, rh, o, &s, &c0, &res, &step, &agree) || s < 0.05f)
        return;
    int ow = o.x1 - o.x0, oh = o.y1 - o.y0;
    unsigned char *bad = calloc((size_t)ow * oh, 1);
    if (!bad)
        return;
    float inv = 1 / s;
    for (int y = 0; y < oh; y++) {
        float *r = p + (size_t)(o.y0 + y) * rw + o.x0;
        for (int x = 0; x < ow; x++) {
            float v = (r[x] - c0) * inv;
            if (v < -OV_SLACK || v > 255 + OV_SLACK)
                bad[(size_t)y * ow + x] = 1;
            r[x] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
    }
    /* grow the bad mask by one sample (anti-aliased glyph edges) */
    unsigned char *g = calloc((size_t)ow * oh, 1);
    if (!g) {
        free(bad);
        return;
    }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int v = 0;
            for (int dy = -1; dy <= 1 && !v; dy++)
                for (int dx = -1; dx <= 1 && !v; dx++) {
                    int yy = y + dy, xx = x + dx;
                    v = yy >= 0 && yy < oh && xx >= 0 && xx < ow &&
                        bad[(size_t)yy * ow + xx];
                }
            g[(size_t)y * ow + x] = v;
        }
    /* fill: inverse-distance mean of the nearest good sample left, right,
     * up and down */
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            if (!g[(size_t)y * ow + x])
                continue;
            double sw = 0, sv = 0;
            static const int dd[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
            for (int k = 0; k < 4; k++) {
                int xx = x, yy = y, d = 0;
                for (;;) {
                    xx += dd[k][0], yy += dd[k][1], d++;
                    if (xx < 0 || yy < 0 || xx >= ow || yy >= oh)
                        break;
                    if (!g[(size_t)yy * ow + xx])
                        break;
                }
                int ax = o.x0 + xx, ay = o.y0 + yy;
                if (ax < 0 || ay < 0 || ax >= rw || ay >= rh)
                    continue;
                sw += 1.0 / d;
                sv += p[(size_t)ay * rw + ax] / d;
            }
            if (sw > 0)
                p[(size_t)(o.y0 + y) * rw + o.x0 + x] = (float)(sv / sw);
        }
    free(g);
    free(bad);
}

/* ---- 4. post ----------------------------------------------------------------- */

/* A screenshot of a post or of an app's screen: above and below the picture
 * lie bands of interface (bars, a header with an avatar and a name, icons,
 * a caption) drawn on a few exactly flat background colours.  Walking in
 * from the top (and from the bottom), a row belongs to the interface while
 * at least POST_UI of it has one of the background colours met so far; a
 * row that is all one colour (>= POST_FLAT in a 9-level window) brings in
 * a new background colour.  The picture starts after the last interface
 * row whose colour both ends share (the page): a picture that begins with a
 * flat sky is not eaten up to its first tree, and a bar of its own colour
 * at the very top or bottom is still interface.  The two ends must share a
 * page colour, each be at least POST_MIN_FRAC of the height, and text or
 * icons (steps of TEXT_STEP levels) must appear in them: a photo's sky and
 * ground do not pass. */
#define POST_UI 0.5f        /* an interface row: half of it in a UI colour, */
#define POST_UI_TEXT 0.25f  /* or a quarter of it and text */
#define POST_FLAT 0.95f     /* a new UI colour: a flat row */
#define POST_TOL 5.0f       /* a UI colour's samples: within 5 levels */
#define POST_SAME 4.0f      /* the two ends' page colour: within 4 levels */
#define POST_MIN_FRAC 0.02f /* each end >= 2% of the height */
#define POST_MAX_TOP 0.6f   /* the top's interface: < 60% of the height */
#define POST_TEXT 8         /* text: >= 8 steps in or out of the colour */

typedef struct post_end {
    float col[8];   /* the flat colours met */
    int ncol;
    int used[8];    /* rows in each colour */
    int end;        /* the first row that is not interface (from the side) */
    int text;       /* rows with text or icons */
} post_end;

/* Share of the samples p[0], p[3], p[6] ... (of n) within POST_TOL of c. */
static float share_near(const float *p, int n, float c)
{
    int k = 0, m = 0;
    for (int i = 0; i < n; i += 3, m++)
        k += fabsf(p[i] - c) <= POST_TOL;
    return m ? (float)k / m : 0;
}

/* Text on colour c: the row goes in and out of c, by sharp steps, many
 * times (a picture between two margins of c does it twice). */
static int text_on(const float *p, int n, float c)
{
    int k = 0;
    for (int i = 1; i < n; i++) /* no carried state: vectorised */
        k += ((fabsf(p[i - 1] - c) <= POST_TOL) != (fabsf(p[i] - c) <= POST_TOL)) &
             (fabsf(p[i] - p[i - 1]) >= TEXT_STEP / 2);
    return k;
}

/* Which UI colour (index into e->col) row p (n samples) is in, -1 if none;
 * a flat row of a new colour adds it. */
static int post_row(const float *p, int n, post_end *e, int add_new,
                    float *share)
{
    /* in a known colour first: most interface rows are, and it is cheap */
    int kt = -1;
    for (int k = 0; k < e->ncol; k++) {
        float f = share_near(p, n, e->col[k]);
        if (f >= POST_UI) {
            *share = f;
            return k;
        }
        if (f >= POST_UI_TEXT && kt < 0)
            kt = k;
    }
    float c;
    *share = 0;
    if (line_dominance(p, 1, n, 3, &c) >= POST_FLAT) {
        for (int k = 0; k < e->ncol; k++)
            if (fabsf(c - e->col[k]) <= POST_SAME)
                return k;
        if (!add_new || e->ncol >= 8)
            return -1;
        e->col[e->ncol] = c;
        e->used[e->ncol] = 0;
        *share = 1;
        return e->ncol++;
    }
    if (kt >= 0 && text_on(p, n, e->col[kt]) >= POST_TEXT) {
        *share = POST_UI_TEXT; /* text already counted */
        return kt;
    }
    return -1;
}

/* Walk rows y0, y0 + dir, ... (at most lim rows) while they are interface,
 * knowing the colours of `seed` from the start (a caption cut off by the
 * screen's edge starts the bottom with text). */
static void post_walk(const float *L, int w, box b, int y0, int dir, int lim,
                      const post_end *seed, post_end *e)
{
    int n = b.x1 - b.x0, i = 0;
    e->ncol = seed ? seed->ncol : 0, e->text = 0;
    for (int k = 0; k < e->ncol; k++)
        e->col[k] = seed->col[k], e->used[k] = 0;
    for (; i < lim; i++) {
        const float *p = L + (size_t)(y0 + dir * i) * w + b.x0;
        float f;
        int k = post_row(p, n, e, 1, &f);
        if (k < 0)
            break;
        e->used[k]++;
        /* post() asks for two rows with text; a row all in the colour has
         * none */
        if (e->text < 2 && f < 0.98f)
            e->text += f == POST_UI_TEXT || text_on(p, n, e->col[k]) >= POST_TEXT;
    }
    e->end = i;
}

/* The last row (counted from the side, exclusive) of the walk's interface
 * whose colour is one of the page colours pc[0..np). */
static int post_edge(const float *L, int w, box b, int y0, int dir,
                     const post_end *e, const float *pc, int np)
{
    post_end pe;
    pe.ncol = np;
    memcpy(pe.col, pc, np * sizeof *pc);
    int last = 0, n = b.x1 - b.x0;
    for (int i = 0; i < e->end; i++) {
        float f;
        if (post_row(L + (size_t)(y0 + dir * i) * w + b.x0, n, &pe, 0, &f) >= 0)
            last = i + 1;
    }
    return last;
}

static int post(const float *L, int w, box b, box *out)
{
    int bh = b.y1 - b.y0;
    int minr = (int)(POST_MIN_FRAC * bh) > 2 ? (int)(POST_MIN_FRAC * bh) : 2;
    post_end top, bot;
    /* the interface above the picture is never most of the screen (this
     * also bounds the walk through a photo's white background) */
    post_walk(L, w, b, b.y0, 1, (int)(POST_MAX_TOP * bh), NULL, &top);
    if (top.end < minr || top.end >= (int)(POST_MAX_TOP * bh))
        return 0;
    post_walk(L, w, b, b.y1 - 1, -1, bh - top.end, &top, &bot);
    if (bot.end < minr || top.text + bot.text < 2)
        return 0;
    /* the page: the colours of the top that the bottom has too */
    float pc[8];
    int np = 0;
    for (int k = 0; k < top.ncol; k++)
        if (bot.used[k])
            pc[np++] = top.col[k];
    if (!np)
        return 0;
    int t = post_edge(L, w, b, b.y0, 1, &top, pc, np);
    int u = post_edge(L, w, b, b.y1 - 1, -1, &bot, pc, np);
    if (t < minr || u < minr || bh - t - u < MIN_SIDE_FRAC * bh)
        return 0;
    *out = (box){b.x0, b.y0 + t, b.x1, b.y1 - u};
    return 1;
}

/* An exact canvas: a lossless screenshot's page is one exact colour (the
 * corners' own), where a picture's white or black background, however
 * plain, has a few samples off it along every line.  Lines are peeled while
 * at most EXACT_OUT of their samples leave the colour by more than half a
 * level; the first sample that leaves it usually ends a photo's line at
 * once.  Returns 0 when the corners differ or nothing was peeled. */
#define EXACT_OUT 0.005f

static int exact_line(const float *p, ptrdiff_t step, int n, float c)
{
    int bad = 0, lim = (int)(EXACT_OUT * n);
    for (int i = 0; i < n; i++)
        if (fabsf(p[i * step] - c) > 0.5f && ++bad > lim)
            return 0;
    return 1;
}

static int exact_trim(const float *L, int w, int h, box *out)
{
    float c = L[0];
    if (fabsf(L[w - 1] - c) > 0.5f || fabsf(L[(size_t)(h - 1) * w] - c) > 0.5f ||
        fabsf(L[(size_t)h * w - 1] - c) > 0.5f)
        return 0;
    box b = {0, 0, w, h};
    while (b.y1 - b.y0 > MIN_SIDE && exact_line(L + (size_t)b.y0 * w + b.x0, 1, b.x1 - b.x0, c))
        b.y0++;
    while (b.y1 - b.y0 > MIN_SIDE && exact_line(L + (size_t)(b.y1 - 1) * w + b.x0, 1, b.x1 - b.x0, c))
        b.y1--;
    while (b.x1 - b.x0 > MIN_SIDE && exact_line(L + (size_t)b.y0 * w + b.x0, w, b.y1 - b.y0, c))
        b.x0++;
    while (b.x1 - b.x0 > MIN_SIDE && exact_line(L + (size_t)b.y0 * w + b.x1 - 1, w, b.y1 - b.y0, c))
        b.x1--;
    *out = b;
    return b.x0 || b.y0 || b.x1 != w || b.y1 != h;
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
    box full = {0, 0, w, h}, seen[12];
    int nseen = 1, n = 0;
    seen[0] = full;
    scrim__region tmp[8];
    int minw = (int)(MIN_SIDE_FRAC * w), minh = (int)(MIN_SIDE_FRAC * h);

    box t = full;
    float border[8];
    int nborder = 0;
    float tref[4];
    if (!trim(luma, w, &t, minw, minh, border, &nborder, 0, tref))
        return 0; /* blank: nothing worth hashing */
    /* the block split looks inside every flat band; the trim candidates
     * keep only the sides that are a frame */
    box traw = t;
    t = frame_only(luma, w, h, traw, tref);
    /* post: the picture between the interface bands of a screen, its
     * side margins trimmed (its rows are already the picture's edges) */
    box po;
    int has_post = post(luma, w, full, &po);
    if (has_post) {
        /* a post's column is centred: the narrower margin is the page's
         * (the picture's edge may have the page's colour on one side) */
        box pt = po;
        if (trim(luma, w, &pt, minw, minh, NULL, NULL, 0, NULL)) {
            int mx = pt.x0 < w - pt.x1 ? pt.x0 : w - pt.x1;
            po.x0 = mx, po.x1 = w - mx;
        }
        has_post = big_enough(po, w, h);
    }
    /* block: bands of rows, then of columns inside the tallest band */
    box bl = traw, band;
    int gy = (int)(GAP_MIN_FRAC * h), gx = (int)(GAP_MIN_FRAC * w);
    gy = gy < GAP_MIN ? GAP_MIN : gy;
    gx = gx < GAP_MIN ? GAP_MIN : gx;
    if (split(luma, w, bl, 0, gy, border, nborder, &band) > 1 && big_enough(band, w, h))
        bl = band;
    if (split(luma, w, bl, 1, gx, border, nborder, &band) > 1 && big_enough(band, w, h))
        bl = band;
    if (!differs(bl, traw, w, h) ||
        !trim(luma, w, &bl, minw, minh, NULL, NULL, 0, NULL))
        bl = t;
    /* sharp: inside the block */
    box sh = bl;
    /* on the whole plane first: a blurred background is soft, and the
     * trim may have peeled part of it as a "border" */
    box sh2, sh3;
    box st = full;
    float sref[4];
    int exact = trim(luma, w, &st, minw, minh, NULL, NULL, 1, sref);
    if (exact)
        st = frame_only(luma, w, h, st, sref);
    int has_sharp = sharp(luma, w, full, &sh, &sh2, &sh3);
    if (!has_sharp && differs(bl, full, w, h))
        has_sharp = sharp(luma, w, bl, &sh, &sh2, &sh3);

    /* most specific first */
    int k = 0;
    if (has_post) {
        k = add(tmp, k, 8, po, SCRIM__REG_BLOCK, seen, nseen, w, h);
        if (k)
            seen[nseen++] = po;
    }
    if (has_sharp & 2) {
        int kp = k;
        k = add(tmp, k, 8, sh3, SCRIM__REG_SHARP, seen, nseen, w, h);
        if (k > kp)
            seen[nseen++] = sh3;
    }
    if (has_sharp) {
        int ks0 = k;
        k = add(tmp, k, 8, sh, SCRIM__REG_SHARP, seen, nseen, w, h);
        if (k > ks0)
            seen[nseen++] = sh;
        int ks = k;
        k = add(tmp, k, 8, sh2, SCRIM__REG_SHARP, seen, nseen, w, h);
        if (k > ks)
            seen[nseen++] = sh2;
    }
    int k0 = k;
    k = add(tmp, k, 8, bl, differs(bl, t, w, h) ? SCRIM__REG_BLOCK : SCRIM__REG_TRIM,
            seen, nseen, w, h);
    if (k > k0)
        seen[nseen++] = bl;
    int k1 = k;
    k = add(tmp, k, 8, t, SCRIM__REG_TRIM, seen, nseen, w, h);
    if (k > k1)
        seen[nseen++] = t;
    /* A pad, a letterbox, a picture on a page is usually centred: when the
     * trim went deeper on one side of an axis than on the other, the
     * picture's own edge had the bar's colour there.  The symmetric
     * rectangle (the smaller of the two on both sides) is a second guess. */
    box sy = t;
    int mx = t.x0 < w - t.x1 ? t.x0 : w - t.x1;
    int my = t.y0 < h - t.y1 ? t.y0 : h - t.y1;
    sy.x0 = mx, sy.x1 = w - mx, sy.y0 = my, sy.y1 = h - my;
    k = add(tmp, k, 8, sy, SCRIM__REG_TRIM, seen, nseen, w, h);
    /* A synthetic page or bar is one exact colour; a picture's own white
     * background or dark edge, which the tolerant trim eats, is rarely
     * quite so flat.  Where peeling exactly flat lines stops well short of
     * the tolerant trim, the picture starts there. */
    if (exact || st.x0 || st.y0 || st.x1 != w || st.y1 != h) {
        box pr = t;
        int sl[4] = {st.y0, h - st.y1, st.x0, w - st.x1};
        int tl[4] = {t.y0, h - t.y1, t.x0, w - t.x1};
        int pl[4];
        for (int s2 = 0; s2 < 4; s2++) {
            int side = s2 < 2 ? h : w;
            int tol = (int)(0.02f * side) + 2;
            pl[s2] = (tl[s2] - sl[s2] > tol && 2 * sl[s2] >= tl[s2]) ? sl[s2] : tl[s2];
        }
        pr = (box){pl[2], pl[0], w - pl[3], h - pl[1]};
        if (pr.x1 > pr.x0 && pr.y1 > pr.y0) {
            int k2 = k;
            k = add(tmp, k, 8, pr, SCRIM__REG_TRIM, seen, nseen, w, h);
            if (k > k2)
                seen[nseen++] = pr;
        }
    }
    /* an exact canvas around the picture (a white product shot on a white
     * page, which the tolerant trim eats into) */
    box ex;
    if (exact_trim(luma, w, h, &ex)) {
        int k3 = k;
        k = add(tmp, k, 8, ex, SCRIM__REG_TRIM, seen, nseen, w, h);
        if (k > k3)
            seen[nseen++] = ex;
    }
    /* a watermark box on the picture: first, it is the most specific */
    box ov;
    if (overlay(luma, w, h, t, &ov)) {
        /* undone on the whole plane: a watermarked picture is rarely padded
         * as well, and the trim may have eaten a flat sky */
        memmove(tmp + 1, tmp, (k < 7 ? k : 7) * sizeof *tmp);
        tmp[0] = (scrim__region){0, 0, w, h,
                                 SCRIM__REG_OVERLAY, ov.x0, ov.y0, ov.x1 - ov.x0,
                                 ov.y1 - ov.y0};
        k = k < 8 ? k + 1 : 8;
    }
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
    if ((r->kind & SCRIM__REG_OVERLAY) && r->ow > 0 && r->oh > 0) {
        box o = {r->ox - r->x, r->oy - r->y, r->ox - r->x + r->ow,
                 r->oy - r->y + r->oh};
        if (o.x0 >= 0 && o.y0 >= 0 && o.x1 <= r->w && o.y1 <= r->h)
            overlay_undo(s, r->w, r->h, o);
    }
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
