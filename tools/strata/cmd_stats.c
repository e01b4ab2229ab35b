/*
 * cmd_stats.c: `strata stats DB [PREFIX]`: bbolt's CLI stats. As bbolt's
 * `stats PATH [PREFIX]` does, it adds up Bucket.Stats of every top-level
 * bucket whose name starts with PREFIX (all of them without one) -- the
 * root bucket itself is not counted -- and prints the same lines with the
 * same numbers (percentages truncated as bbolt's float32 arithmetic does).
 * Below them, under "Extra (strata)", the whole file's page accounting:
 * high-water mark, meta, freelist and free pages.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

const cli_command_spec cmd_stats_spec = {
    .name = "stats",
    .min_args = 1,
    .max_args = 2,
    .common = CLI_C_BUCKETS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .synopsis = "[options] DB [PREFIX]",
    .about = "bbolt's 'stats PATH [PREFIX]': add up the statistics of every top-level\n"
             "bucket whose name starts with PREFIX (every one without it; PREFIX is read\n"
             "as a bucket name: text, or 0x-hex) and print them as bbolt's CLI does:\n"
             "pages by type, key/value pairs (bucket elements included), B+tree levels\n"
             "(the deepest bucket's, nested buckets adding up), bytes allocated and\n"
             "used, buckets (nested ones included) and inline buckets. The root bucket\n"
             "is not counted, as in bbolt. Below, labelled extra, the whole file's page\n"
             "accounting (strata's): pages below the high-water mark, meta, freelist\n"
             "and free pages.",
    .json = "prefix: NAME   matched: N (bbolt's 'Aggregate statistics for N buckets')\n"
            "branch_pages, branch_overflow, leaf_pages, leaf_overflow, keys, depth,\n"
            "branch_alloc, branch_inuse, leaf_alloc, leaf_inuse, buckets,\n"
            "inline_buckets, inline_inuse: bbolt's BucketStats fields, added up\n"
            "extra: {page_size, pages, meta_pages, freelist_pages, free_pages}",
    .example = "$ strata stats my.db\n"
               "$ strata stats --json etcd.db key   # the 'key' bucket only",
};

typedef struct stats_ctx {
    const cli_opts *o;
    const char *path;
    unsigned char *prefix;
    size_t plen;
    bolt_bucket *root;
    bolt_stats sum;
    uint64_t matched;
    int rc;
} stats_ctx;

/* bbolt's BucketStats.Add: every count adds up, depth is the maximum. */
static void stats_add(bolt_stats *s, const bolt_stats *o)
{
    s->branch_pages += o->branch_pages;
    s->branch_overflow += o->branch_overflow;
    s->leaf_pages += o->leaf_pages;
    s->leaf_overflow += o->leaf_overflow;
    s->keys += o->keys;
    if (o->depth > s->depth)
        s->depth = o->depth;
    s->branch_alloc += o->branch_alloc;
    s->branch_inuse += o->branch_inuse;
    s->leaf_alloc += o->leaf_alloc;
    s->leaf_inuse += o->leaf_inuse;
    s->buckets += o->buckets;
    s->inline_buckets += o->inline_buckets;
    s->inline_inuse += o->inline_inuse;
}

static int stats_each(void *arg, bolt_val key, bolt_val value)
{
    stats_ctx *c = arg;
    if (value.data != NULL) /* a plain key of the root: bbolt's tx.ForEach skips nothing, but */
        return 0;           /* Bucket(name) of a plain key is nil: no stats */
    if (key.size < c->plen || memcmp(key.data, c->prefix, c->plen) != 0)
        return 0;
    bolt_bucket *b;
    bolt_stats s;
    int rc = bolt_bucket_open(c->root, key, &b);
    if (rc == 0)
        rc = bolt_bucket_stats(b, &s);
    if (rc != 0)
        return rc;
    stats_add(&c->sum, &s);
    c->matched++;
    return 0;
}

