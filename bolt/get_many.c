/*
 * get_many.c: many point lookups in one bucket at once (bolt_bucket_get_many).
 *
 * A point get of a large tree waits for memory at every level below the
 * cached top: the leaf's header, then the element array, then each key the
 * binary search probes, then the value, each miss waiting for the one
 * before. An mvcc range of 100 keys makes 100 such descents into
 * revisions scattered over the whole key bucket. Done one after the other,
 * the CPU waits ~100 ns per miss; interleaved, the misses of different
 * keys overlap.
 *
 * Rules:
 *   1. The keys go in groups of GROUP. Each key of a group is a small state
 *      machine, stepped round-robin, so between asking for a line
 *      (__builtin_prefetch) and reading it every other key of the group
 *      takes a step:
 *        DESCEND: load the page (bolt__tx_page: checked as any load); a
 *          branch is searched at once (its lines are mostly cached) and its
 *          child's first lines (header and elements) are asked for; a leaf
 *          asks for the lines of its keys (all of them up to MAX_KEY_LINES,
 *          else those of the first probes) and becomes
 *        LEAF: binary search, ask for the value's lines, DONE.
 *   2. Results are exactly bolt_bucket_get's: branch lookup takes the last
 *      element <= key (element 0 below all), a leaf needs an exact match,
 *      a nested bucket's name is not a value (cursor.c rule 2).
 *   3. Only the committed pages of a read transaction take this path;
 *      a write transaction (nodes, dirty pages), an inline bucket and a
 *      live open (private page copies) make one bolt_bucket_get per key.
 *   4. Depth is bounded by BOLT_MAX_DEPTH (a cycle in a corrupt file is
 *      BOLT_ECORRUPT), as for a cursor.
 */
#include "bolt_int.h"

#define GROUP         32
#define MAX_KEY_LINES 32 /* a leaf with more elements prefetches its first probes only */

enum { DESCEND, LEAF, DONE };

typedef struct slot {
    bolt__page page; /* LEAF: the leaf */
    bolt_pgid pgid;  /* DESCEND: the page to load next */
    unsigned depth;
    int state;
} slot;

/* First element whose key is >= key (rule 2); *exact when equal. */
static size_t page_lower_bound(const bolt__page *p, const void *key, size_t ksize, bool *exact)
{
    size_t lo = 0, hi = p->count;
    bool leaf = bolt__page_is_leaf(p);
    *exact = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bolt_val mk;
        if (leaf)
            bolt__page_leaf_elem(p, (unsigned)mid, NULL, &mk, NULL);
        else
            bolt__page_branch_elem(p, (unsigned)mid, &mk);
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

static void prefetch_lines(const unsigned char *p, size_t n)
{
    for (size_t off = 0; off < n; off += 64)
        __builtin_prefetch(p + off);
}

/* Rule 1: a leaf was reached: ask for the lines its binary search reads. */
static void prefetch_leaf_keys(const bolt__page *p)
{
    unsigned n = p->count;
    if (n <= MAX_KEY_LINES) {
        for (unsigned i = 0; i < n; i++) {
            bolt_val k;
            bolt__page_leaf_elem(p, i, NULL, &k, NULL);
            __builtin_prefetch(k.data);
        }
        return;
    }
    /* The first three levels of the binary search: n/2, n/4, 3n/4, n/8 ... */
    for (unsigned d = 2; d <= 8; d *= 2)
        for (unsigned j = 1; j < d; j += 2) {
            bolt_val k;
            bolt__page_leaf_elem(p, (unsigned)((uint64_t)n * j / d), NULL, &k, NULL);
            __builtin_prefetch(k.data);
        }
}

/* One step of key's state machine (rule 1); 0 or an error. */
static int step(bolt_tx *tx, slot *s, bolt_val key, bolt_val *value)
{
    uint64_t ps = tx->db->page_size;
    if (s->state == DESCEND) {
        int rc = bolt__tx_page(tx, s->pgid, &s->page);
        if (rc != 0)
            return rc;
        if (bolt__page_is_leaf(&s->page)) {
            prefetch_leaf_keys(&s->page);
            s->state = LEAF;
            return 0;
        }
        bool exact;
        size_t i = page_lower_bound(&s->page, key.data, key.size, &exact);
        if (!exact && i > 0)
            i--;
        if (i >= s->page.count)
            i = s->page.count - 1; /* a checked branch has count >= 1 */
        bolt_pgid child = bolt__page_branch_elem(&s->page, (unsigned)i, NULL);
        if (++s->depth >= BOLT_MAX_DEPTH)
            return bolt__corrupt(tx->db, child, "tree deeper than 64 levels (a cycle?)");
        s->pgid = child;
        /* Its header and first elements; bolt__tx_page checks the id before any read. */
        if (child >= 2 && child < tx->meta.pgid && (child + 1) * ps <= tx->limit)
            prefetch_lines(tx->map->base + child * ps, 256);
        return 0;
    }
    bool exact;
    size_t i = page_lower_bound(&s->page, key.data, key.size, &exact);
    s->state = DONE;
    if (!exact)
        return 0;
    uint32_t flags;
    bolt_val k, v;
    bolt__page_leaf_elem(&s->page, (unsigned)i, &flags, &k, &v);
    if (flags & BOLT_LEAF_BUCKET)
        return 0; /* a nested bucket: not a value (rule 2) */
    prefetch_lines(v.data, v.size < 512 ? v.size : 512);
    *value = v;
    return 0;
}

int bolt_bucket_get_many(bolt_bucket *b, const bolt_val *keys, size_t n, bolt_val *values)
{
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    if (n > 0 && (keys == NULL || values == NULL))
        return STRATA_EMISUSE;
    for (size_t i = 0; i < n; i++)
        values[i] = (bolt_val){ NULL, 0 };
    bolt_tx *tx = b->tx;
    if (tx->writable || b->root == 0 || b->root_node != NULL || tx->db->opt.live) {
        /* Rule 3. */
        for (size_t i = 0; i < n; i++) {
            rc = bolt_bucket_get(b, keys[i], &values[i]);
            if (rc == BOLT_NOTFOUND)
                values[i] = (bolt_val){ NULL, 0 };
            else if (rc != 0)
                return rc;
        }
        return 0;
    }
    for (size_t base = 0; base < n; base += GROUP) {
        size_t m = n - base < GROUP ? n - base : GROUP;
        slot s[GROUP];
        for (size_t i = 0; i < m; i++) {
            s[i].pgid = b->root;
            s[i].depth = 0;
            s[i].state = DESCEND;
        }
        /* Loop invariant: `left` slots are not DONE; each DONE slot's value is set. */
        size_t left = m;
        while (left > 0) {
            for (size_t i = 0; i < m; i++) {
                if (s[i].state == DONE)
                    continue;
                rc = step(tx, &s[i], keys[base + i], &values[base + i]);
                if (rc != 0)
                    return rc;
                left -= s[i].state == DONE;
            }
        }
    }
    return 0;
}
