/* jpeg_huff.c - a faster Huffman decoder for baseline JPEGs, plugged into
 * libjpeg(-turbo) in place of its own (jpeg.c attaches it).
 *
 * Why.  Huffman decoding was about 45% of the time scrim takes to hash a
 * 1024-px photo and 37% of scrimd's CPU.  libjpeg-turbo looks a code up 8
 * bits at a time, then fetches the coefficient's extra bits separately, and
 * refills its bit buffer a byte at a time, testing each for 0xFF.  Here:
 *   - one table look-up of 10 bits gives, for most AC coefficients, the run,
 *     the value and the total length at once (code and extra bits);
 *   - the 64-bit buffer is refilled with up to 7 bytes at once when none of
 *     them is 0xFF (one test for all of them), without a branch on how full
 *     it is, and five fast symbols go per refill;
 *   - with BMI2, the variable shifts are single instructions.
 * Only the entropy decoding changes: libjpeg still runs the scan, the IDCT,
 * upsampling and everything else, so decoding stays libjpeg's.
 *
 * Exactness.  For valid data, Huffman decoding has one answer, so the
 * coefficients are libjpeg's.  The corner cases of damaged data are
 * reproduced where cheap (a run past coefficient 63 lands on 63, DC sums wrap
 * as libjpeg's do) and otherwise NOT handled here: an undefined code, data
 * that runs into a marker or the end before the scan is done, a restart
 * marker that is not the expected one or not where expected, 0xFF fill bytes.
 * Any of these calls the `fail` hook, which abandons this decode (jpeg.c
 * longjmps out and decodes the file again with libjpeg's own decoder, which
 * has its own rules for them: warnings, zero padding, resynchronisation).
 * So a file decodes to the same pixels either way; tests/test_image.c checks
 * that on every JPEG it has, damaged ones included.
 *
 * Only single-scan, 8-bit, baseline / extended-sequential Huffman files with
 * every component in the scan are taken (scrim__jhuff_attach says whether);
 * progressive, arithmetic and multi-scan files keep libjpeg's decoder. */
#include "base/base.h"
#include "decode/decode.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jpegint.h>

#define LB 10 /* bits looked up at once */

typedef struct htab {
    /* (length << 8) | symbol for codes of at most LB bits, 0 for longer */
    uint16_t look[1 << LB];
    /* (value << 16) | (advance << 8) | bits, for a code and its extra bits
     * that fit in LB bits together; 0 otherwise.  DC: the difference.  AC:
     * the coefficient and its run; an end of block is a 0 stored past the
     * end (advance EOB_RUN), a run of 16 zeros a 0 stored at its last one. */
    int32_t fast[1 << LB];
    /* longer codes, as in the JPEG standard (F.2.2.3): the largest code of
     * each length (-1: none), and where its symbols start in val */
    int32_t maxcode[17];
    int32_t valoff[17];
    uint8_t val[256];
} htab;

typedef struct bitreader {
    uint64_t buf;          /* next bits, from the top */
    int n;                 /* bits in buf, pad included */
    int pad;               /* of which zeros after a marker or the end */
    const uint8_t *p, *end;
    const uint8_t *marker; /* the 0xFF of the marker that stopped reading */
} bitreader;

struct scrim__jhuff {
    bitreader br;
    void (*fail)(j_decompress_ptr c);
    const htab *dc[D_MAX_BLOCKS_IN_MCU], *ac[D_MAX_BLOCKS_IN_MCU];
    int comp[D_MAX_BLOCKS_IN_MCU];
    int last_dc[MAX_COMPS_IN_SCAN];
    unsigned restart_interval, togo, next_rst;
    uint64_t mcus, total;
    htab tabs[8]; /* DC 0-3, AC 0-3 */
    uint8_t built[8];
};

/* Zig-zag order to natural order.  The entries past 63 catch runs past the
 * end of a damaged block (as libjpeg's own table does: they land on 63) and
 * the fast table's ends of block, which store a 0 there: harmless, as
 * coefficient 63 is only ever written when it ends the block. */
#define EOB_RUN 80
static uint8_t natural[64 + EOB_RUN + 1];
static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
static pthread_once_t natural_once = PTHREAD_ONCE_INIT;

static void natural_init(void)
{
    for (size_t k = 0; k < sizeof natural; k++)
        natural[k] = k < 64 ? zigzag[k] : 63;
}

