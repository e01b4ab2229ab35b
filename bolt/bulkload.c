/*
 * bulkload.c: write a whole new database file bottom-up, page by page,
 * from the ordered contents of a read transaction (bolt_compact with no
 * transaction limit). No B+tree inserts, no splits, no commits: leaves are
 * filled to the page size in key order, then each branch level is built
 * from the first keys of the level below, then the freelist (empty) and
 * the two metas are written.
 *
 * Rules:
 *   1. Every page is filled as far as the page size allows (fill percent
 *      1.0); an element too big for an empty page gets a page run of its
 *      own (overflow pages), as the engine writes it.
 *   2. A branch page takes at least two children, so every level is
 *      smaller than the one below and the build ends (keys of 32 KiB give
 *      branch pages with overflow, as in bbolt).
 *   3. Nested buckets are built first (depth-first, in key order), so the
 *      parent's bucket value knows the child's root page. A bucket with no
 *      nested bucket whose single leaf is at most page_size / 4 bytes is
 *      stored inline, bbolt's inlineable() rule; the root bucket never is.
 *   4. Pages are written sequentially from page 2; the freelist page (no
 *      ids) follows the tree; meta 0 (txid 2) and meta 1 (txid 1) both name
 *      the same tree, so each meta sits on page txid % 2. Pages are built
 *      in place in a write buffer of BULK_WBUF bytes and written when it is
 *      full (large sequential writes, no allocation per page); after each
 *      such write the kernel is asked to start writing it back
 *      (sync_file_range, a hint whose errors are ignored), so the caller's
 *      final fsync finds most of the file on disk already.
 *   5. Memory is bounded by one leaf per open bucket plus one (key, page)
 *      pair per page of the buckets being built, plus the write buffer
 *      (rule 4): keys and values are
 *      borrowed from the source transaction, which stays open throughout.
 *   6. Every write goes through the source db's I/O table (os.h), so the
 *      fault tests reach it: a short write goes on, a write of 0 bytes is
 *      -EIO (never a loop), errors keep their errno.
 *   7. The source is validated as it is read, at no extra I/O: each page
 *      is entered once per copy (bolt_visited: a shared subtree or a cycle
 *      is BOLT_ECORRUPT with the page named, never copied again and
 *      again) and keys must come strictly in order (bolt__walk_order), so
 *      a damaged source fails the copy instead of becoming a clean-looking
 *      file with keys out of order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt_int.h"

typedef struct bulk_elem {
    uint32_t flags;
    bolt_val key, value;
    unsigned char *owned; /* a bucket value built here (freed with the leaf) */
} bulk_elem;

typedef struct bulk_ref {
    bolt_val key; /* first key of the page (borrowed) */
    bolt_pgid pgid;
} bulk_ref;

typedef struct bulk {
    const struct bolt_os *os; /* the source db's I/O table (rule 6) */
    int fd;
    uint32_t ps;
    bolt_visited *seen; /* rule 7 */
    bolt_pgid next;     /* the next page to write */
    uint64_t keys, buckets;
    void (*progress)(void *arg, uint64_t keys); /* every BULK_PROGRESS_KEYS keys; may be NULL */
    void *progress_arg;
    unsigned char *wbuf; /* rule 4: pages [wfirst, next) not yet written */
    size_t wlen, wcap;
    bolt_pgid wfirst;
} bulk;

#define BULK_WBUF ((size_t)1 << 20) /* rule 4 */

enum { BULK_PROGRESS_KEYS = 1u << 16 };

typedef struct bulk_vec {
    void *items;
    size_t n, cap, size;
} bulk_vec;

static int vec_push(bulk_vec *v, const void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = strata_realloc(v->items, cap * v->size);
        if (p == NULL)
            return -ENOMEM;
        v->items = p;
        v->cap = cap;
    }
    memcpy((unsigned char *)v->items + v->n * v->size, item, v->size);
    v->n++;
    return 0;
}

/* Write the buffered pages (rule 4) and hint the kernel to start writing them back. */
static int bulk_flush(bulk *b)
{
    if (b->wlen == 0)
        return 0;
    uint64_t off = b->wfirst * (uint64_t)b->ps;
    int rc = bolt__write_full(b->os, b->fd, b->wbuf, b->wlen, off);
    if (rc != 0)
        return rc;
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(b->fd, (off_t)off, (off_t)b->wlen, SYNC_FILE_RANGE_WRITE);
#endif
    b->wlen = 0;
    b->wfirst = b->next;
    return 0;
}

