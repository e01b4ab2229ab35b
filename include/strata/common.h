/*
 * strata/common.h: status codes, checksums, clocks and seeded randomness
 * shared by every strata layer.
 *
 * Thread rules: every function here is thread-safe. A strata_clock is used
 * by whoever holds it; the default clock may be shared freely.
 *
 * Status codes (docs/design.md §2). Every fallible strata function returns an int:
 *
 *   0            success
 *   1 .. 99      expected outcomes that are not failures (STRATA_NOTFOUND);
 *                one table, shared by all layers, defined here, so a
 *                positive code means the same thing wherever it comes from
 *   -1 .. -4095  -errno from a system call (-ENOSPC, -EIO, ...)
 *   -5000 ..     a layer's own failures, one range of 100 per layer:
 *                common -5000, bolt -5100, backend -5200, idx -5300,
 *                mvcc -5400, lease -5500
 *
 * so `rc < 0` always means failure. Each layer's *_strerror() knows its own
 * range and hands every other code to the layers below it, ending here.
 */
#ifndef STRATA_COMMON_H
#define STRATA_COMMON_H

/* Layer rule (docs/design.md): only layers allowed to see common may include this. */
#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_COMMON)
#error "this layer may not include <strata/common.h>"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * STRATA_API marks a declaration as part of libstrata's exported ABI. The
 * library is built with hidden visibility by default, so only declarations
 * carrying STRATA_API are visible from the shared library.
 */
#if defined(__GNUC__) || defined(__clang__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* The first code of each layer's range; a range holds 100 codes. */
#define STRATA_RANGE_COMMON  (-5000)
#define STRATA_RANGE_BOLT    (-5100)
#define STRATA_RANGE_BACKEND (-5200)
#define STRATA_RANGE_IDX     (-5300)
#define STRATA_RANGE_MVCC    (-5400)
#define STRATA_RANGE_LEASE   (-5500)
#define STRATA_RANGE_SIZE    100

/* True when rc lies in the layer range starting at `first`. */
#define STRATA_IN_RANGE(rc, first) ((rc) <= (first) && (rc) > (first)-STRATA_RANGE_SIZE)

/* Expected outcomes (positive): X(name, code, message). */
#define STRATA_OUTCOMES(X)             \
    X(STRATA_NOTFOUND, 1, "not found") \
    X(STRATA_EXISTS, 2, "already exists")

/*
 * common's own failures: X(name, code, message). The STRATA_EPB* codes are
 * the protobuf wire decoder's (common/pbwire.h), shared by mvcc's KeyValue
 * and lease's Lease records; each is one of gogoproto's Unmarshal errors.
 */
#define STRATA_ERRORS(X)                                                                   \
    X(STRATA_EMISUSE, -5000, "invalid argument or API misuse")                             \
    X(STRATA_EOVERFLOW, -5001, "size or count overflows its type")                         \
    X(STRATA_EPARSE, -5002, "malformed input text")                                        \
    X(STRATA_EPBTRUNC, -5010, "protobuf: unexpected end of record")                        \
    X(STRATA_EPBVARINT, -5011, "protobuf: varint longer than 10 bytes (integer overflow)") \
    X(STRATA_EPBLENGTH, -5012, "protobuf: negative or overflowing length")                 \
    X(STRATA_EPBTAG, -5013, "protobuf: illegal tag (field number 0 or negative)")          \
    X(STRATA_EPBGROUP, -5014, "protobuf: end-group tag outside a group")                   \
    X(STRATA_EPBWIRETYPE, -5015, "protobuf: wrong or illegal wire type for the field")

enum strata_status {
    STRATA_OK = 0,
#define STRATA__ENUM(name, code, msg) name = (code),
    STRATA_OUTCOMES(STRATA__ENUM) STRATA_ERRORS(STRATA__ENUM)
#undef STRATA__ENUM
};

/*
 * X-macro helpers each layer uses to turn its table into a switch:
 *     switch (rc) { BOLT_ERRORS(STRATA_STRERROR_CASE) default: ... }
 */
#define STRATA_STRERROR_CASE(name, code, msg) \
    case name:                                \
        return msg;
#define STRATA_STATUS_NAME_CASE(name, code, msg) \
    case name:                                   \
        return #name;

/*
 * Describe any status code: 0, the shared outcomes, -errno, and common's
 * range. Codes of higher layers are described by that layer's *_strerror;
 * here they give "unknown status code". Returns a static string, never NULL.
 */
STRATA_API const char *strata_strerror(int rc);

/*
 * The symbolic name of a code of this table ("STRATA_NOTFOUND", "ENOSPC"),
 * or NULL when the code is not one of common's or an errno value.
 */
STRATA_API const char *strata_status_name(int rc);

/* The library's version string ("0.1.0"); static. */
STRATA_API const char *strata_version(void);

/* ---- allocation ------------------------------------------------------ */

/*
 * Every allocation libstrata makes goes through these functions, never
 * through the host's malloc directly (zlib's state included). By default
 * they are the process's malloc, calloc, realloc and free: libstrata links
 * no allocator of its own and never changes its host's. An application may
 * replace them once, before its first call that can allocate (SQLite's
 * SQLITE_CONFIG_MALLOC, libuv's uv_replace_allocator).
 *
 * Memory the library hands to the caller is always released by the free
 * function the caller's header names (never by free(3) directly).
 */
typedef struct strata_allocator_fns {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t count, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
    /*
     * What strata_allocator() reports from now on ("jemalloc", "arena");
     * NULL reports "application". Not copied: a static string, or one that
     * outlives every strata call.
     */
    const char *name;
} strata_allocator_fns;

