/* test_sha256.c: common/sha256.c against the FIPS 180-4 / NIST example vectors. */
#include "harness.h"

static void hex32(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char got[65];
    strata_sha256(data, len, d);
    hex32(d, got);
    ASSERT_EQ_STR(got, want);
}

static void test_sha256_vectors(void)
{
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four =
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
            "klmnopqrlmnopqrsmnopqrstnopqrstu";
    check(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a_incremental(void)
{
    strata_sha256_ctx ctx;
    strata_sha256_init(&ctx);
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 1000; i++)
        strata_sha256_update(&ctx, chunk, sizeof chunk);
    uint8_t d[32];
    char got[65];
    strata_sha256_final(&ctx, d);
    hex32(d, got);
    ASSERT_EQ_STR(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_split_points_agree(void)
{
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof buf; len += 13) {
        uint8_t whole[32];
        strata_sha256(buf, len, whole);
        for (size_t cut = 0; cut <= len; cut += 11) {
            strata_sha256_ctx ctx;
            uint8_t d[32];
            strata_sha256_init(&ctx);
            strata_sha256_update(&ctx, buf, cut);
            strata_sha256_update(&ctx, buf + cut, len - cut);
            strata_sha256_final(&ctx, d);
            ASSERT_EQ_MEM(d, 32, whole, 32);
        }
    }
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_sha256_vectors);
    RUN(test_sha256_million_a_incremental);
    RUN(test_sha256_split_points_agree);
    return 0;
}
