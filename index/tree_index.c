/*
 * tree_index.c: treeIndex, the ordered map from keys to their keyIndexes
 * (etcd 3.4.23 mvcc/index.go), with etcd 3.5's counting range.
 *
 * Rules:
 * 1. The B+tree (btree.c) and every block in it are guarded by `lock`, a
 *    writer-preferring reader-writer lock (rwlock.h): readers share it,
 *    writers hold it alone.
 * 2. No keyIndex in the tree is empty or without generations: put creates
 *    a key together with its first revision, insert refuses empty ones,
 *    and compaction deletes the keys it empties before it drops the lock.
 * 3. Compaction and keep walk the tree in chunks of at most CHUNK keys,
 *    each under the lock, resuming at their cursor when the tree's version
 *    shows no insert or delete since, else after the last key they saw. A
 *    writer that finds the lock taken announces itself in the lock's
 *    `writers_waiting` and spins (on `walker_holds`, not on the lock word)
 *    before it would sleep; the walk checks the count before every key
 *    and steps aside at once, so a put waits for about one key's
 *    compaction, never for a chunk or the whole walk. The walk itself
 *    never sleeps on the lock, so releasing it never costs a writer a
 *    wake-up. After stepping aside for a writer it stays away DUTY times
 *    as long as it held the lock, and at least GRACE_NS: every return of
 *    the walk can delay one put, so while writers are busy the returns
 *    must be rare next to their puts (a put every 100 ns meets the walk
 *    once in ~200 puts, below the 1% that moves a p99), and the walk
 *    holds the lock at most 1/(DUTY+1) of the time. The price is a slower
 *    walk under a saturating writer (1,000,000 keys: ~16 s against a
 *    writer putting 5.7 M/s, under 1 s against one putting every 5 us).
 *    The stay-away is capped at AWAY_MAX_NS (a hold stretched by being
 *    descheduled says nothing about writers) and sleeps from
 *    SLEEP_FROM_NS on, spinning only for short windows;
 *    with no writer about it runs whole chunks, yielding the CPU between
 *    them. Each chunk does at least one key, so the walk always
 *    progresses. A reader that meets the walk's hold (a put's first
 *    index call is a lookup, idx_tree_get) announces itself the same way,
 *    in readers_waiting, and spins on walker_holds, so the walk steps
 *    aside for a put's lookup too; a reader that would sleep instead
 *    would wait for the rest of the chunk (1-8 ms on two busy cores).
 *    Its first try honours the lock's writer preference (rwlock.h rule
 *    2): it takes the lock at once only when no writer waits.
 * 4. Keys added during a compaction walk carry revisions above the
 *    compaction revision, so whether the walk sees them does not matter:
 *    compaction leaves them as they are (etcd walks a clone for the same
 *    reason).
 * 5. The hash (key_hash.c) maps every key in the B+tree to the same block
 *    as the tree, and nothing else: every insert, delete and move of a
 *    block (a change that reallocated it) updates both under the write
 *    lock, the hash's room reserved before anything changes. Lookups by
 *    exact key (get, the single-key range, count and since, and a put's
 *    own lookup) probe the hash instead of descending the tree. A put
 *    whose change moved the block finds the tree's slot by the old
 *    address (idx__btree_find_block), so the freed block is never read.
 *    idx_tree_check verifies the hash against the tree.
 * 6. A range walk (range, range_page, count) reads its blocks through a
 *    block stream: a cursor AHEAD keys in front of the walk (across leaf
 *    boundaries) asks for each block's first line as it enters a ring,
 *    and the block halfway through the ring has the line of its last
 *    generation (what idx__ki_get reads) asked for too, so the misses of
 *    ~AHEAD blocks overlap instead of queueing behind the walk. The walk
 *    may ask for up to AHEAD blocks past the range's end; it never reads
 *    them, beyond the stage-two look at a block's header (under the same
 *    read lock: every block in the tree is live).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idx_int.h"
#include "rwlock.h"
#include "sync.h"

#define CHUNK         64
#define WRITER_SPIN   400
#define GRACE_NS      20000
#define DUTY          32
#define AWAY_MAX_NS   1000000 /* the longest stay-away */
#define SLEEP_FROM_NS 100000  /* stay-aways this long sleep instead of spinning */

struct idx_tree {
    idx__rwlock lock;
    atomic_bool walker_holds;    /* a chunked walk holds the lock: writers spin on this */
    atomic_uint readers_waiting; /* rule 3: lookups waiting for a walk to step aside */
    idx__btree bt;               /* guarded by lock */
    idx__khash kh;               /* guarded by lock; rule 5 */
};

/* A writer's entry (rule 3): announce only when the lock is taken. */
static void tree_wrlock(idx_tree *t)
{
    if (idx__rw_trywrlock(&t->lock))
        return;
    atomic_fetch_add_explicit(&t->lock.writers_waiting, 1, memory_order_relaxed);
    int spins = 0;
    /* Spin on a plain load while a walk holds the lock (it leaves within one
     * key), so the lock's cache line is not fought over meanwhile. */
    while (atomic_load_explicit(&t->walker_holds, memory_order_relaxed) ||
           !idx__rw_trywrlock(&t->lock)) {
        if (++spins >= WRITER_SPIN) {
            idx__rw_wrlock(&t->lock);
            break;
        }
        strata__cpu_relax();
    }
    atomic_fetch_sub_explicit(&t->lock.writers_waiting, 1, memory_order_relaxed);
}

