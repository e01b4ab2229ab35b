/* test_snapshot.c: backend/snapshot.c (save with trailer / gzip, restore). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "backend_test.h"

static backend *filled(const char *name, int n)
{
    backend_options o = bk_opts(NULL);
    backend *be = bk_open(name, &o);
    bk_bucket(be, "key");
    bk_bucket(be, "meta");
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    for (int i = 0; i < n; i++) {
        char k[32], v[128];
        snprintf(k, sizeof k, "k%07d", i);
        snprintf(v, sizeof v, "value %d %0*d", i, i % 90, 1);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("key"), bolt_str(k), bolt_str(v)));
    }
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("meta"), bolt_str("consistent_index"),
                                   bolt_str("ci")));
    ASSERT_OK(backend_batch_tx_unlock(tx)); /* not committed: the snapshot commits */
    return be;
}

typedef struct prog {
    uint64_t done, total;
    int calls;
} prog;

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    prog *p = arg;
    ASSERT_TRUE(done > p->done && done <= total);
    p->done = done;
    p->total = total;
    p->calls++;
    return 0;
}

static uint64_t fsize(const char *path)
{
    struct stat sb;
    ASSERT_OK(stat(path, &sb) == 0 ? 0 : -errno);
    return (uint64_t)sb.st_size;
}

static void save(backend *be, const char *name, unsigned flags, prog *p, uint64_t *written)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    ASSERT_OK(backend_snapshot(be, fd, flags, on_progress, p, written));
    ASSERT_OK(close(fd));
    ASSERT_EQ_U64(fsize(path), *written);
}

static int restore(const char *from, const char *to)
{
    char a[4096], b[4096];
    harness_path(a, sizeof a, from);
    harness_path(b, sizeof b, to);
    int fd = open(a, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    int rc = backend_snapshot_restore(fd, b);
    close(fd);
    return rc;
}

/* Every form round-trips to a db with the same hash and content. */
static void test_round_trips(void)
{
    backend *be = filled("src.db", 4000);
    uint32_t h0;
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_hash(be, NULL, 0, &h0));
    const unsigned forms[] = { 0, BACKEND_SNAPSHOT_TRAILER, BACKEND_SNAPSHOT_GZIP,
                               BACKEND_SNAPSHOT_GZIP | BACKEND_SNAPSHOT_TRAILER };
    uint64_t plain = 0;
    for (int i = 0; i < 4; i++) {
        char snap[32], db[32];
        snprintf(snap, sizeof snap, "snap%d", i);
        snprintf(db, sizeof db, "restored%d.db", i);
        prog p = { 0 };
        uint64_t w = 0;
        save(be, snap, forms[i], &p, &w);
        ASSERT_EQ_U64(p.done, p.total);
        if (i == 0)
            plain = w;
        if (forms[i] == BACKEND_SNAPSHOT_TRAILER)
            ASSERT_EQ_U64(w, plain + 32); /* etcd's size % 4096 == 32 */
        if (forms[i] & BACKEND_SNAPSHOT_GZIP)
            ASSERT_TRUE(w < plain / 2);
        ASSERT_EQ_U64(plain % 4096, 0);
        ASSERT_OK(restore(snap, db));
        backend_options o = bk_opts(NULL);
        backend *r = bk_open(db, &o);
        uint32_t h;
        ASSERT_OK(backend_hash(r, NULL, 0, &h));
        ASSERT_EQ_HEX(h, h0);
        bk_str s;
        char want[160];
        snprintf(want, sizeof want, "k0003999=value 3999 %0*d ", 3999 % 90, 1);
        ASSERT_EQ_STR(bk_get(r, "key", "k0003999", &s), want);
        ASSERT_OK(backend_close(r));
    }
    ASSERT_RC(restore("snap0", "restored0.db"), -EEXIST);
    ASSERT_OK(backend_close(be));
}

