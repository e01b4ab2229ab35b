/* test_backup.c: bolt/backup.c (bolt_tx_write_to / _fn, bolt_tx_free_pages). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "bolt_test.h"

static void fill(bolt_db *db, int from, int to, int step)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = from; i < to; i += step) {
        char k[32], v[64];
        snprintf(k, sizeof k, "key-%06d", i);
        snprintf(v, sizeof v, "value-%d-%0*d", i, i % 40, 7);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

static void del_range(bolt_db *db, int from, int to)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = from; i < to; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%06d", i);
        ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

typedef struct prog {
    uint64_t last, total;
    int calls;
    int stop_at; /* return an error on this call (0 = never) */
} prog;

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    prog *p = arg;
    ASSERT_TRUE(done > p->last);
    ASSERT_TRUE(done <= total);
    p->last = done;
    p->total = total;
    p->calls++;
    return p->calls == p->stop_at ? -ECANCELED : 0;
}

/* Copy as of a reader begun before more writes; the copy is that state. */
static void test_copy_is_the_readers_state(void)
{
    char path[4096], copy[4096];
    harness_path(path, sizeof path, "src.db");
    harness_path(copy, sizeof copy, "copy.db");
    bolt_options o = bt_opts();
    o.no_freelist_sync = true;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    fill(db, 0, 3000, 1);
    del_range(db, 100, 900);
    char *want = bt_dump(db, 0);
    bolt_tx *rtx;
    ASSERT_OK(bolt_tx_begin(db, 0, &rtx));
    /* Writers go on, reusing and adding pages, while the copy is made. */
    del_range(db, 0, 100);
    fill(db, 5000, 9000, 1);
    int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    prog p = { 0 };
    ASSERT_OK(bolt_tx_write_to(rtx, fd, on_progress, &p));
    ASSERT_OK(close(fd));
    ASSERT_EQ_U64(p.total, bolt_tx_size(rtx));
    ASSERT_EQ_U64(p.last, p.total);
    ASSERT_TRUE(p.calls >= 2);
    bolt_txid txid = bolt_tx_id(rtx);
    bolt_tx_rollback(rtx);
    ASSERT_OK(bolt_close(db));

    size_t len;
    unsigned char *img = bt_read_file(copy, &len);
    ASSERT_NOT_NULL(img);
    ASSERT_EQ_U64(len, p.total);
    free(img);
    bolt_db *c;
    ASSERT_OK(bolt_open(copy, &o, &c));
    bt_check(c);
    char *got = bt_dump(c, 0);
    ASSERT_EQ_STR(got, want);
    bolt_tx *t;
    ASSERT_OK(bolt_tx_begin(c, 0, &t));
    ASSERT_EQ_U64(bolt_tx_id(t), txid); /* meta 0 carries the reader's txid */
    bolt_tx_rollback(t);
    /* The copy is writable, and stays clean after a write. */
    fill(c, 9000, 9100, 1);
    bt_check(c);
    ASSERT_OK(bolt_close(c));
    free(got);
    free(want);
}

static int collect(void *arg, const void *buf, size_t n)
{
    FILE *f = arg;
    return fwrite(buf, 1, n, f) == n ? 0 : -EIO;
}

/* The sink form with a stored freelist; callbacks' errors stop the copy. */
static void test_write_fn_and_errors(void)
{
    char path[4096];
    harness_path(path, sizeof path, "fl.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    fill(db, 0, 2000, 1);
    del_range(db, 0, 1500);
    char *want = bt_dump(db, 0);
    bolt_tx *rtx;
    ASSERT_OK(bolt_tx_begin(db, 0, &rtx));
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    ASSERT_OK(bolt_tx_write_fn(rtx, collect, f, NULL, NULL));
    fclose(f);
    ASSERT_EQ_U64(memlen, bolt_tx_size(rtx));

    prog p = { .stop_at = 2 };
    FILE *g = fopen("/dev/null", "w");
    ASSERT_RC(bolt_tx_write_fn(rtx, collect, g, on_progress, &p), -ECANCELED);
    fclose(g);
    ASSERT_RC(bolt_tx_write_to(rtx, -1, NULL, NULL), STRATA_EMISUSE);
    bolt_tx_rollback(rtx);

    /* A write transaction is refused; the free-page count needs one. */
    bolt_tx *wtx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &wtx));
    ASSERT_RC(bolt_tx_write_fn(wtx, collect, NULL, NULL, NULL), STRATA_EMISUSE);
    uint64_t nfree = 0;
    ASSERT_OK(bolt_tx_free_pages(wtx, &nfree));
    ASSERT_TRUE(nfree > 0); /* 1500 of 2000 keys deleted */
    bolt_tx_rollback(wtx);
    ASSERT_OK(bolt_tx_begin(db, 0, &rtx));
    ASSERT_RC(bolt_tx_free_pages(rtx, &nfree), BOLT_ETXNOTWRITABLE);
    bolt_tx_rollback(rtx);
    ASSERT_OK(bolt_close(db));

    /* The image opens from memory and dumps the same. */
    bolt_db *m;
    ASSERT_OK(bolt_open_memory(mem, memlen, NULL, &m));
    bt_check(m);
    char *got = bt_dump(m, 0);
    ASSERT_EQ_STR(got, want);
    /* A memory image copies too (no file: from memory). */
    ASSERT_OK(bolt_tx_begin(m, 0, &rtx));
    char *mem2 = NULL;
    size_t memlen2 = 0;
    FILE *f2 = open_memstream(&mem2, &memlen2);
    ASSERT_OK(bolt_tx_write_fn(rtx, collect, f2, NULL, NULL));
    fclose(f2);
    bolt_tx_rollback(rtx);
    ASSERT_OK(bolt_close(m));
    ASSERT_EQ_MEM(mem2, memlen2, mem, memlen);
    free(mem2);
    free(got);
    free(want);
    free(mem);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_copy_is_the_readers_state);
    RUN(test_write_fn_and_errors);
    return 0;
}
