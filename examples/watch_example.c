/*
 * watch_example.c: watching an embedded MVCC store (<strata/mvcc.h>'s
 * watch streams, etcd's WatchStream) as an application does.
 *
 *   watch_example DIR
 *
 * Opens a store on DIR/watch.db and
 *   1. watches the prefix "cfg/" from now on, and one key from an old
 *      revision (its history is replayed first, then it follows writes);
 *   2. lets a writer thread put and delete while the main thread waits on
 *      the stream's file descriptor with poll(2), as it would next to its
 *      sockets, and receives each response;
 *   3. compacts, then watches from below the compacted revision: that
 *      watcher gets one compaction response and nothing more;
 * and exits 0 only if every event arrived once, in revision order.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads, poll: the example builds with -std=c11 */

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <strata/mvcc.h>

enum { PUTS = 200 };

static int failed(int rc, const char *what)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "watch_example: %s: %s (%d)\n", what, mvcc_strerror(rc), rc);
    return 1;
}

static void *writer(void *arg)
{
    mvcc_store *s = arg;
    for (int i = 0; i < PUTS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "cfg/%d", i % 5);
        snprintf(v, sizeof v, "v%d", i);
        if (i % 10 == 9)
            mvcc_store_delete_range(s, k, strlen(k), NULL, 0, NULL, NULL);
        else
            mvcc_store_put(s, k, strlen(k), v, strlen(v), 0, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: watch_example DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/watch.db", argv[1]);
    backend *be;
    mvcc_store *s;
    if (failed(backend_open(path, NULL, &be), "backend_open") ||
        failed(mvcc_store_open(be, NULL, &s), "mvcc_store_open"))
        return 1;
    int64_t first = 0;
    mvcc_store_put(s, "cfg/0", 5, "initial", 7, 0, &first);

    mvcc_watch_stream *ws;
    if (failed(mvcc_watch_stream_open(s, NULL, &ws), "mvcc_watch_stream_open"))
        return 1;
    /* The prefix cfg/ from now on: the range [cfg/, cfg0). */
    mvcc_watch_request all = { .key = "cfg/", .key_len = 4, .end = "cfg0", .end_len = 4 };
    /* One key from its first revision: history first, then live. */
    mvcc_watch_request one = { .key = "cfg/0", .key_len = 5, .start_rev = first };
    int64_t id_all, id_one;
    if (failed(mvcc_watch(ws, &all, &id_all), "watch prefix") ||
        failed(mvcc_watch(ws, &one, &id_one), "watch key"))
        return 1;

    pthread_t th;
    pthread_create(&th, NULL, writer, s);
    int fd = mvcc_watch_stream_fd(ws);
    int64_t last[2] = { 0, 0 };
    long events[2] = { 0, 0 };
    int bad = 0;
    while (events[0] < PUTS) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 10000) <= 0) {
            fprintf(stderr, "watch_example: no event within 10 s\n");
            return 1;
        }
        mvcc_watch_response *r;
        while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
            int w = r->watch_id == id_all ? 0 : 1;
            for (size_t i = 0; i < r->n_events; i++) {
                const mvcc_event *e = r->events[i];
                if (e->kv.mod_revision <= last[w])
                    bad = 1; /* out of order or twice */
                last[w] = e->kv.mod_revision;
                events[w]++;
                if (events[w] <= 3)
                    printf("watcher %" PRId64 ": %s %.*s rev %" PRId64 "\n", r->watch_id,
                           e->type == MVCC_EVENT_PUT ? "PUT" : "DELETE", (int)e->kv.key_len,
                           (const char *)e->kv.key, e->kv.mod_revision);
            }
            mvcc_watch_response_free(r);
        }
    }
    pthread_join(th, NULL);
    /* Let every watcher catch up (no sleeping: the stream says when). */
    for (bool caught_up = false; !caught_up;) {
        if (failed(mvcc_watch_stream_wait(ws, 10000, &caught_up), "wait"))
            return 1;
        mvcc_watch_response *r;
        while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
            events[r->watch_id == id_all ? 0 : 1] += (long)r->n_events;
            mvcc_watch_response_free(r);
        }
    }
    printf("prefix watcher: %ld events; key watcher: %ld events (its history included)\n",
           events[0], events[1]);

    /* Compact, then watch from below the compacted revision. */
    int64_t cur = mvcc_store_rev(s);
    if (failed(mvcc_store_compact(s, cur - 10), "compact"))
        return 1;
    mvcc_watch_request old = { .key = "cfg/1", .key_len = 5, .start_rev = first };
    int64_t id_old;
    if (failed(mvcc_watch(ws, &old, &id_old), "watch below the compaction"))
        return 1;
    int compacted = 0;
    for (bool caught_up = false; !caught_up;) {
        if (failed(mvcc_watch_stream_wait(ws, 10000, &caught_up), "wait"))
            return 1;
        mvcc_watch_response *r;
        while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
            if (r->watch_id == id_old && r->kind == MVCC_WATCH_COMPACTED) {
                printf("watcher %" PRId64 ": compacted at %" PRId64 "\n", r->watch_id,
                       r->compact_revision);
                compacted++;
            } else if (r->watch_id == id_old) {
                bad = 1;
            }
            mvcc_watch_response_free(r);
        }
    }
    mvcc_watch_stream_close(ws);
    if (failed(mvcc_store_close(s), "mvcc_store_close") ||
        failed(backend_close(be), "backend_close"))
        return 1;
    /* 200 writes to cfg/, of which 20 deletes (each of a key put just before). */
    if (bad || events[0] != PUTS || events[1] != 1 + PUTS / 5 || compacted != 1) {
        fprintf(stderr, "watch_example: unexpected events\n");
        return 1;
    }
    printf("watch_example: ok\n");
    return 0;
}
