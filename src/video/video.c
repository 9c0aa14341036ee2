/* video.c - vPDQ frame sampling: demux and decode untrusted video with
 * FFmpeg (from memory or from a file, through input.c), pick
 * frames by vPDQ's rule, convert them to RGB at native size and PDQ-hash them;
 * and sniffing of the media kind (image or video) from the bytes. */
#include "scrim.h"
#include "base/base.h"
#include "hash/hash.h"
#include "decode/decode.h"
#include "video/video.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include "base/lazy_av.h"

/* Demuxers we accept (matched against each demuxer's name list): MP4/MOV,
 * Matroska/WebM, AVI, MPEG-TS, GIF.  Everything else FFmpeg could open
 * (playlists, image sequences, raw streams ...) is refused. */
#define VIDEO_DEMUXERS "mov,matroska,avi,mpegts,gif"

/* ---- media-kind sniffing ---------------------------------------------------- */

static uint32_t rd32le(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rd32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Frames in a GIF, walking its blocks; stops at 2 (all we need to know) or
 * where the data ends. */
static int gif_frames(const uint8_t *p, size_t len)
{
    size_t i = 13;
    int frames = 0;
    if (len < 13)
        return 0;
    if (p[10] & 0x80)
        i += 3u << ((p[10] & 7) + 1);
    while (i < len && frames < 2) {
        if (p[i] == 0x3b) /* trailer */
            break;
        if (p[i] == 0x21) { /* extension: label, then sub-blocks */
            i += 2;
        } else if (p[i] == 0x2c) { /* image: descriptor, colour table, LZW */
            if (i + 10 > len)
                break;
            uint8_t flags = p[i + 9];
            i += 10;
            if (flags & 0x80)
                i += 3u << ((flags & 7) + 1);
            i += 1; /* LZW minimum code size */
            frames++;
        } else {
            break;
        }
        while (i < len && p[i]) /* sub-blocks up to the terminator */
            i += (size_t)p[i] + 1;
        i++;
    }
    return frames;
}

/* Animation frames (ANMF chunks) of a WebP, up to 2. */
static int webp_frames(const uint8_t *p, size_t len)
{
    size_t i = 12;
    int frames = 0;
    while (i + 8 <= len && frames < 2) {
        uint32_t sz = rd32le(p + i + 4);
        if (!memcmp(p + i, "ANMF", 4))
            frames++;
        if (!memcmp(p + i, "VP8 ", 4) || !memcmp(p + i, "VP8L", 4))
            return 1;
        i += 8 + (size_t)sz + (sz & 1);
    }
    return frames;
}

/* Brands of the ISO base media file format that are still images (HEIF,
 * AVIF): those go to the image decoder. */
static int isobmff_is_image(const uint8_t *p, size_t len)
{
    static const char *const img[] = {"heic", "heix", "hevc", "heim", "heis",
                                      "hevm", "hevs", "mif1", "msf1", "avif"};
    if (len < 12)
        return 0;
    for (size_t k = 0; k < sizeof img / sizeof *img; k++)
        if (!memcmp(p + 8, img[k], 4))
            return 1;
    return 0;
}

static int mpegts_like(const uint8_t *p, size_t len)
{
    /* 188-byte packets (TS) or 192-byte ones with a 4-byte prefix (M2TS). */
    for (size_t off = 0; off <= 4; off += 4) {
        size_t step = off ? 192 : 188, n = 0;
        for (size_t i = off; i < len && n < 4; i += step, n++)
            if (p[i] != 0x47)
                break;
        if (n >= 3 || (n >= 1 && len < off + step * 2 && len >= off + 188))
            return 1;
    }
    return 0;
}

int scrim_media_sniff(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (!p || len < 4)
        return SCRIM_MEDIA_UNKNOWN;
    if (len >= 12 && (!memcmp(p + 4, "ftyp", 4)))
        return isobmff_is_image(p, len) ? SCRIM_MEDIA_IMAGE : SCRIM_MEDIA_VIDEO;
    if (len >= 8 && (!memcmp(p + 4, "moov", 4) || !memcmp(p + 4, "mdat", 4) ||
                     !memcmp(p + 4, "wide", 4) || !memcmp(p + 4, "free", 4)))
        return SCRIM_MEDIA_VIDEO;
    if (rd32be(p) == 0x1a45dfa3) /* EBML: Matroska, WebM */
        return SCRIM_MEDIA_VIDEO;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "AVI ", 4))
        return SCRIM_MEDIA_VIDEO;
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return gif_frames(p, len) >= 2 ? SCRIM_MEDIA_VIDEO : SCRIM_MEDIA_IMAGE;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return webp_frames(p, len) >= 2 ? SCRIM_MEDIA_VIDEO : SCRIM_MEDIA_IMAGE;
    if (p[0] == 0x47 || (len > 4 && p[4] == 0x47))
        if (mpegts_like(p, len))
            return SCRIM_MEDIA_VIDEO;
    if (scrim_image_sniff(buf, len))
        return SCRIM_MEDIA_IMAGE;
    return SCRIM_MEDIA_UNKNOWN;
}

