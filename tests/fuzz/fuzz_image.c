/* fuzz_image.c - libFuzzer: image bytes through both decode paths
 * (scrim_hash_image_buffer without and with the pixels kept); JPEGs also
 * through libjpeg's own Huffman decoder instead of scrim's (jpeg_huff.c),
 * which must give the same result. */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h" /* scrim__jpeg_fast_huff */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    fuzz_init(*argv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A small pixel limit, so that huge headers are refused at once; odd
     * sizes shrink JPEGs on load as `scrim hash --fast` does, others never
     * (both paths then decode the same pixels); some keep alpha apart. */
    scrim_decode_opts o = {.max_pixels = 4000000,
                           .min_side = (size & 1) ? SCRIM_FAST_MIN_SIDE : -1,
                           .ignore_alpha = (size & 2) != 0};
    scrim_image_hashes a, b;
    scrim_image img = {0};
    char err[512], err2[512];
    err[0] = err2[0] = '\0';

    int ra = scrim_hash_image_buffer(data, size, &o, &a, NULL, err, sizeof err);
    if (ra && !err[0]) {
        fprintf(stderr, "error %d without a message\n", ra);
        abort();
    }
    int rb = scrim_hash_image_buffer(data, size, &o, &b, &img, err2, sizeof err2);
    if (rb && !err2[0]) {
        fprintf(stderr, "error %d without a message (keep)\n", rb);
        abort();
    }
    if (!rb) {
        if (!img.pixels || img.width <= 0 || img.height <= 0)
            abort();
        /* touch every pixel: the buffer must be as large as it claims */
        size_t n = (size_t)img.width * img.height * img.channels;
        unsigned sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += img.pixels[i];
        sink = sum;
        scrim_image_free(&img);
    }
    /* The streaming JPEG path must agree with the one keeping the pixels,
     * and two decodes must agree: no decoder may leave parts of a damaged
     * picture as it found the memory.  libde265 does, in HEIF files; scrim
     * then has glibc fill new memory (scrim__heap_fill), which ASan's
     * allocator ignores: tests/test_image.c checks that case. */
    if (!ra && !strcmp(a.format, "heif"))
        return 0;
    if ((ra == 0) != (rb == 0) ||
        (!ra && (scrim_pdq_distance(&a.pdq, &b.pdq) != 0 ||
                 a.quality != b.quality))) {
        fprintf(stderr, "paths disagree: %d (%s) vs %d (%s)\n", ra, err, rb,
                err2);
        abort();
    }
    if (scrim__jpeg_is(data, size)) {
        scrim_image_hashes c;
        scrim__jpeg_fast_huff = 0;
        int rc = scrim_hash_image_buffer(data, size, &o, &c, NULL, err2, sizeof err2);
        scrim__jpeg_fast_huff = 1;
        if (rc != ra || (!ra && (memcmp(&a.pdq, &c.pdq, sizeof a.pdq) ||
                                 a.quality != c.quality ||
                                 memcmp(a.dihedral, c.dihedral, sizeof a.dihedral)))) {
            fprintf(stderr, "Huffman decoders disagree: scrim's %d (%s), "
                    "libjpeg's %d (%s)\n", ra, err, rc, err2);
            abort();
        }
    }
    return 0;
}
