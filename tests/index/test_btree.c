/*
 * test_btree.c: index/btree.c, the B+tree under the tree index: inserts in
 * order, in reverse and at random, deletes down to nothing, cursors, all
 * against a sorted reference array, with idx__btree_check after every
 * change (rbtree_test's way) on small trees and every few hundred on big ones.
 */
#define HARNESS_STRERROR(rc) idx_strerror(rc)
#include <strata/idx.h>

#include "../../index/idx_int.h"
#include "../harness.h"

static void check_tree(const idx__btree *bt)
{
    char why[256];
    int rc = idx__btree_check(bt, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
}

static idx__ki *block(uint64_t v)
{
    char key[32];
    int n = snprintf(key, sizeof key, "key-%08llu", (unsigned long long)v);
    idx__ki *k;
    ASSERT_OK(idx__ki_new(key, (size_t)n, &k));
    return k;
}

static void key_of(uint64_t v, char *key, size_t *len)
{
    *len = (size_t)snprintf(key, 32, "key-%08llu", (unsigned long long)v);
}

/* present[v]: v in the tree. Verifies find, and a full cursor walk. */
static void verify(idx__btree *bt, const bool *present, uint64_t space)
{
    size_t count = 0;
    for (uint64_t v = 0; v < space; v++) {
        char key[32];
        size_t len;
        key_of(v, key, &len);
        idx__ki **slot = idx__btree_find(bt, key, len);
        ASSERT_EQ_INT(slot != NULL, present[v]);
        if (slot != NULL)
            ASSERT_EQ_MEM((*slot)->data, (*slot)->key_len, key, len);
        count += present[v];
    }
    ASSERT_EQ_SIZE(bt->count, count);
    idx__bcursor c;
    uint64_t v = 0;
    size_t seen = 0;
    for (bool ok = idx__btree_seek(bt, "", 0, false, &c); ok; ok = idx__bcursor_next(&c)) {
        while (v < space && !present[v])
            v++;
        char key[32];
        size_t len;
        key_of(v, key, &len);
        idx__ki *k = *idx__bcursor_slot(&c);
        ASSERT_EQ_MEM(k->data, k->key_len, key, len);
        v++;
        seen++;
    }
    ASSERT_EQ_SIZE(seen, count);
}

static void test_sequential_fill(void)
{
    idx__btree bt;
    idx__btree_init(&bt);
    const uint64_t n = 20000;
    for (uint64_t v = 0; v < n; v++) {
        ASSERT_OK(idx__btree_insert(&bt, block(v)));
        if (v < 2000 || v % 500 == 0)
            check_tree(&bt);
    }
    check_tree(&bt);
    /* Rule 4: in-order inserts fill leaves: 62 keys per leaf, few nodes. */
    ASSERT_LE_U64(bt.nodes, n / 62 + n / 62 / 60 + 8);
    static bool present[20000];
    for (uint64_t v = 0; v < n; v++)
        present[v] = true;
    verify(&bt, present, n);
    idx__btree_release(&bt, true);
}

static void test_reverse_and_random(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    for (int mode = 0; mode < 2; mode++) {
        idx__btree bt;
        idx__btree_init(&bt);
        enum { N = 6000 };
        static bool present[N];
        memset(present, 0, sizeof present);
        for (uint64_t i = 0; i < N; i++) {
            uint64_t v = mode == 0 ? N - 1 - i : strata_rng_below(&rng, N);
            if (present[v])
                continue;
            ASSERT_OK(idx__btree_insert(&bt, block(v)));
            present[v] = true;
            check_tree(&bt);
        }
        verify(&bt, present, N);
        idx__btree_release(&bt, true);
    }
}

static void test_delete(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 1);
    enum { N = 8000 };
    static bool present[N];
    for (int mode = 0; mode < 4; mode++) {
        idx__btree bt;
        idx__btree_init(&bt);
        for (uint64_t v = 0; v < N; v++) {
            ASSERT_OK(idx__btree_insert(&bt, block(v)));
            present[v] = true;
        }
        /* mode 0: front to back, 1: back to front, 2: random, 3: every other then rest */
        for (uint64_t i = 0; i < 3 * N; i++) {
            uint64_t v;
            if (mode == 0)
                v = i % N;
            else if (mode == 1)
                v = N - 1 - i % N;
            else if (mode == 2)
                v = strata_rng_below(&rng, N);
            else
                v = i < N / 2 ? 2 * i : (2 * i + 1) % N;
            char key[32];
            size_t len;
            key_of(v, key, &len);
            idx__ki *k = idx__btree_delete(&bt, key, len);
            ASSERT_EQ_INT(k != NULL, present[v]);
            free(k);
            present[v] = false;
            if (i % 7 == 0 || bt.count < 300)
                check_tree(&bt);
            /* Random mode re-inserts now and then, to mix splits and merges. */
            if (mode == 2 && strata_rng_below(&rng, 3) == 0) {
                uint64_t w = strata_rng_below(&rng, N);
                if (!present[w]) {
                    ASSERT_OK(idx__btree_insert(&bt, block(w)));
                    present[w] = true;
                }
            }
        }
        check_tree(&bt);
        verify(&bt, present, N);
        idx__btree_release(&bt, true);
    }
}

