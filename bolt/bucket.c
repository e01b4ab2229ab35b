/*
 * bucket.c: buckets (docs/format.md §6): get/put/delete of keys, nested and
 * inline buckets, sequences, and the per-commit spill that decides each
 * touched bucket's representation.
 *
 * Rules:
 *   1. Keys and bucket names share one key space per bucket; a bucket
 *      element has leaf flag 0x01 and a value that starts with the 16-byte
 *      bucket header (root, sequence).
 *   2. Handles are cached per parent (children[]) so every change made
 *      through any handle of a bucket is seen at spill; a deleted bucket's
 *      handles are marked deleted and refuse every call.
 *   3. A bucket is touched when its root node is materialized. At commit a
 *      touched bucket is written inline iff its root is a leaf without
 *      bucket elements whose image is <= page_size / 4; otherwise it gets
 *      pages. Untouched buckets keep their representation. An inline
 *      bucket therefore never holds a nested bucket.
 *   4. Inputs are copied into the tx arena before anything changes, so a
 *      failed call leaves the bucket as it was.
 *   5. Walks over nested buckets (delete, spill) keep their stack on the
 *      heap, never in C recursion: BOLT_MAX_NESTING levels run on a small
 *      thread stack (512 KiB is tested).
 *   6. The write hint: after a put or delete edits a dirty leaf in place
 *      (dirty.c), the handle keeps that leaf and the branch refs of the
 *      search that found it (at most BOLT_HINT_LEVELS). The next put or
 *      delete whose key the descent would send down the same branches
 *      (at every level: separator[index] <= key unless index is 0, and
 *      key < separator[index + 1] unless index is the last) skips the
 *      descent and searches that leaf only. It holds while the leaf is in
 *      page mode and commit has not closed the dirty table: branches do not
 *      change before commit, so the refs stay what a descent would find
 *      (and, to be safe, no node was made in the bucket since: nnodes). Sequential changes (a
 * delete of every other key, appends in the middle) search each leaf once instead of once per key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bolt_int.h"

int bolt__bucket_usable(const bolt_bucket *b, bool write)
{
    if (b == NULL)
        return STRATA_EMISUSE;
    int rc = bolt__tx_usable(b->tx, write);
    if (rc != 0)
        return rc;
    if (b->deleted)
        return BOLT_EBUCKETNOTFOUND;
    return 0;
}

int bolt__bucket_from_value(bolt_bucket *b, const unsigned char *value, size_t vsize)
{
    if (vsize < BOLT_BUCKET_HEADER_SIZE)
        return BOLT_ECORRUPT;
    b->root = bolt__ld64(value + BOLT_BUCKET_ROOT_OFF);
    b->sequence = bolt__ld64(value + BOLT_BUCKET_SEQ_OFF);
    b->inline_data = NULL;
    b->inline_size = 0;
    if (b->root == 0) {
        b->inline_data = value + BOLT_BUCKET_HEADER_SIZE;
        b->inline_size = vsize - BOLT_BUCKET_HEADER_SIZE;
        const char *why;
        if (bolt__page_check(b->inline_data, b->inline_size, 0, &why) != 0 ||
            bolt__ld16(b->inline_data + BOLT_PAGE_FLAGS_OFF) != BOLT_PAGE_LEAF)
            return BOLT_ECORRUPT;
    }
    return 0;
}

static bool name_eq(const bolt_val *a, const void *b, size_t bn)
{
    return a->size == bn && (bn == 0 || memcmp(a->data, b, bn) == 0);
}

static int cache_add(bolt_bucket *parent, bolt_bucket *child)
{
    if (parent->nchildren == parent->capchildren) {
        size_t cap = parent->capchildren ? parent->capchildren * 2 : 4;
        bolt_bucket **a = strata_realloc(parent->children, cap * sizeof *a);
        if (a == NULL)
            return -ENOMEM;
        parent->children = a;
        parent->capchildren = cap;
    }
    parent->children[parent->nchildren++] = child;
    return 0;
}

static void cache_remove(bolt_bucket *parent, bolt_bucket *child)
{
    for (size_t i = 0; i < parent->nchildren; i++) {
        if (parent->children[i] == child) {
            memmove(&parent->children[i], &parent->children[i + 1],
                    (parent->nchildren - i - 1) * sizeof *parent->children);
            parent->nchildren--;
            return;
        }
    }
}

/* Open the child named `name` whose element value is v (rule 2). */
static int bucket_handle(bolt_bucket *parent, bolt_val name, bolt_val v, bolt_bucket **out)
{
    for (size_t i = 0; i < parent->nchildren; i++) {
        bolt_bucket *c = parent->children[i];
        if (name_eq(&name, c->name, c->nsize)) {
            *out = c;
            return 0;
        }
    }
    bolt_tx *tx = parent->tx;
    bolt_bucket *c = strata_calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->next_alloc = tx->buckets;
    tx->buckets = c;
    c->tx = tx;
    c->parent = parent;
    c->fill_percent = BOLT_DEFAULT_FILL_PERCENT;
    c->name = bolt__tx_copy(tx, name.data, name.size);
    c->nsize = name.size;
    if (c->name == NULL)
        return -ENOMEM;
    if (bolt__bucket_from_value(c, v.data, v.size) != 0) {
        c->deleted = true;
        return bolt__corrupt(tx->db, parent->root, "invalid nested bucket header or inline page");
    }
    int rc = cache_add(parent, c);
    if (rc != 0)
        return rc;
    *out = c;
    return 0;
}

