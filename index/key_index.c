/*
 * key_index.c: keyIndex, the revisions of one key grouped in generations
 * (etcd 3.4.23 mvcc/key_index.go; docs/schema.md §6, §8.1), stored as one
 * compact varint-encoded block (layout in idx_int.h).
 *
 * Rules (idx__ki_check validates 1-6):
 * 1. The block holds the key, then zero or more generations; `last` is the
 *    offset of the last generation, or len when there is none, and the
 *    encoding ends exactly at len.
 * 2. Revisions strictly increase through the whole keyIndex, generation
 *    after generation: put refuses a revision not above `modified`.
 * 3. Only the last generation may be empty. Every other one ends with its
 *    tombstone and holds at least two revisions (a put and the tombstone;
 *    compaction removes a generation rather than leave its lone tombstone).
 * 4. An empty generation has ver 0 and created {0,0} (etcd's generation{}).
 * 5. When any revision is left, `modified` is the newest one; compaction
 *    never removes the newest revision of a key it keeps.
 * 6. The allocation is at least block_size(len) (capacity is not stored):
 *    growth goes to the next allocator-friendly size, so appending a
 *    revision usually needs no realloc.
 * 7. The version of a revision counts back from the generation's ver (the
 *    number of puts since its creation, compacted ones included), so it
 *    stays right after compaction dropped older revisions.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx_int.h"
#include "varint.h"

#define HDR_SIZE    offsetof(idx__ki, data)
#define GEN_HDR_MAX 40 /* four varints of at most 10 bytes */
#define REV_MAX     20

/* ---- varints ------------------------------------------------------------- */

static inline uint64_t zz_enc(int64_t v)
{
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (0 - (u >> 63));
}

static inline int64_t zz_dec(uint64_t z)
{
    return (int64_t)((z >> 1) ^ (0 - (z & 1)));
}

typedef struct ki_rd {
    const uint8_t *p;
    const uint8_t *end;
} ki_rd;

static inline bool rd_uv(ki_rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return true;
        }
    }
    return false;
}

static inline bool rd_zz(ki_rd *r, int64_t *v)
{
    uint64_t z;
    if (!rd_uv(r, &z))
        return false;
    *v = zz_dec(z);
    return true;
}

/* A generation's header. */
typedef struct gen_hdr {
    int64_t ver;
    idx_rev created;
    uint64_t nrevs;
} gen_hdr;

static inline bool rd_gen(ki_rd *r, gen_hdr *g)
{
    return rd_zz(r, &g->ver) && rd_zz(r, &g->created.main) && rd_zz(r, &g->created.sub) &&
           rd_uv(r, &g->nrevs);
}

/* Revision i of generation g; prev holds revision i-1 (ignored for i == 0). */
static inline bool rd_rev(ki_rd *r, const gen_hdr *g, uint64_t i, idx_rev *rev)
{
    uint64_t d;
    int64_t sub;
    if (!rd_uv(r, &d) || !rd_zz(r, &sub))
        return false;
    if (i == 0)
        rev->main = (int64_t)((uint64_t)g->created.main + (uint64_t)zz_dec(d));
    else
        rev->main = (int64_t)((uint64_t)rev->main + d);
    rev->sub = sub;
    return true;
}

static size_t gen_hdr_put(uint8_t *p, int64_t ver, idx_rev created, uint64_t nrevs)
{
    size_t n = strata__uv_put(p, zz_enc(ver));
    n += strata__uv_put(p + n, zz_enc(created.main));
    n += strata__uv_put(p + n, zz_enc(created.sub));
    n += strata__uv_put(p + n, nrevs);
    return n;
}

/* Revision i of a generation created at created, following prev. */
static size_t rev_put(uint8_t *p, uint64_t i, idx_rev created, idx_rev prev, idx_rev rev)
{
    size_t n;
    if (i == 0)
        n = strata__uv_put(p, zz_enc((int64_t)((uint64_t)rev.main - (uint64_t)created.main)));
    else
        n = strata__uv_put(p, (uint64_t)rev.main - (uint64_t)prev.main);
    return n + strata__uv_put(p + n, zz_enc(rev.sub));
}

