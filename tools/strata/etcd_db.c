/*
 * etcd_db.c: the DB argument of `strata etcd` (etcd_db.h): resolution,
 * the snapshot trailer, the read-only open as an etcd db, the live read
 * loop, the meta and server buckets' small values, and etcdctl's JSON
 * encodings.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strata/common.h>
#include <strata/lease.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_db.h"
#include "strata_config.h"

/* etcd's snapshot rule (snapshot_command.go / v3 restore): size % 512 == sha256.Size. */
#define SNAP_TRAILER 32
#define SNAP_UNIT    512

static char *path_join(const char *dir, const char *tail)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t t = strlen(tail);
    char *s = malloc(n + 1 + t + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, n);
    s[n] = '/';
    memcpy(s + n + 1, tail, t + 1);
    return s;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void hex32(const unsigned char *d, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

/* Verify the SHA-256 trailer of the snapshot at path (size bytes): CLI_OK, 1 or 3. */
static int verify_trailer(const char *cmd, const char *given, const char *path, uint64_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_report(cmd, given, -errno);
    strata_sha256_ctx sha;
    strata_sha256_init(&sha);
    unsigned char buf[1 << 16];
    uint64_t left = size - SNAP_TRAILER, off = 0;
    int err = 0;
    while (left > 0) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            err = got < 0 ? -errno : -EIO;
            break;
        }
        strata_sha256_update(&sha, buf, (size_t)got);
        left -= (uint64_t)got;
        off += (uint64_t)got;
    }
    unsigned char want[SNAP_TRAILER], digest[SNAP_TRAILER];
    if (err == 0) {
        ssize_t got = pread(fd, want, SNAP_TRAILER, (off_t)off);
        if (got != SNAP_TRAILER)
            err = got < 0 ? -errno : -EIO;
    }
    close(fd);
    if (err != 0)
        return cli_report(cmd, given, err);
    strata_sha256_final(&sha, digest);
    if (memcmp(digest, want, SNAP_TRAILER) != 0) {
        char a[65], b[65];
        hex32(want, a);
        hex32(digest, b);
        fprintf(stderr,
                "strata %s: %s: etcd snapshot whose SHA-256 trailer does not match its "
                "contents (trailer %s, contents %s): the snapshot is damaged\n",
                cmd, given, a, b);
        return CLI_FINDING;
    }
    return CLI_OK;
}

