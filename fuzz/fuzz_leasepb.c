/*
 * fuzz_leasepb.c: libFuzzer target for the leasepb.Lease decoder and the
 * lease bucket's record check (lease/leasepb.c).
 *
 * Rules:
 *   1. Any bytes decode to 0 or one of common's STRATA_EPB* codes, never
 *      anything else, and never read outside the input (ASan).
 *   2. A record that decodes re-encodes (canonically: unknown fields
 *      dropped, varints minimal, zero fields omitted) to exactly
 *      encoded_size bytes, which decode to the same three fields; encoding
 *      those again gives the same bytes.
 *   3. The record check answers 0 or LEASE_ECORRUPT for any key (the
 *      input's first bytes, of every length up to 9), and 0 only for an
 *      8-byte key holding the record's non-zero ID.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "leasepb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool rc_ok(int rc)
{
    return rc == 0 || rc == STRATA_EPBTRUNC || rc == STRATA_EPBVARINT || rc == STRATA_EPBLENGTH ||
           rc == STRATA_EPBTAG || rc == STRATA_EPBGROUP || rc == STRATA_EPBWIRETYPE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lease__pb pb;
    int rc = lease__pb_decode(size > 0 ? data : NULL, size, &pb);
    if (!rc_ok(rc))
        __builtin_trap();
    if (rc != 0)
        return 0;
    /* Rule 2. */
    uint8_t buf[LEASE__PB_MAX], buf2[LEASE__PB_MAX];
    size_t need = lease__pb_encoded_size(&pb), len, len2;
    if (need > LEASE__PB_MAX || lease__pb_encode(&pb, buf, sizeof buf, &len) != 0 || len != need)
        __builtin_trap();
    lease__pb back;
    if (lease__pb_decode(buf, len, &back) != 0 || back.id != pb.id || back.ttl != pb.ttl ||
        back.remaining_ttl != pb.remaining_ttl)
        __builtin_trap();
    if (lease__pb_encode(&back, buf2, sizeof buf2, &len2) != 0 || len2 != len ||
        memcmp(buf, buf2, len) != 0)
        __builtin_trap();
    /* Rule 3. */
    for (size_t klen = 0; klen <= 9 && klen <= size; klen++) {
        char why[96];
        int crc = lease__record_check(data, klen, &pb, why, sizeof why);
        if (crc != 0 && crc != LEASE_ECORRUPT)
            __builtin_trap();
        if (crc == 0) {
            int64_t id;
            if (klen != 8 || pb.id == 0 || lease__key_decode(data, klen, &id) != 0 || id != pb.id)
                __builtin_trap();
        }
    }
    /* The key that matches: always accepted when the ID is not 0. */
    uint8_t key[8];
    lease__key_encode(pb.id, key);
    if ((lease__record_check(key, 8, &pb, NULL, 0) == 0) != (pb.id != 0))
        __builtin_trap();
    return 0;
}
