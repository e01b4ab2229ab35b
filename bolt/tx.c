/*
 * tx.c: transactions: begin, page access, allocation, commit, rollback.
 *
 * State machine (one per transaction):
 *
 *     bolt_tx_begin --> ACTIVE --bolt_tx_commit--> COMMITTING --ok--> DONE
 *                         |                            |
 *                         +--bolt_tx_rollback--> DONE  +--error--> DONE (rolled back)
 *
 * Rules:
 *   1. A read transaction copies the current meta and takes a reference on
 *      the current map; it reads only pages below its meta's pgid and below
 *      the file size at its start, so later commits never disturb it.
 *   2. One write transaction at a time (db->writing, set from begin to end).
 *      Its txid is the current meta's + 1; pages freed by earlier writers
 *      become allocatable only when no open reader can still see them
 *      (bbolt's freePages: release + releaseRange between readers).
 *   3. Commit order (docs/format.md §3.1): rebalance, spill (children before
 *      parents), free the old freelist run and write the new one, grow the
 *      file, write dirty pages sorted by id (coalesced runs), fdatasync,
 *      write the meta to page txid % 2, fdatasync. A failure before the meta
 *      write leaves the previous state current; an I/O failure poisons the
 *      db for writing (the page cache may have dropped the data).
 *   4. Every byte a transaction hands out or stores in a node lives in the
 *      map or in the tx arena, both stable until the transaction ends.
 *   5. A tree page is validated (bolt__page_check) by the first load of
 *      it after the writer last wrote it, in any transaction: the db keeps
 *      a bit per page id (checked.c), set by that load and cleared by the
 *      writer around every write of the page (write_pages, the shrink's
 *      truncation), so later loads in every (non-live) transaction trust
 *      it. Checking every element of a page on every load made a point
 *      get O(elements per page) per level, and each short read
 *      transaction re-validated the root branch. Live readers check every
 *      load (their copies are private).
 *   6. The shrink (bolt_options.shrink_threshold): before the freelist is
 *      stored, a commit whose free ids end the file in a run longer than
 *      the threshold cuts that run and lowers meta.pgid below it (the new
 *      freelist page, if any, then lands below the new mark or at it).
 *      The file is truncated after the meta is durable, never below the
 *      mark of either meta slot (the older slot keeps the old mark until
 *      the next commit overwrites it: so the cut lands at that commit; a
 *      torn meta write can never make a meta current that names pages past
 *      the end), and never while a read transaction older than the shrink
 *      is open (it may still walk pages past the new end: the cut waits
 *      for the first commit after the last of them). Both meta slots keep
 *      bbolt's txid order. A crash anywhere leaves either the old state
 *      (meta not durable; the file is whole) or the new one (the tail is
 *      not needed). A failure before the meta gives the ids back (untrim).
 *   7. A write transaction's changed leaves are private copies in its
 *      dirty-page table (dirty.c), keyed by the committed page's id: every
 *      page load looks there first, so the transaction reads what it wrote.
 *      Commit attaches them to the node tree before rebalance (dirty.c
 *      rule 6); rule 3 then applies unchanged.
 *   8. Idle read transactions: a read transaction that ends while its meta
 *      is still the current one is parked (db->idle, at most IDLE_MAX, not
 *      live, its cursors freed, its arena small) with its bucket handles,
 *      its arena, its map reference and its reader slot, and the next read
 *      begin takes it instead of allocating and opening buckets again: a
 *      short reader (an mvcc point get) then allocates nothing. A parked
 *      transaction sees exactly what a new one would (same meta, same map,
 *      immutable pages). Its reader slot would hold back what the next
 *      write frees one commit longer (rule 2's release is bbolt's: a reader
 *      at txid R keeps what write R freed), so a write begin drops the
 *      parked readers before it releases pending pages; every commit drops
 *      them again when it publishes its meta (they see the old one), before
 *      the shrink's truncation looks at the readers; close drops them
 *      first. They count in neither db->ntx nor
 *      bolt_db_stats' open transactions.
 *   9. Short-lived pages in runs: a commit's branch pages and its freelist
 *      page are rewritten by nearly every later commit (random puts touch
 *      most branches), while its leaves live on for many. Allocated lowest
 *      id first like the leaves, they took scattered ids, and every page
 *      was one more separate write for the data sync to wait on (B3: ~106
 *      writes per commit of ~106 pages; on this disk a scattered page costs
 *      ~15 us more than a page next to another). So their callers set
 *      tx->alloc_short (node.c, dirty_spill.c, commit_freelist) and
 *      short_take hands them consecutive ids: after the previous one when
 *      free, else from the lowest free run of SHORT_RUN ids or more, else
 *      at the high-water mark. Their runs free up together one commit
 *      later and are taken again whole: two runs alternate, and a commit's
 *      branches go out in one write. Bounds: no run is looked for while a
 *      quarter of the file is free or pending (after a big delete the old
 *      lowest-first order keeps the free space at the tail for the shrink),
 *      a free tail longer than SHORT_TAIL is never taken (the shrink's),
 *      and the mark is used only while less than an eighth of the file is
 *      free or pending, so the file grows by this rule by less than that.
 *      Every id goes through the freelist's allocate_at (recorded as any
 *      allocation: rollback and release_range unchanged) or the mark.
 *  10. Zero-ahead: the file grows by fallocate (db.c), whose blocks are
 *      "unwritten" extents; a data sync that wrote into one must convert
 *      the extent and write the inode before its flush (ext4: one more
 *      ordered write; this disk's fsync probe: 243 syncs/s into such blocks
 *      against 533/s overwriting, at load 5). A small commit adds a few
 *      pages at the high-water mark, so nearly every durable commit paid
 *      that. So the write-out of a durable commit whose mark comes within
 *      ZERO_AHEAD / 8 of db->init_pages (pages below it known written)
 *      also writes zeros over [start, start + ZERO_AHEAD) (clipped to the
 *      file), start being the highest of init_pages, the new mark, the
 *      current meta's mark and that of the meta slot it overwrites: pages
 *      no meta that can be current after a crash names, no reader reads
 *      (a reader reads below its meta's mark) and nothing allocates before
 *      a commit raises the mark over them. The next ~ZERO_AHEAD / 8 commits
 *      then overwrite initialized blocks. Not done by a commit that adds
 *      more than ZERO_AHEAD / 4 pages past init_pages itself (a bulk
 *      append initializes its own blocks; zeros ahead would write them
 *      twice), nor while a shrink's cut is pending (the tail goes), nor
 *      without syncs. The zeros are written like the pages (a failure
 *      poisons, rule 3) and synced with them; the truncation of rule 6
 *      lowers init_pages to the new end.
 *  11. A no_sync commit copies the pages it rewrites below the committed
 *      high-water mark into the db's writable map (db.c rule 9, when the
 *      file allows one) instead of writing them with pwritev: once a page
 *      is mapped writable and dirty, a rewrite is a memcpy, where a write
 *      call costs the system call and the page cache's per-write work for
 *      every page (B3-nosync: 91 calls a commit, 42-50% of its CPU). Pages
 *      at or past the old mark (a growing tail: B1's appends) keep pwritev:
 *      each would cost a fault the first time, and a long write call fills
 *      them faster. The order is rule 3's (pages, then the meta by pwrite
 *      into the same page cache); with no sync there is no flush to order.
 *      Rule 5's clearing is the same per run.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bolt_int.h"
#include "id_sort.h"

#define ARENA_CHUNK (64 * 1024)
#define ARENA_FIRST 1024 /* a read transaction's few bucket names: no 64 KiB block */
#define IDLE_MAX    8    /* rule 8 */
#define IDLE_ARENA  (256 * 1024)

