/*
 * backend_peer.c: strata's backend as the other half of the etcd backend
 * interop test (test_etcd_backend.sh; the Go half is etcdbackend/main.go).
 *
 *   backend_peer hash FILE    print backend_hash (etcd's default ignores)
 *   backend_peer write FILE   write the shared deterministic content,
 *                             commit, print the hash
 *   backend_peer snapshot FILE SNAP [gzip]
 *                             backend_snapshot with the SHA-256 trailer
 *   backend_peer restore SNAP FILE
 *                             backend_snapshot_restore, print FILE's hash
 *
 * The content must stay step for step the same as etcdbackend's write().
 */
#include <strata/backend.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void be64(uint64_t x, unsigned char *out)
{
    for (int b = 0; b < 8; b++)
        out[b] = (unsigned char)(x >> (56 - 8 * b));
}

static int must(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "backend_peer: %s: %s\n", what, backend_strerror(rc));
        return 1;
    }
    return 0;
}

static int write_content(backend *be)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    const char *buckets[] = { "key", "meta", "lease", "alarm" };
    int bad = 0;
    for (int i = 0; i < 4; i++)
        bad |= must(backend_batch_tx_create_bucket(tx, bolt_str(buckets[i])), "create bucket");
    for (uint64_t i = 0; i < 3000 && !bad; i++) {
        uint64_t r = strata_splitmix64(i);
        unsigned char k[17], v[256], l[8];
        be64(i + 1, k);
        k[8] = '_';
        be64(r % 3, k + 9);
        size_t vlen = 1 + r % 200;
        for (size_t j = 0; j < vlen; j++)
            v[j] = (unsigned char)((unsigned char)(r >> (j % 8)) ^ (unsigned char)j);
        bad |= must(backend_batch_tx_seq_put(tx, bolt_str("key"), (bolt_val){ k, 17 },
                                             (bolt_val){ v, vlen }),
                    "seq put");
        if (r % 5 == 0) {
            be64(r, l);
            bad |= must(backend_batch_tx_put(tx, bolt_str("lease"), (bolt_val){ l, 8 },
                                             (bolt_val){ v, vlen / 2 }),
                        "put");
        }
    }
    for (uint64_t i = 0; i < 3000 && !bad; i += 7) {
        unsigned char k[17];
        be64(i + 1, k);
        k[8] = '_';
        be64(strata_splitmix64(i) % 3, k + 9);
        bad |= must(backend_batch_tx_delete(tx, bolt_str("key"), (bolt_val){ k, 17 }), "delete");
    }
    unsigned char ci[8];
    be64(123456789, ci);
    bad |= must(backend_batch_tx_put(tx, bolt_str("meta"), bolt_str("consistent_index"),
                                     (bolt_val){ ci, 8 }),
                "put");
    bad |= must(backend_batch_tx_put(tx, bolt_str("meta"), bolt_str("finishedCompactRev"),
                                     bolt_str("0123456789abcdef_")),
                "put");
    bad |= must(backend_batch_tx_unlock(tx), "unlock");
    return bad ? 1 : must(backend_force_commit(be), "commit");
}

static int snapshot(const char *path, const char *out, bool gzip)
{
    backend_options o;
    backend_options_init(&o);
    o.mmap_reserve = 64u << 20;
    backend *be;
    if (must(backend_open(path, &o, &be), "open"))
        return 1;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int bad = must(fd < 0 ? -1 : 0, "create snapshot file");
    unsigned flags = BACKEND_SNAPSHOT_TRAILER | (gzip ? BACKEND_SNAPSHOT_GZIP : 0);
    bad |= !bad && must(backend_snapshot(be, fd, flags, NULL, NULL, NULL), "snapshot");
    if (fd >= 0)
        close(fd);
    bad |= must(backend_close(be), "close");
    return bad;
}

static int restore(const char *snap, const char *path)
{
    int fd = open(snap, O_RDONLY);
    if (must(fd < 0 ? -1 : 0, "open snapshot"))
        return 1;
    int rc = backend_snapshot_restore(fd, path);
    close(fd);
    return must(rc, "restore");
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "snapshot") == 0)
        return snapshot(argv[2], argv[3], argc == 5 && strcmp(argv[4], "gzip") == 0);
    if (argc == 4 && strcmp(argv[1], "restore") == 0) {
        if (restore(argv[2], argv[3]))
            return 1;
        argv[2] = argv[3];
        argv[1] = "hash";
        argc = 3;
    }
    if (argc != 3 || (strcmp(argv[1], "hash") != 0 && strcmp(argv[1], "write") != 0)) {
        fprintf(stderr, "usage: backend_peer hash|write FILE | snapshot FILE SNAP [gzip] | "
                        "restore SNAP FILE\n");
        return 2;
    }
    backend_options o;
    backend_options_init(&o);
    o.mmap_reserve = 64u << 20;
    backend *be;
    if (must(backend_open(argv[2], &o, &be), "open"))
        return 1;
    int bad = strcmp(argv[1], "write") == 0 ? write_content(be) : 0;
    uint32_t h = 0;
    bad |= !bad && must(backend_hash(be, NULL, 0, &h), "hash");
    bad |= must(backend_close(be), "close");
    if (bad)
        return 1;
    printf("%u\n", h);
    return 0;
}
