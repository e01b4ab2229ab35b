/*
 * dirty.c: the write path on dirty pages (LMDB's way, in the bbolt format).
 * A write transaction that changes a leaf copies the committed page once
 * into a private page-sized buffer and edits that copy in place; the
 * buffer is found by the committed page's id in the transaction's
 * dirty-page table, and every read of the page in the transaction
 * (bolt__tx_page) goes to the buffer.
 *
 * Rules:
 *   1. A dirty page is kept packed, in its final form: header, element
 *      array, then the key/value data in element order, then zeros to the
 *      end of the buffer (d->live bytes of image) -- the image bbolt
 *      writes (docs/format.md §5), so commit writes the buffer itself
 *      (rule 6) and bbolt's statistics read it right. An insert opens 16
 *      bytes in the element array and ksize + vsize in the data at its
 *      place: the data before it moves up by 16, the data after it by
 *      16 + ksize + vsize, and each moved element's pos changes by what
 *      its data moved minus what the element moved. An update moves the
 *      data after it by the size difference; a delete closes both gaps
 *      and zeroes the bytes it frees at the end.
 *   2. Edits move bytes, so a buffer whose bytes may be held by anyone is
 *      never edited: every load of a dirty page by a read (a get, a
 *      cursor, a bucket handle, a walk: bolt__tx_page and the cursor's
 *      descent through page-mode nodes) marks it exposed, and the next
 *      edit first copies it into a new buffer (the old one is kept,
 *      unchanged, until the transaction ends), so every key and value the
 *      transaction handed out stays readable (tx.c rule 4) and a cursor's
 *      remembered key stays valid (cursor.c rule 6). Only a put's or a
 *      delete's own search (tx->dpt_quiet, bucket.c seek_for_write) loads
 *      a page without exposing it: what it reads is used before the edit.
 *      A change that needs more room than the buffer has is made in a
 *      larger copy (rule 8). At most MAX_COPIES copies per page and
 *      transaction (memory stays bounded under get/put alternation); one
 *      more, or a change that would make the packed page larger than
 *      BOLT_DPAGE_MAX_PAGES pages, takes the node path instead (rule 5).
 *   3. Only leaves with no overflow, below at least one branch, of a paged
 *      bucket, at most BOLT_DPAGE_PATH levels down, are made dirty; a root
 *      leaf (small buckets, inline buckets) takes the node path, so a
 *      bucket's root is never in page mode and rule 3 of bucket.c (the
 *      inline decision) sees only ordinary nodes.
 *   4. A page copied from the file is accepted only with its keys strictly
 *      increasing and inside its parents' separator range (node.c rule 7),
 *      and with a packed size of at most a page: no edit can then break
 *      key order, and packing never writes past the page.
 *   5. Falling back: when a change does not fit, bolt__cursor_node
 *      materializes the path and node.c reads the dirty page into an
 *      ordinary node (converted); the node carries its right-edge,
 *      mid-insert and unbalanced marks, and the node path splits it at
 *      commit with bbolt's fill-percent rules (node.c rule 5). Merges
 *      happen only there; splits too for a page the buffer of rule 8 cannot
 *      hold.
 *   6. Commit: every dirty page still in page mode is attached as a
 *      page-mode node under its parent (the path of branch indices
 *      recorded at touch time: branches do not change before commit), so
 *      rebalance, spill and the parents' new keys and page ids work as for
 *      any node. A page-mode node that must merge becomes an ordinary node
 *      first. After the attach no page is made dirty (the bucket values
 *      that spill stores go to attached pages or to nodes). At spill a
 *      page-mode leaf that fits a page is written as it is (rule 1: its
 *      buffer is the page bbolt would write, and no deleted bytes are in
 *      it); no copy is made at commit. Leaves that are only inserted into,
 *      updated or deleted from never become nodes.
 *   7. Page buffers outlive their transaction in a small pool of the db
 *      (writer only, at most POOL_BYTES): a commit that touches thousands
 *      of leaves reuses the last one's memory instead of faulting in fresh
 *      pages. Each pooled buffer carries its end: every byte from there to
 *      the page's end is zero (a buffer whose bytes are not known: a page
 *      size). A dirty page is zero after d->live (rule 1), and every other
 *      buffer given back says how far it was written; so a touch zeroes
 *      only the bytes between its image and the old end, not the page's
 *      tail again (the cold tail's cache misses were 1.5% of B2-nosync).
 *   8. Splits from the buffer (stage 2): a leaf that outgrows its page
 *      keeps growing in place in a larger buffer (doubled by a copy,
 *      rule 2; at most BOLT_DPAGE_MAX_PAGES pages, not pooled). At commit a
 *      dirty leaf that node.c rule 5 would split (bolt__dpage_fits) is cut
 *      by the same function node_split uses (bolt__split_point, with the
 *      bucket's FillPercent and the right-edge policy from the leaf's
 *      marks) and each piece is packed into its own page; the parent gets
 *      one element per piece (dirty_spill.c, or node_put under a node).
 *      An attached page-mode node that would split becomes an ordinary
 *      node and splits as one. So the pages written are the ones the node
 *      path writes.
 *   9. What a big write transaction allocates besides page buffers is kept
 *      by the db for the next one (writer only, struct bolt__dirty_keep):
 *      the dirty-page table (cleared slot by slot as free_all walks it,
 *      kept while at least an eighth of it was used) and the commit plan's
 *      arrays (dirty_spill.c: the leaves, their sort, the frames), at most
 *      KEEP_BYTES in all. Fresh arrays of a few MiB a commit were THP
 *      faults (clear_page) of ~2% of B2-nosync.
 *  10. A put that finds its leaf not yet dirty (most puts of a big random
 *      transaction: one per leaf) is made while the leaf is copied
 *      (bolt__dpage_touch_put, merge_copy): the elements and the data are
 *      copied around the new one, each run of them moved once, instead of a
 *      copy of the page and then memmoves of nearly all of it inside the
 *      copy. Only for a packed committed leaf whose image with the put fits
 *      BOLT_DPAGE_MAX_PAGES pages (past one page, into rule 8's larger
 *      buffer at once); else the copy, then bolt__dpage_put. The key-order check
 *      (rule 4) runs on the result, skipping the inserted element (its
 *      place came from the search; a key below every separator may land in
 *      child 0, below its parent's first key, as bbolt puts it).
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

/* ---- the table ------------------------------------------------------------ */

