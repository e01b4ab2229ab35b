/*
 * test_faults.c: fault injection at every write, sync and file growth.
 *
 * A replacement I/O table (bolt/os.h) counts the engine's fault sites --
 * each pwrite/pwritev, each fdatasync/fsync, each fallocate/ftruncate -- in
 * a clean run of a seeded workload, then reruns the workload once per site
 * and per fault that site can suffer: ENOSPC, a short write followed by
 * ENOSPC, EIO, a short write that the engine must finish itself, EIO from
 * fdatasync/fsync, ENOSPC or "not supported" from fallocate, ENOMEM from
 * the mmap of a file grown past its reservation. After every
 * injected fault:
 *   1. the commit fails with exactly the injected -errno (or succeeds for
 *      the faults the engine must absorb), and readers in the same process
 *      still see the last committed state;
 *   2. after a failed write or sync the db refuses write transactions with
 *      BOLT_EPOISONED until reopened (a failed fsync may have dropped dirty
 *      pages from the cache: retrying it could report success for data that
 *      never reached the disk); a failed fallocate or mmap (before anything
 *      was written) is not poisoning, and the next commit works;
 *   3. reopened with the real I/O, the file passes bolt_tx_check and holds
 *      the last committed state -- or, only when the failing commit had
 *      already written its meta page, that commit fully applied;
 *   4. the reopened db takes the rest of the workload and ends in the
 *      golden final state.
 * The same faults are injected while a new file is being initialised: the
 * open fails with the error, and the next open succeeds on a clean db.
 */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "os.h"

enum site_kind { SITE_WRITE, SITE_SYNC, SITE_GROW, SITE_MAP };
enum fault {
    F_ENOSPC,       /* write / fallocate: nothing written */
    F_SHORT_ENOSPC, /* write: half written, then the next write fails */
    F_SHORT_OK,     /* write: half written, the engine writes the rest */
    F_EIO,          /* write or sync */
    F_UNSUPPORTED,  /* fallocate: EOPNOTSUPP, the engine falls back to ftruncate */
    F_ENOMEM,       /* mmap of the grown file: no address space */
};
static const char *fault_name[] = {
    "ENOSPC", "short+ENOSPC", "short", "EIO", "EOPNOTSUPP", "ENOMEM"
};

#define MAX_SITES 4096

static struct {
    unsigned sites;  /* sites seen */
    unsigned target; /* site to fault (1-based); 0 = none */
    enum fault fault;
    bool fired;
    bool enospc_next;  /* F_SHORT_ENOSPC: fail the next write */
    bool meta_touched; /* a meta page got bytes since the last reset */
    bool count_maps;   /* mmap is a site (after the open's own map) */
    uint32_t ps;       /* page size, to recognise meta writes */
    enum site_kind kinds[MAX_SITES + 1];
} fs;

static unsigned injected[4];

static const struct bolt_os *real(void)
{
    return bolt__os_default();
}

/* Count a site; true when this one is to fail. */
static bool site(enum site_kind k)
{
    fs.sites++;
    if (fs.sites <= MAX_SITES)
        fs.kinds[fs.sites] = k;
    if (fs.target != 0 && fs.sites == fs.target) {
        fs.fired = true;
        injected[k]++;
        return true;
    }
    return false;
}

static void note_write(off_t off, ssize_t n)
{
    if (n > 0 && (uint64_t)off < 2 * (uint64_t)fs.ps)
        fs.meta_touched = true;
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    bool hit = site(SITE_WRITE);
    if (fs.enospc_next) {
        fs.enospc_next = false;
        errno = ENOSPC;
        return -1;
    }
    if (hit) {
        if (fs.fault == F_SHORT_ENOSPC || fs.fault == F_SHORT_OK) {
            fs.enospc_next = fs.fault == F_SHORT_ENOSPC;
            ssize_t w = real()->pwrite(fd, buf, n > 1 ? n / 2 : n, off);
            note_write(off, w);
            return w;
        }
        errno = fs.fault == F_EIO ? EIO : ENOSPC;
        return -1;
    }
    ssize_t w = real()->pwrite(fd, buf, n, off);
    note_write(off, w);
    return w;
}

