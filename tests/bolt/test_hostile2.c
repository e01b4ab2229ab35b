/*
 * test_hostile2.c: issue 21's engine findings, each as the file that showed
 * it, built by the structural mutation generator (hostile.h):
 *   1. walks (dump, compact in both modes, a bolt_visited walk as hash and
 *      defrag make) stop at a page already entered, name it, and do work
 *      bounded by the file: shared subtrees between buckets or branch
 *      elements, bucket roots at their parent's leaf or at the root page,
 *      cycles;
 *   2. compact refuses keys out of order (and every shape of 1), removes
 *      its half-written destination, and never writes a file that fails
 *      check; random structural mutations (seeded) hold the same rules;
 *   4. a current meta with txid 2^64-1: the commit is refused, nothing is
 *      lost, a compacted copy writes again;
 *   5. a freelist listing a page in use fails a read-write open (the cheap
 *      checks always, the walk by default), and so does one whose ids are
 *      out of order, naming the page;
 *   6. a short address space (a replaced mmap, and RLIMIT_AS where no
 *      sanitizer reserves it): the map falls back to smaller sizes, and
 *      after a failed remap a commit that fits the map still succeeds;
 *   issue 19: compaction and bulk load write through the I/O table: every
 *      injected write and sync failure fails the compact cleanly, and a
 *      pwrite that returns 0 ends it with EIO instead of a loop.
 */
#include "bolt_test.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bolt_int.h"
#include "hostile.h"

#define PS 512

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOSTILE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
        __has_feature(memory_sanitizer)
#define HOSTILE_SANITIZED 1
#endif
#endif

static void count_problem(void *arg, const char *problem)
{
    (void)problem;
    (*(int *)arg)++;
}

