/*
 * freelist.c: the free and pending page ids of a bolt file, in memory, and
 * the freelist page (docs/format.md §7). The interface and the page states are
 * described in freelist.h; this file holds both implementations.
 *
 * Rules (checked by bolt__freelist_ok):
 *  1. No id is both free and pending, and none is 0 or 1. nfree counts the
 *     free ids and npending the pending ids exactly.
 *  2. ARRAY: ids[ids_head, ids_head + nfree) holds the free ids strictly
 *     ascending (taking from the front only moves ids_head, as bbolt
 *     reslices its array).
 *     HASHMAP: the free ids form maximal runs (no two runs touch: a run
 *     always absorbs a freed neighbour), each run is in `fwd` under its first
 *     id, in `bwd` under its last id, in exactly one size class (the list
 *     of runs with that length), and every one of its ids is in `free_set`.
 *     Size classes are sorted by length, none is empty.
 *  3. Pending ids live in per-txid records (`txps`, sorted by txid, none
 *     empty); each id carries the txid that allocated it (0 when unknown)
 *     for release_range; every pending id is in `pending_set`.
 *  4. `allocs` maps the first id of a run handed out by allocate to the txid
 *     that took it, as bbolt's `allocs` map; `recs` lists the runs the most
 *     recent allocating txid took, so rollback can give them back (bbolt
 *     re-reads the freelist page instead).
 *  5. Capacity, so that release, release_range and rollback never
 *     allocate and cannot fail: the per-id structures (ARRAY's ids and
 *     scratch, HASHMAP's free_set) have room for reserved_ids >= nfree +
 *     npending ids; HASHMAP's run structures (fwd, bwd, runs, classes) for
 *     reserved_runs >= runs + npending + nrecs runs. free_run (the only
 *     edge adding ids) and allocate (the only one adding a rec) reserve
 *     before they change anything. Releasing one pending id adds at most
 *     one run and removes one pending id; rollback turns each rec back into
 *     at most one new run; so neither sum ever grows past its reservation.
 *     (Should an edge still have to grow and fail, `failed` is set: write
 *     refuses to produce a page and ok() is false, so a wrong list never
 *     reaches the disk.)
 *  6. A stored freelist (bolt__freelist_read, at open) is taken only when
 *     its ids are in [2, pgid), unique and strictly ascending -- as every
 *     writer stores them, bbolt's included -- and refused (BOLT_ECORRUPT,
 *     the reason named) otherwise: bbolt sorts an unsorted list on read,
 *     but an unsorted list is the mark of a damaged page, whose ids cannot
 *     be trusted to be free.
 *
 * Edges and the structures they touch:
 *   allocate      free -> in use            ids / runs, allocs, recs
 *   free_run      in use -> pending[txid]   txps, pending_set, allocs
 *   release       pending[<= txid] -> free  txps -> ids / runs
 *   release_range pending -> free (bbolt's rule, see the function)
 *   rollback      pending[txid] -> in use, recs[txid] -> free
 *
 * Byte order: the page is little-endian (docs/format.md conventions); every
 * field goes through format.h's offsets and load/store helpers, the one
 * place that knows the layout.
 */
#include "freelist.h"

#include "format.h"
#include "id_sort.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- page layout: format.h's (docs/format.md §2, §7.1) ------------------------ */

#define FL_NIL SIZE_MAX

/* ---- open-addressing hash table ---------------------------------------- */

/*
 * Keys are non-zero u64 (page ids >= 2, run lengths >= 1); key 0 marks an
 * empty slot. Linear probing; deletion shifts the following entries back, so
 * there are no tombstones and a lookup stops at the first empty slot. The
 * load factor stays at or below 1/2. `vals` is NULL for a set.
 */
typedef struct fl_map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap; /* 0 or a power of two */
    size_t count;
    bool has_vals;
} fl_map;

static void map_init(fl_map *m, bool has_vals)
{
    memset(m, 0, sizeof *m);
    m->has_vals = has_vals;
}

static void map_release(fl_map *m)
{
    strata_free(m->keys);
    strata_free(m->vals);
    map_init(m, m->has_vals);
}

static size_t map_home(const fl_map *m, uint64_t key)
{
    /* murmur3's finalizer: consecutive ids land far apart. */
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return (size_t)key & (m->cap - 1);
}

/* The slot holding key, or the empty slot where it would go. cap > 0. */
static size_t map_slot(const fl_map *m, uint64_t key)
{
    size_t i = map_home(m, key);
    /* Invariant: every slot between home and i holds another key. */
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static bool map_get(const fl_map *m, uint64_t key, uint64_t *val)
{
    assert(key != 0);
    if (m->count == 0)
        return false;
    size_t i = map_slot(m, key);
    if (m->keys[i] == 0)
        return false;
    if (val != NULL)
        *val = m->vals[i];
    return true;
}

static bool map_has(const fl_map *m, uint64_t key)
{
    return map_get(m, key, NULL);
}

/* Make room for n entries without growing again. 0 or -ENOMEM (unchanged). */
static int map_reserve(fl_map *m, size_t n)
{
    if (n <= m->cap / 2)
        return 0;
    size_t cap = m->cap < 16 ? 16 : m->cap;
    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 2 / sizeof(uint64_t))
            return -ENOMEM;
        cap *= 2;
    }
    uint64_t *keys = strata_calloc(cap, sizeof *keys);
    uint64_t *vals = m->has_vals ? strata_malloc(cap * sizeof *vals) : NULL;
    if (keys == NULL || (m->has_vals && vals == NULL)) {
        strata_free(keys);
        strata_free(vals);
        return -ENOMEM;
    }
    fl_map grown = { keys, vals, cap, 0, m->has_vals };
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0)
            continue;
        size_t j = map_slot(&grown, m->keys[i]);
        grown.keys[j] = m->keys[i];
        if (grown.has_vals)
            grown.vals[j] = m->vals[i];
        grown.count++;
    }
    strata_free(m->keys);
    strata_free(m->vals);
    *m = grown;
    return 0;
}

/* Insert or overwrite. 0, or -ENOMEM (unchanged) when it had to grow and could not. */
static int map_put(fl_map *m, uint64_t key, uint64_t val)
{
    assert(key != 0);
    int rc = map_reserve(m, m->count + 1);
    if (rc != 0)
        return rc;
    size_t i = map_slot(m, key);
    if (m->keys[i] == 0) {
        m->keys[i] = key;
        m->count++;
    }
    if (m->has_vals)
        m->vals[i] = val;
    return 0;
}

