/*
 * test_sync.c: common/sync.h's strata__mutex_lock_spin: it takes a free
 * mutex at once, never while another thread holds it, and gets it once the
 * holder lets go, with a spin bound of zero (straight to sleep), short (it
 * sleeps after spinning) and long (it catches the release spinning); and
 * threads counting under it lose no increment (suite concurrency: TSan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "sync.h"

static const unsigned long long bounds[] = { 0, 1000, 50000000ull };

static void test_free_mutex_taken_at_once(void)
{
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        strata__mutex_lock_spin(&mu, bounds[b]);
        ASSERT_EQ_INT(pthread_mutex_trylock(&mu), EBUSY);
        pthread_mutex_unlock(&mu);
        ASSERT_EQ_INT(pthread_mutex_trylock(&mu), 0);
        pthread_mutex_unlock(&mu);
    }
}

typedef struct waiter {
    pthread_mutex_t *mu;
    unsigned long long bound;
    atomic_bool started, got;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->started, true);
    strata__mutex_lock_spin(w->mu, w->bound);
    atomic_store(&w->got, true);
    pthread_mutex_unlock(w->mu);
    return NULL;
}

static void test_waits_for_the_holder(void)
{
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&mu);
        waiter w = { .mu = &mu, .bound = bounds[b] };
        atomic_init(&w.started, false);
        atomic_init(&w.got, false);
        pthread_t th;
        ASSERT_EQ_INT(pthread_create(&th, NULL, waiter_main, &w), 0);
        while (!atomic_load(&w.started))
            strata__cpu_relax();
        /* Some turns of the waiter's spin (or its sleep) while held: it must not get in. */
        for (int i = 0; i < 1000; i++) {
            ASSERT_FALSE(atomic_load(&w.got));
            strata__cpu_relax();
        }
        pthread_mutex_unlock(&mu);
        pthread_join(th, NULL);
        ASSERT_TRUE(atomic_load(&w.got));
    }
}

#define COUNTERS 4
#define ROUNDS   20000

typedef struct counter {
    pthread_mutex_t mu;
    unsigned long long bound;
    long value; /* under mu; a plain long, so a lost exclusion loses increments */
} counter;

static void *count_main(void *arg)
{
    counter *c = arg;
    for (int i = 0; i < ROUNDS; i++) {
        strata__mutex_lock_spin(&c->mu, c->bound);
        c->value++;
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

static void test_threads_lose_no_increment(void)
{
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        counter c = { .mu = PTHREAD_MUTEX_INITIALIZER, .bound = bounds[b], .value = 0 };
        pthread_t th[COUNTERS];
        for (int i = 0; i < COUNTERS; i++)
            ASSERT_EQ_INT(pthread_create(&th[i], NULL, count_main, &c), 0);
        for (int i = 0; i < COUNTERS; i++)
            pthread_join(th[i], NULL);
        ASSERT_EQ_INT(c.value, (long)COUNTERS * ROUNDS);
    }
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_free_mutex_taken_at_once);
    RUN(test_waits_for_the_holder);
    RUN(test_threads_lose_no_increment);
    return 0;
}
