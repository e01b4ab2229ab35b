/*
 * hostile.h: a generator of structural mutations of bolt images, for the
 * hostile-file tests and the fuzz corpus (header-only, test code).
 *
 * hm_scan walks an image's tree from its current meta, as the format spec
 * places the pointers (docs/format.md §3 meta root/freelist, §4 branch element
 * child ids, §6 bucket values' root ids, §7 freelist ids), and records
 * where each pointer lives (its byte offset) and where it points. The
 * mutations then rewrite one pointer (or a pair of keys, or a meta field
 * with its checksum) so the file stays well-formed page by page but its
 * structure is hostile: subtrees shared between buckets or between two
 * branch elements, bucket roots at their own parent's leaf or at the root
 * bucket's page, cycles, a freelist listing a page in use, keys out of
 * order, a txid at its limit.
 */
#ifndef STRATA_TESTS_BOLT_HOSTILE_H
#define STRATA_TESTS_BOLT_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bolt_int.h"

typedef enum hm_kind {
    HM_BRANCH_CHILD, /* a branch element's child id (§4) */
    HM_BUCKET_ROOT,  /* a paged bucket value's root id (§6) */
    HM_FREE_ID,      /* an id in the freelist page (§7) */
} hm_kind;

typedef struct hm_ptr {
    hm_kind kind;
    size_t off;       /* byte offset of the u64 in the image */
    bolt_pgid holder; /* the page holding it */
    bolt_pgid value;  /* where it points */
    int nesting;      /* the bucket depth of the tree holding it (0: the root bucket's) */
} hm_ptr;

typedef struct hm_map {
    uint32_t ps;
    int cur; /* the current meta (0 or 1) */
    bolt__meta meta;
    hm_ptr *ptrs;
    size_t n, cap;
    bolt_pgid *leaves; /* leaf pages reached (ids) */
    size_t nleaves, capleaves;
} hm_map;

static HARNESS_UNUSED void hm_push(hm_map *m, hm_kind kind, size_t off, bolt_pgid holder,
                                   bolt_pgid value, int nesting)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->ptrs = realloc(m->ptrs, m->cap * sizeof *m->ptrs);
        if (m->ptrs == NULL)
            abort();
    }
    m->ptrs[m->n++] = (hm_ptr){ kind, off, holder, value, nesting };
}

static HARNESS_UNUSED void hm_push_leaf(hm_map *m, bolt_pgid id)
{
    if (m->nleaves == m->capleaves) {
        m->capleaves = m->capleaves ? m->capleaves * 2 : 64;
        m->leaves = realloc(m->leaves, m->capleaves * sizeof *m->leaves);
        if (m->leaves == NULL)
            abort();
    }
    m->leaves[m->nleaves++] = id;
}

/* The tree at page id (a clean image: every page valid, reached once). */
static HARNESS_UNUSED int hm_walk(hm_map *m, const unsigned char *img, size_t len, bolt_pgid id,
                                  int depth, int nesting)
{
    uint64_t off = id * (uint64_t)m->ps;
    if (depth > 64 || id < 2 || off + m->ps > len)
        return -1;
    uint32_t ov = bolt__ld32(img + off + BOLT_PAGE_OVERFLOW_OFF);
    size_t size = ((size_t)ov + 1) * m->ps;
    if (off + size > len)
        return -1;
    bolt__page p;
    const char *why;
    if (bolt__page_load(img + off, size, id, &p, &why) != 0)
        return -1;
    if (!bolt__page_is_leaf(&p)) {
        for (unsigned i = 0; i < p.count; i++) {
            bolt_pgid child = bolt__page_branch_elem(&p, i, NULL);
            hm_push(m, HM_BRANCH_CHILD,
                    (size_t)off + BOLT_PAGE_HEADER_SIZE + (size_t)i * BOLT_BRANCH_ELEM_SIZE +
                            BOLT_BRANCH_PGID_OFF,
                    id, child, nesting);
            if (hm_walk(m, img, len, child, depth + 1, nesting) != 0)
                return -1;
        }
        return 0;
    }
    hm_push_leaf(m, id);
    for (unsigned i = 0; i < p.count; i++) {
        uint32_t flags;
        bolt_val k, v;
        bolt__page_leaf_elem(&p, i, &flags, &k, &v);
        if (!(flags & BOLT_LEAF_BUCKET) || v.size < BOLT_BUCKET_HEADER_SIZE)
            continue;
        size_t voff = (size_t)((const unsigned char *)v.data - img);
        bolt_pgid root = bolt__ld64(img + voff + BOLT_BUCKET_ROOT_OFF);
        if (root == 0)
            continue; /* inline: no page */
        hm_push(m, HM_BUCKET_ROOT, voff + BOLT_BUCKET_ROOT_OFF, id, root, nesting);
        if (hm_walk(m, img, len, root, 0, nesting + 1) != 0)
            return -1;
    }
    return 0;
}

