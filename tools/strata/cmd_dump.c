/*
 * cmd_dump.c: `strata dump [--max-hex N] DB`: the canonical dump
 * (`bolt-dump v1`), the same bytes whoever wrote the file.
 */
#include <errno.h>

#include "cli.h"
#include "cli_db.h"

static void dump_usage(FILE *out)
{
    fprintf(out, "usage: strata dump [options] DB\n\n"
                 "Print the canonical dump (bolt-dump v1) of DB: every bucket and key,\n"
                 "depth-first in key order, as lower-case hex.\n\n"
                 "  --max-hex N   write strings longer than N bytes as sha256:LEN:HEX\n"
                 "                (default 32768; 0 = never, so the dump can be "
                 "loaded)\n" CLI_COMMON_HELP);
}

static int dump_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --max-hex is the only extra option */
    return cli_parse_u64("dump", "--max-hex", arg, ctx);
}

int cmd_dump(int argc, char **argv)
{
    static const struct option extra[] = {
        { "max-hex", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t max_hex = BOLT_DUMP_MAX_HEX;
    const cli_command_spec spec = { .name = "dump",
                                    .usage = dump_usage,
                                    .min_args = 1,
                                    .max_args = 1,
                                    .extra = extra,
                                    .on_option = dump_option,
                                    .ctx = &max_hex };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    const char *path = argv[optind];
    bolt_db *db;
    code = cli_db_open_read("dump", &o, path, &db);
    if (code != CLI_OK)
        return code;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc == 0) {
        rc = bolt_tx_dump(tx, stdout, max_hex);
        bolt_tx_rollback(tx);
    }
    bolt_close(db);
    if (rc == 0 && fflush(stdout) != 0)
        rc = -EIO;
    return rc == 0 ? CLI_OK : cli_report("dump", path, rc);
}
