/* cmd_store.c - the hash-list subcommands: import, export, lookup, lists,
 * list-set, drop, remove, audit. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* PDQs merged into the index per batch by the CLI: fewer, larger merges
 * make big imports faster; memory is about 110 bytes per PDQ of a batch. */
#define CLI_IMPORT_BATCH (4u << 20)

/* ---- import -------------------------------------------------------------------- */

typedef struct progress {
    uint64_t total;   /* bytes of the input if known, else 0 */
    uint64_t done;    /* bytes of earlier inputs */
    time_t last;
    int shown;
} progress;

static void show_progress(void *ud, uint64_t bytes)
{
    progress *p = ud;
    time_t now = time(NULL);
    if (now == p->last && bytes < p->total)
        return;
    p->last = now;
    p->shown = 1;
    uint64_t at = p->done + bytes;
    if (p->total) {
        int pct = (int)(at * 100 / p->total);
        if (pct > 100)
            pct = 100;
        char bar[41];
        memset(bar, '#', (size_t)pct * 40 / 100);
        memset(bar + pct * 40 / 100, '.', 40 - (size_t)pct * 40 / 100);
        bar[40] = '\0';
        fprintf(stderr, "\r[%s] %3d%% %llu MB", bar, pct,
                (unsigned long long)(at >> 20));
    } else {
        fprintf(stderr, "\r%llu MB read", (unsigned long long)(at >> 20));
    }
    fflush(stderr);
}

static int usage_import(int what)
{
    return cli_usage(what,
            "usage: scrim import [--db DIR] --list NAME [--format FORMAT] [--create]\n"
            "                    [--replace] [--strict] [--description TEXT] [--radius N]\n"
            "                    [--kind block|allow] [--json] FILE... | -\n"
            "\n"
            "Adds the hashes of FILE(s) (- = stdin) to list NAME, all in one transaction:\n"
            "a malformed line aborts the whole import and leaves the database as it was.\n"
            "  --db DIR        the database (default %s; created if missing)\n"
            "  --format F      auto (default), hex (64-hex PDQ per line), pytx, csv (or\n"
            "                  tsv: a header naming 'hash' or 'signal_str'; optional type\n"
            "                  or signal_type, id, label, quality, source or collab,\n"
            "                  category, tags), md5, sha256, vpdq (see --format vpdq --help)\n"
            "  --replace       the list becomes exactly the files' entries: prints added,\n"
            "                  kept and removed; a lookup meanwhile sees the old list or\n"
            "                  the new, never a mix\n"
            "  --strict        an entry of an unknown signal type is an error (else\n"
            "                  counted, reported and skipped)\n"
            "  --create        create the list if it does not exist\n"
            "  --description, --radius N (0-64, default 31), --kind: list settings\n"
            "  --batch N       PDQs per index merge (default %u, ~110 bytes each)\n"
            "  --quiet         no progress bar;  --json: the counts as JSON\n"
            "  --cluster URL   through the cluster's change log (PostgreSQL, libpq URL;\n"
            "                  default $SCRIM_CLUSTER for a node's database), as scrimd's\n"
            "                  admin API writes: DIR must be a node's, its scrimd running\n"
            "  --force         write a cluster node's database alone (refused otherwise)\n"
            "pytx is read as python-threatexchange writes it: 'TYPE SIGNAL'\n"
            "lines, 'threatexchange dataset -P' lines (TYPE SIGNAL 'COLLAB' CATEGORY\n"
            "TAGS), its --csv (signal_type,signal_str,collab,category,tags), and\n"
            "ThreatExchange cache rows (HASH,ID,DATE,TAGS).  Types: pdq, video_md5\n"
            "(kept as an MD5 entry, the MD5 of the whole file), video_sha256, vpdq\n"
            "(a JSON list of frames: one video entry), and scrim's md5, sha256.  The\n"
            "collab, category and tags are kept with the entry and come back with\n"
            "its matches.  An entry marked a false positive (category NEGATIVE_CLASS,\n"
            "tag false_positive) is never stored, and removed if the list has it.\n"
            "Blank lines and # comments are skipped; repeated hashes are counted once.\n"
            "Each file's name, SHA-256 and time are kept: scrim lists --json shows them.\n",
            SCRIM_STORE_DEFAULT_DIR, CLI_IMPORT_BATCH);
}