const char *scrim_media_kind_name(int kind)
{
    return kind == SCRIM_MEDIA_IMAGE ? "image"
           : kind == SCRIM_MEDIA_VIDEO ? "video" : "unknown";
}

/* ---- options ------------------------------------------------------------------- */

void scrim_video_opts_default(scrim_video_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seconds_per_hash = SCRIM_VIDEO_DEFAULT_SECONDS_PER_HASH;
}

/* Options with every 0 limit replaced by its default. */
static scrim_video_opts opts_resolve(const scrim_video_opts *in)
{
    scrim_video_opts o;
    if (in)
        o = *in;
    else
        scrim_video_opts_default(&o);
    if (!(o.seconds_per_hash >= 0) || !isfinite(o.seconds_per_hash))
        o.seconds_per_hash = SCRIM_VIDEO_DEFAULT_SECONDS_PER_HASH;
    if (o.max_duration <= 0) o.max_duration = SCRIM_VIDEO_DEFAULT_MAX_DURATION;
    if (o.max_side <= 0) o.max_side = SCRIM_VIDEO_DEFAULT_MAX_SIDE;
    if (!o.max_pixels) o.max_pixels = SCRIM_VIDEO_DEFAULT_MAX_PIXELS;
    if (o.max_frames <= 0) o.max_frames = SCRIM_VIDEO_DEFAULT_MAX_FRAMES;
    if (o.probe_size <= 0) o.probe_size = SCRIM_VIDEO_DEFAULT_PROBE_SIZE;
    if (o.max_streams <= 0) o.max_streams = SCRIM_VIDEO_DEFAULT_MAX_STREAMS;
    if (o.time_budget <= 0) o.time_budget = SCRIM_VIDEO_DEFAULT_TIME_BUDGET;
    /* A caller's deadline (the request's) shortens the budget to what is
     * left of it: decoding past it answers nobody. */
    if (o.deadline > 0) {
        double left = o.deadline - scrim_now();
        if (left < o.time_budget)
            o.time_budget = left > 0.001 ? left : 0.001;
    }
    if (o.threads < 0) o.threads = 0;
    return o;
}

/* ---- decoding and sampling ---------------------------------------------------------- */

/* Everything one decode owns; released in one place (video_close). */
struct video {
    scrim_video_opts o;
    struct scrim__input in;       /* the container, its packet, frame, decoder */
    AVStream *st;
    struct SwsContext *sws;
    int sws_key[3];               /* w, h, pixel format sws was made for */
    struct scrim__frame_hasher *hasher;
    uint8_t *rgb;
    size_t rgb_size;
    int mod;            /* hash frame n when n % mod == 0 */
    long next_frame;    /* presentation index of the next decoded frame */
    scrim_vpdq *out;
    size_t inner_cap;   /* framing: out->inner's room */
    int inner_found;    /* framing: bars seen in some frame */
};

static void video_close(struct video *v)
{
    scrim__input_close(&v->in);
    sws_freeContext(v->sws);
    scrim__frame_hasher_free(v->hasher);
    av_free(v->rgb);
}

static const char *averr(int code, char *buf, size_t n)
{
    av_strerror(code, buf, n);
    return buf;
}

/* Frames with an alpha channel (animated GIF, PNG/QuickTime RLE in MOV,
 * VP8/VP9 with alpha) are composited onto white, the rule for images
 * (issue 2), so that a transparent frame hashes as the same picture does
 * through the image path.  rgba holds w x h RGBA pixels, packed; the RGB24
 * result is written over it from the start (each output pixel lies at or
 * before its input).  Rounds as (c*a + 255*(255-a)) / 255, to nearest. */
