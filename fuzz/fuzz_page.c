/* fuzz_page.c: bolt__page_check on arbitrary bytes; a passing page's elements must lie inside it.
 */
#include <assert.h>

#include "bolt/bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt__page p;
    const char *why;
    bolt_pgid id = size >= 8 ? bolt__ld64(data) : 0;
    if (bolt__page_load(data, size, id, &p, &why) != 0)
        return 0;
    for (unsigned i = 0; i < p.count; i++) {
        bolt_val k, v = { NULL, 0 };
        if (bolt__page_is_leaf(&p))
            bolt__page_leaf_elem(&p, i, NULL, &k, &v);
        else
            bolt__page_branch_elem(&p, i, &k);
        assert((const uint8_t *)k.data + k.size <= data + size);
        assert(v.data == NULL || (const uint8_t *)v.data + v.size <= data + size);
    }
    return 0;
}
