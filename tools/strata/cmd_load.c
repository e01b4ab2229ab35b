/*
 * cmd_load.c: `strata load DB < DUMP`: create DB from a canonical dump
 * (`bolt-dump v1`, as `strata dump --max-hex 0` writes it).
 *
 * The file appears whole or not at all: the dump is loaded into a
 * temporary file beside DB, which is synced and then renamed to DB without
 * replacing anything (RENAME_NOREPLACE), and the directory is synced. An
 * existing DB is never touched. Lines are checked strictly; the first bad
 * one ends the load with its line number (exit 1), as does a hashed
 * (`sha256:`) field, which cannot be turned back into bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

/* Commit after this many keys, so huge dumps do not build one huge tx. */
#define LOAD_KEYS_PER_TX 100000

typedef struct loader {
    bolt_db *db;
    bolt_tx *tx;
    unsigned long line;
    uint64_t buckets, keys, keys_in_tx;
    char *path_text;      /* PATH of the bucket cached in `bucket` */
    bolt_bucket *bucket;  /* the bucket at path_text, valid in tx */
    unsigned char *bytes; /* decode buffer */
    size_t bytes_cap;
} loader;

static int load_fail(const loader *l, const char *why)
{
    fprintf(stderr, "strata load: line %lu: %s\n", l->line, why);
    return CLI_FINDING;
}

/* Decode a hex field or "-" (empty) into l->bytes at offset `at`; -1 if malformed. */
static int decode_field(loader *l, const char *text, size_t at, size_t *len)
{
    if (strcmp(text, "-") == 0) {
        *len = 0;
        return 0;
    }
    size_t n = strlen(text);
    if (n == 0 || n % 2 != 0)
        return -1;
    if (at + n / 2 + 1 > l->bytes_cap) {
        size_t cap = (at + n / 2 + 1) * 2;
        unsigned char *b = realloc(l->bytes, cap);
        if (b == NULL)
            return -1;
        l->bytes = b;
        l->bytes_cap = cap;
    }
    if (cli_hex_decode(text, n, l->bytes + at) != 0)
        return -1;
    *len = n / 2;
    return 0;
}

/*
 * Open the bucket named by PATH ("-" = the root bucket; otherwise hex names
 * joined by '/'). Only the last `skip_last` components are left out (1 to
 * get a new bucket's parent). Returns CLI_OK with *out or an exit code.
 */
static int open_path(loader *l, const char *path, int skip_last, bolt_bucket **out)
{
    bolt_bucket *b = bolt_tx_root(l->tx);
    if (strcmp(path, "-") == 0) {
        if (skip_last)
            return load_fail(l, "a bucket's PATH cannot be '-'");
        *out = b;
        return CLI_OK;
    }
    size_t plen = strlen(path);
    if (plen == 0 || path[0] == '/' || path[plen - 1] == '/' || strstr(path, "//") != NULL)
        return load_fail(l, "PATH is not '/'-joined non-empty hex names");
    char *copy = strdup(path);
    if (copy == NULL)
        return load_fail(l, "out of memory");
    size_t parts = 1;
    for (const char *p = path; *p; p++)
        parts += *p == '/';
    char *save = NULL;
    size_t i = 0;
    int code = CLI_OK;
    for (char *name = strtok_r(copy, "/", &save); name != NULL && i + skip_last < parts;
         name = strtok_r(NULL, "/", &save), i++) {
        size_t len;
        if (decode_field(l, name, 0, &len) != 0 || len == 0) {
            code = load_fail(l, "PATH is not '/'-joined non-empty hex names");
            break;
        }
        int rc = bolt_bucket_open(b, (bolt_val){ l->bytes, len }, &b);
        if (rc != 0) {
            code = load_fail(l, rc == BOLT_NOTFOUND ? "a parent bucket is missing (a bucket "
                                                      "line must come before its contents)"
                                                    : bolt_strerror(rc));
            break;
        }
    }
    free(copy);
    if (code == CLI_OK)
        *out = b;
    return code;
}

static int commit_and_restart(loader *l)
{
    int rc = bolt_tx_commit(l->tx);
    l->tx = NULL;
    free(l->path_text);
    l->path_text = NULL;
    l->bucket = NULL;
    if (rc == 0)
        rc = bolt_tx_begin(l->db, BOLT_TX_WRITE, &l->tx);
    l->keys_in_tx = 0;
    return rc == 0 ? CLI_OK : load_fail(l, bolt_strerror(rc));
}

