/*
 * cmd_check.c: `strata check DB`: verify the whole file and print every
 * problem on a line of its own, like `bbolt check`; exit 1 if any.
 *
 * With --live the file is read without a lock while another process may be
 * writing it: problems are collected in memory and printed only when the
 * read turns out consistent (bolt_tx_live_verify), else the check runs
 * again, a bounded number of times.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_db.h"

/* How often a live check starts again when a commit lands under it. */
#define LIVE_ATTEMPTS 20

static void check_usage(FILE *out)
{
    fprintf(out, "usage: strata check [options] DB\n\n"
                 "Verify DB: page accounting (every page reachable or free, never both),\n"
                 "element bounds, key order, separator keys, bucket headers, freelist.\n"
                 "Prints one line per problem and exits 1 if there is any, else prints OK.\n\n"
                 "  --live              read a file another process holds open for writing,\n"
                 "                      without its lock (best effort on a busy writer: the\n"
                 "                      check runs again when a commit lands under it)\n"
                 "  --timeout DURATION  wait this long for the file lock (1s)\n");
}

typedef struct check_run {
    FILE *out; /* problems of this attempt */
    size_t problems;
} check_run;

static void check_report(void *arg, const char *problem)
{
    check_run *run = arg;
    run->problems++;
    fprintf(run->out, "%s\n", problem);
}

static int check_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --live is the only extra option */
    (void)arg;
    *(bool *)ctx = true;
    return 0;
}

/*
 * One check of the file as one read transaction sees it. Returns the bolt
 * status; BOLT_ELIVECHANGED when a live read must start again.
 */
static int check_once(bolt_db *db, bool live, check_run *run, char **text, size_t *len)
{
    run->problems = 0;
    run->out = open_memstream(text, len);
    if (run->out == NULL)
        return -ENOMEM;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc == 0) {
        rc = bolt_tx_check(tx, check_report, run);
        if (live) {
            int vrc = bolt_tx_live_verify(tx);
            if (vrc != 0)
                rc = vrc; /* what was read may be torn: it does not count */
        }
        bolt_tx_rollback(tx);
    }
    fclose(run->out);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option extra[] = {
        { "live", no_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    bool live = false;
    const cli_command_spec spec = { .name = "check",
                                    .usage = check_usage,
                                    .min_args = 1,
                                    .max_args = 1,
                                    .extra = extra,
                                    .on_option = check_option,
                                    .ctx = &live };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    const char *path = argv[optind];
    bolt_db *db;
    code = live ? cli_db_open_live("check", path, &db) : cli_db_open_read("check", &o, path, &db);
    if (code != CLI_OK)
        return code;
    check_run run;
    char *text = NULL;
    size_t len = 0;
    int rc;
    int attempts = 0;
    do {
        free(text);
        text = NULL;
        rc = check_once(db, live, &run, &text, &len);
    } while (rc == BOLT_ELIVECHANGED && ++attempts < LIVE_ATTEMPTS);
    bolt_close(db);
    if (rc == BOLT_ELIVECHANGED) {
        free(text);
        fprintf(stderr,
                "strata check: %s changed under each of %d attempts (a busy writer); "
                "try again\n",
                path, LIVE_ATTEMPTS);
        return CLI_NOOPEN;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    if (run.problems > 0) {
        printf("%zu problem%s found in %s\n", run.problems, run.problems == 1 ? "" : "s", path);
        return CLI_FINDING;
    }
    if (rc != 0)
        return cli_report("check", path, rc);
    printf("OK\n");
    return CLI_OK;
}
