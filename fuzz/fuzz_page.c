/*
 * fuzz_page.c: libFuzzer target for the branch/leaf page decoder (page.c).
 *
 * Rules:
 *   1. The input is one page image; it is checked against the id its own
 *      header claims (so the deeper checks are reached) and against id + 1
 *      (which must always be refused).
 *   2. A page that passes bolt__page_check is walked element by element and
 *      every key and value byte is read: the check promised they lie inside
 *      the input, and ASan holds it to that promise.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned fuzz_sink;

static unsigned touch(bolt_val v)
{
    unsigned s = 0;
    const unsigned char *p = v.data;
    for (size_t i = 0; i < v.size; i++)
        s += p[i];
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bolt_pgid id = size >= 8 ? bolt__ld64(data) : 0;
    const char *why = NULL;
    bolt__page p;
    int rc = bolt__page_load(data, size, id, &p, &why);
    if (rc != 0) {
        if (rc != BOLT_ECORRUPT || why == NULL)
            __builtin_trap();
        return 0;
    }
    /* Rule 1: the same bytes at another position are never accepted. */
    if (bolt__page_check(data, size, id + 1, &why) != BOLT_ECORRUPT)
        __builtin_trap();
    unsigned s = 0;
    for (unsigned i = 0; i < p.count; i++) {
        bolt_val k, v;
        if (bolt__page_is_leaf(&p)) {
            uint32_t flags;
            bolt__page_leaf_elem(&p, i, &flags, &k, &v);
            s += touch(v) + flags;
        } else {
            s += (unsigned)bolt__page_branch_elem(&p, i, &k);
        }
        if (k.size == 0)
            __builtin_trap();
        s += touch(k);
    }
    fuzz_sink = s;
    return 0;
}