/* The element whose key is exactly key: 0 with *v and *flags; BOLT_NOTFOUND; an error. */
static int seek_exact(bolt_bucket *b, bolt_val key, bolt_val *v, uint32_t *flags)
{
    bolt_cursor c;
    bolt__cursor_init(&c, b);
    bolt_val k;
    int rc = bolt__cursor_seek(&c, key.data, key.size, &k, v, flags);
    if (rc != 0)
        return rc;
    return name_eq(&key, k.data, k.size) ? 0 : BOLT_NOTFOUND;
}

int bolt_bucket_open(bolt_bucket *parent, bolt_val name, bolt_bucket **out)
{
    *out = NULL;
    int rc = bolt__bucket_usable(parent, false);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < parent->nchildren; i++) {
        if (name_eq(&name, parent->children[i]->name, parent->children[i]->nsize)) {
            *out = parent->children[i];
            return 0;
        }
    }
    bolt_val v;
    uint32_t flags;
    rc = seek_exact(parent, name, &v, &flags);
    if (rc != 0)
        return rc;
    if (!(flags & BOLT_LEAF_BUCKET))
        return BOLT_NOTFOUND;
    return bucket_handle(parent, name, v, out);
}

int bolt_bucket_get(bolt_bucket *b, bolt_val key, bolt_val *value)
{
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    bolt_val v;
    uint32_t flags;
    rc = seek_exact(b, key, &v, &flags);
    if (rc != 0)
        return rc;
    if (flags & BOLT_LEAF_BUCKET)
        return BOLT_NOTFOUND;
    *value = v;
    return 0;
}

static int check_key(bolt_val key)
{
    if (key.size == 0 || key.data == NULL)
        return BOLT_EKEYREQUIRED;
    if (key.size > BOLT_MAX_KEY_SIZE)
        return BOLT_EKEYTOOLARGE;
    return 0;
}

/* Rule 6: would the descent for key reach the hinted leaf? */
static bool hint_holds(const bolt_bucket *b, const void *key, size_t ksize)
{
    const bolt__write_hint *h = &b->hint;
    if (h->d == NULL || h->nnodes != b->nnodes || h->d->converted || h->d->packed ||
        b->tx->dpt_closed)
        return false;
    for (size_t l = 0; l + 1 < h->depth; l++) {
        const bolt__elemref *r = &h->stack[l];
        bolt_val sep;
        if (r->index > 0) {
            bolt__ref_key(r, r->index, &sep);
            if (bolt__key_cmp(sep.data, sep.size, key, ksize) > 0)
                return false;
        }
        if (r->index + 1 < bolt__ref_count(r)) {
            bolt__ref_key(r, r->index + 1, &sep);
            if (bolt__key_cmp(key, ksize, sep.data, sep.size) >= 0)
                return false;
        }
    }
    return true;
}

