/*
 * script.h: `strata script`, the runner of the mvcc script language
 * (../shared/spec/ORACLE.md): a line-based op script on stdin applied to a
 * strata store opened through the public API (backend.h, mvcc.h, and
 * lease.h once the lessor's ops are in), printing the canonical text the
 * real etcd 3.4.23 mvcc prints for the same script (peers/etcd/mvccoracle).
 *
 * Structure. The runner (script_run.c) reads lines, tokenizes them
 * (script_lex.c), finds the op in a table and calls it; the ops print
 * through the helpers of script_out.c. Ops come in plug-ins: a plug-in is
 * a table of ops plus hooks into the runner's life cycle (open, close,
 * after every op). The kv plug-in (script_kv.c) has every op but the
 * lessor's and the watchers'. The lease and watch plug-ins live in their
 * own files, script_lease.c and
 * script_watch.c, each defining one `const script_plugin`
 * (script_lease_plugin, script_watch_plugin); tools/strata/meson.build
 * compiles a plug-in in when its file exists and defines
 * STRATA_SCRIPT_LEASE / STRATA_SCRIPT_WATCH, which adds it to the list in
 * script_run.c. Nobody edits the parser or the runner to add ops. Until a
 * plug-in is in, its ops (`lease ...`, `watch`, `cancel`) and a put with a
 * non-zero lease are a script error naming the op (exit 2).
 *
 * Op contract. An op gets its arguments already split into positional
 * arguments, options (`name=value`, names from the op's `options`) and
 * flags (words from the op's `flags`), exactly as the oracle splits them
 * (ORACLE.md §1). It prints exactly one result line and its detail lines
 * with script_line / script_q / script_kv_line, and returns:
 *   0                   done;
 *   SCRIPT_FAIL         a script error, after script_fail() said why
 *                       (bad usage, bad number, ...): the runner flushes the
 *                       output printed so far, reports the line on stderr
 *                       and exits 2;
 *   SCRIPT_INTERNAL     strata itself failed (an I/O error, a status the
 *                       script language has no output for), after
 *                       script_internal() said why: exit 4.
 * An op that fails must do so before printing anything, as the oracle
 * does (it validates every argument before it calls etcd).
 *
 * Errors printed in the output (`error="..."`) are etcd's error strings;
 * the mvcc and lease layers give their etcd-derived codes etcd's messages,
 * so script_error_is_etcd() / script_error() turn a status code into the
 * printed text.
 *
 * Thread rules: one thread; nothing here is shared.
 */
#ifndef STRATA_SCRIPT_H
#define STRATA_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <strata/backend.h>
#include <strata/mvcc.h>

/* Op results besides 0 (see the op contract above). */
enum { SCRIPT_FAIL = -1, SCRIPT_INTERNAL = -2 };

/* The runner's exit codes (the CLI's: cli.h). */
enum {
    SCRIPT_EXIT_OK = 0,
    SCRIPT_EXIT_SCRIPT = 2,
    SCRIPT_EXIT_NOOPEN = 3,
    SCRIPT_EXIT_INTERNAL = 4
};

/* ---- tokens and arguments (script_lex.c) ---------------------------------- */

/*
 * One token of a line: a bare token (its bytes as written) or a quoted one
 * (its bytes after the escapes). Points into the line buffer the tokenizer
 * was given; valid while that buffer is.
 */
typedef struct script_tok {
    const unsigned char *s;
    size_t len;
    bool quoted;
} script_tok;

/*
 * Split a line into tokens (ORACLE.md §1): spaces, tabs and CRs separate
 * tokens; a token starting with '#' ends the line; a token starting with
 * '"' is quoted (escapes \\ \" \n \t \r \0 \xHH), must be closed and be
 * followed by a separator or the end. Quoted tokens are decoded in place,
 * so line is modified. *toks is a growable array (initially NULL, *cap 0;
 * free it with free()). Returns the number of tokens (0: nothing to do),
 * or -1 with *why set (a static message) for a malformed line, or -2 when
 * out of memory.
 */
long script_tokenize(unsigned char *line, size_t len, script_tok **toks, size_t *cap,
                     const char **why);

/* At most this many options and flags per op. */
#define SCRIPT_MAX_NAMES 8

