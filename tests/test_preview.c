/* test_preview.c - the preview renderer: levels, options, and the property of
 * issue 6 on generated worst cases and real photos: longest side <= 256,
 * greyscale, no detail finer than the level's block count.  Run as
 * `test_preview --measure DETAIL FILE...` it prints the measure of preview
 * files for the shell tests of the daemon. */
#include "testutil.h"

#include <dirent.h>
#include <vips/vips.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* RMS change as a fraction of 255 for a grey image w x h; -1 on bad input. */
static inline double preview_detail_rms(const uint8_t *p, int w, int h,
                                        int blocks)
{
    int bw = w >= h ? blocks : (int)lround((double)blocks * w / h);
    int bh = h > w ? blocks : (int)lround((double)blocks * h / w);
    if (bw < 1) bw = 1;
    if (bh < 1) bh = 1;
    if (bw > w) bw = w;
    if (bh > h) bh = h;
    double *sum = calloc((size_t)bw * bh, sizeof *sum);
    double *cnt = calloc((size_t)bw * bh, sizeof *cnt);
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return -1;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)((int64_t)y * bh / h) * bw + (size_t)((int64_t)x * bw / w);
            sum[i] += p[(size_t)y * w + x];
            cnt[i] += 1;
        }
    for (size_t i = 0; i < (size_t)bw * bh; i++)
        sum[i] = cnt[i] ? sum[i] / cnt[i] : 0;
    double se = 0;
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * bh / h - 0.5;
        fy = fy < 0 ? 0 : fy > bh - 1 ? bh - 1 : fy;
        int y0 = (int)fy, y1 = y0 + 1 < bh ? y0 + 1 : y0;
        double ay = fy - y0;
        for (int x = 0; x < w; x++) {
            double fx = (x + 0.5) * bw / w - 0.5;
            fx = fx < 0 ? 0 : fx > bw - 1 ? bw - 1 : fx;
            int x0 = (int)fx, x1 = x0 + 1 < bw ? x0 + 1 : x0;
            double ax = fx - x0;
            double v = (1 - ay) * ((1 - ax) * sum[y0 * bw + x0] + ax * sum[y0 * bw + x1]) +
                       ay * ((1 - ax) * sum[y1 * bw + x0] + ax * sum[y1 * bw + x1]);
            double d = p[(size_t)y * w + x] - v;
            se += d * d;
        }
    }
    free(sum);
    free(cnt);
    return sqrt(se / ((double)w * h)) / 255.0;
}


/* Check one preview against everything issue 6 asks; returns the measure. */
static double check_preview(const scrim_preview *p, const scrim_preview_opts *o)
{
    char err[256];
    scrim_image im;
    assert_non_null(p->data);
    assert_true(p->len > 100);
    assert_int_equal(scrim_image_load_buffer(p->data, p->len, NULL, &im, err,
                                             sizeof err), 0);
    assert_string_equal(im.format, "jpeg");
    assert_int_equal(im.channels, 1);                 /* greyscale JPEG */
    assert_int_equal(im.width, p->width);
    assert_int_equal(im.height, p->height);
    assert_true(im.width <= o->size && im.height <= o->size);
    assert_true(o->size > 256 || (im.width <= 256 && im.height <= 256));
    assert_true(p->detail >= 1 && p->detail <= o->detail);
    double r = preview_detail_rms(im.pixels, im.width, im.height, o->detail);
    double r2 = preview_detail_rms(im.pixels, im.width, im.height, p->detail);
    scrim_image_free(&im);
    if (r2 > r)
        r = r2;
    assert_true(r >= 0);
    return r;
}

static const char *level_names[] = {"strong", "standard", "light"};

/* Render at each named level and its lighter level; return the worst measure. */
static double check_all_levels(const uint8_t *px, int w, int h, int ch,
                               const char *what)
{
    double worst = 0;
    char err[256];
    for (size_t i = 0; i < 3; i++)
        for (int lighter = 0; lighter < 2; lighter++) {
            scrim_preview_opts o;
            scrim_preview p;
            assert_true(scrim_preview_level_parse(level_names[i], &o, err,
                                                  sizeof err) > 0);
            if (lighter)
                scrim_preview_opts_lighter(&o, &o);
            int rc = scrim_preview_render_pixels(px, w, h, ch, (size_t)w * ch,
                                                 &o, &p, err, sizeof err);
            if (rc)
                fail_msg("%s: %s", what, err);
            double r = check_preview(&p, &o);
            if (r >= 0.05)
                fail_msg("%s at %s%s (%d blocks): %.4f RMS >= 5%%", what,
                         level_names[i], lighter ? " (lighter)" : "",
                         o.detail, r);
            if (r > worst)
                worst = r;
            scrim_preview_free(&p);
        }
    return worst;
}

