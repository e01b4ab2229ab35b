/*
 * test_crash.c: a store killed in the middle of its work reopens with
 * every acknowledged revision, the HashKV it had, and a compaction that
 * was accepted resumed to its end.
 *
 * A child process runs one workload over a copy of a base db, with bolt's
 * I/O table replaced so that it kills itself with SIGKILL before or after
 * its k-th write, sync or growth call (the backend commits every
 * millisecond meanwhile, so commits fall between puts and between
 * compaction batches). It reports each acknowledgement (a commit, a
 * compaction accepted, a defrag that returned) through a pipe. The parent
 * reopens the db with the real I/O and compares it with a reference store
 * that ran the same workload without a crash:
 *   puts     every revision acknowledged is there, with the reference's
 *            ranges and HashKV at that revision;
 *   compact  an accepted compaction (the call returned) is in force after
 *            reopen and finishes (resumed), leaving the reference's records
 *            and HashKV; one not acknowledged is either in force or absent,
 *            never half;
 *   defrag   the revisions before it are all there, the same HashKV.
 * k runs over the I/O calls in steps (every one for defrag, every second
 * for the compaction, every fifth for the puts) until the child finishes
 * without being killed.
 */
#include "mvcc_test.h"

#include "crash_os.h"

#define BASE_PUTS  600
#define BASE_KEYS  60
#define CHILD_PUTS 300
#define COMPACT_AT 500

static char base_path[4096], work_path[4096];

/* The i-th write of the whole history (base, then child): put or delete. */
static int apply_op(mvcc_store *s, int i)
{
    char k[16], v[32];
    uint64_t x = strata_splitmix64((uint64_t)i + 1000);
    snprintf(k, sizeof k, "key-%03d", (int)(x % BASE_KEYS));
    if (x % 7 == 0)
        return mvcc_store_delete_range(s, k, strlen(k), NULL, 0, NULL, NULL);
    snprintf(v, sizeof v, "value-%d-%llu", i, (unsigned long long)(x >> 40));
    return mvcc_store_put(s, k, strlen(k), v, strlen(v), 0, NULL);
}

static void make_base(void)
{
    mt_store m;
    mt_open(&m, "base.db");
    for (int i = 0; i < BASE_PUTS; i++)
        ASSERT_OK(apply_op(m.s, i));
    snprintf(base_path, sizeof base_path, "%s", m.path);
    mt_close(&m);
    harness_path(work_path, sizeof work_path, "work.db");
}

typedef enum workload { W_PUTS, W_COMPACT, W_DEFRAG } workload;

/* The child: open over work_path with the crash I/O, run w, report acks; never returns. */
static void child(workload w, int fd)
{
    backend_options bo;
    backend_options_init(&bo);
    bo.mmap_reserve = 256u << 20;
    bo.batch_interval_ns = 1000000; /* commits between puts and batches */
    bolt_options bolt;
    backend_bolt_options_init(&bolt);
    bolt.os = crash_os();
    bo.bolt = &bolt;
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.compaction_batch_limit = 25;
    mo.compaction_pause_ns = 300000; /* batches span several commits */
    backend *be;
    mvcc_store *s;
    if (backend_open(work_path, &bo, &be) != 0)
        _exit(3);
    if (mvcc_store_open(be, &mo, &s) != 0)
        _exit(4);
    crash.armed = true;
    int64_t ack;
    switch (w) {
    case W_PUTS:
        for (int i = 0; i < CHILD_PUTS; i++) {
            if (apply_op(s, BASE_PUTS + i) != 0)
                _exit(5);
            if (i % 10 == 9) {
                if (mvcc_store_commit(s) != 0)
                    _exit(6);
                ack = mvcc_store_rev(s);
                if (write(fd, &ack, sizeof ack) != sizeof ack)
                    _exit(7);
            }
        }
        break;
    case W_COMPACT:
        if (mvcc_store_compact(s, COMPACT_AT) != 0)
            _exit(5);
        ack = 1;
        if (write(fd, &ack, sizeof ack) != sizeof ack)
            _exit(7);
        if (mvcc_store_compact_wait(s) != 0 || mvcc_store_commit(s) != 0)
            _exit(6);
        break;
    case W_DEFRAG:
        for (int i = 0; i < 20; i++)
            if (apply_op(s, BASE_PUTS + i) != 0)
                _exit(5);
        if (mvcc_store_commit(s) != 0)
            _exit(6);
        ack = mvcc_store_rev(s);
        if (write(fd, &ack, sizeof ack) != sizeof ack)
            _exit(7);
        if (mvcc_store_defrag(s, NULL) != 0)
            _exit(8);
        ack = -ack;
        if (write(fd, &ack, sizeof ack) != sizeof ack)
            _exit(7);
        break;
    }
    crash.armed = false;
    if (mvcc_store_close(s) != 0 || backend_close(be) != 0)
        _exit(9);
    _exit(0);
}

