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
    static const cli_command_spec spec = {
        .name = "get", .usage = get_usage, .min_args = 3, .max_args = -1
    };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    const char *path = argv[optind];
    unsigned char *key;
    size_t klen;
    if (cli_arg_bytes("get", argv[argc - 1], o.key_fmt, &key, &klen) != 0)
        return CLI_USAGE;
    bolt_db *db;
    code = cli_db_open_read("get", &o, path, &db);
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
