/*
 * cmd_check.c: `strata check DB`: verify the whole file and print every
 * problem on a line of its own, like `bbolt check`; exit 1 if any.
 *
 * With --live the file is read without a lock while another process may be
 * writing it: problems are collected in memory and printed only when the
 * read turns out consistent (bolt_tx_live_verify, through cli_view), else
 * the check runs again, a bounded number of times.
 */
#include <errno.h>
#include <stdlib.h>

#include <unistd.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

const cli_command_spec cmd_check_spec = {
    .name = "check",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .synopsis = "[options] DB",
    .about = "Verify DB: page accounting (every page reachable or free, never both),\n"
             "element bounds, key order, separator keys, bucket headers, freelist.\n"
             "Prints one line per problem (each naming its page) and exits 1 if there\n"
             "is any, else prints OK. With --live a file another process holds open for\n"
             "writing is read without its lock; the check runs again when a commit\n"
             "lands under it.",
    .json = "ok: BOOL\n"
            "problems: [TEXT...]   one per problem, each naming its page",
    .exits = "0 no problem; 1 problems found; 2 usage; 3 cannot open or read (or the\n"
             "file changed under every --live attempt); 4 internal error",
    .example = "$ strata check my.db\n"
               "OK\n"
               "$ strata check --live /var/lib/etcd/member/snap/db",
};

typedef struct check_run {
    FILE *out;
    json_t *problems; /* --json */
    size_t count;
    const char *path;
    bool json;
    cli_ticker *progress;
} check_run;

static void check_report(void *arg, const char *problem)
{
    check_run *run = arg;
    run->count++;
    if (run->problems != NULL) {
        cli_json_append(run->problems, json_string(problem));
        return;
    }
    if (run->progress != NULL && isatty(fileno(run->out)))
        fputs("\r\033[K", stderr); /* the problem over the progress line */
    fprintf(run->out, "%s\n", problem);
}

static int check_view(void *arg, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err)
{
    check_run *run = arg;
    run->out = out;
    run->count = 0;
    run->problems = run->json ? json_array() : NULL;
    int rc = bolt_tx_check_progress(tx, check_report, run,
                                    run->progress != NULL ? cli_ticker_pages : NULL, run->progress);
    if (run->json) {
        json_t *doc = json_object();
        cli_json_set(doc, "ok", json_boolean(run->count == 0 && rc == 0));
        cli_json_set(doc, "problems", run->problems);
        int code = cli_json_print("check", out, doc);
        if (code != CLI_OK)
            return code;
    }
    if (run->count > 0) {
        if (!run->json)
            fprintf(out, "%zu problem%s found in %s\n", run->count, run->count == 1 ? "" : "s",
                    cli_path_shown(run->path));
        return CLI_FINDING;
    }
    if (rc != 0)
        return cli_report_db(err, "check", run->path, db, rc);
    if (!run->json)
        fprintf(out, "OK\n");
    return CLI_OK;
}

int cmd_check(int argc, char **argv)
{
    cli_opts o;
    int code = cli_parse(&cmd_check_spec, argc, argv, &o);
    if (code >= 0)
        return code;
    cli_input in;
    if ((code = cli_input_begin("check", argv[optind], &in)) != CLI_OK)
        return code;
    cli_ticker *t = cli_ticker_start(&o, NULL, NULL);
    check_run run = { NULL, NULL, 0, in.path, o.json, t };
    code = cli_view(&o, in.path, check_view, &run);
    cli_ticker_stop(t);
    cli_input_end(&in);
    return code;
}