/*
 * A chunked walk's entry (rule 3). It never sleeps on the lock: a sleeping
 * waiter would make the writer that releases the lock pay for waking it
 * (a futex system call inside the put).
 */
static void walker_lock(idx_tree *t, bool write)
{
    for (unsigned i = 0;; i++) {
        if (write ? idx__rw_trywrlock(&t->lock) : idx__rw_tryrdlock(&t->lock)) {
            atomic_store_explicit(&t->walker_holds, true, memory_order_relaxed);
            return;
        }
        if (i < 64)
            strata__cpu_relax();
        else
            sched_yield();
    }
}

/*
 * A reader's entry (rule 3). While a walk holds the lock the reader
 * announces itself and spins like a writer; otherwise (a put holds it, or
 * the lock's own writer preference holds the reader back) it waits on the
 * lock as before. The walk sets walker_holds just after it takes the lock,
 * so a reader arriving in between waits on the lock for that chunk.
 */
static void tree_rdlock(idx_tree *t)
{
    if (atomic_load_explicit(&t->lock.writers_waiting, memory_order_relaxed) == 0 &&
        idx__rw_tryrdlock(&t->lock))
        return;
    if (!atomic_load_explicit(&t->walker_holds, memory_order_relaxed)) {
        idx__rw_rdlock(&t->lock);
        return;
    }
    atomic_fetch_add_explicit(&t->readers_waiting, 1, memory_order_relaxed);
    int spins = 0;
    while (atomic_load_explicit(&t->walker_holds, memory_order_relaxed) ||
           atomic_load_explicit(&t->lock.writers_waiting, memory_order_relaxed) != 0 ||
           !idx__rw_tryrdlock(&t->lock)) {
        if (++spins >= WRITER_SPIN) {
            idx__rw_rdlock(&t->lock);
            break;
        }
        strata__cpu_relax();
    }
    atomic_fetch_sub_explicit(&t->readers_waiting, 1, memory_order_relaxed);
}

static void tree_rdunlock(idx_tree *t)
{
    idx__rw_rdunlock(&t->lock);
}

static void tree_wrunlock(idx_tree *t)
{
    idx__rw_wrunlock(&t->lock);
}

/* Rule 3: a writer, or a reader held back by a walk, is waiting. */
static bool writer_waiting(idx_tree *t)
{
    return atomic_load_explicit(&t->lock.writers_waiting, memory_order_relaxed) != 0 ||
           atomic_load_explicit(&t->readers_waiting, memory_order_relaxed) != 0;
}

#if STRATA_FAILPOINTS
idx__walk_hook_fn idx__walk_hook;
void *idx__walk_hook_arg;

bool idx__tree_someone_waits(idx_tree *t)
{
    return writer_waiting(t) ||
           (atomic_load_explicit(&t->lock.state, memory_order_relaxed) & IDX_RW_SLEEPERS) != 0;
}
#endif

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Between chunks: let every announced writer through first; if writers
 * were seen, stay away DUTY times the hold (rule 3); then offer the CPU
 * once. On an oversubscribed machine the walk is then mostly descheduled
 * between chunks, not while it holds the lock.
 */
static void step_aside(idx_tree *t, bool writer_seen, uint64_t held_ns)
{
    for (int i = 0; i < 1000 && writer_waiting(t); i++) {
        if (i < 100)
            strata__cpu_relax();
        else
            sched_yield();
    }
    if (writer_seen) {
        uint64_t away = held_ns * DUTY > GRACE_NS ? held_ns * DUTY : GRACE_NS;
        if (away > AWAY_MAX_NS)
            away = AWAY_MAX_NS; /* a hold stretched by preemption, not work */
        if (away >= SLEEP_FROM_NS) {
            struct timespec ts = { 0, (long)away };
            nanosleep(&ts, NULL);
            return;
        }
        /* Short windows: a timed spin, offering the CPU now and then; a
         * sleep would last the timer slack (50 us) at least. */
        uint64_t start = mono_ns();
        for (unsigned i = 1; mono_ns() - start < away; i++) {
            if (i % 64 == 0)
                sched_yield();
            else
                strata__cpu_relax();
        }
        return;
    }
    sched_yield();
}

int idx_tree_new(idx_tree **out)
{
    *out = NULL;
    idx_tree *t = strata_calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    idx__rw_init(&t->lock);
    atomic_init(&t->walker_holds, false);
    atomic_init(&t->readers_waiting, 0);
    idx__btree_init(&t->bt);
    idx__khash_init(&t->kh);
    *out = t;
    return 0;
}

void idx_tree_free(idx_tree *t)
{
    if (t == NULL)
        return;
    idx__btree_release(&t->bt, true);
    idx__khash_release(&t->kh);
    strata_free(t);
}

size_t idx_tree_count(idx_tree *t)
{
    tree_rdlock(t);
    size_t n = t->bt.count;
    tree_rdunlock(t);
    return n;
}

/* ---- writes ------------------------------------------------------------------ */

