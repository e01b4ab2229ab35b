/*
 * bolt_int.h (private to bolt/): the engine's structs and the bolt__*
 * functions shared between its files.
 *
 * Ownership: a bolt_db owns its maps, freelist and file; a bolt_tx owns
 * every bucket handle, cursor, node, arena chunk and dirty page it creates,
 * and frees them all when it ends. Locking is written on each field.
 */
#ifndef STRATA_BOLT_INT_H
#define STRATA_BOLT_INT_H

#include <strata/bolt.h>

#include <endian.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format.h"
#include "freelist.h"
#include "os.h"

/*
 * Bytewise key order, shorter first on a common prefix (bbolt's
 * bytes.Compare). The first 8 bytes of keys that have them are compared as
 * one big-endian word, without a call: fixed-width 8-byte keys (ids,
 * etcd's revisions) are the common case on every search path.
 */
static inline int bolt__key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    size_t done = 0;
    if (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return be64toh(x) < be64toh(y) ? -1 : 1;
        done = 8;
    }
    if (n > done) {
        int c = memcmp((const unsigned char *)a + done, (const unsigned char *)b + done, n - done);
        if (c != 0)
            return c;
    }
    return an < bn ? -1 : an > bn;
}

/* ---- page.c: validated tree pages -------------------------------------- */

/* A branch or leaf page that passed bolt__page_check. */
typedef struct bolt__page {
    const unsigned char *data; /* the page header */
    size_t size;               /* readable bytes from data (the whole run) */
    bolt_pgid id;
    uint16_t flags;
    uint16_t count;
    uint32_t overflow;
} bolt__page;

/*
 * Validate a branch/leaf page image: header flags exactly branch or leaf,
 * header id == pgid, the element array and every key/value inside `size`,
 * keys non-empty, branch count >= 1, pos + ksize + vsize <= 2^31 - 1.
 * 0 or BOLT_ECORRUPT with *why set to a static description.
 */
int bolt__page_check(const unsigned char *buf, size_t size, bolt_pgid pgid, const char **why);
/* bolt__page_check, then fill *out. */
int bolt__page_load(const unsigned char *buf, size_t size, bolt_pgid pgid, bolt__page *out,
                    const char **why);
/*
 * Fill *out from a page that already passed bolt__page_check with the same
 * buf, size and pgid (and whose bytes have not changed since).
 */
void bolt__page_fill(const unsigned char *buf, size_t size, bolt_pgid pgid, bolt__page *out);
static inline bool bolt__page_is_leaf(const bolt__page *p)
{
    return (p->flags & BOLT_PAGE_LEAF) != 0;
}
/* Element i (< count) of a validated leaf / branch page. */
void bolt__page_leaf_elem(const bolt__page *p, unsigned i, uint32_t *flags, bolt_val *key,
                          bolt_val *value);
bolt_pgid bolt__page_branch_elem(const bolt__page *p, unsigned i, bolt_val *key);

/* ---- meta.c ------------------------------------------------------------ */

typedef struct bolt__meta {
    uint32_t magic, version, page_size, flags;
    bolt_pgid root;
    uint64_t sequence;
    bolt_pgid freelist;
    bolt_pgid pgid;
    bolt_txid txid;
    uint64_t checksum;
} bolt__meta;

/* The fields of a meta page image (BOLT_META_END bytes) as stored, unvalidated. */
void bolt__meta_fields(const unsigned char *page, bolt__meta *out);
/* FNV-1a 64 of the meta body (page bytes 16..71). */
uint64_t bolt__meta_sum(const unsigned char *page);
/*
 * Decode and validate the meta in a page image with `avail` readable bytes:
 * 0; BOLT_EINVALID (short, bad magic); BOLT_EVERSIONMISMATCH; BOLT_ECHECKSUM
 * (a stored 0 is accepted, as bbolt does). *out is filled when 0.
 */
int bolt__meta_decode(const unsigned char *page, size_t avail, bolt__meta *out);
/* Write a whole meta page (header id, flags 0x04, body, checksum, zeros). */
void bolt__meta_encode(const bolt__meta *m, bolt_pgid id, unsigned char *page, size_t page_size);
/*
 * Choose the current meta of two decode results (docs/format.md §3.1): the
 * larger txid among the valid ones, meta 0 on a tie. Returns 0 and *out, or
 * rc0 when both are invalid.
 */
int bolt__meta_choose(const bolt__meta *m0, int rc0, const bolt__meta *m1, int rc1,
                      bolt__meta *out);
