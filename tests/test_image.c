/* test_image.c - decoding untrusted images: formats, conversions, limits and
 * errors; and agreement with the reference CLI on published photos. */
#include "testutil.h"
#include "base/base.h"
#include "decode/decode.h"

#include <vips/vips.h>
#include <limits.h>
#include <zlib.h>
#include <stdio.h>
#include <jpeglib.h>

enum { W = 120, H = 80 };

/* A deterministic RGB test pattern with structure at several scales. */
static VipsImage *pattern(int bands)
{
    static uint8_t px[H][W][4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            px[y][x][0] = (uint8_t)(x * 2 + (y / 10) * 20);
            px[y][x][1] = (uint8_t)((x * y) % 256);
            px[y][x][2] = (uint8_t)(((x / 8 + y / 8) & 1) * 200 + 20);
            px[y][x][3] = 255;
        }
    VipsImage *four = vips_image_new_from_memory_copy(px, sizeof px, W, H, 4,
                                                      VIPS_FORMAT_UCHAR);
    VipsImage *out = NULL;
    assert_int_equal(vips_extract_band(four, &out, 0, "n", bands, NULL), 0);
    g_object_unref(four);
    return out;
}

static int load(const void *buf, size_t len, scrim_image *img, char *err)
{
    return scrim_image_load_buffer(buf, len, NULL, img, err, 256);
}

/* im saved as PNG, then loaded as scrim loads uploads. */
static void load_as_png(VipsImage *im, scrim_image *img)
{
    void *buf;
    size_t len;
    char err[256];
    assert_int_equal(vips_pngsave_buffer(im, &buf, &len, NULL), 0);
    if (load(buf, len, img, err))
        fail_msg("loading the PNG: %s", err);
    g_free(buf);
}

