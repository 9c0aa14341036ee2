/* text.c - the text formats of hash lists (hex, pytx, csv/tsv, md5, sha256,
 * auto-detected), parsed line by line from a stream or a buffer, so that
 * memory stays constant however long the input is.
 *
 * pytx is what python-threatexchange writes and reads: its file exchange
 * reads "TYPE SIGNAL" lines, `threatexchange dataset -P` prints
 * "TYPE SIGNAL 'COLLAB' CATEGORY TAG,TAG" (no TYPE with one -s type, no
 * COLLAB with one -c collab, only "TYPE SIGNAL" with -S), `dataset -P
 * --csv` a CSV with signal_type, signal_str, collab, category and tags
 * (space-separated) columns, and its older ThreatExchange cache files
 * (simple.TYPE.te) headerless INDICATOR,DESCRIPTOR_ID,ADDED_ON,TAGS rows.
 * Signal types: pdq; video_md5 (an MD5 of the whole file, stored as an MD5
 * entry; HMA 1.0 wrote photo_md5); video_sha256; vpdq, whose signal is a
 * JSON list of "PDQ,QUALITY,SECONDS" strings (one video entry).  Other
 * types (url, raw_text...) are counted and skipped.  A signal whose
 * category is NEGATIVE_CLASS, or tagged false_positive (ThreatExchange),
 * is never stored. */
#include "index/index.h"

#include <ctype.h>
#include <openssl/evp.h>
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
    if (s && !strcasecmp(s, "tsv"))
        return SCRIM_FORMAT_CSV; /* the delimiter comes from the header */
    return SCRIM_EINVAL;
}

/* ---- signal types --------------------------------------------------------------- */

static const struct {
    const char *name;
    int type;
} type_names[] = {
    {"pdq", SCRIM_HASH_PDQ},          {"md5", SCRIM_HASH_MD5},
    {"sha256", SCRIM_HASH_SHA256},    {"video", SCRIM_HASH_VIDEO},
    /* pytx (SignalType.get_name()), HMA 1.0, ThreatExchange indicators */
    {"video_md5", SCRIM_HASH_MD5},    {"photo_md5", SCRIM_HASH_MD5},
    {"video_sha256", SCRIM_HASH_SHA256}, {"vpdq", SCRIM_HASH_VIDEO},
    {"hash_pdq", SCRIM_HASH_PDQ},     {"hash_md5", SCRIM_HASH_MD5},
    {"hash_video_md5", SCRIM_HASH_MD5}, {"hash_photo_md5", SCRIM_HASH_MD5},
    {"hash_sha256", SCRIM_HASH_SHA256}, {"hash_video_sha256", SCRIM_HASH_SHA256},
    /* pytx types scrim does not match: known, so that auto-detection
     * recognises a file that starts with one */
    {"url", 0}, {"url_md5", 0}, {"raw_text", 0}, {"trend_query", 0},
    {"text_tlsh", 0}, {"pdq_ocr", 0}, {"photodna", 0}, {"video_tmk_pdqf", 0},
    {"tmk_pdqf", 0}, {"hash_tmk", 0}, {"uri", 0},
};
#define NTYPES (sizeof type_names / sizeof *type_names)

/* The entry type of a signal type name: > 0; 0 for one scrim does not
 * match (*known: whether it is a name pytx or ThreatExchange uses). */
static int type_of(const char *s, size_t n, int *known)
{
    *known = 0;
    for (size_t i = 0; i < NTYPES; i++)
        if (strlen(type_names[i].name) == n &&
            !strncasecmp(s, type_names[i].name, n)) {
            *known = 1;
            return type_names[i].type;
        }
    return 0;
}

/* ---- lines ---------------------------------------------------------------- */

