/*
 * shrink_writer.c: strata's side of the interop test of shrinking files
 * (test_shrink.sh).
 *
 *   shrink_writer fill|shrink|verify|check [-hashmap] [-nofreelistsync] DB
 *
 * fill: 20,000 keys (8-byte big-endian ids, 100-byte values) into bucket
 * "data" and 200 into the nested "data"/"sub", in commits of 2,000. shrink:
 * delete the upper half of "data" and commit again (the second commit cuts
 * the free tail; shrink_threshold 64 KiB); fails unless the file got
 * shorter. verify: open read-write, check (bolt_tx_check), and expect the
 * lower half of "data" (values of generation 0) and "sub" intact. check:
 * bolt_tx_check only (after bbolt wrote to the file). Exit 0 on
 * success, 1 on any failure (with a message on stderr).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <strata/bolt.h>

#define NKEYS 20000
#define VSIZE 100

static int fail(const char *what, int rc)
{
    fprintf(stderr, "shrink_writer: %s: %s\n", what, bolt_strerror(rc));
    return 1;
}

static void key_of(unsigned i, unsigned char k[8])
{
    for (int j = 0; j < 8; j++)
        k[j] = (unsigned char)((uint64_t)i >> (56 - 8 * j));
}

static void value_of(unsigned i, unsigned char v[VSIZE])
{
    for (int j = 0; j < VSIZE; j++)
        v[j] = (unsigned char)(i * 7 + (unsigned)j);
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int fill(bolt_db *db)
{
    for (unsigned i = 0; i < NKEYS;) {
        bolt_tx *tx;
        bolt_bucket *b, *sub;
        int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0)
            return fail("begin", rc);
        if ((rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("data"), &b)) != 0 ||
            (rc = bolt_bucket_create_if_not_exists(b, bolt_str("sub"), &sub)) != 0) {
            bolt_tx_rollback(tx);
            return fail("bucket", rc);
        }
        for (unsigned end = i + 2000; i < end; i++) {
            unsigned char k[8], v[VSIZE];
            key_of(i, k);
            value_of(i, v);
            rc = bolt_bucket_put(i % 100 == 0 ? sub : b, (bolt_val){ k, 8 },
                                 (bolt_val){ v, VSIZE });
            if (rc == 0 && i % 100 == 0)
                rc = bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ v, VSIZE });
            if (rc != 0) {
                bolt_tx_rollback(tx);
                return fail("put", rc);
            }
        }
        if ((rc = bolt_tx_commit(tx)) != 0)
            return fail("commit", rc);
    }
    return 0;
}

static int shrink(bolt_db *db, const char *path)
{
    uint64_t before = size_of(path);
    bolt_tx *tx;
    bolt_bucket *b;
    int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (rc == 0)
        rc = bolt_tx_bucket(tx, bolt_str("data"), &b);
    for (unsigned i = NKEYS / 2; rc == 0 && i < NKEYS; i++) {
        unsigned char k[8];
        key_of(i, k);
        rc = bolt_bucket_delete(b, (bolt_val){ k, 8 });
    }
    if (rc != 0) {
        bolt_tx_rollback(tx);
        return fail("delete", rc);
    }
    if ((rc = bolt_tx_commit(tx)) != 0)
        return fail("commit", rc);
    /* The freed pages are released at the next writer's begin: it cuts them. */
    if ((rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx)) != 0 || (rc = bolt_tx_commit(tx)) != 0)
        return fail("second commit", rc);
    uint64_t after = size_of(path);
    printf("shrink_writer: %llu -> %llu bytes\n", (unsigned long long)before,
           (unsigned long long)after);
    if (after >= before) {
        fprintf(stderr, "shrink_writer: the file did not shrink\n");
        return 1;
    }
    return 0;
}

static void report(void *arg, const char *problem)
{
    (void)arg;
    fprintf(stderr, "shrink_writer: check: %s\n", problem);
}

static int verify(bolt_db *db)
{
    bolt_tx *tx;
    bolt_bucket *b, *sub;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return fail("begin", rc);
    if ((rc = bolt_tx_check(tx, report, NULL)) != 0 ||
        (rc = bolt_tx_bucket(tx, bolt_str("data"), &b)) != 0 ||
        (rc = bolt_bucket_open(b, bolt_str("sub"), &sub)) != 0) {
        bolt_tx_rollback(tx);
        return fail("check", rc);
    }
    for (unsigned i = 0; i < NKEYS; i++) {
        unsigned char k[8], v[VSIZE];
        key_of(i, k);
        value_of(i, v);
        bolt_val got;
        rc = bolt_bucket_get(b, (bolt_val){ k, 8 }, &got);
        bool want = i < NKEYS / 2;
        if (want ? rc != 0 || got.size != VSIZE || memcmp(got.data, v, VSIZE) != 0
                 : rc != BOLT_NOTFOUND) {
            bolt_tx_rollback(tx);
            fprintf(stderr, "shrink_writer: key %u wrong (%s)\n", i, bolt_strerror(rc));
            return 1;
        }
        if (i % 100 == 0 && bolt_bucket_get(sub, (bolt_val){ k, 8 }, &got) != 0) {
            bolt_tx_rollback(tx);
            fprintf(stderr, "shrink_writer: sub key %u missing\n", i);
            return 1;
        }
    }
    bolt_tx_rollback(tx);
    return 0;
}

static int check_only(bolt_db *db)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return fail("begin", rc);
    rc = bolt_tx_check(tx, report, NULL);
    bolt_tx_rollback(tx);
    return rc != 0 ? fail("check", rc) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: shrink_writer fill|shrink|verify|check [-hashmap] [-nofreelistsync] DB\n");
        return 2;
    }
    bolt_options o;
    bolt_options_init(&o);
    o.no_sync = true;
    o.shrink_threshold = 64 * 1024;
    for (int i = 2; i < argc - 1; i++) {
        if (strcmp(argv[i], "-hashmap") == 0)
            o.freelist_type = BOLT_FREELIST_HASHMAP;
        else if (strcmp(argv[i], "-nofreelistsync") == 0)
            o.no_freelist_sync = true;
    }
    const char *path = argv[argc - 1];
    bolt_db *db;
    int rc = bolt_open(path, &o, &db);
    if (rc != 0)
        return fail("open", rc);
    int r;
    if (strcmp(argv[1], "fill") == 0)
        r = fill(db);
    else if (strcmp(argv[1], "shrink") == 0)
        r = shrink(db, path);
    else if (strcmp(argv[1], "verify") == 0)
        r = verify(db);
    else if (strcmp(argv[1], "check") == 0)
        r = check_only(db);
    else
        r = 2;
    rc = bolt_close(db);
    return r != 0 ? r : rc != 0 ? fail("close", rc) : 0;
}
