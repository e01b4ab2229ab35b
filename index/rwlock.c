/*
 * rwlock.c: the sleeping paths of the index's reader-writer lock
 * (rwlock.h has the word's rules). Sleeping is a futex wait on the lock
 * word; where there is no futex the waiter yields the CPU instead.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "rwlock.h"

void idx__rw_init(idx__rwlock *l)
{
    atomic_init(&l->state, 0);
    atomic_init(&l->writers_waiting, 0);
}

/* Sleeps while the word still reads `expected` (which has SLEEPERS set). */
static void rw_sleep(idx__rwlock *l, uint32_t expected)
{
#ifdef __linux__
    /* EAGAIN (the word changed) and EINTR both mean: look again. */
    syscall(SYS_futex, (uint32_t *)&l->state, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)l;
    (void)expected;
    sched_yield();
#endif
}

void idx__rw_wake_all(idx__rwlock *l)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)&l->state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)l;
#endif
}

/*
 * Marks the word as having a sleeper (rule 3) and sleeps on it. False when
 * the word changed first: the caller looks again.
 */
static bool rw_mark_and_sleep(idx__rwlock *l, uint32_t s)
{
    if (!(s & IDX_RW_SLEEPERS) &&
        !atomic_compare_exchange_strong_explicit(&l->state, &s, s | IDX_RW_SLEEPERS,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    rw_sleep(l, s | IDX_RW_SLEEPERS);
    return true;
}

void idx__rw_wrlock(idx__rwlock *l)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
        if ((s & ~IDX_RW_SLEEPERS) == 0) {
            /* Keep SLEEPERS: our release then wakes whoever sleeps. */
            if (atomic_compare_exchange_strong_explicit(&l->state, &s, s | IDX_RW_WRITER,
                                                        memory_order_acquire, memory_order_relaxed))
                return;
            continue;
        }
        rw_mark_and_sleep(l, s);
    }
}

void idx__rw_rdlock_slow(idx__rwlock *l)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&l->state, memory_order_relaxed);
        bool blocked = (s & IDX_RW_WRITER) || (s & IDX_RW_READERS_MAX) == IDX_RW_READERS_MAX ||
                       atomic_load_explicit(&l->writers_waiting, memory_order_relaxed) != 0;
        if (!blocked) {
            if (atomic_compare_exchange_strong_explicit(&l->state, &s, s + 1, memory_order_acquire,
                                                        memory_order_relaxed))
                return;
            continue;
        }
        if ((s & ~IDX_RW_SLEEPERS) == 0) {
            /*
             * Held back only by a waiting writer, with nobody holding the
             * lock: there is no release to wake a sleeper, and the word
             * alone cannot tell whether that writer came and went meanwhile
             * (0 -> WRITER -> 0): sleeping here could last forever. The
             * writer is about to take the lock; yield until it has.
             */
            sched_yield();
            continue;
        }
        rw_mark_and_sleep(l, s);
    }
}