struct bolt__arena_chunk {
    bolt__arena_chunk *next;
    size_t used, cap;
    unsigned char data[];
};

void *bolt__tx_alloc(bolt_tx *tx, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    bolt__arena_chunk *c = tx->arena;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        if (c == NULL && n <= ARENA_FIRST / 4)
            cap = ARENA_FIRST;
        bolt__arena_chunk *nc = strata_malloc(sizeof *nc + cap);
        if (nc == NULL)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (cap == n && c != NULL) {
            /* A big block: keep the current chunk first for small ones. */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            tx->arena = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

const unsigned char *bolt__tx_copy(bolt_tx *tx, const void *p, size_t n)
{
    static const unsigned char empty[1] = { 0 };
    if (n == 0)
        return empty; /* a non-NULL pointer: an empty value is not a bucket */
    unsigned char *d = bolt__tx_alloc(tx, n);
    if (d != NULL)
        memcpy(d, p, n);
    return d;
}

int bolt__tx_usable(const bolt_tx *tx, bool write)
{
    /* An ended transaction is freed (the handle contract, bolt.h): nothing to test. */
    if (tx == NULL)
        return STRATA_EMISUSE;
    if (write && !tx->writable)
        return BOLT_ETXNOTWRITABLE;
    return 0;
}

int bolt__tx_page_run(bolt_tx *tx, bolt_pgid id, uint32_t *overflow, uint16_t *flags)
{
    uint64_t ps = tx->db->page_size;
    if (id < 2 || id >= tx->meta.pgid)
        return bolt__corrupt(tx->db, id, "page id out of range");
    uint64_t off = id * ps;
    if (off + ps > tx->limit)
        return bolt__corrupt(tx->db, id, "page past the end of the file");
    const unsigned char *p;
    uint32_t ov;
    if (tx->db->opt.live && !tx->writable) {
        int rc = bolt__live_page(tx, id, &p, &ov);
        if (rc != 0)
            return rc;
        *overflow = ov;
        if (flags != NULL)
            *flags = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF);
        return 0;
    }
    p = tx->map->base + off;
    ov = bolt__ld32(p + BOLT_PAGE_OVERFLOW_OFF);
    if (id + ov >= tx->meta.pgid)
        return bolt__corrupt(tx->db, id, "overflow run past the high-water mark");
    if (off + ((uint64_t)ov + 1) * ps > tx->limit)
        return bolt__corrupt(tx->db, id, "overflow run past the end of the file");
    *overflow = ov;
    if (flags != NULL)
        *flags = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF);
    return 0;
}

int bolt__tx_page(bolt_tx *tx, bolt_pgid id, bolt__page *out)
{
    uint64_t ps = tx->db->page_size;
    if (tx->dpt_n > 0 && id < tx->meta.pgid && (id + 1) * ps <= tx->limit &&
        bolt__ld16(tx->map->base + id * ps + BOLT_PAGE_FLAGS_OFF) == BOLT_PAGE_LEAF) {
        /* Rule 7: the transaction's own copy of a leaf (checked when it was made). */
        bolt__dpage *d = bolt__dpage_find(tx, id);
        if (d != NULL) {
            if (!tx->dpt_quiet)
                d->exposed = true; /* dirty.c rule 2: a read may keep its bytes */
            bolt__page_fill(d->buf, d->cap, id, out);
            return 0;
        }
    }
    return bolt__tx_page_committed(tx, id, out);
}

