/*
 * range_iter.c: a range at a revision streamed in chunks (a strata extra:
 * etcd materializes every range, and large ones are its best-known way to
 * run out of memory).
 *
 * Rules:
 *   1. The iterator takes its revision and a backend view together, as a
 *      read transaction does (kvstore_txn.c rule 2), and keeps the view to
 *      the end: each chunk reads the same state.
 *   2. A chunk is one index page (idx_tree_range_page) from just after the
 *      last key of the previous chunk, so the index walk costs each key
 *      once over the whole iteration, and memory holds one chunk.
 *   3. After each page the compacted revision is checked again (a
 *      compaction past the iterator's revision accepted meanwhile may have
 *      removed what the page needed): MVCC_ECOMPACTED.
 */
#include <errno.h>
#include <string.h>

#include "mvcc_int.h"

struct mvcc_range_iter {
    mvcc_store *s;
    backend_read_tx *rtx;
    int64_t rev;
    size_t chunk;
    bool keys_only;
    bool single; /* end == NULL: one key */
    bool done;
    bool after; /* resume strictly after next_key */
    uint8_t *next_key;
    size_t next_len;
    uint8_t *end;
    size_t end_len;
    mvcc_range_result res;
};

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = strata_malloc(n ? n : 1);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

void mvcc_range_iter_close(mvcc_range_iter *it)
{
    if (it == NULL)
        return;
    mvcc_range_result_release(&it->res);
    backend_read_tx_end(it->rtx);
    strata_free(it->next_key);
    strata_free(it->end);
    strata_free(it);
}

int mvcc_range_iter_open(mvcc_store *s, const void *key, size_t key_len, const void *end,
                         size_t end_len, int64_t rev, size_t chunk, bool keys_only,
                         mvcc_range_iter **out)
{
    *out = NULL;
    if ((key == NULL && key_len > 0) || (end == NULL && end_len > 0))
        return STRATA_EMISUSE;
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    mvcc_range_iter *it = strata_calloc(1, sizeof *it);
    if (it == NULL)
        return -ENOMEM;
    it->s = s;
    it->chunk = chunk ? chunk : 1000;
    it->keys_only = keys_only;
    it->single = end == NULL;
    it->next_key = dup_bytes(key, key_len);
    it->next_len = key_len;
    it->end = end != NULL ? dup_bytes(end, end_len) : NULL;
    it->end_len = end_len;
    if (it->next_key == NULL || (end != NULL && it->end == NULL)) {
        mvcc_range_iter_close(it);
        return -ENOMEM;
    }
    pthread_mutex_lock(&s->rev_mu); /* rule 1 */
    int64_t cur = mvcc__current_rev(s);
    /* Read under rev_mu with cur: an open at the current revision is never compacted. */
    int64_t compacted = mvcc__compact_rev(s);
    int rc = backend_read_tx_begin(s->be, &it->rtx);
    pthread_mutex_unlock(&s->rev_mu);
    if (rc == 0 && rev > cur)
        rc = MVCC_EFUTUREREV;
    if (rev <= 0)
        rev = cur;
    if (rc == 0 && rev < compacted)
        rc = MVCC_ECOMPACTED;
    if (rc != 0) {
        mvcc_range_iter_close(it);
        return rc;
    }
    it->rev = rev;
    *out = it;
    return 0;
}

int64_t mvcc_range_iter_rev(const mvcc_range_iter *it)
{
    return it->rev;
}

int mvcc_range_iter_next(mvcc_range_iter *it, const mvcc_kv **kvs, size_t *n)
{
    *kvs = NULL;
    *n = 0;
    mvcc__result_reset(&it->res); /* the previous chunk's kvs end here */
    if (it->done)
        return MVCC_EITERDONE;
    mvcc_store *s = it->s;
    idx_range_result ir = { 0 };
    int rc;
    if (it->single) {
        rc = idx_tree_range(s->index, it->next_key, it->next_len, NULL, 0, it->rev, 0, false, &ir);
        it->done = true;
    } else {
        rc = idx_tree_range_page(s->index, it->next_key, it->next_len, it->after, it->end,
                                 it->end_len, it->rev, it->chunk, &ir);
        if (rc == 0 && ir.count < it->chunk)
            it->done = true;
    }
    if (rc != 0)
        return rc;
    if (it->rev < mvcc__compact_rev(s)) { /* rule 3 */
        idx_range_result_release(&ir);
        it->done = true;
        return MVCC_ECOMPACTED;
    }
    if (ir.count == 0) {
        idx_range_result_release(&ir);
        it->done = true;
        return MVCC_EITERDONE;
    }
    rc = mvcc__result_reserve(&it->res, ir.count);
    if (rc == 0) /* the chunk's descents interleaved (kvstore_txn.c's fetch for ranges) */
        rc = mvcc__fetch_many(it->rtx, ir.revs, ir.count, false, it->keys_only, &it->res);
    if (rc == 0 && !it->single) {
        const idx_key *last = &ir.keys[ir.count - 1];
        uint8_t *k = dup_bytes(last->data, last->len);
        if (k == NULL) {
            rc = -ENOMEM;
        } else {
            strata_free(it->next_key);
            it->next_key = k;
            it->next_len = last->len;
            it->after = true;
        }
    }
    idx_range_result_release(&ir);
    if (rc != 0) {
        mvcc_range_result_release(&it->res);
        it->done = true;
        return rc;
    }
    *kvs = it->res.kvs;
    *n = it->res.n;
    return 0;
}
