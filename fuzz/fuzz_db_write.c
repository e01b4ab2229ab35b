/*
 * fuzz_db_write.c: a whole database image written to a temporary file and
 * opened read-write, then changed (puts into every bucket, a delete, a new
 * and a deleted bucket) and committed, then checked. Any status is fine; a
 * crash, a read outside the map, or a leak is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <strata/bolt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, const char *problem)
{
    (void)arg;
    (void)problem;
}

static void change(bolt_tx *tx)
{
    bolt_bucket *root = bolt_tx_root(tx), *b;
    bolt_cursor *c;
    if (bolt_cursor_open(root, &c) != 0)
        return;
    bolt_val k, v;
    int n = 0;
    for (int rc = bolt_cursor_first(c, &k, &v); rc == 0 && n < 8;
         rc = bolt_cursor_next(c, &k, &v), n++) {
        if (v.data != NULL || bolt_bucket_open(root, k, &b) != 0)
            continue;
        for (int i = 0; i < 20; i++) {
            char key[16];
            snprintf(key, sizeof key, "f%02d", i * 7 % 20);
            if (bolt_bucket_put(b, bolt_str(key), bolt_str("value")) != 0)
                break;
        }
        (void)bolt_bucket_delete(b, bolt_str("f03"));
    }
    if (bolt_bucket_create_if_not_exists(root, bolt_str("fuzz"), &b) == 0)
        (void)bolt_bucket_put(b, bolt_str("k"), bolt_str("v"));
    (void)bolt_bucket_delete_bucket(root, bolt_str("fuzz-gone"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* an empty file would be initialised, not read */
    int fd = memfd_create("fuzz_db_write", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    bolt_options o;
    bolt_options_init(&o);
    o.no_sync = true;
    o.mmap_reserve = 16u << 20;
    bolt_db *db;
    if (bolt_open(path, &o, &db) == 0) {
        bolt_tx *tx;
        if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) == 0) {
            change(tx);
            (void)bolt_tx_commit(tx);
        }
        if (bolt_tx_begin(db, 0, &tx) == 0) {
            (void)bolt_tx_check(tx, ignore, NULL);
            bolt_tx_rollback(tx);
        }
        bolt_close(db);
    }
    close(fd);
    return 0;
}