int bolt__tx_page_committed(bolt_tx *tx, bolt_pgid id, bolt__page *out)
{
    uint32_t ov;
    int rc = bolt__tx_page_run(tx, id, &ov, NULL);
    if (rc != 0)
        return rc;
    uint64_t ps = tx->db->page_size;
    const unsigned char *buf = tx->map->base + id * ps;
    size_t size = (size_t)(((uint64_t)ov + 1) * ps);
    const char *why;
    if (tx->db->opt.live && !tx->writable) {
        /* live: decode a private copy, every time (live.c; rule 5 does not apply) */
        if ((rc = bolt__live_page(tx, id, &buf, &ov)) != 0)
            return rc;
        size = (size_t)(((uint64_t)ov + 1) * ps);
        rc = bolt__page_load(buf, size, id, out, &why);
        return rc != 0 ? bolt__corrupt(tx->db, id, why) : 0;
    }
    if (bolt__checked_test(tx->db, id)) {
        bolt__page_fill(buf, size, id, out); /* rule 5: validated since last written */
        return 0;
    }
    uint64_t epoch = bolt__checked_epoch(tx->db); /* before the bytes are read */
    rc = bolt__page_load(buf, size, id, out, &why);
    if (rc != 0)
        return bolt__corrupt(tx->db, id, why);
    bolt__checked_set(tx->db, id, epoch);
    return 0;
}

#define SHORT_RUN   16  /* rule 9: the least free run a short-lived page starts */
#define SHORT_LOOKS 32  /* rule 9: runs looked for per commit, at most */
#define SHORT_TAIL  256 /* rule 9: a longer free run at the end is left to the shrink */

/*
 * Rule 9: n ids for a short-lived page, or 0 for the ordinary allocation.
 * In order: the ids right after the previous short-lived page (at the
 * high-water mark, or free); the start of the lowest free run of at least
 * SHORT_RUN ids (not a free tail longer than SHORT_TAIL: the shrink's); the
 * high-water mark. Runs only while less than a quarter of the file is free
 * or pending (after a big delete: low ids first, as before), the mark only
 * while less than an eighth is (what it can add to the file).
 */
static bolt_pgid short_take(bolt_tx *tx, size_t n)
{
    bolt__freelist *fl = tx->db->freelist;
    bolt_txid txid = tx->meta.txid;
    uint64_t max_pages = BOLT_MAX_MAP_SIZE / tx->db->page_size;
    bolt_pgid p = 0;
    if (tx->short_next != 0 && tx->short_next == tx->meta.pgid && tx->meta.pgid + n <= max_pages) {
        p = tx->meta.pgid; /* not recorded in allocs: bbolt's rule for pages past the mark */
        tx->meta.pgid += n;
    } else if (tx->short_next != 0) {
        p = bolt__freelist_allocate_at(fl, txid, tx->short_next, n);
    }
    if (p == 0 && tx->short_looks < SHORT_LOOKS) {
        tx->short_looks++;
        size_t spare = bolt__freelist_free_count(fl) + bolt__freelist_pending_count(fl);
        size_t len;
        bolt_pgid s = 0;
        /* The free ids only shrink during a commit: a run not found stays not found. */
        if ((uint64_t)spare * 4 < tx->meta.pgid && !tx->short_none)
            s = bolt__freelist_find_run(fl, n > SHORT_RUN ? n : SHORT_RUN, tx->meta.pgid,
                                        SHORT_TAIL, &len);
        tx->short_none = s == 0;
        if (s != 0) {
            p = bolt__freelist_allocate_at(fl, txid, s, n);
        } else if ((uint64_t)spare * 8 < tx->meta.pgid && tx->meta.pgid + n <= max_pages) {
            p = tx->meta.pgid;
            tx->meta.pgid += n;
        } else {
            tx->short_looks = SHORT_LOOKS; /* nothing for this commit */
        }
    }
    if (p != 0)
        tx->short_next = p + n;
    return p;
}

/* Room for one more dirty page, and n page ids (freelist first, else the tail). */
static int alloc_ids(bolt_tx *tx, size_t n, bolt_pgid *id)
{
    uint64_t ps = tx->db->page_size;
    if (tx->ndirty == tx->capdirty) {
        size_t cap = tx->capdirty ? tx->capdirty * 2 : 16;
        bolt__dirty *d = strata_realloc(tx->dirty, cap * sizeof *d);
        if (d == NULL)
            return -ENOMEM;
        tx->dirty = d;
        tx->capdirty = cap;
    }
    bolt_pgid p = tx->alloc_short ? short_take(tx, n) : 0; /* rule 9 */
    if (p == 0)
        p = bolt__freelist_allocate(tx->db->freelist, tx->meta.txid, n);
    if (p == 0) {
        if (tx->meta.pgid + n > BOLT_MAX_MAP_SIZE / ps)
            return BOLT_EMMAPTOOLARGE;
        p = tx->meta.pgid;
        tx->meta.pgid += n;
    }
    tx->stats.page_count++;
    tx->stats.page_alloc += n * ps;
    *id = p;
    return 0;
}

int bolt__tx_allocate(bolt_tx *tx, size_t n, bolt_pgid *id, unsigned char **buf)
{
    unsigned char *b = strata_calloc(n, (size_t)tx->db->page_size);
    if (b == NULL)
        return -ENOMEM;
    bolt_pgid p;
    int rc = alloc_ids(tx, n, &p);
    if (rc != 0) {
        strata_free(b);
        return rc;
    }
    bolt__st64(b + BOLT_PAGE_ID_OFF, p);
    bolt__st32(b + BOLT_PAGE_OVERFLOW_OFF, (uint32_t)(n - 1));
    tx->dirty[tx->ndirty++] = (bolt__dirty){ p, n, b, false };
    *id = p;
    *buf = b;
    return 0;
}

