/*
 * defrag.c: rewrite the db compactly with a bounded pause for writers.
 *
 * Phases (each edge names what drives it):
 *
 *   START  (batch lock, short): start the change log and commit what is
 *          pending (pipelined: the lock is released while bolt writes it
 *          out), then begin a bolt read transaction at txid T
 *     |
 *   COPY   (no lock): everything T sees written bottom-up into path +
 *          ".defrag.tmp" (bolt_tx_compact without transactions: full pages
 *          built in order, large sequential writes, one fsync; rule 7);
 *          writers go on and log each (bucket, key) they change; the copy
 *          is then opened with no_sync for the replays and fsynced once
 *          more (little) in FINAL
 *     |
 *   CATCHUP (no lock, a few rounds): swap the log out under the lock, then
 *          copy the current value (or the absence) of each logged key from
 *          a backend read transaction into the copy
 *     |
 *   FINAL  (batch lock, taken once no commit is in flight and the backend's
 *          write log is replayed): run the commit hooks, replay the rest of the
 *          log from bolt's write transaction (it holds every write), commit
 *          and sync the copy, rename it over the db, switch the backend to
 *          the copy, drop the old write transaction (its writes are in the
 *          copy), publish an empty snapshot; then, outside the lock, sync
 *          the directory
 *
 * Rules:
 *   1. The log is complete: every write made after START goes through the
 *      batch transaction, which logs it while defrag runs (batch_tx.c rule
 *      6), and the log is swapped only under the batch lock, when every
 *      logged change is also written back, so a read transaction begun
 *      after the swap sees it.
 *   2. Replaying a key copies its value as the source sees it now, so a key
 *      changed twice needs one replay, in any order, and a later change is
 *      logged again and replayed in a later round.
 *   3. A bucket created or deleted during the copy is logged as a whole and
 *      replayed only in FINAL (recreated from the write transaction).
 *   4. Crash safety: the copy is a separate file until the rename; it is
 *      synced (bolt commit) before the rename and the directory after, so a
 *      crash leaves the old file or the new one whole, and a leftover copy
 *      is removed by the next backend_open. A failure before the rename
 *      removes the copy and leaves the backend on the old file. The
 *      directory sync runs after the lock is released (it can take tens of
 *      milliseconds); until it is done be->dir_unsynced makes any commit
 *      sync the directory first (in its write-out, outside the batch
 *      lock), so no commit to the new file is reported durable while the
 *      rename itself could still be lost.
 *   5. The longest writer stall reported is the longest time defrag held
 *      the batch lock (START or FINAL).
 *   6. The replaced db is dropped by a thread of its own (the reaper), so
 *      defrag returns once the copy is live and durable: the last close of
 *      a renamed-over file makes the kernel release its page cache, about
 *      100 ms for 330 MiB (etcd pays it inside its defrag). Readers still
 *      on the old db keep it open as before (its reference count). The
 *      reaper is joined by the next defrag (before its copy) and by
 *      backend_close (first thing); reaper/reaper_running are under
 *      batch_mu, taken out there and joined outside the lock. When the
 *      thread cannot be made, the db is dropped here, as before.
 *   7. The copy is built bottom-up by bolt (bulkload.c), not inserted key
 *      by key: at M6's full scale inserting through the tree with a
 *      commit every DEFRAG_BATCH keys was most of the copy's CPU. The
 *      backend's shape is checked on the way: a plain key at the top is
 *      BACKEND_ENOTBUCKET before anything is written, a nested bucket
 *      (more buckets copied than top-level ones) BACKEND_ENESTED after;
 *      each source page is entered once and keys must come in order
 *      (bolt_tx_compact's own checks). With a progress callback the
 *      buckets are first entered to count their pairs ("pages checked"),
 *      then "keys copied" of that count as the copy goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend_int.h"

#define DEFRAG_BATCH     10000
#define DEFRAG_ROUNDS    4
#define DEFRAG_SMALL_LOG 512
#define DEFRAG_FILL      1.0

typedef struct note {
    size_t blen, klen;
    bool whole; /* the bucket itself was created or deleted */
    unsigned char bytes[];
} note;

