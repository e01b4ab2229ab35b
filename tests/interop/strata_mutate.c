/*
 * strata_mutate.c: strata's turn in the interop suite's mixed histories.
 *
 *   strata_mutate -seed N [-freelist sync|nosync] DB
 *
 * Opens DB read-write with strata and commits ONE transaction that applies
 * exactly the mutation `boltcheck mutate -seed N` applies with the real
 * bbolt (tests/interop/boltcheck/mutate.go): the same walk over buckets in
 * dump order, the same SplitMix64 draws in the same order, the same keys,
 * values, deletes, sequences and nested bucket changes. The result depends
 * only on the previous logical content and the seed, so a history in which
 * bbolt and strata take turns on one file must dump exactly like a history
 * that bbolt alone applies to a copy. Exit 0 on success, 1 on any error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/bolt.h>

#define MUTSUB_PREFIX "mutsub-"
#define MUTTOP_PREFIX "mut-top-"

typedef struct bytes {
    unsigned char *data;
    size_t size;
} bytes;

typedef struct bytes_list {
    bytes *v;
    size_t n, cap;
} bytes_list;

/* A bucket path: the names from the top. */
typedef struct path {
    bytes_list names;
} path;

typedef struct path_list {
    path *v;
    size_t n, cap;
} path_list;

static void die(const char *what, int rc)
{
    fprintf(stderr, "strata_mutate: %s: %s\n", what, bolt_strerror(rc));
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "strata_mutate: out of memory\n");
        exit(1);
    }
    return p;
}

static bytes bytes_copy(const void *data, size_t size)
{
    bytes b = { xrealloc(NULL, size), size };
    if (size > 0)
        memcpy(b.data, data, size);
    return b;
}

static void list_push(bytes_list *l, bytes b)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = b;
}

static void list_free(bytes_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].data);
    free(l->v);
    *l = (bytes_list){ 0 };
}

static bool has_prefix(bolt_val k, const char *prefix)
{
    size_t n = strlen(prefix);
    return k.size >= n && memcmp(k.data, prefix, n) == 0;
}

/* boltcheck's rng: SplitMix64 with the state advanced before mixing. */
static uint64_t rng_next(strata_rng *r)
{
    return strata_rng_next(r);
}

/* n bytes, 8 at a time from little-endian draws (rng.bytes in gen.go). */
static bytes rng_bytes(strata_rng *r, size_t n)
{
    bytes b = { xrealloc(NULL, n), n };
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = rng_next(r);
        for (size_t j = 0; j < 8 && i + j < n; j++)
            b.data[i + j] = (unsigned char)(w >> (8 * j));
    }
    return b;
}

/* ---- the walk (collectBuckets) ---------------------------------------- */

static void paths_push(path_list *pl, const bytes_list *names)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->v = xrealloc(pl->v, pl->cap * sizeof *pl->v);
    }
    path p = { { 0 } };
    for (size_t i = 0; i < names->n; i++)
        list_push(&p.names, bytes_copy(names->v[i].data, names->v[i].size));
    pl->v[pl->n++] = p;
}

static void walk(bolt_bucket *b, bytes_list *prefix, path_list *out)
{
    paths_push(out, prefix);
    bolt_cursor *c;
    int rc = bolt_cursor_open(b, &c);
    if (rc != 0)
        die("cursor", rc);
    bolt_val k, v;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        if (v.data != NULL || has_prefix(k, MUTSUB_PREFIX))
            continue;
        bolt_bucket *child;
        bytes name = bytes_copy(k.data, k.size);
        if (bolt_bucket_open(b, (bolt_val){ name.data, name.size }, &child) == 0) {
            list_push(prefix, name);
            walk(child, prefix, out);
            prefix->n--;
        }
        free(name.data); /* opening buckets is not a change: c stays valid */
    }
    if (rc != BOLT_NOTFOUND)
        die("cursor", rc);
    bolt_cursor_close(c);
}

static bolt_bucket *resolve(bolt_tx *tx, const path *p)
{
    bolt_bucket *b = bolt_tx_root(tx);
    for (size_t i = 0; i < p->names.n; i++) {
        int rc = bolt_bucket_open(b, (bolt_val){ p->names.v[i].data, p->names.v[i].size }, &b);
        if (rc != 0)
            die("bucket vanished", rc);
    }
    return b;
}

