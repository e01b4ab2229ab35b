/*
 * test_key_hash: index/key_hash.c against a reference (which blocks are in),
 * with its rules checked after every change (idx__khash_check), and the
 * tree's use of it (tree_index.c rule 5): blocks that move while their key
 * grows or is compacted, bulk inserts that replace keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/idx.h>

#include "../../index/idx_int.h"
#include "../harness.h"

static void check_hash(const idx__khash *h)
{
    char why[256];
    int rc = idx__khash_check(h, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
}

static void check_tree(idx_tree *t)
{
    char why[256];
    int rc = idx_tree_check(t, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
}

enum { NBLK = 2000 };

/*
 * Random inserts, removals and replacements (moves) of the blocks of NBLK
 * keys against the reference `in`, the table's seed fixed from the
 * printed seed; the table grows from its smallest size on the way.
 */
static void test_against_reference(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    static idx__ki *in[NBLK]; /* the block of key i in the table, or NULL */
    memset(in, 0, sizeof in);
    idx__khash h;
    idx__khash_init(&h);
    h.seed = harness_seed(); /* a fixed layout for the printed seed */
    size_t count = 0;
    for (int step = 0; step < 40000; step++) {
        int i = (int)strata_rng_below(&rng, NBLK);
        char key[24];
        int klen = snprintf(key, sizeof key, "key/%d/%s", i, i % 3 ? "long-suffix" : "");
        unsigned op = (unsigned)strata_rng_below(&rng, 10);
        if (in[i] == NULL && op < 6) {
            idx__ki *k;
            ASSERT_OK(idx__ki_new(key, (size_t)klen, &k));
            ASSERT_OK(idx__khash_reserve(&h, count + 1));
            idx__khash_insert(&h, k);
            in[i] = k;
            count++;
        } else if (in[i] != NULL && op < 3) {
            ASSERT_TRUE(idx__khash_remove(&h, in[i]));
            strata_free(in[i]);
            in[i] = NULL;
            count--;
        } else if (in[i] != NULL && op < 5) {
            /* a move: the old block is freed before the table hears of it */
            idx__ki *k;
            ASSERT_OK(idx__ki_new(key, (size_t)klen, &k));
            idx__ki *old = in[i];
            strata_free(old);
            ASSERT_TRUE(idx__khash_replace(&h, old, k));
            in[i] = k;
        }
        ASSERT_EQ_SIZE(h.count, count);
        ASSERT_TRUE(idx__khash_find(&h, key, (size_t)klen) == in[i]);
        if (step % 500 == 0 || count < 40) {
            check_hash(&h);
            for (int j = 0; j < NBLK; j++) {
                klen = snprintf(key, sizeof key, "key/%d/%s", j, j % 3 ? "long-suffix" : "");
                ASSERT_TRUE(idx__khash_find(&h, key, (size_t)klen) == in[j]);
            }
        }
    }
    /* a key that is a prefix of a present one, and the empty key */
    ASSERT_TRUE(idx__khash_find(&h, "key/1", 5) == NULL);
    ASSERT_TRUE(idx__khash_find(&h, "", 0) == NULL);
    for (int j = 0; j < NBLK; j++)
        strata_free(in[j]);
    idx__khash_release(&h);
}

/*
 * A table filled to its 5/8 limit has long runs, some wrapping around the
 * array's end: remove entries in random order, checking after each removal
 * that every other entry is still reachable (rule 2's backward shift).
 */