static size_t slot_of(bolt_pgid id, size_t cap)
{
    uint64_t h = id * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h ^ h >> 29) & (cap - 1);
}

bolt__dpage *bolt__dpage_find(const bolt_tx *tx, bolt_pgid id)
{
    if (tx->dpt_n == 0)
        return NULL;
    for (size_t i = slot_of(id, tx->dpt_cap);; i = (i + 1) & (tx->dpt_cap - 1)) {
        const struct bolt__dpt_slot *s = &tx->dpt[i];
        if (s->id == id)
            return s->d;
        if (s->id == 0)
            return NULL;
    }
}

static void slot_put(struct bolt__dpt_slot *t, size_t cap, bolt__dpage *d)
{
    size_t j = slot_of(d->id, cap);
    while (t[j].id != 0)
        j = (j + 1) & (cap - 1);
    t[j].id = d->id;
    t[j].d = d;
}

/* Rule 9: what the db keeps between write transactions (writer only). */
struct bolt__dirty_keep {
    struct bolt__dpt_slot *dpt; /* an empty table of dpt_cap slots, or NULL */
    size_t dpt_cap;
    void *arr[BOLT_KEEP_SLOTS]; /* bolt__dpage_keep's arrays */
    size_t bytes[BOLT_KEEP_SLOTS];
};

/* Rule 9: at most this many bytes of kept arrays (the table not counted). */
#define KEEP_BYTES (UINT64_C(32) << 20)

static struct bolt__dirty_keep *keep_of(bolt_db *db)
{
    if (db->dkeep == NULL)
        db->dkeep = strata_calloc(1, sizeof *db->dkeep); /* NULL: nothing is kept */
    return db->dkeep;
}

void *bolt__dpage_keep(bolt_db *db, unsigned slot, size_t n, size_t size)
{
    struct bolt__dirty_keep *k = keep_of(db);
    if (k == NULL || slot >= BOLT_KEEP_SLOTS || (size != 0 && n > SIZE_MAX / 2 / size))
        return NULL;
    size_t want = n * size;
    if (want <= k->bytes[slot] && k->arr[slot] != NULL)
        return k->arr[slot];
    size_t cap = k->bytes[slot] > 0 ? k->bytes[slot] : 4096;
    while (cap < want)
        cap *= 2;
    void *p = strata_realloc(k->arr[slot], cap);
    if (p == NULL)
        return NULL;
    k->arr[slot] = p;
    k->bytes[slot] = cap;
    return p;
}

/* Rule 9: drop the kept arrays when they hold more than KEEP_BYTES. */
static void keep_trim(bolt_db *db)
{
    struct bolt__dirty_keep *k = db->dkeep;
    if (k == NULL)
        return;
    size_t total = 0;
    for (unsigned i = 0; i < BOLT_KEEP_SLOTS; i++)
        total += k->bytes[i];
    if (total <= KEEP_BYTES)
        return;
    for (unsigned i = 0; i < BOLT_KEEP_SLOTS; i++) {
        strata_free(k->arr[i]);
        k->arr[i] = NULL;
        k->bytes[i] = 0;
    }
}

static int table_insert(bolt_tx *tx, bolt__dpage *d)
{
    if (tx->dpt == NULL && tx->db->dkeep != NULL && tx->db->dkeep->dpt != NULL) {
        struct bolt__dirty_keep *k = tx->db->dkeep; /* rule 9: empty, every slot 0 */
        tx->dpt = k->dpt;
        tx->dpt_cap = k->dpt_cap;
        k->dpt = NULL;
        k->dpt_cap = 0;
    }
    if (2 * (tx->dpt_n + 1) > tx->dpt_cap) {
        size_t cap = tx->dpt_cap ? tx->dpt_cap * 2 : 64;
        struct bolt__dpt_slot *t = strata_calloc(cap, sizeof *t);
        if (t == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < tx->dpt_cap; i++)
            if (tx->dpt[i].id != 0)
                slot_put(t, cap, tx->dpt[i].d);
        strata_free(tx->dpt);
        tx->dpt = t;
        tx->dpt_cap = cap;
    }
    slot_put(tx->dpt, tx->dpt_cap, d);
    tx->dpt_n++;
    return 0;
}