static inline __attribute__((always_inline)) int extend(int x, int s)
{
    /* x < 2^(s-1): x - (2^s - 1); else x (s >= 1) */
    return x - ((((x >> (s - 1)) & 1) - 1) & ((1 << s) - 1));
}

/* Builds t from a JPEG table; 0 if it is not a valid one. */
static int build(htab *t, const JHUFF_TBL *h, int dc)
{
    int count = 0;
    for (int l = 1; l <= 16; l++)
        count += h->bits[l];
    if (count > 256)
        return 0;
    memcpy(t->val, h->huffval, (size_t)count);
    memset(t->look, 0, sizeof t->look);
    memset(t->fast, 0, sizeof t->fast);
    int32_t code = 0;
    int k = 0;
    for (int l = 1; l <= 16; l++) {
        t->valoff[l] = k - code;
        t->maxcode[l] = h->bits[l] ? code + h->bits[l] - 1 : -1;
        /* codes of this length must fit in it, none all ones (as libjpeg) */
        if (code + h->bits[l] >= (1 << l))
            return 0;
        for (int i = 0; i < h->bits[l]; i++, k++, code++) {
            int sym = t->val[k];
            if (dc && sym > 15)
                return 0;
            if (l <= LB) {
                int span = 1 << (LB - l);
                for (int j = 0; j < span; j++)
                    t->look[(code << (LB - l)) | j] = (uint16_t)(l << 8 | sym);
            }
        }
        code <<= 1;
    }
    for (int v = 0; v < (1 << LB); v++) {
        int e = t->look[v], l = e >> 8, sym = e & 0xff;
        int r = dc ? 0 : sym >> 4, s = dc ? sym : sym & 15;
        if (!e || l + s > LB)
            continue;
        int x = s ? (v >> (LB - l - s)) & ((1 << s) - 1) : 0;
        if (!dc && !s) /* libjpeg's baseline decoder: anything else ends */
            r = r == 15 ? 15 : EOB_RUN;
        t->fast[v] = (int32_t)((uint32_t)(s ? extend(x, s) : 0) << 16) |
                     r << 8 | (l + s);
    }
    return 1;
}

/* Reads bytes until 56 to 63 bits are in (never 64: REFILL needs n < 64);
 * stops at a marker or the end, and pads with zeros from there. */
static void fill_slow(bitreader *b)
{
    while (b->n < 56) {
        if (!b->marker) {
            if (b->p < b->end) {
                unsigned c = *b->p;
                if (c != 0xff) {
                    b->buf |= (uint64_t)c << (56 - b->n);
                    b->n += 8;
                    b->p++;
                    continue;
                }
                if (b->p + 1 < b->end && b->p[1] == 0) { /* stuffed 0xFF */
                    b->buf |= (uint64_t)0xff << (56 - b->n);
                    b->n += 8;
                    b->p += 2;
                    continue;
                }
            }
            b->marker = b->p;
        }
        b->n += 8;
        b->pad += 8;
    }
}

/* The decoder's bit state lives in locals buf, n, p and fend (the last
 * position an 8-byte load may start from; none after a marker), so that it
 * stays in registers.  REFILL tops buf up with the whole bytes that fit,
 * taken at once when none of the next 8 is 0xFF (one test for them all; a
 * borrow can flag a byte before a real 0xFF too, which only sends that refill
 * the slow way), else a byte at a time by fill_slow.  It is unconditional
 * (no branch on n to mispredict) and only adds bits below the n held, so a
 * look-up of the top bits can go ahead of it. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define REFILL(br)                                                            \
    do {                                                                      \
        int nb_ = (63 - n) >> 3;                                              \
        if (p <= fend) {                                                      \
            uint64_t w_;                                                      \
            memcpy(&w_, p, 8);                                                \
            w_ = __builtin_bswap64(w_);                                       \
            uint64_t x_ = ~w_, m_ = ~0ULL << 1 << (63 - 8 * nb_);             \
            if (!((x_ - ONES) & ~x_ & HIGHS & m_)) {                          \
                buf |= (w_ & m_) >> n;                                        \
                p += nb_;                                                     \
                n += 8 * nb_;                                                 \
                break;                                                        \
            }                                                                 \
        }                                                                     \
        (br)->buf = buf, (br)->n = n, (br)->p = p;                            \
        fill_slow(br);                                                        \
        buf = (br)->buf, n = (br)->n, p = (br)->p;                            \
        if ((br)->marker)                                                     \
            fend = NULL;                                                      \
    } while (0)

static inline __attribute__((always_inline)) unsigned
getbits(uint64_t *buf, int *n, int s)
{
    unsigned x = (unsigned)(*buf >> (64 - s));
    *buf <<= s;
    *n -= s;
    return x;
}

/* The next symbol (the buffer holding at least 16 bits), -1 for none. */
static inline __attribute__((always_inline)) int
symbol(uint64_t *buf, int *n, const htab *t)
{
    int e = t->look[*buf >> (64 - LB)];
    if (e) {
        *buf <<= e >> 8;
        *n -= e >> 8;
        return e & 0xff;
    }
    for (int l = LB + 1; l <= 16; l++) {
        int32_t code = (int32_t)(*buf >> (64 - l));
        if (code <= t->maxcode[l]) {
            *buf <<= l;
            *n -= l;
            return t->val[(t->valoff[l] + code) & 0xff];
        }
    }
    return -1;
}

