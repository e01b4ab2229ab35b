/*
 * bench_lease.c: `strata bench lease`: the lessor at scale, over a real
 * backend and mvcc store in a temporary directory (issue 14's figures).
 *
 *   L-grant    N grants on a primary lessor (each writes its record into
 *              the batch), grants per second
 *   L-put      N leased puts (one key per lease; each a write txn of the
 *              store that attaches the key), puts per second
 *   L-renew    N renews, renews per second
 *   L-revoke   N revokes of a lease with one key (one write txn and one
 *              revision each: tombstone + record delete), revokes per second
 *   L-revoke-big  one revoke of a lease with K keys (default 100,000): one
 *              revision; deleted keys per second; a putter thread meanwhile
 *              reports its longest put (the stall the revoke causes); the
 *              revoking thread's page faults (first touches of memory: on
 *              a VM each can cost milliseconds, docs/lease.md)
 *   L-expiry   M leases (default 1,000,000) with one key each, granted at the
 *              same clock instant so they all expire at the same moment; the
 *              lessor's thread offers them (no rate limit) and revokes them
 *              (auto_revoke): seconds from the expiry moment until all were
 *              offered and until all were revoked; a putter's p99 put latency
 *              during that window against its p99 alone (the same putter
 *              over the same store just before, for the same time); the
 *              CPU time of the whole process in each window
 *              (proc_cpu_s_alone/expiry: what the expiry cost all threads,
 *              the commit thread's deferred deletes included).
 *
 * The lessor's clock (a strata_clock of this file) stands still while the
 * leases are granted and runs with the monotonic clock from the moment
 * the expiry phase starts; expiry = that moment + the TTL (--ttl, 1 s).
 *
 * Output: one bench line per phase (docs/bench.md: NAME OPS_PER_S WALL_S
 * FILE_MIB key=value...), then peak_rss_mib.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strata/lease.h>
#include <strata/mvcc.h>

#include "bench_json.h"
#include "bench_lease.h"
#include "cli.h"
#include "cli_db.h"
#include "cli_util.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread: what an operation costs when the machine is shared. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (every thread: revoker, commit thread, putter). */
static uint64_t proc_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double file_mib(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0;
}

/* ---- the bench clock: frozen, then the monotonic clock ------------------- */

typedef struct bench_clock {
    strata_clock clock;       /* first member */
    _Atomic uint64_t base;    /* the clock's reading while frozen / at the thaw */
    _Atomic uint64_t thaw_at; /* mono_ns() at the thaw; 0 = frozen */
} bench_clock;

static uint64_t bench_clock_now(strata_clock *c)
{
    bench_clock *b = (bench_clock *)c;
    uint64_t t = atomic_load(&b->thaw_at);
    uint64_t base = atomic_load(&b->base);
    return t == 0 ? base : base + (mono_ns() - t);
}

/* ---- the putter thread ----------------------------------------------------- */

typedef struct putter {
    mvcc_store *kv;
    atomic_bool stop;
    atomic_bool recording;
    uint64_t *lat; /* latencies (ns) while recording */
    size_t n, cap;
    uint64_t max_ns;
    uint32_t rate; /* puts per second, paced; 0 = as fast as it can */
    /*
     * Puts slower than slow_ns while recording, by what the thread's context
     * switches say happened during them: preempted (an involuntary switch:
     * the CPU was taken away), blocked (a voluntary one: it slept on a lock),
     * neither (it ran or spun the whole time).
     */
    uint64_t slow_ns;
    size_t slow_preempted, slow_blocked, slow_running;
    /* The same count over slow2_ns (set to twice the p99 alone for the expiry window). */
    uint64_t slow2_ns;
    size_t slow2[3];
    int rc;
    pthread_t thread;
} putter;

