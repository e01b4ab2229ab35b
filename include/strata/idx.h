/*
 * strata/idx.h: the in-memory key index of the MVCC store: revisions, and
 * for every key the revisions at which it changed, grouped in generations
 * (etcd 3.4.23's treeIndex of keyIndex, docs/schema.md §6 and §8.1).
 *
 * A generation is the life of a key from its creating put to its tombstone
 * (inclusive). Only the last generation of a keyIndex may be empty; it is
 * empty exactly when the key is deleted. Example: put(1) put(2) tomb(3)
 * put(4) tomb(5) gives {1,2,3(t)} {4,5(t)} {}.
 *
 * Thread rules: an idx_key_index and an idx_rev_set are plain values: one
 * thread at a time. An idx_tree is thread-safe: any number of concurrent
 * readers (get, range, revisions, count, range_since, keep, equal, check)
 * and one writer at a time (put, tombstone, restore, insert, compact); the
 * tree serializes writers itself. Compaction releases the tree's lock
 * between small chunks of keys and steps aside for a waiting writer, so
 * puts keep flowing while it walks the tree.
 *
 * Status codes: 0, IDX_NOTFOUND (= STRATA_NOTFOUND, etcd's
 * ErrRevisionNotFound), -ENOMEM / -EOVERFLOW, and the range -5300..-5399
 * below. IDX_EREVISIONORDER, IDX_EEMPTYKEYINDEX, IDX_ENOGENERATIONS and
 * IDX_ERESTORENONEMPTY name cases where etcd 3.4.23 panics and strata
 * returns an error instead; nothing changes when one is returned.
 * IDX_EINVAL is a bad argument; IDX_ECHECK comes from the check functions
 * (and, defensively, from an operation that meets a broken invariant).
 */
#ifndef STRATA_IDX_H
#define STRATA_IDX_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_INDEX)
#error "this layer may not include <strata/idx.h>"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IDX_ERRORS(X)                                                                          \
    X(IDX_EREVISIONORDER, -5300, "idx: put with a revision not above the key's last revision") \
    X(IDX_EEMPTYKEYINDEX, -5301, "idx: operation on an empty keyIndex")                        \
    X(IDX_ENOGENERATIONS, -5302, "idx: operation on a keyIndex that has no generation yet")    \
    X(IDX_ERESTORENONEMPTY, -5303, "idx: restore on a keyIndex that already has generations")  \
    X(IDX_EINVAL, -5304, "idx: invalid argument")                                              \
    X(IDX_ECHECK, -5305, "idx: a keyIndex or tree invariant does not hold")

enum idx_status {
    IDX_NOTFOUND = STRATA_NOTFOUND,
#define IDX__ENUM(name, code, msg) name = (code),
    IDX_ERRORS(IDX__ENUM)
#undef IDX__ENUM
};

/* Describe any code idx or common can return; never NULL. */
STRATA_API const char *idx_strerror(int rc);

/* "IDX_EEMPTYKEYINDEX" for a code of idx's table, else strata_status_name(rc). */
STRATA_API const char *idx_status_name(int rc);

/* ---- revisions ----------------------------------------------------------- */

/*
 * A revision: main is the store revision of a transaction, sub the index of
 * the change inside it. Ordered by (main, sub), as etcd's revision.
 */
typedef struct idx_rev {
    int64_t main;
    int64_t sub;
} idx_rev;

/* -1, 0 or 1 as a is below, equal to or above b in (main, sub) order. */
STRATA_API int idx_rev_cmp(idx_rev a, idx_rev b);
/* a > b in (main, sub) order (etcd's GreaterThan). */
STRATA_API bool idx_rev_greater(idx_rev a, idx_rev b);

/*
 * A growable array of revisions owned by its user: zero-initialize (or
 * idx_rev_array_init), let a function fill it, then idx_rev_array_release.
 * Functions that fill one append to what is there.
 */
typedef struct idx_rev_array {
    idx_rev *revs;
    size_t count;
    size_t cap;
} idx_rev_array;

STRATA_API void idx_rev_array_init(idx_rev_array *a);
/* Frees the storage and re-initializes; NULL is a no-op. */
STRATA_API void idx_rev_array_release(idx_rev_array *a);
/* Appends r. 0 or -ENOMEM (a unchanged). */
STRATA_API int idx_rev_array_push(idx_rev_array *a, idx_rev r);