static void flatten_rgba_on_white(uint8_t *rgba, size_t npix)
{
    const uint8_t *in = rgba;
    uint8_t *out = rgba;
    for (size_t i = 0; i < npix; i++, in += 4, out += 3) {
        unsigned a = in[3], na = 255 - a;
        if (a == 255) {
            memmove(out, in, 3);
            continue;
        }
        for (int c = 0; c < 3; c++)
            out[c] = (uint8_t)((in[c] * a + 255 * na + 127) / 255);
    }
}

static int has_alpha(int format)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(format);
    return d && (d->flags & AV_PIX_FMT_FLAG_ALPHA);
}

enum { RGB_STRIP = 16 }; /* rows converted to RGB at a time (even) */

/* Hash one decoded frame at its own size, converted to RGB24 as the
 * reference does (frames with alpha through RGBA, flattened onto white). */
static int hash_frame(struct video *v, AVFrame *fr, long n, char *err,
                      size_t errlen)
{
    int w = fr->width, h = fr->height;
    if (w <= 0 || h <= 0 || w > v->o.max_side || h > v->o.max_side ||
        (uint64_t)w * (uint64_t)h > v->o.max_pixels) {
        scrim__seterr(err, errlen, "frame %ld is %dx%d, over the limit of %d px a side and %llu pixels",
                      n, w, h, v->o.max_side, (unsigned long long)v->o.max_pixels);
        return SCRIM_ETOOBIG;
    }
    /* in single precision, as the reference computes it (doubles differ in
     * the third decimal on a few frames at 29.97 fps) */
    scrim_vframe vf = {.frame_number = (int)n,
                       .seconds = v->out->fps > 0 ? (double)((float)n / (float)v->out->fps) : 0};
    int rc, alpha = has_alpha(fr->format);
    /* a new context only when the frames change (it is made under a lock) */
    if (!v->sws || v->sws_key[0] != w || v->sws_key[1] != h ||
        v->sws_key[2] != fr->format) {
        v->sws = scrim__sws_reference(v->sws, w, h, fr->format,
                                      alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24);
        v->sws_key[0] = w, v->sws_key[1] = h, v->sws_key[2] = fr->format;
    }
    if (!v->sws) {
        scrim__seterr(err, errlen, "cannot convert frames of pixel format %s to RGB",
                      av_get_pix_fmt_name(fr->format) ? av_get_pix_fmt_name(fr->format) : "?");
        return SCRIM_EFORMAT;
    }
    /* Planar YUV 4:2:0 and 4:2:2 of even height is what swscale converts
     * with its table converter, two rows at a time, each pixel on its own:
     * converted a strip of rows at a time, the RGB stays in cache on its
     * way to the luma plane, with the very same bytes. */
    int strip = !alpha && !(h & 1) &&
                (fr->format == AV_PIX_FMT_YUV420P || fr->format == AV_PIX_FMT_YUVJ420P ||
                 fr->format == AV_PIX_FMT_YUV422P || fr->format == AV_PIX_FMT_YUVJ422P)
                ? RGB_STRIP : h;
    size_t stride = (size_t)w * 3;
    size_t need = (size_t)w * (alpha ? 4 : 3) * (size_t)strip + 64;
    if (need > v->rgb_size) {
        av_free(v->rgb);
        v->rgb = av_malloc(need);
        v->rgb_size = v->rgb ? need : 0;
        if (!v->rgb)
            return SCRIM_ENOMEM;
    }
    scrim__frame_inner in;
    if (alpha) {
        uint8_t *dst[4] = {v->rgb, NULL, NULL, NULL};
        int dst_stride[4] = {w * 4, 0, 0, 0};
        sws_scale(v->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, h,
                  dst, dst_stride);
        flatten_rgba_on_white(v->rgb, (size_t)w * (size_t)h);
        rc = scrim__frame_hash_rgb(v->hasher, v->rgb, w, h, stride, &vf.pdq,
                                   &vf.quality, v->o.framing ? &in : NULL);
    } else {
        float *lum = scrim__frame_luma(v->hasher, w, h);
        if (!lum)
            return SCRIM_ENOMEM;
        int csh = strip < h && (fr->format == AV_PIX_FMT_YUV420P ||
                                fr->format == AV_PIX_FMT_YUVJ420P);
        for (int y = 0; y < h; y += strip) {
            int n = h - y < strip ? h - y : strip;
            /* swscale writes a slice's rows at their place in the frame:
             * the strip buffer is handed over as if it were row 0 */
            uint8_t *dst[4] = {(uint8_t *)((uintptr_t)v->rgb - (uintptr_t)y * stride),
                               NULL, NULL, NULL};
            int dst_stride[4] = {(int)stride, 0, 0, 0};
            if (strip == h) {
                sws_scale(v->sws, (const uint8_t *const *)fr->data, fr->linesize,
                          0, h, dst, dst_stride);
            } else {
                const uint8_t *src[4] = {
                    fr->data[0] + (ptrdiff_t)y * fr->linesize[0],
                    fr->data[1] + (ptrdiff_t)(y >> csh) * fr->linesize[1],
                    fr->data[2] + (ptrdiff_t)(y >> csh) * fr->linesize[2], NULL};
                sws_scale(v->sws, src, fr->linesize, y, n, dst, dst_stride);
            }
            for (int k = 0; k < n; k++)
                scrim__luma_rgb24(v->rgb + (size_t)k * stride, w,
                                  lum + (size_t)(y + k) * w);
        }
        rc = scrim__frame_hash_luma(v->hasher, w, h, &vf.pdq, &vf.quality,
                                    v->o.framing ? &in : NULL);
    }
    if (rc == SCRIM_OK)
        rc = scrim_vpdq_append(v->out, &vf);
    if (rc == SCRIM_OK && v->o.framing) {
        /* the frame inside the bars, or as it is before bars are known */
        scrim_vpdq *o = v->out;
        if (scrim__grow(&o->inner, &v->inner_cap, o->inner_count,
                        sizeof *o->inner, 64))
            return SCRIM_ENOMEM;
        o->inner[o->inner_count] = vf;
        if (in.found) {
            o->inner[o->inner_count].pdq = in.pdq;
            o->inner[o->inner_count].quality = in.quality;
            o->inner_x = in.x, o->inner_y = in.y;
            o->inner_w = in.w, o->inner_h = in.h;
            v->inner_found = 1;
        }
        o->inner_count++;
    }
    if (rc == SCRIM_OK && v->out->count > (size_t)v->o.max_frames) {
        scrim__seterr(err, errlen, "more than %d frames to hash: use a longer seconds-per-hash",
                      v->o.max_frames);
        return SCRIM_ETOOBIG;
    }
    return rc;
}