static int fill(bolt_tx *tx, void *arg)
{
    int nkeys = arg != NULL ? *(const int *)arg : 300;
    bolt_bucket *root = bolt_tx_root(tx), *a, *b, *n, *c;
    char k[32], v[32];
    ASSERT_OK(bolt_bucket_create(root, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_create(root, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_create(b, bolt_str("n"), &n));
    ASSERT_OK(bolt_bucket_create(root, bolt_str("c"), &c));
    ASSERT_OK(bolt_bucket_set_sequence(b, 77));
    for (int i = 0; i < nkeys; i++) {
        snprintf(k, sizeof k, "k%05d", i);
        snprintf(v, sizeof v, "value-%d-of-a", i);
        ASSERT_OK(bolt_bucket_put(a, bolt_str(k), bolt_str(v)));
        snprintf(v, sizeof v, "value-%d-of-b", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
        if (i < nkeys / 2)
            ASSERT_OK(bolt_bucket_put(n, bolt_str(k), bolt_str("nested")));
    }
    ASSERT_OK(bolt_bucket_put(c, bolt_str("x"), bolt_str("inline")));
    return 0;
}

static int thin(bolt_tx *tx, void *arg)
{
    int nkeys = arg != NULL ? *(const int *)arg : 300;
    bolt_bucket *a;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    char k[32];
    for (int i = 0; i < nkeys; i += 3) {
        snprintf(k, sizeof k, "k%05d", i);
        ASSERT_OK(bolt_bucket_delete(a, bolt_str(k)));
    }
    return 0;
}

/*
 * The base file (page size 512, nested paged buckets, free pages) with
 * nkeys keys per bucket; its dump in *dump.
 */
static unsigned char *make_base_n(int nkeys, size_t *len, char **dump)
{
    char path[4096];
    harness_path(path, sizeof path, "base.db");
    unlink(path);
    bolt_options o = bt_opts();
    o.page_size = PS;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_update(db, fill, &nkeys));
    ASSERT_OK(bolt_update(db, thin, &nkeys));
    bt_check(db);
    *dump = bt_dump(db, 0);
    ASSERT_OK(bolt_close(db));
    unsigned char *img = bt_read_file(path, len);
    ASSERT_NOT_NULL(img);
    return img;
}

static unsigned char *make_base(size_t *len, char **dump)
{
    return make_base_n(300, len, dump);
}

static void write_img(const char *name, const unsigned char *img, size_t len, char *path,
                      size_t size)
{
    harness_path(path, size, name);
    unlink(path);
    bt_write_file(path, img, len);
}

/* Dump what db holds into a memstream: the status, and the bytes written in *n. */
static int dump_into(bolt_db *db, size_t *n)
{
    char *s = NULL;
    FILE *f = open_memstream(&s, n);
    ASSERT_NOT_NULL(f);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    int rc = bolt_tx_dump(tx, f, 0);
    bolt_tx_rollback(tx);
    fclose(f);
    free(s);
    return rc;
}

/* A walk over every bucket through cursors, each bucket added before its keys are read. */
static int visited_bucket(bolt_visited *v, bolt_bucket *b, int nesting)
{
    if (nesting > 64)
        return -ELOOP; /* the set must have stopped it long before */
    int rc = bolt_visited_add(v, b);
    bolt_cursor *c;
    if (rc == 0)
        rc = bolt_cursor_open(b, &c);
    if (rc != 0)
        return rc;
    bolt_val k, val;
    for (rc = bolt_cursor_first(c, &k, &val); rc == 0; rc = bolt_cursor_next(c, &k, &val)) {
        bolt_bucket *child;
        if (val.data != NULL)
            continue;
        rc = bolt_bucket_open(b, k, &child);
        if (rc == 0)
            rc = visited_bucket(v, child, nesting + 1);
        if (rc != 0)
            break;
    }
    bolt_cursor_close(c);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

static int visited_walk(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_visited *v;
    ASSERT_OK(bolt_visited_new(tx, &v));
    int rc = visited_bucket(v, bolt_tx_root(tx), 0);
    bolt_visited_free(v);
    bolt_tx_rollback(tx);
    return rc;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* The page the last corruption names ("page N: ..."), or UINT64_MAX. */
static bolt_pgid named_page(bolt_db *db)
{
    char why[256];
    bolt_db_last_corruption(db, why, sizeof why);
    unsigned long long id;
    if (sscanf(why, "page %llu:", &id) != 1)
        return UINT64_MAX;
    return (bolt_pgid)id;
}

static void test_mutations(void)
{
    size_t len, clean_n = 0;
    char *clean;
    unsigned char *base = make_base(&len, &clean);
    clean_n = strlen(clean);
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    ASSERT_TRUE(hm_nth(&m, HM_BUCKET_ROOT, 0) != NULL && hm_nth(&m, HM_BRANCH_CHILD, 0) != NULL);
    const hm_mutation shapes[] = { HM_SHARED_BUCKET_ROOT, HM_ROOT_AT_PARENT_LEAF,
                                   HM_ROOT_AT_META_ROOT,  HM_SHARED_CHILD,
                                   HM_CHILD_AT_PARENT,    HM_KEYS_SWAPPED };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (size_t pick = 0; pick < 3; pick++) {
            unsigned char *img = malloc(len);
            ASSERT_NOT_NULL(img);
            memcpy(img, base, len);
            bolt_pgid at;
            if (hm_apply(img, len, &m, shapes[s], pick, &at) != 0) {
                free(img);
                continue;
            }
            char path[4096], dst[4096];
            write_img("mut.db", img, len, path, sizeof path);
            printf("  %s (pick %zu, page %llu)\n", hm_name(shapes[s]), pick,
                   (unsigned long long)at);
            bolt_options o = bt_opts();
            o.read_only = true;
            bolt_db *db;
            ASSERT_OK(bolt_open(path, &o, &db));
            /* Finding 1: dump stops, names a page, and writes at most about the clean dump. */
            size_t n = 0;
            ASSERT_RC(dump_into(db, &n), BOLT_ECORRUPT);
            ASSERT_LE_U64(n, 2 * clean_n + 4096);
            ASSERT_TRUE(named_page(db) < m.meta.pgid);
            /* Finding 2: compact in both modes refuses, naming a page; no destination left. */
            for (int mode = 0; mode < 2; mode++) {
                harness_path(dst, sizeof dst, "mut-compact.db");
                unlink(dst);
                bolt_compact_options co = { sizeof co, mode ? 4096 : 0, true, 0, NULL, NULL };
                ASSERT_RC(bolt_compact(db, dst, &co, NULL), BOLT_ECORRUPT);
                ASSERT_FALSE(file_exists(dst));
                ASSERT_TRUE(named_page(db) < m.meta.pgid);
            }
            /* The walk hash and defrag make: every shape of finding 1 stops it. */
            if (shapes[s] != HM_KEYS_SWAPPED)
                ASSERT_RC(visited_walk(db), BOLT_ECORRUPT);
            /* check agrees that the source is damaged. */
            bolt_tx *tx;
            ASSERT_OK(bolt_tx_begin(db, 0, &tx));
            int problems = 0;
            ASSERT_RC(bolt_tx_check(tx, count_problem, &problems), BOLT_ECORRUPT);
            bolt_tx_rollback(tx);
            ASSERT_OK(bolt_close(db));
            free(img);
        }
    }
    hm_free(&m);
    free(clean);
    free(base);
}

/*
 * Random structural mutations (seeded): whatever the damage, dump's output
 * stays bounded, and a compact that succeeds wrote a file that passes
 * check and holds exactly what the source's dump shows.
 */
static void test_random_mutations(void)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base(&len, &clean);
    size_t clean_n = strlen(clean);
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    int refused = 0, copied = 0;
    for (int iter = 0; iter < 150; iter++) {
        unsigned char *img = malloc(len);
        ASSERT_NOT_NULL(img);
        memcpy(img, base, len);
        ASSERT_EQ_INT(hm_random(img, &m, &r), 0);
        if (strata_rng_below(&r, 3) == 0)
            ASSERT_EQ_INT(hm_random(img, &m, &r), 0); /* sometimes two at once */
        char path[4096], dst[4096];
        write_img("rnd.db", img, len, path, sizeof path);
        bolt_options o = bt_opts();
        o.read_only = true;
        bolt_db *db;
        if (bolt_open(path, &o, &db) != 0) {
            free(img);
            continue;
        }
        size_t n = 0;
        int drc = dump_into(db, &n);
        ASSERT_TRUE(drc == 0 || drc == BOLT_ECORRUPT);
        ASSERT_LE_U64(n, 2 * clean_n + 4096);
        char *src_dump = drc == 0 ? bt_dump(db, 0) : NULL;
        for (int mode = 0; mode < 2; mode++) {
            harness_path(dst, sizeof dst, "rnd-compact.db");
            unlink(dst);
            bolt_compact_options co = { sizeof co, mode ? 4096 : 0, true, 0, NULL, NULL };
            int rc = bolt_compact(db, dst, &co, NULL);
            if (rc != 0) {
                ASSERT_RC(rc, BOLT_ECORRUPT);
                ASSERT_FALSE(file_exists(dst));
                refused++;
                continue;
            }
            copied++;
            ASSERT_NOT_NULL(src_dump); /* dump and compact agree on what is readable */
            bolt_options co2 = bt_opts();
            co2.read_only = true;
            bolt_db *out;
            ASSERT_OK(bolt_open(dst, &co2, &out));
            bt_check(out);
            char *got = bt_dump(out, 0);
            ASSERT_EQ_STR(got, src_dump);
            free(got);
            ASSERT_OK(bolt_close(out));
        }
        free(src_dump);
        ASSERT_OK(bolt_close(db));
        free(img);
    }
    printf("  %d copies refused, %d made (each passed check)\n", refused, copied);
    ASSERT_TRUE(refused > 0);
    hm_free(&m);
    free(clean);
    free(base);
}

static int put_one(bolt_tx *tx, void *arg)
{
    bolt_bucket *a;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    return bolt_bucket_put(a, bolt_str((const char *)arg), bolt_str("new"));
}

static void test_txid_max(void)
{
    size_t len;
    char *clean;
    unsigned char *img = make_base(&len, &clean);
    hm_map m;
    ASSERT_EQ_INT(hm_scan(img, len, &m), 0);
    bolt_pgid at;
    ASSERT_EQ_INT(hm_apply(img, len, &m, HM_TXID_MAX, 0, &at), 0);
    char path[4096], dst[4096];
    write_img("txid.db", img, len, path, sizeof path);
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(put_one(tx, "zz-new"));
    ASSERT_RC(bolt_tx_commit(tx), BOLT_ETXIDEXHAUSTED);
    ASSERT_RC(bolt_update(db, put_one, "zz-new2"), BOLT_ETXIDEXHAUSTED);
    /* Nothing lost, nothing half-written: the file is as it was. */
    char *d = bt_dump(db, 0);
    ASSERT_EQ_STR(d, clean);
    free(d);
    ASSERT_OK(bolt_close(db));
    ASSERT_OK(bolt_open(path, &o, &db));
    d = bt_dump(db, 0);
    ASSERT_EQ_STR(d, clean);
    free(d);
    bt_check(db);
    /* A compacted copy starts again from a low txid and takes writes. */
    harness_path(dst, sizeof dst, "txid-compact.db");
    unlink(dst);
    ASSERT_OK(bolt_compact(db, dst, NULL, NULL));
    ASSERT_OK(bolt_close(db));
    ASSERT_OK(bolt_open(dst, &o, &db));
    ASSERT_OK(bolt_update(db, put_one, "zz-new"));
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    hm_free(&m);
    free(clean);
    free(img);
}

static void test_freelist_in_use(void)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base(&len, &clean);
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    ASSERT_TRUE(hm_nth(&m, HM_FREE_ID, 0) != NULL);
    unsigned char *img = malloc(len);
    ASSERT_NOT_NULL(img);
    memcpy(img, base, len);
    bolt_pgid at;
    ASSERT_EQ_INT(hm_apply(img, len, &m, HM_FREE_IN_USE, 0, &at), 0);
    char path[4096];
    write_img("fl.db", img, len, path, sizeof path);
    bolt_options o = bt_opts();
    bolt_db *db;
    /* The default (a small file): the walk finds the bucket root in the list. */
    ASSERT_RC(bolt_open(path, &o, &db), BOLT_ECORRUPT);
    o.freelist_check = BOLT_FREELIST_CHECK_ALWAYS;
    ASSERT_RC(bolt_open(path, &o, &db), BOLT_ECORRUPT);
    /* The message names the page: open a read-only handle to read it. */
    o.freelist_check = BOLT_FREELIST_CHECK_NEVER;
    ASSERT_OK(bolt_open(path, &o, &db)); /* the caller's choice: cheap checks only */
    ASSERT_OK(bolt_close(db));
    o.freelist_check = BOLT_FREELIST_CHECK_AUTO;
    /* Read-only opens never load the freelist: the data stays readable. */
    o.read_only = true;
    ASSERT_OK(bolt_open(path, &o, &db));
    char *d = bt_dump(db, 0);
    ASSERT_EQ_STR(d, clean);
    free(d);
    ASSERT_OK(bolt_close(db));
    o.read_only = false;

    /* Cheap checks, whatever freelist_check says: the list's own page and the root. */
    o.freelist_check = BOLT_FREELIST_CHECK_NEVER;
    const hm_ptr *f = hm_nth(&m, HM_FREE_ID, 0);
    bolt_pgid own[] = { m.meta.freelist, m.meta.root };
    for (int i = 0; i < 2; i++) {
        memcpy(img, base, len);
        bolt__st64(img + f->off, own[i]);
        size_t first = f->off, n = 0;
        for (size_t j = 0; j < m.n; j++)
            if (m.ptrs[j].kind == HM_FREE_ID) {
                first = m.ptrs[j].off < first ? m.ptrs[j].off : first;
                n++;
            }
        qsort(img + first, n, 8, hm_cmp_u64);
        write_img("fl2.db", img, len, path, sizeof path);
        ASSERT_RC(bolt_open(path, &o, &db), BOLT_ECORRUPT);
    }
    hm_free(&m);
    free(img);
    free(clean);
    free(base);
}

/*
 * 5 (round 3): a stored freelist whose ids are out of order fails a
 * read-write open whatever freelist_check says, naming the freelist page
 * and the id (bbolt sorts such a list on read; strata refuses it, as only a
 * damaged page holds one). check reports it; read-only opens still read.
 */
static void test_freelist_unsorted(void)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base(&len, &clean);
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    const hm_ptr *f0 = hm_nth(&m, HM_FREE_ID, 0), *f1 = hm_nth(&m, HM_FREE_ID, 1);
    ASSERT_TRUE(f0 != NULL && f1 != NULL);
    ASSERT_TRUE(f0->value < f1->value && f1->off == f0->off + 8);
    unsigned char *img = malloc(len);
    ASSERT_NOT_NULL(img);
    memcpy(img, base, len);
    bolt__st64(img + f0->off, f1->value); /* the first two ids swapped */
    bolt__st64(img + f1->off, f0->value);
    char path[4096], why[256], want[128];
    write_img("flu.db", img, len, path, sizeof path);
    snprintf(want, sizeof want, "page %llu: freelist id %llu (entry 1 of ",
             (unsigned long long)m.meta.freelist, (unsigned long long)f0->value);
    bolt_options o = bt_opts();
    bolt_db *db;
    const bolt_freelist_check modes[] = { BOLT_FREELIST_CHECK_NEVER, BOLT_FREELIST_CHECK_AUTO,
                                          BOLT_FREELIST_CHECK_ALWAYS };
    for (size_t i = 0; i < 3; i++) {
        o.freelist_check = modes[i];
        ASSERT_RC(bolt_open(path, &o, &db), BOLT_ECORRUPT);
        bolt_open_last_corruption(why, sizeof why);
        ASSERT_TRUE(strstr(why, want) == why);
        ASSERT_TRUE(strstr(why, "not in ascending order") != NULL);
    }
    o.freelist_check = BOLT_FREELIST_CHECK_AUTO;
    o.read_only = true;
    ASSERT_OK(bolt_open(path, &o, &db)); /* the data stays readable */
    bolt_open_last_corruption(why, sizeof why);
    ASSERT_EQ_STR(why, ""); /* a successful open clears it */
    char *d = bt_dump(db, 0);
    ASSERT_EQ_STR(d, clean);
    free(d);
    bolt_tx *tx;
    int problems = 0;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_RC(bolt_tx_check(tx, count_problem, &problems), BOLT_ECORRUPT);
    ASSERT_EQ_INT(problems, 1);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    /* The same ids in order (the base file) open read-write. */
    o.read_only = false;
    write_img("flu.db", base, len, path, sizeof path);
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_close(db));
    hm_free(&m);
    free(img);
    free(clean);
    free(base);
}

