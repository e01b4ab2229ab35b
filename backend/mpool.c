/*
 * mpool.c: the read buffers' memory kept for reuse (tx_buffer.h's
 * backend__mpool).
 *
 * Every commit starts the snapshots over (backend.c rule 3), so the large
 * run arrays and byte chunks of one batch are freed at its FINISH and the
 * next batch allocates the same sizes again. Given back to the allocator,
 * that memory is returned to the kernel sooner or later (jemalloc's decay,
 * glibc's trim), and the next batch's first touch of it faults: on this
 * project's machines a 4 KiB fault costs microseconds and a transparent
 * huge page (the CLI's jemalloc asks for them) milliseconds. Those touches
 * happen in write-backs, with the batch lock and often the mvcc store's
 * write lock held, so every waiting writer pays them (docs/lease.md,
 * session 7). The pool keeps such blocks, already faulted, for the next
 * batch.
 *
 * Rules:
 *   1. Only blocks of MPOOL_MIN bytes or more are pooled, rounded up to a
 *      power of two (a size class); smaller ones are the allocator's (its
 *      slabs are reused at once). A class above MPOOL_MAX_CLASS is not
 *      pooled either.
 *   2. The pool holds at most max_bytes; a free beyond that goes back to
 *      the allocator.
 *   3. Reference counted: the backend and every block handed out hold one
 *      reference (a block is freed into its pool on any thread, after the
 *      backend may have closed); the last one frees the cached blocks.
 *   4. mu guards the lists and the byte count only; allocation from the
 *      allocator happens outside it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "tx_buffer.h"

#include <strata/common.h>

#define MPOOL_MIN       ((size_t)64 << 10) /* rule 1 */
#define MPOOL_MIN_SHIFT 16
#define MPOOL_NCLASS    8 /* 64 KiB .. 8 MiB */

typedef struct free_block {
    struct free_block *next;
} free_block;

struct backend__mpool {
    unsigned refs; /* atomic (rule 3) */
    pthread_mutex_t mu;
    size_t bytes, max_bytes;         /* mu */
    free_block *lists[MPOOL_NCLASS]; /* mu: class c holds blocks of MPOOL_MIN << c bytes */
    size_t hits, misses;             /* mu: for tests */
};

int backend__mpool_new(size_t max_bytes, backend__mpool **out)
{
    *out = NULL;
    backend__mpool *p = strata_calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc != 0) {
        strata_free(p);
        return -rc;
    }
    p->refs = 1;
    p->max_bytes = max_bytes;
    *out = p;
    return 0;
}

void backend__mpool_ref(backend__mpool *p)
{
    if (p != NULL)
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void backend__mpool_unref(backend__mpool *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (int c = 0; c < MPOOL_NCLASS; c++) {
        for (free_block *b = p->lists[c], *next; b != NULL; b = next) {
            next = b->next;
            strata_free(b);
        }
    }
    pthread_mutex_destroy(&p->mu);
    strata_free(p);
}

/* Rule 1: the class of a block of `size` bytes, or -1 when it is not pooled. */
static int class_of(size_t size)
{
    if (size < MPOOL_MIN)
        return -1;
    int c = 0;
    while (c < MPOOL_NCLASS && (MPOOL_MIN << c) < size)
        c++;
    return c < MPOOL_NCLASS ? c : -1;
}

void *backend__mpool_alloc(backend__mpool *p, size_t size, size_t *cap)
{
    int c = p != NULL ? class_of(size) : -1;
    if (c < 0) {
        *cap = size;
        return strata_malloc(size ? size : 1);
    }
    size_t csize = MPOOL_MIN << c;
    pthread_mutex_lock(&p->mu);
    free_block *b = p->lists[c];
    if (b != NULL) {
        p->lists[c] = b->next;
        p->bytes -= csize;
        p->hits++;
    } else {
        p->misses++;
    }
    pthread_mutex_unlock(&p->mu);
    void *m = b != NULL ? (void *)b : strata_malloc(csize);
    if (m == NULL)
        return NULL;
    backend__mpool_ref(p); /* rule 3: the block's */
    *cap = csize;
    return m;
}

void backend__mpool_free(backend__mpool *p, void *m, size_t cap)
{
    if (m == NULL)
        return;
    int c = p != NULL ? class_of(cap) : -1;
    if (c < 0 || (MPOOL_MIN << c) != cap) { /* not from the pool: the allocator's */
        strata_free(m);
        return;
    }
    pthread_mutex_lock(&p->mu);
    bool keep = p->bytes + cap <= p->max_bytes;
    if (keep) {
        free_block *b = m;
        b->next = p->lists[c];
        p->lists[c] = b;
        p->bytes += cap;
    }
    pthread_mutex_unlock(&p->mu);
    if (!keep)
        strata_free(m);
    backend__mpool_unref(p); /* the block's (rule 3); may free the pool and what it kept */
}

void backend__mpool_stats(backend__mpool *p, size_t *bytes, size_t *hits, size_t *misses)
{
    pthread_mutex_lock(&p->mu);
    *bytes = p->bytes;
    *hits = p->hits;
    *misses = p->misses;
    pthread_mutex_unlock(&p->mu);
}
