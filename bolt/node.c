/*
 * node.c: the deserialized node (bbolt's node.go): an in-memory copy of a
 * branch or leaf page that a write transaction changes, then rebalances,
 * splits and writes to new pages at commit.
 *
 * Rules:
 *   1. A node's inodes are in strictly increasing key order; their keys and
 *      values point into the map or the tx arena (stable for the tx).
 *   2. A node is materialized only through its parent (top-down), so every
 *      live node is reachable from its bucket's root_node through
 *      inode.child pointers, and inode.child->parent is that node.
 *   3. n->key is the separator that names n in its parent (NULL for a root
 *      or a node made by a split). At spill the parent's entry found by
 *      n->key is replaced by the node's new first key and page, so every
 *      branch key equals its child's first key exactly, child 0 included.
 *   4. Spill writes children before their parent (page ids grow upward);
 *      every materialized node is rewritten to newly allocated pages and
 *      its old page is freed as pending (copy-on-write).
 *   5. Split (docs/format.md §10): a node with more than 4 elements whose image
 *      reaches page_size is cut at the first index in [2, len-3] where the
 *      running size passes page_size * fill_percent. A node that only grew
 *      at the right edge of the tree is cut at a full page instead, so
 *      sequential loads fill their pages.
 *   6. Rebalance: a node at or below page_size/4 or with too few keys is
 *      merged with a sibling (or removed when empty, or a single-child root
 *      collapsed); merged nodes are marked dead and never used again.
 *   7. A node read from the file is accepted only with its keys in order
 *      and inside its parent's separator range (an upper bound inherited
 *      down the path), so no change can break rule 1 on a damaged file.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

#ifndef NDEBUG
/*
 * Rules 1 and 2 for a whole node: keys strictly increasing and non-empty,
 * materialized children pointing back at n, no children under a leaf.
 * Only for assert() (O(n); run once per node at spill).
 */
static bool node_ok(const bolt__node *n)
{
    if (n->dp != NULL)
        return n->n == 0 && n->leaf; /* page mode: the dirty page holds the elements */
    for (size_t i = 0; i < n->n; i++) {
        const bolt__inode *in = &n->inodes[i];
        if (in->ksize == 0 || in->key == NULL)
            return false;
        if (i > 0 &&
            bolt__key_cmp(n->inodes[i - 1].key, n->inodes[i - 1].ksize, in->key, in->ksize) >= 0)
            return false;
        if (in->child != NULL && (n->leaf || in->child->parent != n))
            return false;
    }
    return true;
}

/* Rule 1 around index i only (O(1), after every put). */
static bool node_ok_at(const bolt__node *n, size_t i)
{
    const bolt__inode *a = &n->inodes[i];
    if (i > 0 && bolt__key_cmp(n->inodes[i - 1].key, n->inodes[i - 1].ksize, a->key, a->ksize) >= 0)
        return false;
    if (i + 1 < n->n &&
        bolt__key_cmp(a->key, a->ksize, n->inodes[i + 1].key, n->inodes[i + 1].ksize) >= 0)
        return false;
    return a->ksize > 0;
}
#endif

static bolt__node *node_new(bolt_bucket *b, bolt__node *parent, bool leaf)
{
    bolt_tx *tx = b->tx;
    tx->stats.node_count++;
    if (b->nnodes == b->capnodes) {
        size_t cap = b->capnodes ? b->capnodes * 2 : 8;
        bolt__node **a = strata_realloc(b->nodes, cap * sizeof *a);
        if (a == NULL)
            return NULL;
        b->nodes = a;
        b->capnodes = cap;
    }
    bolt__node *n = strata_calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->bucket = b;
    n->parent = parent;
    n->leaf = leaf;
    n->next_alloc = tx->all_nodes;
    tx->all_nodes = n;
    b->nodes[b->nnodes++] = n;
    return n;
}