int etcd_resolve(const char *cmd, const char *arg, etcd_path *p)
{
    memset(p, 0, sizeof *p);
    p->given = arg;
    if (cli_is_stdio(arg)) {
        int code = cli_input_begin(cmd, arg, &p->in);
        if (code != CLI_OK)
            return code;
        p->from_stdin = true;
        arg = p->in.path;
    }
    struct stat st;
    if (stat(arg, &st) != 0) {
        int code = cli_report(cmd, p->given, -errno);
        etcd_path_free(p);
        return code;
    }
    if (S_ISDIR(st.st_mode)) {
        /* A data dir holds member/; a member dir holds snap/ (and wal/). */
        char *member = path_join(arg, "member");
        char *snapdir = path_join(arg, "snap");
        char *waldir = path_join(arg, "wal");
        char *cand = NULL;
        bool data_dir = false, member_dir = false;
        if (member != NULL && snapdir != NULL && waldir != NULL) {
            data_dir = is_dir(member);
            member_dir = !data_dir && (is_dir(snapdir) || is_dir(waldir));
            cand = path_join(data_dir ? member : arg, "snap/db");
        }
        free(member);
        free(snapdir);
        free(waldir);
        if (cand == NULL)
            goto nomem;
        if (stat(cand, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (data_dir || member_dir)
                fprintf(stderr, "strata %s: %s: an etcd %s without a db (%s is %s)\n", cmd, arg,
                        data_dir ? "data dir" : "member dir", cand,
                        errno == ENOENT ? "missing" : "not a file");
            else
                fprintf(stderr,
                        "strata %s: %s: a directory that is not an etcd data dir or member dir "
                        "(no member/snap/db, no snap/db)\n",
                        cmd, arg);
            free(cand);
            return CLI_NOOPEN;
        }
        p->file = cand;
        p->found_in_dir = true;
    } else {
        p->file = strdup(arg);
        if (p->file == NULL)
            goto nomem;
    }
    if (S_ISREG(st.st_mode) && st.st_size >= SNAP_UNIT + SNAP_TRAILER &&
        (uint64_t)st.st_size % SNAP_UNIT == SNAP_TRAILER) {
        int code = verify_trailer(cmd, p->given, p->file, (uint64_t)st.st_size);
        if (code != CLI_OK) {
            etcd_path_free(p);
            return code;
        }
        p->snapshot = true;
    }
    return CLI_OK;
nomem:
    fprintf(stderr, "strata %s: out of memory\n", cmd);
    etcd_path_free(p);
    return CLI_INTERNAL;
}

void etcd_path_free(etcd_path *p)
{
    free(p->file);
    p->file = NULL;
    if (p->from_stdin)
        cli_input_end(&p->in);
    p->from_stdin = false;
}

/* ---- opening ------------------------------------------------------------------ */

/* backend_kv_fn: stop at the first pair (existence probes). */
static int stop_at_first(void *arg, bolt_val key, bolt_val value)
{
    (void)arg;
    (void)key;
    (void)value;
    return 1;
}

int etcd_check_schema(const char *cmd, const etcd_path *p, backend *be, FILE *err)
{
    backend_read_tx *tx;
    int rc = backend_read_tx_begin(be, &tx);
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s\n", cmd, p->given, cli_strerror(rc));
        return cli_exit_for(rc);
    }
    static const char *const need[] = { "key", "meta" };
    int code = CLI_OK;
    for (size_t i = 0; i < 2 && code == CLI_OK; i++) {
        rc = backend_read_tx_for_each(tx, bolt_str(need[i]), stop_at_first, NULL);
        if (rc == BACKEND_EBUCKETNOTFOUND) {
            fprintf(err,
                    "strata %s: %s: not an etcd db: it has no '%s' bucket (a bolt file of "
                    "another program?)\n",
                    cmd, p->given, need[i]);
            code = CLI_NOOPEN;
        } else if (rc != 0 && rc != 1) {
            fprintf(err, "strata %s: %s: %s\n", cmd, p->given, cli_strerror(rc));
            code = cli_exit_for(rc);
        }
    }
    backend_read_tx_end(tx);
    return code;
}

/* A status that means a record of the file breaks etcd's schema (exit 1). */
static bool damaged_record(int rc)
{
    return (rc <= MVCC_ECORRUPT && rc >= MVCC_EGENERATION) || rc == LEASE_ECORRUPT ||
           (rc <= STRATA_EPBTRUNC && rc >= STRATA_EPBWIRETYPE);
}

int etcd_db_open(const char *cmd, const cli_opts *o, const etcd_path *p, bool with_store, FILE *err,
                 etcd_db *d)
{
    memset(d, 0, sizeof *d);
    backend_options bo;
    backend_options_init(&bo);
    bo.read_only = true;
    bolt_options bolt;
    backend_bolt_options_init(&bolt);
    bolt.timeout_ms = o->timeout_ms;
    bolt.live = o->live && !p->snapshot; /* no lock: etcd_run brackets the read */
    bo.bolt = &bolt;
    int rc = backend_open(p->file, &bo, &d->be);
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s (%s)\n", cmd, p->given, cli_strerror(rc),
                cli_status_name(rc) != NULL ? cli_status_name(rc) : "?");
        if (rc == BOLT_ETIMEOUT)
            fprintf(err,
                    "strata %s: %s is locked by a process that has it open for writing (a "
                    "running etcd member?); read it anyway with 'strata %s --live', stop the "
                    "member, or raise --timeout (0 waits forever)\n",
                    cmd, p->given, cmd);
        return cli_exit_for(rc);
    }
    int code = etcd_check_schema(cmd, p, d->be, err);
    if (code != CLI_OK)
        goto fail;
    if (with_store) {
        char why[512] = "";
        mvcc_options mo;
        mvcc_options_init(&mo);
        mo.read_only = true;
        mo.errbuf = why;
        mo.errbuf_size = sizeof why;
        rc = mvcc_store_open(d->be, &mo, &d->store);
        if (rc != 0) {
            bool damaged = damaged_record(rc);
            fprintf(err, "strata %s: %s: %s%s (%s)\n", cmd, p->given,
                    damaged ? "damaged record: " : "", why[0] != '\0' ? why : cli_strerror(rc),
                    cli_status_name(rc) != NULL ? cli_status_name(rc) : "?");
            code = damaged ? CLI_FINDING : cli_exit_for(rc);
            goto fail;
        }
    }
    rc = backend_read_tx_begin(d->be, &d->rtx);
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s\n", cmd, p->given, cli_strerror(rc));
        code = cli_exit_for(rc);
        goto fail;
    }
    return CLI_OK;
