/*
 * bench_bolt.c: `strata bench bolt`: the B-layer workloads of docs/bench.md
 * (B1..B7 and B1..B3 -nosync) on strata's bolt engine, with the same
 * generators, phases and output line as the peers (bbolt's boltbench and
 * lmdbbench), so that the three line up in one table.
 *
 *   strata bench bolt [-n N] [-w LIST] [--dir DIR] [--fsync-secs S]
 *                     [--free-pages LIST] [--keep]
 *
 * Rules:
 *   1. Library defaults only: bolt_options_init() plus page size 4096 and,
 *      for -nosync names, no_sync (bbolt NoSync). Nothing else is tuned.
 *   2. Only the phase is timed: open, bucket creation and close are not.
 *   3. Every phase checks its own result: B4 finds every key with its
 *      value, B5 sees exactly N pairs in order, B7's copy holds exactly the
 *      keys left by B6. A failed check fails the command (exit 4), so the
 *      smoke test catches a broken engine or bench.
 *   4. Output: `NAME OPS_PER_S WALL_S FILE_MIB key=value...` per phase
 *      (FILE_MIB: st_size after the phase, the file closed), then
 *      `peak_rss_mib X`. Extras: ops, disk_mib, rss_mib (peak so far),
 *      cpu_s (the phase's CPU seconds, user + system, of the process),
 *      allocated_mib / resident_mib (jemalloc, when built with it), and the
 *      per-workload ones of docs/bench.md.
 *   5. B7 is bolt_compact with its defaults, as `strata compact` runs it:
 *      one read transaction of the source, written bottom-up into a fresh
 *      file with full pages, synced (file and directory) once at the end,
 *      as mdb_env_copy2 syncs once (bbolt's compact syncs every commit).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strata/bolt.h>

#ifdef STRATA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "bench_bolt.h"
#include "bench_json.h"
#include "cli.h"
#include "cli_db.h"
#include "cli_util.h"

enum {
    PAGE_SIZE = 4096,
    VSIZE = 100,
    BIG_TX = 10000, /* puts per tx of B1/B2, deletes per tx of B6 */
    SMALL_TX = 100, /* puts per tx of B3 */
};

static const char BUCKET[] = "bench";

typedef struct bench {
    long n;
    const char *dir;
    double fsync_secs;
    bool keep;
    const char *free_pages; /* FL: comma-separated free-page counts */
    unsigned char value[VSIZE];
} bench;

/* ---- generators (docs/bench.md) ------------------------------------------ */

static uint64_t rnd(uint64_t i)
{
    uint64_t z = i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void key8(unsigned char *k, uint64_t i)
{
    for (int b = 7; b >= 0; b--) {
        k[b] = (unsigned char)i;
        i >>= 8;
    }
}

static void fill_value(unsigned char *v, size_t n, uint64_t i)
{
    for (size_t j = 0; j < n; j++)
        v[j] = (unsigned char)(i + j);
}

/* ---- measuring ------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The CPU seconds (user + system) of the last phase: on a shared machine
 * wall time includes waiting for a core; CPU time does not (extra cpu_s=).
 */
static double phase_cpu0, phase_cpu;

static double phase_begin(void)
{
    phase_cpu0 = cpu_now();
    return now_s();
}

static double phase_end(double t0)
{
    phase_cpu = cpu_now() - phase_cpu0;
    return now_s() - t0;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;
}

#define MIB (1024.0 * 1024.0)

/* " allocated_mib=.. resident_mib=.." from jemalloc, or "" without it. */
static void alloc_stats(char *buf, size_t size)
{
    buf[0] = 0;
#ifdef STRATA_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0, resident = 0;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return;
    sz = sizeof resident;
    if (mallctl("stats.resident", &resident, &sz, NULL, 0) != 0)
        return;
    snprintf(buf, size, " allocated_mib=%.1f resident_mib=%.1f", (double)allocated / MIB,
             (double)resident / MIB);
#else
    (void)size;
#endif
}

static void report(const char *name, double ops, double wall, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static void report(const char *name, double ops, double wall, const char *path, const char *fmt,
                   ...)
{
    struct stat st;
    double apparent = -1, disk = -1;
    if (stat(path, &st) == 0) {
        apparent = (double)st.st_size / MIB;
        disk = (double)st.st_blocks * 512 / MIB;
    }
    char extra[512] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    char mem[128];
    alloc_stats(mem, sizeof mem);
    printf("%s %.1f %.6f %.2f ops=%.0f disk_mib=%.2f rss_mib=%.1f cpu_s=%.3f%s%s%s\n", name,
           ops / wall, wall, apparent, ops, disk, peak_rss_mib(), phase_cpu, mem,
           extra[0] ? " " : "", extra);
    fflush(stdout);
}

/* ---- helpers ---------------------------------------------------------- */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "strata bench bolt: %s: %s\n", what, cli_strerror(rc));
    return CLI_INTERNAL;
}

