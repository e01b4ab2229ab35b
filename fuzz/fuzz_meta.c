/*
 * fuzz_meta.c: libFuzzer target for the meta page decoder (meta.c).
 *
 * Rules:
 *   1. Any bytes decode to 0 or one of the documented errors, never more.
 *   2. A meta that decodes and passes bolt__meta_sane re-encodes to a page
 *      that decodes to the same fields (the encoder and decoder agree).
 *   3. The input split in two halves is a pair of metas: the choice is one
 *      of the valid ones, the larger txid, meta 0 on a tie.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool decode_rc_ok(int rc)
{
    return rc == 0 || rc == BOLT_EINVALID || rc == BOLT_EVERSIONMISMATCH || rc == BOLT_ECHECKSUM;
}

static bool meta_eq(const bolt__meta *a, const bolt__meta *b)
{
    return a->magic == b->magic && a->version == b->version && a->page_size == b->page_size &&
           a->flags == b->flags && a->root == b->root && a->sequence == b->sequence &&
           a->freelist == b->freelist && a->pgid == b->pgid && a->txid == b->txid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt__meta m;
    int rc = bolt__meta_decode(data, size, &m);
    if (!decode_rc_ok(rc))
        __builtin_trap();
    if (rc == 0) {
        const char *why = NULL;
        int src = bolt__meta_sane(&m, &why);
        if (src != 0 && (why == NULL || (src != BOLT_ECORRUPT && src != BOLT_EPAGESIZE)))
            __builtin_trap();
        if (src == 0) {
            /* Rule 2. */
            unsigned char *page = malloc(m.page_size);
            if (page == NULL)
                return 0;
            bolt__meta_encode(&m, 1, page, m.page_size);
            bolt__meta back;
            if (bolt__meta_decode(page, m.page_size, &back) != 0 || !meta_eq(&m, &back))
                __builtin_trap();
            free(page);
        }
    }
    /* Rule 3. */
    size_t half = size / 2;
    bolt__meta m0, m1, cur;
    int rc0 = bolt__meta_decode(data, half, &m0);
    int rc1 = bolt__meta_decode(data + half, size - half, &m1);
    int crc = bolt__meta_choose(&m0, rc0, &m1, rc1, &cur);
    if (rc0 != 0 && rc1 != 0) {
        if (crc != rc0)
            __builtin_trap();
    } else if (crc != 0) {
        __builtin_trap();
    } else if (rc0 == 0 && rc1 == 0) {
        if (cur.txid != (m1.txid > m0.txid ? m1.txid : m0.txid))
            __builtin_trap();
    } else if (!meta_eq(&cur, rc0 == 0 ? &m0 : &m1)) {
        __builtin_trap();
    }
    return 0;
}
