/*
 * test_lessor.c: lease/lessor.c against etcd 3.4's lessor (lessor.go and
 * lessor_test.go), table-driven: grant's checks in etcd's order, revoke
 * through a range deleter (sorted keys, one revision, the record in the
 * same batch transaction), renew, attach/detach, lookup, leases by
 * expiry, promote's spreading of piled-up expiries, demote, restore on
 * open, checkpoints persisted by the commit hook, and hostile records
 * refused at open with a message naming them. Time is a manual clock.
 */
#include "lease_test.h"

static strata_manual_clock clk;

typedef struct env {
    backend *be;
    lease_lessor *l;
    lt_store s;
} env;

static void env_open_opts(env *e, const char *name, const lease_options *lo)
{
    backend_options bo = lt_bk_opts(NULL);
    e->be = lt_bk_open(name, &bo);
    ASSERT_OK(lease_lessor_open(e->be, lo, &e->l));
    lt_store_init(&e->s, e->be, e->l);
}

static void env_open(env *e, const char *name)
{
    lease_options lo = lt_opts(&clk);
    env_open_opts(e, name, &lo);
}

static void env_close(env *e)
{
    lt_check(e->l);
    ASSERT_OK(lease_lessor_close(e->l));
    ASSERT_OK(backend_close(e->be));
}