/*
 * Rule 7: at most this many bytes of buffers wait in the pool. A commit of
 * 10,000 random puts into 1M keys uses ~16,000 page buffers (touch copy and
 * packed image of ~8,000 leaves): 32 MiB kept half of them and jemalloc
 * and page faults were ~8% of B2-nosync; 64 MiB keeps them all.
 */
#define POOL_BYTES (UINT64_C(64) << 20)

static int retire(bolt_tx *tx, unsigned char *buf, size_t size, size_t end);

/* A page buffer; *end: it is zero from there on (rule 7). */
static unsigned char *buf_get(bolt_db *db, size_t *end)
{
    if (db->ndpool > 0) {
        const bolt__pooled *p = &db->dpool[--db->ndpool];
        *end = p->end;
        return p->buf;
    }
    *end = db->page_size;
    return strata_malloc(db->page_size);
}

/* A buffer of size bytes: a page from the pool, else (rule 8) its own allocation. */
static unsigned char *buf_get_size(bolt_db *db, size_t size, size_t *end)
{
    if (size == db->page_size)
        return buf_get(db, end);
    *end = size;
    return strata_malloc(size);
}

/* Give buf back: every byte of it from end on is zero (rule 7). */
static void buf_put(bolt_db *db, unsigned char *buf, size_t size, size_t end)
{
    if (size != db->page_size) {
        strata_free(buf); /* rule 8: a grown buffer is not pooled */
        return;
    }
    size_t max = (size_t)(POOL_BYTES / db->page_size);
    if (db->dpool == NULL)
        db->dpool = strata_malloc(max * sizeof *db->dpool); /* NULL: buffers are freed */
    if (db->dpool != NULL && db->ndpool < max)
        db->dpool[db->ndpool++] = (bolt__pooled){ buf, end < size ? end : size };
    else
        strata_free(buf);
}

unsigned char *bolt__dpage_buf_get(bolt_db *db, size_t *end)
{
    return buf_get(db, end);
}

int bolt__dpage_retire(bolt_tx *tx, unsigned char *buf, size_t end)
{
    return retire(tx, buf, tx->db->page_size, end);
}

void bolt__dpage_free_all(bolt_tx *tx)
{
    bolt_db *db = tx->db;
    if (!tx->writable)
        return; /* a reader has no table, no buffers, and must not touch db->dkeep */
    for (size_t i = 0; i < tx->dpt_cap; i++) {
        const bolt__dpage *d = tx->dpt[i].d;
        if (d != NULL)
            buf_put(db, d->buf, d->cap, d->live); /* rule 1: zeros after the image */
        tx->dpt[i] = (struct bolt__dpt_slot){ 0, NULL };
    }
    for (size_t i = 0; i < tx->nretired; i++)
        buf_put(db, tx->retired[i].buf, tx->retired[i].size, tx->retired[i].end);
    strata_free(tx->retired);
    tx->retired = NULL;
    tx->nretired = tx->capretired = 0;
    /* Rule 9: keep an emptied table that was well used (a small one costs this walk). */
    struct bolt__dirty_keep *k =
            tx->dpt != NULL && 8 * tx->dpt_n >= tx->dpt_cap ? keep_of(db) : NULL;
    if (k != NULL && k->dpt == NULL) {
        k->dpt = tx->dpt;
        k->dpt_cap = tx->dpt_cap;
    } else {
        strata_free(tx->dpt);
    }
    tx->dpt = NULL;
    tx->dpt_n = tx->dpt_cap = 0;
    keep_trim(db);
}

void bolt__dpage_pool_free(bolt_db *db)
{
    for (size_t i = 0; i < db->ndpool; i++)
        strata_free(db->dpool[i].buf);
    strata_free(db->dpool);
    db->dpool = NULL;
    db->ndpool = 0;
    struct bolt__dirty_keep *k = db->dkeep;
    if (k != NULL) {
        strata_free(k->dpt);
        for (unsigned i = 0; i < BOLT_KEEP_SLOTS; i++)
            strata_free(k->arr[i]);
        strata_free(k);
        db->dkeep = NULL;
    }
}

/* ---- element access --------------------------------------------------------- */

static unsigned char *elem(unsigned char *buf, size_t i)
{
    return buf + BOLT_PAGE_HEADER_SIZE + 16 * i;
}

static void elem_key(const unsigned char *buf, size_t i, bolt_val *k)
{
    const unsigned char *e = buf + BOLT_PAGE_HEADER_SIZE + 16 * i;
    k->data = e + bolt__ld32(e + BOLT_LEAF_POS_OFF);
    k->size = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
}

