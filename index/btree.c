/*
 * btree.c: the in-memory ordered map of the index, a B+tree from key bytes
 * to keyIndex blocks (the key lives in the block, so leaves hold only
 * pointers: 8 bytes per key). Inner nodes hold their own copies of the
 * separator keys, so removing a block never leaves a dangling separator.
 *
 *   inner: n children c[0..n), n-1 separators s[0..n-1)
 *   leaf:  n blocks in key order, next -> the leaf to the right
 *
 * Rules (idx__btree_check validates them):
 * 1. All leaves are at depth `height`; the tree is balanced by
 *    construction (it grows and shrinks only at the root).
 * 2. Keys strictly increase along the leaf chain; for an inner node, every
 *    key under c[j] is < s[j] <= every key under c[j+1].
 * 3. An inner node has at least 2 children; a non-root leaf at least 1 key.
 * 4. A node off the right spine is at least half full (LEAF_MIN keys,
 *    INNER_MIN children). Right-spine nodes may be smaller: a full node on
 *    the right spine that receives a key at its end splits by moving only
 *    the new entry (a leaf) or the last two children (an inner node) to a
 *    new right node, so keys inserted in order fill leaves completely.
 *    If memory ran out while rebalancing a delete, rule 4 is suspended
 *    (underfull_ok) since the tree is still correct, only less dense.
 * 5. Insert allocates everything it needs before it changes anything, so
 *    -ENOMEM leaves the tree unchanged.
 * 6. Leaf and inner-node hints (below) agree with their keys.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idx_int.h"

#define LEAF_CAP  62 /* 1024-byte leaves */
#define INNER_CAP 63 /* 1536-byte inner nodes */
#define LEAF_MIN  (LEAF_CAP / 2)
#define INNER_MIN (INNER_CAP / 2)
#define MAX_DEPTH 40

typedef struct sepkey {
    uint32_t len;
    uint8_t b[];
} sepkey;

/*
 * A leaf keeps, beside each block pointer, a hint: the 8 key bytes after
 * the leaf's common prefix (plen bytes, a copy in prefix), big-endian and
 * zero-padded, so a search compares integers inside the leaf and reads a
 * block (a cache miss) only on a tie. Rule 6: plen is at most the common
 * prefix of every key in the leaf and hints[i] is items[i]'s hint at plen;
 * leaf_refresh re-establishes both after a structural change.
 */
#define PFX_MAX 16

typedef struct bleaf {
    uint16_t n;
    uint8_t is_leaf;
    uint8_t plen;
    struct bleaf *next;
    uint8_t prefix[PFX_MAX];
    uint64_t hints[LEAF_CAP];
    idx__ki *items[LEAF_CAP];
} bleaf;

/* Inner nodes keep hints of their separators the same way (rule 6). */
typedef struct binner {
    uint16_t n;
    uint8_t is_leaf;
    uint8_t plen;
    uint8_t prefix[PFX_MAX];
    uint64_t hints[INNER_CAP - 1];
    sepkey *seps[INNER_CAP - 1];
    void *child[INNER_CAP];
} binner;

static inline int cmp_ki(const uint8_t *key, size_t klen, const idx__ki *k)
{
    return idx__key_cmp(key, klen, k->data, k->key_len);
}

static inline int cmp_sep(const uint8_t *key, size_t klen, const sepkey *s)
{
    return idx__key_cmp(key, klen, s->b, s->len);
}

/*
 * The hint of a key whose first plen bytes are the leaf's prefix: the next
 * 8 bytes, big-endian, zero-padded. Built from one 8-byte load whenever the
 * key has 8 bytes to load (a short suffix is read as the key's last 8 bytes
 * shifted left), not by copying into a zeroed buffer: that store-then-load
 * misses store forwarding and stalled every descent.
 */
static inline uint64_t key_hint(const uint8_t *key, size_t klen, unsigned plen)
{
    size_t n = klen - plen;
    if (n >= 8)
        return strata__load_be64(key + plen);
    if (n == 0)
        return 0;
    if (klen >= 8)
        return strata__load_be64(key + klen - 8) << (8 * (8 - n));
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h |= (uint64_t)key[plen + i] << (56 - 8 * i);
    return h;
}

