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
