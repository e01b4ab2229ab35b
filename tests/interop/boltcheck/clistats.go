package main

// clistats: the figures bbolt's own CLI prints for `bbolt stats PATH
// [PREFIX]` (cmd/bbolt in bbolt 1.3.6), computed with the real bbolt's
// Bucket.Stats: every top-level bucket whose name starts with PREFIX is
// added up (counts summed, depth the maximum, as BucketStats.Add does); the
// root bucket itself is not counted. One "name=value" line each, for
// tests/tools/test_bbolt.sh to compare with `strata stats --json`. Clean
// files only (the corner files of gen): it opens the file with bbolt
// directly.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

func cmdCliStats(args []string) int {
	fs := newFlags("clistats")
	prefixHex := fs.String("prefix", "", "bucket-name prefix, hex")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: boltcheck clistats [-prefix HEX] FILE")
		return exitNoOpen
	}
	prefix, err := hex.DecodeString(*prefixHex)
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltcheck clistats: -prefix: %v\n", err)
		return exitNoOpen
	}
	db, err := bolt.Open(fs.Arg(0), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltcheck clistats: %v\n", err)
		return exitNoOpen
	}
	defer db.Close()
	var sum bolt.BucketStats
	matched := 0
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			// A plain key of the root has no bucket: bbolt's CLI would
			// call Stats on nil there and panic; it is skipped (as
			// strata's stats skips it).
			if b == nil || !bytes.HasPrefix(name, prefix) {
				return nil
			}
			sum.Add(b.Stats())
			matched++
			return nil
		})
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltcheck clistats: %v\n", err)
		return exitProblems
	}
	fmt.Printf("matched=%d\nbranch_pages=%d\nbranch_overflow=%d\nleaf_pages=%d\nleaf_overflow=%d\n",
		matched, sum.BranchPageN, sum.BranchOverflowN, sum.LeafPageN, sum.LeafOverflowN)
	fmt.Printf("keys=%d\ndepth=%d\nbranch_alloc=%d\nbranch_inuse=%d\nleaf_alloc=%d\nleaf_inuse=%d\n",
		sum.KeyN, sum.Depth, sum.BranchAlloc, sum.BranchInuse, sum.LeafAlloc, sum.LeafInuse)
	fmt.Printf("buckets=%d\ninline_buckets=%d\ninline_inuse=%d\n",
		sum.BucketN, sum.InlineBucketN, sum.InlineBucketInuse)
	return exitOK
}
