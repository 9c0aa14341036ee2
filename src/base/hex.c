/* hex.c - hex text of bytes, both ways, and the digests of an upload. */
#include "scrim.h"
#include "base/base.h"

#include <openssl/evp.h>

void scrim__hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int scrim__hex_decode(const char *hex, size_t len, uint8_t *out)
{
    if (len & 1)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int a = hexval((unsigned char)hex[2 * i]);
        int b = hexval((unsigned char)hex[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

void scrim_digest(const void *buf, size_t len, char md5[33], char sha256[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (md5) {
        EVP_Digest(buf, len, d, &n, EVP_md5(), NULL);
        scrim__hex_encode(d, n, md5);
    }
    if (sha256) {
        EVP_Digest(buf, len, d, &n, EVP_sha256(), NULL);
        scrim__hex_encode(d, n, sha256);
    }
}

