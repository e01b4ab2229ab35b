/*
 * test_db.c: bolt/db.c and bolt/tx.c: creating and reopening files, every
 * refusal at open (short, zeroed, torn, truncated, wrong version), the page
 * size probe, flock exclusion with a timeout, read-only mode, readers
 * isolated from later commits, map growth past the reservation, and I/O
 * failures injected through the os table and failpoints.
 */
#include "bolt_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

#include "bolt/bolt_int.h"

static char *tmpfile_path(const char *name)
{
    static char buf[8][8192];
    static int i;
    char *p = buf[i++ % 8];
    harness_path(p, 8192, name);
    return p;
}

static int put_kv(bolt_tx *tx, void *arg)
{
    const char **kv = arg;
    bolt_bucket *b;
    int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b);
    if (rc == 0)
        rc = bolt_bucket_put(b, bolt_str(kv[0]), bolt_str(kv[1]));
    return rc;
}

static void put1(bolt_db *db, const char *k, const char *v)
{
    const char *kv[2] = { k, v };
    ASSERT_OK(bolt_update(db, put_kv, kv));
}

/* Value of k in bucket "b" as a read transaction sees it ("" if missing). */
static void expect_value(bolt_tx *tx, const char *k, const char *want)
{
    bolt_bucket *b;
    bolt_val v;
    if (want == NULL) {
        int rc = bolt_tx_bucket(tx, bolt_str("b"), &b);
        if (rc == BOLT_NOTFOUND)
            return;
        ASSERT_OK(rc);
        ASSERT_RC(bolt_bucket_get(b, bolt_str(k), &v), BOLT_NOTFOUND);
        return;
    }
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_get(b, bolt_str(k), &v));
    ASSERT_EQ_MEM(v.data, v.size, want, strlen(want));
}

static void expect_db_value(bolt_db *db, const char *k, const char *want)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    expect_value(tx, k, want);
    bolt_tx_rollback(tx);
}

