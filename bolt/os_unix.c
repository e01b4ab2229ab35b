/*
 * os_unix.c: the default I/O table (os.h) over the POSIX calls.
 *
 * Rules:
 *   1. Each entry is a thin wrapper with the system call's own contract, so
 *      a test's replacement can be written from the man page.
 *   2. EINTR is retried here, once per call site, so the engine never sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "os.h"

static int os_open(const char *path, int flags, int mode)
{
    int fd;
    do {
        fd = open(path, flags, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

static int os_close(int fd)
{
    return close(fd);
}

static ssize_t os_pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r;
    do {
        r = pread(fd, buf, n, off);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t os_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r;
    do {
        r = pwrite(fd, buf, n, off);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t os_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    ssize_t r;
    do {
        r = pwritev(fd, iov, iovcnt, off);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int os_fdatasync(int fd)
{
    int r;
    do {
        r = fdatasync(fd);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int os_fsync(int fd)
{
    int r;
    do {
        r = fsync(fd);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int os_fallocate(int fd, off_t off, off_t len)
{
    int r;
    do {
        r = posix_fallocate(fd, off, len);
    } while (r == EINTR);
    return r;
}

static int os_ftruncate(int fd, off_t len)
{
    int r;
    do {
        r = ftruncate(fd, len);
    } while (r < 0 && errno == EINTR);
    return r;
}

static void *os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

static int os_munmap(void *addr, size_t len)
{
    return munmap(addr, len);
}

static int os_flock(int fd, int op)
{
    int r;
    do {
        r = flock(fd, op);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int os_fstat(int fd, struct stat *st)
{
    return fstat(fd, st);
}

static const struct bolt_os os_default = {
    .open = os_open,
    .close = os_close,
    .pread = os_pread,
    .pwrite = os_pwrite,
    .pwritev = os_pwritev,
    .fdatasync = os_fdatasync,
    .fsync = os_fsync,
    .fallocate = os_fallocate,
    .ftruncate = os_ftruncate,
    .mmap = os_mmap,
    .munmap = os_munmap,
    .flock = os_flock,
    .fstat = os_fstat,
    .failpoint = NULL,
};

const struct bolt_os *bolt__os_default(void)
{
    return &os_default;
}

#define FS_EXT4_MAGIC  0xEF53u     /* ext2/3/4 share it; all rewrite blocks in place */
#define FS_TMPFS_MAGIC 0x01021994u /* fallocate allocates the pages themselves */

bool bolt__os_overwrites_in_place(int fd)
{
    struct statfs st;
    int r;
    do {
        r = fstatfs(fd, &st);
    } while (r < 0 && errno == EINTR);
    if (r != 0)
        return false;
    unsigned long type = (unsigned long)st.f_type;
    return type == FS_EXT4_MAGIC || type == FS_TMPFS_MAGIC;
}

void bolt__os_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int bolt__write_full(const struct bolt_os *os, int fd, const void *buf, size_t n, uint64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = os->pwrite(fd, p, n, (off_t)off);
        if (w < 0)
            return errno != 0 ? -errno : -EIO;
        if (w == 0)
            return -EIO; /* no progress and no error: never loop on it */
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}