static ssize_t f_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    bool hit = site(SITE_WRITE);
    if (fs.enospc_next) {
        fs.enospc_next = false;
        errno = ENOSPC;
        return -1;
    }
    if (hit) {
        if (fs.fault == F_SHORT_ENOSPC || fs.fault == F_SHORT_OK) {
            fs.enospc_next = fs.fault == F_SHORT_ENOSPC;
            size_t total = 0;
            for (int i = 0; i < iovcnt; i++)
                total += iov[i].iov_len;
            size_t want = total > 1 ? total / 2 : total;
            /* Trim a copy of the vector to `want` bytes. */
            struct iovec v[64];
            int n = 0;
            for (int i = 0; i < iovcnt && i < 64 && want > 0; i++, n++) {
                v[i] = iov[i];
                if (v[i].iov_len > want)
                    v[i].iov_len = want;
                want -= v[i].iov_len;
            }
            ssize_t w = real()->pwritev(fd, v, n, off);
            note_write(off, w);
            return w;
        }
        errno = fs.fault == F_EIO ? EIO : ENOSPC;
        return -1;
    }
    ssize_t w = real()->pwritev(fd, iov, iovcnt, off);
    note_write(off, w);
    return w;
}

/* Syncs are counted and failed, never really done: nothing crashes here. */
static int f_sync(int fd)
{
    (void)fd;
    if (site(SITE_SYNC)) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static int f_fallocate(int fd, off_t off, off_t len)
{
    if (site(SITE_GROW))
        return fs.fault == F_UNSUPPORTED ? EOPNOTSUPP : ENOSPC;
    return real()->fallocate(fd, off, len);
}

static int f_ftruncate(int fd, off_t len)
{
    if (site(SITE_GROW)) {
        errno = fs.fault == F_EIO ? EIO : ENOSPC;
        return -1;
    }
    return real()->ftruncate(fd, len);
}

static void *f_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fs.count_maps && site(SITE_MAP)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return real()->mmap(addr, len, prot, flags, fd, off);
}

static struct bolt_os faulty;

static void faulty_init(void)
{
    faulty = *real();
    faulty.pwrite = f_pwrite;
    faulty.pwritev = f_pwritev;
    faulty.fdatasync = f_sync;
    faulty.fsync = f_sync;
    faulty.fallocate = f_fallocate;
    faulty.ftruncate = f_ftruncate;
    faulty.mmap = f_mmap;
}

static void arm(unsigned target, enum fault f, uint32_t ps)
{
    memset(&fs, 0, sizeof fs);
    fs.target = target;
    fs.fault = f;
    fs.ps = ps;
}

/* The faults site kind k can suffer. */
static size_t faults_for(enum site_kind k, enum fault *out)
{
    size_t n = 0;
    if (k == SITE_WRITE) {
        out[n++] = F_ENOSPC;
        out[n++] = F_SHORT_ENOSPC;
        out[n++] = F_SHORT_OK;
        out[n++] = F_EIO;
    } else if (k == SITE_SYNC) {
        out[n++] = F_EIO;
    } else if (k == SITE_GROW) {
        out[n++] = F_ENOSPC;
        out[n++] = F_UNSUPPORTED;
    } else {
        out[n++] = F_ENOMEM;
    }
    return n;
}

static bool absorbed(enum fault f)
{
    return f == F_SHORT_OK || f == F_UNSUPPORTED;
}

static int expected_rc(enum fault f)
{
    return f == F_EIO ? -EIO : f == F_ENOMEM ? BOLT_EMMAPTOOLARGE : -ENOSPC;
}

/* Faults that happen before anything is written: the db stays writable. */
static bool recoverable(enum site_kind kind, enum fault f)
{
    return (kind == SITE_GROW && f == F_ENOSPC) || kind == SITE_MAP;
}

#define NTX 14

static unsigned runs, lost;