/* bbolt's int(float32(part) * 100.0 / float32(whole)), 0 for an empty whole. */
static int pct(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0 : (int)((float)part * 100.0f / (float)whole);
}

/* The whole file's page accounting (docs/format.md §7.3), read with pread. */
typedef struct accounting {
    uint64_t pages, freelist_pages, free_pages;
    bool known;
} accounting;

static void file_accounting(const stats_ctx *c, uint64_t hwm, uint64_t tree, accounting *a)
{
    memset(a, 0, sizeof *a);
    a->pages = hwm;
    cli_raw r;
    cli_opts quiet = *c->o;
    if (cli_raw_open("stats", &quiet, c->path, &r) != CLI_OK)
        return;
    if (r.current >= 0) {
        bolt_pgid *ids = NULL;
        size_t n = 0;
        const char *why;
        uint64_t run = 0;
        int rc = cli_raw_free_ids(&r, &r.meta[r.current], &ids, &n, &run, &why);
        free(ids);
        if (rc == 0) {
            a->free_pages = n;
            a->freelist_pages = run;
            a->known = true;
        } else if (rc == BOLT_NOTFOUND && hwm >= 2 + tree) {
            a->free_pages = hwm - 2 - tree;
            a->known = true;
        }
    }
    cli_raw_close(&r);
}

