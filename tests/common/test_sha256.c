/* test_sha256.c: common/sha256.c against FIPS 180-4 / NIST vectors. */
#include "harness.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void expect_digest(const uint8_t d[32], const char *want)
{
    char got[65];
    hex(d, got);
    ASSERT_EQ_STR(got, want);
}

static void expect_sha256(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    strata_sha256(data, len, d);
    expect_digest(d, want);
}

/* NIST's examples (FIPS 180-4 example pages; also RFC 6234's tests). */
static void test_nist_vectors(void)
{
    expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha256(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ASSERT_EQ_SIZE(strlen(m448) * 8, 448);
    expect_sha256(m448, strlen(m448),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    ASSERT_EQ_SIZE(strlen(m896) * 8, 896);
    expect_sha256(m896, strlen(m896),
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces (and in one piece). */
static void test_million_a(void)
{
    static char a[1000000];
    memset(a, 'a', sizeof a);
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    expect_sha256(a, sizeof a, want);
    strata_sha256_ctx c;
    strata_sha256_init(&c);
    size_t done = 0, step = 1;
    while (done < sizeof a) {
        size_t n = step < sizeof a - done ? step : sizeof a - done;
        strata_sha256_update(&c, a + done, n);
        done += n;
        step = step * 3 + 1; /* 1, 4, 13, 40, ...: crosses blocks at odd places */
        if (step > 100000)
            step = 7;
    }
    uint8_t d[32];
    strata_sha256_final(&c, d);
    expect_digest(d, want);
}

/*
 * Padding boundaries: lengths where the 0x80 and the length do or do not
 * fit in the last block (55 fits, 56 does not, 64 is a whole block).
 * Expected values from an independent implementation (Python's hashlib).
 */
static void test_padding_boundaries(void)
{
    static const struct {
        size_t n;
        const char *want;
    } v[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
        { 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
        { 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
        { 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
    };
    char a[128];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        expect_sha256(a, v[i].n, v[i].want);
}

/* A 200-byte message split at every offset (and in three) hashes the same. */
static void test_split_updates(void)
{
    uint8_t msg[200];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)i;
    uint8_t one[32];
    strata_sha256(msg, sizeof msg, one);
    expect_digest(one, "1901da1c9f699b48f6b2636e65cbf73abf99d0441ef67f5c540a42f7051dec6f");
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        strata_sha256_ctx c;
        uint8_t d[32];
        strata_sha256_init(&c);
        strata_sha256_update(&c, msg, cut);
        strata_sha256_update(&c, NULL, 0);
        strata_sha256_update(&c, msg + cut, sizeof msg - cut);
        strata_sha256_final(&c, d);
        ASSERT_EQ_MEM(d, 32, one, 32);
        for (size_t cut2 = cut; cut2 <= sizeof msg; cut2 += 13) {
            strata_sha256_init(&c);
            strata_sha256_update(&c, msg, cut);
            strata_sha256_update(&c, msg + cut, cut2 - cut);
            strata_sha256_update(&c, msg + cut2, sizeof msg - cut2);
            strata_sha256_final(&c, d);
            ASSERT_EQ_MEM(d, 32, one, 32);
        }
    }
    /* Byte by byte, from an unaligned buffer. */
    uint8_t shifted[201];
    memcpy(shifted + 1, msg, sizeof msg);
    strata_sha256_ctx c;
    uint8_t d[32];
    strata_sha256_init(&c);
    for (size_t i = 0; i < sizeof msg; i++)
        strata_sha256_update(&c, shifted + 1 + i, 1);
    strata_sha256_final(&c, d);
    ASSERT_EQ_MEM(d, 32, one, 32);
    /* The context is reusable after init. */
    strata_sha256_init(&c);
    strata_sha256_update(&c, "abc", 3);
    strata_sha256_final(&c, d);
    expect_digest(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_nist_vectors);
    RUN(test_million_a);
    RUN(test_padding_boundaries);
    RUN(test_split_updates);
    return 0;
}
