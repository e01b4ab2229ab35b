/*
 * mvcc_test.h: helpers shared by the mvcc test programs (header-only): a
 * store over a backend in the test's directory, one-line puts/deletes and
 * ranges rendered as text, and a reference model of etcd's semantics
 * (every change kept, answers computed by brute force) that random tests
 * compare the store with.
 */
#ifndef STRATA_TESTS_MVCC_TEST_H
#define STRATA_TESTS_MVCC_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <strata/mvcc.h>
#define HARNESS_STRERROR(rc) mvcc_strerror(rc)
#include "harness.h"

/* ---- a store in the test directory ------------------------------------------- */

typedef struct mt_store {
    char path[4096];
    backend *be;
    mvcc_store *s;
    backend_options bo;
    mvcc_options mo;
} mt_store;

/* The backend's bolt options without fsync; never changed once set (copy to change). */
static HARNESS_UNUSED const bolt_options *mt_bolt_opts(void)
{
    static bolt_options bo;
    if (bo.size == 0) {
        backend_bolt_options_init(&bo);
        bo.no_sync = true;
    }
    return &bo;
}

static HARNESS_UNUSED void mt_opts(mt_store *m)
{
    backend_options_init(&m->bo);
    m->bo.mmap_reserve = 256u << 20;
    m->bo.bolt = mt_bolt_opts();
    mvcc_options_init(&m->mo);
}

/* Open (creating) name with the options in m (mt_opts first). */
static HARNESS_UNUSED void mt_open_with(mt_store *m, const char *name)
{
    harness_path(m->path, sizeof m->path, name);
    ASSERT_OK(backend_open(m->path, &m->bo, &m->be));
    ASSERT_OK(mvcc_store_open(m->be, &m->mo, &m->s));
}

static HARNESS_UNUSED void mt_open(mt_store *m, const char *name)
{
    mt_opts(m);
    mt_open_with(m, name);
}

static HARNESS_UNUSED void mt_close(mt_store *m)
{
    ASSERT_OK(mvcc_store_close(m->s));
    ASSERT_OK(backend_close(m->be));
    m->s = NULL;
    m->be = NULL;
}

/* Close and open the same file again (restore). */
static HARNESS_UNUSED void mt_reopen(mt_store *m)
{
    ASSERT_OK(mvcc_store_close(m->s));
    ASSERT_OK(backend_close(m->be));
    ASSERT_OK(backend_open(m->path, &m->bo, &m->be));
    ASSERT_OK(mvcc_store_open(m->be, &m->mo, &m->s));
}

static HARNESS_UNUSED int64_t mt_put(mvcc_store *s, const char *k, const char *v)
{
    int64_t rev = 0;
    ASSERT_OK(mvcc_store_put(s, k, strlen(k), v, strlen(v), 0, &rev));
    return rev;
}

/* Delete [k, end) (end NULL: k alone; "" : every key >= k); returns n. */
static HARNESS_UNUSED int64_t mt_del(mvcc_store *s, const char *k, const char *end)
{
    int64_t n = -1, rev = 0;
    ASSERT_OK(mvcc_store_delete_range(s, k, strlen(k), end, end ? strlen(end) : 0, &n, &rev));
    return n;
}

/* Render a range result as text: "rev=R count=C [k=v@c/m/ver/l ...]". */
typedef struct mt_text {
    char buf[16384];
} mt_text;

static HARNESS_UNUSED const char *mt_render(const mvcc_range_result *r, mt_text *t)
{
    size_t o = (size_t)snprintf(t->buf, sizeof t->buf, "rev=%" PRId64 " count=%" PRId64, r->rev,
                                r->count);
    for (size_t i = 0; i < r->n && o < sizeof t->buf; i++) {
        const mvcc_kv *kv = &r->kvs[i];
        o += (size_t)snprintf(t->buf + o, sizeof t->buf - o,
                              " %.*s=%.*s@%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64,
                              (int)kv->key_len, (const char *)kv->key, (int)kv->value_len,
                              kv->value ? (const char *)kv->value : "", kv->create_revision,
                              kv->mod_revision, kv->version, kv->lease);
    }
    return t->buf;
}

/* A range at rev (0 = current), rendered; errors render as "error=NAME rev=R count=C". */
static HARNESS_UNUSED const char *mt_range(mvcc_store *s, const char *k, const char *end,
                                           int64_t rev, mt_text *t)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .rev = rev };
    int rc = mvcc_store_range(s, k, strlen(k), end, end ? strlen(end) : 0, &o, &r);
    if (rc != 0)
        snprintf(t->buf, sizeof t->buf, "error=%s rev=%" PRId64 " count=%" PRId64,
                 mvcc_status_name(rc), r.rev, r.count);
    else
        mt_render(&r, t);
    mvcc_range_result_release(&r);
    return t->buf;
}

