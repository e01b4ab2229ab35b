/*
 * freelist.c: the free page set behind freelist.h.
 *
 * (A complete implementation of the interface so the write path could be
 * built and tested; both kinds use the array algorithm, the lowest run of n
 * ids, which is also a valid choice for the hashmap kind.)
 *
 * Rules:
 *   1. ids[head..nids) is sorted and unique (free ids); taking the lowest
 *      id only advances head, so the common one-page allocation is O(1).
 *   2. pend[] holds the pending ids in any order; pset indexes them, so
 *      "is this id freed" is one probe. Free and pending are disjoint, and
 *      no id is 0 or 1.
 *   3. A pending entry remembers the txid that freed it and the txid that
 *      had allocated it (0 = unknown, e.g. loaded from disk), which
 *      release_range and rollback need (bbolt's txPending.alloctx).
 *   4. allocs maps the first id of each run allocated since load to its
 *      length and txid (bbolt's allocs map).
 *   5. Sorting happens once per commit (write, release), never per id.
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

/* ---- a u64 -> (u64, u64) map, open addressing, key 0 = empty ---------- */

typedef struct u64map {
    uint64_t *key, *a, *b;
    size_t cap, n; /* cap is a power of two */
} u64map;

static size_t map_slot(const u64map *m, uint64_t k)
{
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
}

static int map_grow(u64map *m)
{
    u64map g = { 0 };
    g.cap = m->cap ? m->cap * 2 : 64;
    g.key = calloc(g.cap, sizeof *g.key);
    g.a = malloc(g.cap * sizeof *g.a);
    g.b = malloc(g.cap * sizeof *g.b);
    if (g.key == NULL || g.a == NULL || g.b == NULL) {
        free(g.key);
        free(g.a);
        free(g.b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->key[i] == 0)
            continue;
        size_t s = map_slot(&g, m->key[i]);
        while (g.key[s] != 0)
            s = (s + 1) & (g.cap - 1);
        g.key[s] = m->key[i];
        g.a[s] = m->a[i];
        g.b[s] = m->b[i];
    }
    g.n = m->n;
    free(m->key);
    free(m->a);
    free(m->b);
    *m = g;
    return 0;
}

/* Reserve room for one more key (load <= 1/2). */
static int map_reserve(u64map *m)
{
    return (m->n + 1) * 2 > m->cap ? map_grow(m) : 0;
}

static bool map_get(const u64map *m, uint64_t k, uint64_t *a, uint64_t *b)
{
    if (m->cap == 0)
        return false;
    for (size_t s = map_slot(m, k); m->key[s] != 0; s = (s + 1) & (m->cap - 1)) {
        if (m->key[s] == k) {
            if (a != NULL)
                *a = m->a[s];
            if (b != NULL)
                *b = m->b[s];
            return true;
        }
    }
    return false;
}

/* Insert or replace; room must have been reserved. */
static void map_put(u64map *m, uint64_t k, uint64_t a, uint64_t b)
{
    size_t s = map_slot(m, k);
    while (m->key[s] != 0 && m->key[s] != k)
        s = (s + 1) & (m->cap - 1);
    if (m->key[s] == 0)
        m->n++;
    m->key[s] = k;
    m->a[s] = a;
    m->b[s] = b;
}

/* Remove k (backward-shift deletion keeps probe chains intact). */
static void map_del(u64map *m, uint64_t k)
{
    if (m->cap == 0)
        return;
    size_t s = map_slot(m, k);
    while (m->key[s] != k) {
        if (m->key[s] == 0)
            return;
        s = (s + 1) & (m->cap - 1);
    }
    m->key[s] = 0;
    m->n--;
    /* Loop invariant: slot s is empty and no chain crosses it broken. */
    for (size_t j = (s + 1) & (m->cap - 1); m->key[j] != 0; j = (j + 1) & (m->cap - 1)) {
        size_t home = map_slot(m, m->key[j]);
        bool movable = s <= j ? (home <= s || home > j) : (home <= s && home > j);
        if (movable) {
            m->key[s] = m->key[j];
            m->a[s] = m->a[j];
            m->b[s] = m->b[j];
            m->key[j] = 0;
            s = j;
        }
    }
}

static void map_clear(u64map *m)
{
    free(m->key);
    free(m->a);
    free(m->b);
    memset(m, 0, sizeof *m);
}

/* ---- the freelist -------------------------------------------------------- */

