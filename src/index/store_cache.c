/* store_cache.c - the hash cache: the 32 bytes of every committed PDQ in
 * RAM, by ref, so that checking an index candidate (mih.c's verify) costs
 * one cache line instead of a descent of scrim.refs' B-tree.  At 10M
 * hashes a lookup has ~34 candidates, and their descents were about a
 * quarter of its time.
 *
 * Why a slot can be trusted:
 *  - a ref number is handed out once: scrim.meta's next_ref only grows, and
 *    an aborted import commits neither its refs nor the counter;
 *  - a ref record is written once (MDB_APPEND) and never rewritten, only
 *    deleted.
 * So a cached hash is that ref's hash in every snapshot that has the ref.
 * A fill reads the refs at and above `filled` in one snapshot S and writes
 * the slots of those that exist there.  A snapshot at or after S cannot
 * list a ref below the new `filled` that S lacks (removed refs never come
 * back), so every slot it can ask for is written.  An older snapshot could
 * (a ref removed before S): lookups in snapshots older than the latest
 * fill's do not use the cache (store__hc_view), and refs committed after
 * the latest fill are at or above `filled` and read from LMDB.
 *
 * Memory: 32 bytes per ref up to next_ref (10M hashes: 322 MB), in 2 MB
 * chunks of HC_CHUNK refs, advised MADV_HUGEPAGE, allocated as a fill
 * reaches them.  A fill writes slots at or above `filled` only; it stores
 * its snapshot's id in `txnid`, then publishes chunk pointers and `filled`
 * with release stores after the slots they cover.  Readers take no lock.
 * One filler at a time (hash_cache.fill), each reading a snapshot taken
 * under that lock, so that `txnid` only grows.  Freed by scrim_store_close. */
#include "index/index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HC_HASH_BYTES ((size_t)HC_CHUNK * sizeof(scrim_pdq))
/* Refs per publication of `filled` and per stop() question. */
#define HC_STEP 65536

static hash_cache *cache_of(scrim_store *s, int create)
{
    hash_cache *c = atomic_load_explicit(&s->hc, memory_order_acquire);
    if (c || !create)
        return c;
    pthread_mutex_lock(&s->hc_lock);
    c = atomic_load_explicit(&s->hc, memory_order_relaxed);
    if (!c && (c = calloc(1, sizeof *c))) {
        pthread_mutex_init(&c->fill, NULL);
        atomic_store_explicit(&s->hc, c, memory_order_release);
    }
    pthread_mutex_unlock(&s->hc_lock);
    return c;
}

static scrim_pdq *chunk_new(void)
{
    void *p = NULL;
    if (posix_memalign(&p, HC_HASH_BYTES, HC_HASH_BYTES))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, HC_HASH_BYTES, MADV_HUGEPAGE); /* advice: failure is harmless */
#endif
    return p;
}

hc_view store__hc_view(scrim_store *s, MDB_txn *txn)
{
    hc_view v = {atomic_load_explicit(&s->hc, memory_order_acquire), 0};
    if (v.c) {
        /* filled first: the txnid read after it is at least that of every
         * fill whose slots lie below it */
        uint32_t limit = atomic_load_explicit(&v.c->filled, memory_order_acquire);
        if (mdb_txn_id(txn) >= atomic_load_explicit(&v.c->txnid, memory_order_acquire))
            v.limit = limit;
    }
    return v;
}

/* Read the refs at and above `filled` in txn's snapshot into the cache;
 * next is the snapshot's next_ref.  Called under c->fill, with txn begun
 * under it. */
