package main

// strict.go: an independent structural walk of a bbolt file, reading the raw
// bytes only (never through bbolt, never through a memory map).
//
// bbolt's Tx.Check verifies page accounting but not key order, separators,
// element bounds, leaf flags, bucket headers, inline pages, header ids
// against positions, freelist encoding and id ranges, nor the file length
// (docs/format.md section 11); and it faults on some of those. This walk checks
// them and must itself never fault: every offset read from the file is
// bounds-checked against the bytes actually present before it is used.
//
// Rules the walk follows:
//  1. Nothing from the file is trusted: every page id, count, pos and size
//     is range-checked (in uint64 arithmetic, so sums cannot wrap) before
//     it indexes the file.
//  2. Every page below pgid gets at most one owner (meta, freelist run,
//     tree page run, free id). A tree page reached a second time is
//     reported and not descended into again, so cycles terminate.
//  3. A finding is "fatal" when bbolt could fault or panic on it (bytes
//     outside the page or the file, bad page types, cycles); inspect then
//     refuses to hand the file to bbolt. Other findings are reported but
//     still let the bbolt sections run.
//  4. Notes are facts worth knowing that are not errors (a torn meta page
//     that bbolt skips, plain keys in the root bucket).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// On-disk constants (docs/format.md sections 2-7).
const (
	pageHeaderSize  = 16
	elemSize        = 16 // branch and leaf elements are both 16 bytes
	bucketHdrSize   = 16
	metaMagic       = 0xED0CDAED
	metaVersion     = 2
	flagBranch      = 0x01
	flagLeaf        = 0x02
	flagMeta        = 0x04
	flagFreelist    = 0x10
	leafFlagBucket  = 0x01
	noFreelist      = ^uint64(0)
	freelistEscape  = 0xFFFF
	maxReadable     = 1<<31 - 1 // bbolt reads elements through a 2^31-1 byte window
	minOpenableSize = 4096      // bbolt reads the first 4096 bytes on open
	maxProblems     = 200       // findings printed before summarising
	maxKeySize      = 32768     // bbolt's Put refuses longer plain keys
)

// Page owners for the accounting of rule 2.
const (
	ownNone byte = iota
	ownMeta
	ownFreelist
	ownTree
	ownFree
)

// metaPage is one decoded meta page.
type metaPage struct {
	index                             int // 0 or 1
	valid                             bool
	why                               string // reason when !valid
	hdrID                             uint64
	hdrFlags, hdrCount                uint16
	hdrOverflow                       uint32
	magic, version, pageSize, flags   uint32
	root, rootSeq, freelist, pgid, tx uint64
	checksum, computed                uint64
}

// finding is one problem found by the walk.
type finding struct {
	fatal bool
	msg   string
}

// strictStats summarises the file for the info section and for gen's
// corner-coverage checks.
type strictStats struct {
	fileSize        int64
	pageSize        uint64
	meta            int // selected meta page
	txid, pgid      uint64
	root, freelist  uint64
	freelistEnc     string // "count-in-header", "count-overflow", "none"
	freelistPages   uint64 // run length of the freelist page
	free            uint64 // ids listed free, or unreachable pages without a stored freelist
	branchPages     uint64
	leafPages       uint64
	branchOverflow  uint64 // overflow pages of branch runs
	leafOverflow    uint64 // overflow pages of leaf runs
	maxDepth        int    // levels of the deepest single B+tree
	buckets, inline int
	maxNesting      int // deepest bucket path
	keys            uint64
	rootKeys        uint64 // plain keys directly in the root bucket
	maxKey          uint64 // longest plain key
	maxBucketName   uint64
	maxValue        uint64
	maxSeq          uint64
}

// treePage records a tree page the walk visited; corrupt.go picks its
// targets from these.
type treePage struct {
	id     uint64
	flags  uint16
	count  int
	bucket string // hex path, "" = root bucket
}

// strictReport is the result of strictWalk.
type strictReport struct {
	openable bool      // false: bbolt cannot open the file at all (exit 2)
	problems []finding // in discovery order
	notes    []string
	stats    strictStats
	pages    []treePage
	freeIDs  []uint64 // the stored free list as read
	inlines  []uint64 // file offsets of inline bucket page images
}

