/* test_backend.c: backend/backend.c (open/close, commit thread, hook, stats). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_test.h"
#include "os.h" /* bolt's I/O table, to fail a commit */

static int fail_sync; /* fdatasync fails while set */

static int failing_fdatasync(int fd)
{
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return bolt__os_default()->fdatasync(fd);
}

/* Close commits what is pending; a reopen sees it. */
static void test_close_commits_and_reopen(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("reopen.db", &o);
    bk_bucket(be, "b");
    bk_put(be, "b", "k1", "v1");
    bk_put(be, "b", "k2", "v2");
    bk_del(be, "b", "k1");
    ASSERT_EQ_U64(backend_pending(be), 3);
    ASSERT_OK(backend_close(be));
    be = bk_open("reopen.db", &o);
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=v2 ");
    ASSERT_EQ_U64(backend_pending(be), 0);
    ASSERT_OK(backend_close(be));
    ASSERT_OK(backend_close(NULL));
}

/* Interval commits happen when the manual clock passes the interval. */
static void test_interval_commit_driven_by_clock(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    o.batch_interval_ns = MS(100);
    backend *be = bk_open("interval.db", &o);
    bk_bucket(be, "b"); /* a bucket change commits at unlock */
    uint64_t c0 = backend_commits(be);
    ASSERT_EQ_U64(c0, 1);
    bk_put(be, "b", "k", "v");
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0);
    strata_manual_clock_advance(&clk, MS(99));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0);
    ASSERT_EQ_U64(backend_pending(be), 1);
    strata_manual_clock_advance(&clk, MS(1));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    ASSERT_EQ_U64(backend_pending(be), 0);
    /* Nothing pending: the interval passes without a commit. */
    strata_manual_clock_advance(&clk, MS(500));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    /* The interval restarts at the last check: 100 ms later, not before. */
    bk_put(be, "b", "k2", "v");
    strata_manual_clock_advance(&clk, MS(50));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    strata_manual_clock_advance(&clk, MS(50));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0 + 2);
    ASSERT_OK(backend_close(be));
}

static void put_n(backend *be, int from, int n)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    for (int i = from; i < from + n; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%06d", i);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str("v")));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

/*
 * The limit wakes the thread; at twice the limit unlock begins the commit
 * itself (pending is 0 when it returns) and the thread writes it out.
 */
static void test_limit_commit(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    o.batch_limit = 10;
    backend *be = bk_open("limit.db", &o);
    bk_bucket(be, "b");
    uint64_t c0 = backend_commits(be);
    put_n(be, 0, 9);
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0);
    put_n(be, 9, 1);
    ASSERT_OK(backend_poke(be)); /* the clock has not moved: the limit did it */
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    ASSERT_EQ_U64(backend_pending(be), 0);
    put_n(be, 10, 20);
    ASSERT_EQ_U64(backend_pending(be), 0); /* the batch ended in unlock */
    ASSERT_OK(backend_poke(be));           /* one loop: the thread wrote it out */
    ASSERT_EQ_U64(backend_commits(be), c0 + 2);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "b", "k000029", &s), "k000029=v ");
    ASSERT_OK(backend_close(be));
}

typedef struct hook_state {
    int calls;
    int fail;         /* status to return, 0 = none */
    const char *name; /* written into "order" and as the meta key's value prefix */
    char *order;      /* shared log of hook names, in call order */
    backend *be;      /* for the reentrancy check */
    int reentry_rc;   /* what a hook_add from inside this hook returned */
} hook_state;

static int hook(void *arg, backend_batch_tx *tx)
{
    hook_state *h = arg;
    h->calls++;
    if (h->order != NULL)
        strcat(h->order, h->name);
    if (h->be != NULL) {
        backend_commit_hook *x;
        h->reentry_rc = backend_commit_hook_add(h->be, hook, h, &x);
    }
    if (h->fail != 0)
        return h->fail;
    char v[32];
    snprintf(v, sizeof v, "%d", h->calls);
    char k[32];
    snprintf(k, sizeof k, "ci_%s", h->name);
    return backend_batch_tx_put(tx, bolt_str("meta"), bolt_str(k), bolt_str(v));
}

