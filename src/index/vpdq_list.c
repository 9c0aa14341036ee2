/* vpdq_list.c - video entries of lists in vPDQ's text: import (one file
 * per video, or "# video: ID" sections) and the store's export hook. */
#include "scrim.h"
#include "base/base.h"
#include "index/index.h"

#include <stdlib.h>
#include <string.h>

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