/*
 * The elements [s, e) of the leaf image buf, packed into out after its
 * header (docs/format.md §5: elements, then data in element order; out has
 * room for them); returns the image's size. The header is the caller's.
 */
static size_t pack_into(const unsigned char *buf, size_t s, size_t e, unsigned char *out)
{
    size_t n = e - s;
    size_t data = BOLT_PAGE_HEADER_SIZE + 16 * n;
    for (size_t j = 0; j < n; j++) {
        const unsigned char *el = buf + BOLT_PAGE_HEADER_SIZE + 16 * (s + j);
        unsigned char *o = out + BOLT_PAGE_HEADER_SIZE + 16 * j;
        uint32_t ks = bolt__ld32(el + BOLT_LEAF_KSIZE_OFF);
        uint32_t vs = bolt__ld32(el + BOLT_LEAF_VSIZE_OFF);
        bolt_val k;
        elem_key(buf, s + j, &k);
        memcpy(o, el, 16);
        bolt__st32(o + BOLT_LEAF_POS_OFF, (uint32_t)(data - (BOLT_PAGE_HEADER_SIZE + 16 * j)));
        memcpy(out + data, k.data, (size_t)ks + vs);
        data += (size_t)ks + vs;
    }
    return data;
}

static size_t data_at(const unsigned char *buf, size_t i);
static void shift_pos(unsigned char *buf, size_t s, size_t e, uint32_t delta);

/*
 * A leaf page of d's elements [s, e) into out (a split's piece, rule 8);
 * returns its size. d's image is packed (rule 1), so the piece's elements
 * are one run of the element array and their data one run of the data:
 * two copies, and every pos moves by the same amount (the data moves by
 * what precedes it in d minus what precedes it in the piece, the element
 * by 16 s).
 */
static size_t pack(const bolt__dpage *d, size_t s, size_t e, unsigned char *out)
{
    size_t n = bolt__dpage_count(d), m = e - s;
    memset(out, 0, BOLT_PAGE_HEADER_SIZE);
    bolt__st16(out + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_LEAF);
    bolt__st16(out + BOLT_PAGE_COUNT_OFF, (uint16_t)m);
    if (m == 0)
        return BOLT_PAGE_HEADER_SIZE;
    size_t from = data_at(d->buf, s), to = e < n ? data_at(d->buf, e) : d->live;
    size_t at = BOLT_PAGE_HEADER_SIZE + 16 * m; /* the piece's data starts here */
    memcpy(out + BOLT_PAGE_HEADER_SIZE, elem(d->buf, s), 16 * m);
    memcpy(out + at, d->buf + from, to - from);
    /* Each pos is element-relative: its data moved by at - from, the element by -16 s. */
    shift_pos(out, 0, m, (uint32_t)(at - from + 16 * s));
    return at + (to - from);
}

/* ---- touch ------------------------------------------------------------------- */

/*
 * The committed leaf p's packed size, and whether it is packed already
 * (data in element order right after the element array: what bbolt and
 * this engine write). Reads only the element array (a few lines; the keys
 * are checked in the copy, check_order).
 */