/* Field checks bbolt does not make: page size, root/freelist < pgid. */
int bolt__meta_sane(const bolt__meta *m, const char **why);

/*
 * Read up to n bytes of the image at off into buf; *got receives how many
 * (fewer at the end of the image). 0 or -errno.
 */
typedef int (*bolt__probe_read_fn)(void *arg, uint64_t off, void *buf, size_t n, size_t *got);
/* Bytes at the start of the image the probe needs (bbolt reads 0x1000). */
#define BOLT_PROBE_HEAD 4096
/*
 * THE page-size probe (docs/format.md §3.1 steps 2-3), used by bolt_open and by
 * the CLI's raw reader alike: meta 0's page size when meta 0 is valid and
 * names a size in 512..65536; else the first candidate (hint if not 0, the
 * OS page size, the powers of two 512..65536) at which a valid meta 1 names
 * that same size. 0 with *page_size; BOLT_EINVALID (shorter than
 * BOLT_PROBE_HEAD bytes, or meta 0 not a meta); meta 0's decode error
 * (BOLT_EVERSIONMISMATCH, BOLT_ECHECKSUM, BOLT_EPAGESIZE) when no meta 1 is
 * found either; -errno from read. For tools that show damaged files,
 * *guess (when not NULL) receives meta 0's page size field if its magic is
 * right and the size in range, whatever else is wrong (0 otherwise); the
 * engine never opens with a guess.
 */
int bolt__probe_page_size(bolt__probe_read_fn read, void *arg, uint64_t fsize, uint32_t hint,
                          uint32_t *page_size, uint32_t *guess);

/* ---- db.c --------------------------------------------------------------- */

/*
 * checked.c (tx.c rule 5): the tree pages whose bytes passed bolt__page_check
 * since the writer last wrote them, one bit per page id, in chunks made on
 * first use; a write epoch, odd while the writer rewrites pages.
 */
typedef struct bolt__checked {
    uint64_t epoch; /* __atomic (checked.c rule 2) */
    void *top;      /* __atomic: ntop group pointers, made on first use (rule 1) */
    size_t ntop;    /* set at open, from the page size; 0 = nothing is trusted */
} bolt__checked;

/* Set ntop from db->page_size (open, before any transaction). */
void bolt__checked_init(bolt_db *db);
/* Is page id's bit set (relaxed; a load trusts it instead of checking)? */
bool bolt__checked_test(bolt_db *db, bolt_pgid id);
/* The write epoch, read BEFORE a load checks a page's bytes. */
uint64_t bolt__checked_epoch(bolt_db *db);
/* A load's check of page id passed on bytes read after `epoch` was read: set its bit. */
void bolt__checked_set(bolt_db *db, bolt_pgid id, uint64_t epoch);
/* The writer (wmu): around every rewrite of file pages, clearing the bits of [from, to). */
void bolt__checked_write_begin(bolt_db *db);
void bolt__checked_clear(bolt_db *db, bolt_pgid from, bolt_pgid to);
void bolt__checked_write_end(bolt_db *db);
/* Close: free every chunk. */
void bolt__checked_free(bolt_db *db);

/* One mapping of the file; refcounted so a remap never waits for readers. */
typedef struct bolt__map {
    const unsigned char *base;
    size_t reserved; /* bytes of address space */
    size_t refs;     /* db->mu */
    bool owned;      /* munmap on release (false for bolt_open_memory) */
} bolt__map;

struct bolt_db {
    char *path;
    int fd; /* -1 for memory images */
    bolt_options opt;
    const struct bolt_os *os;
    uint32_t page_size;
    bool read_only;

    pthread_mutex_t mu; /* guards everything below up to `writing` */
    bolt__map *map;     /* current mapping */
    uint64_t file_size; /* bytes the file is known to have */
    uint64_t alloc_size;
    bolt__meta meta; /* the current committed meta */
    bolt_txid *readers;
    size_t nreaders, capreaders;
    size_t ntx; /* open transactions */
    bool poisoned;
    char corrupt[192];