/* Scan a clean image: 0, or -1 when it is not one hm can read. */
static HARNESS_UNUSED int hm_scan(const unsigned char *img, size_t len, hm_map *m)
{
    memset(m, 0, sizeof *m);
    bolt__meta m0, m1;
    if (len < 4096 || bolt__meta_decode(img, len, &m0) != 0)
        return -1;
    m->ps = m0.page_size;
    int rc1 = bolt__meta_decode(img + m->ps, len - m->ps, &m1);
    m->cur = rc1 == 0 && m1.txid > m0.txid ? 1 : 0;
    m->meta = m->cur ? m1 : m0;
    if (hm_walk(m, img, len, m->meta.root, 0, 0) != 0)
        return -1;
    bolt_pgid fl = m->meta.freelist;
    if (fl != BOLT_NO_FREELIST && (fl + 1) * (uint64_t)m->ps <= len) {
        const unsigned char *p = img + fl * (uint64_t)m->ps;
        uint64_t n = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
        size_t off = BOLT_PAGE_HEADER_SIZE;
        if (n == BOLT_FREELIST_COUNT_ESCAPE) {
            n = bolt__ld64(p + off);
            off += 8;
        }
        for (uint64_t i = 0; i < n; i++) {
            size_t at = (size_t)(fl * (uint64_t)m->ps) + off + 8 * (size_t)i;
            if (at + 8 > len)
                break;
            hm_push(m, HM_FREE_ID, at, fl, bolt__ld64(img + at), -1);
        }
    }
    return 0;
}

static HARNESS_UNUSED void hm_free(hm_map *m)
{
    free(m->ptrs);
    free(m->leaves);
    memset(m, 0, sizeof *m);
}

/* The i-th pointer of a kind (wrapping), or NULL when there is none. */
static HARNESS_UNUSED const hm_ptr *hm_nth(const hm_map *m, hm_kind kind, size_t i)
{
    size_t count = 0;
    for (size_t j = 0; j < m->n; j++)
        count += m->ptrs[j].kind == kind;
    if (count == 0)
        return NULL;
    i %= count;
    for (size_t j = 0; j < m->n; j++)
        if (m->ptrs[j].kind == kind && i-- == 0)
            return &m->ptrs[j];
    return NULL;
}

/* Rewrite meta `which`'s field at byte offset `field` (a u64) and its checksum. */
static HARNESS_UNUSED void hm_meta_set64(unsigned char *img, uint32_t ps, int which, size_t field,
                                         uint64_t v)
{
    unsigned char *p = img + (size_t)which * ps;
    bolt__st64(p + field, v);
    bolt__st64(p + BOLT_META_CHECKSUM_OFF, bolt__meta_sum(p));
}

/* The named structural mutations (hm_apply's `what`). */
typedef enum hm_mutation {
    HM_SHARED_BUCKET_ROOT,  /* bucket i's root := bucket i+1's root (a shared subtree) */
    HM_ROOT_AT_PARENT_LEAF, /* a bucket's root := the leaf holding its own value (a cycle) */
    HM_ROOT_AT_META_ROOT,   /* a bucket's root := the root bucket's page (a cycle) */
    HM_SHARED_CHILD,        /* branch element := its neighbour's child (a DAG in one tree) */
    HM_CHILD_AT_PARENT,     /* branch element := its own page (a cycle in one tree) */
    HM_FREE_IN_USE,         /* a free id := a bucket's root (re-sorted) */
    HM_KEYS_SWAPPED,        /* two keys of one leaf swapped (out of order) */
    HM_TXID_MAX,            /* the current meta's txid := 2^64 - 1 */
    HM_NMUTATIONS
} hm_mutation;

static HARNESS_UNUSED const char *hm_name(hm_mutation what)
{
    static const char *const names[] = {
        "shared-bucket-root", "root-at-parent-leaf", "root-at-meta-root", "shared-child",
        "child-at-parent",    "free-in-use",         "keys-swapped",      "txid-max",
    };
    return what < HM_NMUTATIONS ? names[what] : "?";
}

static int hm_cmp_u64(const void *a, const void *b)
{
    uint64_t x = bolt__ld64(a), y = bolt__ld64(b);
    return x < y ? -1 : x > y;
}

/*
 * Apply mutation `what` to img (scanned into m), choosing among candidates
 * with `pick`. 0, or -1 when the image has no place for it. *page receives
 * the page the damage is at (the one a walk should name), or 0.
 */
