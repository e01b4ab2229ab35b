/*
 * idx_int.h: index's private types shared by its files: the keyIndex block
 * (key_index.c), the ordered map over blocks (btree.c) used by the tree
 * (tree_index.c).
 */
#ifndef STRATA_IDX_INT_H
#define STRATA_IDX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/idx.h>

#include "be64.h"
#include "strata_config.h"

/*
 * A keyIndex block: one allocation holding the key and its generations.
 * data[0, key_len) is the key; data[key_len, len) the generations, each
 *   zz(ver) zz(created.main) zz(created.sub) uv(nrevs) then nrevs revisions,
 *   the first as zz(main - created.main) zz(sub), the others as
 *   uv(main - previous main) zz(sub)
 * (uv: unsigned LEB128 varint; zz: zigzag then uv; differences in
 * two's-complement 64-bit arithmetic, so any int64 round-trips).
 * last is the offset of the last generation's header (== len when there
 * is no generation).
 */
typedef struct idx__ki {
    idx_rev modified;
    uint32_t len;
    uint32_t last;
    uint32_t key_len;
    uint8_t data[];
} idx__ki;

struct idx_key_index {
    idx__ki *blk;
};

/* key_index.c: the operations on blocks; *pk may be reallocated. */
int idx__ki_new(const void *key, size_t key_len, idx__ki **out);
int idx__ki_put(idx__ki **pk, idx_rev rev);
int idx__ki_tombstone(idx__ki **pk, idx_rev rev);
int idx__ki_restore(idx__ki **pk, idx_rev created, idx_rev modified, int64_t ver);
int idx__ki_get(const idx__ki *k, int64_t at_rev, idx_rev *modified, idx_rev *created,
                int64_t *ver);
int idx__ki_since(const idx__ki *k, int64_t rev, idx_rev_array *out);
int idx__ki_compact(idx__ki **pk, int64_t at_rev, idx_rev_set *available);
/* compact / keep reporting the revision they would add to available. */
int idx__ki_compact_rev(idx__ki **pk, int64_t at_rev, idx_rev *kept, bool *has);
int idx__ki_keep_rev(const idx__ki *k, int64_t at_rev, idx_rev *kept, bool *has);
int idx__ki_keep(const idx__ki *k, int64_t at_rev, idx_rev_set *available);
bool idx__ki_is_empty(const idx__ki *k);
bool idx__ki_equal(const idx__ki *a, const idx__ki *b);
int idx__ki_check(const idx__ki *k, char *why, size_t why_size);
size_t idx__ki_format(const idx__ki *k, char *buf, size_t size);

/*
 * memcmp's sign for n bytes, inline: keys are short (etcd keys are tens of
 * bytes), and a call into libc's memcmp cost more than the compare itself
 * on every step of a descent. Long runs still go to libc's vector code.
 */
