/* match.c - the one matcher: what an upload's hashes match in the lists.
 * `scrim match` and scrimd's /v1/match both call it, so the two answer the
 * same JSON for the same upload.
 *
 * An image is looked up by its PDQ (and the 7 other dihedral variants) within
 * each list's radius and by its MD5 and SHA-256 exactly; a video by the PDQ
 * of its sampled frames and its file digests.  Hits are grouped by list
 * entry, so an entry reached by several variants or frames is reported once,
 * at its nearest distance; a video entry is reported when vPDQ's measure
 * reaches the thresholds.  Hits in allow lists go to "allowed", and so do
 * a block list's when the upload also hit its suppression list
 * (NAME.suppressed: uploads reviewers rejected as NAME's matches). */
#include "scrim.h"
#include "base/base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void scrim_vmatch_opts_default(scrim_vmatch_opts *o)
{
    o->min_quality = SCRIM_VPDQ_MIN_QUALITY;
    o->radius = -1;
    o->query_percent = SCRIM_VPDQ_QUERY_PERCENT;
    o->compared_percent = SCRIM_VPDQ_COMPARED_PERCENT;
    o->dihedral = 1;
    o->regions = 1;
    o->lists = NULL;
    o->nlists = 0;
}

/* A reported entry: an image (or digest) hit with the query frames' times,
 * or a video entry that is a candidate for the vPDQ measure. */
typedef struct group {
    const scrim_match *m;   /* nearest hit (its strings live in the matches) */
    int by_pdq;             /* m came from the PDQ lookup (not a digest) */
    json_t *times;          /* seconds of the query frames that hit it */
    double last;
} group;

/* One entry of one list: a video's frames, the same hash, or a platform's
 * own image and the index-side variants stored with it (same id). */
static int same_entry(const scrim_match *x, const scrim_match *m)
{
    if (x->type != m->type || strcmp(x->list, m->list))
        return 0;
    if (m->type == SCRIM_HASH_VIDEO)
        return x->entry == m->entry;
    if ((x->variant || m->variant) && x->id && m->id && !strcmp(x->id, m->id))
        return 1;
    return !strcmp(x->hash, m->hash);
}

static int group_find(group *g, size_t n, const scrim_match *m)
{
    for (size_t i = 0; i < n; i++)
        if (same_entry(g[i].m, m))
            return (int)i;
    return -1;
}

static double round3(double x)
{
    return round(x * 1000.0) / 1000.0;
}

/* Hits grouped by entry; the first n_pdq hits come from the PDQ lookup, the
 * rest from digests.  `secs` maps a PDQ query index to seconds (NULL: no
 * timestamps, for images).  Returns a malloc'd array of *n groups. */
static group *group_hits(const scrim_matches *m, size_t n_pdq,
                         const double *secs, size_t *n)
{
    group *g = calloc(m->n ? m->n : 1, sizeof *g);
    *n = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const scrim_match *h = &m->v[i];
        int k = group_find(g, *n, h);
        int pdq = i < n_pdq;
        if (k < 0) {
            k = (int)(*n)++;
            g[k].m = h;
            g[k].by_pdq = pdq;
            g[k].times = secs ? json_array() : NULL;
            g[k].last = -1;
        } else if (h->distance < g[k].m->distance) {
            g[k].m = h;
            g[k].by_pdq = pdq;
        }
        if (secs && pdq && secs[h->query] != g[k].last) {
            /* queries come in frame order, so times stay sorted */
            json_array_append_new(g[k].times, json_real(round3(secs[h->query])));
            g[k].last = secs[h->query];
        }
    }
    return g;
}

/* The allow list that suppresses block list `list` for this upload: its
 * NAME.suppressed list among the hits (see SCRIM_SUPPRESS_SUFFIX), or NULL. */
static const char *suppressed_by(const group *g, size_t ng, const char *list)
{
    size_t ln = strlen(list), sl = strlen(SCRIM_SUPPRESS_SUFFIX);
    for (size_t i = 0; i < ng; i++) {
        const char *a = g[i].m->list;
        if (g[i].m->kind == SCRIM_LIST_ALLOW && strlen(a) == ln + sl &&
            !strncmp(a, list, ln) && !strcmp(a + ln, SCRIM_SUPPRESS_SUFFIX))
            return a;
    }
    return NULL;
}