/* etcd's Grant checks, in etcd's order (docs/schema.md §10). */
static void test_grant_table(void)
{
    static const struct {
        int64_t min_ttl, id, ttl;
        int want_rc;
        int64_t want_ttl;
    } cases[] = {
        { 0, 1, 10, 0, 10 },
        { 0, 0, 10, LEASE_ENOTFOUND, 0 },                /* NoLease */
        { 0, 0, LEASE_MAX_TTL + 1, LEASE_ENOTFOUND, 0 }, /* the ID is checked first */
        { 0, 2, LEASE_MAX_TTL + 1, LEASE_ETTLTOOLARGE, 0 },
        { 0, 3, LEASE_MAX_TTL, 0, LEASE_MAX_TTL },
        { 0, 100, LEASE_MAX_TTL + 1, LEASE_ETTLTOOLARGE, 0 }, /* too large before exists */
        { 0, 100, 5, LEASE_EEXISTS, 0 },
        { 0, 4, -5, 0, 0 }, /* raised to MinLeaseTTL 0 */
        { 2, 5, 1, 0, 2 },  /* etcdserver's default floor */
        { 2, 6, 0, 0, 2 },
        { 2, 7, 3, 0, 3 },
        { 0, -9, 4, 0, 4 }, /* negative IDs are IDs */
        { 0, INT64_MIN, 1, 0, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lease_options lo = lt_opts(&clk);
        lo.min_ttl = cases[i].min_ttl;
        env e;
        char name[32];
        snprintf(name, sizeof name, "grant%zu.db", i);
        env_open_opts(&e, name, &lo);
        ASSERT_OK(lease_grant(e.l, 100, 50, NULL));
        int64_t got = -1;
        ASSERT_RC(lease_grant(e.l, cases[i].id, cases[i].ttl, &got), cases[i].want_rc);
        if (cases[i].want_rc == 0) {
            ASSERT_EQ_INT(got, cases[i].want_ttl);
            lease_info li;
            ASSERT_OK(lease_lookup(e.l, cases[i].id, &li));
            ASSERT_EQ_INT(li.ttl, cases[i].want_ttl);
            ASSERT_EQ_INT(li.remaining_ns, INT64_MAX); /* not primary: forever */
            lt_rec r = lt_record(e.be, cases[i].id);
            ASSERT_TRUE(r.found);
            ASSERT_EQ_INT(r.pb.id, cases[i].id);
            ASSERT_EQ_INT(r.pb.ttl, cases[i].want_ttl);
            ASSERT_EQ_INT(r.pb.remaining_ttl, 0);
            ASSERT_EQ_SIZE(lease_count(e.l), 2);
        } else {
            ASSERT_EQ_INT(got, -1);
            ASSERT_EQ_SIZE(lease_count(e.l), 1);
        }
        env_close(&e);
    }
}

/* A revoke deletes the attached keys in sorted order in one txn, and the record. */
static void test_revoke_with_keys(void)
{
    env e;
    env_open(&e, "revoke.db");
    ASSERT_OK(lease_grant(e.l, 7, 100, NULL));
    ASSERT_OK(lease_grant(e.l, 8, 100, NULL));
    const char *keys[] = { "m", "b", "zz", "a", "b\x01", "ab" };
    for (size_t i = 0; i < 6; i++)
        lt_put(&e.s, keys[i], 7);
    lt_put(&e.s, "other", 8);
    lt_put(&e.s, "plain", 0);
    ASSERT_OK(backend_force_commit(e.be));
    lease_info li;
    ASSERT_OK(lease_lookup(e.l, 7, &li));
    ASSERT_EQ_SIZE(li.nkeys, 6);
    lease_keys *k;
    ASSERT_OK(lease_lookup_keys(e.l, 7, &k));
    ASSERT_EQ_SIZE(k->n, 6);
    ASSERT_EQ_MEM(k->keys[0].data, k->keys[0].size, "a", 1);
    ASSERT_EQ_MEM(k->keys[5].data, k->keys[5].size, "zz", 2);
    lease_keys_free(k);
    lt_check(e.l);

    ASSERT_OK(lease_revoke(e.l, 7));
    ASSERT_EQ_STR(e.s.log, "a,ab,b,b\x01,m,zz,");
    ASSERT_EQ_INT(e.s.rev, 1); /* one revision */
    ASSERT_RC(lease_lookup(e.l, 7, &li), LEASE_ENOTFOUND);
    ASSERT_FALSE(lt_record(e.be, 7).found);
    ASSERT_TRUE(lt_record(e.be, 8).found);
    ASSERT_EQ_SIZE(lt_count(e.be, lt_kv), 2);
    ASSERT_EQ_INT(lease_get_lease(e.l, bolt_str("m")), LEASE_NONE);
    ASSERT_EQ_INT(lease_get_lease(e.l, bolt_str("other")), 8);
    ASSERT_RC(lease_revoke(e.l, 7), LEASE_ENOTFOUND);
    lt_check(e.l);

    /* A lease without keys: no revision, the record still goes. */
    ASSERT_OK(lease_grant(e.l, 9, 100, NULL));
    ASSERT_OK(lease_revoke(e.l, 9));
    ASSERT_EQ_INT(e.s.rev, 1);
    ASSERT_FALSE(lt_record(e.be, 9).found);

    /* A failing delete ends the txn and keeps the lease. */
    e.s.deletes = 0;
    e.s.fail_delete_at = 1;
    ASSERT_RC(lease_revoke(e.l, 8), -EIO);
    ASSERT_OK(lease_lookup(e.l, 8, &li));
    ASSERT_TRUE(lt_record(e.be, 8).found);
    e.s.fail_delete_at = 0;
    ASSERT_OK(lease_revoke(e.l, 8));
    ASSERT_EQ_INT(e.s.rev, 2);
    /* A revoked ID may be granted again. */
    ASSERT_OK(lease_grant(e.l, 7, 5, NULL));
    env_close(&e);
}

/* Without a range deleter: the lease and its record go, keys are only detached. */
static void test_revoke_standalone(void)
{
    backend_options bo = lt_bk_opts(NULL);
    backend *be = lt_bk_open("standalone.db", &bo);
    lease_options lo = lt_opts(&clk);
    lease_lessor *l;
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    ASSERT_OK(lease_grant(l, 3, 10, NULL));
    ASSERT_OK(lease_attach(l, 3, bolt_str("k")));
    ASSERT_OK(lease_revoke(l, 3));
    ASSERT_FALSE(lt_record(be, 3).found);
    ASSERT_EQ_INT(lease_get_lease(l, bolt_str("k")), LEASE_NONE);
    ASSERT_RC(lease_revoke(l, 3), LEASE_ENOTFOUND);
    lt_check(l);
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
}

/* Attach / detach / get_lease (etcd's itemMap and itemSet). */
static void test_attach_detach_table(void)
{
    env e;
    env_open(&e, "attach.db");
    ASSERT_OK(lease_grant(e.l, 1, 10, NULL));
    ASSERT_OK(lease_grant(e.l, 2, 10, NULL));
    static const struct {
        char op; /* a attach, d detach */
        int64_t id;
        const char *key;
        int want_rc;
        int64_t want_owner; /* lease_get_lease(key) afterwards */
        size_t n1, n2;      /* keys of leases 1 and 2 afterwards */
    } steps[] = {
        { 'a', 1, "x", 0, 1, 1, 0 },
        { 'a', 1, "x", 0, 1, 1, 0 }, /* twice: still one */
        { 'a', 1, "y", 0, 1, 2, 0 },
        { 'a', 2, "x", 0, 2, 1, 1 }, /* moves to 2 */
        { 'a', 3, "z", LEASE_ENOTFOUND, 0, 1, 1 },
        { 'd', 3, "x", LEASE_ENOTFOUND, 2, 1, 1 },
        { 'd', 2, "x", 0, 0, 1, 0 },
        { 'd', 2, "x", 0, 0, 1, 0 }, /* missing key: fine */
        { 'd', 2, "y", 0, 0, 0, 0 }, /* etcd: forgets the key whichever lease holds it */
        { 'a', 1, "", 0, 1, 1, 0 },  /* the empty key is a key */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        bolt_val k = bolt_str(steps[i].key);
        int rc = steps[i].op == 'a' ? lease_attach(e.l, steps[i].id, k)
                                    : lease_detach(e.l, steps[i].id, k);
        ASSERT_RC(rc, steps[i].want_rc);
        ASSERT_EQ_INT(lease_get_lease(e.l, k), steps[i].want_owner);
        lease_info a, b;
        ASSERT_OK(lease_lookup(e.l, 1, &a));
        ASSERT_OK(lease_lookup(e.l, 2, &b));
        ASSERT_EQ_SIZE(a.nkeys, steps[i].n1);
        ASSERT_EQ_SIZE(b.nkeys, steps[i].n2);
        lt_check(e.l);
    }
    /* Many keys: the item table grows and every key is found again. */
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%05d", i);
        ASSERT_OK(lease_attach(e.l, 1 + (i % 2), bolt_str(key)));
    }
    lt_check(e.l);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%05d", i);
        ASSERT_EQ_INT(lease_get_lease(e.l, bolt_str(key)), 1 + (i % 2));
    }
    /* Removal by back pointer: every third key detached, the chains stay whole. */
    for (int i = 0; i < 5000; i += 3) {
        snprintf(key, sizeof key, "key-%05d", i);
        ASSERT_OK(lease_detach(e.l, 1 + (i % 2), bolt_str(key)));
    }
    lt_check(e.l);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%05d", i);
        ASSERT_EQ_INT(lease_get_lease(e.l, bolt_str(key)), i % 3 == 0 ? LEASE_NONE : 1 + (i % 2));
    }
    /* The check catches a wrong back pointer. */
    lease__item *it = e.l->items.b[0] != NULL ? e.l->items.b[0] : NULL;
    for (size_t b = 0; it == NULL && b < e.l->items.nb; b++)
        it = e.l->items.b[b];
    ASSERT_TRUE(it != NULL);
    lease__item **saved = it->hpprev;
    it->hpprev = &it->hnext;
    char why[160] = "";
    ASSERT_TRUE(lease__lessor_check(e.l, why, sizeof why) != 0);
    ASSERT_TRUE(strstr(why, "back pointer") != NULL);
    it->hpprev = saved;
    lt_check(e.l);
    env_close(&e);
}