static int db_open(const char *path, bool no_sync, bool read_only, bolt_freelist_type ft,
                   bool no_freelist_sync, bolt_db **out)
{
    bolt_options o;
    bolt_options_init(&o);
    o.page_size = PAGE_SIZE;
    o.no_sync = no_sync;
    o.read_only = read_only;
    o.timeout_ms = 10000;
    o.freelist_type = ft;
    o.no_freelist_sync = no_freelist_sync;
    int rc = bolt_open(path, &o, out);
    if (rc == 0 && bolt_db_page_size(*out) != PAGE_SIZE) {
        bolt_close(*out);
        *out = NULL;
        return BOLT_EPAGESIZE;
    }
    return rc;
}

static void path_join(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static int remove_file(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int bucket_of(bolt_tx *tx, bolt_bucket **b)
{
    return bolt_tx_bucket(tx, (bolt_val){ BUCKET, sizeof BUCKET - 1 }, b);
}

/* ---- B1, B2, B3 ------------------------------------------------------- */

/*
 * n keys key8(keyof(i)), value i, tx_size puts per write transaction, into
 * the one bucket of a fresh file. *wall: the puts and commits alone.
 */
static int put_workload(bench *bn, const char *path, long n, long tx_size, bool no_sync,
                        bool random, double *wall, long *commits)
{
    int rc = remove_file(path);
    if (rc != 0)
        return fail(path, rc);
    bolt_db *db = NULL;
    rc = db_open(path, no_sync, false, BOLT_FREELIST_ARRAY, false, &db);
    if (rc != 0)
        return fail(path, rc);
    bolt_tx *tx = NULL;
    rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (rc == 0)
        rc = bolt_bucket_create(bolt_tx_root(tx), (bolt_val){ BUCKET, sizeof BUCKET - 1 }, NULL);
    if (rc == 0)
        rc = bolt_tx_commit(tx);
    else
        bolt_tx_rollback(tx);
    if (rc != 0) {
        bolt_close(db);
        return fail("create bucket", rc);
    }
    unsigned char k[8];
    long nc = 0;
    double t0 = phase_begin();
    for (long base = 0; base < n && rc == 0; base += tx_size) {
        long end = base + tx_size < n ? base + tx_size : n;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0)
            break;
        bolt_bucket *b;
        rc = bucket_of(tx, &b);
        for (long i = base; i < end && rc == 0; i++) {
            key8(k, random ? rnd((uint64_t)i) : (uint64_t)i);
            fill_value(bn->value, VSIZE, (uint64_t)i);
            rc = bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ bn->value, VSIZE });
        }
        if (rc == 0)
            rc = bolt_tx_commit(tx);
        else
            bolt_tx_rollback(tx);
        nc++;
    }
    *wall = phase_end(t0);
    *commits = nc;
    int crc = bolt_close(db);
    if (rc != 0)
        return fail("put", rc);
    if (crc != 0)
        return fail("close", crc);
    return CLI_OK;
}

