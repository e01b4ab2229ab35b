/*
 * test_read_view.c: kvstore_txn.c rule 5, the mvcc side of kept read views
 * (backend/read_tx.c rule 4). A view the backend kept carries the revision
 * it was taken at (its tag, revision + 1); a range that reuses it reports
 * that revision and that state, and a write's end makes it stale before
 * the write returns. A view kept by another user of the backend (untagged)
 * is adopted under rev_mu with the current revision.
 */
#include <strata/backend.h>

#include "mvcc_test.h"

/* The tag of the view the backend keeps now (0: none kept), left kept. */
static uint64_t kept_tag(backend *be, backend_read_tx **view)
{
    uint64_t tag = 0;
    if (!backend_read_tx_reuse(be, view, &tag))
        return 0;
    backend_read_tx_end(*view); /* kept again: nothing changed */
    return tag;
}

static void test_revision_rides_with_the_view(void)
{
    mt_store m;
    mt_open(&m, "rev.db");
    backend *be = mvcc_store_backend(m.s);
    mt_text t;
    int64_t r1 = mt_put(m.s, "k", "v1");
    ASSERT_EQ_STR(mt_range(m.s, "k", NULL, 0, &t), "rev=2 count=1 k=v1@2/2/1/0");
    backend_read_tx *v1 = NULL, *v;
    ASSERT_EQ_U64(kept_tag(be, &v1), (uint64_t)r1 + 1);
    /* The next range reuses it: the same view, the same revision and state. */
    ASSERT_EQ_STR(mt_range(m.s, "k", NULL, 0, &t), "rev=2 count=1 k=v1@2/2/1/0");
    ASSERT_EQ_U64(kept_tag(be, &v), (uint64_t)r1 + 1);
    ASSERT_TRUE(v == v1);
    /* A put's end publishes: the kept view is gone, the next range is fresh. */
    int64_t r2 = mt_put(m.s, "k", "v2");
    ASSERT_EQ_INT(r2, r1 + 1);
    ASSERT_EQ_STR(mt_range(m.s, "k", NULL, 0, &t), "rev=3 count=1 k=v2@2/3/2/0");
    ASSERT_EQ_U64(kept_tag(be, &v), (uint64_t)r2 + 1);
    /* A read transaction held across a write keeps its revision and state. */
    mvcc_txn *rt;
    ASSERT_OK(mvcc_txn_read_begin(m.s, &rt));
    ASSERT_EQ_INT(mvcc_txn_rev(rt), r2);
    mt_put(m.s, "k", "v3");
    mvcc_range_result res;
    mvcc_range_result_init(&res);
    ASSERT_OK(mvcc_txn_range(rt, "k", 1, NULL, 0, NULL, &res));
    ASSERT_EQ_STR(mt_render(&res, &t), "rev=3 count=1 k=v2@2/3/2/0");
    mvcc_range_result_release(&res);
    ASSERT_OK(mvcc_txn_end(rt, NULL));
    ASSERT_EQ_U64(kept_tag(be, &v), 0); /* stale at its end: not kept */
    ASSERT_EQ_STR(mt_range(m.s, "k", NULL, 0, &t), "rev=4 count=1 k=v3@2/4/3/0");
    /* A delete too. */
    ASSERT_EQ_INT(mt_del(m.s, "k", NULL), 1);
    ASSERT_EQ_STR(mt_range(m.s, "k", NULL, 0, &t), "rev=5 count=0");
    ASSERT_EQ_U64(kept_tag(be, &v), 6);
    mt_close(&m);
}

static void test_untagged_view_adopted(void)
{
    mt_store m;
    mt_open(&m, "untagged.db");
    backend *be = mvcc_store_backend(m.s);
    mt_put(m.s, "a", "1");
    int64_t r = mt_put(m.s, "b", "2");
    /* Another user of the backend reads and ends its view: kept, no tag. */
    backend_read_tx *other, *v;
    ASSERT_OK(backend_read_tx_begin(be, &other));
    backend_read_tx_end(other);
    ASSERT_EQ_U64(kept_tag(be, &v), 0);
    ASSERT_TRUE(v == other);
    /* The store takes it under rev_mu, with the current revision. */
    mt_text t;
    ASSERT_EQ_STR(mt_range(m.s, "a", "c", 0, &t), "rev=3 count=2 a=1@2/2/1/0 b=2@3/3/1/0");
    ASSERT_EQ_U64(kept_tag(be, &v), (uint64_t)r + 1);
    ASSERT_TRUE(v == other);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_revision_rides_with_the_view);
    RUN(test_untagged_view_adopted);
    return 0;
}
