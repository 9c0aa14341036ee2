/* hashes.c - everything computed for one image upload: decode (the JPEG
 * fast path straight to luma, else libvips), PDQ with its dihedral
 * variants, MD5 and SHA-256 of the bytes, and its JSON form. */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"
#include "hash/hash.h"

#include <stdlib.h>
#include <string.h>

int scrim_pdq_hash_image(const scrim_image *img, scrim_pdq *hash, int *quality,
                         scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    int fw = img->file_width ? img->file_width : img->width;
    int fh = img->file_height ? img->file_height : img->height;
    int ch = img->channels;
    size_t stride = (size_t)img->width * ch;
    if (fw <= SCRIM__SQUASH && fh <= SCRIM__SQUASH)
        return scrim_pdq_hash_pixels(img->pixels, img->width, img->height, ch,
                                     stride, hash, quality, dihedral);
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH], nx, ny;
    scrim__luma_samples(fw, fh, img->width, img->height, xs, &nx, ys, &ny);
    return scrim_pdq_hash_sampled(img->pixels, ch, stride, xs, nx, ys, ny, hash,
                                  quality, dihedral);
}

int scrim_hash_image_buffer(const void *buf, size_t len,
                            const scrim_decode_opts *opts,
                            scrim_image_hashes *out, scrim_image *keep,
                            char *err, size_t errlen)
{
    scrim_image img;
    memset(out, 0, sizeof *out);
    if (!keep && scrim__jpeg_is(buf, len)) {
        /* nothing to keep: the JPEG's rows become luma as they are decoded */
        scrim__limits lim;
        scrim__decode_limits(opts, 1, &lim);
        scrim__luma l;
        int rc = scrim__jpeg_luma(buf, len, &lim, &l, err, errlen);
        if (rc != SCRIM__JPEG_OTHER) {
            if (!rc)
                rc = scrim_pdq_hash_luma(l.plane, l.width, l.height, &out->pdq,
                                         &out->quality, out->dihedral);
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
    rc = scrim_pdq_hash_image(&img, &out->pdq, &out->quality, out->dihedral);
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

static json_t *pdq_json(const scrim_pdq *h, int quality, const char *variant)
{
    char hx[SCRIM_PDQ_HEXLEN + 1];
    scrim_pdq_to_hex(h, hx);
    json_t *o = json_pack("{s:s, s:i}", "hash", hx, "quality", quality);
    if (variant)
        json_object_set_new(o, "variant", json_string(variant));
    return o;
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
    return o;
}
