/*
 * io.c: small I/O helpers every layer needs the same way.
 */
#include <strata/common.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strdup.h"

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

int strata_sync_dir_of(const char *path)
{
    char *copy = strata__strdup(path); /* dirname may modify its argument */
    if (copy == NULL)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    strata_free(copy);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}
