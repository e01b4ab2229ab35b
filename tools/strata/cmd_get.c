/*
 * cmd_get.c: `strata get DB BUCKET... KEY`: print one value; exit 1 when
 * the key is not there. KEY and the BUCKET path are read in the formats
 * the listings print, so any key `strata keys` lists can be fetched.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

enum { OPT_FORMAT = 2000 };

static const cli_option get_options[] = {
    { "format", OPT_FORMAT, "FMT",
      "bbolt's name for --value-format: auto, text, hex, escaped,\n"
      "or bytes (the raw value, no newline: for pipes)",
      "auto text hex escaped bytes" },
    { NULL, 0, NULL, NULL, NULL },
};

static int get_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_get_spec = {
    .name = "get",
    .on_option = get_option,
    .min_args = 3,
    .max_args = -1,
    .common = CLI_C_READ | CLI_C_VALUES_BYTES,
    .options = get_options,
    .synopsis = "[options] DB BUCKET... KEY",
    .about = "Print the value of KEY in the bucket BUCKET/...: text, or 0x-hex when not\n"
             "printable (or when the text starts with 0x). KEY and each BUCKET are read\n"
             "the way 'strata keys' and 'strata buckets' print them: 0x... is hex,\n"
             "anything else the text itself. Exit 1 if the key is not there (or names\n"
             "a bucket).",
    .json = "bucket: [NAME...]   the path\n"
            "key: KEY\n"
            "value: VALUE",
    .example = "$ strata get my.db widgets 0x0001\n"
               "0xdeadbeef\n"
               "$ strata get --format bytes my.db widgets 0x0001 | xxd",
};

typedef struct get_ctx {
    const cli_opts *o;
    const char *path;
    char **names;
    int n;
    const char *key_arg;
    unsigned char *key;
    size_t klen;
} get_ctx;

static int get_view(void *arg, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err)
{
    get_ctx *g = arg;
    const cli_opts *o = g->o;
    bolt_bucket *b;
    int code = cli_bucket_walk_to(err, o, g->path, db, tx, g->names, g->n, &b);
    if (code != CLI_OK)
        return code;
    bolt_val v;
    int rc = bolt_bucket_get(b, (bolt_val){ g->key, g->klen }, &v);
    if (rc == BOLT_NOTFOUND) {
        bolt_bucket *child;
        bool bucket = bolt_bucket_open(b, (bolt_val){ g->key, g->klen }, &child) == 0;
        fprintf(err, "strata get: key '%s' %s\n", g->key_arg,
                bucket ? "names a bucket, not a value" : "not found");
        return CLI_FINDING;
    }
    if (rc != 0)
        return cli_report_db(err, "get", g->path, db, rc);
    if (o->json) {
        json_t *doc = json_object(), *path = json_array();
        for (int i = 0; i < g->n; i++) {
            unsigned char *name;
            size_t len;
            const char *why;
            if (cli_parse_bytes(g->names[i], o->bucket_fmt, &name, &len, &why) == 0) {
                cli_json_append(path, cli_json_bytes(name, len, o->bucket_fmt));
                free(name);
            }
        }
        cli_json_set(doc, "bucket", path);
        cli_json_set(doc, "key", cli_json_bytes(g->key, g->klen, o->key_fmt));
        cli_json_set(doc, "value", cli_json_bytes(v.data, v.size, o->value_fmt));
        return cli_json_print("get", out, doc);
    }
    cli_print_bytes(out, v.data, v.size, o->value_fmt);
    if (o->value_fmt != CLI_FORMAT_BYTES)
        putc('\n', out);
    return CLI_OK;
}

static int get_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --format */
    cli_opts *o = ctx;
    if (cli_format_parse2(arg, true, &o->value_fmt) != 0) {
        fprintf(stderr, "strata get: format '%s' is not auto, text, hex, escaped or bytes\n", arg);
        return -1;
    }
    return 0;
}

int cmd_get(int argc, char **argv)
{
    cli_opts o;
    /* --format writes into o itself: cli_parse_ctx initialises o before any option. */
    int code = cli_parse_ctx(&cmd_get_spec, argc, argv, &o, &o);
    if (code >= 0)
        return code;
    if (o.value_fmt == CLI_FORMAT_BYTES && o.json) {
        fprintf(stderr, "strata get: --json and raw bytes cannot share stdout\n");
        return CLI_USAGE;
    }
    get_ctx g = { &o, NULL, argv + optind + 1, argc - optind - 2, argv[argc - 1], NULL, 0 };
    if (cli_arg_bytes("get", g.key_arg, o.key_fmt, &g.key, &g.klen) != 0)
        return CLI_USAGE;
    cli_input in;
    if ((code = cli_input_begin("get", argv[optind], &in)) != CLI_OK) {
        free(g.key);
        return code;
    }
    g.path = in.path;
    code = cli_view(&o, in.path, get_view, &g);
    cli_input_end(&in);
    free(g.key);
    return code;
}
