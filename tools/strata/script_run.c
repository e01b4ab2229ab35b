/*
 * script_run.c: the runner of `strata script`: opens the stack, reads the
 * script line by line, dispatches each op to its plug-in, runs the
 * plug-ins' after-op hooks, and closes the stack (ORACLE.md §4.1: each
 * line runs to completion before the next is read).
 *
 * States: OUTSIDE (no txn) --`txn`--> INSIDE --`end`--> OUTSIDE. INSIDE
 * only ops with SCRIPT_OP_TXN or SCRIPT_OP_TXN_ONLY run, and no after-op
 * hook runs (the watchers see a txn at its `end`). A script error or the
 * end of the input in INSIDE ends the open txn before the stack closes, as
 * the oracle does, so a --db file holds what the oracle's would.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "script.h"

#ifdef STRATA_SCRIPT_LEASE
extern const script_plugin script_lease_plugin;
#endif
#ifdef STRATA_SCRIPT_WATCH
extern const script_plugin script_watch_plugin;
#endif

/* The plug-ins of this build, in hook order (the store's lessor before its watchers). */
static const script_plugin *const plugins[] = {
    &script_kv_plugin,
#ifdef STRATA_SCRIPT_LEASE
    &script_lease_plugin,
#endif
#ifdef STRATA_SCRIPT_WATCH
    &script_watch_plugin,
#endif
};
#define N_PLUGINS (sizeof plugins / sizeof plugins[0])

/* Ops of the language whose plug-in may be missing from a build, and where it lives. */
static const struct {
    const char *op, *where;
} planned_ops[] = {
    { "lease", "the lessor's ops (tools/strata/script_lease.c)" },
    { "watch", "the watchers' ops (tools/strata/script_watch.c)" },
    { "cancel", "the watchers' ops (tools/strata/script_watch.c)" },
};

static const script_op *find_op(const script_tok *name, size_t *plugin)
{
    for (size_t p = 0; p < N_PLUGINS; p++) {
        for (size_t i = 0; i < plugins[p]->nops; i++) {
            const script_op *op = &plugins[p]->ops[i];
            if (strlen(op->name) == name->len && memcmp(op->name, name->s, name->len) == 0) {
                *plugin = p;
                return op;
            }
        }
    }
    return NULL;
}

void script_list_ops(FILE *out)
{
    for (size_t p = 0; p < N_PLUGINS; p++)
        for (size_t i = 0; i < plugins[p]->nops; i++)
            fprintf(out, "%s\n", plugins[p]->ops[i].name);
}

/* ---- opening and closing the stack ------------------------------------------ */

static int stack_open(script_ctx *c)
{
    backend_options bo;
    bolt_options bolt;
    backend_options_init(&bo);
    backend_bolt_options_init(&bolt); /* etcd's */
    bolt.timeout_ms = c->opt->lock_timeout_ms;
    bo.bolt = &bolt;
    bo.batch_interval_ns = c->opt->batch_interval_ns;
    bo.batch_limit = c->opt->batch_limit;
    int rc = backend_open(c->path, &bo, &c->be);
    if (rc != 0)
        return script_internal(c, rc, "cannot open the db");
    mvcc_options so;
    mvcc_options_init(&so);
    c->why[0] = '\0';
    so.errbuf = c->why;
    so.errbuf_size = sizeof c->why;
    for (size_t p = 0; p < N_PLUGINS; p++) {
        if (plugins[p]->open_before_store == NULL)
            continue;
        if ((rc = plugins[p]->open_before_store(c, c->state[p], &so)) != 0)
            return rc;
    }
    if ((rc = mvcc_store_open(c->be, &so, &c->kv)) != 0) {
        /* The store's own description of a damaged record, when it gave one. */
        char detail[sizeof c->why];
        snprintf(detail, sizeof detail, "%s", c->why);
        script_internal(c, rc, "cannot open the mvcc store");
        if (detail[0] != '\0') {
            size_t l = strlen(c->why);
            snprintf(c->why + l, sizeof c->why - l, ": %s", detail);
        }
        return SCRIPT_INTERNAL;
    }
    for (size_t p = 0; p < N_PLUGINS; p++) {
        if (plugins[p]->open_after_store == NULL)
            continue;
        if ((rc = plugins[p]->open_after_store(c, c->state[p])) != 0)
            return rc;
    }
    return 0;
}

/*
 * Close what is open, in the reverse order of opening. Returns 0, or the
 * first failure (after script_internal, unless *c->why already holds the
 * reason of an earlier failure).
 */
