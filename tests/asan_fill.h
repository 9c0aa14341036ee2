/* asan_fill.h - included once per program (a test or a fuzzer): under
 * AddressSanitizer, fill whole new allocations instead of their first 4 KB.
 * ASan's allocator ignores the mallopt of scrim__heap_fill, with which glibc
 * fills new memory while scrim decodes HEIF images and videos; this stands in
 * for it, so that a decoder leaving memory unwritten gives the same bytes
 * every time there too. */
#ifndef SCRIM_ASAN_FILL_H
#define SCRIM_ASAN_FILL_H

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define SCRIM_ASAN_FILL 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang */
#define SCRIM_ASAN_FILL 1
#endif
#endif

#ifdef SCRIM_ASAN_FILL
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_malloc_fill_size=1073741824";
}
#endif

#endif
