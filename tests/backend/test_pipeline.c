/*
 * test_pipeline.c: backend.c rules 3 and 8-11, the pipelined commit: writes
 * while a commit is written out (held in flight by the "commit_write"
 * failpoint, released by the test: no sleeps), what readers and the batch
 * range see meanwhile, the replay of the write log, the refusals, settling,
 * a failed commit in flight, force_commit's durability, and a concurrent
 * run against a model (suite concurrency).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "../../backend/backend_int.h" /* the write log's count (batch_tx.c rule 7) */
#include "backend_test.h"
#include "gate.h"
#include "strata_config.h"

#if STRATA_FAILPOINTS

/* ---- a backend with a gate, and a committer thread ----------------------- */

typedef struct fixture {
    gate g;
    backend *be;
    backend_options o;
    char name[64];
} fixture;

static void fx_open(fixture *f, const char *name)
{
    gate_init(&f->g, "commit_write", false);
    f->o = bk_opts(NULL); /* a real clock: the interval (100 ms) never matters here */
    f->o.batch_interval_ns = 3600ull * 1000000000u;
    f->o.failpoint = gate_failpoint;
    f->o.failpoint_arg = &f->g;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->be = bk_open(f->name, &f->o);
}

static void fx_reopen(fixture *f)
{
    ASSERT_OK(backend_close(f->be));
    f->be = bk_open(f->name, &f->o);
}

static void fx_close(fixture *f)
{
    backend_close(f->be);
    gate_destroy(&f->g);
}

typedef struct committer {
    pthread_t th;
    backend *be;
    int rc;
} committer;

static void *commit_main(void *arg)
{
    committer *c = arg;
    c->rc = backend_force_commit(c->be);
    return NULL;
}

static void committer_start(committer *c, backend *be)
{
    c->be = be;
    c->rc = 1;
    ASSERT_EQ_INT(pthread_create(&c->th, NULL, commit_main, c), 0);
}

static int committer_join(committer *c)
{
    pthread_join(c->th, NULL);
    return c->rc;
}

/* A commit on its own thread, held at the gate inside its WRITE: the backend logs from here on. */
static void commit_hold(fixture *f, committer *cm)
{
    f->g.armed = true; /* before any thread can reach the failpoint */
    committer_start(cm, f->be);
    gate_wait_entered(&f->g, 1);
}

/* The held commit let go (no later commit stops at the gate); its status. */
static int commit_release(fixture *f, committer *cm)
{
    pthread_mutex_lock(&f->g.mu);
    f->g.armed = false;
    pthread_mutex_unlock(&f->g.mu);
    gate_release(&f->g, 1);
    return committer_join(cm);
}

/*
 * Ops, one section each ("|" separates sections): "p KEY VAL", "d KEY",
 * in bucket "b".
 */
static void apply(backend *be, const char *ops)
{
    backend_batch_tx *tx = backend_batch(be);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ops);
    backend_batch_tx_lock(tx);
    for (char *save = NULL, *op = strtok_r(buf, ";", &save); op != NULL;
         op = strtok_r(NULL, ";", &save)) {
        char kind[4], k[64], v[64];
        int n = sscanf(op, " %3s %63s %63s", kind, k, v);
        if (n >= 1 && kind[0] == '|') {
            ASSERT_OK(backend_batch_tx_unlock(tx));
            backend_batch_tx_lock(tx);
        } else if (n == 3 && kind[0] == 'p') {
            ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
        } else if (n == 2 && kind[0] == 'd') {
            ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
        } else {
            ASSERT_TRUE(!"bad op in the test table");
        }
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

/* The whole bucket as the batch transaction sees it, inside a section of its own. */
static const char *batch_scan(backend *be, bk_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_for_each(tx, bolt_str("b"), bk_append, s));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    return s->buf;
}

/* ---- table: writes while a commit is in flight ---------------------------- */

typedef struct inflight_case {
    const char *name;
    const char *committed; /* committed before */
    const char *batch;     /* the batch the gated commit writes out */
    const char *during;    /* sections while it is in flight */
    const char *range_in;  /* a batch range in the during section's own lock, at its end */
    const char *want;      /* what everyone sees afterwards */
} inflight_case;

static const inflight_case inflight_cases[] = {
    { "puts go on", "p a 1", "p b 2", "p c 3", "a=1 b=2 c=3 ", "a=1 b=2 c=3 " },
    { "overwrite the batch in flight", "p a 1", "p b 2;d a", "p b 4;p a 5", "a=5 b=4 ",
      "a=5 b=4 " },
    { "deletes of committed and in-flight keys", "p a 1;p z 9", "p b 2", "d z;d b", "a=1 ",
      "a=1 " },
    { "replay keeps the order", "p a 1", "p b 1", "p x 1;d x;p y 1;d y;p y 2;|;d y;p y 3",
      "a=1 b=1 y=3 ", "a=1 b=1 y=3 " },
    { "several sections", "p a 1", "p a 2", "p b 1;|;p c 1;|;d b;|;p b 7", "a=2 b=7 c=1 ",
      "a=2 b=7 c=1 " },
    { "delete of a missing key", "p a 1", "p b 1", "d nothere", "a=1 b=1 ", "a=1 b=1 " },
};

