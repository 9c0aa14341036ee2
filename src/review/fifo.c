/* fifo.c - a queue of JSON items kept in an LMDB table, for what waits on
 * PostgreSQL in cluster mode (shared.c's reviewer data, loop.c's
 * decisions): keys are 8-byte big-endian numbers, oldest first, and the
 * key "next" holds the number the next item gets. */
#include "scrim.h"
#include "review/review.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void be64(uint64_t n, uint8_t k[8])
{
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(n >> (56 - 8 * i));
}

int review__fifo_put(MDB_env *env, MDB_dbi dbi, json_t *j)
{
    MDB_txn *txn;
    MDB_val nk = {4, "next"}, v;
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!env || !text || mdb_txn_begin(env, NULL, 0, &txn)) {
        free(text);
        return -1;
    }
    uint64_t seq = 1;
    if (!mdb_get(txn, dbi, &nk, &v) && v.mv_size == 8)
        memcpy(&seq, v.mv_data, 8);
    uint64_t next = seq + 1;
    uint8_t key[8];
    be64(seq, key);
    MDB_val k = {8, key}, tv = {strlen(text), text}, xv = {8, &next};
    int mrc = mdb_put(txn, dbi, &k, &tv, 0);
    if (!mrc)
        mrc = mdb_put(txn, dbi, &nk, &xv, 0);
    free(text);
    if (mrc) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) ? -1 : 0;
}

int review__fifo_first(MDB_env *env, MDB_dbi dbi, json_t **j, uint64_t *seq)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    json_error_t je;
    int found = 0;
    if (!env || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
        return 0;
    if (!mdb_cursor_open(txn, dbi, &c)) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc && !found;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size != 8)
                continue;
            *seq = 0;
            for (int i = 0; i < 8; i++)
                *seq = *seq << 8 | ((const uint8_t *)k.mv_data)[i];
            *j = json_loadb(v.mv_data, v.mv_size, 0, &je);
            found = 1;
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return found;
}

void review__fifo_del(MDB_env *env, MDB_dbi dbi, uint64_t seq)
{
    MDB_txn *txn;
    uint8_t key[8];
    be64(seq, key);
    MDB_val k = {8, key};
    if (!env || mdb_txn_begin(env, NULL, 0, &txn))
        return;
    int mrc = mdb_del(txn, dbi, &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        mdb_txn_abort(txn);
    else
        mdb_txn_commit(txn);
}
