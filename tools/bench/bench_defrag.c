/*
 * bench_defrag.c: docs/bench.md's B1 then B6 through the backend, then a
 * backend defrag, optionally with a writer putting at a steady pace during
 * it. Prints the bench lines for B1 and B6 and a DEFRAG line with the
 * defrag's wall time, the longest write stall (as defrag measured its lock
 * hold, and as the writer saw it), and the file size before and after.
 * Last, READTX: the cost of a read transaction (begin, one point get, end)
 * while 10,000 writes sit in the buffer uncommitted (etcd 3.4 copies its
 * whole read buffer per read transaction there; strata takes a reference).
 *
 *   bench_defrag [--dir DIR] [-n N] [--writer-us US]
 *
 * Not a unit test: run it in a release build.
 */
#include <strata/backend.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VSIZE 100
#define TXN   10000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void key8(uint64_t i, unsigned char out[8])
{
    for (int b = 0; b < 8; b++)
        out[b] = (unsigned char)(i >> (56 - 8 * b));
}

static void value_of(uint64_t i, unsigned char *v)
{
    for (int j = 0; j < VSIZE; j++)
        v[j] = (unsigned char)((i + (uint64_t)j) & 0xff);
}

static double file_mib(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size / (1024.0 * 1024.0) : 0;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_defrag: %s: %s\n", what, backend_strerror(rc));
        exit(1);
    }
}

typedef struct writer {
    backend *be;
    uint64_t pace_ns;
    int stop;
    uint64_t puts, max_wait_ns;
} writer;

static void *writer_run(void *arg)
{
    writer *w = arg;
    backend_batch_tx *tx = backend_batch(w->be);
    unsigned char v[VSIZE];
    value_of(7, v);
    uint64_t next = now_ns();
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        while (now_ns() < next)
            ; /* steady pace without sleeping coarse-grained */
        unsigned char k[9] = { 'w' };
        key8(w->puts, k + 1);
        uint64_t t0 = now_ns();
        backend_batch_tx_lock(tx);
        uint64_t waited = now_ns() - t0;
        check(backend_batch_tx_put(tx, bolt_str("b"), (bolt_val){ k, 9 }, (bolt_val){ v, VSIZE }),
              "writer put");
        check(backend_batch_tx_unlock(tx), "writer unlock");
        uint64_t took = now_ns() - t0;
        if (took > w->max_wait_ns)
            w->max_wait_ns = took;
        (void)waited;
        w->puts++;
        next += w->pace_ns;
    }
    return NULL;
}

