/*
 * cmd_etcd_dump.c: `strata etcd dump [--decode] DB`: every bucket of an
 * etcd db and every record in it, in key order -- what etcd-dump-db's
 * list-bucket and iterate-bucket --decode show (etcd v3.4.23
 * tools/etcd-dump-db), for every bucket at once and with the records it
 * leaves raw decoded too: the meta marks (consistent index, scheduled and
 * finished compaction revisions), lease records, members, removed members,
 * auth state, users and roles (authpb), the cluster version and alarms.
 *
 * The file is read with bolt directly (read-only; no lock under --live),
 * one read transaction, each bucket entered through bolt_visited (a
 * damaged tree cannot make the walk loop). A record that does not decode
 * is shown raw with why, the walk goes on, and the command exits 1 naming
 * the first one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_cmd.h"
#include "etcd_pb.h"
#include "kvpb.h"
#include "leasepb.h"
#include "revkey.h"

static const cli_option dump_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { "decode", ETCD_OPT_DECODE, NULL,
      "decode every record etcd's schema defines (revisions, KeyValues,\n"
      "meta marks, leases, members, auth users and roles, alarms)",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_dump_spec = {
    .name = "etcd dump",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_KEYS | CLI_C_VALUES | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = dump_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB",
    .about = "Every bucket of the db ('bucket NAME'), its records in key order, one per\n"
             "line ('  KEY VALUE' in the key and value formats), then '  (N records)'. With\n"
             "--decode each record of a bucket etcd's schema defines is decoded instead:\n"
             "key (revision, PUT/DELETE and the KeyValue), meta (consistent_index,\n"
             "scheduledCompactRev, finishedCompactRev, term), lease (ID, TTL,\n"
             "RemainingTTL), members and members_removed, auth (authEnabled,\n"
             "authRevision), authUsers and authRoles (authpb), cluster (clusterVersion)\n"
             "and alarm; other buckets stay raw. A record that does not decode is shown\n"
             "raw with why.",
    .json = "buckets: [{name: NAME, records: N, entries: [{key: KEY, value: VALUE,\n"
            "  decoded: {...}, error: WHY}]}]   KEY/VALUE in --key-format/--value-format;\n"
            "decoded (with --decode): key {revision: {main, sub}, tombstone: BOOL, kv:\n"
            "  {etcdctl's KeyValue, base64}}; meta {consistent_index: N} |\n"
            "  {scheduled_compact_revision: N} | {finished_compact_revision: N} | {term: N};\n"
            "  lease {ID, TTL, RemainingTTL}; members {ID, name, peerURLs, clientURLs,\n"
            "  isLearner}; members_removed {ID}; auth {auth_enabled: BOOL} |\n"
            "  {auth_revision: N}; authUsers {name, password, roles: [S], no_password};\n"
            "  authRoles {name, keyPermission: [{permType, key: B64, range_end: B64}]};\n"
            "  cluster {clusterVersion: S}; alarm {memberID, alarm}",
    .exits = "0 dumped; 1 a record does not decode (the first is named; every record is\n"
             "still shown); 2 usage; 3 cannot open or read the file as an etcd db",
    .example = "$ strata etcd dump --decode /var/lib/etcd\n"
               "$ strata etcd dump --decode --json /var/lib/etcd/member/snap/db | jq '.buckets[]."
               "name'",
};

typedef struct dump_ctx {
    const etcd_args *a;
    const etcd_path *p;
    FILE *out, *err;
    json_t *buckets; /* --json */
    uint64_t damaged;
    char first[400]; /* the first damaged record's description */
} dump_ctx;

/* One record's decoding: JSON (decoded), text (line), or why it failed. */
typedef struct rec {
    json_t *decoded;
    char *line; /* malloc'd text, NULL when raw */
    char why[200];
} rec;

/* A growing text line. */
typedef struct line_buf {
    char *s;
    size_t n;
    FILE *f;
} line_buf;

static FILE *line_open(line_buf *l)
{
    l->s = NULL;
    l->n = 0;
    l->f = open_memstream(&l->s, &l->n);
    return l->f;
}

static char *line_close(line_buf *l)
{
    if (l->f == NULL)
        return NULL;
    fclose(l->f);
    return l->s;
}

