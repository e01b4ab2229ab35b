/*
 * cli_db.c: common options, the option table's parser and help, opening
 * files (locked or live), the consistent read of cli_view, and walking
 * bucket paths (see cli_db.h).
 */
#include "cli_db.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bolt_int.h"
#include "cli.h"
#include "cli_io.h"
#include "cli_raw.h"

static const cli_common_option common_table[] = {
    { CLI_C_KEYS,
      { "key-format", CLI_OPT_KEY_FORMAT, "FMT",
        "keys in arguments and output: auto (text, or 0x-hex when not\n"
        "printable or when it starts with 0x), text, hex, escaped",
        "auto text hex escaped" } },
    { CLI_C_BUCKETS,
      { "bucket-format", CLI_OPT_BUCKET_FORMAT, "FMT",
        "bucket names, each element of a path: auto, text, hex, escaped",
        "auto text hex escaped" } },
    { CLI_C_VALUES,
      { "value-format", CLI_OPT_VALUE_FORMAT, "FMT", "values in output: auto, text, hex, escaped",
        "auto text hex escaped" } },
    { CLI_C_LIVE,
      { "live", CLI_OPT_LIVE, NULL,
        "read a file another process holds open for writing: no lock;\n"
        "the read starts again when a commit lands under it",
        NULL } },
    { CLI_C_JSON,
      { "json", CLI_OPT_JSON, NULL, "print one JSON document on stdout (fields below)", NULL } },
    { CLI_C_TIMEOUT,
      { "timeout", CLI_OPT_TIMEOUT, "DURATION",
        "wait this long for the file lock (default 1s; 0 = forever;\ne.g. 500ms, 2s, 1m)", NULL } },
};
#define N_COMMON (sizeof common_table / sizeof common_table[0])

const cli_common_option *cli_common_options(size_t *n)
{
    *n = N_COMMON;
    return common_table;
}

void cli_opts_init(cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->key_fmt = CLI_FORMAT_AUTO;
    o->value_fmt = CLI_FORMAT_AUTO;
    o->bucket_fmt = CLI_FORMAT_AUTO;
    o->timeout_ms = 1000;
    o->cmd = "";
}

