/*
 * lease_map.c: the lessor's two hash tables, chained and intrusive: leases
 * by ID (etcd's leaseMap) and attached keys by bytes (etcd's itemMap).
 *
 * Invariants: the bucket count is 0 or a power of two; every entry is in
 * the chain of bucket hash & (nb - 1); n counts the entries; an item's
 * hpprev points at what points at it (its slot, or the hnext of the item
 * before it), so removing an item reads nothing but the item itself: a
 * revoke removes items scattered over a table of millions, and walking a
 * chain from its slot missed the cache at every step (~12% of a mass
 * expiry's revoke CPU); the two stores it makes instead do not stall. A
 * table grows
 * (doubling, entries rehashed) when n would exceed nb, so chains stay short;
 * it never shrinks (a lessor's peak is its steady state).
 */
#include "lease_int.h"

#include <errno.h>
#include <string.h>

static uint64_t id_hash(int64_t id)
{
    return strata_splitmix64((uint64_t)id);
}

/* ---- leases by ID -------------------------------------------------------- */

void lease__ltable_release(lease__ltable *t)
{
    strata_free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

lease__lease *lease__ltable_find(const lease__ltable *t, int64_t id)
{
    if (t->nb == 0)
        return NULL;
    for (lease__lease *l = t->b[id_hash(id) & (t->nb - 1)]; l != NULL; l = l->hnext)
        if (l->id == id)
            return l;
    return NULL;
}

void lease__ltable_prefetch(const lease__ltable *t, int64_t id, bool head)
{
    if (t->nb == 0)
        return;
    lease__lease *const *slot = &t->b[id_hash(id) & (t->nb - 1)];
    if (!head)
        __builtin_prefetch(slot);
    else if (*slot != NULL)
        __builtin_prefetch(*slot);
}

static int ltable_grow(lease__ltable *t)
{
    size_t nb = t->nb == 0 ? 64 : t->nb * 2;
    lease__lease **b = strata_calloc(nb, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        lease__lease *l = t->b[i];
        while (l != NULL) {
            lease__lease *next = l->hnext;
            size_t j = id_hash(l->id) & (nb - 1);
            l->hnext = b[j];
            b[j] = l;
            l = next;
        }
    }
    strata_free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

int lease__ltable_insert(lease__ltable *t, lease__lease *l)
{
    if (t->n + 1 > t->nb) {
        int rc = ltable_grow(t);
        if (rc != 0)
            return rc;
    }
    size_t j = id_hash(l->id) & (t->nb - 1);
    l->hnext = t->b[j];
    t->b[j] = l;
    t->n++;
    return 0;
}

void lease__ltable_remove(lease__ltable *t, lease__lease *l)
{
    lease__lease **pp = &t->b[id_hash(l->id) & (t->nb - 1)];
    while (*pp != NULL && *pp != l)
        pp = &(*pp)->hnext;
    if (*pp == l) {
        *pp = l->hnext;
        t->n--;
    }
}

/* ---- items by key -------------------------------------------------------- */

/* FNV-1a over 8 bytes at a time, then SplitMix64's finalizer: fast and well spread. */
uint64_t lease__key_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325u ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        h = (h ^ *p++) * 0x100000001b3u;
        len--;
    }
    return strata_splitmix64(h);
}

void lease__itable_release(lease__itable *t)
{
    strata_free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

lease__item *lease__itable_find(const lease__itable *t, const void *key, size_t len, uint64_t hash)
{
    if (t->nb == 0)
        return NULL;
    for (lease__item *it = t->b[hash & (t->nb - 1)]; it != NULL; it = it->hnext)
        if (it->hash == hash && it->len == len && memcmp(it->key, key, len) == 0)
            return it;
    return NULL;
}

/* it at the head of the chain at slot. */
static void chain_push(lease__item **slot, lease__item *it)
{
    it->hnext = *slot;
    it->hpprev = slot;
    if (*slot != NULL)
        (*slot)->hpprev = &it->hnext;
    *slot = it;
}

static int itable_grow(lease__itable *t)
{
    size_t nb = t->nb == 0 ? 64 : t->nb * 2;
    lease__item **b = strata_calloc(nb, sizeof *b);
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        lease__item *it = t->b[i];
        while (it != NULL) {
            lease__item *next = it->hnext;
            chain_push(&b[it->hash & (nb - 1)], it);
            it = next;
        }
    }
    strata_free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

int lease__itable_insert(lease__itable *t, lease__item *it)
{
    if (t->n + 1 > t->nb) {
        int rc = itable_grow(t);
        if (rc != 0)
            return rc;
    }
    chain_push(&t->b[it->hash & (t->nb - 1)], it);
    t->n++;
    return 0;
}

void lease__itable_remove(lease__itable *t, lease__item *it)
{
    if (it->hpprev == NULL)
        return; /* not in the table */
    *it->hpprev = it->hnext;
    if (it->hnext != NULL)
        it->hnext->hpprev = it->hpprev;
    it->hnext = NULL;
    it->hpprev = NULL;
    t->n--;
}

bool lease__itable_linked(const lease__itable *t, const lease__item *it)
{
    if (t->nb == 0 || it->hpprev == NULL)
        return false;
    lease__item **slot = &t->b[it->hash & (t->nb - 1)];
    if (*slot == it)
        return it->hpprev == slot;
    for (lease__item *p = *slot; p != NULL; p = p->hnext)
        if (p->hnext == it)
            return it->hpprev == &p->hnext;
    return false;
}
