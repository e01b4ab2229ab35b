/*
 * cmd_surgery.c: `strata surgery ...`: byte-level repairs of a bolt file.
 *
 *   revert-meta-page      make the older meta current (undo the last commit)
 *   copy-page             copy one page run over another (header id fixed)
 *   clear-page-elements   remove elements [I, J) of a branch or leaf page
 *   freelist abandon      mark both metas as storing no freelist
 *   freelist rebuild      recompute the free pages and store them
 *   meta validate         check both meta pages (reads only)
 *
 * Rules:
 *   1. Never in place: every repair copies SRC to a new file --output
 *      (created exclusively; an existing file is never touched), patches
 *      the copy, syncs it and its directory. A failed repair removes the
 *      copy. SRC is read under a shared lock, like every reader.
 *   2. Meta pages are rewritten whole through bolt__meta_encode, so the
 *      checksum always matches what is written.
 *   3. A repair that may leave pages reached from nowhere says so and
 *      names the command that fixes the free pages (freelist rebuild).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

enum { OPT_FROM = 2000, OPT_TO };

static const cli_option surgery_options[] = {
    { "output", 'o', "DST",
      "the repaired copy (a new file; '-': standard output, the\nreport then goes to stderr)",
      "file" },
    { "from", OPT_FROM, "N",
      "copy-page: the page run to copy; clear-page-elements: the\nfirst element to remove", NULL },
    { "to", OPT_TO, "N",
      "copy-page: the page run to overwrite; clear-page-elements:\nthe element after the last "
      "removed (-1 or omitted: the end)",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct surgery_args {
    const char *name; /* the subcommand */
    const char *dst;
    int64_t from, to;
    bool has_from, has_to;
} surgery_args;

static int parse_id(const char *text, int64_t *out);

static int surgery_option(int c, const char *arg, void *ctx)
{
    surgery_args *a = ctx;
    if (c == 'o') {
        a->dst = arg;
        return 0;
    }
    bool page_ops =
            strcmp(a->name, "copy-page") == 0 || strcmp(a->name, "clear-page-elements") == 0;
    if (!page_ops || parse_id(arg, c == OPT_FROM ? &a->from : &a->to) != 0) {
        fprintf(stderr, "strata surgery %s: bad or unexpected --%s '%s'\n", a->name,
                c == OPT_FROM ? "from" : "to", arg);
        return -1;
    }
    *(c == OPT_FROM ? &a->has_from : &a->has_to) = true;
    return 0;
}

const cli_command_spec cmd_surgery_spec = {
    .name = "surgery",
    .min_args = 1,
    .max_args = 2,
    .common = CLI_C_JSON,
    .options = surgery_options,
    .on_option = surgery_option,
    .synopsis = "SUBCOMMAND [options] -o DST SRC [args]",
    .about = "Repair a copy of SRC, written to the new file DST (never in place):\n"
             "  revert-meta-page -o DST SRC\n"
             "      make the older meta page current, undoing the last commit\n"
             "  copy-page -o DST SRC --from ID --to ID\n"
             "      copy page run ID over page run ID (the header id is set to --to)\n"
             "  clear-page-elements -o DST SRC ID --from I [--to J]\n"
             "      remove elements [I, J) of branch or leaf page ID (J: the end if\n"
             "      omitted or -1)\n"
             "  freelist abandon -o DST SRC\n"
             "      mark both metas as having no freelist (rebuilt on the next open)\n"
             "  freelist rebuild -o DST SRC\n"
             "      recompute the free pages by walking the tree and store them\n"
             "  meta validate SRC\n"
             "      check both meta pages and the pages they name (writes nothing)",
    .json = "subcommand, source, output (null for meta validate), ok,\n"
            "report: [LINE...] (the report lines)",
    .exits = "0 done; 1 the repair is not possible on this file (or validate found a\n"
             "problem, or a range the page does not have); 2 usage; 3 SRC unreadable or\n"
             "DST cannot be written",
    .example = "$ strata surgery freelist rebuild -o fixed.db damaged.db\n"
               "$ strata surgery meta validate damaged.db",
    .complete_args = "revert-meta-page copy-page clear-page-elements freelist abandon rebuild "
                     "meta validate",
};

