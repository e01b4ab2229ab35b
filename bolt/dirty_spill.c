/*
 * dirty_spill.c: commit of the page-mode parts of a bucket's tree (issue 18
 * stage 3): dirty leaves still in page mode (dirty.c) and the branch pages
 * above them are written without nodes; no branch on their paths below the
 * first materialized node is decoded into inodes or rebuilt from them.
 *
 * Rules:
 *   1. It runs in the bucket's spill, before the bucket's node tree spills:
 *      after rebalance and after every bucket value was stored in the
 *      bucket, so nothing changes these pages afterwards. It writes the
 *      dirty leaves that are neither attached (dirty.c rule 6: rebalance
 *      needed only the leaves that may merge) nor converted into nodes.
 *   2. Each such leaf is located from the bucket's root node by its first
 *      key, through materialized nodes only. Rebalance may have merged or
 *      moved nodes, so the recorded index path can be stale down to the
 *      first page that is not a node, but key ranges are not: a leaf's
 *      first key selects the same child at every level as when the leaf
 *      was touched (its keys are >= separator i and < separator i + 1, or
 *      below separator 0 in child 0 only). Below the first page that is
 *      not a node nothing changed since the touch, so the recorded path
 *      (indices and page ids, each checked against its page) holds there.
 *   3. A leaf directly under a node is written and named in that node. The
 *      leaves below one page X that is not a node (the group's top) are
 *      taken together, in key order (sorted by path, sort_leaves). First planned: each
 *      branch page on their paths, from its committed image, with its
 *      changed children's new first keys. If any would be split by node.c
 *      rule 5 (more than 4 elements and a packed image of a page or more)
 *      or breaks a limit of node_write_one, the whole group takes the node
 *      path instead (bolt__node_attach_at), so bbolt's split rule and
 *      FillPercent decide exactly as before.
 *   4. Else the group is written children first: each leaf packed
 *      (bolt__dpage_commit), each branch built in one pass from its
 *      committed page: its elements, each with its child's new page id and
 *      first key when that child was written and as committed otherwise,
 *      then the keys in element order, then zeros -- the image node_write
 *      writes, with node.c rule 3 (a branch key is its child's first key)
 *      for every rewritten child. Old pages are freed as pending (node.c
 *      rule 4). X's new id and first key replace its element in the
 *      materialized parent, which spills afterwards.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "bolt_int.h"

#define NONE SIZE_MAX

/* A leaf to write, and where it hangs (rule 2). */
typedef struct sp_leaf {
    bolt__dpage *d;
    /* The sort key, copied here so the sort touches no dirty page (see leaf_cmp). */
    bolt_pgid parent_id;
    uint8_t depth;
    uint16_t path[BOLT_DPAGE_PATH];
    bolt__node *parent; /* the materialized node above its top */
    size_t pi;          /* the top's element in parent, when located */
    bolt_val sep;       /* its key there: pi moves when a split before it adds elements */
    size_t top;         /* the top's level in d's path (d->depth: d itself) */
} sp_leaf;

/* A branch page of a group (rule 3). */
typedef struct sp_frame {
    bolt__page page; /* committed image */
    size_t count;    /* elements with the changes (a leaf split adds some) */
    size_t parent;   /* frame index, or NONE for the top */
    size_t kids, last_kid;
    size_t size;    /* packed size with the changes */
    bolt_val first; /* its first key once written */
    bolt_pgid new_id;
} sp_frame;

/* A changed child of a frame; a frame's kids are in element order. */
typedef struct sp_kid {
    uint32_t index; /* element in the parent frame */
    bool leaf;
    size_t ref;  /* leaf: index in the leaves; else frame index */
    size_t next; /* the frame's next kid, or NONE */
    bolt_pgid new_id;
    /* Once written: the pages it became (a split leaf: several) and their first keys. */
    size_t nout;
    bolt_pgid *ids;
    bolt_val *firsts;
} sp_kid;

typedef struct sp_state {
    bolt_tx *tx;
    sp_leaf *leaves;
    size_t nleaves;
    sp_frame *frames;
    size_t nframes, capframes;
    sp_kid *kids;
    size_t nkids, capkids;
    size_t *order; /* frames in the order they closed (children first) */
    size_t norder;
} sp_state;