int cli_parse_duration(const char *text, uint64_t *ms)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-')
        return -1;
    uint64_t scale;
    if (*end == '\0' || strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else
        return -1;
    if (n > UINT64_MAX / scale)
        return -1;
    *ms = n * scale;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *what, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno != 0 || *text == '\0' || *text == '-' || *end != '\0') {
        fprintf(stderr, "strata %s: %s '%s' is not an unsigned number\n", cmd, what, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *what, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v)) {
        fprintf(stderr, "strata %s: %s '%s' is not a number\n", cmd, what, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_page_size(const char *cmd, const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 512 || v > 65536 || (v & (v - 1)) != 0) {
        fprintf(stderr, "strata %s: page size '%s' is not a power of two in 512..65536\n", cmd,
                text);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int cli_opts_handle(const char *cmd, cli_opts *o, int c, const char *arg)
{
    cli_format *fmt = NULL;
    switch (c) {
    case CLI_OPT_KEY_FORMAT:
        fmt = &o->key_fmt;
        break;
    case CLI_OPT_VALUE_FORMAT:
        fmt = &o->value_fmt;
        break;
    case CLI_OPT_BUCKET_FORMAT:
        fmt = &o->bucket_fmt;
        break;
    case CLI_OPT_TIMEOUT:
        if (cli_parse_duration(arg, &o->timeout_ms) != 0) {
            fprintf(stderr, "strata %s: timeout '%s' is not a duration (e.g. 500ms, 2s, 0)\n", cmd,
                    arg);
            return -1;
        }
        return 0;
    case CLI_OPT_LIVE:
        o->live = true;
        return 0;
    case CLI_OPT_JSON:
        o->json = true;
        return 0;
    default:
        return 1;
    }
    /* bytes is a value format only; the command refuses it where it means nothing */
    if (cli_format_parse2(arg, c == CLI_OPT_VALUE_FORMAT, fmt) != 0) {
        fprintf(stderr, "strata %s: format '%s' is not auto, text, hex or escaped%s\n", cmd, arg,
                c == CLI_OPT_VALUE_FORMAT ? " (or bytes)" : "");
        return -1;
    }
    return 0;
}

unsigned cli_spec_common(const cli_command_spec *spec)
{
    if (spec->no_common || (spec->common & CLI_C_NONE))
        return 0;
    if (spec->common == 0)
        return CLI_C_KEYS | CLI_C_VALUES | CLI_C_TIMEOUT;
    return spec->common;
}

/* Print one option's line(s): "  -o, --output FILE   help" aligned at column 32. */
static void usage_option(FILE *out, const cli_option *opt)
{
    char head[64];
    bool has_short = opt->code > ' ' && opt->code < 127;
    snprintf(head, sizeof head, "%s%c%s--%s%s%s", has_short ? "-" : "", has_short ? opt->code : ' ',
             has_short ? ", " : "", opt->name, opt->arg != NULL ? " " : "",
             opt->arg != NULL ? opt->arg : "");
    const char *h = has_short ? head : head + 1;
    fprintf(out, "  %-30s", h);
    if (strlen(h) > 30)
        fprintf(out, "\n  %-30s", "");
    for (const char *p = opt->help; *p != '\0'; p++) {
        putc(*p, out);
        if (*p == '\n')
            fprintf(out, "  %-30s", "");
    }
    putc('\n', out);
}

static void indent_text(FILE *out, const char *text, const char *pad)
{
    fputs(pad, out);
    for (const char *p = text; *p != '\0'; p++) {
        putc(*p, out);
        if (*p == '\n' && p[1] != '\0')
            fputs(pad, out);
    }
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
        putc('\n', out);
}

void cli_usage(const cli_command_spec *spec, FILE *out)
{
    if (spec->usage != NULL) {
        spec->usage(out);
        return;
    }
    fprintf(out, "usage: strata %s %s\n\n", spec->name, spec->synopsis ? spec->synopsis : "");
    if (spec->about != NULL)
        indent_text(out, spec->about, "");
    if (spec->subs != NULL) {
        fprintf(out, "\nsubcommands ('strata %s SUBCOMMAND --help' lists each one's options):\n",
                spec->name);
        for (const cli_subcommand *s = spec->subs; s->name != NULL; s++)
            fprintf(out, "  %-10s %s\n", s->name, s->summary);
    }
    fprintf(out, "\noptions:\n");
    for (const cli_option *e = spec->options; e != NULL && e->name != NULL; e++)
        usage_option(out, e);
    unsigned common = cli_spec_common(spec);
    for (size_t i = 0; i < N_COMMON; i++) {
        if (!(common & common_table[i].bit))
            continue;
        if (common_table[i].bit == CLI_C_VALUES && (common & CLI_C_VALUES_BYTES)) {
            cli_option v = common_table[i].opt;
            v.help = "values in output: auto, text, hex, escaped, or bytes\n"
                     "(the raw bytes, no newline: for pipes)";
            usage_option(out, &v);
            continue;
        }
        usage_option(out, &common_table[i].opt);
    }
    fprintf(out, "  %-30s%s\n", "-h, --help", "this help");
    if (spec->json != NULL && (common & CLI_C_JSON)) {
        fprintf(out, "\nJSON (--json), one document on stdout; keys, bucket names and values\n"
                     "are strings in their format (auto: text or 0x-hex):\n");
        indent_text(out, spec->json, "  ");
    }
    if (spec->exits != NULL) {
        fprintf(out, "\nexit codes:\n");
        indent_text(out, spec->exits, "  ");
    } else {
        fprintf(out, "\nexit codes: 0 ok, 1 finding, 2 usage, 3 cannot open or read, 4 internal\n");
    }
    if (spec->example != NULL) {
        fprintf(out, "\nexample:\n");
        indent_text(out, spec->example, "  ");
    }
}

int cli_dispatch(const cli_command_spec *spec, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        cli_usage(spec, stdout);
        return CLI_OK;
    }
    for (const cli_subcommand *s = spec->subs; argc >= 2 && s != NULL && s->name != NULL; s++)
        if (strcmp(argv[1], s->name) == 0) {
            optind = 0; /* the subcommand parses its own options from argv[1] on */
            return s->run(argc - 1, argv + 1);
        }
    if (argc >= 2)
        fprintf(stderr, "strata %s: unknown subcommand '%s'\n\n", spec->name, argv[1]);
    else
        fprintf(stderr, "strata %s: the subcommand is missing\n\n", spec->name);
    cli_usage(spec, stderr);
    return CLI_USAGE;
}

int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_opts *o)
{
    return cli_parse_ctx(spec, argc, argv, o, spec->ctx);
}

int cli_parse_ctx(const cli_command_spec *spec, int argc, char **argv, cli_opts *o, void *ctx)
{
    enum { MAX_OPTIONS = 48, MAX_SHORTS = 48 };
    struct option opts[MAX_OPTIONS];
    char shorts[MAX_SHORTS] = "h";
    size_t n = 0, ns = 1;
    opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    unsigned common = cli_spec_common(spec);
    for (size_t i = 0; i < N_COMMON; i++)
        if (common & common_table[i].bit)
            opts[n++] = (struct option){ common_table[i].opt.name,
                                         common_table[i].opt.arg ? required_argument : no_argument,
                                         NULL, common_table[i].opt.code };
    for (const cli_option *e = spec->options; e != NULL && e->name != NULL; e++) {
        if (n + 1 >= MAX_OPTIONS || ns + 3 >= MAX_SHORTS) {
            fprintf(stderr, "strata %s: too many options (a bug in strata)\n", spec->name);
            return CLI_INTERNAL;
        }
        opts[n++] =
                (struct option){ e->name, e->arg ? required_argument : no_argument, NULL, e->code };
        if (e->code > ' ' && e->code < 127) {
            shorts[ns++] = (char)e->code;
            if (e->arg != NULL)
                shorts[ns++] = ':';
        }
    }
    for (const struct option *e = spec->extra; e != NULL && e->name != NULL; e++) {
        if (n + 1 >= MAX_OPTIONS) {
            fprintf(stderr, "strata %s: too many options (a bug in strata)\n", spec->name);
            return CLI_INTERNAL;
        }
        opts[n++] = *e;
    }
    opts[n] = (struct option){ NULL, 0, NULL, 0 };
    shorts[ns] = '\0';
    if (spec->shorts != NULL) {
        if (strlen(spec->shorts) + ns + 1 > sizeof shorts) {
            fprintf(stderr, "strata %s: too many short options (a bug in strata)\n", spec->name);
            return CLI_INTERNAL;
        }
        strcat(shorts, spec->shorts);
    }

    cli_opts_init(o);
    o->cmd = spec->name;
    int c;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        int r;
        if (c == 'h') {
            cli_usage(spec, stdout);
            return CLI_OK;
        }
        if (c == '?' || c == ':')
            r = -1;
        else if ((r = cli_opts_handle(spec->name, o, c, optarg)) == 1)
            r = spec->on_option != NULL ? spec->on_option(c, optarg, ctx) : -1;
        if (r != 0) {
            cli_usage(spec, stderr);
            return CLI_USAGE;
        }
    }
    if (o->value_fmt == CLI_FORMAT_BYTES && !(common & CLI_C_VALUES_BYTES)) {
        fprintf(stderr, "strata %s: --value-format bytes is for get and page-item only\n",
                spec->name);
        return CLI_USAGE;
    }
    if (o->value_fmt == CLI_FORMAT_BYTES && o->json) {
        fprintf(stderr, "strata %s: --json and raw bytes cannot share stdout\n", spec->name);
        return CLI_USAGE;
    }
    int npos = argc - optind;
    if (npos < spec->min_args || (spec->max_args >= 0 && npos > spec->max_args)) {
        cli_usage(spec, stderr);
        return CLI_USAGE;
    }
    return -1;
}