    /*
     * The writer slot: `writing` (mu) is set from a write transaction's
     * begin to its end, and wcv wakes a writer waiting for it. Not a mutex
     * held for the transaction's life, because a write transaction may be
     * handed from thread to thread (the backend's batch transaction is
     * committed by its commit thread), and a mutex must be unlocked by the
     * thread that locked it. "wmu held" below means: in the write slot.
     */
    bool writing;
    pthread_cond_t wcv;
    bolt__freelist *freelist;  /* wmu; NULL until loaded (read-only dbs never load it) */
    struct bolt__batch *batch; /* mu: the batch gathering calls (batch.c), or NULL */
    uint64_t read_tx_n;        /* mu: read transactions begun since open */
    uint64_t fl_free, fl_pending, fl_inuse; /* mu: the freelist at the last commit */
    bolt_tx_stats stats;                    /* mu: committed write transactions, summed */
    /* The shrink (tx.c rule 6; writer only): a cut waits for readers older than this (0 = none). */
    bolt_txid truncate_after;
    /* dirty.c rule 7 (writer only): page buffers of ended transactions, for the next ones. */
    struct bolt__pooled *dpool;
    size_t ndpool;
    /* Set at open (nothing else runs): bolt__walk_pages went over the tree of this txid. */
    bool walked;
    bolt_txid walked_txid;
    bolt_tx *idle; /* mu: tx.c rule 8, parked read transactions of the current meta */
    size_t nidle;
    bolt__checked checked; /* tx.c rule 5 (checked.c: atomics, no lock) */
    /*
     * tx.c rule 10 (writer only): pages [0, init_pages) of the file are
     * known to have been written at least once (no unwritten extent or hole
     * below it). 0 = not known yet (set from the metas at the first commit).
     */
    bolt_pgid init_pages;
    /* dirty.c rule 9 (writer only): the dirty-page table and the commit's scratch, kept. */
    struct bolt__dirty_keep *dkeep;
    /*
     * db.c rule 9 (writer only): a second, writable shared map of the file
     * for no_sync commits (NULL = none yet, or never: wmap_state), wmap_len
     * bytes long; the read map (map) stays PROT_READ. wmap_state: 0 not yet
     * decided, 1 usable, -1 never (not a file system that rewrites in
     * place, a block not fallocate'd, a replaced I/O table, no map).
     */
    unsigned char *wmap;
    size_t wmap_len;
    int wmap_state;
};

void bolt__map_release(bolt_db *db, bolt__map *m);
/* Record the detail of a corruption (page id + why); returns BOLT_ECORRUPT. */
int bolt__corrupt(bolt_db *db, bolt_pgid pgid, const char *why);
/* Grow the file to hold `needed` bytes (fallocate, else ftruncate; fsync). wmu held. */
int bolt__db_grow(bolt_db *db, uint64_t needed);
/*
 * db.c rule 9: a writable map of the file covering its current size, for a
 * no_sync commit's write-out to copy pages into, or NULL: write with the
 * I/O table instead. wmu held; the pointer is valid until the next call or
 * close.
 */
unsigned char *bolt__db_wmap(bolt_db *db);
/* Record the freelist's figures for bolt_db_stats_get (writer or open; mu not held). */
void bolt__db_note_freelist(bolt_db *db);
/* Live opens: re-read the file size and both metas (db->mu held). */
int bolt__db_live_refresh(bolt_db *db);
/* The largest txid among the valid metas now in the map. */
bolt_txid bolt__db_newest_txid(const bolt_db *db);

/* ---- tx.c --------------------------------------------------------------- */

typedef struct bolt__arena_chunk bolt__arena_chunk;
typedef struct bolt__node bolt__node;
typedef struct bolt__dpage bolt__dpage;

typedef struct bolt__dirty {
    bolt_pgid id;
    size_t npages;
    unsigned char *buf;
    bool borrowed; /* a dirty page's own buffer (dirty.c): freed with the table */
} bolt__dirty;

/* bucket.c rule 6: where the last in-place edit of a bucket happened. */
#define BOLT_HINT_LEVELS 4
typedef struct bolt__write_hint {
    bolt__dpage *d;              /* NULL: none */
    size_t nnodes;               /* the bucket's nnodes when recorded */
    size_t depth;                /* the cursor's depth (branch levels + 1) */
    struct bolt__elemref *stack; /* depth - 1 branch refs (tx arena, BOLT_HINT_LEVELS of them) */
} bolt__write_hint;

/*
 * cursor.c rule 8: the layout of the last page a search guessed in, per
 * depth: its count, the offset of element 0's key, the mean distance
 * between consecutive keys, and how far the guesses at that depth land
 * from the answer. Only ever used to choose lines to prefetch.
 */
