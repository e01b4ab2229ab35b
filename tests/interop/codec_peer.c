/*
 * codec_peer.c: strata's side of tests/interop/test_etcd_codec.sh, the
 * peer of etcdcodec/main.go (etcd 3.4's mvccpb and leasepb). Same commands,
 * same line formats, same seeded records:
 *
 *   codec_peer gen SEED NKV NLEASE      records from strata_rng(SEED),
 *                                       encoded by mvcc__kv_encode and
 *                                       lease__pb_encode
 *   codec_peer decode kv|lease          hex lines in, "ok FIELDS" or
 *                                       "error CLASS" out
 *   codec_peer mutate kv|lease SEED     hex encodings in (gen's last
 *                                       column), damaged and extended
 *                                       variants out, one per line
 *
 * The generator (gen_int, gen_bytes, the order of draws) must stay step for
 * step equal to etcdcodec's genInt and genBytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/lease.h>
#include <strata/mvcc.h>

#include "../../lease/leasepb.h"
#include "../../mvcc/kvpb.h"

static int64_t gen_int(strata_rng *r)
{
    switch (strata_rng_below(r, 8)) {
    case 0:
        return 0;
    case 1:
        return (int64_t)strata_rng_below(r, 128);
    case 2:
        return INT64_MIN + (int64_t)strata_rng_below(r, 2);
    case 3:
        return INT64_MAX - (int64_t)strata_rng_below(r, 2);
    case 4:
        return -(int64_t)strata_rng_below(r, 1000) - 1;
    case 5: {
        uint64_t x = strata_rng_next(r);
        return (int64_t)(x >> strata_rng_below(r, 64));
    }
    case 6:
        return (int64_t)strata_rng_next(r);
    default:
        return (int64_t)strata_rng_below(r, 1 << 20);
    }
}

/* Fills buf (room for 16386 bytes) and returns the length. */
static size_t gen_bytes(strata_rng *r, uint8_t *buf)
{
    size_t n;
    switch (strata_rng_below(r, 10)) {
    case 0:
    case 1:
        n = 0;
        break;
    case 2:
        n = 127 + strata_rng_below(r, 3);
        break;
    case 3:
        n = 16383 + strata_rng_below(r, 3);
        break;
    case 4:
        n = strata_rng_below(r, 300);
        break;
    default:
        n = strata_rng_below(r, 40);
        break;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)strata_rng_next(r);
    return n;
}

static void put_hex(const uint8_t *p, size_t n)
{
    if (n == 0) {
        fputs("-", stdout);
        return;
    }
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int gen(uint64_t seed, long nkv, long nlease)
{
    strata_rng r;
    strata_rng_seed(&r, seed);
    static uint8_t key[16386], value[16386], enc[40000];
    for (long i = 0; i < nkv; i++) {
        mvcc__kv kv = { 0 };
        kv.key_len = gen_bytes(&r, key);
        kv.key = key;
        kv.create_revision = gen_int(&r);
        kv.mod_revision = gen_int(&r);
        kv.version = gen_int(&r);
        kv.value_len = gen_bytes(&r, value);
        kv.value = value;
        kv.lease = gen_int(&r);
        size_t len;
        if (mvcc__kv_encode(&kv, enc, sizeof enc, &len) != 0)
            return 1;
        fputs("kv ", stdout);
        put_hex(kv.key, kv.key_len);
        printf(" %" PRId64 " %" PRId64 " %" PRId64 " ", kv.create_revision, kv.mod_revision,
               kv.version);
        put_hex(kv.value, kv.value_len);
        printf(" %" PRId64 " ", kv.lease);
        put_hex(enc, len);
        putchar('\n');
    }
    for (long i = 0; i < nlease; i++) {
        lease__pb l;
        l.id = gen_int(&r);
        l.ttl = gen_int(&r);
        l.remaining_ttl = gen_int(&r);
        uint8_t k[LEASE__KEY_LEN];
        size_t len;
        lease__key_encode(l.id, k);
        if (lease__pb_encode(&l, enc, sizeof enc, &len) != 0)
            return 1;
        printf("lease %" PRId64 " %" PRId64 " %" PRId64 " ", l.id, l.ttl, l.remaining_ttl);
        put_hex(k, sizeof k);
        putchar(' ');
        put_hex(enc, len);
        putchar('\n');
    }
    return 0;
}

/* Reads a hex line ("-" = empty) into *buf (grown as needed); -1 at EOF. */
static long read_hex_line(uint8_t **buf, size_t *cap)
{
    static char *line;
    static size_t line_cap;
    ssize_t n = getline(&line, &line_cap, stdin);
    if (n < 0)
        return -1;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (strcmp(line, "-") == 0)
        return 0;
    if (n % 2 != 0)
        return -2;
    if ((size_t)n / 2 + 1 > *cap) {
        *cap = (size_t)n / 2 + 1;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL)
            return -2;
    }
    for (ssize_t i = 0; i < n; i += 2) {
        unsigned v;
        if (sscanf(line + i, "%2x", &v) != 1)
            return -2;
        (*buf)[i / 2] = (uint8_t)v;
    }
    return n / 2;
}

