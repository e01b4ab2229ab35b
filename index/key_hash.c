/*
 * key_hash.c: the index's point lookup, a hash table from key bytes to the
 * keyIndex block of that key, kept beside the B+tree (tree_index.c rule 5).
 *
 * A get by exact key through the B+tree reads an inner node's hints, a
 * leaf's hints and pointers, then the block: on a large index each is a
 * cache (and TLB) miss, one waiting for the other. Here it is one probe of
 * a slot array (usually one cache line) and then the block, which the
 * caller reads anyway.
 *
 * Rules (idx__khash_check validates them):
 * 1. Open addressing with linear probing over a power-of-two array of
 *    slots {hash, block}; a NULL block is an empty slot. Every entry sits
 *    in the probe run that starts at its home (hash & mask): no empty slot
 *    lies between its home and its position.
 * 2. A removal shifts the run's later entries back into the hole
 *    (backward-shift deletion), so there are no tombstones and rule 1
 *    holds after any sequence of inserts and removals.
 * 3. At most 5/8 of the slots are full. Growth happens only in reserve,
 *    before the caller changes anything (the tree's -ENOMEM leaves
 *    everything unchanged); insert, replace and remove never allocate.
 *    The table does not shrink (as Go's maps, etcd's language's).
 * 4. replace and remove find an entry by the block's address, never
 *    reading the block itself: a block that realloc moved is already
 *    freed when its entry is replaced.
 * 5. The hash is seeded per table from the clock and the table's address,
 *    so a client cannot choose keys that pile into one run without
 *    knowing the seed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idx_int.h"

#define MIN_SLOTS 64

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t idx__khash_of(const idx__khash *h, const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t x = h->seed ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull);
    size_t n = len;
    for (; n >= 8; n -= 8, p += 8) {
        x = (x ^ load64(p)) * 0x9E3779B97F4A7C15ull;
        x ^= x >> 29;
    }
    if (n > 0) {
        uint64_t t = 0;
        memcpy(&t, p, n);
        x = (x ^ t) * 0xBF58476D1CE4E5B9ull;
    }
    return fmix64(x);
}

void idx__khash_init(idx__khash *h)
{
    static _Atomic uint64_t tables;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h->slots = NULL;
    h->mask = 0;
    h->count = 0;
    h->seed = strata_splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                                (uint64_t)(uintptr_t)h ^ (tables++ << 48));
}

void idx__khash_release(idx__khash *h)
{
    strata_free(h->slots);
    h->slots = NULL;
    h->mask = 0;
    h->count = 0;
}

static inline bool holds(const idx__kslot *s, uint64_t hv, const void *key, size_t len)
{
    return s->hash == hv && s->blk->key_len == len && idx__bytes_cmp(s->blk->data, key, len) == 0;
}

idx__ki *idx__khash_find_hashed(const idx__khash *h, uint64_t hv, const void *key, size_t len)
{
    if (h->slots == NULL)
        return NULL;
    for (size_t i = hv & h->mask;; i = (i + 1) & h->mask) {
        const idx__kslot *s = &h->slots[i];
        if (s->blk == NULL)
            return NULL;
        if (holds(s, hv, key, len))
            return s->blk;
    }
}

idx__ki *idx__khash_find(const idx__khash *h, const void *key, size_t len)
{
    return idx__khash_find_hashed(h, idx__khash_of(h, key, len), key, len);
}

void idx__khash_prefetch(const idx__khash *h, const void *key, size_t len)
{
    if (h->slots != NULL)
        __builtin_prefetch(&h->slots[idx__khash_of(h, key, len) & h->mask]);
}

/* Places an entry whose key is absent; room is there (rule 3). */
static void place(idx__kslot *slots, size_t mask, uint64_t hv, idx__ki *blk)
{
    size_t i = hv & mask;
    while (slots[i].blk != NULL)
        i = (i + 1) & mask;
    slots[i].hash = hv;
    slots[i].blk = blk;
}