#define BOLT_SHAPE_LEVELS 8
typedef struct bolt__page_shape {
    uint32_t count; /* 0: nothing seen yet */
    uint32_t kbase;
    uint32_t stride;
    uint32_t miss; /* a running mean of |answer - guess|, in 1/16 elements */
} bolt__page_shape;

struct bolt_bucket {
    bolt_tx *tx;
    bolt_bucket *parent; /* NULL for the root bucket */
    const unsigned char *name;
    size_t nsize;
    bolt_pgid root; /* 0 = inline */
    uint64_t sequence;
    const unsigned char *inline_data; /* root == 0: the leaf page image */
    size_t inline_size;
    bolt__node *root_node; /* materialized root (the bucket is touched) */
    bolt__node **nodes;    /* every node materialized in this bucket */
    size_t nnodes, capnodes;
    bolt_bucket **children; /* open child handles */
    size_t nchildren, capchildren;
    double fill_percent;
    bool deleted;
    bolt_bucket *next_alloc; /* tx's list of all handles */
    bolt__dpage *dpages;     /* dirty leaves touched through this handle (dirty.c), newest first */
    bolt__write_hint hint;   /* bucket.c rule 6 */
    bolt__page_shape shape[BOLT_SHAPE_LEVELS]; /* cursor.c rule 8: a prefetch hint only */
};

struct bolt_cursor;

struct bolt_tx {
    bolt_db *db;
    bool writable;
    bool done;
    int failed; /* 0, or the status of a mutation that failed half-way: commit returns it */
    bolt__map *map;
    size_t limit; /* readable bytes of the map (min(file, reserved)) */
    bolt__meta meta;
    bolt_bucket root;
    bolt_bucket *buckets; /* allocated handles (not root) */
    struct bolt_cursor *cursors;
    bolt__node *all_nodes;
    bolt__arena_chunk *arena;
    bolt__dirty *dirty;
    size_t ndirty, capdirty;
    bolt_txid reader_txid;
    uint64_t generation;           /* bumped by every mutation (cursor invalidation) */
    struct bolt__live_cache *live; /* live opens: private page copies (live.c) */
    bolt_tx_stats stats;           /* what this transaction did (bolt_tx_stats_get) */
    bolt_pgid trim_start;          /* the shrink: free ids [trim_start, +trim_n) cut at commit */
    size_t trim_n;
    struct bolt__dpt_slot *dpt; /* dirty.c: the dirty-page table, open addressing by page id */
    size_t dpt_n, dpt_cap;
    bool dpt_closed; /* commit attached the table: no new dirty pages (dirty.c rule 6) */
    bool dpt_quiet; /* a put/delete's own search: its loads expose no dirty page (dirty.c rule 2) */
    struct bolt__retired *retired; /* dirty.c rule 2: buffers replaced by a compaction */
    size_t nretired, capretired;
    bolt_tx *idle_next; /* db->mu: tx.c rule 8's list of parked readers */
    /*
     * tx.c rule 9 (commit): alloc_short is set by the caller around the
     * allocation of a short-lived page (a branch; the freelist page);
     * short_next is the id after the last one (0: none yet); short_looks
     * counts the runs looked for, short_none says a look found none.
     */
    bool alloc_short, short_none;
    bolt_pgid short_next;
    size_t short_looks;
};

/* Copy n bytes into tx-owned memory (stable until the tx ends). */
void *bolt__tx_alloc(bolt_tx *tx, size_t n);
const unsigned char *bolt__tx_copy(bolt_tx *tx, const void *p, size_t n);
/*
 * Load and validate tree page id as tx sees it: a write transaction's dirty
 * copy of the page (dirty.c) when it has one, else the committed page.
 */
int bolt__tx_page(bolt_tx *tx, bolt_pgid id, bolt__page *out);
/* The committed page only (statistics count what is committed). */
int bolt__tx_page_committed(bolt_tx *tx, bolt_pgid id, bolt__page *out);
/* Header of any page run below the hwm (id, overflow) without type checks. */
int bolt__tx_page_run(bolt_tx *tx, bolt_pgid id, uint32_t *overflow, uint16_t *flags);
/* Allocate a zeroed run of n pages for commit; *buf is tx-owned. */
int bolt__tx_allocate(bolt_tx *tx, size_t n, bolt_pgid *id, unsigned char **buf);
/*
 * Allocate one page id for commit, written from buf (a page the caller owns
 * and keeps until the tx ends; its header id is set here).
 */
