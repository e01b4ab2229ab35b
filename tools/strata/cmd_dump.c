/*
 * cmd_dump.c: `strata dump [--max-hex N] DB`: the canonical dump
 * (`bolt-dump v1`), the same bytes whoever wrote the file.
 */
#include <errno.h>
#include <stdlib.h>

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

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "max-hex", required_argument, NULL, 'm' },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    uint64_t max_hex = BOLT_DUMP_MAX_HEX;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            dump_usage(stdout);
            return CLI_OK;
        }
        if (c == 'm') {
            char *end;
            max_hex = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || *optarg == '-') {
                fprintf(stderr, "strata dump: --max-hex '%s' is not a number\n", optarg);
                return CLI_USAGE;
            }
            continue;
        }
        if (cli_opts_handle("dump", &o, c, optarg) != 0) {
            dump_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1) {
        dump_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    bolt_db *db;
    int code = cli_db_open_read("dump", &o, path, &db);
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
