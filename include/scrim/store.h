/* scrim/store.h - (to be written) */
#ifndef SCRIM_STORE_H
#define SCRIM_STORE_H
#endif