/*
 * Replace the allocation functions. The four functions must be non-NULL.
 * Returns 0, or STRATA_EMISUSE when fns or one of its functions is NULL or
 * the library has already allocated through the current functions (memory
 * from one allocator must never reach another's free). Not thread-safe:
 * call it before any other strata call.
 */
STRATA_API int strata_set_allocator(const strata_allocator_fns *fns);

/*
 * Which allocation functions the library uses now: "system" (the process's
 * malloc family, the default: whatever malloc the host program runs on) or
 * the name the application gave strata_set_allocator ("application" when it
 * gave none). Static (or the application's string); never NULL.
 */
STRATA_API const char *strata_allocator(void);

/* The library's allocation functions (malloc/calloc/realloc/free semantics). */
STRATA_API void *strata_malloc(size_t size);
STRATA_API void *strata_calloc(size_t count, size_t size);
STRATA_API void *strata_realloc(void *ptr, size_t size);
STRATA_API void strata_free(void *ptr);

/* ---- checksums --------------------------------------------------------- */

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Go's
 * crc32.MakeTable(crc32.Castagnoli): strata_crc32c(0, "123456789", 9) ==
 * 0xE3069283. Pass the previous result as `crc` to continue a running
 * checksum over several buffers (crc = 0 to start).
 */
STRATA_API uint32_t strata_crc32c(uint32_t crc, const void *data, size_t len);

/* 64-bit FNV-1a of `len` bytes (the bbolt meta page checksum). */
STRATA_API uint64_t strata_fnv1a64(const void *data, size_t len);

/*
 * SHA-256 (FIPS 180-4), for the canonical dump's sha256: fields and etcd's
 * snapshot trailer. Incremental use:
 *
 *     strata_sha256_ctx c;
 *     strata_sha256_init(&c);
 *     strata_sha256_update(&c, part1, len1);   (any number of times)
 *     strata_sha256_final(&c, digest);         (32 bytes)
 *
 * The result does not depend on how the message is split across updates.
 * update copies what it needs (the caller's buffer may be reused at once);
 * data may be NULL when len is 0. final wipes the context; call init again
 * before reusing it. A context is plain memory owned by the caller (nothing
 * to free), used by one thread at a time. The message may be up to
 * 2^61 - 1 bytes (the bit length is a u64). None of these can fail.
 */
typedef struct strata_sha256_ctx {
    uint32_t state[8]; /* H0..H7 */
    uint64_t bytes;    /* message bytes so far; bytes % 64 of them wait in buf */
    uint8_t buf[64];   /* the partial block */
} strata_sha256_ctx;

STRATA_API void strata_sha256_init(strata_sha256_ctx *c);
STRATA_API void strata_sha256_update(strata_sha256_ctx *c, const void *data, size_t len);
STRATA_API void strata_sha256_final(strata_sha256_ctx *c, uint8_t out[32]);

/* One-shot: out = SHA-256 of data[0, len). */
STRATA_API void strata_sha256(const void *data, size_t len, uint8_t out[32]);

/* ---- I/O --------------------------------------------------------------- */

/*
 * Write all n bytes of buf to fd with write(2) (fd may be a pipe or a
 * socket): short writes are continued and EINTR retried. 0, or -errno
 * (-EIO when write returns 0).
 */
STRATA_API int strata_write_all(int fd, const void *buf, size_t n);

/*
 * fsync the directory that holds path, so that a file created or renamed
 * there survives a crash. 0, -ENOMEM, or -errno of open/fsync.
 */
STRATA_API int strata_sync_dir_of(const char *path);

/* ---- clocks ------------------------------------------------------------ */

/*
 * A clock that layers use for intervals and expiries, so tests can drive
 * time by hand instead of sleeping. now_ns returns nanoseconds on a
 * monotonic scale whose origin is the clock's own.
 */
typedef struct strata_clock {
    uint64_t (*now_ns)(struct strata_clock *clock);
} strata_clock;

/* The process's monotonic clock (CLOCK_MONOTONIC); static, shareable. */
STRATA_API strata_clock *strata_clock_monotonic(void);

/*
 * A clock that moves only when told: for tests. Initialise with
 * strata_manual_clock_init(&c, start_ns), pass &c.clock to the layer,
 * advance with strata_manual_clock_advance. Reads and advances are atomic,
 * so a test thread may advance it while a layer's thread reads it.
 */
typedef struct strata_manual_clock {
    strata_clock clock; /* first member: &c.clock is the strata_clock */
    uint64_t now;       /* accessed atomically */
} strata_manual_clock;

STRATA_API void strata_manual_clock_init(strata_manual_clock *c, uint64_t start_ns);
STRATA_API void strata_manual_clock_advance(strata_manual_clock *c, uint64_t delta_ns);

/* ---- seeded randomness ------------------------------------------------- */

/*
 * SplitMix64, the generator docs/bench.md defines: returns the output for state
 * x (x += 0x9E3779B97F4A7C15, then the two xor-shift-multiply rounds).
 * strata_splitmix64(i) is docs/bench.md's rnd(i).
 */
STRATA_API uint64_t strata_splitmix64(uint64_t x);

/* A seeded stream: tests and demos draw from it with a printed seed. */
typedef struct strata_rng {
    uint64_t state;
} strata_rng;

STRATA_API void strata_rng_seed(strata_rng *r, uint64_t seed);
STRATA_API uint64_t strata_rng_next(strata_rng *r);
/* Uniform in [0, bound); bound 0 gives 0. */
STRATA_API uint64_t strata_rng_below(strata_rng *r, uint64_t bound);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_COMMON_H */
