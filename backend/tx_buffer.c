/*
 * tx_buffer.c: write buffer, immutable read-buffer snapshots, and the
 * sorted runs they share (see tx_buffer.h for the design).
 *
 * Invariants:
 *  1. A run's entries are sorted by key, strictly increasing (one entry per
 *     key: the newest change that run saw), and never change after the run
 *     is built. Its key/value bytes live in the blobs it references.
 *  2. In a bucket's run list, runs are ordered newest first: for a key in
 *     several runs, the first run's entry is the current one.
 *  3. Merge policy: after a write-back, while a list has two runs or more
 *     and size(run[0]) * 2 >= size(run[1]), the two are merged into one.
 *     Sizes therefore at least double along the list (apart from run[0]),
 *     so a list holds O(log n) runs.
 *  4. Reference counts: a snapshot holds one reference on each run of its
 *     lists; a run holds one on each of its blobs. All counts are atomic,
 *     so snapshots may be dropped on any thread.
 *  5. A write buffer entry stores offsets into its bucket's arena, so the
 *     arena can grow (realloc) while entries are added.
 */
#include "tx_buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE UINT32_MAX /* vlen of a delete */

/* ---- shared pieces ----------------------------------------------------- */

typedef struct blob {
    unsigned refs;
    unsigned char data[]; /* the key/value bytes of one bucket's write-back */
} blob;

typedef struct entry {
    const unsigned char *key;
    const unsigned char *val; /* NULL for a delete */
    uint32_t klen, vlen;
} entry;

typedef struct backend__run {
    unsigned refs;
    size_t n;
    entry *e;
    size_t nblobs;
    blob **blobs;
} run;

typedef struct bucket_runs {
    unsigned char *name;
    size_t name_len;
    size_t nruns;
    run **runs; /* newest first */
} bucket_runs;

struct backend__rbuf {
    unsigned refs;
    size_t nbuckets;
    bucket_runs *buckets;
};

int backend__bytes_cmp(backend__bytes a, backend__bytes b)
{
    size_t n = a.size < b.size ? a.size : b.size;
    int c = n > 0 ? memcmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return a.size < b.size ? -1 : a.size > b.size;
}

static backend__bytes entry_key(const entry *e)
{
    return (backend__bytes){ e->key, e->klen };
}

static void ref_inc(unsigned *refs)
{
    __atomic_add_fetch(refs, 1, __ATOMIC_RELAXED);
}

/* True when this was the last reference. */
static bool ref_dec(unsigned *refs)
{
    return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

static void blob_unref(blob *b)
{
    if (b != NULL && ref_dec(&b->refs))
        strata_free(b);
}

static void run_unref(run *r)
{
    if (r == NULL || !ref_dec(&r->refs))
        return;
    for (size_t i = 0; i < r->nblobs; i++)
        blob_unref(r->blobs[i]);
    strata_free(r->blobs);
    strata_free(r->e);
    strata_free(r);
}

/* ---- write buffer ------------------------------------------------------ */

typedef struct wentry {
    size_t koff, voff; /* offsets into the bucket's arena (invariant 5) */
    uint32_t klen, vlen;
} wentry;

typedef struct wbucket {
    unsigned char *name;
    size_t name_len;
    wentry *e;
    size_t n, cap;
    bool sorted; /* every key so far was above the previous one */
    unsigned char *arena;
    size_t used, arena_cap;
} wbucket;

struct backend__wbuf {
    wbucket *b;
    size_t nb, capb;
    size_t count;
};

int backend__wbuf_new(backend__wbuf **out)
{
    *out = strata_calloc(1, sizeof **out);
    return *out == NULL ? -ENOMEM : 0;
}

void backend__wbuf_free(backend__wbuf *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nb; i++) {
        strata_free(w->b[i].name);
        strata_free(w->b[i].e);
        strata_free(w->b[i].arena);
    }
    strata_free(w->b);
    strata_free(w);
}

