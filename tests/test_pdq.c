/* test_pdq.c - the PDQ core against Meta's reference, bit for bit, and the
 * hash representation helpers. */
#include "testutil.h"

/* Hash a PNG of ../shared/data/pdq/exact through the whole decode path. */
static int hash_file(const char *file, scrim_pdq dih[8], int *quality)
{
    char path[4096], err[256];
    scrim_image img;
    snprintf(path, sizeof path, "%s/pdq/exact/%s", shared_data(), file);
    int rc = scrim_image_load_file(path, NULL, &img, err, sizeof err);
    if (rc) {
        print_error("%s: %s\n", file, err);
        return rc;
    }
    scrim_pdq h;
    rc = scrim_pdq_hash_pixels(img.pixels, img.width, img.height, img.channels,
                               (size_t)img.width * img.channels, &h, quality,
                               dih);
    scrim_image_free(&img);
    return rc;
}

static void exact_csv_bit_for_bit(void **state)
{
    SHARED_OR_SKIP();
    size_t n, bad = 0, done = 0;
    char **lines = shared_lines("pdq/exact.csv", &n);
    for (size_t i = 1; i < n; i++) {
        char hex[65], file[512];
        int q, gotq;
        if (sscanf(lines[i], "%64[0-9a-f],%d,%511s", hex, &q, file) != 3)
            fail_msg("bad line %zu of exact.csv: %s", i + 1, lines[i]);
        scrim_pdq dih[8];
        assert_int_equal(hash_file(file, dih, &gotq), 0);
        char got[65];
        scrim_pdq_to_hex(&dih[0], got);
        if (strcmp(got, hex) || q != gotq) {
            print_error("%s: want %s,%d got %s,%d\n", file, hex, q, got, gotq);
            bad++;
        }
        done++;
    }
    free_lines(lines);
    print_message("exact.csv: %zu/%zu bit-exact\n", done - bad, done);
    assert_true(done >= 50);
    assert_int_equal(bad, 0);
}

static void exact_dihedral_bit_for_bit(void **state)
{
    SHARED_OR_SKIP();
    char last[512] = "";
    size_t n, bad = 0, done = 0;
    scrim_pdq dih[8];
    int q = 0;
    char **lines = shared_lines("pdq/exact_dihedral.csv", &n);
    for (size_t i = 1; i < n; i++) {
        char file[512], variant[32], hex[65];
        int wantq;
        if (sscanf(lines[i], "%511[^,],%31[^,],%64[0-9a-f],%d", file, variant,
                   hex, &wantq) != 4)
            fail_msg("bad line %zu: %s", i + 1, lines[i]);
        if (strcmp(file, last)) {
            assert_int_equal(hash_file(file, dih, &q), 0);
            snprintf(last, sizeof last, "%s", file);
        }
        int v;
        for (v = 0; v < 8; v++)
            if (!strcmp(scrim_dihedral_name(v), variant))
                break;
        assert_true(v < 8);
        char got[65];
        scrim_pdq_to_hex(&dih[v], got);
        if (strcmp(got, hex) || q != wantq) {
            print_error("%s %s: want %s got %s\n", file, variant, hex, got);
            bad++;
        }
        done++;
    }
    free_lines(lines);
    print_message("exact_dihedral.csv: %zu/%zu bit-exact\n", done - bad, done);
    assert_true(done >= 400);
    assert_int_equal(bad, 0);
}

/* The reference's Jarosz filter written plainly (whole planes, one box
 * along every row then every column, twice, then the 64x64 point samples),
 * against scrim's streamed one: hashing the plain filter's 64x64 output
 * (which PDQ takes as already downsampled) must give the same bits. */
static void box_plain(const float *in, float *out, int len, size_t step, int win)
{
    int half = (win + 2) / 2, li = 0, ri = 0, oi = 0, count = 0;
    float sum = 0.0f;
    for (int i = 0; i < half - 1; i++, count++)
        sum += in[(size_t)ri++ * step];
    for (int i = 0; i < win - half + 1; i++) {
        sum += in[(size_t)ri++ * step];
        count++;
        out[(size_t)oi++ * step] = sum / count;
    }
    for (int i = 0; i < len - win; i++) {
        sum += in[(size_t)ri++ * step];
        sum -= in[(size_t)li++ * step];
        out[(size_t)oi++ * step] = sum / count;
    }
    for (int i = 0; i < half - 1; i++) {
        sum -= in[(size_t)li++ * step];
        count--;
        out[(size_t)oi++ * step] = sum / count;
    }
}

static void filter_plain(float *p, float *t, int w, int h, float out[64 * 64])
{
    int wr = (w + 127) / 128, wc = (h + 127) / 128;
    for (int pass = 0; pass < 2; pass++) {
        for (int y = 0; y < h; y++)
            box_plain(p + (size_t)y * w, t + (size_t)y * w, w, 1, wr);
        for (int x = 0; x < w; x++)
            box_plain(t + x, p + x, h, (size_t)w, wc);
    }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            out[i * 64 + j] = p[(size_t)(int)((i + 0.5) * h / 64) * w +
                                (int)((j + 0.5) * w / 64)];
}