int cli_count_keys(bolt_tx *tx, uint64_t *pairs, uint64_t *buckets)
{
    bolt_stats st;
    int rc = bolt_bucket_stats(bolt_tx_root(tx), &st);
    if (rc != 0)
        return rc;
    if (st.buckets < 1 || st.keys < st.buckets - 1)
        return BOLT_ECORRUPT; /* each bucket below the root is an element of its parent */
    /* stats count a nested bucket's element in its parent as a key too */
    *buckets = st.buckets - 1;
    *pairs = st.keys - *buckets;
    return 0;
}

void cli_lock_hint_read(const char *cmd, const char *path, bool has_live)
{
    if (has_live)
        fprintf(stderr,
                "strata %s: %s is locked by a process that has it open for writing; "
                "read it anyway with 'strata %s --live', stop that process, or raise "
                "--timeout (0 waits forever)\n",
                cmd, cli_path_shown(path), cmd);
    else
        fprintf(stderr,
                "strata %s: %s is locked by a process that has it open for writing; "
                "stop it or raise --timeout (0 waits forever)\n",
                cmd, cli_path_shown(path));
}

int cli_db_open_read(const char *cmd, const cli_opts *o, const char *path, bolt_db **db)
{
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    opt.live = o->live;
    opt.timeout_ms = o->timeout_ms; /* 0 waits forever, as bbolt's Timeout */
    int rc = bolt_open(path, &opt, db);
    if (rc == 0)
        return CLI_OK;
    int code = cli_report(cmd, path, rc);
    if (rc == BOLT_ETIMEOUT)
        cli_lock_hint_read(cmd, path, true);
    return code;
}

