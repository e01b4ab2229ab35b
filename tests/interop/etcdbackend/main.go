// etcdbackend: the real etcd 3.4 backend (go.etcd.io/etcd/mvcc/backend) as
// a peer for strata's backend/ in the interop tests.
//
//	etcdbackend hash FILE    print backend.Hash(mvcc.DefaultIgnores) of FILE
//	etcdbackend hashall FILE print backend.Hash of FILE ignoring nothing
//	etcdbackend write FILE   write the shared deterministic content (see
//	                         backend_peer.c) through etcd's batch tx, commit,
//	                         print the hash
//	etcdbackend snapshot FILE SNAP
//	                         save FILE as etcd's Snapshot RPC does: the
//	                         backend snapshot followed by its SHA-256
//	etcdbackend restore SNAP FILE
//	                         check and strip the trailer as `etcdctl
//	                         snapshot restore` does, write FILE, print its hash
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/ioutil"
	"os"

	"go.etcd.io/etcd/mvcc/backend"
)

// mvcc.DefaultIgnores, written out so that only the backend package is needed.
var ignores = map[backend.IgnoreKey]struct{}{
	{Bucket: "meta", Key: "consistent_index"}: {},
}

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	z := x
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// write makes the content that backend_peer.c makes, step for step.
func write(be backend.Backend) {
	tx := be.BatchTx()
	tx.Lock()
	for _, b := range []string{"key", "meta", "lease", "alarm"} {
		tx.UnsafeCreateBucket([]byte(b))
	}
	for i := uint64(0); i < 3000; i++ {
		r := splitmix64(i)
		k := make([]byte, 17)
		binary.BigEndian.PutUint64(k, i+1)
		k[8] = '_'
		binary.BigEndian.PutUint64(k[9:], r%3)
		v := make([]byte, 1+r%200)
		for j := range v {
			v[j] = byte(r>>(j%8)) ^ byte(j)
		}
		tx.UnsafeSeqPut([]byte("key"), k, v)
		if r%5 == 0 {
			l := make([]byte, 8)
			binary.BigEndian.PutUint64(l, r)
			tx.UnsafePut([]byte("lease"), l, v[:len(v)/2])
		}
	}
	for i := uint64(0); i < 3000; i += 7 {
		k := make([]byte, 17)
		binary.BigEndian.PutUint64(k, i+1)
		k[8] = '_'
		binary.BigEndian.PutUint64(k[9:], splitmix64(i)%3)
		tx.UnsafeDelete([]byte("key"), k)
	}
	ci := make([]byte, 8)
	binary.BigEndian.PutUint64(ci, 123456789)
	tx.UnsafePut([]byte("meta"), []byte("consistent_index"), ci)
	tx.UnsafePut([]byte("meta"), []byte("finishedCompactRev"), []byte("0123456789abcdef_"))
	tx.Unlock()
	be.ForceCommit()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// snapshot writes what etcd's maintenance Snapshot RPC streams.
func snapshot(path, out string) {
	be := backend.NewDefaultBackend(path)
	defer be.Close()
	var buf bytes.Buffer
	snap := be.Snapshot()
	_, err := snap.WriteTo(&buf)
	snap.Close()
	if err != nil {
		fail(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	if err := ioutil.WriteFile(out, buf.Bytes(), 0600); err != nil {
		fail(err)
	}
}

// restore checks a snapshot as etcdctl's restore does (hasHash := size %
// 512 == 32) and writes the image without its trailer.
func restore(snap, path string) {
	b, err := ioutil.ReadFile(snap)
	if err != nil {
		fail(err)
	}
	if len(b)%512 != sha256.Size {
		fail(fmt.Errorf("snapshot has no sha256 trailer (size %d)", len(b)))
	}
	img, trailer := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	sum := sha256.Sum256(img)
	if !bytes.Equal(sum[:], trailer) {
		fail(fmt.Errorf("expected sha256 %x, got %x", trailer, sum))
	}
	if err := ioutil.WriteFile(path, img, 0600); err != nil {
		fail(err)
	}
}

func main() {
	usage := "usage: etcdbackend hash|hashall|write FILE | snapshot FILE SNAP | restore SNAP FILE"
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch {
	case os.Args[1] == "snapshot" && len(os.Args) == 4:
		snapshot(os.Args[2], os.Args[3])
		return
	case os.Args[1] == "restore" && len(os.Args) == 4:
		restore(os.Args[2], os.Args[3])
		os.Args = []string{os.Args[0], "hash", os.Args[3]}
	case (os.Args[1] == "hash" || os.Args[1] == "hashall" || os.Args[1] == "write") && len(os.Args) == 3:
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	be := backend.NewDefaultBackend(os.Args[2])
	if os.Args[1] == "write" {
		write(be)
	}
	ign := ignores
	if os.Args[1] == "hashall" {
		ign = map[backend.IgnoreKey]struct{}{}
	}
	h, err := be.Hash(ign)
	be.Close()
	if err != nil {
		fail(err)
	}
	fmt.Println(h)
}
