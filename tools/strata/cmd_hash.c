/*
 * cmd_hash.c: `strata hash FILE`: etcd's backend Hash of a db file
 * (backend_hash): CRC-32C over every top-level bucket's name, keys and
 * values, leaving out etcd's default ignores (meta/consistent_index) and
 * any --ignore'd pairs. The number is the one etcd prints for the same
 * file, so two members' files can be compared offline.
 *
 * The file is opened read-only through the backend (a shared lock; nothing
 * on disk changes, a missing or empty file is refused, not created).
 *
 * Output, one line:
 *   FILE: hash N (ignoring meta/consistent_index)
 * or only N with --quiet.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

enum { OPT_IGNORE = 2000, OPT_NO_DEFAULTS };

static const cli_option hash_options[] = {
    { "ignore", OPT_IGNORE, "BUCKET[/KEY]",
      "also leave out this pair (repeatable); BUCKET alone leaves out\n"
      "every key of the bucket (its name still counts). Split at the\n"
      "first '/'; each part in the key format (0x-hex by default for\n"
      "bytes that are not text)",
      NULL },
    { "no-default-ignores", OPT_NO_DEFAULTS, NULL, "do not leave out meta/consistent_index", NULL },
    { "quiet", 'q', NULL, "print only the number", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static int hash_option(int c, const char *arg, void *ctx);

const cli_command_spec cmd_hash_spec = {
    .name = "hash",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_KEYS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = hash_options,
    .on_option = hash_option,
    .synopsis = "[options] FILE",
    .about = "Print etcd's backend hash of FILE: CRC-32C (Castagnoli) over each top-level\n"
             "bucket in name order, its name, then its keys and values in key order;\n"
             "the same number etcd's backend Hash gives for the file. By default the\n"
             "pair meta/consistent_index is left out, as etcd does. FILE is opened\n"
             "read-only under a shared lock (none with --live: the hash is taken again\n"
             "when a commit lands during it) and never changed.\n\n"
             "Prints one line: 'FILE: hash N (ignoring meta/consistent_index)'.",
    .json = "file: PATH   hash: N\n"
            "default_ignores: BOOL   meta/consistent_index left out\n"
            "ignored: [{bucket: NAME, key: KEY|null}...]   the --ignore pairs (key\n"
            "  null: every key of the bucket)",
    .exits = "0 hashed; 1 the file is not in etcd's shape (a nested bucket, or a plain\n"
             "key at the top level: the hash is not defined for it); 2 usage; 3 cannot\n"
             "open or read (missing, not bolt, locked by a writer, corrupt)",
    .example = "$ strata hash /var/lib/etcd/member/snap/db\n"
               "$ strata hash --live --ignore key /var/lib/etcd/member/snap/db",
};

typedef struct hash_args {
    const char **ignores; /* --ignore texts, decoded after parsing (the key format may follow) */
    size_t n;
    bool no_defaults;
    bool quiet;
} hash_args;

static int hash_option(int c, const char *arg, void *ctx)
{
    hash_args *a = ctx;
    switch (c) {
    case OPT_IGNORE:
        a->ignores[a->n++] = arg;
        return 0;
    case OPT_NO_DEFAULTS:
        a->no_defaults = true;
        return 0;
    default: /* 'q' */
        a->quiet = true;
        return 0;
    }
}

/* One --ignore: a (bucket, key) pair, or a whole bucket (key NULL). */
typedef struct ignore_arg {
    const char *text;
    unsigned char *bucket, *key;
    size_t blen, klen;
} ignore_arg;