void backend__wbuf_reset(backend__wbuf *w)
{
    for (size_t k = 0; k < w->nb; k++) {
        w->b[k].n = 0;
        w->b[k].used = 0;
        w->b[k].sorted = true;
    }
    w->count = 0;
}

size_t backend__wbuf_count(const backend__wbuf *w)
{
    return w->count;
}

static wbucket *wbuf_bucket(backend__wbuf *w, backend__bytes name)
{
    for (size_t i = 0; i < w->nb; i++)
        if (w->b[i].name_len == name.size && memcmp(w->b[i].name, name.data, name.size) == 0)
            return &w->b[i];
    if (w->nb == w->capb) {
        size_t cap = w->capb ? 2 * w->capb : 4;
        wbucket *nb = strata_realloc(w->b, cap * sizeof *nb);
        if (nb == NULL)
            return NULL;
        w->b = nb;
        w->capb = cap;
    }
    unsigned char *copy = strata_malloc(name.size ? name.size : 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, name.data, name.size);
    wbucket *b = &w->b[w->nb++];
    *b = (wbucket){ .name = copy, .name_len = name.size, .sorted = true };
    return b;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = strata_realloc(*p, n * elem);
    if (q == NULL)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int backend__wbuf_put(backend__wbuf *w, backend__bytes bucket, backend__bytes key,
                      const backend__bytes *val)
{
    size_t vlen = val != NULL ? val->size : 0;
    if (key.size >= TOMBSTONE || vlen >= TOMBSTONE || key.size + vlen < key.size)
        return STRATA_EOVERFLOW;
    wbucket *b = wbuf_bucket(w, bucket);
    if (b == NULL)
        return -ENOMEM;
    if (grow((void **)&b->e, &b->cap, b->n + 1, sizeof *b->e) != 0 ||
        grow((void **)&b->arena, &b->arena_cap, b->used + key.size + vlen, 1) != 0)
        return -ENOMEM;
    wentry *e = &b->e[b->n];
    e->koff = b->used;
    e->klen = (uint32_t)key.size;
    if (key.size > 0)
        memcpy(b->arena + b->used, key.data, key.size);
    b->used += key.size;
    e->voff = b->used;
    e->vlen = val != NULL ? (uint32_t)vlen : TOMBSTONE;
    if (vlen > 0)
        memcpy(b->arena + b->used, val->data, vlen);
    b->used += vlen;
    if (b->n > 0 && b->sorted) {
        const wentry *prev = &b->e[b->n - 1];
        backend__bytes pk = { b->arena + prev->koff, prev->klen };
        backend__bytes nk = { b->arena + e->koff, e->klen };
        b->sorted = backend__bytes_cmp(pk, nk) < 0;
    }
    b->n++;
    w->count++;
    return 0;
}

/* ---- building runs ----------------------------------------------------- */

static run *run_alloc(size_t n, size_t nblobs)
{
    run *r = strata_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->refs = 1;
    r->e = strata_malloc((n ? n : 1) * sizeof *r->e);
    r->blobs = strata_malloc((nblobs ? nblobs : 1) * sizeof *r->blobs);
    if (r->e == NULL || r->blobs == NULL) {
        strata_free(r->e);
        strata_free(r->blobs);
        strata_free(r);
        return NULL;
    }
    return r;
}

/* An entry with its arrival order, so qsort (not stable) still keeps the newest last. */
typedef struct sort_item {
    entry e;
    size_t order;
} sort_item;

static int sort_item_cmp(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    int c = backend__bytes_cmp(entry_key(&x->e), entry_key(&y->e));
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * The bucket's buffered changes as a sorted run with one entry per key (the
 * last change wins), its bytes copied once into a fresh blob. The write
 * bucket is not modified.
 */
static run *run_from_wbucket(const wbucket *b)
{
    blob *bl = strata_malloc(sizeof *bl + (b->used ? b->used : 1));
    sort_item *items = b->sorted ? NULL : strata_malloc(b->n * sizeof *items);
    run *r = run_alloc(b->n, 1);
    if (bl == NULL || r == NULL || (!b->sorted && items == NULL)) {
        strata_free(bl);
        strata_free(items);
        run_unref(r);
        return NULL;
    }
    bl->refs = 1;
    memcpy(bl->data, b->arena, b->used);
    r->blobs[0] = bl;
    r->nblobs = 1;
    for (size_t i = 0; i < b->n; i++) {
        const wentry *we = &b->e[i];
        entry e = { bl->data + we->koff, we->vlen == TOMBSTONE ? NULL : bl->data + we->voff,
                    we->klen, we->vlen };
        if (items != NULL)
            items[i] = (sort_item){ e, i };
        else
            r->e[i] = e;
    }
    if (items == NULL) {
        r->n = b->n; /* appended in strictly increasing order: already a run */
        return r;
    }
    qsort(items, b->n, sizeof *items, sort_item_cmp);
    /* Keep the last item of each group of equal keys (the newest change). */
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (i + 1 < b->n &&
            backend__bytes_cmp(entry_key(&items[i].e), entry_key(&items[i + 1].e)) == 0)
            continue;
        r->e[n++] = items[i].e;
    }
    r->n = n;
    strata_free(items);
    return r;
}

