/* temp_server.h - settings for a scrimd server living in a temporary
 * directory: its database, socket and log there, no TCP, one worker.  For
 * the unit tests and the fuzz harnesses (no test framework needed). */
#ifndef SCRIM_TEMP_SERVER_H
#define SCRIM_TEMP_SERVER_H

#include <stdio.h>
#include "scrim.h"
#include "scrim/server.h"
#include "scrim/review.h"

static inline void temp_server_settings(scrim_settings *s, const char *dir)
{
    scrim_settings_defaults(s);
    snprintf(s->db, sizeof s->db, "%s/db", dir);
    snprintf(s->socket, sizeof s->socket, "%s/sock", dir);
    snprintf(s->log, sizeof s->log, "%s/log", dir);
    s->listen[0] = '\0';
    s->threads = 1;
}

#endif
