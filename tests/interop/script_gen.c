/*
 * script_gen.c: random scripts of the mvcc script language
 * (../shared/spec/ORACLE.md) for the differential test against the real
 * etcd mvcc (test_mvcc_diff.sh):
 *
 *   script_gen [--seed N] [--ops N] [--profile default|corner] [--watch] [--no-lease]
 *
 * prints a script of N lines (ops, including the lines of a txn) on
 * stdout; its first line is a comment naming the seed, the op count and
 * the profile, so a script found failing says how to make it again. The
 * same arguments give the same bytes on every machine and compiler (one
 * random draw per statement: C leaves the order of operand evaluation
 * open).
 *
 * The generator keeps a model of the store (which keys of its pool are
 * alive, the current and compacted revisions, the revisions of recent
 * deletes) to aim ops at what matters: ranges and hashes at and around
 * the compacted revision, compactions at a tombstone's revision -1/0/+1,
 * hashes when no key is alive, reopen and defrag right after a
 * compaction, txns that write one key several times, and about 10 % of
 * the ops at error paths (future and compacted revisions). The model
 * follows etcd's rules closely enough to aim; the test never trusts it
 * for expected output (that is the oracle's job).
 *
 * Profiles: `default` (every op, key pools of 20..60 keys with prefixes
 * and binary keys, values up to 9,000 bytes) and `corner` (a pool of a
 * handful of keys, many deletes, compactions and hashes at the corners).
 *
 * --watch adds the watchers' ops (watch, cancel): ids auto-assigned, new
 * and taken, every kind of range including empty ones, start revisions
 * now, past, at the compacted revision -1/0/+1, in the future and
 * negative, filters; cancels of live and unknown ids; rare floods of
 * hundreds of watchers that overflow the stream. Without --watch the
 * script is the same byte for byte as before the watch rows existed (a
 * row of weight 0 draws nothing).
 *
 * The lessor's ops (ORACLE.md §2-§4), unless --no-lease: `lease
 * grant/revoke/renew/get/list` and leased puts (`lease=ID` or the
 * positional form), aimed at etcd's corners: IDs from a small pool so
 * grants collide (already exists) and revokes hit keys, ID 0 and negative
 * IDs, TTLs <= 0 (raised to MinLeaseTTL), at and above MaxLeaseTTL, puts
 * and renews naming missing leases, leased keys overwritten unleased or
 * under another lease and deleted, leases revoked with several keys (one
 * revision, sorted deletes). The model keeps the granted IDs and each
 * key's lease. With --no-lease the script is the same byte for byte as
 * before the lease rows existed.
 *
 * Adding ops: write a gen_* function and add a row to op_table with its
 * weight in each profile and the flag that enables it; a generator that
 * needs state adds it to `gen` and keeps it through its own ops (reopen
 * resets what a reopen drops).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_KEYS = 64,
    MAX_KEY_LEN = 24,
    MAX_TOMBS = 32,
    MAX_VALUE = 9000,
    MAX_WATCHERS = 64,
    MAX_LEASES = 16
};

typedef struct key {
    unsigned char b[MAX_KEY_LEN];
    size_t len;
} key;

typedef enum profile { PROFILE_DEFAULT, PROFILE_CORNER, N_PROFILES } profile;

typedef struct gen {
    uint64_t rng;
    profile prof;
    key pool[MAX_KEYS];
    size_t npool;
    bool alive[MAX_KEYS];
    int64_t rev;              /* the model's current revision */
    int64_t compacted;        /* the model's compacted revision (-1: never) */
    int64_t tombs[MAX_TOMBS]; /* revisions of recent deletes (a ring) */
    size_t ntombs;
    bool last_was_compact;
    long lines; /* lines written (the op budget) */
    /* Inside a txn: the changes so far (the revision moves at `end` only). */
    bool in_txn;
    long txn_changes;
    /* Watchers (--watch): the ids the model believes live, and etcd's next auto id. */
    bool watch;
    int64_t watch_ids[MAX_WATCHERS];
    size_t nwatch;
    int64_t next_auto_id;
    /* Leases (unless --no-lease): the granted IDs, and the lease of each live key (0: none). */
    bool lease;
    int64_t leases[MAX_LEASES];
    size_t nleases;
    int64_t key_lease[MAX_KEYS];
} gen;

