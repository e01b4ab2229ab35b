/*
 * script_kv.c: the kv plug-in of `strata script`: every op of ORACLE.md §2
 * but the lessor's and the watchers' — put, del, range, txn ... end,
 * compact, hash, hashall, reopen, defrag, commit, rev — each one call (or
 * a few) of the public mvcc and backend API, as etcd's mvccoracle makes
 * the same calls on etcd's mvcc package:
 *
 *   put      a write txn (the open `txn`, or one of its own): put, then a
 *            range of the key inside the same txn to read the kv back
 *   del      a write txn: a range of the span (the deleted kvs, like
 *            etcdserver's prev_kv), then delete_range
 *   range    a read (or, inside `txn`, the write txn's own range)
 *   compact  compact, wait until the physical compaction is done, force a
 *            backend commit (etcdserver's physical compaction; rule C)
 *   hashall  etcd's store.Hash: force a commit, hash the backend (without
 *            meta/consistent_index), with the current revision
 *
 * Every number printed comes from the store; nothing is computed here.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <strata/lease.h>

#include "script.h"

/* ---- helpers ---------------------------------------------------------------- */

static void kv_of(const mvcc_kv *kv, script_kv *out)
{
    *out = (script_kv){ .key = kv->key,
                        .klen = kv->key_len,
                        .value = kv->value,
                        .vlen = kv->value_len,
                        .create = kv->create_revision,
                        .mod = kv->mod_revision,
                        .version = kv->version,
                        .lease = kv->lease };
}

/* The write txn an op writes in: the open `txn`, or a new one (*own). */
static int writer(script_ctx *c, mvcc_txn **tw, bool *own, const char *op)
{
    *own = false;
    if (c->txn != NULL) {
        *tw = c->txn;
        *own = false;
        return 0;
    }
    int rc = mvcc_txn_write_begin(c->kv, tw);
    if (rc != 0)
        return script_internal(c, rc, op);
    *own = true;
    return 0;
}

/* End the op's own write txn; rc is the op's status so far. */
static int writer_end(script_ctx *c, mvcc_txn *tw, bool own, int rc, const char *op)
{
    if (!own)
        return rc;
    int erc = mvcc_txn_end(tw, NULL);
    if (erc != 0 && rc == 0)
        return script_internal(c, erc, op);
    return rc;
}

/* ---- put ----------------------------------------------------------------------- */

static const char *const put_options[] = { "lease", NULL };

static int op_put(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos < 2 || a->npos > 3)
        return script_fail(c, "usage: put KEY VALUE [LEASE|lease=ID]");
    const script_tok *key = &a->pos[0], *value = &a->pos[1];
    if (key->len == 0)
        return script_fail(c, "put: empty key");
    int64_t lease;
    int rc = script_opt_int64(c, a, "lease", 0, &lease);
    if (rc != 0)
        return rc;
    if (a->npos == 3) {
        if (script_opt(a, "lease") != NULL)
            return script_fail(c, "put: lease given twice");
        if ((rc = script_pos_int64(c, a, 2, "lease", &lease)) != 0)
            return rc;
    }
    mvcc_txn *tw;
    bool own;
    if ((rc = writer(c, &tw, &own, "put")) != 0)
        return rc;
    int64_t rev = 0;
    mvcc_range_result rr;
    mvcc_range_result_init(&rr);
    /* A lease the lessor does not know: etcd's server checks it before it
     * touches the store; mvcc's put checks it before it writes anything. */
    rc = mvcc_txn_put(tw, key->s, key->len, value->s, value->len, lease, &rev);
    bool no_lease = rc == LEASE_ENOTFOUND;
    if (rc == MVCC_ENOLESSOR) {
        rc = script_fail(c,
                         "put: lease=%" PRId64 ": the store has no lessor (the lessor's ops, "
                         "tools/strata/script_lease.c, are not in this build)",
                         lease);
    } else if (rc != 0 && !no_lease) {
        rc = script_internal(c, rc, "put");
    } else if (rc == 0) {
        rc = mvcc_txn_range(tw, key->s, key->len, NULL, 0, NULL, &rr);
        if (rc != 0)
            rc = script_internal(c, rc, "put: reading the key back");
        else if (rr.n != 1)
            rc = script_internal(c, STRATA_NOTFOUND, "put: reading the key back");
    } else {
        rc = 0;
    }
    rc = writer_end(c, tw, own, rc, "put");
    if (rc == 0 && no_lease) {
        script_print(c, "put ");
        script_error(c, LEASE_ENOTFOUND);
        script_print(c, "\n");
    } else if (rc == 0) {
        const mvcc_kv *kv = &rr.kvs[0];
        script_line(c,
                    "put rev=%" PRId64 " create=%" PRId64 " mod=%" PRId64 " ver=%" PRId64
                    " lease=%" PRId64,
                    rev, kv->create_revision, kv->mod_revision, kv->version, kv->lease);
    }
    mvcc_range_result_release(&rr);
    return rc;
}

/* ---- del ------------------------------------------------------------------------ */

static const char *const range_flags[] = { "prefix", "fromkey", NULL };

