/* internal.h - helpers shared by the library's modules; not public API. */
#ifndef SCRIM_INTERNAL_H
#define SCRIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>


/* snprintf into an optional error buffer. */
void scrim__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