static HARNESS_UNUSED int hm_apply(unsigned char *img, size_t len, const hm_map *m,
                                   hm_mutation what, size_t pick, bolt_pgid *page)
{
    *page = 0;
    switch (what) {
    case HM_SHARED_BUCKET_ROOT: {
        /* Two buckets of the same parent tree, so neither holds the other. */
        const hm_ptr *a = NULL, *b = NULL;
        for (size_t t = 0; t < m->n && b == NULL; t++) {
            const hm_ptr *x = hm_nth(m, HM_BUCKET_ROOT, pick + t);
            for (size_t u = 1; x != NULL && u < m->n && b == NULL; u++) {
                const hm_ptr *y = hm_nth(m, HM_BUCKET_ROOT, pick + t + u);
                if (y != x && y->nesting == x->nesting && y->value != x->value) {
                    a = x;
                    b = y;
                }
            }
        }
        if (a == NULL || b == NULL)
            return -1;
        bolt__st64(img + a->off, b->value);
        *page = b->value;
        return 0;
    }
    case HM_ROOT_AT_PARENT_LEAF:
    case HM_ROOT_AT_META_ROOT: {
        const hm_ptr *a = hm_nth(m, HM_BUCKET_ROOT, pick);
        if (a == NULL)
            return -1;
        bolt_pgid to = what == HM_ROOT_AT_PARENT_LEAF ? a->holder : m->meta.root;
        bolt__st64(img + a->off, to);
        *page = to;
        return 0;
    }
    case HM_SHARED_CHILD:
    case HM_CHILD_AT_PARENT: {
        const hm_ptr *a = hm_nth(m, HM_BRANCH_CHILD, pick);
        if (a == NULL)
            return -1;
        bolt_pgid to = a->holder;
        if (what == HM_SHARED_CHILD) {
            /* The neighbour in the same branch page (the next element, or the one before). */
            const hm_ptr *nb = NULL;
            for (size_t j = 0; j < m->n; j++) {
                const hm_ptr *q = &m->ptrs[j];
                if (q->kind == HM_BRANCH_CHILD && q->holder == a->holder && q != a &&
                    (nb == NULL || (q->off > a->off && (nb->off < a->off || q->off < nb->off))))
                    nb = q;
            }
            if (nb == NULL)
                return -1;
            to = nb->value;
        }
        bolt__st64(img + a->off, to);
        *page = to;
        return 0;
    }
    case HM_FREE_IN_USE: {
        const hm_ptr *f = hm_nth(m, HM_FREE_ID, pick);
        const hm_ptr *b = hm_nth(m, HM_BUCKET_ROOT, pick);
        if (f == NULL || b == NULL)
            return -1;
        bolt__st64(img + f->off, b->value);
        /* Keep the list sorted and duplicate-free, as a writer would have left it. */
        size_t first = f->off, n = 0;
        for (size_t j = 0; j < m->n; j++)
            if (m->ptrs[j].kind == HM_FREE_ID) {
                if (m->ptrs[j].off < first)
                    first = m->ptrs[j].off;
                n++;
            }
        qsort(img + first, n, 8, hm_cmp_u64);
        for (size_t j = 1; j < n; j++)
            if (bolt__ld64(img + first + 8 * j) == bolt__ld64(img + first + 8 * (j - 1)))
                return -1;
        *page = b->value;
        return 0;
    }
    case HM_KEYS_SWAPPED: {
        for (size_t t = 0; t < m->nleaves; t++) {
            bolt_pgid id = m->leaves[(pick + t) % m->nleaves];
            const unsigned char *pg = img + id * (uint64_t)m->ps;
            uint32_t ov = bolt__ld32(pg + BOLT_PAGE_OVERFLOW_OFF);
            bolt__page p;
            const char *why;
            if (bolt__page_load(pg, ((size_t)ov + 1) * m->ps, id, &p, &why) != 0)
                continue;
            for (unsigned i = 0; i + 1 < p.count; i++) {
                uint32_t f0, f1;
                bolt_val k0, k1;
                bolt__page_leaf_elem(&p, i, &f0, &k0, NULL);
                bolt__page_leaf_elem(&p, i + 1, &f1, &k1, NULL);
                if (k0.size != k1.size || (f0 | f1) & BOLT_LEAF_BUCKET || k0.size > 256)
                    continue;
                unsigned char tmp[256];
                unsigned char *a = img + ((const unsigned char *)k0.data - img);
                unsigned char *b = img + ((const unsigned char *)k1.data - img);
                memcpy(tmp, a, k0.size);
                memcpy(a, b, k0.size);
                memcpy(b, tmp, k0.size);
                *page = id;
                return 0;
            }
        }
        return -1;
    }
    case HM_TXID_MAX:
        hm_meta_set64(img, m->ps, m->cur, BOLT_META_TXID_OFF, UINT64_MAX);
        *page = (bolt_pgid)m->cur;
        return 0;
    default:
        (void)len;
        return -1;
    }
}

/*
 * A random structural mutation (seeded): one recorded pointer is pointed at
 * another page the tree uses (a leaf, another pointer's target, or the
 * page holding it). 0, or -1 when the image has no pointer.
 */
static HARNESS_UNUSED int hm_random(unsigned char *img, const hm_map *m, strata_rng *r)
{
    if (m->n == 0)
        return -1;
    const hm_ptr *a = &m->ptrs[strata_rng_below(r, m->n)];
    bolt_pgid to;
    switch (strata_rng_below(r, 4)) {
    case 0:
        to = m->nleaves ? m->leaves[strata_rng_below(r, m->nleaves)] : a->holder;
        break;
    case 1:
        to = m->ptrs[strata_rng_below(r, m->n)].value;
        break;
    case 2:
        to = a->holder;
        break;
    default:
        to = m->meta.root;
        break;
    }
    bolt__st64(img + a->off, to);
    return 0;
}

#endif
