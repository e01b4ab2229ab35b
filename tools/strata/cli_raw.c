/*
 * cli_raw.c: byte-level reading of possibly damaged bolt files (see
 * cli_raw.h) and the tolerant tree walk behind `pages` and `salvage`.
 *
 * Rules:
 *   1. Every page id is checked against the file size (and the walk's
 *      high-water mark) before a byte of it is read; an overflow count is
 *      checked before anything is allocated for it.
 *   2. Bytes from the file are never trusted: every element is bounds
 *      checked (bolt__page_check for whole pages, cli_raw_elem for one).
 *   3. The walk enters a page at most once (visited bitmap), recurses at
 *      most BOLT_MAX_DEPTH tree levels per bucket, BOLT_MAX_NESTING
 *      buckets deep and WALK_MAX_FRAMES tree levels in all, so no file can
 *      make it loop or exhaust the stack.
 *   4. A subtree that cannot be read is reported once, with its page, its
 *      bucket and its key range, and the walk continues with its siblings.
 */
#include "cli_raw.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_util.h"

int cli_raw_read(const cli_raw *r, uint64_t off, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(r->fd, (unsigned char *)buf + done, n - done, (off_t)(off + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return -EIO;
        done += (size_t)got;
    }
    return 0;
}

static const char *decode_why(int rc)
{
    switch (rc) {
    case BOLT_EINVALID:
        return "bad magic (not a bolt meta page)";
    case BOLT_EVERSIONMISMATCH:
        return "unsupported version";
    case BOLT_ECHECKSUM:
        return "checksum mismatch";
    default:
        return "unreadable";
    }
}

static int raw_probe_read(void *arg, uint64_t off, void *buf, size_t n, size_t *got)
{
    const cli_raw *r = arg;
    *got = 0;
    if (off >= r->file_size)
        return 0;
    if (n > r->file_size - off)
        n = (size_t)(r->file_size - off);
    int rc = cli_raw_read(r, off, buf, n);
    if (rc == 0)
        *got = n;
    return rc;
}

/*
 * The page size by the engine's own probe (bolt__probe_page_size), so the
 * raw commands and bolt_open never disagree; when the engine finds none, a
 * torn meta 0's page size field is used to show the file (page_size_guessed).
 */
static void raw_page_size(cli_raw *r)
{
    uint32_t ps = 0, guess = 0;
    if (bolt__probe_page_size(raw_probe_read, r, r->file_size, 0, &ps, &guess) == 0) {
        r->page_size = ps;
        return;
    }
    r->page_size = guess;
    r->page_size_guessed = guess != 0;
}

static void raw_metas(cli_raw *r)
{
    for (int i = 0; i < 2; i++) {
        unsigned char buf[BOLT_META_END];
        memset(&r->meta[i], 0, sizeof r->meta[i]);
        uint64_t off = i == 0 ? 0 : r->page_size;
        if ((i == 1 && r->page_size == 0) || off + BOLT_META_END > r->file_size ||
            cli_raw_read(r, off, buf, sizeof buf) != 0) {
            r->meta_rc[i] = BOLT_EINVALID;
            r->meta_why[i] = "not in the file";
            continue;
        }
        bolt__meta_fields(buf, &r->meta[i]);
        bolt__meta m;
        int rc = bolt__meta_decode(buf, sizeof buf, &m);
        const char *why = rc != 0 ? decode_why(rc) : NULL;
        if (rc == 0 && m.page_size != r->page_size) {
            rc = BOLT_EINVALID;
            why = "page size differs from the file's";
        }
        if (rc == 0)
            rc = bolt__meta_sane(&m, &why);
        if (rc == 0 && m.pgid * (uint64_t)r->page_size > r->file_size) {
            rc = BOLT_ECORRUPT;
            why = "file shorter than the high-water mark";
            r->meta_short[i] = true;
        }
        r->meta_rc[i] = rc;
        r->meta_why[i] = why;
    }
    r->current = -1;
    if (r->meta_rc[0] == 0)
        r->current = 0;
    if (r->meta_rc[1] == 0 && (r->current < 0 || r->meta[1].txid > r->meta[0].txid))
        r->current = 1;
}

int cli_raw_open(const char *cmd, const cli_opts *o, const char *path, cli_raw *r)
{
    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return cli_report(cmd, path, -errno);
    /* No lock at all (issue 20): pread never blocks a writer nor waits for one;
     * a command that must see one consistent state re-reads (cli_raw_view). */
    (void)o;
    int rc;
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        rc = -errno;
        cli_raw_close(r);
        return cli_report(cmd, path, rc);
    }
    if (!S_ISREG(st.st_mode)) {
        cli_raw_close(r);
        fprintf(stderr, "strata %s: %s: not a regular file\n", cmd, path);
        return CLI_NOOPEN;
    }
    r->file_size = (uint64_t)st.st_size;
    raw_page_size(r);
    r->file_pages = r->page_size ? r->file_size / r->page_size : 0;
    raw_metas(r);
    return CLI_OK;
}