/* bolt_tx_walk: the dump's walk, public (the CLI's JSON dump is built on it). */
typedef struct walk_count {
    int depth, max_depth;
    size_t keys, buckets, ends, stop_after;
} walk_count;

static int wc_key(void *arg, int depth, bolt_val k, bolt_val v)
{
    walk_count *w = arg;
    (void)k;
    (void)v;
    ASSERT_EQ_INT(depth, w->depth);
    w->keys++;
    return w->stop_after != 0 && w->keys == w->stop_after ? -EINTR : 0;
}

static int wc_bucket(void *arg, int depth, bolt_val name, uint64_t seq)
{
    walk_count *w = arg;
    ASSERT_EQ_INT(depth, w->depth);
    if (name.size == 1 && memcmp(name.data, "b", 1) == 0)
        ASSERT_EQ_U64(seq, 77);
    w->buckets++;
    w->depth++;
    w->max_depth = w->depth > w->max_depth ? w->depth : w->max_depth;
    return 0;
}

static int wc_end(void *arg, int depth)
{
    walk_count *w = arg;
    w->depth--;
    ASSERT_EQ_INT(depth, w->depth);
    w->ends++;
    return 0;
}

static void test_walk(void)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base(&len, &clean);
    char path[4096];
    write_img("walk.db", base, len, path, sizeof path);
    bolt_options o = bt_opts();
    o.read_only = true;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    static const bolt_walk_fns fns = { wc_key, wc_bucket, wc_end };
    walk_count w = { 0 };
    ASSERT_OK(bolt_tx_walk(tx, &fns, &w));
    /* fill + thin: a 200 keys, b 300, b/n 150, c 1; buckets a, b, b/n, c. */
    ASSERT_EQ_U64(w.keys, 200 + 300 + 150 + 1);
    ASSERT_EQ_U64(w.buckets, 4);
    ASSERT_EQ_U64(w.ends, 4);
    ASSERT_EQ_INT(w.depth, 0);
    ASSERT_EQ_INT(w.max_depth, 2);
    walk_count stop = { .stop_after = 10 };
    ASSERT_RC(bolt_tx_walk(tx, &fns, &stop), -EINTR);
    ASSERT_EQ_U64(stop.keys, 10);
    ASSERT_RC(bolt_tx_walk(tx, NULL, NULL), STRATA_EMISUSE);
    static const bolt_walk_fns none = { NULL, NULL, NULL };
    ASSERT_OK(bolt_tx_walk(tx, &none, NULL));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    /* A shared subtree: the walk stops, naming the page (as the dump does). */
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    unsigned char *img = malloc(len);
    ASSERT_NOT_NULL(img);
    memcpy(img, base, len);
    bolt_pgid at;
    ASSERT_EQ_INT(hm_apply(img, len, &m, HM_SHARED_BUCKET_ROOT, 0, &at), 0);
    write_img("walk2.db", img, len, path, sizeof path);
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    walk_count bad = { 0 };
    ASSERT_RC(bolt_tx_walk(tx, &fns, &bad), BOLT_ECORRUPT);
    ASSERT_TRUE(named_page(db) != UINT64_MAX);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    hm_free(&m);
    free(img);
    free(clean);
    free(base);
}