static void in_section_range(backend *be, const char *ops, bk_str *s)
{
    /* The section's ops, then the batch's own view of the bucket, in one lock. */
    backend_batch_tx *tx = backend_batch(be);
    const char *last = strrchr(ops, '|');
    if (last != NULL) {
        char head[512];
        snprintf(head, sizeof head, "%.*s", (int)(last - ops), ops);
        apply(be, head);
        ops = last + 2;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ops);
    backend_batch_tx_lock(tx);
    for (char *save = NULL, *op = strtok_r(buf, ";", &save); op != NULL;
         op = strtok_r(NULL, ";", &save)) {
        char kind[4], k[64], v[64];
        int n = sscanf(op, " %3s %63s %63s", kind, k, v);
        if (n == 3 && kind[0] == 'p')
            ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
        else if (n == 2 && kind[0] == 'd')
            ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
    }
    s->len = 0;
    s->buf[0] = '\0';
    ASSERT_OK(backend_batch_tx_for_each(tx, bolt_str("b"), bk_append, s));
    /* One key, and a bounded range with a limit, in the section itself. */
    bk_str one, two;
    one.len = two.len = 0;
    one.buf[0] = two.buf[0] = '\0';
    ASSERT_OK(backend_batch_tx_range(tx, bolt_str("b"), bolt_str("a"), (bolt_val){ NULL, 0 }, 0,
                                     bk_append, &one));
    ASSERT_OK(backend_batch_tx_range(tx, bolt_str("b"), bolt_str("a"), bolt_str("z"), 1, bk_append,
                                     &two));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    /* The first pair of the full view: the limited range's; "a" only if it is there. */
    size_t first = strcspn(s->buf, " ") + (s->len > 0);
    ASSERT_EQ_MEM(two.buf, two.len, s->buf, first);
    if (strncmp(s->buf, "a=", 2) == 0)
        ASSERT_EQ_MEM(one.buf, one.len, s->buf, first);
    else
        ASSERT_EQ_SIZE(one.len, 0);
}

static void test_writes_while_commit_in_flight(void)
{
    for (size_t i = 0; i < sizeof inflight_cases / sizeof *inflight_cases; i++) {
        const inflight_case *c = &inflight_cases[i];
        harness_current = c->name;
        fixture f;
        char name[32];
        snprintf(name, sizeof name, "inflight-%zu.db", i);
        fx_open(&f, name);
        bk_bucket(f.be, "b");
        apply(f.be, c->committed);
        ASSERT_OK(backend_force_commit(f.be));
        apply(f.be, c->batch);
        uint64_t commits = backend_commits(f.be);

        committer cm;
        commit_hold(&f, &cm);
        /* The commit is in flight, stopped at the failpoint: writes must not wait for it. */
        bk_str s;
        in_section_range(f.be, c->during, &s);
        ASSERT_EQ_STR(s.buf, c->range_in);
        ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->want); /* readers, in flight */
        ASSERT_EQ_STR(batch_scan(f.be, &s), c->want);
        ASSERT_EQ_U64(backend_commits(f.be), commits); /* still in flight */
        ASSERT_TRUE(backend_pending(f.be) > 0);        /* the logged writes */

        ASSERT_OK(commit_release(&f, &cm));
        ASSERT_EQ_U64(backend_commits(f.be), commits + 1);
        ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->want);
        ASSERT_EQ_STR(batch_scan(f.be, &s), c->want); /* the log replayed into bolt */
        ASSERT_OK(backend_force_commit(f.be));
        ASSERT_EQ_U64(backend_pending(f.be), 0);
        fx_reopen(&f);
        ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->want);
        fx_close(&f);
    }
}

/* ---- refusals while logging, and the writes that settle ------------------ */

typedef struct refusal {
    const char *name;
    bool del;
    const char *bucket, *key;
    int want;
} refusal;

static void make_nested(const char *name)
{
    /* A file with bucket "b" holding a nested bucket "sub" (etcd never makes one). */
    char path[4096];
    harness_path(path, sizeof path, name);
    bolt_db *db;
    ASSERT_OK(bolt_open(path, bk_bolt_opts(), &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_create(b, bolt_str("sub"), NULL));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
}

static void test_refusals_while_logging(void)
{
    static const refusal cases[] = {
        { "missing bucket, put", false, "nope", "k", BACKEND_EBUCKETNOTFOUND },
        { "missing bucket, delete", true, "nope", "k", BACKEND_EBUCKETNOTFOUND },
        { "empty key, put", false, "b", "", BOLT_EKEYREQUIRED },
        { "empty key, delete", true, "b", "", BOLT_EKEYREQUIRED },
        { "nested bucket, put", false, "b", "sub", BOLT_EINCOMPATIBLEVALUE },
        { "nested bucket, delete", true, "b", "sub", BOLT_EINCOMPATIBLEVALUE },
    };
    fixture f;
    make_nested("refuse.db");
    fx_open(&f, "refuse.db");
    apply(f.be, "p a 1");
    committer cm;
    commit_hold(&f, &cm);
    uint64_t pending = backend_pending(f.be);
    backend_batch_tx *tx = backend_batch(f.be);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        harness_current = cases[i].name;
        backend_batch_tx_lock(tx);
        int rc = cases[i].del ? backend_batch_tx_delete(tx, bolt_str(cases[i].bucket),
                                                        bolt_str(cases[i].key))
                              : backend_batch_tx_put(tx, bolt_str(cases[i].bucket),
                                                     bolt_str(cases[i].key), bolt_str("v"));
        ASSERT_RC(rc, cases[i].want);
        ASSERT_OK(backend_batch_tx_unlock(tx));
        ASSERT_EQ_U64(backend_pending(f.be), pending); /* refused writes leave no trace */
    }
    harness_current = "test_refusals_while_logging";
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "a=1 "); /* the nested bucket is skipped */
    ASSERT_OK(commit_release(&f, &cm));
    fx_close(&f);
}