/* ---- randomness: SplitMix64 --------------------------------------------------- */

static uint64_t next(gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static uint64_t below(gen *g, uint64_t n)
{
    return next(g) % n;
}

/* True with probability pct / 100. */
static bool chance(gen *g, unsigned pct)
{
    return below(g, 100) < pct;
}

/* Uniform in [lo, hi]. */
static int64_t between(gen *g, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)below(g, (uint64_t)(hi - lo) + 1);
}

/* ---- printing tokens ---------------------------------------------------------- */

static bool bare_ok(const unsigned char *s, size_t n)
{
    static const char *const words[] = { "prefix", "fromkey", "count", "keysonly", NULL };
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    for (int i = 0; words[i] != NULL; i++)
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
            return false;
    return true;
}

/* A token: bare when that reads the same, else quoted with escapes of every kind. */
static void put_tok(gen *g, const unsigned char *s, size_t n)
{
    if (bare_ok(s, n) && !chance(g, 10)) {
        fwrite(s, 1, n, stdout);
        return;
    }
    bool upper = chance(g, 20);
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c == '\n' && chance(g, 50)) {
            fputs("\\n", stdout);
        } else if (c == '\t' && chance(g, 50)) {
            fputs("\\t", stdout);
        } else if (c == '\r' && chance(g, 50)) {
            fputs("\\r", stdout);
        } else if (c == 0 && chance(g, 50)) {
            fputs("\\0", stdout);
        } else if (c >= 0x20 && c < 0x7f) {
            putchar(c);
        } else {
            printf(upper ? "\\x%02X" : "\\x%02x", c);
        }
    }
    putchar('"');
}

static void put_key(gen *g, const key *k)
{
    put_tok(g, k->b, k->len);
}

/* End one line, sometimes with a trailing comment or spaces (the lexer's corners). */
static void end_line(gen *g)
{
    unsigned r = (unsigned)below(g, 100);
    if (r < 2)
        fputs("  # a comment", stdout);
    else if (r < 4)
        fputs(" \t", stdout);
    else if (r < 5)
        putchar('\r');
    putchar('\n');
    g->lines++;
}

/* ---- the key pool --------------------------------------------------------------- */

static void make_pool(gen *g)
{
    static const char *const prefixes[] = { "a/", "k", "b/x/", "foo", "" };
    size_t n = g->prof == PROFILE_CORNER ? (size_t)between(g, 4, 10) : (size_t)between(g, 20, 60);
    g->npool = 0;
    while (g->npool < n) {
        key k = { .len = 0 };
        unsigned kind = (unsigned)below(g, 100);
        if (kind < 70) {
            const char *p = prefixes[below(g, 4)];
            int num = (int)below(g, 50);
            k.len = (size_t)snprintf((char *)k.b, sizeof k.b, "%s%02d", p, num);
        } else if (kind < 80) {
            /* a prefix of other keys: "a", "k1", "b/x" */
            static const char *const shorts[] = { "a", "a/", "k", "k1", "b/x", "b" };
            const char *s = shorts[below(g, 6)];
            k.len = strlen(s);
            memcpy(k.b, s, k.len);
        } else {
            /* binary: NUL, 0xff runs (prefix end corner), high bytes, spaces */
            k.len = (size_t)between(g, 1, 6);
            for (size_t i = 0; i < k.len; i++) {
                unsigned r = (unsigned)below(g, 6);
                k.b[i] = r == 0   ? 0x00
                         : r == 1 ? 0xff
                         : r == 2 ? ' '
                                  : (unsigned char)below(g, 256);
            }
        }
        bool dup = false;
        for (size_t i = 0; i < g->npool; i++)
            dup = dup || (g->pool[i].len == k.len && memcmp(g->pool[i].b, k.b, k.len) == 0);
        if (!dup)
            g->pool[g->npool++] = k;
    }
}

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* A pool key, biased to the first few (so versions and generations grow). */
static size_t pick_key(gen *g)
{
    if (chance(g, 50))
        return (size_t)below(g, g->npool < 5 ? g->npool : 5);
    return (size_t)below(g, g->npool);
}