/* Progress of the long walks (bolt_tx_check_progress, a visited set's) and its counts. */
typedef struct prog {
    uint64_t calls, last_done, last_total;
    bool backwards;
} prog;

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    prog *p = arg;
    if (p->calls > 0 && done < p->last_done)
        p->backwards = true;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void test_progress(void)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base_n(3000, &len, &clean);
    char path[4096];
    write_img("prog.db", base, len, path, sizeof path);
    bolt_options o = bt_opts();
    o.read_only = true;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t pgid = tx->meta.pgid;
    prog p = { 0 };
    int problems = 0;
    ASSERT_OK(bolt_tx_check_progress(tx, count_problem, &problems, on_progress, &p));
    ASSERT_TRUE(p.calls >= 2 && !p.backwards);
    /* A clean file: the last call has every page to enter entered (not the free ones). */
    ASSERT_EQ_U64(p.last_done, p.last_total);
    ASSERT_TRUE(p.last_done > pgid / 2 && p.last_done < pgid);
    /* A visited set over every bucket: the pages it entered, the pairs they hold. */
    bolt_visited *v;
    ASSERT_OK(bolt_visited_new(tx, &v));
    prog q = { 0 };
    bolt_visited_set_progress(v, on_progress, &q);
    bolt_bucket *root = bolt_tx_root(tx), *a, *b, *n, *c;
    ASSERT_OK(bolt_visited_add(v, root));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_open(b, bolt_str("n"), &n));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("c"), &c));
    ASSERT_OK(bolt_visited_add(v, a));
    ASSERT_OK(bolt_visited_add(v, b));
    ASSERT_OK(bolt_visited_add(v, n));
    ASSERT_OK(bolt_visited_add(v, c)); /* inline: its one pair counts, no page */
    bolt_visited_counts k;
    bolt_visited_counts_get(v, &k);
    ASSERT_EQ_U64(k.pairs, 2000 + 3000 + 1500 + 1);
    ASSERT_TRUE(k.bytes > k.pairs * 16);
    ASSERT_EQ_U64(k.pages, p.last_done); /* the same pages as check's walk */
    /* Every 1024 pages from the first one: one call for these 900-odd pages. */
    ASSERT_TRUE(q.calls == 1 && q.last_done == 1 && q.last_total == pgid);
    bolt_visited_free(v);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    free(clean);
    free(base);
}

