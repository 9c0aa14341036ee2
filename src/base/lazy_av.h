/* lazy_av.h - FFmpeg, opened on first use (src/lazy.c).
 *
 * Linking FFmpeg pulled in some 60 more shared libraries (codecs, JPEG XL's
 * Highway, ...) whose loading and start-up code cost ~25 ms of every run of
 * bin/scrim, most of which hash images only.  So the video code calls
 * FFmpeg through pointers filled by scrim__av_load() (dlopen of the
 * libraries whose major versions the headers name): include this header
 * after the FFmpeg headers, and call scrim__av_load() before the first
 * FFmpeg call of a public entry point. */
#ifndef SCRIM_AV_LAZY_H
#define SCRIM_AV_LAZY_H

#include <stddef.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/cpu.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Every FFmpeg function scrim calls, with its library. */
#define SCRIM__AV_FUNCS(X)                                                    \
    X(avutil, av_force_cpu_flags) X(avutil, av_frame_alloc)                   \
    X(avutil, av_frame_free) X(avutil, av_frame_unref) X(avutil, av_free)     \
    X(avutil, av_freep) X(avutil, av_get_pix_fmt_name)                        \
    X(avutil, av_log_set_level) X(avutil, av_malloc)                          \
    X(avutil, av_pix_fmt_desc_get) X(avutil, av_strdup)                       \
    X(avutil, av_strerror)                                                    \
    X(avcodec, av_packet_alloc) X(avcodec, av_packet_free)                    \
    X(avcodec, av_packet_unref) X(avcodec, avcodec_alloc_context3)            \
    X(avcodec, avcodec_find_decoder) X(avcodec, avcodec_flush_buffers)        \
    X(avcodec, avcodec_free_context) X(avcodec, avcodec_get_name)             \
    X(avcodec, avcodec_open2) X(avcodec, avcodec_parameters_to_context)       \
    X(avcodec, avcodec_receive_frame) X(avcodec, avcodec_send_packet)         \
    X(avformat, av_find_best_stream) X(avformat, av_read_frame)               \
    X(avformat, av_seek_frame) X(avformat, avformat_alloc_context)            \
    X(avformat, avformat_close_input) X(avformat, avformat_find_stream_info)  \
    X(avformat, avformat_open_input) X(avformat, avio_alloc_context)          \
    X(avformat, avio_context_free)                                            \
    X(swscale, sws_freeContext) X(swscale, sws_getCachedContext)              \
    X(swscale, sws_scale)

struct scrim__av {
#define SCRIM__AV_PTR(lib, f) __typeof__(f) *f;
    SCRIM__AV_FUNCS(SCRIM__AV_PTR)
#undef SCRIM__AV_PTR
};
extern struct scrim__av scrim__av;

/* Loads FFmpeg once; 0, or SCRIM_EFORMAT with err naming what is missing. */
int scrim__av_load(char *err, size_t errlen);

#ifndef SCRIM__LAZY_IMPL
#define av_force_cpu_flags (scrim__av.av_force_cpu_flags)
#define av_frame_alloc (scrim__av.av_frame_alloc)
#define av_frame_free (scrim__av.av_frame_free)
#define av_frame_unref (scrim__av.av_frame_unref)
#define av_free (scrim__av.av_free)
#define av_freep (scrim__av.av_freep)
#define av_get_pix_fmt_name (scrim__av.av_get_pix_fmt_name)
#define av_log_set_level (scrim__av.av_log_set_level)
#define av_malloc (scrim__av.av_malloc)
#define av_pix_fmt_desc_get (scrim__av.av_pix_fmt_desc_get)
#define av_strdup (scrim__av.av_strdup)
#define av_strerror (scrim__av.av_strerror)
#define av_packet_alloc (scrim__av.av_packet_alloc)
#define av_packet_free (scrim__av.av_packet_free)
#define av_packet_unref (scrim__av.av_packet_unref)
#define avcodec_alloc_context3 (scrim__av.avcodec_alloc_context3)
#define avcodec_find_decoder (scrim__av.avcodec_find_decoder)
#define avcodec_flush_buffers (scrim__av.avcodec_flush_buffers)
#define avcodec_free_context (scrim__av.avcodec_free_context)
#define avcodec_get_name (scrim__av.avcodec_get_name)
#define avcodec_open2 (scrim__av.avcodec_open2)
#define avcodec_parameters_to_context (scrim__av.avcodec_parameters_to_context)
#define avcodec_receive_frame (scrim__av.avcodec_receive_frame)
#define avcodec_send_packet (scrim__av.avcodec_send_packet)
#define av_find_best_stream (scrim__av.av_find_best_stream)
#define av_read_frame (scrim__av.av_read_frame)
#define av_seek_frame (scrim__av.av_seek_frame)
#define avformat_alloc_context (scrim__av.avformat_alloc_context)
#define avformat_close_input (scrim__av.avformat_close_input)
#define avformat_find_stream_info (scrim__av.avformat_find_stream_info)
#define avformat_open_input (scrim__av.avformat_open_input)
#define avio_alloc_context (scrim__av.avio_alloc_context)
#define avio_context_free (scrim__av.avio_context_free)
#define sws_freeContext (scrim__av.sws_freeContext)
#define sws_getCachedContext (scrim__av.sws_getCachedContext)
#define sws_scale (scrim__av.sws_scale)
#endif

#endif
