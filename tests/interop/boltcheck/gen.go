package main

// gen.go: writes, with the real bbolt, database files that cover the
// corners of the format (docs/format.md), each from a fixed seed.
//
// Rules:
//  1. Content is a pure function of the corner's name and seed: two
//     generations give byte-identical dumps (page layouts may differ,
//     because bbolt spills sibling buckets in Go map order).
//  2. Each corner states what it must exhibit (expect): after writing,
//     gen walks the file with the strict walk and fails if the walk finds
//     a problem or the corner is not actually there (e.g. no branch
//     overflow in max_key.db), so a bbolt change cannot silently thin out
//     the coverage.
//  3. Everything is small and quick (NoSync), except the page-size-512
//     freelist overflow file (~35 MB, the least the format allows to get
//     more than 0xFFFF free ids), written only when named with -only or
//     asked for with -big.

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// rng is splitmix64: tiny, seeded, the same on every platform.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{seed} }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// bytes returns n pseudo-random bytes.
func (r *rng) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.next())
		copy(b[i:], w[:])
	}
	return b
}

// perm returns a seeded permutation of 0..n-1.
func (r *rng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(r.next() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// corner is one generated file.
type corner struct {
	name   string
	what   string
	big    bool // only with -big or -only
	gen    func(path string, r *rng) error
	expect func(s *strictStats, notes []string) error
}

// atLeast builds an expectation error when got < want.
func atLeast(what string, got, want uint64) error {
	if got < want {
		return fmt.Errorf("%s = %d, want at least %d", what, got, want)
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

var corners = []corner{
	{"empty.db", "fresh file, never committed: bbolt's init (4 pages)", false, genEmpty,
		func(s *strictStats, _ []string) error {
			return firstErr(eq("pgid", s.pgid, 4), eq("txid", s.txid, 1), eq("buckets", uint64(s.buckets), 0))
		}},
	{"empty_tx.db", "one empty committed transaction", false, genEmptyTx,
		func(s *strictStats, _ []string) error {
			return firstErr(eq("txid", s.txid, 2), atLeast("free", s.free, 1))
		}},
	{"one_bucket.db", "one inline bucket: binary keys, 1-byte key, empty value", false, genOneBucket,
		func(s *strictStats, _ []string) error { return eq("inline buckets", uint64(s.inline), 1) }},
	{"root_keys.db", "plain keys directly in the root bucket (dump path \"-\") next to buckets", false, genRootKeys,
		func(s *strictStats, _ []string) error { return atLeast("root keys", s.rootKeys, 3) }},
	{"inline_nested.db", "paged parent with inline children: empty, small, exactly at page_size/4, one byte over", false, genInlineNested,
		func(s *strictStats, _ []string) error {
			return firstErr(atLeast("inline buckets", uint64(s.inline), 5), atLeast("nesting", uint64(s.maxNesting), 3))
		}},
	{"deep_nesting.db", "a chain of 40 nested buckets, deepest inline; a 3-level chain of paged buckets", false, genDeepNesting,
		func(s *strictStats, _ []string) error { return atLeast("nesting", uint64(s.maxNesting), 41) }},
	{"sequences.db", "bucket sequences: NextSequence, SetSequence 0, 2^63, 2^64-1, inline and paged", false, genSequences,
		func(s *strictStats, _ []string) error { return eq("max sequence", s.maxSeq, ^uint64(0)) }},
	{"large_values.db", "values of 1 MiB and 3 MiB, values ending exactly at 1, 2, 3 page boundaries and one byte past", false, genLargeValues,
		func(s *strictStats, _ []string) error {
			return firstErr(atLeast("max value", s.maxValue, 3<<20), atLeast("leaf overflow pages", s.leafOverflow, 1000))
		}},
	{"max_key.db", "keys of 32768 bytes (leaf and branch overflow, 3 levels); 32767-byte keys", false, genMaxKey,
		func(s *strictStats, _ []string) error {
			return firstErr(eq("max key", s.maxKey, 32768), atLeast("branch overflow pages", s.branchOverflow, 1),
				atLeast("depth", uint64(s.maxDepth), 3))
		}},
	{"many_keys.db", "20000 16-byte keys in random order over 8 transactions: root branch, branches, leaves", false, genManyKeys,
		func(s *strictStats, _ []string) error {
			return firstErr(atLeast("depth", uint64(s.maxDepth), 3), atLeast("keys", s.keys, 20000))
		}},
	{"deep_tree.db", "1000 keys of 400 bytes in random order, one transaction: a 5-level tree", false, genDeepTree,
		func(s *strictStats, _ []string) error { return atLeast("depth", uint64(s.maxDepth), 5) }},
	{"deletes.db", "20000 keys then 80% deleted over 20 transactions; a bucket paged then inline again; a deleted bucket", false, genDeletes,
		func(s *strictStats, _ []string) error {
			return firstErr(atLeast("free", s.free, 600), atLeast("freelist pages", s.freelistPages, 2))
		}},
	{"nofreelistsync.db", "NoFreelistSync: no freelist page (0xFFFFFFFFFFFFFFFF), free pages found by walking", false, genNoFreelistSync,
		func(s *strictStats, _ []string) error {
			if s.freelistEnc != "none" {
				return fmt.Errorf("freelist %s, want none", s.freelistEnc)
			}
			return atLeast("free (unreachable) pages", s.free, 20)
		}},
	{"pagesize16k.db", "page size 16384: inline limit 4096, nested buckets, 4000 keys, an overflow value", false, genPageSize16k,
		func(s *strictStats, _ []string) error {
			return firstErr(eq("page size", s.pageSize, 16384), atLeast("inline buckets", uint64(s.inline), 1),
				atLeast("leaf overflow pages", s.leafOverflow, 1))
		}},
	{"compacted.db", "bolt.Compact copy (FillPercent 1.0 pages) of sequences-like content plus 5000 keys", false, genCompacted,
		func(s *strictStats, _ []string) error { return atLeast("keys", s.keys, 5000) }},
	{"torn_meta.db", "sequences-like content, then one more commit whose meta checksum is corrupted", false, genTornMeta,
		func(s *strictStats, notes []string) error {
			for _, n := range notes {
				if strings.Contains(n, "invalid (checksum mismatch)") {
					return nil
				}
			}
			return fmt.Errorf("no torn meta page noted")
		}},
	{"freelist_overflow_ps512.db", "page size 512, more than 0xFFFF free ids: freelist count escape (~35 MB)", true, genFreelistOverflow,
		func(s *strictStats, _ []string) error {
			if s.freelistEnc != "count-overflow" {
				return fmt.Errorf("freelist encoding %s, want count-overflow", s.freelistEnc)
			}
			return eq("page size", s.pageSize, 512)
		}},
}

func eq(what string, got, want uint64) error {
	if got != want {
		return fmt.Errorf("%s = %d, want %d", what, got, want)
	}
	return nil
}

// open creates a new file at path with the options given (NoSync: the
// generator's files need no durability, only the right bytes at close).
func open(path string, o bolt.Options) (*bolt.DB, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	o.NoSync = true
	return bolt.Open(path, 0o600, &o)
}

// withDB opens path, runs each function in its own write transaction, and
// closes the file.
func withDB(path string, o bolt.Options, txs ...func(tx *bolt.Tx) error) error {
	db, err := open(path, o)
	if err != nil {
		return err
	}
	for _, fn := range txs {
		if err = db.Update(fn); err != nil {
			break
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// bucketIn creates (or opens) the nested bucket chain names under tx.
func bucketIn(tx *bolt.Tx, names ...string) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(names[0]))
	for _, n := range names[1:] {
		if err != nil {
			return nil, err
		}
		b, err = b.CreateBucketIfNotExists([]byte(n))
	}
	return b, err
}

// putN puts n keys fmt(prefix, i) with values of vlen seeded bytes.
func putN(b *bolt.Bucket, r *rng, prefix string, n, vlen int) error {
	for i := 0; i < n; i++ {
		if err := b.Put([]byte(fmt.Sprintf("%s%05d", prefix, i)), r.bytes(vlen)); err != nil {
			return err
		}
	}
	return nil
}

func genEmpty(path string, r *rng) error { return withDB(path, bolt.Options{}) }

func genEmptyTx(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error { return nil })
}

func genOneBucket(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		kv := [][2]string{{"\x00", "single zero byte key"}, {"\x00\x00\x01", "\xff\x00\xfe"}, {"a", "1-byte key"},
			{"empty-value", ""}, {"foo", "bar"}, {"\xff\xff\xff\xff", "all-ones key"}, {"with space\n", "and\nnewline"}}
		for _, p := range kv {
			if err := b.Put([]byte(p[0]), []byte(p[1])); err != nil {
				return err
			}
		}
		return nil
	})
}

func genRootKeys(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		root := tx.Cursor().Bucket()
		for _, k := range []string{"a-root-key", "m-root-key", "z-root-key"} {
			if err := root.Put([]byte(k), r.bytes(int(r.next()%40))); err != nil {
				return err
			}
		}
		if err := root.Put([]byte("empty-root-value"), []byte{}); err != nil {
			return err
		}
		b, err := tx.CreateBucket([]byte("b-bucket"))
		if err != nil {
			return err
		}
		return putN(b, r, "k", 10, 20)
	})
}

