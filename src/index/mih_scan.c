/* mih_scan.c - the index's inner loop (see mih_scan.h): portable C, POPCNT,
 * AVX2 and AVX-512 kernels that filter one run of index records, chosen at
 * run time by what the CPU supports.
 *
 * A record of a run is np 16-bit words (4 to 12 bytes, no padding).  The
 * vector kernels move each record into a 64-bit lane (two for np > 4), XOR
 * it with the query's words, count bits per lane and compare with the
 * limit, giving a bit mask of candidates per block of records; the few
 * candidates are then listed in order.  Reading past the last record is
 * allowed by the contract (the run's refs follow its words), which lets the
 * C and AVX2 kernels load whole words; AVX-512 uses masked loads. */
#include "index/mih_scan.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define MIH_X86 1
#include <immintrin.h>
#endif

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- C ----------------------------------------------------------------------- */

/* One record at a time; np is a constant in each inlined copy, so every
 * load has a fixed width (a 6-byte record is read as 8 bytes and masked:
 * assembling it from pieces through memory stalls the load). */
static inline __attribute__((always_inline)) uint32_t
scan_c(const uint8_t *p, uint32_t k, uint32_t n, const int np, uint64_t qa,
       uint64_t qb, int limit, uint32_t *out, uint32_t c)
{
    const size_t pw = 2 * (size_t)np;
    for (p += k * pw; k < n; k++, p += pw) {
        uint64_t a, b = 0;
        if (np == 2)
            a = ld32(p);
        else if (np == 3)
            a = ld64(p) & 0xffffffffffffull;
        else
            a = ld64(p);
        if (np == 5)
            b = ld32(p + 8) & 0xffff;
        else if (np == 6)
            b = ld32(p + 8);
        int d = __builtin_popcountll(a ^ qa);
        if (np > 4)
            d += __builtin_popcountll(b ^ qb);
        out[c] = k; /* branch-free: candidates are rare, but unpredictable */
        c += d <= limit;
    }
    return c;
}

#define SCAN_C_BODY                                                           \
    switch (np) {                                                             \
    case 2: return scan_c(p, 0, n, 2, qa, qb, limit, out, 0);                 \
    case 3: return scan_c(p, 0, n, 3, qa, qb, limit, out, 0);                 \
    case 4: return scan_c(p, 0, n, 4, qa, qb, limit, out, 0);                 \
    case 5: return scan_c(p, 0, n, 5, qa, qb, limit, out, 0);                 \
    default: return scan_c(p, 0, n, 6, qa, qb, limit, out, 0);                \
    }

static uint32_t scan_generic(const uint8_t *p, uint32_t n, int np, uint64_t qa,
                             uint64_t qb, int limit, uint32_t *out)
{
    SCAN_C_BODY
}

#ifdef MIH_X86
__attribute__((target("popcnt")))
static uint32_t scan_popcnt(const uint8_t *p, uint32_t n, int np, uint64_t qa,
                            uint64_t qb, int limit, uint32_t *out)
{
    SCAN_C_BODY
}

/* ---- AVX2 -------------------------------------------------------------------- */

#define AVX2_TARGET __attribute__((target("avx2,popcnt,bmi")))

