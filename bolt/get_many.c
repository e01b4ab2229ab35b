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
 *      A page whose parent bracketed it (rule 5) takes two more steps
 *      instead of the binary search over cold lines:
 *        ELEMS: the guessed element and the next one are read (their line
 *          was asked for on arrival) and their key lines (a leaf: the
 *          key's and the value's lines) asked for, with a branch's guessed
 *          child's first lines (nearly always the child taken);
 *        KEYS: the guess is verified, moved at most WALK elements, and
 *          taken; when it is still wrong the page's search is done as
 *          without a guess (a branch at once, a leaf through LEAF).
 *   2. Results are exactly bolt_bucket_get's: branch lookup takes the last
 *      element <= key (element 0 below all), a leaf needs an exact match,
 *      a nested bucket's name is not a value (cursor.c rule 2).
 *   3. Only the committed pages of a read transaction take this path;
 *      a write transaction (nodes, dirty pages), an inline bucket and a
 *      live open (private page copies) make one bolt_bucket_get per key.
 *   4. Depth is bounded by BOLT_MAX_DEPTH (a cycle in a corrupt file is
 *      BOLT_ECORRUPT), as for a cursor.
 *   5. The guess. A branch element's key is a lower bound of its child's
 *      keys and the next element's key an upper bound, so a child comes
 *      with a bracket [lo, hi) (the first 8 key bytes, big-endian: an
 *      mvcc revision key's main revision), the last child inheriting its
 *      parent's hi. In a bracketed page of n elements the key t is
 *      guessed at element (t - lo) * n / (hi - lo): exact in a leaf of the
 *      key bucket (consecutive revisions) and within an element or two in
 *      its branches. A guess is only a place to look first: a branch
 *      takes element g only when (g == 0 or key[g] <= t) and (g is last
 *      or t < key[g + 1]), a leaf only on an exact match, which on a
 *      well-formed page (sorted keys) is exactly what the binary search
 *      finds; on a corrupt one, as before, no read leaves the checked
 *      page. A page with no usable bracket (the root, the right spine, keys
 *      whose first 8 bytes do not differ) is searched as before.
 */
#include "bolt_int.h"

#define GROUP         32
#define MAX_KEY_LINES 32 /* a leaf with more elements prefetches its first probes only */
#define WALK          3  /* rule 5: elements a guess may move before the search takes over */

enum { DESCEND, ELEMS, KEYS, LEAF, DONE };

typedef struct slot {
    bolt__page page; /* ELEMS, KEYS, LEAF: the page */
    bolt_pgid pgid;  /* DESCEND: the page to load next */
    uint64_t lo, hi; /* rule 5: the bracket of the page to load, when bounded */
    unsigned depth;
    unsigned guess; /* ELEMS, KEYS: the element guessed */
    bool bounded;
    int state;
} slot;

/* Rule 5: the first 8 bytes of a key, big-endian, zero-padded. */
static uint64_t key_prefix(const void *key, size_t n)
{
    unsigned char b[8] = { 0 };
    memcpy(b, key, n < 8 ? n : 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

/* Rule 5: the element of a bracketed page of n (>= 1) elements to look at first. */
static bool guess_elem(const slot *s, uint64_t t, unsigned n, unsigned *g)
{
    if (n == 0 || !s->bounded || s->hi <= s->lo || t < s->lo || t >= s->hi)
        return false; /* n == 0: an empty leaf (a hostile file's) has nothing to guess */
    uint64_t off = t - s->lo, span = s->hi - s->lo;
    uint64_t i =
            off < (UINT64_C(1) << 32) ? off * n / span : (uint64_t)((double)off / (double)span * n);
    *g = i < n ? (unsigned)i : n - 1;
    return true;
}

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

/* Descend from branch page s->page to its element i: the child's bracket (rule 5), its first lines.
 */
static int descend_to(bolt_tx *tx, slot *s, size_t i)
{
    uint64_t ps = tx->db->page_size;
    bolt_val k;
    bolt_pgid child = bolt__page_branch_elem(&s->page, (unsigned)i, &k);
    uint64_t lo = key_prefix(k.data, k.size);
    if (i + 1 < s->page.count) {
        bolt__page_branch_elem(&s->page, (unsigned)i + 1, &k);
        s->hi = key_prefix(k.data, k.size);
        s->bounded = true;
    } /* else the parent's bracket's hi, if it had one */
    s->lo = lo;
    if (++s->depth >= BOLT_MAX_DEPTH)
        return bolt__corrupt(tx->db, child, "tree deeper than 64 levels (a cycle?)");
    s->pgid = child;
    s->state = DESCEND;
    /* Its header and first elements; bolt__tx_page checks the id before any read. */
    if (child >= 2 && child < tx->meta.pgid && (child + 1) * ps <= tx->limit)
        prefetch_lines(tx->map->base + child * ps, 256);
    return 0;
}

/* The branch's binary search: the last element <= key, element 0 below all (rule 2). */
static size_t branch_search(const bolt__page *p, bolt_val key)
{
    bool exact;
    size_t i = page_lower_bound(p, key.data, key.size, &exact);
    if (!exact && i > 0)
        i--;
    if (i >= p->count)
        i = p->count - 1; /* a checked branch has count >= 1 */
    return i;
}

/* Key of element i of a leaf or branch page. */
static bolt_val elem_key(const bolt__page *p, unsigned i)
{
    bolt_val k;
    if (bolt__page_is_leaf(p))
        bolt__page_leaf_elem(p, i, NULL, &k, NULL);
    else
        bolt__page_branch_elem(p, i, &k);
    return k;
}

/* The leaf's element i matches: its value, unless it names a nested bucket (rule 2). */
static void leaf_found(slot *s, unsigned i, bolt_val *value)
{
    uint32_t flags;
    bolt_val v;
    bolt__page_leaf_elem(&s->page, i, &flags, NULL, &v);
    s->state = DONE;
    if (flags & BOLT_LEAF_BUCKET)
        return;
    prefetch_lines(v.data, v.size < 512 ? v.size : 512);
    *value = v;
}

/* KEYS (rule 5): the guess verified or moved; else the search as without one. */
static int check_guess(bolt_tx *tx, slot *s, bolt_val key, bolt_val *value)
{
    const bolt__page *p = &s->page;
    unsigned n = p->count, g = s->guess;
    if (bolt__page_is_leaf(p)) {
        int dir = 0;
        for (int w = 0; w <= WALK; w++) {
            bolt_val k = elem_key(p, g);
            int c = bolt__key_cmp(k.data, k.size, key.data, key.size);
            if (c == 0) {
                leaf_found(s, g, value);
                return 0;
            }
            int want = c < 0 ? 1 : -1; /* the way to the key */
            if ((dir != 0 && want != dir) || (want > 0 ? g + 1 >= n : g == 0))
                break; /* between two neighbours, or at an end: the search decides */
            dir = want;
            g = (unsigned)((int)g + want);
        }
        prefetch_leaf_keys(p);
        s->state = LEAF;
        return 0;
    }
    for (int w = 0; w <= WALK; w++) {
        if (g > 0) {
            bolt_val k = elem_key(p, g);
            if (bolt__key_cmp(k.data, k.size, key.data, key.size) > 0) {
                g--;
                continue;
            }
        }
        if (g + 1 < n) {
            bolt_val k = elem_key(p, g + 1);
            if (bolt__key_cmp(k.data, k.size, key.data, key.size) <= 0) {
                g++;
                continue;
            }
        }
        return descend_to(tx, s, g);
    }
    return descend_to(tx, s, branch_search(p, key));
}

/* One step of key's state machine (rule 1); 0 or an error. */
static int step(bolt_tx *tx, slot *s, bolt_val key, bolt_val *value)
{
    switch (s->state) {
    case DESCEND: {
        int rc = bolt__tx_page(tx, s->pgid, &s->page);
        if (rc != 0)
            return rc;
        unsigned g;
        if (guess_elem(s, key_prefix(key.data, key.size), s->page.count, &g)) {
            /* Rule 5: the guess's element (and the next) first. */
            const unsigned char *e = s->page.data + BOLT_PAGE_HEADER_SIZE + (size_t)g * 16;
            __builtin_prefetch(e);
            if (g + 1 < s->page.count)
                __builtin_prefetch(e + 16);
            s->guess = g;
            s->state = ELEMS;
            return 0;
        }
        if (bolt__page_is_leaf(&s->page)) {
            prefetch_leaf_keys(&s->page);
            s->state = LEAF;
            return 0;
        }
        return descend_to(tx, s, branch_search(&s->page, key));
    }
    case ELEMS: {
        const bolt__page *p = &s->page;
        unsigned g = s->guess;
        if (bolt__page_is_leaf(p)) {
            bolt_val k, v;
            bolt__page_leaf_elem(p, g, NULL, &k, &v);
            __builtin_prefetch(k.data);
            prefetch_lines(v.data, v.size < 512 ? v.size : 512);
        } else {
            bolt_val k;
            bolt_pgid child = bolt__page_branch_elem(p, g, &k);
            __builtin_prefetch(k.data);
            if (g + 1 < p->count)
                __builtin_prefetch(elem_key(p, g + 1).data);
            /* The guessed child's first lines too (and its translation), while the keys that
             * confirm the guess load; bolt__tx_page checks the id before any read. */
            uint64_t ps = tx->db->page_size;
            if (child >= 2 && child < tx->meta.pgid && (child + 1) * ps <= tx->limit)
                prefetch_lines(tx->map->base + child * ps, 256);
        }
        s->state = KEYS;
        return 0;
    }
    case KEYS:
        return check_guess(tx, s, key, value);
    default: { /* LEAF */
        bool exact;
        size_t i = page_lower_bound(&s->page, key.data, key.size, &exact);
        s->state = DONE;
        if (exact)
            leaf_found(s, (unsigned)i, value);
        return 0;
    }
    }
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
            s[i].bounded = false; /* rule 5: the root has no bracket */
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
