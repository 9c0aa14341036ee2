/* mih.c - the exact PDQ radius index: multi-index hashing over the 16
 * 16-bit words of a hash, stored as 65536 LMDB values.
 *
 * Layout.  Value v (key: uint32 v) holds, for each word position i = 0..15,
 * the records of all hashes h with h.w[i] == v: a uint32 header n[16] (record
 * counts) followed by the 16 runs of records.  A record of run i is the
 * hash's ref (uint32) and P[i] of its words, w[i+1] .. w[i+P[i]] (mod 16),
 * used to discard candidates before their full hash is read.  A run stores
 * all its words first, then all its refs, so a scan reads only the words
 * (the refs of the few candidates that pass are read on demand).
 *
 * Query with radius R, t = R / 16.  By pigeonhole some word of a hit differs
 * from the query's in at most t bits; the hit is assigned to the FIRST such
 * word position i, so every word j < i differs in at least t+1 bits.  For a
 * record in run i this gives a lower bound on the distance:
 *     d(w[i]) + d(stored words) + (t+1) * U[i]
 * where U[i] counts the words before i that are not stored in the record.  A
 * record passes when the bound is <= R; it is then checked against its full
 * hash (ref record) and reported only if i really is its first word within
 * t bits, so each hit is reported once and none is missed.  Low positions
 * keep more words (U[i] is small there), high positions fewer: P below
 * keeps the expected false candidates at 10M hashes and R = 31 around 30 for
 * 180 bytes of index per hash.  The records of a run are filtered by
 * mih_scan.c's kernels (AVX-512 or AVX2 where the CPU has them).
 *
 * Updates group the records by value and rewrite each touched value once.
 */
#include "index/index.h"
#include "index/mih_scan.h"

#include <stdlib.h>
#include <string.h>

#define NPOS 16
#define NVAL 65536
#define HDR (NPOS * 4)
#define PMAX 6

static const uint8_t P[NPOS] = {6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2};
static uint8_t U[NPOS];

/* Masks of 16 bits by popcount 0..4, for probing (R <= 64 => t <= 4). */
static uint16_t masks[2517];
static size_t mask_end[5]; /* masks[0 .. mask_end[t]) have popcount <= t */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* The run filter (mih_scan.c): the fastest this CPU has. */
static int scan_kind;
static mih_scan_fn scan_fn;

static void mih_init(void)
{
    for (int i = 0; i < NPOS; i++) {
        int u = 0;
        for (int j = 0; j < i; j++) {
            int stored = 0;
            for (int k = 1; k <= P[i]; k++)
                stored |= ((i + k) & 15) == j;
            u += !stored;
        }
        U[i] = (uint8_t)u;
    }
    size_t n = 0;
    for (int pc = 0; pc <= 4; pc++) {
        for (uint32_t m = 0; m < NVAL; m++)
            if (__builtin_popcount(m) == pc)
                masks[n++] = (uint16_t)m;
        mask_end[pc] = n;
    }
    scan_kind = mih__scan_best();
    scan_fn = mih__scan_kernel(scan_kind);
}

int mih__scan_use(int kind)
{
    pthread_once(&init_once, mih_init);
    mih_scan_fn f = mih__scan_kernel(kind);
    if (!f)
        return SCRIM_EINVAL;
    scan_kind = kind;
    scan_fn = f;
    return 0;
}

int mih__scan_current(void)
{
    pthread_once(&init_once, mih_init);
    return scan_kind;
}

static inline size_t rec_size(int i)
{
    return 4 + 2 * (size_t)P[i];
}

/* Which old records a rewrite drops. */
typedef struct dropper {
    const mih_item *dels;     /* these (run: indices into dels) */
    const uint32_t *run;
    uint32_t nd;
    const uint64_t *bitmap;   /* or every ref with its bit set */
    uint64_t nbits;
} dropper;

static int dropped(const dropper *d, uint32_t ref)
{
    if (d->bitmap)
        return ref < d->nbits && (d->bitmap[ref >> 6] >> (ref & 63) & 1);
    for (uint32_t k = 0; k < d->nd; k++)
        if (d->dels[d->run[k]].ref == ref)
            return 1;
    return 0;
}

/* Write run i: the old run's records (src, n) that `drop` keeps, then the
 * na added items adds[order[k]].  Returns the records written. */
