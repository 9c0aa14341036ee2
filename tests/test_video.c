/* test_video.c - vPDQ frame sampling against the reference's hash files, the
 * fast frame hasher against scrim_pdq_hash_pixels, the vPDQ text format, the
 * video comparison measure, media sniffing, and limits / damaged input. */
#include "testutil.h"
#include "temp_server.h"
#include "decode/decode.h"
#include "hash/hash.h"
#include "video/video.h"
#include "server/server.h"

#include <malloc.h>
#include <math.h>
#include <time.h>

static char *shared_path(char *buf, size_t n, const char *fmt, const char *name)
{
    char rel[512];
    snprintf(rel, sizeof rel, fmt, name);
    snprintf(buf, n, "%s/vpdq/%s", shared_data(), rel);
    return buf;
}

static void load_ref(const char *name, scrim_vpdq *v)
{
    char p[4096], err[256];
    int rc = scrim_vpdq_load_file(shared_path(p, sizeof p, "hashes/%s.txt", name),
                                  v, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", name, err);
}

/* Every frame of a sample video agrees with the reference: same count, same
 * timestamps (to the millisecond), frames of quality >= 80 within 10 bits. */
static void check_reference(const char *name, size_t *frames, size_t *q80,
                            size_t *far, size_t *same)
{
    char p[4096], err[256];
    scrim_vpdq ref, got;
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    o.seconds_per_hash = 0;
    load_ref(name, &ref);
    int rc = scrim_video_hash_file(shared_path(p, sizeof p, "videos/%s.mp4", name),
                                   &o, &got, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", name, err);
    assert_int_equal(got.count, ref.count);
    for (size_t i = 0; i < ref.count; i++) {
        assert_int_equal(got.frames[i].frame_number, ref.frames[i].frame_number);
        assert_true(fabs(got.frames[i].seconds - ref.frames[i].seconds) <= 0.0015);
        int d = scrim_pdq_distance(&got.frames[i].pdq, &ref.frames[i].pdq);
        *same += d == 0;
        if (ref.frames[i].quality >= 80) {
            (*q80)++;
            *far += d > 10;
        }
    }
    *frames += ref.count;
    scrim_vpdq_free(&ref);
    scrim_vpdq_free(&got);
}

/* SD, and HD with padded (non-multiple-of-16) dimensions. */
static const char *const ref_videos[] = {"pattern-sd-grey-bar", "test-padded-dimensions"};

static void reference_agreement(void **state)
{
    SHARED_OR_SKIP();
    /* The whole set is bench/video_bench agreement's job.  The SD video's
     * hashes were made with FFmpeg's C conversion, as scrim's: every frame
     * bit for bit; the padded HD one's with an x86 (SIMD) build of the
     * reference, which rounds differently: within 10 bits. */
    for (size_t i = 0; i < sizeof ref_videos / sizeof *ref_videos; i++) {
        size_t frames = 0, q80 = 0, far = 0, same = 0;
        check_reference(ref_videos[i], &frames, &q80, &far, &same);
        print_message("%s: %zu frames, %zu bit-identical, %zu of %zu (q>=80) over 10 bits\n",
                      ref_videos[i], frames, same, far, q80);
        assert_true(frames >= 150);
        assert_int_equal(far, 0);
        if (i == 0)
            assert_int_equal(same, frames);
    }
}

/* The frame hasher's transposed filter gives scrim_pdq_hash_pixels' bits. */
static void frame_hasher_bit_exact(void **state)
{
    static const int sizes[][2] = {{720, 480}, {481, 719}, {1280, 720}, {13, 9},
                                   {65, 64},   {64, 64},   {200, 131},   {8, 8},
                                   {9, 300},   {127, 129}, {5, 5}};
    struct scrim__frame_hasher *h = scrim__frame_hasher_new();
    assert_non_null(h);
    srand(7);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int w = sizes[s][0], ht = sizes[s][1];
        size_t stride = (size_t)w * 3 + 5;
        uint8_t *px = malloc(stride * ht);
        for (size_t i = 0; i < stride * ht; i++)
            px[i] = (uint8_t)((i % stride) * 200 / stride + rand() % 56);
        scrim_pdq a, b;
        int qa, qb;
        assert_int_equal(scrim_pdq_hash_pixels(px, w, ht, 3, stride, &a, &qa, NULL), 0);
        assert_int_equal(scrim__frame_hash_rgb(h, px, w, ht, stride, &b, &qb, NULL), 0);
        if (scrim_pdq_distance(&a, &b) || qa != qb)
            fail_msg("%dx%d: fast hasher differs by %d bits", w, ht,
                     scrim_pdq_distance(&a, &b));
        free(px);
    }
    scrim__frame_hasher_free(h);
}

/* The frame hasher's own paths: luma of packed RGB24 a row at a time (the
 * strips of video.c) as scrim__luma_plane makes it, and the picture inside
 * the bars hashed through the frame's row stride as if copied out. */
static void frame_luma_and_inner_in_place(void **state)
{
    srand(5);
    for (int w = 1; w <= 70; w += 3) {
        uint8_t px[70 * 3 * 2 + 64];
        float a[140], b[140];
        for (size_t i = 0; i < sizeof px; i++)
            px[i] = (uint8_t)rand();
        assert_int_equal(scrim__luma_plane(px, w, 2, 3, (size_t)w * 3, a), 0);
        scrim__luma_rgb24(px, w, b);
        scrim__luma_rgb24(px + w * 3, w, b + w);
        assert_memory_equal(a, b, (size_t)w * 2 * sizeof(float));
    }
    static const int rects[][6] = {/* frame w, h; inner x, y, w, h */
                                   {480, 720, 32, 0, 416, 720},
                                   {854, 480, 0, 60, 854, 361},
                                   {200, 99, 7, 5, 181, 83},
                                   {100, 100, 18, 18, 64, 64}};
    struct scrim__frame_hasher *h = scrim__frame_hasher_new();
    assert_non_null(h);
    for (size_t k = 0; k < sizeof rects / sizeof *rects; k++) {
        const int *r = rects[k];
        float *lum = scrim__frame_luma(h, r[0], r[1]);
        assert_non_null(lum);
        for (size_t i = 0; i < (size_t)r[0] * r[1]; i++)
            lum[i] = (float)(rand() % 25500) / 100.0f;
        float *in = malloc((size_t)r[4] * r[5] * sizeof *in);
        assert_non_null(in);
        for (int y = 0; y < r[5]; y++)
            memcpy(in + (size_t)y * r[4], lum + (size_t)(r[3] + y) * r[0] + r[2],
                   (size_t)r[4] * sizeof *in);
        scrim_pdq whole, whole2, inner, inner2;
        int qw, qw2, qi, qi2;
        assert_int_equal(scrim_pdq_hash_luma(in, r[4], r[5], &inner, &qi, NULL), 0);
        float *copy = malloc((size_t)r[0] * r[1] * sizeof *copy);
        assert_non_null(copy);
        memcpy(copy, lum, (size_t)r[0] * r[1] * sizeof *copy);
        assert_int_equal(scrim_pdq_hash_luma(copy, r[0], r[1], &whole, &qw, NULL), 0);
        scrim__pdq_scratch s = {0};
        assert_int_equal(scrim__pdq_reserve_strided(&s, r[0], r[1]), 0);
        assert_int_equal(scrim__pdq_hash_strided(&s, lum, (size_t)r[0], r[0], r[1],
                                                 &whole2, &qw2, NULL), 0);
        assert_int_equal(scrim__pdq_hash_strided(&s, lum + (size_t)r[3] * r[0] + r[2],
                                                 (size_t)r[0], r[4], r[5], &inner2, &qi2,
                                                 NULL), 0);
        scrim__pdq_scratch_free(&s);
        assert_memory_equal(&whole, &whole2, sizeof whole);
        assert_int_equal(qw, qw2);
        assert_memory_equal(&inner, &inner2, sizeof inner);
        assert_int_equal(qi, qi2);
        free(in);
        free(copy);
    }
    scrim__frame_hasher_free(h);
}

static void vpdq_text_format(void **state)
{
    const char *text = "# comment\n"
                       "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\r\n"
                       "\n"
                       "30,42,C0F11178372C6AACCDDEA259648FBFD62F434C89C9E99B249772BE216C8D055C,1.001\n";
    scrim_vpdq v;
    char err[256];
    assert_int_equal(scrim_vpdq_parse(text, strlen(text), &v, err, sizeof err), 0);
    assert_int_equal(v.count, 2);
    assert_int_equal(v.frames[1].frame_number, 30);
    assert_int_equal(v.frames[1].quality, 42);
    assert_true(fabs(v.frames[1].seconds - 1.001) < 1e-9);
    assert_true(scrim_vpdq_sniff(text, strlen(text)));
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(scrim_vpdq_write(f, &v), 0);
    fclose(f);
    assert_string_equal(buf,
                        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n"
                        "30,42,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,1.001\n");
    free(buf);
    scrim_vpdq_free(&v);

    static const struct { const char *text, *msg; } bad[] = {
        {"0,100,e271,0.0\n", "line 1: HASH"},
        {"0,100\n", "line 1: expected 4"},
        {"0,101,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0\n", "line 1: QUALITY"},
        {"\n0,1,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,x\n", "line 2: SECONDS"},
        {"5,1,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0\n"
         "4,1,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0\n", "line 2: frame 4"},
        {"# nothing\n", "no vPDQ"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(scrim_vpdq_parse(bad[i].text, strlen(bad[i].text), &v, err,
                                          sizeof err), SCRIM_EINVAL);
        if (!strstr(err, bad[i].msg))
            fail_msg("'%s' gave '%s'", bad[i].text, err);
    }
    assert_false(scrim_vpdq_sniff("hello\n", 6));
}

/* The reference's figures (python-threatexchange rules) on its hash files. */
static void compare_reference_figures(void **state)
{
    SHARED_OR_SKIP();
    static const struct { const char *a, *b; double q, c; } cases[] = {
        {"chair-orig-22-sd-bar", "chair-22-sd-sepia-bar", 100, 100},
        {"chair-orig-22-sd-bar", "chair-22-with-large-logo-bar", 10, 11},
        {"chair-orig-22-sd-bar", "chair-19-sd-bar", 85, 100},
        {"pattern-hd-no-bar", "pattern-longer-no-bar", 100, 88},
        {"chair-orig-22-sd-bar", "pattern-hd-no-bar", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        scrim_vpdq a, b;
        double q, c;
        load_ref(cases[i].a, &a);
        load_ref(cases[i].b, &b);
        assert_int_equal(scrim_vpdq_compare(&a, &b, SCRIM_VPDQ_MIN_QUALITY,
                                            SCRIM_VPDQ_MAX_DISTANCE, &q, &c), 0);
        print_message("%s vs %s: %.2f / %.2f\n", cases[i].a, cases[i].b, q, c);
        assert_true(fabs(q - cases[i].q) <= 2.5);
        assert_true(fabs(c - cases[i].c) <= 2.5);
        scrim_vpdq_free(&a);
        scrim_vpdq_free(&b);
    }
}

/* Duplicates and low-quality frames are dropped before counting. */
static void compare_rules(void **state)
{
    scrim_vpdq a = {0}, b = {0};
    scrim_vframe f = {0};
    double q, c;
    memset(&f.pdq, 0x00, sizeof f.pdq);
    f.quality = 100;
    scrim_vpdq_append(&a, &f);          /* matches b's first */
    f.frame_number = 1;
    scrim_vpdq_append(&a, &f);          /* exact duplicate: dropped */
    f.frame_number = 2;
    memset(&f.pdq, 0xff, sizeof f.pdq);
    scrim_vpdq_append(&a, &f);          /* matches nothing */
    f.frame_number = 3;
    f.pdq.w[0] = 0x1234;
    f.quality = 49;
    scrim_vpdq_append(&a, &f);          /* low quality: dropped */
    memset(&f, 0, sizeof f);
    f.quality = 90;
    f.pdq.w[3] = 0x7fff;                /* 15 bits from a's first */
    scrim_vpdq_append(&b, &f);
    f.frame_number = 1;
    memset(&f.pdq, 0x0f, sizeof f.pdq); /* 128 bits from everything */
    scrim_vpdq_append(&b, &f);
    assert_int_equal(scrim_vpdq_compare(&a, &b, 50, 31, &q, &c), 0);
    assert_true(fabs(q - 50.0) < 1e-9);
    assert_true(fabs(c - 50.0) < 1e-9);
    assert_int_equal(scrim_vpdq_compare(&a, &b, 50, 14, &q, &c), 0);
    assert_true(q == 0 && c == 0);
    scrim_vpdq empty = {0};
    assert_int_equal(scrim_vpdq_compare(&empty, &b, 50, 31, &q, &c), 0);
    assert_true(q == 0 && c == 0);
    scrim_vpdq_free(&a);
    scrim_vpdq_free(&b);
}

static uint8_t *read_video(const char *name, size_t *len)
{
    char p[4096], err[256];
    uint8_t *data;
    if (scrim_read_file(shared_path(p, sizeof p, "videos/%s.mp4", name),
                        SCRIM_MAX_INPUT_BYTES, &data, len, err, sizeof err))
        fail_msg("%s", err);
    return data;
}

/* Memory input gives what file input gives; sampling follows vPDQ's rule;
 * key-frame mode hashes only key frames. */
static void memory_sampling_keyframes(void **state)
{
    SHARED_OR_SKIP();
    size_t len;
    uint8_t *data = read_video("doorknob-hd-no-bar", &len);
    char p[4096], err[256];
    scrim_vpdq m, f, k;
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &m, err, sizeof err), 0);
    assert_int_equal(scrim_video_hash_file(shared_path(p, sizeof p, "videos/%s.mp4",
                                                       "doorknob-hd-no-bar"),
                                           &o, &f, err, sizeof err), 0);
    /* 120 frames at 30 fps, one hash a second: frames 0, 30, 60, 90. */
    assert_int_equal(m.count, 4);
    assert_int_equal(f.count, 4);
    for (size_t i = 0; i < m.count; i++) {
        assert_int_equal(m.frames[i].frame_number, (int)i * 30);
        assert_true(fabs(m.frames[i].seconds - (double)i) < 1e-9);
        assert_memory_equal(&m.frames[i].pdq, &f.frames[i].pdq, sizeof(scrim_pdq));
    }
    assert_int_equal(m.frames_decoded, 120);
    assert_int_equal(m.width, 1280);
    assert_string_equal(m.format, "mov");
    assert_string_equal(m.codec, "h264");
    o.keyframes_only = 1;
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &k, err, sizeof err), 0);
    assert_true(k.count >= 1 && k.count < 120);
    assert_true(k.frames_decoded == (long)k.count);
    assert_int_equal(k.frames[0].frame_number, 0);
    /* A key frame's hash is the every-frame hash of the same frame. */
    assert_memory_equal(&k.frames[0].pdq, &m.frames[0].pdq, sizeof(scrim_pdq));
    scrim_vpdq_free(&m);
    scrim_vpdq_free(&f);
    scrim_vpdq_free(&k);
    free(data);
}

