/*
 * kvstore_txn.c: read and write transactions (etcd 3.4.23
 * mvcc/kvstore_txn.go, docs/schema.md §3.3 and §3.4).
 *
 * State machine of a write transaction:
 *
 *   (none) --mvcc_txn_write_begin--> OPEN --put/delete_range--> OPEN
 *                                     |  \--a failure after a write--> FAILED
 *                                     v                                 |
 *                              mvcc_txn_end  <--------------------------+
 *
 * Rules:
 *   1. A write transaction holds the store's write lock and the backend's
 *      batch lock from begin to end; its changes get revision begin+1 and
 *      sub-revisions 0, 1, 2, ... in the order they are made. Every change
 *      goes to the backend (the `key` bucket) first, then to the index; a
 *      write the backend refuses leaves no trace. mvcc__txn_next_rev (the
 *      lessor's batched revokes) closes a revision that has changes: the
 *      following ones get the next revision, sub-revisions from 0 again
 *      (t->rev counts the closed revisions, t->closed how many).
 *   2. End with changes: under rev_mu, current_rev becomes the last
 *      revision made, the hash state takes the transaction's delta, and
 *      the batch unlock publishes the writes to readers, so a read
 *      transaction (which takes its revision and its backend view together
 *      under rev_mu) sees the revisions and their data together. Then the
 *      watch hook runs once per revision made, in order, still under the
 *      write lock.
 *   3. A read transaction's ranges look up the index at their revision and
 *      re-check the compacted revision afterwards: a compaction accepted
 *      meanwhile may have removed revisions the lookup needed, and is
 *      reported as MVCC_ECOMPACTED (etcd holds its store lock for the whole
 *      read transaction instead, which makes compaction wait for readers).
 *      The backend view was taken at begin, before any physical deletion
 *      of a compaction accepted later, so a revision the index gave is
 *      always found there.
 *   4. A read transaction's results point into its backend view (zero
 *      copy, valid until the transaction ends); a write transaction's are
 *      copied (the batch transaction's bytes move with the next write).
 *   5. A read transaction's view may be one the backend kept from an
 *      earlier reader (backend/read_tx.c rule 4): it is reused only while
 *      nothing was published since it began, so it is what a new view
 *      would be, and it carries the revision it was taken at (its tag).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "grow.h"
#include "mvcc_int.h"
#include "sync.h"

struct mvcc_txn {
    mvcc_store *s;
    bool write;
    bool failed;
    int64_t rev; /* read: its revision; write: the begin revision */
    backend_read_tx *rtx;
    backend_batch_tx *btx;
    size_t nchanges; /* changes in the current revision (the next sub-revision) */
    int64_t closed;  /* revisions closed by mvcc__txn_next_rev (rule 1) */
    size_t nev;      /* events kept, over all the revisions */
    /* The changes for the watch hook (only when one is registered). */
    bool keep_events;
    mvcc__change *ev;
    size_t ev_cap;
    uint8_t *arena; /* event bytes; ev[i].kv.key/value hold offsets until end */
    size_t arena_len, arena_cap;
    mvcc__hash_delta hd;
    uint8_t *enc; /* encoding buffer, reused */
    size_t enc_cap;
    /* delete_keys' scratch, reused: a chunk's keys for the index. */
    idx_key *dk_keys;
    size_t dk_cap;
};

static const bolt_val key_bucket = { MVCC__BUCKET_KEY, 3 };

static bool has_null(const void *p, size_t len)
{
    return p == NULL && len > 0;
}

/* ---- begin / end -------------------------------------------------------------- */

/*
 * A read view: the revision and the backend view taken together (rule 2).
 * Rule 5: a view the backend kept (nothing published since: read_tx.c rule
 * 4) is reused with the revision tagged on it (the revision + 1; 0: none).
 * A write's end moves current_rev and publishes under rev_mu, so a view
 * that is still current while rev_mu is held is of current_rev's state:
 * that is how a fresh view is tagged, and an untagged kept view (another
 * user's) too.
 */
static int read_view_begin(mvcc_store *s, int64_t *rev, backend_read_tx **rtx)
{
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    uint64_t tag = 0;
    backend_read_tx *kept;
    if (backend_read_tx_reuse(s->be, &kept, &tag) && tag != 0) {
        *rev = (int64_t)(tag - 1);
        *rtx = kept;
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&s->rev_mu);
    *rev = mvcc__current_rev(s);
    if (kept != NULL && !backend_read_tx_current(kept)) {
        backend_read_tx_end(kept); /* not kept again: no longer current */
        kept = NULL;
    }
    if (kept != NULL)
        *rtx = kept;
    else
        rc = backend_read_tx_begin(s->be, rtx);
    if (rc == 0)
        backend_read_tx_set_tag(*rtx, (uint64_t)*rev + 1);
    pthread_mutex_unlock(&s->rev_mu);
    return rc;
}

