/*
 * be64.h: 64-bit big-endian loads and stores, the byte order of etcd's
 * revision and lease keys and of the key index's hints. Private to strata
 * (strata__ prefix). memcpy keeps them free of alignment assumptions; the
 * swap happens only on little-endian hosts.
 */
#ifndef STRATA_BE64_H
#define STRATA_BE64_H

#include <stdint.h>

static inline uint64_t strata__load_be64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void strata__store_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    __builtin_memcpy(p, &v, 8);
}

#endif
