/*
 * test_alloc.c: common/alloc.c, and the rule that libstrata allocates only
 * through strata_malloc & co.
 *
 * An application allocator is installed before the first allocation: it puts
 * a tagged header in front of every block and counts live blocks. Then every
 * layer is exercised (bolt: nested buckets, cursors, check, dump, compact;
 * index: a tree with ranges and compaction; backend: batches, read
 * transactions, hash, gzip snapshot and restore, defrag; lease and mvcc: a
 * store with a lessor, leased puts, ranges, deletes, a watch stream,
 * compaction, hashes, a revoke, a reopen). A block the library
 * got from the host's malloc and gave to strata_free fails the tag check; a
 * block from strata_malloc given to free(3) crashes the host's free; and any
 * block left live when everything is closed is a leak through the
 * replacement. Both would be invisible with the default allocator.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <strata/backend.h>
#include <strata/bolt.h>
#include <strata/idx.h>
#include <strata/lease.h>
#include <strata/mvcc.h>

#define HARNESS_STRERROR(rc) backend_strerror(rc)
#include "harness.h"

#define TAG 0x5354524154414c43ull /* "STRATALC" */

typedef struct header {
    uint64_t tag;
    uint64_t size;
} header;

static atomic_long live_blocks, total_allocs, foreign_frees;

static void *tagged(header *h, size_t size)
{
    if (h == NULL)
        return NULL;
    h->tag = TAG;
    h->size = size;
    atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&total_allocs, 1);
    return h + 1;
}

static void *t_malloc(size_t size)
{
    return tagged(malloc(sizeof(header) + size), size);
}

static void *t_calloc(size_t count, size_t size)
{
    if (size != 0 && count > (SIZE_MAX - sizeof(header)) / size)
        return NULL;
    return tagged(calloc(1, sizeof(header) + count * size), count * size);
}

static void t_free(void *p)
{
    if (p == NULL)
        return;
    header *h = (header *)p - 1;
    if (h->tag != TAG) {
        /* Not ours: count it and leak it (freeing would corrupt the heap). */
        atomic_fetch_add(&foreign_frees, 1);
        return;
    }
    h->tag = 0;
    atomic_fetch_sub(&live_blocks, 1);
    free(h);
}

static void *t_realloc(void *p, size_t size)
{
    if (p == NULL)
        return t_malloc(size);
    header *h = (header *)p - 1;
    if (h->tag != TAG) {
        atomic_fetch_add(&foreign_frees, 1);
        return NULL;
    }
    header *n = realloc(h, sizeof(header) + size);
    if (n == NULL)
        return NULL;
    n->size = size;
    return n + 1;
}

static const strata_allocator_fns tagged_fns = { t_malloc, t_calloc, t_realloc, t_free, "tagged" };

/* Refusals first: none of them may count as a use of the default allocator. */
static void test_set_allocator_refusals(void)
{
    ASSERT_EQ_STR(strata_allocator(), "system");
    ASSERT_RC(strata_set_allocator(NULL), STRATA_EMISUSE);
    strata_allocator_fns partial = tagged_fns;
    partial.free_fn = NULL;
    ASSERT_RC(strata_set_allocator(&partial), STRATA_EMISUSE);
    partial = tagged_fns;
    partial.realloc_fn = NULL;
    ASSERT_RC(strata_set_allocator(&partial), STRATA_EMISUSE);
    ASSERT_EQ_STR(strata_allocator(), "system");
    strata_free(NULL); /* not an allocation */
}

static void test_set_allocator_before_first_use(void)
{
    ASSERT_OK(strata_set_allocator(&tagged_fns));
    ASSERT_EQ_STR(strata_allocator(), "tagged");
    void *p = strata_malloc(10);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 1);
    p = strata_realloc(p, 1000);
    ASSERT_NOT_NULL(p);
    strata_free(p);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 0);
    /* Once used, the allocator cannot change (its blocks would reach another free). */
    strata_allocator_fns other = tagged_fns;
    other.name = NULL;
    ASSERT_RC(strata_set_allocator(&other), STRATA_EMISUSE);
    ASSERT_EQ_STR(strata_allocator(), "tagged");
}

static void put_str(bolt_bucket *b, const char *k, const char *v)
{
    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
}

static void report_problem(void *arg, const char *problem)
{
    fprintf(stderr, "check: %s\n", problem);
    ++*(int *)arg;
}