typedef struct surgery {
    const char *name; /* "revert-meta-page", "freelist rebuild", ... */
    cli_raw r;
    const char *dst;
    int fd;       /* the copy, O_RDWR */
    bool created; /* we made s->dst (only then is it removed on failure) */
} surgery;

static int surgery_run(surgery *sp, const cli_opts *op, const char *name, const cli_input *in,
                       int64_t from, int64_t to, bool has_from, bool has_to, int64_t page);

static int parse_id(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/*
 * pwrite all n bytes, going on after a short write so the call that cannot
 * write reports the real errno (EFBIG, ENOSPC), never a made-up EIO. 0 or
 * -errno; a write of 0 bytes (no progress, no errno) is -EIO.
 */
static int write_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Rule 1: copy SRC into the new file s->dst. CLI_OK or an exit code. */
static int out_create(surgery *s)
{
    s->fd = open(s->dst, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        int e = errno;
        fprintf(stderr, "strata surgery %s: %s: %s%s\n", s->name, cli_path_shown(s->dst),
                strerror(e), e == EEXIST ? " (the output must be a new file)" : "");
        return e == EEXIST ? CLI_USAGE : CLI_NOOPEN;
    }
    s->created = true;
    size_t chunk = 1 << 20;
    unsigned char *buf = malloc(chunk);
    int rc = buf == NULL ? -ENOMEM : 0;
    for (uint64_t off = 0; rc == 0 && off < s->r.file_size; off += chunk) {
        size_t n = s->r.file_size - off < chunk ? (size_t)(s->r.file_size - off) : chunk;
        rc = cli_raw_read(&s->r, off, buf, n);
        if (rc == 0)
            rc = write_all(s->fd, buf, n, off);
    }
    free(buf);
    if (rc != 0) {
        close(s->fd);
        s->fd = -1;
        unlink(s->dst);
        s->created = false;
        return cli_report("surgery", s->dst, rc);
    }
    return CLI_OK;
}

/* Sync and close the copy and sync its directory; on failure remove it. */
static int out_finish(surgery *s, int code)
{
    int rc = 0;
    if (s->fd >= 0) {
        if (code == CLI_OK && fsync(s->fd) != 0)
            rc = -errno;
        close(s->fd);
        s->fd = -1;
    }
    if (code == CLI_OK && rc == 0 && s->created) {
        char *copy = strdup(s->dst);
        int dfd = copy != NULL ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        free(copy);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = -errno;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc != 0)
        code = cli_report("surgery", s->dst, rc);
    if (code != CLI_OK && s->created)
        unlink(s->dst);
    return code;
}

static int out_write(surgery *s, const void *buf, size_t n, uint64_t off)
{
    int rc = write_all(s->fd, buf, n, off);
    return rc != 0 ? cli_report("surgery", s->dst, rc) : CLI_OK;
}

/* The current meta, or CLI_FINDING after saying there is none. */
static int need_current(surgery *s)
{
    if (s->r.current >= 0)
        return CLI_OK;
    fprintf(stderr, "strata surgery %s: %s: no valid meta page (see 'strata info')\n", s->name,
            cli_path_shown(s->r.path));
    return CLI_FINDING;
}

static int do_revert(surgery *s)
{
    int code = need_current(s);
    if (code != CLI_OK)
        return code;
    int cur = s->r.current, old = 1 - cur;
    if (s->r.meta_rc[old] != 0) {
        fprintf(stderr, "strata surgery %s: %s: meta %d, the older one, is not valid (%s)\n",
                s->name, cli_path_shown(s->r.path), old, s->r.meta_why[old]);
        return CLI_FINDING;
    }
    code = out_create(s);
    if (code != CLI_OK)
        return code;
    unsigned char *page = calloc(1, s->r.page_size);
    if (page == NULL)
        return out_finish(s, cli_report("surgery", NULL, -ENOMEM));
    /*
     * The older state in the current slot, keeping that slot's txid: txids
     * stay increasing and each meta stays on page txid % 2 (bbolt copies
     * the page instead, leaving two metas with one txid; readers accept
     * both, this form also passes strict checkers).
     */
    bolt__meta m = s->r.meta[old];
    m.txid = s->r.meta[cur].txid;
    bolt__meta_encode(&m, (bolt_pgid)cur, page, s->r.page_size);
    code = out_write(s, page, s->r.page_size, (uint64_t)cur * s->r.page_size);
    free(page);
    code = out_finish(s, code);
    if (code == CLI_OK)
        printf("meta %d (txid %" PRIu64 ", root %" PRIu64
               ") now holds the state of meta %d (txid %" PRIu64 ", root %" PRIu64
               "); written to %s\n",
               cur, s->r.meta[cur].txid, s->r.meta[cur].root, old, s->r.meta[old].txid,
               s->r.meta[old].root, cli_path_shown(s->dst));
    return code;
}

static int do_copy_page(surgery *s, int64_t from, int64_t to)
{
    int code = need_current(s);
    if (code != CLI_OK)
        return code;
    const bolt__meta *m = &s->r.meta[s->r.current];
    if (from < 2 || to < 2 || (uint64_t)from >= m->pgid || (uint64_t)to >= m->pgid) {
        fprintf(stderr,
                "strata surgery %s: page ids must be in [2, %" PRIu64 ") (meta pages: use "
                "revert-meta-page)\n",
                s->name, m->pgid);
        return CLI_USAGE;
    }
    unsigned char *buf;
    size_t size;
    const char *why = NULL;
    int rc = cli_raw_page(&s->r, (bolt_pgid)from, &buf, &size, &why);
    if (rc != 0) {
        fprintf(stderr, "strata surgery %s: %s: page %" PRId64 ": %s\n", s->name,
                cli_path_shown(s->r.path), from, why != NULL ? why : strerror(-rc));
        return rc == BOLT_ECORRUPT ? CLI_FINDING : CLI_NOOPEN;
    }
    uint64_t pages = size / s->r.page_size;
    if ((uint64_t)to + pages > m->pgid) {
        fprintf(stderr,
                "strata surgery %s: page %" PRId64 "'s run of %" PRIu64
                " pages does not fit at page %" PRId64 " below the high-water mark\n",
                s->name, from, pages, to);
        free(buf);
        return CLI_FINDING;
    }
    code = out_create(s);
    if (code == CLI_OK) {
        bolt__st64(buf + BOLT_PAGE_ID_OFF, (uint64_t)to);
        code = out_write(s, buf, size, (uint64_t)to * s->r.page_size);
    }
    free(buf);
    code = out_finish(s, code);
    if (code == CLI_OK) {
        printf("page %" PRId64 " (%" PRIu64 " pages) copied to page %" PRId64 "; written to %s\n",
               from, pages, to, cli_path_shown(s->dst));
        printf("the free pages may have changed: run 'strata check', and "
               "'strata surgery freelist rebuild' if it reports pages\n");
    }
    return code;
}

static int do_clear_elements(surgery *s, int64_t id, int64_t from, int64_t to)
{
    int code = need_current(s);
    if (code != CLI_OK)
        return code;
    const bolt__meta *m = &s->r.meta[s->r.current];
    if (id < 2 || (uint64_t)id >= m->pgid) {
        fprintf(stderr, "strata surgery %s: page id must be in [2, %" PRIu64 ")\n", s->name,
                m->pgid);
        return CLI_USAGE;
    }
    unsigned char *buf;
    size_t size;
    const char *why = NULL;
    int rc = cli_raw_page(&s->r, (bolt_pgid)id, &buf, &size, &why);
    if (rc == 0 && bolt__page_check(buf, size, (bolt_pgid)id, &why) != 0) {
        free(buf);
        rc = BOLT_ECORRUPT;
    }
    if (rc != 0) {
        fprintf(stderr, "strata surgery %s: %s: page %" PRId64 ": %s\n", s->name,
                cli_path_shown(s->r.path), id, why != NULL ? why : strerror(-rc));
        return rc == BOLT_ECORRUPT ? CLI_FINDING : CLI_NOOPEN;
    }
    bolt__page p;
    bolt__page_load(buf, size, (bolt_pgid)id, &p, &why);
    bool leaf = bolt__page_is_leaf(&p);
    if (from < 0 || (to >= 0 && from > to)) {
        fprintf(stderr, "strata surgery %s: [%" PRId64 ", %" PRId64 ") is not a range\n", s->name,
                from, to);
        free(buf);
        return CLI_USAGE;
    }
    if (to < 0)
        to = p.count;
    if (from > to || to > p.count) {
        /* The page, not the command line, decides: a finding (1), as page-item out of range. */
        fprintf(stderr,
                "strata surgery %s: [%" PRId64 ", %" PRId64 ") is not a range of page %" PRId64
                "'s %u elements\n",
                s->name, from, to, id, p.count);
        free(buf);
        return CLI_FINDING;
    }
    unsigned keep = p.count - (unsigned)(to - from);
    if (!leaf && keep == 0) {
        fprintf(stderr,
                "strata surgery %s: removing every element would leave branch page %" PRId64
                " empty, which no reader accepts\n",
                s->name, id);
        free(buf);
        return CLI_FINDING;
    }
    unsigned char *out = calloc(1, size);
    if (out == NULL) {
        free(buf);
        return cli_report("surgery", NULL, -ENOMEM);
    }
    memcpy(out, buf, BOLT_PAGE_HEADER_SIZE);
    bolt__st16(out + BOLT_PAGE_COUNT_OFF, (uint16_t)keep);
    size_t data = BOLT_PAGE_HEADER_SIZE + (size_t)keep * BOLT_LEAF_ELEM_SIZE;
    unsigned j = 0;
    bool leaks = false;
    /* Loop invariant: out holds elements [0, j) and their data ends at `data`. */
    for (unsigned i = 0; i < p.count; i++) {
        bool drop = i >= (unsigned)from && i < (unsigned)to;
        unsigned char *e = out + BOLT_PAGE_HEADER_SIZE + (size_t)j * BOLT_LEAF_ELEM_SIZE;
        size_t pos = data - (BOLT_PAGE_HEADER_SIZE + (size_t)j * BOLT_LEAF_ELEM_SIZE);
        if (leaf) {
            uint32_t flags;
            bolt_val k, v;
            bolt__page_leaf_elem(&p, i, &flags, &k, &v);
            if (drop) {
                leaks |= (flags & BOLT_LEAF_BUCKET) && bolt__ld64(v.data) != 0;
                continue;
            }
            bolt__st32(e + BOLT_LEAF_FLAGS_OFF, flags);
            bolt__st32(e + BOLT_LEAF_POS_OFF, (uint32_t)pos);
            bolt__st32(e + BOLT_LEAF_KSIZE_OFF, (uint32_t)k.size);
            bolt__st32(e + BOLT_LEAF_VSIZE_OFF, (uint32_t)v.size);
            memcpy(out + data, k.data, k.size);
            memcpy(out + data + k.size, v.data, v.size);
            data += k.size + v.size;
        } else {
            bolt_val k;
            bolt_pgid child = bolt__page_branch_elem(&p, i, &k);
            if (drop) {
                leaks = true;
                continue;
            }
            bolt__st32(e + BOLT_BRANCH_POS_OFF, (uint32_t)pos);
            bolt__st32(e + BOLT_BRANCH_KSIZE_OFF, (uint32_t)k.size);
            bolt__st64(e + BOLT_BRANCH_PGID_OFF, child);
            memcpy(out + data, k.data, k.size);
            data += k.size;
        }
        j++;
    }
    free(buf);
    code = out_create(s);
    if (code == CLI_OK)
        code = out_write(s, out, size, (uint64_t)id * s->r.page_size);
    free(out);
    code = out_finish(s, code);
    if (code != CLI_OK)
        return code;
    printf("removed elements [%" PRId64 ", %" PRId64 ") of %s page %" PRId64
           ", %u left; written to %s\n",
           from, to, leaf ? "leaf" : "branch", id, keep, cli_path_shown(s->dst));
    if (leaks)
        printf("the removed elements referenced pages that are now reached from nowhere: run "
               "'strata surgery freelist rebuild' on the result\n");
    if (from == 0 && keep > 0 && (uint64_t)id != m->root)
        printf("the page's first key changed: its parent's separator no longer matches "
               "('strata check' reports it; readers still find every key)\n");
    return CLI_OK;
}

/* Rewrite every valid meta of the open copy with freelist = none. */
static int abandon_metas(surgery *s)
{
    unsigned char *page = calloc(1, s->r.page_size);
    if (page == NULL)
        return cli_report("surgery", NULL, -ENOMEM);
    int code = CLI_OK;
    for (int i = 0; i < 2 && code == CLI_OK; i++) {
        if (s->r.meta_rc[i] != 0)
            continue; /* leave a torn meta torn: it is never chosen */
        bolt__meta m = s->r.meta[i];
        m.freelist = BOLT_NO_FREELIST;
        bolt__meta_encode(&m, (bolt_pgid)i, page, s->r.page_size);
        code = out_write(s, page, s->r.page_size, (uint64_t)i * s->r.page_size);
    }
    free(page);
    return code;
}

static int do_freelist(surgery *s, bool rebuild)
{
    int code = need_current(s);
    if (code != CLI_OK)
        return code;
    code = out_create(s);
    if (code == CLI_OK)
        code = abandon_metas(s);
    if (!rebuild) {
        code = out_finish(s, code);
        if (code == CLI_OK)
            printf("both metas now store no freelist; the free pages are found by walking the "
                   "tree on the next read-write open; written to %s\n",
                   cli_path_shown(s->dst));
        return code;
    }
    if (code != CLI_OK)
        return out_finish(s, code);
    /* Let the engine walk the tree and store the list it finds. */
    if (fsync(s->fd) != 0)
        return out_finish(s, cli_report("surgery", s->dst, -errno));
    close(s->fd);
    s->fd = -1;
    bolt_options bo;
    bolt_options_init(&bo);
    bo.page_size = s->r.page_size;
    bolt_db *db;
    int rc = bolt_open(s->dst, &bo, &db);
    if (rc == 0) {
        bolt_tx *tx;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc == 0)
            rc = bolt_tx_commit(tx); /* writes the freelist page and a meta */
        if (rc == BOLT_ECORRUPT) {
            char why[256];
            bolt_db_last_corruption(db, why, sizeof why);
            fprintf(stderr, "strata surgery %s: %s: %s\n", s->name, cli_path_shown(s->r.path), why);
        }
        int crc = bolt_close(db);
        if (rc == 0)
            rc = crc;
    }
    if (rc < 0 && rc > -4096) /* a system error writing the copy: its own errno (EFBIG, ENOSPC) */
        return out_finish(s, cli_report("surgery", s->dst, rc));
    if (rc != 0) {
        fprintf(stderr, "strata surgery %s: the tree cannot be walked (%s): try 'strata salvage'\n",
                s->name, cli_strerror(rc));
        return out_finish(s, CLI_FINDING);
    }
    code = out_finish(s, CLI_OK);
    if (code != CLI_OK)
        return code;
    cli_opts o;
    cli_opts_init(&o);
    cli_raw r2;
    if (cli_raw_open("surgery", &o, s->dst, &r2) == CLI_OK && r2.current >= 0) {
        bolt_pgid *ids = NULL;
        size_t n = 0;
        uint64_t run;
        const char *why;
        if (cli_raw_free_ids(&r2, &r2.meta[r2.current], &ids, &n, &run, &why) == 0)
            printf("freelist rebuilt: %zu free pages stored in page %" PRIu64 " (txid %" PRIu64
                   "); written to %s\n",
                   n, r2.meta[r2.current].freelist, r2.meta[r2.current].txid,
                   cli_path_shown(s->dst));
        free(ids);
    }
    cli_raw_close(&r2);
    return CLI_OK;
}