static bool val_is(bolt_val v, const char *s)
{
    size_t n = strlen(s);
    return v.size == n && memcmp(v.data, s, n) == 0;
}

static void decode_key(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    mvcc__revkey rk;
    mvcc__kv kv;
    int rc = mvcc__revkey_decode(k.data, k.size, &rk);
    if (rc == 0 && (rc = mvcc__kv_decode(v.data, v.size, &kv)) == 0)
        rc = mvcc__kv_check(&kv, &rk, r->why, sizeof r->why);
    if (rc != 0) {
        if (r->why[0] == '\0')
            snprintf(r->why, sizeof r->why, "%s", cli_strerror(rc));
        return;
    }
    mvcc_kv pub = { kv.key,          kv.key_len, kv.value, kv.value_len, kv.create_revision,
                    kv.mod_revision, kv.version, kv.lease };
    if (d->a->o.json) {
        json_t *o = json_object(), *rev = json_object();
        cli_json_set(rev, "main", json_integer(rk.rev.main));
        cli_json_set(rev, "sub", json_integer(rk.rev.sub));
        cli_json_set(o, "revision", rev);
        cli_json_set(o, "tombstone", json_boolean(rk.tombstone));
        cli_json_set(o, "kv", etcd_json_kv(&pub, false));
        r->decoded = o;
        return;
    }
    line_buf l;
    FILE *f = line_open(&l);
    if (f == NULL)
        return;
    fprintf(f, "%" PRId64 ".%" PRId64 " %s key=", rk.rev.main, rk.rev.sub,
            rk.tombstone ? "DELETE" : "PUT");
    cli_print_bytes(f, kv.key, kv.key_len, d->a->o.key_fmt);
    if (!rk.tombstone) {
        fprintf(f,
                " create_revision=%" PRId64 " mod_revision=%" PRId64 " version=%" PRId64
                " lease=%" PRId64 " value=",
                kv.create_revision, kv.mod_revision, kv.version, kv.lease);
        cli_print_bytes(f, kv.value, kv.value_len, d->a->o.value_fmt);
    }
    r->line = line_close(&l);
}

/* A JSON object of one number, or its text "name=N". */
static void one_number(const dump_ctx *d, rec *r, const char *json_name, const char *text_name,
                       json_t *n, const char *text)
{
    if (d->a->o.json) {
        r->decoded = json_object();
        cli_json_set(r->decoded, json_name, n);
        return;
    }
    json_decref(n);
    line_buf l;
    FILE *f = line_open(&l);
    if (f == NULL)
        return;
    fprintf(f, "%s=%s", text_name, text);
    r->line = line_close(&l);
}

static void decode_meta(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    char num[32];
    uint64_t u;
    if (val_is(k, "consistent_index") || val_is(k, "term")) {
        if (!etcd_u64_be(v, &u)) {
            snprintf(r->why, sizeof r->why, "not an 8-byte big-endian number");
            return;
        }
        snprintf(num, sizeof num, "%" PRIu64, u);
        bool ci = val_is(k, "consistent_index");
        one_number(d, r, ci ? "consistent_index" : "term", ci ? "consistent_index" : "term",
                   etcd_json_u64(u), num);
        return;
    }
    bool sched = val_is(k, "scheduledCompactRev");
    if (sched || val_is(k, "finishedCompactRev")) {
        mvcc__revkey rk;
        int rc = mvcc__revkey_decode(v.data, v.size, &rk);
        if (rc != 0 || rk.tombstone) {
            snprintf(r->why, sizeof r->why, "not a 17-byte revision: %s",
                     rc != 0 ? cli_strerror(rc) : "it has the tombstone mark");
            return;
        }
        snprintf(num, sizeof num, "%" PRId64, rk.rev.main);
        one_number(d, r, sched ? "scheduled_compact_revision" : "finished_compact_revision",
                   sched ? "scheduledCompactRev" : "finishedCompactRev", json_integer(rk.rev.main),
                   num);
    }
    /* Other names (3.5's confState, storageVersion...): raw. */
}