/* A live key if there is one (mostly), else any. */
static size_t pick_live(gen *g)
{
    size_t live[MAX_KEYS], n = 0;
    for (size_t i = 0; i < g->npool; i++)
        if (g->alive[i])
            live[n++] = i;
    if (n == 0 || chance(g, 15))
        return pick_key(g);
    return live[below(g, n)];
}

static bool any_alive(const gen *g)
{
    for (size_t i = 0; i < g->npool; i++)
        if (g->alive[i])
            return true;
    return false;
}

/* ---- key ranges ----------------------------------------------------------------- */

/* A range as the model evaluates it: [key, end), end_kind says which form. */
typedef struct krange {
    enum { R_SINGLE, R_END, R_PREFIX, R_FROMKEY, R_ALL } kind;
    size_t k, e; /* pool indexes */
} krange;

static bool in_range(const gen *g, const krange *r, size_t i)
{
    const key *x = &g->pool[i], *k = &g->pool[r->k];
    switch (r->kind) {
    case R_SINGLE:
        return i == r->k;
    case R_ALL:
        return true;
    case R_FROMKEY:
        return key_cmp(x->b, x->len, k->b, k->len) >= 0;
    case R_END: {
        const key *e = &g->pool[r->e];
        return key_cmp(x->b, x->len, k->b, k->len) >= 0 && key_cmp(x->b, x->len, e->b, e->len) < 0;
    }
    case R_PREFIX: {
        size_t n = k->len;
        while (n > 0 && k->b[n - 1] == 0xff)
            n--;
        if (n == 0) /* all 0xff: every key >= key */
            return key_cmp(x->b, x->len, k->b, k->len) >= 0;
        return x->len >= k->len && memcmp(x->b, k->b, k->len) == 0;
    }
    }
    return false;
}

/* Choose a range: mostly single keys, then [k, e), prefix, fromkey, rarely all keys. */
static krange pick_range(gen *g, bool for_delete)
{
    krange r = { R_SINGLE, for_delete ? pick_live(g) : pick_key(g), 0 };
    unsigned x = (unsigned)below(g, 100);
    unsigned all = for_delete ? (g->prof == PROFILE_CORNER ? 6 : 1) : 6;
    if (x < all)
        r.kind = R_ALL;
    else if (x < 55)
        r.kind = R_SINGLE;
    else if (x < 75) {
        r.kind = R_END;
        r.e = pick_key(g);
    } else if (x < 90)
        r.kind = R_PREFIX;
    else
        r.kind = R_FROMKEY;
    return r;
}

static void put_range(gen *g, const krange *r)
{
    if (r->kind == R_ALL) {
        fputs(" \"\" prefix", stdout);
        return;
    }
    putchar(' ');
    put_key(g, &g->pool[r->k]);
    switch (r->kind) {
    case R_END:
        putchar(' ');
        /* an END of "\x00" means fromkey (mkGteRange); write it so sometimes */
        put_key(g, &g->pool[r->e]);
        break;
    case R_PREFIX:
        fputs(" prefix", stdout);
        break;
    case R_FROMKEY:
        if (chance(g, 20))
            fputs(" \"\\x00\"", stdout);
        else
            fputs(" fromkey", stdout);
        break;
    default:
        if (chance(g, 3))
            fputs(" \"\"", stdout); /* an empty END: still the single key */
        break;
    }
}

/* ---- revisions --------------------------------------------------------------------- */

static void note_tomb(gen *g, int64_t rev)
{
    g->tombs[g->ntombs % MAX_TOMBS] = rev;
    g->ntombs++;
}

