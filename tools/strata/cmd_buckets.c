/*
 * cmd_buckets.c: `strata buckets DB [BUCKET...]`: the names of the buckets
 * directly inside the root (or inside the bucket at the given path), one
 * per line in the bucket format, so each can be given back as a path
 * element. Also the listing behind `strata keys` (cli_list_entries).
 */
#include <stdlib.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

const cli_command_spec cmd_buckets_spec = {
    .name = "buckets",
    .min_args = 1,
    .max_args = -1,
    .common = CLI_C_BUCKETS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .synopsis = "[options] DB [BUCKET...]",
    .about = "List the buckets at the top level of DB, or inside the nested bucket\n"
             "BUCKET/... when a path is given, one name per line: text, or 0x-hex when\n"
             "not printable (or when the text starts with 0x). Each name can be given\n"
             "back as a BUCKET argument to buckets, keys, get and stats.",
    .json = "buckets: [NAME...]   the bucket names in key order",
    .example = "$ strata buckets my.db\n"
               "widgets\n"
               "0x00ff\n"
               "$ strata keys my.db 0x00ff",
};

typedef struct list_ctx {
    const cli_opts *o;
    const char *path;
    char **names;
    int n;
    bool buckets; /* list buckets (true) or plain keys and buckets (false) */
    FILE *out;
    json_t *arr; /* --json: the entries */
} list_ctx;

static int list_entry(void *arg, bolt_val key, bolt_val value)
{
    const list_ctx *ctx = arg;
    bool is_bucket = value.data == NULL;
    if (ctx->buckets && !is_bucket)
        return 0;
    cli_format fmt = is_bucket ? ctx->o->bucket_fmt : ctx->o->key_fmt;
    if (ctx->arr != NULL) {
        if (ctx->buckets) {
            cli_json_append(ctx->arr, cli_json_bytes(key.data, key.size, fmt));
        } else {
            json_t *e = json_object();
            cli_json_set(e, "key", cli_json_bytes(key.data, key.size, fmt));
            cli_json_set(e, "bucket", json_boolean(is_bucket));
            cli_json_append(ctx->arr, e);
        }
        return 0;
    }
    cli_print_bytes(ctx->out, key.data, key.size, fmt);
    if (!ctx->buckets && is_bucket)
        fputs("\t(bucket)", ctx->out);
    putc('\n', ctx->out);
    return 0;
}

static int list_view(void *arg, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err)
{
    list_ctx *ctx = arg;
    bolt_bucket *b;
    int code = cli_bucket_walk_guarded(err, ctx->o, ctx->path, db, tx, ctx->names, ctx->n, &b);
    if (code != CLI_OK)
        return code;
    ctx->out = out;
    ctx->arr = ctx->o->json ? json_array() : NULL;
    int rc = bolt_bucket_for_each(b, list_entry, ctx);
    if (rc != 0) {
        json_decref(ctx->arr);
        return cli_report_db(err, ctx->o->cmd, ctx->path, db, rc);
    }
    if (ctx->arr == NULL)
        return CLI_OK;
    json_t *doc = json_object();
    cli_json_set(doc, ctx->buckets ? "buckets" : "keys", ctx->arr);
    return cli_json_print(ctx->o->cmd, out, doc);
}

/* Shared by `buckets` and `keys`: list the entries of the bucket at a path. */
int cli_list_entries(const cli_opts *o, const char *path, char **names, int n, bool buckets_only);
int cli_list_entries(const cli_opts *o, const char *path, char **names, int n, bool buckets_only)
{
    list_ctx ctx = { o, path, names, n, buckets_only, NULL, NULL };
    return cli_view(o, path, list_view, &ctx);
}

int cmd_buckets(int argc, char **argv)
{
    cli_opts o;
    int code = cli_parse(&cmd_buckets_spec, argc, argv, &o);
    if (code >= 0)
        return code;
    cli_input in;
    if ((code = cli_input_begin("buckets", argv[optind], &in)) != CLI_OK)
        return code;
    code = cli_list_entries(&o, in.path, argv + optind + 1, argc - optind - 1, true);
    cli_input_end(&in);
    return code;
}
