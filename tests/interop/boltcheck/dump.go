package main

// dump.go: the canonical logical dump `bolt-dump v1`, read through bbolt.
//
// Format (the same one strata's `dump` prints):
//
//	bolt-dump v1                  first line
//	bucket PATH seq=N             a bucket, at its key position in its parent
//	key PATH KEY VALUE            a plain key of bucket PATH ("-" = root bucket)
//	end buckets=B keys=K          totals over all depths
//
// Rules:
//  1. Depth-first; within a bucket entries come in cursor (bytewise) order,
//     and a bucket line is followed at once by the bucket's own contents.
//  2. PATH is the hex of each bucket name from the top joined by "/", never
//     hashed. KEY and VALUE are lower-case hex, "-" when empty, and
//     "sha256:LEN:HEX" when longer than maxHex bytes (maxHex 0 = never).
//  3. The same logical content gives the same bytes, whoever wrote the file
//     and whatever its page layout.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// defaultMaxHex is the dump's default hashing threshold in bytes.
const defaultMaxHex = 32768

// hexOrDash encodes a string for a dump field without hashing.
func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// dumpField encodes a KEY or VALUE field (rule 2).
func dumpField(b []byte, maxHex int) string {
	if maxHex > 0 && len(b) > maxHex {
		sum := sha256.Sum256(b)
		return fmt.Sprintf("sha256:%d:%s", len(b), hex.EncodeToString(sum[:]))
	}
	return hexOrDash(b)
}

// dumpCounts are the totals of the closing line.
type dumpCounts struct{ buckets, keys uint64 }

// writeDump writes the dump of everything tx sees to out.
func writeDump(out io.Writer, tx *bolt.Tx, maxHex int) error {
	w := bufio.NewWriterSize(out, 1<<16)
	fmt.Fprintln(w, "bolt-dump v1")
	var n dumpCounts
	// The root bucket: top-level buckets, and (rarely) plain keys, path "-".
	c := tx.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if b := tx.Bucket(k); b != nil {
				dumpBucket(w, b, hexOrDash(k), maxHex, &n)
				continue
			}
		}
		n.keys++
		fmt.Fprintf(w, "key - %s %s\n", dumpField(k, maxHex), dumpField(v, maxHex))
	}
	fmt.Fprintf(w, "end buckets=%d keys=%d\n", n.buckets, n.keys)
	return w.Flush()
}

// dumpBucket writes the bucket line of b (at path) and then its contents.
func dumpBucket(w *bufio.Writer, b *bolt.Bucket, path string, maxHex int, n *dumpCounts) {
	n.buckets++
	fmt.Fprintf(w, "bucket %s seq=%d\n", path, b.Sequence())
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			// Buckets come back with a nil value; an empty plain value is
			// a non-nil empty slice, but do not rely on that.
			if child := b.Bucket(k); child != nil {
				dumpBucket(w, child, path+"/"+hexOrDash(k), maxHex, n)
				continue
			}
		}
		n.keys++
		fmt.Fprintf(w, "key %s %s %s\n", path, dumpField(k, maxHex), dumpField(v, maxHex))
	}
}
