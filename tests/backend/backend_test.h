/*
 * backend_test.h: helpers shared by the backend test programs (header-only):
 * a backend on a manual clock in the test's directory, locked writes, and
 * ranges collected into strings.
 */
#ifndef STRATA_TESTS_BACKEND_TEST_H
#define STRATA_TESTS_BACKEND_TEST_H

#include <errno.h>
#include <strata/backend.h>
#define HARNESS_STRERROR(rc) backend_strerror(rc)
#include "harness.h"

#define MS(n) ((uint64_t)(n)*1000000u)

/*
 * The tests' bolt options: the backend's, without fsync. Never changed
 * once set (a test that needs others copies them), so every options value
 * bk_opts returns may point to the same one.
 */
static HARNESS_UNUSED const bolt_options *bk_bolt_opts(void)
{
    static bolt_options bo;
    if (bo.size == 0) {
        backend_bolt_options_init(&bo);
        bo.no_sync = true;
    }
    return &bo;
}

/* Options for tests: small map, no fsync, a manual clock. */
static HARNESS_UNUSED backend_options bk_opts(strata_manual_clock *clk)
{
    backend_options o;
    backend_options_init(&o);
    o.mmap_reserve = 64u << 20;
    o.bolt = bk_bolt_opts();
    if (clk != NULL) {
        strata_manual_clock_init(clk, MS(1000));
        o.clock = &clk->clock;
    }
    return o;
}

static HARNESS_UNUSED backend *bk_open(const char *name, const backend_options *o)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    backend *be;
    ASSERT_OK(backend_open(path, o, &be));
    return be;
}

static HARNESS_UNUSED void bk_put(backend *be, const char *bucket, const char *key, const char *val)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str(bucket), bolt_str(key), bolt_str(val)));
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

static HARNESS_UNUSED void bk_del(backend *be, const char *bucket, const char *key)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_delete(tx, bolt_str(bucket), bolt_str(key)));
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

static HARNESS_UNUSED void bk_bucket(backend *be, const char *bucket)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str(bucket)));
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

typedef struct bk_str {
    char buf[8192];
    size_t len;
} bk_str;

/* Visitor appending "key=value " to a bk_str. */
static HARNESS_UNUSED int bk_append(void *arg, bolt_val key, bolt_val value)
{
    bk_str *s = arg;
    int n = snprintf(s->buf + s->len, sizeof s->buf - s->len, "%.*s=%.*s ", (int)key.size,
                     (const char *)key.data, (int)value.size, (const char *)value.data);
    if (n > 0 && s->len + (size_t)n < sizeof s->buf)
        s->len += (size_t)n;
    return 0;
}

/* The pairs of [start, end) a fresh read transaction sees ("" end: no bound). */
static HARNESS_UNUSED const char *bk_scan(backend *be, const char *bucket, const char *start,
                                          const char *end, uint64_t limit, bk_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    if (*end == '\0' && *start == '\0' && limit == 0)
        ASSERT_OK(backend_read_tx_for_each(rt, bolt_str(bucket), bk_append, s));
    else
        ASSERT_OK(backend_read_tx_range(rt, bolt_str(bucket), bolt_str(start), bolt_str(end), limit,
                                        bk_append, s));
    backend_read_tx_end(rt);
    return s->buf;
}

/* The value a fresh read transaction sees for key, or "(none)". */
static HARNESS_UNUSED const char *bk_get(backend *be, const char *bucket, const char *key,
                                         bk_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_OK(backend_read_tx_range(rt, bolt_str(bucket), bolt_str(key), (bolt_val){ NULL, 0 }, 0,
                                    bk_append, s));
    backend_read_tx_end(rt);
    return s->len == 0 ? "(none)" : s->buf;
}

#endif