/* Renew: etcd's errors, and the new expiry. */
static void test_renew_table(void)
{
    env e;
    strata_manual_clock_init(&clk, SEC(1000));
    env_open(&e, "renew.db");
    ASSERT_OK(lease_grant(e.l, 1, 10, NULL));
    int64_t ttl = 0;
    ASSERT_RC(lease_renew(e.l, 1, &ttl), LEASE_ENOTPRIMARY); /* checked first */
    ASSERT_RC(lease_renew(e.l, 99, &ttl), LEASE_ENOTPRIMARY);
    lease_lessor_promote(e.l, 0);
    ASSERT_TRUE(lease_lessor_is_primary(e.l));
    ASSERT_RC(lease_renew(e.l, 99, &ttl), LEASE_ENOTFOUND);
    lease_info li;
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(10));
    strata_manual_clock_advance(&clk, SEC(4));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(6));
    ASSERT_OK(lease_renew(e.l, 1, &ttl));
    ASSERT_EQ_INT(ttl, 10);
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(10));
    lt_check(e.l);
    lease_lessor_demote(e.l);
    ASSERT_RC(lease_renew(e.l, 1, &ttl), LEASE_ENOTPRIMARY);
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, INT64_MAX);
    lt_check(e.l);
    env_close(&e);
}

