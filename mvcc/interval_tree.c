/*
 * interval_tree.c: an AVL tree of byte-string intervals augmented with the
 * greatest high of each subtree (interval_tree.h).
 *
 * Invariants (mvcc__itree_check verifies each):
 *   1. In-order, the (low, high) pairs strictly ascend; high_inf sorts after
 *      every finite high.
 *   2. Every interval is non-empty: low < high, or high_inf.
 *   3. height(n) = 1 + max(height(left), height(right)), and the two child
 *      heights differ by at most 1.
 *   4. maxn(n) is a node of greatest high among n and its descendants.
 * Every function that changes a child pointer calls fix() on the node
 * afterwards, bottom-up, which restores rules 3 (heights) and 4.
 */
#include "interval_tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <strata/common.h>

int mvcc__bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Compares two highs, +infinity greatest. */
static int high_cmp(const uint8_t *a, size_t alen, bool ainf, const uint8_t *b, size_t blen,
                    bool binf)
{
    if (ainf || binf)
        return ainf == binf ? 0 : (ainf ? 1 : -1);
    return mvcc__bytes_cmp(a, alen, b, blen);
}

/* Compares the interval (low, high) with node n's. */
static int ivl_cmp(const uint8_t *low, size_t low_len, const uint8_t *high, size_t high_len,
                   bool high_inf, const mvcc__inode *n)
{
    int c = mvcc__bytes_cmp(low, low_len, n->low, n->low_len);
    if (c != 0)
        return c;
    return high_cmp(high, high_len, high_inf, n->high, n->high_len, n->high_inf);
}

/* Whether node n's high lies strictly above key (so key < high). */
static bool high_above(const mvcc__inode *n, const void *key, size_t key_len)
{
    return n->high_inf || mvcc__bytes_cmp(key, key_len, n->high, n->high_len) < 0;
}

static int height(const mvcc__inode *n)
{
    return n ? n->height : 0;
}

static const mvcc__inode *max_of(const mvcc__inode *a, const mvcc__inode *b)
{
    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    return high_cmp(a->high, a->high_len, a->high_inf, b->high, b->high_len, b->high_inf) >= 0 ? a
                                                                                               : b;
}

static void fix(mvcc__inode *n)
{
    int hl = height(n->left), hr = height(n->right);
    n->height = 1 + (hl > hr ? hl : hr);
    n->maxn = max_of(n, max_of(n->left ? n->left->maxn : NULL, n->right ? n->right->maxn : NULL));
}

static mvcc__inode *rotate_right(mvcc__inode *n)
{
    mvcc__inode *l = n->left;
    n->left = l->right;
    l->right = n;
    fix(n);
    fix(l);
    return l;
}

static mvcc__inode *rotate_left(mvcc__inode *n)
{
    mvcc__inode *r = n->right;
    n->right = r->left;
    r->left = n;
    fix(n);
    fix(r);
    return r;
}

