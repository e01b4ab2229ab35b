/*
 * etcd_rt_writer.c: strata's side of round trip 2 (strata -> etcd,
 * test_etcd_rt2.sh): a store written through the public C API only
 * (<strata/mvcc.h>, <strata/lease.h>), then handed to a real etcd.
 *
 *   etcd_rt_writer write DB    a history into the new db file DB
 *   etcd_rt_writer more DB     the continuation the test also sends to etcd
 *   etcd_rt_writer show DB     only print the answers (no change)
 *
 * write: leases (one ID above 2^53, so a reader that goes through doubles
 * is caught), puts (binary key and value, an empty value, a 20,000-byte
 * value), a txn with several changes (the same key twice, a delete), a
 * single delete, a prefix delete, leased keys (one detached again by an
 * unleased overwrite), a revoke (its keys deleted), a compaction (waited
 * for and committed, as etcd's server does), writes after it.
 *
 * more: what test_etcd_rt2.sh also does through etcdctl on the member
 * restored from DB's snapshot, in the same order: a put, a txn (a put and a
 * delete), a leased put, a revoke, a compaction at the revision before the
 * revoke's; so both stores must answer the same afterwards.
 *
 * Every mode then prints the store's answers, one per line, in the
 * canonical form that etcd_rt_json.py prints for etcdctl's JSON:
 *
 *   status rev=R
 *   get rev=N count=C header=R        (a range of every key at N; 0 = now)
 *   kv key=HEX create=C mod=M ver=V lease=L value=HEX
 *   get rev=N error=compacted         (N below the compacted revision)
 *   hashkv rev=N hash=H compact=C header=R
 *   hashkv rev=N error=compacted      (N at or below the compacted revision)
 *   lease id=ID ttl=T keys=HEX,HEX,...  (by ID; keys sorted; "-" = none)
 *
 * gets and hashkvs at 0 and at every revision from the compacted one up to
 * the current one, and one get below the compacted revision (what etcd
 * refuses: a get below the compacted revision, a hashkv at or below it).
 *
 * Exit 0 on success, 1 on any failure (a message on stderr).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/lease.h>
#include <strata/mvcc.h>

/* Lease IDs: etcd assigns random positive int64s; one is above 2^53. */
#define LEASE_A INT64_C(7587869178398349060)
#define LEASE_B INT64_C(1001)
#define LEASE_C INT64_C(0x3eaddeadbeef)

typedef struct stack {
    backend *be;
    lease_lessor *l;
    mvcc_store *kv;
} stack;

static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "etcd_rt_writer: %s: %s (%d, %s)\n", what, mvcc_strerror(rc), rc,
            mvcc_status_name(rc));
    return 1;
}

static int open_stack(stack *s, const char *path)
{
    memset(s, 0, sizeof *s);
    int rc = backend_open(path, NULL, &s->be);
    if (failed(rc, "backend_open"))
        return 1;
    lease_options lo;
    lease_options_init(&lo);
    lo.no_thread = true;      /* nothing expires while the writer runs */
    lo.checkpoint_off = true; /* etcd 3.4's default */
    char why[256] = "";
    lo.errmsg = why;
    lo.errmsg_size = sizeof why;
    if ((rc = lease_lessor_open(s->be, &lo, &s->l)) != 0) {
        fprintf(stderr, "etcd_rt_writer: lease_lessor_open: %s %s\n", lease_strerror(rc), why);
        backend_close(s->be);
        return 1;
    }
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = s->l;
    char err[256] = "";
    mo.errbuf = err;
    mo.errbuf_size = sizeof err;
    if ((rc = mvcc_store_open(s->be, &mo, &s->kv)) != 0) {
        fprintf(stderr, "etcd_rt_writer: mvcc_store_open: %s %s\n", mvcc_strerror(rc), err);
        lease_lessor_close(s->l);
        backend_close(s->be);
        return 1;
    }
    return 0;
}

static int close_stack(stack *s)
{
    int bad = failed(mvcc_store_close(s->kv), "mvcc_store_close");
    bad |= failed(lease_lessor_close(s->l), "lease_lessor_close");
    bad |= failed(backend_close(s->be), "backend_close");
    return bad;
}

/* ---- writing ------------------------------------------------------------ */

static int put(stack *s, const char *key, const char *value, int64_t lease)
{
    return failed(mvcc_store_put(s->kv, key, strlen(key), value, strlen(value), lease, NULL), key);
}

static int put_bytes(stack *s, const void *key, size_t klen, const void *value, size_t vlen)
{
    return failed(mvcc_store_put(s->kv, key, klen, value, vlen, 0, NULL), "put (bytes)");
}