static void formats_decode_to_same_pixels(void **state)
{
    VipsImage *rgb = pattern(3);
    scrim_pdq want;
    size_t rlen;
    uint8_t *raw = vips_image_write_to_memory(rgb, &rlen);
    assert_int_equal(scrim_pdq_hash_pixels(raw, W, H, 3, W * 3, &want, NULL,
                                           NULL), 0);
    struct { const char *saver, *format; int lossless; } f[] = {
        {".png", "png", 1},  {".tif", "tiff", 1}, {".webp[lossless]", "webp", 1},
        {".jpg[Q=95]", "jpeg", 0}, {".gif", "gif", 0},  {".avif", "heif", 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        void *buf = NULL;
        size_t len = 0;
        if (vips_image_write_to_buffer(rgb, f[i].saver, &buf, &len, NULL)) {
            print_message("no %s saver here: %s", f[i].saver, vips_error_buffer());
            vips_error_clear();
            continue;
        }
        scrim_image img;
        char err[256];
        assert_int_equal(scrim_image_sniff(buf, len), 1);
        int rc = load(buf, len, &img, err);
        if (rc)
            fail_msg("%s: %s", f[i].saver, err);
        assert_string_equal(img.format, f[i].format);
        assert_int_equal(img.width, W);
        assert_int_equal(img.height, H);
        scrim_pdq got;
        assert_int_equal(scrim_pdq_hash_image(&img, &got, NULL, NULL), 0);
        int d = scrim_pdq_distance(&got, &want);
        print_message("%s: %d bits from the raw pixels' hash\n", f[i].saver, d);
        if (f[i].lossless) {
            assert_int_equal(img.channels, 3);
            assert_memory_equal(img.pixels, raw, rlen);
            assert_int_equal(d, 0);
        } else {
            assert_true(d <= 40);
        }
        scrim_image_free(&img);
        g_free(buf);
    }
    g_free(raw);
    g_object_unref(rgb);
}

static void alpha_is_flattened_onto_white(void **state)
{
    VipsImage *rgba = pattern(4), *clear = NULL, *bands[2], *a = NULL;
    /* Alpha 0 everywhere: every pixel must come out white. */
    assert_int_equal(vips_extract_band(rgba, &bands[0], 0, "n", 3, NULL), 0);
    assert_int_equal(vips_black(&a, W, H, NULL), 0);
    VipsImage *a8 = NULL;
    assert_int_equal(vips_cast(a, &a8, VIPS_FORMAT_UCHAR, NULL), 0);
    bands[1] = a8;
    assert_int_equal(vips_bandjoin(bands, &clear, 2, NULL), 0);
    void *buf;
    size_t len;
    assert_int_equal(vips_pngsave_buffer(clear, &buf, &len, NULL), 0);
    scrim_image img;
    char err[256];
    assert_int_equal(load(buf, len, &img, err), 0);
    assert_int_equal(img.channels, 3);
    for (size_t i = 0; i < (size_t)W * H * 3; i++)
        if (img.pixels[i] != 255)
            fail_msg("pixel byte %zu is %d, not white", i, img.pixels[i]);
    scrim_image_free(&img);
    /* ignore_alpha (the reference CLI's way): the colours as stored. */
    scrim_decode_opts keep = {.ignore_alpha = 1};
    assert_int_equal(scrim_image_load_buffer(buf, len, &keep, &img, err, sizeof err), 0);
    assert_int_equal(img.channels, 3);
    size_t rlen;
    uint8_t *rgb = vips_image_write_to_memory(bands[0], &rlen);
    assert_int_equal(rlen, (size_t)W * H * 3);
    assert_memory_equal(img.pixels, rgb, rlen);
    g_free(rgb);
    scrim_image_free(&img);
    g_free(buf);
    g_object_unref(a);
    g_object_unref(a8);
    g_object_unref(bands[0]);
    g_object_unref(clear);
    g_object_unref(rgba);
}

/* 16-bit RGB becomes 8-bit by its high byte, whatever the low byte holds
 * (as PIL, and so HMA's Python path, reads 16-bit PNGs).  Meta's reference
 * CLI differs here: CImg<uint8_t> casts ImageMagick's 16-bit samples, which
 * keeps the low byte. */
static void sixteen_bit_rgb_keeps_high_byte(void **state)
{
    (void)state;
    VipsImage *rgb = pattern(3);
    size_t rlen;
    uint8_t *raw = vips_image_write_to_memory(rgb, &rlen);
    uint16_t *wide = malloc(rlen * sizeof *wide);
    assert_non_null(wide);
    uint32_t lcg = 12345;
    for (size_t i = 0; i < rlen; i++) {
        lcg = lcg * 1103515245u + 12345u;
        wide[i] = (uint16_t)(raw[i] << 8 | (lcg >> 16 & 0xff));
    }
    VipsImage *w16 = vips_image_new_from_memory(wide, rlen * sizeof *wide, W, H,
                                                3, VIPS_FORMAT_USHORT);
    assert_non_null(w16);
    w16->Type = VIPS_INTERPRETATION_RGB16;
    scrim_image img;
    load_as_png(w16, &img);
    assert_int_equal(img.channels, 3);
    assert_int_equal(img.width, W);
    assert_memory_equal(img.pixels, raw, rlen);
    scrim_image_free(&img);
    g_object_unref(w16);
    free(wide);
    g_free(raw);
    g_object_unref(rgb);
}

static void sixteen_bit_grey_and_cmyk(void **state)
{
    VipsImage *rgb = pattern(3), *grey = NULL, *g16 = NULL, *cmyk = NULL;
    scrim_image img;
    char err[256];
    void *buf;
    size_t len;

    /* 8-bit grey stays one channel with the same values. */
    assert_int_equal(vips_colourspace(rgb, &grey, VIPS_INTERPRETATION_B_W, NULL), 0);
    load_as_png(grey, &img);
    assert_int_equal(img.channels, 1);
    size_t glen;
    uint8_t *gpx = vips_image_write_to_memory(grey, &glen);
    assert_memory_equal(img.pixels, gpx, glen);
    scrim_image_free(&img);

    /* 16-bit grey (values * 257) comes back as the same 8-bit values. */
    assert_int_equal(vips_colourspace(grey, &g16, VIPS_INTERPRETATION_GREY16, NULL), 0);
    load_as_png(g16, &img);
    assert_int_equal(img.channels, 1);
    int maxdiff = 0;
    for (size_t i = 0; i < glen; i++) {
        int d = abs((int)img.pixels[i] - gpx[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    assert_true(maxdiff <= 1);
    scrim_image_free(&img);
    g_free(gpx);

    /* CMYK JPEG: converted to 3-channel sRGB. */
    if (vips_colourspace(rgb, &cmyk, VIPS_INTERPRETATION_CMYK, NULL) == 0 &&
        vips_jpegsave_buffer(cmyk, &buf, &len, NULL) == 0) {
        assert_int_equal(load(buf, len, &img, err), 0);
        assert_int_equal(img.channels, 3);
        scrim_pdq a, b;
        size_t rlen;
        uint8_t *raw = vips_image_write_to_memory(rgb, &rlen);
        scrim_pdq_hash_pixels(raw, W, H, 3, W * 3, &a, NULL, NULL);
        scrim_pdq_hash_image(&img, &b, NULL, NULL);
        print_message("CMYK JPEG vs RGB original: %d bits\n", scrim_pdq_distance(&a, &b));
        assert_true(scrim_pdq_distance(&a, &b) <= 40);
        g_free(raw);
        scrim_image_free(&img);
        g_free(buf);
        g_object_unref(cmyk);
    } else {
        print_message("no CMYK transform here (no ICC support): %s", vips_error_buffer());
        vips_error_clear();
    }
    g_object_unref(grey);
    g_object_unref(g16);
    g_object_unref(rgb);
}

/* tests/fixtures/NAME.EXT and what ImageMagick 6 (the reference CLI's
 * decoder) makes of it, its P6 output NAME.imagemagick.ppm (8 or 16 bits a
 * sample, 16-bit ones big-endian). */
typedef struct im_fixture {
    gchar *file, *ppm;
    gsize len;
    int w, h, wide;
    const uint8_t *px; /* the P6 samples */
} im_fixture;

static void im_fixture_read(const char *name, const char *ext, im_fixture *f)
{
    char path[256];
    gsize plen;
    int max, off = 0;
    snprintf(path, sizeof path, "tests/fixtures/%s.%s", name, ext);
    assert_true(g_file_get_contents(path, &f->file, &f->len, NULL));
    snprintf(path, sizeof path, "tests/fixtures/%s.imagemagick.ppm", name);
    assert_true(g_file_get_contents(path, &f->ppm, &plen, NULL));
    assert_int_equal(sscanf(f->ppm, "P6 %d %d %d%n", &f->w, &f->h, &max, &off), 3);
    off++; /* the one white-space byte after the maximum */
    f->wide = max > 255;
    assert_int_equal(plen, (gsize)off + (gsize)f->w * f->h * 3 * (f->wide ? 2 : 1));
    f->px = (const uint8_t *)f->ppm + off;
}

static void im_fixture_free(im_fixture *f)
{
    g_free(f->file);
    g_free(f->ppm);
}

/* Samples of img (RGB, f's image tiled tx x ty times) not as in f's P6
 * (its high bytes). */
static int im_fixture_differ(const scrim_image *img, const im_fixture *f,
                             int tx, int ty)
{
    assert_int_equal(img->width, tx * f->w);
    assert_int_equal(img->height, ty * f->h);
    assert_int_equal(img->channels, 3);
    int differ = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++) {
                size_t k = ((size_t)(y % f->h) * f->w + x % f->w) * 3 + c;
                differ += img->pixels[((size_t)y * img->width + x) * 3 + c] !=
                          f->px[f->wide ? 2 * k : k];
            }
    return differ;
}

/* CMYK JPEGs (YCCK with an Adobe marker, as Photoshop and ImageMagick write
 * them; plain CMYK without a marker) give exactly the RGB pixels ImageMagick
 * 6 gives (the reference CLI's decoder; its P6 output is in the fixtures),
 * on the loading path, and the streamed hash is the hash of those pixels. */
static void cmyk_jpegs_as_the_reference_decodes_them(void **state)
{
    (void)state;
    static const char *names[] = {"cmyk-ycck-adobe", "cmyk-no-adobe"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        im_fixture f;
        im_fixture_read(names[i], "jpg", &f);
        int w = f.w, h = f.h;
        scrim_image img;
        char err[256];
        assert_int_equal(load(f.file, f.len, &img, err), 0);
        int differ = im_fixture_differ(&img, &f, 1, 1);
        print_message("%s: %d of %d samples differ from ImageMagick's\n",
                      names[i], differ, w * h * 3);
        assert_int_equal(differ, 0);

        scrim_pdq want, got;
        int wq, gq;
        assert_int_equal(scrim_pdq_hash_pixels(f.px, w, h, 3, (size_t)w * 3,
                                               &want, &wq, NULL), 0);
        scrim_image_hashes hs;
        assert_int_equal(scrim_hash_image_buffer(f.file, f.len, NULL, &hs, NULL,
                                                 err, sizeof err), 0);
        got = hs.pdq;
        gq = hs.quality;
        assert_int_equal(scrim_pdq_distance(&want, &got), 0);
        assert_int_equal(wq, gq);
        scrim_image_free(&img);
        im_fixture_free(&f);
    }
}

/* CMYK TIFFs, 8-bit (a quarter of all (C, K) pairs) and 16-bit (random
 * values), give the RGB ImageMagick 6 gives (the reference CLI's decoder;
 * its P6 output, `convert F.tif F.imagemagick.ppm`, is in the fixtures):
 * every sample for 8 bits, the high byte of every 16-bit sample.  libvips'
 * own conversion, through a CMYK profile, differs (so does ImageMagick's
 * PNG writer, which is not what the reference reads). */
static void cmyk_tiffs_as_the_reference_decodes_them(void **state)
{
    (void)state;
    static const char *names[] = {"cmyk8", "cmyk16"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        im_fixture f;
        im_fixture_read(names[i], "tif", &f);
        scrim_image img;
        char err[256];
        assert_int_equal(load(f.file, f.len, &img, err), 0);
        int differ = im_fixture_differ(&img, &f, 1, 1);
        print_message("%s.tif: %d of %d samples differ from ImageMagick's\n",
                      names[i], differ, f.w * f.h * 3);
        assert_int_equal(differ, 0);
        scrim_image_free(&img);
        /* The same tiled 40x10 (over 8 MB: converted in several strips). */
        VipsImage *t = vips_image_new_from_buffer(f.file, f.len, "", NULL), *big = NULL;
        void *bbuf;
        size_t blen;
        assert_non_null(t);
        assert_int_equal(vips_replicate(t, &big, 40, 10, NULL), 0);
        assert_int_equal(vips_tiffsave_buffer(big, &bbuf, &blen, "compression",
                                              VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE,
                                              NULL), 0);
        if (load(bbuf, blen, &img, err))
            fail_msg("%s tiled: %s", names[i], err);
        assert_int_equal(im_fixture_differ(&img, &f, 40, 10), 0);
        scrim_image_free(&img);
        g_free(bbuf);
        g_object_unref(big);
        g_object_unref(t);
        im_fixture_free(&f);
    }
}

/* A HEIC fixture, read and hashed; the test is skipped where this build of
 * libvips decodes no HEIF. */
static gchar *heic_fixture(const char *name, gsize *len, scrim_image_hashes *h)
{
    char path[256], err[256];
    gchar *buf;
    snprintf(path, sizeof path, "tests/fixtures/%s", name);
    assert_true(g_file_get_contents(path, &buf, len, NULL));
    if (scrim_hash_image_buffer(buf, *len, NULL, h, NULL, err, sizeof err)) {
        print_message("no HEIF decoding here: %s\n", err);
        g_free(buf);
        skip();
    }
    return buf;
}

/* HEIF's own rotation (an 'irot' property, which the reference CLI's
 * decoder applies through libheif) is applied: the fixture is a 96x54 HEIC
 * with an irot of 90 degrees anticlockwise added to its primary item, so it
 * hashes as the rotate90 variant of the file without it; and within 2 bits of
 * Meta's reference CLI on it (its YCbCr conversion is ImageMagick's own). */
static void heif_rotation_is_applied(void **state)
{
    (void)state;
    gchar *rot;
    gsize plen, rlen;
    scrim_image_hashes a, b;
    char err[256];
    gchar *plain = heic_fixture("heic-plain.heic", &plen, &a);
    assert_true(g_file_get_contents("tests/fixtures/heic-irot90.heic", &rot, &rlen, NULL));
    assert_int_equal(scrim_hash_image_buffer(rot, rlen, NULL, &b, NULL, err, sizeof err), 0);
    scrim_image img;
    assert_int_equal(load(rot, rlen, &img, err), 0);
    assert_int_equal(img.width, 54);
    assert_int_equal(img.height, 96);
    scrim_image_free(&img);
    assert_int_equal(scrim_pdq_distance(&b.pdq, &a.dihedral[SCRIM_DIH_ROTATE90]), 0);
    scrim_pdq ref;
    assert_int_equal(scrim_pdq_from_hex("01e6d07ee1585d103f340a463c81c961"
                                        "7efab45c5d23512baff9eb3dea545c68", 64, &ref), 0);
    print_message("HEIC with irot: %d bits from the reference CLI\n",
                  scrim_pdq_distance(&b.pdq, &ref));
    assert_true(scrim_pdq_distance(&b.pdq, &ref) <= 2);
    g_free(plain);
    g_free(rot);
}

/* A damaged HEIC (fuzzer-made from heic-plain.heic) whose HEVC stream leaves
 * parts of the picture undecoded: libde265 leaves them as it found the
 * memory.  Decoded after the heap has held noise, it must hash the same each
 * time (scrim__heap_fill; under AddressSanitizer, whose allocator ignores
 * mallopt, its own fill: testutil.h). */
static void damaged_heic_hashes_the_same_every_time(void **state)
{
    (void)state;
    gsize len;
    scrim_image_hashes first, h;
    char err[256];
    gchar *buf = heic_fixture("heic-damaged.heic", &len, &first);
    uint32_t x = 12345;
    int differ = 0;
    for (int round = 0; round < 8; round++) {
        heap_noise(&x);
        assert_int_equal(scrim_hash_image_buffer(buf, len, NULL, &h, NULL, err, sizeof err), 0);
        differ += scrim_pdq_distance(&h.pdq, &first.pdq) != 0;
    }
    print_message("damaged HEIC: %d of 8 decodes after noise hash differently\n", differ);
    assert_int_equal(differ, 0);
    g_free(buf);
}

/* A PNG whose header claims w x h, with one tiny IDAT: only the header is
 * valid, so a loader that decoded pixels would fail or allocate gigabytes. */
static size_t forged_png(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *p = out;
    memcpy(p, sig, 8);
    p += 8;
    uint8_t ihdr[17] = {'I', 'H', 'D', 'R', w >> 24, w >> 16, w >> 8, w,
                        h >> 24, h >> 16, h >> 8, h, 8, 2, 0, 0, 0};
    p[0] = p[1] = p[2] = 0;
    p[3] = 13;
    memcpy(p + 4, ihdr, 17);
    uLong crc = crc32(0, ihdr, 17);
    p[21] = crc >> 24; p[22] = crc >> 16; p[23] = crc >> 8; p[24] = crc;
    p += 25;
    /* An empty IDAT, so that readers find the image data where expected. */
    static const uint8_t idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};
    memcpy(p, idat, 12);
    p += 12;
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(p, iend, 12);
    return (size_t)(p + 12 - out);
}

static void huge_image_refused_from_header(void **state)
{
    uint8_t buf[128];
    size_t len = forged_png(buf, 60000, 60000);
    scrim_image img;
    char err[256];
    assert_int_equal(load(buf, len, &img, err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "60000x60000"));
    assert_null(img.pixels);

    /* A custom limit applies too. */
    VipsImage *rgb = pattern(3);
    void *png;
    size_t plen;
    assert_int_equal(vips_pngsave_buffer(rgb, &png, &plen, NULL), 0);
    scrim_decode_opts o = {.max_pixels = W * H - 1};
    assert_int_equal(scrim_image_load_buffer(png, plen, &o, &img, err, sizeof err),
                     SCRIM_ETOOBIG);
    o.max_pixels = W * H;
    assert_int_equal(scrim_image_load_buffer(png, plen, &o, &img, err, sizeof err), 0);
    scrim_image_free(&img);
    g_free(png);
    g_object_unref(rgb);
}

static void bad_inputs_get_clear_errors(void **state)
{
    scrim_image img;
    char err[256];
    const char *text = "hello, this is not an image at all\n";
    assert_int_equal(load(text, strlen(text), &img, err), SCRIM_EFORMAT);
    assert_non_null(strstr(err, "not an image"));
    assert_int_equal(load("", 0, &img, err), SCRIM_EFORMAT);
    const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>";
    assert_int_equal(load(svg, strlen(svg), &img, err), SCRIM_EFORMAT);

    /* A JPEG cut in half is corrupt, not silently grey. */
    VipsImage *rgb = pattern(3);
    void *jpg;
    size_t len;
    assert_int_equal(vips_jpegsave_buffer(rgb, &jpg, &len, "Q", 90, NULL), 0);
    int rc = load(jpg, len / 2, &img, err);
    assert_int_equal(rc, SCRIM_ECORRUPT);
    print_message("truncated JPEG: %s\n", err);
    /* ... and so is a PNG cut short. */
    void *png;
    size_t plen;
    assert_int_equal(vips_pngsave_buffer(rgb, &png, &plen, NULL), 0);
    assert_int_equal(load(png, plen - 20, &img, err), SCRIM_ECORRUPT);
    print_message("truncated PNG: %s\n", err);
    /* Garbage after a valid signature. */
    uint8_t junk[200];
    memcpy(junk, png, 16);
    for (size_t i = 16; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131);
    rc = load(junk, sizeof junk, &img, err);
    assert_true(rc == SCRIM_ECORRUPT || rc == SCRIM_EFORMAT);
    /* A TIFF cut before its directory (written last) is damaged, not of an
     * unsupported kind, though libvips' loader no longer recognises it. */
    void *tif;
    size_t tlen;
    assert_int_equal(vips_tiffsave_buffer(rgb, &tif, &tlen, NULL), 0);
    assert_int_equal(load(tif, tlen / 2, &img, err), SCRIM_ECORRUPT);
    assert_non_null(strstr(err, "TIFF"));
    print_message("truncated TIFF: %s\n", err);
    g_free(tif);
    g_free(jpg);
    g_free(png);
    g_object_unref(rgb);
}

/* libvips' own decode of a JPEG (what scrim used before its JPEG fast path):
 * 0 and the pixels, or -1 if libvips refuses the file. */
static int vips_decode(const void *buf, size_t len, int shrink, uint8_t **px,
                       size_t *n, int *w, int *h, int *bands)
{
    VipsImage *im = vips_image_new_from_buffer(buf, len, "", "fail_on",
                                               VIPS_FAIL_ON_TRUNCATED, "shrink",
                                               shrink, NULL);
    *px = im ? vips_image_write_to_memory(im, n) : NULL;
    if (im) {
        *w = im->Xsize;
        *h = im->Ysize;
        *bands = im->Bands;
        g_object_unref(im);
    }
    vips_error_clear();
    return *px ? 0 : -1;
}

/* The fast path must give libvips' pixels exactly, or fail where it fails. */
static int same_as_vips(const char *what, const void *buf, size_t len,
                        int min_side)
{
    int shrink = 1, longest = 0, shortest = 0;
    VipsImage *hdr = vips_image_new_from_buffer(buf, len, "", NULL);
    if (hdr) {
        longest = hdr->Xsize > hdr->Ysize ? hdr->Xsize : hdr->Ysize;
        shortest = hdr->Xsize < hdr->Ysize ? hdr->Xsize : hdr->Ysize;
        g_object_unref(hdr);
    }
    vips_error_clear();
    while (min_side > 0 && shrink < 8 && longest / (shrink * 2) >= min_side &&
           shortest >= shrink * 2)
        shrink *= 2;
    uint8_t *ref = NULL;
    size_t n = 0;
    int w = 0, h = 0, bands = 0;
    int vrc = vips_decode(buf, len, shrink, &ref, &n, &w, &h, &bands);
    scrim_decode_opts o = {.min_side = min_side ? min_side : -1};
    scrim_image img;
    char err[256];
    int rc = scrim_image_load_buffer(buf, len, &o, &img, err, sizeof err);
    int ok = (rc == 0) == (vrc == 0);
    if (ok && rc == 0)
        ok = img.width == w && img.height == h && img.channels == bands &&
             (size_t)w * h * bands == n && !memcmp(img.pixels, ref, n);
    if (!ok)
        print_error("%s: scrim rc %d (%s), libvips rc %d\n", what, rc,
                    rc ? err : "ok", vrc);
    if (rc == 0)
        scrim_image_free(&img);
    g_free(ref);
    /* Hashing without keeping the image (rows become luma as they are
     * decoded) gives what hashing the kept image gives. */
    scrim_image_hashes streamed, whole;
    scrim_image kept;
    int src = scrim_hash_image_buffer(buf, len, &o, &streamed, NULL, err, sizeof err);
    int wrc = scrim_hash_image_buffer(buf, len, &o, &whole, &kept, err, sizeof err);
    if (src != wrc || (src == 0 && memcmp(&streamed, &whole, sizeof whole))) {
        print_error("%s: streamed hash (rc %d) differs from the whole image's (rc %d)\n",
                    what, src, wrc);
        ok = 0;
    }
    if (wrc == 0)
        scrim_image_free(&kept);
    return ok;
}

static void jpeg_path_gives_libvips_pixels(void **state)
{
    VipsImage *src[2] = {pattern(3), pattern(1)};
    const char *opts[] = {"[Q=90]", "[Q=75,subsample_mode=off]",
                          "[Q=85,interlace]", "[Q=95,restart_interval=2]",
                          "[Q=50,optimize_coding]"};
    int checked = 0, bad = 0;
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
            char fmt[64];
            snprintf(fmt, sizeof fmt, ".jpg%s", opts[k]);
            void *buf;
            size_t len;
            assert_int_equal(vips_image_write_to_buffer(src[s], fmt, &buf, &len,
                                                        NULL), 0);
            char what[96];
            snprintf(what, sizeof what, "%s %s", s ? "grey" : "rgb", fmt);
            bad += !same_as_vips(what, buf, len, 0);
            /* cut before the end-of-image marker, and in the data */
            bad += !same_as_vips(what, buf, len - 2, 0);
            bad += !same_as_vips(what, buf, len * 2 / 3, 0);
            checked += 3;
            g_free(buf);
        }
    g_object_unref(src[0]);
    g_object_unref(src[1]);
    /* Shapes: squashed on one side only, tiny, odd. */
    int shapes[][2] = {{1100, 300}, {300, 1030}, {4, 4}, {5, 700}, {513, 513},
                       {2047, 1023}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        VipsImage *p = pattern(3), *big = NULL;
        assert_int_equal(vips_resize(p, &big, (double)shapes[k][0] / W, "vscale",
                                     (double)shapes[k][1] / H, NULL), 0);
        void *buf;
        size_t len;
        assert_int_equal(vips_jpegsave_buffer(big, &buf, &len, "Q", 90, NULL), 0);
        char what[64];
        snprintf(what, sizeof what, "%dx%d", big->Xsize, big->Ysize);
        bad += !same_as_vips(what, buf, len, 0);
        bad += !same_as_vips(what, buf, len, 512);
        checked += 2;
        g_free(buf);
        g_object_unref(big);
        g_object_unref(p);
    }
    /* Flat blocks (no AC coefficients, libjpeg's cheapest case): tiles of
     * one colour, extremes included, among noisy ones, in every layout. */
    static uint8_t tiles[96][128][3];
    uint32_t seed = 12345;
    const uint8_t flat[][3] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0},
                               {0, 255, 0}, {0, 0, 255}, {128, 128, 128},
                               {1, 254, 3}, {90, 200, 30}};
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 128; x++) {
            int tile = (y / 16) * 8 + x / 16;
            for (int c = 0; c < 3; c++) {
                seed = seed * 1103515245u + 12345u;
                tiles[y][x][c] = tile % 3 == 2 ? (uint8_t)(seed >> 24)
                                               : flat[tile % 8][c];
            }
        }
    VipsImage *flat_im = vips_image_new_from_memory_copy(tiles, sizeof tiles,
                                                         128, 96, 3,
                                                         VIPS_FORMAT_UCHAR);
    const char *flat_opts[] = {"[Q=100,subsample_mode=off]", "[Q=92]",
                               "[Q=5]", "[Q=75,interlace]",
                               "[Q=60,subsample_mode=off,interlace]"};
    for (int grey = 0; grey < 2; grey++) {
        VipsImage *im = flat_im;
        if (grey)
            assert_int_equal(vips_colourspace(flat_im, &im, VIPS_INTERPRETATION_B_W,
                                              NULL), 0);
        for (size_t k = 0; k < sizeof flat_opts / sizeof *flat_opts; k++) {
            char fmt[64], what[96];
            void *fb;
            size_t flen;
            snprintf(fmt, sizeof fmt, ".jpg%s", flat_opts[k]);
            assert_int_equal(vips_image_write_to_buffer(im, fmt, &fb, &flen,
                                                        NULL), 0);
            snprintf(what, sizeof what, "flat tiles%s %s", grey ? " grey" : "", fmt);
            bad += !same_as_vips(what, fb, flen, 0);
            checked++;
            g_free(fb);
        }
        if (grey)
            g_object_unref(im);
    }
    g_object_unref(flat_im);
    /* A 4000x3 strip shrunk on load keeps at least one row (libvips itself
     * aborts on a zero-height shrink). */
    VipsImage *strip = NULL;
    void *buf;
    size_t len;
    assert_int_equal(vips_black(&strip, 4000, 3, "bands", 3, NULL), 0);
    assert_int_equal(vips_jpegsave_buffer(strip, &buf, &len, NULL), 0);
    scrim_decode_opts o = {.min_side = 512};
    scrim_image img;
    char err[256];
    assert_int_equal(scrim_image_load_buffer(buf, len, &o, &img, err, sizeof err), 0);
    assert_true(img.height >= 1 && img.width >= 500);
    scrim_image_free(&img);
    g_free(buf);
    g_object_unref(strip);
    /* Photos: the published JPEGs and the eval-dev photos (1024-px 4:4:4),
     * whole and shrunk on load. */
    for (int set = 0; shared_data() && set < 2; set++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", shared_data(),
                 set ? "eval-dev/orig" : "pdq/files");
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
            if (!g_str_has_suffix(name, ".jpg") && !g_str_has_suffix(name, ".jpeg"))
                continue;
            char path[PATH_MAX * 2];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            gchar *buf;
            gsize len;
            assert_true(g_file_get_contents(path, &buf, &len, NULL));
            bad += !same_as_vips(name, buf, len, 0);
            bad += !same_as_vips(name, buf, len, 512);
            checked += 2;
            g_free(buf);
        }
        if (d)
            g_dir_close(d);
    }
    print_message("JPEG fast path: %d decodes compared with libvips, %d differ\n",
                  checked, bad);
    assert_int_equal(bad, 0);
}

