/*
 * compact.c: copy the live content of one database into another (bbolt's
 * Compact): the result has no free pages and, with fill percent 1.0 on
 * every nested bucket, nearly full pages.
 *
 * Rules:
 *   1. One read transaction on src for the whole copy, so the copy is a
 *      consistent snapshot; names and values are borrowed from its map.
 *   2. dst is committed whenever the bytes copied since the last commit
 *      pass tx_max_size; after a commit the destination bucket handles are
 *      stale, so they are opened again from the root by their names
 *      (path[]) before the next put.
 *   3. Buckets keep their sequences; the root bucket keeps bbolt's default
 *      fill percent, as bbolt's Compact does.
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

typedef struct compact_ctx {
    bolt_db *dst;
    bolt_tx *tx;
    uint64_t max, size;
    bolt_val path[BOLT_MAX_NESTING + 1];    /* bucket names from the top */
    bolt_bucket *dbk[BOLT_MAX_NESTING + 1]; /* dst handles for path[0..depth) */
    size_t resolved;                        /* dbk[0..resolved) are valid in tx */
} compact_ctx;

/* Rule 2: the dst bucket at path[0..depth), reopened after a commit. */
static int dst_bucket(compact_ctx *c, size_t depth, bolt_bucket **out)
{
    while (c->resolved < depth) {
        size_t i = c->resolved;
        bolt_bucket *parent = i == 0 ? bolt_tx_root(c->tx) : c->dbk[i - 1];
        int rc = bolt_bucket_open(parent, c->path[i], &c->dbk[i]);
        if (rc != 0)
            return rc == BOLT_NOTFOUND ? BOLT_EPANIC : rc;
        bolt_bucket_set_fill_percent(c->dbk[i], BOLT_MAX_FILL_PERCENT);
        c->resolved++;
    }
    *out = depth == 0 ? bolt_tx_root(c->tx) : c->dbk[depth - 1];
    return 0;
}

static int maybe_commit(compact_ctx *c, size_t add)
{
    if (c->max != 0 && c->size + add > c->max && c->size > 0) {
        int rc = bolt_tx_commit(c->tx);
        c->tx = NULL;
        if (rc == 0)
            rc = bolt_tx_begin(c->dst, BOLT_TX_WRITE, &c->tx);
        if (rc != 0)
            return rc;
        c->size = 0;
        c->resolved = 0;
    }
    c->size += add;
    return 0;
}

static int copy_bucket(compact_ctx *c, bolt_bucket *src, size_t depth)
{
    if (depth > BOLT_MAX_NESTING)
        return bolt__corrupt(src->tx->db, src->root, "buckets nested too deep (a cycle?)");
    bolt_cursor cur;
    bolt__cursor_init(&cur, src);
    bolt_val k, v;
    uint32_t flags;
    int rc;
    for (rc = bolt__cursor_first(&cur, &k, &v, &flags); rc == 0;
         rc = bolt__cursor_next(&cur, &k, &v, &flags)) {
        bolt_bucket *d;
        rc = maybe_commit(c, k.size + ((flags & BOLT_LEAF_BUCKET) ? 0 : v.size));
        if (rc == 0)
            rc = dst_bucket(c, depth, &d);
        if (rc != 0)
            return rc;
        if (!(flags & BOLT_LEAF_BUCKET)) {
            rc = bolt_bucket_put(d, k, v);
            if (rc != 0)
                return rc;
            continue;
        }
        bolt_bucket *child_src, *child_dst;
        rc = bolt_bucket_open(src, k, &child_src);
        if (rc == 0)
            rc = bolt_bucket_create(d, k, &child_dst);
        if (rc == 0)
            rc = bolt_bucket_set_sequence(child_dst, child_src->sequence);
        if (rc != 0)
            return rc;
        c->path[depth] = k;
        c->dbk[depth] = child_dst;
        bolt_bucket_set_fill_percent(child_dst, BOLT_MAX_FILL_PERCENT);
        c->resolved = depth + 1;
        rc = copy_bucket(c, child_src, depth + 1);
        if (rc != 0)
            return rc;
        if (c->resolved > depth)
            c->resolved = depth; /* dbk[depth] now names a finished sibling */
    }
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

int bolt_compact(bolt_db *src, bolt_db *dst, uint64_t tx_max_size)
{
    if (src == NULL || dst == NULL || src == dst)
        return STRATA_EMISUSE;
    bolt_tx *stx;
    int rc = bolt_tx_begin(src, 0, &stx);
    if (rc != 0)
        return rc;
    compact_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        bolt_tx_rollback(stx);
        return -ENOMEM;
    }
    c->dst = dst;
    c->max = tx_max_size;
    rc = bolt_tx_begin(dst, BOLT_TX_WRITE, &c->tx);
    if (rc == 0) {
        bolt_cursor probe;
        bolt_val k;
        bolt__cursor_init(&probe, bolt_tx_root(c->tx));
        if (bolt__cursor_first(&probe, &k, NULL, NULL) == 0)
            rc = BOLT_EBUCKETEXISTS;
    }
    if (rc == 0)
        rc = copy_bucket(c, bolt_tx_root(stx), 0);
    if (rc == 0) {
        rc = bolt_tx_commit(c->tx);
        c->tx = NULL;
    }
    bolt_tx_rollback(c->tx);
    bolt_tx_rollback(stx);
    free(c);
    return rc;
}