/* The least file size the format allows for n pairs (docs/bench.md min_mib). */
static double min_mib(long n)
{
    double body = PAGE_SIZE - 16;
    double pages = (double)n * (16 + 8 + VSIZE) / body;
    long whole = (long)pages;
    if ((double)whole < pages)
        whole++;
    return (double)whole * PAGE_SIZE / MIB;
}

/* ---- B4, B5 ----------------------------------------------------------- */

static int get_workload(bolt_db *db, long n, double *wall)
{
    bolt_tx *tx = NULL;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return fail("begin", rc);
    bolt_bucket *b;
    long found = 0;
    unsigned char k[8];
    double t0 = phase_begin();
    rc = bucket_of(tx, &b);
    for (long i = 0; i < n && rc == 0; i++) {
        uint64_t key = rnd((uint64_t)i) % (uint64_t)n;
        key8(k, key);
        bolt_val v;
        rc = bolt_bucket_get(b, (bolt_val){ k, 8 }, &v);
        if (rc == 0 && v.size == VSIZE && ((const unsigned char *)v.data)[0] == (unsigned char)key)
            found++;
        if (rc == BOLT_NOTFOUND)
            rc = 0;
    }
    *wall = phase_end(t0);
    bolt_tx_rollback(tx);
    if (rc != 0)
        return fail("get", rc);
    if (found != n) {
        fprintf(stderr, "strata bench bolt: B4: found %ld of %ld values\n", found, n);
        return CLI_INTERNAL;
    }
    return CLI_OK;
}

static int scan_workload(bolt_db *db, long n, double *wall, uint64_t *acc_out)
{
    bolt_tx *tx = NULL;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return fail("begin", rc);
    bolt_bucket *b;
    bolt_cursor *c = NULL;
    long count = 0;
    uint64_t acc = 0, prev = 0;
    bool ordered = true;
    double t0 = phase_begin();
    rc = bucket_of(tx, &b);
    if (rc == 0)
        rc = bolt_cursor_open(b, &c);
    bolt_val k, v;
    if (rc == 0)
        rc = bolt_cursor_first(c, &k, &v);
    while (rc == 0) {
        const unsigned char *kp = k.data, *vp = v.data;
        count++;
        acc += k.size + v.size + kp[0] + kp[k.size - 1];
        if (v.size > 0)
            acc += vp[0] + vp[v.size - 1];
        rc = bolt_cursor_next(c, &k, &v);
    }
    *wall = phase_end(t0);
    /* The order check walks again, untimed: key i is key8(i). */
    if (rc == BOLT_NOTFOUND) {
        rc = bolt_cursor_first(c, &k, NULL);
        for (uint64_t i = 0; rc == 0; i++) {
            unsigned char want[8];
            key8(want, i);
            ordered = ordered && k.size == 8 && memcmp(k.data, want, 8) == 0;
            prev = i + 1;
            rc = bolt_cursor_next(c, &k, NULL);
        }
    }
    bolt_tx_rollback(tx);
    if (rc != BOLT_NOTFOUND)
        return fail("scan", rc);
    if (count != n || !ordered || prev != (uint64_t)n) {
        fprintf(stderr, "strata bench bolt: B5: scanned %ld keys (%s), want %ld in order\n", count,
                ordered ? "in order" : "out of order", n);
        return CLI_INTERNAL;
    }
    *acc_out = acc;
    return CLI_OK;
}

/* ---- B6 --------------------------------------------------------------- */

static int delete_half_workload(bolt_db *db, long n, double *wall, long *deleted)
{
    unsigned char k[8];
    long d = 0;
    int rc = 0;
    double t0 = phase_begin();
    for (long i = 0; i < n && rc == 0;) {
        bolt_tx *tx = NULL;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0)
            break;
        bolt_bucket *b;
        rc = bucket_of(tx, &b);
        for (long m = 0; m < BIG_TX && i < n && rc == 0; i += 2, m++) {
            key8(k, (uint64_t)i);
            rc = bolt_bucket_delete(b, (bolt_val){ k, 8 });
            d++;
        }
        if (rc == 0)
            rc = bolt_tx_commit(tx);
        else
            bolt_tx_rollback(tx);
    }
    *wall = phase_end(t0);
    if (rc != 0)
        return fail("delete", rc);
    *deleted = d;
    return CLI_OK;
}