/* A commit hook runs before every commit; its writes are committed. */
static void test_force_commit_and_hook(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    hook_state h = { .name = "a" };
    backend *be = bk_open("hook.db", &o);
    bk_bucket(be, "meta");
    backend_commit_hook *ha;
    ASSERT_OK(backend_commit_hook_add(be, hook, &h, &ha));
    uint64_t c0 = backend_commits(be);
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_INT(h.calls, 1);
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "meta", "ci_a", &s), "ci_a=1 ");
    /* A failing hook cancels the commit and says so. */
    h.fail = -EIO;
    bk_put(be, "meta", "x", "1");
    ASSERT_RC(backend_force_commit(be), -EIO);
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    ASSERT_EQ_U64(backend_pending(be), 1);
    h.fail = 0;
    ASSERT_OK(backend_close(be)); /* commits, hook included */
    ASSERT_EQ_INT(h.calls, 3);
    be = bk_open("hook.db", &o);
    ASSERT_EQ_STR(bk_get(be, "meta", "ci_a", &s), "ci_a=3 ");
    ASSERT_EQ_STR(bk_get(be, "meta", "x", &s), "x=1 ");
    ASSERT_OK(backend_close(be));
}

/*
 * Several hooks, added and removed after open: they run in the order of
 * addition on every commit (the commit thread's too), a failing one stops
 * those after it, a removed one is never called again, and a hook cannot
 * add or remove hooks.
 */
static void test_hooks_many(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("hooks.db", &o);
    bk_bucket(be, "meta");
    char order[256] = "";
    hook_state a = { .name = "a", .order = order };
    hook_state b = { .name = "b", .order = order };
    hook_state c = { .name = "c", .order = order };
    backend_commit_hook *ha, *hb, *hc;
    ASSERT_OK(backend_commit_hook_add(be, hook, &a, &ha));
    /* Added by a thread that holds the batch lock: no deadlock. */
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_commit_hook_add(be, hook, &b, &hb));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_commit_hook_add(be, hook, &c, &hc));
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(order, "abc");
    /* The commit thread runs them too. */
    order[0] = '\0';
    bk_put(be, "meta", "y", "1");
    strata_manual_clock_advance(&clk, MS(200));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_STR(order, "abc");
    /* A failure in b: c does not run, the commit is cancelled. */
    order[0] = '\0';
    b.fail = -EIO;
    bk_put(be, "meta", "z", "1");
    uint64_t c0 = backend_commits(be);
    ASSERT_RC(backend_force_commit(be), -EIO);
    ASSERT_EQ_STR(order, "ab");
    ASSERT_EQ_U64(backend_commits(be), c0);
    b.fail = 0;
    /* Remove the middle one: a, c remain, in order. */
    ASSERT_OK(backend_commit_hook_remove(be, hb));
    order[0] = '\0';
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(order, "ac");
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    /* A handle the backend does not hold (already removed) is refused. */
    ASSERT_RC(backend_commit_hook_remove(be, (backend_commit_hook *)&b), STRATA_EMISUSE);
    ASSERT_OK(backend_commit_hook_remove(be, NULL));
    ASSERT_RC(backend_commit_hook_add(be, NULL, &a, &hb), STRATA_EMISUSE);
    ASSERT_TRUE(hb == NULL);
    /* Re-adding goes to the end. */
    ASSERT_OK(backend_commit_hook_add(be, hook, &b, &hb));
    order[0] = '\0';
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(order, "acb");
    /* From inside a hook, add is refused. */
    c.be = be;
    c.reentry_rc = 0;
    ASSERT_OK(backend_force_commit(be));
    ASSERT_RC(c.reentry_rc, STRATA_EMISUSE);
    c.be = NULL;
    ASSERT_OK(backend_commit_hook_remove(be, ha));
    ASSERT_OK(backend_commit_hook_remove(be, hc));
    order[0] = '\0';
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(order, "b");
    /*
     * Defrag runs them at its first commit and again before it switches
     * to the copy; the second one's writes reach the copy.
     */
    order[0] = '\0';
    ASSERT_OK(backend_defrag(be, NULL));
    ASSERT_EQ_STR(order, "bb");
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "meta", "ci_b", &s), "ci_b=8 ");
    /* Close runs the hooks that are left and frees them. */
    order[0] = '\0';
    ASSERT_OK(backend_close(be));
    ASSERT_EQ_STR(order, "b");
    be = bk_open("hooks.db", &o);
    ASSERT_EQ_STR(bk_get(be, "meta", "ci_b", &s), "ci_b=9 ");
    ASSERT_OK(backend_close(be));
}

