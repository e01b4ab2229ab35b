package main

// corrupt.go: damages a (valid) file in one precise way, for the tests of
// the strict walk. Targets are chosen from the strict walk of the intact
// file, deterministically (the first suitable page in walk order).
//
// Kinds (each must make the strict walk report a problem, and none may
// make boltcheck crash):
//
//	key-order    swap the keys of two adjacent same-length leaf elements
//	separator    lower one byte of a branch separator (bbolt's Check passes)
//	elem-pos     point a leaf element's pos past the end of its page
//	freelist-id  make the last free id equal to pgid
//	header-id    make a leaf page's header id differ from its position
//	page-type    give a leaf page flags 0x20 (neither branch nor leaf)
//	cycle        point a branch element at the branch page itself
//	truncate     cut the file one page short of pgid*page_size
//	freelist-dup list the first free id twice (bbolt: "already freed")
//	inline-id    give an inline bucket's page header a nonzero id
//	meta-both    break both meta checksums (cannot open: exit 2)
//	random       overwrite 1-8 seeded random bytes, mostly in page headers
//	             and element arrays (any exit but 3 is acceptable)

import (
	"encoding/binary"
	"fmt"
	"os"
)

var corruptKinds = []string{"key-order", "separator", "elem-pos", "freelist-id", "header-id",
	"page-type", "cycle", "truncate", "freelist-dup", "inline-id", "meta-both", "random"}