static void limits_and_damage(void **state)
{
    SHARED_OR_SKIP();
    size_t len;
    uint8_t *data = read_video("doorknob-hd-no-bar", &len);
    char err[256];
    scrim_vpdq v;
    scrim_video_opts o;

    scrim_video_opts_default(&o);
    o.max_side = 1000;
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &v, err, sizeof err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "1280x720"));
    scrim_vpdq_free(&v);

    scrim_video_opts_default(&o);
    o.max_pixels = 1280 * 719;
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &v, err, sizeof err), SCRIM_ETOOBIG);
    scrim_vpdq_free(&v);

    scrim_video_opts_default(&o);
    o.max_duration = 2;
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &v, err, sizeof err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "limit of 2 s"));
    scrim_vpdq_free(&v);

    scrim_video_opts_default(&o);
    o.seconds_per_hash = 0;
    o.max_frames = 50;
    assert_int_equal(scrim_video_hash_buffer(data, len, &o, &v, err, sizeof err), SCRIM_ETOOBIG);
    assert_non_null(strstr(err, "limit of 50"));
    scrim_vpdq_free(&v);

    scrim_video_opts_default(&o);
    o.time_budget = 1e-6;
    int rc = scrim_video_hash_buffer(data, len, &o, &v, err, sizeof err);
    assert_true(rc == SCRIM_ETIMEOUT);
    scrim_vpdq_free(&v);

    /* Truncated: the header promises frames the data no longer holds. */
    scrim_video_opts_default(&o);
    rc = scrim_video_hash_buffer(data, len / 2, &o, &v, err, sizeof err);
    print_message("half a video: %s (%s)\n", scrim_errname(rc), err);
    assert_true(rc == SCRIM_ECORRUPT || rc == SCRIM_EFORMAT);
    scrim_vpdq_free(&v);

    /* Garbage after a valid container signature. */
    uint8_t junk[4096];
    memcpy(junk, data, 64);
    for (size_t i = 64; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    rc = scrim_video_hash_buffer(junk, sizeof junk, &o, &v, err, sizeof err);
    print_message("junk: %s (%s)\n", scrim_errname(rc), err);
    assert_true(rc == SCRIM_EFORMAT || rc == SCRIM_ECORRUPT);
    assert_true(strlen(err) > 10);
    scrim_vpdq_free(&v);

    /* Not a video at all. */
    const char *text = "just some text, not a video";
    assert_int_equal(scrim_video_hash_buffer(text, strlen(text), &o, &v, err, sizeof err),
                     SCRIM_EFORMAT);
    assert_non_null(strstr(err, "not a video container"));
    scrim_vpdq_free(&v);
    free(data);
}