int bolt__tx_adopt(bolt_tx *tx, unsigned char *buf, bolt_pgid *id);
/* Free (pending) a page run by id at commit/rebalance time. */
int bolt__tx_free_page(bolt_tx *tx, bolt_pgid id);
int bolt__tx_usable(const bolt_tx *tx, bool write);
/*
 * tx.c rule 8: free the parked read transactions (db->mu held; released and
 * taken again around the frees when there are any).
 */
void bolt__tx_drop_idle(bolt_db *db);
/* Monotonic nanoseconds, for the *_ns statistics. */
uint64_t bolt__now_ns(void);

/* ---- live.c ------------------------------------------------------------ */

typedef struct bolt__live_cache bolt__live_cache;
/*
 * A live read transaction's private copy of the page run at id (bounds
 * checked, cached): 0 with *out and *overflow; BOLT_ECORRUPT;
 * BOLT_ELIVECHANGED (the run changed while copied); -ENOMEM.
 */
int bolt__live_page(bolt_tx *tx, bolt_pgid id, const unsigned char **out, uint32_t *overflow);
void bolt__live_free(bolt__live_cache *c);
/* Decode meta page `which` (0 or 1) from a private copy of it (safe in any mode). */
int bolt__live_meta_decode(const bolt_db *db, int which, bolt__meta *out);

/* ---- node.c ------------------------------------------------------------- */

typedef struct bolt__inode {
    uint32_t flags;
    uint32_t ksize;
    uint32_t vsize;
    bolt_pgid pgid; /* branch: child page */
    const unsigned char *key;
    const unsigned char *value;
    bolt__node *child; /* branch: the materialized child, or NULL */
} bolt__inode;

struct bolt__node {
    bolt_bucket *bucket;
    bolt__node *parent;
    bolt__inode *inodes;
    size_t n, cap;
    const unsigned char *key; /* the separator naming this node in its parent */
    uint32_t ksize;
    const unsigned char *hi; /* every key must stay below this (NULL: no bound) */
    uint32_t hisize;
    bolt_pgid pgid;    /* page read from; 0 = not on disk (new or freed) */
    uint32_t overflow; /* that page's overflow */
    bool leaf;
    bool unbalanced;
    bool spilled;
    bool dead;       /* merged away or removed: skip */
    bool right_edge; /* appended at the tree's right edge ... */
    bool mid_insert; /* ... and never inserted elsewhere: fill pages */
    bolt__node *next_alloc;
    bolt__dpage *dp; /* page mode (dirty.c rule 6): the leaf is this dirty page, no inodes */
};

/* Materialize the node for a page (or the inline page when id == 0). */
int bolt__node_read(bolt_bucket *b, const bolt__page *p, bolt__node *parent, bolt__node **out);
/* The materialized child at index i of a branch node. */
int bolt__node_child(bolt__node *n, size_t i, bolt__node **out);
/* Index of the first inode >= key. */
size_t bolt__node_search(const bolt__node *n, const void *key, size_t ksize, bool *exact);
/*
 * Insert or replace (by old_key) an inode; key/value must be tx-stable
 * memory. edge: the insertion is at the right edge of the tree.
 */
int bolt__node_put(bolt__node *n, const void *old_key, size_t old_ksize, const void *key,
                   size_t ksize, const void *value, size_t vsize, bolt_pgid pgid, uint32_t flags,
                   bolt__node *child, bool edge);
/* Remove key if present (marks the node unbalanced). */
void bolt__node_del(bolt__node *n, const void *key, size_t ksize);
size_t bolt__node_size(const bolt__node *n);
/*
 * node.c rule 5 (bbolt's splitIndex) on elements start .. start+len of arr,
 * whose sizes (16-byte element + key + value) span(arr, i) gives: the
 * length of the first piece (len when it stays whole).
 */
size_t bolt__split_point(const void *arr, size_t start, size_t len,
                         size_t (*span)(const void *arr, size_t i), size_t ps, size_t t);
/* The fill threshold of a split in bucket b (FillPercent; a full page at the right edge). */
size_t bolt__split_threshold(const bolt_bucket *b, bool right_edge, bool mid_insert);
void bolt__node_write(const bolt__node *n, unsigned char *buf);
int bolt__bucket_rebalance(bolt_bucket *b);
int bolt__node_spill(bolt__node *n);
bolt__node *bolt__node_root(bolt__node *n);
/* Free the node's page (pending) and forget it. */
int bolt__node_free(bolt__node *n);
/*
 * A page-mode node (dirty.c rule 6) becomes an ordinary node: its inodes
 * are read from the dirty page (whose bytes stay for the tx). No-op else.
 */