/* The counts of an import, as one line: "NAME: added N (pdq N, md5 N,
 * sha256 N), duplicates N (...), N lines", then what else happened. */
static void print_import(const char *list, int mode, const scrim_import_stats *st)
{
    if (mode == SCRIM_IMPORT_REMOVE)
        printf("%s: removed %llu, not found %llu", list,
               (unsigned long long)st->removed[0], (unsigned long long)st->missing);
    else
        printf("%s: added %llu (pdq %llu, md5 %llu, sha256 %llu), duplicates %llu "
               "(pdq %llu, md5 %llu, sha256 %llu), %llu lines",
               list, (unsigned long long)st->added[0],
               (unsigned long long)st->added[SCRIM_HASH_PDQ],
               (unsigned long long)st->added[SCRIM_HASH_MD5],
               (unsigned long long)st->added[SCRIM_HASH_SHA256],
               (unsigned long long)st->duplicates[0],
               (unsigned long long)st->duplicates[SCRIM_HASH_PDQ],
               (unsigned long long)st->duplicates[SCRIM_HASH_MD5],
               (unsigned long long)st->duplicates[SCRIM_HASH_SHA256],
               (unsigned long long)st->lines);
    if (st->added[SCRIM_HASH_VIDEO] || st->duplicates[SCRIM_HASH_VIDEO])
        printf(", videos %llu added, %llu duplicates",
               (unsigned long long)st->added[SCRIM_HASH_VIDEO],
               (unsigned long long)st->duplicates[SCRIM_HASH_VIDEO]);
    if (mode == SCRIM_IMPORT_REPLACE)
        printf(", kept %llu (%llu updated), removed %llu",
               (unsigned long long)st->kept[0], (unsigned long long)st->updated,
               (unsigned long long)st->removed[0]);
    if (st->negative)
        printf(", false positives %llu (not stored", (unsigned long long)st->negative);
    if (st->negative && mode == SCRIM_IMPORT_ADD && st->removed[0])
        printf("; %llu removed from the list", (unsigned long long)st->removed[0]);
    if (st->negative)
        printf(")");
    if (st->unknown) {
        printf(", unknown types %llu (", (unsigned long long)st->unknown);
        for (size_t i = 0; i < 8 && st->unknown_types[i].count; i++)
            printf("%s%s %llu", i ? ", " : "", st->unknown_types[i].name,
                   (unsigned long long)st->unknown_types[i].count);
        printf("; skipped)");
    }
    printf("\n");
}

/* Reads FILE(s) into an import of mode `mode` (cmd_import, remove --from);
 * returns the exit status. */
static int import_files(const cli_args *a, uint64_t map_size, int format,
                        scrim_import_opts *io, char **files, int nfiles)
{
    const char *list = a->list;
    io->source = !strcmp(files[0], "-") ? "<stdin>" : files[0];
    cli_target t;
    scrim_import *imp;
    int rc = cli_import_begin(a, map_size, list, io, &t, &imp);
    if (rc)
        return rc;
    char err[1024];
    progress pg = {0};
    int tty = !a->quiet && isatty(2);
    for (int i = 0; i < nfiles && !rc; i++) {
        const char *path = files[i];
        int is_stdin = !strcmp(path, "-");
        FILE *f = is_stdin ? stdin : fopen(path, "r");
        if (!f) {
            snprintf(err, sizeof err, "%s: cannot open: %m", path);
            rc = SCRIM_EIO;
            break;
        }
        struct stat st;
        pg.total = !fstat(fileno(f), &st) && S_ISREG(st.st_mode)
                       ? (uint64_t)st.st_size : 0;
        rc = scrim_import_stream(imp, f, is_stdin ? "<stdin>" : path, format,
                                 tty ? show_progress : NULL, &pg, err,
                                 sizeof err);
        if (!is_stdin)
            fclose(f);
    }
    if (pg.shown)
        fprintf(stderr, "\n");
    if (!rc && tty)
        fprintf(stderr, "committing...\n");
    scrim_import_stats st;
    if (cli_import_end(&t, imp, rc, err, sizeof err, &st, list, io))
        return 1;
    if (a->json) {
        cli_print_json(stdout, cli_write_note(&t, list, scrim_import_stats_json(
                                                  list, io->mode, &st)),
                       JSON_COMPACT);
    } else {
        print_import(list, io->mode, &st);
        cli_write_note(&t, list, NULL);
    }
    return 0;
}

