/*
 * debug.c: printers to call from a debugger (SQLite's print_pager_state):
 * `call bolt__page_dump(stderr, p, n)` and `print bolt__tx_state_str(tx)`.
 *
 * Rules:
 *   1. They read only what they are given and never fail: a bad page is
 *      printed with the reason the page check gives.
 *   2. bolt__tx_state_str writes into a buffer owned by the caller's thread
 *      (a static thread-local), overwritten by the next call.
 */
#include <stdio.h>

#include "bolt_int.h"

static void print_bytes(FILE *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t shown = n < 24 ? n : 24;
    for (size_t i = 0; i < shown; i++)
        fprintf(f, "%02x", b[i]);
    if (shown < n)
        fprintf(f, "...(%zu bytes)", n);
}

void bolt__page_dump(FILE *f, const unsigned char *page, size_t size)
{
    if (size < BOLT_PAGE_HEADER_SIZE) {
        fprintf(f, "page: %zu bytes, shorter than a header\n", size);
        return;
    }
    bolt_pgid id = bolt__ld64(page + BOLT_PAGE_ID_OFF);
    uint16_t flags = bolt__ld16(page + BOLT_PAGE_FLAGS_OFF);
    fprintf(f, "page %llu flags=0x%x count=%u overflow=%u\n", (unsigned long long)id, flags,
            bolt__ld16(page + BOLT_PAGE_COUNT_OFF), bolt__ld32(page + BOLT_PAGE_OVERFLOW_OFF));
    bolt__page p;
    const char *why = "";
    if (bolt__page_load(page, size, id, &p, &why) != 0) {
        fprintf(f, "  not a valid branch/leaf page: %s\n", why);
        return;
    }
    for (unsigned i = 0; i < p.count; i++) {
        bolt_val k, v;
        uint32_t fl = 0;
        fprintf(f, "  [%u] ", i);
        if (bolt__page_is_leaf(&p)) {
            bolt__page_leaf_elem(&p, i, &fl, &k, &v);
            print_bytes(f, k.data, k.size);
            fprintf(f, fl & BOLT_LEAF_BUCKET ? " = bucket " : " = ");
            print_bytes(f, v.data, v.size);
        } else {
            bolt_pgid child = bolt__page_branch_elem(&p, i, &k);
            print_bytes(f, k.data, k.size);
            fprintf(f, " -> page %llu", (unsigned long long)child);
        }
        fputc('\n', f);
    }
}

const char *bolt__tx_state_str(const bolt_tx *tx)
{
    static _Thread_local char buf[256];
    if (tx == NULL)
        return "tx NULL";
    snprintf(buf, sizeof buf,
             "tx %llu %s%s%s root=%llu freelist=%llu pgid=%llu dirty=%zu generation=%llu",
             (unsigned long long)tx->meta.txid, tx->writable ? "write" : "read",
             tx->done ? " DONE" : " ACTIVE", tx->failed ? " FAILED" : "",
             (unsigned long long)tx->meta.root, (unsigned long long)tx->meta.freelist,
             (unsigned long long)tx->meta.pgid, tx->ndirty, (unsigned long long)tx->generation);
    return buf;
}