static int opts_equal(const scrim_preview_opts *a, const scrim_preview_opts *b)
{
    return a->size == b->size && a->detail == b->detail && a->blur == b->blur &&
           a->quality == b->quality;
}

static void levels_parse_and_format(void **state)
{
    scrim_preview_opts o, d;
    char err[256], buf[128];
    scrim_preview_opts_default(&d);
    assert_int_equal(d.size, 256);
    assert_int_equal(d.detail, 24);

    assert_int_equal(scrim_preview_level_parse("standard", &o, err, sizeof err),
                     SCRIM_PREVIEW_STANDARD);
    assert_true(opts_equal(&o, &d));
    assert_int_equal(scrim_preview_level_parse("strong", &o, err, sizeof err),
                     SCRIM_PREVIEW_STRONG);
    assert_true(o.detail < d.detail);
    scrim_preview_opts_format(&o, buf, sizeof buf);
    assert_string_equal(buf, "strong");
    assert_int_equal(scrim_preview_level_parse("light", &o, err, sizeof err),
                     SCRIM_PREVIEW_LIGHT);
    assert_true(o.detail > d.detail);

    o.detail = 7;
    assert_int_equal(scrim_preview_level_parse("none", &o, err, sizeof err),
                     SCRIM_PREVIEW_NONE);
    assert_int_equal(o.detail, 7);   /* untouched */

    assert_int_equal(scrim_preview_level_parse("16", &o, err, sizeof err),
                     SCRIM_PREVIEW_CUSTOM);
    assert_int_equal(o.detail, 16);
    assert_int_equal(scrim_preview_level_parse("detail=30,size=128,blur=1.5,quality=60",
                                               &o, err, sizeof err),
                     SCRIM_PREVIEW_CUSTOM);
    assert_int_equal(o.detail, 30);
    assert_int_equal(o.size, 128);
    assert_true(o.blur == 1.5);
    assert_int_equal(o.quality, 60);
    scrim_preview_opts_format(&o, buf, sizeof buf);
    scrim_preview_opts o2;
    assert_int_equal(scrim_preview_level_parse(buf, &o2, err, sizeof err),
                     SCRIM_PREVIEW_CUSTOM);
    assert_true(opts_equal(&o, &o2));
    /* Explicit numbers equal to a named level are that level. */
    assert_int_equal(scrim_preview_level_parse("detail=12", &o, err, sizeof err),
                     SCRIM_PREVIEW_STRONG);

    static const char *bad[] = {"", "blurry", "detail=", "detail=x", "detail=1",
                                "detail=500", "size=8", "size=5000", "blur=0",
                                "blur=9", "quality=0", "detail=24,,",
                                "colour=1", "-3", "detail=2.5",
                                "detail=200,size=256"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        if (scrim_preview_level_parse(bad[i], &o, err, sizeof err) != SCRIM_EINVAL)
            fail_msg("level '%s' accepted", bad[i]);
        assert_true(strlen(err) > 10);
    }
    /* Messages name the problem. */
    scrim_preview_level_parse("size=5000", &o, err, sizeof err);
    assert_non_null(strstr(err, "5000"));
}

static void lighter_is_lighter_but_pixelated(void **state)
{
    char err[256];
    for (size_t i = 0; i < 3; i++) {
        scrim_preview_opts o, l;
        scrim_preview_level_parse(level_names[i], &o, err, sizeof err);
        scrim_preview_opts_lighter(&o, &l);
        assert_true(l.detail > o.detail);
        assert_true(l.detail <= 64);
        assert_true(l.detail <= o.size / 4);
        assert_true(l.blur == o.blur);
        assert_int_equal(scrim_preview_opts_check(&l, err, sizeof err), 0);
    }
}

