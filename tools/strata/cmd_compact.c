/*
 * cmd_compact.c: `strata compact -o DST SRC`: copy the live data of SRC
 * into a new file DST with full pages and no free pages (bolt_compact),
 * and print the sizes before and after. DST "-" writes the new file to
 * standard output (cli_output).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

enum { OPT_TX_MAX = 2000, OPT_NO_SYNC };

static const cli_option compact_options[] = {
    { "output", 'o', "DST", "the new file ('-': standard output)", "file" },
    { "tx-max-size", OPT_TX_MAX, "N",
      "copy through transactions, committing whenever one's keys and\n"
      "values would pass N bytes (bbolt's way); default 0: no\n"
      "transactions, DST is written bottom-up page by page (faster,\n"
      "every page full)",
      NULL },
    { "no-sync", OPT_NO_SYNC, NULL,
      "skip the per-commit syncs (DST is still synced once at the end)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct compact_args {
    const char *dst;
    bolt_compact_options co;
} compact_args;

static int compact_option(int c, const char *arg, void *ctx)
{
    compact_args *a = ctx;
    switch (c) {
    case 'o':
        a->dst = arg;
        return 0;
    case OPT_TX_MAX:
        return cli_parse_u64("compact", "--tx-max-size", arg, &a->co.tx_max_size);
    default: /* OPT_NO_SYNC */
        a->co.no_sync = true;
        return 0;
    }
}

const cli_command_spec cmd_compact_spec = {
    .name = "compact",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_JSON,
    .options = compact_options,
    .on_option = compact_option,
    .synopsis = "[options] -o DST SRC",
    .about = "Copy every bucket and key of SRC into the new file DST (which must not\n"
             "exist), pages filled completely, and print the sizes before and after.\n"
             "SRC is read in one read transaction under a shared lock ('-' reads\n"
             "standard input); DST '-' writes the new file to standard output once it\n"
             "is complete (the summary then goes to stderr).",
    .json = "source: SRC   source_bytes: N   output: DST   output_bytes: N\n"
            "buckets: N   keys: N   transactions: N (0: written bottom-up)",
    .example = "$ strata compact -o small.db big.db\n"
               "big.db: 1048576 bytes -> small.db: 163840 bytes (15.6%)\n"
               "$ strata compact -o - big.db | gzip > small.db.gz",
};

/* Progress on a terminal: keys copied of the keys SRC holds. */
typedef struct compact_progress_ctx {
    cli_ticker *t;
    uint64_t total; /* plain key/value pairs of SRC; 0 when it could not be counted */
} compact_progress_ctx;

static void compact_progress(void *arg, uint64_t keys)
{
    compact_progress_ctx *p = arg;
    cli_ticker_set(p->t, "keys copied", keys, p->total);
}

/* The key/value pairs the copy will write (bolt_compact's res.keys); 0 when not counted. */
static uint64_t count_pairs(bolt_db *db)
{
    bolt_tx *tx;
    if (bolt_tx_begin(db, false, &tx) != 0)
        return 0;
    uint64_t pairs, buckets;
    if (cli_count_keys(tx, &pairs, &buckets) != 0)
        pairs = 0; /* the copy reports the damage */
    bolt_tx_rollback(tx);
    return pairs;
}

int cmd_compact(int argc, char **argv)
{
    compact_args a = { NULL, { sizeof a.co, 0, false, 0, NULL, NULL } };
    cli_opts o;
    int code = cli_parse_ctx(&cmd_compact_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    if (a.dst == NULL) {
        fprintf(stderr, "strata compact: -o DST is required\n");
        cli_usage(&cmd_compact_spec, stderr);
        return CLI_USAGE;
    }
    struct stat st;
    if (!cli_is_stdio(a.dst) && stat(a.dst, &st) == 0) {
        fprintf(stderr, "strata compact: %s exists; compact writes a new file only\n", a.dst);
        return CLI_USAGE;
    }
    cli_input in;
    if ((code = cli_input_begin("compact", argv[optind], &in)) != CLI_OK)
        return code;
    const char *src = in.path;
    cli_output out;
    if ((code = cli_output_begin("compact", &o, a.dst, &out)) != CLI_OK) {
        cli_input_end(&in);
        return code;
    }
    bolt_db *db;
    code = cli_db_open_read("compact", &o, src, &db);
    if (code != CLI_OK)
        goto done;
    uint64_t before = stat(src, &st) == 0 ? (uint64_t)st.st_size : 0;
    /* Progress only on a terminal (cli_ticker_start is NULL otherwise): the
     * elapsed time while the keys are counted, then keys copied of them. */
    compact_progress_ctx prog = { cli_ticker_start(&o, NULL, NULL), 0 };
    if (prog.t != NULL) {
        prog.total = count_pairs(db);
        cli_ticker_set(prog.t, "keys copied", 0, prog.total);
        a.co.progress = compact_progress;
        a.co.progress_arg = &prog;
    }
    bolt_compact_result res;
    int rc = bolt_compact(db, out.path, &a.co, &res);
    cli_ticker_stop(prog.t);
    if (rc != 0) {
        code = cli_report_db(stderr, "compact", rc == -EEXIST ? out.path : src, db, rc);
        bolt_close(db);
        goto done;
    }
    bolt_close(db);
    if ((code = cli_output_end("compact", &out, true)) != CLI_OK)
        goto done;
    const char *shown_src = cli_path_shown(src);
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "source", json_string(shown_src));
        cli_json_set(doc, "source_bytes", cli_json_u64(before));
        cli_json_set(doc, "output", json_string(a.dst));
        cli_json_set(doc, "output_bytes", cli_json_u64(res.dst_size));
        cli_json_set(doc, "buckets", cli_json_u64(res.buckets));
        cli_json_set(doc, "keys", cli_json_u64(res.keys));
        cli_json_set(doc, "transactions", cli_json_u64(res.txs));
        code = cli_json_print("compact", stdout, doc);
        goto done;
    }
    FILE *sum = cli_output_summary(&out);
    fprintf(sum, "%s: %" PRIu64 " bytes -> %s: %" PRIu64 " bytes (%.1f%%)\n", shown_src, before,
            a.dst, res.dst_size, before ? 100.0 * (double)res.dst_size / (double)before : 0.0);
    if (res.txs == 0)
        fprintf(sum, "copied %" PRIu64 " buckets, %" PRIu64 " keys, written bottom-up\n",
                res.buckets, res.keys);
    else
        fprintf(sum, "copied %" PRIu64 " buckets, %" PRIu64 " keys in %" PRIu64 " transaction%s\n",
                res.buckets, res.keys, res.txs, res.txs == 1 ? "" : "s");
done:
    cli_output_end("compact", &out, false);
    cli_input_end(&in);
    return code;
}
