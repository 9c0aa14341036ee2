/* cmd_hash.c - `scrim hash`: PDQ hashes of image files, vPDQ of videos. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(int what)
{
    return cli_usage(what,
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
            "  -j, --jobs N    hash N files at a time (default: the CPUs this\n"
            "                  process may run on); output stays in input order\n"
            "A file that cannot be hashed is reported on stderr; the others are\n"
            "still hashed and the exit status is 1.\n",
            (unsigned long long)SCRIM_DEFAULT_MAX_PIXELS);
}

/* What every file is hashed with. */
typedef struct hash_cfg {
    int dihedral, as_json, header;
    scrim_decode_opts dopts;
    scrim_video_opts vopts;
} hash_cfg;

/* One JSON object on a line, with the file's name added; takes o. */
static void print_json_file(FILE *out, json_t *o, const char *path)
{
    json_object_set_new(o, "file", json_string(path));
    cli_print_json(out, o, JSON_COMPACT);
}

/* A video's vPDQ lines or JSON; SCRIM_OK or an error code with err set. */
static int hash_video(FILE *out, const char *path, const uint8_t *data,
                      size_t len, const hash_cfg *cfg, char *err, size_t errlen)
{
    scrim_vpdq v;
    int rc = scrim_video_hash_buffer(data, len, &cfg->vopts, &v, err, errlen);
    if (rc == SCRIM_OK) {
        if (cfg->as_json) {
            print_json_file(out, scrim_vpdq_json(&v), path);
        } else {
            if (cfg->header)
                fprintf(out, "# %s\n", path);
            scrim_vpdq_write(out, &v);
        }
    }
    scrim_vpdq_free(&v);
    return rc;
}

/* The lines of one file to out; 0, or 1 with the reason in err. */
static int hash_to(FILE *out, const char *path, const hash_cfg *cfg, char *err,
                   size_t errlen)
{
    uint8_t *data;
    size_t len;
    int rc = cli_read_file(path, &data, &len, err, errlen);
    if (rc == SCRIM_OK && scrim_media_sniff(data, len) == SCRIM_MEDIA_VIDEO) {
        rc = hash_video(out, path, data, len, cfg, err, errlen);
        free(data);
    } else if (rc == SCRIM_OK) {
        scrim_image_hashes h;
        scrim_decode_opts o = cfg->dopts;
        o.no_digests = !cfg->as_json; /* the CSV lines carry only the PDQ */
        rc = scrim_hash_image_buffer(data, len, &o, &h, NULL, err, errlen);
        free(data);
        if (rc == SCRIM_OK) {
            if (cfg->as_json) {
                print_json_file(out, scrim_image_hashes_json(&h, cfg->dihedral), path);
            } else {
                char hx[SCRIM_PDQ_HEXLEN + 1];
                for (int v = 0; v < (cfg->dihedral ? SCRIM_DIH_COUNT : 1); v++) {
                    scrim_pdq_to_hex(&h.dihedral[v], hx);
                    fprintf(out, "%s,%d,%s\n", hx, h.quality, path);
                }
            }
        }
    }
    return rc != SCRIM_OK;
}

/* ---- several files at a time ----------------------------------------------
 * The main thread reads the paths and prints; workers hash.  A ring of
 * 4 x jobs slots keeps the output in input order with bounded memory: a file
 * is printed once it and every file before it are done. */

typedef struct job {
    char *path;
    char *out;       /* its stdout text (open_memstream) */
    size_t outlen;
    char err[512];
    int status;      /* hash_to()'s */
    int done;
} job;

typedef struct hasher {
    const hash_cfg *cfg;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;  /* a job to take; a job done / a slot free */
    job *ring;
    size_t cap, head, next, tail; /* printed < head <= next (taken) <= tail */
    int closed;                    /* no more paths */
} hasher;