static uint32_t run_build(uint8_t *dst, int i, const uint8_t *src, uint32_t n,
                          const dropper *drop, const mih_item *adds,
                          const uint32_t *order, uint32_t na)
{
    const size_t pw = 2 * (size_t)P[i];
    const uint8_t *spre = src, *sref = src ? src + n * pw : NULL;
    uint32_t kept = n;
    if (drop && n) {
        kept = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t ref;
            memcpy(&ref, sref + 4 * k, 4);
            kept += !dropped(drop, ref);
        }
    }
    uint32_t nn = kept + na;
    uint8_t *dpre = dst, *dref = dst + nn * pw;
    if (!drop && n) {
        memcpy(dpre, spre, n * pw);
        memcpy(dref, sref, 4 * (size_t)n);
        dpre += n * pw;
        dref += 4 * (size_t)n;
    } else if (kept) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t ref;
            memcpy(&ref, sref + 4 * k, 4);
            if (dropped(drop, ref))
                continue;
            memcpy(dpre, spre + k * pw, pw);
            memcpy(dref, &ref, 4);
            dpre += pw;
            dref += 4;
        }
    }
    for (uint32_t k = 0; k < na; k++) {
        const mih_item *it = &adds[order[k]];
        for (int j = 0; j < P[i]; j++)
            memcpy(dpre + 2 * j, &it->hash.w[(i + 1 + j) & 15], 2);
        memcpy(dref, &it->ref, 4);
        dpre += pw;
        dref += 4;
    }
    return nn;
}

static size_t value_size(const uint32_t n[NPOS])
{
    size_t sz = HDR;
    for (int i = 0; i < NPOS; i++)
        sz += n[i] * rec_size(i);
    return sz;
}

/* ---- updates -------------------------------------------------------------- */

/* Counting sort of items by word i: order[i][cnt[i][v] .. cnt[i][v+1]). */
typedef struct grouping {
    uint32_t *cnt;    /* NPOS * (NVAL + 1) */
    uint32_t *order;  /* NPOS * n */
    size_t n;
} grouping;

static int group(grouping *g, const mih_item *items, size_t n)
{
    g->n = n;
    g->cnt = NULL;
    g->order = NULL;
    if (!n)
        return 0;
    g->cnt = calloc((size_t)NPOS * (NVAL + 1), sizeof *g->cnt);
    g->order = malloc((size_t)NPOS * n * sizeof *g->order);
    if (!g->cnt || !g->order)
        return SCRIM_ENOMEM;
    for (int i = 0; i < NPOS; i++) {
        uint32_t *c = g->cnt + (size_t)i * (NVAL + 1);
        uint32_t *o = g->order + (size_t)i * n;
        for (size_t k = 0; k < n; k++)
            c[items[k].hash.w[i] + 1]++;
        for (uint32_t v = 0; v < NVAL; v++)
            c[v + 1] += c[v];
        /* place, then restore c[v] to the run start */
        for (size_t k = 0; k < n; k++)
            o[c[items[k].hash.w[i]]++] = (uint32_t)k;
        for (uint32_t v = NVAL; v > 0; v--)
            c[v] = c[v - 1];
        c[0] = 0;
    }
    return 0;
}

static inline uint32_t group_count(const grouping *g, int i, uint32_t v)
{
    if (!g->n)
        return 0;
    const uint32_t *c = g->cnt + (size_t)i * (NVAL + 1);
    return c[v + 1] - c[v];
}

static inline const uint32_t *group_run(const grouping *g, int i, uint32_t v)
{
    return g->order + (size_t)i * g->n + g->cnt[(size_t)i * (NVAL + 1) + v];
}

static void group_free(grouping *g)
{
    free(g->cnt);
    free(g->order);
}

/* Rewrite value v: keep old records except those whose ref is dropped,
 * append the added ones.  `drop` decides per ref (bitmap or run). */
typedef struct rewrite {
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t *buf;
    size_t cap;
} rewrite;