static uint8_t *make_image(int w, int h, int ch, int kind, int cell)
{
    uint8_t *px = malloc((size_t)w * h * ch);
    assert_non_null(px);
    srand(42 + kind);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                int v;
                switch (kind) {
                case 0: v = ((x / cell + y / cell) & 1) ? 255 : 0; break; /* checker */
                case 1: v = rand() & 255; break;                            /* noise */
                case 2: v = (rand() & 1) ? 255 : 0; break;                  /* salt/pepper */
                case 3: v = (x * 255) / (w > 1 ? w - 1 : 1); break;         /* ramp */
                default: v = 200; break;                                     /* flat */
                }
                px[((size_t)y * w + x) * ch + c] = (uint8_t)v;
            }
    return px;
}

/* Random 0/255 per block of the preview grid: the worst case for the
 * pixelation, since every block mean survives at full contrast. */
static uint8_t *make_block_noise(int w, int h, int bw, int bh)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    uint8_t *cells = malloc((size_t)bw * bh);
    srand(7);
    for (int i = 0; i < bw * bh; i++)
        cells[i] = (rand() & 1) ? 255 : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memset(px + ((size_t)y * w + x) * 3,
                   cells[(size_t)(y * bh / h) * bw + x * bw / w], 3);
    free(cells);
    return px;
}

static void generated_worst_cases(void **state)
{
    static const struct { int w, h, ch, kind, cell; const char *name; } cases[] = {
        {640, 480, 3, 0, 1, "checkerboard 1px"},
        {640, 480, 3, 0, 7, "checkerboard 7px"},
        {480, 640, 1, 0, 20, "checkerboard 20px, grey, portrait"},
        {512, 512, 4, 1, 0, "noise RGBA"},
        {600, 400, 3, 2, 0, "salt and pepper"},
        {1000, 30, 3, 0, 5, "thin strip"},
        {7, 300, 3, 3, 0, "7x300 ramp"},
        {1, 1, 3, 4, 0, "1x1"},
        {5, 5, 1, 1, 0, "5x5 noise"},
        {300, 200, 3, 4, 0, "flat"},
    };
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *px = make_image(cases[i].w, cases[i].h, cases[i].ch,
                                 cases[i].kind, cases[i].cell);
        double r = check_all_levels(px, cases[i].w, cases[i].h, cases[i].ch,
                                    cases[i].name);
        if (r > worst)
            worst = r;
        free(px);
    }
    /* Block noise aligned with each level's grid, and checkerboards of
     * exactly one block per cell. */
    int grids[] = {12, 24, 40, 48, 64};
    for (size_t i = 0; i < sizeof grids / sizeof *grids; i++) {
        int w = 720, h = 480, bh = (int)lround(grids[i] * (double)h / w);
        uint8_t *px = make_block_noise(w, h, grids[i], bh);
        char name[64];
        snprintf(name, sizeof name, "block noise %dx%d", grids[i], bh);
        scrim_preview_opts o;
        scrim_preview p;
        char err[256];
        scrim_preview_opts_default(&o);
        o.detail = grids[i];
        assert_int_equal(scrim_preview_render_pixels(px, w, h, 3, (size_t)w * 3,
                                                     &o, &p, err, sizeof err), 0);
        double r = check_preview(&p, &o);
        if (r >= 0.05)
            fail_msg("%s: %.4f RMS >= 5%%", name, r);
        if (r > worst)
            worst = r;
        scrim_preview_free(&p);
        free(px);
    }
    print_message("generated images: worst measure %.4f (limit 0.05)\n", worst);
}

static void real_photos(void **state)
{
    SHARED_OR_SKIP();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/eval-dev/orig", shared_data());
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    double worst = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[8192], err[256];
        uint8_t *data;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        assert_int_equal(scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len,
                                         err, sizeof err), 0);
        /* The daemon's path: hash, keep the pixels, render from them. */
        scrim_image_hashes h;
        scrim_image px;
        if (scrim_hash_image_buffer(data, len, NULL, &h, &px, err, sizeof err))
            fail_msg("%s: %s", path, err);
        free(data);
        double r = check_all_levels(px.pixels, px.width, px.height,
                                    px.channels, path);
        if (r > worst)
            worst = r;
        scrim_image_free(&px);
        n++;
    }
    closedir(d);
    print_message("%d photos: worst measure %.4f (limit 0.05)\n", n, worst);
    assert_true(n >= 100);
}

