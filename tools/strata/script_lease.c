/*
 * script_lease.c: the lessor's plug-in of `strata script` (ORACLE.md §2-§4):
 * `lease grant ID TTL`, `lease revoke ID`, `lease renew ID`, `lease get ID`,
 * `lease list`, and the lessor under the store, so `put ... lease=ID`
 * attaches (mvcc's put checks the lease and attaches it through the glue).
 *
 * The stack is the oracle's: a lessor over the backend, opened before the
 * store (etcd creates it first, so restore can re-attach keys), with
 * MinLeaseTTL from --min-ttl, promoted once the store is open; closed
 * after the store. Rule L: the lessor has no clock (lease_options.no_clock):
 * nothing expires, no checkpoint is ever written, and a renew of a lease
 * whose TTL has elapsed prints the lease's TTL, as the oracle does.
 *
 * Argument checks follow the oracle's (its opLease): the subcommand is a
 * bare word; every argument after it is positional; the count is checked
 * before the numbers are read. A script error prints nothing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <strata/lease.h>

#include "script.h"

typedef struct lease_state {
    lease_lessor *l;
} lease_state;

/* ` error="..."` for an etcd error, else an internal failure. */
static int print_error(script_ctx *c, const char *prefix, int64_t id, int rc, const char *what)
{
    if (!script_error_is_etcd(rc))
        return script_internal(c, rc, what);
    script_print(c, "%s id=%" PRId64 " ", prefix, id);
    script_error(c, rc);
    script_print(c, "\n");
    return 0;
}

static bool sub_is(const script_tok *t, const char *name)
{
    return !t->quoted && t->len == strlen(name) && memcmp(t->s, name, t->len) == 0;
}

static int cmp_id(const void *a, const void *b)
{
    const lease_info *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int op_lease(script_ctx *c, const script_args *a, void *state)
{
    lease_state *st = state;
    if (a->npos < 1 || a->pos[0].quoted)
        return script_fail(c, "usage: lease grant|revoke|renew|get|list ...");
    const script_tok *sub = &a->pos[0];
    size_t nargs = a->npos - 1;
    int64_t id = 0;
    int rc;

    if (sub_is(sub, "list")) {
        if (nargs != 0)
            return script_fail(c, "usage: lease list");
        lease_info *v;
        size_t n;
        if ((rc = lease_leases(st->l, &v, &n)) != 0)
            return script_internal(c, rc, "lease list");
        if (n > 0)
            qsort(v, n, sizeof *v, cmp_id);
        script_line(c, "lease list n=%zu", n);
        for (size_t i = 0; i < n; i++)
            script_line(c, "  lease id=%" PRId64 " ttl=%" PRId64 " keys=%zu", v[i].id, v[i].ttl,
                        v[i].nkeys);
        strata_free(v);
        return 0;
    }

    const char *usage;
    size_t want;
    if (sub_is(sub, "grant")) {
        usage = "usage: lease grant ID TTL";
        want = 2;
    } else if (sub_is(sub, "revoke")) {
        usage = "usage: lease revoke ID";
        want = 1;
    } else if (sub_is(sub, "renew")) {
        usage = "usage: lease renew ID";
        want = 1;
    } else if (sub_is(sub, "get")) {
        usage = "usage: lease get ID";
        want = 1;
    } else {
        return script_fail(c, "unknown lease op \"%.*s\"", (int)sub->len, (const char *)sub->s);
    }
    if (nargs != want)
        return script_fail(c, "%s", usage);
    if ((rc = script_pos_int64(c, a, 1, "lease id", &id)) != 0)
        return rc;

    if (sub_is(sub, "grant")) {
        int64_t ttl, granted;
        if ((rc = script_pos_int64(c, a, 2, "ttl", &ttl)) != 0)
            return rc;
        rc = lease_grant(st->l, id, ttl, &granted);
        if (rc != 0)
            return print_error(c, "lease grant", id, rc, "lease grant");
        script_line(c, "lease grant id=%" PRId64 " ttl=%" PRId64, id, granted);
    } else if (sub_is(sub, "revoke")) {
        rc = lease_revoke(st->l, id);
        if (rc != 0)
            return print_error(c, "lease revoke", id, rc, "lease revoke");
        script_line(c, "lease revoke id=%" PRId64 " rev=%" PRId64, id, mvcc_store_rev(c->kv));
    } else if (sub_is(sub, "renew")) {
        int64_t ttl;
        rc = lease_renew(st->l, id, &ttl);
        if (rc != 0)
            return print_error(c, "lease renew", id, rc, "lease renew");
        script_line(c, "lease renew id=%" PRId64 " ttl=%" PRId64, id, ttl);
    } else {
        lease_info li;
        lease_keys *k = NULL;
        rc = lease_lookup(st->l, id, &li);
        if (rc == 0)
            rc = lease_lookup_keys(st->l, id, &k);
        if (rc != 0)
            return print_error(c, "lease get", id, rc, "lease get");
        script_line(c, "lease get id=%" PRId64 " ttl=%" PRId64 " keys=%zu", id, li.ttl, k->n);
        for (size_t i = 0; i < k->n; i++) {
            script_print(c, "  key ");
            script_q(c, k->keys[i].data, k->keys[i].size);
            script_print(c, "\n");
        }
        lease_keys_free(k);
    }
    return 0;
}

/* The lessor over the backend, before the store (restore re-attaches keys to it). */
static int lease_open_before_store(script_ctx *c, void *state, mvcc_options *so)
{
    lease_state *st = state;
    lease_options lo;
    lease_options_init(&lo);
    lo.min_ttl = c->opt->min_ttl;
    lo.no_clock = true; /* rule L */
    lo.no_thread = true;
    char msg[256] = "";
    lo.errmsg = msg;
    lo.errmsg_size = sizeof msg;
    int rc = lease_lessor_open(c->be, &lo, &st->l);
    if (rc != 0)
        return script_internal(c, rc, msg[0] != '\0' ? msg : "opening the lessor");
    so->lessor = st->l;
    return 0;
}

/* etcd's oracle promotes the lessor so renew works. */
static int lease_open_after_store(script_ctx *c, void *state)
{
    (void)c;
    lease_state *st = state;
    lease_lessor_promote(st->l, 0);
    return 0;
}

static void lease_close_after_store(script_ctx *c, void *state)
{
    lease_state *st = state;
    int rc = lease_lessor_close(st->l);
    st->l = NULL;
    if (rc != 0)
        fprintf(stderr, "strata script: closing the lessor: %s\n", lease_strerror(rc));
    (void)c;
}

static const script_op lease_ops[] = {
    { "lease", NULL, NULL, 0, op_lease },
};

const script_plugin script_lease_plugin = {
    .name = "lease",
    .state_size = sizeof(lease_state),
    .ops = lease_ops,
    .nops = sizeof lease_ops / sizeof lease_ops[0],
    .open_before_store = lease_open_before_store,
    .open_after_store = lease_open_after_store,
    .close_after_store = lease_close_after_store,
};