/* A new key's block: the key, then put or restore. */
typedef struct make_ctx {
    const void *key;
    size_t key_len;
    bool restore;
    idx_rev created, modified;
    int64_t ver;
    idx__ki *made; /* the block make_block built */
} make_ctx;

static int make_block(void *ctx, idx__ki **out)
{
    make_ctx *m = ctx;
    idx__ki *k;
    int rc = idx__ki_new(m->key, m->key_len, &k);
    if (rc != 0)
        return rc;
    rc = m->restore ? idx__ki_restore(&k, m->created, m->modified, m->ver)
                    : idx__ki_put(&k, m->modified);
    if (rc != 0) {
        strata_free(k);
        return rc;
    }
    m->made = k;
    *out = k;
    return 0;
}

/*
 * Rule 5 after a change through the tree's slot: the block was at before
 * and is now at *slot (the same key).
 */
static void slot_changed(idx_tree *t, const idx__ki *before, idx__ki **slot)
{
    if (*slot != before)
        idx__khash_replace(&t->kh, before, *slot);
}

/*
 * Rule 5 after a change made through a local copy of the block's address
 * (found in the hash): the block was at before (maybe freed) and is now at
 * now; the tree's slot and the hash follow.
 */
static void block_moved(idx_tree *t, const idx__ki *before, idx__ki *now)
{
    if (now == before)
        return;
    idx__ki **slot = idx__btree_find_block(&t->bt, now->data, now->key_len, before);
    /* The hash holds only blocks of the tree (rule 5), so slot is found;
     * were it not, idx_tree_check would say so rather than this crash. */
    if (slot != NULL)
        *slot = now;
    idx__khash_replace(&t->kh, before, now);
}

/*
 * A new key: reserve the hash's room, then insert the block made by m into
 * the tree and the hash. *slot is the key's slot when it turned out to be
 * present after all (then nothing is made).
 */
static int add_key(idx_tree *t, const void *key, size_t key_len, make_ctx *m, idx__ki ***slot)
{
    int rc = idx__khash_reserve(&t->kh, t->kh.count + 1);
    if (rc != 0)
        return rc;
    m->made = NULL;
    rc = idx__btree_upsert(&t->bt, key, key_len, make_block, m, slot);
    if (rc == 0 && *slot == NULL)
        idx__khash_insert(&t->kh, m->made);
    return rc;
}

int idx_tree_put(idx_tree *t, const void *key, size_t key_len, idx_rev rev)
{
    if (key == NULL && key_len > 0)
        return IDX_EINVAL;
    make_ctx m = { key, key_len, false, { 0, 0 }, rev, 0, NULL };
    idx__ki **slot = NULL;
    int rc = 0;
    tree_wrlock(t);
    idx__ki *k = idx__khash_find(&t->kh, key, key_len);
    if (k != NULL) {
        idx__ki *moved = k;
        rc = idx__ki_put(&moved, rev);
        block_moved(t, k, moved);
    } else {
        rc = add_key(t, key, key_len, &m, &slot);
        if (rc == 0 && slot != NULL) { /* not reached: the hash has every key (rule 5) */
            idx__ki *before = *slot;
            rc = idx__ki_put(slot, rev);
            slot_changed(t, before, slot);
        }
    }
    tree_wrunlock(t);
    return rc;
}

int idx_tree_tombstone(idx_tree *t, const void *key, size_t key_len, idx_rev rev)
{
    if (key == NULL && key_len > 0)
        return IDX_EINVAL;
    tree_wrlock(t);
    int rc = IDX_NOTFOUND;
    idx__ki *k = idx__khash_find(&t->kh, key, key_len);
    if (k != NULL) {
        idx__ki *moved = k;
        rc = idx__ki_tombstone(&moved, rev);
        block_moved(t, k, moved);
    }
    tree_wrunlock(t);
    return rc;
}

int idx_tree_restore(idx_tree *t, const void *key, size_t key_len, idx_rev created,
                     idx_rev modified, int64_t ver)
{
    if (key == NULL && key_len > 0)
        return IDX_EINVAL;
    make_ctx m = { key, key_len, true, created, modified, ver, NULL };
    idx__ki **slot;
    tree_wrlock(t);
    int rc = add_key(t, key, key_len, &m, &slot);
    if (rc == 0 && slot != NULL) {
        idx__ki *before = *slot;
        rc = idx__ki_put(slot, modified);
        slot_changed(t, before, slot);
    }
    tree_wrunlock(t);
    return rc;
}

/*
 * Prefetches for a bulk insert's pass over kis: the handle INSERT_AHEAD
 * entries ahead, and the block of the one half as far (its handle loaded
 * by then). A restore's blocks are scattered over the heap: without
 * these each entry was two dependent cache misses, twice.
 */
#define INSERT_AHEAD 16

static inline void insert_prefetch(idx_key_index *const *kis, size_t n, size_t i)
{
    if (i + INSERT_AHEAD < n)
        __builtin_prefetch(kis[i + INSERT_AHEAD]);
    if (i + INSERT_AHEAD / 2 < n && kis[i + INSERT_AHEAD / 2] != NULL)
        __builtin_prefetch(kis[i + INSERT_AHEAD / 2]->blk);
}

