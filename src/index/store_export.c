/* store_export.c - writing a list back out (hex, pytx, csv; video entries
 * through the video module's writer) and reading a video entry's frames. */
#include "index/index.h"

#include <stdlib.h>
#include <string.h>

static scrim_video_export_fn video_export;

void scrim_store_set_video_export(scrim_video_export_fn fn)
{
    video_export = fn;
}

/* A CSV field, quoted when it has to be. */
static void csv_field(FILE *out, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

/* pytx's name of an entry type (SignalType.get_name()) */
static const char *pytx_name(int type)
{
    switch (type) {
    case SCRIM_HASH_MD5: return "video_md5";
    case SCRIM_HASH_SHA256: return "video_sha256";
    case SCRIM_HASH_VIDEO: return "vpdq";
    default: return "pdq";
    }
}

static void csv_opt(FILE *out, const char *s, size_t n)
{
    fputc(',', out);
    if (s)
        csv_field(out, s, n);
}

/* One entry: sig is its hash in hex, or a video's frames as pytx's vpdq
 * signal (a JSON list); r its texts and quality. */
static void write_entry(FILE *out, int format, int type, const char *sig,
                        const ref_view *r, int variants)
{
    if (format == SCRIM_FORMAT_HEX || format == SCRIM_FORMAT_MD5 ||
        format == SCRIM_FORMAT_SHA256) {
        fprintf(out, "%s\n", sig);
    } else if (format == SCRIM_FORMAT_PYTX) {
        fprintf(out, "%s %s\n", pytx_name(type), sig);
    } else {
        fprintf(out, "%s,", type == SCRIM_HASH_VIDEO ? "vpdq"
                                                     : scrim_hash_type_name(type));
        csv_field(out, sig, strlen(sig));
        csv_opt(out, r->id, r->idlen);
        csv_opt(out, r->label, r->labellen);
        fputc(',', out);
        if (r->quality >= 0 && type != SCRIM_HASH_VIDEO)
            fprintf(out, "%d", r->quality);
        csv_opt(out, r->source, r->sourcelen);
        csv_opt(out, r->category, r->categorylen);
        csv_opt(out, r->tags, r->tagslen);
        if (variants)
            csv_opt(out, r->variant, r->variantlen);
        fputc('\n', out);
    }
}

/* Does `format` carry entries of `type`? */
static int format_takes(int format, int type)
{
    switch (format) {
    case SCRIM_FORMAT_HEX: return type == SCRIM_HASH_PDQ;
    case SCRIM_FORMAT_MD5: return type == SCRIM_HASH_MD5;
    case SCRIM_FORMAT_SHA256: return type == SCRIM_HASH_SHA256;
    default: return 1;
    }
}

/* pytx's vpdq signal: json.dumps of "PDQ,QUALITY,SECONDS" strings;
 * malloc'd. */
static char *vpdq_signal(const scrim_store_frame *f, size_t n)
{
    size_t cap = 2 + n * (4 + 64 + 5 + 24), o = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        char hex[65], sec[32];
        scrim_pdq_to_hex(&f[i].hash, hex);
        int l = snprintf(sec, sizeof sec, "%.3f", f[i].seconds);
        while (l > 2 && sec[l - 1] == '0' && sec[l - 2] != '.')
            sec[--l] = '\0';
        o += (size_t)snprintf(s + o, cap - o, "%s\"%s,%d,%s\"", i ? ", " : "",
                              hex, f[i].quality < 0 ? 0 : f[i].quality, sec);
    }
    s[o++] = ']';
    s[o] = '\0';
    return s;
}

static int read_frames(MDB_txn *txn, MDB_dbi refs, uint32_t first,
                       uint32_t nf, scrim_store_frame **out)
{
    scrim_store_frame *fr = calloc(nf ? nf : 1, sizeof *fr);
    if (!fr)
        return SCRIM_ENOMEM;
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t ref = first + i;
        MDB_val k = {4, &ref}, v;
        ref_view r;
        if (mdb_get(txn, refs, &k, &v) || store__ref_decode(v.mv_data, v.mv_size, &r)) {
            free(fr);
            return SCRIM_EDB;
        }
        fr[i].hash = r.hash;
        fr[i].quality = r.quality;
        fr[i].seconds = r.seconds;
    }
    *out = fr;
    return 0;
}

/* The label of a video record (first ref, frames, import, flags, label),
 * malloc'd, or NULL if it has none. */
static char *video_label(const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 15 || !(p[12] & REF_F_LABEL))
        return NULL;
    uint16_t n;
    memcpy(&n, p + 13, 2);
    return v->mv_size >= 15u + n ? strndup((const char *)p + 15, n) : NULL;
}

