/*
 * leasepb.h: records of etcd's `lease` bucket (docs/schema.md §5; etcd 3.4
 * lease/lessor.go, lease/leasepb/lease.proto, lease.pb.go).
 *
 *   key    int64ToBytes(ID): the 8-byte big-endian two's complement of the
 *          ID (a negative client-chosen ID sorts after every positive one)
 *   value  protobuf leasepb.Lease:
 *            field         no.  wire type     tag
 *            ID            1    varint int64  0x08
 *            TTL           2    varint int64  0x10
 *            RemainingTTL  3    varint int64  0x18  (0: unset)
 *
 * The value's encoder writes gogoproto's bytes exactly; its decoder accepts
 * and rejects exactly what gogoproto's Unmarshal does (common/pbwire.h and
 * the rules in leasepb.c).
 */
#ifndef STRATA_LEASE_LEASEPB_H
#define STRATA_LEASE_LEASEPB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/lease.h>

#define LEASE__KEY_LEN 8
/* The longest encoded Lease: three one-byte tags and three 10-byte varints. */
#define LEASE__PB_MAX  33

/* A decoded leasepb.Lease (plain integers: nothing points into the input). */
typedef struct lease__pb {
    int64_t id;
    int64_t ttl;           /* seconds */
    int64_t remaining_ttl; /* seconds; 0 = unset */
} lease__pb;

/* Writes the bucket key of id into out[0, 8). */
void lease__key_encode(int64_t id, uint8_t *out);

/*
 * Decodes a bucket key: 0 and *id, or LEASE_ECORRUPT (*id untouched) when
 * len is not 8. Reads only buf[0, len).
 */
int lease__key_decode(const void *buf, size_t len, int64_t *id);

/* Bytes lease__pb_encode writes for l (at most LEASE__PB_MAX). */
size_t lease__pb_encoded_size(const lease__pb *l);

/*
 * Writes gogoproto's encoding of l into out[0, size): ascending field
 * numbers, zero fields omitted, a negative value as a 10-byte varint.
 * Returns 0 and sets *written, or STRATA_EMISUSE (nothing written) when
 * size < lease__pb_encoded_size(l).
 */
int lease__pb_encode(const lease__pb *l, void *out, size_t size, size_t *written);

/*
 * Decodes buf[0, len) as gogoproto's Unmarshal does: 0 and *out set, or
 * one of STRATA_EPBTRUNC, STRATA_EPBVARINT, STRATA_EPBLENGTH,
 * STRATA_EPBTAG, STRATA_EPBGROUP, STRATA_EPBWIRETYPE with *out untouched.
 * Never reads outside buf[0, len); buf may be NULL when len is 0.
 */
int lease__pb_decode(const void *buf, size_t len, lease__pb *out);

/*
 * The schema's rules for one record of the bucket (docs/schema.md §5, §10):
 * the key decodes, the ID is not 0 (etcd's NoLease, which Grant refuses)
 * and the key is int64ToBytes of the value's ID. 0, or LEASE_ECORRUPT
 * with the broken rule in why (why may be NULL).
 */
int lease__record_check(const void *key, size_t key_len, const lease__pb *l, char *why,
                        size_t why_size);

#endif