static void bad_inputs(void **state)
{
    scrim_preview p;
    scrim_preview_opts o;
    char err[256];
    uint8_t px[64 * 64 * 3] = {0};
    scrim_preview_opts_default(&o);
    assert_int_equal(scrim_preview_render_pixels(NULL, 64, 64, 3, 192, &o, &p,
                                                 err, sizeof err), SCRIM_EINVAL);
    assert_null(p.data);
    assert_int_equal(scrim_preview_render_pixels(px, 64, 64, 2, 192, &o, &p,
                                                 err, sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "channels"));
    assert_int_equal(scrim_preview_render_pixels(px, 0, 64, 3, 192, &o, &p,
                                                 err, sizeof err), SCRIM_EINVAL);
    assert_int_equal(scrim_preview_render_pixels(px, 64, 64, 3, 10, &o, &p,
                                                 err, sizeof err), SCRIM_EINVAL);
    o.detail = 1;
    assert_int_equal(scrim_preview_render_pixels(px, 64, 64, 3, 192, &o, &p,
                                                 err, sizeof err), SCRIM_EINVAL);
    assert_non_null(strstr(err, "detail"));
    assert_int_equal(scrim_preview_render(NULL, NULL, &p, err, sizeof err),
                     SCRIM_EINVAL);
    /* NULL options: the standard level. */
    assert_int_equal(scrim_preview_render_pixels(px, 64, 64, 3, 192, NULL, &p,
                                                 err, sizeof err), 0);
    assert_int_equal(p.detail, 24);
    assert_int_equal(p.width, 240);
    scrim_preview_free(&p);
    assert_null(p.data);
}

/* Preview files given on the command line: print "FILE RMS W H CHANNELS"
 * per file; exit 1 if any is not a greyscale preview within the measure. */
static int measure_files(int argc, char **argv)
{
    int detail = atoi(argv[2]), bad = 0;
    scrim_init(argv[0]);
    for (int i = 3; i < argc; i++) {
        scrim_image im;
        char err[256];
        if (scrim_image_load_file(argv[i], NULL, &im, err, sizeof err)) {
            printf("%s error %s\n", argv[i], err);
            bad = 1;
            continue;
        }
        double r = im.channels == 1
                       ? preview_detail_rms(im.pixels, im.width, im.height, detail)
                       : 1.0;
        printf("%s %.4f %d %d %d\n", argv[i], r, im.width, im.height, im.channels);
        if (r >= 0.05 || im.channels != 1 || im.width > 256 || im.height > 256)
            bad = 1;
        scrim_image_free(&im);
    }
    return bad;
}


/* ---- helpers for the shell tests (tests/review_*.t) ------------------------ */

/* --make-image OUT: a unique JPEG (random seed) with coarse random structure,
 * so PDQ quality is high, and fine noise, so an unblurred rendering of it is
 * recognisable. */
static int make_unique_jpeg(const char *out)
{
    enum { W = 640, H = 480, G = 6 };
    uint8_t *px = malloc((size_t)W * H * 3);
    double grid[G + 1][G + 1][3];
    FILE *rnd = fopen("/dev/urandom", "rb");
    unsigned seed;
    if (!px || !rnd || fread(&seed, sizeof seed, 1, rnd) != 1)
        return 1;
    fclose(rnd);
    srand(seed);
    for (int i = 0; i <= G; i++)
        for (int j = 0; j <= G; j++)
            for (int c = 0; c < 3; c++)
                grid[i][j][c] = rand() % 256;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double gx = (double)x * G / W, gy = (double)y * G / H;
            int ix = (int)gx, iy = (int)gy;
            double ax = gx - ix, ay = gy - iy;
            for (int c = 0; c < 3; c++) {
                double v = (1 - ay) * ((1 - ax) * grid[iy][ix][c] + ax * grid[iy][ix + 1][c]) +
                           ay * ((1 - ax) * grid[iy + 1][ix][c] + ax * grid[iy + 1][ix + 1][c]);
                v += (rand() % 81) - 40;
                px[((size_t)y * W + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)W * H * 3, W, H, 3,
                                               VIPS_FORMAT_UCHAR);
    int rc = !im || vips_image_write_to_file(im, out, "Q", 95, NULL);
    if (im)
        g_object_unref(im);
    free(px);
    return rc;
}

/* Grey pixels of an image resized to exactly w x h (NULL on failure). */
static uint8_t *grey_at(VipsImage *in, int w, int h)
{
    VipsImage *t[3] = {NULL};
    uint8_t *out = NULL;
    size_t n;
    if (!vips_colourspace(in, &t[0], VIPS_INTERPRETATION_B_W, NULL) &&
        !vips_resize(t[0], &t[1], (double)w / in->Xsize, "vscale",
                     (double)h / in->Ysize, NULL) &&
        !vips_extract_area(t[1], &t[2], 0, 0, w, h, NULL) &&
        (out = vips_image_write_to_memory(t[2], &n)) && n != (size_t)w * h) {
        g_free(out);
        out = NULL;
    }
    for (int i = 0; i < 3; i++)
        if (t[i])
            g_object_unref(t[i]);
    vips_error_clear();
    return out;
}

/* Detail of a grey image: itself minus a 5x5 box mean. */
static void highpass(const uint8_t *p, int w, int h, double *out)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            int n = 0;
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx >= 0 && yy >= 0 && xx < w && yy < h) {
                        s += p[(size_t)yy * w + xx];
                        n++;
                    }
                }
            out[(size_t)y * w + x] = p[(size_t)y * w + x] - s / n;
        }
}