static const char *err_class(int rc)
{
    switch (rc) {
    case STRATA_EPBTRUNC:
        return "trunc";
    case STRATA_EPBVARINT:
        return "varint";
    case STRATA_EPBLENGTH:
        return "length";
    case STRATA_EPBTAG:
        return "tag";
    case STRATA_EPBGROUP:
        return "group";
    case STRATA_EPBWIRETYPE:
        return "wiretype";
    default:
        return "other";
    }
}

static int decode(bool is_kv)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    long n;
    while ((n = read_hex_line(&buf, &cap)) >= 0) {
        /* An exact-size copy, so a sanitizer build would see a read past the end. */
        uint8_t *in = malloc(n > 0 ? (size_t)n : 1);
        if (in == NULL)
            return 1;
        memcpy(in, buf, (size_t)n);
        int rc;
        if (is_kv) {
            mvcc__kv kv;
            rc = mvcc__kv_decode(n > 0 ? in : NULL, (size_t)n, &kv);
            if (rc == 0) {
                fputs("ok ", stdout);
                put_hex(kv.key, kv.key_len);
                printf(" %" PRId64 " %" PRId64 " %" PRId64 " ", kv.create_revision, kv.mod_revision,
                       kv.version);
                put_hex(kv.value, kv.value_len);
                printf(" %" PRId64 "\n", kv.lease);
            }
        } else {
            lease__pb l;
            rc = lease__pb_decode(n > 0 ? in : NULL, (size_t)n, &l);
            if (rc == 0)
                printf("ok %" PRId64 " %" PRId64 " %" PRId64 "\n", l.id, l.ttl, l.remaining_ttl);
        }
        if (rc != 0)
            printf("error %s\n", err_class(rc));
        free(in);
    }
    free(buf);
    return n == -1 ? 0 : 1;
}

/* Appends the varint of v at p; returns the new end. */
static uint8_t *put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/*
 * One random extra field at p: unknown (every wire type, groups nested),
 * a known field again (last wins), or a malformed one (field 0, a wrong,
 * illegal or end-group wire type, an 11-byte varint, a huge length).
 */
