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
 *      changed children's new first keys and one more element per extra
 *      piece of a child that splits (rule 5). If any piece breaks a limit
 *      of node_write_one, the whole group takes the node path instead
 *      (bolt__node_attach_at), which reports it.
 *   4. Else the group is written children first: each leaf packed
 *      (bolt__dpage_commit), each branch built in one pass from its
 *      committed page: its elements, each with its child's new page id and
 *      first key when that child was written and as committed otherwise,
 *      then the keys in element order, then zeros -- the image node_write
 *      writes, with node.c rule 3 (a branch key is its child's first key)
 *      for every rewritten child. Old pages are freed as pending (node.c
 *      rule 4). X's new id and first key replace its element in the
 *      materialized parent, which spills afterwards.
 *   5. A branch page that node.c rule 5 would split (more than 4 elements
 *      and a packed image of a page or more) is cut here, as node_split
 *      cuts the node the node path would make of it: bolt__split_point
 *      over its new elements, with the bucket's FillPercent and the marks
 *      node_put would have set (a piece of a child that splits lands at
 *      the end only after the last element; right_edge when that child's
 *      own marks say edge, mid_insert otherwise). Each piece is a page;
 *      the pieces after the first are new elements of the parent: one more
 *      element in its frame (planned like a leaf's pieces), or put into
 *      the materialized parent as node_write_one puts them, with the
 *      frame's marks as the edge. So a commit of random inserts under a
 *      deep tree materializes no branch below the bucket's root, while
 *      the pages written are the node path's.
 *   6. The plan's arrays (leaves, their sort, frames, kids, the elements'
 *      scratch) come from the db (bolt__dpage_keep, dirty.c rule 9) and
 *      stay there for the next commit: no fresh memory to fault in.
 *   7. The leaves are cold (a big commit's buffers are megabytes, each read
 *      a few times far apart): a leaf's first key is read once, when it is
 *      located, and kept in its sp_leaf (nothing edits the buffer after
 *      that); the locate pass asks for each buffer's header a few leaves
 *      ahead, and the plan and the write ask for the dirty page's fields
 *      and (writing) the buffer's header and first key a few leaves ahead
 *      (`ahead`). Each cut a cache miss per leaf and pass from B2-nosync.
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
    bolt_val first;     /* rule 7: d's first key (in d->buf, which no longer changes) */
    unsigned char *buf; /* rule 7: d->buf */
} sp_leaf;

/* A branch page of a group (rule 3). */
typedef struct sp_frame {
    bolt__page page; /* committed image */
    size_t count;    /* elements with the changes (a split below adds some) */
    size_t parent;   /* frame index, or NONE for the top */
    size_t kids, last_kid;
    size_t size;    /* packed size with the changes */
    bolt_val first; /* its first key (planned, then as written) */
    bolt_pgid new_id;
    /* node.c's marks, as node_put would set them for the elements a split below adds. */
    bool right_edge, mid_insert;
    /*
     * Rule 5: npieces > 1 when node.c rule 5 cuts it; then, in tx memory,
     * piece j holds new elements [cuts[j], cuts[j + 1]) of psize[j] bytes
     * with first key pfirst[j], written to page ids[j].
     */
    size_t npieces;
    uint32_t *cuts;
    size_t *psize;
    bolt_val *pfirst;
    bolt_pgid *ids;
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
    bolt_bucket *b;
    sp_leaf *leaves;
    size_t nleaves;
    sp_frame *frames;
    size_t nframes, capframes;
    sp_kid *kids;
    size_t nkids, capkids;
    size_t *order; /* frames in the order they closed (children first) */
    size_t norder;
    /* A frame's new elements (rule 5's cut, and the write): scratch of capelems. */
    bolt_val *ekeys;
    bolt_pgid *eids;
    size_t capelems;
} sp_state;

/* Key 0 of a dirty leaf (count >= 1): pos is relative to its element (dirty.c rule 1). */
static void leaf_first(const bolt_tx *tx, const bolt__dpage *d, bolt_val *k)
{
    (void)tx;
    const unsigned char *e = d->buf + BOLT_PAGE_HEADER_SIZE;
    k->data = e + bolt__ld32(e + BOLT_LEAF_POS_OFF);
    k->size = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
}

/*
 * Rule 7: ask for what leaf i's turn reads before it comes (the leaves are
 * cold: thousands of buffers a commit, each read a few times far apart):
 * its dirty page's fields, and when written its buffer's header and first
 * key, which the write and the branch above it read.
 */
