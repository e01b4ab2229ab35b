/*
 * hash.c: HashKV (etcd 3.4.23 store.HashByRev, docs/schema.md §8.2), kept up to
 * date at the current revision so that asking for it costs no scan of the
 * `key` bucket; a scan of the entries up to the revision for any other
 * revision (and while a compaction is still deleting).
 *
 * What etcd computes at rev = the current revision R, with compacted
 * revision C and keep = each key's newest revision <= R unless a
 * tombstone: crc32c("key" || every entry e <= R in bucket order, where an
 * entry with main <= C is left out if keep is non-empty and e is not in
 * keep). Once the physical deletion of the compaction at C has finished,
 * the entries <= C left in the bucket are exactly the revisions that
 * compaction kept (one per key alive at C), and every entry > C is in the
 * bucket. So
 *
 *   HashKV(R) = crc32c("key" || P || T)
 *   T = the entries > C, in order (every write transaction appends to it)
 *   P = the kept entries still their key's newest revision, in order, or
 *       all kept entries when no key is alive at R (keep is empty).
 *
 * Rules:
 *   1. T is a running CRC extended by each write transaction's delta at
 *      its end (crc32c continues over concatenation). CRCs of
 *      concatenations are combined with mvcc__crc32c_combine (zlib's
 *      crc32_combine for the Castagnoli polynomial), so the CRC of a suffix
 *      is also recoverable: crc(B) = crc(A||B) ^ crc(A) * x^(8|B|).
 *   2. P: the kept list (rev, crc, len of each kept entry, by revision)
 *      with a `removed` flag per entry, set when a write supersedes it.
 *      While nothing is removed, or no key is alive, P is the CRC of the
 *      whole list (all_crc). Otherwise a segment tree over the list gives
 *      P; it is built on the first HashKV that needs it and then updated
 *      for each removal (O(log n) combines) at the next HashKV.
 *   3. A compaction (pending from acceptance to the end of its physical
 *      deletion) makes HashKV scan. Its deletion pass visits every entry
 *      <= its revision C' in order: it gathers the CRC of the entries in
 *      (C, C'] (T's prefix, removed from T at the end by rule 1) and the
 *      new kept list, each kept entry marked removed when the index no
 *      longer has it as its key's newest revision (a write between C' and
 *      the acceptance superseded it). Revisions superseded while the
 *      compaction is pending are remembered too (changed_during) and
 *      marked removed in the new list.
 *   4. The state carries the revision it describes (hash_rev); HashKV
 *      uses it only when that is the revision asked for, no compaction is
 *      pending and its base is the compacted revision, else it scans.
 *      Everything here is under hash_mu, a leaf lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "be64.h"
#include "mvcc_int.h"

/* ---- CRC-32C combination (rule 1) ------------------------------------------- */

#define CRC32C_POLY 0x82F63B78u
#define X8N_CACHE   4096

static uint32_t x2n_table[72];        /* x^(2^k) mod P */
static uint32_t x8n_cache[X8N_CACHE]; /* x^(8n) mod P for small n */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/*
 * a * b mod P, reflected (bit 31 is x^0). Branch-free, a fixed 32 steps:
 * a's bits are as good as random, and zlib's form (a branch per bit,
 * stopping after a's last one) mispredicted about half of them: ~150 ns a
 * call against ~50 here, and every write transaction's hash_apply makes
 * one (2.6% of M1's put thread).
 */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t p = 0;
    for (unsigned i = 0; i < 32; i++) {
        p ^= b & (0u - ((a >> (31 - i)) & 1u));         /* + b * x^i when a has x^i */
        b = (b >> 1) ^ (CRC32C_POLY & (0u - (b & 1u))); /* b * x mod P */
    }
    return p;
}

/* x^(n * 2^k) mod P */
static uint32_t x2nmodp(uint64_t n, unsigned k)
{
    uint32_t p = 1u << 31; /* x^0 */
    while (n) {
        if (n & 1)
            p = multmodp(x2n_table[k], p);
        n >>= 1;
        k++;
    }
    return p;
}

static void crc_init(void)
{
    uint32_t p = 1u << 30; /* x^1 */
    x2n_table[0] = p;
    for (size_t n = 1; n < sizeof x2n_table / sizeof x2n_table[0]; n++)
        x2n_table[n] = p = multmodp(p, p);
    x8n_cache[0] = 1u << 31;
    uint32_t x8 = x2n_table[3]; /* x^8 */
    for (size_t n = 1; n < X8N_CACHE; n++)
        x8n_cache[n] = multmodp(x8, x8n_cache[n - 1]);
}

