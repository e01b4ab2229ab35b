/*
 * cli_db.h: what the commands that read or write a bolt file share: the
 * common options (--key-format, --value-format, --timeout), opening a file
 * with the right lock and error, and walking a path of bucket names.
 */
#ifndef STRATA_CLI_DB_H
#define STRATA_CLI_DB_H

#include <getopt.h>
#include <stdint.h>

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

/* Defaults: auto formats, 1 s lock timeout. */
void cli_opts_init(cli_opts *o);

/*
 * Handle getopt code c if it is a common option: 0 handled, 1 not a common
 * option, -1 bad value (message printed: a usage error).
 */
int cli_opts_handle(const char *cmd, cli_opts *o, int c, const char *arg);

/* "250ms", "2s", "1m", "3" (seconds) -> milliseconds; 0 or -1 if malformed. */
int cli_parse_duration(const char *text, uint64_t *ms);

/* A page size for a new file: a power of two in 512..65536; 0 or -1 (printed). */
int cli_parse_page_size(const char *cmd, const char *text, uint32_t *out);

/*
 * Open path read-only with a shared lock, waiting up to o->timeout_ms.
 * Returns CLI_OK with *db, or the exit code after printing why (a writer
 * holding the file: exit 3 with a hint).
 */
int cli_db_open_read(const char *cmd, const cli_opts *o, const char *path, bolt_db **db);

/*
 * Open the bucket at the path names[0..n) (argv strings, decoded with
 * o->key_fmt) from the root. n = 0 gives the root bucket. Returns CLI_OK
 * with *out, or the exit code after printing why (CLI_FINDING when a
 * bucket on the path does not exist).
 */
int cli_bucket_walk(const char *cmd, const cli_opts *o, bolt_tx *tx, char **names, int n,
                    bolt_bucket **out);

#endif