/* Correlation of the fine detail of an image with the original's, resized
 * to the same size: near 0 for a preview, high for any unblurred rendering.
 * -2 if it cannot be compared. */
static double detail_correlation(VipsImage *orig, VipsImage *found)
{
    int w = found->Xsize, h = found->Ysize;
    if (w < 16 || h < 16)
        return -2;
    uint8_t *a = grey_at(orig, w, h), *b = grey_at(found, w, h);
    double *ha = malloc(sizeof *ha * w * h), *hb = malloc(sizeof *hb * w * h);
    double r = -2;
    if (a && b && ha && hb) {
        highpass(a, w, h, ha);
        highpass(b, w, h, hb);
        double sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < (size_t)w * h; i++) {
            sab += ha[i] * hb[i];
            saa += ha[i] * ha[i];
            sbb += hb[i] * hb[i];
        }
        r = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
    }
    g_free(a);
    g_free(b);
    free(ha);
    free(hb);
    return r;
}

static uint8_t *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(max ? max : 1);
    *len = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    return buf;
}

/* --privacy ORIG MARKER DIR...: every regular file under DIRs modified after
 * MARKER is searched for ORIG's bytes (whole, and 64-byte chunks from its
 * start, middle and end) and for embedded images (JPEG/PNG at any offset)
 * whose fine detail correlates with ORIG's.  Prints each finding; exit 1 if
 * any.  Files over 256 MB are reported as skipped. */
static int privacy_scan(int argc, char **argv)
{
    size_t olen;
    uint8_t *orig = slurp(argv[2], 64 << 20, &olen);
    struct stat ms;
    if (!orig || olen < 1024 || stat(argv[3], &ms)) {
        fprintf(stderr, "--privacy: cannot read %s or %s\n", argv[2], argv[3]);
        return 2;
    }
    /* A video upload: only its bytes are searched for. */
    VipsImage *oim = vips_image_new_from_buffer(orig, olen, "", NULL);
    if (!oim)
        vips_error_clear();
    /* Chunks from the entropy-coded data: headers and standard tables are
     * shared by many JPEGs. */
    size_t offs[3] = {olen / 4, olen / 2, olen * 3 / 4};
    int found = 0, files = 0, images = 0;
    for (int d = 4; d < argc; d++) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "find '%s' -xdev -type f -newer '%s' -print0 2>/dev/null",
                 argv[d], argv[3]);
        FILE *p = popen(cmd, "r");
        char path[4096];
        size_t n = 0;
        int ch;
        while (p && (ch = fgetc(p)) != EOF) {
            if (ch && n < sizeof path - 1) {
                path[n++] = (char)ch;
                continue;
            }
            path[n] = '\0';
            n = 0;
            if (!strcmp(path, argv[2]))
                continue;
            struct stat st;
            if (stat(path, &st) || !S_ISREG(st.st_mode))
                continue;
            if (st.st_size > (256 << 20)) {
                printf("skipped (over 256 MB): %s\n", path);
                continue;
            }
            size_t len;
            uint8_t *buf = slurp(path, (size_t)st.st_size, &len);
            if (!buf)
                continue;
            files++;
            if (memmem(buf, len, orig, olen)) {
                printf("upload bytes found in %s\n", path);
                found++;
            } else {
                for (int k = 0; k < 3; k++)
                    if (memmem(buf, len, orig + offs[k], 64)) {
                        printf("a 64-byte chunk of the upload (offset %zu) found in %s\n",
                               offs[k], path);
                        found++;
                        break;
                    }
            }
            /* Every embedded JPEG or PNG must not be an unblurred rendering. */
            for (size_t i = 0; i + 8 < len; i++) {
                int jpeg = buf[i] == 0xff && buf[i + 1] == 0xd8 && buf[i + 2] == 0xff;
                int png = !memcmp(buf + i, "\x89PNG\r\n\x1a\n", 8);
                if (!jpeg && !png)
                    continue;
                if (!oim)
                    break;
                VipsImage *im = vips_image_new_from_buffer(buf + i, len - i, "", NULL);
                if (!im) {
                    vips_error_clear();
                    continue;
                }
                double r = detail_correlation(oim, im);
                images++;
                printf("# image %dx%d at offset %zu of %s: detail correlation %.3f\n",
                       im->Xsize, im->Ysize, i, path, r);
                if (r > 0.3) {
                    printf("unblurred rendering (%dx%d, detail correlation %.2f) "
                           "at offset %zu of %s\n", im->Xsize, im->Ysize, r, i, path);
                    found++;
                }
                g_object_unref(im);
            }
            free(buf);
        }
        if (p)
            pclose(p);
    }
    printf("searched %d files changed since the upload, %d embedded images: "
           "%d findings\n", files, images, found);
    if (oim)
        g_object_unref(oim);
    free(orig);
    return found ? 1 : 0;
}