/* ---- a short address space ------------------------------------------------ */

static size_t map_limit; /* mmap of more bytes fails with ENOMEM */
static size_t largest_map;

static void *short_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (len > map_limit) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    if (len > largest_map)
        largest_map = len;
    return bolt__os_default()->mmap(addr, len, prot, flags, fd, off);
}

static int put_big(bolt_tx *tx, void *arg)
{
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("big"), &b));
    size_t n = *(size_t *)arg;
    unsigned char *v = calloc(1, n);
    ASSERT_NOT_NULL(v);
    char k[32];
    snprintf(k, sizeof k, "v%zu", n);
    int rc = bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, n });
    free(v);
    return rc;
}

static int del_a_key(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *a;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    return bolt_bucket_delete(a, bolt_str("k00001"));
}

static void test_short_address_space(void)
{
    char path[4096];
    harness_path(path, sizeof path, "short.db");
    unlink(path);
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_update(db, fill, NULL));
    size_t n = 1200 * 1024;
    ASSERT_OK(bolt_update(db, put_big, &n)); /* a file of about 1.5 MiB */
    ASSERT_OK(bolt_close(db));

    struct bolt_os os = *bolt__os_default();
    os.mmap = short_mmap;
    map_limit = 2u << 20;
    largest_map = 0;
    o.os = &os;
    o.mmap_reserve = 0; /* the default: max(1 GiB, 4 x file size) */
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_TRUE(largest_map <= map_limit && largest_map > 0);
    printf("  reserved %zu bytes under a %zu-byte limit\n", largest_map, map_limit);
    bt_check(db);
    /* Past the reservation: the remap fails, and so does this commit... */
    n = 1500 * 1024;
    ASSERT_RC(bolt_update(db, put_big, &n), BOLT_EMMAPTOOLARGE);
    /* ...but a commit that fits the map does not: it used to fail until reopen. */
    ASSERT_OK(bolt_update(db, del_a_key, NULL));
    ASSERT_OK(bolt_update(db, del_a_key, NULL));
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    o.os = NULL;
    o.read_only = true;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    bolt_bucket *a;
    bolt_val v;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_RC(bolt_bucket_get(a, bolt_str("k00001"), &v), BOLT_NOTFOUND);
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));