static uint64_t ld64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/*
 * The number of ids in the freelist page of the newest meta (free + pending
 * at the last commit), read from the closed file (docs/format.md §3, §7); -1 if
 * the file has no freelist page or cannot be read. The public API has no
 * freelist statistics, and reading the page is what bbolt's own tooling
 * does.
 */
long bench_file_free_pages(const char *path)
{
    long result = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    unsigned char m[2][128];
    if (pread(fd, m[0], sizeof m[0], 0) != (ssize_t)sizeof m[0] ||
        pread(fd, m[1], sizeof m[1], PAGE_SIZE) != (ssize_t)sizeof m[1])
        goto out;
    /* meta: page header (16), magic, version, page size, flags (16),
     * root bucket (16), freelist @48, pgid @56, txid @64. */
    const unsigned char *meta = ld64(m[0] + 64) >= ld64(m[1] + 64) ? m[0] : m[1];
    uint64_t fl = ld64(meta + 48);
    if (fl == UINT64_MAX)
        goto out;
    unsigned char h[24];
    if (pread(fd, h, sizeof h, (off_t)(fl * PAGE_SIZE)) != (ssize_t)sizeof h)
        goto out;
    uint16_t count = (uint16_t)(h[10] | h[11] << 8);
    result = count == 0xFFFF ? (long)ld64(h + 16) : (long)count;
out:
    close(fd);
    return result;
}

/* ---- B7 --------------------------------------------------------------- */

/*
 * B7: bolt_compact, as `strata compact` runs it by default: the live data
 * of the source, read in one transaction, written bottom-up into a fresh
 * file with full pages and synced (with its directory) once at the end.
 */
static int copy_workload(const char *src_path, const char *dst_path, long *keys, double *wall)
{
    int rc = remove_file(dst_path);
    if (rc != 0)
        return fail(dst_path, rc);
    bolt_db *src = NULL;
    rc = db_open(src_path, false, true, BOLT_FREELIST_ARRAY, false, &src);
    if (rc != 0)
        return fail(src_path, rc);
    bolt_compact_options opt = { .size = sizeof opt };
    bolt_compact_result res;
    double t0 = phase_begin();
    rc = bolt_compact(src, dst_path, &opt, &res);
    *wall = phase_end(t0);
    bolt_close(src);
    if (rc != 0)
        return fail("compact", rc);
    *keys = (long)res.keys;
    return CLI_OK;
}

/* Count the pairs of dst's bucket (the B7 check), untimed. */
static int count_keys(const char *path, long *out)
{
    bolt_db *db = NULL;
    int rc = db_open(path, false, true, BOLT_FREELIST_ARRAY, false, &db);
    if (rc != 0)
        return rc;
    bolt_tx *tx = NULL;
    rc = bolt_tx_begin(db, 0, &tx);
    bolt_bucket *b;
    bolt_cursor *c = NULL;
    long n = 0;
    if (rc == 0)
        rc = bucket_of(tx, &b);
    if (rc == 0)
        rc = bolt_cursor_open(b, &c);
    bolt_val k;
    if (rc == 0)
        rc = bolt_cursor_first(c, &k, NULL);
    while (rc == 0) {
        n++;
        rc = bolt_cursor_next(c, &k, NULL);
    }
    bolt_tx_rollback(tx);
    bolt_close(db);
    if (rc != BOLT_NOTFOUND)
        return rc;
    *out = n;
    return 0;
}

/* ---- the B1 chain ----------------------------------------------------- */

