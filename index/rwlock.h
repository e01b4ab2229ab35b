/*
 * rwlock.h: the index's reader-writer lock, one 32-bit word. Uncontended,
 * a write lock costs one compare-and-swap and its release one atomic AND.
 * glibc's pthread_rwlock does more atomic work per lock and unlock: it
 * took 17% of a put into a 100,000-key index in a profile, this one 11%.
 *
 * Rules:
 * 1. state = WRITER | SLEEPERS | readers. WRITER and readers > 0 never hold
 *    together; readers never exceed READERS_MAX (a reader that would pass
 *    it waits).
 * 2. Writers are preferred: while writers_waiting > 0 a blocking reader
 *    waits, so a stream of readers cannot starve the writer. A writer that
 *    waits counts itself in writers_waiting before it waits and uncounts
 *    itself once it holds the lock.
 * 3. A thread sleeps (futex) only on a value with SLEEPERS set and with a
 *    holder (WRITER or readers > 0), and every release that clears
 *    SLEEPERS wakes all sleepers afterwards: a sleeper either sleeps
 *    before the clear and is woken, or finds the word changed and does
 *    not sleep. Woken threads compete again and set SLEEPERS again if they
 *    must wait. A reader held back only by writers_waiting while nobody
 *    holds the lock yields instead: no release would come to wake it.
 * 4. Acquire on lock, release on unlock: what a holder wrote is visible to
 *    the next holder (and to ThreadSanitizer, which sees the atomics).
 *
 * Known cost: a release wakes every sleeper and hands the lock to nobody,
 * so under a writer that puts back to back, readers that went to sleep
 * keep losing the race to its next put, set SLEEPERS again, and each of
 * its releases pays a futex wake until they get in (as with glibc's
 * writer-preferring rwlock, which also lets writers starve readers).
 */
#ifndef STRATA_IDX_RWLOCK_H
#define STRATA_IDX_RWLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define IDX_RW_WRITER      0x80000000u
#define IDX_RW_SLEEPERS    0x40000000u
#define IDX_RW_READERS_MAX 0x3fffffffu

typedef struct idx__rwlock {
    _Atomic uint32_t state;
    _Atomic uint32_t writers_waiting;
} idx__rwlock;

void idx__rw_init(idx__rwlock *l);
/*
 * The blocking paths (rwlock.c): they sleep until the lock is free. The
 * caller of idx__rw_wrlock has counted itself in writers_waiting (rule 2);
 * idx__rw_rdlock_slow is the rest of idx__rw_rdlock.
 */
void idx__rw_wrlock(idx__rwlock *l);
void idx__rw_rdlock_slow(idx__rwlock *l);
/* Wakes every sleeper (rule 3). */
void idx__rw_wake_all(idx__rwlock *l);

static inline bool idx__rw_trywrlock(idx__rwlock *l)
{
    uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
    return (s & ~IDX_RW_SLEEPERS) == 0 &&
           atomic_compare_exchange_strong_explicit(&l->state, &s, s | IDX_RW_WRITER,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* Takes a read lock unless a writer holds it; ignores waiting writers. */
static inline bool idx__rw_tryrdlock(idx__rwlock *l)
{
    uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
    while (!(s & IDX_RW_WRITER) && (s & IDX_RW_READERS_MAX) != IDX_RW_READERS_MAX) {
        if (atomic_compare_exchange_weak_explicit(&l->state, &s, s + 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

static inline void idx__rw_rdlock(idx__rwlock *l)
{
    uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
    if (!(s & (IDX_RW_WRITER | IDX_RW_SLEEPERS)) && s != IDX_RW_READERS_MAX &&
        atomic_load_explicit(&l->writers_waiting, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong_explicit(&l->state, &s, s + 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    idx__rw_rdlock_slow(l);
}

static inline void idx__rw_wrunlock(idx__rwlock *l)
{
    uint32_t old = atomic_fetch_and_explicit(&l->state, ~(IDX_RW_WRITER | IDX_RW_SLEEPERS),
                                             memory_order_release);
    if (old & IDX_RW_SLEEPERS)
        idx__rw_wake_all(l);
}

static inline void idx__rw_rdunlock(idx__rwlock *l)
{
    uint32_t old = atomic_fetch_sub_explicit(&l->state, 1, memory_order_release);
    /* Only the last reader's leaving can let a sleeper in (a waiting reader
     * waits for a writer, never for another reader, save at READERS_MAX). */
    if ((old & IDX_RW_SLEEPERS) &&
        ((old & IDX_RW_READERS_MAX) == 1 || (old & IDX_RW_READERS_MAX) == IDX_RW_READERS_MAX)) {
        atomic_fetch_and_explicit(&l->state, ~IDX_RW_SLEEPERS, memory_order_relaxed);
        idx__rw_wake_all(l);
    }
}

#endif