int cmd_import(int argc, char **argv)
{
    if (cli_format_is_vpdq(argc, argv)) /* video lists: cmd_video.c */
        return cmd_import_vpdq(argc, argv);
    static const int take[] = {OPT_DB, OPT_LIST, OPT_FORMAT, OPT_CREATE, OPT_DESC,
                               OPT_RADIUS, OPT_KIND, OPT_MAPSIZE, OPT_QUIET,
                               OPT_JSON, OPT_BATCH, OPT_REPLACE, OPT_STRICT,
                               OPT_CLUSTER, OPT_FORCE, 0};
    cli_args a = CLI_ARGS_INIT;
    int format = SCRIM_FORMAT_AUTO, c;
    uint64_t map_size = 0;
    scrim_import_opts io = {0};
    io.flush_every = CLI_IMPORT_BATCH;
    long long v;
    while ((c = cli_getopt(argc, argv, take, &a)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            format = scrim_import_format_parse(optarg);
            if (format < 0) {
                fprintf(stderr, "scrim: --format: unknown format '%s' (auto, hex, "
                                "pytx, csv, tsv, md5, sha256, vpdq)\n", optarg);
                return 2;
            }
            break;
        case OPT_MAPSIZE:
            if ((v = cli_parse_int("--map-size", optarg, 1 << 20, 1LL << 50)) < 0)
                return 2;
            map_size = (uint64_t)v;
            break;
        case OPT_BATCH:
            if ((v = cli_parse_int("--batch", optarg, 1, 1LL << 28)) < 0)
                return 2;
            io.flush_every = (size_t)v;
            break;
        case OPT_REPLACE: io.mode = SCRIM_IMPORT_REPLACE; break;
        case OPT_STRICT: io.strict = 1; break;
        default: return usage_import(c);
        }
    }
    if (!a.list || optind >= argc) {
        fprintf(stderr, "scrim: import: %s\n",
                !a.list ? "--list NAME is required" : "no input file (use - for stdin)");
        return usage_import(0);
    }
    io.create = a.create;
    io.list = a.params;
    return import_files(&a, map_size, format, &io, argv + optind, argc - optind);
}

/* ---- export -------------------------------------------------------------------- */