/* One run: the workload with site `target` suffering fault f. */
static void run_one(const char *path, uint64_t seed, const uint64_t *golden, unsigned target,
                    enum fault f, enum site_kind kind)
{
    uint32_t ps = wl_page_size(seed);
    wl_create(path, seed);
    bolt_options o = wl_opts(seed);
    o.no_sync = false;
    o.mmap_reserve = 16 * 1024; /* the file outgrows it: remaps are sites too */
    bolt_db *db;
    arm(target, f, ps);
    o.os = &faulty;
    ASSERT_OK(bolt_open(path, &o, &db));
    fs.count_maps = true;
    unsigned committed = 0;
    bool failed = false, poisoned = false, meta_touched = false;
    int fail_rc = 0;
    while (committed < NTX) {
        bolt_tx *tx;
        int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc == BOLT_EPOISONED) {
            poisoned = true;
            break;
        }
        ASSERT_OK(rc);
        ASSERT_OK(wl_apply(tx, seed, committed));
        fs.meta_touched = false;
        rc = bolt_tx_commit(tx);
        if (rc == 0) {
            committed++;
            continue;
        }
        /* Rule 1. */
        ASSERT_FALSE(failed);
        failed = true;
        fail_rc = rc;
        meta_touched = fs.meta_touched;
        ASSERT_TRUE(fs.fired);
        ASSERT_FALSE(absorbed(f));
        ASSERT_EQ_INT(rc, expected_rc(f));
        ASSERT_TRUE(strlen(bolt_strerror(rc)) > 0);
        ASSERT_EQ_HEX(wl_state(db), golden[committed]);
    }
    if (absorbed(f) || !fs.fired)
        ASSERT_FALSE(failed);
    if (failed) {
        /* Rule 2: only a failed fallocate or mmap leaves the db writable. */
        if (recoverable(kind, f)) {
            ASSERT_FALSE(poisoned);
            ASSERT_EQ_INT(committed, NTX);
        } else {
            ASSERT_TRUE(poisoned);
            bolt_tx *tx;
            ASSERT_RC(bolt_tx_begin(db, BOLT_TX_WRITE, &tx), BOLT_EPOISONED);
            ASSERT_NULL(tx);
            /* Readers are not refused. */
            ASSERT_EQ_HEX(wl_state(db), golden[committed]);
        }
    }
    ASSERT_OK(bolt_close(db));
    /* Rule 3 (checked without syncing: durability is not the question). */
    o.os = NULL;
    o.no_sync = true;
    o.no_grow_sync = true;
    ASSERT_OK(bolt_open(path, &o, &db));
    bt_check(db);
    uint64_t got = wl_state(db);
    if (got != golden[committed]) {
        if (!(meta_touched && committed < NTX && got == golden[committed + 1])) {
            lost++;
            fprintf(stderr, "seed %llu site %u (%s): state after reopen is neither commit %u%s\n",
                    (unsigned long long)seed, target, fault_name[f], committed,
                    meta_touched ? " nor the one in flight" : "");
            ASSERT_EQ_HEX(got, golden[committed]);
        }
        committed++; /* the in-flight commit, fully applied */
    }
    /* Rule 4. */
    wl_finish(db, seed, committed, NTX, golden);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    (void)fail_rc;
    runs++;
}

static void test_commit_faults(void)
{
    char path[4096], gpath[4096];
    harness_path(path, sizeof path, "faults.db");
    harness_path(gpath, sizeof gpath, "golden.db");
    for (uint64_t s = 0; s < 2; s++) {
        uint64_t seed = harness_seed() + s;
        uint64_t golden[NTX + 1];
        wl_golden(gpath, seed, NTX, golden, NULL);
        /* The clean run: count the sites. */
        run_one(path, seed, golden, 0, F_EIO, SITE_WRITE);
        unsigned nsites = fs.sites;
        ASSERT_TRUE(nsites > NTX * 3 && nsites <= MAX_SITES);
        enum site_kind kinds[MAX_SITES + 1];
        memcpy(kinds, fs.kinds, sizeof kinds);
        unsigned counted[4] = { 0, 0, 0, 0 };
        for (unsigned k = 1; k <= nsites; k++) {
            counted[kinds[k]]++;
            enum fault fl[4];
            size_t nf = faults_for(kinds[k], fl);
            for (size_t j = 0; j < nf; j++)
                run_one(path, seed, golden, k, fl[j], kinds[k]);
        }
        printf("seed %llu (page size %u): %u sites (%u writes, %u syncs, %u growths, %u remaps)\n",
               (unsigned long long)seed, wl_page_size(seed), nsites, counted[SITE_WRITE],
               counted[SITE_SYNC], counted[SITE_GROW], counted[SITE_MAP]);
        ASSERT_TRUE(counted[SITE_GROW] > 0 && counted[SITE_MAP] > 0);
    }
}

/* Faults while bolt_open initialises a new file. */
static void test_init_faults(void)
{
    char path[4096];
    harness_path(path, sizeof path, "init.db");
    bolt_options o = bt_opts();
    o.no_sync = false;
    o.page_size = 4096;
    unlink(path);
    arm(0, F_EIO, o.page_size);
    o.os = &faulty;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    uint64_t empty = wl_state(db);
    ASSERT_OK(bolt_close(db));
    unsigned nsites = fs.sites;
    enum site_kind kinds[MAX_SITES + 1];
    memcpy(kinds, fs.kinds, sizeof kinds);
    ASSERT_TRUE(nsites >= 3);
    for (unsigned k = 1; k <= nsites; k++) {
        enum fault fl[4];
        size_t nf = faults_for(kinds[k], fl);
        for (size_t j = 0; j < nf; j++) {
            unlink(path);
            arm(k, fl[j], o.page_size);
            o.os = &faulty;
            int rc = bolt_open(path, &o, &db);
            ASSERT_TRUE(fs.fired);
            if (absorbed(fl[j])) {
                ASSERT_OK(rc);
                ASSERT_OK(bolt_close(db));
            } else {
                ASSERT_EQ_INT(rc, expected_rc(fl[j]));
                ASSERT_NULL(db);
            }
            o.os = NULL;
            ASSERT_OK(bolt_open(path, &o, &db));
            bt_check(db);
            ASSERT_EQ_HEX(wl_state(db), empty);
            ASSERT_OK(bolt_close(db));
            runs++;
        }
    }
}