int idx__khash_reserve(idx__khash *h, size_t n)
{
    size_t cap = h->slots != NULL ? h->mask + 1 : 0;
    if (n <= cap / 8 * 5 && cap > 0)
        return 0;
    size_t want = cap > 0 ? cap : MIN_SLOTS;
    while (n > want / 8 * 5) {
        if (want > SIZE_MAX / 2 / sizeof(idx__kslot))
            return -ENOMEM;
        want *= 2;
    }
    idx__kslot *slots = strata_calloc(want, sizeof *slots);
    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < cap; i++)
        if (h->slots[i].blk != NULL)
            place(slots, want - 1, h->slots[i].hash, h->slots[i].blk);
    strata_free(h->slots);
    h->slots = slots;
    h->mask = want - 1;
    return 0;
}

void idx__khash_insert_hashed(idx__khash *h, uint64_t hv, idx__ki *blk)
{
    place(h->slots, h->mask, hv, blk);
    h->count++;
}

void idx__khash_insert(idx__khash *h, idx__ki *blk)
{
    idx__khash_insert_hashed(h, idx__khash_of(h, blk->data, blk->key_len), blk);
}

/*
 * The slot holding old, whose key hashes to hv (rule 4: old is not read);
 * SIZE_MAX when its run ends without it (a caller's broken promise: the
 * search stops there rather than loop).
 */
static size_t slot_of(const idx__khash *h, uint64_t hv, const idx__ki *old)
{
    if (h->slots == NULL)
        return SIZE_MAX;
    size_t i = hv & h->mask;
    while (h->slots[i].blk != old) {
        if (h->slots[i].blk == NULL)
            return SIZE_MAX;
        i = (i + 1) & h->mask;
    }
    return i;
}

bool idx__khash_replace(idx__khash *h, const idx__ki *old, idx__ki *blk)
{
    size_t i = slot_of(h, idx__khash_of(h, blk->data, blk->key_len), old);
    if (i == SIZE_MAX)
        return false;
    h->slots[i].blk = blk;
    return true;
}

bool idx__khash_remove(idx__khash *h, const idx__ki *blk)
{
    size_t mask = h->mask;
    size_t hole = slot_of(h, idx__khash_of(h, blk->data, blk->key_len), blk);
    if (hole == SIZE_MAX)
        return false;
    /* Rule 2: an entry after the hole moves into it when the hole lies
     * between its home and its slot (it would be unreachable otherwise). */
    for (size_t j = (hole + 1) & mask; h->slots[j].blk != NULL; j = (j + 1) & mask) {
        size_t home = h->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            h->slots[hole] = h->slots[j];
            hole = j;
        }
    }
    h->slots[hole] = (idx__kslot){ 0, NULL };
    h->count--;
    return true;
}

int idx__khash_check(const idx__khash *h, char *why, size_t why_size)
{
    if (h->slots == NULL)
        return h->count == 0 ? 0
                             : idx__fail(why, why_size, "hash: %zu entries, no table", h->count);
    size_t cap = h->mask + 1, n = 0;
    if ((cap & h->mask) != 0 || h->count > cap / 8 * 5)
        return idx__fail(why, why_size, "hash: %zu entries in %zu slots", h->count, cap);
    for (size_t i = 0; i < cap; i++) {
        const idx__kslot *s = &h->slots[i];
        if (s->blk == NULL)
            continue;
        n++;
        if (s->hash != idx__khash_of(h, s->blk->data, s->blk->key_len))
            return idx__fail(why, why_size, "hash: slot %zu holds a wrong hash", i);
        for (size_t j = s->hash & h->mask; j != i; j = (j + 1) & h->mask)
            if (h->slots[j].blk == NULL)
                return idx__fail(why, why_size, "hash: slot %zu unreachable from its home %zu", i,
                                 (size_t)(s->hash & h->mask));
    }
    if (n != h->count)
        return idx__fail(why, why_size, "hash: %zu entries counted, %zu recorded", n, h->count);
    return 0;
}