static int node_reserve(bolt__node *n, size_t need)
{
    if (need <= n->cap)
        return 0;
    size_t cap = n->cap ? n->cap : 8;
    while (cap < need)
        cap *= 2;
    bolt__inode *a = strata_realloc(n->inodes, cap * sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    n->inodes = a;
    n->cap = cap;
    return 0;
}

int bolt__node_read(bolt_bucket *b, const bolt__page *p, bolt__node *parent, bolt__node **out)
{
    bolt__node *n = node_new(b, parent, bolt__page_is_leaf(p));
    if (n == NULL || node_reserve(n, p->count) != 0)
        return -ENOMEM;
    for (unsigned i = 0; i < p->count; i++) {
        bolt__inode *in = &n->inodes[i];
        bolt_val k, v = { NULL, 0 };
        memset(in, 0, sizeof *in);
        if (n->leaf) {
            bolt__page_leaf_elem(p, i, &in->flags, &k, &v);
        } else {
            in->pgid = bolt__page_branch_elem(p, i, &k);
        }
        in->key = k.data;
        in->ksize = (uint32_t)k.size;
        in->value = v.data;
        in->vsize = (uint32_t)v.size;
        /* Rule 1 for bytes from the file: page checks do not cover order. */
        if (i > 0 &&
            bolt__key_cmp(n->inodes[i - 1].key, n->inodes[i - 1].ksize, in->key, in->ksize) >= 0) {
            n->n = 0;
            n->dead = true;
            return bolt__corrupt(b->tx->db, p->id, "keys out of order");
        }
    }
    n->n = p->count;
    n->pgid = p->id;
    n->overflow = p->overflow;
    *out = n;
    return 0;
}

int bolt__node_child(bolt__node *n, size_t i, bolt__node **out)
{
    assert(!n->leaf && i < n->n);
    bolt__inode *in = &n->inodes[i];
    if (in->child != NULL) {
        *out = in->child;
        return 0;
    }
    bolt_bucket *b = n->bucket;
    if (b->root == 0)
        return bolt__corrupt(b->tx->db, in->pgid, "inline bucket page is a branch");
    bolt__page p;
    int rc = bolt__tx_page(b->tx, in->pgid, &p);
    if (rc != 0)
        return rc;
    bolt__node *c;
    rc = bolt__node_read(b, &p, n, &c);
    if (rc != 0)
        return rc;
    bolt__dpage *d = bolt__dpage_find(b->tx, in->pgid);
    if (d != NULL) {
        /* dirty.c rule 5: the dirty page becomes this node (its bytes stay). */
        d->converted = true;
        c->right_edge = d->right_edge;
        c->mid_insert = d->mid_insert;
        c->unbalanced = d->unbalanced;
    }
    c->key = in->key; /* rule 3 */
    c->ksize = in->ksize;
    /*
     * Rule 7: the child's keys must lie in [separator i, separator i+1)
     * (the parent's own upper bound for the last child), or changes could
     * put the parent's keys out of order.
     */
    if (i + 1 < n->n) {
        c->hi = n->inodes[i + 1].key;
        c->hisize = n->inodes[i + 1].ksize;
    } else {
        c->hi = n->hi;
        c->hisize = n->hisize;
    }
    if (c->n > 0 && d == NULL) {
        /*
         * (A dirty page was checked when copied, dirty.c rule 4; since then
         * it changed as a node would: a key below separator 0 may be first.)
         */
        const bolt__inode *first = &c->inodes[0], *last = &c->inodes[c->n - 1];
        if (bolt__key_cmp(first->key, first->ksize, in->key, in->ksize) < 0 ||
            (c->hi != NULL && bolt__key_cmp(last->key, last->ksize, c->hi, c->hisize) >= 0)) {
            c->n = 0;
            c->dead = true;
            return bolt__corrupt(b->tx->db, in->pgid, "keys outside the parent's separator range");
        }
    }
    in->child = c;
    *out = c;
    return 0;
}

int bolt__node_unpage(bolt__node *n)
{
    bolt__dpage *d = n->dp;
    if (d == NULL)
        return 0;
    bolt__page p;
    bolt__page_fill(d->buf, d->cap, d->id, &p);
    size_t cnt = p.count;
    if (node_reserve(n, cnt) != 0)
        return -ENOMEM;
    for (unsigned i = 0; i < cnt; i++) {
        bolt__inode *in = &n->inodes[i];
        bolt_val k, v;
        memset(in, 0, sizeof *in);
        bolt__page_leaf_elem(&p, i, &in->flags, &k, &v);
        in->key = k.data;
        in->ksize = (uint32_t)k.size;
        in->value = v.data;
        in->vsize = (uint32_t)v.size;
    }
    n->n = cnt;
    n->right_edge = d->right_edge;
    n->mid_insert = d->mid_insert;
    n->unbalanced = n->unbalanced || d->unbalanced;
    d->converted = true;
    d->node = NULL;
    n->dp = NULL;
    return 0;
}

/* The bucket's root node, materialized from its root page if need be. */
static int root_node(bolt_bucket *b, bolt__node **out)
{
    if (b->root_node == NULL) {
        bolt__page p;
        int rc = bolt__tx_page(b->tx, b->root, &p);
        if (rc == 0)
            rc = bolt__node_read(b, &p, NULL, &b->root_node);
        if (rc != 0)
            return rc;
    }
    *out = b->root_node;
    return 0;
}

int bolt__node_attach_at(bolt__node *n, size_t i, bolt__dpage *d, size_t level)
{
    bolt_bucket *b = n->bucket;
    /* Loop invariant: child i of n is the page at `level` of d's path. */
    for (; level < d->depth; level++) {
        if (n->leaf || i >= n->n || n->inodes[i].pgid != d->path_id[level])
            return BOLT_EPANIC;
        int rc = bolt__node_child(n, i, &n);
        if (rc != 0)
            return rc;
        i = d->path[level];
    }
    if (n->leaf || i >= n->n || n->inodes[i].pgid != d->id || n->inodes[i].child != NULL)
        return BOLT_EPANIC; /* branches changed before commit: they must not */
    bolt__node *c = node_new(b, n, true);
    if (c == NULL)
        return -ENOMEM;
    c->dp = d;
    c->pgid = d->id;
    c->overflow = 0;
    c->key = n->inodes[i].key; /* rule 3 */
    c->ksize = n->inodes[i].ksize;
    c->right_edge = d->right_edge;
    c->mid_insert = d->mid_insert;
    c->unbalanced = d->unbalanced;
    n->inodes[i].child = c;
    d->node = c;
    return 0;
}

/* dirty.c rule 6 for one dirty page: a page-mode node under its parent. */
static int attach_one(bolt__dpage *d)
{
    bolt__node *root;
    int rc = root_node(d->bucket, &root);
    if (rc != 0)
        return rc;
    if (root->pgid != d->path_id[0])
        return BOLT_EPANIC;
    return bolt__node_attach_at(root, d->path[0], d, 1);
}

int bolt__node_attach_dirty(bolt_tx *tx)
{
    size_t threshold = tx->db->page_size / 4;
    for (size_t i = 0; i < tx->dpt_cap; i++) {
        bolt__dpage *d = tx->dpt[i].d;
        if (d == NULL || d->converted || d->node != NULL || d->bucket->deleted)
            continue;
        size_t count = bolt__dpage_count(d);
        /* node_rebalance's test: would this leaf merge? */
        bool merges = d->unbalanced && !(d->live > threshold && count > 1);
        bolt__node *root;
        int rc = merges || count == 0 ? attach_one(d) : root_node(d->bucket, &root);
        if (rc != 0)
            return rc;
    }
    tx->dpt_closed = true;
    return 0;
}

size_t bolt__node_search(const bolt__node *n, const void *key, size_t ksize, bool *exact)
{
    size_t lo = 0, hi = n->n;
    *exact = false;
    if (hi > 0) {
        /* The last element first: appends land past it (cursor.c's search). */
        const bolt__inode *last = &n->inodes[hi - 1];
        int c = bolt__key_cmp(last->key, last->ksize, key, ksize);
        if (c < 0)
            return hi;
        if (c == 0) {
            *exact = true;
            return hi - 1;
        }
        hi--;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bolt__key_cmp(n->inodes[mid].key, n->inodes[mid].ksize, key, ksize);
        if (c < 0) {
            lo = mid + 1;
        } else {
            if (c == 0)
                *exact = true;
            hi = mid;
        }
    }
    return lo;
}

int bolt__node_put(bolt__node *n, const void *old_key, size_t old_ksize, const void *key,
                   size_t ksize, const void *value, size_t vsize, bolt_pgid pgid, uint32_t flags,
                   bolt__node *child, bool edge)
{
    bool exact;
    size_t i = bolt__node_search(n, old_key, old_ksize, &exact);
    if (!exact) {
        if (node_reserve(n, n->n + 1) != 0)
            return -ENOMEM;
        memmove(&n->inodes[i + 1], &n->inodes[i], (n->n - i) * sizeof *n->inodes);
        n->n++;
        if (edge && i + 1 == n->n)
            n->right_edge = true;
        else
            n->mid_insert = true;
    }
    bolt__inode *in = &n->inodes[i];
    in->flags = flags;
    in->key = key;
    in->ksize = (uint32_t)ksize;
    in->value = value;
    in->vsize = (uint32_t)vsize;
    in->pgid = pgid;
    in->child = child;
    assert(node_ok_at(n, i));
    return 0;
}

static void node_del_at(bolt__node *n, size_t i)
{
    memmove(&n->inodes[i], &n->inodes[i + 1], (n->n - i - 1) * sizeof *n->inodes);
    n->n--;
    n->unbalanced = true;
}

void bolt__node_del(bolt__node *n, const void *key, size_t ksize)
{
    bool exact;
    size_t i = bolt__node_search(n, key, ksize, &exact);
    if (exact)
        node_del_at(n, i);
}

static size_t elem_size(const bolt__node *n, const bolt__inode *in)
{
    return 16 + (size_t)in->ksize + (n->leaf ? (size_t)in->vsize : 0);
}

size_t bolt__node_size(const bolt__node *n)
{
    size_t sz = BOLT_PAGE_HEADER_SIZE;
    for (size_t i = 0; i < n->n; i++)
        sz += elem_size(n, &n->inodes[i]);
    return sz;
}

/* docs/format.md §5 packing: elements first, then key/value bytes in order. */
void bolt__node_write(const bolt__node *n, unsigned char *buf)
{
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, n->leaf ? BOLT_PAGE_LEAF : BOLT_PAGE_BRANCH);
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n->n);
    size_t data = BOLT_PAGE_HEADER_SIZE + 16 * n->n;
    for (size_t i = 0; i < n->n; i++) {
        const bolt__inode *in = &n->inodes[i];
        size_t e = BOLT_PAGE_HEADER_SIZE + 16 * i;
        uint32_t pos = (uint32_t)(data - e);
        if (n->leaf) {
            bolt__st32(buf + e + BOLT_LEAF_FLAGS_OFF, in->flags);
            bolt__st32(buf + e + BOLT_LEAF_POS_OFF, pos);
            bolt__st32(buf + e + BOLT_LEAF_KSIZE_OFF, in->ksize);
            bolt__st32(buf + e + BOLT_LEAF_VSIZE_OFF, in->vsize);
        } else {
            bolt__st32(buf + e + BOLT_BRANCH_POS_OFF, pos);
            bolt__st32(buf + e + BOLT_BRANCH_KSIZE_OFF, in->ksize);
            bolt__st64(buf + e + BOLT_BRANCH_PGID_OFF, in->pgid);
        }
        memcpy(buf + data, in->key, in->ksize);
        data += in->ksize;
        if (n->leaf && in->vsize > 0) {
            memcpy(buf + data, in->value, in->vsize);
            data += in->vsize;
        }
    }
}