/* Merge two runs; `newer` wins on equal keys. Tombstones are kept. */
static run *run_merge(const run *newer, const run *older)
{
    run *m = run_alloc(newer->n + older->n, newer->nblobs + older->nblobs);
    if (m == NULL)
        return NULL;
    size_t i = 0, j = 0, n = 0;
    /* Loop invariant: m->e[0..n) is the sorted merge of newer[0..i) and older[0..j). */
    while (i < newer->n && j < older->n) {
        int c = backend__bytes_cmp(entry_key(&newer->e[i]), entry_key(&older->e[j]));
        if (c <= 0) {
            m->e[n++] = newer->e[i++];
            if (c == 0)
                j++;
        } else {
            m->e[n++] = older->e[j++];
        }
    }
    while (i < newer->n)
        m->e[n++] = newer->e[i++];
    while (j < older->n)
        m->e[n++] = older->e[j++];
    m->n = n;
    for (size_t k = 0; k < newer->nblobs; k++) {
        m->blobs[m->nblobs++] = newer->blobs[k];
        ref_inc(&newer->blobs[k]->refs);
    }
    for (size_t k = 0; k < older->nblobs; k++) {
        m->blobs[m->nblobs++] = older->blobs[k];
        ref_inc(&older->blobs[k]->refs);
    }
    return m;
}

/* ---- snapshots --------------------------------------------------------- */

int backend__rbuf_new(backend__rbuf **out)
{
    *out = strata_calloc(1, sizeof **out);
    if (*out == NULL)
        return -ENOMEM;
    (*out)->refs = 1;
    return 0;
}

static void rbuf_destroy(backend__rbuf *r)
{
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (size_t k = 0; k < r->buckets[i].nruns; k++)
            run_unref(r->buckets[i].runs[k]);
        strata_free(r->buckets[i].runs);
        strata_free(r->buckets[i].name);
    }
    strata_free(r->buckets);
    strata_free(r);
}

void backend__rbuf_ref(backend__rbuf *r)
{
    ref_inc(&r->refs);
}

void backend__rbuf_unref(backend__rbuf *r)
{
    if (r != NULL && ref_dec(&r->refs))
        rbuf_destroy(r);
}

static const bucket_runs *rbuf_bucket(const backend__rbuf *r, backend__bytes name)
{
    for (size_t i = 0; i < r->nbuckets; i++)
        if (r->buckets[i].name_len == name.size &&
            memcmp(r->buckets[i].name, name.data, name.size) == 0)
            return &r->buckets[i];
    return NULL;
}

