/*
 * cmd_restore.c: `strata restore SNAPSHOT -o DB`: create a db file from a
 * snapshot (backend_snapshot_restore): plain, with etcd's SHA-256 trailer
 * (verified, then dropped) or gzip'ed, as `strata snapshot`, etcd's
 * Snapshot RPC or `etcdctl snapshot save` write them.
 *
 * DB appears whole or not at all: the backend writes it beside itself,
 * syncs it, checks that it opens as a bolt file, links it to DB (never over
 * an existing file) and syncs the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

#define TRAILER_SIZE 32

static int restore_option(int c, const char *arg, void *ctx)
{
    (void)c; /* -o is the only option of its own */
    *(const char **)ctx = arg;
    return 0;
}

static const cli_option restore_options[] = {
    { "output", 'o', "DB", "the new db file ('-': standard output)", "file" },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec cmd_restore_spec = {
    .name = "restore",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_JSON,
    .options = restore_options,
    .on_option = restore_option,
    .synopsis = "[options] SNAPSHOT -o DB",
    .about = "Create the db file DB (which must not exist) from SNAPSHOT: a plain bolt\n"
             "image, one with etcd's SHA-256 trailer (verified, then dropped), or either\n"
             "gzip'ed, as 'strata snapshot' and etcd write them. SNAPSHOT '-' reads\n"
             "standard input; DB '-' writes the restored file to standard output (the\n"
             "summary then goes to stderr). DB is written beside itself, synced, checked\n"
             "to open as a bolt file, then linked to DB and the directory synced; what\n"
             "was restored is verified as 'strata check' does.\n\n"
             "Prints 'restored SNAPSHOT into DB: N bytes (FORM)'.",
    .json = "snapshot: SNAPSHOT   db: DB   bytes: N\n"
            "form: TEXT   (e.g. \"sha256 trailer verified\", \"gzip, no sha256 trailer to "
            "verify\")\n"
            "problems: N   found in the restored db (0: good)",
    .exits = "0 restored and verified; 1 the SHA-256 trailer does not match (a damaged\n"
             "snapshot; DB is not created), or the restored db is damaged (DB written);\n"
             "2 usage, or DB exists; 3 SNAPSHOT cannot be read or is not a bolt snapshot",
    .example = "$ strata restore backup.db -o /var/lib/etcd/member/snap/db\n"
               "$ ssh backup 'cat db.gz' | strata restore - -o restored.db",
};

/* What the input looked like, read without moving its offset (regular files only). */
typedef struct snap_form {
    bool known; /* a regular file: the fields below are filled */
    bool gzip;
    uint64_t size;  /* plain: bytes of the file */
    uint32_t isize; /* gzip: its ISIZE field, the uncompressed size mod 2^32 */
} snap_form;

static void form_probe(int fd, snap_form *f)
{
    memset(f, 0, sizeof *f);
    struct stat st;
    unsigned char b[4];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 4 || pread(fd, b, 2, 0) != 2)
        return;
    f->gzip = b[0] == 0x1f && b[1] == 0x8b;
    f->size = (uint64_t)st.st_size;
    if (f->gzip) {
        if (pread(fd, b, 4, st.st_size - 4) != 4)
            return;
        f->isize =
                (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    }
    f->known = true;
}

/*
 * Whether a trailer was there (and so verified, as the restore succeeded):
 * the restored image is the uncompressed stream less the 32-byte trailer,
 * if any, and nothing else (snapshot.c rule 2).
 */
static const char *form_text(const snap_form *f, uint64_t db_size)
{
    if (!f->known)
        return "a sha256 trailer, if any, verified";
    bool trailer = f->gzip ? (uint32_t)(f->isize - (uint32_t)db_size) == TRAILER_SIZE
                           : f->size - db_size == TRAILER_SIZE;
    if (f->gzip)
        return trailer ? "gzip, sha256 trailer verified" : "gzip, no sha256 trailer to verify";
    return trailer ? "sha256 trailer verified" : "plain, no sha256 trailer to verify";
}

int cmd_restore(int argc, char **argv)
{
    const char *db_arg = NULL;
    cli_opts o;
    int code = cli_parse_ctx(&cmd_restore_spec, argc, argv, &o, &db_arg);
    if (code >= 0)
        return code;
    if (db_arg == NULL) {
        fprintf(stderr, "strata restore: -o DB is required\n");
        cli_usage(&cmd_restore_spec, stderr);
        return CLI_USAGE;
    }
    const char *snap = argv[optind];
    struct stat st;
    if (!cli_is_stdio(db_arg) && stat(db_arg, &st) == 0) {
        fprintf(stderr, "strata restore: %s exists; restore creates a new file only\n", db_arg);
        return CLI_USAGE;
    }
    bool from_stdin = cli_is_stdio(snap);
    if (from_stdin && isatty(STDIN_FILENO)) {
        fprintf(stderr, "strata restore: '-' reads standard input, which is a terminal; "
                        "pipe a snapshot into it\n");
        return CLI_USAGE;
    }
    cli_output out;
    if ((code = cli_output_begin("restore", &o, db_arg, &out)) != CLI_OK)
        return code;
    const char *db = out.path;
    int fd = from_stdin ? STDIN_FILENO : open(snap, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        code = cli_report("restore", snap, -errno);
        cli_output_end("restore", &out, false);
        return code;
    }
    snap_form form = { 0 };
    if (!from_stdin)
        form_probe(fd, &form);
    cli_ticker *t = cli_ticker_start(&o, NULL, NULL);
    int rc = backend_snapshot_restore_progress(fd, db, t != NULL ? cli_ticker_bytes : NULL, t);
    if (!from_stdin)
        close(fd);
    const char *name = from_stdin ? "standard input" : snap;
    const char *shown = cli_output_shown(&out);
    if (rc != 0)
        cli_ticker_stop(t);
    if (rc == BACKEND_ESNAPSHOTCHECKSUM) {
        cli_report("restore", name, rc);
        fprintf(stderr,
                "strata restore: %s is damaged (its SHA-256 trailer does not match "
                "the image); %s was not created\n",
                name, shown);
        cli_output_end("restore", &out, false);
        return CLI_FINDING;
    }
    if (rc == -EEXIST) {
        code = cli_report("restore", db, rc); /* created meanwhile by someone else */
        cli_output_end("restore", &out, false);
        return code;
    }
    if (rc != 0) {
        code = cli_report("restore", name, rc);
        if (rc < 0 && rc > -4096)
            fprintf(stderr, "strata restore: (reading %s or writing %s)\n", name, shown);
        cli_output_end("restore", &out, false);
        return code;
    }
    if (stat(db, &st) != 0) {
        cli_ticker_stop(t);
        code = cli_report("restore", db, -errno);
        cli_output_end("restore", &out, false);
        return code;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* Exit 0 means "DB is a good db": verify the structure of what was restored. */
    uint64_t problems = 0;
    int vrc = cli_verify_db("restore", db, &problems, t);
    cli_ticker_stop(t);
    code = cli_output_end("restore", &out, true);
    if (code != CLI_OK)
        return code;
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "snapshot", json_string(from_stdin ? "-" : snap));
        cli_json_set(doc, "db", json_string(db_arg));
        cli_json_set(doc, "bytes", cli_json_u64(size));
        cli_json_set(doc, "form", json_string(form_text(&form, size)));
        cli_json_set(doc, "problems", cli_json_u64(problems));
        code = cli_json_print("restore", stdout, doc);
    } else {
        fprintf(cli_output_summary(&out), "restored %s into %s: %" PRIu64 " bytes (%s)\n", name,
                shown, size, form_text(&form, size));
    }
    if (vrc != 0 || problems != 0) {
        fprintf(stderr,
                "strata restore: %s was written, but the snapshot held a damaged db (%" PRIu64
                " problem%s): 'strata salvage' recovers what is readable\n",
                shown, problems, problems == 1 ? "" : "s");
        return CLI_FINDING;
    }
    return code;
}