/* ---- one bucket (mutateBucket) ----------------------------------------- */

static void mutate_bucket(bolt_bucket *b, strata_rng *r, uint64_t seed, bool set_max)
{
    bytes_list plain = { 0 }, subs = { 0 };
    bolt_cursor *c;
    int rc = bolt_cursor_open(b, &c);
    if (rc != 0)
        die("cursor", rc);
    bolt_val k, v;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        if (v.data == NULL) {
            if (has_prefix(k, MUTSUB_PREFIX))
                list_push(&subs, bytes_copy(k.data, k.size));
            continue;
        }
        list_push(&plain, bytes_copy(k.data, k.size));
    }
    if (rc != BOLT_NOTFOUND)
        die("cursor", rc);
    bolt_cursor_close(c);

    /* 1. up to two deletes at seeded positions, then one overwrite. */
    if (plain.n > 0) {
        size_t n = plain.n, victims[2];
        size_t nv = 0;
        victims[nv++] = (size_t)(rng_next(r) % n);
        if (n > 3) {
            size_t second = (size_t)(rng_next(r) % n);
            if (second != victims[0])
                victims[nv++] = second;
        }
        for (size_t i = 0; i < nv; i++) {
            bytes key = plain.v[victims[i]];
            if ((rc = bolt_bucket_delete(b, (bolt_val){ key.data, key.size })) != 0)
                die("delete", rc);
        }
        for (size_t i = 0; i < n; i++) {
            size_t j = (i + (size_t)(rng_next(r) % n)) % n;
            bool victim = false;
            for (size_t x = 0; x < nv; x++)
                victim |= victims[x] == j;
            if (!victim) {
                bytes val = rng_bytes(r, (size_t)(rng_next(r) % 300));
                rc = bolt_bucket_put(b, (bolt_val){ plain.v[j].data, plain.v[j].size },
                                     (bolt_val){ val.data, val.size });
                free(val.data);
                if (rc != 0)
                    die("overwrite", rc);
                break;
            }
        }
    }
    /* 2. three new keys; the first has an empty value. */
    for (int i = 0; i < 3; i++) {
        char key[48];
        int kn = snprintf(key, sizeof key, "m%llu-%d", (unsigned long long)seed, i);
        bytes val = i > 0 ? rng_bytes(r, (size_t)(rng_next(r) % 300)) : bytes_copy("", 0);
        rc = bolt_bucket_put(b, (bolt_val){ key, (size_t)kn }, (bolt_val){ val.data, val.size });
        free(val.data);
        if (rc != 0)
            die("put", rc);
    }
    /* 3. sequences. */
    uint64_t seq;
    if ((rc = bolt_bucket_next_sequence(b, &seq)) != 0)
        die("next sequence", rc);
    if (set_max && (rc = bolt_bucket_set_sequence(b, UINT64_MAX - seed % 4)) != 0)
        die("set sequence", rc);
    /* 4. nested buckets: drop the old ones, create (and on odd seeds drop) a new one. */
    for (size_t i = 0; i < subs.n; i++)
        if ((rc = bolt_bucket_delete_bucket(b, (bolt_val){ subs.v[i].data, subs.v[i].size })) != 0)
            die("delete bucket", rc);
    char name[48];
    int nn = snprintf(name, sizeof name, MUTSUB_PREFIX "%llu", (unsigned long long)seed);
    bolt_bucket *sub;
    if ((rc = bolt_bucket_create(b, (bolt_val){ name, (size_t)nn }, &sub)) != 0)
        die("create bucket", rc);
    bytes val = rng_bytes(r, 64);
    rc = bolt_bucket_put(sub, bolt_str("k"), (bolt_val){ val.data, val.size });
    free(val.data);
    if (rc != 0)
        die("put in new bucket", rc);
    if (seed % 2 == 1 && (rc = bolt_bucket_delete_bucket(b, (bolt_val){ name, (size_t)nn })) != 0)
        die("delete new bucket", rc);
    list_free(&plain);
    list_free(&subs);
}

/* ---- the transaction (mutateTx) ---------------------------------------- */