static bool map_del(fl_map *m, uint64_t key)
{
    if (m->count == 0)
        return false;
    size_t mask = m->cap - 1;
    size_t hole = map_slot(m, key);
    if (m->keys[hole] == 0)
        return false;
    /*
     * Backward shift: an entry after the hole moves into it unless its home
     * lies cyclically in (hole, j], where it is still reachable without the hole.
     */
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (m->keys[j] == 0)
            break;
        size_t home = map_home(m, m->keys[j]);
        bool reachable = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (reachable)
            continue;
        m->keys[hole] = m->keys[j];
        if (m->has_vals)
            m->vals[hole] = m->vals[j];
        hole = j;
    }
    m->keys[hole] = 0;
    m->count--;
    return true;
}

/* ---- the freelist -------------------------------------------------------- */

/* The ids freed by one transaction (bbolt's txPending). */
typedef struct fl_txp {
    bolt_txid txid;
    bolt_pgid *ids;
    bolt_txid *alloctx; /* alloctx[i]: the txid that allocated ids[i], 0 = unknown */
    size_t n, cap;
    bolt_txid last_release_begin; /* bbolt's lastReleaseBegin; 0 = none */
} fl_txp;

/* A run of free ids (HASHMAP), linked into its size class. */
typedef struct fl_run {
    bolt_pgid start;
    uint64_t size;
    size_t prev, next; /* within the class; FL_NIL ends */
} fl_run;

typedef struct fl_class {
    uint64_t size;
    size_t head; /* first run, FL_NIL never (empty classes are removed) */
    size_t count;
} fl_class;

/* One run handed out by allocate, for rollback. */
typedef struct fl_rec {
    bolt_txid txid;
    bolt_pgid start;
    size_t n;
} fl_rec;

struct bolt__freelist {
    bolt__freelist_kind kind;
    size_t nfree, npending;
    size_t reserved_ids, reserved_runs; /* rule 5 */
    bool failed;

    /* ARRAY: the free ids, ascending, and scratch room for merging. */
    bolt_pgid *ids;
    size_t ids_head, ids_cap;
    bolt_pgid *scratch;
    size_t scratch_cap;

    /* HASHMAP */
    fl_map free_set; /* every free id */
    fl_map fwd;      /* first id -> run index */
    fl_map bwd;      /* last id -> run index */
    fl_run *runs;
    size_t runs_cap, runs_used, runs_spare; /* spare: head of unused slots (via next) */
    fl_class *classes;
    size_t nclasses, classes_cap;

    /* Both */
    fl_txp *txps; /* sorted by txid */
    size_t ntxps, txps_cap;
    fl_map pending_set;
    fl_map allocs; /* first id -> allocating txid */
    fl_rec *recs;
    size_t nrecs, recs_cap;
};

/*
 * Grow the array whose pointer lives at *pp (any element type) to hold at
 * least `need` elements, doubling. The pointer is read and written through
 * memcpy, so one helper serves every element type without aliasing tricks.
 * 0, or -ENOMEM with the array and *cap unchanged.
 */
static int grow_array(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap < 8 ? 8 : *cap;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -ENOMEM;
        n *= 2;
    }
    void *old;
    memcpy(&old, pp, sizeof old);
    void *q = strata_realloc(old, n * elem);
    if (q == NULL)
        return -ENOMEM;
    memcpy(pp, &q, sizeof q);
    *cap = n;
    return 0;
}

#define GROW(arr, cap, need) grow_array(&(arr), &(cap), (need), sizeof *(arr))

int bolt__freelist_new(bolt__freelist_kind kind, bolt__freelist **out)
{
    *out = NULL;
    if (kind != BOLT__FREELIST_ARRAY && kind != BOLT__FREELIST_HASHMAP)
        return STRATA_EMISUSE;
    bolt__freelist *f = strata_calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    f->kind = kind;
    map_init(&f->free_set, false);
    map_init(&f->fwd, true);
    map_init(&f->bwd, true);
    map_init(&f->pending_set, false);
    map_init(&f->allocs, true);
    f->runs_spare = FL_NIL;
    *out = f;
    return 0;
}

static void freelist_release_all(bolt__freelist *f)
{
    strata_free(f->ids);
    strata_free(f->scratch);
    map_release(&f->free_set);
    map_release(&f->fwd);
    map_release(&f->bwd);
    strata_free(f->runs);
    strata_free(f->classes);
    for (size_t i = 0; i < f->ntxps; i++) {
        strata_free(f->txps[i].ids);
        strata_free(f->txps[i].alloctx);
    }
    strata_free(f->txps);
    map_release(&f->pending_set);
    map_release(&f->allocs);
    strata_free(f->recs);
}

void bolt__freelist_free(bolt__freelist *f)
{
    if (f == NULL)
        return;
    freelist_release_all(f);
    strata_free(f);
}

