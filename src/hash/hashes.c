/* hashes.c - everything computed for one image upload: decode (the JPEG
 * fast path straight to luma, else libvips), PDQ with its dihedral
 * variants, MD5 and SHA-256 of the bytes, and its JSON form. */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"
#include "hash/hash.h"
#include "hash/regions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The luma plane PDQ takes from a decoded image (all pixels up to 512 px a
 * side, else the 512x512 sample), as the reference CLI samples it. */
static int image_luma(const scrim_image *img, scrim__luma *l)
{
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH];
    l->file_width = img->file_width ? img->file_width : img->width;
    l->file_height = img->file_height ? img->file_height : img->height;
    scrim__luma_samples(l->file_width, l->file_height, img->width, img->height,
                        xs, &l->width, ys, &l->height);
    l->plane = malloc((size_t)l->width * l->height * sizeof *l->plane);
    if (!l->plane)
        return SCRIM_ENOMEM;
    return scrim__luma_sampled(img->pixels, img->channels,
                               (size_t)img->width * img->channels, xs, l->width,
                               ys, l->height, l->plane);
}

int scrim_pdq_hash_image(const scrim_image *img, scrim_pdq *hash, int *quality,
                         scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    scrim__luma l;
    int rc = image_luma(img, &l);
    if (!rc)
        rc = scrim_pdq_hash_luma(l.plane, l.width, l.height, hash, quality,
                                 dihedral);
    free(l.plane);
    return rc;
}

static const char *region_kind(int kind)
{
    switch (kind) {
    case SCRIM__REG_BLOCK: return "block";
    case SCRIM__REG_SHARP: return "sharp";
    case SCRIM__REG_OVERLAY: return "watermark";
    default: return "trim";
    }
}

/* The luma of file rectangle (x, y, w, h) of a full-size decode, sampled as
 * PDQ samples a file of w x h, into s (at most 512 x 512). */
static int rect_luma(const scrim_image *img, int x, int y, int w, int h,
                     float *s, int *nx, int *ny)
{
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH];
    scrim__luma_samples(w, h, w, h, xs, nx, ys, ny);
    for (int i = 0; i < *nx; i++)
        xs[i] += x;
    for (int i = 0; i < *ny; i++)
        ys[i] += y;
    return scrim__luma_sampled(img->pixels, img->channels,
                               (size_t)img->width * img->channels, xs, *nx,
                               ys, *ny, s);
}

/* Mean step across the line between pixels k - 1 and k of a full-size
 * decode: rows (dir 0, k = y) over columns [a, b), or columns (dir 1, k = x)
 * over rows [a, b); every 2nd pixel along. */
static double line_step(const scrim_image *img, int dir, int k, int a, int b)
{
    enum { MAXS = 256 };
    int pos[MAXS], two[2] = {k - 1, k}, n = 0;
    float v[2 * MAXS];
    int step = (b - a + 2 * MAXS - 1) / MAXS;
    step = step < 2 ? 2 : step;
    for (int i = a; i < b && n < MAXS; i += step)
        pos[n++] = i;
    if (n == 0 || k < 1 || k >= (dir ? img->width : img->height))
        return 0;
    size_t stride = (size_t)img->width * img->channels;
    if (dir == 0
            ? scrim__luma_sampled(img->pixels, img->channels, stride, pos, n, two, 2, v)
            : scrim__luma_sampled(img->pixels, img->channels, stride, two, 2, pos, n, v))
        return 0;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += dir == 0 ? fabsf(v[n + i] - v[i]) : fabsf(v[2 * i + 1] - v[2 * i]);
    return s / n;
}

/* A region's sides, found in a squashed plane, are only known to the
 * plane's sample spacing: each side is moved, within that spacing, to the
 * line of the file with the largest step across it (the picture's edge). */
static void refine_rect(const scrim_image *img, const scrim__luma *l, int *x,
                        int *y, int *w, int *h)
{
    int rx = (l->file_width + l->width - 1) / l->width;
    int ry = (l->file_height + l->height - 1) / l->height;
    int e[4] = {*y, *y + *h, *x, *x + *w}; /* top, bottom, left, right */
    for (int s = 0; s < 4; s++) {
        int dir = s >> 1, r = dir ? rx : ry, lim = dir ? img->width : img->height;
        if (r < 2 || e[s] <= 0 || e[s] >= lim)
            continue; /* a side on the file's edge stays there */
        int a = dir ? e[0] : e[2], b = dir ? e[1] : e[3];
        int best = e[s];
        double bv = line_step(img, dir, e[s], a, b);
        for (int k = e[s] - r; k <= e[s] + r; k++) {
            if (k < 1 || k >= lim || k == e[s])
                continue;
            double v = line_step(img, dir, k, a, b);
            if (v > bv)
                bv = v, best = k;
        }
        e[s] = best;
    }
    if (e[1] - e[0] >= 16 && e[3] - e[2] >= 16)
        *y = e[0], *h = e[1] - e[0], *x = e[2], *w = e[3] - e[2];
}

