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
 *  8. A write bucket's bytes live in a blob of its own (its arena). A
 *     write-back of SHARE_BYTES or more references that blob from the run
 *     instead of copying the bytes (a 100,000-key revoke buffers ~3 MB of
 *     tombstones: each copy is ~3 MB of memory touched, and on a VM whose
 *     host takes freed pages back, fresh memory costs milliseconds per MiB:
 *     docs/lease.md). From then on the arena is shared: the write buffer
 *     never writes into it again (a put copies it first), its `used` marks
 *     the write buffer's bytes as taken (invariant 6), and a reset lets
 *     go of it unless nobody else holds it.
 *  9. One run for both snapshots. While a commit is in flight the backend
 *     writes the same changes back twice, into the snapshot after the
 *     commit (rbuf_new) and into the published one (backend.c rule 8).
 *     A write-back notes in the write bucket where its changes went: the
 *     run and the entries [from, to) that hold them, and the view (src,
 *     from) they were appended after (src NULL: a fresh run of just these
 *     changes, from 0). A later write-back of the same unchanged bucket
 *     into a list whose newest view is that same (src, from) takes (run,
 *     to) in its place: the run's entries [0, from) are src's (the same
 *     run, or copied from that view) and [from, to) are the changes, so
 *     it is exactly what an append would build. Into any other list, a
 *     fresh noted run goes in front as a fresh run (then the merge
 *     policy, except for a run of SHARE_ENTRIES or more, which is left
 *     unmerged: merging would copy it). Once both lists start with the
 *     same run, every later ascending write-back appends once for both.
 *     The note holds references on its run and src (so no pointer can be
 *     reused under it) and is dropped by the bucket's next put and by
 *     reset.
 */
#include "tx_buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE UINT32_MAX /* vlen of a delete */

/* Invariant 8: a write-back of this many bytes of a bucket shares its arena instead of copying. */
#define SHARE_BYTES   ((size_t)64 << 10)
/* Invariant 9: a fresh shared run this long is not merged into a list's older runs. */
#define SHARE_ENTRIES 1024

/* ---- shared pieces ----------------------------------------------------- */

typedef struct blob {
    unsigned refs;
    backend__mpool *pool; /* invariant 7: where its memory returns (NULL: the allocator) */
    size_t used, cap;     /* invariant 6: bytes [0, used) are written and immutable */
    unsigned char data[]; /* key/value bytes of one or more write-backs of a bucket */
} blob;

/*
 * 16 bytes: a run holds one per change, and a big revoke's 100,000
 * tombstones are memory touched for the first time. The value's bytes
 * follow the key's (every blob stores them so), vlen TOMBSTONE: a delete.
 */
