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
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <strata/bolt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 16
#define MAX_STEPS 20000

static volatile unsigned fuzz_sink;

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
        __builtin_trap();
    if (w->clean && rc != 0)
        __builtin_trap();
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
            __builtin_trap();
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
                __builtin_trap();
        }
    }
    if (!status_ok(rc) || (w->clean && rc != BOLT_NOTFOUND && w->steps < MAX_STEPS))
        __builtin_trap();
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
                    __builtin_trap();
            } else if (!status_ok(bolt_cursor_seek(c, want, &k2, NULL))) {
                __builtin_trap();
            }
        }
    }
    if (!status_ok(rc))
        __builtin_trap();
    if (w->clean && complete && rc == BOLT_NOTFOUND && back != fwd)
        __builtin_trap();
    /* A seek to a short probe key from the input's own bytes. */
    if (!status_ok(bolt_cursor_seek(c, bolt_str("k"), &k, &v)))
        __builtin_trap();
    bolt_cursor_close(c);
    fuzz_sink = s;
}

static void count_problem(void *arg, const char *problem)
{
    (void)problem;
    (*(int *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt_db *db;
    int rc = bolt_open_memory(data, size, NULL, &db);
    if (rc != 0) {
        if (db != NULL || rc >= 0)
            __builtin_trap();
        return 0;
    }
    bolt_tx *tx;
    if (bolt_tx_begin(db, 0, &tx) != 0)
        __builtin_trap();
    int problems = 0;
    rc = bolt_tx_check(tx, count_problem, &problems);
    if (rc != 0 && rc != BOLT_ECORRUPT && rc != -ENOMEM)
        __builtin_trap();
    if ((rc == 0) != (problems == 0))
        __builtin_trap();
    walk w = { 0, rc == 0 };
    walk_bucket(&w, bolt_tx_root(tx), 0);
    bolt_tx_rollback(tx);
    /* The dump reads everything again through its own path. */
    if (bolt_tx_begin(db, 0, &tx) != 0)
        __builtin_trap();
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        rc = bolt_tx_dump(tx, null, 64);
        if (rc != 0 && rc != BOLT_ECORRUPT && rc != -ENOMEM)
            __builtin_trap();
        if (w.clean && rc != 0)
            __builtin_trap();
        fclose(null);
    }
    bolt_tx_rollback(tx);
    if (bolt_close(db) != 0)
        __builtin_trap();
    return 0;
}