/* The pictures found inside the plane, hashed, into out->region (their
 * rectangles in the file's pixels).  Reads the plane only.  When the plane
 * is the 512 x 512 squash of a larger file, a region is hashed from the
 * file's own pixels (`img`, or a second decode of buf): resampling the
 * squash again cost 10-30 bits where a region's edge fell between rows. */
static int hash_regions(const scrim__luma *l, const scrim_decode_opts *opts,
                        const void *buf, size_t len, const scrim_image *img,
                        scrim_image_hashes *out)
{
    scrim__region r[SCRIM__REGIONS_MAX];
    int n = scrim__regions_find(l->plane, l->width, l->height, r,
                                SCRIM__REGIONS_MAX);
    if (n <= 0)
        return SCRIM_OK;
    float *s = malloc((size_t)SCRIM__SQUASH * SCRIM__SQUASH * sizeof *s);
    if (!s)
        return SCRIM_ENOMEM;
    scrim_image own = {0};
    int squashed = l->width != l->file_width || l->height != l->file_height;
    if (squashed && !img) {
        char err[64];
        if (!scrim__image_load(buf, len, opts, 1, &own, err, sizeof err))
            img = &own;
    }
    if (img && (img->width != l->file_width || img->height != l->file_height))
        img = NULL; /* shrunk on load: the plane it is */
    int rc = SCRIM_OK;
    for (int i = 0; i < n && !rc; i++) {
        scrim_region *o = &out->region[out->nregions];
        /* sample i of the plane is pixel floor(i * file / plane) */
        int x1 = (int)((int64_t)(r[i].x + r[i].w) * l->file_width / l->width);
        int y1 = (int)((int64_t)(r[i].y + r[i].h) * l->file_height / l->height);
        o->x = (int)((int64_t)r[i].x * l->file_width / l->width);
        o->y = (int)((int64_t)r[i].y * l->file_height / l->height);
        o->w = x1 - o->x;
        o->h = y1 - o->y;
        int nx, ny, full = squashed && img && !(r[i].kind & SCRIM__REG_OVERLAY);
        if (full)
            refine_rect(img, l, &o->x, &o->y, &o->w, &o->h);
        if (full && !rect_luma(img, o->x, o->y, o->w, o->h, s, &nx, &ny))
            rc = scrim_pdq_hash_luma(s, nx, ny, &o->dihedral[0], &o->quality,
                                     o->dihedral);
        else
            rc = scrim__region_hash(l->plane, l->width, l->height, &r[i], s,
                                    &o->dihedral[0], &o->quality, o->dihedral);
        if (rc || o->quality < SCRIM__REGION_MIN_QUALITY)
            continue; /* a flat region is no evidence */
        o->kind = region_kind(r[i].kind);
        out->nregions++;
    }
    scrim_image_free(&own); /* a second decode, used or not */
    free(s);
    return rc;
}

/* PDQ of the plane (which it overwrites), after its regions when asked. */
static int hash_plane(scrim__luma *l, const scrim_decode_opts *opts,
                      const void *buf, size_t len, const scrim_image *img,
                      scrim_image_hashes *out)
{
    int rc = SCRIM_OK;
    if (opts && opts->regions)
        rc = hash_regions(l, opts, buf, len, img, out);
    if (!rc)
        rc = scrim_pdq_hash_luma(l->plane, l->width, l->height, &out->pdq,
                                 &out->quality, out->dihedral);
    return rc;
}