int mvcc_txn_read_begin(mvcc_store *s, mvcc_txn **out)
{
    *out = NULL;
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    mvcc_txn *t = strata_calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    t->s = s;
    int rc = read_view_begin(s, &t->rev, &t->rtx);
    if (rc != 0) {
        strata_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* How long a writer spins on a taken write lock before it sleeps on it. */
#define WRITE_SPIN_NS 20000

/* 1 + the CPU this thread runs on now; 0 when unknown (sched_getcpu: the vDSO or rseq). */
static int cpu_now1(void)
{
    int c = sched_getcpu();
    return c < 0 ? 0 : c + 1;
}

/*
 * The store's write lock, counted in write_waiters while waited for (the
 * lessor's batched revokes end their batch when someone waits). A taken
 * lock is spun on for at most WRITE_SPIN_NS of wall time before sleeping
 * (strata__mutex_lock_spin):
 * a batch of revokes lets a waiting writer in within one revoke (a few
 * us), and a writer still on its CPU then takes the lock at once, where
 * one asleep in the kernel waits for a wake-up. The bound is time, not a
 * count of pauses (a pause is ~60 ns on recent AMD, a few ns elsewhere):
 * a holder that is not running (preempted, often by this very waiter on
 * a loaded machine) cannot let go while the waiter spins, so a long spin
 * only keeps the holder off the CPU (4,096 pauses, ~240 us here, doubled
 * the putter's p99 during a mass expiry: docs/lease.md).
 *
 * The holder notes its CPU (write_cpu1). A waiter that finds it is on
 * that very CPU knows the holder is not running (it preempted it, or the
 * holder slept there): it does not spin at all but sleeps on the lock at
 * once, which hands the CPU back to the holder; the holder sees the
 * waiter, ends its batch within one revoke and its unlock wakes the
 * waiter. Spinning there would only burn WRITE_SPIN_NS before the same
 * sleep (during a mass expiry on 2 cores, the putter woke on the
 * revoker's CPU for about half its puts). A stale note (the holder moved
 * since) costs a sleep instead of a spin, nothing else.
 */
static void write_lock(mvcc_store *s)
{
    if (pthread_mutex_trylock(&s->write_mu) != 0) {
        __atomic_add_fetch(&s->write_waiters, 1, __ATOMIC_RELAXED);
        int held_on = __atomic_load_n(&s->write_cpu1, __ATOMIC_RELAXED);
        if (held_on == 0 || held_on != cpu_now1())
            strata__mutex_lock_spin(&s->write_mu, WRITE_SPIN_NS);
        else
            pthread_mutex_lock(&s->write_mu); /* the holder is not running: sleep at once */
        __atomic_sub_fetch(&s->write_waiters, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&s->write_cpu1, cpu_now1(), __ATOMIC_RELAXED);
}

/* Releases what write_lock took. */
static void write_unlock(mvcc_store *s)
{
    __atomic_store_n(&s->write_cpu1, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->write_mu);
}

/*
 * The spare write transaction: a write transaction's end keeps it, with
 * its buffers, for the next begin, under write_mu (one write transaction
 * at a time), unless its buffers grew past SPARE_MAX_BYTES. Saves the
 * allocations of a small transaction (the txn, its encode buffer, the hash
 * delta's list: ~3% of a put).
 */
#define SPARE_MAX_BYTES ((size_t)64 << 10)

static void txn_free(mvcc_txn *t);

/* A spare's reuse: every field as a fresh calloc'd txn, the buffers kept. */
static void txn_reuse(mvcc_txn *t)
{
    mvcc_txn keep = *t;
    memset(t, 0, sizeof *t);
    t->ev = keep.ev;
    t->ev_cap = keep.ev_cap;
    t->arena = keep.arena;
    t->arena_cap = keep.arena_cap;
    t->enc = keep.enc;
    t->enc_cap = keep.enc_cap;
    t->dk_keys = keep.dk_keys;
    t->dk_cap = keep.dk_cap;
    t->hd.superseded = keep.hd.superseded;
    t->hd.capsup = keep.hd.capsup;
}

static bool txn_small(const mvcc_txn *t)
{
    return t->ev_cap * sizeof *t->ev + t->arena_cap + t->enc_cap + t->dk_cap * sizeof *t->dk_keys +
                   t->hd.capsup * sizeof *t->hd.superseded <=
           SPARE_MAX_BYTES;
}

void mvcc__txn_spare_free(mvcc_store *s)
{
    if (s->spare_txn != NULL)
        txn_free(s->spare_txn);
    s->spare_txn = NULL;
}

int mvcc_txn_write_begin(mvcc_store *s, mvcc_txn **out)
{
    *out = NULL;
    if (s->read_only)
        return MVCC_EREADONLY;
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    write_lock(s);
    mvcc_txn *t = s->spare_txn;
    if (t != NULL) {
        s->spare_txn = NULL;
        txn_reuse(t);
    } else if ((t = strata_calloc(1, sizeof *t)) == NULL) {
        write_unlock(s);
        return -ENOMEM;
    }
    t->s = s;
    t->write = true;
    t->btx = backend_batch(s->be);
    backend_batch_tx_lock(t->btx);
    t->rev = mvcc__current_rev(s);
    t->keep_events = s->write_hook != NULL;
    *out = t;
    return 0;
}

size_t mvcc__write_waiters(mvcc_store *s)
{
    return __atomic_load_n(&s->write_waiters, __ATOMIC_RELAXED);
}

int64_t mvcc_txn_rev(const mvcc_txn *t)
{
    return t->rev;
}

size_t mvcc_txn_changes(const mvcc_txn *t)
{
    return t->nchanges;
}

backend_batch_tx *mvcc__txn_batch(mvcc_txn *t)
{
    return t->write ? t->btx : NULL;
}

static void txn_free(mvcc_txn *t)
{
    strata_free(t->ev);
    strata_free(t->arena);
    strata_free(t->enc);
    strata_free(t->dk_keys);
    mvcc__hash_delta_release(&t->hd);
    strata_free(t);
}

/* Turn the events' arena offsets into pointers (the arena no longer moves). */
static void events_fix(mvcc_txn *t)
{
    for (size_t i = 0; i < t->nev; i++) {
        mvcc__kv *kv = &t->ev[i].kv;
        kv->key = t->arena + (uintptr_t)kv->key;
        kv->value = kv->value_len ? t->arena + (uintptr_t)kv->value : NULL;
    }
}

/*
 * The batch transaction's unlock at a write transaction's end. While
 * another writer waits for the write lock (a batch of revokes ends for it),
 * the backend leaves its share of a log replay to the commit thread
 * (backend_batch_tx_unlock_waited): the waiter would wait for it here.
 */
static int end_batch(mvcc_txn *t)
{
    if (__atomic_load_n(&t->s->write_waiters, __ATOMIC_RELAXED) > 0)
        return backend_batch_tx_unlock_waited(t->btx);
    return backend_batch_tx_unlock(t->btx);
}

int mvcc_txn_end(mvcc_txn *t, int64_t *rev)
{
    if (t == NULL)
        return 0;
    mvcc_store *s = t->s;
    if (!t->write) {
        backend_read_tx_end(t->rtx);
        if (rev != NULL)
            *rev = mvcc__current_rev(s);
        txn_free(t);
        return 0;
    }
    int rc;
    if (t->nchanges > 0 || t->closed > 0) {
        int64_t nrev = t->nchanges > 0 ? t->rev + 1 : t->rev;
        pthread_mutex_lock(&s->rev_mu); /* rule 2 */
        __atomic_store_n(&s->current_rev, nrev, __ATOMIC_RELEASE);
        mvcc__hash_apply(s, &t->hd, nrev);
        rc = end_batch(t);
        pthread_mutex_unlock(&s->rev_mu);
        if (s->write_hook != NULL && t->keep_events) {
            events_fix(t);
            /* One call per revision: its events are consecutive, mod_revision = it. */
            for (size_t i = 0, j; i < t->nev; i = j) {
                int64_t r = t->ev[i].kv.mod_revision;
                for (j = i + 1; j < t->nev && t->ev[j].kv.mod_revision == r; j++)
                    ;
                s->write_hook(s->hook_arg, r, t->ev + i, j - i);
            }
        }
    } else {
        rc = end_batch(t);
    }
    if (rev != NULL)
        *rev = mvcc__current_rev(s);
    if (s->spare_txn == NULL && txn_small(t)) {
        s->spare_txn = t; /* under write_mu */
        t = NULL;
    }
    write_unlock(s);
    if (t != NULL)
        txn_free(t);
    return rc;
}

/* ---- ranges -------------------------------------------------------------------- */

/* Result storage: kvs grows; copied bytes live in mem_ as offsets until fixed. */
void mvcc_range_result_init(mvcc_range_result *r)
{
    memset(r, 0, sizeof *r);
}

/* A result's storage kept from one range to the next up to this much (a
 * point get then allocates nothing); a bigger one is given back. */
#define RESULT_KEEP_BYTES (256u * 1024u)

void mvcc__result_reset(mvcc_range_result *r)
{
    if (r->mem_cap_ > RESULT_KEEP_BYTES || r->kvs_cap_ > RESULT_KEEP_BYTES / sizeof *r->kvs) {
        mvcc_range_result_release(r);
        return;
    }
    r->rev = 0;
    r->count = 0;
    r->n = 0;
    r->mem_len_ = 0;
}

void mvcc_range_result_release(mvcc_range_result *r)
{
    if (r == NULL)
        return;
    strata_free(r->kvs);
    strata_free(r->mem_);
    mvcc_range_result_init(r);
}

int mvcc__result_reserve(mvcc_range_result *r, size_t n)
{
    void *kvs = r->kvs;
    int rc = strata__grow(&kvs, &r->kvs_cap_, n, sizeof *r->kvs, 8);
    r->kvs = kvs;
    return rc;
}

/* Append len bytes to the result's arena; *off = their offset. */
static int result_copy(mvcc_range_result *r, const void *p, size_t len, size_t *off)
{
    if (len > SIZE_MAX - r->mem_len_)
        return -ENOMEM;
    void *mem = r->mem_;
    int rc = strata__grow(&mem, &r->mem_cap_, r->mem_len_ + len, 1, 256);
    r->mem_ = mem;
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy((uint8_t *)r->mem_ + r->mem_len_, p, len);
    *off = r->mem_len_;
    r->mem_len_ += len;
    return 0;
}

typedef struct lookup {
    mvcc_range_result *r;
    bool copy;
    bool keys_only;
    bool found;
    int rc;
    idx_rev rev;
} lookup;

static int lookup_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    lookup *l = arg;
    l->found = true;
    mvcc__kv kv;
    int rc = mvcc__kv_decode(value.data, value.size, &kv);
    if (rc == 0 && kv.mod_revision != l->rev.main)
        rc = MVCC_ECORRUPT;
    if (rc != 0) {
        l->rc = rc == MVCC_ECORRUPT ? rc : MVCC_ECORRUPT;
        return 1;
    }
    mvcc_range_result *r = l->r;
    mvcc_kv *out = &r->kvs[r->n];
    out->create_revision = kv.create_revision;
    out->mod_revision = kv.mod_revision;
    out->version = kv.version;
    out->lease = kv.lease;
    out->key_len = kv.key_len;
    out->value_len = l->keys_only ? 0 : kv.value_len;
    if (l->copy) {
        size_t ko, vo = 0;
        rc = result_copy(r, kv.key, kv.key_len, &ko);
        if (rc == 0 && out->value_len > 0)
            rc = result_copy(r, kv.value, kv.value_len, &vo);
        if (rc != 0) {
            l->rc = rc;
            return 1;
        }
        out->key = (const uint8_t *)(uintptr_t)ko;
        out->value = (const uint8_t *)(uintptr_t)vo;
    } else {
        out->key = kv.key;
        out->value = out->value_len > 0 ? kv.value : NULL;
    }
    r->n++;
    return 0;
}

int mvcc__fetch(backend_read_tx *rtx, backend_batch_tx *btx, idx_rev rev, bool copy, bool keys_only,
                mvcc_range_result *r)
{
    uint8_t rk[MVCC__REVKEY_TOMB_LEN];
    size_t n = mvcc__revkey_encode(rev, false, rk);
    lookup l = { .r = r, .copy = copy, .keys_only = keys_only, .rev = rev };
    int rc = btx != NULL ? backend_batch_tx_range(btx, key_bucket, (bolt_val){ rk, n },
                                                  (bolt_val){ NULL, 0 }, 1, lookup_fn, &l)
                         : backend_read_tx_range(rtx, key_bucket, (bolt_val){ rk, n },
                                                 (bolt_val){ NULL, 0 }, 1, lookup_fn, &l);
    if (rc == 1)
        return l.rc;
    if (rc != 0)
        return rc == BACKEND_EBUCKETNOTFOUND ? MVCC_ECORRUPT : rc;
    return l.found ? 0 : MVCC_ECORRUPT;
}

/*
 * A read transaction's revisions, fetched many at a time: the backend
 * interleaves their bolt descents (bolt_bucket_get_many), so the cache
 * misses of a range's scattered revisions overlap instead of queueing.
 * The same results, in the same order, as a mvcc__fetch per revision.
 */
int mvcc__fetch_many(backend_read_tx *rtx, const idx_rev *revs, size_t n, bool copy, bool keys_only,
                     mvcc_range_result *r)
{
    enum { CHUNK = 64 };
    uint8_t rk[CHUNK][MVCC__REVKEY_TOMB_LEN];
    bolt_val keys[CHUNK], vals[CHUNK];
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        for (size_t i = 0; i < m; i++)
            keys[i] = (bolt_val){ rk[i], mvcc__revkey_encode(revs[base + i], false, rk[i]) };
        int rc = backend_read_tx_get_many(rtx, key_bucket, keys, m, vals);
        if (rc != 0)
            return rc == BACKEND_EBUCKETNOTFOUND ? MVCC_ECORRUPT : rc;
        for (size_t i = 0; i < m; i++) {
            if (vals[i].data == NULL)
                return MVCC_ECORRUPT; /* rule 3: a revision the index gave is always there */
            lookup l = { .r = r, .copy = copy, .keys_only = keys_only, .rev = revs[base + i] };
            if (lookup_fn(&l, keys[i], vals[i]) != 0)
                return l.rc;
        }
    }
    return 0;
}

/* The revision a range of t reads by default (etcd's curRev of the txn). */
static int64_t txn_cur(const mvcc_txn *t)
{
    return t->write && t->nchanges > 0 ? t->rev + 1 : t->rev;
}

static int txn_range(mvcc_txn *t, mvcc__span sp, const mvcc_range_options *o, bool copy,
                     mvcc_range_result *out)
{
    mvcc__result_reset(out);
    mvcc_range_options opt = { 0 };
    if (o != NULL) {
        size_t n = o->size == 0 || o->size > sizeof opt ? sizeof opt : o->size;
        memcpy(&opt, o, n);
    }
    if (has_null(sp.key, sp.key_len) || has_null(sp.end, sp.end_len))
        return STRATA_EMISUSE;
    if (t->failed)
        return MVCC_ETXNDONE;
    if (sp.key == NULL)
        sp.key = "";
    mvcc_store *s = t->s;
    int64_t cur = txn_cur(t);
    int64_t rev = opt.rev;
    if (rev > cur) {
        out->rev = cur;
        out->count = -1;
        return MVCC_EFUTUREREV;
    }
    if (rev <= 0)
        rev = cur;
    if (rev < mvcc__compact_rev(s)) {
        out->rev = 0;
        out->count = -1;
        return MVCC_ECOMPACTED;
    }
    if (opt.count_only) {
        size_t total =
                idx_tree_count_revisions(s->index, sp.key, sp.key_len, sp.end, sp.end_len, rev);
        if (rev < mvcc__compact_rev(s)) { /* rule 3 */
            out->rev = 0;
            out->count = -1;
            return MVCC_ECOMPACTED;
        }
        out->rev = cur;
        out->count = (int64_t)total;
        return 0;
    }
    idx_range_result ir = { 0 };
    idx_rev one;                /* the single key's revision: nothing to allocate */
    const idx_rev *revs = &one; /* the revisions to fetch, in key order */
    size_t nrevs, total;
    int rc = 0;
    if (sp.end == NULL) {
        /* idx_tree_range's single-key case: any miss is no key */
        nrevs = total = idx_tree_get(s->index, sp.key, sp.key_len, rev, &one, NULL, NULL) == 0;
    } else {
        size_t limit = opt.limit > 0 ? (size_t)opt.limit : 0;
        rc = idx_tree_range(s->index, sp.key, sp.key_len, sp.end, sp.end_len, rev, limit, false,
                            &ir);
        if (rc != 0)
            return rc;
        revs = ir.revs;
        nrevs = ir.count;
        total = ir.total;
    }
    if (rev < mvcc__compact_rev(s)) { /* rule 3 */
        idx_range_result_release(&ir);
        out->rev = 0;
        out->count = -1;
        return MVCC_ECOMPACTED;
    }
    out->rev = cur;
    out->count = (int64_t)total;
    rc = mvcc__result_reserve(out, nrevs);
    copy = copy || t->write; /* rule 4 */
    /* A single revision too: get_many's guessed descent (bolt/get_many.c rule 5) touches a
     * few lines of the leaf and its parent where a cursor's binary searches wait on many. */
    if (rc == 0 && !t->write && nrevs > 0)
        rc = mvcc__fetch_many(t->rtx, revs, nrevs, copy, opt.keys_only, out);
    else
        for (size_t i = 0; i < nrevs && rc == 0; i++)
            rc = mvcc__fetch(t->rtx, t->write ? t->btx : NULL, revs[i], copy, opt.keys_only, out);
    idx_range_result_release(&ir);
    if (rc != 0) {
        mvcc_range_result_release(out);
        return rc;
    }
    if (copy) {
        for (size_t i = 0; i < out->n; i++) {
            mvcc_kv *kv = &out->kvs[i];
            kv->key = (const uint8_t *)out->mem_ + (uintptr_t)kv->key;
            kv->value = kv->value_len ? (const uint8_t *)out->mem_ + (uintptr_t)kv->value : NULL;
        }
    }
    return 0;
}

int mvcc_txn_range(mvcc_txn *t, const void *key, size_t key_len, const void *end, size_t end_len,
                   const mvcc_range_options *o, mvcc_range_result *out)
{
    return txn_range(t, (mvcc__span){ key, key_len, end, end_len }, o, false, out);
}

/* ---- writes --------------------------------------------------------------------- */

static int enc_reserve(mvcc_txn *t, size_t n)
{
    void *enc = t->enc;
    int rc = strata__grow(&enc, &t->enc_cap, n, 1, 256);
    t->enc = enc;
    return rc;
}

static int arena_add(mvcc_txn *t, const void *p, size_t len, size_t *off)
{
    if (len > SIZE_MAX - t->arena_len)
        return -ENOMEM;
    void *arena = t->arena;
    int rc = strata__grow(&arena, &t->arena_cap, t->arena_len + len, 1, 512);
    t->arena = arena;
    if (rc != 0)
        return rc;
    if (len > 0)
        memcpy(t->arena + t->arena_len, p, len);
    *off = t->arena_len;
    t->arena_len += len;
    return 0;
}

/* Remember change number t->nchanges for the watch hook. */
static int event_add(mvcc_txn *t, bool deleted, const mvcc__kv *kv)
{
    if (!t->keep_events)
        return 0;
    if (t->nev >= t->ev_cap) {
        size_t cap = t->ev_cap ? t->ev_cap * 2 : 8;
        mvcc__change *e = strata_realloc(t->ev, cap * sizeof *e);
        if (e == NULL)
            return -ENOMEM;
        t->ev = e;
        t->ev_cap = cap;
    }
    size_t ko, vo = 0;
    int rc = arena_add(t, kv->key, kv->key_len, &ko);
    if (rc == 0 && kv->value_len > 0)
        rc = arena_add(t, kv->value, kv->value_len, &vo);
    if (rc != 0)
        return rc;
    mvcc__change *e = &t->ev[t->nev++];
    memset(e, 0, sizeof *e);
    e->deleted = deleted;
    e->sub = (int64_t)t->nchanges;
    e->kv = *kv;
    e->kv.key = (const uint8_t *)(uintptr_t)ko;
    e->kv.value = (const uint8_t *)(uintptr_t)vo;
    return 0;
}

/*
 * After a change reached the backend: the index, the hash delta, the
 * event. A failure here leaves the record written without the rest: the
 * transaction is failed (rule: only end is allowed).
 */
static int txn_fail(mvcc_txn *t, int rc)
{
    t->failed = true;
    return rc;
}

int mvcc_txn_put(mvcc_txn *t, const void *key, size_t key_len, const void *value, size_t value_len,
                 int64_t lease, int64_t *rev)
{
    if (!t->write)
        return MVCC_EREADONLY;
    if (t->failed)
        return MVCC_ETXNDONE;
    if (has_null(key, key_len) || has_null(value, value_len))
        return STRATA_EMISUSE;
    if (key_len == 0)
        return MVCC_EEMPTYKEY;
    mvcc_store *s = t->s;
    if (lease != 0) {
        if (s->lessor == NULL)
            return MVCC_ENOLESSOR;
#ifdef MVCC_HAVE_LEASE_GLUE
        int lrc = mvcc__lease_lookup(s, lease);
        if (lrc != 0)
            return lrc;
#endif
    }
    idx_rev r = { t->rev + 1, (int64_t)t->nchanges };
    idx_rev prev = { 0, 0 }, created;
    int64_t ver = 0;
    int rc = idx_tree_get(s->index, key, key_len, r.main, &prev, &created, &ver);
    bool found = rc == 0;
    if (rc != 0 && rc != IDX_NOTFOUND)
        return rc;
    if (!found)
        prev = (idx_rev){ 0, 0 };
    int64_t old_lease = 0;
#ifdef MVCC_HAVE_LEASE_GLUE
    if (found && s->lessor != NULL)
        old_lease = mvcc__lease_get(s, key, key_len);
#endif
    mvcc__kv kv = {
        .key = key,
        .key_len = key_len,
        .create_revision = found ? created.main : r.main,
        .mod_revision = r.main,
        .version = found ? ver + 1 : 1,
        .value = value,
        .value_len = value_len,
        .lease = lease,
    };
    size_t need = mvcc__kv_encoded_size(&kv);
    rc = enc_reserve(t, need);
    if (rc != 0)
        return rc;
    size_t vlen;
    rc = mvcc__kv_encode(&kv, t->enc, t->enc_cap, &vlen);
    if (rc != 0)
        return rc;
    uint8_t rk[MVCC__REVKEY_TOMB_LEN];
    size_t rklen = mvcc__revkey_encode(r, false, rk);
    rc = backend_batch_tx_seq_put(t->btx, key_bucket, (bolt_val){ rk, rklen },
                                  (bolt_val){ t->enc, vlen });
    if (rc != 0)
        return rc; /* rule 1: nothing written */
    rc = idx_tree_put(s->index, key, key_len, r);
    if (rc == 0)
        rc = mvcc__hash_delta_add(&t->hd, rk, rklen, t->enc, vlen, prev);
    if (rc == 0 && !found)
        t->hd.live_change++;
    if (rc == 0)
        rc = event_add(t, false, &kv);
    if (rc != 0)
        return txn_fail(t, rc);
    t->nchanges++;
#ifdef MVCC_HAVE_LEASE_GLUE
    if (old_lease != 0) {
        rc = mvcc__lease_detach(s, old_lease, key, key_len);
        if (rc != 0)
            return txn_fail(t, rc);
    }
    if (lease != 0) {
        rc = mvcc__lease_attach(s, lease, key, key_len);
        if (rc != 0)
            return txn_fail(t, rc);
    }
#else
    (void)old_lease;
#endif
    if (rev != NULL)
        *rev = r.main;
    return 0;
}

/*
 * Deletes one live key whose newest revision is prev: the tombstone
 * record, the index, the hash delta, the event; the change is sub-revision
 * t->nchanges of revision t->rev + 1. A failure after an earlier change of
 * t was written fails t (rule 1: the backend has it, the rest may not).
 */
static int tombstone_record(mvcc_txn *t, const uint8_t *k, size_t klen, idx_rev prev, idx_rev *at);

static int tombstone_one(mvcc_txn *t, const uint8_t *k, size_t klen, idx_rev prev)
{
    idx_rev r;
    int rc = tombstone_record(t, k, klen, prev, &r);
    if (rc != 0)
        return rc;
    rc = idx_tree_tombstone(t->s->index, k, klen, r);
    if (rc != 0)
        return txn_fail(t, rc);
    return 0;
}

/*
 * tombstone_one without the index: the record, the hash delta, the event,
 * the change counted (*at: its revision); the caller tombstones the index
 * (a batch of them at once). A failure after the record was written fails t.
 */
static int tombstone_record(mvcc_txn *t, const uint8_t *k, size_t klen, idx_rev prev, idx_rev *at)
{
    int64_t main = t->rev + 1;
    idx_rev r = { main, (int64_t)t->nchanges };
    mvcc__kv kv = mvcc__kv_tombstone(k, klen);
    size_t vlen = 0;
    int rc = enc_reserve(t, mvcc__kv_encoded_size(&kv));
    if (rc == 0)
        rc = mvcc__kv_encode(&kv, t->enc, t->enc_cap, &vlen);
    if (rc != 0)
        return rc;
    uint8_t rk[MVCC__REVKEY_TOMB_LEN];
    size_t rklen = mvcc__revkey_encode(r, true, rk);
    rc = backend_batch_tx_seq_put(t->btx, key_bucket, (bolt_val){ rk, rklen },
                                  (bolt_val){ t->enc, vlen });
    if (rc != 0) {
        if (t->nchanges > 0 || t->closed > 0)
            t->failed = true; /* earlier changes are written */
        return rc;
    }
    rc = mvcc__hash_delta_add(&t->hd, rk, rklen, t->enc, vlen, prev);
    if (rc == 0) {
        t->hd.live_change--;
        kv.mod_revision = main; /* the DELETE event carries the deleting revision */
        rc = event_add(t, true, &kv);
    }
    if (rc != 0)
        return txn_fail(t, rc);
    t->nchanges++;
    *at = r;
    return 0;
}

int mvcc_txn_delete_range(mvcc_txn *t, const void *key, size_t key_len, const void *end,
                          size_t end_len, int64_t *n, int64_t *rev)
{
    if (!t->write)
        return MVCC_EREADONLY;
    if (t->failed)
        return MVCC_ETXNDONE;
    if (has_null(key, key_len) || has_null(end, end_len))
        return STRATA_EMISUSE;
    if (key == NULL)
        key = "";
    mvcc_store *s = t->s;
    idx_range_result ir = { 0 };
    int rc = idx_tree_range(s->index, key, key_len, end, end_len, txn_cur(t), 0, true, &ir);
    if (rc != 0)
        return rc;
    int64_t main = t->rev + 1;
    /* Loop invariant: keys [0, i) are deleted, each its own sub-revision. */
    for (size_t i = 0; i < ir.count; i++) {
        const uint8_t *k = ir.keys[i].data;
        size_t klen = ir.keys[i].len;
        if ((rc = tombstone_one(t, k, klen, ir.revs[i])) != 0)
            break;
#ifdef MVCC_HAVE_LEASE_GLUE
        if (s->lessor != NULL) {
            int64_t l = mvcc__lease_get(s, k, klen);
            if (l != 0 && (rc = mvcc__lease_detach(s, l, k, klen)) != 0) {
                t->failed = true;
                break;
            }
        }
#endif
    }
    size_t count = ir.count;
    idx_range_result_release(&ir);
    if (rc != 0)
        return rc;
    if (n != NULL)
        *n = (int64_t)count;
    if (rev != NULL)
        *rev = count != 0 || t->nchanges > 0 ? main : t->rev;
    return 0;
}

/*
 * delete_keys of several sorted keys, a chunk of DK_CHUNK keys at a time,
 * each chunk one walk of the index (idx_tree_tombstone_live): for each key
 * alive at the transaction's revision, its tombstone record is written
 * (rule 1: the backend first), then the index tombstones it while its
 * block is still in cache (session 9: a lookup walk and a tombstone walk
 * fetched every block twice, ~40% of a 100,000-key revoke's CPU between
 * them). A record the backend refuses stops the walk; the ones written
 * before it are tombstoned. The walk holds the index's write lock for a
 * chunk (the records included), so a chunk is short: readers of the
 * index wait at most one. The chunk also bounds the key array (dk_keys),
 * which the spare transaction keeps.
 */
#define DK_CHUNK 256

/* delete_sorted takes the backend's buffers in one growth from this many tombstones on. */
#define RESERVE_MIN 1024

/*
 * A hint to the backend before many tombstone records (a revoke of a
 * lease with many keys): their count and bytes if every key is alive (an
 * upper bound: room never written is never touched), so its buffers grow
 * once instead of doubling (each doubling copies into fresh memory, whose
 * page faults were a third of L-revoke-big's time). A failed reserve
 * changes nothing.
 */
static void reserve_tombstones(mvcc_txn *t, const bolt_val *keys, size_t n)
{
    if (n < RESERVE_MIN)
        return;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        mvcc__kv kv = mvcc__kv_tombstone(keys[i].data, keys[i].size);
        bytes += MVCC__REVKEY_TOMB_LEN + mvcc__kv_encoded_size(&kv);
    }
    (void)backend_batch_tx_reserve(t->btx, key_bucket, n, bytes);
}

