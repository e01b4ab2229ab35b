/*
 * cmd_etcd.c: `strata etcd COMMAND [options] DB [args]`: etcd's answers
 * from a member's db file, without starting etcd (issue 16). This file
 * dispatches to the subcommands, holds their shared command line, and
 * implements status, get and hashkv; history, leases, dump and compact
 * have files of their own (cmd_etcd_*.c).
 *
 * DB is a db file, a member dir, a data dir or an etcd snapshot (its
 * SHA-256 trailer verified first); etcd_db.h. Read commands open it
 * read-only (a shared lock, or none with --live) and never write. --json
 * (or etcdctl's -w json) prints etcdctl's JSON where etcdctl has the same
 * answer: its field names, base64 bytes, zero fields left out.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_cmd.h"
#include "etcd_pb.h"

/* ---- the shared command line ---------------------------------------------------- */

int etcd_on_option(int c, const char *arg, void *ctx)
{
    etcd_args *a = ctx;
    uint64_t v;
    switch (c) {
    case ETCD_OPT_WRITE_OUT:
        if (strcmp(arg, "json") == 0) {
            a->o.json = true; /* cli_parse_ctx initialised a->o before the options */
            return 0;
        }
        if (strcmp(arg, "simple") == 0)
            return 0;
        fprintf(stderr, "strata %s: -w %s: the formats are json and simple\n", a->cmd, arg);
        return -1;
    case ETCD_OPT_PREFIX:
        a->prefix = true;
        return 0;
    case ETCD_OPT_FROM_KEY:
        a->from_key = true;
        return 0;
    case ETCD_OPT_KEYS_ONLY:
        a->keys_only = true;
        return 0;
    case ETCD_OPT_COUNT_ONLY:
        a->count_only = true;
        return 0;
    case ETCD_OPT_KEYS:
        a->keys = true;
        return 0;
    case ETCD_OPT_DECODE:
        a->decode = true;
        return 0;
    case ETCD_OPT_REV:
    case ETCD_OPT_LIMIT:
        if (cli_parse_u64(a->cmd, c == ETCD_OPT_REV ? "--rev" : "--limit", arg, &v) != 0)
            return -1;
        if (v > (uint64_t)INT64_MAX) {
            fprintf(stderr, "strata %s: %s %s is out of range\n", a->cmd,
                    c == ETCD_OPT_REV ? "--rev" : "--limit", arg);
            return -1;
        }
        if (c == ETCD_OPT_REV) {
            a->rev = (int64_t)v;
            a->rev_set = true;
        } else {
            a->limit = (int64_t)v;
        }
        return 0;
    default:
        return -1;
    }
}

int etcd_parse(const cli_command_spec *spec, int argc, char **argv, etcd_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = spec->name;
    return cli_parse_ctx(spec, argc, argv, &a->o, a);
}

/* ---- the dispatcher ---------------------------------------------------------------- */

/* The subcommands, each with its own option table (etcd_*_spec). */
static const cli_subcommand etcd_subs[] = {
    { "status", "revisions, consistent index, sizes, hashes, leases, members, auth", etcd_status,
      &etcd_status_spec },
    { "get", "etcdctl get: keys at any revision not compacted", etcd_get, &etcd_get_spec },
    { "history", "every stored revision of a key (or prefix), generation by generation",
      etcd_history, &etcd_history_spec },
    { "leases", "leases: ID, TTLs, attached keys", etcd_leases, &etcd_leases_spec },
    { "hashkv", "etcd's HashKV at a revision", etcd_hashkv, &etcd_hashkv_spec },
    { "compact", "compact a stopped member's db to a revision (as etcd does)", etcd_compact,
      &etcd_compact_spec },
    { "dump", "every bucket, records decoded with --decode", etcd_dump, &etcd_dump_spec },
    { NULL, NULL, NULL, NULL },
};

/*
 * `strata etcd`: the subcommands above (cli_dispatch); `strata etcd COMMAND
 * --help`, bash completion and the man page's "## etcd COMMAND" sections
 * come from each one's own table.
 */