// inlineValue returns the value length that makes a bucket of n keys of
// klen bytes exactly total bytes of inline page (16 + sum(16+k+v)).
func inlineValue(total, n, klen int) int { return (total-16)/n - 16 - klen }

func genInlineNested(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		parent, err := tx.CreateBucket([]byte("parent"))
		if err != nil {
			return err
		}
		if err := putN(parent, r, "plain-", 5, 30); err != nil {
			return err
		}
		// 16 + 4*(16+4+v) = 1024 exactly at 4096-byte pages.
		v := inlineValue(1024, 4, 4)
		kids := []struct {
			name string
			n    int
			vlen int
			plus int // extra bytes on the last value
		}{{"empty", 0, 0, 0}, {"small", 3, 10, 0}, {"at-limit", 4, v, 0}, {"over-limit", 4, v, 1}, {"tiny", 1, 0, 0}}
		for _, k := range kids {
			b, err := parent.CreateBucket([]byte(k.name))
			if err != nil {
				return err
			}
			for i := 0; i < k.n; i++ {
				vl := k.vlen
				if i == k.n-1 {
					vl += k.plus
				}
				if err := b.Put([]byte(fmt.Sprintf("k%03d", i)), r.bytes(vl)); err != nil {
					return err
				}
			}
		}
		for i := 0; i < 8; i++ {
			b, err := parent.CreateBucket([]byte(fmt.Sprintf("child-%02d", i)))
			if err != nil {
				return err
			}
			if err := putN(b, r, "x", i, 8); err != nil {
				return err
			}
		}
		// A top-level inline bucket too, and a nested bucket in an inline
		// position of a paged grandparent.
		top, err := tx.CreateBucket([]byte("top-inline"))
		if err != nil {
			return err
		}
		if err := putN(top, r, "t", 4, 12); err != nil {
			return err
		}
		_, err = bucketIn(tx, "parent", "child-07", "grandchild")
		return err
	})
}

