/*
 * test_powerloss.c: power loss. A test I/O layer keeps what a disk would
 * have durably -- the file as of the last completed fdatasync/fsync -- in a
 * shadow image, and the writes issued since in a log. At a chosen I/O site
 * (a write, a sync or a growth, drawn from a printed seed) the power fails:
 * the engine's further I/O fails with EIO, and the file that "survives" is
 * built from the shadow plus some of the unsynced writes:
 *   DROP   none of them;
 *   KEEP   all of them (the cache happened to be flushed);
 *   TEAR   each 512-byte sector of each write independently kept or lost;
 *   PREFIX the writes in issue order up to a random sector (in-order
 *          writeback cut short), the last one torn at a sector boundary.
 * The surviving image is written to a new file and opened with the real
 * I/O. The guarantees are the crash test's:
 *   1. it opens and bolt_tx_check finds nothing;
 *   2. its content equals the last commit that returned 0, or the commit in
 *      flight fully applied -- never anything else;
 *   3. it takes the rest of the workload and ends in the golden state.
 * Unsynced growth (fallocate/ftruncate) is kept or lost with the writes:
 * the surviving size is the synced size, extended by kept writes only.
 * Replay one case: STRATA_TEST_SEED=<seed> STRATA_POWERLOSS_SEEDS=1.
 */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>

#include "os.h"

#define NTX     10
#define SECTOR  512
#define MAX_LOG 4096

enum loss { LOSS_DROP, LOSS_KEEP, LOSS_TEAR, LOSS_PREFIX };
static const char *loss_name[] = { "drop", "keep", "tear", "prefix" };

typedef struct logged {
    uint64_t off;
    size_t len;
    unsigned char *data;
} logged;

static struct {
    unsigned sites, target;
    bool dead; /* the power is off: every write and sync fails */
    unsigned char *durable;
    uint64_t durable_size, durable_cap;
    logged log[MAX_LOG];
    size_t nlog;
} ps;

static const struct bolt_os *real(void)
{
    return bolt__os_default();
}

static void durable_reserve(uint64_t size)
{
    if (size <= ps.durable_cap)
        return;
    uint64_t cap = ps.durable_cap ? ps.durable_cap : 65536;
    while (cap < size)
        cap *= 2;
    ps.durable = realloc(ps.durable, (size_t)cap);
    ASSERT_NOT_NULL(ps.durable);
    memset(ps.durable + ps.durable_cap, 0, (size_t)(cap - ps.durable_cap));
    ps.durable_cap = cap;
}

static void apply(unsigned char *img, const logged *l, uint64_t from, uint64_t to)
{
    memcpy(img + from, l->data + (from - l->off), (size_t)(to - from));
}

static void log_clear(void)
{
    for (size_t i = 0; i < ps.nlog; i++)
        free(ps.log[i].data);
    ps.nlog = 0;
}

/* A sync completed: every logged write is durable, and so is the size. */
static void sync_done(int fd)
{
    struct stat st;
    ASSERT_OK(real()->fstat(fd, &st));
    durable_reserve((uint64_t)st.st_size);
    for (size_t i = 0; i < ps.nlog; i++)
        apply(ps.durable, &ps.log[i], ps.log[i].off, ps.log[i].off + ps.log[i].len);
    ps.durable_size = (uint64_t)st.st_size;
    log_clear();
}

static void log_write(const void *buf, size_t n, uint64_t off)
{
    ASSERT_TRUE(ps.nlog < MAX_LOG);
    logged *l = &ps.log[ps.nlog++];
    l->off = off;
    l->len = n;
    l->data = malloc(n ? n : 1);
    ASSERT_NOT_NULL(l->data);
    memcpy(l->data, buf, n);
}

/* Count a site; when it is the chosen one, the power goes off. */
static bool site_dead(void)
{
    if (!ps.dead && ++ps.sites == ps.target)
        ps.dead = true;
    return ps.dead;
}