static void sniffing(void **state)
{
    static const uint8_t mkv[] = {0x1a, 0x45, 0xdf, 0xa3, 0x93, 0x42, 0x82, 0x88};
    static const uint8_t avi[] = "RIFF\x10\0\0\0AVI LIST";
    static const uint8_t mp4[] = "\0\0\0\x20" "ftypisom\0\0\2\0";
    static const uint8_t heic[] = "\0\0\0\x18" "ftypheic\0\0\0\0";
    uint8_t ts[188 * 3] = {0};
    ts[0] = ts[188] = ts[376] = 0x47;
    assert_int_equal(scrim_media_sniff(mkv, sizeof mkv), SCRIM_MEDIA_VIDEO);
    assert_int_equal(scrim_media_sniff(avi, sizeof avi - 1), SCRIM_MEDIA_VIDEO);
    assert_int_equal(scrim_media_sniff(mp4, sizeof mp4 - 1), SCRIM_MEDIA_VIDEO);
    assert_int_equal(scrim_media_sniff(heic, sizeof heic - 1), SCRIM_MEDIA_IMAGE);
    assert_int_equal(scrim_media_sniff(ts, sizeof ts), SCRIM_MEDIA_VIDEO);
    assert_int_equal(scrim_media_sniff("hello world", 11), SCRIM_MEDIA_UNKNOWN);

    /* GIFs: one frame is an image, two are a video. */
    static const uint8_t frame[] = {0x21, 0xf9, 4, 0, 10, 0, 0, 0,          /* GCE */
                                    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,     /* image 1x1 */
                                    2, 2, 0x44, 0x01, 0};                /* LZW data */
    uint8_t gif[128];
    size_t n = 0;
    memcpy(gif, "GIF89a\1\0\1\0\x80\0\0", 13);
    n = 13;
    memcpy(gif + n, "\0\0\0\xff\xff\xff", 6); /* 2-colour global table */
    n += 6;
    memcpy(gif + n, frame, sizeof frame);
    n += sizeof frame;
    gif[n] = 0x3b;
    assert_int_equal(scrim_media_sniff(gif, n + 1), SCRIM_MEDIA_IMAGE);
    memcpy(gif + n, frame, sizeof frame);
    n += sizeof frame;
    gif[n] = 0x3b;
    assert_int_equal(scrim_media_sniff(gif, n + 1), SCRIM_MEDIA_VIDEO);
    assert_string_equal(scrim_media_kind_name(SCRIM_MEDIA_VIDEO), "video");
}

