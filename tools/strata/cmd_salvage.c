/*
 * cmd_salvage.c: `strata salvage -o DST SRC`: copy everything that can
 * still be read from a damaged file into a fresh, valid one.
 *
 * Rules:
 *   1. SRC is read with pread only (cli_raw), never mapped or opened by
 *      the engine, so no damage can crash the copy; the walk (cli_walk) is
 *      bounded and enters every page at most once.
 *   2. The tree is walked from the newest valid meta. Every unreadable
 *      subtree is skipped and reported once: page id, bucket path, key
 *      range, why. If anything was skipped and the older meta is valid, its
 *      tree (the state before the last commit) is walked too, and only the
 *      keys and buckets that fall inside the skipped ranges and are not
 *      already copied are taken from it: the newest data always wins, and
 *      nothing the last commit deleted elsewhere comes back.
 *   3. DST is a new file (created exclusively) written through the public
 *      API, so it is valid whatever SRC held; it is synced with its
 *      directory at the end and removed if the copy fails.
 *   4. With --orphans, leaf pages below the high-water mark that the walk
 *      did not reach and the freelist does not list are copied into
 *      lost+found/PGID (a top-level bucket whose name is not taken by a
 *      salvaged bucket), never into live buckets. A file that stores no
 *      freelist has no orphans unless the walk skipped something (then
 *      every unreached leaf is a candidate, old versions included).
 *   5. Exit 0 when nothing was skipped, 1 when something was or the file
 *      is shorter than its meta says (a finding),
 *      3 when SRC has no usable meta or DST cannot be written (as every
 *      writer), 4 only for an internal error (BOLT_EPANIC).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

/* Commit DST every so many puts, so huge files never build one huge tx. */
#define SALVAGE_PUTS_PER_TX 20000

enum { OPT_ORPHANS = 2000 };