int cli_db_open_live(const char *cmd, const char *path, bolt_db **db)
{
    cli_opts o;
    cli_opts_init(&o);
    o.live = true;
    return cli_db_open_read(cmd, &o, path, db);
}

int cli_report_db(FILE *err, const char *cmd, const char *path, bolt_db *db, int rc)
{
    const char *name = cli_status_name(rc);
    fprintf(err, "strata %s: %s: %s", cmd, cli_path_shown(path), cli_strerror(rc));
    if (name != NULL)
        fprintf(err, " (%s)", name);
    if (rc == BOLT_ECORRUPT) {
        char why[256];
        if (db != NULL)
            bolt_db_last_corruption(db, why, sizeof why);
        else
            bolt_open_last_corruption(why, sizeof why);
        if (why[0] != '\0')
            fprintf(err, ": %s", why);
    }
    fputc('\n', err);
    return cli_exit_for(rc);
}

/* One attempt of cli_view; *changed when a live read must start again. */
static int view_once(const cli_opts *o, const char *path, bolt_db *db, cli_view_fn fn, void *ctx,
                     FILE *out, FILE *err, bool *changed)
{
    *changed = false;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return cli_report_db(err, o->cmd, path, db, rc);
    int code = fn(ctx, db, tx, out, err);
    if (o->live && bolt_tx_live_verify(tx) == BOLT_ELIVECHANGED)
        *changed = true; /* what was read may be torn: it does not count */
    bolt_tx_rollback(tx);
    return code;
}

int cli_view(const cli_opts *o, const char *path, cli_view_fn fn, void *ctx)
{
    bolt_db *db;
    int code = cli_db_open_read(o->cmd, o, path, &db);
    if (code != CLI_OK)
        return code;
    bool changed = false;
    if (!o->live) {
        code = view_once(o, path, db, fn, ctx, stdout, stderr, &changed);
        bolt_close(db);
        if (fflush(stdout) != 0 && code == CLI_OK)
            code = cli_report(o->cmd, "standard output", -errno);
        return code;
    }
    for (int attempt = 0; attempt < CLI_LIVE_ATTEMPTS; attempt++) {
        cli_held held;
        if (cli_held_begin(&held) != 0) {
            bolt_close(db);
            return cli_report(o->cmd, path, -ENOMEM);
        }
        code = view_once(o, path, db, fn, ctx, held.out, held.err, &changed);
        cli_held_end(&held, !changed);
        if (!changed)
            break;
    }
    bolt_close(db);
    if (changed) {
        fprintf(stderr,
                "strata %s: %s changed under each of %d attempts (a busy writer); "
                "try again\n",
                o->cmd, cli_path_shown(path), CLI_LIVE_ATTEMPTS);
        return CLI_NOOPEN;
    }
    if (fflush(stdout) != 0 && code == CLI_OK)
        code = cli_report(o->cmd, "standard output", -errno);
    return code;
}

int cli_backend_open(const char *cmd, const cli_opts *o, const char *path, backend_options *bo,
                     backend **be)
{
    /* A backend opened for writing creates a missing file and initialises an
     * empty one: a tool must do neither to a path it was only asked to read. */
    struct stat st;
    if (!bo->read_only) {
        if (stat(path, &st) != 0)
            return cli_report(cmd, path, -errno);
        if (S_ISREG(st.st_mode) && st.st_size == 0) {
            fprintf(stderr, "strata %s: %s: the file is empty, not a bolt file\n", cmd,
                    cli_path_shown(path));
            return CLI_NOOPEN;
        }
    }
    const bolt_options *given = bo->bolt;
    bolt_options bolt;
    if (given != NULL)
        bolt = *given;
    else
        backend_bolt_options_init(&bolt);
    bolt.timeout_ms = o->timeout_ms; /* 0 waits forever, as bbolt's Timeout */
    if (bo->read_only && o->live)
        bolt.live = true; /* no lock: the caller brackets its read (cli_live_txid) */
    bo->bolt = &bolt;     /* read by backend_open only */
    int rc = backend_open(path, bo, be);
    bo->bolt = given;
    if (rc == 0)
        return CLI_OK;
    int code = cli_report(cmd, path, rc);
    if (rc == BOLT_ETIMEOUT)
        cli_backend_lock_hint(cmd, path, bo->read_only);
    return code;
}