static int buf_reserve(rewrite *w, size_t need)
{
    if (need <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 65536;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(w->buf, cap);
    if (!b)
        return SCRIM_ENOMEM;
    w->buf = b;
    w->cap = cap;
    return 0;
}

static int value_put(rewrite *w, uint32_t v, const uint32_t n[NPOS],
                     size_t len, char *err, size_t errlen)
{
    MDB_val key = {sizeof v, &v};
    int rc, empty = 1;
    for (int i = 0; i < NPOS; i++)
        empty &= n[i] == 0;
    if (empty) {
        rc = mdb_del(w->txn, w->dbi, &key, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    } else {
        memcpy(w->buf, n, HDR);
        MDB_val val = {len, w->buf};
        rc = mdb_put(w->txn, w->dbi, &key, &val, 0);
    }
    return rc ? scrim__mdb_err(rc, "index update", err, errlen) : 0;
}

static int get_value(MDB_txn *txn, MDB_dbi dbi, uint32_t v, MDB_val *val,
                     uint32_t n[NPOS], char *err, size_t errlen)
{
    MDB_val key = {sizeof v, &v};
    int rc = mdb_get(txn, dbi, &key, val);
    if (rc == MDB_NOTFOUND) {
        memset(n, 0, HDR);
        val->mv_size = 0;
        val->mv_data = NULL;
        return 0;
    }
    if (rc)
        return scrim__mdb_err(rc, "index read", err, errlen);
    if (val->mv_size < HDR)
        goto corrupt;
    memcpy(n, val->mv_data, HDR);
    if (value_size(n) != val->mv_size)
        goto corrupt;
    return 0;
corrupt:
    scrim__seterr(err, errlen, "index value %u is corrupt", v);
    return SCRIM_EDB;
}

int mih__update(MDB_txn *txn, MDB_dbi dbi, const mih_item *adds, size_t nadd,
                const mih_item *dels, size_t ndel, char *err, size_t errlen)
{
    pthread_once(&init_once, mih_init);
    grouping ga = {0}, gd = {0};
    rewrite w = {txn, dbi, NULL, 0};
    int rc = group(&ga, adds, nadd);
    if (!rc)
        rc = group(&gd, dels, ndel);
    if (rc) {
        scrim__seterr(err, errlen, "out of memory grouping index records");
        goto done;
    }
    for (uint32_t v = 0; v < NVAL && !rc; v++) {
        uint32_t na[NPOS], nd[NPOS], touched = 0;
        for (int i = 0; i < NPOS; i++) {
            na[i] = group_count(&ga, i, v);
            nd[i] = group_count(&gd, i, v);
            touched |= na[i] | nd[i];
        }
        if (!touched)
            continue;
        MDB_val old;
        uint32_t n[NPOS], nn[NPOS];
        if ((rc = get_value(txn, dbi, v, &old, n, err, errlen)))
            break;
        size_t need = HDR + old.mv_size;
        for (int i = 0; i < NPOS; i++)
            need += na[i] * rec_size(i);
        if ((rc = buf_reserve(&w, need))) {
            scrim__seterr(err, errlen, "out of memory rewriting the index");
            break;
        }
        const uint8_t *src = old.mv_data ? (const uint8_t *)old.mv_data + HDR
                                         : NULL;
        uint8_t *dst = w.buf + HDR;
        for (int i = 0; i < NPOS; i++) {
            dropper d = {dels, nd[i] ? group_run(&gd, i, v) : NULL, nd[i], NULL, 0};
            nn[i] = run_build(dst, i, src, n[i], nd[i] ? &d : NULL, adds,
                              na[i] ? group_run(&ga, i, v) : NULL, na[i]);
            dst += nn[i] * rec_size(i);
            if (src)
                src += n[i] * rec_size(i);
        }
        rc = value_put(&w, v, nn, (size_t)(dst - w.buf), err, errlen);
    }
done:
    group_free(&ga);
    group_free(&gd);
    free(w.buf);
    return rc;
}

int mih__remove_bitmap(MDB_txn *txn, MDB_dbi dbi, const uint64_t *bitmap,
                       uint64_t nbits, char *err, size_t errlen)
{
    pthread_once(&init_once, mih_init);
    rewrite w = {txn, dbi, NULL, 0};
    int rc = 0;
    for (uint32_t v = 0; v < NVAL && !rc; v++) {
        MDB_val old;
        uint32_t n[NPOS], nn[NPOS];
        if ((rc = get_value(txn, dbi, v, &old, n, err, errlen)))
            break;
        if (!old.mv_data)
            continue;
        if ((rc = buf_reserve(&w, old.mv_size))) {
            scrim__seterr(err, errlen, "out of memory rewriting the index");
            break;
        }
        const uint8_t *src = (const uint8_t *)old.mv_data + HDR;
        uint8_t *dst = w.buf + HDR;
        int changed = 0;
        dropper d = {NULL, NULL, 0, bitmap, nbits};
        for (int i = 0; i < NPOS; i++) {
            nn[i] = run_build(dst, i, src, n[i], &d, NULL, NULL, 0);
            changed |= nn[i] != n[i];
            dst += nn[i] * rec_size(i);
            src += n[i] * rec_size(i);
        }
        if (changed)
            rc = value_put(&w, v, nn, (size_t)(dst - w.buf), err, errlen);
    }
    free(w.buf);
    return rc;
}

/* ---- queries -------------------------------------------------------------- */

typedef struct query {
    MDB_txn *txn;
    MDB_dbi refs;
    const mih_dir *dir;
    hc_view hc;
    const scrim_pdq *q;
    int radius, t;
    mih_emit_fn emit;
    void *ud;
    /* refs already checked in this query and their first close word: a
     * near duplicate of the query is a candidate at most word positions,
     * but its record needs reading only once */
    uint32_t seen_ref[512];   /* ref + 1, 0 = empty */
    int8_t seen_first[512];   /* -1: out of radius */
    int noseen;               /* batch: no seen table (it is per query) */
} query;

/* A ref's record: 0, -1 if there is none (cannot happen in a consistent
 * store: the candidate is skipped), or SCRIM_EDB. */
static int read_ref(query *qy, MDB_val *key, MDB_val *val)
{
    int rc = mdb_get(qy->txn, qy->refs, key, val);
    if (rc == MDB_NOTFOUND)
        return -1;
    if (rc || val->mv_size < REF_BASE)
        return SCRIM_EDB;
    return 0;
}

/* Check a candidate of word position i against its full hash. */
static inline __attribute__((always_inline)) int verify(query *qy,
                                                        uint32_t ref, int pos)
{
    size_t slot = (uint32_t)(ref * 2654435761u) >> 23, probes = 8;
    if (!qy->noseen) {
        probes = 0;
        while (qy->seen_ref[slot] && qy->seen_ref[slot] != ref + 1 &&
               probes < 8) {
            slot = (slot + 1) & 511;
            probes++;
        }
        if (qy->seen_ref[slot] == ref + 1 && qy->seen_first[slot] != pos)
            return 0;
    }
    /* the candidate's hash: from the hash cache, else its record */
    MDB_val key = {sizeof ref, &ref}, val = {0, NULL};
    scrim_pdq h;
    const scrim_pdq *cached = store__hc_get(qy->hc, ref);
    if (cached) {
        memcpy(&h, cached, sizeof h);
    } else {
        int rc = read_ref(qy, &key, &val);
        if (rc)
            return rc < 0 ? 0 : rc;
        memcpy(&h, (const uint8_t *)val.mv_data + REF_HASH, sizeof h);
    }
    uint64_t x[4], y[4];
    memcpy(x, h.w, sizeof x);
    memcpy(y, qy->q->w, sizeof y);
    int d = 0, first = -1;
    for (int k = 0; k < 4; k++) {
        uint64_t z = x[k] ^ y[k];
        d += __builtin_popcountll(z);
        for (int j = 0; j < 4 && first < 0; j++)
            if (__builtin_popcountll(z >> (16 * j) & 0xffff) <= qy->t)
                first = 4 * k + j;
    }
    if (probes < 8 && !qy->seen_ref[slot]) {
        qy->seen_ref[slot] = ref + 1;
        qy->seen_first[slot] = (int8_t)(d > qy->radius ? -1 : first);
    }
    if (first != pos || d > qy->radius)
        return 0;
    if (!val.mv_data) {
        int rc = read_ref(qy, &key, &val);
        if (rc)
            return rc < 0 ? 0 : rc;
    }
    return qy->emit(qy->ud, ref, val.mv_data, val.mv_size, d);
}

/* One probed value: where its run for position i is, and the bound. */
typedef struct probe {
    const uint8_t *p;     /* the value, then the run */
    uint32_t len;         /* value bytes, then records in the run */
    uint8_t pos;
    int8_t limit;
} probe;

/* How much of a run software fetches ahead of its scan (a 10M database's
 * runs are 600-1800 bytes: the hardware prefetcher follows the rest; runs
 * of more than a block are also fetched a block ahead as they are scanned). */
#define RUN_PREFETCH 1024

/* Candidates a batch's helper thread found, for the caller to check. */
typedef struct bcand {
    uint32_t qi, ref;
    uint8_t pos;
} bcand;
typedef struct cand_vec {
    bcand *v;
    size_t n, cap;
    int oom;
} cand_vec;

/* Filter the run of a probe in blocks (the kernel lists candidates) and
 * check each candidate, in record order; or, with cv, list them there
 * (as query qi's). */
static inline __attribute__((always_inline)) int
scan_probe(query *qy, const probe *pr, uint64_t qa, uint64_t qb,
           cand_vec *cv, uint32_t qi)
{
    enum { BLOCK = 256 };
    uint32_t cand[BLOCK];
    const int i = pr->pos, np = P[i];
    const size_t pw = 2 * (size_t)np;
    const uint8_t *refs = pr->p + pr->len * pw;
    for (uint32_t k0 = 0; k0 < pr->len; k0 += BLOCK) {
        uint32_t m = pr->len - k0 < BLOCK ? pr->len - k0 : BLOCK;
        /* a long run: beyond what prefetch_run fetched, stay a block ahead */
        size_t from = (k0 + BLOCK) * pw, to = (k0 + 2 * BLOCK) * pw;
        if (to > RUN_PREFETCH) {
            if (from < RUN_PREFETCH)
                from = RUN_PREFETCH;
            if (to > pr->len * pw)
                to = pr->len * pw;
            for (; from < to; from += 64)
                __builtin_prefetch(pr->p + from);
        }
        uint32_t nc = scan_fn(pr->p + k0 * pw, m, np, qa, qb, pr->limit, cand);
        if (cv) {
            if (cv->n + nc > cv->cap) {
                size_t cap = cv->cap ? 2 * cv->cap : 4096;
                while (cap < cv->n + nc)
                    cap *= 2;
                bcand *nv = realloc(cv->v, cap * sizeof *nv);
                if (!nv) {
                    cv->oom = 1;
                    return SCRIM_ENOMEM;
                }
                cv->v = nv;
                cv->cap = cap;
            }
            for (uint32_t c = 0; c < nc; c++) {
                bcand *o = &cv->v[cv->n++];
                memcpy(&o->ref, refs + 4 * (size_t)(k0 + cand[c]), 4);
                o->qi = qi;
                o->pos = (uint8_t)i;
            }
            continue;
        }
        if (qy->hc.limit && nc > 1)
            for (uint32_t c = 0; c < nc; c++) {
                uint32_t ref;
                memcpy(&ref, refs + 4 * (size_t)(k0 + cand[c]), 4);
                store__hc_prefetch(qy->hc, ref);
            }
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t ref;
            memcpy(&ref, refs + 4 * (size_t)(k0 + cand[c]), 4);
            int rc = verify(qy, ref, i);
            if (rc)
                return rc;
        }
    }
    return 0;
}

#define PROBES_ON_STACK (NPOS * 137) /* t <= 2 */

/* Turn a probe of a whole value into its run of position pos. */
static inline int locate_run(probe *pr)
{
    int i = pr->pos;
    uint32_t n[NPOS];
    if (pr->len < HDR)
        return SCRIM_EDB;
    memcpy(n, pr->p, HDR);
    size_t off = HDR;
    for (int j = 0; j < i; j++)
        off += n[j] * rec_size(j);
    if (off + n[i] * rec_size(i) > pr->len)
        return SCRIM_EDB;
    pr->p += off;
    pr->len = n[i];
    size_t bytes = n[i] * rec_size(i);
    for (size_t b = 0; b < bytes && b < 512; b += 64)
        __builtin_prefetch(pr->p + b);
    return 0;
}

/* Bring a run's records (not its refs) towards the cache.  The prefetch
 * helpers must be inlined early: GCC finds a function doing nothing but
 * prefetches free of side effects and deletes the calls. */
static inline __attribute__((always_inline)) void prefetch_run(const probe *pr)
{
    const uint8_t *p = pr->p;
    size_t bytes = pr->len * rec_size(pr->pos);
    for (size_t b = 0; b < bytes && b < RUN_PREFETCH; b += 64)
        __builtin_prefetch(p + b);
}

/* The start of a probe's run (located) or value: up to 4 lines, which at 1M
 * hashes is most runs whole, and at 10M starts the page walk and the stream. */
static inline __attribute__((always_inline)) void
prefetch_start(const probe *pr, int located)
{
    size_t bytes = located ? pr->len * rec_size(pr->pos) : pr->len;
    __builtin_prefetch(pr->p);
    for (size_t b = 64; b < bytes && b < 256; b += 64)
        __builtin_prefetch(pr->p + b);
}

/* Three passes over the probes so that memory loads overlap: find the
 * values (prefetching their directory entries or headers), locate the runs,
 * then scan them while fetching the runs ahead. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static int probe_all(query *qy, MDB_dbi index)
{
    const scrim_pdq *q = qy->q;
    const mih_dir *dir = qy->dir;
    int R = qy->radius, t = qy->t, rc = 0;
    probe stack[PROBES_ON_STACK], *pr = stack;
    size_t np = 0, cap = (size_t)NPOS * mask_end[t];
    if (cap > PROBES_ON_STACK && !(pr = malloc(cap * sizeof *pr)))
        return SCRIM_ENOMEM;
    /* the probed (position, value) pairs, value in len for now */
    for (int i = 0; i < NPOS; i++) {
        int base = (t + 1) * U[i];
        if (base > R)
            continue; /* no hit can have i as its first close word */
        for (size_t m = 0; m < mask_end[t]; m++) {
            int limit = R - __builtin_popcount(masks[m]) - base;
            if (limit < 0)
                break; /* masks are ordered by popcount */
            uint32_t v = (uint32_t)(q->w[i] ^ masks[m]);
            if (dir)
                __builtin_prefetch(&dir->e[v].off[i]);
            pr[np].len = v;
            pr[np].pos = (uint8_t)i;
            pr[np].limit = (int8_t)limit;
            np++;
        }
    }
    /* where their runs are; empty runs dropped */
    size_t kept = 0;
    for (size_t k = 0; k < np; k++) {
        uint32_t v = pr[k].len;
        int i = pr[k].pos;
        if (dir) {
            const mih_dir_ent *e = &dir->e[v];
            if (!e->p || e->off[i + 1] == e->off[i])
                continue;
            pr[kept].p = e->p + e->off[i];
            pr[kept].len = (uint32_t)((e->off[i + 1] - e->off[i]) / rec_size(i));
        } else {
            MDB_val key = {sizeof v, &v}, val;
            rc = mdb_get(qy->txn, index, &key, &val);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                continue;
            }
            if (rc) {
                rc = SCRIM_EDB;
                goto done;
            }
            pr[kept].p = val.mv_data;
            pr[kept].len = (uint32_t)val.mv_size;
        }
        pr[kept].pos = (uint8_t)i;
        pr[kept].limit = pr[k].limit;
        kept++;
    }
    np = kept;
    /* software pipeline.  The runs are far apart in a map much larger than
     * the caches, so the scan waits on memory unless many runs are on their
     * way: a run's start is fetched FAR probes ahead (which also walks its
     * page table), its first RUN_PREFETCH bytes NEAR probes ahead.  Without
     * the directory: value headers FAR ahead, runs located (and their start
     * fetched) NEAR ahead.  Measured (lookups/s, one core, r = 31): start
     * only, 1 line: 18,000 at 1M; 4 lines: 35,000 at 1M, 7,500 at 10M;
     * plus 1 KB 6 ahead: 40,000 and 8,100 (4 KB 4 ahead: 36,000, 7,000). */
    enum { FAR = 16, NEAR = 6 };
    for (size_t k = 0; k < np && k < FAR; k++) {
        prefetch_start(&pr[k], dir != NULL);
        if (dir && k < NEAR)
            prefetch_run(&pr[k]);
    }
    for (size_t k = 0; !dir && k < np && k < NEAR; k++)
        if ((rc = locate_run(&pr[k])))
            goto done;
    int last = -1;
    uint64_t qa = 0, qb = 0;
    for (size_t k = 0; k < np && !rc; k++) {
        if (k + FAR < np)
            prefetch_start(&pr[k + FAR], dir != NULL);
        if (k + NEAR < np) {
            if (dir)
                prefetch_run(&pr[k + NEAR]);
            else if ((rc = locate_run(&pr[k + NEAR])))
                break;
        }
        int i = pr[k].pos;
        if (i != last) {
            /* the query's words as stored in records of position i */
            uint16_t qw[PMAX] = {0};
            for (int j = 0; j < P[i]; j++)
                qw[j] = q->w[(i + 1 + j) & 15];
            qa = qb = 0;
            memcpy(&qa, qw, P[i] >= 4 ? 8 : 2 * (size_t)P[i]);
            if (P[i] > 4)
                memcpy(&qb, qw + 4, 2 * (size_t)(P[i] - 4));
            last = i;
        }
        rc = scan_probe(qy, &pr[k], qa, qb, NULL, 0);
    }
