/* peer.c - who a request comes from, for limits kept per client: the
 * peer's uid on the Unix socket (SO_PEERCRED: every process of one user is
 * one client, whatever it does with its sockets), its address over TCP. */
#include "scrim.h"
#include "server/server.h"

#include <stdio.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>

void scrim__peer_name(struct evhttp_request *req, char *out, size_t n)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    out[0] = '\0';
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl))
        return;
    if (ss.ss_family == AF_UNIX) {
        struct ucred cr;
        socklen_t cl = sizeof cr;
        if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl))
            snprintf(out, n, "uid:%u", (unsigned)cr.uid);
        return;
    }
    char *host = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &host, &port);
    if (host && *host)
        snprintf(out, n, "ip:%s", host);
}

/* For fairness, not for limits a user could dodge: a Unix socket client is
 * its process (a user's other processes are other clients), a TCP client
 * its address, and any request with the admin token the admin. */
void scrim__client_name(struct evhttp_request *req, int admin, char *out,
                        size_t n)
{
    if (admin) {
        snprintf(out, n, "admin");
        return;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd >= 0 && !getsockname(fd, (struct sockaddr *)&ss, &sl) &&
        ss.ss_family == AF_UNIX) {
        struct ucred cr;
        socklen_t cl = sizeof cr;
        if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl)) {
            snprintf(out, n, "uid:%u pid:%d", (unsigned)cr.uid, (int)cr.pid);
            return;
        }
    }
    scrim__peer_name(req, out, n);
    if (!out[0])
        snprintf(out, n, "unknown");
}

uint64_t scrim__client_key(const char *name)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ? h : 1;
}
