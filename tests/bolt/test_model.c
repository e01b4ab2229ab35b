/*
 * test_model.c: the model test. Thousands of seeded random operations (put,
 * delete, nested bucket create/delete, sequences, cursor walks and cursor
 * deletes, commit, rollback, close + reopen) run against strata and against
 * a plain in-memory reference; after every operation its result is
 * compared, every few operations the whole state (the canonical dump of the
 * write transaction) is compared, and after every commit the file passes
 * bolt_tx_check and its dump equals the reference's.
 */
#include "bolt_test.h"

/* ---- the reference: a tree of sorted entry arrays ---------------------- */

typedef struct ref_bucket ref_bucket;

typedef struct ref_entry {
    unsigned char *key;
    size_t klen;
    unsigned char *val; /* plain key */
    size_t vlen;
    ref_bucket *child; /* non-NULL: a bucket */
} ref_entry;

struct ref_bucket {
    ref_entry *e;
    size_t n, cap;
    uint64_t seq;
};

static int kcmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    return c != 0 ? c : (an < bn ? -1 : an > bn);
}

static size_t ref_find(const ref_bucket *b, const void *k, size_t kl, bool *exact)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (kcmp(b->e[m].key, b->e[m].klen, k, kl) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    *exact = lo < b->n && kcmp(b->e[lo].key, b->e[lo].klen, k, kl) == 0;
    return lo;
}

static unsigned char *mdup(const void *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void ref_free(ref_bucket *b);

static void entry_free(ref_entry *e)
{
    free(e->key);
    free(e->val);
    if (e->child)
        ref_free(e->child);
}

static void ref_free(ref_bucket *b)
{
    for (size_t i = 0; i < b->n; i++)
        entry_free(&b->e[i]);
    free(b->e);
    free(b);
}

static ref_bucket *ref_clone(const ref_bucket *b)
{
    ref_bucket *c = calloc(1, sizeof *c);
    c->seq = b->seq;
    c->n = c->cap = b->n;
    c->e = calloc(b->n ? b->n : 1, sizeof *c->e);
    for (size_t i = 0; i < b->n; i++) {
        c->e[i].key = mdup(b->e[i].key, b->e[i].klen);
        c->e[i].klen = b->e[i].klen;
        if (b->e[i].child) {
            c->e[i].child = ref_clone(b->e[i].child);
        } else {
            c->e[i].val = mdup(b->e[i].val, b->e[i].vlen);
            c->e[i].vlen = b->e[i].vlen;
        }
    }
    return c;
}

static ref_entry *ref_insert(ref_bucket *b, size_t at)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->e = realloc(b->e, b->cap * sizeof *b->e);
    }
    memmove(&b->e[at + 1], &b->e[at], (b->n - at) * sizeof *b->e);
    b->n++;
    memset(&b->e[at], 0, sizeof b->e[at]);
    return &b->e[at];
}

static void ref_remove(ref_bucket *b, size_t at)
{
    entry_free(&b->e[at]);
    memmove(&b->e[at], &b->e[at + 1], (b->n - at - 1) * sizeof *b->e);
    b->n--;
}

