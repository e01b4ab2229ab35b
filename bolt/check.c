/*
 * check.c: the whole-file consistency check (bolt_tx_check) and the page
 * walk that rebuilds the free set of a file without a stored freelist.
 *
 * What is checked (docs/format.md §11 plus strata's strict rules):
 *   1. freelist ids: no duplicates ("already freed"), each in [2, pgid),
 *      stored in ascending order;
 *   2. every page reachable from the root bucket, recursing into paged
 *      nested buckets: inside the high-water mark and the file, referenced
 *      once ("multiple references"), not free ("reachable freed"), a valid
 *      branch/leaf page whose header id is its position, elements in
 *      bounds, keys strictly increasing, every key of a child inside its
 *      parent's separator range, each separator equal to its child's first
 *      key, all leaves of one tree at the same depth;
 *   3. bucket values: paged = exactly a 16-byte header; inline = a valid
 *      leaf page with id 0, no nested buckets, at most page_size/4 bytes;
 *   4. every id below pgid is a meta page, in the freelist run, reached, or
 *      free ("unreachable unfreed").
 * The walk never descends twice into a page, so a cyclic file is reported,
 * not followed forever.
 *   5. bolt_visited is the same walk for the walks that copy or list a
 *      tree through cursors (dump, compact, bulk load, hash, defrag, the
 *      CLI's listings, mvcc's restore): each bucket's own pages are
 *      entered before its keys are read, and a page entered twice in one
 *      walk -- a subtree shared by two buckets or two branch elements, a
 *      bucket root pointing at a page of its parent, a cycle -- stops the
 *      walk with BOLT_ECORRUPT and the page named, so the walk's work is
 *      bounded by the file's size. bolt__walk_order is the on-the-fly key
 *      order check those walks make as their cursors go.
 *
 *   6. Progress (bolt_tx_check_progress, bolt_visited_set_progress): the
 *      pages entered so far of the transaction's page count, every 1024
 *      pages; a visited set also counts the plain key/value pairs (and
 *      their bytes) on the leaves it entered, so a walk that adds all its
 *      buckets first knows the total of what it will read.
 *
 * It checks the state the transaction started from (a write transaction's
 * uncommitted changes are not on pages yet).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bolt_int.h"

typedef struct walker {
    bolt_tx *tx;
    unsigned char *reached;
    bolt_pgid *free_ids;
    size_t nfree;
    void (*report)(void *arg, const char *problem);
    void *arg;
    size_t problems;
    int (*page_fn)(void *arg, bolt_pgid id, uint32_t overflow);
    void *page_arg;
    bool one_bucket; /* bolt_visited: a bucket's own tree only, not its nested buckets' */
    /* Rule 6: progress and counts. */
    bolt_progress_fn progress;
    void *progress_arg;
    uint64_t entered, next_report; /* pages entered; when to call progress next */
    uint64_t progress_total;       /* the pages a whole walk enters (0: the tx's pgid) */
    uint64_t pairs, bytes;         /* plain elements (and key+value bytes) on leaves entered */
} walker;

#define PROGRESS_EVERY 1024 /* pages between progress calls */

/* Report a problem; in walk mode (no report callback) stop with ECORRUPT. */
static int problem(walker *w, bolt_pgid id, const char *fmt, ...)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "page %llu: ", (unsigned long long)id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    w->problems++;
    if (w->report == NULL) {
        bolt__corrupt(w->tx->db, id, msg + n);
        return BOLT_ECORRUPT;
    }
    w->report(w->arg, msg);
    return 0;
}

static bool is_reached(const walker *w, bolt_pgid id)
{
    return (w->reached[id / 8] >> (id % 8)) & 1;
}

static void mark(walker *w, bolt_pgid id)
{
    w->reached[id / 8] |= (unsigned char)(1u << (id % 8));
}

