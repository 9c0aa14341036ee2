/* metrics.c - scrimd's statistics and their Prometheus text form.
 * Every update happens on the event loop thread (workers hand their results
 * back to it), so plain counters suffice: no locks, no atomics. */
#include "scrim.h"
#include "server/server.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int statuses[SCRIM__STATUSES] = {
    200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 421, 500,
    503, 504,
    0 /* other */, -1};
static const double bucket_ms[SCRIM__HIST_BUCKETS] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
    -1 /* +Inf */};

int scrim__metrics_status_index(int status)
{
    int i;
    for (i = 0; statuses[i] > 0; i++)
        if (statuses[i] == status)
            return i;
    return i;   /* "other" */
}

void scrim__metrics_request(scrim__route_stats *rs, int status, double ms)
{
    rs->by_status[scrim__metrics_status_index(status)]++;
    int b = 0;
    while (bucket_ms[b] >= 0 && ms > bucket_ms[b])
        b++;
    rs->hist[b]++;
    rs->sum_ms += ms;
    rs->count++;
}

void scrim__metrics_error(scrim__metrics *m, const char *code)
{
    int i;
    for (i = 0; i < m->n_errors; i++)
        if (!strcmp(m->errors[i].code, code))
            break;
    if (i == m->n_errors) {
        if (m->n_errors == (int)(sizeof m->errors / sizeof *m->errors))
            code = "other", i = m->n_errors - 1;
        else
            snprintf(m->errors[m->n_errors++].code, sizeof m->errors[0].code,
                     "%s", code);
    }
    m->errors[i].n++;
}

void scrim__metrics_match(scrim__metrics *m, const char *list)
{
    int i;
    for (i = 0; i < m->n_matches; i++)
        if (!strcmp(m->matches[i].list, list))
            break;
    if (i == m->n_matches) {
        if (m->n_matches == (int)(sizeof m->matches / sizeof *m->matches))
            i = m->n_matches - 1;   /* the last slot absorbs the overflow */
        else
            snprintf(m->matches[m->n_matches++].list,
                     sizeof m->matches[0].list, "%s", list);
    }
    m->matches[i].n++;
}

