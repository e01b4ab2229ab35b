/*
 * test_interval_tree.c: mvcc/interval_tree.c against a brute-force model
 * (a plain array of intervals), with the tree's check after every change.
 */
#include "../harness.h"

#include "../../mvcc/interval_tree.h"

#include <strata/common.h>

#define MAXK 4 /* key length */

typedef struct model_ivl {
    uint8_t low[MAXK], high[MAXK];
    size_t low_len, high_len;
    bool inf;
    bool live;
    uintptr_t tag;
} model_ivl;

static void check_tree(const mvcc__itree *t)
{
    char why[200];
    int rc = mvcc__itree_check(t, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "itree check: %s\n", why);
    ASSERT_EQ_INT(rc, 0);
}

/* A key of 0..MAXK bytes over a tiny alphabet, so intervals overlap a lot. */
static size_t rand_key(strata_rng *r, uint8_t *k, size_t min_len)
{
    size_t n = min_len + strata_rng_below(r, MAXK + 1 - min_len);
    for (size_t i = 0; i < n; i++) {
        static const uint8_t alphabet[] = { 0x00, 0x01, 'a', 'b', 0xff };
        k[i] = alphabet[strata_rng_below(r, sizeof alphabet)];
    }
    return n;
}

static bool model_contains(const model_ivl *m, const uint8_t *k, size_t klen)
{
    return mvcc__bytes_cmp(m->low, m->low_len, k, klen) <= 0 &&
           (m->inf || mvcc__bytes_cmp(k, klen, m->high, m->high_len) < 0);
}

typedef struct stab_out {
    uintptr_t tags[512];
    size_t n;
    const mvcc__inode *prev;
    bool ordered;
} stab_out;

static int collect(void *arg, mvcc__inode *n)
{
    stab_out *o = arg;
    if (o->prev != NULL) {
        int c = mvcc__bytes_cmp(o->prev->low, o->prev->low_len, n->low, n->low_len);
        if (c > 0)
            o->ordered = false;
    }
    o->prev = n;
    o->tags[o->n++] = (uintptr_t)n->val;
    return 0;
}