/* Damaged input never crashes (the sanitizer build checks memory too):
 * random mutations of a vPDQ text, of container headers for the sniffer,
 * and of a real video for the decoder. */
static void mutated_inputs(void **state)
{
    static const char text[] =
        "# video: a\n"
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n"
        "30,42,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,1.001\n";
    char buf[sizeof text], err[256];
    srand(11);
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, text, sizeof text);
        for (int k = rand() % 4; k >= 0; k--)
            buf[rand() % (sizeof text - 1)] = (char)(rand() % 256);
        size_t len = (size_t)rand() % sizeof text;
        scrim_vpdq v;
        int rc = scrim_vpdq_parse(buf, len, &v, err, sizeof err);
        assert_true(rc == SCRIM_OK || rc == SCRIM_EINVAL);
        scrim_vpdq_free(&v);
        (void)scrim_vpdq_sniff(buf, len);
        (void)scrim_media_sniff(buf, len);
    }
    static const uint8_t gif[] = "GIF89a\1\0\1\0\x80\0\0\0\0\0\xff\xff\xff"
                                 "\x21\xf9\4\0\n\0\0\0\x2c\0\0\0\0\1\0\1\0\0\2\2D\1\0"
                                 "\x2c\0\0\0\0\1\0\1\0\x81\2\2D\1\0;";
    static const uint8_t webp[] = "RIFF\x40\0\0\0WEBPVP8X\n\0\0\0\2\0\0\0\0\0\0\0\0\0"
                                  "ANMF\4\0\0\0abcdANMF\xff\xff\xff\x7f";
    const uint8_t *heads[] = {gif, webp};
    size_t hlen[] = {sizeof gif - 1, sizeof webp - 1};
    for (int it = 0; it < 4000; it++) {
        uint8_t b[128];
        int h = it & 1;
        memcpy(b, heads[h], hlen[h]);
        b[rand() % hlen[h]] = (uint8_t)rand();
        int kind = scrim_media_sniff(b, (size_t)rand() % (hlen[h] + 1));
        assert_true(kind >= SCRIM_MEDIA_UNKNOWN && kind <= SCRIM_MEDIA_VIDEO);
    }
    if (!shared_data())
        return;
    size_t len;
    uint8_t *data = read_video("doorknob-hd-no-bar", &len);
    uint8_t *m = malloc(len);
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    o.time_budget = 20;
    for (int it = 0; it < 6; it++) {
        memcpy(m, data, len);
        for (int k = 0; k < 40; k++)
            m[(size_t)rand() % len] = (uint8_t)rand();
        size_t n = it % 3 ? len : (size_t)rand() % len;
        scrim_vpdq v;
        int rc = scrim_video_hash_buffer(m, n, &o, &v, err, sizeof err);
        assert_true(rc == SCRIM_OK || rc == SCRIM_ECORRUPT || rc == SCRIM_EFORMAT ||
                    rc == SCRIM_ETOOBIG);
        if (rc)
            assert_true(strlen(err) > 5);
        scrim_vpdq_free(&v);
    }
    free(m);
    free(data);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A server on a temporary socket and database in dir (no TCP), with the
 * video endpoints; its routes are called directly. */