/* Bits set per byte: a 16-entry table looked up per nibble. */
AVX2_TARGET static inline __m256i avx2_popcnt8(__m256i x)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(x, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/* Two 16-byte loads, at a (low lane) and b (high lane). */
AVX2_TARGET static inline __m256i avx2_load2(const uint8_t *a, const uint8_t *b)
{
    __m128i lo = _mm_loadu_si128((const __m128i *)a);
    __m128i hi = _mm_loadu_si128((const __m128i *)b);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Candidates of a block, bit j = record k + j, appended to out. */
static inline __attribute__((always_inline)) uint32_t
emit_mask(uint32_t m, uint32_t k, uint32_t *out, uint32_t c)
{
    while (m) {
        out[c++] = k + (uint32_t)__builtin_ctz(m);
        m &= m - 1;
    }
    return c;
}

AVX2_TARGET static inline __attribute__((always_inline)) uint32_t
scan_avx2_np(const uint8_t *p, uint32_t n, const int np, uint64_t qa,
             uint64_t qb, int limit, uint32_t *out)
{
    const size_t pw = 2 * (size_t)np;
    uint32_t k = 0, c = 0;
    if (np == 2) {
        /* 8 records of 32 bits: byte counts summed by pairs, twice */
        const __m256i q = _mm256_set1_epi32((int)(uint32_t)qa);
        const __m256i lim = _mm256_set1_epi32(limit);
        const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
        for (; k + 8 <= n; k += 8) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + k * pw));
            __m256i b = avx2_popcnt8(_mm256_xor_si256(x, q));
            __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(b, one8), one16);
            uint32_t m = ~(uint32_t)_mm256_movemask_ps(
                             _mm256_castsi256_ps(_mm256_cmpgt_epi32(d, lim))) & 0xff;
            c = emit_mask(m, k, out, c);
        }
    } else if (np <= 4) {
        /* 4 records in 64-bit lanes (np = 3: moved there, the 4th word
         * zeroed); byte counts summed per lane by VPSADBW */
        const __m256i q = _mm256_set1_epi64x((long long)qa);
        const __m256i lim = _mm256_set1_epi64x(limit);
        const __m256i spread = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1,
                                                0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1);
        for (; k + 4 <= n; k += 4) {
            const uint8_t *r = p + k * pw;
            __m256i x;
            if (np == 4)
                x = _mm256_loadu_si256((const __m256i *)r);
            else
                x = _mm256_shuffle_epi8(avx2_load2(r, r + 12), spread);
            __m256i b = avx2_popcnt8(_mm256_xor_si256(x, q));
            __m256i d = _mm256_sad_epu8(b, _mm256_setzero_si256());
            uint32_t m = ~(uint32_t)_mm256_movemask_pd(
                             _mm256_castsi256_pd(_mm256_cmpgt_epi64(d, lim))) & 0xf;
            c = emit_mask(m, k, out, c);
        }
    } else {
        /* 4 records, one per 128-bit lane of two vectors: the words past
         * the record masked off, the two lane halves added */
        const __m256i q = _mm256_setr_epi64x((long long)qa, (long long)qb,
                                             (long long)qa, (long long)qb);
        const long long kb = np == 5 ? 0xffff : 0xffffffff;
        const __m256i keep = _mm256_setr_epi64x(-1, kb, -1, kb);
        const __m256i lim = _mm256_set1_epi64x(limit);
        for (; k + 4 <= n; k += 4) {
            const uint8_t *r = p + k * pw;
            __m256i x1 = _mm256_and_si256(_mm256_xor_si256(avx2_load2(r, r + pw), q), keep);
            __m256i x2 = _mm256_and_si256(_mm256_xor_si256(avx2_load2(r + 2 * pw, r + 3 * pw), q),
                                          keep);
            __m256i s1 = _mm256_sad_epu8(avx2_popcnt8(x1), _mm256_setzero_si256());
            __m256i s2 = _mm256_sad_epu8(avx2_popcnt8(x2), _mm256_setzero_si256());
            /* lanes: records 0, 2 | 1, 3 */
            __m256i d = _mm256_add_epi64(_mm256_unpacklo_epi64(s1, s2),
                                         _mm256_unpackhi_epi64(s1, s2));
            uint32_t g = ~(uint32_t)_mm256_movemask_pd(
                             _mm256_castsi256_pd(_mm256_cmpgt_epi64(d, lim)));
            uint32_t m = (g & 1) | (g >> 1 & 2) | (g << 1 & 4) | (g & 8);
            c = emit_mask(m, k, out, c);
        }
    }
    return scan_c(p, k, n, np, qa, qb, limit, out, c);
}

AVX2_TARGET static uint32_t scan_avx2(const uint8_t *p, uint32_t n, int np,
                                      uint64_t qa, uint64_t qb, int limit,
                                      uint32_t *out)
{
    switch (np) {
    case 2: return scan_avx2_np(p, n, 2, qa, qb, limit, out);
    case 3: return scan_avx2_np(p, n, 3, qa, qb, limit, out);
    case 4: return scan_avx2_np(p, n, 4, qa, qb, limit, out);
    case 5: return scan_avx2_np(p, n, 5, qa, qb, limit, out);
    default: return scan_avx2_np(p, n, 6, qa, qb, limit, out);
    }
}

/* ---- AVX-512 ------------------------------------------------------------------ */

#define AVX512_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,bmi,bmi2")))