/* Largest number of distinct run lengths among runs holding at most n ids. */
static size_t classes_bound(size_t n)
{
    size_t d = 0;
    /* Invariant: lengths 1..d sum to d(d+1)/2 <= n. */
    while ((d + 1) * (d + 2) / 2 <= n)
        d++;
    return d + 1;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/*
 * Rule 5: make room for `ids` free + pending ids and (HASHMAP) `runs` runs
 * + pending ids + recs. Grows geometrically. 0 or -ENOMEM; what was grown
 * stays grown (the contents are unchanged either way).
 */
static int freelist_reserve(bolt__freelist *f, size_t ids, size_t runs)
{
    int rc = 0;
    if (ids > f->reserved_ids) {
        size_t want = max_size(f->reserved_ids * 2, ids);
        if (f->kind == BOLT__FREELIST_ARRAY) {
            rc = GROW(f->ids, f->ids_cap, want);
            if (rc == 0)
                rc = GROW(f->scratch, f->scratch_cap, want);
        } else {
            rc = map_reserve(&f->free_set, want);
        }
        if (rc != 0)
            return rc;
        f->reserved_ids = want;
    }
    if (f->kind == BOLT__FREELIST_ARRAY)
        return 0;
    if (runs > f->reserved_runs) {
        size_t want = max_size(f->reserved_runs * 2, runs);
        if ((rc = map_reserve(&f->fwd, want)) != 0 || (rc = map_reserve(&f->bwd, want)) != 0 ||
            (rc = GROW(f->runs, f->runs_cap, want)) != 0)
            return rc;
        f->reserved_runs = want;
    }
    /* Distinct run lengths: no more than the runs, nor than sizes 1..d summing to <= ids. */
    return GROW(f->classes, f->classes_cap,
                min_size(f->reserved_runs, classes_bound(f->reserved_ids)));
}

/* The runs + pending + recs count of rule 5 (0 for ARRAY). */
static size_t freelist_run_load(const bolt__freelist *f)
{
    if (f->kind == BOLT__FREELIST_ARRAY)
        return 0;
    return f->runs_used + f->npending + f->nrecs;
}

/* ---- HASHMAP: runs and size classes --------------------------------------- */

/* Index of the first class with size >= size (nclasses when none). */
static size_t class_lower_bound(const bolt__freelist *f, uint64_t size)
{
    size_t lo = 0, hi = f->nclasses;
    /* Invariant: classes[< lo] are smaller than size, classes[>= hi] are not. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->classes[mid].size < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void class_unlink(bolt__freelist *f, size_t idx)
{
    fl_run *r = &f->runs[idx];
    size_t c = class_lower_bound(f, r->size);
    assert(c < f->nclasses && f->classes[c].size == r->size);
    if (r->prev != FL_NIL)
        f->runs[r->prev].next = r->next;
    else
        f->classes[c].head = r->next;
    if (r->next != FL_NIL)
        f->runs[r->next].prev = r->prev;
    if (--f->classes[c].count == 0) {
        memmove(&f->classes[c], &f->classes[c + 1], (f->nclasses - c - 1) * sizeof f->classes[0]);
        f->nclasses--;
    }
}

static int class_link(bolt__freelist *f, size_t idx)
{
    fl_run *r = &f->runs[idx];
    size_t c = class_lower_bound(f, r->size);
    if (c == f->nclasses || f->classes[c].size != r->size) {
        int rc = GROW(f->classes, f->classes_cap, f->nclasses + 1);
        if (rc != 0)
            return rc;
        memmove(&f->classes[c + 1], &f->classes[c], (f->nclasses - c) * sizeof f->classes[0]);
        f->classes[c] = (fl_class){ r->size, FL_NIL, 0 };
        f->nclasses++;
    }
    r->prev = FL_NIL;
    r->next = f->classes[c].head;
    if (r->next != FL_NIL)
        f->runs[r->next].prev = idx;
    f->classes[c].head = idx;
    f->classes[c].count++;
    return 0;
}

/* Forget run idx (its ids stay in free_set; the caller decides). */
static void span_del(bolt__freelist *f, size_t idx)
{
    fl_run *r = &f->runs[idx];
    class_unlink(f, idx);
    map_del(&f->fwd, r->start);
    map_del(&f->bwd, r->start + r->size - 1);
    r->next = f->runs_spare;
    f->runs_spare = idx;
    f->runs_used--;
}

/* Record the run [start, start + size) (its ids are already in free_set). */
static int span_add(bolt__freelist *f, bolt_pgid start, uint64_t size)
{
    int rc = 0;
    if (f->runs_spare == FL_NIL) {
        rc = GROW(f->runs, f->runs_cap, f->runs_used + 1);
        if (rc != 0)
            return rc;
    }
    /* Grow everything first so a failure leaves the run table as it was. */
    size_t c = class_lower_bound(f, size);
    bool new_class = c == f->nclasses || f->classes[c].size != size;
    if ((rc = map_reserve(&f->fwd, f->fwd.count + 1)) != 0 ||
        (rc = map_reserve(&f->bwd, f->bwd.count + 1)) != 0 ||
        (new_class && (rc = GROW(f->classes, f->classes_cap, f->nclasses + 1)) != 0))
        return rc;
    size_t idx;
    if (f->runs_spare != FL_NIL) {
        idx = f->runs_spare;
        f->runs_spare = f->runs[idx].next;
    } else {
        /* Slots [0, runs_used) are all in use when there is no spare one. */
        idx = f->runs_used;
    }
    f->runs_used++;
    f->runs[idx] = (fl_run){ start, size, FL_NIL, FL_NIL };
    (void)map_put(&f->fwd, start, idx);
    (void)map_put(&f->bwd, start + size - 1, idx);
    (void)class_link(f, idx);
    return 0;
}

/* Make the in-use id free (HASHMAP), merging with the runs it touches. */
static int hmap_merge_id(bolt__freelist *f, bolt_pgid id)
{
    uint64_t prev, next;
    bolt_pgid start = id;
    uint64_t size = 1;
    int rc = map_put(&f->free_set, id, 0);
    if (rc != 0)
        return rc;
    if (map_get(&f->bwd, id - 1, &prev)) {
        start = f->runs[prev].start;
        size += f->runs[prev].size;
        span_del(f, (size_t)prev);
    }
    if (map_get(&f->fwd, id + 1, &next)) {
        size += f->runs[next].size;
        span_del(f, (size_t)next);
    }
    rc = span_add(f, start, size);
    if (rc != 0)
        return rc;
    f->nfree++;
    return 0;
}

/* ---- ARRAY: merging ids into the sorted array ---------------------------- */

static int cmp_pgid(const void *a, const void *b)
{
    bolt_pgid x = *(const bolt_pgid *)a, y = *(const bolt_pgid *)b;
    return (x > y) - (x < y);
}

/* Sort ids ascending in place, without allocating (rule 5): id_sort.h. */
#define PGID_KEY(x) (x)
BOLT__DEFINE_ID_SORT(pgid_sort, bolt_pgid, PGID_KEY)

/* Merge scratch[0, m) (in-use ids, any order) into the free ids (ARRAY). */
static int array_merge_scratch(bolt__freelist *f, size_t m)
{
    if (m == 0)
        return 0;
    if (f->ids_head + f->nfree + m > f->ids_cap) {
        int rc = GROW(f->ids, f->ids_cap, f->nfree + m);
        if (rc != 0)
            return rc;
        if (f->ids_head + f->nfree + m > f->ids_cap) {
            memmove(f->ids, f->ids + f->ids_head, f->nfree * sizeof f->ids[0]);
            f->ids_head = 0;
        }
    }
    pgid_sort(f->scratch, m);
    /* Drop repeats (misuse can queue an id twice; never insert it twice). */
    size_t u = 1;
    for (size_t r = 1; r < m; r++) {
        if (f->scratch[r] != f->scratch[u - 1])
            f->scratch[u++] = f->scratch[r];
    }
    m = u;
    /*
     * Merge from the back into a[0, nfree + m): the write position k is
     * always past the unread part of a, so nothing unread is overwritten.
     */
    bolt_pgid *a = f->ids + f->ids_head;
    size_t i = f->nfree, j = m, k = f->nfree + m;
    while (j > 0) {
        if (i > 0 && a[i - 1] > f->scratch[j - 1])
            a[--k] = a[--i];
        else
            a[--k] = f->scratch[--j];
    }
    f->nfree += m;
    return 0;
}

/* Queue id to become free (ARRAY: into scratch; HASHMAP: merged at once). */
static void freelist_add_free(bolt__freelist *f, bolt_pgid id, size_t *m)
{
    if (f->kind == BOLT__FREELIST_ARRAY) {
        if (GROW(f->scratch, f->scratch_cap, *m + 1) != 0) {
            f->failed = true;
            return;
        }
        f->scratch[(*m)++] = id;
    } else if (hmap_merge_id(f, id) != 0) {
        f->failed = true;
    }
}

static void freelist_flush_free(bolt__freelist *f, size_t m)
{
    if (f->kind == BOLT__FREELIST_ARRAY && array_merge_scratch(f, m) != 0)
        f->failed = true;
}

/* ---- membership ---------------------------------------------------------- */

static bool freelist_is_free(const bolt__freelist *f, bolt_pgid id)
{
    if (f->kind == BOLT__FREELIST_HASHMAP)
        return id >= 2 && map_has(&f->free_set, id);
    /* Binary search inline (bsearch's callback per step: free_run asks for every page it frees). */
    if (f->nfree == 0)
        return false; /* ids may be NULL: no offset may be applied to it */
    const bolt_pgid *a = f->ids + f->ids_head;
    size_t lo = 0, hi = f->nfree;
    /* Invariant: a[< lo] < id, a[>= hi] > id (rule 2: ascending). */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < id)
            lo = mid + 1;
        else if (a[mid] > id)
            hi = mid;
        else
            return true;
    }
    return false;
}