/* Split and decode one --ignore; CLI_OK or CLI_USAGE (message printed). */
static int ignore_decode(const cli_opts *o, const char *text, ignore_arg *out)
{
    out->text = text;
    const char *slash = strchr(text, '/');
    size_t blen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    if (blen == 0 || (slash != NULL && slash[1] == '\0')) {
        fprintf(stderr, "strata hash: --ignore '%s' is not BUCKET or BUCKET/KEY (non-empty)\n",
                text);
        return CLI_USAGE;
    }
    char *bucket = strndup(text, blen);
    if (bucket == NULL) {
        fprintf(stderr, "strata hash: out of memory\n");
        return CLI_INTERNAL;
    }
    int r = cli_arg_bytes("hash", bucket, o->key_fmt, &out->bucket, &out->blen);
    free(bucket);
    if (r != 0)
        return CLI_USAGE;
    if (slash != NULL && cli_arg_bytes("hash", slash + 1, o->key_fmt, &out->key, &out->klen) != 0) {
        free(out->bucket);
        out->bucket = NULL;
        return CLI_USAGE;
    }
    if (out->blen == 0 || (slash != NULL && out->klen == 0)) {
        fprintf(stderr, "strata hash: --ignore '%s': empty bucket name or key\n", text);
        free(out->bucket);
        free(out->key);
        out->bucket = out->key = NULL;
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The ignore list handed to backend_hash, grown as whole buckets are expanded. */
typedef struct ignore_list {
    backend_hash_ignore *v;
    size_t n, cap;
    bolt_val bucket; /* while expanding a whole bucket */
} ignore_list;

static int ignore_add(ignore_list *l, bolt_val bucket, bolt_val key)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        backend_hash_ignore *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (backend_hash_ignore){ bucket, key };
    return 0;
}

/* backend_kv_fn: every key of a bucket --ignore'd whole (valid while the read tx lives). */
static int ignore_each(void *arg, bolt_val key, bolt_val value)
{
    (void)value;
    ignore_list *l = arg;
    return ignore_add(l, l->bucket, key);
}

static void print_ignores(FILE *out, const ignore_arg *args, size_t n, bool defaults,
                          cli_format fmt)
{
    fprintf(out, " (ignoring ");
    if (!defaults && n == 0)
        fprintf(out, "nothing");
    if (defaults)
        fprintf(out, "meta/consistent_index");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s", i > 0 || defaults ? ", " : "");
        if (args[i].key == NULL)
            fprintf(out, "every key of ");
        cli_print_bytes(out, args[i].bucket, args[i].blen, fmt);
        if (args[i].key != NULL) {
            fputc('/', out);
            cli_print_bytes(out, args[i].key, args[i].klen, fmt);
        }
    }
    fprintf(out, ")\n");
}

/* Ignores in JSON: the --ignore pairs as given (decoded, in the key format). */
static json_t *ignores_json(const ignore_arg *args, size_t n, cli_format fmt)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        cli_json_set(e, "bucket", cli_json_bytes(args[i].bucket, args[i].blen, fmt));
        cli_json_set(e, "key",
                     args[i].key != NULL ? cli_json_bytes(args[i].key, args[i].klen, fmt)
                                         : json_null());
        cli_json_append(arr, e);
    }
    return arr;
}

/*
 * One hash of the file: open it through the backend (read-only; no lock
 * under --live), expand the whole-bucket ignores, hash, close. *code gets
 * the exit code (messages printed); 0 and *h on success.
 */
static int hash_once(const cli_opts *o, const char *path, const hash_args *a,
                     const ignore_arg *args, cli_ticker *t, uint32_t *h)
{
    backend *be = NULL;
    backend_read_tx *rtx = NULL;
    ignore_list list = { 0 };
    backend_options bo;
    backend_options_init(&bo);
    bo.read_only = true;
    if (t != NULL) {
        bo.progress = cli_ticker_backend; /* pages checked, then keys hashed */
        bo.progress_arg = t;
    }
    int code = cli_backend_open("hash", o, path, &bo, &be);
    if (code != CLI_OK)
        return code;
    int rc = 0;
    if (!a->no_defaults)
        rc = ignore_add(&list, bolt_str("meta"), bolt_str("consistent_index"));
    /* Whole buckets: their keys as one read transaction sees them; it is
     * read-only, so the hash below sees the same state. */
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        bolt_val bucket = { args[i].bucket, args[i].blen };
        if (args[i].key != NULL) {
            rc = ignore_add(&list, bucket, (bolt_val){ args[i].key, args[i].klen });
            continue;
        }
        if (rtx == NULL && (rc = backend_read_tx_begin(be, &rtx)) != 0)
            break;
        list.bucket = bucket;
        rc = backend_read_tx_for_each(rtx, bucket, ignore_each, &list);
        if (rc == BACKEND_EBUCKETNOTFOUND)
            rc = 0; /* no such bucket: nothing to leave out */
    }
    if (rc == 0) {
        /* A non-NULL list with n = 0 means "ignore nothing" (--no-default-ignores). */
        static const backend_hash_ignore none[1];
        rc = backend_hash(be, list.n > 0 ? list.v : none, list.n, h);
    }
    if (rc == BACKEND_ENESTED || rc == BACKEND_ENOTBUCKET) {
        fprintf(stderr,
                "strata hash: %s: %s: etcd's hash is defined for top-level buckets of "
                "plain keys only (%s)\n",
                cli_path_shown(path),
                rc == BACKEND_ENESTED ? "the file has a nested bucket"
                                      : "the file has a plain key at the top level",
                cli_status_name(rc));
        code = CLI_FINDING;
    } else if (rc == BOLT_ECORRUPT) {
        char why[256];
        backend_last_corruption(be, why, sizeof why);
        fprintf(stderr, "strata hash: %s: %s (%s)%s%s; 'strata check' lists every problem\n",
                cli_path_shown(path), cli_strerror(rc), cli_status_name(rc),
                why[0] != '\0' ? ": " : "", why);
        code = cli_exit_for(rc);
    } else if (rc != 0) {
        code = cli_report("hash", path, rc);
    }
    backend_read_tx_end(rtx);
    int crc = backend_close(be);
    if (crc != 0 && code == CLI_OK)
        code = cli_report("hash", path, crc);
    free(list.v);
    return code;
}