/* Room for a chunk in dk_keys: 0 or -ENOMEM. */
static int dk_reserve(mvcc_txn *t, size_t n)
{
    void *p = t->dk_keys;
    int rc = strata__grow(&p, &t->dk_cap, n, sizeof *t->dk_keys, 16);
    t->dk_keys = p;
    return rc;
}

/* A chunk's walk: the transaction, its keys, and the record writer's own status. */
typedef struct live_walk {
    mvcc_txn *t;
    const bolt_val *keys;
    int rc; /* tombstone_record's failure (0: none) */
} live_walk;

/* idx_live_fn: keys[i] is alive with revision prev: its tombstone record (rule 1). */
static int live_record(void *arg, size_t i, idx_rev prev, idx_rev *rev)
{
    live_walk *w = arg;
    w->rc = tombstone_record(w->t, w->keys[i].data, w->keys[i].size, prev, rev);
    return w->rc;
}

/* One chunk of delete_sorted; *deleted counts the keys tombstoned. */
static int delete_chunk(mvcc_txn *t, const bolt_val *keys, size_t n, int64_t cur, int64_t *deleted)
{
    for (size_t i = 0; i < n; i++)
        t->dk_keys[i] = (idx_key){ keys[i].data, keys[i].size };
    live_walk w = { t, keys, 0 };
    size_t done = 0;
    int rc = idx_tree_tombstone_live(t->s->index, t->dk_keys, n, cur, live_record, &w, &done);
    *deleted += (int64_t)done;
    if (rc != 0 && w.rc == 0)
        return txn_fail(t, rc); /* the index failed after a record was written */
    return rc;
}