struct backend__defrag_log {
    note **v;
    size_t n, cap;
    bool failed; /* a note could not be recorded: give up */
    bool whole;  /* some note is a whole-bucket one */
};

void backend__defrag_note(backend__defrag_log *log, bolt_val bucket, const bolt_val *key)
{
    if (log->failed)
        return;
    size_t klen = key != NULL ? key->size : 0;
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 256;
        note **v = strata_realloc(log->v, cap * sizeof *v);
        if (v == NULL) {
            log->failed = true;
            return;
        }
        log->v = v;
        log->cap = cap;
    }
    note *n = strata_malloc(sizeof *n + bucket.size + klen + 1);
    if (n == NULL) {
        log->failed = true;
        return;
    }
    n->blen = bucket.size;
    n->klen = klen;
    n->whole = key == NULL;
    if (bucket.size > 0)
        memcpy(n->bytes, bucket.data, bucket.size);
    if (klen > 0)
        memcpy(n->bytes + bucket.size, key->data, klen);
    log->v[log->n++] = n;
    if (n->whole)
        log->whole = true;
}

static void log_free(backend__defrag_log *log)
{
    if (log == NULL)
        return;
    for (size_t i = 0; i < log->n; i++)
        strata_free(log->v[i]);
    strata_free(log->v);
    strata_free(log);
}

static bolt_val note_bucket(const note *n)
{
    return (bolt_val){ n->bytes, n->blen };
}

static bolt_val note_key(const note *n)
{
    return (bolt_val){ n->bytes + n->blen, n->klen };
}

static int val_cmp(bolt_val a, bolt_val b)
{
    return backend__bytes_cmp((backend__bytes){ a.data, a.size },
                              (backend__bytes){ b.data, b.size });
}

static int note_cmp(const void *a, const void *b)
{
    const note *x = *(note *const *)a, *y = *(note *const *)b;
    int c = val_cmp(note_bucket(x), note_bucket(y));
    if (c != 0)
        return c;
    if (x->whole != y->whole)
        return x->whole ? -1 : 1; /* a bucket's whole note sorts first */
    return val_cmp(note_key(x), note_key(y));
}

/* fsync the file at path (the copy is open with no_sync: bolt never syncs it). */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the copy ------------------------------------------------------------ */

typedef struct dst {
    bolt_db *db;
    bolt_tx *tx;
    bolt_bucket *b; /* the bucket being filled, reopened after each commit */
    bolt_val bname;
    unsigned char *bname_buf;
    uint64_t puts; /* since the last commit */
    bool changed;  /* the open transaction changed something */
    bool sync;     /* sync the copy before the rename (the db's no_sync not set) */
    uint64_t total;
    const backend *be;    /* its progress callback (backend_options.progress) */
    uint64_t pairs_total; /* pairs in the source's buckets (the visited counts) */
} dst;

#define PROGRESS_PAIRS 4096 /* pairs between progress calls */

static void pages_progress(void *arg, uint64_t done, uint64_t total)
{
    const backend *be = arg;
    be->opt.progress(be->opt.progress_arg, "pages checked", done, total);
}

static int dst_begin(dst *d)
{
    d->b = NULL;
    d->puts = 0;
    d->changed = false;
    return bolt_tx_begin(d->db, BOLT_TX_WRITE, &d->tx);
}

static int dst_commit(dst *d)
{
    int rc = bolt_tx_commit(d->tx);
    d->tx = NULL;
    d->b = NULL;
    return rc;
}