/* A revision to read at: mostly valid, ~10 % at an error (compacted or future). */
static int64_t pick_read_rev(gen *g)
{
    unsigned x = (unsigned)below(g, 100);
    int64_t lo = g->compacted > 0 ? g->compacted : 1;
    if (x < 8)
        return g->rev + between(g, 1, 3); /* future */
    if (x < 14 && g->compacted > 1)
        return between(g, 1, g->compacted - 1); /* compacted */
    if (x < 30 && g->compacted >= 0)
        return g->compacted + between(g, -1, 1); /* the corner */
    if (x < 36)
        return g->rev;
    if (x < 40)
        return -between(g, 0, 2); /* 0 and negatives mean "current" */
    return between(g, lo, g->rev);
}

/* ---- ops ------------------------------------------------------------------------------- */

static void fill_value(gen *g, unsigned char *v, size_t n)
{
    unsigned kind = (unsigned)below(g, 100);
    for (size_t i = 0; i < n; i++) {
        if (kind < 70)
            v[i] = (unsigned char)"abcdefghijklmnopqrstuvwxyz0123456789_-/"[below(g, 39)];
        else if (kind < 85)
            v[i] = (unsigned char)(0x20 + below(g, 95));
        else
            v[i] = (unsigned char)below(g, 256);
    }
}

static size_t pick_value_len(gen *g)
{
    unsigned x = (unsigned)below(g, 1000);
    if (x < 30)
        return 0;
    if (x < 850)
        return (size_t)between(g, 1, 24);
    if (x < 980)
        return (size_t)between(g, 25, 400);
    return (size_t)between(g, 401, g->prof == PROFILE_CORNER ? 2000 : MAX_VALUE);
}

/* ---- leases ---------------------------------------------------------------------- */

static void gen_put(gen *g);

static bool lease_granted(const gen *g, int64_t id)
{
    for (size_t i = 0; i < g->nleases; i++)
        if (g->leases[i] == id)
            return true;
    return false;
}

/* Percent of puts that name a lease (none with --no-lease: the draws stay as they were). */
static unsigned leased_put_pct(const gen *g)
{
    return !g->lease ? 0 : g->nleases > 0 ? 30 : 3;
}

/* A granted ID with probability pct %, else one from the pool or a corner (maybe missing). */
static int64_t pick_lease_id(gen *g, unsigned pct)
{
    if (g->nleases > 0 && chance(g, pct))
        return g->leases[below(g, g->nleases)];
    unsigned x = (unsigned)below(g, 100);
    if (x < 80)
        return between(g, 1, 10);
    if (x < 90)
        return -between(g, 1, 3); /* a client-chosen negative ID */
    if (x < 95)
        return INT64_MAX - (int64_t)below(g, 2);
    return INT64_MIN + (int64_t)below(g, 2);
}

static void put_int(int64_t v)
{
    printf(" %" PRId64, v);
}

/* lease grant ID TTL: etcd's checks (ID 0, TTL too large, exists), TTL floors. */
static void gen_lease_grant(gen *g)
{
    unsigned x = (unsigned)below(g, 100);
    int64_t id = x < 5 ? 0 : pick_lease_id(g, 15);
    unsigned t = (unsigned)below(g, 100);
    int64_t ttl = t < 60   ? between(g, 1, 3600)
                  : t < 70 ? 0
                  : t < 78 ? -between(g, 1, 100)
                  : t < 86 ? 9000000000 - (int64_t)below(g, 2)
                  : t < 92 ? 9000000001 + (int64_t)below(g, 5)
                  : t < 96 ? INT64_MAX
                           : INT64_MIN;
    fputs("lease grant", stdout);
    put_int(id);
    put_int(ttl);
    end_line(g);
    if (id != 0 && ttl <= 9000000000 && !lease_granted(g, id) && g->nleases < MAX_LEASES)
        g->leases[g->nleases++] = id;
    else if (id != 0 && ttl <= 9000000000 && !lease_granted(g, id))
        g->leases[below(g, MAX_LEASES)] = id; /* the model forgets one: it only aims */
}