/* Key 0 of a dirty leaf (count >= 1): pos is relative to its element (dirty.c rule 1). */
static void leaf_first(const bolt_tx *tx, const bolt__dpage *d, bolt_val *k)
{
    (void)tx;
    const unsigned char *e = d->buf + BOLT_PAGE_HEADER_SIZE;
    k->data = e + bolt__ld32(e + BOLT_LEAF_POS_OFF);
    k->size = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
}

static int leaf_cmp(const void *a, const void *b)
{
    const sp_leaf *x = a, *y = b;
    /* Live nodes have distinct page ids (rebalance makes no new node). */
    if (x->parent_id != y->parent_id)
        return x->parent_id < y->parent_id ? -1 : 1;
    if (x->pi != y->pi)
        return x->pi < y->pi ? -1 : 1;
    if (x->top != y->top)
        return x->top < y->top ? -1 : 1;
    size_t n = x->depth < y->depth ? x->depth : y->depth;
    for (size_t l = x->top; l < n; l++)
        if (x->path[l] != y->path[l])
            return x->path[l] < y->path[l] ? -1 : 1;
    return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* Fill out once d is found under node n, element i (rule 2). */
static int found(bolt__dpage *d, bolt__node *n, size_t i, sp_leaf *out)
{
    const bolt__inode *in = &n->inodes[i];
    out->d = d;
    out->parent = n;
    out->parent_id = n->pgid;
    out->depth = d->depth;
    memcpy(out->path, d->path, sizeof out->path);
    out->pi = i;
    out->sep.data = in->key;
    out->sep.size = in->ksize;
    if (in->pgid == d->id) {
        out->top = d->depth;
        return 0;
    }
    for (size_t l = 1; l < d->depth; l++) {
        if (d->path_id[l] == in->pgid) {
            out->top = l;
            return 0;
        }
    }
    return BOLT_EPANIC; /* the leaf is not below this page: a branch changed */
}

/*
 * The fast way of rule 2: the recorded path through the nodes, each step
 * confirmed by the page id it leads to (ids are unique in the tree, so a
 * confirmed step is the step the key would take). 1: a node on the path
 * changed (rebalance): search by key instead.
 */
static int locate_by_path(bolt_bucket *b, bolt__dpage *d, sp_leaf *out)
{
    bolt__node *n = b->root_node;
    for (size_t l = 0; l < d->depth; l++) {
        size_t i = d->path[l];
        bolt_pgid want = l + 1 < d->depth ? d->path_id[l + 1] : d->id;
        if (n->leaf || n->dead || i >= n->n || n->inodes[i].pgid != want)
            return 1;
        if (n->inodes[i].child == NULL)
            return found(d, n, i, out);
        n = n->inodes[i].child;
    }
    return 1;
}

/* Rule 2: where leaf d hangs below b's materialized nodes. */
static int locate(bolt_bucket *b, bolt__dpage *d, sp_leaf *out)
{
    if (bolt__dpage_count(d) == 0)
        return BOLT_EPANIC; /* an empty leaf was attached for rebalance */
    bolt__node *n = b->root_node;
    if (n == NULL || n->pgid != d->path_id[0])
        return BOLT_EPANIC; /* the root was materialized before rebalance */
    if (locate_by_path(b, d, out) == 0)
        return 0;
    bolt_val k;
    leaf_first(b->tx, d, &k);
    for (;;) {
        if (n->leaf || n->n == 0)
            return BOLT_EPANIC;
        bool exact;
        size_t i = bolt__node_search(n, k.data, k.size, &exact);
        if (!exact && i > 0)
            i--;
        const bolt__inode *in = &n->inodes[i];
        if (in->child != NULL) {
            n = in->child;
            continue;
        }
        return found(d, n, i, out);
    }
}

static int new_frame(sp_state *s, size_t *out)
{
    if (s->nframes == s->capframes) {
        size_t cap = s->capframes ? s->capframes * 2 : 16;
        sp_frame *f = strata_realloc(s->frames, cap * sizeof *f);
        size_t *o = strata_realloc(s->order, cap * sizeof *o);
        if (f != NULL)
            s->frames = f;
        if (o != NULL)
            s->order = o;
        if (f == NULL || o == NULL)
            return -ENOMEM;
        s->capframes = cap;
    }
    sp_frame *f = &s->frames[s->nframes];
    memset(f, 0, sizeof *f);
    f->parent = NONE;
    f->kids = f->last_kid = NONE;
    *out = s->nframes++;
    return 0;
}

/* A changed child of frame f at element index; it must name page id there. */
static int add_kid(sp_state *s, size_t f, size_t index, bool leaf, size_t ref, bolt_pgid id)
{
    sp_frame *fr = &s->frames[f];
    if (index >= fr->page.count || bolt__page_branch_elem(&fr->page, (unsigned)index, NULL) != id)
        return BOLT_EPANIC; /* the recorded path does not hold below the top */
    if (fr->last_kid != NONE && s->kids[fr->last_kid].index >= index)
        return BOLT_EPANIC; /* kids come in element order (sorted leaves) */
    if (s->nkids == s->capkids) {
        size_t cap = s->capkids ? s->capkids * 2 : 64;
        sp_kid *k = strata_realloc(s->kids, cap * sizeof *k);
        if (k == NULL)
            return -ENOMEM;
        s->kids = k;
        s->capkids = cap;
    }
    size_t k = s->nkids++;
    s->kids[k] = (sp_kid){ (uint32_t)index, leaf, ref, NONE, 0, 0, NULL, NULL };
    if (fr->last_kid == NONE)
        fr->kids = k;
    else
        s->kids[fr->last_kid].next = k;
    fr->last_kid = k;
    return 0;
}

/* The first key kid k will have (planned: the leaf's, or its frame's). */
static void kid_first(const sp_state *s, const sp_kid *k, bolt_val *out)
{
    if (k->leaf)
        leaf_first(s->tx, s->leaves[k->ref].d, out);
    else
        *out = s->frames[k->ref].first;
}

/*
 * Close frame f (all its kids known): its packed size and first key with
 * the changes; false when node.c would split it or refuse it (rule 3).
 */
static bool close_frame(sp_state *s, size_t f)
{
    sp_frame *fr = &s->frames[f];
    size_t ps = s->tx->db->page_size;
    size_t n = fr->page.count;
    size_t size = BOLT_PAGE_HEADER_SIZE + 16 * n;
    for (size_t i = 0; i < n; i++) {
        bolt_val k;
        bolt__page_branch_elem(&fr->page, (unsigned)i, &k);
        size += k.size;
    }
    bolt__page_branch_elem(&fr->page, 0, &fr->first);
    size_t count = n;
    for (size_t k = fr->kids; k != NONE; k = s->kids[k].next) {
        bolt_val old, nk;
        bolt__page_branch_elem(&fr->page, s->kids[k].index, &old);
        kid_first(s, &s->kids[k], &nk);
        size = size - old.size + nk.size;
        if (s->kids[k].index == 0)
            fr->first = nk;
        const bolt__dpage *d = s->kids[k].leaf ? s->leaves[s->kids[k].ref].d : NULL;
        for (size_t j = 1; d != NULL && j < d->npieces; j++) {
            bolt_val pk;
            bolt__dpage_piece_first(d, j, &pk); /* dirty.c rule 8: one element per piece */
            size += 16 + pk.size;
            count++;
        }
    }
    fr->size = size;
    fr->count = count;
    n = count;
    s->order[s->norder++] = f;
    if (n > 4 && size >= ps)
        return false; /* node.c rule 5 would split it */
    return size - BOLT_PAGE_HEADER_SIZE <= BOLT_MAX_ELEM_SPAN && n < 0xFFFF;
}

/* Rule 3's plan of the group leaves[gs, ge): false when it takes the node path. */
static int plan_group(sp_state *s, size_t gs, size_t ge, bool *ok)
{
    bolt_tx *tx = s->tx;
    size_t stack[BOLT_DPAGE_PATH];
    size_t sd = 0;
    bool fits = true;
    s->nframes = s->nkids = s->norder = 0;
    for (size_t e = gs; e < ge; e++) {
        const bolt__dpage *d = s->leaves[e].d;
        size_t top = s->leaves[e].top;
        size_t k = 0;
        while (k < sd && top + k < d->depth && s->frames[stack[k]].page.id == d->path_id[top + k])
            k++;
        if (k == 0 && sd > 0)
            return BOLT_EPANIC; /* one group, one top */
        while (sd > k)
            fits = close_frame(s, stack[--sd]) && fits;
        for (size_t lev = top + sd; lev < d->depth; lev++) {
            size_t f;
            int rc = new_frame(s, &f);
            if (rc != 0)
                return rc;
            rc = bolt__tx_page(tx, d->path_id[lev], &s->frames[f].page);
            if (rc != 0)
                return rc;
            if (bolt__page_is_leaf(&s->frames[f].page))
                return BOLT_EPANIC; /* the path was recorded through branches */
            if (sd > 0) {
                s->frames[f].parent = stack[sd - 1];
                rc = add_kid(s, stack[sd - 1], d->path[lev - 1], false, f, d->path_id[lev]);
                if (rc != 0)
                    return rc;
            }
            stack[sd++] = f;
        }
        if (sd == 0)
            return BOLT_EPANIC;
        int rc = add_kid(s, stack[sd - 1], d->path[d->depth - 1], true, e, d->id);
        if (rc != 0)
            return rc;
    }
    while (sd > 0)
        fits = close_frame(s, stack[--sd]) && fits;
    *ok = fits;
    return 0;
}

/*
 * Write leaf d (its old page freed as pending): one page, or the pieces of
 * its planned split (dirty.c rule 8): 0 with *nout pages in *ids and their
 * first keys in *firsts (tx memory).
 */
static int write_leaf(bolt_tx *tx, bolt__dpage *d, size_t *nout, bolt_pgid **ids, bolt_val **firsts)
{
    size_t n = d->npieces > 0 ? d->npieces : 1;
    *ids = bolt__tx_alloc(tx, n * sizeof **ids);
    *firsts = bolt__tx_alloc(tx, n * sizeof **firsts);
    if (*ids == NULL || *firsts == NULL)
        return -ENOMEM;
    int rc = bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, d->id, 0, false);
    if (rc != 0)
        return rc;
    if (d->npieces == 0) {
        rc = bolt__dpage_commit(tx, d, &(*ids)[0]);
        if (rc != 0)
            return rc;
        leaf_first(tx, d, &(*firsts)[0]);
    } else {
        for (size_t j = 0; j < n; j++) {
            rc = bolt__dpage_commit_piece(tx, d, j, &(*ids)[j], &(*firsts)[j]);
            if (rc != 0)
                return rc;
        }
        tx->stats.split += n - 1;
    }
    tx->stats.spill += n;
    *nout = n;
    return 0;
}