/* meta validate: every check on both metas, one line per finding. */
static int do_meta_validate(surgery *s)
{
    int problems = 0;
    for (int i = 0; i < 2; i++) {
        const bolt__meta *m = &s->r.meta[i];
        if (s->r.meta_rc[i] != 0) {
            printf("meta %d: %s\n", i, s->r.meta_why[i]);
            problems++;
            continue;
        }
        int before = problems;
        unsigned char *buf;
        size_t size;
        const char *why = NULL;
        int rc = cli_raw_page(&s->r, m->root, &buf, &size, &why);
        if (rc == 0) {
            uint16_t f = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
            if (bolt__ld64(buf + BOLT_PAGE_ID_OFF) != m->root) {
                printf("meta %d: root page %" PRIu64 ": header id does not match\n", i, m->root);
                problems++;
            } else if (f != BOLT_PAGE_BRANCH && f != BOLT_PAGE_LEAF) {
                printf("meta %d: root page %" PRIu64 " is a %s page\n", i, m->root,
                       cli_raw_type_name(f));
                problems++;
            }
            free(buf);
        } else {
            printf("meta %d: root page %" PRIu64 ": %s\n", i, m->root,
                   why != NULL ? why : strerror(-rc));
            problems++;
        }
        bolt_pgid *ids = NULL;
        size_t n = 0;
        uint64_t run;
        why = NULL;
        rc = cli_raw_free_ids(&s->r, m, &ids, &n, &run, &why);
        free(ids);
        if (rc != 0 && rc != BOLT_NOTFOUND) {
            printf("meta %d: freelist page %" PRIu64 ": %s\n", i, m->freelist,
                   why != NULL ? why : strerror(-rc));
            problems++;
        }
        char fl[32] = "none";
        if (m->freelist != BOLT_NO_FREELIST)
            snprintf(fl, sizeof fl, "%" PRIu64, m->freelist);
        if (problems == before)
            printf("meta %d: ok (txid %" PRIu64 ", root %" PRIu64 ", freelist %s, pgid %" PRIu64
                   ")%s\n",
                   i, m->txid, m->root, fl, m->pgid, i == s->r.current ? ", current" : "");
    }
    return problems ? CLI_FINDING : CLI_OK;
}

