/*
 * cli_db.c: common options, opening files and walking bucket paths for the
 * commands (see cli_db.h).
 */
#include "cli_db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void cli_opts_init(cli_opts *o)
{
    o->key_fmt = CLI_FORMAT_AUTO;
    o->value_fmt = CLI_FORMAT_AUTO;
    o->timeout_ms = 1000;
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
    switch (c) {
    case CLI_OPT_KEY_FORMAT:
    case CLI_OPT_VALUE_FORMAT:
        if (cli_format_parse(arg, c == CLI_OPT_KEY_FORMAT ? &o->key_fmt : &o->value_fmt) != 0) {
            fprintf(stderr, "strata %s: format '%s' is not auto, ascii or hex\n", cmd, arg);
            return -1;
        }
        return 0;
    case CLI_OPT_TIMEOUT:
        if (cli_parse_duration(arg, &o->timeout_ms) != 0) {
            fprintf(stderr, "strata %s: timeout '%s' is not a duration (e.g. 500ms, 2s)\n", cmd,
                    arg);
            return -1;
        }
        return 0;
    default:
        return 1;
    }
}

int cli_parse(const cli_command_spec *spec, int argc, char **argv, cli_opts *o)
{
    enum { MAX_OPTIONS = 32, MAX_SHORTS = 32 };
    static const struct option help = { "help", no_argument, NULL, 'h' };
    static const struct option common[] = { CLI_COMMON_OPTIONS };
    struct option opts[MAX_OPTIONS];
    size_t n = 0;
    opts[n++] = help;
    for (size_t i = 0; !spec->no_common && i < sizeof common / sizeof common[0]; i++)
        opts[n++] = common[i];
    for (const struct option *e = spec->extra; e != NULL && e->name != NULL; e++) {
        if (n + 1 >= MAX_OPTIONS) {
            fprintf(stderr, "strata %s: too many options (a bug in strata)\n", spec->name);
            return CLI_INTERNAL;
        }
        opts[n++] = *e;
    }
    opts[n] = (struct option){ NULL, 0, NULL, 0 };
    char shorts[MAX_SHORTS] = "h";
    if (spec->shorts != NULL) {
        if (strlen(spec->shorts) + 2 > sizeof shorts) {
            fprintf(stderr, "strata %s: too many short options (a bug in strata)\n", spec->name);
            return CLI_INTERNAL;
        }
        strcat(shorts, spec->shorts);
    }

    cli_opts_init(o);
    int c;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        int r;
        if (c == 'h') {
            spec->usage(stdout);
            return CLI_OK;
        }
        if (c == '?' || c == ':')
            r = -1;
        else if ((r = cli_opts_handle(spec->name, o, c, optarg)) == 1)
            r = spec->on_option != NULL ? spec->on_option(c, optarg, spec->ctx) : -1;
        if (r != 0) {
            spec->usage(stderr);
            return CLI_USAGE;
        }
    }
    int npos = argc - optind;
    if (npos < spec->min_args || (spec->max_args >= 0 && npos > spec->max_args)) {
        spec->usage(stderr);
        return CLI_USAGE;
    }
    return -1;
}

int cli_db_open_read(const char *cmd, const cli_opts *o, const char *path, bolt_db **db)
{
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    /* bbolt's 0 means "wait forever"; a CLI asked for 0 means "do not wait". */
    opt.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1;
    int rc = bolt_open(path, &opt, db);
    if (rc == 0)
        return CLI_OK;
    int code = cli_report(cmd, path, rc);
    if (rc == BOLT_ETIMEOUT)
        fprintf(stderr,
                "strata %s: %s is locked by a process that has it open for writing; "
                "stop it, raise --timeout, or read it anyway with 'strata check --live'\n",
                cmd, path);
    return code;
}

int cli_db_open_live(const char *cmd, const char *path, bolt_db **db)
{
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    opt.live = true;
    int rc = bolt_open(path, &opt, db);
    return rc == 0 ? CLI_OK : cli_report(cmd, path, rc);
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
            fprintf(stderr, "strata %s: %s: the file is empty, not a bolt file\n", cmd, path);
            return CLI_NOOPEN;
        }
    }
    /* bbolt's 0 means "wait forever"; a CLI asked for 0 means "do not wait". */
    const bolt_options *given = bo->bolt;
    bolt_options bolt;
    if (given != NULL)
        bolt = *given;
    else
        backend_bolt_options_init(&bolt);
    bolt.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1;
    bo->bolt = &bolt; /* read by backend_open only */
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
                "(an etcd member?); stop it or raise --timeout\n",
                cmd, path);
    else
        fprintf(stderr,
                "strata %s: %s is open in another process (a writer, or a reader such as "
                "another strata command); %s needs the file to itself: stop it or raise "
                "--timeout\n",
                cmd, path, cmd);
}

int cli_bucket_walk(const char *cmd, const cli_opts *o, bolt_tx *tx, char **names, int n,
                    bolt_bucket **out)
{
    bolt_bucket *b = bolt_tx_root(tx);
    for (int i = 0; i < n; i++) {
        unsigned char *name;
        size_t len;
        if (cli_arg_bytes(cmd, names[i], o->key_fmt, &name, &len) != 0)
            return CLI_USAGE;
        bolt_bucket *child;
        int rc = bolt_bucket_open(b, (bolt_val){ name, len }, &child);
        free(name);
        if (rc == BOLT_NOTFOUND) {
            fprintf(stderr, "strata %s: bucket '%s' not found\n", cmd, names[i]);
            return CLI_FINDING;
        }
        if (rc != 0)
            return cli_report(cmd, names[i], rc);
        b = child;
    }
    *out = b;
    return CLI_OK;
}