static void decode_lease(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    lease__pb l;
    int rc = lease__pb_decode(v.data, v.size, &l);
    if (rc == 0)
        rc = lease__record_check(k.data, k.size, &l, r->why, sizeof r->why);
    if (rc != 0) {
        if (r->why[0] == '\0')
            snprintf(r->why, sizeof r->why, "%s", cli_strerror(rc));
        return;
    }
    if (d->a->o.json) {
        /* leasepb.Lease's Go JSON names (omitempty). */
        r->decoded = json_object();
        etcd_json_set_int(r->decoded, "ID", l.id);
        etcd_json_set_int(r->decoded, "TTL", l.ttl);
        etcd_json_set_int(r->decoded, "RemainingTTL", l.remaining_ttl);
        return;
    }
    line_buf lb;
    FILE *f = line_open(&lb);
    if (f == NULL)
        return;
    fprintf(f, "lease %016" PRIx64 " id=%" PRId64 " ttl=%" PRId64 " remaining_ttl=%" PRId64,
            (uint64_t)l.id, l.id, l.ttl, l.remaining_ttl);
    r->line = line_close(&lb);
}

static void text_strings(FILE *f, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        fprintf(f, "%s%s", i > 0 ? "," : "", json_string_value(e));
    }
}

static void decode_member(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    json_t *m = etcd_member_json(k, v, r->why, sizeof r->why);
    if (m == NULL)
        return;
    if (d->a->o.json) {
        r->decoded = m;
        return;
    }
    line_buf l;
    FILE *f = line_open(&l);
    if (f != NULL) {
        json_t *name = json_object_get(m, "name");
        fprintf(f, "member %.*s name=%s peer_urls=", (int)k.size, (const char *)k.data,
                name != NULL ? json_string_value(name) : "");
        if (json_object_get(m, "peerURLs") != NULL)
            text_strings(f, json_object_get(m, "peerURLs"));
        fprintf(f, " client_urls=");
        if (json_object_get(m, "clientURLs") != NULL)
            text_strings(f, json_object_get(m, "clientURLs"));
        if (json_is_true(json_object_get(m, "isLearner")))
            fprintf(f, " learner");
        r->line = line_close(&l);
    }
    json_decref(m);
}

static void decode_removed(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    uint64_t id;
    if (!etcd_member_id(k, &id)) {
        snprintf(r->why, sizeof r->why, "the key is not a member ID (lower-case hex)");
        return;
    }
    if (!val_is(v, "removed")) {
        snprintf(r->why, sizeof r->why, "the value is not \"removed\"");
        return;
    }
    char text[40];
    snprintf(text, sizeof text, "%.*s", (int)k.size, (const char *)k.data);
    one_number(d, r, "ID", "removed_member", etcd_json_u64(id), text);
}

static void decode_auth(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    uint64_t u;
    char num[32];
    if (val_is(k, "authEnabled")) {
        const unsigned char *b = v.data;
        if (v.size != 1 || b[0] > 1) {
            snprintf(r->why, sizeof r->why, "not one byte 0 or 1");
            return;
        }
        one_number(d, r, "auth_enabled", "authEnabled", json_boolean(b[0] == 1),
                   b[0] == 1 ? "true" : "false");
    } else if (val_is(k, "authRevision")) {
        if (!etcd_u64_be(v, &u)) {
            snprintf(r->why, sizeof r->why, "not an 8-byte big-endian number");
            return;
        }
        snprintf(num, sizeof num, "%" PRIu64, u);
        one_number(d, r, "auth_revision", "authRevision", etcd_json_u64(u), num);
    }
}

/* Bytes that are text (users' and roles' names, passwords' bcrypt hashes) in the value format. */
static json_t *text_json(const dump_ctx *d, bolt_val b)
{
    return cli_json_bytes(b.data, b.size, d->a->o.value_fmt);
}