int idx_tree_insert(idx_tree *t, idx_key_index **kis, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        insert_prefetch(kis, n, i);
        if (kis[i] == NULL)
            return IDX_EINVAL;
        if (idx__ki_is_empty(kis[i]->blk))
            return IDX_EEMPTYKEYINDEX;
        if (kis[i]->blk->len == kis[i]->blk->key_len)
            return IDX_ENOGENERATIONS;
    }
    tree_wrlock(t);
    /* Rule 5's room for all of them at once (a restore inserts every key here). */
    int rc = n > SIZE_MAX - t->kh.count ? -ENOMEM : idx__khash_reserve(&t->kh, t->kh.count + n);
    /* Home slots asked for this many keys ahead (their misses overlap), nearer
     * than insert_prefetch's blocks: the hash reads the block's key. */
    enum { AHEAD = INSERT_AHEAD / 4 };
    for (size_t i = 0; i < n && i < AHEAD && rc == 0; i++)
        idx__khash_prefetch(&t->kh, kis[i]->blk->data, kis[i]->blk->key_len);
    for (size_t i = 0; i < n && rc == 0; i++) {
        insert_prefetch(kis, n, i);
        idx__ki *k = kis[i]->blk;
        if (i + AHEAD < n)
            idx__khash_prefetch(&t->kh, kis[i + AHEAD]->blk->data, kis[i + AHEAD]->blk->key_len);
        uint64_t hv = idx__khash_of(&t->kh, k->data, k->key_len);
        idx__ki *old = idx__khash_find_hashed(&t->kh, hv, k->data, k->key_len);
        if (old != NULL) {
            idx__ki **slot = idx__btree_find_block(&t->bt, k->data, k->key_len, old);
            *slot = k; /* ReplaceOrInsert */
            idx__khash_replace(&t->kh, old, k);
            strata_free(old);
        } else {
            rc = idx__btree_insert(&t->bt, k);
            if (rc != 0)
                break;
            idx__khash_insert_hashed(&t->kh, hv, k);
        }
        strata_free(kis[i]);
        kis[i] = NULL;
    }
    tree_wrunlock(t);
    return rc;
}

/* ---- reads ---------------------------------------------------------------------- */

int idx_tree_get(idx_tree *t, const void *key, size_t key_len, int64_t at_rev, idx_rev *modified,
                 idx_rev *created, int64_t *ver)
{
    tree_rdlock(t);
    int rc = IDX_NOTFOUND;
    const idx__ki *k = idx__khash_find(&t->kh, key, key_len); /* rule 5 */
    if (k != NULL)
        rc = idx__ki_get(k, at_rev, modified, created, ver);
    tree_rdunlock(t);
    return rc;
}

/*
 * A cache hint (lease's request, session 8: a batch of revokes looks its
 * keys up one by one, and on a large index each lookup is two dependent
 * misses, the hash slot and then the block, taken while the store's
 * write lock is held). In two passes, so the misses of one pass overlap:
 * every key's home slot, then the block of the slot that holds the key
 * (the probe run's first few slots). Never waits: a lock held by a writer
 * means no hint.
 */
#define PREFETCH_GROUP 16 /* keys whose slots are asked for before their blocks */
#define PREFETCH_PROBE 4  /* slots of a probe run looked at for the block */

void idx_tree_prefetch(idx_tree *t, const idx_key *keys, size_t n)
{
    if (n == 0 || atomic_load_explicit(&t->lock.writers_waiting, memory_order_relaxed) != 0 ||
        !idx__rw_tryrdlock(&t->lock))
        return;
    const idx__khash *h = &t->kh;
    uint64_t hv[PREFETCH_GROUP];
    for (size_t base = 0; base < n && h->slots != NULL; base += PREFETCH_GROUP) {
        size_t m = n - base < PREFETCH_GROUP ? n - base : PREFETCH_GROUP;
        for (size_t i = 0; i < m; i++) {
            const idx_key *k = &keys[base + i];
            hv[i] = idx__khash_of(h, k->data, k->len);
            __builtin_prefetch(&h->slots[hv[i] & h->mask]);
        }
        for (size_t i = 0; i < m; i++) {
            size_t at = hv[i] & h->mask;
            for (int probe = 0; probe < PREFETCH_PROBE; probe++, at = (at + 1) & h->mask) {
                const idx__kslot *s = &h->slots[at];
                if (s->blk == NULL)
                    break;
                if (s->hash == hv[i]) {
                    __builtin_prefetch(s->blk);
                    break;
                }
            }
        }
    }
    tree_rdunlock(t);
}

/* ---- sorted batches (a revoke's keys: lease's request, session 4) ---------------- */

/*
 * A walk over sorted keys: the cursor stays where the previous key was
 * found (or would be), and a key a few slots further is reached by
 * stepping instead of a descent from the root (a revoke's keys are often
 * neighbours in the tree). The cursor is at the first key >= the previous
 * key, so a key at the cursor above the wanted one means it is absent.
 */
typedef struct sorted_walk {
    idx__bcursor c;
    bool valid;          /* c is a position (else: seek) */
    const uint8_t *prev; /* the previous key (NULL: none yet) */
    size_t prev_len;
} sorted_walk;

#define WALK_STEPS 8 /* slots stepped before a descent is cheaper */

