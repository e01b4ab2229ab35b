/*
 * test_rwlock.c: index/rwlock.h, the index's reader-writer lock: the try
 * paths one thread at a time, mutual exclusion under many threads (a pair
 * of counters that readers must always see equal), the sleeping paths
 * (a thread is known to sleep once it has set SLEEPERS, so the tests wait
 * for that bit instead of sleeping), and writer preference. Runs in the
 * concurrency suite, so ThreadSanitizer checks the acquire/release pairs.
 */
#define HARNESS_STRERROR(rc) idx_strerror(rc)
#include <strata/idx.h>

#include <pthread.h>
#include <sched.h>

#include "../../index/rwlock.h"
#include "../harness.h"

static void wait_for_sleeper(idx__rwlock *l)
{
    while (!(atomic_load(&l->state) & IDX_RW_SLEEPERS))
        sched_yield();
}

static void test_try_paths(void)
{
    idx__rwlock l;
    idx__rw_init(&l);
    ASSERT_TRUE(idx__rw_trywrlock(&l));
    ASSERT_FALSE(idx__rw_trywrlock(&l));
    ASSERT_FALSE(idx__rw_tryrdlock(&l));
    idx__rw_wrunlock(&l);
    ASSERT_EQ_U64(atomic_load(&l.state), 0);

    ASSERT_TRUE(idx__rw_tryrdlock(&l));
    ASSERT_TRUE(idx__rw_tryrdlock(&l));
    idx__rw_rdlock(&l);
    ASSERT_EQ_U64(atomic_load(&l.state), 3);
    ASSERT_FALSE(idx__rw_trywrlock(&l));
    idx__rw_rdunlock(&l);
    idx__rw_rdunlock(&l);
    ASSERT_FALSE(idx__rw_trywrlock(&l));
    idx__rw_rdunlock(&l);
    ASSERT_TRUE(idx__rw_trywrlock(&l));
    idx__rw_wrunlock(&l);

    /* A full reader count refuses one more reader instead of overflowing. */
    atomic_store(&l.state, IDX_RW_READERS_MAX);
    ASSERT_FALSE(idx__rw_tryrdlock(&l));
    ASSERT_FALSE(idx__rw_trywrlock(&l));
    atomic_store(&l.state, 0);
}

/* ---- exclusion under load --------------------------------------------------- */

typedef struct shared {
    idx__rwlock lock;
    uint64_t a, b;         /* guarded: equal whenever the lock is free */
    atomic_int inside_w;   /* writers inside */
    atomic_int inside_r;   /* readers inside */
    atomic_int violations; /* a writer with anyone else inside */
    atomic_int torn;       /* a reader that saw a != b */
    int rounds;
} shared;

static void *writer_run(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < s->rounds; i++) {
        if (!idx__rw_trywrlock(&s->lock)) {
            atomic_fetch_add(&s->lock.writers_waiting, 1);
            idx__rw_wrlock(&s->lock);
            atomic_fetch_sub(&s->lock.writers_waiting, 1);
        }
        if (atomic_fetch_add(&s->inside_w, 1) != 0 || atomic_load(&s->inside_r) != 0)
            atomic_fetch_add(&s->violations, 1);
        s->a++;
        sched_yield(); /* widen the window between the two writes */
        s->b++;
        atomic_fetch_sub(&s->inside_w, 1);
        idx__rw_wrunlock(&s->lock);
    }
    return NULL;
}

static void *reader_run(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < s->rounds; i++) {
        idx__rw_rdlock(&s->lock);
        atomic_fetch_add(&s->inside_r, 1);
        if (atomic_load(&s->inside_w) != 0)
            atomic_fetch_add(&s->violations, 1);
        if (s->a != s->b)
            atomic_fetch_add(&s->torn, 1);
        atomic_fetch_sub(&s->inside_r, 1);
        idx__rw_rdunlock(&s->lock);
    }
    return NULL;
}

static void test_exclusion(void)
{
    enum { WRITERS = 3, READERS = 5 };
    shared s = { .rounds = 4000 };
    idx__rw_init(&s.lock);
    pthread_t th[WRITERS + READERS];
    for (int i = 0; i < WRITERS + READERS; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, i < WRITERS ? writer_run : reader_run, &s), 0);
    for (int i = 0; i < WRITERS + READERS; i++)
        ASSERT_EQ_INT(pthread_join(th[i], NULL), 0);
    ASSERT_EQ_INT(atomic_load(&s.violations), 0);
    ASSERT_EQ_INT(atomic_load(&s.torn), 0);
    ASSERT_EQ_U64(s.a, (uint64_t)WRITERS * 4000);
    ASSERT_EQ_U64(s.b, s.a);
    ASSERT_EQ_U64(atomic_load(&s.lock.state), 0);
}

/* ---- the sleeping paths ------------------------------------------------------ */

typedef struct order {
    idx__rwlock lock;
    atomic_int seq; /* next position in the order */
    int writer_at;  /* where the writer got in */
    int reader_at;  /* where the late reader got in */
} order;

static void *sleeping_reader(void *arg)
{
    order *o = arg;
    idx__rw_rdlock(&o->lock);
    o->reader_at = atomic_fetch_add(&o->seq, 1);
    idx__rw_rdunlock(&o->lock);
    return NULL;
}

