/*
 * cmd_defrag.c: `strata defrag FILE`: etcd's backend defragmentation
 * (backend_defrag) of a file nobody else has open: every top-level bucket
 * is copied into FILE.defrag.tmp with full pages, which is synced and
 * renamed over FILE, and the directory synced. A crash leaves the old file
 * or the new one whole.
 *
 * The backend's copy would take the OS page size; the file's own page size
 * is read first (a read-only bolt open, which also refuses a missing file or
 * one that is not bolt before anything is written) and kept.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

const cli_command_spec cmd_defrag_spec = {
    .name = "defrag",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_JSON,
    .synopsis = "[options] FILE",
    .about = "Defragment the db FILE in place, as etcd's defrag does: copy every\n"
             "top-level bucket into FILE.defrag.tmp with pages filled completely, sync\n"
             "it, rename it over FILE and sync the directory (a crash leaves the old or\n"
             "the new file whole). The page size is kept. FILE must not be open in any\n"
             "other process (an exclusive lock is taken).\n\n"
             "Prints 'FILE: B bytes -> A bytes (P%)' and 'copied K keys in S s'.",
    .json = "file: FILE   size_before: N   size_after: N   keys_copied: N   seconds: S",
    .exits = "0 defragmented; 1 the file is not in etcd's shape (a nested bucket, or a\n"
             "plain key at the top level; use 'strata compact'): it is left as it was;\n"
             "2 usage; 3 cannot open (missing, not bolt, in use, corrupt) or write",
    .example = "$ strata defrag /var/lib/etcd/member/snap/db   # etcd stopped",
};

int cmd_defrag(int argc, char **argv)
{
    cli_opts o;
    int code = cli_parse(&cmd_defrag_spec, argc, argv, &o);
    if (code >= 0)
        return code;
    const char *path = argv[optind];
    if (cli_is_stdio(path)) {
        fprintf(stderr, "strata defrag: defrag rewrites a file in place; '-' has no place\n");
        return CLI_USAGE;
    }
    bolt_options bopt;
    bolt_options_init(&bopt);
    bopt.read_only = true;
    bopt.timeout_ms = o.timeout_ms; /* 0 waits forever */
    bolt_db *db;
    int rc = bolt_open(path, &bopt, &db);
    if (rc != 0) {
        code = cli_report("defrag", path, rc);
        if (rc == BOLT_ETIMEOUT)
            cli_backend_lock_hint("defrag", path, false);
        return code;
    }
    uint32_t page_size = bolt_db_page_size(db);
    bolt_close(db);

    backend_options bo;
    backend_options_init(&bo);
    bolt_options bolt;
    backend_bolt_options_init(&bolt);
    bolt.page_size = page_size; /* for the copy: an existing file keeps its own anyway */
    bo.bolt = &bolt;
    cli_ticker *t = cli_ticker_start(&o, NULL, NULL);
    if (t != NULL) {
        bo.progress = cli_ticker_backend; /* pages checked, then keys copied */
        bo.progress_arg = t;
    }
    backend *be;
    code = cli_backend_open("defrag", &o, path, &bo, &be);
    if (code != CLI_OK) {
        cli_ticker_stop(t);
        return code;
    }
    backend_defrag_stats st;
    rc = backend_defrag(be, &st);
    cli_ticker_stop(t);
    int crc = backend_close(be);
    if (rc == BACKEND_ENESTED || rc == BACKEND_ENOTBUCKET) {
        fprintf(stderr,
                "strata defrag: %s: the file has a nested bucket or a plain key at the top "
                "level (%s): defrag copies etcd's shape, top-level buckets of plain keys, "
                "only; 'strata compact' copies any file. %s is unchanged\n",
                path, cli_status_name(rc), path);
        return CLI_FINDING;
    }
    if (rc == 0)
        rc = crc;
    if (rc != 0)
        return cli_report("defrag", path, rc);
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "file", json_string(path));
        cli_json_set(doc, "size_before", cli_json_u64(st.size_before));
        cli_json_set(doc, "size_after", cli_json_u64(st.size_after));
        cli_json_set(doc, "keys_copied", cli_json_u64(st.keys_copied));
        cli_json_set(doc, "seconds", json_real((double)st.total_ns / 1e9));
        return cli_json_print("defrag", stdout, doc);
    }
    printf("%s: %" PRIu64 " bytes -> %" PRIu64 " bytes (%.1f%%)\n", path, st.size_before,
           st.size_after,
           st.size_before ? 100.0 * (double)st.size_after / (double)st.size_before : 0.0);
    printf("copied %" PRIu64 " keys in %.3f s\n", st.keys_copied, (double)st.total_ns / 1e9);
    return CLI_OK;
}