/* Take every frame the decoder has ready. */
static int drain(struct video *v, char *err, size_t errlen)
{
    for (;;) {
        int r = avcodec_receive_frame(v->in.dec, v->in.frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return SCRIM_OK;
        if (r == AVERROR(ENOMEM))
            return SCRIM_ENOMEM;
        if (r < 0) {
            /* A frame the decoder gave up on: count it, wait for more input. */
            v->out->corrupt_packets++;
            return SCRIM_OK;
        }
        if (v->in.frame->decode_error_flags || (v->in.frame->flags & AV_FRAME_FLAG_CORRUPT))
            v->out->corrupt_packets++;
        long n;
        int take;
        if (v->o.keyframes_only) {
            /* Frames were skipped unseen: place this one by its timestamp. */
            int64_t ts = v->in.frame->best_effort_timestamp;
            int64_t t0 = v->st->start_time != AV_NOPTS_VALUE ? v->st->start_time : 0;
            n = ts == AV_NOPTS_VALUE ? v->next_frame
                : llround(((double)ts - (double)t0) * av_q2d(v->st->time_base) *
                          v->out->fps);
            if (n < v->next_frame)
                n = v->next_frame;
            take = 1;
        } else {
            n = v->next_frame;
            take = n % v->mod == 0;
        }
        v->next_frame = n + 1;
        v->out->frames_decoded++;
        if (v->out->fps > 0 && (double)n / v->out->fps > v->o.max_duration) {
            scrim__seterr(err, errlen, "video is longer than the limit of %.0f s",
                          v->o.max_duration);
            av_frame_unref(v->in.frame);
            return SCRIM_ETOOBIG;
        }
        int rc = take ? hash_frame(v, v->in.frame, n, err, errlen) : SCRIM_OK;
        av_frame_unref(v->in.frame);
        if (rc)
            return rc;
        if (scrim__mono_now() > v->in.deadline) {
            scrim__seterr(err, errlen, "decoding took longer than the budget of %.3g s",
                          v->o.time_budget);
            return SCRIM_ETIMEOUT;
        }
    }
}

/* Open the container and the decoder of its video stream, checking limits
 * from the headers before any frame is decoded. */
static int video_open(struct video *v, int sniffed, char *err, size_t errlen)
{
    char eb[128];
    v->in.pkt = av_packet_alloc();
    v->in.frame = av_frame_alloc();
    if (!v->in.pkt || !v->in.frame)
        return SCRIM_ENOMEM;
    const struct scrim__input_opts io = {
        .probe_size = v->o.probe_size,
        .max_analyze_duration = 5 * AV_TIME_BASE,
        .max_streams = v->o.max_streams,
        .formats = VIDEO_DEMUXERS,
    };
    int r, rc = scrim__input_open(&v->in, &io, &r);
    if (rc == SCRIM_EFORMAT) {
        if (sniffed && r == AVERROR_INVALIDDATA) {
            /* The bytes start like a video container but do not hold one:
             * typically an MP4 cut off before its index (moov) box. */
            scrim__seterr(err, errlen, "truncated or corrupt video: the container cannot be read (%s)",
                          averr(r, eb, sizeof eb));
            return SCRIM_ECORRUPT;
        }
        if (r == AVERROR_INVALIDDATA || r == AVERROR(EINVAL) ||
            r == AVERROR_DEMUXER_NOT_FOUND || r == AVERROR(EPERM)) {
            scrim__seterr(err, errlen, "not a video container we decode (MP4/MOV, MKV/WebM, AVI, MPEG-TS, GIF): %s",
                          averr(r, eb, sizeof eb));
            return SCRIM_EFORMAT;
        }
        scrim__seterr(err, errlen, "cannot read the video container: %s",
                      averr(r, eb, sizeof eb));
        return SCRIM_ECORRUPT;
    }
    if (rc)
        return rc;
    snprintf(v->out->format, sizeof v->out->format, "%s", v->in.fmt->iformat->name);
    char *comma = strchr(v->out->format, ',');
    if (comma)
        *comma = '\0';
    if (v->in.fmt->nb_streams > (unsigned)v->o.max_streams) {
        scrim__seterr(err, errlen, "%u streams, over the limit of %d",
                      v->in.fmt->nb_streams, v->o.max_streams);
        return SCRIM_ETOOBIG;
    }
    r = avformat_find_stream_info(v->in.fmt, NULL);
    if (r < 0) {
        scrim__seterr(err, errlen, "cannot read the video's stream information: %s",
                      averr(r, eb, sizeof eb));
        return scrim__mono_now() > v->in.deadline ? SCRIM_ETIMEOUT : SCRIM_ECORRUPT;
    }
    if (v->in.fmt->nb_streams > (unsigned)v->o.max_streams) {
        scrim__seterr(err, errlen, "%u streams, over the limit of %d",
                      v->in.fmt->nb_streams, v->o.max_streams);
        return SCRIM_ETOOBIG;
    }
    /* The first video stream that is not cover art. */
    for (unsigned i = 0; i < v->in.fmt->nb_streams; i++) {
        AVStream *s = v->in.fmt->streams[i];
        if (!v->st && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            v->st = s;
        else
            s->discard = AVDISCARD_ALL; /* the demuxer skips its packets */
    }
    if (!v->st) {
        scrim__seterr(err, errlen, "the %s file has no video stream", v->out->format);
        return SCRIM_EFORMAT;
    }
    AVCodecParameters *par = v->st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    snprintf(v->out->codec, sizeof v->out->codec, "%s",
             avcodec_get_name(par->codec_id));
    if (!codec) {
        scrim__seterr(err, errlen, "no decoder for the video codec %s", v->out->codec);
        return SCRIM_EFORMAT;
    }
    v->out->width = par->width;
    v->out->height = par->height;
    if (par->width <= 0 || par->height <= 0) {
        scrim__seterr(err, errlen, "the video stream has no frame size");
        return SCRIM_EFORMAT;
    }
    if (par->width > v->o.max_side || par->height > v->o.max_side ||
        (uint64_t)par->width * (uint64_t)par->height > v->o.max_pixels) {
        scrim__seterr(err, errlen, "video is %dx%d, over the limit of %d px a side and %llu pixels",
                      par->width, par->height, v->o.max_side,
                      (unsigned long long)v->o.max_pixels);
        return SCRIM_ETOOBIG;
    }
    AVRational fr = v->st->avg_frame_rate;
    if (!fr.num || !fr.den)
        fr = v->st->r_frame_rate;
    v->out->fps = fr.num && fr.den ? av_q2d(fr) : 0;
    if (!(v->out->fps > 0) || !isfinite(v->out->fps)) {
        scrim__seterr(err, errlen, "the video stream has no frame rate");
        return SCRIM_EFORMAT;
    }
    double dur = 0;
    if (v->st->duration > 0)
        dur = (double)v->st->duration * av_q2d(v->st->time_base);
    else if (v->in.fmt->duration > 0)
        dur = (double)v->in.fmt->duration / AV_TIME_BASE;
    v->out->duration = dur;
    if (dur > v->o.max_duration) {
        scrim__seterr(err, errlen, "video is %.0f s long, over the limit of %.0f s",
                      dur, v->o.max_duration);
        return SCRIM_ETOOBIG;
    }
    /* vPDQ's rule: the truncation to int is the reference's.  The frame
     * rate is the file's word (an MP4 can claim 2e9 fps): clamped before
     * the cast, which is undefined out of range. */
    double every = v->o.seconds_per_hash * v->out->fps;
    v->mod = every >= INT_MAX ? INT_MAX : (int)every;
    if (v->mod < 1)
        v->mod = 1;
    if (!v->o.keyframes_only && dur > 0 &&
        dur * v->out->fps / v->mod > v->o.max_frames * 1.01 + 1) {
        scrim__seterr(err, errlen, "about %.0f frames to hash, over the limit of %d: use a longer seconds-per-hash",
                      dur * v->out->fps / v->mod, v->o.max_frames);
        return SCRIM_ETOOBIG;
    }

    v->in.dec = avcodec_alloc_context3(codec);
    if (!v->in.dec)
        return SCRIM_ENOMEM;
    r = avcodec_parameters_to_context(v->in.dec, par);
    if (r < 0) {
        scrim__seterr(err, errlen, "bad codec parameters: %s", averr(r, eb, sizeof eb));
        return SCRIM_EFORMAT;
    }
    v->in.dec->pkt_timebase = v->st->time_base;
    v->in.dec->thread_count = v->o.threads;
    if (v->o.threads != 1)
        v->in.dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if (v->o.keyframes_only)
        v->in.dec->skip_frame = AVDISCARD_NONKEY;
    r = scrim__avcodec_open(v->in.dec, codec);
    if (r < 0) {
        scrim__seterr(err, errlen, "cannot open the %s decoder: %s", v->out->codec,
                      averr(r, eb, sizeof eb));
        return SCRIM_EFORMAT;
    }
    v->hasher = scrim__frame_hasher_new();
    return v->hasher ? SCRIM_OK : SCRIM_ENOMEM;
}

/* Hash the video src (its source set, not open); sniffed: its first bytes
 * are a video container's. */
static int video_run(const struct scrim__input *src, int sniffed,
                     const scrim_video_opts *opts, scrim_vpdq *out, char *err,
                     size_t errlen)
{
    struct video v = {.in = *src};
    int rc, r, truncated = 0;
    long packets = 0;

    /* FFmpeg is loaded here, and told to be quiet: errors reach the caller
     * through err, its chatter about damaged input would clutter the log */
    if ((rc = scrim__av_load(err, errlen)))
        return rc;
    v.o = opts_resolve(opts);
    v.out = out;
    v.in.deadline = scrim__mono_now() + v.o.time_budget;
    /* Decoders (VP8 among them) leave parts of a damaged frame as they
     * found the memory: fill it with a constant while they run. */
    scrim__heap_fill(1);
    rc = video_open(&v, sniffed, err, errlen);
    if (rc)
        goto done;

    while ((r = av_read_frame(v.in.fmt, v.in.pkt)) >= 0 || r == AVERROR(EAGAIN)) {
        if (r < 0)
            continue;
        if (v.in.pkt->stream_index != v.st->index ||
            (v.o.keyframes_only && !(v.in.pkt->flags & AV_PKT_FLAG_KEY))) {
            /* Non-key packets are never handed to the decoder at all. */
            if (v.in.pkt->stream_index == v.st->index)
                packets++;
            av_packet_unref(v.in.pkt);
            continue;
        }
        packets++;
        r = avcodec_send_packet(v.in.dec, v.in.pkt);
        av_packet_unref(v.in.pkt);
        if (r == AVERROR(ENOMEM)) {
            rc = SCRIM_ENOMEM;
            goto done;
        }
        /* A packet the decoder refuses is skipped and counted; a stream of
         * nothing but such packets ends as "could not be decoded" below. */
        if (r < 0 && r != AVERROR(EAGAIN))
            v.out->corrupt_packets++;
        if ((rc = drain(&v, err, errlen)))
            goto done;
    }
    if (r != AVERROR_EOF) {
        if (scrim__mono_now() > v.in.deadline) {
            scrim__seterr(err, errlen, "decoding took longer than the budget of %.3g s",
                          v.o.time_budget);
            rc = SCRIM_ETIMEOUT;
            goto done;
        }
        truncated = 1;
    }
    /* The container announced more frames than it delivered: cut short. */
    if (v.st->nb_frames > 0 && packets < v.st->nb_frames)
        truncated = 1;
    avcodec_send_packet(v.in.dec, NULL);
    if ((rc = drain(&v, err, errlen)))
        goto done;
    if (v.out->frames_decoded == 0) {
        scrim__seterr(err, errlen, "the %s video stream could not be decoded%s",
                      v.out->codec, truncated ? " (truncated file)" : "");
        rc = SCRIM_EFORMAT;
        goto done;
    }
    if (truncated) {
        scrim__seterr(err, errlen, "truncated or corrupt video: %ld of %lld frames present",
                      packets, (long long)(v.st->nb_frames > packets ? v.st->nb_frames : packets));
        rc = SCRIM_ECORRUPT;
        goto done;
    }
    rc = SCRIM_OK;
done:
    if (!v.inner_found) {
        free(v.out->inner);
        v.out->inner = NULL;
        v.out->inner_count = 0;
    }
    video_close(&v);
    scrim__heap_fill(0);
    return rc;
}

int scrim_video_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *opts, scrim_vpdq *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!buf || !len) {
        scrim__seterr(err, errlen, "empty input");
        return SCRIM_EFORMAT;
    }
    if (scrim__is_webp(buf, len)) {
        scrim_video_opts o = opts_resolve(opts);
        scrim__heap_fill(1);
        int rc = scrim__anim_hash_buffer(buf, len, &o, out, err, errlen);
        scrim__heap_fill(0);
        return rc;
    }
    struct scrim__input src = {.data = buf, .len = len};
    return video_run(&src, scrim_media_sniff(buf, len) == SCRIM_MEDIA_VIDEO,
                     opts, out, err, errlen);
}

int scrim_video_hash_file(const char *path, const scrim_video_opts *opts,
                          scrim_vpdq *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct scrim__input src = {0};
    struct stat st;
    src.f = fopen(path, "rb");
    if (!src.f || fstat(fileno(src.f), &st) || !S_ISREG(st.st_mode)) {
        scrim__seterr(err, errlen, "cannot open: %s",
                      src.f ? "not a regular file" : strerror(errno));
        if (src.f)
            fclose(src.f);
        return SCRIM_EIO;
    }
    src.fsize = st.st_size;
    uint8_t head[4096];
    size_t got = fread(head, 1, sizeof head, src.f);
    int sniffed = scrim_media_sniff(head, got) == SCRIM_MEDIA_VIDEO;
    rewind(src.f);
    if (scrim__is_webp(head, got)) {
        /* libvips decodes WebP from memory */
        fclose(src.f);
        uint8_t *data;
        size_t len;
        int rc = scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len, err, errlen);
        if (rc == SCRIM_OK) {
            rc = scrim_video_hash_buffer(data, len, opts, out, err, errlen);
            free(data);
        }
        return rc;
    }
    int rc = video_run(&src, sniffed, opts, out, err, errlen);
    fclose(src.f);
    return rc;
}