/* The slot of key, or NULL when absent; w advanced. */
static idx__ki **walk_find(idx__btree *bt, sorted_walk *w, const uint8_t *key, size_t len)
{
    bool ordered = w->prev != NULL && idx__key_cmp(w->prev, w->prev_len, key, len) < 0;
    w->prev = key;
    w->prev_len = len;
    if (ordered && w->valid) {
        for (int step = 0; step < WALK_STEPS; step++) {
            idx__bcursor_prefetch(&w->c, 4); /* the next keys' blocks are likely wanted next */
            idx__ki **slot = idx__bcursor_slot(&w->c);
            int cmp = idx__key_cmp((*slot)->data, (*slot)->key_len, key, len);
            if (cmp == 0)
                return slot;
            if (cmp > 0)
                return NULL;
            if (!idx__bcursor_next(&w->c)) {
                w->valid = false;
                return NULL; /* every key in the tree is below key */
            }
        }
    } else if (ordered) {
        return NULL; /* the previous key was past the end already */
    }
    w->valid = idx__btree_seek(bt, key, len, false, &w->c);
    if (!w->valid)
        return NULL;
    idx__ki **slot = idx__bcursor_slot(&w->c);
    return idx__key_cmp((*slot)->data, (*slot)->key_len, key, len) == 0 ? slot : NULL;
}

#define KEY_AHEAD 8 /* keys ahead whose bytes a sorted walk asks for */

int idx_tree_get_sorted(idx_tree *t, const idx_key *keys, size_t n, int64_t at_rev,
                        idx_rev *modified)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].data == NULL && keys[i].len > 0)
            return IDX_EINVAL;
    sorted_walk w = { .valid = false, .prev = NULL };
    tree_rdlock(t);
    /* Loop invariant: modified[0, i) answered. */
    for (size_t i = 0; i < n; i++) {
        /* The caller's keys need not lie in order in memory (a revoke's point
         * into the lessor's gathered copy): each is fetched a few keys ahead. */
        if (i + KEY_AHEAD < n)
            __builtin_prefetch(keys[i + KEY_AHEAD].data);
        idx__ki **slot = walk_find(&t->bt, &w, keys[i].data, keys[i].len);
        modified[i] = (idx_rev){ 0, 0 };
        if (slot != NULL && idx__ki_get(*slot, at_rev, &modified[i], NULL, NULL) != 0)
            modified[i] = (idx_rev){ 0, 0 };
    }
    tree_rdunlock(t);
    return 0;
}

#define REPLACE_AHEAD 8 /* keys ahead whose hash slots a sorted tombstone walk asks for */

int idx_tree_tombstone_sorted(idx_tree *t, const idx_key *keys, size_t n, const idx_rev *revs,
                              size_t *done)
{
    *done = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i].data == NULL && keys[i].len > 0)
            return IDX_EINVAL;
    sorted_walk w = { .valid = false, .prev = NULL };
    int rc = 0;
    tree_wrlock(t);
    /* Loop invariant: keys[0, i) are tombstoned; a tombstone moves no node (the cursor holds). */
    size_t i = 0;
    for (; i < n; i++) {
        /* A tombstone usually outgrows the block: slot_changed then finds the
         * key's hash slot, a miss of its own (the walk's order is not the
         * hash's), asked for this many keys ahead. */
        if (i + REPLACE_AHEAD < n)
            idx__khash_prefetch(&t->kh, keys[i + REPLACE_AHEAD].data, keys[i + REPLACE_AHEAD].len);
        idx__ki **slot = walk_find(&t->bt, &w, keys[i].data, keys[i].len);
        rc = IDX_NOTFOUND;
        if (slot != NULL) {
            idx__ki *before = *slot;
            rc = idx__ki_tombstone(slot, revs[i]);
            slot_changed(t, before, slot);
        }
        if (rc != 0)
            break;
    }
    tree_wrunlock(t);
    *done = i;
    return rc;
}

/* Key bytes are fetched this many keys ahead, their hash slots REPLACE_AHEAD ahead (after). */
#define LIVE_KEY_AHEAD 16

int idx_tree_tombstone_live(idx_tree *t, const idx_key *keys, size_t n, int64_t at_rev,
                            idx_live_fn fn, void *arg, size_t *done)
{
    *done = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i].data == NULL && keys[i].len > 0)
            return IDX_EINVAL;
    sorted_walk w = { .valid = false, .prev = NULL };
    int rc = 0;
    size_t nd = 0;
    tree_wrlock(t);
    /* Loop invariant: the live keys among keys[0, i) are tombstoned (nd of them); a
     * tombstone moves no node, and fn does not touch the tree, so the cursor holds. */
    for (size_t i = 0; i < n; i++) {
        if (i + LIVE_KEY_AHEAD < n)
            __builtin_prefetch(keys[i + LIVE_KEY_AHEAD].data);
        if (i + REPLACE_AHEAD < n)
            idx__khash_prefetch(&t->kh, keys[i + REPLACE_AHEAD].data, keys[i + REPLACE_AHEAD].len);
        idx__ki **slot = walk_find(&t->bt, &w, keys[i].data, keys[i].len);
        idx_rev modified;
        if (slot == NULL || idx__ki_get(*slot, at_rev, &modified, NULL, NULL) != 0)
            continue; /* absent, or not alive at at_rev */
        idx_rev rev;
        if ((rc = fn(arg, i, modified, &rev)) != 0)
            break;
        idx__ki *before = *slot;
        rc = idx__ki_tombstone(slot, rev);
        slot_changed(t, before, slot);
        if (rc != 0)
            break;
        nd++;
    }
    tree_wrunlock(t);
    *done = nd;
    return rc;
}