/* Rule 4 for one frame: its kids are written (leaves now), then the frame. */
static int write_frame(sp_state *s, size_t f)
{
    bolt_tx *tx = s->tx;
    size_t ps = tx->db->page_size;
    for (size_t k = s->frames[f].kids; k != NONE; k = s->kids[k].next) {
        sp_kid *kid = &s->kids[k];
        if (kid->leaf) {
            int rc = write_leaf(tx, s->leaves[kid->ref].d, &kid->nout, &kid->ids, &kid->firsts);
            if (rc != 0)
                return rc;
        } else {
            kid->new_id = s->frames[kid->ref].new_id;
            kid->nout = 1;
            kid->ids = &kid->new_id;
            kid->firsts = &s->frames[kid->ref].first;
        }
    }
    sp_frame *fr = &s->frames[f];
    size_t npages = (fr->size + ps - 1) / ps;
    unsigned char *buf;
    bolt_pgid id;
    int rc;
    if (npages == 1) {
        buf = bolt__dpage_buf_get(tx->db);
        if (buf == NULL)
            return -ENOMEM;
        rc = bolt__dpage_retire(tx, buf);
        if (rc != 0) {
            strata_free(buf);
            return rc;
        }
        memset(buf, 0, BOLT_PAGE_HEADER_SIZE);
        tx->alloc_short = true; /* tx.c rule 9: a branch is rewritten by most commits */
        rc = bolt__tx_adopt(tx, buf, &id);
    } else {
        tx->alloc_short = true;
        rc = bolt__tx_allocate(tx, npages, &id, &buf);
    }
    tx->alloc_short = false;
    if (rc != 0)
        return rc;
    size_t n = fr->count;
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_BRANCH);
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    size_t data = BOLT_PAGE_HEADER_SIZE + 16 * n;
    size_t k = fr->kids, out = 0;
    /* Loop invariant: elements [0, out) are written, from committed elements [0, i). */
    for (size_t i = 0; i < fr->page.count; i++) {
        bolt_val one;
        bolt_pgid one_id;
        const bolt_val *keys = &one;
        const bolt_pgid *ids = &one_id;
        size_t m = 1;
        if (k != NONE && s->kids[k].index == i) {
            keys = s->kids[k].firsts;
            ids = s->kids[k].ids;
            m = s->kids[k].nout;
            k = s->kids[k].next;
        } else {
            one_id = bolt__page_branch_elem(&fr->page, (unsigned)i, &one);
        }
        for (size_t j = 0; j < m; j++, out++) {
            if (out >= n)
                return BOLT_EPANIC;
            unsigned char *e = buf + BOLT_PAGE_HEADER_SIZE + 16 * out;
            bolt__st32(e + BOLT_BRANCH_POS_OFF,
                       (uint32_t)(data - (BOLT_PAGE_HEADER_SIZE + 16 * out)));
            bolt__st32(e + BOLT_BRANCH_KSIZE_OFF, (uint32_t)keys[j].size);
            bolt__st64(e + BOLT_BRANCH_PGID_OFF, ids[j]);
            memcpy(buf + data, keys[j].data, keys[j].size);
            data += keys[j].size;
        }
    }
    if (out != n)
        return BOLT_EPANIC;
    if (data != fr->size)
        return BOLT_EPANIC; /* the plan counted every byte */
    if (npages == 1)
        memset(buf + data, 0, ps - data);
    rc = bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, fr->page.id, fr->page.overflow,
                                 false);
    if (rc != 0)
        return rc;
    tx->stats.spill++;
    fr->new_id = id;
    bolt__page p;
    bolt__page_fill(buf, npages * ps, id, &p);
    bolt__page_branch_elem(&p, 0, &fr->first);
    return 0;
}