// corruptFile applies kind to the file at path and describes what it did.
func corruptFile(path, kind string, seed uint64) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	rep := strictWalk(data)
	if !rep.openable || len(rep.problems) > 0 {
		return "", fmt.Errorf("%s is not clean before corruption: %s", path, firstProblem(rep))
	}
	ps := rep.stats.pageSize
	le := binary.LittleEndian
	pageOff := func(id uint64) uint64 { return id * ps }
	firstPage := func(flags uint16, minCount int) (treePage, bool) {
		for _, p := range rep.pages {
			if p.flags == flags && p.count >= minCount {
				return p, true
			}
		}
		return treePage{}, false
	}
	var what string
	switch kind {
	case "key-order":
		found := false
		for _, p := range rep.pages {
			if p.flags != flagLeaf || p.count < 2 {
				continue
			}
			base := pageOff(p.id)
			for i := 0; i+1 < p.count && !found; i++ {
				e0, e1 := base+16+16*uint64(i), base+16+16*uint64(i+1)
				k0, k1 := e0+uint64(le.Uint32(data[e0+4:])), e1+uint64(le.Uint32(data[e1+4:]))
				n0, n1 := uint64(le.Uint32(data[e0+8:])), uint64(le.Uint32(data[e1+8:]))
				if n0 != n1 || n0 == 0 {
					continue
				}
				a := append([]byte{}, data[k0:k0+n0]...)
				copy(data[k0:k0+n0], data[k1:k1+n1])
				copy(data[k1:k1+n1], a)
				what = fmt.Sprintf("swapped the keys of elements %d and %d of leaf page %d", i, i+1, p.id)
				found = true
			}
			if found {
				break
			}
		}
		if !found {
			return "", fmt.Errorf("no leaf with two adjacent keys of equal length")
		}
	case "separator":
		p, ok := firstPage(flagBranch, 2)
		if !ok {
			return "", fmt.Errorf("no branch page")
		}
		e := pageOff(p.id) + 16 + 16
		k := e + uint64(le.Uint32(data[e:]))
		key := data[k : k+uint64(le.Uint32(data[e+4:]))]
		j := len(key) - 1
		for j >= 0 && key[j] == 0 {
			j--
		}
		if j < 0 {
			return "", fmt.Errorf("branch page %d element 1 key is all zero", p.id)
		}
		key[j]--
		what = fmt.Sprintf("lowered byte %d of the separator at element 1 of branch page %d", j, p.id)
	case "elem-pos":
		p, ok := firstPage(flagLeaf, 1)
		if !ok {
			return "", fmt.Errorf("no non-empty leaf page")
		}
		e := pageOff(p.id) + 16
		le.PutUint32(data[e+4:], uint32(ps*4+1000))
		what = fmt.Sprintf("set pos of element 0 of leaf page %d to %d", p.id, ps*4+1000)
	case "freelist-id":
		if rep.stats.freelistEnc == "none" || len(rep.freeIDs) == 0 {
			return "", fmt.Errorf("no stored free ids")
		}
		start := pageOff(rep.stats.freelist) + 16
		if rep.stats.freelistEnc == "count-overflow" {
			start += 8
		}
		last := start + 8*uint64(len(rep.freeIDs)-1)
		le.PutUint64(data[last:], rep.stats.pgid)
		what = fmt.Sprintf("set free id %d to pgid %d", rep.freeIDs[len(rep.freeIDs)-1], rep.stats.pgid)
	case "freelist-dup":
		if rep.stats.freelistEnc == "none" || len(rep.freeIDs) < 2 {
			return "", fmt.Errorf("fewer than 2 stored free ids")
		}
		start := pageOff(rep.stats.freelist) + 16
		if rep.stats.freelistEnc == "count-overflow" {
			start += 8
		}
		le.PutUint64(data[start+8:], rep.freeIDs[0])
		what = fmt.Sprintf("replaced free id %d by a second %d", rep.freeIDs[1], rep.freeIDs[0])
	case "inline-id":
		if len(rep.inlines) == 0 {
			return "", fmt.Errorf("no inline bucket")
		}
		le.PutUint64(data[rep.inlines[0]:], 9)
		what = fmt.Sprintf("set the id of the inline page at file offset %d to 9", rep.inlines[0])
	case "header-id":
		p, ok := firstPage(flagLeaf, 0)
		if !ok {
			return "", fmt.Errorf("no leaf page")
		}
		le.PutUint64(data[pageOff(p.id):], p.id+1)
		what = fmt.Sprintf("set header id of leaf page %d to %d", p.id, p.id+1)
	case "page-type":
		p, ok := firstPage(flagLeaf, 0)
		if !ok {
			return "", fmt.Errorf("no leaf page")
		}
		le.PutUint16(data[pageOff(p.id)+8:], 0x20)
		what = fmt.Sprintf("set flags of leaf page %d to 0x20", p.id)
	case "cycle":
		p, ok := firstPage(flagBranch, 1)
		if !ok {
			return "", fmt.Errorf("no branch page")
		}
		le.PutUint64(data[pageOff(p.id)+16+8:], p.id)
		what = fmt.Sprintf("pointed element 0 of branch page %d at itself", p.id)
	case "truncate":
		size := int64((rep.stats.pgid - 1) * ps)
		if err := os.Truncate(path, size); err != nil {
			return "", err
		}
		return fmt.Sprintf("truncated to %d bytes (pgid %d, page size %d)", size, rep.stats.pgid, ps), nil
	case "meta-both":
		for i := uint64(0); i < 2; i++ {
			data[i*ps+72] ^= 0xff
		}
		what = "flipped a checksum byte of both meta pages"
	case "random":
		r := newRNG(seed)
		n := 1 + int(r.next()%8)
		var offs []uint64
		for i := 0; i < n; i++ {
			var off uint64
			switch {
			case r.next()%4 == 0 || len(rep.pages) == 0:
				// Anywhere below the high-water mark, metas included.
				off = r.next() % (rep.stats.pgid * ps)
			default:
				// The header or element array of a tree page.
				p := rep.pages[r.next()%uint64(len(rep.pages))]
				span := uint64(16 + 16*p.count + 8)
				if span > ps {
					span = ps
				}
				off = pageOff(p.id) + r.next()%span
			}
			data[off] = byte(r.next())
			offs = append(offs, off)
		}
		what = fmt.Sprintf("overwrote bytes at offsets %v", offs)
	default:
		return "", fmt.Errorf("unknown kind %q (kinds: %v)", kind, corruptKinds)
	}
	return what, os.WriteFile(path, data, 0o600)
}