/* Hashes come from full-size pixels whatever the size (the reference samples
 * the full-size image; shrink-on-load moved 5-48 MP photos by 2-6 bits), on
 * the streaming path and when the pixels are kept; only loading without
 * hashing shrinks JPEGs of 4096 px and more by default. */
static void big_jpegs_hash_at_full_size(void **state)
{
    (void)state;
    VipsImage *p = pattern(3), *big = NULL, *noise = NULL, *sum = NULL, *u8 = NULL;
    assert_int_equal(vips_resize(p, &big, 4400.0 / W, "vscale", 700.0 / H, NULL), 0);
    assert_int_equal(vips_gaussnoise(&noise, big->Xsize, big->Ysize, "sigma", 20.0, NULL), 0);
    assert_int_equal(vips_add(big, noise, &sum, NULL), 0);
    assert_int_equal(vips_cast(sum, &u8, VIPS_FORMAT_UCHAR, NULL), 0);
    void *buf;
    size_t len;
    assert_int_equal(vips_jpegsave_buffer(u8, &buf, &len, "Q", 92, NULL), 0);
    char err[256];
    scrim_image_hashes streamed, kept_h;
    scrim_image kept, full, loaded;
    assert_int_equal(scrim_hash_image_buffer(buf, len, NULL, &streamed, NULL, err, sizeof err), 0);
    assert_int_equal(scrim_hash_image_buffer(buf, len, NULL, &kept_h, &kept, err, sizeof err), 0);
    assert_int_equal(kept.width, 4400);
    scrim_decode_opts no_shrink = {.min_side = -1};
    assert_int_equal(scrim_image_load_buffer(buf, len, &no_shrink, &full, err, sizeof err), 0);
    assert_int_equal(full.width, 4400);
    scrim_pdq h;
    int q;
    assert_int_equal(scrim_pdq_hash_image(&full, &h, &q, NULL), 0);
    assert_int_equal(scrim_pdq_distance(&h, &streamed.pdq), 0);
    assert_int_equal(scrim_pdq_distance(&h, &kept_h.pdq), 0);
    assert_int_equal(q, streamed.quality);
    assert_int_equal(scrim_image_load_buffer(buf, len, NULL, &loaded, err, sizeof err), 0);
    assert_int_equal(loaded.file_width, 4400);
    assert_int_equal(loaded.width, 2200);
    scrim_image_free(&kept);
    scrim_image_free(&full);
    scrim_image_free(&loaded);
    g_free(buf);
    g_object_unref(u8);
    g_object_unref(sum);
    g_object_unref(noise);
    g_object_unref(big);
    g_object_unref(p);
}

