/*
 * test_bbolt.c: strata and the real bbolt 1.3.6 on the same files
 * (FORMAT.md §13). For several page sizes, with and without a stored
 * freelist: strata writes a file with nested, inline and paged buckets,
 * overflow values, deletes and sequences; bbolt's Tx.Check finds nothing
 * and its canonical dump equals strata's; bbolt writes to it; strata's
 * check finds nothing and the dumps agree; strata writes again; bbolt
 * checks again.
 */
#include <strata/bolt.h>
#define HARNESS_STRERROR(rc) bolt_strerror(rc)
#include "harness.h"

#include <sys/wait.h>

/* Run the peer; returns its exit status, stdout in *out (malloc'd). */
static int peer(const char *cmd, const char *file, char **out)
{
    char line[16384];
    snprintf(line, sizeof line, "'%s' %s '%s'", BBOLT_PEER, cmd, file);
    FILE *p = popen(line, "r");
    ASSERT_NOT_NULL(p);
    char *s = NULL;
    size_t n = 0, cap = 0, r;
    char buf[65536];
    while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
        if (n + r + 1 > cap) {
            cap = (n + r + 1) * 2;
            s = realloc(s, cap);
        }
        memcpy(s + n, buf, r);
        n += r;
    }
    if (s == NULL)
        s = calloc(1, 1);
    s[n] = '\0';
    int st = pclose(p);
    if (out != NULL)
        *out = s;
    else
        free(s);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *strata_dump(const char *file)
{
    bolt_options o;
    bolt_options_init(&o);
    o.read_only = true;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(file, &o, &db));
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_dump(tx, f, BOLT_DUMP_MAX_HEX));
    bolt_tx_rollback(tx);
    fclose(f);
    ASSERT_OK(bolt_close(db));
    return s;
}

static void report(void *arg, const char *problem)
{
    (*(int *)arg)++;
    fprintf(stderr, "  strata check: %s\n", problem);
}

static void strata_check(bolt_db *db)
{
    bolt_tx *tx;
    int n = 0;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_check(tx, report, &n));
    bolt_tx_rollback(tx);
    ASSERT_EQ_INT(n, 0);
}

/* Seeded changes over a few buckets and commits. */
static void strata_write(bolt_db *db, strata_rng *rng, int rounds)
{
    static unsigned char v[70000];
    for (int r = 0; r < rounds; r++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        bolt_bucket *root = bolt_tx_root(tx);
        for (int bi = 0; bi < 4; bi++) {
            char name[16];
            snprintf(name, sizeof name, "bucket%d", bi);
            bolt_bucket *b;
            ASSERT_OK(bolt_bucket_create_if_not_exists(root, bolt_str(name), &b));
            int nops = (int)strata_rng_below(rng, bi == 0 ? 1500 : 60);
            for (int i = 0; i < nops; i++) {
                char k[32];
                snprintf(k, sizeof k, "k%05d", (int)strata_rng_below(rng, bi == 1 ? 20 : 3000));
                uint64_t op = strata_rng_below(rng, 10);
                if (op < 6) {
                    size_t vl = strata_rng_below(rng, 40) == 0 ? strata_rng_below(rng, sizeof v)
                                                               : strata_rng_below(rng, 80);
                    memset(v, (int)i, vl);
                    int rc = bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, vl });
                    ASSERT_TRUE(rc == 0 || rc == BOLT_EINCOMPATIBLEVALUE);
                } else if (op < 9) {
                    int rc = bolt_bucket_delete(b, bolt_str(k));
                    ASSERT_TRUE(rc == 0 || rc == BOLT_EINCOMPATIBLEVALUE);
                } else {
                    bolt_bucket *n, *d;
                    ASSERT_OK(bolt_bucket_create_if_not_exists(b, bolt_str("nested"), &n));
                    uint64_t s;
                    ASSERT_OK(bolt_bucket_next_sequence(n, &s));
                    int rc = bolt_bucket_create_if_not_exists(n, bolt_str(k), &d);
                    if (rc == 0)
                        ASSERT_OK(bolt_bucket_put(d, bolt_str("x"), bolt_str(k)));
                    if (rc == 0 && strata_rng_below(rng, 3) == 0)
                        ASSERT_OK(bolt_bucket_delete_bucket(n, bolt_str(k)));
                }
            }
        }
        if (r % 5 == 4)
            ASSERT_OK(bolt_bucket_delete_bucket(root, bolt_str("bucket3")));
        ASSERT_OK(bolt_tx_commit(tx));
    }
}

static void scenario(uint32_t page_size, bool no_freelist_sync)
{
    char file[8192], name[64];
    snprintf(name, sizeof name, "interop-%u-%d.db", page_size, (int)no_freelist_sync);
    harness_path(file, sizeof file, name);
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed() + page_size + no_freelist_sync);
    bolt_options o;
    bolt_options_init(&o);
    o.page_size = page_size;
    o.no_freelist_sync = no_freelist_sync;
    o.no_sync = true;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(file, &o, &db));
    strata_write(db, &rng, 12);
    ASSERT_OK(bolt_close(db));
    /* strata -> bbolt */
    ASSERT_EQ_INT(peer("check", file, NULL), 0);
    char *theirs, *ours = strata_dump(file);
    ASSERT_EQ_INT(peer("dump", file, &theirs), 0);
    ASSERT_EQ_STR(theirs, ours);
    free(theirs);
    free(ours);
    /* bbolt writes -> strata */
    ASSERT_EQ_INT(peer("write", file, NULL), 0);
    ASSERT_OK(bolt_open(file, &o, &db));
    strata_check(db);
    ASSERT_OK(bolt_close(db));
    ours = strata_dump(file);
    ASSERT_EQ_INT(peer("dump", file, &theirs), 0);
    ASSERT_EQ_STR(ours, theirs);
    free(theirs);
    free(ours);
    /* strata writes again -> bbolt */
    ASSERT_OK(bolt_open(file, &o, &db));
    strata_write(db, &rng, 4);
    strata_check(db);
    ASSERT_OK(bolt_close(db));
    ASSERT_EQ_INT(peer("check", file, NULL), 0);
    ours = strata_dump(file);
    ASSERT_EQ_INT(peer("dump", file, &theirs), 0);
    ASSERT_EQ_STR(ours, theirs);
    printf("  page size %u%s: %zu dump bytes agree\n", page_size,
           no_freelist_sync ? ", no freelist" : "", strlen(ours));
    free(theirs);
    free(ours);
}

static void test_page_4096(void)
{
    scenario(4096, false);
}

static void test_page_512(void)
{
    scenario(512, false);
}

static void test_page_16384(void)
{
    scenario(16384, false);
}

static void test_no_freelist_sync(void)
{
    scenario(4096, true);
}

int main(void)
{
    HARNESS_BEGIN(5);
    RUN(test_page_4096);
    RUN(test_page_512);
    RUN(test_page_16384);
    RUN(test_no_freelist_sync);
    return 0;
}
