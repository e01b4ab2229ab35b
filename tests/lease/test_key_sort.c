/*
 * test_key_sort.c: lease/key_sort.c, a revoke's keys sorted and packed.
 * Seeded random key sets, each shaped to reach one part of the radix sort
 * (no common prefix; a long common prefix; runs that agree on 8, 16, 24
 * bytes and recurse; keys that are prefixes of each other, zero bytes
 * included, so a shorter key and its zero-padded digit tie; 0xff bytes;
 * the empty key; sizes around the insertion-sort cut-off), each against
 * qsort by the store's key order (memcmp, then length), each sorted key
 * pointing at its own gathered copy in kb->raw; pushed in random, sorted
 * and reversed order, and with the introsort's budget at 1 so its
 * heapsort sorts. The same buffer is reused from set to set, as a revoke
 * loop reuses it.
 */
#include <stdlib.h>

#include "lease_test.h"

static int cmp_key(const void *a, const void *b)
{
    const bolt_val *x = a, *y = b;
    size_t n = x->size < y->size ? x->size : y->size;
    int c = n > 0 ? memcmp(x->data, y->data, n) : 0;
    if (c != 0)
        return c;
    return x->size < y->size ? -1 : x->size > y->size;
}

enum shape { RANDOM, PREFIX, RUNS, PREFIXES, HIGH, SMALL_ALPHABET };

/* One key of a shape into buf (at most 64 bytes); its length. */
static size_t make_key(strata_rng *r, enum shape s, uint8_t *buf)
{
    size_t len = 0;
    switch (s) {
    case RANDOM:
        len = (size_t)strata_rng_below(r, 20);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)strata_rng_below(r, 256);
        break;
    case PREFIX: /* 13 common bytes, then a short random tail */
        memcpy(buf, "/registry/pod", 13);
        len = 13 + (size_t)strata_rng_below(r, 6);
        for (size_t i = 13; i < len; i++)
            buf[i] = (uint8_t)('a' + strata_rng_below(r, 26));
        break;
    case RUNS: { /* 0-3 blocks of 8 bytes from a tiny set, then a tail: runs recurse */
        size_t blocks = (size_t)strata_rng_below(r, 4);
        for (size_t b = 0; b < blocks; b++)
            memcpy(buf + len, strata_rng_below(r, 2) ? "AAAAAAAA" : "AAAAAAAB", 8), len += 8;
        size_t tail = (size_t)strata_rng_below(r, 12);
        for (size_t i = 0; i < tail; i++)
            buf[len++] = (uint8_t)strata_rng_below(r, 3);
        break;
    }
    case PREFIXES: /* "k" + up to 20 bytes of 0 or 1: many keys prefix others */
        buf[len++] = 'k';
        for (size_t i = 0, n = (size_t)strata_rng_below(r, 21); i < n; i++)
            buf[len++] = (uint8_t)strata_rng_below(r, 2);
        break;
    case HIGH: /* 0xff and 0x00 bytes: the digit's order is unsigned */
        len = 1 + (size_t)strata_rng_below(r, 17);
        for (size_t i = 0; i < len; i++)
            buf[i] = strata_rng_below(r, 2) ? 0xff : (uint8_t)strata_rng_below(r, 2);
        break;
    case SMALL_ALPHABET:
        len = (size_t)strata_rng_below(r, 40);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)('x' + strata_rng_below(r, 2));
        break;
    }
    return len;
}

enum order { SHUFFLED, ASCENDING, DESCENDING };

