/*
 * live.c: how a read transaction of a live open (bolt_options.live) reads
 * pages. Another process may rewrite any page of the map at any moment:
 * pages it freed, and the meta pages. Checking a page in the map and then
 * following its offsets would race with that writer and could read outside
 * the map (a time-of-check/time-of-use bug). So a live transaction never
 * decodes the map directly:
 *
 *   1. Each page run is copied into the transaction's arena once (cached by
 *      page id), and only the copy is validated and decoded; pointers handed
 *      out (keys, values, inline buckets) point into the copy, stable until
 *      the transaction ends.
 *   2. A run whose header changed while it was being copied (its overflow
 *      count differs in the copy) is reported as BOLT_ELIVECHANGED: the
 *      reader starts again. Any other inconsistency is caught by
 *      bolt_tx_live_verify, which the reader calls after reading.
 *   3. Meta pages are copied before they are decoded (meta.c's decoder reads
 *      the checksum and the fields in several steps).
 *   4. Pages other than the metas are read with pread, never through the
 *      map: a writer may shrink the file (tx.c rule 6) past pages this
 *      reader's older meta still names, and touching a mapped page past the
 *      end of the file raises SIGBUS. pread returns short instead, which is
 *      BOLT_ELIVECHANGED: the reader starts again. (The metas, pages 0 and
 *      1, are never cut.)
 *
 * The cost: a live transaction holds a copy of every page it read, so its
 * memory grows with the pages it visits (a whole-file check copies the
 * file). Ordinary transactions never come here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bolt_int.h"

typedef struct live_slot {
    bolt_pgid id; /* 0 = empty (page 0 is a meta page, never cached here) */
    const unsigned char *copy;
} live_slot;

struct bolt__live_cache {
    live_slot *slots;
    size_t cap, used; /* cap is a power of two; used <= cap / 2 */
};

static size_t slot_of(const bolt__live_cache *c, bolt_pgid id)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (c->cap - 1);
    while (c->slots[i].id != 0 && c->slots[i].id != id)
        i = (i + 1) & (c->cap - 1);
    return i;
}

static int cache_grow(bolt__live_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    live_slot *old = c->slots;
    size_t oldcap = c->cap;
    c->slots = strata_calloc(cap, sizeof *c->slots);
    if (c->slots == NULL) {
        c->slots = old;
        return -ENOMEM;
    }
    c->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id != 0)
            c->slots[slot_of(c, old[i].id)] = old[i];
    strata_free(old);
    return 0;
}

/*
 * Rule 4: n bytes at off with pread, never through the map. 0; -errno;
 * BOLT_ELIVECHANGED when the file ends first (the writer shrank it).
 */
static int read_exact(bolt_db *db, unsigned char *buf, size_t n, uint64_t off)
{
    if (db->fd < 0) { /* a memory image (bolt_open_memory): never truncated */
        memcpy(buf, db->map->base + off, n);
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = db->os->pread(db->fd, buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return BOLT_ELIVECHANGED;
        done += (size_t)r;
    }
    return 0;
}

void bolt__live_free(bolt__live_cache *c)
{
    if (c != NULL) {
        strata_free(c->slots);
        strata_free(c);
    }
}

int bolt__live_page(bolt_tx *tx, bolt_pgid id, const unsigned char **out, uint32_t *overflow)
{
    bolt__live_cache *c = tx->live;
    if (c == NULL) {
        c = tx->live = strata_calloc(1, sizeof *c);
        if (c == NULL)
            return -ENOMEM;
    }
    if (c->cap > 0) {
        live_slot *s = &c->slots[slot_of(c, id)];
        if (s->id == id) {
            *out = s->copy;
            *overflow = bolt__ld32(s->copy + BOLT_PAGE_OVERFLOW_OFF);
            return 0;
        }
    }
    bolt_db *db = tx->db;
    uint64_t ps = db->page_size, off = id * ps;
    /* Bounds as bolt__tx_page_run checks them, on the header read now... */
    unsigned char hdr[BOLT_PAGE_HEADER_SIZE];
    int rc = read_exact(db, hdr, sizeof hdr, off);
    if (rc != 0)
        return rc;
    uint32_t ov = bolt__ld32(hdr + BOLT_PAGE_OVERFLOW_OFF);
    if (id + ov >= tx->meta.pgid || off + ((uint64_t)ov + 1) * ps > tx->limit)
        return bolt__corrupt(db, id, "overflow run past the high-water mark or the file");
    size_t len = (size_t)(((uint64_t)ov + 1) * ps);
    unsigned char *copy = bolt__tx_alloc(tx, len);
    if (copy == NULL)
        return -ENOMEM;
    if ((rc = read_exact(db, copy, len, off)) != 0)
        return rc;
    /* ...and the copy must carry the same run, or the writer moved it (rule 2). */
    if (bolt__ld32(copy + BOLT_PAGE_OVERFLOW_OFF) != ov)
        return BOLT_ELIVECHANGED;
    if ((c->used + 1) * 2 > c->cap && cache_grow(c) != 0)
        return -ENOMEM;
    live_slot *s = &c->slots[slot_of(c, id)];
    s->id = id;
    s->copy = copy;
    c->used++;
    *out = copy;
    *overflow = ov;
    return 0;
}

int bolt__live_meta_decode(const bolt_db *db, int which, bolt__meta *out)
{
    unsigned char buf[BOLT_META_END];
    memcpy(buf, db->map->base + (size_t)which * db->page_size, sizeof buf);
    return bolt__meta_decode(buf, sizeof buf, out);
}
