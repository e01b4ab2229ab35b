/*
 * mvcc_example.c: an embedded multi-version store (<strata/mvcc.h>, etcd's
 * mvcc package), as an application uses it.
 *
 *   mvcc_example DIR
 *
 * Opens DIR/mvcc.db (a file in etcd's own schema: etcd and `strata` open
 * it too), then
 *   1. puts keys, each put one new revision;
 *   2. runs a transaction: several changes, one revision, the transaction
 *      reading its own writes;
 *   3. reads the store as it was at an old revision;
 *   4. streams a range in small chunks (memory for one chunk);
 *   5. compacts: history below the revision is refused from then on, and
 *      deleted in the background in small batches;
 *   6. prints HashKV (etcd's `endpoint hashkv` value), closes, reopens: the
 *      same revision, the same hash;
 * and exits 0 only if everything behaved as documented.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <strata/mvcc.h>

static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "mvcc_example: %s: %s (%d, %s)\n", what, mvcc_strerror(rc), rc,
            mvcc_status_name(rc));
    return 1;
}

static int check(int ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "mvcc_example: not as documented: %s\n", what);
    return !ok;
}

static int put(mvcc_store *s, const char *k, const char *v)
{
    int64_t rev;
    int rc = mvcc_store_put(s, k, strlen(k), v, strlen(v), 0, &rev);
    if (rc == 0)
        printf("  put %s=%s -> revision %" PRId64 "\n", k, v, rev);
    return failed(rc, "put");
}

static void print_kvs(const mvcc_kv *kvs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("    %.*s = %.*s (created %" PRId64 ", modified %" PRId64 ", version %" PRId64 ")\n",
               (int)kvs[i].key_len, (const char *)kvs[i].key, (int)kvs[i].value_len,
               kvs[i].value ? (const char *)kvs[i].value : "", kvs[i].create_revision,
               kvs[i].mod_revision, kvs[i].version);
}

/* Range over every key at rev (0 = current); prints and returns the count. */
static int64_t show(mvcc_store *s, int64_t rev)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .rev = rev };
    int rc = mvcc_store_range(s, "", 0, "", 0, &o, &r); /* end "" (not NULL): every key >= "" */
    if (rc != 0) {
        printf("  range at %" PRId64 ": %s\n", rev, mvcc_strerror(rc));
        mvcc_range_result_release(&r);
        return -1;
    }
    printf("  range at %" PRId64 " (store at %" PRId64 "): %" PRId64 " keys\n", rev ? rev : r.rev,
           r.rev, r.count);
    print_kvs(r.kvs, r.n);
    int64_t n = r.count;
    mvcc_range_result_release(&r);
    return n;
}

static int open_stack(const char *path, backend **be, mvcc_store **s)
{
    int rc = backend_open(path, NULL, be);
    if (failed(rc, "backend_open"))
        return 1;
    rc = mvcc_store_open(*be, NULL, s);
    if (failed(rc, "mvcc_store_open")) {
        backend_close(*be);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mvcc_example DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/mvcc.db", argv[1]);
    backend *be;
    mvcc_store *s;
    if (open_stack(path, &be, &s))
        return 1;
    int bad = 0;

    printf("1. puts (a new store is at revision %" PRId64 ")\n", mvcc_store_rev(s));
    bad |= put(s, "config/replicas", "3");
    bad |= put(s, "config/zone", "eu-west");
    bad |= put(s, "config/replicas", "5");
    bad |= put(s, "jobs/1", "queued");
    int64_t before_txn = mvcc_store_rev(s);

    printf("2. a transaction: three changes, one revision\n");
    mvcc_txn *t;
    bad |= failed(mvcc_txn_write_begin(s, &t), "write txn");
    if (bad)
        return 1;
    int64_t rev, n;
    bad |= failed(mvcc_txn_put(t, "jobs/1", 6, "running", 7, 0, &rev), "txn put");
    bad |= failed(mvcc_txn_put(t, "jobs/2", 6, "queued", 6, 0, &rev), "txn put");
    bad |= failed(mvcc_txn_delete_range(t, "config/zone", 11, NULL, 0, &n, &rev), "txn delete");
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    bad |= failed(mvcc_txn_range(t, "jobs/", 5, "jobs0", 5, NULL, &r), "txn range");
    printf("  inside the transaction (revision %" PRId64 " to be), jobs/ reads:\n", rev);
    print_kvs(r.kvs, r.n);
    bad |= check(r.count == 2, "the transaction sees its own puts");
    mvcc_range_result_release(&r);
    bad |= failed(mvcc_txn_end(t, &rev), "txn end");
    printf("  ended: the store is at revision %" PRId64 "\n", rev);
    bad |= check(rev == before_txn + 1, "one revision for the whole transaction");

    printf("3. the store as it was\n");
    bad |= check(show(s, 0) == 3, "three keys now");
    bad |= check(show(s, 3) == 2, "two keys at revision 3");

    printf("4. a range streamed two keys at a time\n");
    for (int i = 3; i < 40; i++) {
        char k[32], v[16];
        snprintf(k, sizeof k, "jobs/%d", i);
        snprintf(v, sizeof v, "queued");
        if (mvcc_store_put(s, k, strlen(k), v, strlen(v), 0, NULL) != 0)
            bad = 1;
    }
    mvcc_range_iter *it;
    bad |= failed(mvcc_range_iter_open(s, "jobs/", 5, "jobs0", 5, 0, 2, true, &it), "iterator");
    if (bad)
        return 1;
    const mvcc_kv *kvs;
    size_t got, chunks = 0, keys = 0;
    int rc;
    while ((rc = mvcc_range_iter_next(it, &kvs, &got)) == 0) {
        chunks++;
        keys += got;
    }
    mvcc_range_iter_close(it);
    printf("  %zu keys in %zu chunks\n", keys, chunks);
    bad |= check(rc == MVCC_EITERDONE && keys == 39 && chunks == 20, "39 keys, 2 per chunk");

    printf("5. compaction at revision %" PRId64 "\n", before_txn);
    bad |= failed(mvcc_store_compact(s, before_txn), "compact");
    bad |= failed(mvcc_store_compact_wait(s), "compact wait");
    bad |= failed(mvcc_store_commit(s), "commit");
    bad |= check(show(s, 3) == -1, "revision 3 is compacted");
    bad |= check(show(s, before_txn) == 3, "the compacted revision itself still reads");

    printf("6. HashKV, then close and reopen\n");
    mvcc_hash_kv h1, h2;
    bad |= failed(mvcc_store_hash_kv(s, 0, &h1), "hash");
    printf("  hashkv %" PRIu32 " at revision %" PRId64 " (compacted at %" PRId64 ")\n", h1.hash,
           h1.current_rev, h1.compact_rev);
    bad |= failed(mvcc_store_close(s), "close");
    bad |= failed(backend_close(be), "backend close");
    if (open_stack(path, &be, &s))
        return 1;
    bad |= failed(mvcc_store_hash_kv(s, 0, &h2), "hash");
    printf("  reopened: hashkv %" PRIu32 " at revision %" PRId64 " (compacted at %" PRId64 ")\n",
           h2.hash, h2.current_rev, h2.compact_rev);
    bad |= check(h1.hash == h2.hash && h1.current_rev == h2.current_rev &&
                         h1.compact_rev == h2.compact_rev,
                 "the same hash and revisions after a reopen");
    bad |= failed(mvcc_store_close(s), "close");
    bad |= failed(backend_close(be), "backend close");
    if (bad)
        return 1;
    printf("mvcc_example: ok\n");
    return 0;
}