static const cli_option salvage_options[] = {
    { "output", 'o', "DST",
      "the new file (must not exist; '-': standard output, the\nreport then goes to stderr)",
      "file" },
    { "orphans", OPT_ORPHANS, NULL,
      "also copy leaf pages reached from nowhere and not free into\n"
      "the bucket lost+found/PGID",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

typedef struct salvage_args {
    const char *dst;
    bool orphans;
} salvage_args;

static int salvage_option(int c, const char *arg, void *ctx)
{
    salvage_args *a = ctx;
    if (c == 'o')
        a->dst = arg;
    else
        a->orphans = true;
    return 0;
}

const cli_command_spec cmd_salvage_spec = {
    .name = "salvage",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_KEYS | CLI_C_JSON,
    .options = salvage_options,
    .on_option = salvage_option,
    .synopsis = "[options] -o DST SRC",
    .about = "Copy every bucket and key that can be read from SRC (which may be badly\n"
             "damaged) into the new file DST, walking from the newest valid meta page\n"
             "(the older one if its root is unreadable). Unreadable subtrees are\n"
             "skipped and reported one per line: page, bucket path, key range, why.",
    .json = "source, output, meta, buckets, keys, skipped, recovered, dropped,\n"
            "orphan_leaves, report: [LINE...] (the report lines)",
    .exits = "0 nothing was skipped; 1 something was; 2 usage; 3 SRC has no usable\n"
             "meta, or DST cannot be written (nothing is left behind)",
    .example = "$ strata salvage --orphans -o rescued.db damaged.db",
};

/* A key range the newest walk could not read, copied out of the page buffers. */
typedef struct skip_range {
    size_t depth;    /* the bucket: names[0..depth) */
    bolt_val *names; /* malloc'd copies */
    bolt_val lo, hi; /* malloc'd copies; data NULL = open */
} skip_range;

typedef struct salvager {
    cli_raw *r;
    bool fill;          /* walking the older meta: only fill the skipped ranges */
    skip_range *ranges; /* the newest walk's skips */
    size_t nranges, capranges;
    uint64_t recovered, older_skipped;
    const cli_opts *o;
    bolt_db *db;
    bolt_tx *tx;
    bolt_bucket *stack[BOLT_MAX_NESTING + 1]; /* stack[0] = root; NULL = dropped */
    size_t valid;                             /* stack[0..valid] are open in tx */
    uint64_t puts_in_tx;
    uint64_t buckets, keys, dropped, skipped;
    int err;  /* the first error writing DST */
    bool tty; /* stderr is a terminal: show progress */
} salvager;

static bolt_val val_copy(const bolt_val *v, bool *oom)
{
    bolt_val out = { NULL, 0 };
    if (v == NULL)
        return out;
    void *p = malloc(v->size + 1); /* + 1: a copy of an empty key is still non-NULL */
    if (p == NULL) {
        *oom = true;
        return out;
    }
    if (v->size > 0)
        memcpy(p, v->data, v->size);
    out.data = p;
    out.size = v->size;
    return out;
}

/* Remember a skipped range for the fill-in walk (best effort: on OOM it is not filled). */
static void record_range(salvager *s, const bolt_val *path, size_t depth, const bolt_val *lo,
                         const bolt_val *hi)
{
    if (s->nranges == s->capranges) {
        size_t cap = s->capranges ? s->capranges * 2 : 8;
        skip_range *r = realloc(s->ranges, cap * sizeof *r);
        if (r == NULL)
            return;
        s->ranges = r;
        s->capranges = cap;
    }
    bool oom = false;
    skip_range *r = &s->ranges[s->nranges];
    r->depth = depth;
    r->names = calloc(depth + 1, sizeof *r->names);
    oom = r->names == NULL;
    for (size_t i = 0; i < depth && !oom; i++)
        r->names[i] = val_copy(&path[i], &oom);
    r->lo = val_copy(lo, &oom);
    r->hi = val_copy(hi, &oom);
    s->nranges++; /* freed by ranges_free whatever oom says */
}

static void ranges_free(salvager *s)
{
    for (size_t i = 0; i < s->nranges; i++) {
        skip_range *r = &s->ranges[i];
        for (size_t j = 0; r->names != NULL && j < r->depth; j++)
            free((void *)r->names[j].data);
        free(r->names);
        free((void *)r->lo.data);
        free((void *)r->hi.data);
    }
    free(s->ranges);
}

static int val_cmp(const bolt_val *a, const bolt_val *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = n > 0 ? memcmp(a->data, b->data, n) : 0;
    if (c != 0)
        return c;
    return a->size < b->size ? -1 : a->size > b->size;
}

static bool val_eq(const bolt_val *a, const bolt_val *b)
{
    return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

/*
 * True when key of the bucket path[0..depth) lies in a skipped range: a
 * range of that bucket holding key, or a range of an ancestor holding the
 * name of the bucket on the way down.
 */
static bool in_skipped(const salvager *s, const bolt_val *path, size_t depth, bolt_val key)
{
    for (size_t i = 0; i < s->nranges; i++) {
        const skip_range *r = &s->ranges[i];
        if (r->depth > depth || r->names == NULL)
            continue;
        bool prefix = true;
        for (size_t j = 0; j < r->depth && prefix; j++)
            prefix = r->names[j].data != NULL && val_eq(&r->names[j], &path[j]);
        if (!prefix)
            continue;
        const bolt_val *k = r->depth == depth ? &key : &path[r->depth];
        if (r->lo.data != NULL && val_cmp(k, &r->lo) < 0)
            continue;
        if (r->hi.data != NULL && val_cmp(k, &r->hi) >= 0)
            continue;
        return true;
    }
    return false;
}

static void print_path(const bolt_val *path, size_t depth, const cli_opts *o)
{
    if (depth == 0) {
        printf("(root)");
        return;
    }
    for (size_t i = 0; i < depth; i++) {
        if (i > 0)
            putchar('/');
        cli_print_bytes(stdout, path[i].data, path[i].size, o->key_fmt);
    }
}

static int sv_commit(salvager *s, bool reopen)
{
    bolt_tx *tx = s->tx;
    s->tx = NULL;
    s->valid = 0;
    int rc = bolt_tx_commit(tx);
    if (rc == 0 && reopen) {
        rc = bolt_tx_begin(s->db, BOLT_TX_WRITE, &s->tx);
        if (rc == 0)
            s->stack[0] = bolt_tx_root(s->tx);
    }
    s->puts_in_tx = 0;
    return rc;
}

/* Make stack[0..depth] open in the current tx (reopening by name after a commit). */
static int sv_open_to(salvager *s, const bolt_val *path, size_t depth)
{
    while (s->valid < depth) {
        bolt_bucket *parent = s->stack[s->valid], *child = NULL;
        if (parent != NULL) {
            int rc = bolt_bucket_open(parent, path[s->valid], &child);
            if (rc != 0 && rc != BOLT_NOTFOUND)
                return rc;
        }
        s->stack[++s->valid] = child;
    }
    return 0;
}

static int sv_tick(salvager *s)
{
    if (++s->puts_in_tx < SALVAGE_PUTS_PER_TX)
        return 0;
    if (s->tty) /* progress only on a terminal */
        fprintf(stderr, "\rsalvage: %" PRIu64 " keys, %" PRIu64 " skipped\033[K", s->keys,
                s->skipped);
    return sv_commit(s, true);
}

static int sv_bucket(void *arg, const bolt_val *path, size_t depth, uint64_t seq)
{
    salvager *s = arg;
    int rc = sv_open_to(s, path, depth - 1);
    if (rc != 0)
        return s->err = rc;
    bolt_bucket *parent = s->stack[depth - 1], *b = NULL;
    if (parent != NULL && s->fill) {
        /* Use a bucket the newest walk made; make one only inside a skipped range. */
        rc = bolt_bucket_open(parent, path[depth - 1], &b);
        if (rc == BOLT_NOTFOUND && in_skipped(s, path, depth - 1, path[depth - 1])) {
            rc = bolt_bucket_create(parent, path[depth - 1], &b);
            if (rc == 0)
                rc = bolt_bucket_set_sequence(b, seq);
            if (rc == 0)
                s->buckets++;
        }
        if (rc == BOLT_NOTFOUND || rc == BOLT_EINCOMPATIBLEVALUE) {
            b = NULL;
            rc = 0;
        }
        if (rc != 0)
            return s->err = rc;
    } else if (parent != NULL) {
        rc = bolt_bucket_create_if_not_exists(parent, path[depth - 1], &b);
        if (rc == BOLT_EINCOMPATIBLEVALUE) {
            printf("dropped bucket ");
            print_path(path, depth, s->o);
            printf(": its name is also a plain key of its parent\n");
            b = NULL;
            rc = 0;
        }
        if (rc == 0 && b != NULL)
            rc = bolt_bucket_set_sequence(b, seq);
        if (rc != 0)
            return s->err = rc;
        if (b != NULL)
            s->buckets++;
    }
    s->stack[depth] = b;
    s->valid = depth;
    rc = sv_tick(s);
    return rc != 0 ? (s->err = rc) : 0;
}

static int sv_kv(void *arg, const bolt_val *path, size_t depth, bolt_val key, bolt_val value)
{
    salvager *s = arg;
    int rc = sv_open_to(s, path, depth);
    if (rc != 0)
        return s->err = rc;
    bolt_bucket *b = s->stack[depth];
    if (b == NULL) {
        s->dropped += !s->fill;
        return 0;
    }
    if (s->fill) {
        bolt_val have;
        if (!in_skipped(s, path, depth, key))
            return 0;
        rc = bolt_bucket_get(b, key, &have);
        if (rc == 0)
            return 0; /* the newest walk has it: the newest wins */
        if (rc != BOLT_NOTFOUND)
            return s->err = rc;
        s->recovered++;
    }
    rc = bolt_bucket_put(b, key, value);
    if (rc == BOLT_EINCOMPATIBLEVALUE) {
        s->dropped++; /* the key is also a bucket (a damaged file can say both) */
        return 0;
    }
    if (rc != 0)
        return s->err = rc;
    s->keys++;
    rc = sv_tick(s);
    return rc != 0 ? (s->err = rc) : 0;
}

static void sv_skip(void *arg, bolt_pgid id, const bolt_val *path, size_t depth, const bolt_val *lo,
                    const bolt_val *hi, const char *why)
{
    salvager *s = arg;
    if (s->fill) {
        s->older_skipped++;
        printf("older meta: skipped page %" PRIu64 " in bucket ", id);
    } else {
        s->skipped++;
        record_range(s, path, depth, lo, hi);
        printf("skipped page %" PRIu64 " in bucket ", id);
    }
    print_path(path, depth, s->o);
    printf(", keys [");
    if (lo != NULL)
        cli_print_bytes(stdout, lo->data, lo->size, s->o->key_fmt);
    else
        printf("first");
    printf(", ");
    if (hi != NULL)
        cli_print_bytes(stdout, hi->data, hi->size, s->o->key_fmt);
    else
        printf("last");
    printf("): %s\n", why);
}

static bool sorted_has(const bolt_pgid *ids, size_t n, bolt_pgid id)
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

/* Rule 4: a top-level name for lost+found that no salvaged bucket uses. */
static int lost_found(salvager *s, bolt_bucket **out)
{
    char name[32] = "lost+found";
    for (int i = 1; i < 1000; i++) {
        bolt_bucket *b;
        int rc = bolt_bucket_open(bolt_tx_root(s->tx), bolt_str(name), &b);
        if (rc == BOLT_NOTFOUND) {
            bolt_val k;
            bolt_cursor *c;
            /* A plain root key of that name blocks it too. */
            rc = bolt_cursor_open(bolt_tx_root(s->tx), &c);
            if (rc != 0)
                return rc;
            rc = bolt_cursor_seek(c, bolt_str(name), &k, NULL);
            bool taken = rc == 0 && k.size == strlen(name) && memcmp(k.data, name, k.size) == 0;
            bolt_cursor_close(c);
            if (!taken) {
                printf("orphan leaves go to the top-level bucket %s\n", name);
                return bolt_bucket_create(bolt_tx_root(s->tx), bolt_str(name), out);
            }
        } else if (rc != 0) {
            return rc;
        }
        snprintf(name, sizeof name, "lost+found.%d", i);
    }
    return BOLT_EBUCKETEXISTS;
}

static int salvage_orphans(salvager *s, const bolt__meta *m, const unsigned char *reached,
                           uint64_t *nleaves)
{
    cli_raw *r = s->r;
    bolt_pgid *free_ids = NULL;
    size_t nfree = 0;
    uint64_t run = 0;
    const char *why = NULL;
    int rc = cli_raw_free_ids(r, m, &free_ids, &nfree, &run, &why);
    if (rc == BOLT_NOTFOUND && s->skipped == 0) {
        /* docs/format.md §7.3: without a stored list, what nothing reaches is free. */
        printf("orphans: none (the file stores no freelist, so every page nothing reaches is "
               "free, and nothing was skipped)\n");
        return 0;
    }
    if (rc == BOLT_NOTFOUND) {
        printf("orphans: the file stores no freelist; with subtrees skipped, every unreached "
               "leaf is a candidate (old versions too)\n");
    } else if (rc != 0) {
        printf("orphans: freelist page %" PRIu64 " unreadable (%s); every unreached leaf is a "
               "candidate\n",
               m->freelist, why != NULL ? why : strerror(-rc));
        run = 0;
    }
    rc = 0;
    bolt_pgid limit = m->pgid < r->file_pages ? m->pgid : r->file_pages;
    bolt_bucket *lf = NULL;
    for (bolt_pgid id = 2; id < limit && rc == 0;) {
        bool in_run =
                m->freelist != BOLT_NO_FREELIST && id >= m->freelist && id < m->freelist + run;
        if (cli_bit(reached, id) || in_run || sorted_has(free_ids, nfree, id)) {
            id++;
            continue;
        }
        unsigned char *buf;
        size_t size;
        bolt__page p;
        if (cli_raw_page(r, id, &buf, &size, &why) != 0) {
            id++;
            continue;
        }
        if (id + size / r->page_size > limit || bolt__page_load(buf, size, id, &p, &why) != 0 ||
            !bolt__page_is_leaf(&p)) {
            free(buf);
            id++;
            continue;
        }
        /* Orphans are few; they go into the walk's last transaction, uncommitted till the end. */
        if (lf == NULL)
            rc = lost_found(s, &lf);
        char name[24];
        snprintf(name, sizeof name, "%" PRIu64, id);
        bolt_bucket *b = NULL;
        if (rc == 0)
            rc = bolt_bucket_create_if_not_exists(lf, bolt_str(name), &b);
        uint64_t kept = 0, buckets = 0;
        for (unsigned i = 0; i < p.count && rc == 0; i++) {
            uint32_t flags;
            bolt_val k, v;
            bolt__page_leaf_elem(&p, i, &flags, &k, &v);
            if (flags & BOLT_LEAF_BUCKET) {
                buckets++;
                continue;
            }
            rc = bolt_bucket_put(b, k, v);
            kept++;
        }
        if (rc == 0) {
            printf("orphan leaf %" PRIu64 ": %" PRIu64 " keys copied to lost+found/%s", id, kept,
                   name);
            if (buckets > 0)
                printf(" (%" PRIu64 " bucket elements not followed)", buckets);
            putchar('\n');
            s->keys += kept;
            (*nleaves)++;
        }
        id += p.overflow + 1;
        free(buf);
    }
    free(free_ids);
    return rc;
}

static int sync_dir_of(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    int drc = strata_sync_dir_of(path);
    return rc != 0 ? rc : drc;
}

static int salvage_main(int argc, char **argv);

/* What a salvage did, for --json. */
typedef struct salvage_result {
    bool done; /* the copy was written */
    int meta;  /* the meta walked from */
    uint64_t buckets, keys, skipped, recovered, dropped, orphan_leaves;
} salvage_result;

static int salvage_copy(const cli_opts *op, const char *src, const char *dst, const char *dst_shown,
                        bool orphans, salvage_result *res);

/* The walk follows the deepest nesting only on a big stack (cli_big_stack). */
int cmd_salvage(int argc, char **argv)
{
    return cli_big_stack(salvage_main, argc, argv);
}

static int salvage_main(int argc, char **argv)
{
    salvage_args a = { NULL, false };
    cli_opts o;
    int parsed = cli_parse_ctx(&cmd_salvage_spec, argc, argv, &o, &a);
    if (parsed >= 0)
        return parsed;
    if (a.dst == NULL) {
        fprintf(stderr, "strata salvage: -o DST is required\n");
        cli_usage(&cmd_salvage_spec, stderr);
        return CLI_USAGE;
    }
    const char *dst = a.dst;
    bool orphans = a.orphans;
    struct stat st;
    if (!cli_is_stdio(dst) && stat(dst, &st) == 0) {
        fprintf(stderr, "strata salvage: %s exists; salvage writes a new file only\n", dst);
        return CLI_USAGE;
    }
    /* SRC '-': standard input, copied to a temporary file first (shown as "-"). */
    cli_input in;
    int code = cli_input_begin("salvage", argv[optind], &in);
    if (code != CLI_OK)
        return code;
    const char *src = in.path;
    cli_output out;
    if ((code = cli_output_begin("salvage", &o, dst, &out)) != CLI_OK) {
        cli_input_end(&in);
        return code;
    }
    /*
     * The report lines (skipped subtrees, orphans, the summary) are printed
     * on stdout; when the file itself goes to stdout they go to stderr, and
     * under --json into a buffer that becomes the document's report.
     */
    cli_aside aside;
    if ((code = cli_aside_begin("salvage", out.to_stdout, o.json, &aside)) != CLI_OK) {
        cli_output_end("salvage", &out, false);
        cli_input_end(&in);
        return code;
    }
    salvage_result res = { 0 };
    code = salvage_copy(&o, src, out.path, dst, orphans, &res);
    cli_aside_restore(&aside);
    if (code == CLI_OK || code == CLI_FINDING) {
        int oc = cli_output_end("salvage", &out, true);
        if (oc != CLI_OK)
            code = oc;
    }
    cli_output_end("salvage", &out, false);
    if (o.json && res.done) {
        json_t *doc = json_object();
        cli_json_set(doc, "source", json_string(cli_path_shown(src)));
        cli_json_set(doc, "output", json_string(dst));
        cli_json_set(doc, "meta", json_integer(res.meta));
        cli_json_set(doc, "buckets", cli_json_u64(res.buckets));
        cli_json_set(doc, "keys", cli_json_u64(res.keys));
        cli_json_set(doc, "skipped", cli_json_u64(res.skipped));
        cli_json_set(doc, "recovered", cli_json_u64(res.recovered));
        cli_json_set(doc, "dropped", cli_json_u64(res.dropped));
        cli_json_set(doc, "orphan_leaves", cli_json_u64(res.orphan_leaves));
        cli_json_set(doc, "report", cli_aside_lines(&aside));
        int jc = cli_json_print("salvage", stdout, doc);
        if (jc != CLI_OK)
            code = jc;
    }
    cli_aside_discard(&aside);
    cli_input_end(&in);
    return code;
}

/*
 * The copy itself: walk src, write the new file at dst (shown as
 * dst_shown), print the report on stdout, fill *res. Returns the exit code.
 */
static int salvage_copy(const cli_opts *op, const char *src, const char *dst, const char *dst_shown,
                        bool orphans, salvage_result *res)
{
    cli_opts o = *op;
    int code;
    cli_raw r;
    code = cli_raw_open("salvage", &o, src, &r);
    if (code != CLI_OK)
        return code;
    /* A truncated file's newest meta is still the best start: what is past the end is skipped. */
    int mi = -1;
    for (int i = 0; i < 2 && r.page_size != 0; i++)
        if ((r.meta_rc[i] == 0 || r.meta_short[i]) && (mi < 0 || r.meta[i].txid > r.meta[mi].txid))
            mi = i;
    if (mi < 0) {
        fprintf(stderr,
                "strata salvage: %s: no valid meta page: nothing to walk from "
                "(see 'strata info')\n",
                cli_path_shown(src));
        cli_raw_close(&r);
        return CLI_NOOPEN;
    }
    const bolt__meta *m = &r.meta[mi];
    printf("walking from meta %d (txid %" PRIu64 ", root %" PRIu64 ", %" PRIu64 " pages)\n", mi,
           m->txid, m->root, m->pgid);
    if (r.meta_short[mi])
        printf("the file has %" PRIu64 " whole pages, fewer than the meta's %" PRIu64
               ": pages past the end are skipped\n",
               r.file_pages, m->pgid);

    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        code = cli_report("salvage", dst, -errno);
        cli_raw_close(&r);
        return code; /* 3, as every writer exits when its output cannot be written */
    }
    close(fd);
    salvager *s = calloc(1, sizeof *s);
    int rc = s == NULL ? -ENOMEM : 0;
    bolt_options bo;
    bolt_options_init(&bo);
    bo.page_size = r.page_size;
    bo.no_sync = true; /* one sync at the end (rule 3) */
    bo.no_grow_sync = true;
    if (rc == 0) {
        s->r = &r;
        s->o = &o;
        s->tty = cli_progress_wanted(&o);
        rc = bolt_open(dst, &bo, &s->db);
    }
    if (rc == 0)
        rc = bolt_tx_begin(s->db, BOLT_TX_WRITE, &s->tx);
    unsigned char *reached = NULL;
    if (rc == 0) {
        s->stack[0] = bolt_tx_root(s->tx);
        rc = bolt_bucket_set_sequence(s->stack[0], m->sequence);
    }
    if (rc == 0) {
        static const cli_walk_ops ops = { NULL, sv_bucket, sv_kv, sv_skip };
        rc = cli_walk(&r, m->root, m->pgid, &ops, s, &reached);
        if (rc != 0 && s->err != 0)
            rc = s->err;
    }
    int older = 1 - mi;
    if (rc == 0 && s->skipped > 0 && (r.meta_rc[older] == 0 || r.meta_short[older]) &&
        r.meta[older].txid < m->txid) {
        const bolt__meta *om = &r.meta[older];
        printf("filling the skipped ranges from meta %d (txid %" PRIu64 ", root %" PRIu64 ")\n",
               older, om->txid, om->root);
        unsigned char *reached2 = NULL;
        s->fill = true;
        s->valid = 0;
        static const cli_walk_ops ops2 = { NULL, sv_bucket, sv_kv, sv_skip };
        rc = cli_walk(&r, om->root, om->pgid, &ops2, s, &reached2);
        if (rc != 0 && s->err != 0)
            rc = s->err;
        /* Pages the older tree reached are not orphans either. */
        for (uint64_t i = 0; rc == 0 && i < r.file_pages / 8 + 1; i++)
            reached[i] |= reached2[i];
        free(reached2);
        s->fill = false;
        s->valid = 0;
    }
    uint64_t nleaves = 0;
    if (rc == 0 && orphans)
        rc = salvage_orphans(s, m, reached, &nleaves);
    if (rc == 0)
        rc = sv_commit(s, false);
    free(reached);
    if (s != NULL) {
        bolt_tx_rollback(s->tx);
        int crc = bolt_close(s->db);
        if (rc == 0)
            rc = crc;
    }
    if (rc == 0)
        rc = sync_dir_of(dst);
    if (s != NULL && s->tty)
        fprintf(stderr, "\r\033[K");
    cli_raw_close(&r);
    if (rc != 0) {
        fprintf(stderr, "strata salvage: writing %s failed: %s\n", dst, cli_strerror(rc));
        unlink(dst);
        if (s != NULL)
            ranges_free(s);
        free(s);
        /* The destination could not be written (3, like every writer); 4 only for strata's own
         * bugs. */
        return rc == BOLT_EPANIC ? CLI_INTERNAL : CLI_NOOPEN;
    }
    printf("salvaged %" PRIu64 " buckets and %" PRIu64 " keys into %s; %" PRIu64
           " subtree%s skipped",
           s->buckets, s->keys, dst_shown, s->skipped, s->skipped == 1 ? "" : "s");
    *res = (salvage_result){ true,       mi,           s->buckets, s->keys,
                             s->skipped, s->recovered, s->dropped, nleaves };
    if (s->recovered > 0)
        printf(", %" PRIu64 " keys of them recovered from the older meta", s->recovered);
    if (s->dropped > 0)
        printf(", %" PRIu64 " keys dropped (their bucket could not be made)", s->dropped);
    if (orphans)
        printf(", %" PRIu64 " orphan leaves", nleaves);
    putchar('\n');
    code = s->skipped > 0 || s->dropped > 0 || r.meta_short[mi] ? CLI_FINDING : CLI_OK;
    ranges_free(s);
    free(s);
    return code;
}
