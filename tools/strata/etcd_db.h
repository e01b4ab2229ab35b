/*
 * etcd_db.h: what the `strata etcd` commands share: finding the db file
 * an argument names (a db file, a member dir, a data dir, an etcd snapshot
 * whose SHA-256 trailer is verified), opening it read-only as an etcd db
 * (the backend, then the mvcc store), repeating a read of a live file
 * until it was consistent, the meta and server buckets' small values, and
 * the etcdctl-shaped JSON pieces (base64 bytes, omitempty rules).
 *
 * Exit codes are the CLI's (cli.h): 3 when the file cannot be opened as an
 * etcd db (missing, not bolt, not etcd's schema, locked); 1 for a snapshot
 * whose trailer does not match and for a damaged record.
 */
#ifndef STRATA_ETCD_DB_H
#define STRATA_ETCD_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <strata/backend.h>
#include <strata/mvcc.h>

#include "cli_db.h"
#include "cli_io.h"

/* The db a DB argument names. */
typedef struct etcd_path {
    char *file;        /* the bolt file to open (malloc'd) */
    const char *given; /* the argument, for messages */
    bool snapshot;     /* an etcd snapshot: its SHA-256 trailer was verified */
    bool found_in_dir; /* file is DIR/snap/db or DIR/member/snap/db */
    bool from_stdin;   /* "-": file is a temporary copy of standard input */
    cli_input in;      /* that copy (removed by etcd_path_free) */
} etcd_path;

/*
 * Resolve arg: a directory is a member dir (DIR/snap/db) or a data dir
 * (DIR/member/snap/db); a regular file whose size is whole 512-byte units
 * plus 32 is an etcd snapshot, whose trailer is verified here; "-" is
 * standard input (a db or a snapshot), copied to a temporary file. Returns
 * CLI_OK and *p, or the exit code after a one-line message on stderr
 * (3: missing, a directory without a db; 1: a trailer mismatch).
 */
int etcd_resolve(const char *cmd, const char *arg, etcd_path *p);
void etcd_path_free(etcd_path *p);

/* An open etcd db. */
typedef struct etcd_db {
    backend *be;
    mvcc_store *store;    /* NULL when opened without the store */
    backend_read_tx *rtx; /* one read view for the server buckets */
} etcd_db;

/*
 * Open p's file read-only (no lock under o->live) through the backend,
 * check that it is an etcd db (`key` and `meta` buckets) and, when
 * with_store, open the mvcc store read-only over it (the index restored
 * from the `key` bucket). Messages go to err. Returns CLI_OK; 3 (cannot
 * open, not etcd's); 1 (a damaged record, named).
 */
int etcd_db_open(const char *cmd, const cli_opts *o, const etcd_path *p, bool with_store, FILE *err,
                 etcd_db *d);
void etcd_db_close(etcd_db *d);

/*
 * Check that the open backend is an etcd db: 0, or 3 after a message on
 * err naming the missing bucket.
 */
int etcd_check_schema(const char *cmd, const etcd_path *p, backend *be, FILE *err);

/*
 * One read of the db: write the result to out and messages to err, return
 * an exit code. Under --live it is called again (with fresh buffers) while
 * a commit lands during it.
 */
typedef int (*etcd_read_fn)(void *ctx, const etcd_path *p, FILE *out, FILE *err);

/*
 * Run fn once (o->live false: out = stdout, err = stderr), or under
 * o->live until one attempt saw no commit land from before to after it
 * (the newest meta's txid unchanged), at most ETCD_LIVE_ATTEMPTS times;
 * then the member commits faster than strata can read, and the message
 * says so and suggests a snapshot (exit 3). Only the consistent attempt's
 * output and messages are written.
 */
#define ETCD_LIVE_ATTEMPTS 20
int etcd_run(const char *cmd, const cli_opts *o, const etcd_path *p, etcd_read_fn fn, void *ctx);

/*
 * The db's size (high-water mark * page size, etcd's dbSize) and the size
 * in use: dbSize less the pages no bucket uses (what etcd's dbSizeInUse
 * is once it has opened the file and rebuilt its freelist). Opens the
 * file with bolt (read-only; no lock under o->live). CLI_OK or the exit
 * code after a message on err.
 */
int etcd_sizes(const char *cmd, const cli_opts *o, const etcd_path *p, FILE *err, uint64_t *size,
               uint64_t *in_use);

/* ---- small values of the meta and server buckets ---------------------------- */

/* What the `meta`, `cluster` and `auth` buckets say (missing: the defaults noted). */
typedef struct etcd_meta {
    bool has_consistent_index;
    uint64_t consistent_index;
    int64_t scheduled_compact; /* -1: none */
    int64_t finished_compact;  /* -1: none */
    bool has_term;             /* etcd 3.5+ only */
    uint64_t term;
    char *cluster_version; /* NULL: not stored (malloc'd) */
    bool auth_enabled;
    bool has_auth_revision;
    uint64_t auth_revision;
} etcd_meta;

/*
 * Read them in tx. Returns CLI_OK (free *m with etcd_meta_free), or 1
 * after a message on err naming a value of the wrong size; a read error:
 * its exit code (*m holds nothing to free then).
 */
int etcd_meta_read(const char *cmd, const etcd_path *p, backend_read_tx *tx, FILE *err,
                   etcd_meta *m);
void etcd_meta_free(etcd_meta *m);

/* 8-byte big-endian unsigned (meta's consistent_index, auth's authRevision). */
bool etcd_u64_be(bolt_val v, uint64_t *out);

/* ---- JSON pieces with etcdctl's encodings --------------------------------- */

/* Bytes as base64 (Go's encoding/json of []byte). NULL on no memory. */
json_t *etcd_json_b64(const void *data, size_t n);

/* obj[key] = integer v unless v == 0 (Go's omitempty). */
void etcd_json_set_int(json_t *obj, const char *key, int64_t v);

/*
 * A uint64 as a JSON number, as Go's encoding/json prints it (etcdctl's
 * member IDs are often >= 2^63, which jansson's int64 integers cannot
 * hold): above INT64_MAX a marker string that etcd_json_print turns into
 * the bare digits. NULL on no memory.
 */
json_t *etcd_json_u64(uint64_t v);

/* The value of an etcd_json_u64 (0 for anything else). */
uint64_t etcd_json_u64_value(const json_t *v);

/*
 * cli_json_print for documents that may hold etcd_json_u64 values: the
 * same output, with every marker written as a number.
 */
int etcd_json_print(const char *cmd, FILE *out, json_t *doc);

/* {"revision": rev} (the header strata can fill: nothing else is in the db). */
json_t *etcd_json_header(int64_t rev);

/* mvccpb.KeyValue as etcdctl prints it (omitempty fields; no value when keys_only). */
json_t *etcd_json_kv(const mvcc_kv *kv, bool keys_only);

#endif
