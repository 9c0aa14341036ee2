/* test_preview_video.c - contact sheets of videos: the tiles (matched times,
 * filled up to 4 with evenly spaced frames), each tile a preview satisfying
 * the property, timestamps under them, the sheet <= 256 px and grey;
 * bad input.  Uses ../shared/data/vpdq/videos and a generated video with an
 * audio track (ffmpeg CLI). */
#include "testutil.h"

#include <math.h>
#include <unistd.h>

/* The measure of tests/test_preview.c, on a region of a grey image. */
static double region_rms(const uint8_t *img, int stride, int x0, int y0, int w,
                         int h, int blocks)
{
    int bw = w >= h ? blocks : (int)lround((double)blocks * w / h);
    int bh = h > w ? blocks : (int)lround((double)blocks * h / w);
    double *sum = calloc((size_t)bw * bh, sizeof *sum), *cnt = calloc((size_t)bw * bh, sizeof *cnt);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)(y * bh / h) * bw + (size_t)(x * bw / w);
            sum[i] += img[(size_t)(y0 + y) * stride + x0 + x];
            cnt[i] += 1;
        }
    for (int i = 0; i < bw * bh; i++)
        sum[i] /= cnt[i];
    double se = 0;
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * bh / h - 0.5;
        fy = fy < 0 ? 0 : fy > bh - 1 ? bh - 1 : fy;
        int ya = (int)fy, yb = ya + 1 < bh ? ya + 1 : ya;
        for (int x = 0; x < w; x++) {
            double fx = (x + 0.5) * bw / w - 0.5;
            fx = fx < 0 ? 0 : fx > bw - 1 ? bw - 1 : fx;
            int xa = (int)fx, xb = xa + 1 < bw ? xa + 1 : xa;
            double ax = fx - xa, ay = fy - ya;
            double v = (1 - ay) * ((1 - ax) * sum[ya * bw + xa] + ax * sum[ya * bw + xb]) +
                       ay * ((1 - ax) * sum[yb * bw + xa] + ax * sum[yb * bw + xb]);
            double d = img[(size_t)(y0 + y) * stride + x0 + x] - v;
            se += d * d;
        }
    }
    free(sum);
    free(cnt);
    return sqrt(se / ((double)w * h)) / 255;
}

/* Check a sheet: grey JPEG <= 256 px; every tile within the measure at the
 * sheet's block count; each label strip has some text. */
static void check_sheet(const scrim_preview *p, const scrim_preview_sheet_info *in,
                        int want_tiles)
{
    scrim_image im;
    char err[256];
    assert_int_equal(scrim_image_load_buffer(p->data, p->len, NULL, &im, err, sizeof err), 0);
    assert_int_equal(im.channels, 1);
    assert_true(im.width <= 256 && im.height <= 256);
    assert_int_equal(in->tiles, want_tiles);
    int rows = (in->tiles + in->cols - 1) / in->cols;
    int tw = im.width / in->cols, th = im.height / rows - in->label_height;
    assert_true(tw >= 16 && th >= 8);
    int labelled = 0;
    for (int i = 0; i < in->tiles; i++) {
        int x = (i % in->cols) * tw, y = (i / in->cols) * (th + in->label_height);
        double r = region_rms(im.pixels, im.width, x, y, tw, th, p->detail);
        if (r >= 0.05)
            fail_msg("tile %d: %.4f RMS >= 5%%", i, r);
        int bright = 0;
        for (int yy = y + th; yy < y + th + in->label_height; yy++)
            for (int xx = x; xx < x + tw; xx++)
                bright += im.pixels[(size_t)yy * im.width + xx] > 128;
        labelled += bright > 5;
    }
    /* vips_text needs a font; where there is none the labels stay empty. */
    if (labelled != in->tiles)
        print_message("only %d of %d labels have text (no font?)\n", labelled, in->tiles);
    scrim_image_free(&im);
}

