/* scrim.c - the command-line front end: hash, import, lookup, lists ... */
#include "scrim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    scrim_init(argv[0]);
    int dih = argc > 1 && !strcmp(argv[1], "--dihedral");
    int st = 0;
    for (int i = 1 + dih; i < argc; i++) {
        scrim_image img;
        char err[256];
        scrim_decode_opts o = {0};
        int rc = scrim_image_load_file(argv[i], &o, &img, err, sizeof err);
        if (rc) { fprintf(stderr, "%s: %s\n", argv[i], err); st = 1; continue; }
        scrim_pdq h, d[8]; int q; char hx[65];
        scrim_pdq_hash_pixels(img.pixels, img.width, img.height, img.channels, (size_t)img.width*img.channels, &h, &q, d);
        for (int v = 0; v < (dih ? 8 : 1); v++) {
            scrim_pdq_to_hex(&d[v], hx);
            printf("%s,%d,%s\n", hx, q, argv[i]);
        }
        scrim_image_free(&img);
    }
    return st;
}
