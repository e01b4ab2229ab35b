package main

// load.go: create a bbolt file from a canonical dump (the inverse of
// dump.go), in one write transaction.
//
// Rules:
//  1. The input must be a complete `bolt-dump v1`: header first, `end`
//     last with totals that match what was loaded, nothing after it.
//  2. A bucket line creates the bucket under its parent (which the
//     depth-first order guarantees was already created) and sets its
//     sequence; a key line puts into its bucket ("-" = the root bucket).
//  3. Hashed fields (sha256:...) cannot be loaded: the dump must have been
//     made with max-hex 0 or hold no field longer than the threshold.
//  4. The target file must not exist, so a load never merges into old data.

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// loadOptions are the layout choices of the new file.
type loadOptions struct {
	pageSize       int
	noFreelistSync bool
}

// decodeField decodes a KEY or VALUE field of a dump (rule 3).
func decodeField(s string) ([]byte, error) {
	if s == "-" {
		return []byte{}, nil
	}
	if strings.HasPrefix(s, "sha256:") {
		return nil, fmt.Errorf("hashed field %.40s... cannot be loaded (dump with max-hex 0)", s)
	}
	return hex.DecodeString(s)
}

// decodePath splits a hex bucket path into names.
func decodePath(p string) ([][]byte, error) {
	parts := strings.Split(p, "/")
	out := make([][]byte, len(parts))
	for i, s := range parts {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("bad bucket path element %q", s)
		}
		out[i] = b
	}
	return out, nil
}

// loadDump reads a dump from in and writes it into a new file at path.
// Errors about the dump itself are returned as *dumpError.
func loadDump(path string, in io.Reader, opt loadOptions) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists; load only creates new files", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		PageSize: opt.pageSize, NoFreelistSync: opt.noFreelistSync, NoSync: true,
	})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error { return loadInto(tx, in) })
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(path)
	}
	return err
}

// dumpError is a defect of the dump text (exit 1 rather than 2).
type dumpError struct {
	line int
	msg  string
}

func (e *dumpError) Error() string { return fmt.Sprintf("dump line %d: %s", e.line, e.msg) }

// loadInto applies the dump's records inside tx.
func loadInto(tx *bolt.Tx, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<31-1)
	buckets := map[string]*bolt.Bucket{}
	var nb, nk uint64
	line := 0
	ended := false
	bad := func(format string, args ...interface{}) error {
		return &dumpError{line, fmt.Sprintf(format, args...)}
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if ended {
			return bad("text after the end line")
		}
		if line == 1 {
			if text != "bolt-dump v1" {
				return bad("want header \"bolt-dump v1\", got %.60q", text)
			}
			continue
		}
		f := strings.Split(text, " ")
		switch {
		case f[0] == "bucket" && len(f) == 3 && strings.HasPrefix(f[2], "seq="):
			seq, err := strconv.ParseUint(f[2][4:], 10, 64)
			if err != nil {
				return bad("bad sequence %q", f[2])
			}
			names, err := decodePath(f[1])
			if err != nil {
				return bad("%v", err)
			}
			var b *bolt.Bucket
			if len(names) == 1 {
				b, err = tx.CreateBucket(names[0])
			} else {
				parent := buckets[f[1][:strings.LastIndexByte(f[1], '/')]]
				if parent == nil {
					return bad("bucket %s comes before its parent", f[1])
				}
				b, err = parent.CreateBucket(names[len(names)-1])
			}
			if err != nil {
				return bad("create bucket %s: %v", f[1], err)
			}
			if err := b.SetSequence(seq); err != nil {
				return bad("set sequence: %v", err)
			}
			buckets[f[1]] = b
			nb++
		case f[0] == "key" && len(f) == 4:
			k, err := decodeField(f[2])
			if err != nil {
				return bad("key: %v", err)
			}
			v, err := decodeField(f[3])
			if err != nil {
				return bad("value: %v", err)
			}
			var b *bolt.Bucket
			if f[1] == "-" {
				b = tx.Cursor().Bucket() // the root bucket handle
			} else if b = buckets[f[1]]; b == nil {
				return bad("key in unknown bucket %s", f[1])
			}
			if err := b.Put(k, v); err != nil {
				return bad("put: %v", err)
			}
			nk++
		case f[0] == "end" && len(f) == 3:
			want := fmt.Sprintf("end buckets=%d keys=%d", nb, nk)
			if text != want {
				return bad("totals %q do not match what was loaded (%q)", text, want)
			}
			ended = true
		default:
			return bad("unknown record %.60q", text)
		}
	}
	if err := sc.Err(); err != nil {
		return &dumpError{line, err.Error()}
	}
	if !ended {
		return &dumpError{line, "missing end line"}
	}
	return nil
}

// syncFile flushes a file written with NoSync to stable storage.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