static int delete_sorted(mvcc_txn *t, const bolt_val *keys, size_t n, int64_t cur, int64_t *deleted)
{
    for (size_t i = 0; i < n; i++)
        if (has_null(keys[i].data, keys[i].size))
            return STRATA_EMISUSE;
    int rc = dk_reserve(t, n < DK_CHUNK ? n : DK_CHUNK);
    if (rc != 0)
        return rc;
    reserve_tombstones(t, keys, n);
    int64_t nd = 0;
    /* Loop invariant: the live keys among keys[0, i) are deleted, in order. */
    for (size_t i = 0; i < n && rc == 0; i += DK_CHUNK)
        rc = delete_chunk(t, keys + i, n - i < DK_CHUNK ? n - i : DK_CHUNK, cur, &nd);
    if (deleted != NULL)
        *deleted = nd;
    return rc;
}

int mvcc__txn_delete_keys(mvcc_txn *t, const bolt_val *keys, size_t n, int64_t *deleted)
{
    if (deleted != NULL)
        *deleted = 0;
    if (!t->write)
        return MVCC_EREADONLY;
    if (t->failed)
        return MVCC_ETXNDONE;
    mvcc_store *s = t->s;
    int64_t cur = txn_cur(t);
    if (n > 1)
        return delete_sorted(t, keys, n, cur, deleted);
    int64_t nd = 0;
    /* Loop invariant: the live keys among keys[0, i) are deleted, in order. */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = keys[i].data;
        size_t klen = keys[i].size;
        if (has_null(k, klen))
            return STRATA_EMISUSE;
        idx_rev prev;
        int rc = idx_tree_get(s->index, k, klen, cur, &prev, NULL, NULL);
        if (rc == IDX_NOTFOUND || rc == IDX_EEMPTYKEYINDEX)
            continue; /* not alive at cur: nothing to delete (as a delete_range of it) */
        if (rc != 0)
            return rc; /* a broken keyIndex (nothing of this key written) */
        if ((rc = tombstone_one(t, k, klen, prev)) != 0)
            return rc;
        nd++;
        if (deleted != NULL)
            *deleted = nd;
    }
    return 0;
}

