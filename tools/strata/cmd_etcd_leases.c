/*
 * cmd_etcd_leases.c: `strata etcd leases [--keys] DB`: every lease of the
 * `lease` bucket (the lessor's record codec, lease/leasepb.h, with its
 * schema check): its ID, granted TTL, the remaining TTL a checkpoint
 * stored, and the keys attached to it -- the keys whose newest revision
 * names the lease, which is how etcd's lessor finds them when it starts
 * (docs/schema.md section 7). What `etcdctl lease list` and `etcdctl lease
 * timetolive --keys` answer, less the time that passed since the member
 * stopped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_cmd.h"
#include "leasepb.h"

static const cli_option leases_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { "keys", ETCD_OPT_KEYS, NULL, "list each lease's attached keys", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_leases_spec = {
    .name = "etcd leases",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_KEYS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = leases_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB",
    .about = "Every lease, by ID: one line 'ID granted-ttl=G ttl=T [remaining-ttl=R]\n"
             "keys=N' (ID in hex, as etcdctl prints it). granted-ttl is the lease's TTL;\n"
             "remaining-ttl the remaining TTL a checkpoint stored (etcd 3.4 with\n"
             "--experimental-enable-lease-checkpoint); ttl the TTL the lease gets when the\n"
             "member starts (the checkpointed one if stored, else the granted one).\n"
             "With --keys, the attached keys follow, one per line, indented.",
    .json = "etcdctl lease list -w json's document with timetolive's fields per lease:\n"
            "revision: CURRENT   leases: [{id: N (decimal), ttl: T, granted-ttl: G,\n"
            "  remaining-ttl: R (only when a checkpoint stored one), keys: [B64...]\n"
            "  (only with --keys, sorted)}]",
    .exits = "0 listed; 1 a damaged lease or key record; 2 usage; 3 cannot open as an\n"
             "etcd db",
    .example = "$ strata etcd leases --keys /var/lib/etcd\n"
               "$ strata etcd leases -w json /var/lib/etcd/member/snap/db",
};

typedef struct lease_row {
    lease__pb pb;
    size_t first, nkeys; /* its keys: attached[first, first + nkeys) after sorting */
} lease_row;

typedef struct attached {
    int64_t lease;
    unsigned char *key;
    size_t len;
} attached;

typedef struct lease_scan {
    const etcd_args *a;
    lease_row *rows;
    size_t n, cap;
    attached *att;
    size_t natt, attcap;
    bolt_val bad_key;
    int bad_rc;
    char why[200];
} lease_scan;

