/* fuzz_freelist.c: reading a freelist page image; what loads must write back identically. */
#include <assert.h>
#include <stdlib.h>

#include "bolt/bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt__freelist *f;
    if (bolt__freelist_new(BOLT__FREELIST_ARRAY, &f) != 0)
        return 0;
    if (bolt__freelist_read(f, data, size, 1u << 20) == 0) {
        assert(bolt__freelist_ok(f));
        size_t n = bolt__freelist_page_size(f);
        unsigned char *buf = calloc(1, n);
        bolt__freelist *g;
        if (buf != NULL && bolt__freelist_write(f, buf, n) == 0 &&
            bolt__freelist_new(BOLT__FREELIST_ARRAY, &g) == 0) {
            assert(bolt__freelist_read(g, buf, n, 1u << 20) == 0);
            assert(bolt__freelist_free_count(g) == bolt__freelist_free_count(f));
            bolt__freelist_free(g);
        }
        free(buf);
    }
    bolt__freelist_free(f);
    return 0;
}