static void *putter_main(void *arg)
{
    putter *p = arg;
    char key[32];
    uint64_t i = 0, next = mono_ns();
    while (!atomic_load(&p->stop)) {
        if (p->rate != 0) {
            /* Paced: one put every 1/rate s (a late put does not make up for lost time). */
            next += 1000000000u / p->rate;
            uint64_t now = mono_ns();
            if (now < next) {
                struct timespec ts = { (time_t)((next - now) / 1000000000u),
                                       (long)((next - now) % 1000000000u) };
                nanosleep(&ts, NULL);
            } else {
                next = now;
            }
        }
        snprintf(key, sizeof key, "putter-%04" PRIu64, i++ % 1000);
        struct rusage r0, r1;
        getrusage(RUSAGE_THREAD, &r0);
        uint64_t t0 = mono_ns();
        int64_t rev;
        int rc = mvcc_store_put(p->kv, key, strlen(key), "value-of-the-putter", 19, 0, &rev);
        uint64_t d = mono_ns() - t0;
        getrusage(RUSAGE_THREAD, &r1);
        if (rc != 0) {
            p->rc = rc;
            break;
        }
        if (atomic_load(&p->recording)) {
            if (p->n < p->cap)
                p->lat[p->n++] = d;
            if (d > p->max_ns)
                p->max_ns = d;
            int why = r1.ru_nivcsw != r0.ru_nivcsw ? 0 : r1.ru_nvcsw != r0.ru_nvcsw ? 1 : 2;
            size_t *slow = why == 0   ? &p->slow_preempted
                           : why == 1 ? &p->slow_blocked
                                      : &p->slow_running;
            if (p->slow_ns != 0 && d > p->slow_ns)
                (*slow)++;
            if (p->slow2_ns != 0 && d > p->slow2_ns)
                p->slow2[why]++;
        }
    }
    return NULL;
}

static int putter_start(putter *p, mvcc_store *kv, size_t cap, uint32_t rate)
{
    memset(p, 0, sizeof *p);
    p->kv = kv;
    p->rate = rate;
    p->cap = cap;
    p->lat = malloc(cap * sizeof *p->lat);
    if (p->lat == NULL)
        return -ENOMEM;
    int rc = pthread_create(&p->thread, NULL, putter_main, p);
    if (rc != 0) {
        free(p->lat);
        return -rc;
    }
    return 0;
}

/* Recording window: forget what was recorded, record from now on. */
static void putter_window(putter *p, bool on)
{
    if (on) {
        atomic_store(&p->recording, false);
        p->n = 0;
        p->max_ns = 0;
        p->slow_preempted = p->slow_blocked = p->slow_running = 0;
        p->slow2[0] = p->slow2[1] = p->slow2[2] = 0;
    }
    atomic_store(&p->recording, on);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles of the recorded window (stop recording first); 0 when empty. */
typedef struct putter_pcts {
    double p50, p99, p999, max; /* microseconds */
} putter_pcts;

static putter_pcts putter_percentiles(putter *p)
{
    putter_pcts r = { 0, 0, 0, 0 };
    if (p->n == 0)
        return r;
    qsort(p->lat, p->n, sizeof *p->lat, cmp_u64);
    r.p50 = (double)p->lat[p->n / 2] / 1000.0;
    r.p99 = (double)p->lat[(p->n * 99) / 100] / 1000.0;
    r.p999 = (double)p->lat[(p->n * 999) / 1000] / 1000.0;
    r.max = (double)p->lat[p->n - 1] / 1000.0;
    return r;
}

static int putter_stop(putter *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    free(p->lat);
    return p->rc;
}

/* ---- the stack ---------------------------------------------------------------- */

typedef struct stack {
    char path[4096];
    backend *be;
    lease_lessor *l;
    mvcc_store *kv;
} stack;

static uint32_t batch_limit; /* --batch-limit: the backend's; 0 = its default (10,000) */
static int32_t lessor_nice;  /* --lessor-nice as lease_options.thread_nice: 0 = its default */

static int stack_open(stack *s, const char *dir, const char *name, const lease_options *lo)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/%s", dir, name);
    unlink(s->path);
    backend_options bo;
    backend_options_init(&bo);
    bo.batch_limit = batch_limit;
    int rc = backend_open(s->path, &bo, &s->be);
    if (rc != 0)
        return rc;
    if ((rc = lease_lessor_open(s->be, lo, &s->l)) != 0)
        return rc;
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = s->l;
    if ((rc = mvcc_store_open(s->be, &mo, &s->kv)) != 0)
        return rc;
    lease_lessor_promote(s->l, 0);
    return 0;
}

static int stack_close(stack *s, bool keep)
{
    int rc = mvcc_store_close(s->kv);
    int r2 = lease_lessor_close(s->l);
    int r3 = backend_close(s->be);
    if (!keep)
        unlink(s->path);
    return rc != 0 ? rc : r2 != 0 ? r2 : r3;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "strata bench lease: %s: %s\n", what, cli_strerror(rc));
    return CLI_INTERNAL;
}