static void test_bolt_allocates_through_strata(void)
{
    char path[4096], copy[4096];
    harness_path(path, sizeof path, "bolt.db");
    harness_path(copy, sizeof copy, "bolt-compact.db");
    long before = atomic_load(&total_allocs);
    bolt_db *db;
    ASSERT_OK(bolt_open(path, NULL, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *top, *inner;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("top"), &top));
    ASSERT_OK(bolt_bucket_create(top, bolt_str("inner"), &inner));
    char k[32], v[200];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key-%06d", i);
        snprintf(v, sizeof v, "%0*d", 20 + i % 150, i);
        put_str(i % 2 ? inner : top, k, v);
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("top"), &top));
    for (int i = 0; i < 3000; i += 3) {
        snprintf(k, sizeof k, "key-%06d", i);
        int rc = bolt_bucket_delete(top, bolt_str(k));
        ASSERT_TRUE(rc == 0 || rc == STRATA_NOTFOUND);
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("top"), &top));
    ASSERT_OK(bolt_bucket_open(top, bolt_str("inner"), &inner));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(inner, &c));
    bolt_val key, val;
    int n = 0;
    for (int rc = bolt_cursor_first(c, &key, &val); rc == 0; rc = bolt_cursor_next(c, &key, &val))
        n++;
    ASSERT_EQ_INT(n, 1500);
    bolt_cursor_close(c);
    int problems = 0;
    ASSERT_OK(bolt_tx_check(tx, report_problem, &problems));
    ASSERT_EQ_INT(problems, 0);
    FILE *devnull = fopen("/dev/null", "w");
    ASSERT_NOT_NULL(devnull);
    ASSERT_OK(bolt_tx_dump(tx, devnull, 16));
    fclose(devnull);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_compact(db, copy, NULL, NULL)); /* bottom-up bulk load */
    harness_path(copy, sizeof copy, "bolt-compact-tx.db");
    bolt_compact_options co = { .size = sizeof co, .tx_max_size = 64 * 1024 };
    ASSERT_OK(bolt_compact(db, copy, &co, NULL)); /* through transactions */
    ASSERT_OK(bolt_close(db));
    ASSERT_GT_INT(atomic_load(&total_allocs), before);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 0);
    ASSERT_EQ_INT(atomic_load(&foreign_frees), 0);
}

static void test_index_allocates_through_strata(void)
{
    long before = atomic_load(&total_allocs);
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    char k[32];
    for (int64_t rev = 1; rev <= 5000; rev++) {
        snprintf(k, sizeof k, "k%04d", (int)(rev % 700));
        ASSERT_OK(idx_tree_put(t, k, strlen(k), (idx_rev){ rev, 0 }));
    }
    idx_range_result r = { 0 };
    ASSERT_OK(idx_tree_range(t, "k", 1, "l", 1, 4000, 0, true, &r));
    ASSERT_EQ_SIZE(r.total, 700);
    idx_range_result_release(&r);
    idx_rev_set *keep = NULL;
    ASSERT_OK(idx_tree_compact(t, 3000, &keep));
    ASSERT_GT_INT(idx_rev_set_count(keep), 0);
    idx_rev_set_free(keep);
    idx_tree_free(t);
    ASSERT_GT_INT(atomic_load(&total_allocs), before);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 0);
    ASSERT_EQ_INT(atomic_load(&foreign_frees), 0);
}

