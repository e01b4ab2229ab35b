/*
 * restore.c: rebuild the store from its backend on open (etcd 3.4.23
 * kvstore.go restore, docs/schema.md §7), with every core.
 *
 * Pipeline: one scanner reads the `key` bucket once, in key (= revision)
 * order, through a backend read transaction (zero copy: the records stay
 * in the map while the transaction is open), validates every record, and
 * fills chunks of RESTORE_CHUNK entries. Each chunk is split by a hash of
 * the record's key into one partition per worker; the workers build the
 * keyIndexes of their keys in parallel, each in a hash map of its own
 * (a key always lands in the same partition, and each partition is
 * processed in revision order, so every keyIndex sees its revisions in
 * order). At the end the keyIndexes of all partitions go into the tree in
 * one bulk insert.
 *
 * Rules:
 *   1. Every record is checked before it is used, and a bad one fails the
 *      open with an error naming it (its revision, or the raw key bytes
 *      when they do not decode): a revision key not in §3.1's form, a
 *      value that is not a KeyValue, a KeyValue breaking §3.2/§3.3 (mod
 *      revision not the key's, ...), a revision not above the previous
 *      one (two records of one revision), and a key whose records
 *      contradict its generations: a put continuing a generation with
 *      another create revision or a version that is not the next, a put
 *      starting one with create != its revision or version != 1, a
 *      tombstone of a key already deleted. etcd panics or silently
 *      builds a wrong index on these.
 *   2. As etcd: a tombstone of a key not seen yet is skipped (a compaction
 *      interrupted after deleting the key's earlier records), and the
 *      first put of a key not seen yet restores it from the stored create
 *      revision and version (that is how a compaction's survivor comes
 *      back).
 *   3. Revisions: current = the largest main in the bucket (1 if none), at
 *      least the finished compaction's, and - etcd issue 17780 fixed - at
 *      least an unfinished scheduled compaction's: a compaction is only
 *      accepted at or below the current revision, and its deletion may
 *      already have removed the newest records.
 *   4. The hash state (hash.c) is rebuilt on the way: T over the records
 *      above the finished compaction, the kept list below it. Records
 *      below it that are not one live put per key (which a finished
 *      compaction guarantees) turn the incremental hash off until the
 *      next compaction rebuilds it.
 *   5. The scan reads each page of the key bucket once: the bucket's
 *      pages are entered into a bolt_visited set first (enter_key_bucket),
 *      so a file whose tree reaches a page twice is BOLT_ECORRUPT naming
 *      the page (the order check of rule 1 would stop the scan too, but
 *      naming a revision, not the damage) - unless bolt's open already
 *      walked the tree this transaction sees with the same checks
 *      (bolt_tx_tree_walked: a read-write open rebuilding or checking its
 *      freelist), which a restore on open is: one walk of every page less.
 *   6. The workers prefetch a few records ahead (work_chunk): hints that
 *      change no result.
 *   7. Two chunks: the scanner fills one while the workers build the
 *      other (the records stay in the map while the read transaction is
 *      open). The workers touch nothing the scanner writes: the kept-list
 *      entries a later record replaces are noted per worker and marked
 *      after the scan; a chunk is partitioned only once the workers are
 *      done with the previous one. A failure of either side waits for the
 *      workers, and a worker's error (an earlier record) wins.
 *   8. The gather is parallel too: after the last chunk each worker lists
 *      its keyIndexes, counts the live ones and sorts its list by key (a
 *      final job, GATHER); this thread merges the sorted lists and hands
 *      the tree one insert in key order, so every descent of the bulk
 *      insert follows the path the previous key warmed (in hash order
 *      each was a chain of cache misses: half of this thread's time).
 *      Lease attachments stay on this thread (the lessor is not the
 *      workers'), from each worker's list of live keys with a lease.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvcc_int.h"
#include "sync.h"

#define RESTORE_CHUNK 65536

typedef struct rentry {
    idx_rev rev;
    bool tomb;
    const uint8_t *key;
    size_t key_len;
    int64_t create, version, lease;
    uint64_t hash;
    int64_t kept; /* index in the kept list, or -1 */
} rentry;

