/*
 * compact.c: copy every live bucket and key of a database into a fresh
 * file (bbolt's Compact), leaving free pages and half-empty pages behind.
 *
 * Rules:
 *   1. The destination is created exclusively (an existing file is never
 *      touched) and removed again if the copy fails, so it exists whole or
 *      not at all for the caller.
 *   2. Everything is read from one read transaction of the source, so the
 *      copy is a consistent snapshot even while a writer goes on.
 *   3. Buckets keep their nesting and sequences (the root bucket's too);
 *      plain keys in the root bucket stay plain keys.
 *   4. Keys arrive in order, so inserting them at the right edge with fill
 *      percent 1.0 leaves every page full (strata's split keeps the left
 *      part full on right-edge inserts).
 *   5. With tx_max_size != 0 the copy goes through the public API and
 *      commits before a key/value pair would take the transaction's key +
 *      value bytes past it (bbolt's rule), reopening the bucket path in the
 *      next transaction. With tx_max_size == 0 there is no transaction at
 *      all: bulkload.c writes the file bottom-up, page by page.
 *   6. The result is synced and its directory synced before success is
 *      returned, whatever no_sync says (no_sync only skips the per-commit
 *      syncs, which the final one makes up for).
 *   7. A damaged source fails the copy, never becomes a clean-looking file:
 *      each source page is entered once (bolt_visited: a shared subtree, a
 *      bucket rooted in its parent's leaf or a cycle is BOLT_ECORRUPT with
 *      the page named, at most one pass over the file) and keys must come
 *      strictly in order (bolt__walk_order). Both checks ride on the reads
 *      the copy makes anyway. `strata salvage` is the tool for such files.
 *   8. Every file operation on the destination goes through the source
 *      db's I/O table (os.h; the transaction mode opens the destination
 *      with the same table), so fault tests reach compaction too.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bolt_int.h"
#include "strdup.h"

typedef struct compact_ctx {
    bolt_db *dst;
    bolt_tx *tx; /* the current destination write transaction */
    const bolt_compact_options *opt;
    uint64_t tx_bytes;
    bolt_bucket **stack; /* stack[0] = dst root; stack[i] = the bucket at names[0..i) */
    bolt_val *names;     /* borrowed from the source transaction */
    size_t depth, cap;   /* buckets open below the root; capacity of both arrays */
    bolt_visited *seen;  /* rule 7: pages of the source entered by this copy */
    bolt_compact_result res;
} compact_ctx;