const cli_command_spec cmd_etcd_spec = {
    .name = "etcd",
    .min_args = 1,
    .max_args = -1,
    .common = CLI_C_NONE,
    .synopsis = "COMMAND [options] DB [args]",
    .about = "etcd's answers from a member's data, without starting etcd.\n"
             "DB is a db file, a member dir (DIR/snap/db), a data dir (DIR/member/snap/db)\n"
             "or an etcd snapshot (its SHA-256 trailer is verified first); - is standard\n"
             "input (a db or a snapshot, copied to a temporary file). Read commands\n"
             "open it read-only and never write; --live reads a file a running etcd holds.\n"
             "--json (or -w json) prints etcdctl's JSON where etcdctl gives the same\n"
             "answer.",
    .exits = "0 ok; 1 a finding (a snapshot whose trailer does not match, a damaged\n"
             "record, a compacted or future revision, no such key in history); 2 usage;\n"
             "3 cannot open the file as an etcd db (missing, not bolt, not etcd's, locked)",
    .example = "$ strata etcd status /var/lib/etcd\n"
               "$ strata etcd get --prefix -w json /var/lib/etcd/member/snap/db /registry/\n"
               "$ strata etcd get --live --rev 42 /var/lib/etcd foo",
    .subs = etcd_subs,
};

int cmd_etcd(int argc, char **argv)
{
    return cli_dispatch(&cmd_etcd_spec, argc, argv);
}

int etcd_run_db(const etcd_args *a, const char *db_arg, etcd_read_fn fn, void *ctx)
{
    etcd_path p;
    int code = etcd_resolve(a->cmd, db_arg, &p);
    if (code != CLI_OK)
        return code;
    code = etcd_run(a->cmd, &a->o, &p, fn, ctx);
    etcd_path_free(&p);
    return code;
}

/* A subcommand whose read needs only its command line (status, hashkv): parse, read DB. */
static int etcd_run_plain(const cli_command_spec *spec, etcd_read_fn fn, int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(spec, argc, argv, &a);
    if (code >= 0)
        return code;
    return etcd_run_db(&a, argv[optind], fn, &a);
}

/* ---- status -------------------------------------------------------------------------- */

static const cli_option status_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_status_spec = {
    .name = "etcd status",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = status_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB",
    .about = "What a member's db holds: the current, compacted and scheduled compaction\n"
             "revisions, the consistent index, live keys and stored revisions, the db size\n"
             "and the size in use, the backend hash (etcd's Hash) and HashKV, the number of\n"
             "leases, the cluster version, the members and whether auth is enabled.",
    .json = "header: {revision: N}   dbSize: N   dbSizeInUse: N   (as etcdctl endpoint\n"
            "  status -w json's Status; zero fields left out)\n"
            "compact_revision: N (-1: never)   scheduled_compact_revision: N (-1: none)\n"
            "consistent_index: N   keys: N (live)   revisions: N (stored)\n"
            "hash: N (backend hash)   hash_kv: N   leases: N\n"
            "cluster_version: S (when stored)   auth_enabled: BOOL   auth_revision: N\n"
            "members: [{ID, name, peerURLs, clientURLs, isLearner}] (etcdctl member list's)\n"
            "members_removed: [ID]   (IDs are JSON numbers even above 2^63, as etcdctl\n"
            "  prints them; read them with a parser that keeps 64-bit integers)",
    .example = "$ strata etcd status /var/lib/etcd\n"
               "$ strata etcd status --live --json /var/lib/etcd/member/snap/db",
};

/* backend_kv_fn: count the pairs. */
static int count_each(void *arg, bolt_val k, bolt_val v)
{
    (void)k;
    (void)v;
    (*(uint64_t *)arg)++;
    return 0;
}

typedef struct member_scan {
    json_t *members, *removed;
    const char *bad_bucket;
    char why[200];
} member_scan;

static int member_each(void *arg, bolt_val k, bolt_val v)
{
    member_scan *s = arg;
    json_t *m = etcd_member_json(k, v, s->why, sizeof s->why);
    if (m == NULL) {
        s->bad_bucket = "members";
        return 1;
    }
    cli_json_append(s->members, m);
    return 0;
}

static int removed_each(void *arg, bolt_val k, bolt_val v)
{
    (void)v;
    member_scan *s = arg;
    uint64_t id;
    if (!etcd_member_id(k, &id)) {
        snprintf(s->why, sizeof s->why, "the key is not a member ID (lower-case hex)");
        s->bad_bucket = "members_removed";
        return 1;
    }
    cli_json_append(s->removed, etcd_json_u64(id));
    return 0;
}