fail:
    etcd_db_close(d);
    return code;
}

void etcd_db_close(etcd_db *d)
{
    backend_read_tx_end(d->rtx);
    d->rtx = NULL;
    if (d->store != NULL)
        mvcc_store_close(d->store);
    d->store = NULL;
    if (d->be != NULL)
        backend_close(d->be);
    d->be = NULL;
}

/* ---- the live loop -------------------------------------------------------------- */

/*
 * Test builds (-Dfailpoints=true): STRATA_ETCD_LIVE_FAILPOINT=N makes the
 * first N live attempts count as overlapped by a commit, so the retry
 * loop and its limit are tested without racing a writer.
 */
static int forced_overlaps(void)
{
#if STRATA_FAILPOINTS
    const char *v = getenv("STRATA_ETCD_LIVE_FAILPOINT");
    return v != NULL ? atoi(v) : 0;
#else
    return 0;
#endif
}

int etcd_run(const char *cmd, const cli_opts *o, const etcd_path *p, etcd_read_fn fn, void *ctx)
{
    if (!o->live || p->snapshot) {
        int code = fn(ctx, p, stdout, stderr);
        if (fflush(stdout) != 0 && code == CLI_OK)
            code = cli_report(cmd, "standard output", -errno);
        return code;
    }
    int forced = forced_overlaps();
    for (int attempt = 0; attempt < ETCD_LIVE_ATTEMPTS; attempt++) {
        uint64_t before = 0, after = 0;
        int rc = cli_live_txid(p->file, &before);
        if (rc != 0)
            return cli_report(cmd, p->given, rc);
        cli_held held;
        if (cli_held_begin(&held) != 0)
            return cli_report(cmd, p->given, -ENOMEM);
        int code = fn(ctx, p, held.out, held.err);
        rc = cli_live_txid(p->file, &after);
        bool consistent = rc == 0 && before == after && before != 0 && attempt >= forced;
        cli_held_end(&held, consistent);
        if (rc != 0)
            return cli_report(cmd, p->given, rc);
        if (consistent) {
            if (fflush(stdout) != 0 && code == CLI_OK)
                code = cli_report(cmd, "standard output", -errno);
            return code;
        }
    }
    fprintf(stderr,
            "strata %s: %s: the member commits faster than strata can read the file: a commit "
            "landed during each of %d reads, so no answer is given; take a snapshot "
            "('etcdctl snapshot save FILE' or 'strata snapshot --live') and read that\n",
            cmd, p->given, ETCD_LIVE_ATTEMPTS);
    return CLI_NOOPEN;
}

/* ---- meta and server values ---------------------------------------------------- */

bool etcd_u64_be(bolt_val v, uint64_t *out)
{
    if (v.size != 8)
        return false;
    const unsigned char *b = v.data;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | b[i];
    *out = x;
    return true;
}

typedef struct meta_scan {
    etcd_meta *m;
    const char *bucket;
    const char *bad; /* the first malformed key's name */
} meta_scan;

static bool key_is(bolt_val k, const char *name)
{
    size_t n = strlen(name);
    return k.size == n && memcmp(k.data, name, n) == 0;
}

/* A compaction mark: the 17-byte revision key {main, 0}; main, or -1 if malformed. */
static int64_t mark_main(bolt_val v)
{
    const unsigned char *b = v.data;
    if (v.size != 17 || b[8] != '_' || (b[0] & 0x80))
        return -1;
    int64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (int64_t)((uint64_t)x << 8 | b[i]);
    return x;
}

