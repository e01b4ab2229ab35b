/*
 * snapshot.c: streaming a consistent copy of the db (etcd's Snapshot and
 * `etcdctl snapshot save`) and creating a db from one (`snapshot restore`).
 *
 * Stream format: the bolt image of bolt_tx_write_fn (bbolt's WriteTo), then,
 * with BACKEND_SNAPSHOT_TRAILER, the 32-byte SHA-256 of the image (etcd's
 * trailer, so the size is pages * page_size + 32); with
 * BACKEND_SNAPSHOT_GZIP all of that as one gzip member (zlib).
 *
 * Rules:
 *   1. Save forces a commit, then copies from a bolt read transaction it
 *      begins itself, so the copy holds every write made before the call
 *      and none after, while writers go on.
 *   2. Restore recognises the form from the bytes alone: gzip by its magic
 *      (1f 8b), then the bolt magic in meta 0, and a trailer by the size:
 *      size % page_size == 32 means a trailer (verified before the file is
 *      used), 0 means none; anything else is refused. A gzip snapshot is
 *      one member and nothing after it: trailing bytes (junk, or a second
 *      member that save never writes) are refused, not ignored.
 *   3. Restore holds the last 32 bytes back while streaming, so it never
 *      needs to know the size in advance (a pipe or a gzip stream).
 *   4. The restored file is written under a name of its own (path +
 *      ".restore-XXXXXX", made by mkstemp, so two restores never share
 *      or remove each other's file), synced, opened once as a bolt file,
 *      linked to its final name (never over an existing file) and the
 *      directory synced; any failure removes the temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "backend_int.h"

#define SNAP_CHUNK   (256 * 1024)
#define TRAILER_SIZE 32
#define BOLT_MAGIC_V 0xED0CDAEDu

/* zlib's state lives in the library's allocator too (strata_set_allocator). */
static voidpf snap_zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return strata_calloc(items, size);
}

static void snap_zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    strata_free(p);
}

/* ---- save ------------------------------------------------------------------ */

typedef struct sink {
    int fd;
    unsigned flags;
    strata_sha256_ctx sha;
    z_stream z;
    unsigned char *zout;
    uint64_t written;
} sink;

/* Deflate (or pass through) n bytes; finish flushes the gzip stream. */
static int sink_out(sink *s, const void *buf, size_t n, bool finish)
{
    if (!(s->flags & BACKEND_SNAPSHOT_GZIP)) {
        int rc = strata_write_all(s->fd, buf, n);
        if (rc == 0)
            s->written += n;
        return rc;
    }
    s->z.next_in = (Bytef *)buf;
    s->z.avail_in = (uInt)n;
    int zr;
    /* Loop invariant: all output deflate produced so far is written. */
    do {
        s->z.next_out = s->zout;
        s->z.avail_out = SNAP_CHUNK;
        zr = deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR)
            return -EIO;
        size_t have = SNAP_CHUNK - s->z.avail_out;
        int rc = strata_write_all(s->fd, s->zout, have);
        if (rc != 0)
            return rc;
        s->written += have;
    } while (s->z.avail_out == 0 || (finish && zr != Z_STREAM_END));
    return 0;
}

static int sink_write(void *arg, const void *buf, size_t n)
{
    sink *s = arg;
    if (s->flags & BACKEND_SNAPSHOT_TRAILER)
        strata_sha256_update(&s->sha, buf, n);
    /* Chunks from bolt are at most 1 MiB: well inside uInt. */
    return sink_out(s, buf, n, false);
}

int backend_snapshot(backend *be, int fd, unsigned flags,
                     int (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
                     uint64_t *written)
{
    if (fd < 0 || (flags & ~(BACKEND_SNAPSHOT_TRAILER | BACKEND_SNAPSHOT_GZIP)) != 0)
        return STRATA_EMISUSE;
    int rc = backend_force_commit(be);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&be->snap_mu);
    if (be->closed) {
        pthread_mutex_unlock(&be->snap_mu);
        return BACKEND_ECLOSED;
    }
    backend__dbref *ref = be->cur;
    bolt_tx *tx;
    rc = bolt_tx_begin(ref->db, 0, &tx);
    if (rc == 0)
        ref->refs++;
    pthread_mutex_unlock(&be->snap_mu);
    if (rc != 0)
        return rc;
    sink s = { .fd = fd, .flags = flags, .z = { .zalloc = snap_zalloc, .zfree = snap_zfree } };
    strata_sha256_init(&s.sha);
    if (flags & BACKEND_SNAPSHOT_GZIP) {
        s.zout = strata_malloc(SNAP_CHUNK);
        if (s.zout == NULL || deflateInit2(&s.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                           Z_DEFAULT_STRATEGY) != Z_OK) {
            strata_free(s.zout);
            bolt_tx_rollback(tx);
            backend__dbref_unref(be, ref);
            return -ENOMEM;
        }
    }
    rc = bolt_tx_write_fn(tx, sink_write, &s, progress, arg);
    bolt_tx_rollback(tx);
    backend__dbref_unref(be, ref);
    if (rc == 0 && (flags & BACKEND_SNAPSHOT_TRAILER)) {
        unsigned char digest[TRAILER_SIZE];
        strata_sha256_final(&s.sha, digest);
        rc = sink_out(&s, digest, sizeof digest, false);
    }
    if (rc == 0 && (flags & BACKEND_SNAPSHOT_GZIP))
        rc = sink_out(&s, NULL, 0, true);
    if (flags & BACKEND_SNAPSHOT_GZIP) {
        deflateEnd(&s.z);
        strata_free(s.zout);
    }
    if (rc == 0 && written != NULL)
        *written = s.written;
    return rc;
}

