/* mih_scan.h - the index's inner loop: which records of one run are close
 * enough to the query to be checked against their full hash (mih_scan.c). */
#ifndef SCRIM_MIH_SCAN_H
#define SCRIM_MIH_SCAN_H

#include <stdint.h>

/* The kernels, slowest to fastest.  Each gives the same answer. */
enum {
    MIH_SCAN_GENERIC, /* portable C */
    MIH_SCAN_POPCNT,  /* C, compiled for the POPCNT instruction */
    MIH_SCAN_AVX2,    /* AVX2: nibble-table popcounts, 2-8 records a step */
    MIH_SCAN_AVX512,  /* AVX-512 BW + VPOPCNTDQ: 8-16 records a step */
    MIH_SCAN_KINDS
};

/* Scan the n records of one run whose records hold np 16-bit words each
 * (2 <= np <= 6, the words of record k at words + 2 * np * k).  The words
 * must be followed by at least 4 readable bytes per record (in the index,
 * the run's refs), which a kernel may read but ignores.  qa holds the
 * query's words as stored in such a record (word j at bits 16j), words 0-3,
 * qb words 4-5.  Writes the indices k, ascending, of the records whose
 * words differ from the query's in at most `limit` bits (limit >= 0) to
 * out (room for n), and returns how many. */
typedef uint32_t (*mih_scan_fn)(const uint8_t *words, uint32_t n, int np,
                                uint64_t qa, uint64_t qb, int limit,
                                uint32_t *out);

/* The kernel of that kind, or NULL when this CPU (or build) lacks it. */
mih_scan_fn mih__scan_kernel(int kind);
/* The name of a kind ("generic", "popcnt", "avx2", "avx512"), or NULL. */
const char *mih__scan_name(int kind);
/* The fastest kind this CPU runs, or the one SCRIM_MIH_SCAN names when it
 * is set to a supported kind's name (to test or compare the others). */
int mih__scan_best(void);

/* The kernel queries use; for tests: force a kind (0, or SCRIM_EINVAL when
 * this CPU lacks it).  Not thread-safe: call before any query runs. */
int mih__scan_use(int kind);
int mih__scan_current(void);

#endif
