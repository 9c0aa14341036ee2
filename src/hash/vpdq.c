/* vpdq.c - a video's vPDQ hash as data: growth, the reference's text format,
 * JSON, and the brute-force video-to-video measure. */
#include "scrim.h"
#include "base/base.h"
#include "hash/hash.h"
#include "decode/decode.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void scrim_vpdq_free(scrim_vpdq *v)
{
    if (!v)
        return;
    free(v->frames);
    free(v->inner);
    memset(v, 0, sizeof *v);
}

int scrim_vpdq_append(scrim_vpdq *v, const scrim_vframe *f)
{
    if (scrim__grow(&v->frames, &v->cap, v->count, sizeof *v->frames, 64))
        return SCRIM_ENOMEM;
    v->frames[v->count++] = *f;
    return SCRIM_OK;
}

/* ---- text format ----------------------------------------------------------- */

/* Parse one non-blank line "FRAME,QUALITY,HASH,SECONDS"; 0 or a message. */
static const char *parse_line(const char *s, size_t n, scrim_vframe *f)
{
    char buf[256];
    if (n >= sizeof buf)
        return "line too long";
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *field[4], *p = buf;
    int k = 0;
    for (; k < 4; k++) {
        field[k] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    if (k != 3)
        return k < 3 ? "expected 4 comma-separated fields FRAME,QUALITY,HASH,SECONDS"
                     : "more than 4 fields";
    char *end;
    errno = 0;
    long fr = strtol(field[0], &end, 10);
    if (!*field[0] || *end || errno || fr < 0 || fr > 100000000)
        return "FRAME is not a frame number";
    long q = strtol(field[1], &end, 10);
    if (!*field[1] || *end || errno || q < 0 || q > 100)
        return "QUALITY is not an integer from 0 to 100";
    if (scrim_pdq_from_hex(field[2], strlen(field[2]), &f->pdq))
        return "HASH is not 64 hex digits";
    double sec = strtod(field[3], &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (!*field[3] || *end || errno || !isfinite(sec) || sec < 0)
        return "SECONDS is not a non-negative number";
    f->frame_number = (int)fr;
    f->quality = (int)q;
    f->seconds = sec;
    return NULL;
}

int scrim_vpdq_parse(const char *text, size_t len, scrim_vpdq *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t line = 0, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        size_t n = j - i;
        const char *s = text + i;
        line++;
        i = j + 1;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        if (!n || *s == '#')
            continue;
        scrim_vframe f;
        const char *why = parse_line(s, n, &f);
        if (why) {
            scrim__seterr(err, errlen, "line %zu: %s", line, why);
            scrim_vpdq_free(out);
            return SCRIM_EINVAL;
        }
        if (out->count && f.frame_number <= out->frames[out->count - 1].frame_number) {
            scrim__seterr(err, errlen, "line %zu: frame %d does not follow frame %d",
                          line, f.frame_number,
                          out->frames[out->count - 1].frame_number);
            scrim_vpdq_free(out);
            return SCRIM_EINVAL;
        }
        if (scrim_vpdq_append(out, &f)) {
            scrim__seterr(err, errlen, "out of memory");
            scrim_vpdq_free(out);
            return SCRIM_ENOMEM;
        }
    }
    if (!out->count) {
        scrim__seterr(err, errlen, "no vPDQ frame lines");
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}

int scrim_vpdq_load_file(const char *path, scrim_vpdq *out, char *err,
                         size_t errlen)
{
    uint8_t *data;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = scrim_read_file(path, (size_t)256 << 20, &data, &len, err, errlen);
    if (rc)
        return rc;
    rc = scrim_vpdq_parse((const char *)data, len, out, err, errlen);
    free(data);
    return rc;
}

int scrim_vpdq_sniff(const void *buf, size_t len)
{
    const char *s = buf, *e = s + len;
    while (s < e) {
        const char *nl = memchr(s, '\n', (size_t)(e - s));
        size_t n = (size_t)((nl ? nl : e) - s);
        while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++, n--;
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
            n--;
        if (n && *s != '#') {
            scrim_vframe f;
            return parse_line(s, n, &f) == NULL;
        }
        if (!nl)
            break;
        s = nl + 1;
    }
    return 0;
}

int scrim_vpdq_write(FILE *f, const scrim_vpdq *v)
{
    char hx[SCRIM_PDQ_HEXLEN + 1];
    for (size_t i = 0; i < v->count; i++) {
        const scrim_vframe *fr = &v->frames[i];
        scrim_pdq_to_hex(&fr->pdq, hx);
        if (fprintf(f, "%d,%d,%s,%.3f\n", fr->frame_number, fr->quality, hx,
                    fr->seconds) < 0)
            return SCRIM_EIO;
    }
    return ferror(f) ? SCRIM_EIO : SCRIM_OK;
}

/* Seconds rounded to milliseconds, as the text format has them. */
static double ms(double s)
{
    return round(s * 1000.0) / 1000.0;
}

json_t *scrim_vpdq_json(const scrim_vpdq *v)
{
    json_t *o = json_object(), *fr = json_array();
    char hx[SCRIM_PDQ_HEXLEN + 1];
    json_object_set_new(o, "kind", json_string("video"));
    if (v->format[0])
        json_object_set_new(o, "format", json_string(v->format));
    if (v->codec[0])
        json_object_set_new(o, "codec", json_string(v->codec));
    json_object_set_new(o, "width", json_integer(v->width));
    json_object_set_new(o, "height", json_integer(v->height));
    json_object_set_new(o, "fps", json_real(round(v->fps * 1000.0) / 1000.0));
    json_object_set_new(o, "duration", json_real(ms(v->duration)));
    json_object_set_new(o, "frames_decoded", json_integer(v->frames_decoded));
    json_object_set_new(o, "corrupt_packets", json_integer(v->corrupt_packets));
    for (size_t i = 0; i < v->count; i++) {
        scrim_pdq_to_hex(&v->frames[i].pdq, hx);
        json_array_append_new(
            fr, json_pack("{s:i, s:i, s:s, s:f}", "frame",
                          v->frames[i].frame_number, "quality",
                          v->frames[i].quality, "hash", hx, "seconds",
                          ms(v->frames[i].seconds)));
    }
    json_object_set_new(o, "frames", fr);
    return o;
}

/* ---- comparison ------------------------------------------------------------------ */

static int pdq_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(scrim_pdq));
}

