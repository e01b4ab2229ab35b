/*
 * pbwire.h: the protobuf wire format as gogoproto 1.x generates it for etcd
 * 3.4 (mvcc/mvccpb/kv.pb.go, lease/leasepb/lease.pb.go): varints, tags,
 * length-delimited fields and the skipping of unknown fields. Private to
 * strata (strata__ prefix); mvcc's KeyValue and lease's Lease codecs are
 * built on it, so the rules live in one place.
 *
 * Everything is static inline: the helpers are a few instructions each and
 * sit on the decode path of every record restore reads.
 *
 * Rules (each mirrors a line of the generated Unmarshal/skip code; the
 * decoder must accept exactly what gogo accepts, and reject the rest with
 * the error class gogo gives):
 *   1. A varint is at most 10 bytes: the loop reads bytes while shift < 64,
 *      so an 11th byte is STRATA_EPBVARINT ("proto: integer overflow").
 *      Bits beyond 64 in the 10th byte are dropped, not refused, and
 *      non-minimal forms (80 00) are accepted: gogo does the same.
 *   2. Running out of bytes anywhere (inside a varint, a length-delimited
 *      payload, a fixed32/fixed64, a group) is STRATA_EPBTRUNC
 *      (io.ErrUnexpectedEOF). No byte at or past `end` is ever read.
 *   3. A length is read as Go's 64-bit int: a length with bit 63 set is
 *      negative and STRATA_EPBLENGTH (ErrInvalidLength). A length beyond the
 *      buffer is STRATA_EPBTRUNC. Go adds lengths to int indexes without
 *      overflow checks, and strata follows what that yields where it is an
 *      error: for an unknown top-level field, skipKv's own index (the bytes
 *      of the tag and length) plus the length overflowing int64 is a
 *      negative skip, ErrInvalidLength, so STRATA_EPBLENGTH. Where the
 *      overflowed index is used instead (a known field's payload, a field
 *      inside a group, a skip past the record's start), gogo panics with an
 *      index out of range and strata answers STRATA_EPBTRUNC.
 *   4. The field number is int32(tag >> 3): only the low 32 bits count, so
 *      tag >> 3 == 2^32 + 1 is field 1. Field number <= 0 after that
 *      truncation is STRATA_EPBTAG. Wire type 4 (end group) at the top
 *      level is STRATA_EPBGROUP; gogo checks it before the field number.
 *   5. Unknown fields are skipped by wire type: 0 varint, 1 eight bytes,
 *      2 length-delimited, 5 four bytes, 3 a group: fields up to the
 *      matching end-group tag (any field number ends it: gogo does not
 *      compare them), nested groups included. Wire types 6 and 7 are
 *      STRATA_EPBWIRETYPE ("proto: illegal wireType").
 *   6. A known field with another wire type than its own is
 *      STRATA_EPBWIRETYPE; that check is the caller's (pbwire does not know
 *      the message), done right after strata__pb_tag.
 */
#ifndef STRATA_PBWIRE_H
#define STRATA_PBWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <strata/common.h>

#include "varint.h" /* strata__uv_size, strata__uv_put, STRATA__UV_MAX */

/* Wire types. */
#define STRATA__PB_VARINT  0
#define STRATA__PB_FIXED64 1
#define STRATA__PB_BYTES   2
#define STRATA__PB_SGROUP  3
#define STRATA__PB_EGROUP  4
#define STRATA__PB_FIXED32 5

/*
 * Reads a varint at *pp (rules 1, 2): 0 with *v set and *pp advanced past
 * it, STRATA_EPBTRUNC or STRATA_EPBVARINT (then *pp and *v are unspecified).
 */
static inline int strata__uv_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    /* Invariant: p < end before each read; shift counts the bits taken so far. */
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return STRATA_EPBTRUNC;
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return STRATA_EPBVARINT;
}

/*
 * Reads a tag (rule 4): 0 with *field in 1..2^31-1 and *wire_type in 0..7
 * (never 4), or STRATA_EPBTRUNC, STRATA_EPBVARINT, STRATA_EPBGROUP,
 * STRATA_EPBTAG.
 */