/*
 * Rule 8: a keyIndex and its key, for the sort. hi and lo are the 16 key
 * bytes after the worker's common prefix, big-endian and zero-padded: in
 * the order of the keys unless equal, so most comparisons read no key.
 */
typedef struct skey {
    uint64_t hi, lo;
    const uint8_t *key;
    size_t len;
    idx_key_index *ki;
} skey;

/* A worker's map slot: one key. */
typedef struct rslot {
    idx_key_index *ki; /* NULL: empty slot */
    uint64_t hash;
    int64_t kept;  /* its record in the kept list while that is its newest, else -1 */
    int64_t lease; /* etcd's restore map: the lease of its newest put, 0 after a tombstone */
} rslot;

typedef struct rworker {
    struct rctx *ctx;
    unsigned id;
    pthread_t thread;
    rslot *slots;
    size_t cap, count;
    uint32_t *part; /* this chunk's entries for this worker */
    size_t npart, part_cap;
    int64_t *rm; /* kept-list entries a later record of the key replaced */
    size_t nrm, rm_cap;
    /* rule 8, the gather: its keyIndexes sorted by key, the live count,
     * the live keys with a lease (slot indexes) */
    struct skey *sorted;
    size_t nsorted;
    int64_t live;
    size_t *leased;
    size_t nleased;
    int rc;
    char why[256];
    bool kept_bad;
} rworker;

typedef struct rctx {
    mvcc_store *s;
    unsigned nworkers;
    rworker *w;
    /* the scanner */
    rentry *chunk;     /* the chunk it fills */
    rentry *spare;     /* the other one (rule 7) */
    const rentry *cur; /* the chunk the workers build (under mu) */
    size_t n;
    bool have_prev;
    idx_rev prev;
    int64_t max_main;
    int64_t base; /* the finished compaction, -1 */
    uint32_t tail_crc;
    uint64_t tail_len;
    mvcc__hash_kept *kept;
    bool *removed;
    size_t nkept, kept_cap;
    int rc;
    /* the pool */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;  /* chunks handed out */
    unsigned busy; /* workers still on this chunk */
    bool gather;   /* the job handed out is rule 8's gather, not a chunk */
    bool quit;
    bool threads; /* workers are running */
    bool decided; /* the partitions are fixed */
    unsigned started;
} rctx;

static void fmt_rev(char *buf, size_t n, idx_rev r, bool tomb)
{
    snprintf(buf, n, "%016" PRIx64 "_%016" PRIx64 "%s", (uint64_t)r.main, (uint64_t)r.sub,
             tomb ? "t" : "");
}

/* ---- a worker's map -------------------------------------------------------- */

static bool slot_key_eq(const rslot *sl, const uint8_t *key, size_t len)
{
    size_t kl;
    const uint8_t *k = idx_key_index_key(sl->ki, &kl);
    return kl == len && memcmp(k, key, len) == 0;
}

static rslot *map_find(rworker *w, const uint8_t *key, size_t len, uint64_t h)
{
    if (w->cap == 0)
        return NULL;
    size_t mask = w->cap - 1;
    /* Loop invariant: the key is not in any slot probed so far. */
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        rslot *sl = &w->slots[i];
        if (sl->ki == NULL)
            return NULL;
        if (sl->hash == h && slot_key_eq(sl, key, len))
            return sl;
    }
}

static int map_grow(rworker *w)
{
    size_t ncap = w->cap ? w->cap * 2 : 1024;
    rslot *ns = strata_calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < w->cap; i++) {
        rslot *sl = &w->slots[i];
        if (sl->ki == NULL)
            continue;
        size_t j = (size_t)sl->hash & (ncap - 1);
        while (ns[j].ki != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = *sl;
    }
    strata_free(w->slots);
    w->slots = ns;
    w->cap = ncap;
    return 0;
}

static rslot *map_insert(rworker *w, uint64_t h)
{
    if ((w->count + 1) * 4 > w->cap * 3 && map_grow(w) != 0)
        return NULL;
    size_t mask = w->cap - 1;
    size_t i = (size_t)h & mask;
    while (w->slots[i].ki != NULL)
        i = (i + 1) & mask;
    w->count++;
    return &w->slots[i];
}

