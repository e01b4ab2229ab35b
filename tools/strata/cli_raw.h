/*
 * cli_raw.h: byte-level access to a bolt file for the commands that must
 * work on damaged files (info, pages, page, page-item, surgery, salvage):
 * pread only, never a map, and every page id checked against the file size
 * before it is read. Decoding goes through bolt's private format helpers
 * (bolt/format.h, page.c, meta.c).
 */
#ifndef STRATA_CLI_RAW_H
#define STRATA_CLI_RAW_H

#include <stdbool.h>
#include <stdint.h>

#include "bolt_int.h"
#include "cli_db.h"

/* An open file, its page size and both meta pages as found. */
typedef struct cli_raw {
    const char *cmd;
    const char *path;
    int fd;
    uint64_t file_size;
    uint32_t page_size;      /* bolt_open's probe (bolt__probe_page_size); 0 when none */
    bool page_size_guessed;  /* the probe found none: page_size is a torn meta 0's field */
    uint64_t file_pages;     /* whole pages in the file (0 without a page size) */
    bolt__meta meta[2];      /* fields as stored (decoded even when invalid) */
    int meta_rc[2];          /* 0, or why the meta is not usable (BOLT_E*) */
    const char *meta_why[2]; /* a static description when meta_rc != 0 */
    bool meta_short[2];      /* valid but for a file shorter than its pgid (truncated) */
    int current;             /* the meta bolt_open would use (0/1), or -1 */
} cli_raw;

/*
 * Open path read-only without any lock (a writer may hold the file: pread
 * neither blocks it nor waits for it), find the page size and decode both
 * metas. A file whose metas are both bad still opens (page_size may be 0,
 * current -1): the commands decide what they can do with it. Returns
 * CLI_OK or the exit code after printing why (missing, unreadable).
 */
int cli_raw_open(const char *cmd, const cli_opts *o, const char *path, cli_raw *r);
void cli_raw_close(cli_raw *r);

/* pread exactly n bytes at off: 0, -EIO on a short read, -errno. */
int cli_raw_read(const cli_raw *r, uint64_t off, void *buf, size_t n);

/*
 * Read the run of page id: its header, then 1 + overflow pages. *buf is
 * malloc'd (free it) with *size bytes. 0; BOLT_ECORRUPT with *why when the
 * id or its overflow lies outside the file; -errno; -ENOMEM.
 */
int cli_raw_page(const cli_raw *r, bolt_pgid id, unsigned char **buf, size_t *size,
                 const char **why);

/* "branch", "leaf", "meta", "freelist" or "unknown" for header flags. */
const char *cli_raw_type_name(uint16_t flags);

/*
 * The stored free ids of meta m (sorted; *ids malloc'd, may be NULL when
 * *n is 0). BOLT_NOTFOUND when the meta has no freelist page;
 * BOLT_ECORRUPT (why set) when it is unreadable; -errno; -ENOMEM.
 * *run_pages receives the freelist run's length (1 + overflow).
 */
int cli_raw_free_ids(const cli_raw *r, const bolt__meta *m, bolt_pgid **ids, size_t *n,
                     uint64_t *run_pages, const char **why);

/*
 * Element i of a branch or leaf page image of `size` bytes, checked on its
 * own (a damaged page's other elements do not matter): key (and value for a
 * leaf, child for a branch). 0, or BOLT_ECORRUPT with *why.
 */
int cli_raw_elem(const unsigned char *page, size_t size, unsigned i, uint32_t *flags, bolt_val *key,
                 bolt_val *value, bolt_pgid *child, const char **why);

/* ---- the tolerant tree walk (pages, salvage) ---------------------------- */

typedef struct cli_walk_ops {
    /* Every readable page run reached (optional). */
    int (*page)(void *arg, bolt_pgid id, uint32_t overflow, uint16_t flags);
    /* A bucket reached; path[0..depth) names it (optional). */
    int (*bucket)(void *arg, const bolt_val *path, size_t depth, uint64_t seq);
    /* A plain key of the bucket path[0..depth) (optional). */
    int (*kv)(void *arg, const bolt_val *path, size_t depth, bolt_val key, bolt_val value);
    /*
     * A subtree that could not be read: page id (for an inline bucket the
     * leaf holding it),
     * its bucket, the key range it held ([lo, hi), NULL = open) and why.
     */
    void (*skip)(void *arg, bolt_pgid id, const bolt_val *path, size_t depth, const bolt_val *lo,
                 const bolt_val *hi, const char *why);
} cli_walk_ops;

/*
 * Walk the tree of the root bucket at page root, depth-first in key order,
 * recursing into nested buckets, reading each page with pread. Bounded:
 * page ids must be >= 2 and below min(hwm, file pages), every page is
 * entered at most once (a visited set, so cycles and shared pages are
 * skipped and reported), trees are at most BOLT_MAX_DEPTH levels and
 * buckets at most BOLT_MAX_NESTING deep. Unreadable subtrees go to
 * ops->skip and the walk goes on. Returns 0, a callback's non-zero value,
 * or -ENOMEM. When reached is not NULL it receives a malloc'd bitmap of
 * file_pages bits: the pages (runs included) the walk read. On a
 * cli_big_stack thread it follows 16384 tree levels in all (the deepest
 * legal nesting), elsewhere 2048.
 */
int cli_walk(const cli_raw *r, bolt_pgid root, bolt_pgid hwm, const cli_walk_ops *ops, void *arg,
             unsigned char **reached);

/*
 * Run a command's main_fn(argc, argv) on a thread with a 256 MiB stack
 * (address space; only what is used is touched) and return its exit code;
 * the caller waits, so main_fn may use anything the caller set up, and
 * must begin and end its transactions itself. Falls back to calling
 * main_fn directly if no thread can be made.
 */
int cli_big_stack(int (*main_fn)(int argc, char **argv), int argc, char **argv);

/*
 * Verify that the bolt file at path is a good db: it opens (read-only,
 * shared lock, 1 s) and bolt_tx_check finds nothing in its current state.
 * The first problems go to stderr as "strata CMD: PATH: problem". Returns
 * 0 with *problems (0 = good); or the status bolt_open / begin returned
 * (said on stderr), which means the file is not a good db either. What
 * `snapshot` and `restore` run on what they copy (exit 1 when not good).
 * progress (may be NULL): the ticker that shows the pages checked.
 */
struct cli_ticker;
int cli_verify_db(const char *cmd, const char *path, uint64_t *problems,
                  struct cli_ticker *progress);

/*
 * cli_verify_db for a file another process may be writing (--live): no
 * lock (bolt's live open), and the check counts only when it read the state
 * txid (the one copied) and bolt_tx_live_verify found no commit landed
 * under it; otherwise BOLT_ELIVECHANGED (the caller copies again) and the
 * problems found meanwhile are dropped unprinted.
 */
int cli_verify_db_live(const char *cmd, const char *path, uint64_t txid, uint64_t *problems,
                       struct cli_ticker *progress);

static inline bool cli_bit(const unsigned char *bits, uint64_t i)
{
    return (bits[i / 8] >> (i % 8)) & 1;
}

#endif