int bolt__tx_adopt(bolt_tx *tx, unsigned char *buf, bolt_pgid *id)
{
    bolt_pgid p;
    int rc = alloc_ids(tx, 1, &p);
    if (rc != 0)
        return rc;
    bolt__st64(buf + BOLT_PAGE_ID_OFF, p);
    bolt__st32(buf + BOLT_PAGE_OVERFLOW_OFF, 0);
    tx->dirty[tx->ndirty++] = (bolt__dirty){ p, 1, buf, true };
    *id = p;
    return 0;
}

int bolt__tx_free_page(bolt_tx *tx, bolt_pgid id)
{
    uint32_t ov = 0; /* set on success; 0 keeps -Wmaybe-uninitialized quiet once inlined */
    int rc = bolt__tx_page_run(tx, id, &ov, NULL);
    if (rc != 0)
        return rc;
    return bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, id, ov, false);
}

static int txid_cmp(const void *a, const void *b)
{
    bolt_txid x = *(const bolt_txid *)a, y = *(const bolt_txid *)b;
    return x < y ? -1 : x > y;
}

/* Rule 2: bbolt's freePages. db->mu held. */
static void release_pending(bolt_db *db)
{
    if (db->nreaders > 1)
        qsort(db->readers, db->nreaders, sizeof *db->readers, txid_cmp);
    bolt_txid minid = db->nreaders > 0 ? db->readers[0] : UINT64_MAX;
    if (minid > 0)
        bolt__freelist_release(db->freelist, minid - 1);
    for (size_t i = 0; i < db->nreaders; i++) {
        if (db->readers[i] > 0)
            bolt__freelist_release_range(db->freelist, minid, db->readers[i] - 1);
        minid = db->readers[i] + 1;
    }
    bolt__freelist_release_range(db->freelist, minid, UINT64_MAX);
}

static void root_bucket_init(bolt_tx *tx)
{
    bolt_bucket *r = &tx->root;
    memset(r, 0, sizeof *r);
    r->tx = tx;
    r->root = tx->meta.root;
    r->sequence = tx->meta.sequence;
    r->fill_percent = BOLT_DEFAULT_FILL_PERCENT;
}

int bolt_tx_begin(bolt_db *db, unsigned flags, bolt_tx **out)
{
    *out = NULL;
    if (db == NULL)
        return BOLT_EDATABASENOTOPEN;
    bool write = (flags & BOLT_TX_WRITE) != 0;
    if (write && db->read_only)
        return BOLT_EDATABASEREADONLY;
    if (!write && !db->opt.live) {
        /* Rule 8: a parked reader of the current meta, if there is one. */
        pthread_mutex_lock(&db->mu);
        bolt_tx *idle = db->idle;
        if (idle != NULL) {
            db->idle = idle->idle_next;
            db->nidle--;
            db->ntx++;
            db->read_tx_n++;
        }
        pthread_mutex_unlock(&db->mu);
        if (idle != NULL) {
            idle->idle_next = NULL;
            idle->done = false;
            memset(&idle->stats, 0, sizeof idle->stats);
            *out = idle;
            return 0;
        }
    }
    bolt_tx *tx = strata_calloc(1, sizeof *tx);
    if (tx == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&db->mu);
    while (write && db->writing)
        pthread_cond_wait(&db->wcv, &db->mu);
    if (write && db->poisoned) {
        pthread_cond_signal(&db->wcv);
        pthread_mutex_unlock(&db->mu);
        strata_free(tx);
        return BOLT_EPOISONED;
    }
    if (write) {
        db->writing = true;
        bolt__tx_drop_idle(db); /* rule 8: no parked reader holds back release_pending */
    }
    if (!write && db->opt.live) {
        int rc = bolt__db_live_refresh(db);
        if (rc != 0) {
            pthread_mutex_unlock(&db->mu);
            strata_free(tx);
            return rc;
        }
    }
    if (!write && db->nreaders == db->capreaders) {
        size_t cap = db->capreaders ? db->capreaders * 2 : 8;
        bolt_txid *r = strata_realloc(db->readers, cap * sizeof *r);
        if (r == NULL) {
            pthread_mutex_unlock(&db->mu);
            strata_free(tx);
            return -ENOMEM;
        }
        db->readers = r;
        db->capreaders = cap;
    }
    tx->db = db;
    tx->writable = write;
    tx->meta = db->meta;
    tx->map = db->map;
    tx->map->refs++;
    tx->limit = db->file_size < tx->map->reserved ? (size_t)db->file_size : tx->map->reserved;
    db->ntx++;
    if (write) {
        tx->meta.txid++;
        release_pending(db);
    } else {
        tx->reader_txid = tx->meta.txid;
        db->readers[db->nreaders++] = tx->meta.txid;
        db->read_tx_n++;
    }
    pthread_mutex_unlock(&db->mu);
    root_bucket_init(tx);
    *out = tx;
    return 0;
}

static void bucket_release(bolt_bucket *b)
{
    strata_free(b->nodes);
    strata_free(b->children);
}

/* Bytes a transaction's arena holds. */
static size_t arena_bytes(const bolt_tx *tx)
{
    size_t n = 0;
    for (const bolt__arena_chunk *c = tx->arena; c != NULL; c = c->next)
        n += c->cap;
    return n;
}

/* Rule 8: what a read transaction must be to be parked (its cursors aside). */
static bool tx_parkable(const bolt_tx *tx)
{
    return !tx->writable && !tx->db->opt.live && tx->live == NULL && tx->all_nodes == NULL &&
           arena_bytes(tx) <= IDLE_ARENA;
}