void idx_range_result_release(idx_range_result *r)
{
    if (r == NULL)
        return;
    strata_free(r->keys);
    strata_free(r->revs);
    strata_free(r->key_bytes);
    memset(r, 0, sizeof *r);
}

/* Collects a range result; keys[i].data holds an offset until finish. */
typedef struct range_acc {
    idx_range_result *r;
    size_t cap;
    size_t bytes_cap;
    bool with_keys;
} range_acc;

static int acc_add(range_acc *a, const uint8_t *key, size_t klen, idx_rev rev)
{
    idx_range_result *r = a->r;
    if (r->count == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 16;
        idx_rev *nr = strata_realloc(r->revs, ncap * sizeof *nr);
        if (nr == NULL)
            return -ENOMEM;
        r->revs = nr;
        if (a->with_keys) {
            idx_key *nk = strata_realloc(r->keys, ncap * sizeof *nk);
            if (nk == NULL)
                return -ENOMEM;
            r->keys = nk;
        }
        a->cap = ncap;
    }
    if (a->with_keys) {
        if (r->key_bytes_len + klen > a->bytes_cap) {
            size_t ncap = a->bytes_cap ? a->bytes_cap * 2 : 256;
            while (ncap < r->key_bytes_len + klen)
                ncap *= 2;
            uint8_t *nb = strata_realloc(r->key_bytes, ncap);
            if (nb == NULL)
                return -ENOMEM;
            r->key_bytes = nb;
            a->bytes_cap = ncap;
        }
        if (klen)
            memcpy(r->key_bytes + r->key_bytes_len, key, klen);
        r->keys[r->count].data = (const uint8_t *)(uintptr_t)r->key_bytes_len;
        r->keys[r->count].len = klen;
        r->key_bytes_len += klen;
    }
    r->revs[r->count++] = rev;
    return 0;
}

static void acc_finish(range_acc *a)
{
    idx_range_result *r = a->r;
    if (!a->with_keys)
        return;
    for (size_t i = 0; i < r->count; i++)
        r->keys[i].data = r->key_bytes + (uintptr_t)r->keys[i].data;
}

/* ---- the block stream (rule 6) ---------------------------------------------------- */

#define AHEAD 16 /* a power of two */

typedef struct block_stream {
    idx__bcursor c; /* the next slot to enter the ring, when more */
    bool more;
    unsigned head, n; /* ring[head .. head + n) (mod AHEAD): the next blocks, in key order */
    const idx__ki *ring[AHEAD];
} block_stream;

static void stream_fill(block_stream *s)
{
    while (s->n < AHEAD && s->more) {
        const idx__ki *k = *idx__bcursor_slot(&s->c);
        __builtin_prefetch(k);
        s->ring[(s->head + s->n) % AHEAD] = k;
        s->n++;
        s->more = idx__bcursor_next(&s->c);
    }
}

/* Positions s at the first key >= key (> key when strict). */
static void stream_seek(block_stream *s, const idx__btree *bt, const void *key, size_t key_len,
                        bool strict)
{
    s->head = s->n = 0;
    s->more = idx__btree_seek(bt, key, key_len, strict, &s->c);
    stream_fill(s);
}

/* The next block of the walk, or NULL at the tree's end. */
static const idx__ki *stream_next(block_stream *s)
{
    if (s->n == 0)
        return NULL;
    const idx__ki *k = s->ring[s->head];
    s->head = (s->head + 1) % AHEAD;
    s->n--;
    stream_fill(s);
    if (s->n > AHEAD / 2) {
        /* Stage two: its first line was asked for AHEAD / 2 keys ago. */
        const idx__ki *m = s->ring[(s->head + AHEAD / 2) % AHEAD];
        __builtin_prefetch(m->data + m->last);
    }
    return k;
}

/* In the range [key, end) (end_len 0: unbounded)? */
static inline bool below_end(const idx__ki *k, const void *end, size_t end_len)
{
    return end_len == 0 || idx__key_cmp(k->data, k->key_len, end, end_len) < 0;
}

int idx_tree_range(idx_tree *t, const void *key, size_t key_len, const void *end, size_t end_len,
                   int64_t at_rev, size_t limit, bool with_keys, idx_range_result *out)
{
    idx_range_result_release(out);
    range_acc a = { out, 0, 0, with_keys };
    int rc = 0;
    tree_rdlock(t);
    if (end == NULL) {
        const idx__ki *k = idx__khash_find(&t->kh, key, key_len);
        idx_rev m;
        if (k != NULL && idx__ki_get(k, at_rev, &m, NULL, NULL) == 0) {
            out->total = 1;
            rc = acc_add(&a, key, key_len, m);
        }
    } else {
        block_stream bs;
        stream_seek(&bs, &t->bt, key, key_len, false);
        const idx__ki *k;
        /* Loop invariant: out holds the first min(total, limit) matches so far. */
        while (rc == 0 && (k = stream_next(&bs)) != NULL) {
            if (!below_end(k, end, end_len))
                break;
            idx_rev m;
            if (idx__ki_get(k, at_rev, &m, NULL, NULL) != 0)
                continue;
            out->total++;
            if (limit == 0 || out->count < limit)
                rc = acc_add(&a, k->data, k->key_len, m);
        }
    }
    tree_rdunlock(t);
    if (rc != 0) {
        idx_range_result_release(out);
        return rc;
    }
    acc_finish(&a);
    return 0;
}