/* ---- a reference model --------------------------------------------------------- */

typedef struct mt_change {
    int64_t main, sub;
    char key[64];
    char *value; /* NULL: tombstone */
    int64_t create, ver;
} mt_change;

typedef struct mt_model {
    mt_change *c;
    size_t n, cap;
    int64_t rev;     /* current revision */
    int64_t compact; /* -1 */
} mt_model;

static HARNESS_UNUSED void mt_model_init(mt_model *m)
{
    memset(m, 0, sizeof *m);
    m->rev = 1;
    m->compact = -1;
}

static HARNESS_UNUSED void mt_model_free(mt_model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->c[i].value);
    free(m->c);
}

/* The newest change of key with main <= rev, or NULL. */
static HARNESS_UNUSED const mt_change *mt_model_at(const mt_model *m, const char *key, int64_t rev)
{
    for (size_t i = m->n; i-- > 0;)
        if (m->c[i].main <= rev && strcmp(m->c[i].key, key) == 0)
            return &m->c[i];
    return NULL;
}

/* Record a change of the transaction making revision main (sub = its index). */
static HARNESS_UNUSED void mt_model_change(mt_model *m, int64_t main, int64_t sub, const char *key,
                                           const char *value)
{
    const mt_change *prev = mt_model_at(m, key, main);
    bool alive = prev != NULL && prev->value != NULL;
    int64_t pcreate = alive ? prev->create : 0, pver = alive ? prev->ver : 0;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->c = realloc(m->c, m->cap * sizeof *m->c);
        ASSERT_TRUE(m->c != NULL);
    }
    mt_change *c = &m->c[m->n];
    memset(c, 0, sizeof *c);
    c->main = main;
    c->sub = sub;
    snprintf(c->key, sizeof c->key, "%s", key);
    if (value != NULL) {
        c->value = strdup(value);
        c->create = alive ? pcreate : main;
        c->ver = alive ? pver + 1 : 1;
    }
    m->n++;
}

/* Is key alive at rev? */
static HARNESS_UNUSED bool mt_model_alive(const mt_model *m, const char *key, int64_t rev)
{
    const mt_change *c = mt_model_at(m, key, rev);
    return c != NULL && c->value != NULL;
}

static HARNESS_UNUSED int mt_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The model's answer to range [k, end) at rev (0 = current), rendered as mt_render. */
static HARNESS_UNUSED const char *mt_model_range(const mt_model *m, const char *k, const char *end,
                                                 int64_t rev, mt_text *t)
{
    if (rev > m->rev) {
        snprintf(t->buf, sizeof t->buf, "error=MVCC_EFUTUREREV rev=%" PRId64 " count=-1", m->rev);
        return t->buf;
    }
    if (rev <= 0)
        rev = m->rev;
    if (rev < m->compact) {
        snprintf(t->buf, sizeof t->buf, "error=MVCC_ECOMPACTED rev=0 count=-1");
        return t->buf;
    }
    /* distinct keys in range */
    const char **keys = malloc((m->n + 1) * sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *key = m->c[i].key;
        bool in = end == NULL ? strcmp(key, k) == 0
                              : strcmp(key, k) >= 0 && (end[0] == '\0' || strcmp(key, end) < 0);
        if (!in)
            continue;
        bool dup = false;
        for (size_t j = 0; j < nk && !dup; j++)
            dup = strcmp(keys[j], key) == 0;
        if (!dup)
            keys[nk++] = key;
    }
    qsort(keys, nk, sizeof *keys, mt_strcmp_ptr);
    size_t count = 0;
    for (size_t j = 0; j < nk; j++)
        count += mt_model_alive(m, keys[j], rev);
    size_t o = (size_t)snprintf(t->buf, sizeof t->buf, "rev=%" PRId64 " count=%zu", m->rev, count);
    for (size_t j = 0; j < nk && o < sizeof t->buf; j++) {
        const mt_change *c = mt_model_at(m, keys[j], rev);
        if (c == NULL || c->value == NULL)
            continue;
        o += (size_t)snprintf(t->buf + o, sizeof t->buf - o,
                              " %s=%s@%" PRId64 "/%" PRId64 "/%" PRId64 "/0", c->key, c->value,
                              c->create, c->main, c->ver);
    }
    free(keys);
    return t->buf;
}

#endif