/*
 * Room for `pages` zeroed pages at page `next` in the write buffer (a run
 * larger than the buffer grows it to its size): *buf points at them, *id
 * is their first page id; `next` advances past them.
 */
static int bulk_reserve(bulk *b, uint64_t pages, unsigned char **buf, bolt_pgid *id)
{
    if (pages > SIZE_MAX / b->ps)
        return -ENOMEM;
    size_t n = (size_t)pages * b->ps;
    if (n > b->wcap - b->wlen) {
        int rc = bulk_flush(b);
        if (rc != 0)
            return rc;
        if (n > b->wcap) {
            unsigned char *p = strata_realloc(b->wbuf, n);
            if (p == NULL)
                return -ENOMEM;
            b->wbuf = p;
            b->wcap = n;
        }
    }
    *buf = b->wbuf + b->wlen;
    memset(*buf, 0, n);
    b->wlen += n;
    *id = b->next;
    b->next += pages;
    return 0;
}

/* Lay out a leaf image of elems[0..n) into buf (16-byte header then elements). */
static void leaf_image(const bulk_elem *e, size_t n, unsigned char *buf)
{
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_LEAF);
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    size_t data = BOLT_PAGE_HEADER_SIZE + n * BOLT_LEAF_ELEM_SIZE;
    for (size_t i = 0; i < n; i++) {
        unsigned char *el = buf + BOLT_PAGE_HEADER_SIZE + i * BOLT_LEAF_ELEM_SIZE;
        size_t pos = data - (BOLT_PAGE_HEADER_SIZE + i * BOLT_LEAF_ELEM_SIZE);
        bolt__st32(el + BOLT_LEAF_FLAGS_OFF, e[i].flags);
        bolt__st32(el + BOLT_LEAF_POS_OFF, (uint32_t)pos);
        bolt__st32(el + BOLT_LEAF_KSIZE_OFF, (uint32_t)e[i].key.size);
        bolt__st32(el + BOLT_LEAF_VSIZE_OFF, (uint32_t)e[i].value.size);
        memcpy(buf + data, e[i].key.data, e[i].key.size);
        data += e[i].key.size;
        if (e[i].value.size > 0)
            memcpy(buf + data, e[i].value.data, e[i].value.size);
        data += e[i].value.size;
    }
}

static size_t leaf_bytes(const bulk_elem *e, size_t n)
{
    size_t sz = BOLT_PAGE_HEADER_SIZE;
    for (size_t i = 0; i < n; i++)
        sz += BOLT_LEAF_ELEM_SIZE + e[i].key.size + e[i].value.size;
    return sz;
}

static void free_elems(bulk_vec *leaf)
{
    bulk_elem *e = leaf->items;
    for (size_t i = 0; i < leaf->n; i++)
        strata_free(e[i].owned);
    leaf->n = 0;
}

/* Write the pending leaf as a page run and remember (first key, page). */
static int flush_leaf(bulk *b, bulk_vec *leaf, bulk_vec *refs)
{
    bulk_elem *e = leaf->items;
    size_t sz = leaf_bytes(e, leaf->n);
    size_t pages = (sz + b->ps - 1) / b->ps;
    unsigned char *buf;
    bulk_ref r = { e[0].key, 0 };
    int rc = bulk_reserve(b, pages, &buf, &r.pgid);
    if (rc == 0) {
        leaf_image(e, leaf->n, buf);
        bolt__st64(buf + BOLT_PAGE_ID_OFF, r.pgid);
        bolt__st32(buf + BOLT_PAGE_OVERFLOW_OFF, (uint32_t)(pages - 1));
        rc = vec_push(refs, &r); /* the key stays borrowed from the source */
    }
    free_elems(leaf);
    return rc;
}

