/*
 * fuzz_db.c: libFuzzer target for a whole database image: bolt_open_memory,
 * bolt_tx_check, then a walk of every bucket (cursors forwards and
 * backwards, seeks, gets), and the canonical dump.
 *
 * Rules:
 *   1. Every call returns a documented status; corruption is BOLT_ECORRUPT
 *      (or an open error), never a crash, a hang, or a read outside the
 *      image (ASan sees the image as its own heap block).
 *   2. The walk runs whether or not the check passed: the read path must
 *      survive files the check refuses.
 *   3. Work is bounded (nesting depth, elements per walk) so a hostile image
 *      that makes a cycle costs time, not a timeout.
 *   4. On an image the check accepts, the walk must succeed: forwards and
 *      backwards see the same number of elements, and every key found by
 *      the cursor is found again by get and by seek.
 *   5. The write path too: the image is put in a memfd and opened read-
 *      write; a write transaction puts, deletes and creates in the first
 *      top-level bucket and a new one, and commits. On any image this may
 *      fail but never crash; on an image the check accepted it must open,
 *      commit, and pass the check again afterwards.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <strata/bolt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 16
#define MAX_STEPS 20000

static volatile unsigned fuzz_sink;

/* A broken invariant: name the line (and the last corruption) and crash. */
static bolt_db *fuzz_db_open;
static void fail_at(int line, int rc)
{
    char why[256] = "";
    if (fuzz_db_open != NULL)
        bolt_db_last_corruption(fuzz_db_open, why, sizeof why);
    fprintf(stderr, "fuzz_db: invariant broken at fuzz_db.c:%d (rc %d; last corruption: %s)\n",
            line, rc, why);
    __builtin_trap();
}
#define FAIL() fail_at(__LINE__, rc)

typedef struct walk {
    size_t steps;
    bool clean; /* the check passed: rule 4 applies */
} walk;

static bool status_ok(int rc)
{
    return rc == 0 || rc == BOLT_NOTFOUND || rc == BOLT_ECORRUPT || rc == -ENOMEM;
}

static unsigned touch(bolt_val v)
{
    unsigned s = 0;
    const unsigned char *p = v.data;
    for (size_t i = 0; p != NULL && i < v.size; i++)
        s += p[i];
    return s;
}

static void walk_bucket(walk *w, bolt_bucket *b, int depth);

static void walk_child(walk *w, bolt_bucket *b, bolt_val key, int depth)
{
    bolt_bucket *child;
    int rc = bolt_bucket_open(b, key, &child);
    if (!status_ok(rc))
        FAIL();
    if (w->clean && rc != 0)
        FAIL();
    if (rc == 0)
        walk_bucket(w, child, depth + 1);
}

static void walk_bucket(walk *w, bolt_bucket *b, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    bolt_cursor *c;
    int rc = bolt_cursor_open(b, &c);
    if (rc != 0) {
        if (!status_ok(rc) || w->clean)
            FAIL();
        return;
    }
    bolt_val k, v;
    size_t fwd = 0, back = 0;
    unsigned s = 0;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0 && w->steps < MAX_STEPS;
         rc = bolt_cursor_next(c, &k, &v)) {
        w->steps++;
        fwd++;
        s += touch(k) + touch(v);
        if (v.data == NULL) {
            /* walk_child moves no cursor of ours: c stays positioned. */
            walk_child(w, b, k, depth);
        } else if (w->clean) {
            bolt_val got;
            if (bolt_bucket_get(b, k, &got) != 0 || got.size != v.size ||
                (v.size > 0 && memcmp(got.data, v.data, v.size) != 0))
                FAIL();
        }
    }
    if (!status_ok(rc) || (w->clean && rc != BOLT_NOTFOUND && w->steps < MAX_STEPS))
        FAIL();
    bool complete = rc == BOLT_NOTFOUND;
    for (rc = bolt_cursor_last(c, &k, &v); rc == 0 && w->steps < MAX_STEPS;
         rc = bolt_cursor_prev(c, &k, &v)) {
        w->steps++;
        back++;
        s += touch(k);
        if (w->clean && back % 7 == 1) {
            /* Seek to the key just seen must land on it. */
            bolt_val k2;
            unsigned char kcopy[64];
            size_t kn = k.size < sizeof kcopy ? k.size : sizeof kcopy;
            memcpy(kcopy, k.data, kn);
            bolt_val want = { kcopy, kn };
            if (kn == k.size) {
                if (bolt_cursor_seek(c, want, &k2, NULL) != 0 || k2.size != kn ||
                    memcmp(k2.data, kcopy, kn) != 0)
                    FAIL();
            } else if (!status_ok(bolt_cursor_seek(c, want, &k2, NULL))) {
                FAIL();
            }
        }
    }
    if (!status_ok(rc))
        FAIL();
    if (w->clean && complete && rc == BOLT_NOTFOUND && back != fwd)
        FAIL();
    /* A seek to a short probe key from the input's own bytes. */
    if (!status_ok(bolt_cursor_seek(c, bolt_str("k"), &k, &v)))
        FAIL();
    bolt_cursor_close(c);
    fuzz_sink = s;
}