/* Read the members buckets into s: CLI_OK, 1 (a damaged record, printed) or the read's code. */
static int read_members(const etcd_args *a, const etcd_path *p, backend_read_tx *tx, FILE *err,
                        member_scan *s)
{
    static const char *const names[] = { "members", "members_removed" };
    for (int i = 0; i < 2; i++) {
        int rc = backend_read_tx_for_each(tx, bolt_str(names[i]),
                                          i == 0 ? member_each : removed_each, s);
        if (rc == BACKEND_EBUCKETNOTFOUND)
            continue;
        if (rc == 1) {
            fprintf(err, "strata %s: %s: damaged record in bucket %s: %s\n", a->cmd, p->given,
                    s->bad_bucket, s->why);
            return CLI_FINDING;
        }
        if (rc != 0) {
            fprintf(err, "strata %s: %s: %s\n", a->cmd, p->given, cli_strerror(rc));
            return cli_exit_for(rc);
        }
    }
    return CLI_OK;
}

static void print_strings(FILE *out, json_t *arr)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        fprintf(out, "%s%s", i > 0 ? "," : "", json_string_value(e));
    }
}

static void print_u64_json(FILE *out, json_t *v)
{
    fprintf(out, "%" PRIx64, etcd_json_u64_value(v));
}

static int status_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    const etcd_args *a = ctx;
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    etcd_meta m;
    member_scan ms = { json_array(), json_array(), NULL, "" };
    mvcc_range_result rr;
    mvcc_range_result_init(&rr);
    uint64_t revisions = 0, leases = 0;
    uint32_t hash = 0;
    mvcc_hash_kv hk = { 0 };
    if ((code = etcd_meta_read(a->cmd, p, d.rtx, err, &m)) != CLI_OK)
        goto out;
    if ((code = read_members(a, p, d.rtx, err, &ms)) != CLI_OK)
        goto out_meta;
    mvcc_range_options ro = { .count_only = true };
    int rc = mvcc_store_range(d.store, NULL, 0, "", 0, &ro, &rr);
    const char *what = "counting the keys";
    if (rc == 0) {
        what = "counting the revisions";
        rc = backend_read_tx_for_each(d.rtx, bolt_str("key"), count_each, &revisions);
    }
    if (rc == 0) {
        what = "counting the leases";
        rc = backend_read_tx_for_each(d.rtx, bolt_str("lease"), count_each, &leases);
        if (rc == BACKEND_EBUCKETNOTFOUND)
            rc = 0;
    }
    if (rc == 0) {
        what = "hashing the file";
        rc = backend_hash(d.be, NULL, 0, &hash);
    }
    if (rc == 0) {
        what = "HashKV";
        rc = mvcc_store_hash_kv(d.store, 0, &hk);
    }
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s: %s\n", a->cmd, p->given, what, cli_strerror(rc));
        code = cli_exit_for(rc);
        goto out_meta;
    }
    int64_t rev = mvcc_store_rev(d.store), compacted = mvcc_store_compact_rev(d.store);
    uint64_t size = 0, in_use = 0;
    if ((code = etcd_sizes(a->cmd, &a->o, p, err, &size, &in_use)) != CLI_OK)
        goto out_meta;
    uint64_t ci = mvcc_store_consistent_index(d.store);
    if (a->o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "header", etcd_json_header(rev));
        etcd_json_set_int(doc, "dbSize", (int64_t)size);
        etcd_json_set_int(doc, "dbSizeInUse", (int64_t)in_use);
        cli_json_set(doc, "compact_revision", json_integer(compacted));
        cli_json_set(doc, "scheduled_compact_revision", json_integer(m.scheduled_compact));
        cli_json_set(doc, "consistent_index", etcd_json_u64(ci));
        cli_json_set(doc, "keys", json_integer(rr.count));
        cli_json_set(doc, "revisions", etcd_json_u64(revisions));
        cli_json_set(doc, "hash", json_integer(hash));
        cli_json_set(doc, "hash_kv", json_integer(hk.hash));
        cli_json_set(doc, "leases", etcd_json_u64(leases));
        if (m.cluster_version != NULL)
            cli_json_set(doc, "cluster_version", json_string(m.cluster_version));
        cli_json_set(doc, "auth_enabled", json_boolean(m.auth_enabled));
        cli_json_set(doc, "auth_revision", etcd_json_u64(m.auth_revision));
        cli_json_set(doc, "members", ms.members);
        cli_json_set(doc, "members_removed", ms.removed);
        ms.members = ms.removed = NULL;
        code = etcd_json_print(a->cmd, out, doc);
        goto out_meta;
    }
    fprintf(out, "revision: %" PRId64 "\n", rev);
    fprintf(out, "compact_revision: %" PRId64 "%s\n", compacted, compacted < 0 ? " (never)" : "");
    fprintf(out, "scheduled_compact_revision: %" PRId64 "%s\n", m.scheduled_compact,
            m.scheduled_compact < 0 ? " (none)" : "");
    fprintf(out, "consistent_index: %" PRIu64 "%s\n", ci,
            m.has_consistent_index ? "" : " (not stored)");
    fprintf(out, "keys: %" PRId64 "\n", rr.count);
    fprintf(out, "revisions: %" PRIu64 "\n", revisions);
    fprintf(out, "db_size: %" PRIu64 "\n", size);
    fprintf(out, "db_size_in_use: %" PRIu64 "\n", in_use);
    fprintf(out, "hash: %" PRIu32 "\n", hash);
    fprintf(out, "hash_kv: %" PRIu32 "\n", hk.hash);
    fprintf(out, "leases: %" PRIu64 "\n", leases);
    fprintf(out, "cluster_version: %s\n",
            m.cluster_version != NULL ? m.cluster_version : "(not stored)");
    fprintf(out, "auth_enabled: %s\n", m.auth_enabled ? "true" : "false");
    fprintf(out, "auth_revision: %" PRIu64 "\n", m.auth_revision);
    fprintf(out, "members: %zu\n", json_array_size(ms.members));
    size_t i;
    json_t *e;
    json_array_foreach(ms.members, i, e)
    {
        fprintf(out, "member ");
        print_u64_json(out, json_object_get(e, "ID"));
        json_t *name = json_object_get(e, "name");
        fprintf(out, " name=%s", name != NULL ? json_string_value(name) : "");
        fprintf(out, " peer_urls=");
        if (json_object_get(e, "peerURLs") != NULL)
            print_strings(out, json_object_get(e, "peerURLs"));
        fprintf(out, " client_urls=");
        if (json_object_get(e, "clientURLs") != NULL)
            print_strings(out, json_object_get(e, "clientURLs"));
        if (json_is_true(json_object_get(e, "isLearner")))
            fprintf(out, " learner");
        fputc('\n', out);
    }
    json_array_foreach(ms.removed, i, e)
    {
        fprintf(out, "removed member ");
        print_u64_json(out, e);
        fputc('\n', out);
    }
