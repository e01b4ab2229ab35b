/*
 * cmd_snapshot.c: `strata snapshot FILE -o OUT`: write a consistent copy of
 * a db file (backend_snapshot: bbolt's WriteTo, as etcd's Snapshot and
 * `etcdctl snapshot save` do), optionally with etcd's SHA-256 trailer and
 * gzip'ed, to a new file.
 *
 * FILE is opened read-only through the backend (a shared lock; nothing on
 * disk changes). What is copied is verified (bolt_tx_check): a damaged db
 * still gives OUT, but the exit is 1 and the message says OUT is damaged. OUT appears whole or not
 * at all: the stream goes to a temporary file beside OUT, which is synced and renamed to OUT
 * without replacing anything (RENAME_NOREPLACE), and the directory is synced.
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

static void snapshot_usage(FILE *out)
{
    fprintf(out, "usage: strata snapshot [options] FILE -o OUT\n\n"
                 "Write a consistent copy of the db FILE to the new file OUT (which must not\n"
                 "exist): etcd's backend snapshot, the bolt image with fresh meta pages.\n"
                 "FILE is opened read-only under a shared lock and never changed. OUT is\n"
                 "written beside itself under a temporary name, synced, then renamed.\n"
                 "Restore it with 'strata restore' (or 'etcdctl snapshot restore' when it\n"
                 "has the trailer).\n\n"
                 "Prints 'FILE: N-byte image -> OUT: W bytes (FORM)'. The copied state is\n"
                 "verified as 'strata check' does: exit 1 (OUT still written) when it is\n"
                 "damaged.\n\n"
                 "  -o, --output OUT      the new file\n"
                 "  --trailer             append etcd's 32-byte SHA-256 of the image (what\n"
                 "                        'etcdctl snapshot restore' verifies)\n"
                 "  --gzip                compress the whole stream (gzip)\n"
                 "  --timeout DURATION    wait this long for FILE's lock (1s)\n");
}

typedef struct snapshot_args {
    const char *out;
    unsigned flags;
} snapshot_args;

enum { OPT_TRAILER = 2000, OPT_GZIP };

static int snapshot_option(int c, const char *arg, void *ctx)
{
    snapshot_args *a = ctx;
    switch (c) {
    case 'o':
        a->out = arg;
        return 0;
    case OPT_TRAILER:
        a->flags |= BACKEND_SNAPSHOT_TRAILER;
        return 0;
    default: /* OPT_GZIP */
        a->flags |= BACKEND_SNAPSHOT_GZIP;
        return 0;
    }
}

static int snapshot_progress(void *arg, uint64_t done, uint64_t total)
{
    (void)arg;
    fprintf(stderr, "\rsnapshot: %" PRIu64 " of %" PRIu64 " bytes (%d%%)\033[K", done, total,
            total ? (int)(100 * done / total) : 100);
    return 0;
}

static const char *form_name(unsigned flags)
{
    switch (flags) {
    case BACKEND_SNAPSHOT_TRAILER:
        return "sha256 trailer";
    case BACKEND_SNAPSHOT_GZIP:
        return "gzip";
    case BACKEND_SNAPSHOT_TRAILER | BACKEND_SNAPSHOT_GZIP:
        return "sha256 trailer, gzip";
    default:
        return "plain";
    }
}

int cmd_snapshot(int argc, char **argv)
{
    static const struct option extra[] = {
        { "output", required_argument, NULL, 'o' },
        { "trailer", no_argument, NULL, OPT_TRAILER },
        { "gzip", no_argument, NULL, OPT_GZIP },
        { NULL, 0, NULL, 0 },
    };
    snapshot_args a = { NULL, 0 };
    const cli_command_spec spec = { .name = "snapshot",
                                    .usage = snapshot_usage,
                                    .min_args = 1,
                                    .max_args = 1,
                                    .shorts = "o:",
                                    .extra = extra,
                                    .on_option = snapshot_option,
                                    .ctx = &a };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    if (a.out == NULL) {
        fprintf(stderr, "strata snapshot: -o OUT is required\n");
        snapshot_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    struct stat st;
    if (stat(a.out, &st) == 0) {
        fprintf(stderr, "strata snapshot: %s exists; snapshot writes a new file only\n", a.out);
        return CLI_USAGE;
    }
    backend_options bo;
    backend_options_init(&bo);
    bo.read_only = true;
    backend *be;
    code = cli_backend_open("snapshot", &o, path, &bo, &be);
    if (code != CLI_OK)
        return code;

    size_t tlen = strlen(a.out) + sizeof ".snapshot-XXXXXX";
    char *tmp = malloc(tlen);
    if (tmp == NULL) {
        backend_close(be);
        return cli_report("snapshot", a.out, -ENOMEM);
    }
    snprintf(tmp, tlen, "%s.snapshot-XXXXXX", a.out);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        code = cli_report("snapshot", tmp, -errno);
        backend_close(be);
        free(tmp);
        return code;
    }
    bool tty = isatty(STDERR_FILENO);
    uint64_t written = 0, image = backend_size(be);
    int rc = backend_snapshot(be, fd, a.flags, tty ? snapshot_progress : NULL, NULL, &written);
    if (tty)
        fprintf(stderr, "\r\033[K");
    /* A failure of the stream itself may be reading FILE or writing the copy:
     * name both; after it, only the copy is at stake. */
    size_t blen = strlen(path) + strlen(tmp) + sizeof " -> ";
    char *both = malloc(blen);
    if (both != NULL)
        snprintf(both, blen, "%s -> %s", path, tmp);
    const char *where = both != NULL ? both : path;
    /*
     * Exit 0 means "OUT is a good db": the state just copied is verified
     * (bolt_tx_check) while the backend's shared lock still holds it
     * unchanged, so the copy's pages are the ones checked.
     */
    uint64_t problems = 0;
    int vrc = 0;
    if (rc == 0)
        vrc = cli_verify_db("snapshot", path, &problems);
    if (rc == 0) {
        where = tmp;
        rc = fsync(fd) == 0 ? 0 : -errno;
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    int crc = backend_close(be);
    if (rc == 0 && crc != 0) {
        rc = crc;
        where = path;
    }
    if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, a.out, RENAME_NOREPLACE) != 0) {
        rc = -errno;
        where = a.out;
    }
    if (rc != 0) {
        code = cli_report("snapshot", where, rc);
        unlink(tmp);
        free(both);
        free(tmp);
        return code;
    }
    free(both);
    free(tmp);
    if ((rc = strata_sync_dir_of(a.out)) != 0)
        return cli_report("snapshot", a.out, rc);
    printf("%s: %" PRIu64 "-byte image -> %s: %" PRIu64 " bytes (%s)\n", path, image, a.out,
           written, form_name(a.flags));
    if (vrc != 0 || problems != 0) {
        fprintf(stderr,
                "strata snapshot: %s was written, but it copies a damaged db (%" PRIu64
                " problem%s): it is not a good snapshot; 'strata salvage' recovers what "
                "is readable\n",
                a.out, problems, problems == 1 ? "" : "s");
        return CLI_FINDING;
    }
    return CLI_OK;
}
