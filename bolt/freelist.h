/*
 * freelist.h (private to bolt/): the set of free page ids, in memory, and
 * its on-disk page (FORMAT.md §7).
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

/* New, empty freelist. 0, or -ENOMEM; *out is NULL on failure. */
int bolt__freelist_new(bolt__freelist_kind kind, bolt__freelist **out);
/* NULL is a no-op. */
void bolt__freelist_free(bolt__freelist *f);

/*
 * Allocate a run of n contiguous free ids for transaction txid. Returns the
 * first id, or 0 when no run of n free ids exists (the caller then grows the
 * high-water mark). Never returns 0 or 1 as an allocation.
 */
bolt_pgid bolt__freelist_allocate(bolt__freelist *f, bolt_txid txid, size_t n);

/*
 * Mark the run [id, id + overflow] as freed by txid (pending). Returns 0;
 * BOLT_EPANIC if id < 2 or any id of the run is already free or pending
 * (a double free: the caller's bookkeeping is wrong). `is_freelist_page`
 * says the run is the previous freelist run (bbolt attributes it to
 * txid - 1 for release_range).
 */
int bolt__freelist_free_run(bolt__freelist *f, bolt_txid txid, bolt_pgid id, uint32_t overflow,
                            bool is_freelist_page);

/* Make pending ids of every txid <= txid free (no open reader older than txid + 1). */
void bolt__freelist_release(bolt__freelist *f, bolt_txid txid);

/*
 * bbolt's releaseRange: make free every pending id freed by a txid in
 * [begin, end] that was also allocated by a txid in [begin, end] (or was in
 * use before begin... exactly bbolt 1.3.6's rule), so pages written and
 * freed between two open readers are reused.
 */
void bolt__freelist_release_range(bolt__freelist *f, bolt_txid begin, bolt_txid end);

/* Undo transaction txid: its pending ids become in use again, its allocations free. */
void bolt__freelist_rollback(bolt__freelist *f, bolt_txid txid);

/* True when id is free or pending. */
bool bolt__freelist_freed(const bolt__freelist *f, bolt_pgid id);

size_t bolt__freelist_free_count(const bolt__freelist *f);
size_t bolt__freelist_pending_count(const bolt__freelist *f);

/*
 * Bytes the page image needs for free + pending ids: 16 + 8 * n, plus 8 when
 * n >= 0xFFFF (count overflow, FORMAT.md §7.1).
 */
size_t bolt__freelist_page_size(const bolt__freelist *f);

/*
 * Write the page image (header flags 0x10, count or the 0xFFFF escape, the
 * sorted union of free and pending ids) into buf, which has `size` bytes
 * (>= bolt__freelist_page_size). The caller sets the header's id and
 * overflow. 0, or STRATA_EMISUSE if buf is too small.
 */
int bolt__freelist_write(const bolt__freelist *f, unsigned char *buf, size_t size);

/*
 * Replace the contents with the ids stored in a freelist page run: `page`
 * points at its header, `avail` bytes are readable (the whole run), `hwm`
 * is the meta's pgid. Every id is validated: >= 2, < hwm, no duplicates,
 * the count within the run. All loaded ids are free (after a restart no
 * reader holds anything). 0, BOLT_ECORRUPT (nothing changed), or -ENOMEM.
 */
int bolt__freelist_read(bolt__freelist *f, const unsigned char *page, size_t avail, bolt_pgid hwm);

/* Replace the contents with `n` ids (any order, validated as above). */
int bolt__freelist_load_ids(bolt__freelist *f, const bolt_pgid *ids, size_t n, bolt_pgid hwm);

/*
 * Call fn for every free and pending id in ascending order (check.c and the
 * stats walk); stops early and returns fn's value when it is non-zero.
 */
int bolt__freelist_each(const bolt__freelist *f, int (*fn)(bolt_pgid id, void *arg), void *arg);

/* Internal consistency (sorted, disjoint, no 0/1); for assert() and tests. */
bool bolt__freelist_ok(const bolt__freelist *f);

#endif
