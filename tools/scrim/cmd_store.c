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

/* Options every store command takes. */
enum { OPT_DB = 1000, OPT_LIST, OPT_FORMAT, OPT_CREATE, OPT_DESC, OPT_RADIUS,
       OPT_KIND, OPT_ENABLE, OPT_DISABLE, OPT_JSON, OPT_SCAN, OPT_LIMIT,
       OPT_MAPSIZE, OPT_QUIET, OPT_BATCH, OPT_VARIANTS, OPT_HELP };

/* PDQs merged into the index per batch by the CLI: fewer, larger merges
 * make big imports faster; memory is about 110 bytes per PDQ of a batch. */
#define CLI_IMPORT_BATCH (4u << 20)

static int open_store(const char *db, int create, uint64_t map_size,
                      scrim_store **s)
{
    char err[512];
    scrim_store_opts o = {0};
    o.create = create;
    o.map_size = map_size;
    int rc = scrim_store_open(db, &o, s, err, sizeof err);
    if (rc)
        fprintf(stderr, "scrim: %s\n", err);
    return rc;
}

static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

/* --help prints the usage on stdout (status 0); a usage error prints it on
 * stderr (status 2).  Returns the exit status. */
static int usage_status(const char *usage, int help)
{
    fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
}

/* "scrim: CMD: ERR" on stderr; returns exit status 1. */
static int fail(const char *cmd, const char *err)
{
    fprintf(stderr, "scrim: %s: %s\n", cmd, err);
    return 1;
}

/* The list settings import and list-set both take (--radius, --kind,
 * --description) into *p; 0, or -1 after printing what is wrong. */
static int list_param_opt(int c, const char *arg, scrim_list_params *p)
{
    long long v;
    switch (c) {
    case OPT_RADIUS:
        if ((v = cli_parse_int("--radius", arg, 0, SCRIM_MAX_RADIUS)) < 0)
            return -1;
        p->radius = (int)v;
        return 0;
    case OPT_KIND:
        if ((p->kind = scrim_list_kind_parse(arg)) < 0) {
            fprintf(stderr, "scrim: --kind: expected block or allow, got '%s'\n",
                    arg);
            return -1;
        }
        return 0;
    default: /* OPT_DESC */
        p->description = arg;
        return 0;
    }
}

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

static void usage_import(FILE *f)
{
    fprintf(f,
            "usage: scrim import [--db DIR] --list NAME [--format FORMAT] [--create]\n"
            "                    [--description TEXT] [--radius N] [--kind block|allow]\n"
            "                    FILE... | -\n"
            "\n"
            "Adds the hashes of FILE(s) (- = stdin) to list NAME, all in one transaction:\n"
            "a malformed line aborts the whole import and leaves the database as it was.\n"
            "  --db DIR        the database (default %s; created if missing)\n"
            "  --format F      auto (default), hex (64-hex PDQ per line), pytx ('pdq HEX',\n"
            "                  'md5 HEX', 'sha256 HEX'), csv (header naming 'hash'; optional\n"
            "                  type, id, label, quality), md5, sha256\n"
            "  --create        create the list if it does not exist\n"
            "  --description, --radius N (0-64, default 31), --kind: list settings\n"
            "  --batch N       PDQs per index merge (default %u, ~110 bytes each)\n"
            "  --quiet         no progress bar\n"
            "Blank lines and # comments are skipped; repeated hashes are counted once.\n",
            SCRIM_STORE_DEFAULT_DIR, CLI_IMPORT_BATCH);
}

static const struct option import_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"list", required_argument, NULL, OPT_LIST},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"create", no_argument, NULL, OPT_CREATE},
    {"description", required_argument, NULL, OPT_DESC},
    {"radius", required_argument, NULL, OPT_RADIUS},
    {"kind", required_argument, NULL, OPT_KIND},
    {"map-size", required_argument, NULL, OPT_MAPSIZE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"json", no_argument, NULL, OPT_JSON},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

