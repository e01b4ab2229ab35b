/*
 * key_sort.c: a revoke's keys in sorted order, packed into one block
 * (lease__keybuf). A revoke deletes its lease's keys in key order (etcd's
 * sorted itemSet walk), and every pass after the sort (the index's sorted
 * walks, the tombstone encoding, the backend's writes and bolt's puts)
 * reads the key bytes once more in that order.
 *
 * The order is the store's: bytes compared unsigned, then the shorter key
 * first (memcmp, then length).
 *
 * The sort is a most-significant-first sort on 8-byte digits: the keys'
 * common prefix is skipped; at a depth d every key of a range gets the
 * digit (the 8 bytes at d, big-endian, zero-padded) and the length class
 * (how many bytes it has from d on, 9 meaning "more than 8"); the range is
 * ordered by (digit, length class), in place: up to four bucket passes on
 * the digit's leading bits that differ (American flag sort), then an
 * introsort of each bucket (quicksort with a median of three, a heapsort
 * when the partitions degenerate, insertion sort for short ranges): no
 * scratch beyond the entries; each run of keys equal in
 * both and longer than d + 8 is sorted the same way at d + 8. Within a run
 * of equal digits the length class orders a key before the keys it is a
 * prefix of (its missing bytes read as zero, but it is shorter); two keys
 * with the same digits and the same length below 9 are equal, which a
 * lease's keys never are. Small runs take an insertion sort by full
 * comparison. (Sessions 5-8 sorted by least-significant-first counting
 * passes, which need a second array of entries; session 9 sorts in place.)
 *
 * The keys are gathered into one block (raw) first, so the sort and the
 * passes after it read a compact block instead of items scattered over
 * the heap (a tombstone's encoding alone missed the cache on every key:
 * ~14% of a 100,000-key revoke, session 5). The sorted keys' descriptions
 * (bolt_val, 16 bytes, the entry's size) are written over the entries, in
 * place, and point into raw: the passes after the sort fetch each key a
 * few keys ahead (the index's sorted walk), so the scattered reads
 * overlap. Memory for n keys of `total` bytes: total + 16 n (a
 * 100,000-key revoke: 2.8 MB; session 8's packed copy and second array:
 * 5.6 MB), each MiB of it first-touch page faults on a VM whose host takes
 * freed pages back (docs/lease.md).
 */
#include "lease_int.h"

#include <errno.h>
#include <string.h>

#include "grow.h"

/*
 * A key during the sort: the digit at the current depth, and where its
 * bytes are in kb->raw. 16 bytes, a bolt_val's size (the sorted keys are
 * written over the entries). The length class (how many bytes the key
 * has from the depth on, 9 meaning "more than 8") is derived from len and
 * the depth.
 */
typedef struct lease__sortent {
    uint64_t digit;
    uint32_t off;
    uint32_t len;
} sortent;

#define SMALL_RUN 24 /* runs this short are sorted by insertion */

void lease__keybuf_release(lease__keybuf *kb)
{
    strata_free(kb->raw);
    strata_free(kb->ent);
    memset(kb, 0, sizeof *kb);
}

int lease__keybuf_reserve(lease__keybuf *kb, size_t n, size_t total)
{
    kb->n = 0;
    kb->used = 0;
    kb->keys = NULL;
    if (total > UINT32_MAX || n > UINT32_MAX)
        return -ENOMEM; /* offsets are 32 bits: 4 GiB of one lease's keys */
    void *raw = kb->raw, *ent = kb->ent;
    int rc = strata__grow(&raw, &kb->raw_cap, total + 1, 1, 256);
    kb->raw = raw;
    /* n entries, sorted in place, then overwritten by the sorted keys. */
    _Static_assert(sizeof(bolt_val) == sizeof(sortent), "a key replaces its entry");
    if (rc == 0)
        rc = strata__grow(&ent, &kb->ent_cap, n, sizeof(sortent), 64);
    kb->ent = ent;
    kb->cap = rc == 0 ? n : 0;
    return rc;
}

void lease__keybuf_push(lease__keybuf *kb, const void *key, size_t len)
{
    if (len > 0)
        memcpy(kb->raw + kb->used, key, len);
    kb->ent[kb->n++] = (sortent){ 0, (uint32_t)kb->used, (uint32_t)len };
    kb->used += len;
}

/* memcmp, then length (the store's key order). */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The length class of e at depth (every key of a range at depth is longer than depth). */
static inline unsigned lclass(const sortent *e, size_t depth)
{
    size_t rest = e->len - depth;
    return (unsigned)(rest < 9 ? rest : 9);
}