/*
 * A set of revisions (etcd's `available` map[revision]struct{}): the keep
 * set of a compaction. A hash set; iteration order is unspecified, use
 * idx_rev_set_sorted for a stable order.
 */
typedef struct idx_rev_set idx_rev_set;

/* An empty set in *out (NULL on failure). 0 or -ENOMEM. Free with idx_rev_set_free. */
STRATA_API int idx_rev_set_new(idx_rev_set **out);
/* NULL is a no-op. */
STRATA_API void idx_rev_set_free(idx_rev_set *s);
/* Adds r (no-op if present). 0 or -ENOMEM (s unchanged). */
STRATA_API int idx_rev_set_add(idx_rev_set *s, idx_rev r);
/* Removes r; true if it was there. */
STRATA_API bool idx_rev_set_remove(idx_rev_set *s, idx_rev r);
STRATA_API bool idx_rev_set_contains(const idx_rev_set *s, idx_rev r);
STRATA_API size_t idx_rev_set_count(const idx_rev_set *s);
/* Empties the set, keeping its storage. */
STRATA_API void idx_rev_set_clear(idx_rev_set *s);
/* Same members. */
STRATA_API bool idx_rev_set_equal(const idx_rev_set *a, const idx_rev_set *b);
/* Appends the members to *out in ascending order. 0 or -ENOMEM (out unchanged). */
STRATA_API int idx_rev_set_sorted(const idx_rev_set *s, idx_rev_array *out);

/* ---- keyIndex ------------------------------------------------------------- */

/*
 * The revisions of one key (etcd's keyIndex). Stored compactly: the key and
 * all generations live in one varint-encoded block. The struct is a handle
 * on that block; the block moves when it grows.
 */
typedef struct idx_key_index idx_key_index;

/*
 * A keyIndex for key (copied) with no generation yet and modified {0,0}.
 * 0 or -ENOMEM / -EOVERFLOW (key over 4 GiB); *out NULL on failure.
 */
STRATA_API int idx_key_index_new(const void *key, size_t key_len, idx_key_index **out);
/* NULL is a no-op. */
STRATA_API void idx_key_index_free(idx_key_index *ki);
/*
 * A cache hint, no effect on the keyIndex (a bulk build's look-ahead,
 * mvcc/restore.c): asks the CPU to load the first two cache lines of ki's
 * storage (the key and, for a short history, its newest generation). Reads
 * ki itself, so a caller walking many keys prefetches ki first.
 */
STRATA_API void idx_key_index_prefetch(const idx_key_index *ki);
/* The key's bytes, valid until the keyIndex changes or is freed. */
STRATA_API const uint8_t *idx_key_index_key(const idx_key_index *ki, size_t *len);
/* The last revision put or tombstoned ({0,0} for a new keyIndex). */
STRATA_API idx_rev idx_key_index_modified(const idx_key_index *ki);

/*
 * put(rev): appends rev to the last generation, starting it (created = rev)
 * when it is empty or when there is no generation.
 * 0; IDX_EREVISIONORDER when rev <= modified; -ENOMEM, -EOVERFLOW.
 */
STRATA_API int idx_key_index_put(idx_key_index *ki, idx_rev rev);
/*
 * restore(created, modified, ver) on a keyIndex without generations: one
 * generation {ver, created, [modified]}. 0; IDX_ERESTORENONEMPTY; -ENOMEM.
 */
STRATA_API int idx_key_index_restore(idx_key_index *ki, idx_rev created, idx_rev modified,
                                     int64_t ver);
/*
 * tombstone(rev): put(rev), then a new empty generation.
 * 0; IDX_NOTFOUND when the last generation is empty (the key is deleted;
 * nothing changes); IDX_EEMPTYKEYINDEX; IDX_ENOGENERATIONS;
 * IDX_EREVISIONORDER; -ENOMEM, -EOVERFLOW.
 */
STRATA_API int idx_key_index_tombstone(idx_key_index *ki, idx_rev rev);
/*
 * get(at_rev): the newest revision with main <= at_rev in the generation
 * alive at at_rev, that generation's created revision, and the key's
 * version at that revision. 0 (outs set); IDX_NOTFOUND when the key does
 * not exist at at_rev or its revision there was compacted;
 * IDX_EEMPTYKEYINDEX; IDX_ENOGENERATIONS. Any out pointer may be NULL.
 */
