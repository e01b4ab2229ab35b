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
 * The keys are gathered into one block (raw) first, so the sort and the
 * passes after it read a compact block instead of items scattered over
 * the heap (a tombstone's encoding alone missed the cache on every key:
 * ~14% of a 100,000-key revoke, session 5), and once sorted they are
 * copied in order into a second block (bytes), which every later pass
 * streams through (keys pointing into raw instead made the index walk and
 * the tombstone encoding miss the cache on each key: +40% CPU, session
 * 8). Session 8: the sort's entries are 16 bytes and the sorted keys'
 * descriptions live in the sort's scratch: a 100,000-key revoke touches
 * 5.6 MB here instead of 8.8.
 */
#include "lease_int.h"

#include <errno.h>
#include <string.h>

#include "grow.h"

/*
 * A key during the sort: the digit at the current depth, and where its
 * bytes are in kb->raw. 16 bytes: the sort's two arrays are most of the
 * memory a big revoke touches for the first time, and on a VM whose host
 * takes freed pages back each fresh MiB costs milliseconds (docs/lease.md,
 * session 8). The length class (how many bytes the key has from the
 * depth on, 9 meaning "more than 8") is derived from len and the depth.
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
    strata_free(kb->bytes);
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
    void *raw = kb->raw, *ent = kb->ent, *bytes = kb->bytes;
    int rc = strata__grow(&raw, &kb->raw_cap, total + 1, 1, 256);
    kb->raw = raw;
    if (rc == 0 && n > 1)
        rc = strata__grow(&bytes, &kb->bytes_cap, total + 1, 1, 256);
    kb->bytes = bytes;
    /* Two arrays of n entries: the sort's source and destination; the second
     * then holds the sorted keys (a bolt_val is no larger than an entry). */
    _Static_assert(sizeof(bolt_val) <= sizeof(sortent), "keys fit in the scratch");
    if (rc == 0)
        rc = strata__grow(&ent, &kb->ent_cap, 2 * n, sizeof(sortent), 64);
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

/* The byte a counting pass sorts by: byte `shift` of the digit, or (shift 64) the length class. */
static inline unsigned pass_byte(const sortent *e, unsigned shift, size_t depth)
{
    return shift == 64 ? lclass(e, depth) : (uint8_t)(e->digit >> shift);
}

/*
 * One counting pass: src's entries into dst, stably, by pass_byte.
 * Returns false, moving nothing, when every entry has the same byte there.
 */
static bool count_pass(const sortent *src, sortent *dst, size_t n, unsigned shift, size_t depth)
{
    size_t cnt[256] = { 0 };
    for (size_t i = 0; i < n; i++)
        cnt[pass_byte(&src[i], shift, depth)]++;
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
        dst[cnt[pass_byte(&src[i], shift, depth)]++] = src[i];
    return true;
}

/*
 * Sorts e[0, n) by the keys from depth on (every key longer than depth,
 * all equal before it); tmp: n entries of scratch. The result is in e.
 */
static void radix_sort(const uint8_t *raw, sortent *e, sortent *tmp, size_t n, size_t depth)
{
    if (n <= SMALL_RUN) {
        insertion_sort(raw, e, n, depth);
        return;
    }
    for (size_t i = 0; i < n; i++)
        set_digit(raw, &e[i], depth);
    sortent *src = e, *dst = tmp;
    /* Least significant first: the length class, then bytes 7 .. 0 of the digit. */
    for (int pass = 0; pass < 9; pass++) {
        unsigned shift = pass == 0 ? 64 : (unsigned)(pass - 1) * 8;
        if (count_pass(src, dst, n, shift, depth)) {
            sortent *t = src;
            src = dst;
            dst = t;
        }
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
    /* Runs of equal digits whose keys go on: sorted at the next depth. */
    for (size_t i = 0, j; i < n; i = j) {
        unsigned c = lclass(&e[i], depth);
        for (j = i + 1; j < n && e[j].digit == e[i].digit && lclass(&e[j], depth) == c; j++)
            ;
        if (j - i > 1 && c == 9)
            radix_sort(raw, e + i, tmp + i, j - i, depth + 8);
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
    bolt_val *out = (bolt_val *)(void *)(e + n);
    kb->keys = out;
    if (n == 1) {
        out[0] = (bolt_val){ raw + e[0].off, e[0].len };
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
    radix_sort(raw, e, e + n, m, lcp);
    /* The sorted keys (in e[0, m), the prefix key first) packed in order
     * into bytes, described in the second array (the sort's scratch, which
     * it is done with). */
    uint8_t *p = kb->bytes;
    size_t at = 0;
    if (first) {
        if (fe.len > 0)
            memcpy(p, raw + fe.off, fe.len);
        out[at++] = (bolt_val){ p, fe.len };
        p += fe.len;
    }
    for (size_t i = 0; i < m; i++) {
        memcpy(p, raw + e[i].off, e[i].len);
        out[at++] = (bolt_val){ p, e[i].len };
        p += e[i].len;
    }
    return 0;
}
