/* text.c - the text formats of hash lists (hex, pytx, csv, md5, sha256,
 * auto-detected), parsed line by line from a stream or a buffer, so that
 * memory stays constant however long the input is. */
#include "index/index.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const format_names[] = {"auto", "hex", "pytx", "csv",
                                           "md5", "sha256"};

const char *scrim_import_format_name(int format)
{
    return format >= 0 && format <= SCRIM_FORMAT_SHA256 ? format_names[format]
                                                         : "unknown";
}

int scrim_import_format_parse(const char *s)
{
    for (int i = 0; s && i <= SCRIM_FORMAT_SHA256; i++)
        if (!strcasecmp(s, format_names[i]))
            return i;
    return SCRIM_EINVAL;
}

/* ---- lines ---------------------------------------------------------------- */

typedef struct reader {
    FILE *f;
    const char *buf;
    size_t len, pos;
    char *line;
    size_t cap;
    uint64_t bytes, lineno;
} reader;

/* Next line without its end-of-line; -1 at the end, -2 out of memory,
 * -3 a NUL byte inside the line. */
static ssize_t next_line(reader *r, char **out)
{
    ssize_t n;
    if (r->f) {
        n = getline(&r->line, &r->cap, r->f);
        if (n < 0)
            return -1;
    } else {
        if (r->pos >= r->len)
            return -1;
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t l = nl ? (size_t)(nl - s) + 1 : r->len - r->pos;
        if (l + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 256;
            while (cap < l + 1)
                cap *= 2;
            char *nb = realloc(r->line, cap);
            if (!nb)
                return -2;
            r->line = nb;
            r->cap = cap;
        }
        memcpy(r->line, s, l);
        r->line[l] = '\0';
        r->pos += l;
        n = (ssize_t)l;
    }
    r->bytes += (uint64_t)n;
    r->lineno++;
    if (memchr(r->line, '\0', (size_t)n))
        return -3;
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
        r->line[--n] = '\0';
    *out = r->line;
    return n;
}

/* ---- fields ---------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Parse a hash of `type` (0: by length, 64 -> PDQ, 32 -> MD5). */
static int parse_hash(int *type, const char *s, uint8_t *out, char *msg,
                      size_t msglen)
{
    size_t n = strlen(s);
    if (*type == 0)
        *type = n == 32 ? SCRIM_HASH_MD5 : SCRIM_HASH_PDQ;
    size_t want = *type == SCRIM_HASH_MD5 ? 32 : 64;
    if (n != want || !all_hex(s, n)) {
        snprintf(msg, msglen, "expected a %s of %zu hex digits, got '%.80s'",
                 scrim_hash_type_name(*type), want, s);
        return -1;
    }
    if (*type == SCRIM_HASH_PDQ)
        return scrim_pdq_from_hex(s, n, (scrim_pdq *)(void *)out) ? -1 : 0;
    return scrim__hex_decode(s, n, out);
}

/* Split a CSV line in place (RFC 4180 quoting, one line only). Returns the
 * number of fields or -1 for an unterminated quote. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *start = p, *w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            while (*p && *p != ',')
                p++; /* text after the closing quote is ignored */
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        int last = *p == '\0';
        *w = '\0';
        if (n < max)
            fields[n] = start;
        n++;
        if (last)
            break;
        p++;
    }
    return n;
}

/* ---- the formats ----------------------------------------------------------- */

enum { COL_HASH, COL_TYPE, COL_ID, COL_LABEL, COL_QUALITY, COL_VARIANT, NCOLS };
static const char *const col_names[NCOLS] = {"hash", "type", "id", "label",
                                             "quality", "variant"};
#define CSV_MAX_FIELDS 256

typedef struct parser {
    int format;
    int col[NCOLS];       /* csv: field index of each column, -1 absent */
    int have_header;
    char msg[256];
} parser;

