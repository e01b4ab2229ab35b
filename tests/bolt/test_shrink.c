/*
 * test_shrink.c: files that shrink by themselves (tx.c rule 6) and the
 * low-id allocation policy that feeds them (freelist.c):
 *   - the freelist's tail run, trim and untrim, both kinds;
 *   - deleting the upper half of the keys shrinks the file (both freelist
 *     kinds, with and without a stored freelist), every key left is read
 *     back after a reopen, the check is clean, rewrites work after it;
 *   - a read transaction older than the shrink keeps its pages: the
 *     truncation waits for the first commit after it ends;
 *   - no_shrink and the default threshold leave a small file alone;
 *   - a process killed at each step of a shrink leaves a file that opens
 *     with every committed transaction;
 *   - a live reader in another process (no lock, no registration) reading
 *     against a writer that shrinks the file again and again never dies of
 *     SIGBUS, and every read it verifies is a committed state.
 */
#include "bolt_test.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bolt/bolt_int.h"

/* ---- the freelist's tail -------------------------------------------------- */

static void test_tail_trim_untrim(void)
{
    for (int kind = 0; kind < 2; kind++) {
        bolt__freelist *f;
        ASSERT_OK(bolt__freelist_new((bolt__freelist_kind)kind, &f));
        const bolt_pgid ids[] = { 2, 3, 7, 8, 9 };
        ASSERT_OK(bolt__freelist_load_ids(f, ids, 5, 10));
        ASSERT_EQ_SIZE(bolt__freelist_tail_run(f, 10), 3);
        ASSERT_EQ_SIZE(bolt__freelist_tail_run(f, 11), 0); /* 10 is in use */
        bolt__freelist_trim(f, 10, 2);                     /* cut 8, 9; 7 stays */
        ASSERT_TRUE(bolt__freelist_ok(f));
        ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 3);
        ASSERT_FALSE(bolt__freelist_freed(f, 8));
        ASSERT_TRUE(bolt__freelist_freed(f, 7));
        ASSERT_EQ_SIZE(bolt__freelist_tail_run(f, 8), 1);
        bolt__freelist_untrim(f, 8, 2);
        ASSERT_TRUE(bolt__freelist_ok(f));
        ASSERT_EQ_SIZE(bolt__freelist_tail_run(f, 10), 3);
        /* A pending id at the end is not part of the tail. */
        ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 1), 2); /* low ids first */
        ASSERT_OK(bolt__freelist_free_run(f, 5, 10, 0, false));
        ASSERT_EQ_SIZE(bolt__freelist_tail_run(f, 11), 0);
        bolt__freelist_free(f);
    }
}

/* ---- shrinking files -------------------------------------------------------- */

#define NKEYS   20000
#define VALSIZE 100

static uint64_t file_size(const char *path)
{
    struct stat st;
    ASSERT_OK(stat(path, &st));
    return (uint64_t)st.st_size;
}

static void key_of(unsigned i, unsigned char k[8])
{
    for (int j = 0; j < 8; j++)
        k[j] = (unsigned char)((uint64_t)i >> (56 - 8 * j));
}

static void value_of(unsigned i, unsigned gen, unsigned char v[VALSIZE])
{
    for (int j = 0; j < VALSIZE; j++)
        v[j] = (unsigned char)(i * 7 + (unsigned)j + gen * 13);
}

/* Put keys [lo, hi) in commits of 2000. */
static void fill(bolt_db *db, unsigned lo, unsigned hi, unsigned gen)
{
    for (unsigned i = lo; i < hi;) {
        bolt_tx *tx;
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("data"), &b));
        for (unsigned end = i + 2000 < hi ? i + 2000 : hi; i < end; i++) {
            unsigned char k[8], v[VALSIZE];
            key_of(i, k);
            value_of(i, gen, v);
            ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ v, VALSIZE }));
        }
        ASSERT_OK(bolt_tx_commit(tx));
    }
}

/* Delete keys [lo, hi) in one transaction. */
static void drop(bolt_db *db, unsigned lo, unsigned hi)
{
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("data"), &b));
    for (unsigned i = lo; i < hi; i++) {
        unsigned char k[8];
        key_of(i, k);
        ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ k, 8 }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

/* A commit with no change. */
static void touch(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_commit(tx));
}

/*
 * The two commits after a big delete: the pages a commit frees are pending
 * until the next write transaction begins (a reader that began before it
 * may walk them), so the first lowers the mark; the older meta slot still
 * names the old mark until the second replaces it, which cuts the file.
 */
static void settle(bolt_db *db)
{
    touch(db);
    touch(db);
}