/* A block hit's JSON and where it goes: "allowed" (marked) when the upload
 * hit the list's suppression list too. */
static json_t *place(json_t *j, const group *g, size_t ng, const group *h,
                     json_t *matches, json_t *allowed)
{
    if (h->m->kind == SCRIM_LIST_ALLOW)
        return allowed;
    const char *by = suppressed_by(g, ng, h->m->list);
    if (!by)
        return matches;
    json_object_set_new(j, "suppressed_by", json_string(by));
    return allowed;
}

/* Lists named in o (a limited lookup) with the suppression lists of those
 * that have one: into *names (malloc'd pointers, strings in *buf).  0, or
 * SCRIM_ENOMEM. */
static int with_suppression(scrim_store *s, const scrim_vmatch_opts *o,
                            const char ***names, size_t *n, char **buf)
{
    *names = NULL;
    *buf = NULL;
    *n = 0;
    if (!o->nlists)
        return 0;
    const char **v = calloc(2 * o->nlists, sizeof *v);
    char *b = calloc(o->nlists, SCRIM_LIST_NAME_MAX + 1);
    if (!v || !b) {
        free(v);
        free(b);
        return SCRIM_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < o->nlists; i++)
        v[k++] = o->lists[i];
    for (size_t i = 0; i < o->nlists; i++) {
        char *name = b + i * (SCRIM_LIST_NAME_MAX + 1);
        scrim_list_info li;
        int len = snprintf(name, SCRIM_LIST_NAME_MAX + 1, "%s" SCRIM_SUPPRESS_SUFFIX,
                           o->lists[i]);
        if (len > SCRIM_LIST_NAME_MAX ||
            scrim_store_list_get(s, name, &li, NULL, 0))
            continue;
        size_t j;
        for (j = 0; j < k && strcmp(v[j], name); j++)
            ;
        if (j == k)
            v[k++] = name;
    }
    *names = v;
    *n = k;
    *buf = b;
    return 0;
}

static int group_cmp(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->m->distance != y->m->distance)
        return x->m->distance < y->m->distance ? -1 : 1;
    int c = strcmp(x->m->list, y->m->list);
    return c ? c : strcmp(x->m->hash, y->m->hash);
}

