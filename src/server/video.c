/* video.c - video in scrimd: the "video" media kind for POST /v1/hash
 * and /v1/match (frames sampled at one a second unless the request says
 * ?seconds_per_hash= or ?keyframes=1, matched with scrim_video_match()),
 * and POST /v1/compare (vPDQ's measure between two vPDQ hash texts).  Attached by scrim_video_server_attach(). */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int video_sniff(const void *buf, size_t len)
{
    return scrim_media_sniff(buf, len) == SCRIM_MEDIA_VIDEO;
}

/* The sampling options of one request: ?seconds_per_hash=S (vPDQ's s, 0 =
 * every frame; default 1) and ?keyframes=0|1, with the ranges of the CLI's
 * --seconds-per-hash and --keyframes.  SCRIM_EINVAL (a 400) on bad values. */
static int video_query_opts(const scrim_query_opts *o, scrim_video_opts *vo,
                            char *err, size_t errlen)
{
    const char *s = o->call ? scrim_call_arg(o->call, "seconds_per_hash") : NULL;
    const char *k = o->call ? scrim_call_arg(o->call, "keyframes") : NULL;
    if (s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        /* isfinite also refuses "nan" and "inf", which strtod accepts. */
        if (!*s || *end || errno || !isfinite(v) || v < 0 || v > 3600) {
            scrim__seterr(err, errlen, "?seconds_per_hash= must be seconds from "
                          "0 (every frame) to 3600, got '%s'", s);
            return SCRIM_EINVAL;
        }
        vo->seconds_per_hash = v;
    }
    if (k) {
        if (strcmp(k, "0") && strcmp(k, "1")) {
            scrim__seterr(err, errlen, "?keyframes= must be 0 or 1, got '%s'", k);
            return SCRIM_EINVAL;
        }
        vo->keyframes_only = k[0] == '1';
    }
    return SCRIM_OK;
}

static int video_hash(scrim_upload *up, const scrim_query_opts *o, char *err,
                      size_t errlen)
{
    scrim_video_opts vo;
    scrim_video_opts_default(&vo);
    int rc = video_query_opts(o, &vo, err, errlen);
    if (rc)
        return rc;
    /* Parallelism comes from the worker pool (one upload per worker), not
     * from splitting one decode across threads. */
    vo.threads = 1;
    vo.framing = o->regions; /* matching: the picture inside letterbox bars */
    /* The daemon's pixel limit also bounds each frame. */
    if (o->max_pixels && o->max_pixels < SCRIM_VIDEO_DEFAULT_MAX_PIXELS)
        vo.max_pixels = o->max_pixels;
    /* Decoding past the request's deadline answers nobody (the client has
     * had its 504) and only holds a worker: a 7 KB GIF of 300 frames of
     * 7680x4320 took 97 s, against the library's 120 s default budget.  A
     * call without a deadline (called directly) gets --request-timeout. */
    vo.deadline = o->deadline;
    const scrim_settings *set = o->call ? o->call->settings : NULL;
    if (!vo.deadline && set && set->request_timeout > 0 &&
        set->request_timeout < SCRIM_VIDEO_DEFAULT_TIME_BUDGET)
        vo.time_budget = set->request_timeout;
    scrim_vpdq *v = malloc(sizeof *v);
    if (!v) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    rc = scrim_video_hash_buffer(up->bytes, up->len, &vo, v, err, errlen);
    if (rc) {
        scrim_vpdq_free(v);
        free(v);
        return rc;
    }
    up->state = v;
    up->kind = SCRIM_MEDIA_VIDEO;
    scrim_digest(up->bytes, up->len, up->md5, up->sha256);
    return SCRIM_OK;
}

static json_t *video_json(const scrim_upload *up, const scrim_query_opts *o)
{
    json_t *j = scrim_vpdq_json(up->state);
    if (j) {
        json_object_set_new(j, "md5", json_string(up->md5));
        json_object_set_new(j, "sha256", json_string(up->sha256));
    }
    return j;
}

static void video_free(scrim_upload *up)
{
    if (up->state) {
        scrim_vpdq_free(up->state);
        free(up->state);
        up->state = NULL;
    }
}

