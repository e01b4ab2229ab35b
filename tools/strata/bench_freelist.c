/*
 * bench_freelist.c: the FL workload of `strata bench bolt`: does the cost
 * of a commit grow with the number of free pages?
 *
 * For each free-page count F: a file is filled with ~F pages of large
 * values (1 MiB each, written without sync: setup, untimed), which are
 * then deleted in one transaction, leaving ~F free pages. Then, for each
 * freelist type (array, hashmap) and with and without the freelist page
 * (no_freelist_sync, etcd's setting), the file is reopened and COMMITS
 * small write transactions of 100 random puts are run, no_sync so that the
 * disk does not hide the CPU cost. Each commit is timed on its own.
 *
 * Rules:
 *   1. One line per case: `FL-<type>-<fl|nofl>-<F> COMMITS_PER_S WALL_S
 *      FILE_MIB free_pages=.. commit_us_mean=.. commit_us_p99=..`.
 *   2. With the freelist page, a commit writes every free id (8 bytes
 *      each, docs/format.md §7): its cost grows with F by the format's design,
 *      bbolt's too. Without it, a commit should not grow with F.
 *   3. The files are big (F x 4 KiB): they are removed unless --keep.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strata/bolt.h>

#include "bench_bolt.h"
#include "cli.h"
#include "cli_util.h"

enum {
    FL_PAGE = 4096,
    FL_BIG = 256 * FL_PAGE - 64, /* one big value: a 256-page leaf */
    FL_BIG_PER_TX = 64,
    FL_COMMITS = 300,
    FL_PUTS = 100,
};

static const char FL_BUCKET[] = "fl";

static double fl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fl_open(const char *path, bolt_freelist_type ft, bool no_freelist_sync, bolt_db **db)
{
    bolt_options o;
    bolt_options_init(&o);
    o.page_size = FL_PAGE;
    o.no_sync = true;
    o.freelist_type = ft;
    o.no_freelist_sync = no_freelist_sync;
    return bolt_open(path, &o, db);
}

static void fl_key(unsigned char *k, uint64_t i)
{
    for (int b = 7; b >= 0; b--) {
        k[b] = (unsigned char)i;
        i >>= 8;
    }
}

/* Setup: ~free_pages pages of big values, then all deleted. */
static int fl_setup(const char *path, long free_pages)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    bolt_db *db = NULL;
    int rc = fl_open(path, BOLT_FREELIST_HASHMAP, false, &db);
    if (rc != 0)
        return rc;
    unsigned char *big = malloc(FL_BIG);
    if (big == NULL) {
        bolt_close(db);
        return -ENOMEM;
    }
    memset(big, 0xA5, FL_BIG);
    long nbig = (free_pages + 255) / 256;
    unsigned char k[8];
    bolt_val name = { FL_BUCKET, sizeof FL_BUCKET - 1 };
    for (long base = 0; base < nbig && rc == 0; base += FL_BIG_PER_TX) {
        bolt_tx *tx = NULL;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0)
            break;
        bolt_bucket *b;
        rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), name, &b);
        for (long i = base; i < base + FL_BIG_PER_TX && i < nbig && rc == 0; i++) {
            fl_key(k, (uint64_t)i);
            rc = bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ big, FL_BIG });
        }
        rc = rc == 0 ? bolt_tx_commit(tx) : (bolt_tx_rollback(tx), rc);
    }
    free(big);
    if (rc == 0) {
        bolt_tx *tx = NULL;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        bolt_bucket *b;
        if (rc == 0) {
            rc = bolt_tx_bucket(tx, name, &b);
            for (long i = 0; i < nbig && rc == 0; i++) {
                fl_key(k, (uint64_t)i);
                rc = bolt_bucket_delete(b, (bolt_val){ k, 8 });
            }
            rc = rc == 0 ? bolt_tx_commit(tx) : (bolt_tx_rollback(tx), rc);
        }
    }
    int crc = bolt_close(db);
    return rc != 0 ? rc : crc;
}