int bolt__node_free(bolt__node *n)
{
    if (n->pgid == 0)
        return 0;
    bolt_tx *tx = n->bucket->tx;
    int rc = bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, n->pgid, n->overflow, false);
    n->pgid = 0;
    return rc;
}

bolt__node *bolt__node_root(bolt__node *n)
{
    while (n->parent != NULL)
        n = n->parent;
    return n;
}

size_t bolt__split_point(const void *arr, size_t start, size_t len,
                         size_t (*span)(const void *arr, size_t i), size_t ps, size_t t)
{
    if (len <= 4)
        return len;
    size_t sz = BOLT_PAGE_HEADER_SIZE, i;
    for (i = 0; i < len; i++) {
        sz += span(arr, start + i);
        if (sz >= ps)
            break;
    }
    if (i == len)
        return len; /* fits in one page */
    size_t idx = 0;
    sz = BOLT_PAGE_HEADER_SIZE;
    for (i = 0; i + 2 < len; i++) {
        idx = i;
        size_t el = span(arr, start + i);
        if (i >= 2 && sz + el > t)
            break;
        sz += el;
    }
    return idx;
}

static size_t inode_span_leaf(const void *arr, size_t i)
{
    const bolt__inode *a = arr;
    return 16 + (size_t)a[i].ksize + a[i].vsize;
}

