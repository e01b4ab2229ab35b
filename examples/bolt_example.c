/*
 * bolt_example.c: strata's B+tree layer (<strata/bolt.h>) as an
 * application uses it.
 *
 *   bolt_example DIR
 *
 * Creates DIR/example.db and
 *   1. writes nested buckets (shop -> orders -> one bucket per customer)
 *      in one write transaction;
 *   2. reads a bucket with a cursor inside a read transaction while another
 *      thread commits new orders: the reader sees the state as of its
 *      begin, from the first key to the last, whatever the writer commits;
 *   3. meets the errors an application must handle: a bucket that already
 *      exists, a write in a read-only transaction, a missing key, a file
 *      that is not a database;
 * and exits 0 only if everything behaved as documented. Every status is
 * an int: 0 ok, STRATA_NOTFOUND (1) for "no such key", a negative code for
 * an error, described by bolt_strerror().
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, pthreads: the example builds with -std=c11 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/bolt.h>

/* Print a failed call with its status, and say whether it failed. */
static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "bolt_example: %s: %s (%d, %s)\n", what, bolt_strerror(rc), rc,
            bolt_status_name(rc));
    return 1;
}

/* Step 1: shop/orders/<customer>/<order id> = amount, and shop/config. */
static int write_nested(bolt_db *db)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (failed(rc, "begin"))
        return rc;
    bolt_bucket *shop, *orders, *config, *customer;
    rc = bolt_bucket_create(bolt_tx_root(tx), bolt_str("shop"), &shop);
    if (rc == 0)
        rc = bolt_bucket_create(shop, bolt_str("orders"), &orders);
    if (rc == 0)
        rc = bolt_bucket_create(shop, bolt_str("config"), &config);
    if (rc == 0)
        rc = bolt_bucket_put(config, bolt_str("currency"), bolt_str("EUR"));
    static const char *const customers[] = { "alice", "bob", "carol" };
    for (int c = 0; rc == 0 && c < 3; c++) {
        rc = bolt_bucket_create(orders, bolt_str(customers[c]), &customer);
        for (int i = 0; rc == 0 && i < 5; i++) {
            char key[32], value[32];
            snprintf(key, sizeof key, "order-%03d", i);
            snprintf(value, sizeof value, "%d.%02d", 10 * (c + 1) + i, i * 7 % 100);
            rc = bolt_bucket_put(customer, bolt_str(key), bolt_str(value));
        }
    }
    if (failed(rc, "write the nested buckets")) {
        bolt_tx_rollback(tx); /* a write transaction that failed is rolled back, not committed */
        return rc;
    }
    rc = bolt_tx_commit(tx); /* consumes tx, whatever it returns */
    failed(rc, "commit");
    return rc;
}

/* Step 2's writer: commits `rounds` transactions of new orders for dave. */
typedef struct writer {
    bolt_db *db;
    int rounds;
    int rc;
} writer;

static void *write_orders(void *arg)
{
    writer *w = arg;
    for (int r = 0; r < w->rounds && w->rc == 0; r++) {
        bolt_tx *tx;
        w->rc = bolt_tx_begin(w->db, BOLT_TX_WRITE, &tx);
        if (w->rc != 0)
            break;
        bolt_bucket *shop, *orders, *dave;
        int rc = bolt_tx_bucket(tx, bolt_str("shop"), &shop);
        if (rc == 0)
            rc = bolt_bucket_open(shop, bolt_str("orders"), &orders);
        if (rc == 0)
            rc = bolt_bucket_create_if_not_exists(orders, bolt_str("dave"), &dave);
        char key[32];
        snprintf(key, sizeof key, "order-%03d", r);
        if (rc == 0)
            rc = bolt_bucket_put(dave, bolt_str(key), bolt_str("99.00"));
        if (rc != 0) {
            bolt_tx_rollback(tx);
            w->rc = rc;
            break;
        }
        w->rc = bolt_tx_commit(tx);
    }
    return NULL;
}