func genDeepNesting(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		var err error
		for i := 0; i < 40; i++ {
			name := []byte(fmt.Sprintf("level-%02d", i))
			if b == nil {
				b, err = tx.CreateBucket(name)
			} else {
				b, err = b.CreateBucket(name)
			}
			if err != nil {
				return err
			}
			if err := b.Put([]byte("depth"), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
		}
		// Three levels, each too big to be inline.
		var p *bolt.Bucket
		for i := 0; i < 3; i++ {
			name := []byte(fmt.Sprintf("paged-%d", i))
			if p == nil {
				p, err = tx.CreateBucket(name)
			} else {
				p, err = p.CreateBucket(name)
			}
			if err != nil {
				return err
			}
			if err := putN(p, r, "key-", 200, 50); err != nil {
				return err
			}
		}
		return nil
	})
}

// sequencesContent fills a file with the sequence corners (also used by
// compacted.db and torn_meta.db).
func sequencesContent(r *rng) []func(tx *bolt.Tx) error {
	return []func(tx *bolt.Tx) error{
		func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("inline-seq"))
			if err != nil {
				return err
			}
			for i := 0; i < 6; i++ {
				if _, err := b.NextSequence(); err != nil {
					return err
				}
			}
			if err := b.Put([]byte("k"), []byte("v")); err != nil {
				return err
			}
			p, err := tx.CreateBucket([]byte("paged-seq"))
			if err != nil {
				return err
			}
			for i := 0; i < 300; i++ {
				id, err := p.NextSequence()
				if err != nil {
					return err
				}
				if err := p.Put([]byte(fmt.Sprintf("id-%08d", id)), r.bytes(24)); err != nil {
					return err
				}
			}
			for _, s := range []struct {
				name string
				seq  uint64
			}{{"seq-max", ^uint64(0)}, {"seq-high-bit", 1 << 63}, {"seq-reset", 0}, {"seq-only", 7}} {
				b, err := tx.CreateBucket([]byte(s.name))
				if err != nil {
					return err
				}
				if err := b.SetSequence(12345); err != nil {
					return err
				}
				if err := b.SetSequence(s.seq); err != nil {
					return err
				}
			}
			for i, names := range [][]string{{"nested"}, {"nested", "child"}, {"nested", "child", "grandchild"}} {
				b, err := bucketIn(tx, names...)
				if err != nil {
					return err
				}
				if err := b.SetSequence(uint64(i) * 0x0123456789abcdef); err != nil {
					return err
				}
			}
			return nil
		},
		// A later transaction that only bumps sequences.
		func(tx *bolt.Tx) error {
			if _, err := tx.Bucket([]byte("nested")).NextSequence(); err != nil {
				return err
			}
			_, err := tx.Bucket([]byte("seq-only")).NextSequence()
			return err
		},
	}
}

