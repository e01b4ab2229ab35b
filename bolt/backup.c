/*
 * backup.c: a consistent byte image of the database as a read transaction
 * sees it (bbolt's Tx.WriteTo), streamed to a file descriptor or a sink,
 * and the free-page count a write transaction sees (bbolt's FreePageN).
 *
 * Rules:
 *   1. The image is the two meta pages regenerated from the transaction's
 *      meta (page 0 with its txid, page 1 with txid - 1, each with its own
 *      checksum; docs/format.md §3.1), then pages 2 .. pgid - 1 as they are in
 *      the file. So the copy opens on meta 0 and its size is exactly
 *      pgid * page_size bytes.
 *   2. Data pages are read with pread, not through the map: a failing disk
 *      then gives -EIO instead of a SIGBUS. (A memory image has no file and
 *      is copied from memory.)
 *   3. The copy is consistent while writers go on: the read transaction
 *      keeps every page it can reach from being reused (tx.c rule 2), and
 *      pages it cannot reach are free in the copy whatever bytes they hold.
 *   4. Only read transactions are copied: a write transaction's meta
 *      describes pages that are not on disk yet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt_int.h"

#define COPY_CHUNK (1024 * 1024)

/* The destination may be a pipe or a socket: plain write(2), short writes retried. */
static int fd_write(void *arg, const void *buf, size_t n)
{
    return strata_write_all(*(const int *)arg, buf, n);
}

int bolt_tx_write_fn(bolt_tx *tx, int (*write_fn)(void *arg, const void *buf, size_t n),
                     void *write_arg, int (*progress)(void *arg, uint64_t done, uint64_t total),
                     void *progress_arg)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    if (tx->writable || write_fn == NULL)
        return STRATA_EMISUSE;
    bolt_db *db = tx->db;
    uint64_t ps = db->page_size;
    uint64_t total = tx->meta.pgid * ps;
    size_t chunk = ps > COPY_CHUNK ? (size_t)ps : COPY_CHUNK;
    unsigned char *buf = strata_calloc(1, chunk);
    if (buf == NULL)
        return -ENOMEM;
    /* Rule 1: the two metas. */
    bolt__meta m = tx->meta;
    bolt__meta_encode(&m, 0, buf, (size_t)ps);
    m.txid -= 1;
    bolt__meta_encode(&m, 1, buf + ps, (size_t)ps);
    uint64_t done = 0;
    rc = write_fn(write_arg, buf, (size_t)(2 * ps));
    if (rc == 0) {
        done = 2 * ps;
        if (progress != NULL)
            rc = progress(progress_arg, done, total);
    }
    /* Loop invariant: bytes [0, done) of the image are written. */
    while (rc == 0 && done < total) {
        size_t n = total - done < chunk ? (size_t)(total - done) : chunk;
        if (db->fd < 0) {
            if (done + n > tx->limit) {
                rc = bolt__corrupt(db, done / ps, "page past the end of the image");
                break;
            }
            memcpy(buf, tx->map->base + done, n);
        } else {
            size_t got = 0;
            /* Rule 2: pread, retrying short reads. */
            while (got < n) {
                ssize_t r = db->os->pread(db->fd, buf + got, n - got, (off_t)(done + got));
                if (r < 0) {
                    rc = -errno;
                    break;
                }
                if (r == 0) {
                    rc = bolt__corrupt(db, (done + got) / ps, "page past the end of the file");
                    break;
                }
                got += (size_t)r;
            }
            if (rc != 0)
                break;
        }
        rc = write_fn(write_arg, buf, n);
        if (rc != 0)
            break;
        done += n;
        if (progress != NULL)
            rc = progress(progress_arg, done, total);
    }
    strata_free(buf);
    return rc;
}

int bolt_tx_write_to(bolt_tx *tx, int fd, int (*progress)(void *arg, uint64_t done, uint64_t total),
                     void *arg)
{
    if (fd < 0)
        return STRATA_EMISUSE;
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    return bolt_tx_write_fn(tx, fd_write, &fd, progress, arg);
}

int bolt_tx_free_pages(bolt_tx *tx, uint64_t *out)
{
    int rc = bolt__tx_usable(tx, true);
    if (rc != 0)
        return rc;
    if (tx->db->freelist == NULL)
        return STRATA_EMISUSE;
    *out = bolt__freelist_free_count(tx->db->freelist);
    return 0;
}