// hasFatal reports whether bbolt could fault on the file.
func (r *strictReport) hasFatal() bool {
	for _, f := range r.problems {
		if f.fatal {
			return true
		}
	}
	return false
}

// walker carries the state of one strict walk.
type walker struct {
	data  []byte
	ps    uint64
	pgid  uint64
	owner []byte
	rep   *strictReport
	stats *strictStats
}

func (w *walker) problem(fatal bool, format string, args ...interface{}) {
	w.rep.problems = append(w.rep.problems, finding{fatal, fmt.Sprintf(format, args...)})
}

func (w *walker) note(format string, args ...interface{}) {
	w.rep.notes = append(w.rep.notes, fmt.Sprintf(format, args...))
}

// fnv1a64 is the meta checksum (docs/format.md section 3).
func fnv1a64(b []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range b {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	return h
}

// parseMeta decodes the meta page at data[off:]; it needs 80 bytes.
func parseMeta(data []byte, off uint64, index int) metaPage {
	m := metaPage{index: index}
	if off+80 > uint64(len(data)) {
		m.why = "page beyond end of file"
		return m
	}
	p := data[off : off+80]
	le := binary.LittleEndian
	m.hdrID = le.Uint64(p[0:])
	m.hdrFlags = le.Uint16(p[8:])
	m.hdrCount = le.Uint16(p[10:])
	m.hdrOverflow = le.Uint32(p[12:])
	m.magic = le.Uint32(p[16:])
	m.version = le.Uint32(p[20:])
	m.pageSize = le.Uint32(p[24:])
	m.flags = le.Uint32(p[28:])
	m.root = le.Uint64(p[32:])
	m.rootSeq = le.Uint64(p[40:])
	m.freelist = le.Uint64(p[48:])
	m.pgid = le.Uint64(p[56:])
	m.tx = le.Uint64(p[64:])
	m.checksum = le.Uint64(p[72:])
	m.computed = fnv1a64(p[16:72])
	switch {
	case m.magic != metaMagic:
		m.why = fmt.Sprintf("bad magic %#x", m.magic)
	case m.version != metaVersion:
		m.why = fmt.Sprintf("bad version %d", m.version)
	case m.checksum != 0 && m.checksum != m.computed:
		m.why = "checksum mismatch"
	default:
		m.valid = true
	}
	return m
}

// readMetas finds both meta pages and the page size the way a careful
// reader would: meta 0's page size if meta 0 is valid, otherwise the first
// power of two (512..65536) at which a valid meta 1 records that very size.
func readMetas(data []byte) (m0, m1 metaPage, ps uint64, ok bool) {
	m0 = parseMeta(data, 0, 0)
	if m0.valid && m0.pageSize >= 80 {
		ps = uint64(m0.pageSize)
		return m0, parseMeta(data, ps, 1), ps, true
	}
	for cand := uint64(512); cand <= 65536; cand *= 2 {
		c := parseMeta(data, cand, 1)
		if c.valid && uint64(c.pageSize) == cand {
			return m0, c, cand, true
		}
	}
	m1 = parseMeta(data, 4096, 1)
	return m0, m1, 4096, false
}

// strictFile runs the walk on the file at path. It never panics on file
// content; a panic here is a bug in the walk and is recovered by the caller.
func strictFile(path string) (*strictReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strictWalk(data), nil
}

// strictWalk checks the image of a whole file.
func strictWalk(data []byte) *strictReport {
	rep := &strictReport{}
	st := &rep.stats
	st.fileSize = int64(len(data))
	w := &walker{data: data, rep: rep, stats: st}

	if len(data) == 0 {
		w.note("empty file: bbolt would initialise it as a new database")
		return rep
	}
	if len(data) < minOpenableSize {
		w.note("file is %d bytes, below the 4096 bbolt reads on open (\"invalid database\")", len(data))
		return rep
	}
	m0, m1, ps, found := readMetas(data)
	if !found {
		w.note("no valid meta page: meta 0 %s, meta 1 %s", m0.why, m1.why)
		return rep
	}
	w.ps = ps
	st.pageSize = ps
	if !m0.valid {
		w.note("meta 0 invalid (%s); page size %d taken from meta 1 (bbolt itself would assume the OS page size, or Options.PageSize)", m0.why, ps)
	}
	if uint64(len(data)) < 2*ps {
		w.note("file is %d bytes, below 2 pages (\"file size too small\")", len(data))
		return rep
	}
	rep.openable = true
	if ps&(ps-1) != 0 || ps < 512 || ps > 65536 {
		w.note("page size %d is not a power of two in 512..65536", ps)
	}

	// Select the current meta: the larger valid txid, meta 0 on a tie.
	cur := m0
	other := m1
	if !m0.valid || (m1.valid && m1.tx > m0.tx) {
		cur, other = m1, m0
	}
	if !other.valid && m0.valid {
		w.note("meta %d invalid (%s); meta %d is used", other.index, other.why, cur.index)
	}
	for _, m := range []metaPage{m0, m1} {
		if !m.valid {
			continue
		}
		w.checkMetaPage(m, ps)
	}
	st.meta, st.txid, st.pgid, st.root, st.freelist = cur.index, cur.tx, cur.pgid, cur.root, cur.freelist
	if cur.tx%2 != uint64(cur.index) {
		w.problem(false, "meta %d: current txid %d is not on page txid%%2", cur.index, cur.tx)
	}
	if other.valid && other.tx >= cur.tx && other.index != cur.index {
		w.problem(false, "meta %d: txid %d is not below the current meta's txid %d", other.index, other.tx, cur.tx)
	}
	if m0.valid && m1.valid && m0.pageSize != m1.pageSize {
		w.problem(false, "meta pages disagree on page size: %d and %d", m0.pageSize, m1.pageSize)
	}

	// The high-water mark and the length of the file (bbolt faults beyond it).
	pgid := cur.pgid
	if pgid < 3 {
		w.problem(true, "meta %d: pgid %d is below 3", cur.index, pgid)
		return rep
	}
	if pgid > uint64(len(data))/ps {
		w.problem(true, "file is %d bytes, shorter than pgid*page_size = %d*%d (bbolt would fault reading past the end)",
			len(data), pgid, ps)
		return rep
	}
	w.pgid = pgid
	if cur.root < 2 || cur.root >= pgid {
		w.problem(true, "meta %d: root page %d outside [2, pgid=%d)", cur.index, cur.root, pgid)
		return rep
	}
	if cur.freelist != noFreelist && (cur.freelist < 2 || cur.freelist >= pgid) {
		w.problem(true, "meta %d: freelist page %d outside [2, pgid=%d)", cur.index, cur.freelist, pgid)
		return rep
	}

	w.owner = make([]byte, pgid)
	w.owner[0], w.owner[1] = ownMeta, ownMeta
	if cur.freelist == noFreelist {
		st.freelistEnc = "none"
	} else if !w.readFreelist(cur.freelist) {
		return rep
	}
	w.walkBucket("", cur.root, 1)

	// Accounting: every page below pgid has exactly one owner. After a
	// fatal finding parts of the trees were not walked, so the pages they
	// hold would all look unreachable: skip the accounting then.
	if rep.hasFatal() {
		w.note("page accounting skipped: fatal damage cut the walk short")
		return rep
	}
	var unowned []uint64
	for id := uint64(2); id < pgid; id++ {
		if w.owner[id] == ownNone {
			unowned = append(unowned, id)
		}
	}
	if cur.freelist == noFreelist {
		st.free = uint64(len(unowned))
	} else {
		for i, id := range unowned {
			if i == 20 {
				w.problem(false, "... %d more pages unreachable and not free", len(unowned)-20)
				break
			}
			w.problem(false, "page %d: unreachable and not free", id)
		}
	}
	return rep
}

// checkMetaPage checks the fields bbolt does not validate on a valid meta.
func (w *walker) checkMetaPage(m metaPage, ps uint64) {
	if m.hdrID != uint64(m.index) || m.hdrFlags != flagMeta || m.hdrCount != 0 || m.hdrOverflow != 0 {
		w.problem(false, "meta %d: page header id=%d flags=%#x count=%d overflow=%d, want id=%d flags=0x4 count=0 overflow=0",
			m.index, m.hdrID, m.hdrFlags, m.hdrCount, m.hdrOverflow, m.index)
	}
	if m.flags != 0 {
		w.problem(false, "meta %d: flags field %#x, want 0", m.index, m.flags)
	}
	if m.checksum == 0 {
		w.problem(false, "meta %d: stored checksum is 0 (bbolt skips verification)", m.index)
	}
	start := uint64(m.index)*ps + 80
	end := uint64(m.index+1) * ps
	if end <= uint64(len(w.data)) {
		for off := start; off < end; off++ {
			if w.data[off] != 0 {
				w.problem(false, "meta %d: nonzero byte at page offset %d after the meta", m.index, off-uint64(m.index)*ps)
				break
			}
		}
	}
}

// claim gives pages [id, id+n) to owner; it reports pages already owned
// and returns false when any was (the caller must not descend).
func (w *walker) claim(id, n uint64, who byte, what string) bool {
	ok := true
	for p := id; p < id+n; p++ {
		switch w.owner[p] {
		case ownNone:
			w.owner[p] = who
		case ownFree:
			if who == ownTree {
				w.problem(false, "page %d: reachable (%s) but listed free", p, what)
				w.owner[p] = who
			} else {
				w.problem(false, "page %d: listed free twice", p)
			}
		default:
			// A free id on a meta/freelist/tree page is an accounting error
			// bbolt reads past; a second reference to a page is a cycle risk.
			w.problem(who != ownFree, "page %d: multiple references (%s, already %s)", p, what, ownerName(w.owner[p]))
			ok = false
		}
	}
	return ok
}

func ownerName(o byte) string {
	switch o {
	case ownMeta:
		return "a meta page"
	case ownFreelist:
		return "part of the freelist run"
	case ownTree:
		return "a reached tree page"
	case ownFree:
		return "free"
	}
	return "unowned"
}

// pageRun returns the bytes of the run starting at page id, checking its
// header's overflow against pgid. ok is false (and a fatal finding made)
// when the run does not fit.
func (w *walker) pageRun(id uint64, what string) (hdrID uint64, flags, count uint16, overflow uint32, run []byte, ok bool) {
	off := id * w.ps
	p := w.data[off:]
	le := binary.LittleEndian
	hdrID, flags, count, overflow = le.Uint64(p), le.Uint16(p[8:]), le.Uint16(p[10:]), le.Uint32(p[12:])
	if id+uint64(overflow) >= w.pgid {
		w.problem(true, "page %d (%s): overflow %d runs past pgid %d", id, what, overflow, w.pgid)
		return hdrID, flags, count, overflow, nil, false
	}
	return hdrID, flags, count, overflow, w.data[off : off+(uint64(overflow)+1)*w.ps], true
}

// readFreelist checks the stored free list and claims its run and its ids.
// It returns false when the walk cannot go on safely.
func (w *walker) readFreelist(id uint64) bool {
	st := w.stats
	hdrID, flags, count, overflow, run, ok := w.pageRun(id, "freelist")
	if !ok {
		return false
	}
	if flags&flagFreelist == 0 {
		w.problem(true, "page %d: freelist page has flags %#x without 0x10 (bbolt panics loading it)", id, flags)
		return false
	}
	if flags != flagFreelist {
		w.problem(false, "page %d: freelist page flags %#x, want 0x10", id, flags)
	}
	if hdrID != id {
		w.problem(false, "page %d: freelist header id %d differs from its position", id, hdrID)
	}
	st.freelistPages = uint64(overflow) + 1
	w.claim(id, uint64(overflow)+1, ownFreelist, "freelist run")

	le := binary.LittleEndian
	n, start := uint64(count), uint64(pageHeaderSize)
	st.freelistEnc = "count-in-header"
	if count == freelistEscape {
		st.freelistEnc = "count-overflow"
		n = le.Uint64(run[pageHeaderSize:])
		start += 8
		if n < freelistEscape {
			w.problem(false, "page %d: freelist uses the 0xFFFF count escape for only %d ids", id, n)
		}
	}
	if n > (uint64(len(run))-start)/8 {
		w.problem(true, "page %d: freelist of %d ids does not fit its %d-page run", id, n, overflow+1)
		return false
	}
	st.free = n
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = le.Uint64(run[start+8*uint64(i):])
	}
	w.rep.freeIDs = ids
	for i, f := range ids {
		if i > 0 && f <= ids[i-1] {
			if f == ids[i-1] {
				w.problem(false, "freelist: id %d listed twice (bbolt: already freed)", f)
			} else {
				w.problem(false, "freelist: ids not ascending at index %d (%d after %d)", i, f, ids[i-1])
			}
			continue
		}
		if f < 2 || f >= w.pgid {
			w.problem(false, "freelist: id %d outside [2, pgid=%d)", f, w.pgid)
			continue
		}
		w.claim(f, 1, ownFree, "free id")
	}
	return true
}