/* lease revoke ID: deletes its live keys in one revision. */
static void gen_lease_revoke(gen *g)
{
    int64_t id = pick_lease_id(g, 85);
    fputs("lease revoke", stdout);
    put_int(id);
    end_line(g);
    if (!lease_granted(g, id))
        return;
    long n = 0;
    for (size_t i = 0; i < g->npool; i++) {
        if (g->alive[i] && g->key_lease[i] == id) {
            g->alive[i] = false;
            g->key_lease[i] = 0;
            n++;
        }
    }
    if (n > 0) {
        g->rev++;
        note_tomb(g, g->rev);
    }
    for (size_t i = 0; i < g->nleases; i++) {
        if (g->leases[i] == id) {
            g->leases[i] = g->leases[--g->nleases];
            break;
        }
    }
}

/* lease renew|get ID, lease list: no change. */
static void gen_lease_read(gen *g)
{
    unsigned x = (unsigned)below(g, 100);
    if (x < 30) {
        fputs("lease list", stdout);
    } else {
        fputs(x < 60 ? "lease renew" : "lease get", stdout);
        put_int(pick_lease_id(g, 80));
    }
    end_line(g);
}

/* Leased keys moved around: overwritten unleased or under another lease, or deleted. */
static void gen_lease_churn(gen *g)
{
    size_t i = pick_key(g);
    if (!g->alive[i] || g->key_lease[i] == 0 || chance(g, 30)) {
        gen_put(g);
        return;
    }
    fputs("put ", stdout);
    put_key(g, &g->pool[i]);
    fputs(" churn", stdout);
    int64_t lease = chance(g, 50) ? pick_lease_id(g, 90) : 0;
    if (lease != 0)
        printf(" lease=%" PRId64, lease);
    end_line(g);
    if (lease != 0 && !lease_granted(g, lease))
        return;
    g->key_lease[i] = lease;
    g->rev++;
}

/* put KEY VALUE: one change; outside a txn its own revision. */
static void gen_put(gen *g)
{
    static unsigned char v[MAX_VALUE];
    size_t i = pick_key(g), n = pick_value_len(g);
    fill_value(g, v, n);
    fputs("put ", stdout);
    put_key(g, &g->pool[i]);
    putchar(' ');
    put_tok(g, v, n);
    /* lease 0 is "no lease" in both forms; a missing lease writes nothing */
    unsigned x = (unsigned)below(g, 100);
    int64_t lease = 0;
    if (x < 2) {
        fputs(" 0", stdout);
    } else if (x < 4) {
        fputs(" lease=0", stdout);
    } else if (x < 4 + leased_put_pct(g)) {
        lease = pick_lease_id(g, 85);
        printf(chance(g, 70) ? " lease=%" PRId64 : " %" PRId64, lease);
    }
    end_line(g);
    if (lease != 0 && !lease_granted(g, lease))
        return; /* `put error="lease not found"`: nothing written */
    g->key_lease[i] = lease;
    g->alive[i] = true;
    if (g->in_txn)
        g->txn_changes++;
    else
        g->rev++;
}

/* del RANGE: a revision when something was alive in it. */
static void gen_del(gen *g)
{
    krange r = pick_range(g, true);
    fputs("del", stdout);
    put_range(g, &r);
    end_line(g);
    long n = 0;
    for (size_t i = 0; i < g->npool; i++) {
        if (g->alive[i] && in_range(g, &r, i)) {
            g->alive[i] = false;
            g->key_lease[i] = 0;
            n++;
        }
    }
    if (g->in_txn) {
        g->txn_changes += n;
    } else if (n > 0) {
        g->rev++;
        note_tomb(g, g->rev);
    }
}

/* range RANGE [rev=N] [limit=N] [count] [keysonly] */
static void gen_range(gen *g)
{
    krange r = pick_range(g, false);
    fputs("range", stdout);
    put_range(g, &r);
    if (chance(g, g->in_txn ? 15 : 40))
        printf(" rev=%" PRId64, g->in_txn ? g->rev + between(g, -1, 1) : pick_read_rev(g));
    if (chance(g, 25))
        printf(" limit=%" PRId64, between(g, -1, 4));
    if (chance(g, 10))
        fputs(" count", stdout);
    if (chance(g, 10))
        fputs(" keysonly", stdout);
    end_line(g);
}