static void test_new_file_is_bbolt_init(void)
{
    char *p = tmpfile_path("new.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    ASSERT_EQ_SIZE(len, 4 * 4096);
    bolt__meta m0, m1;
    ASSERT_OK(bolt__meta_decode(img, len, &m0));
    ASSERT_OK(bolt__meta_decode(img + 4096, len - 4096, &m1));
    ASSERT_EQ_U64(m0.txid, 0);
    ASSERT_EQ_U64(m1.txid, 1);
    ASSERT_EQ_U64(m0.root, 3);
    ASSERT_EQ_U64(m0.freelist, 2);
    ASSERT_EQ_U64(m0.pgid, 4);
    ASSERT_EQ_INT(bolt__ld16(img + 2 * 4096 + 8), 0x10);
    ASSERT_EQ_INT(bolt__ld16(img + 3 * 4096 + 8), 0x02);
    free(img);
    /* Small pages: still at least 4096 bytes, so bbolt can reopen it. */
    p = tmpfile_path("small.db");
    o.page_size = 512;
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_EQ_INT(bolt_db_page_size(db), 512);
    ASSERT_OK(bolt_close(db));
    img = bt_read_file(p, &len);
    ASSERT_EQ_SIZE(len, 4096);
    free(img);
    ASSERT_OK(bolt_open(p, &o, &db));
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    o.page_size = 1000;
    ASSERT_RC(bolt_open(tmpfile_path("bad_ps.db"), &o, &db), BOLT_EPAGESIZE);
    ASSERT_NULL(db);
}

static void test_commit_reopen_and_txids(void)
{
    char *p = tmpfile_path("reopen.db");
    bolt_options o = bt_opts();
    o.no_sync = false; /* exercise the real fdatasync path once */
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    put1(db, "k1", "v1");
    put1(db, "k2", "v2");
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_EQ_U64(bolt_tx_id(tx), 3);
    ASSERT_FALSE(bolt_tx_writable(tx));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    bolt__meta m0, m1;
    ASSERT_OK(bolt__meta_decode(img, len, &m0));
    ASSERT_OK(bolt__meta_decode(img + 4096, len - 4096, &m1));
    ASSERT_EQ_U64(m1.txid, 3); /* txid 3 lives on page 3 % 2 */
    ASSERT_EQ_U64(m0.txid, 2);
    free(img);
    ASSERT_OK(bolt_open(p, &o, &db));
    expect_db_value(db, "k1", "v1");
    expect_db_value(db, "k2", "v2");
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void write_bytes(const char *p, const void *buf, size_t n)
{
    bt_write_file(p, buf, n);
}

static void test_open_refusals(void)
{
    bolt_options o = bt_opts();
    bolt_db *db;
    /* Read-only: a missing file, an empty file. */
    o.read_only = true;
    ASSERT_RC(bolt_open(tmpfile_path("missing.db"), &o, &db), -ENOENT);
    char *p = tmpfile_path("empty.db");
    write_bytes(p, "", 0);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_EINVALID);
    o.read_only = false;
    /* 1..4095 bytes. */
    unsigned char junk[8192];
    memset(junk, 0, sizeof junk);
    p = tmpfile_path("short.db");
    write_bytes(p, junk, 100);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_EINVALID);
    /* Zeroed metas. */
    p = tmpfile_path("zero.db");
    write_bytes(p, junk, sizeof junk);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_EINVALID);
    ASSERT_NULL(db);
    /* A good file, then damage it in turn. */
    char *good = tmpfile_path("good.db");
    ASSERT_OK(bolt_open(good, &o, &db));
    put1(db, "a", "b");
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(good, &len);
    unsigned char *bad = malloc(len);
    /* Both checksums broken: meta 0's error. */
    memcpy(bad, img, len);
    bad[40] ^= 1;
    bad[4096 + 40] ^= 1;
    p = tmpfile_path("cksum.db");
    write_bytes(p, bad, len);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_ECHECKSUM);
    /* Version 3 in both. */
    memcpy(bad, img, len);
    bolt__st32(bad + 20, 3);
    bolt__st32(bad + 4096 + 20, 3);
    write_bytes(p, bad, len);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_EVERSIONMISMATCH);
    /* Torn newest meta: falls back to the older one (key not there yet). */
    bolt__meta m0, m1;
    ASSERT_OK(bolt__meta_decode(img, len, &m0));
    ASSERT_OK(bolt__meta_decode(img + 4096, len - 4096, &m1));
    memcpy(bad, img, len);
    size_t newest = m0.txid > m1.txid ? 0 : 4096;
    bad[newest + 50] ^= 0xff;
    write_bytes(p, bad, len);
    o.read_only = true;
    ASSERT_OK(bolt_open(p, &o, &db));
    expect_db_value(db, "a", NULL);
    ASSERT_OK(bolt_close(db));
    o.read_only = false;
    /* Truncated below the high-water mark. */
    write_bytes(p, img, 4 * 4096);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_ECORRUPT);
    /* Shorter than two pages. */
    write_bytes(p, img, 4096);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_EFILETOOSMALL);
    /* A root page id out of range. */
    memcpy(bad, img, len);
    for (int i = 0; i < 2; i++) {
        bolt__meta m;
        ASSERT_OK(bolt__meta_decode(bad + i * 4096, 4096, &m));
        m.root = m.pgid + 5;
        bolt__meta_encode(&m, (bolt_pgid)i, bad + i * 4096, 4096);
    }
    write_bytes(p, bad, len);
    ASSERT_RC(bolt_open(p, &o, &db), BOLT_ECORRUPT);
    /* Memory images: the same checks. */
    ASSERT_RC(bolt_open_memory(bad, 100, NULL, &db), BOLT_EINVALID);
    ASSERT_RC(bolt_open_memory(bad, 0, NULL, &db), BOLT_EINVALID);
    free(bad);
    free(img);
}

/* meta 0 unreadable: the page size comes from a meta 1 found by probing. */
static void test_page_size_probe(void)
{
    char *p = tmpfile_path("ps16k.db");
    bolt_options o = bt_opts();
    o.page_size = 16384;
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    put1(db, "x", "y");
    put1(db, "x", "z");
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    memset(img, 0, 4096); /* meta 0 gone */
    write_bytes(p, img, len);
    free(img);
    o.page_size = 0;
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_EQ_INT(bolt_db_page_size(db), 16384);
    bt_check(db);
    put1(db, "x", "w"); /* rewrites meta 0 (txid 4) */
    expect_db_value(db, "x", "w");
    ASSERT_OK(bolt_close(db));
}

static void test_flock_exclusion(void)
{
    char *p = tmpfile_path("lock.db");
    bolt_options o = bt_opts();
    bolt_db *a, *b;
    ASSERT_OK(bolt_open(p, &o, &a));
    o.timeout_ms = 100;
    ASSERT_RC(bolt_open(p, &o, &b), BOLT_ETIMEOUT);
    o.read_only = true;
    ASSERT_RC(bolt_open(p, &o, &b), BOLT_ETIMEOUT);
    ASSERT_OK(bolt_close(a));
    /* Readers share. */
    bolt_db *c;
    ASSERT_OK(bolt_open(p, &o, &b));
    ASSERT_OK(bolt_open(p, &o, &c));
    o.read_only = false;
    ASSERT_RC(bolt_open(p, &o, &a), BOLT_ETIMEOUT);
    bolt_tx *tx;
    ASSERT_RC(bolt_tx_begin(b, BOLT_TX_WRITE, &tx), BOLT_EDATABASEREADONLY);
    ASSERT_NULL(tx);
    ASSERT_OK(bolt_close(b));
    ASSERT_OK(bolt_close(c));
}

