/*
 * backend.c: opening and closing a backend, its commit, the background
 * commit thread, and the statistics.
 *
 * Rules:
 *   1. The batch transaction's bolt write transaction is long-lived: every
 *      write goes into it, and a commit ends it and begins the next one.
 *   2. The published snapshot plus the bolt state a reader sees is always
 *      the logical state: the snapshot holds every change written back
 *      since the last commit, and committing only makes bolt hold them as
 *      well. So a commit needs no lock against readers while bolt commits
 *      (a reader then gets old or new bolt with the old snapshot, which
 *      read the same); only afterwards is the empty snapshot published,
 *      under snap_mu, and a reader taking the empty snapshot begins its
 *      bolt transaction after the commit, so it sees the new bolt state.
 *   3. A commit is pipelined: its two short ends hold batch_mu, its bolt
 *      commit (rebalance, spill, page write-out, the two fdatasyncs) does
 *      not.
 *      BEGIN (batch_mu, nothing in flight, the log empty): commit hooks,
 *        write-back of the buffer; if nothing is pending, done. Else the
 *        write transaction is taken out of the batch (it is now in
 *        flight), a read transaction `vtx` is begun on the committed state
 *        and `rbuf_new` starts empty.
 *      WRITE (no lock, the committing thread): bolt_tx_commit of the
 *        transaction in flight, then bolt_tx_begin of the next write
 *        transaction (bolt's begin releases the pages earlier commits
 *        freed: up to milliseconds after a commit that deleted much, so
 *        not under the lock); the status is posted under cm_mu.
 *      FINISH (batch_mu, by whichever thread holds it first once WRITE
 *        posted, rule 10): install the next write transaction, publish
 *        rbuf_new (every change since BEGIN), refresh sizes, wake waiters.
 *      A failed bolt commit is sticky (be->err): bolt has rolled back and
 *      may be poisoned, so no more writes are taken; readers then fall back
 *      to what bolt holds (an empty snapshot is published), and the writes
 *      logged meanwhile are lost with the failed batch, as before.
 *      backend__commit (close, defrag, a bucket change, a write-back that
 *      could not allocate) runs the three steps without releasing the lock.
 *   4. The commit thread commits when the batch interval has passed on the
 *      backend's clock since its last interval check, or when unlock
 *      reported the batch limit; it then commits only if something is
 *      pending, and afterwards replays what was logged during the commit
 *      (rule 9). It sleeps on a condition variable (a real-time timeout of
 *      one interval, so a monotonic clock needs no poke); tests drive a
 *      manual clock and call backend_poke, which waits for one full loop.
 *      It runs as SCHED_BATCH (backend.h: commit_thread_preempts): woken,
 *      it never preempts a running thread, such as the writer whose unlock
 *      woke it while that writer still holds its caller's lock.
 *   5. Close: stop and join the thread, commit, end the write transaction,
 *      then close bolt once no reader is left (dbref).
 *   6. Read-only (opt.read_only): bolt is opened read-only and nothing else
 *      is begun: no write transaction (batch.wtx stays NULL, and the batch
 *      functions say BOLT_EDATABASEREADONLY rather than closed), no commit
 *      thread, no removal of a leftover copy. The sizes are read once at
 *      open, since no commit can change them.
 *   7. Commit hooks: a list guarded by batch_mu, run in order by every
 *      commit (rule 3) and by defrag's switch-over. Add and remove take
 *      batch_mu unless the calling thread holds it already, and refuse to
 *      run from inside a hook (the list is being walked). Close frees
 *      them after its last commit.
 *   8. Readers during a commit in flight: the published snapshot holds
 *      every change since the BEGIN of the last finished commit, so with
 *      either bolt state (before or after the commit in flight) it reads
 *      the logical state (rule 2 generalized). Every write-back while a
 *      commit is in flight goes into both the published snapshot and
 *      rbuf_new, so at FINISH rbuf_new holds exactly the changes the new
 *      bolt state lacks.
 *   9. Writes while the batch cannot take them into bolt (in flight, or
 *      the log not yet replayed: "logging") are checked against `vtx`
 *      (bucket present, key not a nested bucket; sizes bolt might refuse
 *      take the slow path of rule 10), appended to the write log and
 *      buffered as usual, so readers see them at unlock. After FINISH the
 *      log is replayed into the new write transaction in order: by the
 *      commit thread, outside the lock (rule 16), and at each unlock for
 *      twice what that section logged once the log has taken batch_limit
 *      entries since it was last empty (batch_tx.c rule 7), so a writer
 *      cannot outrun the replay; under the lock a replay runs a bounded
 *      slice at a time (DRAIN_BUDGET_NS). BEGIN needs the log empty.
 *  10. Settle: a batch function that needs bolt's write transaction itself
 *      (bucket create/delete, the slow path of rule 9, backend__commit)
 *      waits, holding the lock, for the bolt commit in flight, FINISHes it
 *      and replays the whole log. A range in a section that logs reads
 *      `vtx` merged with the holder's view (the published snapshot plus
 *      the section's writes) instead, without waiting.
 *  11. Durability is unchanged: a write is durable once a commit that
 *      BEGAN after the write returned has returned: force_commit waits for
 *      a commit in flight, drains the log and BEGINs its own.
 *  12. Deferred deletes (backend_delete_deferred): keys no reader needs and
 *      no writer writes again are queued under defer_mu, without the batch
 *      lock, and never buffered or logged. BEGIN takes the whole queue; a
 *      commit with only deferred deletes still commits. WRITE deletes them
 *      in the transaction in flight after the batch's writes (every write
 *      made before BEGIN is in it: the log is empty at BEGIN), outside the
 *      lock unless the commit is synchronous. FINISH makes them visible to
 *      new readers (bolt committed, the snapshot of what it lacks
 *      published) and only then moves defer_done to the ticket they cover,
 *      so a waiter that returns knows no new reader sees them. A failed
 *      commit sets defer_err (sticky, with err). A queue of batch_limit
 *      deletes or more asks the commit thread for a commit.
 *  13. Deferred deletes and defrag (defrag.c rule 1: its copy must not
 *      miss a delete it was not told of): FINISH notes each deferred key
 *      it made visible in the defrag's change log (batch_mu held, the
 *      deletes already visible to the read transactions CATCHUP begins
 *      after its next swap), so the copy replays their absence. A caller
 *      that holds the batch lock while a defrag records changes gets
 *      ordinary batch deletes instead of a queue: FINAL replays the
 *      batch's writes into the copy and commits them there, and a queued
 *      delete would only reach the first commit after it, leaving the
 *      locked section's writes and its deletes in two commits.
 *  14. Handed-off WRITE (unlock at twice the limit, batch_tx.c rule 5):
 *      the unlocking thread runs BEGIN under the lock, so the batch is cut
 *      there and the bound on its growth holds, and posts the WRITE in
 *      `handoff` (thr_mu) for the commit thread, instead of writing it out
 *      itself: that thread often holds a caller's lock (the mvcc store's
 *      write lock) that other writers wait on for the whole bolt commit.
 *      Exactly one thread claims a posted WRITE (under thr_mu) and runs
 *      it: the commit thread, or any thread that must wait for the commit
 *      in flight and finds it unclaimed (settle, lock_quiet), so no thread
 *      ever waits for a WRITE nobody will run. A thread about to exit sets
 *      thr_exiting first; nothing is posted after that (the unlocking
 *      thread then writes it out itself), and what it left unclaimed is
 *      claimed by close's settle.
 *  15. Snapshot memory is pooled (mpool.c, tx_buffer.c invariant 7): the
 *      published snapshot and rbuf_new are made in be->mpool, so the large
 *      run arrays and byte chunks a batch's write-backs allocate come from
 *      the blocks the batches before freed, already faulted in, instead of
 *      fresh memory whose first touch faults (a transparent huge page: a
 *      millisecond or more) inside a write-back, under the batch lock and
 *      often a caller's lock (the mvcc store's write lock). At most
 *      MPOOL_MAX_BYTES are kept; the pool is freed when the backend and
 *      the last snapshot made in it are gone.
 *  16. The commit thread replays the log outside batch_mu (drain_log).
 *      Under the lock, with nothing in flight, it swaps the whole log for
 *      an empty spare (log_out holds the taken one; logging stays true,
 *      so every write still goes to the new log, and nothing else touches
 *      batch.wtx: a BEGIN needs logging false, and every function that
 *      needs bolt's write transaction settles, which waits for the replay
 *      first), then applies log_out to batch.wtx without the lock, and
 *      ends it under the lock (out_reap: log_out becomes the spare, a
 *      failure is sticky as a failed drain's), at most DRAIN_OUT_ROUNDS
 *      rounds in a row before it goes on to commit. Entries keep their order:
 *      log_out holds only entries older than every one in the new log.
 *      The commit thread's periodic commit replays this way before its
 *      lock_quiet. Why: during a mass expiry the replays held the lock
 *      about 11% of the time (110 ms a second, in 500 us slices and in the
 *      unlock shares of rule 9), and every writer waited behind them; the
 *      replay needs bolt's write transaction only. Meanwhile an unlock
 *      leaves its rule 9 share to the commit thread, as a waited unlock
 *      does, until the new log reaches its bound (batch_tx.c rule 7).
 *  17. batch_mu is taken spinning first, for at most BATCH_SPIN_NS
 *      (strata__mutex_lock_spin). Rule 16 has the commit thread take the
 *      lock twice per replay round, often while a writer holds it for a
 *      whole section; asleep on it, it made that writer's unlock pay a
 *      futex wake (8-16 us on this VM) at the end of about one batch of
 *      revokes in five during a mass expiry, and every writer waiting on
 *      the store's write lock paid it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sched.h>

#include "backend_int.h"
#include "strdup.h"
#include "sync.h"

#define DRAIN_BUDGET_NS (500u * 1000u)     /* rule 9: the longest replay slice under the lock */
#define BATCH_SPIN_NS   (50u * 1000u)      /* rule 17: batch_mu's spin before a sleep */
#define MPOOL_MAX_BYTES ((size_t)32 << 20) /* rule 15: what the snapshots' pool keeps at most */