STRATA_API int idx_key_index_get(const idx_key_index *ki, int64_t at_rev, idx_rev *modified,
                                 idx_rev *created, int64_t *ver);
/*
 * since(rev): appends to *out the revisions >= {rev,0} in ascending order,
 * only the highest sub of each main. 0; IDX_EEMPTYKEYINDEX;
 * IDX_ENOGENERATIONS; -ENOMEM (out unchanged).
 */
STRATA_API int idx_key_index_since(const idx_key_index *ki, int64_t rev, idx_rev_array *out);
/*
 * compact(at_rev, available): removes every revision with main <= at_rev
 * except the newest one, and that one too when it is a tombstone; drops
 * generations that end at or before at_rev. Adds the surviving revision
 * <= at_rev (if any) to available. Leaves a single empty generation when
 * nothing survives (is_empty then holds; the tree removes such keys).
 * 0; IDX_EEMPTYKEYINDEX; IDX_ENOGENERATIONS; -ENOMEM (ki and available
 * unchanged).
 */
STRATA_API int idx_key_index_compact(idx_key_index *ki, int64_t at_rev, idx_rev_set *available);
/*
 * keep(at_rev, available): adds to available what compact would, changing
 * nothing. An empty keyIndex adds nothing. 0; IDX_ENOGENERATIONS; -ENOMEM.
 */
STRATA_API int idx_key_index_keep(const idx_key_index *ki, int64_t at_rev, idx_rev_set *available);
/* Exactly one generation and it is empty. */
STRATA_API bool idx_key_index_is_empty(const idx_key_index *ki);
/* Number of generations (0 for a new keyIndex). */
STRATA_API size_t idx_key_index_generations(const idx_key_index *ki);
/*
 * etcd's keyIndex.equal: same key, modified, and generations with the same
 * ver and revisions (created is not compared, as in etcd).
 */
STRATA_API bool idx_key_index_equal(const idx_key_index *a, const idx_key_index *b);
/*
 * Writes a canonical description into buf (always NUL-terminated when
 * size > 0), e.g. "mod=16.0 {c=2.0 v=3 [2.0 4.0 6.0]} {}". Returns the
 * length the full text needs, as snprintf.
 */
STRATA_API size_t idx_key_index_format(const idx_key_index *ki, char *buf, size_t size);
/*
 * Validates the generation invariants (idx/key_index.c rules 1-6). 0, or
 * IDX_ECHECK with a reason in why (if non-NULL, size > 0); -ENOMEM.
 */
STRATA_API int idx_key_index_check(const idx_key_index *ki, char *why, size_t why_size);

/* ---- treeIndex ------------------------------------------------------------ */

typedef struct idx_tree idx_tree;

/* An empty tree in *out (NULL on failure). 0 or -ENOMEM / -errno (lock init). */
STRATA_API int idx_tree_new(idx_tree **out);
/* Frees the tree and its keyIndexes. No other thread may use it. NULL is a no-op. */
STRATA_API void idx_tree_free(idx_tree *t);
/* Number of keys. */
STRATA_API size_t idx_tree_count(idx_tree *t);

/*
 * Put(key, rev): creates the key's keyIndex if absent (key copied), then
 * put(rev). 0; IDX_EREVISIONORDER; -ENOMEM; -EOVERFLOW; IDX_EINVAL (NULL
 * key with a length).
 */
STRATA_API int idx_tree_put(idx_tree *t, const void *key, size_t key_len, idx_rev rev);
/* Tombstone(key, rev): IDX_NOTFOUND when the key is not in the tree, else as keyIndex tombstone. */
STRATA_API int idx_tree_tombstone(idx_tree *t, const void *key, size_t key_len, idx_rev rev);
/*
 * etcd's restore path for one revision: a key not in the tree gets a
 * keyIndex restored to (created, modified, ver); a key present gets
 * put(modified). Codes as put / keyIndex restore.
 */
STRATA_API int idx_tree_restore(idx_tree *t, const void *key, size_t key_len, idx_rev created,
                                idx_rev modified, int64_t ver);