static void test_close_with_open_tx(void)
{
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(tmpfile_path("busy.db"), &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_RC(bolt_close(db), BOLT_ETXACTIVE);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    ASSERT_OK(bolt_close(NULL));
}

/* A reader keeps its snapshot while the writer rewrites (and reuses) pages. */
static void test_reader_isolation(void)
{
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(tmpfile_path("iso.db"), &o, &db));
    put1(db, "k", "old");
    bolt_tx *r;
    ASSERT_OK(bolt_tx_begin(db, 0, &r));
    for (int i = 0; i < 50; i++) {
        char v[32];
        snprintf(v, sizeof v, "new%d", i);
        put1(db, "k", v);
        expect_value(r, "k", "old");
    }
    bt_check(db);
    expect_value(r, "k", "old");
    bolt_tx_rollback(r);
    expect_db_value(db, "k", "new49");
    ASSERT_OK(bolt_close(db));
}

static int put_big(bolt_tx *tx, void *arg)
{
    int *round = arg;
    bolt_bucket *b;
    int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("big"), &b);
    static unsigned char v[100000];
    memset(v, *round, sizeof v);
    char k[16];
    snprintf(k, sizeof k, "%04d", *round);
    if (rc == 0)
        rc = bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, sizeof v });
    return rc;
}

/* The file outgrows a 64 KiB reservation: new maps, old readers unaffected. */
static void test_growth_past_reservation(void)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 64 * 1024;
    bolt_db *db;
    char *p = tmpfile_path("grow.db");
    ASSERT_OK(bolt_open(p, &o, &db));
    bolt_tx *r = NULL;
    for (int i = 0; i < 40; i++) {
        ASSERT_OK(bolt_update(db, put_big, &i));
        if (i == 3)
            ASSERT_OK(bolt_tx_begin(db, 0, &r));
    }
    /* The early reader still reads its own data. */
    bolt_bucket *b;
    bolt_val v;
    ASSERT_OK(bolt_tx_bucket(r, bolt_str("big"), &b));
    ASSERT_OK(bolt_bucket_get(b, bolt_str("0003"), &v));
    ASSERT_EQ_SIZE(v.size, 100000);
    ASSERT_EQ_INT(((const unsigned char *)v.data)[99999], 3);
    ASSERT_RC(bolt_bucket_get(b, bolt_str("0004"), &v), BOLT_NOTFOUND);
    bolt_tx_rollback(r);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    ASSERT_OK(bolt_open(p, &o, &db));
    bt_check(db);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("big"), &b));
    ASSERT_OK(bolt_bucket_get(b, bolt_str("0039"), &v));
    ASSERT_EQ_INT(((const unsigned char *)v.data)[0], 39);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
}

/* ---- threads: readers never see a half-applied commit --------------------- */

static int writer_round(bolt_tx *tx, void *arg)
{
    int i = *(int *)arg;
    bolt_bucket *t, *list;
    int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("t"), &t);
    if (rc == 0)
        rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("list"), &list);
    char v[2048], k[32];
    memset(v, 'v', sizeof v);
    int n = snprintf(v, sizeof v, "%d", i);
    v[n] = '.';
    snprintf(k, sizeof k, "k%06d", i);
    if (rc == 0)
        rc = bolt_bucket_put(t, bolt_str("a"), (bolt_val){ v, sizeof v });
    if (rc == 0)
        rc = bolt_bucket_put(list, bolt_str(k), (bolt_val){ v, sizeof v });
    if (rc == 0)
        rc = bolt_bucket_put(t, bolt_str("b"), (bolt_val){ v, sizeof v });
    if (rc == 0)
        rc = bolt_bucket_put(t, bolt_str("n"), (bolt_val){ &i, sizeof i });
    return rc;
}

