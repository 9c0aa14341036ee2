/* lazy_vips.h - libvips, opened on first use (src/lazy.c).
 *
 * libvips brings about 90 shared libraries (every format's codec, Pango,
 * Cairo, ...): loading them took ~28 ms of every run of bin/scrim, while a
 * JPEG, the bulk of uploads, is decoded without them (src/jpeg.c).  So the
 * image code calls libvips through pointers filled when it is first needed
 * (scrim__vips(), src/util.c, which also starts it): include this header
 * after <vips/vips.h>.  GLib and GObject stay linked (small, and
 * scrim_image_free's g_free needs no libvips). */
#ifndef SCRIM_VIPS_LAZY_H
#define SCRIM_VIPS_LAZY_H

#include <stddef.h>
#include <vips/vips.h>

/* Every libvips function scrim calls. */
#define SCRIM__VIPS_FUNCS(X)                                                  \
    X(vips, vips_area_unref) X(vips, vips_array_double_new)                   \
    X(vips, vips_array_double_newv) X(vips, vips_block_untrusted_set)         \
    X(vips, vips_cache_set_max) X(vips, vips_cache_set_max_mem)               \
    X(vips, vips_cache_set_max_files) X(vips, vips_cast)                      \
    X(vips, vips_colourspace)                                                 \
    X(vips, vips_concurrency_set) X(vips, vips_error)                         \
    X(vips, vips_error_buffer) X(vips, vips_error_clear)                      \
    X(vips, vips_extract_area) X(vips, vips_extract_band) X(vips, vips_flatten) \
    X(vips, vips_foreign_find_load_buffer) X(vips, vips_image_get_array_int)  \
    X(vips, vips_image_get_bands) X(vips, vips_image_get_height)              \
    X(vips, vips_image_get_page_height) X(vips, vips_image_get_typeof)        \
    X(vips, vips_image_get_width) X(vips, vips_image_guess_interpretation)    \
    X(vips, vips_image_hasalpha) X(vips, vips_image_new_from_buffer)          \
    X(vips, vips_image_new_from_memory)                                       \
    X(vips, vips_image_new_from_memory_copy)                                  \
    X(vips, vips_image_set_kill) X(vips, vips_image_set_progress)             \
    X(vips, vips_image_write_to_memory) X(vips, vips_format_sizeof)           \
    X(vips, vips_init) X(vips, vips_jpegsave_buffer) X(vips, vips_shutdown)   \
    X(vips, vips_sink_disc)                                                   \
    X(vips, vips_text) X(vips, vips_thread_shutdown) X(vips, vips_version)

struct scrim__vipsfn {
#define SCRIM__VIPS_PTR(lib, f) __typeof__(f) *f;
    SCRIM__VIPS_FUNCS(SCRIM__VIPS_PTR)
#undef SCRIM__VIPS_PTR
};
extern struct scrim__vipsfn scrim__vipsfn;

/* Opens libvips once (no start: scrim__vips does that); 0 or SCRIM_EFORMAT
 * with err naming what is missing. */
int scrim__vips_load(char *err, size_t errlen);

#ifndef SCRIM__LAZY_IMPL
#define vips_area_unref (scrim__vipsfn.vips_area_unref)
#define vips_array_double_new (scrim__vipsfn.vips_array_double_new)
#define vips_array_double_newv (scrim__vipsfn.vips_array_double_newv)
#define vips_block_untrusted_set (scrim__vipsfn.vips_block_untrusted_set)
#define vips_cache_set_max (scrim__vipsfn.vips_cache_set_max)
#define vips_cache_set_max_mem (scrim__vipsfn.vips_cache_set_max_mem)
#define vips_cache_set_max_files (scrim__vipsfn.vips_cache_set_max_files)
#define vips_cast (scrim__vipsfn.vips_cast)
#define vips_colourspace (scrim__vipsfn.vips_colourspace)
#define vips_concurrency_set (scrim__vipsfn.vips_concurrency_set)
#define vips_error (scrim__vipsfn.vips_error)
#define vips_error_buffer (scrim__vipsfn.vips_error_buffer)
#define vips_error_clear (scrim__vipsfn.vips_error_clear)
#define vips_extract_area (scrim__vipsfn.vips_extract_area)
#define vips_extract_band (scrim__vipsfn.vips_extract_band)
#define vips_flatten (scrim__vipsfn.vips_flatten)
#define vips_foreign_find_load_buffer (scrim__vipsfn.vips_foreign_find_load_buffer)
#define vips_image_get_array_int (scrim__vipsfn.vips_image_get_array_int)
#define vips_image_get_bands (scrim__vipsfn.vips_image_get_bands)
#define vips_image_get_height (scrim__vipsfn.vips_image_get_height)
#define vips_image_get_page_height (scrim__vipsfn.vips_image_get_page_height)
#define vips_image_get_typeof (scrim__vipsfn.vips_image_get_typeof)
#define vips_image_get_width (scrim__vipsfn.vips_image_get_width)
#define vips_image_guess_interpretation (scrim__vipsfn.vips_image_guess_interpretation)
#define vips_image_hasalpha (scrim__vipsfn.vips_image_hasalpha)
#define vips_image_new_from_buffer (scrim__vipsfn.vips_image_new_from_buffer)
#define vips_image_new_from_memory (scrim__vipsfn.vips_image_new_from_memory)
#define vips_image_new_from_memory_copy (scrim__vipsfn.vips_image_new_from_memory_copy)
#define vips_image_write_to_memory (scrim__vipsfn.vips_image_write_to_memory)
#define vips_image_set_kill (scrim__vipsfn.vips_image_set_kill)
#define vips_image_set_progress (scrim__vipsfn.vips_image_set_progress)
#define vips_format_sizeof (scrim__vipsfn.vips_format_sizeof)
#define vips_init (scrim__vipsfn.vips_init)
#define vips_jpegsave_buffer (scrim__vipsfn.vips_jpegsave_buffer)
#define vips_shutdown (scrim__vipsfn.vips_shutdown)
#define vips_sink_disc (scrim__vipsfn.vips_sink_disc)
#define vips_text (scrim__vipsfn.vips_text)
#define vips_thread_shutdown (scrim__vipsfn.vips_thread_shutdown)
#define vips_version (scrim__vipsfn.vips_version)
#endif

#endif
