/* cmd_add.c - `scrim add`: the platform's own removed media into a list,
 * hashed here, with the index-side variants of images (scrim_media_add). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_usage(FILE *f)
{
    fprintf(f,
            "usage: scrim add [--db DIR] --list NAME [--create] [--id ID] [--label TEXT]\n"
            "                 [--variants SET] [--json] MEDIA...\n"
            "\n"
            "Hashes each removed image or video (recognised by content) and adds it to\n"
            "list NAME under one id: an image's PDQ and the hashes of the crops and\n"
            "small rotations an evader is likely to make (index-side variants), a\n"
            "video's frame hashes (one a second), and the file's MD5 and SHA-256.\n"
            "Each file is its own transaction.  'scrim export' leaves the variants out\n"
            "unless asked ('--format csv --variants'), so shared lists never carry them.\n"
            "  --db DIR        the database (default %s; created if missing)\n"
            "  --create        create the list if it does not exist\n"
            "  --id ID         the entry's id (one MEDIA only; default: the file name\n"
            "                  without directory and extension)\n"
            "  --label TEXT    a label kept with the entry\n"
            "  --variants SET  comma list (default %s;\n"
            "                  'none' = no variants): crop-P, rot+D, rot-D, rotz+D\n"
            "  --json          one JSON object per file\n"
            "  --cluster URL, --force: as scrim import's (one change per file)\n"
            "Exit status: 0 all added, 1 some file failed, 2 usage error.\n",
            SCRIM_STORE_DEFAULT_DIR, SCRIM_VARIANTS_DEFAULT);
}

/* The file name without directory and extension. */
static void default_id(const char *path, char *id, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(id, n, "%s", b);
    char *dot = strrchr(id, '.');
    if (dot && dot != id)
        *dot = '\0';
}

int cmd_add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"list", required_argument, NULL, 'l'},
        {"create", no_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'i'},
        {"label", required_argument, NULL, 'L'},
        {"variants", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"cluster", required_argument, NULL, 'C'},
        {"force", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_args a = CLI_ARGS_INIT;
    const char *list = NULL, *id = NULL;
    const char *label = NULL, *variants = NULL;
    int as_json = 0, c, status = 0;
    scrim_import_opts io = {0};
    io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a.db = optarg; break;
        case 'C': a.cluster = optarg; break;
        case 'F': a.force = 1; break;
        case 'l': list = optarg; break;
        case 'c': io.create = 1; break;
        case 'i': id = optarg; break;
        case 'L': label = optarg; break;
        case 'v': variants = strcmp(optarg, "none") ? optarg : ""; break;
        case 'j': as_json = 1; break;
        case 'h': add_usage(stdout); return 0;
        default: add_usage(stderr); return 2;
        }
    }
    if (!list || optind >= argc || (id && argc - optind != 1)) {
        fprintf(stderr, "scrim: add: %s\n",
                !list ? "--list is required"
                : optind >= argc ? "no media file"
                                 : "--id needs exactly one MEDIA");
        add_usage(stderr);
        return 2;
    }
    cli_target t;
    char err[512];
    int st0 = cli_write_open("add", &a, 1, 0, &t);
    if (st0)
        return st0;
    scrim_store *s = t.s;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        char fid[SCRIM_ENTRY_TEXT_MAX + 1];
        uint8_t *data = NULL;
        size_t len;
        scrim_media_added st;
        if (id)
            snprintf(fid, sizeof fid, "%s", id);
        else
            default_id(path, fid, sizeof fid);
        io.source = path;
        int rc = cli_read_file(path, &data, &len, err, sizeof err);
        if (!rc && cli_write_begin(&t, &io)) {   /* printed */
            free(data);
            status = 1;
            continue;
        }
        if (!rc)
            rc = scrim_media_add(s, list, &io, data, len, fid, label, variants,
                                 &st, err, sizeof err);
        free(data);
        if (rc) {
            if (t.w)
                scrim_cluster_abort(t.w);
            status = cli_fail(path, err);
            continue;
        }
        if (cli_write_commit(&t, list, "add", scrim_cluster_import_params(&io))) {
            status = 1;
            continue;
        }
        json_t *names = json_array();
        for (int k = 0; k < st.nvariants; k++)
            json_array_append_new(names, json_string(st.variant[k]));
        if (as_json) {
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "file",
                                  path, "list", list, "id", fid, "kind", st.kind,
                                  "added", (json_int_t)st.stats.added[0],
                                  "duplicates",
                                  (json_int_t)st.stats.duplicates[0],
                                  "variants", names);
            if (!strcmp(st.kind, "image"))
                json_object_set_new(o, "quality", json_integer(st.quality));
            else
                json_object_set_new(o, "frames", json_integer((json_int_t)st.frames));
            cli_print_json(stdout, cli_write_note(&t, list, o), JSON_COMPACT);
        } else {
            printf("%s: %s '%s' in %s: %llu hashes added, %llu already there",
                   path, st.kind, fid, list,
                   (unsigned long long)st.stats.added[0],
                   (unsigned long long)st.stats.duplicates[0]);
            if (st.nvariants) {
                printf(" (variants:");
                for (int k = 0; k < st.nvariants; k++)
                    printf(" %s", st.variant[k]);
                printf(")");
            }
            printf("\n");
            cli_write_note(&t, list, NULL);
            json_decref(names);
        }
    }
    cli_write_close(&t);
    return status;
}
