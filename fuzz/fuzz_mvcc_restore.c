/*
 * fuzz_mvcc_restore.c: libFuzzer target for the mvcc restore path
 * (mvcc/restore.c) over hostile `key` and `meta` buckets.
 *
 * The input describes a db: byte 0 holds flags (bit 0: a
 * scheduledCompactRev mark, bit 1: a finishedCompactRev mark, bit 2: a
 * consistent_index), each followed by its raw value (1 length byte, then
 * the bytes: any length, so malformed marks too); then records of the
 * `key` bucket, each [key length: 1][key][value length: 2, LE][value],
 * written as they are (revision keys and KeyValues of any shape). The db
 * is written to a temporary file through the backend and opened as a
 * store.
 *
 * Rules:
 *   1. The open returns 0 or an error; it never crashes, leaks or hangs.
 *   2. A store that opened is whole: ranges at the current revision and at
 *      every revision from the compacted one up succeed (never
 *      MVCC_ECORRUPT: the index only points at records restore checked),
 *      the incremental HashKV, when it can answer, equals the scan, a put
 *      and a compaction at the current revision work and finish, and a
 *      reopen gives the same revision and hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata/mvcc.h>

#include "mvcc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];

static void put(backend *be, const char *bucket, const uint8_t *k, size_t kl, const uint8_t *v,
                size_t vl)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    (void)backend_batch_tx_put(tx, (bolt_val){ bucket, strlen(bucket) }, (bolt_val){ k, kl },
                               (bolt_val){ v, vl });
    (void)backend_batch_tx_unlock(tx);
}

static int open_store(backend **be, mvcc_store **s)
{
    backend_options bo;
    backend_options_init(&bo);
    bo.mmap_reserve = 64u << 20;
    bolt_options bolt;
    backend_bolt_options_init(&bolt);
    bolt.no_sync = true;
    bo.bolt = &bolt;
    int rc = backend_open(path, &bo, be);
    if (rc != 0)
        return rc;
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.restore_threads = 2;
    mo.compaction_batch_limit = 7;
    char why[256];
    mo.errbuf = why;
    mo.errbuf_size = sizeof why;
    rc = mvcc_store_open(*be, &mo, s);
    if (rc != 0) {
        backend_close(*be);
        *be = NULL;
    }
    return rc;
}

static uint32_t must_hash(mvcc_store *s)
{
    mvcc_hash_kv h;
    if (mvcc_store_hash_kv(s, 0, &h) != 0)
        __builtin_trap();
    uint32_t scan, inc;
    if (mvcc__hash_kv_scan(s, 0, &scan) != 0 || scan != h.hash)
        __builtin_trap();
    if (mvcc__hash_kv_incremental(s, &inc) == 0 && inc != scan)
        __builtin_trap();
    return h.hash;
}

static void must_range(mvcc_store *s, int64_t rev)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .rev = rev };
    if (mvcc_store_range(s, "", 0, "", 0, &o, &r) != 0)
        __builtin_trap();
    mvcc_range_result_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (path[0] == '\0') {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_mvcc_restore.%d.db", dir ? dir : "/tmp",
                 (int)getpid());
    }
    unlink(path);
    if (size == 0)
        return 0;
    backend_options bo;
    backend_options_init(&bo);
    bo.mmap_reserve = 64u << 20;
    bolt_options bolt;
    backend_bolt_options_init(&bolt);
    bolt.no_sync = true;
    bo.bolt = &bolt;
    backend *be;
    if (backend_open(path, &bo, &be) != 0)
        return 0;
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    (void)backend_batch_tx_create_bucket(tx, (bolt_val){ "key", 3 });
    (void)backend_batch_tx_create_bucket(tx, (bolt_val){ "meta", 4 });
    (void)backend_batch_tx_unlock(tx);
    uint8_t flags = data[0];
    size_t i = 1;
    static const char *marks[] = { "scheduledCompactRev", "finishedCompactRev",
                                   "consistent_index" };
    for (int b = 0; b < 3; b++) {
        if (!(flags & (1u << b)) || i >= size)
            continue;
        size_t n = data[i++];
        if (n > size - i)
            n = size - i;
        put(be, "meta", (const uint8_t *)marks[b], strlen(marks[b]), data + i, n);
        i += n;
    }
    while (i + 1 <= size) {
        size_t kl = data[i++];
        if (kl > size - i)
            break;
        const uint8_t *k = data + i;
        i += kl;
        if (i + 2 > size)
            break;
        size_t vl = (size_t)data[i] | (size_t)data[i + 1] << 8;
        i += 2;
        if (vl > size - i)
            vl = size - i;
        put(be, "key", k, kl, data + i, vl);
        i += vl;
    }
    backend_close(be);

    mvcc_store *s;
    if (open_store(&be, &s) != 0) {
        unlink(path);
        return 0; /* rule 1 */
    }
    /* Rule 2. */
    if (mvcc_store_compact_wait(s) != 0)
        __builtin_trap();
    int64_t cur = mvcc_store_rev(s), c = mvcc_store_compact_rev(s);
    if (cur < c || cur < 1)
        __builtin_trap();
    for (int64_t r = c > 1 ? c : 1; r <= cur && r < (c > 1 ? c : 1) + 64; r++)
        must_range(s, r);
    must_hash(s);
    if (mvcc_store_put(s, "fuzz", 4, "v", 1, 0, NULL) != 0)
        __builtin_trap();
    cur = mvcc_store_rev(s);
    if (mvcc_store_compact(s, cur) != 0 || mvcc_store_compact_wait(s) != 0)
        __builtin_trap();
    must_range(s, cur);
    uint32_t h = must_hash(s);
    if (mvcc_store_close(s) != 0 || backend_close(be) != 0)
        __builtin_trap();
    if (open_store(&be, &s) != 0)
        __builtin_trap();
    if (mvcc_store_rev(s) != cur || must_hash(s) != h)
        __builtin_trap();
    mvcc_store_close(s);
    backend_close(be);
    unlink(path);
    return 0;
}
