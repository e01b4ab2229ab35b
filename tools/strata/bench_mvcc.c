/*
 * bench_mvcc.c: `strata bench mvcc`: docs/bench.md's M workloads over the mvcc
 * store, chained as docs/bench.md and the etcd peer (peers/etcd/mvccbench)
 * chain them, with etcd's backend defaults (batch interval 100 ms, batch
 * limit 10,000, a sync per commit):
 *
 *   M1 put      N puts (one write txn, one revision each) of 256-byte
 *               values to key-%08d with index rnd(i) mod K, then a commit
 *   M2 get      G single-key reads at the newest revision
 *   M3 range    R reads of L = 100 consecutive keys
 *   M4 history  H single-key reads at a revision drawn uniformly from the
 *               history not compacted
 *   M5 compact  compact at current - D while a second thread puts every
 *               1 ms (--pace-us); max_stall_ms / p99_put_ms are that
 *               putter's during the compaction, p99_alone_ms its p99 in
 *               the 500 ms just before (the goal's "without compaction")
 *   M6 defrag   defragment while the putter runs (the peer's -m6-putter)
 *   M7 reopen   close; then open backend, lessor and store (index rebuilt
 *               from the file)
 *   M8 watch    1,000 watchers (900 single keys, 100 prefixes of 100
 *               keys) on 10 streams, each read by its own thread, while
 *               M1's put stream runs on a fresh file; every event is checked
 *               against the puts made: lost, dup, reordered, wrong_key
 *               (also a wrong value or type) are counts, not assumptions
 *
 * N, K, G, R, H, D scale with --scale as the peer's -scale. The layout of
 * the M8 watchers and every extra are the peer's, so the lines compare.
 * Output: docs/bench.md's bench line per workload, then peak_rss_mib.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strata/backend.h>
#include <strata/lease.h>
#include <strata/mvcc.h>

#include "bench_json.h"
#include "bench_mvcc.h"
#include "cli.h"
#include "cli_db.h"
#include "cli_util.h"

/* ---- shared helpers (also bench_stall.c) --------------------------------- */

uint64_t bm_rnd(uint64_t i)
{
    uint64_t z = i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t bm_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bm_data_init(bm_data *d, size_t n_keys)
{
    d->n_keys = n_keys;
    d->keys = malloc(n_keys * BM_KEY_LEN + 16);
    if (d->keys == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n_keys; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "key-%08zu", i);
        memcpy(d->keys + i * BM_KEY_LEN, buf, BM_KEY_LEN);
    }
    for (int i = 0; i < 256; i++)
        for (int j = 0; j < BM_VSIZE; j++)
            d->vals[i][j] = (uint8_t)(i + j);
    return 0;
}

void bm_data_free(bm_data *d)
{
    free(d->keys);
    d->keys = NULL;
}

static void *putter_main(void *arg)
{
    bm_putter *p = arg;
    uint64_t next = bm_mono_ns();
    for (uint64_t j = 0; !atomic_load(&p->stop); j++) {
        uint64_t now = bm_mono_ns();
        if (now < next) {
            struct timespec ts = { (time_t)((next - now) / 1000000000u),
                                   (long)((next - now) % 1000000000u) };
            nanosleep(&ts, NULL);
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 65536;
            uint64_t *s = realloc(p->start_ns, cap * sizeof *s);
            if (s != NULL)
                p->start_ns = s;
            uint64_t *l = s != NULL ? realloc(p->lat_ns, cap * sizeof *l) : NULL;
            if (l == NULL) {
                p->rc = -ENOMEM;
                break;
            }
            p->lat_ns = l;
            p->cap = cap;
        }
        uint64_t idx = p->first + j;
        uint64_t a = bm_mono_ns();
        int rc = mvcc_store_put(p->kv, bm_key(p->d, bm_rnd(idx) % p->K), BM_KEY_LEN,
                                p->d->vals[idx & 255], BM_VSIZE, 0, NULL);
        uint64_t b = bm_mono_ns();
        if (rc != 0) {
            p->rc = rc;
            break;
        }
        p->start_ns[p->n] = a - p->t0;
        p->lat_ns[p->n] = b - a;
        p->n++;
        next += p->pace_ns;
        if (b > next)
            next = b; /* no burst to catch up after a stall */
    }
    return NULL;
}

int bm_putter_start(bm_putter *p, mvcc_store *kv, const bm_data *d, uint64_t K, uint64_t first,
                    uint64_t pace_ns)
{
    memset(p, 0, sizeof *p);
    p->kv = kv;
    p->d = d;
    p->K = K;
    p->first = first;
    p->pace_ns = pace_ns;
    p->t0 = bm_mono_ns();
    int rc = pthread_create(&p->thread, NULL, putter_main, p);
    return rc != 0 ? -rc : 0;
}