int cmd_surgery(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(&cmd_surgery_spec, stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_usage(&cmd_surgery_spec, stdout);
        return CLI_OK;
    }
    int shift = 1;
    const char *name = argv[1];
    if (strcmp(argv[1], "freelist") == 0 || strcmp(argv[1], "meta") == 0) {
        bool ok = argc >= 3 &&
                  (strcmp(argv[1], "freelist") == 0
                           ? strcmp(argv[2], "abandon") == 0 || strcmp(argv[2], "rebuild") == 0
                           : strcmp(argv[2], "validate") == 0);
        if (!ok) {
            fprintf(stderr, "strata surgery: '%s' needs %s\n", argv[1],
                    strcmp(argv[1], "freelist") == 0 ? "abandon or rebuild" : "validate");
            return CLI_USAGE;
        }
        shift = 2;
        name = strcmp(argv[2], "abandon") == 0   ? "freelist abandon"
               : strcmp(argv[2], "rebuild") == 0 ? "freelist rebuild"
                                                 : "meta validate";
    } else if (strcmp(name, "revert-meta-page") != 0 && strcmp(name, "copy-page") != 0 &&
               strcmp(name, "clear-page-elements") != 0) {
        fprintf(stderr, "strata surgery: unknown subcommand '%s'\n\n", name);
        cli_usage(&cmd_surgery_spec, stderr);
        return CLI_USAGE;
    }
    argc -= shift;
    argv += shift; /* argv[0] is now the last word of the subcommand */
    optind = 0;
    surgery_args a = { .name = name, .from = -1, .to = -1 };
    cli_opts o;
    int parsed = cli_parse_ctx(&cmd_surgery_spec, argc, argv, &o, &a);
    if (parsed >= 0)
        return parsed;
    surgery s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.fd = -1;
    s.dst = a.dst;
    int64_t from = a.from, to = a.to;
    bool has_from = a.has_from, has_to = a.has_to;
    bool validate = strcmp(name, "meta validate") == 0;
    bool clear = strcmp(name, "clear-page-elements") == 0;
    int want_args = clear ? 2 : 1;
    int64_t page = 0;
    if (argc - optind != want_args || (validate != (s.dst == NULL)) ||
        (strcmp(name, "copy-page") == 0 && (!has_from || !has_to)) || (clear && !has_from) ||
        (clear && parse_id(argv[optind + 1], &page) != 0)) {
        fprintf(stderr, "strata surgery %s: wrong arguments%s\n\n", name,
                validate ? "" : " (every repair needs -o DST)");
        cli_usage(&cmd_surgery_spec, stderr);
        return CLI_USAGE;
    }
    /* SRC '-': standard input, copied to a temporary file first (shown as "-"). */
    cli_input in;
    int code = cli_input_begin("surgery", argv[optind], &in);
    if (code != CLI_OK)
        return code;
    code = surgery_run(&s, &o, name, &in, from, to, has_from, has_to, page);
    cli_input_end(&in);
    return code;
}