/* Walk shop/orders with a cursor; count customers and their orders. */
static int walk_orders(bolt_tx *tx, int *customers, int *orders_seen)
{
    bolt_bucket *shop, *orders;
    int rc = bolt_tx_bucket(tx, bolt_str("shop"), &shop);
    if (rc == 0)
        rc = bolt_bucket_open(shop, bolt_str("orders"), &orders);
    if (rc != 0)
        return rc;
    bolt_cursor *c;
    rc = bolt_cursor_open(orders, &c);
    if (rc != 0)
        return rc;
    *customers = *orders_seen = 0;
    bolt_val name, value;
    for (rc = bolt_cursor_first(c, &name, &value); rc == 0;
         rc = bolt_cursor_next(c, &name, &value)) {
        if (value.data != NULL)
            continue; /* a plain key; each customer is a nested bucket (data NULL) */
        bolt_bucket *customer;
        int brc = bolt_bucket_open(orders, name, &customer);
        if (brc != 0) {
            rc = brc;
            break;
        }
        bolt_cursor *oc;
        brc = bolt_cursor_open(customer, &oc);
        if (brc != 0) {
            rc = brc;
            break;
        }
        bolt_val k, v;
        for (brc = bolt_cursor_first(oc, &k, &v); brc == 0; brc = bolt_cursor_next(oc, &k, &v))
            ++*orders_seen;
        bolt_cursor_close(oc);
        if (brc != BOLT_NOTFOUND) { /* the end of a bucket is BOLT_NOTFOUND; anything else failed */
            rc = brc;
            break;
        }
        ++*customers;
    }
    bolt_cursor_close(c);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

/* Step 2: a reader's snapshot while a writer commits. */
static int read_while_writing(bolt_db *db)
{
    bolt_tx *rtx;
    int rc = bolt_tx_begin(db, 0, &rtx); /* read-only: never blocks, never blocked */
    if (failed(rc, "begin a read transaction"))
        return rc;
    writer w = { db, 50, 0 };
    pthread_t thread;
    rc = pthread_create(&thread, NULL, write_orders, &w);
    if (rc != 0) {
        fprintf(stderr, "bolt_example: pthread_create: %s\n", strerror(rc));
        bolt_tx_rollback(rtx);
        return -rc;
    }
    int customers = 0, orders = 0;
    rc = walk_orders(rtx, &customers, &orders); /* runs while the writer commits */
    pthread_join(thread, NULL);
    /* The writer has committed everything now; rtx still sees its begin. */
    int again_c = 0, again_o = 0;
    if (rc == 0)
        rc = walk_orders(rtx, &again_c, &again_o);
    bolt_tx_rollback(rtx); /* ends a read transaction */
    if (failed(rc, "walk the orders") || failed(w.rc, "the writer thread"))
        return rc != 0 ? rc : w.rc;
    printf("reader's snapshot: %d customers, %d orders (before and after the writer: %d, %d)\n",
           customers, orders, again_c, again_o);
    if (customers != 3 || orders != 15 || again_c != 3 || again_o != 15) {
        fprintf(stderr, "bolt_example: the read transaction saw the writer's commits\n");
        return -1;
    }
    /* A transaction begun now sees the writer's 50 orders for dave. */
    rc = bolt_tx_begin(db, 0, &rtx);
    if (failed(rc, "begin"))
        return rc;
    rc = walk_orders(rtx, &customers, &orders);
    bolt_tx_rollback(rtx);
    if (failed(rc, "walk the orders"))
        return rc;
    printf("a new read transaction: %d customers, %d orders\n", customers, orders);
    return customers == 4 && orders == 65 ? 0 : -1;
}

/* Step 3: the errors an application meets, each a documented status. */
static int expected_errors(bolt_db *db, const char *dir)
{
    int bad = 0;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
    if (failed(rc, "begin"))
        return rc;
    bolt_bucket *b;
    rc = bolt_bucket_create(bolt_tx_root(tx), bolt_str("shop"), &b);
    printf("create shop again: %s\n", bolt_status_name(rc));
    bad |= rc != BOLT_EBUCKETEXISTS;
    bolt_tx_rollback(tx); /* nothing to keep: give the write lock back */

    rc = bolt_tx_begin(db, 0, &tx);
    if (failed(rc, "begin"))
        return rc;
    bolt_bucket *shop, *config;
    rc = bolt_tx_bucket(tx, bolt_str("shop"), &shop);
    if (rc == 0)
        rc = bolt_bucket_open(shop, bolt_str("config"), &config);
    if (failed(rc, "open shop/config")) {
        bolt_tx_rollback(tx);
        return rc;
    }
    rc = bolt_bucket_put(config, bolt_str("currency"), bolt_str("USD"));
    printf("put in a read transaction: %s\n", bolt_status_name(rc));
    bad |= rc != BOLT_ETXNOTWRITABLE;
    bolt_val v;
    rc = bolt_bucket_get(config, bolt_str("tax-rate"), &v);
    printf("get a missing key: %s\n", bolt_status_name(rc));
    bad |= rc != BOLT_NOTFOUND;
    rc = bolt_bucket_get(config, bolt_str("currency"), &v);
    bad |= rc != 0;
    if (rc == 0) /* v borrows the map: copy it to keep it past the transaction */
        printf("currency: %.*s\n", (int)v.size, (const char *)v.data);
    bolt_tx_rollback(tx);

    /* A file that is not a database is refused, and left as it was. */
    char path[4096];
    snprintf(path, sizeof path, "%s/not-a-db.txt", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    for (int i = 0; i < 1000; i++)
        fputs("this is a text file, not a database\n", f);
    fclose(f);
    bolt_db *other = NULL;
    rc = bolt_open(path, NULL, &other);
    printf("open a text file: %s (%s)\n", bolt_status_name(rc), bolt_strerror(rc));
    bad |= rc != BOLT_EINVALID || other != NULL;
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bolt_example DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/example.db", argv[1]);
    remove(path);
    bolt_options opt;
    bolt_options_init(&opt);
    opt.timeout_ms = 1000; /* another process holding the file: BOLT_ETIMEOUT after 1 s */
    bolt_db *db;
    int rc = bolt_open(path, &opt, &db);
    if (failed(rc, path))
        return 1;
    rc = write_nested(db);
    if (rc == 0)
        rc = read_while_writing(db);
    if (rc == 0)
        rc = expected_errors(db, argv[1]);
    int crc = bolt_close(db); /* every transaction has ended */
    failed(crc, "close");
    remove(path);
    if (rc != 0 || crc != 0) {
        fprintf(stderr, "bolt_example: FAILED\n");
        return 1;
    }
    printf("bolt_example: ok\n");
    return 0;
}