int cmd_export(int argc, char **argv)
{
    if (cli_format_is_vpdq(argc, argv)) /* video lists: cmd_video.c */
        return cmd_export_vpdq(argc, argv);
    static const int take[] = {OPT_DB, OPT_LIST, OPT_FORMAT, OPT_VARIANTS, 0};
    cli_args a = CLI_ARGS_INIT;
    int format = SCRIM_FORMAT_CSV, c, variants = 0;
    const char *usage =
        "usage: scrim export [--db DIR] --list NAME [--format hex|pytx|csv]\n"
        "                    [--variants]\n"
        "Writes the list to stdout (default csv: type,hash,id,label,quality,source,\n"
        "category,tags; a video is a vpdq row); the output imports back with scrim\n"
        "import.  pytx: 'TYPE SIGNAL' lines as python-threatexchange reads them\n"
        "(pdq, video_md5, video_sha256, vpdq).  hex holds PDQs only.\n"
        "The index-side variants 'scrim add' stores are left out, so that a\n"
        "shared list carries only the media's own hashes; --variants (csv\n"
        "only) writes them too, named in a 'variant' column.\n";
    while ((c = cli_getopt(argc, argv, take, &a)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            format = scrim_import_format_parse(optarg);
            if (format != SCRIM_FORMAT_HEX && format != SCRIM_FORMAT_PYTX &&
                format != SCRIM_FORMAT_CSV && format != SCRIM_FORMAT_MD5 &&
                format != SCRIM_FORMAT_SHA256) {
                fprintf(stderr, "scrim: --format: expected hex, pytx or csv, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_VARIANTS: variants = 1; break;
        default: return cli_usage(c, "%s", usage);
        }
    }
    if (variants && format != SCRIM_FORMAT_CSV) {
        fprintf(stderr, "scrim: --variants: the variants are written in the csv format only\n");
        return 2;
    }
    scrim_store *s;
    int st = cli_begin(c, a.list && optind == argc, usage, &a, &s);
    if (st >= 0)
        return st;
    char err[512];
    uint64_t written, skipped;
    int rc = scrim_store_export(s, a.list, format | (variants ? SCRIM_EXPORT_VARIANTS : 0),
                                stdout, &written, &skipped, err, sizeof err);
    scrim_store_close(s);
    if (cli_stdout_done("export", rc, err, sizeof err))
        return 1;
    if (skipped)
        fprintf(stderr, "scrim: export: %llu entries not representable in %s were skipped\n",
                (unsigned long long)skipped, scrim_import_format_name(format));
    return 0;
}

/* ---- lookup -------------------------------------------------------------------- */

/* One query: "HEX" (64 = PDQ, 32 = MD5) or "pdq:", "md5:", "sha256:" HEX. */
static int lookup_one(scrim_store *s, const char *q,
                      const scrim_lookup_opts *lo)
{
    char err[512], hex[65];
    const char *colon = strchr(q, ':');
    int type;
    if (colon) {
        char t[16];
        snprintf(t, sizeof t, "%.*s", (int)(colon - q < 15 ? colon - q : 15), q);
        type = scrim_hash_type_parse(t);
        q = colon + 1;
    } else {
        type = strlen(q) == 32 ? SCRIM_HASH_MD5 : SCRIM_HASH_PDQ;
    }
    scrim_matches m = {0};
    int rc;
    if (type == SCRIM_HASH_PDQ) {
        scrim_pdq h;
        if (scrim_pdq_from_hex(q, strlen(q), &h)) {
            fprintf(stderr, "scrim: lookup: '%s' is not a PDQ hash (64 hex digits)\n", q);
            return 1;
        }
        scrim_pdq_to_hex(&h, hex);
        rc = scrim_store_lookup_pdq(s, &h, 1, lo, &m, err, sizeof err);
    } else if (type == SCRIM_HASH_MD5 || type == SCRIM_HASH_SHA256) {
        snprintf(hex, sizeof hex, "%s", q);
        for (char *p = hex; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        rc = scrim_store_lookup_digest(s, type, hex, lo, &m, err, sizeof err);
    } else {
        fprintf(stderr, "scrim: lookup: '%s': unknown hash type\n", q);
        return 1;
    }
    if (rc) {
        cli_fail("lookup", err);
        scrim_matches_free(&m);
        return rc == SCRIM_ENOTFOUND ? 2 : 1;
    }
    cli_print_json(stdout, scrim_matches_json(&m, 0, hex), JSON_COMPACT);
    scrim_matches_free(&m);
    return 0;
}

int cmd_lookup(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_LIST, OPT_RADIUS, OPT_SCAN, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage =
        "usage: scrim lookup [--db DIR] [--radius N] [--list NAME]... [--scan] HASH... | -\n"
        "One JSON object per query: {\"query\", \"matches\": [...], \"allowed\": [...]},\n"
        "nearest first.  HASH: 64 hex = PDQ, 32 hex = MD5, or pdq:/md5:/sha256: HEX;\n"
        "- reads one query per line from stdin.  Without --radius each list's own\n"
        "radius applies; --list restricts to the named lists (repeatable); --scan\n"
        "checks every hash instead of using the index (same results, slower).\n";
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    int c, status = 0;
    /* --list restricts to the lists named: room for every argument */
    if (!(a.lists = malloc((size_t)argc * sizeof *a.lists)))
        return 1;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_SCAN)
        lo.method = SCRIM_LOOKUP_SCAN;
    scrim_store *s;
    int st = cli_begin(c, optind < argc, usage, &a, &s);
    if (st >= 0) {
        free(a.lists);
        return st;
    }
    lo.radius = a.params.radius;
    lo.lists = a.nlists ? a.lists : NULL;
    lo.nlists = a.nlists;
    for (int i = optind; i < argc && status != 2; i++) {
        if (strcmp(argv[i], "-")) {
            int r = lookup_one(s, argv[i], &lo);
            status = r > status ? r : status;
            continue;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (status != 2 && (n = getline(&line, &cap, stdin)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                             line[n - 1] == ' ' || line[n - 1] == '\t'))
                line[--n] = '\0';
            char *t = line;
            while (*t == ' ' || *t == '\t')
                t++;
            if (!*t || *t == '#')
                continue;
            int r = lookup_one(s, t, &lo);
            status = r > status ? r : status;
        }
        free(line);
    }
    scrim_store_close(s);
    free(a.lists);
    return status;
}

/* ---- lists, list-set, drop, remove, audit ------------------------------------------ */

int cmd_lists(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_JSON, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage = "usage: scrim lists [--db DIR] [--json]\n";
    int c = cli_getopt(argc, argv, take, &a);
    scrim_store *s;
    int st = cli_begin(c, optind == argc, usage, &a, &s);
    if (st >= 0)
        return st;
    scrim_list_info *l;
    size_t n;
    char err[512];
    int rc = scrim_store_lists(s, &l, &n, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return cli_fail("lists", err);
    if (!a.json)
        printf("%-24s %-5s %-8s %6s %10s %10s %8s %8s %6s  %s\n", "NAME", "KIND",
               "ENABLED", "RADIUS", "COUNT", "PDQ", "MD5", "SHA256", "VIDEO",
               "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        if (a.json) {
            cli_print_json(stdout, scrim_list_json(&l[i]), JSON_COMPACT);
            continue;
        }
        printf("%-24s %-5s %-8s %6d %10llu %10llu %8llu %8llu %6llu  %s\n",
               l[i].name, scrim_list_kind_name(l[i].kind),
               l[i].enabled ? "yes" : "no", l[i].radius,
               (unsigned long long)l[i].count, (unsigned long long)l[i].pdq,
               (unsigned long long)l[i].md5, (unsigned long long)l[i].sha256,
               (unsigned long long)l[i].video, l[i].description);
    }
    free(l);
    return 0;
}

int cmd_list_set(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_ENABLE, OPT_DISABLE, OPT_RADIUS,
                               OPT_KIND, OPT_DESC, OPT_CREATE, OPT_CLUSTER,
                               OPT_FORCE, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage =
        "usage: scrim list-set [--db DIR] NAME [--enable|--disable] [--radius N]\n"
        "                      [--kind block|allow] [--description TEXT] [--create]\n"
        "                      [--cluster URL] [--force]\n"
        "Changes a list's settings (--create: make a new, empty list).  --cluster,\n"
        "--force: as scrim import's.\n";
    int c;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_ENABLE || c == OPT_DISABLE)
        a.params.enabled = c == OPT_ENABLE;
    if (c != -1 || optind != argc - 1)
        return cli_usage(c, "%s", usage);
    cli_target t;
    int st = cli_write_open("list-set", &a, a.create, 0, &t);
    if (st)
        return st;
    const char *name = argv[optind];
    char err[512];
    const scrim_list_params *p = &a.params;
    int rc;
    if (t.w) {
        /* the checks of a local write, on the node in step, then the change */
        scrim_list_info info;
        if (cli_write_begin(&t, NULL)) {
            cli_write_close(&t);
            return 1;
        }
        rc = scrim_list_name_valid(name)
                 ? scrim_store_list_get(t.s, name, &info, err, sizeof err)
                 : (snprintf(err, sizeof err, "invalid list name '%s'", name),
                    SCRIM_EINVAL);
        if (rc == SCRIM_ENOTFOUND && a.create)
            rc = 0;
        else if (!rc && a.create) {
            snprintf(err, sizeof err, "list '%s' already exists", name);
            rc = SCRIM_EEXIST;
        }
        if (!rc && p->description &&
            strlen(p->description) > SCRIM_LIST_DESC_MAX) {
            snprintf(err, sizeof err, "description longer than %d bytes",
                     SCRIM_LIST_DESC_MAX);
            rc = SCRIM_EINVAL;
        }
        if (rc) {
            cli_write_close(&t);
            return cli_fail("list-set", err);
        }
        rc = cli_write_commit(&t, name, "metadata",
                              scrim_cluster_metadata_params(a.create, p));
        if (!rc)
            cli_write_note(&t, name, NULL);
        cli_write_close(&t);
        return rc;
    }
    rc = a.create ? scrim_store_list_create(t.s, name, p, err, sizeof err)
                  : scrim_store_list_set(t.s, name, p, err, sizeof err);
    cli_write_close(&t);
    if (rc)
        return cli_fail("list-set", err);
    return 0;
}

int cmd_drop(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_LIST, OPT_CLUSTER, OPT_FORCE, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage = "usage: scrim drop [--db DIR] --list NAME [--cluster URL] [--force]\n"
                        "Deletes the list and all its entries.  --cluster, --force: as\n"
                        "scrim import's.\n";
    int c = cli_getopt(argc, argv, take, &a);
    if (c != -1 || !a.list || optind != argc)
        return cli_usage(c, "%s", usage);
    cli_target t;
    int st = cli_write_open("drop", &a, 0, 0, &t);
    if (st)
        return st;
    const char *list = a.list;
    char err[512];
    uint64_t n = 0;
    int rc;
    if (t.w) {
        scrim_list_info info;
        if (cli_write_begin(&t, NULL)) {
            cli_write_close(&t);
            return 1;
        }
        if ((rc = scrim_store_list_get(t.s, list, &info, err, sizeof err))) {
            cli_write_close(&t);
            return cli_fail("drop", err);
        }
        n = info.count;
        rc = cli_write_commit(&t, list, "drop", json_object());
        if (!rc) {
            printf("%s: dropped, %llu entries removed\n", list, (unsigned long long)n);
            cli_write_note(&t, list, NULL);
        }
        cli_write_close(&t);
        return rc;
    }
    rc = scrim_store_list_drop(t.s, list, &n, err, sizeof err);
    cli_write_close(&t);
    if (rc)
        return cli_fail("drop", err);
    printf("%s: dropped, %llu entries removed\n", list, (unsigned long long)n);
    return 0;
}

/* remove HASH... through the cluster: the hashes as pytx lines ("pdq HEX"),
 * removed as `remove --from` does (a "remove" change).  0, or the exit
 * status, the error printed. */
static int remove_through(cli_target *t, const char *list, char **hashes,
                          int n, uint64_t *removed, uint64_t *missing)
{
    char err[512], *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return cli_fail("remove", "out of memory");
    for (int i = 0; i < n; i++) {
        const char *h = hashes[i], *colon = strchr(h, ':');
        if (colon && !strncmp(h, "video:", 6)) {
            fclose(f);
            free(buf);
            snprintf(err, sizeof err, "%s: a video is removed by its id in "
                     "one database only; through the cluster, remove --from a "
                     "file of its vPDQ (or import --replace the list)", h);
            return cli_fail("remove", err);
        }
        if (colon)
            fprintf(f, "%.*s %s\n", (int)(colon - h), h, colon + 1);
        else
            fprintf(f, "%s %s\n", strlen(h) == 32 ? "md5" : "pdq", h);
    }
    if (fclose(f)) {
        free(buf);
        return cli_fail("remove", "out of memory");
    }
    scrim_import_opts io = {0};
    io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    io.mode = SCRIM_IMPORT_REMOVE;
    io.source = "scrim remove";
    scrim_import_stats st;
    if (cli_write_begin(t, &io)) {
        free(buf);
        return 1;
    }
    int rc = scrim_store_import_buffer(t->s, list, &io, SCRIM_FORMAT_PYTX,
                                       buf, len, &st, err, sizeof err);
    free(buf);
    if (rc) {
        scrim_cluster_abort(t->w);
        return cli_fail("remove", err);
    }
    if (cli_write_commit(t, list, "remove", scrim_cluster_import_params(&io)))
        return 1;
    *removed = st.removed[0];
    *missing = st.missing;
    return 0;
}

int cmd_remove(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_LIST, OPT_FROM, OPT_FORMAT, OPT_JSON,
                               OPT_QUIET, OPT_CLUSTER, OPT_FORCE, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage =
        "usage: scrim remove [--db DIR] --list NAME HASH...\n"
        "       scrim remove [--db DIR] --list NAME --from FILE [--from FILE]...\n"
        "                    [--format F] [--json]\n"
        "HASH: 64 hex = PDQ, 32 hex = MD5, sha256:HEX, video:ID.  --from: every\n"
        "entry of list files (- = stdin) in any format import reads (a withdrawal\n"
        "list, e.g. StopNCII's hashes to delete; their categories do not matter).\n"
        "All in one transaction; entries not in the list are counted and reported.\n"
        "--cluster URL, --force: as scrim import's (through the cluster, HASH\n"
        "cannot be video:ID).\n";
    int c, format = SCRIM_FORMAT_AUTO;
    char **from = calloc((size_t)argc + 1, sizeof *from);
    int nfrom = 0;
    if (!from)
        return 1;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_FROM || c == OPT_FORMAT) {
        if (c == OPT_FROM) {
            from[nfrom++] = optarg;
        } else if ((format = scrim_import_format_parse(optarg)) < 0) {
            fprintf(stderr, "scrim: --format: unknown format '%s'\n", optarg);
            free(from);
            return 2;
        }
    }
    if (c == -1 && nfrom && a.list && optind == argc) {
        scrim_import_opts io = {0};
        io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
        io.mode = SCRIM_IMPORT_REMOVE;
        io.flush_every = CLI_IMPORT_BATCH;
        int st = import_files(&a, 0, format, &io, from, nfrom);
        free(from);
        return st;
    }
    free(from);
    if (c != -1 || !a.list || optind >= argc || nfrom)
        return cli_usage(c, "%s", usage);
    cli_target t;
    int st = cli_write_open("remove", &a, 0, 0, &t);
    if (st)
        return st;
    const char *list = a.list;
    char err[512];
    uint64_t removed, missing;
    if (t.w) {
        st = remove_through(&t, list, argv + optind, argc - optind, &removed,
                            &missing);
        cli_write_close(&t);
        if (st)
            return st;
    } else {
        int rc = scrim_store_remove(t.s, list, (const char *const *)argv + optind,
                                    (size_t)(argc - optind), &removed,
                                    &missing, err, sizeof err);
        cli_write_close(&t);
        if (rc)
            return cli_fail("remove", err);
    }
    printf("%s: removed %llu, not found %llu\n", list,
           (unsigned long long)removed, (unsigned long long)missing);
    cli_write_note(&t, list, NULL);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const int take[] = {OPT_DB, OPT_JSON, OPT_LIMIT, 0};
    cli_args a = CLI_ARGS_INIT;
    const char *usage = "usage: scrim audit [--db DIR] [--json] [--limit N]\n"
                        "Every change to the lists, oldest first (--limit: the last N).\n";
    int c;
    long long limit = 0;
    while ((c = cli_getopt(argc, argv, take, &a)) == OPT_LIMIT)
        if ((limit = cli_parse_int("--limit", optarg, 1, 1LL << 40)) < 0)
            return 2;
    scrim_store *s;
    int st = cli_begin(c, optind == argc, usage, &a, &s);
    if (st >= 0)
        return st;
    scrim_audit_rec *rec;
    size_t n;
    char err[512];
    int rc = scrim_store_audit(s, (size_t)limit, &rec, &n, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return cli_fail("audit", err);
    for (size_t i = 0; i < n; i++) {
        if (a.json) {
            cli_print_json(stdout, scrim_audit_json(&rec[i]), JSON_COMPACT);
            continue;
        }
        char when[32];
        time_t t = (time_t)rec[i].time;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s %-7s %-24s %10llu  %s\n", when, rec[i].action, rec[i].list,
               (unsigned long long)rec[i].count, rec[i].detail);
    }
    free(rec);
    return 0;
}