/* txn, 1..6 of put/del/range (often on one key), end: one revision if anything changed. */
static void gen_txn(gen *g)
{
    long n = between(g, 1, 6);
    fputs("txn", stdout);
    end_line(g);
    g->in_txn = true;
    g->txn_changes = 0;
    bool had_del = false;
    for (long i = 0; i < n; i++) {
        unsigned x = (unsigned)below(g, 100);
        if (x < 55) {
            gen_put(g);
        } else if (x < 80) {
            long before = g->txn_changes;
            gen_del(g);
            had_del = had_del || g->txn_changes > before;
        } else {
            gen_range(g);
        }
    }
    fputs("end", stdout);
    end_line(g);
    g->in_txn = false;
    if (g->txn_changes > 0) {
        g->rev++;
        if (had_del)
            note_tomb(g, g->rev);
    }
}

/* compact REV, aimed at the corners; ~25 % at ErrCompacted / ErrFutureRev. */
static void gen_compact(gen *g)
{
    int64_t rev;
    unsigned x = (unsigned)below(g, 100);
    if (x < 10)
        rev = g->rev + between(g, 1, 2);
    else if (x < 22)
        rev = g->compacted >= 0 ? between(g, g->compacted - 1, g->compacted) : between(g, -2, 0);
    else if (x < 50 && g->ntombs > 0) {
        size_t back = (size_t)below(g, g->ntombs < 4 ? g->ntombs : 4);
        rev = g->tombs[(g->ntombs - 1 - back) % MAX_TOMBS];
        rev += between(g, -1, 1);
    } else if (x < 62)
        rev = g->rev;
    else
        rev = between(g, g->compacted + 1, g->rev);
    printf("compact %" PRId64, rev);
    end_line(g);
    if (rev > g->compacted && rev <= g->rev)
        g->compacted = rev;
    g->last_was_compact = true;
}

/* hash [REV]: current, valid, compacted or future. */
static void gen_hash(gen *g)
{
    unsigned x = (unsigned)below(g, 100);
    if (x < 35) {
        fputs("hash", stdout);
    } else if (x < 45) {
        fputs("hash 0", stdout);
    } else {
        int64_t rev = pick_read_rev(g);
        printf("hash %" PRId64, rev);
    }
    end_line(g);
}

static void gen_word(gen *g, const char *w)
{
    fputs(w, stdout);
    end_line(g);
}

static void gen_hashall(gen *g)
{
    gen_word(g, "hashall");
}

static void gen_reopen(gen *g)
{
    gen_word(g, "reopen");
    g->nwatch = 0; /* reopen drops every watcher (ids become free) */
    g->next_auto_id = 0;
}

static void gen_defrag(gen *g)
{
    gen_word(g, "defrag");
}

static void gen_commit(gen *g)
{
    gen_word(g, "commit");
}

static void gen_rev(gen *g)
{
    gen_word(g, "rev");
}

/* Lines that produce nothing: blank, comments (the lexer's corners). */
static void gen_blank(gen *g)
{
    unsigned x = (unsigned)below(g, 3);
    if (x == 0)
        fputs("# comment: \"not a token", stdout);
    else if (x == 1)
        fputs("   \t", stdout);
    end_line(g);
}

/* Wipe the key space and hash (no key alive: HashKV's filter is off). */
static void gen_wipe_hash(gen *g)
{
    fputs("del \"\" prefix", stdout);
    end_line(g);
    if (any_alive(g)) {
        g->rev++;
        note_tomb(g, g->rev);
    }
    memset(g->alive, 0, sizeof g->alive);
    memset(g->key_lease, 0, sizeof g->key_lease);
    gen_hash(g);
}

/* ---- watchers (--watch) ------------------------------------------------------------ */

static bool watch_live(const gen *g, int64_t id)
{
    for (size_t i = 0; i < g->nwatch; i++)
        if (g->watch_ids[i] == id)
            return true;
    return false;
}

/* etcd's watchStream: an auto id is the next one not taken, counting on. */
static int64_t take_auto_id(gen *g)
{
    while (watch_live(g, g->next_auto_id))
        g->next_auto_id++;
    return g->next_auto_id++;
}

