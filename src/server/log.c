/* log.c - scrimd's log: one JSON object per line (a request or a
 * daemon event), written with a single write() so lines never interleave;
 * reopened on SIGHUP for log rotation. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;

static int open_fd(const char *path, char *err, size_t errlen)
{
    if (!strcmp(path, "-"))
        return 2;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        scrim__seterr(err, errlen, "cannot open log file %s: %s", path,
                      strerror(errno));
    return fd;
}

int scrim__log_open(const char *path, char *err, size_t errlen)
{
    int fd = open_fd(path, err, errlen);
    if (fd < 0)
        return SCRIM_EIO;
    scrim__log_close();
    log_fd = fd;
    return SCRIM_OK;
}

int scrim__log_reopen(const char *path, char *err, size_t errlen)
{
    /* Open the new file first: if that fails, keep logging to the old one. */
    return scrim__log_open(path, err, errlen);
}

void scrim__log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
}

static void timestamp(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void scrim__log_json(json_t *o)
{
    char ts[40];
    if (!o)
        return;
    timestamp(ts, sizeof ts);
    /* "ts" first so lines sort and grep well. */
    json_t *line = json_pack("{s:s}", "ts", ts);
    json_object_update(line, o);
    json_decref(o);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER |
                            JSON_REAL_PRECISION(6));
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n';   /* replaces the NUL; the length is known */
    ssize_t w = write(log_fd, text, n + 1);
    (void)w;
    free(text);
}

void scrim__log_msg(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    scrim__log_json(json_pack("{s:s, s:s}", "level", level, "msg", msg));
}
