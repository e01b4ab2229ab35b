/*
 * wlog.c: the write log: writes the batch transaction took while bolt's
 * write transaction was being committed outside the batch lock (backend.c
 * rules 8-10), kept in order until they are replayed into the next one.
 *
 * Invariants:
 *   1. Entries [head, n) are the writes not yet replayed, oldest first;
 *      each names its bucket, key and value by offsets into one arena (so
 *      the arena can grow by realloc while entries are added).
 *   2. Replay applies entries strictly in order and drops each one it
 *      tried, so a failure is reported once and never replayed twice (the
 *      backend makes it sticky).
 *   3. When the last entry has been replayed the log is reset to empty,
 *      keeping its memory for the next commit.
 *   4. An entry is 16 bytes (a 100,000-key revoke logs 100,000 tombstones
 *      while a commit is in flight, and on a VM whose host takes freed
 *      pages back each MiB touched for the first time costs milliseconds:
 *      docs/lease.md): the bucket's and the key's lengths share 32 bits
 *      (each at most NAME_MAX_LOG, 65,535: bolt's longest key is 32,768
 *      bytes, and a bucket name is a key), the value's length (at most
 *      VALUE_MAX_LOG, 1 GiB - 1; the log takes values up to 64 MiB) and
 *      the op the other 32.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "backend_int.h"

#define CLOCK_EVERY 16 /* replayed entries between looks at the clock */

/* Invariant 4: the longest bucket name and key (bolt's longest key), and value. */
#define NAME_MAX_LOG  0xffffu
#define VALUE_MAX_LOG 0x3fffffffu

_Static_assert(BACKEND__LOG_PUT <= 3 && BACKEND__LOG_SEQ_PUT <= 3 && BACKEND__LOG_DELETE <= 3,
               "an op fits in 2 bits");

typedef struct wentry {
    size_t off;       /* bucket, then key, then value bytes at arena + off */
    uint32_t lens;    /* bucket length << 16 | key length */
    uint32_t vlen_op; /* op << 30 | value length */
} wentry;

static inline size_t e_blen(const wentry *e)
{
    return e->lens >> 16;
}

static inline size_t e_klen(const wentry *e)
{
    return e->lens & 0xffffu;
}

static inline size_t e_vlen(const wentry *e)
{
    return e->vlen_op & VALUE_MAX_LOG;
}

static inline unsigned e_op(const wentry *e)
{
    return e->vlen_op >> 30;
}

struct backend__wlog {
    wentry *e;
    size_t head, n, cap;
    unsigned char *arena;
    size_t used, acap;
};

int backend__wlog_new(backend__wlog **out)
{
    *out = strata_calloc(1, sizeof **out);
    return *out == NULL ? -ENOMEM : 0;
}

void backend__wlog_free(backend__wlog *l)
{
    if (l == NULL)
        return;
    strata_free(l->e);
    strata_free(l->arena);
    strata_free(l);
}

size_t backend__wlog_appended(const backend__wlog *l)
{
    return l->n; /* entries [0, n) of the arena: replayed or not (invariant 3 resets it) */
}

void backend__wlog_clear(backend__wlog *l)
{
    l->head = l->n = 0;
    l->used = 0;
}

void backend__wlog_truncate(backend__wlog *l, size_t count)
{
    if (l->head + count >= l->n)
        return;
    l->n = l->head + count;
    l->used = l->e[l->n].off; /* the first dropped entry's bytes start there (invariant 1) */
}

size_t backend__wlog_count(const backend__wlog *l)
{
    return l->n - l->head;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -ENOMEM;
        n *= 2;
    }
    void *q = strata_realloc(*p, n * elem);
    if (q == NULL)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int backend__wlog_reserve(backend__wlog *l, size_t n, size_t bytes)
{
    if (n > SIZE_MAX - l->n || bytes > SIZE_MAX - l->used)
        return -ENOMEM;
    if (grow((void **)&l->e, &l->cap, l->n + n, sizeof *l->e) != 0 ||
        grow((void **)&l->arena, &l->acap, l->used + bytes, 1) != 0)
        return -ENOMEM;
    return 0;
}

