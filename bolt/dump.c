/*
 * dump.c: the canonical logical dump, `bolt-dump v1` (the grammar is in the
 * project docs and matches boltinspect's): one record per line,
 * depth-first, entries in key order, a bucket's line at its key's position
 * followed at once by its contents, then `end buckets=B keys=K`.
 *
 * Rules:
 *   1. PATH is the hex bucket names from the top joined by '/', never
 *      hashed; a plain key in the root bucket has PATH "-".
 *   2. KEY and VALUE are lower-case hex, "-" when empty, and
 *      sha256:LEN:HEX when longer than max_hex (0 = never).
 *   3. A corrupt file ends the dump with BOLT_ECORRUPT, never with another
 *      code or unbounded recursion: a bucket element its own key cannot
 *      find is corrupt, and nesting is capped at BOLT_MAX_NESTING levels (a
 *      cycle of bucket roots would otherwise recurse forever). Each level's
 *      cursor lives on the heap, so the cap costs little stack.
 *   4. Each page is read once per dump (bolt_visited, check.c rule 5): a
 *      subtree shared by two buckets, a bucket rooted at its parent's leaf,
 *      or a cycle ends the dump with BOLT_ECORRUPT and the page named,
 *      after at most one pass over the file (it used to print the shared
 *      subtree again and again: gigabytes from a 4 MiB file). Keys must
 *      come strictly in order (bolt__walk_order).
 *   5. The walk itself (rules 3 and 4) is bolt_tx_walk, public, so that a
 *      dump in another form (the CLI's JSON) is the same walk with the same
 *      checks; the canonical dump is one user of it.
 */
#include <errno.h>
#include <stdlib.h>

#include "bolt_int.h"

/* ---- the walk (rules 3 and 4), shared by the dump and bolt_tx_walk's callers ---- */

typedef struct walk_ctx {
    const bolt_walk_fns *fns;
    void *arg;
    bolt_visited *seen; /* rule 4 */
} walk_ctx;

static int walk_bucket(walk_ctx *w, bolt_bucket *b, int depth);

/* Rule 3: a nested bucket's contents, if the nesting cap allows. */
static int walk_child(walk_ctx *w, bolt_bucket *b, bolt_val name, int depth)
{
    if (depth >= BOLT_MAX_NESTING)
        return bolt__corrupt(b->tx->db, b->root, "buckets nested too deep (a cycle?)");
    bolt_bucket *child;
    int rc = bolt_bucket_open(b, name, &child);
    if (rc == BOLT_NOTFOUND)
        rc = bolt__corrupt(b->tx->db, b->root,
                           "bucket element not found by its own key (keys out of order)");
    if (rc != 0)
        return rc;
    if (w->fns->bucket != NULL && (rc = w->fns->bucket(w->arg, depth, name, child->sequence)) != 0)
        return rc;
    rc = walk_bucket(w, child, depth + 1);
    if (rc == 0 && w->fns->bucket_end != NULL)
        rc = w->fns->bucket_end(w->arg, depth);
    return rc;
}

static int walk_bucket(walk_ctx *w, bolt_bucket *b, int depth)
{
    int rc = bolt_visited_add(w->seen, b); /* rule 4 */
    if (rc != 0)
        return rc;
    bolt_cursor *c = strata_malloc(sizeof *c); /* rule 3: not on the stack */
    if (c == NULL)
        return -ENOMEM;
    bolt__cursor_init(c, b);
    bolt_val k, v, prev = { NULL, 0 };
    uint32_t flags;
    bool have_prev = false;
    for (rc = bolt__cursor_first(c, &k, &v, &flags); rc == 0;
         rc = bolt__cursor_next(c, &k, &v, &flags)) {
        rc = bolt__walk_order(c, prev, have_prev, k); /* rule 4 */
        if (rc != 0)
            break;
        prev = k;
        have_prev = true;
        if (flags & BOLT_LEAF_BUCKET)
            rc = walk_child(w, b, k, depth);
        else if (w->fns->key != NULL)
            rc = w->fns->key(w->arg, depth, k, v);
        if (rc != 0)
            break;
    }
    strata_free(c);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

int bolt_tx_walk(bolt_tx *tx, const bolt_walk_fns *fns, void *arg)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    if (fns == NULL)
        return STRATA_EMISUSE;
    walk_ctx w = { fns, arg, NULL };
    rc = bolt_visited_new(tx, &w.seen);
    if (rc != 0)
        return rc;
    rc = walk_bucket(&w, &tx->root, 0);
    bolt_visited_free(w.seen);
    return rc;
}

