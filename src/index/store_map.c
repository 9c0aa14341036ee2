/* store_map.c - the database's memory map and the TLB.
 *
 * A lookup in a 10M-hash index touches ~270 runs at random places of a
 * 2.5 GB map.  With 4 KB pages nearly every run costs a page walk whose
 * page-table entries are themselves out of cache (2.5 GB of 4 KB pages is
 * 5 MB of entries); with 2 MB pages the map needs ~1,200 entries, which the
 * TLB holds.  Measured on the 2-core VM (index_bench, 10M, radius 31):
 * 5,300 lookups/s on 4 KB pages, 9,500 on 2 MB pages.
 *
 * File pages get 2 MB mappings only when the page cache holds them as 2 MB
 * folios: the filesystem must support large folios (ext4 on recent kernels,
 * XFS), transparent huge pages must not be "never", and the pages must have
 * been read in for a mapping advised MADV_HUGEPAGE.  Every open advises the
 * map; scrim_store_preload() also reads the database in, and where the page
 * cache already holds it in small pages (e.g. just written by an import),
 * reads it again chunk by chunk so that it comes back in 2 MB folios.
 * LMDB never writes through the map (no MDB_WRITEMAP), so dropping the
 * map's page-table entries or clean cached pages only costs a re-read. */
#include "index/index.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

#define CHUNK ((size_t)2 << 20)

/* Where LMDB mapped data.mdb: the mapping of this file at offset 0. */
void store__map_advise(scrim_store *s)
{
    s->map = NULL;
    s->map_len = 0;
#ifdef __linux__
    int fd;
    struct stat st;
    if (mdb_env_get_fd(s->env, &fd) || fstat(fd, &st))
        return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, ino;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min,
                   &ino) == 6 &&
            off == 0 && ino == st.st_ino && makedev(maj, min) == st.st_dev &&
            hi - lo > s->map_len) {
            s->map = (uint8_t *)lo;
            s->map_len = hi - lo;
        }
    }
    fclose(f);
    if (s->map)
        madvise(s->map, s->map_len, MADV_HUGEPAGE);
#endif
}

/* Bytes of the map mapped with 2 MB pages (smaps' FilePmdMapped). */
static uint64_t pmd_mapped(const scrim_store *s)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return 0;
    char line[4096];
    int in = 0;
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's header */
            if (in)
                break;
            in = (uint8_t *)lo == s->map;
            continue;
        }
        unsigned long v;
        if (in && sscanf(line, "FilePmdMapped: %lu kB", &v) == 1)
            kb = v;
    }
    fclose(f);
    return kb * 1024;
}

/* Map [p, p + len) in, reading what is not in the page cache. */
static void populate(uint8_t *p, size_t len)
{
    if (madvise(p, len, MADV_POPULATE_READ) == 0)
        return;
    /* before Linux 5.14: touch every page */
    for (size_t o = 0; o < len; o += 4096)
        (void)*(volatile uint8_t *)(p + o);
}

static int thp_never(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, "[never]") != NULL;
}

static int stopped(int (*stop)(void *), void *arg)
{
    return stop && stop(arg);
}

/* Drop the chunk from the map and the page cache, then read it back. */
static void reread(scrim_store *s, int fd, size_t off, size_t len)
{
    madvise(s->map + off, len, MADV_DONTNEED);
    posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
    populate(s->map + off, len);
}

int scrim_store_preload(scrim_store *s, int (*stop)(void *arg), void *arg,
                        scrim_store_preload_stats *out)
{
    scrim_store_preload_stats st = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MDB_envinfo ei;
    MDB_stat ms;
    int fd;
    if (!s->map || mdb_env_info(s->env, &ei) || mdb_env_stat(s->env, &ms) ||
        mdb_env_get_fd(s->env, &fd)) {
        if (out)
            *out = st;
        return SCRIM_EINVAL;
    }
    size_t used = (size_t)(ei.me_last_pgno + 1) * ms.ms_psize;
    if (used > s->map_len)
        used = s->map_len;
    /* Never touch the map past the end of the file: that is SIGBUS. */
    struct stat fst;
    if (!fstat(fd, &fst) && (uint64_t)fst.st_size < used)
        used = (size_t)fst.st_size;
    st.bytes = used;
    /* A database that would crowd out the rest of memory is left to be read
     * as queries need it. */
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0 && used > (uint64_t)pages * (uint64_t)psize / 2) {
        st.too_big = 1;
        if (out)
            *out = st;
        return SCRIM_OK;
    }
    for (size_t off = 0; off < used && !stopped(stop, arg); off += CHUNK)
        populate(s->map + off, used - off < CHUNK ? used - off : CHUNK);
    st.huge_before = st.huge_after = pmd_mapped(s);
    /* Worth re-reading only if most of the map is in small pages, the
     * kernel may give 2 MB ones, and a first chunk shows that it does (if
     * that chunk was on a 2 MB page already, this wrongly says no: then
     * nothing is re-read, which costs speed, not correctness). */
    size_t whole = used / CHUNK * CHUNK;
    if (!stopped(stop, arg) && whole >= CHUNK && st.huge_before < whole / 2 &&
        !thp_never()) {
        reread(s, fd, 0, CHUNK);
        uint64_t now = pmd_mapped(s);
        if (now > st.huge_before) {
            st.reread = 1;
            for (size_t off = CHUNK; off < whole && !stopped(stop, arg); off += CHUNK)
                reread(s, fd, off, CHUNK);
            now = pmd_mapped(s);
        }
        st.huge_after = now;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st.seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    st.stopped = stopped(stop, arg);
    if (out)
        *out = st;
    return SCRIM_OK;
}
