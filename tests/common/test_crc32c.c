/* test_crc32c.c: common/crc32c.c (CRC-32C and FNV-1a 64). */
#include "harness.h"

uint32_t strata__crc32c_soft(uint32_t crc, const void *data, size_t len);

static void test_crc32c_known_vectors(void)
{
    ASSERT_EQ_HEX(strata_crc32c(0, "", 0), 0);
    ASSERT_EQ_HEX(strata_crc32c(0, "123456789", 9), 0xE3069283u);
    /* RFC 3720 B.4: 32 bytes of zeros and of 0xff. */
    unsigned char buf[32];
    memset(buf, 0, sizeof buf);
    ASSERT_EQ_HEX(strata_crc32c(0, buf, sizeof buf), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    ASSERT_EQ_HEX(strata_crc32c(0, buf, sizeof buf), 0x62A8AB43u);
}

static void test_crc32c_paths_agree_and_continue(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)strata_rng_next(&rng);
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 37) {
            uint32_t whole = strata_crc32c(0, buf + off, len);
            ASSERT_EQ_HEX(strata__crc32c_soft(0, buf + off, len), whole);
            size_t cut = len / 3;
            uint32_t part = strata_crc32c(0, buf + off, cut);
            ASSERT_EQ_HEX(strata_crc32c(part, buf + off + cut, len - cut), whole);
        }
    }
}

static void test_fnv1a64(void)
{
    ASSERT_EQ_HEX(strata_fnv1a64("", 0), 0xcbf29ce484222325ull);
    ASSERT_EQ_HEX(strata_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
    /* docs/format.md §3 worked example: meta 0 of a fresh 4096-byte-page file. */
    static const unsigned char meta0[56] = {
        0xed, 0xda, 0x0c, 0xed, 2, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
        0,    0,    0,    0,    0, 0, 0, 0, 2, 0,    0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
    };
    ASSERT_EQ_HEX(strata_fnv1a64(meta0, sizeof meta0), 0x07516e114689fdeeull);
}

int main(void)
{
    HARNESS_BEGIN(42);
    RUN(test_crc32c_known_vectors);
    RUN(test_crc32c_paths_agree_and_continue);
    RUN(test_fnv1a64);
    return 0;
}