/*
 * Fill `dst` with the list of `old` (may be NULL) plus, when fresh is not
 * NULL, the run `fresh` in front, then apply the merge policy (invariant 3).
 * Takes over the caller's reference on fresh. 0 or -ENOMEM (dst untouched
 * apart from what the caller frees with bucket_runs_release).
 */
static int bucket_runs_build(bucket_runs *dst, const bucket_runs *old, run *fresh)
{
    size_t nold = old != NULL ? old->nruns : 0;
    dst->runs = strata_malloc((nold + 1) * sizeof *dst->runs);
    if (dst->runs == NULL) {
        run_unref(fresh);
        return -ENOMEM;
    }
    dst->nruns = 0;
    if (fresh != NULL)
        dst->runs[dst->nruns++] = fresh;
    for (size_t k = 0; k < nold; k++) {
        ref_inc(&old->runs[k]->refs);
        dst->runs[dst->nruns++] = old->runs[k];
    }
    while (fresh != NULL && dst->nruns >= 2 && dst->runs[0]->n * 2 >= dst->runs[1]->n) {
        run *m = run_merge(dst->runs[0], dst->runs[1]);
        if (m == NULL)
            return -ENOMEM;
        run_unref(dst->runs[0]);
        run_unref(dst->runs[1]);
        dst->runs[0] = m;
        memmove(&dst->runs[1], &dst->runs[2], (dst->nruns - 2) * sizeof *dst->runs);
        dst->nruns--;
    }
    return 0;
}