func genSequences(path string, r *rng) error {
	return withDB(path, bolt.Options{}, sequencesContent(r)...)
}

func genLargeValues(path string, r *rng) error {
	const ps = 4096
	return withDB(path, bolt.Options{NoGrowSync: true}, func(tx *bolt.Tx) error {
		for _, s := range []struct {
			name string
			vlen int
		}{
			{"one-mib", 1 << 20}, {"three-mib", 3 << 20},
			// One element per leaf: 16 header + 16 element + 1 key byte + value.
			{"exact-1page", ps - 33}, {"exact-2pages", 2*ps - 33}, {"exact-3pages", 3*ps - 33},
			{"past-2pages", 2*ps - 32},
		} {
			b, err := tx.CreateBucket([]byte(s.name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("k"), r.bytes(s.vlen)); err != nil {
				return err
			}
		}
		return nil
	})
}

func genMaxKey(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("max-keys"))
		if err != nil {
			return err
		}
		base := r.bytes(bolt.MaxKeySize)
		for _, i := range r.perm(24) {
			k := append([]byte{}, base...)
			binary.BigEndian.PutUint16(k[len(k)-2:], uint16(i*257))
			if err := b.Put(k, r.bytes(int(r.next()%100))); err != nil {
				return err
			}
		}
		b2, err := tx.CreateBucket([]byte("short-by-one"))
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			k := r.bytes(bolt.MaxKeySize - 1)
			if err := b2.Put(k, []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func genManyKeys(path string, r *rng) error {
	perm := r.perm(20000)
	var txs []func(tx *bolt.Tx) error
	for t := 0; t < 8; t++ {
		part := perm[t*2500 : (t+1)*2500]
		txs = append(txs, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("many"))
			if err != nil {
				return err
			}
			for _, i := range part {
				k := make([]byte, 16)
				binary.BigEndian.PutUint64(k, uint64(i)*0x9E3779B97F4A7C15)
				binary.BigEndian.PutUint64(k[8:], uint64(i))
				v := make([]byte, 8)
				binary.LittleEndian.PutUint64(v, uint64(i))
				if err := b.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return withDB(path, bolt.Options{}, txs...)
}

func genDeepTree(path string, r *rng) error {
	return withDB(path, bolt.Options{}, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("deep"))
		if err != nil {
			return err
		}
		for _, i := range r.perm(1000) {
			k := make([]byte, 400)
			copy(k, fmt.Sprintf("key-%06d-", i))
			copy(k[11:], r.bytes(389))
			if err := b.Put(k, []byte(fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return nil
	})
}

func genDeletes(path string, r *rng) error {
	txs := []func(tx *bolt.Tx) error{func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("data"))
		if err != nil {
			return err
		}
		if err := putN(b, r, "key-", 20000, 40); err != nil {
			return err
		}
		// Grows past inline size now, shrinks back to inline below.
		s, err := tx.CreateBucket([]byte("shrinks"))
		if err != nil {
			return err
		}
		if err := putN(s, r, "s", 100, 40); err != nil {
			return err
		}
		d, err := tx.CreateBucket([]byte("doomed"))
		if err != nil {
			return err
		}
		return putN(d, r, "d", 500, 40)
	}}
	perm := r.perm(20000)
	for t := 0; t < 20; t++ {
		part := perm[t*800 : (t+1)*800]
		last := t == 19
		txs = append(txs, func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("data"))
			for _, i := range part {
				if err := b.Delete([]byte(fmt.Sprintf("key-%05d", i))); err != nil {
					return err
				}
			}
			if !last {
				return nil
			}
			s := tx.Bucket([]byte("shrinks"))
			for i := 2; i < 100; i++ {
				if err := s.Delete([]byte(fmt.Sprintf("s%05d", i))); err != nil {
					return err
				}
			}
			return tx.DeleteBucket([]byte("doomed"))
		})
	}
	return withDB(path, bolt.Options{NoGrowSync: true}, txs...)
}

func genNoFreelistSync(path string, r *rng) error {
	o := bolt.Options{NoFreelistSync: true}
	return withDB(path, o,
		func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("nfs"))
			if err != nil {
				return err
			}
			if err := putN(b, r, "key-", 2000, 60); err != nil {
				return err
			}
			s, err := tx.CreateBucket([]byte("small"))
			if err != nil {
				return err
			}
			return putN(s, r, "s", 3, 5)
		},
		func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("nfs"))
			for i := 0; i < 2000; i += 3 {
				if err := b.Delete([]byte(fmt.Sprintf("key-%05d", i))); err != nil {
					return err
				}
			}
			return nil
		})
}