typedef struct releaser {
    pthread_t th;
    gate *g;
} releaser;

static void *release_main(void *arg)
{
    releaser *r = arg;
    pthread_mutex_lock(&r->g->mu);
    r->g->armed = false;
    pthread_mutex_unlock(&r->g->mu);
    gate_release(r->g, 1);
    return NULL;
}

/*
 * Writes that need bolt's write transaction itself settle: they wait for the
 * commit in flight (released here by another thread, whenever it runs) and
 * replay the log first, so their outcome is bolt's own and in order.
 */
static void test_settle(void)
{
    static char big[40000];
    memset(big, 'x', sizeof big);
    fixture f;
    fx_open(&f, "settle.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1");
    uint64_t commits = backend_commits(f.be);
    committer cm;
    commit_hold(&f, &cm);
    apply(f.be, "p b 2;d a"); /* logged */
    releaser r = { .g = &f.g };
    ASSERT_EQ_INT(pthread_create(&r.th, NULL, release_main, &r), 0);
    backend_batch_tx *tx = backend_batch(f.be);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), (bolt_val){ big, sizeof big }, bolt_str("v")),
              BOLT_EKEYTOOLARGE);
    /* Settled: the commit in flight finished, the log is in bolt's transaction. */
    ASSERT_EQ_U64(backend_commits(f.be), commits + 1);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("c")));
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("c"), bolt_str("k"), bolt_str("v")));
    ASSERT_OK(backend_batch_tx_unlock(tx)); /* a bucket change commits at unlock */
    pthread_join(r.th, NULL);
    ASSERT_OK(committer_join(&cm));
    ASSERT_EQ_U64(backend_pending(f.be), 0);
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "b=2 ");
    ASSERT_EQ_STR(bk_scan(f.be, "c", "", "", 0, &s), "k=v ");
    fx_reopen(&f);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "b=2 ");
    ASSERT_EQ_STR(bk_scan(f.be, "c", "", "", 0, &s), "k=v ");
    fx_close(&f);
}

static void *disarm_main(void *arg)
{
    gate_disarm(((releaser *)arg)->g);
    return NULL;
}

/*
 * backend.c rule 14: at twice the limit, unlock begins the commit (the
 * batch ends there) and the commit thread writes it out. The test thread
 * is the one unlocking: if it wrote the commit out itself it would stop
 * at the armed gate and never return; the thread that does stop there is
 * the commit thread. Meanwhile readers see the section's writes, a next
 * section logs, and close (its settle) waits for the WRITE and keeps all.
 */
static void test_limit_commit_handed_off(void)
{
    fixture f;
    gate_init(&f.g, "commit_write", false);
    f.o = bk_opts(NULL);
    f.o.batch_interval_ns = 3600ull * 1000000000u; /* only the limit commits */
    f.o.batch_limit = 4;
    f.o.failpoint = gate_failpoint;
    f.o.failpoint_arg = &f.g;
    snprintf(f.name, sizeof f.name, "handoff.db");
    f.be = bk_open(f.name, &f.o);
    bk_bucket(f.be, "b");
    uint64_t commits = backend_commits(f.be);
    f.g.armed = true; /* no thread can reach the failpoint before the next unlock */
    apply(f.be, "p a 1;p b 2;p c 3;p d 4;p e 5;p f 6;p g 7;p h 8");
    ASSERT_EQ_U64(backend_pending(f.be), 0); /* the batch ended in unlock: the bound holds */
    gate_wait_entered(&f.g, 1);              /* the commit thread holds the WRITE */
    ASSERT_EQ_U64(backend_commits(f.be), commits);
    bk_str s;
    ASSERT_EQ_STR(bk_get(f.be, "b", "h", &s), "h=8 "); /* rule 3: visible at unlock */
    apply(f.be, "p i 9;d a");                          /* logged behind the commit in flight */
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 ");
    gate_disarm(&f.g);
    ASSERT_OK(backend_poke(f.be)); /* one loop: FINISH done, the log replayed */
    ASSERT_EQ_U64(backend_commits(f.be), commits + 1);
    ASSERT_EQ_U64(backend_pending(f.be), 2);
    /* Again, with close right after the unlock: whoever claims the WRITE, close waits for it. */
    f.g.armed = true;
    apply(f.be, "p j 10;p k 11;p l 12;p m 13;p n 14;p o 15");
    ASSERT_EQ_U64(backend_pending(f.be), 0);
    gate_wait_entered(&f.g, 2);
    releaser r = { .g = &f.g };
    ASSERT_EQ_INT(pthread_create(&r.th, NULL, disarm_main, &r), 0);
    fx_reopen(&f); /* close settles: the WRITE the commit thread holds, then its own commit */
    pthread_join(r.th, NULL);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s),
                  "b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 n=14 o=15 ");
    fx_close(&f);
}

/*
 * batch_tx.c rule 7: after a commit finished, a section's unlock replays
 * twice what it logged only once the log has taken the batch limit's worth
 * of entries since it was last empty; a shorter log waits for the thread
 * that drains (here force_commit's, at the end). The commit thread never
 * wakes meanwhile: the interval is an hour and pending stays below the
 * limit until the last section.
 */