/* ---- the block ------------------------------------------------------------ */

/* Rule 6: the allocation for a block whose data is len bytes. */
static size_t block_size(size_t len)
{
    size_t n = HDR_SIZE + len;
    if (n <= 64)
        return (n + 15) & ~(size_t)15;
    if (n <= 128) /* 32-byte steps: a growing key moves half as often */
        return (n + 31) & ~(size_t)31;
    size_t top = (size_t)1 << (63 - __builtin_clzll((unsigned long long)(n - 1)));
    size_t step = top / 4; /* four sizes per doubling, as jemalloc's classes */
    return (n + step - 1) / step * step;
}

static inline const uint8_t *ki_end(const idx__ki *k)
{
    return k->data + k->len;
}

/* Makes room for len bytes of data; *pk may move. */
static int ki_reserve(idx__ki **pk, size_t len)
{
    if (len > UINT32_MAX - 64)
        return -EOVERFLOW;
    size_t have = block_size((*pk)->len);
    size_t want = block_size(len);
    if (want <= have)
        return 0;
    idx__ki *n = strata_realloc(*pk, want);
    if (n == NULL)
        return -ENOMEM;
    *pk = n;
    return 0;
}

int idx__ki_new(const void *key, size_t key_len, idx__ki **out)
{
    *out = NULL;
    if (key_len > UINT32_MAX - 1024)
        return -EOVERFLOW;
    idx__ki *k = strata_malloc(block_size(key_len));
    if (k == NULL)
        return -ENOMEM;
    k->modified = (idx_rev){ 0, 0 };
    k->len = (uint32_t)key_len;
    k->last = (uint32_t)key_len;
    k->key_len = (uint32_t)key_len;
    if (key_len)
        memcpy(k->data, key, key_len);
    *out = k;
    return 0;
}

static inline bool ki_has_gens(const idx__ki *k)
{
    return k->len != k->key_len;
}

/* The last generation's header and where its header ends. */
static bool ki_last_gen(const idx__ki *k, gen_hdr *g, const uint8_t **after)
{
    ki_rd r = { k->data + k->last, ki_end(k) };
    if (!rd_gen(&r, g))
        return false;
    *after = r.p;
    return true;
}

bool idx__ki_is_empty(const idx__ki *k)
{
    if (!ki_has_gens(k) || k->last != k->key_len)
        return false;
    gen_hdr g;
    const uint8_t *after;
    return ki_last_gen(k, &g, &after) && g.nrevs == 0;
}

/*
 * Appends rev to the last generation, or starts a generation with it when
 * there is none or the last one is empty (the key was deleted: etcd sets
 * created = rev). Both cases are one rewrite of the last generation's
 * header, ver + 1 and nrevs + 1 (an empty one has ver 0 and nrevs 0, rule
 * 4), and one revision appended at the end; the bytes after the header
 * move only when its encoded length changes.
 */
/* The empty generation a tombstone appends: four one-byte zero varints. */
#define EMPTY_GEN_SIZE 4

/*
 * put, with room for `extra` more bytes after it in the same reservation
 * (tombstone's empty generation). One reservation, made before anything
 * changes, so a failure leaves the block as it was; and a second reserve
 * could not be trusted to keep the first one's room: capacity is derived
 * from len (rule 6), so a reserve sized from the new len may realloc the
 * block smaller than the room asked for before.
 */