bool bolt__freelist_freed(const bolt__freelist *f, bolt_pgid id)
{
    if (id < 2)
        return false;
    return map_has(&f->pending_set, id) || freelist_is_free(f, id);
}

size_t bolt__freelist_free_count(const bolt__freelist *f)
{
    return f->nfree;
}

size_t bolt__freelist_pending_count(const bolt__freelist *f)
{
    return f->npending;
}

/* ---- allocate -------------------------------------------------------------- */

/* ARRAY: the lowest run of n ids (bbolt's arrayAllocate), or 0. */
static bolt_pgid array_allocate(bolt__freelist *f, size_t n)
{
    if (f->nfree == 0)
        return 0; /* and ids may be NULL: no arithmetic on it */
    bolt_pgid *a = f->ids + f->ids_head;
    bolt_pgid initial = 0, previd = 0;
    /* Invariant: a[i - (previd - initial) .. i - 1] are initial..previd. */
    for (size_t i = 0; i < f->nfree; i++) {
        bolt_pgid id = a[i];
        assert(id > 1);
        if (previd == 0 || id - previd != 1)
            initial = id;
        if (id - initial + 1 == n) {
            /* Close the gap from the shorter side (from the front: no copy at all). */
            size_t first = i + 1 - n, after = f->nfree - i - 1;
            if (first <= after) {
                memmove(a + n, a, first * sizeof a[0]);
                f->ids_head += n;
            } else {
                memmove(a + first, a + i + 1, after * sizeof a[0]);
            }
            f->nfree -= n;
            return initial;
        }
        previd = id;
    }
    return 0;
}

#define HMAP_LOW_SCAN 32

/*
 * HASHMAP: a run from the smallest size class that holds n ids (an exact
 * fit when there is one, as bbolt's hashmapAllocate tries first; bbolt then
 * takes any larger run, strata the smallest, which keeps long runs whole for
 * large allocations, and the long run at the file's tail whole for the
 * shrink). Within a class, the lowest of the first runs linked.
 */
static bolt_pgid hmap_allocate(bolt__freelist *f, size_t n)
{
    size_t c = class_lower_bound(f, n);
    if (c == f->nclasses)
        return 0;
    /*
     * Prefer low ids (free space gathers at the tail, where a commit can
     * give it back: tx.c's shrink): the lowest-starting of the first
     * HMAP_LOW_SCAN runs of the class, a bounded look instead of a scan.
     */
    size_t idx = f->classes[c].head;
    size_t look = idx;
    for (int k = 0; k < HMAP_LOW_SCAN && look != FL_NIL; k++, look = f->runs[look].next)
        if (f->runs[look].start < f->runs[idx].start)
            idx = look;
    bolt_pgid start = f->runs[idx].start;
    uint64_t size = f->runs[idx].size;
    /* A run is split into two at most; the remainder takes the freed slot. */
    span_del(f, idx);
    if (size > n && span_add(f, start + n, size - n) != 0)
        f->failed = true; /* cannot happen: it reuses the slot just freed (rule 5) */
    for (size_t i = 0; i < n; i++)
        map_del(&f->free_set, start + i);
    f->nfree -= n;
    return start;
}

/*
 * Before an allocation by txid: recs holds one txid's runs (a new allocating
 * txid means the last one ended), and everything the allocation will record
 * is reserved before anything is taken, so a failure (-1) reads as "no run"
 * (grow the file).
 */
static int alloc_prepare(bolt__freelist *f, bolt_txid txid)
{
    if (f->nrecs > 0 && f->recs[0].txid != txid)
        f->nrecs = 0;
    if (map_reserve(&f->allocs, f->allocs.count + 1) != 0 ||
        GROW(f->recs, f->recs_cap, f->nrecs + 1) != 0 ||
        freelist_reserve(f, 0, freelist_run_load(f) + 1) != 0)
        return -1;
    return 0;
}

/* After a successful allocation: noted for rollback and release (space reserved by alloc_prepare).
 */
static bolt_pgid alloc_record(bolt__freelist *f, bolt_txid txid, bolt_pgid start, size_t n)
{
    (void)map_put(&f->allocs, start, txid);
    f->recs[f->nrecs++] = (fl_rec){ txid, start, n };
    return start;
}

bolt_pgid bolt__freelist_allocate(bolt__freelist *f, bolt_txid txid, size_t n)
{
    if (n == 0 || n > f->nfree || f->failed || alloc_prepare(f, txid) != 0)
        return 0;
    bolt_pgid start = f->kind == BOLT__FREELIST_ARRAY ? array_allocate(f, n) : hmap_allocate(f, n);
    if (start == 0)
        return 0;
    assert(start > 1);
    return alloc_record(f, txid, start, n);
}

/* ARRAY: take [id, id + n) when all are free; 0 when not. */
static bolt_pgid array_allocate_at(bolt__freelist *f, bolt_pgid id, size_t n)
{
    bolt_pgid *a = f->ids + f->ids_head;
    size_t lo = 0, hi = f->nfree;
    /* Invariant: a[< lo] < id, a[>= hi] >= id. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo + n > f->nfree || a[lo] != id || a[lo + n - 1] != id + n - 1)
        return 0; /* ascending and distinct: the ends decide */
    size_t first = lo, after = f->nfree - lo - n;
    if (first <= after) {
        memmove(a + n, a, first * sizeof a[0]);
        f->ids_head += n;
    } else {
        memmove(a + first, a + first + n, after * sizeof a[0]);
    }
    f->nfree -= n;
    return id;
}