/* A w x h JPEG from libjpeg with luma sampling factors hs x vs (chroma
 * 1 x 1): noisy gradients and blocks of saturated colour, whose RGB is
 * clamped when decoded. */
static unsigned char *layout_jpeg(int w, int h, int hs, int vs, int progressive,
                                  unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 88, TRUE);
    c.comp_info[0].h_samp_factor = hs;
    c.comp_info[0].v_samp_factor = vs;
    for (int k = 1; k < 3; k++)
        c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    unsigned seed = (unsigned)(w * 31 + h);
    static const uint8_t sat[4][3] = {{255, 0, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 40}};
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            seed = seed * 1103515245u + 12345u;
            int n = (int)(seed >> 27) - 16, b = ((x / 37) + (y / 23)) % 7;
            for (int k = 0; k < 3; k++) {
                int v = b < 4 ? sat[b][k] + n : (x * (k + 1) + y * (3 - k)) % 256 + n;
                row[x * 3 + k] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return out;
}

/* Hashing a JPEG takes PDQ's samples from libjpeg's YCbCr planes, doing the
 * upsampling and colour conversion itself for the pixels sampled.  Returns
 * how many of the samples' luma differ from that of the RGB pixels libjpeg
 * itself makes (scrim_image_load at full size); *total: how many there are.
 * The hashes must then be the same too. */