static int chain_b1(bench *bn, const bench_want *w)
{
    char path[4096], dst[4096];
    path_join(path, sizeof path, bn->dir, "b1.db");
    path_join(dst, sizeof dst, bn->dir, "b7-compact.db");
    double wall;
    long commits;
    int st = put_workload(bn, path, bn->n, BIG_TX, false, false, &wall, &commits);
    if (st != CLI_OK)
        return st;
    if (w->b[1])
        report("B1", (double)bn->n, wall, path, "commits=%ld min_mib=%.2f", commits,
               min_mib(bn->n));
    if (w->b[4] || w->b[5]) {
        bolt_db *db = NULL;
        int rc = db_open(path, false, false, BOLT_FREELIST_ARRAY, false, &db);
        if (rc != 0)
            return fail(path, rc);
        if (w->b[4]) {
            st = get_workload(db, bn->n, &wall);
            if (st == CLI_OK)
                report("B4", (double)bn->n, wall, path, "found=%ld", bn->n);
        }
        if (st == CLI_OK && w->b[5]) {
            uint64_t acc = 0;
            st = scan_workload(db, bn->n, &wall, &acc);
            if (st == CLI_OK)
                report("B5", (double)bn->n, wall, path, "touch=ends acc=%" PRIu64, acc);
        }
        rc = bolt_close(db);
        if (st != CLI_OK)
            return st;
        if (rc != 0)
            return fail("close", rc);
    }
    if (!w->b[6] && !w->b[7])
        goto out;
    bolt_db *db = NULL;
    int rc = db_open(path, false, false, BOLT_FREELIST_ARRAY, false, &db);
    if (rc != 0)
        return fail(path, rc);
    long deleted = 0;
    st = delete_half_workload(db, bn->n, &wall, &deleted);
    rc = bolt_close(db);
    if (st != CLI_OK)
        return st;
    if (rc != 0)
        return fail("close", rc);
    if (w->b[6])
        report("B6", (double)deleted, wall, path, "free_pages=%ld", bench_file_free_pages(path));
    if (w->b[7]) {
        struct stat before;
        if (stat(path, &before) != 0)
            return fail(path, -errno);
        long keys = 0, check = 0;
        st = copy_workload(path, dst, &keys, &wall);
        if (st != CLI_OK)
            return st;
        rc = count_keys(dst, &check);
        if (rc != 0)
            return fail(dst, rc);
        if (keys != bn->n - deleted || check != keys) {
            fprintf(stderr,
                    "strata bench bolt: B7: copied %ld keys, the copy holds %ld, want %ld\n", keys,
                    check, bn->n - deleted);
            return CLI_INTERNAL;
        }
        struct stat after;
        if (stat(dst, &after) != 0)
            return fail(dst, -errno);
        report("B7", (double)keys, wall, dst, "before_mib=%.2f after_mib=%.2f",
               (double)before.st_size / MIB, (double)after.st_size / MIB);
    }
out:
    if (!bn->keep) {
        remove_file(path);
        remove_file(dst);
    }
    return CLI_OK;
}

/* ---- B2, B3 and the -nosync variants ---------------------------------- */

