/*
 * cmd_pages.c: `strata pages DB`: one line per page run below the
 * high-water mark: id, type, items, overflow, with free pages marked
 * "free" (from the stored freelist, or by walking when the file stores
 * none) and notes for pages nothing reaches or whose header is wrong.
 * Byte-level (cli_raw), so it lists damaged files too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_raw.h"

static void pages_usage(FILE *out)
{
    fprintf(out, "usage: strata pages [options] DB\n\n"
                 "List every page below the high-water mark of the current meta: id,\n"
                 "type, items, overflow pages. Free pages are listed as 'free'; a note\n"
                 "marks pages reached from nowhere and headers that do not match.\n\n"
                 "  --timeout DURATION  wait this long for the file lock (1s)\n");
}

static bool id_in(const bolt_pgid *ids, size_t n, bolt_pgid id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (ids[m] < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < n && ids[lo] == id;
}

static int pages_main(int argc, char **argv);

/* The walk follows the deepest nesting only on a big stack (cli_big_stack). */
int cmd_pages(int argc, char **argv)
{
    return cli_big_stack(pages_main, argc, argv);
}

static int pages_main(int argc, char **argv)
{
    static const cli_command_spec spec = {
        .name = "pages", .usage = pages_usage, .min_args = 1, .max_args = 1
    };
    cli_opts o;
    int parsed = cli_parse(&spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    const char *path = argv[optind];
    cli_raw r;
    int code = cli_raw_open("pages", &o, path, &r);
    if (code != CLI_OK)
        return code;
    if (r.current < 0) {
        fprintf(stderr, "strata pages: %s: no valid meta page (try 'strata info')\n", path);
        cli_raw_close(&r);
        return CLI_NOOPEN;
    }
    const bolt__meta *m = &r.meta[r.current];
    bolt_pgid hwm = m->pgid;
    bolt_pgid *free_ids = NULL;
    size_t nfree = 0;
    uint64_t run = 0;
    const char *why = NULL;
    int rc = cli_raw_free_ids(&r, m, &free_ids, &nfree, &run, &why);
    bool by_walk = rc == BOLT_NOTFOUND;
    if (rc != 0 && rc != BOLT_NOTFOUND) {
        fprintf(stderr, "strata pages: %s: freelist page %" PRIu64 ": %s\n", path, m->freelist,
                why != NULL ? why : strerror(-rc));
        code = CLI_FINDING;
    }
    unsigned char *reached = NULL;
    static const cli_walk_ops no_ops = { NULL, NULL, NULL, NULL };
    rc = cli_walk(&r, m->root, hwm, &no_ops, NULL, &reached);
    if (rc != 0) {
        free(free_ids);
        cli_raw_close(&r);
        return cli_report("pages", path, rc);
    }
    printf("%-8s %-10s %-6s %s\n", "ID", "TYPE", "ITEMS", "OVRFLW");
    printf("======== ========== ====== ======\n");
    for (bolt_pgid id = 0; id < hwm && id < r.file_pages;) {
        /* Without a stored list, a page nothing reaches is free (docs/format.md §7.3). */
        bool is_free = id >= 2 && (by_walk ? !cli_bit(reached, id) : id_in(free_ids, nfree, id));
        if (is_free) {
            printf("%-8" PRIu64 " free\n", id);
            id++;
            continue;
        }
        unsigned char hdr[BOLT_PAGE_HEADER_SIZE + 8];
        rc = cli_raw_read(&r, id * (uint64_t)r.page_size, hdr, sizeof hdr);
        if (rc != 0) {
            printf("%-8" PRIu64 " unreadable: %s\n", id, strerror(-rc));
            code = CLI_FINDING;
            id++;
            continue;
        }
        uint16_t flags = bolt__ld16(hdr + BOLT_PAGE_FLAGS_OFF);
        uint64_t count = bolt__ld16(hdr + BOLT_PAGE_COUNT_OFF);
        uint64_t ov = bolt__ld32(hdr + BOLT_PAGE_OVERFLOW_OFF);
        if (flags == BOLT_PAGE_FREELIST && count == BOLT_FREELIST_COUNT_ESCAPE)
            count = bolt__ld64(hdr + BOLT_PAGE_HEADER_SIZE);
        char note[96] = "";
        bolt_pgid hid = bolt__ld64(hdr + BOLT_PAGE_ID_OFF);
        if (hid != id)
            snprintf(note, sizeof note, "header id %" PRIu64, hid);
        else if ((flags == BOLT_PAGE_BRANCH || flags == BOLT_PAGE_LEAF) && !cli_bit(reached, id))
            snprintf(note, sizeof note, "unreachable");
        else if (flags != BOLT_PAGE_BRANCH && flags != BOLT_PAGE_LEAF && flags != BOLT_PAGE_META &&
                 flags != BOLT_PAGE_FREELIST)
            snprintf(note, sizeof note, "flags 0x%04x", flags);
        if (ov >= hwm - id) {
            snprintf(note, sizeof note, "overflow %" PRIu64 " past the high-water mark", ov);
            ov = 0;
        }
        if (note[0] != '\0')
            printf("%-8" PRIu64 " %-10s %-6" PRIu64 " %-6" PRIu64 " %s\n", id,
                   cli_raw_type_name(flags), count, ov, note);
        else
            printf("%-8" PRIu64 " %-10s %-6" PRIu64 " %" PRIu64 "\n", id, cli_raw_type_name(flags),
                   count, ov);
        id += ov + 1;
    }
    free(reached);
    free(free_ids);
    cli_raw_close(&r);
    return code;
}
