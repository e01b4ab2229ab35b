/*
 * checked.c: the tree pages whose bytes passed bolt__page_check since the
 * writer last wrote them (tx.c rule 5), one bit per page id, per db.
 *
 * bolt__page_check reads every element of a page. A point read that ran it
 * at every load paid O(elements per page) per level: the key bucket's root
 * branch of an etcd store has hundreds of elements, and every short read
 * transaction re-validated it. Now the first load of a page validates it
 * and sets its bit; later loads in any (non-live) transaction trust the bit
 * until the writer writes that page id again.
 *
 * Rules:
 *   1. The bits are the db's, not a map's: a page id names bytes of the
 *      file, whatever mapping shows them (a reader on an old map after a
 *      remap reads the same file). They are allocated on first use in
 *      chunks of CHUNK_PAGES bits, under groups of GROUP_CHUNKS chunk
 *      pointers, under one top array sized for the largest file the format
 *      allows at this page size (BOLT_MAX_MAP_SIZE): a map reservation is
 *      address space, up to TBs, so only the chunks of pages actually
 *      loaded cost memory. Each level is installed with a CAS (a loser
 *      frees its copy) and all of it is freed at close. A failed allocation
 *      leaves the bit unset: that page is checked at every load, only
 *      slower.
 *   2. A write epoch (db->checked.epoch) is odd while the writer rewrites
 *      pages of the file (write_pages, the shrink's truncation). It bumps
 *      the epoch to odd, clears the bit of every page it is about to write
 *      (every page of every run, dirty pages and the freelist included),
 *      writes, and bumps the epoch to even (bolt__checked_write_begin /
 *      _clear / _write_end). One writer at a time (wmu).
 *   3. A load (bolt__tx_page_committed, not live) reads the epoch BEFORE it
 *      checks the bytes, and sets the bit only if the epoch was even then
 *      and is still the same after the bit is set; otherwise it clears the
 *      bit again (a write overlapped the check: the bytes it checked may be
 *      gone). This is a seqlock: a bit that stays set was set after a check
 *      that no write overlapped, and any later write clears it (its epoch
 *      bump follows our second epoch read, so its clear follows our set).
 *      Hence: a set bit means the page's current bytes passed the check.
 *   4. In a well-formed file no page a reader can reach is rewritten while
 *      the reader is open (tx.c rules 1-2), so rule 3's undo happens only
 *      for readers that loaded a page the writer was rewriting: a corrupt
 *      file listing a page in use as free (db.c rule 7 refuses most), or a
 *      corrupt pointer. Those still never read outside the map: their
 *      bytes are checked, and a bit never survives a write.
 *   5. Live readers (another process writes the file) never use the bits:
 *      they check a private copy of every page at every load (live.c).
 *
 * Memory order: the epoch's reads and bumps and the bit's set and clears
 * are sequentially consistent (a lock-prefixed instruction on x86, which
 * the fetch_or/fetch_and need anyway); the fast path's bit test is relaxed
 * (a stale 0 only costs a check; a stale 1 cannot be seen, since the bit
 * was cleared before the write began and the reader's transaction began
 * after the write that made the page reachable).
 */
#include <assert.h>

#include "bolt_int.h"

#define CHUNK_SHIFT  15 /* pages per chunk: a 4 KiB bitmap */
#define GROUP_SHIFT  10 /* chunks per group: 8 KiB of pointers */
#define CHUNK_PAGES  (UINT64_C(1) << CHUNK_SHIFT)
#define GROUP_CHUNKS ((size_t)1 << GROUP_SHIFT)
#define GROUP_PAGES  (UINT64_C(1) << (CHUNK_SHIFT + GROUP_SHIFT))

void bolt__checked_init(bolt_db *db)
{
    /* Top-array entries: every page id below BOLT_MAX_MAP_SIZE at this page size. */
    db->checked.ntop = (size_t)((BOLT_MAX_MAP_SIZE / db->page_size) / GROUP_PAGES + 1);
}

/* The pointer in *slot, or (create) a zeroed block of `bytes` installed there. */
static void *slot_get(void **slot, size_t bytes, bool create)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p != NULL || !create)
        return p;
    void *fresh = strata_calloc(1, bytes);
    if (fresh == NULL)
        return NULL; /* rule 1: the page is checked at every load */
    void *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    strata_free(fresh); /* another thread installed it first */
    return expected;
}

