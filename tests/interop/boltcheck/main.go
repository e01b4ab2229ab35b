// Command boltcheck drives the real bbolt (go.etcd.io/bbolt 1.3.6, Debian's
// golang-github-coreos-bbolt-dev) for strata's interoperability tests.
//
//	boltcheck gen -out DIR [-only a.db,b.db] [-big]   write the corner-case files
//	boltcheck inspect [-sections check,strict,info,dump] [-maxhex N] FILE
//	boltcheck dump [-maxhex N] FILE                   canonical dump via bbolt
//	boltcheck load [-pagesize N] [-nofreelistsync] FILE < DUMP
//	boltcheck mutate -seed N [-freelist keep|sync|nosync] FILE
//	boltcheck compare A B                             compare two dumps
//	boltcheck corrupt -kind KIND [-seed N] FILE       damage a file (tests)
//	boltcheck clistats [-prefix HEX] FILE             bbolt CLI's stats figures
//
// Exit codes: 0 ok, 1 problems found, 2 cannot open (or bad usage), 3 crash.
//
// Crash containment. bbolt trusts the file: garbage offsets make it fault
// (SIGSEGV/SIGBUS on its memory map) and some damage makes it panic inside
// the goroutine Tx.Check starts, where no recover can reach. So:
//  1. the strict walk (strict.go, plain reads, no map) always runs first,
//     and a file it finds fatally damaged is never handed to bbolt;
//  2. everything that opens a file with bbolt runs in a child process (this
//     program re-executed with BOLTCHECK_CHILD=1), which reports its result
//     as exit code 10+code; any other end of the child (a Go runtime panic
//     exits 2, a signal kills it) is a crash, exit 3;
//  3. the parent's own work is wrapped in recover (with panic-on-fault), so
//     a bug in the walk is reported as a crash too, never as "ok".
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Exit codes.
const (
	exitOK       = 0
	exitProblems = 1
	exitNoOpen   = 2
	exitCrash    = 3
	childBase    = 10 // a child exits childBase + one of the codes above
)

const (
	childEnv    = "BOLTCHECK_CHILD"
	openTimeout = 10 * time.Second
)

// openError marks a failure to open a file (exit 2).
type openError struct{ err error }

func (e *openError) Error() string { return "cannot open: " + e.err.Error() }

func isChild() bool { return os.Getenv(childEnv) == "1" }

func main() {
	debug.SetPanicOnFault(true)
	code := guarded(func() int { return run(os.Args[1:]) })
	if isChild() {
		code += childBase
	}
	os.Exit(code)
}

// guarded runs fn, turning a panic into a crash report.
func guarded(fn func() int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "crash: %v\n%s", r, debug.Stack())
			code = exitCrash
		}
	}()
	return fn()
}

func usage() int {
	fmt.Fprint(os.Stderr, `usage: boltcheck COMMAND [options] [args]
  gen -out DIR [-only a.db,b.db] [-big]   write the corner-case files (-list: names)
  inspect [-sections check,strict,info,dump] [-maxhex N] FILE
  dump [-maxhex N] FILE                   canonical dump (bolt-dump v1) via bbolt
  load [-pagesize N] [-nofreelistsync] FILE < DUMP
  mutate -seed N [-freelist keep|sync|nosync] FILE
  compare A B                             byte compare of two dumps
  corrupt -kind KIND [-seed N] FILE       damage a file in one way (tests)
exit: 0 ok, 1 problems found, 2 cannot open or bad usage, 3 crash
`)
	return exitNoOpen
}

func run(args []string) int {
	if len(args) == 0 {
		return usage()
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "gen":
		return cmdGen(rest)
	case "inspect":
		return cmdInspect(rest, false)
	case "dump":
		return cmdInspect(rest, true)
	case "load":
		return cmdLoad(rest)
	case "mutate":
		return cmdMutate(rest)
	case "compare":
		return cmdCompare(rest)
	case "corrupt":
		return cmdCorrupt(rest)
	case "bbolt-read":
		return cmdBboltRead(rest)
	case "clistats":
		return cmdCliStats(rest)
	case "-h", "-help", "--help", "help":
		usage()
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "boltcheck: unknown command %q\n", cmd)
	return usage()
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func cmdGen(args []string) int {
	fs := newFlags("gen")
	out := fs.String("out", "", "directory to write the files into")
	only := fs.String("only", "", "comma-separated corner names (default: all but the -big ones)")
	big := fs.Bool("big", false, "also write the large corners")
	list := fs.Bool("list", false, "print the corner names and exit")
	if fs.Parse(args) != nil || fs.NArg() != 0 || (*out == "" && !*list) {
		return usage()
	}
	if *list {
		for _, c := range corners {
			tag := ""
			if c.big {
				tag = " (big)"
			}
			fmt.Printf("%s%s\t%s\n", c.name, tag, c.what)
		}
		return exitOK
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	if err := runGen(*out, names, *big); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		return exitProblems
	}
	return exitOK
}

// sectionSet parses a -sections list.
func sectionSet(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		switch name {
		case "check", "strict", "info", "dump":
			out[name] = true
		default:
			return nil, fmt.Errorf("unknown section %q (check, strict, info, dump)", name)
		}
	}
	return out, nil
}