int bm_putter_stop(bm_putter *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    return p->rc;
}

void bm_putter_free(bm_putter *p)
{
    free(p->start_ns);
    free(p->lat_ns);
    p->start_ns = p->lat_ns = NULL;
    p->n = p->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int bm_lat_window(const bm_putter *p, uint64_t from_ns, uint64_t to_ns, bm_lat *out)
{
    memset(out, 0, sizeof *out);
    uint64_t *v = malloc((p->n + 1) * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->start_ns[i] >= from_ns && p->start_ns[i] < to_ns) {
            v[n++] = p->lat_ns[i];
            out->over_10ms += p->lat_ns[i] > 10000000u;
        }
    out->count = n;
    if (n > 0) {
        qsort(v, n, sizeof *v, cmp_u64);
        out->p50 = (double)v[n / 2] / 1e6;
        out->p99 = (double)v[n * 99 / 100] / 1e6;
        out->p999 = (double)v[n * 999 / 1000] / 1e6;
        out->max = (double)v[n - 1] / 1e6;
    }
    free(v);
    return 0;
}

void bm_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f != NULL) {
        fputs("5", f);
        fclose(f);
    }
}

double bm_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

double bm_file_mib(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : -1;
}

static double disk_mib(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_blocks * 512.0 / (1024.0 * 1024.0) : -1;
}

/* ---- the chain ------------------------------------------------------------- */

typedef struct mcfg {
    long N, K, G, R, L, H, D;
    uint64_t pace_ns;
    const char *dir;
    bool keep;
    bool want[9]; /* [1..8] */
} mcfg;

typedef struct env {
    char path[4096];
    backend *be;
    lease_lessor *l;
    mvcc_store *kv;
} env;

static int env_open(env *e, const char *path)
{
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path);
    backend_options bo;
    backend_options_init(&bo); /* etcd's defaults: 100 ms, 10,000, fdatasync per commit */
    int rc = backend_open(e->path, &bo, &e->be);
    if (rc != 0)
        return rc;
    lease_options lo;
    lease_options_init(&lo);
    if ((rc = lease_lessor_open(e->be, &lo, &e->l)) != 0)
        return rc;
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = e->l;
    return mvcc_store_open(e->be, &mo, &e->kv);
}

static int env_close(env *e)
{
    int rc = mvcc_store_close(e->kv);
    int r2 = e->l != NULL ? lease_lessor_close(e->l) : 0;
    int r3 = e->be != NULL ? backend_close(e->be) : 0;
    e->kv = NULL;
    e->l = NULL;
    e->be = NULL;
    return rc != 0 ? rc : r2 != 0 ? r2 : r3;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "strata bench mvcc: %s: %s\n", what, cli_strerror(rc));
    return CLI_INTERNAL;
}

/* The highest peak RSS of any phase: each phase resets VmHWM (and with it
 * getrusage's ru_maxrss), so the chain's peak is kept here. */
static double chain_peak_mib;

/* --phase-times: each phase's measured window on CLOCK_MONOTONIC, for
 * `perf record -k CLOCK_MONOTONIC` and `perf report --time START,END`
 * (docs/bench-mvcc.md's per-phase profiles). */
static bool phase_times;

static void report(const char *name, double ops, double wall, const char *path, const char *extra)
{
    if (phase_times) {
        double end = (double)bm_mono_ns() / 1e9;
        fprintf(stderr, "# phase %s %.6f,%.6f\n", name, end - wall, end);
    }
    double rss = bm_rss_mib();
    if (rss > chain_peak_mib)
        chain_peak_mib = rss;
    printf("%s %.1f %.6f %.1f %s disk_mib=%.1f rss_mib=%.1f\n", name, wall > 0 ? ops / wall : 0,
           wall, bm_file_mib(path), extra, disk_mib(path), rss);
    fflush(stdout);
}

static double secs(uint64_t a, uint64_t b)
{
    return (double)(b - a) / 1e9;
}