/* HASHMAP: take [id, id + n) when a free run starts at id and holds n; 0 when not. */
static bolt_pgid hmap_allocate_at(bolt__freelist *f, bolt_pgid id, size_t n)
{
    uint64_t idx;
    if (!map_get(&f->fwd, id, &idx) || f->runs[idx].size < n)
        return 0;
    uint64_t size = f->runs[idx].size;
    span_del(f, (size_t)idx);
    if (size > n && span_add(f, id + n, size - n) != 0)
        f->failed = true; /* cannot happen: it reuses the slot just freed (rule 5) */
    for (size_t i = 0; i < n; i++)
        map_del(&f->free_set, id + i);
    f->nfree -= n;
    return id;
}

bolt_pgid bolt__freelist_allocate_at(bolt__freelist *f, bolt_txid txid, bolt_pgid id, size_t n)
{
    if (n == 0 || n > f->nfree || f->failed || id < 2 || alloc_prepare(f, txid) != 0)
        return 0;
    bolt_pgid start = f->kind == BOLT__FREELIST_ARRAY ? array_allocate_at(f, id, n)
                                                      : hmap_allocate_at(f, id, n);
    if (start == 0)
        return 0;
    return alloc_record(f, txid, start, n);
}

bolt_pgid bolt__freelist_find_run(const bolt__freelist *f, size_t n, bolt_pgid hwm, size_t max_tail,
                                  size_t *len)
{
    *len = 0;
    if (n == 0 || n > f->nfree || f->failed)
        return 0;
    if (f->kind == BOLT__FREELIST_HASHMAP) {
        bolt_pgid best = 0;
        for (size_t c = class_lower_bound(f, n); c < f->nclasses; c++) {
            size_t look = f->classes[c].head;
            for (int k = 0; k < HMAP_LOW_SCAN && look != FL_NIL; k++, look = f->runs[look].next) {
                if (f->runs[look].start + f->runs[look].size == hwm &&
                    f->runs[look].size > max_tail)
                    continue; /* the tail run: the shrink's */
                if (best == 0 || f->runs[look].start < best) {
                    best = f->runs[look].start;
                    *len = (size_t)f->runs[look].size;
                }
            }
        }
        return best;
    }
    const bolt_pgid *a = f->ids + f->ids_head;
    size_t i = 0;
    while (i < f->nfree) {
        size_t j = i + 1;
        while (j < f->nfree && a[j] == a[j - 1] + 1)
            j++;
        if (j - i >= n && (a[j - 1] + 1 != hwm || j - i <= max_tail)) {
            *len = j - i;
            return a[i];
        }
        i = j;
    }
    return 0;
}

/* ---- the tail (shrink) ---------------------------------------------------- */

size_t bolt__freelist_tail_run(const bolt__freelist *f, bolt_pgid hwm)
{
    if (hwm < 3 || f->nfree == 0 || f->failed)
        return 0;
    if (f->kind == BOLT__FREELIST_HASHMAP) {
        uint64_t idx;
        return map_get(&f->bwd, hwm - 1, &idx) ? (size_t)f->runs[idx].size : 0;
    }
    const bolt_pgid *a = f->ids + f->ids_head;
    size_t k = 0;
    while (k < f->nfree && a[f->nfree - 1 - k] == hwm - 1 - k)
        k++;
    return k;
}

void bolt__freelist_trim(bolt__freelist *f, bolt_pgid hwm, size_t n)
{
    assert(n <= bolt__freelist_tail_run(f, hwm));
    if (n == 0)
        return;
    if (f->kind == BOLT__FREELIST_HASHMAP) {
        uint64_t idx;
        if (!map_get(&f->bwd, hwm - 1, &idx))
            return;
        bolt_pgid start = f->runs[idx].start;
        uint64_t size = f->runs[idx].size;
        span_del(f, (size_t)idx);
        /* The rest of the run takes the slot just freed (no allocation, rule 5). */
        if (size > n && span_add(f, start, size - n) != 0)
            f->failed = true;
        for (bolt_pgid id = hwm - n; id < hwm; id++)
            map_del(&f->free_set, id);
    }
    /* ARRAY: the tail run is the end of the ascending array. */
    f->nfree -= n;
}

void bolt__freelist_untrim(bolt__freelist *f, bolt_pgid start, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        freelist_add_free(f, start + i, &m);
    freelist_flush_free(f, m);
}

/* ---- pending ------------------------------------------------------------- */