int backend__wlog_append(backend__wlog *l, enum backend__wlog_op op, bolt_val bucket, bolt_val key,
                         bolt_val value)
{
    if (op == BACKEND__LOG_DELETE)
        value.size = 0;
    /* The batch functions refuse larger keys and values before they get here (invariant 4). */
    if (bucket.size > NAME_MAX_LOG || key.size > NAME_MAX_LOG || value.size > VALUE_MAX_LOG)
        return STRATA_EOVERFLOW;
    size_t bytes = bucket.size + key.size + value.size;
    if (grow((void **)&l->e, &l->cap, l->n + 1, sizeof *l->e) != 0 ||
        grow((void **)&l->arena, &l->acap, l->used + bytes, 1) != 0)
        return -ENOMEM;
    wentry *e = &l->e[l->n];
    *e = (wentry){ l->used, (uint32_t)(bucket.size << 16 | key.size),
                   (uint32_t)((unsigned)op << 30 | value.size) };
    unsigned char *p = l->arena + l->used;
    if (bucket.size > 0)
        memcpy(p, bucket.data, bucket.size);
    if (key.size > 0)
        memcpy(p + bucket.size, key.data, key.size);
    if (value.size > 0)
        memcpy(p + bucket.size + key.size, value.data, value.size);
    l->used += bytes;
    l->n++;
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One entry into wtx; *b / *bname cache the last bucket looked up. */
static int apply(bolt_tx *wtx, const unsigned char *arena, const wentry *e, bolt_bucket **b,
                 bolt_val *bname)
{
    size_t blen = e_blen(e), klen = e_klen(e);
    bolt_val bucket = { arena + e->off, blen };
    bolt_val key = { arena + e->off + blen, klen };
    bolt_val value = { arena + e->off + blen + klen, e_vlen(e) };
    if (*b == NULL || bname->size != bucket.size ||
        memcmp(bname->data, bucket.data, bucket.size) != 0) {
        int rc = bolt_tx_bucket(wtx, bucket, b);
        if (rc != 0) {
            *b = NULL;
            return rc == BOLT_NOTFOUND ? BACKEND_EBUCKETNOTFOUND : rc;
        }
        *bname = bucket;
    }
    switch (e_op(e)) {
    case BACKEND__LOG_SEQ_PUT:
        bolt_bucket_set_fill_percent(*b, BACKEND_SEQ_FILL_PERCENT);
        return bolt_bucket_put(*b, key, value);
    case BACKEND__LOG_PUT:
        return bolt_bucket_put(*b, key, value);
    default:
        return bolt_bucket_delete(*b, key);
    }
}

int backend__wlog_replay(backend__wlog *l, bolt_tx *wtx, size_t max, uint64_t budget_ns)
{
    uint64_t t0 = budget_ns != 0 ? mono_ns() : 0;
    bolt_bucket *b = NULL;
    bolt_val bname = { NULL, 0 };
    int rc = 0;
    size_t done = 0;
    /* Loop invariant: entries before head were applied (or failed, and rc says so). */
    while (l->head < l->n && rc == 0 && (max == 0 || done < max)) {
        if (budget_ns != 0 && done > 0 && done % CLOCK_EVERY == 0 && mono_ns() - t0 >= budget_ns)
            break;
        /* The arena does not move during replay: nothing is appended meanwhile. */
        rc = apply(wtx, l->arena, &l->e[l->head], &b, &bname);
        l->head++;
        done++;
    }
    if (l->head == l->n) {
        l->head = l->n = 0; /* invariant 3 */
        l->used = 0;
    }
    return rc;
}

int backend__wlog_apply_deferred(const backend__wlog *l, bolt_tx *wtx)
{
    bolt_bucket *b = NULL;
    bolt_val bname = { NULL, 0 };
    int rc = 0;
    /* Loop invariant: entries before i were applied or deleted nothing. */
    for (size_t i = l->head; i < l->n && rc == 0; i++) {
        rc = apply(wtx, l->arena, &l->e[i], &b, &bname);
        if (rc == BACKEND_EBUCKETNOTFOUND || rc == BOLT_EINCOMPATIBLEVALUE)
            rc = 0; /* nothing there to delete (backend.h) */
    }
    return rc;
}

void backend__wlog_note_defrag(const backend__wlog *l, backend__defrag_log *dlog)
{
    for (size_t i = l->head; i < l->n; i++) {
        const wentry *e = &l->e[i];
        const unsigned char *p = l->arena + e->off;
        bolt_val key = { p + e_blen(e), e_klen(e) };
        backend__defrag_note(dlog, (bolt_val){ p, e_blen(e) }, &key);
    }
}