static void line(const char *name, double ops, double wall, const char *path, const char *extra)
{
    printf("%s %.1f %.6f %.2f ops=%.0f%s%s\n", name, wall > 0 ? ops / wall : 0, wall,
           file_mib(path), ops, extra[0] != '\0' ? " " : "", extra);
    fflush(stdout);
}

static int leased_key(char *buf, size_t size, int64_t id)
{
    return snprintf(buf, size, "lease-key-%010" PRId64, id);
}

/* ---- L-grant, L-put, L-renew, L-revoke ----------------------------------------- */

static int bench_rates(const char *dir, long n, bool keep)
{
    lease_options lo;
    lease_options_init(&lo);
    lo.checkpoint_off = true;
    stack s;
    int rc = stack_open(&s, dir, "lease-rates.db", &lo);
    if (rc != 0)
        return fail("open", rc);
    char key[48], cpu[64];
    uint64_t t0 = mono_ns(), c0 = thread_cpu_ns();
    for (long i = 1; i <= n; i++)
        if ((rc = lease_grant(s.l, i, 3600, NULL)) != 0)
            return fail("grant", rc);
#define CPU_EXTRA()                                              \
    (snprintf(cpu, sizeof cpu, "cpu_per_s=%.0f",                 \
              (double)n * 1e9 / (double)(thread_cpu_ns() - c0)), \
     cpu)
    line("L-grant", (double)n, (double)(mono_ns() - t0) / 1e9, s.path, CPU_EXTRA());

    t0 = mono_ns();
    c0 = thread_cpu_ns();
    for (long i = 1; i <= n; i++) {
        int kl = leased_key(key, sizeof key, i);
        int64_t rev;
        if ((rc = mvcc_store_put(s.kv, key, (size_t)kl, "v", 1, i, &rev)) != 0)
            return fail("leased put", rc);
    }
    line("L-put", (double)n, (double)(mono_ns() - t0) / 1e9, s.path, CPU_EXTRA());

    t0 = mono_ns();
    c0 = thread_cpu_ns();
    for (long i = 1; i <= n; i++)
        if ((rc = lease_renew(s.l, i, NULL)) != 0)
            return fail("renew", rc);
    line("L-renew", (double)n, (double)(mono_ns() - t0) / 1e9, s.path, CPU_EXTRA());

    int64_t rev0 = mvcc_store_rev(s.kv);
    t0 = mono_ns();
    c0 = thread_cpu_ns();
    for (long i = 1; i <= n; i++)
        if ((rc = lease_revoke(s.l, i)) != 0)
            return fail("revoke", rc);
    double wall = (double)(mono_ns() - t0) / 1e9;
    char extra[192];
    snprintf(extra, sizeof extra, "revisions=%" PRId64 " leases_left=%zu %s",
             mvcc_store_rev(s.kv) - rev0, lease_count(s.l), CPU_EXTRA());
#undef CPU_EXTRA
    line("L-revoke", (double)n, wall, s.path, extra);
    if ((rc = stack_close(&s, keep)) != 0)
        return fail("close", rc);
    return CLI_OK;
}

/* ---- L-revoke-big ---------------------------------------------------------------- */

