// bbolt_peer: the real bbolt 1.3.6 (Debian's sources), driven by strata's
// interop test. Commands:
//
//	bbolt_peer check FILE   Tx.Check in a read transaction; exit 1 on any error
//	bbolt_peer dump FILE    the canonical dump (bolt-dump v1, max hex 32768)
//	bbolt_peer write FILE   change every bucket (puts, cursor deletes, a new
//	                        nested bucket, a sequence), three commits, then check
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

const maxHex = 32768

func field(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if len(b) > maxHex {
		s := sha256.Sum256(b)
		return fmt.Sprintf("sha256:%d:%s", len(b), hex.EncodeToString(s[:]))
	}
	return hex.EncodeToString(b)
}

type counts struct{ buckets, keys int }

func dumpBucket(w *bufio.Writer, b *bolt.Bucket, path string, c *counts) error {
	cur := b.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if v == nil {
			child := b.Bucket(k)
			p := hex.EncodeToString(k)
			if path != "" {
				p = path + "/" + p
			}
			c.buckets++
			fmt.Fprintf(w, "bucket %s seq=%d\n", p, child.Sequence())
			if err := dumpBucket(w, child, p, c); err != nil {
				return err
			}
			continue
		}
		c.keys++
		p := path
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(w, "key %s %s %s\n", p, field(k), field(v))
	}
	return nil
}

func check(db *bolt.DB) int {
	n := 0
	db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			fmt.Fprintln(os.Stderr, "bbolt check:", err)
			n++
		}
		return nil
	})
	return n
}

func write(db *bolt.DB) error {
	for round := 0; round < 3; round++ {
		err := db.Update(func(tx *bolt.Tx) error {
			var names [][]byte
			tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				if b != nil {
					names = append(names, append([]byte{}, name...))
				}
				return nil
			})
			for _, name := range names {
				b := tx.Bucket(name)
				c := b.Cursor()
				i := 0
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if v == nil {
						continue
					}
					i++
					if i%5 == round {
						if err := c.Delete(); err != nil {
							return err
						}
					} else if i%3 == round {
						if err := b.Put(append([]byte{}, k...), []byte(fmt.Sprintf("bbolt-%d", round))); err != nil {
							return err
						}
					}
				}
				for j := 0; j < 40; j++ {
					if err := b.Put([]byte(fmt.Sprintf("zz-bbolt-%d-%03d", round, j)), []byte("v")); err != nil {
						return err
					}
				}
				nb, err := b.CreateBucketIfNotExists([]byte("bbolt-nested"))
				if err != nil {
					return err
				}
				if _, err := nb.NextSequence(); err != nil {
					return err
				}
				if err := nb.Put([]byte(fmt.Sprintf("r%d", round)), []byte("x")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bbolt_peer check|dump|write FILE")
		os.Exit(2)
	}
	ro := os.Args[1] != "write"
	db, err := bolt.Open(os.Args[2], 0600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: ro})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bbolt open:", err)
		os.Exit(2)
	}
	defer db.Close()
	switch os.Args[1] {
	case "check":
		if check(db) != 0 {
			os.Exit(1)
		}
	case "dump":
		w := bufio.NewWriter(os.Stdout)
		var c counts
		fmt.Fprintln(w, "bolt-dump v1")
		err = db.View(func(tx *bolt.Tx) error {
			return dumpBucket(w, tx.Cursor().Bucket(), "", &c)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bbolt dump:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "end buckets=%d keys=%d\n", c.buckets, c.keys)
		w.Flush()
	case "write":
		if err := write(db); err != nil {
			fmt.Fprintln(os.Stderr, "bbolt write:", err)
			os.Exit(1)
		}
		if check(db) != 0 {
			os.Exit(1)
		}
	default:
		os.Exit(2)
	}
}