typedef struct fl_pending {
    bolt_pgid id;
    bolt_txid txid;  /* freed by */
    bolt_txid alloc; /* allocated by, 0 = unknown */
    uint32_t run;    /* run length when id starts a freed run, else 0 */
} fl_pending;

struct bolt__freelist {
    bolt__freelist_kind kind;
    bolt_pgid *ids; /* free: ids[head..nids) */
    size_t head, nids, capids;
    fl_pending *pend;
    size_t npend, cappend;
    u64map pset;   /* pending id -> (index unused, 0) */
    u64map allocs; /* first id -> (length, txid) */
};

int bolt__freelist_new(bolt__freelist_kind kind, bolt__freelist **out)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return -ENOMEM;
    (*out)->kind = kind;
    return 0;
}

void bolt__freelist_free(bolt__freelist *f)
{
    if (f == NULL)
        return;
    free(f->ids);
    free(f->pend);
    map_clear(&f->pset);
    map_clear(&f->allocs);
    free(f);
}

static int id_cmp(const void *a, const void *b)
{
    bolt_pgid x = *(const bolt_pgid *)a, y = *(const bolt_pgid *)b;
    return x < y ? -1 : x > y;
}

static bool in_free(const bolt__freelist *f, bolt_pgid id)
{
    size_t lo = f->head, hi = f->nids;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (f->ids[m] < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < f->nids && f->ids[lo] == id;
}

bool bolt__freelist_freed(const bolt__freelist *f, bolt_pgid id)
{
    return in_free(f, id) || map_get(&f->pset, id, NULL, NULL);
}

bolt_pgid bolt__freelist_allocate(bolt__freelist *f, bolt_txid txid, size_t n)
{
    if (n == 0 || f->head == f->nids || map_reserve(&f->allocs) != 0)
        return 0;
    /* Loop invariant: ids[start..i] are consecutive. */
    size_t start = f->head;
    for (size_t i = f->head; i < f->nids; i++) {
        if (i > f->head && f->ids[i] != f->ids[i - 1] + 1)
            start = i;
        if (i - start + 1 == n) {
            bolt_pgid first = f->ids[start];
            if (start == f->head) {
                f->head += n; /* rule 1 */
            } else {
                memmove(&f->ids[start], &f->ids[i + 1], (f->nids - i - 1) * sizeof *f->ids);
                f->nids -= n;
            }
            map_put(&f->allocs, first, n, txid);
            return first;
        }
    }
    return 0;
}

int bolt__freelist_free_run(bolt__freelist *f, bolt_txid txid, bolt_pgid id, uint32_t overflow,
                            bool is_freelist_page)
{
    if (id < 2)
        return BOLT_EPANIC;
    uint64_t n = (uint64_t)overflow + 1;
    for (uint64_t k = 0; k < n; k++)
        if (bolt__freelist_freed(f, id + k))
            return BOLT_EPANIC;
    if (f->npend + n > f->cappend) {
        size_t cap = f->cappend ? f->cappend : 64;
        while (cap < f->npend + n)
            cap *= 2;
        fl_pending *p = realloc(f->pend, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        f->pend = p;
        f->cappend = cap;
    }
    for (uint64_t k = 0; k < n; k++) {
        if (map_reserve(&f->pset) != 0) {
            while (k-- > 0)
                map_del(&f->pset, id + k);
            return -ENOMEM;
        }
        map_put(&f->pset, id + k, 0, 0);
    }
    bolt_txid alloc = 0;
    uint64_t len;
    if (map_get(&f->allocs, id, &len, &alloc))
        map_del(&f->allocs, id);
    else if (is_freelist_page)
        alloc = txid - 1;
    for (uint64_t k = 0; k < n; k++)
        f->pend[f->npend++] = (fl_pending){ id + k, txid, alloc, k == 0 ? (uint32_t)n : 0 };
    return 0;
}

/* Make room for `extra` more free ids (moving ids[head..] to the front). */
static int reserve_free(bolt__freelist *f, size_t extra)
{
    size_t live = f->nids - f->head;
    if (f->head > 0) {
        memmove(f->ids, &f->ids[f->head], live * sizeof *f->ids);
        f->head = 0;
        f->nids = live;
    }
    if (live + extra <= f->capids)
        return 0;
    size_t cap = f->capids ? f->capids : 64;
    while (cap < live + extra)
        cap *= 2;
    bolt_pgid *a = realloc(f->ids, cap * sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    f->ids = a;
    f->capids = cap;
    return 0;
}

/* Merge m (disjoint from the free ids) in; room reserved by reserve_free. */
static void merge_free(bolt__freelist *f, bolt_pgid *m, size_t nm)
{
    qsort(m, nm, sizeof *m, id_cmp);
    size_t live = f->nids - f->head;
    /* Loop invariant: ids[k..live + nm) holds the largest merged ids. */
    size_t i = live, j = nm, k = live + nm;
    while (j > 0) {
        if (i > 0 && f->ids[i - 1] > m[j - 1])
            f->ids[--k] = f->ids[--i];
        else
            f->ids[--k] = m[--j];
    }
    f->nids = live + nm;
}

/* Move the pending entries sel() picks into the free array. */
static void release_where(bolt__freelist *f, bool (*sel)(const fl_pending *, bolt_txid, bolt_txid),
                          bolt_txid a, bolt_txid b)
{
    size_t nsel = 0;
    for (size_t i = 0; i < f->npend; i++)
        nsel += sel(&f->pend[i], a, b);
    if (nsel == 0)
        return;
    bolt_pgid *m = malloc(nsel * sizeof *m);
    if (m == NULL || reserve_free(f, nsel) != 0) {
        free(m);
        return; /* out of memory: the ids simply stay pending (safe) */
    }
    size_t w = 0, k = 0;
    for (size_t i = 0; i < f->npend; i++) {
        if (sel(&f->pend[i], a, b))
            m[k++] = f->pend[i].id;
        else
            f->pend[w++] = f->pend[i];
    }
    f->npend = w;
    for (size_t i = 0; i < k; i++)
        map_del(&f->pset, m[i]);
    merge_free(f, m, k);
    free(m);
}

static bool sel_release(const fl_pending *p, bolt_txid txid, bolt_txid unused)
{
    (void)unused;
    return p->txid <= txid;
}

static bool sel_range(const fl_pending *p, bolt_txid begin, bolt_txid end)
{
    return p->txid >= begin && p->txid <= end && p->alloc >= begin && p->alloc <= end;
}

void bolt__freelist_release(bolt__freelist *f, bolt_txid txid)
{
    release_where(f, sel_release, txid, 0);
}

void bolt__freelist_release_range(bolt__freelist *f, bolt_txid begin, bolt_txid end)
{
    if (begin > end)
        return;
    release_where(f, sel_range, begin, end);
}

static bool sel_rollback_free(const fl_pending *p, bolt_txid txid, bolt_txid unused)
{
    (void)unused;
    return p->txid == txid && p->alloc == txid;
}

void bolt__freelist_rollback(bolt__freelist *f, bolt_txid txid)
{
    /* Freed and allocated by txid: free again. */
    release_where(f, sel_rollback_free, txid, 0);
    /* Freed by txid, allocated earlier: in use again, its allocation remembered. */
    size_t w = 0;
    for (size_t i = 0; i < f->npend; i++) {
        fl_pending p = f->pend[i];
        if (p.txid != txid) {
            f->pend[w++] = p;
            continue;
        }
        map_del(&f->pset, p.id);
        if (p.alloc != 0 && p.run != 0 && map_reserve(&f->allocs) == 0)
            map_put(&f->allocs, p.id, p.run, p.alloc);
    }
    f->npend = w;
    /* Allocated by txid and still in use: free again. */
    size_t nback = 0;
    for (size_t i = 0; i < f->allocs.cap; i++)
        if (f->allocs.key[i] != 0 && f->allocs.b[i] == txid)
            nback += f->allocs.a[i];
    if (nback == 0)
        return;
    bolt_pgid *m = malloc(nback * sizeof *m);
    if (m == NULL || reserve_free(f, nback) != 0) {
        free(m);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->allocs.cap; i++) {
        if (f->allocs.key[i] != 0 && f->allocs.b[i] == txid)
            for (uint64_t j = 0; j < f->allocs.a[i]; j++)
                m[k++] = f->allocs.key[i] + j;
    }
    for (size_t i = 0; i < k; i++)
        map_del(&f->allocs, m[i]); /* ids past the first are not keys: no-op */
    merge_free(f, m, k);
    free(m);
}

size_t bolt__freelist_free_count(const bolt__freelist *f)
{
    return f->nids - f->head;
}

size_t bolt__freelist_pending_count(const bolt__freelist *f)
{
    return f->npend;
}

size_t bolt__freelist_page_size(const bolt__freelist *f)
{
    size_t n = f->nids - f->head + f->npend;
    return BOLT_PAGE_HEADER_SIZE + 8 * n + (n >= BOLT_FREELIST_COUNT_ESCAPE ? 8 : 0);
}

/* The pending ids, sorted, in a malloc'd array (rule 5). */
static bolt_pgid *pending_sorted(const bolt__freelist *f)
{
    bolt_pgid *p = malloc((f->npend ? f->npend : 1) * sizeof *p);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < f->npend; i++)
        p[i] = f->pend[i].id;
    qsort(p, f->npend, sizeof *p, id_cmp);
    return p;
}

int bolt__freelist_each(const bolt__freelist *f, int (*fn)(bolt_pgid id, void *arg), void *arg)
{
    bolt_pgid *p = pending_sorted(f);
    if (p == NULL)
        return -ENOMEM;
    size_t i = f->head, j = 0;
    int rc = 0;
    while (rc == 0 && (i < f->nids || j < f->npend)) {
        if (j >= f->npend || (i < f->nids && f->ids[i] < p[j]))
            rc = fn(f->ids[i++], arg);
        else
            rc = fn(p[j++], arg);
    }
    free(p);
    return rc;
}

typedef struct write_ctx {
    unsigned char *p;
} write_ctx;

static int write_one(bolt_pgid id, void *arg)
{
    write_ctx *w = arg;
    bolt__st64(w->p, id);
    w->p += 8;
    return 0;
}

int bolt__freelist_write(const bolt__freelist *f, unsigned char *buf, size_t size)
{
    size_t need = bolt__freelist_page_size(f);
    if (size < need)
        return STRATA_EMISUSE;
    size_t n = f->nids - f->head + f->npend;
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_FREELIST);
    write_ctx w = { buf + BOLT_PAGE_HEADER_SIZE };
    if (n >= BOLT_FREELIST_COUNT_ESCAPE) {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, BOLT_FREELIST_COUNT_ESCAPE);
        bolt__st64(w.p, n);
        w.p += 8;
    } else {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    }
    return bolt__freelist_each(f, write_one, &w);
}

