/*
 * cli_db.h: what the commands that read or write a bolt file share: the
 * common options and their table (help text, bash completion and the man
 * page's option list all come from it), opening a file (with bolt or with
 * the backend layer) with the right lock or none (--live), reading it in a
 * transaction that a live read repeats until it is consistent, and walking
 * a path of bucket names.
 *
 * The conventions every command follows (issue 20; /work/coord/INTERFACES.md):
 *   - keys, bucket names and values round-trip (cli_util.h);
 *   - --live on every read-only command: no lock, bolt's live open, and
 *     output only from a read that bolt_tx_live_verify found consistent
 *     (cli_view); a locked file's message names the command's --live;
 *   - --json: one JSON document on stdout (cli_json.h), fields listed in
 *     the command's --help; progress and warnings only on stderr;
 *   - "-" as a path: standard output for outputs, standard input for
 *     inputs (cli_io.h);
 *   - --timeout 0 waits forever; the default is 1 s;
 *   - exit codes 0 ok, 1 finding, 2 usage, 3 cannot open/read, 4 internal.
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
    cli_format key_fmt;    /* --key-format: keys in output and in arguments */
    cli_format value_fmt;  /* --value-format: values in output (and in arguments) */
    cli_format bucket_fmt; /* --bucket-format: bucket names, per path element */
    uint64_t timeout_ms;   /* --timeout: lock wait; 0 = forever */
    bool live;             /* --live: no lock, bolt's live open */
    bool json;             /* --json: one JSON document on stdout */
    const char *cmd;       /* the command's name (for messages) */
} cli_opts;

/* getopt_long codes of the common options (outside the ASCII range). */
enum {
    CLI_OPT_KEY_FORMAT = 1000,
    CLI_OPT_VALUE_FORMAT,
    CLI_OPT_TIMEOUT,
    CLI_OPT_BUCKET_FORMAT,
    CLI_OPT_LIVE,
    CLI_OPT_JSON,
};

/* Which common options a command takes (cli_command_spec.common). */
enum {
    CLI_C_KEYS = 1u << 0,         /* --key-format */
    CLI_C_VALUES = 1u << 1,       /* --value-format */
    CLI_C_BUCKETS = 1u << 2,      /* --bucket-format */
    CLI_C_TIMEOUT = 1u << 3,      /* --timeout */
    CLI_C_LIVE = 1u << 4,         /* --live */
    CLI_C_JSON = 1u << 5,         /* --json */
    CLI_C_VALUES_BYTES = 1u << 6, /* --value-format also takes bytes */
    CLI_C_NONE = 1u << 15,        /* none at all (same as no_common) */
    /* The common set of a read-only command on a bolt file. */
    CLI_C_READ =
            CLI_C_KEYS | CLI_C_VALUES | CLI_C_BUCKETS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
};

/* The old option list (commands written before the table): key/value formats, timeout. */
#define CLI_COMMON_OPTIONS                                                     \
    { "key-format", required_argument, NULL, CLI_OPT_KEY_FORMAT },             \
            { "value-format", required_argument, NULL, CLI_OPT_VALUE_FORMAT }, \
    {                                                                          \
        "timeout", required_argument, NULL, CLI_OPT_TIMEOUT                    \
    }

#define CLI_COMMON_HELP                                                                      \
    "  --key-format auto|text|hex|escaped    keys in arguments and output (auto)\n"          \
    "  --value-format auto|text|hex|escaped  values in output (auto: text when printable)\n" \
    "  --timeout DURATION             wait this long for the file lock (1s; 0 = forever)\n"

/*
 * One option of a command, for the parser, --help, bash completion and
 * the man page alike. code is the getopt value: a letter for an option
 * with a short form (-o), or 2000 and up for long-only options.
 */
typedef struct cli_option {
    const char *name;   /* long name without "--"; NULL ends a table */
    int code;           /* getopt value; a printable letter is also the short option */
    const char *arg;    /* argument placeholder ("N", "FILE"), NULL for a flag */
    const char *help;   /* what it does; "\n" starts a continuation line */
    const char *values; /* completion of the argument: "file", "dir", or words; NULL */
} cli_option;

struct cli_command_spec;

/*
 * One subcommand of a command that dispatches on its first argument
 * (strata bench WORKLOAD, strata etcd COMMAND): the name, a line for the
 * parent's --help, the function (argv[0] is the subcommand's name, getopt's
 * state reset) and its own spec, from which its --help, bash completion
 * and the man page check come. A table ends with a NULL name.
 */
