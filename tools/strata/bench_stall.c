/*
 * bench_stall.c: `strata bench stall`: how puts fare while the store
 * compacts and defragments under load, measured and drawn.
 *
 * A store of M1's shape (docs/bench.md: N puts over K keys, 256-byte values,
 * scaled by --scale) is built first; then a putter thread puts at a steady
 * pace (--rate puts/s; a late put does not make up for lost time) for
 * --duration seconds. At --compact-at seconds the main thread compacts all
 * but the last D = 100,000 (scaled) revisions and waits for the physical
 * deletion; at --defrag-at seconds (or when the compaction ends, if later)
 * it defragments the file. Every put's start time and latency are kept.
 *
 * In -o DIR it writes:
 *   stall-strata.txt   the timeline, one put a line: start_ms latency_ms
 *   stall-windows.txt  the compaction and defrag windows (start_ms end_ms)
 *   stall.gp           the gnuplot script, and what it draws:
 *   stall.png, stall.svg  put latency over time (log scale) with the
 *                      windows shaded; with --peer, etcd's puts during its
 *                      compaction (M5) and its defrag (M6) of the same
 *                      shape beside it, from the peer's -timeline files
 *                      (etcd-M5.txt, etcd-M6.txt; its bench lines in
 *                      etcd-bench.txt)
 * and prints one bench line, STALL, with per phase (before, compact,
 * between, defrag, after) count, p50/p99/p99.9/max (ms) and the number of
 * puts over 10 ms, then peak_rss_mib.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

extern char **environ;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "strata bench stall: %s: %s\n", what, cli_strerror(rc));
    return CLI_INTERNAL;
}

static int write_timeline(const char *path, const bm_putter *p)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "# strata put timeline: start_ms latency_ms\n");
    for (size_t i = 0; i < p->n; i++)
        fprintf(f, "%.3f %.3f\n", (double)p->start_ns[i] / 1e6, (double)p->lat_ns[i] / 1e6);
    return fclose(f) == 0 ? 0 : -errno;
}

/* Runs argv with stdout to out_path; returns its exit status, or -errno. */
static int run_to(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -rc;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static bool file_has_data(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 64;
}

/* The gnuplot script: strata's timeline with the windows shaded; etcd's beside it. */
static int write_plot(const char *dir, double c0, double c1, double d0, double d1, bool peer,
                      double rate)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/stall.gp", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f,
            "# drawn by strata bench stall; run: gnuplot stall.gp (in this directory)\n"
            "set logscale y\nset format y '%%g'\nset yrange [0.005:*]\n"
            "set ylabel 'put latency (ms)'\nset xlabel 'time since the load started (s)'\n"
            "set grid ytics\nset key top left opaque\n"
            "set style fill transparent solid 0.25 noborder\n"
            "c0=%.6f; c1=%.6f; d0=%.6f; d1=%.6f\n"
            "do for [t in 'pngcairo svg'] {\n"
            "  if (t eq 'pngcairo') { set terminal pngcairo size 1400,%d font ',10'; "
            "set output 'stall.png' } else { set terminal svg size 1400,%d dynamic; "
            "set output 'stall.svg' }\n"
            "  %s\n"
            "  set title sprintf('strata: %.0f puts/s; compaction %%.2f s (orange), defrag %%.2f s "
            "(blue)', c1-c0, d1-d0)\n"
            "  set obj 1 rect from c0, graph 0 to c1, graph 1 behind fc rgb '#ff9900' "
            "fs transparent solid 0.25 noborder\n"
            "  set obj 2 rect from d0, graph 0 to d1, graph 1 behind fc rgb '#3366ff' "
            "fs transparent solid 0.25 noborder\n"
            "  plot 'stall-strata.txt' using ($1/1000):2 with points pt 7 ps 0.3 lc rgb "
            "'#222222' title 'strata put', 10 with lines dt 2 lc rgb 'red' title '10 ms'\n"
            "  unset obj 1; unset obj 2\n",
            c0, c1, d0, d1, peer ? 900 : 500, peer ? 900 : 500,
            peer ? "set multiplot layout 2,2; set size 1,0.5; set origin 0,0.5" : "", rate);
    if (peer)
        fprintf(f,
                "  set size 0.5,0.5; set origin 0,0\n"
                "  set xlabel 'time since its putter started (s)'\n"
                "  set title 'etcd 3.4.23 (same run): puts during its compaction (M5)'\n"
                "  plot 'etcd-M5.txt' using ($1/1000):2 with points pt 7 ps 0.3 lc rgb '#cc6600' "
                "title 'etcd put', 10 with lines dt 2 lc rgb 'red' title '10 ms'\n"
                "  set origin 0.5,0\n"
                "  set title 'etcd 3.4.23 (same run): puts during its defrag (M6)'\n"
                "  plot 'etcd-M6.txt' using ($1/1000):2 with points pt 7 ps 0.3 lc rgb '#3355cc' "
                "title 'etcd put', 10 with lines dt 2 lc rgb 'red' title '10 ms'\n"
                "  unset multiplot\n"
                "  set xlabel 'time since the load started (s)'\n");
    fprintf(f, "  set output\n}\n");
    return fclose(f) == 0 ? 0 : -errno;
}

