/* vmatch.c - video lists: vPDQ import/export through the store, and matching
 * of a video's frames (or an image's hashes) against the lists, shared by
 * `scrim match` and the daemon's /v1/match. */
#include "scrim.h"
#include "base/base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- import / export ------------------------------------------------------------ */

/* "# video: ID" (or "#video ID") section line?  Copies the ID. */
static int section_id(const char *s, size_t n, char *id, size_t idcap)
{
    size_t i = 1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 5 || strncmp(s + i, "video", 5))
        return 0;
    i += 5;
    if (i < n && s[i] == ':')
        i++;
    else if (i < n && s[i] != ' ' && s[i] != '\t')
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t e = n;
    while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
        e--;
    if (e == i || e - i >= idcap)
        return 0;
    memcpy(id, s + i, e - i);
    id[e - i] = '\0';
    return 1;
}

/* Parse text[from, to) as one video and add it with `id`. */
static int add_section(scrim_import *imp, const char *text, size_t from,
                       size_t to, size_t first_line, const char *id,
                       const char *label, char *err, size_t errlen)
{
    scrim_vpdq v;
    char why[256];
    int rc = scrim_vpdq_parse(text + from, to - from, &v, why, sizeof why);
    if (rc) {
        /* "line N" of the section -> line of the whole text */
        unsigned long n;
        const char *rest = why;
        if (sscanf(why, "line %lu:", &n) == 1 && (rest = strchr(why, ':')))
            scrim__seterr(err, errlen, "video '%s': line %lu%s", id,
                          (unsigned long)(n + first_line - 1), rest);
        else
            scrim__seterr(err, errlen, "video '%s': %s", id, why);
        return rc;
    }
    scrim_store_frame *f = malloc(v.count * sizeof *f);
    if (!f) {
        scrim_vpdq_free(&v);
        return SCRIM_ENOMEM;
    }
    for (size_t i = 0; i < v.count; i++) {
        f[i].hash = v.frames[i].pdq;
        f[i].quality = v.frames[i].quality;
        f[i].seconds = v.frames[i].seconds;
    }
    rc = scrim_import_add_video(imp, id, label, f, v.count, err, errlen);
    free(f);
    scrim_vpdq_free(&v);
    return rc;
}

int scrim_vpdq_import(scrim_import *imp, const void *buf, size_t len,
                      const char *id, const char *label, size_t *videos,
                      char *err, size_t errlen)
{
    const char *text = buf;
    char sid[SCRIM_ENTRY_TEXT_MAX + 1], next[SCRIM_ENTRY_TEXT_MAX + 1];
    size_t pos = 0, line = 0, start = 0, start_line = 1, count = 0;
    int have = 0, rc = SCRIM_OK;
    if (videos)
        *videos = 0;
    for (;;) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t b = pos;
        line++;
        while (b < end && (text[b] == ' ' || text[b] == '\t'))
            b++;
        int sec = b < end && text[b] == '#' &&
                  section_id(text + b, end - b, next, sizeof next);
        if (sec || !nl) {
            size_t upto = sec ? pos : len;
            if (have) {
                rc = add_section(imp, text, start, upto, start_line, sid, label,
                                 err, errlen);
                count++;
            } else if (!sec) {
                if (!id || !*id) {
                    scrim__seterr(err, errlen, "a video needs an id (and the file has no '# video: ID' line)");
                    return SCRIM_EINVAL;
                }
                rc = add_section(imp, text, 0, len, 1, id, label, err, errlen);
                count++;
            } else {
                /* Before the first section: comments and blank lines only. */
                scrim_vpdq v;
                if (scrim_vpdq_parse(text, upto, &v, NULL, 0) == SCRIM_OK) {
                    scrim_vpdq_free(&v);
                    scrim__seterr(err, errlen, "line %zu: frames before the first '# video: ID' line",
                                  line);
                    return SCRIM_EINVAL;
                }
            }
            if (rc)
                return rc;
            if (sec) {
                memcpy(sid, next, sizeof sid);
                have = 1;
                start = nl ? end + 1 : len;
                start_line = line + 1;
            }
        }
        if (!nl)
            break;
        pos = end + 1;
    }
    if (videos)
        *videos = count;
    return SCRIM_OK;
}

