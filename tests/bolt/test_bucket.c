/*
 * test_bucket.c: bolt/bucket.c, bolt/node.c, bolt/cursor.c and
 * bolt/check.c through the public API: bbolt's errors for every misuse,
 * inline <-> paged transitions (docs/format.md §6), deleted buckets freeing
 * their pages, sequential loads filling pages, maximum keys and overflow
 * values, cursor deletes, sequences, for-each, and bolt_tx_check finding
 * damage that was put into a file on purpose.
 */
#include "bolt_test.h"

#include "bolt/bolt_int.h"

static bolt_db *open_db(const char *name, uint32_t page_size)
{
    char p[8192];
    harness_path(p, sizeof p, name);
    bolt_options o = bt_opts();
    o.page_size = page_size;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    return db;
}

static bolt_tx *wtx(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    return tx;
}

static bolt_bucket *bkt(bolt_tx *tx, const char *name)
{
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str(name), &b));
    return b;
}

static void test_errors_follow_bbolt(void)
{
    bolt_db *db = open_db("errors.db", 4096);
    bolt_tx *tx = wtx(db);
    bolt_bucket *root = bolt_tx_root(tx), *b, *dummy;
    ASSERT_OK(bolt_bucket_create(root, bolt_str("b"), &b));
    ASSERT_RC(bolt_bucket_create(root, bolt_str("b"), &dummy), BOLT_EBUCKETEXISTS);
    ASSERT_NULL(dummy);
    ASSERT_RC(bolt_bucket_create(root, bolt_str(""), &dummy), BOLT_EBUCKETNAMEREQUIRED);
    ASSERT_RC(bolt_bucket_put(b, bolt_str(""), bolt_str("v")), BOLT_EKEYREQUIRED);
    static unsigned char big[40000];
    ASSERT_RC(bolt_bucket_put(b, (bolt_val){ big, 32769 }, bolt_str("v")), BOLT_EKEYTOOLARGE);
    ASSERT_OK(bolt_bucket_put(b, (bolt_val){ big, 32768 }, bolt_str("v")));
    ASSERT_RC(bolt_bucket_put(b, bolt_str("k"), (bolt_val){ big, 2147483647u }),
              BOLT_EVALUETOOLARGE);
    ASSERT_OK(bolt_bucket_put(b, bolt_str("plain"), bolt_str("v")));
    ASSERT_OK(bolt_bucket_create(b, bolt_str("sub"), &dummy));
    /* Keys and bucket names share one space. */
    ASSERT_RC(bolt_bucket_put(b, bolt_str("sub"), bolt_str("v")), BOLT_EINCOMPATIBLEVALUE);
    ASSERT_RC(bolt_bucket_delete(b, bolt_str("sub")), BOLT_EINCOMPATIBLEVALUE);
    ASSERT_RC(bolt_bucket_create(b, bolt_str("plain"), &dummy), BOLT_EINCOMPATIBLEVALUE);
    ASSERT_RC(bolt_bucket_delete_bucket(b, bolt_str("plain")), BOLT_EINCOMPATIBLEVALUE);
    ASSERT_RC(bolt_bucket_delete_bucket(b, bolt_str("nope")), BOLT_EBUCKETNOTFOUND);
    bolt_val v;
    ASSERT_RC(bolt_bucket_get(b, bolt_str("sub"), &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_bucket_open(b, bolt_str("plain"), &dummy), BOLT_NOTFOUND);
    ASSERT_OK(bolt_bucket_delete(b, bolt_str("missing"))); /* not an error */
    /* A deleted bucket's handle refuses everything. */
    bolt_bucket *sub;
    ASSERT_OK(bolt_bucket_open(b, bolt_str("sub"), &sub));
    ASSERT_OK(bolt_bucket_delete_bucket(b, bolt_str("sub")));
    ASSERT_RC(bolt_bucket_put(sub, bolt_str("x"), bolt_str("y")), BOLT_EBUCKETNOTFOUND);
    ASSERT_OK(bolt_tx_commit(tx));
    /* Read-only transactions. */
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_RC(bolt_bucket_put(b, bolt_str("k"), bolt_str("v")), BOLT_ETXNOTWRITABLE);
    ASSERT_RC(bolt_bucket_delete(b, bolt_str("k")), BOLT_ETXNOTWRITABLE);
    ASSERT_RC(bolt_bucket_create(b, bolt_str("n"), NULL), BOLT_ETXNOTWRITABLE);
    uint64_t s;
    ASSERT_RC(bolt_bucket_next_sequence(b, &s), BOLT_ETXNOTWRITABLE);
    ASSERT_OK(bolt_bucket_get(b, (bolt_val){ big, 32768 }, &v));
    ASSERT_EQ_MEM(v.data, v.size, "v", 1);
    ASSERT_RC(bolt_tx_commit(tx), BOLT_ETXNOTWRITABLE); /* consumed */
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

/* Inputs are copied: the caller's buffers may change right after a put. */
static void test_inputs_are_copied(void)
{
    bolt_db *db = open_db("copy.db", 4096);
    bolt_tx *tx = wtx(db);
    bolt_bucket *b = bkt(tx, "b");
    char k[8] = "key", v[8] = "val";
    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
    memcpy(k, "xxx", 3);
    memcpy(v, "yyy", 3);
    bolt_val got;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("key"), &got));
    ASSERT_EQ_MEM(got.data, got.size, "val", 3);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
}