// cmdInspect implements inspect and (dumpOnly) dump.
func cmdInspect(args []string, dumpOnly bool) int {
	fs := newFlags("inspect")
	secs := "check,strict"
	if !dumpOnly {
		fs.StringVar(&secs, "sections", secs, "sections to print: check,strict,info,dump")
	}
	maxHex := fs.Int("maxhex", defaultMaxHex, "hash KEY/VALUE fields longer than this (0: never)")
	unguarded := fs.Bool("unguarded", false, "hand the file to bbolt even when the strict walk finds fatal damage (tests the crash containment)")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return usage()
	}
	if dumpOnly {
		secs = "dump"
	}
	want, err := sectionSet(secs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitNoOpen
	}
	path := fs.Arg(0)
	// Report lines go to stdout unless the output is a bare dump.
	report := os.Stdout
	if !want["check"] && !want["strict"] && !want["info"] {
		report = os.Stderr
	}
	result := func(code int, msg string) int {
		if report == os.Stdout || code != exitOK {
			fmt.Fprintf(report, "result: %s\n", msg)
		}
		return code
	}

	rep, err := strictFile(path)
	if err != nil {
		return result(exitNoOpen, "cannot open: "+err.Error())
	}
	code := exitOK
	if want["strict"] {
		printStrict(rep)
	}
	if want["info"] {
		printInfo(rep)
	}
	if len(rep.problems) > 0 && (want["strict"] || want["info"]) {
		code = exitProblems
	}
	if !rep.openable {
		return result(exitNoOpen, "cannot open: "+strings.Join(rep.notes, "; "))
	}
	if want["check"] || want["dump"] {
		if rep.hasFatal() && !*unguarded {
			if want["check"] {
				fmt.Fprintln(report, "check: skipped: the strict walk found damage bbolt could fault on")
			}
			if !want["strict"] {
				fmt.Fprintf(report, "strict: problem: %s\n", firstProblem(rep))
			}
			return result(exitProblems, "problems")
		}
		var cargs []string
		if want["check"] {
			cargs = append(cargs, "-check")
		}
		if want["dump"] {
			cargs = append(cargs, "-dump")
		}
		cargs = append(cargs, "-maxhex", fmt.Sprint(*maxHex), "-pagesize", fmt.Sprint(rep.stats.pageSize), path)
		switch c := runChild("bbolt-read", cargs); c {
		case exitOK:
		case exitProblems:
			code = exitProblems
		default:
			return result(c, map[int]string{exitNoOpen: "cannot open", exitCrash: "crash"}[c])
		}
	}
	if code == exitOK {
		return result(code, "ok")
	}
	return result(code, "problems")
}

// printStrict prints the strict section.
func printStrict(rep *strictReport) {
	for _, n := range rep.notes {
		fmt.Printf("strict: note: %s\n", n)
	}
	for i, p := range rep.problems {
		if i == maxProblems {
			fmt.Printf("strict: ... %d more problems\n", len(rep.problems)-maxProblems)
			break
		}
		tag := "problem"
		if p.fatal {
			tag = "problem (fatal)"
		}
		fmt.Printf("strict: %s: %s\n", tag, p.msg)
	}
	if !rep.openable {
		fmt.Println("strict: cannot open")
	} else if len(rep.problems) == 0 {
		fmt.Println("strict: ok")
	} else {
		fmt.Printf("strict: problems: %d\n", len(rep.problems))
	}
}