int cmd_import(int argc, char **argv)
{
    if (cli_format_is_vpdq(argc, argv)) /* video lists: cmd_video.c */
        return cmd_import_vpdq(argc, argv);
    const char *db = SCRIM_STORE_DEFAULT_DIR, *list = NULL;
    int format = SCRIM_FORMAT_AUTO, quiet = 0, as_json = 0, c;
    uint64_t map_size = 0;
    scrim_import_opts io = {0};
    io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    io.flush_every = CLI_IMPORT_BATCH;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", import_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_LIST: list = optarg; break;
        case OPT_FORMAT:
            format = scrim_import_format_parse(optarg);
            if (format < 0) {
                fprintf(stderr, "scrim: --format: unknown format '%s' (auto, hex, "
                                "pytx, csv, md5, sha256)\n", optarg);
                return 2;
            }
            break;
        case OPT_CREATE: io.create = 1; break;
        case OPT_DESC:
        case OPT_RADIUS:
        case OPT_KIND:
            if (list_param_opt(c, optarg, &io.list))
                return 2;
            break;
        case OPT_MAPSIZE:
            if ((v = cli_parse_int("--map-size", optarg, 1 << 20, 1LL << 50)) < 0)
                return 2;
            map_size = (uint64_t)v;
            break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_BATCH:
            if ((v = cli_parse_int("--batch", optarg, 1, 1LL << 28)) < 0)
                return 2;
            io.flush_every = (size_t)v;
            break;
        case OPT_HELP: usage_import(stdout); return 0;
        default: usage_import(stderr); return 2;
        }
    }
    if (!list || optind >= argc) {
        fprintf(stderr, "scrim: import: %s\n",
                !list ? "--list NAME is required" : "no input file (use - for stdin)");
        usage_import(stderr);
        return 2;
    }
    if (!scrim_list_name_valid(list)) {
        fprintf(stderr, "scrim: import: invalid list name '%s'\n", list);
        return 2;
    }
    io.source = !strcmp(argv[optind], "-") ? "<stdin>" : argv[optind];
    scrim_store *s;
    if (open_store(db, 1, map_size, &s))
        return 1;
    char err[1024];
    scrim_import *imp;
    int rc = scrim_import_begin(s, list, &io, &imp, err, sizeof err);
    if (rc) {
        scrim_store_close(s);
        return fail("import", err);
    }
    progress pg = {0};
    int tty = !quiet && isatty(2);
    for (int i = optind; i < argc && !rc; i++) {
        const char *path = argv[i];
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
    scrim_import_stats st;
    if (rc) {
        scrim_import_abort(imp);
    } else {
        if (tty)
            fprintf(stderr, "committing...\n");
        rc = scrim_import_commit(imp, &st, err, sizeof err);
    }
    scrim_store_close(s);
    if (rc) {
        fprintf(stderr, "scrim: import: %s\nscrim: import: nothing was imported\n",
                err);
        return 1;
    }
    if (as_json) {
        print_json_line(json_pack(
            "{s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}",
            "list", list, "added", (json_int_t)st.added[0], "duplicates",
            (json_int_t)st.duplicates[0], "added_by_type", "pdq",
            (json_int_t)st.added[SCRIM_HASH_PDQ], "md5",
            (json_int_t)st.added[SCRIM_HASH_MD5], "sha256",
            (json_int_t)st.added[SCRIM_HASH_SHA256], "video",
            (json_int_t)st.added[SCRIM_HASH_VIDEO], "duplicates_by_type", "pdq",
            (json_int_t)st.duplicates[SCRIM_HASH_PDQ], "md5",
            (json_int_t)st.duplicates[SCRIM_HASH_MD5], "sha256",
            (json_int_t)st.duplicates[SCRIM_HASH_SHA256], "video",
            (json_int_t)st.duplicates[SCRIM_HASH_VIDEO]));
    } else {
        printf("%s: added %llu (pdq %llu, md5 %llu, sha256 %llu), duplicates %llu "
               "(pdq %llu, md5 %llu, sha256 %llu), %llu lines\n",
               list, (unsigned long long)st.added[0],
               (unsigned long long)st.added[SCRIM_HASH_PDQ],
               (unsigned long long)st.added[SCRIM_HASH_MD5],
               (unsigned long long)st.added[SCRIM_HASH_SHA256],
               (unsigned long long)st.duplicates[0],
               (unsigned long long)st.duplicates[SCRIM_HASH_PDQ],
               (unsigned long long)st.duplicates[SCRIM_HASH_MD5],
               (unsigned long long)st.duplicates[SCRIM_HASH_SHA256],
               (unsigned long long)st.lines);
    }
    return 0;
}

/* ---- export -------------------------------------------------------------------- */