void cli_backend_lock_hint(const char *cmd, const char *path, bool read_only)
{
    if (read_only)
        fprintf(stderr,
                "strata %s: %s is locked by a process that has it open for writing "
                "(an etcd member?); read it anyway with 'strata %s --live', stop it, or raise "
                "--timeout (0 waits forever)\n",
                cmd, cli_path_shown(path), cmd);
    else
        fprintf(stderr,
                "strata %s: %s is open in another process (a writer, or a reader such as "
                "another strata command); %s needs the file to itself: stop it or raise "
                "--timeout (0 waits forever)\n",
                cmd, cli_path_shown(path), cmd);
}

/* pread exactly n bytes at off: 0, -EIO on a short read, -errno. */
static int read_at(int fd, uint64_t off, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, (unsigned char *)buf + done, n - done, (off_t)(off + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return -EIO;
        done += (size_t)got;
    }
    return 0;
}

int cli_live_txid(const char *path, uint64_t *txid)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint64_t newest = 0;
    unsigned char buf[BOLT_META_END];
    bolt__meta m;
    uint32_t ps = 0;
    if (read_at(fd, 0, buf, sizeof buf) == 0 && bolt__meta_decode(buf, sizeof buf, &m) == 0) {
        ps = m.page_size;
        newest = m.txid;
    }
    /* Meta 1 at the page size meta 0 names, or found by probing when meta 0 is torn. */
    for (uint32_t p = BOLT_MIN_PAGE_SIZE; p <= BOLT_MAX_PAGE_SIZE; p *= 2) {
        if (ps != 0 && p != ps)
            continue;
        if (read_at(fd, p, buf, sizeof buf) == 0 && bolt__meta_decode(buf, sizeof buf, &m) == 0 &&
            m.page_size == p) {
            if (m.txid > newest)
                newest = m.txid;
            break;
        }
    }
    close(fd);
    *txid = newest;
    return 0;
}

/* The guard's step: enter (bolt_visited_add) every paged bucket directly inside b. */
typedef struct guard_ctx {
    bolt_bucket *parent;
    bolt_visited *seen;
} guard_ctx;

static int guard_child(void *arg, bolt_val key, bolt_val value)
{
    guard_ctx *g = arg;
    if (value.data != NULL)
        return 0; /* a plain key */
    bolt_bucket *child;
    int rc = bolt_bucket_open(g->parent, key, &child);
    return rc != 0 ? rc : bolt_visited_add(g->seen, child);
}

/*
 * The walk to names[0..n); with seen, every bucket it passes through and
 * every sibling of each one it enters are added to seen first, so a bucket
 * on the path whose pages belong to another bucket it can be confused with
 * (its parent, an ancestor, a sibling or a sibling of an ancestor) stops
 * the walk with BOLT_ECORRUPT and the page named.
 */
