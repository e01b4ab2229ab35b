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
 *  3. Merge policy: after a write-back that put a new run in front (not
 *     one that appended, invariant 6), while a list has two runs or more
 *     and size(run[0]) * 2 >= size(run[1]), the two are merged into one.
 *     Sizes therefore at least double along the list (apart from run[0]),
 *     so a list holds O(log n) runs.
 *  4. Reference counts: a snapshot holds one reference on each run of its
 *     lists; a run holds one on each of its blobs. All counts are atomic,
 *     so snapshots may be dropped on any thread.
 *  5. A write buffer entry stores offsets into its bucket's arena, so the
 *     arena can grow (realloc) while entries are added.
 *  6. Append in place. A snapshot sees a run through a view (run, n): its
 *     entries [0, n). A run's entries and a blob's bytes are written only
 *     past `claimed` / `used`, the most any view or entry has ever taken,
 *     and never change once written. So when a write-back's changes all
 *     sort after the last entry of the newest run's view and that view is
 *     the run's whole claimed part (view n == claimed), they are appended
 *     to the run (and their bytes to its newest blob) in place, and the new
 *     snapshot's view has the larger n: older snapshots never look past
 *     their own n, and no reader ever reads what is being written. A run
 *     without room is copied once into one of twice the capacity. This is
 *     the `key` bucket's case (mvcc writes ascending revisions): O(1) per
 *     change instead of a new run merged O(log n) times. Only write-backs
 *     write runs and blobs, and they run one at a time (batch_mu), so
 *     claimed/used need no atomics; a snapshot is published to readers
 *     after its entries are written (backend__publish, under snap_mu).
 *  7. Pooled memory (mpool.c). A snapshot made by backend__rbuf_new_in(p)
 *     and every snapshot written back from it allocate their large run
 *     arrays and byte chunks from p, and each run and blob frees into the
 *     pool it came from (it holds a reference on it). The pool rounds a
 *     size up to its class, so a run's `cap` and a blob's `cap` are the
 *     room the allocation has, which may exceed what was asked for.
 */
#include "tx_buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE UINT32_MAX /* vlen of a delete */

/* ---- shared pieces ----------------------------------------------------- */

typedef struct blob {
    unsigned refs;
    backend__mpool *pool; /* invariant 7: where its memory returns (NULL: the allocator) */
    size_t used, cap;     /* invariant 6: bytes [0, used) are written and immutable */
    unsigned char data[]; /* key/value bytes of one or more write-backs of a bucket */
} blob;

typedef struct entry {
    const unsigned char *key;
    const unsigned char *val; /* NULL for a delete */
    uint32_t klen, vlen;
} entry;

typedef struct backend__run {
    unsigned refs;
    size_t claimed; /* invariant 6: entries [0, claimed) are written and immutable */
    size_t cap;
    entry *e;
    backend__mpool *pool; /* invariant 7: where e returns (NULL: the allocator) */
    size_t e_bytes;       /* e's allocation, for the pool */
    size_t nblobs, capblobs;
    blob **blobs;
} run;

/* What one snapshot sees of a run: its first n entries (invariant 6). */
typedef struct backend__run_view {
    run *r;
    size_t n;
} run_view;

#define NAME_INLINE 24
#define RUNS_INLINE 4

typedef struct bucket_runs {
    unsigned char *name; /* name_inline when it fits */
    size_t name_len;
    size_t nruns;
    run_view *runs; /* newest first; runs_inline when they fit */
    unsigned char name_inline[NAME_INLINE];
    run_view runs_inline[RUNS_INLINE];
} bucket_runs;

