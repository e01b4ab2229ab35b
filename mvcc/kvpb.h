/*
 * kvpb.h: the value of etcd's `key` bucket, a protobuf mvccpb.KeyValue
 * (docs/schema.md §3.2; etcd 3.4 mvcc/mvccpb/kv.proto, kv.pb.go):
 *
 *   field            no.  wire type       tag
 *   key              1    bytes (2)       0x0A
 *   create_revision  2    varint int64    0x10
 *   mod_revision     3    varint int64    0x18
 *   version          4    varint int64    0x20
 *   value            5    bytes (2)       0x2A
 *   lease            6    varint int64    0x30
 *
 * The encoder writes gogoproto's bytes exactly; the decoder accepts and
 * rejects exactly what gogoproto's Unmarshal does (rules in kvpb.c and
 * common/pbwire.h). A put's value holds every non-zero field; a delete's
 * (tombstone) value is KeyValue{Key} alone, and it is the revision key's
 * 't' mark (revkey.h), not this value, that says the change was a delete.
 */
#ifndef STRATA_MVCC_KVPB_H
#define STRATA_MVCC_KVPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/mvcc.h>

#include "revkey.h"

/*
 * A KeyValue as a view. key and value point into the bytes it was decoded
 * from (or, for encoding, at the caller's bytes): zero copy. Lifetime: a
 * decoded view is valid exactly as long as the decoded buffer is (for a
 * value read from bolt, until the read transaction ends or the next write
 * on a write transaction); copy key and value to keep them longer. An empty
 * key or value may have a NULL pointer; its length is then 0.
 */
typedef struct mvcc__kv {
    const uint8_t *key;
    size_t key_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    const uint8_t *value;
    size_t value_len;
    int64_t lease; /* 0: no lease; may be negative (docs/schema.md §3.2) */
} mvcc__kv;

/* Bytes mvcc__kv_encode writes for kv. */
size_t mvcc__kv_encoded_size(const mvcc__kv *kv);

/*
 * Writes gogoproto's encoding of kv into out[0, size): fields in ascending
 * number, zero integers and empty byte strings omitted, integers as the
 * varint of their two's-complement uint64 (a negative one takes 10 bytes).
 * Returns 0 and sets *written, or STRATA_EMISUSE (nothing written) when
 * size < mvcc__kv_encoded_size(kv). out must not overlap kv's key or value.
 */
int mvcc__kv_encode(const mvcc__kv *kv, void *out, size_t size, size_t *written);

/*
 * Decodes buf[0, len) as gogoproto's Unmarshal does (kvpb.c's rules):
 * 0 and *out set (key and value pointing into buf), or one of
 * STRATA_EPBTRUNC, STRATA_EPBVARINT, STRATA_EPBLENGTH, STRATA_EPBTAG,
 * STRATA_EPBGROUP, STRATA_EPBWIRETYPE with *out untouched. Never reads
 * outside buf[0, len); buf may be NULL when len is 0 (an empty KeyValue).
 */
int mvcc__kv_decode(const void *buf, size_t len, mvcc__kv *out);

/* The tombstone value of key: KeyValue{Key: key} (kvstore_txn.go: delete). */
mvcc__kv mvcc__kv_tombstone(const void *key, size_t key_len);

/* Same fields and the same key and value bytes (pointers may differ). */
bool mvcc__kv_equal(const mvcc__kv *a, const mvcc__kv *b);

/*
 * The schema's rules for a record of the `key` bucket (docs/schema.md §3.2,
 * §3.3), beyond what the protobuf decoder checks. For the revision key rk:
 *   tombstone  a non-empty key and no other field;
 *   put        a non-empty key, mod_revision == rk->rev.main,
 *              0 < create_revision <= mod_revision, version >= 1.
 * 0, or MVCC_ECORRUPT with the broken rule written into why (at most
 * why_size bytes, NUL-terminated; why may be NULL).
 */
int mvcc__kv_check(const mvcc__kv *kv, const mvcc__revkey *rk, char *why, size_t why_size);

#endif
