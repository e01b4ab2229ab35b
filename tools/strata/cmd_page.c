/*
 * cmd_page.c: `strata page DB ID...`: decode pages (meta fields, freelist
 * ids, branch separators and children, leaf keys and values, bucket
 * headers), or hexdump them with --format hex. Byte-level, pread and no
 * lock: a damaged page is decoded as far as its elements allow, with what
 * is wrong (exit 1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

/* Keys and values longer than this are cut in the decoded view (page-item shows all). */
#define PAGE_SHOW_MAX 64

enum { OPT_FORMAT = 2000 };

static const cli_option page_options[] = {
    { "format", OPT_FORMAT, "decoded|hex", "the decoded view (default) or a hexdump",
      "decoded hex" },
    { NULL, 0, NULL, NULL, NULL },
};

static int page_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_page_spec = {
    .name = "page",
    .min_args = 2,
    .max_args = -1,
    .common = CLI_C_KEYS | CLI_C_VALUES | CLI_C_LIVE | CLI_C_JSON | CLI_C_TIMEOUT,
    .options = page_options,
    .on_option = page_option,
    .synopsis = "[options] DB ID...",
    .about = "Decode the pages ID... (the whole run with its overflow pages): meta\n"
             "fields, freelist ids, branch elements (key -> child page), leaf elements\n"
             "(key, value or bucket header). In text, keys and values longer than 64\n"
             "bytes are cut ('strata page-item' prints one element whole; --json has\n"
             "them whole). Reads with pread and takes no lock. Exit 1 if a page is\n"
             "damaged.",
    .json = "pages: [{id, type, flags, items, overflow, offset, problems: [TEXT...],\n"
            "  and by type: meta: {magic, version, page_size, flags, root, freelist,\n"
            "  pgid, txid, checksum, computed_checksum}; free_ids: [ID...];\n"
            "  elements: [{index, key, child} | {index, key, value, flags} |\n"
            "  {index, key, bucket: {root, sequence, inline_keys: N|null}} |\n"
            "  {index, problem}]; with --format hex: hex: HEX}...]",
    .example = "$ strata page my.db 0 3\n"
               "$ strata page --format hex my.db 3",
};

typedef struct page_args {
    bool hex;
} page_args;

static int page_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --format */
    page_args *a = ctx;
    if (strcmp(arg, "hex") != 0 && strcmp(arg, "decoded") != 0) {
        fprintf(stderr, "strata page: format '%s' is not decoded or hex\n", arg);
        return -1;
    }
    a->hex = strcmp(arg, "hex") == 0;
    return 0;
}

/* Where one page's description goes: text to out, or fields of a JSON object. */
typedef struct page_out {
    FILE *out;
    json_t *obj; /* --json: this page's object */
    json_t *problems;
    const cli_opts *o;
} page_out;

static void problem(page_out *po, const char *fmt, const char *text)
{
    if (po->obj != NULL) {
        cli_json_append(po->problems, json_string(text));
        return;
    }
    fprintf(po->out, fmt, text);
}

static void show(FILE *out, const bolt_val *v, cli_format fmt)
{
    size_t n = v->size > PAGE_SHOW_MAX ? PAGE_SHOW_MAX : v->size;
    cli_print_bytes(out, v->data, n, fmt);
    if (n < v->size)
        fprintf(out, "... (%zu bytes)", v->size);
}

static void hexdump(FILE *out, const unsigned char *p, size_t n, uint64_t base)
{
    bool starred = false;
    for (size_t off = 0; off < n; off += 16) {
        if (off > 0 && off + 16 <= n && memcmp(p + off, p + off - 16, 16) == 0) {
            if (!starred)
                fprintf(out, "*\n");
            starred = true;
            continue;
        }
        starred = false;
        fprintf(out, "%08" PRIx64 " ", base + off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < n)
                fprintf(out, "%s%02x", i == 8 ? "  " : " ", p[off + i]);
            else
                fprintf(out, "%s  ", i == 8 ? "  " : " ");
        }
        fprintf(out, "  |");
        for (size_t i = 0; i < 16 && off + i < n; i++)
            putc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', out);
        fprintf(out, "|\n");
    }
    fprintf(out, "%08" PRIx64 "\n", base + n);
}

