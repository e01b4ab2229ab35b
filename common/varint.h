/*
 * varint.h: unsigned LEB128 varints (protobuf's), written the one way every
 * layer writes them: the key index's blocks (index/key_index.c) and the
 * protobuf records of mvcc and lease (common/pbwire.h). Private to strata
 * (strata__ prefix). Readers differ in what a bad varint means to them, so
 * each keeps its own (pbwire's strata__uv_get returns gogo's error codes).
 */
#ifndef STRATA_VARINT_H
#define STRATA_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* The longest varint (a negative int64 takes all of it). */
#define STRATA__UV_MAX 10

/* Bytes the varint of v takes: 1..10. */
static inline size_t strata__uv_size(uint64_t v)
{
    return 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7;
}

/* Writes the minimal varint of v at p (room for strata__uv_size(v) bytes); returns its size. */
static inline size_t strata__uv_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

#endif