/* The subcommand on the opened input (SRC's path or standard input's copy). */
static int surgery_run(surgery *sp, const cli_opts *op, const char *name, const cli_input *in,
                       int64_t from, int64_t to, bool has_from, bool has_to, int64_t page)
{
    surgery s = *sp;
    cli_opts o = *op;
    bool validate = strcmp(name, "meta validate") == 0;
    bool clear = strcmp(name, "clear-page-elements") == 0;
    const char *src = in->path;
    int code = cli_raw_open("surgery", &o, src, &s.r);
    if (code != CLI_OK)
        return code;
    if (s.r.page_size == 0) {
        fprintf(stderr, "strata surgery %s: %s: not a bolt file (no valid meta page)\n", name,
                cli_path_shown(src));
        cli_raw_close(&s.r);
        return CLI_NOOPEN;
    }
    /*
     * DST "-": the repaired copy is made under a temporary name and copied to
     * standard output; the report lines then go to stderr. Under --json they
     * are gathered into the document's report.
     */
    const char *dst_arg = s.dst;
    cli_output out;
    memset(&out, 0, sizeof out);
    if (!validate && (code = cli_output_begin("surgery", &o, s.dst, &out)) != CLI_OK) {
        cli_raw_close(&s.r);
        return code;
    }
    if (!validate)
        s.dst = out.path;
    cli_aside aside;
    if ((code = cli_aside_begin("surgery", out.to_stdout, o.json, &aside)) != CLI_OK) {
        cli_output_end("surgery", &out, false);
        cli_raw_close(&s.r);
        return code;
    }
    if (validate)
        code = do_meta_validate(&s);
    else if (strcmp(name, "revert-meta-page") == 0)
        code = do_revert(&s);
    else if (strcmp(name, "copy-page") == 0)
        code = do_copy_page(&s, from, to);
    else if (clear)
        code = do_clear_elements(&s, page, from, has_to ? to : -1);
    else
        code = do_freelist(&s, strcmp(name, "freelist rebuild") == 0);
    cli_aside_restore(&aside);
    if (!validate && (code == CLI_OK || code == CLI_FINDING)) {
        int oc = cli_output_end("surgery", &out, true);
        if (oc != CLI_OK)
            code = oc;
    }
    cli_output_end("surgery", &out, false);
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "subcommand", json_string(name));
        cli_json_set(doc, "source", json_string(cli_path_shown(src)));
        cli_json_set(doc, "output", dst_arg != NULL ? json_string(dst_arg) : json_null());
        cli_json_set(doc, "ok", json_boolean(code == CLI_OK));
        cli_json_set(doc, "report", cli_aside_lines(&aside));
        int jc = cli_json_print("surgery", stdout, doc);
        if (jc != CLI_OK)
            code = jc;
    }
    cli_aside_discard(&aside);
    cli_raw_close(&s.r);
    return code;
}