static int planes_vs_pixels(const void *jpg, size_t len, size_t *total)
{
    char err[256];
    scrim_image px;
    scrim_decode_opts full = {.min_side = -1};
    if (scrim_image_load_buffer(jpg, len, &full, &px, err, sizeof err))
        fail_msg("load: %s", err);
    scrim__luma l;
    int xs[SCRIM__SQUASH], ys[SCRIM__SQUASH], mx, my;
    scrim__limits lim;
    scrim__decode_limits(&full, 1, &lim);
    if (scrim__jpeg_luma(jpg, len, &lim, &l, err, sizeof err))
        fail_msg("samples: %s", err);
    float *luma = l.plane;
    int nx = l.width, ny = l.height;
    scrim__luma_samples(px.width, px.height, px.width, px.height, xs, &mx, ys, &my);
    assert_int_equal(nx, mx);
    assert_int_equal(ny, my);
    int differ = 0, ch = px.channels;
    for (int r = 0; r < ny; r++)
        for (int c = 0; c < nx; c++) {
            const uint8_t *p = px.pixels + ((size_t)ys[r] * px.width + xs[c]) * ch;
            float want = ch == 1 ? (float)p[0]
                                 : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            differ += luma[(size_t)r * nx + c] != want;
        }
    *total += (size_t)nx * ny;
    scrim_image_hashes streamed;
    scrim_pdq want;
    int q;
    assert_int_equal(scrim_hash_image_buffer(jpg, len, NULL, &streamed, NULL, err,
                                             sizeof err), 0);
    assert_int_equal(scrim_pdq_hash_image(&px, &want, &q, NULL), 0);
    assert_int_equal(scrim_pdq_distance(&want, &streamed.pdq), 0);
    assert_int_equal(q, streamed.quality);
    free(luma);
    scrim_image_free(&px);
    return differ;
}

/* Every chroma layout (4:2:0, 4:2:2, 4:4:4 from the planes; 4:4:0 and 4:1:1
 * the RGB way), sampling (every column, every other one, irregular) and odd
 * or tiny size, on colours that clamp. */
static void jpeg_planes_give_luma_of_rgb_pixels(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1024, 600}, {1023, 577}, {700, 1000},
                                   {300, 200},  {2048, 300}, {17, 9},
                                   {5, 5},      {4, 4},      {6, 1030}};
    static const int samp[][2] = {{2, 2}, {2, 1}, {1, 1}, {1, 2}, {4, 1}};
    int n = 0;
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t k = 0; k < sizeof samp / sizeof *samp; k++) {
            int w = sizes[i][0], h = sizes[i][1];
            unsigned long len = 0;
            unsigned char *jpg = layout_jpeg(w, h, samp[k][0], samp[k][1],
                                             (int)(i + k) % 3 == 0, &len);
            int d = planes_vs_pixels(jpg, len, &total);
            if (d)
                fail_msg("%dx%d, sampling %dx%d: %d samples differ", w, h,
                         samp[k][0], samp[k][1], d);
            free(jpg);
            n++;
        }
    print_message("%d JPEGs, %zu samples: the luma of libjpeg's RGB, exactly\n",
                  n, total);
}

/* Calls fn on every JPEG photo in ../shared (published and eval-dev);
 * returns how many. */
static int each_shared_jpeg(void (*fn)(const void *buf, size_t len,
                                       const char *name, void *ctx),
                            void *ctx)
{
    static const char *dirs[] = {"pdq/files", "eval-dev/orig"};
    int n = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", shared_data(), dirs[i]);
        GDir *dir = g_dir_open(path, 0, NULL);
        assert_non_null(dir);
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            if (!g_str_has_suffix(name, ".jpg"))
                continue;
            snprintf(path, sizeof path, "%s/%s/%s", shared_data(), dirs[i], name);
            gchar *buf;
            gsize len;
            assert_true(g_file_get_contents(path, &buf, &len, NULL));
            fn(buf, len, name, ctx);
            g_free(buf);
            n++;
        }
        g_dir_close(dir);
    }
    return n;
}

static void photo_planes(const void *buf, size_t len, const char *name,
                         void *total)
{
    int d = planes_vs_pixels(buf, len, total);
    if (d)
        fail_msg("%s: %d samples differ", name, d);
}

/* The same on the published and eval-dev photos. */
static void photos_planes_give_luma_of_rgb_pixels(void **state)
{
    SHARED_OR_SKIP();
    size_t total = 0;
    int n = each_shared_jpeg(photo_planes, &total);
    print_message("%d photos, %zu samples: the luma of libjpeg's RGB, exactly\n",
                  n, total);
    assert_true(n >= 100);
}

/* Damaged JPEGs (bytes flipped, cut short) through both JPEG paths: each is
 * hashed or refused with a reason, never a crash (the sanitizer build checks
 * memory on every one). */
static void damaged_jpegs_fail_cleanly(void **state)
{
    VipsImage *src = pattern(3);
    const char *fmts[] = {".jpg[Q=90]", ".jpg[Q=80,interlace]",
                          ".jpg[Q=70,restart_interval=1,subsample_mode=off]"};
    uint32_t seed = 12345;
    int hashed = 0, refused = 0;
    for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
        void *orig;
        size_t len;
        assert_int_equal(vips_image_write_to_buffer(src, fmts[f], &orig, &len, NULL), 0);
        uint8_t *buf = malloc(len);
        assert_non_null(buf);
        for (int it = 0; it < 300; it++) {
            memcpy(buf, orig, len);
            size_t n = len;
            int flips = 1 + it % 8;
            for (int k = 0; k < flips; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = 2 + (seed >> 8) % (len - 2); /* keep the signature */
                buf[at] ^= (uint8_t)(1u << (seed >> 28 & 7));
            }
            if (it % 3 == 0) {
                seed = seed * 1103515245u + 12345u;
                n = 3 + (seed >> 8) % (len - 3);
            }
            scrim_image_hashes h;
            scrim_image img;
            char err[256] = "";
            int rc = scrim_hash_image_buffer(buf, n, NULL, &h, NULL, err, sizeof err);
            if (rc)
                assert_true(rc == SCRIM_ECORRUPT || rc == SCRIM_EFORMAT ||
                            rc == SCRIM_ETOOBIG);
            if (rc)
                assert_true(err[0] != '\0');
            refused += rc != 0;
            hashed += rc == 0;
            err[0] = '\0';
            int rc2 = scrim_image_load_buffer(buf, n, NULL, &img, err, sizeof err);
            /* the two paths agree on whether the file is usable */
            assert_int_equal(rc2 == 0, rc == 0);
            if (rc2 == 0)
                scrim_image_free(&img);
        }
        free(buf);
        g_free(orig);
    }
    g_object_unref(src);
    print_message("damaged JPEGs: %d hashed, %d refused with a reason\n", hashed,
                  refused);
    assert_true(refused > 0 && hashed > 0);
}

