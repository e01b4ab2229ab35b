/*
 * cmd_check.c: `strata check DB`: verify the whole file and print every
 * problem on a line of its own, like `bbolt check`; exit 1 if any.
 */
#include "cli.h"
#include "cli_db.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: strata check [options] DB\n\n"
                 "Verify DB: page accounting (every page reachable or free, never both),\n"
                 "element bounds, key order, separator keys, bucket headers, freelist.\n"
                 "Prints one line per problem and exits 1 if there is any, else prints OK.\n\n"
                 "  --timeout DURATION  wait this long for the file lock (1s)\n");
}

static void check_report(void *arg, const char *problem)
{
    size_t *count = arg;
    (*count)++;
    printf("%s\n", problem);
}

int cmd_check(int argc, char **argv)
{
    static const cli_command_spec spec = {
        .name = "check", .usage = check_usage, .min_args = 1, .max_args = 1
    };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    const char *path = argv[optind];
    bolt_db *db;
    code = cli_db_open_read("check", &o, path, &db);
    if (code != CLI_OK)
        return code;
    bolt_tx *tx;
    size_t problems = 0;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc == 0) {
        rc = bolt_tx_check(tx, check_report, &problems);
        bolt_tx_rollback(tx);
    }
    bolt_close(db);
    if (problems > 0) {
        printf("%zu problem%s found in %s\n", problems, problems == 1 ? "" : "s", path);
        return CLI_FINDING;
    }
    if (rc != 0)
        return cli_report("check", path, rc);
    printf("OK\n");
    return CLI_OK;
}
