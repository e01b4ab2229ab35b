/*
 * fuzz_revkey.c: libFuzzer target for the revision key decoder
 * (mvcc/revkey.c).
 *
 * Rules:
 *   1. Any bytes decode to 0 or one of the four MVCC_EREVKEY* codes.
 *   2. A key that decodes re-encodes to exactly the input bytes (the
 *      accepted set has one encoding per (main, sub, tombstone)).
 *   3. The input split in two halves: when both decode, the sign of
 *      mvcc__revkey_cmp equals that of comparing the halves' bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "revkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool rc_ok(int rc)
{
    return rc == 0 || rc == MVCC_EREVKEYLEN || rc == MVCC_EREVKEYSEP || rc == MVCC_EREVKEYMARK ||
           rc == MVCC_EREVKEYNEG;
}

static int bytes_sign(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return (c > 0) - (c < 0);
    return (alen > blen) - (alen < blen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mvcc__revkey rk;
    int rc = mvcc__revkey_decode(data, size, &rk);
    if (!rc_ok(rc))
        __builtin_trap();
    if (rc == 0) {
        /* Rule 2. */
        uint8_t buf[MVCC__REVKEY_TOMB_LEN];
        size_t len = mvcc__revkey_encode(rk.rev, rk.tombstone, buf);
        if (len != size || memcmp(buf, data, len) != 0)
            __builtin_trap();
    }
    /* Rule 3: the halves may be 17 and 18 bytes long, so odd splits count too. */
    for (size_t half = 17; half <= 18 && half < size; half++) {
        mvcc__revkey a, b;
        if (!rc_ok(mvcc__revkey_decode(data, half, &a)) ||
            !rc_ok(mvcc__revkey_decode(data + half, size - half, &b)))
            __builtin_trap();
        if (mvcc__revkey_decode(data, half, &a) != 0 ||
            mvcc__revkey_decode(data + half, size - half, &b) != 0)
            continue;
        int c = mvcc__revkey_cmp(&a, &b);
        if (((c > 0) - (c < 0)) != bytes_sign(data, half, data + half, size - half))
            __builtin_trap();
    }
    return 0;
}
