/*
 * bench_lease.h: `strata bench lease` (bench_lease.c), the lessor's
 * benchmarks over a backend and an mvcc store.
 */
#ifndef STRATA_BENCH_LEASE_H
#define STRATA_BENCH_LEASE_H

/* `strata bench lease ...` (argv[0] is "lease"); returns a CLI exit code. */
int bench_lease(int argc, char **argv);
/* Its options (cli_db.h), for --help, bash completion and the man page check. */
extern const struct cli_command_spec bench_lease_spec;

#endif