/* Renewing an expired lease with renew_expired_fails: LEASE_EEXPIRED at once. */
static void test_renew_expired_fails(void)
{
    strata_manual_clock_init(&clk, SEC(1000));
    lease_options lo = lt_opts(&clk);
    lo.renew_expired_fails = true;
    env e;
    env_open_opts(&e, "renewexp.db", &lo);
    lease_lessor_promote(e.l, 0);
    ASSERT_OK(lease_grant(e.l, 1, 5, NULL));
    strata_manual_clock_advance(&clk, SEC(5));
    ASSERT_RC(lease_renew(e.l, 1, NULL), LEASE_EEXPIRED);
    ASSERT_OK(lease_revoke(e.l, 1));
    ASSERT_RC(lease_renew(e.l, 1, NULL), LEASE_ENOTFOUND);
    env_close(&e);
}

/* Lookup after grant on a primary, and Leases() sorted by remaining time. */
static void test_leases_by_expiry(void)
{
    strata_manual_clock_init(&clk, SEC(1000));
    env e;
    env_open(&e, "leases.db");
    lease_info *v;
    size_t n;
    ASSERT_OK(lease_leases(e.l, &v, &n));
    ASSERT_EQ_SIZE(n, 0);
    ASSERT_NULL(v);
    lease_lessor_promote(e.l, 0);
    ASSERT_OK(lease_grant(e.l, 5, 30, NULL));
    ASSERT_OK(lease_grant(e.l, 6, 10, NULL));
    ASSERT_OK(lease_grant(e.l, 4, 20, NULL));
    ASSERT_OK(lease_grant(e.l, 3, 10, NULL));
    ASSERT_OK(lease_leases(e.l, &v, &n));
    ASSERT_EQ_SIZE(n, 4);
    const int64_t want[] = { 3, 6, 4, 5 };
    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ_INT(v[i].id, want[i]);
    strata_free(v);
    env_close(&e);
}

/* etcd's TestLessorRenewExtendPileup with the real rate (1000): 10,000 leases
 * at TTL 10 and 10,000 at 11, recovered and promoted: at most 1,000 and at
 * least 500 expire in each second from 10 s to 30 s. */
