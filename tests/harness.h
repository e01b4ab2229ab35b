/*
 * harness.h: strata's test harness, header-only.
 *
 * A test program is a set of `static void test_x(void)` functions run from
 * main() with RUN(test_x). The typed ASSERT_* macros print both sides,
 * the seed, and file:line, then end the program with status 1 (meson
 * counts one result per program). Seeds are fixed: harness_seed() returns
 * STRATA_TEST_SEED from the environment when set (to replay a failure),
 * else the program's default, and every failure prints it.
 *
 * Temporary files go under harness_tmpdir(): a fresh directory removed at
 * exit unless the program failed and STRATA_KEEP_TMP is set.
 *
 * Define HARNESS_STRERROR(rc) before including to have ASSERT_OK/ASSERT_RC
 * print messages (default: strata_strerror, common's end of the chain).
 */
#ifndef STRATA_TESTS_HARNESS_H
#define STRATA_TESTS_HARNESS_H

#include <strata/common.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HARNESS_STRERROR
#define HARNESS_STRERROR(rc) strata_strerror(rc)
#endif

#define HARNESS_UNUSED __attribute__((unused))

static uint64_t harness_default_seed = 1;
static const char *harness_current = "(none)";
static char harness_tmp[4096];
static int harness_failed;

static HARNESS_UNUSED uint64_t harness_seed(void)
{
    const char *env = getenv("STRATA_TEST_SEED");
    if (env != NULL && *env != '\0')
        return strtoull(env, NULL, 0);
    return harness_default_seed;
}

static HARNESS_UNUSED void harness_fail_begin(const char *file, int line)
{
    harness_failed = 1;
    fprintf(stderr, "FAIL %s (%s:%d, seed %" PRIu64 "; replay with STRATA_TEST_SEED=%" PRIu64 ")\n",
            harness_current, file, line, harness_seed(), harness_seed());
}

static HARNESS_UNUSED void harness_fail_end(void)
{
    fflush(stderr);
    exit(1);
}