static inline int strata__pb_tag(const uint8_t **pp, const uint8_t *end, uint32_t *field,
                                 unsigned *wire_type)
{
    uint64_t tag;
    int rc = strata__uv_get(pp, end, &tag);
    if (rc != 0)
        return rc;
    unsigned wt = (unsigned)(tag & 7);
    if (wt == STRATA__PB_EGROUP)
        return STRATA_EPBGROUP;
    /* int32(wire >> 3) <= 0: the low 32 bits, read as signed, must be positive. */
    uint32_t f = (uint32_t)(tag >> 3);
    if (f == 0 || f > INT32_MAX)
        return STRATA_EPBTAG;
    *field = f;
    *wire_type = wt;
    return 0;
}

/*
 * Reads the length and payload of a length-delimited field (rules 2, 3):
 * 0 with *data, *len the payload (pointing into the input) and *pp past
 * it, or STRATA_EPBTRUNC, STRATA_EPBVARINT, STRATA_EPBLENGTH.
 */
static inline int strata__pb_bytes(const uint8_t **pp, const uint8_t *end, const uint8_t **data,
                                   size_t *len)
{
    uint64_t n;
    int rc = strata__uv_get(pp, end, &n);
    if (rc != 0)
        return rc;
    if (n > (uint64_t)INT64_MAX)
        return STRATA_EPBLENGTH;
    if (n > (uint64_t)(end - *pp))
        return STRATA_EPBTRUNC;
    *data = *pp;
    *len = (size_t)n;
    *pp += n;
    return 0;
}

/* Advances *pp by n bytes, or STRATA_EPBTRUNC when fewer are left. */
static inline int strata__pb_fixed(const uint8_t **pp, const uint8_t *end, uint64_t n)
{
    if ((uint64_t)(end - *pp) < n)
        return STRATA_EPBTRUNC;
    *pp += n;
    return 0;
}

/*
 * Skips the value of an unknown field whose tag (wire type wt), starting
 * at tag_start, was just read (rule 5): 0 with *pp past it, or the error
 * of the first malformed piece. Groups are walked with a depth counter
 * instead of gogo's recursion, so no input can exhaust the stack; the
 * result is the same.
 */
static inline int strata__pb_skip(const uint8_t **pp, const uint8_t *end, unsigned wt,
                                  const uint8_t *tag_start)
{
    uint64_t depth = 0; /* open groups around the value being skipped */
    for (;;) {
        int rc;
        uint64_t ignored;
        switch (wt) {
        case STRATA__PB_VARINT:
            rc = strata__uv_get(pp, end, &ignored);
            break;
        case STRATA__PB_FIXED64:
            rc = strata__pb_fixed(pp, end, 8);
            break;
        case STRATA__PB_BYTES:
            rc = strata__uv_get(pp, end, &ignored);
            /*
             * Rule 3: a negative length; and at the top level, skipKv's
             * index (*pp - tag_start) plus the length overflowing, which
             * Unmarshal sees as a negative skip.
             */
            if (rc == 0 &&
                (ignored > (uint64_t)INT64_MAX ||
                 (depth == 0 && ignored > (uint64_t)INT64_MAX - (uint64_t)(*pp - tag_start))))
                rc = STRATA_EPBLENGTH;
            if (rc == 0)
                rc = strata__pb_fixed(pp, end, ignored);
            break;
        case STRATA__PB_FIXED32:
            rc = strata__pb_fixed(pp, end, 4);
            break;
        case STRATA__PB_SGROUP:
            depth++;
            rc = 0;
            break;
        case STRATA__PB_EGROUP:
            /* The top level refuses it in strata__pb_tag; this guards a direct call. */
            if (depth == 0)
                return STRATA_EPBGROUP;
            depth--;
            rc = 0;
            break;
        default:
            return STRATA_EPBWIRETYPE;
        }
        if (rc != 0)
            return rc;
        if (depth == 0)
            return 0;
        /*
         * Inside a group: the next tag. gogo's group loop reads the raw tag
         * and looks at its wire type only, so neither the field number nor
         * the end-group's match with the start is checked here.
         */
        uint64_t tag;
        tag_start = *pp;
        rc = strata__uv_get(pp, end, &tag);
        if (rc != 0)
            return rc;
        wt = (unsigned)(tag & 7);
    }
}

#endif