static uint32_t x8n(uint64_t len)
{
    return len < X8N_CACHE ? x8n_cache[len] : x2nmodp(len, 3);
}

uint32_t mvcc__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    pthread_once(&crc_once, crc_init);
    if (len_b == 0)
        return crc_a;
    return multmodp(x8n(len_b), crc_a) ^ crc_b;
}

/* crc(B) from crc(A||B), crc(A) and |B| (rule 1). */
static uint32_t crc32c_suffix(uint32_t crc_ab, uint32_t crc_a, uint64_t len_b)
{
    pthread_once(&crc_once, crc_init);
    return crc_ab ^ multmodp(x8n(len_b), crc_a);
}

/* ---- the state ----------------------------------------------------------------- */

void mvcc__hash_init(mvcc__hash_state *h)
{
    memset(h, 0, sizeof *h);
    h->tail_ok = true;
    h->kept_ok = true;
    h->base = -1;
}

static void seg_free(mvcc__hash_state *h)
{
    strata_free(h->seg_crc);
    strata_free(h->seg_len);
    strata_free(h->dirty);
    h->seg_crc = NULL;
    h->seg_len = NULL;
    h->dirty = NULL;
    h->seg_n = 0;
    h->ndirty = h->dirty_cap = 0;
}

static void kept_free(mvcc__hash_state *h)
{
    seg_free(h);
    strata_free(h->kept);
    strata_free(h->removed);
    h->kept = NULL;
    h->removed = NULL;
    h->nkept = h->nremoved = 0;
    h->all_crc = 0;
    h->all_len = 0;
}

void mvcc__hash_release(mvcc__hash_state *h)
{
    kept_free(h);
    idx_rev_set_free(h->changed_during);
    h->changed_during = NULL;
}

/* Install a kept list whose CRC, length and removed count are known. */
static void kept_install(mvcc__hash_state *h, mvcc__hash_kept *kept, bool *removed, size_t n,
                         int64_t base, uint32_t crc, uint64_t len, size_t nremoved)
{
    kept_free(h);
    h->kept = kept;
    h->removed = removed;
    h->nkept = n;
    h->base = base;
    h->nremoved = nremoved;
    h->all_crc = crc;
    h->all_len = len;
}

int mvcc__hash_set_kept(mvcc__hash_state *h, mvcc__hash_kept *kept, bool *removed, size_t n,
                        int64_t base)
{
    uint32_t c = 0;
    uint64_t l = 0;
    size_t nremoved = 0;
    for (size_t i = 0; i < n; i++) {
        c = mvcc__crc32c_combine(c, kept[i].crc, kept[i].len);
        l += kept[i].len;
        if (removed[i])
            nremoved++;
    }
    kept_install(h, kept, removed, n, base, c, l, nremoved);
    return 0;
}

static void seg_pull(mvcc__hash_state *h, size_t i)
{
    size_t l = 2 * i, r = 2 * i + 1;
    h->seg_crc[i] = mvcc__crc32c_combine(h->seg_crc[l], h->seg_crc[r], h->seg_len[r]);
    h->seg_len[i] = h->seg_len[l] + h->seg_len[r];
}

static int seg_build(mvcc__hash_state *h)
{
    size_t n = 1;
    while (n < h->nkept)
        n *= 2;
    uint32_t *c = strata_calloc(2 * n, sizeof *c);
    uint64_t *l = strata_calloc(2 * n, sizeof *l);
    if (c == NULL || l == NULL) {
        strata_free(c);
        strata_free(l);
        return -ENOMEM;
    }
    h->seg_crc = c;
    h->seg_len = l;
    h->seg_n = n;
    for (size_t i = 0; i < h->nkept; i++) {
        if (!h->removed[i]) {
            c[n + i] = h->kept[i].crc;
            l[n + i] = h->kept[i].len;
        }
    }
    for (size_t i = n - 1; i >= 1; i--)
        seg_pull(h, i);
    h->ndirty = 0;
    return 0;
}

static void seg_update(mvcc__hash_state *h, size_t leaf)
{
    size_t i = h->seg_n + leaf;
    h->seg_crc[i] = 0;
    h->seg_len[i] = 0;
    for (i /= 2; i >= 1; i /= 2)
        seg_pull(h, i);
}