static int show_meta(page_out *po, const unsigned char *p, size_t size)
{
    bolt__meta m;
    int rc = bolt__meta_decode(p, size, &m);
    uint64_t fl = bolt__ld64(p + BOLT_META_FREELIST_OFF);
    if (po->obj != NULL) {
        json_t *j = json_object();
        char buf[32];
        snprintf(buf, sizeof buf, "0x%08" PRIx32, bolt__ld32(p + BOLT_META_MAGIC_OFF));
        cli_json_set(j, "magic", json_string(buf));
        cli_json_set(j, "version", cli_json_u64(bolt__ld32(p + BOLT_META_VERSION_OFF)));
        cli_json_set(j, "page_size", cli_json_u64(bolt__ld32(p + BOLT_META_PAGESIZE_OFF)));
        cli_json_set(j, "flags", cli_json_u64(bolt__ld32(p + BOLT_META_FLAGS_OFF)));
        cli_json_set(j, "root", cli_json_u64(bolt__ld64(p + BOLT_META_ROOT_OFF)));
        cli_json_set(j, "freelist", fl == BOLT_NO_FREELIST ? json_null() : cli_json_u64(fl));
        cli_json_set(j, "pgid", cli_json_u64(bolt__ld64(p + BOLT_META_PGID_OFF)));
        cli_json_set(j, "txid", cli_json_u64(bolt__ld64(p + BOLT_META_TXID_OFF)));
        snprintf(buf, sizeof buf, "0x%016" PRIx64, bolt__ld64(p + BOLT_META_CHECKSUM_OFF));
        cli_json_set(j, "checksum", json_string(buf));
        snprintf(buf, sizeof buf, "0x%016" PRIx64, bolt__meta_sum(p));
        cli_json_set(j, "computed_checksum", json_string(buf));
        cli_json_set(po->obj, "meta", j);
    } else {
        FILE *out = po->out;
        fprintf(out, "  magic      0x%08" PRIx32 "\n", bolt__ld32(p + BOLT_META_MAGIC_OFF));
        fprintf(out, "  version    %" PRIu32 "\n", bolt__ld32(p + BOLT_META_VERSION_OFF));
        fprintf(out, "  page size  %" PRIu32 "\n", bolt__ld32(p + BOLT_META_PAGESIZE_OFF));
        fprintf(out, "  flags      0x%" PRIx32 "\n", bolt__ld32(p + BOLT_META_FLAGS_OFF));
        fprintf(out, "  root       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_ROOT_OFF));
        if (fl == BOLT_NO_FREELIST)
            fprintf(out, "  freelist   none\n");
        else
            fprintf(out, "  freelist   %" PRIu64 "\n", fl);
        fprintf(out, "  pgid       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_PGID_OFF));
        fprintf(out, "  txid       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_TXID_OFF));
        fprintf(out, "  checksum   0x%016" PRIx64 " (computed 0x%016" PRIx64 ")\n",
                bolt__ld64(p + BOLT_META_CHECKSUM_OFF), bolt__meta_sum(p));
    }
    if (rc != 0) {
        problem(po, "  problem: %s\n", cli_strerror(rc));
        return CLI_FINDING;
    }
    return CLI_OK;
}

static int show_freelist(page_out *po, const unsigned char *p, size_t size)
{
    uint64_t count = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    size_t first = BOLT_PAGE_HEADER_SIZE;
    if (count == BOLT_FREELIST_COUNT_ESCAPE) {
        count = bolt__ld64(p + BOLT_PAGE_HEADER_SIZE);
        first += 8;
    }
    if (po->obj == NULL)
        fprintf(po->out, "  %" PRIu64 " free ids\n", count);
    if (count > (size - first) / 8) {
        problem(po, "  problem: %s\n", "the count runs past the end of the page run");
        return CLI_FINDING;
    }
    if (po->obj != NULL) {
        json_t *ids = json_array();
        for (uint64_t i = 0; i < count; i++)
            cli_json_append(ids, cli_json_u64(bolt__ld64(p + first + i * 8)));
        cli_json_set(po->obj, "free_ids", ids);
        return CLI_OK;
    }
    /* Runs of consecutive ids on one line each: "3-5", "9". */
    FILE *out = po->out;
    uint64_t start = 0, prev = 0;
    int col = 0;
    for (uint64_t i = 0; i <= count; i++) {
        uint64_t id = i < count ? bolt__ld64(p + first + i * 8) : 0;
        if (i > 0 && i < count && id == prev + 1) {
            prev = id;
            continue;
        }
        if (i > 0) {
            col += start == prev
                           ? fprintf(out, "%s%" PRIu64, col ? " " : "  ", start)
                           : fprintf(out, "%s%" PRIu64 "-%" PRIu64, col ? " " : "  ", start, prev);
            if (col > 70 || i == count) {
                putc('\n', out);
                col = 0;
            }
        }
        start = prev = id;
    }
    return CLI_OK;
}

static int show_tree(page_out *po, const unsigned char *p, size_t size, bolt_pgid id)
{
    const cli_opts *o = po->o;
    FILE *out = po->out;
    int code = CLI_OK;
    const char *why;
    if (bolt__page_check(p, size, id, &why) != 0) {
        problem(po, "  problem: %s\n", why);
        code = CLI_FINDING;
    }
    json_t *elems = po->obj != NULL ? json_array() : NULL;
    if (elems != NULL)
        cli_json_set(po->obj, "elements", elems);
    bool leaf = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF) == BOLT_PAGE_LEAF;
    unsigned count = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    for (unsigned i = 0; i < count; i++) {
        uint32_t flags;
        bolt_val k, v;
        bolt_pgid child;
        json_t *e = elems != NULL ? json_object() : NULL;
        if (e != NULL) {
            cli_json_append(elems, e);
            cli_json_set(e, "index", json_integer(i));
        }
        if (cli_raw_elem(p, size, i, &flags, &k, &v, &child, &why) != 0) {
            if (e != NULL)
                cli_json_set(e, "problem", json_string(why));
            else
                fprintf(out, "  [%u] problem: %s\n", i, why);
            code = CLI_FINDING;
            if (BOLT_PAGE_HEADER_SIZE + (uint64_t)(i + 1) * BOLT_LEAF_ELEM_SIZE > size)
                break;
            continue;
        }
        if (e != NULL)
            cli_json_set(e, "key", cli_json_bytes(k.data, k.size, o->key_fmt));
        else {
            fprintf(out, "  [%u] key=", i);
            show(out, &k, o->key_fmt);
        }
        if (!leaf) {
            if (e != NULL)
                cli_json_set(e, "child", cli_json_u64(child));
            else
                fprintf(out, " child=%" PRIu64 "\n", child);
        } else if (flags & BOLT_LEAF_BUCKET) {
            if (v.size < BOLT_BUCKET_HEADER_SIZE) {
                if (e != NULL)
                    cli_json_set(e, "problem", json_string("bucket with a short header"));
                else
                    fprintf(out, " bucket with a short header (%zu bytes)\n", v.size);
                code = CLI_FINDING;
                continue;
            }
            const unsigned char *b = v.data;
            bolt_pgid root = bolt__ld64(b + BOLT_BUCKET_ROOT_OFF);
            uint64_t seq = bolt__ld64(b + BOLT_BUCKET_SEQ_OFF);
            bool has_inline =
                    root == 0 && v.size >= BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE;
            unsigned inline_keys =
                    has_inline ? bolt__ld16(b + BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_COUNT_OFF) : 0;
            if (e != NULL) {
                json_t *bj = json_object();
                cli_json_set(bj, "root", cli_json_u64(root));
                cli_json_set(bj, "sequence", cli_json_u64(seq));
                cli_json_set(bj, "inline_keys",
                             has_inline ? json_integer(inline_keys) : json_null());
                cli_json_set(e, "bucket", bj);
                continue;
            }
            fprintf(out, " bucket root=%" PRIu64 " seq=%" PRIu64, root, seq);
            if (has_inline)
                fprintf(out, " (inline, %u keys)", inline_keys);
            putc('\n', out);
        } else if (e != NULL) {
            cli_json_set(e, "value", cli_json_bytes(v.data, v.size, o->value_fmt));
            cli_json_set(e, "flags", cli_json_u64(flags));
        } else {
            fprintf(out, " value=");
            show(out, &v, o->value_fmt);
            if (flags != 0)
                fprintf(out, " flags=0x%" PRIx32, flags);
            putc('\n', out);
        }
    }
    return code;
}

typedef struct page_view_ctx {
    const cli_opts *o;
    const page_args *a;
    char **ids;
    int n;
} page_view_ctx;

static int page_view(void *arg, cli_raw *r, FILE *out, FILE *err)
{
    page_view_ctx *c = arg;
    const cli_opts *o = c->o;
    const char *path = cli_path_shown(r->path);
    if (r->page_size == 0) {
        fprintf(err, "strata page: %s: not a bolt file (no valid meta page)\n", path);
        return CLI_NOOPEN;
    }
    int code = CLI_OK;
    json_t *pages = o->json ? json_array() : NULL;
    for (int i = 0; i < c->n; i++) {
        bolt_pgid id = strtoull(c->ids[i], NULL, 10);
        unsigned char *buf;
        size_t size;
        const char *why = NULL;
        page_out po = { out, NULL, NULL, o };
        if (pages != NULL) {
            po.obj = json_object();
            po.problems = json_array();
            cli_json_append(pages, po.obj);
            cli_json_set(po.obj, "id", cli_json_u64(id));
        }
        int rc = cli_raw_page(r, id, &buf, &size, &why);
        if (rc == BOLT_ECORRUPT && id < r->file_pages) {
            /* A garbage overflow count: show the first page alone. */
            char text[160];
            snprintf(text, sizeof text, "%s; showing one page", why);
            if (po.obj != NULL)
                cli_json_append(po.problems, json_string(text));
            else
                fprintf(out, "page %" PRIu64 ": %s\n", id, text);
            size = r->page_size;
            buf = malloc(size);
            rc = buf == NULL ? -ENOMEM : cli_raw_read(r, id * (uint64_t)r->page_size, buf, size);
            if (rc != 0)
                free(buf);
            why = NULL;
            code = CLI_FINDING;
        }
        if (rc != 0) {
            fprintf(err, "strata page: %s: page %" PRIu64 ": %s\n", path, id,
                    why != NULL ? why : strerror(-rc));
            if (po.obj != NULL) {
                cli_json_append(po.problems, json_string(why != NULL ? why : strerror(-rc)));
                cli_json_set(po.obj, "problems", po.problems);
            }
            code = CLI_NOOPEN;
            continue;
        }
        uint16_t flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
        bolt_pgid hid = bolt__ld64(buf + BOLT_PAGE_ID_OFF);
        uint64_t offset = id * (uint64_t)r->page_size;
        unsigned items = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
        uint32_t overflow = bolt__ld32(buf + BOLT_PAGE_OVERFLOW_OFF);
        if (po.obj != NULL) {
            cli_json_set(po.obj, "type", json_string(cli_raw_type_name(flags)));
            cli_json_set(po.obj, "flags", json_integer(flags));
            cli_json_set(po.obj, "items", json_integer(items));
            cli_json_set(po.obj, "overflow", cli_json_u64(overflow));
            cli_json_set(po.obj, "offset", cli_json_u64(offset));
        }
        if (c->a->hex) {
            if (po.obj != NULL) {
                cli_json_set(po.obj, "hex", cli_json_bytes(buf, size, CLI_FORMAT_HEX));
                cli_json_set(po.obj, "problems", po.problems);
            } else {
                fprintf(out, "page %" PRIu64 " (%zu bytes at file offset %" PRIu64 ")\n", id, size,
                        offset);
                hexdump(out, buf, size, offset);
            }
            free(buf);
            continue;
        }
        if (po.obj == NULL)
            fprintf(out,
                    "page %" PRIu64 ": %s (flags 0x%02x), %u items, overflow %" PRIu32
                    ", file offset %" PRIu64 "\n",
                    id, cli_raw_type_name(flags), flags, items, overflow, offset);
        int pc = CLI_OK;
        if (hid != id) {
            char text[96];
            snprintf(text, sizeof text, "header id %" PRIu64 " does not match the page's position",
                     hid);
            problem(&po, "  problem: %s\n", text);
            pc = CLI_FINDING;
        }
        int tc = CLI_OK;
        switch (flags) {
        case BOLT_PAGE_META:
            tc = show_meta(&po, buf, size);
            break;
        case BOLT_PAGE_FREELIST:
            tc = show_freelist(&po, buf, size);
            break;
        case BOLT_PAGE_BRANCH:
        case BOLT_PAGE_LEAF:
            tc = show_tree(&po, buf, size, id);
            break;
        default:
            problem(&po, "  problem: %s\n", "unknown page type; try --format hex");
            tc = CLI_FINDING;
        }
        if (po.obj != NULL)
            cli_json_set(po.obj, "problems", po.problems);
        if ((pc != CLI_OK || tc != CLI_OK) && code == CLI_OK)
            code = CLI_FINDING;
        free(buf);
    }
    if (pages != NULL) {
        json_t *doc = json_object();
        cli_json_set(doc, "pages", pages);
        int jc = cli_json_print("page", out, doc);
        if (jc != CLI_OK)
            return jc;
    }
    return code;
}

int cmd_page(int argc, char **argv)
{
    page_args a = { false };
    cli_opts o;
    int code = cli_parse_ctx(&cmd_page_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    for (int i = optind + 1; i < argc; i++) {
        char *end;
        errno = 0;
        (void)strtoull(argv[i], &end, 10);
        if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-') {
            fprintf(stderr, "strata page: '%s' is not a page id\n", argv[i]);
            return CLI_USAGE;
        }
    }
    cli_input in;
    if ((code = cli_input_begin("page", argv[optind], &in)) != CLI_OK)
        return code;
    page_view_ctx c = { &o, &a, argv + optind + 1, argc - optind - 1 };
    code = cli_raw_view(&o, in.path, page_view, &c);
    cli_input_end(&in);
    return code;
}
