/*
 * lease_glue.c: the store's side of the lessor (mvcc_int.h's mvcc__lease_*
 * seam; etcd's kvstore.go / kvstore_txn.go calls into lease.Lessor, and
 * the RangeDeleter the store hands the lessor: `func() lease.TxnDelete {
 * return s.Write() }`).
 *
 *   - bind registers the store as the lessor's range deleter: a revoke
 *     opens one write transaction of the store (mvcc_txn_write_begin: the
 *     write lock and the batch lock), deletes each attached key with
 *     mvcc_txn_delete_range (tombstones, index, watch events, and the
 *     detach below), deletes the lease record through the same batch
 *     transaction (mvcc__txn_batch) and ends it: one revision, one bolt
 *     transaction. A revoke deletes the keys through delete_keys instead
 *     (mvcc__txn_delete_keys: one index lookup per key, no detach per key:
 *     the lessor drops the revoked lease's keys itself), and the lessor's
 *     auto-revoke batches many revokes into one write transaction, each
 *     its own revision (mvcc__txn_next_rev), yielding the write lock when
 *     another writer waits (mvcc__write_waiters).
 *   - lookup/get/attach/detach are etcd's Lookup/GetLease/Attach/Detach of
 *     one key. A missing lease at detach or at restore's attach is not the
 *     store's error (etcd logs it and goes on): they return 0.
 *
 * Lock order (lease.h): the store's write lock and the batch lock are held
 * when put/delete call attach/detach, which take only the lessor's mutex.
 */
#include "mvcc_int.h"

#include <strata/lease.h>

static int rd_begin(void *arg, void **txn)
{
    mvcc_txn *t;
    int rc = mvcc_txn_write_begin(arg, &t);
    if (rc != 0)
        return rc;
    *txn = t;
    return 0;
}

static int rd_delete_range(void *txn, bolt_val key, bolt_val end)
{
    int64_t n, rev;
    return mvcc_txn_delete_range(txn, key.data, key.size, end.size > 0 ? end.data : NULL, end.size,
                                 &n, &rev);
}

static int rd_delete_keys(void *txn, const bolt_val *keys, size_t n)
{
    return mvcc__txn_delete_keys(txn, keys, n, NULL);
}

static int rd_next_rev(void *txn)
{
    return mvcc__txn_next_rev(txn);
}

static bool rd_yield_wanted(void *arg)
{
    return mvcc__write_waiters(arg) > 0;
}

/* The index entries of keys the lessor deletes next (idx_tree_prefetch: it never waits). */
static void rd_prefetch(void *arg, const bolt_val *keys, size_t n)
{
    mvcc_store *s = arg;
    idx_key k[32];
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; m < 32 && i < n; m++, i++)
            k[m] = (idx_key){ keys[i].data, keys[i].size };
        idx_tree_prefetch(s->index, k, m);
    }
}

static backend_batch_tx *rd_batch_tx(void *txn)
{
    return mvcc__txn_batch(txn);
}

static int rd_end(void *txn)
{
    int64_t rev;
    return mvcc_txn_end(txn, &rev);
}

int mvcc__lease_bind(mvcc_store *s)
{
    lease_range_deleter rd = {
        .arg = s,
        .begin = rd_begin,
        .delete_range = rd_delete_range,
        .batch_tx = rd_batch_tx,
        .end = rd_end,
        .delete_keys = rd_delete_keys,
        .next_rev = rd_next_rev,
        .yield_wanted = rd_yield_wanted,
        .prefetch = rd_prefetch,
    };
    lease_lessor_set_range_deleter(s->lessor, &rd);
    return 0;
}

void mvcc__lease_unbind(mvcc_store *s)
{
    lease_lessor_set_range_deleter(s->lessor, NULL);
}

int mvcc__lease_lookup(mvcc_store *s, int64_t lease)
{
    lease_info li;
    return lease_lookup(s->lessor, lease, &li);
}

int64_t mvcc__lease_get(mvcc_store *s, const void *key, size_t key_len)
{
    return lease_get_lease(s->lessor, (bolt_val){ key, key_len });
}

int mvcc__lease_attach(mvcc_store *s, int64_t lease, const void *key, size_t key_len)
{
    int rc = lease_attach(s->lessor, lease, (bolt_val){ key, key_len });
    return rc == LEASE_ENOTFOUND ? 0 : rc;
}

int mvcc__lease_detach(mvcc_store *s, int64_t lease, const void *key, size_t key_len)
{
    int rc = lease_detach(s->lessor, lease, (bolt_val){ key, key_len });
    return rc == LEASE_ENOTFOUND ? 0 : rc;
}