typedef struct cli_subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    const struct cli_command_spec *spec;
} cli_subcommand;

/* How a command's command line looks, for cli_parse. */
typedef struct cli_command_spec {
    const char *name;           /* "check", for messages */
    void (*usage)(FILE *out);   /* hand-written --help; NULL: generated from the fields below */
    int min_args, max_args;     /* positional arguments; max_args < 0: no limit */
    bool no_common;             /* refuse the common options (commands that open nothing) */
    const char *shorts;         /* old style: short options besides -h ("o:"); or NULL */
    const struct option *extra; /* old style: more long options, { NULL } terminated; or NULL */
    /* Handle one of the command's options (c is its code): 0, or -1 for a usage error. */
    int (*on_option)(int c, const char *arg, void *ctx);
    void *ctx;
    /* ---- the table-driven form (preferred) ---- */
    unsigned common;            /* CLI_C_* bits; 0 = the old set (keys, values, timeout) */
    const cli_option *options;  /* the command's own options, { NULL } terminated; or NULL */
    const char *synopsis;       /* after "strata NAME ": "[options] DB BUCKET... KEY" */
    const char *about;          /* what it does, paragraphs of text */
    const char *json;           /* the --json document's fields, one per line */
    const char *example;        /* example command lines ("$ strata ...") */
    const char *exits;          /* exit codes, when more than the usual words */
    const char *complete_args;  /* completion of positional arguments: "file" or NULL */
    const cli_subcommand *subs; /* subcommands (cli_dispatch); NULL for a plain command */
} cli_command_spec;

/*
 * Parse argv: --help (usage on stdout, exit 0), the common options into *o
 * (initialised here), the spec's options (passed to spec->on_option with
 * ctx), then check the number of positional arguments. Returns -1 to go
 * on, with the positional arguments at argv[optind..argc); otherwise the
 * exit code to return at once.
 */
int cli_parse_ctx(const cli_command_spec *spec, int argc, char **argv, cli_opts *o, void *ctx);
/* cli_parse_ctx with spec->ctx. */
int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_opts *o);

/* The --help text of a table-driven spec (generated), or its usage function's. */
void cli_usage(const cli_command_spec *spec, FILE *out);

/*
 * Run the subcommand spec->subs names in argv[1] (argv[0] is the command's
 * name) and return its exit code. "--help", "-h" or "help" print the
 * command's usage (with the subcommands' list) and return 0; a missing or
 * unknown subcommand is a usage error (2).
 */
int cli_dispatch(const cli_command_spec *spec, int argc, char **argv);

/* The common options a spec takes (resolving 0 to the old set), as CLI_C_* bits. */
unsigned cli_spec_common(const cli_command_spec *spec);

/*
 * The common options' table, each with the CLI_C_* bit that enables it
 * (for help, completion and the man page test). n gets the count.
 */
typedef struct cli_common_option {
    unsigned bit;
    cli_option opt;
} cli_common_option;
const cli_common_option *cli_common_options(size_t *n);

/* Defaults: auto formats, 1 s lock timeout, no live, no json. */
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

/* A finite decimal number (strtod's syntax); 0, or -1 with a message naming `what`. */
int cli_parse_double(const char *cmd, const char *what, const char *text, double *out);

/* A page size for a new file: a power of two in 512..65536; 0 or -1 (printed). */
int cli_parse_page_size(const char *cmd, const char *text, uint32_t *out);

/*
 * Open path read-only: without any lock under o->live (bolt_options.live),
 * else with a shared lock, waiting up to o->timeout_ms (0 = forever).
 * Returns CLI_OK with *db, or the exit code after printing why (a writer
 * holding the file: exit 3 naming the command's --live).
 */
int cli_db_open_read(const char *cmd, const cli_opts *o, const char *path, bolt_db **db);

/*
 * Open path read-only without any lock (bolt_options.live), for reading a
 * file another process holds open for writing. Returns CLI_OK or the exit
 * code after printing why.
 */
int cli_db_open_live(const char *cmd, const char *path, bolt_db **db);

/*
 * What tx holds, counted with bbolt's stats walk (bolt_bucket_stats of the
 * root: every page once, no cursor; far cheaper than reading the keys):
 * the plain key/value pairs and the buckets below the root. For the
 * progress totals of the commands that go through every key (compact,
 * dump). 0, or the stats' status (a damaged file: count nothing).
 */
int cli_count_keys(bolt_tx *tx, uint64_t *pairs, uint64_t *buckets);

/* The message after BOLT_ETIMEOUT for a reader: the file is held; try --live. */
void cli_lock_hint_read(const char *cmd, const char *path, bool has_live);