static int bench_revoke_big(const char *dir, long k, bool keep)
{
    lease_options lo;
    lease_options_init(&lo);
    lo.checkpoint_off = true;
    stack s;
    int rc = stack_open(&s, dir, "lease-big.db", &lo);
    if (rc != 0)
        return fail("open", rc);
    if ((rc = lease_grant(s.l, 1, 3600, NULL)) != 0)
        return fail("grant", rc);
    char key[48];
    /* The keys in write txns of 1,000 puts (the set-up is not timed). */
    for (long i = 0; i < k;) {
        mvcc_txn *t;
        if ((rc = mvcc_txn_write_begin(s.kv, &t)) != 0)
            return fail("txn", rc);
        for (long j = 0; j < 1000 && i < k; j++, i++) {
            int kl = snprintf(key, sizeof key, "big-%08ld", (i * 7919) % k);
            int64_t rev;
            if ((rc = mvcc_txn_put(t, key, (size_t)kl, "value", 5, 1, &rev)) != 0)
                return fail("put", rc);
        }
        int64_t rev;
        if ((rc = mvcc_txn_end(t, &rev)) != 0)
            return fail("txn end", rc);
    }
    if ((rc = mvcc_store_commit(s.kv)) != 0)
        return fail("commit", rc);
    putter p;
    if ((rc = putter_start(&p, s.kv, 1 << 20, 0)) != 0)
        return fail("putter", rc);
    /* Let the putter run a moment, then time the revoke. */
    struct timespec pause = { 0, 100 * 1000000L };
    nanosleep(&pause, NULL);
    putter_window(&p, true);
    int64_t rev0 = mvcc_store_rev(s.kv);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_THREAD, &ru0);
    uint64_t t0 = mono_ns(), c0 = thread_cpu_ns();
    rc = lease_revoke(s.l, 1);
    uint64_t t1 = mono_ns(), c1 = thread_cpu_ns();
    getrusage(RUSAGE_THREAD, &ru1);
    int64_t rev1 = mvcc_store_rev(s.kv);
    nanosleep(&pause, NULL); /* the put that waited on the revoke ends in the window */
    putter_window(&p, false);
    int prc = putter_stop(&p);
    if (rc != 0)
        return fail("revoke", rc);
    if (prc != 0)
        return fail("putter", prc);
    /*
     * rev1 - rev0 = the revoke's one revision + the putter's puts that ended
     * between the two reads (before the revoke took the write lock or after
     * it let go); test_lease_glue proves the revoke is one revision.
     */
    mvcc_range_result rr;
    mvcc_range_result_init(&rr);
    mvcc_range_options ro = { .size = sizeof ro, .count_only = true };
    if ((rc = mvcc_store_range(s.kv, "big-", 4, "big.", 4, &ro, &rr)) != 0)
        return fail("range", rc);
    char extra[256];
    snprintf(extra, sizeof extra,
             "keys=%ld keys_left=%" PRId64 " put_stall_max_ms=%.2f revoke_ms=%.2f "
             "revoke_cpu_ms=%.2f cpu_keys_per_s=%.0f putter_puts_around=%" PRId64
             " revoke_page_faults=%ld revoke_major_faults=%ld",
             k, rr.count, (double)p.max_ns / 1e6, (double)(t1 - t0) / 1e6, (double)(c1 - c0) / 1e6,
             (double)k * 1e9 / (double)(c1 - c0), rev1 - rev0 - 1,
             (ru1.ru_minflt - ru0.ru_minflt) + (ru1.ru_majflt - ru0.ru_majflt),
             ru1.ru_majflt - ru0.ru_majflt);
    mvcc_range_result_release(&rr);
    line("L-revoke-big", (double)k, (double)(t1 - t0) / 1e9, s.path, extra);
    if ((rc = stack_close(&s, keep)) != 0)
        return fail("close", rc);
    return CLI_OK;
}

/* ---- L-expiry --------------------------------------------------------------------- */

typedef struct expiry_watch {
    atomic_size_t offered;
    size_t want;
    _Atomic uint64_t all_offered_at; /* mono_ns when offered reached want */
} expiry_watch;

static void on_expired(void *arg, const int64_t *ids, size_t n)
{
    (void)ids;
    expiry_watch *w = arg;
    size_t before = atomic_fetch_add(&w->offered, n);
    if (before < w->want && before + n >= w->want)
        atomic_store(&w->all_offered_at, mono_ns());
}

