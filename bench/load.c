/* load.c - load generator for scrimd: C concurrent keep-alive clients post a
 * mix of files to an endpoint over the Unix socket or TCP for a fixed time;
 * prints requests/s, latency percentiles, errors and the daemon's RSS over
 * time (sampled from /proc/PID/status).
 *
 * usage: load [-c CONNS] [-d SECONDS] [-u SOCKET | -t HOST:PORT]
 *             [-p PATH] [-P DAEMON_PID] [-i SAMPLE_SECONDS] FILE...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct file { char *data; size_t len; } file;

static file *files;
static int nfiles;
static const char *unix_path, *tcp_addr, *url_path = "/v1/match";
static double deadline;
static atomic_long done_total, errors_total;

typedef struct worker {
    pthread_t th;
    int id;
    uint32_t *lat_us;           /* latencies of successful requests */
    size_t n, cap;
    long errors;
    char first_error[160];
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_server(void)
{
    int fd;
    if (unix_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
            close(fd);
            return -1;
        }
        return fd;
    }
    char host[256];
    const char *colon = strrchr(tcp_addr, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - tcp_addr), tcp_addr);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai))
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Read one response: returns the status, or -1 on a broken connection. */
static int read_response(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == cap - 1)
            return -1;
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    long body = cl ? strtol(cl + 17, NULL, 10) : 0;
    long got = (long)(have - (size_t)(end + 4 - buf));
    while (got < body) {
        char tmp[8192];
        ssize_t r = read(fd, tmp, sizeof tmp < (size_t)(body - got)
                                      ? sizeof tmp : (size_t)(body - got));
        if (r <= 0)
            return -1;
        got += r;
    }
    return status;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    char head[512], buf[65536];
    int fd = -1;
    long k = w->id;
    while (now() < deadline) {
        if (fd < 0 && (fd = connect_server()) < 0) {
            w->errors++;
            atomic_fetch_add(&errors_total, 1);
            if (!w->first_error[0])
                snprintf(w->first_error, sizeof w->first_error,
                         "connect: %s", strerror(errno));
            usleep(10000);
            continue;
        }
        file *f = &files[k++ % nfiles];
        /* over TCP the Host must be one scrimd answers to (its address) */
        int hl = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s"
                          "\r\nContent-Length: %zu\r\n\r\n", url_path,
                          tcp_addr ? tcp_addr : "scrimd", f->len);
        struct iovec iov[2] = {{head, (size_t)hl}, {f->data, f->len}};
        double t0 = now();
        int status = write_all(fd, iov, 2) ? -1 : read_response(fd, buf, sizeof buf);
        double dt = now() - t0;
        if (status != 200) {
            w->errors++;
            atomic_fetch_add(&errors_total, 1);
            if (!w->first_error[0])
                snprintf(w->first_error, sizeof w->first_error, "status %d",
                         status);
            close(fd);
            fd = -1;
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat_us = realloc(w->lat_us, w->cap * sizeof *w->lat_us);
        }
        w->lat_us[w->n++] = (uint32_t)(dt * 1e6);
        atomic_fetch_add(&done_total, 1);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Resident memory of the daemon (kB): `field` is "VmRSS:" (all, including
 * the LMDB map's file pages, which are page cache) or "RssAnon:" (the heap:
 * what a leak would grow). */
static long rss_kb(long pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t fl = strlen(field);
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl))
            kb = strtol(line + fl, NULL, 10);
    fclose(f);
    return kb;
}