static void test_delete_to_empty(void)
{
    idx__btree bt;
    idx__btree_init(&bt);
    for (uint64_t v = 0; v < 5000; v++)
        ASSERT_OK(idx__btree_insert(&bt, block(v)));
    for (uint64_t v = 0; v < 5000; v++) {
        char key[32];
        size_t len;
        key_of((v * 7919) % 5000, key, &len);
        free(idx__btree_delete(&bt, key, len));
        check_tree(&bt);
    }
    ASSERT_EQ_SIZE(bt.count, 0);
    ASSERT_NULL(bt.root);
    ASSERT_NULL(idx__btree_find(&bt, "key-00000001", 12));
    idx__bcursor c;
    ASSERT_FALSE(idx__btree_seek(&bt, "", 0, false, &c));
    ASSERT_NULL(idx__btree_delete(&bt, "x", 1));
    idx__btree_release(&bt, true);
}

static void test_seek(void)
{
    idx__btree bt;
    idx__btree_init(&bt);
    for (uint64_t v = 0; v < 3000; v += 2)
        ASSERT_OK(idx__btree_insert(&bt, block(v)));
    for (uint64_t v = 0; v < 3002; v++) {
        char key[32];
        size_t len;
        key_of(v, key, &len);
        idx__bcursor c;
        for (int strict = 0; strict < 2; strict++) {
            /* first key >= v (or > v): the next even number */
            uint64_t want = (v % 2 == 0 && !strict) ? v : (v % 2 == 0 ? v + 2 : v + 1);
            bool ok = idx__btree_seek(&bt, key, len, strict, &c);
            ASSERT_EQ_INT(ok, want < 3000);
            if (ok) {
                char wk[32];
                size_t wl;
                key_of(want, wk, &wl);
                idx__ki *k = *idx__bcursor_slot(&c);
                ASSERT_EQ_MEM(k->data, k->key_len, wk, wl);
            }
        }
    }
    /* Keys that are prefixes of others, and the empty key. */
    idx__ki *k;
    ASSERT_OK(idx__ki_new("", 0, &k));
    ASSERT_OK(idx__btree_insert(&bt, k));
    ASSERT_OK(idx__ki_new("key-", 4, &k));
    ASSERT_OK(idx__btree_insert(&bt, k));
    check_tree(&bt);
    idx__bcursor c;
    ASSERT_TRUE(idx__btree_seek(&bt, "", 0, false, &c));
    ASSERT_EQ_SIZE((*idx__bcursor_slot(&c))->key_len, 0);
    ASSERT_TRUE(idx__bcursor_next(&c));
    ASSERT_EQ_SIZE((*idx__bcursor_slot(&c))->key_len, 4);
    ASSERT_TRUE(idx__bcursor_next(&c));
    ASSERT_EQ_SIZE((*idx__bcursor_slot(&c))->key_len, 12);
    ASSERT_NOT_NULL(idx__btree_find(&bt, "", 0));
    idx__btree_release(&bt, true);
}

/* ---- arbitrary keys: zero bytes, long shared prefixes, prefixes of each other -- */

enum { NRAND = 3000 };

typedef struct rkey {
    uint8_t b[48];
    size_t len;
    bool in;
} rkey;

static int rkey_cmp(const void *a, const void *b)
{
    const rkey *x = a, *y = b;
    return idx__key_cmp(x->b, x->len, y->b, y->len);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* idx__key_cmp (inline, 8 bytes at a time, libc past 64) against memcmp. */
static void test_key_cmp(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 3);
    uint8_t a[100], b[100];
    for (int i = 0; i < 200000; i++) {
        size_t alen = strata_rng_below(&rng, 81), blen = strata_rng_below(&rng, 81);
        for (size_t j = 0; j < sizeof a; j++)
            a[j] = b[j] = (uint8_t)strata_rng_below(&rng, 4); /* small alphabet: long ties */
        size_t diff = strata_rng_below(&rng, 100);
        if (strata_rng_below(&rng, 2))
            b[diff] = (uint8_t)strata_rng_below(&rng, 256);
        size_t n = alen < blen ? alen : blen;
        int want = n ? sign(memcmp(a, b, n)) : 0;
        if (want == 0)
            want = alen < blen ? -1 : alen > blen;
        ASSERT_EQ_INT(sign(idx__key_cmp(a, alen, b, blen)), want);
        ASSERT_EQ_INT(sign(idx__bytes_cmp(a, b, n)), n ? sign(memcmp(a, b, n)) : 0);
    }
}