void backend_options_init(backend_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->batch_interval_ns = BACKEND_DEFAULT_INTERVAL_NS;
    o->batch_limit = BACKEND_DEFAULT_LIMIT;
    o->bolt = NULL; /* backend_bolt_options_init's */
}

void backend_bolt_options_init(bolt_options *o)
{
    bolt_options_init(o);
    o->no_freelist_sync = true;
    o->freelist_type = BOLT_FREELIST_HASHMAP;
}

uint64_t backend__now(const backend *be)
{
    return be->clock->now_ns(be->clock);
}

char *backend__path_with(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *p = strata_malloc(a + b + 1);
    if (p != NULL) {
        memcpy(p, path, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}

int backend__failpoint(backend *be, const char *name)
{
#if STRATA_FAILPOINTS
    if (be->opt.failpoint != NULL)
        return be->opt.failpoint(be->opt.failpoint_arg, name);
#endif
    return 0;
}

/*
 * The batch lock's holder, as the address of a thread-local byte: unique
 * among live threads, comparable without the lock (batch_tx.c rule 1).
 */
static _Thread_local char batch_self;

void backend__batch_lock(backend *be)
{
    strata__mutex_lock_spin(&be->batch_mu, BATCH_SPIN_NS);
    atomic_store_explicit(&be->batch.holder, &batch_self, memory_order_relaxed);
}

void backend__batch_unlock(backend *be)
{
    atomic_store_explicit(&be->batch.holder, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&be->batch_mu);
}

bool backend__batch_held(const backend_batch_tx *tx)
{
    return atomic_load_explicit(&tx->holder, memory_order_relaxed) == &batch_self;
}

/* Wait on idle_cv, which releases batch_mu meanwhile (the holder is cleared for it). */
static void wait_idle(backend *be)
{
    atomic_store_explicit(&be->batch.holder, NULL, memory_order_relaxed);
    pthread_cond_wait(&be->idle_cv, &be->batch_mu);
    atomic_store_explicit(&be->batch.holder, &batch_self, memory_order_relaxed);
}

void backend__publish(backend *be, backend__rbuf *r)
{
    pthread_mutex_lock(&be->snap_mu);
    backend__rbuf *old = be->rbuf;
    be->rbuf = r;
    backend__views_stale(be); /* read_tx.c rule 4 */
    pthread_mutex_unlock(&be->snap_mu);
    backend__views_drop(be);
    backend__rbuf_unref(old); /* outside the lock: may free a large buffer */
}

int backend__writeback(backend *be)
{
    backend_batch_tx *tx = &be->batch;
    if (backend__wbuf_count(tx->wbuf) == 0)
        return 0;
    /* be->rbuf is only replaced under batch_mu, which we hold: read it freely. */
    backend__rbuf *next = NULL, *r;
    int rc = 0;
    if (be->rbuf_new != NULL)
        rc = backend__rbuf_writeback_keep(be->rbuf_new, tx->wbuf, &next); /* rule 8 */
    if (rc == 0)
        rc = backend__rbuf_writeback(be->rbuf, tx->wbuf, &r);
    if (rc != 0) {
        backend__rbuf_unref(next);
        return rc;
    }
    if (next != NULL) {
        backend__rbuf_unref(be->rbuf_new);
        be->rbuf_new = next;
    }
    backend__publish(be, r);
    return 0;
}

void backend__update_sizes(backend *be)
{
    bolt_tx *wtx = be->batch.wtx;
    if (wtx == NULL)
        return;
    uint64_t size = bolt_tx_size(wtx), nfree = 0;
    uint64_t ps = bolt_db_page_size(be->cur->db);
    if (bolt_tx_free_pages(wtx, &nfree) != 0)
        nfree = 0;
    uint64_t inuse = nfree * ps < size ? size - nfree * ps : 0;
    __atomic_store_n(&be->size, size, __ATOMIC_RELAXED);
    __atomic_store_n(&be->size_in_use, inuse, __ATOMIC_RELAXED);
}

/* ---- the pipelined commit (rules 3, 8-11) ---------------------------------- */

bool backend__logging(const backend *be)
{
    return be->inflight || backend__wlog_count(be->log) > 0 || be->log_out != NULL;
}

bool backend__replaying_out(const backend *be)
{
    return be->log_out != NULL;
}

/* End the logging read transaction and the holder's view on it. batch_mu held. */
static void end_vtx(backend *be)
{
    backend__rbuf_unref(be->batch.view);
    be->batch.view = NULL;
    be->vb = NULL;
    be->vc = NULL; /* freed with vtx */
    be->vb_len = 0;
    be->vlast_state = BACKEND__VLAST_UNKNOWN;
    bolt_tx_rollback(be->vtx);
    be->vtx = NULL;
}

/* Rule 9: the read transaction log-mode writes are checked against (NULL: settle instead). */
static void begin_vtx(backend *be)
{
    if (be->vtx == NULL && bolt_tx_begin(be->cur->db, 0, &be->vtx) != 0)
        be->vtx = NULL;
}

/* Rule 12: tell deferred-delete waiters that their deletes may be lost. */
static void defer_fail(backend *be, int rc)
{
    pthread_mutex_lock(&be->defer_mu);
    if (be->defer_err == 0)
        be->defer_err = rc;
    pthread_cond_broadcast(&be->defer_cv);
    pthread_mutex_unlock(&be->defer_mu);
}

/* A failure of bolt's write transaction: sticky, and readers fall back to bolt (rule 3). */
static void fail_sticky(backend *be, int rc)
{
    be->err = rc;
    defer_fail(be, rc);
    bolt_tx_rollback(be->batch.wtx);
    be->batch.wtx = NULL;
    end_vtx(be);
    backend__wbuf_reset(be->batch.wbuf);
    backend__rbuf *empty;
    if (backend__rbuf_new(&empty) == 0)
        backend__publish(be, empty); /* else the old snapshot stays */
}

/* WRITE's result, for FINISH and for the threads waiting on it (cm_mu). */
static void post(backend *be, uint64_t seq, int rc)
{
    pthread_mutex_lock(&be->cm_mu);
    be->cm_done_seq = seq;
    be->cm_rc = rc;
    pthread_cond_broadcast(&be->cm_cv);
    pthread_mutex_unlock(&be->cm_mu);
}

/*
 * Rule 3's WRITE: the bolt commit of the transaction taken out at BEGIN,
 * with the deferred deletes BEGIN took (rule 12) applied first; after a
 * successful commit, the next write transaction on db is begun here too
 * (next_wtx / next_rc, for FINISH): bolt's begin releases the pages the
 * commits before freed, which can take a millisecond, and only the
 * committing thread begins bolt write transactions on db meanwhile.
 */
static int commit_write(backend *be, bolt_db *db, bolt_tx *ctx, uint64_t seq, bool sync_dir)
{
    int rc = backend__failpoint(be, "commit_write");
    if (rc == 0 && sync_dir)
        rc = strata_sync_dir_of(be->path); /* defrag.c rule 4, outside the lock */
    if (rc == 0 && be->defer_cur_seq != 0)
        rc = backend__wlog_apply_deferred(be->defer_cur, ctx); /* FINISH clears it (rule 13) */
    if (rc != 0)
        bolt_tx_rollback(ctx);
    else
        rc = bolt_tx_commit(ctx);
    be->next_wtx = NULL;
    be->next_rc = rc == 0 ? bolt_tx_begin(db, BOLT_TX_WRITE, &be->next_wtx) : 0;
    post(be, seq, rc); /* publishes next_wtx to FINISH (cm_mu) */
    return rc;
}

/* Rule 3's FINISH; batch_mu held, the WRITE of inflight_seq posted. */
static void finish(backend *be)
{
    pthread_mutex_lock(&be->cm_mu);
    int rc = be->cm_rc;
    pthread_mutex_unlock(&be->cm_mu);
    backend__views_commit(be, false); /* read_tx.c rule 4 */
    be->inflight = false;
    be->inflight_tx = NULL;
    end_vtx(be); /* its pages are released at the next begin but one */
    backend__rbuf *next = be->rbuf_new;
    be->rbuf_new = NULL;
    if (rc == 0) {
        __atomic_add_fetch(&be->commits, 1, __ATOMIC_RELAXED);
        rc = be->next_rc; /* WRITE began it */
        be->batch.wtx = rc == 0 ? be->next_wtx : NULL;
        be->next_wtx = NULL;
    }
    if (rc == 0) {
        backend__update_sizes(be);
        /* Rule 8: exactly what bolt's new state lacks; without it (no memory
         * at BEGIN) the old snapshot, a superset, stays: still correct. */
        if (next != NULL)
            backend__publish(be, next);
        if (backend__wlog_count(be->log) > 0)
            begin_vtx(be);
        if (be->defer_cur_seq != 0) { /* rule 12: visible to new readers from here */
            if (be->dlog != NULL)
                backend__wlog_note_defrag(be->defer_cur, be->dlog); /* rule 13 */
            pthread_mutex_lock(&be->defer_mu);
            if (be->defer_cur_seq > be->defer_done)
                be->defer_done = be->defer_cur_seq;
            pthread_cond_broadcast(&be->defer_cv);
            pthread_mutex_unlock(&be->defer_mu);
        }
    } else {
        backend__rbuf_unref(next);
        /* The log's writes belonged to the batch after the failed one: lost with it. */
        backend__wlog_clear(be->log);
        fail_sticky(be, rc);
    }
    backend__wlog_clear(be->defer_cur); /* applied, or lost with the failed commit */
    be->defer_cur_seq = 0;
    pthread_cond_broadcast(&be->idle_cv);
}

/*
 * After a replay (rule 9's or rule 16's) returned rc: a failure is sticky
 * and takes the log's rest with it (bolt may hold half of the replayed
 * writes); the logging view ends with the log. batch_mu held.
 */
static int replay_ended(backend *be, int rc)
{
    if (rc != 0) {
        backend__wlog_clear(be->log);
        fail_sticky(be, rc);
        return rc;
    }
    if (backend__wlog_count(be->log) == 0)
        end_vtx(be);
    return 0;
}

/*
 * Rule 16: wait for the replay of log_out outside the lock to stop (it
 * needs no lock to finish), then end it: log_out back to the spare, its
 * failure made sticky with the log after it (lost with the batch, as a
 * failed drain's). batch_mu held; 0 when none ran.
 */
static int out_reap(backend *be)
{
    if (be->log_out == NULL)
        return 0;
    pthread_mutex_lock(&be->cm_mu);
    while (be->out_running)
        pthread_cond_wait(&be->cm_cv, &be->cm_mu);
    int rc = be->out_rc;
    pthread_mutex_unlock(&be->cm_mu);
    backend__wlog_clear(be->log_out);
    be->log_spare = be->log_out;
    be->log_out = NULL;
    return replay_ended(be, rc);
}

int backend__drain(backend *be, size_t max, uint64_t budget_ns)
{
    int rc = out_reap(be);
    if (rc != 0)
        return rc;
    if (be->err != 0)
        return BACKEND_EFAILED;
    if (be->batch.wtx == NULL)
        return BACKEND_ECLOSED;
    return replay_ended(be, backend__wlog_replay(be->log, be->batch.wtx, max, budget_ns));
}

/* Rule 14: claim the posted WRITE, if one is still unclaimed; true with *h. */
static bool handoff_claim(backend *be, struct backend__handoff *h)
{
    pthread_mutex_lock(&be->thr_mu);
    *h = be->handoff;
    be->handoff.seq = 0;
    pthread_mutex_unlock(&be->thr_mu);
    return h->seq != 0;
}

/* Rule 14: run a claimed WRITE without batch_mu, then FINISH it unless a settler did. */
static int handoff_run(backend *be, const struct backend__handoff *h)
{
    int rc = commit_write(be, h->db, h->ctx, h->seq, h->sync_dir);
    backend__batch_lock(be);
    if (be->inflight && be->inflight_seq == h->seq)
        finish(be);
    backend__batch_unlock(be);
    return rc;
}

int backend__settle(backend *be)
{
    if (be->inflight) {
        uint64_t seq = be->inflight_seq;
        struct backend__handoff h;
        if (handoff_claim(be, &h)) /* rule 14: its WRITE is this thread's now */
            (void)commit_write(be, h.db, h.ctx, h.seq, h.sync_dir);
        pthread_mutex_lock(&be->cm_mu);
        while (be->cm_done_seq < seq)
            pthread_cond_wait(&be->cm_cv, &be->cm_mu);
        pthread_mutex_unlock(&be->cm_mu);
        finish(be);
    }
    if (be->err != 0)
        return BACKEND_EFAILED;
    return backend__logging(be) ? backend__drain(be, 0, 0) : 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int backend__lock_quiet(backend *be)
{
    backend__batch_lock(be);
    for (;;) {
        if (be->err != 0)
            return BACKEND_EFAILED;
        if (be->inflight) {
            struct backend__handoff h;
            if (handoff_claim(be, &h)) { /* rule 14 */
                backend__batch_unlock(be);
                (void)handoff_run(be, &h); /* a failure is sticky */
                backend__batch_lock(be);
            } else {
                wait_idle(be);
            }
            continue;
        }
        if (!backend__logging(be))
            return 0;
        int rc = backend__drain(be, 0, DRAIN_BUDGET_NS);
        if (rc != 0)
            return rc;
        if (backend__wlog_count(be->log) > 0) {
            backend__batch_unlock(be);
            sched_yield();
            backend__batch_lock(be);
        }
    }
}

/* Rule 12: whether BEGIN would take deferred deletes (the queue is not empty). batch_mu held. */
static bool defer_ready(backend *be)
{
    pthread_mutex_lock(&be->defer_mu);
    bool ready = backend__wlog_count(be->defer_q) > 0;
    pthread_mutex_unlock(&be->defer_mu);
    return ready;
}

/*
 * Rule 12: BEGIN takes the whole queue into defer_cur (empty: the previous
 * commit's WRITE cleared it). batch_mu held, nothing in flight. True when
 * it took something.
 */
static bool defer_take(backend *be)
{
    pthread_mutex_lock(&be->defer_mu);
    bool took = backend__wlog_count(be->defer_q) > 0;
    if (took) {
        backend__wlog *q = be->defer_q;
        be->defer_q = be->defer_cur;
        be->defer_cur = q;
        be->defer_cur_seq = be->defer_seq;
    }
    pthread_mutex_unlock(&be->defer_mu);
    return took;
}

/*
 * Rule 3's BEGIN; batch_mu held, nothing in flight, the log empty. 0 with
 * *started false: nothing to commit (or an error); with *started true the
 * batch's transaction is in flight as inflight_tx, and *sync says the lock
 * must stay held through WRITE (the snapshot could not take the hooks'
 * writes, or a hook changed a bucket, which log-mode checks could not see).
 */
static int commit_begin(backend *be, bool *started, bool *sync)
{
    backend_batch_tx *tx = &be->batch;
    *started = *sync = false;
    if (be->err != 0)
        return BACKEND_EFAILED;
    if (tx->wtx == NULL)
        return BACKEND_ECLOSED;
    int hrc = backend__run_hooks(be);
    if (hrc != 0)
        return hrc;
    /* Rule 2: whatever the hook wrote is in the snapshot before bolt has it. */
    if (backend__writeback(be) != 0) {
        backend__wbuf_reset(tx->wbuf); /* FINISH publishes the committed state anyway */
        *sync = true;
    }
    if (tx->commit_on_unlock)
        *sync = true;
    tx->commit_on_unlock = false;
    bool deferred = defer_take(be); /* rule 12 */
    if (tx->pending == 0 && !deferred)
        return 0;
    /* defrag.c rule 4: the rename must be durable before this commit is (WRITE syncs it). */
    be->inflight_sync_dir = be->dir_unsynced;
    be->dir_unsynced = false;
    if (backend__rbuf_new_in(be->mpool, &be->rbuf_new) != 0)
        be->rbuf_new = NULL; /* FINISH keeps the old snapshot (rule 8) */
    if (!*sync)
        begin_vtx(be); /* sees the committed state; bolt's writer is still ours */
    be->inflight_tx = tx->wtx;
    tx->wtx = NULL;
    __atomic_store_n(&tx->pending, 0, __ATOMIC_RELAXED);
    be->inflight = true;
    /* Atomic: read_tx.c rule 1 reads it without batch_mu (before WRITE commits). */
    __atomic_add_fetch(&be->inflight_seq, 1, __ATOMIC_SEQ_CST);
    backend__views_commit(be, true); /* read_tx.c rule 4: none kept while in flight */
    *started = true;
    return 0;
}

int backend__commit(backend *be)
{
    int rc = backend__settle(be);
    if (rc != 0)
        return rc;
    bool started, sync;
    rc = commit_begin(be, &started, &sync);
    if (!started)
        return rc;
    rc = commit_write(be, be->cur->db, be->inflight_tx, be->inflight_seq, be->inflight_sync_dir);
    finish(be);
    return rc;
}

/* Rule 3 after a BEGIN that started a commit: WRITE and FINISH by this thread; releases the lock.
 */
static int commit_rest(backend *be, bool sync, uint64_t t0, uint64_t *held_ns)
{
    int rc;
    uint64_t seq = be->inflight_seq;
    bolt_tx *ctx = be->inflight_tx;
    bool sync_dir = be->inflight_sync_dir;
    bolt_db *db = be->cur->db; /* defrag switches it only with nothing in flight */
    if (sync) {
        rc = commit_write(be, db, ctx, seq, sync_dir);
        finish(be);
        if (held_ns != NULL)
            *held_ns = mono_ns() - t0;
        backend__batch_unlock(be);
        return rc;
    }
    backend__batch_unlock(be);
    rc = commit_write(be, db, ctx, seq, sync_dir); /* rule 3: no lock held */
    backend__batch_lock(be);
    if (be->inflight && be->inflight_seq == seq)
        finish(be); /* else a thread that settled finished it */
    backend__batch_unlock(be);
    return rc;
}

int backend__commit_pipelined_locked(backend *be, uint64_t *held_ns)
{
    uint64_t t0 = held_ns != NULL ? mono_ns() : 0;
    bool started, sync;
    int rc = commit_begin(be, &started, &sync);
    if (held_ns != NULL)
        *held_ns = mono_ns() - t0; /* BEGIN; FINISH is shorter still */
    if (!started) {
        backend__batch_unlock(be);
        return rc;
    }
    return commit_rest(be, sync, t0, held_ns);
}

int backend__commit_handoff_locked(backend *be)
{
    bool started, sync;
    int rc = commit_begin(be, &started, &sync);
    if (!started) {
        backend__batch_unlock(be);
        return rc;
    }
    if (!sync) { /* rule 14: a synchronous commit keeps the lock through WRITE, here */
        pthread_mutex_lock(&be->thr_mu);
        bool posted = !be->stop && !be->thr_exiting && be->handoff.seq == 0;
        if (posted) {
            be->handoff = (struct backend__handoff){ be->inflight_seq, be->inflight_tx, be->cur->db,
                                                     be->inflight_sync_dir };
            pthread_cond_signal(&be->thr_cv);
        }
        pthread_mutex_unlock(&be->thr_mu);
        if (posted) {
            backend__batch_unlock(be);
            return 0;
        }
    }
    return commit_rest(be, sync, 0, NULL);
}

/*
 * Rule 16: the commit thread replays the log outside batch_mu. Under the
 * lock it ends its previous round (out_reap: nothing to wait for, it ran
 * it) and, with nothing in flight, swaps the whole log out for the empty
 * spare; it then applies log_out to batch.wtx without the lock while
 * writers append to the new log, and loops until it finds the log empty,
 * at most DRAIN_OUT_ROUNDS rounds: writers that kept refilling the log
 * faster than it replays could otherwise keep this thread from ever
 * committing; what is left then goes the way of rule 9 (the unlock shares,
 * and the next BEGIN's lock_quiet).
 */
#define DRAIN_OUT_ROUNDS 64

static void drain_log(backend *be)
{
    for (int round = 0;; round++) {
        backend__batch_lock(be);
        (void)out_reap(be); /* a failure is sticky */
        backend__wlog *out = NULL;
        bolt_tx *wtx = be->batch.wtx;
        /* out_reap left log_out NULL, so log_spare holds the empty log. */
        if (round < DRAIN_OUT_ROUNDS && !be->inflight && be->err == 0 && wtx != NULL &&
            backend__wlog_count(be->log) > 0) {
            out = be->log;
            be->log = be->log_spare;
            be->log_spare = NULL;
            be->log_out = out;
            pthread_mutex_lock(&be->cm_mu);
            be->out_running = true;
            be->out_rc = 0;
            pthread_mutex_unlock(&be->cm_mu);
        }
        backend__batch_unlock(be);
        if (out == NULL)
            return;
        int rc = backend__failpoint(be, "replay_out");
        if (rc == 0)
            rc = backend__wlog_replay(out, wtx, 0, 0);
        pthread_mutex_lock(&be->cm_mu);
        be->out_running = false;
        be->out_rc = rc;
        pthread_cond_broadcast(&be->cm_cv);
        pthread_mutex_unlock(&be->cm_mu);
    }
}

/*
 * A pipelined commit by a thread that does not hold batch_mu
 * (force_commit, the commit thread). only_if_pending: skip the hooks too
 * when nothing is pending (the commit thread's way).
 */
static int commit_pipelined(backend *be, bool only_if_pending)
{
    int rc = backend__lock_quiet(be);
    if (rc != 0) {
        backend__batch_unlock(be);
        return rc;
    }
    if (be->batch.wtx == NULL) {
        backend__batch_unlock(be);
        return BACKEND_ECLOSED;
    }
    if (only_if_pending && be->batch.pending == 0 && !defer_ready(be)) {
        backend__batch_unlock(be);
        return 0;
    }
    return backend__commit_pipelined_locked(be, NULL);
}

int backend__run_hooks(backend *be)
{
    int rc = 0;
    be->in_hooks = true;
    /* Loop invariant: every hook before h returned 0. */
    for (backend_commit_hook *h = be->hooks; h != NULL && rc == 0; h = h->next)
        rc = h->fn(h->arg, &be->batch);
    be->in_hooks = false;
    return rc;
}

/* ---- commit hooks (rule 7) ------------------------------------------------ */

/* Take batch_mu unless this thread holds it already; true if taken. */
static bool hooks_lock(backend *be)
{
    backend_batch_tx *tx = &be->batch;
    if (backend__batch_held(tx))
        return false;
    backend__batch_lock(be);
    return true;
}

int backend_commit_hook_add(backend *be, backend_commit_fn fn, void *arg, backend_commit_hook **out)
{
    *out = NULL;
    if (fn == NULL)
        return STRATA_EMISUSE;
    backend_commit_hook *h = strata_calloc(1, sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    h->fn = fn;
    h->arg = arg;
    bool taken = hooks_lock(be);
    int rc = 0;
    if (be->in_hooks)
        rc = STRATA_EMISUSE;
    else if (be->stopped)
        rc = BACKEND_ECLOSED;
    else {
        backend_commit_hook **pp = &be->hooks;
        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = h;
    }
    if (taken)
        backend__batch_unlock(be);
    if (rc != 0) {
        strata_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int backend_commit_hook_remove(backend *be, backend_commit_hook *hook)
{
    if (hook == NULL)
        return 0;
    bool taken = hooks_lock(be);
    int rc = STRATA_EMISUSE;
    if (be->in_hooks)
        rc = STRATA_EMISUSE;
    else if (be->stopped)
        rc = BACKEND_ECLOSED;
    else {
        for (backend_commit_hook **pp = &be->hooks; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == hook) {
                *pp = hook->next;
                strata_free(hook);
                rc = 0;
                break;
            }
        }
    }
    if (taken)
        backend__batch_unlock(be);
    return rc;
}

static void hooks_free(backend *be)
{
    while (be->hooks != NULL) {
        backend_commit_hook *h = be->hooks;
        be->hooks = h->next;
        strata_free(h);
    }
}

void backend__dbref_unref(backend *be, backend__dbref *ref)
{
    pthread_mutex_lock(&be->snap_mu);
    bool last = --ref->refs == 0;
    pthread_mutex_unlock(&be->snap_mu);
    if (last) {
        bolt_close(ref->db); /* every transaction on it has ended */
        strata_free(ref);
    }
}

/* ---- the commit thread (rule 4) ----------------------------------------- */

static void commit_if_pending(backend *be)
{
    drain_log(be); /* rule 16: what is left, outside the lock, before lock_quiet would */
    (void)commit_pipelined(be, true); /* a failure is sticky in be->err */
    drain_log(be);
}

/*
 * Rule 4: the commit thread as SCHED_BATCH unless commit_thread_preempts
 * (backend.h). Best effort: a refusal leaves the thread as it was; it
 * changes only how the thread is scheduled.
 */
static void commit_thread_sched(const backend *be)
{
#if defined(__linux__) && defined(SCHED_BATCH)
    if (!be->opt.commit_thread_preempts) {
        struct sched_param sp = { .sched_priority = 0 };
        (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    }
#else
    (void)be;
#endif
}

static void *commit_thread(void *arg)
{
    backend *be = arg;
    commit_thread_sched(be);
    pthread_mutex_lock(&be->thr_mu);
    /* Loop invariant: thr_mu is held at the top; done_seq <= req_seq. */
    while (!be->stop) {
        uint64_t seen = be->req_seq;
        bool limit = be->limit_hit;
        __atomic_store_n(&be->limit_hit, false, __ATOMIC_RELAXED);
        uint64_t now = backend__now(be);
        bool due = now - be->last_tick >= be->interval_ns;
        if (due)
            be->last_tick = now;
        uint64_t left = be->interval_ns - (now - be->last_tick);
        struct backend__handoff h = be->handoff; /* rule 14: claimed */
        be->handoff.seq = 0;
        pthread_mutex_unlock(&be->thr_mu);
        if (h.seq != 0) {
            (void)handoff_run(be, &h); /* a failure is sticky in be->err */
            drain_log(be);
        }
        if ((due || limit) && backend__failpoint(be, "commit_thread") == 0)
            commit_if_pending(be);
        pthread_mutex_lock(&be->thr_mu);
        be->done_seq = seen;
        pthread_cond_broadcast(&be->done_cv);
        if (be->req_seq == seen && !be->stop && !be->limit_hit && be->handoff.seq == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (left > 0 ? left : be->interval_ns);
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&be->thr_cv, &be->thr_mu, &ts);
        }
    }
    be->thr_exiting = true; /* rule 14: close's settle claims what is posted */
    be->done_seq = UINT64_MAX;
    pthread_cond_broadcast(&be->done_cv);
    pthread_mutex_unlock(&be->thr_mu);
    return NULL;
}

int backend_poke(backend *be)
{
    pthread_mutex_lock(&be->thr_mu);
    if (!be->thread_running || be->stop) {
        bool idle = be->opt.read_only && !be->stop; /* rule 6: no thread to wait for */
        pthread_mutex_unlock(&be->thr_mu);
        return idle ? 0 : BACKEND_ECLOSED;
    }
    uint64_t mine = ++be->req_seq;
    pthread_cond_signal(&be->thr_cv);
    while (be->done_seq < mine)
        pthread_cond_wait(&be->done_cv, &be->thr_mu);
    pthread_mutex_unlock(&be->thr_mu);
    return 0;
}

void backend__wake_for_limit(backend *be)
{
    /* Set and not yet taken by the commit thread: it will commit anyway. */
    if (__atomic_load_n(&be->limit_hit, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&be->thr_mu);
    __atomic_store_n(&be->limit_hit, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&be->thr_cv);
    pthread_mutex_unlock(&be->thr_mu);
}

static void stop_thread(backend *be)
{
    pthread_mutex_lock(&be->thr_mu);
    bool running = be->thread_running;
    be->stop = true;
    pthread_cond_signal(&be->thr_cv);
    pthread_mutex_unlock(&be->thr_mu);
    if (running)
        pthread_join(be->thread, NULL);
    be->thread_running = false;
}

/* ---- open / close --------------------------------------------------------- */

/*
 * The backend's mutexes and condition variables, all or none: 0, or the
 * -errno of the init that failed (-ENOMEM, -EAGAIN) with nothing left
 * initialised.
 */
static int sync_init(backend *be)
{
    pthread_mutex_t *const mus[] = { &be->batch_mu, &be->snap_mu, &be->thr_mu, &be->cm_mu,
                                     &be->defer_mu };
    int rc = strata__mutexes_init(mus, 5);
    if (rc != 0)
        return rc;
    pthread_cond_t *const cvs[] = { &be->thr_cv, &be->defer_cv, &be->done_cv, &be->idle_cv,
                                    &be->cm_cv };
    size_t ncv = 0;
    /* Only thr_cv and defer_cv wait with a timeout: monotonic. */
    while (rc == 0 && ncv < 5) {
        rc = strata__cond_init(cvs[ncv], ncv < 2);
        if (rc == 0)
            ncv++;
    }
    if (rc != 0) {
        while (ncv > 0)
            pthread_cond_destroy(cvs[--ncv]);
        for (size_t i = 5; i > 0; i--)
            pthread_mutex_destroy(mus[i - 1]);
    }
    return rc;
}

static void be_free(backend *be)
{
    backend__rbuf_unref(be->rbuf);
    backend__rbuf_unref(be->rbuf_new);
    backend__rbuf_unref(be->batch.view);
    backend__wbuf_free(be->batch.wbuf);
    backend__wlog_free(be->log);
    backend__wlog_free(be->log_out);
    backend__wlog_free(be->log_spare);
    backend__wlog_free(be->defer_q);
    backend__wlog_free(be->defer_cur);
    backend__mpool_unref(be->mpool); /* the snapshots still out keep it (mpool.c rule 3) */
    pthread_mutex_destroy(&be->batch_mu);
    pthread_mutex_destroy(&be->defer_mu);
    pthread_cond_destroy(&be->defer_cv);
    pthread_mutex_destroy(&be->snap_mu);
    pthread_mutex_destroy(&be->thr_mu);
    pthread_mutex_destroy(&be->cm_mu);
    pthread_cond_destroy(&be->thr_cv);
    pthread_cond_destroy(&be->done_cv);
    pthread_cond_destroy(&be->idle_cv);
    pthread_cond_destroy(&be->cm_cv);
    strata_free(be->path);
    strata_free(be);
}

/* Rule 6: a read-only backend's sizes, from one read transaction. */
static int read_only_sizes(backend *be)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(be->cur->db, 0, &tx);
    if (rc != 0)
        return rc;
    uint64_t size = bolt_tx_size(tx);
    bolt_tx_rollback(tx);
    __atomic_store_n(&be->size, size, __ATOMIC_RELAXED);
    __atomic_store_n(&be->size_in_use, size, __ATOMIC_RELAXED);
    return 0;
}

int backend_open(const char *path, const backend_options *opt, backend **out)
{
    *out = NULL;
    if (path == NULL)
        return STRATA_EMISUSE;
    backend *be = strata_calloc(1, sizeof *be);
    if (be == NULL)
        return -ENOMEM;
    backend_options_init(&be->opt);
    if (opt != NULL) {
        size_t n = opt->size == 0 || opt->size > sizeof *opt ? sizeof *opt : opt->size;
        memcpy(&be->opt, opt, n);
        be->opt.size = sizeof be->opt;
    }
    be->interval_ns =
            be->opt.batch_interval_ns ? be->opt.batch_interval_ns : BACKEND_DEFAULT_INTERVAL_NS;
    be->limit = be->opt.batch_limit ? be->opt.batch_limit : BACKEND_DEFAULT_LIMIT;
    be->clock = be->opt.clock != NULL ? be->opt.clock : strata_clock_monotonic();
    /* bolt's options: copied under their own size rule (bolt_open's). */
    backend_bolt_options_init(&be->bolt);
    if (be->opt.bolt != NULL) {
        const bolt_options *b = be->opt.bolt;
        size_t n = b->size == 0 || b->size > sizeof *b ? sizeof *b : b->size;
        memcpy(&be->bolt, b, n);
        be->bolt.size = sizeof be->bolt;
    }
    be->opt.bolt = NULL; /* the caller's copy may end with this call: be->bolt from here */
    if (be->opt.mmap_reserve != 0)
        be->bolt.mmap_reserve = be->opt.mmap_reserve;
    if (be->opt.read_only)
        be->bolt.read_only = true;
    int rc = sync_init(be);
    if (rc != 0) {
        strata_free(be);
        return rc;
    }
    be->batch.be = be;
    rc = -ENOMEM;
    be->path = strata__strdup(path);
    be->cur = strata_calloc(1, sizeof *be->cur);
    if (be->path == NULL || be->cur == NULL || backend__wbuf_new(&be->batch.wbuf) != 0 ||
        backend__mpool_new(MPOOL_MAX_BYTES, &be->mpool) != 0 ||
        backend__rbuf_new_in(be->mpool, &be->rbuf) != 0 || backend__wlog_new(&be->log) != 0 ||
        backend__wlog_new(&be->log_spare) != 0 || backend__wlog_new(&be->defer_q) != 0 ||
        backend__wlog_new(&be->defer_cur) != 0)
        goto fail;
    rc = bolt_open(path, &be->bolt, &be->cur->db);
    if (rc != 0)
        goto fail;
    be->cur->refs = 1;
    if (be->opt.read_only) {
        rc = read_only_sizes(be); /* rule 6 */
        if (rc != 0)
            goto fail;
        *out = be;
        return 0;
    }
    /* We hold the file's lock now: a copy a crashed defrag left is garbage. */
    char *tmp = backend__path_with(path, BACKEND_TMP_SUFFIX);
    if (tmp == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (unlink(tmp) == 0)
        (void)strata_sync_dir_of(path);
    strata_free(tmp);
    rc = bolt_tx_begin(be->cur->db, BOLT_TX_WRITE, &be->batch.wtx);
    if (rc != 0)
        goto fail;
    backend__update_sizes(be);
    be->last_tick = backend__now(be);
    rc = -pthread_create(&be->thread, NULL, commit_thread, be);
    if (rc != 0)
        goto fail;
    be->thread_running = true;
    *out = be;
    return 0;
fail:
    bolt_tx_rollback(be->batch.wtx);
    if (be->cur != NULL)
        bolt_close(be->cur->db);
    strata_free(be->cur);
    be_free(be);
    return rc;
}

int backend_close(backend *be)
{
    if (be == NULL)
        return 0;
    int rc = 0;
    backend__defrag_reap(be); /* defrag.c rule 6 */
    if (!be->stopped) {
        stop_thread(be);
        backend__batch_lock(be);
        if (be->err != 0)
            rc = BACKEND_EFAILED; /* what was pending is lost: say so */
        else if (be->batch.wtx != NULL || be->inflight)
            rc = backend__commit(be);    /* settles first (rule 10) */
        bolt_tx_rollback(be->batch.wtx); /* the next one a commit began */
        be->batch.wtx = NULL;
        end_vtx(be);
        hooks_free(be);
        be->stopped = true; /* under batch_mu: hook add/remove read it there */
        backend__batch_unlock(be);
        pthread_mutex_lock(&be->defer_mu);
        be->defer_closed = true; /* rule 12: what the last commit did not take is dropped */
        pthread_cond_broadcast(&be->defer_cv);
        pthread_mutex_unlock(&be->defer_mu);
        pthread_mutex_lock(&be->snap_mu);
        be->closed = true;
        backend__views_stale(be); /* read_tx.c rule 4 */
        backend__dbref *cur = be->cur;
        be->cur = NULL;
        pthread_mutex_unlock(&be->snap_mu);
        backend__views_drop(be);
        be->stopped = true;
        if (cur != NULL)
            backend__dbref_unref(be, cur);
    }
    if (__atomic_load_n(&be->nreaders, __ATOMIC_ACQUIRE) != 0)
        return BOLT_ETXACTIVE;
    be_free(be);
    return rc;
}

int backend_force_commit(backend *be)
{
    if (be->opt.read_only) {
        /* Rule 6: nothing is ever pending. */
        pthread_mutex_lock(&be->snap_mu);
        bool closed = be->closed;
        pthread_mutex_unlock(&be->snap_mu);
        return closed ? BACKEND_ECLOSED : 0;
    }
    return commit_pipelined(be, false); /* rule 11 */
}

uint64_t backend_size(backend *be)
{
    return __atomic_load_n(&be->size, __ATOMIC_RELAXED);
}

uint64_t backend_size_in_use(backend *be)
{
    return __atomic_load_n(&be->size_in_use, __ATOMIC_RELAXED);
}

uint64_t backend_commits(backend *be)
{
    return __atomic_load_n(&be->commits, __ATOMIC_RELAXED);
}

size_t backend_read_tx_open(backend *be)
{
    size_t n = __atomic_load_n(&be->nreaders, __ATOMIC_RELAXED);
    size_t kept = backend__views_kept(be); /* read_tx.c rule 4 */
    return n > kept ? n - kept : 0;
}

uint64_t backend_pending(backend *be)
{
    return __atomic_load_n(&be->batch.pending, __ATOMIC_RELAXED);
}

const char *backend_path(const backend *be)
{
    return be->path;
}

/* ---- deferred deletes (rule 12) ------------------------------------------ */

/*
 * Rule 13: a locked section's deletes while a defrag records changes, as
 * ordinary batch deletes (same commit as its writes, in the copy too). A
 * missing bucket or a nested bucket's name deletes nothing, as queued.
 * Every key is checked before the first delete, so only a failure of the
 * batch (made sticky by it) leaves part of the call done.
 */
static int delete_in_batch(backend *be, bolt_val bucket, const bolt_val *keys, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = backend_batch_tx_delete(&be->batch, bucket, keys[i]);
        if (rc == BACKEND_EBUCKETNOTFOUND || rc == BOLT_EINCOMPATIBLEVALUE)
            rc = 0;
    }
    return rc;
}

int backend_delete_deferred(backend *be, bolt_val bucket, const bolt_val *keys, size_t n,
                            uint64_t *ticket)
{
    if (ticket != NULL)
        *ticket = 0;
    if (keys == NULL && n > 0)
        return STRATA_EMISUSE;
    if (be->opt.read_only)
        return BOLT_EDATABASEREADONLY;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].size == 0)
            return BOLT_EKEYREQUIRED;
        if (keys[i].size > BACKEND__MAX_KEY)
            return BOLT_EKEYTOOLARGE;
    }
    if (backend__batch_held(&be->batch) && be->dlog != NULL) {
        int brc = delete_in_batch(be, bucket, keys, n); /* rule 13 */
        if (brc == 0 && ticket != NULL) {
            pthread_mutex_lock(&be->defer_mu); /* covers what others queued before */
            *ticket = be->defer_seq;
            pthread_mutex_unlock(&be->defer_mu);
        }
        return brc;
    }
    pthread_mutex_lock(&be->defer_mu);
    int rc = be->defer_closed ? BACKEND_ECLOSED : be->defer_err != 0 ? BACKEND_EFAILED : 0;
    size_t before = backend__wlog_count(be->defer_q);
    size_t i = 0;
    for (; i < n && rc == 0; i++)
        rc = backend__wlog_append(be->defer_q, BACKEND__LOG_DELETE, bucket, keys[i],
                                  (bolt_val){ NULL, 0 });
    if (rc != 0 && i > 0)
        backend__wlog_truncate(be->defer_q, before); /* nothing of this call stays */
    if (rc == 0 && n > 0)
        be->defer_seq++;
    if (rc == 0 && ticket != NULL)
        *ticket = be->defer_seq;
    size_t after = backend__wlog_count(be->defer_q);
    pthread_mutex_unlock(&be->defer_mu);
    if (rc == 0 && before < be->limit && after >= be->limit)
        backend__wake_for_limit(be);
    return rc;
}

int backend_deferred_wait(backend *be, uint64_t ticket)
{
    if (be->opt.read_only)
        return BOLT_EDATABASEREADONLY;
    if (backend__batch_held(&be->batch))
        return STRATA_EMISUSE; /* the commit needs the lock */
    pthread_mutex_lock(&be->defer_mu);
    int rc = ticket > be->defer_seq ? STRATA_EMISUSE : 0;
    /*
     * Loop invariant: defer_mu held. Each round asks the commit thread for a
     * commit and waits at most one batch interval: a commit that could not
     * take the queue (a defrag ran) is followed by another.
     */
    while (rc == 0 && be->defer_done < ticket && be->defer_err == 0 && !be->defer_closed) {
        pthread_mutex_unlock(&be->defer_mu);
        backend__wake_for_limit(be);
        pthread_mutex_lock(&be->defer_mu);
        if (be->defer_done >= ticket || be->defer_err != 0 || be->defer_closed)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + be->interval_ns;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&be->defer_cv, &be->defer_mu, &ts);
    }
    if (rc == 0 && be->defer_done < ticket)
        rc = be->defer_err != 0 ? BACKEND_EFAILED : BACKEND_ECLOSED;
    pthread_mutex_unlock(&be->defer_mu);
    return rc;
}

size_t backend_deferred_queued(backend *be)
{
    pthread_mutex_lock(&be->defer_mu);
    size_t n = backend__wlog_count(be->defer_q);
    pthread_mutex_unlock(&be->defer_mu);
    return n;
}
