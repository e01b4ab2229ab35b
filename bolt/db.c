/*
 * db.c: opening and closing a database: the file, its flock, the map, the
 * choice of page size and current meta, and the freelist load.
 *
 * Rules:
 *   1. The file is locked with flock(2) on the database file itself, LOCK_EX
 *      for read-write and LOCK_SH for read-only opens, retried every 50 ms
 *      until the timeout (docs/format.md §12), before anything is read.
 *   2. The map reserves more address space than the file needs (option,
 *      default max(1 GiB, 4 x file size)), so the file grows inside it; a
 *      transaction reads only below min(file size at its start, reserved).
 *      When the address space is short (RLIMIT_AS), the reservation is
 *      halved until it fits, down to the file's size.
 *   3. Maps are refcounted (db->map holds one ref, each transaction one): a
 *      file that outgrows its reservation gets a new map for new
 *      transactions, and the old map goes when its last reader ends.
 *   4. Nothing read from the file is trusted: the metas are validated, their
 *      fields range-checked, and the file must reach the high-water mark.
 *   5. A new (0-byte) file is written as bbolt's init (4 pages, at least
 *      4096 bytes so bbolt can reopen it), synced, and its directory synced.
 *      If that fails the file is cut back to 0 bytes (best effort), so the
 *      next open starts over instead of refusing a half-written header.
 *   6. A failed fsync poisons the db for writing until it is reopened
 *      (tx.c rule 3 does the same for commit's writes and syncs): Linux may
 *      mark the dirty pages clean after a failed writeback and report the
 *      error only once, so a retried fsync could succeed for data that
 *      never reached the disk (PostgreSQL's "fsyncgate"). Reopening rereads
 *      the file as it is.
 *   7. A read-write open trusts no freelist blindly: its ids must lie in
 *      [2, pgid) without duplicates, and neither its own run nor the root
 *      may be listed; then (bolt_options.freelist_check, by default for
 *      files up to BOLT_FREELIST_CHECK_AUTO_MAX) the tree is walked and a
 *      listed page the tree uses fails the open, naming the page. A page
 *      in use that is handed out again is overwritten by the next commits:
 *      a bucket silently loses its keys.
 *   8. Growing the file (bolt__db_grow) fsyncs it so the new size is durable
 *      before a meta names pages past the old end, unless the db syncs
 *      nothing: no_grow_sync, or no_sync (whose commits are not durable
 *      anyway; under no_sync, bbolt's NoSync, bbolt still syncs each growth,
 *      which cost 3.3% of B2-nosync's CPU, and the flush it forces makes
 *      every later write of a cleaned page dearer than a rewrite of a dirty
 *      one).
 *   9. A no_sync db's commits may copy their pages into a second, writable
 *      shared map of the file (db->wmap; bolt__db_wmap) instead of writing
 *      them with pwritev: a rewritten page then costs a memcpy, where a
 *      write call costs a system call and the page cache's per-write work
 *      (B3-nosync: pwritev was 42-50% of the CPU, the same per page as
 *      LMDB's pwrite). The read map stays PROT_READ, so no pointer handed
 *      to a caller can write the file. A store through a map cannot return
 *      an error; it faults (SIGBUS) where a write would fail, so the map is
 *      used only where no store into a page below the file's size can fail
 *      for space: a file system that rewrites allocated blocks in place
 *      (bolt__os_overwrites_in_place: ext4, tmpfs), every block of the file
 *      allocated (posix_fallocate over the whole file when the map is
 *      first made; every growth since by fallocate, a growth by ftruncate
 *      turns the map off for good), and the default I/O table's pwritev,
 *      fallocate, ftruncate, mmap and munmap (a test that replaces one of
 *      them models those calls; it keeps them), unless the options say
 *      no_write_map (its mappings count twice in RSS). Durable commits
 *      never use it: their write and sync errors must be the calls' own
 *      (tx.c rule 3, the power-loss tests' model). Left as with any map: a
 *      store into a page the kernel must first read back from a failing
 *      disk faults, as a read through the read map already does. The map
 *      is remade at the reservation's size when the file outgrows it, and
 *      unmapped at close.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bolt_int.h"
#include "strdup.h"
#include "sync.h"

#define ONE_GIB          (1024ull * 1024 * 1024)
#define FLOCK_RETRY_MS   50
#define BBOLT_ALLOC_SIZE (16ull * 1024 * 1024)

bolt_val bolt_str(const char *s)
{
    bolt_val v = { s, s != NULL ? strlen(s) : 0 };
    return v;
}

void bolt_options_init(bolt_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

void bolt__db_note_freelist(bolt_db *db)
{
    /* The writer (or open) owns the freelist here; readers of the figures take mu. */
    if (db->freelist == NULL)
        return;
    uint64_t free_n = bolt__freelist_free_count(db->freelist);
    uint64_t pending_n = bolt__freelist_pending_count(db->freelist);
    uint64_t inuse = bolt__freelist_page_size(db->freelist);
    pthread_mutex_lock(&db->mu);
    db->fl_free = free_n;
    db->fl_pending = pending_n;
    db->fl_inuse = inuse;
    pthread_mutex_unlock(&db->mu);
}