/*
 * watch ID RANGE [rev=S] [noput] [nodelete]: ids auto (0), new or taken
 * (an error); start revisions now, past (catch-up from the key bucket),
 * at the compacted revision -1/0/+1 (rule C, compacted), in the future,
 * negative. Ranges as range's; an END at or below KEY is etcd's empty
 * watcher range.
 */
static void gen_watch(gen *g)
{
    if (g->nwatch >= (g->prof == PROFILE_CORNER ? 40u : 12u)) {
        gen_word(g, "rev"); /* enough watchers: something cheap instead */
        return;
    }
    int64_t id;
    unsigned x = (unsigned)below(g, 100);
    if (x < 40)
        id = 0;
    else if (x < 45 && g->nwatch > 0)
        id = g->watch_ids[below(g, g->nwatch)]; /* taken: an error */
    else
        id = between(g, 1, 60);
    krange r = pick_range(g, false);
    printf("watch %" PRId64, id);
    put_range(g, &r);
    x = (unsigned)below(g, 100);
    if (x < 30) {
        /* from now on */
    } else if (x < 55) {
        printf(" rev=%" PRId64, between(g, g->compacted > 0 ? g->compacted : 1, g->rev));
    } else if (x < 75 && g->compacted >= 0) {
        printf(" rev=%" PRId64, g->compacted + between(g, -1, 1));
    } else if (x < 85) {
        const char *name = chance(g, 50) ? "rev" : "startrev";
        int64_t ahead = between(g, 1, 3);
        printf(" %s=%" PRId64, name, g->rev + ahead);
    } else if (x < 90) {
        printf(" rev=%" PRId64, -between(g, 1, 3));
    } else {
        printf(" rev=%" PRId64, between(g, 1, g->rev));
    }
    if (chance(g, 10))
        fputs(" noput", stdout);
    if (chance(g, 10))
        fputs(" nodelete", stdout);
    end_line(g);
    if (id == 0)
        id = take_auto_id(g);
    bool empty = r.kind == R_END &&
                 key_cmp(g->pool[r.e].b, g->pool[r.e].len, g->pool[r.k].b, g->pool[r.k].len) <= 0;
    if (!watch_live(g, id) && !empty && g->nwatch < MAX_WATCHERS)
        g->watch_ids[g->nwatch++] = id;
}

/* cancel ID: mostly a live watcher, sometimes one that is not there (an error). */
static void gen_cancel(gen *g)
{
    int64_t id;
    size_t i = 0;
    bool live = g->nwatch > 0 && chance(g, 85);
    if (live) {
        i = (size_t)below(g, g->nwatch);
        id = g->watch_ids[i];
    } else {
        id = between(g, 0, 70);
    }
    printf("cancel %" PRId64, id);
    end_line(g);
    for (i = 0; i < g->nwatch; i++) {
        if (g->watch_ids[i] == id) {
            g->watch_ids[i] = g->watch_ids[--g->nwatch];
            break;
        }
    }
}

/*
 * A flood (--watch): 150..300 watchers on the whole key space (auto ids,
 * from now on, so neither side waits for a catch-up; every 50th from the
 * current revision), then a put: its events overflow the stream (etcd's
 * 128 slots) and most of the watchers become victims, which both sides
 * must deliver in full before the next op (rule W). The flood's ids are
 * not tracked one by one (the model keeps at most MAX_WATCHERS); the auto
 * counter moves past them.
 */
enum { FLOOD_MAX = 300 };
static void gen_flood(gen *g)
{
    long n = (long)between(g, 150, FLOOD_MAX);
    for (long i = 0; i < n; i++) {
        fputs("watch 0 \"\" prefix", stdout);
        if (i % 50 == 49 && g->rev > 1)
            printf(" rev=%" PRId64, g->rev);
        end_line(g);
        (void)take_auto_id(g);
    }
    gen_put(g);
}

typedef struct op_row {
    const char *name;
    void (*fn)(gen *g);
    unsigned weight[N_PROFILES]; /* per mille, by profile */
    long lines;                  /* most lines it writes (the op budget) */
    bool watch;                  /* a watchers' op: only with --watch */
    bool lease;                  /* a lessor's op: not with --no-lease */
} op_row;

