/*
 * cmd_dump.c: `strata dump [--max-hex N] DB`: the canonical dump
 * (`bolt-dump v1`), the same bytes whoever wrote the file; or, with
 * --json, every bucket and key as one JSON document.
 */
/* fopencookie: _GNU_SOURCE comes from the build (meson). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

enum { OPT_MAX_HEX = 2000 };

static const cli_option dump_options[] = {
    { "max-hex", OPT_MAX_HEX, "N",
      "write strings longer than N bytes as sha256:LEN:HEX (default\n"
      "32768; 0 = never, so the dump can be loaded)",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static int dump_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_dump_spec = {
    .name = "dump",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = dump_options,
    .on_option = dump_option,
    .synopsis = "[options] DB",
    .about = "Print the canonical dump (bolt-dump v1) of DB: every bucket and key,\n"
             "depth-first in key order, as lower-case hex; 'strata load' reads it back.\n"
             "With --json, the same content as one JSON document instead (every name,\n"
             "key and value written as text, or 0x-hex when not printable or when the\n"
             "text starts with 0x; --max-hex does not apply). DB '-' reads standard\n"
             "input. With --live the dump is held in memory until it is known\n"
             "consistent.",
    .json = "keys: [{key: KEY, value: VALUE}...]   plain keys of the root (rare)\n"
            "buckets: [BUCKET...]   top-level buckets in name order, each\n"
            "  {name: NAME, sequence: N, keys: [{key, value}...], buckets: [BUCKET...]}",
    .example = "$ strata dump my.db > my.dump && strata load copy.db < my.dump\n"
               "$ strata dump --json my.db | python3 -m json.tool",
};

typedef struct dump_args {
    uint64_t max_hex;
    cli_ticker *progress; /* on a terminal: lines written of the dump's lines */
    uint64_t lines, total;
} dump_args;

static int dump_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --max-hex is the only option of its own */
    dump_args *a = ctx;
    return cli_parse_u64("dump", "--max-hex", arg, &a->max_hex);
}

/* A stream that counts the lines passing through to the real one (progress). */
typedef struct count_cookie {
    FILE *to;
    dump_args *a;
} count_cookie;

static ssize_t count_write(void *c, const char *buf, size_t n)
{
    count_cookie *k = c;
    size_t w = fwrite(buf, 1, n, k->to);
    for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + w - p))) != NULL; p++)
        k->a->lines++;
    cli_ticker_set(k->a->progress, "lines written", k->a->lines, k->a->total);
    return w == n ? (ssize_t)n : -1;
}

/*
 * The --json document, built by bolt_tx_walk (the walk behind the text
 * dump: each page entered once, keys in order, a damaged file stopped with
 * the page named). stack[d] is the object whose keys and buckets depth d
 * fills: the document at 0, then each bucket entered.
 */
typedef struct json_walk {
    json_t **stack;
    size_t n, cap;
} json_walk;

static int json_key(void *arg, int depth, bolt_val key, bolt_val value)
{
    (void)depth;
    json_walk *j = arg;
    json_t *kv = json_object();
    cli_json_set(kv, "key", cli_json_bytes(key.data, key.size, CLI_FORMAT_AUTO));
    cli_json_set(kv, "value", cli_json_bytes(value.data, value.size, CLI_FORMAT_AUTO));
    cli_json_append(json_object_get(j->stack[j->n - 1], "keys"), kv);
    return 0;
}

static json_t *json_container(void)
{
    json_t *obj = json_object();
    cli_json_set(obj, "keys", json_array());
    cli_json_set(obj, "buckets", json_array());
    return obj;
}

static int json_bucket_begin(void *arg, int depth, bolt_val name, uint64_t sequence)
{
    (void)depth;
    json_walk *j = arg;
    if (j->n == j->cap) {
        size_t cap = j->cap * 2;
        json_t **s = realloc(j->stack, cap * sizeof *s);
        if (s == NULL)
            return -ENOMEM;
        j->stack = s;
        j->cap = cap;
    }
    json_t *obj = json_object();
    cli_json_set(obj, "name", cli_json_bytes(name.data, name.size, CLI_FORMAT_AUTO));
    cli_json_set(obj, "sequence", cli_json_u64(sequence));
    cli_json_set(obj, "keys", json_array());
    cli_json_set(obj, "buckets", json_array());
    cli_json_append(json_object_get(j->stack[j->n - 1], "buckets"), obj);
    j->stack[j->n++] = obj; /* borrowed: its parent's array owns it */
    return 0;
}

static int json_bucket_end(void *arg, int depth)
{
    (void)depth;
    ((json_walk *)arg)->n--;
    return 0;
}

typedef struct view_ctx {
    const cli_opts *o;
    const char *path;
    dump_args *a;
} view_ctx;

static int dump_view(void *arg, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err)
{
    view_ctx *v = arg;
    if (v->o->json) {
        static const bolt_walk_fns fns = { json_key, json_bucket_begin, json_bucket_end };
        json_t *doc = json_container();
        json_walk j = { malloc(16 * sizeof *j.stack), 1, 16 };
        int rc = -ENOMEM;
        if (j.stack != NULL) {
            j.stack[0] = doc;
            rc = bolt_tx_walk(tx, &fns, &j);
        }
        free(j.stack);
        if (rc != 0) {
            json_decref(doc);
            return cli_report_db(err, "dump", v->path, db, rc);
        }
        return cli_json_print("dump", out, doc);
    }
    if (v->a->progress == NULL) {
        int rc = bolt_tx_dump(tx, out, v->a->max_hex);
        return rc == 0 ? CLI_OK : cli_report_db(err, "dump", v->path, db, rc);
    }
    /* The dump's lines: its header, one per bucket below the root and per key, its end. */
    uint64_t pairs = 0, buckets = 0;
    v->a->lines = 0;
    v->a->total = cli_count_keys(tx, &pairs, &buckets) == 0 ? 2 + buckets + pairs : 0;
    count_cookie k = { out, v->a };
    cookie_io_functions_t io = { NULL, count_write, NULL, NULL };
    FILE *counted = fopencookie(&k, "w", io);
    if (counted == NULL)
        return cli_report_db(err, "dump", v->path, db, -ENOMEM);
    int rc = bolt_tx_dump(tx, counted, v->a->max_hex);
    if (fclose(counted) != 0 && rc == 0)
        rc = -EIO;
    return rc == 0 ? CLI_OK : cli_report_db(err, "dump", v->path, db, rc);
}

int cmd_dump(int argc, char **argv)
{
    dump_args a = { .max_hex = BOLT_DUMP_MAX_HEX };
    cli_opts o;
    int code = cli_parse_ctx(&cmd_dump_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    cli_input in;
    if ((code = cli_input_begin("dump", argv[optind], &in)) != CLI_OK)
        return code;
    view_ctx v = { &o, in.path, &a };
    a.progress = cli_ticker_start(&o, NULL, NULL); /* NULL unless on a terminal, without --json */
    code = cli_view(&o, in.path, dump_view, &v);
    cli_ticker_stop(a.progress);
    cli_input_end(&in);
    return code;
}