static void test_short_log_left_to_the_drain(void)
{
    fixture f;
    gate_init(&f.g, "commit_write", false);
    f.o = bk_opts(NULL);
    f.o.batch_interval_ns = 3600ull * 1000000000u;
    f.o.batch_limit = 8;
    f.o.failpoint = gate_failpoint;
    f.o.failpoint_arg = &f.g;
    snprintf(f.name, sizeof f.name, "shortlog.db");
    f.be = bk_open(f.name, &f.o);
    bk_bucket(f.be, "b");
    apply(f.be, "p 0 0"); /* something for the committer's commit */
    committer cm;
    commit_hold(&f, &cm);
    apply(f.be, "p a 1;|;p b 2;|;p c 3"); /* logged behind the commit in flight */
    gate_disarm(&f.g);
    ASSERT_OK(committer_join(&cm)); /* FINISHed by the committer; it leaves the log */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 3);
    apply(f.be, "p d 4"); /* 4 appended < 8: not replayed at unlock */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 4);
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s),
                  "0=0 a=1 b=2 c=3 d=4 ");  /* the snapshot has them */
    apply(f.be, "p e 5;p f 6;p g 7;p h 8"); /* 8 appended: replays 2 x 4, the log empties */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 0);
    ASSERT_OK(backend_force_commit(f.be));
    fx_reopen(&f);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "0=0 a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 ");
    fx_close(&f);
}

/* A section of puts k<from>..k<to-1> = i, ended by backend_batch_tx_unlock_waited. */
static void waited_section(backend *be, int from, int to)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(v, sizeof v, "%d", i);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
    }
    ASSERT_OK(backend_batch_tx_unlock_waited(tx));
}

/*
 * backend_batch_tx_unlock_waited (session 8): past the batch limit it still
 * leaves the replay to the thread that drains, until the log has taken four
 * times the limit since it was last empty; then it replays its share (twice
 * what it logged), as unlock does. Readers see every write at once either
 * way, and all of them are committed in the end. The commit thread, woken
 * by the limit, is held at "commit_thread" meanwhile (its drain would take
 * the log away under the counts).
 */
static gate thread_gate; /* "commit_thread": the commit thread held when the limit wakes it */

static int two_gates(void *arg, const char *name)
{
    int rc = gate_failpoint(arg, name);
    return rc != 0 ? rc : gate_failpoint(&thread_gate, name);
}

static void test_waited_unlock_leaves_replay(void)
{
    fixture f;
    gate_init(&f.g, "commit_write", false);
    gate_init(&thread_gate, "commit_thread", true); /* its drain would race the counts */
    f.o = bk_opts(NULL);
    f.o.batch_interval_ns = 3600ull * 1000000000u;
    f.o.batch_limit = 8;
    f.o.failpoint = two_gates;
    f.o.failpoint_arg = &f.g;
    snprintf(f.name, sizeof f.name, "waited.db");
    f.be = bk_open(f.name, &f.o);
    bk_bucket(f.be, "b");
    apply(f.be, "p 0 0");
    committer cm;
    commit_hold(&f, &cm);
    waited_section(f.be, 0, 3); /* logged behind the commit in flight */
    gate_disarm(&f.g);
    ASSERT_OK(committer_join(&cm)); /* FINISHed; the log is left */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 3);
    waited_section(f.be, 3, 8); /* 8 appended: unlock would replay, this leaves it */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 8);
    waited_section(f.be, 8, 31); /* 31 appended, below 4 x 8 */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 31);
    bk_str s;
    ASSERT_EQ_STR(bk_get(f.be, "b", "k30", &s), "k30=30 "); /* the snapshot has them */
    waited_section(f.be, 31, 35);                           /* 35 appended: replays 2 x 4 */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 27);
    apply(f.be, "p a 1"); /* a plain unlock: 2 x 1 */
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 26);
    gate_disarm(&thread_gate);
    ASSERT_OK(backend_force_commit(f.be));
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 0);
    fx_reopen(&f);
    for (int i = 0; i < 35; i++) {
        char k[16], want[32];
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(want, sizeof want, "%s=%d ", k, i);
        ASSERT_EQ_STR(bk_get(f.be, "b", k, &s), want);
    }
    fx_close(&f);
    gate_destroy(&thread_gate);
}

/*
 * backend.h commit_thread_preempts (backend.c rule 4): the commit thread
 * runs as SCHED_BATCH on Linux unless the option keeps the opener's
 * policy. The "commit_thread" failpoint runs on the commit thread: it
 * notes the policy there.
 */
static int seen_policy; /* the commit thread's, noted at "commit_thread" (poke waits for it) */

static int note_policy(void *arg, const char *name)
{
    (void)arg;
    if (strcmp(name, "commit_thread") == 0)
        __atomic_store_n(&seen_policy, sched_getscheduler(0), __ATOMIC_RELAXED);
    return 0;
}

static void test_commit_thread_policy(void)
{
    int mine = sched_getscheduler(0);
    ASSERT_TRUE(mine >= 0);
    for (int preempts = 0; preempts <= 1; preempts++) {
        strata_manual_clock clk;
        backend_options o = bk_opts(&clk);
        o.batch_interval_ns = MS(100);
        o.failpoint = note_policy;
        o.commit_thread_preempts = preempts != 0;
        backend *be = bk_open(preempts ? "policy1.db" : "policy0.db", &o);
        __atomic_store_n(&seen_policy, -1, __ATOMIC_RELAXED);
        strata_manual_clock_advance(&clk, MS(100)); /* the interval: the thread's round */
        ASSERT_OK(backend_poke(be));
        int seen = __atomic_load_n(&seen_policy, __ATOMIC_RELAXED);
#if defined(__linux__) && defined(SCHED_BATCH)
        ASSERT_EQ_INT(seen, preempts ? mine : SCHED_BATCH);
#else
        ASSERT_EQ_INT(seen, mine);
#endif
        ASSERT_EQ_INT(sched_getscheduler(0), mine); /* the opener's own thread is untouched */
        ASSERT_OK(backend_close(be));
    }
}