/* Every key of [0, n) with generation gen's value, and nothing else. */
static void expect_keys(bolt_db *db, unsigned n, unsigned gen)
{
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_cursor *c;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("data"), &b));
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val k, v;
    unsigned i = 0;
    for (int rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v), i++) {
        unsigned char kk[8], vv[VALSIZE];
        key_of(i, kk);
        value_of(i, gen, vv);
        ASSERT_EQ_MEM(k.data, k.size, kk, 8);
        ASSERT_EQ_MEM(v.data, v.size, vv, VALSIZE);
    }
    ASSERT_EQ_INT(i, n);
    bolt_tx_rollback(tx);
}

static bolt_options shrink_opts(int kind, bool nofl)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 64u << 20;
    o.freelist_type = kind ? BOLT_FREELIST_HASHMAP : BOLT_FREELIST_ARRAY;
    o.no_freelist_sync = nofl;
    o.shrink_threshold = 64 * 1024;
    return o;
}

static void test_delete_upper_half_shrinks(void)
{
    for (int kind = 0; kind < 2; kind++) {
        for (int nofl = 0; nofl < 2; nofl++) {
            char p[8192], name[64];
            snprintf(name, sizeof name, "half-%d-%d.db", kind, nofl);
            harness_path(p, sizeof p, name);
            bolt_options o = shrink_opts(kind, nofl != 0);
            bolt_db *db;
            ASSERT_OK(bolt_open(p, &o, &db));
            fill(db, 0, NKEYS, 0);
            uint64_t full = file_size(p);
            drop(db, NKEYS / 2, NKEYS);
            settle(db);
            uint64_t half = file_size(p);
            printf("  %s freelist%s: %llu -> %llu bytes\n", kind ? "hashmap" : "array",
                   nofl ? " not stored" : "", (unsigned long long)full, (unsigned long long)half);
            /* The leaves of the upper half were at the tail: about half goes. */
            ASSERT_TRUE(half * 10 < full * 7);
            bolt_tx *tx;
            ASSERT_OK(bolt_tx_begin(db, 0, &tx));
            ASSERT_EQ_U64(bolt_tx_size(tx), half); /* truncated to the high-water mark */
            bolt_tx_rollback(tx);
            bt_check(db);
            expect_keys(db, NKEYS / 2, 0);
            ASSERT_OK(bolt_close(db));

            /* Reopen: the same keys, and the file takes rewrites. */
            ASSERT_OK(bolt_open(p, &o, &db));
            bt_check(db);
            expect_keys(db, NKEYS / 2, 0);
            fill(db, 0, NKEYS / 2, 1); /* rewrite every value: pages move */
            expect_keys(db, NKEYS / 2, 1);
            bt_check(db);
            ASSERT_OK(bolt_close(db));
        }
    }
}

static void test_reader_delays_truncation(void)
{
    char p[8192];
    harness_path(p, sizeof p, "reader.db");
    bolt_options o = shrink_opts(0, false);
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    fill(db, 0, NKEYS, 0);
    uint64_t full = file_size(p);
    bolt_tx *old;
    ASSERT_OK(bolt_tx_begin(db, 0, &old));
    drop(db, NKEYS / 2, NKEYS);
    /* Nothing is free yet (the reader sees the old pages): no shrink at all. */
    ASSERT_EQ_U64(file_size(p), full);
    drop(db, 0, 1); /* releases nothing: the reader still sees those pages */
    ASSERT_EQ_U64(file_size(p), full);
    /* The old reader still reads all its keys, pages past any new end included. */
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(old, bolt_str("data"), &b));
    for (unsigned i = 0; i < NKEYS; i += 97) {
        unsigned char k[8], v[VALSIZE];
        key_of(i, k);
        value_of(i, 0, v);
        bolt_val got;
        ASSERT_OK(bolt_bucket_get(b, (bolt_val){ k, 8 }, &got));
        ASSERT_EQ_MEM(got.data, got.size, v, VALSIZE);
    }
    /* A reader that begins after the drops, and one that began before. */
    bolt_tx *mid;
    ASSERT_OK(bolt_tx_begin(db, 0, &mid));
    bolt_tx_rollback(old);
    /*
     * Now the dropped pages are released at the next commit's begin, but
     * the commits made while `old` pinned them took new pages at the top of
     * the file (nothing else was free), and a page in use at the top blocks
     * the cut until it is rewritten lower: the file is not cut yet. (The
     * deferred truncation itself: test_truncation_waits_for_reader.)
     */
    drop(db, 1, 2);
    ASSERT_OK(bolt_tx_bucket(mid, bolt_str("data"), &b));
    unsigned char k[8];
    key_of(5, k);
    bolt_val got;
    ASSERT_OK(bolt_bucket_get(b, (bolt_val){ k, 8 }, &got));
    bolt_tx_rollback(mid);
    touch(db);
    ASSERT_TRUE(file_size(p) <= full);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