/* Size and size in use follow commits; free pages show after deletes. */
static void test_sizes(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("sizes.db", &o);
    bk_bucket(be, "b");
    uint64_t s0 = backend_size(be);
    ASSERT_TRUE(s0 >= 4 * 4096);
    put_n(be, 0, 5000);
    ASSERT_OK(backend_force_commit(be));
    uint64_t s1 = backend_size(be);
    ASSERT_TRUE(s1 > s0);
    ASSERT_TRUE(backend_size_in_use(be) <= s1);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    for (int i = 0; i < 4900; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%06d", i);
        ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_force_commit(be));
    /*
     * The pages the deletes freed stay pending while a reader may need
     * them: each write transaction is begun in the commit before it
     * (backend.c rule 3's WRITE), while that commit's log-mode read view
     * (rule 9) is still open, and bolt releases pages freed by txid N only
     * once no reader of state N or older is left. So they are free in the
     * write transaction the second commit after the deletes begins.
     */
    uint64_t pending_size = backend_size_in_use(be);
    put_n(be, 5000, 1);
    ASSERT_OK(backend_force_commit(be));
    put_n(be, 5001, 1);
    ASSERT_OK(backend_force_commit(be));
    ASSERT_TRUE(backend_size_in_use(be) < pending_size);
    ASSERT_TRUE(backend_size_in_use(be) < backend_size(be) / 2);
    ASSERT_OK(backend_close(be));
}

static int count_pairs(void *arg, bolt_val key, bolt_val value)
{
    (*(int *)arg)++;
    return 0;
}

/* Closing with a reader open: everything else is refused, the reader reads on. */
static void test_close_with_reader_open(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("closing.db", &o);
    bk_bucket(be, "b");
    bk_put(be, "b", "k", "v");
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_EQ_SIZE(backend_read_tx_open(be), 1);
    ASSERT_RC(backend_close(be), BOLT_ETXACTIVE);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("k2"), bolt_str("v")),
              BACKEND_ECLOSED);
    ASSERT_RC(backend_batch_tx_range(tx, bolt_str("b"), bolt_str("k"), (bolt_val){ NULL, 0 }, 0,
                                     count_pairs, NULL),
              BACKEND_ECLOSED);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    backend_read_tx *rt2 = (backend_read_tx *)&o;
    ASSERT_RC(backend_read_tx_begin(be, &rt2), BACKEND_ECLOSED);
    ASSERT_NULL(rt2);
    ASSERT_RC(backend_force_commit(be), BACKEND_ECLOSED);
    ASSERT_RC(backend_poke(be), BACKEND_ECLOSED);
    uint32_t h;
    ASSERT_RC(backend_hash(be, NULL, 0, &h), BACKEND_ECLOSED);
    int n = 0;
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("b"), count_pairs, &n));
    ASSERT_EQ_INT(n, 1);
    backend_read_tx_end(rt);
    ASSERT_OK(backend_close(be));
    /* The close committed: the data is there. */
    be = bk_open("closing.db", &o);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "b", "k", &s), "k=v ");
    ASSERT_OK(backend_close(be));
}

/* Bad opens: NULL path, a file that is not a db. */
static void test_bad_open(void)
{
    backend *be = (backend *)&be;
    ASSERT_RC(backend_open(NULL, NULL, &be), STRATA_EMISUSE);
    ASSERT_NULL(be);
    char path[4096];
    harness_path(path, sizeof path, "garbage.db");
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    for (int i = 0; i < 8192; i++)
        fputc(i * 7, f);
    fclose(f);
    backend_options o = bk_opts(NULL);
    ASSERT_TRUE(backend_open(path, &o, &be) < 0);
    ASSERT_NULL(be);
}

/* The default clock and interval commit on their own (no poke). */
static void test_default_clock_commits(void)
{
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = MS(1);
    backend *be = bk_open("wall.db", &o);
    bk_bucket(be, "b");
    uint64_t c0 = backend_commits(be);
    bk_put(be, "b", "k", "v");
    /* Wait for the thread by poking until it has committed (no sleep). */
    for (int i = 0; i < 1000000 && backend_commits(be) == c0; i++)
        ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), c0 + 1);
    ASSERT_OK(backend_close(be));
}

/* A failed commit is sticky: writes are refused, readers see the last commit. */
static void test_failed_commit_is_sticky(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    struct bolt_os os = *bolt__os_default();
    os.fdatasync = failing_fdatasync;
    bolt_options bo = *o.bolt;
    bo.os = &os;
    bo.no_sync = false;
    o.bolt = &bo;
    backend *be = bk_open("sticky.db", &o);
    bk_bucket(be, "b");
    bk_put(be, "b", "a", "committed");
    ASSERT_OK(backend_force_commit(be));
    bk_put(be, "b", "b", "lost");
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "a=committed b=lost ");
    fail_sync = 1;
    ASSERT_RC(backend_force_commit(be), -EIO);
    fail_sync = 0;
    /* Readers fall back to what bolt has; writers are refused. */
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "a=committed ");
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("c"), bolt_str("v")),
              BACKEND_EFAILED);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_RC(backend_force_commit(be), BACKEND_EFAILED);
    backend_defrag_stats st;
    ASSERT_RC(backend_defrag(be, &st), BACKEND_EFAILED);
    ASSERT_RC(backend_close(be), BACKEND_EFAILED);
    /* The file keeps the last good commit and opens again. */
    be = bk_open("sticky.db", &o);
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "a=committed ");
    ASSERT_OK(backend_close(be));
}