static const uint16_t iota16[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                    22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Masked loads read only the records' words, so every block, the last
 * one included, goes through the vector path. */
AVX512_TARGET static inline __attribute__((always_inline)) uint32_t
scan_avx512_np(const uint8_t *p, uint32_t n, const int np, uint64_t qa,
               uint64_t qb, int limit, uint32_t *out)
{
    const size_t pw = 2 * (size_t)np;
    uint32_t c = 0;
    if (np == 2) {
        /* 16 records of 32 bits */
        const __m512i q = _mm512_set1_epi32((int)(uint32_t)qa);
        const __m512i lim = _mm512_set1_epi32(limit);
        for (uint32_t k = 0; k < n; k += 16) {
            __mmask16 live = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
            __m512i x = _mm512_maskz_loadu_epi32(live, p + k * pw);
            __m512i d = _mm512_popcnt_epi32(_mm512_xor_si512(x, q));
            c = emit_mask(_mm512_mask_cmple_epu32_mask(live, d, lim), k, out, c);
        }
        return c;
    }
    /* 8 records, words 0-3 in 64-bit lanes (A), words 4-5 in others (B) */
    const __m512i qva = _mm512_set1_epi64((long long)qa);
    const __m512i qvb = _mm512_set1_epi64((long long)qb);
    const __m512i lim = _mm512_set1_epi64(limit);
    const __m512i j = _mm512_loadu_si512(iota16);
    const __m512i sl = _mm512_and_si512(j, _mm512_set1_epi16(3)); /* word in lane */
    const __m512i idxa = _mm512_add_epi16(
        _mm512_mullo_epi16(_mm512_srli_epi16(j, 2), _mm512_set1_epi16((short)np)), sl);
    const __m512i idxb = _mm512_add_epi16(idxa, _mm512_set1_epi16(4));
    const __mmask32 keepa = np == 3 ? 0x77777777u : 0xffffffffu;
    const __mmask32 keepb = np == 5 ? 0x11111111u : 0x33333333u;
    for (uint32_t k = 0; k < n; k += 8) {
        uint32_t rem = n - k >= 8 ? 8 : n - k, nw = rem * (uint32_t)np;
        const uint8_t *r = p + k * pw;
        __mmask8 live = (__mmask8)((1u << rem) - 1);
        __mmask32 wlo = nw >= 32 ? 0xffffffffu : (__mmask32)((1u << nw) - 1);
        __m512i d;
        if (np == 4) {
            __m512i x = _mm512_maskz_loadu_epi64(live, r);
            d = _mm512_popcnt_epi64(_mm512_xor_si512(x, qva));
        } else if (np == 3) {
            __m512i x = _mm512_maskz_loadu_epi16(wlo, r);
            x = _mm512_maskz_permutexvar_epi16(keepa, idxa, x);
            d = _mm512_popcnt_epi64(_mm512_xor_si512(x, qva));
        } else {
            __mmask32 whi = nw > 32 ? (__mmask32)((1u << (nw - 32)) - 1) : 0;
            __m512i lo = _mm512_maskz_loadu_epi16(wlo, r);
            __m512i hi = _mm512_maskz_loadu_epi16(whi, r + 64);
            __m512i a = _mm512_permutex2var_epi16(lo, idxa, hi);
            __m512i b = _mm512_maskz_permutex2var_epi16(keepb, lo, idxb, hi);
            d = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(a, qva)),
                                 _mm512_popcnt_epi64(_mm512_xor_si512(b, qvb)));
        }
        c = emit_mask(_mm512_mask_cmple_epu64_mask(live, d, lim), k, out, c);
    }
    return c;
}

AVX512_TARGET static uint32_t scan_avx512(const uint8_t *p, uint32_t n, int np,
                                          uint64_t qa, uint64_t qb, int limit,
                                          uint32_t *out)
{
    switch (np) {
    case 2: return scan_avx512_np(p, n, 2, qa, qb, limit, out);
    case 3: return scan_avx512_np(p, n, 3, qa, qb, limit, out);
    case 4: return scan_avx512_np(p, n, 4, qa, qb, limit, out);
    case 5: return scan_avx512_np(p, n, 5, qa, qb, limit, out);
    default: return scan_avx512_np(p, n, 6, qa, qb, limit, out);
    }
}
#endif /* MIH_X86 */

/* ---- dispatch ------------------------------------------------------------------ */

static const char *const names[MIH_SCAN_KINDS] = {"generic", "popcnt", "avx2", "avx512"};

mih_scan_fn mih__scan_kernel(int kind)
{
#ifdef MIH_X86
    __builtin_cpu_init();
    switch (kind) {
    case MIH_SCAN_GENERIC:
        return scan_generic;
    case MIH_SCAN_POPCNT:
        return __builtin_cpu_supports("popcnt") ? scan_popcnt : NULL;
    case MIH_SCAN_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
                       __builtin_cpu_supports("bmi")
                   ? scan_avx2
                   : NULL;
    case MIH_SCAN_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512vpopcntdq") &&
                       __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi") &&
                       __builtin_cpu_supports("bmi2")
                   ? scan_avx512
                   : NULL;
    }
    return NULL;
#else
    return kind == MIH_SCAN_GENERIC ? scan_generic : NULL;
#endif
}

const char *mih__scan_name(int kind)
{
    return kind >= 0 && kind < MIH_SCAN_KINDS ? names[kind] : NULL;
}

int mih__scan_best(void)
{
    const char *want = getenv("SCRIM_MIH_SCAN");
    for (int k = 0; want && k < MIH_SCAN_KINDS; k++)
        if (!strcmp(want, names[k]) && mih__scan_kernel(k))
            return k;
    for (int k = MIH_SCAN_KINDS - 1; k > 0; k--)
        if (mih__scan_kernel(k))
            return k;
    return MIH_SCAN_GENERIC;
}