static ssize_t p_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    bool was_dead = ps.dead;
    if (site_dead()) {
        if (!was_dead)
            log_write(buf, n, (uint64_t)off); /* issued as the power failed */
        errno = EIO;
        return -1;
    }
    ssize_t w = real()->pwrite(fd, buf, n, off);
    if (w > 0)
        log_write(buf, (size_t)w, (uint64_t)off);
    return w;
}

static ssize_t p_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    bool was_dead = ps.dead;
    bool dead = site_dead();
    uint64_t o = (uint64_t)off;
    ssize_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!dead || !was_dead)
            log_write(iov[i].iov_base, iov[i].iov_len, o);
        if (!dead) {
            ssize_t w = real()->pwrite(fd, iov[i].iov_base, iov[i].iov_len, (off_t)o);
            ASSERT_EQ_INT(w, (ssize_t)iov[i].iov_len);
        }
        o += iov[i].iov_len;
        total += (ssize_t)iov[i].iov_len;
    }
    if (dead) {
        errno = EIO;
        return -1;
    }
    return total;
}

static int p_sync(int fd)
{
    if (site_dead()) {
        errno = EIO;
        return -1;
    }
    sync_done(fd); /* the real file needs no sync: nothing really crashes */
    return 0;
}

static int p_fallocate(int fd, off_t off, off_t len)
{
    if (site_dead())
        return EIO;
    return real()->fallocate(fd, off, len);
}

static int p_ftruncate(int fd, off_t len)
{
    if (site_dead()) {
        errno = EIO;
        return -1;
    }
    return real()->ftruncate(fd, len);
}

static struct bolt_os loss_os;

/* The surviving file: durable image + the unsynced writes `loss` keeps. */
static void write_survivor(const char *path, enum loss loss, strata_rng *r)
{
    uint64_t size = ps.durable_size;
    uint64_t cap = size;
    for (size_t i = 0; i < ps.nlog; i++)
        if (ps.log[i].off + ps.log[i].len > cap)
            cap = ps.log[i].off + ps.log[i].len;
    unsigned char *img = calloc(1, (size_t)cap + 1);
    ASSERT_NOT_NULL(img);
    memcpy(img, ps.durable, (size_t)ps.durable_size);
    /* PREFIX: sectors kept in issue order up to a cut. */
    uint64_t nsect = 0;
    for (size_t i = 0; i < ps.nlog; i++)
        nsect += (ps.log[i].len + SECTOR - 1) / SECTOR + 1;
    uint64_t cut = nsect ? strata_rng_below(r, nsect + 1) : 0, seen = 0;
    for (size_t i = 0; i < ps.nlog; i++) {
        const logged *l = &ps.log[i];
        uint64_t pos = l->off;
        while (pos < l->off + l->len) {
            uint64_t end = (pos / SECTOR + 1) * SECTOR;
            if (end > l->off + l->len)
                end = l->off + l->len;
            bool keep = loss == LOSS_KEEP || (loss == LOSS_TEAR && strata_rng_below(r, 2) == 0) ||
                        (loss == LOSS_PREFIX && seen < cut);
            seen++;
            if (keep) {
                apply(img, l, pos, end);
                if (end > size)
                    size = end;
            }
            pos = end;
        }
    }
    unlink(path);
    bt_write_file(path, img, (size_t)size);
    free(img);
}

static unsigned survived, lost, in_flight_applied, dropped_writes;
static unsigned by_loss[4];

