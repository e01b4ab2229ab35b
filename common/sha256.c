/*
 * sha256.c: SHA-256 as specified by FIPS 180-4 (§4.1.2 functions, §4.2.2
 * constants, §5.1.1 padding, §5.3.3 initial value, §6.2.2 computation).
 * Used for the canonical dump's sha256: fields and etcd's snapshot trailer.
 *
 * Rules:
 *  1. `bytes` counts every byte given to update since init; the first
 *     `bytes % 64` bytes of `buf` are the part of the message not yet
 *     compressed (a partial block). Whole blocks are compressed straight
 *     from the caller's buffer without copying.
 *  2. Words are big-endian (FIPS 180-4 §3.1): block words are loaded and
 *     the digest stored byte by byte, so the code is independent of the
 *     host's byte order and of the buffer's alignment.
 *  3. final appends the padding (0x80, zeros, the bit length as a u64
 *     big-endian) so the padded message is a multiple of 64 bytes, and
 *     wipes the context.
 */
#include <strata/common.h>

#include <string.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the
 * square roots of the first 8 primes. */
static const uint32_t sha256_h0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 §4.1.2 (4.2 - 4.7). */
static uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (~x & z);
}

static uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}

static uint32_t big_sigma0(uint32_t x)
{
    return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static uint32_t big_sigma1(uint32_t x)
{
    return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static uint32_t small_sigma0(uint32_t x)
{
    return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3);
}

static uint32_t small_sigma1(uint32_t x)
{
    return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10);
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 §6.2.2: fold one 64-byte block into the state. */
static void sha256_compress(uint32_t state[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++)
        w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];

    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + big_sigma1(e) + ch(e, f, g) + sha256_k[t] + w[t];
        uint32_t t2 = big_sigma0(a) + maj(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

void strata_sha256_init(strata_sha256_ctx *c)
{
    memcpy(c->state, sha256_h0, sizeof c->state);
    c->bytes = 0;
    memset(c->buf, 0, sizeof c->buf);
}

void strata_sha256_update(strata_sha256_ctx *c, const void *data, size_t len)
{
    if (len == 0)
        return; /* data may be NULL then */
    const uint8_t *p = data;
    size_t used = (size_t)(c->bytes % 64);
    c->bytes += len;
    /* Complete a partial block first. */
    if (used > 0) {
        size_t take = 64 - used < len ? 64 - used : len;
        memcpy(c->buf + used, p, take);
        p += take;
        len -= take;
        if (used + take < 64)
            return;
        sha256_compress(c->state, c->buf);
    }
    /* Invariant: the buffer is empty here; whole blocks go straight through. */
    for (; len >= 64; p += 64, len -= 64)
        sha256_compress(c->state, p);
    if (len > 0)
        memcpy(c->buf, p, len);
}

void strata_sha256_final(strata_sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->bytes * 8;
    size_t used = (size_t)(c->bytes % 64);
    /* FIPS 180-4 §5.1.1: 0x80, then zeros up to 56 mod 64, then the length. */
    c->buf[used++] = 0x80;
    if (used > 56) {
        memset(c->buf + used, 0, 64 - used);
        sha256_compress(c->state, c->buf);
        used = 0;
    }
    memset(c->buf + used, 0, 56 - used);
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_compress(c->state, c->buf);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->state[i]);
    /* The context held message bytes: do not leave them behind. */
    memset(c, 0, sizeof *c);
}

void strata_sha256(const void *data, size_t len, uint8_t out[32])
{
    strata_sha256_ctx c;
    strata_sha256_init(&c);
    strata_sha256_update(&c, data, len);
    strata_sha256_final(&c, out);
}