/* n distinct keys of shape s (fewer when the shape has fewer), pushed in order o, sorted. */
static void check_set(lease__keybuf *kb, strata_rng *r, enum shape s, size_t n, enum order o)
{
    uint8_t(*store)[64] = calloc(n, 64);
    bolt_val *want = calloc(n, sizeof *want);
    ASSERT_TRUE(store != NULL && want != NULL);
    size_t m = 0, total = 0;
    /* Distinct keys: drawn until n, or until many draws add nothing new. */
    for (size_t tries = 0; m < n && tries < 20 * n + 100; tries++) {
        size_t len = make_key(r, s, store[m]);
        bolt_val k = { store[m], len };
        bool dup = false;
        for (size_t j = 0; j < m && !dup; j++)
            dup = cmp_key(&want[j], &k) == 0;
        if (!dup) {
            want[m++] = k;
            total += len;
        }
    }
    if (o != SHUFFLED)
        qsort(want, m, sizeof *want, cmp_key);
    ASSERT_OK(lease__keybuf_reserve(kb, m, total));
    for (size_t i = 0; i < m; i++) {
        size_t at = o == DESCENDING ? m - 1 - i : i;
        lease__keybuf_push(kb, want[at].data, want[at].size);
    }
    ASSERT_EQ_SIZE(kb->n, m);
    ASSERT_OK(lease__keybuf_sort(kb));
    qsort(want, m, sizeof *want, cmp_key);
    /* Each key points at its own gathered copy: inside raw, and no two at one place. */
    bool *seen = calloc(total + 1, 1);
    ASSERT_TRUE(seen != NULL);
    for (size_t i = 0; i < m; i++) {
        ASSERT_EQ_MEM(kb->keys[i].data, kb->keys[i].size, want[i].data, want[i].size);
        const uint8_t *p = kb->keys[i].data;
        ASSERT_TRUE(p >= kb->raw && p + kb->keys[i].size <= kb->raw + kb->used);
        if (kb->keys[i].size > 0) {
            ASSERT_TRUE(!seen[p - kb->raw]);
            seen[p - kb->raw] = true;
        }
    }
    free(seen);
    free(store);
    free(want);
}

static void test_shapes(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    lease__keybuf kb = { 0 };
    static const size_t sizes[] = { 0, 1, 2, 3, 23, 24, 25, 26, 100, 1000, 3000 };
    for (int s = RANDOM; s <= SMALL_ALPHABET; s++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            for (int o = SHUFFLED; o <= DESCENDING; o++)
                check_set(&kb, &r, (enum shape)s, sizes[i], (enum order)o);
    lease__keybuf_release(&kb);
}

/* The introsort's budget spent at once: its heapsort orders every range. */
static void test_heapsort_fallback(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    lease__keybuf kb = { 0 };
    kb.sort_budget = 1; /* one partition, then each side by heapsort */
    static const size_t sizes[] = { 25, 26, 100, 1000 };
    for (int s = RANDOM; s <= SMALL_ALPHABET; s++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            for (int o = SHUFFLED; o <= DESCENDING; o++)
                check_set(&kb, &r, (enum shape)s, sizes[i], (enum order)o);
    lease__keybuf_release(&kb);
}

/* The empty key and a key equal to the common prefix come first. */
static void test_prefix_key_first(void)
{
    lease__keybuf kb = { 0 };
    const char *keys[] = { "abc1", "abc", "abc\xff", "abc0", "abc\x00", "abcd", "abc00" };
    const size_t lens[] = { 4, 3, 4, 4, 4, 4, 5 };
    size_t n = 7, total = 0;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    /* More than the insertion-sort cut-off too: the same keys padded with others. */
    for (int round = 0; round < 2; round++) {
        size_t extra = round == 0 ? 0 : 40;
        ASSERT_OK(lease__keybuf_reserve(&kb, n + extra, total + extra * 8));
        for (size_t i = 0; i < n; i++)
            lease__keybuf_push(&kb, keys[i], lens[i]);
        for (size_t i = 0; i < extra; i++) {
            char k[9];
            int w = snprintf(k, sizeof k, "abcz%04zu", i);
            lease__keybuf_push(&kb, k, (size_t)w);
        }
        ASSERT_OK(lease__keybuf_sort(&kb));
        ASSERT_EQ_MEM(kb.keys[0].data, kb.keys[0].size, "abc", 3);
        ASSERT_EQ_MEM(kb.keys[1].data, kb.keys[1].size, "abc\x00", 4);
        ASSERT_EQ_MEM(kb.keys[2].data, kb.keys[2].size, "abc0", 4);
        ASSERT_EQ_MEM(kb.keys[3].data, kb.keys[3].size, "abc00", 5);
        ASSERT_EQ_MEM(kb.keys[4].data, kb.keys[4].size, "abc1", 4);
        ASSERT_EQ_MEM(kb.keys[5].data, kb.keys[5].size, "abcd", 4);
        ASSERT_EQ_MEM(kb.keys[n + extra - 1].data, kb.keys[n + extra - 1].size, "abc\xff", 4);
    }
    lease__keybuf_release(&kb);
}

int main(void)
{
    HARNESS_BEGIN(15);
    RUN(test_shapes);
    RUN(test_heapsort_fallback);
    RUN(test_prefix_key_first);
    return 0;
}
