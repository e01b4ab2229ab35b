/*
 * os.h (private to bolt/ and its tests): the I/O layer.
 *
 * Every system call the engine makes on its file goes through one of these
 * function pointers, so tests can replace any of them (a full disk, a failed
 * fdatasync, a short write) without touching the engine. The default table
 * (bolt__os_default) calls the real functions. All functions return what the
 * system call returns (ssize_t or 0/-1 with errno set), except fallocate,
 * which returns 0 or an errno value like posix_fallocate.
 *
 * Failpoints: BOLT_FAILPOINT(db, "name") evaluates to 0, or to the status a
 * test's failpoint hook returns for that name; compiled in only when
 * STRATA_FAILPOINTS is 1 (strata_config.h), else the constant 0.
 */
#ifndef STRATA_BOLT_OS_H
#define STRATA_BOLT_OS_H

#include <strata/bolt.h>

#include <stdbool.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "strata_config.h"

struct bolt_os {
    int (*open)(const char *path, int flags, int mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*fallocate)(int fd, off_t off, off_t len); /* 0 or an errno value */
    int (*ftruncate)(int fd, off_t len);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*flock)(int fd, int op);
    int (*fstat)(int fd, struct stat *st);
    /* Failpoint hook: 0 to continue, or a status to fail with. NULL = none. */
    int (*failpoint)(const char *name);
};

/* The table of real system calls; static, never NULL. */
const struct bolt_os *bolt__os_default(void);

/*
 * pwrite all n bytes of buf at off through os: a short write goes on from
 * where it stopped (so the call that cannot write reports the real errno,
 * e.g. EFBIG or ENOSPC), a write of 0 bytes is -EIO (never a loop). 0 or
 * -errno.
 */
int bolt__write_full(const struct bolt_os *os, int fd, const void *buf, size_t n, uint64_t off);

/*
 * Whether the file system under fd rewrites a file's allocated blocks in
 * place, so that a store through a shared writable map into a block that
 * posix_fallocate allocated can never need new space (ext4, tmpfs). false
 * for copy-on-write file systems (btrfs, XFS with reflinks, ZFS), for
 * everything not known, and when fstatfs fails. Not replaceable: only the
 * default I/O table's users write through a map (db.c rule 9).
 */
bool bolt__os_overwrites_in_place(int fd);

/* Sleep for ms milliseconds (the flock retry); not replaceable. */
void bolt__os_sleep_ms(unsigned ms);

#if STRATA_FAILPOINTS
#define BOLT_FAILPOINT(db, name) ((db)->os->failpoint != NULL ? (db)->os->failpoint(name) : 0)
#else
#define BOLT_FAILPOINT(db, name) 0
#endif

#endif