/* The whole file at path, malloc'd; *n its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    ASSERT_OK(fseek(f, 0, SEEK_END));
    long size = ftell(f);
    ASSERT_TRUE(size >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    ASSERT_NOT_NULL(buf);
    ASSERT_EQ_SIZE(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/*
 * A read-only open changes nothing on disk: reads, hash and snapshot work,
 * writes and defrag are refused, a leftover defrag copy stays, a missing or
 * empty file is not created or initialised, and a writer's lock keeps it
 * out (while other read-only opens share the file).
 */
static void test_read_only_open(void)
{
    char path[4096], tmp[4096], snap[4096], missing[4096], empty[4096];
    harness_path(path, sizeof path, "ro.db");
    harness_path(tmp, sizeof tmp, "ro.db.defrag.tmp");
    harness_path(snap, sizeof snap, "ro.snap");
    harness_path(missing, sizeof missing, "ro-missing.db");
    harness_path(empty, sizeof empty, "ro-empty.db");
    backend_options rw = bk_opts(NULL);
    backend *be = bk_open("ro.db", &rw);
    bk_bucket(be, "b");
    bk_bucket(be, "meta");
    bk_put(be, "b", "k1", "v1");
    bk_put(be, "b", "k2", "v2");
    bk_put(be, "meta", "consistent_index", "9");
    bk_del(be, "b", "k1");
    ASSERT_OK(backend_force_commit(be));
    uint32_t want;
    ASSERT_OK(backend_hash(be, NULL, 0, &want));
    uint64_t size = backend_size(be);
    ASSERT_OK(backend_close(be));
    FILE *f = fopen(tmp, "wb");
    ASSERT_NOT_NULL(f);
    fputs("a leftover copy", f);
    fclose(f);
    size_t n0;
    unsigned char *before = slurp(path, &n0);

    backend_options ro = bk_opts(NULL);
    ro.read_only = true;
    bolt_options bo = *ro.bolt;
    bo.timeout_ms = 100;
    ro.bolt = &bo;
    be = bk_open("ro.db", &ro);
    backend *be2 = bk_open("ro.db", &ro); /* readers share the file */
    ASSERT_EQ_U64(backend_size(be), size);
    ASSERT_EQ_U64(backend_size_in_use(be), size);
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=v2 ");
    uint32_t h = 0, h2 = 0;
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_EQ_HEX(h, want);
    ASSERT_OK(backend_hash(be2, NULL, 0, &h2));
    ASSERT_EQ_HEX(h2, want);
    ASSERT_OK(backend_close(be2));
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("k3"), bolt_str("v")),
              BOLT_EDATABASEREADONLY);
    ASSERT_RC(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str("k2")), BOLT_EDATABASEREADONLY);
    ASSERT_RC(backend_batch_tx_create_bucket(tx, bolt_str("c")), BOLT_EDATABASEREADONLY);
    ASSERT_RC(backend_batch_tx_delete_bucket(tx, bolt_str("b")), BOLT_EDATABASEREADONLY);
    ASSERT_RC(backend_batch_tx_for_each(tx, bolt_str("b"), count_pairs, NULL),
              BOLT_EDATABASEREADONLY);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_EQ_U64(backend_pending(be), 0);
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_poke(be));
    ASSERT_EQ_U64(backend_commits(be), 0);
    backend_defrag_stats st;
    ASSERT_RC(backend_defrag(be, &st), BOLT_EDATABASEREADONLY);
    int fd = open(snap, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_TRUE(fd >= 0);
    uint64_t written = 0;
    ASSERT_OK(backend_snapshot(be, fd, BACKEND_SNAPSHOT_TRAILER, NULL, NULL, &written));
    ASSERT_EQ_U64(written, size + 32);
    ASSERT_OK(close(fd));

    /* A writer cannot take the file while a reader holds it, and the reverse. */
    backend *w = (backend *)&w;
    rw.bolt = &bo; /* timeout_ms 100 */
    ASSERT_RC(backend_open(path, &rw, &w), BOLT_ETIMEOUT);
    ASSERT_NULL(w);
    ASSERT_OK(backend_close(be));
    w = bk_open("ro.db", &rw);
    backend *r = (backend *)&r;
    ASSERT_RC(backend_open(path, &ro, &r), BOLT_ETIMEOUT);
    ASSERT_NULL(r);
    ASSERT_OK(backend_close(w));
    /* That writer removed the leftover copy; put one back for the next reader. */
    ASSERT_RC(access(tmp, F_OK) == 0 ? 0 : -errno, -ENOENT);
    f = fopen(tmp, "wb");
    ASSERT_NOT_NULL(f);
    fclose(f);
    be = bk_open("ro.db", &ro);
    ASSERT_OK(backend_close(be));
    ASSERT_OK(access(tmp, F_OK) == 0 ? 0 : -errno);

    size_t n1;
    unsigned char *after = slurp(path, &n1);
    ASSERT_EQ_MEM(after, n1, before, n0);
    free(before);
    free(after);

    /* Missing and empty files are refused, not created or initialised. */
    be = (backend *)&be;
    ASSERT_RC(backend_open(missing, &ro, &be), -ENOENT);
    ASSERT_NULL(be);
    ASSERT_RC(access(missing, F_OK) == 0 ? 0 : -errno, -ENOENT);
    f = fopen(empty, "wb");
    ASSERT_NOT_NULL(f);
    fclose(f);
    ASSERT_RC(backend_open(empty, &ro, &be), BOLT_EINVALID);
    struct stat sb;
    ASSERT_OK(stat(empty, &sb) == 0 ? 0 : -errno);
    ASSERT_EQ_U64((uint64_t)sb.st_size, 0);

    /* The snapshot a read-only backend wrote restores to the same content. */
    char restored[4096];
    harness_path(restored, sizeof restored, "ro-restored.db");
    fd = open(snap, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(backend_snapshot_restore(fd, restored));
    close(fd);
    be = bk_open("ro-restored.db", &ro);
    ASSERT_OK(backend_hash(be, NULL, 0, &h));
    ASSERT_EQ_HEX(h, want);
    ASSERT_OK(backend_close(be));
}

/* The file a backend wrote, as bolt sees it. */
static bolt_db_info file_info(const char *name)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    bolt_db *db;
    ASSERT_OK(bolt_open(path, NULL, &db));
    bolt_db_info info;
    ASSERT_OK(bolt_db_info_get(db, &info));
    ASSERT_OK(bolt_close(db));
    return info;
}