static void decode_user(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    etcd_user u;
    int rc = etcd_user_decode(v, &u);
    if (rc != 0) {
        snprintf(r->why, sizeof r->why, "not an authpb.User: %s", cli_strerror(rc));
        return;
    }
    if (u.name.size != k.size || (k.size > 0 && memcmp(u.name.data, k.data, k.size) != 0)) {
        snprintf(r->why, sizeof r->why, "the user's name is not the key");
        etcd_user_free(&u);
        return;
    }
    if (d->a->o.json) {
        json_t *o = json_object(), *roles = json_array();
        cli_json_set(o, "name", text_json(d, u.name));
        cli_json_set(o, "password", text_json(d, u.password));
        for (size_t i = 0; i < u.nroles; i++)
            cli_json_append(roles, text_json(d, u.roles[i]));
        cli_json_set(o, "roles", roles);
        cli_json_set(o, "no_password", json_boolean(u.no_password));
        r->decoded = o;
    } else {
        line_buf l;
        FILE *f = line_open(&l);
        if (f != NULL) {
            fprintf(f, "user ");
            cli_print_bytes(f, u.name.data, u.name.size, d->a->o.key_fmt);
            fprintf(f, " roles=");
            for (size_t i = 0; i < u.nroles; i++) {
                if (i > 0)
                    fputc(',', f);
                cli_print_bytes(f, u.roles[i].data, u.roles[i].size, d->a->o.value_fmt);
            }
            fprintf(f, " password=");
            cli_print_bytes(f, u.password.data, u.password.size, d->a->o.value_fmt);
            if (u.no_password)
                fprintf(f, " no_password");
            r->line = line_close(&l);
        }
    }
    etcd_user_free(&u);
}

static void decode_role(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    etcd_role ro;
    int rc = etcd_role_decode(v, &ro);
    if (rc != 0) {
        snprintf(r->why, sizeof r->why, "not an authpb.Role: %s", cli_strerror(rc));
        return;
    }
    if (ro.name.size != k.size || (k.size > 0 && memcmp(ro.name.data, k.data, k.size) != 0)) {
        snprintf(r->why, sizeof r->why, "the role's name is not the key");
        etcd_role_free(&ro);
        return;
    }
    if (d->a->o.json) {
        json_t *o = json_object(), *perms = json_array();
        cli_json_set(o, "name", text_json(d, ro.name));
        for (size_t i = 0; i < ro.nperms; i++) {
            const etcd_perm *pm = &ro.perms[i];
            json_t *e = json_object();
            const char *t = etcd_perm_name(pm->type);
            cli_json_set(e, "permType", t != NULL ? json_string(t) : json_integer(pm->type));
            if (pm->key.size > 0)
                cli_json_set(e, "key", etcd_json_b64(pm->key.data, pm->key.size));
            if (pm->range_end.size > 0)
                cli_json_set(e, "range_end", etcd_json_b64(pm->range_end.data, pm->range_end.size));
            cli_json_append(perms, e);
        }
        cli_json_set(o, "keyPermission", perms);
        r->decoded = o;
    } else {
        line_buf l;
        FILE *f = line_open(&l);
        if (f != NULL) {
            fprintf(f, "role ");
            cli_print_bytes(f, ro.name.data, ro.name.size, d->a->o.key_fmt);
            for (size_t i = 0; i < ro.nperms; i++) {
                const etcd_perm *pm = &ro.perms[i];
                const char *t = etcd_perm_name(pm->type);
                if (t != NULL)
                    fprintf(f, " perm=%s key=", t);
                else
                    fprintf(f, " perm=%" PRId32 " key=", pm->type);
                cli_print_bytes(f, pm->key.data, pm->key.size, d->a->o.key_fmt);
                if (pm->range_end.size > 0) {
                    fprintf(f, " range_end=");
                    cli_print_bytes(f, pm->range_end.data, pm->range_end.size, d->a->o.key_fmt);
                }
            }
            r->line = line_close(&l);
        }
    }
    etcd_role_free(&ro);
}

static void decode_cluster(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    if (!val_is(k, "clusterVersion"))
        return;
    if (!cli_is_printable(v.data, v.size)) {
        snprintf(r->why, sizeof r->why, "the cluster version is not text");
        return;
    }
    char *s = strndup(v.size > 0 ? v.data : "", v.size);
    if (s == NULL)
        return;
    one_number(d, r, "clusterVersion", "clusterVersion", json_string(s), s);
    free(s);
}