/* backend_batch_tx_reserve while logging: the log takes the writes as usual after it. */
static void test_reserve_while_logging(void)
{
    fixture f;
    fx_open(&f, "reservelog.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1");
    committer cm;
    commit_hold(&f, &cm);
    backend_batch_tx *tx = backend_batch(f.be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_reserve(tx, bolt_str("b"), 300, 300 * 8));
    for (int j = 0; j < 300; j++) {
        char k[16];
        snprintf(k, sizeof k, "r%04d", j);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str("x")));
    }
    ASSERT_EQ_SIZE(backend__wlog_count(f.be->log), 300);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    gate_disarm(&f.g);
    ASSERT_OK(committer_join(&cm));
    ASSERT_OK(backend_force_commit(f.be));
    fx_reopen(&f);
    bk_str s;
    ASSERT_EQ_STR(bk_get(f.be, "b", "r0000", &s), "r0000=x ");
    ASSERT_EQ_STR(bk_get(f.be, "b", "r0299", &s), "r0299=x ");
    ASSERT_EQ_STR(bk_get(f.be, "b", "a", &s), "a=1 ");
    fx_close(&f);
}

/* ---- a failed commit in flight -------------------------------------------- */

static void test_failed_commit_in_flight(void)
{
    fixture f;
    fx_open(&f, "failed.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1");
    ASSERT_OK(backend_force_commit(f.be));
    apply(f.be, "p b 2");
    f.g.armed = true;
    f.g.fail_rc = -EIO;
    committer cm;
    committer_start(&cm, f.be);
    gate_wait_entered(&f.g, 1);
    apply(f.be, "p c 3"); /* logged: accepted, but lost with the failed batch */
    gate_release(&f.g, 1);
    ASSERT_RC(committer_join(&cm), -EIO);
    backend_batch_tx *tx = backend_batch(f.be);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("d"), bolt_str("4")),
              BACKEND_EFAILED);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "a=1 "); /* readers fall back to bolt */
    ASSERT_RC(backend_force_commit(f.be), BACKEND_EFAILED);
    ASSERT_RC(backend_close(f.be), BACKEND_EFAILED);
    f.g.armed = false;
    f.g.fail_rc = 0;
    f.be = bk_open(f.name, &f.o);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "a=1 ");
    fx_close(&f);
}

/*
 * backend.c rule 16: the commit thread replays the log outside the lock.
 * The limit hands a commit to the commit thread (held in its WRITE at
 * "commit_write"), sections log behind it, and after its FINISH the
 * thread swaps the log out and is held at "replay_out", before the
 * replay. Meanwhile the backend still logs every write (into the new log),
 * readers and the section's own range see them all, and a bucket create
 * on another thread (it settles: it waits for the replay, then replays
 * the rest itself) goes in once the replay ends. A replay that fails is
 * sticky: the create and later writes fail, and the reopened file holds
 * the last commit.
 */
static gate out_gate; /* "replay_out": the commit thread held before its replay outside the lock */

static int out_gates(void *arg, const char *name)
{
    int rc = gate_failpoint(arg, name);
    return rc != 0 ? rc : gate_failpoint(&out_gate, name);
}

/* A committer's thread that creates bucket "b2" instead (a settle). */
static void *create_main(void *arg)
{
    committer *c = arg;
    backend_batch_tx *tx = backend_batch(c->be);
    backend_batch_tx_lock(tx);
    c->rc = backend_batch_tx_create_bucket(tx, bolt_str("b2"));
    int urc = backend_batch_tx_unlock(tx);
    if (c->rc == 0)
        c->rc = urc;
    return NULL;
}

/* The two logs' counts and whether a replay outside the lock is under way, under the lock. */
static void log_counts(backend *be, size_t *in, size_t *out, bool *replaying)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    *in = backend__wlog_count(be->log);
    *out = be->log_out != NULL ? backend__wlog_count(be->log_out) : 0;
    *replaying = backend__replaying_out(be);
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

typedef struct replay_out_case {
    const char *name;
    int fail_rc;             /* what the held replay's failpoint returns */
    const char *after;       /* the bucket once the replay ended (a fresh reader) */
    const char *after_close; /* the bucket in the reopened file */
} replay_out_case;

static const replay_out_case replay_out_cases[] = {
    { "replayed outside the lock", 0, "0=0 b=2 c=3 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 ",
      "0=0 b=2 c=3 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 " },
    { "a failed replay is sticky", -EIO, "0=0 k1=1 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 ",
      "0=0 k1=1 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 " },
};

