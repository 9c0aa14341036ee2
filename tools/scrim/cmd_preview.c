/* cmd_preview.c - `scrim preview`: the daemon's blurred preview of an image,
 * from the command line. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(int what)
{
    return cli_usage(what,
            "usage: scrim preview [--level L] [--lighter] [--size N] [--detail N]\n"
            "                     [--blur X] [--quality N] IN OUT\n"
            "\n"
            "Writes the blurred, pixelated, greyscale JPEG preview of image IN to\n"
            "OUT ('-' = stdout), as scrimd stores it for reviewers.\n"
            "  --level L    light (40 blocks), standard (24, default), strong (12),\n"
            "               a number of blocks, or detail=N,size=N,blur=X,quality=N\n"
            "  --lighter    the lighter level a reviewer may reveal (twice the blocks)\n"
            "  --size N     longest side in px (16-%d, default %d)\n"
            "  --detail N   blocks along the longest side (default %d)\n"
            "  --blur X     Gaussian sigma in block sizes (0.25-4, default %g)\n"
            "  --quality N  JPEG quality (1-100, default %d)\n",
            SCRIM_PREVIEW_MAX_SIZE, SCRIM_PREVIEW_DEFAULT_SIZE,
            SCRIM_PREVIEW_DEFAULT_DETAIL, SCRIM_PREVIEW_DEFAULT_BLUR,
            SCRIM_PREVIEW_DEFAULT_QUALITY);
}

int cmd_preview(int argc, char **argv)
{
    static const struct option opts[] = {
        {"level", required_argument, NULL, 'l'},
        {"lighter", no_argument, NULL, 'L'},
        {"size", required_argument, NULL, 's'},
        {"detail", required_argument, NULL, 'd'},
        {"blur", required_argument, NULL, 'b'},
        {"quality", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    scrim_preview_opts po;
    const char *level = "standard";
    long long size = -1, detail = -1, quality = -1;
    double blur = -1;
    int lighter = 0, c;
    char err[512];

    while ((c = getopt_long(argc, argv, "l:Ls:d:b:q:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': level = optarg; break;
        case 'L': lighter = 1; break;
        case 's':
            if ((size = cli_parse_int("--size", optarg, 16, SCRIM_PREVIEW_MAX_SIZE)) < 0)
                return 2;
            break;
        case 'd':
            if ((detail = cli_parse_int("--detail", optarg, SCRIM_PREVIEW_MIN_DETAIL,
                                        SCRIM_PREVIEW_MAX_DETAIL)) < 0)
                return 2;
            break;
        case 'q':
            if ((quality = cli_parse_int("--quality", optarg, 1, 100)) < 0)
                return 2;
            break;
        case 'b':
            if (cli_parse_number("--blur", optarg, 0.25, 4, &blur))
                return 2;
            break;
        case 'h': return usage(OPT_HELP);
        default: return usage(0);
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "scrim preview: expected IN and OUT\n");
        return usage(0);
    }
    int lv = scrim_preview_level_parse(level, &po, err, sizeof err);
    if (lv < 0) {
        fprintf(stderr, "scrim: --level: %s\n", err);
        return 2;
    }
    if (lv == SCRIM_PREVIEW_NONE) {
        fprintf(stderr, "scrim: --level none makes no preview\n");
        return 2;
    }
    if (size > 0) po.size = (int)size;
    if (detail > 0) po.detail = (int)detail;
    if (quality > 0) po.quality = (int)quality;
    if (blur > 0) po.blur = blur;
    if (lighter)
        scrim_preview_opts_lighter(&po, &po);
    if (scrim_preview_opts_check(&po, err, sizeof err)) {
        fprintf(stderr, "scrim: %s\n", err);
        return 2;
    }

    const char *in = argv[optind], *outp = argv[optind + 1];
    uint8_t *data = NULL;
    size_t len = 0;
    scrim_image img = {0};
    scrim_preview pv = {0};
    int status = 1;
    if (cli_read_file(in, &data, &len, err, sizeof err) ||
        scrim_image_load_buffer(data, len, NULL, &img, err, sizeof err) ||
        scrim_preview_render(&img, &po, &pv, err, sizeof err)) {
        cli_fail(in, err);
        goto done;
    }
    FILE *f = strcmp(outp, "-") ? fopen(outp, "wb") : stdout;
    if (!f) {
        perror(outp);
        goto done;
    }
    size_t wrote = fwrite(pv.data, 1, pv.len, f);
    if ((f != stdout ? fclose(f) : fflush(f)) || wrote != pv.len) {
        fprintf(stderr, "scrim: %s: write failed\n", outp);
        goto done;
    }
    status = 0;
done:
    scrim_preview_free(&pv);
    scrim_image_free(&img);
    free(data);
    return status;
}
