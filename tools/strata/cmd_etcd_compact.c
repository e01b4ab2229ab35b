/*
 * cmd_etcd_compact.c: `strata etcd compact DB REV`: compact a stopped
 * member's db to REV exactly as etcd's compaction does (`etcdctl compact
 * REV --physical`; etcd 3.4 mvcc kvstore.go Compact and
 * kvstore_compaction.go, docs/schema.md section 8.1), through strata's own
 * mvcc store: meta/scheduledCompactRev written and committed, the key
 * index compacted, the revisions below REV that no read at REV needs
 * deleted in batches, meta/finishedCompactRev written with the last batch,
 * committed. etcd opening the file afterwards restores the compacted
 * revision from the marks and answers as if it had compacted itself. The
 * file does not shrink (as in etcd: `strata defrag` does that).
 *
 * Everything is checked before anything is written: a read-only open of
 * the db as an etcd db (schema, records) and of REV against the current
 * and compacted revisions; a snapshot, a locked file, a bad REV or a
 * damaged record leave the file as it was.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_cmd.h"

static const cli_option compact_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_compact_spec = {
    .name = "etcd compact",
    .min_args = 2,
    .max_args = 2,
    .common = CLI_C_TIMEOUT | CLI_C_JSON,
    .options = compact_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB REV",
    .about = "Compact a stopped member's db to revision REV as etcd does ('etcdctl compact\n"
             "REV --physical'): reads below REV are refused from then on, and every\n"
             "revision below REV that no read at REV or later needs is deleted; etcd's\n"
             "marks (meta/scheduledCompactRev, meta/finishedCompactRev) are written, so\n"
             "etcd opens the file afterwards with the same answers. The file keeps its\n"
             "size (as in etcd; 'strata defrag DB' shrinks it). DB must not be open in\n"
             "another process (an exclusive lock; --timeout waits for it) and must not be\n"
             "a snapshot (restore it first). Nothing is written when REV is refused.",
    .json = "revision: REV   compact_revision_before: N (-1: never)\n"
            "revisions_before: N   revisions_after: N   (entries of the key bucket)\n"
            "db_size: N",
    .exits = "0 compacted; 1 REV is at or below the compacted revision or above the current\n"
             "one, or a damaged record (nothing written); 2 usage (REV, a snapshot); 3\n"
             "cannot open the file as an etcd db, or it is held by another process",
    .example = "$ strata etcd compact /var/lib/etcd 1200\n"
               "$ strata etcd compact --json /var/lib/etcd/member/snap/db 1200",
};

/* backend_kv_fn: count the pairs. */
static int count_each(void *arg, bolt_val k, bolt_val v)
{
    (void)k;
    (void)v;
    (*(uint64_t *)arg)++;
    return 0;
}

typedef struct compact_check {
    const etcd_args *a;
    int64_t rev, current, compacted;
    uint64_t revisions;
} compact_check;

/* The read-only pass: an etcd db, records sound, REV acceptable. */
static int compact_precheck(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    (void)out;
    compact_check *c = ctx;
    const etcd_args *a = c->a;
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    c->current = mvcc_store_rev(d.store);
    c->compacted = mvcc_store_compact_rev(d.store);
    int rc = backend_read_tx_for_each(d.rtx, bolt_str("key"), count_each, &c->revisions);
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s\n", a->cmd, p->given, cli_strerror(rc));
        code = cli_exit_for(rc);
    } else if (c->rev <= c->compacted || c->rev > c->current) {
        fprintf(err,
                "strata %s: %s: revision %" PRId64 ": %s (current revision %" PRId64
                ", compacted at %" PRId64 "); nothing written\n",
                a->cmd, p->given, c->rev,
                cli_strerror(c->rev <= c->compacted ? MVCC_ECOMPACTED : MVCC_EFUTUREREV),
                c->current, c->compacted);
        code = CLI_FINDING;
    }
    etcd_db_close(&d);
    return code;
}

