/*
 * test_revoke_crash.c: a crash anywhere in a revoke's transaction leaves
 * the attached keys and the lease record consistent after reopen: both
 * there (the revoke is lost) or both gone (it committed), never one
 * without the other (docs/schema.md §10: the record is deleted in the same
 * backend transaction as the keys).
 *
 * A child process opens the db, revokes a lease with 200 keys through the
 * range deleter and forces the commit; it kills itself with SIGKILL at one
 * crash point: each of the lessor's revoke failpoints, each of bolt's
 * commit failpoints, and before or after each I/O call (write, sync,
 * growth) of the revoke's commit, counted from the revoke on. The backend's
 * commit thread runs every millisecond meanwhile, so a commit that slipped
 * between the keys and the record would be caught. The parent reopens the
 * db with the real I/O and checks it; it stops once the child runs past
 * the last I/O call. Then the same with the lessor's batched auto-revoke
 * (the stand-in store's delete_keys and next_rev): leases 7 and 8 expired
 * and revoked in one store transaction, each its own revision, killed at
 * each lessor point of each lease and at each I/O call: both revokes
 * committed or neither, each lease's keys and record together. And once
 * more with that batch deleting the records through the backend's deferred
 * deletes (lessor.c rule 5: queued under the batch lock, applied by the
 * commit that has the keys' tombstones).
 */
#include "lease_test.h"

#include "crash_os.h"

#define NKEYS 200

static bool batched;  /* the child auto-revokes leases 7 and 8 in one batch */
static bool deferred; /* ... and that batch defers the records' deletes (rule 5) */

/* The lessor's failpoint hook (lease_options.failpoint): crash_os.h's kill switch. */
static int lease_failpoint(void *arg, const char *name)
{
    (void)arg;
    return crash_failpoint(name);
}

static char base_path[4096], work_path[4096];

static void key_name(char *buf, size_t size, int i)
{
    snprintf(buf, size, "leased-%03d", (i * 37) % NKEYS); /* attached out of order */
}

/* The db before the crash: lease 7 with NKEYS keys, lease 8 with one, a plain key. */
static void make_base(void)
{
    harness_path(base_path, sizeof base_path, "base.db");
    harness_path(work_path, sizeof work_path, "work.db");
    backend_options bo = lt_bk_opts(NULL);
    backend *be;
    ASSERT_OK(backend_open(base_path, &bo, &be));
    lease_options lo = lt_opts(NULL);
    lease_lessor *l;
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    lt_store s;
    lt_store_init(&s, be, l);
    ASSERT_OK(lease_grant(l, 7, 100, NULL));
    ASSERT_OK(lease_grant(l, 8, 100, NULL));
    char k[32];
    for (int i = 0; i < NKEYS; i++) {
        key_name(k, sizeof k, i);
        lt_put(&s, k, 7);
    }
    lt_put(&s, "other", 8);
    lt_put(&s, "plain", 0);
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
}

/* Runs the revoke in a child killed at the chosen point; true if it was killed. */
static bool run_child(void)
{
    pid_t pid = crash_fork();
    if (pid == 0) {
        backend_options bo = lt_bk_opts(NULL);
        bo.batch_interval_ns = MS(1);
        bolt_options bolt = *bo.bolt;
        bolt.os = crash_os();
        bolt.no_sync = false;
        bo.bolt = &bolt;
        backend *be;
        if (backend_open(work_path, &bo, &be) != 0)
            _exit(3);
        strata_manual_clock clk;
        strata_manual_clock_init(&clk, SEC(1000));
        lease_options lo = lt_opts(&clk);
        lo.failpoint = lease_failpoint;
        lease_lessor *l;
        if (lease_lessor_open(be, &lo, &l) != 0)
            _exit(4);
        lt_store s;
        if (batched)
            lt_store_init_batched(&s, be, l);
        else
            lt_store_init(&s, be, l);
        char k[32];
        for (int i = 0; i < NKEYS; i++) {
            key_name(k, sizeof k, i);
            if (lease_attach(l, 7, bolt_str(k)) != 0)
                _exit(5);
        }
        if (lease_attach(l, 8, bolt_str("other")) != 0)
            _exit(5);
        /* Let any commit of the setup finish, then count from the revoke on. */
        if (backend_force_commit(be) != 0)
            _exit(6);
        crash.armed = true;
        if (batched) {
            /* Both expired, revoked by one batch: one store txn, a revision each. */
            lease_lessor_promote(l, 0);
            strata_manual_clock_advance(&clk, SEC(200));
            if (deferred)
                l->defer_min = 1;
            static const int64_t ids[] = { 7, 8 };
            if (lease__revoke_expired_many(l, ids, 2) != 0 || lease_count(l) != 0)
                _exit(7);
        } else if (lease_revoke(l, 7) != 0) {
            _exit(7);
        }
        if (backend_force_commit(be) != 0)
            _exit(8);
        crash.armed = false;
        lease_lessor_close(l);
        backend_close(be);
        _exit(0);
    }
    return crash_wait(pid);
}

static int count_leased(void *arg, bolt_val key, bolt_val value)
{
    (void)value;
    if (key.size > 7 && memcmp(key.data, "leased-", 7) == 0)
        ++*(size_t *)arg;
    return 0;
}