/* Name the top's new page and first key in its materialized parent (found by its key). */
static int name_in_parent(const sp_leaf *g, bolt_val first, bolt_pgid id)
{
    return bolt__node_put(g->parent, g->sep.data, g->sep.size, first.data, first.size, NULL, 0, id,
                          0, NULL, false);
}

/* The top's element in its parent now (a split leaf before it may have added elements). */
static int top_index(const sp_leaf *g, size_t *i)
{
    bool exact;
    *i = bolt__node_search(g->parent, g->sep.data, g->sep.size, &exact);
    return exact ? 0 : BOLT_EPANIC;
}

static int spill_group(sp_state *s, size_t gs, size_t ge)
{
    sp_leaf *g = &s->leaves[gs];
    if (g->top == g->d->depth) {
        /* A leaf directly under a node (one per element: one per group). */
        if (ge - gs != 1)
            return BOLT_EPANIC;
        size_t m;
        bolt_pgid *ids;
        bolt_val *firsts;
        int rc = write_leaf(s->tx, g->d, &m, &ids, &firsts);
        if (rc == 0)
            rc = name_in_parent(g, firsts[0], ids[0]);
        /* The other pieces are new elements, as node_write_one puts them. */
        bool edge = g->d->right_edge && !g->d->mid_insert;
        for (size_t j = 1; j < m && rc == 0; j++)
            rc = bolt__node_put(g->parent, firsts[j].data, firsts[j].size, firsts[j].data,
                                firsts[j].size, NULL, 0, ids[j], 0, NULL, edge);
        return rc;
    }
    bool ok;
    int rc = plan_group(s, gs, ge, &ok);
    if (rc != 0)
        return rc;
    if (!ok) {
        /* Rule 3: a branch would split: the node path for the whole group. */
        size_t i;
        rc = top_index(g, &i);
        for (size_t e = gs; e < ge && rc == 0; e++)
            rc = bolt__node_attach_at(g->parent, i, s->leaves[e].d, s->leaves[e].top);
        return rc;
    }
    for (size_t i = 0; i < s->norder && rc == 0; i++)
        rc = write_frame(s, s->order[i]);
    if (rc != 0)
        return rc;
    const sp_frame *top = &s->frames[s->order[s->norder - 1]];
    if (top->parent != NONE)
        return BOLT_EPANIC;
    return name_in_parent(g, top->first, top->new_id);
}