// bound is a key interval [lo, hi) a subtree's keys must lie in; nil = open.
type bound struct{ lo, hi []byte }

// walkBucket checks the B+tree of the bucket at hex path (root bucket: "")
// rooted at page root; nesting is the bucket depth (root bucket = 1).
func (w *walker) walkBucket(path string, root uint64, nesting int) {
	if nesting > w.stats.maxNesting {
		w.stats.maxNesting = nesting
	}
	depth := w.walkPage(path, root, 1, bound{}, nil, "")
	if depth > w.stats.maxDepth {
		w.stats.maxDepth = depth
	}
}

// elem is one decoded, bounds-checked element of a branch or leaf page.
type elem struct {
	flags uint32 // leaf only
	key   []byte
	value []byte // leaf only
	child uint64 // branch only
}

// decodeElems decodes count elements of a page image (a run, or an inline
// page inside a bucket value). It returns false after a fatal finding.
func (w *walker) decodeElems(where string, img []byte, count int, leaf bool) ([]elem, bool) {
	if uint64(pageHeaderSize)+uint64(count)*elemSize > uint64(len(img)) {
		w.problem(true, "%s: %d elements do not fit in %d bytes", where, count, len(img))
		return nil, false
	}
	dataStart := uint64(pageHeaderSize) + uint64(count)*elemSize
	le := binary.LittleEndian
	out := make([]elem, count)
	for i := 0; i < count; i++ {
		eoff := uint64(pageHeaderSize) + uint64(i)*elemSize
		e := img[eoff : eoff+elemSize]
		var pos, ksize, vsize uint64
		if leaf {
			out[i].flags = le.Uint32(e)
			pos, ksize, vsize = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		} else {
			pos, ksize = uint64(le.Uint32(e)), uint64(le.Uint32(e[4:]))
			out[i].child = le.Uint64(e[8:])
		}
		kstart := eoff + pos
		end := kstart + ksize + vsize
		if end > uint64(len(img)) {
			w.problem(true, "%s: element %d (pos %d, ksize %d, vsize %d) ends at byte %d, past the %d bytes of the page",
				where, i, pos, ksize, vsize, end, len(img))
			return nil, false
		}
		if pos+ksize+vsize > maxReadable {
			w.problem(true, "%s: element %d ends %d bytes after its start, beyond bbolt's 2^31-1 read window", where, i, pos+ksize+vsize)
			return nil, false
		}
		if kstart < dataStart {
			w.problem(false, "%s: element %d key at byte %d overlaps the header or element array (ends at %d)", where, i, kstart, dataStart)
		}
		out[i].key = img[kstart : kstart+ksize]
		out[i].value = img[kstart+ksize : end]
	}
	return out, true
}

