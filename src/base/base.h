/* base.h - the base layer's helpers shared by every other folder: error
 * text, hex, UTF-8 scrubbing, starting libvips.  Not public API. */
#ifndef SCRIM_BASE_H
#define SCRIM_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "scrim.h"

/* Starts libvips if it is not yet (see scrim_init_lazy); every path that
 * calls libvips goes through it first.  0 or SCRIM_EINVAL (err set). */
int scrim__vips(char *err, size_t errlen);
int scrim__vips_started(void); /* 1 once scrim__vips has succeeded */
/* Replaces each byte that is not part of valid UTF-8 with '?', in place
 * (text quoted from requests must go out in JSON). */
void scrim__utf8_scrub(char *s);
/* While on (calls nest, from any thread), new heap memory is filled with a
 * constant: for decoders that may leave parts of a picture unwritten. */
void scrim__heap_fill(int on);

/* Open rel, a relative path, beneath the directory dirfd with open(2)
 * flags `flags`, never leaving it ("..": EXDEV) and following no symlink
 * on the way, the file's own name included: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it, else openat() component
 * by component with O_NOFOLLOW (path.c).  how: SCRIM__BENEATH_AUTO, or
 * _WALK / _OPENAT2 to use one way only (tests).  A descriptor, or -1 with
 * errno. */
enum { SCRIM__BENEATH_AUTO, SCRIM__BENEATH_WALK, SCRIM__BENEATH_OPENAT2 };
int scrim__open_beneath(int dirfd, const char *rel, int flags, int how);

/* snprintf into an optional error buffer (err may be NULL). */
void scrim__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Room for one more element in a growable array *arr of *cap elements of
 * `size` bytes, n of them used: doubles it (first: the first capacity) when
 * full.  0, or -1 when out of memory (the array is left as it was). */
int scrim__grow(void *arr, size_t *cap, size_t n, size_t size, size_t first);

/* The k-th smallest of v[0..n) (k 0-based), by Hoare's selection; reorders
 * v.  The value is exact: the PDQ median depends on it. */
float scrim__select_kth(float *v, int n, int k);

/* Lower-case hex of n bytes into out (2n + 1 chars, NUL-terminated). */
void scrim__hex_encode(const uint8_t *in, size_t n, char *out);
/* len hex digits (either case) into len / 2 bytes; -1 if len is odd or a
 * character is not a hex digit, else 0. */
int scrim__hex_decode(const char *hex, size_t len, uint8_t *out);

#endif