static int detect(parser *ps, char *line)
{
    char *sp = line + strcspn(line, " \t");
    size_t tl = (size_t)(sp - line);
    if (*sp && (tl == 3 || tl == 6) &&
        (!strncasecmp(line, "pdq", tl) || !strncasecmp(line, "md5", tl) ||
         !strncasecmp(line, "sha256", tl)))
        ps->format = SCRIM_FORMAT_PYTX;
    else if (strchr(line, ',') || !strcasecmp(line, "hash"))
        ps->format = SCRIM_FORMAT_CSV;
    else if (strlen(line) == 64 && all_hex(line, 64))
        ps->format = SCRIM_FORMAT_HEX;
    else if (strlen(line) == 32 && all_hex(line, 32))
        ps->format = SCRIM_FORMAT_MD5;
    else {
        snprintf(ps->msg, sizeof ps->msg,
                 "cannot tell the format from '%.60s' (give --format)", line);
        return -1;
    }
    return 0;
}

static int csv_header(parser *ps, char *line)
{
    char *f[CSV_MAX_FIELDS];
    int n = csv_split(line, f, CSV_MAX_FIELDS);
    if (n < 0) {
        snprintf(ps->msg, sizeof ps->msg, "unterminated quote in the header");
        return -1;
    }
    for (int c = 0; c < NCOLS; c++)
        ps->col[c] = -1;
    for (int i = 0; i < n && i < CSV_MAX_FIELDS; i++) {
        char *name = trim(f[i]);
        for (int c = 0; c < NCOLS; c++)
            if (!strcasecmp(name, col_names[c]) && ps->col[c] < 0)
                ps->col[c] = i;
    }
    if (ps->col[COL_HASH] < 0) {
        snprintf(ps->msg, sizeof ps->msg,
                 "the CSV header has no 'hash' column (got '%.80s')", line);
        return -1;
    }
    ps->have_header = 1;
    return 0;
}

/* One data line -> entry (fields point into `line`). */
static int parse_line(parser *ps, char *line, scrim_entry *e, uint8_t *hbuf)
{
    memset(e, 0, sizeof *e);
    e->quality = -1;
    e->hash = hbuf;
    int type = 0;
    switch (ps->format) {
    case SCRIM_FORMAT_HEX:
        type = SCRIM_HASH_PDQ;
        break;
    case SCRIM_FORMAT_MD5:
        type = SCRIM_HASH_MD5;
        break;
    case SCRIM_FORMAT_SHA256:
        type = SCRIM_HASH_SHA256;
        break;
    case SCRIM_FORMAT_PYTX: {
        char *sp = line + strcspn(line, " \t");
        if (!*sp) {
            snprintf(ps->msg, sizeof ps->msg,
                     "expected 'pdq|md5|sha256 HASH', got '%.80s'", line);
            return -1;
        }
        *sp++ = '\0';
        type = scrim_hash_type_parse(line);
        if (type != SCRIM_HASH_PDQ && type != SCRIM_HASH_MD5 &&
            type != SCRIM_HASH_SHA256) {
            snprintf(ps->msg, sizeof ps->msg,
                     "unknown hash type '%.20s' (pdq, md5 or sha256)", line);
            return -1;
        }
        line = trim(sp);
        if (line[strcspn(line, " \t")]) {
            snprintf(ps->msg, sizeof ps->msg, "unexpected text after the hash");
            return -1;
        }
        break;
    }
    case SCRIM_FORMAT_CSV: {
        char *f[CSV_MAX_FIELDS];
        int n = csv_split(line, f, CSV_MAX_FIELDS);
        if (n < 0) {
            snprintf(ps->msg, sizeof ps->msg, "unterminated quote");
            return -1;
        }
        const char *v[NCOLS] = {0};
        for (int c = 0; c < NCOLS; c++)
            if (ps->col[c] >= 0 && ps->col[c] < n && ps->col[c] < CSV_MAX_FIELDS)
                v[c] = trim(f[ps->col[c]]);
        if (!v[COL_HASH] || !*v[COL_HASH]) {
            snprintf(ps->msg, sizeof ps->msg, "empty hash field");
            return -1;
        }
        if (v[COL_TYPE] && *v[COL_TYPE]) {
            type = scrim_hash_type_parse(v[COL_TYPE]);
            if (type != SCRIM_HASH_PDQ && type != SCRIM_HASH_MD5 &&
                type != SCRIM_HASH_SHA256) {
                snprintf(ps->msg, sizeof ps->msg,
                         "unknown type '%.20s' (pdq, md5 or sha256)", v[COL_TYPE]);
                return -1;
            }
        }
        if (v[COL_QUALITY] && *v[COL_QUALITY]) {
            char *end;
            long q = strtol(v[COL_QUALITY], &end, 10);
            if (*end || q < 0 || q > 100) {
                snprintf(ps->msg, sizeof ps->msg,
                         "quality must be 0-100, got '%.20s'", v[COL_QUALITY]);
                return -1;
            }
            e->quality = (int)q;
        }
        if (v[COL_ID] && *v[COL_ID])
            e->id = v[COL_ID];
        if (v[COL_LABEL] && *v[COL_LABEL])
            e->label = v[COL_LABEL];
        if (v[COL_VARIANT] && *v[COL_VARIANT])
            e->variant = v[COL_VARIANT];
        line = (char *)v[COL_HASH];
        break;
    }
    }
    if (parse_hash(&type, line, hbuf, ps->msg, sizeof ps->msg))
        return -1;
    e->type = type;
    return 0;
}