void bolt_db_stats_get(bolt_db *db, bolt_db_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->mu);
    out->free_page_n = db->fl_free;
    out->pending_page_n = db->fl_pending;
    out->free_alloc = (db->fl_free + db->fl_pending) * db->page_size;
    out->freelist_inuse = db->fl_inuse;
    out->tx_n = db->read_tx_n;
    out->open_tx_n = db->nreaders - db->nidle; /* parked readers are not open (tx.c rule 8) */
    out->tx = db->stats;
    pthread_mutex_unlock(&db->mu);
}

uint32_t bolt_db_page_size(const bolt_db *db)
{
    return db->page_size;
}

const char *bolt_db_path(const bolt_db *db)
{
    return db->path;
}

int bolt__corrupt(bolt_db *db, bolt_pgid pgid, const char *why)
{
    pthread_mutex_lock(&db->mu);
    snprintf(db->corrupt, sizeof db->corrupt, "page %llu: %s", (unsigned long long)pgid, why);
    pthread_mutex_unlock(&db->mu);
    return BOLT_ECORRUPT;
}

void bolt_db_last_corruption(bolt_db *db, char *buf, size_t size)
{
    if (size == 0)
        return;
    pthread_mutex_lock(&db->mu);
    snprintf(buf, size, "%s", db->corrupt);
    pthread_mutex_unlock(&db->mu);
}

static uint32_t os_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    if (ps < (long)BOLT_MIN_PAGE_SIZE || ps > (long)BOLT_MAX_PAGE_SIZE || (ps & (ps - 1)) != 0)
        return 4096;
    return (uint32_t)ps;
}

/* The address range to reserve for a file of `need` bytes (rule 2). */
static uint64_t map_reserve_for(const bolt_db *db, uint64_t need)
{
    uint64_t r = db->opt.mmap_reserve;
    if (r == 0) {
        r = ONE_GIB;
        if (need > r / 4)
            r = need * 4;
    }
    if (r < need)
        r = need;
    if (r < db->opt.initial_mmap_size)
        r = db->opt.initial_mmap_size;
    uint64_t sys = (uint64_t)sysconf(_SC_PAGESIZE);
    r = (r + sys - 1) / sys * sys;
    return r;
}