/* After the crash: all of lease 7 or none of it; the rest untouched. Returns revoked. */
static bool verify(const char *what)
{
    backend_options bo = lt_bk_opts(NULL);
    backend *be;
    ASSERT_OK(backend_open(work_path, &bo, &be));
    lease_options lo = lt_opts(NULL);
    lease_lessor *l;
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    lease_info li;
    bool record = lease_lookup(l, 7, &li) == 0;
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    size_t n = 0;
    ASSERT_OK(backend_read_tx_for_each(rt, lt_kv, count_leased, &n));
    backend_read_tx_end(rt);
    if (!((record && n == NKEYS) || (!record && n == 0)))
        fprintf(stderr, "%s: lease record %s, %zu of %d keys\n", what, record ? "present" : "gone",
                n, NKEYS);
    ASSERT_TRUE((record && n == NKEYS) || (!record && n == 0));
    if (batched) {
        /* One backend transaction for the batch: lease 8 went with lease 7, or stayed with it. */
        bool record8 = lease_lookup(l, 8, &li) == 0;
        ASSERT_EQ_INT(record8, record);
        ASSERT_EQ_SIZE(lt_count(be, lt_kv), n + (record ? 2 : 1));
    } else {
        ASSERT_OK(lease_lookup(l, 8, &li));
        ASSERT_EQ_SIZE(lt_count(be, lt_kv), n + 2);
    }
    /* The reopened db takes the revoke (again, or for the first time). */
    lt_store s;
    lt_store_init(&s, be, l);
    if (batched && !record) {
        ASSERT_OK(lease_grant(l, 8, 100, NULL));
        lt_put(&s, "other", 8);
    }
    ASSERT_OK(lease_attach(l, 8, bolt_str("other")));
    ASSERT_OK(lease_revoke(l, 8));
    if (record) {
        char k[32];
        for (int i = 0; i < NKEYS; i++) {
            key_name(k, sizeof k, i);
            ASSERT_OK(lease_attach(l, 7, bolt_str(k)));
        }
        ASSERT_OK(lease_revoke(l, 7));
    }
    ASSERT_EQ_SIZE(lt_count(be, lt_kv), 1);
    lt_check(l);
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
    return !record;
}

static void run_failpoints(void)
{
#if !STRATA_FAILPOINTS
    /* The named failpoints exist only in a build with -Dfailpoints=true (make test's). */
    printf("failpoints: not compiled in (-Dfailpoints=false); the I/O-site crashes still run\n");
    return;
#endif
    static const char *names[] = {
        "revoke_after_begin", "revoke_after_keys", "revoke_after_record", "before_page_write",
        "before_data_sync",   "before_meta_write", "before_meta_sync",
    };
    int revoked = 0, crashes = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        /* Batched, the lessor's points come once per lease: 7's, then 8's in the same txn. */
        unsigned hits = batched && strncmp(names[i], "revoke_", 7) == 0 ? 2 : 1;
        for (unsigned skip = 0; skip < hits; skip++) {
            crash_copy_file(base_path, work_path);
            crash_at_failpoint(names[i], skip);
            ASSERT_TRUE(run_child());
            revoked += verify(names[i]);
            crashes++;
        }
    }
    /* Killed before the meta page is written or synced: nothing; the lessor's points: nothing. */
    printf("failpoints%s: %d crashes, %d left the revoke committed\n",
           deferred  ? " (batched, deferred records)"
           : batched ? " (batched)"
                     : "",
           crashes, revoked);
}

static void test_failpoints(void)
{
    batched = false;
    run_failpoints();
}

/* The batched auto-revoke: both leases in one store txn, so both or neither. */
static void test_batched_failpoints(void)
{
    batched = true;
    run_failpoints();
    batched = false;
}

static void run_io_sites(void)
{
    unsigned crashes = 0, committed = 0;
    for (int after = 0; after < 2; after++)
        for (unsigned k = 1;; k++) {
            crash_copy_file(base_path, work_path);
            crash_at(k, after);
            if (!run_child())
                break; /* past the last I/O call */
            char what[64];
            snprintf(what, sizeof what, "%s I/O call %u", after ? "after" : "before", k);
            committed += verify(what);
            crashes++;
            ASSERT_TRUE(k < 1000);
        }
    ASSERT_TRUE(crashes >= 4);
    ASSERT_TRUE(committed >= 1); /* killed after the meta write: the revoke is there */
    printf("I/O sites%s: %u crashes, %u left the revoke committed\n",
           deferred  ? " (batched, deferred records)"
           : batched ? " (batched)"
                     : "",
           crashes, committed);
}

static void test_io_sites(void)
{
    batched = false;
    run_io_sites();
}

static void test_batched_io_sites(void)
{
    batched = true;
    run_io_sites();
    batched = false;
}

/* The batch with deferred record deletes: still both or neither. */
static void test_deferred_failpoints(void)
{
    batched = deferred = true;
    run_failpoints();
    batched = deferred = false;
}

static void test_deferred_io_sites(void)
{
    batched = deferred = true;
    run_io_sites();
    batched = deferred = false;
}

int main(void)
{
    HARNESS_BEGIN(1);
    make_base();
    RUN(test_failpoints);
    RUN(test_io_sites);
    RUN(test_batched_failpoints);
    RUN(test_batched_io_sites);
    RUN(test_deferred_failpoints);
    RUN(test_deferred_io_sites);
    return 0;
}