#define AHEAD 6

static void ahead(const sp_state *s, size_t i, bool write)
{
    if (i >= s->nleaves)
        return;
    const sp_leaf *l = &s->leaves[i];
    const unsigned char *d = (const unsigned char *)l->d;
    __builtin_prefetch(d);
    __builtin_prefetch(d + 64);
    __builtin_prefetch(d + 128);
    __builtin_prefetch(d + sizeof *l->d - 1);
    if (write) {
        __builtin_prefetch(l->buf, 1); /* the header gets its new id */
        __builtin_prefetch(l->first.data);
        __builtin_prefetch(l->first.data - 1 + l->first.size);
    }
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
        bolt_db *db = s->tx->db; /* rule 6: arrays kept by the db */
        sp_frame *f = bolt__dpage_keep(db, BOLT_KEEP_FRAMES, cap, sizeof *f);
        size_t *o = bolt__dpage_keep(db, BOLT_KEEP_ORDER, cap, sizeof *o);
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
    f->npieces = 1;
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
        sp_kid *k = bolt__dpage_keep(s->tx->db, BOLT_KEEP_KIDS, cap, sizeof *k); /* rule 6 */
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
        *out = s->leaves[k->ref].first; /* rule 7 */
    else
        *out = s->frames[k->ref].first;
}

/* How many elements kid k becomes in its frame: 1, or its planned split's pieces. */
static size_t kid_pieces(const sp_state *s, const sp_kid *k)
{
    if (k->leaf) {
        const bolt__dpage *d = s->leaves[k->ref].d;
        return d->npieces > 0 ? d->npieces : 1;
    }
    return s->frames[k->ref].npieces;
}

/* The planned first key of kid k's piece j. */
static void kid_piece_first(const sp_state *s, const sp_kid *k, size_t j, bolt_val *out)
{
    if (j == 0)
        kid_first(s, k, out);
    else if (k->leaf)
        bolt__dpage_piece_first(s->leaves[k->ref].d, j, out); /* dirty.c rule 8 */
    else
        *out = s->frames[k->ref].pfirst[j];
}

/* node_put's edge for the elements kid k's split adds (a piece keeps its node's marks). */
static bool kid_edge(const sp_state *s, const sp_kid *k)
{
    if (k->leaf) {
        const bolt__dpage *d = s->leaves[k->ref].d;
        return d->right_edge && !d->mid_insert;
    }
    const sp_frame *f = &s->frames[k->ref];
    return f->right_edge && !f->mid_insert;
}

static int reserve_elems(sp_state *s, size_t n)
{
    if (n <= s->capelems)
        return 0;
    size_t cap = s->capelems ? s->capelems : 256;
    while (cap < n)
        cap *= 2;
    bolt_val *k = bolt__dpage_keep(s->tx->db, BOLT_KEEP_EKEYS, cap, sizeof *k); /* rule 6 */
    if (k != NULL)
        s->ekeys = k;
    bolt_pgid *i = bolt__dpage_keep(s->tx->db, BOLT_KEEP_EIDS, cap, sizeof *i);
    if (i != NULL)
        s->eids = i;
    if (k == NULL || i == NULL)
        return -ENOMEM;
    s->capelems = cap;
    return 0;
}

/*
 * Frame f's new elements in order into s->ekeys: each committed element,
 * or for a changed child the first key of each of its pieces (planned;
 * with_ids: as written, and their page ids into s->eids).
 */
static int frame_elems(sp_state *s, size_t f, bool with_ids)
{
    int rc = reserve_elems(s, s->frames[f].count);
    if (rc != 0)
        return rc;
    const sp_frame *fr = &s->frames[f];
    size_t k = fr->kids, out = 0;
    for (size_t i = 0; i < fr->page.count; i++) {
        if (k != NONE && s->kids[k].index == i) {
            const sp_kid *kid = &s->kids[k];
            size_t m = with_ids ? kid->nout : kid_pieces(s, kid);
            for (size_t j = 0; j < m; j++, out++) {
                if (out >= fr->count)
                    return BOLT_EPANIC;
                if (with_ids) {
                    s->ekeys[out] = kid->firsts[j];
                    s->eids[out] = kid->ids[j];
                } else {
                    kid_piece_first(s, kid, j, &s->ekeys[out]);
                }
            }
            k = kid->next;
            continue;
        }
        if (out >= fr->count)
            return BOLT_EPANIC;
        bolt_pgid id = bolt__page_branch_elem(&fr->page, (unsigned)i, &s->ekeys[out]);
        if (with_ids)
            s->eids[out] = id;
        out++;
    }
    return out == fr->count ? 0 : BOLT_EPANIC;
}