out_meta:
    etcd_meta_free(&m);
out:
    json_decref(ms.members);
    json_decref(ms.removed);
    mvcc_range_result_release(&rr);
    etcd_db_close(&d);
    return code;
}

int etcd_status(int argc, char **argv)
{
    return etcd_run_plain(&etcd_status_spec, status_read, argc, argv);
}

/* ---- hashkv ---------------------------------------------------------------------------- */

static const cli_option hashkv_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { "rev", ETCD_OPT_REV, "N", "hash the revisions up to N (0, the default: the current one)",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_hashkv_spec = {
    .name = "etcd hashkv",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = hashkv_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB",
    .about = "etcd's HashKV (the number 'etcdctl endpoint hashkv' prints): CRC-32C over\n"
             "the key bucket's revisions up to --rev that a compaction at it would keep.\n"
             "Two members with the same history have the same HashKV at every revision.\n"
             "Prints 'hash: H', 'revision: CURRENT', 'compact_revision: C'.",
    .json = "header: {revision: CURRENT}   hash: H   compact_revision: C (-1: never)\n"
            "  (etcdctl endpoint hashkv -w json's HashKV; zero fields left out)",
    .exits = "0 hashed; 1 --rev is compacted (at or below the compacted revision) or in\n"
             "the future, or a damaged record; 2 usage; 3 cannot open as an etcd db",
    .example = "$ strata etcd hashkv /var/lib/etcd\n"
               "$ strata etcd hashkv --rev 42 -w json /var/lib/etcd/member/snap/db",
};

static int hashkv_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    const etcd_args *a = ctx;
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    mvcc_hash_kv hk = { 0 };
    int rc = mvcc_store_hash_kv(d.store, a->rev, &hk);
    if (rc == MVCC_ECOMPACTED || rc == MVCC_EFUTUREREV) {
        fprintf(err,
                "strata %s: %s: --rev %" PRId64 ": %s (current revision %" PRId64
                ", compacted at %" PRId64 ")\n",
                a->cmd, p->given, a->rev, cli_strerror(rc), mvcc_store_rev(d.store),
                mvcc_store_compact_rev(d.store));
        code = CLI_FINDING;
    } else if (rc != 0) {
        fprintf(err, "strata %s: %s: %s\n", a->cmd, p->given, cli_strerror(rc));
        code = cli_exit_for(rc);
    } else if (a->o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "header", etcd_json_header(hk.current_rev));
        etcd_json_set_int(doc, "hash", hk.hash);
        etcd_json_set_int(doc, "compact_revision", hk.compact_rev);
        code = etcd_json_print(a->cmd, out, doc);
    } else {
        fprintf(out, "hash: %" PRIu32 "\nrevision: %" PRId64 "\ncompact_revision: %" PRId64 "\n",
                hk.hash, hk.current_rev, hk.compact_rev);
    }
    etcd_db_close(&d);
    return code;
}

