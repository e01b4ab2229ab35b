/*
 * test_read_begin.c: read_tx.c rule 1. A reader held (by the
 * "read_tx_begin" failpoint) between taking the published snapshot and
 * beginning bolt's read transaction holds no lock a writer needs: puts,
 * deletes and a whole commit go through meanwhile. Released after that
 * commit began, the reader must not pair its old snapshot with the new
 * bolt state: it begins again and sees a state that existed.
 */
#include <pthread.h>

#include "backend_test.h"
#include "gate.h"
#include "strata_config.h"

#if STRATA_FAILPOINTS

typedef struct reader {
    pthread_t th;
    backend *be;
    bk_str seen;
    int rc;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    r->seen.len = 0;
    r->seen.buf[0] = '\0';
    backend_read_tx *rt;
    r->rc = backend_read_tx_begin(r->be, &rt);
    if (r->rc == 0) {
        r->rc = backend_read_tx_for_each(rt, bolt_str("b"), bk_append, &r->seen);
        backend_read_tx_end(rt);
    }
    return NULL;
}

static void test_commit_while_reader_begins(void)
{
    /* commit: whether the writer also commits while the reader waits */
    for (int commit = 0; commit < 2; commit++) {
        gate g;
        gate_init(&g, "read_tx_begin", false);
        backend_options o = bk_opts(NULL);
        o.batch_interval_ns = 3600ull * 1000000000u; /* commits only when asked */
        o.failpoint = gate_failpoint;
        o.failpoint_arg = &g;
        backend *be = bk_open(commit ? "rb-commit.db" : "rb-nocommit.db", &o);
        bk_bucket(be, "b");
        bk_put(be, "b", "k1", "old");
        ASSERT_OK(backend_force_commit(be));
        bk_put(be, "b", "k1", "mid"); /* buffered: in the snapshot the reader takes */

        g.armed = true; /* before the reader exists */
        reader r = { .be = be };
        ASSERT_TRUE(pthread_create(&r.th, NULL, reader_main, &r) == 0);
        gate_wait_entered(&g, 1);
        /* The reader holds a snapshot {k1=mid} and no lock: these must not wait. */
        bk_del(be, "b", "k1");
        bk_put(be, "b", "k2", "new");
        if (commit)
            ASSERT_OK(backend_force_commit(be)); /* bolt now: {k2=new} */
        pthread_mutex_lock(&g.mu);
        g.armed = false;
        pthread_mutex_unlock(&g.mu);
        gate_release(&g, 1);
        ASSERT_TRUE(pthread_join(r.th, NULL) == 0);
        ASSERT_OK(r.rc);
        /* The snapshot {k1=mid} over the new bolt would read "k1=mid k2=new",
         * a state that never was; without the commit the old pair is right. */
        ASSERT_EQ_STR(r.seen.buf, commit ? "k2=new " : "k1=mid ");
        bk_str s;
        ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=new ");
        ASSERT_OK(backend_close(be));
        gate_destroy(&g);
    }
}

#endif

int main(void)
{
    HARNESS_BEGIN(1);
#if STRATA_FAILPOINTS
    RUN(test_commit_while_reader_begins);
#else
    printf("failpoints not compiled in: this test needs the read_tx_begin gate\n");
#endif
    return 0;
}
