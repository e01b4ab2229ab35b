/*
 * hash.c: etcd's backend Hash (docs/schema.md §8.2, the store.Hash paragraph):
 * CRC-32C over the committed file.
 *
 * Rules:
 *   1. The hash reads a bolt read transaction of the current db: committed
 *      state only, like etcd's db.View (buffered writes are not in it).
 *   2. Order and bytes: each top-level bucket in name order, its name, then
 *      each key and value in key order, with nothing between them (Go's
 *      h.Write of each slice), skipping ignored (bucket, key) pairs.
 *   3. A top-level key that is not a bucket fails, as etcd's "cannot get
 *      hash of bucket"; strata has no nested buckets in its schema, and
 *      refuses them rather than hash something etcd would hash differently.
 *   4. Each page is read once (bolt_visited): a damaged file whose buckets
 *      share a subtree fails with BOLT_ECORRUPT, the page named
 *      (backend_last_corruption).
 *   5. Progress (backend_options.progress): every top-level bucket is
 *      entered (rule 4's walk, "pages checked") before any is hashed, so
 *      the pairs to hash are counted first; then "keys hashed" of that
 *      count.
 */
#include <string.h>

#include "backend_int.h"

static const backend_hash_ignore default_ignores[] = {
    { { "meta", 4 }, { "consistent_index", 16 } },
};

typedef struct hash_state {
    uint32_t crc;
    bolt_val bucket;
    const backend_hash_ignore *ign;
    size_t nign;
    const backend *be;    /* rule 5: its progress callback */
    uint64_t done, total; /* pairs hashed, pairs in all buckets */
} hash_state;

#define PROGRESS_PAIRS 4096 /* pairs between progress calls */

/* Rule 5, first pass: the visited set's pages. */
static void pages_progress(void *arg, uint64_t done, uint64_t total)
{
    const backend *be = arg;
    be->opt.progress(be->opt.progress_arg, "pages checked", done, total);
}

static bool val_eq(bolt_val a, bolt_val b)
{
    return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

static int hash_pair(void *arg, bolt_val key, bolt_val value)
{
    hash_state *h = arg;
    if (value.data == NULL)
        return BACKEND_ENESTED;
    for (size_t i = 0; i < h->nign; i++)
        if (val_eq(h->ign[i].bucket, h->bucket) && val_eq(h->ign[i].key, key))
            return 0;
    h->crc = strata_crc32c(h->crc, key.data, key.size);
    h->crc = strata_crc32c(h->crc, value.data, value.size);
    if (++h->done % PROGRESS_PAIRS == 0 && h->be->opt.progress != NULL)
        h->be->opt.progress(h->be->opt.progress_arg, "keys hashed", h->done, h->total);
    return 0;
}

int backend_hash(backend *be, const backend_hash_ignore *ignores, size_t n, uint32_t *out)
{
    hash_state h = { 0, { NULL, 0 }, ignores, n, be, 0, 0 };
    if (ignores == NULL) {
        h.ign = default_ignores;
        h.nign = sizeof default_ignores / sizeof default_ignores[0];
    }
    pthread_mutex_lock(&be->snap_mu);
    if (be->closed) {
        pthread_mutex_unlock(&be->snap_mu);
        return BACKEND_ECLOSED;
    }
    backend__dbref *ref = be->cur;
    bolt_tx *tx;
    int rc = bolt_tx_begin(ref->db, 0, &tx);
    if (rc == 0)
        ref->refs++;
    pthread_mutex_unlock(&be->snap_mu);
    if (rc != 0)
        return rc;
    /* Rule 4: each page once (a shared subtree or a cycle is BOLT_ECORRUPT, never hashed twice);
     * rule 5: every bucket is entered before any is hashed, so the pairs' total is known. */
    bolt_visited *seen = NULL;
    rc = bolt_visited_new(tx, &seen);
    if (rc == 0 && be->opt.progress != NULL)
        bolt_visited_set_progress(seen, pages_progress, be);
    if (rc == 0)
        rc = bolt_visited_add(seen, bolt_tx_root(tx));
    bolt_cursor *c = NULL;
    if (rc == 0)
        rc = bolt_cursor_open(bolt_tx_root(tx), &c);
    bolt_val k, v;
    if (rc == 0)
        rc = bolt_cursor_first(c, &k, &v);
    /* First pass. Loop invariant: every bucket before k is in seen. */
    while (rc == 0) {
        bolt_bucket *b;
        if (v.data != NULL) {
            rc = BACKEND_ENOTBUCKET; /* rule 3: a plain key at the top */
            break;
        }
        rc = bolt_tx_bucket(tx, k, &b);
        if (rc == 0)
            rc = bolt_visited_add(seen, b);
        if (rc == 0)
            rc = bolt_cursor_next(c, &k, &v);
    }
    if (rc == BOLT_NOTFOUND) {
        bolt_visited_counts counts;
        bolt_visited_counts_get(seen, &counts);
        h.total = counts.pairs;
        if (be->opt.progress != NULL)
            be->opt.progress(be->opt.progress_arg, "pages checked", counts.pages, counts.pages);
        rc = bolt_cursor_first(c, &k, &v);
    }
    /* Second pass. Loop invariant: h.crc covers every bucket before k (rule 2). */
    while (rc == 0) {
        bolt_bucket *b;
        rc = bolt_tx_bucket(tx, k, &b);
        if (rc != 0)
            break;
        h.crc = strata_crc32c(h.crc, k.data, k.size);
        h.bucket = k;
        rc = bolt_bucket_for_each(b, hash_pair, &h);
        if (rc != 0)
            break;
        rc = bolt_cursor_next(c, &k, &v);
    }
    bolt_cursor_close(c);
    bolt_visited_free(seen);
    bolt_tx_rollback(tx);
    backend__dbref_unref(be, ref);
    if (rc != BOLT_NOTFOUND)
        return rc;
    if (be->opt.progress != NULL)
        be->opt.progress(be->opt.progress_arg, "keys hashed", h.done, h.total);
    *out = h.crc;
    return 0;
}

void backend_last_corruption(backend *be, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (be == NULL)
        return;
    pthread_mutex_lock(&be->snap_mu);
    if (!be->closed && be->cur != NULL)
        bolt_db_last_corruption(be->cur->db, buf, size);
    pthread_mutex_unlock(&be->snap_mu);
}