/* Rule 6: c as the descent would leave it, from the hint; the leaf searched. */
static int seek_by_hint(bolt_bucket *b, const void *key, size_t ksize, bolt_cursor *c, bool *exact,
                        uint32_t *flags)
{
    const bolt__write_hint *h = &b->hint;
    memcpy(c->stack, h->stack, (h->depth - 1) * sizeof *c->stack);
    bolt__elemref *r = &c->stack[h->depth - 1];
    memset(r, 0, sizeof *r);
    bolt__page_fill(h->d->buf, h->d->cap, h->d->id, &r->page);
    c->depth = h->depth;
    c->positioned = true;
    *exact = false;
    r->index = bolt__ref_lower_bound(r, 0, r->page.count, key, ksize, exact);
    *flags = 0;
    if (*exact)
        bolt__page_leaf_elem(&r->page, (unsigned)r->index, flags, NULL, NULL);
    return 0;
}

/* Rule 6: remember where c's change was made in place (d: its dirty leaf). */
static void hint_record(const bolt_cursor *c, bolt__dpage *d)
{
    bolt_bucket *b = c->bucket;
    bolt__write_hint *h = &b->hint;
    h->d = NULL;
    if (c->depth < 2 || c->depth - 1 > BOLT_HINT_LEVELS)
        return;
    if (h->stack == NULL) {
        h->stack = bolt__tx_alloc(b->tx, BOLT_HINT_LEVELS * sizeof *h->stack);
        if (h->stack == NULL)
            return; /* no hint: the descent runs */
    }
    if (h->stack != c->stack)
        memcpy(h->stack, c->stack, (c->depth - 1) * sizeof *c->stack);
    h->d = d;
    h->nnodes = b->nnodes;
    h->depth = c->depth;
}

