/*
 * shrink_bench.c: file size after B1, B6 and then deleting the upper half
 * of the key space (issue 18), strata against LMDB, no defrag.
 *
 *   cc -O2 -Iinclude tools/bench/shrink_bench.c -Lbuild/t -lstrata -llmdb \
 *      -Wl,-rpath,$PWD/build/t -o build/shrink_bench
 *   build/shrink_bench N DIR
 *
 * B1: keys key8(i), i < N, in order, 100-byte values, 10,000 puts per
 * transaction; B6: delete every even key, 10,000 per transaction; U: delete
 * every key >= N/2, 10,000 per transaction, then two empty commits (a
 * commit's freed pages are reusable from the next one, and strata cuts the
 * file one commit after it lowers its mark). Prints the file size after
 * each phase. SKIP_B6=1 (strata only) deletes the upper half right after
 * B1; SHRINK_THRESHOLD=BYTES sets strata's threshold (default: the
 * library's). Commits skip the sync (sizes do not depend on it). bbolt
 * never shrinks a file (it only grows: B1/B6 sizes in docs/bench-bolt.md).
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <strata/bolt.h>

static double mib(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : -1;
}

static void key8(uint64_t i, unsigned char k[8])
{
    for (int j = 0; j < 8; j++)
        k[j] = (unsigned char)(i >> (56 - 8 * j));
}

#define CHECK(x)                                                             \
    do {                                                                     \
        int rc_ = (x);                                                       \
        if (rc_ != 0) {                                                      \
            fprintf(stderr, "%s:%d: %s: %d\n", __FILE__, __LINE__, #x, rc_); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

typedef int (*op_fn)(void *ctx, uint64_t i);

/* ---- strata ---- */
typedef struct {
    bolt_db *db;
    bolt_tx *tx;
    bolt_bucket *b;
} sctx;

static void s_begin(sctx *s)
{
    CHECK(bolt_tx_begin(s->db, BOLT_TX_WRITE, &s->tx));
    CHECK(bolt_bucket_create_if_not_exists(bolt_tx_root(s->tx), bolt_str("b"), &s->b));
}

static void s_phase(sctx *s, uint64_t from, uint64_t to, uint64_t step, int put)
{
    static unsigned char v[100];
    uint64_t n = 0;
    s_begin(s);
    for (uint64_t i = from; i < to; i += step) {
        unsigned char k[8];
        key8(i, k);
        if (put)
            CHECK(bolt_bucket_put(s->b, (bolt_val){ k, 8 }, (bolt_val){ v, 100 }));
        else
            CHECK(bolt_bucket_delete(s->b, (bolt_val){ k, 8 }));
        if (++n % 10000 == 0) {
            CHECK(bolt_tx_commit(s->tx));
            s_begin(s);
        }
    }
    CHECK(bolt_tx_commit(s->tx));
}

static void run_strata(uint64_t n, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/shrink-strata.db", dir);
    remove(path);
    bolt_options o;
    bolt_options_init(&o);
    o.no_sync = true;
    o.shrink_threshold =
            getenv("SHRINK_THRESHOLD") ? strtoull(getenv("SHRINK_THRESHOLD"), NULL, 10) : 0;
    sctx s = { 0 };
    CHECK(bolt_open(path, &o, &s.db));
    s_phase(&s, 0, n, 1, 1);
    printf("strata B1 %.1f MiB\n", mib(path));
    uint64_t step = getenv("SKIP_B6") ? 1 : 2;
    if (step == 2) {
        s_phase(&s, 0, n, 2, 0);
        printf("strata B6 %.1f MiB\n", mib(path));
    }
    s_phase(&s, n / 2 + (step == 2), n, step, 0);
    s_begin(&s);
    CHECK(bolt_tx_commit(s.tx));
    s_begin(&s);
    CHECK(bolt_tx_commit(s.tx));
    printf("strata upper-half-deleted %.1f MiB\n", mib(path));
    CHECK(bolt_close(s.db));
}

/* ---- LMDB ---- */
static void run_lmdb(uint64_t n, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/shrink-lmdb.mdb", dir);
    remove(path);
    char lock[4200];
    snprintf(lock, sizeof lock, "%s-lock", path);
    remove(lock);
    MDB_env *env;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_mapsize(env, (size_t)64 << 30));
    CHECK(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0600));
    static unsigned char v[100];
    for (int phase = 0; phase < 3; phase++) {
        uint64_t from = phase == 2 ? n / 2 + 1 : 0, step = phase == 0 ? 1 : 2, cnt = 0;
        MDB_txn *t;
        MDB_dbi dbi;
        CHECK(mdb_txn_begin(env, NULL, 0, &t));
        CHECK(mdb_dbi_open(t, NULL, 0, &dbi));
        for (uint64_t i = from; i < n; i += step) {
            unsigned char k[8];
            key8(i, k);
            MDB_val mk = { 8, k }, mv = { 100, v };
            if (phase == 0)
                CHECK(mdb_put(t, dbi, &mk, &mv, 0));
            else
                CHECK(mdb_del(t, dbi, &mk, NULL));
            if (++cnt % 10000 == 0) {
                CHECK(mdb_txn_commit(t));
                CHECK(mdb_txn_begin(env, NULL, 0, &t));
            }
        }
        CHECK(mdb_txn_commit(t));
        for (int e = 0; phase == 2 && e < 2; e++) {
            CHECK(mdb_txn_begin(env, NULL, 0, &t));
            CHECK(mdb_txn_commit(t));
        }
        printf("lmdb %s %.1f MiB\n",
               phase == 0   ? "B1"
               : phase == 1 ? "B6"
                            : "upper-half-deleted",
               mib(path));
    }
    mdb_env_close(env);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: shrink_bench N DIR\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10);
    run_strata(n, argv[2]);
    run_lmdb(n, argv[2]);
    return 0;
}