int etcd_hashkv(int argc, char **argv)
{
    return etcd_run_plain(&etcd_hashkv_spec, hashkv_read, argc, argv);
}

/* ---- get ------------------------------------------------------------------------------- */

static const cli_option get_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { "prefix", ETCD_OPT_PREFIX, NULL, "the keys starting with KEY (KEY \"\": every key)", NULL },
    { "from-key", ETCD_OPT_FROM_KEY, NULL, "the keys >= KEY", NULL },
    { "rev", ETCD_OPT_REV, "N", "read at revision N (0, the default: the current one)", NULL },
    { "limit", ETCD_OPT_LIMIT, "N", "at most N keys (0: no limit); 'more' says if there are more",
      NULL },
    { "keys-only", ETCD_OPT_KEYS_ONLY, NULL, "keys without values", NULL },
    { "count-only", ETCD_OPT_COUNT_ONLY, NULL, "only the number of keys", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_get_spec = {
    .name = "etcd get",
    .min_args = 2,
    .max_args = 3,
    .common = CLI_C_KEYS | CLI_C_VALUES | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = get_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB KEY [END]",
    .about = "etcdctl get, from the db: KEY alone, the range [KEY, END), the keys with the\n"
             "prefix KEY (--prefix) or every key >= KEY (--from-key; END 0x00 means the\n"
             "same), at the current revision or at --rev N (any revision not compacted).\n"
             "Prints each key and then its value on the next line (keys and values in the\n"
             "CLI's formats: text, or 0x-hex when not printable); --keys-only only the\n"
             "keys, --count-only only the count. No key found is not an error (as etcdctl).",
    .json = "etcdctl get -w json's document: header: {revision: CURRENT}\n"
            "kvs: [{key: B64, create_revision, mod_revision, version, value: B64, lease}]\n"
            "more: BOOL   count: N   (bytes base64; zero and false fields left out)",
    .exits = "0 read (even when nothing matched); 1 --rev is compacted or in the future,\n"
             "or a damaged record; 2 usage; 3 cannot open as an etcd db",
    .example =
            "$ strata etcd get /var/lib/etcd foo\n"
            "$ strata etcd get --prefix --rev 40 -w json /var/lib/etcd/member/snap/db /registry/",
};

typedef struct get_req {
    etcd_args *a;
    unsigned char *key, *end;
    size_t klen, elen;
    bool has_end; /* false: the single key */
} get_req;

/* etcd's prefix end (clientv3.GetPrefixRangeEnd): the key with its last byte
 * below 0xff incremented and what follows dropped; none: every key >= KEY. */
static void prefix_end(get_req *g)
{
    size_t n = g->klen;
    while (n > 0 && g->key[n - 1] == 0xff)
        n--;
    g->has_end = true;
    if (n == 0) {
        g->elen = 0; /* no end: from the key on */
        return;
    }
    memcpy(g->end, g->key, n);
    g->end[n - 1]++;
    g->elen = n;
}

static int get_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    get_req *g = ctx;
    const etcd_args *a = g->a;
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    mvcc_txn *t = NULL;
    mvcc_range_result rr;
    mvcc_range_result_init(&rr);
    int rc = mvcc_txn_read_begin(d.store, &t);
    if (rc == 0) {
        mvcc_range_options ro = {
            .rev = a->rev, .limit = a->limit, .count_only = a->count_only, .keys_only = a->keys_only
        };
        /* mvcc's range ends: NULL the single key; "" (length 0) every key >= key. */
        const void *end = !g->has_end ? NULL : g->end != NULL ? (const void *)g->end : "";
        rc = mvcc_txn_range(t, g->key, g->klen, end, g->elen, &ro, &rr);
    }
    if (rc == MVCC_ECOMPACTED || rc == MVCC_EFUTUREREV) {
        fprintf(err,
                "strata %s: %s: --rev %" PRId64 ": %s (current revision %" PRId64
                ", compacted at %" PRId64 ")\n",
                a->cmd, p->given, a->rev, cli_strerror(rc), mvcc_store_rev(d.store),
                mvcc_store_compact_rev(d.store));
        code = CLI_FINDING;
    } else if (rc != 0) {
        bool damaged = rc == MVCC_ECORRUPT;
        fprintf(err, "strata %s: %s: %s%s\n", a->cmd, p->given, damaged ? "damaged record: " : "",
                cli_strerror(rc));
        code = damaged ? CLI_FINDING : cli_exit_for(rc);
    } else if (a->o.json) {
        /* etcd's applier: More when the store returned more than the limit. */
        bool more = !a->count_only && a->limit > 0 && rr.count > a->limit;
        json_t *doc = json_object(), *kvs = json_array();
        cli_json_set(doc, "header", etcd_json_header(rr.rev));
        for (size_t i = 0; i < rr.n; i++)
            cli_json_append(kvs, etcd_json_kv(&rr.kvs[i], a->keys_only));
        if (rr.n > 0)
            cli_json_set(doc, "kvs", kvs);
        else
            json_decref(kvs);
        if (more)
            cli_json_set(doc, "more", json_true());
        etcd_json_set_int(doc, "count", rr.count);
        code = etcd_json_print(a->cmd, out, doc);
    } else if (a->count_only) {
        fprintf(out, "%" PRId64 "\n", rr.count);
    } else {
        for (size_t i = 0; i < rr.n; i++) {
            cli_print_bytes(out, rr.kvs[i].key, rr.kvs[i].key_len, a->o.key_fmt);
            fputc('\n', out);
            if (!a->keys_only) {
                cli_print_bytes(out, rr.kvs[i].value, rr.kvs[i].value_len, a->o.value_fmt);
                fputc('\n', out);
            }
        }
    }
    mvcc_range_result_release(&rr);
    mvcc_txn_end(t, NULL);
    etcd_db_close(&d);
    return code;
}

