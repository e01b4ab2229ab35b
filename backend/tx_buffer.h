/*
 * tx_buffer.h (private to backend/): the buffers that let readers see
 * writes that the batch transaction applied but bolt has not committed yet
 * (etcd's txWriteBuffer / txReadBuffer), as strata does them.
 *
 * The write buffer (backend__wbuf) collects the puts and deletes of the
 * batch transaction holder, in order. On unlock, the backend writes it back:
 * backend__rbuf_writeback() makes a NEW immutable read-buffer snapshot
 * (backend__rbuf) from the current one plus the write buffer, and the
 * backend publishes it. Readers take a reference to the published snapshot
 * in O(1) and keep a stable view for as long as they hold it; nobody copies
 * a buffer per reader (etcd 3.4 does).
 *
 * A snapshot holds, per bucket, a list of immutable sorted runs, newest
 * first. A write-back whose changes all sort after the newest run's last
 * key (the `key` bucket's ascending revisions) appends them to that run in
 * place: the snapshot sees each run through its own length, so older
 * snapshots never see the appended tail (O(1) per change). Any other
 * write-back adds one run (the write buffer sorted, newest change per key
 * kept; its key/value bytes copied once) and then merges the newest runs
 * while the newest is at least half the size of the next, so every entry
 * is re-merged O(log n) times and a lookup searches O(log n) runs. Runs and
 * their byte chunks are reference counted and shared between snapshots.
 *
 * Deletes are buffered as tombstones: a reader of the buffer learns that a
 * key is deleted even though bolt still has it (etcd 3.4 applies deletes to
 * bolt directly, invisible to readers until the commit; strata hides them
 * at once, and the two agree after every commit).
 *
 * Thread rules: a wbuf is used by one thread (the batch tx holder). An
 * rbuf is immutable; any number of threads may read it and take or drop
 * references concurrently.
 */
#ifndef STRATA_BACKEND_TX_BUFFER_H
#define STRATA_BACKEND_TX_BUFFER_H

#include <strata/bolt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct backend__wbuf backend__wbuf;
typedef struct backend__rbuf backend__rbuf;
typedef struct backend__mpool backend__mpool;

/* ---- the snapshots' memory, kept for reuse (mpool.c) -------------------- */

/* A pool holding at most max_bytes of freed blocks. 0 or -ENOMEM/-errno; one reference. */
int backend__mpool_new(size_t max_bytes, backend__mpool **out);
void backend__mpool_ref(backend__mpool *p);   /* NULL is a no-op */
void backend__mpool_unref(backend__mpool *p); /* NULL is a no-op; the last frees its blocks */
/*
 * A block of at least size bytes; *cap is its usable size. From p's cache
 * when the size is pooled (64 KiB .. 8 MiB, rounded up to a power of two;
 * the block then holds a reference on p), else from strata_malloc (also
 * when p is NULL). NULL when out of memory.
 */
void *backend__mpool_alloc(backend__mpool *p, size_t size, size_t *cap);
/* Free a block from backend__mpool_alloc(p, ..., &cap), with that same p and cap. */
void backend__mpool_free(backend__mpool *p, void *m, size_t cap);
/* Bytes cached, and allocations served from the cache / from the allocator (tests). */
void backend__mpool_stats(backend__mpool *p, size_t *bytes, size_t *hits, size_t *misses);

/* A byte string, borrowed. */
typedef struct backend__bytes {
    const unsigned char *data;
    size_t size;
} backend__bytes;

/* ---- write buffer ------------------------------------------------------ */

/* 0 or -ENOMEM; *out NULL on failure. */
int backend__wbuf_new(backend__wbuf **out);
void backend__wbuf_free(backend__wbuf *w); /* NULL is a no-op */

/*
 * Buffer a put (val != NULL) or a delete (val == NULL) of key in bucket.
 * Key, value and bucket name are copied. Keys and values are limited to
 * UINT32_MAX - 1 bytes (STRATA_EOVERFLOW). 0, -ENOMEM or STRATA_EOVERFLOW;
 * on failure the buffer is unchanged.
 */
int backend__wbuf_put(backend__wbuf *w, backend__bytes bucket, backend__bytes key,
                      const backend__bytes *val);

/*
 * Room in bucket's part for n more changes with `bytes` more key and value
 * bytes, each array grown once (not doubling along the way). 0 or -ENOMEM
 * (nothing changed but capacity).
 */