static void flip_byte(const char *name, long off_from_end)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    int fd = open(path, O_RDWR);
    ASSERT_TRUE(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char c;
    ASSERT_EQ_INT(pread(fd, &c, 1, size - off_from_end), 1);
    c ^= 0x55;
    ASSERT_EQ_INT(pwrite(fd, &c, 1, size - off_from_end), 1);
    close(fd);
}

/* A damaged trailer or image is refused and leaves nothing behind. */
static void test_corrupt_refused(void)
{
    backend *be = filled("src2.db", 500);
    prog p = { 0 };
    uint64_t w;
    save(be, "t1", BACKEND_SNAPSHOT_TRAILER, &p, &w);
    flip_byte("t1", 5); /* inside the trailer */
    ASSERT_RC(restore("t1", "bad1.db"), BACKEND_ESNAPSHOTCHECKSUM);
    p = (prog){ 0 };
    save(be, "t2", BACKEND_SNAPSHOT_TRAILER, &p, &w);
    flip_byte("t2", 4096 + 32 + 100); /* inside the image: the sum no longer matches */
    ASSERT_RC(restore("t2", "bad2.db"), BACKEND_ESNAPSHOTCHECKSUM);
    char path[4096];
    ASSERT_TRUE(access(harness_path(path, sizeof path, "bad1.db"), F_OK) != 0);

    /* Truncated gzip, a size that is no page multiple, not a db at all. */
    p = (prog){ 0 };
    save(be, "g", BACKEND_SNAPSHOT_GZIP, &p, &w);
    harness_path(path, sizeof path, "g");
    ASSERT_OK(truncate(path, (off_t)(w / 2)));
    ASSERT_RC(restore("g", "bad3.db"), BACKEND_ESNAPSHOTFORMAT);
    p = (prog){ 0 };
    save(be, "odd", 0, &p, &w);
    harness_path(path, sizeof path, "odd");
    ASSERT_OK(truncate(path, (off_t)(w - 100)));
    ASSERT_RC(restore("odd", "bad4.db"), BACKEND_ESNAPSHOTFORMAT);
    FILE *f = fopen(harness_path(path, sizeof path, "junk"), "wb");
    for (int i = 0; i < 3 * 4096; i++)
        fputc(i & 0xff, f);
    fclose(f);
    ASSERT_RC(restore("junk", "bad5.db"), BACKEND_ESNAPSHOTFORMAT);
    /* A gzip snapshot is one member and nothing after it: bytes appended
     * to a good one (junk, or the same member again) are refused. */
    p = (prog){ 0 };
    save(be, "gz", BACKEND_SNAPSHOT_GZIP | BACKEND_SNAPSHOT_TRAILER, &p, &w);
    ASSERT_OK(restore("gz", "good.db"));
    f = fopen(harness_path(path, sizeof path, "gz"), "ab");
    fputs("junk", f);
    fclose(f);
    ASSERT_RC(restore("gz", "bad6.db"), BACKEND_ESNAPSHOTFORMAT);
    p = (prog){ 0 };
    save(be, "gz2", BACKEND_SNAPSHOT_GZIP, &p, &w);
    char two[4096];
    harness_path(two, sizeof two, "gz2");
    FILE *in = fopen(two, "rb");
    unsigned char *member = malloc(w);
    ASSERT_EQ_SIZE(fread(member, 1, w, in), (size_t)w);
    fclose(in);
    f = fopen(two, "ab");
    ASSERT_EQ_SIZE(fwrite(member, 1, w, f), (size_t)w);
    fclose(f);
    free(member);
    ASSERT_RC(restore("gz2", "bad7.db"), BACKEND_ESNAPSHOTFORMAT);
    for (int i = 3; i <= 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%d.db", i);
        ASSERT_TRUE(access(harness_path(path, sizeof path, name), F_OK) != 0);
    }
    /* No temporary file is left behind either. */
    DIR *d = opendir(harness_tmpdir());
    ASSERT_NOT_NULL(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        ASSERT_TRUE(strstr(e->d_name, ".restore-") == NULL);
    closedir(d);
    ASSERT_RC(backend_snapshot(be, -1, 0, NULL, NULL, NULL), STRATA_EMISUSE);
    ASSERT_RC(backend_snapshot_restore(-1, path), STRATA_EMISUSE);
    ASSERT_OK(backend_close(be));
}

/* The trailer is the SHA-256 of the image, as etcd writes it. */
static void test_trailer_is_sha256(void)
{
    backend *be = filled("src3.db", 100);
    prog p = { 0 };
    uint64_t w;
    save(be, "t", BACKEND_SNAPSHOT_TRAILER, &p, &w);
    char path[4096];
    FILE *f = fopen(harness_path(path, sizeof path, "t"), "rb");
    unsigned char *buf = malloc(w);
    ASSERT_EQ_SIZE(fread(buf, 1, w, f), w);
    fclose(f);
    uint8_t d[32];
    strata_sha256(buf, w - 32, d);
    ASSERT_EQ_MEM(d, 32, buf + w - 32, 32);
    /* A gzip snapshot inflates to the same kind of bytes (zlib's gunzip). */
    p = (prog){ 0 };
    save(be, "tz", BACKEND_SNAPSHOT_GZIP | BACKEND_SNAPSHOT_TRAILER, &p, &w);
    gzFile gz = gzopen(harness_path(path, sizeof path, "tz"), "rb");
    ASSERT_NOT_NULL(gz);
    unsigned char *buf2 = malloc(p.total + 64);
    int n = gzread(gz, buf2, (unsigned)(p.total + 64));
    gzclose(gz);
    ASSERT_EQ_INT(n, (int)(p.total + 32));
    strata_sha256(buf2, p.total, d);
    ASSERT_EQ_MEM(d, 32, buf2 + p.total, 32);
    free(buf);
    free(buf2);
    ASSERT_OK(backend_close(be));
}

typedef struct writing {
    backend *be;
    int calls;
} writing;

/* On the first progress call, change the db a lot: the copy must not see it. */
static int write_during(void *arg, uint64_t done, uint64_t total)
{
    writing *w = arg;
    if (w->calls++ > 0)
        return 0;
    backend_batch_tx *tx = backend_batch(w->be);
    backend_batch_tx_lock(tx);
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%07d", i);
        if (backend_batch_tx_delete(tx, bolt_str("key"), bolt_str(k)) != 0)
            return -EINVAL;
        snprintf(k, sizeof k, "n%07d", i);
        if (backend_batch_tx_put(tx, bolt_str("key"), bolt_str(k), bolt_str("new")) != 0)
            return -EINVAL;
    }
    if (backend_batch_tx_unlock(tx) != 0)
        return -EINVAL;
    return backend_force_commit(w->be);
}

static int count(void *arg, bolt_val key, bolt_val value)
{
    (*(int *)arg)++;
    return ((const char *)key.data)[0] == 'k' ? 0 : -EINVAL;
}

/* The copy is the state at the call while writes and commits go on. */
static void test_consistent_while_writing(void)
{
    backend *be = filled("src4.db", 6000);
    writing w = { be, 0 };
    char path[4096];
    harness_path(path, sizeof path, "during");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    uint64_t written;
    ASSERT_OK(backend_snapshot(be, fd, BACKEND_SNAPSHOT_TRAILER, write_during, &w, &written));
    close(fd);
    ASSERT_TRUE(w.calls >= 2);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "key", "n0000000", &s), "n0000000=new ");
    ASSERT_OK(backend_close(be));
    ASSERT_OK(restore("during", "during.db"));
    backend_options o = bk_opts(NULL);
    be = bk_open("during.db", &o);
    int n = 0;
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("key"), count, &n));
    backend_read_tx_end(rt);
    ASSERT_EQ_INT(n, 6000);
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_round_trips);
    RUN(test_corrupt_refused);
    RUN(test_trailer_is_sha256);
    RUN(test_consistent_while_writing);
    return 0;
}
