/*
 * fuzz_kvpb.c: libFuzzer target for the mvccpb.KeyValue decoder (mvcc/kvpb.c).
 *
 * Rules:
 *   1. Any bytes decode to 0 or one of common's STRATA_EPB* codes, never
 *      anything else, and never read outside the input (ASan).
 *   2. A view that decodes points into the input: key and value lie inside it.
 *   3. A record that decodes re-encodes (canonically, so the bytes may
 *      differ from the input: unknown fields dropped, varints minimal, one
 *      occurrence per field) to exactly encoded_size bytes, which decode to
 *      an equal view; re-encoding that view gives the same bytes again.
 *   4. The record check answers 0 or MVCC_ECORRUPT for any revision key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvpb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool rc_ok(int rc)
{
    return rc == 0 || rc == STRATA_EPBTRUNC || rc == STRATA_EPBVARINT || rc == STRATA_EPBLENGTH ||
           rc == STRATA_EPBTAG || rc == STRATA_EPBGROUP || rc == STRATA_EPBWIRETYPE;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return n == 0 || (p >= data && n <= size && p - data <= (ptrdiff_t)(size - n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mvcc__kv kv;
    int rc = mvcc__kv_decode(data, size, &kv);
    if (!rc_ok(rc))
        __builtin_trap();
    if (rc != 0)
        return 0;
    /* Rule 2. */
    if (!inside(kv.key, kv.key_len, data, size) || !inside(kv.value, kv.value_len, data, size))
        __builtin_trap();
    /* Rule 3. */
    size_t need = mvcc__kv_encoded_size(&kv), len, len2;
    uint8_t *buf = malloc(need + 1), *buf2 = malloc(need + 1);
    if (buf == NULL || buf2 == NULL)
        __builtin_trap();
    mvcc__kv back, again;
    if (mvcc__kv_encode(&kv, buf, need, &len) != 0 || len != need)
        __builtin_trap();
    if (mvcc__kv_decode(buf, len, &back) != 0 || !mvcc__kv_equal(&kv, &back))
        __builtin_trap();
    if (mvcc__kv_encode(&back, buf2, need, &len2) != 0 || len2 != len ||
        memcmp(buf, buf2, len) != 0)
        __builtin_trap();
    if (mvcc__kv_decode(buf2, len2, &again) != 0 || !mvcc__kv_equal(&back, &again))
        __builtin_trap();
    /* Rule 4. */
    mvcc__revkey rk = { { kv.mod_revision, 0 }, (size & 1) != 0 };
    int crc = mvcc__kv_check(&kv, &rk, NULL, 0);
    if (crc != 0 && crc != MVCC_ECORRUPT)
        __builtin_trap();
    free(buf);
    free(buf2);
    return 0;
}