static void test_arbitrary_keys(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + 2);
    static rkey keys[NRAND];
    static const uint8_t alphabet[] = { 0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff };
    size_t n = 0;
    while (n < NRAND) {
        rkey k = { { 0 }, 0, false };
        /* a long common stem for some, so leaf prefixes exceed the 16 hint-prefix bytes */
        size_t stem = strata_rng_below(&rng, 3) == 0 ? 20 : strata_rng_below(&rng, 4);
        memset(k.b, 'S', stem);
        k.len = stem + strata_rng_below(&rng, 12);
        for (size_t i = stem; i < k.len; i++)
            k.b[i] = alphabet[strata_rng_below(&rng, sizeof alphabet)];
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = keys[j].len == k.len && memcmp(keys[j].b, k.b, k.len) == 0;
        if (!dup)
            keys[n++] = k;
    }
    qsort(keys, NRAND, sizeof keys[0], rkey_cmp);
    idx__btree bt;
    idx__btree_init(&bt);
    for (int step = 0; step < 30000; step++) {
        rkey *k = &keys[strata_rng_below(&rng, NRAND)];
        if (!k->in) {
            idx__ki *blk;
            ASSERT_OK(idx__ki_new(k->b, k->len, &blk));
            ASSERT_OK(idx__btree_insert(&bt, blk));
            k->in = true;
        } else if (strata_rng_below(&rng, 3) == 0) {
            free(idx__btree_delete(&bt, k->b, k->len));
            k->in = false;
        }
        if (step % 97 == 0)
            check_tree(&bt);
        /* find and seek agree with the sorted reference */
        size_t q = strata_rng_below(&rng, NRAND);
        ASSERT_EQ_INT(idx__btree_find(&bt, keys[q].b, keys[q].len) != NULL, keys[q].in);
        bool strict = strata_rng_below(&rng, 2);
        size_t want = strict ? q + 1 : q;
        while (want < NRAND && !keys[want].in)
            want++;
        idx__bcursor c;
        bool ok = idx__btree_seek(&bt, keys[q].b, keys[q].len, strict, &c);
        ASSERT_EQ_INT(ok, want < NRAND);
        if (ok) {
            const idx__ki *got = *idx__bcursor_slot(&c);
            ASSERT_EQ_MEM(got->data, got->key_len, keys[want].b, keys[want].len);
        }
    }
    check_tree(&bt);
    idx__btree_release(&bt, true);
}

/* The checkers catch what they claim to: break an invariant, expect IDX_ECHECK. */
static void test_checks_fail(void)
{
    char why[256];
    idx__btree bt;
    idx__btree_init(&bt);
    for (uint64_t v = 0; v < 500; v++)
        ASSERT_OK(idx__btree_insert(&bt, block(v)));
    check_tree(&bt);
    idx__bcursor c;
    ASSERT_TRUE(idx__btree_seek(&bt, "key-00000100", 12, false, &c));
    idx__ki **a = idx__bcursor_slot(&c);
    ASSERT_TRUE(idx__bcursor_next(&c));
    idx__ki **b = idx__bcursor_slot(&c);
    idx__ki *tmp = *a;
    *a = *b;
    *b = tmp;
    ASSERT_RC(idx__btree_check(&bt, why, sizeof why), IDX_ECHECK);
    *b = *a;
    *a = tmp;
    check_tree(&bt);
    bt.count++;
    ASSERT_RC(idx__btree_check(&bt, why, sizeof why), IDX_ECHECK);
    bt.count--;
    idx__btree_release(&bt, true);

    idx__ki *k;
    ASSERT_OK(idx__ki_new("k", 1, &k));
    ASSERT_OK(idx__ki_put(&k, (idx_rev){ 5, 0 }));
    ASSERT_OK(idx__ki_tombstone(&k, (idx_rev){ 6, 0 }));
    ASSERT_OK(idx__ki_check(k, why, sizeof why));
    k->modified.main = 9; /* rule 5 */
    ASSERT_RC(idx__ki_check(k, why, sizeof why), IDX_ECHECK);
    k->modified.main = 6;
    uint32_t last = k->last;
    k->last = k->key_len; /* rule 1 */
    ASSERT_RC(idx__ki_check(k, why, sizeof why), IDX_ECHECK);
    k->last = last;
    k->len--; /* the encoding no longer ends at len */
    ASSERT_RC(idx__ki_check(k, why, sizeof why), IDX_ECHECK);
    k->len++;
    ASSERT_OK(idx__ki_check(k, why, sizeof why));
    free(k);
}

int main(void)
{
    HARNESS_BEGIN(7);
    RUN(test_sequential_fill);
    RUN(test_reverse_and_random);
    RUN(test_delete);
    RUN(test_delete_to_empty);
    RUN(test_seek);
    RUN(test_key_cmp);
    RUN(test_arbitrary_keys);
    RUN(test_checks_fail);
    return 0;
}