bool bolt_tx_reusable(const bolt_tx *tx)
{
    return tx != NULL && !tx->done && tx->cursors == NULL && tx_parkable(tx);
}

/* Rule 8: park an ending read transaction; false when it must be freed. */
static bool tx_park(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    if (!tx_parkable(tx))
        return false;
    for (struct bolt_cursor *c = tx->cursors, *next; c != NULL; c = next) {
        next = c->next;
        strata_free(c);
    }
    tx->cursors = NULL;
    tx->done = true;
    pthread_mutex_lock(&db->mu);
    bool park = db->nidle < IDLE_MAX && db->meta.txid == tx->meta.txid && db->map == tx->map &&
                !db->poisoned;
    if (park) {
        tx->idle_next = db->idle;
        db->idle = tx;
        db->nidle++;
        db->ntx--;
    }
    pthread_mutex_unlock(&db->mu);
    return park;
}

static void tx_free(bolt_tx *tx);

void bolt__tx_drop_idle(bolt_db *db)
{
    /* Rule 8: called with db->mu held; the parked readers become open ones to free. */
    bolt_tx *list = db->idle;
    db->ntx += db->nidle;
    db->idle = NULL;
    db->nidle = 0;
    if (list == NULL)
        return;
    pthread_mutex_unlock(&db->mu);
    for (bolt_tx *tx = list, *next; tx != NULL; tx = next) {
        next = tx->idle_next;
        tx_free(tx);
    }
    pthread_mutex_lock(&db->mu);
}

static void tx_end(bolt_tx *tx)
{
    if (!tx->writable && tx_park(tx))
        return;
    tx_free(tx);
}

/* Free everything the transaction owns and detach it from the db. */
static void tx_free(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    tx->done = true;
    for (bolt__node *n = tx->all_nodes, *next; n != NULL; n = next) {
        next = n->next_alloc;
        strata_free(n->inodes);
        strata_free(n);
    }
    for (bolt_bucket *b = tx->buckets, *next; b != NULL; b = next) {
        next = b->next_alloc;
        bucket_release(b);
        strata_free(b);
    }
    bucket_release(&tx->root);
    for (struct bolt_cursor *c = tx->cursors, *next; c != NULL; c = next) {
        next = c->next;
        strata_free(c);
    }
    bolt__dpage_free_all(tx); /* its entries live in the arena */
    for (bolt__arena_chunk *c = tx->arena, *next; c != NULL; c = next) {
        next = c->next;
        strata_free(c);
    }
    bolt__live_free(tx->live);
    for (size_t i = 0; i < tx->ndirty; i++)
        if (!tx->dirty[i].borrowed)
            strata_free(tx->dirty[i].buf);
    strata_free(tx->dirty);
    pthread_mutex_lock(&db->mu);
    if (!tx->writable) {
        for (size_t i = 0; i < db->nreaders; i++) {
            if (db->readers[i] == tx->reader_txid) {
                db->readers[i] = db->readers[--db->nreaders];
                break;
            }
        }
    }
    bolt__map_release(db, tx->map);
    db->ntx--;
    if (tx->writable) {
        db->writing = false;
        pthread_cond_signal(&db->wcv);
    }
    pthread_mutex_unlock(&db->mu);
    strata_free(tx);
}

void bolt_tx_rollback(bolt_tx *tx)
{
    if (tx == NULL || tx->done)
        return;
    if (tx->writable) {
        bolt__freelist_rollback(tx->db->freelist, tx->meta.txid);
        if (tx->trim_n > 0) /* rule 6: the cut ids are free again */
            bolt__freelist_untrim(tx->db->freelist, tx->trim_start, tx->trim_n);
    }
    tx_end(tx);
}

/*
 * Sort the dirty table by page id (rule 3), in place: id_sort.h (qsort's
 * callback and merge buffer were 1.3% of a B3-nosync commit for ~130
 * pages). Ids are distinct.
 */
#define DIRTY_KEY(d) ((d).id)
BOLT__DEFINE_ID_SORT(dirty_sort_ids, bolt__dirty, DIRTY_KEY)

#ifndef NDEBUG
/* Used only as assert(dirty_sorted(...)): ascending, distinct ids. */
static bool dirty_sorted(const bolt__dirty *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1].id >= a[i].id)
            return false;
    return true;
}
#endif

static void dirty_sort(bolt__dirty *a, size_t n)
{
    dirty_sort_ids(a, n);
    assert(dirty_sorted(a, n));
}

/*
 * Rule 3: dirty pages sorted by id, each contiguous run in one pwritev.
 * Rule 5: inside a write epoch, every page of a run unchecked before it is
 * written (write_pages wraps this).
 */
