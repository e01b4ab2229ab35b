/*
 * freelist.h (private to bolt/): the set of free page ids, in memory, and
 * its on-disk page (docs/format.md §7).
 *
 * A page is in exactly one state:
 *   free     allocatable now;
 *   pending  freed by a transaction `txid` (copy-on-write, or its old
 *            freelist run); not allocatable while a reader that can still
 *            see it is open;
 *   in use   neither (reachable from some meta, or the freelist run).
 *
 * Edges: allocate (free -> in use, remembering the allocating txid),
 * free_page (in use -> pending[txid]), release / release_range (pending ->
 * free, once no reader can see them), rollback (pending[txid] -> in use,
 * and pages allocated by txid -> free).
 *
 * Two implementations behind one interface: "array" (sorted array; the
 * lowest run of n pages, as bbolt's default) and "hashmap" (runs indexed by
 * size, so allocating n pages does not scan; bbolt's FreelistHashmapType).
 * Both must produce identical on-disk pages for the same set of ids.
 *
 * Thread rules: used only by the writer, under the db's writer lock.
 */
#ifndef STRATA_BOLT_FREELIST_H
#define STRATA_BOLT_FREELIST_H

#include <strata/bolt.h>

typedef struct bolt__freelist bolt__freelist;

typedef enum bolt__freelist_kind {
    BOLT__FREELIST_ARRAY = 0,
    BOLT__FREELIST_HASHMAP = 1,
} bolt__freelist_kind;

/*
 * New, empty freelist. 0, -ENOMEM, or STRATA_EMISUSE for an unknown kind;
 * *out is NULL on failure. Free it with bolt__freelist_free.
 */
int bolt__freelist_new(bolt__freelist_kind kind, bolt__freelist **out);
/* NULL is a no-op. */
void bolt__freelist_free(bolt__freelist *f);

/*
 * Allocate a run of n contiguous free ids for transaction txid. Returns the
 * first id, or 0 when no run of n free ids exists (the caller then grows the
 * high-water mark). Never returns 0 or 1 as an allocation. Also 0 for
 * n == 0, and when memory for the bookkeeping below cannot be had (growing
 * the file is always a correct answer). ARRAY takes the lowest run (bbolt's
 * arrayAllocate); HASHMAP a run from the smallest run length >= n, without
 * scanning. The first id is remembered as allocated by txid (bbolt's
 * `allocs`, for release_range) and the run as taken by txid (for rollback).
 * Pages the caller takes by growing the high-water mark are not recorded, as
 * in bbolt: freed later, they count as "allocated by an unknown txid".
 */
bolt_pgid bolt__freelist_allocate(bolt__freelist *f, bolt_txid txid, size_t n);

/*
 * Allocate exactly the ids [id, id + n) for txid, recorded as allocate
 * does; 0 (nothing taken) unless all of them are free -- and, for HASHMAP,
 * a free run starts at id (a run is taken from its front; a caller that
 * continues a run it began always asks for its front).
 */
bolt_pgid bolt__freelist_allocate_at(bolt__freelist *f, bolt_txid txid, bolt_pgid id, size_t n);

/*
 * The first id of a run of at least n free ids, low ids first (ARRAY: the
 * lowest such run; HASHMAP: the lowest among the first runs linked in each
 * size class >= n, a bounded look), with its length in *len; 0 (and *len
 * 0) when there is none. A run that ends at the high-water mark `hwm` and
 * is longer than max_tail is never chosen: that is a free tail a commit
 * may cut (tx.c's shrink). Takes nothing.
 */
bolt_pgid bolt__freelist_find_run(const bolt__freelist *f, size_t n, bolt_pgid hwm, size_t max_tail,
                                  size_t *len);

/*
 * Mark the run [id, id + overflow] as freed by txid (pending). Returns 0;
 * BOLT_EPANIC if id < 2, the run reaches UINT64_MAX, or any id of the run is
 * already free or pending (a double free: the caller's bookkeeping is
 * wrong); -ENOMEM. On failure nothing changed. Every id of the run carries
 * the txid that allocated it, for release_range (bbolt's rule): the txid
 * recorded by allocate for `id` (the record is consumed); else txid - 1 when
 * `is_freelist_page` says the run is the previous freelist run (written by
 * the previous commit); else 0, "unknown". This call also reserves what
 * release, release_range and rollback later need, so those cannot fail.
 */
int bolt__freelist_free_run(bolt__freelist *f, bolt_txid txid, bolt_pgid id, uint32_t overflow,
                            bool is_freelist_page);

/* Make pending ids of every txid <= txid free (no open reader older than txid + 1). */
void bolt__freelist_release(bolt__freelist *f, bolt_txid txid);

/*
 * bbolt 1.3.6's releaseRange(begin, end), so pages written and freed
 * between two open readers are reused. The exact rule:
 *  - nothing happens when begin > end;
 *  - only the pending ids freed by a txid in [begin, end] are considered;
 *  - of those, an id becomes free when the txid that allocated it (see
 *    free_run: 0 when unknown, e.g. pages taken from the high-water mark) is
 *    also in [begin, end]; the others stay pending;
 *  - shortcut kept from bbolt: each freeing txid remembers the `begin` of
 *    the last call that considered it, and a later call with the same begin
 *    skips that txid even if its end is larger. The memory starts at 0 and
 *    is lost when the txid has no pending ids left. As the db uses it (an id
 *    is always allocated no later than it is freed, begin >= 1) the shortcut
 *    never changes the outcome; it shows only with begin 0 or ids whose
 *    allocating txid is above their freeing txid, and then only delays a
 *    release (release() still frees everything).
 * The db calls it like bbolt's freePages: with the open readers' txids
 * r1 < r2 < ... rn, release(r1 - 1), then release_range(r1, r1 - 1) (a
 * no-op), release_range(r1 + 1, r2 - 1), ..., release_range(rn + 1, UINT64_MAX).
 */
