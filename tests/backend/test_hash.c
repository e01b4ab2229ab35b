/* test_hash.c: backend/hash.c (etcd's backend Hash). */
#include "backend_test.h"

/* CRC-32C of the concatenation of parts (the expected hash, by hand). */
static uint32_t crc_of(const char *const *parts, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c = strata_crc32c(c, parts[i], strlen(parts[i]));
    return c;
}

static void test_hash_bytes_and_ignores(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("hash.db", &o);
    bk_bucket(be, "meta");
    bk_bucket(be, "key");
    bk_put(be, "key", "k2", "v2");
    bk_put(be, "key", "k1", "v1");
    bk_put(be, "meta", "consistent_index", "12345678");
    bk_put(be, "meta", "finishedCompactRev", "r");
    ASSERT_OK(backend_force_commit(be));
    uint32_t h;
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    /* Buckets in name order, then keys in order; consistent_index skipped. */
    const char *want[] = { "key", "k1", "v1", "k2", "v2", "meta", "finishedCompactRev", "r" };
    ASSERT_EQ_HEX(h, crc_of(want, 8));
    /* Nothing ignored. */
    uint32_t all;
    backend_hash_ignore none[1];
    ASSERT_OK(backend_hash(be, none, 0, &all));
    const char *want_all[] = {
        "key", "k1", "v1", "k2", "v2", "meta", "consistent_index", "12345678", "finishedCompactRev",
        "r"
    };
    ASSERT_EQ_HEX(all, crc_of(want_all, 10));
    /* Custom ignores. */
    backend_hash_ignore ign[] = { { bolt_str("key"), bolt_str("k1") },
                                  { bolt_str("meta"), bolt_str("consistent_index") } };
    ASSERT_OK(backend_hash(be, ign, 2, &h));
    const char *want_ign[] = { "key", "k2", "v2", "meta", "finishedCompactRev", "r" };
    ASSERT_EQ_HEX(h, crc_of(want_ign, 6));

    /* The consistent index changing does not change the default hash... */
    uint32_t before;
    ASSERT_OK(backend_hash(be, NULL, 0, &before));
    bk_put(be, "meta", "consistent_index", "99999999");
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_EQ_HEX(h, before);
    /* ...uncommitted writes are not hashed, committed ones are. */
    bk_put(be, "key", "k3", "v3");
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_EQ_HEX(h, before);
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_TRUE(h != before);
    ASSERT_OK(backend_close(be));
}

static int make_bad(bolt_tx *tx, void *arg)
{
    int kind = *(int *)arg;
    bolt_bucket *b;
    int rc = bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b);
    if (rc != 0)
        return rc;
    if (kind == 0)
        return bolt_bucket_put(bolt_tx_root(tx), bolt_str("plain"), bolt_str("v"));
    return bolt_bucket_create(b, bolt_str("nested"), NULL);
}

/* CRC-32C of a whole file: to tell that a refusal left it as it was. */
static uint32_t file_crc(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    uint32_t crc = 0;
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crc = strata_crc32c(crc, buf, n);
    fclose(f);
    return crc;
}

/*
 * Files the backend would never write: a plain key at the top, a nested
 * bucket. Hash and defrag refuse both with the same codes, and defrag
 * leaves the file as it was.
 */
static void test_hash_refuses_odd_files(void)
{
    for (int kind = 0; kind < 2; kind++) {
        char path[4096], name[32];
        snprintf(name, sizeof name, "odd%d.db", kind);
        harness_path(path, sizeof path, name);
        bolt_db *db;
        bolt_options bo;
        bolt_options_init(&bo);
        bo.mmap_reserve = 8u << 20;
        ASSERT_OK(bolt_open(path, &bo, &db));
        ASSERT_OK(bolt_update(db, make_bad, &kind));
        ASSERT_OK(bolt_close(db));
        backend_options o = bk_opts(NULL);
        backend *be = bk_open(name, &o);
        uint32_t h = 7;
        ASSERT_RC(backend_hash(be, NULL, 0, &h), kind == 0 ? BACKEND_ENOTBUCKET : BACKEND_ENESTED);
        ASSERT_EQ_HEX(h, 7);
        uint32_t before = file_crc(path);
        ASSERT_RC(backend_defrag(be, NULL), kind == 0 ? BACKEND_ENOTBUCKET : BACKEND_ENESTED);
        ASSERT_OK(backend_close(be));
        ASSERT_EQ_HEX(file_crc(path), before);
    }
}

/* The empty db hashes to crc32c of nothing: 0. */
static void test_hash_empty(void)
{
    backend_options o = bk_opts(NULL);
    backend *be = bk_open("empty.db", &o);
    uint32_t h = 1;
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_EQ_HEX(h, 0);
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_hash_bytes_and_ignores);
    RUN(test_hash_refuses_odd_files);
    RUN(test_hash_empty);
    return 0;
}