static void restart(j_decompress_ptr c, scrim__jhuff *h)
{
    bitreader *b = &h->br;
    if (!b->marker && b->n < 56)
        fill_slow(b);
    /* what is left of the last byte, then RSTn at once */
    if (!b->marker || b->n - b->pad >= 8 || b->n < b->pad ||
        b->marker + 1 >= b->end || b->marker[1] != 0xd0 + h->next_rst)
        h->fail(c);
    b->p = b->marker + 2;
    b->marker = NULL;
    b->buf = 0;
    b->n = b->pad = 0;
    memset(h->last_dc, 0, sizeof h->last_dc);
    h->next_rst = (h->next_rst + 1) & 7;
    h->togo = h->restart_interval;
}

/* One MCU (the body of both builds below). */
static inline __attribute__((always_inline)) boolean
decode_mcu_body(j_decompress_ptr c, JBLOCKROW *mcu)
{
    scrim__jhuff *h = c->client_data;
    if (h->restart_interval) {
        if (!h->togo)
            restart(c, h);
        h->togo--;
    }
    bitreader *br = &h->br;
    uint64_t buf = br->buf;
    int n = br->n;
    const uint8_t *p = br->p, *fend = br->marker ? NULL : br->end - 8;
    for (int blk = 0; blk < c->blocks_in_MCU; blk++) {
        JCOEF *out = mcu[blk][0];
        const htab *ac = h->ac[blk];
        REFILL(br);
        int32_t f = h->dc[blk]->fast[buf >> (64 - LB)];
        int s, v;
        if (f) {
            buf <<= f & 0xff;
            n -= f & 0xff;
            v = f >> 16;
        } else {
            if ((s = symbol(&buf, &n, h->dc[blk])) < 0)
                goto bad;
            v = s ? extend((int)getbits(&buf, &n, s), s) : 0;
        }
        int ci = h->comp[blk];
        /* libjpeg's sum, unsigned: damaged files can make it wrap */
        h->last_dc[ci] = (int)((unsigned)h->last_dc[ci] + (unsigned)v);
        out[0] = (JCOEF)h->last_dc[ci];
        /* A refill leaves at least 56 bits; a symbol from the fast table
         * takes at most LB = 10, any other at most 31 (16 + 15).  So at the
         * top of this loop at least 25 bits are in (after the DC, or after a
         * slow symbol): two fast symbols can go, then a refill, then three
         * more (>= 26 bits left).  A slow one refills first. */
        int k = 1;
        for (;;) {
#define FAST_STEP                                                             \
    f = ac->fast[buf >> (64 - LB)];                                           \
    if (!f)                                                                   \
        goto slow;                                                            \
    buf <<= f & 0xff;                                                         \
    n -= f & 0xff;                                                            \
    k += (f >> 8) & 0xff;                                                     \
    out[natural[k]] = (JCOEF)(f >> 16);                                       \
    if (++k >= 64)                                                            \
        break
            FAST_STEP;
            FAST_STEP;
            REFILL(br);
            FAST_STEP;
            FAST_STEP;
            FAST_STEP;
            continue;
#undef FAST_STEP
        slow:
            REFILL(br);
            int rs = symbol(&buf, &n, ac);
            if (rs < 0)
                goto bad;
            int r = rs >> 4;
            s = rs & 15;
            if (s) {
                k += r;
                out[natural[k]] = (JCOEF)extend((int)getbits(&buf, &n, s), s);
            } else if (r == 15)
                k += 15;
            else
                break;
            if (++k >= 64)
                break;
        }
    }
    if (n < br->pad) /* bits taken past a marker or the end */
        goto bad;
    br->buf = buf;
    br->n = n;
    br->p = p;
    if (++h->mcus == h->total) {
        /* the scan is done: libjpeg reads on from the marker that ends it */
        const uint8_t *at = br->marker ? br->marker : p;
        c->src->next_input_byte = at;
        c->src->bytes_in_buffer = (size_t)(br->end - at);
    }
    return TRUE;
bad:
    h->fail(c);
    return FALSE;
}