static int bucket_walk(FILE *err, const cli_opts *o, const char *path, bolt_db *db, bolt_tx *tx,
                       char **names, int n, bolt_visited *seen, bolt_bucket **out)
{
    bolt_bucket *b = bolt_tx_root(tx);
    if (seen != NULL) {
        int rc = bolt_visited_add(seen, b);
        if (rc != 0)
            return cli_report_db(err, o->cmd, path, db, rc);
    }
    for (int i = 0; i < n; i++) {
        if (seen != NULL) {
            guard_ctx g = { b, seen };
            int rc = bolt_bucket_for_each(b, guard_child, &g);
            if (rc != 0)
                return cli_report_db(err, o->cmd, path, db, rc);
        }
        unsigned char *name;
        size_t len;
        const char *why;
        int r = cli_parse_bytes(names[i], o->bucket_fmt, &name, &len, &why);
        if (r != 0) {
            fprintf(err, "strata %s: bucket name '%s' %s\n", o->cmd, names[i],
                    r == -2 ? "cannot be decoded: out of memory" : why);
            return r == -2 ? CLI_INTERNAL : CLI_USAGE;
        }
        bolt_bucket *child;
        int rc = bolt_bucket_open(b, (bolt_val){ name, len }, &child);
        free(name);
        if (rc == BOLT_NOTFOUND) {
            fprintf(err, "strata %s: bucket '%s' not found (or a plain key)", o->cmd, names[i]);
            if (i > 0) {
                fputs(" in ", err);
                for (int j = 0; j < i; j++)
                    fprintf(err, "%s%s", j ? "/" : "", names[j]);
            }
            fputc('\n', err);
            return CLI_FINDING;
        }
        if (rc != 0)
            return cli_report_db(err, o->cmd, path, db, rc);
        b = child;
    }
    *out = b;
    return CLI_OK;
}

int cli_bucket_walk_to(FILE *err, const cli_opts *o, const char *path, bolt_db *db, bolt_tx *tx,
                       char **names, int n, bolt_bucket **out)
{
    return bucket_walk(err, o, path, db, tx, names, n, NULL, out);
}

int cli_bucket_walk_guarded(FILE *err, const cli_opts *o, const char *path, bolt_db *db,
                            bolt_tx *tx, char **names, int n, bolt_bucket **out)
{
    bolt_visited *seen;
    int rc = bolt_visited_new(tx, &seen);
    if (rc != 0)
        return cli_report_db(err, o->cmd, path, db, rc);
    bolt_bucket *b;
    int code = bucket_walk(err, o, path, db, tx, names, n, seen, &b);
    bolt_visited_free(seen);
    if (code == CLI_OK)
        *out = b;
    return code;
}

int cli_bucket_walk(const char *cmd, const cli_opts *o, bolt_tx *tx, char **names, int n,
                    bolt_bucket **out)
{
    cli_opts copy = *o;
    copy.cmd = cmd;
    return cli_bucket_walk_to(stderr, &copy, "", NULL, tx, names, n, out);
}

int cli_raw_view(const cli_opts *o, const char *path, cli_raw_fn fn, void *ctx)
{
    cli_raw r;
    int code;
    if (!o->live) {
        if ((code = cli_raw_open(o->cmd, o, path, &r)) != CLI_OK)
            return code;
        code = fn(ctx, &r, stdout, stderr);
        cli_raw_close(&r);
        if (fflush(stdout) != 0 && code == CLI_OK)
            code = cli_report(o->cmd, "standard output", -errno);
        return code;
    }
    for (int attempt = 0; attempt < CLI_LIVE_ATTEMPTS; attempt++) {
        uint64_t before, after;
        int rc = cli_live_txid(path, &before);
        if (rc != 0)
            return cli_report(o->cmd, path, rc);
        if ((code = cli_raw_open(o->cmd, o, path, &r)) != CLI_OK)
            return code;
        char *obuf = NULL, *ebuf = NULL;
        size_t olen = 0, elen = 0;
        FILE *out = open_memstream(&obuf, &olen);
        FILE *err = open_memstream(&ebuf, &elen);
        if (out == NULL || err == NULL) {
            if (out != NULL)
                fclose(out);
            if (err != NULL)
                fclose(err);
            free(obuf);
            free(ebuf);
            cli_raw_close(&r);
            return cli_report(o->cmd, path, -ENOMEM);
        }
        code = fn(ctx, &r, out, err);
        cli_raw_close(&r);
        fclose(out);
        fclose(err);
        rc = cli_live_txid(path, &after);
        bool same = rc == 0 && after == before;
        if (same) {
            fwrite(obuf, 1, olen, stdout);
            fwrite(ebuf, 1, elen, stderr);
        }
        free(obuf);
        free(ebuf);
        if (rc != 0)
            return cli_report(o->cmd, path, rc);
        if (same) {
            if (fflush(stdout) != 0 && code == CLI_OK)
                code = cli_report(o->cmd, "standard output", -errno);
            return code;
        }
    }
    fprintf(stderr, "strata %s: %s changed under each of %d attempts (a busy writer); try again\n",
            o->cmd, cli_path_shown(path), CLI_LIVE_ATTEMPTS);
    return CLI_NOOPEN;
}
