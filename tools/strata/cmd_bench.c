/*
 * cmd_bench.c: `strata bench WORKLOAD [options]`: micro-benchmarks of the
 * library's layers, one subcommand per workload (dispatch on argv[1]).
 *
 *   strata bench index [-k K] [-r R] [-p P]
 *   strata bench bolt [-n N] [-w LIST] [--dir DIR]   (bench_bolt.c)
 *   strata bench lease [-n N] [-k K] [-m M] [-w LIST] (bench_lease.c)
 *   strata bench mvcc [-n N] [-k K] [--scale F] [-w LIST] [--dir DIR] (bench_mvcc.c)
 *   strata bench stall [--rate R] [--compact-at S] [--defrag-at S] [--duration S] [-o DIR]
 *                      (bench_stall.c)
 *
 * `index` measures the in-memory key index the way etcd's indexmem peer
 * measures etcd 3.4's treeIndex (docs/bench.md, peers/etcd/indexmem): keys
 * "key-%08d" put in order i = 0..K-1, R rounds of one revision each; bytes
 * per key and per revision as the allocator's allocated-bytes growth
 * (jemalloc "stats.allocated" after "epoch"; our own key copies reported
 * apart, since etcd's figure leaves its key bytes out); K gets of key
 * (i*7919) mod K at the newest revision; 10,000 ranges of 100 keys from key
 * (i*7919) mod (K-100). Then put latency: P timed puts of new revisions
 * into the index alone, and the same P puts into a second index built the
 * same way while another thread compacts it; the p99 of each, over the
 * same number of puts (the compaction may end before P). Both runs
 * put the same keys at the same revisions into the same state, so the
 * difference is the compaction's: timing a second batch of puts after the
 * first measured the index having grown (other blocks crossing allocation
 * sizes), which alone doubled the p99 here. Output, one line:
 *
 *   strata-idx K=.. R=.. bytes_per_key=.. key_bytes_per_key=..
 *   bytes_per_rev=.. put_per_s=.. get_per_s=.. range100_per_s=..
 *   put_p99_us=.. put_p99_compacting_us=.. compacting_puts=.. compact_s=..
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <strata/idx.h>

#ifdef STRATA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "bench_bolt.h"
#include "bench_json.h"
#include "bench_lease.h"
#include "bench_mvcc.h"
#include "cli.h"
#include "cli_db.h"
#include "cli_json.h"
#include "cli_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bytes the allocator has handed out and not taken back; -1 without jemalloc. */
static double allocated_bytes(void)
{
#ifdef STRATA_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return -1;
    return (double)allocated;
#else
    return -1;
#endif
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double p99_us(uint64_t *lat, size_t n)
{
    if (n == 0)
        return 0;
    qsort(lat, n, sizeof *lat, cmp_u64);
    return (double)lat[(n * 99) / 100] / 1000.0;
}

typedef struct compactor {
    idx_tree *t;
    int64_t rev;
    int rc;
    double seconds;
    atomic_int done;
} compactor;

static void *compactor_run(void *arg)
{
    compactor *c = arg;
    idx_rev_set *keep = NULL;
    double t0 = now_s();
    c->rc = idx_tree_compact(c->t, c->rev, &keep);
    c->seconds = now_s() - t0;
    idx_rev_set_free(keep);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Puts R rounds of keys 0..K-1, revisions from *rev on. */
static int fill_index(idx_tree *t, const char *keys, size_t klen, long K, long R, int64_t *rev)
{
    for (long r = 0; r < R; r++)
        for (long i = 0; i < K; i++) {
            int rc = idx_tree_put(t, keys + (size_t)i * klen, klen, (idx_rev){ (*rev)++, 0 });
            if (rc != 0)
                return rc;
        }
    return 0;
}

/* P timed puts from key `first` on, revisions from rev on. */
static int timed_puts(idx_tree *t, const char *keys, size_t klen, long K, long first, int64_t rev,
                      uint64_t *lat, size_t P, const atomic_int *stop, size_t *done)
{
    int rc = 0;
    size_t n = 0;
    for (long next = first; n < P && (stop == NULL || !atomic_load(stop)); next = (next + 1) % K) {
        uint64_t a = now_ns();
        rc = idx_tree_put(t, keys + (size_t)next * klen, klen, (idx_rev){ rev++, 0 });
        lat[n++] = now_ns() - a;
        if (rc != 0)
            break;
    }
    *done = n;
    return rc;
}

/* `strata bench index`'s options (the table behind --help, completion and the man page). */
static const cli_option bench_index_options[] = {
    { "keys", 'k', "KEYS", "index: keys key-%08d (default 1000000)", NULL },
    { "revs", 'r', "REVS", "index: revisions per key (default 1)", NULL },
    { "puts", 'p', "PUTS", "index: timed puts for the latency figures (default 200000)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct index_args {
    long K, R, P;
} index_args;

static int index_option(int c, const char *arg, void *ctx)
{
    index_args *a = ctx;
    long *dst = c == 'k' ? &a->K : c == 'r' ? &a->R : &a->P;
    char *end;
    errno = 0;
    *dst = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0') {
        fprintf(stderr, "strata bench index: '%s' is not a number\n", arg);
        return -1;
    }
    return 0;
}

static const cli_command_spec bench_index_spec = {
    .name = "bench index",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_JSON,
    .options = bench_index_options,
    .on_option = index_option,
    .synopsis = "[-k KEYS] [-r REVS] [-p PUTS]",
    .about = "Measure the key index as etcd's indexmem measures treeIndex; one line of\n"
             "figures (strata-idx K=.. R=.. bytes_per_key=.. put_per_s=.. ...).",
    .json = BENCH_JSON_FIELDS,
    .example = "$ strata bench index -k 100000 -r 10",
};

static int bench_index(int argc, char **argv)
{
    index_args a = { 1000000, 1, 200000 };
    int parsed = bench_parse(&bench_index_spec, argc, argv, &a);
    if (parsed >= 0)
        return parsed;
    long K = a.K, R = a.R, P = a.P;
    if (K < 200 || R < 1 || P < 100 || K > 100000000) {
        fprintf(stderr, "strata bench index: -k must be in 200..100000000, -r >= 1, -p >= 100\n");
        cli_usage(&bench_index_spec, stderr);
        return CLI_USAGE;
    }
    enum { KLEN = 12 };
    char *keys = malloc((size_t)K * KLEN + 1);
    uint64_t *lat = malloc((size_t)P * sizeof *lat);
    uint64_t *lat_alone = malloc((size_t)P * sizeof *lat_alone);
    if (keys == NULL || lat == NULL || lat_alone == NULL) {
        fprintf(stderr, "strata bench index: out of memory\n");
        free(keys);
        free(lat);
        free(lat_alone);
        return CLI_INTERNAL;
    }
    for (long i = 0; i < K; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "key-%08ld", i);
        memcpy(keys + i * KLEN, buf, KLEN);
    }
#define KEY(i) (keys + (size_t)(i)*KLEN)
    int status = CLI_INTERNAL;
    idx_tree *t = NULL, *twin = NULL;
    double base = allocated_bytes();
    int rc = idx_tree_new(&t);
    if (rc != 0)
        goto fail;
    int64_t rev = 1;
    double t0 = now_s();
    rc = fill_index(t, keys, KLEN, K, R, &rev);
    if (rc != 0)
        goto fail;
    double put_s = now_s() - t0;
    double after = allocated_bytes();

    t0 = now_s();
    long found = 0;
    for (long i = 0; i < K; i++)
        found += idx_tree_get(t, KEY((i * 7919) % K), KLEN, rev, NULL, NULL, NULL) == 0;
    double get_s = now_s() - t0;
    if (found != K) {
        fprintf(stderr, "strata bench index: %ld of %ld gets found their key\n", found, K);
        goto fail;
    }

    idx_range_result res = { 0 };
    t0 = now_s();
    for (long i = 0; i < 10000; i++) {
        long s = (i * 7919) % (K - 100);
        rc = idx_tree_range(t, KEY(s), KLEN, KEY(s + 100), KLEN, rev, 0, true, &res);
        if (rc != 0 || res.count != 100) {
            fprintf(stderr, "strata bench index: range returned %zu keys\n", res.count);
            goto fail;
        }
    }
    double range_s = now_s() - t0;
    idx_range_result_release(&res);

    /* Put latency alone: P puts of new revisions, keys in order. */
    size_t n_alone;
    rc = timed_puts(t, keys, KLEN, K, 0, rev, lat_alone, (size_t)P, NULL, &n_alone);
    if (rc != 0)
        goto fail;
    idx_tree_free(t); /* the twin gets the memory back */
    t = NULL;

    /* The same puts into a twin while a compaction at its newest revision
     * walks every key. */
    int64_t twin_rev = 1;
    rc = idx_tree_new(&twin);
    if (rc == 0)
        rc = fill_index(twin, keys, KLEN, K, R, &twin_rev);
    if (rc != 0)
        goto fail;
    compactor comp = { twin, twin_rev - 1, 0, 0, 0 };
    pthread_t th;
    if (pthread_create(&th, NULL, compactor_run, &comp) != 0)
        goto fail;
    size_t n;
    rc = timed_puts(twin, keys, KLEN, K, 0, twin_rev, lat, (size_t)P, &comp.done, &n);
    pthread_join(th, NULL);
    if (rc != 0 || comp.rc != 0) {
        rc = rc != 0 ? rc : comp.rc;
        goto fail;
    }
    /* Both p99s over the same puts: the compaction may end before P. */
    double p99_compacting = p99_us(lat, n);
    double p99_alone = p99_us(lat_alone, n < n_alone ? n : n_alone);

    double total = (double)K * (double)R;
    double bytes = after - base;
    printf("strata-idx K=%ld R=%ld bytes_per_key=%.1f key_bytes_per_key=%d bytes_per_rev=%.1f "
           "put_per_s=%.0f get_per_s=%.0f range100_per_s=%.0f put_p99_us=%.3f "
           "put_p99_compacting_us=%.3f compacting_puts=%zu compact_s=%.3f\n",
           K, R, base < 0 ? -1.0 : bytes / (double)K, KLEN, base < 0 ? -1.0 : bytes / total,
           total / put_s, (double)K / get_s, 10000 / range_s, p99_alone, p99_compacting, n,
           comp.seconds);
    if (base < 0)
        fprintf(stderr, "strata bench index: no allocator statistics (built without jemalloc)\n");
    status = CLI_OK;
fail:
    if (status != CLI_OK && rc != 0)
        fprintf(stderr, "strata bench index: %s\n", cli_strerror(rc));
    idx_tree_free(t);
    idx_tree_free(twin);
    free(keys);
    free(lat);
    free(lat_alone);
    return status;
#undef KEY
}

/* ---- --json: the bench lines as one document ------------------------------------- */

/* While a workload runs under --json: its stdout, captured, and the real one. */
static struct {
    FILE *capture;
    int saved_fd;
    const char *cmd; /* "bench bolt" */
} json_run = { NULL, -1, NULL };

int bench_json_begin(const cli_opts *o)
{
    if (!o->json)
        return CLI_OK;
    fflush(stdout);
    FILE *f = tmpfile();
    int saved = f != NULL ? dup(STDOUT_FILENO) : -1;
    if (f == NULL || saved < 0 || dup2(fileno(f), STDOUT_FILENO) < 0) {
        fprintf(stderr, "strata %s: cannot capture the bench lines for --json: %s\n", o->cmd,
                strerror(errno));
        if (saved >= 0)
            close(saved);
        if (f != NULL)
            fclose(f);
        return CLI_INTERNAL;
    }
    json_run.capture = f;
    json_run.saved_fd = saved;
    json_run.cmd = o->cmd;
    return CLI_OK;
}

int bench_parse(const cli_command_spec *spec, int argc, char **argv, void *ctx)
{
    cli_opts o;
    int code = cli_parse_ctx(spec, argc, argv, &o, ctx);
    if (code >= 0)
        return code;
    code = bench_json_begin(&o);
    return code != CLI_OK ? code : -1;
}

/* A figure of a bench line: a JSON number, true/false, or else the text. */
static json_t *bench_value(const char *text)
{
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
        return json_boolean(text[0] == 't');
    char *end;
    errno = 0;
    if (text[0] != '\0' && strspn(text, "0123456789-") == strlen(text)) {
        long long v = strtoll(text, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
    }
    if (text[0] != '\0' && strspn(text, "0123456789+-.eE") == strlen(text)) {
        double d = strtod(text, &end);
        if (errno == 0 && *end == '\0' && isfinite(d))
            return json_real(d);
    }
    return json_string(text);
}

/* One bench line (NAME [OPS_PER_S WALL_S FILE_MIB] key=value...) as an object. */
static json_t *bench_line(char *line)
{
    static const char *const positional[] = { "ops_per_s", "wall_s", "file_mib" };
    json_t *r = json_object(), *extra = json_object();
    size_t npos = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(t, '=');
        if (json_object_get(r, "name") == NULL) {
            cli_json_set(r, "name", json_string(t));
        } else if (eq != NULL) {
            *eq = '\0';
            cli_json_set(extra, t, bench_value(eq + 1));
        } else if (npos < sizeof positional / sizeof positional[0]) {
            cli_json_set(r, positional[npos++], bench_value(t));
        } else {
            cli_json_set(extra, "unnamed", bench_value(t)); /* no bench line has one */
        }
    }
    cli_json_set(r, "extra", extra);
    return r;
}

/* After the workload: stdout back, the captured lines printed as the document. */
static int bench_json_end(int code)
{
    if (json_run.capture == NULL)
        return code;
    FILE *f = json_run.capture;
    json_run.capture = NULL;
    fflush(stdout);
    int restored = dup2(json_run.saved_fd, STDOUT_FILENO);
    close(json_run.saved_fd);
    if (restored < 0) {
        fclose(f);
        return CLI_INTERNAL;
    }
    if (code == CLI_USAGE) { /* a command line refused after parsing: no document */
        fclose(f);
        return code;
    }
    json_t *doc = json_object(), *results = json_array();
    const char *workload = strchr(json_run.cmd, ' ');
    cli_json_set(doc, "workload", json_string(workload != NULL ? workload + 1 : json_run.cmd));
    cli_json_set(doc, "ok", json_boolean(code == CLI_OK));
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue; /* the column header */
        if (strncmp(line, "peak_rss_mib ", 13) == 0)
            cli_json_set(doc, "peak_rss_mib", bench_value(line + 13));
        else
            cli_json_append(results, bench_line(line));
    }
    free(line);
    fclose(f);
    cli_json_set(doc, "results", results);
    int jc = cli_json_print(json_run.cmd, stdout, doc);
    return code != CLI_OK ? code : jc;
}

