/* openapi.c - GET /v1/openapi.json: the OpenAPI 3.1 document of scrimd's
 * HTTP API (doc/openapi.json), embedded at build time with .incbin (the
 * Makefile makes this object depend on the file) and served as it is, with
 * no token: it tells a client nothing the source does not.  tests/openapi.t
 * checks the real answers of every endpoint against it. */
#include "scrim.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__asm__(".section .rodata\n"
        ".global scrim__openapi_doc\n"
        ".type scrim__openapi_doc, @object\n"
        ".balign 16\n"
        "scrim__openapi_doc:\n"
        ".incbin \"doc/openapi.json\"\n"
        "scrim__openapi_doc_end:\n"
        ".byte 0\n"
        ".global scrim__openapi_doc_len\n"
        ".type scrim__openapi_doc_len, @object\n"
        ".balign 4\n"
        "scrim__openapi_doc_len:\n"
        ".long scrim__openapi_doc_end - scrim__openapi_doc\n"
        ".previous\n");

extern const char scrim__openapi_doc[];
extern const unsigned scrim__openapi_doc_len;

static int openapi_route(scrim_call *c, void *arg)
{
    size_t n = scrim__openapi_doc_len;
    if (!(c->raw = malloc(n)))
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    memcpy(c->raw, scrim__openapi_doc, n);
    c->raw_len = n;
    c->status = 200;
    snprintf(c->content_type, sizeof c->content_type, "application/json");
    return 0;
}

int scrim__openapi_register(scrim_server *srv)
{
    return scrim_server_route(srv, "openapi", SCRIM_GET, "/v1/openapi.json", 0,
                              openapi_route, NULL);
}
