/* fuzz_framing.c - libFuzzer: any bytes as a connection's input through
 * scrimd's strict framing scan (src/server/guard.c).  The first byte picks
 * the piece size the stream arrives in; the verdicts (how many requests
 * pass, why the first bad one fails) must not depend on it. */
#include "scrim.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

static int verdict(const uint8_t *in, size_t n, size_t step, char *why,
                   size_t whylen)
{
    scrim__framing *f = scrim__framing_new();
    struct evbuffer *b = evbuffer_new();
    if (!f || !b)
        abort();
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        evbuffer_add(b, in + i, k);
        scrim__framing_feed(f, b, k);
        evbuffer_drain(b, evbuffer_get_length(b) / 2);
    }
    int passed = 0;
    why[0] = '\0';
    while (passed < 64 && !scrim__framing_check(f, why, whylen))
        passed++;
    evbuffer_free(b);
    scrim__framing_free(f);
    return passed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    data++, size--;
    char a[256], b[256];
    int pa = verdict(data, size, size ? size : 1, a, sizeof a);
    int pb = verdict(data, size, step, b, sizeof b);
    if (pa != pb || strcmp(a, b))
        abort();
    return 0;
}