static void test_replay_outside_lock(void)
{
    for (size_t ci = 0; ci < sizeof replay_out_cases / sizeof replay_out_cases[0]; ci++) {
        const replay_out_case *c = &replay_out_cases[ci];
        fixture f;
        gate_init(&f.g, "commit_write", false);
        gate_init(&out_gate, "replay_out", true);
        out_gate.fail_rc = c->fail_rc;
        f.o = bk_opts(NULL);
        f.o.batch_interval_ns = 3600ull * 1000000000u; /* only the limit commits */
        f.o.batch_limit = 4;
        f.o.failpoint = out_gates;
        f.o.failpoint_arg = &f.g;
        snprintf(f.name, sizeof f.name, "replay_out%zu.db", ci);
        f.be = bk_open(f.name, &f.o);
        bk_bucket(f.be, "b");
        f.g.armed = true;
        /* 8 pending: unlock BEGINs and hands the WRITE to the commit thread (held). */
        apply(f.be, "p 0 0;p k1 1;p k2 2;p k3 3;p k4 4;p k5 5;p k6 6;p k7 7");
        gate_wait_entered(&f.g, 1);
        apply(f.be, "p a 1;|;p b 2;|;d k1"); /* logged behind the commit in flight */
        gate_disarm(&f.g);
        gate_wait_entered(&out_gate, 1); /* FINISHed, the log swapped out, not replayed yet */
        size_t in, out;
        bool replaying;
        log_counts(f.be, &in, &out, &replaying);
        ASSERT_TRUE(replaying);
        ASSERT_EQ_SIZE(out, 3);
        ASSERT_EQ_SIZE(in, 0);
        apply(f.be, "p c 3;|;d a"); /* still logged: into the new log */
        log_counts(f.be, &in, &out, &replaying);
        ASSERT_EQ_SIZE(in, 2);
        ASSERT_EQ_SIZE(out, 3);
        bk_str s;
        const char *during = "0=0 b=2 c=3 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 ";
        ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), during);
        ASSERT_EQ_STR(batch_scan(f.be, &s), during); /* the section's view, no wait */
        committer cr = { .be = f.be, .rc = 1 };
        ASSERT_EQ_INT(pthread_create(&cr.th, NULL, create_main, &cr), 0);
        gate_disarm(&out_gate);
        pthread_join(cr.th, NULL);
        ASSERT_OK(backend_poke(f.be)); /* the commit thread's loop has ended its round */
        log_counts(f.be, &in, &out, &replaying);
        ASSERT_TRUE(!replaying);
        ASSERT_EQ_SIZE(out, 0);
        if (c->fail_rc == 0) {
            ASSERT_OK(cr.rc);
            ASSERT_EQ_SIZE(in, 0);
            ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->after);
            ASSERT_OK(backend_force_commit(f.be));
            ASSERT_OK(backend_close(f.be));
        } else {
            /* The replay's own error if the create ended it, else the sticky one. */
            ASSERT_TRUE(cr.rc == c->fail_rc || cr.rc == BACKEND_EFAILED);
            backend_batch_tx *tx = backend_batch(f.be);
            backend_batch_tx_lock(tx);
            ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("d"), bolt_str("4")),
                      BACKEND_EFAILED);
            ASSERT_OK(backend_batch_tx_unlock(tx));
            ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->after); /* bolt's state */
            ASSERT_RC(backend_close(f.be), BACKEND_EFAILED);
        }
        gate_init(&out_gate, "replay_out", false);
        f.be = bk_open(f.name, &f.o);
        ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), c->after_close);
        fx_close(&f);
        gate_destroy(&out_gate);
    }
}

/* ---- durability: a force_commit covers what was written before it -------- */

static void test_force_commit_covers_earlier_writes(void)
{
    fixture f;
    fx_open(&f, "durable.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1");
    uint64_t commits = backend_commits(f.be);
    f.g.armed = true;
    committer first, second;
    committer_start(&first, f.be);
    gate_wait_entered(&f.g, 1);
    apply(f.be, "p late 1"); /* not covered by the commit in flight */
    committer_start(&second, f.be);
    gate_release(&f.g, 1);
    ASSERT_OK(committer_join(&first));
    gate_wait_entered(&f.g, 2); /* the second commit: after the first, with "late" in it */
    ASSERT_EQ_U64(backend_commits(f.be), commits + 1);
    gate_release(&f.g, 2);
    ASSERT_OK(committer_join(&second));
    ASSERT_EQ_U64(backend_commits(f.be), commits + 2);
    ASSERT_EQ_U64(backend_pending(f.be), 0);
    /* On disk now, whatever happens to the process: read it with bolt alone. */
    char path[4096];
    harness_path(path, sizeof path, f.name);
    bolt_options ro = *bk_bolt_opts();
    ro.read_only = true;
    ro.live = true;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &ro, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_val v;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("late"), &v));
    ASSERT_EQ_MEM(v.data, v.size, "1", 1);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    f.g.armed = false;
    fx_close(&f);
}

/* ---- many logged writes: unlock and the commit thread replay them -------- */