#ifdef HOSTILE_SANITIZED
    printf("  RLIMIT_AS case skipped: the sanitizer reserves the address space\n");
#else
    /* The real thing, in a child: an address space of what it uses now + 256 MiB. */
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (f == NULL || fscanf(f, "%lu", &pages) != 1)
            _exit(3);
        fclose(f);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(4);
        bolt_options ro;
        bolt_options_init(&ro);
        bolt_db *cdb;
        if (bolt_open(path, &ro, &cdb) != 0) /* default reservation: 1 GiB */
            _exit(5);
        if (bolt_update(cdb, del_a_key, NULL) != 0)
            _exit(6);
        _exit(bolt_close(cdb) == 0 ? 0 : 7);
    }
    int st;
    ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
#endif
}

/* ---- compaction through the I/O table (issue 19) ---------------------------- */

static int fail_after;  /* the call that fails (1-based); 0 = none */
static int calls;       /* writes and syncs seen */
static bool zero_write; /* the failing pwrite returns 0 instead of -1 */
static int fail_errno = ENOSPC;

static bool fault_now(void)
{
    return fail_after != 0 && ++calls == fail_after;
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fault_now()) {
        if (zero_write)
            return 0;
        errno = fail_errno;
        return -1;
    }
    /* A short write now and then, which must simply go on. */
    if (n > 1024 && calls % 7 == 3)
        n = 1024;
    return bolt__os_default()->pwrite(fd, buf, n, off);
}