static void phase(char *buf, size_t size, const char *name, const bm_lat *l)
{
    snprintf(buf, size,
             " %s_puts=%zu %s_p50_ms=%.3f %s_p99_ms=%.3f %s_p999_ms=%.3f %s_max_ms=%.2f "
             "%s_over_10ms=%zu",
             name, l->count, name, l->p50, name, l->p99, name, l->p999, name, l->max, name,
             l->over_10ms);
}

static void sleep_until(uint64_t t)
{
    uint64_t now = bm_mono_ns();
    if (now < t) {
        struct timespec ts = { (time_t)((t - now) / 1000000000u), (long)((t - now) % 1000000000u) };
        nanosleep(&ts, NULL);
    }
}

/* `strata bench stall`'s options (the table behind --help, completion and the man page). */
enum { OPT_RATE = 2000, OPT_CAT, OPT_DAT, OPT_DUR, OPT_SCALE, OPT_PEER, OPT_NOPLOT };
static const cli_option bench_stall_options[] = {
    { "rate", OPT_RATE, "R", "puts per second (default 1000)", NULL },
    { "compact-at", OPT_CAT, "S", "seconds into the load (default 2)", NULL },
    { "defrag-at", OPT_DAT, "S", "seconds into the load (default 6; after the compaction ends)",
      NULL },
    { "duration", OPT_DUR, "S", "length of the load (default 10)", NULL },
    { "scale", OPT_SCALE, "F",
      "store of M1's shape scaled (default 1: 1,000,000 puts,\n100,000 keys)", NULL },
    { "output", 'o', "DIR",
      "output directory (default .): stall-strata.txt (one put a\n"
      "line), stall-windows.txt, stall.gp, stall.png, stall.svg",
      "dir" },
    { "peer", OPT_PEER, "PATH",
      "etcd's mvccbench: run it with -timeline -m6-putter at the same\n"
      "scale and pace and draw its windows beside ours",
      "file" },
    { "no-plot", OPT_NOPLOT, NULL, "write the text files only", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct stall_args {
    double rate, compact_at, defrag_at, duration, scale;
    const char *dir, *peer;
    bool plot;
} stall_args;

static int stall_option(int opt, const char *arg, void *ctx)
{
    stall_args *a = ctx;
    switch (opt) {
    case OPT_RATE:
        return cli_parse_double("bench stall", "--rate", arg, &a->rate);
    case OPT_CAT:
        return cli_parse_double("bench stall", "--compact-at", arg, &a->compact_at);
    case OPT_DAT:
        return cli_parse_double("bench stall", "--defrag-at", arg, &a->defrag_at);
    case OPT_DUR:
        return cli_parse_double("bench stall", "--duration", arg, &a->duration);
    case OPT_SCALE:
        return cli_parse_double("bench stall", "--scale", arg, &a->scale);
    case OPT_PEER:
        a->peer = arg;
        return 0;
    case OPT_NOPLOT:
        a->plot = false;
        return 0;
    case 'o':
        a->dir = arg;
        return 0;
    default:
        return -1;
    }
}

const cli_command_spec bench_stall_spec = {
    .name = "bench stall",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_JSON,
    .options = bench_stall_options,
    .on_option = stall_option,
    .synopsis = "[--rate PUTS_PER_S] [--compact-at S] [--defrag-at S]\n"
                "                          [--duration S] [--scale F] [-o DIR] [--peer MVCCBENCH]\n"
                "                          [--no-plot]",
    .about = "Paced puts on a store of M1's shape while it compacts (all but the last\n"
             "100,000 revisions, scaled) and then defragments; every put's latency\n"
             "recorded. Prints one bench line, STALL (per phase: puts, p50/p99/p99.9/max\n"
             "ms, puts over 10 ms), then peak_rss_mib; draws stall.png and stall.svg with\n"
             "gnuplot.",
    .json = BENCH_JSON_FIELDS,
    .example = "$ strata bench stall --scale 0.1 --duration 6 --compact-at 1 --defrag-at 3 "
               "-o /tmp/stall\n"
               "$ strata bench stall --peer build/peers/mvccbench -o /tmp/stall",
};

int bench_stall(int argc, char **argv)
{
    stall_args args = { .rate = 1000,
                        .compact_at = 2,
                        .defrag_at = 6,
                        .duration = 10,
                        .scale = 1,
                        .dir = ".",
                        .plot = true };
    int parsed = bench_parse(&bench_stall_spec, argc, argv, &args);
    if (parsed >= 0)
        return parsed;
    double rate = args.rate, compact_at = args.compact_at, defrag_at = args.defrag_at,
           duration = args.duration, scale = args.scale;
    const char *dir = args.dir, *peer = args.peer;
    bool plot = args.plot;
    if (!(rate >= 1 && rate <= 1e6) || !(scale > 0 && scale <= 100) || !(compact_at >= 0) ||
        !(defrag_at >= compact_at) || !(duration > defrag_at) || duration > 86400) {
        fprintf(stderr, "strata bench stall: want rate in [1, 1e6], 0 <= compact-at <= "
                        "defrag-at < duration, scale in (0, 100]\n");
        cli_usage(&bench_stall_spec, stderr);
        return CLI_USAGE;
    }
    long N = (long)(1000000 * scale), K = (long)(100000 * scale), D = (long)(100000 * scale);
    N = N < 1 ? 1 : N;
    K = K < 1 ? 1 : K;
    D = D < 1 ? 1 : D;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fail(dir, -errno);
    char path[4096], buf[4096];
    snprintf(path, sizeof path, "%s/stall.db", dir);
    unlink(path);
    bm_data d;
    if (bm_data_init(&d, (size_t)K) != 0)
        return fail("memory", -ENOMEM);

    backend *be = NULL;
    lease_lessor *l = NULL;
    mvcc_store *kv = NULL;
    backend_options bo;
    backend_options_init(&bo); /* etcd's defaults */
    lease_options lo;
    lease_options_init(&lo);
    mvcc_options mo;
    mvcc_options_init(&mo);
    int rc = backend_open(path, &bo, &be);
    if (rc == 0)
        rc = lease_lessor_open(be, &lo, &l);
    mo.lessor = l;
    if (rc == 0)
        rc = mvcc_store_open(be, &mo, &kv);
    if (rc != 0)
        return fail(path, rc);
    fprintf(stderr, "# strata bench stall: building a store of M1's shape: %ld puts, %ld keys\n", N,
            K);
    for (long i = 0; i < N && rc == 0; i++)
        rc = mvcc_store_put(kv, bm_key(&d, bm_rnd((uint64_t)i) % (uint64_t)K), BM_KEY_LEN,
                            d.vals[i & 255], BM_VSIZE, 0, NULL);
    if (rc == 0)
        rc = backend_force_commit(be);
    if (rc != 0)
        return fail("building the store", rc);
    double file_before = bm_file_mib(path);

    fprintf(stderr, "# load: %.0f puts/s for %.1f s; compact at %.1f s, defrag at %.1f s\n", rate,
            duration, compact_at, defrag_at);
    bm_putter p;
    if ((rc = bm_putter_start(&p, kv, &d, (uint64_t)K, (uint64_t)N, (uint64_t)(1e9 / rate))) != 0)
        return fail("putter", rc);
    sleep_until(p.t0 + (uint64_t)(compact_at * 1e9));
    int64_t target = mvcc_store_rev(kv) - D;
    uint64_t c0 = bm_mono_ns();
    if (target > 1) {
        rc = mvcc_store_compact(kv, target);
        if (rc == 0)
            rc = mvcc_store_compact_wait(kv);
    }
    uint64_t c1 = bm_mono_ns();
    backend_defrag_stats st = { 0 };
    if (rc == 0) {
        sleep_until(p.t0 + (uint64_t)(defrag_at * 1e9));
    }
    uint64_t d0 = bm_mono_ns();
    if (rc == 0)
        rc = mvcc_store_defrag(kv, &st);
    uint64_t d1 = bm_mono_ns();
    if (rc == 0)
        sleep_until(p.t0 + (uint64_t)(duration * 1e9));
    uint64_t e1 = bm_mono_ns();
    int prc = bm_putter_stop(&p);
    if (rc != 0 || prc != 0) {
        bm_putter_free(&p);
        return fail("compaction/defrag under load", rc != 0 ? rc : prc);
    }
    double file_after = bm_file_mib(path);
    uint64_t t0 = p.t0;
    bm_lat ph[5];
    const char *names[5] = { "before", "compact", "between", "defrag", "after" };
    uint64_t cuts[6] = { 0, c0 - t0, c1 - t0, d0 - t0, d1 - t0, e1 - t0 + 1000000000u };
    for (int i = 0; i < 5; i++)
        if ((rc = bm_lat_window(&p, cuts[i], cuts[i + 1], &ph[i])) != 0)
            return fail("memory", rc);
    snprintf(buf, sizeof buf, "%s/stall-strata.txt", dir);
    if ((rc = write_timeline(buf, &p)) != 0)
        return fail(buf, rc);
    snprintf(buf, sizeof buf, "%s/stall-windows.txt", dir);
    FILE *w = fopen(buf, "w");
    if (w == NULL)
        return fail(buf, -errno);
    fprintf(w,
            "# window start_ms end_ms (since the load started)\ncompact %.3f %.3f\n"
            "defrag %.3f %.3f\n",
            (double)(c0 - t0) / 1e6, (double)(c1 - t0) / 1e6, (double)(d0 - t0) / 1e6,
            (double)(d1 - t0) / 1e6);
    fclose(w);
    size_t puts = p.n;
    bm_putter_free(&p);
    rc = mvcc_store_close(kv);
    int r2 = lease_lessor_close(l), r3 = backend_close(be);
    if (rc != 0 || r2 != 0 || r3 != 0)
        return fail("close", rc != 0 ? rc : r2 != 0 ? r2 : r3);
    unlink(path);
    bm_data_free(&d);

    /* etcd's windows from the same run: its mvccbench at the same shape and pace. */
    bool have_peer = false;
    if (peer != NULL) {
        char a_dir[4200], a_scale[64], a_pace[64], a_tl[4200], out[4200];
        snprintf(a_dir, sizeof a_dir, "%s/etcd-data", dir);
        snprintf(a_scale, sizeof a_scale, "%g", scale);
        snprintf(a_pace, sizeof a_pace, "%.0fus", 1e6 / rate);
        snprintf(a_tl, sizeof a_tl, "%s/etcd", dir);
        snprintf(out, sizeof out, "%s/etcd-bench.txt", dir);
        char *pargv[] = { (char *)peer, "-dir",     a_dir,        "-scale", a_scale,
                          "-only",      "M1,M5,M6", "-m6-putter", "-pace",  a_pace,
                          "-timeline",  a_tl,       "-asis",      "0",      NULL };
        fprintf(stderr, "# running the peer: %s (its bench lines in %s)\n", peer, out);
        int prc2 = run_to(pargv, out);
        snprintf(a_tl, sizeof a_tl, "%s/etcd-M5.txt", dir);
        snprintf(a_dir, sizeof a_dir, "%s/etcd-M6.txt", dir);
        if (prc2 != 0 || !file_has_data(a_tl) || !file_has_data(a_dir)) {
            fprintf(stderr, "strata bench stall: the peer %s failed (%d): %s\n", peer, prc2,
                    prc2 < 0 ? strerror(-prc2) : "see its output");
            return CLI_INTERNAL;
        }
        have_peer = true;
    }

    double c0s = (double)(c0 - t0) / 1e9, c1s = (double)(c1 - t0) / 1e9;
    double d0s = (double)(d0 - t0) / 1e9, d1s = (double)(d1 - t0) / 1e9;
    int status = CLI_OK;
    if (plot) {
        if ((rc = write_plot(dir, c0s, c1s, d0s, d1s, have_peer, rate)) != 0)
            return fail("stall.gp", rc);
        char *gargv[] = { "sh", "-c", "cd \"$0\" && gnuplot stall.gp", (char *)dir, NULL };
        snprintf(buf, sizeof buf, "%s/gnuplot.log", dir);
        int grc = run_to(gargv, buf);
        snprintf(buf, sizeof buf, "%s/stall.png", dir);
        if (grc != 0 || !file_has_data(buf)) {
            fprintf(stderr,
                    "strata bench stall: gnuplot failed (exit %d; is gnuplot-nox installed?): "
                    "no pictures; the timeline is in %s/stall-strata.txt\n",
                    grc, dir);
            status = CLI_FINDING;
        }
    }
    char extra[2048];
    size_t used = (size_t)snprintf(
            extra, sizeof extra,
            "rate=%.0f puts=%zu compact_rev=%" PRId64 " compact_s=%.3f defrag_s=%.3f "
            "defrag_lockout_ms=%.2f file_before_mib=%.1f file_after_mib=%.1f",
            rate, puts, target, c1s - c0s, d1s - d0s, (double)st.stall_ns / 1e6, file_before,
            file_after);
    for (int i = 0; i < 5 && used < sizeof extra; i++) {
        phase(buf, sizeof buf, names[i], &ph[i]);
        used += (size_t)snprintf(extra + used, sizeof extra - used, "%s", buf);
    }
    double wall = (double)(e1 - t0) / 1e9;
    printf("STALL %.1f %.3f %.1f %s\n", (double)puts / wall, wall, file_after, extra);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mib %.1f\n", (double)ru.ru_maxrss / 1024.0);
    return status;
}