/* Length of the common prefix of a and z, at most PFX_MAX (rule 6's plen). */
static unsigned common_prefix(const uint8_t *a, size_t alen, const uint8_t *z, size_t zlen)
{
    size_t max = alen < zlen ? alen : zlen;
    if (max > PFX_MAX)
        max = PFX_MAX;
    size_t p = 0;
    while (p < max && a[p] == z[p])
        p++;
    return (unsigned)p;
}

/*
 * Where key stands against a node's prefix: < 0 below every key that
 * starts with it, > 0 above them all, 0 when key starts with it (so the
 * hints decide).
 */
static inline int prefix_side(const uint8_t *prefix, unsigned plen, const uint8_t *key, size_t klen)
{
    size_t m = klen < plen ? klen : plen;
    int c = idx__bytes_cmp(key, prefix, m);
    return c != 0 ? c : klen < plen ? -1 : 0;
}

/* Rule 6 again for lf: plen from its first and last keys, then every hint. */
static void leaf_refresh(bleaf *lf)
{
    if (lf->n == 0) {
        lf->plen = 0;
        return;
    }
    const idx__ki *a = lf->items[0], *z = lf->items[lf->n - 1];
    unsigned p = common_prefix(a->data, a->key_len, z->data, z->key_len);
    lf->plen = (uint8_t)p;
    memcpy(lf->prefix, a->data, p);
    for (unsigned i = 0; i < lf->n; i++)
        lf->hints[i] = key_hint(lf->items[i]->data, lf->items[i]->key_len, p);
}

/* Does key start with the leaf's prefix? */
static inline bool leaf_shares(const bleaf *lf, const uint8_t *key, size_t klen)
{
    return klen >= lf->plen && idx__bytes_cmp(key, lf->prefix, lf->plen) == 0;
}

/* Rule 6 for an inner node's separators. */
static void inner_refresh(binner *in)
{
    if (in->n < 2) {
        in->plen = 0;
        return;
    }
    const sepkey *a = in->seps[0], *z = in->seps[in->n - 2];
    unsigned p = common_prefix(a->b, a->len, z->b, z->len);
    in->plen = (uint8_t)p;
    memcpy(in->prefix, a->b, p);
    for (unsigned i = 0; i + 1 < in->n; i++)
        in->hints[i] = key_hint(in->seps[i]->b, in->seps[i]->len, p);
}

/*
 * Starts loading every cache line of [p, p + bytes). A search of a node
 * touches about half of its hint lines one after another, each a miss on
 * a big index; asking for all of them first overlaps those misses (random
 * gets on 1,000,000 keys: 1.07 M/s -> 1.5 M/s).
 */
static inline void prefetch_span(const void *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch((const char *)p + off);
}