/* Index of the first txp with txid >= txid. */
static size_t txp_lower_bound(const bolt__freelist *f, bolt_txid txid)
{
    size_t lo = 0, hi = f->ntxps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->txps[mid].txid < txid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void txp_remove(bolt__freelist *f, size_t i)
{
    strata_free(f->txps[i].ids);
    strata_free(f->txps[i].alloctx);
    memmove(&f->txps[i], &f->txps[i + 1], (f->ntxps - i - 1) * sizeof f->txps[0]);
    f->ntxps--;
}

int bolt__freelist_free_run(bolt__freelist *f, bolt_txid txid, bolt_pgid id, uint32_t overflow,
                            bool is_freelist_page)
{
    /* The last id must stay below UINT64_MAX so that id + 1 never wraps to 0. */
    if (id < 2 || id >= UINT64_MAX - overflow)
        return BOLT_EPANIC;
    size_t len = (size_t)overflow + 1;
    for (size_t i = 0; i < len; i++) {
        if (bolt__freelist_freed(f, id + i))
            return BOLT_EPANIC; /* double free */
    }

    /* Reserve everything first: on failure nothing has changed. */
    int rc = freelist_reserve(f, f->nfree + f->npending + len, freelist_run_load(f) + len);
    if (rc == 0)
        rc = map_reserve(&f->pending_set, f->npending + len);
    if (rc != 0)
        return rc;
    size_t t = txp_lower_bound(f, txid);
    if (t == f->ntxps || f->txps[t].txid != txid) {
        fl_txp fresh = { txid, NULL, NULL, 0, 0, 0 };
        if ((rc = GROW(f->txps, f->txps_cap, f->ntxps + 1)) != 0 ||
            (rc = GROW(fresh.ids, fresh.cap, len)) != 0)
            return rc;
        size_t cap = 0;
        if ((rc = GROW(fresh.alloctx, cap, fresh.cap)) != 0) {
            strata_free(fresh.ids);
            return rc;
        }
        memmove(&f->txps[t + 1], &f->txps[t], (f->ntxps - t) * sizeof f->txps[0]);
        f->txps[t] = fresh;
        f->ntxps++;
    } else {
        fl_txp *p = &f->txps[t];
        if (p->n + len > p->cap) {
            size_t cap = p->cap, cap2 = p->cap;
            if ((rc = GROW(p->ids, cap, p->n + len)) != 0 ||
                (rc = GROW(p->alloctx, cap2, cap)) != 0)
                return rc; /* a grown ids array is harmless */
            p->cap = cap;
        }
    }

    /* bbolt's free(): the allocating txid, or txid - 1 for the old freelist run. */
    uint64_t alloc_txid = 0;
    if (map_get(&f->allocs, id, &alloc_txid))
        map_del(&f->allocs, id);
    else if (is_freelist_page)
        alloc_txid = txid - 1;
    fl_txp *p = &f->txps[t];
    for (size_t i = 0; i < len; i++) {
        p->ids[p->n] = id + i;
        p->alloctx[p->n] = alloc_txid;
        p->n++;
        (void)map_put(&f->pending_set, id + i, 0); /* reserved above */
    }
    f->npending += len;
    return 0;
}

void bolt__freelist_release(bolt__freelist *f, bolt_txid txid)
{
    size_t m = 0, end = txid == UINT64_MAX ? f->ntxps : txp_lower_bound(f, txid + 1);
    for (size_t t = 0; t < end; t++) {
        fl_txp *p = &f->txps[t];
        for (size_t i = 0; i < p->n; i++) {
            map_del(&f->pending_set, p->ids[i]);
            freelist_add_free(f, p->ids[i], &m);
        }
        f->npending -= p->n;
        strata_free(p->ids);
        strata_free(p->alloctx);
    }
    freelist_flush_free(f, m);
    if (end > 0) {
        memmove(&f->txps[0], &f->txps[end], (f->ntxps - end) * sizeof f->txps[0]);
        f->ntxps -= end;
    }
}

/*
 * bbolt 1.3.6's releaseRange(begin, end), rule for rule:
 *  - nothing when begin > end;
 *  - only pending records of a txid in [begin, end] are looked at, and a
 *    record whose last_release_begin equals begin is skipped (bbolt's
 *    "ranges haven't updated" shortcut: with the same begin nothing new is
 *    expected, even when end has grown; it only delays a release);
 *  - in a record looked at, an id becomes free when its allocating txid is
 *    in [begin, end] (0 = unknown never is, unless begin is 0); the record
 *    then remembers begin, and goes away when it has no ids left.
 */
void bolt__freelist_release_range(bolt__freelist *f, bolt_txid begin, bolt_txid end)
{
    if (begin > end)
        return;
    size_t m = 0;
    size_t t = txp_lower_bound(f, begin);
    /* Invariant: records before t are not in range or were kept non-empty. */
    while (t < f->ntxps && f->txps[t].txid <= end) {
        fl_txp *p = &f->txps[t];
        if (p->last_release_begin == begin) {
            t++;
            continue;
        }
        for (size_t i = 0; i < p->n;) {
            bolt_txid atx = p->alloctx[i];
            if (atx < begin || atx > end) {
                i++;
                continue;
            }
            bolt_pgid id = p->ids[i];
            p->ids[i] = p->ids[p->n - 1];
            p->alloctx[i] = p->alloctx[p->n - 1];
            p->n--;
            f->npending--;
            map_del(&f->pending_set, id);
            freelist_add_free(f, id, &m);
        }
        p->last_release_begin = begin;
        if (p->n == 0)
            txp_remove(f, t);
        else
            t++;
    }
    freelist_flush_free(f, m);
}

void bolt__freelist_rollback(bolt__freelist *f, bolt_txid txid)
{
    size_t m = 0;
    size_t t = txp_lower_bound(f, txid);
    if (t < f->ntxps && f->txps[t].txid == txid) {
        fl_txp *p = &f->txps[t];
        for (size_t i = 0; i < p->n; i++) {
            bolt_pgid id = p->ids[i];
            bolt_txid atx = p->alloctx[i];
            map_del(&f->pending_set, id);
            if (atx == txid) {
                freelist_add_free(f, id, &m); /* allocated and freed by txid */
            } else if (atx != 0) {
                /* bbolt restores the attribution per id; losing it only delays reuse. */
                (void)map_put(&f->allocs, id, atx);
            }
        }
        f->npending -= p->n;
        txp_remove(f, t);
        /* Merge now, so the membership test below sees these ids. */
        freelist_flush_free(f, m);
        m = 0;
    }
    /*
     * The runs txid took go back: bbolt gets the same result by re-reading
     * the committed freelist page minus what is still pending.
     */
    bool mine = f->nrecs > 0 && f->recs[0].txid == txid;
    for (size_t r = 0; mine && r < f->nrecs; r++) {
        fl_rec *rec = &f->recs[r];
        uint64_t owner;
        if (map_get(&f->allocs, rec->start, &owner) && owner == txid)
            map_del(&f->allocs, rec->start);
        for (size_t i = 0; i < rec->n; i++) {
            bolt_pgid id = rec->start + i;
            /* Pending for another txid (misuse) stays pending: never free an id twice. */
            if (!map_has(&f->pending_set, id) && !freelist_is_free(f, id))
                freelist_add_free(f, id, &m);
        }
    }
    if (mine)
        f->nrecs = 0;
    freelist_flush_free(f, m);
}

/* ---- the page image -------------------------------------------------------- */

size_t bolt__freelist_page_size(const bolt__freelist *f)
{
    size_t n = f->nfree + f->npending;
    if (n >= BOLT_FREELIST_COUNT_ESCAPE)
        n++;
    return BOLT_PAGE_HEADER_SIZE + 8 * n;
}

static uint64_t buf_get(const unsigned char *b, size_t i)
{
    return bolt__ld64(b + 8 * i);
}

static void buf_set(unsigned char *b, size_t i, uint64_t v)
{
    bolt__st64(b + 8 * i, v);
}

static void buf_sift(unsigned char *b, size_t root, size_t n)
{
    uint64_t v = buf_get(b, root);
    /* Invariant: v belongs at root or below; everything above is a heap. */
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            break;
        uint64_t c = buf_get(b, child);
        if (child + 1 < n) {
            uint64_t c2 = buf_get(b, child + 1);
            if (c2 > c) {
                child++;
                c = c2;
            }
        }
        if (c <= v)
            break;
        buf_set(b, root, c);
        root = child;
    }
    buf_set(b, root, v);
}