int bolt__node_unpage(bolt__node *n);
/*
 * Commit, before rebalance (dirty.c rule 6): a dirty leaf in page mode that
 * rebalance must see (unbalanced and small, or empty) gets a page-mode node
 * under its materialized parent; every other one only makes sure its
 * bucket's root node is materialized (dirty_spill.c writes it later).
 * Closes the table (no new dirty pages).
 */
int bolt__node_attach_dirty(bolt_tx *tx);
/*
 * Give dirty leaf d a page-mode node: child i of parent is the page at
 * level `level` of d's recorded path (d->depth: d itself); the path below
 * it is materialized from the recorded indices, which are still valid
 * there (no node below parent's child i exists yet).
 */
int bolt__node_attach_at(bolt__node *parent, size_t i, bolt__dpage *d, size_t level);

/* ---- dirty.c: the dirty-page table and in-place leaf edits --------------- */

/* Branch levels a dirty leaf may lie below (deeper trees take the node path). */
#define BOLT_DPAGE_PATH      12
/* dirty.c rule 8: a dirty leaf's buffer grows to at most this many pages. */
#define BOLT_DPAGE_MAX_PAGES 4

/*
 * A buffer kept until the transaction ends (dirty.c rule 2), its size, and
 * its end: every byte from end to size is zero (dirty.c rule 7).
 */
typedef struct bolt__retired {
    unsigned char *buf;
    size_t size;
    size_t end;
} bolt__retired;

/* A page buffer in the db's pool (dirty.c rule 7): zero from end to the page's end. */
typedef struct bolt__pooled {
    unsigned char *buf;
    size_t end;
} bolt__pooled;

/*
 * A write transaction's private, editable copy of a committed leaf page
 * (dirty.c). buf is page_size bytes: header, element array, a gap, then
 * the key/value data at the end of the page (LMDB's layout; still a valid
 * bbolt page image, read by the same accessors).
 */
struct bolt__dpt_slot {
    bolt_pgid id; /* 0: empty (page ids 0 and 1 are metas) */
    bolt__dpage *d;
};

struct bolt__dpage {
    bolt_pgid id;        /* the committed page copied (the table's key) */
    bolt_bucket *bucket; /* the handle it was touched through */
    bolt__node *node;    /* its page-mode node once attached at commit */
    uint32_t cap;        /* bytes of buf: a page, more once grown (rule 8) */
    uint32_t live; /* bytes of the image (packed, dirty.c rule 1): 16 + sum(16 + ksize + vsize) */
    uint16_t path[BOLT_DPAGE_PATH];     /* branch indices from the bucket's root to the leaf */
    bolt_pgid path_id[BOLT_DPAGE_PATH]; /* the branch pages on that path (root first) */
    bolt__dpage *bnext;                 /* the bucket's list (bolt_bucket.dpages) */
    uint8_t depth;                      /* branch levels above the leaf (path entries) */
    uint8_t copies;                     /* rule 2: into a new buffer, this transaction */
    bool exposed;    /* rule 2: a read outside a put/delete loaded it since its last copy */
    bool converted;  /* became an ordinary node: the node owns the state now */
    bool packed;     /* commit packed it into its new page: no more edits */
    bool right_edge; /* what bolt__node_put would have recorded (node.c rule 5) */
    bool mid_insert;
    bool unbalanced; /* an element was deleted */
    unsigned char *buf;
    uint32_t *cuts; /* commit (rule 8): the pieces' first elements, then count */
    uint32_t npieces;
};

/* The dirty copy of page id in tx, or NULL. */
bolt__dpage *bolt__dpage_find(const bolt_tx *tx, bolt_pgid id);
/*
 * The dirty copy of the leaf under cursor c (made now if needed), for a
 * change needing `need` more bytes: 0 with *out (c's top ref then reads
 * the copy); 1 when the change must take the node path (inline bucket,
 * root leaf, overflow page, too deep, or the page cannot hold it); an
 * error (BOLT_ECORRUPT for keys out of order, -ENOMEM).
 */
int bolt__dpage_touch(bolt_cursor *c, size_t need, bolt__dpage **out);
/*
 * A put at c's position (its leaf's element c->stack[top].index; exact:
 * replaces it): the leaf's dirty copy made if needed with the put merged
 * into the copy (rule 10), else bolt__dpage_put on it. 0 with *out (the
 * dirty page); 1 when the put must take the node path (nothing changed);
 * an error (BOLT_ECORRUPT, -ENOMEM).
 */