/* Run the child killed at the chosen site; *acks gets its acknowledgements. */
static bool run_child(workload w, int64_t *acks, size_t *nacks)
{
    int p[2];
    ASSERT_EQ_INT(pipe(p), 0);
    pid_t pid = crash_fork();
    if (pid == 0) {
        close(p[0]);
        child(w, p[1]);
    }
    close(p[1]);
    *nacks = 0;
    int64_t v;
    while (read(p[0], &v, sizeof v) == sizeof v)
        acks[(*nacks)++] = v;
    close(p[0]);
    return crash_wait(pid);
}

static uint32_t hash_at(mvcc_store *s, int64_t rev)
{
    mvcc_hash_kv h;
    ASSERT_OK(mvcc_store_hash_kv(s, rev, &h));
    return h.hash;
}

/* The db after the crash against the reference at revisions [from, to]. */
static void same_as(mvcc_store *got, mvcc_store *want, int64_t from, int64_t to, const char *what)
{
    mt_text a, b;
    for (int64_t r = from; r <= to; r += 13) {
        const char *x = mt_range(got, "", "", r, &a), *y = mt_range(want, "", "", r, &b);
        /* the reference may be ahead: compare the kvs, not the header's revision */
        x = strchr(x, ' ');
        y = strchr(y, ' ');
        if (strcmp(x, y) != 0)
            fprintf(stderr, "%s: rev %" PRId64 " differs\n", what, r);
        ASSERT_EQ_STR(x, y);
    }
    ASSERT_EQ_U64(hash_at(got, to), hash_at(want, to));
}

static void test_puts(void)
{
    mt_store ref;
    mt_open(&ref, "ref_puts.db");
    for (int i = 0; i < BASE_PUTS + CHILD_PUTS; i++)
        ASSERT_OK(apply_op(ref.s, i));
    int64_t acks[CHILD_PUTS];
    size_t nacks;
    unsigned crashes = 0;
    for (int after = 0; after < 2; after++) {
        for (unsigned k = 1 + (unsigned)after;; k += 5) {
            crash_copy_file(base_path, work_path);
            crash_at(k, after);
            bool killed = run_child(W_PUTS, acks, &nacks);
            mt_store m;
            mt_opts(&m);
            harness_path(m.path, sizeof m.path, "work.db");
            ASSERT_OK(backend_open(m.path, &m.bo, &m.be));
            ASSERT_OK(mvcc_store_open(m.be, &m.mo, &m.s));
            int64_t last = nacks ? acks[nacks - 1] : mvcc_store_rev(m.s);
            ASSERT_TRUE(mvcc_store_rev(m.s) >= last);
            char what[64];
            snprintf(what, sizeof what, "puts, %s I/O call %u", after ? "after" : "before", k);
            same_as(m.s, ref.s, 2, mvcc_store_rev(m.s), what);
            mt_close(&m);
            if (!killed)
                break;
            crashes++;
            ASSERT_TRUE(k < 5000);
        }
    }
    ASSERT_TRUE(crashes >= 10);
    printf("puts: %u crashes, every acknowledged revision found\n", crashes);
    mt_close(&ref);
}