int etcd_get(int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(&etcd_get_spec, argc, argv, &a);
    if (code >= 0)
        return code;
    get_req g = { .a = &a };
    const char *why = NULL;
    if (a.prefix && a.from_key)
        why = "--prefix and --from-key cannot be set at the same time, choose one";
    else if ((a.prefix || a.from_key) && argc - optind > 2)
        why = "END cannot be given with --prefix or --from-key";
    if (why != NULL) {
        fprintf(stderr, "strata %s: %s\n", a.cmd, why);
        return CLI_USAGE;
    }
    if (cli_arg_bytes(a.cmd, argv[optind + 1], a.o.key_fmt, &g.key, &g.klen) != 0)
        return CLI_USAGE;
    if (argc - optind > 2) {
        if (cli_arg_bytes(a.cmd, argv[optind + 2], a.o.key_fmt, &g.end, &g.elen) != 0) {
            free(g.key);
            return CLI_USAGE;
        }
        g.has_end = g.elen > 0; /* etcd: an empty END is the single key */
        if (g.elen == 1 && g.end[0] == 0)
            g.elen = 0; /* etcd: an END of "\0" means every key >= KEY */
    } else if (a.prefix) {
        g.end = malloc(g.klen + 1);
        if (g.end == NULL) {
            free(g.key);
            fprintf(stderr, "strata %s: out of memory\n", a.cmd);
            return CLI_INTERNAL;
        }
        prefix_end(&g);
    } else if (a.from_key) {
        g.has_end = true;
        g.elen = 0;
    }
    if (g.klen == 0 && !g.has_end) {
        fprintf(stderr,
                "strata %s: the key is empty (etcd: key is not provided); use --prefix "
                "\"\" for every key\n",
                a.cmd);
        free(g.key);
        free(g.end);
        return CLI_USAGE;
    }
    code = etcd_run_db(&a, argv[optind], get_read, &g);
    free(g.key);
    free(g.end);
    return code;
}