// printInfo prints the info section: what the file holds.
func printInfo(rep *strictReport) {
	s := rep.stats
	fl := fmt.Sprint(s.freelist)
	if s.freelist == noFreelist {
		fl = "none"
	}
	fmt.Printf("info: file_size=%d page_size=%d\n", s.fileSize, s.pageSize)
	fmt.Printf("info: meta=%d txid=%d root=%d freelist=%s pgid=%d\n", s.meta, s.txid, s.root, fl, s.pgid)
	fmt.Printf("info: freelist_encoding=%s freelist_pages=%d free=%d\n", s.freelistEnc, s.freelistPages, s.free)
	fmt.Printf("info: branch_pages=%d branch_overflow=%d leaf_pages=%d leaf_overflow=%d max_depth=%d\n",
		s.branchPages, s.branchOverflow, s.leafPages, s.leafOverflow, s.maxDepth)
	fmt.Printf("info: buckets=%d inline=%d max_nesting=%d keys=%d root_keys=%d\n",
		s.buckets, s.inline, s.maxNesting, s.keys, s.rootKeys)
	fmt.Printf("info: max_key=%d max_bucket_name=%d max_value=%d max_seq=%d\n", s.maxKey, s.maxBucketName, s.maxValue, s.maxSeq)
}

// runChild re-executes this program with BOLTCHECK_CHILD=1 and maps its
// end to an exit code (rule 2 of the crash containment).
func runChild(cmd string, args []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash: cannot find own executable: %v\n", err)
		return exitCrash
	}
	c := exec.Command(self, append([]string{cmd}, args...)...)
	c.Env = append(os.Environ(), childEnv+"=1")
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(os.Stderr, "crash: bbolt process killed by %v\n", ws.Signal())
			return exitCrash
		}
		if c := ee.ExitCode(); c >= childBase && c <= childBase+exitNoOpen {
			return c - childBase
		}
		fmt.Fprintf(os.Stderr, "crash: bbolt process exited with status %d (Go runtime panic or fault)\n", ee.ExitCode())
		return exitCrash
	default:
		fmt.Fprintf(os.Stderr, "crash: cannot run bbolt process: %v\n", err)
		return exitCrash
	}
}

// cmdBboltRead is the child side of inspect/dump: bbolt's Tx.Check (plus
// the comparison of bbolt's Bucket.Stats with the strict walk's counts) and
// the dump, in one read-only transaction.
func cmdBboltRead(args []string) int {
	if !isChild() {
		fmt.Fprintln(os.Stderr, "bbolt-read is internal (run by inspect and dump)")
		return exitNoOpen
	}
	fs := newFlags("bbolt-read")
	check := fs.Bool("check", false, "run Tx.Check")
	dump := fs.Bool("dump", false, "print the dump")
	maxHex := fs.Int("maxhex", defaultMaxHex, "")
	pageSize := fs.Int("pagesize", 0, "")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return usage()
	}
	db, err := bolt.Open(fs.Arg(0), 0o400, &bolt.Options{ReadOnly: true, Timeout: openTimeout, PageSize: *pageSize})
	if err != nil {
		fmt.Printf("check: cannot open: %v\n", err)
		return exitNoOpen
	}
	defer db.Close()
	code := exitOK
	err = db.View(func(tx *bolt.Tx) error {
		if *check {
			n := 0
			for e := range tx.Check() {
				fmt.Printf("check: %v\n", e)
				n++
			}
			for _, m := range statsMismatches(tx, fs.Arg(0)) {
				fmt.Printf("check: %s\n", m)
				n++
			}
			if n == 0 {
				fmt.Println("check: ok")
			} else {
				code = exitProblems
			}
		}
		if *dump {
			return writeDump(os.Stdout, tx, *maxHex)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dump: %v\n", err)
		return exitProblems
	}
	return code
}

func cmdLoad(args []string) int {
	fs := newFlags("load")
	pageSize := fs.Int("pagesize", 0, "page size of the new file (default: the OS page size)")
	nfs := fs.Bool("nofreelistsync", false, "write the file without a stored freelist")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return usage()
	}
	err := loadDump(fs.Arg(0), os.Stdin, loadOptions{pageSize: *pageSize, noFreelistSync: *nfs})
	var de *dumpError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &de):
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Remove(fs.Arg(0))
		return exitProblems
	default:
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		return exitNoOpen
	}
}