/* jpeg_huff.c's Huffman decoder against libjpeg's own on one file: the same
 * result from both JPEG paths (pixels byte for byte, or the same error). */
static void huffman_both_ways(const void *buf, size_t n, const char *what)
{
    scrim_image img[2];
    scrim_image_hashes h[2];
    char err[2][256];
    int rl[2], rh[2];
    for (int fast = 0; fast < 2; fast++) {
        scrim__jpeg_fast_huff = fast;
        err[fast][0] = '\0';
        rl[fast] = scrim_image_load_buffer(buf, n, NULL, &img[fast], err[fast],
                                           sizeof err[fast]);
        rh[fast] = scrim_hash_image_buffer(buf, n, NULL, &h[fast], NULL, NULL, 0);
    }
    scrim__jpeg_fast_huff = 1;
    if (rl[0] != rl[1] || rh[0] != rh[1])
        fail_msg("%s: load %d / %d, hash %d / %d (libjpeg / scrim)", what,
                 rl[0], rl[1], rh[0], rh[1]);
    if (rl[0])
        assert_string_equal(err[0], err[1]);
    else {
        assert_int_equal(img[0].width, img[1].width);
        assert_int_equal(img[0].height, img[1].height);
        assert_int_equal(img[0].channels, img[1].channels);
        if (memcmp(img[0].pixels, img[1].pixels,
                   (size_t)img[0].width * img[0].height * img[0].channels))
            fail_msg("%s: the pixels differ", what);
        scrim_image_free(&img[0]);
        scrim_image_free(&img[1]);
    }
    if (!rh[0]) {
        assert_memory_equal(&h[0].pdq, &h[1].pdq, sizeof h[0].pdq);
        assert_int_equal(h[0].quality, h[1].quality);
        assert_memory_equal(h[0].dihedral, h[1].dihedral, sizeof h[0].dihedral);
    }
}

static void huffman_photo(const void *buf, size_t len, const char *name,
                          void *ctx)
{
    (void)ctx;
    huffman_both_ways(buf, len, name);
}

/* scrim's Huffman decoder gives libjpeg's pixels and errors: on clean files
 * of every layout it handles (restart markers, grey, 4:4:4, odd sizes,
 * optimised tables) without giving up, on damaged ones (bits flipped, cut
 * short) by giving up where libjpeg has its own rules; and on the photos in
 * ../shared when present. */
static void own_huffman_decoder_matches_libjpeg(void **state)
{
    VipsImage *rgb = pattern(3), *grey = pattern(1), *odd = NULL;
    assert_int_equal(vips_crop(rgb, &odd, 3, 5, 97, 61, NULL), 0);
    struct { VipsImage *im; const char *fmt; } kinds[] = {
        {rgb, ".jpg[Q=90]"},
        {rgb, ".jpg[Q=95,subsample_mode=off]"},
        {rgb, ".jpg[Q=75,optimize_coding]"},
        {rgb, ".jpg[Q=70,restart_interval=1,subsample_mode=off]"},
        {rgb, ".jpg[Q=85,restart_interval=7]"},
        {grey, ".jpg[Q=90]"},
        {grey, ".jpg[Q=60,restart_interval=3]"},
        {odd, ".jpg[Q=88]"},
        {odd, ".jpg[Q=100,subsample_mode=off]"},
    };
    unsigned long used0 = scrim__jhuff_counts[0], gave0 = scrim__jhuff_counts[1];
    uint32_t seed = 777;
    int files = 0, damaged = 0;
    for (size_t f = 0; f < sizeof kinds / sizeof *kinds; f++) {
        void *orig;
        size_t len;
        assert_int_equal(vips_image_write_to_buffer(kinds[f].im, kinds[f].fmt,
                                                    &orig, &len, NULL), 0);
        unsigned long gave = scrim__jhuff_counts[1];
        huffman_both_ways(orig, len, kinds[f].fmt);
        if (scrim__jhuff_counts[1] != gave)
            fail_msg("%s: a clean file was left to libjpeg", kinds[f].fmt);
        files++;
        uint8_t *buf = malloc(len);
        assert_non_null(buf);
        for (int it = 0; it < 120; it++, damaged++) {
            memcpy(buf, orig, len);
            size_t n = len;
            for (int k = 0; k < 1 + it % 4; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = len / 4 + (seed >> 8) % (len - len / 4); /* data */
                buf[at] ^= (uint8_t)(1u << (seed >> 28 & 7));
            }
            if (it % 3 == 0) {
                seed = seed * 1103515245u + 12345u;
                n = len / 2 + (seed >> 8) % (len - len / 2);
            }
            huffman_both_ways(buf, n, kinds[f].fmt);
        }
        free(buf);
        g_free(orig);
    }
    if (shared_data())
        files += each_shared_jpeg(huffman_photo, NULL);
    unsigned long used = scrim__jhuff_counts[0] - used0;
    unsigned long gave = scrim__jhuff_counts[1] - gave0;
    print_message("own Huffman decoder: %d files and %d damaged copies, the same "
                  "as libjpeg's; %lu decodes, %lu left to libjpeg\n",
                  files, damaged, used, gave);
    assert_true(used > 0 && gave > 0 && gave < used);
    g_object_unref(odd);
    g_object_unref(grey);
    g_object_unref(rgb);
}

static void exif_orientation_is_not_applied(void **state)
{
    VipsImage *rgb = pattern(3), *copy = NULL;
    assert_int_equal(vips_copy(rgb, &copy, NULL), 0);
    vips_image_set_int(copy, VIPS_META_ORIENTATION, 6);
    void *buf;
    size_t len;
    assert_int_equal(vips_jpegsave_buffer(copy, &buf, &len, NULL), 0);
    scrim_image img;
    char err[256];
    assert_int_equal(load(buf, len, &img, err), 0);
    assert_int_equal(img.width, W); /* not rotated to H x W */
    assert_int_equal(img.height, H);
    scrim_image_free(&img);
    g_free(buf);
    g_object_unref(copy);
    g_object_unref(rgb);
}

static int hamming_hex(const char *a, const char *b)
{
    scrim_pdq x, y;
    if (scrim_pdq_from_hex(a, strlen(a), &x) || scrim_pdq_from_hex(b, strlen(b), &y))
        return 999;
    return scrim_pdq_distance(&x, &y);
}

/* Hash a file the way `scrim hash` does; returns quality or -1. */
static int hash_path(const char *path, char hex[65], scrim_decode_opts *o)
{
    uint8_t *data;
    size_t len;
    char err[256];
    scrim_image_hashes h;
    if (scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len, err, sizeof err))
        return -1;
    int rc = scrim_hash_image_buffer(data, len, o, &h, NULL, err, sizeof err);
    free(data);
    if (rc) {
        print_error("%s: %s\n", path, err);
        return -1;
    }
    scrim_pdq_to_hex(&h.pdq, hex);
    return h.quality;
}