static void test_compact(void)
{
    mt_store full, none;
    mt_open(&full, "ref_compact.db");
    mt_open(&none, "ref_uncompacted.db");
    for (int i = 0; i < BASE_PUTS; i++) {
        ASSERT_OK(apply_op(full.s, i));
        ASSERT_OK(apply_op(none.s, i));
    }
    ASSERT_OK(mvcc_store_compact(full.s, COMPACT_AT));
    ASSERT_OK(mvcc_store_compact_wait(full.s));
    ASSERT_OK(mvcc_store_commit(full.s));
    int64_t cur = mvcc_store_rev(full.s);
    int64_t acks[4];
    size_t nacks;
    unsigned crashes = 0, in_force = 0, resumed = 0;
    for (int after = 0; after < 2; after++) {
        for (unsigned k = 1 + (unsigned)after;; k += 2) {
            crash_copy_file(base_path, work_path);
            crash_at(k, after);
            bool killed = run_child(W_COMPACT, acks, &nacks);
            mt_store m;
            mt_opts(&m);
            harness_path(m.path, sizeof m.path, "work.db");
            ASSERT_OK(backend_open(m.path, &m.bo, &m.be));
            ASSERT_OK(mvcc_store_open(m.be, &m.mo, &m.s));
            ASSERT_EQ_INT(mvcc_store_rev(m.s), cur);
            int64_t c = mvcc_store_compact_rev(m.s);
            if (nacks > 0)
                ASSERT_EQ_INT(c, COMPACT_AT); /* accepted: in force (resumed) */
            ASSERT_TRUE(c == COMPACT_AT || c == -1);
            resumed += mvcc_store_pending_compaction(m.s) == COMPACT_AT;
            ASSERT_OK(mvcc_store_compact_wait(m.s));
            char what[64];
            snprintf(what, sizeof what, "compact, %s I/O call %u", after ? "after" : "before", k);
            if (c == COMPACT_AT) {
                in_force++;
                ASSERT_EQ_INT(mvcc_store_pending_compaction(m.s), 0);
                same_as(m.s, full.s, COMPACT_AT, cur, what);
                ASSERT_EQ_U64(hash_at(m.s, 0), hash_at(full.s, 0));
            } else {
                same_as(m.s, none.s, 2, cur, what);
            }
            mt_close(&m);
            if (!killed)
                break;
            crashes++;
            ASSERT_TRUE(k < 5000);
        }
    }
    ASSERT_TRUE(crashes >= 10);
    ASSERT_TRUE(in_force >= 5);
    ASSERT_TRUE(resumed >= 3);
    printf("compact: %u crashes, %u left the compaction in force, %u of them unfinished and "
           "resumed on open\n",
           crashes, in_force, resumed);
    mt_close(&full);
    mt_close(&none);
}

static void test_defrag(void)
{
    mt_store ref;
    mt_open(&ref, "ref_defrag.db");
    for (int i = 0; i < BASE_PUTS + 20; i++)
        ASSERT_OK(apply_op(ref.s, i));
    int64_t acks[4];
    size_t nacks;
    unsigned crashes = 0;
    for (int after = 0; after < 2; after++) {
        for (unsigned k = 1;; k++) {
            crash_copy_file(base_path, work_path);
            crash_at(k, after);
            bool killed = run_child(W_DEFRAG, acks, &nacks);
            mt_store m;
            mt_opts(&m);
            harness_path(m.path, sizeof m.path, "work.db");
            ASSERT_OK(backend_open(m.path, &m.bo, &m.be));
            ASSERT_OK(mvcc_store_open(m.be, &m.mo, &m.s));
            if (nacks > 0)
                ASSERT_TRUE(mvcc_store_rev(m.s) >= acks[0]);
            char what[64];
            snprintf(what, sizeof what, "defrag, %s I/O call %u", after ? "after" : "before", k);
            same_as(m.s, ref.s, 2, mvcc_store_rev(m.s), what);
            mt_close(&m);
            if (!killed)
                break;
            crashes++;
            ASSERT_TRUE(k < 5000);
        }
    }
    ASSERT_TRUE(crashes >= 5);
    printf("defrag: %u crashes, every acknowledged revision found\n", crashes);
    mt_close(&ref);
}

int main(void)
{
    HARNESS_BEGIN(1);
    make_base();
    RUN(test_puts);
    RUN(test_compact);
    RUN(test_defrag);
    return 0;
}