/* Make bucket `name` current in the copy, creating it when create is set. */
static int dst_use(dst *d, bolt_val name, bool create)
{
    if (d->b != NULL && val_cmp(d->bname, name) == 0)
        return 0;
    d->b = NULL;
    unsigned char *copy = strata_malloc(name.size ? name.size : 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, name.data, name.size);
    strata_free(d->bname_buf);
    d->bname_buf = copy;
    d->bname = (bolt_val){ copy, name.size };
    int rc = create ? bolt_bucket_create_if_not_exists(bolt_tx_root(d->tx), d->bname, &d->b)
                    : bolt_tx_bucket(d->tx, d->bname, &d->b);
    if (rc != 0) {
        d->b = NULL;
        return rc;
    }
    bolt_bucket_set_fill_percent(d->b, DEFRAG_FILL);
    return 0;
}

/* Commit what is in the copy's transaction and begin the next (outside the lock). */
static int dst_flush(dst *d)
{
    int rc = dst_commit(d);
    return rc == 0 ? dst_begin(d) : rc;
}

/* Commit every DEFRAG_BATCH puts, keeping the current bucket. */
static int dst_maybe_commit(dst *d)
{
    if (d->puts < DEFRAG_BATCH)
        return 0;
    int rc = dst_commit(d);
    if (rc == 0)
        rc = dst_begin(d);
    if (rc == 0)
        rc = dst_use(d, d->bname, false);
    return rc;
}

static int copy_pair(void *arg, bolt_val key, bolt_val value)
{
    dst *d = arg;
    if (value.data == NULL)
        return BACKEND_ENESTED;
    int rc = bolt_bucket_put(d->b, key, value);
    if (rc != 0)
        return rc;
    d->changed = true;
    d->puts++;
    d->total++;
    if (d->total % PROGRESS_PAIRS == 0 && d->be->opt.progress != NULL)
        d->be->opt.progress(d->be->opt.progress_arg, "keys copied", d->total, d->pairs_total);
    return dst_maybe_commit(d);
}

/*
 * Copy bucket `name` of src (a bolt tx) into the copy, whole; its pages are
 * entered into seen first, unless seen is NULL (copy_all entered them).
 */
static int copy_bucket(dst *d, bolt_tx *src, bolt_visited *seen, bolt_val name)
{
    bolt_bucket *sb;
    int rc = bolt_tx_bucket(src, name, &sb);
    if (rc != 0)
        return rc == BOLT_NOTFOUND ? BACKEND_ENOTBUCKET : rc; /* a plain key at the top */
    if (seen != NULL && (rc = bolt_visited_add(seen, sb)) != 0)
        return rc; /* each source page once: a shared subtree is BOLT_ECORRUPT */
    rc = dst_use(d, name, true);
    d->changed = true;
    if (rc == 0)
        rc = bolt_bucket_set_sequence(d->b, bolt_bucket_sequence(sb));
    if (rc == 0)
        rc = bolt_bucket_for_each(sb, copy_pair, d);
    return rc;
}

static void bulk_progress(void *arg, uint64_t keys)
{
    const dst *d = arg;
    d->be->opt.progress(d->be->opt.progress_arg, "keys copied", keys, d->pairs_total);
}

/*
 * Rule 7: the top level holds only buckets (*ntop of them); with a progress
 * callback, every bucket's pages are entered first to count the pairs.
 */
static int check_top(dst *d, bolt_tx *src, uint64_t *ntop)
{
    bolt_visited *seen = NULL;
    bool count = d->be->opt.progress != NULL;
    int rc = count ? bolt_visited_new(src, &seen) : 0;
    if (rc != 0)
        return rc;
    if (count) {
        bolt_visited_set_progress(seen, pages_progress, (void *)d->be);
        rc = bolt_visited_add(seen, bolt_tx_root(src));
    }
    bolt_cursor *c;
    if (rc == 0)
        rc = bolt_cursor_open(bolt_tx_root(src), &c);
    if (rc != 0) {
        bolt_visited_free(seen);
        return rc;
    }
    bolt_val k, v;
    *ntop = 0;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        if (v.data != NULL) {
            rc = BACKEND_ENOTBUCKET; /* a plain key at the top */
            break;
        }
        (*ntop)++;
        if (count) {
            bolt_bucket *sb;
            rc = bolt_tx_bucket(src, k, &sb);
            if (rc == 0)
                rc = bolt_visited_add(seen, sb);
            if (rc != 0)
                break;
        }
    }
    bolt_cursor_close(c);
    if (rc == BOLT_NOTFOUND && count) {
        bolt_visited_counts n;
        bolt_visited_counts_get(seen, &n);
        d->pairs_total = n.pairs;
        d->be->opt.progress(d->be->opt.progress_arg, "pages checked", n.pages, n.pages);
    }
    bolt_visited_free(seen);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