/* Label values are list names etc.: escape what Prometheus requires. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void route_stats(FILE *f, const char *name, const scrim__route_stats *rs,
                        int pass)
{
    if (pass == 0) {
        for (int i = 0; i < SCRIM__STATUSES - 1; i++) {
            if (!rs->by_status[i])
                continue;
            fprintf(f, "scrim_requests_total{endpoint=\"%s\",status=\"", name);
            if (statuses[i])
                fprintf(f, "%d", statuses[i]);
            else
                fputs("other", f);
            fprintf(f, "\"} %llu\n", (unsigned long long)rs->by_status[i]);
        }
        return;
    }
    if (!rs->count)
        return;
    uint64_t cum = 0;
    for (int b = 0; b < SCRIM__HIST_BUCKETS; b++) {
        cum += rs->hist[b];
        fprintf(f, "scrim_request_duration_seconds_bucket{endpoint=\"%s\","
                "le=\"", name);
        if (bucket_ms[b] < 0)
            fputs("+Inf", f);
        else
            fprintf(f, "%g", bucket_ms[b] / 1000);
        fprintf(f, "\"} %llu\n", (unsigned long long)cum);
    }
    fprintf(f, "scrim_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
            name, rs->sum_ms / 1000);
    fprintf(f, "scrim_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
            name, (unsigned long long)rs->count);
}

scrim_counter *scrim_server_counter(scrim_server *srv, const char *name,
                                    const char *help)
{
    if (srv->n_counters == SCRIM__MAX_COUNTERS || strlen(name) >= 64)
        return NULL;
    scrim_counter *k = &srv->counters[srv->n_counters++];
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->help, sizeof k->help, "%s", help ? help : name);
    atomic_init(&k->n, 0);
    return k;
}

void scrim_counter_add(scrim_counter *k, uint64_t n)
{
    if (k)
        atomic_fetch_add(&k->n, n);
}

char *scrim__metrics_render(scrim_server *srv, int per_list, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    const scrim__metrics *m = &srv->metrics;
    if (!f)
        return NULL;

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            fputs("# HELP scrim_requests_total Requests answered, by endpoint "
                  "and HTTP status.\n# TYPE scrim_requests_total counter\n", f);
        else
            fputs("# HELP scrim_request_duration_seconds Time from a request's "
                  "arrival to its reply.\n# TYPE scrim_request_duration_seconds "
                  "histogram\n", f);
        for (int r = 0; r < srv->n_routes; r++)
            route_stats(f, srv->routes[r].name, &srv->routes[r].stats, pass);
        route_stats(f, "unrouted", &srv->unrouted, pass);
    }

#define X(name, help)                                                         \
    fprintf(f, "# HELP scrim_" #name " " help ".\n# TYPE scrim_" #name         \
            " counter\nscrim_" #name " %llu\n", (unsigned long long)m->name);
    SCRIM__COUNTERS(X)
#undef X

    fputs("# HELP scrim_errors_total Error replies, by kind.\n"
          "# TYPE scrim_errors_total counter\n", f);
    for (int i = 0; i < m->n_errors; i++) {
        fputs("scrim_errors_total{kind=\"", f);
        label(f, m->errors[i].code);
        fprintf(f, "\"} %llu\n", (unsigned long long)m->errors[i].n);
    }
    /* List names are the partners' business: per-list series only for a
     * scrape with the admin token, totals for anyone. */
    uint64_t all = 0;
    for (int i = 0; i < m->n_matches; i++)
        all += m->matches[i].n;
    fprintf(f, "# HELP scrim_matches_all_lists_total Matches reported, all "
            "lists.\n# TYPE scrim_matches_all_lists_total counter\n"
            "scrim_matches_all_lists_total %llu\n", (unsigned long long)all);
    if (per_list) {
        fputs("# HELP scrim_matches_total Matches reported, by list.\n"
              "# TYPE scrim_matches_total counter\n", f);
        for (int i = 0; i < m->n_matches; i++) {
            fputs("scrim_matches_total{list=\"", f);
            label(f, m->matches[i].list);
            fprintf(f, "\"} %llu\n", (unsigned long long)m->matches[i].n);
        }
    }

    scrim_list_info *lists = NULL;
    size_t nl = 0;
    static const char *tn[] = {"pdq", "md5", "sha256", "video"};
    if (srv->store && !scrim_store_lists(srv->store, &lists, &nl, NULL, 0)) {
        uint64_t sum[4] = {0};
        if (per_list)
            fputs("# HELP scrim_list_hashes Entries in each list, by type.\n"
                  "# TYPE scrim_list_hashes gauge\n", f);
        for (size_t i = 0; i < nl; i++) {
            uint64_t v[] = {lists[i].pdq, lists[i].md5, lists[i].sha256,
                            lists[i].video};
            for (int t = 0; t < 4; t++) {
                sum[t] += v[t];
                if (!per_list)
                    continue;
                fputs("scrim_list_hashes{list=\"", f);
                label(f, lists[i].name);
                fprintf(f, "\",type=\"%s\"} %llu\n", tn[t],
                        (unsigned long long)v[t]);
            }
        }
        free(lists);
        fprintf(f, "# HELP scrim_lists Lists in the database.\n"
                "# TYPE scrim_lists gauge\nscrim_lists %zu\n"
                "# HELP scrim_hashes_all_lists Entries in all lists, by type.\n"
                "# TYPE scrim_hashes_all_lists gauge\n", nl);
        for (int t = 0; t < 4; t++)
            fprintf(f, "scrim_hashes_all_lists{type=\"%s\"} %llu\n", tn[t],
                    (unsigned long long)sum[t]);
        /* set aside after too many rejected matches, awaiting an admin */
        json_t *q = NULL;
        if (!scrim_store_quarantined(srv->store, &q, NULL, 0)) {
            fprintf(f, "# HELP scrim_quarantined_entries List entries "
                    "quarantined (they do not match), awaiting an admin.\n"
                    "# TYPE scrim_quarantined_entries gauge\n"
                    "scrim_quarantined_entries %zu\n", json_array_size(q));
            json_decref(q);
        }
    }
    /* The worker pools: images, videos (scrim_video_*; 0 if videos share
     * the image workers), and admin requests (scrim_admin_*). */
    static const struct { const char *prefix, *what, *of; } pools[4] = {
        {"scrim_", "Requests", "requests"}, {"scrim_video_", "Videos", "videos"},
        {"scrim_admin_", "Admin requests", "admin requests"},
        {"scrim_heavy_", "Big decodes", "big decodes"}};
    scrim__pool *pp[4] = {srv->pool, srv->vpool, srv->apool, srv->hpool};
    for (int i = 0; i < 4; i++) {
        const char *p = pools[i].prefix;
        fprintf(f, "# HELP %squeue_depth %s waiting for a worker.\n"
                "# TYPE %squeue_depth gauge\n%squeue_depth %d\n", p,
                pools[i].what, p, p, scrim__pool_depth(pp[i]));
        fprintf(f, "# HELP %sworkers_busy Workers running %s.\n"
                "# TYPE %sworkers_busy gauge\n%sworkers_busy %d\n", p,
                pools[i].of, p, p, scrim__pool_busy(pp[i]));
        fprintf(f, "# HELP %sworkers Worker threads for %s.\n"
                "# TYPE %sworkers gauge\n%sworkers %d\n", p, pools[i].of, p,
                p, scrim__pool_threads(pp[i]));
    }
    fprintf(f, "# HELP scrim_queue_capacity Queue length before 503.\n"
            "# TYPE scrim_queue_capacity gauge\nscrim_queue_capacity %d\n",
            srv->cur->s.queue);
    fprintf(f, "# HELP scrim_clients_active Clients with requests queued or "
            "running.\n# TYPE scrim_clients_active gauge\n"
            "scrim_clients_active %u\n", g_hash_table_size(srv->inflight));
    fprintf(f, "# HELP scrim_client_refused_total Requests refused with 429: "
            "their client had --client-requests queued or running.\n"
            "# TYPE scrim_client_refused_total counter\n"
            "scrim_client_refused_total %llu\n",
            (unsigned long long)srv->client_refused_total);
    fprintf(f, "# HELP scrim_heavy_moved_total Requests whose decode was big "
            "(--heavy-decode), moved to the heavy workers.\n# TYPE "
            "scrim_heavy_moved_total counter\nscrim_heavy_moved_total %llu\n",
            (unsigned long long)srv->heavy_moved_total);
    int failed = 0;
    fprintf(f, "# HELP scrim_heavy_nice The nice value of the heavy workers' "
            "threads (--heavy-nice).\n# TYPE scrim_heavy_nice gauge\n"
            "scrim_heavy_nice %d\n", scrim__pool_nice(srv->hpool, &failed));
    /* The process's memory as the kernel counts it: anonymous (heap,
     * stacks, mapped bodies: what the memory budget is about) and file
     * pages (LMDB's map, the binary and libraries: the page cache, shared,
     * dropped by the kernel when it needs them). */
    FILE *st = fopen("/proc/self/status", "r");
    char line[128];
    while (st && fgets(line, sizeof line, st)) {
        unsigned long long kb;
        if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
            fprintf(f, "# HELP scrim_rss_anon_bytes Resident anonymous memory "
                    "(RssAnon): what --memory-budget bounds.\n# TYPE "
                    "scrim_rss_anon_bytes gauge\nscrim_rss_anon_bytes %llu\n",
                    kb * 1024);
        else if (sscanf(line, "RssFile: %llu kB", &kb) == 1)
            fprintf(f, "# HELP scrim_rss_file_bytes Resident file pages "
                    "(RssFile): the LMDB map, code; the page cache.\n# TYPE "
                    "scrim_rss_file_bytes gauge\nscrim_rss_file_bytes %llu\n",
                    kb * 1024);
    }
    if (st)
        fclose(st);
    scrim__accept_metrics(srv, f);
    scrim__budget_metrics(srv, f);
    scrim__webhooks_metrics(srv, f);
    scrim__cluster_metrics(srv, f);
    for (int i = 0; i < srv->n_counters; i++) {
        const struct scrim_counter *k = &srv->counters[i];
        fprintf(f, "# HELP scrim_%s %s.\n# TYPE scrim_%s counter\nscrim_%s %llu\n",
                k->name, k->help, k->name, k->name,
                (unsigned long long)atomic_load(&k->n));
    }
    for (int i = 0; i < srv->n_mhooks; i++)
        srv->mhooks[i].fn(f, &srv->cur->s, per_list, srv->mhooks[i].arg);
    /* In use vs held: a leak grows the first, fragmentation the second. */
    struct mallinfo2 mi = mallinfo2();
    fprintf(f, "# HELP scrim_heap_in_use_bytes Bytes allocated by malloc and "
            "not freed.\n# TYPE scrim_heap_in_use_bytes gauge\n"
            "scrim_heap_in_use_bytes %zu\n", mi.uordblks + mi.hblkhd);
    fprintf(f, "# HELP scrim_heap_held_bytes Bytes malloc holds from the "
            "system.\n# TYPE scrim_heap_held_bytes gauge\n"
            "scrim_heap_held_bytes %zu\n", mi.arena + mi.hblkhd);
    fprintf(f, "# HELP scrim_uptime_seconds Seconds since start.\n"
            "# TYPE scrim_uptime_seconds gauge\nscrim_uptime_seconds %.3f\n",
            scrim__now() - srv->started);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