int idx_tree_range_page(idx_tree *t, const void *key, size_t key_len, bool after_key,
                        const void *end, size_t end_len, int64_t at_rev, size_t limit,
                        idx_range_result *out)
{
    idx_range_result_release(out);
    range_acc a = { out, 0, 0, true };
    int rc = 0;
    tree_rdlock(t);
    block_stream bs;
    stream_seek(&bs, &t->bt, key, key_len, after_key);
    const idx__ki *k;
    /* Loop invariant: out holds every match from the start up to the walk. */
    while (rc == 0 && (limit == 0 || out->count < limit) && (k = stream_next(&bs)) != NULL) {
        if (!below_end(k, end, end_len))
            break;
        idx_rev m;
        if (idx__ki_get(k, at_rev, &m, NULL, NULL) != 0)
            continue;
        out->total++;
        rc = acc_add(&a, k->data, k->key_len, m);
    }
    tree_rdunlock(t);
    if (rc != 0) {
        idx_range_result_release(out);
        return rc;
    }
    acc_finish(&a);
    return 0;
}

size_t idx_tree_count_revisions(idx_tree *t, const void *key, size_t key_len, const void *end,
                                size_t end_len, int64_t at_rev)
{
    size_t n = 0;
    tree_rdlock(t);
    if (end == NULL) {
        const idx__ki *k = idx__khash_find(&t->kh, key, key_len);
        n = k != NULL && idx__ki_get(k, at_rev, NULL, NULL, NULL) == 0;
    } else {
        block_stream bs;
        stream_seek(&bs, &t->bt, key, key_len, false);
        const idx__ki *k;
        while ((k = stream_next(&bs)) != NULL) {
            if (!below_end(k, end, end_len))
                break;
            if (idx__ki_get(k, at_rev, NULL, NULL, NULL) == 0)
                n++;
        }
    }
    tree_rdunlock(t);
    return n;
}

static int rev_sort_cmp(const void *a, const void *b)
{
    return idx_rev_cmp(*(const idx_rev *)a, *(const idx_rev *)b);
}

int idx_tree_range_since(idx_tree *t, const void *key, size_t key_len, const void *end,
                         size_t end_len, int64_t rev, idx_rev_array *out)
{
    size_t first = out->count;
    int rc = 0;
    tree_rdlock(t);
    if (end == NULL) {
        const idx__ki *k = idx__khash_find(&t->kh, key, key_len);
        if (k != NULL)
            rc = idx__ki_since(k, rev, out);
    } else {
        idx__bcursor c;
        for (bool ok = idx__btree_seek(&t->bt, key, key_len, false, &c); ok && rc == 0;
             ok = idx__bcursor_next(&c)) {
            const idx__ki *k = *idx__bcursor_slot(&c);
            if (!below_end(k, end, end_len))
                break;
            rc = idx__ki_since(k, rev, out);
        }
    }
    tree_rdunlock(t);
    if (rc != 0) {
        out->count = first;
        return rc;
    }
    if (end != NULL && out->count - first > 1)
        qsort(out->revs + first, out->count - first, sizeof(idx_rev), rev_sort_cmp);
    return 0;
}

/* ---- compaction (rule 3) ---------------------------------------------------------- */

/* The resume point of a chunked walk: a copy of the last key seen. */
typedef struct walk_pos {
    uint8_t *key;
    size_t len;
    size_t cap;
    bool started;
} walk_pos;

static int walk_remember(walk_pos *w, const idx__ki *k)
{
    if (k->key_len > w->cap) {
        uint8_t *n = strata_realloc(w->key, k->key_len);
        if (n == NULL)
            return -ENOMEM;
        w->key = n;
        w->cap = k->key_len;
    }
    if (k->key_len)
        memcpy(w->key, k->data, k->key_len);
    w->len = k->key_len;
    w->started = true;
    return 0;
}

static bool walk_seek(idx_tree *t, const walk_pos *w, idx__bcursor *c)
{
    if (!w->started)
        return idx__btree_seek(&t->bt, "", 0, false, c);
    return idx__btree_seek(&t->bt, w->key, w->len, true, c);
}

/*
 * One chunked walk for compact (write lock, keys may change) and keep
 * (read lock). Under the lock each key costs one block read, prefetched a
 * few keys ahead; the revisions to keep go to a chunk-local array and
 * into the set after the lock is dropped, so a growing hash table never
 * stalls writers. The cursor survives the unlock when the tree's version
 * shows no insert or delete in between; otherwise the walk seeks past
 * the last key it saw.
 */