static size_t fill(bolt_bucket *b, int from, int to, size_t vlen)
{
    static unsigned char v[5000];
    for (int i = from; i < to; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%08d", i);
        memset(v, i & 0xff, vlen);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, vlen }));
    }
    return (size_t)(to - from);
}

static bool is_inline(bolt_db *db, const char *parent, const char *name)
{
    bolt_tx *tx;
    bolt_bucket *b, *c;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str(parent), &b));
    if (name != NULL)
        ASSERT_OK(bolt_bucket_open(b, bolt_str(name), &c));
    else
        c = b;
    bool r = bolt_bucket_is_inline(c);
    bolt_tx_rollback(tx);
    return r;
}

static void test_inline_transitions(void)
{
    bolt_db *db = open_db("inline.db", 4096);
    bolt_tx *tx = wtx(db);
    fill(bkt(tx, "c"), 0, 10, 10);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_TRUE(is_inline(db, "c", NULL));
    bt_check(db);
    /* Past page_size / 4: paged. */
    tx = wtx(db);
    fill(bkt(tx, "c"), 10, 60, 10);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_FALSE(is_inline(db, "c", NULL));
    bt_check(db);
    /* Shrunk back: inline again, its page freed (check would see a leak). */
    tx = wtx(db);
    bolt_bucket *c = bkt(tx, "c");
    for (int i = 5; i < 60; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%08d", i);
        ASSERT_OK(bolt_bucket_delete(c, bolt_str(k)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_TRUE(is_inline(db, "c", NULL));
    bt_check(db);
    /* A nested bucket inside an inline one makes it paged. */
    tx = wtx(db);
    ASSERT_OK(bolt_bucket_create(bkt(tx, "c"), bolt_str("child"), NULL));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_FALSE(is_inline(db, "c", NULL));
    ASSERT_TRUE(is_inline(db, "c", "child"));
    bt_check(db);
    /* Exactly at the limit (16 + sum(16 + k + v) == 1024) stays inline. */
    tx = wtx(db);
    bolt_bucket *e;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("edge"), &e));
    static unsigned char v[2000];
    ASSERT_OK(bolt_bucket_put(e, bolt_str("k"), (bolt_val){ v, 1024 - 16 - 16 - 1 }));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_TRUE(is_inline(db, "edge", NULL));
    tx = wtx(db);
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("edge"), &e));
    ASSERT_OK(bolt_bucket_put(e, bolt_str("k"), (bolt_val){ v, 1024 - 16 - 16 }));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_FALSE(is_inline(db, "edge", NULL));
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static uint64_t used_pages(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t n = bolt_tx_size(tx) / bolt_db_page_size(db);
    bolt_tx_rollback(tx);
    return n;
}