struct backend__rbuf {
    unsigned refs;
    backend__mpool *pool; /* invariant 7: its write-backs' runs come from it (a reference) */
    size_t nbuckets;
    bucket_runs *buckets; /* the allocation's tail (one allocation per snapshot) */
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

static backend__bytes view_key(const run_view *v, size_t i)
{
    return entry_key(&v->r->e[i]);
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
        backend__mpool_free(b->pool, b, sizeof *b + b->cap);
}

static void run_unref(run *r)
{
    if (r == NULL || !ref_dec(&r->refs))
        return;
    for (size_t i = 0; i < r->nblobs; i++)
        blob_unref(r->blobs[i]);
    strata_free(r->blobs);
    backend__mpool_free(r->pool, r->e, r->e_bytes);
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

int backend__wbuf_reserve(backend__wbuf *w, backend__bytes bucket, size_t n, size_t bytes)
{
    wbucket *b = wbuf_bucket(w, bucket);
    if (b == NULL || n > SIZE_MAX - b->n || bytes > SIZE_MAX - b->used)
        return -ENOMEM;
    if (grow((void **)&b->e, &b->cap, b->n + n, sizeof *b->e) != 0 ||
        grow((void **)&b->arena, &b->arena_cap, b->used + bytes, 1) != 0)
        return -ENOMEM;
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

/* A blob with room for at least cap bytes (invariant 7: more when the pool rounds up). */
static blob *blob_new(backend__mpool *pool, size_t cap)
{
    size_t got;
    blob *b = backend__mpool_alloc(pool, sizeof *b + (cap ? cap : 1), &got);
    if (b == NULL)
        return NULL;
    b->refs = 1;
    b->pool = pool;
    b->used = 0;
    b->cap = got - sizeof *b;
    return b;
}

/* A run with room for at least cap entries (invariant 7: more when the pool rounds up). */
static run *run_alloc(backend__mpool *pool, size_t cap, size_t capblobs)
{
    run *r = strata_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->refs = 1;
    r->pool = pool;
    r->capblobs = capblobs ? capblobs : 1;
    r->e = backend__mpool_alloc(pool, (cap ? cap : 1) * sizeof *r->e, &r->e_bytes);
    r->cap = r->e_bytes / sizeof *r->e;
    r->blobs = strata_malloc(r->capblobs * sizeof *r->blobs);
    if (r->e == NULL || r->blobs == NULL) {
        backend__mpool_free(pool, r->e, r->e_bytes);
        strata_free(r->blobs);
        strata_free(r);
        return NULL;
    }
    return r;
}

/* Add b to r's blobs with a new reference (the run's); 0 or -ENOMEM. */
static int run_add_blob(run *r, blob *b)
{
    if (r->nblobs == r->capblobs) {
        size_t cap = 2 * r->capblobs;
        blob **p = strata_realloc(r->blobs, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        r->blobs = p;
        r->capblobs = cap;
    }
    ref_inc(&b->refs);
    r->blobs[r->nblobs++] = b;
    return 0;
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
static run *run_from_wbucket(backend__mpool *pool, const wbucket *b)
{
    blob *bl = blob_new(pool, b->used);
    sort_item *items = b->sorted ? NULL : strata_malloc(b->n * sizeof *items);
    run *r = run_alloc(pool, b->n, 1);
    if (bl == NULL || r == NULL || (!b->sorted && items == NULL)) {
        blob_unref(bl);
        strata_free(items);
        run_unref(r);
        return NULL;
    }
    memcpy(bl->data, b->arena, b->used);
    bl->used = b->used;
    r->blobs[0] = bl; /* the run takes the blob's one reference */
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
        r->claimed = b->n; /* appended in strictly increasing order: already a run */
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
    r->claimed = n;
    strata_free(items);
    return r;
}

/*
 * Invariant 6: whether b's changes (sorted, strictly increasing) can follow
 * view v: every key above the view's last one.
 */
static bool appendable(const run_view *v, const wbucket *b)
{
    if (!b->sorted || b->n == 0 || v->n == 0)
        return false;
    backend__bytes first = { b->arena + b->e[0].koff, b->e[0].klen };
    return backend__bytes_cmp(view_key(v, v->n - 1), first) < 0;
}

/*
 * Append b's changes after view v (appendable): in place when v is the
 * run's whole claimed part and there is room, else into a copy of the
 * view with twice the room. *out is the new view, holding its own
 * reference on its run. 0 or -ENOMEM (nothing changed that any view sees).
 */
static int run_append(backend__mpool *pool, const run_view *v, const wbucket *b, run_view *out)
{
    run *r = v->r;
    size_t need = v->n + b->n;
    bool in_place = v->n == r->claimed && need <= r->cap;
    if (!in_place) {
        size_t cap = 2 * need > 64 ? 2 * need : 64;
        run *c = run_alloc(pool, cap, r->nblobs + 4);
        if (c == NULL)
            return -ENOMEM;
        memcpy(c->e, r->e, v->n * sizeof *c->e);
        c->claimed = v->n;
        for (size_t i = 0; i < r->nblobs; i++) {
            ref_inc(&r->blobs[i]->refs);
            c->blobs[c->nblobs++] = r->blobs[i];
        }
        r = c; /* its one reference becomes the new view's */
    } else {
        ref_inc(&r->refs);
    }
    /* The bytes: the run's newest blob when it has room past `used`, else a new one. */
    blob *bl = r->nblobs > 0 ? r->blobs[r->nblobs - 1] : NULL;
    if (bl == NULL || bl->cap - bl->used < b->used) {
        /*
         * Chunks (header included, so a pool's power-of-two class fits
         * them exactly) double from 4 KiB up to 1 MiB; a larger write-back
         * gets its own size.
         */
        size_t chunk = bl != NULL ? 2 * (sizeof *bl + bl->cap) : 4096;
        if (chunk < 4096)
            chunk = 4096;
        if (chunk > ((size_t)1 << 20))
            chunk = (size_t)1 << 20;
        size_t cap = chunk - sizeof(blob);
        if (cap < b->used)
            cap = b->used;
        blob *nb = blob_new(pool, cap);
        int rc = nb == NULL ? -ENOMEM : run_add_blob(r, nb);
        if (nb != NULL)
            blob_unref(nb); /* the run's reference is the only one now */
        if (rc != 0) {
            run_unref(r);
            return rc;
        }
        bl = nb;
    }
    unsigned char *base = bl->data + bl->used;
    memcpy(base, b->arena, b->used);
    bl->used += b->used;
    for (size_t i = 0; i < b->n; i++) {
        const wentry *we = &b->e[i];
        r->e[v->n + i] = (entry){ base + we->koff, we->vlen == TOMBSTONE ? NULL : base + we->voff,
                                  we->klen, we->vlen };
    }
    r->claimed = need;
    *out = (run_view){ r, need };
    return 0;
}

/* Merge two views; `newer` wins on equal keys. Tombstones are kept. */
static run *run_merge(backend__mpool *pool, const run_view *newer, const run_view *older)
{
    run *m = run_alloc(pool, newer->n + older->n, newer->r->nblobs + older->r->nblobs);
    if (m == NULL)
        return NULL;
    size_t i = 0, j = 0, n = 0;
    const entry *ne = newer->r->e, *oe = older->r->e;
    /* Loop invariant: m->e[0..n) is the sorted merge of newer[0..i) and older[0..j). */
    while (i < newer->n && j < older->n) {
        int c = backend__bytes_cmp(entry_key(&ne[i]), entry_key(&oe[j]));
        if (c <= 0) {
            m->e[n++] = ne[i++];
            if (c == 0)
                j++;
        } else {
            m->e[n++] = oe[j++];
        }
    }
    while (i < newer->n)
        m->e[n++] = ne[i++];
    while (j < older->n)
        m->e[n++] = oe[j++];
    m->claimed = n;
    for (size_t k = 0; k < newer->r->nblobs; k++) {
        m->blobs[m->nblobs++] = newer->r->blobs[k];
        ref_inc(&newer->r->blobs[k]->refs);
    }
    for (size_t k = 0; k < older->r->nblobs; k++) {
        m->blobs[m->nblobs++] = older->r->blobs[k];
        ref_inc(&older->r->blobs[k]->refs);
    }
    return m;
}

/* ---- snapshots --------------------------------------------------------- */

/* A snapshot with room for nbuckets buckets, in one allocation; NULL on failure. */
static backend__rbuf *rbuf_alloc(backend__mpool *pool, size_t nbuckets)
{
    backend__rbuf *r = strata_calloc(1, sizeof *r + nbuckets * sizeof(bucket_runs));
    if (r == NULL)
        return NULL;
    r->refs = 1;
    r->pool = pool;
    backend__mpool_ref(pool);
    r->buckets = (bucket_runs *)(r + 1);
    return r;
}

int backend__rbuf_new_in(backend__mpool *p, backend__rbuf **out)
{
    *out = rbuf_alloc(p, 0);
    return *out == NULL ? -ENOMEM : 0;
}

int backend__rbuf_new(backend__rbuf **out)
{
    return backend__rbuf_new_in(NULL, out);
}

static void bucket_runs_release(bucket_runs *b)
{
    for (size_t k = 0; k < b->nruns; k++)
        run_unref(b->runs[k].r);
    if (b->runs != b->runs_inline)
        strata_free(b->runs);
    if (b->name != b->name_inline)
        strata_free(b->name);
}

static void rbuf_destroy(backend__rbuf *r)
{
    for (size_t i = 0; i < r->nbuckets; i++)
        bucket_runs_release(&r->buckets[i]);
    backend__mpool_unref(r->pool);
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

/* dst (zeroed, in place) gets its name; 0 or -ENOMEM. */
static int bucket_runs_name(bucket_runs *dst, const unsigned char *name, size_t len)
{
    dst->name = len <= NAME_INLINE ? dst->name_inline : strata_malloc(len);
    if (dst->name == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(dst->name, name, len);
    dst->name_len = len;
    return 0;
}

/*
 * Fill `dst` with the list of `old` (may be NULL) and the bucket's changes
 * `wb` (may be NULL): appended to the newest view when they follow it
 * (invariant 6), else as a fresh run in front, then the merge policy
 * (invariant 3). 0 or -ENOMEM (dst then holds what the caller releases with
 * bucket_runs_release).
 */
static int bucket_runs_build(backend__mpool *pool, bucket_runs *dst, const bucket_runs *old,
                             const wbucket *wb)
{
    size_t nold = old != NULL ? old->nruns : 0;
    size_t need = nold + 1;
    dst->runs = need <= RUNS_INLINE ? dst->runs_inline : strata_malloc(need * sizeof *dst->runs);
    if (dst->runs == NULL)
        return -ENOMEM;
    dst->nruns = 0;
    bool fresh = false;
    size_t k0 = 0;
    if (wb != NULL && wb->n > 0 && nold > 0 && appendable(&old->runs[0], wb)) {
        int rc = run_append(pool, &old->runs[0], wb, &dst->runs[0]);
        if (rc != 0)
            return rc;
        dst->nruns = 1;
        k0 = 1;
    } else if (wb != NULL && wb->n > 0) {
        run *r = run_from_wbucket(pool, wb);
        if (r == NULL)
            return -ENOMEM;
        dst->runs[dst->nruns++] = (run_view){ r, r->claimed };
        fresh = true;
    }
    for (size_t k = k0; k < nold; k++) {
        ref_inc(&old->runs[k].r->refs);
        dst->runs[dst->nruns++] = old->runs[k];
    }
    while (fresh && dst->nruns >= 2 && dst->runs[0].n * 2 >= dst->runs[1].n) {
        run *m = run_merge(pool, &dst->runs[0], &dst->runs[1]);
        if (m == NULL)
            return -ENOMEM;
        run_unref(dst->runs[0].r);
        run_unref(dst->runs[1].r);
        dst->runs[0] = (run_view){ m, m->claimed };
        memmove(&dst->runs[1], &dst->runs[2], (dst->nruns - 2) * sizeof *dst->runs);
        dst->nruns--;
    }
    return 0;
}

static const wbucket *wbuf_find(const backend__wbuf *w, const unsigned char *name, size_t len)
{
    for (size_t k = 0; k < w->nb; k++)
        if (w->b[k].n > 0 && w->b[k].name_len == len && memcmp(w->b[k].name, name, len) == 0)
            return &w->b[k];
    return NULL;
}

int backend__rbuf_writeback_keep(const backend__rbuf *old, const backend__wbuf *w,
                                 backend__rbuf **out)
{
    backend__rbuf *r = rbuf_alloc(old->pool, old->nbuckets + w->nb);
    if (r == NULL)
        return -ENOMEM;
    int rc = 0;
    /* Buckets of the old snapshot, each with the write buffer's changes added. */
    for (size_t i = 0; i < old->nbuckets && rc == 0; i++) {
        const bucket_runs *ob = &old->buckets[i];
        bucket_runs *nb = &r->buckets[r->nbuckets++];
        rc = bucket_runs_name(nb, ob->name, ob->name_len);
        if (rc == 0)
            rc = bucket_runs_build(r->pool, nb, ob, wbuf_find(w, ob->name, ob->name_len));
    }
    /* Buckets only the write buffer has. */
    for (size_t k = 0; k < w->nb && rc == 0; k++) {
        const wbucket *wb = &w->b[k];
        backend__bytes name = { wb->name, wb->name_len };
        if (wb->n == 0 || rbuf_bucket(old, name) != NULL)
            continue;
        bucket_runs *nb = &r->buckets[r->nbuckets++];
        rc = bucket_runs_name(nb, wb->name, wb->name_len);
        if (rc == 0)
            rc = bucket_runs_build(r->pool, nb, NULL, wb);
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
            n += r->buckets[i].runs[k].n;
    return n;
}

size_t backend__rbuf_runs(const backend__rbuf *r, backend__bytes bucket)
{
    const bucket_runs *b = rbuf_bucket(r, bucket);
    return b != NULL ? b->nruns : 0;
}

/* First index in the view whose key is >= key. */
static size_t run_lower_bound(const run_view *v, backend__bytes key)
{
    size_t lo = 0, hi = v->n;
    /* Loop invariant: keys before lo are < key; keys at hi and after are >= key. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (backend__bytes_cmp(view_key(v, mid), key) < 0)
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
        const run_view *v = &b->runs[k];
        size_t i = run_lower_bound(v, key);
        if (i < v->n && backend__bytes_cmp(view_key(v, i), key) == 0) {
            const entry *e = &v->r->e[i];
            if (e->val == NULL)
                return BACKEND__DELETED;
            *val = (backend__bytes){ e->val, e->vlen };
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
    it->runs = b != NULL ? b->runs : NULL;
    it->nruns = b != NULL ? b->nruns : 0;
    it->end = end;
    it->pos = it->pos_small;
    if (it->nruns > sizeof it->pos_small / sizeof it->pos_small[0]) {
        it->pos = strata_malloc(it->nruns * sizeof *it->pos);
        if (it->pos == NULL)
            return -ENOMEM;
    }
    for (size_t k = 0; k < it->nruns; k++)
        it->pos[k] = run_lower_bound(&it->runs[k], start);
    return 0;
}

bool backend__rbuf_iter_next(backend__rbuf_iter *it, backend__bytes *key, backend__bytes *val)
{
    const entry *best = NULL;
    /* The smallest head key over all runs; the newest run holding it wins. */
    for (size_t k = 0; k < it->nruns; k++) {
        const run_view *v = &it->runs[k];
        if (it->pos[k] >= v->n)
            continue;
        const entry *e = &v->r->e[it->pos[k]];
        if (best == NULL || backend__bytes_cmp(entry_key(e), entry_key(best)) < 0)
            best = e;
    }
    if (best == NULL)
        return false;
    backend__bytes bk = entry_key(best);
    if (it->end.size > 0 && backend__bytes_cmp(bk, it->end) >= 0)
        return false;
    for (size_t k = 0; k < it->nruns; k++) {
        const run_view *v = &it->runs[k];
        if (it->pos[k] < v->n && backend__bytes_cmp(view_key(v, it->pos[k]), bk) == 0)
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