static int ctx_reserve(compact_ctx *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    bolt_bucket **s = strata_realloc(c->stack, cap * sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    c->stack = s;
    bolt_val *n = strata_realloc(c->names, cap * sizeof *n);
    if (n == NULL)
        return -ENOMEM;
    c->names = n;
    c->cap = cap;
    return 0;
}

/* Begin a destination transaction and reopen the open bucket path (rule 5). */
static int ctx_begin(compact_ctx *c)
{
    int rc = bolt_tx_begin(c->dst, BOLT_TX_WRITE, &c->tx);
    if (rc != 0)
        return rc;
    c->res.txs++;
    c->tx_bytes = 0;
    c->stack[0] = bolt_tx_root(c->tx);
    bolt_bucket_set_fill_percent(c->stack[0], BOLT_MAX_FILL_PERCENT);
    for (size_t i = 0; i < c->depth; i++) {
        rc = bolt_bucket_open(c->stack[i], c->names[i], &c->stack[i + 1]);
        if (rc != 0)
            return rc == BOLT_NOTFOUND ? BOLT_EPANIC : rc; /* we created it */
        bolt_bucket_set_fill_percent(c->stack[i + 1], BOLT_MAX_FILL_PERCENT);
    }
    return 0;
}

static int ctx_account(compact_ctx *c, size_t n)
{
    if (c->opt->tx_max_size != 0 && c->tx_bytes + n > c->opt->tx_max_size && c->tx_bytes > 0) {
        bolt_tx *tx = c->tx;
        c->tx = NULL;
        int rc = bolt_tx_commit(tx);
        if (rc != 0)
            return rc;
        if (c->opt->progress != NULL)
            c->opt->progress(c->opt->progress_arg, c->res.keys);
        rc = ctx_begin(c);
        if (rc != 0)
            return rc;
    }
    c->tx_bytes += n;
    return 0;
}

static int copy_bucket(compact_ctx *c, bolt_bucket *src)
{
    int rc = bolt_visited_add(c->seen, src); /* rule 7 */
    if (rc != 0)
        return rc;
    bolt_cursor *cur;
    rc = bolt_cursor_open(src, &cur);
    if (rc != 0)
        return rc;
    bolt_val k, v, prev = { NULL, 0 };
    bool have_prev = false;
    for (rc = bolt_cursor_first(cur, &k, &v); rc == 0; rc = bolt_cursor_next(cur, &k, &v)) {
        rc = bolt__walk_order(cur, prev, have_prev, k); /* rule 7 */
        if (rc != 0)
            break;
        prev = k;
        have_prev = true;
        if (v.data != NULL) {
            rc = ctx_account(c, k.size + v.size);
            if (rc == 0)
                rc = bolt_bucket_put(c->stack[c->depth], k, v);
            if (rc != 0)
                break;
            c->res.keys++;
            continue;
        }
        bolt_bucket *child_src, *child_dst;
        rc = bolt_bucket_open(src, k, &child_src);
        if (rc == 0)
            rc = ctx_account(c, k.size);
        if (rc == 0)
            rc = ctx_reserve(c, c->depth + 2);
        if (rc == 0)
            rc = bolt_bucket_create(c->stack[c->depth], k, &child_dst);
        if (rc == 0)
            rc = bolt_bucket_set_sequence(child_dst, bolt_bucket_sequence(child_src));
        if (rc != 0)
            break;
        bolt_bucket_set_fill_percent(child_dst, BOLT_MAX_FILL_PERCENT);
        c->res.buckets++;
        c->names[c->depth] = k;
        c->stack[++c->depth] = child_dst;
        rc = copy_bucket(c, child_src);
        c->depth--;
        if (rc != 0)
            break;
    }
    bolt_cursor_close(cur);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

/* fsync path, then its directory (rule 6), through the I/O table. */
static int sync_file_and_dir(const struct bolt_os *os, const char *path)
{
    int fd = os->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = os->fsync(fd) == 0 ? 0 : -errno;
    os->close(fd);
    if (rc != 0)
        return rc;
    char *copy = strata__strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    fd = os->open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    strata_free(copy);
    if (fd < 0)
        return -errno;
    rc = os->fsync(fd) == 0 ? 0 : -errno;
    os->close(fd);
    return rc;
}

/* tx_max_size 0: no transactions at all, the file written bottom-up (bulkload.c). */
static int compact_bulk(bolt_tx *stx, const char *dst_path, uint32_t ps,
                        const bolt_compact_options *opt, bolt_compact_result *res)
{
    int fd = stx->db->os->open(dst_path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    res->src_size = bolt_tx_size(stx);
    int rc = bolt__bulk_write(stx, fd, ps, opt->progress, opt->progress_arg, &res->buckets,
                              &res->keys);
    stx->db->os->close(fd);
    return rc;
}

static int compact_copy(compact_ctx *c, bolt_tx *stx)
{
    c->res.src_size = bolt_tx_size(stx);
    int rc = bolt_visited_new(stx, &c->seen);
    if (rc == 0)
        rc = ctx_reserve(c, 2);
    if (rc == 0)
        rc = ctx_begin(c);
    if (rc == 0)
        rc = bolt_bucket_set_sequence(c->stack[0], bolt_bucket_sequence(bolt_tx_root(stx)));
    if (rc == 0)
        rc = copy_bucket(c, bolt_tx_root(stx));
    if (rc == 0) {
        bolt_tx *tx = c->tx;
        c->tx = NULL;
        rc = bolt_tx_commit(tx);
        if (rc == 0 && c->opt->progress != NULL)
            c->opt->progress(c->opt->progress_arg, c->res.keys); /* the last commit's too */
    }
    bolt_tx_rollback(c->tx);
    c->tx = NULL;
    bolt_visited_free(c->seen);
    c->seen = NULL;
    return rc;
}

/* The copy of what stx (a transaction of src) sees: bolt_compact and bolt_tx_compact. */
static int compact_from(bolt_db *src, bolt_tx *stx, const char *dst_path,
                        const bolt_compact_options *opt, bolt_compact_result *out)
{
    /* A caller built against an older, shorter struct gets defaults for the rest. */
    bolt_compact_options o = { sizeof o, 0, false, 0, NULL, NULL };
    if (opt != NULL) {
        size_t n = opt->size == 0 || opt->size > sizeof o ? sizeof o : opt->size;
        memcpy(&o, opt, n);
        o.size = sizeof o;
    }
    opt = &o;
    /* Rule 1: claim the name; bolt_open then initialises the empty file. */
    const struct bolt_os *os = src->os; /* rule 8 */
    int fd = os->open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    os->close(fd);
    bolt_options bo;
    bolt_options_init(&bo);
    bo.os = src->opt.os;
    bo.no_sync = opt->no_sync;
    bo.no_grow_sync = opt->no_sync;
    bo.page_size = opt->page_size != 0 ? opt->page_size : bolt_db_page_size(src);
    compact_ctx c;
    memset(&c, 0, sizeof c);
    c.opt = opt;
    int rc;
    if (opt->tx_max_size == 0) {
        rc = compact_bulk(stx, dst_path, bo.page_size, opt, &c.res);
    } else {
        rc = bolt_open(dst_path, &bo, &c.dst);
        if (rc == 0) {
            rc = compact_copy(&c, stx);
            int crc = bolt_close(c.dst);
            if (rc == 0)
                rc = crc;
        }
    }
    if (rc == 0)
        rc = sync_file_and_dir(os, dst_path);
    struct stat st;
    if (rc == 0 && stat(dst_path, &st) != 0)
        rc = -errno;
    strata_free(c.stack);
    strata_free(c.names);
    if (rc != 0) {
        unlink(dst_path);
        return rc;
    }
    c.res.dst_size = (uint64_t)st.st_size;
    if (out != NULL)
        *out = c.res;
    return 0;
}

int bolt_compact(bolt_db *src, const char *dst_path, const bolt_compact_options *opt,
                 bolt_compact_result *out)
{
    if (src == NULL || dst_path == NULL)
        return STRATA_EMISUSE;
    bolt_tx *stx;
    int rc = bolt_tx_begin(src, 0, &stx);
    if (rc != 0)
        return rc;
    rc = compact_from(src, stx, dst_path, opt, out);
    bolt_tx_rollback(stx);
    return rc;
}

int bolt_tx_compact(bolt_tx *src, const char *dst_path, const bolt_compact_options *opt,
                    bolt_compact_result *out)
{
    if (src == NULL || dst_path == NULL)
        return STRATA_EMISUSE;
    return compact_from(src->db, src, dst_path, opt, out);
}
