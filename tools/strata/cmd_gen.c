/*
 * cmd_gen.c: `strata gen [--seed N] [--keys N] DB`: write a demo database
 * from a built-in seeded generator. The same seed gives the same logical
 * content (and so the same `strata dump`) on every machine.
 *
 * What it holds, to exercise every corner an operator meets:
 *   accounts/          N keys inserted in random order (a multi-level tree)
 *   events/            N 8-byte big-endian keys in order, 100-byte values
 *   config/            a small inline bucket with a nested inline bucket
 *   blobs/             values spanning overflow pages (20 KiB, 300 KiB)
 *   tenants/t-K/users  paged nested buckets, with sequences
 * then a third of accounts and every third event are deleted in several
 * transactions, leaving free pages behind (so compaction has work to do).
 * With --flat the nested buckets (config/limits, tenants) are left out: the
 * file then has etcd's shape, top-level buckets of plain keys only, which
 * the backend commands (hash, defrag) accept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"
#include "cli_json.h"

typedef struct gen {
    bolt_db *db;
    uint64_t seed, keys;
    bool flat; /* --flat: no nested buckets */
    uint64_t puts, deletes, commits;
} gen;

static int must(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "strata gen: %s: %s\n", what, bolt_strerror(rc));
    return rc;
}

static int gen_bucket(bolt_tx *tx, const char *name, bolt_bucket **out)
{
    return must(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str(name), out), name);
}

/* accounts: random keys, text values; then events: sequential keys. */
static int gen_bulk(gen *g)
{
    strata_rng rng;
    strata_rng_seed(&rng, g->seed);
    const uint64_t per_tx = 2000;
    char key[32], val[256];
    for (uint64_t i = 0; i < g->keys; i += per_tx) {
        bolt_tx *tx;
        bolt_bucket *acc, *ev;
        int rc = must(bolt_tx_begin(g->db, BOLT_TX_WRITE, &tx), "begin");
        if (rc != 0)
            return rc;
        if ((rc = gen_bucket(tx, "accounts", &acc)) != 0 ||
            (rc = gen_bucket(tx, "events", &ev)) != 0) {
            bolt_tx_rollback(tx);
            return rc;
        }
        for (uint64_t j = i; j < i + per_tx && j < g->keys && rc == 0; j++) {
            uint64_t id = strata_rng_below(&rng, g->keys * 4);
            int kn = snprintf(key, sizeof key, "acct-%08llu", (unsigned long long)id);
            int vn = snprintf(
                    val, sizeof val, "{\"id\":%llu,\"balance\":%llu,\"owner\":\"user%llu\"}",
                    (unsigned long long)id, (unsigned long long)strata_rng_below(&rng, 1000000),
                    (unsigned long long)strata_rng_below(&rng, 5000));
            rc = must(bolt_bucket_put(acc, (bolt_val){ key, (size_t)kn },
                                      (bolt_val){ val, (size_t)vn }),
                      "put accounts");
            unsigned char k8[8], v100[100];
            for (int b = 0; b < 8; b++)
                k8[b] = (unsigned char)(j >> (56 - 8 * b));
            for (int b = 0; b < 100; b++)
                v100[b] = (unsigned char)(j + (uint64_t)b);
            if (rc == 0)
                rc = must(bolt_bucket_put(ev, (bolt_val){ k8, 8 }, (bolt_val){ v100, 100 }),
                          "put events");
            g->puts += 2;
        }
        if (rc != 0) {
            bolt_tx_rollback(tx);
            return rc;
        }
        if ((rc = must(bolt_tx_commit(tx), "commit")) != 0)
            return rc;
        g->commits++;
    }
    return 0;
}