int cmd_export(int argc, char **argv)
{
    if (cli_format_is_vpdq(argc, argv)) /* video lists: cmd_video.c */
        return cmd_export_vpdq(argc, argv);
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"list", required_argument, NULL, OPT_LIST},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"variants", no_argument, NULL, OPT_VARIANTS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR, *list = NULL;
    int format = SCRIM_FORMAT_CSV, c, variants = 0;
    const char *usage =
        "usage: scrim export [--db DIR] --list NAME [--format hex|pytx|csv]\n"
        "                    [--variants]\n"
        "Writes the list to stdout (default csv: type,hash,id,label,quality);\n"
        "the output imports back with scrim import.  hex holds PDQs only.\n"
        "The index-side variants 'scrim add' stores are left out, so that a\n"
        "shared list carries only the media's own hashes; --variants (csv\n"
        "only) writes them too, named in a 'variant' column.\n";
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_LIST: list = optarg; break;
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
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (!list || optind < argc)
        return usage_status(usage, 0);
    if (variants && format != SCRIM_FORMAT_CSV) {
        fprintf(stderr, "scrim: --variants: the variants are written in the csv format only\n");
        return 2;
    }
    scrim_store *s;
    if (open_store(db, 0, 0, &s))
        return 1;
    char err[512];
    uint64_t written, skipped;
    int rc = scrim_store_export(s, list, format | (variants ? SCRIM_EXPORT_VARIANTS : 0),
                                stdout, &written, &skipped, err, sizeof err);
    scrim_store_close(s);
    if (fflush(stdout) && !rc) {
        snprintf(err, sizeof err, "write error on stdout");
        rc = SCRIM_EIO;
    }
    if (rc)
        return fail("export", err);
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
        fail("lookup", err);
        scrim_matches_free(&m);
        return rc == SCRIM_ENOTFOUND ? 2 : 1;
    }
    print_json_line(scrim_matches_json(&m, 0, hex));
    scrim_matches_free(&m);
    return 0;
}

int cmd_lookup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"list", required_argument, NULL, OPT_LIST},
        {"radius", required_argument, NULL, OPT_RADIUS},
        {"scan", no_argument, NULL, OPT_SCAN},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR;
    const char *usage =
        "usage: scrim lookup [--db DIR] [--radius N] [--list NAME]... [--scan] HASH... | -\n"
        "One JSON object per query: {\"query\", \"matches\": [...], \"allowed\": [...]},\n"
        "nearest first.  HASH: 64 hex = PDQ, 32 hex = MD5, or pdq:/md5:/sha256: HEX;\n"
        "- reads one query per line from stdin.  Without --radius each list's own\n"
        "radius applies; --list restricts to the named lists (repeatable); --scan\n"
        "checks every hash instead of using the index (same results, slower).\n";
    const char **lists = NULL;
    size_t nl = 0;
    scrim_lookup_opts lo = SCRIM_LOOKUP_OPTS_DEFAULT;
    int c, status = 0;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_LIST: {
            const char **nls = realloc(lists, (nl + 1) * sizeof *lists);
            if (!nls) {
                free(lists);
                return 1;
            }
            lists = nls;
            lists[nl++] = optarg;
            break;
        }
        case OPT_RADIUS:
            if ((v = cli_parse_int("--radius", optarg, 0, SCRIM_MAX_RADIUS)) < 0) {
                free(lists);
                return 2;
            }
            lo.radius = (int)v;
            break;
        case OPT_SCAN: lo.method = SCRIM_LOOKUP_SCAN; break;
        case OPT_HELP: free(lists); return usage_status(usage, 1);
        default: free(lists); return usage_status(usage, 0);
        }
    }
    if (optind >= argc) {
        free(lists);
        return usage_status(usage, 0);
    }
    lo.lists = lists;
    lo.nlists = nl;
    scrim_store *s;
    if (open_store(db, 0, 0, &s)) {
        free(lists);
        return 1;
    }
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
    free(lists);
    return status;
}

/* ---- lists, list-set, drop, remove, audit ------------------------------------------ */