int scrim_hash_image_buffer(const void *buf, size_t len,
                            const scrim_decode_opts *opts,
                            scrim_image_hashes *out, scrim_image *keep,
                            char *err, size_t errlen)
{
    scrim_image img;
    scrim__luma l = {0};
    memset(out, 0, sizeof *out);
    if (!keep && scrim__jpeg_is(buf, len)) {
        /* nothing to keep: the JPEG's rows become luma as they are decoded */
        scrim__limits lim;
        scrim__decode_limits(opts, 1, &lim);
        int rc = scrim__jpeg_luma(buf, len, &lim, &l, err, errlen);
        if (rc != SCRIM__JPEG_OTHER) {
            if (!rc)
                rc = hash_plane(&l, opts, buf, len, NULL, out);
            free(l.plane);
            if (rc)
                return rc;
            out->width = l.file_width;
            out->height = l.file_height;
            snprintf(out->format, sizeof out->format, "jpeg");
            if (!(opts && opts->no_digests))
                scrim_digest(buf, len, out->md5, out->sha256);
            return SCRIM_OK;
        }
        memset(out, 0, sizeof *out);
    }
    int rc = scrim__image_load(buf, len, opts, 1, &img, err, errlen);
    if (rc)
        return rc;
    rc = image_luma(&img, &l);
    if (!rc)
        rc = hash_plane(&l, opts, buf, len, &img, out);
    free(l.plane);
    if (rc) {
        scrim__seterr(err, errlen, "hashing failed: %s", scrim_strerror(rc));
        scrim_image_free(&img);
        return rc;
    }
    if (!(opts && opts->no_digests))
        scrim_digest(buf, len, out->md5, out->sha256);
    out->width = img.file_width;
    out->height = img.file_height;
    memcpy(out->format, img.format, sizeof out->format);
    if (keep)
        *keep = img;
    else
        scrim_image_free(&img);
    return SCRIM_OK;
}

int scrim_hash_variants(const void *buf, size_t len, const char *set,
                        scrim_image_hashes *out, scrim_variant *v, int max,
                        int *n, char *err, size_t errlen)
{
    scrim_image img;
    scrim__luma l = {0};
    scrim_decode_opts d = {0};
    scrim__variant iv[SCRIM_VARIANTS_MAX];
    int rc;
    *n = 0;
    if (max > SCRIM_VARIANTS_MAX)
        max = SCRIM_VARIANTS_MAX;
    /* the image's PDQ, digests and size, as scrim_hash_image_buffer */
    if ((rc = scrim_hash_image_buffer(buf, len, &d, out, &img, err, errlen)))
        return rc;
    rc = image_luma(&img, &l);
    scrim_image_free(&img);
    if (!rc) {
        int k = scrim__index_variants(l.plane, l.width, l.height, l.file_width,
                                      l.file_height, set, iv, max);
        if (k < 0)
            rc = k;
        for (int i = 0; i < k; i++) {
            if (iv[i].quality < SCRIM__REGION_MIN_QUALITY)
                continue; /* a flat crop is no evidence */
            memcpy(v[*n].name, iv[i].name, sizeof v[*n].name);
            v[*n].name[sizeof v[*n].name - 1] = '\0';
            v[*n].pdq = iv[i].hash;
            v[*n].quality = iv[i].quality;
            ++*n;
        }
    }
    free(l.plane);
    if (rc)
        scrim__seterr(err, errlen, "hashing the variants failed: %s",
                      scrim_strerror(rc));
    return rc;
}

static json_t *pdq_json(const scrim_pdq *h, int quality, const char *variant)
{
    char hx[SCRIM_PDQ_HEXLEN + 1];
    scrim_pdq_to_hex(h, hx);
    json_t *o = json_pack("{s:s, s:i}", "hash", hx, "quality", quality);
    if (variant)
        json_object_set_new(o, "variant", json_string(variant));
    return o;
}

json_t *scrim_region_json(const scrim_region *r)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:s}", "x", r->x, "y", r->y, "w",
                     r->w, "h", r->h, "kind", r->kind);
}

json_t *scrim_image_hashes_json(const scrim_image_hashes *h, int dihedral)
{
    json_t *pdq = json_array();
    json_array_append_new(pdq, pdq_json(&h->pdq, h->quality, NULL));
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:i, s:i}", "kind",
                          "image", "format", h->format, "pdq", pdq, "md5",
                          h->md5, "sha256", h->sha256, "width", h->width,
                          "height", h->height);
    if (dihedral) {
        json_t *d = json_array();
        for (int v = 0; v < SCRIM_DIH_COUNT; v++)
            json_array_append_new(d, pdq_json(&h->dihedral[v], h->quality,
                                              scrim_dihedral_name(v)));
        json_object_set_new(o, "dihedral", d);
    }
    if (h->nregions) {
        json_t *rs = json_array();
        for (int i = 0; i < h->nregions; i++) {
            const scrim_region *r = &h->region[i];
            json_t *rj = pdq_json(&r->dihedral[0], r->quality, NULL);
            json_object_set_new(rj, "region", scrim_region_json(r));
            json_array_append_new(rs, rj);
        }
        json_object_set_new(o, "regions", rs);
    }
    return o;
}
