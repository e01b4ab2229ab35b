/*
 * stats.c: bucket statistics, bbolt's Bucket.Stats field for field, so the
 * numbers can be compared with bbolt's for the same file.
 *
 * Rules:
 *   1. Only pages are walked (the committed state the tx sees), with each
 *      page validated; an inline bucket counts its in-use bytes only.
 *   2. A leaf page's in-use bytes run to the end of its last element's
 *      value (bbolt's formula), a branch page's to its last key.
 *   3. Sub-bucket statistics are added, and the deepest sub-bucket's depth
 *      adds to this bucket's own depth. Sub-buckets of inline buckets are
 *      not visited (bbolt does not).
 */
#include "bolt_int.h"

static void stats_add(bolt_bucket_stats *s, const bolt_bucket_stats *o)
{
    s->branch_page_n += o->branch_page_n;
    s->branch_overflow_n += o->branch_overflow_n;
    s->leaf_page_n += o->leaf_page_n;
    s->leaf_overflow_n += o->leaf_overflow_n;
    s->key_n += o->key_n;
    if (s->depth < o->depth)
        s->depth = o->depth;
    s->branch_alloc += o->branch_alloc;
    s->branch_inuse += o->branch_inuse;
    s->leaf_alloc += o->leaf_alloc;
    s->leaf_inuse += o->leaf_inuse;
    s->bucket_n += o->bucket_n;
    s->inline_bucket_n += o->inline_bucket_n;
    s->inline_bucket_inuse += o->inline_bucket_inuse;
}

static int bucket_stats(bolt_tx *tx, bolt_pgid root, const unsigned char *inl, size_t inl_size,
                        int nesting, bolt_bucket_stats *out);

/* Rule 2: bytes from the page start to the end of the last element's data. */
static uint64_t page_used(const bolt__page *p)
{
    if (p->count == 0)
        return BOLT_PAGE_HEADER_SIZE;
    bolt_val k, v = { NULL, 0 };
    if (bolt__page_is_leaf(p))
        bolt__page_leaf_elem(p, p->count - 1u, NULL, &k, &v);
    else
        bolt__page_branch_elem(p, p->count - 1u, &k);
    const unsigned char *end = (const unsigned char *)k.data + k.size + v.size;
    return (uint64_t)(end - p->data);
}

static int visit(bolt_tx *tx, const bolt__page *p, int depth, bool inline_bucket, int nesting,
                 bolt_bucket_stats *s, bolt_bucket_stats *sub)
{
    if (bolt__page_is_leaf(p)) {
        s->key_n += p->count;
        if (inline_bucket) {
            s->inline_bucket_inuse += page_used(p);
        } else {
            s->leaf_page_n++;
            s->leaf_inuse += page_used(p);
            s->leaf_overflow_n += p->overflow;
            for (unsigned i = 0; i < p->count; i++) {
                uint32_t f;
                bolt_val v;
                bolt__page_leaf_elem(p, i, &f, NULL, &v);
                if (!(f & BOLT_LEAF_BUCKET))
                    continue;
                const unsigned char *val = v.data;
                bolt_pgid r = bolt__ld64(val + BOLT_BUCKET_ROOT_OFF);
                bolt_bucket_stats cs = { 0 };
                int rc = bucket_stats(tx, r, val + BOLT_BUCKET_HEADER_SIZE,
                                      v.size - BOLT_BUCKET_HEADER_SIZE, nesting + 1, &cs);
                if (rc != 0)
                    return rc;
                stats_add(sub, &cs);
            }
        }
    } else {
        s->branch_page_n++;
        s->branch_inuse += page_used(p);
        s->branch_overflow_n += p->overflow;
    }
    if ((uint64_t)depth + 1 > s->depth)
        s->depth = (uint64_t)depth + 1;
    if (bolt__page_is_leaf(p))
        return 0;
    if (depth + 1 >= BOLT_MAX_DEPTH)
        return bolt__corrupt(tx->db, p->id, "tree deeper than 64 levels (a cycle?)");
    for (unsigned i = 0; i < p->count; i++) {
        bolt__page c;
        int rc = bolt__tx_page(tx, bolt__page_branch_elem(p, i, NULL), &c);
        if (rc == 0)
            rc = visit(tx, &c, depth + 1, false, nesting, s, sub);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int bucket_stats(bolt_tx *tx, bolt_pgid root, const unsigned char *inl, size_t inl_size,
                        int nesting, bolt_bucket_stats *out)
{
    if (nesting > BOLT_MAX_NESTING)
        return bolt__corrupt(tx->db, root, "buckets nested too deep (a cycle?)");
    bolt_bucket_stats s, sub;
    memset(&s, 0, sizeof s);
    memset(&sub, 0, sizeof sub);
    s.bucket_n = 1;
    bolt__page p;
    int rc;
    if (root == 0) {
        s.inline_bucket_n = 1;
        const char *why;
        if (bolt__page_load(inl, inl_size, 0, &p, &why) != 0)
            return bolt__corrupt(tx->db, 0, why);
    } else {
        rc = bolt__tx_page(tx, root, &p);
        if (rc != 0)
            return rc;
    }
    rc = visit(tx, &p, 0, root == 0, nesting, &s, &sub);
    if (rc != 0)
        return rc;
    uint64_t ps = tx->db->page_size;
    s.branch_alloc = (s.branch_page_n + s.branch_overflow_n) * ps;
    s.leaf_alloc = (s.leaf_page_n + s.leaf_overflow_n) * ps;
    s.depth += sub.depth;
    stats_add(&s, &sub);
    *out = s;
    return 0;
}

int bolt_bucket_stats_get(bolt_bucket *b, bolt_bucket_stats *out)
{
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    return bucket_stats(b->tx, b->root, b->inline_data, b->inline_size, 0, out);
}