/* config (inline, nested inline), blobs (overflow), tenants (paged nested). */
static int gen_shapes_tx(bolt_tx *tx, gen *g)
{
    bolt_bucket *cfg, *limits, *blobs, *tenants;
    int rc;
    if ((rc = gen_bucket(tx, "config", &cfg)) != 0)
        return rc;
    static const char *settings[][2] = {
        { "cluster-name", "demo" }, { "replicas", "3" }, { "empty", "" }, { "zone", "eu-west" }
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if ((rc = must(bolt_bucket_put(cfg, bolt_str(settings[i][0]), bolt_str(settings[i][1])),
                       "put config")) != 0)
            return rc;
    if (!g->flat &&
        ((rc = must(bolt_bucket_create(cfg, bolt_str("limits"), &limits), "create limits")) != 0 ||
         (rc = must(bolt_bucket_put(limits, bolt_str("max-conn"), bolt_str("1024")),
                    "put limits")) != 0))
        return rc;
    if ((rc = must(bolt_bucket_set_sequence(cfg, 7), "set sequence")) != 0)
        return rc;
    if ((rc = gen_bucket(tx, "blobs", &blobs)) != 0)
        return rc;
    static const size_t sizes[] = { 20 * 1024, 300 * 1024 };
    for (size_t i = 0; i < 2; i++) {
        unsigned char *v = malloc(sizes[i]);
        if (v == NULL)
            return -ENOMEM;
        for (size_t b = 0; b < sizes[i]; b++)
            v[b] = (unsigned char)(strata_splitmix64(g->seed + b) & 0xff);
        char key[16];
        snprintf(key, sizeof key, "blob-%zu", i);
        rc = must(bolt_bucket_put(blobs, bolt_str(key), (bolt_val){ v, sizes[i] }), "put blob");
        free(v);
        if (rc != 0)
            return rc;
    }
    if (g->flat)
        return 0;
    if ((rc = gen_bucket(tx, "tenants", &tenants)) != 0)
        return rc;
    for (int t = 0; t < 4; t++) {
        char name[16], key[32];
        snprintf(name, sizeof name, "t-%d", t);
        bolt_bucket *tb, *users;
        if ((rc = must(bolt_bucket_create(tenants, bolt_str(name), &tb), "create tenant")) != 0 ||
            (rc = must(bolt_bucket_create(tb, bolt_str("users"), &users), "create users")) != 0)
            return rc;
        for (int u = 0; u < 300; u++) {
            uint64_t seq;
            if ((rc = must(bolt_bucket_next_sequence(users, &seq), "next sequence")) != 0)
                return rc;
            snprintf(key, sizeof key, "user-%05llu", (unsigned long long)seq);
            if ((rc = must(bolt_bucket_put(users, bolt_str(key), bolt_str(name)), "put user")) != 0)
                return rc;
            g->puts++;
        }
    }
    return 0;
}

/* Delete a third of the accounts (by a seeded choice) and every third event. */
static int gen_deletes(gen *g)
{
    strata_rng rng;
    strata_rng_seed(&rng, g->seed ^ 0x5eed);
    for (int round = 0; round < 4; round++) {
        bolt_tx *tx;
        bolt_bucket *acc, *ev;
        bolt_cursor *c;
        int rc = must(bolt_tx_begin(g->db, BOLT_TX_WRITE, &tx), "begin");
        if (rc != 0)
            return rc;
        if ((rc = must(bolt_tx_bucket(tx, bolt_str("accounts"), &acc), "accounts")) == 0 &&
            (rc = must(bolt_tx_bucket(tx, bolt_str("events"), &ev), "events")) == 0 &&
            (rc = must(bolt_cursor_open(acc, &c), "cursor")) == 0) {
            bolt_val k;
            int mv = bolt_cursor_first(c, &k, NULL);
            while (mv == 0 && rc == 0) {
                if (strata_rng_below(&rng, 12) == 0) { /* 4 rounds of 1/12: about a third */
                    rc = must(bolt_cursor_delete(c), "cursor delete");
                    g->deletes++;
                }
                mv = bolt_cursor_next(c, &k, NULL);
            }
            if (rc == 0 && mv != BOLT_NOTFOUND)
                rc = must(mv, "cursor");
        }
        for (uint64_t j = (uint64_t)round; rc == 0 && j < g->keys; j += 12) {
            unsigned char k8[8];
            for (int b = 0; b < 8; b++)
                k8[b] = (unsigned char)(j >> (56 - 8 * b));
            rc = must(bolt_bucket_delete(ev, (bolt_val){ k8, 8 }), "delete event");
            g->deletes++;
        }
        if (rc != 0) {
            bolt_tx_rollback(tx);
            return rc;
        }
        if ((rc = must(bolt_tx_commit(tx), "commit")) != 0)
            return rc;
        g->commits++;
    }
    return 0;
}

typedef struct gen_args {
    gen *g;
    uint32_t page_size;
} gen_args;

enum { OPT_SEED = 2000, OPT_KEYS, OPT_PAGE_SIZE, OPT_FLAT };

static const cli_option gen_options[] = {
    { "seed", OPT_SEED, "N", "generator seed (default 1)", NULL },
    { "keys", OPT_KEYS, "N", "keys in the accounts and events buckets (default 20000)", NULL },
    { "page-size", OPT_PAGE_SIZE, "N",
      "page size of the new file (a power of two, 512..65536;\ndefault: the OS's)",
      "512 1024 2048 4096 8192 16384 32768 65536" },
    { "flat", OPT_FLAT, NULL,
      "no nested buckets (no config/limits, no tenants): etcd's\n"
      "shape, top-level buckets of plain keys, as 'strata hash'\nand 'strata defrag' need",
      NULL },
    { NULL, 0, NULL, NULL, NULL },
};

static int gen_option(int c, const char *arg, void *ctx)
{
    gen_args *a = ctx;
    switch (c) {
    case OPT_SEED:
        return cli_parse_u64("gen", "--seed", arg, &a->g->seed);
    case OPT_KEYS:
        return cli_parse_u64("gen", "--keys", arg, &a->g->keys);
    case OPT_FLAT:
        a->g->flat = true;
        return 0;
    default:
        return cli_parse_page_size("gen", arg, &a->page_size);
    }
}

const cli_command_spec cmd_gen_spec = {
    .name = "gen",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_JSON,
    .options = gen_options,
    .on_option = gen_option,
    .synopsis = "[options] DB",
    .about = "Write a demo database DB (which must not exist) from a seeded generator:\n"
             "the same seed gives the same content (and 'strata dump') everywhere. DB\n"
             "'-' writes the new file to standard output (the summary to stderr).",
    .json = "db, seed, puts, deletes, commits",
    .example = "$ strata gen --keys 20000 --seed 7 demo.db && strata check demo.db",
};

static int gen_write(gen *g, const gen_args *args, const char *path);

int cmd_gen(int argc, char **argv)
{
    gen g = { .seed = 1, .keys = 20000 };
    gen_args args = { &g, 0 };
    cli_opts o;
    int parsed = cli_parse_ctx(&cmd_gen_spec, argc, argv, &o, &args);
    if (parsed >= 0)
        return parsed;
    if (g.keys == 0 || g.keys > 100000000) {
        fprintf(stderr, "strata gen: --keys must be in 1..100000000\n");
        return CLI_USAGE;
    }
    const char *arg = argv[optind];
    struct stat st;
    if (!cli_is_stdio(arg) && stat(arg, &st) == 0) {
        fprintf(stderr, "strata gen: %s exists; gen creates a new file only\n", arg);
        return CLI_USAGE;
    }
    /* DB "-": written under a temporary name, then copied to standard output. */
    cli_output out;
    int code = cli_output_begin("gen", &o, arg, &out);
    if (code != CLI_OK)
        return code;
    code = gen_write(&g, &args, out.path);
    if (code == CLI_OK)
        code = cli_output_end("gen", &out, true);
    cli_output_end("gen", &out, false);
    if (code != CLI_OK)
        return code;
    if (o.json) {
        json_t *doc = json_object();
        cli_json_set(doc, "db", json_string(arg));
        cli_json_set(doc, "seed", cli_json_u64(g.seed));
        cli_json_set(doc, "puts", cli_json_u64(g.puts));
        cli_json_set(doc, "deletes", cli_json_u64(g.deletes));
        cli_json_set(doc, "commits", cli_json_u64(g.commits));
        return cli_json_print("gen", stdout, doc);
    }
    fprintf(cli_output_summary(&out),
            "generated %s: seed %llu, %llu puts, %llu deletes, %llu commits\n", arg,
            (unsigned long long)g.seed, (unsigned long long)g.puts, (unsigned long long)g.deletes,
            (unsigned long long)g.commits);
    return CLI_OK;
}

/* Write the demo db at path (a new file); CLI_OK or the exit code (printed). */
static int gen_write(gen *g, const gen_args *args, const char *path)
{
    /* Claim the name (never another's file), so a failure below may remove it: no partial output.
     */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return cli_report("gen", path, -errno);
    close(fd);
    bolt_options opt;
    bolt_options_init(&opt);
    opt.page_size = args->page_size;
    int rc = bolt_open(path, &opt, &g->db);
    if (rc != 0) {
        unlink(path);
        return cli_report("gen", path, rc);
    }
    rc = gen_bulk(g);
    if (rc == 0) {
        bolt_tx *tx;
        rc = must(bolt_tx_begin(g->db, BOLT_TX_WRITE, &tx), "begin");
        if (rc == 0 && (rc = gen_shapes_tx(tx, g)) != 0)
            bolt_tx_rollback(tx);
        else if (rc == 0 && (rc = must(bolt_tx_commit(tx), "commit")) == 0)
            g->commits++;
    }
    if (rc == 0)
        rc = gen_deletes(g);
    int crc = bolt_close(g->db);
    if (rc == 0)
        rc = crc;
    if (rc != 0) {
        unlink(path);
        fprintf(stderr, "strata gen: %s removed (it would hold part of the content)\n",
                cli_path_shown(path));
        return cli_exit_for(rc);
    }
    return CLI_OK;
}