/* The kept entry of rev, or -1. */
/* The index of rev in a kept list (sorted by revision), or -1. */
static ptrdiff_t kept_index(const mvcc__hash_kept *kept, size_t n, idx_rev rev)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = idx_rev_cmp(kept[mid].rev, rev);
        if (c == 0)
            return (ptrdiff_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static ptrdiff_t kept_find(const mvcc__hash_state *h, idx_rev rev)
{
    return kept_index(h->kept, h->nkept, rev);
}

/* Rule 2: rev stopped being its key's newest revision. */
static void kept_remove(mvcc__hash_state *h, idx_rev rev)
{
    if (rev.main > h->base || h->nkept == 0)
        return;
    ptrdiff_t i = kept_find(h, rev);
    if (i < 0 || h->removed[i])
        return;
    h->removed[i] = true;
    h->nremoved++;
    if (h->seg_n == 0)
        return;
    if (h->ndirty == h->dirty_cap) {
        size_t cap = h->dirty_cap ? h->dirty_cap * 2 : 64;
        size_t *d = strata_realloc(h->dirty, cap * sizeof *d);
        if (d == NULL) {
            seg_free(h); /* rebuilt at the next HashKV */
            return;
        }
        h->dirty = d;
        h->dirty_cap = cap;
    }
    h->dirty[h->ndirty++] = (size_t)i;
}

/* ---- write transactions ----------------------------------------------------- */

int mvcc__hash_delta_add(mvcc__hash_delta *d, const uint8_t *rk, size_t rk_len, const uint8_t *val,
                         size_t val_len, idx_rev prev)
{
    d->crc = strata_crc32c(d->crc, rk, rk_len);
    d->crc = strata_crc32c(d->crc, val, val_len);
    d->len += rk_len + val_len;
    if (prev.main == 0)
        return 0;
    if (d->nsup == d->capsup) {
        size_t cap = d->capsup ? d->capsup * 2 : 8;
        idx_rev *p = strata_realloc(d->superseded, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        d->superseded = p;
        d->capsup = cap;
    }
    d->superseded[d->nsup++] = prev;
    return 0;
}

void mvcc__hash_delta_release(mvcc__hash_delta *d)
{
    strata_free(d->superseded);
    memset(d, 0, sizeof *d);
}

void mvcc__hash_apply(mvcc_store *s, mvcc__hash_delta *d, int64_t new_rev)
{
    mvcc__hash_state *h = &s->hash;
    pthread_mutex_lock(&s->hash_mu);
    h->tail_crc = mvcc__crc32c_combine(h->tail_crc, d->crc, d->len);
    h->tail_len += d->len;
    h->live_keys += d->live_change;
    for (size_t i = 0; i < d->nsup; i++) {
        idx_rev r = d->superseded[i];
        kept_remove(h, r);
        if (h->pending > 0 && r.main <= h->pending_rev) {
            if (h->changed_during == NULL || idx_rev_set_add(h->changed_during, r) != 0)
                h->track_ok = false; /* rule 3 cannot be kept: scan until the next compaction */
        }
    }
    s->hash_rev = new_rev;
    pthread_mutex_unlock(&s->hash_mu);
}

/* ---- compaction (rule 3) ---------------------------------------------------- */

void mvcc__hash_compact_begin(mvcc_store *s, int64_t rev)
{
    mvcc__hash_state *h = &s->hash;
    pthread_mutex_lock(&s->hash_mu);
    if (h->pending++ == 0) {
        h->track_ok = true;
        if (h->changed_during == NULL && idx_rev_set_new(&h->changed_during) != 0)
            h->track_ok = false;
        else if (h->changed_during != NULL)
            idx_rev_set_clear(h->changed_during);
    }
    h->pending_rev = rev;
    pthread_mutex_unlock(&s->hash_mu);
}

int64_t mvcc__hash_base(mvcc_store *s)
{
    pthread_mutex_lock(&s->hash_mu);
    int64_t b = s->hash.base;
    pthread_mutex_unlock(&s->hash_mu);
    return b;
}

void mvcc__hash_rebase_init(mvcc__hash_rebase *rb, int64_t old_base, int64_t new_base)
{
    memset(rb, 0, sizeof *rb);
    rb->old_base = old_base;
    rb->new_base = new_base;
    rb->ok = true;
}

void mvcc__hash_rebase_entry(mvcc__hash_rebase *rb, idx_rev rev, const uint8_t *k, size_t klen,
                             const uint8_t *v, size_t vlen, bool kept, bool superseded)
{
    if (!rb->ok)
        return;
    uint32_t c = strata_crc32c(0, k, klen);
    c = strata_crc32c(c, v, vlen);
    uint64_t len = klen + vlen;
    if (rev.main > rb->old_base) {
        rb->a_crc = mvcc__crc32c_combine(rb->a_crc, c, len);
        rb->a_len += len;
    }
    if (!kept)
        return;
    if (len > UINT32_MAX) {
        rb->ok = false;
        return;
    }
    if (rb->nkept == rb->cap) {
        size_t cap = rb->cap ? rb->cap * 2 : 256;
        mvcc__hash_kept *p = strata_realloc(rb->kept, cap * sizeof *p);
        if (p != NULL)
            rb->kept = p;
        bool *r = p != NULL ? strata_realloc(rb->removed, cap * sizeof *r) : NULL;
        if (r == NULL) {
            rb->ok = false;
            return;
        }
        rb->removed = r;
        rb->cap = cap;
    }
    rb->removed[rb->nkept] = superseded;
    rb->kept[rb->nkept++] = (mvcc__hash_kept){ rev, c, (uint32_t)len };
    /* What mvcc__hash_set_kept would sum, summed here, outside hash_mu. */
    rb->k_crc = mvcc__crc32c_combine(rb->k_crc, c, len);
    rb->k_len += len;
    rb->k_removed += superseded;
}

/*
 * Rule 3: mark removed the kept entries superseded while the compaction was
 * pending; hash_mu held. Looks each of those (few) revisions up in the kept
 * list rather than each kept entry up in the set: hash_mu is on every
 * write transaction's path.
 */
static void mark_changed_during(mvcc__hash_state *h, mvcc__hash_rebase *rb)
{
    if (h->changed_during == NULL || idx_rev_set_count(h->changed_during) == 0)
        return;
    idx_rev_array a;
    idx_rev_array_init(&a);
    if (idx_rev_set_sorted(h->changed_during, &a) == 0) {
        for (size_t j = 0; j < a.count; j++) {
            ptrdiff_t i = kept_index(rb->kept, rb->nkept, a.revs[j]);
            if (i >= 0 && !rb->removed[i]) {
                rb->removed[i] = true;
                rb->k_removed++;
            }
        }
    } else { /* no memory for the sorted copy: the long way */
        for (size_t i = 0; i < rb->nkept; i++) {
            if (!rb->removed[i] && idx_rev_set_contains(h->changed_during, rb->kept[i].rev)) {
                rb->removed[i] = true;
                rb->k_removed++;
            }
        }
    }
    idx_rev_array_release(&a);
}

void mvcc__hash_rebase_release(mvcc__hash_rebase *rb)
{
    strata_free(rb->kept);
    strata_free(rb->removed);
    rb->kept = NULL;
    rb->removed = NULL;
}

void mvcc__hash_compact_end(mvcc_store *s, mvcc__hash_rebase *rb, bool finished)
{
    mvcc__hash_state *h = &s->hash;
    pthread_mutex_lock(&s->hash_mu);
    if (finished) {
        if (!rb->ok || !h->tail_ok || rb->a_len > h->tail_len) {
            h->kept_ok = false;
            h->tail_ok = h->tail_ok && rb->a_len <= h->tail_len;
        } else {
            h->tail_len -= rb->a_len;
            h->tail_crc = crc32c_suffix(h->tail_crc, rb->a_crc, h->tail_len);
            mark_changed_during(h, rb);
            kept_install(h, rb->kept, rb->removed, rb->nkept, rb->new_base, rb->k_crc, rb->k_len,
                         rb->k_removed);
            rb->kept = NULL; /* taken over */
            rb->removed = NULL;
            h->kept_ok = h->track_ok;
        }
        h->base = rb->new_base;
    }
    if (h->pending > 0 && --h->pending == 0 && h->changed_during != NULL)
        idx_rev_set_clear(h->changed_during);
    pthread_mutex_unlock(&s->hash_mu);
}

/* ---- HashKV --------------------------------------------------------------------- */

/* Rule 4: the incremental value, if the state describes rev. hash_mu held. */
static bool hash_incremental(mvcc_store *s, int64_t rev, int64_t compact, uint32_t *out)
{
    mvcc__hash_state *h = &s->hash;
    if (s->hash_rev != rev || h->pending > 0 || !h->tail_ok || !h->kept_ok || h->base != compact)
        return false;
    uint32_t p = 0;
    uint64_t plen = 0;
    if (h->nkept > 0 && (h->nremoved == 0 || h->live_keys == 0)) {
        p = h->all_crc;
        plen = h->all_len;
    } else if (h->nkept > 0) {
        if (h->seg_n == 0) {
            if (seg_build(h) != 0)
                return false;
        } else {
            for (size_t i = 0; i < h->ndirty; i++)
                seg_update(h, h->dirty[i]);
            h->ndirty = 0;
        }
        p = h->seg_crc[1];
        plen = h->seg_len[1];
    }
    uint32_t c = strata_crc32c(0, MVCC__BUCKET_KEY, 3);
    c = mvcc__crc32c_combine(c, p, plen);
    c = mvcc__crc32c_combine(c, h->tail_crc, h->tail_len);
    *out = c;
    return true;
}

typedef struct scan {
    uint32_t crc;
    int64_t compact;
    idx_rev_set *keep;
    bool filter;
    int rc;
} scan;

static int scan_fn(void *arg, bolt_val key, bolt_val value)
{
    scan *sc = arg;
    mvcc__revkey rk;
    int rc = mvcc__revkey_decode(key.data, key.size, &rk);
    if (rc != 0) {
        sc->rc = rc;
        return 1;
    }
    if (sc->filter && rk.rev.main <= sc->compact && !idx_rev_set_contains(sc->keep, rk.rev))
        return 0;
    sc->crc = strata_crc32c(sc->crc, key.data, key.size);
    sc->crc = strata_crc32c(sc->crc, value.data, value.size);
    return 0;
}

/* etcd's scan (docs/schema.md §8.2 step 3) over the entries <= rev. */
static int hash_scan(mvcc_store *s, int64_t rev, int64_t compact, uint32_t *out)
{
    scan sc = { .crc = strata_crc32c(0, MVCC__BUCKET_KEY, 3), .compact = compact };
    if (rev < 0) { /* etcd hashes nothing but the bucket name */
        *out = sc.crc;
        return 0;
    }
    int rc = idx_tree_keep(s->index, rev, &sc.keep);
    if (rc != 0)
        return rc;
    sc.filter = idx_rev_set_count(sc.keep) > 0;
    backend_read_tx *rtx;
    rc = backend_read_tx_begin(s->be, &rtx);
    if (rc == 0) {
        uint8_t end[8];
        strata__store_be64(end, (uint64_t)rev + 1);
        rc = backend_read_tx_range(rtx, (bolt_val){ MVCC__BUCKET_KEY, 3 }, (bolt_val){ "", 0 },
                                   (bolt_val){ end, 8 }, 0, scan_fn, &sc);
        if (rc == 1)
            rc = sc.rc;
        if (rc == BACKEND_EBUCKETNOTFOUND)
            rc = 0; /* a read-only store over a file without the bucket */
        backend_read_tx_end(rtx);
    }
    idx_rev_set_free(sc.keep);
    if (rc == 0)
        *out = sc.crc;
    return rc;
}

int mvcc_store_hash_kv(mvcc_store *s, int64_t rev, mvcc_hash_kv *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->rev_mu);
    int64_t compact = mvcc__compact_rev(s), cur = mvcc__current_rev(s);
    pthread_mutex_unlock(&s->rev_mu);
    if (rev > 0 && rev <= compact) {
        out->compact_rev = compact;
        return MVCC_ECOMPACTED;
    }
    if (rev > 0 && rev > cur) {
        out->current_rev = cur;
        return MVCC_EFUTUREREV;
    }
    if (rev == 0)
        rev = cur;
    uint32_t h;
    pthread_mutex_lock(&s->hash_mu);
    bool done = hash_incremental(s, rev, compact, &h);
    pthread_mutex_unlock(&s->hash_mu);
    if (!done) {
        int rc = hash_scan(s, rev, compact, &h);
        if (rc != 0)
            return rc;
    }
    out->hash = h;
    out->current_rev = cur;
    out->compact_rev = compact;
    return 0;
}

int mvcc__hash_kv_scan(mvcc_store *s, int64_t rev, uint32_t *out)
{
    int64_t compact = mvcc__compact_rev(s);
    if (rev == 0)
        rev = mvcc__current_rev(s);
    return hash_scan(s, rev, compact, out);
}

int mvcc__hash_kv_incremental(mvcc_store *s, uint32_t *out)
{
    pthread_mutex_lock(&s->hash_mu);
    bool done = hash_incremental(s, s->hash_rev, mvcc__compact_rev(s), out);
    pthread_mutex_unlock(&s->hash_mu);
    return done ? 0 : STRATA_NOTFOUND;
}
