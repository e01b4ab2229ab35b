/*
 * workload.h: the deterministic transaction workload shared by the fault,
 * crash and power-loss tests (header-only), and the golden record of its
 * states.
 *
 * wl_apply(tx, seed, i) performs transaction i of workload `seed`: puts of
 * small and overflow-sized values into three buckets, deletes, a nested
 * bucket created, filled and sometimes deleted, a sequence bump. What it
 * does depends only on (seed, i) and on the state left by transactions
 * 0..i-1, so replaying the same seed from the same file gives the same
 * states. wl_golden() runs the workload on a scratch file (no_sync, real
 * I/O) and records the hash of the canonical dump after each commit:
 * golden[0] is the empty db, golden[i + 1] the state after transaction i.
 */
#ifndef STRATA_TESTS_BOLT_WORKLOAD_H
#define STRATA_TESTS_BOLT_WORKLOAD_H

#include "bolt_test.h"

#include <stdio.h>

#define WL_MAX_TX 64

/* Sanitizer builds run fewer seeds by default (fork and teardown are slow). */
#if defined(__SANITIZE_ADDRESS__)
#define WL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WL_SANITIZED 1
#endif
#endif
#ifndef WL_SANITIZED
#define WL_SANITIZED 0
#endif

static HARNESS_UNUSED int wl_apply(bolt_tx *tx, uint64_t seed, unsigned i)
{
    strata_rng r;
    strata_rng_seed(&r, seed * 1000003u + i);
    bolt_bucket *b[3];
    for (int j = 0; j < 3; j++) {
        char name[8];
        snprintf(name, sizeof name, "b%d", j);
        int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str(name), &b[j]);
        if (rc != 0)
            return rc;
    }
    unsigned nops = 1 + (unsigned)strata_rng_below(&r, 24);
    static unsigned char val[5000];
    for (unsigned op = 0; op < nops; op++) {
        unsigned what = (unsigned)strata_rng_below(&r, 100);
        bolt_bucket *bk = b[strata_rng_below(&r, 3)];
        char key[32];
        snprintf(key, sizeof key, "key-%03u", (unsigned)strata_rng_below(&r, 150));
        int rc = 0;
        if (what < 65) {
            size_t n = strata_rng_below(&r, 100) < 8 ? 600 + strata_rng_below(&r, 4000)
                                                     : strata_rng_below(&r, 120);
            for (size_t k = 0; k < n; k++)
                val[k] = (unsigned char)(i * 31 + op * 7 + k);
            rc = bolt_bucket_put(bk, bolt_str(key), (bolt_val){ val, n });
        } else if (what < 85) {
            rc = bolt_bucket_delete(bk, bolt_str(key));
        } else if (what < 95) {
            char nname[16];
            snprintf(nname, sizeof nname, "nest-%u", (unsigned)strata_rng_below(&r, 3));
            bolt_bucket *nb;
            rc = bolt_bucket_create_if_not_exists(b[0], bolt_str(nname), &nb);
            for (unsigned k = 0; rc == 0 && k < 1 + strata_rng_below(&r, 20); k++) {
                char nk[16];
                snprintf(nk, sizeof nk, "n%02u", (unsigned)strata_rng_below(&r, 40));
                rc = bolt_bucket_put(nb, bolt_str(nk), bolt_str(key));
            }
        } else if (what < 98) {
            char nname[16];
            snprintf(nname, sizeof nname, "nest-%u", (unsigned)strata_rng_below(&r, 3));
            rc = bolt_bucket_delete_bucket(b[0], bolt_str(nname));
            if (rc == BOLT_EBUCKETNOTFOUND)
                rc = 0;
        } else {
            uint64_t seq;
            rc = bolt_bucket_next_sequence(bk, &seq);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Hash of the canonical dump of what a new read transaction sees. */
static HARNESS_UNUSED uint64_t wl_state(bolt_db *db)
{
    char *s = bt_dump(db, 0);
    uint64_t h = strata_fnv1a64(s, strlen(s));
    free(s);
    return h;
}

/* Page size of workload `seed`'s file: small pages and the usual 4096. */
static HARNESS_UNUSED uint32_t wl_page_size(uint64_t seed)
{
    return strata_splitmix64(seed) % 2 == 0 ? 512 : 4096;
}

/*
 * The options of workload seed's db: bt_opts() with the seed's page size,
 * freelist kind (array or hashmap), and, for one seed in four, no stored
 * freelist (reopening then rebuilds it by walking the tree).
 */
static HARNESS_UNUSED bolt_options wl_opts(uint64_t seed)
{
    bolt_options o = bt_opts();
    uint64_t h = strata_splitmix64(seed);
    o.page_size = wl_page_size(seed);
    o.freelist_type = (h >> 8) % 2 == 0 ? BOLT_FREELIST_ARRAY : BOLT_FREELIST_HASHMAP;
    o.no_freelist_sync = (h >> 16) % 4 == 0;
    /* Half the seeds shrink at every chance (a free tail over 4 pages). */
    if ((h >> 24) % 2 == 0)
        o.shrink_threshold = 4 * (uint64_t)(o.page_size ? o.page_size : 4096);
    return o;
}

/*
 * Create a new, empty db file at path with workload seed's page size: a
 * copy of one that bolt_open initialised (once per page size, cached), so
 * the hundreds of runs do not each pay the init's fdatasync and directory
 * fsync. The bytes are exactly what bolt_open writes.
 */
static HARNESS_UNUSED void wl_create(const char *path, uint64_t seed)
{
    static unsigned char *images[2];
    static size_t lens[2];
    uint32_t ps = wl_page_size(seed);
    int slot = ps == 512 ? 0 : 1;
    if (images[slot] == NULL) {
        char tpath[4096], name[32];
        snprintf(name, sizeof name, "template-%u.db", ps);
        harness_path(tpath, sizeof tpath, name);
        unlink(tpath);
        bolt_options o = bt_opts();
        o.page_size = ps;
        bolt_db *db;
        ASSERT_OK(bolt_open(tpath, &o, &db));
        ASSERT_OK(bolt_close(db));
        images[slot] = bt_read_file(tpath, &lens[slot]);
        ASSERT_NOT_NULL(images[slot]);
        unlink(tpath);
    }
    unlink(path);
    bt_write_file(path, images[slot], lens[slot]);
}

/*
 * Record golden[0..ntx] for workload `seed` (ntx <= WL_MAX_TX) on a
 * scratch file `path` (removed after). The file is made by wl_create and
 * opened with `os` (NULL: the real I/O, with no_sync), exactly as the crash
 * tests start, so a counting `os` sees the same sequence of writes and
 * syncs as their runs.
 */
static HARNESS_UNUSED void wl_golden(const char *path, uint64_t seed, unsigned ntx,
                                     uint64_t *golden, const struct bolt_os *os)
{
    wl_create(path, seed);
    bolt_options o = wl_opts(seed);
    bolt_db *db;
    o.os = os;
    o.no_sync = os == NULL;
    ASSERT_OK(bolt_open(path, &o, &db));
    golden[0] = wl_state(db);
    for (unsigned i = 0; i < ntx; i++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        int rc = wl_apply(tx, seed, i);
        if (rc != 0)
            bolt_tx_rollback(tx);
        ASSERT_OK(rc);
        ASSERT_OK(bolt_tx_commit(tx));
        golden[i + 1] = wl_state(db);
    }
    ASSERT_OK(bolt_close(db));
    unlink(path);
}

/* Run transactions from..ntx-1 on db (all must commit); end in golden[ntx]. */
static HARNESS_UNUSED void wl_finish(bolt_db *db, uint64_t seed, unsigned from, unsigned ntx,
                                     const uint64_t *golden)
{
    for (unsigned i = from; i < ntx; i++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(wl_apply(tx, seed, i));
        ASSERT_OK(bolt_tx_commit(tx));
    }
    ASSERT_EQ_HEX(wl_state(db), golden[ntx]);
}

#endif
