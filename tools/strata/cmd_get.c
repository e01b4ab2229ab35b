/*
 * cmd_get.c: `strata get DB BUCKET... KEY`: print one value; exit 1 when
 * the key is not there.
 */
#include <stdlib.h>

#include "cli.h"
#include "cli_db.h"

static void get_usage(FILE *out)
{
    fprintf(out, "usage: strata get [options] DB BUCKET... KEY\n\n"
                 "Print the value of KEY in the bucket BUCKET/...; exit 1 if it is not\n"
                 "there (or names a bucket).\n\n" CLI_COMMON_HELP);
}

int cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            get_usage(stdout);
            return CLI_OK;
        }
        if (cli_opts_handle("get", &o, c, optarg) != 0) {
            get_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind < 3) {
        get_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    unsigned char *key;
    size_t klen;
    if (cli_arg_bytes("get", argv[argc - 1], o.key_fmt, &key, &klen) != 0)
        return CLI_USAGE;
    bolt_db *db;
    int code = cli_db_open_read("get", &o, path, &db);
    if (code != CLI_OK) {
        free(key);
        return code;
    }
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0) {
        code = cli_report("get", path, rc);
    } else {
        bolt_bucket *b;
        code = cli_bucket_walk("get", &o, tx, argv + optind + 1, argc - optind - 2, &b);
        if (code == CLI_OK) {
            bolt_val v;
            rc = bolt_bucket_get(b, (bolt_val){ key, klen }, &v);
            if (rc == 0) {
                cli_print_bytes(stdout, v.data, v.size, o.value_fmt);
                putchar('\n');
            } else if (rc == BOLT_NOTFOUND) {
                fprintf(stderr, "strata get: key '%s' not found\n", argv[argc - 1]);
                code = CLI_FINDING;
            } else {
                code = cli_report("get", path, rc);
            }
        }
        bolt_tx_rollback(tx);
    }
    bolt_close(db);
    free(key);
    return code;
}