int bolt__dpage_touch_put(bolt_cursor *c, bool exact, const void *key, size_t ksize,
                          const void *value, size_t vsize, uint32_t flags, bool edge,
                          bolt__dpage **out);
/*
 * Insert (!exact) or replace (exact) element i in place: 0; 1 when it does
 * not fit (nothing changed); -ENOMEM. edge: the insertion is at the tree's
 * right edge (bolt__cursor_at_right_edge).
 */
int bolt__dpage_put(bolt_tx *tx, bolt__dpage *d, size_t i, bool exact, const void *key,
                    size_t ksize, const void *value, size_t vsize, uint32_t flags, bool edge);
/* Remove element i in place: 0; 1 when it must take the node path (nothing changed); -ENOMEM. */
int bolt__dpage_del(bolt_tx *tx, bolt__dpage *d, size_t i);
static inline uint16_t bolt__dpage_count(const bolt__dpage *d)
{
    return bolt__ld16(d->buf + BOLT_PAGE_COUNT_OFF);
}
/*
 * Commit: pack d's page into a new buffer (docs/format.md §5: elements, then
 * data in element order, zeros after), give it a new page id and queue it
 * for writing. 0 with *id; -ENOMEM; BOLT_EMMAPTOOLARGE.
 */
int bolt__dpage_commit(bolt_tx *tx, bolt__dpage *d, bolt_pgid *id);
/*
 * True when d is written as one page at commit; false when node.c rule 5
 * splits it (more than 4 elements and a packed size of a page or more) or
 * it is larger than a page (rule 8).
 */
bool bolt__dpage_fits(const bolt_tx *tx, const bolt__dpage *d);
/* Rule 8: cut d into pieces as node_split would (d->cuts, d->npieces). 0 or -ENOMEM. */
int bolt__dpage_plan_split(bolt_tx *tx, bolt__dpage *d);
/* The first key and the packed size of piece j of a planned split. */
void bolt__dpage_piece_first(const bolt__dpage *d, size_t j, bolt_val *k);
size_t bolt__dpage_piece_size(const bolt__dpage *d, size_t j);
/*
 * Write piece j of a planned split into a new page: 0 with its id and its
 * first key (in the written page, stable for the tx); -ENOMEM; BOLT_EMMAPTOOLARGE.
 */
int bolt__dpage_commit_piece(bolt_tx *tx, bolt__dpage *d, size_t j, bolt_pgid *id, bolt_val *first);
/*
 * A page-sized buffer from the db's pool (rule 7), or NULL; *end: every byte
 * of it from *end on is zero (a page size when nothing is known).
 */
unsigned char *bolt__dpage_buf_get(bolt_db *db, size_t *end);
/*
 * Keep buf (a page) until the transaction ends, then give it back to the
 * pool; the caller leaves every byte from end on zero (rule 7). 0 or -ENOMEM.
 */
int bolt__dpage_retire(bolt_tx *tx, unsigned char *buf, size_t end);
/*
 * Commit, at bucket b's spill before its node tree (dirty_spill.c): write
 * b's dirty leaves that are still in page mode and not attached, and the
 * branch pages above them up to the first materialized node, without
 * nodes; that node's element gets the top page's new id and first key.
 */
int bolt__dpage_spill_bucket(bolt_bucket *b);
/* End of a write transaction: buffers back to the pool, the table freed. */
void bolt__dpage_free_all(bolt_tx *tx);
/* Free the db's pool of page buffers and what rule 9 keeps (close). */
void bolt__dpage_pool_free(bolt_db *db);
/*
 * Rule 9: memory of the commit's plan kept by the db between write
 * transactions (writer only): slot's array, grown to at least n elements
 * of `size` bytes (what it held is kept, as realloc), or NULL on ENOMEM
 * (the array is then unchanged). Valid until the next call for the same
 * slot, or the end of the transaction (bolt__dpage_free_all may free it).
 */
enum {
    BOLT_KEEP_LEAVES,
    BOLT_KEEP_SORTED,
    BOLT_KEEP_PATHS,
    BOLT_KEEP_FRAMES,
    BOLT_KEEP_ORDER,
    BOLT_KEEP_KIDS,
    BOLT_KEEP_EKEYS,
    BOLT_KEEP_EIDS,
    BOLT_KEEP_SLOTS
};
void *bolt__dpage_keep(bolt_db *db, unsigned slot, size_t n, size_t size);

