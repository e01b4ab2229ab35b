package main

// mutate.go: one bbolt write transaction that touches every bucket of a
// file, deterministically from a seed and the file's logical content.
//
// For every bucket (at any depth, except the transient ones this command
// creates) the transaction, in bucket dump order:
//  1. deletes up to two existing plain keys and overwrites a third;
//  2. puts three new keys "m<seed>-<i>" (values 0..299 bytes, one empty);
//  3. bumps the sequence (NextSequence), and on one bucket per seed sets it
//     near 2^64-1;
//  4. deletes every nested bucket named "mutsub-*" left by earlier rounds,
//     then creates "mutsub-<seed>" holding one key; on odd seeds it deletes
//     that new bucket again in the same transaction, so buckets alternate
//     between having a nested paged child and going back inline.
//
// The root bucket also gets a top-level "mut-top-<seed>" bucket (older
// ones are deleted). The result depends only on the previous logical
// content and the seed, never on the page layout, so the dumps of bbolt's
// and strata's files stay comparable after the same mutation.

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

const (
	mutSubPrefix = "mutsub-"
	mutTopPrefix = "mut-top-"
)

// mutateOptions choose how bbolt opens the file.
type mutateOptions struct {
	seed     uint64
	freelist string // "keep", "sync" or "nosync"
}

// bucketPath is a list of bucket names from the top.
type bucketPath [][]byte

// collectBuckets lists every bucket path in dump order, skipping (and not
// descending into) the transient buckets of earlier mutations.
func collectBuckets(tx *bolt.Tx) []bucketPath {
	var out []bucketPath
	var walk func(b *bolt.Bucket, p bucketPath)
	walk = func(b *bolt.Bucket, p bucketPath) {
		out = append(out, p)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil || bytes.HasPrefix(k, []byte(mutSubPrefix)) {
				continue
			}
			if child := b.Bucket(k); child != nil {
				walk(child, append(append(bucketPath{}, p...), append([]byte{}, k...)))
			}
		}
	}
	c := tx.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		if b := tx.Bucket(k); b != nil {
			walk(b, bucketPath{append([]byte{}, k...)})
		}
	}
	return out
}

// resolve opens the bucket at p in tx.
func resolve(tx *bolt.Tx, p bucketPath) *bolt.Bucket {
	b := tx.Bucket(p[0])
	for _, name := range p[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

// mutateBucket applies rules 1-4 to one bucket.
func mutateBucket(b *bolt.Bucket, r *rng, o mutateOptions, setMax bool) error {
	var plain, subs [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		kc := append([]byte{}, k...)
		if v == nil && b.Bucket(k) != nil {
			if bytes.HasPrefix(k, []byte(mutSubPrefix)) {
				subs = append(subs, kc)
			}
			continue
		}
		plain = append(plain, kc)
	}
	// 1. deletes and one overwrite, at positions drawn from the seed.
	if len(plain) > 0 {
		victims := map[int]bool{int(r.next() % uint64(len(plain))): true}
		if len(plain) > 3 {
			victims[int(r.next()%uint64(len(plain)))] = true
		}
		for i := range victims {
			if err := b.Delete(plain[i]); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		}
		for i := range plain {
			j := (i + int(r.next()%uint64(len(plain)))) % len(plain)
			if !victims[j] {
				if err := b.Put(plain[j], r.bytes(int(r.next()%300))); err != nil {
					return fmt.Errorf("overwrite: %w", err)
				}
				break
			}
		}
	}
	// 2. new keys; the first of them has an empty value.
	for i := 0; i < 3; i++ {
		v := []byte{}
		if i > 0 {
			v = r.bytes(int(r.next() % 300))
		}
		if err := b.Put([]byte(fmt.Sprintf("m%d-%d", o.seed, i)), v); err != nil {
			return fmt.Errorf("put: %w", err)
		}
	}
	// 3. sequences.
	if _, err := b.NextSequence(); err != nil {
		return err
	}
	if setMax {
		if err := b.SetSequence(^uint64(0) - o.seed%4); err != nil {
			return err
		}
	}
	// 4. nested buckets: delete the old ones, create (and maybe drop) a new one.
	for _, s := range subs {
		if err := b.DeleteBucket(s); err != nil {
			return fmt.Errorf("delete bucket: %w", err)
		}
	}
	name := []byte(fmt.Sprintf("%s%d", mutSubPrefix, o.seed))
	sub, err := b.CreateBucket(name)
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if err := sub.Put([]byte("k"), r.bytes(64)); err != nil {
		return err
	}
	if o.seed%2 == 1 {
		if err := b.DeleteBucket(name); err != nil {
			return fmt.Errorf("delete new bucket: %w", err)
		}
	}
	return nil
}

// mutateTx is the whole transaction.
func mutateTx(tx *bolt.Tx, o mutateOptions) error {
	r := newRNG(o.seed*0x9E3779B97F4A7C15 + 1)
	paths := collectBuckets(tx)
	maxAt := -1
	if len(paths) > 0 {
		maxAt = int(o.seed % uint64(len(paths)))
	}
	for i, p := range paths {
		b := resolve(tx, p)
		if b == nil {
			return fmt.Errorf("bucket %s vanished", displayPath(pathHex(p)))
		}
		if err := mutateBucket(b, r, o, i == maxAt); err != nil {
			return fmt.Errorf("bucket %s: %w", displayPath(pathHex(p)), err)
		}
	}
	// The root bucket: replace the transient top-level bucket.
	var old [][]byte
	c := tx.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil && bytes.HasPrefix(k, []byte(mutTopPrefix)) {
			old = append(old, append([]byte{}, k...))
		}
	}
	for _, k := range old {
		if err := tx.DeleteBucket(k); err != nil {
			return fmt.Errorf("delete top bucket: %w", err)
		}
	}
	top, err := tx.CreateBucket([]byte(fmt.Sprintf("%s%d", mutTopPrefix, o.seed)))
	if err != nil {
		return fmt.Errorf("create top bucket: %w", err)
	}
	if err := top.Put([]byte("seed"), []byte(fmt.Sprint(o.seed))); err != nil {
		return err
	}
	_, err = top.NextSequence()
	return err
}

// pathHex renders a bucket path as in the dump.
func pathHex(p bucketPath) string {
	s := ""
	for _, name := range p {
		s = childPath(s, name)
	}
	return s
}

// mutateFile opens path read-write with bbolt and commits mutateTx.
// freelistStored tells what the file has now (for "keep").
func mutateFile(path string, pageSize int, freelistStored bool, o mutateOptions) error {
	noSync := !freelistStored
	switch o.freelist {
	case "sync":
		noSync = false
	case "nosync":
		noSync = true
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: pageSize, NoFreelistSync: noSync, Timeout: openTimeout})
	if err != nil {
		return &openError{err}
	}
	err = db.Update(func(tx *bolt.Tx) error { return mutateTx(tx, o) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
