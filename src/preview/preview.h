/* preview.h - the renderer's steps, for the video contact sheet.  Not
 * public API. */
#ifndef SCRIM_PREVIEW_H_PRIVATE
#define SCRIM_PREVIEW_H_PRIVATE

#include "scrim.h"

/* Pixelated, blurred grey pixels (malloc'd, *w x *h, packed) of an image at
 * options o; *d gets the blocks along the longest side. */
int scrim__preview_grey(const uint8_t *pixels, int width, int height,
                        int channels, size_t stride, const scrim_preview_opts *o,
                        uint8_t **grey, int *w, int *h, int *d, char *err,
                        size_t errlen);

/* Encode grey pixels as a JPEG preview (out->detail is left 0). */
int scrim__preview_encode(const uint8_t *grey, int w, int h, int quality,
                          scrim_preview *out, char *err, size_t errlen);

#endif