static int tree_walk(idx_tree *t, int64_t rev, bool compact, idx_rev_set **keep)
{
    *keep = NULL;
    idx_rev_set *avail;
    int rc = idx_rev_set_new(&avail);
    if (rc != 0)
        return rc;
    walk_pos w = { NULL, 0, 0, false };
    idx__ki *doomed[CHUNK];
    idx_rev kept[CHUNK];
    idx__bcursor c = { NULL, 0 };
    uint64_t seen = 0;
    bool more = true, have_cursor = false;
    while (more && rc == 0) {
        walker_lock(t, compact);
        uint64_t held_from = mono_ns();
        if (!have_cursor || seen != t->bt.version)
            more = walk_seek(t, &w, &c);
        size_t n = 0, ndoomed = 0, nkept = 0;
        bool writer_seen = false;
        idx__ki *last = NULL;
        /* Loop invariant: keys before c are done; doomed ones are still in the tree. */
        while (more && n < CHUNK) {
#if STRATA_FAILPOINTS
            if (idx__walk_hook != NULL)
                idx__walk_hook(idx__walk_hook_arg, n);
#endif
            if (n > 0 && writer_waiting(t)) {
                writer_seen = true;
                break; /* rule 3: step aside at once */
            }
            idx__bcursor_prefetch(&c, 4);
            idx__ki **slot = idx__bcursor_slot(&c);
            bool has;
            if (compact) {
                idx__ki *before = *slot;
                rc = idx__ki_compact_rev(slot, rev, &kept[nkept], &has);
                slot_changed(t, before, slot); /* rule 5 */
            } else
                rc = idx__ki_keep_rev(*slot, rev, &kept[nkept], &has);
            if (rc != 0)
                break;
            nkept += has;
            last = *slot;
            if (compact && idx__ki_is_empty(last))
                doomed[ndoomed++] = last;
            n++;
            more = idx__bcursor_next(&c);
        }
        if (last != NULL && rc == 0)
            rc = walk_remember(&w, last);
        for (size_t i = 0; i < ndoomed; i++) {
            idx__khash_remove(&t->kh, doomed[i]); /* rule 5 */
            idx__ki *gone = idx__btree_delete(&t->bt, doomed[i]->data, doomed[i]->key_len);
            strata_free(gone);
        }
        /* Our own deletes invalidate the cursor too: seek next time. */
        have_cursor = ndoomed == 0;
        seen = t->bt.version;
        uint64_t held_ns = mono_ns() - held_from;
        atomic_store_explicit(&t->walker_holds, false, memory_order_relaxed);
        if (compact)
            tree_wrunlock(t);
        else
            tree_rdunlock(t);
        for (size_t i = 0; i < nkept && rc == 0; i++)
            rc = idx_rev_set_add(avail, kept[i]);
        step_aside(t, writer_seen, held_ns);
    }
    strata_free(w.key);
    if (rc != 0) {
        idx_rev_set_free(avail);
        return rc;
    }
    *keep = avail;
    return 0;
}

int idx_tree_compact(idx_tree *t, int64_t rev, idx_rev_set **keep)
{
    return tree_walk(t, rev, true, keep);
}

int idx_tree_keep(idx_tree *t, int64_t rev, idx_rev_set **keep)
{
    return tree_walk(t, rev, false, keep);
}

bool idx_tree_equal(idx_tree *a, idx_tree *b)
{
    if (a == b)
        return true;
    /* Both read locks in one order (by address): with writer preference,
     * equal(a, b) and equal(b, a) taken in call order could each hold one
     * tree while a waiting writer of the other holds them apart. */
    idx_tree *first = (uintptr_t)a < (uintptr_t)b ? a : b;
    tree_rdlock(first);
    tree_rdlock(first == a ? b : a);
    bool eq = a->bt.count == b->bt.count;
    idx__bcursor ca, cb;
    bool oka = idx__btree_seek(&a->bt, "", 0, false, &ca);
    bool okb = idx__btree_seek(&b->bt, "", 0, false, &cb);
    while (eq && oka && okb) {
        eq = idx__ki_equal(*idx__bcursor_slot(&ca), *idx__bcursor_slot(&cb));
        oka = idx__bcursor_next(&ca);
        okb = idx__bcursor_next(&cb);
    }
    eq = eq && oka == okb;
    tree_rdunlock(b);
    tree_rdunlock(a);
    return eq;
}

int idx_tree_check(idx_tree *t, char *why, size_t why_size)
{
    tree_rdlock(t);
    int rc = idx__btree_check(&t->bt, why, why_size);
    idx__bcursor c;
    for (bool ok = rc == 0 && idx__btree_seek(&t->bt, "", 0, false, &c); ok && rc == 0;
         ok = idx__bcursor_next(&c)) {
        const idx__ki *k = *idx__bcursor_slot(&c);
        rc = idx__ki_check(k, why, why_size);
        if (rc == 0 && k->len == k->key_len)
            rc = idx__fail(why, why_size, "tree: a keyIndex without generations");
        if (rc == 0 && idx__ki_is_empty(k))
            rc = idx__fail(why, why_size, "tree: an empty keyIndex left in the tree");
        if (rc == 0 && idx__khash_find(&t->kh, k->data, k->key_len) != k)
            rc = idx__fail(why, why_size, "tree: a key the hash does not map to its block");
    }
    if (rc == 0)
        rc = idx__khash_check(&t->kh, why, why_size);
    if (rc == 0 && t->kh.count != t->bt.count)
        rc = idx__fail(why, why_size, "tree: %zu keys, the hash has %zu", t->bt.count, t->kh.count);
    tree_rdunlock(t);
    return rc;
}