static bool is_free(const walker *w, bolt_pgid id)
{
    size_t lo = 0, hi = w->nfree;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (w->free_ids[m] < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < w->nfree && w->free_ids[lo] == id;
}

static int cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

static int walk_bucket(walker *w, bolt_pgid root, int nesting);

/*
 * The bytes of page id to examine: the map, or for a live transaction its
 * private copy (live.c), since the writer may rewrite the map under us.
 * 0, a problem's status, or BOLT_ELIVECHANGED / -ENOMEM.
 */
static int page_bytes(walker *w, bolt_pgid id, const unsigned char **p)
{
    bolt_tx *tx = w->tx;
    *p = tx->map->base + id * (uint64_t)tx->db->page_size;
    if (!tx->db->opt.live || tx->writable)
        return 0;
    uint32_t ov;
    int rc = bolt__live_page(tx, id, p, &ov);
    if (rc == BOLT_ECORRUPT)
        return problem(w, id, "overflow run out of bounds");
    return rc;
}

static void elem_key(const bolt__page *p, unsigned i, bolt_val *k)
{
    if (bolt__page_is_leaf(p))
        bolt__page_leaf_elem(p, i, NULL, k, NULL);
    else
        bolt__page_branch_elem(p, i, k);
}

/* Rule 3 for one bucket element of a leaf on page `id`. */
static int check_bucket_value(walker *w, bolt_pgid id, bolt_val k, bolt_val v, int nesting)
{
    const unsigned char *val = v.data;
    bolt_pgid root = bolt__ld64(val + BOLT_BUCKET_ROOT_OFF);
    uint32_t ps = w->tx->db->page_size;
    if (root != 0 && w->one_bucket)
        return 0; /* bolt_visited: each bucket is added by the walk that enters it */
    if (root != 0) {
        if (v.size != BOLT_BUCKET_HEADER_SIZE) {
            int rc = problem(w, id, "paged bucket value of %zu bytes (must be 16)", v.size);
            if (rc != 0)
                return rc;
        }
        if (nesting + 1 >= BOLT_MAX_NESTING)
            return problem(w, id, "buckets nested deeper than %d", BOLT_MAX_NESTING);
        return walk_bucket(w, root, nesting + 1);
    }
    if (w->report == NULL)
        return 0; /* walk mode: inline buckets own no pages */
    bolt__page ip;
    const char *why;
    if (bolt__page_load(val + BOLT_BUCKET_HEADER_SIZE, v.size - BOLT_BUCKET_HEADER_SIZE, 0, &ip,
                        &why) != 0)
        return problem(w, id, "inline bucket %.*s: %s", (int)(k.size > 32 ? 32 : k.size),
                       (const char *)k.data, why);
    if (!bolt__page_is_leaf(&ip))
        return problem(w, id, "inline bucket page is not a leaf");
    if (v.size > ps / 4 + BOLT_BUCKET_HEADER_SIZE) {
        int rc = problem(w, id, "inline bucket of %zu bytes exceeds page_size/4", v.size);
        if (rc != 0)
            return rc;
    }
    for (unsigned i = 0; i < ip.count; i++) {
        uint32_t f;
        bolt_val ik;
        bolt__page_leaf_elem(&ip, i, &f, &ik, NULL);
        if (f & BOLT_LEAF_BUCKET) {
            int rc = problem(w, id, "inline bucket holds a nested bucket");
            if (rc != 0)
                return rc;
        }
        if (i > 0) {
            bolt_val pk;
            bolt__page_leaf_elem(&ip, i - 1, NULL, &pk, NULL);
            if (cmp(pk.data, pk.size, ik.data, ik.size) >= 0) {
                int rc = problem(w, id, "inline bucket keys out of order at element %u", i);
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

/*
 * Rule 2 for page id at depth; keys must lie in [lo, hi) (NULL = open).
 * *first receives the page's first key (for the parent's separator check).
 */
static int walk_page(walker *w, bolt_pgid id, int depth, const bolt_val *lo, const bolt_val *hi,
                     int *leaf_depth, bolt_val *first, int nesting)
{
    bolt_tx *tx = w->tx;
    uint64_t ps = tx->db->page_size;
    first->data = NULL;
    first->size = 0;
    if (depth >= BOLT_MAX_DEPTH)
        return problem(w, id, "tree deeper than %d levels", BOLT_MAX_DEPTH);
    if (id < 2 || id >= tx->meta.pgid)
        return problem(w, id, "out of bounds: %llu", (unsigned long long)tx->meta.pgid);
    if ((id + 1) * ps > tx->limit)
        return problem(w, id, "past the end of the file");
    const unsigned char *p;
    int prc = page_bytes(w, id, &p);
    if (prc != 0)
        return prc;
    uint32_t ov = bolt__ld32(p + BOLT_PAGE_OVERFLOW_OFF);
    if (id + ov >= tx->meta.pgid || (id + ov + 1) * ps > tx->limit)
        return problem(w, id, "overflow %u runs out of bounds", ov);
    for (uint64_t i = 0; i <= ov; i++) {
        if (is_reached(w, id + i))
            return problem(w, id + i,
                           w->report != NULL ? "multiple references"
                                             : "reached twice in one walk (a subtree shared "
                                               "between buckets or trees, or a cycle)");
    }
    for (uint64_t i = 0; i <= ov; i++)
        mark(w, id + i);
    w->entered += (uint64_t)ov + 1;
    if (w->progress != NULL && w->entered >= w->next_report) {
        w->progress(w->progress_arg, w->entered,
                    w->progress_total != 0 ? w->progress_total : tx->meta.pgid);
        w->next_report = w->entered + PROGRESS_EVERY;
    }
    if (w->free_ids != NULL && is_free(w, id)) {
        int rc = problem(w, id, "reachable freed");
        if (rc != 0)
            return rc;
    }
    bolt__page pg;
    const char *why;
    if (bolt__page_load(p, (size_t)((ov + 1) * ps), id, &pg, &why) != 0)
        return problem(w, id, "%s", why);
    if (w->page_fn != NULL) {
        int rc = w->page_fn(w->page_arg, id, ov);
        if (rc != 0)
            return rc;
    }
    int rc = 0;
    for (unsigned i = 0; i < pg.count && rc == 0; i++) {
        bolt_val k;
        elem_key(&pg, i, &k);
        if (i == 0)
            *first = k;
        if (w->report != NULL) {
            if (i > 0) {
                bolt_val pk;
                elem_key(&pg, i - 1, &pk);
                if (cmp(pk.data, pk.size, k.data, k.size) >= 0)
                    rc = problem(w, id, "keys out of order at element %u", i);
            }
            if (rc == 0 && ((lo != NULL && cmp(k.data, k.size, lo->data, lo->size) < 0) ||
                            (hi != NULL && cmp(k.data, k.size, hi->data, hi->size) >= 0)))
                rc = problem(w, id, "element %u key outside its parent's separator range", i);
        }
        if (rc != 0)
            break;
        if (bolt__page_is_leaf(&pg)) {
            uint32_t f;
            bolt_val v;
            bolt__page_leaf_elem(&pg, i, &f, NULL, &v);
            if (f & BOLT_LEAF_BUCKET) {
                rc = check_bucket_value(w, id, k, v, nesting);
            } else {
                w->pairs++;
                w->bytes += (uint64_t)k.size + v.size;
            }
            continue;
        }
        bolt_val nhi, cfirst;
        const bolt_val *chi = hi;
        if (i + 1 < pg.count) {
            elem_key(&pg, i + 1, &nhi);
            chi = &nhi;
        }
        bolt_pgid child = bolt__page_branch_elem(&pg, i, NULL);
        if (child == id) {
            rc = problem(w, id, "branch element %u points to its own page", i);
            break;
        }
        rc = walk_page(w, child, depth + 1, &k, chi, leaf_depth, &cfirst, nesting);
        if (rc == 0 && w->report != NULL && cfirst.data != NULL &&
            cmp(k.data, k.size, cfirst.data, cfirst.size) != 0)
            rc = problem(w, id, "separator %u differs from the first key of page %llu", i,
                         (unsigned long long)child);
    }
    if (rc == 0 && bolt__page_is_leaf(&pg)) {
        if (*leaf_depth < 0)
            *leaf_depth = depth;
        else if (*leaf_depth != depth && w->report != NULL)
            rc = problem(w, id, "leaf at depth %d, others at %d", depth, *leaf_depth);
    }
    return rc;
}

static int walk_bucket(walker *w, bolt_pgid root, int nesting)
{
    int leaf_depth = -1;
    bolt_val first;
    return walk_page(w, root, 0, NULL, NULL, &leaf_depth, &first, nesting);
}

static int walker_init(walker *w, bolt_tx *tx)
{
    memset(w, 0, sizeof *w);
    w->tx = tx;
    w->reached = strata_calloc(1, (size_t)(tx->meta.pgid / 8 + 1));
    return w->reached == NULL ? -ENOMEM : 0;
}

int bolt__walk_pages(bolt_tx *tx, int (*fn)(void *arg, bolt_pgid id, uint32_t overflow), void *arg)
{
    walker w;
    int rc = walker_init(&w, tx);
    if (rc != 0)
        return rc;
    w.page_fn = fn;
    w.page_arg = arg;
    mark(&w, 0);
    mark(&w, 1);
    rc = walk_bucket(&w, tx->meta.root, 0);
    strata_free(w.reached);
    return rc;
}

static int id_cmp(const void *a, const void *b)
{
    bolt_pgid x = *(const bolt_pgid *)a, y = *(const bolt_pgid *)b;
    return x < y ? -1 : x > y;
}

/* Rule 1: read the freelist run of tx's meta into w->free_ids. */
static int load_free(walker *w)
{
    bolt_tx *tx = w->tx;
    bolt_pgid id = tx->meta.freelist;
    if (id == BOLT_NO_FREELIST)
        return 0;
    uint64_t ps = tx->db->page_size;
    if (id < 2 || id >= tx->meta.pgid || (id + 1) * ps > tx->limit)
        return problem(w, id, "freelist page out of bounds");
    const unsigned char *p;
    int prc = page_bytes(w, id, &p);
    if (prc != 0)
        return prc;
    uint32_t ov = bolt__ld32(p + BOLT_PAGE_OVERFLOW_OFF);
    if (id + ov >= tx->meta.pgid || (id + ov + 1) * ps > tx->limit)
        return problem(w, id, "freelist overflow %u runs out of bounds", ov);
    for (uint64_t i = 0; i <= ov; i++)
        mark(w, id + i);
    if (bolt__ld64(p + BOLT_PAGE_ID_OFF) != id)
        return problem(w, id, "freelist header id does not match its position");
    /* Exactly 0x10, as bolt__freelist_read demands (bbolt only tests the bit). */
    uint16_t flags = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF);
    if (flags != BOLT_PAGE_FREELIST)
        return problem(w, id, "invalid freelist page (flags 0x%x, not 0x10)", (unsigned)flags);
    size_t avail = (size_t)((ov + 1) * ps);
    uint64_t n = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    size_t off = BOLT_PAGE_HEADER_SIZE;
    if (n == BOLT_FREELIST_COUNT_ESCAPE) {
        n = bolt__ld64(p + off);
        off += 8;
    }
    if (n > (avail - off) / 8)
        return problem(w, id, "freelist count %llu runs past the run", (unsigned long long)n);
    w->free_ids = strata_malloc(((size_t)n + 1) * sizeof *w->free_ids);
    if (w->free_ids == NULL)
        return -ENOMEM;
    size_t k = 0;
    bool ordered = true;
    for (size_t i = 0; i < n; i++) {
        bolt_pgid f = bolt__ld64(p + off + 8 * i);
        if (ordered && i > 0 && f < bolt__ld64(p + off + 8 * (i - 1))) {
            /* Rule 1: stored ascending, as a read-write open demands (freelist.c rule 6). */
            ordered = false;
            int rc = problem(w, id, "freelist ids not in ascending order (id %llu at entry %zu)",
                             (unsigned long long)f, i);
            if (rc != 0)
                return rc;
        }
        if (f < 2 || f >= tx->meta.pgid) {
            int rc = problem(w, f, "free id out of range (pgid %llu)",
                             (unsigned long long)tx->meta.pgid);
            if (rc != 0)
                return rc;
            continue;
        }
        w->free_ids[k++] = f;
    }
    qsort(w->free_ids, k, sizeof *w->free_ids, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && w->free_ids[u - 1] == w->free_ids[i]) {
            int rc = problem(w, w->free_ids[i], "already freed");
            if (rc != 0)
                return rc;
            continue;
        }
        w->free_ids[u++] = w->free_ids[i];
    }
    w->nfree = u;
    return 0;
}

int bolt_tx_check(bolt_tx *tx, void (*report)(void *arg, const char *problem), void *arg)
{
    return bolt_tx_check_progress(tx, report, arg, NULL, NULL);
}

int bolt_tx_check_progress(bolt_tx *tx, void (*report)(void *arg, const char *problem), void *arg,
                           bolt_progress_fn progress, void *progress_arg)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    if (report == NULL)
        return STRATA_EMISUSE;
    walker w;
    rc = walker_init(&w, tx);
    if (rc != 0)
        return rc;
    w.report = report;
    w.arg = arg;
    w.progress = progress;
    w.progress_arg = progress_arg;
    mark(&w, 0);
    mark(&w, 1);
    /* Open accepts a stored meta checksum of 0 unverified, as bbolt does; check says so. */
    for (int i = 0; i < 2; i++) {
        bolt__meta m;
        if (bolt__live_meta_decode(tx->db, i, &m) == 0 && m.checksum == 0)
            problem(&w, (bolt_pgid)i, "meta checksum is 0 (accepted without verification)");
    }
    rc = load_free(&w);
    /* Rule 6: what the walk will enter, when the freelist says: pgid less the
     * metas, the freelist's own run and the free pages. */
    bool counted = rc == 0 && progress != NULL && tx->meta.freelist != BOLT_NO_FREELIST;
    uint64_t run = 0; /* marked by load_free: the freelist's run */
    for (bolt_pgid id = 2; counted && id < tx->meta.pgid; id++)
        run += is_reached(&w, id);
    if (counted && tx->meta.pgid > 2 + run + w.nfree)
        w.progress_total = tx->meta.pgid - 2 - run - w.nfree;
    /* Before the walk, reached = metas + the freelist run: none may be free. */
    for (size_t i = 0; rc == 0 && i < w.nfree; i++)
        if (is_reached(&w, w.free_ids[i]))
            problem(&w, w.free_ids[i], "free, but part of the freelist run");
    if (rc == 0)
        rc = walk_bucket(&w, tx->meta.root, 0);
    if (rc == 0 && tx->meta.freelist != BOLT_NO_FREELIST) {
        for (bolt_pgid id = 2; id < tx->meta.pgid; id++) {
            if (!is_reached(&w, id) && !is_free(&w, id))
                problem(&w, id, "unreachable unfreed");
        }
    }
    strata_free(w.free_ids);
    strata_free(w.reached);
    if (rc != 0)
        return rc;
    if (progress != NULL)
        progress(progress_arg, w.entered, w.progress_total != 0 ? w.progress_total : tx->meta.pgid);
    return w.problems > 0 ? BOLT_ECORRUPT : 0;
}

/* ---- bolt_visited: the pages one walk has entered (rule 5) ----------------- */

struct bolt_visited {
    walker w;
};

int bolt_visited_new(bolt_tx *tx, bolt_visited **out)
{
    *out = NULL;
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    bolt_visited *v = strata_malloc(sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    rc = walker_init(&v->w, tx);
    if (rc != 0) {
        strata_free(v);
        return rc;
    }
    v->w.one_bucket = true;
    mark(&v->w, 0);
    mark(&v->w, 1);
    *out = v;
    return 0;
}

int bolt_visited_add(bolt_visited *v, bolt_bucket *b)
{
    if (v == NULL || b == NULL || b->tx != v->w.tx)
        return STRATA_EMISUSE;
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    if (b->root == 0) {
        /* inline: its page lives in the parent's leaf; only its pairs are counted */
        bolt__page ip;
        const char *why;
        if (b->inline_data != NULL &&
            bolt__page_load(b->inline_data, b->inline_size, 0, &ip, &why) == 0 &&
            bolt__page_is_leaf(&ip)) {
            for (unsigned i = 0; i < ip.count; i++) {
                uint32_t f;
                bolt_val k, val;
                bolt__page_leaf_elem(&ip, i, &f, &k, &val);
                if (!(f & BOLT_LEAF_BUCKET)) {
                    v->w.pairs++;
                    v->w.bytes += (uint64_t)k.size + val.size;
                }
            }
        }
        return 0;
    }
    return walk_bucket(&v->w, b->root, 0);
}

void bolt_visited_set_progress(bolt_visited *v, bolt_progress_fn fn, void *arg)
{
    if (v == NULL)
        return;
    v->w.progress = fn;
    v->w.progress_arg = arg;
    v->w.next_report = v->w.entered; /* the next page entered reports */
}

void bolt_visited_counts_get(const bolt_visited *v, bolt_visited_counts *out)
{
    memset(out, 0, sizeof *out);
    if (v == NULL)
        return;
    out->pages = v->w.entered;
    out->pairs = v->w.pairs;
    out->bytes = v->w.bytes;
}

void bolt_visited_free(bolt_visited *v)
{
    if (v == NULL)
        return;
    strata_free(v->w.reached);
    strata_free(v);
}

int bolt__walk_order(bolt_cursor *c, bolt_val prev, bool have_prev, bolt_val key)
{
    if (!have_prev || bolt__key_cmp(prev.data, prev.size, key.data, key.size) < 0)
        return 0;
    bolt_pgid leaf = 0;
    if (c->depth > 0) {
        const bolt__elemref *r = &c->stack[c->depth - 1];
        leaf = r->node != NULL ? r->node->pgid : r->page.id;
    }
    return bolt__corrupt(c->bucket->tx->db, leaf,
                         leaf != 0 ? "keys out of order (a key not after the one before it)"
                                   : "keys out of order in an inline bucket");
}