/*
 * Sort n little-endian u64 in place, any alignment: through an array (on
 * the stack up to 256 ids, else allocated) and pgid_sort, several times
 * faster than heapsort's loads and stores of unaligned little-endian words;
 * when the allocation fails, heapsort in the buffer itself, so sorting never
 * fails. Both give the same bytes.
 */
static void buf_sort(unsigned char *b, size_t n)
{
    if (n < 2)
        return;
    uint64_t small[256]; /* a commit's pending ids usually fit (B3: ~130) */
    uint64_t *tmp = n <= 256 ? small : strata_malloc(n * sizeof *tmp);
    if (tmp != NULL) {
        for (size_t i = 0; i < n; i++)
            tmp[i] = buf_get(b, i);
        pgid_sort(tmp, n);
        for (size_t i = 0; i < n; i++)
            buf_set(b, i, tmp[i]);
        if (tmp != small)
            strata_free(tmp);
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        buf_sift(b, i, n);
    for (size_t last = n - 1; last > 0; last--) {
        uint64_t top = buf_get(b, 0);
        buf_set(b, 0, buf_get(b, last));
        buf_set(b, last, top);
        buf_sift(b, 0, last);
    }
}

/* Store the pending ids at out[0, npending), in no particular order. */
static void buf_put_pending(const bolt__freelist *f, unsigned char *out)
{
    size_t k = 0;
    for (size_t t = 0; t < f->ntxps; t++) {
        for (size_t i = 0; i < f->txps[t].n; i++)
            buf_set(out, k++, f->txps[t].ids[i]);
    }
}

/*
 * Store the sorted union of free and pending ids at out[0, nfree +
 * npending), without allocating (write must not fail for memory).
 */
static void buf_put_sorted(const bolt__freelist *f, unsigned char *out)
{
    size_t np = f->npending, n = f->nfree + f->npending;
    buf_put_pending(f, out);
    if (f->kind == BOLT__FREELIST_ARRAY) {
        buf_sort(out, np);
        /* Merge from the back, as array_merge_scratch does. */
        const bolt_pgid *a = f->nfree > 0 ? f->ids + f->ids_head : NULL; /* ids NULL: empty */
        size_t i = np, j = f->nfree, k = n;
        while (j > 0) {
            if (i > 0 && buf_get(out, i - 1) > a[j - 1]) {
                i--;
                buf_set(out, --k, buf_get(out, i));
            } else {
                buf_set(out, --k, a[--j]);
            }
        }
        return;
    }
    /*
     * HASHMAP: sort one entry per run (its first id) together with the
     * pending ids, then expand the runs from the back. Entry d expands to
     * positions >= d (every entry before it stands for at least one id), so
     * the expansion never overwrites an entry not yet read.
     */
    size_t d = np;
    for (size_t s = 0; s < f->fwd.cap; s++) {
        if (f->fwd.keys[s] != 0)
            buf_set(out, d++, f->fwd.keys[s]);
    }
    buf_sort(out, d);
    size_t k = n;
    while (d-- > 0) {
        bolt_pgid start = buf_get(out, d);
        uint64_t idx, size = 1; /* a pending id */
        if (map_get(&f->fwd, start, &idx))
            size = f->runs[idx].size;
        assert(k >= d + size);
        for (uint64_t s = size; s-- > 0;)
            buf_set(out, --k, start + s);
    }
    assert(k == 0);
}

int bolt__freelist_write(const bolt__freelist *f, unsigned char *buf, size_t size)
{
    if (f->failed)
        return -ENOMEM;
    size_t need = bolt__freelist_page_size(f);
    if (buf == NULL || size < need)
        return STRATA_EMISUSE;
    size_t n = f->nfree + f->npending;
    size_t off = BOLT_PAGE_HEADER_SIZE;
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_FREELIST);
    if (n >= BOLT_FREELIST_COUNT_ESCAPE) {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, BOLT_FREELIST_COUNT_ESCAPE);
        bolt__st64(buf + off, n);
        off += 8;
    } else {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    }
    buf_put_sorted(f, buf + off);
    memset(buf + need, 0, size - need);
    return 0;
}

/*
 * Replace f's contents with the sorted, validated ids (all free). Builds a
 * fresh freelist first, so a failure leaves f as it was.
 */
static int freelist_replace(bolt__freelist *f, const bolt_pgid *ids, size_t n)
{
    bolt__freelist *nf;
    int rc = bolt__freelist_new(f->kind, &nf);
    if (rc != 0)
        return rc;
    size_t nruns = 0;
    for (size_t i = 0; i < n; i++)
        nruns += i == 0 || ids[i] != ids[i - 1] + 1;
    rc = freelist_reserve(nf, n, nruns);
    if (rc == 0 && nf->kind == BOLT__FREELIST_ARRAY) {
        if (n > 0)
            memcpy(nf->ids, ids, n * sizeof ids[0]);
        nf->nfree = n;
    } else if (rc == 0) {
        /* Invariant: ids[run, i) are one run of consecutive ids. */
        size_t run = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = map_put(&nf->free_set, ids[i], 0);
            if (rc == 0 && (i + 1 == n || ids[i + 1] != ids[i] + 1)) {
                rc = span_add(nf, ids[run], i + 1 - run);
                run = i + 1;
            }
        }
        nf->nfree = n;
    }
    if (rc != 0) {
        bolt__freelist_free(nf);
        return rc;
    }
    freelist_release_all(f);
    *f = *nf;
    strata_free(nf);
    return 0;
}

/*
 * Check ids (docs/format.md §7.1): each in [2, hwm), no duplicates; with
 * sorted, also strictly ascending as every writer stores them (bbolt's
 * included), else they are sorted here first. 0, or BOLT_ECORRUPT with the
 * reason in why[0, whysize) (when why is not NULL).
 */
static int ids_validate(bolt_pgid *ids, size_t n, bolt_pgid hwm, bool sorted, char *why,
                        size_t whysize)
{
    if (!sorted)
        qsort(ids, n, sizeof ids[0], cmp_pgid);
    for (size_t i = 0; i < n; i++) {
        const char *what = NULL;
        if (ids[i] < 2 || ids[i] >= hwm)
            what = "out of range (a meta page, or at or past the high-water mark)";
        else if (i > 0 && ids[i] == ids[i - 1])
            what = "listed twice";
        else if (i > 0 && ids[i] < ids[i - 1])
            what = "not in ascending order";
        if (what == NULL)
            continue;
        if (why != NULL && whysize > 0)
            snprintf(why, whysize, "freelist id %llu (entry %zu of %zu) %s",
                     (unsigned long long)ids[i], i, n, what);
        return BOLT_ECORRUPT;
    }
    return 0;
}

