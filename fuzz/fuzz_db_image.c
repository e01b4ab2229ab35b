/*
 * fuzz_db_image.c: a whole database image opened from memory, then dumped,
 * checked and measured: any status is fine, a crash or a read outside the
 * image is not. Seeds: the .db files in tests/fixtures/bolt.
 */
#include <stdio.h>

#include <strata/bolt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, const char *problem)
{
    (void)arg;
    (void)problem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt_db *db;
    if (bolt_open_memory(data, size, NULL, &db) != 0)
        return 0;
    bolt_tx *tx;
    if (bolt_tx_begin(db, 0, &tx) == 0) {
        FILE *out = fopen("/dev/null", "w");
        if (out != NULL) {
            (void)bolt_tx_dump(tx, out, 64);
            fclose(out);
        }
        (void)bolt_tx_check(tx, ignore, NULL);
        bolt_cursor *c;
        if (bolt_cursor_open(bolt_tx_root(tx), &c) == 0) {
            bolt_val k, v;
            for (int rc = bolt_cursor_last(c, &k, &v); rc == 0; rc = bolt_cursor_prev(c, &k, &v)) {
                bolt_bucket *b;
                bolt_stats st;
                if (v.data == NULL && bolt_bucket_open(bolt_tx_root(tx), k, &b) == 0)
                    (void)bolt_bucket_stats(b, &st);
            }
        }
        bolt_tx_rollback(tx);
    }
    bolt_close(db);
    return 0;
}