int import__text(scrim_import *imp, FILE *f, const void *buf, size_t len,
                 const char *name, int format,
                 void (*progress)(void *ud, uint64_t bytes), void *ud,
                 scrim_import_stats *st, char *err, size_t errlen)
{
    reader r = {f, buf, len, 0, NULL, 0, 0, 0};
    parser ps = {format, {-1, -1, -1, -1, -1}, 0, ""};
    uint8_t hbuf[32];
    char *line;
    ssize_t n;
    int rc = 0;
    if (!name)
        name = "-";
    if (format < SCRIM_FORMAT_AUTO || format > SCRIM_FORMAT_SHA256) {
        scrim__seterr(err, errlen, "unknown import format %d", format);
        return SCRIM_EINVAL;
    }
    while ((n = next_line(&r, &line)) >= 0) {
        st->lines = r.lineno;
        if (progress && (r.lineno & 16383) == 0)
            progress(ud, r.bytes);
        if (r.lineno == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
            line += 3; /* UTF-8 byte order mark */
        char *t = trim(line);
        if (!*t || *t == '#')
            continue;
        if (ps.format == SCRIM_FORMAT_AUTO && detect(&ps, t))
            goto parse_error;
        if (ps.format == SCRIM_FORMAT_CSV && !ps.have_header) {
            if (csv_header(&ps, t))
                goto parse_error;
            continue;
        }
        scrim_entry e;
        if (parse_line(&ps, t, &e, hbuf))
            goto parse_error;
        if ((rc = scrim_import_add(imp, &e, ps.msg, sizeof ps.msg))) {
            if (rc == SCRIM_EINVAL)
                goto parse_error;
            scrim__seterr(err, errlen, "%s:%llu: %s", name,
                          (unsigned long long)r.lineno, ps.msg);
            st->error_line = r.lineno;
            goto done;
        }
    }
    if (n == -2) {
        scrim__seterr(err, errlen, "%s: out of memory", name);
        rc = SCRIM_ENOMEM;
        goto done;
    }
    if (n == -3) {
        snprintf(ps.msg, sizeof ps.msg, "NUL byte in the line (binary input?)");
        goto parse_error;
    }
    if (f && ferror(f)) {
        scrim__seterr(err, errlen, "%s: read error", name);
        rc = SCRIM_EIO;
        goto done;
    }
    if (progress)
        progress(ud, r.bytes);
    goto done;
parse_error:
    st->error_line = r.lineno;
    scrim__seterr(err, errlen, "%s:%llu: %s", name,
                  (unsigned long long)r.lineno, ps.msg);
    rc = SCRIM_EINVAL;
done:
    free(r.line);
    return rc;
}