static void test_promote_spreads_pileup(void)
{
    strata_manual_clock_init(&clk, SEC(1000));
    env e;
    env_open(&e, "pileup.db");
    for (int64_t i = 1; i <= 10000; i++) {
        ASSERT_OK(lease_grant(e.l, 2 * i, 10, NULL));
        ASSERT_OK(lease_grant(e.l, 2 * i + 1, 11, NULL));
    }
    ASSERT_OK(lease_lessor_close(e.l));
    ASSERT_OK(backend_close(e.be));
    backend_options bo = lt_bk_opts(NULL);
    e.be = lt_bk_open("pileup.db", &bo);
    lease_options lo = lt_opts(&clk);
    ASSERT_OK(lease_lessor_open(e.be, &lo, &e.l));
    ASSERT_EQ_SIZE(lease_count(e.l), 20000);
    lease_lessor_promote(e.l, 0);
    lt_check(e.l);
    lease_info *v;
    size_t n;
    ASSERT_OK(lease_leases(e.l, &v, &n));
    ASSERT_EQ_SIZE(n, 20000);
    int counts[64] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int64_t s = (int64_t)((double)v[i].remaining_ns / 1e9 + 0.1);
        ASSERT_TRUE(s >= 10 && s < 64);
        counts[s]++;
    }
    strata_free(v);
    for (int s = 10; s < 30; s++) {
        if (counts[s] > 1000 || counts[s] < 500)
            fprintf(stderr, "second %d: %d leases expire\n", s, counts[s]);
        ASSERT_TRUE(counts[s] <= 1000);
        ASSERT_TRUE(counts[s] >= 500);
    }
    /* Below 1,000 leases nothing is spread. */
    ASSERT_OK(lease_lessor_close(e.l));
    ASSERT_OK(backend_close(e.be));
    env e2;
    env_open(&e2, "nopileup.db");
    for (int64_t i = 1; i <= 999; i++)
        ASSERT_OK(lease_grant(e2.l, i, 10, NULL));
    lease_lessor_promote(e2.l, SEC(2));
    ASSERT_OK(lease_leases(e2.l, &v, &n));
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(v[i].remaining_ns, (int64_t)SEC(12));
    strata_free(v);
    env_close(&e2);
}

/* Restore: records loaded, forever until promoted, the floor in memory only. */
static void test_restore(void)
{
    strata_manual_clock_init(&clk, SEC(1000));
    env e;
    env_open(&e, "restore.db");
    ASSERT_OK(lease_grant(e.l, 1, 1, NULL));
    ASSERT_OK(lease_grant(e.l, -2, 100, NULL));
    ASSERT_OK(lease_grant(e.l, 3, 7, NULL));
    ASSERT_OK(lease_revoke(e.l, 3));
    ASSERT_OK(lease_lessor_close(e.l));
    ASSERT_OK(backend_close(e.be));

    backend_options bo = lt_bk_opts(NULL);
    e.be = lt_bk_open("restore.db", &bo);
    lease_options lo = lt_opts(&clk);
    lo.min_ttl = 5;
    ASSERT_OK(lease_lessor_open(e.be, &lo, &e.l));
    ASSERT_EQ_SIZE(lease_count(e.l), 2);
    lease_info li;
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.ttl, 5); /* raised in memory */
    ASSERT_EQ_INT(li.remaining_ns, INT64_MAX);
    ASSERT_EQ_INT(lt_record(e.be, 1).pb.ttl, 1); /* never written back */
    ASSERT_OK(lease_lookup(e.l, -2, &li));
    ASSERT_EQ_INT(li.ttl, 100);
    ASSERT_RC(lease_lookup(e.l, 3, &li), LEASE_ENOTFOUND);
    ASSERT_RC(lease_grant(e.l, -2, 1, NULL), LEASE_EEXISTS);
    lease_lessor_promote(e.l, SEC(1));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(6));
    env_close(&e);
}