static int cmp_tag(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void test_basic(void)
{
    mvcc__itree t;
    mvcc__itree_init(&t);
    ASSERT_OK(mvcc__itree_insert(&t, "a", 1, "c", 1, false, (void *)1, NULL));
    ASSERT_OK(mvcc__itree_insert(&t, "b", 1, "", 0, true, (void *)2, NULL));
    ASSERT_OK(mvcc__itree_insert(&t, "a", 1, "b", 1, false, (void *)3, NULL));
    mvcc__inode *n = NULL;
    ASSERT_RC(mvcc__itree_insert(&t, "a", 1, "c", 1, false, (void *)9, &n), STRATA_EXISTS);
    ASSERT_EQ_PTR(n->val, (void *)1);
    check_tree(&t);
    ASSERT_TRUE(mvcc__itree_contains(&t, "a", 1));
    ASSERT_TRUE(mvcc__itree_contains(&t, "zzz", 3)); /* [b, inf) */
    ASSERT_FALSE(mvcc__itree_contains(&t, "", 0));
    ASSERT_FALSE(mvcc__itree_contains(&t, "\x00", 1));
    stab_out o = { .ordered = true };
    mvcc__itree_stab(&t, "b", 1, collect, &o);
    ASSERT_EQ_SIZE(o.n, 2); /* [a,c) and [b,inf); [a,b) excludes b */
    ASSERT_EQ_PTR(mvcc__itree_find(&t, "b", 1, "x", 1, true)->val, (void *)2); /* high ignored */
    ASSERT_NULL(mvcc__itree_find(&t, "b", 1, "x", 1, false));
    ASSERT_EQ_PTR(mvcc__itree_remove(&t, "a", 1, "b", 1, false), (void *)3);
    ASSERT_NULL(mvcc__itree_remove(&t, "a", 1, "b", 1, false));
    check_tree(&t);
    ASSERT_EQ_SIZE(t.count, 2);
    mvcc__itree_destroy(&t, NULL);
    ASSERT_EQ_SIZE(t.count, 0);
}

static void test_random_against_model(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    enum { N = 400 };
    static model_ivl m[N];
    for (int round = 0; round < 6; round++) {
        mvcc__itree t;
        mvcc__itree_init(&t);
        memset(m, 0, sizeof m);
        size_t live = 0;
        for (int step = 0; step < 4000; step++) {
            size_t i = strata_rng_below(&r, N);
            if (m[i].live && strata_rng_below(&r, 3) == 0) {
                void *v = mvcc__itree_remove(&t, m[i].low, m[i].low_len, m[i].high, m[i].high_len,
                                             m[i].inf);
                ASSERT_EQ_PTR(v, (void *)m[i].tag);
                m[i].live = false;
                live--;
            } else if (!m[i].live) {
                model_ivl c;
                memset(&c, 0, sizeof c);
                c.low_len = rand_key(&r, c.low, 1);
                c.inf = strata_rng_below(&r, 8) == 0;
                if (!c.inf) {
                    c.high_len = rand_key(&r, c.high, 1);
                    if (mvcc__bytes_cmp(c.low, c.low_len, c.high, c.high_len) >= 0)
                        continue; /* empty: not a watcher range */
                }
                c.tag = (uintptr_t)(i + 1);
                bool dup = false;
                for (size_t j = 0; j < N; j++)
                    if (m[j].live && m[j].inf == c.inf &&
                        mvcc__bytes_cmp(m[j].low, m[j].low_len, c.low, c.low_len) == 0 &&
                        (c.inf ||
                         mvcc__bytes_cmp(m[j].high, m[j].high_len, c.high, c.high_len) == 0))
                        dup = true;
                int rc = mvcc__itree_insert(&t, c.low, c.low_len, c.high, c.high_len, c.inf,
                                            (void *)c.tag, NULL);
                ASSERT_RC(rc, dup ? STRATA_EXISTS : 0);
                if (!dup) {
                    c.live = true;
                    m[i] = c;
                    live++;
                }
            }
            ASSERT_EQ_SIZE(t.count, live);
            if (step % 16 == 0)
                check_tree(&t);
            /* a stab against the model */
            uint8_t k[MAXK];
            size_t klen = rand_key(&r, k, 0);
            stab_out o = { .ordered = true };
            mvcc__itree_stab(&t, k, klen, collect, &o);
            ASSERT_TRUE(o.ordered);
            uintptr_t want[N];
            size_t nw = 0;
            for (size_t j = 0; j < N; j++)
                if (m[j].live && model_contains(&m[j], k, klen))
                    want[nw++] = m[j].tag;
            ASSERT_EQ_SIZE(o.n, nw);
            qsort(o.tags, o.n, sizeof o.tags[0], cmp_tag);
            qsort(want, nw, sizeof want[0], cmp_tag);
            for (size_t j = 0; j < nw; j++)
                ASSERT_EQ_U64(o.tags[j], want[j]);
            ASSERT_EQ_INT(mvcc__itree_contains(&t, k, klen), nw > 0);
        }
        check_tree(&t);
        mvcc__itree_destroy(&t, NULL);
    }
}

/* The check function must catch a broken tree, or the tests above prove nothing. */
static void test_check_catches_damage(void)
{
    mvcc__itree t;
    mvcc__itree_init(&t);
    char key[8];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        ASSERT_OK(mvcc__itree_insert(&t, key, 4, "z", 1, false, (void *)1, NULL));
    }
    check_tree(&t);
    char why[200];
    t.root->height++;
    ASSERT_EQ_INT(mvcc__itree_check(&t, why, sizeof why), -1);
    t.root->height--;
    mvcc__inode *l = t.root->left;
    t.root->left = t.root->right;
    t.root->right = l;
    ASSERT_EQ_INT(mvcc__itree_check(&t, why, sizeof why), -1);
    t.root->right = t.root->left;
    t.root->left = l;
    check_tree(&t);
    const mvcc__inode *saved = t.root->maxn;
    t.root->maxn = t.root; /* the root's own high equals others' ("z"): still a max */
    check_tree(&t);
    t.root->maxn = saved;
    t.count++;
    ASSERT_EQ_INT(mvcc__itree_check(&t, why, sizeof why), -1);
    t.count--;
    mvcc__itree_destroy(&t, NULL);
}

/* Many disjoint ranges: a stab visits a small part of the tree. */
typedef struct counting {
    size_t calls;
} counting;

static int count_cb(void *arg, mvcc__inode *n)
{
    (void)n;
    ((counting *)arg)->calls++;
    return 0;
}

static void test_large_disjoint(void)
{
    mvcc__itree t;
    mvcc__itree_init(&t);
    char lo[16], hi[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(lo, sizeof lo, "key%06d", i * 2);
        snprintf(hi, sizeof hi, "key%06d", i * 2 + 1);
        ASSERT_OK(mvcc__itree_insert(&t, lo, 9, hi, 9, false, (void *)(uintptr_t)(i + 1), NULL));
    }
    check_tree(&t);
    ASSERT_LE_INT(t.root->height, 20); /* AVL: < 1.44 log2(20000) + 2 */
    counting c = { 0 };
    mvcc__itree_stab(&t, "key012344", 9, count_cb, &c);
    ASSERT_EQ_SIZE(c.calls, 1);
    c.calls = 0;
    mvcc__itree_stab(&t, "key012345", 9, count_cb, &c);
    ASSERT_EQ_SIZE(c.calls, 0);
    for (int i = 0; i < 20000; i += 2) {
        snprintf(lo, sizeof lo, "key%06d", i * 2);
        snprintf(hi, sizeof hi, "key%06d", i * 2 + 1);
        ASSERT_EQ_PTR(mvcc__itree_remove(&t, lo, 9, hi, 9, false), (void *)(uintptr_t)(i + 1));
    }
    check_tree(&t);
    ASSERT_EQ_SIZE(t.count, 10000);
    mvcc__itree_destroy(&t, NULL);
}

int main(void)
{
    HARNESS_BEGIN(15);
    RUN(test_basic);
    RUN(test_random_against_model);
    RUN(test_check_catches_damage);
    RUN(test_large_disjoint);
    return 0;
}
