/*
 * cli_db.h: what the commands that read or write a bolt file share: the
 * common options (--key-format, --value-format, --timeout), opening a file
 * (with bolt or with the backend layer) with the right lock and error, and
 * walking a path of bucket names.
 */
#ifndef STRATA_CLI_DB_H
#define STRATA_CLI_DB_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <strata/backend.h>
#include <strata/bolt.h>

#include "cli_util.h"

typedef struct cli_opts {
    cli_format key_fmt;   /* --key-format: how keys are shown and read from argv */
    cli_format value_fmt; /* --value-format: how values are shown */
    uint64_t timeout_ms;  /* --timeout: how long to wait for the file lock */
} cli_opts;

/* getopt_long codes of the common options (outside the ASCII range). */
enum { CLI_OPT_KEY_FORMAT = 1000, CLI_OPT_VALUE_FORMAT, CLI_OPT_TIMEOUT };

#define CLI_COMMON_OPTIONS                                                     \
    { "key-format", required_argument, NULL, CLI_OPT_KEY_FORMAT },             \
            { "value-format", required_argument, NULL, CLI_OPT_VALUE_FORMAT }, \
    {                                                                          \
        "timeout", required_argument, NULL, CLI_OPT_TIMEOUT                    \
    }

#define CLI_COMMON_HELP                                                                \
    "  --key-format auto|ascii|hex    keys on the command line and in output (auto)\n" \
    "  --value-format auto|ascii|hex  values in output (auto: text when printable)\n"  \
    "  --timeout DURATION             wait this long for the file lock (1s; e.g. 500ms, 2s)\n"

/* How a command's command line looks, for cli_parse. */
typedef struct cli_command_spec {
    const char *name;           /* "check", for messages */
    void (*usage)(FILE *out);   /* the command's --help text */
    int min_args, max_args;     /* positional arguments; max_args < 0: no limit */
    bool no_common;             /* refuse the common options (commands that open nothing) */
    const char *shorts;         /* short options besides -h, getopt style ("o:"); or NULL */
    const struct option *extra; /* more long options, { NULL } terminated; or NULL */
    /* Handle one of `extra` (c is its val): 0, or -1 for a usage error (message printed). */
    int (*on_option)(int c, const char *arg, void *ctx);
    void *ctx;
} cli_command_spec;

/*
 * Parse argv: --help (usage on stdout, exit 0), the common options into *o
 * (initialised here), the spec's extra options, then check the number of
 * positional arguments. Returns -1 to go on, with the positional arguments
 * at argv[optind..argc); otherwise the exit code to return at once.
 */
int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_opts *o);

/* Defaults: auto formats, 1 s lock timeout. */
void cli_opts_init(cli_opts *o);

/*
 * Handle getopt code c if it is a common option: 0 handled, 1 not a common
 * option, -1 bad value (message printed: a usage error).
 */
int cli_opts_handle(const char *cmd, cli_opts *o, int c, const char *arg);

/* "250ms", "2s", "1m", "3" (seconds) -> milliseconds; 0 or -1 if malformed. */
int cli_parse_duration(const char *text, uint64_t *ms);

/* An unsigned decimal (or 0x hex) number; 0, or -1 with a message naming `what`. */
int cli_parse_u64(const char *cmd, const char *what, const char *text, uint64_t *out);

/* A page size for a new file: a power of two in 512..65536; 0 or -1 (printed). */
int cli_parse_page_size(const char *cmd, const char *text, uint32_t *out);

/*
 * Open path read-only with a shared lock, waiting up to o->timeout_ms.
 * Returns CLI_OK with *db, or the exit code after printing why (a writer
 * holding the file: exit 3 with a hint).
 */
int cli_db_open_read(const char *cmd, const cli_opts *o, const char *path, bolt_db **db);

/*
 * Open path read-only without any lock (bolt_options.live), for reading a
 * file another process holds open for writing. Returns CLI_OK or the exit
 * code after printing why.
 */
int cli_db_open_live(const char *cmd, const char *path, bolt_db **db);

/*
 * Open path with the backend layer (etcd's batching backend). bo comes
 * from backend_options_init with the caller's choices (read_only for
 * commands that only read: a shared lock, nothing written); the lock
 * timeout is taken from o. A missing or empty file is refused in either
 * mode, never created or initialised. Returns CLI_OK with *be, or the exit
 * code after printing why (another process holding the file: exit 3 with
 * a hint).
 */
int cli_backend_open(const char *cmd, const cli_opts *o, const char *path, backend_options *bo,
                     backend **be);

/*
 * The hint printed after BOLT_ETIMEOUT: who may hold the lock, for a
 * command that wants to read (shared lock) or to write (exclusive).
 */
void cli_backend_lock_hint(const char *cmd, const char *path, bool read_only);

/*
 * Open the bucket at the path names[0..n) (argv strings, decoded with
 * o->key_fmt) from the root. n = 0 gives the root bucket. Returns CLI_OK
 * with *out, or the exit code after printing why (CLI_FINDING when a
 * bucket on the path does not exist).
 */
int cli_bucket_walk(const char *cmd, const cli_opts *o, bolt_tx *tx, char **names, int n,
                    bolt_bucket **out);

#endif