static void test_large_log_replays(void)
{
    fixture f;
    fx_open(&f, "large.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1");
    committer cm;
    commit_hold(&f, &cm);
    backend_batch_tx *tx = backend_batch(f.be);
    enum { N = 20000 };
    for (int i = 0; i < N; i += 1000) {
        backend_batch_tx_lock(tx);
        for (int j = i; j < i + 1000; j++) {
            char k[16], v[16];
            snprintf(k, sizeof k, "k%06d", j);
            snprintf(v, sizeof v, "%d", j);
            ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
            if (j % 3 == 0)
                ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
        }
        ASSERT_OK(backend_batch_tx_unlock(tx));
    }
    ASSERT_OK(commit_release(&f, &cm));
    /* Sections after the commit help replay (twice what they log). */
    for (int round = 0; round < 4; round++)
        apply(f.be, "p a 2");
    ASSERT_OK(backend_force_commit(f.be)); /* replays the rest, commits it all */
    ASSERT_EQ_U64(backend_pending(f.be), 0);
    fx_reopen(&f);
    size_t want = 1;
    for (int j = 0; j < N; j++)
        want += j % 3 != 0;
    bk_str s;
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(f.be, &rt));
    size_t n = 0;
    for (int j = 0; j < N; j++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%06d", j);
        snprintf(v, sizeof v, "%d", j);
        s.len = 0;
        s.buf[0] = '\0';
        ASSERT_OK(backend_read_tx_range(rt, bolt_str("b"), bolt_str(k), (bolt_val){ NULL, 0 }, 0,
                                        bk_append, &s));
        if (j % 3 == 0) {
            ASSERT_EQ_SIZE(s.len, 0);
        } else {
            char want_s[40];
            snprintf(want_s, sizeof want_s, "%s=%s ", k, v);
            ASSERT_EQ_STR(s.buf, want_s);
            n++;
        }
    }
    backend_read_tx_end(rt);
    ASSERT_EQ_SIZE(n + 1, want);
    ASSERT_EQ_STR(bk_get(f.be, "b", "a", &s), "a=2 ");
    fx_close(&f);
}

/* ---- defrag after logged writes -------------------------------------------- */

static void test_defrag_after_logging(void)
{
    fixture f;
    fx_open(&f, "defrag.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1;p b 1");
    committer cm;
    commit_hold(&f, &cm);
    apply(f.be, "p c 1;d a");
    ASSERT_OK(commit_release(&f, &cm));
    ASSERT_OK(backend_defrag(f.be, NULL)); /* waits for the log to be replayed */
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "b=1 c=1 ");
    fx_reopen(&f);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "b=1 c=1 ");
    fx_close(&f);
}

typedef struct defragger {
    pthread_t th;
    backend *be;
    int rc;
    backend_defrag_stats st;
} defragger;

static void *defrag_main(void *arg)
{
    defragger *d = arg;
    d->rc = backend_defrag(d->be, &d->st);
    return NULL;
}

/* Defrag's START commit is pipelined: writes during its write-out reach the copy. */
static void test_defrag_start_commit_in_flight(void)
{
    fixture f;
    fx_open(&f, "defrag-start.db");
    bk_bucket(f.be, "b");
    apply(f.be, "p a 1;p b 1;p c 1");
    ASSERT_OK(backend_force_commit(f.be));
    apply(f.be, "p d 1;d a"); /* pending: START commits it */
    f.g.armed = true;
    defragger d = { .be = f.be, .rc = 1 };
    ASSERT_EQ_INT(pthread_create(&d.th, NULL, defrag_main, &d), 0);
    gate_wait_entered(&f.g, 1); /* START's commit, in flight */
    apply(f.be, "p e 1;d b;p c 2");
    bk_str s;
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "c=2 d=1 e=1 ");
    pthread_mutex_lock(&f.g.mu);
    f.g.armed = false;
    pthread_mutex_unlock(&f.g.mu);
    gate_release(&f.g, 1);
    pthread_join(d.th, NULL);
    ASSERT_OK(d.rc);
    ASSERT_TRUE(d.st.keys_replayed > 0); /* the writes made during START's commit */
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "c=2 d=1 e=1 ");
    fx_reopen(&f);
    ASSERT_EQ_STR(bk_scan(f.be, "b", "", "", 0, &s), "c=2 d=1 e=1 ");
    fx_close(&f);
}

/* ---- concurrent: writers, readers, commits against a model --------------- */

enum { CW = 2, CKEYS = 64, CROUNDS = 1500 };

typedef struct crun {
    backend *be;
    int last[CW][CKEYS]; /* writer w's last version of its key k; -1 deleted */
    atomic_bool stop;
} crun;

typedef struct cwriter {
    crun *r;
    int w;
    uint64_t seed;
} cwriter;

static uint64_t next_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *cwriter_main(void *arg)
{
    cwriter *c = arg;
    backend_batch_tx *tx = backend_batch(c->r->be);
    for (int i = 1; i <= CROUNDS; i++) {
        int k = (int)(next_rand(&c->seed) % CKEYS);
        bool del = next_rand(&c->seed) % 5 == 0;
        char key[16], val[16];
        snprintf(key, sizeof key, "w%d-%02d", c->w, k);
        snprintf(val, sizeof val, "%08d", i);
        if (i % 2 == 0)
            backend_batch_tx_lock_quiet(tx);
        else
            backend_batch_tx_lock(tx);
        int rc = del ? backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(key))
                     : backend_batch_tx_put(tx, bolt_str("b"), bolt_str(key), bolt_str(val));
        char ck[8];
        snprintf(ck, sizeof ck, "c%d", c->w);
        if (rc == 0) /* the writer's sequence, in the same section */
            rc = backend_batch_tx_put(tx, bolt_str("b"), bolt_str(ck), bolt_str(val));
        int urc = backend_batch_tx_unlock(tx);
        if (rc != 0 || urc != 0) {
            fprintf(stderr, "writer %d round %d: %s / %s\n", c->w, i, backend_strerror(rc),
                    backend_strerror(urc));
            return (void *)1;
        }
        c->r->last[c->w][k] = del ? -1 : i;
        int frc = i % 97 == 0 ? backend_force_commit(c->r->be) : 0;
        if (frc != 0) {
            fprintf(stderr, "writer %d round %d: force_commit: %s\n", c->w, i,
                    backend_strerror(frc));
            return (void *)1;
        }
    }
    return NULL;
}

typedef struct cseen {
    int v[CW][CKEYS];
    int seq[CW];
} cseen;