/* The frames vPDQ's matcher keeps: first occurrence of each hash, then
 * quality >= min_quality.  Returns a malloc'd array (maybe of 0 hashes). */
static scrim_pdq *vpdq_filtered(const scrim_vpdq *v, int min_quality, size_t *n)
{
    *n = 0;
    scrim_pdq *seen = malloc((v->count ? v->count : 1) * sizeof *seen);
    scrim_pdq *keep = malloc((v->count ? v->count : 1) * sizeof *keep);
    if (!seen || !keep) {
        free(seen);
        free(keep);
        return NULL;
    }
    /* Dedupe on all frames before the quality filter, as the reference does:
     * a hash first seen at low quality and later at high quality is dropped. */
    for (size_t i = 0; i < v->count; i++)
        seen[i] = v->frames[i].pdq;
    qsort(seen, v->count, sizeof *seen, pdq_cmp);
    /* Marks which hashes were already taken, by index into sorted `seen`. */
    unsigned char *taken = calloc(v->count ? v->count : 1, 1);
    if (!taken) {
        free(seen);
        free(keep);
        return NULL;
    }
    for (size_t i = 0; i < v->count; i++) {
        const scrim_vframe *f = &v->frames[i];
        scrim_pdq *hit = bsearch(&f->pdq, seen, v->count, sizeof *seen, pdq_cmp);
        /* bsearch may land on any of several equal entries: go to the first. */
        while (hit > seen && !pdq_cmp(hit - 1, &f->pdq))
            hit--;
        size_t k = (size_t)(hit - seen);
        if (taken[k])
            continue;
        taken[k] = 1;
        if (f->quality >= min_quality)
            keep[(*n)++] = f->pdq;
    }
    free(taken);
    free(seen);
    return keep;
}

/* How many of a's hashes lie within max_distance of one of b's: na x nb
 * distances at worst (about 1.5 ns each with POPCNT).  The deadline is
 * looked at every 64 rows of a (64 x nb distances: a millisecond at 10,000
 * frames); -1 once past it. */
__attribute__((target_clones("popcnt", "default")))
static long count_matched(const scrim_pdq *a, size_t na, const scrim_pdq *b,
                          size_t nb, int max_distance, double deadline)
{
    long hits = 0;
    for (size_t i = 0; i < na; i++) {
        if (deadline > 0 && !(i & 63) && scrim_now() > deadline)
            return -1;
        uint64_t x[4];
        memcpy(x, a[i].w, sizeof x);
        for (size_t j = 0; j < nb; j++) {
            uint64_t y[4];
            memcpy(y, b[j].w, sizeof y);
            int d = __builtin_popcountll(x[0] ^ y[0]) +
                    __builtin_popcountll(x[1] ^ y[1]) +
                    __builtin_popcountll(x[2] ^ y[2]) +
                    __builtin_popcountll(x[3] ^ y[3]);
            if (d <= max_distance) {
                hits++;
                break;
            }
        }
    }
    return hits;
}

int scrim_vpdq_compare(const scrim_vpdq *query, const scrim_vpdq *compared,
                        int min_quality, int max_distance,
                        double *query_percent, double *compared_percent)
{
    return scrim_vpdq_compare_until(query, compared, min_quality, max_distance,
                                    0, query_percent, compared_percent);
}

int scrim_vpdq_compare_until(const scrim_vpdq *query, const scrim_vpdq *compared,
                             int min_quality, int max_distance, double deadline,
                             double *query_percent, double *compared_percent)
{
    size_t nq, nc;
    scrim_pdq *q = vpdq_filtered(query, min_quality, &nq);
    scrim_pdq *c = vpdq_filtered(compared, min_quality, &nc);
    double qp = 0, cp = 0;
    int rc = q && c ? SCRIM_OK : SCRIM_ENOMEM;
    if (q && c && nq && nc) {
        long hq = count_matched(q, nq, c, nc, max_distance, deadline);
        long hc = hq < 0 ? -1 : count_matched(c, nc, q, nq, max_distance, deadline);
        if (hq < 0 || hc < 0)
            rc = SCRIM_ETIMEOUT;
        qp = 100.0 * (double)hq / (double)nq;
        cp = 100.0 * (double)hc / (double)nc;
    }
    free(q);
    free(c);
    if (rc)
        qp = cp = 0;
    if (query_percent)
        *query_percent = qp;
    if (compared_percent)
        *compared_percent = cp;
    return rc;
}