/* Seek key for a change: 0 with the leaf node materialized, exact/flags set. */
static int seek_for_write(bolt_bucket *b, bolt_val key, bolt_cursor *c, bool *exact,
                          uint32_t *flags)
{
    bolt__cursor_init(c, b);
    if (hint_holds(b, key.data, key.size))
        return seek_by_hint(b, key.data, key.size, c, exact, flags);
    bolt_val k, v;
    /* dirty.c rule 2: what this search reads is used before the change, never kept. */
    b->tx->dpt_quiet = true;
    int rc = bolt__cursor_search(c, key.data, key.size, &k, &v, flags);
    b->tx->dpt_quiet = false;
    if (rc == BOLT_NOTFOUND) {
        *exact = false;
        *flags = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    *exact = name_eq(&key, k.data, k.size);
    return 0;
}

/*
 * Put an element through a positioned cursor: in place on the leaf's dirty
 * page when it fits (dirty.c), else on the materialized node. copy: key and
 * value are the caller's and go to the arena first on the node path (rule
 * 4); the dirty page copies them itself.
 */
static int put_at(bolt_cursor *c, bool exact, const unsigned char *key, size_t ksize,
                  const unsigned char *value, size_t vsize, uint32_t flags, bool copy)
{
    bolt_tx *tx = c->bucket->tx;
    bool edge = bolt__cursor_at_right_edge(c);
    bolt__dpage *d;
    int rc = bolt__dpage_touch_put(c, exact, key, ksize, value, vsize, flags, edge, &d);
    if (rc == 0) {
        tx->generation++;
        hint_record(c, d);
        return 0;
    }
    if (rc != 1)
        return rc;
    if (copy) {
        /*
         * One arena block, the value's bytes right after the key's: a
         * 100,000-key revoke's tombstones take 8 bytes a put less (one
         * alignment pad instead of two), and its arena is memory touched
         * for the first time.
         */
        unsigned char *kv = bolt__tx_alloc(tx, ksize + vsize);
        if (kv == NULL)
            return -ENOMEM;
        memcpy(kv, key, ksize);
        if (vsize > 0)
            memcpy(kv + ksize, value, vsize);
        key = kv;
        value = kv + ksize;
    }
    bolt__node *n;
    rc = bolt__cursor_node(c, &n);
    if (rc != 0)
        return rc;
    tx->generation++;
    return bolt__node_put(n, key, ksize, key, ksize, value, vsize, 0, flags, NULL, edge);
}

int bolt_bucket_put(bolt_bucket *b, bolt_val key, bolt_val value)
{
    int rc = bolt__bucket_usable(b, true);
    if (rc != 0)
        return rc;
    rc = check_key(key);
    if (rc != 0)
        return rc;
    if (value.size > BOLT_MAX_VALUE_SIZE ||
        key.size + value.size > BOLT_MAX_ELEM_SPAN - 2 * (size_t)BOLT_MAX_PAGE_SIZE)
        return BOLT_EVALUETOOLARGE;
    if (value.data == NULL && value.size > 0)
        return STRATA_EMISUSE;
    bolt_cursor c;
    bool exact;
    uint32_t flags;
    rc = seek_for_write(b, key, &c, &exact, &flags);
    if (rc != 0)
        return rc;
    if (exact && (flags & BOLT_LEAF_BUCKET))
        return BOLT_EINCOMPATIBLEVALUE;
    static const unsigned char empty[1] = { 0 };
    const unsigned char *v = value.size > 0 ? value.data : empty;
    return put_at(&c, exact, key.data, key.size, v, value.size, 0, true);
}

int bolt_bucket_delete(bolt_bucket *b, bolt_val key)
{
    int rc = bolt__bucket_usable(b, true);
    if (rc != 0)
        return rc;
    if (key.size == 0)
        return 0;
    bolt_cursor c;
    bool exact;
    uint32_t flags;
    rc = seek_for_write(b, key, &c, &exact, &flags);
    if (rc != 0 || !exact)
        return rc;
    if (flags & BOLT_LEAF_BUCKET)
        return BOLT_EINCOMPATIBLEVALUE;
    bolt__dpage *d;
    rc = bolt__dpage_touch(&c, 0, &d);
    if (rc == 0)
        rc = bolt__dpage_del(b->tx, d, c.stack[c.depth - 1].index);
    if (rc == 0) {
        b->tx->generation++;
        hint_record(&c, d);
        return 0;
    }
    if (rc != 1)
        return rc;
    bolt__node *n;
    rc = bolt__cursor_node(&c, &n);
    if (rc != 0)
        return rc;
    b->tx->generation++;
    bolt__node_del(n, key.data, key.size);
    return 0;
}

/* The 32-byte value of a new, empty, inline bucket (header + empty leaf). */
static unsigned char *empty_bucket_value(bolt_tx *tx)
{
    unsigned char *v = bolt__tx_alloc(tx, BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE);
    if (v == NULL)
        return NULL;
    memset(v, 0, BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE);
    bolt__st16(v + BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_LEAF);
    return v;
}

static int create_bucket(bolt_bucket *parent, bolt_val name, bool if_not_exists, bolt_bucket **out)
{
    if (out != NULL)
        *out = NULL;
    int rc = bolt__bucket_usable(parent, true);
    if (rc != 0)
        return rc;
    if (name.size == 0 || name.data == NULL)
        return BOLT_EBUCKETNAMEREQUIRED;
    bolt_cursor c;
    bool exact;
    uint32_t flags;
    rc = seek_for_write(parent, name, &c, &exact, &flags);
    if (rc != 0)
        return rc;
    bolt_bucket *b;
    if (exact) {
        if (!(flags & BOLT_LEAF_BUCKET))
            return BOLT_EINCOMPATIBLEVALUE;
        if (!if_not_exists)
            return BOLT_EBUCKETEXISTS;
        rc = bolt_bucket_open(parent, name, &b);
        if (rc == 0 && out != NULL)
            *out = b;
        return rc;
    }
    /* Never write what the recursive walks (spill, check, dump) cannot read back. */
    size_t depth = 1;
    for (const bolt_bucket *a = parent; a->parent != NULL; a = a->parent)
        depth++;
    if (depth > BOLT_MAX_NESTING)
        return BOLT_ENESTING;
    const unsigned char *k = bolt__tx_copy(parent->tx, name.data, name.size);
    unsigned char *v = empty_bucket_value(parent->tx);
    if (k == NULL || v == NULL)
        return -ENOMEM;
    rc = put_at(&c, false, k, name.size, v, BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE,
                BOLT_LEAF_BUCKET, false);
    if (rc != 0)
        return rc;
    bolt_val vv = { v, BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE };
    rc = bucket_handle(parent, name, vv, &b);
    if (rc == 0 && out != NULL)
        *out = b;
    return rc;
}

int bolt_bucket_create(bolt_bucket *parent, bolt_val name, bolt_bucket **out)
{
    return create_bucket(parent, name, false, out);
}

int bolt_bucket_create_if_not_exists(bolt_bucket *parent, bolt_val name, bolt_bucket **out)
{
    return create_bucket(parent, name, true, out);
}

/* Free every page of the tree under page id (pages only; nodes are dropped). */
static int free_tree(bolt_tx *tx, bolt_pgid id, int depth)
{
    if (depth >= BOLT_MAX_DEPTH)
        return bolt__corrupt(tx->db, id, "tree deeper than 64 levels (a cycle?)");
    bolt__page p;
    int rc = bolt__tx_page(tx, id, &p);
    if (rc != 0)
        return rc;
    if (!bolt__page_is_leaf(&p)) {
        for (unsigned i = 0; i < p.count; i++) {
            rc = free_tree(tx, bolt__page_branch_elem(&p, i, NULL), depth + 1);
            if (rc != 0)
                return rc;
        }
    }
    return bolt__freelist_free_run(tx->db->freelist, tx->meta.txid, id, p.overflow, false);
}

/*
 * Rule 5: a stack of bucket handles on the heap, for the walks over nesting
 * (delete, mark, spill, rebalance). Each walk's own frame is constant, so
 * 2048 levels of buckets cost the same C stack as one.
 */
typedef struct bucket_stack {
    bolt_bucket **b;
    size_t *aux; /* per entry: a nesting depth or a child index */
    size_t n, cap;
} bucket_stack;

static int stack_push(bucket_stack *s, bolt_bucket *b, size_t aux)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        bolt_bucket **nb = strata_realloc(s->b, cap * sizeof *nb);
        if (nb == NULL)
            return -ENOMEM;
        s->b = nb;
        size_t *na = strata_realloc(s->aux, cap * sizeof *na);
        if (na == NULL)
            return -ENOMEM;
        s->aux = na;
        s->cap = cap;
    }
    s->b[s->n] = b;
    s->aux[s->n] = aux;
    s->n++;
    return 0;
}