void cli_raw_close(cli_raw *r)
{
    if (r->fd >= 0)
        close(r->fd); /* releases the lock */
    r->fd = -1;
}

const char *cli_raw_type_name(uint16_t flags)
{
    switch (flags) {
    case BOLT_PAGE_BRANCH:
        return "branch";
    case BOLT_PAGE_LEAF:
        return "leaf";
    case BOLT_PAGE_META:
        return "meta";
    case BOLT_PAGE_FREELIST:
        return "freelist";
    default:
        return "unknown";
    }
}

int cli_raw_page(const cli_raw *r, bolt_pgid id, unsigned char **buf, size_t *size,
                 const char **why)
{
    uint64_t ps = r->page_size;
    if (ps == 0 || id >= r->file_pages) {
        *why = "page lies past the end of the file";
        return BOLT_ECORRUPT;
    }
    unsigned char hdr[BOLT_PAGE_HEADER_SIZE];
    int rc = cli_raw_read(r, id * ps, hdr, sizeof hdr);
    if (rc != 0)
        return rc;
    uint64_t ov = bolt__ld32(hdr + BOLT_PAGE_OVERFLOW_OFF);
    if (ov >= r->file_pages - id) {
        *why = "overflow runs past the end of the file";
        return BOLT_ECORRUPT;
    }
    size_t n = (size_t)((ov + 1) * ps);
    unsigned char *b = malloc(n);
    if (b == NULL)
        return -ENOMEM;
    rc = cli_raw_read(r, id * ps, b, n);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *size = n;
    return 0;
}

typedef struct id_vec {
    bolt_pgid *ids;
    size_t n, cap;
} id_vec;