static int wfail(rworker *w, int rc, const rentry *e, const char *what)
{
    char r[64];
    fmt_rev(r, sizeof r, e->rev, e->tomb);
    snprintf(w->why, sizeof w->why, "key bucket record %s: %s", r, what);
    w->rc = rc;
    return rc;
}

/* Rules 1, 2 and 4 for one record, in its key's partition. */
static int apply(rworker *w, const rentry *e)
{
    rctx *c = w->ctx;
    rslot *sl = map_find(w, e->key, e->key_len, e->hash);
    if (sl == NULL) {
        if (e->tomb) {
            if (e->rev.main <= c->base)
                w->kept_bad = true;
            return 0; /* rule 2 */
        }
        idx_key_index *ki;
        int rc = idx_key_index_new(e->key, e->key_len, &ki);
        if (rc == 0)
            rc = idx_key_index_restore(ki, (idx_rev){ e->create, 0 }, e->rev, e->version);
        if (rc != 0) {
            idx_key_index_free(ki);
            return wfail(w, rc, e, "cannot restore its key");
        }
        sl = map_insert(w, e->hash);
        if (sl == NULL) {
            idx_key_index_free(ki);
            return wfail(w, -ENOMEM, e, "out of memory");
        }
        sl->ki = ki;
        sl->hash = e->hash;
        sl->kept = e->kept;
        sl->lease = e->lease;
        return 0;
    }
    if (e->rev.main <= c->base)
        w->kept_bad = true; /* two records of one key below the compaction */
    int rc;
    if (e->tomb) {
        rc = idx_key_index_tombstone(sl->ki, e->rev);
        if (rc == IDX_NOTFOUND)
            return wfail(w, MVCC_EGENERATION, e, "tombstone of a key that is already deleted");
        sl->lease = 0;
    } else {
        idx_rev created;
        int64_t ver;
        rc = idx_key_index_get(sl->ki, e->rev.main, NULL, &created, &ver);
        if (rc == 0 && (e->create != created.main || e->version != ver + 1)) {
            char m[160];
            snprintf(m, sizeof m,
                     "put with create %" PRId64 " version %" PRId64
                     " continues a generation created at %" PRId64 " at version %" PRId64,
                     e->create, e->version, created.main, ver);
            return wfail(w, MVCC_EGENERATION, e, m);
        }
        if (rc == IDX_NOTFOUND && (e->create != e->rev.main || e->version != 1)) {
            char m[160];
            snprintf(m, sizeof m,
                     "put starting a generation has create %" PRId64 " version %" PRId64
                     " (want its own revision and 1)",
                     e->create, e->version);
            return wfail(w, MVCC_EGENERATION, e, m);
        }
        rc = idx_key_index_put(sl->ki, e->rev);
        sl->lease = e->lease;
    }
    if (rc != 0)
        return wfail(w, rc, e, "its key's index refused it");
    if (sl->kept >= 0) {
        /* rule 7: noted here, marked in c->removed after the scan (the
         * scanner may be growing that array right now) */
        if (w->nrm == w->rm_cap) {
            size_t cap = w->rm_cap ? w->rm_cap * 2 : 256;
            int64_t *r = strata_realloc(w->rm, cap * sizeof *r);
            if (r == NULL)
                return wfail(w, -ENOMEM, e, "out of memory");
            w->rm = r;
            w->rm_cap = cap;
        }
        w->rm[w->nrm++] = sl->kept;
        sl->kept = -1;
    }
    return 0;
}

/*
 * Look-ahead distances (entries of the partition) of work_chunk's three
 * prefetch stages: the map slot, then the keyIndex the slot names, then
 * its storage. Each stage needs the line the previous one brought in.
 */
#define PF_SLOT 15
#define PF_KI   10
#define PF_BLK  5