static int load_bucket_line(loader *l, char *path, char *seq_field)
{
    char *end;
    if (strncmp(seq_field, "seq=", 4) != 0 || seq_field[4] == '\0' || seq_field[4] == '-')
        return load_fail(l, "expected seq=N");
    errno = 0;
    unsigned long long seq = strtoull(seq_field + 4, &end, 10);
    if (errno != 0 || *end != '\0')
        return load_fail(l, "seq=N is not an unsigned 64-bit number");
    bolt_bucket *parent;
    int code = open_path(l, path, 1, &parent);
    if (code != CLI_OK)
        return code;
    const char *last = strrchr(path, '/');
    size_t len;
    if (decode_field(l, last ? last + 1 : path, 0, &len) != 0 || len == 0)
        return load_fail(l, "bucket name is not non-empty hex");
    bolt_bucket *b;
    int rc = bolt_bucket_create(parent, (bolt_val){ l->bytes, len }, &b);
    if (rc == 0 && seq != 0)
        rc = bolt_bucket_set_sequence(b, seq);
    if (rc != 0)
        return load_fail(l, bolt_strerror(rc));
    l->buckets++;
    return CLI_OK;
}

static int load_key_line(loader *l, char *path, char *key, char *value)
{
    if (strncmp(key, "sha256:", 7) == 0 || strncmp(value, "sha256:", 7) == 0)
        return load_fail(l, "a hashed field (sha256:) cannot be loaded; dump with --max-hex 0");
    if (l->path_text == NULL || strcmp(l->path_text, path) != 0) {
        int code = open_path(l, path, 0, &l->bucket);
        if (code != CLI_OK)
            return code;
        free(l->path_text);
        l->path_text = strdup(path);
        if (l->path_text == NULL)
            return load_fail(l, "out of memory");
    }
    size_t klen, vlen;
    if (decode_field(l, key, 0, &klen) != 0)
        return load_fail(l, "KEY is not hex");
    if (decode_field(l, value, klen, &vlen) != 0)
        return load_fail(l, "VALUE is not hex or '-'");
    int rc = bolt_bucket_put(l->bucket, (bolt_val){ l->bytes, klen },
                             (bolt_val){ l->bytes + klen, vlen });
    if (rc != 0)
        return load_fail(l, bolt_strerror(rc));
    l->keys++;
    if (++l->keys_in_tx >= LOAD_KEYS_PER_TX)
        return commit_and_restart(l);
    return CLI_OK;
}

/* Read the dump from `in` into l->db; CLI_OK or an exit code. */
static int load_stream(loader *l, FILE *in)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ended = false;
    int code = CLI_OK;
    while (code == CLI_OK && (n = getline(&buf, &cap, in)) >= 0) {
        l->line++;
        if (n == 0 || buf[n - 1] != '\n') {
            code = load_fail(l, "line does not end in a newline (truncated dump?)");
            break;
        }
        buf[n - 1] = '\0';
        if (l->line == 1) {
            if (strcmp(buf, "bolt-dump v1") != 0)
                code = load_fail(l, "not a bolt-dump v1 (the first line must be 'bolt-dump v1')");
            continue;
        }
        if (ended) {
            code = load_fail(l, "text after the end line");
            break;
        }
        char *save = NULL, *f[5] = { 0 };
        int nf = 0;
        for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
            if (nf < 5)
                f[nf++] = t;
            else
                nf++;
        if (nf == 3 && strcmp(f[0], "bucket") == 0) {
            code = load_bucket_line(l, f[1], f[2]);
        } else if (nf == 4 && strcmp(f[0], "key") == 0) {
            code = load_key_line(l, f[1], f[2], f[3]);
        } else if (nf == 3 && strcmp(f[0], "end") == 0) {
            unsigned long long b, k;
            char extra;
            if (sscanf(f[1], "buckets=%llu%c", &b, &extra) != 1 ||
                sscanf(f[2], "keys=%llu%c", &k, &extra) != 1)
                code = load_fail(l, "expected end buckets=B keys=K");
            else if (b != l->buckets || k != l->keys)
                code = load_fail(l, "the end line's totals differ from the lines read");
            ended = true;
        } else {
            code = load_fail(l, "expected 'bucket PATH seq=N', 'key PATH KEY VALUE' or 'end ...'");
        }
    }
    free(buf);
    if (code == CLI_OK && ferror(in)) {
        fprintf(stderr, "strata load: reading standard input: %s\n", strerror(errno));
        code = CLI_NOOPEN;
    }
    if (code == CLI_OK && !ended)
        code = load_fail(l, l->line == 0 ? "empty input" : "no end line (truncated dump?)");
    return code;
}

