/*
 * stats.c: bucket statistics (bbolt's Bucket.Stats): pages by kind, keys,
 * depth, bytes allocated and used, buckets and inline buckets, summed over
 * a bucket and everything nested in it.
 *
 * Rules (bbolt 1.3.6's definitions, so the numbers compare one to one):
 *   1. A bucket counts itself (buckets += 1) and, when inline, inline += 1.
 *   2. A leaf's elements all count as keys, bucket elements included.
 *   3. Bytes used by a page: 16 + 16 * (count - 1) + the last element's
 *      pos + ksize (+ vsize for a leaf) -- the element array plus the data,
 *      as the writer packs them; 16 for an empty page.
 *   4. Inline buckets add their page's used bytes to inline_inuse only;
 *      paged buckets count their pages, overflow and used bytes, and
 *      allocated bytes are (pages + overflow) * page size.
 *   5. depth is the deepest tree of the bucket plus the deepest nested
 *      bucket's depth (nesting adds up); every other field is a sum.
 *   6. Pages are read as the transaction's meta sees them (a write
 *      transaction's uncommitted changes are not counted); every page is
 *      validated and entered once, and the recursion is bounded (64 levels
 *      a tree, 4096 levels in all), so a damaged or cyclic file is
 *      BOLT_ECORRUPT, never a loop or a stack overflow.
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

typedef struct stats_walk {
    bolt_tx *tx;
    unsigned char *seen; /* one bit per page id below the high-water mark */
    unsigned frames;     /* tree levels on the C stack, all buckets together */
} stats_walk;

/* Bounds the recursion whatever the nesting: about 1 MB of stack. */
#define STATS_MAX_FRAMES 4096

static void stats_add(bolt_stats *s, const bolt_stats *o)
{
    s->branch_pages += o->branch_pages;
    s->branch_overflow += o->branch_overflow;
    s->leaf_pages += o->leaf_pages;
    s->leaf_overflow += o->leaf_overflow;
    s->keys += o->keys;
    if (s->depth < o->depth)
        s->depth = o->depth;
    s->branch_alloc += o->branch_alloc;
    s->branch_inuse += o->branch_inuse;
    s->leaf_alloc += o->leaf_alloc;
    s->leaf_inuse += o->leaf_inuse;
    s->buckets += o->buckets;
    s->inline_buckets += o->inline_buckets;
    s->inline_inuse += o->inline_inuse;
}

/* Rule 3. */
static uint64_t page_used(const bolt__page *p)
{
    if (p->count == 0)
        return BOLT_PAGE_HEADER_SIZE;
    const unsigned char *e = p->data + BOLT_PAGE_HEADER_SIZE + (size_t)(p->count - 1) * 16;
    uint64_t used = BOLT_PAGE_HEADER_SIZE + 16 * (uint64_t)(p->count - 1);
    if (bolt__page_is_leaf(p))
        return used + bolt__ld32(e + BOLT_LEAF_POS_OFF) + bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) +
               bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
    return used + bolt__ld32(e + BOLT_BRANCH_POS_OFF) + bolt__ld32(e + BOLT_BRANCH_KSIZE_OFF);
}

static int bucket_stats(stats_walk *w, bolt_pgid root, const unsigned char *inline_data,
                        size_t inline_size, int nesting, bolt_stats *out);

static int tree_stats_in(stats_walk *w, bolt_pgid id, uint32_t level, int nesting, bolt_stats *s,
                         bolt_stats *sub);

/* The pages of a paged bucket's tree below id; sub-bucket stats into *sub. */
static int tree_stats(stats_walk *w, bolt_pgid id, uint32_t level, int nesting, bolt_stats *s,
                      bolt_stats *sub)
{
    w->frames++;
    int rc = tree_stats_in(w, id, level, nesting, s, sub);
    w->frames--;
    return rc;
}