static int write_runs(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    uint64_t ps = db->page_size;
    dirty_sort(tx->dirty, tx->ndirty);
    /* Rule 11: a no_sync commit copies its rewrites into the writable map. */
    unsigned char *wmap = db->opt.no_sync ? bolt__db_wmap(db) : NULL;
    bolt_pgid old_mark = 0;
    if (wmap != NULL) {
        pthread_mutex_lock(&db->mu);
        old_mark = db->meta.pgid;
        pthread_mutex_unlock(&db->mu);
    }
    struct iovec iov[64];
    size_t i = 0;
    while (i < tx->ndirty && tx->dirty[i].id + tx->dirty[i].npages <= old_mark) {
        /* Below the committed mark: pages this file has held before (mapped, likely). */
        size_t j = i;
        bolt_pgid next = tx->dirty[i].id;
        while (j < tx->ndirty && tx->dirty[j].id == next && next + tx->dirty[j].npages <= old_mark)
            next += tx->dirty[j++].npages;
        bolt__checked_clear(db, tx->dirty[i].id, next);
        for (; i < j; i++) {
            int rc = BOLT_FAILPOINT(db, "wmap_page"); /* test_crash kills the writer here */
            if (rc != 0)
                return rc;
            memcpy(wmap + tx->dirty[i].id * ps, tx->dirty[i].buf, tx->dirty[i].npages * ps);
        }
        tx->stats.write++;
    }
    while (i < tx->ndirty) {
        /* Gather a run of adjacent pages, at most 64 buffers and 1 GiB. */
        int n = 0;
        uint64_t start = tx->dirty[i].id * ps, bytes = 0;
        bolt_pgid next = tx->dirty[i].id;
        while (i < tx->ndirty && n < 64 && tx->dirty[i].id == next && bytes < (1ull << 30)) {
            iov[n].iov_base = tx->dirty[i].buf;
            iov[n].iov_len = tx->dirty[i].npages * ps;
            bytes += iov[n].iov_len;
            next = tx->dirty[i].id + tx->dirty[i].npages;
            n++;
            i++;
        }
        bolt__checked_clear(db, tx->dirty[i - (size_t)n].id, next);
        /* Loop invariant: iov[0..n) holds the unwritten rest of the run. */
        struct iovec *v = iov;
        uint64_t off = start;
        while (n > 0) {
            ssize_t w = db->os->pwritev(db->fd, v, n, (off_t)off);
            tx->stats.write++;
            if (w < 0)
                return -errno;
            if (w == 0)
                return -EIO;
            off += (uint64_t)w;
            size_t left = (size_t)w;
            while (n > 0 && left >= v->iov_len) {
                left -= v->iov_len;
                v++;
                n--;
            }
            if (n > 0 && left > 0) {
                v->iov_base = (unsigned char *)v->iov_base + left;
                v->iov_len -= left;
            }
        }
    }
    return 0;
}

#define ZERO_AHEAD (UINT64_C(1) << 20) /* rule 10: bytes zero-filled ahead of the mark */
/* Rule 10's source of zeros: never written, so it stays on the kernel's zero page. */
static unsigned char zero_block[64 * 1024];

/* Rule 10: the pages [*from, *to) this commit zero-fills (*from == *to: none). */
static void zero_plan(bolt_tx *tx, bolt_pgid *from, bolt_pgid *to)
{
    bolt_db *db = tx->db;
    uint64_t ps = db->page_size;
    bolt_pgid ahead = ZERO_AHEAD / ps > 16 ? ZERO_AHEAD / ps : 16;
    *from = *to = 0;
    if (db->opt.no_sync || tx->trim_n > 0 || db->truncate_after != 0)
        return;
    if (BOLT_FAILPOINT(db, "zero_ahead") != 0)
        return; /* a test or an A/B run without the rule (any status: skip, not fail) */
    pthread_mutex_lock(&db->mu);
    bolt_pgid old = db->meta.pgid, end = db->file_size / ps;
    bolt__meta overwritten; /* the slot this commit's meta replaces */
    bolt_pgid over = 0;
    if (bolt__meta_decode(db->map->base + (tx->meta.txid % 2) * ps, ps, &overwritten) == 0)
        over = overwritten.pgid;
    pthread_mutex_unlock(&db->mu);
    if (db->init_pages < old)
        db->init_pages = old; /* every page below a committed mark was written by its commit */
    bolt_pgid mark = tx->meta.pgid;
    if (mark + ahead / 8 < db->init_pages)
        return; /* room enough ahead */
    if (mark > db->init_pages && mark - db->init_pages > ahead / 4)
        return; /* a bulk append: its own pages initialize the tail */
    bolt_pgid start = db->init_pages;
    if (start < mark)
        start = mark;
    if (start < old)
        start = old;
    if (start < over)
        start = over;
    if (start >= end)
        return;
    *from = start;
    *to = end - start > ahead ? start + ahead : end;
}

/*
 * Rule 10: write zeros over pages [from, to), one page per call: the page
 * cache sizes its folios by the length of a write (ext4's large folios), and
 * a single page written later into a large folio costs the whole folio's
 * buffers at every write and writeback (measured: +13% CPU per B3 commit
 * with 1 MiB writes). 0 or -errno.
 */
static int zero_fill(bolt_tx *tx, bolt_pgid from, bolt_pgid to)
{
    bolt_db *db = tx->db;
    size_t ps = db->page_size;
    bolt__checked_clear(db, from, to);
    for (bolt_pgid id = from; id < to; id++) {
        uint64_t off = id * (uint64_t)ps, end = off + ps;
        while (off < end) {
            struct iovec iov[4]; /* a page of up to 4 x 64 KiB of zeros */
            int n = 0;
            for (uint64_t at = off; n < 4 && at < end; n++) {
                size_t len = end - at < sizeof zero_block ? (size_t)(end - at) : sizeof zero_block;
                iov[n].iov_base = zero_block;
                iov[n].iov_len = len;
                at += len;
            }
            ssize_t w = db->os->pwritev(db->fd, iov, n, (off_t)off);
            tx->stats.write++;
            if (w < 0)
                return -errno;
            if (w == 0)
                return -EIO;
            off += (uint64_t)w; /* a short write goes on from there: the bytes are all zeros */
        }
    }
    return 0;
}

