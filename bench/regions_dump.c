/* regions_dump.c - for every FILE, its hashes with the pictures found inside
 * it (scrim_hash_image_buffer with regions; no digests) as one JSON line, to
 * check that a change to src/hash/regions.c keeps its output: run it from two
 * builds over the same files and cmp.  Built by `make bench`:
 *   build/rel/bench/regions_dump FILE... >out */
#include <scrim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        long n = -1;
        if (f && !fseek(f, 0, SEEK_END))
            n = ftell(f);
        char *b = n > 0 ? malloc((size_t)n) : NULL;
        if (!f || !b || fseek(f, 0, SEEK_SET) || fread(b, 1, (size_t)n, f) != (size_t)n) {
            printf("%s: cannot read\n", argv[i]);
            bad = 1;
            if (f)
                fclose(f);
            free(b);
            continue;
        }
        fclose(f);
        scrim_decode_opts o;
        memset(&o, 0, sizeof o);
        o.regions = 1;
        o.no_digests = 1;
        scrim_image_hashes h;
        char err[256];
        if (scrim_hash_image_buffer(b, (size_t)n, &o, &h, NULL, err, sizeof err)) {
            printf("%s: %s\n", argv[i], err);
            bad = 1;
        } else {
            json_t *j = scrim_image_hashes_json(&h, 0);
            char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
            printf("%s %s\n", argv[i], s ? s : "null");
            free(s);
            json_decref(j);
        }
        free(b);
    }
    return bad;
}
