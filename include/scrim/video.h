/* scrim/video.h - (to be written) */
#ifndef SCRIM_VIDEO_H
#define SCRIM_VIDEO_H
#endif