static scrim_server *video_server(char *dir, double request_timeout)
{
    char err[512];
    assert_non_null(mkdtemp(dir));
    scrim_settings s;
    temp_server_settings(&s, dir);
    s.request_timeout = request_timeout;
    scrim_server *srv;
    static char *argv[] = {"test_video", NULL};
    if (scrim_server_new(&s, 1, argv, &srv, err, sizeof err))
        fail_msg("server: %s", err);
    assert_int_equal(scrim_video_server_attach(srv, err, sizeof err), 0);
    return srv;
}

static void video_server_free(scrim_server *srv, const char *dir)
{
    char cmd[128];
    scrim_server_free(srv);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Call the route at `path` with a POST body; returns its result. */
static int post(scrim_server *srv, const char *path, const void *body,
                size_t len, scrim_call *c)
{
    scrim__route *r = NULL;
    for (int i = 0; i < srv->n_routes; i++)
        if (!strcmp(srv->routes[i].path, path))
            r = &srv->routes[i];
    assert_non_null(r);
    memset(c, 0, sizeof *c);
    c->method = SCRIM_POST;
    c->path = path;
    c->tail = "";
    c->body = body;
    c->body_len = len;
    c->settings = &srv->cur->s;
    c->store = srv->store;
    c->server = srv;
    return r->fn(c, r->arg);
}

/* POST /v1/compare's numbers are range-checked before they become ints:
 * {"min_quality": 4294967346} used to pass as 50. */
static void compare_route_checks_ranges(void **state)
{
    char dir[] = "/tmp/scrim-test-compare-XXXXXX";
    scrim_server *srv = video_server(dir, 30);
    static const char *const bodies[] = {
        "{\"query\": \"0,100,%s,0.0\", \"compared\": \"0,100,%s,0.0\", "
        "\"min_quality\": 4294967346}",
        "{\"query\": \"0,100,%s,0.0\", \"compared\": \"0,100,%s,0.0\", "
        "\"distance\": -4294967286}",
        "{\"query\": \"0,100,%s,0.0\", \"compared\": \"0,100,%s,0.0\", "
        "\"min_quality\": 50}"};
    const char *hx = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    for (int i = 0; i < 3; i++) {
        char body[512];
        scrim_call c;
        snprintf(body, sizeof body, bodies[i], hx, hx);
        int rc = post(srv, "/v1/compare", body, strlen(body), &c);
        if (i < 2) {
            assert_int_equal(rc, SCRIM_EINVAL);
            assert_int_equal(c.status, 400);
        } else {
            assert_int_equal(rc, 0);
            assert_true(json_real_value(json_object_get(
                            c.json, "query_match_percent")) == 100.0);
        }
        json_decref(c.json);
    }
    video_server_free(srv, dir);
}

/* A tiny GIF (7 KB) of 300 one-pixel frames on a 7680x4320 canvas: every
 * frame is a whole 33 MP picture to convert and hash, ~0.25 s each.  The
 * daemon gives up at its request timeout (here 1 s) instead of holding a
 * worker for the library's 120 s budget. */
static void video_decode_stops_at_request_timeout(void **state)
{
    enum { FRAMES = 300 };
    static uint8_t gif[64 + FRAMES * 24];
    size_t n = 0;
#define B(...) do { const uint8_t b_[] = {__VA_ARGS__}; \
        memcpy(gif + n, b_, sizeof b_); n += sizeof b_; } while (0)
    memcpy(gif, "GIF89a", 6), n = 6;
    B(7680 & 255, 7680 >> 8, 4320 & 255, 4320 >> 8, 0x80, 0, 0); /* 2 colours */
    B(0, 0, 0, 255, 255, 255);
    for (int i = 0; i < FRAMES; i++) {
        B(0x21, 0xf9, 4, 0, 100, 0, 0, 0);                   /* 1 s a frame */
        B(0x2c, (uint8_t)i, 0, 0, 0, 1, 0, 1, 0, 0);         /* 1x1 at (i, 0) */
        B(2, 2, (uint8_t)(0x44 | (i & 1) << 3), 1, 0);       /* LZW: one pixel */
    }
    B(0x3b);
#undef B
    char dir[] = "/tmp/scrim-test-budget-XXXXXX";
    scrim_server *srv = video_server(dir, 1);
    scrim_call c;
    double t0 = now_ms();
    int rc = post(srv, "/v1/match", gif, n, &c);
    double ms = now_ms() - t0;
    assert_int_equal(rc, SCRIM_ETIMEOUT);
    assert_int_equal(c.status, 504);
    assert_true(ms < 15000);
    json_decref(c.json);
    video_server_free(srv, dir);
}