/* Sequential loads fill pages (right-edge split), in one tx and many. */
static void test_sequential_load_fills_pages(void)
{
    const int n = 20000;
    const size_t vlen = 16;
    /* Leaf element: 16 + 12-byte key + 16-byte value = 44 bytes. */
    uint64_t ideal = (uint64_t)n * 44 / (4096 - 16) + 1;
    bolt_db *db = open_db("seq1.db", 4096);
    bolt_tx *tx = wtx(db);
    fill(bkt(tx, "s"), 0, n, vlen);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    uint64_t one = used_pages(db);
    ASSERT_OK(bolt_close(db));
    db = open_db("seq2.db", 4096);
    for (int i = 0; i < n; i += 500) {
        tx = wtx(db);
        fill(bkt(tx, "s"), i, i + 500, vlen);
        ASSERT_OK(bolt_tx_commit(tx));
    }
    bt_check(db);
    uint64_t many = used_pages(db);
    printf("  %d sequential keys: %llu pages in one tx, %llu in 40, ideal %llu leaves\n", n,
           (unsigned long long)one, (unsigned long long)many, (unsigned long long)ideal);
    /* Half-full pages would need 2x ideal. */
    ASSERT_LT_INT(one, ideal * 13 / 10 + 8);
    ASSERT_LT_INT(many, ideal * 13 / 10 + 16);
    ASSERT_OK(bolt_close(db));
}

static void test_max_keys_and_overflow_values(void)
{
    bolt_db *db = open_db("big.db", 4096);
    bolt_tx *tx = wtx(db);
    bolt_bucket *b = bkt(tx, "b");
    static unsigned char key[32768], val[1 << 20];
    for (int i = 0; i < 12; i++) {
        memset(key, 'k', sizeof key);
        key[sizeof key - 1] = (unsigned char)i;
        ASSERT_OK(bolt_bucket_put(b, (bolt_val){ key, sizeof key }, bolt_str("v")));
    }
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (unsigned char)(i * 31);
    ASSERT_OK(bolt_bucket_put(b, bolt_str("huge"), (bolt_val){ val, sizeof val }));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("exact"), (bolt_val){ val, 4096 - 16 - 16 - 5 }));
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    bolt_val v;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_get(b, bolt_str("huge"), &v));
    ASSERT_EQ_MEM(v.data, v.size, val, sizeof val);
    key[sizeof key - 1] = 11;
    ASSERT_OK(bolt_bucket_get(b, (bolt_val){ key, sizeof key }, &v));
    bolt_tx_rollback(tx);
    /* Overwrite and delete: the overflow runs are freed (check counts them). */
    tx = wtx(db);
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("huge"), bolt_str("small")));
    for (int i = 0; i < 12; i += 2) {
        key[sizeof key - 1] = (unsigned char)i;
        ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ key, sizeof key }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_delete_bucket_frees_pages(void)
{
    bolt_db *db = open_db("delb.db", 4096);
    bolt_tx *tx = wtx(db);
    bolt_bucket *a = bkt(tx, "a"), *nested;
    fill(a, 0, 3000, 50);
    ASSERT_OK(bolt_bucket_create(a, bolt_str("nested"), &nested));
    fill(nested, 0, 2000, 50);
    ASSERT_OK(bolt_tx_commit(tx));
    uint64_t before = used_pages(db);
    tx = wtx(db);
    ASSERT_OK(bolt_bucket_delete_bucket(bolt_tx_root(tx), bolt_str("a")));
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    /* The freed pages are reused: reloading the data does not grow the file. */
    tx = wtx(db);
    a = bkt(tx, "a");
    fill(a, 0, 3000, 50);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    ASSERT_LE_U64(used_pages(db), before);
    ASSERT_OK(bolt_close(db));
}