static int meta_each(void *arg, bolt_val k, bolt_val v)
{
    meta_scan *s = arg;
    etcd_meta *m = s->m;
    bool ok = true;
    if (strcmp(s->bucket, "meta") == 0) {
        if (key_is(k, "consistent_index"))
            ok = m->has_consistent_index = etcd_u64_be(v, &m->consistent_index);
        else if (key_is(k, "term"))
            ok = m->has_term = etcd_u64_be(v, &m->term);
        else if (key_is(k, "scheduledCompactRev"))
            ok = (m->scheduled_compact = mark_main(v)) >= 0;
        else if (key_is(k, "finishedCompactRev"))
            ok = (m->finished_compact = mark_main(v)) >= 0;
        if (!ok && s->bad == NULL)
            s->bad = k.size == 16  ? "meta/consistent_index"
                     : k.size == 4 ? "meta/term"
                                   : "a compaction mark in meta";
    } else if (strcmp(s->bucket, "cluster") == 0) {
        if (key_is(k, "clusterVersion")) {
            free(m->cluster_version);
            m->cluster_version = strndup(v.data != NULL ? v.data : "", v.size);
            if (m->cluster_version == NULL)
                return -ENOMEM;
        }
    } else { /* auth */
        if (key_is(k, "authEnabled")) {
            ok = v.size == 1 && (((const unsigned char *)v.data)[0] <= 1);
            m->auth_enabled = ok && ((const unsigned char *)v.data)[0] == 1;
            if (!ok && s->bad == NULL)
                s->bad = "auth/authEnabled";
        } else if (key_is(k, "authRevision")) {
            ok = m->has_auth_revision = etcd_u64_be(v, &m->auth_revision);
            if (!ok && s->bad == NULL)
                s->bad = "auth/authRevision";
        }
    }
    return 0;
}

int etcd_meta_read(const char *cmd, const etcd_path *p, backend_read_tx *tx, FILE *err,
                   etcd_meta *m)
{
    memset(m, 0, sizeof *m);
    m->scheduled_compact = m->finished_compact = -1;
    static const char *const buckets[] = { "meta", "cluster", "auth" };
    for (size_t i = 0; i < 3; i++) {
        meta_scan s = { m, buckets[i], NULL };
        int rc = backend_read_tx_for_each(tx, bolt_str(buckets[i]), meta_each, &s);
        if (rc == BACKEND_EBUCKETNOTFOUND)
            continue;
        if (rc != 0) {
            fprintf(err, "strata %s: %s: reading bucket %s: %s\n", cmd, p->given, buckets[i],
                    cli_strerror(rc));
            etcd_meta_free(m);
            return cli_exit_for(rc);
        }
        if (s.bad != NULL) {
            fprintf(err, "strata %s: %s: damaged record: %s has the wrong size or value\n", cmd,
                    p->given, s.bad);
            etcd_meta_free(m);
            return CLI_FINDING;
        }
    }
    return CLI_OK;
}

void etcd_meta_free(etcd_meta *m)
{
    free(m->cluster_version);
    m->cluster_version = NULL;
}

/* ---- JSON ------------------------------------------------------------------------ */

json_t *etcd_json_b64(const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = (n + 2) / 3 * 4;
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    const unsigned char *b = data;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        s[o++] = tab[x >> 18];
        s[o++] = tab[(x >> 12) & 63];
        s[o++] = tab[(x >> 6) & 63];
        s[o++] = tab[x & 63];
    }
    if (i < n) {
        uint32_t x = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0);
        s[o++] = tab[x >> 18];
        s[o++] = tab[(x >> 12) & 63];
        s[o++] = i + 1 < n ? tab[(x >> 6) & 63] : '=';
        s[o++] = '=';
    }
    s[o] = '\0';
    json_t *j = json_stringn(s, o);
    free(s);
    return j;
}

/*
 * The marker of a uint64 above INT64_MAX: a string that starts with a
 * control character (jansson writes it as \u0001) and a per-process tag,
 * so no string read from a db can pass for one.
 */
static const char *u64_tag(void)
{
    static char tag[32];
    if (tag[0] == '\0')
        snprintf(tag, sizeof tag,
                 "\001u64-%08lx-%ld:", (unsigned long)((uintptr_t)&tag ^ (uintptr_t)time(NULL)),
                 (long)getpid());
    return tag;
}

json_t *etcd_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char s[64];
    snprintf(s, sizeof s, "%s%" PRIu64, u64_tag(), v);
    return json_string(s);
}