/* Restores balance at n after one of its subtrees changed height by one. */
static mvcc__inode *rebalance(mvcc__inode *n)
{
    fix(n);
    int b = height(n->left) - height(n->right);
    if (b > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (b < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

void mvcc__itree_init(mvcc__itree *t)
{
    t->root = NULL;
    t->count = 0;
}

static void destroy_rec(mvcc__inode *n, void (*free_val)(void *))
{
    while (n != NULL) {
        destroy_rec(n->left, free_val);
        mvcc__inode *r = n->right;
        if (free_val != NULL)
            free_val(n->val);
        strata_free(n);
        n = r;
    }
}

void mvcc__itree_destroy(mvcc__itree *t, void (*free_val)(void *val))
{
    destroy_rec(t->root, free_val);
    mvcc__itree_init(t);
}

typedef struct ins_ctx {
    const uint8_t *low, *high;
    size_t low_len, high_len;
    bool high_inf;
    void *val;
    mvcc__inode *found;
    int rc;
} ins_ctx;

static mvcc__inode *node_new(const ins_ctx *c)
{
    size_t hl = c->high_inf ? 0 : c->high_len;
    if (c->low_len > SIZE_MAX / 2 - sizeof(mvcc__inode) || hl > SIZE_MAX / 2)
        return NULL;
    mvcc__inode *n = strata_malloc(sizeof *n + c->low_len + hl + 1);
    if (n == NULL)
        return NULL;
    uint8_t *bytes = (uint8_t *)(n + 1);
    if (c->low_len)
        memcpy(bytes, c->low, c->low_len);
    if (hl)
        memcpy(bytes + c->low_len, c->high, hl);
    n->left = n->right = NULL;
    n->height = 1;
    n->high_inf = c->high_inf;
    n->low = bytes;
    n->low_len = c->low_len;
    n->high = bytes + c->low_len;
    n->high_len = hl;
    n->val = c->val;
    n->maxn = n;
    return n;
}

static mvcc__inode *insert_rec(mvcc__inode *n, ins_ctx *c)
{
    if (n == NULL) {
        mvcc__inode *m = node_new(c);
        if (m == NULL)
            c->rc = -ENOMEM;
        c->found = m;
        return m;
    }
    int cmp = ivl_cmp(c->low, c->low_len, c->high, c->high_len, c->high_inf, n);
    if (cmp == 0) {
        c->rc = STRATA_EXISTS;
        c->found = n;
        return n;
    }
    if (cmp < 0)
        n->left = insert_rec(n->left, c);
    else
        n->right = insert_rec(n->right, c);
    return c->rc == 0 ? rebalance(n) : n;
}

int mvcc__itree_insert(mvcc__itree *t, const void *low, size_t low_len, const void *high,
                       size_t high_len, bool high_inf, void *val, mvcc__inode **out)
{
    ins_ctx c = { low, high, low_len, high_inf ? 0 : high_len, high_inf, val, NULL, 0 };
    t->root = insert_rec(t->root, &c);
    if (c.rc == 0)
        t->count++;
    if (out != NULL)
        *out = c.found;
    return c.rc;
}

mvcc__inode *mvcc__itree_find(const mvcc__itree *t, const void *low, size_t low_len,
                              const void *high, size_t high_len, bool high_inf)
{
    mvcc__inode *n = t->root;
    while (n != NULL) {
        int cmp = ivl_cmp(low, low_len, high, high_inf ? 0 : high_len, high_inf, n);
        if (cmp == 0)
            return n;
        n = cmp < 0 ? n->left : n->right;
    }
    return NULL;
}

/* Unlinks the smallest node of the subtree n into *min; returns the new subtree. */
static mvcc__inode *remove_min(mvcc__inode *n, mvcc__inode **min)
{
    if (n->left == NULL) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return rebalance(n);
}

static mvcc__inode *remove_rec(mvcc__inode *n, ins_ctx *c)
{
    if (n == NULL)
        return NULL;
    int cmp = ivl_cmp(c->low, c->low_len, c->high, c->high_len, c->high_inf, n);
    if (cmp < 0) {
        n->left = remove_rec(n->left, c);
    } else if (cmp > 0) {
        n->right = remove_rec(n->right, c);
    } else {
        c->found = n;
        if (n->left == NULL || n->right == NULL)
            return n->left ? n->left : n->right;
        mvcc__inode *succ;
        mvcc__inode *r = remove_min(n->right, &succ);
        succ->left = n->left;
        succ->right = r;
        return rebalance(succ);
    }
    return rebalance(n);
}

void *mvcc__itree_remove(mvcc__itree *t, const void *low, size_t low_len, const void *high,
                         size_t high_len, bool high_inf)
{
    ins_ctx c = { low, high, low_len, high_inf ? 0 : high_len, high_inf, NULL, NULL, 0 };
    t->root = remove_rec(t->root, &c);
    if (c.found == NULL)
        return NULL;
    void *val = c.found->val;
    strata_free(c.found);
    t->count--;
    return val;
}

/*
 * Invariant of the walk: every interval of subtree n that contains key is
 * reported, in order. A subtree whose greatest high is not above key holds
 * none; a node whose low is above key has only larger lows to its right.
 */
static int stab_rec(const mvcc__inode *n, const void *key, size_t key_len,
                    int (*fn)(void *, mvcc__inode *), void *arg)
{
    while (n != NULL && high_above(n->maxn, key, key_len)) {
        int rc = stab_rec(n->left, key, key_len, fn, arg);
        if (rc != 0)
            return rc;
        if (mvcc__bytes_cmp(n->low, n->low_len, key, key_len) > 0)
            return 0;
        if (high_above(n, key, key_len)) {
            rc = fn(arg, (mvcc__inode *)n);
            if (rc != 0)
                return rc;
        }
        n = n->right;
    }
    return 0;
}

int mvcc__itree_stab(const mvcc__itree *t, const void *key, size_t key_len,
                     int (*fn)(void *arg, mvcc__inode *n), void *arg)
{
    return stab_rec(t->root, key, key_len, fn, arg);
}

static int stop_at_first(void *arg, mvcc__inode *n)
{
    (void)arg;
    (void)n;
    return 1;
}

bool mvcc__itree_contains(const mvcc__itree *t, const void *key, size_t key_len)
{
    return stab_rec(t->root, key, key_len, stop_at_first, NULL) != 0;
}

/* ---- check ------------------------------------------------------------- */

typedef struct check_ctx {
    char *why;
    size_t why_size;
    const mvcc__inode *prev;
    size_t count;
} check_ctx;

static int check_fail(check_ctx *c, const char *fmt, ...)
{
    if (c->why != NULL && c->why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->why_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Checks subtree n; *h receives its height. */
static int check_rec(const mvcc__inode *n, check_ctx *c, int *h)
{
    if (n == NULL) {
        *h = 0;
        return 0;
    }
    int hl, hr;
    if (check_rec(n->left, c, &hl) != 0)
        return -1;
    c->count++;
    if (!n->high_inf && mvcc__bytes_cmp(n->low, n->low_len, n->high, n->high_len) >= 0)
        return check_fail(c, "node %zu: empty interval (low >= high)", c->count);
    if (c->prev != NULL &&
        ivl_cmp(n->low, n->low_len, n->high, n->high_len, n->high_inf, c->prev) <= 0)
        return check_fail(c, "node %zu: not above its in-order predecessor", c->count);
    c->prev = n;
    size_t idx = c->count;
    if (check_rec(n->right, c, &hr) != 0)
        return -1;
    if (n->height != 1 + (hl > hr ? hl : hr))
        return check_fail(c, "node %zu: height %d, children %d and %d", idx, n->height, hl, hr);
    if (hl - hr > 1 || hr - hl > 1)
        return check_fail(c, "node %zu: unbalanced (%d vs %d)", idx, hl, hr);
    const mvcc__inode *m =
            max_of(n, max_of(n->left ? n->left->maxn : NULL, n->right ? n->right->maxn : NULL));
    if (n->maxn == NULL || high_cmp(n->maxn->high, n->maxn->high_len, n->maxn->high_inf, m->high,
                                    m->high_len, m->high_inf) != 0)
        return check_fail(c, "node %zu: subtree max high is stale", idx);
    *h = n->height;
    return 0;
}

int mvcc__itree_check(const mvcc__itree *t, char *why, size_t why_size)
{
    check_ctx c = { why, why_size, NULL, 0 };
    int h;
    if (check_rec(t->root, &c, &h) != 0)
        return -1;
    if (c.count != t->count)
        return check_fail(&c, "count %zu but %zu nodes", t->count, c.count);
    return 0;
}