static size_t inode_span_branch(const void *arr, size_t i)
{
    const bolt__inode *a = arr;
    return 16 + (size_t)a[i].ksize;
}

/*
 * Rule 5 on the slice a[0..len): bbolt's splitIndex with threshold t, or
 * len when the slice stays whole (at most 4 elements, or under a page).
 */
static size_t split_point(const bolt__inode *a, size_t len, bool leaf, size_t ps, size_t t)
{
    return bolt__split_point(a, 0, len, leaf ? inode_span_leaf : inode_span_branch, ps, t);
}

size_t bolt__split_threshold(const bolt_bucket *b, bool right_edge, bool mid_insert)
{
    double fill = b->fill_percent;
    if (fill < BOLT_MIN_FILL_PERCENT)
        fill = BOLT_MIN_FILL_PERCENT;
    if (fill > BOLT_MAX_FILL_PERCENT)
        fill = BOLT_MAX_FILL_PERCENT;
    if (right_edge && !mid_insert)
        fill = BOLT_MAX_FILL_PERCENT;
    return (size_t)((double)b->tx->db->page_size * fill);
}

/*
 * Cut n into nodes per rule 5 in one pass (linear: a big node appended to
 * in one transaction is not copied once per cut). n keeps the first piece;
 * the others become its right siblings under n's parent (a new root branch
 * when n was the root). *pieces lists them all, n first.
 */