/*
 * Inserts keyIndexes built by the caller (bulk restore on open), replacing
 * (and freeing) any keyIndex of the same key, under one lock. The tree
 * takes ownership of every kis[i] when 0 is returned; on error it takes
 * none, and the tree is unchanged. IDX_EEMPTYKEYINDEX / IDX_ENOGENERATIONS
 * when one of them is empty or has no generation; -ENOMEM.
 */
STRATA_API int idx_tree_insert(idx_tree *t, idx_key_index **kis, size_t n);

/* Get(key, at_rev): as idx_key_index_get; IDX_NOTFOUND when the key is not in the tree. */
STRATA_API int idx_tree_get(idx_tree *t, const void *key, size_t key_len, int64_t at_rev,
                            idx_rev *modified, idx_rev *created, int64_t *ver);

/* A key in a range result: points into the result's own storage. */
typedef struct idx_key {
    const uint8_t *data;
    size_t len;
} idx_key;

/*
 * A cache hint, no effect on the tree: asks the CPU to load what an exact
 * lookup of each of keys[0, n) (idx_tree_get, idx_tree_tombstone) reads
 * first, so a caller about to look up many keys one at a time (a batch of
 * lease revokes) takes their cache misses together, ahead of the lookups
 * and outside its own locks. Thread-safe; never waits: while a writer
 * holds or waits for the tree it does nothing. The keys are borrowed for
 * the call.
 */
STRATA_API void idx_tree_prefetch(idx_tree *t, const idx_key *keys, size_t n);

/*
 * Get of n keys at once (the keys sorted ascending and distinct, e.g. a
 * lease's keys at its revoke): modified[i] receives keys[i]'s revision at
 * at_rev as idx_tree_get gives it, or {0, 0} when the key is absent or not
 * alive there. One cursor walks the sorted keys (a descent only when the
 * next key is not a few slots on), under one read lock. Keys out of order
 * are answered right, only slower. 0, or IDX_EINVAL (a NULL key with a
 * length; nothing answered).
 */
STRATA_API int idx_tree_get_sorted(idx_tree *t, const idx_key *keys, size_t n, int64_t at_rev,
                                   idx_rev *modified);
/*
 * Tombstone of n keys at once (sorted ascending and distinct), keys[i] at
 * revs[i], each as idx_tree_tombstone, walking one cursor under one write
 * lock. *done receives how many were tombstoned: all of them with 0; on an
 * error, keys[0, *done) are tombstoned and keys[*done] failed with it
 * (IDX_NOTFOUND when absent, else as keyIndex tombstone). IDX_EINVAL (a
 * NULL key with a length) changes nothing.
 */
STRATA_API int idx_tree_tombstone_sorted(idx_tree *t, const idx_key *keys, size_t n,
                                         const idx_rev *revs, size_t *done);

/*
 * What idx_tree_tombstone_live calls for each live key before tombstoning
 * it: i is the key's index in the batch, modified its revision at the
 * walk's at_rev (as idx_tree_get gives it). Returns 0 with *rev, the
 * revision to tombstone the key at, or a non-zero status that stops the
 * walk (that key is left as it is). Runs under the tree's write lock: it
 * must not call into this tree.
 */
typedef int (*idx_live_fn)(void *arg, size_t i, idx_rev modified, idx_rev *rev);

/*
 * A sorted lookup and tombstone in one walk (a revoke's keys: the store
 * writes each tombstone's record between the two): for each of the n keys
 * (sorted ascending and distinct) that exists and is alive at at_rev,
 * fn(arg, i, its revision there, &rev), then the key is tombstoned at rev
 * as idx_tree_tombstone does; absent keys and keys not alive at at_rev are
 * passed over. One cursor walk under one write lock (so the key's block
 * is still in cache for its tombstone: idx_tree_get_sorted followed by
 * idx_tree_tombstone_sorted fetched every block twice). *done receives how
 * many keys were tombstoned. Returns 0; fn's first non-zero status (keys
 * before it tombstoned, that one not); a tombstone's failure (as
 * idx_tree_tombstone; fn already ran for that key); or IDX_EINVAL (a NULL
 * key with a length; nothing done). Keys out of order are answered right,
 * only slower.
 */