static void test_cursor_delete_everything(void)
{
    bolt_db *db = open_db("curdel.db", 512);
    bolt_tx *tx = wtx(db);
    bolt_bucket *b = bkt(tx, "b");
    fill(b, 0, 500, 8);
    ASSERT_OK(bolt_tx_commit(tx));
    tx = wtx(db);
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val k, v;
    int n = 0;
    for (int rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        char want[32];
        snprintf(want, sizeof want, "key-%08d", n);
        ASSERT_EQ_MEM(k.data, k.size, want, strlen(want));
        if (n % 3 != 2)
            ASSERT_OK(bolt_cursor_delete(c));
        n++;
    }
    ASSERT_EQ_INT(n, 500);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    tx = wtx(db);
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_cursor_open(b, &c));
    n = 0;
    for (int rc = bolt_cursor_last(c, &k, &v); rc == 0; rc = bolt_cursor_prev(c, &k, &v))
        n++;
    ASSERT_EQ_INT(n, 166);
    while (bolt_cursor_first(c, &k, &v) == 0)
        ASSERT_OK(bolt_cursor_delete(c));
    ASSERT_RC(bolt_cursor_last(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    ASSERT_TRUE(is_inline(db, "b", NULL)); /* emptied: inline again */
    ASSERT_OK(bolt_close(db));
}

static int count_until(void *arg, bolt_val k, bolt_val v)
{
    int *n = arg;
    (void)k;
    (void)v;
    return ++*n == 7 ? 42 : 0;
}

static void test_sequences_and_for_each(void)
{
    char p[8192];
    harness_path(p, sizeof p, "seq.db");
    bolt_db *db = open_db("seq.db", 4096);
    bolt_tx *tx = wtx(db);
    bolt_bucket *b = bkt(tx, "b");
    uint64_t s;
    ASSERT_OK(bolt_bucket_next_sequence(b, &s));
    ASSERT_EQ_U64(s, 1);
    ASSERT_OK(bolt_bucket_next_sequence(b, &s));
    ASSERT_EQ_U64(s, 2);
    bolt_bucket *c;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("c"), &c));
    ASSERT_OK(bolt_bucket_set_sequence(c, UINT64_MAX));
    fill(b, 0, 20, 4);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
    bolt_options o = bt_opts();
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("c"), &c));
    ASSERT_EQ_U64(bolt_bucket_sequence(b), 2);
    ASSERT_EQ_U64(bolt_bucket_sequence(c), UINT64_MAX);
    int n = 0;
    ASSERT_EQ_INT(bolt_bucket_for_each(b, count_until, &n), 42);
    ASSERT_EQ_INT(n, 7);
    bolt_tx_rollback(tx);
    char *d = bt_dump(db, 0);
    ASSERT_TRUE(strstr(d, "bucket 62 seq=2\n") != NULL);
    ASSERT_TRUE(strstr(d, "bucket 63 seq=18446744073709551615\n") != NULL);
    ASSERT_TRUE(strstr(d, "end buckets=2 keys=20\n") != NULL);
    free(d);
    ASSERT_OK(bolt_close(db));
}

static void count_problems(void *arg, const char *problem)
{
    int *n = arg;
    (*n)++;
    (void)problem;
}

static int check_file(const unsigned char *img, size_t len)
{
    bolt_db *db;
    if (bolt_open_memory(img, len, NULL, &db) != 0)
        return -1;
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    int n = 0;
    int rc = bolt_tx_check(tx, count_problems, &n);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    ASSERT_EQ_INT(rc == BOLT_ECORRUPT, n > 0);
    return n;
}

/* True when id is listed in the freelist page of meta m (a stale page). */
static bool listed_free(const unsigned char *img, const bolt__meta *m, bolt_pgid id)
{
    const unsigned char *fl = img + m->freelist * m->page_size;
    uint16_t cnt = bolt__ld16(fl + 10);
    for (uint16_t i = 0; i < cnt; i++)
        if (bolt__ld64(fl + 16 + 8 * i) == id)
            return true;
    return false;
}