static int chain_put(bench *bn, const char *name, long n, long tx_size, bool no_sync, bool random)
{
    char path[4096], file[64];
    snprintf(file, sizeof file, "%s.db", name);
    for (char *p = file; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    path_join(path, sizeof path, bn->dir, file);
    double wall;
    long commits;
    int st = put_workload(bn, path, n, tx_size, no_sync, random, &wall, &commits);
    if (st != CLI_OK)
        return st;
    char extra[128];
    snprintf(extra, sizeof extra, "commits=%ld commits_per_s=%.1f", commits,
             (double)commits / wall);
    if (strcmp(name, "B1-nosync") == 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " min_mib=%.2f", min_mib(n));
    report(name, (double)n, wall, path, "%s", extra);
    if (!bn->keep)
        remove_file(path);
    return CLI_OK;
}

/* ---- fsync probe ------------------------------------------------------ */

/*
 * 4 KiB pwrite + fdatasync for secs seconds each: in place (the same
 * block), appending (the file grows), and into a file preallocated with
 * fallocate (what bolt does for new pages).
 */
static int fsync_probe(bench *bn)
{
    static const char *variants[] = { "overwrite", "append", "hole" };
    char path[4096];
    path_join(path, sizeof path, bn->dir, "fsync-probe.dat");
    unsigned char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)i;
    for (int v = 0; v < 3; v++) {
        remove_file(path);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return fail(path, -errno);
        int rc = 0;
        if (v == 0 && pwrite(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
            rc = -errno;
        if (v == 2 && posix_fallocate(fd, 0, 1 << 30) != 0 && ftruncate(fd, 1 << 30) != 0)
            rc = -errno;
        if (rc == 0 && fsync(fd) != 0)
            rc = -errno;
        long ops = 0;
        off_t off = 0;
        double t0 = now_s(), t = t0;
        while (rc == 0 && t - t0 < bn->fsync_secs) {
            if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
                rc = -errno;
            ops++;
            if (v != 0)
                off += (off_t)sizeof buf;
            t = now_s();
        }
        close(fd);
        remove_file(path);
        if (rc != 0)
            return fail("fsync probe", rc);
        printf("FSYNC-%s %.1f %.3f 0 ops=%ld\n", variants[v], (double)ops / (t - t0), t - t0, ops);
        fflush(stdout);
    }
    return CLI_OK;
}

/* ---- command line ----------------------------------------------------- */

static const char *const CHAINS[] = { "B1", "B4",        "B5", "B6",        "B7",    "B1-nosync",
                                      "B2", "B2-nosync", "B3", "B3-nosync", "fsync", "FL" };
#define N_NAMES (sizeof CHAINS / sizeof CHAINS[0])

static int parse_list(const char *list, bench_want *w, bool *extra)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < N_NAMES && strcmp(t, CHAINS[i]) != 0)
            i++;
        if (i == N_NAMES) {
            fprintf(stderr, "strata bench bolt: unknown workload '%s'\n", t);
            return -1;
        }
        extra[i] = true;
    }
    w->b[1] = extra[0];
    w->b[4] = extra[1];
    w->b[5] = extra[2];
    w->b[6] = extra[3];
    w->b[7] = extra[4];
    return 0;
}

