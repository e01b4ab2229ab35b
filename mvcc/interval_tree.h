/*
 * interval_tree.h: a set of half-open byte-string intervals [low, high),
 * each carrying a value, answering "which intervals contain this key"
 * (a stabbing query). The watchable store keeps its range watchers here
 * (etcd's adt.IntervalTree with StringAffineComparable; docs/schema.md §11).
 *
 * The bounds are byte strings compared as unsigned bytes, shorter prefix
 * first; `high_inf` stands for etcd's empty range end, "every key >= low".
 * A key k is in [low, high) iff low <= k and (high_inf or k < high).
 * An interval is identified by its (low, high) pair: the tree holds each
 * pair at most once (the caller keeps a set of watchers per interval).
 *
 * Shape: an AVL tree ordered by (low, high), each node also holding the
 * node of greatest high in its subtree. A stab for k descends only into
 * subtrees whose greatest high lies above k and whose lows can be <= k, so
 * it visits the O(log n) nodes of k's search path plus, in each subtree it
 * enters, only nodes that have a match below them: O(log n + m log(n/m))
 * for m matches, never a scan of the intervals that do not contain k.
 *
 * Not thread-safe: the caller serializes all calls (the watchable store's
 * mutex). Bounds are copied on insert; the tree owns them.
 */
#ifndef STRATA_MVCC_INTERVAL_TREE_H
#define STRATA_MVCC_INTERVAL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mvcc__inode mvcc__inode;

/* A tree node. Fields are read-only for callers, except val. */
struct mvcc__inode {
    mvcc__inode *left, *right;
    const mvcc__inode *maxn; /* the node of greatest high in this subtree */
    int height;              /* a leaf has height 1 */
    bool high_inf;           /* high is +infinity (high_len is 0) */
    const uint8_t *low;      /* owned, in the same allocation */
    size_t low_len;
    const uint8_t *high; /* owned, in the same allocation; unused when high_inf */
    size_t high_len;
    void *val; /* the caller's */
};

typedef struct mvcc__itree {
    mvcc__inode *root;
    size_t count;
} mvcc__itree;

/* An empty tree. */
void mvcc__itree_init(mvcc__itree *t);

/*
 * Frees every node; free_val (may be NULL) is called on each value first.
 * The tree is empty afterwards.
 */
void mvcc__itree_destroy(mvcc__itree *t, void (*free_val)(void *val));

/*
 * Adds [low, high) (high ignored when high_inf) with val. Returns 0 and the
 * new node in *out (may be NULL); STRATA_EXISTS when the pair is already in
 * the tree (*out is then the existing node, val is not stored); -ENOMEM.
 * Precondition: the interval is not empty (low < high, or high_inf).
 */
int mvcc__itree_insert(mvcc__itree *t, const void *low, size_t low_len, const void *high,
                       size_t high_len, bool high_inf, void *val, mvcc__inode **out);

/* The node of exactly [low, high), or NULL. */
mvcc__inode *mvcc__itree_find(const mvcc__itree *t, const void *low, size_t low_len,
                              const void *high, size_t high_len, bool high_inf);

/*
 * Removes the interval [low, high) and returns its value, or NULL when it
 * is not in the tree (so a stored NULL value cannot be told apart: callers
 * store non-NULL values). The node is freed.
 */
void *mvcc__itree_remove(mvcc__itree *t, const void *low, size_t low_len, const void *high,
                         size_t high_len, bool high_inf);

/*
 * Calls fn for every interval that contains key, in (low, high) order,
 * until fn returns non-zero (then returns that value). Returns 0 when fn
 * never stopped it. fn must not change the tree.
 */
int mvcc__itree_stab(const mvcc__itree *t, const void *key, size_t key_len,
                     int (*fn)(void *arg, mvcc__inode *n), void *arg);

/* Whether some interval contains key (etcd's Intersects with a point). */
bool mvcc__itree_contains(const mvcc__itree *t, const void *key, size_t key_len);

/*
 * Checks every invariant: strict (low, high) order, no empty interval,
 * AVL balance and heights, maxn of every subtree, count. Returns 0, or -1
 * with the first broken rule written to why (NUL-terminated, at most
 * why_size bytes; why may be NULL).
 */
int mvcc__itree_check(const mvcc__itree *t, char *why, size_t why_size);

/* Compares two byte strings: unsigned bytes, a proper prefix first. */
int mvcc__bytes_cmp(const void *a, size_t alen, const void *b, size_t blen);

#endif