static void streamed_filter_is_the_plain_one(void **state)
{
    /* heights that are and are not whole strips of 8, windows of 1 to 9,
     * smaller than 64 (samples taken twice) */
    static const int sizes[][2] = {{480, 720}, {720, 483}, {1100, 1081}, {64, 65},
                                   {37, 300},  {300, 37},  {9, 6},       {130, 131},
                                   {1024, 17}, {17, 1023}};
    srand(11);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        size_t n = (size_t)w * h;
        float *p = malloc(n * sizeof *p), *q = malloc(n * sizeof *q),
              *t = malloc(n * sizeof *t), s64[64 * 64];
        assert_true(p && q && t);
        for (size_t i = 0; i < n; i++)
            p[i] = q[i] = 0.299f * (float)(rand() % 256) +
                          0.587f * (float)((i % w) * 255 / w) + 0.114f * (float)(i % 7);
        filter_plain(p, t, w, h, s64);
        scrim_pdq a, b;
        int qa, qb;
        assert_int_equal(scrim_pdq_hash_luma(q, w, h, &a, &qa, NULL), 0);
        assert_int_equal(scrim_pdq_hash_luma(s64, 64, 64, &b, &qb, NULL), 0);
        if (scrim_pdq_distance(&a, &b) || qa != qb)
            fail_msg("%dx%d: %d bits from the plain filter's hash (quality %d / %d)",
                     w, h, scrim_pdq_distance(&a, &b), qa, qb);
        free(p);
        free(q);
        free(t);
    }
}

static void tiny_images_hash_to_zero(void **state)
{
    uint8_t px[4 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37);
    scrim_pdq h, zero = {{0}}, dih[8];
    int q = 99;
    assert_int_equal(scrim_pdq_hash_pixels(px, 4, 4, 3, 12, &h, &q, dih), 0);
    assert_memory_equal(&h, &zero, sizeof h);
    assert_int_equal(q, 0);
    assert_int_equal(scrim_pdq_hash_pixels(px, 1, 16, 3, 3, &h, &q, NULL), 0);
    assert_memory_equal(&h, &zero, sizeof h);
}

static void dihedral_of_transformed_pixels(void **state)
{
    /* A 40x30 pattern, and its rotation by 90 degrees clockwise as pixels:
     * the hash of the rotated pixels is close to the rotate90 variant. */
    enum { W = 40, H = 30 };
    static uint8_t a[H][W], r[W][H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            a[y][x] = (uint8_t)((x * x + 3 * y * x + 7 * y) % 251);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            r[x][H - 1 - y] = a[y][x];
    scrim_pdq dih[8], hr;
    int q;
    assert_int_equal(scrim_pdq_hash_pixels(&a[0][0], W, H, 1, W, &dih[0], &q, dih), 0);
    assert_int_equal(scrim_pdq_hash_pixels(&r[0][0], H, W, 1, H, &hr, &q, NULL), 0);
    int best = 256;
    for (int v = 0; v < 8; v++) {
        int d = scrim_pdq_distance(&hr, &dih[v]);
        if (d < best)
            best = d;
    }
    print_message("rotated pixels vs nearest dihedral variant: %d bits\n", best);
    assert_true(best <= 31);
}

static void hex_round_trip_and_errors(void **state)
{
    const char *hx = "d8f8f0cce0f4a84f0e370a22038f67f0b36e2ed596621e1d33e6b39c4e9c9b22";
    scrim_pdq h, h2;
    char out[65];
    uint8_t bytes[32];
    assert_int_equal(scrim_pdq_from_hex(hx, 64, &h), 0);
    scrim_pdq_to_hex(&h, out);
    assert_string_equal(out, hx);
    scrim_pdq_to_bytes(&h, bytes);
    assert_int_equal(bytes[0], 0xd8);
    assert_int_equal(bytes[31], 0x22);
    scrim_pdq_from_bytes(bytes, &h2);
    assert_memory_equal(&h, &h2, sizeof h);
    assert_int_equal(scrim_pdq_distance(&h, &h2), 0);
    h2.w[0] ^= 0x0101;
    h2.w[15] ^= 0x8000;
    assert_int_equal(scrim_pdq_distance(&h, &h2), 3);
    assert_int_equal(scrim_pdq_from_hex(hx, 63, &h), SCRIM_EINVAL);
    assert_int_equal(scrim_pdq_from_hex("zz" "f8f0cce0f4a84f0e370a22038f67f0b36e2ed596621e1d33e6b39c4e9c9b22", 64, &h),
                     SCRIM_EINVAL);
    assert_int_equal(scrim_pdq_from_hex(
                         "D8F8F0CCE0F4A84F0E370A22038F67F0B36E2ED596621E1D33E6B39C4E9C9B22",
                         64, &h2), 0);
    assert_int_equal(scrim_pdq_distance(&h, &h2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_csv_bit_for_bit),
        cmocka_unit_test(exact_dihedral_bit_for_bit),
        cmocka_unit_test(streamed_filter_is_the_plain_one),
        cmocka_unit_test(tiny_images_hash_to_zero),
        cmocka_unit_test(dihedral_of_transformed_pixels),
        cmocka_unit_test(hex_round_trip_and_errors),
    };
    return RUN_TESTS("pdq", tests);
}