static int harness_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static void harness_cleanup(void)
{
    if (harness_tmp[0] == '\0')
        return;
    if (harness_failed && getenv("STRATA_KEEP_TMP") != NULL) {
        fprintf(stderr, "kept temporary files in %s\n", harness_tmp);
        return;
    }
    nftw(harness_tmp, harness_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A directory private to this test program, removed at exit. */
static HARNESS_UNUSED const char *harness_tmpdir(void)
{
    if (harness_tmp[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(harness_tmp, sizeof harness_tmp, "%s/strata-test-XXXXXX",
                 base != NULL && *base != '\0' ? base : "/tmp");
        if (mkdtemp(harness_tmp) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(harness_cleanup);
    }
    return harness_tmp;
}

/* Fill buf with "<tmpdir>/name". */
static HARNESS_UNUSED const char *harness_path(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", harness_tmpdir(), name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "harness_path: %s/%s does not fit in %zu bytes\n", harness_tmp, name, size);
        exit(1);
    }
    return buf;
}

static HARNESS_UNUSED void harness_hex(FILE *f, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t shown = n < 64 ? n : 64;
    for (size_t i = 0; i < shown; i++)
        fprintf(f, "%02x", b[i]);
    if (shown < n)
        fprintf(f, "... (%zu bytes)", n);
}

#define ASSERT_TRUE(cond)                                    \
    do {                                                     \
        if (!(cond)) {                                       \
            harness_fail_begin(__FILE__, __LINE__);          \
            fprintf(stderr, "  expected true: %s\n", #cond); \
            harness_fail_end();                              \
        }                                                    \
    } while (0)

#define ASSERT_FALSE(cond) ASSERT_TRUE(!(cond))

#define HARNESS_CMP(type, fmt, a, op, b)                                                          \
    do {                                                                                          \
        type harness_a = (type)(a);                                                               \
        type harness_b = (type)(b);                                                               \
        if (!(harness_a op harness_b)) {                                                          \
            harness_fail_begin(__FILE__, __LINE__);                                               \
            fprintf(stderr, "  expected %s %s %s\n  left:  " fmt "\n  right: " fmt "\n", #a, #op, \
                    #b, harness_a, harness_b);                                                    \
            harness_fail_end();                                                                   \
        }                                                                                         \
    } while (0)

#define ASSERT_EQ_INT(a, b)  HARNESS_CMP(long long, "%lld", a, ==, b)
#define ASSERT_NE_INT(a, b)  HARNESS_CMP(long long, "%lld", a, !=, b)
#define ASSERT_LT_INT(a, b)  HARNESS_CMP(long long, "%lld", a, <, b)
#define ASSERT_LE_INT(a, b)  HARNESS_CMP(long long, "%lld", a, <=, b)
#define ASSERT_GT_INT(a, b)  HARNESS_CMP(long long, "%lld", a, >, b)
#define ASSERT_GE_INT(a, b)  HARNESS_CMP(long long, "%lld", a, >=, b)
#define ASSERT_EQ_U64(a, b)  HARNESS_CMP(unsigned long long, "%llu", a, ==, b)
#define ASSERT_LE_U64(a, b)  HARNESS_CMP(unsigned long long, "%llu", a, <=, b)
#define ASSERT_EQ_HEX(a, b)  HARNESS_CMP(unsigned long long, "0x%llx", a, ==, b)
#define ASSERT_EQ_SIZE(a, b) HARNESS_CMP(size_t, "%zu", a, ==, b)
#define ASSERT_EQ_PTR(a, b)  HARNESS_CMP(const void *, "%p", a, ==, b)
#define ASSERT_NOT_NULL(p)   ASSERT_TRUE((p) != NULL)
#define ASSERT_NULL(p)       ASSERT_EQ_PTR(p, NULL)

#define ASSERT_EQ_STR(a, b)                                                                    \
    do {                                                                                       \
        const char *harness_a = (a), *harness_b = (b);                                         \
        if (harness_a == NULL || harness_b == NULL || strcmp(harness_a, harness_b) != 0) {     \
            harness_fail_begin(__FILE__, __LINE__);                                            \
            fprintf(stderr, "  expected %s == %s\n  left:  \"%s\"\n  right: \"%s\"\n", #a, #b, \
                    harness_a ? harness_a : "(null)", harness_b ? harness_b : "(null)");       \
            harness_fail_end();                                                                \
        }                                                                                      \
    } while (0)

#define ASSERT_EQ_MEM(a, alen, b, blen)                                          \
    do {                                                                         \
        const void *harness_a = (a), *harness_b = (b);                           \
        size_t harness_al = (alen), harness_bl = (blen);                         \
        if (harness_al != harness_bl ||                                          \
            (harness_al > 0 && memcmp(harness_a, harness_b, harness_al) != 0)) { \
            harness_fail_begin(__FILE__, __LINE__);                              \
            fprintf(stderr, "  expected %s == %s\n  left:  ", #a, #b);           \
            harness_hex(stderr, harness_a, harness_al);                          \
            fprintf(stderr, "\n  right: ");                                      \
            harness_hex(stderr, harness_b, harness_bl);                          \
            fprintf(stderr, "\n");                                               \
            harness_fail_end();                                                  \
        }                                                                        \
    } while (0)

/* rc must equal `expected`; prints both codes with their messages. */
#define ASSERT_RC(rc, expected)                                                                  \
    do {                                                                                         \
        int harness_rc = (rc), harness_want = (expected);                                        \
        if (harness_rc != harness_want) {                                                        \
            harness_fail_begin(__FILE__, __LINE__);                                              \
            fprintf(stderr, "  %s\n  returned %d (%s)\n  expected %d (%s)\n", #rc, harness_rc,   \
                    HARNESS_STRERROR(harness_rc), harness_want, HARNESS_STRERROR(harness_want)); \
            harness_fail_end();                                                                  \
        }                                                                                        \
    } while (0)

#define ASSERT_OK(rc) ASSERT_RC(rc, 0)

/* Run one test function; prints its name so a log shows where it stopped. */
#define RUN(fn)                 \
    do {                        \
        harness_current = #fn;  \
        fn();                   \
        printf("ok %s\n", #fn); \
        fflush(stdout);         \
    } while (0)

/* Set the program's default seed and print it, first thing in main(). */
#define HARNESS_BEGIN(default_seed)                   \
    do {                                              \
        harness_default_seed = (default_seed);        \
        printf("seed %" PRIu64 "\n", harness_seed()); \
    } while (0)

/* Parses hex digits (spaces ignored) into buf; returns the byte count. */
static HARNESS_UNUSED size_t harness_unhex(const char *s, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s != '\0'; s++) {
        if (*s == ' ')
            continue;
        int d = (*s >= '0' && *s <= '9') ? *s - '0' : (*s | 0x20) - 'a' + 10;
        ASSERT_TRUE(d >= 0 && d < 16);
        if (hi < 0) {
            hi = d;
        } else {
            ASSERT_TRUE(n < cap);
            buf[n++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    ASSERT_EQ_INT(hi, -1);
    return n;
}

#endif /* STRATA_TESTS_HARNESS_H */