/*
 * Rule 3's order of the leaves. When every recorded path fits 64 bits (at
 * most PATH_KEY_LEVELS levels, indices below 2^16), the leaves are put in
 * key order by a radix sort of their paths: branches do not change before
 * commit, so the paths recorded at touch are positions in one tree, whose
 * lexicographic order is key order, and the leaves below one top page form
 * one run in key order (a page covers one key range), in element order.
 * Else qsort with leaf_cmp. The radix sort touches no dirty page and costs
 * a few passes over 16-byte pairs instead of ~13 compares per leaf.
 */
#define PATH_KEY_LEVELS 4

typedef struct path_key {
    uint64_t key;
    size_t i;
} path_key;

static int sort_leaves(sp_state *s)
{
    size_t n = s->nleaves;
    if (n < 2)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s->leaves[i].depth > PATH_KEY_LEVELS) {
            qsort(s->leaves, n, sizeof *s->leaves, leaf_cmp);
            return 0;
        }
    path_key *a = strata_malloc(2 * n * sizeof *a);
    sp_leaf *out = strata_malloc(n * sizeof *out);
    if (a == NULL || out == NULL) {
        strata_free(a);
        strata_free(out);
        return -ENOMEM;
    }
    path_key *b = a + n;
    uint64_t all_or = 0, all_and = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = 0;
        for (size_t l = 0; l < PATH_KEY_LEVELS; l++)
            k = k << 16 | (l < s->leaves[i].depth ? s->leaves[i].path[l] : 0);
        a[i] = (path_key){ k, i };
        all_or |= k;
        all_and &= k;
    }
    /* LSD, a byte a pass; a byte equal in every key orders nothing and is skipped. */
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (((all_or ^ all_and) >> shift & 0xFF) == 0)
            continue;
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[(a[i].key >> shift & 0xFF) + 1]++;
        for (size_t d = 1; d < 257; d++)
            count[d] += count[d - 1];
        for (size_t i = 0; i < n; i++)
            b[count[a[i].key >> shift & 0xFF]++] = a[i];
        path_key *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = s->leaves[a[i].i];
    memcpy(s->leaves, out, n * sizeof *out);
    strata_free(a < b ? a : b);
    strata_free(out);
    return 0;
}

