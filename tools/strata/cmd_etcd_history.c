/*
 * cmd_etcd_history.c: `strata etcd history [--prefix] DB KEY`: every
 * revision of the key (or of every key with the prefix) that the `key`
 * bucket still stores, oldest first, split into generations (a delete ends
 * one): puts with their create/mod revision, version, lease and value, and
 * tombstones. etcdctl cannot show this (only one revision per get); etcd's
 * watch from an old revision shows the same changes for revisions not
 * compacted.
 *
 * The bucket is read in revision order with the store's own codecs
 * (mvcc/revkey.h, mvcc/kvpb.h) and every record is checked against the
 * schema: a damaged one is named and the command exits 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "etcd_cmd.h"
#include "kvpb.h"
#include "revkey.h"

static const cli_option history_options[] = {
    ETCD_OPTION_WRITE_OUT,
    { "prefix", ETCD_OPT_PREFIX, NULL, "every key starting with KEY (KEY \"\": every key)", NULL },
    { NULL, 0, NULL, NULL, NULL },
};

const cli_command_spec etcd_history_spec = {
    .name = "etcd history",
    .min_args = 2,
    .max_args = 2,
    .common = CLI_C_KEYS | CLI_C_VALUES | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .options = history_options,
    .on_option = etcd_on_option,
    .synopsis = "[options] DB KEY",
    .about = "Every stored revision of KEY (with --prefix: of every key starting with KEY),\n"
             "oldest first, generation by generation: a put shows its revision.sub,\n"
             "create and mod revisions, version, lease and value; a delete ends its\n"
             "generation. After a compaction at C only the newest revision at or below C\n"
             "of each key alive at C is stored, and everything above C.",
    .json = "header: {revision: CURRENT}   compact_revision: C (-1: never)\n"
            "keys: [{key: B64, generations: [[EVENT...]...]}]\n"
            "EVENT: {type: \"PUT\", revision: {main, sub}, kv: {key, create_revision,\n"
            "  mod_revision, version, value, lease}} (etcdctl's KeyValue: base64, zero\n"
            "  fields left out) | {type: \"DELETE\", revision: {main, sub}, kv: {key,\n"
            "  mod_revision}}",
    .exits = "0 printed; 1 no revision of the key is stored, or a damaged record; 2 usage;\n"
             "3 cannot open as an etcd db",
    .example = "$ strata etcd history /var/lib/etcd foo\n"
               "$ strata etcd history --prefix --json /var/lib/etcd/member/snap/db /registry/pods/",
};

/* One stored revision of a matching key (views into the read transaction). */
typedef struct hist_event {
    mvcc__revkey rk;
    mvcc__kv kv;
    size_t seq; /* bucket order, to keep it within a key */
} hist_event;

typedef struct hist_scan {
    const etcd_args *a;
    const unsigned char *key;
    size_t klen;
    hist_event *ev;
    size_t n, cap;
    /* the first damaged record */
    int bad_rc;
    bolt_val bad_key;
    char why[200];
} hist_scan;

static bool matches(const hist_scan *s, const mvcc__kv *kv)
{
    if (s->a->prefix)
        return kv->key_len >= s->klen && (s->klen == 0 || memcmp(kv->key, s->key, s->klen) == 0);
    return kv->key_len == s->klen && memcmp(kv->key, s->key, s->klen) == 0;
}

static int hist_each(void *arg, bolt_val k, bolt_val v)
{
    hist_scan *s = arg;
    hist_event e = { .seq = s->n };
    int rc = mvcc__revkey_decode(k.data, k.size, &e.rk);
    if (rc == 0)
        rc = mvcc__kv_decode(v.data, v.size, &e.kv);
    if (rc == 0)
        rc = mvcc__kv_check(&e.kv, &e.rk, s->why, sizeof s->why);
    if (rc != 0) {
        s->bad_rc = rc;
        s->bad_key = k;
        return 1;
    }
    if (!matches(s, &e.kv))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        hist_event *p = realloc(s->ev, cap * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        s->ev = p;
        s->cap = cap;
    }
    s->ev[s->n++] = e;
    return 0;
}

