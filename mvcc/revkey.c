/*
 * revkey.c: revision keys of the `key` bucket (layout in revkey.h).
 *
 * Rules:
 *   1. The encoder writes only keys the decoder accepts: main and sub are
 *      non-negative, byte 8 is '_', byte 17 (when present) is 't'.
 *   2. The decoder accepts exactly those keys: it reads nothing before
 *      checking the length, and refuses rather than guesses (etcd would
 *      take any 16+ bytes as a revision and ignore the rest).
 *   3. decode(encode(rev, t)) == {rev, t}, and for two accepted keys the
 *      sign of mvcc__revkey_cmp equals that of their byte comparison.
 */
#include "revkey.h"

#include <assert.h>
#include <string.h>

#include "be64.h"

size_t mvcc__revkey_encode(idx_rev rev, bool tombstone, uint8_t *out)
{
    assert(rev.main >= 0 && rev.sub >= 0);
    strata__store_be64(out, (uint64_t)rev.main);
    out[8] = MVCC__REVKEY_SEP;
    strata__store_be64(out + 9, (uint64_t)rev.sub);
    if (!tombstone)
        return MVCC__REVKEY_LEN;
    out[17] = MVCC__REVKEY_MARK;
    return MVCC__REVKEY_TOMB_LEN;
}

int mvcc__revkey_decode(const void *buf, size_t len, mvcc__revkey *out)
{
    const uint8_t *p = buf;
    if (len != MVCC__REVKEY_LEN && len != MVCC__REVKEY_TOMB_LEN)
        return MVCC_EREVKEYLEN;
    if (p[8] != MVCC__REVKEY_SEP)
        return MVCC_EREVKEYSEP;
    if (len == MVCC__REVKEY_TOMB_LEN && p[17] != MVCC__REVKEY_MARK)
        return MVCC_EREVKEYMARK;
    uint64_t main = strata__load_be64(p), sub = strata__load_be64(p + 9);
    /* A negative revision would sort after every valid one (rule 3 breaks). */
    if ((main | sub) >> 63)
        return MVCC_EREVKEYNEG;
    out->rev.main = (int64_t)main;
    out->rev.sub = (int64_t)sub;
    out->tombstone = len == MVCC__REVKEY_TOMB_LEN;
    return 0;
}

int mvcc__revkey_cmp(const mvcc__revkey *a, const mvcc__revkey *b)
{
    int c = idx_rev_cmp(a->rev, b->rev);
    if (c != 0)
        return c;
    return (int)a->tombstone - (int)b->tombstone;
}
