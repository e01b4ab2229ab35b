/*
 * test_compact.c: bolt_compact (bolt/compact.c): the copy holds exactly the
 * source's buckets, keys, values and sequences (nested, inline, overflow
 * values, plain root keys), in one or many transactions; pages are full;
 * an existing destination is refused untouched; a damaged source leaves
 * no destination behind.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata/bolt.h>

#include "bolt_int.h"
#include "harness.h"

static bolt_db *open_path(const char *path, bool read_only)
{
    bolt_options o;
    bolt_options_init(&o);
    o.page_size = 4096;
    o.read_only = read_only;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    return db;
}

static int fill(bolt_tx *tx, void *arg)
{
    uint64_t seed = *(uint64_t *)arg;
    bolt_bucket *root = bolt_tx_root(tx), *big, *nest, *deep, *tiny, *empty;
    int rc = bolt_bucket_set_sequence(root, 77);
    if (rc == 0)
        rc = bolt_bucket_put(root, bolt_str("plain-root-key"), bolt_str("v"));
    if (rc == 0)
        rc = bolt_bucket_create(root, bolt_str("big"), &big);
    if (rc == 0)
        rc = bolt_bucket_create(root, bolt_str("nest"), &nest);
    if (rc == 0)
        rc = bolt_bucket_create(nest, bolt_str("deep"), &deep);
    if (rc == 0)
        rc = bolt_bucket_create(deep, bolt_str("tiny"), &tiny);
    if (rc == 0)
        rc = bolt_bucket_create(root, bolt_str("empty"), &empty);
    if (rc == 0)
        rc = bolt_bucket_set_sequence(deep, UINT64_MAX);
    if (rc == 0)
        rc = bolt_bucket_set_sequence(tiny, 5);
    if (rc == 0)
        rc = bolt_bucket_put(tiny, bolt_str("t"), bolt_str(""));
    strata_rng rng;
    strata_rng_seed(&rng, seed);
    for (unsigned i = 0; i < 4000 && rc == 0; i++) {
        char k[40], v[200];
        uint64_t r = strata_rng_next(&rng);
        snprintf(k, sizeof k, "k%016llx", (unsigned long long)r);
        size_t vn = (size_t)(r % 190);
        memset(v, 'A' + (int)(r % 26), vn);
        rc = bolt_bucket_put(i % 7 == 0 ? deep : big, bolt_str(k), (bolt_val){ v, vn });
    }
    /* Two values spanning overflow pages. */
    size_t ln = 3 * 4096 + 17;
    unsigned char *lv = malloc(ln);
    if (lv == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < ln; i++)
        lv[i] = (unsigned char)(i * 7);
    if (rc == 0)
        rc = bolt_bucket_put(nest, bolt_str("large"), (bolt_val){ lv, ln });
    if (rc == 0)
        rc = bolt_bucket_put(big, bolt_str("zz-large"), (bolt_val){ lv, ln / 2 });
    free(lv);
    /* Deletes leave free pages and half-empty leaves behind in the source. */
    bolt_cursor *c;
    bolt_val k;
    if (rc == 0)
        rc = bolt_cursor_open(big, &c);
    unsigned i = 0;
    for (int m = rc == 0 ? bolt_cursor_first(c, &k, NULL) : BOLT_NOTFOUND; m == 0;
         m = bolt_cursor_next(c, &k, NULL)) {
        if (i++ % 3 == 0 && (rc = bolt_cursor_delete(c)) != 0)
            break;
    }
    return rc;
}