/*
 * The shrink commit itself while an older reader is open (one that began
 * during it, on the meta before it): the high-water mark drops, the
 * truncation waits for that reader, whose pages stay readable.
 */
static void test_truncation_waits_for_reader(void)
{
    char p[8192];
    harness_path(p, sizeof p, "wait.db");
    bolt_options o = shrink_opts(1, false);
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    fill(db, 0, NKEYS, 0);
    uint64_t full = file_size(p);
    drop(db, NKEYS / 2, NKEYS);
    bolt_tx *w, *old;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &w)); /* releases the dropped pages */
    ASSERT_OK(bolt_tx_begin(db, 0, &old));           /* older than w's commit */
    ASSERT_OK(bolt_tx_bucket(w, bolt_str("data"), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("x"), bolt_str("y")));
    ASSERT_OK(bolt_tx_commit(w));
    bolt_tx *now;
    ASSERT_OK(bolt_tx_begin(db, 0, &now));
    uint64_t hwm = bolt_tx_size(now);
    bolt_tx_rollback(now);
    ASSERT_TRUE(hwm * 10 < full * 7);  /* the mark dropped... */
    ASSERT_EQ_U64(file_size(p), full); /* ...the file waits for `old` */
    ASSERT_OK(bolt_tx_bucket(old, bolt_str("data"), &b));
    for (unsigned i = 0; i < NKEYS / 2; i += 37) {
        unsigned char k[8], v[VALSIZE];
        key_of(i, k);
        value_of(i, 0, v);
        bolt_val got;
        ASSERT_OK(bolt_bucket_get(b, (bolt_val){ k, 8 }, &got));
        ASSERT_EQ_MEM(got.data, got.size, v, VALSIZE);
    }
    touch(db); /* still open: still waits */
    ASSERT_EQ_U64(file_size(p), full);
    bolt_tx_rollback(old);
    touch(db);
    ASSERT_TRUE(file_size(p) * 10 < full * 7);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_off_and_default(void)
{
    for (int mode = 0; mode < 2; mode++) {
        char p[8192];
        harness_path(p, sizeof p, mode ? "default.db" : "off.db");
        bolt_options o = shrink_opts(0, false);
        if (mode == 0)
            o.no_shrink = true;
        else
            o.shrink_threshold = 0; /* default: at least 64 MiB at the tail */
        bolt_db *db;
        ASSERT_OK(bolt_open(p, &o, &db));
        fill(db, 0, NKEYS, 0);
        uint64_t full = file_size(p);
        drop(db, NKEYS / 2, NKEYS);
        settle(db);
        ASSERT_EQ_U64(file_size(p), full);
        bt_check(db);
        ASSERT_OK(bolt_close(db));
    }
}

/* ---- a process killed during a shrink --------------------------------------- */

#if STRATA_FAILPOINTS
static const char *kill_at;

static int kill_hook(const char *name)
{
    if (strcmp(name, kill_at) == 0)
        raise(SIGKILL);
    return 0;
}
#endif

static void test_kill_during_shrink(void)
{
#if STRATA_FAILPOINTS
    /* Before the meta write (old state), after it (new state; the shrink's own steps). */
    const char *points[] = { "before_meta_write", "before_meta_sync", "before_truncate" };
    for (size_t pi = 0; pi < sizeof points / sizeof points[0]; pi++) {
        char p[8192], name[64];
        snprintf(name, sizeof name, "kill-%zu.db", pi);
        harness_path(p, sizeof p, name);
        bolt_options o = shrink_opts((int)pi % 2, false);
        o.no_sync = false;
        bolt_db *db;
        ASSERT_OK(bolt_open(p, &o, &db));
        fill(db, 0, NKEYS, 0);
        uint64_t full = file_size(p);
        drop(db, NKEYS / 2, NKEYS); /* the next commit shrinks */
        bolt_tx *rt;
        ASSERT_OK(bolt_tx_begin(db, 0, &rt));
        uint64_t hwm = bolt_tx_size(rt);
        bolt_tx_rollback(rt);
        ASSERT_OK(bolt_close(db));

        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            static struct bolt_os os;
            os = *bolt__os_default();
            os.failpoint = kill_hook;
            kill_at = points[pi];
            bolt_options co = o;
            co.os = &os;
            if (bolt_open(p, &co, &db) != 0)
                _exit(10);
            bolt_tx *tx;
            bolt_bucket *b;
            if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0 ||
                bolt_tx_bucket(tx, bolt_str("data"), &b) != 0 ||
                bolt_bucket_put(b, bolt_str("shrink"), bolt_str("commit")) != 0)
                _exit(11);
            if (bolt_tx_commit(tx) != 0 || bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0)
                _exit(12);
            bolt_tx_commit(tx); /* the cut, if the shrink's own commit did not reach it */
            _exit(13);          /* not reached: the hook kills */
        }
        int status;
        ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ASSERT_OK(bolt_open(p, &o, &db));
        bt_check(db);
        /* The meta was written before those points (a kill loses nothing the kernel has). */
        bool committed = pi >= 1;
        bolt_tx *tx;
        bolt_bucket *b;
        bolt_val v;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("data"), &b));
        ASSERT_RC(bolt_bucket_get(b, bolt_str("shrink"), &v), committed ? 0 : BOLT_NOTFOUND);
        ASSERT_EQ_U64(bolt_tx_size(tx) < hwm, committed); /* the mark dropped with it */
        bolt_tx_rollback(tx);
        if (pi == 2)
            ASSERT_EQ_U64(file_size(p), full); /* killed before the cut: still long */
        /* And the reopened file takes writes. */
        touch(db);
        fill(db, 0, 100, 3);
        bt_check(db);
        ASSERT_OK(bolt_close(db));
    }