static int bench_expiry(const char *dir, long m, uint64_t ttl_s, uint32_t rate, uint32_t put_rate,
                        bool keep)
{
    static bench_clock clk;
    clk.clock.now_ns = bench_clock_now;
    atomic_store(&clk.base, (uint64_t)1 << 40);
    atomic_store(&clk.thaw_at, 0);
    expiry_watch w;
    atomic_store(&w.offered, 0);
    atomic_store(&w.all_offered_at, 0);
    w.want = (size_t)m;
    lease_options lo;
    lease_options_init(&lo);
    lo.clock = &clk.clock;
    lo.checkpoint_off = true;
    lo.auto_revoke = true;
    lo.expire_rate = rate;
    lo.on_expired = on_expired;
    lo.on_expired_arg = &w;
    lo.thread_nice = lessor_nice;
    stack s;
    int rc = stack_open(&s, dir, "lease-expiry.db", &lo);
    if (rc != 0)
        return fail("open", rc);
    char key[48];
    uint64_t t0 = mono_ns();
    /* Granted at one clock instant: all expire at base + ttl. */
    for (long i = 1; i <= m; i++) {
        if ((rc = lease_grant(s.l, i, (int64_t)ttl_s, NULL)) != 0)
            return fail("grant", rc);
        int kl = leased_key(key, sizeof key, i);
        int64_t rev;
        if ((rc = mvcc_store_put(s.kv, key, (size_t)kl, "v", 1, i, &rev)) != 0)
            return fail("leased put", rc);
    }
    if ((rc = mvcc_store_commit(s.kv)) != 0)
        return fail("commit", rc);
    double setup_s = (double)(mono_ns() - t0) / 1e9;

    putter p;
    if ((rc = putter_start(&p, s.kv, 1 << 24, put_rate)) != 0)
        return fail("putter", rc);
    p.slow_ns = 100000; /* puts over 100 us: what kept them (preempted / blocked / running) */
    /* The putter alone, for the TTL plus the time the expiry is allowed (5 s). */
    uint64_t window_ns = (ttl_s + 5) * 1000000000u;
    struct timespec tick = { 0, 10 * 1000000L };
    putter_window(&p, true);
    uint64_t b0 = mono_ns(), pc0 = proc_cpu_ns();
    while (mono_ns() - b0 < window_ns)
        nanosleep(&tick, NULL);
    putter_window(&p, false);
    uint64_t pc_alone = proc_cpu_ns() - pc0;
    putter_pcts base = putter_percentiles(&p);
    double base_p99 = base.p99;
    size_t base_slow[3] = { p.slow_preempted, p.slow_blocked, p.slow_running };
    size_t base_n = p.n;

    /* The clock runs: expiry at thaw + ttl. */
    p.slow2_ns = (uint64_t)(2 * base_p99 * 1000.0);
    putter_window(&p, true);
    uint64_t pc1 = proc_cpu_ns();
    uint64_t thaw = mono_ns();
    atomic_store(&clk.thaw_at, thaw);
    uint64_t expiry_at = thaw + ttl_s * 1000000000u;
    lease_stats st;
    uint64_t all_revoked_at = 0;
    uint64_t give_up = thaw + window_ns + 120 * 1000000000ull;
    while (mono_ns() < give_up) {
        lease_lessor_stats(s.l, &st);
        if (st.auto_revoked >= (uint64_t)m) {
            all_revoked_at = mono_ns();
            break;
        }
        nanosleep(&tick, NULL);
    }
    /* The same window length as the baseline, or longer if the revokes took longer. */
    while (mono_ns() - thaw < window_ns)
        nanosleep(&tick, NULL);
    putter_window(&p, false);
    /* The pass that revoked the last lease adds its CPU time when it ends: wait for it. */
    if ((rc = lease_lessor_poke(s.l)) != 0)
        return fail("poke", rc);
    uint64_t pc_expiry = proc_cpu_ns() - pc1;
    lease_lessor_stats(s.l, &st);
    putter_pcts during = putter_percentiles(&p);
    size_t exp_slow[3] = { p.slow_preempted, p.slow_blocked, p.slow_running };
    double exp_p99 = during.p99;
    size_t exp_n = p.n;
    int prc = putter_stop(&p);
    if (prc != 0)
        return fail("putter", prc);
    uint64_t offered_at = atomic_load(&w.all_offered_at);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "leases=%ld ttl_s=%" PRIu64 " setup_s=%.1f all_offered_after_ttl_s=%.3f "
             "all_revoked_after_ttl_s=%.3f offered=%zu revoked=%" PRIu64 " leases_left=%zu "
             "put_p99_alone_us=%.1f put_p99_expiry_us=%.1f p99_ratio=%.2f puts_alone=%zu "
             "puts_expiry=%zu put_rate=%u rate=%u revoke_cpu_s=%.2f cpu_revokes_per_s=%.0f "
             "put_p50_us=%.1f/%.1f put_p999_us=%.1f/%.1f put_max_us=%.0f/%.0f "
             "puts_over_100us_preempted_blocked_running=%zu/%zu/%zu,%zu/%zu/%zu "
             "proc_cpu_s_alone/expiry=%.2f/%.2f lessor_nice=%d "
             "puts_over_2x_alone_p99_preempted_blocked_running=%zu/%zu/%zu",
             m, ttl_s, setup_s,
             offered_at != 0 ? ((double)offered_at - (double)expiry_at) / 1e9 : -1.0,
             all_revoked_at != 0 ? ((double)all_revoked_at - (double)expiry_at) / 1e9 : -1.0,
             atomic_load(&w.offered), st.auto_revoked, lease_count(s.l), base_p99, exp_p99,
             base_p99 > 0 ? exp_p99 / base_p99 : 0, base_n, exp_n, put_rate, rate,
             (double)st.auto_revoke_cpu_ns / 1e9,
             st.auto_revoke_cpu_ns > 0
                     ? (double)st.auto_revoked * 1e9 / (double)st.auto_revoke_cpu_ns
                     : 0.0,
             base.p50, during.p50, base.p999, during.p999, base.max, during.max, base_slow[0],
             base_slow[1], base_slow[2], exp_slow[0], exp_slow[1], exp_slow[2],
             (double)pc_alone / 1e9, (double)pc_expiry / 1e9,
             (int)(lessor_nice == 0  ? LEASE_DEFAULT_THREAD_NICE
                   : lessor_nice < 0 ? 0
                                     : lessor_nice),
             p.slow2[0], p.slow2[1], p.slow2[2]);
    double wall = all_revoked_at != 0 ? (double)(all_revoked_at - expiry_at) / 1e9 : 0;
    line("L-expiry", (double)st.auto_revoked, wall, s.path, extra);
    if ((rc = stack_close(&s, keep)) != 0)
        return fail("close", rc);
    return CLI_OK;
}