static void work_chunk(rworker *w)
{
    const rentry *ch = w->ctx->cur;
    const uint32_t *part = w->part;
    size_t n = w->npart;
    /*
     * Rule 6: the map probe of a record is three dependent cache misses
     * (slot, keyIndex, its storage) on a map far larger than the cache;
     * prefetching them a few records ahead overlaps them. Hints only: a
     * slot read here may change (an insert, a grow) before its record is
     * applied, which costs a wasted prefetch, never a wrong result.
     */
    for (size_t i = 0; i < n && w->rc == 0; i++) {
        if (w->cap != 0) {
            size_t mask = w->cap - 1;
            if (i + PF_SLOT < n)
                __builtin_prefetch(&w->slots[ch[part[i + PF_SLOT]].hash & mask]);
            if (i + PF_KI < n) {
                const rentry *e = &ch[part[i + PF_KI]];
                const rslot *sl = &w->slots[e->hash & mask];
                if (sl->ki != NULL)
                    __builtin_prefetch(sl->ki);
                __builtin_prefetch(e->key);
            }
            if (i + PF_BLK < n) {
                const rslot *sl = &w->slots[ch[part[i + PF_BLK]].hash & mask];
                if (sl->ki != NULL)
                    idx_key_index_prefetch(sl->ki);
            }
        }
        (void)apply(w, &ch[part[i]]);
    }
}

/* The keys' order. */
static int skey_cmp_keys(const skey *x, const skey *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The keys' order too, for keys of one worker (one common prefix). */
static int skey_cmp(const void *a, const void *b)
{
    const skey *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return skey_cmp_keys(x, y);
}

/* Bytes [from, from + 8) of a key, big-endian, zero-padded. */
static uint64_t key_word(const uint8_t *k, size_t len, size_t from)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (from + i < len ? k[from + i] : 0);
    return v;
}

/*
 * Rule 8's job for one worker: its keyIndexes sorted by key, the live
 * ones counted, the live ones with a lease noted. Its map is not changed.
 */
