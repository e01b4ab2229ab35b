/*
 * cmd_stats.c: `strata stats DB [BUCKET...]`: bbolt's bucket statistics
 * (bolt_bucket_stats) of the whole file or of one bucket and everything
 * below it: pages by type, keys, depth, bytes allocated and used, inline
 * buckets; for the whole file also the page accounting (high-water mark,
 * meta, freelist and free pages). One `name: value` line each, so scripts
 * can read them.
 */
#include <inttypes.h>

#include <stdlib.h>

#include "cli.h"
#include "cli_raw.h"

static void stats_usage(FILE *out)
{
    fprintf(out, "usage: strata stats [options] DB [BUCKET...]\n\n"
                 "Print bbolt's bucket statistics for the whole file (the root bucket and\n"
                 "everything in it) or for the bucket BUCKET/... and its nested buckets:\n"
                 "branch and leaf pages (and overflow pages), keys (bucket elements\n"
                 "included), depth (nested buckets add up), bytes allocated and used,\n"
                 "buckets (the starting one included) and inline buckets.\n\n" CLI_COMMON_HELP);
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

/*
 * The whole file's page accounting: every page below the high-water mark is
 * a meta, the freelist run, a tree page (counted above) or free. Free pages
 * come from the stored list, or, without one, are the rest (docs/format.md §7.3).
 */
static void file_pages(const char *path, const cli_opts *o, const bolt_stats *s, uint64_t hwm)
{
    cli_raw r;
    if (cli_raw_open("stats", o, path, &r) != CLI_OK)
        return;
    uint64_t tree = s->branch_pages + s->branch_overflow + s->leaf_pages + s->leaf_overflow;
    uint64_t run = 0, nfree = 0;
    if (r.current >= 0) {
        bolt_pgid *ids = NULL;
        size_t n = 0;
        const char *why;
        int rc = cli_raw_free_ids(&r, &r.meta[r.current], &ids, &n, &run, &why);
        free(ids);
        if (rc == 0)
            nfree = n;
        else if (rc == BOLT_NOTFOUND && hwm >= 2 + tree)
            nfree = hwm - 2 - tree;
    }
    cli_raw_close(&r);
    printf("pages: %" PRIu64 "\n", hwm);
    printf("meta_pages: 2\n");
    printf("freelist_pages: %" PRIu64 "\n", run);
    printf("free_pages: %" PRIu64 "\n", nfree);
}

int cmd_stats(int argc, char **argv)
{
    static const cli_command_spec spec = {
        .name = "stats", .usage = stats_usage, .min_args = 1, .max_args = -1
    };
    cli_opts o;
    int parsed = cli_parse(&spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    const char *path = argv[optind];
    bolt_db *db;
    int code = cli_db_open_read("stats", &o, path, &db);
    if (code != CLI_OK)
        return code;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0) {
        code = cli_report("stats", path, rc);
        bolt_close(db);
        return code;
    }
    bolt_bucket *b;
    code = cli_bucket_walk("stats", &o, tx, argv + optind + 1, argc - optind - 1, &b);
    bolt_stats s;
    if (code == CLI_OK) {
        rc = bolt_bucket_stats(b, &s);
        if (rc != 0) {
            code = cli_report("stats", path, rc);
            char why[256];
            bolt_db_last_corruption(db, why, sizeof why);
            if (why[0] != '\0')
                fprintf(stderr, "strata stats: %s: %s\n", path, why);
        }
    }
    if (code == CLI_OK) {
        printf("page_size: %" PRIu32 "\n", bolt_db_page_size(db));
        printf("branch_pages: %" PRIu64 "\n", s.branch_pages);
        printf("branch_overflow: %" PRIu64 "\n", s.branch_overflow);
        printf("leaf_pages: %" PRIu64 "\n", s.leaf_pages);
        printf("leaf_overflow: %" PRIu64 "\n", s.leaf_overflow);
        printf("keys: %" PRIu64 "\n", s.keys);
        printf("depth: %" PRIu32 "\n", s.depth);
        printf("branch_alloc: %" PRIu64 "\n", s.branch_alloc);
        printf("branch_inuse: %" PRIu64 " (%.1f%%)\n", s.branch_inuse,
               pct(s.branch_inuse, s.branch_alloc));
        printf("leaf_alloc: %" PRIu64 "\n", s.leaf_alloc);
        printf("leaf_inuse: %" PRIu64 " (%.1f%%)\n", s.leaf_inuse, pct(s.leaf_inuse, s.leaf_alloc));
        printf("buckets: %" PRIu64 "\n", s.buckets);
        printf("inline_buckets: %" PRIu64 " (%.1f%%)\n", s.inline_buckets,
               pct(s.inline_buckets, s.buckets));
        printf("inline_inuse: %" PRIu64 "\n", s.inline_inuse);
        printf("bytes_alloc: %" PRIu64 "\n", s.branch_alloc + s.leaf_alloc);
        printf("bytes_inuse: %" PRIu64 "\n", s.branch_inuse + s.leaf_inuse + s.inline_inuse);
        if (argc - optind == 1)
            file_pages(path, &o, &s, bolt_tx_size(tx) / bolt_db_page_size(db));
    }
    bolt_tx_rollback(tx);
    bolt_close(db);
    return code;
}