static int collect_id(bolt_pgid id, void *arg)
{
    id_vec *v = arg;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        bolt_pgid *p = realloc(v->ids, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 0;
}

int cli_raw_free_ids(const cli_raw *r, const bolt__meta *m, bolt_pgid **ids, size_t *n,
                     uint64_t *run_pages, const char **why)
{
    if (m->freelist == BOLT_NO_FREELIST)
        return BOLT_NOTFOUND;
    unsigned char *buf;
    size_t size;
    int rc = cli_raw_page(r, m->freelist, &buf, &size, why);
    if (rc != 0)
        return rc;
    if (bolt__ld64(buf + BOLT_PAGE_ID_OFF) != m->freelist) {
        free(buf);
        *why = "freelist page header id does not match its position";
        return BOLT_ECORRUPT;
    }
    bolt__freelist *f;
    rc = bolt__freelist_new(BOLT__FREELIST_ARRAY, &f);
    if (rc == 0) {
        rc = bolt__freelist_read(f, buf, size, m->pgid);
        if (rc == BOLT_ECORRUPT)
            *why = "freelist page is damaged (type, count or ids)";
    }
    id_vec v = { NULL, 0, 0 };
    if (rc == 0)
        rc = bolt__freelist_each(f, collect_id, &v);
    bolt__freelist_free(f);
    free(buf);
    if (rc != 0) {
        free(v.ids);
        return rc;
    }
    *ids = v.ids;
    *n = v.n;
    *run_pages = size / r->page_size;
    return 0;
}

int cli_raw_elem(const unsigned char *page, size_t size, unsigned i, uint32_t *flags, bolt_val *key,
                 bolt_val *value, bolt_pgid *child, const char **why)
{
    uint16_t pflags = bolt__ld16(page + BOLT_PAGE_FLAGS_OFF);
    uint64_t start = BOLT_PAGE_HEADER_SIZE + (uint64_t)i * BOLT_LEAF_ELEM_SIZE;
    if (pflags != BOLT_PAGE_BRANCH && pflags != BOLT_PAGE_LEAF) {
        *why = "not a branch or leaf page";
        return BOLT_ECORRUPT;
    }
    if (start + BOLT_LEAF_ELEM_SIZE > size) {
        *why = "element header lies past the end of the page";
        return BOLT_ECORRUPT;
    }
    const unsigned char *e = page + start;
    uint64_t pos, ksize, vsize = 0;
    if (pflags == BOLT_PAGE_LEAF) {
        pos = bolt__ld32(e + BOLT_LEAF_POS_OFF);
        ksize = bolt__ld32(e + BOLT_LEAF_KSIZE_OFF);
        vsize = bolt__ld32(e + BOLT_LEAF_VSIZE_OFF);
        *flags = bolt__ld32(e + BOLT_LEAF_FLAGS_OFF);
        *child = 0;
    } else {
        pos = bolt__ld32(e + BOLT_BRANCH_POS_OFF);
        ksize = bolt__ld32(e + BOLT_BRANCH_KSIZE_OFF);
        *child = bolt__ld64(e + BOLT_BRANCH_PGID_OFF);
        *flags = 0;
    }
    if (start + pos + ksize + vsize > size) {
        *why = "element key/value runs past the end of the page";
        return BOLT_ECORRUPT;
    }
    key->data = e + pos;
    key->size = (size_t)ksize;
    value->data = e + pos + ksize;
    value->size = (size_t)vsize;
    return 0;
}

/* ---- the walk -------------------------------------------------------------- */

typedef struct walker {
    const cli_raw *r;
    bolt_pgid limit; /* ids must be below this: min(hwm, file pages) */
    const cli_walk_ops *ops;
    void *arg;
    unsigned char *seen;
    unsigned frames; /* walk_tree calls on the C stack (rule 3) */
    bolt_val path[BOLT_MAX_NESTING];
} walker;

/*
 * Tree levels of all nested buckets together: bounds the walk's stack. The
 * commands that walk run on cli_big_stack; on an ordinary 8 MiB stack the
 * bound is lower (the walk checks how it was started).
 */
#define WALK_MAX_FRAMES       16384
#define WALK_MAX_FRAMES_SMALL 2048
/* The big stack: room for WALK_MAX_FRAMES levels even in ASan builds. */
#define WALK_STACK_BYTES      ((size_t)256 << 20)

/* True on a cli_big_stack thread (set by big_thread). */
static _Thread_local bool big_stack;

static void walk_skip(walker *w, bolt_pgid id, size_t depth, const bolt_val *lo, const bolt_val *hi,
                      const char *why)
{
    if (w->ops->skip != NULL)
        w->ops->skip(w->arg, id, w->path, depth, lo, hi, why);
}

static int walk_tree(walker *w, bolt_pgid id, size_t nesting, int level, const bolt_val *lo,
                     const bolt_val *hi);

/* The leaf elements of a checked leaf page (paged or inline) of bucket nesting. */
static int walk_leaf(walker *w, const bolt__page *p, size_t nesting)
{
    for (unsigned i = 0; i < p->count; i++) {
        uint32_t flags;
        bolt_val k, v;
        bolt__page_leaf_elem(p, i, &flags, &k, &v);
        int rc = 0;
        if (!(flags & BOLT_LEAF_BUCKET)) {
            if (w->ops->kv != NULL)
                rc = w->ops->kv(w->arg, w->path, nesting, k, v);
            if (rc != 0)
                return rc;
            continue;
        }
        if (nesting + 1 >= BOLT_MAX_NESTING) {
            walk_skip(w, p->id, nesting, &k, &k, "buckets nested too deep");
            continue;
        }
        const unsigned char *val = v.data;
        bolt_pgid root = bolt__ld64(val + BOLT_BUCKET_ROOT_OFF);
        uint64_t seq = bolt__ld64(val + BOLT_BUCKET_SEQ_OFF);
        w->path[nesting] = k;
        if (w->ops->bucket != NULL)
            rc = w->ops->bucket(w->arg, w->path, nesting + 1, seq);
        if (rc != 0)
            return rc;
        if (root != 0) {
            rc = walk_tree(w, root, nesting + 1, 0, NULL, NULL);
        } else {
            bolt__page ip;
            const char *why;
            if (bolt__page_load(val + BOLT_BUCKET_HEADER_SIZE, v.size - BOLT_BUCKET_HEADER_SIZE, 0,
                                &ip, &why) != 0)
                walk_skip(w, p->id, nesting + 1, NULL, NULL, why);
            else if (!bolt__page_is_leaf(&ip))
                walk_skip(w, p->id, nesting + 1, NULL, NULL, "inline bucket page is not a leaf");
            else
                rc = walk_leaf(w, &ip, nesting + 1);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk_tree_in(walker *w, bolt_pgid id, size_t nesting, int level, const bolt_val *lo,
                        const bolt_val *hi);

static int walk_tree(walker *w, bolt_pgid id, size_t nesting, int level, const bolt_val *lo,
                     const bolt_val *hi)
{
    if (w->frames >= (big_stack ? WALK_MAX_FRAMES : WALK_MAX_FRAMES_SMALL)) {
        walk_skip(w, id, nesting, lo, hi, "trees and buckets nested too deep to follow");
        return 0;
    }
    w->frames++;
    int rc = walk_tree_in(w, id, nesting, level, lo, hi);
    w->frames--;
    return rc;
}

static int walk_tree_in(walker *w, bolt_pgid id, size_t nesting, int level, const bolt_val *lo,
                        const bolt_val *hi)
{
    if (level >= BOLT_MAX_DEPTH) {
        walk_skip(w, id, nesting, lo, hi, "tree deeper than 64 levels (a cycle?)");
        return 0;
    }
    if (id < 2 || id >= w->limit) {
        walk_skip(w, id, nesting, lo, hi, "page id out of bounds");
        return 0;
    }
    if (cli_bit(w->seen, id)) {
        walk_skip(w, id, nesting, lo, hi, "page already reached (a cycle or a shared page)");
        return 0;
    }
    unsigned char *buf;
    size_t size;
    const char *why = NULL;
    int rc = cli_raw_page(w->r, id, &buf, &size, &why);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        walk_skip(w, id, nesting, lo, hi, why != NULL ? why : strerror(-rc));
        return 0;
    }
    bolt__page p;
    if (id + size / w->r->page_size > w->limit) {
        free(buf);
        walk_skip(w, id, nesting, lo, hi, "overflow runs past the high-water mark");
        return 0;
    }
    if (bolt__page_load(buf, size, id, &p, &why) != 0) {
        free(buf);
        walk_skip(w, id, nesting, lo, hi, why);
        return 0;
    }
    for (uint64_t i = 0; i <= p.overflow; i++)
        w->seen[(id + i) / 8] |= (unsigned char)(1u << ((id + i) % 8));
    if (w->ops->page != NULL)
        rc = w->ops->page(w->arg, id, p.overflow, p.flags);
    if (rc == 0 && bolt__page_is_leaf(&p)) {
        rc = walk_leaf(w, &p, nesting);
    } else if (rc == 0) {
        for (unsigned i = 0; i < p.count && rc == 0; i++) {
            bolt_val k, next;
            bolt_pgid child = bolt__page_branch_elem(&p, i, &k);
            const bolt_val *chi = hi;
            if (i + 1 < p.count) {
                bolt__page_branch_elem(&p, i + 1, &next);
                chi = &next;
            }
            rc = walk_tree(w, child, nesting, level + 1, i == 0 && lo != NULL ? lo : &k, chi);
        }
    }
    free(buf);
    return rc;
}

typedef struct big_job {
    int (*main_fn)(int argc, char **argv);
    int argc;
    char **argv;
    int rc;
} big_job;

static void *big_thread(void *arg)
{
    big_job *j = arg;
    big_stack = true;
    j->rc = j->main_fn(j->argc, j->argv);
    return NULL;
}

int cli_big_stack(int (*main_fn)(int argc, char **argv), int argc, char **argv)
{
    /* Reserved address space: only the stack pages a walk touches are used. */
    big_job job = { main_fn, argc, argv, 0 };
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0)
        return main_fn(argc, argv);
    int rc = pthread_attr_setstacksize(&attr, WALK_STACK_BYTES);
    if (rc == 0)
        rc = pthread_create(&t, &attr, big_thread, &job);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return main_fn(argc, argv); /* no thread: the walk's frame bound still applies */
    pthread_join(t, NULL);
    return job.rc;
}

int cli_walk(const cli_raw *r, bolt_pgid root, bolt_pgid hwm, const cli_walk_ops *ops, void *arg,
             unsigned char **reached)
{
    walker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->r = r;
    w->limit = hwm < r->file_pages ? hwm : r->file_pages;
    w->ops = ops;
    w->arg = arg;
    w->seen = calloc((size_t)(r->file_pages / 8 + 1), 1);
    if (w->seen == NULL) {
        free(w);
        return -ENOMEM;
    }
    int rc = walk_tree(w, root, 0, 0, NULL, NULL);
    if (reached != NULL && rc == 0)
        *reached = w->seen;
    else
        free(w->seen);
    free(w);
    return rc;
}

/* ---- verifying a copy (snapshot, restore) ---------------------------------- */

/* Problems printed before the rest are only counted. */
#define VERIFY_SHOW 20

typedef struct verify_run {
    const char *cmd, *path;
    uint64_t problems;
    cli_ticker *progress;
    FILE *err; /* where problems go: stderr, or a live check's held buffer */
} verify_run;

static void verify_report(void *arg, const char *problem)
{
    verify_run *v = arg;
    if (v->problems < VERIFY_SHOW) {
        if (v->progress != NULL && v->err == stderr)
            fputs("\r\033[K", stderr); /* over the progress line */
        fprintf(v->err, "strata %s: %s: %s\n", v->cmd, cli_path_shown(v->path), problem);
    }
    v->problems++;
}

/*
 * cli_verify_db, and under live its --live form: no lock, and the check
 * counts only when it read the state txid and no commit landed under it.
 */
static int verify_db(const char *cmd, const char *path, bool live, uint64_t txid,
                     uint64_t *problems, cli_ticker *progress)
{
    *problems = 0;
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    opt.live = live;
    opt.timeout_ms = 1000;
    bolt_db *db;
    int rc = bolt_open(path, &opt, &db);
    if (rc != 0) {
        fprintf(stderr, "strata %s: %s does not open as a bolt file: %s\n", cmd,
                cli_path_shown(path), cli_strerror(rc));
        return rc;
    }
    /* A live check's problems are held until it is known to have read one state. */
    cli_held held = { 0 };
    if (live && (rc = cli_held_begin(&held)) != 0) {
        bolt_close(db);
        return rc;
    }
    bolt_tx *tx;
    rc = bolt_tx_begin(db, 0, &tx);
    verify_run v = { cmd, path, 0, progress, live ? held.err : stderr };
    if (rc == 0) {
        if (live && bolt_tx_id(tx) != txid) {
            rc = BOLT_ELIVECHANGED; /* a newer state than the one copied */
        } else {
            rc = bolt_tx_check_progress(tx, verify_report, &v,
                                        progress != NULL ? cli_ticker_pages : NULL, progress);
            if (rc == BOLT_ECORRUPT)
                rc = 0; /* the problems are the answer */
            if (live && bolt_tx_live_verify(tx) != 0)
                rc = BOLT_ELIVECHANGED;
        }
        bolt_tx_rollback(tx);
    }
    bolt_close(db);
    if (live)
        cli_held_end(&held, rc != BOLT_ELIVECHANGED);
    if (rc != BOLT_ELIVECHANGED && v.problems > VERIFY_SHOW)
        fprintf(stderr,
                "strata %s: %s: ... %" PRIu64 " problems in all ('strata check' lists them)\n", cmd,
                cli_path_shown(path), v.problems);
    *problems = rc == BOLT_ELIVECHANGED ? 0 : v.problems;
    return rc;
}

int cli_verify_db(const char *cmd, const char *path, uint64_t *problems, cli_ticker *progress)
{
    return verify_db(cmd, path, false, 0, problems, progress);
}

int cli_verify_db_live(const char *cmd, const char *path, uint64_t txid, uint64_t *problems,
                       cli_ticker *progress)
{
    return verify_db(cmd, path, true, txid, problems, progress);
}
