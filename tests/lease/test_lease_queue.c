/*
 * test_lease_queue.c: lease/lease_queue.c, the intrusive min-heap: a
 * seeded random mix of inserts, moves (earlier and later), removals and
 * pops, with lease__queue_check after every step and a reference model
 * (the minimum by linear scan) for every pop; the bulk calls of a mass
 * expiry (count_due, heapify after in-place re-timing); the check itself
 * is shown to catch a broken heap and a broken back-pointer.
 */
#include "lease_test.h"

#define N 512

static lease__lease leases[N];
static uint64_t model_time[N];
static bool model_in[N];

static void check(lease__queue *q)
{
    char why[128] = "";
    int rc = lease__queue_check(q, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "queue check: %s\n", why);
    ASSERT_OK(rc);
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        n += model_in[i];
        ASSERT_EQ_INT(leases[i].qidx[LEASE__Q_EXPIRY] != LEASE__NOQ, model_in[i]);
        if (model_in[i])
            ASSERT_EQ_U64(q->a[leases[i].qidx[LEASE__Q_EXPIRY]].time, model_time[i]);
    }
    ASSERT_EQ_SIZE(q->n, n);
}

static void test_random_ops(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    lease__queue q;
    lease__queue_init(&q, LEASE__Q_EXPIRY);
    for (int i = 0; i < N; i++) {
        memset(&leases[i], 0, sizeof leases[i]);
        leases[i].id = i + 1;
        leases[i].qidx[0] = leases[i].qidx[1] = LEASE__NOQ;
        model_in[i] = false;
    }
    for (int step = 0; step < 20000; step++) {
        uint64_t op = strata_rng_below(&r, 10);
        int i = (int)strata_rng_below(&r, N);
        if (op < 5) {
            uint64_t t = strata_rng_below(&r, 1000); /* small range: many ties */
            ASSERT_OK(lease__queue_set(&q, &leases[i], t));
            model_in[i] = true;
            model_time[i] = t;
        } else if (op < 7) {
            lease__queue_remove(&q, &leases[i]);
            model_in[i] = false;
        } else {
            const lease__qent *top = lease__queue_peek(&q);
            lease__lease *p = lease__queue_pop(&q);
            if (p == NULL) {
                ASSERT_NULL(top);
                for (int k = 0; k < N; k++)
                    ASSERT_FALSE(model_in[k]);
            } else {
                int k = (int)(p->id - 1);
                ASSERT_TRUE(model_in[k]);
                for (int j = 0; j < N; j++)
                    if (model_in[j])
                        ASSERT_TRUE(model_time[k] <= model_time[j]);
                model_in[k] = false;
            }
        }
        check(&q);
    }
    lease__queue_clear(&q);
    for (int i = 0; i < N; i++)
        model_in[i] = false;
    check(&q);
    lease__queue_release(&q);
}

/*
 * The bulk calls the pass uses for a mass expiry: count_due against a
 * linear count (with and without its limit), and heapify after times were
 * changed in place (the check and the model agree again).
 */
static void test_bulk(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed() + 1);
    lease__queue q;
    lease__queue_init(&q, LEASE__Q_EXPIRY);
    for (int round = 0; round < 50; round++) {
        lease__queue_clear(&q);
        int n = 1 + (int)strata_rng_below(&r, N);
        for (int i = 0; i < N; i++) {
            memset(&leases[i], 0, sizeof leases[i]);
            leases[i].id = i + 1;
            leases[i].qidx[0] = leases[i].qidx[1] = LEASE__NOQ;
            model_in[i] = i < n;
            if (i < n) {
                model_time[i] = strata_rng_below(&r, 1000);
                ASSERT_OK(lease__queue_set(&q, &leases[i], model_time[i]));
            }
        }
        check(&q);
        uint64_t now = strata_rng_below(&r, 1100);
        size_t due = 0;
        for (int i = 0; i < n; i++)
            due += model_time[i] <= now;
        ASSERT_EQ_SIZE(lease__queue_count_due(&q, 0, now, SIZE_MAX), due);
        size_t limit = (size_t)strata_rng_below(&r, (uint64_t)n + 1);
        ASSERT_EQ_SIZE(lease__queue_count_due(&q, 0, now, limit), due < limit ? due : limit);
        /* Re-time the due entries in place (as the pass does), then heapify. */
        uint64_t later = strata_rng_below(&r, 1200);
        for (size_t i = 0; i < q.n; i++)
            if (q.a[i].time <= now) {
                q.a[i].time = later;
                model_time[q.a[i].lease - leases] = later;
            }
        lease__queue_heapify(&q);
        check(&q);
        /* Popping yields the model's order. */
        uint64_t last = 0;
        for (lease__lease *p; (p = lease__queue_pop(&q)) != NULL;) {
            ASSERT_TRUE(model_time[p - leases] >= last);
            last = model_time[p - leases];
            model_in[p - leases] = false;
        }
        check(&q);
    }
    lease__queue_release(&q);
}

static void test_check_catches(void)
{
    lease__queue q;
    lease__queue_init(&q, LEASE__Q_EXPIRY);
    for (int i = 0; i < 8; i++) {
        leases[i].qidx[0] = LEASE__NOQ;
        ASSERT_OK(lease__queue_set(&q, &leases[i], (uint64_t)i * 10));
    }
    char why[128];
    ASSERT_OK(lease__queue_check(&q, why, sizeof why));
    q.a[3].time = 0; /* earlier than its parent */
    ASSERT_RC(lease__queue_check(&q, why, sizeof why), STRATA_EMISUSE);
    ASSERT_TRUE(strstr(why, "earlier than its parent") != NULL);
    q.a[3].time = 30;
    q.a[5].lease->qidx[0] = 2;
    ASSERT_RC(lease__queue_check(&q, why, sizeof why), STRATA_EMISUSE);
    ASSERT_TRUE(strstr(why, "does not point back") != NULL);
    q.a[5].lease->qidx[0] = 5;
    ASSERT_OK(lease__queue_check(&q, why, sizeof why));
    lease__queue_release(&q);
}

int main(void)
{
    HARNESS_BEGIN(14);
    RUN(test_random_ops);
    RUN(test_bulk);
    RUN(test_check_catches);
    return 0;
}
