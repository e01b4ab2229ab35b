/* fuzz_meta.c: meta decode/validate/choose on arbitrary bytes, and encode round trips. */
#include <assert.h>

#include "bolt/bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt__meta m0, m1, cur;
    int rc0 = bolt__meta_decode(data, size, &m0);
    int rc1 = size > 80 ? bolt__meta_decode(data + 80, size - 80, &m1) : BOLT_EINVALID;
    if (bolt__meta_choose(&m0, rc0, &m1, rc1, &cur) != 0)
        return 0;
    const char *why;
    (void)bolt__meta_sane(&cur, &why);
    unsigned char page[512];
    bolt__meta back;
    bolt__meta_encode(&cur, 0, page, sizeof page);
    assert(bolt__meta_decode(page, sizeof page, &back) == 0);
    assert(back.txid == cur.txid && back.root == cur.root && back.pgid == cur.pgid);
    return 0;
}