/* The puts of M1 (and M8): put i writes key rnd(i) mod K at revision i + 2. */
static int put_stream(const mcfg *c, const bm_data *d, mvcc_store *kv)
{
    for (long i = 0; i < c->N; i++) {
        int rc = mvcc_store_put(kv, bm_key(d, bm_rnd((uint64_t)i) % (uint64_t)c->K), BM_KEY_LEN,
                                d->vals[i & 255], BM_VSIZE, 0, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int run_reads(const mcfg *c, const bm_data *d, env *e, const bool *written)
{
    mvcc_range_result res;
    mvcc_range_result_init(&res);
    char extra[256];
    int rc = 0;
    if (c->want[2]) {
        bm_rss_reset();
        long hits = 0, expect = 0;
        uint64_t t0 = bm_mono_ns();
        for (long i = 0; i < c->G && rc == 0; i++) {
            uint64_t k = bm_rnd((uint64_t)i) % (uint64_t)c->K;
            rc = mvcc_store_range(e->kv, bm_key(d, k), BM_KEY_LEN, NULL, 0, NULL, &res);
            hits += (long)res.n;
            expect += written[k];
        }
        double wall = secs(t0, bm_mono_ns());
        if (rc != 0)
            goto out;
        if (hits != expect) {
            fprintf(stderr, "strata bench mvcc: M2: %ld hits, %ld keys written\n", hits, expect);
            rc = STRATA_EMISUSE;
            goto out;
        }
        snprintf(extra, sizeof extra, "gets=%ld hits=%ld", c->G, hits);
        report("M2", (double)c->G, wall, e->path, extra);
    }
    if (c->want[3]) {
        bm_rss_reset();
        long nkv = 0, expect = 0;
        uint64_t span = (uint64_t)(c->K - c->L + 1);
        uint64_t t0 = bm_mono_ns();
        for (long i = 0; i < c->R && rc == 0; i++) {
            uint64_t s = bm_rnd((uint64_t)i) % span;
            rc = mvcc_store_range(e->kv, bm_key(d, s), BM_KEY_LEN, bm_key(d, s + (uint64_t)c->L),
                                  BM_KEY_LEN, NULL, &res);
            nkv += (long)res.n;
            for (long j = 0; j < c->L; j++)
                expect += written[s + (uint64_t)j];
        }
        double wall = secs(t0, bm_mono_ns());
        if (rc != 0)
            goto out;
        if (nkv != expect) {
            fprintf(stderr, "strata bench mvcc: M3: %ld kvs, %ld expected\n", nkv, expect);
            rc = STRATA_EMISUSE;
            goto out;
        }
        snprintf(extra, sizeof extra, "ranges=%ld rangelen=%ld kvs=%ld kvs_per_s=%.1f", c->R, c->L,
                 nkv, wall > 0 ? (double)nkv / wall : 0);
        report("M3", (double)c->R, wall, e->path, extra);
    }
    if (c->want[4]) {
        bm_rss_reset();
        int64_t cur = mvcc_store_rev(e->kv), first = mvcc_store_compact_rev(e->kv);
        int64_t lo = first + 1 > 2 ? first + 1 : 2;
        uint64_t span = (uint64_t)(cur - lo + 1);
        long hits = 0;
        uint64_t t0 = bm_mono_ns();
        for (long i = 0; i < c->H && rc == 0; i++) {
            uint64_t k = bm_rnd((uint64_t)i) % (uint64_t)c->K;
            mvcc_range_options o = { .rev = lo +
                                            (int64_t)(bm_rnd((1ull << 32) + (uint64_t)i) % span) };
            rc = mvcc_store_range(e->kv, bm_key(d, k), BM_KEY_LEN, NULL, 0, &o, &res);
            hits += (long)res.n;
        }
        double wall = secs(t0, bm_mono_ns());
        if (rc != 0)
            goto out;
        snprintf(extra, sizeof extra, "reads=%ld hits=%ld revlo=%" PRId64 " revhi=%" PRId64, c->H,
                 hits, lo, cur);
        report("M4", (double)c->H, wall, e->path, extra);
    }
out:
    mvcc_range_result_release(&res);
    return rc;
}

static int chain_store(const mcfg *c, const bm_data *d)
{
    char path[4096], extra[768];
    snprintf(path, sizeof path, "%s/m.db", c->dir);
    unlink(path);
    env e;
    int rc = env_open(&e, path);
    if (rc != 0)
        return fail("open", rc);
    bool *written = calloc((size_t)c->K + (size_t)c->L + 1, 1);
    if (written == NULL)
        return fail("memory", -ENOMEM);
    for (long i = 0; i < c->N; i++)
        written[bm_rnd((uint64_t)i) % (uint64_t)c->K] = true;

    /* M1 (always: the others read what it wrote) */
    bm_rss_reset();
    uint64_t t0 = bm_mono_ns();
    rc = put_stream(c, d, e.kv);
    if (rc == 0)
        rc = backend_force_commit(e.be);
    double wall = secs(t0, bm_mono_ns());
    if (rc != 0)
        return fail("M1", rc);
    snprintf(extra, sizeof extra, "puts=%ld keys=%ld rev=%" PRId64, c->N, c->K,
             mvcc_store_rev(e.kv));
    if (c->want[1])
        report("M1", (double)c->N, wall, path, extra);

    if ((rc = run_reads(c, d, &e, written)) != 0)
        return fail("M2..M4", rc);

    int64_t entries = 0, target = 0;
    bool compacted = false;
    if (c->want[5]) {
        bm_rss_reset();
        int64_t cur = mvcc_store_rev(e.kv);
        target = cur - c->D < 2 ? 2 : cur - c->D;
        /* Bookkeeping as the peer's: revisions <= target hold target - 1 puts;
         * kept = the distinct keys among puts 0..target-2. */
        bool *seen = calloc((size_t)c->K, 1);
        if (seen == NULL)
            return fail("memory", -ENOMEM);
        int64_t kept = 0;
        for (int64_t i = 0; i <= target - 2 && i < c->N; i++) {
            uint64_t x = bm_rnd((uint64_t)i) % (uint64_t)c->K;
            kept += !seen[x];
            seen[x] = true;
        }
        free(seen);
        int64_t removed = (target - 1) - kept;
        bm_putter pt;
        if ((rc = bm_putter_start(&pt, e.kv, d, (uint64_t)c->K, (uint64_t)c->N, c->pace_ns)) != 0)
            return fail("putter", rc);
        /* 500 ms of the putter alone: the p99 "without compaction" */
        struct timespec half = { 0, 500000000 };
        nanosleep(&half, NULL);
        uint64_t c0 = bm_mono_ns();
        rc = mvcc_store_compact(e.kv, target);
        if (rc == 0)
            rc = mvcc_store_compact_wait(e.kv);
        uint64_t c1 = bm_mono_ns();
        int prc = bm_putter_stop(&pt);
        if (rc != 0 || prc != 0) {
            bm_putter_free(&pt);
            return fail("M5", rc != 0 ? rc : prc);
        }
        compacted = true;
        bm_lat during, alone;
        bm_lat_window(&pt, c0 - pt.t0, c1 - pt.t0, &during);
        bm_lat_window(&pt, 0, c0 - pt.t0, &alone);
        bm_putter_free(&pt);
        if ((rc = backend_force_commit(e.be)) != 0)
            return fail("M5 commit", rc);
        int64_t now = mvcc_store_rev(e.kv);
        entries = kept + (now - target);
        wall = secs(c0, c1);
        snprintf(extra, sizeof extra,
                 "compact_rev=%" PRId64 " removed=%" PRId64 " kept=%" PRId64
                 " max_stall_ms=%.2f p99_put_ms=%.3f p50_put_ms=%.3f p99_alone_ms=%.3f "
                 "concurrent_puts=%zu over_10ms=%zu pace_us=%.0f rev=%" PRId64,
                 target, removed, kept, during.max, during.p99, during.p50, alone.p99, during.count,
                 during.over_10ms, (double)c->pace_ns / 1e3, now);
        report("M5", (double)removed, wall, path, extra);
    }

    if (c->want[6]) {
        bm_rss_reset();
        if (!compacted)
            entries = mvcc_store_rev(e.kv) - 1;
        double before = bm_file_mib(path);
        uint64_t sz1 = backend_size(e.be), use1 = backend_size_in_use(e.be);
        bm_putter pt;
        if ((rc = bm_putter_start(&pt, e.kv, d, (uint64_t)c->K, (uint64_t)c->N + (1u << 30),
                                  c->pace_ns)) != 0)
            return fail("putter", rc);
        struct timespec settle = { 0, 20000000 };
        nanosleep(&settle, NULL);
        backend_defrag_stats st = { 0 };
        uint64_t c0 = bm_mono_ns();
        rc = mvcc_store_defrag(e.kv, &st);
        uint64_t c1 = bm_mono_ns();
        int prc = bm_putter_stop(&pt);
        if (rc != 0 || prc != 0) {
            bm_putter_free(&pt);
            return fail("M6", rc != 0 ? rc : prc);
        }
        bm_lat during;
        bm_lat_window(&pt, c0 - pt.t0, c1 - pt.t0, &during);
        bm_putter_free(&pt);
        double after = bm_file_mib(path);
        uint64_t sz2 = backend_size(e.be), use2 = backend_size_in_use(e.be);
        wall = secs(c0, c1);
        const double M = 1024.0 * 1024.0;
        snprintf(extra, sizeof extra,
                 "file_before_mib=%.1f file_after_mib=%.1f size_before_mib=%.1f "
                 "inuse_before_mib=%.1f size_after_mib=%.1f inuse_after_mib=%.1f "
                 "key_entries=%" PRId64 " keys_copied=%" PRIu64 " keys_replayed=%" PRIu64
                 " writer_lockout_ms=%.2f max_stall_ms=%.2f p99_put_ms=%.3f p50_put_ms=%.3f "
                 "concurrent_puts=%zu over_10ms=%zu",
                 before, after, (double)sz1 / M, (double)use1 / M, (double)sz2 / M,
                 (double)use2 / M, entries, st.keys_copied, st.keys_replayed,
                 (double)st.stall_ns / 1e6, during.max, during.p99, during.p50, during.count,
                 during.over_10ms);
        report("M6", (double)entries, wall, path, extra);
    }

    if (c->want[7]) {
        if (entries == 0)
            entries = mvcc_store_rev(e.kv) - 1;
        int64_t rev_before = mvcc_store_rev(e.kv);
        uint64_t tc = bm_mono_ns();
        if ((rc = env_close(&e)) != 0)
            return fail("M7 close", rc);
        double close_s = secs(tc, bm_mono_ns());
        bm_rss_reset();
        t0 = bm_mono_ns();
        rc = env_open(&e, path);
        wall = secs(t0, bm_mono_ns());
        if (rc != 0)
            return fail("M7 open", rc);
        int64_t rev_after = mvcc_store_rev(e.kv);
        if (rev_after != rev_before) {
            fprintf(stderr,
                    "strata bench mvcc: M7: revision %" PRId64 " after reopen, %" PRId64
                    " before\n",
                    rev_after, rev_before);
            return CLI_INTERNAL;
        }
        snprintf(extra, sizeof extra,
                 "close_s=%.3f rev_before=%" PRId64 " rev_after=%" PRId64 " key_entries=%" PRId64,
                 close_s, rev_before, rev_after, entries);
        report("M7", (double)entries, wall, path, extra);
    }
    free(written);
    if ((rc = env_close(&e)) != 0)
        return fail("close", rc);
    if (!c->keep)
        unlink(path);
    return CLI_OK;
}

/* ---- M8 ------------------------------------------------------------------------ */

typedef struct m8_watcher {
    int64_t *revs;  /* the revisions it must see, ascending */
    uint64_t *keyi; /* and the key index of each */
    uint8_t *got;   /* received flags */
    size_t n, cap;
    int64_t last;
    long recv, dup, reordered, wrong;
} m8_watcher;

typedef struct m8 {
    const bm_data *d;
    m8_watcher *w;
    size_t W, nS;
    atomic_long total;
    atomic_long compacted_resp;
    _Atomic uint64_t last_event_ns;
    atomic_bool stop;
    long expected;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} m8;

typedef struct m8_consumer {
    m8 *m;
    mvcc_watch_stream *ws;
    int rc;
    pthread_t thread;
} m8_consumer;

static void m8_event(m8 *m, m8_watcher *w, const mvcc_event *ev)
{
    int64_t r = ev->kv.mod_revision;
    w->recv++;
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->revs[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == w->n || w->revs[lo] != r) {
        w->wrong++; /* an event of a revision that did not touch its keys */
        return;
    }
    /* put i was at revision i + 2: its key and value are known */
    uint64_t i = (uint64_t)(r - 2);
    if (ev->type != MVCC_EVENT_PUT || ev->kv.key_len != BM_KEY_LEN ||
        memcmp(ev->kv.key, bm_key(m->d, w->keyi[lo]), BM_KEY_LEN) != 0 ||
        ev->kv.value_len != BM_VSIZE || memcmp(ev->kv.value, m->d->vals[i & 255], BM_VSIZE) != 0) {
        w->wrong++;
        return;
    }
    if (w->got[lo]) {
        w->dup++;
        return;
    }
    w->got[lo] = 1;
    if (r < w->last)
        w->reordered++;
    else
        w->last = r;
}

static void *m8_consume(void *arg)
{
    m8_consumer *c = arg;
    m8 *m = c->m;
    while (!atomic_load(&m->stop)) {
        mvcc_watch_response *r;
        int rc = mvcc_watch_stream_recv(c->ws, 100, &r);
        if (rc == -ETIMEDOUT || rc == -EAGAIN)
            continue;
        if (rc != 0) {
            c->rc = rc;
            break;
        }
        if (r->kind == MVCC_WATCH_COMPACTED)
            atomic_fetch_add(&m->compacted_resp, 1);
        else if (r->kind == MVCC_WATCH_EVENTS && r->watch_id >= 1 && (size_t)r->watch_id <= m->W) {
            m8_watcher *w = &m->w[r->watch_id - 1];
            for (size_t k = 0; k < r->n_events; k++)
                m8_event(m, w, r->events[k]);
            if (r->n_events > 0) {
                atomic_store(&m->last_event_ns, bm_mono_ns());
                long t = atomic_fetch_add(&m->total, (long)r->n_events) + (long)r->n_events;
                if (t >= m->expected) {
                    pthread_mutex_lock(&m->mu);
                    pthread_cond_broadcast(&m->cv);
                    pthread_mutex_unlock(&m->mu);
                }
            }
        }
        mvcc_watch_response_free(r);
    }
    return NULL;
}

static int m8_add(m8_watcher *w, int64_t rev, uint64_t k)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        int64_t *r = realloc(w->revs, cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        w->revs = r;
        uint64_t *ki = realloc(w->keyi, cap * sizeof *ki);
        if (ki == NULL)
            return -ENOMEM;
        w->keyi = ki;
        w->cap = cap;
    }
    w->revs[w->n] = rev;
    w->keyi[w->n] = k;
    w->n++;
    return 0;
}

enum { M8_SINGLE = 900, M8_PREFIX = 100, M8_STREAMS = 10 };

static int chain_m8(const mcfg *c, const bm_data *d)
{
    char path[4096], extra[768];
    snprintf(path, sizeof path, "%s/m8.db", c->dir);
    unlink(path);
    bm_rss_reset();
    env e;
    int rc = env_open(&e, path);
    if (rc != 0)
        return fail("M8 open", rc);
    const size_t nS = M8_SINGLE, nP = M8_PREFIX, S = M8_STREAMS, W = nS + nP;
    uint64_t K = (uint64_t)c->K;
    uint64_t stride1 = K / nS ? K / nS : 1, stride2 = K / (100 * nP) ? K / (100 * nP) : 1;
    m8 m = { .d = d, .W = W, .nS = nS };
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    m.w = calloc(W, sizeof *m.w);
    int64_t *single_of = malloc(K * sizeof *single_of); /* key index -> single watcher, -1 */
    if (m.w == NULL || single_of == NULL)
        return fail("memory", -ENOMEM);
    for (uint64_t k = 0; k < K; k++)
        single_of[k] = -1;
    for (size_t j = 0; j < nS; j++)
        if (j * stride1 < K && single_of[j * stride1] < 0)
            single_of[j * stride1] = (int64_t)j;
    /* The history the watchers must see (the peer's layout). */
    for (long i = 0; i < c->N && rc == 0; i++) {
        uint64_t x = bm_rnd((uint64_t)i) % K;
        if (single_of[x] >= 0)
            rc = m8_add(&m.w[single_of[x]], i + 2, x);
        uint64_t q = x / 100;
        if (rc == 0 && q % stride2 == 0 && q / stride2 < nP)
            rc = m8_add(&m.w[nS + q / stride2], i + 2, x);
    }
    free(single_of);
    for (size_t g = 0; g < W && rc == 0; g++) {
        m.expected += (long)m.w[g].n;
        m.w[g].got = calloc(m.w[g].n + 1, 1);
        if (m.w[g].got == NULL)
            rc = -ENOMEM;
    }
    if (rc != 0)
        return fail("M8 history", rc);

    mvcc_watch_stream *ws[M8_STREAMS];
    m8_consumer cons[M8_STREAMS];
    for (size_t s = 0; s < S; s++)
        if ((rc = mvcc_watch_stream_open(e.kv, NULL, &ws[s])) != 0)
            return fail("M8 watch stream", rc);
    for (size_t g = 0; g < W; g++) {
        char pfx[32], end[32];
        mvcc_watch_request req = { .id = (int64_t)g + 1 };
        if (g < nS) {
            /* key-%08d of index g * stride1 (beyond K when K < 900: never put) */
            snprintf(pfx, sizeof pfx, "key-%08zu", (size_t)(g * stride1));
            req.key = pfx;
            req.key_len = BM_KEY_LEN;
        } else {
            int n = snprintf(pfx, sizeof pfx, "key-%06zu", (g - nS) * stride2);
            memcpy(end, pfx, (size_t)n);
            end[n - 1]++;
            req.key = pfx;
            req.key_len = (size_t)n;
            req.end = end;
            req.end_len = (size_t)n;
        }
        int64_t id;
        if ((rc = mvcc_watch(ws[g % S], &req, &id)) != 0)
            return fail("M8 watch", rc);
    }
    for (size_t s = 0; s < S; s++) {
        cons[s] = (m8_consumer){ .m = &m, .ws = ws[s] };
        if ((rc = pthread_create(&cons[s].thread, NULL, m8_consume, &cons[s])) != 0)
            return fail("M8 thread", -rc);
    }

    uint64_t t0 = bm_mono_ns();
    atomic_store(&m.last_event_ns, t0);
    rc = put_stream(c, d, e.kv);
    if (rc == 0)
        rc = backend_force_commit(e.be);
    double put_wall = secs(t0, bm_mono_ns());
    bool timed_out = false;
    pthread_mutex_lock(&m.mu);
    while (rc == 0 && atomic_load(&m.total) < m.expected) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        pthread_cond_timedwait(&m.cv, &m.mu, &dl);
        if (bm_mono_ns() - atomic_load(&m.last_event_ns) > 30000000000ull) {
            timed_out = true;
            break;
        }
    }
    pthread_mutex_unlock(&m.mu);
    uint64_t t_end = atomic_load(&m.last_event_ns);
    atomic_store(&m.stop, true);
    int crc = 0;
    for (size_t s = 0; s < S; s++) {
        pthread_join(cons[s].thread, NULL);
        if (crc == 0)
            crc = cons[s].rc;
    }
    for (size_t s = 0; s < S; s++)
        mvcc_watch_stream_close(ws[s]);
    if (rc != 0 || crc != 0)
        return fail("M8", rc != 0 ? rc : crc);
    long lost = 0, dup = 0, reordered = 0, wrong = 0;
    for (size_t g = 0; g < W; g++) {
        for (size_t k = 0; k < m.w[g].n; k++)
            lost += !m.w[g].got[k];
        dup += m.w[g].dup;
        reordered += m.w[g].reordered;
        wrong += m.w[g].wrong;
        free(m.w[g].revs);
        free(m.w[g].keyi);
        free(m.w[g].got);
    }
    free(m.w);
    double wall = secs(t0, t_end);
    long total = atomic_load(&m.total);
    snprintf(extra, sizeof extra,
             "events=%ld expected=%ld lost=%ld reordered=%ld dup=%ld wrong_key=%ld "
             "compacted_resp=%ld timed_out=%s watchers=%zu single=%zu prefix=%zu streams=%zu "
             "puts=%ld put_ops_s=%.1f put_wall_s=%.3f",
             total, m.expected, lost, reordered, dup, wrong, atomic_load(&m.compacted_resp),
             timed_out ? "true" : "false", W, nS, nP, S, c->N,
             put_wall > 0 ? (double)c->N / put_wall : 0, put_wall);
    report("M8", (double)total, wall, path, extra);
    pthread_mutex_destroy(&m.mu);
    pthread_cond_destroy(&m.cv);
    if ((rc = env_close(&e)) != 0)
        return fail("M8 close", rc);
    if (!c->keep)
        unlink(path);
    return CLI_OK;
}

/* ---- the command ---------------------------------------------------------------- */

static long scaled(long v, double f)
{
    long r = (long)((double)v * f);
    return r < 1 ? 1 : r;
}

/* `strata bench mvcc`'s options (the table behind --help, completion and the man page). */
enum { OPT_DIR = 2000, OPT_SCALE, OPT_KEEP, OPT_PACE, OPT_PHASES };
static const cli_option bench_mvcc_options[] = {
    { "puts", 'n', "N", "M1/M8 puts (default 1000000)", NULL },
    { "keys", 'k', "K", "distinct keys (default 100000)", NULL },
    { "scale", OPT_SCALE, "F", "multiply N, K and the M2..M5 counts by F (as the peer's -scale)",
      NULL },
    { "workloads", 'w', "LIST",
      "workloads, comma-separated (default M1,...,M8; M2..M7 run\nafter M1)", NULL },
    { "dir", OPT_DIR, "DIR", "data directory (default /tmp/stratabench-mvcc)", "dir" },
    { "pace-us", OPT_PACE, "US", "M5/M6 concurrent putter's interval (default 1000, the peer's)",
      NULL },
    { "keep", OPT_KEEP, NULL, "keep the files", NULL },
    { "phase-times", OPT_PHASES, NULL,
      "print each phase's window on CLOCK_MONOTONIC to stderr\n"
      "(\"# phase M2 START,END\", for perf report --time)",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct mvcc_args {
    long n, k, pace_us;
    double scale;
    mcfg *c;
} mvcc_args;

/* -n, -k, --pace-us: a count of at least 1 (its upper bound checked once scaled). */
static int mvcc_count(const char *what, const char *arg, long *out)
{
    uint64_t v;
    if (cli_parse_u64("bench mvcc", what, arg, &v) != 0)
        return -1;
    if (v < 1 || v > 1000000000) {
        fprintf(stderr, "strata bench mvcc: %s %s is not in 1..1000000000\n", what, arg);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int mvcc_option(int opt, const char *arg, void *ctx)
{
    mvcc_args *a = ctx;
    switch (opt) {
    case 'n':
        return mvcc_count("-n", arg, &a->n);
    case 'k':
        return mvcc_count("-k", arg, &a->k);
    case OPT_PACE:
        return mvcc_count("--pace-us", arg, &a->pace_us);
    case OPT_SCALE:
        if (cli_parse_double("bench mvcc", "--scale", arg, &a->scale) != 0)
            return -1;
        if (!(a->scale > 0)) {
            fprintf(stderr, "strata bench mvcc: --scale %s is not above 0\n", arg);
            return -1;
        }
        return 0;
    case 'w': {
        bool want[9] = { false };
        const char *p = arg;
        while (*p != '\0') {
            size_t len = strcspn(p, ",");
            if (len == 0) {
                /* an empty element (",,") names nothing, as strtok skipped it */
            } else if (len == 2 && (p[0] == 'M' || p[0] == 'm') && p[1] >= '1' && p[1] <= '8') {
                want[p[1] - '0'] = true;
            } else {
                fprintf(stderr, "strata bench mvcc: unknown workload '%.*s'\n", (int)len, p);
                return -1;
            }
            p += len;
            if (*p == ',')
                p++;
        }
        memcpy(a->c->want, want, sizeof want);
        return 0;
    }
    case OPT_DIR:
        a->c->dir = arg;
        return 0;
    case OPT_KEEP:
        a->c->keep = true;
        return 0;
    case OPT_PHASES:
        phase_times = true;
        return 0;
    default:
        return -1;
    }
}

const cli_command_spec bench_mvcc_spec = {
    .name = "bench mvcc",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_JSON,
    .options = bench_mvcc_options,
    .on_option = mvcc_option,
    .synopsis = "[-n N] [-k K] [--scale F] [-w M1,...] [--dir DIR] [--pace-us US]\n"
                "                         [--keep] [--phase-times]",
    .about = "docs/bench.md's M1..M8 over the mvcc store (peer: peers/etcd/mvccbench),\n"
             "etcd's backend defaults (batch interval 100 ms, limit 10,000, a sync per\n"
             "commit). Output: NAME OPS_PER_S WALL_S FILE_MIB key=value... per\n"
             "workload, then peak_rss_mib.",
    .json = BENCH_JSON_FIELDS,
    .example = "$ strata bench mvcc --scale 0.1 --dir /tmp/bench\n"
               "$ strata bench mvcc --scale 0.5 -w M1,M2,M3 --phase-times --dir /tmp/bench",
};

int bench_mvcc(int argc, char **argv)
{
    mcfg c = { .dir = "/tmp/stratabench-mvcc" };
    for (int i = 1; i <= 8; i++)
        c.want[i] = true; /* -w's default: M1,...,M8 */
    mvcc_args args = { .n = 1000000, .k = 100000, .pace_us = 1000, .scale = 1.0, .c = &c };
    int parsed = bench_parse(&bench_mvcc_spec, argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    long n = args.n, k = args.k, pace_us = args.pace_us;
    double scale = args.scale;
    if (scaled(n, scale) > 100000000 || scaled(k, scale) > 100000000) {
        fprintf(stderr, "strata bench mvcc: N and K, scaled, must be at most 100000000\n");
        cli_usage(&bench_mvcc_spec, stderr);
        return CLI_USAGE;
    }
    c.N = scaled(n, scale);
    c.K = scaled(k, scale);
    c.G = scaled(100000, scale);
    c.R = scaled(10000, scale);
    c.H = scaled(100000, scale);
    c.D = scaled(100000, scale);
    c.L = c.K < 100 ? c.K : 100;
    c.pace_ns = (uint64_t)pace_us * 1000u;
    if (mkdir(c.dir, 0755) != 0 && errno != EEXIST)
        return fail(c.dir, -errno);
    bm_data d;
    if (bm_data_init(&d, (size_t)c.K + (size_t)c.L + 1) != 0)
        return fail("memory", -ENOMEM);
    printf("# name ops_per_s wall_s file_mib [extras]\n");
    fprintf(stderr,
            "# strata bench mvcc: N=%ld K=%ld vsize=%d gets=%ld ranges=%ld rangelen=%ld "
            "hist=%ld compactdist=%ld pace_us=%ld batch=100ms/10000 dir=%s\n",
            c.N, c.K, BM_VSIZE, c.G, c.R, c.L, c.H, c.D, pace_us, c.dir);
    int st = CLI_OK;
    if (c.want[1] || c.want[2] || c.want[3] || c.want[4] || c.want[5] || c.want[6] || c.want[7])
        st = chain_store(&c, &d);
    if (st == CLI_OK && c.want[8])
        st = chain_m8(&c, &d);
    bm_data_free(&d);
    if (st != CLI_OK)
        return st;
    double now = bm_rss_mib();
    printf("peak_rss_mib %.1f\n", now > chain_peak_mib ? now : chain_peak_mib);
    return CLI_OK;
}
