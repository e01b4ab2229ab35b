/*
 * fuzz_freelist.c: libFuzzer target for the freelist page decoder
 * (bolt__freelist_read), in both freelist kinds.
 *
 * Input: 8 bytes of high-water mark (little endian), then the page run.
 *
 * Rules:
 *   1. Any bytes load (0) or are refused (BOLT_ECORRUPT) and leave the list
 *      unchanged; never anything else but -ENOMEM.
 *   2. A loaded list is internally consistent, every id in [2, hwm), and
 *      it writes back to a page that loads to the same ids.
 *   3. Both kinds agree on what loads and on the ids.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bolt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ids_acc {
    uint64_t hash, n;
    bolt_pgid hwm;
    bool bad;
} ids_acc;

static int acc_id(bolt_pgid id, void *arg)
{
    ids_acc *a = arg;
    if (id < 2 || id >= a->hwm)
        a->bad = true;
    a->hash = (a->hash ^ id) * 0x100000001b3ull;
    a->n++;
    return 0;
}

/* Load the run into a new list of `kind`; -1 on allocation failure. */
static int load(bolt__freelist_kind kind, const uint8_t *page, size_t n, bolt_pgid hwm,
                ids_acc *acc)
{
    bolt__freelist *f;
    if (bolt__freelist_new(kind, &f) != 0)
        return -1;
    int rc = bolt__freelist_read(f, page, n, hwm);
    if (rc == -ENOMEM) {
        bolt__freelist_free(f);
        return -1;
    }
    if (rc != 0 && rc != BOLT_ECORRUPT)
        __builtin_trap();
    memset(acc, 0, sizeof *acc);
    acc->hash = 0xcbf29ce484222325ull;
    acc->hwm = hwm;
    if (rc == BOLT_ECORRUPT) {
        /* Rule 1: a refused page leaves the new list empty. */
        if (bolt__freelist_free_count(f) != 0 || bolt__freelist_pending_count(f) != 0)
            __builtin_trap();
        bolt__freelist_free(f);
        return 1;
    }
    if (!bolt__freelist_ok(f) || bolt__freelist_each(f, acc_id, acc) != 0 || acc->bad)
        __builtin_trap();
    /* Rule 2: write back and load again. */
    size_t need = bolt__freelist_page_size(f);
    unsigned char *buf = calloc(1, need);
    if (buf != NULL) {
        if (bolt__freelist_write(f, buf, need) != 0)
            __builtin_trap();
        bolt__freelist *g;
        if (bolt__freelist_new(kind, &g) == 0) {
            ids_acc again = { .hash = 0xcbf29ce484222325ull, .hwm = hwm };
            int rc2 = bolt__freelist_read(g, buf, need, hwm);
            if (rc2 == 0) {
                if (bolt__freelist_each(g, acc_id, &again) != 0 || again.hash != acc->hash ||
                    again.n != acc->n)
                    __builtin_trap();
            } else if (rc2 != -ENOMEM) {
                __builtin_trap();
            }
            bolt__freelist_free(g);
        }
        free(buf);
    }
    bolt__freelist_free(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    /* Keep the hwm small enough that the ids can be hit, but any value goes. */
    bolt_pgid hwm = bolt__ld64(data);
    const uint8_t *page = data + 8;
    size_t n = size - 8;
    ids_acc a, b;
    int ra = load(BOLT__FREELIST_ARRAY, page, n, hwm, &a);
    int rb = load(BOLT__FREELIST_HASHMAP, page, n, hwm, &b);
    if (ra < 0 || rb < 0)
        return 0;
    /* Rule 3. */
    if (ra != rb || (ra == 0 && (a.hash != b.hash || a.n != b.n)))
        __builtin_trap();
    return 0;
}