/* Checkpoints: recorded every interval, persisted by the commit hook only. */
static void test_checkpoints_persisted(void)
{
    strata_manual_clock_init(&clk, SEC(1000));
    lease_options lo = lt_opts(&clk);
    lo.checkpoint_interval_ns = SEC(10);
    env e;
    env_open_opts(&e, "cp.db", &lo);
    lease_lessor_promote(e.l, 0);
    ASSERT_OK(lease_grant(e.l, 1, 100, NULL));
    ASSERT_OK(lease_grant(e.l, 2, 10, NULL)); /* not above the interval: never */
    ASSERT_OK(lease_grant(e.l, 3, 60, NULL));
    ASSERT_OK(backend_force_commit(e.be));
    lease_stats st;
    lease_lessor_stats(e.l, &st);
    ASSERT_EQ_U64(st.records_written, 0);

    strata_manual_clock_advance(&clk, SEC(9));
    ASSERT_OK(lease_lessor_poke(e.l));
    lease_info li;
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ttl, 0); /* not due yet */
    strata_manual_clock_advance(&clk, MS(1500));
    ASSERT_OK(lease_lessor_poke(e.l));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ttl, 90); /* ceil(89.5) */
    ASSERT_OK(lease_lookup(e.l, 3, &li));
    ASSERT_EQ_INT(li.remaining_ttl, 50);
    /* Renews in between write nothing. */
    ASSERT_OK(lease_renew(e.l, 3, NULL)); /* clears 3's checkpoint */
    ASSERT_EQ_INT(lt_record(e.be, 1).pb.remaining_ttl, 0);
    ASSERT_OK(backend_force_commit(e.be));
    lt_rec r = lt_record(e.be, 1);
    ASSERT_EQ_INT(r.pb.remaining_ttl, 90);
    ASSERT_EQ_INT(r.pb.ttl, 100);
    ASSERT_EQ_INT(lt_record(e.be, 3).pb.remaining_ttl, 0);
    lease_lessor_stats(e.l, &st);
    ASSERT_EQ_U64(st.records_written, 2);
    ASSERT_OK(lease_grant(e.l, 4, 10, NULL));
    ASSERT_OK(backend_force_commit(e.be));
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(lease_renew(e.l, 3, NULL)); /* remaining TTL already cleared */
        ASSERT_OK(lease_renew(e.l, 4, NULL));
    }
    ASSERT_OK(backend_force_commit(e.be));
    lease_lessor_stats(e.l, &st);
    ASSERT_EQ_U64(st.records_written, 2); /* no write per renew */

    /* Restart: the lease keeps its remaining TTL, not its full TTL. */
    strata_manual_clock_advance(&clk, SEC(3));
    ASSERT_OK(lease_lessor_close(e.l));
    ASSERT_OK(backend_close(e.be));
    backend_options bo = lt_bk_opts(NULL);
    e.be = lt_bk_open("cp.db", &bo);
    ASSERT_OK(lease_lessor_open(e.be, &lo, &e.l));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ttl, 90);
    lease_lessor_promote(e.l, 0);
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(90));
    ASSERT_OK(lease_lookup(e.l, 3, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(60));
    /* Renew gives the full TTL again and clears the stored remaining TTL. */
    ASSERT_OK(lease_renew(e.l, 1, NULL));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ns, (int64_t)SEC(100));
    ASSERT_OK(backend_force_commit(e.be));
    ASSERT_EQ_INT(lt_record(e.be, 1).pb.remaining_ttl, 0);
    /* A revoked lease's pending checkpoint is never written back. */
    strata_manual_clock_advance(&clk, SEC(11));
    ASSERT_OK(lease_lessor_poke(e.l));
    ASSERT_OK(lease_lookup(e.l, 1, &li));
    ASSERT_EQ_INT(li.remaining_ttl, 89);
    ASSERT_OK(lease_revoke(e.l, 1));
    ASSERT_OK(backend_force_commit(e.be));
    ASSERT_FALSE(lt_record(e.be, 1).found);
    env_close(&e);
}

/* Checkpoints off (etcd 3.4) and no clock (rule L): nothing recorded, nothing written. */
static void test_checkpoints_off(void)
{
    for (int mode = 0; mode < 2; mode++) {
        strata_manual_clock_init(&clk, SEC(1000));
        lease_options lo = lt_opts(&clk);
        lo.checkpoint_interval_ns = SEC(10);
        if (mode == 0)
            lo.checkpoint_off = true;
        else
            lo.no_clock = true;
        env e;
        env_open_opts(&e, mode == 0 ? "cpoff.db" : "noclock.db", &lo);
        lease_lessor_promote(e.l, 0);
        ASSERT_OK(lease_grant(e.l, 1, 100, NULL));
        ASSERT_OK(lease_grant(e.l, 2, 0, NULL));
        strata_manual_clock_advance(&clk, SEC(200));
        ASSERT_OK(lease_lessor_poke(e.l));
        ASSERT_OK(backend_force_commit(e.be));
        lease_stats st;
        lease_lessor_stats(e.l, &st);
        ASSERT_EQ_U64(st.checkpoints, 0);
        ASSERT_EQ_U64(st.records_written, 0);
        ASSERT_EQ_U64(st.offered, mode == 0 ? 2 : 0);
        if (mode == 1) {
            /* Rule L: a TTL long past (or 0) still renews. */
            int64_t ttl = -1;
            ASSERT_OK(lease_renew(e.l, 2, &ttl));
            ASSERT_EQ_INT(ttl, 0);
            ASSERT_OK(lease_renew(e.l, 1, &ttl));
            ASSERT_EQ_INT(ttl, 100);
        }
        env_close(&e);
    }
}