func genPageSize16k(path string, r *rng) error {
	return withDB(path, bolt.Options{PageSize: 16384}, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("big"))
		if err != nil {
			return err
		}
		if err := putN(b, r, "k", 4000, 30); err != nil {
			return err
		}
		if err := b.Put([]byte("overflow-value"), r.bytes(40000)); err != nil {
			return err
		}
		// Inline at this page size (<= 4096 bytes) but not at 4096.
		in, err := b.CreateBucket([]byte("inline-3k"))
		if err != nil {
			return err
		}
		if err := putN(in, r, "i", 10, 280); err != nil {
			return err
		}
		n, err := bucketIn(tx, "outer", "inner")
		if err != nil {
			return err
		}
		return putN(n, r, "n", 500, 16)
	})
}

func genCompacted(path string, r *rng) error {
	src := path + ".src"
	defer os.Remove(src)
	txs := append(sequencesContent(r), func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("bulk"))
		if err != nil {
			return err
		}
		for _, i := range r.perm(5000) {
			if err := b.Put([]byte(fmt.Sprintf("bulk-%06d", i)), r.bytes(20)); err != nil {
				return err
			}
		}
		return nil
	})
	if err := withDB(src, bolt.Options{}, txs...); err != nil {
		return err
	}
	sdb, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer sdb.Close()
	ddb, err := open(path, bolt.Options{})
	if err != nil {
		return err
	}
	err = bolt.Compact(ddb, sdb, 65536)
	if cerr := ddb.Close(); err == nil {
		err = cerr
	}
	return err
}