static int op_del(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    script_range r;
    unsigned char *buf;
    int rc = script_key_range(c, a, 0, &r, &buf);
    if (rc != 0)
        return rc;
    mvcc_txn *tw;
    bool own;
    if ((rc = writer(c, &tw, &own, "del")) != 0) {
        free(buf);
        return rc;
    }
    mvcc_range_result prev;
    mvcc_range_result_init(&prev);
    int64_t n = 0, rev = 0;
    rc = mvcc_txn_range(tw, r.key, r.klen, r.end, r.elen, NULL, &prev);
    if (rc != 0)
        rc = script_internal(c, rc, "del: reading what it deletes");
    else if ((rc = mvcc_txn_delete_range(tw, r.key, r.klen, r.end, r.elen, &n, &rev)) != 0)
        rc = script_internal(c, rc, "del");
    rc = writer_end(c, tw, own, rc, "del");
    if (rc == 0) {
        script_line(c, "del n=%" PRId64 " rev=%" PRId64, n, rev);
        for (size_t i = 0; i < prev.n; i++) {
            script_kv kv;
            kv_of(&prev.kvs[i], &kv);
            script_kv_line(c, "  prev", &kv, true);
        }
    }
    mvcc_range_result_release(&prev);
    free(buf);
    return rc;
}

/* ---- range ---------------------------------------------------------------------- */

static const char *const range_options[] = { "rev", "limit", NULL };
static const char *const range_read_flags[] = { "prefix", "fromkey", "count", "keysonly", NULL };

static int op_range(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    script_range r;
    unsigned char *buf;
    int rc = script_key_range(c, a, 0, &r, &buf);
    if (rc != 0)
        return rc;
    mvcc_range_options ro = { .size = sizeof ro };
    if ((rc = script_opt_int64(c, a, "rev", 0, &ro.rev)) != 0 ||
        (rc = script_opt_int64(c, a, "limit", 0, &ro.limit)) != 0) {
        free(buf);
        return rc;
    }
    ro.count_only = script_flag(a, "count");
    /* keysonly only changes what is printed (etcdserver reads the values too). */
    bool keys_only = script_flag(a, "keysonly");
    mvcc_range_result rr;
    mvcc_range_result_init(&rr);
    if (c->txn != NULL)
        rc = mvcc_txn_range(c->txn, r.key, r.klen, r.end, r.elen, &ro, &rr);
    else
        rc = mvcc_store_range(c->kv, r.key, r.klen, r.end, r.elen, &ro, &rr);
    free(buf);
    if (rc != 0 && script_error_is_etcd(rc)) {
        script_print(c, "range ");
        script_error(c, rc);
        script_line(c, " rev=%" PRId64 " count=%" PRId64, rr.rev, rr.count);
        mvcc_range_result_release(&rr);
        return 0;
    }
    if (rc != 0) {
        mvcc_range_result_release(&rr);
        return script_internal(c, rc, "range");
    }
    script_line(c, "range rev=%" PRId64 " count=%" PRId64 " n=%zu", rr.rev, rr.count, rr.n);
    for (size_t i = 0; i < rr.n; i++) {
        script_kv kv;
        kv_of(&rr.kvs[i], &kv);
        script_kv_line(c, "  kv", &kv, !keys_only);
    }
    mvcc_range_result_release(&rr);
    return 0;
}

/* ---- txn ... end ------------------------------------------------------------------- */

static int op_txn(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: txn");
    int rc = mvcc_txn_write_begin(c->kv, &c->txn);
    if (rc != 0) {
        c->txn = NULL;
        return script_internal(c, rc, "txn");
    }
    script_line(c, "txn begin rev=%" PRId64, mvcc_txn_rev(c->txn));
    return 0;
}

static int op_end(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: end");
    size_t n = mvcc_txn_changes(c->txn);
    int64_t rev = 0;
    int rc = mvcc_txn_end(c->txn, &rev);
    c->txn = NULL;
    if (rc != 0)
        return script_internal(c, rc, "end");
    script_line(c, "txn end changes=%zu rev=%" PRId64, n, rev);
    return 0;
}

/* ---- compact, hash, hashall ------------------------------------------------------- */

static int op_compact(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    int64_t rev;
    if (a->npos != 1)
        return script_fail(c, "usage: compact REV");
    int rc = script_pos_int64(c, a, 0, "rev", &rev);
    if (rc != 0)
        return rc;
    rc = mvcc_store_compact(c->kv, rev);
    if (rc != 0 && rc != MVCC_ECOMPACTED && rc != MVCC_EFUTUREREV)
        return script_internal(c, rc, "compact");
    /* etcdserver's physical compaction: wait for the job (for ErrCompacted,
     * the scheduler's barrier), then commit (ORACLE.md rule C). A future
     * revision schedules nothing. */
    if (rc != MVCC_EFUTUREREV) {
        int wrc = mvcc_store_compact_wait(c->kv);
        if (wrc != 0)
            return script_internal(c, wrc, "compact: waiting for the compaction");
        if ((wrc = backend_force_commit(c->be)) != 0)
            return script_internal(c, wrc, "compact: commit");
    }
    if (rc != 0) {
        script_print(c, "compact rev=%" PRId64 " ", rev);
        script_error(c, rc);
        script_print(c, "\n");
        return 0;
    }
    script_line(c, "compact rev=%" PRId64 " ok", rev);
    return 0;
}