int backend__rbuf_writeback_keep(const backend__rbuf *old, const backend__wbuf *w,
                                 backend__rbuf **out)
{
    backend__rbuf *r = strata_calloc(1, sizeof *r);
    size_t max = old->nbuckets + w->nb;
    if (r == NULL || (r->buckets = strata_calloc(max ? max : 1, sizeof *r->buckets)) == NULL) {
        strata_free(r);
        return -ENOMEM;
    }
    r->refs = 1;
    int rc = 0;
    /* Buckets of the old snapshot, each with the write buffer's changes in front. */
    for (size_t i = 0; i < old->nbuckets && rc == 0; i++) {
        const bucket_runs *ob = &old->buckets[i];
        bucket_runs *nb = &r->buckets[r->nbuckets++];
        nb->name_len = ob->name_len;
        nb->name = strata_malloc(ob->name_len ? ob->name_len : 1);
        if (nb->name == NULL) {
            rc = -ENOMEM;
            break;
        }
        memcpy(nb->name, ob->name, ob->name_len);
        run *fresh = NULL;
        for (size_t k = 0; k < w->nb; k++) {
            const wbucket *wb = &w->b[k];
            if (wb->n > 0 && wb->name_len == ob->name_len &&
                memcmp(wb->name, ob->name, ob->name_len) == 0) {
                if ((fresh = run_from_wbucket(wb)) == NULL)
                    rc = -ENOMEM;
                break;
            }
        }
        if (rc == 0)
            rc = bucket_runs_build(nb, ob, fresh);
    }
    /* Buckets only the write buffer has. */
    for (size_t k = 0; k < w->nb && rc == 0; k++) {
        const wbucket *wb = &w->b[k];
        backend__bytes name = { wb->name, wb->name_len };
        if (wb->n == 0 || rbuf_bucket(old, name) != NULL)
            continue;
        bucket_runs *nb = &r->buckets[r->nbuckets++];
        nb->name_len = wb->name_len;
        nb->name = strata_malloc(wb->name_len ? wb->name_len : 1);
        run *fresh = nb->name != NULL ? run_from_wbucket(wb) : NULL;
        if (fresh == NULL) {
            rc = -ENOMEM;
            break;
        }
        memcpy(nb->name, wb->name, wb->name_len);
        rc = bucket_runs_build(nb, NULL, fresh);
    }
    if (rc != 0) {
        rbuf_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

int backend__rbuf_writeback(const backend__rbuf *old, backend__wbuf *w, backend__rbuf **out)
{
    int rc = backend__rbuf_writeback_keep(old, w, out);
    if (rc == 0)
        backend__wbuf_reset(w); /* the changes now live in *out; keep w's memory */
    return rc;
}

size_t backend__rbuf_entries(const backend__rbuf *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (size_t k = 0; k < r->buckets[i].nruns; k++)
            n += r->buckets[i].runs[k]->n;
    return n;
}

size_t backend__rbuf_runs(const backend__rbuf *r, backend__bytes bucket)
{
    const bucket_runs *b = rbuf_bucket(r, bucket);
    return b != NULL ? b->nruns : 0;
}

/* First index in run whose key is >= key. */
static size_t run_lower_bound(const run *r, backend__bytes key)
{
    size_t lo = 0, hi = r->n;
    /* Loop invariant: keys before lo are < key; keys at hi and after are >= key. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (backend__bytes_cmp(entry_key(&r->e[mid]), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

backend__lookup backend__rbuf_get(const backend__rbuf *r, backend__bytes bucket, backend__bytes key,
                                  backend__bytes *val)
{
    const bucket_runs *b = rbuf_bucket(r, bucket);
    if (b == NULL)
        return BACKEND__ABSENT;
    for (size_t k = 0; k < b->nruns; k++) { /* newest first (invariant 2) */
        const run *rn = b->runs[k];
        size_t i = run_lower_bound(rn, key);
        if (i < rn->n && backend__bytes_cmp(entry_key(&rn->e[i]), key) == 0) {
            if (rn->e[i].val == NULL)
                return BACKEND__DELETED;
            *val = (backend__bytes){ rn->e[i].val, rn->e[i].vlen };
            return BACKEND__PRESENT;
        }
    }
    return BACKEND__ABSENT;
}

/* ---- iteration --------------------------------------------------------- */

int backend__rbuf_iter_init(backend__rbuf_iter *it, const backend__rbuf *r, backend__bytes bucket,
                            backend__bytes start, backend__bytes end)
{
    const bucket_runs *b = rbuf_bucket(r, bucket);
    it->runs = b != NULL ? (const run *const *)b->runs : NULL;
    it->nruns = b != NULL ? b->nruns : 0;
    it->end = end;
    it->pos = it->pos_small;
    if (it->nruns > sizeof it->pos_small / sizeof it->pos_small[0]) {
        it->pos = strata_malloc(it->nruns * sizeof *it->pos);
        if (it->pos == NULL)
            return -ENOMEM;
    }
    for (size_t k = 0; k < it->nruns; k++)
        it->pos[k] = run_lower_bound(it->runs[k], start);
    return 0;
}

bool backend__rbuf_iter_next(backend__rbuf_iter *it, backend__bytes *key, backend__bytes *val)
{
    const entry *best = NULL;
    /* The smallest head key over all runs; the newest run holding it wins. */
    for (size_t k = 0; k < it->nruns; k++) {
        const run *rn = it->runs[k];
        if (it->pos[k] >= rn->n)
            continue;
        const entry *e = &rn->e[it->pos[k]];
        if (best == NULL || backend__bytes_cmp(entry_key(e), entry_key(best)) < 0)
            best = e;
    }
    if (best == NULL)
        return false;
    backend__bytes bk = entry_key(best);
    if (it->end.size > 0 && backend__bytes_cmp(bk, it->end) >= 0)
        return false;
    for (size_t k = 0; k < it->nruns; k++) {
        const run *rn = it->runs[k];
        if (it->pos[k] < rn->n && backend__bytes_cmp(entry_key(&rn->e[it->pos[k]]), bk) == 0)
            it->pos[k]++;
    }
    *key = bk;
    *val = (backend__bytes){ best->val, best->val != NULL ? best->vlen : 0 };
    return true;
}

void backend__rbuf_iter_release(backend__rbuf_iter *it)
{
    if (it->pos != it->pos_small)
        strata_free(it->pos);
    it->pos = it->pos_small;
    it->nruns = 0;
}