func cmdMutate(args []string) int {
	fs := newFlags("mutate")
	seed := fs.Uint64("seed", 0, "seed of the mutation (required, > 0)")
	freelist := fs.String("freelist", "keep", "freelist mode of the commit: keep (as the file has it), sync, nosync")
	pageSize := fs.Int("pagesize", 0, "(set by the parent for its child)")
	stored := fs.Bool("stored", true, "(set by the parent for its child)")
	if fs.Parse(args) != nil || fs.NArg() != 1 || *seed == 0 {
		return usage()
	}
	switch *freelist {
	case "keep", "sync", "nosync":
	default:
		return usage()
	}
	path := fs.Arg(0)
	if isChild() {
		err := mutateFile(path, *pageSize, *stored, mutateOptions{seed: *seed, freelist: *freelist})
		var oe *openError
		switch {
		case err == nil:
			return exitOK
		case errors.As(err, &oe):
			fmt.Fprintf(os.Stderr, "mutate: %v\n", err)
			return exitNoOpen
		default:
			fmt.Fprintf(os.Stderr, "mutate: %v\n", err)
			return exitProblems
		}
	}
	rep, err := strictFile(path)
	if err != nil || !rep.openable {
		fmt.Fprintf(os.Stderr, "mutate: cannot open %s\n", path)
		return exitNoOpen
	}
	// A write on a damaged file can make bbolt panic (e.g. "page already
	// freed") or spread the damage: mutate only clean files.
	if len(rep.problems) > 0 {
		fmt.Fprintf(os.Stderr, "mutate: refusing, the strict walk found problems: %s\n", firstProblem(rep))
		return exitProblems
	}
	return runChild("mutate", []string{"-seed", fmt.Sprint(*seed), "-freelist", *freelist,
		"-pagesize", fmt.Sprint(rep.stats.pageSize), fmt.Sprintf("-stored=%v", rep.stats.freelistEnc != "none"), path})
}

func cmdCompare(args []string) int {
	if len(args) != 2 {
		return usage()
	}
	a, errA := os.ReadFile(args[0])
	b, errB := os.ReadFile(args[1])
	if errA != nil || errB != nil {
		fmt.Fprintf(os.Stderr, "compare: cannot read: %v %v\n", errA, errB)
		return exitNoOpen
	}
	if msg := firstDifference(args[0], args[1], a, b); msg != "" {
		fmt.Println(msg)
		return exitProblems
	}
	return exitOK
}

// firstDifference describes where two dumps first differ ("" if equal).
func firstDifference(na, nb string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	la, lb := strings.SplitAfter(string(a), "\n"), strings.SplitAfter(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("dumps differ at line %d:\n  %s: %s\n  %s: %s", i+1, na, clip(x), nb, clip(y))
		}
	}
}

// clip shortens a dump line for a message.
func clip(s string) string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return "<end of file>"
	}
	if len(s) > 160 {
		return s[:100] + fmt.Sprintf("...(%d bytes)...", len(s)) + s[len(s)-40:]
	}
	return s
}

func cmdCorrupt(args []string) int {
	fs := newFlags("corrupt")
	kind := fs.String("kind", "", "one of: "+strings.Join(corruptKinds, ", "))
	seed := fs.Uint64("seed", 1, "seed of the random kind")
	if fs.Parse(args) != nil || fs.NArg() != 1 || *kind == "" {
		return usage()
	}
	what, err := corruptFile(fs.Arg(0), *kind, *seed)
	if err != nil {
		fmt.Fprintf(os.Stderr, "corrupt: %v\n", err)
		return exitProblems
	}
	fmt.Printf("corrupt: %s: %s\n", *kind, what)
	return exitOK
}

// statsMismatches compares bbolt's own page and element counts (the root
// bucket's Stats, which include every nested bucket) with the strict walk's,
// so the walk is itself checked against bbolt on every inspected file.
func statsMismatches(tx *bolt.Tx, path string) []string {
	rep, err := strictFile(path)
	if err != nil {
		return []string{fmt.Sprintf("cannot re-read for the stats comparison: %v", err)}
	}
	bs := tx.Cursor().Bucket().Stats()
	s := rep.stats
	var out []string
	for _, c := range []struct {
		name          string
		strict, bbolt uint64
	}{
		{"branch_pages", s.branchPages, uint64(bs.BranchPageN)},
		{"branch_overflow", s.branchOverflow, uint64(bs.BranchOverflowN)},
		{"leaf_pages", s.leafPages, uint64(bs.LeafPageN)},
		{"leaf_overflow", s.leafOverflow, uint64(bs.LeafOverflowN)},
		{"buckets (+ root)", uint64(s.buckets) + 1, uint64(bs.BucketN)},
		{"inline buckets", uint64(s.inline), uint64(bs.InlineBucketN)},
		{"leaf elements", s.keys + uint64(s.buckets), uint64(bs.KeyN)},
	} {
		if c.strict != c.bbolt {
			out = append(out, fmt.Sprintf("the strict walk counts %s=%d, bbolt's Bucket.Stats %d", c.name, c.strict, c.bbolt))
		}
	}
	return out
}