typedef struct entry {
    const unsigned char *key;
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

static inline int bytes_cmp(backend__bytes a, backend__bytes b)
{
    size_t n = a.size < b.size ? a.size : b.size;
    int c = n > 0 ? backend__mem_cmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return a.size < b.size ? -1 : a.size > b.size;
}

int backend__bytes_cmp(backend__bytes a, backend__bytes b)
{
    return bytes_cmp(a, b);
}

static backend__bytes entry_key(const entry *e)
{
    return (backend__bytes){ e->key, e->klen };
}

/* The value's bytes (right after the key's), or NULL for a delete. */
static const unsigned char *entry_val(const entry *e)
{
    return e->vlen == TOMBSTONE ? NULL : e->key + e->klen;
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
    size_t koff; /* the key's offset in the bucket's arena (invariant 5); the value follows it */
    uint32_t klen, vlen;
} wentry;

typedef struct wbucket {
    unsigned char *name;
    size_t name_len;
    wentry *e;
    size_t n, cap;
    bool sorted; /* every key so far was above the previous one */
    blob *arena; /* invariant 8: the bytes [0, used) (NULL: none yet) */
    size_t used;
    bool shared; /* invariant 8: a run references arena; never written again */
    /* Invariant 9: where the last write-back put these changes (run NULL: none). */
    run *note_run; /* a reference */
    run *note_src; /* a reference; NULL: note_run is a fresh run of these changes */
    size_t note_from, note_to;
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

/* Invariant 9: forget where the bucket's changes were written back. */
static void note_clear(wbucket *b)
{
    run_unref(b->note_run);
    run_unref(b->note_src);
    b->note_run = b->note_src = NULL;
}

void backend__wbuf_free(backend__wbuf *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nb; i++) {
        note_clear(&w->b[i]);
        strata_free(w->b[i].name);
        strata_free(w->b[i].e);
        blob_unref(w->b[i].arena);
    }
    strata_free(w->b);
    strata_free(w);
}

void backend__wbuf_reset(backend__wbuf *w)
{
    for (size_t k = 0; k < w->nb; k++) {
        wbucket *b = &w->b[k];
        note_clear(b);
        /* Invariant 8: a shared arena is kept only when no run holds it any more. */
        if (b->shared && __atomic_load_n(&b->arena->refs, __ATOMIC_ACQUIRE) != 1) {
            blob_unref(b->arena);
            b->arena = NULL;
        }
        if (b->arena != NULL)
            b->arena->used = 0;
        b->shared = false;
        b->n = 0;
        b->used = 0;
        b->sorted = true;
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
        if (w->b[i].name_len == name.size &&
            backend__mem_cmp(w->b[i].name, name.data, name.size) == 0)
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

/*
 * Room for need bytes in b's arena, which the write buffer may write
 * (invariant 8: a shared arena is first copied into one of its own). 0 or
 * -ENOMEM (nothing changed).
 */
static int arena_room(wbucket *b, size_t need)
{
    blob *a = b->arena;
    if (a != NULL && !b->shared && need <= a->cap)
        return 0;
    size_t cap = a != NULL ? a->cap : 0, n = cap ? cap : 256;
    while (n < need) {
        if (n > SIZE_MAX / 4)
            return -ENOMEM;
        n *= 2;
    }
    if (a != NULL && !b->shared) {
        blob *g = strata_realloc(a, sizeof *a + n); /* only the write buffer holds it */
        if (g == NULL)
            return -ENOMEM;
        g->cap = n;
        b->arena = g;
        return 0;
    }
    blob *g = strata_malloc(sizeof *g + n);
    if (g == NULL)
        return -ENOMEM;
    *g = (blob){ .refs = 1, .pool = NULL, .used = 0, .cap = n };
    if (b->used > 0)
        memcpy(g->data, a->data, b->used);
    blob_unref(a);
    b->arena = g;
    b->shared = false;
    return 0;
}

int backend__wbuf_reserve(backend__wbuf *w, backend__bytes bucket, size_t n, size_t bytes)
{
    wbucket *b = wbuf_bucket(w, bucket);
    if (b == NULL || n > SIZE_MAX - b->n || bytes > SIZE_MAX - b->used)
        return -ENOMEM;
    if (grow((void **)&b->e, &b->cap, b->n + n, sizeof *b->e) != 0 ||
        arena_room(b, b->used + bytes) != 0)
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
        arena_room(b, b->used + key.size + vlen) != 0)
        return -ENOMEM;
    if (b->note_run != NULL)
        note_clear(b); /* invariant 9: the changes are no longer what was written back */
    unsigned char *arena = b->arena->data;
    wentry *e = &b->e[b->n];
    e->koff = b->used;
    e->klen = (uint32_t)key.size;
    if (key.size > 0)
        memcpy(arena + b->used, key.data, key.size);
    b->used += key.size;
    e->vlen = val != NULL ? (uint32_t)vlen : TOMBSTONE;
    if (vlen > 0)
        memcpy(arena + b->used, val->data, vlen);
    b->used += vlen;
    if (b->n > 0 && b->sorted) {
        /*
         * The caller's key, not its copy: the copy's line was just stored
         * to, and in fresh memory reading it back waits for that line to
         * arrive (a memory round trip per put: 10% of a big revoke).
         */
        const wentry *prev = &b->e[b->n - 1];
        backend__bytes pk = { arena + prev->koff, prev->klen };
        b->sorted = bytes_cmp(pk, key) < 0;
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
    int c = bytes_cmp(entry_key(&x->e), entry_key(&y->e));
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Invariant 8: b's bytes for a run, with a new reference: its own arena
 * when large enough (then shared, its bytes [0, used) taken), else NULL
 * (the caller copies them).
 */
static blob *arena_share(wbucket *b)
{
    if (b->used < SHARE_BYTES)
        return NULL;
    blob *a = b->arena;
    b->shared = true;
    if (a->used < b->used)
        a->used = b->used;
    ref_inc(&a->refs);
    return a;
}

/*
 * The bucket's buffered changes as a sorted run with one entry per key (the
 * last change wins), its bytes copied once into a fresh blob or (invariant
 * 8) the bucket's arena itself. The changes are not modified.
 */
static run *run_from_wbucket(backend__mpool *pool, wbucket *b)
{
    blob *bl = arena_share(b);
    bool copy = bl == NULL;
    if (copy)
        bl = blob_new(pool, b->used);
    sort_item *items = b->sorted ? NULL : strata_malloc(b->n * sizeof *items);
    run *r = run_alloc(pool, b->n, 1);
    if (bl == NULL || r == NULL || (!b->sorted && items == NULL)) {
        blob_unref(bl);
        strata_free(items);
        run_unref(r);
        return NULL;
    }
    if (copy) {
        memcpy(bl->data, b->arena->data, b->used);
        bl->used = b->used;
    }
    r->blobs[0] = bl; /* the run takes the blob's one reference */
    r->nblobs = 1;
    for (size_t i = 0; i < b->n; i++) {
        const wentry *we = &b->e[i];
        entry e = { bl->data + we->koff, we->klen, we->vlen };
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
        if (i + 1 < b->n && bytes_cmp(entry_key(&items[i].e), entry_key(&items[i + 1].e)) == 0)
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
    backend__bytes first = { b->arena->data + b->e[0].koff, b->e[0].klen };
    return bytes_cmp(view_key(v, v->n - 1), first) < 0;
}

/*
 * Append b's changes after view v (appendable): in place when v is the
 * run's whole claimed part and there is room, else into a copy of the
 * view with twice the room. *out is the new view, holding its own
 * reference on its run. 0 or -ENOMEM (nothing changed that any view sees).
 */
static int run_append(backend__mpool *pool, const run_view *v, wbucket *b, run_view *out)
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
    /*
     * The bytes: the bucket's arena itself when large (invariant 8), else
     * copied into the run's newest blob when it has room past `used`, else
     * into a new one.
     */
    blob *shared = arena_share(b);
    unsigned char *base;
    if (shared != NULL) {
        int rc = run_add_blob(r, shared);
        blob_unref(shared); /* the run's reference is the one that counts now */
        if (rc != 0) {
            run_unref(r);
            return rc;
        }
        base = shared->data;
    } else {
        blob *bl = r->nblobs > 0 ? r->blobs[r->nblobs - 1] : NULL;
        if (bl == NULL || bl->cap - bl->used < b->used) {
            /*
             * Chunks (header included, so a pool's power-of-two class fits
             * them exactly) double from 4 KiB up to 1 MiB; a larger
             * write-back gets its own size.
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
        base = bl->data + bl->used;
        memcpy(base, b->arena->data, b->used);
        bl->used += b->used;
    }
    for (size_t i = 0; i < b->n; i++) {
        const wentry *we = &b->e[i];
        r->e[v->n + i] = (entry){ base + we->koff, we->klen, we->vlen };
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
        int c = bytes_cmp(entry_key(&ne[i]), entry_key(&oe[j]));
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
            backend__mem_cmp(r->buckets[i].name, name.data, name.size) == 0)
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

/* Invariant 9: remember that b's changes are view (r, to), appended after (src, from). */
static void note_set(wbucket *b, run *r, run *src, size_t from, size_t to)
{
    note_clear(b);
    ref_inc(&r->refs);
    if (src != NULL)
        ref_inc(&src->refs);
    b->note_run = r;
    b->note_src = src;
    b->note_from = from;
    b->note_to = to;
}

/*
 * Fill `dst` with the list of `old` (may be NULL) and the bucket's changes
 * `wb` (may be NULL): the run an earlier write-back of the same changes
 * made (invariant 9), else appended to the newest view when they follow
 * it (invariant 6), else as a fresh run in front, then the merge policy
 * (invariant 3). 0 or -ENOMEM (dst then holds what the caller releases with
 * bucket_runs_release).
 */
static int bucket_runs_build(backend__mpool *pool, bucket_runs *dst, const bucket_runs *old,
                             wbucket *wb)
{
    size_t nold = old != NULL ? old->nruns : 0;
    size_t need = nold + 1;
    dst->runs = need <= RUNS_INLINE ? dst->runs_inline : strata_malloc(need * sizeof *dst->runs);
    if (dst->runs == NULL)
        return -ENOMEM;
    dst->nruns = 0;
    bool fresh = false;
    size_t k0 = 0;
    bool changes = wb != NULL && wb->n > 0;
    if (changes && wb->note_run != NULL && wb->note_src != NULL && nold > 0 &&
        old->runs[0].r == wb->note_src && old->runs[0].n == wb->note_from) {
        /* Invariant 9: what appending would build, built already. */
        ref_inc(&wb->note_run->refs);
        dst->runs[dst->nruns++] = (run_view){ wb->note_run, wb->note_to };
        k0 = 1;
    } else if (changes && wb->note_run != NULL && wb->note_src == NULL) {
        /* Invariant 9: the fresh run of these changes, shared. */
        ref_inc(&wb->note_run->refs);
        dst->runs[dst->nruns++] = (run_view){ wb->note_run, wb->note_to };
        fresh = wb->note_to < SHARE_ENTRIES;
    } else if (changes && nold > 0 && appendable(&old->runs[0], wb)) {
        int rc = run_append(pool, &old->runs[0], wb, &dst->runs[0]);
        if (rc != 0)
            return rc;
        dst->nruns = 1;
        k0 = 1;
        note_set(wb, dst->runs[0].r, old->runs[0].r, old->runs[0].n, dst->runs[0].n);
    } else if (changes) {
        run *r = run_from_wbucket(pool, wb);
        if (r == NULL)
            return -ENOMEM;
        dst->runs[dst->nruns++] = (run_view){ r, r->claimed };
        fresh = true;
        note_set(wb, r, NULL, 0, r->claimed);
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

static wbucket *wbuf_find(backend__wbuf *w, const unsigned char *name, size_t len)
{
    for (size_t k = 0; k < w->nb; k++)
        if (w->b[k].n > 0 && w->b[k].name_len == len &&
            backend__mem_cmp(w->b[k].name, name, len) == 0)
            return &w->b[k];
    return NULL;
}

int backend__rbuf_writeback_keep(const backend__rbuf *old, backend__wbuf *w, backend__rbuf **out)
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
        wbucket *wb = &w->b[k];
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
        if (bytes_cmp(view_key(v, mid), key) < 0)
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
        if (i < v->n && bytes_cmp(view_key(v, i), key) == 0) {
            const entry *e = &v->r->e[i];
            if (e->vlen == TOMBSTONE)
                return BACKEND__DELETED;
            *val = (backend__bytes){ entry_val(e), e->vlen };
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
        if (best == NULL || bytes_cmp(entry_key(e), entry_key(best)) < 0)
            best = e;
    }
    if (best == NULL)
        return false;
    backend__bytes bk = entry_key(best);
    if (it->end.size > 0 && bytes_cmp(bk, it->end) >= 0)
        return false;
    for (size_t k = 0; k < it->nruns; k++) {
        const run_view *v = &it->runs[k];
        if (it->pos[k] < v->n && bytes_cmp(view_key(v, it->pos[k]), bk) == 0)
            it->pos[k]++;
    }
    *key = bk;
    *val = (backend__bytes){ entry_val(best), best->vlen != TOMBSTONE ? best->vlen : 0 };
    return true;
}

void backend__rbuf_iter_release(backend__rbuf_iter *it)
{
    if (it->pos != it->pos_small)
        strata_free(it->pos);
    it->pos = it->pos_small;
    it->nruns = 0;
}

const void *backend__rbuf_newest_run(const backend__rbuf *r, backend__bytes bucket)
{
    const bucket_runs *b = rbuf_bucket(r, bucket);
    return b != NULL && b->nruns > 0 ? b->runs[0].r : NULL;
}