static void shared_video_sheet(void **state)
{
    SHARED_OR_SKIP();
    char path[4096], err[256];
    uint8_t *data;
    size_t len;
    snprintf(path, sizeof path, "%s/vpdq/videos/chair-orig-22-sd-bar.mp4", shared_data());
    assert_int_equal(scrim_read_file(path, 1 << 30, &data, &len, err, sizeof err), 0);

    /* Two matched times: filled up to 4 with evenly spaced frames. */
    double times[] = {3.0, 12.5};
    scrim_preview s, l;
    scrim_preview_sheet_info info;
    int rc = scrim_preview_video_sheet(data, len, times, 2, NULL, &s, &l, &info,
                                       err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    check_sheet(&s, &info, 4);
    assert_int_equal(s.detail, 24);
    int matched = 0;
    for (int i = 0; i < info.tiles; i++) {
        matched += info.matched[i];
        if (info.matched[i])
            assert_true(fabs(info.seconds[i] - 3.0) < 0.1 || fabs(info.seconds[i] - 12.5) < 0.1);
        if (i)
            assert_true(info.seconds[i] > info.seconds[i - 1]);
    }
    assert_int_equal(matched, 2);
    assert_true(l.detail > s.detail);
    check_sheet(&l, &info, 4);
    scrim_preview_free(&s);
    scrim_preview_free(&l);

    /* Many matched times: at most 9 tiles, all matched. */
    double many[20];
    for (int i = 0; i < 20; i++)
        many[i] = i;
    scrim_preview_opts o;
    scrim_preview_level_parse("strong", &o, err, sizeof err);
    assert_int_equal(scrim_preview_video_sheet(data, len, many, 20, &o, &s, NULL,
                                               &info, err, sizeof err), 0);
    check_sheet(&s, &info, 9);
    assert_int_equal(s.detail, 12);
    for (int i = 0; i < 9; i++)
        assert_true(info.matched[i]);
    scrim_preview_free(&s);

    /* No times: 4 evenly spaced frames. */
    assert_int_equal(scrim_preview_video_sheet(data, len, NULL, 0, NULL, &s, NULL,
                                               &info, err, sizeof err), 0);
    assert_int_equal(info.tiles, 4);
    assert_true(info.seconds[0] > 1 && info.seconds[3] < 22);
    scrim_preview_free(&s);
    free(data);
}

/* A generated portrait video with an audio track. */
static void generated_video_with_audio(void **state)
{
    char dir[] = "/tmp/scrim-sheet-XXXXXX", cmd[1024], path[256], err[256];
    if (system("command -v ffmpeg >/dev/null 2>&1")) {
        print_message("ffmpeg not installed: skipped\n");
        skip();
    }
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/v.mkv", dir);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -loglevel error -f lavfi -i testsrc2=size=180x320:rate=10:duration=5 "
             "-f lavfi -i sine=frequency=440:duration=5 -c:v mpeg4 -c:a flac -y %s", path);
    assert_int_equal(system(cmd), 0);
    uint8_t *data;
    size_t len;
    assert_int_equal(scrim_read_file(path, 1 << 30, &data, &len, err, sizeof err), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);

    double t[] = {4.0, 99.0};   /* one past the end: dropped */
    scrim_preview s;
    scrim_preview_sheet_info info;
    int rc = scrim_preview_video_sheet(data, len, t, 2, NULL, &s, NULL, &info, err,
                                       sizeof err);
    if (rc)
        fail_msg("%s", err);
    check_sheet(&s, &info, 4);
    assert_true(s.height > s.width || info.cols == 2);
    scrim_preview_free(&s);

    /* Truncated to its first kilobytes: refused or fewer frames, never a crash. */
    rc = scrim_preview_video_sheet(data, 3000, t, 1, NULL, &s, NULL, &info, err,
                                   sizeof err);
    if (rc == 0)
        scrim_preview_free(&s);
    else
        assert_true(strlen(err) > 5);
    free(data);
}

static void bad_input(void **state)
{
    scrim_preview s;
    char err[256];
    const char junk[] = "this is not a video at all, just some text bytes......";
    assert_int_equal(scrim_preview_video_sheet(junk, sizeof junk, NULL, 0, NULL, &s,
                                               NULL, NULL, err, sizeof err),
                     SCRIM_EFORMAT);
    assert_null(s.data);
    assert_int_equal(scrim_preview_video_sheet(NULL, 0, NULL, 0, NULL, &s, NULL, NULL,
                                               err, sizeof err), SCRIM_EFORMAT);
    scrim_preview_opts o;
    scrim_preview_opts_default(&o);
    o.size = 3;
    assert_int_equal(scrim_preview_video_sheet(junk, sizeof junk, NULL, 0, &o, &s,
                                               NULL, NULL, err, sizeof err),
                     SCRIM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_input),
        cmocka_unit_test(shared_video_sheet),
        cmocka_unit_test(generated_video_with_audio),
    };
    return RUN_TESTS("test_preview_video", tests);
}