/* `strata bench bolt`'s options (the table behind --help, completion and the man page). */
enum { OPT_DIR = 2000, OPT_FSYNC_SECS, OPT_FREE_PAGES, OPT_KEEP };
static const cli_option bench_bolt_options[] = {
    { "count", 'n', "N", "keys of B1/B2 and gets of B4 (default 1000000); B3 uses N/10", NULL },
    { "workloads", 'w', "LIST",
      "comma-separated names (default B1,B4,B5,B6,B7,B1-nosync,B2,\n"
      "B2-nosync,B3,B3-nosync); extras: fsync (the disk's fdatasync\n"
      "rate), FL (commit time against free pages)",
      NULL },
    { "dir", OPT_DIR, "DIR", "directory for the files (default /tmp/stratabench)", "dir" },
    { "fsync-secs", OPT_FSYNC_SECS, "S", "seconds per fsync probe variant (default 5)", NULL },
    { "free-pages", OPT_FREE_PAGES, "LIST", "FL: free-page counts (default 100000,1000000)", NULL },
    { "keep", OPT_KEEP, NULL, "keep the files", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct bolt_args {
    bench *bn;
    const char *list;
} bolt_args;

static int bolt_option(int c, const char *arg, void *ctx)
{
    bolt_args *a = ctx;
    uint64_t v;
    switch (c) {
    case 'n':
        if (cli_parse_u64("bench bolt", "-n", arg, &v) != 0)
            return -1;
        a->bn->n = v > 100000000 ? 100000001 : (long)v; /* range checked after parsing */
        return 0;
    case 'w':
        a->list = arg;
        return 0;
    case OPT_DIR:
        a->bn->dir = arg;
        return 0;
    case OPT_FSYNC_SECS:
        return cli_parse_double("bench bolt", "--fsync-secs", arg, &a->bn->fsync_secs);
    case OPT_FREE_PAGES:
        a->bn->free_pages = arg;
        return 0;
    case OPT_KEEP:
        a->bn->keep = true;
        return 0;
    default:
        return -1;
    }
}

const cli_command_spec bench_bolt_spec = {
    .name = "bench bolt",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_JSON,
    .options = bench_bolt_options,
    .on_option = bolt_option,
    .synopsis = "[-n N] [-w LIST] [--dir DIR] [--fsync-secs S] [--free-pages LIST] [--keep]",
    .about = "Run the B-layer workloads of docs/bench.md on strata's bolt engine.\n"
             "Output: NAME OPS_PER_S WALL_S FILE_MIB key=value..., then peak_rss_mib X.",
    .json = BENCH_JSON_FIELDS,
    .example = "$ strata bench bolt -n 100000 --dir /tmp/bench\n"
               "$ strata bench bolt -w fsync --fsync-secs 2 --dir /tmp/bench",
};

int bench_bolt(int argc, char **argv)
{
    static bench bn;
    bn = (bench){
        .n = 1000000, .dir = "/tmp/stratabench", .fsync_secs = 5, .free_pages = "100000,1000000"
    };
    bolt_args args = { &bn, "B1,B4,B5,B6,B7,B1-nosync,B2,B2-nosync,B3,B3-nosync" };
    int parsed = bench_parse(&bench_bolt_spec, argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    const char *list = args.list;
    bench_want w = { 0 };
    bool want[N_NAMES] = { 0 };
    if (bn.n < 100 || bn.n > 100000000 || bn.fsync_secs <= 0 || parse_list(list, &w, want) != 0) {
        if (bn.n < 100 || bn.n > 100000000 || bn.fsync_secs <= 0)
            fprintf(stderr, "strata bench bolt: -n must be in 100..100000000, --fsync-secs > 0\n");
        cli_usage(&bench_bolt_spec, stderr);
        return CLI_USAGE;
    }
    if (mkdir(bn.dir, 0755) != 0 && errno != EEXIST)
        return fail(bn.dir, -errno);
    printf("# name ops_per_s wall_s file_mib [extras]\n");
    fprintf(stderr, "# strata bench bolt: N=%ld N3=%ld dir=%s allocator=%s\n", bn.n, bn.n / 10,
            bn.dir,
#ifdef STRATA_HAVE_JEMALLOC
            "jemalloc"
#else
            "system"
#endif
    );
    int st = CLI_OK;
    if (w.b[1] || w.b[4] || w.b[5] || w.b[6] || w.b[7])
        st = chain_b1(&bn, &w);
    struct {
        const char *name;
        long n, tx;
        bool no_sync, random;
    } puts[] = {
        { "B1-nosync", bn.n, BIG_TX, true, false },
        { "B2", bn.n, BIG_TX, false, true },
        { "B2-nosync", bn.n, BIG_TX, true, true },
        { "B3", bn.n / 10, SMALL_TX, false, true },
        { "B3-nosync", bn.n / 10, SMALL_TX, true, true },
    };
    for (size_t i = 0; i < sizeof puts / sizeof puts[0] && st == CLI_OK; i++)
        if (want[5 + i])
            st = chain_put(&bn, puts[i].name, puts[i].n, puts[i].tx, puts[i].no_sync,
                           puts[i].random);
    if (st == CLI_OK && want[10])
        st = fsync_probe(&bn);
    if (st == CLI_OK && want[11])
        st = bench_freelist(bn.dir, bn.free_pages, bn.keep);
    if (st != CLI_OK)
        return st;
    printf("peak_rss_mib %.1f\n", peak_rss_mib());
    return CLI_OK;
}