int scrim_vpdq_export_entry(FILE *out, const char *id, const char *label,
                            const scrim_store_frame *frames, size_t n)
{
    char hx[SCRIM_PDQ_HEXLEN + 1];
    fprintf(out, "# video: %s\n", id);
    for (size_t i = 0; i < n; i++) {
        scrim_pdq_to_hex(&frames[i].hash, hx);
        fprintf(out, "%zu,%d,%s,%.3f\n", i, frames[i].quality < 0 ? 0 : frames[i].quality,
                hx, frames[i].seconds);
    }
    return ferror(out) ? SCRIM_EIO : SCRIM_OK;
}

/* ---- matching ------------------------------------------------------------------ */

void scrim_vmatch_opts_default(scrim_vmatch_opts *o)
{
    o->min_quality = SCRIM_VPDQ_MIN_QUALITY;
    o->radius = -1;
    o->query_percent = SCRIM_VPDQ_QUERY_PERCENT;
    o->compared_percent = SCRIM_VPDQ_COMPARED_PERCENT;
    o->dihedral = 1;
}

/* A reported entry: an image (or digest) hit with the query frames' times,
 * or a video entry that is a candidate for the vPDQ measure. */
typedef struct group {
    const scrim_match *m;   /* nearest hit (its strings live in the matches) */
    json_t *times;          /* seconds of the query frames that hit it */
    double last;
} group;

static int group_find(group *g, size_t n, const scrim_match *m)
{
    for (size_t i = 0; i < n; i++) {
        const scrim_match *x = g[i].m;
        if (x->type != m->type || strcmp(x->list, m->list))
            continue;
        if (m->type == SCRIM_HASH_VIDEO ? x->entry == m->entry : !strcmp(x->hash, m->hash))
            return (int)i;
    }
    return -1;
}

static double round3(double x)
{
    return round(x * 1000.0) / 1000.0;
}

/* Hits grouped by entry; `secs` maps a query index to seconds (NULL: no
 * timestamps, for images).  Returns a malloc'd array of *n groups. */
static group *group_hits(const scrim_matches *m, const double *secs, size_t *n)
{
    group *g = calloc(m->n ? m->n : 1, sizeof *g);
    *n = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const scrim_match *h = &m->v[i];
        int k = group_find(g, *n, h);
        if (k < 0) {
            k = (int)(*n)++;
            g[k].m = h;
            g[k].times = secs ? json_array() : NULL;
            g[k].last = -1;
        } else if (h->distance < g[k].m->distance) {
            g[k].m = h;
        }
        if (secs && secs[h->query] != g[k].last) {
            /* queries come in frame order, so times stay sorted */
            json_array_append_new(g[k].times, json_real(round3(secs[h->query])));
            g[k].last = secs[h->query];
        }
    }
    return g;
}

static int group_cmp(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->m->distance != y->m->distance)
        return x->m->distance < y->m->distance ? -1 : 1;
    int c = strcmp(x->m->list, y->m->list);
    return c ? c : strcmp(x->m->hash, y->m->hash);
}

/* The list's radius (or the override), for the vPDQ frame distance. */
static int list_radius(scrim_store *s, const char *list, const scrim_vmatch_opts *o)
{
    scrim_list_info li;
    if (o->radius >= 0)
        return o->radius;
    if (scrim_store_list_get(s, list, &li, NULL, 0))
        return SCRIM_VPDQ_MAX_DISTANCE;
    return li.radius;
}

/* vPDQ's measure of query against a stored video entry, plus the matched
 * ranges of the query.  *obj is NULL when the thresholds are not reached. */
