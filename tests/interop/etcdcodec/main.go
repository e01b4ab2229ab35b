// etcdcodec: etcd 3.4's own record codecs (go.etcd.io/etcd/mvcc/mvccpb and
// go.etcd.io/etcd/lease/leasepb, gogoproto) as the peer of strata's
// mvcc/kvpb.c and lease/leasepb.c in tests/interop/test_etcd_codec.sh.
// codec_peer.c is the strata side; both print the same line formats.
//
//	etcdcodec gen SEED NKV NLEASE
//	    generates NKV KeyValues and NLEASE Leases from SplitMix64(SEED)
//	    (common/rand.c's stream and bounded draw, step for step as
//	    codec_peer.c) and prints each with etcd's Marshal:
//	      kv KEY CREATE MOD VER VALUE LEASE ENCODING
//	      lease ID TTL REMAINING BUCKETKEY ENCODING
//	    (byte strings in hex, "-" when empty).
//	etcdcodec decode kv|lease
//	    reads one hex record per line ("-" = empty) and prints what etcd's
//	    Unmarshal makes of it: "ok KEY CREATE MOD VER VALUE LEASE" or
//	    "ok ID TTL REMAINING", else "error CLASS" with CLASS one of trunc,
//	    varint, length, tag, group, wiretype (or panic: gogo 1.x panics on
//	    lengths near 2^63 instead of returning an error).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"go.etcd.io/etcd/lease/leasepb"
	"go.etcd.io/etcd/mvcc/mvccpb"
)

// rng is strata_rng: SplitMix64 with the increment added after each draw.
type rng struct{ state uint64 }

func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	x := r.state
	r.state += 0x9E3779B97F4A7C15
	return splitmix64(x)
}

// below is strata_rng_below: Lemire's multiply-shift with rejection.
func (r *rng) below(bound uint64) uint64 {
	if bound == 0 {
		return 0
	}
	hi, lo := bits.Mul64(r.next(), bound)
	if lo < bound {
		threshold := -bound % bound
		for lo < threshold {
			hi, lo = bits.Mul64(r.next(), bound)
		}
	}
	return hi
}

// genInt and genBytes must match codec_peer.c's gen_int and gen_bytes.
func (r *rng) genInt() int64 {
	switch r.below(8) {
	case 0:
		return 0
	case 1:
		return int64(r.below(128))
	case 2:
		return -1<<63 + int64(r.below(2))
	case 3:
		return 1<<63 - 1 - int64(r.below(2))
	case 4:
		return -int64(r.below(1000)) - 1
	case 5:
		return int64(r.next() >> r.below(64))
	case 6:
		return int64(r.next())
	default:
		return int64(r.below(1 << 20))
	}
}

func (r *rng) genBytes() []byte {
	var n uint64
	switch r.below(10) {
	case 0, 1:
		n = 0
	case 2:
		n = 127 + r.below(3)
	case 3:
		n = 16383 + r.below(3)
	case 4:
		n = r.below(300)
	default:
		n = r.below(40)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

func hx(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

func gen(seed uint64, nkv, nlease int, w *bufio.Writer) error {
	r := &rng{seed}
	for i := 0; i < nkv; i++ {
		kv := mvccpb.KeyValue{Key: r.genBytes()}
		kv.CreateRevision = r.genInt()
		kv.ModRevision = r.genInt()
		kv.Version = r.genInt()
		kv.Value = r.genBytes()
		kv.Lease = r.genInt()
		enc, err := kv.Marshal()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "kv %s %d %d %d %s %d %s\n", hx(kv.Key), kv.CreateRevision,
			kv.ModRevision, kv.Version, hx(kv.Value), kv.Lease, hx(enc))
	}
	for i := 0; i < nlease; i++ {
		l := leasepb.Lease{}
		l.ID = r.genInt()
		l.TTL = r.genInt()
		l.RemainingTTL = r.genInt()
		enc, err := l.Marshal()
		if err != nil {
			return err
		}
		// lessor.go's int64ToBytes.
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, uint64(l.ID))
		fmt.Fprintf(w, "lease %d %d %d %s %s\n", l.ID, l.TTL, l.RemainingTTL, hx(key), hx(enc))
	}
	return nil
}

func class(err error) string {
	switch {
	case err == io.ErrUnexpectedEOF:
		return "trunc"
	case err == mvccpb.ErrIntOverflowKv || err == leasepb.ErrIntOverflowLease:
		return "varint"
	case err == mvccpb.ErrInvalidLengthKv || err == leasepb.ErrInvalidLengthLease:
		return "length"
	case strings.Contains(err.Error(), "end group"):
		return "group"
	case strings.Contains(err.Error(), "illegal tag"):
		return "tag"
	case strings.Contains(err.Error(), "wireType"):
		return "wiretype"
	}
	return "other:" + strings.ReplaceAll(err.Error(), " ", "_")
}

// decodeOne runs Unmarshal, turning a panic into an error result.
func decodeOne(kind string, in []byte) (out string) {
	defer func() {
		if recover() != nil {
			out = "error panic"
		}
	}()
	if kind == "kv" {
		var kv mvccpb.KeyValue
		if err := kv.Unmarshal(in); err != nil {
			return "error " + class(err)
		}
		return fmt.Sprintf("ok %s %d %d %d %s %d", hx(kv.Key), kv.CreateRevision,
			kv.ModRevision, kv.Version, hx(kv.Value), kv.Lease)
	}
	var l leasepb.Lease
	if err := l.Unmarshal(in); err != nil {
		return "error " + class(err)
	}
	return fmt.Sprintf("ok %d %d %d", l.ID, l.TTL, l.RemainingTTL)
}

func decode(kind string, rd io.Reader, w *bufio.Writer) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var in []byte
		if line != "-" {
			var err error
			if in, err = hex.DecodeString(line); err != nil {
				return fmt.Errorf("bad hex line %q: %v", line, err)
			}
		}
		fmt.Fprintln(w, decodeOne(kind, in))
	}
	return sc.Err()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: etcdcodec gen SEED NKV NLEASE | decode kv|lease")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	w := bufio.NewWriter(os.Stdout)
	var err error
	switch {
	case os.Args[1] == "gen" && len(os.Args) == 5:
		seed, e1 := strconv.ParseUint(os.Args[2], 0, 64)
		nkv, e2 := strconv.Atoi(os.Args[3])
		nlease, e3 := strconv.Atoi(os.Args[4])
		if e1 != nil || e2 != nil || e3 != nil {
			usage()
		}
		err = gen(seed, nkv, nlease, w)
	case os.Args[1] == "decode" && len(os.Args) == 3 &&
		(os.Args[2] == "kv" || os.Args[2] == "lease"):
		err = decode(os.Args[2], os.Stdin, w)
	default:
		usage()
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdcodec:", err)
		os.Exit(1)
	}
}