/* An MP4 claiming 2e9 frames a second (tests/fixtures/fps-2e9.mp4, 1.7 KB):
 * seconds_per_hash * fps was cast to int out of range, which is undefined
 * (the sanitizer build aborted).  Now one frame a step, as for any rate. */
static void absurd_frame_rate(void **state)
{
    scrim_video_opts o;
    scrim_vpdq v;
    char err[512] = "";
    static const double steps[] = {3600, 1, 0};
    for (int i = 0; i < 3; i++) {
        scrim_video_opts_default(&o);
        o.seconds_per_hash = steps[i];
        int rc = scrim_video_hash_file("tests/fixtures/fps-2e9.mp4", &o, &v,
                                       err, sizeof err);
        if (rc)
            fail_msg("s=%g: %s", steps[i], err);
        assert_true(v.fps > 1e9);
        assert_int_equal(v.count, i < 2 ? 1 : 3);
        scrim_vpdq_free(&v);
        o.keyframes_only = 1;
        assert_int_equal(scrim_video_hash_file("tests/fixtures/fps-2e9.mp4", &o,
                                               &v, err, sizeof err), 0);
        scrim_vpdq_free(&v);
    }
}

/* A damaged VP8 WebM (fuzzer-made from a 64x48 testsrc2 clip, 3.4 KB) whose
 * frames FFmpeg leaves partly undecoded, as it found the memory: after the
 * heap has held noise, every decode gives the same frames
 * (scrim__heap_fill). */