/* Delete [key, end) (end NULL: the key alone); fails unless want keys went. */
static int del(stack *s, const char *key, const char *end, int64_t want)
{
    int64_t n = -1;
    int rc = mvcc_store_delete_range(s->kv, key, strlen(key), end, end ? strlen(end) : 0, &n, NULL);
    if (failed(rc, key))
        return 1;
    if (n != want) {
        fprintf(stderr, "etcd_rt_writer: delete %s: %" PRId64 " keys deleted, want %" PRId64 "\n",
                key, n, want);
        return 1;
    }
    return 0;
}

static int grant(stack *s, int64_t id, int64_t ttl)
{
    return failed(lease_grant(s->l, id, ttl, NULL), "lease_grant");
}

/* A write txn of several changes: two puts of one key, another put, a delete. */
static int txn_several(stack *s)
{
    mvcc_txn *t;
    int rc = mvcc_txn_write_begin(s->kv, &t);
    if (failed(rc, "txn begin"))
        return 1;
    int64_t n = 0;
    rc = mvcc_txn_put(t, "txn/x", 5, "1", 1, 0, NULL);
    if (rc == 0)
        rc = mvcc_txn_put(t, "txn/x", 5, "2", 1, 0, NULL);
    if (rc == 0)
        rc = mvcc_txn_put(t, "txn/y", 5, "y", 1, LEASE_A, NULL);
    if (rc == 0)
        rc = mvcc_txn_delete_range(t, "b", 1, NULL, 0, &n, NULL);
    int bad = failed(rc, "txn");
    bad |= failed(mvcc_txn_end(t, NULL), "txn end");
    if (!bad && n != 1) {
        fprintf(stderr, "etcd_rt_writer: the txn deleted %" PRId64 " keys, want 1\n", n);
        bad = 1;
    }
    return bad;
}

static int compact(stack *s, int64_t rev)
{
    /* etcd's server: Compact, wait for the physical deletion, commit. */
    return failed(mvcc_store_compact(s->kv, rev), "compact") ||
           failed(mvcc_store_compact_wait(s->kv), "compact wait") ||
           failed(mvcc_store_commit(s->kv), "commit");
}

static int write_history(stack *s)
{
    static const uint8_t bkey[] = { 'b', 'i', 'n', 0x00, 0xff, 0x80, '\n' };
    static const uint8_t bval[] = { 0x00, 0x01, 0xfe, 0xff, '"', '\\', 0x7f };
    char *big = malloc(20001);
    if (big == NULL)
        return 1;
    for (size_t i = 0; i < 20000; i++)
        big[i] = (char)('a' + i % 26);
    big[20000] = 0;
    int bad = 0;
    bad |= grant(s, LEASE_A, 3600);
    bad |= grant(s, LEASE_B, 600);
    bad |= grant(s, LEASE_C, 7200);
    bad |= put(s, "a", "alpha", 0);
    bad |= put(s, "b", "beta", 0);
    bad |= put(s, "c", "", 0);
    bad |= put_bytes(s, bkey, sizeof bkey, bval, sizeof bval);
    bad |= put(s, "big", big, 0);
    bad |= put(s, "a", "alpha2", 0);
    bad |= txn_several(s);
    bad |= put(s, "p/1", "one", 0);
    bad |= put(s, "p/2", "two", 0);
    bad |= put(s, "p/3", "three", LEASE_B);
    bad |= put(s, "q", "kept", 0);
    bad |= del(s, "c", NULL, 1);
    bad |= put(s, "lease/a1", "v", LEASE_A);
    bad |= put(s, "lease/a2", "v", LEASE_A);
    bad |= put(s, "lease/b1", "v", LEASE_B);
    bad |= put(s, "lease/c1", "v", LEASE_C);
    bad |= put(s, "lease/a2", "unleased now", 0); /* detached from A */
    bad |= del(s, "p/", "p0", 3);                 /* a prefix delete; p/3 leaves B's keys */
    bad |= failed(lease_revoke(s->l, LEASE_B), "revoke B"); /* deletes lease/b1 */
    int64_t crev = mvcc_store_rev(s->kv) - 2;
    bad |= compact(s, crev);
    bad |= put(s, "a", "alpha3", 0);
    bad |= put(s, "after", "compaction", LEASE_C);
    bad |= del(s, "q", NULL, 1);
    free(big);
    return bad;
}