int scrim_store_export(scrim_store *s, const char *list, int format,
                       FILE *out, uint64_t *written, uint64_t *skipped,
                       char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    struct list_rec rec;
    uint64_t nw = 0, ns = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return scrim__mdb_err(rc, "export", err, errlen);
    if ((rc = store__list_load(s, txn, list, &rec, NULL, err, errlen)))
        goto done;
    int variants = format & SCRIM_EXPORT_VARIANTS;
    format &= ~SCRIM_EXPORT_VARIANTS;
    if (format == SCRIM_FORMAT_AUTO)
        format = SCRIM_FORMAT_CSV;
    if (variants && format != SCRIM_FORMAT_CSV) {
        scrim__seterr(err, errlen, "variants are exported in the csv format only");
        rc = SCRIM_EINVAL;
        goto done;
    }
    if (format == SCRIM_FORMAT_CSV)
        fprintf(out, "type,hash,id,label,quality,source,category,tags%s\n",
                variants ? ",variant" : "");
    char hex[65];
    /* image PDQs: every ref of the list (refs are in import order) */
    if (rec.pdq) {
        if ((rc = mdb_cursor_open(txn, s->refs, &c)))
            goto mdbfail;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            ref_view r;
            if (store__ref_decode(v.mv_data, v.mv_size, &r)) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (r.list != rec.id || r.type != SCRIM_HASH_PDQ)
                continue;
            if (r.variant && !variants)
                continue; /* the platform's own index-side hashes */
            if (!format_takes(format, SCRIM_HASH_PDQ)) {
                ns++;
                continue;
            }
            scrim_pdq_to_hex(&r.hash, hex);
            write_entry(out, format, SCRIM_HASH_PDQ, hex, &r, variants);
            nw++;
        }
        mdb_cursor_close(c);
        c = NULL;
        if (rc != MDB_NOTFOUND)
            goto mdbfail;
    }
    /* digests and videos: the keys of the list */
    uint8_t pfx[4];
    store__key_list(pfx, rec.id);
    for (int pass = 0; pass < 2; pass++) {
        MDB_dbi dbi = pass ? s->videos : s->digests;
        if ((rc = mdb_cursor_open(txn, dbi, &c)))
            goto mdbfail;
        k.mv_size = 4;
        k.mv_data = pfx;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
             rc == 0 && k.mv_size >= 4 && !memcmp(k.mv_data, pfx, 4);
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            const uint8_t *key = k.mv_data, *p = v.mv_data;
            if (!pass) {
                int type = key[4];
                size_t dl = type == SCRIM_HASH_MD5 ? 16 : 32;
                if (k.mv_size != 5 + dl || v.mv_size < 6) {
                    rc = MDB_CORRUPTED;
                    break;
                }
                if (!format_takes(format, type)) {
                    ns++;
                    continue;
                }
                ref_view r;
                if (store__digest_decode(v.mv_data, v.mv_size, &r)) {
                    rc = MDB_CORRUPTED;
                    break;
                }
                scrim__hex_encode(key + 5, dl, hex);
                write_entry(out, format, type, hex, &r, variants);
                nw++;
            } else {
                if (v.mv_size < 13 || !(video_export || format_takes(format, SCRIM_HASH_VIDEO))) {
                    ns++;
                    continue;
                }
                uint32_t first, nf;
                memcpy(&first, p, 4);
                memcpy(&nf, p + 4, 4);
                char *id = strndup((const char *)key + 4, k.mv_size - 4);
                char *label = video_label(&v);
                scrim_store_frame *fr = NULL;
                int vr = id ? read_frames(txn, s->refs, first, nf, &fr)
                            : SCRIM_ENOMEM;
                if (!vr && video_export) {
                    vr = video_export(out, id, label, fr, nf);
                } else if (!vr) {
                    /* the texts its source gave, from its first frame */
                    ref_view r = {0};
                    MDB_val fk = {4, &first}, fv;
                    if (mdb_get(txn, s->refs, &fk, &fv) ||
                        store__ref_decode(fv.mv_data, fv.mv_size, &r))
                        memset(&r, 0, sizeof r);
                    r.id = id;
                    r.idlen = strlen(id);
                    r.label = label;
                    r.labellen = label ? strlen(label) : 0;
                    r.quality = -1;
                    char *sig = vpdq_signal(fr, nf);
                    if (sig)
                        write_entry(out, format, SCRIM_HASH_VIDEO, sig, &r, 0);
                    else
                        vr = SCRIM_ENOMEM;
                    free(sig);
                }
                free(fr);
                free(id);
                free(label);
                if (vr) {
                    mdb_cursor_close(c);
                    c = NULL;
                    scrim__seterr(err, errlen, "export: cannot write a video entry");
                    rc = vr;
                    goto done;
                }
                nw++;
            }
        }
        mdb_cursor_close(c);
        c = NULL;
        if (rc != MDB_NOTFOUND && rc != 0)
            goto mdbfail;
        rc = 0;
    }
    if (ferror(out)) {
        scrim__seterr(err, errlen, "export: write error");
        rc = SCRIM_EIO;
    }
    goto done;
mdbfail:
    if (c)
        mdb_cursor_close(c);
    rc = scrim__mdb_err(rc, "export", err, errlen);
done:
    mdb_txn_abort(txn);
    if (written)
        *written = nw;
    if (skipped)
        *skipped = ns;
    return rc;
}

int scrim_store_video_frames(scrim_store *s, const char *list, const char *id,
                             scrim_store_frame **frames, size_t *n,
                             char **label, char *err, size_t errlen)
{
    MDB_txn *txn;
    struct list_rec rec;
    *frames = NULL;
    *n = 0;
    if (label)
        *label = NULL;
    int rc = store__rtxn_get(s, &txn);
    if (rc)
        return scrim__mdb_err(rc, "video", err, errlen);
    if ((rc = store__list_load(s, txn, list, &rec, NULL, err, errlen)))
        goto done;
    size_t il = strlen(id);
    uint8_t *key = store__video_key(rec.id, id, il);
    if (!key) {
        rc = SCRIM_ENOMEM;
        goto done;
    }
    MDB_val k = {4 + il, key}, v;
    rc = mdb_get(txn, s->videos, &k, &v);
    free(key);
    if (rc || v.mv_size < 13) {
        scrim__seterr(err, errlen, "list '%s' has no video '%s'", list, id);
        rc = SCRIM_ENOTFOUND;
        goto done;
    }
    uint32_t first, nf;
    memcpy(&first, v.mv_data, 4);
    memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
    if ((rc = read_frames(txn, s->refs, first, nf, frames))) {
        scrim__seterr(err, errlen, "video '%s': frames missing", id);
        goto done;
    }
    *n = nf;
    if (label)
        *label = video_label(&v);
done:
    store__rtxn_put(s, txn);
    return rc;
}