static size_t ekey_span(const void *arr, size_t i)
{
    const bolt_val *k = arr;
    return 16 + k[i].size;
}

/*
 * Rule 5: frame f would split (node.c rule 5): plan its pieces with
 * node_split's cut (bolt__split_point, the bucket's FillPercent, the marks
 * its new elements gave it). 0; 1 when a piece breaks a limit of
 * node_write_one (the group takes the node path, which reports it); an error.
 */
static int plan_frame_split(sp_state *s, size_t f)
{
    int rc = frame_elems(s, f, false);
    if (rc != 0)
        return rc;
    bolt_tx *tx = s->tx;
    sp_frame *fr = &s->frames[f];
    size_t ps = tx->db->page_size, n = fr->count;
    size_t t = bolt__split_threshold(s->b, fr->right_edge, fr->mid_insert);
    size_t cnt = 0;
    for (size_t start = 0; start < n; cnt++) {
        size_t len = bolt__split_point(s->ekeys, start, n - start, ekey_span, ps, t);
        if (len == 0)
            return BOLT_EPANIC; /* more than 4 elements always cut at >= 2 */
        start += len;
    }
    fr->cuts = bolt__tx_alloc(tx, (cnt + 1) * sizeof *fr->cuts);
    fr->psize = bolt__tx_alloc(tx, cnt * sizeof *fr->psize);
    fr->pfirst = bolt__tx_alloc(tx, cnt * sizeof *fr->pfirst);
    fr->ids = bolt__tx_alloc(tx, cnt * sizeof *fr->ids);
    if (fr->cuts == NULL || fr->psize == NULL || fr->pfirst == NULL || fr->ids == NULL)
        return -ENOMEM;
    size_t start = 0;
    for (size_t j = 0; j < cnt; j++) {
        size_t len = bolt__split_point(s->ekeys, start, n - start, ekey_span, ps, t);
        size_t size = BOLT_PAGE_HEADER_SIZE;
        for (size_t i = start; i < start + len; i++)
            size += ekey_span(s->ekeys, i);
        if (size - BOLT_PAGE_HEADER_SIZE > BOLT_MAX_ELEM_SPAN || len >= 0xFFFF)
            return 1;
        fr->cuts[j] = (uint32_t)start;
        fr->psize[j] = size;
        fr->pfirst[j] = s->ekeys[start];
        start += len;
    }
    fr->cuts[cnt] = (uint32_t)n;
    fr->npieces = cnt;
    fr->first = fr->pfirst[0];
    return 0;
}

/*
 * Close frame f (all its kids known): its element count, packed size, first
 * key and marks with the changes, and (rule 5) its pieces when it would
 * split. *fits becomes false when node.c would refuse it (rule 3).
 */