void bolt__freelist_release_range(bolt__freelist *f, bolt_txid begin, bolt_txid end);

/*
 * Undo write transaction txid, which must be the last one to allocate or
 * free (the current writer): its pending ids become in use again, except
 * those it had allocated itself, and every run it allocated becomes free
 * again. The result equals bbolt's rollback followed by its reload of the
 * committed freelist page. Ids pending under txid that another txid had
 * allocated get that attribution back (bbolt restores it per id).
 */
void bolt__freelist_rollback(bolt__freelist *f, bolt_txid txid);

/*
 * The shrink (tx.c): the length k of the run of free (not pending) ids
 * hwm - k .. hwm - 1 that ends the file; 0 when hwm - 1 is not free.
 */
size_t bolt__freelist_tail_run(const bolt__freelist *f, bolt_pgid hwm);
/*
 * Forget the free ids [hwm - n, hwm) (n <= tail_run(hwm)): the high-water
 * mark is lowered below them. Never fails.
 */
void bolt__freelist_trim(bolt__freelist *f, bolt_pgid hwm, size_t n);
/*
 * Undo a trim: ids [start, start + n), neither free nor pending, become
 * free again (a commit that trimmed failed before its meta was written).
 * Within free_run's reservation (the trim only lowered the counts).
 */
void bolt__freelist_untrim(bolt__freelist *f, bolt_pgid start, size_t n);

/* True when id is free or pending. */
bool bolt__freelist_freed(const bolt__freelist *f, bolt_pgid id);

size_t bolt__freelist_free_count(const bolt__freelist *f);
size_t bolt__freelist_pending_count(const bolt__freelist *f);

/*
 * Bytes the page image needs for free + pending ids: 16 + 8 * n, plus 8 when
 * n >= 0xFFFF (count overflow, docs/format.md §7.1).
 */
size_t bolt__freelist_page_size(const bolt__freelist *f);

/*
 * Write the page image (header flags 0x10, count or the 0xFFFF escape, the
 * sorted union of free and pending ids) into buf, which has `size` bytes
 * (>= bolt__freelist_page_size); bytes after the ids are zeroed. The caller
 * sets the header's id and overflow (bytes 0-7 and 12-15 are not touched).
 * Does not allocate. 0, STRATA_EMISUSE if buf is NULL or too small, or
 * -ENOMEM if an earlier release/release_range/rollback could not get memory
 * (impossible under free_run's reservation, but then the list is incomplete
 * and must not be written; reopen the db to rebuild it).
 */
int bolt__freelist_write(const bolt__freelist *f, unsigned char *buf, size_t size);

/*
 * Replace the contents with the ids stored in a freelist page run: `page`
 * points at its header, `avail` bytes are readable (the whole run), `hwm`
 * is the meta's pgid. Checked: avail >= 16, flags exactly 0x10, the count
 * (or, with count 0xFFFF, the u64 count at offset 16) within the run, and
 * every id >= 2, < hwm, no duplicates, strictly ascending (every writer,
 * bbolt's included, stores them sorted; an unsorted list is refused, not
 * sorted, as it is the mark of a damaged page). All loaded ids are free
 * (after a restart no reader holds anything); pending ids and allocation
 * records are dropped. The caller checks the header's id and names the page
 * in its error. 0, BOLT_ECORRUPT or -ENOMEM (nothing changed on failure).
 */
int bolt__freelist_read(bolt__freelist *f, const unsigned char *page, size_t avail, bolt_pgid hwm);
/* bolt__freelist_read, also writing why an id list is refused into why[0, whysize) ("" else). */
int bolt__freelist_read_why(bolt__freelist *f, const unsigned char *page, size_t avail,
                            bolt_pgid hwm, char *why, size_t whysize);

/*
 * Replace the contents with `n` ids (any order, validated as above; the
 * NoFreelistSync rebuild). 0, BOLT_ECORRUPT, STRATA_EMISUSE (ids NULL with
 * n > 0) or -ENOMEM; nothing changed on failure.
 */
int bolt__freelist_load_ids(bolt__freelist *f, const bolt_pgid *ids, size_t n, bolt_pgid hwm);

/*
 * Call fn for every free and pending id in ascending order (check.c and the
 * stats walk); stops early and returns fn's value when it is non-zero.
 * -ENOMEM (before any call) when the sorted copy cannot be allocated. fn
 * must not modify f.
 */
int bolt__freelist_each(const bolt__freelist *f, int (*fn)(bolt_pgid id, void *arg), void *arg);

/*
 * Internal consistency (sorted, disjoint, no 0/1, counts, the hashmap's
 * indexes); for assert() and tests. O(free + pending).
 */
bool bolt__freelist_ok(const bolt__freelist *f);

#endif
