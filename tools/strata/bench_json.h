/*
 * bench_json.h: `strata bench WORKLOAD --json`. Every workload prints bench
 * lines on stdout (docs/bench.md: NAME OPS_PER_S WALL_S FILE_MIB key=value...,
 * then peak_rss_mib X); under --json they are captured and printed as one
 * JSON document instead (cmd_bench.c), so the measuring code stays as it is.
 */
#ifndef STRATA_BENCH_JSON_H
#define STRATA_BENCH_JSON_H

#include "cli_db.h"

/*
 * Called by a workload right after it parsed its command line: under
 * o->json, stdout is captured from here on (a temporary file behind fd 1)
 * until the workload returns to cmd_bench, which prints the document.
 * CLI_OK, or CLI_INTERNAL after a message (nothing captured).
 */
int bench_json_begin(const cli_opts *o);

/*
 * A workload's command line: cli_parse_ctx with its spec and ctx, then
 * bench_json_begin. -1 to go on; otherwise the exit code to return.
 */
int bench_parse(const cli_command_spec *spec, int argc, char **argv, void *ctx);

/* The --json document's fields, for the workloads' --help. */
#define BENCH_JSON_FIELDS                                                            \
    "workload: S   ok: BOOL (the exit code was 0)   peak_rss_mib: N\n"               \
    "results: [{name: S, ops_per_s: N, wall_s: N, file_mib: N (the positional\n"     \
    "  figures of a bench line, those it has), extra: {KEY: VALUE} (its key=value\n" \
    "  figures: numbers as numbers, true/false as booleans, the rest as strings)}]"

#endif
