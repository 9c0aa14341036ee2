/* scrim/preview.h - (to be written) */
#ifndef SCRIM_PREVIEW_H
#define SCRIM_PREVIEW_H
#endif