static void *reader_main(void *arg)
{
    bolt_db *db = arg;
    for (int round = 0; round < 400; round++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        bolt_bucket *t, *list;
        if (bolt_tx_bucket(tx, bolt_str("t"), &t) == BOLT_NOTFOUND) {
            bolt_tx_rollback(tx);
            continue;
        }
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("list"), &list));
        bolt_val a, b, n;
        ASSERT_OK(bolt_bucket_get(t, bolt_str("a"), &a));
        ASSERT_OK(bolt_bucket_get(t, bolt_str("b"), &b));
        ASSERT_OK(bolt_bucket_get(t, bolt_str("n"), &n));
        ASSERT_EQ_MEM(a.data, a.size, b.data, b.size);
        int last;
        memcpy(&last, n.data, sizeof last);
        bolt_cursor *c;
        ASSERT_OK(bolt_cursor_open(list, &c));
        int count = 0;
        bolt_val k, v;
        for (int rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v))
            count++;
        ASSERT_EQ_INT(count, last + 1);
        bolt_tx_rollback(tx);
    }
    return NULL;
}

static void test_concurrent_readers_and_writer(void)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 64 * 1024; /* remaps happen while readers run */
    bolt_db *db;
    ASSERT_OK(bolt_open(tmpfile_path("threads.db"), &o, &db));
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, reader_main, db), 0);
    for (int i = 0; i < 300; i++)
        ASSERT_OK(bolt_update(db, writer_round, &i));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

/* ---- injected failures -------------------------------------------------- */

static struct bolt_os fail_os;
static int fail_fdatasync_after = -1; /* fail the Nth call from now (0 = next) */
static int fail_fallocate_errno;
static const char *fail_point;

static int failing_fdatasync(int fd)
{
    if (fail_fdatasync_after == 0) {
        fail_fdatasync_after = -1;
        errno = EIO;
        return -1;
    }
    if (fail_fdatasync_after > 0)
        fail_fdatasync_after--;
    return bolt__os_default()->fdatasync(fd);
}

static int failing_fallocate(int fd, off_t off, off_t len)
{
    if (fail_fallocate_errno != 0)
        return fail_fallocate_errno;
    return bolt__os_default()->fallocate(fd, off, len);
}

static int failpoint_hook(const char *name)
{
    if (fail_point != NULL && strcmp(name, fail_point) == 0)
        return -EIO;
    return 0;
}

static bolt_options failing_opts(void)
{
    fail_os = *bolt__os_default();
    fail_os.fdatasync = failing_fdatasync;
    fail_os.fallocate = failing_fallocate;
    fail_os.failpoint = failpoint_hook;
    bolt_options o = bt_opts();
    o.no_sync = false;
    o.os = &fail_os;
    return o;
}

static void test_failed_sync_poisons(void)
{
    bolt_options o = failing_opts();
    char *p = tmpfile_path("poison.db");
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    put1(db, "k", "v1");
    fail_fdatasync_after = 1; /* the sync after the meta write */
    const char *kv[2] = { "k", "v2" };
    ASSERT_RC(bolt_update(db, put_kv, kv), -EIO);
    bolt_tx *tx;
    ASSERT_RC(bolt_tx_begin(db, BOLT_TX_WRITE, &tx), BOLT_EPOISONED);
    ASSERT_OK(bolt_tx_begin(db, 0, &tx)); /* reads still work */
    expect_value(tx, "k", "v1");
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    ASSERT_OK(bolt_open(p, &o, &db));
    bt_check(db);
    put1(db, "k", "v3");
    expect_db_value(db, "k", "v3");
    ASSERT_OK(bolt_close(db));
}

static void test_full_disk_fails_cleanly(void)
{
    bolt_options o = failing_opts();
    char *p = tmpfile_path("enospc.db");
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    put1(db, "k", "v1");
    fail_fallocate_errno = ENOSPC;
    int round = 0;
    int rc = 0;
    for (round = 0; round < 20 && rc == 0; round++)
        rc = bolt_update(db, put_big, &round);
    ASSERT_RC(rc, -ENOSPC);
    fail_fallocate_errno = 0;
    /* Not poisoned: the file was never written past the old state. */
    ASSERT_OK(bolt_update(db, put_big, &round));
    bt_check(db);
    expect_db_value(db, "k", "v1");
    ASSERT_OK(bolt_close(db));
}

static void test_failpoints_keep_last_commit(void)
{
#if STRATA_FAILPOINTS
    const char *points[] = { "before_page_write", "before_data_sync", "before_meta_write" };
    for (size_t i = 0; i < 3; i++) {
        bolt_options o = failing_opts();
        char name[64];
        snprintf(name, sizeof name, "fp%zu.db", i);
        char *p = tmpfile_path(name);
        bolt_db *db;
        ASSERT_OK(bolt_open(p, &o, &db));
        put1(db, "k", "v1");
        fail_point = points[i];
        const char *kv[2] = { "k", "v2" };
        ASSERT_RC(bolt_update(db, put_kv, kv), -EIO);
        fail_point = NULL;
        ASSERT_OK(bolt_close(db));
        ASSERT_OK(bolt_open(p, &o, &db));
        expect_db_value(db, "k", "v1");
        bt_check(db);
        put1(db, "k", "v3");
        expect_db_value(db, "k", "v3");
        bt_check(db);
        ASSERT_OK(bolt_close(db));
    }
#endif
}

