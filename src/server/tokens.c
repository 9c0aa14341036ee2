/* tokens.c - Bearer token files, re-read when they change: every API (admin,
 * review, per-list metrics) takes a rotated token at once, with no SIGHUP.
 * A file is stat()ed per check (a microsecond) and read again only when its
 * device, inode, size, mtime or ctime differ from the last read, so both an
 * atomic rename and an in-place rewrite are seen. */
#include "scrim.h"
#include "base/base.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int scrim__token_read(const char *path, char *out, size_t n, char *err,
                      size_t errlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f) {
        scrim__seterr(err, errlen, "token file %s: %s", path, strerror(errno));
        return SCRIM_EIO;
    }
    size_t got = fread(out, 1, n - 1, f);
    int big = got == n - 1 && fgetc(f) != EOF;
    fclose(f);
    out[got] = '\0';
    while (got && (out[got - 1] == '\n' || out[got - 1] == '\r' ||
                   out[got - 1] == ' ' || out[got - 1] == '\t'))
        out[--got] = '\0';
    if (big || got < 16 || strpbrk(out, " \t\r\n")) {
        scrim__seterr(err, errlen, "token file %s: the token must be one line "
                      "of 16 to %zu printable characters", path, n - 1);
        out[0] = '\0';
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}

void scrim__token_file_init(scrim__token_file *tf)
{
    memset(tf, 0, sizeof *tf);
    pthread_mutex_init(&tf->lock, NULL);
}

void scrim__token_file_destroy(scrim__token_file *tf)
{
    pthread_mutex_destroy(&tf->lock);
    memset(tf->token, 0, sizeof tf->token);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int scrim__token_get(scrim__token_file *tf, const char *path, char *out,
                     size_t n, char *err, size_t errlen)
{
    struct stat st;
    int rc;
    out[0] = '\0';
    if (!path || !*path)
        return SCRIM_OK;
    pthread_mutex_lock(&tf->lock);
    int gone = stat(path, &st) != 0;
    if (gone || !tf->loaded || strcmp(tf->path, path) || !same_file(&st, &tf->st)) {
        /* The identity is taken before the read: a change made during it
         * differs from it, so the next check reads the file again. */
        tf->loaded = !gone;
        tf->st = st;
        snprintf(tf->path, sizeof tf->path, "%s", path);
        tf->rc = scrim__token_read(path, tf->token, sizeof tf->token, tf->err,
                                   sizeof tf->err);
    }
    rc = tf->rc;
    if (rc)
        scrim__seterr(err, errlen, "%s", tf->err);
    else
        snprintf(out, n, "%s", tf->token);
    pthread_mutex_unlock(&tf->lock);
    return rc;
}

/* "Bearer TOKEN" -> TOKEN, or NULL. */
static const char *bearer(const char *h)
{
    if (!h || strncasecmp(h, "Bearer ", 7))
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

int scrim__admin_check(scrim_server *srv, const scrim_settings *s,
                       const char *authorization, scrim_call *c)
{
    char tok[sizeof srv->admin_tf.token], err[512];
    if (!s->admin_token_file[0])
        return scrim_call_error(c, 404, "admin_disabled", "the admin API is off "
                                "(start scrimd with --admin-token-file)");
    if (scrim__token_get(&srv->admin_tf, s->admin_token_file, tok, sizeof tok,
                         err, sizeof err))
        return scrim_call_error(c, 503, "admin_unavailable", "%s: no admin "
                                "request is accepted until it is fixed", err);
    const char *given = bearer(authorization);
    int rc = 0;
    if (!given)
        rc = scrim_call_error(c, 401, "unauthorized", "this endpoint needs "
                              "'Authorization: Bearer <admin token>'");
    else if (!scrim__token_equal(given, strlen(given), tok))
        rc = scrim_call_error(c, 403, "forbidden", "wrong admin token");
    memset(tok, 0, sizeof tok);
    return rc;
}

int scrim__admin_ok(scrim_server *srv, const scrim_settings *s,
                    const char *authorization)
{
    char tok[sizeof srv->admin_tf.token], err[512];
    const char *given = bearer(authorization);
    int ok = given && s->admin_token_file[0] &&
             !scrim__token_get(&srv->admin_tf, s->admin_token_file, tok,
                               sizeof tok, err, sizeof err) &&
             scrim__token_equal(given, strlen(given), tok);
    memset(tok, 0, sizeof tok);
    return ok;
}