static int op_hash(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    int64_t rev = 0;
    if (a->npos > 1)
        return script_fail(c, "usage: hash [REV]");
    int rc;
    if (a->npos == 1 && (rc = script_pos_int64(c, a, 0, "rev", &rev)) != 0)
        return rc;
    mvcc_hash_kv h = { 0, 0, 0 };
    rc = mvcc_store_hash_kv(c->kv, rev, &h);
    if (rc != 0 && !script_error_is_etcd(rc))
        return script_internal(c, rc, "hash");
    if (rc != 0) {
        script_print(c, "hash rev=%" PRId64 " ", rev);
        script_error(c, rc);
        script_line(c, " hash=%" PRIu32 " compact=%" PRId64 " cur=%" PRId64, h.hash, h.compact_rev,
                    h.current_rev);
        return 0;
    }
    script_line(c, "hash rev=%" PRId64 " hash=%" PRIu32 " compact=%" PRId64 " cur=%" PRId64, rev,
                h.hash, h.compact_rev, h.current_rev);
    return 0;
}

static int op_hashall(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: hashall");
    /* etcd's store.Hash: commit, then hash the file, leaving out
     * meta/consistent_index. */
    uint32_t h = 0;
    int64_t rev = 0;
    int rc = mvcc_store_hash(c->kv, &h, &rev);
    if (rc != 0)
        return script_internal(c, rc, "hashall");
    script_line(c, "hashall hash=%" PRIu32 " rev=%" PRId64, h, rev);
    return 0;
}

/* ---- reopen, defrag, commit, rev ---------------------------------------------------- */

static int op_reopen(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: reopen");
    int64_t dropped = 0;
    int rc = script_reopen(c, &dropped);
    if (rc != 0)
        return rc;
    script_line(c, "reopen rev=%" PRId64 " compact=%" PRId64 " watchers_dropped=%" PRId64,
                mvcc_store_rev(c->kv), mvcc_store_compact_rev(c->kv), dropped);
    return 0;
}

static int op_defrag(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: defrag");
    int rc = mvcc_store_defrag(c->kv, NULL);
    if (rc != 0)
        return script_internal(c, rc, "defrag");
    script_line(c, "defrag ok");
    return 0;
}

static int op_commit(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: commit");
    int rc = backend_force_commit(c->be);
    if (rc != 0)
        return script_internal(c, rc, "commit");
    script_line(c, "commit ok");
    return 0;
}

static int op_rev(script_ctx *c, const script_args *a, void *state)
{
    (void)state;
    if (a->npos != 0)
        return script_fail(c, "usage: rev");
    script_line(c, "rev cur=%" PRId64 " compact=%" PRId64, mvcc_store_rev(c->kv),
                mvcc_store_compact_rev(c->kv));
    return 0;
}

/* ---- the plug-in ------------------------------------------------------------------------ */

/*
 * etcd's stack always has a lessor, which creates the `lease` bucket when
 * it opens; hashall hashes every bucket. Create it here too, so the file
 * has etcd's buckets whether or not this build has the lessor's plug-in
 * (whose lessor then finds it there: creating a bucket is idempotent).
 */
static int kv_open_before_store(script_ctx *c, void *state, mvcc_options *so)
{
    (void)state;
    (void)so;
    backend_batch_tx *tx = backend_batch(c->be);
    backend_batch_tx_lock(tx);
    int rc = backend_batch_tx_create_bucket(tx, bolt_str("lease"));
    int urc = backend_batch_tx_unlock(tx);
    if (rc == 0)
        rc = urc;
    return rc == 0 ? 0 : script_internal(c, rc, "creating the lease bucket");
}

static const script_op kv_ops[] = {
    { "put", put_options, NULL, SCRIPT_OP_TXN, op_put },
    { "del", NULL, range_flags, SCRIPT_OP_TXN, op_del },
    { "range", range_options, range_read_flags, SCRIPT_OP_TXN, op_range },
    { "txn", NULL, NULL, SCRIPT_OP_NO_DRAIN, op_txn },
    { "end", NULL, NULL, SCRIPT_OP_TXN_ONLY, op_end },
    { "compact", NULL, NULL, 0, op_compact },
    { "hash", NULL, NULL, 0, op_hash },
    { "hashall", NULL, NULL, 0, op_hashall },
    { "reopen", NULL, NULL, 0, op_reopen },
    { "defrag", NULL, NULL, 0, op_defrag },
    { "commit", NULL, NULL, 0, op_commit },
    { "rev", NULL, NULL, 0, op_rev },
};

const script_plugin script_kv_plugin = {
    .name = "kv",
    .ops = kv_ops,
    .nops = sizeof kv_ops / sizeof kv_ops[0],
    .open_before_store = kv_open_before_store,
};
