/* scrim/server.h - (to be written) */
#ifndef SCRIM_SERVER_H
#define SCRIM_SERVER_H
#endif
