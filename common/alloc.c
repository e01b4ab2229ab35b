/*
 * alloc.c: the allocation functions every layer of libstrata calls.
 *
 * Invariants:
 *  1. `fns` changes only while `used` is false; once any allocation has gone
 *     through the table, strata_set_allocator refuses, so a pointer is always
 *     freed by the allocator that made it.
 *  2. strata_free(NULL) is a no-op, whatever the table holds.
 *  3. `fns.name` is never NULL: "system" until replaced.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <strata/common.h>

static strata_allocator_fns fns = { malloc, calloc, realloc, free, "system" };
static atomic_bool used;

int strata_set_allocator(const strata_allocator_fns *replacement)
{
    if (!replacement || !replacement->malloc_fn || !replacement->calloc_fn ||
        !replacement->realloc_fn || !replacement->free_fn)
        return STRATA_EMISUSE;
    if (atomic_load_explicit(&used, memory_order_acquire))
        return STRATA_EMISUSE;
    fns = *replacement;
    if (fns.name == NULL)
        fns.name = "application";
    return 0;
}

const char *strata_allocator(void)
{
    return fns.name;
}

static inline void mark_used(void)
{
    if (!atomic_load_explicit(&used, memory_order_relaxed))
        atomic_store_explicit(&used, true, memory_order_release);
}

void *strata_malloc(size_t size)
{
    mark_used();
    return fns.malloc_fn(size);
}

void *strata_calloc(size_t count, size_t size)
{
    mark_used();
    return fns.calloc_fn(count, size);
}

void *strata_realloc(void *ptr, size_t size)
{
    mark_used();
    return fns.realloc_fn(ptr, size);
}

void strata_free(void *ptr)
{
    if (ptr)
        fns.free_fn(ptr);
}