static void run_seed(uint64_t seed, const char *path, const char *gpath, const char *spath)
{
    uint64_t golden[NTX + 1];
    memset(&ps, 0, sizeof ps);
    wl_golden(gpath, seed, NTX, golden, &loss_os);
    unsigned total = ps.sites;
    log_clear();
    free(ps.durable);
    ASSERT_TRUE(total > NTX);

    strata_rng r;
    strata_rng_seed(&r, seed);
    unsigned target = 1 + (unsigned)strata_rng_below(&r, total);
    enum loss loss = (enum loss)strata_rng_below(&r, 4);
    by_loss[loss]++;

    /* A fresh file made with the real I/O; its bytes are the durable start. */
    wl_create(path, seed);
    bolt_options o = wl_opts(seed);
    o.no_grow_sync = true; /* the checking side needs no durability */
    bolt_db *db;
    memset(&ps, 0, sizeof ps);
    ps.target = target;
    size_t len;
    unsigned char *start = bt_read_file(path, &len);
    ASSERT_NOT_NULL(start);
    durable_reserve(len);
    memcpy(ps.durable, start, len);
    ps.durable_size = len;
    free(start);

    o.os = &loss_os;
    o.no_sync = false;
    o.no_grow_sync = false; /* as in the golden run */
    ASSERT_OK(bolt_open(path, &o, &db));
    unsigned committed = 0;
    bool in_flight = false;
    for (unsigned i = 0; i < NTX; i++) {
        bolt_tx *tx;
        int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0) {
            ASSERT_TRUE(ps.dead);
            ASSERT_RC(rc, BOLT_EPOISONED);
            break;
        }
        ASSERT_OK(wl_apply(tx, seed, i));
        in_flight = true;
        rc = bolt_tx_commit(tx);
        if (rc != 0) {
            ASSERT_TRUE(ps.dead);
            ASSERT_EQ_INT(rc, -EIO);
            break;
        }
        in_flight = false;
        committed++;
    }
    ASSERT_TRUE(ps.dead);
    ASSERT_OK(bolt_close(db));
    dropped_writes += (unsigned)ps.nlog;

    /* Rules 1-3 on the surviving image. */
    write_survivor(spath, loss, &r);
    log_clear();
    free(ps.durable);
    ps.durable = NULL;
    o.os = NULL;
    o.no_sync = true;
    o.no_grow_sync = true;
    int rc = bolt_open(spath, &o, &db);
    if (rc != 0)
        fprintf(stderr, "seed %llu: power cut at site %u of %u (%s): open failed\n",
                (unsigned long long)seed, target, total, loss_name[loss]);
    ASSERT_OK(rc);
    bt_check(db);
    uint64_t got = wl_state(db);
    unsigned state = committed;
    if (got != golden[committed]) {
        if (!(in_flight && got == golden[committed + 1])) {
            lost++;
            fprintf(stderr,
                    "seed %llu: power cut at site %u of %u (%s): content is neither commit %u%s\n",
                    (unsigned long long)seed, target, total, loss_name[loss], committed,
                    in_flight ? " nor the one in flight" : "");
            ASSERT_EQ_HEX(got, golden[committed]);
        }
        state++;
        in_flight_applied++;
    }
    wl_finish(db, seed, state, NTX, golden);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    survived++;
}

int main(void)
{
    HARNESS_BEGIN(5000);
    harness_current = "power-loss seeds";
    loss_os = *real();
    loss_os.pwrite = p_pwrite;
    loss_os.pwritev = p_pwritev;
    loss_os.fdatasync = p_sync;
    loss_os.fsync = p_sync;
    loss_os.fallocate = p_fallocate;
    loss_os.ftruncate = p_ftruncate;
    const char *env = getenv("STRATA_POWERLOSS_SEEDS");
    unsigned nseeds = env != NULL ? (unsigned)strtoul(env, NULL, 0) : 400;
    char path[4096], gpath[4096], spath[4096];
    harness_path(path, sizeof path, "power.db");
    harness_path(gpath, sizeof gpath, "golden.db");
    harness_path(spath, sizeof spath, "survivor.db");
    uint64_t base = harness_seed();
    for (unsigned s = 0; s < nseeds; s++) {
        uint64_t seed = base + s;
        harness_default_seed = seed; /* failures name this seed */
        run_seed(seed, path, gpath, spath);
    }
    printf("figure: power loss: %u seeds cut and reopened (drop %u, keep %u, tear %u, prefix %u; "
           "%u unsynced writes at the cuts), %u lost commits, %u in-flight commits found applied\n",
           survived, by_loss[LOSS_DROP], by_loss[LOSS_KEEP], by_loss[LOSS_TEAR],
           by_loss[LOSS_PREFIX], dropped_writes, lost, in_flight_applied);
    return lost == 0 ? 0 : 1;
}