STRATA_API int idx_tree_tombstone_live(idx_tree *t, const idx_key *keys, size_t n, int64_t at_rev,
                                       idx_live_fn fn, void *arg, size_t *done);

/*
 * The result of a range: count entries (keys[i], revs[i]) in key order, at
 * most the limit, and total, the number of keys that matched (etcd 3.4's
 * len(revpairs), which it returns as the range's Count). Zero-initialize,
 * then idx_range_result_release. keys is NULL when keys were not asked for.
 */
typedef struct idx_range_result {
    size_t count;
    size_t total;
    idx_key *keys;
    idx_rev *revs;
    uint8_t *key_bytes; /* storage behind keys[i].data */
    size_t key_bytes_len;
} idx_range_result;

/* Frees everything and zeroes r; NULL is a no-op. */
STRATA_API void idx_range_result_release(idx_range_result *r);

/*
 * Range(key, end, at_rev, limit): end == NULL looks up key alone (as Get,
 * returning key as given); otherwise the keys k with key <= k < end (no
 * upper bound when end_len == 0) that exist at at_rev, each with its
 * revision there. limit 0 means no limit; past the limit keys are counted
 * in total but not collected. with_keys false collects revisions only
 * (etcd's Revisions). Fills *out (released first). 0 or -ENOMEM (out zeroed).
 * Holds the read lock for the walk.
 */
STRATA_API int idx_tree_range(idx_tree *t, const void *key, size_t key_len, const void *end,
                              size_t end_len, int64_t at_rev, size_t limit, bool with_keys,
                              idx_range_result *out);
/*
 * One page of a range, for streaming: the keys k >= key (> key when
 * after_key) and below end (end_len 0: no bound) that exist at at_rev,
 * with their revisions, stopping as soon as limit (> 0; 0 = no limit) are
 * collected: the walk never goes past the page, so reading a range page by
 * page costs each key once. total = count. Keys are always collected.
 * Fills *out (released first). 0 or -ENOMEM (out zeroed).
 */
STRATA_API int idx_tree_range_page(idx_tree *t, const void *key, size_t key_len, bool after_key,
                                   const void *end, size_t end_len, int64_t at_rev, size_t limit,
                                   idx_range_result *out);
/* CountRevisions (etcd 3.5): the total of idx_tree_range without collecting. Always succeeds. */
STRATA_API size_t idx_tree_count_revisions(idx_tree *t, const void *key, size_t key_len,
                                           const void *end, size_t end_len, int64_t at_rev);
/*
 * RangeSince(key, end, rev): appends the since(rev) revisions of every key
 * in the range (end as in idx_tree_range), sorted by revision.
 * 0 or -ENOMEM (out unchanged).
 */
STRATA_API int idx_tree_range_since(idx_tree *t, const void *key, size_t key_len, const void *end,
                                    size_t end_len, int64_t rev, idx_rev_array *out);
/*
 * Compact(rev): keyIndex compact on every key, removing keys left empty.
 * *keep receives the set of revisions <= rev that survive (owned by the
 * caller, idx_rev_set_free). Walks the tree in chunks of keys, taking the
 * write lock per chunk and giving it up as soon as a writer waits, so puts
 * proceed during the walk; readers wait at most one chunk. Keys inserted
 * during the walk carry revisions above rev and need nothing. Run one
 * compaction at a time (as etcd's scheduler does). 0 or -ENOMEM (keys
 * already compacted stay so; *keep NULL).
 */
STRATA_API int idx_tree_compact(idx_tree *t, int64_t rev, idx_rev_set **keep);
/*
 * Keep(rev): the set Compact(rev) would return, changing nothing. Walks in
 * chunks under the read lock like compact. 0 or -ENOMEM (*keep NULL).
 */
STRATA_API int idx_tree_keep(idx_tree *t, int64_t rev, idx_rev_set **keep);
/* Same keys with equal keyIndexes (idx_key_index_equal). Locks a, then b. */
STRATA_API bool idx_tree_equal(idx_tree *a, idx_tree *b);
/*
 * Validates the tree (ordered map structure, balance, counts) and every
 * keyIndex in it (none empty). 0 or IDX_ECHECK with a reason in why;
 * -ENOMEM.
 */
STRATA_API int idx_tree_check(idx_tree *t, char *why, size_t why_size);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_IDX_H */