/* Damage a good file in known ways; the check must notice each one. */
static void test_check_finds_damage(void)
{
    char p[8192];
    harness_path(p, sizeof p, "damage.db");
    bolt_db *db = open_db("damage.db", 512);
    bolt_tx *tx = wtx(db);
    fill(bkt(tx, "b"), 0, 400, 8);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
    size_t len = 0;
    unsigned char *img = bt_read_file(p, &len);
    ASSERT_NOT_NULL(img);
    ASSERT_EQ_INT(check_file(img, len), 0);
    bolt__meta m0, m1, m;
    ASSERT_OK(bolt__meta_decode(img, len, &m0));
    ASSERT_OK(bolt__meta_decode(img + 512, len - 512, &m1));
    m = m0.txid > m1.txid ? m0 : m1;
    unsigned char *bad = malloc(len);
    /* 1. A freelist id dropped: that page is unreachable unfreed. */
    memcpy(bad, img, len);
    unsigned char *fl = bad + m.freelist * 512;
    uint16_t cnt = bolt__ld16(fl + 10);
    ASSERT_GT_INT(cnt, 0);
    bolt__st16(fl + 10, (uint16_t)(cnt - 1));
    ASSERT_GT_INT(check_file(bad, len), 0);
    /* 2. Find a branch page of bucket b and break a separator and key order. */
    int found = 0;
    for (bolt_pgid id = 2; id < m.pgid && !found; id++) {
        unsigned char *pg = bad + id * 512;
        if (bolt__ld16(pg + 8) != 0x01 || bolt__ld16(pg + 10) < 3 || bolt__ld64(pg) != id ||
            listed_free(img, &m, id))
            continue;
        memcpy(bad, img, len);
        pg = bad + id * 512;
        unsigned char *e1 = pg + 16 + 16;
        unsigned char *key = e1 + bolt__ld32(e1);
        key[bolt__ld32(e1 + 4) - 1] ^= 0x01; /* separator 1 != child's first key */
        ASSERT_GT_INT(check_file(bad, len), 0);
        memcpy(bad, img, len);
        pg = bad + id * 512;
        /* A child pointer to the freelist page: multiple references. */
        bolt__st64(pg + 16 + 8, m.freelist);
        ASSERT_GT_INT(check_file(bad, len), 0);
        found = 1;
    }
    ASSERT_TRUE(found);
    /* 3. A leaf's header id changed. */
    for (bolt_pgid id = 2; id < m.pgid; id++) {
        if (bolt__ld16(img + id * 512 + 8) == 0x02 && bolt__ld64(img + id * 512) == id &&
            !listed_free(img, &m, id)) {
            memcpy(bad, img, len);
            bolt__st64(bad + id * 512, id + 1000);
            ASSERT_GT_INT(check_file(bad, len), 0);
            break;
        }
    }
    free(bad);
    free(img);
}

/* Nesting stops at BOLT_MAX_NESTING levels with an error, never a deep recursion crash. */
static void test_nesting_limit(void)
{
    bolt_db *db = open_db("nesting.db", 4096);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b = bolt_tx_root(tx);
    for (int depth = 1; depth <= 2048; depth++)
        ASSERT_OK(bolt_bucket_create(b, bolt_str("n"), &b));
    bolt_bucket *too_deep;
    ASSERT_RC(bolt_bucket_create(b, bolt_str("n"), &too_deep), BOLT_ENESTING);
    ASSERT_NULL(too_deep);
    ASSERT_OK(bolt_bucket_put(b, bolt_str("k"), bolt_str("v")));
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    char *dump = bt_dump(db, 0);
    ASSERT_NOT_NULL(strstr(dump, "end buckets=2048 keys=1"));
    free(dump);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_errors_follow_bbolt);
    RUN(test_inputs_are_copied);
    RUN(test_inline_transitions);
    RUN(test_sequential_load_fills_pages);
    RUN(test_max_keys_and_overflow_values);
    RUN(test_delete_bucket_frees_pages);
    RUN(test_cursor_delete_everything);
    RUN(test_sequences_and_for_each);
    RUN(test_check_finds_damage);
    RUN(test_nesting_limit);
    return 0;
}