done:
    if (pr != stack)
        free(pr);
    return rc;
}

int mih__query(MDB_txn *txn, MDB_dbi index, MDB_dbi refs,
               const mih_dir *dir, hc_view hc, const scrim_pdq *q,
               int radius, mih_emit_fn emit, void *ud)
{
    pthread_once(&init_once, mih_init);
    if (radius < 0 || radius > SCRIM_MAX_RADIUS)
        return SCRIM_EINVAL;
    query qy;
    qy.txn = txn;
    qy.refs = refs;
    qy.dir = dir;
    qy.hc = hc;
    qy.q = q;
    qy.radius = radius;
    qy.t = radius / 16;
    qy.emit = emit;
    qy.ud = ud;
    qy.noseen = 0;
    memset(qy.seen_ref, 0, sizeof qy.seen_ref);
    return probe_all(&qy, index);
}

/* ---- batches ------------------------------------------------------------------
 * Many queries at once: the probes of all of them (a chunk at a time) are
 * sorted by value, so that the directory and the index are walked in order
 * (the hardware prefetcher follows) instead of with a cache miss or two per
 * probe.  The candidates are checked as mih__query checks them, without its
 * per-query table of refs already seen (an optimisation only: a ref is
 * reported at its first close word and no other), so the hits are the same;
 * they come in value order, not query order, each after *cur is set to
 * its query's index. */