static void damaged_vp8_hashes_the_same_every_time(void **state)
{
    (void)state;
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    o.seconds_per_hash = 0;
    char err[256];
    scrim_vpdq first, v;
    assert_int_equal(scrim_video_hash_file("tests/fixtures/vp8-damaged.webm", &o,
                                           &first, err, sizeof err), 0);
    assert_true(first.count > 0);
    uint32_t x = 777;
    int differ = 0;
    for (int round = 0; round < 8; round++) {
        heap_noise(&x);
        assert_int_equal(scrim_video_hash_file("tests/fixtures/vp8-damaged.webm",
                                               &o, &v, err, sizeof err), 0);
        int same = v.count == first.count;
        for (size_t i = 0; same && i < v.count; i++)
            same = scrim_pdq_distance(&v.frames[i].pdq, &first.frames[i].pdq) == 0;
        differ += !same;
        scrim_vpdq_free(&v);
    }
    print_message("damaged VP8: %d of 8 decodes after noise differ (%zu frames)\n",
                  differ, first.count);
    assert_int_equal(differ, 0);
    scrim_vpdq_free(&first);
}

/* An animated WebP with alpha (tests/fixtures/anim-alpha.webp: 5 frames of
 * 32x32 at 5 fps) goes through the flatten onto white, whose background
 * array was leaked on every call (96 bytes; libvips' allocations are
 * suppressed in the sanitizer build's leak report, so only the path and
 * its result are checked here). */