static void gather(rworker *w)
{
    w->sorted = strata_malloc((w->count ? w->count : 1) * sizeof *w->sorted);
    if (w->sorted == NULL) {
        w->rc = -ENOMEM;
        snprintf(w->why, sizeof w->why, "gathering the index: out of memory");
        return;
    }
    size_t n = 0;
    for (size_t j = 0; j < w->cap; j++) {
        if (j + 8 < w->cap && w->slots[j + 8].ki != NULL)
            idx_key_index_prefetch(w->slots[j + 8].ki);
        rslot *sl = &w->slots[j];
        if (sl->ki == NULL)
            continue;
        bool alive = idx_key_index_get(sl->ki, INT64_MAX, NULL, NULL, NULL) == 0;
        w->live += alive;
        if (alive && sl->lease != 0) {
            if ((w->nleased & (w->nleased - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
                size_t *p =
                        strata_realloc(w->leased, (w->nleased ? 2 * w->nleased : 1) * sizeof *p);
                if (p == NULL) {
                    w->rc = -ENOMEM;
                    snprintf(w->why, sizeof w->why, "gathering the index: out of memory");
                    return;
                }
                w->leased = p;
            }
            w->leased[w->nleased++] = j;
        }
        skey *k = &w->sorted[n++];
        k->ki = sl->ki;
        k->key = idx_key_index_key(sl->ki, &k->len);
    }
    w->nsorted = n;
    size_t cp = n ? w->sorted[0].len : 0; /* the keys' common prefix */
    for (size_t i = 1; i < n && cp > 0; i++) {
        const skey *k = &w->sorted[i];
        size_t m = k->len < cp ? k->len : cp, j = 0;
        while (j < m && k->key[j] == w->sorted[0].key[j])
            j++;
        cp = j;
    }
    for (size_t i = 0; i < n; i++) {
        skey *k = &w->sorted[i];
        k->hi = key_word(k->key, k->len, cp);
        k->lo = key_word(k->key, k->len, cp + 8);
    }
    qsort(w->sorted, n, sizeof *w->sorted, skey_cmp);
}

static void *worker_main(void *arg)
{
    rworker *w = arg;
    rctx *c = w->ctx;
    uint64_t seen = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->gen == seen && !c->quit)
            pthread_cond_wait(&c->go, &c->mu);
        if (c->quit)
            break;
        seen = c->gen;
        bool g = c->gather;
        pthread_mutex_unlock(&c->mu);
        if (g)
            gather(w);
        else
            work_chunk(w);
        pthread_mutex_lock(&c->mu);
        if (--c->busy == 0)
            pthread_cond_signal(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void stop_workers(rctx *c)
{
    if (!c->threads)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = true;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
    for (unsigned i = 0; i < c->started; i++)
        pthread_join(c->w[i].thread, NULL);
    c->threads = false;
}

/*
 * The partitions are fixed at the first chunk: a bucket that fits in one
 * chunk (final at the first flush) is built on this thread alone; a larger
 * one starts the workers (or, if threads cannot start, one partition here).
 */
static void start_workers(rctx *c, bool final)
{
    c->decided = true;
    if (final || c->nworkers == 1) {
        c->nworkers = 1;
        return;
    }
    for (; c->started < c->nworkers; c->started++) {
        if (pthread_create(&c->w[c->started].thread, NULL, worker_main, &c->w[c->started]) != 0)
            break;
    }
    c->threads = true;
    if (c->started < c->nworkers) {
        stop_workers(c);
        c->quit = false;
        c->started = 0;
        c->nworkers = 1;
    }
}

/* Waits for the workers to finish the chunk in hand: their first error. */
static int wait_chunk(rctx *c)
{
    if (c->threads) {
        pthread_mutex_lock(&c->mu);
        while (c->busy > 0)
            pthread_cond_wait(&c->done, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    for (unsigned i = 0; i < c->nworkers; i++)
        if (c->w[i].rc != 0)
            return c->w[i].rc;
    return 0;
}

/*
 * Hands the chunk to the workers (by key hash), once they are done with
 * the previous one, and returns: the scanner fills the other chunk while
 * they build this one (rule 7). The final flush waits for them.
 */
static int flush_chunk(rctx *c, bool final)
{
    if (c->n == 0)
        return final ? wait_chunk(c) : 0;
    if (!c->decided)
        start_workers(c, final);
    int rc = wait_chunk(c);
    if (rc != 0)
        return rc;
    for (unsigned i = 0; i < c->nworkers; i++)
        c->w[i].npart = 0;
    for (size_t i = 0; i < c->n; i++) {
        /* the high half picks the worker, the low bits the slot in its map
         * (one would leave the other's slots half used: with 2 workers,
         * every key of worker 0 had an even hash and an even home slot) */
        rworker *w = &c->w[(c->chunk[i].hash >> 32) % c->nworkers];
        if (w->npart == w->part_cap) {
            size_t cap = w->part_cap ? w->part_cap * 2 : 1024;
            uint32_t *p = strata_realloc(w->part, cap * sizeof *p);
            if (p == NULL)
                return -ENOMEM;
            w->part = p;
            w->part_cap = cap;
        }
        w->part[w->npart++] = (uint32_t)i;
    }
    c->cur = c->chunk;
    if (c->threads) {
        pthread_mutex_lock(&c->mu);
        c->busy = c->nworkers;
        c->gen++;
        pthread_cond_broadcast(&c->go);
        pthread_mutex_unlock(&c->mu);
    } else {
        work_chunk(&c->w[0]);
    }
    rentry *t = c->chunk;
    c->chunk = c->spare;
    c->spare = t;
    c->n = 0;
    return final ? wait_chunk(c) : 0;
}

/* Rule 8: every worker gathers its keyIndexes; waits for them. */
static int gather_all(rctx *c)
{
    if (c->threads) {
        pthread_mutex_lock(&c->mu);
        c->gather = true;
        c->busy = c->nworkers;
        c->gen++;
        pthread_cond_broadcast(&c->go);
        pthread_mutex_unlock(&c->mu);
    } else {
        for (unsigned i = 0; i < c->nworkers; i++)
            gather(&c->w[i]);
    }
    return wait_chunk(c);
}

/*
 * Rule 8: the workers' sorted lists merged into out (their total), in
 * key order. A key is in one worker's list only (its hash picks it).
 */
static void merge_sorted(const rctx *c, idx_key_index **out)
{
    size_t pos[64] = { 0 }, n = 0;
    for (;;) {
        const skey *best = NULL;
        unsigned bi = 0;
        for (unsigned i = 0; i < c->nworkers; i++) {
            const rworker *w = &c->w[i];
            if (pos[i] < w->nsorted &&
                (best == NULL || skey_cmp_keys(&w->sorted[pos[i]], best) < 0)) {
                best = &w->sorted[pos[i]];
                bi = i;
            }
        }
        if (best == NULL)
            return;
        out[n++] = best->ki;
        pos[bi]++;
    }
}

static int sfail(rctx *c, int rc, const char *fmt_rec, const char *what)
{
    mvcc__errf(c->s, "key bucket record %s: %s", fmt_rec, what);
    c->rc = rc;
    return 1;
}

/* sfail for a record whose revision key decoded: its name is formatted
 * only here, on failure (formatting it for every record was ~15% of a
 * restore's CPU). */
static int sfail_rev(rctx *c, int rc, const mvcc__revkey *rk, const char *what)
{
    char rec[64];
    fmt_rev(rec, sizeof rec, rk->rev, rk->tombstone);
    return sfail(c, rc, rec, what);
}

static int kept_add(rctx *c, idx_rev rev, uint32_t crc, size_t len, int64_t *idx)
{
    if (c->nkept == c->kept_cap) {
        size_t cap = c->kept_cap ? c->kept_cap * 2 : 1024;
        mvcc__hash_kept *k = strata_realloc(c->kept, cap * sizeof *k);
        if (k == NULL)
            return -ENOMEM;
        c->kept = k;
        bool *r = strata_realloc(c->removed, cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        c->removed = r;
        memset(r + c->kept_cap, 0, (cap - c->kept_cap) * sizeof *r);
        c->kept_cap = cap;
    }
    c->kept[c->nkept] = (mvcc__hash_kept){ rev, crc, (uint32_t)len };
    *idx = (int64_t)c->nkept++;
    return 0;
}

/* The scanner: rule 1's per-record checks, then into the chunk. */
static int scan_fn(void *arg, bolt_val key, bolt_val value)
{
    rctx *c = arg;
    mvcc__revkey rk;
    int rc = mvcc__revkey_decode(key.data, key.size, &rk);
    if (rc != 0) {
        char rec[64], hex[2 * 24 + 1];
        size_t n = key.size < 24 ? key.size : 24;
        for (size_t i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)key.data)[i]);
        hex[2 * n] = '\0';
        snprintf(rec, sizeof rec, "with key %s%s", hex, key.size > 24 ? "..." : "");
        return sfail(c, rc, rec, mvcc_strerror(rc));
    }
    if (c->have_prev && idx_rev_cmp(rk.rev, c->prev) <= 0)
        return sfail_rev(c, MVCC_ECORRUPT, &rk, "revision not above the previous record's");
    c->have_prev = true;
    c->prev = rk.rev;
    mvcc__kv kv;
    rc = mvcc__kv_decode(value.data, value.size, &kv);
    if (rc != 0) {
        char m[128];
        snprintf(m, sizeof m, "value is not a KeyValue: %s", mvcc_strerror(rc));
        return sfail_rev(c, rc, &rk, m);
    }
    char why[128];
    rc = mvcc__kv_check(&kv, &rk, why, sizeof why);
    if (rc != 0)
        return sfail_rev(c, rc, &rk, why);
    if (rk.rev.main > c->max_main)
        c->max_main = rk.rev.main;
    rentry *e = &c->chunk[c->n];
    e->rev = rk.rev;
    e->tomb = rk.tombstone;
    e->key = kv.key;
    e->key_len = kv.key_len;
    e->create = kv.create_revision;
    e->version = kv.version;
    e->lease = kv.lease;
    e->hash = strata_fnv1a64(kv.key, kv.key_len);
    e->kept = -1;
    if (rk.rev.main > c->base) { /* rule 4 */
        c->tail_crc = strata_crc32c(c->tail_crc, key.data, key.size);
        c->tail_crc = strata_crc32c(c->tail_crc, value.data, value.size);
        c->tail_len += key.size + value.size;
    } else if (!rk.tombstone) {
        uint32_t crc = strata_crc32c(0, key.data, key.size);
        crc = strata_crc32c(crc, value.data, value.size);
        if (key.size + value.size > UINT32_MAX ||
            kept_add(c, rk.rev, crc, key.size + value.size, &e->kept) != 0) {
            c->rc = -ENOMEM;
            return 1;
        }
    }
    if (++c->n == RESTORE_CHUNK) {
        rc = flush_chunk(c, false);
        if (rc != 0) {
            c->rc = rc;
            return 1;
        }
    }
    return 0;
}

static unsigned pick_workers(const mvcc_store *s)
{
    long n = s->opt.restore_threads ? (long)s->opt.restore_threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    return (unsigned)n;
}

/* Rule 3 and the compaction marks; the index is built. */
static void set_revisions(mvcc_store *s, rctx *c, bool finished_found, int64_t finished,
                          bool sched_found, int64_t sched)
{
    int64_t cur = c->max_main > 0 ? c->max_main : 1;
    int64_t compact = finished_found ? finished : -1;
    if (cur < compact)
        cur = compact;
    if (sched_found && sched > compact && cur < sched)
        cur = sched; /* etcd issue 17780 */
    s->current_rev = cur;
    s->compact_rev = compact;
    s->hash_rev = cur;
}

/*
 * Rule 5: every page of the root and of the key bucket is entered once
 * (bolt_visited) before the scan. A damaged file whose key bucket reaches
 * a page twice (two branch elements naming one child, a root shared with
 * another bucket or the root's own page, a cycle) fails here with the
 * page named, instead of feeding the scan the same records again.
 */
static int enter_key_bucket(mvcc_store *s, backend_read_tx *rtx)
{
    bolt_tx *btx = backend_read_tx_bolt(rtx);
    if (bolt_tx_tree_walked(btx))
        return 0; /* rule 5: bolt's open walked this very tree with the same checks */
    bolt_bucket *kb;
    int rc = bolt_tx_bucket(btx, (bolt_val){ MVCC__BUCKET_KEY, 3 }, &kb);
    if (rc == BOLT_NOTFOUND)
        return 0; /* not in bolt (yet): the scan reads the buffer alone */
    if (rc != 0)
        return rc;
    bolt_visited *seen;
    rc = bolt_visited_new(btx, &seen);
    if (rc != 0)
        return rc;
    rc = bolt_visited_add(seen, bolt_tx_root(btx));
    if (rc == 0)
        rc = bolt_visited_add(seen, kb);
    bolt_visited_free(seen);
    if (rc == BOLT_ECORRUPT) {
        char why[256];
        backend_last_corruption(s->be, why, sizeof why);
        mvcc__errf(s, "key bucket: %s", why);
    }
    return rc;
}

int mvcc__restore(mvcc_store *s)
{
    backend_read_tx *rtx;
    int rc = backend_read_tx_begin(s->be, &rtx);
    if (rc != 0)
        return rc;
    int64_t finished = -1, sched = 0;
    bool ffound = false, sfound = false;
    rc = mvcc__meta_rev(s, rtx, MVCC__META_FINISHED, &finished, &ffound);
    if (rc == 0)
        rc = mvcc__meta_rev(s, rtx, MVCC__META_SCHEDULED, &sched, &sfound);
    if (rc != 0) {
        backend_read_tx_end(rtx);
        return rc;
    }
    rctx c = { .s = s, .base = ffound ? finished : -1 };
    c.nworkers = pick_workers(s);
    c.w = strata_calloc(c.nworkers, sizeof *c.w);
    c.chunk = strata_malloc(RESTORE_CHUNK * sizeof *c.chunk);
    c.spare = strata_malloc(RESTORE_CHUNK * sizeof *c.spare);
    if (c.w == NULL || c.chunk == NULL || c.spare == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = -pthread_mutex_init(&c.mu, NULL);
    if (rc == 0) {
        rc = strata__cond_init(&c.go, false);
        if (rc == 0) {
            rc = strata__cond_init(&c.done, false);
            if (rc != 0)
                pthread_cond_destroy(&c.go);
        }
        if (rc != 0)
            pthread_mutex_destroy(&c.mu);
    }
    if (rc != 0)
        goto out; /* -errno: nothing of c's locks to destroy */
    for (unsigned i = 0; i < c.nworkers; i++) {
        c.w[i].ctx = &c;
        c.w[i].id = i;
    }
    rc = enter_key_bucket(s, rtx);
    if (rc == 0)
        rc = backend_read_tx_for_each(rtx, (bolt_val){ MVCC__BUCKET_KEY, 3 }, scan_fn, &c);
    if (rc == 1)
        rc = c.rc;
    if (rc == BACKEND_EBUCKETNOTFOUND && s->read_only)
        rc = 0; /* a file that is not (yet) an mvcc store reads as empty */
    if (rc == 0)
        rc = flush_chunk(&c, true);
    if (rc == 0) {
        rc = gather_all(&c);
    } else {
        /* rule 7: a worker may have failed on an earlier record than the
         * scanner's: the first record's error is the open's */
        int wrc = wait_chunk(&c);
        if (wrc != 0)
            rc = wrc;
    }
    stop_workers(&c);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.go);
    pthread_cond_destroy(&c.done);
    for (unsigned i = 0; i < c.nworkers && rc != 0; i++) {
        if (c.w[i].rc != 0) {
            mvcc__errf(s, "%s", c.w[i].why);
            break;
        }
    }
    if (rc != 0)
        goto out;
    for (unsigned i = 0; i < c.nworkers; i++)
        for (size_t j = 0; j < c.w[i].nrm; j++)
            c.removed[c.w[i].rm[j]] = true;

    /* Rule 8: the workers' sorted lists, lease attachments, then one bulk insert in key order. */
    size_t total = 0;
    int64_t live = 0;
    bool kept_bad = false;
    for (unsigned i = 0; i < c.nworkers; i++) {
        total += c.w[i].nsorted;
        live += c.w[i].live;
        kept_bad = kept_bad || c.w[i].kept_bad;
    }
    idx_key_index **kis = strata_malloc((total ? total : 1) * sizeof *kis);
    if (kis == NULL) {
        rc = -ENOMEM;
        goto out;
    }
#ifdef MVCC_HAVE_LEASE_GLUE
    for (unsigned i = 0; i < c.nworkers && rc == 0 && s->lessor != NULL; i++) {
        rworker *w = &c.w[i];
        for (size_t j = 0; j < w->nleased && rc == 0; j++) {
            rslot *sl = &w->slots[w->leased[j]];
            size_t kl;
            const uint8_t *k = idx_key_index_key(sl->ki, &kl);
            rc = mvcc__lease_attach(s, sl->lease, k, kl);
            if (rc != 0)
                mvcc__errf(s, "attaching a key to lease %" PRId64 ": %s", sl->lease,
                           mvcc_strerror(rc));
        }
    }
#endif
    size_t nk = total;
    merge_sorted(&c, kis);
    if (rc == 0)
        rc = idx_tree_insert(s->index, kis, nk);
    if (rc == 0) {
        for (unsigned i = 0; i < c.nworkers; i++) {
            rworker *w = &c.w[i];
            for (size_t j = 0; j < w->cap; j++)
                w->slots[j].ki = NULL; /* owned by the tree now */
        }
    }
    strata_free(kis);
    if (rc != 0)
        goto out;

    set_revisions(s, &c, ffound, finished, sfound, sched);
    mvcc__hash_state *h = &s->hash;
    h->tail_crc = c.tail_crc;
    h->tail_len = c.tail_len;
    h->live_keys = live;
    if (c.nkept == 0) {
        strata_free(c.kept);
        strata_free(c.removed);
        h->base = c.base;
    } else {
        mvcc__hash_set_kept(h, c.kept, c.removed, c.nkept, c.base);
    }
    c.kept = NULL;
    c.removed = NULL;
    h->kept_ok = !kept_bad;
    if (sfound && sched > s->compact_rev)
        rc = mvcc__compaction_restore_pending(s, sched);
out:
    backend_read_tx_end(rtx);
    if (c.w != NULL) {
        for (unsigned i = 0; i < c.nworkers; i++) {
            rworker *w = &c.w[i];
            for (size_t j = 0; j < w->cap; j++)
                idx_key_index_free(w->slots[j].ki);
            strata_free(w->slots);
            strata_free(w->part);
            strata_free(w->rm);
            strata_free(w->sorted);
            strata_free(w->leased);
        }
    }
    strata_free(c.w);
    strata_free(c.chunk);
    strata_free(c.spare);
    strata_free(c.kept);
    strata_free(c.removed);
    return rc;
}