/* Meta's bar for a port: reference quality >= 80 => within 10 bits. */
static void published_files_within_10_bits(void **state)
{
    SHARED_OR_SKIP();
    char path[4096];
    size_t n, checked = 0, exact = 0;
    int worst = 0, worst_fast = 0;
    char **lines = shared_lines("pdq/files.csv", &n);
    for (size_t i = 1; i < n; i++) {
        char ref[65], file[512], got[65];
        int q;
        assert_int_equal(sscanf(lines[i], "%64[0-9a-f],%d,%511s", ref, &q, file), 3);
        snprintf(path, sizeof path, "%s/pdq/files/%s", shared_data(), file);
        assert_true(hash_path(path, got, NULL) >= 0);
        if (q < 80)
            continue;
        int d = hamming_hex(ref, got);
        scrim_decode_opts fast = {.min_side = SCRIM_FAST_MIN_SIDE};
        assert_true(hash_path(path, got, &fast) >= 0);
        int df = hamming_hex(ref, got);
        if (d > 10)
            print_error("%s: %d bits from the reference\n", file, d);
        worst = d > worst ? d : worst;
        worst_fast = df > worst_fast ? df : worst_fast;
        exact += d == 0;
        checked++;
    }
    free_lines(lines);
    print_message("files.csv: %zu images of quality >= 80, %zu identical, worst %d bits "
                  "(--fast: worst %d)\n", checked, exact, worst, worst_fast);
    assert_true(checked >= 30);
    assert_true(worst <= 10);
}

static void eval_photos_within_10_bits(void **state)
{
    SHARED_OR_SKIP();
    char path[4096];
    size_t n, checked = 0, exact = 0;
    int worst = 0;
    char **lines = shared_lines("eval-dev/ref_hashes.csv", &n);
    for (size_t i = 1; i < n; i++) {
        char id[64], variant[64], ref[65], got[65];
        int q;
        if (sscanf(lines[i], "%63[^,],%63[^,],%64[0-9a-f],%d", id, variant, ref, &q) != 4)
            fail_msg("bad line %zu", i + 1);
        if (strcmp(variant, "orig") || q < 80)
            continue;
        snprintf(path, sizeof path, "%s/eval-dev/orig/%s.jpg", shared_data(), id);
        if (access(path, R_OK))
            snprintf(path, sizeof path, "%s/eval-dev/orig/%s.png", shared_data(), id);
        assert_true(hash_path(path, got, NULL) >= 0);
        int d = hamming_hex(ref, got);
        if (d > 10)
            print_error("%s: %d bits from the reference\n", id, d);
        worst = d > worst ? d : worst;
        exact += d == 0;
        checked++;
    }
    free_lines(lines);
    print_message("eval-dev originals: %zu of quality >= 80, %zu identical, worst %d bits\n",
                  checked, exact, worst);
    assert_true(checked >= 90);
    assert_true(worst <= 10);
}

/* A grey progressive JPEG of side x side pixels whose blocks are all flat:
 * one DC scan, then `scans - 1` AC scans each coding every block as one
 * end-of-band run (a few bytes whatever the size).  malloc'd. */