static int ki_put(idx__ki **pk, idx_rev rev, size_t extra)
{
    idx__ki *k = *pk;
    if (!idx_rev_greater(rev, k->modified))
        return IDX_EREVISIONORDER;
    gen_hdr g = { 0, { 0, 0 }, 0 };
    size_t start = k->len, old_hl = 0;
    if (k->last != k->len) {
        const uint8_t *after;
        if (!ki_last_gen(k, &g, &after))
            return IDX_ECHECK;
        start = k->last;
        old_hl = (size_t)(after - (k->data + k->last));
    }
    bool fresh = g.nrevs == 0;
    idx_rev created = fresh ? rev : g.created;
    int64_t ver = g.ver + 1;
    /* Revision 0 is stored against created (0 when it is rev itself); the
     * others against the previous one, which rule 5 says is modified. */
    uint64_t delta = fresh ? zz_enc(0) : (uint64_t)rev.main - (uint64_t)k->modified.main;
    uint64_t zsub = zz_enc(rev.sub);
    size_t hl = strata__uv_size(zz_enc(ver)) + strata__uv_size(zz_enc(created.main)) +
                strata__uv_size(zz_enc(created.sub)) + strata__uv_size(g.nrevs + 1);
    size_t rl = strata__uv_size(delta) + strata__uv_size(zsub);
    size_t tail = k->len - start - old_hl;
    size_t nlen = k->len - old_hl + hl + rl;
    int rc = ki_reserve(pk, nlen + extra);
    if (rc != 0)
        return rc;
    k = *pk;
    uint8_t *p = k->data + start;
    if (hl != old_hl)
        memmove(p + hl, p + old_hl, tail);
    gen_hdr_put(p, ver, created, g.nrevs + 1);
    p += hl + tail;
    p += strata__uv_put(p, delta);
    strata__uv_put(p, zsub);
    k->last = (uint32_t)start;
    k->len = (uint32_t)nlen;
    k->modified = rev;
    return 0;
}

int idx__ki_put(idx__ki **pk, idx_rev rev)
{
    return ki_put(pk, rev, 0);
}

int idx__ki_restore(idx__ki **pk, idx_rev created, idx_rev modified, int64_t ver)
{
    idx__ki *k = *pk;
    if (ki_has_gens(k))
        return IDX_ERESTORENONEMPTY;
    uint8_t buf[GEN_HDR_MAX + REV_MAX];
    size_t n = gen_hdr_put(buf, ver, created, 1);
    n += rev_put(buf + n, 0, created, created, modified);
    int rc = ki_reserve(pk, k->len + n);
    if (rc != 0)
        return rc;
    k = *pk;
    memcpy(k->data + k->len, buf, n);
    k->last = k->len;
    k->len += (uint32_t)n;
    k->modified = modified;
    return 0;
}

