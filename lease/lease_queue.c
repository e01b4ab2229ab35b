/*
 * lease_queue.c: a binary min-heap of leases by time (etcd's LeaseQueue
 * with LeaseExpiredNotifier's one-entry-per-lease map, made intrusive: the
 * lease records its own position, so an update or a removal is O(log n)
 * without a side table, and a revoked lease leaves the heap at once instead
 * of lazily).
 *
 * Invariants:
 *   1. a[i].time <= a[2i+1].time and a[i].time <= a[2i+2].time;
 *   2. a[i].lease->qidx[slot] == i for every i < n, and a lease not in the
 *      heap has qidx[slot] == LEASE__NOQ.
 */
#include "lease_int.h"

#include <errno.h>
#include <stdio.h>

void lease__queue_init(lease__queue *q, int slot)
{
    q->a = NULL;
    q->n = q->cap = 0;
    q->slot = slot;
}

void lease__queue_release(lease__queue *q)
{
    strata_free(q->a);
    q->a = NULL;
    q->n = q->cap = 0;
}

void lease__queue_clear(lease__queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        q->a[i].lease->qidx[q->slot] = LEASE__NOQ;
    q->n = 0;
}

int lease__queue_reserve(lease__queue *q, size_t n)
{
    if (q->cap - q->n >= n)
        return 0;
    size_t cap = q->cap < 64 ? 64 : q->cap;
    while (cap - q->n < n)
        cap *= 2;
    lease__qent *a = strata_realloc(q->a, cap * sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    q->a = a;
    q->cap = cap;
    return 0;
}

static void place(lease__queue *q, size_t i, lease__qent e)
{
    q->a[i] = e;
    e.lease->qidx[q->slot] = i;
}

/* Moves the entry at i up until its parent is not later (invariant 1 above i). */
static void sift_up(lease__queue *q, size_t i)
{
    lease__qent e = q->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->a[p].time <= e.time)
            break;
        place(q, i, q->a[p]);
        i = p;
    }
    place(q, i, e);
}

/* Moves the entry at i down until no child is earlier (invariant 1 below i). */
static void sift_down(lease__queue *q, size_t i)
{
    lease__qent e = q->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && q->a[c + 1].time < q->a[c].time)
            c++;
        if (e.time <= q->a[c].time)
            break;
        place(q, i, q->a[c]);
        i = c;
    }
    place(q, i, e);
}

void lease__queue_heapify(lease__queue *q)
{
    /* Floyd: the subtrees below n/2 are single leaves, heaps already. */
    for (size_t i = q->n / 2; i-- > 0;)
        sift_down(q, i);
}

size_t lease__queue_count_due(const lease__queue *q, size_t i, uint64_t now, size_t limit)
{
    /* Invariant 1: a subtree whose root is not due holds nothing due. */
    if (limit == 0 || i >= q->n || q->a[i].time > now)
        return 0;
    size_t c = 1;
    c += lease__queue_count_due(q, 2 * i + 1, now, limit - c);
    c += lease__queue_count_due(q, 2 * i + 2, now, limit - c);
    return c;
}

int lease__queue_set(lease__queue *q, lease__lease *l, uint64_t time)
{
    size_t i = l->qidx[q->slot];
    if (i != LEASE__NOQ) {
        uint64_t old = q->a[i].time;
        q->a[i].time = time;
        if (time < old)
            sift_up(q, i);
        else
            sift_down(q, i);
        return 0;
    }
    int rc = lease__queue_reserve(q, 1);
    if (rc != 0)
        return rc;
    q->a[q->n] = (lease__qent){ time, l };
    q->n++;
    sift_up(q, q->n - 1);
    return 0;
}

void lease__queue_remove(lease__queue *q, lease__lease *l)
{
    size_t i = l->qidx[q->slot];
    if (i == LEASE__NOQ)
        return;
    l->qidx[q->slot] = LEASE__NOQ;
    q->n--;
    if (i == q->n)
        return;
    /* The last entry takes i's place and moves whichever way it must. */
    uint64_t removed = q->a[i].time;
    place(q, i, q->a[q->n]);
    if (q->a[i].time < removed)
        sift_up(q, i);
    else
        sift_down(q, i);
}

const lease__qent *lease__queue_peek(const lease__queue *q)
{
    return q->n > 0 ? &q->a[0] : NULL;
}

lease__lease *lease__queue_pop(lease__queue *q)
{
    if (q->n == 0)
        return NULL;
    lease__lease *l = q->a[0].lease;
    lease__queue_remove(q, l);
    return l;
}

int lease__queue_check(const lease__queue *q, char *why, size_t why_size)
{
    for (size_t i = 0; i < q->n; i++) {
        if (q->a[i].lease == NULL || q->a[i].lease->qidx[q->slot] != i) {
            if (why != NULL && why_size > 0)
                snprintf(why, why_size, "queue entry %zu: its lease does not point back to it", i);
            return STRATA_EMISUSE;
        }
        if (i > 0 && q->a[(i - 1) / 2].time > q->a[i].time) {
            if (why != NULL && why_size > 0)
                snprintf(why, why_size, "queue entry %zu: earlier than its parent %zu", i,
                         (i - 1) / 2);
            return STRATA_EMISUSE;
        }
    }
    return 0;
}