static uint8_t *extra_field(strata_rng *r, uint8_t *p, unsigned known_max)
{
    /* One draw per statement: C leaves the order of operands unspecified. */
    uint64_t field = strata_rng_below(r, 3);
    field = known_max + 1 + field * (1 + strata_rng_below(r, 1u << 28));
    switch (strata_rng_below(r, 12)) {
    case 0: {
        p = put_uv(p, field << 3 | 0);
        uint64_t x = strata_rng_next(r);
        return put_uv(p, x >> strata_rng_below(r, 64));
    }
    case 1:
        p = put_uv(p, field << 3 | 1);
        memset(p, 0x5a, 8);
        return p + 8;
    case 2: {
        p = put_uv(p, field << 3 | 2);
        size_t n = strata_rng_below(r, 20);
        p = put_uv(p, n);
        memset(p, 0x61, n);
        return p + n;
    }
    case 3:
        p = put_uv(p, field << 3 | 5);
        memset(p, 0x7b, 4);
        return p + 4;
    case 4:
        p = put_uv(p, field << 3 | 3);
        if (strata_rng_below(r, 2)) {
            p = put_uv(p, (field + 1) << 3 | 3);
            p = put_uv(p, 1 << 3 | 0);
            p = put_uv(p, 300);
            p = put_uv(p, (field + 1) << 3 | 4);
        }
        return put_uv(p, (strata_rng_below(r, 2) ? field : 1) << 3 | 4);
    case 5: /* a known field again, with its own wire type */
    {
        uint64_t f = 1 + strata_rng_below(r, known_max);
        bool bytes = known_max == 6 && (f == 1 || f == 5);
        p = put_uv(p, f << 3 | (bytes ? 2 : 0));
        if (bytes) {
            p = put_uv(p, 2);
            *p++ = 'z';
            *p++ = 'y';
            return p;
        }
        return put_uv(p, strata_rng_next(r));
    }
    case 6: /* a known field with another wire type */
        p = put_uv(p, (1 + strata_rng_below(r, known_max)) << 3 | 5);
        return put_uv(p, 1);
    case 7: /* illegal wire types, stray end-group, field 0 */
        p = put_uv(p, field << 3 | (6 + strata_rng_below(r, 2)));
        return put_uv(p, 0);
    case 8:
        return put_uv(p, strata_rng_below(r, 2) ? field << 3 | 4 : strata_rng_below(r, 8));
    case 9: /* an 11-byte varint */
        *p++ = (uint8_t)(2 << 3);
        memset(p, 0xff, 10);
        p[10] = 0x01;
        return p + 11;
    case 10: /* a length with bit 63 set, or one past the end */
        p = put_uv(p, field << 3 | 2);
        return put_uv(p, strata_rng_below(r, 2) ? (uint64_t)1 << 63 : 1000);
    default: /* the field number's high bits: int32(tag >> 3) */
        return put_uv(p, ((uint64_t)1 << 32 | (1 + strata_rng_below(r, known_max))) << 3 |
                                 (known_max == 6 ? 2 : 0));
    }
}

static int mutate(bool is_kv, uint64_t seed)
{
    strata_rng r;
    strata_rng_seed(&r, seed);
    uint8_t *buf = NULL;
    size_t cap = 0;
    long n;
    unsigned known_max = is_kv ? 6 : 3;
    while ((n = read_hex_line(&buf, &cap)) >= 0) {
        if (n > 1000)
            continue; /* the big records add bytes, not cases */
        static uint8_t out[4096];
        for (int v = 0; v < 6; v++) {
            size_t len = (size_t)n;
            memcpy(out, buf, len);
            switch (v) {
            case 0: /* truncated */
                len = len ? strata_rng_below(&r, len) : 0;
                break;
            case 1: /* one byte changed */
                if (len) {
                    size_t at = strata_rng_below(&r, len);
                    out[at] ^= (uint8_t)(1 + strata_rng_below(&r, 255));
                }
                break;
            case 2: /* an extra field in front */
            {
                uint8_t *e = extra_field(&r, out, known_max);
                size_t el = (size_t)(e - out);
                memcpy(out + el, buf, (size_t)n);
                len = el + (size_t)n;
                break;
            }
            case 3:
            case 4: /* one or two extra fields at the end */
            {
                uint8_t *e = extra_field(&r, out + len, known_max);
                if (v == 4)
                    e = extra_field(&r, e, known_max);
                len = (size_t)(e - out);
                break;
            }
            default: /* random bytes */
                len = strata_rng_below(&r, 24);
                for (size_t i = 0; i < len; i++)
                    out[i] = (uint8_t)strata_rng_next(&r);
                break;
            }
            put_hex(out, len);
            putchar('\n');
        }
    }
    free(buf);
    return n == -1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "gen") == 0)
        return gen(strtoull(argv[2], NULL, 0), atol(argv[3]), atol(argv[4]));
    if (argc == 3 && strcmp(argv[1], "decode") == 0)
        return decode(strcmp(argv[2], "kv") == 0);
    if (argc == 4 && strcmp(argv[1], "mutate") == 0)
        return mutate(strcmp(argv[2], "kv") == 0, strtoull(argv[3], NULL, 0));
    fprintf(stderr, "usage: codec_peer gen SEED NKV NLEASE | decode kv|lease | "
                    "mutate kv|lease SEED\n");
    return 2;
}