int cmd_hash(int argc, char **argv)
{
    hash_args a = { 0 };
    a.ignores = calloc((size_t)argc + 1, sizeof *a.ignores); /* at most one per argument */
    if (a.ignores == NULL) {
        fprintf(stderr, "strata hash: out of memory\n");
        return CLI_INTERNAL;
    }
    cli_opts o;
    int code = cli_parse_ctx(&cmd_hash_spec, argc, argv, &o, &a);
    if (code >= 0) {
        free(a.ignores);
        return code;
    }
    ignore_arg *args = calloc(a.n + 1, sizeof *args);
    cli_input in = { NULL, NULL };
    if (args == NULL) {
        fprintf(stderr, "strata hash: out of memory\n");
        code = CLI_INTERNAL;
        goto out;
    }
    code = CLI_OK;
    for (size_t i = 0; i < a.n && code == CLI_OK; i++)
        code = ignore_decode(&o, a.ignores[i], &args[i]);
    if (code != CLI_OK) {
        if (code == CLI_USAGE)
            cli_usage(&cmd_hash_spec, stderr);
        goto out;
    }
    if ((code = cli_input_begin("hash", argv[optind], &in)) != CLI_OK)
        goto out;
    const char *path = in.path;
    uint32_t h = 0;
    cli_ticker *t = cli_ticker_start(&o, NULL, NULL);
    if (!o.live) {
        code = hash_once(&o, path, &a, args, t, &h);
    } else {
        /* No lock: the hash counts only when no commit landed from before the
         * open to after the close (the live rule, as cli_view's). */
        int attempt;
        for (attempt = 0; attempt < CLI_LIVE_ATTEMPTS; attempt++) {
            uint64_t before, after;
            int rc = cli_live_txid(path, &before);
            if (rc == 0) {
                code = hash_once(&o, path, &a, args, t, &h);
                rc = cli_live_txid(path, &after);
            }
            if (rc != 0) {
                code = cli_report("hash", path, rc);
                break;
            }
            if (before == after)
                break;
        }
        if (attempt == CLI_LIVE_ATTEMPTS) {
            fprintf(stderr,
                    "strata hash: %s changed under each of %d attempts (a busy writer); "
                    "try again\n",
                    cli_path_shown(path), CLI_LIVE_ATTEMPTS);
            code = CLI_NOOPEN;
        }
    }
    cli_ticker_stop(t);
    if (code != CLI_OK)
        goto out;
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "file", json_string(cli_path_shown(path)));
        cli_json_set(doc, "hash", cli_json_u64(h));
        cli_json_set(doc, "default_ignores", json_boolean(!a.no_defaults));
        cli_json_set(doc, "ignored", ignores_json(args, a.n, o.key_fmt));
        code = cli_json_print("hash", stdout, doc);
    } else if (a.quiet) {
        printf("%" PRIu32 "\n", h);
    } else {
        printf("%s: hash %" PRIu32, cli_path_shown(path), h);
        print_ignores(stdout, args, a.n, !a.no_defaults, o.key_fmt);
    }
out:
    cli_input_end(&in);
    for (size_t i = 0; args != NULL && i < a.n; i++) {
        free(args[i].bucket);
        free(args[i].key);
    }
    free(args);
    free(a.ignores);
    return code;
}