static int node_split(bolt__node *n, bolt__node ***pieces, size_t *npieces)
{
    bolt_bucket *b = n->bucket;
    size_t ps = b->tx->db->page_size;
    size_t t = bolt__split_threshold(b, n->right_edge, n->mid_insert);
    /* Count the pieces first. */
    size_t cnt = 0;
    for (size_t start = 0; start < n->n || cnt == 0;) {
        size_t len = split_point(&n->inodes[start], n->n - start, n->leaf, ps, t);
        cnt++;
        start += len;
        if (len == 0)
            break; /* an empty node: one piece */
    }
    bolt__node **out = strata_malloc(cnt * sizeof *out);
    if (out == NULL)
        return -ENOMEM;
    out[0] = n;
    if (cnt > 1 && n->parent == NULL) {
        bolt__node *p = node_new(b, NULL, false);
        if (p == NULL) {
            strata_free(out);
            return -ENOMEM;
        }
        n->parent = p;
        p->right_edge = n->right_edge;
        p->mid_insert = n->mid_insert;
        /* The new root learns of its children when they spill (rule 3). */
    }
    size_t first = split_point(n->inodes, n->n, n->leaf, ps, t);
    size_t start = first;
    for (size_t k = 1; k < cnt; k++) {
        size_t len = split_point(&n->inodes[start], n->n - start, n->leaf, ps, t);
        bolt__node *r = node_new(b, n->parent, n->leaf);
        if (r == NULL || node_reserve(r, len) != 0) {
            strata_free(out);
            return -ENOMEM;
        }
        memcpy(r->inodes, &n->inodes[start], len * sizeof *r->inodes);
        r->n = len;
        for (size_t i = 0; i < len; i++)
            if (r->inodes[i].child != NULL)
                r->inodes[i].child->parent = r;
        r->right_edge = n->right_edge;
        r->mid_insert = n->mid_insert;
        out[k] = r;
        start += len;
    }
    n->n = first;
    *pieces = out;
    *npieces = cnt;
    return 0;
}