static void decode_alarm(const dump_ctx *d, bolt_val k, bolt_val v, rec *r)
{
    (void)v;
    etcd_alarm al;
    int rc = etcd_alarm_decode(k, &al);
    if (rc != 0) {
        snprintf(r->why, sizeof r->why, "not an AlarmMember: %s", cli_strerror(rc));
        return;
    }
    const char *name = etcd_alarm_name(al.alarm);
    if (d->a->o.json) {
        json_t *o = json_object();
        cli_json_set(o, "memberID", etcd_json_u64(al.member_id));
        cli_json_set(o, "alarm", name != NULL ? json_string(name) : json_integer(al.alarm));
        r->decoded = o;
        return;
    }
    line_buf l;
    FILE *f = line_open(&l);
    if (f == NULL)
        return;
    fprintf(f, "alarm member=%" PRIx64 " ", al.member_id);
    if (name != NULL)
        fprintf(f, "%s", name);
    else
        fprintf(f, "%" PRId32, al.alarm);
    r->line = line_close(&l);
}

typedef void (*decode_fn)(const dump_ctx *d, bolt_val k, bolt_val v, rec *r);

static decode_fn decoder_of(bolt_val bucket)
{
    static const struct {
        const char *name;
        decode_fn fn;
    } table[] = {
        { "key", decode_key },
        { "meta", decode_meta },
        { "lease", decode_lease },
        { "members", decode_member },
        { "members_removed", decode_removed },
        { "auth", decode_auth },
        { "authUsers", decode_user },
        { "authRoles", decode_role },
        { "cluster", decode_cluster },
        { "alarm", decode_alarm },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (val_is(bucket, table[i].name))
            return table[i].fn;
    return NULL;
}

static void note_damage(dump_ctx *d, bolt_val bucket, bolt_val k, const char *why)
{
    if (d->damaged++ > 0)
        return;
    char *ks = cli_bytes_str(k.data, k.size, d->a->o.key_fmt, NULL);
    snprintf(d->first, sizeof d->first, "bucket %.*s, key %s: %s", (int)bucket.size,
             (const char *)bucket.data, ks != NULL ? ks : "?", why);
    free(ks);
}

/* Dump one top-level bucket. 0, or a bolt status. */
static int dump_bucket(dump_ctx *d, bolt_tx *tx, bolt_visited *vis, bolt_val name)
{
    const etcd_args *a = d->a;
    bolt_bucket *b;
    int rc = bolt_tx_bucket(tx, name, &b);
    if (rc == 0)
        rc = bolt_visited_add(vis, b);
    if (rc != 0)
        return rc;
    decode_fn dec = a->decode ? decoder_of(name) : NULL;
    json_t *entries = a->o.json ? json_array() : NULL;
    if (!a->o.json) {
        fprintf(d->out, "bucket ");
        cli_print_bytes(d->out, name.data, name.size, a->o.bucket_fmt);
        fputc('\n', d->out);
    }
    bolt_cursor *c;
    if ((rc = bolt_cursor_open(b, &c)) != 0) {
        json_decref(entries);
        return rc;
    }
    uint64_t n = 0;
    bolt_val k, v;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        n++;
        bool nested = v.data == NULL && v.size == 0;
        rec r = { NULL, NULL, "" };
        if (dec != NULL && !nested)
            dec(d, k, v, &r);
        if (r.why[0] != '\0')
            note_damage(d, name, k, r.why);
        if (a->o.json) {
            json_t *e = json_object();
            cli_json_set(e, "key", cli_json_bytes(k.data, k.size, a->o.key_fmt));
            if (nested)
                cli_json_set(e, "bucket", json_true());
            else
                cli_json_set(e, "value", cli_json_bytes(v.data, v.size, a->o.value_fmt));
            if (r.decoded != NULL)
                cli_json_set(e, "decoded", r.decoded);
            if (r.why[0] != '\0')
                cli_json_set(e, "error", json_string(r.why));
            cli_json_append(entries, e);
        } else if (r.line != NULL) {
            fprintf(d->out, "  %s\n", r.line);
        } else {
            fprintf(d->out, "  ");
            cli_print_bytes(d->out, k.data, k.size, a->o.key_fmt);
            if (nested) {
                fprintf(d->out, " (nested bucket)");
            } else {
                fputc(' ', d->out);
                cli_print_bytes(d->out, v.data, v.size, a->o.value_fmt);
            }
            if (r.why[0] != '\0')
                fprintf(d->out, "  (damaged: %s)", r.why);
            fputc('\n', d->out);
        }
        free(r.line);
    }
    bolt_cursor_close(c);
    if (rc != BOLT_NOTFOUND) {
        json_decref(entries);
        return rc;
    }
    if (a->o.json) {
        json_t *o = json_object();
        cli_json_set(o, "name", cli_json_bytes(name.data, name.size, a->o.bucket_fmt));
        cli_json_set(o, "records", etcd_json_u64(n));
        cli_json_set(o, "entries", entries);
        cli_json_append(d->buckets, o);
    } else {
        fprintf(d->out, "  (%" PRIu64 " records)\n", n);
    }
    return 0;
}

