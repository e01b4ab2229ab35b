/*
 * etcd_cmd.h: the `strata etcd` subcommands (cmd_etcd*.c): their shared
 * command line (one options struct, one option handler) and entry points.
 * cmd_etcd.c dispatches `strata etcd COMMAND ...` to them.
 */
#ifndef STRATA_ETCD_CMD_H
#define STRATA_ETCD_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_db.h"
#include "etcd_db.h"

/* getopt codes of the etcd options (long-only ones from 3000). */
enum {
    ETCD_OPT_WRITE_OUT = 'w',
    ETCD_OPT_PREFIX = 3000,
    ETCD_OPT_FROM_KEY,
    ETCD_OPT_REV,
    ETCD_OPT_LIMIT,
    ETCD_OPT_KEYS_ONLY,
    ETCD_OPT_COUNT_ONLY,
    ETCD_OPT_KEYS,
    ETCD_OPT_DECODE,
};

/* Everything a subcommand's command line can say. */
typedef struct etcd_args {
    const char *cmd; /* "etcd get", for messages */
    cli_opts o;
    bool prefix, from_key, keys_only, count_only, keys, decode;
    bool rev_set;
    int64_t rev, limit;
} etcd_args;

/* The option handler every subcommand spec uses (ctx: etcd_args *). */
int etcd_on_option(int c, const char *arg, void *ctx);

/* The -w/--write-out table entry, shared by every subcommand. */
#define ETCD_OPTION_WRITE_OUT                                                     \
    {                                                                             \
        "write-out", ETCD_OPT_WRITE_OUT, "FORMAT",                                \
                "etcdctl's output switch: json (= --json) or simple (the text,\n" \
                "the default)",                                                   \
                "json simple"                                                     \
    }

/*
 * Parse a subcommand's command line with spec (cli_parse_ctx), then apply
 * -w. Returns -1 to go on (positional arguments at argv[optind..argc)),
 * else the exit code.
 */
int etcd_parse(const cli_command_spec *spec, int argc, char **argv, etcd_args *a);

/*
 * Resolve the DB argument db_arg (etcd_resolve), run fn over it with ctx
 * (etcd_run: --live's retries included) and free the resolved path.
 * Returns the exit code.
 */
int etcd_run_db(const etcd_args *a, const char *db_arg, etcd_read_fn fn, void *ctx);

extern const cli_command_spec etcd_status_spec, etcd_get_spec, etcd_history_spec, etcd_leases_spec,
        etcd_hashkv_spec, etcd_compact_spec, etcd_dump_spec;

int etcd_status(int argc, char **argv);
int etcd_get(int argc, char **argv);
int etcd_history(int argc, char **argv);
int etcd_leases(int argc, char **argv);
int etcd_hashkv(int argc, char **argv);
int etcd_compact(int argc, char **argv);
int etcd_dump(int argc, char **argv);

#endif