static int fl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The timed part: FL_COMMITS transactions of FL_PUTS random puts. */
static int fl_run(const char *path, bolt_freelist_type ft, bool no_freelist_sync, uint64_t *seq,
                  double *lat, double *wall)
{
    bolt_db *db = NULL;
    int rc = fl_open(path, ft, no_freelist_sync, &db);
    if (rc != 0)
        return rc;
    unsigned char k[8], v[100];
    memset(v, 0x5A, sizeof v);
    bolt_val name = { FL_BUCKET, sizeof FL_BUCKET - 1 };
    double t0 = fl_now();
    for (int c = 0; c < FL_COMMITS && rc == 0; c++) {
        bolt_tx *tx = NULL;
        rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc != 0)
            break;
        bolt_bucket *b;
        rc = bolt_tx_bucket(tx, name, &b);
        for (int i = 0; i < FL_PUTS && rc == 0; i++) {
            uint64_t z = (*seq)++ + 0x9E3779B97F4A7C15ull;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            fl_key(k, z ^ (z >> 31));
            rc = bolt_bucket_put(b, (bolt_val){ k, 8 }, (bolt_val){ v, sizeof v });
        }
        if (rc != 0) {
            bolt_tx_rollback(tx);
            break;
        }
        double c0 = fl_now();
        rc = bolt_tx_commit(tx);
        lat[c] = fl_now() - c0;
    }
    *wall = fl_now() - t0;
    int crc = bolt_close(db);
    if (rc == 0 && crc == 0 && no_freelist_sync) {
        /*
         * Untimed: store the freelist page again (an open without one
         * rebuilds the list from the tree; an empty commit writes it), so
         * the next case starts from the same kind of file and its free
         * count can be read.
         */
        rc = fl_open(path, ft, false, &db);
        bolt_tx *tx = NULL;
        if (rc == 0)
            rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        if (rc == 0)
            rc = bolt_tx_commit(tx);
        if (db != NULL)
            crc = bolt_close(db);
    }
    return rc != 0 ? rc : crc;
}

int bench_freelist(const char *dir, const char *counts, bool keep)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fl.db", dir);
    char list[256];
    snprintf(list, sizeof list, "%s", counts);
    double lat[FL_COMMITS];
    uint64_t seq = 0;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t != NULL && rc == 0;
         t = strtok_r(NULL, ",", &save)) {
        long f = strtol(t, NULL, 10);
        if (f < 1000 || f > 100000000) {
            fprintf(stderr, "strata bench bolt: FL: bad free-page count '%s'\n", t);
            return CLI_USAGE;
        }
        double s0 = fl_now();
        rc = fl_setup(path, f);
        if (rc != 0)
            break;
        fprintf(stderr, "# FL: %ld free pages set up in %.1f s\n", f, fl_now() - s0);
        for (int ft = 0; ft < 2 && rc == 0; ft++)
            for (int nofl = 0; nofl < 2 && rc == 0; nofl++) {
                double wall = 0;
                long free_now = bench_file_free_pages(path);
                rc = fl_run(path, ft ? BOLT_FREELIST_HASHMAP : BOLT_FREELIST_ARRAY, nofl, &seq, lat,
                            &wall);
                if (rc != 0)
                    break;
                double sum = 0;
                for (int i = 0; i < FL_COMMITS; i++)
                    sum += lat[i];
                qsort(lat, FL_COMMITS, sizeof lat[0], fl_cmp);
                struct stat st;
                double mib = stat(path, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : -1;
                printf("FL-%s-%s-%ld %.1f %.3f %.2f ops=%d free_pages=%ld commit_us_mean=%.1f "
                       "commit_us_p50=%.1f commit_us_p99=%.1f\n",
                       ft ? "hashmap" : "array", nofl ? "nofl" : "fl", f, FL_COMMITS / wall, wall,
                       mib, FL_COMMITS, free_now, sum / FL_COMMITS * 1e6, lat[FL_COMMITS / 2] * 1e6,
                       lat[FL_COMMITS * 99 / 100] * 1e6);
                fflush(stdout);
            }
    }
    if (!keep)
        unlink(path);
    if (rc != 0) {
        fprintf(stderr, "strata bench bolt: FL: %s\n", cli_strerror(rc));
        return CLI_INTERNAL;
    }
    return CLI_OK;
}