// checkKeys checks that keys are non-empty, strictly increasing and inside b.
func (w *walker) checkKeys(where string, elems []elem, b bound) {
	for i, e := range elems {
		if len(e.key) == 0 {
			w.problem(false, "%s: element %d has an empty key", where, i)
		}
		if i > 0 && bytes.Compare(elems[i-1].key, e.key) >= 0 {
			w.problem(false, "%s: keys out of order at element %d (%s >= %s)", where, i, short(elems[i-1].key), short(e.key))
		}
		if b.lo != nil && bytes.Compare(e.key, b.lo) < 0 {
			w.problem(false, "%s: element %d key %s below its parent's separator %s", where, i, short(e.key), short(b.lo))
		}
		if b.hi != nil && bytes.Compare(e.key, b.hi) >= 0 {
			w.problem(false, "%s: element %d key %s not below the next separator %s", where, i, short(e.key), short(b.hi))
		}
	}
}

// walkPage checks the tree page id and its subtree; sep is the parent's
// separator for it (nil for a bucket root). It returns the subtree's height.
func (w *walker) walkPage(path string, id uint64, level int, b bound, sep []byte, from string) int {
	what := "bucket " + displayPath(path)
	if id < 2 || id >= w.pgid {
		w.problem(true, "%s: page id %d%s outside [2, pgid=%d)", what, id, from, w.pgid)
		return 0
	}
	if w.owner[id] != ownNone && w.owner[id] != ownFree {
		w.problem(true, "page %d: multiple references (%s%s, already %s)", id, what, from, ownerName(w.owner[id]))
		return 0
	}
	hdrID, flags, count, overflow, run, ok := w.pageRun(id, what)
	if !ok {
		return 0
	}
	where := fmt.Sprintf("page %d (%s)", id, what)
	if hdrID != id {
		// Fatal: bbolt's free-page walk (files without a stored freelist)
		// panics on a header id past pgid, and its page accounting is
		// built on header ids.
		w.problem(true, "%s: header id %d differs from its position", where, hdrID)
	}
	if flags != flagBranch && flags != flagLeaf {
		w.problem(true, "%s: flags %#x, want exactly branch 0x01 or leaf 0x02", where, flags)
		return 0
	}
	if !w.claim(id, uint64(overflow)+1, ownTree, what) {
		return 0
	}
	leaf := flags == flagLeaf
	w.rep.pages = append(w.rep.pages, treePage{id: id, flags: flags, count: int(count), bucket: path})
	if leaf {
		w.stats.leafPages++
		w.stats.leafOverflow += uint64(overflow)
	} else {
		w.stats.branchPages++
		w.stats.branchOverflow += uint64(overflow)
		if count == 0 {
			w.problem(true, "%s: branch page with no elements", where)
			return 0
		}
	}
	elems, ok := w.decodeElems(where, run, int(count), leaf)
	if !ok {
		return 0
	}
	w.checkKeys(where, elems, b)
	if sep != nil && len(elems) > 0 && !bytes.Equal(elems[0].key, sep) {
		w.problem(false, "%s: first key %s differs from the separator %s%s", where, short(elems[0].key), short(sep), from)
	}
	if leaf {
		w.checkLeafElems(path, where, elems)
		return level
	}
	// bbolt's B+trees are balanced (splits, merges and root collapses
	// keep every leaf at the same depth); a 0 height is a subtree cut
	// short by a fatal finding, already reported.
	height := 0
	for i, e := range elems {
		cb := bound{lo: e.key, hi: b.hi}
		if i+1 < len(elems) {
			cb.hi = elems[i+1].key
		}
		h := w.walkPage(path, e.child, level+1, cb, e.key, fmt.Sprintf(" from branch page %d element %d", id, i))
		if h != 0 && height != 0 && h != height {
			w.problem(false, "%s: unbalanced: the subtree of element %d reaches depth %d, earlier ones %d", where, i, h, height)
		}
		if h > height {
			height = h
		}
	}
	return height
}