/* --compare SHOT X Y W H A B: RMS (fraction of full scale) between the
 * region of screenshot SHOT and images A and B, grey, printed "RA RB". */
static int compare_region(char **argv)
{
    int x = atoi(argv[3]), y = atoi(argv[4]), w = atoi(argv[5]), h = atoi(argv[6]);
    VipsImage *shot = vips_image_new_from_file(argv[2], NULL), *crop = NULL;
    VipsImage *a = vips_image_new_from_file(argv[7], NULL);
    VipsImage *b = vips_image_new_from_file(argv[8], NULL);
    if (!shot || !a || !b || w < 1 || h < 1 ||
        vips_extract_area(shot, &crop, x, y, w, h, NULL)) {
        fprintf(stderr, "--compare: %s\n", vips_error_buffer());
        return 2;
    }
    uint8_t *pc = grey_at(crop, w, h), *pa = grey_at(a, w, h), *pb = grey_at(b, w, h);
    if (!pc || !pa || !pb)
        return 2;
    double sa = 0, sb = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        sa += (double)(pc[i] - pa[i]) * (pc[i] - pa[i]);
        sb += (double)(pc[i] - pb[i]) * (pc[i] - pb[i]);
    }
    printf("%.4f %.4f\n", sqrt(sa / ((double)w * h)) / 255, sqrt(sb / ((double)w * h)) / 255);
    g_free(pc);
    g_free(pa);
    g_free(pb);
    g_object_unref(crop);
    g_object_unref(shot);
    g_object_unref(a);
    g_object_unref(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--measure"))
        return measure_files(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "--make-image"))
        return scrim_init(argv[0]) || make_unique_jpeg(argv[2]);
    if (argc == 9 && !strcmp(argv[1], "--compare"))
        return scrim_init(argv[0]) ? 2 : compare_region(argv);
    if (argc == 4 && !strcmp(argv[1], "--thumbnail")) {
        /* An unblurred rendering, for the privacy scan's positive control. */
        VipsImage *t = NULL;
        int rc = scrim_init(argv[0]) || vips_thumbnail(argv[2], &t, 256, NULL) ||
                 vips_image_write_to_file(t, argv[3], NULL);
        if (t)
            g_object_unref(t);
        return rc;
    }
    if (argc >= 5 && !strcmp(argv[1], "--privacy"))
        return scrim_init(argv[0]) ? 2 : privacy_scan(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_parse_and_format),
        cmocka_unit_test(lighter_is_lighter_but_pixelated),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(generated_worst_cases),
        cmocka_unit_test(real_photos),
    };
    return RUN_TESTS("test_preview", tests);
}
