/*
 * revision.c: the revision type (etcd's revision{main, sub}), the growable
 * revision array and the revision set (etcd's `available` map), plus the
 * reason formatter shared by index's check functions.
 *
 * Rules:
 * 1. Revisions order by main, then sub (etcd's GreaterThan).
 * 2. The set is open addressing with linear probing over a power-of-two
 *    table kept at most 3/4 full; a slot is empty when its `used` byte is
 *    0. Removal shifts later members of the probe run back (no tombstones),
 *    so every member stays reachable from its home slot without a gap.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx_int.h"

int idx_rev_cmp(idx_rev a, idx_rev b)
{
    if (a.main != b.main)
        return a.main < b.main ? -1 : 1;
    if (a.sub != b.sub)
        return a.sub < b.sub ? -1 : 1;
    return 0;
}

bool idx_rev_greater(idx_rev a, idx_rev b)
{
    return idx_rev_cmp(a, b) > 0;
}

void idx_rev_array_init(idx_rev_array *a)
{
    a->revs = NULL;
    a->count = 0;
    a->cap = 0;
}

void idx_rev_array_release(idx_rev_array *a)
{
    if (a == NULL)
        return;
    strata_free(a->revs);
    idx_rev_array_init(a);
}

int idx_rev_array_push(idx_rev_array *a, idx_rev r)
{
    if (a->count == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        idx_rev *n = strata_realloc(a->revs, ncap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        a->revs = n;
        a->cap = ncap;
    }
    a->revs[a->count++] = r;
    return 0;
}

/* ---- the set --------------------------------------------------------------- */

typedef struct rev_slot {
    idx_rev rev;
    uint8_t used;
} rev_slot;

struct idx_rev_set {
    rev_slot *slots;
    size_t mask; /* table size - 1 */
    size_t count;
};

static size_t set_home(const idx_rev_set *s, idx_rev r)
{
    uint64_t h = strata_splitmix64((uint64_t)r.main * 0x9E3779B97F4A7C15ull ^ (uint64_t)r.sub);
    return (size_t)h & s->mask;
}

int idx_rev_set_new(idx_rev_set **out)
{
    *out = NULL;
    idx_rev_set *s = strata_calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->slots = strata_calloc(16, sizeof *s->slots);
    if (s->slots == NULL) {
        strata_free(s);
        return -ENOMEM;
    }
    s->mask = 15;
    *out = s;
    return 0;
}

void idx_rev_set_free(idx_rev_set *s)
{
    if (s == NULL)
        return;
    strata_free(s->slots);
    strata_free(s);
}

static int set_grow(idx_rev_set *s)
{
    size_t nsize = (s->mask + 1) * 2;
    rev_slot *old = s->slots;
    size_t osize = s->mask + 1;
    rev_slot *n = strata_calloc(nsize, sizeof *n);
    if (n == NULL)
        return -ENOMEM;
    s->slots = n;
    s->mask = nsize - 1;
    for (size_t i = 0; i < osize; i++) {
        if (!old[i].used)
            continue;
        size_t j = set_home(s, old[i].rev);
        while (s->slots[j].used)
            j = (j + 1) & s->mask;
        s->slots[j] = old[i];
    }
    strata_free(old);
    return 0;
}

int idx__rev_set_reserve(idx_rev_set *s, size_t n)
{
    while ((s->count + n) * 4 > (s->mask + 1) * 3) {
        int rc = set_grow(s);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int idx_rev_set_add(idx_rev_set *s, idx_rev r)
{
    int rc = idx__rev_set_reserve(s, 1);
    if (rc != 0)
        return rc;
    size_t j = set_home(s, r);
    /* Loop invariant: slots from home to j hold other members. */
    while (s->slots[j].used) {
        if (idx_rev_cmp(s->slots[j].rev, r) == 0)
            return 0;
        j = (j + 1) & s->mask;
    }
    s->slots[j].rev = r;
    s->slots[j].used = 1;
    s->count++;
    return 0;
}

bool idx_rev_set_contains(const idx_rev_set *s, idx_rev r)
{
    size_t j = set_home(s, r);
    while (s->slots[j].used) {
        if (idx_rev_cmp(s->slots[j].rev, r) == 0)
            return true;
        j = (j + 1) & s->mask;
    }
    return false;
}

bool idx_rev_set_remove(idx_rev_set *s, idx_rev r)
{
    size_t j = set_home(s, r);
    while (s->slots[j].used && idx_rev_cmp(s->slots[j].rev, r) != 0)
        j = (j + 1) & s->mask;
    if (!s->slots[j].used)
        return false;
    /* Backward shift (rule 2): move each later member of the run whose home
     * does not lie cyclically in (hole, k] into the hole. */
    size_t hole = j, k = j;
    for (;;) {
        k = (k + 1) & s->mask;
        if (!s->slots[k].used)
            break;
        size_t home = set_home(s, s->slots[k].rev);
        bool stays = hole <= k ? (hole < home && home <= k) : (hole < home || home <= k);
        if (stays)
            continue;
        s->slots[hole] = s->slots[k];
        hole = k;
    }
    s->slots[hole].used = 0;
    s->count--;
    return true;
}

size_t idx_rev_set_count(const idx_rev_set *s)
{
    return s->count;
}

void idx_rev_set_clear(idx_rev_set *s)
{
    memset(s->slots, 0, (s->mask + 1) * sizeof *s->slots);
    s->count = 0;
}

bool idx_rev_set_equal(const idx_rev_set *a, const idx_rev_set *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i <= a->mask; i++)
        if (a->slots[i].used && !idx_rev_set_contains(b, a->slots[i].rev))
            return false;
    return true;
}

static int rev_qsort_cmp(const void *a, const void *b)
{
    return idx_rev_cmp(*(const idx_rev *)a, *(const idx_rev *)b);
}

int idx_rev_set_sorted(const idx_rev_set *s, idx_rev_array *out)
{
    size_t need = out->count + s->count;
    if (need > out->cap) {
        idx_rev *n = strata_realloc(out->revs, (need ? need : 1) * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        out->revs = n;
        out->cap = need ? need : 1;
    }
    size_t first = out->count;
    for (size_t i = 0; i <= s->mask; i++)
        if (s->slots[i].used)
            out->revs[out->count++] = s->slots[i].rev;
    if (s->count > 1)
        qsort(out->revs + first, s->count, sizeof(idx_rev), rev_qsort_cmp);
    return 0;
}

int idx__fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why != NULL && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return IDX_ECHECK;
}
