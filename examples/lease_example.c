/*
 * lease_example.c: leases (<strata/lease.h>, etcd's lessor) under an mvcc
 * store, as an application uses them.
 *
 *   lease_example DIR
 *
 * Opens DIR/lease.db as etcd's stack: the backend, then the lessor over it
 * (with a manual clock, so the example decides when time passes), then the
 * store with the lessor; and
 *   1. grants leases, puts keys under them (a put naming a lease that does
 *      not exist writes nothing and fails with LEASE_ENOTFOUND, etcd's
 *      "lease not found"), lists a lease's keys;
 *   2. revokes a lease: its keys are deleted in one revision of the store,
 *      together with the lease record;
 *   3. lets time pass: the expired lease is offered to the application's
 *      callback and revoked by the lessor itself (auto_revoke), while a
 *      lease renewed in time stays;
 *   4. takes a checkpoint of a long lease's remaining TTL, closes, reopens:
 *      the lease comes back with its remaining TTL (not its full TTL) and
 *      its keys re-attached by the store's restore;
 * and exits 0 only if everything behaved as documented.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <strata/lease.h>
#include <strata/mvcc.h>

#define SEC 1000000000ull

static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "lease_example: %s: %s (%d, %s)\n", what, mvcc_strerror(rc), rc,
            mvcc_status_name(rc));
    return 1;
}

static int check(int ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "lease_example: not as documented: %s\n", what);
    return !ok;
}

typedef struct stack {
    backend *be;
    lease_lessor *l;
    mvcc_store *kv;
} stack;

static size_t offered;

static void on_expired(void *arg, const int64_t *ids, size_t n)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        printf("  lease %" PRId64 " expired: offered to the application\n", ids[i]);
    offered += n;
}

static int open_stack(stack *s, const char *path, strata_manual_clock *clk)
{
    int rc = backend_open(path, NULL, &s->be);
    if (failed(rc, "backend_open"))
        return rc;
    lease_options lo;
    lease_options_init(&lo);
    lo.clock = &clk->clock;
    lo.no_thread = true;   /* lease_lessor_poke runs the expiry pass */
    lo.auto_revoke = true; /* an embedded store has no raft to revoke */
    lo.on_expired = on_expired;
    lo.checkpoint_interval_ns = 60 * SEC; /* remaining TTLs recorded every minute */
    char why[256] = "";
    lo.errmsg = why;
    lo.errmsg_size = sizeof why;
    if ((rc = lease_lessor_open(s->be, &lo, &s->l)) != 0) {
        fprintf(stderr, "lease_example: lease_lessor_open: %s %s\n", lease_strerror(rc), why);
        return rc;
    }
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = s->l;
    if (failed(rc = mvcc_store_open(s->be, &mo, &s->kv), "mvcc_store_open"))
        return rc;
    lease_lessor_promote(s->l, 0); /* the primary runs the clocks (etcd's leader) */
    return 0;
}

static int close_stack(stack *s)
{
    int rc = mvcc_store_close(s->kv); /* the store first: it unbinds from the lessor */
    int r2 = lease_lessor_close(s->l);
    int r3 = backend_close(s->be);
    return rc != 0 ? rc : r2 != 0 ? r2 : r3;
}

static int put(stack *s, const char *key, int64_t lease)
{
    int64_t rev;
    return mvcc_store_put(s->kv, key, strlen(key), "v", 1, lease, &rev);
}

static size_t live_keys(stack *s)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .size = sizeof o, .count_only = true };
    int rc = mvcc_store_range(s->kv, "\0", 1, "", 0, &o, &r); /* every key */
    size_t n = rc == 0 ? (size_t)r.count : (size_t)-1;
    mvcc_range_result_release(&r);
    return n;
}

