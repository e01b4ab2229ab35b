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
#include "cli_raw.h"

#define TRAILER_SIZE 32

static void restore_usage(FILE *out)
{
    fprintf(out, "usage: strata restore SNAPSHOT -o DB\n\n"
                 "Create the db file DB (which must not exist) from SNAPSHOT: a plain bolt\n"
                 "image, one with etcd's SHA-256 trailer (verified, then dropped), or either\n"
                 "gzip'ed, as 'strata snapshot' and etcd write them. SNAPSHOT '-' reads\n"
                 "standard input. DB is written beside itself, synced, checked to open as a\n"
                 "bolt file, then linked to DB and the directory synced.\n\n"
                 "Prints 'restored SNAPSHOT into DB: N bytes (FORM)'.\n\n"
                 "  -o, --output DB   the new db file\n\n"
                 "Exit codes: 0 restored and DB verified as 'strata check' does; 1 the\n"
                 "SHA-256 trailer does not match (a damaged snapshot; DB is not created),\n"
                 "or DB was written but is a damaged db (the problems are listed); 2 usage,\n"
                 "or DB exists; 3 SNAPSHOT cannot be read or is not a bolt snapshot.\n");
}

static int restore_option(int c, const char *arg, void *ctx)
{
    (void)c; /* -o is the only extra option */
    *(const char **)ctx = arg;
    return 0;
}

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
    static const struct option extra[] = {
        { "output", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    const char *db = NULL;
    const cli_command_spec spec = { .name = "restore",
                                    .usage = restore_usage,
                                    .min_args = 1,
                                    .max_args = 1,
                                    .no_common = true,
                                    .shorts = "o:",
                                    .extra = extra,
                                    .on_option = restore_option,
                                    .ctx = &db };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    if (db == NULL) {
        fprintf(stderr, "strata restore: -o DB is required\n");
        restore_usage(stderr);
        return CLI_USAGE;
    }
    const char *snap = argv[optind];
    struct stat st;
    if (stat(db, &st) == 0) {
        fprintf(stderr, "strata restore: %s exists; restore creates a new file only\n", db);
        return CLI_USAGE;
    }
    bool from_stdin = strcmp(snap, "-") == 0;
    int fd = from_stdin ? STDIN_FILENO : open(snap, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_report("restore", snap, -errno);
    snap_form form = { 0 };
    if (!from_stdin)
        form_probe(fd, &form);
    int rc = backend_snapshot_restore(fd, db);
    if (!from_stdin)
        close(fd);
    const char *name = from_stdin ? "standard input" : snap;
    if (rc == BACKEND_ESNAPSHOTCHECKSUM) {
        cli_report("restore", name, rc);
        fprintf(stderr,
                "strata restore: %s is damaged (its SHA-256 trailer does not match "
                "the image); %s was not created\n",
                name, db);
        return CLI_FINDING;
    }
    if (rc == -EEXIST)
        return cli_report("restore", db, rc); /* created meanwhile by someone else */
    if (rc != 0) {
        code = cli_report("restore", name, rc);
        if (rc < 0 && rc > -4096)
            fprintf(stderr, "strata restore: (reading %s or writing %s)\n", name, db);
        return code;
    }
    if (stat(db, &st) != 0)
        return cli_report("restore", db, -errno);
    printf("restored %s into %s: %" PRIu64 " bytes (%s)\n", name, db, (uint64_t)st.st_size,
           form_text(&form, (uint64_t)st.st_size));
    /* Exit 0 means "DB is a good db": verify the structure of what was restored. */
    uint64_t problems = 0;
    rc = cli_verify_db("restore", db, &problems);
    if (rc != 0 || problems != 0) {
        fprintf(stderr,
                "strata restore: %s was written, but the snapshot held a damaged db (%" PRIu64
                " problem%s): 'strata salvage' recovers what is readable\n",
                db, problems, problems == 1 ? "" : "s");
        return CLI_FINDING;
    }
    return CLI_OK;
}