static void mutate_tx(bolt_tx *tx, uint64_t seed)
{
    strata_rng r;
    strata_rng_seed(&r, seed * 0x9E3779B97F4A7C15ull + 1);
    path_list paths = { 0 };
    bolt_bucket *root = bolt_tx_root(tx);
    bytes_list tops = { 0 };
    bolt_cursor *c;
    int rc = bolt_cursor_open(root, &c);
    if (rc != 0)
        die("cursor", rc);
    bolt_val k, v;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v))
        if (v.data == NULL)
            list_push(&tops, bytes_copy(k.data, k.size));
    if (rc != BOLT_NOTFOUND)
        die("cursor", rc);
    bolt_cursor_close(c);
    for (size_t i = 0; i < tops.n; i++) {
        bolt_bucket *b;
        if (bolt_bucket_open(root, (bolt_val){ tops.v[i].data, tops.v[i].size }, &b) != 0)
            continue;
        bytes_list prefix = { 0 };
        list_push(&prefix, bytes_copy(tops.v[i].data, tops.v[i].size));
        walk(b, &prefix, &paths);
        list_free(&prefix);
    }
    list_free(&tops);

    size_t max_at = paths.n > 0 ? (size_t)(seed % paths.n) : SIZE_MAX;
    for (size_t i = 0; i < paths.n; i++)
        mutate_bucket(resolve(tx, &paths.v[i]), &r, seed, i == max_at);

    /* The root: replace the transient top-level bucket. */
    bytes_list old = { 0 };
    if ((rc = bolt_cursor_open(root, &c)) != 0)
        die("cursor", rc);
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v))
        if (v.data == NULL && has_prefix(k, MUTTOP_PREFIX))
            list_push(&old, bytes_copy(k.data, k.size));
    bolt_cursor_close(c);
    for (size_t i = 0; i < old.n; i++)
        if ((rc = bolt_bucket_delete_bucket(root, (bolt_val){ old.v[i].data, old.v[i].size })) != 0)
            die("delete top bucket", rc);
    list_free(&old);
    char name[48], val[24];
    int nn = snprintf(name, sizeof name, MUTTOP_PREFIX "%llu", (unsigned long long)seed);
    int vn = snprintf(val, sizeof val, "%llu", (unsigned long long)seed);
    bolt_bucket *top;
    uint64_t seq;
    if ((rc = bolt_bucket_create(root, (bolt_val){ name, (size_t)nn }, &top)) != 0 ||
        (rc = bolt_bucket_put(top, bolt_str("seed"), (bolt_val){ val, (size_t)vn })) != 0 ||
        (rc = bolt_bucket_next_sequence(top, &seq)) != 0)
        die("top bucket", rc);
    for (size_t i = 0; i < paths.n; i++)
        list_free(&paths.v[i].names);
    free(paths.v);
}

int main(int argc, char **argv)
{
    uint64_t seed = 0;
    const char *mode = "sync", *dbpath = NULL;
    bool have_seed = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-seed") == 0 && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 10);
            have_seed = *end == '\0';
        } else if (strcmp(argv[i], "-freelist") == 0 && i + 1 < argc) {
            mode = argv[++i];
        } else if (dbpath == NULL && argv[i][0] != '-') {
            dbpath = argv[i];
        } else {
            dbpath = NULL;
            break;
        }
    }
    if (!have_seed || dbpath == NULL ||
        (strcmp(mode, "sync") != 0 && strcmp(mode, "nosync") != 0)) {
        fprintf(stderr, "usage: strata_mutate -seed N [-freelist sync|nosync] DB\n");
        return 2;
    }
    bolt_options opt;
    bolt_options_init(&opt);
    opt.no_freelist_sync = strcmp(mode, "nosync") == 0;
    opt.timeout_ms = 5000;
    bolt_db *db;
    int rc = bolt_open(dbpath, &opt, &db);
    if (rc != 0)
        die(dbpath, rc);
    bolt_tx *tx;
    if ((rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx)) != 0)
        die("begin", rc);
    mutate_tx(tx, seed);
    if ((rc = bolt_tx_commit(tx)) != 0)
        die("commit", rc);
    if ((rc = bolt_close(db)) != 0)
        die("close", rc);
    return 0;
}
