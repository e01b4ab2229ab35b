/*
 * sync.h: pthread initialisation that checks its results. pthread_mutex_init
 * and pthread_cond_init may fail (-ENOMEM, -EAGAIN); a layer that ignored
 * it would lock an uninitialised object later. Private to strata (strata__
 * prefix); static inline, so it adds no symbol to the library.
 */
#ifndef STRATA_SYNC_H
#define STRATA_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * Initialise the n mutexes mus[0..n) (default attributes), all or none:
 * 0, or the -errno of the first that failed, with the ones before it
 * destroyed again.
 */
static inline int strata__mutexes_init(pthread_mutex_t *const *mus, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_mutex_init(mus[i], NULL);
        if (rc != 0) {
            while (i > 0)
                pthread_mutex_destroy(mus[--i]);
            return -rc;
        }
    }
    return 0;
}

/*
 * Initialise cv; with monotonic, its timed waits measure CLOCK_MONOTONIC
 * (so a wall clock change does not stretch or cut them). 0 or -errno;
 * nothing to destroy on failure.
 */
static inline int strata__cond_init(pthread_cond_t *cv, bool monotonic)
{
    if (!monotonic)
        return -pthread_cond_init(cv, NULL);
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return -rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return -rc;
}

/* A spin-wait's pause: lets the sibling hyperthread run and saves power. */
static inline void strata__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* CLOCK_MONOTONIC in nanoseconds (a spin's bound). */
static inline unsigned long long strata__spin_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/*
 * Lock mu, spinning on trylock for at most max_ns of wall time before
 * sleeping on it. For a mutex whose holders keep it a few microseconds:
 * a futex sleep and its wake-up cost about as much on a VM (10-30 us
 * here), and the unlock that must wake a sleeper pays a system call.
 * The bound is time, not a count of pauses (a pause is ~60 ns on recent
 * AMD, a few ns elsewhere); a holder that is not running cannot let go
 * while the caller spins, so the bound stays short.
 */
static inline void strata__mutex_lock_spin(pthread_mutex_t *mu, unsigned long long max_ns)
{
    if (pthread_mutex_trylock(mu) == 0)
        return;
    unsigned long long t0 = strata__spin_clock_ns();
    /* Loop invariant: mu was taken by someone else at the last try. */
    do {
        for (int j = 0; j < 16; j++)
            strata__cpu_relax();
        if (pthread_mutex_trylock(mu) == 0)
            return;
    } while (strata__spin_clock_ns() - t0 < max_ns);
    pthread_mutex_lock(mu);
}

#endif /* STRATA_SYNC_H */