static void count_problem(void *arg, const char *problem)
{
    (void)problem;
    (*(int *)arg)++;
}

/* Rule 5's mutations, driven by the image's last bytes. */
static int mutate(bolt_tx *tx, const uint8_t *data, size_t size)
{
    bolt_bucket *fz;
    int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("fuzz"), &fz);
    if (rc != 0)
        return rc;
    unsigned char key[8], val[300];
    for (unsigned i = 0; i < 24; i++) {
        uint8_t b = size > 0 ? data[(size - 1 - i % size)] : 0;
        snprintf((char *)key, sizeof key, "k%03u", (unsigned)(b ^ i));
        memset(val, b, sizeof val);
        rc = bolt_bucket_put(fz, (bolt_val){ key, 4 }, (bolt_val){ val, (size_t)b + i });
        if (rc != 0)
            return rc;
    }
    /* The first top-level bucket: delete its first key, add one, nest one. */
    bolt_cursor *c;
    rc = bolt_cursor_open(bolt_tx_root(tx), &c);
    if (rc != 0)
        return rc;
    bolt_val k, v;
    rc = bolt_cursor_first(c, &k, &v);
    if (rc == 0 && v.data == NULL && !(k.size == 4 && memcmp(k.data, "fuzz", 4) == 0)) {
        bolt_bucket *b;
        rc = bolt_bucket_open(bolt_tx_root(tx), k, &b);
        bolt_cursor *bc;
        if (rc == 0)
            rc = bolt_cursor_open(b, &bc);
        if (rc == 0 && bolt_cursor_first(bc, &k, &v) == 0 && v.data != NULL)
            rc = bolt_cursor_delete(bc);
        if (rc == 0)
            rc = bolt_bucket_put(b, bolt_str("zz-fuzz-new"), bolt_str("value"));
        if (rc == 0)
            rc = bolt_bucket_create_if_not_exists(b, bolt_str("zz-fuzz-nested"), NULL);
        if (rc == BOLT_EINCOMPATIBLEVALUE || rc == BOLT_EBUCKETEXISTS)
            rc = 0;
    } else if (rc == BOLT_NOTFOUND) {
        rc = 0;
    }
    return rc;
}

static void write_phase(const uint8_t *data, size_t size, bool clean)
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("strata-fuzz-db", 0);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    bolt_options o;
    bolt_options_init(&o);
    o.no_sync = true;
    o.no_grow_sync = true;
    o.mmap_reserve = 1u << 20;
    bolt_db *db;
    int rc = bolt_open(path, &o, &db);
    if (rc != 0) {
        if (clean || rc > 0)
            FAIL();
        return;
    }
    fuzz_db_open = db;
    bolt_tx *tx;
    if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0)
        FAIL();
    rc = mutate(tx, data, size);
    if (rc != 0) {
        /* Corrupt images may fail any way documented (even BOLT_NOTFOUND
         * for a bucket element its own key cannot find). */
        if (clean)
            FAIL();
        bolt_tx_rollback(tx);
    } else {
        rc = bolt_tx_commit(tx);
        /* A clean image whose txid is at its limit refuses commits (it needs a compact). */
        if (rc != 0 && (rc > 0 || (clean && rc != BOLT_ETXIDEXHAUSTED)))
            FAIL();
    }
    if (clean) {
        int problems = 0;
        if (bolt_tx_begin(db, 0, &tx) != 0)
            FAIL();
        if (bolt_tx_check(tx, count_problem, &problems) != 0 || problems != 0)
            FAIL();
        bolt_tx_rollback(tx);
    }
    fuzz_db_open = NULL;
    if ((rc = bolt_close(db)) != 0)
        FAIL();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt_db *db;
    int rc = bolt_open_memory(data, size, NULL, &db);
    if (rc != 0) {
        if (db != NULL || rc >= 0)
            FAIL();
        return 0;
    }
    fuzz_db_open = db;
    bolt_tx *tx;
    if (bolt_tx_begin(db, 0, &tx) != 0)
        FAIL();
    int problems = 0;
    rc = bolt_tx_check(tx, count_problem, &problems);
    if (rc != 0 && rc != BOLT_ECORRUPT && rc != -ENOMEM)
        FAIL();
    if ((rc == 0) != (problems == 0))
        FAIL();
    walk w = { 0, rc == 0 };
    walk_bucket(&w, bolt_tx_root(tx), 0);
    bolt_tx_rollback(tx);
    /* The dump reads everything again through its own path. */
    if (bolt_tx_begin(db, 0, &tx) != 0)
        FAIL();
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        rc = bolt_tx_dump(tx, null, 64);
        if (rc != 0 && rc != BOLT_ECORRUPT && rc != -ENOMEM)
            FAIL();
        if (w.clean && rc != 0)
            FAIL();
        fclose(null);
    }
    bolt_tx_rollback(tx);
    fuzz_db_open = NULL;
    if ((rc = bolt_close(db)) != 0)
        FAIL();
    write_phase(data, size, w.clean);
    return 0;
}