int etcd_compact(int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(&etcd_compact_spec, argc, argv, &a);
    if (code >= 0)
        return code;
    uint64_t rev;
    if (cli_parse_u64(a.cmd, "REV", argv[optind + 1], &rev) != 0)
        return CLI_USAGE;
    if (rev > (uint64_t)INT64_MAX) {
        fprintf(stderr, "strata %s: REV %s is out of range\n", a.cmd, argv[optind + 1]);
        return CLI_USAGE;
    }
    etcd_path p;
    if ((code = etcd_resolve(a.cmd, argv[optind], &p)) != CLI_OK)
        return code;
    if (p.from_stdin) {
        fprintf(stderr,
                "strata %s: compact writes the member's db in place: give its path, not "
                "standard input\n",
                a.cmd);
        etcd_path_free(&p);
        return CLI_USAGE;
    }
    if (p.snapshot) {
        fprintf(stderr,
                "strata %s: %s is an etcd snapshot, not a member's db: restore it first "
                "('strata restore' or 'etcdctl snapshot restore') and compact the restored "
                "db\n",
                a.cmd, p.given);
        etcd_path_free(&p);
        return CLI_USAGE;
    }
    compact_check c = { .a = &a, .rev = (int64_t)rev };
    if ((code = compact_precheck(&c, &p, stdout, stderr)) != CLI_OK) {
        etcd_path_free(&p);
        return code;
    }

    /* The write: the backend with the file to itself, the store over it. */
    backend *be = NULL;
    mvcc_store *s = NULL;
    backend_options bo;
    backend_options_init(&bo);
    code = cli_backend_open(a.cmd, &a.o, p.file, &bo, &be);
    if (code != CLI_OK)
        goto out;
    char why[512] = "";
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.errbuf = why;
    mo.errbuf_size = sizeof why;
    int rc = mvcc_store_open(be, &mo, &s);
    const char *step = "opening the store";
    if (rc == 0) {
        step = "compacting";
        rc = mvcc_store_compact(s, (int64_t)rev);
    }
    if (rc == 0) {
        step = "deleting the compacted revisions";
        rc = mvcc_store_compact_wait(s);
    }
    if (rc == 0) {
        step = "committing";
        rc = mvcc_store_commit(s);
    }
    if (rc != 0) {
        fprintf(stderr, "strata %s: %s: %s: %s\n", a.cmd, p.given, step,
                why[0] != '\0' ? why : cli_strerror(rc));
        code = rc == MVCC_ECOMPACTED || rc == MVCC_EFUTUREREV ? CLI_FINDING : cli_exit_for(rc);
        goto out;
    }
    rc = mvcc_store_close(s);
    s = NULL;
    uint64_t after = 0, size = backend_size(be);
    backend_read_tx *tx = NULL;
    if (rc == 0 && (rc = backend_read_tx_begin(be, &tx)) == 0)
        rc = backend_read_tx_for_each(tx, bolt_str("key"), count_each, &after);
    backend_read_tx_end(tx);
    int crc = backend_close(be);
    be = NULL;
    if (rc == 0)
        rc = crc;
    if (rc != 0) {
        fprintf(stderr, "strata %s: %s: closing: %s\n", a.cmd, p.given, cli_strerror(rc));
        code = cli_exit_for(rc);
        goto out;
    }
    if (a.o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "revision", json_integer((int64_t)rev));
        cli_json_set(doc, "compact_revision_before", json_integer(c.compacted));
        cli_json_set(doc, "revisions_before", etcd_json_u64(c.revisions));
        cli_json_set(doc, "revisions_after", etcd_json_u64(after));
        cli_json_set(doc, "db_size", etcd_json_u64(size));
        code = etcd_json_print(a.cmd, stdout, doc);
    } else {
        printf("%s: compacted to revision %" PRIu64 " (was %" PRId64 "): %" PRIu64 " of %" PRIu64
               " revisions deleted; db size %" PRIu64 " bytes ('strata defrag' shrinks the file)\n",
               p.given, rev, c.compacted, c.revisions - after, c.revisions, size);
    }
out:
    if (s != NULL)
        mvcc_store_close(s);
    if (be != NULL)
        backend_close(be);
    etcd_path_free(&p);
    return code;
}