typedef struct bprobe {
    uint32_t qi;
    uint8_t pos;
    int8_t limit;
} bprobe;

/* Probes sorted at a time: 4 MB.  Measured (server CPU for a 10,000-PDQ
 * POST /v1/lookup on 100,000 hashes, r = 31): 1<<16 probes 270-300 ms,
 * 1<<17 200-320, 1<<19 140-175, 1<<21 145-165 (larger chunks share more
 * runs between queries; smaller ones stream the directory more often). */
#define BATCH_PROBES (1u << 19)

/* A chunk's probes, sorted by value: b[start[v - 1] .. start[v]) probe
 * value v (start[-1] = 0). */
typedef struct chunk {
    const scrim_pdq *q;
    uint32_t *start;
    bprobe *b;
} chunk;

static void chunk_sort(const query *qy, chunk *ch, size_t q0, size_t n)
{
    const scrim_pdq *q = ch->q;
    uint32_t *start = ch->start;
    int R = qy->radius, t = qy->t;
    memset(start, 0, (NVAL + 1) * sizeof *start);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = q0; k < q0 + n; k++)
            for (int i = 0; i < NPOS; i++) {
                int base = (t + 1) * U[i];
                if (base > R)
                    continue;
                /* masks are ordered by popcount: pc bits flipped */
                for (int pc = 0; pc <= t && R - pc - base >= 0; pc++) {
                    int limit = R - pc - base;
                    uint32_t w = q[k].w[i];
                    for (size_t m = pc ? mask_end[pc - 1] : 0;
                         m < mask_end[pc]; m++) {
                        uint32_t v = w ^ masks[m];
                        if (!pass) {
                            start[v + 1]++;
                            continue;
                        }
                        bprobe *p = &ch->b[start[v]++];
                        p->qi = (uint32_t)k;
                        p->pos = (uint8_t)i;
                        p->limit = (int8_t)limit;
                    }
                }
            }
        if (!pass)
            for (uint32_t v = 0; v < NVAL; v++)
                start[v + 1] += start[v];
    }
}