int bolt__freelist_load_ids(bolt__freelist *f, const bolt_pgid *ids, size_t n, bolt_pgid hwm)
{
    bolt_pgid *a = malloc((n ? n : 1) * sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(a, ids, n * sizeof *a);
    qsort(a, n, sizeof *a, id_cmp);
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 2 || a[i] >= hwm || (i > 0 && a[i] == a[i - 1])) {
            free(a);
            return BOLT_ECORRUPT;
        }
    }
    free(f->ids);
    f->ids = a;
    f->head = 0;
    f->nids = n;
    f->capids = n ? n : 1;
    f->npend = 0;
    map_clear(&f->pset);
    map_clear(&f->allocs);
    return 0;
}

int bolt__freelist_read(bolt__freelist *f, const unsigned char *page, size_t avail, bolt_pgid hwm)
{
    if (avail < BOLT_PAGE_HEADER_SIZE)
        return BOLT_ECORRUPT;
    uint64_t n = bolt__ld16(page + BOLT_PAGE_COUNT_OFF);
    size_t off = BOLT_PAGE_HEADER_SIZE;
    if (n == BOLT_FREELIST_COUNT_ESCAPE) {
        if (avail < off + 8)
            return BOLT_ECORRUPT;
        n = bolt__ld64(page + off);
        off += 8;
    }
    if (n > (avail - off) / 8)
        return BOLT_ECORRUPT;
    bolt_pgid *ids = malloc(((size_t)n ? (size_t)n : 1) * sizeof *ids);
    if (ids == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = bolt__ld64(page + off + 8 * i);
    int rc = bolt__freelist_load_ids(f, ids, (size_t)n, hwm);
    free(ids);
    return rc;
}

bool bolt__freelist_ok(const bolt__freelist *f)
{
    for (size_t i = f->head; i < f->nids; i++)
        if (f->ids[i] < 2 || (i > f->head && f->ids[i] <= f->ids[i - 1]))
            return false;
    if (f->pset.n != f->npend)
        return false;
    for (size_t i = 0; i < f->npend; i++) {
        if (f->pend[i].id < 2 || in_free(f, f->pend[i].id) ||
            !map_get(&f->pset, f->pend[i].id, NULL, NULL))
            return false;
    }
    return true;
}