int backend__wbuf_reserve(backend__wbuf *w, backend__bytes bucket, size_t n, size_t bytes);

/* Drop every buffered change, keeping the memory (after a commit). */
void backend__wbuf_reset(backend__wbuf *w);

/* Number of changes buffered since the last write-back or reset. */
size_t backend__wbuf_count(const backend__wbuf *w);

/* ---- read-buffer snapshots --------------------------------------------- */

/* An empty snapshot (after each commit). 0 or -ENOMEM. Holds one reference. */
int backend__rbuf_new(backend__rbuf **out);
/*
 * The same, whose runs and byte chunks (and those of every snapshot
 * written back from it) come from pool p and return to it (NULL: none).
 * The snapshot holds a reference on p.
 */
int backend__rbuf_new_in(backend__mpool *p, backend__rbuf **out);

/*
 * A new snapshot = `old` + every change in `w` (newer wins), and `w` is
 * emptied. `old` is not modified and keeps its references. The result holds
 * one reference. 0 or -ENOMEM (then `old` and `w` are unchanged).
 */
int backend__rbuf_writeback(const backend__rbuf *old, backend__wbuf *w, backend__rbuf **out);

/*
 * As backend__rbuf_writeback, but `w` keeps its changes (so that the same
 * changes can also be written into a second snapshot, or written back
 * again later). `w` notes where they went: a second write-back of the
 * same changes into a snapshot whose newest run is the one this one
 * appended to (or after a fresh run of just these changes) shares the run
 * this one built instead of building another (tx_buffer.c invariant 9),
 * and a large bucket's bytes are shared with the write buffer instead of
 * copied (invariant 8). 0 or -ENOMEM.
 */
int backend__rbuf_writeback_keep(const backend__rbuf *old, backend__wbuf *w, backend__rbuf **out);

void backend__rbuf_ref(backend__rbuf *r);
void backend__rbuf_unref(backend__rbuf *r); /* NULL is a no-op; frees on the last one */

/* Entries over all buckets and runs, duplicates included (for tests and stats). */
size_t backend__rbuf_entries(const backend__rbuf *r);
/* Runs in the bucket's list (for tests of the merge policy). */
size_t backend__rbuf_runs(const backend__rbuf *r, backend__bytes bucket);
/* The bucket's newest run, as an identity only (NULL: none; for tests of run sharing). */
const void *backend__rbuf_newest_run(const backend__rbuf *r, backend__bytes bucket);

/* What the buffer knows of a key. */
typedef enum backend__lookup {
    BACKEND__ABSENT = 0, /* not buffered: ask bolt */
    BACKEND__PRESENT,    /* buffered put: *val is its value */
    BACKEND__DELETED,    /* buffered delete: hidden, whatever bolt has */
} backend__lookup;

/* Look key up; *val points into the snapshot (valid while it is held). */
backend__lookup backend__rbuf_get(const backend__rbuf *r, backend__bytes bucket, backend__bytes key,
                                  backend__bytes *val);

/*
 * Iterate a bucket's buffered changes with key in [start, end) in key order,
 * one per key (the newest), tombstones included (val.data == NULL) so that
 * the caller can hide bolt's copy. end.size == 0 means no upper bound. The
 * iterator borrows the snapshot; hold a reference while using it.
 */
typedef struct backend__rbuf_iter {
    const struct backend__run_view *runs; /* the bucket's run views, newest first */
    size_t nruns;
    size_t *pos; /* next index per run */
    size_t pos_small[8];
    backend__bytes end;
} backend__rbuf_iter;

/* 0 or -ENOMEM; release with backend__rbuf_iter_release. */
int backend__rbuf_iter_init(backend__rbuf_iter *it, const backend__rbuf *r, backend__bytes bucket,
                            backend__bytes start, backend__bytes end);
/* Next change: true with *key / *val (val->data NULL for a delete); false at the end. */
bool backend__rbuf_iter_next(backend__rbuf_iter *it, backend__bytes *key, backend__bytes *val);
void backend__rbuf_iter_release(backend__rbuf_iter *it);

/* Bytes compare as memcmp with the shorter string first on a tie (bolt's key order). */
int backend__bytes_cmp(backend__bytes a, backend__bytes b);

#endif