static int dump_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    dump_ctx *d = ctx;
    const etcd_args *a = d->a;
    d->p = p;
    d->out = out;
    d->err = err;
    d->damaged = 0;
    d->first[0] = '\0';
    bolt_options opt;
    bolt_options_init(&opt);
    opt.read_only = true;
    opt.live = a->o.live && !p->snapshot;
    opt.timeout_ms = a->o.timeout_ms;
    bolt_db *db;
    int rc = bolt_open(p->file, &opt, &db);
    if (rc != 0) {
        int code = cli_report_db(err, a->cmd, p->given, NULL, rc);
        if (rc == BOLT_ETIMEOUT)
            fprintf(err,
                    "strata %s: %s is locked by a process that has it open for writing (a "
                    "running etcd member?); read it anyway with 'strata %s --live'\n",
                    a->cmd, p->given, a->cmd);
        return code;
    }
    bolt_tx *tx = NULL;
    bolt_visited *vis = NULL;
    bolt_cursor *c = NULL;
    int code = CLI_OK;
    if ((rc = bolt_tx_begin(db, 0, &tx)) != 0 || (rc = bolt_visited_new(tx, &vis)) != 0 ||
        (rc = bolt_visited_add(vis, bolt_tx_root(tx))) != 0)
        goto bolt_fail;
    bolt_bucket *probe;
    static const char *const need[] = { "key", "meta" };
    for (int i = 0; i < 2; i++) {
        rc = bolt_tx_bucket(tx, bolt_str(need[i]), &probe);
        if (rc == BOLT_NOTFOUND) {
            fprintf(err,
                    "strata %s: %s: not an etcd db: it has no '%s' bucket (a bolt file of "
                    "another program?)\n",
                    a->cmd, p->given, need[i]);
            code = CLI_NOOPEN;
            goto out;
        }
        if (rc != 0)
            goto bolt_fail;
    }
    if (a->o.json)
        d->buckets = json_array();
    if ((rc = bolt_cursor_open(bolt_tx_root(tx), &c)) != 0)
        goto bolt_fail;
    bolt_val k, v;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        if (v.data != NULL || v.size != 0) {
            /* A plain key at the top: etcd has none; show it as it is. */
            if (!a->o.json) {
                fprintf(out, "top-level key ");
                cli_print_bytes(out, k.data, k.size, a->o.key_fmt);
                fputc('\n', out);
            }
            continue;
        }
        /* The name's bytes stay valid: the map lives until the tx ends. */
        int brc = dump_bucket(d, tx, vis, k);
        if (brc != 0) {
            rc = brc;
            break;
        }
    }
    if (rc != BOLT_NOTFOUND)
        goto bolt_fail;
    if (a->o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "buckets", d->buckets);
        d->buckets = NULL;
        code = etcd_json_print(a->cmd, out, doc);
    }
    if (d->damaged > 0) {
        fprintf(err, "strata %s: %s: damaged record: %s (%" PRIu64 " damaged records in all)\n",
                a->cmd, p->given, d->first, d->damaged);
        if (code == CLI_OK)
            code = CLI_FINDING;
    }
    goto out;
bolt_fail:
    code = cli_report_db(err, a->cmd, p->given, db, rc);
out:
    json_decref(d->buckets);
    d->buckets = NULL;
    if (c != NULL)
        bolt_cursor_close(c);
    bolt_visited_free(vis);
    bolt_tx_rollback(tx);
    bolt_close(db);
    return code;
}

int etcd_dump(int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(&etcd_dump_spec, argc, argv, &a);
    if (code >= 0)
        return code;
    dump_ctx d = { .a = &a };
    return etcd_run_db(&a, argv[optind], dump_read, &d);
}