/* The probes of values v0 .. v1 - 1: candidates checked (cv NULL) or
 * listed in cv. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static int chunk_sweep(query *qy, const chunk *ch, uint32_t v0, uint32_t v1,
                       size_t *cur, cand_vec *cv)
{
    const mih_dir *dir = qy->dir;
    const uint32_t *start = ch->start;
    const bprobe *b = ch->b;
    enum { FAR = 8 };
    uint32_t k = v0 ? start[v0 - 1] : 0, last = start[v1 - 1];
    for (uint32_t v = v0; v < v1; v++) {
        const mih_dir_ent *e = &dir->e[v];
        for (uint32_t end = start[v]; k < end; k++) {
            int i = b[k].pos;
            if (k + FAR < last) {
                /* the run of a probe some way ahead (a value or two on) */
                uint32_t vf = v;
                while (start[vf] <= k + FAR)
                    vf++;
                const mih_dir_ent *ef = &dir->e[vf];
                if (ef->p)
                    __builtin_prefetch(ef->p + ef->off[b[k + FAR].pos]);
            }
            if (!e->p || e->off[i + 1] == e->off[i])
                continue;
            probe pr;
            pr.p = e->p + e->off[i];
            pr.len = (uint32_t)((e->off[i + 1] - e->off[i]) / rec_size(i));
            pr.pos = (uint8_t)i;
            pr.limit = b[k].limit;
            const scrim_pdq *h = &ch->q[b[k].qi];
            uint16_t qw[PMAX] = {0};
            uint64_t qa = 0, qb = 0;
            for (int j = 0; j < P[i]; j++)
                qw[j] = h->w[(i + 1 + j) & 15];
            memcpy(&qa, qw, P[i] >= 4 ? 8 : 2 * (size_t)P[i]);
            if (P[i] > 4)
                memcpy(&qb, qw + 4, 2 * (size_t)(P[i] - 4));
            int rc;
            if (cv) {
                rc = scan_probe(qy, &pr, qa, qb, cv, b[k].qi);
            } else {
                qy->q = h;
                *cur = b[k].qi;
                rc = scan_probe(qy, &pr, qa, qb, NULL, 0);
            }
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* A helper thread's share of a chunk: the values from v0 on. */
typedef struct sweeper {
    query *qy;
    const chunk *ch;
    uint32_t v0;
    cand_vec cv;
    int rc;
} sweeper;

