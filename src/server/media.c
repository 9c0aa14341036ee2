/* media.c - the built-in image media kind of scrimd's request path:
 * sniff, hash (a JPEG's rows become luma as they are decoded: no pixels are
 * kept; a hook that needs them decodes the upload again), JSON.
 * Other kinds (video) register a scrim_media_handler of their own
 * with scrim_server_media(); matching is the one matcher's (match/). */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <string.h>

static int image_sniff(const void *buf, size_t len)
{
    return scrim_image_sniff(buf, len);
}

static int image_hash(scrim_upload *up, const scrim_query_opts *o, char *err,
                      size_t errlen)
{
    scrim_decode_opts d = {.max_pixels = o->max_pixels,
                           .min_side = o->min_side,
                           .ignore_alpha = o->ignore_alpha,
                           .regions = o->regions,
                           .deadline = o->deadline};
    /* the call's deadline, memory limit and the server's memory budget */
    scrim_call_decode_opts(o->call, &d);
    int rc = scrim_hash_image_buffer(up->bytes, up->len, &d, &up->image, NULL,
                                     err, errlen);
    if (rc)
        return rc;
    up->kind = SCRIM_MEDIA_IMAGE;
    memcpy(up->md5, up->image.md5, sizeof up->md5);
    memcpy(up->sha256, up->image.sha256, sizeof up->sha256);
    return SCRIM_OK;
}

static json_t *image_json(const scrim_upload *up, const scrim_query_opts *o)
{
    return scrim_image_hashes_json(&up->image, o->dihedral);
}

int scrim__media_match(const scrim_upload *up, const scrim_query_opts *o,
                       struct scrim_store *store, scrim_match_result *res,
                       char *err, size_t errlen)
{
    scrim_vmatch_opts mo;
    json_t *j;
    int rc;
    if (!store)
        return SCRIM_OK;
    scrim_vmatch_opts_default(&mo);
    mo.min_quality = o->min_quality;
    mo.radius = o->radius;
    mo.dihedral = o->dihedral;
    mo.regions = o->regions;
    mo.lists = o->lists;
    mo.nlists = o->nlists;
    if (up->kind == SCRIM_MEDIA_VIDEO)
        rc = scrim_video_match(store, up->state, up->md5, up->sha256, &mo, &j,
                               err, errlen);
    else
        rc = scrim_image_match(store, &up->image, &mo, &j, err, errlen);
    if (rc)
        return rc;
    json_array_extend(res->matches, json_object_get(j, "matches"));
    json_array_extend(res->allowed, json_object_get(j, "allowed"));
    res->matched = json_array_size(res->matches) > 0;
    json_decref(j);
    return SCRIM_OK;
}

const scrim_media_handler scrim__image_handler = {
    .kind = "image",
    .sniff = image_sniff,
    .hash = image_hash,
    .to_json = image_json,
    .match = scrim__media_match,
    .free = NULL, /* an image upload holds nothing of its own */
};