/* ---- the canonical dump ------------------------------------------------------ */

typedef struct dump_ctx {
    FILE *out;
    uint64_t max_hex;
    char *path;
    size_t plen, pcap;
    size_t *saved; /* path lengths to return to, one per open bucket */
    size_t nsaved, capsaved;
    uint64_t buckets, keys;
} dump_ctx;

static void put_hex(dump_ctx *d, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char buf[512];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        buf[k++] = hex[p[i] >> 4];
        buf[k++] = hex[p[i] & 15];
        if (k == sizeof buf) {
            fwrite(buf, 1, k, d->out);
            k = 0;
        }
    }
    fwrite(buf, 1, k, d->out);
}

static void put_field(dump_ctx *d, bolt_val v)
{
    if (v.size == 0) {
        fputc('-', d->out);
    } else if (d->max_hex != 0 && v.size > d->max_hex) {
        uint8_t h[32];
        strata_sha256(v.data, v.size, h);
        fprintf(d->out, "sha256:%zu:", v.size);
        put_hex(d, h, sizeof h);
    } else {
        put_hex(d, v.data, v.size);
    }
}

static int path_push(dump_ctx *d, bolt_val name)
{
    size_t need = d->plen + 1 + 2 * name.size + 1;
    if (need > d->pcap) {
        size_t cap = d->pcap ? d->pcap : 256;
        while (cap < need)
            cap *= 2;
        char *p = strata_realloc(d->path, cap);
        if (p == NULL)
            return -ENOMEM;
        d->path = p;
        d->pcap = cap;
    }
    if (d->nsaved == d->capsaved) {
        size_t cap = d->capsaved ? d->capsaved * 2 : 16;
        size_t *s = strata_realloc(d->saved, cap * sizeof *s);
        if (s == NULL)
            return -ENOMEM;
        d->saved = s;
        d->capsaved = cap;
    }
    d->saved[d->nsaved++] = d->plen;
    if (d->plen > 0)
        d->path[d->plen++] = '/';
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = name.data;
    for (size_t i = 0; i < name.size; i++) {
        d->path[d->plen++] = hex[s[i] >> 4];
        d->path[d->plen++] = hex[s[i] & 15];
    }
    d->path[d->plen] = '\0';
    return 0;
}

static int dump_key(void *arg, int depth, bolt_val k, bolt_val v)
{
    dump_ctx *d = arg;
    d->keys++;
    fprintf(d->out, "key %s ", depth == 0 ? "-" : d->path);
    put_field(d, k);
    fputc(' ', d->out);
    put_field(d, v);
    fputc('\n', d->out);
    return ferror(d->out) ? -EIO : 0;
}

static int dump_bucket_begin(void *arg, int depth, bolt_val name, uint64_t sequence)
{
    (void)depth;
    dump_ctx *d = arg;
    int rc = path_push(d, name);
    if (rc != 0)
        return rc;
    d->buckets++;
    fprintf(d->out, "bucket %s seq=%llu\n", d->path, (unsigned long long)sequence);
    return ferror(d->out) ? -EIO : 0;
}

static int dump_bucket_end(void *arg, int depth)
{
    (void)depth;
    dump_ctx *d = arg;
    d->plen = d->saved[--d->nsaved];
    d->path[d->plen] = '\0';
    return 0;
}

int bolt_tx_dump(bolt_tx *tx, FILE *out, uint64_t max_hex)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    static const bolt_walk_fns fns = { dump_key, dump_bucket_begin, dump_bucket_end };
    dump_ctx d = { .out = out, .max_hex = max_hex };
    fputs("bolt-dump v1\n", out);
    rc = bolt_tx_walk(tx, &fns, &d);
    strata_free(d.path);
    strata_free(d.saved);
    if (rc != 0)
        return rc;
    fprintf(out, "end buckets=%llu keys=%llu\n", (unsigned long long)d.buckets,
            (unsigned long long)d.keys);
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
