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
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

const cli_command_spec cmd_pages_spec = {
    .name = "pages",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_LIVE | CLI_C_JSON | CLI_C_TIMEOUT,
    .synopsis = "[options] DB",
    .about = "List every page below the high-water mark of the current meta: id,\n"
             "type, items, overflow pages (bbolt's columns). Free pages are listed as\n"
             "'free'; a note marks pages reached from nowhere and headers that do not\n"
             "match. Reads with pread and takes no lock; --live repeats the read when\n"
             "a commit lands under it.",
    .json = "pages: [{id, type: \"meta\"|\"freelist\"|\"branch\"|\"leaf\"|\"free\"|\"unknown\",\n"
            "  items: N|null, overflow: N|null, note: TEXT|null}...]   one per page run",
    .example = "$ strata pages my.db\n"
               "$ strata pages --json my.db | python3 -c 'import json,sys; "
               "print(len(json.load(sys.stdin)[\"pages\"]))'",
};

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
static int pages_view(void *ctx, cli_raw *rp, FILE *out, FILE *err);

/* The walk follows the deepest nesting only on a big stack (cli_big_stack). */
int cmd_pages(int argc, char **argv)
{
    return cli_big_stack(pages_main, argc, argv);
}

static int pages_main(int argc, char **argv)
{
    cli_opts o;
    int parsed = cli_parse(&cmd_pages_spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    cli_input in;
    int code = cli_input_begin("pages", argv[optind], &in);
    if (code != CLI_OK)
        return code;
    code = cli_raw_view(&o, in.path, pages_view, &o);
    cli_input_end(&in);
    return code;
}

/* One page run: a text line, or a JSON object. */
static void page_row(FILE *out, json_t *arr, bolt_pgid id, const char *type, int64_t items,
                     int64_t ov, const char *note)
{
    if (arr != NULL) {
        json_t *p = json_object();
        cli_json_set(p, "id", cli_json_u64(id));
        cli_json_set(p, "type", json_string(type));
        cli_json_set(p, "items", items < 0 ? json_null() : json_integer(items));
        cli_json_set(p, "overflow", ov < 0 ? json_null() : json_integer(ov));
        cli_json_set(p, "note", note != NULL && note[0] != '\0' ? json_string(note) : json_null());
        cli_json_append(arr, p);
        return;
    }
    if (items < 0)
        fprintf(out, "%-8" PRIu64 " %s%s%s\n", id, type, note != NULL && note[0] ? " " : "",
                note != NULL ? note : "");
    else if (note != NULL && note[0] != '\0')
        fprintf(out, "%-8" PRIu64 " %-10s %-6" PRId64 " %-6" PRId64 " %s\n", id, type, items, ov,
                note);
    else
        fprintf(out, "%-8" PRIu64 " %-10s %-6" PRId64 " %" PRId64 "\n", id, type, items, ov);
}

static int pages_view(void *ctx, cli_raw *rp, FILE *out, FILE *err)
{
    const cli_opts *o = ctx;
    cli_raw r = *rp;
    const char *path = cli_path_shown(r.path);
    int code = CLI_OK;
    if (r.current < 0) {
        fprintf(err, "strata pages: %s: no valid meta page (try 'strata info')\n", path);
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
        fprintf(err, "strata pages: %s: freelist page %" PRIu64 ": %s\n", path, m->freelist,
                why != NULL ? why : strerror(-rc));
        code = CLI_FINDING;
    }
    unsigned char *reached = NULL;
    static const cli_walk_ops no_ops = { NULL, NULL, NULL, NULL };
    rc = cli_walk(&r, m->root, hwm, &no_ops, NULL, &reached);
    if (rc != 0) {
        free(free_ids);
        fprintf(err, "strata pages: %s: %s\n", path, cli_strerror(rc));
        return cli_exit_for(rc);
    }
    json_t *arr = o->json ? json_array() : NULL;
    if (arr == NULL) {
        fprintf(out, "%-8s %-10s %-6s %s\n", "ID", "TYPE", "ITEMS", "OVRFLW");
        fprintf(out, "======== ========== ====== ======\n");
    }
    for (bolt_pgid id = 0; id < hwm && id < r.file_pages;) {
        /* Without a stored list, a page nothing reaches is free (docs/format.md §7.3). */
        bool is_free = id >= 2 && (by_walk ? !cli_bit(reached, id) : id_in(free_ids, nfree, id));
        if (is_free) {
            page_row(out, arr, id, "free", -1, -1, NULL);
            id++;
            continue;
        }
        unsigned char hdr[BOLT_PAGE_HEADER_SIZE + 8];
        rc = cli_raw_read(&r, id * (uint64_t)r.page_size, hdr, sizeof hdr);
        if (rc != 0) {
            char text[96];
            snprintf(text, sizeof text, "unreadable: %s", strerror(-rc));
            page_row(out, arr, id, "unknown", -1, -1, text);
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
        page_row(out, arr, id, cli_raw_type_name(flags), (int64_t)count, (int64_t)ov, note);
        id += ov + 1;
    }
    free(reached);
    free(free_ids);
    if (arr != NULL) {
        json_t *doc = json_object();
        cli_json_set(doc, "pages", arr);
        int jc = cli_json_print("pages", out, doc);
        if (jc != CLI_OK)
            return jc;
    }
    return code;
}