int bolt__dpage_spill_bucket(bolt_bucket *b)
{
    size_t n = 0;
    for (bolt__dpage *d = b->dpages; d != NULL; d = d->bnext)
        if (!d->converted && d->node == NULL && !d->packed)
            n++;
    if (n == 0)
        return 0;
    sp_state s = { .tx = b->tx };
    s.leaves = strata_malloc(n * sizeof *s.leaves);
    if (s.leaves == NULL)
        return -ENOMEM;
    int rc = 0;
    for (bolt__dpage *d = b->dpages; d != NULL && rc == 0; d = d->bnext) {
        if (d->converted || d->node != NULL || d->packed)
            continue;
        d->npieces = 0;
        if (!bolt__dpage_fits(b->tx, d))
            rc = bolt__dpage_plan_split(b->tx, d); /* dirty.c rule 8 */
        if (rc == 0)
            rc = locate(b, d, &s.leaves[s.nleaves++]);
    }
    if (rc == 0)
        rc = sort_leaves(&s);
    if (rc == 0) {
        for (size_t gs = 0, ge; gs < s.nleaves && rc == 0; gs = ge) {
            const sp_leaf *g = &s.leaves[gs];
            for (ge = gs + 1; ge < s.nleaves && s.leaves[ge].parent == g->parent &&
                              s.leaves[ge].pi == g->pi && s.leaves[ge].top == g->top;
                 ge++)
                ;
            rc = spill_group(&s, gs, ge);
        }
    }
    strata_free(s.leaves);
    strata_free(s.frames);
    strata_free(s.kids);
    strata_free(s.order);
    return rc;
}