/* The expected dump of the reference (the bolt-dump v1 grammar, max_hex 0). */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_hex(sbuf *b, const unsigned char *p, size_t n)
{
    if (n == 0) {
        sb_str(b, "-");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    if (b->n + 2 * n + 1 > b->cap) {
        b->cap = (b->n + 2 * n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    for (size_t i = 0; i < n; i++) {
        b->s[b->n++] = hex[p[i] >> 4];
        b->s[b->n++] = hex[p[i] & 15];
    }
    b->s[b->n] = '\0';
}

static void ref_dump_rec(const ref_bucket *b, sbuf *out, sbuf *path, uint64_t *nb, uint64_t *nk)
{
    for (size_t i = 0; i < b->n; i++) {
        const ref_entry *e = &b->e[i];
        if (e->child) {
            size_t saved = path->n;
            if (path->n)
                sb_str(path, "/");
            sb_hex(path, e->key, e->klen);
            char t[64];
            sb_str(out, "bucket ");
            sb_put(out, path->s, path->n);
            snprintf(t, sizeof t, " seq=%llu\n", (unsigned long long)e->child->seq);
            sb_str(out, t);
            (*nb)++;
            ref_dump_rec(e->child, out, path, nb, nk);
            path->n = saved;
            if (path->s)
                path->s[saved] = '\0';
        } else {
            (*nk)++;
            sb_str(out, "key ");
            if (path->n)
                sb_put(out, path->s, path->n);
            else
                sb_str(out, "-");
            sb_str(out, " ");
            sb_hex(out, e->key, e->klen);
            sb_str(out, " ");
            sb_hex(out, e->val, e->vlen);
            sb_str(out, "\n");
        }
    }
}

static char *ref_dump(const ref_bucket *root)
{
    sbuf out = { 0 }, path = { 0 };
    uint64_t nb = 0, nk = 0;
    sb_str(&out, "bolt-dump v1\n");
    ref_dump_rec(root, &out, &path, &nb, &nk);
    char t[96];
    snprintf(t, sizeof t, "end buckets=%llu keys=%llu\n", (unsigned long long)nb,
             (unsigned long long)nk);
    sb_str(&out, t);
    free(path.s);
    return out.s;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct model {
    strata_rng rng;
    bolt_db *db;
    bolt_options opt;
    char path[8192];
    bolt_tx *tx;
    ref_bucket *committed, *work;
    uint64_t ops, commits;
    uint32_t page_size;
    uint64_t seqkey; /* sequential keys, to exercise right-edge appends */
} model;

static uint64_t rnd(model *m, uint64_t n)
{
    return strata_rng_below(&m->rng, n);
}

static size_t gen_key(model *m, unsigned char *k)
{
    uint64_t kind = rnd(m, 10);
    if (kind < 2) {
        /* sequential: big-endian counter, always past everything before */
        uint64_t v = ++m->seqkey;
        k[0] = 'z';
        for (int i = 0; i < 8; i++)
            k[1 + i] = (unsigned char)(v >> (56 - 8 * i));
        return 9;
    }
    size_t len = kind == 9 ? 1 + rnd(m, m->page_size / 2) : 1 + rnd(m, 6);
    for (size_t i = 0; i < len; i++)
        k[i] = (unsigned char)('a' + rnd(m, 4));
    return len;
}

static size_t gen_val(model *m, unsigned char *v)
{
    uint64_t kind = rnd(m, 20);
    size_t len = kind == 0 ? rnd(m, 3 * m->page_size) : kind < 3 ? 0 : rnd(m, 40);
    for (size_t i = 0; i < len; i++)
        v[i] = (unsigned char)rnd(m, 256);
    return len;
}

/* A random existing bucket: returns its reference and strata handle. */
static void pick_bucket(model *m, ref_bucket **rb, bolt_bucket **bb)
{
    ref_bucket *r = m->work;
    bolt_bucket *b = bolt_tx_root(m->tx);
    /* The root bucket holds only buckets here; descend at least once if possible. */
    for (int depth = 0; depth < 4; depth++) {
        size_t nbk = 0;
        for (size_t i = 0; i < r->n; i++)
            nbk += r->e[i].child != NULL;
        if (nbk == 0 || (depth > 0 && rnd(m, 3) == 0))
            break;
        size_t pick = rnd(m, nbk);
        for (size_t i = 0; i < r->n; i++) {
            if (r->e[i].child && pick-- == 0) {
                bolt_val name = { r->e[i].key, r->e[i].klen };
                bolt_bucket *c;
                ASSERT_OK(bolt_bucket_open(b, name, &c));
                b = c;
                r = r->e[i].child;
                break;
            }
        }
    }
    *rb = r;
    *bb = b;
}

static void check_whole(model *m)
{
    char *want = ref_dump(m->work);
    char *got = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&got, &n);
    ASSERT_OK(bolt_tx_dump(m->tx, f, 0));
    fclose(f);
    ASSERT_EQ_STR(got, want);
    free(got);
    free(want);
}

static void begin(model *m)
{
    ASSERT_OK(bolt_tx_begin(m->db, BOLT_TX_WRITE, &m->tx));
}

static void op_put(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    if (r == m->work)
        return; /* keep plain keys out of the root bucket */
    unsigned char k[40000], v[200000];
    size_t kl = gen_key(m, k), vl = gen_val(m, v);
    bool exact;
    size_t at = ref_find(r, k, kl, &exact);
    int rc = bolt_bucket_put(b, (bolt_val){ k, kl }, (bolt_val){ v, vl });
    if (exact && r->e[at].child) {
        ASSERT_RC(rc, BOLT_EINCOMPATIBLEVALUE);
        return;
    }
    ASSERT_OK(rc);
    ref_entry *e = exact ? &r->e[at] : ref_insert(r, at);
    if (!exact) {
        e->key = mdup(k, kl);
        e->klen = kl;
    }
    free(e->val);
    e->val = mdup(v, vl);
    e->vlen = vl;
    bolt_val got;
    ASSERT_OK(bolt_bucket_get(b, (bolt_val){ k, kl }, &got));
    ASSERT_EQ_MEM(got.data, got.size, v, vl);
}

static void op_delete(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    unsigned char k[40000];
    size_t kl;
    if (r->n > 0 && rnd(m, 4) != 0) {
        ref_entry *e = &r->e[rnd(m, r->n)];
        kl = e->klen;
        memcpy(k, e->key, kl);
    } else {
        kl = gen_key(m, k);
    }
    bool exact;
    size_t at = ref_find(r, k, kl, &exact);
    int rc = bolt_bucket_delete(b, (bolt_val){ k, kl });
    if (exact && r->e[at].child) {
        ASSERT_RC(rc, BOLT_EINCOMPATIBLEVALUE);
        return;
    }
    ASSERT_OK(rc);
    if (exact)
        ref_remove(r, at);
    bolt_val got;
    ASSERT_RC(bolt_bucket_get(b, (bolt_val){ k, kl }, &got), BOLT_NOTFOUND);
}

static void op_create_bucket(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    if (rnd(m, 3) == 0) {
        r = m->work;
        b = bolt_tx_root(m->tx);
    } else {
        pick_bucket(m, &r, &b);
    }
    unsigned char k[40000];
    size_t kl = gen_key(m, k);
    if (kl > 64)
        kl = 64;
    bool exact;
    size_t at = ref_find(r, k, kl, &exact);
    bolt_bucket *nb;
    int rc = bolt_bucket_create(b, (bolt_val){ k, kl }, &nb);
    if (exact) {
        ASSERT_RC(rc, r->e[at].child ? BOLT_EBUCKETEXISTS : BOLT_EINCOMPATIBLEVALUE);
        return;
    }
    ASSERT_OK(rc);
    ref_entry *e = ref_insert(r, at);
    e->key = mdup(k, kl);
    e->klen = kl;
    e->child = calloc(1, sizeof *e->child);
}

static void op_delete_bucket(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    if (rnd(m, 2) == 0) {
        r = m->work;
        b = bolt_tx_root(m->tx);
    } else {
        pick_bucket(m, &r, &b);
    }
    size_t nbk = 0;
    for (size_t i = 0; i < r->n; i++)
        nbk += r->e[i].child != NULL;
    if (nbk == 0 || rnd(m, 4) != 0)
        return; /* rare: buckets are worth keeping */
    size_t pick = rnd(m, nbk);
    for (size_t i = 0; i < r->n; i++) {
        if (r->e[i].child && pick-- == 0) {
            ASSERT_OK(bolt_bucket_delete_bucket(b, (bolt_val){ r->e[i].key, r->e[i].klen }));
            ref_remove(r, i);
            return;
        }
    }
}

static void op_sequence(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    if (r == m->work)
        return;
    if (rnd(m, 4) == 0) {
        uint64_t s = strata_rng_next(&m->rng);
        ASSERT_OK(bolt_bucket_set_sequence(b, s));
        r->seq = s;
    } else {
        uint64_t s;
        ASSERT_OK(bolt_bucket_next_sequence(b, &s));
        ASSERT_EQ_U64(s, r->seq + 1);
        r->seq = s;
    }
    ASSERT_EQ_U64(bolt_bucket_sequence(b), r->seq);
}

/* Walk forward and backward comparing every element with the reference. */
static void op_cursor_walk(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val k, v;
    size_t i = 0;
    for (int rc = bolt_cursor_first(c, &k, &v); rc != BOLT_NOTFOUND;
         rc = bolt_cursor_next(c, &k, &v), i++) {
        ASSERT_OK(rc);
        ASSERT_TRUE(i < r->n);
        ASSERT_EQ_MEM(k.data, k.size, r->e[i].key, r->e[i].klen);
        if (r->e[i].child)
            ASSERT_NULL(v.data);
        else
            ASSERT_EQ_MEM(v.data, v.size, r->e[i].val, r->e[i].vlen);
    }
    ASSERT_EQ_SIZE(i, r->n);
    for (int rc = bolt_cursor_last(c, &k, &v); rc != BOLT_NOTFOUND;
         rc = bolt_cursor_prev(c, &k, &v)) {
        ASSERT_OK(rc);
        ASSERT_TRUE(i > 0);
        i--;
        ASSERT_EQ_MEM(k.data, k.size, r->e[i].key, r->e[i].klen);
    }
    ASSERT_EQ_SIZE(i, 0);
    /* Seek to random keys: first element >= key. */
    for (int j = 0; j < 4; j++) {
        unsigned char key[40000];
        size_t kl = gen_key(m, key);
        bool exact;
        size_t at = ref_find(r, key, kl, &exact);
        int rc = bolt_cursor_seek(c, (bolt_val){ key, kl }, &k, &v);
        if (at == r->n) {
            ASSERT_RC(rc, BOLT_NOTFOUND);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_MEM(k.data, k.size, r->e[at].key, r->e[at].klen);
        }
    }
    bolt_cursor_close(c);
}

/* Seek somewhere and delete a run of plain keys through the cursor. */
static void op_cursor_delete(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    if (r == m->work || r->n == 0)
        return;
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    size_t at = rnd(m, r->n);
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_seek(c, (bolt_val){ r->e[at].key, r->e[at].klen }, &k, &v));
    size_t todo = 1 + rnd(m, 8);
    while (todo-- > 0 && at < r->n) {
        ASSERT_EQ_MEM(k.data, k.size, r->e[at].key, r->e[at].klen);
        if (r->e[at].child) {
            ASSERT_RC(bolt_cursor_delete(c), BOLT_EINCOMPATIBLEVALUE);
            at++;
        } else {
            ASSERT_OK(bolt_cursor_delete(c));
            ref_remove(r, at);
        }
        int rc = bolt_cursor_next(c, &k, &v);
        if (rc == BOLT_NOTFOUND) {
            ASSERT_EQ_SIZE(at, r->n);
            break;
        }
        ASSERT_OK(rc);
    }
    bolt_cursor_close(c);
}

/*
 * A cursor stays usable across changes: walk forward while putting and
 * deleting other keys of the same bucket; each step must return the
 * smallest key greater than the one returned before (as the reference
 * then stands).
 */
static void op_cursor_across_changes(model *m)
{
    ref_bucket *r;
    bolt_bucket *b;
    pick_bucket(m, &r, &b);
    if (r == m->work || r->n == 0)
        return;
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    size_t at = rnd(m, r->n);
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_seek(c, (bolt_val){ r->e[at].key, r->e[at].klen }, &k, &v));
    unsigned char last[40000];
    size_t lastn = k.size;
    memcpy(last, k.data, k.size);
    for (int step = 0; step < 12; step++) {
        /* A change somewhere in the bucket, maybe the key under the cursor. */
        unsigned char key[40000];
        size_t kl;
        if (rnd(m, 3) == 0) {
            kl = lastn;
            memcpy(key, last, kl);
        } else {
            kl = gen_key(m, key);
        }
        bool exact;
        size_t i = ref_find(r, key, kl, &exact);
        if (exact && r->e[i].child == NULL) {
            ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ key, kl }));
            ref_remove(r, i);
        } else if (!exact) {
            ASSERT_OK(bolt_bucket_put(b, (bolt_val){ key, kl }, (bolt_val){ "x", 1 }));
            ref_entry *e = ref_insert(r, i);
            e->key = mdup(key, kl);
            e->klen = kl;
            e->val = mdup("x", 1);
            e->vlen = 1;
        }
        /* The successor of `last` in the reference. */
        size_t want = ref_find(r, last, lastn, &exact);
        if (exact)
            want++;
        int rc = bolt_cursor_next(c, &k, &v);
        if (want >= r->n) {
            ASSERT_RC(rc, BOLT_NOTFOUND);
            break;
        }
        ASSERT_OK(rc);
        ASSERT_EQ_MEM(k.data, k.size, r->e[want].key, r->e[want].klen);
        lastn = k.size;
        memcpy(last, k.data, k.size);
    }
    bolt_cursor_close(c);
}