/* The chunk of bits holding page id, or NULL (not made, or !create). */
static uint64_t *chunk_of(bolt_db *db, bolt_pgid id, bool create)
{
    uint64_t g = id / GROUP_PAGES;
    if (g >= db->checked.ntop)
        return NULL; /* beyond any valid page id (or before open set ntop): never trusted */
    void **top = slot_get(&db->checked.top, db->checked.ntop * sizeof(void *), create);
    if (top == NULL)
        return NULL;
    void **group = slot_get(&top[g], GROUP_CHUNKS * sizeof(void *), create);
    if (group == NULL)
        return NULL;
    size_t c = (size_t)((id / CHUNK_PAGES) % GROUP_CHUNKS);
    return slot_get(&group[c], CHUNK_PAGES / 8, create);
}

bool bolt__checked_test(bolt_db *db, bolt_pgid id)
{
    uint64_t *chunk = chunk_of(db, id, false);
    if (chunk == NULL)
        return false;
    uint64_t bit = id % CHUNK_PAGES;
    return (__atomic_load_n(&chunk[bit / 64], __ATOMIC_RELAXED) >> (bit % 64) & 1) != 0;
}

uint64_t bolt__checked_epoch(bolt_db *db)
{
    return __atomic_load_n(&db->checked.epoch, __ATOMIC_SEQ_CST);
}

void bolt__checked_set(bolt_db *db, bolt_pgid id, uint64_t epoch)
{
    if (epoch & 1)
        return; /* rule 3: the writer was writing pages when the check began */
    uint64_t *chunk = chunk_of(db, id, true);
    if (chunk == NULL)
        return;
    uint64_t bit = id % CHUNK_PAGES;
    uint64_t mask = UINT64_C(1) << (bit % 64);
    __atomic_fetch_or(&chunk[bit / 64], mask, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&db->checked.epoch, __ATOMIC_SEQ_CST) != epoch)
        __atomic_fetch_and(&chunk[bit / 64], ~mask, __ATOMIC_SEQ_CST); /* a write overlapped */
}

void bolt__checked_write_begin(bolt_db *db)
{
    uint64_t e = __atomic_add_fetch(&db->checked.epoch, 1, __ATOMIC_SEQ_CST);
    (void)e;
    assert((e & 1) == 1); /* one writer at a time (wmu) */
}

void bolt__checked_write_end(bolt_db *db)
{
    uint64_t e = __atomic_add_fetch(&db->checked.epoch, 1, __ATOMIC_SEQ_CST);
    (void)e;
    assert((e & 1) == 0);
}

void bolt__checked_clear(bolt_db *db, bolt_pgid from, bolt_pgid to)
{
    assert((__atomic_load_n(&db->checked.epoch, __ATOMIC_RELAXED) & 1) == 1);
    /* Loop invariant: the bits of [original from, from) are clear. */
    while (from < to) {
        bolt_pgid chunk_end = (from / CHUNK_PAGES + 1) * CHUNK_PAGES;
        bolt_pgid end = to < chunk_end ? to : chunk_end;
        uint64_t *chunk = chunk_of(db, from, false);
        if (chunk == NULL) {
            from = end; /* never made: nothing set there */
            continue;
        }
        while (from < end) {
            uint64_t bit = from % CHUNK_PAGES;
            uint64_t word_end = from - bit % 64 + 64;
            uint64_t n = (end < word_end ? end : word_end) - from;
            uint64_t mask = (n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << (bit % 64);
            /* seq_cst: sees every set ordered before our epoch bump (rule 3) */
            if (__atomic_load_n(&chunk[bit / 64], __ATOMIC_SEQ_CST) & mask)
                __atomic_fetch_and(&chunk[bit / 64], ~mask, __ATOMIC_SEQ_CST);
            from += n;
        }
    }
}

void bolt__checked_free(bolt_db *db)
{
    void **top = db->checked.top;
    if (top == NULL)
        return;
    for (size_t g = 0; g < db->checked.ntop; g++) {
        void **group = top[g];
        if (group == NULL)
            continue;
        for (size_t c = 0; c < GROUP_CHUNKS; c++)
            strata_free(group[c]);
        strata_free(group);
    }
    strata_free(top);
    db->checked.top = NULL;
}