typedef struct bits { uint8_t *p; size_t n; unsigned acc, nacc; } bits;
static void bits_put(bits *b, unsigned v, unsigned n)
{
    while (n--) {
        b->acc = b->acc << 1 | ((v >> n) & 1);
        if (++b->nacc == 8) {
            b->p[b->n++] = (uint8_t)b->acc;
            if ((b->acc & 255) == 255)
                b->p[b->n++] = 0; /* byte stuffing */
            b->acc = b->nacc = 0;
        }
    }
}
static void bits_flush(bits *b)
{
    while (b->nacc)
        bits_put(b, 1, 1);
}
static uint8_t *flat_progressive_jpeg(int side, int scans, size_t *len)
{
    size_t blocks = (size_t)((side + 7) / 8) * ((side + 7) / 8);
    bits b = {malloc(blocks / 4 + (size_t)scans * 64 + 256), 0, 0, 0};
    static const uint8_t dqt[] = {0xff, 0xdb, 0, 67, 0};
    const uint8_t sof[] = {0xff, 0xc2, 0, 11, 8, (uint8_t)(side >> 8),
                           (uint8_t)side, (uint8_t)(side >> 8), (uint8_t)side,
                           1, 1, 0x11, 0};
    /* one symbol each, code '0': DC difference 0; AC EOB14 (a run of
     * 2^14 + 14 extra bits blocks) */
    static const uint8_t dht_dc[] = {0xff, 0xc4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
    static const uint8_t dht_ac[] = {0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0};
    static const uint8_t sos_dc[] = {0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 0, 0};
    static const uint8_t sos_ac[] = {0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0};
#define PUT(a) (memcpy(b.p + b.n, a, sizeof a), b.n += sizeof a)
    b.p[b.n++] = 0xff, b.p[b.n++] = 0xd8;
    PUT(dqt);
    memset(b.p + b.n, 1, 64), b.n += 64;
    PUT(sof);
    PUT(dht_dc);
    PUT(dht_ac);
    PUT(sos_dc);
    for (size_t i = 0; i < blocks; i++)
        bits_put(&b, 0, 1);
    bits_flush(&b);
    for (int s = 1; s < scans; s++) {
        PUT(sos_ac);
        for (size_t left = blocks; left; left -= left > 32767 ? 32767 : left)
            bits_put(&b, 0x3fff, 15); /* '0', then 14 one bits: 32767 */
        bits_flush(&b);
    }
#undef PUT
    b.p[b.n++] = 0xff, b.p[b.n++] = 0xd9;
    *len = b.n;
    return b.p;
}

/* Every scan walks the whole image: a small file of hundreds of empty scans
 * of a large image cost seconds (found fuzzing); scans are limited by size. */
static void many_scans_of_a_big_jpeg_refused(void **state)
{
    scrim_image_hashes h;
    scrim_image img;
    char err[256] = "";
    size_t len;
    /* 9 MP: at most 333 scans */
    uint8_t *ok = flat_progressive_jpeg(3000, 12, &len);
    assert_int_equal(scrim_hash_image_buffer(ok, len, NULL, &h, NULL, err,
                                             sizeof err), 0);
    assert_int_equal(h.width, 3000);
    free(ok);
    uint8_t *bad = flat_progressive_jpeg(3000, 400, &len);
    assert_true(len < 30000);
    assert_int_equal(scrim_hash_image_buffer(bad, len, NULL, &h, NULL, err,
                                             sizeof err), SCRIM_ECORRUPT);
    assert_non_null(strstr(err, "more than 333 progressive scans"));
    err[0] = '\0';
    assert_int_equal(scrim_image_load_buffer(bad, len, NULL, &img, err,
                                             sizeof err), SCRIM_ECORRUPT);
    assert_non_null(strstr(err, "progressive scans"));
    free(bad);
    /* small images keep the flat limit of 500 */
    bad = flat_progressive_jpeg(64, 501, &len);
    assert_int_equal(scrim_hash_image_buffer(bad, len, NULL, &h, NULL, err,
                                             sizeof err), SCRIM_ECORRUPT);
    assert_non_null(strstr(err, "more than 500 progressive scans"));
    free(bad);
    ok = flat_progressive_jpeg(64, 500, &len);
    assert_int_equal(scrim_hash_image_buffer(ok, len, NULL, &h, NULL, err,
                                             sizeof err), 0);
    free(ok);
}

/* ---- what a decode may hold, and for how long -------------------------------- */

/* The attack: a few hundred bytes that declare a progressive JPEG of
 * side x side pixels and `comps` components at full resolution, with the
 * first scan's header and no data.  libjpeg allocates (and zeroes, as it
 * pads the missing data) side x side x comps x 2 bytes of coefficients
 * before it finds that the data is missing: 637 MB for 528 bytes. */
static uint8_t *hollow_progressive_jpeg(int side, int comps, size_t *len)
{
    uint8_t *p = malloc(512);
    size_t n = 0;
    static const uint8_t dqt[] = {0xff, 0xdb, 0, 67, 0};
    static const uint8_t dht_dc[] = {0xff, 0xc4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00};
    p[n++] = 0xff, p[n++] = 0xd8;
    memcpy(p + n, dqt, sizeof dqt), n += sizeof dqt;
    memset(p + n, 1, 64), n += 64;
    uint8_t sof[] = {0xff, 0xc2, 0, (uint8_t)(8 + 3 * comps), 8,
                     (uint8_t)(side >> 8), (uint8_t)side, (uint8_t)(side >> 8),
                     (uint8_t)side, (uint8_t)comps};
    memcpy(p + n, sof, sizeof sof), n += sizeof sof;
    for (int k = 0; k < comps; k++)
        p[n++] = (uint8_t)(k + 1), p[n++] = 0x11, p[n++] = 0;
    memcpy(p + n, dht_dc, sizeof dht_dc), n += sizeof dht_dc;
    uint8_t sos[] = {0xff, 0xda, 0, (uint8_t)(6 + 2 * comps), (uint8_t)comps};
    memcpy(p + n, sos, sizeof sos), n += sizeof sos;
    for (int k = 0; k < comps; k++)
        p[n++] = (uint8_t)(k + 1), p[n++] = 0x00;
    p[n++] = 0, p[n++] = 0, p[n++] = 0;  /* Ss, Se, Ah/Al: a DC scan */
    p[n++] = 0xff, p[n++] = 0xd9;
    *len = n;
    return p;
}

/* A reserve hook that keeps the balance and the largest amount held. */
typedef struct ledger { int64_t held, peak; int calls, refuse; } ledger;
static int ledger_reserve(void *arg, int64_t bytes, char *err, size_t errlen)
{
    ledger *l = arg;
    l->calls++;
    if (bytes > 0 && l->refuse) {
        snprintf(err, errlen, "budget spent");
        return SCRIM_EBUSY;
    }
    l->held += bytes;
    if (l->held > l->peak)
        l->peak = l->held;
    return 0;
}

static void decode_memory_reckoned_from_the_header(void **state)
{
    char err[512] = "";
    scrim_image_hashes h;
    scrim_image img;
    size_t len;
    /* 10000 x 10000 x 3 components x 2 bytes: 572 MB, in a file of ~150 */
    uint8_t *bad = hollow_progressive_jpeg(10000, 3, &len);
    assert_true(len < 600);
    assert_int_equal(scrim_hash_image_buffer(bad, len, NULL, &h, NULL, err,
                                             sizeof err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "needs 572 MB of coefficients, over the limit of 512 MB"));
    assert_int_equal(scrim_image_load_buffer(bad, len, NULL, &img, err,
                                             sizeof err), SCRIM_ETOOBIG);
    /* a lower limit of the caller's */
    free(bad);
    bad = hollow_progressive_jpeg(3000, 1, &len); /* 17 MB */
    scrim_decode_opts small = {.max_memory = 16 << 20};
    assert_int_equal(scrim_hash_image_buffer(bad, len, &small, &h, NULL, err,
                                             sizeof err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "over the limit of 16 MB"));
    free(bad);

    /* Within the limit, the hook sees the amount before the decode and
     * gets it back after, whatever the outcome. */
    ledger l = {0};
    scrim_decode_opts o = {.reserve = ledger_reserve, .reserve_arg = &l};
    unsigned long jl;
    unsigned char *prog = layout_jpeg(640, 480, 2, 2, 1, &jl);
    assert_int_equal(scrim_hash_image_buffer(prog, jl, &o, &h, NULL, err,
                                             sizeof err), 0);
    /* 4:2:0: 640x480 of luma, 320x240 of each chroma, 2 bytes a sample */
    assert_int_equal(l.peak, 640 * 480 * 2 + 2 * 320 * 240 * 2);
    assert_int_equal(l.held, 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(scrim_image_load_buffer(prog, jl, &o, &img, err,
                                             sizeof err), 0);
    assert_int_equal(l.peak, 640 * 480 * 2 + 2 * 320 * 240 * 2 + 640 * 480 * 3);
    assert_int_equal(l.held, 0);
    scrim_image_free(&img);
    /* a baseline JPEG only hashed holds nothing whole: no call */
    unsigned char *base = layout_jpeg(640, 480, 2, 2, 0, &jl);
    memset(&l, 0, sizeof l);
    assert_int_equal(scrim_hash_image_buffer(base, jl, &o, &h, NULL, err,
                                             sizeof err), 0);
    assert_int_equal(l.calls, 0);
    /* the libvips path: its pixels */
    VipsImage *im = pattern(3);
    void *png;
    size_t plen;
    assert_int_equal(vips_pngsave_buffer(im, &png, &plen, NULL), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(scrim_hash_image_buffer(png, plen, &o, &h, NULL, err,
                                             sizeof err), 0);
    assert_true(l.peak >= (int64_t)im->Xsize * im->Ysize * 3);
    assert_int_equal(l.held, 0);
    /* a hook that refuses: its code and message */
    l.refuse = 1;
    assert_int_equal(scrim_hash_image_buffer(png, plen, &o, &h, NULL, err,
                                             sizeof err), SCRIM_EBUSY);
    assert_string_equal(err, "budget spent");
    assert_int_equal(scrim_hash_image_buffer(prog, jl, &o, &h, NULL, err,
                                             sizeof err), SCRIM_EBUSY);
    assert_int_equal(l.held, 0);
    g_free(png);
    g_object_unref(im);
    free(prog);
    free(base);
}

static void decode_stops_at_the_deadline(void **state)
{
    char err[512] = "";
    scrim_image_hashes h;
    scrim_image img;
    unsigned long jl, pl;
    unsigned char *prog = layout_jpeg(2000, 1500, 2, 2, 1, &pl);
    unsigned char *base = layout_jpeg(2000, 1500, 2, 2, 0, &jl);
    scrim_decode_opts past = {.deadline = scrim_now() - 1};
    scrim_decode_opts later = {.deadline = scrim_now() + 3600};
    assert_int_equal(scrim_hash_image_buffer(prog, pl, &past, &h, NULL, err,
                                             sizeof err), SCRIM_ETIMEOUT);
    assert_non_null(strstr(err, "deadline"));
    assert_int_equal(scrim_hash_image_buffer(base, jl, &past, &h, NULL, err,
                                             sizeof err), SCRIM_ETIMEOUT);
    assert_int_equal(scrim_image_load_buffer(base, jl, &past, &img, err,
                                             sizeof err), SCRIM_ETIMEOUT);
    assert_int_equal(scrim_hash_image_buffer(base, jl, &later, &h, NULL, err,
                                             sizeof err), 0);
    assert_int_equal(h.width, 2000);
    /* the libvips path */
    VipsImage *im = pattern(3), *big = NULL;
    assert_int_equal(vips_resize(im, &big, 2000.0 / im->Xsize, NULL), 0);
    void *png;
    size_t plen;
    assert_int_equal(vips_pngsave_buffer(big, &png, &plen, "compression", 1, NULL), 0);
    assert_int_equal(scrim_hash_image_buffer(png, plen, &past, &h, NULL, err,
                                             sizeof err), SCRIM_ETIMEOUT);
    assert_non_null(strstr(err, "deadline"));
    assert_int_equal(scrim_hash_image_buffer(png, plen, &later, &h, NULL, err,
                                             sizeof err), 0);
    g_free(png);
    g_object_unref(big);
    g_object_unref(im);
    free(prog);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_decode_to_same_pixels),
        cmocka_unit_test(alpha_is_flattened_onto_white),
        cmocka_unit_test(sixteen_bit_grey_and_cmyk),
        cmocka_unit_test(sixteen_bit_rgb_keeps_high_byte),
        cmocka_unit_test(cmyk_jpegs_as_the_reference_decodes_them),
        cmocka_unit_test(cmyk_tiffs_as_the_reference_decodes_them),
        cmocka_unit_test(heif_rotation_is_applied),
        cmocka_unit_test(damaged_heic_hashes_the_same_every_time),
        cmocka_unit_test(huge_image_refused_from_header),
        cmocka_unit_test(bad_inputs_get_clear_errors),
        cmocka_unit_test(jpeg_path_gives_libvips_pixels),
        cmocka_unit_test(big_jpegs_hash_at_full_size),
        cmocka_unit_test(jpeg_planes_give_luma_of_rgb_pixels),
        cmocka_unit_test(photos_planes_give_luma_of_rgb_pixels),
        cmocka_unit_test(damaged_jpegs_fail_cleanly),
        cmocka_unit_test(own_huffman_decoder_matches_libjpeg),
        cmocka_unit_test(exif_orientation_is_not_applied),
        cmocka_unit_test(published_files_within_10_bits),
        cmocka_unit_test(eval_photos_within_10_bits),
        cmocka_unit_test(many_scans_of_a_big_jpeg_refused),
        cmocka_unit_test(decode_memory_reckoned_from_the_header),
        cmocka_unit_test(decode_stops_at_the_deadline),
    };
    return RUN_TESTS("image", tests);
}