static void test_backend_allocates_through_strata(void)
{
    char path[4096], snap[4096], restored[4096];
    harness_path(path, sizeof path, "backend.db");
    harness_path(snap, sizeof snap, "backend.snap.gz");
    harness_path(restored, sizeof restored, "restored.db");
    long before = atomic_load(&total_allocs);
    strata_manual_clock clk;
    strata_manual_clock_init(&clk, 0);
    backend_options o;
    backend_options_init(&o);
    o.clock = &clk.clock;
    backend *be;
    ASSERT_OK(backend_open(path, &o, &be));
    backend_batch_tx *b = backend_batch(be);
    backend_batch_tx_lock(b);
    ASSERT_OK(backend_batch_tx_create_bucket(b, bolt_str("key")));
    ASSERT_OK(backend_batch_tx_unlock(b));
    char k[32], v[64];
    for (int round = 0; round < 4; round++) {
        backend_batch_tx_lock(b);
        for (int i = 0; i < 500; i++) {
            snprintf(k, sizeof k, "k%05d", (round * 331 + i * 7) % 1200);
            snprintf(v, sizeof v, "value-%d-%d", round, i);
            ASSERT_OK(backend_batch_tx_put(b, bolt_str("key"), bolt_str(k), bolt_str(v)));
        }
        for (int i = 0; i < 50; i++) {
            snprintf(k, sizeof k, "k%05d", (round * 17 + i * 11) % 1200);
            ASSERT_OK(backend_batch_tx_delete(b, bolt_str("key"), bolt_str(k)));
        }
        ASSERT_OK(backend_batch_tx_unlock(b));
        backend_read_tx *r;
        ASSERT_OK(backend_read_tx_begin(be, &r));
        backend_read_tx_end(r);
        if (round % 2)
            ASSERT_OK(backend_force_commit(be));
    }
    ASSERT_OK(backend_force_commit(be));
    uint32_t h1, h2;
    ASSERT_OK(backend_hash(be, NULL, 0, &h1));
    int fd = open(snap, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(backend_snapshot(be, fd, BACKEND_SNAPSHOT_GZIP | BACKEND_SNAPSHOT_TRAILER, NULL, NULL,
                               NULL));
    close(fd);
    ASSERT_OK(backend_defrag(be, NULL));
    ASSERT_OK(backend_hash(be, NULL, 0, &h2));
    ASSERT_EQ_HEX(h1, h2);
    ASSERT_OK(backend_close(be));
    fd = open(snap, O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(backend_snapshot_restore(fd, restored));
    close(fd);
    ASSERT_GT_INT(atomic_load(&total_allocs), before);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 0);
    ASSERT_EQ_INT(atomic_load(&foreign_frees), 0);
}

static void test_store_allocates_through_strata(void)
{
    char path[4096];
    harness_path(path, sizeof path, "store.db");
    long before = atomic_load(&total_allocs);
    strata_manual_clock clk;
    strata_manual_clock_init(&clk, 0);
    backend_options bo;
    backend_options_init(&bo);
    bo.clock = &clk.clock;
    backend *be;
    ASSERT_OK(backend_open(path, &bo, &be));
    for (int round = 0; round < 2; round++) { /* the second round restores from the file */
        lease_options lo;
        lease_options_init(&lo);
        lo.clock = &clk.clock;
        lease_lessor *l;
        ASSERT_OK(lease_lessor_open(be, &lo, &l));
        mvcc_options mo;
        mvcc_options_init(&mo);
        mo.lessor = l;
        mvcc_store *s;
        ASSERT_OK(mvcc_store_open(be, &mo, &s));
        mvcc_watch_stream *ws;
        ASSERT_OK(mvcc_watch_stream_open(s, NULL, &ws));
        mvcc_watch_request wr = { .key = "k", .key_len = 1, .end = "l", .end_len = 1 };
        int64_t wid;
        ASSERT_OK(mvcc_watch(ws, &wr, &wid));
        int64_t lease_id = 100 + round;
        ASSERT_OK(lease_grant(l, lease_id, 60, NULL));
        char k[32], v[64];
        for (int i = 0; i < 300; i++) {
            snprintf(k, sizeof k, "k%04d", i % 120);
            snprintf(v, sizeof v, "value-%d-%d", round, i);
            ASSERT_OK(mvcc_store_put(s, k, strlen(k), v, strlen(v), i % 10 == 0 ? lease_id : 0,
                                     NULL));
        }
        int64_t n = 0;
        ASSERT_OK(mvcc_store_delete_range(s, "k0010", 5, "k0020", 5, &n, NULL));
        ASSERT_EQ_INT(n, 10);
        mvcc_range_result r;
        mvcc_range_result_init(&r);
        ASSERT_OK(mvcc_store_range(s, "k", 1, "l", 1, NULL, &r));
        ASSERT_EQ_INT(r.count, 110);
        mvcc_range_result_release(&r);
        mvcc_watch_response *resp;
        int events = 0;
        while (mvcc_watch_stream_recv(ws, 0, &resp) == 0) {
            events += (int)resp->n_events;
            mvcc_watch_response_free(resp);
        }
        ASSERT_GT_INT(events, 0);
        ASSERT_OK(mvcc_store_compact(s, mvcc_store_rev(s) - 50));
        ASSERT_OK(mvcc_store_compact_wait(s));
        mvcc_hash_kv h;
        ASSERT_OK(mvcc_store_hash_kv(s, 0, &h));
        ASSERT_OK(lease_revoke(l, lease_id));
        mvcc_watch_stream_close(ws);
        ASSERT_OK(mvcc_store_close(s));
        ASSERT_OK(lease_lessor_close(l));
    }
    ASSERT_OK(backend_close(be));
    ASSERT_GT_INT(atomic_load(&total_allocs), before);
    ASSERT_EQ_INT(atomic_load(&live_blocks), 0);
    ASSERT_EQ_INT(atomic_load(&foreign_frees), 0);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_set_allocator_refusals);
    RUN(test_set_allocator_before_first_use);
    RUN(test_bolt_allocates_through_strata);
    RUN(test_index_allocates_through_strata);
    RUN(test_backend_allocates_through_strata);
    RUN(test_store_allocates_through_strata);
    return 0;
}