/* Rule 2: one branch level from refs[0..n) into *up. */
static int branch_level(bulk *b, const bulk_ref *refs, size_t n, bulk_vec *up)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i, sz = BOLT_PAGE_HEADER_SIZE;
        while (j < n) {
            size_t add = BOLT_BRANCH_ELEM_SIZE + refs[j].key.size;
            if (j - i >= 2 && sz + add > b->ps)
                break;
            sz += add;
            j++;
        }
        /* Never leave one child alone for the next page: it would not shrink. */
        if (j == n - 1 && j - i > 2)
            j--, sz -= BOLT_BRANCH_ELEM_SIZE + refs[j].key.size;
        size_t pages = (sz + b->ps - 1) / b->ps;
        unsigned char *buf;
        bulk_ref r = { refs[i].key, 0 };
        int rc = bulk_reserve(b, pages, &buf, &r.pgid);
        if (rc != 0)
            return rc;
        bolt__st64(buf + BOLT_PAGE_ID_OFF, r.pgid);
        bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_BRANCH);
        bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)(j - i));
        bolt__st32(buf + BOLT_PAGE_OVERFLOW_OFF, (uint32_t)(pages - 1));
        size_t data = BOLT_PAGE_HEADER_SIZE + (j - i) * BOLT_BRANCH_ELEM_SIZE;
        for (size_t k = i; k < j; k++) {
            unsigned char *el = buf + BOLT_PAGE_HEADER_SIZE + (k - i) * BOLT_BRANCH_ELEM_SIZE;
            bolt__st32(
                    el + BOLT_BRANCH_POS_OFF,
                    (uint32_t)(data - (BOLT_PAGE_HEADER_SIZE + (k - i) * BOLT_BRANCH_ELEM_SIZE)));
            bolt__st32(el + BOLT_BRANCH_KSIZE_OFF, (uint32_t)refs[k].key.size);
            bolt__st64(el + BOLT_BRANCH_PGID_OFF, refs[k].pgid);
            memcpy(buf + data, refs[k].key.data, refs[k].key.size);
            data += refs[k].key.size;
        }
        rc = vec_push(up, &r);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

/*
 * Build bucket src; *value receives its bucket value (header, and the
 * inline page when inline), malloc'd, *vsize its size. For the root bucket
 * (is_root) *root receives the root page instead and value is NULL.
 */
static int build_bucket(bulk *b, bolt_bucket *src, bool is_root, int nesting, unsigned char **value,
                        size_t *vsize, bolt_pgid *root)
{
    if (nesting > BOLT_MAX_NESTING)
        return BOLT_ECORRUPT;
    bulk_vec leaf = { NULL, 0, 0, sizeof(bulk_elem) };
    bulk_vec refs = { NULL, 0, 0, sizeof(bulk_ref) };
    bulk_vec up = { NULL, 0, 0, sizeof(bulk_ref) };
    size_t sz = BOLT_PAGE_HEADER_SIZE;
    bool has_bucket = false;
    int rc = bolt_visited_add(b->seen, src); /* rule 7 */
    if (rc != 0)
        return rc;
    bolt_cursor *c;
    rc = bolt_cursor_open(src, &c);
    if (rc != 0)
        return rc;
    bolt_val k, v, prev = { NULL, 0 };
    bool have_prev = false;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        rc = bolt__walk_order(c, prev, have_prev, k); /* rule 7 */
        if (rc != 0)
            break;
        prev = k;
        have_prev = true;
        bulk_elem e = { 0, k, v, NULL };
        if (v.data == NULL) {
            bolt_bucket *child;
            size_t n;
            rc = bolt_bucket_open(src, k, &child);
            if (rc == 0)
                rc = build_bucket(b, child, false, nesting + 1, &e.owned, &n, NULL);
            if (rc != 0)
                break;
            e.flags = BOLT_LEAF_BUCKET;
            e.value = (bolt_val){ e.owned, n };
            has_bucket = true;
            b->buckets++;
        } else if (++b->keys % BULK_PROGRESS_KEYS == 0 && b->progress != NULL) {
            b->progress(b->progress_arg, b->keys);
        }
        size_t add = BOLT_LEAF_ELEM_SIZE + e.key.size + e.value.size;
        if (leaf.n > 0 && sz + add > b->ps) {
            rc = flush_leaf(b, &leaf, &refs);
            sz = BOLT_PAGE_HEADER_SIZE;
        }
        if (rc == 0)
            rc = vec_push(&leaf, &e);
        if (rc != 0) {
            strata_free(e.owned);
            break;
        }
        sz += add;
    }
    bolt_cursor_close(c);
    if (rc == BOLT_NOTFOUND)
        rc = 0;
    uint64_t seq = bolt_bucket_sequence(src);
    /* Rule 3: inline when nothing was flushed and the leaf is small enough. */
    if (rc == 0 && !is_root && refs.n == 0 && !has_bucket && sz <= b->ps / 4) {
        size_t n = BOLT_BUCKET_HEADER_SIZE + sz;
        unsigned char *val = strata_calloc(1, n);
        if (val == NULL) {
            rc = -ENOMEM;
        } else {
            bolt__st64(val + BOLT_BUCKET_ROOT_OFF, 0);
            bolt__st64(val + BOLT_BUCKET_SEQ_OFF, seq);
            leaf_image(leaf.items, leaf.n, val + BOLT_BUCKET_HEADER_SIZE);
            *value = val;
            *vsize = n;
        }
        free_elems(&leaf);
        strata_free(leaf.items);
        strata_free(refs.items);
        return rc;
    }
    if (rc == 0 && (leaf.n > 0 || refs.n == 0)) {
        if (leaf.n == 0) { /* an empty paged bucket: one empty leaf */
            unsigned char *buf;
            bulk_ref r = { { "", 0 }, 0 };
            rc = bulk_reserve(b, 1, &buf, &r.pgid);
            if (rc == 0) {
                bolt__st64(buf + BOLT_PAGE_ID_OFF, r.pgid);
                bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_LEAF);
                rc = vec_push(&refs, &r);
            }
        } else {
            rc = flush_leaf(b, &leaf, &refs);
        }
    }
    free_elems(&leaf);
    strata_free(leaf.items);
    /* Branch levels until one page is left: the root. */
    while (rc == 0 && refs.n > 1) {
        up.n = 0;
        rc = branch_level(b, refs.items, refs.n, &up);
        bulk_vec t = refs;
        refs = up;
        up = t;
    }
    bolt_pgid r = rc == 0 ? ((bulk_ref *)refs.items)[0].pgid : 0;
    strata_free(refs.items);
    strata_free(up.items);
    if (rc != 0)
        return rc;
    if (is_root) {
        *root = r;
        return 0;
    }
    unsigned char *val = strata_calloc(1, BOLT_BUCKET_HEADER_SIZE);
    if (val == NULL)
        return -ENOMEM;
    bolt__st64(val + BOLT_BUCKET_ROOT_OFF, r);
    bolt__st64(val + BOLT_BUCKET_SEQ_OFF, seq);
    *value = val;
    *vsize = BOLT_BUCKET_HEADER_SIZE;
    return 0;
}

