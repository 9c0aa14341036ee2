/* add.c - a platform's own removed media into a list: `scrim add` and the
 * admin POST /v1/lists/NAME/media.  The media is hashed here, so besides
 * its plain PDQ and digests the list can hold the index-side variants of an
 * image (the crops and small rotations PDQ would not see through), all
 * under one id.  Partner lists never get variants: they are imported as
 * text, and scrim_store_export leaves variants out. */
#include "scrim.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

/* The file's MD5 and SHA-256 (hex, as scrim_digest makes them) under the
 * same id. */
static int add_digests(scrim_import *imp, const char *md5, const char *sha256,
                       const char *id, const char *label, char *err,
                       size_t errlen)
{
    uint8_t d5[16], d256[32];
    scrim__hex_decode(md5, 32, d5);
    scrim__hex_decode(sha256, 64, d256);
    scrim_entry e = {.type = SCRIM_HASH_MD5, .hash = d5, .id = id,
                     .label = label, .quality = -1};
    int rc = scrim_import_add(imp, &e, err, errlen);
    if (!rc) {
        e.type = SCRIM_HASH_SHA256;
        e.hash = d256;
        rc = scrim_import_add(imp, &e, err, errlen);
    }
    return rc;
}

static int add_image(scrim_import *imp, const void *buf, size_t len,
                     const char *id, const char *label, const char *variants,
                     scrim_media_added *st, char *err, size_t errlen)
{
    scrim_image_hashes h;
    scrim_variant v[SCRIM_VARIANTS_MAX];
    int nv = 0, rc;
    if (variants && !*variants) {
        scrim_decode_opts d = {0};
        rc = scrim_hash_image_buffer(buf, len, &d, &h, NULL, err, errlen);
    } else {
        rc = scrim_hash_variants(buf, len, variants, &h, v, SCRIM_VARIANTS_MAX,
                                 &nv, err, errlen);
    }
    if (rc)
        return rc;
    scrim_entry e = {.type = SCRIM_HASH_PDQ, .hash = &h.pdq, .id = id,
                     .label = label, .quality = h.quality};
    if ((rc = scrim_import_add(imp, &e, err, errlen)) ||
        (rc = add_digests(imp, h.md5, h.sha256, id, label, err, errlen)))
        return rc;
    st->quality = h.quality;
    for (int i = 0; i < nv; i++) {
        e.hash = &v[i].pdq;
        e.quality = v[i].quality;
        e.variant = v[i].name;
        if ((rc = scrim_import_add(imp, &e, err, errlen)))
            return rc;
        snprintf(st->variant[st->nvariants++], sizeof st->variant[0], "%s",
                 v[i].name);
    }
    st->kind = "image";
    return SCRIM_OK;
}

static int add_video(scrim_import *imp, const void *buf, size_t len,
                     const char *id, const char *label,
                     const scrim_video_opts *vo, scrim_media_added *st,
                     char *err, size_t errlen)
{
    scrim_vpdq q;
    int rc = scrim_video_hash_buffer(buf, len, vo, &q, err, errlen);
    if (rc) {   /* a damaged video may have frames hashed before its error */
        scrim_vpdq_free(&q);
        return rc;
    }
    scrim_store_frame *f = malloc((q.count ? q.count : 1) * sizeof *f);
    if (!f) {
        scrim_vpdq_free(&q);
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    for (size_t i = 0; i < q.count; i++) {
        f[i].hash = q.frames[i].pdq;
        f[i].quality = q.frames[i].quality;
        f[i].seconds = q.frames[i].seconds;
    }
    if (!q.count) {
        scrim__seterr(err, errlen, "the video has no frame to hash");
        rc = SCRIM_ECORRUPT;
    } else {
        char md5[33], sha256[65];
        scrim_digest(buf, len, md5, sha256);
        rc = scrim_import_add_video(imp, id, label, f, q.count, err, errlen);
        if (!rc)
            rc = add_digests(imp, md5, sha256, id, label, err, errlen);
    }
    st->frames = q.count;
    st->kind = "video";
    free(f);
    scrim_vpdq_free(&q);
    return rc;
}

int scrim_media_add(scrim_store *s, const char *list,
                    const scrim_import_opts *io, const void *buf, size_t len,
                    const char *id, const char *label, const char *variants,
                    scrim_media_added *st, char *err, size_t errlen)
{
    scrim_import *imp;
    scrim_media_added local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (!id || !*id) {
        scrim__seterr(err, errlen, "the media needs an id");
        return SCRIM_EINVAL;
    }
    int kind = scrim_media_sniff(buf, len);
    if (kind != SCRIM_MEDIA_IMAGE && kind != SCRIM_MEDIA_VIDEO) {
        scrim__seterr(err, errlen, "not an image or video scrim decodes");
        return SCRIM_EFORMAT;
    }
    int rc = scrim_import_begin(s, list, io, &imp, err, errlen);
    if (rc)
        return rc;
    if (kind == SCRIM_MEDIA_VIDEO)
        rc = add_video(imp, buf, len, id, label, NULL, st, err, errlen);
    else
        rc = add_image(imp, buf, len, id, label, variants, st, err, errlen);
    if (rc) {
        scrim_import_abort(imp);
        return rc;
    }
    return scrim_import_commit(imp, &st->stats, err, errlen);
}