// checkLeafElems checks plain keys and bucket elements of one leaf.
func (w *walker) checkLeafElems(path, where string, elems []elem) {
	st := w.stats
	for i, e := range elems {
		switch e.flags {
		case 0:
			st.keys++
			if path == "" {
				st.rootKeys++
				if st.rootKeys == 1 {
					w.note("root bucket holds plain keys (legal, unusual; dump path \"-\")")
				}
			}
			if uint64(len(e.key)) > st.maxKey {
				st.maxKey = uint64(len(e.key))
			}
			if len(e.key) > maxKeySize {
				w.problem(false, "%s: element %d: plain key of %d bytes exceeds bbolt's MaxKeySize %d", where, i, len(e.key), maxKeySize)
			}
			if uint64(len(e.value)) > st.maxValue {
				st.maxValue = uint64(len(e.value))
			}
		case leafFlagBucket:
			w.checkBucketElem(path, where, i, e)
		default:
			// bbolt tests only bit 0: with it set, the value is read as a
			// bucket header and its garbage root followed.
			w.problem(e.flags&leafFlagBucket != 0, "%s: element %d has leaf flags %#x, want 0 or 1", where, i, e.flags)
		}
	}
}

// checkBucketElem checks a bucket element's header and descends into it.
func (w *walker) checkBucketElem(parent, where string, i int, e elem) {
	st := w.stats
	st.buckets++
	path := childPath(parent, e.key)
	if uint64(len(e.key)) > st.maxBucketName {
		st.maxBucketName = uint64(len(e.key))
	}
	if len(e.value) < bucketHdrSize {
		w.problem(true, "%s: bucket element %d value of %d bytes is shorter than the 16-byte bucket header", where, i, len(e.value))
		return
	}
	le := binary.LittleEndian
	root, seq := le.Uint64(e.value), le.Uint64(e.value[8:])
	if seq > st.maxSeq {
		st.maxSeq = seq
	}
	if root != 0 {
		if len(e.value) != bucketHdrSize {
			w.problem(false, "%s: paged bucket %s has a %d-byte value, want 16", where, displayPath(path), len(e.value))
		}
		w.walkBucket(path, root, nestingOf(path))
		return
	}
	st.inline++
	// Every image here is a subslice of w.data running to its end, so the
	// capacity tells where it starts.
	img := e.value[bucketHdrSize:]
	w.rep.inlines = append(w.rep.inlines, uint64(cap(w.data)-cap(img)))
	if n := nestingOf(path); n > st.maxNesting {
		st.maxNesting = n
	}
	w.checkInline(path, img)
}