#else
    printf("  (failpoints not compiled in: skipped)\n");
#endif
}

/* ---- a live reader of another process against a shrinking writer ------------ */

#define LIVE_KEYS   8000
#define LIVE_ROUNDS 400

/*
 * The reader: LIVE_ROUNDS verified reads; each counts the keys of "data",
 * which every commit of the writer leaves at LIVE_KEYS / 2 + 2000 j.
 * Exit 0, or 3 when a verified read saw anything else.
 */
static int live_reader(const char *path)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 64u << 20;
    o.read_only = true;
    o.live = true;
    bolt_db *db;
    if (bolt_open(path, &o, &db) != 0)
        return 10;
    unsigned verified = 0, restarts = 0;
    while (verified < LIVE_ROUNDS) {
        bolt_tx *tx;
        int rc = bolt_tx_begin(db, 0, &tx);
        if (rc == BOLT_ECORRUPT) { /* metas read against an older file size: again */
            restarts++;
            continue;
        }
        if (rc == BOLT_ELIVECHANGED) { /* outgrew the reserved map: reopen */
            bolt_close(db);
            if (bolt_open(path, &o, &db) != 0)
                return 11;
            restarts++;
            continue;
        }
        if (rc != 0)
            return 12;
        bolt_bucket *b;
        bolt_cursor *c;
        unsigned n = 0;
        rc = bolt_tx_bucket(tx, bolt_str("data"), &b);
        if (rc == 0)
            rc = bolt_cursor_open(b, &c);
        if (rc == 0) {
            bolt_val k, v;
            for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v))
                n++;
            if (rc == BOLT_NOTFOUND)
                rc = 0;
        }
        int vr = bolt_tx_live_verify(tx);
        bolt_tx_rollback(tx);
        if (vr == 0 && rc == 0) {
            if (n % 2000 != 0 || n < LIVE_KEYS / 2 || n > LIVE_KEYS)
                return 3; /* not a committed state */
            verified++;
        } else {
            restarts++; /* a commit landed meanwhile, or the file moved: read again */
        }
    }
    bolt_close(db);
    printf("  live reader: %u verified reads, %u restarts\n", verified, restarts);
    return 0;
}

static void test_live_reader_never_sigbus(void)
{
    char p[8192];
    harness_path(p, sizeof p, "live.db");
    bolt_options o = shrink_opts(0, false);
    o.shrink_threshold = 64 * 1024;
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    fill(db, 0, LIVE_KEYS, 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0)
        _exit(live_reader(p));
    /* The writer: drop and refill the upper half until the reader is done. */
    int status = 0;
    unsigned cycles = 0, shrinks = 0;
    uint64_t prev = file_size(p);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        ASSERT_TRUE(w >= 0);
        if (w == pid)
            break;
        ASSERT_TRUE(cycles < 100000);
        drop(db, LIVE_KEYS / 2, LIVE_KEYS);
        settle(db); /* the drop's pages are released and cut */
        if (file_size(p) < prev)
            shrinks++;
        fill(db, LIVE_KEYS / 2, LIVE_KEYS, 0);
        prev = file_size(p);
        cycles++;
    }
    printf("  writer: %u cycles, %u shrinks\n", cycles, shrinks);
    if (WIFSIGNALED(status))
        fprintf(stderr, "live reader killed by signal %d\n", WTERMSIG(status));
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    ASSERT_TRUE(shrinks > 0);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_tail_trim_untrim);
    RUN(test_delete_upper_half_shrinks);
    RUN(test_reader_delays_truncation);
    RUN(test_truncation_waits_for_reader);
    RUN(test_off_and_default);
    RUN(test_kill_during_shrink);
    RUN(test_live_reader_never_sigbus);
    return 0;
}