/* Compare two buckets element by element, recursing into nested ones. */
static void same_bucket(bolt_bucket *a, bolt_bucket *b, uint64_t *keys)
{
    ASSERT_EQ_U64(bolt_bucket_sequence(a), bolt_bucket_sequence(b));
    bolt_cursor *ca, *cb;
    ASSERT_OK(bolt_cursor_open(a, &ca));
    ASSERT_OK(bolt_cursor_open(b, &cb));
    bolt_val ka, va, kb, vb;
    int ra = bolt_cursor_first(ca, &ka, &va), rb = bolt_cursor_first(cb, &kb, &vb);
    while (ra == 0 && rb == 0) {
        ASSERT_EQ_MEM(ka.data, ka.size, kb.data, kb.size);
        ASSERT_EQ_INT(va.data == NULL, vb.data == NULL);
        if (va.data == NULL) {
            bolt_bucket *na, *nb;
            ASSERT_OK(bolt_bucket_open(a, ka, &na));
            ASSERT_OK(bolt_bucket_open(b, kb, &nb));
            same_bucket(na, nb, keys);
        } else {
            ASSERT_EQ_MEM(va.data, va.size, vb.data, vb.size);
            (*keys)++;
        }
        ra = bolt_cursor_next(ca, &ka, &va);
        rb = bolt_cursor_next(cb, &kb, &vb);
    }
    ASSERT_RC(ra, BOLT_NOTFOUND);
    ASSERT_RC(rb, BOLT_NOTFOUND);
}

static void count_problem(void *arg, const char *problem)
{
    (*(size_t *)arg)++;
    fprintf(stderr, "check: %s\n", problem);
}

static uint64_t compare_files(bolt_db *src, const char *dst_path)
{
    bolt_db *dst = open_path(dst_path, true);
    bolt_tx *ta, *tb;
    ASSERT_OK(bolt_tx_begin(src, 0, &ta));
    ASSERT_OK(bolt_tx_begin(dst, 0, &tb));
    uint64_t keys = 0;
    same_bucket(bolt_tx_root(ta), bolt_tx_root(tb), &keys);
    size_t problems = 0;
    ASSERT_OK(bolt_tx_check(tb, count_problem, &problems));
    ASSERT_EQ_SIZE(problems, 0);
    bolt_tx_rollback(ta);
    bolt_tx_rollback(tb);
    ASSERT_OK(bolt_close(dst));
    return keys;
}

static char src_path[4096];

static bolt_db *make_source(void)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "src%d.db", n++);
    harness_path(src_path, sizeof src_path, name);
    bolt_db *db = open_path(src_path, false);
    uint64_t seed = harness_seed();
    ASSERT_OK(bolt_update(db, fill, &seed));
    return db;
}

static void test_one_tx(void)
{
    bolt_db *src = make_source();
    char dst[4096];
    harness_path(dst, sizeof dst, "one.db");
    bolt_compact_options o = { sizeof o, 0, false, 0, NULL, NULL };
    bolt_compact_result res;
    ASSERT_OK(bolt_compact(src, dst, &o, &res));
    ASSERT_EQ_U64(res.txs, 0); /* no limit: written bottom-up, no transaction */
    ASSERT_EQ_U64(res.buckets, 5);
    uint64_t keys = compare_files(src, dst);
    ASSERT_EQ_U64(res.keys, keys);
    ASSERT_TRUE(res.dst_size > 0);

    /* Full pages: the big bucket's leaves are over 90% used, the source's not. */
    bolt_db *d = open_path(dst, true);
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_stats sd, ss;
    ASSERT_OK(bolt_tx_begin(d, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("big"), &b));
    ASSERT_OK(bolt_bucket_stats(b, &sd));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(d));
    ASSERT_OK(bolt_tx_begin(src, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("big"), &b));
    ASSERT_OK(bolt_bucket_stats(b, &ss));
    bolt_tx_rollback(tx);
    /* Leaf pages without the overflow value: used over page bytes. */
    ASSERT_TRUE(sd.leaf_inuse * 10 > sd.leaf_alloc * 9);
    ASSERT_TRUE(sd.leaf_pages < ss.leaf_pages);
    ASSERT_OK(bolt_close(src));
}

static void note_progress(void *arg, uint64_t keys)
{
    uint64_t *last = arg;
    ASSERT_TRUE(keys >= *last);
    *last = keys;
}