/* `strata bench lease`'s options (the table behind --help, completion and the man page). */
enum { OPT_DIR = 2000, OPT_KEEP, OPT_TTL, OPT_RATE, OPT_PUT_RATE, OPT_BATCH_LIMIT, OPT_NICE };
static const cli_option bench_lease_options[] = {
    { "count", 'n', "N", "rates: N leases (default 100000)", NULL },
    { "keys", 'k', "KEYS", "big: one lease with KEYS keys (default 100000)", NULL },
    { "expiring", 'm', "LEASES", "expiry: LEASES leases, one key each (default 1000000)", NULL },
    { "ttl", OPT_TTL, "S", "expiry: the leases expire together after S seconds (default 1)", NULL },
    { "rate", OPT_RATE, "R",
      "expiry: the lessor revokes at most R leases per second\n(default 0: no limit)", NULL },
    { "put-rate", OPT_PUT_RATE, "P",
      "expiry: the putter's puts per second (default 10000;\n0: as fast as it can)", NULL },
    { "batch-limit", OPT_BATCH_LIMIT, "B",
      "the backend's batch limit (writes that trigger a commit;\ndefault 10000, etcd's)", NULL },
    { "lessor-nice", OPT_NICE, "N",
      "expiry: the lessor's thread runs N nice steps lower\n(0: unchanged; default: the "
      "lessor's default, 10)",
      NULL },
    { "workloads", 'w', "LIST", "phases, comma-separated: rates,big,expiry (default all)", NULL },
    { "dir", OPT_DIR, "DIR", "directory for the files (default: a new one under /tmp)", "dir" },
    { "keep", OPT_KEEP, NULL, "keep the files", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct lease_args {
    long n, k, m;
    uint64_t ttl;
    uint32_t rate, put_rate;
    const char *dir, *which;
    bool keep;
} lease_args;

/* A number of the command line in [min, max]; 0, or -1 (printed). */
static int lease_number(const char *what, const char *arg, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    if (cli_parse_u64("bench lease", what, arg, out) != 0)
        return -1;
    if (*out < min || *out > max) {
        fprintf(stderr, "strata bench lease: %s %s is not in %" PRIu64 "..%" PRIu64 "\n", what, arg,
                min, max);
        return -1;
    }
    return 0;
}

/* -w: each phase named must be one of rates, big, expiry. */
static int lease_phases(const char *list)
{
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        if (len != 0 && !((len == 5 && strncmp(p, "rates", 5) == 0) ||
                          (len == 3 && strncmp(p, "big", 3) == 0) ||
                          (len == 6 && strncmp(p, "expiry", 6) == 0))) {
            fprintf(stderr, "strata bench lease: unknown phase '%.*s' (rates, big, expiry)\n",
                    (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int lease_option(int c, const char *arg, void *ctx)
{
    lease_args *a = ctx;
    uint64_t v;
    switch (c) {
    case 'n':
    case 'k':
    case 'm':
        if (lease_number(c == 'n' ? "-n" : c == 'k' ? "-k" : "-m", arg, 1, 1000000000, &v) != 0)
            return -1;
        *(c == 'n' ? &a->n : c == 'k' ? &a->k : &a->m) = (long)v;
        return 0;
    case OPT_TTL:
        return lease_number("--ttl", arg, 1, 1000000000, &a->ttl);
    case OPT_RATE:
    case OPT_PUT_RATE:
    case OPT_BATCH_LIMIT:
        if (lease_number(c == OPT_RATE       ? "--rate"
                         : c == OPT_PUT_RATE ? "--put-rate"
                                             : "--batch-limit",
                         arg, 0, UINT32_MAX, &v) != 0)
            return -1;
        if (c == OPT_BATCH_LIMIT)
            batch_limit = (uint32_t)v;
        else
            *(c == OPT_RATE ? &a->rate : &a->put_rate) = (uint32_t)v;
        return 0;
    case OPT_NICE:
        if (lease_number("--lessor-nice", arg, 0, 19, &v) != 0)
            return -1;
        lessor_nice = v == 0 ? -1 : (int32_t)v;
        return 0;
    case 'w':
        a->which = arg;
        return lease_phases(arg);
    case OPT_DIR:
        a->dir = arg;
        return 0;
    case OPT_KEEP:
        a->keep = true;
        return 0;
    default:
        return -1;
    }
}

const cli_command_spec bench_lease_spec = {
    .name = "bench lease",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_JSON,
    .options = bench_lease_options,
    .on_option = lease_option,
    .synopsis = "[-n N] [-k KEYS] [-m LEASES] [--ttl S] [--rate R] [--put-rate P]\n"
                "                          [--batch-limit B] [--lessor-nice N] [-w LIST]\n"
                "                          [--dir DIR] [--keep]",
    .about = "The lessor over a backend and an mvcc store, in three phases:\n"
             "  rates   L-grant, L-put, L-renew, L-revoke: N leases\n"
             "  big     L-revoke-big: one lease with KEYS keys revoked, one revision;\n"
             "          the longest put of a concurrent putter\n"
             "  expiry  L-expiry: LEASES leases, one key each, expiring together after S\n"
             "          seconds and revoked by the lessor (auto_revoke, at most R per\n"
             "          second); a putter's p99 alone and during the expiry\n"
             "Files go to DIR, removed unless --keep. Output: one bench line per\n"
             "workload (NAME OPS_PER_S WALL_S FILE_MIB key=value...), then peak_rss_mib.",
    .json = BENCH_JSON_FIELDS,
    .example = "$ strata bench lease -n 5000 -k 20000 -w rates,big --dir /tmp/bench\n"
               "$ strata bench lease -w expiry -m 200000 --ttl 2",
};

int bench_lease(int argc, char **argv)
{
    lease_args args = { .n = 100000,
                        .k = 100000,
                        .m = 1000000,
                        .ttl = 1,
                        .rate = 0,
                        .put_rate = 10000,
                        .which = "rates,big,expiry" };
    int parsed = bench_parse(&bench_lease_spec, argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    long n = args.n, k = args.k, m = args.m;
    uint64_t ttl = args.ttl;
    uint32_t rate = args.rate, put_rate = args.put_rate;
    const char *dir = args.dir, *which = args.which;
    bool keep = args.keep;
    char tmp[] = "/tmp/strata-bench-lease-XXXXXX";
    bool made = false;
    if (dir == NULL) {
        if (mkdtemp(tmp) == NULL)
            return fail("mkdtemp", -errno);
        dir = tmp;
        made = true;
    }
    int rc = CLI_OK;
    if (rc == CLI_OK && strstr(which, "rates") != NULL)
        rc = bench_rates(dir, n, keep);
    if (rc == CLI_OK && strstr(which, "big") != NULL)
        rc = bench_revoke_big(dir, k, keep);
    if (rc == CLI_OK && strstr(which, "expiry") != NULL)
        rc = bench_expiry(dir, m, ttl, rate, put_rate, keep);
    printf("peak_rss_mib %.1f\n", peak_rss_mib());
    if (made && !keep)
        rmdir(dir);
    return rc;
}