/*
 * The named failpoints (BOLT_FAILPOINT: "grow", "before_page_write",
 * "before_data_sync", "before_meta_write", "before_meta_sync"): each,
 * made to fail, fails the commit with its status and leaves the last
 * committed state; every one but "grow" poisons. With -Dfailpoints=false
 * the hook is never called (failpoints exist only in test builds).
 */
static const char *fp_target;
static unsigned fp_calls;

static int fp_hook(const char *name)
{
    fp_calls++;
    return fp_target != NULL && strcmp(name, fp_target) == 0 ? -EIO : 0;
}

static void test_failpoints(void)
{
    static const char *names[] = { "grow", "before_page_write", "before_data_sync",
                                   "before_meta_write", "before_meta_sync" };
    char path[4096], gpath[4096];
    harness_path(path, sizeof path, "failpoints.db");
    harness_path(gpath, sizeof gpath, "failpoints-golden.db");
    uint64_t seed = harness_seed();
    if (wl_page_size(seed) != 4096)
        seed++; /* 4096-byte pages: the first commit always grows the file */
    uint64_t golden[NTX + 1];
    wl_golden(gpath, seed, NTX, golden, NULL);
    struct bolt_os hooked = *real();
    hooked.failpoint = fp_hook;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        wl_create(path, seed);
        bolt_options o = wl_opts(seed);
        o.os = &hooked;
        bolt_db *db;
        ASSERT_OK(bolt_open(path, &o, &db));
        fp_target = NULL;
        fp_calls = 0;
        unsigned committed = 0;
        /* Fail the first commit at "grow" (it always grows), the second elsewhere. */
        unsigned fail_at = strcmp(names[i], "grow") == 0 ? 0 : 1;
        for (unsigned t = 0; t < 2; t++) {
            fp_target = t == fail_at ? names[i] : NULL;
            bolt_tx *tx;
            ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
            ASSERT_OK(wl_apply(tx, seed, committed));
            int rc = bolt_tx_commit(tx);
            if (!STRATA_FAILPOINTS || t != fail_at) {
                ASSERT_OK(rc);
                committed++;
                continue;
            }
            ASSERT_EQ_INT(rc, -EIO);
            ASSERT_EQ_HEX(wl_state(db), golden[committed]);
            bolt_tx *w;
            rc = bolt_tx_begin(db, BOLT_TX_WRITE, &w);
            if (fail_at == 0) {
                ASSERT_OK(rc); /* nothing was written: not poisoned */
                bolt_tx_rollback(w);
            } else {
                ASSERT_RC(rc, BOLT_EPOISONED);
                break;
            }
        }
        if (!STRATA_FAILPOINTS)
            ASSERT_EQ_INT(fp_calls, 0);
        else
            ASSERT_TRUE(fp_calls > 0);
        ASSERT_OK(bolt_close(db));
        o.os = NULL;
        ASSERT_OK(bolt_open(path, &o, &db));
        bt_check(db);
        if (STRATA_FAILPOINTS && strcmp(names[i], "before_meta_sync") == 0)
            committed++; /* its meta page was written: reopening finds it applied */
        ASSERT_EQ_HEX(wl_state(db), golden[committed]);
        wl_finish(db, seed, committed, NTX, golden);
        ASSERT_OK(bolt_close(db));
    }
}

int main(void)
{
    HARNESS_BEGIN(7);
    faulty_init();
    RUN(test_init_faults);
    RUN(test_commit_faults);
    RUN(test_failpoints);
    printf("figure: faults injected: %u (%u at writes, %u at syncs, %u at growth, %u at remaps) "
           "in %u runs, %u lost commits\n",
           injected[SITE_WRITE] + injected[SITE_SYNC] + injected[SITE_GROW] + injected[SITE_MAP],
           injected[SITE_WRITE], injected[SITE_SYNC], injected[SITE_GROW], injected[SITE_MAP], runs,
           lost);
    return harness_failed;
}