static void stack_release(bucket_stack *s)
{
    strata_free(s->b);
    strata_free(s->aux);
}

/* Mark b and every open handle below it deleted (handles refuse every call). */
static int mark_deleted(bolt_bucket *b)
{
    bucket_stack s = { 0 };
    int rc = stack_push(&s, b, 0);
    while (rc == 0 && s.n > 0) {
        bolt_bucket *x = s.b[--s.n];
        x->deleted = true;
        x->root_node = NULL;
        x->nnodes = 0;
        for (size_t i = 0; i < x->nchildren && rc == 0; i++)
            rc = stack_push(&s, x->children[i], 0);
        x->nchildren = 0;
    }
    stack_release(&s);
    return rc;
}

/* Push a handle for every nested bucket element of b (its current state). */
static int push_children(bolt_bucket *b, bucket_stack *s, size_t depth)
{
    bolt_cursor c;
    bolt__cursor_init(&c, b);
    bolt_val k, v;
    uint32_t flags;
    int rc = bolt__cursor_first(&c, &k, &v, &flags);
    /* Loop invariant: every bucket element before k is on the stack. */
    while (rc == 0) {
        if (flags & BOLT_LEAF_BUCKET) {
            bolt_bucket *child = NULL;
            rc = bucket_handle(b, k, v, &child);
            if (rc == 0)
                rc = stack_push(s, child, depth);
            if (rc != 0)
                return rc;
        }
        rc = bolt__cursor_next(&c, &k, &v, &flags);
    }
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

/*
 * Free the pages of b and of every bucket below it (bbolt's DeleteBucket),
 * depth first with the stack on the heap (rule 5).
 */
static int bucket_free_all(bolt_bucket *top)
{
    bucket_stack s = { 0 };
    int rc = stack_push(&s, top, 0);
    while (rc == 0 && s.n > 0) {
        s.n--;
        bolt_bucket *b = s.b[s.n];
        size_t depth = s.aux[s.n];
        if (depth > BOLT_MAX_NESTING) {
            rc = bolt__corrupt(b->tx->db, b->root, "buckets nested too deep (a cycle?)");
            break;
        }
        rc = push_children(b, &s, depth + 1);
        if (rc == 0 && b->root != 0) {
            /* The pages as committed; this tx's nodes are dropped with it. */
            rc = free_tree(b->tx, b->root, 0);
        }
    }
    stack_release(&s);
    return rc;
}

int bolt_bucket_delete_bucket(bolt_bucket *parent, bolt_val name)
{
    int rc = bolt__bucket_usable(parent, true);
    if (rc != 0)
        return rc;
    bolt_cursor c;
    bool exact;
    uint32_t flags;
    rc = seek_for_write(parent, name, &c, &exact, &flags);
    if (rc != 0)
        return rc;
    if (!exact)
        return BOLT_EBUCKETNOTFOUND;
    if (!(flags & BOLT_LEAF_BUCKET))
        return BOLT_EINCOMPATIBLEVALUE;
    bolt_bucket *child;
    rc = bolt_bucket_open(parent, name, &child);
    if (rc != 0)
        return rc;
    /*
     * Sub-buckets are found in the child's current state (so ones deleted
     * earlier in this tx are not freed twice); pages freed are the
     * committed ones, since nodes free pages only at commit.
     */
    rc = bucket_free_all(child);
    if (rc != 0) {
        parent->tx->failed = rc;
        return rc;
    }
    rc = seek_for_write(parent, name, &c, &exact, &flags);
    bolt__node *n;
    if (rc == 0)
        rc = bolt__cursor_node(&c, &n);
    if (rc != 0) {
        parent->tx->failed = rc;
        return rc;
    }
    parent->tx->generation++;
    bolt__node_del(n, name.data, name.size);
    cache_remove(parent, child);
    rc = mark_deleted(child);
    if (rc != 0)
        parent->tx->failed = rc; /* handles below could not all be marked */
    return rc;
}

uint64_t bolt_bucket_sequence(const bolt_bucket *b)
{
    return b->sequence;
}

/* Touch the bucket (rule 3): materialize its root node. */
static int bucket_touch(bolt_bucket *b)
{
    if (b->root_node != NULL)
        return 0;
    bolt__page p;
    int rc;
    if (b->root == 0) {
        const char *why;
        rc = bolt__page_load(b->inline_data, b->inline_size, 0, &p, &why);
        if (rc != 0)
            return bolt__corrupt(b->tx->db, 0, why);
    } else {
        rc = bolt__tx_page(b->tx, b->root, &p);
        if (rc != 0)
            return rc;
    }
    return bolt__node_read(b, &p, NULL, &b->root_node);
}

int bolt_bucket_next_sequence(bolt_bucket *b, uint64_t *out)
{
    int rc = bolt__bucket_usable(b, true);
    if (rc == 0)
        rc = bucket_touch(b);
    if (rc != 0)
        return rc;
    b->sequence++;
    *out = b->sequence;
    return 0;
}

int bolt_bucket_set_sequence(bolt_bucket *b, uint64_t seq)
{
    int rc = bolt__bucket_usable(b, true);
    if (rc == 0)
        rc = bucket_touch(b);
    if (rc != 0)
        return rc;
    b->sequence = seq;
    return 0;
}

void bolt_bucket_set_fill_percent(bolt_bucket *b, double fill)
{
    if (fill < BOLT_MIN_FILL_PERCENT)
        fill = BOLT_MIN_FILL_PERCENT;
    if (fill > BOLT_MAX_FILL_PERCENT)
        fill = BOLT_MAX_FILL_PERCENT;
    b->fill_percent = fill;
}

bool bolt_bucket_is_inline(const bolt_bucket *b)
{
    return b->root == 0;
}

int bolt_bucket_for_each(bolt_bucket *b, int (*fn)(void *arg, bolt_val key, bolt_val value),
                         void *arg)
{
    int rc = bolt__bucket_usable(b, false);
    if (rc != 0)
        return rc;
    bolt_cursor c;
    bolt__cursor_init(&c, b);
    bolt_val k, v;
    uint32_t flags;
    for (rc = bolt__cursor_first(&c, &k, &v, &flags); rc == 0;
         rc = bolt__cursor_next(&c, &k, &v, &flags)) {
        if (flags & BOLT_LEAF_BUCKET) {
            v.data = NULL;
            v.size = 0;
        }
        int r = fn(arg, k, v);
        if (r != 0)
            return r;
    }
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

/* Rule 3: inline iff a leaf root without buckets and <= page_size / 4. */
static bool bucket_inlineable(const bolt_bucket *b)
{
    const bolt__node *n = b->root_node;
    if (n == NULL || !n->leaf)
        return false;
    size_t size = BOLT_PAGE_HEADER_SIZE, max = b->tx->db->page_size / 4;
    for (size_t i = 0; i < n->n; i++) {
        if (n->inodes[i].flags & BOLT_LEAF_BUCKET)
            return false;
        size += 16 + (size_t)n->inodes[i].ksize + n->inodes[i].vsize;
        if (size > max)
            return false;
    }
    return true;
}

/* Spill b's own root node (its children are written already). */
static int spill_root(bolt_bucket *b)
{
    if (b->root_node == NULL)
        return 0;
    int rc = bolt__dpage_spill_bucket(b); /* the page-mode parts first (dirty_spill.c) */
    if (rc != 0)
        return rc;
    rc = bolt__node_spill(b->root_node);
    if (rc != 0)
        return rc;
    b->root_node = bolt__node_root(b->root_node);
    b->root = b->root_node->pgid;
    return 0;
}

/*
 * Store child's new representation in its element of b: the inline page
 * image when inlineable (rule 3), else the header naming its root page
 * (the child's own spill has run).
 */
static int spill_child_value(bolt_bucket *b, bolt_bucket *child, bool inl)
{
    bolt_tx *tx = b->tx;
    unsigned char *value;
    size_t vsize;
    int rc;
    if (inl) {
        rc = bolt__node_free(child->root_node);
        if (rc != 0)
            return rc;
        child->root = 0;
        vsize = BOLT_BUCKET_HEADER_SIZE + bolt__node_size(child->root_node);
        value = bolt__tx_alloc(tx, vsize);
        if (value == NULL)
            return -ENOMEM;
        memset(value, 0, vsize);
        bolt__node_write(child->root_node, value + BOLT_BUCKET_HEADER_SIZE);
    } else {
        if (child->root_node == NULL)
            return 0; /* untouched: keeps its representation */
        vsize = BOLT_BUCKET_HEADER_SIZE;
        value = bolt__tx_alloc(tx, vsize);
        if (value == NULL)
            return -ENOMEM;
    }
    bolt__st64(value + BOLT_BUCKET_ROOT_OFF, child->root);
    bolt__st64(value + BOLT_BUCKET_SEQ_OFF, child->sequence);
    bolt_cursor c;
    bool exact;
    uint32_t flags;
    bolt_val name = { child->name, child->nsize };
    rc = seek_for_write(b, name, &c, &exact, &flags);
    if (rc != 0)
        return rc;
    if (!exact || !(flags & BOLT_LEAF_BUCKET))
        return BOLT_EPANIC;
    return put_at(&c, true, child->name, child->nsize, value, vsize, BOLT_LEAF_BUCKET, false);
}

/*
 * Write every touched bucket below b and then b, children before parents
 * (a child's new root goes into its parent's element). Post-order over the
 * open handles with the stack on the heap (rule 5): aux is the index of the
 * next child to visit; a frame whose children are all done spills its own
 * root and stores its value in the parent frame's current child.
 */
int bolt__bucket_spill(bolt_bucket *b)
{
    bucket_stack s = { 0 };
    int rc = stack_push(&s, b, 0);
    while (rc == 0 && s.n > 0) {
        bolt_bucket *x = s.b[s.n - 1];
        size_t i = s.aux[s.n - 1];
        if (i < x->nchildren) {
            bolt_bucket *child = x->children[i];
            if (bucket_inlineable(child)) {
                rc = spill_child_value(x, child, true);
                s.aux[s.n - 1]++;
            } else {
                rc = stack_push(&s, child, 0); /* its value is stored when it pops */
            }
            continue;
        }
        rc = spill_root(x);
        s.n--;
        if (rc == 0 && s.n > 0) {
            bolt_bucket *parent = s.b[s.n - 1];
            rc = spill_child_value(parent, x, false);
            s.aux[s.n - 1]++;
        }
    }
    stack_release(&s);
    return rc;
}