static int count_hit(void *arg, bolt_val key, bolt_val value)
{
    (*(uint64_t *)arg)++;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp";
    uint64_t n = 1000000, writer_us = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--writer-us") == 0 && i + 1 < argc)
            writer_us = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_defrag [--dir DIR] [-n N] [--writer-us US]\n");
            return 2;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_defrag.db", dir);
    unlink(path);
    backend_options o;
    backend_options_init(&o);
    backend *be;
    check(backend_open(path, &o, &be), "open");
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    check(backend_batch_tx_create_bucket(tx, bolt_str("b")), "create bucket");
    check(backend_batch_tx_unlock(tx), "unlock");

    /* B1: N sequential keys, 10,000 per durable commit. */
    unsigned char k[8], v[VSIZE];
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i += TXN) {
        backend_batch_tx_lock(tx);
        for (uint64_t j = i; j < i + TXN && j < n; j++) {
            key8(j, k);
            value_of(j, v);
            check(backend_batch_tx_seq_put(tx, bolt_str("b"), (bolt_val){ k, 8 },
                                           (bolt_val){ v, VSIZE }),
                  "put");
        }
        check(backend_batch_tx_unlock(tx), "unlock");
        check(backend_force_commit(be), "commit");
    }
    double s = (double)(now_ns() - t0) / 1e9;
    printf("B1 %.0f %.3f %.1f rss_mib=%.1f\n", (double)n / s, s, file_mib(path), peak_rss_mib());

    /* B6: delete every even key, 10,000 per durable commit. */
    t0 = now_ns();
    uint64_t dels = 0;
    for (uint64_t i = 0; i < n; i += 2 * TXN) {
        backend_batch_tx_lock(tx);
        for (uint64_t j = i; j < i + 2 * TXN && j < n; j += 2) {
            key8(j, k);
            check(backend_batch_tx_delete(tx, bolt_str("b"), (bolt_val){ k, 8 }), "delete");
            dels++;
        }
        check(backend_batch_tx_unlock(tx), "unlock");
        check(backend_force_commit(be), "commit");
    }
    check(backend_force_commit(be), "commit");
    s = (double)(now_ns() - t0) / 1e9;
    uint64_t size = backend_size(be), inuse = backend_size_in_use(be);
    printf("B6 %.0f %.3f %.1f free_pages=%llu rss_mib=%.1f\n", (double)dels / s, s, file_mib(path),
           (unsigned long long)((size - inuse) / 4096), peak_rss_mib());

    /* Defrag, with an optional steady writer. */
    writer w = { be, writer_us * 1000, 0, 0, 0 };
    pthread_t th;
    double baseline_ms = 0;
    uint64_t baseline_puts = 0;
    if (writer_us > 0) {
        /* The writer alone for 3 s first: its worst put without a defrag
         * (interval commits fsync under the batch lock, as in etcd). */
        if (pthread_create(&th, NULL, writer_run, &w) != 0)
            return 1;
        uint64_t until = now_ns() + 3000000000ull;
        while (now_ns() < until)
            usleep(10000);
        __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
        pthread_join(th, NULL);
        baseline_ms = w.max_wait_ns / 1e6;
        baseline_puts = w.puts;
        w.stop = 0;
        w.max_wait_ns = 0;
        if (pthread_create(&th, NULL, writer_run, &w) != 0)
            return 1;
    }
    backend_defrag_stats st;
    check(backend_defrag(be, &st), "defrag");
    if (writer_us > 0) {
        __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
        pthread_join(th, NULL);
    }
    printf("DEFRAG %.0f %.3f %.1f before_mib=%.1f after_mib=%.1f stall_ms=%.3f copied=%llu "
           "replayed=%llu writer_puts=%llu writer_max_put_ms=%.3f "
           "writer_baseline_max_put_ms=%.3f\n",
           (double)st.keys_copied / (st.total_ns / 1e9), st.total_ns / 1e9, file_mib(path),
           st.size_before / (1024.0 * 1024.0), st.size_after / (1024.0 * 1024.0), st.stall_ns / 1e6,
           (unsigned long long)st.keys_copied, (unsigned long long)st.keys_replayed,
           (unsigned long long)(w.puts - baseline_puts), w.max_wait_ns / 1e6, baseline_ms);
    /* READTX: 10,000 buffered (uncommitted) writes, then read transactions. */
    backend_batch_tx_lock(tx);
    for (uint64_t j = 0; j < TXN; j++) {
        unsigned char bk[9] = { 'u' };
        key8(j, bk + 1);
        value_of(j, v);
        check(backend_batch_tx_put(tx, bolt_str("b"), (bolt_val){ bk, 9 }, (bolt_val){ v, VSIZE }),
              "put");
    }
    check(backend_batch_tx_unlock(tx), "unlock");
    uint64_t reads = 100000, found = 0;
    t0 = now_ns();
    for (uint64_t i = 0; i < reads; i++) {
        backend_read_tx *rt;
        check(backend_read_tx_begin(be, &rt), "read tx");
        unsigned char rk[9] = { 'u' };
        key8(strata_splitmix64(i) % TXN, rk + 1);
        uint64_t hit = 0;
        check(backend_read_tx_range(rt, bolt_str("b"), (bolt_val){ rk, 9 }, (bolt_val){ NULL, 0 },
                                    0, count_hit, &hit),
              "get");
        found += hit;
        backend_read_tx_end(rt);
    }
    s = (double)(now_ns() - t0) / 1e9;
    printf("READTX %.0f %.3f %.1f ns_per_read=%.0f buffered=%d found=%llu\n", (double)reads / s, s,
           file_mib(path), s * 1e9 / (double)reads, TXN, (unsigned long long)found);
    check(backend_close(be), "close");
    printf("peak_rss_mib %.1f\n", peak_rss_mib());
    unlink(path);
    return 0;
}
