/* pdq_random.h - reproducible random PDQ hashes and planted near neighbours,
 * shared by the store tests and bench/index_bench.c (header only and free
 * of cmocka, so the benchmark can include it). */
#ifndef SCRIM_PDQ_RANDOM_H
#define SCRIM_PDQ_RANDOM_H

#include <stdint.h>
#include <string.h>

#include "scrim.h"

/* The next number of a splitmix64 sequence kept in *state: the same seed
 * gives the same data on every machine, so failures reproduce. */
static inline uint64_t pdq_random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniformly random hash. */
static inline void pdq_random_hash(uint64_t *state, scrim_pdq *h)
{
    for (int i = 0; i < 16; i += 4) {
        uint64_t r = pdq_random_next(state);
        memcpy(&h->w[i], &r, 8);
    }
}

/* h with exactly d (0..256) distinct random bits flipped: a neighbour at
 * distance d. */
static inline void pdq_random_flip(uint64_t *state, scrim_pdq *h, int d)
{
    uint8_t used[256] = {0};
    while (d > 0) {
        int b = (int)(pdq_random_next(state) & 255);
        if (used[b])
            continue;
        used[b] = 1;
        h->w[b >> 4] ^= (uint16_t)(1u << (b & 15));
        d--;
    }
}

#endif
