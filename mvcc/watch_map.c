/*
 * watch_map.c: byte-string hash map (watch_map.h).
 *
 * Invariants:
 *   1. count < cap * 3 / 4 whenever cap > 0 (so a probe always ends at an
 *      empty slot).
 *   2. Every stored key sits in the probe run that starts at its home slot
 *      (hash & (cap - 1)) with no empty slot between home and it; removal
 *      shifts later members of the run back to keep this true.
 */
#include "watch_map.h"

#include <errno.h>
#include <string.h>

#include <strata/common.h>

void mvcc__wmap_init(mvcc__wmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void mvcc__wmap_destroy(mvcc__wmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        strata_free(m->slots[i].key);
    strata_free(m->slots);
    mvcc__wmap_init(m);
}

static bool slot_is(const mvcc__wmap_slot *s, uint64_t h, const void *key, size_t key_len)
{
    return s->hash == h && s->key_len == key_len && (key_len == 0 || !memcmp(s->key, key, key_len));
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const mvcc__wmap *m, uint64_t h, const void *key, size_t key_len)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->slots[i].key != NULL && !slot_is(&m->slots[i], h, key, key_len))
        i = (i + 1) & mask;
    return i;
}

void *mvcc__wmap_get(const mvcc__wmap *m, const void *key, size_t key_len)
{
    if (m->count == 0)
        return NULL;
    uint64_t h = strata_fnv1a64(key, key_len);
    size_t i = probe(m, h, key, key_len);
    return m->slots[i].key != NULL ? m->slots[i].val : NULL;
}

static int grow(mvcc__wmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (ncap > SIZE_MAX / sizeof(mvcc__wmap_slot))
        return -ENOMEM;
    mvcc__wmap_slot *ns = strata_calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return -ENOMEM;
    mvcc__wmap old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key == NULL)
            continue;
        size_t j = (size_t)old.slots[i].hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = old.slots[i];
    }
    strata_free(old.slots);
    return 0;
}

int mvcc__wmap_put(mvcc__wmap *m, const void *key, size_t key_len, void *val)
{
    if ((m->count + 1) * 4 >= m->cap * 3) {
        int rc = grow(m);
        if (rc != 0)
            return rc;
    }
    uint64_t h = strata_fnv1a64(key, key_len);
    size_t i = probe(m, h, key, key_len);
    if (m->slots[i].key != NULL)
        return STRATA_EXISTS;
    uint8_t *k = strata_malloc(key_len ? key_len : 1);
    if (k == NULL)
        return -ENOMEM;
    if (key_len)
        memcpy(k, key, key_len);
    m->slots[i] = (mvcc__wmap_slot){ h, k, key_len, val };
    m->count++;
    return 0;
}

void *mvcc__wmap_remove(mvcc__wmap *m, const void *key, size_t key_len)
{
    if (m->count == 0)
        return NULL;
    uint64_t h = strata_fnv1a64(key, key_len);
    size_t mask = m->cap - 1, i = probe(m, h, key, key_len);
    if (m->slots[i].key == NULL)
        return NULL;
    void *val = m->slots[i].val;
    strata_free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    /* Backward shift: move each later member of the run whose home is not
     * in (i, j] into the hole, so rule 2 holds again. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == NULL)
            break;
        size_t home = (size_t)m->slots[j].hash & mask;
        bool home_in_gap = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (home_in_gap)
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j].key = NULL;
        i = j;
    }
    return val;
}

int mvcc__wmap_each(const mvcc__wmap *m,
                    int (*fn)(void *arg, const uint8_t *key, size_t key_len, void *val), void *arg)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == NULL)
            continue;
        int rc = fn(arg, m->slots[i].key, m->slots[i].key_len, m->slots[i].val);
        if (rc != 0)
            return rc;
    }
    return 0;
}
