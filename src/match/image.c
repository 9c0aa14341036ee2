/* server_match.c - the match step for images: the PDQ (and, by default, its
 * 7 other dihedral variants) within each enabled list's radius, MD5 and
 * SHA-256 exactly; one entry reported once, nearest first, allow-list hits
 * apart.  Runs on a worker; the store is safe to share between threads. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

typedef struct hit {
    const scrim_match *m;
    size_t order;
} hit;

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->m->distance != y->m->distance)
        return x->m->distance < y->m->distance ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Same entry of the same list (reached through another variant, or both by
 * digest and PDQ)? */
static int same_entry(const scrim_match *a, const scrim_match *b)
{
    return a->type == b->type && !strcmp(a->list, b->list) &&
           !strcmp(a->hash, b->hash);
}

int scrim__image_match(const scrim_upload *up, const scrim_query_opts *o,
                       struct scrim_store *store, scrim_match_result *res,
                       char *err, size_t errlen)
{
    scrim_matches m = {0};
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    size_t n_pdq = 0;
    hit *hits = NULL;
    int rc = SCRIM_OK;

    lo.radius = o->radius;
    /* A low-quality hash (flat or tiny image) is near too many others to
     * be evidence; it is still returned, just not matched. */
    if (up->image.quality >= o->min_quality) {
        rc = scrim_store_lookup_pdq(store, up->image.dihedral,
                                    o->dihedral ? SCRIM_DIH_COUNT : 1, &lo, &m,
                                    err, errlen);
        if (rc)
            goto out;
    }
    n_pdq = m.n;
    lo.radius = -1;
    if ((rc = scrim_store_lookup_digest(store, SCRIM_HASH_MD5, up->md5, &lo,
                                        &m, err, errlen)) ||
        (rc = scrim_store_lookup_digest(store, SCRIM_HASH_SHA256, up->sha256,
                                        &lo, &m, err, errlen)))
        goto out;

    hits = malloc((m.n ? m.n : 1) * sizeof *hits);
    if (!hits) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m.n; i++)
        hits[i] = (hit){&m.v[i], i};
    qsort(hits, m.n, sizeof *hits, hit_cmp);
    for (size_t i = 0; i < m.n; i++) {
        const scrim_match *h = hits[i].m;
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++)
            dup = same_entry(hits[k].m, h);
        if (dup)
            continue;   /* a nearer variant already reported it */
        json_t *j = scrim_match_json(h);
        if (!j)
            continue;
        size_t idx = (size_t)(h - m.v);
        if (idx < n_pdq && h->query > 0)
            json_object_set_new(j, "variant",
                                json_string(scrim_dihedral_name((int)h->query)));
        if (h->kind == SCRIM_LIST_ALLOW) {
            json_array_append_new(res->allowed, j);
        } else {
            json_array_append_new(res->matches, j);
            res->matched = 1;
        }
    }
out:
    free(hits);
    scrim_matches_free(&m);
    return rc;
}