static void job_run(const hash_cfg *cfg, job *j)
{
    FILE *out = open_memstream(&j->out, &j->outlen);
    if (!out) {
        j->status = 1;
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    j->status = hash_to(out, j->path, cfg, j->err, sizeof j->err);
    fclose(out);
}

static void *worker(void *arg)
{
    hasher *hs = arg;
    pthread_mutex_lock(&hs->mu);
    for (;;) {
        while (hs->next == hs->tail && !hs->closed)
            pthread_cond_wait(&hs->work, &hs->mu);
        if (hs->next == hs->tail)
            break;
        job *j = &hs->ring[hs->next++ % hs->cap];
        pthread_mutex_unlock(&hs->mu);
        job_run(hs->cfg, j);
        pthread_mutex_lock(&hs->mu);
        j->done = 1;
        pthread_cond_broadcast(&hs->ready);
    }
    pthread_mutex_unlock(&hs->mu);
    return NULL;
}

/* Print the done jobs at the head, in order (called and returns locked);
 * with wait, first wait until the head job is done. */
static int print_ready(hasher *hs, int wait)
{
    int status = 0;
    while (wait && hs->head < hs->tail && !hs->ring[hs->head % hs->cap].done)
        pthread_cond_wait(&hs->ready, &hs->mu);
    while (hs->head < hs->tail && hs->ring[hs->head % hs->cap].done) {
        job j = hs->ring[hs->head % hs->cap];
        pthread_mutex_unlock(&hs->mu);
        fwrite(j.out, 1, j.outlen, stdout);
        if (j.status)
            cli_fail(j.path, j.err);
        status |= j.status;
        free(j.out);
        free(j.path);
        pthread_mutex_lock(&hs->mu);
        hs->head++;
    }
    return status;
}

/* Queue one path (copied); prints what is ready meanwhile. */
static int hasher_add(hasher *hs, const char *path)
{
    int status = 0;
    char *p = strdup(path);
    if (!p) {
        fprintf(stderr, "scrim hash: out of memory\n");
        exit(1);
    }
    pthread_mutex_lock(&hs->mu);
    status |= print_ready(hs, 0);
    while (hs->tail - hs->head == hs->cap)
        status |= print_ready(hs, 1);
    job *j = &hs->ring[hs->tail % hs->cap];
    memset(j, 0, sizeof *j);
    j->path = p;
    hs->tail++;
    pthread_cond_signal(&hs->work);
    pthread_mutex_unlock(&hs->mu);
    return status;
}

/* One path at a time with jobs == 1, else through the workers. */
typedef struct hash_run {
    hash_cfg cfg;
    int jobs;
    hasher hs;
    pthread_t *threads;
    int nthreads;
    int status;
} hash_run;

/* What run_begin set up, once no worker runs. */
static void run_free(hash_run *r)
{
    pthread_mutex_destroy(&r->hs.mu);
    pthread_cond_destroy(&r->hs.work);
    pthread_cond_destroy(&r->hs.ready);
    free(r->hs.ring);
    free(r->threads);
}

/* Start the workers; without memory or threads for them, files are hashed
 * one at a time. */
static void run_begin(hash_run *r)
{
    if (r->jobs <= 1)
        return;
    hasher *hs = &r->hs;
    memset(hs, 0, sizeof *hs);
    hs->cfg = &r->cfg;
    hs->cap = 4 * (size_t)r->jobs;
    hs->ring = calloc(hs->cap, sizeof *hs->ring);
    r->threads = calloc((size_t)r->jobs, sizeof *r->threads);
    pthread_mutex_init(&hs->mu, NULL);
    pthread_cond_init(&hs->work, NULL);
    pthread_cond_init(&hs->ready, NULL);
    r->nthreads = 0;
    while (hs->ring && r->threads && r->nthreads < r->jobs &&
           !pthread_create(&r->threads[r->nthreads], NULL, worker, hs))
        r->nthreads++;
    if (r->nthreads == 0) {
        run_free(r);
        r->jobs = 1;
    }
}

static void run_add(hash_run *r, const char *path)
{
    if (r->jobs > 1) {
        r->status |= hasher_add(&r->hs, path);
        return;
    }
    char err[512];
    if (hash_to(stdout, path, &r->cfg, err, sizeof err))
        r->status = cli_fail(path, err);
}

static int run_end(hash_run *r)
{
    if (r->jobs <= 1)
        return r->status;
    hasher *hs = &r->hs;
    pthread_mutex_lock(&hs->mu);
    hs->closed = 1;
    pthread_cond_broadcast(&hs->work);
    while (hs->head < hs->tail)
        r->status |= print_ready(hs, 1);
    pthread_mutex_unlock(&hs->mu);
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    run_free(r);
    return r->status;
}

static int cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

int cmd_hash(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dihedral", no_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'J'},
        {"max-pixels", required_argument, NULL, 'm'},
        {"fast", no_argument, NULL, 'f'},
        {"alpha", required_argument, NULL, 'a'},
        {"files-from", required_argument, NULL, 'F'},
        {"seconds-per-hash", required_argument, NULL, 's'},
        {"keyframes", no_argument, NULL, 'k'},
        {"exact-rgb", no_argument, NULL, 'r'},
        {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    const char *files_from = NULL;
    hash_run r = {.jobs = cpus_available()};
    hash_cfg *cfg = &r.cfg;
    scrim_video_opts_default(&cfg->vopts);
    while ((c = getopt_long(argc, argv, "dJm:fa:F:s:krj:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg->dihedral = 1; break;
        case 'J': cfg->as_json = 1; break;
        case 'm': {
            long long v = cli_parse_int("--max-pixels", optarg, 1, 1LL << 40);
            if (v < 0)
                return 2;
            cfg->dopts.max_pixels = (uint64_t)v;
            break;
        }
        case 'f': cfg->dopts.min_side = SCRIM_FAST_MIN_SIDE; break;
        case 'F': files_from = optarg; break;
        case 'a':
            if (strcmp(optarg, "white") && strcmp(optarg, "ignore")) {
                fprintf(stderr, "scrim hash: --alpha must be 'white' or "
                                "'ignore', not '%s'\n", optarg);
                return 2;
            }
            cfg->dopts.ignore_alpha = !strcmp(optarg, "ignore");
            break;
        case 's':
            if (cli_parse_seconds("--seconds-per-hash", optarg,
                                  &cfg->vopts.seconds_per_hash))
                return 2;
            break;
        case 'k': cfg->vopts.keyframes_only = 1; break;
        case 'r': break; /* --exact-rgb: what every frame gets now */
        case 'j': {
            long long v = cli_parse_int("--jobs", optarg, 1, 256);
            if (v < 0)
                return 2;
            r.jobs = (int)v;
            break;
        }
        case 'h': return usage(OPT_HELP);
        default: return usage(0);
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
        cfg->header = 1;
        run_begin(&r);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, in)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n > 0)
                run_add(&r, line);
        }
        free(line);
        if (in != stdin)
            fclose(in);
        return run_end(&r);
    }
    if (optind >= argc)
        return usage(0);
    cfg->header = argc - optind > 1;
    if (argc - optind < r.jobs)
        r.jobs = argc - optind;
    run_begin(&r);
    for (int i = optind; i < argc; i++)
        run_add(&r, argv[i]);
    return run_end(&r);
}
