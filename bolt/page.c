/*
 * page.c: decoding and validation of branch and leaf pages (docs/format.md §2,
 * §4, §5). Pure functions over bytes: no I/O, no allocation (fuzzed).
 *
 * Rules:
 *   1. Nothing is read from a page before the bytes it occupies have been
 *      checked to lie inside the `size` readable bytes.
 *   2. A page passes bolt__page_check only if every element, key and value
 *      lies inside it; afterwards the element accessors need no checks.
 *   3. File bytes are input: a bad page is BOLT_ECORRUPT with a reason,
 *      never an assert.
 */
#include <assert.h>

#include "bolt_int.h"

int bolt__page_check(const unsigned char *buf, size_t size, bolt_pgid pgid, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (buf == NULL || size < BOLT_PAGE_HEADER_SIZE) {
        *why = "page shorter than its header";
        return BOLT_ECORRUPT;
    }
    bolt_pgid id = bolt__ld64(buf + BOLT_PAGE_ID_OFF);
    uint16_t flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
    uint16_t count = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
    if (id != pgid) {
        *why = "header id does not match the page's position";
        return BOLT_ECORRUPT;
    }
    if (flags != BOLT_PAGE_BRANCH && flags != BOLT_PAGE_LEAF) {
        *why = "invalid page type (not a branch or leaf)";
        return BOLT_ECORRUPT;
    }
    bool leaf = flags == BOLT_PAGE_LEAF;
    if (!leaf && count == 0) {
        *why = "branch page with no elements";
        return BOLT_ECORRUPT;
    }
    uint64_t elems_end = BOLT_PAGE_HEADER_SIZE + (uint64_t)count * 16;
    if (elems_end > size) {
        *why = "element count runs past the end of the page";
        return BOLT_ECORRUPT;
    }
    /* Loop invariant: elements [0, i) lie inside the page with their data. */
    for (unsigned i = 0; i < count; i++) {
        const unsigned char *e = buf + BOLT_PAGE_HEADER_SIZE + (size_t)i * 16;
        uint64_t start = BOLT_PAGE_HEADER_SIZE + (uint64_t)i * 16;
        uint64_t pos, ksize, vsize = 0;
        if (leaf) {
            uint32_t lflags = bolt__ld32(e + BOLT_LEAF_FLAGS_OFF);
            if ((lflags & ~(uint32_t)BOLT_LEAF_BUCKET) != 0) {
                *why = "leaf element with unknown flags";
                return BOLT_ECORRUPT;
            }
            pos = bolt__ld32(e + BOLT_LEAF_POS_OFF);
            ksize = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
            vsize = bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
            if ((lflags & BOLT_LEAF_BUCKET) && vsize < BOLT_BUCKET_HEADER_SIZE) {
                *why = "bucket element value shorter than a bucket header";
                return BOLT_ECORRUPT;
            }
        } else {
            pos = bolt__ld32(e + BOLT_BRANCH_POS_OFF);
            ksize = bolt__ld32(e + BOLT_BRANCH_KSIZE_OFF);
        }
        if (ksize == 0) {
            *why = "empty key";
            return BOLT_ECORRUPT;
        }
        if (pos + ksize + vsize > BOLT_MAX_ELEM_SPAN) {
            *why = "element span exceeds 2^31 - 1 bytes";
            return BOLT_ECORRUPT;
        }
        if (start + pos < elems_end) {
            *why = "element key overlaps the element array";
            return BOLT_ECORRUPT;
        }
        if (start + pos + ksize + vsize > size) {
            *why = "element key/value runs past the end of the page";
            return BOLT_ECORRUPT;
        }
    }
    return 0;
}

int bolt__page_load(const unsigned char *buf, size_t size, bolt_pgid pgid, bolt__page *out,
                    const char **why)
{
    int rc = bolt__page_check(buf, size, pgid, why);
    if (rc != 0)
        return rc;
    bolt__page_fill(buf, size, pgid, out);
    return 0;
}

void bolt__page_fill(const unsigned char *buf, size_t size, bolt_pgid pgid, bolt__page *out)
{
    out->data = buf;
    out->size = size;
    out->id = pgid;
    out->flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
    out->count = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
    out->overflow = bolt__ld32(buf + BOLT_PAGE_OVERFLOW_OFF);
}

void bolt__page_leaf_elem(const bolt__page *p, unsigned i, uint32_t *flags, bolt_val *key,
                          bolt_val *value)
{
    assert(i < p->count && bolt__page_is_leaf(p));
    const unsigned char *e = p->data + BOLT_PAGE_HEADER_SIZE + (size_t)i * 16;
    uint32_t pos = bolt__ld32(e + BOLT_LEAF_POS_OFF);
    uint32_t ksize = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
    if (flags != NULL)
        *flags = bolt__ld32(e + BOLT_LEAF_FLAGS_OFF);
    if (key != NULL) {
        key->data = e + pos;
        key->size = ksize;
    }
    if (value != NULL) {
        value->data = e + pos + ksize;
        value->size = bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
    }
}

bolt_pgid bolt__page_branch_elem(const bolt__page *p, unsigned i, bolt_val *key)
{
    assert(i < p->count && !bolt__page_is_leaf(p));
    const unsigned char *e = p->data + BOLT_PAGE_HEADER_SIZE + (size_t)i * 16;
    if (key != NULL) {
        key->data = e + bolt__ld32(e + BOLT_BRANCH_POS_OFF);
        key->size = bolt__ld32(e + BOLT_BRANCH_KSIZE_OFF);
    }
    return bolt__ld64(e + BOLT_BRANCH_PGID_OFF);
}