int mvcc__txn_next_rev(mvcc_txn *t)
{
    if (!t->write)
        return MVCC_EREADONLY;
    if (t->failed)
        return MVCC_ETXNDONE;
    if (t->nchanges > 0) {
        t->rev++;
        t->closed++;
        t->nchanges = 0;
    }
    return 0;
}

/* ---- one-change conveniences --------------------------------------------------- */

int mvcc_store_put(mvcc_store *s, const void *key, size_t key_len, const void *value,
                   size_t value_len, int64_t lease, int64_t *rev)
{
    mvcc_txn *t;
    int rc = mvcc_txn_write_begin(s, &t);
    if (rc != 0)
        return rc;
    int64_t r = 0;
    rc = mvcc_txn_put(t, key, key_len, value, value_len, lease, &r);
    int erc = mvcc_txn_end(t, NULL);
    if (rc == 0)
        rc = erc;
    if (rc == 0 && rev != NULL)
        *rev = r;
    return rc;
}

int mvcc_store_delete_range(mvcc_store *s, const void *key, size_t key_len, const void *end,
                            size_t end_len, int64_t *n, int64_t *rev)
{
    mvcc_txn *t;
    int rc = mvcc_txn_write_begin(s, &t);
    if (rc != 0)
        return rc;
    int64_t nn = 0, r = 0;
    rc = mvcc_txn_delete_range(t, key, key_len, end, end_len, &nn, &r);
    int erc = mvcc_txn_end(t, NULL);
    if (rc == 0)
        rc = erc;
    if (rc == 0) {
        if (n != NULL)
            *n = nn;
        if (rev != NULL)
            *rev = r;
    }
    return rc;
}

int mvcc_store_range(mvcc_store *s, const void *key, size_t key_len, const void *end,
                     size_t end_len, const mvcc_range_options *o, mvcc_range_result *out)
{
    /* A read transaction of its own on the stack (no allocation): only a
     * read's fields are used, and it ends here. */
    mvcc_txn t = { .s = s };
    int rc = read_view_begin(s, &t.rev, &t.rtx);
    if (rc != 0) {
        mvcc_range_result_release(out);
        return rc;
    }
    rc = txn_range(&t, (mvcc__span){ key, key_len, end, end_len }, o, true, out);
    backend_read_tx_end(t.rtx);
    return rc;
}