/*
 * An op's arguments: the tokens after the op name, split as the oracle
 * splits them. A bare `name=value` whose name is one of the op's options
 * is an option (given twice: a script error); a bare token equal to one of
 * the op's flag words is a flag (repeating it is allowed); everything else
 * is positional, in order.
 */
typedef struct script_args {
    const struct script_op *op;
    const script_tok *pos; /* positional arguments (copies of the tokens) */
    size_t npos;
    const char *opt[SCRIPT_MAX_NAMES]; /* the value of options[i] (NUL-terminated), or NULL */
    size_t optlen[SCRIPT_MAX_NAMES];
    bool flag[SCRIPT_MAX_NAMES]; /* flags[i] given */
} script_args;

/*
 * Split the tokens after an op's name (toks[0..n)) into a: the op's
 * options and flags, the rest positional into pos (room for n tokens).
 * Option values are NUL-terminated in place (the line buffer must have a
 * byte after its end). 0, or SCRIPT_FAIL for an option given twice.
 */
struct script_ctx;
int script_split_args(struct script_ctx *c, const struct script_op *op, const script_tok *toks,
                      size_t n, script_tok *pos, script_args *a);

/* A range of keys as mvcc takes it: [key, end); see script_key_range. */
typedef struct script_range {
    const unsigned char *key;
    size_t klen;
    const unsigned char *end; /* NULL: the single key `key`; else [key, end) */
    size_t elen;              /* with end != NULL, 0 means "every key >= key" */
} script_range;

/* ---- the runner ------------------------------------------------------------ */

typedef struct script_options {
    const char *db_path;        /* --db FILE; NULL: a temporary db removed at exit */
    int64_t min_ttl;            /* --min-ttl: the lessor's minimum TTL (lease plug-in) */
    uint64_t batch_interval_ns; /* --batch-interval; 0 = the backend's default */
    uint32_t batch_limit;       /* --batch-limit; 0 = the backend's default */
    uint64_t lock_timeout_ms;   /* wait for the db file's lock this long */
    bool echo;                  /* --echo: "> LINE" before each op's output (the oracle's -echo) */
} script_options;

typedef struct script_plugin script_plugin;

/*
 * What every op sees. The stack is opened as an application opens it: the
 * backend over the db file, then (plug-ins' open_before_store hooks, e.g.
 * a lessor over the backend) the mvcc store over the backend.
 */
typedef struct script_ctx {
    const script_options *opt;
    const char *path; /* the db file */
    backend *be;
    mvcc_store *kv;
    mvcc_txn *txn; /* the write txn opened by `txn`, until `end`; else NULL */
    FILE *out;     /* the canonical output */
    unsigned long line_no;
    char why[512];  /* the message of the last script_fail / script_internal */
    void *state[8]; /* each plug-in's state (state_size bytes, zeroed), by plug-in index */
} script_ctx;

/* Op flags. */
enum {
    SCRIPT_OP_TXN = 1u << 0,      /* allowed both outside and inside txn ... end */
    SCRIPT_OP_TXN_ONLY = 1u << 1, /* allowed only inside (end) */
    SCRIPT_OP_NO_DRAIN = 1u << 2, /* the after-op hooks do not run after it (txn) */
};

typedef struct script_op {
    const char *name;
    const char *const *options; /* option names, NULL-terminated; or NULL */
    const char *const *flags;   /* flag words, NULL-terminated; or NULL */
    unsigned mode;              /* SCRIPT_OP_* */
    /* Run the op; state is the plug-in's (see the op contract above). */
    int (*run)(script_ctx *c, const script_args *a, void *state);
} script_op;

/*
 * A plug-in: its ops and its hooks into the runner's life cycle. Every
 * hook may be NULL; each returns 0, SCRIPT_FAIL or SCRIPT_INTERNAL (after
 * script_fail / script_internal). Hooks run in plug-in order when opening
 * and after an op, in reverse order when closing.
 */
struct script_plugin {
    const char *name;
    size_t state_size; /* bytes of zeroed state the runner allocates for it */
    const script_op *ops;
    size_t nops;
    /* The backend is open (c->be), the store not yet: fill *so (a lessor, say). */
    int (*open_before_store)(script_ctx *c, void *state, mvcc_options *so);
    /* The store is open (c->kv). */
    int (*open_after_store)(script_ctx *c, void *state);
    /*
     * The store is about to close (reopen, or the end of the run): let go
     * of what uses it; add the watch ids that were live to *dropped.
     */
    int (*close_before_store)(script_ctx *c, void *state, int64_t *dropped);
    /* The store has closed, the backend not yet. Must not fail the run. */
    void (*close_after_store)(script_ctx *c, void *state);
    /* After every top-level op (and `end`): print what it caused (watch events). */
    int (*after_op)(script_ctx *c, void *state);
};