/* The workloads: `strata bench WORKLOAD [options]`, each with its own option table. */
static const cli_subcommand workloads[] = {
    { "index", "the in-memory key index (etcd's treeIndex, peers/etcd/indexmem)", bench_index,
      &bench_index_spec },
    { "bolt", "the B+tree file: docs/bench.md B1..B7 (peers: bbolt, LMDB)", bench_bolt,
      &bench_bolt_spec },
    { "lease",
      "the lessor over a store: grant/renew/revoke rates, big revoke,\n"
      "             mass expiry",
      bench_lease, &bench_lease_spec },
    { "mvcc", "the mvcc store: docs/bench.md M1..M8 (peer: etcd's mvcc)", bench_mvcc,
      &bench_mvcc_spec },
    { "stall",
      "puts under load while the store compacts and defragments, drawn\n"
      "             with gnuplot",
      bench_stall, &bench_stall_spec },
    { NULL, NULL, NULL, NULL },
};

/*
 * The command's spec: its workloads are subcommands (cli_dispatch), each
 * with its own options, --help and example; completion offers a
 * workload's options after its name.
 */
const cli_command_spec cmd_bench_spec = {
    .name = "bench",
    .min_args = 1,
    .max_args = -1,
    .common = CLI_C_NONE,
    .synopsis = "WORKLOAD [options]",
    .about = "Benchmarks of the library's layers, one WORKLOAD at a time. Figures are\n"
             "bench lines (docs/bench.md): NAME OPS_PER_S WALL_S FILE_MIB key=value...",
    .example = "$ strata bench bolt -n 100000 --dir /tmp/bench\n"
               "$ strata bench index -k 100000\n"
               "$ strata bench mvcc --help",
    .subs = workloads,
};

int cmd_bench(int argc, char **argv)
{
    return bench_json_end(cli_dispatch(&cmd_bench_spec, argc, argv));
}