static ssize_t f_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (fault_now()) {
        if (zero_write)
            return 0;
        errno = fail_errno;
        return -1;
    }
    return bolt__os_default()->pwritev(fd, iov, iovcnt, off);
}

static int f_fsync(int fd)
{
    if (fault_now()) {
        errno = EIO;
        return -1;
    }
    return bolt__os_default()->fsync(fd);
}

static int f_fdatasync(int fd)
{
    if (fault_now()) {
        errno = EIO;
        return -1;
    }
    return bolt__os_default()->fdatasync(fd);
}

static void test_compact_faults(void)
{
    size_t len;
    char *clean;
    unsigned char *img = make_base(&len, &clean);
    char path[4096], dst[4096];
    write_img("faults-src.db", img, len, path, sizeof path);
    harness_path(dst, sizeof dst, "faults-dst.db");
    struct bolt_os os = *bolt__os_default();
    os.pwrite = f_pwrite;
    os.pwritev = f_pwritev;
    os.fsync = f_fsync;
    os.fdatasync = f_fdatasync;
    bolt_options o = bt_opts();
    o.read_only = true;
    o.os = &os;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    for (int mode = 0; mode < 2; mode++) {
        for (int zero = 0; zero < 2; zero++) {
            int failures = 0;
            for (int k = 1;; k++) {
                unlink(dst);
                fail_after = k;
                calls = 0;
                zero_write = zero;
                bolt_compact_options co = { sizeof co, mode ? 4096 : 0, false, 0, NULL, NULL };
                int rc = bolt_compact(db, dst, &co, NULL);
                if (calls < k) { /* the k-th call never came: this run saw no fault */
                    ASSERT_OK(rc);
                    break;
                }
                /* The fault came: the compact fails with it, and leaves nothing. */
                ASSERT_TRUE(rc == -ENOSPC || rc == -EIO);
                ASSERT_FALSE(file_exists(dst));
                failures++;
                ASSERT_TRUE(k < 100000);
            }
            printf("  %s, %s: %d injected faults, each failed the compact cleanly\n",
                   mode ? "transactions" : "bottom-up", zero ? "pwrite returns 0" : "errors",
                   failures);
            ASSERT_TRUE(failures > 3);
            /* The copy made without faults is whole. */
            bolt_options oo = bt_opts();
            oo.read_only = true;
            bolt_db *out;
            ASSERT_OK(bolt_open(dst, &oo, &out));
            bt_check(out);
            char *d = bt_dump(out, 0);
            ASSERT_EQ_STR(d, clean);
            free(d);
            ASSERT_OK(bolt_close(out));
        }
    }
    fail_after = 0;
    ASSERT_OK(bolt_close(db));
    free(clean);
    free(img);
}