static int load_option(int c, const char *arg, void *ctx)
{
    (void)c; /* --page-size is the only option of its own */
    return cli_parse_page_size("load", arg, ctx);
}

static const cli_option load_options[] = {
    { "page-size", 2000, "N",
      "page size of the new file (a power of two, 512..65536;\ndefault: the OS page size)",
      "512 1024 2048 4096 8192 16384 32768 65536" },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec cmd_load_spec = {
    .name = "load",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_JSON,
    .options = load_options,
    .on_option = load_option,
    .synopsis = "[options] DB < DUMP",
    .about = "Create DB (which must not exist) from a canonical dump on standard input.\n"
             "A dump with sha256: fields cannot be loaded: make it with\n"
             "'strata dump --max-hex 0'. DB '-' writes the new file to standard output\n"
             "(the summary to stderr).",
    .json = "db, buckets, keys",
    .exits = "0 loaded; 1 the dump cannot be loaded (its line is named); 2 usage, or\n"
             "DB exists; 3 DB cannot be written",
    .example = "$ strata dump --max-hex 0 old.db | strata load new.db",
};

int cmd_load(int argc, char **argv)
{
    uint32_t page_size = 0;
    cli_opts o;
    int parsed = cli_parse_ctx(&cmd_load_spec, argc, argv, &o, &page_size);
    if (parsed >= 0)
        return parsed;
    const char *arg = argv[optind];
    struct stat st;
    if (!cli_is_stdio(arg) && stat(arg, &st) == 0) {
        fprintf(stderr, "strata load: %s exists; load creates a new file only\n", arg);
        return CLI_USAGE;
    }
    /* DB "-": written under a temporary name, then copied to standard output. */
    cli_output out;
    int ocode = cli_output_begin("load", &o, arg, &out);
    if (ocode != CLI_OK)
        return ocode;
    const char *path = out.path;
    size_t tlen = strlen(path) + sizeof ".load-XXXXXX";
    char *tmp = malloc(tlen);
    if (tmp == NULL) {
        cli_output_end("load", &out, false);
        return cli_report("load", path, -ENOMEM);
    }
    snprintf(tmp, tlen, "%s.load-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int code = cli_report("load", tmp, -errno);
        free(tmp);
        cli_output_end("load", &out, false);
        return code;
    }
    close(fd); /* an empty file: bolt_open initialises it */

    loader l = { 0 };
    bolt_options opt;
    bolt_options_init(&opt);
    opt.page_size = page_size;
    int rc = bolt_open(tmp, &opt, &l.db);
    int code = rc == 0 ? CLI_OK : cli_report("load", tmp, rc);
    if (code == CLI_OK && (rc = bolt_tx_begin(l.db, BOLT_TX_WRITE, &l.tx)) != 0)
        code = cli_report("load", tmp, rc);
    if (code == CLI_OK)
        code = load_stream(&l, stdin);
    if (l.tx != NULL) {
        if (code == CLI_OK) {
            rc = bolt_tx_commit(l.tx); /* synced: data, then meta */
            if (rc != 0)
                code = cli_report("load", tmp, rc);
        } else {
            bolt_tx_rollback(l.tx);
        }
    }
    if (l.db != NULL && (rc = bolt_close(l.db)) != 0 && code == CLI_OK)
        code = cli_report("load", tmp, rc);
    if (code == CLI_OK && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
        code = cli_report("load", path, -errno);
    if (code == CLI_OK && (rc = strata_sync_dir_of(path)) != 0)
        code = cli_report("load", path, rc);
    if (code != CLI_OK)
        unlink(tmp);
    else
        code = cli_output_end("load", &out, true);
    cli_output_end("load", &out, false);
    if (code == CLI_OK && o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "db", json_string(arg));
        cli_json_set(doc, "buckets", cli_json_u64(l.buckets));
        cli_json_set(doc, "keys", cli_json_u64(l.keys));
        code = cli_json_print("load", stdout, doc);
    } else if (code == CLI_OK) {
        fprintf(cli_output_summary(&out), "loaded %llu buckets, %llu keys into %s\n",
                (unsigned long long)l.buckets, (unsigned long long)l.keys, arg);
    }
    free(l.path_text);
    free(l.bytes);
    free(tmp);
    return code;
}
