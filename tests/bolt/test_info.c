/*
 * test_info.c: bolt/info.c, the inspection calls tools use: both metas of
 * torn_meta.db as bbolt's boltinspect reported them (meta 0 torn, meta 1
 * current), page headers and their check results, raw page bytes, and the
 * bounds on page ids.
 */
#include "bolt_test.h"

static void test_torn_meta_info(void)
{
    char path[4096];
    size_t len;
    unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, "torn_meta.db"), &len);
    ASSERT_NOT_NULL(img);
    bolt_db *db;
    ASSERT_OK(bolt_open_memory(img, len, NULL, &db));
    bolt_db_info info;
    ASSERT_OK(bolt_db_info_get(db, &info));
    ASSERT_EQ_INT(info.page_size, 4096);
    ASSERT_EQ_U64(info.file_size, 65536);
    ASSERT_EQ_INT(info.current, 1);
    /* Values from the fixture's .info (written by bbolt's boltinspect). */
    ASSERT_RC(info.meta[0].status, BOLT_ECHECKSUM);
    ASSERT_EQ_U64(info.meta[0].txid, 4);
    ASSERT_EQ_HEX(info.meta[0].checksum, 0xc337d36fd5be261cull);
    ASSERT_EQ_HEX(info.meta[0].computed, 0xc337d36fd5be26e3ull);
    ASSERT_OK(info.meta[1].status);
    ASSERT_EQ_U64(info.meta[1].txid, 3);
    ASSERT_EQ_U64(info.meta[1].root, 2);
    ASSERT_EQ_U64(info.meta[1].freelist, 3);
    ASSERT_EQ_U64(info.meta[1].pgid, 15);
    ASSERT_EQ_HEX(info.meta[1].checksum, 0xd751d0a05b241e06ull);
    ASSERT_EQ_HEX(info.meta[1].computed, 0xd751d0a05b241e06ull);
    ASSERT_EQ_U64(info.listed_free, 2);
    ASSERT_OK(bolt_close(db));
    free(img);
}

static void test_page_info_and_bytes(void)
{
    char path[4096];
    size_t len;
    unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, "sequences.db"), &len);
    ASSERT_NOT_NULL(img);
    bolt_db *db;
    ASSERT_OK(bolt_open_memory(img, len, NULL, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_page_info pi;
    ASSERT_OK(bolt_tx_page_info(tx, 0, &pi));
    ASSERT_EQ_STR(pi.type, "meta");
    ASSERT_OK(bolt_tx_page_info(tx, 3, &pi)); /* meta 1's freelist */
    ASSERT_EQ_STR(pi.type, "freelist");
    ASSERT_EQ_INT(pi.count, 2);
    ASSERT_OK(bolt_tx_page_info(tx, 2, &pi)); /* meta 1's root */
    ASSERT_EQ_STR(pi.type, "leaf");
    ASSERT_OK(pi.status);
    ASSERT_EQ_U64(pi.id, 2);
    ASSERT_RC(bolt_tx_page_info(tx, 15, &pi), BOLT_NOTFOUND); /* the high-water mark */
    bolt_val v;
    ASSERT_OK(bolt_tx_page_bytes(tx, 2, &v));
    ASSERT_EQ_SIZE(v.size, 4096);
    ASSERT_EQ_MEM(v.data, v.size, img + 2 * 4096, 4096);
    ASSERT_RC(bolt_tx_page_bytes(tx, 99, &v), BOLT_NOTFOUND);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    /* A leaf with a key pointing past its page: the check result says so. */
    unsigned char *bad = malloc(len);
    memcpy(bad, img, len);
    bad[2 * 4096 + 16 + 4] = 0xff; /* element 0's pos */
    bad[2 * 4096 + 16 + 5] = 0xff;
    ASSERT_OK(bolt_open_memory(bad, len, NULL, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_page_info(tx, 2, &pi));
    ASSERT_RC(pi.status, BOLT_ECORRUPT);
    ASSERT_TRUE(strlen(pi.why) > 0);
    /* Reading the damaged bucket tree reports the page. */
    bolt_bucket *b;
    ASSERT_RC(bolt_tx_bucket(tx, bolt_str("nested"), &b), BOLT_ECORRUPT);
    char detail[256];
    bolt_db_last_corruption(db, detail, sizeof detail);
    ASSERT_TRUE(strncmp(detail, "page 2: ", 8) == 0);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    /* The root leaf's overflow runs past the high-water mark (15). */
    memcpy(bad, img, len);
    bad[2 * 4096 + 12] = 13; /* pages 2..15 */
    ASSERT_OK(bolt_open_memory(bad, len, NULL, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_RC(bolt_tx_bucket(tx, bolt_str("nested"), &b), BOLT_ECORRUPT);
    bolt_db_last_corruption(db, detail, sizeof detail);
    ASSERT_EQ_STR(detail, "page 2: overflow run past the high-water mark");
    ASSERT_OK(bolt_tx_page_info(tx, 2, &pi)); /* inspection still works, clipped */
    ASSERT_OK(bolt_tx_page_bytes(tx, 2, &v));
    ASSERT_EQ_SIZE(v.size, 13 * 4096);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    free(bad);
    free(img);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_torn_meta_info);
    RUN(test_page_info_and_bytes);
    return 0;
}