func genTornMeta(path string, r *rng) error {
	txs := append(sequencesContent(r), func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("lost-in-torn-commit"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err := withDB(path, bolt.Options{}, txs...); err != nil {
		return err
	}
	// Flip one byte of the newest meta's checksum.
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m0, m1, ps, _ := readMetas(data)
	newest := m0
	if m1.valid && m1.tx > m0.tx {
		newest = m1
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	off := int64(uint64(newest.index)*ps + 72)
	_, err = f.WriteAt([]byte{byte(newest.checksum) ^ 0x5a}, off)
	return err
}

func genFreelistOverflow(path string, r *rng) error {
	// 67500 pages of values at 512-byte pages, then all but two deleted:
	// more than 0xFFFF free ids with about the least file the format allows.
	const values, vlen = 135, 500*512 - 64
	return withDB(path, bolt.Options{PageSize: 512, NoGrowSync: true},
		func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("fill"))
			if err != nil {
				return err
			}
			for i := 0; i < values; i++ {
				if err := b.Put([]byte(fmt.Sprintf("v%04d", i)), r.bytes(vlen)); err != nil {
					return err
				}
			}
			return nil
		},
		func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("fill"))
			for i := 0; i < values; i++ {
				if i%100 == 0 {
					continue
				}
				if err := b.Delete([]byte(fmt.Sprintf("v%04d", i))); err != nil {
					return err
				}
			}
			return putN(b, r, "small-", 100, 20)
		})
}

// seedOf derives a corner's seed from its name.
func seedOf(name string) uint64 {
	h := fnv1a64([]byte(name))
	return h
}

// runGen writes the selected corners into dir and verifies each.
func runGen(dir string, only []string, big bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	var names []string
	for _, c := range corners {
		names = append(names, c.name)
	}
	sort.Strings(names)
	for _, c := range corners {
		if len(only) > 0 && !want[c.name] || len(only) == 0 && c.big && !big {
			continue
		}
		delete(want, c.name)
		path := filepath.Join(dir, c.name)
		if err := c.gen(path, newRNG(seedOf(c.name))); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		rep, err := strictFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if len(rep.problems) > 0 || !rep.openable {
			return fmt.Errorf("%s: the strict walk objects to bbolt's own file: %s", c.name, firstProblem(rep))
		}
		if err := c.expect(&rep.stats, rep.notes); err != nil {
			return fmt.Errorf("%s: corner not covered: %w", c.name, err)
		}
		s := rep.stats
		fmt.Printf("gen: %-28s ok  ps=%d pgid=%d depth=%d buckets=%d keys=%d free=%d  %s\n",
			c.name, s.pageSize, s.pgid, s.maxDepth, s.buckets, s.keys, s.free, c.what)
	}
	for n := range want {
		return fmt.Errorf("unknown corner %q (known: %s)", n, strings.Join(names, ", "))
	}
	return nil
}

// firstProblem describes the first finding of a report.
func firstProblem(rep *strictReport) string {
	if !rep.openable {
		return "not openable: " + strings.Join(rep.notes, "; ")
	}
	return rep.problems[0].msg
}
