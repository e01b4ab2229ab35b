/*
 * bench_mvcc.h: `strata bench mvcc` (bench_mvcc.c, docs/bench.md's M1..M8) and
 * `strata bench stall` (bench_stall.c), and what both share: docs/bench.md's
 * key and value generators and the paced putter that records every put.
 */
#ifndef STRATA_BENCH_MVCC_H
#define STRATA_BENCH_MVCC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/mvcc.h>

/* `strata bench mvcc ...` / `strata bench stall ...` (argv[0] is the workload); CLI exit codes. */
int bench_mvcc(int argc, char **argv);
int bench_stall(int argc, char **argv);
/* Their options (cli_db.h), for --help, bash completion and the man page check. */
extern const struct cli_command_spec bench_mvcc_spec, bench_stall_spec;

enum { BM_KEY_LEN = 12, BM_VSIZE = 256 };

/* SplitMix64 with the state starting at i (docs/bench.md's rnd). */
uint64_t bm_rnd(uint64_t i);
uint64_t bm_mono_ns(void);

/* Keys "key-%08d" for 0..n-1, BM_KEY_LEN bytes each (no NUL), and the 256
 * values (value i is bm_value(i & 255): byte j = (i + j) & 0xff). */
typedef struct bm_data {
    char *keys;
    size_t n_keys;
    uint8_t vals[256][BM_VSIZE];
} bm_data;

int bm_data_init(bm_data *d, size_t n_keys);
void bm_data_free(bm_data *d);
static inline const char *bm_key(const bm_data *d, uint64_t i)
{
    return d->keys + i * BM_KEY_LEN;
}

/*
 * A thread putting at a steady pace (one put every pace_ns; a late put does
 * not make up for lost time, as the peer's putter): put j writes key
 * rnd(first + j) mod K with value (first + j) & 255. Every put's start
 * (ns since the putter started) and latency are recorded.
 */
typedef struct bm_putter {
    mvcc_store *kv;
    const bm_data *d;
    uint64_t K, first, pace_ns;
    uint64_t t0; /* bm_mono_ns() at start */
    atomic_bool stop;
    uint64_t *start_ns, *lat_ns; /* [n) */
    size_t n, cap;
    int rc;
    pthread_t thread;
} bm_putter;

int bm_putter_start(bm_putter *p, mvcc_store *kv, const bm_data *d, uint64_t K, uint64_t first,
                    uint64_t pace_ns);
/* Stops and joins the thread; returns its first error (0). The records stay until free. */
int bm_putter_stop(bm_putter *p);
void bm_putter_free(bm_putter *p);

/* Latency figures (ms) of the records whose start lies in [from_ns, to_ns). */
typedef struct bm_lat {
    size_t count, over_10ms;
    double p50, p99, p999, max;
} bm_lat;
int bm_lat_window(const bm_putter *p, uint64_t from_ns, uint64_t to_ns, bm_lat *out);

/* Peak RSS in MiB since the last bm_rss_reset (VmHWM); bm_rss_reset clears it (Linux >= 4.0). */
void bm_rss_reset(void);
double bm_rss_mib(void);
double bm_file_mib(const char *path);

#endif