static void do_commit(model *m)
{
    ASSERT_OK(bolt_tx_commit(m->tx));
    m->tx = NULL;
    m->commits++;
    ref_free(m->committed);
    m->committed = ref_clone(m->work);
    bt_check(m->db);
    char *want = ref_dump(m->committed);
    char *got = bt_dump(m->db, 0);
    ASSERT_EQ_STR(got, want);
    free(got);
    free(want);
    begin(m);
}

static void do_rollback(model *m)
{
    bolt_tx_rollback(m->tx);
    ref_free(m->work);
    m->work = ref_clone(m->committed);
    begin(m);
    check_whole(m);
}

static void do_reopen(model *m)
{
    bolt_tx_rollback(m->tx);
    ref_free(m->work);
    m->work = ref_clone(m->committed);
    ASSERT_OK(bolt_close(m->db));
    ASSERT_OK(bolt_open(m->path, &m->opt, &m->db));
    bt_check(m->db);
    begin(m);
    check_whole(m);
}

static void run_model(uint64_t seed, uint32_t page_size, int nops, bool freelist_sync)
{
    model m;
    memset(&m, 0, sizeof m);
    strata_rng_seed(&m.rng, seed);
    m.page_size = page_size;
    m.opt = bt_opts();
    m.opt.page_size = page_size;
    m.opt.no_freelist_sync = !freelist_sync;
    char name[64];
    snprintf(name, sizeof name, "model-%u-%llu.db", page_size, (unsigned long long)seed);
    harness_path(m.path, sizeof m.path, name);
    ASSERT_OK(bolt_open(m.path, &m.opt, &m.db));
    m.committed = calloc(1, sizeof *m.committed);
    m.work = calloc(1, sizeof *m.work);
    begin(&m);
    for (int i = 0; i < nops; i++) {
        uint64_t op = rnd(&m, 100);
        if (op < 40)
            op_put(&m);
        else if (op < 55)
            op_delete(&m);
        else if (op < 62)
            op_create_bucket(&m);
        else if (op < 64)
            op_delete_bucket(&m);
        else if (op < 68)
            op_sequence(&m);
        else if (op < 72)
            op_cursor_walk(&m);
        else if (op < 76)
            op_cursor_delete(&m);
        else if (op < 88)
            do_commit(&m);
        else if (op < 91)
            do_rollback(&m);
        else if (op < 92)
            do_reopen(&m);
        else if (op < 96)
            for (int j = 0; j < 30; j++)
                op_put(&m);
        else if (op < 98)
            op_cursor_across_changes(&m);
        /* else: nothing (more puts per commit on average) */
        if (i % 16 == 0)
            check_whole(&m);
    }
    do_commit(&m);
    char *final = ref_dump(m.committed);
    size_t lines = 0;
    for (char *p = final; *p; p++)
        lines += *p == '\n';
    free(final);
    printf("  page size %u: %d ops, %llu commits, %zu dump lines, %llu bytes in use\n", page_size,
           nops, (unsigned long long)m.commits, lines, (unsigned long long)bolt_tx_size(m.tx));
    /* The run must have grown real trees, or it proved little. */
    ASSERT_GT_INT(m.commits, nops / 20);
    ASSERT_GT_INT(bolt_tx_size(m.tx), 16 * (uint64_t)page_size);
    bolt_tx_rollback(m.tx);
    ASSERT_OK(bolt_close(m.db));
    ref_free(m.committed);
    ref_free(m.work);
}

static void test_model_4096(void)
{
    run_model(harness_seed(), 4096, 1500, true);
}

static void test_model_512(void)
{
    run_model(harness_seed() + 1, 512, 2500, true);
}

static void test_model_no_freelist_sync(void)
{
    run_model(harness_seed() + 2, 1024, 1500, false);
}

int main(void)
{
    HARNESS_BEGIN(20261122);
    RUN(test_model_512);
    RUN(test_model_4096);
    RUN(test_model_no_freelist_sync);
    return 0;
}
