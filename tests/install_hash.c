/* install_hash.c - a program built by tests/install.t against an installed
 * libscrim only (pkg-config --cflags --libs scrim, static and shared): it
 * prints the line `scrim hash FILE` prints, HASH,QUALITY,FILE, then the
 * image's JSON form (jansson, which scrim.h includes). */
#include <scrim.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    char err[512], hex[SCRIM_PDQ_HEXLEN + 1];
    uint8_t *data;
    size_t len;
    scrim_image_hashes h;

    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    if (scrim_init_lazy(argv[0]) ||
        scrim_read_file(argv[1], SCRIM_MAX_INPUT_BYTES, &data, &len, err,
                        sizeof err) ||
        scrim_hash_image_buffer(data, len, NULL, &h, NULL, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    scrim_pdq_to_hex(&h.pdq, hex);
    printf("%s,%d,%s\n", hex, h.quality, argv[1]);
    json_t *j = scrim_image_hashes_json(&h, 0);
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(j);
    free(data);
    scrim_shutdown();
    return 0;
}