static void print_keys(stack *s, int64_t id)
{
    lease_keys *k;
    if (lease_lookup_keys(s->l, id, &k) != 0)
        return;
    printf("  lease %" PRId64 " holds %zu keys:", id, k->n);
    for (size_t i = 0; i < k->n; i++)
        printf(" %.*s", (int)k->keys[i].size, (const char *)k->keys[i].data);
    printf("\n");
    lease_keys_free(k);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lease_example DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/lease.db", argv[1]);
    strata_manual_clock clk;
    strata_manual_clock_init(&clk, 1000 * SEC);
    stack s;
    if (open_stack(&s, path, &clk) != 0)
        return 1;
    int bad = 0;

    /* 1. Grants and leased puts. */
    int64_t ttl;
    bad |= failed(lease_grant(s.l, 1, 10, &ttl), "grant 1");
    bad |= failed(lease_grant(s.l, 2, 30, NULL), "grant 2");
    bad |= failed(lease_grant(s.l, 3, 3600, NULL), "grant 3");
    bad |= check(lease_grant(s.l, 1, 10, NULL) == LEASE_EEXISTS, "a second grant of 1 fails");
    bad |= failed(put(&s, "session/a", 1), "put session/a");
    bad |= failed(put(&s, "session/b", 1), "put session/b");
    bad |= failed(put(&s, "lock/x", 2), "put lock/x");
    bad |= failed(put(&s, "member/n1", 3), "put member/n1");
    bad |= failed(put(&s, "config", 0), "put config");
    int64_t rev = mvcc_store_rev(s.kv);
    bad |= check(put(&s, "session/c", 99) == LEASE_ENOTFOUND, "a put naming lease 99 fails");
    bad |= check(mvcc_store_rev(s.kv) == rev, "and writes nothing");
    print_keys(&s, 1);

    /* 2. Revoke: both keys in one revision, the record with them. */
    rev = mvcc_store_rev(s.kv);
    bad |= failed(lease_revoke(s.l, 1), "revoke 1");
    printf("  revoked lease 1: store revision %" PRId64 " -> %" PRId64 ", %zu keys left\n", rev,
           mvcc_store_rev(s.kv), live_keys(&s));
    bad |= check(mvcc_store_rev(s.kv) == rev + 1, "the revoke is one revision");
    bad |= check(live_keys(&s) == 3, "session/a and session/b are gone");

    /* 3. Time passes: lease 2 expires (30 s) and is revoked; lease 3 renewed. */
    strata_manual_clock_advance(&clk, 29 * SEC);
    bad |= failed(lease_renew(s.l, 3, NULL), "renew 3");
    strata_manual_clock_advance(&clk, 1 * SEC);
    bad |= failed(lease_lessor_poke(s.l), "poke");
    lease_info li;
    bad |= check(offered == 1, "one lease offered");
    bad |= check(lease_lookup(s.l, 2, &li) == LEASE_ENOTFOUND, "lease 2 revoked automatically");
    bad |= check(live_keys(&s) == 2, "lock/x is gone");

    /* 4. A checkpoint after a minute; a restart keeps the remaining TTL. */
    strata_manual_clock_advance(&clk, 61 * SEC);
    bad |= failed(lease_lessor_poke(s.l), "poke");
    bad |= failed(lease_lookup(s.l, 3, &li), "lookup 3");
    printf("  lease 3: TTL %" PRId64 " s, checkpointed remaining TTL %" PRId64 " s\n", li.ttl,
           li.remaining_ttl);
    bad |= check(li.remaining_ttl == 3600 - 62, "remaining TTL checkpointed");
    bad |= failed(close_stack(&s), "close");
    if (open_stack(&s, path, &clk) != 0)
        return 1;
    bad |= failed(lease_lookup(s.l, 3, &li), "lookup 3 after reopen");
    printf("  after reopen: lease 3 expires in %" PRId64 " s (TTL %" PRId64 " s)\n",
           li.remaining_ns / (int64_t)SEC, li.ttl);
    bad |= check(li.remaining_ns == (int64_t)((3600 - 62) * SEC), "remaining TTL restored");
    bad |= check(lease_get_lease(s.l, (bolt_val){ "member/n1", 9 }) == 3, "member/n1 re-attached");
    print_keys(&s, 3);
    bad |= failed(close_stack(&s), "close");
    if (bad)
        return 1;
    printf("lease_example: every step behaved as documented\n");
    return 0;
}