/* Hostile records fail the open with LEASE_ECORRUPT and a message naming them. */
static void test_hostile_records(void)
{
    static const struct {
        const char *key_hex, *val_hex, *msg_has;
    } cases[] = {
        { "0000000000000001", "08 01 10", "key 0000000000000001: not a leasepb.Lease" },
        { "0000000000000001", "08 81", "not a leasepb.Lease" },    /* truncated varint */
        { "0000000000000001", "0a 01 01", "not a leasepb.Lease" }, /* ID as bytes */
        { "0000000000000000", "10 05", "lease ID is 0" },
        { "0000000000000000", "", "lease ID is 0" },
        { "0000000000000002", "08 01 10 05", "differs from the value's ID" },
        { "00000001", "08 01 10 05", "key 00000001: lease key is not 8 bytes" },
        { "0000000000000003", "08 03 10 fbffffffffffffffff01",
          "record 0000000000000003: negative TTL (-5)" },
        { "0000000000000004", "08 04 10 05 18 ffffffffffffffffff01", "negative RemainingTTL (-1)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "hostile%zu.db", i);
        backend_options bo = lt_bk_opts(NULL);
        backend *be = lt_bk_open(name, &bo);
        /* A good record first: the bad one is found among others. */
        uint8_t gk[8], gv[16];
        size_t gn;
        lease__key_encode(-1, gk);
        lease__pb good = { -1, 10, 0 };
        ASSERT_OK(lease__pb_encode(&good, gv, sizeof gv, &gn));
        lt_raw_put(be, gk, 8, gv, gn);
        uint8_t k[16], v[32];
        size_t kn = harness_unhex(cases[i].key_hex, k, sizeof k);
        size_t vn = harness_unhex(cases[i].val_hex, v, sizeof v);
        lt_raw_put(be, k, kn, v, vn);
        ASSERT_OK(backend_force_commit(be));
        char msg[256] = "";
        lease_options lo = lt_opts(&clk);
        lo.errmsg = msg;
        lo.errmsg_size = sizeof msg;
        lease_lessor *l = (lease_lessor *)1;
        ASSERT_RC(lease_lessor_open(be, &lo, &l), LEASE_ECORRUPT);
        ASSERT_NULL(l);
        if (strstr(msg, cases[i].msg_has) == NULL)
            fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, msg, cases[i].msg_has);
        ASSERT_TRUE(strstr(msg, cases[i].msg_has) != NULL);
        /* Nothing lost: the records are all still there. */
        ASSERT_EQ_SIZE(lt_count(be, lt_lease_bucket), 2);
        ASSERT_OK(backend_close(be));
    }
}

/* Grant's record is in the batch (not forced), committed with the next batch. */
static void test_grant_not_forced(void)
{
    env e;
    env_open(&e, "notforced.db");
    uint64_t commits = backend_commits(e.be);
    ASSERT_OK(lease_grant(e.l, 1, 10, NULL));
    ASSERT_EQ_U64(backend_commits(e.be), commits);
    ASSERT_TRUE(backend_pending(e.be) > 0);
    env_close(&e);
}

int main(void)
{
    HARNESS_BEGIN(1);
    strata_manual_clock_init(&clk, SEC(1000));
    RUN(test_grant_table);
    RUN(test_grant_not_forced);
    RUN(test_revoke_with_keys);
    RUN(test_revoke_standalone);
    RUN(test_attach_detach_table);
    RUN(test_renew_table);
    RUN(test_renew_expired_fails);
    RUN(test_leases_by_expiry);
    RUN(test_promote_spreads_pileup);
    RUN(test_restore);
    RUN(test_checkpoints_persisted);
    RUN(test_checkpoints_off);
    RUN(test_hostile_records);
    return 0;
}