/* bbolt's DB.Stats and TxStats: what transactions did, summed at commit. */
static void test_db_and_tx_stats(void)
{
    char *path = tmpfile_path("stats.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_db_stats ds;
    bolt_db_stats_get(db, &ds);
    ASSERT_EQ_U64(ds.tx.page_count, 0);
    ASSERT_EQ_U64(ds.tx_n, 0);

    bolt_tx *tx;
    bolt_bucket *b;
    bolt_cursor *c;
    char key[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key-%06d", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str("a value of some length")));
    }
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_tx_stats ts;
    bolt_tx_stats_get(tx, &ts);
    ASSERT_EQ_U64(ts.cursor_count, 1);
    ASSERT_GE_INT(ts.node_count, 1);
    ASSERT_EQ_U64(ts.page_count, 0); /* pages are allocated at commit */
    ASSERT_OK(bolt_tx_commit(tx));
    bolt_db_stats_get(db, &ds);
    ASSERT_GE_INT(ds.tx.split, 1); /* 2,000 keys do not fit one page */
    /* Spilled: split + 1 leaves, their new branch, and the root bucket's leaf. */
    ASSERT_EQ_U64(ds.tx.spill, ds.tx.split + 3);
    ASSERT_GE_INT(ds.tx.page_count, ds.tx.spill); /* + the freelist run */
    ASSERT_EQ_U64(ds.tx.page_alloc, ds.tx.page_count * 4096);
    ASSERT_GE_INT(ds.tx.write, 2); /* pages, then the meta */
    ASSERT_EQ_U64(ds.tx.cursor_count, 1);
    ASSERT_EQ_U64(ds.tx.node_deref, 0);

    /* Read transactions are counted; pages freed under a reader stay pending. */
    bolt_tx *reader;
    ASSERT_OK(bolt_tx_begin(db, 0, &reader));
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof key, "key-%06d", i);
        ASSERT_OK(bolt_bucket_delete(b, bolt_str(key)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    bolt_db_stats_get(db, &ds);
    ASSERT_EQ_U64(ds.tx_n, 1);
    ASSERT_EQ_U64(ds.open_tx_n, 1);
    ASSERT_GE_INT(ds.tx.rebalance, 0);
    ASSERT_GT_INT(ds.pending_page_n, 0);
    ASSERT_EQ_U64(ds.free_alloc, (ds.free_page_n + ds.pending_page_n) * 4096);
    ASSERT_GT_INT(ds.freelist_inuse, 16);
    bolt_tx_rollback(reader);
    bolt_db_stats_get(db, &ds);
    ASSERT_EQ_U64(ds.open_tx_n, 0);
    ASSERT_OK(bolt_close(db));
}

static void count_checksum_zero(void *arg, const char *problem)
{
    if (strstr(problem, "meta checksum is 0") != NULL)
        ++*(int *)arg;
}

/* A stored meta checksum of 0 opens (bbolt accepts it unverified); check reports it. */
static void test_meta_checksum_zero(void)
{
    char *path = tmpfile_path("sum0.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    put1(db, "k", "v");
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_txid txid = bolt_tx_id(tx);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(path, &len);
    memset(img + (txid % 2) * 4096 + 72, 0, 8); /* the current meta's checksum (FORMAT §3) */
    write_bytes(path, img, len);
    free(img);
    o.read_only = true;
    ASSERT_OK(bolt_open(path, &o, &db));
    expect_db_value(db, "k", "v");
    int reported = 0;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_RC(bolt_tx_check(tx, count_checksum_zero, &reported), BOLT_ECORRUPT);
    bolt_tx_rollback(tx);
    ASSERT_EQ_INT(reported, 1);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_meta_checksum_zero);
    RUN(test_db_and_tx_stats);
    RUN(test_new_file_is_bbolt_init);
    RUN(test_commit_reopen_and_txids);
    RUN(test_open_refusals);
    RUN(test_page_size_probe);
    RUN(test_flock_exclusion);
    RUN(test_close_with_open_tx);
    RUN(test_reader_isolation);
    RUN(test_growth_past_reservation);
    RUN(test_concurrent_readers_and_writer);
    RUN(test_failed_sync_poisons);
    RUN(test_full_disk_fails_cleanly);
    RUN(test_failpoints_keep_last_commit);
    return 0;
}