/* Keys from depth on; every key of the range agrees on the bytes before depth. */
static void insertion_sort(const uint8_t *raw, sortent *e, size_t n, size_t depth)
{
    /* Invariant: e[0, i) is sorted. */
    for (size_t i = 1; i < n; i++) {
        sortent x = e[i];
        size_t j = i;
        while (j > 0 && key_cmp(raw + e[j - 1].off + depth, e[j - 1].len - depth,
                                raw + x.off + depth, x.len - depth) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

static void set_digit(const uint8_t *raw, sortent *e, size_t depth)
{
    size_t rest = e->len - depth;
    size_t take = rest < 8 ? rest : 8;
    uint8_t b[8] = { 0 };
    memcpy(b, raw + e->off + depth, take);
    uint64_t d = 0;
    for (int i = 0; i < 8; i++)
        d = d << 8 | b[i];
    e->digit = d;
}

/* (digit, length class) order at depth. */
static inline bool ent_less(const sortent *a, const sortent *b, size_t depth)
{
    if (a->digit != b->digit)
        return a->digit < b->digit;
    return lclass(a, depth) < lclass(b, depth);
}

static inline void ent_swap(sortent *a, sortent *b)
{
    sortent t = *a;
    *a = *b;
    *b = t;
}

/* Sift e[i] down a max-heap of n entries. */
static void ent_sift(sortent *e, size_t n, size_t i, size_t depth)
{
    /* Loop invariant: the heap order holds everywhere but between i and its children. */
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && ent_less(&e[c], &e[c + 1], depth))
            c++;
        if (!ent_less(&e[i], &e[c], depth))
            return;
        ent_swap(&e[i], &e[c]);
        i = c;
    }
}

static void ent_heapsort(sortent *e, size_t n, size_t depth)
{
    for (size_t i = n / 2; i-- > 0;)
        ent_sift(e, n, i, depth);
    /* Loop invariant: e[0, k) is a heap of the smallest k; e[k, n) sorted. */
    for (size_t k = n; k > 1; k--) {
        ent_swap(&e[0], &e[k - 1]);
        ent_sift(e, k - 1, 0, depth);
    }
}

/*
 * e[0, n) in (digit, length class) order at depth, in place: quicksort
 * (median of three, Hoare's partition) on the larger side by iteration,
 * the smaller by recursion (so the stack is O(log n)), a heapsort for a
 * range once budget partitions have been spent on its way down
 * (degenerate pivots), insertion sort below SMALL_RUN.
 */
static void ent_introsort(sortent *e, size_t n, size_t depth, unsigned budget)
{
    while (n > SMALL_RUN) {
        if (budget == 0) {
            ent_heapsort(e, n, depth);
            return;
        }
        budget--;
        size_t m = n / 2;
        if (ent_less(&e[m], &e[0], depth))
            ent_swap(&e[m], &e[0]);
        if (ent_less(&e[n - 1], &e[0], depth))
            ent_swap(&e[n - 1], &e[0]);
        if (ent_less(&e[n - 1], &e[m], depth))
            ent_swap(&e[n - 1], &e[m]);
        const sortent p = e[m]; /* e[0] <= p <= e[n - 1]: both scans stop inside */
        size_t i = 0, j = n - 1;
        /* Loop invariant: e[0, i) <= p <= e(j, n). */
        for (;;) {
            while (ent_less(&e[i], &p, depth))
                i++;
            while (ent_less(&p, &e[j], depth))
                j--;
            if (i >= j)
                break;
            ent_swap(&e[i], &e[j]);
            i++;
            j--;
        }
        /* e[0, j] <= p <= e[j + 1, n), both sides non-empty. */
        size_t left = j + 1;
        if (left < n - left) {
            ent_introsort(e, left, depth, budget);
            e += left;
            n -= left;
        } else {
            ent_introsort(e + left, n - left, depth, budget);
            n = left;
        }
    }
    /* Loop invariant: e[0, i) is sorted. */
    for (size_t i = 1; i < n; i++) {
        sortent x = e[i];
        size_t j = i;
        while (j > 0 && ent_less(&x, &e[j - 1], depth)) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

/* 2 floor(log2 n) + 2: introsort's budget of partitions before a heapsort. */
static unsigned sort_budget(size_t n)
{
    unsigned b = 2;
    for (size_t k = n; k > 1; k >>= 1)
        b += 2;
    return b;
}

#define BUCKET_MIN    64 /* ranges at least this long get a bucket pass first */
#define BUCKET_LEVELS 4  /* bucket passes, at most, before the introsort */

/*
 * e[0, n) in (digit, length class) order at depth, in place: a
 * most-significant-first bucket pass on the 8 bits of the digit below the
 * bits every digit of the range agrees on (American flag sort: counts,
 * then each entry swapped into its bucket's next place), each bucket then
 * the same with one level less, and the introsort last. A 100,000-key
 * revoke's introsort alone was 10-13% of its CPU (every compare a branch
 * the predictor cannot learn). A pass takes the 8 bits below the agreed
 * ones, which for decimal keys ("big-00012345") hold one digit's 10
 * values: four passes leave ranges of tens.
 * budget: kb->sort_budget (0: introsort's own for each range).
 */
static void bucket_sort(sortent *e, size_t n, size_t depth, unsigned budget, int levels)
{
    uint64_t diff = 0;
    if (n >= BUCKET_MIN && levels > 0)
        for (size_t i = 1; i < n; i++)
            diff |= e[i].digit ^ e[0].digit;
    if (diff == 0) { /* short, or every digit equal: the length class decides */
        ent_introsort(e, n, depth, budget != 0 ? budget : sort_budget(n));
        return;
    }
    int high = 63 - __builtin_clzll(diff); /* the digits agree above this bit */
    unsigned shift = high >= 7 ? (unsigned)high - 7 : 0;
    uint32_t cnt[256] = { 0 }; /* n <= UINT32_MAX (lease__keybuf_reserve) */
    size_t next[256], end[256];
    for (size_t i = 0; i < n; i++)
        cnt[(e[i].digit >> shift) & 0xff]++;
    size_t at = 0;
    for (int b = 0; b < 256; b++) {
        next[b] = at;
        at += cnt[b];
        end[b] = at;
    }
    /* Loop invariant: for every bucket c, e[start of c, next[c]) hold entries of c. */
    for (unsigned b = 0; b < 256; b++) {
        while (next[b] < end[b]) {
            sortent x = e[next[b]];
            unsigned c = (unsigned)(x.digit >> shift) & 0xff;
            while (c != b) { /* x belongs further on: swap it there, carry what was there */
                sortent t = e[next[c]];
                e[next[c]++] = x;
                x = t;
                c = (unsigned)(x.digit >> shift) & 0xff;
            }
            e[next[b]++] = x;
        }
    }
    for (int b = 0; b < 256; b++)
        if (cnt[b] > 1)
            bucket_sort(e + end[b] - cnt[b], cnt[b], depth, budget, levels - 1);
}

/*
 * Sorts e[0, n) by the keys from depth on (every key longer than depth,
 * all equal before it), in place. budget: kb->sort_budget (0: introsort's).
 */
static void key_sort(const uint8_t *raw, sortent *e, size_t n, size_t depth, unsigned budget)
{
    if (n <= SMALL_RUN) {
        insertion_sort(raw, e, n, depth);
        return;
    }
    for (size_t i = 0; i < n; i++)
        set_digit(raw, &e[i], depth);
    bucket_sort(e, n, depth, budget, BUCKET_LEVELS);
    /* Runs of equal digits whose keys go on: sorted at the next depth. */
    for (size_t i = 0, j; i < n; i = j) {
        unsigned c = lclass(&e[i], depth);
        for (j = i + 1; j < n && e[j].digit == e[i].digit && lclass(&e[j], depth) == c; j++)
            ;
        if (j - i > 1 && c == 9)
            key_sort(raw, e + i, j - i, depth + 8, budget);
    }
}

int lease__keybuf_sort(lease__keybuf *kb)
{
    size_t n = kb->n;
    if (n == 0)
        return 0; /* keys stays NULL */
    if (n > kb->cap || kb->ent == NULL)
        return -ENOMEM; /* lease__keybuf_reserve was not called for n */
    sortent *e = kb->ent;
    const uint8_t *raw = kb->raw;
    bolt_val *out = (bolt_val *)(void *)e; /* written over the entries, in place */
    if (n == 1) {
        sortent only = e[0];
        out[0] = (bolt_val){ raw + only.off, only.len };
        kb->keys = out;
        return 0;
    }
    /* The common prefix of all keys: no digit needs to look at it. */
    size_t lcp = e[0].len;
    const uint8_t *k0 = raw + e[0].off;
    for (size_t i = 1; i < n && lcp > 0; i++) {
        size_t m = e[i].len < lcp ? e[i].len : lcp, c = 0;
        const uint8_t *k = raw + e[i].off;
        while (c < m && k[c] == k0[c])
            c++;
        lcp = c;
    }
    /* Every key but at most one is longer than lcp: that one (== the prefix) comes first. */
    size_t m = 0;
    bool first = false;
    sortent fe = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        if (e[i].len == lcp) {
            first = true;
            fe = e[i];
            continue;
        }
        e[m++] = e[i];
    }
    key_sort(raw, e, m, lcp, kb->sort_budget);
    /* The sorted keys (in e[0, m), the prefix key first) written over the
     * entries: back to front, so each entry is read before its slot (one
     * further on when the prefix key leads) is written. */
    size_t shift = first ? 1 : 0;
    for (size_t i = m; i-- > 0;) {
        sortent x = e[i];
        out[i + shift] = (bolt_val){ raw + x.off, x.len };
    }
    if (first)
        out[0] = (bolt_val){ raw + fe.off, fe.len };
    kb->keys = out;
    return 0;
}
