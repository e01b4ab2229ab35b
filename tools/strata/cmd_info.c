/*
 * cmd_info.c: `strata info DB`: the page size and every field of both meta
 * pages, side by side, with what is wrong with each and which one is
 * current. Reads with pread (cli_raw), so it works on files bolt_open
 * refuses. Exit 0 when both metas are valid, 1 when one is not, 3 when the
 * file is not a bolt file at all.
 */
#include <inttypes.h>

#include "cli.h"
#include "cli_raw.h"

static void info_usage(FILE *out)
{
    fprintf(out, "usage: strata info [options] DB\n\n"
                 "Print the page size and both meta pages' fields (magic, version, page\n"
                 "size, flags, root, freelist, high-water mark, txid, checksum), what is\n"
                 "wrong with each, and which one is current. Exit 1 if a meta is bad.\n\n"
                 "  --timeout DURATION  wait this long for the file lock (1s)\n");
}

static void row_u64(const char *name, const cli_raw *r, uint64_t v0, uint64_t v1, bool hex)
{
    char a[32], b[32];
    snprintf(a, sizeof a, hex ? "0x%" PRIx64 : "%" PRIu64, v0);
    snprintf(b, sizeof b, hex ? "0x%" PRIx64 : "%" PRIu64, v1);
    printf("  %-10s %-24s %s\n", name, a, r->page_size ? b : "-");
}

static void freelist_text(const bolt__meta *m, char *buf, size_t n)
{
    if (m->freelist == BOLT_NO_FREELIST)
        snprintf(buf, n, "none");
    else
        snprintf(buf, n, "%" PRIu64, m->freelist);
}

static void checksum_text(const cli_raw *r, int i, char *buf, size_t n)
{
    const bolt__meta *m = &r->meta[i];
    if (m->magic != BOLT_MAGIC)
        snprintf(buf, n, "0x%016" PRIx64, m->checksum);
    else if (m->checksum == 0)
        snprintf(buf, n, "0 (unchecked)");
    else if (r->meta_rc[i] == BOLT_ECHECKSUM)
        snprintf(buf, n, "0x%016" PRIx64 " BAD", m->checksum);
    else
        snprintf(buf, n, "0x%016" PRIx64 " ok", m->checksum);
}

int cmd_info(int argc, char **argv)
{
    static const cli_command_spec spec = {
        .name = "info", .usage = info_usage, .min_args = 1, .max_args = 1
    };
    cli_opts o;
    int parsed = cli_parse(&spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    const char *path = argv[optind];
    cli_raw r;
    int code = cli_raw_open("info", &o, path, &r);
    if (code != CLI_OK)
        return code;
    if (r.page_size == 0) {
        fprintf(stderr, "strata info: %s: not a bolt file (no valid meta page at any page size)\n",
                path);
        cli_raw_close(&r);
        return CLI_NOOPEN;
    }
    printf("file       %s\n", path);
    printf("size       %" PRIu64 " bytes (%" PRIu64 " pages)\n", r.file_size, r.file_pages);
    printf("page size  %" PRIu32 "\n", r.page_size);
    printf("current    %s\n", r.current < 0 ? "none (no valid meta)"
                              : r.current   ? "meta 1"
                                            : "meta 0");
    printf("  %-10s %-24s %s\n", "", "meta 0", "meta 1");
    char s0[64], s1[64];
    for (int i = 0; i < 2; i++)
        snprintf(i ? s1 : s0, sizeof s0, "%s", r.meta_rc[i] == 0 ? "ok" : "BAD");
    printf("  %-10s %-24s %s\n", "status", s0, s1);
    const bolt__meta *m0 = &r.meta[0], *m1 = &r.meta[1];
    row_u64("magic", &r, m0->magic, m1->magic, true);
    row_u64("version", &r, m0->version, m1->version, false);
    row_u64("page size", &r, m0->page_size, m1->page_size, false);
    row_u64("flags", &r, m0->flags, m1->flags, true);
    row_u64("root", &r, m0->root, m1->root, false);
    freelist_text(m0, s0, sizeof s0);
    freelist_text(m1, s1, sizeof s1);
    printf("  %-10s %-24s %s\n", "freelist", s0, s1);
    row_u64("pgid", &r, m0->pgid, m1->pgid, false);
    row_u64("txid", &r, m0->txid, m1->txid, false);
    row_u64("sequence", &r, m0->sequence, m1->sequence, false);
    checksum_text(&r, 0, s0, sizeof s0);
    checksum_text(&r, 1, s1, sizeof s1);
    printf("  %-10s %-24s %s\n", "checksum", s0, s1);
    code = CLI_OK;
    for (int i = 0; i < 2; i++) {
        if (r.meta_rc[i] != 0) {
            printf("meta %d (page %d): %s\n", i, i, r.meta_why[i]);
            code = CLI_FINDING;
        }
    }
    cli_raw_close(&r);
    return code;
}