static int stack_close(script_ctx *c, int64_t *dropped)
{
    int result = 0, rc;
    *dropped = 0;
    if (c->kv != NULL) {
        for (size_t p = N_PLUGINS; p-- > 0;) {
            if (plugins[p]->close_before_store == NULL)
                continue;
            if ((rc = plugins[p]->close_before_store(c, c->state[p], dropped)) != 0 && result == 0)
                result = rc;
        }
        rc = mvcc_store_close(c->kv);
        c->kv = NULL;
        if (rc != 0 && result == 0)
            result = script_internal(c, rc, "closing the mvcc store");
    }
    for (size_t p = N_PLUGINS; p-- > 0;)
        if (plugins[p]->close_after_store != NULL)
            plugins[p]->close_after_store(c, c->state[p]);
    if (c->be != NULL) {
        rc = backend_close(c->be);
        c->be = NULL;
        if (rc != 0 && result == 0)
            result = script_internal(c, rc, "closing the backend");
    }
    return result;
}

int script_reopen(script_ctx *c, int64_t *dropped)
{
    int rc = stack_close(c, dropped);
    if (rc != 0)
        return rc;
    return stack_open(c);
}

/* ---- the temporary db --------------------------------------------------------- */

/* Remove the temporary directory and every file in it (the db, a defrag copy). */
static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[4096 + 256 + 2];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- the line loop ------------------------------------------------------------ */

static bool is_space(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r';
}

/* Run one line; 0 or an op result. */
static int run_line(script_ctx *c, unsigned char *line, size_t len, script_tok **toks, size_t *cap,
                    script_tok **pos, size_t *pos_cap, unsigned char **echo, size_t *echo_cap)
{
    const char *why = NULL;
    size_t echo_len = 0;
    if (c->opt->echo) {
        /* The line as written (tokenizing decodes quoted tokens in place),
         * without the surrounding white space (Go's strings.TrimSpace). */
        const unsigned char *b = line, *e = line + len;
        while (b < e && is_space(*b))
            b++;
        while (e > b && is_space(e[-1]))
            e--;
        echo_len = (size_t)(e - b);
        if (*echo_cap < echo_len + 1) {
            unsigned char *v = realloc(*echo, echo_len + 1);
            if (v == NULL)
                return script_internal(c, -ENOMEM, "reading the script");
            *echo = v;
            *echo_cap = echo_len + 1;
        }
        memcpy(*echo, b, echo_len);
    }
    long n = script_tokenize(line, len, toks, cap, &why);
    if (n == -2)
        return script_internal(c, -ENOMEM, "reading the script");
    if (n < 0)
        return script_fail(c, "%s", why);
    if (n == 0)
        return 0;
    const script_tok *name = &(*toks)[0];
    if (name->quoted)
        return script_fail(c, "op name must not be quoted");
    if (c->opt->echo) {
        fputs("> ", c->out);
        fwrite(*echo, 1, echo_len, c->out);
        putc('\n', c->out);
    }
    char shown[48];
    snprintf(shown, sizeof shown, "%.*s", (int)(name->len < 40 ? name->len : 40),
             (const char *)name->s);
    size_t p = 0;
    const script_op *op = find_op(name, &p);
    if (c->txn != NULL && (op == NULL || !(op->mode & (SCRIPT_OP_TXN | SCRIPT_OP_TXN_ONLY))))
        return script_fail(c, "\"%s\" is not allowed inside txn (only put, del, range, end)",
                           shown);
    if (op == NULL) {
        for (size_t i = 0; i < sizeof planned_ops / sizeof planned_ops[0]; i++)
            if (strcmp(planned_ops[i].op, shown) == 0)
                return script_fail(c, "op \"%s\" is not available: %s are not in this build", shown,
                                   planned_ops[i].where);
        return script_fail(c, "unknown op \"%s\"", shown);
    }
    if (c->txn == NULL && (op->mode & SCRIPT_OP_TXN_ONLY))
        return script_fail(c, "%s without txn", op->name);
    if (*pos_cap < (size_t)n) {
        script_tok *v = realloc(*pos, (size_t)n * sizeof *v);
        if (v == NULL)
            return script_internal(c, -ENOMEM, "reading the script");
        *pos = v;
        *pos_cap = (size_t)n;
    }
    script_args a;
    int rc = script_split_args(c, op, *toks + 1, (size_t)n - 1, *pos, &a);
    if (rc != 0)
        return rc;
    bool top_level = c->txn == NULL || (op->mode & SCRIPT_OP_TXN_ONLY);
    if ((rc = op->run(c, &a, c->state[p])) != 0)
        return rc;
    /* ORACLE.md §4.3: after every top-level op, and after `end`, the
     * plug-ins print what the op caused (the watchers' events). */
    if (top_level && !(op->mode & SCRIPT_OP_NO_DRAIN)) {
        for (size_t i = 0; i < N_PLUGINS; i++) {
            if (plugins[i]->after_op == NULL)
                continue;
            if ((rc = plugins[i]->after_op(c, c->state[i])) != 0)
                return rc;
        }
    }
    return 0;
}

