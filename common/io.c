/*
 * io.c: small I/O helpers every layer needs the same way.
 */
#include <strata/common.h>

#include <errno.h>
#include <unistd.h>

int strata_write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    /* Loop invariant: p[0..n) is what remains to be written. */
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