static int write_pages(bolt_tx *tx)
{
    bolt_pgid zfrom, zto;
    zero_plan(tx, &zfrom, &zto);
    bolt__checked_write_begin(tx->db);
    int rc = write_runs(tx);
    if (rc == 0 && zfrom < zto)
        rc = zero_fill(tx, zfrom, zto);
    bolt__checked_write_end(tx->db);
    if (rc == 0) {
        /* Rule 10: everything below the new mark is written now, and the zeros. */
        bolt_db *db = tx->db;
        if (db->init_pages < tx->meta.pgid)
            db->init_pages = tx->meta.pgid;
        if (db->init_pages < zto)
            db->init_pages = zto;
    }
    return rc;
}

/* Write tx's meta into its slot `id` (txid % 2). */
static int write_meta(bolt_tx *tx, bolt_pgid id)
{
    bolt_db *db = tx->db;
    unsigned char *buf = strata_calloc(1, db->page_size);
    if (buf == NULL)
        return -ENOMEM;
    bolt__meta_encode(&tx->meta, id, buf, db->page_size);
    int rc = 0;
    size_t done = 0;
    while (done < db->page_size) {
        tx->stats.write++;
        ssize_t w = db->os->pwrite(db->fd, buf + done, db->page_size - done,
                                   (off_t)(id * db->page_size + done));
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)w;
    }
    strata_free(buf);
    return rc;
}

#define SHRINK_MIN_DEFAULT (UINT64_C(64) << 20)

/* Rule 6, first half: cut a long enough free run at the end of the file. */
static void shrink_tail(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    if (db->opt.no_shrink)
        return;
    size_t n = bolt__freelist_tail_run(db->freelist, tx->meta.pgid);
    if (n == 0)
        return;
    uint64_t threshold = db->opt.shrink_threshold;
    if (threshold == 0) {
        pthread_mutex_lock(&db->mu);
        uint64_t quarter = db->file_size / 4;
        pthread_mutex_unlock(&db->mu);
        threshold = quarter > SHRINK_MIN_DEFAULT ? quarter : SHRINK_MIN_DEFAULT;
    }
    if ((uint64_t)n * db->page_size <= threshold)
        return;
    bolt__freelist_trim(db->freelist, tx->meta.pgid, n);
    tx->meta.pgid -= n;
    tx->trim_start = tx->meta.pgid;
    tx->trim_n = n;
}

/* Free the previous freelist run and store the new list (docs/format.md §7). */
static int commit_freelist(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    if (tx->meta.freelist != BOLT_NO_FREELIST) {
        uint32_t ov;
        int rc = bolt__tx_page_run(tx, tx->meta.freelist, &ov, NULL);
        if (rc == 0)
            rc = bolt__freelist_free_run(db->freelist, tx->meta.txid, tx->meta.freelist, ov, true);
        if (rc != 0)
            return rc;
    }
    shrink_tail(tx);
    if (db->opt.no_freelist_sync) {
        tx->meta.freelist = BOLT_NO_FREELIST;
        return 0;
    }
    size_t size = bolt__freelist_page_size(db->freelist);
    size_t n = size / db->page_size + 1;
    bolt_pgid id;
    unsigned char *buf;
    tx->alloc_short = true; /* rule 9: the next commit frees it */
    int rc = bolt__tx_allocate(tx, n, &id, &buf);
    tx->alloc_short = false;
    if (rc != 0)
        return rc;
    rc = bolt__freelist_write(db->freelist, buf, n * db->page_size);
    if (rc != 0)
        return rc;
    bolt__st64(buf + BOLT_PAGE_ID_OFF, id);
    bolt__st32(buf + BOLT_PAGE_OVERFLOW_OFF, (uint32_t)(n - 1));
    tx->meta.freelist = id;
    return 0;
}

static void stats_add(bolt_tx_stats *sum, const bolt_tx_stats *s)
{
    sum->page_count += s->page_count;
    sum->page_alloc += s->page_alloc;
    sum->cursor_count += s->cursor_count;
    sum->node_count += s->node_count;
    sum->node_deref += s->node_deref;
    sum->rebalance += s->rebalance;
    sum->rebalance_ns += s->rebalance_ns;
    sum->split += s->split;
    sum->spill += s->spill;
    sum->spill_ns += s->spill_ns;
    sum->write += s->write;
    sum->write_ns += s->write_ns;
}

uint64_t bolt__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void poison(bolt_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->poisoned = true;
    pthread_mutex_unlock(&db->mu);
}

/*
 * Rule 6: truncate to the larger high-water mark of the two meta slots
 * (the older slot still names the old mark until the next commit replaces
 * it), once no read transaction that began before the shrink is open.
 * db->mu is held across the check and the truncation, so no reader begins
 * on an old meta meanwhile (a new one sees the lowered mark). Done when
 * the current mark is what is kept; else tried again at the next commit.
 * A failed truncation leaves a longer file, which is valid.
 */
static void shrink_truncate(bolt_db *db)
{
    uint64_t ps = db->page_size;
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->nreaders; i++) {
        if (db->readers[i] < db->truncate_after) {
            pthread_mutex_unlock(&db->mu);
            return; /* it may walk the tail: try again at a later commit */
        }
    }
    bolt_pgid keep = db->meta.pgid;
    bolt__meta other;
    bolt_pgid other_id = (db->meta.txid + 1) % 2;
    if (bolt__meta_decode(db->map->base + other_id * ps, ps, &other) == 0 && other.pgid > keep)
        keep = other.pgid;
    uint64_t size = keep * ps;
    if (size < db->file_size && BOLT_FAILPOINT(db, "before_truncate") == 0) {
        bolt__checked_write_begin(db); /* rule 5: the cut pages' bytes go */
        bolt__checked_clear(db, keep, (db->file_size + ps - 1) / ps);
        if (db->os->ftruncate(db->fd, (off_t)size) == 0) {
            db->file_size = size;
            db->alloc_size = size;
            if (db->init_pages > keep)
                db->init_pages = keep; /* rule 10: a regrown tail is unwritten again */
        }
        bolt__checked_write_end(db);
    }
    if (keep == db->meta.pgid)
        db->truncate_after = 0;
    pthread_mutex_unlock(&db->mu);
}

