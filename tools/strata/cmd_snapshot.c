/*
 * cmd_snapshot.c: `strata snapshot FILE -o OUT`: write a consistent copy of
 * a db file (backend_snapshot: bbolt's WriteTo, as etcd's Snapshot and
 * `etcdctl snapshot save` do), optionally with etcd's SHA-256 trailer and
 * gzip'ed, to a new file or (OUT "-") to standard output.
 *
 * FILE is opened read-only through the backend (a shared lock; with --live
 * no lock, and the copy is made again when a commit lands during it;
 * nothing on disk changes). What is copied is verified (bolt_tx_check): a
 * damaged db still gives OUT, but the exit is 1 and the message says OUT is
 * damaged. OUT appears whole or not at all: the stream goes to a temporary
 * file beside OUT, which is synced and renamed to OUT without replacing
 * anything (RENAME_NOREPLACE), and the directory is synced; "-" gets the
 * finished copy (cli_output).
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

enum { OPT_TRAILER = 2000, OPT_GZIP };

static const cli_option snapshot_options[] = {
    { "output", 'o', "OUT", "the new file ('-': standard output)", "file" },
    { "trailer", OPT_TRAILER, NULL,
      "append etcd's 32-byte SHA-256 of the image (what 'etcdctl\n"
      "snapshot restore' verifies)",
      NULL },
    { "gzip", OPT_GZIP, NULL, "compress the whole stream (gzip)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static int snapshot_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_snapshot_spec = {
    .name = "snapshot",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = snapshot_options,
    .on_option = snapshot_option,
    .synopsis = "[options] FILE -o OUT",
    .about = "Write a consistent copy of the db FILE to the new file OUT (which must not\n"
             "exist; '-' writes standard output): etcd's backend snapshot, the bolt image\n"
             "with fresh meta pages. FILE is opened read-only under a shared lock (none\n"
             "with --live: the copy is made again when a commit lands during it) and\n"
             "never changed. OUT is written beside itself under a temporary name,\n"
             "synced, then renamed. Restore it with 'strata restore' (or 'etcdctl\n"
             "snapshot restore' when it has the trailer).\n\n"
             "Prints 'FILE: N-byte image -> OUT: W bytes (FORM)' (on stderr when OUT is\n"
             "'-'). The copied state is verified as 'strata check' does: exit 1 (OUT\n"
             "still written) when it is damaged.",
    .json = "source: FILE   image_bytes: N   output: OUT   written: N\n"
            "form: \"plain\"|\"sha256 trailer\"|\"gzip\"|\"sha256 trailer, gzip\"\n"
            "problems: N   found in the copied state (0: a good snapshot)",
    .exits = "0 written and verified; 1 written, but the db it copies is damaged; 2\n"
             "usage, or OUT exists; 3 FILE cannot be read or OUT cannot be written",
    .example = "$ strata snapshot --trailer /var/lib/etcd/member/snap/db -o backup.db\n"
               "$ strata snapshot --live --gzip db -o - | ssh backup 'cat > db.gz'",
};

typedef struct snapshot_args {
    const char *out;
    unsigned flags;
} snapshot_args;

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

/* backend_snapshot's progress on a terminal: image bytes copied of the image's size. */
static int snapshot_progress(void *arg, uint64_t done, uint64_t total)
{
    cli_ticker_set(arg, "bytes copied", done, total);
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

/*
 * One copy of FILE into fd (emptied first): open the backend, stream, verify
 * the copied state, close. Returns a status; *changed when --live found a
 * commit during the copy.
 */
static int snapshot_once(const cli_opts *o, const char *path, const snapshot_args *a, int fd,
                         uint64_t *image, uint64_t *written, uint64_t *problems, int *vrc,
                         bool *changed, bool *opened)
{
    *changed = false;
    *opened = false;
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return -errno;
    uint64_t before = 0, after = 0;
    if (o->live) {
        int rc = cli_live_txid(path, &before);
        if (rc != 0)
            return rc;
    }
    backend_options bo;
    backend_options_init(&bo);
    bo.read_only = true;
    backend *be;
    int code = cli_backend_open("snapshot", o, path, &bo, &be);
    if (code != CLI_OK)
        return 1; /* printed */
    *opened = true;
    /* Progress only on a terminal (NULL otherwise): bytes copied, then pages checked. */
    cli_ticker *t = cli_ticker_start(o, NULL, NULL);
    *image = backend_size(be);
    int rc = backend_snapshot(be, fd, a->flags, t != NULL ? snapshot_progress : NULL, t, written);
    /*
     * Exit 0 means "OUT is a good db": the state just copied is verified
     * (bolt_tx_check) while the backend's shared lock still holds it
     * unchanged, so the copy's pages are the ones checked; under --live the
     * check must see the same txid, untouched.
     */
    *problems = 0;
    *vrc = 0;
    if (rc == 0 && !o->live)
        *vrc = cli_verify_db("snapshot", path, problems, t);
    int crc = backend_close(be);
    if (rc == 0)
        rc = crc;
    if (rc == 0 && o->live) {
        int lrc = cli_live_txid(path, &after);
        if (lrc != 0) {
            cli_ticker_stop(t);
            return lrc;
        }
        if (after != before) {
            cli_ticker_stop(t);
            *changed = true;
            return 0;
        }
        /* The state copied, checked through a live open while nothing commits over it. */
        *vrc = cli_verify_db_live("snapshot", path, before, problems, t);
        if (*vrc == BOLT_ELIVECHANGED) {
            *changed = true;
            *vrc = 0;
        }
    }
    cli_ticker_stop(t);
    return rc;
}

int cmd_snapshot(int argc, char **argv)
{
    snapshot_args a = { NULL, 0 };
    cli_opts o;
    int code = cli_parse_ctx(&cmd_snapshot_spec, argc, argv, &o, &a);
    if (code >= 0)
        return code;
    if (a.out == NULL) {
        fprintf(stderr, "strata snapshot: -o OUT is required\n");
        cli_usage(&cmd_snapshot_spec, stderr);
        return CLI_USAGE;
    }
    struct stat st;
    if (!cli_is_stdio(a.out) && stat(a.out, &st) == 0) {
        fprintf(stderr, "strata snapshot: %s exists; snapshot writes a new file only\n", a.out);
        return CLI_USAGE;
    }
    cli_input in;
    if ((code = cli_input_begin("snapshot", argv[optind], &in)) != CLI_OK)
        return code;
    const char *path = in.path;
    cli_output out;
    if ((code = cli_output_begin("snapshot", &o, a.out, &out)) != CLI_OK) {
        cli_input_end(&in);
        return code;
    }
    const char *dst = out.path;
    size_t tlen = strlen(dst) + sizeof ".snapshot-XXXXXX";
    char *tmp = malloc(tlen);
    int fd = -1;
    if (tmp == NULL) {
        code = cli_report("snapshot", a.out, -ENOMEM);
        goto done;
    }
    snprintf(tmp, tlen, "%s.snapshot-XXXXXX", dst);
    fd = mkstemp(tmp);
    if (fd < 0) {
        code = cli_report("snapshot", tmp, -errno);
        goto done;
    }
    uint64_t written = 0, image = 0, problems = 0;
    int vrc = 0, rc = 0, attempt;
    bool changed = false, opened = false;
    for (attempt = 0; attempt < CLI_LIVE_ATTEMPTS; attempt++) {
        rc = snapshot_once(&o, path, &a, fd, &image, &written, &problems, &vrc, &changed, &opened);
        if (!changed)
            break;
    }
    if (rc == 1 && !opened) { /* the open failed; printed */
        code = CLI_NOOPEN;
        goto done;
    }
    if (changed) {
        fprintf(stderr,
                "strata snapshot: %s changed under each of %d attempts (a busy writer); "
                "try again\n",
                cli_path_shown(path), CLI_LIVE_ATTEMPTS);
        code = CLI_NOOPEN;
        goto done;
    }
    /* A failure of the stream itself may be reading FILE or writing the copy. */
    const char *where = path;
    if (rc == 0)
        rc = fsync(fd) == 0 ? 0 : -errno, where = tmp;
    if (close(fd) != 0 && rc == 0)
        rc = -errno, where = tmp;
    fd = -1;
    if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) != 0)
        rc = -errno, where = dst;
    if (rc != 0) {
        code = cli_report("snapshot", where, rc);
        if (rc < 0 && rc > -4096 && where == path)
            fprintf(stderr, "strata snapshot: (reading %s or writing %s)\n", cli_path_shown(path),
                    cli_output_shown(&out));
        goto done;
    }
    if (!out.to_stdout && (rc = strata_sync_dir_of(dst)) != 0) {
        code = cli_report("snapshot", dst, rc);
        goto done;
    }
    code = cli_output_end("snapshot", &out, true);
    if (code != CLI_OK)
        goto done;
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "source", json_string(cli_path_shown(path)));
        cli_json_set(doc, "image_bytes", cli_json_u64(image));
        cli_json_set(doc, "output", json_string(a.out));
        cli_json_set(doc, "written", cli_json_u64(written));
        cli_json_set(doc, "form", json_string(form_name(a.flags)));
        cli_json_set(doc, "problems", cli_json_u64(problems));
        code = cli_json_print("snapshot", stdout, doc);
    } else {
        fprintf(cli_output_summary(&out),
                "%s: %" PRIu64 "-byte image -> %s: %" PRIu64 " bytes (%s)\n", cli_path_shown(path),
                image, a.out, written, form_name(a.flags));
    }
    if (code == CLI_OK && (vrc != 0 || problems != 0)) {
        fprintf(stderr,
                "strata snapshot: %s was written, but it copies a damaged db (%" PRIu64
                " problem%s): it is not a good snapshot; 'strata salvage' recovers what "
                "is readable\n",
                a.out, problems, problems == 1 ? "" : "s");
        code = CLI_FINDING;
    }
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (tmp != NULL && code != CLI_OK && code != CLI_FINDING) {
        unlink(tmp);
    }
    free(tmp);
    cli_output_end("snapshot", &out, false); /* a no-op after a successful end */
    cli_input_end(&in);
    return code;
}
