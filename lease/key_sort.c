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
 * The sort is a most-significant-first radix sort on 8-byte digits: the
 * keys' common prefix is skipped; at a depth d every key of a range gets
 * the digit (the 8 bytes at d, big-endian, zero-padded) and the length
 * class (how many bytes it has from d on, 9 meaning "more than 8"); a
 * least-significant-first counting sort over the length class and the 8
 * bytes (a byte position every key agrees on costs one counting pass and
 * no move) orders the range by them; each run of keys equal in both and
 * longer than d + 8 is sorted the same way at d + 8. Within a run of equal
 * digits the length class orders a key before the keys it is a prefix of
 * (its missing bytes read as zero, but it is shorter); two keys with the
 * same digits and the same length below 9 are equal, which a lease's keys
 * never are. Small runs take an insertion sort by full comparison. The
 * comparison sort this replaces (qsort over pointers into the item list)
 * spent ~17% of a 100,000-key revoke in cache misses on the compared
 * bytes; the radix passes read each key once per digit, sequentially.
 *
 * The sorted keys are then copied, in order, into one block: the passes
 * that follow stream through it instead of chasing pointers into the
 * list-order copy (a tombstone's encoding alone missed the cache on every
 * key: ~14% of the same revoke).
 */
#include "lease_int.h"

#include <errno.h>
#include <string.h>

#include "grow.h"

/* A key during the sort: the digit at the current depth, its length class, the key. */
typedef struct lease__sortent {
    uint64_t digit;
    const uint8_t *p;
    uint32_t len;
    uint8_t lclass; /* min(len - depth, 9) */
} sortent;

#define SMALL_RUN 24 /* runs this short are sorted by insertion */

void lease__keybuf_release(lease__keybuf *kb)
{
    strata_free(kb->keys);
    strata_free(kb->bytes);
    strata_free(kb->raw);
    strata_free(kb->ent);
    memset(kb, 0, sizeof *kb);
}