static void *sweep_thread(void *arg)
{
    sweeper *sw = arg;
    sw->rc = chunk_sweep(sw->qy, sw->ch, sw->v0, NVAL, NULL, &sw->cv);
    return NULL;
}

/* One chunk: with a helper thread (split), the values from 32768 on are
 * swept there at the same time, listing their candidates, which are
 * checked here afterwards (a check may read the store: only this thread
 * may use the transaction). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static int batch_chunk(query *qy, chunk *ch, size_t q0, size_t n,
                       size_t *cur, int split, cand_vec *cv)
{
    chunk_sort(qy, ch, q0, n);
    pthread_t th;
    sweeper sw = {qy, ch, NVAL / 2, *cv, 0};
    sw.cv.n = 0;
    if (!split || pthread_create(&th, NULL, sweep_thread, &sw))
        return chunk_sweep(qy, ch, 0, NVAL, cur, NULL);
    int rc = chunk_sweep(qy, ch, 0, NVAL / 2, cur, NULL);
    pthread_join(th, NULL);
    *cv = sw.cv; /* its buffer, grown, kept for the next chunk */
    if (!rc)
        rc = sw.rc;
    for (size_t k = 0; k < cv->n && !rc; k++) {
        qy->q = &ch->q[cv->v[k].qi];
        *cur = cv->v[k].qi;
        rc = verify(qy, cv->v[k].ref, cv->v[k].pos);
    }
    return rc;
}