/*
 * The bytes the file must hold for tx's commit: bbolt grows to one page
 * past the high-water mark, but only when the mark moved up (tx.go's
 * commit); a commit that did not raise it needs only the mark, so the
 * first commit after a shrink's cut (rule 6: the file ends exactly at the
 * mark) does not grow the file again by a whole growth step.
 */
static uint64_t grow_needed(const bolt_tx *tx)
{
    bolt_db *db = tx->db;
    pthread_mutex_lock(&db->mu);
    bool up = tx->meta.pgid > db->meta.pgid;
    pthread_mutex_unlock(&db->mu);
    return (tx->meta.pgid + (up ? 1 : 0)) * (uint64_t)db->page_size;
}

int bolt_tx_commit(bolt_tx *tx)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    if (!tx->writable) {
        bolt_tx_rollback(tx);
        return BOLT_ETXNOTWRITABLE;
    }
    bolt_db *db = tx->db;
    if (tx->failed != 0) {
        rc = tx->failed; /* the error that happened, not a generic one */
        bolt_tx_rollback(tx);
        return rc;
    }
    if (tx->meta.txid == 0) {
        /*
         * The txid wrapped: the current meta holds 2^64-1. A meta with txid
         * 0 would lose to the old one at the next open, so the commit would
         * be acknowledged and then lost. Refuse it; a compacted copy
         * starts again from txid 2.
         */
        bolt_tx_rollback(tx);
        return BOLT_ETXIDEXHAUSTED;
    }
    uint64_t t0 = bolt__now_ns();
    rc = bolt__node_attach_dirty(tx);
    if (rc == 0)
        rc = bolt__bucket_rebalance(&tx->root);
    uint64_t t1 = bolt__now_ns();
    tx->stats.rebalance_ns += t1 - t0;
    if (rc == 0)
        rc = bolt__bucket_spill(&tx->root);
    tx->stats.spill_ns += bolt__now_ns() - t1;
    if (rc == 0) {
        tx->meta.root = tx->root.root;
        rc = commit_freelist(tx);
    }
    if (rc == 0)
        rc = bolt__db_grow(db, grow_needed(tx));
    if (rc != 0) {
        bolt_tx_rollback(tx);
        return rc;
    }
    /* From here on the file changes: any failure poisons (rule 3). */
    uint64_t t2 = bolt__now_ns();
    rc = BOLT_FAILPOINT(db, "before_page_write");
    if (rc == 0)
        rc = write_pages(tx);
    if (rc == 0)
        rc = BOLT_FAILPOINT(db, "before_data_sync");
    if (rc == 0 && !db->opt.no_sync && db->os->fdatasync(db->fd) != 0)
        rc = -errno;
    if (rc == 0)
        rc = BOLT_FAILPOINT(db, "before_meta_write");
    if (rc == 0)
        rc = write_meta(tx, tx->meta.txid % 2);
    if (rc == 0)
        rc = BOLT_FAILPOINT(db, "before_meta_sync");
    if (rc == 0 && !db->opt.no_sync && db->os->fdatasync(db->fd) != 0)
        rc = -errno;
    if (rc != 0) {
        poison(db);
        bolt_tx_rollback(tx);
        return rc;
    }
    tx->stats.write_ns += bolt__now_ns() - t2;
    bolt__db_note_freelist(db); /* still the writer: the freelist is ours */
    pthread_mutex_lock(&db->mu);
    db->meta = tx->meta;
    stats_add(&db->stats, &tx->stats);
    bolt__tx_drop_idle(db); /* rule 8: they see the old meta */
    pthread_mutex_unlock(&db->mu);
    if (tx->trim_n > 0)
        db->truncate_after = tx->meta.txid;
    if (db->truncate_after != 0)
        shrink_truncate(db);
    tx_end(tx);
    return 0;
}

void bolt_tx_stats_get(const bolt_tx *tx, bolt_tx_stats *out)
{
    *out = tx->stats;
}

int bolt_tx_live_verify(bolt_tx *tx)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    if (tx->writable || !tx->db->opt.live)
        return STRATA_EMISUSE;
    return bolt__db_newest_txid(tx->db) > tx->meta.txid ? BOLT_ELIVECHANGED : 0;
}

bolt_txid bolt_tx_id(const bolt_tx *tx)
{
    return tx->meta.txid;
}

bool bolt_tx_writable(const bolt_tx *tx)
{
    return tx->writable;
}

uint64_t bolt_tx_size(const bolt_tx *tx)
{
    return tx->meta.pgid * (uint64_t)tx->db->page_size;
}

bolt_bucket *bolt_tx_root(bolt_tx *tx)
{
    return &tx->root;
}

int bolt_tx_bucket(bolt_tx *tx, bolt_val name, bolt_bucket **out)
{
    *out = NULL;
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    return bolt_bucket_open(&tx->root, name, out);
}

int bolt_update(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (rc != 0)
        return rc;
    rc = fn(tx, arg);
    if (rc != 0) {
        bolt_tx_rollback(tx);
        return rc;
    }
    return bolt_tx_commit(tx);
}

int bolt_view(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return rc;
    rc = fn(tx, arg);
    bolt_tx_rollback(tx);
    return rc;
}