uint64_t etcd_json_u64_value(const json_t *v)
{
    if (json_is_integer(v))
        return (uint64_t)json_integer_value(v);
    const char *s = json_string_value(v), *tag = u64_tag();
    if (s == NULL || strncmp(s, tag, strlen(tag)) != 0)
        return 0;
    return strtoull(s + strlen(tag), NULL, 10);
}

int etcd_json_print(const char *cmd, FILE *out, json_t *doc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m == NULL) {
        json_decref(doc);
        fprintf(stderr, "strata %s: out of memory building the JSON output\n", cmd);
        return CLI_INTERNAL;
    }
    int code = cli_json_print(cmd, m, doc);
    if (fclose(m) != 0 && code == CLI_OK) {
        fprintf(stderr, "strata %s: out of memory building the JSON output\n", cmd);
        code = CLI_INTERNAL;
    }
    if (code != CLI_OK) {
        free(buf);
        return code;
    }
    /* The marker as jansson writes it: "\u0001u64-...:DIGITS" -> DIGITS. */
    char marker[48];
    snprintf(marker, sizeof marker, "\"\\u0001%s", u64_tag() + 1);
    size_t mlen = strlen(marker);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), marker, mlen);
        if (hit == NULL) {
            fwrite(p, 1, (size_t)(end - p), out);
            break;
        }
        fwrite(p, 1, (size_t)(hit - p), out);
        const char *d = hit + mlen, *e = d;
        while (e < end && *e >= '0' && *e <= '9')
            e++;
        if (e < end && *e == '"' && e > d) {
            fwrite(d, 1, (size_t)(e - d), out);
            p = e + 1;
        } else { /* not a marker after all: copy it as it is */
            fwrite(hit, 1, mlen, out);
            p = hit + mlen;
        }
    }
    free(buf);
    if (ferror(out)) {
        fprintf(stderr, "strata %s: cannot write the JSON output\n", cmd);
        return CLI_NOOPEN;
    }
    return CLI_OK;
}

void etcd_json_set_int(json_t *obj, const char *key, int64_t v)
{
    if (v != 0)
        cli_json_set(obj, key, json_integer(v));
}

json_t *etcd_json_header(int64_t rev)
{
    json_t *h = json_object();
    etcd_json_set_int(h, "revision", rev);
    return h;
}

json_t *etcd_json_kv(const mvcc_kv *kv, bool keys_only)
{
    json_t *o = json_object();
    if (kv->key_len > 0)
        cli_json_set(o, "key", etcd_json_b64(kv->key, kv->key_len));
    etcd_json_set_int(o, "create_revision", kv->create_revision);
    etcd_json_set_int(o, "mod_revision", kv->mod_revision);
    etcd_json_set_int(o, "version", kv->version);
    if (!keys_only && kv->value_len > 0)
        cli_json_set(o, "value", etcd_json_b64(kv->value, kv->value_len));
    etcd_json_set_int(o, "lease", kv->lease);
    return o;
}

int etcd_sizes(const char *cmd, const cli_opts *o, const etcd_path *p, FILE *err, uint64_t *size,
               uint64_t *in_use)
{
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    opt.live = o->live && !p->snapshot;
    opt.timeout_ms = o->timeout_ms;
    bolt_db *db;
    bolt_tx *tx = NULL;
    int rc = bolt_open(p->file, &opt, &db);
    if (rc != 0)
        return cli_report_db(err, cmd, p->given, NULL, rc);
    bolt_stats st;
    bolt_db_info info;
    uint64_t pages = 2; /* the metas */
    if ((rc = bolt_tx_begin(db, 0, &tx)) == 0 &&
        (rc = bolt_bucket_stats(bolt_tx_root(tx), &st)) == 0 &&
        (rc = bolt_db_info_get(db, &info)) == 0) {
        pages += st.branch_pages + st.branch_overflow + st.leaf_pages + st.leaf_overflow;
        bolt_pgid fl = info.meta[info.current].freelist;
        bolt_page_info pi;
        if (fl != UINT64_MAX && bolt_tx_page_info(tx, fl, &pi) == 0)
            pages += 1 + (uint64_t)pi.overflow;
        *size = bolt_tx_size(tx);
        uint64_t used = pages * info.page_size;
        *in_use = used < *size ? used : *size;
    }
    int code = rc == 0 ? CLI_OK : cli_report_db(err, cmd, p->given, db, rc);
    bolt_tx_rollback(tx);
    bolt_close(db);
    return code;
}