int mih__query_batch(MDB_txn *txn, MDB_dbi index, MDB_dbi refs,
                     const mih_dir *dir, hc_view hc, const scrim_pdq *q,
                     size_t nq, int radius, int threads, size_t *cur,
                     mih_emit_fn emit, void *ud)
{
    pthread_once(&init_once, mih_init);
    if (radius < 0 || radius > SCRIM_MAX_RADIUS)
        return SCRIM_EINVAL;
    if (!dir || nq > UINT32_MAX) {
        int rc = 0;
        for (size_t k = 0; k < nq && !rc; k++) {
            *cur = k;
            rc = mih__query(txn, index, refs, dir, hc, &q[k], radius, emit,
                            ud);
        }
        return rc;
    }
    query qy;
    qy.txn = txn;
    qy.refs = refs;
    qy.dir = dir;
    qy.hc = hc;
    qy.radius = radius;
    qy.t = radius / 16;
    qy.emit = emit;
    qy.ud = ud;
    qy.noseen = 1;
    size_t per = (size_t)NPOS * mask_end[qy.t]; /* probes a query at most */
    size_t chunk_q = BATCH_PROBES / per ? BATCH_PROBES / per : 1;
    if (chunk_q > nq)
        chunk_q = nq;
    chunk ch = {q, malloc((NVAL + 1) * sizeof *ch.start),
                malloc(chunk_q * per * sizeof *ch.b)};
    cand_vec cv = {0};
    int rc = ch.start && ch.b ? 0 : SCRIM_ENOMEM;
    for (size_t q0 = 0; q0 < nq && !rc; q0 += chunk_q)
        rc = batch_chunk(&qy, &ch, q0, nq - q0 < chunk_q ? nq - q0 : chunk_q,
                         cur, threads > 1, &cv);
    free(ch.start);
    free(ch.b);
    free(cv.v);
    return rc;
}

int mih__find_exact(MDB_txn *txn, MDB_dbi index, MDB_dbi refs,
                    const scrim_pdq *q, mih_emit_fn emit, void *ud)
{
    /* radius 0: only position 0 is probed, one value, exact words */
    return mih__query(txn, index, refs, NULL, (hc_view){NULL, 0}, q, 0, emit, ud);
}

/* ---- the directory ----------------------------------------------------------
 * Where each of the 65536 values sits in the map, for one snapshot: one
 * cursor sweep (a few ms) replaces the B-tree descent of every probe.  The
 * pointers stay valid while any read transaction of that snapshot is open
 * (LMDB frees no page a reader can still see). */

int mih__dir_build(MDB_txn *txn, MDB_dbi index, mih_dir **out)
{
    mih_dir *d = calloc(1, sizeof *d);
    MDB_cursor *c;
    MDB_val k, v;
    if (!d)
        return SCRIM_ENOMEM;
    d->txnid = mdb_txn_id(txn);
    int rc = mdb_cursor_open(txn, index, &c);
    if (rc) {
        free(d);
        return SCRIM_EDB;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint32_t key, n[NPOS];
        if (k.mv_size != 4 || v.mv_size < HDR || v.mv_size > UINT32_MAX)
            continue;
        memcpy(&key, k.mv_data, 4);
        memcpy(n, v.mv_data, HDR);
        if (key >= NVAL || value_size(n) != v.mv_size)
            continue; /* corrupt: such a value is simply not probed */
        mih_dir_ent *e = &d->e[key];
        e->p = v.mv_data;
        e->off[0] = HDR;
        for (int i = 0; i < NPOS; i++)
            e->off[i + 1] = e->off[i] + (uint32_t)(n[i] * rec_size(i));
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) {
        free(d);
        return SCRIM_EDB;
    }
    *out = d;
    return 0;
}

int mih__scan(MDB_txn *txn, MDB_dbi refs, const scrim_pdq *q, int radius,
              mih_emit_fn emit, void *ud)
{
    MDB_cursor *c;
    MDB_val key, val;
    int rc = mdb_cursor_open(txn, refs, &c);
    if (rc)
        return SCRIM_EDB;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (val.mv_size < REF_BASE || key.mv_size != 4) {
            rc = SCRIM_EDB;
            break;
        }
        scrim_pdq h;
        memcpy(&h, val.mv_data, sizeof h);
        int d = scrim_pdq_distance(&h, q);
        if (d <= radius) {
            uint32_t ref;
            memcpy(&ref, key.mv_data, 4);
            if ((rc = emit(ud, ref, val.mv_data, val.mv_size, d)))
                break;
        }
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc > 0 || rc < -1000 ? SCRIM_EDB : rc; /* LMDB and errno codes */
}
