/*
 * freelist.c: the free page set behind freelist.h, as sorted arrays.
 *
 * (A simple, complete implementation of the interface so the write path
 * can be built and tested; both kinds use the array algorithm, the lowest
 * run of n ids, which is also a valid choice for the hashmap kind.)
 *
 * Rules:
 *   1. `free` is sorted and unique; `pending` is sorted by id and unique;
 *      the two are disjoint; no id is 0 or 1.
 *   2. A pending entry remembers the txid that freed it and the txid that
 *      had allocated it (0 = unknown, e.g. loaded from disk), which is what
 *      release_range and rollback need (bbolt's txPending.alloctx).
 *   3. `allocs` maps the first id of each run allocated since load to its
 *      txid and length, sorted by id (bbolt's allocs map).
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

typedef struct fl_pending {
    bolt_pgid id;
    bolt_txid txid;  /* freed by */
    bolt_txid alloc; /* allocated by, 0 = unknown */
    uint32_t run;    /* run length when id starts a freed run, else 0 */
} fl_pending;

typedef struct fl_alloc {
    bolt_pgid id;
    uint64_t n;
    bolt_txid txid;
} fl_alloc;

struct bolt__freelist {
    bolt__freelist_kind kind;
    bolt_pgid *ids; /* free */
    size_t nids, capids;
    fl_pending *pend;
    size_t npend, cappend;
    fl_alloc *allocs;
    size_t nallocs, capallocs;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (q == NULL)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

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
    free(f->allocs);
    free(f);
}