/* ---- cursor.c ----------------------------------------------------------- */

typedef struct bolt__elemref {
    bolt__page page;  /* valid when node == NULL */
    bolt__node *node; /* the materialized node, if any */
    size_t index;
} bolt__elemref;

#define BOLT_MAX_DEPTH 64

struct bolt_cursor {
    bolt_bucket *bucket;
    bolt__elemref stack[BOLT_MAX_DEPTH];
    size_t depth;
    bool positioned;
    bool skip_next;      /* after a delete: next returns the current element */
    uint64_t gen;        /* tx->generation when it last moved */
    const void *cur_key; /* the key it last stopped on (map or arena) */
    size_t cur_ksize;
    struct bolt_cursor *prev, *next; /* tx's list */
};

void bolt__cursor_init(bolt_cursor *c, bolt_bucket *b);
/* Key i of a cursor ref, from its node or its page (valid as long as they are). */
void bolt__ref_key(const bolt__elemref *r, size_t i, bolt_val *k);
/*
 * The first index in [lo, hi) whose key is >= key (hi when none), given that
 * keys before lo are < key and keys from hi on are >= key; sets *exact (never
 * clears it) when that key equals key.
 */
size_t bolt__ref_lower_bound(const bolt__elemref *r, size_t lo, size_t hi, const void *key,
                             size_t ksize, bool *exact);
/*
 * search: descend to the leaf where key belongs (index may equal the leaf's
 * count: NOTFOUND), as writes need it. seek: the same, then move to the
 * next element when past the leaf's end (first element >= key).
 */
int bolt__cursor_search(bolt_cursor *c, const void *key, size_t ksize, bolt_val *k, bolt_val *v,
                        uint32_t *flags);
int bolt__cursor_seek(bolt_cursor *c, const void *key, size_t ksize, bolt_val *k, bolt_val *v,
                      uint32_t *flags);
int bolt__cursor_first(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags);
int bolt__cursor_next(bolt_cursor *c, bolt_val *k, bolt_val *v, uint32_t *flags);
/* Materialize the leaf node under the cursor (write tx). */
int bolt__cursor_node(bolt_cursor *c, bolt__node **out);
/* True when the cursor's path is the right edge of the tree. */
bool bolt__cursor_at_right_edge(const bolt_cursor *c);
size_t bolt__ref_count(const bolt__elemref *r);
bool bolt__ref_is_leaf(const bolt__elemref *r);

/* ---- bucket.c ----------------------------------------------------------- */

/* Set up a bucket handle from a bucket element value (header + inline page). */
int bolt__bucket_from_value(bolt_bucket *b, const unsigned char *value, size_t vsize);
int bolt__bucket_spill(bolt_bucket *b);
int bolt__bucket_usable(const bolt_bucket *b, bool write);

/* ---- check.c ------------------------------------------------------------ */

/*
 * Call fn for every tree page run reachable from root bucket (id and
 * overflow), recursing into paged nested buckets; used for free-page
 * reconstruction without a stored freelist. Stops with BOLT_ECORRUPT on a
 * page referenced twice, out of bounds, or not a tree page.
 */
int bolt__walk_pages(bolt_tx *tx, int (*fn)(void *arg, bolt_pgid id, uint32_t overflow), void *arg);
/*
 * The key order check of a walk that reads bucket c's keys in cursor order:
 * 0 when !have_prev or prev < key, else BOLT_ECORRUPT naming c's leaf page.
 */
int bolt__walk_order(bolt_cursor *c, bolt_val prev, bool have_prev, bolt_val key);

/* ---- debug.c: printers for a debugger ------------------------------------ */

void bolt__page_dump(FILE *f, const unsigned char *page, size_t size);
const char *bolt__tx_state_str(const bolt_tx *tx);

/* ---- bulkload.c --------------------------------------------------------- */

/*
 * Write a complete database of everything src sees into the empty file fd,
 * bottom-up with full pages (bolt_compact without a transaction limit).
 * progress (may be NULL) gets the keys copied so far every 65,536 keys and
 * once at the end. 0 with the buckets and keys written; -errno;
 * BOLT_ECORRUPT; -ENOMEM.
 */
int bolt__bulk_write(bolt_tx *src, int fd, uint32_t page_size,
                     void (*progress)(void *arg, uint64_t keys), void *progress_arg,
                     uint64_t *buckets, uint64_t *keys);

#endif