// checkInline checks an inline bucket's page image (docs/format.md section 6).
func (w *walker) checkInline(path string, img []byte) {
	where := "inline bucket " + displayPath(path)
	if len(img) < pageHeaderSize {
		w.problem(true, "%s: %d bytes cannot hold a page header", where, len(img))
		return
	}
	le := binary.LittleEndian
	id, flags, count, overflow := le.Uint64(img), le.Uint16(img[8:]), le.Uint16(img[10:]), le.Uint32(img[12:])
	if flags != flagLeaf {
		w.problem(true, "%s: page flags %#x, want leaf 0x02", where, flags)
		return
	}
	if id != 0 || overflow != 0 {
		w.problem(false, "%s: page header id=%d overflow=%d, want 0 and 0", where, id, overflow)
	}
	elems, ok := w.decodeElems(where, img, int(count), true)
	if !ok {
		return
	}
	w.checkKeys(where, elems, bound{})
	size := uint64(pageHeaderSize)
	for i, e := range elems {
		size += elemSize + uint64(len(e.key)) + uint64(len(e.value))
		if e.flags != 0 {
			w.problem(false, "%s: element %d has flags %#x; inline buckets hold plain keys only", where, i, e.flags)
		}
	}
	if size != uint64(len(img)) {
		w.problem(false, "%s: value holds %d page bytes, its elements need exactly %d", where, len(img), size)
	}
	if size > w.ps/4 {
		w.problem(false, "%s: %d bytes exceed the inline limit page_size/4 = %d", where, size, w.ps/4)
	}
	w.checkLeafElems(path, where, elems)
}

// childPath joins a parent hex path and a bucket name.
func childPath(parent string, name []byte) string {
	h := hexOrDash(name)
	if parent == "" {
		return h
	}
	return parent + "/" + h
}

// nestingOf is the bucket depth of a hex path (root bucket = 1).
func nestingOf(path string) int {
	if path == "" {
		return 1
	}
	return 2 + bytes.Count([]byte(path), []byte("/"))
}

func displayPath(path string) string {
	if path == "" {
		return "<root>"
	}
	if len(path) > 80 {
		return path[:38] + "..." + path[len(path)-38:]
	}
	return path
}

// short renders a key for a message: hex, cut in the middle when long.
func short(k []byte) string {
	h := hexOrDash(k)
	if len(h) > 48 {
		return fmt.Sprintf("%s..%s(%d bytes)", h[:20], h[len(h)-20:], len(k))
	}
	return h
}