int bolt__bulk_write(bolt_tx *src, int fd, uint32_t page_size,
                     void (*progress)(void *arg, uint64_t keys), void *progress_arg,
                     uint64_t *buckets, uint64_t *keys)
{
    bulk b = { src->db->os, fd, page_size, NULL, 2, 0, 0, progress, progress_arg, NULL, 0, 0, 2 };
    b.wcap = BULK_WBUF > page_size ? BULK_WBUF : page_size;
    b.wbuf = strata_malloc(b.wcap);
    if (b.wbuf == NULL)
        return -ENOMEM;
    int rc = bolt_visited_new(src, &b.seen);
    bolt_pgid root = 0, fl = 0;
    if (rc == 0) {
        rc = build_bucket(&b, bolt_tx_root(src), true, 0, NULL, NULL, &root);
        bolt_visited_free(b.seen);
    }
    /* Rule 4: an empty freelist page, then the metas. */
    unsigned char *fpage;
    if (rc == 0)
        rc = bulk_reserve(&b, 1, &fpage, &fl);
    if (rc == 0) {
        bolt__st64(fpage + BOLT_PAGE_ID_OFF, fl);
        bolt__st16(fpage + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_FREELIST);
        rc = bulk_flush(&b);
    }
    strata_free(b.wbuf);
    if (rc != 0)
        return rc;
    unsigned char *buf = strata_calloc(1, page_size);
    if (buf == NULL)
        return -ENOMEM;
    bolt__meta m = { BOLT_MAGIC, BOLT_VERSION, page_size,
                     0,          root,         bolt_bucket_sequence(bolt_tx_root(src)),
                     fl,         b.next,       2,
                     0 };
    for (int i = 0; i < 2 && rc == 0; i++) {
        m.txid = i == 0 ? 2 : 1;
        bolt__meta_encode(&m, (bolt_pgid)i, buf, page_size);
        rc = bolt__write_full(b.os, fd, buf, page_size, (uint64_t)i * page_size);
    }
    strata_free(buf);
    /* bolt_open wants at least 4 KiB; readers map whole pages up to pgid. */
    uint64_t size = b.next * (uint64_t)page_size;
    if (rc == 0 && b.os->ftruncate(fd, (off_t)(size < 4096 ? 4096 : size)) != 0)
        rc = -errno;
    if (rc == 0) {
        *buckets = b.buckets;
        *keys = b.keys;
        if (progress != NULL)
            progress(progress_arg, b.keys);
    }
    return rc;
}