/* CPU seconds (user + system) the process has used so far. */
static double cpu_seconds(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int read_file(const char *path, file *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc((size_t)n);
    f->len = fread(f->data, 1, (size_t)n, fp);
    fclose(fp);
    return f->len == (size_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
    int conns = 8, c;
    double seconds = 10, interval = 1;
    long pid = 0;
    while ((c = getopt(argc, argv, "c:d:u:t:p:P:i:")) != -1) {
        switch (c) {
        case 'c': conns = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'u': unix_path = optarg; break;
        case 't': tcp_addr = optarg; break;
        case 'p': url_path = optarg; break;
        case 'P': pid = atol(optarg); break;
        case 'i': interval = atof(optarg); break;
        default: goto usage;
        }
    }
    if (optind >= argc || conns < 1 || seconds <= 0 || !!unix_path == !!tcp_addr ||
        (tcp_addr && !strrchr(tcp_addr, ':')))
        goto usage;
    nfiles = argc - optind;
    files = calloc((size_t)nfiles, sizeof *files);
    size_t total = 0;
    for (int i = 0; i < nfiles; i++) {
        if (read_file(argv[optind + i], &files[i])) {
            fprintf(stderr, "load: cannot read %s\n", argv[optind + i]);
            return 1;
        }
        total += files[i].len;
    }
    printf("load: %d clients, %.0f s, %s %s, POST %s, %d files (%.0f KB avg)\n",
           conns, seconds, unix_path ? "unix" : "tcp",
           unix_path ? unix_path : tcp_addr, url_path, nfiles,
           total / 1024.0 / nfiles);

    worker *ws = calloc((size_t)conns, sizeof *ws);
    double cpu0 = pid ? cpu_seconds(pid) : -1;
    double start = now();
    deadline = start + seconds;
    for (int i = 0; i < conns; i++) {
        ws[i].id = i;
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    }
    long rss_first = -1, rss_max = -1, rss_last = -1, prev = 0;
    long anon_first = -1, anon_max = -1, anon_last = -1;
    double t = start;
    while ((t = now()) < deadline) {
        double next = t + interval < deadline ? t + interval : deadline;
        usleep((useconds_t)((next - t) * 1e6));
        long d = atomic_load(&done_total), rss = pid ? rss_kb(pid, "VmRSS:") : -1;
        long anon = pid ? rss_kb(pid, "RssAnon:") : -1;
        if (anon >= 0) {
            if (anon_first < 0)
                anon_first = anon;
            if (anon > anon_max)
                anon_max = anon;
            anon_last = anon;
        }
        if (rss >= 0) {
            if (rss_first < 0)
                rss_first = rss;
            if (rss > rss_max)
                rss_max = rss;
            rss_last = rss;
        }
        printf("  t=%5.1f s  %6.0f req/s  errors %ld  rss %ld MB (heap %ld MB)\n",
               now() - start, (d - prev) / (next - t > 0 ? next - t : 1),
               atomic_load(&errors_total), rss >= 0 ? rss / 1024 : -1,
               anon >= 0 ? anon / 1024 : -1);
        fflush(stdout);
        prev = d;
    }
    for (int i = 0; i < conns; i++)
        pthread_join(ws[i].th, NULL);
    double elapsed = now() - start;
    double cpu1 = pid ? cpu_seconds(pid) : -1;

    size_t n = 0;
    long errors = 0;
    for (int i = 0; i < conns; i++)
        n += ws[i].n, errors += ws[i].errors;
    uint32_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, ws[i].lat_us, ws[i].n * sizeof *all);
        k += ws[i].n;
        if (ws[i].first_error[0])
            fprintf(stderr, "load: client %d: first error: %s\n", i,
                    ws[i].first_error);
    }
    qsort(all, n, sizeof *all, cmp_u32);
#define PCT(p) (n ? all[(size_t)((p) / 100.0 * (double)(n - 1))] / 1000.0 : 0)
    printf("result: %zu ok, %ld errors in %.1f s: %.0f req/s; latency ms "
           "p50 %.1f p90 %.1f p99 %.1f max %.1f",
           n, errors, elapsed, n / elapsed, PCT(50), PCT(90), PCT(99),
           n ? all[n - 1] / 1000.0 : 0);
    if (rss_first >= 0)
        printf("; rss MB first %ld last %ld max %ld (heap MB first %ld last "
               "%ld max %ld)", rss_first / 1024, rss_last / 1024,
               rss_max / 1024, anon_first / 1024, anon_last / 1024,
               anon_max / 1024);
    printf("\n");
    /* On a shared machine the wall-clock rate depends on the neighbours;
     * the daemon's CPU time per request does not. */
    if (cpu0 >= 0 && cpu1 >= 0 && n)
        printf("daemon CPU: %.2f s for %zu requests = %.2f ms per request "
               "(%.0f req/s per fully used core); load average now %.1f\n",
               cpu1 - cpu0, n, (cpu1 - cpu0) * 1000 / n,
               n / (cpu1 - cpu0 > 0 ? cpu1 - cpu0 : 1), loadavg());
    return errors ? 3 : 0;
usage:
    fprintf(stderr, "usage: load [-c CONNS] [-d SECONDS] (-u SOCKET | -t "
            "HOST:PORT) [-p PATH] [-P DAEMON_PID] [-i SAMPLE_SECONDS] FILE...\n");
    return 2;
}
