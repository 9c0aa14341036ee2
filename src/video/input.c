/* input.c - untrusted media handed to FFmpeg from memory or from a FILE
 * through a custom AVIOContext, with the safety settings every demux uses:
 * no other file opened, a deadline, limits on probing.  Shared by vPDQ
 * sampling (video.c) and the contact sheet (preview/video.c). */
#include "scrim.h"
#include "video/video.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include "base/lazy_av.h"

#define IOBUF_SIZE (1 << 16)

double scrim__mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int scrim__past_deadline(void *deadline)
{
    return scrim__mono_now() > *(const double *)deadline;
}

static int input_read(void *opaque, uint8_t *buf, int n)
{
    struct scrim__input *in = opaque;
    if (in->f) {
        size_t got = fread(buf, 1, (size_t)n, in->f);
        if (got == 0)
            return ferror(in->f) ? AVERROR(EIO) : AVERROR_EOF;
        return (int)got;
    }
    if (in->pos >= in->len)
        return AVERROR_EOF;
    size_t k = in->len - in->pos < (size_t)n ? in->len - in->pos : (size_t)n;
    memcpy(buf, in->data + in->pos, k);
    in->pos += k;
    return (int)k;
}

static int64_t input_seek(void *opaque, int64_t off, int whence)
{
    struct scrim__input *in = opaque;
    int64_t size = in->f ? in->fsize : (int64_t)in->len;
    int64_t cur = in->f ? (int64_t)ftello(in->f) : (int64_t)in->pos, to;
    whence &= ~AVSEEK_FORCE;
    switch (whence) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: to = off; break;
    case SEEK_CUR: to = cur + off; break;
    case SEEK_END: to = size + off; break;
    default: return AVERROR(EINVAL);
    }
    if (to < 0 || to > size)
        return AVERROR(EINVAL);
    if (in->f) {
        if (fseeko(in->f, (off_t)to, SEEK_SET))
            return AVERROR(errno);
    } else {
        in->pos = (size_t)to;
    }
    return to;
}

/* Demuxers may try to open other files (references, playlists): refuse. */
static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb,
                          const char *url, int flags, AVDictionary **options)
{
    return AVERROR(EPERM);
}

int scrim__input_open(struct scrim__input *in, const struct scrim__input_opts *o,
                      int *averror)
{
    unsigned char *iobuf = av_malloc(IOBUF_SIZE);
    if (!iobuf)
        return SCRIM_ENOMEM;
    in->avio = avio_alloc_context(iobuf, IOBUF_SIZE, 0, in, input_read, NULL,
                                  input_seek);
    if (!in->avio) {
        av_free(iobuf);
        return SCRIM_ENOMEM;
    }
    if (!(in->fmt = avformat_alloc_context()))
        return SCRIM_ENOMEM;
    in->fmt->pb = in->avio;
    in->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    if (o->probe_size)
        in->fmt->probesize = o->probe_size;
    if (o->max_analyze_duration)
        in->fmt->max_analyze_duration = o->max_analyze_duration;
    if (o->max_streams)
        in->fmt->max_streams = o->max_streams;
    in->fmt->io_open = refuse_io_open;
    in->fmt->interrupt_callback.callback = scrim__past_deadline;
    in->fmt->interrupt_callback.opaque = &in->deadline;
    if (o->formats && !(in->fmt->format_whitelist = av_strdup(o->formats)))
        return SCRIM_ENOMEM;
    int r = avformat_open_input(&in->fmt, NULL, NULL, NULL);
    if (r < 0) { /* in->fmt was freed (and set to NULL) by the failed open */
        in->fmt = NULL;
        if (averror)
            *averror = r;
        return SCRIM_EFORMAT;
    }
    return SCRIM_OK;
}

void scrim__input_close(struct scrim__input *in)
{
    av_frame_free(&in->frame);
    av_packet_free(&in->pkt);
    avcodec_free_context(&in->dec);
    avformat_close_input(&in->fmt);
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
}