static inline int idx__bytes_cmp(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n > 64)
        return __builtin_memcmp(a, b, n);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = strata__load_be64(a + i), y = strata__load_be64(b + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    for (; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

static inline int idx__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = idx__bytes_cmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/*
 * btree.c: an in-memory B+tree mapping key bytes to keyIndex blocks (the
 * key is read from the block). Not thread-safe; tree_index.c locks.
 */
typedef struct idx__btree {
    void *root;        /* a leaf when height == 0 */
    int height;        /* levels of inner nodes above the leaves */
    size_t count;      /* blocks in the tree */
    size_t nodes;      /* nodes allocated */
    uint64_t version;  /* bumped by every insert and delete (cursors go stale) */
    bool underfull_ok; /* a delete could not rebalance (btree.c rule 4) */
} idx__btree;

/* A position: leaf and slot. Invalidated by any insert or delete. */
typedef struct idx__bcursor {
    void *leaf;
    unsigned pos;
} idx__bcursor;

void idx__btree_init(idx__btree *bt);
/* Frees the nodes, and each block with strata_free() when free_blocks. */
void idx__btree_release(idx__btree *bt, bool free_blocks);
/* The slot holding key's block, or NULL. The slot may be written (block moved). */
idx__ki **idx__btree_find(idx__btree *bt, const void *key, size_t key_len);
/*
 * The slot holding blk, found by its key (key, key_len) without reading blk
 * or comparing with it: blk may have been freed by a realloc that moved
 * the block (the caller then stores the new address). NULL if no slot
 * holds blk.
 */
idx__ki **idx__btree_find_block(idx__btree *bt, const void *key, size_t key_len,
                                const idx__ki *blk);
/* Inserts k, whose key is absent. 0 or -ENOMEM (tree unchanged). */
int idx__btree_insert(idx__btree *bt, idx__ki *k);
/*
 * One descent for "find or create": when key is present, *slot is its
 * slot and 0 is returned; else make(ctx, &k) builds the block, which is
 * inserted (*slot NULL). Codes of make, or -ENOMEM (the made block freed;
 * the tree unchanged).
 */
int idx__btree_upsert(idx__btree *bt, const void *key, size_t key_len,
                      int (*make)(void *ctx, idx__ki **out), void *ctx, idx__ki ***slot);
/* Removes key's block and returns it (NULL if absent). */
idx__ki *idx__btree_delete(idx__btree *bt, const void *key, size_t key_len);
/* Cursor at the first key >= key (or > key when strict); false at the end. */
bool idx__btree_seek(const idx__btree *bt, const void *key, size_t key_len, bool strict,
                     idx__bcursor *c);
/* The block's slot at c (valid position). */
idx__ki **idx__bcursor_slot(const idx__bcursor *c);
/* Next position; false at the end. */
bool idx__bcursor_next(idx__bcursor *c);
/* Starts loading the block `ahead` slots after c, if in the same leaf. */
void idx__bcursor_prefetch(const idx__bcursor *c, unsigned ahead);
/* Validates the structure (order, separators, depth, fill, count). */
int idx__btree_check(const idx__btree *bt, char *why, size_t why_size);

/*
 * key_hash.c: key bytes -> the block of that key, beside the B+tree
 * (tree_index.c rule 5). Not thread-safe; tree_index.c locks. Blocks are
 * not owned: the tree frees them.
 */
typedef struct idx__kslot {
    uint64_t hash;
    idx__ki *blk; /* NULL: empty */
} idx__kslot;

typedef struct idx__khash {
    idx__kslot *slots; /* mask + 1 of them, or NULL before the first reserve */
    size_t mask;
    size_t count;
    uint64_t seed;
} idx__khash;

void idx__khash_init(idx__khash *h);
void idx__khash_release(idx__khash *h);
/* The table's hash of key (seeded per table). */
uint64_t idx__khash_of(const idx__khash *h, const void *key, size_t len);
/* The block of key, or NULL. */
idx__ki *idx__khash_find(const idx__khash *h, const void *key, size_t len);
idx__ki *idx__khash_find_hashed(const idx__khash *h, uint64_t hv, const void *key, size_t len);
/* Starts loading key's home slot. */
void idx__khash_prefetch(const idx__khash *h, const void *key, size_t len);
/* Room for n entries in all, so inserts up to n never allocate. 0 or -ENOMEM (unchanged). */
int idx__khash_reserve(idx__khash *h, size_t n);
/* Adds blk, whose key is absent, after a reserve that left room (hv: its hash). */
void idx__khash_insert(idx__khash *h, idx__ki *blk);
void idx__khash_insert_hashed(idx__khash *h, uint64_t hv, idx__ki *blk);
/*
 * The entry of old (possibly freed: never read) now holds blk, with the
 * same key. false when old has no entry (nothing changes).
 */
bool idx__khash_replace(idx__khash *h, const idx__ki *old, idx__ki *blk);
/* Removes blk's entry (blk still readable). false when it has none. */
bool idx__khash_remove(idx__khash *h, const idx__ki *blk);
/* Validates key_hash.c's rules 1 and 3 (run reachability, stored hashes, count). */
int idx__khash_check(const idx__khash *h, char *why, size_t why_size);

/* revision.c: room for n more members without allocating. 0 or -ENOMEM. */
int idx__rev_set_reserve(idx_rev_set *s, size_t n);

/* revision.c: why formatting shared by the check functions. */
int idx__fail(char *why, size_t why_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Test-only (compiled with -Dfailpoints=true; tree_index.c, watch's): a
 * chunked walk (compact, keep) calls idx__walk_hook(idx__walk_hook_arg, n)
 * holding the tree's lock before each key, n being the keys it has done in
 * this chunk; set both before the walk starts. idx__tree_someone_waits: a
 * thread waits for the tree's lock (announced to a walk, or asleep on it).
 */
#if STRATA_FAILPOINTS
typedef void (*idx__walk_hook_fn)(void *arg, size_t n);
extern idx__walk_hook_fn idx__walk_hook;
extern void *idx__walk_hook_arg;
bool idx__tree_someone_waits(idx_tree *t);
#endif

#endif