static void test_full_table_removals(void)
{
    idx__khash h;
    idx__khash_init(&h);
    h.seed = harness_seed() + 1;
    ASSERT_OK(idx__khash_reserve(&h, 40)); /* 64 slots, 40 entries at most */
    ASSERT_EQ_SIZE(h.mask + 1, 64);
    idx__ki *k[40];
    for (int i = 0; i < 40; i++) {
        char key[8];
        int n = snprintf(key, sizeof key, "%d", i);
        ASSERT_OK(idx__ki_new(key, (size_t)n, &k[i]));
        idx__khash_insert(&h, k[i]);
    }
    ASSERT_EQ_SIZE(h.mask + 1, 64); /* reserve made the room: no growth */
    check_hash(&h);
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 2);
    for (int left = 40; left > 0; left--) {
        int i = (int)strata_rng_below(&rng, (uint64_t)left);
        ASSERT_TRUE(idx__khash_remove(&h, k[i]));
        strata_free(k[i]);
        k[i] = k[left - 1];
        check_hash(&h);
        for (int j = 0; j < left - 1; j++)
            ASSERT_TRUE(idx__khash_find(&h, k[j]->data, k[j]->key_len) == k[j]);
    }
    ASSERT_EQ_SIZE(h.count, 0);
    /* an absent block: false, and nothing changes (no endless probe) */
    idx__ki *stray;
    ASSERT_OK(idx__ki_new("stray", 5, &stray));
    ASSERT_TRUE(!idx__khash_remove(&h, stray));
    ASSERT_TRUE(!idx__khash_replace(&h, stray, stray));
    ASSERT_EQ_SIZE(h.count, 0);
    strata_free(stray);
    idx__khash_release(&h);
}

/* Through the tree: keys whose blocks move (long histories, compaction's shrink). */
static void test_tree_moves(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    int64_t rev = 2;
    char key[32];
    /* 500 keys, each put 1..64 times: blocks grow through several sizes */
    for (int round = 0; round < 64; round++)
        for (int i = 0; i < 500; i++)
            if (i % 64 >= round) {
                int n = snprintf(key, sizeof key, "/registry/pods/%05d", i);
                ASSERT_OK(idx_tree_put(t, key, (size_t)n, (idx_rev){ rev++, 0 }));
            }
    check_tree(t);
    /* tombstone a third, compact half-way: blocks shrink (move) or go */
    for (int i = 0; i < 500; i += 3) {
        int n = snprintf(key, sizeof key, "/registry/pods/%05d", i);
        ASSERT_OK(idx_tree_tombstone(t, key, (size_t)n, (idx_rev){ rev++, 0 }));
    }
    idx_rev_set *keep = NULL;
    ASSERT_OK(idx_tree_compact(t, rev - 1, &keep));
    idx_rev_set_free(keep);
    check_tree(t);
    ASSERT_EQ_SIZE(idx_tree_count(t), 500 - 167);
    for (int i = 0; i < 500; i++) {
        int n = snprintf(key, sizeof key, "/registry/pods/%05d", i);
        idx_rev m;
        int rc = idx_tree_get(t, key, (size_t)n, rev, &m, NULL, NULL);
        ASSERT_EQ_INT(rc, i % 3 == 0 ? IDX_NOTFOUND : 0);
    }
    /* a bulk insert replacing present keys and adding new ones */
    idx_key_index *kis[300];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof key, "/registry/pods/%05d", 400 + i);
        ASSERT_OK(idx_key_index_new(key, (size_t)n, &kis[i]));
        ASSERT_OK(idx_key_index_put(kis[i], (idx_rev){ rev + i, 0 }));
    }
    ASSERT_OK(idx_tree_insert(t, kis, 300));
    check_tree(t);
    for (int i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof key, "/registry/pods/%05d", 400 + i);
        idx_rev m;
        ASSERT_OK(idx_tree_get(t, key, (size_t)n, INT64_MAX, &m, NULL, NULL));
        ASSERT_EQ_INT(m.main, rev + i);
    }
    /* restores of new keys, then puts on them */
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof key, "/registry/nodes/%03d", i);
        ASSERT_OK(idx_tree_restore(t, key, (size_t)n, (idx_rev){ 5, 0 }, (idx_rev){ 6, 0 }, 2));
    }
    check_tree(t);
    idx_tree_free(t);
}

int main(void)
{
    HARNESS_BEGIN(17);
    RUN(test_against_reference);
    RUN(test_full_table_removals);
    RUN(test_tree_moves);
    return 0;
}