static int map_new(bolt_db *db, uint64_t reserve, bolt__map **out)
{
    if (reserve > BOLT_MAX_MAP_SIZE)
        return BOLT_EMMAPTOOLARGE;
    bolt__map *m = strata_calloc(1, sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    int flags = MAP_SHARED | (db->opt.map_populate ? MAP_POPULATE : 0);
    void *p = db->os->mmap(NULL, (size_t)reserve, PROT_READ, flags, db->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        strata_free(m);
        return e == ENOMEM ? BOLT_EMMAPTOOLARGE : -e;
    }
    m->base = p;
    m->reserved = (size_t)reserve;
    m->refs = 1;
    m->owned = true;
    *out = m;
    return 0;
}

/*
 * Rule 2's fallback: map `want` bytes, and when the address space is short
 * (BOLT_EMMAPTOOLARGE: RLIMIT_AS, a small vm), halve the reservation down
 * to `floor` (the bytes that must be readable) before giving up. A smaller
 * reservation only means an earlier remap when the file grows.
 */
static int map_new_fallback(bolt_db *db, uint64_t want, uint64_t floor, bolt__map **out)
{
    uint64_t sys = (uint64_t)sysconf(_SC_PAGESIZE);
    floor = (floor + sys - 1) / sys * sys;
    if (floor == 0)
        floor = sys;
    if (want < floor)
        want = floor;
    for (;;) {
        int rc = map_new(db, want, out);
        if (rc != BOLT_EMMAPTOOLARGE || want <= floor)
            return rc;
        want = want / 2 < floor ? floor : (want / 2 + sys - 1) / sys * sys;
    }
}

void bolt__map_release(bolt_db *db, bolt__map *m)
{
    /* db->mu held by the caller. */
    if (m == NULL || --m->refs > 0)
        return;
    if (m->owned)
        db->os->munmap((void *)m->base, m->reserved);
    strata_free(m);
}

static int lock_file(bolt_db *db)
{
    if (db->read_only && db->opt.live)
        return 0; /* a live reader takes no lock and never blocks a writer */
    int op = (db->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB;
    uint64_t waited = 0;
    for (;;) {
        if (db->os->flock(db->fd, op) == 0)
            return 0;
        if (errno != EWOULDBLOCK)
            return -errno;
        if (db->opt.timeout_ms != 0 && waited >= db->opt.timeout_ms)
            return BOLT_ETIMEOUT;
        bolt__os_sleep_ms(FLOCK_RETRY_MS);
        waited += FLOCK_RETRY_MS;
    }
}

static int sync_dir(bolt_db *db)
{
    char *copy = strata__strdup(db->path);
    if (copy == NULL)
        return -ENOMEM;
    int dfd = db->os->open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    strata_free(copy);
    if (dfd < 0)
        return -errno;
    int rc = db->os->fsync(dfd) == 0 ? 0 : -errno;
    db->os->close(dfd);
    return rc;
}

/* Rule 5: bbolt's init — meta 0 (txid 0), meta 1 (txid 1), freelist 2, leaf 3. */
static int init_file(bolt_db *db)
{
    uint32_t ps = db->page_size;
    size_t size = (size_t)ps * 4;
    if (size < 4096)
        size = 4096;
    unsigned char *buf = strata_calloc(1, size);
    if (buf == NULL)
        return -ENOMEM;
    for (int i = 0; i < 2; i++) {
        bolt__meta m = { .magic = BOLT_MAGIC,
                         .version = BOLT_VERSION,
                         .page_size = ps,
                         .root = 3,
                         .freelist = 2,
                         .pgid = 4,
                         .txid = (bolt_txid)i };
        bolt__meta_encode(&m, (bolt_pgid)i, buf + (size_t)i * ps, ps);
    }
    bolt__st64(buf + 2 * (size_t)ps + BOLT_PAGE_ID_OFF, 2);
    bolt__st16(buf + 2 * (size_t)ps + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_FREELIST);
    bolt__st64(buf + 3 * (size_t)ps + BOLT_PAGE_ID_OFF, 3);
    bolt__st16(buf + 3 * (size_t)ps + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_LEAF);
    int rc = bolt__write_full(db->os, db->fd, buf, size, 0);
    strata_free(buf);
    if (rc == 0 && db->os->fdatasync(db->fd) != 0)
        rc = -errno;
    if (rc == 0)
        rc = sync_dir(db);
    return rc;
}

/*
 * Read the first bytes of the image (pread or memory) into buf; returns the
 * number of bytes read.
 */
static int image_read(bolt_db *db, const unsigned char *mem, size_t memlen, void *buf, size_t n,
                      uint64_t off, size_t *got)
{
    if (mem != NULL) {
        size_t avail = off < memlen ? memlen - (size_t)off : 0;
        size_t take = n < avail ? n : avail;
        if (take > 0)
            memcpy(buf, mem + off, take);
        *got = take;
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r =
                db->os->pread(db->fd, (unsigned char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

typedef struct probe_src {
    bolt_db *db;
    const unsigned char *mem;
    size_t memlen;
} probe_src;

static int probe_read(void *arg, uint64_t off, void *buf, size_t n, size_t *got)
{
    probe_src *s = arg;
    return image_read(s->db, s->mem, s->memlen, buf, n, off, got);
}

/* The page size, by the one probe the CLI's raw reader uses too (meta.c). */
static int choose_page_size(bolt_db *db, const unsigned char *mem, size_t memlen, uint64_t fsize)
{
    probe_src s = { db, mem, memlen };
    return bolt__probe_page_size(probe_read, &s, fsize, db->opt.page_size, &db->page_size, NULL);
}

/* Validate both metas in the map and take the current one (rule 4). */
static int load_meta(bolt_db *db)
{
    const unsigned char *base = db->map->base;
    uint64_t limit = db->file_size < db->map->reserved ? db->file_size : db->map->reserved;
    uint32_t ps = db->page_size;
    if (limit < 2 * (uint64_t)ps)
        return BOLT_EFILETOOSMALL;
    bolt__meta m0, m1, cur;
    int rc0, rc1;
    if (db->opt.live) { /* a writer may be rewriting a meta right now (live.c) */
        rc0 = bolt__live_meta_decode(db, 0, &m0);
        rc1 = bolt__live_meta_decode(db, 1, &m1);
    } else {
        rc0 = bolt__meta_decode(base, ps, &m0);
        rc1 = bolt__meta_decode(base + ps, ps, &m1);
    }
    /* A meta that disagrees with the page size in use is not usable. */
    if (rc0 == 0 && m0.page_size != ps)
        rc0 = BOLT_EINVALID;
    if (rc1 == 0 && m1.page_size != ps)
        rc1 = BOLT_EINVALID;
    int rc = bolt__meta_choose(&m0, rc0, &m1, rc1, &cur);
    if (rc != 0)
        return rc;
    const char *why;
    rc = bolt__meta_sane(&cur, &why);
    if (rc != 0) {
        snprintf(db->corrupt, sizeof db->corrupt, "meta (txid %llu): %s",
                 (unsigned long long)cur.txid, why);
        return rc;
    }
    if (cur.pgid * (uint64_t)ps > limit) {
        snprintf(db->corrupt, sizeof db->corrupt,
                 "meta (txid %llu): file shorter than the high-water mark %llu",
                 (unsigned long long)cur.txid, (unsigned long long)cur.pgid);
        return BOLT_ECORRUPT;
    }
    db->meta = cur;
    return 0;
}

int bolt__db_live_refresh(bolt_db *db)
{
    /* db->mu held by the caller. The writer may have grown the file. */
    struct stat st;
    if (db->os->fstat(db->fd, &st) != 0)
        return -errno;
    if ((uint64_t)st.st_size > db->map->reserved)
        return BOLT_ELIVECHANGED; /* outgrew this open's map: reopen */
    db->file_size = (uint64_t)st.st_size;
    return load_meta(db);
}

bolt_txid bolt__db_newest_txid(const bolt_db *db)
{
    bolt__meta m;
    bolt_txid newest = 0;
    for (int i = 0; i < 2; i++)
        if (bolt__live_meta_decode(db, i, &m) == 0 && m.txid > newest)
            newest = m.txid;
    return newest;
}

typedef struct reach_set {
    unsigned char *bits;
    bolt_pgid hwm;
} reach_set;

static int reach_mark(void *arg, bolt_pgid id, uint32_t overflow)
{
    reach_set *r = arg;
    for (uint64_t i = 0; i <= overflow; i++)
        r->bits[(id + i) / 8] |= (unsigned char)(1u << ((id + i) % 8));
    return 0;
}

/* docs/format.md §7.3: without a stored freelist, free = not reachable. */
static int freelist_by_walk(bolt_db *db)
{
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return rc;
    reach_set r = { strata_calloc(1, (size_t)(db->meta.pgid / 8 + 1)), db->meta.pgid };
    bolt_pgid *ids = NULL;
    size_t n = 0;
    if (r.bits == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = bolt__walk_pages(tx, reach_mark, &r);
    if (rc != 0)
        goto out;
    db->walked = true; /* bolt_tx_tree_walked */
    db->walked_txid = tx->meta.txid;
    ids = strata_malloc(sizeof *ids * (size_t)(db->meta.pgid + 1));
    if (ids == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (bolt_pgid id = 2; id < db->meta.pgid; id++)
        if (!(r.bits[id / 8] & (1u << (id % 8))))
            ids[n++] = id;
    rc = bolt__freelist_load_ids(db->freelist, ids, n, db->meta.pgid);
out:
    strata_free(ids);
    strata_free(r.bits);
    bolt_tx_rollback(tx);
    return rc;
}

static int freelist_from_page(bolt_db *db)
{
    bolt_pgid id = db->meta.freelist;
    uint32_t ps = db->page_size;
    const unsigned char *p = db->map->base + id * ps;
    uint64_t hdr_id = bolt__ld64(p + BOLT_PAGE_ID_OFF);
    uint16_t flags = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF);
    uint32_t overflow = bolt__ld32(p + BOLT_PAGE_OVERFLOW_OFF);
    if (hdr_id != id)
        return bolt__corrupt(db, id, "freelist page header id does not match its position");
    if (flags != BOLT_PAGE_FREELIST)
        return bolt__corrupt(db, id, "invalid freelist page (flags not exactly 0x10)");
    if (id + overflow >= db->meta.pgid)
        return bolt__corrupt(db, id, "freelist run extends past the high-water mark");
    char why[160];
    int rc = bolt__freelist_read_why(db->freelist, p, ((size_t)overflow + 1) * ps, db->meta.pgid,
                                     why, sizeof why);
    if (rc == BOLT_ECORRUPT)
        return bolt__corrupt(db, id, why[0] != '\0' ? why : "invalid freelist page");
    if (rc != 0)
        return rc;
    /* Rule 7's cheap checks: the run holding the list and the root are in use. */
    for (uint64_t i = 0; i <= overflow; i++)
        if (bolt__freelist_freed(db->freelist, id + i))
            return bolt__corrupt(db, id + i, "the freelist lists a page of its own run as free");
    if (bolt__freelist_freed(db->freelist, db->meta.root))
        return bolt__corrupt(db, db->meta.root, "the freelist lists the root page as free");
    return 0;
}

/* Rule 7: no page the tree uses may be in the freelist. */
static int fl_in_use(void *arg, bolt_pgid id, uint32_t overflow)
{
    bolt_db *db = arg;
    for (uint64_t i = 0; i <= overflow; i++)
        if (bolt__freelist_freed(db->freelist, id + i))
            return bolt__corrupt(db, id + i,
                                 "listed free by the freelist but in use by the tree (the "
                                 "next commits would overwrite it)");
    return 0;
}

static int freelist_verify(bolt_db *db)
{
    bolt_freelist_check mode = db->opt.freelist_check;
    if (mode == BOLT_FREELIST_CHECK_NEVER ||
        (mode == BOLT_FREELIST_CHECK_AUTO && db->file_size > BOLT_FREELIST_CHECK_AUTO_MAX))
        return 0;
    if (bolt__freelist_free_count(db->freelist) + bolt__freelist_pending_count(db->freelist) == 0)
        return 0; /* nothing listed, nothing to contradict the tree */
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx);
    if (rc != 0)
        return rc;
    rc = bolt__walk_pages(tx, fl_in_use, db);
    if (rc == 0) {
        db->walked = true; /* bolt_tx_tree_walked */
        db->walked_txid = tx->meta.txid;
    }
    bolt_tx_rollback(tx);
    return rc;
}

static int db_new(const char *path, const bolt_options *opt, bolt_db **out)
{
    bolt_db *db = strata_calloc(1, sizeof *db);
    if (db == NULL)
        return -ENOMEM;
    bolt_options_init(&db->opt);
    if (opt != NULL) {
        size_t n = opt->size == 0 || opt->size > sizeof *opt ? sizeof *opt : opt->size;
        memcpy(&db->opt, opt, n);
        db->opt.size = sizeof db->opt;
    }
    if (db->opt.live && !db->opt.read_only) {
        strata_free(db);
        return STRATA_EMISUSE; /* a live open only reads */
    }
    db->path = strata__strdup(path);
    if (db->path == NULL) {
        strata_free(db);
        return -ENOMEM;
    }
    db->fd = -1;
    db->os = db->opt.os != NULL ? db->opt.os : bolt__os_default();
    db->read_only = db->opt.read_only;
    int rc = -pthread_mutex_init(&db->mu, NULL);
    if (rc == 0) {
        rc = strata__cond_init(&db->wcv, false);
        if (rc != 0)
            pthread_mutex_destroy(&db->mu);
    }
    if (rc != 0) {
        strata_free(db->path);
        strata_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

static void db_free(bolt_db *db)
{
    pthread_mutex_lock(&db->mu);
    bolt__tx_drop_idle(db); /* tx.c rule 8: an open that failed after a read tx parked */
    pthread_mutex_unlock(&db->mu);
    if (db->map != NULL)
        bolt__map_release(db, db->map);
    if (db->wmap != NULL)
        db->os->munmap(db->wmap, db->wmap_len);
    if (db->fd >= 0) {
        if (!db->read_only)
            db->os->flock(db->fd, LOCK_UN);
        db->os->close(db->fd);
    }
    bolt__freelist_free(db->freelist);
    bolt__dpage_pool_free(db);
    bolt__checked_free(db);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->wcv);
    strata_free(db->readers);
    strata_free(db->path);
    strata_free(db);
}

/* Steps after the map exists: metas, then (read-write) the freelist. */
static int db_finish(bolt_db *db)
{
    bolt__checked_init(db); /* the page size is known */
    int rc = load_meta(db);
    if (rc != 0)
        return rc;
    db->alloc_size = 0; /* unknown after reopening (docs/format.md §9) */
    if (db->read_only)
        return 0;
    rc = bolt__freelist_new(db->opt.freelist_type == BOLT_FREELIST_HASHMAP ? BOLT__FREELIST_HASHMAP
                                                                           : BOLT__FREELIST_ARRAY,
                            &db->freelist);
    if (rc != 0)
        return rc;
    if (db->meta.freelist == BOLT_NO_FREELIST)
        return freelist_by_walk(db);
    rc = freelist_from_page(db);
    if (rc == 0)
        rc = freelist_verify(db);
    return rc;
}

/*
 * Why this thread's last bolt_open or bolt_open_memory returned BOLT_ECORRUPT
 * (the handle that held the detail is gone by then): bolt_open_last_corruption.
 */
static _Thread_local char open_corrupt[sizeof((bolt_db *)0)->corrupt];

static void open_failed(bolt_db *db, int rc)
{
    if (rc == BOLT_ECORRUPT)
        bolt_db_last_corruption(db, open_corrupt, sizeof open_corrupt);
    db_free(db);
}

void bolt_open_last_corruption(char *buf, size_t size)
{
    if (size > 0)
        snprintf(buf, size, "%s", open_corrupt);
}

int bolt_open(const char *path, const bolt_options *opt, bolt_db **out)
{
    *out = NULL;
    open_corrupt[0] = '\0';
    if (path == NULL)
        return STRATA_EMISUSE;
    bolt_db *db;
    int rc = db_new(path, opt, &db);
    if (rc != 0)
        return rc;
    int flags = O_CLOEXEC | (db->read_only ? O_RDONLY : (O_RDWR | O_CREAT));
    db->fd = db->os->open(path, flags, db->opt.file_mode != 0 ? db->opt.file_mode : 0600);
    if (db->fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = lock_file(db);
    if (rc != 0)
        goto fail;
    struct stat st;
    if (db->os->fstat(db->fd, &st) != 0) {
        rc = -errno;
        goto fail;
    }
    if (st.st_size == 0) {
        if (db->read_only) {
            rc = BOLT_EINVALID;
            goto fail;
        }
        uint32_t ps = db->opt.page_size != 0 ? db->opt.page_size : os_page_size();
        if (ps < BOLT_MIN_PAGE_SIZE || ps > BOLT_MAX_PAGE_SIZE || (ps & (ps - 1)) != 0) {
            rc = BOLT_EPAGESIZE;
            goto fail;
        }
        db->page_size = ps;
        rc = init_file(db);
        if (rc != 0) {
            (void)db->os->ftruncate(db->fd, 0); /* rule 5 */
            goto fail;
        }
        if (db->os->fstat(db->fd, &st) != 0) {
            rc = -errno;
            goto fail;
        }
    }
    db->file_size = (uint64_t)st.st_size;
    rc = choose_page_size(db, NULL, 0, db->file_size);
    if (rc != 0)
        goto fail;
    if (db->file_size < 2 * (uint64_t)db->page_size) {
        rc = BOLT_EFILETOOSMALL;
        goto fail;
    }
    rc = map_new_fallback(db, map_reserve_for(db, db->file_size), db->file_size, &db->map);
    if (rc != 0)
        goto fail;
    rc = db_finish(db);
    if (rc != 0)
        goto fail;
    bolt__db_note_freelist(db);
    *out = db;
    return 0;
fail:
    open_failed(db, rc);
    return rc;
}

int bolt_open_memory(const void *buf, size_t len, const bolt_options *opt, bolt_db **out)
{
    *out = NULL;
    open_corrupt[0] = '\0';
    if (buf == NULL && len > 0)
        return STRATA_EMISUSE;
    bolt_db *db;
    int rc = db_new("", opt, &db);
    if (rc != 0)
        return rc;
    db->read_only = true;
    db->file_size = len;
    if (len == 0) {
        rc = BOLT_EINVALID;
        goto fail;
    }
    rc = choose_page_size(db, buf, len, len);
    if (rc != 0)
        goto fail;
    if (len < 2 * (uint64_t)db->page_size) {
        rc = BOLT_EFILETOOSMALL;
        goto fail;
    }
    db->map = strata_calloc(1, sizeof *db->map);
    if (db->map == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    db->map->base = buf;
    db->map->reserved = len;
    db->map->refs = 1;
    rc = db_finish(db);
    if (rc != 0)
        goto fail;
    *out = db;
    return 0;
fail:
    open_failed(db, rc);
    return rc;
}

int bolt_close(bolt_db *db)
{
    if (db == NULL)
        return 0;
    pthread_mutex_lock(&db->mu);
    bolt__tx_drop_idle(db); /* tx.c rule 8 */
    size_t ntx = db->ntx;
    pthread_mutex_unlock(&db->mu);
    if (ntx != 0)
        return BOLT_ETXACTIVE;
    db_free(db);
    return 0;
}

/*
 * Rule 3: a new map when the file has outgrown the current one; db->mu
 * held. Only `needed` bytes (the committing transaction's high-water mark)
 * must be covered: when no larger map can be made (BOLT_EMMAPTOOLARGE), a
 * commit that fits the current map still succeeds, and the remap is tried
 * again at every later growth check, so a failed mmap fails only the
 * commits that need more than the map has, never every commit until reopen.
 */
static int map_cover_file(bolt_db *db, uint64_t needed)
{
    if (db->file_size <= db->map->reserved)
        return 0;
    bolt__map *m = NULL;
    uint64_t floor = needed > db->map->reserved ? needed : db->map->reserved + 1;
    if (floor > db->file_size)
        floor = db->file_size;
    int rc = map_new_fallback(db, map_reserve_for(db, db->file_size), floor, &m);
    if (rc == 0) {
        bolt__map_release(db, db->map);
        db->map = m;
        return 0;
    }
    return needed <= db->map->reserved ? 0 : rc;
}

/*
 * Make the file at least `needed` bytes (docs/format.md §9 sizes: powers of two
 * up to 16 MiB, then 16 MiB steps), with posix_fallocate so a full disk
 * fails here, falling back to ftruncate where the file system cannot
 * allocate; then fsync unless no_grow_sync. Called with wmu held.
 */
int bolt__db_grow(bolt_db *db, uint64_t needed)
{
    pthread_mutex_lock(&db->mu);
    uint64_t cur = db->file_size;
    int rc = needed <= cur ? map_cover_file(db, needed) : 0;
    pthread_mutex_unlock(&db->mu);
    if (needed <= cur)
        return rc;
    uint64_t size;
    if (needed < BBOLT_ALLOC_SIZE) {
        size = 32 * 1024;
        while (size < needed)
            size *= 2;
    } else {
        size = needed + BBOLT_ALLOC_SIZE;
    }
    size = (size + db->page_size - 1) / db->page_size * db->page_size;
    rc = BOLT_FAILPOINT(db, "grow");
    if (rc != 0)
        return rc;
    int e = db->os->fallocate(db->fd, 0, (off_t)size);
    if (e == EOPNOTSUPP || e == EINVAL || e == ENOSYS) {
        if (db->os->ftruncate(db->fd, (off_t)size) != 0)
            return -errno;
        db->wmap_state = -1; /* rule 9: the new tail is a hole */
    } else if (e != 0) {
        return -e;
    }
    /*
     * Rule 8: the fsync makes the new size durable before a meta can name
     * pages in it; a db that syncs nothing (no_sync) has no such ordering to
     * keep, so it skips it too (bbolt syncs here unless NoGrowSync).
     */
    if (!db->opt.no_grow_sync && !db->opt.no_sync && db->os->fsync(db->fd) != 0) {
        int err = errno;
        pthread_mutex_lock(&db->mu);
        db->poisoned = true; /* rule 6 */
        pthread_mutex_unlock(&db->mu);
        return -err;
    }
    pthread_mutex_lock(&db->mu);
    db->file_size = size;
    db->alloc_size = size;
    rc = map_cover_file(db, needed); /* rule 3: a new map for the transactions that follow */
    pthread_mutex_unlock(&db->mu);
    return rc;
}

unsigned char *bolt__db_wmap(bolt_db *db)
{
    if (db->wmap_state < 0)
        return NULL;
    pthread_mutex_lock(&db->mu);
    uint64_t size = db->file_size;
    pthread_mutex_unlock(&db->mu);
    if (db->wmap_state == 0) {
        /* Rule 9's conditions, once: a db that meets them keeps meeting them. */
        db->wmap_state = -1;
        const struct bolt_os *def = bolt__os_default();
        bool calls_replaced = db->os->pwritev != def->pwritev ||
                              db->os->fallocate != def->fallocate ||
                              db->os->ftruncate != def->ftruncate || db->os->mmap != def->mmap ||
                              db->os->munmap != def->munmap;
        if (db->fd < 0 || db->read_only || db->opt.live || db->opt.no_write_map || calls_replaced ||
            !bolt__os_overwrites_in_place(db->fd))
            return NULL;
        /* Holes (a file grown by ftruncate, e.g. by bbolt) get their blocks now. */
        if (db->os->fallocate(db->fd, 0, (off_t)size) != 0)
            return NULL;
        db->wmap_state = 1;
    }
    if (db->wmap != NULL && db->wmap_len >= size)
        return db->wmap;
    if (db->wmap != NULL) {
        db->os->munmap(db->wmap, db->wmap_len);
        db->wmap = NULL;
    }
    uint64_t len = map_reserve_for(db, size);
    void *p = len <= SIZE_MAX ? db->os->mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED,
                                             db->fd, 0)
                              : MAP_FAILED;
    if (p == MAP_FAILED) {
        db->wmap_state = -1; /* the address space is short: write calls from now on */
        return NULL;
    }
    db->wmap = p;
    db->wmap_len = (size_t)len;
    return db->wmap;
}

bool bolt_tx_tree_walked(const bolt_tx *tx)
{
    return tx->db->walked && tx->meta.txid == tx->db->walked_txid && !tx->writable;
}
