/*
 * backend_example.c: strata's batching backend (<strata/backend.h>, etcd's
 * backend) as an application uses it.
 *
 *   backend_example DIR
 *
 * Opens DIR/backend.db and
 *   1. writes through the batch transaction (lock, put/delete, unlock): the
 *      writes are visible to new readers at unlock and committed to disk by
 *      the backend's commit thread every 100 ms or 10000 writes (or at once
 *      with backend_force_commit);
 *   2. reads a range in a read transaction while another thread writes: a
 *      read transaction sees the state of its begin for its whole life;
 *   3. meets the errors an application must handle (a write without the
 *      lock, a bucket that does not exist), then hashes the db (etcd's
 *      hash), writes a snapshot with etcd's SHA-256 trailer, and closes;
 * and exits 0 only if everything behaved as documented.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, pthreads: the example builds with -std=c11 */

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <strata/backend.h>

static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "backend_example: %s: %s (%d, %s)\n", what, backend_strerror(rc), rc,
            backend_status_name(rc));
    return 1;
}

/* Put keys [from, to) of bucket "key" in one locked section. */
static int put_range(backend *be, int from, int to, const char *tag)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    int rc = 0;
    for (int i = from; rc == 0 && i < to; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "k%05d", i);
        snprintf(v, sizeof v, "%s-%d", tag, i);
        rc = backend_batch_tx_put(tx, bolt_str("key"), bolt_str(k), bolt_str(v));
    }
    int urc = backend_batch_tx_unlock(tx); /* always unlock, even after a failed write */
    return rc != 0 ? rc : urc;
}

typedef struct writer {
    backend *be;
    int rc;
} writer;

static void *write_more(void *arg)
{
    writer *w = arg;
    for (int round = 0; round < 20 && w->rc == 0; round++)
        w->rc = put_range(w->be, 1000 + round * 100, 1100 + round * 100, "later");
    return NULL;
}

static int count_pair(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    (void)value;
    ++*(uint64_t *)arg;
    return 0;
}

/* Pairs of bucket "key" in [k00000, k99999) as tx sees them. */
static int count_keys(backend_read_tx *tx, uint64_t *n)
{
    *n = 0;
    return backend_read_tx_range(tx, bolt_str("key"), bolt_str("k00000"), bolt_str("k99999"), 0,
                                 count_pair, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: backend_example DIR\n");
        return 2;
    }
    char path[4096], snap[4096];
    snprintf(path, sizeof path, "%s/backend.db", argv[1]);
    snprintf(snap, sizeof snap, "%s/backend.snap", argv[1]);
    remove(path);
    remove(snap);
    backend_options opt;
    backend_options_init(&opt); /* etcd's: 100 ms batch interval, 10000 writes */
    backend *be;
    int rc = backend_open(path, &opt, &be);
    if (failed(rc, path))
        return 1;
    int bad = 0;

    /* 1. A bucket, then 1000 keys; a bucket change commits at unlock. */
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    rc = backend_batch_tx_create_bucket(tx, bolt_str("key"));
    int urc = backend_batch_tx_unlock(tx);
    if (failed(rc, "create bucket") || failed(urc, "unlock"))
        bad = 1;
    if (!bad && failed(put_range(be, 0, 1000, "first"), "put"))
        bad = 1;

    /* 2. A reader's view while a writer adds 2000 keys. */
    backend_read_tx *rtx = NULL;
    if (!bad && failed(backend_read_tx_begin(be, &rtx), "begin a read transaction"))
        bad = 1;
    if (!bad) {
        writer w = { be, 0 };
        pthread_t thread;
        int prc = pthread_create(&thread, NULL, write_more, &w);
        uint64_t during = 0, after = 0;
        rc = count_keys(rtx, &during);
        if (prc == 0)
            pthread_join(thread, NULL);
        if (rc == 0)
            rc = count_keys(rtx, &after);
        backend_read_tx_end(rtx);
        if (prc != 0 || failed(rc, "range") || failed(w.rc, "the writer thread"))
            bad = 1;
        printf("reader's snapshot: %" PRIu64 " keys while the writer ran, %" PRIu64 " after\n",
               during, after);
        bad |= during != 1000 || after != 1000;
        uint64_t now = 0;
        if (failed(backend_read_tx_begin(be, &rtx), "begin") ||
            failed(count_keys(rtx, &now), "range"))
            bad = 1;
        backend_read_tx_end(rtx);
        printf("a new read transaction: %" PRIu64 " keys\n", now);
        bad |= now != 3000;
    }

    /* 3. Errors: a write without the lock; a bucket that does not exist. */
    rc = backend_batch_tx_put(tx, bolt_str("key"), bolt_str("x"), bolt_str("y"));
    printf("put without the lock: %s\n", backend_status_name(rc));
    bad |= rc != BACKEND_ENOTLOCKED;
    backend_batch_tx_lock(tx);
    rc = backend_batch_tx_put(tx, bolt_str("no-such-bucket"), bolt_str("x"), bolt_str("y"));
    printf("put into a missing bucket: %s\n", backend_status_name(rc));
    bad |= rc != BACKEND_EBUCKETNOTFOUND;
    bad |= failed(backend_batch_tx_unlock(tx), "unlock");

    /* Commit now, then etcd's hash and a snapshot etcdctl can restore. */
    if (failed(backend_force_commit(be), "commit"))
        bad = 1;
    uint32_t hash = 0;
    if (failed(backend_hash(be, NULL, 0, &hash), "hash"))
        bad = 1;
    printf("hash %" PRIu32 ", %" PRIu64 " bytes, %" PRIu64 " commits\n", hash, backend_size(be),
           backend_commits(be));
    int fd = open(snap, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint64_t written = 0;
    rc = fd < 0 ? -1 : backend_snapshot(be, fd, BACKEND_SNAPSHOT_TRAILER, NULL, NULL, &written);
    if (fd >= 0 && close(fd) != 0)
        rc = rc != 0 ? rc : -1;
    if (failed(rc, "snapshot"))
        bad = 1;
    printf("snapshot: %" PRIu64 " bytes (the db image and etcd's 32-byte SHA-256)\n", written);

    /* close commits what is pending, stops the commit thread and frees be. */
    if (failed(backend_close(be), "close"))
        bad = 1;
    remove(path);
    remove(snap);
    if (bad) {
        fprintf(stderr, "backend_example: FAILED\n");
        return 1;
    }
    printf("backend_example: ok\n");
    return 0;
}