/* Key order, then bucket (revision) order. */
static int event_cmp(const void *pa, const void *pb)
{
    const hist_event *a = pa, *b = pb;
    size_t n = a->kv.key_len < b->kv.key_len ? a->kv.key_len : b->kv.key_len;
    int c = n > 0 ? memcmp(a->kv.key, b->kv.key, n) : 0;
    if (c != 0)
        return c;
    if (a->kv.key_len != b->kv.key_len)
        return a->kv.key_len < b->kv.key_len ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool same_key(const hist_event *a, const hist_event *b)
{
    return a->kv.key_len == b->kv.key_len &&
           (a->kv.key_len == 0 || memcmp(a->kv.key, b->kv.key, a->kv.key_len) == 0);
}

static json_t *event_json(const hist_event *e)
{
    json_t *o = json_object(), *rev = json_object();
    cli_json_set(o, "type", json_string(e->rk.tombstone ? "DELETE" : "PUT"));
    cli_json_set(rev, "main", json_integer(e->rk.rev.main));
    cli_json_set(rev, "sub", json_integer(e->rk.rev.sub));
    cli_json_set(o, "revision", rev);
    mvcc_kv kv = {
        e->kv.key,          e->kv.key_len, e->kv.value, e->kv.value_len, e->kv.create_revision,
        e->kv.mod_revision, e->kv.version, e->kv.lease
    };
    if (e->rk.tombstone)
        kv.mod_revision = e->rk.rev.main; /* as a watch's DELETE event */
    cli_json_set(o, "kv", etcd_json_kv(&kv, false));
    return o;
}

static void event_text(FILE *out, const etcd_args *a, const hist_event *e)
{
    fprintf(out, "    %" PRId64 ".%" PRId64 " ", e->rk.rev.main, e->rk.rev.sub);
    if (e->rk.tombstone) {
        fprintf(out, "DELETE\n");
        return;
    }
    fprintf(out,
            "PUT create_revision=%" PRId64 " mod_revision=%" PRId64 " version=%" PRId64
            " lease=%" PRId64 " value=",
            e->kv.create_revision, e->kv.mod_revision, e->kv.version, e->kv.lease);
    cli_print_bytes(out, e->kv.value, e->kv.value_len, a->o.value_fmt);
    fputc('\n', out);
}

static int history_read(void *ctx, const etcd_path *p, FILE *out, FILE *err)
{
    hist_scan *s = ctx;
    const etcd_args *a = s->a;
    s->n = 0;
    s->bad_rc = 0;
    etcd_db d;
    int code = etcd_db_open(a->cmd, &a->o, p, true, err, &d);
    if (code != CLI_OK)
        return code;
    int rc = backend_read_tx_for_each(d.rtx, bolt_str("key"), hist_each, s);
    if (rc == 1) {
        char *k = cli_bytes_str(s->bad_key.data, s->bad_key.size, CLI_FORMAT_AUTO, NULL);
        fprintf(err, "strata %s: %s: damaged record: key bucket entry %s: %s\n", a->cmd, p->given,
                k != NULL ? k : "?", s->why[0] != '\0' ? s->why : cli_strerror(s->bad_rc));
        free(k);
        code = CLI_FINDING;
        goto out;
    }
    if (rc != 0) {
        fprintf(err, "strata %s: %s: %s\n", a->cmd, p->given, cli_strerror(rc));
        code = cli_exit_for(rc);
        goto out;
    }
    if (s->n == 0) {
        char *k = cli_bytes_str(s->key, s->klen, a->o.key_fmt, NULL);
        fprintf(err, "strata %s: %s: no stored revision of %s%s\n", a->cmd, p->given,
                a->prefix ? "a key starting with " : "", k != NULL ? k : "the key");
        free(k);
        code = CLI_FINDING;
        goto out;
    }
    qsort(s->ev, s->n, sizeof *s->ev, event_cmp);
    json_t *doc = NULL, *keys = NULL, *cur_key = NULL, *gens = NULL, *gen = NULL;
    if (a->o.json) {
        doc = json_object();
        keys = json_array();
        cli_json_set(doc, "header", etcd_json_header(mvcc_store_rev(d.store)));
        cli_json_set(doc, "compact_revision", json_integer(mvcc_store_compact_rev(d.store)));
        cli_json_set(doc, "keys", keys);
    }
    int gno = 0;
    for (size_t i = 0; i < s->n; i++) {
        const hist_event *e = &s->ev[i];
        bool new_key = i == 0 || !same_key(e, &s->ev[i - 1]);
        bool new_gen = new_key || s->ev[i - 1].rk.tombstone;
        if (new_key) {
            gno = 0;
            if (a->o.json) {
                cur_key = json_object();
                gens = json_array();
                cli_json_set(cur_key, "key", etcd_json_b64(e->kv.key, e->kv.key_len));
                cli_json_set(cur_key, "generations", gens);
                cli_json_append(keys, cur_key);
            } else {
                fprintf(out, "key ");
                cli_print_bytes(out, e->kv.key, e->kv.key_len, a->o.key_fmt);
                fputc('\n', out);
            }
        }
        if (new_gen) {
            gno++;
            if (a->o.json) {
                gen = json_array();
                cli_json_append(gens, gen);
            } else {
                fprintf(out, "  generation %d\n", gno);
            }
        }
        if (a->o.json)
            cli_json_append(gen, event_json(e));
        else
            event_text(out, a, e);
    }
    if (a->o.json)
        code = etcd_json_print(a->cmd, out, doc);
out:
    etcd_db_close(&d);
    return code;
}

int etcd_history(int argc, char **argv)
{
    etcd_args a;
    int code = etcd_parse(&etcd_history_spec, argc, argv, &a);
    if (code >= 0)
        return code;
    hist_scan s = { .a = &a };
    unsigned char *key;
    if (cli_arg_bytes(a.cmd, argv[optind + 1], a.o.key_fmt, &key, &s.klen) != 0)
        return CLI_USAGE;
    s.key = key;
    if (s.klen == 0 && !a.prefix) {
        fprintf(stderr, "strata %s: the key is empty; use --prefix \"\" for every key\n", a.cmd);
        free(key);
        return CLI_USAGE;
    }
    code = etcd_run_db(&a, argv[optind], history_read, &s);
    free(s.ev);
    free(key);
    return code;
}