/* ---- restore --------------------------------------------------------------- */

typedef struct source_in {
    int fd;
    bool gzip, eof, zdone;
    z_stream z;
    unsigned char *in; /* compressed input */
    size_t in_len;     /* bytes of `in` read ahead before gzip was detected */
    /* Progress: bytes read from fd of its size (0 when not a regular file). */
    void (*progress)(void *arg, uint64_t done, uint64_t total);
    void *progress_arg;
    uint64_t read, total, next_report;
} source_in;

#define PROGRESS_BYTES (4u << 20) /* bytes between progress calls */

static int read_some(source_in *s, unsigned char *buf, size_t cap, size_t *got)
{
    for (;;) {
        ssize_t r = read(s->fd, buf, cap);
        if (r >= 0) {
            *got = (size_t)r;
            s->read += (uint64_t)r;
            if (s->progress != NULL && (s->read >= s->next_report || r == 0)) {
                s->progress(s->progress_arg, s->read, s->total);
                s->next_report = s->read + PROGRESS_BYTES;
            }
            return 0;
        }
        if (errno != EINTR)
            return -errno;
    }
}

/* Rule 2: after the gzip member, the input must end. */
static int expect_no_more(source_in *s)
{
    if (s->z.avail_in > 0)
        return BACKEND_ESNAPSHOTFORMAT;
    while (!s->eof) {
        size_t n = 0;
        int rc = read_some(s, s->in, SNAP_CHUNK, &n);
        if (rc != 0)
            return rc;
        if (n > 0)
            return BACKEND_ESNAPSHOTFORMAT;
        s->eof = true;
    }
    return 0;
}

/* Up to cap bytes of the image stream; *got 0 at the end. */
static int source_read(source_in *s, unsigned char *out, size_t cap, size_t *got)
{
    *got = 0;
    if (!s->gzip) {
        if (s->in_len > 0) { /* the bytes read to sniff the format */
            size_t n = s->in_len < cap ? s->in_len : cap;
            memcpy(out, s->in, n);
            memmove(s->in, s->in + n, s->in_len - n);
            s->in_len -= n;
            *got = n;
            return 0;
        }
        return read_some(s, out, cap, got);
    }
    if (s->zdone)
        return 0;
    s->z.next_out = out;
    s->z.avail_out = (uInt)cap;
    /* Loop invariant: z.next_in holds unconsumed input, if any. */
    while (s->z.avail_out == cap) {
        if (s->z.avail_in == 0 && !s->eof) {
            size_t n = 0;
            int rc = read_some(s, s->in, SNAP_CHUNK, &n);
            if (rc != 0)
                return rc;
            s->eof = n == 0;
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)n;
        }
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            s->zdone = true;
            int rc = expect_no_more(s);
            if (rc != 0)
                return rc;
            break;
        }
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && !s->eof))
            return BACKEND_ESNAPSHOTFORMAT; /* corrupt, or truncated at EOF */
    }
    *got = cap - s->z.avail_out;
    return 0;
}

static uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Stream the image into tmpfd (rule 3), verifying a trailer (rule 2). */
static int restore_stream(source_in *s, int tmpfd)
{
    unsigned char *buf = strata_malloc(TRAILER_SIZE + SNAP_CHUNK);
    if (buf == NULL)
        return -ENOMEM;
    unsigned char head[32];
    size_t nhead = 0, nhold = 0;
    uint64_t released = 0;
    strata_sha256_ctx sha;
    strata_sha256_init(&sha);
    int rc = 0;
    for (;;) {
        size_t got;
        rc = source_read(s, buf + nhold, SNAP_CHUNK, &got);
        if (rc != 0 || got == 0)
            break;
        size_t total = nhold + got;
        if (total <= TRAILER_SIZE) {
            nhold = total;
            continue;
        }
        size_t out = total - TRAILER_SIZE;
        if (nhead < sizeof head) {
            size_t n = out < sizeof head - nhead ? out : sizeof head - nhead;
            memcpy(head + nhead, buf, n);
            nhead += n;
        }
        strata_sha256_update(&sha, buf, out);
        rc = strata_write_all(tmpfd, buf, out);
        if (rc != 0)
            break;
        released += out;
        memmove(buf, buf + out, TRAILER_SIZE);
        nhold = TRAILER_SIZE;
    }
    if (rc == 0) {
        uint32_t ps = nhead >= 28 ? ld32(head + 24) : 0;
        uint64_t size = released + nhold;
        if (nhead < 28 || ld32(head + 16) != BOLT_MAGIC_V || ps < 512 || (ps & (ps - 1)) != 0) {
            rc = BACKEND_ESNAPSHOTFORMAT;
        } else if (size % ps == TRAILER_SIZE && nhold == TRAILER_SIZE) {
            unsigned char digest[TRAILER_SIZE];
            strata_sha256_final(&sha, digest);
            if (memcmp(digest, buf, TRAILER_SIZE) != 0)
                rc = BACKEND_ESNAPSHOTCHECKSUM;
        } else if (size % ps == 0) {
            rc = strata_write_all(tmpfd, buf, nhold);
        } else {
            rc = BACKEND_ESNAPSHOTFORMAT;
        }
    }
    strata_free(buf);
    return rc;
}

int backend_snapshot_restore(int fd, const char *path)
{
    return backend_snapshot_restore_progress(fd, path, NULL, NULL);
}

int backend_snapshot_restore_progress(int fd, const char *path,
                                      void (*progress)(void *arg, uint64_t done, uint64_t total),
                                      void *arg)
{
    if (fd < 0 || path == NULL)
        return STRATA_EMISUSE;
    if (access(path, F_OK) == 0)
        return -EEXIST;
    char *tmp = backend__path_with(path, ".restore-XXXXXX");
    source_in s = { .fd = fd,
                    .z = { .zalloc = snap_zalloc, .zfree = snap_zfree },
                    .progress = progress,
                    .progress_arg = arg };
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (progress != NULL && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 &&
        st.st_size >= at)
        s.total = (uint64_t)(st.st_size - at); /* what is left to read */
    s.in = strata_malloc(SNAP_CHUNK);
    if (tmp == NULL || s.in == NULL) {
        strata_free(tmp);
        strata_free(s.in);
        return -ENOMEM;
    }
    /* Rule 2: sniff the first bytes. */
    int rc = 0;
    while (rc == 0 && s.in_len < 2) {
        size_t n = 0;
        rc = read_some(&s, s.in + s.in_len, SNAP_CHUNK - s.in_len, &n);
        if (n == 0)
            break;
        s.in_len += n;
    }
    if (rc == 0 && s.in_len >= 2 && s.in[0] == 0x1f && s.in[1] == 0x8b) {
        s.gzip = true;
        s.z.next_in = s.in;
        s.z.avail_in = (uInt)s.in_len;
        s.in_len = 0;
        if (inflateInit2(&s.z, 15 + 16) != Z_OK)
            rc = -ENOMEM;
    }
    int tmpfd = -1;
    if (rc == 0) {
        tmpfd = mkostemp(tmp, O_CLOEXEC);
        if (tmpfd < 0)
            rc = -errno;
    }
    if (rc == 0)
        rc = restore_stream(&s, tmpfd);
    if (rc == 0 && fsync(tmpfd) != 0)
        rc = -errno;
    if (tmpfd >= 0 && close(tmpfd) != 0 && rc == 0)
        rc = -errno;
    if (s.gzip)
        inflateEnd(&s.z);
    strata_free(s.in);
    if (rc == 0) {
        /* Rule 4: it must open as a bolt file before it gets its name. */
        bolt_options o;
        bolt_options_init(&o);
        o.read_only = true;
        o.mmap_reserve = 1;
        bolt_db *db;
        rc = bolt_open(tmp, &o, &db);
        if (rc == 0)
            rc = bolt_close(db);
    }
    if (rc == 0 && link(tmp, path) != 0)
        rc = -errno;
    if (tmpfd >= 0)
        unlink(tmp);
    if (rc == 0)
        rc = strata_sync_dir_of(path);
    strata_free(tmp);
    return rc;
}