/* COPY (rule 7): what src sees, written bottom-up into tmp and synced. */
static int copy_bulk(dst *d, bolt_tx *src, const char *tmp)
{
    uint64_t ntop = 0;
    int rc = check_top(d, src, &ntop);
    if (rc != 0)
        return rc;
    bolt_compact_options o = { sizeof o, 0, false, 0, NULL, NULL };
    if (d->be->opt.progress != NULL) {
        o.progress = bulk_progress;
        o.progress_arg = d;
    }
    bolt_compact_result res;
    rc = bolt_tx_compact(src, tmp, &o, &res); /* removes tmp when it fails */
    if (rc == 0 && res.buckets > ntop) {
        unlink(tmp);
        rc = BACKEND_ENESTED; /* a bucket inside a top-level bucket */
    }
    if (rc == 0)
        d->total = res.keys;
    return rc;
}

/* ---- replay -------------------------------------------------------------- */

/* Where replay reads the current value of a key. */
typedef struct source {
    backend_read_tx *rtx; /* CATCHUP */
    bolt_tx *wtx;         /* FINAL */
} source;

typedef struct got_val {
    bolt_val v;
    bool found;
} got_val;

static int take_val(void *arg, bolt_val key, bolt_val value)
{
    got_val *g = arg;
    g->v = value;
    g->found = true;
    return 0;
}

/* 0 with *g filled (found or not), or an error. */
static int source_get(const source *s, bolt_val bucket, bolt_val key, got_val *g)
{
    g->found = false;
    if (s->rtx != NULL) {
        int rc = backend_read_tx_range(s->rtx, bucket, key, (bolt_val){ NULL, 0 }, 1, take_val, g);
        return rc == BACKEND_EBUCKETNOTFOUND ? 0 : rc;
    }
    bolt_bucket *b;
    int rc = bolt_tx_bucket(s->wtx, bucket, &b);
    if (rc == BOLT_NOTFOUND)
        return 0;
    if (rc == 0)
        rc = bolt_bucket_get(b, key, &g->v);
    if (rc == BOLT_NOTFOUND)
        return 0;
    g->found = rc == 0;
    return rc;
}

/* Replay notes (sorted here) into the copy; whole-bucket notes need s->wtx. */
static int replay(dst *d, note **v, size_t n, const source *s, uint64_t *replayed)
{
    if (n > 1)
        qsort(v, n, sizeof *v, note_cmp);
    size_t i = 0;
    int rc = 0;
    while (rc == 0 && i < n) {
        const note *x = v[i];
        bolt_val bucket = note_bucket(x);
        if (x->whole) {
            /* Rule 3: the bucket as the write transaction has it, whole. */
            rc = bolt_bucket_delete_bucket(bolt_tx_root(d->tx), bucket);
            d->b = NULL;
            d->changed = true;
            if (rc == BOLT_EBUCKETNOTFOUND)
                rc = 0;
            if (rc == 0) {
                bolt_bucket *sb;
                int r = bolt_tx_bucket(s->wtx, bucket, &sb);
                bolt_visited *seen = NULL;
                if (r == 0)
                    r = bolt_visited_new(s->wtx, &seen);
                if (r == 0)
                    rc = copy_bucket(d, s->wtx, seen, bucket);
                else if (r != BOLT_NOTFOUND)
                    rc = r;
                bolt_visited_free(seen);
            }
            (*replayed)++;
            /* Skip every other note of this bucket: the copy is whole. */
            while (i < n && val_cmp(note_bucket(v[i]), bucket) == 0)
                i++;
            continue;
        }
        bolt_val key = note_key(x);
        got_val g;
        rc = source_get(s, bucket, key, &g);
        if (rc == 0 && g.found) {
            rc = dst_use(d, bucket, true);
            if (rc == 0)
                rc = bolt_bucket_put(d->b, key, g.v);
        } else if (rc == 0) {
            rc = dst_use(d, bucket, false);
            if (rc == BOLT_NOTFOUND) {
                rc = 0; /* no bucket, so no key either */
            } else if (rc == 0) {
                rc = bolt_bucket_delete(d->b, key);
            }
        }
        if (rc == 0) {
            d->changed = true;
            d->puts++;
            (*replayed)++;
            rc = dst_maybe_commit(d);
        }
        /* Rule 2: one replay per distinct key. */
        while (i < n && note_cmp(&v[i], &x) == 0)
            i++;
    }
    return rc;
}