static void scan_leaf(const bolt__page *p, size_t *live, bool *packed)
{
    size_t sz = BOLT_PAGE_HEADER_SIZE + 16 * (size_t)p->count;
    bool pk = true;
    const unsigned char *e = p->data + BOLT_PAGE_HEADER_SIZE;
    for (unsigned i = 0; i < p->count; i++, e += 16) {
        size_t pos = bolt__ld32(e + BOLT_LEAF_POS_OFF);
        size_t kv =
                (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
        /* Element i's data starts at e + pos; packed: exactly where the data so far ends. */
        pk = pk && (size_t)(e - p->data) + pos == sz;
        sz += kv;
    }
    *live = sz;
    *packed = pk;
}

/*
 * Rule 4 for the leaf image buf (the packed copy of committed page id)
 * under c's path: keys strictly increasing, the first >= the parent's
 * separator, the last < the next separator up the path (the inherited
 * upper bound). Run on the copy: its lines are in cache, where the
 * committed page's keys would each be a miss.
 */
static int check_order(const bolt_cursor *c, const unsigned char *buf, bolt_pgid id, size_t skip)
{
    bolt_db *db = c->bucket->tx->db;
    size_t n = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
    if (n == 0 || (n == 1 && skip == 0))
        return 0;
    bolt_val prev = { NULL, 0 }, first = { NULL, 0 };
    const unsigned char *e = buf + BOLT_PAGE_HEADER_SIZE;
    for (size_t i = 0; i < n; i++, e += 16) {
        if (i == skip)
            continue; /* rule 10: the merged put's own element, placed by the search */
        const unsigned char *k = e + bolt__ld32(e + BOLT_LEAF_POS_OFF);
        size_t ks = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
        if (prev.data != NULL && bolt__key_cmp(prev.data, prev.size, k, ks) >= 0)
            return bolt__corrupt(db, id, "keys out of order");
        if (prev.data == NULL)
            first = (bolt_val){ k, ks };
        prev.data = k;
        prev.size = ks;
    }
    const bolt__elemref *parent = &c->stack[c->depth - 2];
    bolt_val lo;
    bolt__ref_key(parent, parent->index, &lo);
    if (bolt__key_cmp(first.data, first.size, lo.data, lo.size) < 0)
        return bolt__corrupt(db, id, "keys outside the parent's separator range");
    for (size_t l = c->depth - 1; l > 0; l--) {
        const bolt__elemref *r = &c->stack[l - 1];
        if (r->index + 1 < bolt__ref_count(r)) {
            bolt_val hi;
            bolt__ref_key(r, r->index + 1, &hi);
            if (bolt__key_cmp(prev.data, prev.size, hi.data, hi.size) >= 0)
                return bolt__corrupt(db, id, "keys outside the parent's separator range");
            break;
        }
    }
    return 0;
}

/* A put merged into the copy at touch time (rule 10). */
typedef struct merge_put {
    size_t i; /* its element */
    bool exact;
    const void *key, *value;
    size_t ksize, vsize;
    uint32_t flags;
} merge_put;

/*
 * Rule 10: the packed committed leaf p (live bytes) copied into buf with
 * put m made on the way: header, elements before i (their data moves by
 * 16 when an element is added), element i, the elements after it (their
 * data moves by what the put adds), then the data before element i's,
 * the put's key and value, the data after. Returns the new image's size.
 */
static size_t merge_copy(const bolt__page *p, size_t live, const merge_put *m, unsigned char *buf)
{
    const unsigned char *src = p->data;
    size_t n = p->count, i = m->i, kv = m->ksize + m->vsize;
    size_t add = m->exact ? 0 : 16;
    size_t old = 0;
    size_t dat = i < n ? data_at(src, i) : live; /* element i's data, or the image's end */
    if (m->exact) {
        const unsigned char *e = src + BOLT_PAGE_HEADER_SIZE + 16 * i;
        old = (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
    }
    size_t after = m->exact ? i + 1 : i; /* the first old element whose data follows the put's */
    uint32_t before_shift = (uint32_t)add, after_shift = (uint32_t)(kv - old);
    memcpy(buf, src, BOLT_PAGE_HEADER_SIZE + 16 * i);
    shift_pos(buf, 0, i, before_shift);
    unsigned char *ne = elem(buf, i);
    size_t nat = dat + add; /* the put's data in the new image */
    bolt__st32(ne + BOLT_LEAF_FLAGS_OFF, m->flags);
    bolt__st32(ne + BOLT_LEAF_POS_OFF, (uint32_t)(nat - (BOLT_PAGE_HEADER_SIZE + 16 * i)));
    bolt__st32(ne + BOLT_LEAF_KSIZE_OFF, (uint32_t)m->ksize);
    bolt__st32(ne + BOLT_LEAF_VSIZE_OFF, (uint32_t)m->vsize);
    /* Old elements [after, n) become [after + add / 16, ...): element moved by add, data by add +
     * kv - old. */
    memcpy(elem(buf, after + add / 16), src + BOLT_PAGE_HEADER_SIZE + 16 * after, 16 * (n - after));
    shift_pos(buf, after + add / 16, n + add / 16, after_shift);
    size_t elems_end = BOLT_PAGE_HEADER_SIZE + 16 * n;
    memcpy(buf + elems_end + add, src + elems_end, dat - elems_end);
    memcpy(buf + nat, m->key, m->ksize);
    if (m->vsize > 0)
        memcpy(buf + nat + m->ksize, m->value, m->vsize);
    memcpy(buf + nat + kv, src + dat + old, live - (dat + old));
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)(n + add / 16));
    return live + add + kv - old;
}

/*
 * The dirty copy of c's leaf, made now (m: with that put merged in, rule
 * 10). 0 with *out; 1: the node path; an error.
 */
static int touch(bolt_cursor *c, size_t need, const merge_put *m, size_t live, bool packed,
                 size_t cap, bolt__dpage **out)
{
    bolt_bucket *b = c->bucket;
    bolt_tx *tx = b->tx;
    size_t ps = tx->db->page_size;
    bolt__elemref *top = &c->stack[c->depth - 1];
    const bolt__page *p = &top->page;
    if (live > ps || live + need > BOLT_DPAGE_MAX_PAGES * ps)
        return 1; /* rule 4; rule 8: the node path splits it */
    size_t end;
    unsigned char *buf = buf_get_size(tx->db, cap, &end); /* cap > ps: rule 8's larger buffer */
    if (buf == NULL)
        return -ENOMEM;
    size_t image = live;
    /* Rule 1: the packed image; one copy when the committed page is packed already. */
    if (m != NULL) {
        image = merge_copy(p, live, m, buf); /* the caller checked it is packed and fits */
    } else if (packed) {
        memcpy(buf, p->data, live); /* a packed image ends at live */
    } else {
        memcpy(buf, p->data, BOLT_PAGE_HEADER_SIZE);
        pack_into(p->data, 0, p->count, buf);
    }
    if (end > image)
        memset(buf + image, 0, end - image); /* rule 7: zero from end on already */
    int rc = check_order(c, buf, p->id, m != NULL && !m->exact ? m->i : SIZE_MAX);
    if (rc != 0) {
        buf_put(tx->db, buf, cap, image);
        return rc;
    }
    bolt__dpage *d = bolt__tx_alloc(tx, sizeof *d); /* freed with the arena */
    if (d == NULL) {
        buf_put(tx->db, buf, cap, image);
        return -ENOMEM;
    }
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = (uint32_t)cap;
    d->id = p->id;
    d->bucket = b;
    d->live = (uint32_t)image;
    d->depth = (uint8_t)(c->depth - 1);
    for (size_t l = 0; l + 1 < c->depth; l++) {
        const bolt__elemref *r = &c->stack[l];
        d->path[l] = (uint16_t)r->index;
        d->path_id[l] = r->node != NULL ? r->node->pgid : r->page.id;
    }
    rc = table_insert(tx, d);
    if (rc != 0) {
        buf_put(tx->db, buf, cap, image);
        return rc;
    }
    d->bnext = b->dpages;
    b->dpages = d;
    bolt__page_fill(d->buf, cap, d->id, &top->page);
    *out = d;
    return 0;
}

