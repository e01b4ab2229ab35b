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

static void script_usage(FILE *out)
{
    fprintf(out,
            "usage: strata script [options] < SCRIPT\n\n"
            "Apply a script of the mvcc script language (one op per line: put, del, range,\n"
            "txn ... end, compact, hash, hashall, reopen, defrag, commit, rev; and lease,\n"
            "watch, cancel where this build has them) to a strata mvcc store and print the\n"
            "canonical output, the same bytes etcd 3.4.23's mvcc prints for the script\n"
            "(the language and the output: ORACLE.md).\n\n"
            "  --db FILE              run against FILE, opened as it is (created if missing;\n"
            "                         a copy of an etcd member's member/snap/db works); by\n"
            "                         default a temporary db, removed at exit\n"
            "  --min-ttl N            the lessor's minimum lease TTL in seconds (0)\n"
            "  --batch-interval D     the backend's commit interval (100ms; e.g. 1ms, 2s, 1h)\n"
            "  --batch-limit N        the backend's pending-write limit (10000)\n"
            "  --timeout DURATION     wait this long for FILE's lock (1s)\n"
            "  --echo                 print '> LINE' before each op's output (for reading;\n"
            "                         the oracle's -echo)\n"
            "  --list-ops             print the ops this build knows and exit\n\n"
            "Exit codes: 0 the whole script ran; 2 a script error (bad usage: the message on\n"
            "stderr names the line; the output up to the line before is printed) or a bad\n"
            "command line; 3 the db cannot be opened; 4 an internal error.\n");
}

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

int cmd_script(int argc, char **argv)
{
    static const struct option extra[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "min-ttl", required_argument, NULL, OPT_MIN_TTL },
        { "batch-interval", required_argument, NULL, OPT_BATCH_INTERVAL },
        { "batch-limit", required_argument, NULL, OPT_BATCH_LIMIT },
        { "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },
        { "list-ops", no_argument, NULL, OPT_LIST_OPS },
        { "echo", no_argument, NULL, OPT_ECHO },
        { NULL, 0, NULL, 0 },
    };
    script_cmd_args a = { 0 };
    const cli_command_spec spec = { .name = "script",
                                    .usage = script_usage,
                                    .min_args = 0,
                                    .max_args = 0,
                                    .no_common = true,
                                    .extra = extra,
                                    .on_option = script_option,
                                    .ctx = &a };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    if (a.list_ops) {
        script_list_ops(stdout);
        return CLI_OK;
    }
    /* bbolt's 0 means "wait forever"; a CLI asked for 0 means "do not wait". */
    a.so.lock_timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 1;
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    return script_run(&a.so, stdin, stdout);
}