static int lease_each(void *arg, bolt_val k, bolt_val v)
{
    lease_scan *s = arg;
    lease_row r = { 0 };
    int rc = lease__pb_decode(v.data, v.size, &r.pb);
    if (rc == 0)
        rc = lease__record_check(k.data, k.size, &r.pb, s->why, sizeof s->why);
    if (rc == 0 && (r.pb.ttl < 0 || r.pb.remaining_ttl < 0)) {
        snprintf(s->why, sizeof s->why, "a negative TTL");
        rc = LEASE_ECORRUPT;
    }
    if (rc != 0) {
        s->bad_rc = rc;
        s->bad_key = k;
        return 1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        lease_row *p = realloc(s->rows, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        s->rows = p;
        s->cap = cap;
    }
    s->rows[s->n++] = r;
    return 0;
}

static int row_cmp(const void *pa, const void *pb)
{
    const lease_row *a = pa, *b = pb;
    return a->pb.id < b->pb.id ? -1 : a->pb.id > b->pb.id;
}

static int att_cmp(const void *pa, const void *pb)
{
    const attached *a = pa, *b = pb;
    if (a->lease != b->lease)
        return a->lease < b->lease ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->key, b->key, n) : 0;
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static void scan_free(lease_scan *s)
{
    for (size_t i = 0; i < s->natt; i++)
        free(s->att[i].key);
    free(s->att);
    free(s->rows);
    s->att = NULL;
    s->rows = NULL;
    s->n = s->cap = s->natt = s->attcap = 0;
}

/* The keys alive now with a lease, from a streamed range over every key. */
static int collect_attached(lease_scan *s, mvcc_store *store)
{
    mvcc_range_iter *it;
    int rc = mvcc_range_iter_open(store, NULL, 0, "", 0, 0, 0, true, &it);
    if (rc != 0)
        return rc;
    const mvcc_kv *kvs;
    size_t n;
    while ((rc = mvcc_range_iter_next(it, &kvs, &n)) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (kvs[i].lease == 0)
                continue;
            if (s->natt == s->attcap) {
                size_t cap = s->attcap ? 2 * s->attcap : 64;
                attached *p = realloc(s->att, cap * sizeof *p);
                if (p == NULL) {
                    rc = -ENOMEM;
                    goto out;
                }
                s->att = p;
                s->attcap = cap;
            }
            attached *e = &s->att[s->natt];
            e->lease = kvs[i].lease;
            e->len = kvs[i].key_len;
            e->key = malloc(e->len + 1);
            if (e->key == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(e->key, kvs[i].key, e->len);
            s->natt++;
        }
    }
    if (rc == MVCC_EITERDONE)
        rc = 0;
out:
    mvcc_range_iter_close(it);
    return rc;
}

static int leases_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    lease_scan *s = ctx;
    const etcd_args *a = s->a;
    scan_free(s);
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    int rc = backend_read_tx_for_each(d.rtx, bolt_str("lease"), lease_each, s);
    if (rc == BACKEND_EBUCKETNOTFOUND)
        rc = 0; /* a store that never had a lessor */
    if (rc == 1) {
        char *k = cli_bytes_str(s->bad_key.data, s->bad_key.size, CLI_FORMAT_HEX, NULL);
        fprintf(err, "strata %s: %s: damaged record: lease bucket key %s: %s\n", a->cmd, p->given,
                k != NULL ? k : "?", s->why[0] != '\0' ? s->why : cli_strerror(s->bad_rc));
        free(k);
        code = CLI_FINDING;
        goto out;
    }
    if (rc == 0)
        rc = collect_attached(s, d.store);
    if (rc != 0) {
        bool damaged = rc == MVCC_ECORRUPT;
        fprintf(err, "strata %s: %s: %s%s\n", a->cmd, p->given, damaged ? "damaged record: " : "",
                cli_strerror(rc));
        code = damaged ? CLI_FINDING : cli_exit_for(rc);
        goto out;
    }
    if (s->n > 1)
        qsort(s->rows, s->n, sizeof *s->rows, row_cmp);
    if (s->natt > 1)
        qsort(s->att, s->natt, sizeof *s->att, att_cmp);
    /* Join: both sorted by lease ID. Keys naming a lease with no record are
     * not attached to anything (etcd's restore skips them too). */
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        while (j < s->natt && s->att[j].lease < s->rows[i].pb.id)
            j++;
        s->rows[i].first = j;
        while (j < s->natt && s->att[j].lease == s->rows[i].pb.id)
            j++;
        s->rows[i].nkeys = j - s->rows[i].first;
    }
    if (a->o.json) {
        json_t *doc = json_object(), *arr = json_array();
        etcd_json_set_int(doc, "revision", mvcc_store_rev(d.store));
        for (size_t i = 0; i < s->n; i++) {
            const lease_row *r = &s->rows[i];
            json_t *l = json_object();
            cli_json_set(l, "id", json_integer(r->pb.id));
            cli_json_set(l, "ttl",
                         json_integer(r->pb.remaining_ttl > 0 ? r->pb.remaining_ttl : r->pb.ttl));
            cli_json_set(l, "granted-ttl", json_integer(r->pb.ttl));
            if (r->pb.remaining_ttl > 0)
                cli_json_set(l, "remaining-ttl", json_integer(r->pb.remaining_ttl));
            if (a->keys) {
                json_t *keys = json_array();
                for (size_t k = r->first; k < r->first + r->nkeys; k++)
                    cli_json_append(keys, etcd_json_b64(s->att[k].key, s->att[k].len));
                cli_json_set(l, "keys", keys);
            }
            cli_json_append(arr, l);
        }
        cli_json_set(doc, "leases", arr);
        code = etcd_json_print(a->cmd, out, doc);
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        const lease_row *r = &s->rows[i];
        fprintf(out, "%016" PRIx64 " granted-ttl=%" PRId64 " ttl=%" PRId64, (uint64_t)r->pb.id,
                r->pb.ttl, r->pb.remaining_ttl > 0 ? r->pb.remaining_ttl : r->pb.ttl);
        if (r->pb.remaining_ttl > 0)
            fprintf(out, " remaining-ttl=%" PRId64, r->pb.remaining_ttl);
        fprintf(out, " keys=%zu\n", r->nkeys);
        for (size_t k = r->first; a->keys && k < r->first + r->nkeys; k++) {
            fprintf(out, "  ");
            cli_print_bytes(out, s->att[k].key, s->att[k].len, a->o.key_fmt);
            fputc('\n', out);
        }
    }
out:
    etcd_db_close(&d);
    return code;
}

int etcd_leases(int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(&etcd_leases_spec, argc, argv, &a);
    if (code >= 0)
        return code;
    lease_scan s = { .a = &a };
    code = etcd_run_db(&a, argv[optind], leases_read, &s);
    scan_free(&s);
    return code;
}
