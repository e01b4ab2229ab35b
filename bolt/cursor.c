/*
 * cursor.c: a stack of (page or node, index) pairs from a bucket's root to a
 * leaf, moved first/last/next/prev/seek in key order (bbolt's cursor.go).
 *
 * Rules:
 *   1. stack[0] is the bucket's root; stack[i+1] is the child at
 *      stack[i].index. A ref uses the materialized node when one exists
 *      (write transactions), else the validated page: the committed one,
 *      or in a write transaction the dirty copy (dirty.c), also for a
 *      page-mode node's leaf.
 *   2. Branch lookup takes the last element <= the key (element 0 when the
 *      key is below all); leaf lookup the first element >= the key
 *      (docs/format.md §4).
 *   3. Empty leaves are skipped in both directions.
 *   4. Depth is bounded by BOLT_MAX_DEPTH: a deeper tree (or a cycle in a
 *      corrupt file) is BOLT_ECORRUPT, never unbounded recursion.
 *   5. After bolt_cursor_delete the cursor stands on the element after the
 *      deleted one, and `next` returns it without moving (skip_next).
 *   6. A public move remembers the key it stopped on and the transaction's
 *      change count. If the transaction changed since (a put or delete
 *      through any handle), next/prev/delete first search that key again,
 *      so a cursor stays usable across changes; its nodes and pages are
 *      never freed before the transaction ends, so a stale stack is never
 *      dereferenced.
 *   7. The guessed search. A branch element's key bounds its child's keys
 *      from below and the next element's key from above, so every page
 *      below the root comes with a bracket [lo, hi) (the last child
 *      inherits its parent's hi). Past the bytes lo and hi share, the next
 *      8 bytes of lo, hi and the key, read as big-endian numbers, place the
 *      key in the bracket; its element is guessed at that fraction of the
 *      page's count (exact for dense integer keys, a few elements off for
 *      random ones). The guess is only where the search starts: it probes
 *      the guess and its neighbour, then gallops away from it (1, 2, 4 ...
 *      elements) until two probes enclose the answer, and binary-searches
 *      between them. Every step keeps rule 2's invariant (keys before lo
 *      are < key, keys from hi on are >= key), so on a page whose keys
 *      increase (every well-formed page) the result is the binary
 *      search's, whatever the guess; on a hostile page it reads only
 *      elements [0, count) of a checked page, as the binary search does.
 *      A page read this way is not prefetched whole: the header, then the
 *      guessed element's line, then its key's are the lines it needs (the
 *      whole-page prefetch of a cold leaf, 64 lines, queued ahead of the
 *      next get's misses). The root and pages without a usable bracket
 *      (lo and hi equal, or one missing) are searched as before.
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

size_t bolt__ref_count(const bolt__elemref *r)
{
    return r->node != NULL ? r->node->n : r->page.count;
}

bool bolt__ref_is_leaf(const bolt__elemref *r)
{
    return r->node != NULL ? r->node->leaf : bolt__page_is_leaf(&r->page);
}

static bolt_pgid ref_child_pgid(const bolt__elemref *r, size_t i)
{
    if (r->node != NULL)
        return r->node->inodes[i].pgid;
    return bolt__page_branch_elem(&r->page, (unsigned)i, NULL);
}

void bolt__ref_key(const bolt__elemref *r, size_t i, bolt_val *k)
{
    if (r->node != NULL) {
        k->data = r->node->inodes[i].key;
        k->size = r->node->inodes[i].ksize;
    } else if (bolt__page_is_leaf(&r->page)) {
        bolt__page_leaf_elem(&r->page, (unsigned)i, NULL, k, NULL);
    } else {
        bolt__page_branch_elem(&r->page, (unsigned)i, k);
    }
}

/* bolt__ref_lower_bound, inlined into the descent (the hot path of every get and put). */
static inline size_t ref_lower_bound(const bolt__elemref *r, size_t lo, size_t hi, const void *key,
                                     size_t ksize, bool *exact)
{
    /* Invariant: keys of [0, lo) are < key, keys of [hi, count) are >= key. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bolt_val mk;
        bolt__ref_key(r, mid, &mk);
        int cmp = bolt__key_cmp(mk.data, mk.size, key, ksize);
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            if (cmp == 0)
                *exact = true;
            hi = mid;
        }
    }
    return lo;
}

size_t bolt__ref_lower_bound(const bolt__elemref *r, size_t lo, size_t hi, const void *key,
                             size_t ksize, bool *exact)
{
    return ref_lower_bound(r, lo, hi, key, ksize, exact);
}

/* Rule 7: where the key falls in a bracket [lo, hi), as the fraction off / span. */
typedef struct place {
    uint64_t off, span; /* off <= span, span in [1, 2^32) */
} place;

/* The 8 bytes of k from byte off on, big-endian, zero-padded past its end. */
static inline uint64_t key_window(const unsigned char *k, size_t n, size_t off)
{
    if (n >= off + 8) {
        uint64_t x;
        memcpy(&x, k + off, 8);
        return be64toh(x);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (off + i < n ? k[off + i] : 0);
    return v;
}

/* Rule 7: the key's place in the bracket [l, h); false when it gives none. */
static bool place_key(bolt_val l, bolt_val h, const void *key, size_t ksize, place *pl)
{
    const unsigned char *lo = l.data, *hi = h.data, *t = key;
    size_t lon = l.size, hin = h.size;
    /* Skip the 8-byte words lo and hi share; interpolate on the first that differs. */
    size_t cp = 0, m = lon < hin ? lon : hin;
    uint64_t wl = key_window(lo, lon, 0), wh = key_window(hi, hin, 0);
    while (wl == wh && cp + 8 < m) {
        cp += 8;
        wl = key_window(lo, lon, cp);
        wh = key_window(hi, hin, cp);
    }
    if (wh <= wl)
        return false; /* no increasing bracket (or keys equal as far as they go) */
    uint64_t span = wh - wl, off;
    int c = cp == 0 ? 0 : bolt__key_cmp(t, ksize < cp ? ksize : cp, lo, cp);
    if (c < 0) {
        off = 0; /* below the bracket: the first element */
    } else if (c > 0) {
        off = span;
    } else {
        uint64_t wt = key_window(t, ksize, cp);
        off = wt <= wl ? 0 : wt >= wh ? span : wt - wl;
    }
    /* Keep 32 significant bits: off * count then fits in 64. */
    int shift = 64 - __builtin_clzll(span) - 32;
    if (shift > 0) {
        span >>= shift;
        off >>= shift;
    }
    pl->off = off;
    pl->span = span;
    return true;
}

/* Rule 7: the element a page of n (>= 1) elements would hold the key at. */
static inline size_t place_index(const place *pl, size_t n)
{
    uint64_t i = pl->off * (uint64_t)n / pl->span;
    return i < n ? (size_t)i : n - 1;
}

/* Key i of a checked page (leaf or branch, as `leaf` says) compared with key. */
static inline int page_cmp(const bolt__page *p, bool leaf, size_t i, const void *key, size_t ksize)
{
    bolt_val k;
    if (leaf)
        bolt__page_leaf_elem(p, (unsigned)i, NULL, &k, NULL);
    else
        bolt__page_branch_elem(p, (unsigned)i, &k);
    return bolt__key_cmp(k.data, k.size, key, ksize);
}

/*
 * Rule 7: ref_lower_bound over the whole page, started at element g (<=
 * count): the first index whose key is >= key, *exact when equal. Probes g,
 * then its neighbour, then gallops; the invariant of ref_lower_bound holds
 * after every probe, so a bad guess costs O(log distance) probes.
 */
static size_t guided_lower_bound(const bolt__elemref *r, size_t g, const void *key, size_t ksize,
                                 bool *exact)
{
    const bolt__page *p = &r->page;
    bool leaf = bolt__page_is_leaf(p);
    size_t n = p->count, lo, hi;
    if (g < n) {
        int c = page_cmp(p, leaf, g, key, ksize);
        if (c == 0) {
            *exact = true; /* increasing keys: nothing before g equals key */
            return g;
        }
        if (c < 0) {
            /* Keys of [0, g] are < key: gallop up. */
            lo = g + 1;
            for (size_t step = 1;; step *= 2) {
                if (lo >= n)
                    return n;
                size_t j = n - lo > step ? lo + step - 1 : n - 1;
                c = page_cmp(p, leaf, j, key, ksize);
                if (c == 0) {
                    *exact = true; /* keys of [lo, j) lie between key[lo - 1] and key[j] */
                    return j;
                }
                if (c > 0) {
                    hi = j;
                    break;
                }
                lo = j + 1;
            }
            return ref_lower_bound(r, lo, hi, key, ksize, exact);
        }
    }
    /* Keys of [g, n) are >= key (g == n: none): gallop down. */
    hi = g;
    for (size_t step = 1;; step *= 2) {
        if (hi == 0)
            return 0;
        size_t j = hi > step ? hi - step : 0;
        int c = page_cmp(p, leaf, j, key, ksize);
        if (c < 0) {
            lo = j + 1;
            break;
        }
        if (c == 0) {
            *exact = true; /* increasing keys: nothing before j equals key */
            return j;
        }
        hi = j;
    }
    return ref_lower_bound(r, lo, hi, key, ksize, exact);
}

/* The root ref of the bucket (rule 1). */
static int root_ref(bolt_bucket *b, bolt__elemref *out)
{
    memset(out, 0, sizeof *out);
    if (b->root_node != NULL) {
        out->node = b->root_node;
        return 0;
    }
    if (b->root == 0) {
        const char *why;
        if (bolt__page_load(b->inline_data, b->inline_size, 0, &out->page, &why) != 0)
            return bolt__corrupt(b->tx->db, 0, "inline bucket page is invalid");
        return 0;
    }
    return bolt__tx_page(b->tx, b->root, &out->page);
}

/* Push the child at the top ref's index. */
static int push_child(bolt_cursor *c)
{
    bolt__elemref *top = &c->stack[c->depth - 1];
    if (c->depth == BOLT_MAX_DEPTH)
        return bolt__corrupt(c->bucket->tx->db, ref_child_pgid(top, top->index),
                             "tree deeper than 64 levels (a cycle?)");
    bolt__elemref *r = &c->stack[c->depth];
    memset(r, 0, sizeof *r);
    bolt__node *child = top->node != NULL ? top->node->inodes[top->index].child : NULL;
    if (child != NULL && child->dp != NULL) {
        /* A page-mode leaf (dirty.c rule 6): read its dirty page (rule 2: now exposed). */
        if (!c->bucket->tx->dpt_quiet)
            child->dp->exposed = true;
        bolt__page_fill(child->dp->buf, child->dp->cap, child->dp->id, &r->page);
    } else if (child != NULL) {
        r->node = child;
    } else {
        bolt_pgid id = ref_child_pgid(top, top->index);
        if (c->bucket->root == 0)
            return bolt__corrupt(c->bucket->tx->db, id, "inline bucket page is a branch");
        int rc = bolt__tx_page(c->bucket->tx, id, &r->page);
        if (rc != 0)
            return rc;
    }
    c->depth++;
    return 0;
}

static int descend_first(bolt_cursor *c)
{
    while (!bolt__ref_is_leaf(&c->stack[c->depth - 1])) {
        int rc = push_child(c);
        if (rc != 0)
            return rc;
        c->stack[c->depth - 1].index = 0;
    }
    return 0;
}

static int descend_last(bolt_cursor *c)
{
    while (!bolt__ref_is_leaf(&c->stack[c->depth - 1])) {
        int rc = push_child(c);
        if (rc != 0)
            return rc;
        bolt__elemref *r = &c->stack[c->depth - 1];
        size_t n = bolt__ref_count(r);
        r->index = n > 0 ? n - 1 : 0;
    }
    return 0;
}

/* Key/value/flags at the top of the stack, or BOLT_NOTFOUND. */
static int key_value(const bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    if (c->depth == 0)
        return BOLT_NOTFOUND;
    const bolt__elemref *r = &c->stack[c->depth - 1];
    if (r->index >= bolt__ref_count(r))
        return BOLT_NOTFOUND;
    bolt_val kk, vv;
    uint32_t ff;
    if (r->node != NULL) {
        const bolt__inode *in = &r->node->inodes[r->index];
        kk.data = in->key;
        kk.size = in->ksize;
        vv.data = in->value;
        vv.size = in->vsize;
        ff = in->flags;
    } else {
        bolt__page_leaf_elem(&r->page, (unsigned)r->index, &ff, &kk, &vv);
    }
    if (k != NULL)
        *k = kk;
    if (v != NULL)
        *v = vv;
    if (flags != NULL)
        *flags = ff;
    return 0;
}

/* bbolt's next(): advance, skipping empty leaves (rule 3). */
static int cursor_next(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    if (!c->positioned)
        return BOLT_NOTFOUND;
    for (;;) {
        size_t i = c->depth;
        while (i > 0) {
            bolt__elemref *e = &c->stack[i - 1];
            if (e->index + 1 < bolt__ref_count(e)) {
                e->index++;
                break;
            }
            i--;
        }
        if (i == 0) {
            /* Past the end: stay on the last element (bbolt does). */
            bolt__elemref *top = &c->stack[c->depth - 1];
            size_t n = bolt__ref_count(top);
            if (n > 0)
                top->index = n; /* one past: prev returns the last */
            return BOLT_NOTFOUND;
        }
        c->depth = i;
        int rc = descend_first(c);
        if (rc != 0)
            return rc;
        if (bolt__ref_count(&c->stack[c->depth - 1]) == 0)
            continue;
        return key_value(c, k, v, flags);
    }
}

static int cursor_prev(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    if (!c->positioned)
        return BOLT_NOTFOUND;
    for (;;) {
        size_t i = c->depth;
        while (i > 0) {
            bolt__elemref *e = &c->stack[i - 1];
            size_t n = bolt__ref_count(e);
            if (e->index > n)
                e->index = n;
            if (e->index > 0) {
                e->index--;
                break;
            }
            i--;
        }
        if (i == 0) {
            c->positioned = false;
            return BOLT_NOTFOUND;
        }
        c->depth = i;
        int rc = descend_last(c);
        if (rc != 0)
            return rc;
        if (bolt__ref_count(&c->stack[c->depth - 1]) == 0)
            continue;
        return key_value(c, k, v, flags);
    }
}

void bolt__cursor_init(bolt_cursor *c, bolt_bucket *b)
{
    /*
     * Not the 64-level stack (3 KiB, cleared on every get and put was ~9% of
     * a put): stack[i] is written before it is read, by root_ref and
     * push_child, and nothing reads at or past depth.
     */
    c->bucket = b;
    c->depth = 0;
    c->positioned = false;
    c->skip_next = false;
    c->gen = 0;
    c->cur_key = NULL;
    c->cur_ksize = 0;
    c->prev = c->next = NULL;
}

static int cursor_reset(bolt_cursor *c)
{
    c->depth = 0;
    c->positioned = false;
    c->skip_next = false;
    int rc = root_ref(c->bucket, &c->stack[0]);
    if (rc != 0)
        return rc;
    c->depth = 1;
    c->positioned = true;
    return 0;
}

int bolt__cursor_first(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    int rc = cursor_reset(c);
    if (rc == 0)
        rc = descend_first(c);
    if (rc != 0) {
        c->positioned = false;
        return rc;
    }
    if (bolt__ref_count(&c->stack[c->depth - 1]) == 0)
        return cursor_next(c, k, v, flags);
    return key_value(c, k, v, flags);
}

static int cursor_last(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    int rc = cursor_reset(c);
    if (rc != 0)
        return rc;
    size_t n = bolt__ref_count(&c->stack[0]);
    c->stack[0].index = n > 0 ? n - 1 : 0;
    rc = descend_last(c);
    if (rc != 0) {
        c->positioned = false;
        return rc;
    }
    if (bolt__ref_count(&c->stack[c->depth - 1]) == 0)
        return cursor_prev(c, k, v, flags);
    return key_value(c, k, v, flags);
}

int bolt__cursor_seek(bolt_cursor *c, const void *key, size_t ksize, bolt_val *k, bolt_val *v,
                      uint32_t *flags)
{
    int rc = bolt__cursor_search(c, key, ksize, k, v, flags);
    if (rc != BOLT_NOTFOUND || !c->positioned)
        return rc;
    return cursor_next(c, k, v, flags);
}

/*
 * Rule 8: remember the layout of a page the search guessed element g in at
 * depth `level`, and how far the answer was from the guess.
 */
static void shape_learn(bolt_bucket *b, size_t level, const bolt__elemref *r, size_t g)
{
    size_t i = r->index, n = r->page.count;
    if (level >= BOLT_SHAPE_LEVELS)
        return;
    bolt__page_shape *sh = &b->shape[level];
    uint32_t off = (uint32_t)(i > g ? i - g : g - i);
    off = off > 64 ? 64 : off;
    sh->miss = sh->miss - sh->miss / 8 + off * 2; /* converges to 16 x the mean */
    if (i == 0 || i >= n)
        return;
    bolt_val k0, ki;
    bolt__ref_key(r, 0, &k0);
    bolt__ref_key(r, i, &ki);
    const unsigned char *d = r->page.data, *a = k0.data, *z = ki.data;
    if (z <= a)
        return; /* keys not laid out in element order: no stride */
    sh->count = (uint32_t)n;
    sh->kbase = (uint32_t)(a - d);
    sh->stride = (uint32_t)((size_t)(z - a) / i);
}

/*
 * Rule 8: the first byte of page id in the map when a read of it would be
 * allowed (as bolt__tx_page checks it), else NULL: an address only to
 * prefetch. meta.pgid <= BOLT_MAX_MAP_SIZE / ps (meta.c): no product wraps.
 */
static inline const unsigned char *page_addr(const bolt_tx *tx, bolt_pgid id)
{
    uint64_t ps = tx->db->page_size;
    if (tx->db->opt.live || id < 2 || id >= tx->meta.pgid || (id + 1) * ps > tx->limit)
        return NULL;
    return tx->map->base + id * ps;
}

/*
 * Rule 8: the child page at pg (page_addr's) at depth `level` is about to
 * be read and its header was asked for: ask for the lines of the element
 * and key the guess will probe if the child is shaped like the last page
 * seen at that depth. Every address stays inside the child's first page:
 * a wrong shape costs a wasted prefetch, never a read. Always inlined: a
 * called function whose only effect is prefetches is one GCC's -O3 finds
 * "const" and drops, call and all (measured: B4 lost the whole gain).
 */
#define SHAPE_LINES 16 /* rule 8: key lines asked for around a guess, at most */

static inline __attribute__((always_inline)) void
prefetch_shape(const bolt_cursor *c, size_t level, const unsigned char *pg, const place *pl)
{
    uint64_t ps = c->bucket->tx->db->page_size;
    const bolt__page_shape *sh = level < BOLT_SHAPE_LEVELS ? &c->bucket->shape[level] : NULL;
    if (sh == NULL || sh->count == 0)
        return;
    /*
     * The guess, and as many elements either side as guesses at this depth
     * missed by lately (random keys: a few), so the probes of the walk
     * from the guess find their lines too; at most SHAPE_LINES key lines.
     */
    uint64_t g = place_index(pl, sh->count), w = (sh->miss + 15) / 16;
    uint64_t first = g > w ? g - w : 0, last = g + w + 1;
    uint64_t e0 = BOLT_PAGE_HEADER_SIZE + first * 16, e1 = BOLT_PAGE_HEADER_SIZE + last * 16;
    uint64_t k0 = sh->kbase + first * sh->stride, k1 = sh->kbase + last * sh->stride + 64;
    if (k1 > k0 + SHAPE_LINES * 64)
        k1 = k0 + SHAPE_LINES * 64;
    for (uint64_t off = e0 & ~(uint64_t)63; off < e1 && off < ps; off += 64)
        __builtin_prefetch(pg + off);
    for (uint64_t off = k0; off < k1 && off < ps; off += 64)
        __builtin_prefetch(pg + off);
}

int bolt__cursor_search(bolt_cursor *c, const void *key, size_t ksize, bolt_val *k, bolt_val *v,
                        uint32_t *flags)
{
    int rc = cursor_reset(c);
    if (rc != 0)
        return rc;
    /* Rule 7: the key's place in the top page's bracket (the root has none). */
    bool placed = false;
    place pl;
    bolt_val hi_key = { NULL, 0 };     /* the top page's upper bracket key, if any */
    const unsigned char *asked = NULL; /* rule 8: the page whose lines were asked for */
    /* Loop invariant: stack[0..depth) follows rule 2 for `key`; pl places it in the top's bracket.
     */
    for (;;) {
        bolt__elemref *r = &c->stack[c->depth - 1];
        size_t n = bolt__ref_count(r);
        size_t lo = 0, hi = n;
        bool exact = false;
        if (placed && r->node == NULL && n > 0) {
            /*
             * Rule 7. A branch's guess is the last element <= key, so the
             * lower bound starts one past it (the two keys share a line).
             */
            bool leaf = bolt__page_is_leaf(&r->page);
            size_t g = place_index(&pl, n), start = leaf ? g : g + 1;
            if (r->page.data != asked) /* rule 8: a dirty copy, not the page asked for */
                prefetch_shape(c, c->depth - 1, r->page.data, &pl);
            __builtin_prefetch(r->page.data + BOLT_PAGE_HEADER_SIZE + g * 16);
            r->index = guided_lower_bound(r, start, key, ksize, &exact);
            shape_learn(c->bucket, c->depth - 1, r, leaf ? g : g + 1);
        } else {
            if (r->node == NULL) {
                /*
                 * No bracket: ask for the page at once (a leaf's first 4
                 * KiB, a branch's element array): the binary search below
                 * would otherwise miss the cache probe by probe, on element
                 * then key, each miss waiting for the last.
                 */
                size_t end = bolt__page_is_leaf(&r->page) ? r->page.size
                                                          : BOLT_PAGE_HEADER_SIZE + n * 16;
                for (size_t off = 0; off < end && off < 64 * 64; off += 64)
                    __builtin_prefetch(r->page.data + off);
            } else if (n > 0) {
                /*
                 * A node of a write transaction: try its last element first.
                 * Appends (sequential loads, new revisions) land past it, and
                 * one compare replaces a binary search over a node that grows
                 * to thousands of elements before the commit splits it.
                 */
                bolt_val mk;
                bolt__ref_key(r, n - 1, &mk);
                int cmp = bolt__key_cmp(mk.data, mk.size, key, ksize);
                if (cmp < 0) {
                    lo = n;
                } else if (cmp == 0) {
                    lo = hi = n - 1;
                    exact = true;
                } else {
                    hi = n - 1;
                }
            }
            r->index = ref_lower_bound(r, lo, hi, key, ksize, &exact);
        }
        if (bolt__ref_is_leaf(r))
            break;
        if (!exact && r->index > 0)
            r->index--;
        if (r->index >= n)
            r->index = n > 0 ? n - 1 : 0;
        placed = false;
        if (n > 0) {
            /* Rule 8: the child's header first; the bracket is worked out while it comes. */
            const unsigned char *pg = NULL;
            if (r->node == NULL) {
                pg = page_addr(c->bucket->tx,
                               bolt__page_branch_elem(&r->page, (unsigned)r->index, NULL));
                if (pg != NULL)
                    __builtin_prefetch(pg);
            }
            /* Rule 7: the child's bracket; the last child keeps its parent's upper key. */
            bolt_val lo_key;
            bolt__ref_key(r, r->index, &lo_key);
            if (r->index + 1 < n)
                bolt__ref_key(r, r->index + 1, &hi_key);
            placed = hi_key.data != NULL && place_key(lo_key, hi_key, key, ksize, &pl);
            asked = NULL;
            if (placed && pg != NULL) {
                prefetch_shape(c, c->depth, pg, &pl);
                asked = pg;
            }
        }
        rc = push_child(c);
        if (rc != 0) {
            c->positioned = false;
            return rc;
        }
    }
    return key_value(c, k, v, flags);
}

int bolt__cursor_next(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags)
{
    return cursor_next(c, k, v, flags);
}

bool bolt__cursor_at_right_edge(const bolt_cursor *c)
{
    for (size_t i = 0; i + 1 < c->depth; i++)
        if (c->stack[i].index + 1 != bolt__ref_count(&c->stack[i]))
            return false;
    const bolt__elemref *top = &c->stack[c->depth - 1];
    return top->index >= bolt__ref_count(top);
}

int bolt__cursor_node(bolt_cursor *c, bolt__node **out)
{
    bolt__elemref *top = &c->stack[c->depth - 1];
    if (top->node != NULL && top->node->leaf) {
        *out = top->node;
        return 0;
    }
    bolt_bucket *b = c->bucket;
    bolt__node *n = c->stack[0].node;
    if (n == NULL) {
        if (b->root_node == NULL) {
            int rc = bolt__node_read(b, &c->stack[0].page, NULL, &b->root_node);
            if (rc != 0)
                return rc;
        }
        n = b->root_node;
    }
    for (size_t i = 0; i + 1 < c->depth; i++) {
        int rc = bolt__node_child(n, c->stack[i].index, &n);
        if (rc != 0)
            return rc;
    }
    int rc = bolt__node_unpage(n); /* the caller changes it as a node */
    if (rc != 0)
        return rc;
    *out = n;
    return 0;
}

/* ---- public API --------------------------------------------------------- */

static int public_kv(int rc, uint32_t flags, bolt_val *k, bolt_val *v, bolt_val kk, bolt_val vv)
{
    if (rc != 0)
        return rc;
    if (flags & BOLT_LEAF_BUCKET) {
        vv.data = NULL;
        vv.size = 0;
    }
    if (k != NULL)
        *k = kk;
    if (v != NULL)
        *v = vv;
    return 0;
}

int bolt_cursor_open(bolt_bucket *b, bolt_cursor **out)
{
    *out = NULL;
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    bolt_cursor *c = strata_malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    bolt__cursor_init(c, b);
    bolt_tx *tx = b->tx;
    tx->stats.cursor_count++;
    c->next = tx->cursors;
    c->prev = NULL;
    if (tx->cursors != NULL)
        tx->cursors->prev = c;
    tx->cursors = c;
    *out = c;
    return 0;
}

void bolt_cursor_close(bolt_cursor *c)
{
    if (c == NULL)
        return;
    bolt_tx *tx = c->bucket->tx;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        tx->cursors = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    strata_free(c);
}

/* Remember the element a public move stopped on (rule 6). */
static int finish(bolt_cursor *c, int rc, uint32_t flags, bolt_val kk, bolt_val vv, bolt_val *key,
                  bolt_val *value)
{
    c->gen = c->bucket->tx->generation;
    if (rc == 0) {
        c->cur_key = kk.data;
        c->cur_ksize = kk.size;
    }
    return public_kv(rc, flags, key, value, kk, vv);
}

/*
 * Rule 6: after a change made elsewhere in the transaction, find the
 * remembered element again. When it is gone, the cursor stands on its
 * successor and `next` returns that (skip_next).
 */
static int refresh(bolt_cursor *c)
{
    if (!c->positioned || c->gen == c->bucket->tx->generation || c->cur_key == NULL)
        return 0;
    bolt_val k;
    int rc = bolt__cursor_search(c, c->cur_key, c->cur_ksize, &k, NULL, NULL);
    c->gen = c->bucket->tx->generation;
    if (rc != 0 && rc != BOLT_NOTFOUND)
        return rc;
    bool exact = rc == 0 && k.size == c->cur_ksize &&
                 (k.size == 0 || memcmp(k.data, c->cur_key, k.size) == 0);
    c->skip_next = !exact;
    return 0;
}

#define CURSOR_CALL(call)                                 \
    do {                                                  \
        int rc_ = bolt__bucket_usable(c->bucket, false);  \
        if (rc_ != 0)                                     \
            return rc_;                                   \
        bolt_val kk_, vv_;                                \
        uint32_t ff_ = 0;                                 \
        rc_ = call;                                       \
        return finish(c, rc_, ff_, kk_, vv_, key, value); \
    } while (0)

int bolt_cursor_first(bolt_cursor *c, bolt_val *key, bolt_val *value)
{
    CURSOR_CALL(bolt__cursor_first(c, &kk_, &vv_, &ff_));
}

int bolt_cursor_last(bolt_cursor *c, bolt_val *key, bolt_val *value)
{
    CURSOR_CALL(cursor_last(c, &kk_, &vv_, &ff_));
}

static int next_after_refresh(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *f)
{
    int rc = refresh(c);
    if (rc != 0)
        return rc;
    if (c->skip_next) {
        c->skip_next = false;
        rc = key_value(c, k, v, f);
        if (rc != BOLT_NOTFOUND)
            return rc;
    }
    return cursor_next(c, k, v, f);
}

static int prev_after_refresh(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *f)
{
    int rc = refresh(c);
    if (rc != 0)
        return rc;
    c->skip_next = false;
    return cursor_prev(c, k, v, f);
}

/*
 * A scan is about to read the leaf after the current one: ask for its
 * first 4 KiB now. The hardware prefetcher follows a page but never
 * crosses into the next one, so every new leaf otherwise starts with a
 * stall on each line. Only a hint: the id comes from the parent (a page or
 * node already loaded) and is bounded by the map's readable bytes; a wrong
 * guess costs a wasted prefetch, never a read.
 */
static void prefetch_next_leaf(const bolt_cursor *c)
{
    const bolt__elemref *parent = &c->stack[c->depth - 2];
    if (parent->index + 1 >= bolt__ref_count(parent))
        return;
    if (parent->node != NULL && parent->node->inodes[parent->index + 1].child != NULL)
        return;
    bolt_tx *tx = c->bucket->tx;
    uint64_t ps = tx->db->page_size;
    bolt_pgid id = ref_child_pgid(parent, parent->index + 1);
    if (id >= tx->meta.pgid || tx->limit < ps || id > (tx->limit - ps) / ps)
        return;
    const unsigned char *p = tx->map->base + id * ps;
    for (uint64_t off = 0; off < ps && off < 4096; off += 64)
        __builtin_prefetch(p + off);
}

int bolt_cursor_next(bolt_cursor *c, bolt_val *key, bolt_val *value)
{
    /*
     * The common step of a scan: the next element is on the same leaf page
     * (not a node), and nothing changed since the cursor last moved (else
     * refresh must re-find its place first). It is what cursor_next +
     * key_value do for it, without their loop and calls (B5's CPU time
     * -24%; the next-leaf prefetch another -13%).
     */
    if (!c->skip_next && c->positioned && c->depth > 0 && c->gen == c->bucket->tx->generation) {
        bolt__elemref *top = &c->stack[c->depth - 1];
        if (top->node == NULL && top->index + 1 < top->page.count &&
            bolt__page_is_leaf(&top->page)) {
            int rc = bolt__bucket_usable(c->bucket, false);
            if (rc != 0)
                return rc;
            top->index++;
            if (top->index == 1 && c->depth >= 2)
                prefetch_next_leaf(c);
            bolt_val kk, vv;
            uint32_t ff;
            bolt__page_leaf_elem(&top->page, (unsigned)top->index, &ff, &kk, &vv);
            return finish(c, 0, ff, kk, vv, key, value);
        }
    }
    CURSOR_CALL(next_after_refresh(c, &kk_, &vv_, &ff_));
}

int bolt_cursor_prev(bolt_cursor *c, bolt_val *key, bolt_val *value)
{
    CURSOR_CALL(prev_after_refresh(c, &kk_, &vv_, &ff_));
}

int bolt_cursor_seek(bolt_cursor *c, bolt_val seek, bolt_val *key, bolt_val *value)
{
    CURSOR_CALL(bolt__cursor_seek(c, seek.data, seek.size, &kk_, &vv_, &ff_));
}

int bolt_cursor_delete(bolt_cursor *c)
{
    int rc = bolt__bucket_usable(c->bucket, true);
    if (rc == 0)
        rc = refresh(c);
    if (rc != 0)
        return rc;
    bolt_val k, v;
    uint32_t flags;
    if (c->skip_next)
        return BOLT_NOTFOUND; /* what it stood on is already gone */
    rc = key_value(c, &k, &v, &flags);
    if (rc != 0)
        return rc;
    if (flags & BOLT_LEAF_BUCKET)
        return BOLT_EINCOMPATIBLEVALUE;
    /* In the map, the arena or a dirty page (dirty.c rule 2): still readable after del. */
    bolt_val saved = k;
    bolt__dpage *d;
    rc = bolt__dpage_touch(c, 0, &d);
    if (rc == 0)
        rc = bolt__dpage_del(c->bucket->tx, d, c->stack[c->depth - 1].index);
    if (rc == 1) {
        bolt__node *n;
        rc = bolt__cursor_node(c, &n);
        if (rc != 0)
            return rc;
        bolt__node_del(n, saved.data, saved.size);
    } else if (rc != 0) {
        return rc;
    }
    c->bucket->tx->generation++;
    c->gen = c->bucket->tx->generation;
    c->cur_key = saved.data;
    c->cur_ksize = saved.size;
    /* Rule 5: stand on the element after the deleted one. */
    rc = bolt__cursor_search(c, saved.data, saved.size, NULL, NULL, NULL);
    if (rc != 0 && rc != BOLT_NOTFOUND)
        return rc;
    c->skip_next = true;
    return 0;
}