int bolt__freelist_load_ids(bolt__freelist *f, const bolt_pgid *ids, size_t n, bolt_pgid hwm)
{
    if (n > 0 && ids == NULL)
        return STRATA_EMISUSE;
    bolt_pgid *copy = strata_malloc((n > 0 ? n : 1) * sizeof *copy);
    if (copy == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(copy, ids, n * sizeof *copy);
    int rc = ids_validate(copy, n, hwm, false, NULL, 0);
    if (rc == 0)
        rc = freelist_replace(f, copy, n);
    strata_free(copy);
    return rc;
}

int bolt__freelist_read(bolt__freelist *f, const unsigned char *page, size_t avail, bolt_pgid hwm)
{
    return bolt__freelist_read_why(f, page, avail, hwm, NULL, 0);
}

/* Rule 6: the open-time checks of a stored freelist (the tree walk is db.c's). */
int bolt__freelist_read_why(bolt__freelist *f, const unsigned char *page, size_t avail,
                            bolt_pgid hwm, char *why, size_t whysize)
{
    if (why != NULL && whysize > 0)
        why[0] = '\0';
    if (page == NULL || avail < BOLT_PAGE_HEADER_SIZE)
        return BOLT_ECORRUPT;
    if (bolt__ld16(page + BOLT_PAGE_FLAGS_OFF) != BOLT_PAGE_FREELIST)
        return BOLT_ECORRUPT;
    size_t off = BOLT_PAGE_HEADER_SIZE;
    uint64_t n = bolt__ld16(page + BOLT_PAGE_COUNT_OFF);
    if (n == BOLT_FREELIST_COUNT_ESCAPE) {
        /* The real count is the first u64 (a smaller one is accepted, as bbolt does). */
        if (avail < off + 8)
            return BOLT_ECORRUPT;
        n = bolt__ld64(page + off);
        off += 8;
    }
    if (n > (avail - off) / 8) {
        if (why != NULL && whysize > 0)
            snprintf(why, whysize, "freelist count %llu runs past the page run",
                     (unsigned long long)n);
        return BOLT_ECORRUPT;
    }
    bolt_pgid *ids = strata_malloc((n > 0 ? (size_t)n : 1) * sizeof *ids);
    if (ids == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = bolt__ld64(page + off + 8 * i);
    int rc = ids_validate(ids, (size_t)n, hwm, true, why, whysize);
    if (rc == 0)
        rc = freelist_replace(f, ids, (size_t)n);
    strata_free(ids);
    return rc;
}

int bolt__freelist_each(const bolt__freelist *f, int (*fn)(bolt_pgid id, void *arg), void *arg)
{
    size_t n = f->nfree + f->npending;
    if (n == 0)
        return 0;
    unsigned char *buf = strata_malloc(n * 8);
    if (buf == NULL)
        return -ENOMEM;
    buf_put_sorted(f, buf);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(buf_get(buf, i), arg);
    strata_free(buf);
    return rc;
}

/* ---- consistency -------------------------------------------------------- */

static bool hmap_ok(const bolt__freelist *f)
{
    size_t total = 0, nruns = 0;
    for (size_t s = 0; s < f->fwd.cap; s++) {
        bolt_pgid start = f->fwd.keys[s];
        if (start == 0)
            continue;
        size_t idx = (size_t)f->fwd.vals[s];
        if (idx >= f->runs_cap)
            return false;
        const fl_run *r = &f->runs[idx];
        uint64_t back;
        if (r->start != start || r->size == 0 || start < 2 || start > UINT64_MAX - r->size)
            return false;
        if (!map_get(&f->bwd, start + r->size - 1, &back) || back != idx)
            return false;
        /* Maximal: no run ends just before this one or starts just after it. */
        if (map_has(&f->bwd, start - 1) || map_has(&f->fwd, start + r->size))
            return false;
        for (uint64_t i = 0; i < r->size; i++) {
            if (!map_has(&f->free_set, start + i))
                return false;
        }
        total += r->size;
        nruns++;
    }
    /* Every run id is in free_set and the sizes add up to its count: disjoint runs. */
    if (total != f->nfree || f->free_set.count != f->nfree)
        return false;
    if (f->bwd.count != nruns || f->runs_used != nruns)
        return false;
    size_t linked = 0;
    for (size_t c = 0; c < f->nclasses; c++) {
        const fl_class *cl = &f->classes[c];
        if (cl->count == 0 || (c > 0 && f->classes[c - 1].size >= cl->size))
            return false;
        size_t k = 0, prev = FL_NIL;
        for (size_t idx = cl->head; idx != FL_NIL; idx = f->runs[idx].next) {
            uint64_t found;
            if (idx >= f->runs_cap || f->runs[idx].size != cl->size || f->runs[idx].prev != prev)
                return false;
            if (!map_get(&f->fwd, f->runs[idx].start, &found) || found != idx)
                return false;
            if (++k > cl->count)
                return false;
            prev = idx;
        }
        if (k != cl->count)
            return false;
        linked += k;
    }
    return linked == nruns;
}

bool bolt__freelist_ok(const bolt__freelist *f)
{
    if (f == NULL || f->failed)
        return false;
    if (f->kind == BOLT__FREELIST_ARRAY) {
        if (f->nfree > 0 && f->ids_head + f->nfree > f->ids_cap)
            return false;
        /* ids is NULL while empty: no pointer arithmetic on it then. */
        const bolt_pgid *a = f->nfree > 0 ? f->ids + f->ids_head : NULL;
        for (size_t i = 0; i < f->nfree; i++) {
            if (a[i] < 2 || (i > 0 && a[i - 1] >= a[i]))
                return false;
        }
    } else if (!hmap_ok(f)) {
        return false;
    }
    size_t np = 0;
    for (size_t t = 0; t < f->ntxps; t++) {
        const fl_txp *p = &f->txps[t];
        if (p->n == 0 || (t > 0 && f->txps[t - 1].txid >= p->txid))
            return false;
        for (size_t i = 0; i < p->n; i++) {
            if (p->ids[i] < 2 || !map_has(&f->pending_set, p->ids[i]) ||
                freelist_is_free(f, p->ids[i]))
                return false;
        }
        np += p->n;
    }
    /* Every pending id is in the set and the counts agree: no id pending twice. */
    if (np != f->npending || f->pending_set.count != np)
        return false;
    for (size_t r = 1; r < f->nrecs; r++) {
        if (f->recs[r].txid != f->recs[0].txid)
            return false;
    }
    /* Rule 5. */
    if (f->nfree + f->npending > f->reserved_ids)
        return false;
    return f->kind == BOLT__FREELIST_ARRAY || freelist_run_load(f) <= f->reserved_runs;
}