/*
 * What a reader does inside one read transaction: write its result to out
 * and its messages to err (both are buffers during a live read, shown only
 * once the read is known consistent), and return an exit code. A bolt
 * failure is best turned into a code with cli_report_db(err, ...).
 */
typedef int (*cli_view_fn)(void *ctx, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err);

/*
 * Open path for reading (cli_db_open_read), run fn in a read transaction
 * and close. Under o->live the read is checked with bolt_tx_live_verify
 * afterwards and repeated (up to CLI_LIVE_ATTEMPTS times) when a commit
 * landed under it; only the consistent attempt's output and messages are
 * written out. Returns fn's exit code, or the open's.
 */
#define CLI_LIVE_ATTEMPTS 20
int cli_view(const cli_opts *o, const char *path, cli_view_fn fn, void *ctx);

/*
 * "strata CMD: PATH: message (NAME)" on err, followed by the page and
 * element bolt named (bolt_db_last_corruption) for BOLT_ECORRUPT. Returns
 * cli_exit_for(rc).
 */
int cli_report_db(FILE *err, const char *cmd, const char *path, bolt_db *db, int rc);

/*
 * Open path with the backend layer (etcd's batching backend). bo comes
 * from backend_options_init with the caller's choices (read_only for
 * commands that only read: a shared lock, nothing written; with o->live
 * and read_only, no lock at all); the lock timeout is taken from o. A
 * missing or empty file is refused in either mode, never created or
 * initialised. Returns CLI_OK with *be, or the exit code after printing
 * why (another process holding the file: exit 3 with a hint).
 */
int cli_backend_open(const char *cmd, const cli_opts *o, const char *path, backend_options *bo,
                     backend **be);

/*
 * The hint printed after BOLT_ETIMEOUT: who may hold the lock, for a
 * command that wants to read (shared lock) or to write (exclusive).
 */
void cli_backend_lock_hint(const char *cmd, const char *path, bool read_only);

/*
 * The newest valid meta's txid of the file at path, read with pread and
 * no lock (0 when no meta is valid). A command that reads a live file by
 * other means than a bolt transaction (the backend's hash and snapshot)
 * compares it before and after: equal means no commit landed meanwhile.
 * 0 or -errno.
 */
int cli_live_txid(const char *path, uint64_t *txid);

/*
 * Open the bucket at the path names[0..n) (argv strings, decoded with
 * o->bucket_fmt) from the root. n = 0 gives the root bucket. Returns CLI_OK
 * with *out, or the exit code after printing why to err (CLI_FINDING when
 * a bucket on the path does not exist; path and db name the file and its
 * last corruption in messages, db may be NULL).
 */
int cli_bucket_walk_to(FILE *err, const cli_opts *o, const char *path, bolt_db *db, bolt_tx *tx,
                       char **names, int n, bolt_bucket **out);
/*
 * cli_bucket_walk_to for the listings (keys, buckets): the walk also
 * enters (bolt_visited) the root bucket, each bucket on the path and every
 * sibling of each bucket it steps into, before the step, so a bucket whose
 * pages are those of its parent, an ancestor, a sibling or an ancestor's
 * sibling stops with the page named (exit 3) instead of listing the other
 * bucket's keys. Costs a validation of those buckets' own pages (not of
 * their nested buckets'): the listing of a small bucket beside a large one
 * reads the large one's pages once.
 */
int cli_bucket_walk_guarded(FILE *err, const cli_opts *o, const char *path, bolt_db *db,
                            bolt_tx *tx, char **names, int n, bolt_bucket **out);
/* cli_bucket_walk_to printing on stderr. */
int cli_bucket_walk(const char *cmd, const cli_opts *o, bolt_tx *tx, char **names, int n,
                    bolt_bucket **out);

#endif

/*
 * The pread commands' reader (info, pages, page, page-item): fn reads the
 * file r (opened with cli_raw_open: no map, no lock) and writes its result
 * to out and messages to err. Under o->live the newest meta's txid is read
 * before the open and after fn (cli_live_txid): when they differ a commit
 * landed during the read, which is thrown away and made again (up to
 * CLI_LIVE_ATTEMPTS times); out and err are buffers until then. Returns
 * fn's exit code, or the open's.
 */
struct cli_raw;
typedef int (*cli_raw_fn)(void *ctx, struct cli_raw *r, FILE *out, FILE *err);
int cli_raw_view(const cli_opts *o, const char *path, cli_raw_fn fn, void *ctx);
