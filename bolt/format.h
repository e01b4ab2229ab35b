/*
 * format.h (private to bolt/): the bbolt 1.3.6 file format, byte by byte.
 *
 * This is the ONLY file that knows byte offsets and flag values. Every
 * on-disk field is read and written through the load/store helpers below
 * (memcpy + little-endian), never by casting a struct onto map bytes:
 * nothing in the format is aligned (inline bucket pages start at odd
 * offsets, docs/format.md §6).
 *
 * Rules:
 *   1. All integers are little-endian (docs/format.md conventions).
 *   2. Offsets named *_OFF are relative to the structure named in the
 *      prefix: PAGE_ from the page start, META_ from the page start of a
 *      meta page, BRANCH_/LEAF_ from the element start, BUCKET_ from the
 *      start of a bucket value.
 *
 *  Page (docs/format.md §2):               Meta page body (§3), page offsets:
 *  +0  u64 id                          +16 u32 magic     +40 u64 sequence
 *  +8  u16 flags                       +20 u32 version   +48 u64 freelist
 *  +10 u16 count                       +24 u32 page_size +56 u64 pgid
 *  +12 u32 overflow                    +28 u32 flags     +64 u64 txid
 *  +16 elements / meta / free ids      +32 u64 root      +72 u64 checksum
 *
 *  Branch element (§4, 16 bytes):     Leaf element (§5, 16 bytes):
 *  +0 u32 pos +4 u32 ksize +8 u64 pgid +0 u32 flags +4 u32 pos +8 u32 ksize
 *                                      +12 u32 vsize
 *  pos is relative to the element's own start.
 */
#ifndef STRATA_BOLT_FORMAT_H
#define STRATA_BOLT_FORMAT_H

#include <stdint.h>
#include <string.h>

/* §2 page header. */
#define BOLT_PAGE_HEADER_SIZE  16
#define BOLT_PAGE_ID_OFF       0
#define BOLT_PAGE_FLAGS_OFF    8
#define BOLT_PAGE_COUNT_OFF    10
#define BOLT_PAGE_OVERFLOW_OFF 12

#define BOLT_PAGE_BRANCH   0x01
#define BOLT_PAGE_LEAF     0x02
#define BOLT_PAGE_META     0x04
#define BOLT_PAGE_FREELIST 0x10

/* §3 meta page, offsets from the page start. */
#define BOLT_META_MAGIC_OFF    16
#define BOLT_META_VERSION_OFF  20
#define BOLT_META_PAGESIZE_OFF 24
#define BOLT_META_FLAGS_OFF    28
#define BOLT_META_ROOT_OFF     32
#define BOLT_META_SEQUENCE_OFF 40
#define BOLT_META_FREELIST_OFF 48
#define BOLT_META_PGID_OFF     56
#define BOLT_META_TXID_OFF     64
#define BOLT_META_CHECKSUM_OFF 72
#define BOLT_META_END          80 /* header + 64-byte body */
#define BOLT_META_SUM_START    16 /* checksum covers [16, 72) */
#define BOLT_META_SUM_LEN      56
#define BOLT_MAGIC             0xED0CDAEDu
#define BOLT_VERSION           2u
#define BOLT_NO_FREELIST       UINT64_MAX /* §7.3 sentinel */

/* §4 branch element. */
#define BOLT_BRANCH_ELEM_SIZE 16
#define BOLT_BRANCH_POS_OFF   0
#define BOLT_BRANCH_KSIZE_OFF 4
#define BOLT_BRANCH_PGID_OFF  8

/* §5 leaf element. */
#define BOLT_LEAF_ELEM_SIZE 16
#define BOLT_LEAF_FLAGS_OFF 0
#define BOLT_LEAF_POS_OFF   4
#define BOLT_LEAF_KSIZE_OFF 8
#define BOLT_LEAF_VSIZE_OFF 12
#define BOLT_LEAF_BUCKET    0x01 /* the value is a bucket (§6) */

/* §6 bucket header at the start of a bucket element's value. */
#define BOLT_BUCKET_HEADER_SIZE 16
#define BOLT_BUCKET_ROOT_OFF    0
#define BOLT_BUCKET_SEQ_OFF     8

/* §7.1 freelist page: count escape. */
#define BOLT_FREELIST_COUNT_ESCAPE 0xFFFFu

/* §5 limits. */
#define BOLT_MAX_KEY_SIZE   32768u
#define BOLT_MAX_VALUE_SIZE 2147483646u /* 2^31 - 2 */
#define BOLT_MAX_ELEM_SPAN  2147483647u /* pos + ksize + vsize readable by bbolt */

/*
 * The one limit on bucket nesting: bucket creation refuses to go deeper
 * (BOLT_ENESTING), and every walk over nested buckets, the engine's (dump,
 * delete, check, stats, bulk load) and the CLI's raw walker (pages,
 * salvage), stops there, so a cycle through bucket roots in a damaged file
 * ends. bbolt has no limit; 2048 levels is far beyond any real use.
 */
#define BOLT_MAX_NESTING 2048

/* §9 mmap sizing. */
#define BOLT_MAX_MAP_SIZE  0xFFFFFFFFFFFFull
#define BOLT_MIN_PAGE_SIZE 512u
#define BOLT_MAX_PAGE_SIZE 65536u

/* §10 writer constants. */
#define BOLT_MIN_FILL_PERCENT     0.1
#define BOLT_MAX_FILL_PERCENT     1.0
#define BOLT_DEFAULT_FILL_PERCENT 0.5

static inline uint16_t bolt__ld16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t bolt__ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t bolt__ld64(const unsigned char *p)
{
    return (uint64_t)bolt__ld32(p) | (uint64_t)bolt__ld32(p + 4) << 32;
}

static inline void bolt__st16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void bolt__st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void bolt__st64(unsigned char *p, uint64_t v)
{
    bolt__st32(p, (uint32_t)v);
    bolt__st32(p + 4, (uint32_t)(v >> 32));
}

#endif