int idx__ki_tombstone(idx__ki **pk, idx_rev rev)
{
    idx__ki *k = *pk;
    if (!ki_has_gens(k))
        return IDX_ENOGENERATIONS;
    if (idx__ki_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    gen_hdr g;
    const uint8_t *after;
    if (!ki_last_gen(k, &g, &after))
        return IDX_ECHECK;
    if (g.nrevs == 0)
        return IDX_NOTFOUND;
    if (!idx_rev_greater(rev, k->modified))
        return IDX_EREVISIONORDER;
    /* The put reserves the empty generation's bytes too (see ki_put). */
    int rc = ki_put(pk, rev, EMPTY_GEN_SIZE);
    if (rc != 0)
        return rc;
    k = *pk;
    size_t n = gen_hdr_put(k->data + k->len, 0, (idx_rev){ 0, 0 }, 0);
    assert(n == EMPTY_GEN_SIZE);
    k->last = k->len;
    k->len += (uint32_t)n;
    return 0;
}

/* ---- reads ---------------------------------------------------------------- */

int idx__ki_get(const idx__ki *k, int64_t at_rev, idx_rev *modified, idx_rev *created, int64_t *ver)
{
    if (!ki_has_gens(k))
        return IDX_ENOGENERATIONS;
    gen_hdr g;
    const uint8_t *after;
    if (!ki_last_gen(k, &g, &after))
        return IDX_ECHECK;
    if (g.nrevs != 0 && at_rev >= k->modified.main) {
        /* Fast path: the newest revision of a live key. */
        if (modified)
            *modified = k->modified;
        if (created)
            *created = g.created;
        if (ver)
            *ver = g.ver;
        return 0;
    }
    if (g.nrevs == 0 && k->last == k->key_len)
        return IDX_EEMPTYKEYINDEX;
    /*
     * findGeneration, forward: the candidate is the last non-empty
     * generation whose first revision has main <= at_rev (revisions only
     * grow, so the scan stops at the first revision above at_rev). If the
     * candidate is not the last generation and all of it, tombstone
     * included, is at or below at_rev, the key was deleted at at_rev. In
     * the candidate the answer is the newest revision with main <= at_rev.
     */
    ki_rd r = { k->data + k->key_len, ki_end(k) };
    bool found = false, deleted = false, stop = false;
    gen_hdr cand = { 0, { 0, 0 }, 0 };
    idx_rev best = { 0, 0 };
    uint64_t best_i = 0;
    /* Loop invariant: every revision read so far has main <= at_rev. */
    while (!stop && r.p < r.end) {
        bool is_last = r.p == k->data + k->last;
        if (!rd_gen(&r, &g))
            return IDX_ECHECK;
        idx_rev rev = { 0, 0 };
        for (uint64_t i = 0; i < g.nrevs; i++) {
            if (!rd_rev(&r, &g, i, &rev))
                return IDX_ECHECK;
            if (rev.main > at_rev) {
                if (i > 0)
                    deleted = false; /* the candidate lives on past at_rev */
                stop = true;
                break;
            }
            if (i == 0) {
                found = true;
                cand = g;
            }
            best = rev;
            best_i = i;
        }
        if (!stop && g.nrevs != 0)
            deleted = !is_last;
    }
    if (!found || deleted)
        return IDX_NOTFOUND;
    if (modified)
        *modified = best;
    if (created)
        *created = cand.created;
    if (ver)
        *ver = cand.ver - (int64_t)(cand.nrevs - best_i - 1);
    return 0;
}

/* ---- whole-block decode (since, equal, format, check) -------------------- */

typedef struct dec_gen {
    int64_t ver;
    idx_rev created;
    size_t first; /* index of its first revision in dec.revs */
    size_t n;
    uint32_t off; /* offset of its header in the block */
} dec_gen;

typedef struct ki_dec {
    dec_gen *gens;
    size_t ngens;
    size_t gcap;
    idx_rev_array revs;
    uint32_t end; /* where decoding stopped */
} ki_dec;

static void dec_release(ki_dec *d)
{
    strata_free(d->gens);
    idx_rev_array_release(&d->revs);
}

/* Decodes every generation; IDX_ECHECK on a malformed block, -ENOMEM. */
static int ki_decode(const idx__ki *k, ki_dec *d)
{
    memset(d, 0, sizeof *d);
    ki_rd r = { k->data + k->key_len, ki_end(k) };
    int rc = 0;
    while (r.p < r.end) {
        dec_gen dg;
        gen_hdr g;
        dg.off = (uint32_t)(r.p - k->data);
        if (!rd_gen(&r, &g) || g.nrevs > (uint64_t)(r.end - r.p)) {
            rc = IDX_ECHECK;
            break;
        }
        dg.ver = g.ver;
        dg.created = g.created;
        dg.first = d->revs.count;
        dg.n = (size_t)g.nrevs;
        idx_rev rev = { 0, 0 };
        for (uint64_t i = 0; i < g.nrevs && rc == 0; i++) {
            if (!rd_rev(&r, &g, i, &rev))
                rc = IDX_ECHECK;
            else
                rc = idx_rev_array_push(&d->revs, rev);
        }
        if (rc != 0)
            break;
        if (d->ngens == d->gcap) {
            size_t ncap = d->gcap ? d->gcap * 2 : 4;
            dec_gen *n = strata_realloc(d->gens, ncap * sizeof *n);
            if (n == NULL) {
                rc = -ENOMEM;
                break;
            }
            d->gens = n;
            d->gcap = ncap;
        }
        d->gens[d->ngens++] = dg;
    }
    d->end = (uint32_t)(r.p - k->data);
    if (rc != 0)
        dec_release(d);
    return rc;
}

/* ---- compaction ------------------------------------------------------------ */

/* doCompact's findings: the generation compaction stops in, and its walk. */
typedef struct compact_pos {
    size_t gen_idx;
    long rev_index; /* newest revision with main <= at_rev in it, or -1 */
    uint64_t nrevs; /* that generation's revision count */
    bool is_last;   /* it is the last generation */
    idx_rev kept;   /* revision rev_index */
    idx_rev first;  /* its first revision */
} compact_pos;

/*
 * etcd's doCompact: the first generation whose tombstone is above at_rev,
 * or the last one; in it the newest revision with main <= at_rev (etcd
 * adds it to available here; our callers do, see idx__ki_compact_rev).
 */
static int ki_do_compact(const idx__ki *k, int64_t at_rev, compact_pos *cp)
{
    ki_rd r = { k->data + k->key_len, ki_end(k) };
    for (size_t gi = 0;; gi++) {
        bool is_last = r.p == k->data + k->last;
        gen_hdr g;
        if (!rd_gen(&r, &g))
            return IDX_ECHECK;
        idx_rev rev = { 0, 0 }, kept = { 0, 0 }, first = { 0, 0 };
        long idx = -1;
        for (uint64_t i = 0; i < g.nrevs; i++) {
            if (!rd_rev(&r, &g, i, &rev))
                return IDX_ECHECK;
            if (i == 0)
                first = rev;
            if (rev.main <= at_rev) {
                idx = (long)i;
                kept = rev;
            }
        }
        if (!is_last) {
            if (g.nrevs == 0)
                return IDX_ECHECK; /* rule 3 */
            if (rev.main <= at_rev)
                continue; /* its tombstone is at or below at_rev */
        }
        *cp = (compact_pos){ gi, idx, g.nrevs, is_last, kept, first };
        return 0;
    }
}

/*
 * Drops generations [0, gen_idx) and the first skip revisions of
 * generation gen_idx, in place: only that generation's header and its new
 * first revision are encoded again (the later deltas stay right); the rest
 * of the block moves down. The block shrinks when that halves its size.
 */
static int ki_drop_front(idx__ki **pk, size_t gen_idx, size_t skip)
{
    idx__ki *k = *pk;
    ki_rd r = { k->data + k->key_len, ki_end(k) };
    gen_hdr g;
    for (size_t gi = 0; gi < gen_idx; gi++) {
        if (!rd_gen(&r, &g))
            return IDX_ECHECK;
        idx_rev rev = { 0, 0 };
        for (uint64_t i = 0; i < g.nrevs; i++)
            if (!rd_rev(&r, &g, i, &rev))
                return IDX_ECHECK;
    }
    const uint8_t *target = r.p;
    bool target_last = target == k->data + k->last;
    uint8_t tmp[GEN_HDR_MAX + REV_MAX];
    size_t tl = 0;
    const uint8_t *cut = target; /* bytes [key_len, cut) are replaced by tmp */
    if (skip > 0) {
        if (!rd_gen(&r, &g) || skip >= g.nrevs)
            return IDX_ECHECK;
        idx_rev rev = { 0, 0 };
        for (uint64_t i = 0; i <= skip; i++)
            if (!rd_rev(&r, &g, i, &rev))
                return IDX_ECHECK;
        cut = r.p;
        tl = gen_hdr_put(tmp, g.ver, g.created, g.nrevs - skip);
        tl += rev_put(tmp + tl, 0, g.created, g.created, rev);
    }
    size_t removed = (size_t)(cut - (k->data + k->key_len));
    assert(removed >= tl);
    size_t tail = (size_t)(ki_end(k) - cut);
    size_t old_len = k->len;
    memcpy(k->data + k->key_len, tmp, tl);
    memmove(k->data + k->key_len + tl, cut, tail);
    k->len = (uint32_t)(k->key_len + tl + tail);
    k->last = target_last ? k->key_len : (uint32_t)(k->last - (removed - tl));
    if (block_size(k->len) * 2 <= block_size(old_len)) {
        idx__ki *n = strata_realloc(k, block_size(k->len));
        if (n != NULL)
            *pk = n; /* else keep the larger block: still valid (rule 6) */
    }
    return 0;
}

/*
 * etcd adds the newest revision <= at_rev to available, then deletes it
 * again when it turns out to be a lone tombstone. Revisions belong to one
 * key each, so the net effect on available is "add it if it survives",
 * which is what *has and *kept report; by rule 3 the deleted revision is
 * always the one just added.
 */
int idx__ki_compact_rev(idx__ki **pk, int64_t at_rev, idx_rev *kept, bool *has)
{
    const idx__ki *k = *pk;
    if (!ki_has_gens(k))
        return IDX_ENOGENERATIONS;
    if (idx__ki_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    compact_pos cp;
    int rc = ki_do_compact(k, at_rev, &cp);
    if (rc != 0)
        return rc;
    bool survives = cp.rev_index != -1;
    size_t gen_idx = cp.gen_idx;
    size_t skip = 0;
    if (cp.nrevs != 0) {
        if (cp.rev_index != -1)
            skip = (size_t)cp.rev_index;
        /* A lone tombstone would be left: drop the generation (rule 3). */
        if (cp.nrevs - skip == 1 && !cp.is_last) {
            survives = false;
            gen_idx++;
            skip = 0;
        }
    }
    if (gen_idx != 0 || skip != 0) {
        rc = ki_drop_front(pk, gen_idx, skip);
        if (rc != 0)
            return rc;
    } /* else nothing to drop: the common case */
    *has = survives;
    *kept = cp.kept;
    return 0;
}

int idx__ki_compact(idx__ki **pk, int64_t at_rev, idx_rev_set *available)
{
    /* Room first, so that the add cannot fail once ki has changed. */
    int rc = idx__rev_set_reserve(available, 1);
    if (rc != 0)
        return rc;
    idx_rev kept;
    bool has;
    rc = idx__ki_compact_rev(pk, at_rev, &kept, &has);
    if (rc == 0 && has)
        rc = idx_rev_set_add(available, kept);
    return rc;
}

int idx__ki_keep_rev(const idx__ki *k, int64_t at_rev, idx_rev *kept, bool *has)
{
    if (!ki_has_gens(k))
        return IDX_ENOGENERATIONS;
    if (idx__ki_is_empty(k)) {
        *has = false;
        return 0;
    }
    compact_pos cp;
    int rc = ki_do_compact(k, at_rev, &cp);
    if (rc != 0)
        return rc;
    /* The newest revision at or below at_rev is a tombstone: not kept. */
    *has = cp.rev_index != -1 &&
           !(cp.nrevs != 0 && cp.rev_index == (long)cp.nrevs - 1 && !cp.is_last);
    *kept = cp.kept;
    return 0;
}

int idx__ki_keep(const idx__ki *k, int64_t at_rev, idx_rev_set *available)
{
    idx_rev kept;
    bool has;
    int rc = idx__ki_keep_rev(k, at_rev, &kept, &has);
    if (rc == 0 && has)
        rc = idx_rev_set_add(available, kept);
    return rc;
}

/* ---- since, equal, format, check ------------------------------------------- */

int idx__ki_since(const idx__ki *k, int64_t rev, idx_rev_array *out)
{
    if (!ki_has_gens(k))
        return IDX_ENOGENERATIONS;
    if (idx__ki_is_empty(k))
        return IDX_EEMPTYKEYINDEX;
    ki_dec d;
    int rc = ki_decode(k, &d);
    if (rc != 0)
        return rc;
    idx_rev since = { rev, 0 };
    /* Start at the newest non-empty generation created before since (never before 0). */
    size_t gi;
    for (gi = d.ngens - 1; gi > 0; gi--) {
        if (d.gens[gi].n == 0)
            continue;
        if (idx_rev_greater(since, d.gens[gi].created))
            break;
    }
    size_t first = out->count;
    int64_t last = 0;
    for (; gi < d.ngens && rc == 0; gi++) {
        const dec_gen *g = &d.gens[gi];
        for (size_t i = 0; i < g->n; i++) {
            idx_rev r = d.revs.revs[g->first + i];
            if (idx_rev_greater(since, r))
                continue;
            if (r.main == last && out->count > first) {
                /* A later change of the same transaction replaces it. */
                out->revs[out->count - 1] = r;
                continue;
            }
            rc = idx_rev_array_push(out, r);
            if (rc != 0)
                break;
            last = r.main;
        }
    }
    if (rc != 0)
        out->count = first;
    dec_release(&d);
    return rc;
}

bool idx__ki_equal(const idx__ki *a, const idx__ki *b)
{
    if (idx__key_cmp(a->data, a->key_len, b->data, b->key_len) != 0)
        return false;
    if (idx_rev_cmp(a->modified, b->modified) != 0)
        return false;
    ki_dec da, db;
    if (ki_decode(a, &da) != 0)
        return false;
    if (ki_decode(b, &db) != 0) {
        dec_release(&da);
        return false;
    }
    bool eq = da.ngens == db.ngens;
    for (size_t i = 0; eq && i < da.ngens; i++) {
        const dec_gen *x = &da.gens[i], *y = &db.gens[i];
        eq = x->ver == y->ver && x->n == y->n;
        for (size_t j = 0; eq && j < x->n; j++)
            eq = idx_rev_cmp(da.revs.revs[x->first + j], db.revs.revs[y->first + j]) == 0;
    }
    dec_release(&da);
    dec_release(&db);
    return eq;
}

typedef struct fmt_buf {
    char *p;
    size_t size;
    size_t len;
} fmt_buf;

__attribute__((format(printf, 2, 3))) static void fmt_add(fmt_buf *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = f->len < f->size ? f->size - f->len : 0;
    int n = vsnprintf(room ? f->p + f->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        f->len += (size_t)n;
}

size_t idx__ki_format(const idx__ki *k, char *buf, size_t size)
{
    fmt_buf f = { buf, size, 0 };
    if (size > 0)
        buf[0] = '\0';
    fmt_add(&f, "mod=%lld.%lld", (long long)k->modified.main, (long long)k->modified.sub);
    ki_dec d;
    if (ki_decode(k, &d) != 0) {
        fmt_add(&f, " <undecodable>");
        return f.len;
    }
    for (size_t gi = 0; gi < d.ngens; gi++) {
        const dec_gen *g = &d.gens[gi];
        if (g->n == 0) {
            fmt_add(&f, " {}");
            continue;
        }
        fmt_add(&f, " {c=%lld.%lld v=%lld [", (long long)g->created.main, (long long)g->created.sub,
                (long long)g->ver);
        for (size_t i = 0; i < g->n; i++) {
            idx_rev r = d.revs.revs[g->first + i];
            fmt_add(&f, "%s%lld.%lld", i ? " " : "", (long long)r.main, (long long)r.sub);
        }
        fmt_add(&f, "]}");
    }
    dec_release(&d);
    return f.len;
}

int idx__ki_check(const idx__ki *k, char *why, size_t why_size)
{
    /* Rule 1. */
    if (k->key_len > k->len || k->last < k->key_len || k->last > k->len)
        return idx__fail(why, why_size, "keyIndex: offsets key_len=%u last=%u len=%u", k->key_len,
                         k->last, k->len);
    if ((k->last == k->len) != (k->len == k->key_len))
        return idx__fail(why, why_size, "keyIndex: last=%u but len=%u key_len=%u", k->last, k->len,
                         k->key_len);
    ki_dec d;
    int rc = ki_decode(k, &d);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0)
        return idx__fail(why, why_size, "keyIndex: undecodable generations");
    rc = 0;
    if (d.end != k->len)
        rc = idx__fail(why, why_size, "keyIndex: encoding ends at %u, len %u", d.end, k->len);
    else if (d.ngens > 0 && d.gens[d.ngens - 1].off != k->last)
        rc = idx__fail(why, why_size, "keyIndex: last=%u but the last generation is at %u", k->last,
                       d.gens[d.ngens - 1].off);
    for (size_t gi = 0; rc == 0 && gi < d.ngens; gi++) {
        const dec_gen *g = &d.gens[gi];
        if (gi + 1 < d.ngens && g->n < 2) /* rule 3 */
            rc = idx__fail(why, why_size, "keyIndex: generation %zu of %zu has %zu revisions", gi,
                           d.ngens, g->n);
        else if (g->n == 0 && (g->ver != 0 || g->created.main != 0 || g->created.sub != 0))
            rc = idx__fail(why, why_size, "keyIndex: empty generation %zu with ver %lld", gi,
                           (long long)g->ver); /* rule 4 */
    }
    for (size_t i = 1; rc == 0 && i < d.revs.count; i++) /* rule 2 */
        if (!idx_rev_greater(d.revs.revs[i], d.revs.revs[i - 1]))
            rc = idx__fail(why, why_size, "keyIndex: revision %lld.%lld after %lld.%lld",
                           (long long)d.revs.revs[i].main, (long long)d.revs.revs[i].sub,
                           (long long)d.revs.revs[i - 1].main, (long long)d.revs.revs[i - 1].sub);
    if (rc == 0 && d.revs.count > 0 &&
        idx_rev_cmp(d.revs.revs[d.revs.count - 1], k->modified) != 0) /* rule 5 */
        rc = idx__fail(why, why_size, "keyIndex: modified %lld.%lld is not the newest revision",
                       (long long)k->modified.main, (long long)k->modified.sub);
    dec_release(&d);
    return rc;
}

/* ---- the public handle ------------------------------------------------------ */

int idx_key_index_new(const void *key, size_t key_len, idx_key_index **out)
{
    *out = NULL;
    if (key == NULL && key_len > 0)
        return IDX_EINVAL;
    idx_key_index *ki = strata_malloc(sizeof *ki);
    if (ki == NULL)
        return -ENOMEM;
    int rc = idx__ki_new(key, key_len, &ki->blk);
    if (rc != 0) {
        strata_free(ki);
        return rc;
    }
    *out = ki;
    return 0;
}

void idx_key_index_free(idx_key_index *ki)
{
    if (ki == NULL)
        return;
    strata_free(ki->blk);
    strata_free(ki);
}

const uint8_t *idx_key_index_key(const idx_key_index *ki, size_t *len)
{
    *len = ki->blk->key_len;
    return ki->blk->data;
}

void idx_key_index_prefetch(const idx_key_index *ki)
{
    const char *b = (const char *)ki->blk;
    __builtin_prefetch(b);
    __builtin_prefetch(b + 64);
}

idx_rev idx_key_index_modified(const idx_key_index *ki)
{
    return ki->blk->modified;
}

int idx_key_index_put(idx_key_index *ki, idx_rev rev)
{
    return idx__ki_put(&ki->blk, rev);
}

int idx_key_index_restore(idx_key_index *ki, idx_rev created, idx_rev modified, int64_t ver)
{
    return idx__ki_restore(&ki->blk, created, modified, ver);
}

int idx_key_index_tombstone(idx_key_index *ki, idx_rev rev)
{
    return idx__ki_tombstone(&ki->blk, rev);
}

int idx_key_index_get(const idx_key_index *ki, int64_t at_rev, idx_rev *modified, idx_rev *created,
                      int64_t *ver)
{
    return idx__ki_get(ki->blk, at_rev, modified, created, ver);
}

int idx_key_index_since(const idx_key_index *ki, int64_t rev, idx_rev_array *out)
{
    return idx__ki_since(ki->blk, rev, out);
}

int idx_key_index_compact(idx_key_index *ki, int64_t at_rev, idx_rev_set *available)
{
    return idx__ki_compact(&ki->blk, at_rev, available);
}

int idx_key_index_keep(const idx_key_index *ki, int64_t at_rev, idx_rev_set *available)
{
    return idx__ki_keep(ki->blk, at_rev, available);
}

bool idx_key_index_is_empty(const idx_key_index *ki)
{
    return idx__ki_is_empty(ki->blk);
}

size_t idx_key_index_generations(const idx_key_index *ki)
{
    size_t n = 0;
    ki_rd r = { ki->blk->data + ki->blk->key_len, ki_end(ki->blk) };
    while (r.p < r.end) {
        gen_hdr g;
        if (!rd_gen(&r, &g))
            break;
        idx_rev rev = { 0, 0 };
        for (uint64_t i = 0; i < g.nrevs; i++)
            if (!rd_rev(&r, &g, i, &rev))
                return n;
        n++;
    }
    return n;
}

bool idx_key_index_equal(const idx_key_index *a, const idx_key_index *b)
{
    return idx__ki_equal(a->blk, b->blk);
}

size_t idx_key_index_format(const idx_key_index *ki, char *buf, size_t size)
{
    return idx__ki_format(ki->blk, buf, size);
}

int idx_key_index_check(const idx_key_index *ki, char *why, size_t why_size)
{
    return idx__ki_check(ki->blk, why, why_size);
}