static int fill(scrim_store *s, hash_cache *c, MDB_txn *txn, uint32_t next,
                int (*stop)(void *arg), void *arg, uint64_t *added,
                int *stopped)
{
    uint32_t from = atomic_load_explicit(&c->filled, memory_order_relaxed);
    if (stop && stop(arg)) {
        *stopped = 1;
        return 0;
    }
    if (mdb_txn_id(txn) < atomic_load_explicit(&c->txnid, memory_order_relaxed))
        return 0; /* cannot happen (snapshots are taken under the lock) */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->refs, &cur);
    if (rc)
        return rc;
    /* before any slot of this fill is published */
    atomic_store_explicit(&c->txnid, mdb_txn_id(txn), memory_order_release);
    MDB_val k = {sizeof from, &from}, v;
    uint32_t end = from; /* every ref below end that exists is written */
    uint64_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t ref;
        if (k.mv_size != sizeof ref || v.mv_size < REF_BASE)
            continue; /* not a ref record: left to scrim.refs */
        memcpy(&ref, k.mv_data, sizeof ref);
        if (++n % HC_STEP == 0) {
            atomic_store_explicit(&c->filled, ref, memory_order_release);
            if (stop && stop(arg)) {
                *stopped = 1;
                break;
            }
        }
        scrim_pdq *_Atomic *slot = &c->chunk[ref >> HC_CHUNK_BITS];
        scrim_pdq *ch = atomic_load_explicit(slot, memory_order_relaxed);
        if (!ch) {
            if (!(ch = chunk_new())) {
                rc = SCRIM_ENOMEM;
                break;
            }
            c->bytes += HC_HASH_BYTES;
            atomic_store_explicit(slot, ch, memory_order_release);
        }
        memcpy(&ch[ref & (HC_CHUNK - 1)], (const uint8_t *)v.mv_data + REF_HASH,
               sizeof(scrim_pdq));
        (*added)++;
        end = ref + 1;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        /* the whole table read: refs below next_ref that it lacks were
         * removed, and their numbers are never given out again */
        rc = 0;
        if (next > end)
            end = next;
    }
    /* a fill that stopped or failed keeps what it read: it read in order */
    atomic_store_explicit(&c->filled, end, memory_order_release);
    c->count += *added;
    return rc;
}

/* The snapshot's next_ref; non-zero when it cannot be read. */
static int next_ref(MDB_txn *txn, scrim_store *s, uint64_t *next)
{
    *next = 1;
    return store__meta_get(s, txn, "next_ref", next) || *next > UINT32_MAX;
}

int scrim_store_cache_hashes(scrim_store *s, int (*stop)(void *arg), void *arg,
                             scrim_store_cache_stats *out)
{
    scrim_store_cache_stats st = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MDB_txn *txn = NULL;
    uint64_t next;
    int rc = 0;
    hash_cache *c = cache_of(s, 0);
    if (!c) {
        /* a cache that would take more than a quarter of the RAM is not made */
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) || next_ref(txn, s, &next)) {
            rc = SCRIM_EDB;
            goto out;
        }
        mdb_txn_abort(txn);
        txn = NULL;
        if (pages > 0 && psize > 0 && (next / HC_CHUNK + 1) * HC_HASH_BYTES >
                                          (uint64_t)pages * (uint64_t)psize / 4) {
            st.too_big = 1;
            goto out;
        }
        if (!(c = cache_of(s, 1))) {
            rc = SCRIM_ENOMEM;
            goto out;
        }
    }
    /* The snapshot is taken under the lock, so that fills read ever newer
     * snapshots and `txnid` only grows (see store__hc_view). */
    pthread_mutex_lock(&c->fill);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) || next_ref(txn, s, &next))
        rc = SCRIM_EDB;
    else
        rc = fill(s, c, txn, (uint32_t)next, stop, arg, &st.added, &st.stopped);
    st.hashes = c->count;
    st.bytes = c->bytes;
    pthread_mutex_unlock(&c->fill);
    if (rc && rc != SCRIM_ENOMEM)
        rc = SCRIM_EDB;
out:
    if (txn)
        mdb_txn_abort(txn);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st.seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (out)
        *out = st;
    return rc;
}

void store__hc_extend(scrim_store *s)
{
    if (cache_of(s, 0))
        scrim_store_cache_hashes(s, NULL, NULL, NULL);
}

void store__hc_free(scrim_store *s)
{
    hash_cache *c = cache_of(s, 0);
    if (!c)
        return;
    for (uint32_t i = 0; i < HC_NCHUNK; i++)
        free(atomic_load_explicit(&c->chunk[i], memory_order_relaxed));
    pthread_mutex_destroy(&c->fill);
    free(c);
    s->hc = NULL;
}
