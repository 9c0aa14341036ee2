/* video.c - the contact sheet of a matched video: frames at the
 * matched times (and evenly spaced ones when fewer than 4 matched), each tile
 * rendered like an image preview, its timestamp written under it.  Only the
 * video stream is decoded (audio is discarded unread), from memory, and only
 * the frames needed (seeking to each); nothing is written anywhere. */
#include "scrim.h"
#include "base/base.h"
#include "preview/preview.h"
#include "video/video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include "base/lazy_av.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>
#include "base/lazy_vips.h"

#define MAX_TILES SCRIM_SHEET_MAX_TILES
#define MIN_TILES 4
#define LABEL_H 12         /* px under each tile for its timestamp */
#define GRAB_SIDE 512      /* frames are scaled to at most this before rendering */
#define MAX_SIDE 8192
#define MAX_STREAMS 16
#define PROBE_SIZE (5 << 20)
#define TIME_BUDGET 20.0   /* seconds of wall clock for the whole sheet */

/* ---- grabbing frames ------------------------------------------------------------- */

struct tile {
    double target, seconds;   /* asked for / the frame's own time */
    int matched;
    uint8_t *grey;            /* GRAB_SIDE-bounded grey frame */
    int w, h;
};

struct grab {
    struct scrim__input in;   /* the container, its packet, frame, decoder */
    struct SwsContext *sws;
    int si;                   /* video stream index */
    double tb, fps;
};

static void grab_close(struct grab *g)
{
    scrim__input_close(&g->in);
    sws_freeContext(g->sws);
}