static int close_frame(sp_state *s, size_t f, bool *fits)
{
    sp_frame *fr = &s->frames[f];
    size_t ps = s->tx->db->page_size;
    size_t n = fr->page.count;
    size_t size = BOLT_PAGE_HEADER_SIZE + 16 * n;
    /* The element array's key sizes, read inline (a call per element was ~1% of B2-nosync). */
    const unsigned char *e = fr->page.data + BOLT_PAGE_HEADER_SIZE;
    for (size_t i = 0; i < n; i++, e += 16)
        size += bolt__ld32(e + BOLT_BRANCH_KSIZE_OFF);
    bolt__page_branch_elem(&fr->page, 0, &fr->first);
    size_t count = n;
    for (size_t k = fr->kids; k != NONE; k = s->kids[k].next) {
        const sp_kid *kid = &s->kids[k];
        bolt_val old, nk;
        bolt__page_branch_elem(&fr->page, kid->index, &old);
        kid_first(s, kid, &nk);
        size = size - old.size + nk.size;
        if (kid->index == 0)
            fr->first = nk;
        size_t m = kid_pieces(s, kid);
        for (size_t j = 1; j < m; j++) {
            bolt_val pk;
            kid_piece_first(s, kid, j, &pk); /* one element per piece */
            size += 16 + pk.size;
            count++;
        }
        /* node_put's marks: a piece lands at the end only after the last element. */
        if (m > 1 && kid_edge(s, kid) && kid->index + 1 == n)
            fr->right_edge = true;
        else if (m > 1)
            fr->mid_insert = true;
    }
    fr->size = size;
    fr->count = count;
    s->order[s->norder++] = f;
    if (count > 4 && size >= ps) {
        int rc = plan_frame_split(s, f); /* rule 5 */
        if (rc == 1)
            *fits = false;
        return rc == 1 ? 0 : rc;
    }
    if (size - BOLT_PAGE_HEADER_SIZE > BOLT_MAX_ELEM_SPAN || count >= 0xFFFF)
        *fits = false;
    return 0;
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
        ahead(s, e + AHEAD, false); /* rule 7 */
        const bolt__dpage *d = s->leaves[e].d;
        size_t top = s->leaves[e].top;
        size_t k = 0;
        while (k < sd && top + k < d->depth && s->frames[stack[k]].page.id == d->path_id[top + k])
            k++;
        if (k == 0 && sd > 0)
            return BOLT_EPANIC; /* one group, one top */
        while (sd > k) {
            int rc = close_frame(s, stack[--sd], &fits);
            if (rc != 0)
                return rc;
        }
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
    while (sd > 0) {
        int rc = close_frame(s, stack[--sd], &fits);
        if (rc != 0)
            return rc;
    }
    *ok = fits;
    return 0;
}

/*
 * Write leaf d (its old page freed as pending): one page, or the pieces of
 * its planned split (dirty.c rule 8): 0 with *nout pages in *ids and their
 * first keys in *firsts (tx memory).
 */
