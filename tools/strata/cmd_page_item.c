/*
 * cmd_page_item.c: `strata page-item DB ID N`: element N of branch or leaf
 * page ID, whole: its key and its value (a leaf) or child page (a branch).
 * The element is bounds-checked on its own, so one good element of a
 * damaged page can still be read. Reads with pread and takes no lock. Exit
 * 1 when N is past the page's count or the element is damaged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

enum { OPT_KEY_ONLY = 2000, OPT_VALUE_ONLY, OPT_FORMAT };

static const cli_option item_options[] = {
    { "key-only", OPT_KEY_ONLY, NULL, "print only the key", NULL },
    { "value-only", OPT_VALUE_ONLY, NULL, "print only the value (or the child page id)", NULL },
    { "format", OPT_FORMAT, "FMT",
      "bbolt's name for --value-format: auto, text, hex, escaped, or\n"
      "bytes (raw, no newline; with --key-only it applies to the key)",
      "auto text hex escaped bytes" },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct item_args {
    cli_opts *o;
    bool key_only, value_only;
    bool format_set;
} item_args;

static int item_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_page_item_spec = {
    .name = "page-item",
    .min_args = 3,
    .max_args = 3,
    .common = CLI_C_KEYS | CLI_C_VALUES | CLI_C_VALUES_BYTES | CLI_C_LIVE | CLI_C_JSON |
              CLI_C_TIMEOUT,
    .options = item_options,
    .on_option = item_option,
    .synopsis = "[options] DB ID N",
    .about = "Print element N (from 0) of branch or leaf page ID: 'key: K' and\n"
             "'value: V' (a leaf; a bucket's value is its header and inline page, in\n"
             "hex) or 'child: PGID' (a branch). Reads with pread and takes no lock.",
    .json = "page, index: numbers; type: \"branch\"|\"leaf\"; key: KEY;\n"
            "and value: VALUE, flags: N (a leaf); bucket: HEX (a bucket element's\n"
            "header and inline page); or child: PGID (a branch)",
    .exits = "0 printed; 1 no such element, or it is damaged, or the page is not a\n"
             "branch or leaf; 2 usage; 3 the page cannot be read",
    .example = "$ strata page-item my.db 3 0\n"
               "$ strata page-item --value-only --format bytes my.db 3 0 > value.bin",
};

static int item_option(int c, const char *arg, void *ctx)
{
    item_args *a = ctx;
    switch (c) {
    case OPT_KEY_ONLY:
        a->key_only = true;
        return 0;
    case OPT_VALUE_ONLY:
        a->value_only = true;
        return 0;
    default: /* OPT_FORMAT */
        if (cli_format_parse2(arg, true, &a->o->value_fmt) != 0) {
            fprintf(stderr,
                    "strata page-item: format '%s' is not auto, text, hex, escaped or bytes\n",
                    arg);
            return -1;
        }
        a->format_set = true;
        return 0;
    }
}

static int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

typedef struct item_ctx {
    const item_args *a;
    uint64_t id, n;
} item_ctx;