static void *sleeping_writer(void *arg)
{
    order *o = arg;
    atomic_fetch_add(&o->lock.writers_waiting, 1);
    idx__rw_wrlock(&o->lock);
    atomic_fetch_sub(&o->lock.writers_waiting, 1);
    o->writer_at = atomic_fetch_add(&o->seq, 1);
    idx__rw_wrunlock(&o->lock);
    return NULL;
}

/* A reader sleeps behind a writer and is woken by its release. */
static void test_reader_sleeps_behind_writer(void)
{
    order o = { .writer_at = -1, .reader_at = -1 };
    idx__rw_init(&o.lock);
    ASSERT_TRUE(idx__rw_trywrlock(&o.lock));
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, sleeping_reader, &o), 0);
    wait_for_sleeper(&o.lock);
    ASSERT_EQ_INT(o.reader_at, -1);
    idx__rw_wrunlock(&o.lock);
    ASSERT_EQ_INT(pthread_join(th, NULL), 0);
    ASSERT_EQ_INT(o.reader_at, 0);
    ASSERT_EQ_U64(atomic_load(&o.lock.state), 0);
}

/*
 * Writer preference: while a writer waits (counted in writers_waiting), a
 * new reader waits too, although only readers hold the lock; it sleeps
 * (sets SLEEPERS) behind the reader inside and gets in once the writer is
 * gone and that reader leaves.
 */
static void test_writer_preferred(void)
{
    order o = { .writer_at = -1, .reader_at = -1 };
    idx__rw_init(&o.lock);
    idx__rw_rdlock(&o.lock);
    atomic_store(&o.lock.writers_waiting, 1); /* a writer announced itself */
    pthread_t r;
    ASSERT_EQ_INT(pthread_create(&r, NULL, sleeping_reader, &o), 0);
    wait_for_sleeper(&o.lock); /* only the new reader can have set it */
    ASSERT_EQ_INT(o.reader_at, -1);
    ASSERT_EQ_U64(atomic_load(&o.lock.state) & IDX_RW_READERS_MAX, 1);
    atomic_store(&o.lock.writers_waiting, 0); /* the writer came and went */
    idx__rw_rdunlock(&o.lock);                /* the last reader wakes it */
    ASSERT_EQ_INT(pthread_join(r, NULL), 0);
    ASSERT_EQ_INT(o.reader_at, 0);
    ASSERT_EQ_U64(atomic_load(&o.lock.state), 0);
}

/*
 * A reader held back only by a waiting writer while nobody holds the lock
 * must not sleep: that writer can take and release the lock in between
 * (the word goes 0 -> WRITER -> 0), after which no release comes to wake
 * a sleeper. Found in review; before the fix the reader hung within a
 * few hundred rounds of this. A hang fails the test by its timeout.
 */
typedef struct aba {
    idx__rwlock lock;
    atomic_long round; /* the round the reader may start */
    atomic_long done;  /* the last round the reader finished */
} aba;

enum { ABA_ROUNDS = 20000 };

static void *aba_reader(void *arg)
{
    aba *a = arg;
    for (long r = 1; r <= ABA_ROUNDS; r++) {
        while (atomic_load(&a->round) < r) /* tight spins: they make the window */
            ;
        for (volatile long j = 0; j < (r * 7) % 13; j++) /* vary the timing */
            ;
        idx__rw_rdlock(&a->lock);
        idx__rw_rdunlock(&a->lock);
        atomic_store(&a->done, r);
    }
    return NULL;
}

static void test_reader_never_sleeps_without_holder(void)
{
    aba a;
    idx__rw_init(&a.lock);
    atomic_init(&a.round, 0);
    atomic_init(&a.done, 0);
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, aba_reader, &a), 0);
    for (long r = 1; r <= ABA_ROUNDS; r++) {
        atomic_fetch_add(&a.lock.writers_waiting, 1);
        atomic_store(&a.round, r);
        for (volatile long j = 0; j < (r * 5) % 11; j++)
            ;
        while (!idx__rw_trywrlock(&a.lock))
            ;
        atomic_fetch_sub(&a.lock.writers_waiting, 1);
        idx__rw_wrunlock(&a.lock);
        while (atomic_load(&a.done) < r)
            ;
    }
    ASSERT_EQ_INT(pthread_join(th, NULL), 0);
    ASSERT_EQ_U64(atomic_load(&a.lock.state), 0);
}

/* A writer sleeping behind readers is woken by the last one to leave. */
static void test_writer_sleeps_behind_readers(void)
{
    order o = { .writer_at = -1, .reader_at = -1 };
    idx__rw_init(&o.lock);
    idx__rw_rdlock(&o.lock);
    idx__rw_rdlock(&o.lock);
    pthread_t w;
    ASSERT_EQ_INT(pthread_create(&w, NULL, sleeping_writer, &o), 0);
    wait_for_sleeper(&o.lock);
    idx__rw_rdunlock(&o.lock);
    ASSERT_EQ_INT(o.writer_at, -1); /* one reader is still inside */
    idx__rw_rdunlock(&o.lock);
    ASSERT_EQ_INT(pthread_join(w, NULL), 0);
    ASSERT_EQ_INT(o.writer_at, 0);
    ASSERT_EQ_U64(atomic_load(&o.lock.state), 0);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_try_paths);
    RUN(test_exclusion);
    RUN(test_reader_sleeps_behind_writer);
    RUN(test_writer_preferred);
    RUN(test_writer_sleeps_behind_readers);
    RUN(test_reader_never_sleeps_without_holder);
    return 0;
}
