/*
 * cmd_script.c: `strata script [--db FILE] [--min-ttl N]
 * [--batch-interval D] [--batch-limit N]`: run a script of the mvcc script
 * language (../shared/spec/ORACLE.md) read on stdin against a strata
 * store and print its canonical output, byte for byte what the real etcd
 * 3.4.23 mvcc prints for it (peers/etcd/mvccoracle). The options mean what
 * the oracle's do; the output does not depend on them.
 *
 * The runner is script_run.c; the ops are in script_kv.c (and the lessor's
 * and watchers' plug-ins, script.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "script.h"

enum { OPT_DB = 2000, OPT_MIN_TTL, OPT_BATCH_INTERVAL, OPT_BATCH_LIMIT, OPT_LIST_OPS, OPT_ECHO };

typedef struct script_cmd_args {
    script_options so;
    bool list_ops;
} script_cmd_args;

/*
 * A Go duration as the oracle's -batch-interval takes it, integers only:
 * one or more NUMBER UNIT pairs (units ns, us, ms, s, m, h), or "0".
 * 0 and *ns, or -1.
 */
static int parse_go_duration(const char *s, uint64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = { { "ns", 1 },         { "us", 1000 },          { "ms", 1000000 },
                  { "s", 1000000000 }, { "m", 60000000000ull }, { "h", 3600000000000ull } };
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    uint64_t total = 0;
    if (*s == '\0')
        return -1;
    while (*s != '\0') {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t n = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > (UINT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (uint64_t)(*s - '0');
        }
        size_t best = sizeof units / sizeof units[0];
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].unit);
            /* "ms" before "m": take the longest unit that matches here. */
            if (strncmp(s, units[i].unit, l) == 0 &&
                (best == sizeof units / sizeof units[0] || l > strlen(units[best].unit)))
                best = i;
        }
        if (best == sizeof units / sizeof units[0])
            return -1;
        if (n > UINT64_MAX / units[best].ns || total > UINT64_MAX - n * units[best].ns)
            return -1;
        total += n * units[best].ns;
        s += strlen(units[best].unit);
    }
    *ns = total;
    return 0;
}

static int script_option(int c, const char *arg, void *ctx)
{
    script_cmd_args *a = ctx;
    uint64_t v;
    switch (c) {
    case OPT_DB:
        if (*arg == '\0') {
            fprintf(stderr, "strata script: --db needs a file name\n");
            return -1;
        }
        a->so.db_path = arg;
        return 0;
    case OPT_MIN_TTL: {
        int64_t ttl;
        if (script_parse_int64((const unsigned char *)arg, strlen(arg), &ttl) != 0) {
            fprintf(stderr, "strata script: --min-ttl '%s' is not a number\n", arg);
            return -1;
        }
        a->so.min_ttl = ttl;
        return 0;
    }
    case OPT_BATCH_INTERVAL:
        if (parse_go_duration(arg, &v) != 0 || v == 0) {
            fprintf(stderr,
                    "strata script: --batch-interval '%s' is not a positive duration "
                    "(e.g. 1ms, 100ms, 2s, 1h)\n",
                    arg);
            return -1;
        }
        a->so.batch_interval_ns = v;
        return 0;
    case OPT_BATCH_LIMIT:
        if (cli_parse_u64("script", "--batch-limit", arg, &v) != 0)
            return -1;
        if (v == 0 || v > UINT32_MAX) {
            fprintf(stderr, "strata script: --batch-limit must be 1..%" PRIu32 "\n", UINT32_MAX);
            return -1;
        }
        a->so.batch_limit = (uint32_t)v;
        return 0;
    case OPT_ECHO:
        a->so.echo = true;
        return 0;
    default: /* OPT_LIST_OPS */
        a->list_ops = true;
        return 0;
    }
}

static const cli_option script_options_table[] = {
    { "db", OPT_DB, "FILE",
      "run against FILE, opened as it is (created if missing;\n"
      "a copy of an etcd member's member/snap/db works);\n"
      "default: a temporary db, removed at exit",
      "file" },
    { "min-ttl", OPT_MIN_TTL, "N", "the lessor's minimum lease TTL in seconds (0)", NULL },
    { "batch-interval", OPT_BATCH_INTERVAL, "D",
      "the backend's commit interval (100ms; e.g. 1ms, 2s, 1h30m)", NULL },
    { "batch-limit", OPT_BATCH_LIMIT, "N", "the backend's pending-write limit (10000)", NULL },
    { "echo", OPT_ECHO, NULL, "print '> LINE' before each op's output (the oracle's -echo)", NULL },
    { "list-ops", OPT_LIST_OPS, NULL, "print the ops this build knows and exit", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec cmd_script_spec = {
    .name = "script",
    .min_args = 0,
    .max_args = 0,
    .common = CLI_C_TIMEOUT,
    .options = script_options_table,
    .on_option = script_option,
    .synopsis = "[options] < SCRIPT",
    .about = "Apply a script of the mvcc script language read on standard input (one op\n"
             "per line: put, del, range, txn ... end, compact, hash, hashall, reopen,\n"
             "defrag, commit, rev; lease, watch, cancel where this build has them) to a\n"
             "strata mvcc store and print its canonical output: the same bytes etcd\n"
             "3.4.23's mvcc prints for the script (the language and the output: the\n"
             "shared spec ORACLE.md). The options mean what etcd's mvccoracle's do; the\n"
             "output does not depend on them.",
    .exits = "0 the whole script ran; 2 a script error (the message on stderr names the\n"
             "line; the output up to the line before is printed) or bad usage; 3 the db\n"
             "cannot be opened or its records restored; 4 an internal error",
    .example = "$ printf 'put foo bar\\nrange foo\\n' | strata script\n"
               "$ strata script --db copy-of-member-snap.db < ops.txt",
};

int cmd_script(int argc, char **argv)
{
    script_cmd_args a = { 0 };
    cli_opts o;
    int code = cli_parse_ctx(&cmd_script_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    if (a.list_ops) {
        script_list_ops(stdout);
        return CLI_OK;
    }
    a.so.lock_timeout_ms = o.timeout_ms; /* 0 waits forever (bolt's 0) */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    return script_run(&a.so, stdin, stdout);
}