/* Rule 3, and the dirty copy c's leaf has already: 0 with *out; 1 the node path; 2 none yet. */
static int touch_find(bolt_cursor *c, bolt__dpage **out)
{
    bolt_bucket *b = c->bucket;
    bolt_tx *tx = b->tx;
    if (b->root == 0 || c->depth < 2 || c->depth - 1 > BOLT_DPAGE_PATH)
        return 1; /* rule 3 */
    bolt__elemref *top = &c->stack[c->depth - 1];
    if (top->node != NULL || top->page.overflow != 0 || !bolt__page_is_leaf(&top->page))
        return 1;
    bolt__dpage *d = bolt__dpage_find(tx, top->page.id);
    if (d != NULL) {
        if (d->converted || d->packed || (tx->dpt_closed && d->node == NULL))
            return 1;
        *out = d;
        return 0;
    }
    if (tx->dpt_closed)
        return 1; /* commit's spill: only attached pages stay in page mode */
    return 2;
}

int bolt__dpage_touch(bolt_cursor *c, size_t need, bolt__dpage **out)
{
    int rc = touch_find(c, out);
    if (rc != 2)
        return rc;
    size_t live = 0;
    bool packed = false;
    scan_leaf(&c->stack[c->depth - 1].page, &live, &packed);
    return touch(c, need, NULL, live, packed, c->bucket->tx->db->page_size, out);
}