static int write_leaf(bolt_tx *tx, const sp_leaf *l, size_t *nout, bolt_pgid **ids,
                      bolt_val **firsts)
{
    bolt__dpage *d = l->d;
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
        (*firsts)[0] = l->first; /* rule 7: the buffer adopted is the one planned */
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

/*
 * One branch page of the new elements [start, end) of s->ekeys/s->eids,
 * size bytes packed (planned): the image node_write writes. 0 with its id
 * and first key.
 */
static int write_branch(sp_state *s, size_t start, size_t end, size_t size, bolt_pgid *id,
                        bolt_val *first)
{
    bolt_tx *tx = s->tx;
    size_t ps = tx->db->page_size;
    size_t npages = (size + ps - 1) / ps;
    unsigned char *buf;
    int rc;
    size_t zend = 0;
    if (npages == 1) {
        buf = bolt__dpage_buf_get(tx->db, &zend);
        if (buf == NULL)
            return -ENOMEM;
        /* dirty.c rule 7: zero from the larger end on, whatever happens next. */
        rc = bolt__dpage_retire(tx, buf, zend > size ? zend : size);
        if (rc != 0) {
            strata_free(buf);
            return rc;
        }
        memset(buf, 0, BOLT_PAGE_HEADER_SIZE);
        tx->alloc_short = true; /* tx.c rule 9: a branch is rewritten by most commits */
        rc = bolt__tx_adopt(tx, buf, id);
    } else {
        tx->alloc_short = true;
        rc = bolt__tx_allocate(tx, npages, id, &buf);
    }
    tx->alloc_short = false;
    if (rc != 0)
        return rc;
    size_t n = end - start;
    bolt__st16(buf + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_BRANCH);
    bolt__st16(buf + BOLT_PAGE_COUNT_OFF, (uint16_t)n);
    size_t data = BOLT_PAGE_HEADER_SIZE + 16 * n;
    for (size_t out = 0; out < n; out++) {
        const bolt_val *k = &s->ekeys[start + out];
        unsigned char *e = buf + BOLT_PAGE_HEADER_SIZE + 16 * out;
        if (data + k->size > size)
            return BOLT_EPANIC; /* the plan counted every byte */
        bolt__st32(e + BOLT_BRANCH_POS_OFF, (uint32_t)(data - (BOLT_PAGE_HEADER_SIZE + 16 * out)));
        bolt__st32(e + BOLT_BRANCH_KSIZE_OFF, (uint32_t)k->size);
        bolt__st64(e + BOLT_BRANCH_PGID_OFF, s->eids[start + out]);
        memcpy(buf + data, k->data, k->size);
        data += k->size;
    }
    if (data != size)
        return BOLT_EPANIC; /* the plan counted every byte */
    if (npages == 1 && zend > data)
        memset(buf + data, 0, zend - data); /* dirty.c rule 7: zero from zend on already */
    bolt__page p;
    bolt__page_fill(buf, npages * ps, *id, &p);
    bolt__page_branch_elem(&p, 0, first);
    return 0;
}

/* Rule 4 for one frame: its kids are written (leaves now), then the frame, by pieces (rule 5). */
static int write_frame(sp_state *s, size_t f)
{
    bolt_tx *tx = s->tx;
    for (size_t k = s->frames[f].kids; k != NONE; k = s->kids[k].next) {
        sp_kid *kid = &s->kids[k];
        if (kid->leaf) {
            ahead(s, kid->ref + AHEAD, true); /* rule 7 */
            int rc = write_leaf(tx, &s->leaves[kid->ref], &kid->nout, &kid->ids, &kid->firsts);
            if (rc != 0)
                return rc;
        } else {
            /* Written before f (children close first); frames no longer move. */
            sp_frame *kf = &s->frames[kid->ref];
            kid->nout = kf->npieces;
            kid->ids = kf->npieces > 1 ? kf->ids : &kf->new_id;
            kid->firsts = kf->npieces > 1 ? kf->pfirst : &kf->first;
        }
    }
    int rc = frame_elems(s, f, true);
    if (rc != 0)
        return rc;
    sp_frame *fr = &s->frames[f];
    if (fr->npieces == 1) {
        rc = write_branch(s, 0, fr->count, fr->size, &fr->new_id, &fr->first);
    } else {
        for (size_t j = 0; j < fr->npieces && rc == 0; j++)
            rc = write_branch(s, fr->cuts[j], fr->cuts[j + 1], fr->psize[j], &fr->ids[j],
                              &fr->pfirst[j]);
        fr->first = fr->pfirst[0];
        tx->stats.split += fr->npieces - 1;
    }
    if (rc != 0)
        return rc;
    rc = bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, fr->page.id, fr->page.overflow,
                                 false);
    if (rc != 0)
        return rc;
    tx->stats.spill += fr->npieces;
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
        int rc = write_leaf(s->tx, g, &m, &ids, &firsts);
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
    if (top->npieces == 1)
        return name_in_parent(g, top->first, top->new_id);
    /* Rule 5: the top split; its other pieces are new elements, as node_write_one puts them. */
    rc = name_in_parent(g, top->pfirst[0], top->ids[0]);
    bool edge = top->right_edge && !top->mid_insert;
    for (size_t j = 1; j < top->npieces && rc == 0; j++)
        rc = bolt__node_put(g->parent, top->pfirst[j].data, top->pfirst[j].size,
                            top->pfirst[j].data, top->pfirst[j].size, NULL, 0, top->ids[j], 0, NULL,
                            edge);
    return rc;
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
    path_key *a = bolt__dpage_keep(s->tx->db, BOLT_KEEP_PATHS, 2 * n, sizeof *a); /* rule 6 */
    sp_leaf *out = bolt__dpage_keep(s->tx->db, BOLT_KEEP_SORTED, n, sizeof *out);
    if (a == NULL || out == NULL)
        return -ENOMEM;
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
    sp_state s = { .tx = b->tx, .b = b };
    s.leaves = bolt__dpage_keep(b->tx->db, BOLT_KEEP_LEAVES, n, sizeof *s.leaves); /* rule 6 */
    if (s.leaves == NULL)
        return -ENOMEM;
    int rc = 0;
    for (bolt__dpage *d = b->dpages; d != NULL; d = d->bnext)
        if (!d->converted && d->node == NULL && !d->packed)
            s.leaves[s.nleaves++].d = d;
    /* Rule 7: each buffer's header (count, element 0) asked for a few leaves ahead. */
    for (size_t i = 0; i < AHEAD && i < n; i++)
        __builtin_prefetch(s.leaves[i].d->buf);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(s.leaves[i + AHEAD].d->buf);
        bolt__dpage *d = s.leaves[i].d;
        d->npieces = 0;
        if (!bolt__dpage_fits(b->tx, d))
            rc = bolt__dpage_plan_split(b->tx, d); /* dirty.c rule 8 */
        if (rc == 0)
            rc = locate(b, d, &s.leaves[i]);
        if (rc == 0) {
            leaf_first(b->tx, d, &s.leaves[i].first);
            s.leaves[i].buf = d->buf;
        }
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
    return rc; /* rule 6: the arrays stay with the db */
}