int script_run(const script_options *opt, FILE *in, FILE *out)
{
    script_ctx ctx = { .opt = opt, .out = out };
    script_ctx *c = &ctx;
    char tmpdir[4096] = "", tmppath[4096 + 8];
    int code = SCRIPT_EXIT_OK, rc = 0;
    unsigned char *line = NULL, *echo = NULL;
    size_t line_cap = 0, tok_cap = 0, pos_cap = 0, echo_cap = 0;
    script_tok *toks = NULL, *pos = NULL;

    for (size_t p = 0; p < N_PLUGINS; p++) {
        c->state[p] = calloc(1, plugins[p]->state_size ? plugins[p]->state_size : 1);
        if (c->state[p] == NULL) {
            fprintf(stderr, "strata script: out of memory\n");
            code = SCRIPT_EXIT_INTERNAL;
            goto out;
        }
    }
    if (opt->db_path != NULL) {
        c->path = opt->db_path;
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/strata-script.XXXXXX", t && *t ? t : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            fprintf(stderr, "strata script: cannot create a temporary directory %s: %s\n", tmpdir,
                    strerror(errno));
            tmpdir[0] = '\0';
            code = SCRIPT_EXIT_NOOPEN;
            goto out;
        }
        snprintf(tmppath, sizeof tmppath, "%s/db", tmpdir);
        c->path = tmppath;
    }
    if ((rc = stack_open(c)) != 0) {
        fprintf(stderr, "strata script: %s: %s\n", c->path, c->why);
        /* The file cannot be opened, or its records restored (a damaged
         * `key` or `meta` bucket, named in the message): the input is bad. */
        code = SCRIPT_EXIT_NOOPEN;
        goto close;
    }

    ssize_t n;
    while ((n = getline((char **)&line, &line_cap, in)) != -1) {
        c->line_no++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        line[len] = '\0'; /* getline's buffer always has room for its NUL */
        if ((rc = run_line(c, line, len, &toks, &tok_cap, &pos, &pos_cap, &echo, &echo_cap)) != 0)
            break;
    }
    if (rc == 0 && ferror(in)) {
        snprintf(c->why, sizeof c->why, "reading the script: %s", strerror(errno));
        rc = SCRIPT_INTERNAL;
    }
    if (rc == 0 && c->txn != NULL)
        rc = script_fail(c, "script ends inside a txn");
    if (rc != 0) {
        fflush(out);
        fprintf(stderr, "strata script: line %lu: %s\n", c->line_no, c->why);
        code = rc == SCRIPT_FAIL ? SCRIPT_EXIT_SCRIPT : SCRIPT_EXIT_INTERNAL;
    }

close:
    /* The oracle ends a txn left open (an error inside it, or no `end`). */
    if (c->txn != NULL) {
        rc = mvcc_txn_end(c->txn, NULL);
        c->txn = NULL;
        if (rc != 0 && code == SCRIPT_EXIT_OK) {
            fprintf(stderr, "strata script: ending the open txn: %s\n", cli_strerror(rc));
            code = SCRIPT_EXIT_INTERNAL;
        }
    }
    int64_t dropped;
    if (stack_close(c, &dropped) != 0 && code == SCRIPT_EXIT_OK) {
        fprintf(stderr, "strata script: %s\n", c->why);
        code = SCRIPT_EXIT_INTERNAL;
    }
out:
    if (fflush(out) != 0 && code == SCRIPT_EXIT_OK) {
        fprintf(stderr, "strata script: writing the output: %s\n", strerror(errno));
        code = SCRIPT_EXIT_INTERNAL;
    }
    if (tmpdir[0] != '\0')
        tmpdir_remove(tmpdir);
    for (size_t p = 0; p < N_PLUGINS; p++)
        free(c->state[p]);
    free(line);
    free(echo);
    free(toks);
    free(pos);
    return code;
}
