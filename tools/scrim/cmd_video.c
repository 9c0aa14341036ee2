/* cmd_video.c - video commands of bin/scrim: `scrim compare` (vPDQ's
 * video-to-video measure) and `scrim match` (files against the lists). */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_load_vpdq(const char *path, const scrim_video_opts *vopts,
                  scrim_vpdq *out, char *err, size_t errlen)
{
    uint8_t *data;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = cli_read_file(path, &data, &len, err, errlen);
    if (rc)
        return rc;
    if (scrim_media_sniff(data, len) == SCRIM_MEDIA_VIDEO)
        rc = scrim_video_hash_buffer(data, len, vopts, out, err, errlen);
    else if (scrim_vpdq_sniff(data, len))
        rc = scrim_vpdq_parse((const char *)data, len, out, err, errlen);
    else {
        snprintf(err, errlen, "neither a video nor a vPDQ hash file (FRAME,QUALITY,HASH,SECONDS lines)");
        rc = SCRIM_EFORMAT;
    }
    free(data);
    return rc;
}

/* ---- scrim compare ----------------------------------------------------------- */

static int compare_usage(int what)
{
    return cli_usage(what,
            "usage: scrim compare [OPTIONS] A B\n"
            "\n"
            "Compares video A (the query) with video B by vPDQ's measure and prints\n"
            "{\"query_match_percent\": .., \"compared_match_percent\": ..}.  A and B\n"
            "are each a video file or a vPDQ hash file (FRAME,QUALITY,HASH,SECONDS).\n"
            "Frames with an exact duplicate are counted once; frames of quality\n"
            "below --min-quality are left out; frames match within --distance bits.\n"
            "  --seconds-per-hash S  sampling of video files (default 1; 0 = every frame)\n"
            "  --keyframes           hash key frames only\n"
            "  --min-quality N       default %d\n"
            "  --distance N          default %d\n",
            SCRIM_VPDQ_MIN_QUALITY, SCRIM_VPDQ_MAX_DISTANCE);
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seconds-per-hash", required_argument, NULL, 's'},
        {"keyframes", no_argument, NULL, 'k'},
        {"exact-rgb", no_argument, NULL, 'r'},
        {"min-quality", required_argument, NULL, 'q'},
        {"distance", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    scrim_video_opts vopts;
    scrim_video_opts_default(&vopts);
    long long minq = SCRIM_VPDQ_MIN_QUALITY, dist = SCRIM_VPDQ_MAX_DISTANCE;
    int c;
    while ((c = getopt_long(argc, argv, "s:krq:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_parse_seconds("--seconds-per-hash", optarg, &vopts.seconds_per_hash))
                return 2;
            break;
        case 'k': vopts.keyframes_only = 1; break;
        case 'r': break; /* --exact-rgb: what every frame gets now */
        case 'q':
            if ((minq = cli_parse_int("--min-quality", optarg, 0, 100)) < 0)
                return 2;
            break;
        case 'd':
            if ((dist = cli_parse_int("--distance", optarg, 0, 256)) < 0)
                return 2;
            break;
        case 'h': return compare_usage(OPT_HELP);
        default: return compare_usage(0);
        }
    }
    if (argc - optind != 2)
        return compare_usage(0);
    scrim_vpdq v[2];
    char err[512];
    for (int i = 0; i < 2; i++) {
        if (cli_load_vpdq(argv[optind + i], &vopts, &v[i], err, sizeof err)) {
            scrim_vpdq_free(&v[0]);
            if (i)
                scrim_vpdq_free(&v[1]);
            return cli_fail(argv[optind + i], err);
        }
    }
    double q, cp;
    int rc = scrim_vpdq_compare(&v[0], &v[1], (int)minq, (int)dist, &q, &cp);
    scrim_vpdq_free(&v[0]);
    scrim_vpdq_free(&v[1]);
    if (rc)
        return cli_fail("compare", scrim_strerror(rc));
    cli_print_json(stdout,
                   json_pack("{s:f, s:f}", "query_match_percent", round(q * 1000) / 1000,
                             "compared_match_percent", round(cp * 1000) / 1000),
                   JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    return 0;
}

/* How scrim match and import --format vpdq --json print. */
#define VIDEO_JSON (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

/* ---- scrim match --------------------------------------------------------------- */

static int match_usage(int what)
{
    return cli_usage(what,
            "usage: scrim match [--db DIR] [OPTIONS] FILE...\n"
            "\n"
            "Hashes each image or video (recognised by content) and looks it up in the\n"
            "enabled lists; prints one JSON object per file, as scrimd's /v1/match:\n"
            "{\"file\", \"kind\", \"matched\", \"matches\": [...], \"allowed\": [...]}.\n"
            "A video entry matches when vPDQ's query/compared percentages reach the\n"
            "thresholds (with the matched [start, end] seconds of the query); an image\n"
            "entry found in frames of a video is reported with those frames' timestamps.\n"
            "  --db DIR              the database (default %s)\n"
            "  --seconds-per-hash S  video sampling (default 1; 0 = every frame)\n"
            "  --keyframes           hash key frames only\n"
            "  --min-quality N       hashes below are not looked up (default %d;\n"
            "                        an image's own hash: down to a fifth of it)\n"
            "  --radius N            instead of each list's radius\n"
            "  --list NAME           only this list (repeatable; default: every\n"
            "                        enabled list)\n"
            "  --query-percent P     video match threshold (default %.0f)\n"
            "  --compared-percent P  video match threshold (default %.0f)\n"
            "  --no-dihedral         images: the hash as it is, no rotations/flips\n"
            "  --no-regions          only the whole upload, not the picture found\n"
            "                        inside it (borders, bars, a page around it; a\n"
            "                        video's letterbox or pillarbox bars)\n"
            "Exit status: 0 no match, 3 some file matched, 1 some file failed.\n",
            SCRIM_STORE_DEFAULT_DIR, SCRIM_VPDQ_MIN_QUALITY,
            SCRIM_VPDQ_QUERY_PERCENT, SCRIM_VPDQ_COMPARED_PERCENT);
}

/* Hash and match one file; prints its JSON line.  0 no match, 3 matched,
 * 1 failed. */
static int match_one(scrim_store *s, const char *path,
                     const scrim_video_opts *vo, const scrim_vmatch_opts *mo)
{
    char err[512];
    uint8_t *data = NULL;
    size_t len;
    json_t *res = NULL, *o = NULL;
    int rc = cli_read_file(path, &data, &len, err, sizeof err);
    if (rc)
        goto fail;
    if (scrim_media_sniff(data, len) == SCRIM_MEDIA_VIDEO) {
        scrim_vpdq v;
        char md5[33], sha256[65];
        rc = scrim_video_hash_buffer(data, len, vo, &v, err, sizeof err);
        scrim_digest(data, len, md5, sha256);
        if (rc == SCRIM_OK)
            rc = scrim_video_match(s, &v, md5, sha256, mo, &res, err, sizeof err);
        if (rc == SCRIM_OK) {
            o = json_pack("{s:s, s:s, s:f, s:i, s:i}", "file", path, "kind", "video",
                          "duration", round(v.duration * 1000) / 1000, "frames_hashed",
                          (int)v.count, "corrupt_packets", (int)v.corrupt_packets);
        }
        scrim_vpdq_free(&v);
    } else {
        scrim_image_hashes h;
        scrim_decode_opts d = {.regions = mo->regions};
        rc = scrim_hash_image_buffer(data, len, &d, &h, NULL, err, sizeof err);
        if (rc == SCRIM_OK)
            rc = scrim_image_match(s, &h, mo, &res, err, sizeof err);
        if (rc == SCRIM_OK) {
            json_t *hj = scrim_image_hashes_json(&h, 0);
            o = json_pack("{s:s}", "file", path);
            json_object_update(o, hj);
            json_decref(hj);
        }
    }
    if (rc)
        goto fail;
    json_object_update(o, res);
    cli_print_json(stdout, o, VIDEO_JSON);
    int matched = json_is_true(json_object_get(res, "matched"));
    json_decref(res);
    free(data);
    return matched ? 3 : 0;
fail:
    json_decref(o);
    json_decref(res);
    free(data);
    return cli_fail(path, err);
}

int cmd_match(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'D'},
        {"seconds-per-hash", required_argument, NULL, 's'},
        {"keyframes", no_argument, NULL, 'k'},
        {"min-quality", required_argument, NULL, 'q'},
        {"radius", required_argument, NULL, 'r'},
        {"query-percent", required_argument, NULL, 'Q'},
        {"compared-percent", required_argument, NULL, 'C'},
        {"no-dihedral", no_argument, NULL, 'n'},
        {"no-regions", no_argument, NULL, 'R'},
        {"list", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR;
    scrim_video_opts vo;
    scrim_vmatch_opts mo;
    scrim_video_opts_default(&vo);
    scrim_vmatch_opts_default(&mo);
    long long v;
    int c;
    /* --list restricts to the lists named: room for every argument */
    const char **lists = malloc((size_t)argc * sizeof *lists);
    size_t nlists = 0;
    if (!lists)
        return 1;
    while ((c = getopt_long(argc, argv, "D:s:kq:r:Q:C:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'D': db = optarg; break;
        case 's':
            if (cli_parse_seconds("--seconds-per-hash", optarg, &vo.seconds_per_hash))
                return 2;
            break;
        case 'k': vo.keyframes_only = 1; break;
        case 'q':
            if ((v = cli_parse_int("--min-quality", optarg, 0, 100)) < 0)
                return 2;
            mo.min_quality = (int)v;
            break;
        case 'r':
            if ((v = cli_parse_int("--radius", optarg, 0, SCRIM_MAX_RADIUS)) < 0)
                return 2;
            mo.radius = (int)v;
            break;
        case 'Q':
            if (cli_parse_percent("--query-percent", optarg, &mo.query_percent))
                return 2;
            break;
        case 'C':
            if (cli_parse_percent("--compared-percent", optarg, &mo.compared_percent))
                return 2;
            break;
        case 'n': mo.dihedral = 0; break;
        case 'R': mo.regions = 0; break;
        case 'l':
            if (!scrim_list_name_valid(optarg)) {
                fprintf(stderr, "scrim: match: invalid list name '%s'\n", optarg);
                free(lists);
                return 2;
            }
            lists[nlists++] = optarg;
            break;
        case 'h': free(lists); return match_usage(OPT_HELP);
        default: free(lists); return match_usage(0);
        }
    }
    if (optind >= argc) {
        free(lists);
        return match_usage(0);
    }
    vo.framing = mo.regions; /* videos: the picture inside letterbox bars */
    mo.lists = nlists ? lists : NULL;
    mo.nlists = nlists;
    scrim_store *s;
    if (cli_open_store(db, 0, 0, &s)) {
        free(lists);
        return 1;
    }
    /* a name that is no list: a usage error, before any file is hashed */
    for (size_t i = 0; i < nlists; i++) {
        scrim_list_info li;
        char err[256];
        if (scrim_store_list_get(s, lists[i], &li, err, sizeof err)) {
            fprintf(stderr, "scrim: match: no list named '%s'\n", lists[i]);
            scrim_store_close(s);
            free(lists);
            return 2;
        }
    }
    int failed = 0, matched = 0;
    for (int i = optind; i < argc; i++) {
        int r = match_one(s, argv[i], &vo, &mo);
        failed |= r == 1;
        matched |= r == 3;
    }
    scrim_store_close(s);
    free(lists);
    return failed ? 1 : matched ? 3 : 0;
}

/* ---- scrim import --format vpdq / export --format vpdq -------------------------- */

/* The id of a file's video: its base name without the last extension. */
static void base_id(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

int cli_format_is_vpdq(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if ((!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "vpdq")) ||
            !strcmp(argv[i], "--format=vpdq"))
            return 1;
    }
    return 0;
}

static int import_usage(int what)
{
    return cli_usage(what,
            "usage: scrim import --format vpdq [--db DIR] --list NAME [--create]\n"
            "                    [--description TEXT] [--radius N] [--kind block|allow]\n"
            "                    [--id ID] [--label TEXT] [--json] FILE...\n"
            "\n"
            "Adds videos to list NAME, one video entry per FILE, all in one transaction.\n"
            "FILE is a vPDQ hash file (FRAME,QUALITY,HASH,SECONDS lines) or a video,\n"
            "hashed here (--seconds-per-hash S, default 1).  The entry's id is the file's\n"
            "base name without extension, or --id (one FILE only).  A file written by\n"
            "'scrim export --format vpdq' ('# video: ID' sections) gives one entry per\n"
            "section.  Frame hashes go into the PDQ index like image hashes.\n"
            "--cluster URL, --force: as scrim import's.\n");
}

int cmd_import_vpdq(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_LIST, OPT_FORMAT, OPT_CREATE, OPT_DESC,
                               OPT_RADIUS, OPT_KIND, OPT_ID, OPT_LABEL, OPT_SECONDS,
                               OPT_JSON, OPT_QUIET, OPT_CLUSTER, OPT_FORCE, 0};
    cli_args a = CLI_ARGS_INIT;
    scrim_video_opts vo;
    scrim_video_opts_default(&vo);
    int c;
    while ((c = cli_getopt(argc, argv, take, &a)) != -1) {
        switch (c) {
        case OPT_FORMAT: break; /* vpdq: how we got here */
        case OPT_SECONDS:
            if (cli_parse_seconds("--seconds-per-hash", optarg, &vo.seconds_per_hash))
                return 2;
            break;
        default: return import_usage(c);
        }
    }
    const char *list = a.list, *id = a.id, *label = a.label;
    if (!list || optind >= argc || (id && argc - optind > 1)) {
        fprintf(stderr, "scrim: import: %s\n",
                !list ? "--list NAME is required"
                : optind >= argc ? "no input file" : "--id needs exactly one FILE");
        return import_usage(0);
    }
    scrim_import_opts io = {0};
    io.create = a.create;
    io.list = a.params;
    io.source = argc - optind == 1 ? argv[optind] : "vpdq files";
    cli_target t;
    scrim_import *imp;
    int rc = cli_import_begin(&a, 0, list, &io, &t, &imp);
    if (rc)
        return rc;
    char err[1024], msg[1200];
    for (int i = optind; i < argc && !rc; i++) {
        const char *path = argv[i];
        char fid[SCRIM_ENTRY_TEXT_MAX + 1];
        uint8_t *data = NULL;
        size_t len;
        base_id(path, fid, sizeof fid);
        rc = cli_read_file(path, &data, &len, err, sizeof err);
        if (rc == SCRIM_OK && scrim_media_sniff(data, len) == SCRIM_MEDIA_VIDEO) {
            scrim_vpdq vp;
            rc = scrim_video_hash_buffer(data, len, &vo, &vp, err, sizeof err);
            scrim_store_frame *f = rc ? NULL : malloc((vp.count ? vp.count : 1) * sizeof *f);
            if (!rc && !f)
                rc = SCRIM_ENOMEM;
            for (size_t k = 0; !rc && k < vp.count; k++)
                f[k] = (scrim_store_frame){vp.frames[k].pdq, vp.frames[k].quality,
                                           vp.frames[k].seconds};
            if (!rc)
                rc = scrim_import_add_video(imp, id ? id : fid, label, f, vp.count,
                                            err, sizeof err);
            free(f);
            scrim_vpdq_free(&vp);
        } else if (rc == SCRIM_OK) {
            rc = scrim_vpdq_import(imp, data, len, id ? id : fid, label, NULL, err,
                                   sizeof err);
        }
        if (rc) {
            snprintf(msg, sizeof msg, "%s: %s", path, err);
            memcpy(err, msg, sizeof err - 1);
            err[sizeof err - 1] = '\0';
        }
        free(data);
    }
    scrim_import_stats st;
    if (cli_import_end(&t, imp, rc, err, sizeof err, &st, list, &io))
        return 1;
    if (a.json) {
        cli_print_json(stdout, cli_write_note(&t, list,
                       json_pack("{s:s, s:I, s:I, s:I}", "list", list, "added",
                                 (json_int_t)st.added[SCRIM_HASH_VIDEO], "duplicates",
                                 (json_int_t)st.duplicates[SCRIM_HASH_VIDEO], "frames",
                                 (json_int_t)st.frames)),
                       VIDEO_JSON);
    } else {
        printf("%s: added %llu videos (%llu frames), duplicates %llu\n", list,
               (unsigned long long)st.added[SCRIM_HASH_VIDEO],
               (unsigned long long)st.frames,
               (unsigned long long)st.duplicates[SCRIM_HASH_VIDEO]);
        cli_write_note(&t, list, NULL);
    }
    return 0;
}

/* Where the export hook writes: the list's other entries go to /dev/null. */
static FILE *vpdq_out;

static int export_hook(FILE *out, const char *id, const char *label,
                       const scrim_store_frame *frames, size_t n)
{
    return scrim_vpdq_export_entry(vpdq_out, id, label, frames, n);
}

int cmd_export_vpdq(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_LIST, OPT_FORMAT, OPT_ID, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage =
        "usage: scrim export --format vpdq [--db DIR] --list NAME [--id ID]\n"
        "Writes the list's videos as vPDQ lines, each after a '# video: ID' line\n"
        "(the form 'scrim import --format vpdq' reads back); with --id, only that\n"
        "video's lines.  Image and digest entries are not written.\n";
    int c;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_FORMAT)
        ; /* vpdq: how we got here */
    scrim_store *s;
    int st = cli_begin(c, a.list && optind == argc, usage, &a, &s);
    if (st >= 0)
        return st;
    const char *list = a.list, *id = a.id;
    char err[512];
    int rc;
    if (id) {
        scrim_store_frame *f = NULL;
        size_t n = 0;
        rc = scrim_store_video_frames(s, list, id, &f, &n, NULL, err, sizeof err);
        for (size_t i = 0; !rc && i < n; i++) {
            char hx[SCRIM_PDQ_HEXLEN + 1];
            scrim_pdq_to_hex(&f[i].hash, hx);
            printf("%zu,%d,%s,%.3f\n", i, f[i].quality < 0 ? 0 : f[i].quality, hx,
                   f[i].seconds);
        }
        free(f);
    } else {
        FILE *null = fopen("/dev/null", "w");
        uint64_t written, skipped;
        vpdq_out = stdout;
        scrim_store_set_video_export(export_hook);
        rc = null ? scrim_store_export(s, list, SCRIM_FORMAT_CSV, null, &written,
                                       &skipped, err, sizeof err)
                  : SCRIM_EIO;
        if (!null)
            snprintf(err, sizeof err, "cannot open /dev/null");
        scrim_store_set_video_export(NULL);
        if (null)
            fclose(null);
    }
    scrim_store_close(s);
    return cli_stdout_done("export", rc, err, sizeof err);
}
