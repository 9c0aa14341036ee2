/* cmd_hash.c - `scrim hash`: PDQ hashes of image files, vPDQ of videos. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: scrim hash [--dihedral] [--json] [--max-pixels N] FILE... | -\n"
            "       scrim hash [OPTIONS] --files-from LIST   (LIST: one path a line; - = stdin)\n"
            "\n"
            "Prints HASH,QUALITY,FILE per image (the PDQ reference's format).\n"
            "  --dihedral      8 lines per image: original, rotate90, rotate180,\n"
            "                  rotate270, flipx, flipy, flipplus1, flipminus1\n"
            "  --json          one JSON object per file instead\n"
            "  --max-pixels N  refuse larger images (default %llu)\n"
            "  --fast          shrink JPEGs on load to >= 512 px (faster; hashes\n"
            "                  may move a few bits from the reference's)\n"
            "  --alpha white|ignore  images with transparency: flattened onto\n"
            "                  white as they are seen (default), or their colours\n"
            "                  as stored, as Meta's reference CLI hashes them\n"
            "Videos (MP4/MOV, MKV/WebM, AVI, MPEG-TS, animated GIF/WebP), recognised by\n"
            "content, print vPDQ lines FRAME,QUALITY,HASH,SECONDS (the vpdq\n"
            "reference's format; a '# FILE' line before each when several files):\n"
            "  --seconds-per-hash S  hash a frame every S seconds (default 1;\n"
            "                  0 = every frame)\n"
            "  --keyframes     hash key frames only, without decoding the others\n"
            "A file that cannot be hashed is reported on stderr; the others are\n"
            "still hashed and the exit status is 1.\n",
            (unsigned long long)SCRIM_DEFAULT_MAX_PIXELS);
}

/* One JSON object on a line, with the file's name added; takes o. */
static void print_json_file(json_t *o, const char *path)
{
    json_object_set_new(o, "file", json_string(path));
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
}

/* A video's vPDQ lines or JSON; SCRIM_OK or an error code with err set. */
static int hash_video(const char *path, const uint8_t *data, size_t len,
                      int as_json, int header, const scrim_video_opts *vopts,
                      char *err, size_t errlen)
{
    scrim_vpdq v;
    int rc = scrim_video_hash_buffer(data, len, vopts, &v, err, errlen);
    if (rc == SCRIM_OK) {
        if (as_json) {
            print_json_file(scrim_vpdq_json(&v), path);
        } else {
            if (header)
                printf("# %s\n", path);
            scrim_vpdq_write(stdout, &v);
        }
    }
    scrim_vpdq_free(&v);
    return rc;
}

static int hash_one(const char *path, int dihedral, int as_json,
                    const scrim_decode_opts *opts,
                    const scrim_video_opts *vopts, int header)
{
    char err[512];
    uint8_t *data;
    size_t len;
    int rc = scrim_read_file(path, SCRIM_MAX_INPUT_BYTES, &data, &len, err,
                             sizeof err);
    if (rc == SCRIM_OK && scrim_media_sniff(data, len) == SCRIM_MEDIA_VIDEO) {
        rc = hash_video(path, data, len, as_json, header, vopts, err,
                        sizeof err);
        free(data);
        if (rc == SCRIM_OK)
            return 0;
    } else if (rc == SCRIM_OK) {
        scrim_image_hashes h;
        scrim_decode_opts o = *opts;
        o.no_digests = !as_json; /* the CSV lines carry only the PDQ */
        rc = scrim_hash_image_buffer(data, len, &o, &h, NULL, err, sizeof err);
        free(data);
        if (rc == SCRIM_OK) {
            if (as_json) {
                print_json_file(scrim_image_hashes_json(&h, dihedral), path);
            } else {
                char hx[SCRIM_PDQ_HEXLEN + 1];
                for (int v = 0; v < (dihedral ? SCRIM_DIH_COUNT : 1); v++) {
                    scrim_pdq_to_hex(&h.dihedral[v], hx);
                    printf("%s,%d,%s\n", hx, h.quality, path);
                }
            }
            return 0;
        }
    }
    fflush(stdout);
    fprintf(stderr, "scrim: %s: %s\n", path, err);
    return 1;
}

int cmd_hash(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dihedral", no_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"max-pixels", required_argument, NULL, 'm'},
        {"fast", no_argument, NULL, 'f'},
        {"alpha", required_argument, NULL, 'a'},
        {"files-from", required_argument, NULL, 'F'},
        {"seconds-per-hash", required_argument, NULL, 's'},
        {"keyframes", no_argument, NULL, 'k'},
        {"exact-rgb", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int dihedral = 0, as_json = 0, c;
    const char *files_from = NULL;
    scrim_decode_opts dopts = {0};
    scrim_video_opts vopts;
    scrim_video_opts_default(&vopts);
    while ((c = getopt_long(argc, argv, "djm:fa:F:s:krh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dihedral = 1; break;
        case 'j': as_json = 1; break;
        case 'm': {
            long long v = cli_parse_int("--max-pixels", optarg, 1, 1LL << 40);
            if (v < 0)
                return 2;
            dopts.max_pixels = (uint64_t)v;
            break;
        }
        case 'f': dopts.min_side = SCRIM_FAST_MIN_SIDE; break;
        case 'F': files_from = optarg; break;
        case 'a':
            if (strcmp(optarg, "white") && strcmp(optarg, "ignore")) {
                fprintf(stderr, "scrim hash: --alpha must be 'white' or "
                                "'ignore', not '%s'\n", optarg);
                return 2;
            }
            dopts.ignore_alpha = !strcmp(optarg, "ignore");
            break;
        case 's':
            if (cli_parse_seconds("--seconds-per-hash", optarg,
                                  &vopts.seconds_per_hash))
                return 2;
            break;
        case 'k': vopts.keyframes_only = 1; break;
        case 'r': break; /* --exact-rgb: what every frame gets now */
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (files_from) {
        /* Millions of files in one process: no start-up per file, no
         * argument-length limit.  Paths are taken as written (an empty line
         * is skipped); the list itself unreadable is a usage error. */
        if (optind < argc) {
            fprintf(stderr, "scrim hash: --files-from takes no FILE arguments\n");
            return 2;
        }
        FILE *in = strcmp(files_from, "-") ? fopen(files_from, "r") : stdin;
        if (!in) {
            fprintf(stderr, "scrim hash: --files-from %s: %s\n", files_from,
                    strerror(errno));
            return 2;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int status = 0;
        while ((n = getline(&line, &cap, in)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n > 0)
                status |= hash_one(line, dihedral, as_json, &dopts, &vopts, 1);
        }
        free(line);
        if (in != stdin)
            fclose(in);
        return status;
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    int status = 0;
    for (int i = optind; i < argc; i++)
        status |= hash_one(argv[i], dihedral, as_json, &dopts, &vopts,
                           argc - optind > 1);
    return status;
}