static int item_view(void *arg, cli_raw *r, FILE *out, FILE *err)
{
    item_ctx *c = arg;
    const item_args *a = c->a;
    const cli_opts *o = a->o;
    const char *path = cli_path_shown(r->path);
    uint64_t id = c->id, n = c->n;
    unsigned char *buf = NULL;
    size_t size;
    const char *why = NULL;
    int rc = r->page_size == 0 ? BOLT_EINVALID : cli_raw_page(r, id, &buf, &size, &why);
    if (rc != 0) {
        if (rc == BOLT_EINVALID)
            fprintf(err, "strata page-item: %s: not a bolt file (no valid meta page)\n", path);
        else
            fprintf(err, "strata page-item: %s: page %" PRIu64 ": %s\n", path, id,
                    why != NULL ? why : strerror(-rc));
        return CLI_NOOPEN;
    }
    uint16_t flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
    unsigned count = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
    int code = CLI_OK;
    uint32_t eflags;
    bolt_val k, v;
    bolt_pgid child;
    bool branch = flags == BOLT_PAGE_BRANCH;
    /* --key-only with --format: the format is the key's (bbolt's page-item). */
    cli_format kfmt = a->key_only && a->format_set ? o->value_fmt : o->key_fmt;
    if (flags != BOLT_PAGE_BRANCH && flags != BOLT_PAGE_LEAF) {
        fprintf(err, "strata page-item: %s: page %" PRIu64 " is a %s page, not a branch or leaf\n",
                path, id, cli_raw_type_name(flags));
        code = CLI_FINDING;
    } else if (n >= count) {
        fprintf(err,
                "strata page-item: %s: page %" PRIu64 " has %u elements; no element %" PRIu64 "\n",
                path, id, count, n);
        code = CLI_FINDING;
    } else if (cli_raw_elem(buf, size, (unsigned)n, &eflags, &k, &v, &child, &why) != 0) {
        fprintf(err, "strata page-item: %s: page %" PRIu64 " element %" PRIu64 ": %s\n", path, id,
                n, why);
        code = CLI_FINDING;
    } else if (o->json) {
        json_t *doc = json_object();
        cli_json_set(doc, "page", cli_json_u64(id));
        cli_json_set(doc, "index", cli_json_u64(n));
        cli_json_set(doc, "type", json_string(branch ? "branch" : "leaf"));
        cli_json_set(doc, "key", cli_json_bytes(k.data, k.size, o->key_fmt));
        if (branch) {
            cli_json_set(doc, "child", cli_json_u64(child));
        } else if (eflags & BOLT_LEAF_BUCKET) {
            cli_json_set(doc, "bucket", cli_json_bytes(v.data, v.size, CLI_FORMAT_HEX));
            cli_json_set(doc, "flags", cli_json_u64(eflags));
        } else {
            cli_json_set(doc, "value", cli_json_bytes(v.data, v.size, o->value_fmt));
            cli_json_set(doc, "flags", cli_json_u64(eflags));
        }
        code = cli_json_print("page-item", out, doc);
    } else if (a->key_only) {
        cli_print_bytes(out, k.data, k.size, kfmt);
        if (kfmt != CLI_FORMAT_BYTES)
            putc('\n', out);
    } else if (a->value_only) {
        if (branch)
            fprintf(out, "%" PRIu64 "\n", child);
        else
            cli_print_bytes(out, v.data, v.size,
                            (eflags & BOLT_LEAF_BUCKET) && o->value_fmt != CLI_FORMAT_BYTES
                                    ? CLI_FORMAT_HEX
                                    : o->value_fmt);
        if (!branch && o->value_fmt != CLI_FORMAT_BYTES)
            putc('\n', out);
    } else if (o->value_fmt == CLI_FORMAT_BYTES) {
        fprintf(err, "strata page-item: --format bytes needs --key-only or --value-only\n");
        code = CLI_USAGE;
    } else {
        fprintf(out, "key: ");
        cli_print_bytes(out, k.data, k.size, o->key_fmt);
        if (branch) {
            fprintf(out, "\nchild: %" PRIu64 "\n", child);
        } else {
            fprintf(out, "\n%s: ", (eflags & BOLT_LEAF_BUCKET) ? "bucket" : "value");
            cli_print_bytes(out, v.data, v.size,
                            (eflags & BOLT_LEAF_BUCKET) ? CLI_FORMAT_HEX : o->value_fmt);
            putc('\n', out);
        }
    }
    free(buf);
    return code;
}

int cmd_page_item(int argc, char **argv)
{
    cli_opts o;
    item_args a = { &o, false, false, false };
    int code = cli_parse_ctx(&cmd_page_item_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    item_ctx c = { &a, 0, 0 };
    if (parse_u64(argv[optind + 1], &c.id) != 0 || parse_u64(argv[optind + 2], &c.n) != 0 ||
        (a.key_only && a.value_only)) {
        fprintf(stderr, "strata page-item: %s\n",
                a.key_only && a.value_only ? "--key-only and --value-only exclude each other"
                                           : "ID and N are unsigned numbers");
        cli_usage(&cmd_page_item_spec, stderr);
        return CLI_USAGE;
    }
    if (o.json && (a.key_only || a.value_only || o.value_fmt == CLI_FORMAT_BYTES)) {
        fprintf(stderr, "strata page-item: --json prints the whole element; it takes no "
                        "--key-only, --value-only or bytes\n");
        return CLI_USAGE;
    }
    cli_input in;
    if ((code = cli_input_begin("page-item", argv[optind], &in)) != CLI_OK)
        return code;
    code = cli_raw_view(&o, in.path, item_view, &c);
    cli_input_end(&in);
    return code;
}