static void animated_webp_with_alpha(void **state)
{
    scrim_video_opts o;
    scrim_vpdq v;
    char err[512] = "";
    scrim_video_opts_default(&o);
    o.seconds_per_hash = 0;
    int rc = scrim_video_hash_file("tests/fixtures/anim-alpha.webp", &o, &v,
                                   err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(v.count, 5);
    assert_int_equal(v.width, 32);
    assert_true(fabs(v.fps - 5) < 1e-9);
    scrim_vpdq_free(&v);
}

/* A cut animated GIF (tests/fixtures/anim-cut.gif: bench/corpus.sh's
 * ffmpeg testsrc2 clip cut in half) has frames hashed before its error; the
 * admin's POST /v1/lists/NAME/media (scrim_media_add) lost them on every
 * such upload (found by bench/corpus.sh against the sanitizer build).  The
 * heap must not grow with repeats. */
static void media_add_damaged_video_keeps_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/scrim-test-addcut-XXXXXX", err[512], cmd[128];
    assert_non_null(mkdtemp(dir));
    scrim_store_opts so = {.create = 1};
    scrim_store *s;
    assert_int_equal(scrim_store_open(dir, &so, &s, err, sizeof err), 0);
    FILE *f = fopen("tests/fixtures/anim-cut.gif", "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    scrim_import_opts io = {.create = 1};
    scrim_vpdq v;
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    int rc = scrim_video_hash_buffer(buf, len, &o, &v, err, sizeof err);
    print_message("cut GIF: %s, %zu frames hashed before it (%s)\n",
                  scrim_errname(rc), v.count, err);
    assert_true(rc != 0 && v.count > 0);
    scrim_vpdq_free(&v);
    size_t before = 0;
    for (int i = 0; i < 41; i++) {
        if (i == 1)
            before = mallinfo2().uordblks;
        rc = scrim_media_add(s, "l", &io, buf, len, "cut", NULL, NULL, NULL, err,
                             sizeof err);
        assert_true(rc != 0);
    }
    size_t grew = mallinfo2().uordblks - before;
    print_message("40 adds of the cut GIF: heap in use grew by %zu bytes\n", grew);
    assert_true(grew < 40 * 1024);
    scrim_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_agreement),
        cmocka_unit_test(frame_hasher_bit_exact),
        cmocka_unit_test(frame_luma_and_inner_in_place),
        cmocka_unit_test(vpdq_text_format),
        cmocka_unit_test(compare_reference_figures),
        cmocka_unit_test(compare_rules),
        cmocka_unit_test(memory_sampling_keyframes),
        cmocka_unit_test(limits_and_damage),
        cmocka_unit_test(sniffing),
        cmocka_unit_test(mutated_inputs),
        cmocka_unit_test(compare_route_checks_ranges),
        cmocka_unit_test(video_decode_stops_at_request_timeout),
        cmocka_unit_test(absurd_frame_rate),
        cmocka_unit_test(animated_webp_with_alpha),
        cmocka_unit_test(damaged_vp8_hashes_the_same_every_time),
        cmocka_unit_test(media_add_damaged_video_keeps_nothing),
    };
    return RUN_TESTS("test_video", tests);
}