static size_t lower_ids(const bolt_pgid *a, size_t n, bolt_pgid id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (a[m] < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static size_t lower_pend(const bolt__freelist *f, bolt_pgid id)
{
    size_t lo = 0, hi = f->npend;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (f->pend[m].id < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static size_t lower_alloc(const bolt__freelist *f, bolt_pgid id)
{
    size_t lo = 0, hi = f->nallocs;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (f->allocs[m].id < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

bool bolt__freelist_freed(const bolt__freelist *f, bolt_pgid id)
{
    size_t i = lower_ids(f->ids, f->nids, id);
    if (i < f->nids && f->ids[i] == id)
        return true;
    size_t j = lower_pend(f, id);
    return j < f->npend && f->pend[j].id == id;
}

static int alloc_record(bolt__freelist *f, bolt_pgid id, uint64_t n, bolt_txid txid)
{
    if (grow((void **)&f->allocs, &f->capallocs, f->nallocs + 1, sizeof *f->allocs) != 0)
        return -ENOMEM;
    size_t i = lower_alloc(f, id);
    if (i < f->nallocs && f->allocs[i].id == id) {
        f->allocs[i] = (fl_alloc){ id, n, txid };
        return 0;
    }
    memmove(&f->allocs[i + 1], &f->allocs[i], (f->nallocs - i) * sizeof *f->allocs);
    f->allocs[i] = (fl_alloc){ id, n, txid };
    f->nallocs++;
    return 0;
}

bolt_pgid bolt__freelist_allocate(bolt__freelist *f, bolt_txid txid, size_t n)
{
    if (n == 0 || f->nids == 0)
        return 0;
    if (grow((void **)&f->allocs, &f->capallocs, f->nallocs + 1, sizeof *f->allocs) != 0)
        return 0;
    /* Loop invariant: ids[start..i] are consecutive. */
    size_t start = 0;
    for (size_t i = 0; i < f->nids; i++) {
        if (i > 0 && f->ids[i] != f->ids[i - 1] + 1)
            start = i;
        if (i - start + 1 == n) {
            bolt_pgid first = f->ids[start];
            memmove(&f->ids[start], &f->ids[i + 1], (f->nids - i - 1) * sizeof *f->ids);
            f->nids -= n;
            alloc_record(f, first, n, txid); /* capacity reserved above */
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
    if (grow((void **)&f->pend, &f->cappend, f->npend + n, sizeof *f->pend) != 0)
        return -ENOMEM;
    bolt_txid alloc = 0;
    size_t a = lower_alloc(f, id);
    if (a < f->nallocs && f->allocs[a].id == id) {
        alloc = f->allocs[a].txid;
        memmove(&f->allocs[a], &f->allocs[a + 1], (f->nallocs - a - 1) * sizeof *f->allocs);
        f->nallocs--;
    } else if (is_freelist_page) {
        alloc = txid - 1;
    }
    size_t at = lower_pend(f, id);
    /* No pending id lies inside the run (checked above), so it goes in as a block. */
    memmove(&f->pend[at + n], &f->pend[at], (f->npend - at) * sizeof *f->pend);
    for (uint64_t k = 0; k < n; k++)
        f->pend[at + k] = (fl_pending){ id + k, txid, alloc, k == 0 ? (uint32_t)n : 0 };
    f->npend += n;
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    bolt_pgid x = *(const bolt_pgid *)a, y = *(const bolt_pgid *)b;
    return x < y ? -1 : x > y;
}

/* Merge m sorted ids (disjoint from ids) into the free array. */
static void merge_free(bolt__freelist *f, const bolt_pgid *m, size_t nm)
{
    /* Capacity was reserved by the caller. Merge from the back. */
    size_t i = f->nids, j = nm, k = f->nids + nm;
    while (j > 0) {
        if (i > 0 && f->ids[i - 1] > m[j - 1])
            f->ids[--k] = f->ids[--i];
        else
            f->ids[--k] = m[--j];
    }
    f->nids += nm;
}

/* Move the pending entries selected by keep() == false into free. */
static void release_where(bolt__freelist *f, bool (*sel)(const fl_pending *, bolt_txid, bolt_txid),
                          bolt_txid a, bolt_txid b)
{
    size_t nsel = 0;
    for (size_t i = 0; i < f->npend; i++)
        if (sel(&f->pend[i], a, b))
            nsel++;
    if (nsel == 0)
        return;
    if (grow((void **)&f->ids, &f->capids, f->nids + nsel, sizeof *f->ids) != 0)
        return; /* out of memory: the ids simply stay pending (safe) */
    bolt_pgid *m = malloc(nsel * sizeof *m);
    if (m == NULL)
        return;
    size_t w = 0, k = 0;
    for (size_t i = 0; i < f->npend; i++) {
        if (sel(&f->pend[i], a, b))
            m[k++] = f->pend[i].id;
        else
            f->pend[w++] = f->pend[i];
    }
    f->npend = w;
    merge_free(f, m, k); /* pending is sorted, so m is too */
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
        if (p.alloc != 0 && p.run != 0)
            alloc_record(f, p.id, p.run, p.alloc);
    }
    f->npend = w;
    /* Allocated by txid and still in use: free again. */
    size_t nback = 0;
    for (size_t i = 0; i < f->nallocs; i++)
        if (f->allocs[i].txid == txid)
            nback += f->allocs[i].n;
    if (nback == 0)
        return;
    if (grow((void **)&f->ids, &f->capids, f->nids + nback, sizeof *f->ids) != 0)
        return;
    bolt_pgid *m = malloc(nback * sizeof *m);
    if (m == NULL)
        return;
    size_t k = 0;
    w = 0;
    for (size_t i = 0; i < f->nallocs; i++) {
        if (f->allocs[i].txid == txid) {
            for (uint64_t j = 0; j < f->allocs[i].n; j++)
                m[k++] = f->allocs[i].id + j;
        } else {
            f->allocs[w++] = f->allocs[i];
        }
    }
    f->nallocs = w;
    qsort(m, k, sizeof *m, id_cmp);
    merge_free(f, m, k);
    free(m);
}

size_t bolt__freelist_free_count(const bolt__freelist *f)
{
    return f->nids;
}

size_t bolt__freelist_pending_count(const bolt__freelist *f)
{
    return f->npend;
}

size_t bolt__freelist_page_size(const bolt__freelist *f)
{
    size_t n = f->nids + f->npend;
    return BOLT_PAGE_HEADER_SIZE + 8 * n + (n >= BOLT_FREELIST_COUNT_ESCAPE ? 8 : 0);
}

int bolt__freelist_each(const bolt__freelist *f, int (*fn)(bolt_pgid id, void *arg), void *arg)
{
    size_t i = 0, j = 0;
    while (i < f->nids || j < f->npend) {
        bolt_pgid id;
        if (j >= f->npend || (i < f->nids && f->ids[i] < f->pend[j].id))
            id = f->ids[i++];
        else
            id = f->pend[j++].id;
        int rc = fn(id, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
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
    size_t n = f->nids + f->npend;
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_FREELIST);
    write_ctx w = { buf + BOLT_PAGE_HEADER_SIZE };
    if (n >= BOLT_FREELIST_COUNT_ESCAPE) {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, BOLT_FREELIST_COUNT_ESCAPE);
        bolt__st64(w.p, n);
        w.p += 8;
    } else {
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    }
    bolt__freelist_each(f, write_one, &w);
    return 0;
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
    f->nids = n;
    f->capids = n ? n : 1;
    f->npend = 0;
    f->nallocs = 0;
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
    for (size_t i = 0; i < f->nids; i++)
        if (f->ids[i] < 2 || (i > 0 && f->ids[i] <= f->ids[i - 1]))
            return false;
    for (size_t i = 0; i < f->npend; i++) {
        if (f->pend[i].id < 2 || (i > 0 && f->pend[i].id <= f->pend[i - 1].id))
            return false;
        size_t j = lower_ids(f->ids, f->nids, f->pend[i].id);
        if (j < f->nids && f->ids[j] == f->pend[i].id)
            return false;
    }
    return true;
}
