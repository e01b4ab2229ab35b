/*
 * test_hash.c: mvcc/hash.c: the CRC-32C combination, HashKV's values from
 * docs/schema.md §8.2 and the script engineer's report, and a seeded random run
 * in which after every step the incremental HashKV, the scan and an
 * independent oracle (docs/schema.md §8.2's rules over the model's records)
 * agree, through compactions and reopens.
 */
#include "mvcc_test.h"

#include "kvpb.h"
#include "mvcc_int.h"
#include "revkey.h"

static void test_combine(void)
{
    uint64_t x = harness_seed();
    uint8_t buf[5000];
    for (size_t i = 0; i < sizeof buf; i++) {
        x = strata_splitmix64(x);
        buf[i] = (uint8_t)x;
    }
    for (int t = 0; t < 200; t++) {
        x = strata_splitmix64(x);
        size_t a = x % 2000;
        x = strata_splitmix64(x);
        size_t b = x % 3000;
        uint32_t ca = strata_crc32c(0, buf, a), cb = strata_crc32c(0, buf + a, b);
        uint32_t whole = strata_crc32c(0, buf, a + b);
        ASSERT_EQ_HEX(mvcc__crc32c_combine(ca, cb, b), whole);
    }
    ASSERT_EQ_HEX(mvcc__crc32c_combine(0x12345678, 0, 0), 0x12345678);
    ASSERT_EQ_HEX(mvcc__crc32c_combine(0, 0xabcdef01, 7), 0xabcdef01);
}

static uint32_t hashkv(mvcc_store *s, int64_t rev)
{
    mvcc_hash_kv h;
    ASSERT_OK(mvcc_store_hash_kv(s, rev, &h));
    return h.hash;
}

static void compact(mt_store *m, int64_t rev)
{
    ASSERT_OK(mvcc_store_compact(m->s, rev));
    ASSERT_OK(mvcc_store_compact_wait(m->s));
    ASSERT_OK(mvcc_store_commit(m->s));
}

/* The values the real etcd gives (docs/schema.md §8.2, ORACLE.md §4.2, BUGS-mvcc.md #1). */
static void test_etcd_values(void)
{
    mt_store m;
    mt_open(&m, "etcd1.db");
    mt_put(m.s, "a", "1");
    mt_del(m.s, "a", NULL);
    compact(&m, 3);
    ASSERT_EQ_U64(hashkv(m.s, 0), 1084519789u);
    uint32_t inc;
    ASSERT_OK(mvcc__hash_kv_incremental(m.s, &inc));
    ASSERT_EQ_U64(inc, 1084519789u);
    mt_close(&m);

    mt_open(&m, "etcd2.db");
    mt_put(m.s, "a", "1");
    compact(&m, 2);
    mt_del(m.s, "a", NULL);
    ASSERT_EQ_U64(hashkv(m.s, 0), 3520211144u);
    ASSERT_OK(mvcc__hash_kv_incremental(m.s, &inc));
    ASSERT_EQ_U64(inc, 3520211144u);
    mt_close(&m);

    mt_open(&m, "etcd3.db");
    mt_put(m.s, "a", "1");
    mt_put(m.s, "a", "2");
    compact(&m, 2);
    ASSERT_EQ_U64(hashkv(m.s, 0), 1483641527u);
    ASSERT_EQ_U64(hashkv(m.s, 3), 1483641527u);
    ASSERT_OK(mvcc__hash_kv_incremental(m.s, &inc));
    ASSERT_EQ_U64(inc, 1483641527u);
    mt_reopen(&m);
    ASSERT_EQ_U64(hashkv(m.s, 0), 1483641527u);
    /* errors carry etcd's values */
    mvcc_hash_kv h;
    ASSERT_RC(mvcc_store_hash_kv(m.s, 2, &h), MVCC_ECOMPACTED);
    ASSERT_EQ_INT(h.compact_rev, 2);
    ASSERT_EQ_INT(h.current_rev, 0);
    ASSERT_RC(mvcc_store_hash_kv(m.s, 4, &h), MVCC_EFUTUREREV);
    ASSERT_EQ_INT(h.current_rev, 3);
    ASSERT_EQ_INT(h.compact_rev, 0);
    /* a negative revision hashes the bucket name alone */
    ASSERT_OK(mvcc_store_hash_kv(m.s, -3, &h));
    ASSERT_EQ_U64(h.hash, strata_crc32c(0, "key", 3));
    mt_close(&m);
}

/* ---- the oracle: docs/schema.md §8.2 over the model's records ------------------------ */

typedef struct oracle {
    mt_model md;
    bool *present; /* per change: still in the bucket */
    size_t cap;
} oracle;

static void oracle_sync(oracle *o)
{
    if (o->cap < o->md.n) {
        size_t ncap = o->md.cap;
        o->present = realloc(o->present, ncap * sizeof *o->present);
        for (size_t i = o->cap; i < ncap; i++)
            o->present[i] = true;
        o->cap = ncap;
    }
}

/* The physical compaction at c: keep each key's newest record <= c if it is a put. */
static void oracle_compact(oracle *o, int64_t c)
{
    oracle_sync(o);
    for (size_t i = 0; i < o->md.n; i++) {
        const mt_change *ch = &o->md.c[i];
        if (ch->main > c || !o->present[i])
            continue;
        const mt_change *newest = mt_model_at(&o->md, ch->key, c);
        if (newest != ch || ch->value == NULL)
            o->present[i] = false;
    }
    o->md.compact = c;
}