/* ---- the phases ---------------------------------------------------------- */

static void stall_end(backend_defrag_stats *st, uint64_t since)
{
    uint64_t d = wall_ns() - since;
    if (d > st->stall_ns)
        st->stall_ns = d;
}

/* Take the log out under the lock (rule 1). */
static backend__defrag_log *log_swap(backend *be, backend_defrag_stats *st, int *rc)
{
    backend__defrag_log *fresh = strata_calloc(1, sizeof *fresh);
    if (fresh == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    backend__batch_lock(be);
    uint64_t t0 = wall_ns();
    backend__defrag_log *old = be->dlog;
    be->dlog = fresh;
    stall_end(st, t0);
    backend__batch_unlock(be);
    *rc = 0;
    return old;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* ---- the reaper (rule 6) -------------------------------------------------- */

typedef struct reap_job {
    backend *be;
    backend__dbref *ref;
} reap_job;

static void *reap_main(void *arg)
{
    reap_job *j = arg;
    backend__dbref_unref(j->be, j->ref);
    strata_free(j);
    return NULL;
}

/* Take the reaper out under batch_mu (held); the caller joins it unlocked. */
static bool reaper_take(backend *be, pthread_t *t)
{
    bool had = be->reaper_running;
    if (had)
        *t = be->reaper;
    be->reaper_running = false;
    return had;
}

void backend__defrag_reap(backend *be)
{
    pthread_t t;
    backend__batch_lock(be);
    bool had = reaper_take(be, &t);
    backend__batch_unlock(be);
    if (had)
        pthread_join(t, NULL);
}

/* Drop ref (the replaced db) on a reaper thread, or here if none can be made. */
static void reap_later(backend *be, backend__dbref *ref)
{
    reap_job *j = strata_malloc(sizeof *j);
    pthread_t t;
    if (j != NULL) {
        j->be = be;
        j->ref = ref;
    }
    if (j == NULL || pthread_create(&t, NULL, reap_main, j) != 0) {
        strata_free(j);
        backend__dbref_unref(be, ref);
        return;
    }
    pthread_t prev;
    backend__batch_lock(be);
    bool had = reaper_take(be, &prev); /* a reaper of an earlier defrag still listed */
    be->reaper = t;
    be->reaper_running = true;
    backend__batch_unlock(be);
    if (had)
        pthread_join(prev, NULL);
}

/*
 * Switch the backend to the copy (batch_mu held, the rename done); takes
 * ref. *old gets the old db's reference, for the caller to drop after the
 * lock is released (closing a large db unmaps it, which takes a while).
 */
static int switch_to(backend *be, dst *d, backend__dbref *ref, backend__dbref **old_out)
{
    ref->db = d->db;
    ref->refs = 1;
    d->db = NULL;
    bolt_tx_rollback(be->batch.wtx); /* its writes are in the copy */
    be->batch.wtx = NULL;
    __atomic_store_n(&be->batch.pending, 0, __ATOMIC_RELAXED);
    backend__wbuf_reset(be->batch.wbuf);
    be->batch.commit_on_unlock = false;
    pthread_mutex_lock(&be->snap_mu);
    *old_out = be->cur;
    be->cur = ref;
    pthread_mutex_unlock(&be->snap_mu);
    int rc = bolt_tx_begin(ref->db, BOLT_TX_WRITE, &be->batch.wtx);
    if (rc != 0)
        be->err = rc;
    __atomic_add_fetch(&be->commits, 1, __ATOMIC_RELAXED);
    backend__update_sizes(be);
    backend__rbuf *empty;
    if (backend__rbuf_new_in(be->mpool, &empty) == 0)
        backend__publish(be, empty);
    return rc;
}

int backend_defrag(backend *be, backend_defrag_stats *stp)
{
    backend_defrag_stats st = { 0 };
    uint64_t begin = wall_ns();
    dst d = { .be = be };
    bolt_tx *src = NULL;
    backend__dbref *src_ref = NULL;
    char *tmp = backend__path_with(be->path, BACKEND_TMP_SUFFIX);
    backend__defrag_log *log = strata_calloc(1, sizeof *log), *rest = NULL;
    if (tmp == NULL || log == NULL) {
        strata_free(tmp);
        strata_free(log);
        return -ENOMEM;
    }
    st.size_before = file_size(be->path);

    /* START */
    int rc = backend__lock_quiet(be); /* backend.c rule 10: no stall behind a commit in flight */
    uint64_t t0 = wall_ns();
    if (rc == 0)
        rc = be->defragging ? BACKEND_EDEFRAGBUSY : backend__batch_usable(&be->batch);
    if (rc != 0) {
        stall_end(&st, t0);
        backend__batch_unlock(be);
        strata_free(tmp);
        strata_free(log);
        return rc;
    }
    /* Rule 1: every write from here on is logged; the commit covers all before. */
    be->dlog = log;
    log = NULL;
    be->defragging = true;
    pthread_t prev_reaper;
    bool join_reaper = reaper_take(be, &prev_reaper); /* rule 6: the last defrag's */
    uint64_t held = 0;
    rc = backend__commit_pipelined_locked(be, &held); /* releases the lock */
    st.stall_ns = held;
    if (join_reaper)
        pthread_join(prev_reaper, NULL);
    if (rc == 0) {
        pthread_mutex_lock(&be->snap_mu);
        rc = bolt_tx_begin(be->cur->db, 0, &src);
        if (rc == 0) {
            src_ref = be->cur;
            src_ref->refs++;
        }
        pthread_mutex_unlock(&be->snap_mu);
    }
    if (rc != 0) {
        backend__batch_lock(be);
        log = be->dlog;
        be->dlog = NULL;
        be->defragging = false;
        backend__batch_unlock(be);
        strata_free(tmp);
        log_free(log);
        return rc;
    }

    /* COPY */
    rc = backend__failpoint(be, "defrag_before_copy");
    if (rc == 0) {
        unlink(tmp); /* a leftover of a crash (open removes it too) */
        bolt_options o = be->bolt;
        o.initial_mmap_size = 0;
        /* Rule 4: the copy is garbage until renamed; the bulk of it is synced
         * here (rule 7), before the catch-up rounds absorb the writes made
         * meanwhile, outside the lock; what they add is synced in FINAL. */
        d.sync = !o.no_sync;
        o.no_sync = true;
        o.no_grow_sync = true;
        rc = copy_bulk(&d, src, tmp);
        if (rc == 0)
            rc = bolt_open(tmp, &o, &d.db);
    }
    if (rc == 0)
        rc = dst_begin(&d);
    st.keys_copied = d.total;
    bolt_tx_rollback(src);
    src = NULL;
    backend__dbref_unref(be, src_ref);

    /* CATCHUP */
    for (int round = 0; rc == 0 && round < DEFRAG_ROUNDS; round++) {
        backend__defrag_log *cur = log_swap(be, &st, &rc);
        if (rc != 0)
            break;
        if (cur->failed) {
            rc = -ENOMEM;
        } else if (cur->whole) {
            rest = cur; /* rule 3: all of it waits for FINAL */
            cur = NULL;
        } else {
            source s = { 0 };
            rc = backend_read_tx_begin(be, &s.rtx);
            if (rc == 0)
                rc = replay(&d, cur->v, cur->n, &s, &st.keys_replayed);
            backend_read_tx_end(s.rtx);
            if (rc == 0)
                rc = dst_flush(&d);
        }
        bool small = cur != NULL && cur->n < DEFRAG_SMALL_LOG;
        log_free(cur);
        if (rest != NULL || small)
            break;
    }

    /* FINAL */
    int qrc = backend__lock_quiet(be); /* bolt's write transaction holds every write */
    t0 = wall_ns();
    backend__defrag_log *last = be->dlog;
    be->dlog = NULL;
    be->defragging = false;
    if (rc == 0)
        rc = qrc;
    if (rc == 0)
        rc = backend__batch_usable(&be->batch);
    if (rc == 0)
        rc = backend__failpoint(be, "defrag_before_final");
    if (rc == 0 && be->hooks != NULL) {
        be->dlog = last; /* the hooks' writes must reach the copy too */
        rc = backend__run_hooks(be);
        be->dlog = NULL;
        if (backend__writeback(be) != 0)
            be->batch.commit_on_unlock = true;
    }
    if (rc == 0 && (last->failed || (rest != NULL && rest->failed)))
        rc = -ENOMEM;
    source s = { .wtx = be->batch.wtx };
    if (rc == 0 && rest != NULL)
        rc = replay(&d, rest->v, rest->n, &s, &st.keys_replayed);
    if (rc == 0)
        rc = replay(&d, last->v, last->n, &s, &st.keys_replayed);
    if (rc == 0 && d.changed) {
        rc = dst_commit(&d);
        if (rc == 0 && d.sync)
            rc = sync_file(tmp); /* only what CATCHUP and FINAL wrote is unsynced */
    } else if (rc == 0) {
        bolt_tx_rollback(d.tx);
        d.tx = NULL;
        if (d.sync && st.keys_replayed > 0)
            rc = sync_file(tmp); /* the catch-up rounds' commits */
    }
    backend__dbref *newref = NULL, *old_ref = NULL;
    if (rc == 0 && (newref = strata_calloc(1, sizeof *newref)) == NULL)
        rc = -ENOMEM; /* allocated before the rename: nothing may fail after it */
    if (rc == 0)
        rc = backend__failpoint(be, "defrag_before_rename");
    if (rc == 0 && rename(tmp, be->path) != 0)
        rc = -errno;
    bool renamed = rc == 0;
    if (renamed) {
        /* Rule 4: from here the copy is the db, whatever fails next. */
        be->dir_unsynced = true; /* no commit to the copy before the rename is durable */
        rc = switch_to(be, &d, newref, &old_ref);
        newref = NULL;
    }
    stall_end(&st, t0);
    backend__batch_unlock(be);
    if (old_ref != NULL)
        reap_later(be, old_ref); /* rule 6; closed when its last reader ends */
    if (renamed) {
        /* Outside the lock: commits that come first sync the directory themselves. */
        int r = strata_sync_dir_of(be->path);
        int fp = backend__failpoint(be, "defrag_after_rename");
        rc = rc != 0 ? rc : r != 0 ? r : fp;
    }

    strata_free(newref);
    log_free(last);
    log_free(rest);
    if (d.tx != NULL)
        bolt_tx_rollback(d.tx);
    if (d.db != NULL) {
        /* Failed before the rename: the copy goes, the old db stays. */
        bolt_close(d.db);
        unlink(tmp);
    } else if (!renamed) {
        unlink(tmp); /* written but never opened (rule 7) */
    }
    strata_free(d.bname_buf);
    strata_free(tmp);
    st.size_after = file_size(be->path);
    st.total_ns = wall_ns() - begin;
    if (stp != NULL)
        *stp = st;
    return rc;
}