static const scrim_media_handler video_handler = {
    .kind = "video",
    .sniff = video_sniff,
    .hash = video_hash,
    .to_json = video_json,
    .match = scrim__media_match,
    .free = video_free,
};

/* POST /v1/compare: {"query": VPDQ_TEXT, "compared": VPDQ_TEXT
 * [, "min_quality": N, "distance": N]} -> the two percentages. */
static int compare_route(scrim_call *c, void *arg)
{
    json_error_t je;
    json_t *body = json_loadb((const char *)c->body, c->body_len, 0, &je);
    scrim_vpdq v[2] = {{0}};
    static const char *const keys[2] = {"query", "compared"};
    char err[512];
    int rc = -1;
    if (!body || !json_is_object(body)) {
        rc = scrim_call_error(c, 400, "bad_request", "expected a JSON object "
                              "{\"query\": VPDQ, \"compared\": VPDQ}%s%s",
                              body ? "" : ": ", body ? "" : je.text);
        goto out;
    }
    json_t *mq = json_object_get(body, "min_quality"), *md = json_object_get(body, "distance");
    /* ranges checked before narrowing: 4294967346 is not 50 */
    json_int_t minq = mq ? json_integer_value(mq) : SCRIM_VPDQ_MIN_QUALITY;
    json_int_t dist = md ? json_integer_value(md) : SCRIM_VPDQ_MAX_DISTANCE;
    if ((mq && (!json_is_integer(mq) || minq < 0 || minq > 100)) ||
        (md && (!json_is_integer(md) || dist < 0 || dist > 256))) {
        rc = scrim_call_error(c, 400, "bad_request", "min_quality must be 0-100 "
                              "and distance 0-256");
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        json_t *t = json_object_get(body, keys[i]);
        if (!json_is_string(t)) {
            rc = scrim_call_error(c, 400, "bad_request", "\"%s\" must be the text "
                                  "of a vPDQ hash (FRAME,QUALITY,HASH,SECONDS lines)",
                                  keys[i]);
            goto out;
        }
        if (scrim_vpdq_parse(json_string_value(t), json_string_length(t), &v[i], err,
                             sizeof err)) {
            rc = scrim_call_error(c, 400, "bad_request", "%s: %s", keys[i], err);
            goto out;
        }
    }
    /* The work is the product of the two sides' frames: 40,000 a side
     * (a 6.7 MB body) took 36 s of CPU.  Each side is capped, and the
     * comparison stops at the request's deadline. */
    for (int i = 0; i < 2; i++)
        if (v[i].count > (size_t)c->settings->max_compare_frames) {
            rc = scrim_call_error(c, 413, "too_large", "\"%s\" has %zu frames, "
                                  "over the limit of %d a side "
                                  "(--max-compare-frames)", keys[i],
                                  v[i].count, c->settings->max_compare_frames);
            goto out;
        }
    double q, cp;
    if ((rc = scrim_vpdq_compare_until(&v[0], &v[1], (int)minq, (int)dist,
                                       c->deadline, &q, &cp))) {
        if (rc == SCRIM_ETIMEOUT)
            scrim__call_fail(c, rc, "the comparison of %zu x %zu frames "
                             "stopped at the request timeout of %g s",
                             v[0].count, v[1].count,
                             c->settings->request_timeout);
        else
            scrim__call_fail(c, rc, "out of memory");
        goto out;
    }
    c->json = json_pack("{s:f, s:f}", "query_match_percent", round(q * 1000) / 1000,
                        "compared_match_percent", round(cp * 1000) / 1000);
    rc = 0;
out:
    scrim_vpdq_free(&v[0]);
    scrim_vpdq_free(&v[1]);
    json_decref(body);
    return rc;
}

int scrim_video_server_attach(struct scrim_server *srv, char *err, size_t errlen)
{
    if (scrim_server_media(srv, &video_handler) ||
        /* video work: a long comparison (up to --max-compare-frames a
         * side, until the request's deadline) must not hold up the image
         * workers (bench/attacks.sh compare) */
        scrim_server_route(srv, "compare", SCRIM_POST, "/v1/compare",
                           SCRIM_ROUTE_WORKER | SCRIM_ROUTE_VIDEO, compare_route,
                           NULL)) {
        scrim__seterr(err, errlen, "cannot attach the video endpoints");
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}