/* Write a page-mode leaf: its dirty page, packed, into a new page (dirty.c rule 6). */
static int dpage_write_one(bolt__node *n)
{
    bolt_tx *tx = n->bucket->tx;
    bolt__dpage *d = n->dp;
    if (bolt__dpage_count(d) == 0)
        return BOLT_EPANIC; /* an emptied leaf is unbalanced: rebalance removed it */
    int rc = bolt__node_free(n);
    if (rc != 0)
        return rc;
    bolt_pgid id;
    rc = bolt__dpage_commit(tx, d, &id);
    if (rc != 0)
        return rc;
    unsigned char *buf = d->buf;
    n->pgid = id;
    n->overflow = 0;
    n->spilled = true;
    if (n->parent != NULL) {
        bolt__page p;
        bolt_val first;
        bolt__page_fill(buf, tx->db->page_size, id, &p);
        bolt__page_leaf_elem(&p, 0, NULL, &first, NULL);
        const void *key = n->key != NULL ? (const void *)n->key : first.data;
        size_t ksize = n->key != NULL ? n->ksize : first.size;
        rc = bolt__node_put(n->parent, key, ksize, first.data, first.size, NULL, 0, id, 0, n,
                            n->right_edge && !n->mid_insert);
        if (rc != 0)
            return rc;
        n->key = first.data;
        n->ksize = (uint32_t)first.size;
    }
    return 0;
}

static int node_write_one(bolt__node *n)
{
    bolt_tx *tx = n->bucket->tx;
    size_t ps = tx->db->page_size;
    if (n->dp != NULL)
        return dpage_write_one(n);
    if (n->n >= 0xFFFF)
        return BOLT_EPANIC;
    if (!n->leaf && n->n == 0)
        return BOLT_EPANIC; /* docs/format.md §4: never write an empty branch */
    int rc = bolt__node_free(n);
    if (rc != 0)
        return rc;
    size_t size = bolt__node_size(n);
    /* docs/format.md §5: bbolt can read pos + ksize + vsize <= 2^31 - 1 only. */
    if (size - BOLT_PAGE_HEADER_SIZE > BOLT_MAX_ELEM_SPAN)
        return BOLT_EVALUETOOLARGE;
    bolt_pgid id;
    unsigned char *buf;
    tx->alloc_short = !n->leaf; /* tx.c rule 9: a branch is rewritten by most commits */
    rc = bolt__tx_allocate(tx, (size + ps - 1) / ps, &id, &buf);
    tx->alloc_short = false;
    if (rc != 0)
        return rc;
    bolt__node_write(n, buf);
    n->pgid = id;
    n->overflow = (uint32_t)((size + ps - 1) / ps - 1);
    n->spilled = true;
    if (n->parent != NULL) {
        const void *key = n->key != NULL ? (const void *)n->key : n->inodes[0].key;
        size_t ksize = n->key != NULL ? n->ksize : n->inodes[0].ksize;
        if (n->n == 0)
            return BOLT_EPANIC; /* an empty child is removed by rebalance */
        rc = bolt__node_put(n->parent, key, ksize, n->inodes[0].key, n->inodes[0].ksize, NULL, 0,
                            id, 0, n, n->right_edge && !n->mid_insert);
        if (rc != 0)
            return rc;
        n->key = n->inodes[0].key;
        n->ksize = n->inodes[0].ksize;
    }
    return 0;
}