static void test_many_tx(void)
{
    bolt_db *src = make_source();
    char dst[4096];
    harness_path(dst, sizeof dst, "many.db");
    uint64_t last = 0;
    bolt_compact_options o = { sizeof o, 4096, true, 0, note_progress, &last };
    bolt_compact_result res;
    ASSERT_OK(bolt_compact(src, dst, &o, &res));
    ASSERT_TRUE(res.txs > 20);
    ASSERT_TRUE(last > 0 && last <= res.keys); /* called after the intermediate commits */
    ASSERT_EQ_U64(compare_files(src, dst), res.keys);
    /* A caller that knew a shorter struct (no progress fields): they are ignored. */
    char dst3[4096];
    harness_path(dst3, sizeof dst3, "short-opts.db");
    uint64_t untouched = 0;
    bolt_compact_options shortopt = {
        offsetof(bolt_compact_options, progress), 4096, true, 0, note_progress, &untouched
    };
    ASSERT_OK(bolt_compact(src, dst3, &shortopt, &res));
    ASSERT_TRUE(res.txs > 20);
    ASSERT_EQ_U64(untouched, 0);
    /* A different page size for the copy. */
    char dst2[4096];
    harness_path(dst2, sizeof dst2, "ps8k.db");
    bolt_compact_options o2 = { sizeof o2, 0, false, 8192, NULL, NULL };
    ASSERT_OK(bolt_compact(src, dst2, &o2, &res));
    bolt_options bo;
    bolt_options_init(&bo);
    bo.read_only = true;
    bolt_db *d;
    ASSERT_OK(bolt_open(dst2, &bo, &d));
    ASSERT_EQ_INT(bolt_db_page_size(d), 8192);
    ASSERT_OK(bolt_close(d));
    ASSERT_OK(bolt_close(src));
}

static void test_one_big_tx(void)
{
    bolt_db *src = make_source();
    char dst[4096];
    harness_path(dst, sizeof dst, "bigtx.db");
    bolt_compact_options o = { sizeof o, UINT64_MAX, false, 0, NULL, NULL };
    bolt_compact_result res;
    ASSERT_OK(bolt_compact(src, dst, &o, &res));
    ASSERT_EQ_U64(res.txs, 1);
    ASSERT_EQ_U64(compare_files(src, dst), res.keys);
    ASSERT_OK(bolt_close(src));
}

static void test_refusals(void)
{
    bolt_db *src = make_source();
    char dst[4096];
    harness_path(dst, sizeof dst, "exists.db");
    FILE *f = fopen(dst, "w");
    ASSERT_NOT_NULL(f);
    fputs("keep", f);
    fclose(f);
    ASSERT_RC(bolt_compact(src, dst, NULL, NULL), -EEXIST);
    char buf[8] = { 0 };
    f = fopen(dst, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ_SIZE(fread(buf, 1, sizeof buf, f), 4);
    fclose(f);
    ASSERT_EQ_STR(buf, "keep");
    ASSERT_RC(bolt_compact(NULL, dst, NULL, NULL), STRATA_EMISUSE);
    ASSERT_OK(bolt_close(src));

    /* A damaged source: BOLT_ECORRUPT, and no destination left behind. */
    FILE *in = fopen(src_path, "rb");
    ASSERT_NOT_NULL(in);
    static unsigned char img[16u << 20];
    size_t n = fread(img, 1, sizeof img, in);
    fclose(in);
    bolt__meta m0, m1, cur;
    int rc0 = bolt__meta_decode(img, n, &m0), rc1 = bolt__meta_decode(img + 4096, n - 4096, &m1);
    ASSERT_OK(bolt__meta_choose(&m0, rc0, &m1, rc1, &cur));
    bolt__st16(img + cur.root * 4096 + BOLT_PAGE_FLAGS_OFF, 0x20);
    bolt_options o;
    bolt_options_init(&o);
    o.read_only = true;
    ASSERT_OK(bolt_open_memory(img, n, &o, &src));
    harness_path(dst, sizeof dst, "from-damaged.db");
    ASSERT_RC(bolt_compact(src, dst, NULL, NULL), BOLT_ECORRUPT);
    ASSERT_EQ_INT(access(dst, F_OK), -1);
    ASSERT_OK(bolt_close(src));
}

int main(void)
{
    HARNESS_BEGIN(5);
    RUN(test_one_tx);
    RUN(test_one_big_tx);
    RUN(test_many_tx);
    RUN(test_refusals);
    return 0;
}
