/*
 * bench_bolt.h: what the files of `strata bench bolt` share (bench_bolt.c
 * runs docs/bench.md's B workloads, bench_freelist.c the freelist-at-scale one).
 */
#ifndef STRATA_BENCH_BOLT_H
#define STRATA_BENCH_BOLT_H

#include <stdbool.h>

/* Which phases of the B1 chain to report: b[1], b[4] .. b[7]. */
typedef struct bench_want {
    bool b[8];
} bench_want;

/* `strata bench bolt ...` (argv[0] is "bolt"); returns a CLI exit code. */
int bench_bolt(int argc, char **argv);
/* Its options (cli_db.h), for --help, bash completion and the man page check. */
extern const struct cli_command_spec bench_bolt_spec;

/*
 * The FL workload: for each count in the comma-separated `counts`, a file
 * with that many free pages, then timed small commits with each freelist
 * type, with and without the freelist page. Prints one bench line per
 * case; returns a CLI exit code. Files go to dir (removed unless keep).
 */
int bench_freelist(const char *dir, const char *counts, bool keep);

/*
 * The number of ids in the freelist page of the newest meta of the closed
 * file at path (page size 4096): free + pending at the last commit. -1 when
 * the file stores no freelist or cannot be read.
 */
long bench_file_free_pages(const char *path);

#endif
