/*
 * revkey.h: the key of etcd's `key` bucket, a revision (docs/schema.md §3.1;
 * etcd 3.4 mvcc/revision.go and kvstore.go):
 *
 *   offset  size  field
 *   0       8     main, int64 big-endian
 *   8       1     '_' (0x5F)
 *   9       8     sub, int64 big-endian
 *   17      1     't' (0x74), only in the 18-byte tombstone form
 *
 * etcd's bytesToRev reads main and sub without looking at the length, byte
 * 8 or byte 17; strata's decoder validates all of them (a key is bytes from
 * the file). Because main and sub are never negative, memcmp order of two
 * encoded keys (shorter prefix first) is (main, sub, tombstone) order, which
 * mvcc__revkey_cmp reproduces on decoded keys.
 */
#ifndef STRATA_MVCC_REVKEY_H
#define STRATA_MVCC_REVKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/idx.h>
#include <strata/mvcc.h>

#define MVCC__REVKEY_LEN      17 /* revBytesLen */
#define MVCC__REVKEY_TOMB_LEN 18 /* markedRevBytesLen */
#define MVCC__REVKEY_SEP      '_'
#define MVCC__REVKEY_MARK     't'

/* A decoded revision key. */
typedef struct mvcc__revkey {
    idx_rev rev;
    bool tombstone; /* the 18-byte form: the change was a delete */
} mvcc__revkey;

/*
 * Writes rev's key into out (room for MVCC__REVKEY_TOMB_LEN bytes): 17
 * bytes, or 18 with the tombstone mark. Returns the length written.
 * Precondition (asserted): rev.main >= 0 and rev.sub >= 0; the store makes
 * revisions, so a negative one is a bug in the caller, not input.
 */
size_t mvcc__revkey_encode(idx_rev rev, bool tombstone, uint8_t *out);

/*
 * Decodes a key of the `key` bucket. Returns 0 and fills *out, or, with
 * *out untouched:
 *   MVCC_EREVKEYLEN   len is neither 17 nor 18;
 *   MVCC_EREVKEYSEP   byte 8 is not '_';
 *   MVCC_EREVKEYMARK  an 18-byte key whose last byte is not 't';
 *   MVCC_EREVKEYNEG   main or sub has bit 63 set.
 * Reads only buf[0, len).
 */
int mvcc__revkey_decode(const void *buf, size_t len, mvcc__revkey *out);

/*
 * -1, 0 or 1 as a sorts before, with or after b in the bucket: (main, sub)
 * order, then a normal key before the tombstone key of the same revision
 * (its 17 bytes are a prefix of the other's 18). For keys that decode, this
 * is the sign of comparing their encodings as unsigned byte strings.
 */
int mvcc__revkey_cmp(const mvcc__revkey *a, const mvcc__revkey *b);

#endif