static int video_entry_match(scrim_store *s, const scrim_vpdq *q,
                             const scrim_match *m, const scrim_vmatch_opts *o,
                             json_t **obj, char *err, size_t errlen)
{
    scrim_store_frame *f = NULL;
    size_t n = 0;
    scrim_vpdq e = {0};
    *obj = NULL;
    char *label = NULL;
    int rc = scrim_store_video_frames(s, m->list, m->id, &f, &n, &label, err,
                                      errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == SCRIM_OK; i++) {
        scrim_vframe vf = {(int)i, f[i].quality, f[i].hash, f[i].seconds};
        rc = scrim_vpdq_append(&e, &vf);
    }
    free(f);
    int radius = list_radius(s, m->list, o);
    double qp = 0, cp = 0;
    if (rc == SCRIM_OK)
        rc = scrim_vpdq_compare(q, &e, o->min_quality, radius, &qp, &cp);
    if (rc == SCRIM_OK && qp > 0 && qp >= o->query_percent && cp >= o->compared_percent) {
        /* Runs of query frames that have a match; frames too flat to
         * judge (low quality) neither break nor extend a run. */
        json_t *ranges = json_array();
        double start = -1, end = -1;
        for (size_t i = 0; i < q->count; i++) {
            const scrim_vframe *qf = &q->frames[i];
            if (qf->quality < o->min_quality)
                continue;
            int hit = 0;
            for (size_t j = 0; j < e.count && !hit; j++)
                hit = e.frames[j].quality >= o->min_quality &&
                      scrim_pdq_distance(&qf->pdq, &e.frames[j].pdq) <= radius;
            if (hit) {
                if (start < 0)
                    start = qf->seconds;
                end = qf->seconds;
            } else if (start >= 0) {
                json_array_append_new(ranges, json_pack("[f,f]", round3(start), round3(end)));
                start = -1;
            }
        }
        if (start >= 0)
            json_array_append_new(ranges, json_pack("[f,f]", round3(start), round3(end)));
        *obj = json_pack("{s:s, s:s, s:s, s:o, s:f, s:f, s:o}", "list", m->list,
                         "type", "video", "id", m->id ? m->id : "", "label",
                         label ? json_string(label) : json_null(),
                         "query_match_percent", round3(qp),
                         "compared_match_percent", round3(cp), "ranges", ranges);
    }
    scrim_vpdq_free(&e);
    free(label);
    return rc;
}

static int pct_cmp(const void *a, const void *b)
{
    double x = json_real_value(json_object_get(*(json_t *const *)a, "query_match_percent"));
    double y = json_real_value(json_object_get(*(json_t *const *)b, "query_match_percent"));
    return x > y ? -1 : x < y;
}

int scrim_video_match(scrim_store *s, const scrim_vpdq *query,
                      const scrim_vmatch_opts *opts, json_t **out, char *err,
                      size_t errlen)
{
    scrim_vmatch_opts o;
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    scrim_pdq *qh = malloc((query->count ? query->count : 1) * sizeof *qh);
    double *secs = malloc((query->count ? query->count : 1) * sizeof *secs);
    group *g = NULL;
    size_t nq = 0, ng = 0, nv = 0;
    json_t *matches = json_array(), *allowed = json_array();
    json_t **videos = NULL;
    int rc = SCRIM_OK;

    if (opts)
        o = *opts;
    else
        scrim_vmatch_opts_default(&o);
    *out = NULL;
    if (!qh || !secs || !matches || !allowed) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    /* Flat frames are near too many others to be evidence. */
    for (size_t i = 0; i < query->count; i++)
        if (query->frames[i].quality >= o.min_quality) {
            qh[nq] = query->frames[i].pdq;
            secs[nq++] = query->frames[i].seconds;
        }
    lo.radius = o.radius;
    if (nq && (rc = scrim_store_lookup_pdq(s, qh, nq, &lo, &m, err, errlen)))
        goto done;
    if (!(g = group_hits(&m, secs, &ng))) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    qsort(g, ng, sizeof *g, group_cmp);
    videos = calloc(ng ? ng : 1, sizeof *videos);
    if (!videos) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < ng; i++) {
        json_t *arr = g[i].m->kind == SCRIM_LIST_ALLOW ? allowed : matches;
        if (g[i].m->type == SCRIM_HASH_VIDEO) {
            json_t *v;
            if (!g[i].m->id)
                continue; /* the store requires ids; be safe */
            if ((rc = video_entry_match(s, query, g[i].m, &o, &v, err, errlen)))
                goto done;
            if (v) {
                json_object_set_new(v, "kind", json_string(g[i].m->kind == SCRIM_LIST_ALLOW ? "allow" : "block"));
                videos[nv++] = v;
            }
            continue;
        }
        json_t *j = scrim_match_json(g[i].m);
        if (!j) {
            rc = SCRIM_ENOMEM;
            goto done;
        }
        json_object_set(j, "timestamps", g[i].times);
        json_array_append_new(arr, j);
    }
    /* Video matches first, best query match first. */
    qsort(videos, nv, sizeof *videos, pct_cmp);
    for (size_t i = nv; i-- > 0;) {
        const char *kind = json_string_value(json_object_get(videos[i], "kind"));
        json_t *arr = kind && !strcmp(kind, "allow") ? allowed : matches;
        json_object_del(videos[i], "kind");
        json_array_insert_new(arr, 0, videos[i]);
        videos[i] = NULL;
    }
    *out = json_pack("{s:b, s:O, s:O}", "matched", json_array_size(matches) > 0,
                     "matches", matches, "allowed", allowed);
    if (!*out)
        rc = SCRIM_ENOMEM;