/*
 * backend_options.bolt is a pointer with its own size rule: NULL gives
 * etcd's bolt options (no freelist page); a bolt_options from a caller that
 * knew fewer fields applies those it knew; and it is read by open only.
 */
static void test_bolt_options_by_pointer(void)
{
    backend_options o;
    backend_options_init(&o);
    ASSERT_NULL(o.bolt);
    o.mmap_reserve = 64u << 20;
    backend *be = bk_open("etcd-defaults.db", &o);
    bk_bucket(be, "b");
    bk_put(be, "b", "k", "v");
    ASSERT_OK(backend_close(be));
    ASSERT_EQ_U64(file_info("etcd-defaults.db").listed_free, UINT64_MAX);

    /* An older caller's bolt_options: it knew the fields up to file_mode. */
    bolt_options *old = malloc(sizeof *old);
    ASSERT_NOT_NULL(old);
    backend_bolt_options_init(old);
    old->size = offsetof(bolt_options, freelist_type);
    old->no_sync = true;
    old->no_freelist_sync = false;
    old->page_size = 8192;
    old->mmap_reserve = 1; /* past its size: not read */
    o.bolt = old;
    o.mmap_reserve = 0;
    be = bk_open("old-caller.db", &o);
    memset(old, 0xff, sizeof *old); /* open copied what it needed */
    free(old);
    bk_bucket(be, "b");
    bk_put(be, "b", "k", "v");
    ASSERT_OK(backend_close(be));
    bolt_db_info info = file_info("old-caller.db");
    ASSERT_EQ_INT(info.page_size, 8192);
    ASSERT_TRUE(info.listed_free != UINT64_MAX); /* a freelist page is stored */
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_close_commits_and_reopen);
    RUN(test_interval_commit_driven_by_clock);
    RUN(test_limit_commit);
    RUN(test_force_commit_and_hook);
    RUN(test_hooks_many);
    RUN(test_sizes);
    RUN(test_close_with_reader_open);
    RUN(test_bad_open);
    RUN(test_default_clock_commits);
    RUN(test_failed_commit_is_sticky);
    RUN(test_read_only_open);
    RUN(test_bolt_options_by_pointer);
    return 0;
}