static int grab_open(struct grab *g, const void *buf, size_t len,
                     double deadline, char *err, size_t errlen)
{
    int rc = scrim__av_load(err, errlen); /* quiet: errors come back in err */
    if (rc)
        return rc;
    double until = scrim__mono_now() + TIME_BUDGET;
    if (deadline > 0 && deadline < until)
        until = deadline;
    g->in = (struct scrim__input){.data = buf, .len = len, .deadline = until};
    const struct scrim__input_opts io = {.probe_size = PROBE_SIZE};
    rc = scrim__input_open(&g->in, &io, NULL);
    if (rc == SCRIM_ENOMEM) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    if (rc) {
        scrim__seterr(err, errlen, "contact sheet: not a video we can open");
        return SCRIM_EFORMAT;
    }
    if (g->in.fmt->nb_streams > MAX_STREAMS) {
        scrim__seterr(err, errlen, "contact sheet: %u streams (limit %d)",
                      g->in.fmt->nb_streams, MAX_STREAMS);
        return SCRIM_ETOOBIG;
    }
    if (avformat_find_stream_info(g->in.fmt, NULL) < 0 ||
        (g->si = av_find_best_stream(g->in.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        scrim__seterr(err, errlen, "contact sheet: no video stream");
        return SCRIM_EFORMAT;
    }
    /* Only the video stream is read: audio is never decoded or kept. */
    for (unsigned i = 0; i < g->in.fmt->nb_streams; i++)
        g->in.fmt->streams[i]->discard = (int)i == g->si ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    AVStream *st = g->in.fmt->streams[g->si];
    AVCodecParameters *par = st->codecpar;
    if (par->width < 1 || par->height < 1 || par->width > MAX_SIDE ||
        par->height > MAX_SIDE) {
        scrim__seterr(err, errlen, "contact sheet: frame size %dx%d out of range",
                      par->width, par->height);
        return SCRIM_ETOOBIG;
    }
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec || !(g->in.dec = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(g->in.dec, par) < 0) {
        scrim__seterr(err, errlen, "contact sheet: no decoder for the video");
        return SCRIM_EFORMAT;
    }
    g->in.dec->thread_count = 1;
    if (scrim__avcodec_open(g->in.dec, codec) < 0 || !(g->in.pkt = av_packet_alloc()) ||
        !(g->in.frame = av_frame_alloc())) {
        scrim__seterr(err, errlen, "contact sheet: cannot open the decoder");
        return SCRIM_EFORMAT;
    }
    g->tb = av_q2d(st->time_base);
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    g->fps = fr.num && fr.den ? av_q2d(fr) : 25.0;
    return SCRIM_OK;
}

static double duration_of(const struct grab *g)
{
    AVStream *st = g->in.fmt->streams[g->si];
    if (st->duration > 0)
        return st->duration * g->tb;
    if (g->in.fmt->duration > 0)
        return g->in.fmt->duration / (double)AV_TIME_BASE;
    return 0;
}

/* Keep the decoded frame as grey pixels in t (replacing what was there). */
static int keep_frame(struct grab *g, struct tile *t, double seconds)
{
    AVFrame *f = g->in.frame;
    int w = f->width, h = f->height;
    double s = (double)GRAB_SIDE / (w > h ? w : h);
    if (s > 1)
        s = 1;
    int ow = (int)lround(w * s), oh = (int)lround(h * s);
    if (ow < 1) ow = 1;
    if (oh < 1) oh = 1;
    g->sws = sws_getCachedContext(g->sws, w, h, f->format, ow, oh,
                                  AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    uint8_t *grey = malloc((size_t)ow * oh);
    if (!g->sws || !grey) {
        free(grey);
        return SCRIM_ENOMEM;
    }
    uint8_t *dst[4] = {grey};
    int stride[4] = {ow};
    sws_scale(g->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst, stride);
    free(t->grey);
    t->grey = grey;
    t->w = ow;
    t->h = oh;
    t->seconds = seconds;
    return SCRIM_OK;
}

/* Decode the first frame at or after t->target (or the last one before the
 * end), seeking to the key frame before it. */
static int grab_at(struct grab *g, struct tile *t)
{
    int64_t ts = (int64_t)floor(t->target / g->tb);
    AVStream *st = g->in.fmt->streams[g->si];
    if (st->start_time != AV_NOPTS_VALUE)
        ts += st->start_time;
    if (av_seek_frame(g->in.fmt, g->si, ts, AVSEEK_FLAG_BACKWARD) >= 0)
        avcodec_flush_buffers(g->in.dec);
    double half = 0.5 / g->fps, start = st->start_time != AV_NOPTS_VALUE
                                            ? st->start_time * g->tb : 0;
    int eof = 0, have = 0, rc;
    while (!scrim__past_deadline(&g->in.deadline)) {
        if (!eof) {
            rc = av_read_frame(g->in.fmt, g->in.pkt);
            if (rc < 0) {
                eof = 1;
                avcodec_send_packet(g->in.dec, NULL);
            } else {
                if (g->in.pkt->stream_index == g->si)
                    avcodec_send_packet(g->in.dec, g->in.pkt);   /* bad packets skipped */
                av_packet_unref(g->in.pkt);
            }
        }
        while ((rc = avcodec_receive_frame(g->in.dec, g->in.frame)) == 0) {
            int64_t pts = g->in.frame->best_effort_timestamp;
            double sec = pts != AV_NOPTS_VALUE ? pts * g->tb - start : t->target;
            int err = keep_frame(g, t, sec < 0 ? 0 : sec);
            av_frame_unref(g->in.frame);
            if (err)
                return err;
            have = 1;
            if (sec >= t->target - half)
                return SCRIM_OK;
        }
        if (eof && rc == AVERROR_EOF)
            break;
    }
    if (!have)
        return scrim__past_deadline(&g->in.deadline) ? SCRIM_ETIMEOUT : SCRIM_ECORRUPT;
    return SCRIM_OK;
}

/* ---- choosing frames ------------------------------------------------------------- */

static int cmp_tile(const void *a, const void *b)
{
    double x = ((const struct tile *)a)->target, y = ((const struct tile *)b)->target;
    return x < y ? -1 : x > y;
}

/* The matched times (at most MAX_TILES, evenly chosen), plus evenly spaced
 * times when fewer than MIN_TILES; returns the count. */
static size_t choose(const double *times, size_t n, double duration,
                     struct tile *out)
{
    struct tile all[64];
    size_t m = 0, k = 0;
    for (size_t i = 0; i < n && m < 64; i++)
        if (isfinite(times[i]) && times[i] >= 0)
            all[m++] = (struct tile){.target = times[i], .matched = 1};
    qsort(all, m, sizeof *all, cmp_tile);
    /* Drop near-duplicates (frames 1/10 s apart look the same). */
    for (size_t i = 0; i < m; i++)
        if (!k || all[i].target - all[k - 1].target > 0.1)
            all[k++] = all[i];
    m = k;
    if (m > MAX_TILES) {
        for (size_t i = 0; i < MAX_TILES; i++)
            out[i] = all[i * (m - 1) / (MAX_TILES - 1)];
        return MAX_TILES;
    }
    memcpy(out, all, m * sizeof *out);
    for (int i = 0; m < MIN_TILES && i < MIN_TILES * 2; i++) {
        double t = duration > 0 ? duration * (i % MIN_TILES + 0.5) / MIN_TILES
                                : (double)(i % MIN_TILES);
        int dup = 0;
        for (size_t j = 0; j < m; j++)
            dup |= fabs(out[j].target - t) < 0.25;
        if (!dup)
            out[m++] = (struct tile){.target = t};
    }
    qsort(out, m, sizeof *out, cmp_tile);
    return m;
}

/* ---- the sheet --------------------------------------------------------------------- */

/* Write "m:ss.s" (or "h:mm:ss") white on the canvas, centred in a w-wide
 * strip at (x, y).  Without a usable font nothing is written. */
static void put_label(uint8_t *canvas, int cw, int ch, int x, int y, int w,
                      double sec, int matched)
{
    char text[32];
    VipsImage *t = NULL;
    int s = (int)sec;
    if (s >= 3600)
        snprintf(text, sizeof text, "%d:%02d:%02d%s", s / 3600, s / 60 % 60,
                 s % 60, matched ? " *" : "");
    else
        snprintf(text, sizeof text, "%d:%04.1f%s", s / 60, fmod(sec, 60.0),
                 matched ? " *" : "");
    if (scrim__vips(NULL, 0))
        return; /* no label: the sheet is still made */
    if (vips_text(&t, text, "dpi", 54, "width", w, NULL)) {
        vips_error_clear();
        return;
    }
    size_t n;
    uint8_t *m = t->BandFmt == VIPS_FORMAT_UCHAR && t->Bands == 1
                     ? vips_image_write_to_memory(t, &n) : NULL;
    if (m) {
        int tw = t->Xsize, th = t->Ysize;
        int ox = x + (w - tw) / 2, oy = y + (LABEL_H - th) / 2;
        for (int r = 0; r < th; r++)
            for (int c = 0; c < tw; c++) {
                int px = ox + c, py = oy + r;
                if (px >= x && px < x + w && px >= 0 && py >= 0 && px < cw && py < ch &&
                    py < y + LABEL_H)
                    canvas[(size_t)py * cw + px] = m[(size_t)r * tw + c];
            }
        g_free(m);
    }
    g_object_unref(t);
}

/* Render the tiles at options o into one JPEG. */
static int render_sheet(struct tile *tiles, size_t n, const scrim_preview_opts *o,
                        scrim_preview *out, char *err, size_t errlen)
{
    int cols = n <= 4 ? 2 : 3, rows = (int)((n + cols - 1) / cols);
    if (n == 1)
        cols = 1;
    /* The tiles' longest side: every cell and its label fit in o->size. */
    double a = (double)tiles[0].h / tiles[0].w;   /* all frames share a size */
    double by_w = (double)o->size / cols, by_h = ((double)o->size / rows - LABEL_H) / a;
    double lw = by_w < by_h ? by_w : by_h;        /* tile width */
    int L = (int)floor(a > 1 ? lw * a : lw);
    scrim_preview_opts to = *o;
    to.size = L < 16 ? 16 : L;
    if (to.detail > to.size / 2)
        to.detail = to.size / 2;
    uint8_t *g[MAX_TILES] = {NULL}, *canvas = NULL;
    int tw = 0, th = 0, d = 0, rc = SCRIM_OK;
    for (size_t i = 0; i < n; i++) {
        int w, h;
        if ((rc = scrim__preview_grey(tiles[i].grey, tiles[i].w, tiles[i].h, 1,
                                      (size_t)tiles[i].w, &to, &g[i], &w, &h, &d,
                                      err, errlen)))
            goto done;
        if (i == 0) {
            tw = w;
            th = h;
        } else if (w != tw || h != th) {   /* a size change mid-stream */
            scrim__seterr(err, errlen, "contact sheet: frames change size");
            rc = SCRIM_ECORRUPT;
            goto done;
        }
    }
    int cw = cols * tw, chh = rows * (th + LABEL_H);
    if (!(canvas = calloc((size_t)cw * chh, 1))) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int x = (int)(i % cols) * tw, y = (int)(i / cols) * (th + LABEL_H);
        for (int r = 0; r < th; r++)
            memcpy(canvas + (size_t)(y + r) * cw + x, g[i] + (size_t)r * tw, tw);
        put_label(canvas, cw, chh, x, y + th, tw, tiles[i].seconds, tiles[i].matched);
    }
    if (!(rc = scrim__preview_encode(canvas, cw, chh, o->quality, out, err, errlen)))
        out->detail = d;
done:
    for (size_t i = 0; i < n; i++)
        free(g[i]);
    free(canvas);
    return rc;
}

int scrim_preview_video_sheet(const void *buf, size_t len, const double *times,
                              size_t ntimes, const scrim_preview_opts *o,
                              scrim_preview *sheet, scrim_preview *lighter,
                              scrim_preview_sheet_info *info, char *err,
                              size_t errlen)
{
    return scrim_preview_video_sheet_until(buf, len, times, ntimes, o, 0, sheet,
                                           lighter, info, err, errlen);
}

int scrim_preview_video_sheet_until(const void *buf, size_t len,
                                    const double *times, size_t ntimes,
                                    const scrim_preview_opts *o, double deadline,
                                    scrim_preview *sheet, scrim_preview *lighter,
                                    scrim_preview_sheet_info *info, char *err,
                                    size_t errlen)
{
    struct grab g = {0};
    struct tile tiles[MAX_TILES];
    scrim_preview_opts def, lo;
    size_t n = 0;
    int rc;

    memset(sheet, 0, sizeof *sheet);
    if (lighter)
        memset(lighter, 0, sizeof *lighter);
    if (info)
        memset(info, 0, sizeof *info);
    if (!o) {
        scrim_preview_opts_default(&def);
        o = &def;
    }
    if ((rc = scrim_preview_opts_check(o, err, errlen)))
        return rc;
    if (!buf || !len) {
        scrim__seterr(err, errlen, "contact sheet: empty input");
        return SCRIM_EFORMAT;
    }
    /* as when hashing: frames a damaged stream leaves partly undecoded show
     * a constant there, never bytes of an earlier upload */
    scrim__heap_fill(1);
    if ((rc = grab_open(&g, buf, len, deadline, err, errlen)))
        goto done;
    n = choose(times, times ? ntimes : 0, duration_of(&g), tiles);
    for (size_t i = 0; i < n; i++)
        tiles[i].grey = NULL;
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        int r = grab_at(&g, &tiles[i]);
        if (r == SCRIM_ENOMEM || r == SCRIM_ETIMEOUT) {
            rc = r;
            scrim__seterr(err, errlen, r == SCRIM_ETIMEOUT
                                           ? "contact sheet: past the deadline (or the 20 s budget)"
                                           : "out of memory");
            goto done;
        }
        if (r == SCRIM_OK)
            tiles[got++] = tiles[i];   /* a time past the end is dropped */
    }
    n = got;
    if (!n) {
        scrim__seterr(err, errlen, "contact sheet: no frame could be decoded");
        rc = SCRIM_ECORRUPT;
        goto done;
    }
    if ((rc = render_sheet(tiles, n, o, sheet, err, errlen)))
        goto done;
    if (lighter) {
        scrim_preview_opts_lighter(o, &lo);
        if ((rc = render_sheet(tiles, n, &lo, lighter, err, errlen)))
            goto done;
    }
    if (info) {
        info->tiles = (int)n;
        info->cols = n <= 4 ? (n == 1 ? 1 : 2) : 3;
        info->label_height = LABEL_H;
        for (size_t i = 0; i < n; i++) {
            info->seconds[i] = tiles[i].seconds;
            info->matched[i] = tiles[i].matched;
        }
    }
done:
    for (size_t i = 0; i < n; i++)
        free(tiles[i].grey);
    grab_close(&g);
    scrim__heap_fill(0);
    if (rc) {
        scrim_preview_free(sheet);
        if (lighter)
            scrim_preview_free(lighter);
    }
    return rc;
}