static int write_more(stack *s)
{
    int bad = put(s, "new/1", "v1", 0);
    mvcc_txn *t;
    int rc = mvcc_txn_write_begin(s->kv, &t);
    if (failed(rc, "txn begin"))
        return 1;
    rc = mvcc_txn_put(t, "new/2", 5, "v2", 2, 0, NULL);
    if (rc == 0)
        rc = mvcc_txn_delete_range(t, "txn/x", 5, NULL, 0, NULL, NULL);
    bad |= failed(rc, "txn");
    bad |= failed(mvcc_txn_end(t, NULL), "txn end");
    bad |= put(s, "new/3", "leased", LEASE_C);
    bad |= failed(lease_revoke(s->l, LEASE_A), "revoke A");
    if (!bad)
        bad |= compact(s, mvcc_store_rev(s->kv) - 1);
    return bad;
}

/* ---- printing ----------------------------------------------------------- */

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int print_get(stack *s, int64_t rev)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .size = sizeof o, .rev = rev };
    static const uint8_t zero = 0;
    int rc = mvcc_store_range(s->kv, &zero, 1, "", 0, &o, &r); /* every key (etcd's "" prefix) */
    if (rc == MVCC_ECOMPACTED) {
        printf("get rev=%" PRId64 " error=compacted\n", rev);
        return 0;
    }
    if (failed(rc, "range"))
        return 1;
    printf("get rev=%" PRId64 " count=%" PRId64 " header=%" PRId64 "\n", rev, r.count, r.rev);
    for (size_t i = 0; i < r.n; i++) {
        const mvcc_kv *kv = &r.kvs[i];
        printf("kv key=");
        hex(kv->key, kv->key_len);
        printf(" create=%" PRId64 " mod=%" PRId64 " ver=%" PRId64 " lease=%" PRId64 " value=",
               kv->create_revision, kv->mod_revision, kv->version, kv->lease);
        hex(kv->value, kv->value_len);
        printf("\n");
    }
    mvcc_range_result_release(&r);
    return 0;
}

static int print_hashkv(stack *s, int64_t rev)
{
    mvcc_hash_kv h;
    int rc = mvcc_store_hash_kv(s->kv, rev, &h);
    if (rc == MVCC_ECOMPACTED) { /* etcd's HashByRev: also AT the compacted revision */
        printf("hashkv rev=%" PRId64 " error=compacted\n", rev);
        return 0;
    }
    if (failed(rc, "hash_kv"))
        return 1;
    printf("hashkv rev=%" PRId64 " hash=%" PRIu32 " compact=%" PRId64 " header=%" PRId64 "\n", rev,
           h.hash, h.compact_rev, h.current_rev);
    return 0;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const lease_info *)a)->id, y = ((const lease_info *)b)->id;
    return (x > y) - (x < y);
}

static int print_leases(stack *s)
{
    lease_info *ls;
    size_t n;
    if (failed(lease_leases(s->l, &ls, &n), "lease_leases"))
        return 1;
    if (n > 1)
        qsort(ls, n, sizeof *ls, by_id);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        lease_keys *k;
        if (failed(lease_lookup_keys(s->l, ls[i].id, &k), "lease_lookup_keys")) {
            bad = 1;
            break;
        }
        printf("lease id=%" PRId64 " ttl=%" PRId64 " keys=", ls[i].id, ls[i].ttl);
        if (k->n == 0)
            printf("-");
        for (size_t j = 0; j < k->n; j++) {
            if (j > 0)
                printf(",");
            hex(k->keys[j].data, k->keys[j].size);
        }
        printf("\n");
        lease_keys_free(k);
    }
    strata_free(ls);
    return bad;
}

static int print_answers(stack *s)
{
    int64_t cur = mvcc_store_rev(s->kv), crev = mvcc_store_compact_rev(s->kv);
    printf("status rev=%" PRId64 "\n", cur);
    int bad = print_get(s, 0) | print_hashkv(s, 0);
    if (crev > 1)
        bad |= print_get(s, crev - 1);
    for (int64_t r = crev > 1 ? crev : 1; r <= cur && !bad; r++)
        bad |= print_get(s, r) | print_hashkv(s, r);
    bad |= print_leases(s);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "etcd_rt_writer: writing the answers failed\n");
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "more") != 0 &&
                      strcmp(argv[1], "show") != 0)) {
        fprintf(stderr, "usage: etcd_rt_writer write|more|show DB\n");
        return 2;
    }
    stack s;
    if (open_stack(&s, argv[2]) != 0)
        return 1;
    int bad = 0;
    if (strcmp(argv[1], "write") == 0)
        bad = write_history(&s);
    else if (strcmp(argv[1], "more") == 0)
        bad = write_more(&s);
    if (!bad)
        bad = print_answers(&s);
    bad |= close_stack(&s);
    return bad ? 1 : 0;
}