int cmd_lists(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR;
    const char *usage = "usage: scrim lists [--db DIR] [--json]\n";
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (optind < argc)
        return usage_status(usage, 0);
    scrim_store *s;
    if (open_store(db, 0, 0, &s))
        return 1;
    scrim_list_info *l;
    size_t n;
    char err[512];
    int rc = scrim_store_lists(s, &l, &n, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return fail("lists", err);
    if (!as_json)
        printf("%-24s %-5s %-8s %6s %10s %10s %8s %8s %6s  %s\n", "NAME", "KIND",
               "ENABLED", "RADIUS", "COUNT", "PDQ", "MD5", "SHA256", "VIDEO",
               "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        if (as_json) {
            print_json_line(scrim_list_json(&l[i]));
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
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"enable", no_argument, NULL, OPT_ENABLE},
        {"disable", no_argument, NULL, OPT_DISABLE},
        {"radius", required_argument, NULL, OPT_RADIUS},
        {"kind", required_argument, NULL, OPT_KIND},
        {"description", required_argument, NULL, OPT_DESC},
        {"create", no_argument, NULL, OPT_CREATE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR;
    const char *usage =
        "usage: scrim list-set [--db DIR] NAME [--enable|--disable] [--radius N]\n"
        "                      [--kind block|allow] [--description TEXT] [--create]\n"
        "Changes a list's settings (--create: make a new, empty list).\n";
    scrim_list_params p = SCRIM_LIST_PARAMS_KEEP;
    int create = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_ENABLE: p.enabled = 1; break;
        case OPT_DISABLE: p.enabled = 0; break;
        case OPT_RADIUS:
        case OPT_KIND:
        case OPT_DESC:
            if (list_param_opt(c, optarg, &p))
                return 2;
            break;
        case OPT_CREATE: create = 1; break;
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (optind != argc - 1)
        return usage_status(usage, 0);
    scrim_store *s;
    if (open_store(db, create, 0, &s))
        return 1;
    char err[512];
    int rc = create ? scrim_store_list_create(s, argv[optind], &p, err, sizeof err)
                    : scrim_store_list_set(s, argv[optind], &p, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return fail("list-set", err);
    return 0;
}

int cmd_drop(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"list", required_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR, *list = NULL;
    const char *usage = "usage: scrim drop [--db DIR] --list NAME\n"
                        "Deletes the list and all its entries.\n";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_LIST: list = optarg; break;
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (!list || optind < argc)
        return usage_status(usage, 0);
    scrim_store *s;
    if (open_store(db, 0, 0, &s))
        return 1;
    char err[512];
    uint64_t n;
    int rc = scrim_store_list_drop(s, list, &n, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return fail("drop", err);
    printf("%s: dropped, %llu entries removed\n", list, (unsigned long long)n);
    return 0;
}

int cmd_remove(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"list", required_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR, *list = NULL;
    const char *usage =
        "usage: scrim remove [--db DIR] --list NAME HASH...\n"
        "HASH: 64 hex = PDQ, 32 hex = MD5, sha256:HEX, video:ID.  All in one\n"
        "transaction; hashes not in the list are counted and reported.\n";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_LIST: list = optarg; break;
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (!list || optind >= argc)
        return usage_status(usage, 0);
    scrim_store *s;
    if (open_store(db, 0, 0, &s))
        return 1;
    char err[512];
    uint64_t removed, missing;
    int rc = scrim_store_remove(s, list, (const char *const *)argv + optind,
                                (size_t)(argc - optind), &removed, &missing, err,
                                sizeof err);
    scrim_store_close(s);
    if (rc)
        return fail("remove", err);
    printf("%s: removed %llu, not found %llu\n", list,
           (unsigned long long)removed, (unsigned long long)missing);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *db = SCRIM_STORE_DEFAULT_DIR;
    const char *usage = "usage: scrim audit [--db DIR] [--json] [--limit N]\n"
                        "Every change to the lists, oldest first (--limit: the last N).\n";
    int as_json = 0, c;
    long long limit = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DB: db = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_LIMIT:
            if ((limit = cli_parse_int("--limit", optarg, 1, 1LL << 40)) < 0)
                return 2;
            break;
        case OPT_HELP: return usage_status(usage, 1);
        default: return usage_status(usage, 0);
        }
    }
    if (optind < argc)
        return usage_status(usage, 0);
    scrim_store *s;
    if (open_store(db, 0, 0, &s))
        return 1;
    scrim_audit_rec *a;
    size_t n;
    char err[512];
    int rc = scrim_store_audit(s, (size_t)limit, &a, &n, err, sizeof err);
    scrim_store_close(s);
    if (rc)
        return fail("audit", err);
    for (size_t i = 0; i < n; i++) {
        if (as_json) {
            print_json_line(scrim_audit_json(&a[i]));
            continue;
        }
        char when[32];
        time_t t = (time_t)a[i].time;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%s %-7s %-24s %10llu  %s\n", when, a[i].action, a[i].list,
               (unsigned long long)a[i].count, a[i].detail);
    }
    free(a);
    return 0;
}