typedef struct reader {
    FILE *f;
    const char *buf;
    size_t len, pos;
    char *line;
    size_t cap;
    uint64_t bytes, lineno;
    EVP_MD_CTX *sha;
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
    if (r->sha)
        EVP_DigestUpdate(r->sha, r->line, (size_t)n);
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

static int is_hash(const char *s, size_t n)
{
    return (n == 64 || n == 32) && all_hex(s, n);
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

/* Split a CSV (or, delim '\t', TSV) line in place (RFC 4180 quoting, one
 * line only).  Returns the number of fields or -1 for an unterminated
 * quote. */
static int csv_split(char *line, char delim, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *start = p, *w = p;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            start = w = p;
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
            while (*p && *p != delim)
                p++; /* text after the closing quote is ignored */
        } else {
            p = w = start;
            while (*p && *p != delim)
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

enum { COL_HASH, COL_TYPE, COL_ID, COL_LABEL, COL_QUALITY, COL_VARIANT,
       COL_SOURCE, COL_CATEGORY, COL_TAGS, NCOLS };
/* column names: scrim's, then pytx's (dataset --csv) */
static const char *const col_names[NCOLS][2] = {
    {"hash", "signal_str"}, {"type", "signal_type"}, {"id", NULL},
    {"label", NULL}, {"quality", NULL}, {"variant", NULL},
    {"source", "collab"}, {"category", NULL}, {"tags", NULL}};
#define CSV_MAX_FIELDS 256

typedef struct parser {
    int format;
    int col[NCOLS];       /* csv: field index of each column, -1 absent */
    int have_header;
    char delim;           /* csv: ',' or '\t' */
    int strict;
    char msg[256];
    char tags[SCRIM_ENTRY_TEXT_MAX + 1];     /* normalised tags */
    char source[SCRIM_ENTRY_TEXT_MAX + 1];   /* pytx: the collab */
    char vid[64];                            /* a vpdq signal's id */
    scrim_store_frame *frames;               /* a vpdq signal's frames */
    size_t nframes, fcap;
    scrim_import_stats *st;
} parser;

/* Is the line a CSV/TSV header (a field names the hash column)? */
static int is_header(const char *line)
{
    char copy[1024], *f[64];
    snprintf(copy, sizeof copy, "%s", line);
    int n = csv_split(copy, strchr(line, '\t') ? '\t' : ',', f, 64);
    for (int i = 0; i < n && i < 64; i++) {
        char *name = trim(f[i]);
        if (!strcasecmp(name, col_names[COL_HASH][0]) ||
            !strcasecmp(name, col_names[COL_HASH][1]))
            return 1;
    }
    return 0;
}

static int detect(parser *ps, char *line)
{
    size_t tl = strcspn(line, " \t");
    int known;
    if (is_header(line) || !strcasecmp(line, "hash"))
        ps->format = SCRIM_FORMAT_CSV;
    else if (!strncmp(line, "[\"", 2))
        ps->format = SCRIM_FORMAT_PYTX; /* a vpdq signal, no type */
    else if (line[tl] && !memchr(line, ',', tl) &&
             (type_of(line, tl, &known), known || is_hash(line, tl)))
        ps->format = SCRIM_FORMAT_PYTX;
    else if (strchr(line, ',') || strchr(line, '\t'))
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

/* The header line, or (a headerless ThreatExchange cache file,
 * INDICATOR,DESCRIPTOR_ID,ADDED_ON,TAGS) the first row: 1 when the line is
 * data. */
static int csv_header(parser *ps, char *line)
{
    char *f[CSV_MAX_FIELDS], copy[4096];
    snprintf(copy, sizeof copy, "%s", line);
    ps->delim = strchr(line, '\t') ? '\t' : ',';
    int n = csv_split(copy, ps->delim, f, CSV_MAX_FIELDS);
    if (n < 0) {
        snprintf(ps->msg, sizeof ps->msg, "unterminated quote in the header");
        return -1;
    }
    for (int c = 0; c < NCOLS; c++)
        ps->col[c] = -1;
    for (int i = 0; i < n && i < CSV_MAX_FIELDS; i++) {
        char *name = trim(f[i]);
        for (int c = 0; c < NCOLS; c++)
            for (int a = 0; a < 2; a++)
                if (col_names[c][a] && !strcasecmp(name, col_names[c][a]) &&
                    ps->col[c] < 0)
                    ps->col[c] = i;
    }
    ps->have_header = 1;
    if (ps->col[COL_HASH] >= 0)
        return 0;
    char *first = n > 0 ? trim(f[0]) : "";
    if (ps->delim == ',' && is_hash(first, strlen(first))) {
        ps->col[COL_HASH] = 0;
        ps->col[COL_ID] = n > 1 ? 1 : -1;
        ps->col[COL_TAGS] = n > 3 ? 3 : -1;
        return 1;
    }
    snprintf(ps->msg, sizeof ps->msg,
             "the CSV header has no 'hash' or 'signal_str' column (got '%.80s')",
             line);
    return -1;
}

/* Tags as stored: words separated by one space (pytx prints them with
 * commas, its CSV with spaces); NULL if none.  Sets *negative for
 * ThreatExchange's false_positive tag. */
static const char *norm_tags(parser *ps, const char *s, int *negative)
{
    size_t o = 0;
    while (*s) {
        size_t n = strcspn(s, " ,\t");
        if (n) {
            if (n == 14 && !strncasecmp(s, "false_positive", 14))
                *negative = 1;
            if (o + n + 1 >= sizeof ps->tags)
                break;
            if (o)
                ps->tags[o++] = ' ';
            memcpy(ps->tags + o, s, n);
            o += n;
        }
        s += n + (s[n] != '\0');
    }
    ps->tags[o] = '\0';
    return o ? ps->tags : NULL;
}

/* An opinion category (pytx SignalOpinionCategory and its aggregate) */
static int is_category(const char *s, size_t n)
{
    static const char *const cats[] = {"NEGATIVE_CLASS", "INVESTIGATION_SEED",
                                       "POSITIVE_CLASS", "DISPUTED"};
    for (size_t i = 0; i < 4; i++)
        if (strlen(cats[i]) == n && !strncmp(s, cats[i], n))
            return 1;
    return 0;
}

static int negative_category(const char *s)
{
    return !strcasecmp(s, "NEGATIVE_CLASS") || !strcasecmp(s, "false_positive");
}

/* A vpdq signal: a JSON list of "PDQ,QUALITY,SECONDS" strings -> the
 * frames, and an id made from them (the same list gives the same id). */
static int parse_vpdq(parser *ps, const char *s, size_t len)
{
    json_error_t je;
    json_t *a = json_loadb(s, len, 0, &je);
    ps->nframes = 0;
    if (!json_is_array(a) || !json_array_size(a)) {
        snprintf(ps->msg, sizeof ps->msg, "a vpdq signal is a JSON list of "
                 "\"PDQ,QUALITY,SECONDS\" strings%s%.80s", a ? "" : ": ",
                 a ? "" : je.text);
        json_decref(a);
        return -1;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        json_decref(a);
        snprintf(ps->msg, sizeof ps->msg, "out of memory");
        return -1;
    }
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(a, i, v) {
        const char *f = json_string_value(v);
        char hex[65];
        int q, end = 0;
        double sec;
        if (!f || sscanf(f, "%64[0-9a-fA-F],%d,%lf%n", hex, &q, &sec, &end) != 3 ||
            f[end] || strlen(hex) != 64 || q < 0 || q > 100 || !(sec >= 0)) {
            snprintf(ps->msg, sizeof ps->msg, "vpdq frame %zu: expected "
                     "\"PDQ,QUALITY,SECONDS\", got '%.80s'", i, f ? f : "?");
            rc = -1;
            break;
        }
        if (scrim__grow(&ps->frames, &ps->fcap, ps->nframes, sizeof *ps->frames,
                        64)) {
            snprintf(ps->msg, sizeof ps->msg, "out of memory");
            rc = -1;
            break;
        }
        scrim_store_frame *fr = &ps->frames[ps->nframes++];
        scrim_pdq_from_hex(hex, 64, &fr->hash);
        fr->quality = q;
        fr->seconds = sec;
        uint8_t qb = (uint8_t)q;
        EVP_DigestUpdate(md, &fr->hash, sizeof fr->hash);
        EVP_DigestUpdate(md, &qb, 1);
    }
    json_decref(a);
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    memcpy(ps->vid, "vpdq-", 5);
    scrim__hex_encode(d, 8, ps->vid + 5);
    return rc;
}

/* The end of a signal starting at s: a JSON list (vpdq) to its closing
 * bracket, else the first blank. */
static char *signal_end(char *s)
{
    if (*s != '[')
        return s + strcspn(s, " \t");
    int depth = 0, in_str = 0;
    for (char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']' && --depth == 0) {
            return p + 1;
        }
    }
    return s + strlen(s);
}

/* A Python repr() of a string at s ('...' or "..."): unquoted into out;
 * returns the text after it, or NULL if unterminated. */
static char *py_string(char *s, char *out, size_t cap)
{
    char q = *s++;
    size_t o = 0;
    for (; *s && *s != q; s++) {
        char c = *s;
        if (c == '\\' && s[1]) {
            c = *++s;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
        }
        if (o + 1 < cap)
            out[o++] = c;
    }
    out[o] = '\0';
    return *s ? s + 1 : NULL;
}

/* Count (and, strict, refuse) an entry of a type scrim does not know. */
static int unknown_type(parser *ps, const char *name, size_t n)
{
    if (ps->strict) {
        snprintf(ps->msg, sizeof ps->msg, "unknown signal type '%.*s' "
                 "(scrim takes pdq, video_md5/md5, video_sha256/sha256, vpdq)",
                 (int)(n > 40 ? 40 : n), name);
        return -1;
    }
    scrim_import_stats *st = ps->st;
    st->unknown++;
    for (size_t i = 0; i < 8; i++) {
        if (!st->unknown_types[i].count) {
            snprintf(st->unknown_types[i].name, sizeof st->unknown_types[i].name,
                     "%.*s", (int)n, name);
            for (char *p = st->unknown_types[i].name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        } else if (strlen(st->unknown_types[i].name) != n ||
                   strncasecmp(st->unknown_types[i].name, name, n)) {
            continue;
        }
        st->unknown_types[i].count++;
        break;
    }
    return 1;
}

/* One data line -> entry (fields point into `line` or the parser).
 * Returns 0, 1 for a line to skip (a type scrim does not know), -1. */
static int parse_line(parser *ps, char *line, scrim_entry *e, uint8_t *hbuf)
{
    memset(e, 0, sizeof *e);
    e->quality = -1;
    e->hash = hbuf;
    int type = 0, known;
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
        /* [TYPE] SIGNAL ['COLLAB'] [CATEGORY [TAGS]] */
        char *name = line, *sig = line;
        size_t nl = strcspn(line, " \t");
        if (*line == '[') {
            type = SCRIM_HASH_VIDEO; /* dataset -P -s vpdq */
        } else if (!is_hash(line, nl)) {
            sig = trim(line + nl);
            if (!*sig) {
                snprintf(ps->msg, sizeof ps->msg,
                         "expected 'TYPE SIGNAL' (pdq, video_md5, vpdq...), got '%.80s'",
                         line);
                return -1;
            }
            if (!(type = type_of(name, nl, &known)))
                return unknown_type(ps, name, nl);
            if (type == SCRIM_HASH_VIDEO && *sig != '[') {
                snprintf(ps->msg, sizeof ps->msg, "a vpdq signal is a JSON "
                         "list of \"PDQ,QUALITY,SECONDS\" strings");
                return -1;
            }
        }
        char *end = signal_end(sig), *rest = end;
        if (*rest)
            *rest++ = '\0';
        rest = trim(rest);
        if (*rest == '\'' || *rest == '"') {
            if (!(rest = py_string(rest, ps->source, sizeof ps->source))) {
                snprintf(ps->msg, sizeof ps->msg, "unterminated collab name");
                return -1;
            }
            if (*ps->source)
                e->source = ps->source;
            rest = trim(rest);
        }
        size_t cl = strcspn(rest, " \t");
        if (is_category(rest, cl)) {
            e->category = rest;
            char *t = rest + cl;
            if (*t)
                *t++ = '\0';
            e->tags = norm_tags(ps, t, &e->negative);
        } else if (*rest) {
            e->tags = norm_tags(ps, rest, &e->negative);
        }
        if (e->category && negative_category(e->category))
            e->negative = 1;
        line = sig;
        break;
    }
    case SCRIM_FORMAT_CSV: {
        char *f[CSV_MAX_FIELDS];
        int n = csv_split(line, ps->delim, f, CSV_MAX_FIELDS);
        if (n < 0) {
            snprintf(ps->msg, sizeof ps->msg, "unterminated quote");
            return -1;
        }
        char *v[NCOLS] = {0};
        for (int c = 0; c < NCOLS; c++)
            if (ps->col[c] >= 0 && ps->col[c] < n && ps->col[c] < CSV_MAX_FIELDS)
                v[c] = trim(f[ps->col[c]]);
        if (!v[COL_HASH] || !*v[COL_HASH]) {
            snprintf(ps->msg, sizeof ps->msg, "empty hash field");
            return -1;
        }
        if (v[COL_TYPE] && *v[COL_TYPE]) {
            size_t tl = strlen(v[COL_TYPE]);
            if (!(type = type_of(v[COL_TYPE], tl, &known)))
                return unknown_type(ps, v[COL_TYPE], tl);
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
        if (v[COL_SOURCE] && *v[COL_SOURCE])
            e->source = v[COL_SOURCE];
        if (v[COL_CATEGORY] && *v[COL_CATEGORY]) {
            e->category = v[COL_CATEGORY];
            e->negative = negative_category(e->category);
        }
        if (v[COL_TAGS])
            e->tags = norm_tags(ps, v[COL_TAGS], &e->negative);
        line = v[COL_HASH];
        break;
    }
    }
    if (type == SCRIM_HASH_VIDEO) {
        if (parse_vpdq(ps, line, strlen(line)))
            return -1;
        e->type = SCRIM_HASH_VIDEO;
        e->frames = ps->frames;
        e->nframes = ps->nframes;
        e->quality = -1;
        if (!e->id)
            e->id = ps->vid;
        return 0;
    }
    for (char *p = line; *p; p++) /* pytx validates signals lower-cased */
        *p = (char)tolower((unsigned char)*p);
    if (parse_hash(&type, line, hbuf, ps->msg, sizeof ps->msg))
        return -1;
    e->type = type;
    return 0;
}

int import__text(scrim_import *imp, FILE *f, const void *buf, size_t len,
                 const char *name, const char *record_as, int format,
                 void (*progress)(void *ud, uint64_t bytes), void *ud,
                 scrim_import_stats *st, char *err, size_t errlen)
{
    reader r = {f, buf, len, 0, NULL, 0, 0, 0, NULL};
    parser ps;
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
    memset(&ps, 0, sizeof ps);
    ps.format = format;
    ps.delim = ',';
    ps.strict = import__strict(imp);
    ps.st = st;
    for (int c = 0; c < NCOLS; c++)
        ps.col[c] = -1;
    if (!(r.sha = EVP_MD_CTX_new()) ||
        !EVP_DigestInit_ex(r.sha, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(r.sha);
        scrim__seterr(err, errlen, "%s: out of memory", name);
        return SCRIM_ENOMEM;
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
            int data = csv_header(&ps, t);
            if (data < 0)
                goto parse_error;
            if (!data)
                continue;
        }
        scrim_entry e;
        int pr = parse_line(&ps, t, &e, hbuf);
        if (pr < 0)
            goto parse_error;
        if (pr > 0)
            continue;
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
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(r.sha, d, &dl);
    if (import__input(imp, record_as ? record_as : name, d, r.bytes, r.lineno)) {
        scrim__seterr(err, errlen, "%s: out of memory", name);
        rc = SCRIM_ENOMEM;
    }
    goto done;
parse_error:
    st->error_line = r.lineno;
    scrim__seterr(err, errlen, "%s:%llu: %s", name,
                  (unsigned long long)r.lineno, ps.msg);
    rc = SCRIM_EINVAL;
done:
    EVP_MD_CTX_free(r.sha);
    free(ps.frames);
    free(r.line);
    return rc;
}