int bolt__dpage_touch_put(bolt_cursor *c, bool exact, const void *key, size_t ksize,
                          const void *value, size_t vsize, uint32_t flags, bool edge,
                          bolt__dpage **out)
{
    bolt_tx *tx = c->bucket->tx;
    size_t i = c->stack[c->depth - 1].index;
    size_t need = ksize + vsize + (exact ? 0 : 16);
    int rc = touch_find(c, out);
    if (rc == 2) {
        /* Rule 10: a leaf's first put of the transaction is made while copying it. */
        const bolt__page *p = &c->stack[c->depth - 1].page;
        size_t live = 0;
        bool packed = false;
        scan_leaf(p, &live, &packed);
        size_t old = 0;
        if (exact && i < p->count) {
            const unsigned char *e = p->data + BOLT_PAGE_HEADER_SIZE + 16 * i;
            old = (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
        }
        size_t ps = tx->db->page_size, image = live + need - old, cap = ps;
        while (cap < image && cap < BOLT_DPAGE_MAX_PAGES * ps)
            cap *= 2; /* rule 8: a put that overflows the page grows the copy, as make_room */
        if (packed && live <= ps && image <= cap && i <= p->count &&
            (exact ? i < p->count : p->count + 1 < 0xFFFF)) {
            merge_put m = { i, exact, key, value, ksize, vsize, flags };
            rc = touch(c, need, &m, live, packed, cap, out);
            if (rc == 0 && !exact) {
                if (edge)
                    (*out)->right_edge = true;
                else
                    (*out)->mid_insert = true;
            }
            return rc;
        }
        rc = touch(c, need, NULL, live, packed, ps, out);
    }
    if (rc != 0)
        return rc;
    return bolt__dpage_put(tx, *out, i, exact, key, ksize, value, vsize, flags, edge);
}

/* ---- in-place edits ------------------------------------------------------------ */

#define MAX_COPIES 8

/* Offset of element i's key/value bytes in buf. */
static size_t data_at(const unsigned char *buf, size_t i)
{
    return BOLT_PAGE_HEADER_SIZE + 16 * i +
           bolt__ld32(elem((unsigned char *)buf, i) + BOLT_LEAF_POS_OFF);
}

/* Add delta to the pos of elements [s, e). */
static void shift_pos(unsigned char *buf, size_t s, size_t e, uint32_t delta)
{
    for (size_t j = s; j < e; j++) {
        unsigned char *x = elem(buf, j);
        bolt__st32(x + BOLT_LEAF_POS_OFF, bolt__ld32(x + BOLT_LEAF_POS_OFF) + delta);
    }
}

/*
 * Rule 2: before an edit that leaves the image `live` bytes long, make sure
 * d's buffer may be edited and holds it: a copy into a new buffer (cap
 * doubled as needed, rule 8) when d is exposed or too small; the old buffer
 * stays readable, unchanged, until the transaction ends. 0, 1 (the node
 * path: copied too often), or -ENOMEM.
 */
static int make_room(bolt_tx *tx, bolt__dpage *d, size_t live)
{
    if (!d->exposed && live <= d->cap)
        return 0;
    if (d->copies >= MAX_COPIES)
        return 1;
    size_t cap = d->cap, max = BOLT_DPAGE_MAX_PAGES * (size_t)tx->db->page_size;
    while (cap < live && cap < max)
        cap *= 2;
    if (cap > max)
        cap = max;
    size_t end;
    unsigned char *nb = buf_get_size(tx->db, cap, &end);
    if (nb == NULL)
        return -ENOMEM;
    int rc = retire(tx, d->buf, d->cap, d->live); /* rule 1: zeros after the image */
    if (rc != 0) {
        buf_put(tx->db, nb, cap, end);
        return rc;
    }
    memcpy(nb, d->buf, d->live);
    if (end > d->live)
        memset(nb + d->live, 0, end - d->live); /* rule 7 */
    d->buf = nb;
    d->cap = (uint32_t)cap;
    d->copies++;
    d->exposed = false;
    return 0;
}

int bolt__dpage_put(bolt_tx *tx, bolt__dpage *d, size_t i, bool exact, const void *key,
                    size_t ksize, const void *value, size_t vsize, uint32_t flags, bool edge)
{
    size_t ps = tx->db->page_size;
    size_t n = bolt__dpage_count(d);
    size_t data = ksize + vsize;
    size_t old = 0;
    if (exact) {
        const unsigned char *e = elem(d->buf, i);
        old = (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
    } else if (n + 1 >= 0xFFFF) {
        return 1;
    }
    size_t live = d->live + (exact ? 0 : 16) + data - old;
    if (live > BOLT_DPAGE_MAX_PAGES * ps)
        return 1; /* rule 8: the node path splits it */
    int rc = make_room(tx, d, live);
    if (rc != 0)
        return rc;
    /* Rule 2: d is not exposed, so key and value are not in its buffer. */
    unsigned char *buf = d->buf;
    size_t at;
    if (exact) {
        /* Rule 1: the data after element i moves by the size difference. */
        at = data_at(buf, i);
        memmove(buf + at + data, buf + at + old, d->live - (at + old));
        if (data < old)
            memset(buf + live, 0, old - data);
        shift_pos(buf, i + 1, n, (uint32_t)(data - old));
    } else {
        /* Rule 1: open 16 bytes at element i and `data` bytes at its data. */
        size_t elems_end = BOLT_PAGE_HEADER_SIZE + 16 * n;
        size_t dat = i < n ? data_at(buf, i) : d->live;
        memmove(buf + dat + 16 + data, buf + dat, d->live - dat);
        memmove(buf + elems_end + 16, buf + elems_end, dat - elems_end);
        memmove(elem(buf, i + 1), elem(buf, i), 16 * (n - i));
        shift_pos(buf, 0, i, 16);
        shift_pos(buf, i + 1, n + 1, (uint32_t)data);
        at = dat + 16;
        bolt__st32(elem(buf, i) + BOLT_LEAF_POS_OFF,
                   (uint32_t)(at - (BOLT_PAGE_HEADER_SIZE + 16 * i)));
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)(n + 1));
        if (edge)
            d->right_edge = true;
        else
            d->mid_insert = true;
    }
    memcpy(buf + at, key, ksize);
    if (vsize > 0)
        memcpy(buf + at + ksize, value, vsize);
    unsigned char *e = elem(buf, i);
    bolt__st32(e + BOLT_LEAF_FLAGS_OFF, flags);
    bolt__st32(e + BOLT_LEAF_KSIZE_OFF, (uint32_t)ksize);
    bolt__st32(e + BOLT_LEAF_VSIZE_OFF, (uint32_t)vsize);
    d->live = (uint32_t)live;
    return 0;
}

int bolt__dpage_del(bolt_tx *tx, bolt__dpage *d, size_t i)
{
    int rc = make_room(tx, d, d->live);
    if (rc != 0)
        return rc;
    unsigned char *buf = d->buf;
    size_t n = bolt__dpage_count(d);
    const unsigned char *e = elem(buf, i);
    size_t kv = (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
    size_t elems_end = BOLT_PAGE_HEADER_SIZE + 16 * n;
    size_t at = data_at(buf, i);
    /* Rule 1, the insert's steps backwards; then zeros where the image ended. */
    memmove(elem(buf, i), elem(buf, i + 1), 16 * (n - i - 1));
    memmove(buf + elems_end - 16, buf + elems_end, at - elems_end);
    memmove(buf + at - 16, buf + at + kv, d->live - (at + kv));
    memset(buf + d->live - 16 - kv, 0, 16 + kv);
    shift_pos(buf, 0, i, (uint32_t)-16);
    shift_pos(buf, i, n - 1, (uint32_t)-kv);
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)(n - 1));
    d->live = (uint32_t)(d->live - 16 - kv);
    d->unbalanced = true;
    return 0;
}