done:
    if (rc == SCRIM_ENOMEM)
        scrim__seterr(err, errlen, "out of memory");
    for (size_t i = 0; videos && i < nv; i++)
        json_decref(videos[i]);
    free(videos);
    for (size_t i = 0; g && i < ng; i++)
        json_decref(g[i].times);
    free(g);
    json_decref(matches);
    json_decref(allowed);
    scrim_matches_free(&m);
    free(qh);
    free(secs);
    return rc;
}

int scrim_image_match(scrim_store *s, const scrim_image_hashes *h,
                      const scrim_vmatch_opts *opts, json_t **out, char *err,
                      size_t errlen)
{
    scrim_vmatch_opts o;
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    json_t *matches = json_array(), *allowed = json_array();
    group *g = NULL;
    size_t ng = 0;
    int rc = SCRIM_OK;

    if (opts)
        o = *opts;
    else
        scrim_vmatch_opts_default(&o);
    *out = NULL;
    lo.radius = o.radius;
    if (h->quality >= o.min_quality &&
        (rc = scrim_store_lookup_pdq(s, h->dihedral, o.dihedral ? SCRIM_DIH_COUNT : 1,
                                     &lo, &m, err, errlen)))
        goto done;
    lo.radius = -1;
    if ((rc = scrim_store_lookup_digest(s, SCRIM_HASH_MD5, h->md5, &lo, &m, err, errlen)) ||
        (rc = scrim_store_lookup_digest(s, SCRIM_HASH_SHA256, h->sha256, &lo, &m, err, errlen)))
        goto done;
    if (!(g = group_hits(&m, NULL, &ng)) || !matches || !allowed) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    qsort(g, ng, sizeof *g, group_cmp);
    for (size_t i = 0; i < ng; i++) {
        json_t *j = scrim_match_json(g[i].m);
        if (!j) {
            rc = SCRIM_ENOMEM;
            goto done;
        }
        if (g[i].m->type == SCRIM_HASH_VIDEO) {
            /* an image seen as a frame of a known video */
            json_object_set_new(j, "id", json_string(g[i].m->id ? g[i].m->id : ""));
        }
        json_array_append_new(g[i].m->kind == SCRIM_LIST_ALLOW ? allowed : matches, j);
    }
    *out = json_pack("{s:b, s:O, s:O}", "matched", json_array_size(matches) > 0,
                     "matches", matches, "allowed", allowed);
    if (!*out)
        rc = SCRIM_ENOMEM;
done:
    if (rc == SCRIM_ENOMEM)
        scrim__seterr(err, errlen, "out of memory");
    free(g);
    json_decref(matches);
    json_decref(allowed);
    scrim_matches_free(&m);
    return rc;
}