static const op_row op_table[] = {
    { "put", gen_put, { 330, 250 }, 1, false, false },
    { "del", gen_del, { 110, 170 }, 1, false, false },
    { "range", gen_range, { 200, 150 }, 1, false, false },
    { "txn", gen_txn, { 100, 100 }, 8, false, false },
    { "compact", gen_compact, { 60, 110 }, 1, false, false },
    { "hash", gen_hash, { 60, 80 }, 1, false, false },
    { "hashall", gen_hashall, { 15, 15 }, 1, false, false },
    { "reopen", gen_reopen, { 15, 20 }, 1, false, false },
    { "defrag", gen_defrag, { 10, 15 }, 1, false, false },
    { "commit", gen_commit, { 20, 15 }, 1, false, false },
    { "rev", gen_rev, { 40, 30 }, 1, false, false },
    { "blank", gen_blank, { 30, 15 }, 1, false, false },
    { "wipe+hash", gen_wipe_hash, { 10, 30 }, 2, false, false },
    { "watch", gen_watch, { 40, 60 }, 1, true, false },
    { "cancel", gen_cancel, { 15, 25 }, 1, true, false },
    { "flood", gen_flood, { 2, 3 }, FLOOD_MAX + 1, true, false },
    { "lease grant", gen_lease_grant, { 30, 40 }, 1, false, true },
    { "lease revoke", gen_lease_revoke, { 15, 25 }, 1, false, true },
    { "lease renew/get/list", gen_lease_read, { 25, 25 }, 1, false, true },
    { "lease churn", gen_lease_churn, { 15, 20 }, 1, false, true },
};
#define N_OPS (sizeof op_table / sizeof op_table[0])

/* A row's weight in this run: a watchers' op only with --watch, a lessor's not with --no-lease. */
static unsigned weight_of(const gen *g, const op_row *row)
{
    return (row->watch && !g->watch) || (row->lease && !g->lease) ? 0 : row->weight[g->prof];
}

static void usage(void)
{
    fprintf(stderr, "usage: script_gen [--seed N] [--ops N] [--profile default|corner] [--watch] "
                    "[--no-lease]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    long ops = 1500;
    profile prof = PROFILE_DEFAULT;
    bool watch = false, lease = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--watch") == 0)
            watch = true;
        else if (strcmp(argv[i], "--no-lease") == 0)
            lease = false;
        else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            const char *p = argv[++i];
            if (strcmp(p, "default") == 0)
                prof = PROFILE_DEFAULT;
            else if (strcmp(p, "corner") == 0)
                prof = PROFILE_CORNER;
            else
                usage();
        } else {
            usage();
        }
    }
    if (ops < 1)
        usage();
    gen g = {
        .rng = seed, .prof = prof, .rev = 1, .compacted = -1, .watch = watch, .lease = lease
    };
    make_pool(&g);
    printf("# script_gen --seed %" PRIu64 " --ops %ld --profile %s%s%s\n", seed, ops,
           prof == PROFILE_CORNER ? "corner" : "default", watch ? " --watch" : "",
           lease ? "" : " --no-lease");
    g.lines = 1;
    unsigned total = 0;
    for (size_t i = 0; i < N_OPS; i++)
        total += weight_of(&g, &op_table[i]);
    while (g.lines < ops) {
        /* Right after a compaction, often look at its corner: reopen,
         * defrag, a range or hash at the compacted revision. */
        if (g.last_was_compact) {
            g.last_was_compact = false;
            unsigned x = (unsigned)below(&g, 100);
            if (x < 10 && g.lines < ops) {
                gen_reopen(&g);
                continue;
            }
            if (x < 18 && g.lines < ops) {
                gen_defrag(&g);
                continue;
            }
        }
        unsigned r = (unsigned)below(&g, total);
        size_t i = 0;
        while (r >= weight_of(&g, &op_table[i])) {
            r -= weight_of(&g, &op_table[i]);
            i++;
        }
        if (g.lines + op_table[i].lines > ops)
            i = 0; /* a put fits in the last line */
        op_table[i].fn(&g);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