/* Number of separators <= key: the child to descend into. */
static unsigned inner_child(const binner *in, const uint8_t *key, size_t klen)
{
    unsigned nsep = in->n - 1u, p = in->plen;
    int c = prefix_side(in->prefix, p, key, klen);
    if (c < 0)
        return 0;
    if (c > 0)
        return nsep;
    prefetch_span(in->hints, sizeof in->hints);
    prefetch_span(in->child, sizeof in->child);
    uint64_t h = key_hint(key, klen, p);
    unsigned lo = 0, hi = nsep;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        uint64_t hm = in->hints[mid];
        c = h > hm ? 1 : h < hm ? -1 : cmp_sep(key, klen, in->seps[mid]);
        if (c >= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * First slot whose key is >= key (> key when strict). *exact tells whether
 * that slot holds key itself (never when strict), so a caller looking for
 * the key does not compare with the block again.
 */
static unsigned leaf_bound(const bleaf *lf, const uint8_t *key, size_t klen, bool strict,
                           bool *exact)
{
    *exact = false;
    if (lf->n == 0)
        return 0;
    unsigned p = lf->plen;
    int c = prefix_side(lf->prefix, p, key, klen);
    if (c < 0)
        return 0; /* below the prefix every key of the leaf starts with */
    if (c > 0)
        return lf->n;
    prefetch_span(lf->hints, sizeof lf->hints); /* constant sizes: unrolled */
    prefetch_span(lf->items, sizeof lf->items);
    uint64_t h = key_hint(key, klen, p);
    unsigned lo = 0, hi = lf->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        uint64_t hm = lf->hints[mid];
        c = h > hm ? 1 : h < hm ? -1 : cmp_ki(key, klen, lf->items[mid]);
        *exact |= c == 0 && !strict; /* keys are unique: lo ends at this mid */
        if (c > 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static sepkey *sep_new(const uint8_t *b, size_t len)
{
    sepkey *s = strata_malloc(sizeof *s + len);
    if (s == NULL)
        return NULL;
    s->len = (uint32_t)len;
    if (len)
        memcpy(s->b, b, len);
    return s;
}

static bleaf *leaf_new(void)
{
    bleaf *lf = strata_malloc(sizeof *lf);
    if (lf != NULL) {
        lf->n = 0;
        lf->is_leaf = 1;
        lf->plen = 0;
        lf->next = NULL;
    }
    return lf;
}

static binner *inner_new(void)
{
    binner *in = strata_malloc(sizeof *in);
    if (in != NULL) {
        in->n = 0;
        in->is_leaf = 0;
        in->plen = 0;
    }
    return in;
}

void idx__btree_init(idx__btree *bt)
{
    bt->root = NULL;
    bt->height = 0;
    bt->count = 0;
    bt->nodes = 0;
    bt->version = 0;
    bt->underfull_ok = false;
}

static void node_free(void *node, int height, bool free_blocks)
{
    if (height == 0) {
        bleaf *lf = node;
        if (free_blocks)
            for (unsigned i = 0; i < lf->n; i++)
                strata_free(lf->items[i]);
        strata_free(lf);
        return;
    }
    binner *in = node;
    for (unsigned i = 0; i < in->n; i++)
        node_free(in->child[i], height - 1, free_blocks);
    for (unsigned i = 0; i + 1 < in->n; i++)
        strata_free(in->seps[i]);
    strata_free(in);
}

void idx__btree_release(idx__btree *bt, bool free_blocks)
{
    if (bt->root != NULL)
        node_free(bt->root, bt->height, free_blocks);
    idx__btree_init(bt);
}

/* The leaf where key belongs (inner nodes compare with their own separator copies); NULL if empty.
 */
static bleaf *leaf_for(const idx__btree *bt, const void *key, size_t key_len)
{
    void *node = bt->root;
    if (node == NULL)
        return NULL;
    for (int h = bt->height; h > 0; h--) {
        binner *in = node;
        node = in->child[inner_child(in, key, key_len)];
    }
    return node;
}

idx__ki **idx__btree_find(idx__btree *bt, const void *key, size_t key_len)
{
    bleaf *lf = leaf_for(bt, key, key_len);
    if (lf == NULL)
        return NULL;
    bool exact;
    unsigned pos = leaf_bound(lf, key, key_len, false, &exact);
    if (exact)
        return &lf->items[pos];
    return NULL;
}

idx__ki **idx__btree_find_block(idx__btree *bt, const void *key, size_t key_len, const idx__ki *blk)
{
    bleaf *lf = leaf_for(bt, key, key_len);
    if (lf == NULL)
        return NULL;
    for (unsigned i = 0; i < lf->n; i++)
        if (lf->items[i] == blk)
            return &lf->items[i];
    return NULL;
}

_Static_assert(sizeof(bleaf) == 1024, "a leaf is one 1 KiB allocation");
_Static_assert(sizeof(binner) <= 1536, "an inner node fits a 1.5 KiB allocation");

/* ---- insert ---------------------------------------------------------------- */

/* A root-to-leaf descent: the path, and whether the leaf is on the right spine. */
typedef struct bpath {
    binner *path[MAX_DEPTH];
    unsigned idx[MAX_DEPTH];
    bool spine;
    bleaf *lf;
    unsigned pos; /* first slot with a key >= the key */
    bool exact;   /* ... and it is the key */
} bpath;

static void btree_descend(const idx__btree *bt, const uint8_t *key, size_t klen, bpath *p)
{
    p->spine = true;
    void *node = bt->root;
    for (int d = 0; d < bt->height; d++) {
        binner *in = node;
        p->path[d] = in;
        p->idx[d] = inner_child(in, key, klen);
        p->spine = p->spine && p->idx[d] == in->n - 1u;
        node = in->child[p->idx[d]];
    }
    p->lf = node;
    p->pos = leaf_bound(p->lf, key, klen, false, &p->exact);
}

static int btree_insert_at(idx__btree *bt, bpath *p, idx__ki *k);

/* The first block of an empty tree. */
static int btree_insert_root(idx__btree *bt, idx__ki *k)
{
    bleaf *lf = leaf_new();
    if (lf == NULL)
        return -ENOMEM;
    lf->items[0] = k;
    lf->n = 1;
    leaf_refresh(lf);
    bt->root = lf;
    bt->count = 1;
    bt->nodes = 1;
    return 0;
}

int idx__btree_insert(idx__btree *bt, idx__ki *k)
{
    bt->version++;
    if (bt->root == NULL)
        return btree_insert_root(bt, k);
    bpath p;
    btree_descend(bt, k->data, k->key_len, &p);
    return btree_insert_at(bt, &p, k);
}

int idx__btree_upsert(idx__btree *bt, const void *key, size_t key_len,
                      int (*make)(void *ctx, idx__ki **out), void *ctx, idx__ki ***slot)
{
    bpath p;
    if (bt->root != NULL) {
        btree_descend(bt, key, key_len, &p);
        if (p.exact) {
            *slot = &p.lf->items[p.pos];
            return 0;
        }
    }
    *slot = NULL;
    idx__ki *k;
    int rc = make(ctx, &k);
    if (rc != 0)
        return rc;
    bt->version++;
    rc = bt->root == NULL ? btree_insert_root(bt, k) : btree_insert_at(bt, &p, k);
    if (rc != 0)
        strata_free(k);
    return rc;
}

/* Inserts k at p (k's key is absent), splitting nodes up the path as needed. */
static int btree_insert_at(idx__btree *bt, bpath *p, idx__ki *k)
{
    const uint8_t *key = k->data;
    size_t klen = k->key_len;
    binner **path = p->path;
    unsigned *idx = p->idx;
    bool spine = p->spine;
    bleaf *lf = p->lf;
    unsigned pos = p->pos;
    assert(pos == lf->n || cmp_ki(key, klen, lf->items[pos]) != 0);
    if (lf->n < LEAF_CAP) {
        memmove(&lf->items[pos + 1], &lf->items[pos], (lf->n - pos) * sizeof(idx__ki *));
        memmove(&lf->hints[pos + 1], &lf->hints[pos], (lf->n - pos) * sizeof(uint64_t));
        lf->items[pos] = k;
        lf->n++;
        if (lf->n > 1 && leaf_shares(lf, key, klen))
            lf->hints[pos] = key_hint(key, klen, lf->plen);
        else
            leaf_refresh(lf); /* the common prefix shrank (or was unset) */
        bt->count++;
        return 0;
    }

    /* Rule 5: plan the splits and allocate everything first. */
    idx__ki *all[LEAF_CAP + 1];
    memcpy(all, lf->items, pos * sizeof(idx__ki *));
    all[pos] = k;
    memcpy(all + pos + 1, lf->items + pos, (LEAF_CAP - pos) * sizeof(idx__ki *));
    unsigned lmid = (spine && pos == LEAF_CAP) ? LEAF_CAP : (LEAF_CAP + 1) / 2;
    int splits = 0; /* inner nodes that split, from the bottom */
    for (int d = bt->height - 1; d >= 0 && path[d]->n == INNER_CAP; d--)
        splits++;
    bool new_root = splits == bt->height;
    bleaf *nleaf = leaf_new();
    sepkey *sep = sep_new(all[lmid]->data, all[lmid]->key_len);
    binner *ninner[MAX_DEPTH + 1];
    int got = 0;
    bool ok = nleaf != NULL && sep != NULL;
    for (; ok && got < splits + (new_root ? 1 : 0); got++) {
        ninner[got] = inner_new();
        ok = ninner[got] != NULL;
    }
    if (!ok) {
        strata_free(nleaf);
        strata_free(sep);
        for (int i = 0; i < got; i++)
            strata_free(ninner[i]);
        return -ENOMEM;
    }

    /* Split the leaf: left keeps all[0..lmid), the new right leaf the rest. */
    memcpy(lf->items, all, lmid * sizeof(idx__ki *));
    lf->n = (uint16_t)lmid;
    nleaf->n = (uint16_t)(LEAF_CAP + 1 - lmid);
    memcpy(nleaf->items, all + lmid, nleaf->n * sizeof(idx__ki *));
    nleaf->next = lf->next;
    lf->next = nleaf;
    leaf_refresh(lf);
    leaf_refresh(nleaf);
    bt->nodes++;
    bt->count++;

    /* Carry (sep, right) up; Loop invariant: right holds keys >= sep, and
     * belongs just after child idx[d] of path[d]. */
    void *right = nleaf;
    int used = 0;
    for (int d = bt->height - 1; d >= 0; d--) {
        binner *in = path[d];
        unsigned at = idx[d] + 1; /* child slot for right; sep goes to at-1 */
        if (in->n < INNER_CAP) {
            memmove(&in->child[at + 1], &in->child[at], (in->n - at) * sizeof(void *));
            memmove(&in->seps[at], &in->seps[at - 1], (in->n - at) * sizeof(sepkey *));
            in->child[at] = right;
            in->seps[at - 1] = sep;
            in->n++;
            inner_refresh(in);
            return 0;
        }
        void *c[INNER_CAP + 1];
        sepkey *s[INNER_CAP];
        memcpy(c, in->child, at * sizeof(void *));
        c[at] = right;
        memcpy(c + at + 1, in->child + at, (INNER_CAP - at) * sizeof(void *));
        memcpy(s, in->seps, (at - 1) * sizeof(sepkey *));
        s[at - 1] = sep;
        memcpy(s + at, in->seps + at - 1, (INNER_CAP - at) * sizeof(sepkey *));
        bool on_spine = true;
        for (int u = 0; u < d; u++)
            on_spine = on_spine && idx[u] == path[u]->n - 1u;
        /* m children stay left; s[m-1] moves up; the right node gets c[m..]. */
        unsigned m = (on_spine && at == INNER_CAP) ? INNER_CAP - 1 : (INNER_CAP + 1) / 2;
        binner *rn = ninner[used++];
        memcpy(in->child, c, m * sizeof(void *));
        memcpy(in->seps, s, (m - 1) * sizeof(sepkey *));
        in->n = (uint16_t)m;
        rn->n = (uint16_t)(INNER_CAP + 1 - m);
        memcpy(rn->child, c + m, rn->n * sizeof(void *));
        memcpy(rn->seps, s + m, (rn->n - 1u) * sizeof(sepkey *));
        sep = s[m - 1];
        right = rn;
        inner_refresh(in);
        inner_refresh(rn);
        bt->nodes++;
    }
    /* The root split: a new root over the two halves. */
    binner *root = ninner[used++];
    root->n = 2;
    root->child[0] = bt->root;
    root->child[1] = right;
    root->seps[0] = sep;
    inner_refresh(root);
    bt->root = root;
    bt->height++;
    bt->nodes++;
    assert(used == got);
    return 0;
}

/* ---- delete ---------------------------------------------------------------- */

static unsigned node_n(void *node)
{
    return ((bleaf *)node)->n; /* n is the first field of both node kinds */
}

/* Child i of in (height h above the leaves is h-1 for the child) is underfull: fix it. */
static void fix_child(idx__btree *bt, binner *in, unsigned i, int child_height)
{
    unsigned min = child_height == 0 ? LEAF_MIN : INNER_MIN;
    if (in->n < 2)
        return; /* cannot happen (rule 3); nothing to borrow from */
    if (child_height == 0) {
        bleaf *c = in->child[i];
        if (i > 0) {
            bleaf *l = in->child[i - 1];
            if (l->n > min) {
                idx__ki *moved = l->items[l->n - 1];
                sepkey *s = sep_new(moved->data, moved->key_len);
                if (s == NULL) {
                    bt->underfull_ok = true;
                    return;
                }
                memmove(&c->items[1], &c->items[0], c->n * sizeof(idx__ki *));
                c->items[0] = moved;
                c->n++;
                l->n--;
                strata_free(in->seps[i - 1]);
                in->seps[i - 1] = s;
                leaf_refresh(c);
                leaf_refresh(l);
                return;
            }
            /* Merge c into l. */
            memcpy(&l->items[l->n], c->items, c->n * sizeof(idx__ki *));
            l->n = (uint16_t)(l->n + c->n);
            l->next = c->next;
            leaf_refresh(l);
            strata_free(in->seps[i - 1]);
            memmove(&in->seps[i - 1], &in->seps[i], (in->n - 1u - i) * sizeof(sepkey *));
            memmove(&in->child[i], &in->child[i + 1], (in->n - 1u - i) * sizeof(void *));
            in->n--;
            strata_free(c);
            bt->nodes--;
            return;
        }
        bleaf *r = in->child[1];
        if (r->n > min) {
            sepkey *s = sep_new(r->items[1]->data, r->items[1]->key_len);
            if (s == NULL) {
                bt->underfull_ok = true;
                return;
            }
            c->items[c->n++] = r->items[0];
            memmove(&r->items[0], &r->items[1], (r->n - 1u) * sizeof(idx__ki *));
            r->n--;
            strata_free(in->seps[0]);
            in->seps[0] = s;
            leaf_refresh(c);
            leaf_refresh(r);
            return;
        }
        memcpy(&c->items[c->n], r->items, r->n * sizeof(idx__ki *));
        c->n = (uint16_t)(c->n + r->n);
        c->next = r->next;
        leaf_refresh(c);
        strata_free(in->seps[0]);
        memmove(&in->seps[0], &in->seps[1], (in->n - 2u) * sizeof(sepkey *));
        memmove(&in->child[1], &in->child[2], (in->n - 2u) * sizeof(void *));
        in->n--;
        strata_free(r);
        bt->nodes--;
        return;
    }
    binner *c = in->child[i];
    if (i > 0) {
        binner *l = in->child[i - 1];
        if (l->n > min) {
            /* Rotate right: l's last child moves to the front of c. */
            memmove(&c->child[1], &c->child[0], c->n * sizeof(void *));
            memmove(&c->seps[1], &c->seps[0], (c->n - 1u) * sizeof(sepkey *));
            c->child[0] = l->child[l->n - 1];
            c->seps[0] = in->seps[i - 1];
            in->seps[i - 1] = l->seps[l->n - 2];
            c->n++;
            l->n--;
            inner_refresh(c);
            inner_refresh(l);
            return;
        }
        /* Merge c into l, the parent's separator between them coming down. */
        l->seps[l->n - 1] = in->seps[i - 1];
        memcpy(&l->seps[l->n], c->seps, (c->n - 1u) * sizeof(sepkey *));
        memcpy(&l->child[l->n], c->child, c->n * sizeof(void *));
        l->n = (uint16_t)(l->n + c->n);
        inner_refresh(l);
        memmove(&in->seps[i - 1], &in->seps[i], (in->n - 1u - i) * sizeof(sepkey *));
        memmove(&in->child[i], &in->child[i + 1], (in->n - 1u - i) * sizeof(void *));
        in->n--;
        strata_free(c);
        bt->nodes--;
        return;
    }
    binner *r = in->child[1];
    if (r->n > min) {
        /* Rotate left: r's first child moves to the end of c. */
        c->child[c->n] = r->child[0];
        c->seps[c->n - 1] = in->seps[0];
        in->seps[0] = r->seps[0];
        memmove(&r->child[0], &r->child[1], (r->n - 1u) * sizeof(void *));
        memmove(&r->seps[0], &r->seps[1], (r->n - 2u) * sizeof(sepkey *));
        c->n++;
        r->n--;
        inner_refresh(c);
        inner_refresh(r);
        return;
    }
    c->seps[c->n - 1] = in->seps[0];
    memcpy(&c->seps[c->n], r->seps, (r->n - 1u) * sizeof(sepkey *));
    memcpy(&c->child[c->n], r->child, r->n * sizeof(void *));
    c->n = (uint16_t)(c->n + r->n);
    inner_refresh(c);
    memmove(&in->seps[0], &in->seps[1], (in->n - 2u) * sizeof(sepkey *));
    memmove(&in->child[1], &in->child[2], (in->n - 2u) * sizeof(void *));
    in->n--;
    strata_free(r);
    bt->nodes--;
}

static idx__ki *node_delete(idx__btree *bt, void *node, int height, const uint8_t *key, size_t klen)
{
    if (height == 0) {
        bleaf *lf = node;
        bool exact;
        unsigned pos = leaf_bound(lf, key, klen, false, &exact);
        if (!exact)
            return NULL;
        idx__ki *k = lf->items[pos];
        memmove(&lf->items[pos], &lf->items[pos + 1], (lf->n - 1u - pos) * sizeof(idx__ki *));
        memmove(&lf->hints[pos], &lf->hints[pos + 1], (lf->n - 1u - pos) * sizeof(uint64_t));
        lf->n--;
        return k;
    }
    binner *in = node;
    unsigned i = inner_child(in, key, klen);
    idx__ki *k = node_delete(bt, in->child[i], height - 1, key, klen);
    if (k != NULL) {
        unsigned min = height - 1 == 0 ? LEAF_MIN : INNER_MIN;
        if (node_n(in->child[i]) < min) {
            fix_child(bt, in, i, height - 1);
            inner_refresh(in);
        }
    }
    return k;
}

idx__ki *idx__btree_delete(idx__btree *bt, const void *key, size_t key_len)
{
    if (bt->root == NULL)
        return NULL;
    idx__ki *k = node_delete(bt, bt->root, bt->height, key, key_len);
    if (k == NULL)
        return NULL;
    bt->version++;
    bt->count--;
    if (bt->height > 0 && node_n(bt->root) == 1) {
        binner *old = bt->root;
        bt->root = old->child[0];
        bt->height--;
        strata_free(old);
        bt->nodes--;
    } else if (bt->height == 0 && bt->count == 0) {
        strata_free(bt->root);
        bt->root = NULL;
        bt->nodes = 0;
    }
    return k;
}

/* ---- cursors ---------------------------------------------------------------- */

static bool cursor_settle(idx__bcursor *c)
{
    bleaf *lf = c->leaf;
    while (lf != NULL && c->pos >= lf->n) {
        lf = lf->next;
        c->pos = 0;
    }
    c->leaf = lf;
    return lf != NULL;
}

bool idx__btree_seek(const idx__btree *bt, const void *key, size_t key_len, bool strict,
                     idx__bcursor *c)
{
    c->leaf = leaf_for(bt, key, key_len);
    c->pos = 0;
    if (c->leaf == NULL)
        return false;
    bool exact;
    c->pos = leaf_bound(c->leaf, key, key_len, strict, &exact);
    return cursor_settle(c);
}

idx__ki **idx__bcursor_slot(const idx__bcursor *c)
{
    return &((bleaf *)c->leaf)->items[c->pos];
}

bool idx__bcursor_next(idx__bcursor *c)
{
    if (c->leaf == NULL)
        return false;
    c->pos++;
    return cursor_settle(c);
}

void idx__bcursor_prefetch(const idx__bcursor *c, unsigned ahead)
{
    const bleaf *lf = c->leaf;
    if (lf != NULL && c->pos + ahead < lf->n)
        __builtin_prefetch(lf->items[c->pos + ahead]);
}

/* ---- check ------------------------------------------------------------------- */

typedef struct check_ctx {
    const idx__btree *bt;
    char *why;
    size_t why_size;
    bleaf *expect_leaf; /* the next leaf the chain must reach */
    const idx__ki *prev;
    size_t count;
    size_t nodes;
} check_ctx;

static int check_node(check_ctx *x, void *node, int height, int depth, bool spine, const sepkey *lo,
                      const sepkey *hi)
{
    x->nodes++;
    if (height == 0) {
        bleaf *lf = node;
        if (!lf->is_leaf)
            return idx__fail(x->why, x->why_size, "btree: inner node at leaf depth %d", depth);
        if (lf != x->expect_leaf)
            return idx__fail(x->why, x->why_size, "btree: leaf chain broken at depth %d", depth);
        x->expect_leaf = lf->next;
        if (depth > 0 && lf->n == 0)
            return idx__fail(x->why, x->why_size, "btree: empty non-root leaf");
        if (depth > 0 && !spine && lf->n < LEAF_MIN && !x->bt->underfull_ok)
            return idx__fail(x->why, x->why_size, "btree: leaf with %u keys off the spine", lf->n);
        for (unsigned i = 0; i < lf->n; i++) {
            const idx__ki *k = lf->items[i];
            if (!leaf_shares(lf, k->data, k->key_len) ||
                lf->hints[i] != key_hint(k->data, k->key_len, lf->plen))
                return idx__fail(x->why, x->why_size, "btree: leaf hint %u disagrees", i);
            if (x->prev != NULL &&
                idx__key_cmp(x->prev->data, x->prev->key_len, k->data, k->key_len) >= 0)
                return idx__fail(x->why, x->why_size, "btree: keys out of order");
            if (lo != NULL && cmp_sep(k->data, k->key_len, lo) < 0)
                return idx__fail(x->why, x->why_size, "btree: key below its separator");
            if (hi != NULL && cmp_sep(k->data, k->key_len, hi) >= 0)
                return idx__fail(x->why, x->why_size, "btree: key at or above next separator");
            x->prev = k;
        }
        x->count += lf->n;
        return 0;
    }
    binner *in = node;
    if (in->is_leaf)
        return idx__fail(x->why, x->why_size, "btree: leaf at inner depth %d", depth);
    if (in->n < 2)
        return idx__fail(x->why, x->why_size, "btree: inner node with %u children", in->n);
    if (depth > 0 && !spine && in->n < INNER_MIN && !x->bt->underfull_ok)
        return idx__fail(x->why, x->why_size, "btree: inner node with %u children off the spine",
                         in->n);
    for (unsigned i = 0; i + 1 < in->n; i++) {
        const sepkey *sp = in->seps[i];
        if (sp->len < in->plen || memcmp(sp->b, in->prefix, in->plen) != 0 ||
            in->hints[i] != key_hint(sp->b, sp->len, in->plen))
            return idx__fail(x->why, x->why_size, "btree: separator hint %u disagrees", i);
    }
    for (unsigned i = 0; i + 2 < in->n; i++)
        if (idx__key_cmp(in->seps[i]->b, in->seps[i]->len, in->seps[i + 1]->b,
                         in->seps[i + 1]->len) >= 0)
            return idx__fail(x->why, x->why_size, "btree: separators out of order");
    for (unsigned i = 0; i < in->n; i++) {
        const sepkey *clo = i == 0 ? lo : in->seps[i - 1];
        const sepkey *chi = i + 1 == in->n ? hi : in->seps[i];
        int rc = check_node(x, in->child[i], height - 1, depth + 1, spine && i + 1 == in->n, clo,
                            chi);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int idx__btree_check(const idx__btree *bt, char *why, size_t why_size)
{
    if (bt->root == NULL)
        return bt->count == 0 && bt->height == 0
                       ? 0
                       : idx__fail(why, why_size, "btree: no root but count %zu", bt->count);
    void *first = bt->root;
    for (int h = bt->height; h > 0; h--)
        first = ((binner *)first)->child[0];
    check_ctx x = { bt, why, why_size, first, NULL, 0, 0 };
    int rc = check_node(&x, bt->root, bt->height, 0, true, NULL, NULL);
    if (rc != 0)
        return rc;
    if (x.expect_leaf != NULL)
        return idx__fail(why, why_size, "btree: leaf chain runs past the last leaf");
    if (x.count != bt->count)
        return idx__fail(why, why_size, "btree: %zu keys counted, %zu recorded", x.count,
                         bt->count);
    if (x.nodes != bt->nodes)
        return idx__fail(why, why_size, "btree: %zu nodes counted, %zu recorded", x.nodes,
                         bt->nodes);
    return 0;
}