int bolt__node_spill(bolt__node *n)
{
    if (n->spilled)
        return 0;
    if (n->dp != NULL && !bolt__dpage_fits(n->bucket->tx, n->dp)) {
        int rc = bolt__node_unpage(n); /* dirty.c rule 8: it splits, as a node */
        if (rc != 0)
            return rc;
    }
    if (n->dp != NULL) {
        /* A page-mode leaf that fits its page: no split. */
        n->bucket->tx->stats.spill++;
        int rc = node_write_one(n);
        if (rc != 0)
            return rc;
        if (n->parent != NULL && n->parent->pgid == 0 && !n->parent->spilled)
            return bolt__node_spill(n->parent);
        return 0;
    }
    /* Rule 4: children first, in key order. */
    size_t nk = 0;
    for (size_t i = 0; i < n->n; i++)
        if (!n->leaf && n->inodes[i].child != NULL)
            nk++;
    assert(node_ok(n));
    if (nk > 0) {
        bolt__node **kids = strata_malloc(nk * sizeof *kids);
        if (kids == NULL)
            return -ENOMEM;
        nk = 0;
        for (size_t i = 0; i < n->n; i++)
            if (n->inodes[i].child != NULL)
                kids[nk++] = n->inodes[i].child;
        for (size_t i = 0; i < nk; i++) {
            int rc = bolt__node_spill(kids[i]);
            if (rc != 0) {
                strata_free(kids);
                return rc;
            }
        }
        strata_free(kids);
    }
    bolt__node **pieces;
    size_t np;
    int rc = node_split(n, &pieces, &np);
    if (rc != 0)
        return rc;
    n->bucket->tx->stats.split += np - 1;
    n->bucket->tx->stats.spill += np;
    /* Loop invariant: pieces[0..i) are written and named in the parent. */
    for (size_t i = 0; i < np && rc == 0; i++)
        rc = node_write_one(pieces[i]);
    strata_free(pieces);
    if (rc != 0)
        return rc;
    if (n->parent != NULL && n->parent->pgid == 0 && !n->parent->spilled)
        return bolt__node_spill(n->parent);
    return 0;
}

static size_t child_index(const bolt__node *p, const bolt__node *c)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->inodes[i].child == c)
            return i;
    return p->n;
}

/* Move src's inodes to the end of dst, re-parenting materialized children. */
static int node_absorb(bolt__node *dst, bolt__node *src)
{
    int urc = bolt__node_unpage(dst);
    if (urc == 0)
        urc = bolt__node_unpage(src);
    if (urc != 0)
        return urc;
    /* Siblings from a damaged file may overlap; merged they must not. */
    if (dst->n > 0 && src->n > 0 &&
        bolt__key_cmp(dst->inodes[dst->n - 1].key, dst->inodes[dst->n - 1].ksize,
                      src->inodes[0].key, src->inodes[0].ksize) >= 0)
        return bolt__corrupt(dst->bucket->tx->db, src->pgid, "sibling key ranges overlap");
    if (node_reserve(dst, dst->n + src->n) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++)
        if (src->inodes[i].child != NULL)
            src->inodes[i].child->parent = dst;
    if (src->n > 0)
        memcpy(&dst->inodes[dst->n], src->inodes, src->n * sizeof *src->inodes);
    dst->n += src->n;
    src->n = 0;
    /* src is dst's right neighbour: dst now reaches src's upper bound (rule 7). */
    dst->hi = src->hi;
    dst->hisize = src->hisize;
    return 0;
}