static int tree_stats_in(stats_walk *w, bolt_pgid id, uint32_t level, int nesting, bolt_stats *s,
                         bolt_stats *sub)
{
    if (level >= BOLT_MAX_DEPTH)
        return bolt__corrupt(w->tx->db, id, "tree deeper than 64 levels");
    if (w->frames >= STATS_MAX_FRAMES)
        return bolt__corrupt(w->tx->db, id, "trees and buckets nested too deep");
    if (id < w->tx->meta.pgid && ((w->seen[id / 8] >> (id % 8)) & 1))
        return bolt__corrupt(w->tx->db, id, "page reached twice");
    bolt__page p;
    int rc = bolt__tx_page_committed(w->tx, id, &p);
    if (rc != 0)
        return rc;
    w->seen[id / 8] |= (unsigned char)(1u << (id % 8));
    if (s->depth < level + 1)
        s->depth = level + 1;
    if (bolt__page_is_leaf(&p)) {
        s->keys += p.count;
        s->leaf_pages++;
        s->leaf_overflow += p.overflow;
        s->leaf_inuse += page_used(&p);
        for (unsigned i = 0; i < p.count; i++) {
            uint32_t flags;
            bolt_val k, v;
            bolt__page_leaf_elem(&p, i, &flags, &k, &v);
            if (!(flags & BOLT_LEAF_BUCKET))
                continue;
            const unsigned char *val = v.data;
            bolt_stats child;
            rc = bucket_stats(w, bolt__ld64(val + BOLT_BUCKET_ROOT_OFF),
                              val + BOLT_BUCKET_HEADER_SIZE, v.size - BOLT_BUCKET_HEADER_SIZE,
                              nesting + 1, &child);
            if (rc != 0)
                return rc;
            stats_add(sub, &child);
        }
        return 0;
    }
    s->branch_pages++;
    s->branch_overflow += p.overflow;
    s->branch_inuse += page_used(&p);
    for (unsigned i = 0; i < p.count; i++) {
        rc = tree_stats(w, bolt__page_branch_elem(&p, i, NULL), level + 1, nesting, s, sub);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int bucket_stats(stats_walk *w, bolt_pgid root, const unsigned char *inline_data,
                        size_t inline_size, int nesting, bolt_stats *out)
{
    bolt_stats s = { 0 }, sub = { 0 };
    uint64_t ps = w->tx->db->page_size;
    if (nesting > BOLT_MAX_NESTING)
        return bolt__corrupt(w->tx->db, root, "buckets nested too deep");
    s.buckets = 1;
    if (root == 0) {
        s.inline_buckets = 1;
        s.depth = 1;
        if (inline_data == NULL) {
            /* Created by this write transaction: an empty inline page. */
            s.inline_inuse = BOLT_PAGE_HEADER_SIZE;
        } else {
            bolt__page p;
            const char *why;
            if (bolt__page_load(inline_data, inline_size, 0, &p, &why) != 0)
                return bolt__corrupt(w->tx->db, 0, why);
            if (!bolt__page_is_leaf(&p))
                return bolt__corrupt(w->tx->db, 0, "inline bucket page is not a leaf");
            s.keys = p.count;
            s.inline_inuse = page_used(&p);
        }
        *out = s;
        return 0;
    }
    int rc = tree_stats(w, root, 0, nesting, &s, &sub);
    if (rc != 0)
        return rc;
    s.branch_alloc = (s.branch_pages + s.branch_overflow) * ps;
    s.leaf_alloc = (s.leaf_pages + s.leaf_overflow) * ps;
    s.depth += sub.depth;
    uint32_t depth = s.depth;
    stats_add(&s, &sub);
    s.depth = depth;
    *out = s;
    return 0;
}

int bolt_bucket_stats(bolt_bucket *b, bolt_stats *out)
{
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    stats_walk w = { b->tx, NULL, 0 };
    w.seen = strata_calloc((size_t)(b->tx->meta.pgid / 8 + 1), 1);
    if (w.seen == NULL)
        return -ENOMEM;
    bolt_stats s;
    rc = bucket_stats(&w, b->root, b->inline_data, b->inline_size, 0, &s);
    strata_free(w.seen);
    if (rc == 0)
        *out = s;
    return rc;
}