static uint32_t oracle_hash(oracle *o, int64_t rev)
{
    oracle_sync(o);
    mt_model *md = &o->md;
    uint32_t crc = strata_crc32c(0, "key", 3);
    bool keep_nonempty = false;
    for (size_t i = 0; i < md->n && !keep_nonempty; i++)
        keep_nonempty = mt_model_alive(md, md->c[i].key, rev);
    for (size_t i = 0; i < md->n; i++) {
        const mt_change *ch = &md->c[i];
        if (!o->present[i] || ch->main > rev)
            continue;
        if (ch->main <= md->compact && keep_nonempty) {
            const mt_change *newest = mt_model_at(md, ch->key, rev);
            if (newest != ch || ch->value == NULL)
                continue;
        }
        uint8_t rk[MVCC__REVKEY_TOMB_LEN];
        size_t rkl = mvcc__revkey_encode((idx_rev){ ch->main, ch->sub }, ch->value == NULL, rk);
        mvcc__kv kv = ch->value == NULL ? mvcc__kv_tombstone(ch->key, strlen(ch->key))
                                        : (mvcc__kv){ .key = (const uint8_t *)ch->key,
                                                      .key_len = strlen(ch->key),
                                                      .create_revision = ch->create,
                                                      .mod_revision = ch->main,
                                                      .version = ch->ver,
                                                      .value = (const uint8_t *)ch->value,
                                                      .value_len = strlen(ch->value) };
        uint8_t val[256];
        size_t vl;
        ASSERT_OK(mvcc__kv_encode(&kv, val, sizeof val, &vl));
        crc = strata_crc32c(crc, rk, rkl);
        crc = strata_crc32c(crc, val, vl);
    }
    return crc;
}

/* Random writes, compactions and reopens; three computations agree after each step. */
static void test_random_against_oracle(void)
{
    uint64_t x = harness_seed();
    mt_store m;
    mt_opts(&m);
    m.mo.compaction_batch_limit = 5; /* many batches */
    mt_open_with(&m, "hrandom.db");
    oracle o = { 0 };
    mt_model_init(&o.md);
    char key[16], val[32];
    int incremental = 0;
    for (int step = 0; step < 1200; step++) {
        x = strata_splitmix64(x);
        int op = (int)(x % 20);
        x = strata_splitmix64(x);
        snprintf(key, sizeof key, "k%02d", (int)(x % 12));
        snprintf(val, sizeof val, "v%d", step);
        if (op < 9) {
            mt_put(m.s, key, val);
            mt_model_change(&o.md, o.md.rev + 1, 0, key, val);
            o.md.rev++;
        } else if (op < 12) {
            if (mt_del(m.s, key, NULL) > 0) {
                mt_model_change(&o.md, o.md.rev + 1, 0, key, NULL);
                o.md.rev++;
            }
        } else if (op < 14) {
            mvcc_txn *t;
            ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
            ASSERT_OK(mvcc_txn_put(t, key, strlen(key), val, strlen(val), 0, NULL));
            mt_model_change(&o.md, o.md.rev + 1, 0, key, val);
            ASSERT_OK(mvcc_txn_put(t, key, strlen(key), "w", 1, 0, NULL));
            mt_model_change(&o.md, o.md.rev + 1, 1, key, "w");
            if (op == 13) {
                ASSERT_OK(mvcc_txn_delete_range(t, key, strlen(key), NULL, 0, NULL, NULL));
                mt_model_change(&o.md, o.md.rev + 1, 2, key, NULL);
            }
            ASSERT_OK(mvcc_txn_end(t, NULL));
            o.md.rev++;
        } else if (op < 16) {
            x = strata_splitmix64(x);
            int64_t lo = o.md.compact + 1;
            if (lo <= o.md.rev) {
                int64_t c = lo + (int64_t)(x % (uint64_t)(o.md.rev - lo + 1));
                compact(&m, c);
                oracle_compact(&o, c);
            }
        } else if (op < 17) {
            mt_reopen(&m);
        }
        ASSERT_EQ_INT(mvcc_store_rev(m.s), o.md.rev);
        uint32_t want = oracle_hash(&o, o.md.rev);
        ASSERT_EQ_U64(hashkv(m.s, 0), want);
        uint32_t scan, inc;
        ASSERT_OK(mvcc__hash_kv_scan(m.s, 0, &scan));
        ASSERT_EQ_U64(scan, want);
        if (mvcc__hash_kv_incremental(m.s, &inc) == 0) {
            ASSERT_EQ_U64(inc, want);
            incremental++;
        }
        /* an older revision, by the scan */
        x = strata_splitmix64(x);
        if (o.md.rev > o.md.compact) {
            int64_t r = o.md.compact + 1 + (int64_t)(x % (uint64_t)(o.md.rev - o.md.compact));
            if (r >= 1)
                ASSERT_EQ_U64(hashkv(m.s, r), oracle_hash(&o, r));
        }
    }
    /* Every step but none: the incremental state answered after every write and compaction. */
    ASSERT_EQ_INT(incremental, 1200);
    free(o.present);
    mt_model_free(&o.md);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_combine);
    RUN(test_etcd_values);
    RUN(test_random_against_oracle);
    return 0;
}