/* Rule 6, bbolt's node.rebalance. */
static int node_rebalance(bolt__node *n)
{
    if (n->dead || !n->unbalanced)
        return 0;
    n->unbalanced = false;
    bolt_bucket *b = n->bucket;
    size_t threshold = b->tx->db->page_size / 4;
    size_t min_keys = n->leaf ? 1 : 2;
    if (n->dp != NULL) {
        if (n->dp->live > threshold && bolt__dpage_count(n->dp) > min_keys)
            return 0;
        int rc = bolt__node_unpage(n); /* it merges: as an ordinary node */
        if (rc != 0)
            return rc;
    }
    if (bolt__node_size(n) > threshold && n->n > min_keys)
        return 0;
    b->tx->stats.rebalance++;
    int rc;
    if (n->parent == NULL) {
        if (!n->leaf && n->n == 1) {
            bolt__node *child;
            rc = bolt__node_child(n, 0, &child);
            if (rc != 0)
                return rc;
            n->n = 0;
            n->leaf = child->leaf;
            rc = node_absorb(n, child);
            if (rc != 0)
                return rc;
            child->parent = NULL;
            child->dead = true;
            return bolt__node_free(child);
        }
        return 0;
    }
    bolt__node *p = n->parent;
    size_t idx = child_index(p, n);
    if (idx == p->n)
        return BOLT_EPANIC;
    if (n->n == 0) {
        node_del_at(p, idx);
        n->dead = true;
        rc = bolt__node_free(n);
        if (rc != 0)
            return rc;
        return node_rebalance(p);
    }
    if (p->n < 2)
        return 0; /* a single-child parent (not written by strata) stays as it is */
    if (idx == 0) {
        bolt__node *target;
        rc = bolt__node_child(p, 1, &target);
        if (rc == 0 && target->leaf != n->leaf)
            rc = bolt__corrupt(b->tx->db, target->pgid, "siblings at different depths");
        if (rc == 0)
            rc = node_absorb(n, target);
        if (rc != 0)
            return rc;
        node_del_at(p, 1);
        target->dead = true;
        rc = bolt__node_free(target);
    } else {
        bolt__node *target;
        rc = bolt__node_child(p, idx - 1, &target);
        if (rc == 0 && target->leaf != n->leaf)
            rc = bolt__corrupt(b->tx->db, target->pgid, "siblings at different depths");
        if (rc == 0)
            rc = node_absorb(target, n);
        if (rc != 0)
            return rc;
        node_del_at(p, idx);
        n->dead = true;
        rc = bolt__node_free(n);
    }
    if (rc != 0)
        return rc;
    return node_rebalance(p);
}

static int rebalance_one(bolt_bucket *b)
{
    /* Nodes may be added while we iterate (siblings): index, not snapshot. */
    for (size_t i = 0; i < b->nnodes; i++) {
        int rc = node_rebalance(b->nodes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * Rebalance b and every open bucket below it, parents first; the walk's
 * stack is on the heap, so nesting costs no C stack (bucket.c rule 5).
 */
int bolt__bucket_rebalance(bolt_bucket *b)
{
    bolt_bucket **stack = NULL;
    size_t n = 0, cap = 0;
    int rc = rebalance_one(b);
    bolt_bucket *x = b;
    /* Loop invariant: x is rebalanced; stack holds buckets not yet visited. */
    for (;;) {
        if (rc != 0)
            break;
        if (n + x->nchildren > cap) {
            size_t ncap = cap ? cap : 16;
            while (ncap < n + x->nchildren)
                ncap *= 2;
            bolt_bucket **ns = strata_realloc(stack, ncap * sizeof *ns);
            if (ns == NULL) {
                rc = -ENOMEM;
                break;
            }
            stack = ns;
            cap = ncap;
        }
        for (size_t i = x->nchildren; i > 0; i--)
            stack[n++] = x->children[i - 1];
        if (n == 0)
            break;
        x = stack[--n];
        rc = rebalance_one(x);
    }
    strata_free(stack);
    return rc;
}
