/*
 * cmd_buckets.c: `strata buckets DB [BUCKET...]`: the names of the buckets
 * directly inside the root (or inside the bucket at the given path).
 */
#include "cli.h"
#include "cli_db.h"

static void buckets_usage(FILE *out)
{
    fprintf(out, "usage: strata buckets [options] DB [BUCKET...]\n\n"
                 "List the buckets at the top level of DB, or inside the nested bucket\n"
                 "BUCKET/... when a path is given.\n\n" CLI_COMMON_HELP);
}

typedef struct list_ctx {
    const cli_opts *o;
    bool buckets; /* list buckets (true) or plain keys and buckets (false) */
} list_ctx;

static int list_entry(void *arg, bolt_val key, bolt_val value)
{
    const list_ctx *ctx = arg;
    bool is_bucket = value.data == NULL;
    if (ctx->buckets && !is_bucket)
        return 0;
    cli_print_bytes(stdout, key.data, key.size, ctx->o->key_fmt);
    if (!ctx->buckets && is_bucket)
        fputs("\t(bucket)", stdout);
    putchar('\n');
    return 0;
}

/* Shared by `buckets` and `keys`: list the entries of the bucket at a path. */
int cli_list_entries(const char *cmd, const cli_opts *o, const char *path, char **names, int n,
                     bool buckets_only);
int cli_list_entries(const char *cmd, const cli_opts *o, const char *path, char **names, int n,
                     bool buckets_only)
{
    bolt_db *db;
    int code = cli_db_open_read(cmd, o, path, &db);
    if (code != CLI_OK)
        return code;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0) {
        bolt_close(db);
        return cli_report(cmd, path, rc);
    }
    bolt_bucket *b;
    code = cli_bucket_walk(cmd, o, tx, names, n, &b);
    if (code == CLI_OK) {
        list_ctx ctx = { o, buckets_only };
        rc = bolt_bucket_for_each(b, list_entry, &ctx);
        if (rc != 0)
            code = cli_report(cmd, path, rc);
    }
    bolt_tx_rollback(tx);
    bolt_close(db);
    return code;
}

int cmd_buckets(int argc, char **argv)
{
    static const cli_command_spec spec = {
        .name = "buckets", .usage = buckets_usage, .min_args = 1, .max_args = -1
    };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    return cli_list_entries("buckets", &o, argv[optind], argv + optind + 1, argc - optind - 1,
                            true);
}
