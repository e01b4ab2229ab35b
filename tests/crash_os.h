/*
 * crash_os.h: the kill switch of the crash tests that run a workload in a
 * child process and check the db it leaves (tests/mvcc/test_crash.c,
 * tests/lease/test_revoke_crash.c). Header-only, like harness.h; include
 * it after harness.h in a test that may include bolt's private os.h.
 *
 * The child opens its db with crash_os() as bolt's I/O table. Once it sets
 * crash.armed, every write, sync and growth call (pwrite, pwritev,
 * fdatasync, fsync, fallocate, ftruncate) is counted, and the process
 * kills itself with SIGKILL before the crash.target-th one (or after it,
 * crash.after: the call's effect made, its return never seen); or, with
 * crash.failpoint set, at the (crash.skip + 1)-th hit of that failpoint
 * (bolt's, through the table, or any layer's that calls crash_failpoint())
 * and at no I/O call. The parent sets the point with crash_at() or
 * crash_at_failpoint() before crash_fork(), which the child inherits, and
 * crash_wait() tells whether the child was killed (any other end but exit
 * status 0 fails the test).
 */
#ifndef STRATA_TESTS_CRASH_OS_H
#define STRATA_TESTS_CRASH_OS_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "os.h"

/* Where the child dies; a test may add its own fields beside it, not here. */
static struct {
    bool armed;            /* count I/O calls and failpoint hits (the child sets it) */
    unsigned sites;        /* I/O calls counted so far */
    unsigned target;       /* die at this I/O call (1-based); 0 = at none */
    bool after;            /* die after the call instead of before it */
    const char *failpoint; /* die at this failpoint instead of at an I/O call */
    unsigned skip;         /* ... at its (skip + 1)-th hit */
} crash;

/* Die at the k-th I/O call from the arming on, before it or after it. */
static HARNESS_UNUSED void crash_at(unsigned k, bool after)
{
    memset(&crash, 0, sizeof crash);
    crash.target = k;
    crash.after = after;
}

/* Die at the (skip + 1)-th hit of the failpoint name from the arming on. */
static HARNESS_UNUSED void crash_at_failpoint(const char *name, unsigned skip)
{
    memset(&crash, 0, sizeof crash);
    crash.failpoint = name;
    crash.skip = skip;
}

static const struct bolt_os *crash__real(void)
{
    return bolt__os_default();
}

/* True when this I/O call is the one to die at. */
static bool crash__site(void)
{
    return crash.armed && crash.failpoint == NULL && ++crash.sites == crash.target;
}

/* Run call, dying before or after it when it is the chosen site. */
#define CRASH__WRAP(call)      \
    bool k = crash__site();    \
    if (k && !crash.after)     \
        raise(SIGKILL);        \
    __typeof__(call) r = call; \
    if (k)                     \
        raise(SIGKILL);        \
    return r

static ssize_t crash__pwrite(int fd, const void *buf, size_t n, off_t off)
{
    CRASH__WRAP(crash__real()->pwrite(fd, buf, n, off));
}

static ssize_t crash__pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    CRASH__WRAP(crash__real()->pwritev(fd, iov, iovcnt, off));
}

static int crash__fdatasync(int fd)
{
    CRASH__WRAP(crash__real()->fdatasync(fd));
}

static int crash__fsync(int fd)
{
    CRASH__WRAP(crash__real()->fsync(fd));
}

static int crash__fallocate(int fd, off_t off, off_t len)
{
    CRASH__WRAP(crash__real()->fallocate(fd, off, len));
}

static int crash__ftruncate(int fd, off_t len)
{
    CRASH__WRAP(crash__real()->ftruncate(fd, len));
}

/* A failpoint hook: dies at the chosen hit of crash.failpoint, else 0 (go on). */
static int crash_failpoint(const char *name)
{
    if (crash.armed && crash.failpoint != NULL && strcmp(name, crash.failpoint) == 0 &&
        crash.skip-- == 0)
        raise(SIGKILL);
    return 0;
}

/* bolt's real I/O table with the calls above in place; static, never NULL. */
static HARNESS_UNUSED const struct bolt_os *crash_os(void)
{
    static struct bolt_os os;
    static bool made;
    if (!made) {
        os = *crash__real();
        os.pwrite = crash__pwrite;
        os.pwritev = crash__pwritev;
        os.fdatasync = crash__fdatasync;
        os.fsync = crash__fsync;
        os.fallocate = crash__fallocate;
        os.ftruncate = crash__ftruncate;
        os.failpoint = crash_failpoint;
        made = true;
    }
    return &os;
}

/* Copy the file from to the file to (created or truncated): each run starts from the base. */
static HARNESS_UNUSED void crash_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    ASSERT_TRUE(in >= 0);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(out >= 0);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        ASSERT_OK(strata_write_all(out, buf, (size_t)n));
    ASSERT_TRUE(n == 0);
    close(in);
    close(out);
}

/* fork() with stdio flushed (a child must not print the parent's buffers again). */
static HARNESS_UNUSED pid_t crash_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    return pid;
}

/* Wait for the child: true when SIGKILL ended it; otherwise it must have exited 0. */
static HARNESS_UNUSED bool crash_wait(pid_t pid)
{
    int st;
    ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) {
        ASSERT_EQ_INT(WTERMSIG(st), SIGKILL);
        return true;
    }
    ASSERT_TRUE(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0)
        fprintf(stderr, "child exited with %d\n", WEXITSTATUS(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    return false;
}

#endif