int scrim_whole_radius(int quality, int min_quality, int radius)
{
    if (quality >= min_quality)
        return radius;
    int low = min_quality / 5 > 1 ? min_quality / 5 : 1;
    return quality >= low ? radius : -1;
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
        /* what the list's source said of it (its frames carry it) */
        json_t *mj = *obj ? scrim_match_json(m) : NULL;
        static const char *const keys[] = {"source", "category", "tags"};
        for (int k = 0; k < 3 && mj; k++)
            if (json_object_get(mj, keys[k]))
                json_object_set(*obj, keys[k], json_object_get(mj, keys[k]));
        json_decref(mj);
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

/* The exact file: its MD5 and SHA-256 (either may be NULL or empty),
 * appended to m. */
static int lookup_digests(scrim_store *s, const char *md5, const char *sha256,
                          const scrim_vmatch_opts *o, scrim_matches *m,
                          char *err, size_t errlen)
{
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    int rc = SCRIM_OK;
    lo.radius = -1;
    lo.lists = o->lists;
    lo.nlists = o->nlists;
    if (md5 && *md5)
        rc = scrim_store_lookup_digest(s, SCRIM_HASH_MD5, md5, &lo, m, err,
                                       errlen);
    if (!rc && sha256 && *sha256)
        rc = scrim_store_lookup_digest(s, SCRIM_HASH_SHA256, sha256, &lo, m,
                                       err, errlen);
    return rc;
}

/* The JSON of an entry reached by hashes (not by vPDQ's measure): the
 * nearest hit; for an image, the dihedral variant that reached it when it
 * is not the upload as it is, and the region (a picture found inside the
 * upload) when not the whole; for a video, the times of the frames.
 * which[q] tells an image's PDQ query q: region (-1 for the whole upload)
 * * SCRIM_DIH_COUNT + variant. */
static json_t *group_json(const group *g, const scrim_image_hashes *h,
                          const int *which)
{
    json_t *j = scrim_match_json(g->m);
    if (!j)
        return NULL;
    if (g->m->type == SCRIM_HASH_VIDEO && !g->m->id)
        json_object_set_new(j, "id", json_string(""));
    if (h && g->by_pdq) {
        int w = which[g->m->query] + SCRIM_DIH_COUNT;
        int r = w / SCRIM_DIH_COUNT - 1, v = w % SCRIM_DIH_COUNT;
        if (v > 0)
            json_object_set_new(j, "variant",
                                json_string(scrim_dihedral_name(v)));
        if (r >= 0)
            json_object_set_new(j, "region", scrim_region_json(&h->region[r]));
    }
    if (g->times)
        json_object_set(j, "timestamps", g->times);
    return j;
}

static json_t *result_json(json_t *matches, json_t *allowed)
{
    return json_pack("{s:b, s:O, s:O}", "matched", json_array_size(matches) > 0,
                     "matches", matches, "allowed", allowed);
}

static int match_frames(scrim_store *s, const scrim_vpdq *query,
                        const char *md5, const char *sha256,
                        const scrim_vmatch_opts *opts, json_t **out, char *err,
                        size_t errlen)
{
    scrim_vmatch_opts o;
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    scrim_pdq *qh = malloc((query->count ? query->count : 1) * sizeof *qh);
    double *secs = malloc((query->count ? query->count : 1) * sizeof *secs);
    group *g = NULL;
    size_t nq = 0, ng = 0, nv = 0, n_pdq;
    json_t *matches = json_array(), *allowed = json_array();
    json_t **videos = NULL;
    int rc = SCRIM_OK;
    const char **sl = NULL;
    size_t nsl = 0;
    char *slbuf = NULL;

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
    if ((rc = with_suppression(s, &o, &sl, &nsl, &slbuf)))
        goto done;
    if (nsl) {
        o.lists = sl;
        o.nlists = nsl;
    }
    lo.radius = o.radius;
    lo.lists = o.lists;
    lo.nlists = o.nlists;
    if (nq && (rc = scrim_store_lookup_pdq(s, qh, nq, &lo, &m, err, errlen)))
        goto done;
    n_pdq = m.n;
    if ((rc = lookup_digests(s, md5, sha256, &o, &m, err, errlen)))
        goto done;
    if (!(g = group_hits(&m, n_pdq, secs, &ng))) {
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
        if (g[i].m->type == SCRIM_HASH_VIDEO) {
            json_t *v;
            if (!g[i].m->id)
                continue; /* the store requires ids; be safe */
            if ((rc = video_entry_match(s, query, g[i].m, &o, &v, err, errlen)))
                goto done;
            if (v) {
                json_t *to = place(v, g, ng, &g[i], matches, allowed);
                json_object_set_new(v, "kind", json_string(to == allowed ? "allow" : "block"));
                videos[nv++] = v;
            }
            continue;
        }
        json_t *j = group_json(&g[i], NULL, NULL);
        if (!j) {
            rc = SCRIM_ENOMEM;
            goto done;
        }
        json_array_append_new(place(j, g, ng, &g[i], matches, allowed), j);
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
    if (!(*out = result_json(matches, allowed)))
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
    free(sl);
    free(slbuf);
    return rc;
}

/* The key of a match for merging two answers: list, type, id or hash. */
static void match_key(json_t *m, char *key, size_t n)
{
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *hash = json_string_value(json_object_get(m, "hash"));
    snprintf(key, n, "%s/%s/%s",
             json_string_value(json_object_get(m, "list")), type ? type : "",
             type && !strcmp(type, "video") ? (id ? id : "")
                                             : (hash ? hash : ""));
}

static double match_score(json_t *m)
{
    json_t *p = json_object_get(m, "query_match_percent");
    return p ? json_real_value(p) : 100.0 - json_integer_value(json_object_get(m, "distance"));
}

/* Merge the answer for the frames inside the bars into the whole frames'
 * answer: an entry found only there, or better there, comes with "framing"
 * (the picture's rectangle). */
static void merge_inner(json_t *whole, json_t *inner, json_t *framing)
{
    const char *arrays[2] = {"matches", "allowed"};
    for (int a = 0; a < 2; a++) {
        json_t *dst = json_object_get(whole, arrays[a]);
        json_t *src = json_object_get(inner, arrays[a]);
        size_t i;
        json_t *m;
        json_array_foreach(src, i, m) {
            char key[256], k2[256];
            match_key(m, key, sizeof key);
            size_t j, at = (size_t)-1;
            json_t *x;
            json_array_foreach(dst, j, x) {
                match_key(x, k2, sizeof k2);
                if (!strcmp(key, k2))
                    at = j;
            }
            if (at != (size_t)-1 &&
                match_score(json_array_get(dst, at)) >= match_score(m))
                continue;
            json_object_set(m, "framing", framing);
            if (at != (size_t)-1)
                json_array_set(dst, at, m);
            else
                json_array_append(dst, m);
        }
    }
    json_object_set_new(whole, "matched",
                        json_boolean(json_array_size(json_object_get(whole, "matches"))));
}

int scrim_video_match(scrim_store *s, const scrim_vpdq *query, const char *md5,
                      const char *sha256, const scrim_vmatch_opts *opts,
                      json_t **out, char *err, size_t errlen)
{
    int rc = match_frames(s, query, md5, sha256, opts, out, err, errlen);
    if (rc || !query->inner_count)
        return rc;
    scrim_vpdq in = *query;
    json_t *j;
    in.frames = query->inner;
    in.count = query->inner_count;
    if ((rc = match_frames(s, &in, NULL, NULL, opts, &j, err, errlen))) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    json_t *framing = json_pack("{s:i, s:i, s:i, s:i}", "x", query->inner_x,
                                "y", query->inner_y, "w", query->inner_w, "h",
                                query->inner_h);
    merge_inner(*out, j, framing);
    json_decref(framing);
    json_decref(j);
    return SCRIM_OK;
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
    size_t ng = 0, n_pdq, nq = 0;
    int rc = SCRIM_OK, stride;
    const char **sl = NULL;
    size_t nsl = 0;
    char *slbuf = NULL;
    scrim_pdq q[(1 + SCRIM_REGIONS_MAX) * SCRIM_DIH_COUNT];
    int which[(1 + SCRIM_REGIONS_MAX) * SCRIM_DIH_COUNT];

    if (opts)
        o = *opts;
    else
        scrim_vmatch_opts_default(&o);
    *out = NULL;
    if ((rc = with_suppression(s, &o, &sl, &nsl, &slbuf)))
        goto done;
    if (nsl) {
        o.lists = sl;
        o.nlists = nsl;
    }
    lo.radius = o.radius;
    lo.lists = o.lists;
    lo.nlists = o.nlists;
    stride = o.dihedral ? SCRIM_DIH_COUNT : 1;
    /* A low-quality hash (flat or tiny image) is near too many others to
     * be evidence; it is still reported by the caller, just not matched.
     * Each region keeps the floor; the upload's own hash is looked up
     * below it, down to a fifth of it (scrim_whole_radius), so that no
     * copy plain PDQ finds is lost. */
    int nregions = o.regions ? h->nregions : 0;
    for (int r = -1; r < nregions && r < SCRIM_REGIONS_MAX; r++) {
        const scrim_pdq *d = r < 0 ? h->dihedral : h->region[r].dihedral;
        if (r < 0 ? scrim_whole_radius(h->quality, o.min_quality, 0) < 0
                  : h->region[r].quality < o.min_quality)
            continue;
        for (int v = 0; v < stride; v++) {
            q[nq] = d[v];
            which[nq++] = r * SCRIM_DIH_COUNT + v;
        }
    }
    if (nq && (rc = scrim_store_lookup_pdq(s, q, nq, &lo, &m, err, errlen)))
        goto done;
    n_pdq = m.n;
    if ((rc = lookup_digests(s, h->md5, h->sha256, &o, &m, err, errlen)))
        goto done;
    if (!(g = group_hits(&m, n_pdq, NULL, &ng)) || !matches || !allowed) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    qsort(g, ng, sizeof *g, group_cmp);
    for (size_t i = 0; i < ng; i++) {
        json_t *j = group_json(&g[i], h, which);
        if (!j) {
            rc = SCRIM_ENOMEM;
            goto done;
        }
        json_array_append_new(place(j, g, ng, &g[i], matches, allowed), j);
    }
    if (!(*out = result_json(matches, allowed)))
        rc = SCRIM_ENOMEM;
done:
    if (rc == SCRIM_ENOMEM)
        scrim__seterr(err, errlen, "out of memory");
    free(g);
    json_decref(matches);
    json_decref(allowed);
    scrim_matches_free(&m);
    free(sl);
    free(slbuf);
    return rc;
}