/* ---- commit ------------------------------------------------------------------- */

static int retire(bolt_tx *tx, unsigned char *buf, size_t size, size_t end)
{
    if (tx->nretired == tx->capretired) {
        size_t cap = tx->capretired ? tx->capretired * 2 : 16;
        bolt__retired *r = strata_realloc(tx->retired, cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        tx->retired = r;
        tx->capretired = cap;
    }
    tx->retired[tx->nretired++] = (bolt__retired){ buf, size, end };
    return 0;
}

int bolt__dpage_commit(bolt_tx *tx, bolt__dpage *d, bolt_pgid *id)
{
    if (!bolt__dpage_fits(tx, d))
        return BOLT_EPANIC; /* rule 8: a leaf that splits is written by pieces */
    /* Rule 6: the buffer is the page (rule 1: packed, zeros after d->live). */
    d->packed = true;
    return bolt__tx_adopt(tx, d->buf, id);
}

bool bolt__dpage_fits(const bolt_tx *tx, const bolt__dpage *d)
{
    size_t ps = tx->db->page_size;
    /* node.c rule 5: more than 4 elements and a page or more split; a page is written whole. */
    return d->live < ps || (d->live == ps && bolt__dpage_count(d) <= 4);
}

static size_t elem_span(const void *arr, size_t i)
{
    const unsigned char *e = elem((unsigned char *)arr, i);
    return 16 + (size_t)bolt__ld32(e + BOLT_LEAF_KSIZE_OFF) + bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
}

int bolt__dpage_plan_split(bolt_tx *tx, bolt__dpage *d)
{
    size_t ps = tx->db->page_size;
    size_t n = bolt__dpage_count(d);
    size_t t = bolt__split_threshold(d->bucket, d->right_edge, d->mid_insert);
    /* Count the pieces, then record where each starts (as node_split cuts a node). */
    size_t cnt = 0;
    for (size_t start = 0; start < n;) {
        size_t len = bolt__split_point(d->buf, start, n - start, elem_span, ps, t);
        if (len == 0)
            return BOLT_EPANIC; /* more than 4 elements always cut at >= 2 */
        cnt++;
        start += len;
    }
    uint32_t *cuts = bolt__tx_alloc(tx, (cnt + 1) * sizeof *cuts);
    if (cuts == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t start = 0; start < n; k++) {
        cuts[k] = (uint32_t)start;
        start += bolt__split_point(d->buf, start, n - start, elem_span, ps, t);
    }
    cuts[cnt] = (uint32_t)n;
    d->cuts = cuts;
    d->npieces = (uint32_t)cnt;
    return 0;
}

void bolt__dpage_piece_first(const bolt__dpage *d, size_t j, bolt_val *k)
{
    elem_key(d->buf, d->cuts[j], k);
}

size_t bolt__dpage_piece_size(const bolt__dpage *d, size_t j)
{
    size_t sz = BOLT_PAGE_HEADER_SIZE;
    for (size_t i = d->cuts[j]; i < d->cuts[j + 1]; i++)
        sz += elem_span(d->buf, i);
    return sz;
}

int bolt__dpage_commit_piece(bolt_tx *tx, bolt__dpage *d, size_t j, bolt_pgid *id, bolt_val *first)
{
    size_t ps = tx->db->page_size;
    size_t size = bolt__dpage_piece_size(d, j);
    size_t npages = (size + ps - 1) / ps;
    unsigned char *buf;
    int rc;
    if (npages == 1) {
        size_t end;
        buf = buf_get(tx->db, &end);
        if (buf == NULL)
            return -ENOMEM;
        /* Rule 7: zero from the larger of the two ends on, whatever happens next. */
        rc = retire(tx, buf, ps, end > size ? end : size);
        if (rc != 0) {
            strata_free(buf);
            return rc;
        }
        pack(d, d->cuts[j], d->cuts[j + 1], buf);
        if (end > size)
            memset(buf + size, 0, end - size);
        rc = bolt__tx_adopt(tx, buf, id);
    } else {
        /* At most 4 elements larger than a page: an overflow run, as node_write_one. */
        rc = bolt__tx_allocate(tx, npages, id, &buf);
        if (rc == 0)
            pack(d, d->cuts[j], d->cuts[j + 1], buf);
        if (rc == 0)
            bolt__st32(buf + BOLT_PAGE_OVERFLOW_OFF, (uint32_t)(npages - 1));
        if (rc == 0)
            bolt__st64(buf + BOLT_PAGE_ID_OFF, *id);
    }
    if (rc != 0)
        return rc;
    bolt__page p;
    bolt__page_fill(buf, npages * ps, *id, &p);
    bolt__page_leaf_elem(&p, 0, NULL, first, NULL);
    return 0;
}
