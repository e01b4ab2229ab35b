/*
 * cli_io.h: "-" as a path, and progress on a terminal, for every command.
 *
 *   - An input path "-" is standard input. Commands need a file (bolt maps
 *     it, the pread commands seek in it), so cli_input_begin copies
 *     standard input to a temporary file in $TMPDIR and gives its path;
 *     messages name it "-". cli_input_end removes it.
 *   - An output path "-" is standard output. A command that creates a new
 *     file (compact, restore, load, salvage, surgery, gen) writes it under
 *     a temporary name in a private $TMPDIR directory and cli_output_end
 *     copies it to standard output once it is complete, so a failure never
 *     leaves half a file in a pipe. The summary such a command prints then
 *     goes to stderr (cli_output_summary), and --json with "-o -" is a
 *     usage error: both want stdout. Standard output that is a terminal is
 *     refused (a db file is binary).
 *   - Progress goes to stderr, only when stderr is a terminal and the
 *     command was not asked for --json (cli_progress_wanted): one line,
 *     rewritten in place and cleared at the end. Commands that have a
 *     counter pass it to a ticker; others show the elapsed time.
 */
#ifndef STRATA_CLI_IO_H
#define STRATA_CLI_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_db.h"

/* True for "-". */
bool cli_is_stdio(const char *arg);

typedef struct cli_input {
    const char *path; /* what to open: the argument, or the temporary copy */
    char *tmp;        /* the temporary copy of standard input (owned), or NULL */
} cli_input;

/* Resolve an input argument; CLI_OK, or the exit code after printing why. */
int cli_input_begin(const char *cmd, const char *arg, cli_input *in);
/* Remove the temporary copy, if any. */
void cli_input_end(cli_input *in);

typedef struct cli_output {
    const char *path; /* where the command writes: the argument, or a temporary path */
    bool to_stdout;   /* the argument was "-" */
    char *tmpdir;     /* the private directory of the temporary path (owned), or NULL */
    char *tmppath;    /* owned, or NULL */
} cli_output;

/*
 * Resolve an output argument; CLI_OK, or the exit code after printing why
 * (CLI_USAGE for "-" when stdout is a terminal, or with o->json).
 */
int cli_output_begin(const char *cmd, const cli_opts *o, const char *arg, cli_output *out);
/*
 * Finish: when ok and the output is "-", copy the temporary file to
 * standard output; remove the temporary file and directory in any case.
 * Returns CLI_OK, or the exit code after printing why.
 */
int cli_output_end(const char *cmd, cli_output *out, bool ok);
/* Where a command's summary line goes: stderr when its output is stdout. */
FILE *cli_output_summary(const cli_output *out);
/* How messages name the output: "-" for standard output. */
const char *cli_output_shown(const cli_output *out);

/* Whether to show progress: stderr is a terminal and not --json. */
bool cli_progress_wanted(const cli_opts *o);

/*
 * A progress line redrawn every 250 ms on stderr by a thread of its own:
 * "CMD: COUNT UNIT, S.S s" (or just the time without a counter) until
 * cli_ticker_stop, which clears the line. Returns NULL (no thread, nothing
 * shown) when progress is not wanted or no thread can be made; every call
 * accepts NULL. counter may be NULL; the command updates it as it goes.
 */
typedef struct cli_ticker cli_ticker;
cli_ticker *cli_ticker_start(const cli_opts *o, const char *unit, _Atomic uint64_t *counter);
void cli_ticker_stop(cli_ticker *t);

/*
 * Real progress from the library: from now on the line shows "CMD: WHAT
 * DONE of TOTAL (P%), S.S s" (TOTAL 0: unknown, only DONE). Callable from
 * any thread, t may be NULL. When WHAT changes (a new phase) the old
 * phase's last figures and the new one's first are drawn at once; stop
 * draws the last figures once more before clearing the line. The adapters match the library's
 * callbacks, with the ticker as their arg: cli_ticker_pages for
 * bolt_progress_fn walks ("pages checked"), cli_ticker_bytes for a
 * restore's input ("bytes read"), cli_ticker_backend for
 * backend_options.progress (its own WHAT).
 */
void cli_ticker_set(cli_ticker *t, const char *what, uint64_t done, uint64_t total);
void cli_ticker_pages(void *t, uint64_t done, uint64_t total);
void cli_ticker_bytes(void *t, uint64_t done, uint64_t total);
void cli_ticker_backend(void *t, const char *what, uint64_t done, uint64_t total);

/*
 * The report lines a writer prints on stdout (salvage, surgery), set aside
 * while it runs: to stderr when its new file goes to stdout (to_stderr),
 * into a buffer under --json (gather) that becomes the document's report.
 * begin: CLI_OK, or CLI_INTERNAL with the message printed (nothing set
 * aside). restore: stdout back. lines: the gathered lines as a JSON array
 * (the buffer is closed), NULL when not gathering. discard: close it unread.
 */
typedef struct cli_aside {
    int saved; /* the real stdout, or -1 */
    FILE *cap; /* the gathered lines (--json), or NULL */
} cli_aside;
int cli_aside_begin(const char *cmd, bool to_stderr, bool gather, cli_aside *a);
void cli_aside_restore(cli_aside *a);
struct json_t;
struct json_t *cli_aside_lines(cli_aside *a);
void cli_aside_discard(cli_aside *a);

/*
 * One attempt of a --live read, its output held back: the attempt writes to
 * `out` and `err` (memory); end writes what they hold to stdout and stderr
 * only when `emit` (the attempt saw one consistent state), then frees it.
 * begin: 0, or -ENOMEM with nothing held.
 */
typedef struct cli_held {
    FILE *out, *err;
    char *obuf, *ebuf;
    size_t olen, elen;
} cli_held;
int cli_held_begin(cli_held *h);
void cli_held_end(cli_held *h, bool emit);

#endif