/*
 * The walks' output faults: a dump whose output cannot be written (a full
 * device) ends with -EIO, at once, whatever it walks.
 */
static void test_dump_output_fault(void)
{
    size_t len;
    char *clean;
    unsigned char *img = make_base(&len, &clean);
    char path[4096];
    write_img("dump-fault.db", img, len, path, sizeof path);
    bolt_options o = bt_opts();
    o.read_only = true;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    FILE *full = fopen("/dev/full", "w");
    if (full == NULL) {
        printf("  skipped: no /dev/full\n");
    } else {
        setvbuf(full, NULL, _IONBF, 0); /* every write reaches the device and fails */
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_RC(bolt_tx_dump(tx, full, 0), -EIO);
        bolt_tx_rollback(tx);
        fclose(full);
    }
    ASSERT_OK(bolt_close(db));
    free(clean);
    free(img);
}

/*
 * With STRATA_HOSTILE_CORPUS=DIR: write the named mutations of the base
 * file into DIR (fuzz/corpus/db/hostile-*), then exit.
 */
static void write_corpus(const char *dir)
{
    size_t len;
    char *clean;
    unsigned char *base = make_base_n(60, &len, &clean); /* small: the corpus lives in git */
    hm_map m;
    ASSERT_EQ_INT(hm_scan(base, len, &m), 0);
    for (int w = 0; w < HM_NMUTATIONS; w++) {
        unsigned char *img = malloc(len);
        ASSERT_NOT_NULL(img);
        memcpy(img, base, len);
        bolt_pgid at;
        if (hm_apply(img, len, &m, (hm_mutation)w, 1, &at) == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/hostile-%s", dir, hm_name((hm_mutation)w));
            /* Only the pages up to the high-water mark (at least 4 KiB, as bolt_open wants). */
            size_t used = (size_t)m.meta.pgid * m.ps;
            bt_write_file(path, img, used < 4096 ? 4096 : used < len ? used : len);
            printf("wrote %s\n", path);
        }
        free(img);
    }
    hm_free(&m);
    free(clean);
    free(base);
}

int main(void)
{
    HARNESS_BEGIN(21);
    const char *corpus = getenv("STRATA_HOSTILE_CORPUS");
    if (corpus != NULL && *corpus != '\0') {
        write_corpus(corpus);
        return 0;
    }
    /* STRATA_HOSTILE_ONLY=test_x runs one test (to see it fail without its fix). */
    const char *only = getenv("STRATA_HOSTILE_ONLY");
#define RUN_SELECTED(fn)                                             \
    do {                                                             \
        if (only == NULL || *only == '\0' || strcmp(only, #fn) == 0) \
            RUN(fn);                                                 \
    } while (0)
    RUN_SELECTED(test_mutations);
    RUN_SELECTED(test_random_mutations);
    RUN_SELECTED(test_txid_max);
    RUN_SELECTED(test_freelist_in_use);
    RUN_SELECTED(test_freelist_unsorted);
    RUN_SELECTED(test_walk);
    RUN_SELECTED(test_progress);
    RUN_SELECTED(test_short_address_space);
    RUN_SELECTED(test_compact_faults);
    RUN_SELECTED(test_dump_output_fault);
    return 0;
}
