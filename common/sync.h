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

#endif /* STRATA_SYNC_H */