/* Variable shifts are most of the decoder's critical path: with BMI2 they
 * are one instruction each (shlx / shrx) instead of three. */
static boolean decode_mcu(j_decompress_ptr c, JBLOCKROW *mcu)
{
    return decode_mcu_body(c, mcu);
}

__attribute__((target("bmi2"))) static boolean
decode_mcu_bmi2(j_decompress_ptr c, JBLOCKROW *mcu)
{
    return decode_mcu_body(c, mcu);
}

scrim__jhuff *scrim__jhuff_attach(j_decompress_ptr c, const void *buf,
                                  size_t len, void (*fail)(j_decompress_ptr))
{
    const uint8_t *data = buf, *at = c->src->next_input_byte;
    if (c->progressive_mode || c->arith_code || c->data_precision != 8 ||
        c->buffered_image || c->comps_in_scan != c->num_components ||
        c->Ss != 0 || c->Se != DCTSIZE2 - 1 || c->Ah || c->Al ||
        c->unread_marker || c->blocks_in_MCU > D_MAX_BLOCKS_IN_MCU ||
        c->comps_in_scan > MAX_COMPS_IN_SCAN || !c->entropy ||
        at < data || at > data + len || c->client_data)
        return NULL;
    pthread_once(&natural_once, natural_init);
    scrim__jhuff *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    memset(h->built, 0, sizeof h->built);
    for (int i = 0; i < c->comps_in_scan; i++) {
        jpeg_component_info *k = c->cur_comp_info[i];
        if (!k->component_needed || k->dc_tbl_no < 0 || k->dc_tbl_no > 3 ||
            k->ac_tbl_no < 0 || k->ac_tbl_no > 3)
            goto no;
        JHUFF_TBL *t[2] = {c->dc_huff_tbl_ptrs[k->dc_tbl_no],
                           c->ac_huff_tbl_ptrs[k->ac_tbl_no]};
        int slot[2] = {k->dc_tbl_no, 4 + k->ac_tbl_no};
        for (int j = 0; j < 2; j++) {
            if (h->built[slot[j]])
                continue;
            if (!t[j] || !build(&h->tabs[slot[j]], t[j], j == 0))
                goto no;
            h->built[slot[j]] = 1;
        }
    }
    for (int blk = 0; blk < c->blocks_in_MCU; blk++) {
        int ci = c->MCU_membership[blk];
        if (ci < 0 || ci >= c->comps_in_scan)
            goto no;
        jpeg_component_info *k = c->cur_comp_info[ci];
        h->comp[blk] = ci;
        h->dc[blk] = &h->tabs[k->dc_tbl_no];
        h->ac[blk] = &h->tabs[4 + k->ac_tbl_no];
    }
    memset(&h->br, 0, sizeof h->br);
    h->br.p = at;
    h->br.end = data + len;
    h->fail = fail;
    memset(h->last_dc, 0, sizeof h->last_dc);
    h->restart_interval = c->restart_interval;
    h->togo = c->restart_interval;
    h->next_rst = 0;
    h->mcus = 0;
    h->total = (uint64_t)c->MCUs_per_row * c->MCU_rows_in_scan;
    c->client_data = h;
    c->entropy->decode_mcu =
        __builtin_cpu_supports("bmi2") ? decode_mcu_bmi2 : decode_mcu;
    __atomic_fetch_add(&scrim__jhuff_counts[0], 1, __ATOMIC_RELAXED);
    return h;
no:
    free(h);
    return NULL;
}

int scrim__jpeg_fast_huff = 1;
unsigned long scrim__jhuff_counts[2];