static int cseen_fn(void *arg, bolt_val key, bolt_val value)
{
    cseen *s = arg;
    int w, k;
    char buf[16];
    if (key.size == 2 && ((const char *)key.data)[0] == 'c') {
        w = ((const char *)key.data)[1] - '0';
        if (w < 0 || w >= CW)
            return 1;
        snprintf(buf, sizeof buf, "%.*s", (int)value.size, (const char *)value.data);
        s->seq[w] = atoi(buf);
        return 0;
    }
    char kb[16];
    snprintf(kb, sizeof kb, "%.*s", (int)key.size, (const char *)key.data);
    if (sscanf(kb, "w%d-%d", &w, &k) != 2 || w < 0 || w >= CW || k < 0 || k >= CKEYS) {
        fprintf(stderr, "unknown key '%.*s'\n", (int)key.size, (const char *)key.data);
        return 1;
    }
    snprintf(buf, sizeof buf, "%.*s", (int)value.size, (const char *)value.data);
    s->v[w][k] = atoi(buf);
    return 0;
}

static void *creader_main(void *arg)
{
    crun *r = arg;
    /*
     * Each writer's sections are in order and whole: a reader sees a prefix
     * of every writer's sections, so the writer's sequence never goes back
     * and no key of it holds a version past the sequence.
     */
    int newest[CW] = { 0 };
    while (!atomic_load(&r->stop)) {
        backend_read_tx *rt;
        if (backend_read_tx_begin(r->be, &rt) != 0)
            return (void *)1;
        cseen s;
        memset(&s, 0, sizeof s);
        int rc = backend_read_tx_for_each(rt, bolt_str("b"), cseen_fn, &s);
        backend_read_tx_end(rt);
        if (rc != 0) {
            fprintf(stderr, "reader: %s\n", backend_strerror(rc));
            return (void *)1;
        }
        for (int w = 0; w < CW; w++) {
            if (s.seq[w] < newest[w])
                return (void *)2; /* went back in time */
            newest[w] = s.seq[w];
            for (int k = 0; k < CKEYS; k++)
                if (s.v[w][k] > s.seq[w])
                    return (void *)3; /* half a section */
        }
        sched_yield();
    }
    return NULL;
}

static void test_concurrent_model(void)
{
    gate g;
    gate_init(&g, "commit_write", false);
    g.yields = 20; /* widen every commit's time in flight */
    gate_init(&out_gate, "replay_out", false);
    out_gate.yields = 20; /* and every replay outside the lock (rule 16) */
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = 200000; /* the commit thread commits every 0.2 ms */
    o.batch_limit = 50;
    o.failpoint = out_gates;
    o.failpoint_arg = &g;
    backend *be = bk_open("concurrent.db", &o);
    bk_bucket(be, "b");
    crun r = { .be = be };
    memset(r.last, 0, sizeof r.last);
    atomic_init(&r.stop, false);
    cwriter w[CW];
    pthread_t wt[CW], rt;
    ASSERT_EQ_INT(pthread_create(&rt, NULL, creader_main, &r), 0);
    for (int i = 0; i < CW; i++) {
        w[i] = (cwriter){ &r, i, harness_seed() * 31 + (uint64_t)i };
        ASSERT_EQ_INT(pthread_create(&wt[i], NULL, cwriter_main, &w[i]), 0);
    }
    for (int i = 0; i < CW; i++) {
        void *res;
        pthread_join(wt[i], &res);
        ASSERT_NULL(res);
    }
    atomic_store(&r.stop, true);
    void *res;
    pthread_join(rt, &res);
    ASSERT_NULL(res);
    printf("concurrent: %llu commits\n", (unsigned long long)backend_commits(be));
    ASSERT_TRUE(backend_commits(be) >= 2 * CROUNDS / 97);
    ASSERT_OK(backend_close(be));
    be = bk_open("concurrent.db", &o);
    cseen s;
    memset(&s, 0, sizeof s);
    backend_read_tx *tx;
    ASSERT_OK(backend_read_tx_begin(be, &tx));
    ASSERT_OK(backend_read_tx_for_each(tx, bolt_str("b"), cseen_fn, &s));
    backend_read_tx_end(tx);
    for (int i = 0; i < CW; i++)
        for (int k = 0; k < CKEYS; k++)
            ASSERT_EQ_INT(s.v[i][k], r.last[i][k] < 0 ? 0 : r.last[i][k]);
    ASSERT_OK(backend_close(be));
    gate_destroy(&g);
    gate_destroy(&out_gate);
}

#endif /* STRATA_FAILPOINTS */

int main(void)
{
    HARNESS_BEGIN(1);
#if STRATA_FAILPOINTS
    RUN(test_writes_while_commit_in_flight);
    RUN(test_refusals_while_logging);
    RUN(test_settle);
    RUN(test_limit_commit_handed_off);
    RUN(test_short_log_left_to_the_drain);
    RUN(test_waited_unlock_leaves_replay);
    RUN(test_commit_thread_policy);
    RUN(test_reserve_while_logging);
    RUN(test_failed_commit_in_flight);
    RUN(test_replay_outside_lock);
    RUN(test_force_commit_covers_earlier_writes);
    RUN(test_large_log_replays);
    RUN(test_defrag_after_logging);
    RUN(test_defrag_start_commit_in_flight);
    RUN(test_concurrent_model);
#else
    printf("failpoints not compiled in: the pipelined-commit tests need the commit_write gate\n");
#endif
    return 0;
}