/* The kv plug-in (script_kv.c): every op of ORACLE.md but lease, watch, cancel. */
extern const script_plugin script_kv_plugin;

/*
 * Run the script read from in, printing to out; messages go to stderr.
 * Returns the exit code: SCRIPT_EXIT_OK, SCRIPT_EXIT_SCRIPT (a script
 * error; the output up to the line before is written), SCRIPT_EXIT_NOOPEN
 * (the db cannot be opened), SCRIPT_EXIT_INTERNAL.
 */
int script_run(const script_options *opt, FILE *in, FILE *out);

/* Print the names of the ops this build knows, one per line. */
void script_list_ops(FILE *out);

/*
 * Close the store (and what the plug-ins built on it) and the backend,
 * then open them again over the same file (the `reopen` op). *dropped
 * receives the number of watchers the plug-ins dropped. Returns 0,
 * SCRIPT_FAIL or SCRIPT_INTERNAL (the stack is then closed).
 */
int script_reopen(script_ctx *c, int64_t *dropped);

/* ---- helpers for ops (script_lex.c) ----------------------------------------- */

/* Record a script error (printf-style) and return SCRIPT_FAIL. */
int script_fail(script_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record an internal failure: "what: <strerror(rc)>"; returns SCRIPT_INTERNAL. */
int script_internal(script_ctx *c, int rc, const char *what);

/* Is flag word `name` (one of the op's flags) given? */
bool script_flag(const script_args *a, const char *name);

/* The value of option `name` (one of the op's), or NULL when not given. */
const char *script_opt(const script_args *a, const char *name);

/*
 * A decimal int64 as Go's strconv.ParseInt(s, 10, 64) reads it: an
 * optional sign, then one or more digits, nothing else, in range. 0 and
 * *out, or -1.
 */
int script_parse_int64(const unsigned char *s, size_t len, int64_t *out);

/* Positional argument i as an int64; a script error naming `what` when it is not one. */
int script_pos_int64(script_ctx *c, const script_args *a, size_t i, const char *what, int64_t *out);

/* Option `name` as an int64 (def when absent); a script error when it is not one. */
int script_opt_int64(script_ctx *c, const script_args *a, const char *name, int64_t def,
                     int64_t *out);

/*
 * The key range of positional arguments first.. (ORACLE.md §1): KEY [END]
 * and the flags `prefix` / `fromkey` (the op must have them as flags).
 * An empty KEY is an error except `"" prefix` alone (the whole key space:
 * key "\0", every key >= it). An empty END means no end; END "\x00"
 * means every key >= KEY, as does a prefix of 0xff bytes only. At most one
 * of END, prefix, fromkey. The range points into the tokens and into
 * *buf (for a prefix end; buf must stay alive as long as the range).
 */
int script_key_range(script_ctx *c, const script_args *a, size_t first, script_range *r,
                     unsigned char **buf);

/* ---- output (script_out.c) ------------------------------------------------- */

/* Print a line: printf-style text, then '\n'. */
void script_line(script_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print printf-style text, no newline. */
void script_print(script_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Print bytes canonically (ORACLE.md §3): '"', each byte as itself if it
 * is printable ASCII 0x20..0x7e other than '"' and '\', else \xHH in
 * lower-case hex, then '"'.
 */
void script_q(script_ctx *c, const void *data, size_t len);

/* A key-value as the script language prints it. */
typedef struct script_kv {
    const void *key;
    size_t klen;
    const void *value;
    size_t vlen;
    int64_t create, mod, version, lease;
} script_kv;

/*
 * Print "<prefix> key=K create=C mod=M ver=V lease=L[ value=X]\n": the
 * detail lines of range and del and the watch event lines.
 */
void script_kv_line(script_ctx *c, const char *prefix, const script_kv *kv, bool with_value);

/* Is rc one of etcd's own errors (mvcc's or lease's), which the output shows as error="..."? */
bool script_error_is_etcd(int rc);

/* Print `error="<etcd's message for rc>"` (no newline). */
void script_error(script_ctx *c, int rc);

#endif