static int stats_view(void *arg, bolt_db *db, bolt_tx *tx, FILE *out, FILE *err)
{
    stats_ctx *c = arg;
    memset(&c->sum, 0, sizeof c->sum);
    c->matched = 0;
    c->root = bolt_tx_root(tx);
    int rc = bolt_bucket_for_each(c->root, stats_each, c);
    if (rc != 0)
        return cli_report_db(err, "stats", c->path, db, rc);
    /* The root's own pages, for the accounting only: the tree pages of the whole file. */
    bolt_stats all;
    rc = bolt_bucket_stats(c->root, &all);
    if (rc != 0)
        return cli_report_db(err, "stats", c->path, db, rc);
    uint32_t ps = bolt_db_page_size(db);
    accounting a;
    file_accounting(c, bolt_tx_size(tx) / ps,
                    all.branch_pages + all.branch_overflow + all.leaf_pages + all.leaf_overflow,
                    &a);
    const bolt_stats *s = &c->sum;
    if (c->o->json) {
        json_t *doc = json_object(), *x = json_object();
        cli_json_set(doc, "prefix", cli_json_bytes(c->prefix, c->plen, c->o->bucket_fmt));
        cli_json_set(doc, "matched", cli_json_u64(c->matched));
        cli_json_set(doc, "branch_pages", cli_json_u64(s->branch_pages));
        cli_json_set(doc, "branch_overflow", cli_json_u64(s->branch_overflow));
        cli_json_set(doc, "leaf_pages", cli_json_u64(s->leaf_pages));
        cli_json_set(doc, "leaf_overflow", cli_json_u64(s->leaf_overflow));
        cli_json_set(doc, "keys", cli_json_u64(s->keys));
        cli_json_set(doc, "depth", cli_json_u64(s->depth));
        cli_json_set(doc, "branch_alloc", cli_json_u64(s->branch_alloc));
        cli_json_set(doc, "branch_inuse", cli_json_u64(s->branch_inuse));
        cli_json_set(doc, "leaf_alloc", cli_json_u64(s->leaf_alloc));
        cli_json_set(doc, "leaf_inuse", cli_json_u64(s->leaf_inuse));
        cli_json_set(doc, "buckets", cli_json_u64(s->buckets));
        cli_json_set(doc, "inline_buckets", cli_json_u64(s->inline_buckets));
        cli_json_set(doc, "inline_inuse", cli_json_u64(s->inline_inuse));
        cli_json_set(x, "page_size", cli_json_u64(ps));
        cli_json_set(x, "pages", cli_json_u64(a.pages));
        cli_json_set(x, "meta_pages", json_integer(2));
        cli_json_set(x, "freelist_pages", a.known ? cli_json_u64(a.freelist_pages) : json_null());
        cli_json_set(x, "free_pages", a.known ? cli_json_u64(a.free_pages) : json_null());
        cli_json_set(doc, "extra", x);
        return cli_json_print("stats", out, doc);
    }
    fprintf(out, "Aggregate statistics for %" PRIu64 " buckets\n\n", c->matched);
    fprintf(out, "Page count statistics\n");
    fprintf(out, "\tNumber of logical branch pages: %" PRIu64 "\n", s->branch_pages);
    fprintf(out, "\tNumber of physical branch overflow pages: %" PRIu64 "\n", s->branch_overflow);
    fprintf(out, "\tNumber of logical leaf pages: %" PRIu64 "\n", s->leaf_pages);
    fprintf(out, "\tNumber of physical leaf overflow pages: %" PRIu64 "\n", s->leaf_overflow);
    fprintf(out, "Tree statistics\n");
    fprintf(out, "\tNumber of keys/value pairs: %" PRIu64 "\n", s->keys);
    fprintf(out, "\tNumber of levels in B+tree: %" PRIu32 "\n", s->depth);
    fprintf(out, "Page size utilization\n");
    fprintf(out, "\tBytes allocated for physical branch pages: %" PRIu64 "\n", s->branch_alloc);
    fprintf(out, "\tBytes actually used for branch data: %" PRIu64 " (%d%%)\n", s->branch_inuse,
            pct(s->branch_inuse, s->branch_alloc));
    fprintf(out, "\tBytes allocated for physical leaf pages: %" PRIu64 "\n", s->leaf_alloc);
    fprintf(out, "\tBytes actually used for leaf data: %" PRIu64 " (%d%%)\n", s->leaf_inuse,
            pct(s->leaf_inuse, s->leaf_alloc));
    fprintf(out, "Bucket statistics\n");
    fprintf(out, "\tTotal number of buckets: %" PRIu64 "\n", s->buckets);
    fprintf(out, "\tTotal number on inlined buckets: %" PRIu64 " (%d%%)\n", s->inline_buckets,
            pct(s->inline_buckets, s->buckets));
    fprintf(out, "\tBytes used for inlined buckets: %" PRIu64 " (%d%%)\n", s->inline_inuse,
            pct(s->inline_inuse, s->leaf_inuse));
    fprintf(out, "Extra (strata, not in bbolt's output): the whole file\n");
    fprintf(out, "\tPage size: %" PRIu32 "\n", ps);
    fprintf(out, "\tPages below the high-water mark: %" PRIu64 "\n", a.pages);
    fprintf(out, "\tMeta pages: 2\n");
    if (a.known) {
        fprintf(out, "\tFreelist pages: %" PRIu64 "\n", a.freelist_pages);
        fprintf(out, "\tFree pages: %" PRIu64 "\n", a.free_pages);
    } else {
        fprintf(out, "\tFreelist pages: unknown (the freelist cannot be read)\n");
        fprintf(out, "\tFree pages: unknown\n");
    }
    return CLI_OK;
}

int cmd_stats(int argc, char **argv)
{
    cli_opts o;
    int parsed = cli_parse(&cmd_stats_spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    stats_ctx c = { .o = &o };
    const char *prefix = argc - optind == 2 ? argv[optind + 1] : "";
    if (cli_arg_bytes("stats", prefix, o.bucket_fmt, &c.prefix, &c.plen) != 0)
        return CLI_USAGE;
    cli_input in;
    int code = cli_input_begin("stats", argv[optind], &in);
    if (code == CLI_OK) {
        c.path = in.path;
        code = cli_view(&o, in.path, stats_view, &c);
        cli_input_end(&in);
    }
    free(c.prefix);
    return code;
}