int lease__keybuf_reserve(lease__keybuf *kb, size_t n, size_t total)
{
    void *keys = kb->keys, *raw = kb->raw, *ent = kb->ent, *bytes = kb->bytes;
    size_t ent_cap = kb->ent_cap;
    int rc = strata__grow(&keys, &kb->cap, n, sizeof(bolt_val), 16);
    kb->keys = keys;
    if (rc == 0)
        rc = strata__grow(&raw, &kb->raw_cap, total + 1, 1, 256);
    kb->raw = raw;
    /* Two arrays of n entries: the sort's source and destination. */
    if (rc == 0 && n > SMALL_RUN)
        rc = strata__grow(&ent, &ent_cap, 2 * n, sizeof(sortent), 64);
    kb->ent = ent;
    kb->ent_cap = ent_cap;
    if (rc == 0 && n > 1)
        rc = strata__grow(&bytes, &kb->bytes_cap, total + 1, 1, 256);
    kb->bytes = bytes;
    return rc;
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

/* Keys from depth on; every key of the range agrees on the bytes before depth. */
static void insertion_sort(sortent *e, size_t n, size_t depth)
{
    /* Invariant: e[0, i) is sorted. */
    for (size_t i = 1; i < n; i++) {
        sortent x = e[i];
        size_t j = i;
        while (j > 0 &&
               key_cmp(e[j - 1].p + depth, e[j - 1].len - depth, x.p + depth, x.len - depth) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

static void set_digit(sortent *e, size_t depth)
{
    size_t rest = e->len - depth; /* every key of a range at depth is longer than depth */
    size_t take = rest < 8 ? rest : 8;
    uint8_t b[8] = { 0 };
    memcpy(b, e->p + depth, take);
    uint64_t d = 0;
    for (int i = 0; i < 8; i++)
        d = d << 8 | b[i];
    e->digit = d;
    e->lclass = (uint8_t)(rest < 9 ? rest : 9);
}

/*
 * One counting pass: src's entries into dst, stably, by byte `shift` of
 * the digit (shift 64: the length class). Returns false, moving nothing,
 * when every entry has the same byte there.
 */
static bool count_pass(const sortent *src, sortent *dst, size_t n, unsigned shift)
{
    size_t cnt[256] = { 0 };
    for (size_t i = 0; i < n; i++)
        cnt[shift == 64 ? src[i].lclass : (uint8_t)(src[i].digit >> shift)]++;
    for (int b = 0; b < 256; b++)
        if (cnt[b] == n)
            return false;
    size_t at = 0;
    for (int b = 0; b < 256; b++) {
        size_t c = cnt[b];
        cnt[b] = at;
        at += c;
    }
    for (size_t i = 0; i < n; i++)
        dst[cnt[shift == 64 ? src[i].lclass : (uint8_t)(src[i].digit >> shift)]++] = src[i];
    return true;
}

/*
 * Sorts e[0, n) by the keys from depth on (every key longer than depth,
 * all equal before it); tmp: n entries of scratch. The result is in e.
 */
static void radix_sort(sortent *e, sortent *tmp, size_t n, size_t depth)
{
    if (n <= SMALL_RUN) {
        insertion_sort(e, n, depth);
        return;
    }
    for (size_t i = 0; i < n; i++)
        set_digit(&e[i], depth);
    sortent *src = e, *dst = tmp;
    /* Least significant first: the length class, then bytes 7 .. 0 of the digit. */
    for (int pass = 0; pass < 9; pass++) {
        unsigned shift = pass == 0 ? 64 : (unsigned)(pass - 1) * 8;
        if (count_pass(src, dst, n, shift)) {
            sortent *t = src;
            src = dst;
            dst = t;
        }
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
    /* Runs of equal digits whose keys go on: sorted at the next depth. */
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && e[j].digit == e[i].digit && e[j].lclass == e[i].lclass; j++)
            ;
        if (j - i > 1 && e[i].lclass == 9)
            radix_sort(e + i, tmp + i, j - i, depth + 8);
    }
}

int lease__keybuf_sort(lease__keybuf *kb)
{
    size_t n = kb->n;
    if (n <= 1)
        return 0;
    /* The common prefix of all keys: no digit needs to look at it. */
    size_t lcp = kb->keys[0].size;
    const uint8_t *k0 = kb->keys[0].data;
    for (size_t i = 1; i < n && lcp > 0; i++) {
        size_t m = kb->keys[i].size < lcp ? kb->keys[i].size : lcp, c = 0;
        const uint8_t *k = kb->keys[i].data;
        while (c < m && k[c] == k0[c])
            c++;
        lcp = c;
    }
    sortent small[SMALL_RUN];
    sortent *e = n <= SMALL_RUN ? small : kb->ent;
    if (e == NULL)
        return -ENOMEM; /* lease__keybuf_reserve was not called for n */
    /* Every key but at most one is longer than lcp: that one (== the prefix) comes first. */
    size_t first = SIZE_MAX, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (kb->keys[i].size == lcp) {
            first = i;
            continue;
        }
        e[m++] = (sortent){ 0, kb->keys[i].data, (uint32_t)kb->keys[i].size, 0 };
    }
    radix_sort(e, n <= SMALL_RUN ? NULL : kb->ent + n, m, lcp);
    /* Packed in order into kb->bytes; keys point there. */
    uint8_t *p = kb->bytes;
    size_t out = 0;
    if (first != SIZE_MAX) {
        if (lcp > 0)
            memcpy(p, kb->keys[first].data, lcp);
        kb->keys[out++] = (bolt_val){ p, lcp };
        p += lcp;
    }
    for (size_t i = 0; i < m; i++) {
        memcpy(p, e[i].p, e[i].len);
        kb->keys[out++] = (bolt_val){ p, e[i].len };
        p += e[i].len;
    }
    return 0;
}
