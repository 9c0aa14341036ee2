/* fuzz_import.c - libFuzzer: hash-list text through every import format
 * (auto, hex, pytx, csv, md5, sha256, vPDQ) into a temporary store, and
 * entry values through scrim_store_remove.  The first byte picks the format,
 * the import mode (bits 4-5: add, replace, remove) and whether the import
 * is committed; the rest is the text.  The store has
 * a hash cache (as in scrimd), which every commit extends: each committed
 * PDQ must be found again through the index at distance 0. */
#include "scrim.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static scrim_store *store;
static char dir[] = "/tmp/scrim-fuzz-import-XXXXXX";

static void cleanup(void)
{
    scrim_store_close(store);
    fuzz_rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    (void)argc;
    fuzz_init(*argv);
    fuzz_tempdir(dir);
    scrim_store_opts so = {.map_size = (uint64_t)1 << 30, .create = 1};
    if (scrim_store_open(dir, &so, &store, err, sizeof err)) {
        fprintf(stderr, "store: %s\n", err);
        abort();
    }
    atexit(cleanup);
    scrim_store_cache_stats cs;
    if (scrim_store_cache_hashes(store, NULL, NULL, &cs)) {
        fprintf(stderr, "hash cache: failed\n");
        abort();
    }
    return 0;
}

/* Every refusal names its problem, and input is never the database's
 * fault (SCRIM_EDB is answered with 500). */
static void need_message(int rc, const char *err, const char *what)
{
    if (rc && !err[0]) {
        fprintf(stderr, "%s: error %d without a message\n", what, rc);
        abort();
    }
    if (rc == SCRIM_EDB) {
        fprintf(stderr, "%s: database error from input: %s\n", what, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024] = "";
    if (size < 1)
        return 0;
    int mode = data[0] & 15, commit = data[0] & 0x80;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    if (mode == 7) { /* the vPDQ text parser alone */
        scrim_vpdq v;
        int rc = scrim_vpdq_parse(text, len, &v, err, sizeof err);
        need_message(rc, err, "vpdq_parse");
        scrim_vpdq_free(&v);
        (void)scrim_vpdq_sniff(text, len);
        return 0;
    }
    if (mode == 8) { /* removal values (DELETE /v1/lists/NAME/entries) */
        char *copy = malloc(len + 1);
        const char *vals[64];
        size_t n = 0;
        uint64_t removed, missing;
        memcpy(copy, text, len);
        copy[len] = '\0';
        for (char *p = copy, *nl; n < 64 && p; p = nl ? nl + 1 : NULL) {
            nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            vals[n++] = p;
        }
        int rc = scrim_store_remove(store, "fz", vals, n, &removed, &missing,
                                    err, sizeof err);
        need_message(rc, err, "remove");
        free(copy);
        return 0;
    }
    scrim_import_opts io = {.create = 1, .list = SCRIM_LIST_PARAMS_KEEP,
                            .source = "fuzz", .flush_every = 64,
                            .mode = (data[0] >> 4 & 3) % 3};
    scrim_import *imp;
    int rc = scrim_import_begin(store, "fz", &io, &imp, err, sizeof err);
    if (rc == SCRIM_ENOTFOUND && io.mode == SCRIM_IMPORT_REMOVE)
        return 0; /* removing from a list not created yet */
    if (rc) {
        fprintf(stderr, "import_begin: %s\n", err);
        abort();
    }
    if (mode == 6) {
        size_t videos;
        rc = scrim_vpdq_import(imp, text, len, "vid", "label", &videos, err,
                               sizeof err);
        need_message(rc, err, "vpdq_import");
    } else {
        int format = mode % 6; /* SCRIM_FORMAT_AUTO .. SCRIM_FORMAT_SHA256 */
        rc = scrim_import_buffer(imp, text, len, "fuzz", format, err,
                                 sizeof err);
        need_message(rc, err, "import_buffer");
    }
    if (rc || !commit) {
        scrim_import_abort(imp);
        return 0;
    }
    scrim_import_stats st;
    rc = scrim_import_commit(imp, &st, err, sizeof err);
    need_message(rc, err, "commit");
    /* Everything that went in must come out as JSON (matches, lists): a
     * radius-64 scan of the list finds every PDQ and frame. */
    scrim_pdq q;
    memset(&q, 0, sizeof q);
    scrim_matches m = {0};
    const char *lists[] = {"fz"};
    scrim_lookup_opts lo = {64, lists, 1, SCRIM_LOOKUP_SCAN, 1, 0};
    rc = scrim_store_lookup_pdq(store, &q, 1, &lo, &m, err, sizeof err);
    need_message(rc, err, "lookup");
    for (size_t i = 0; i < m.n; i++) {
        json_t *j = scrim_match_json(&m.v[i]);
        if (!j) {
            fprintf(stderr, "match %zu has no JSON form\n", i);
            abort();
        }
        json_decref(j);
        /* the index (through the hash cache) finds what the scan found */
        scrim_pdq h;
        scrim_matches e = {0};
        scrim_lookup_opts eo = {0, lists, 1, SCRIM_LOOKUP_INDEX, 1, 0};
        if (i >= 16)
            continue;
        if (scrim_pdq_from_hex(m.v[i].hash, 64, &h) ||
            scrim_store_lookup_pdq(store, &h, 1, &eo, &e, err, sizeof err) ||
            e.n == 0 || e.v[0].distance != 0) {
            fprintf(stderr, "the index lost %s\n", m.v[i].hash);
            abort();
        }
        scrim_matches_free(&e);
    }
    scrim_matches_free(&m);
    scrim_list_info info;
    rc = scrim_store_list_get(store, "fz", &info, err, sizeof err);
    need_message(rc, err, "list_get");
    json_t *j = rc ? NULL : scrim_list_json(&info);
    if (!rc && !j)
        abort();
    json_decref(j);
    /* keep the store small: the next import starts from an empty list */
    uint64_t removed;
    rc = scrim_store_list_drop(store, "fz", &removed, err, sizeof err);
    need_message(rc, err, "list_drop");
    return 0;
}
