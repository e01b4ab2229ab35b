/*
 * meta.c: the two meta pages (docs/format.md §3): decode, validate, checksum,
 * encode, and the choice of the current one.
 *
 * Rules:
 *   1. Validation order is bbolt's: magic (BOLT_EINVALID), version
 *      (BOLT_EVERSIONMISMATCH), checksum (BOLT_ECHECKSUM); a stored checksum
 *      of 0 is accepted without computing anything, as bbolt does.
 *   2. The checksum is FNV-1a 64 over page bytes 16..71 (magic .. txid).
 *   3. Current meta: the valid one with the larger txid; meta 0 on a tie; if
 *      neither is valid, meta 0's error.
 */
#include <unistd.h>

#include "bolt_int.h"

uint64_t bolt__meta_sum(const unsigned char *page)
{
    return strata_fnv1a64(page + BOLT_META_SUM_START, BOLT_META_SUM_LEN);
}

void bolt__meta_fields(const unsigned char *page, bolt__meta *out)
{
    bolt__meta m;
    m.magic = bolt__ld32(page + BOLT_META_MAGIC_OFF);
    m.version = bolt__ld32(page + BOLT_META_VERSION_OFF);
    m.page_size = bolt__ld32(page + BOLT_META_PAGESIZE_OFF);
    m.flags = bolt__ld32(page + BOLT_META_FLAGS_OFF);
    m.root = bolt__ld64(page + BOLT_META_ROOT_OFF);
    m.sequence = bolt__ld64(page + BOLT_META_SEQUENCE_OFF);
    m.freelist = bolt__ld64(page + BOLT_META_FREELIST_OFF);
    m.pgid = bolt__ld64(page + BOLT_META_PGID_OFF);
    m.txid = bolt__ld64(page + BOLT_META_TXID_OFF);
    m.checksum = bolt__ld64(page + BOLT_META_CHECKSUM_OFF);
    *out = m;
}

int bolt__meta_decode(const unsigned char *page, size_t avail, bolt__meta *out)
{
    if (page == NULL || avail < BOLT_META_END)
        return BOLT_EINVALID;
    bolt__meta m;
    bolt__meta_fields(page, &m);
    if (m.magic != BOLT_MAGIC)
        return BOLT_EINVALID;
    if (m.version != BOLT_VERSION)
        return BOLT_EVERSIONMISMATCH;
    if (m.checksum != 0 && m.checksum != bolt__meta_sum(page))
        return BOLT_ECHECKSUM;
    *out = m;
    return 0;
}

void bolt__meta_encode(const bolt__meta *m, bolt_pgid id, unsigned char *page, size_t page_size)
{
    memset(page, 0, page_size);
    bolt__st64(page + BOLT_PAGE_ID_OFF, id);
    bolt__st16(page + BOLT_PAGE_FLAGS_OFF, BOLT_PAGE_META);
    bolt__st32(page + BOLT_META_MAGIC_OFF, BOLT_MAGIC);
    bolt__st32(page + BOLT_META_VERSION_OFF, BOLT_VERSION);
    bolt__st32(page + BOLT_META_PAGESIZE_OFF, m->page_size);
    bolt__st32(page + BOLT_META_FLAGS_OFF, m->flags);
    bolt__st64(page + BOLT_META_ROOT_OFF, m->root);
    bolt__st64(page + BOLT_META_SEQUENCE_OFF, m->sequence);
    bolt__st64(page + BOLT_META_FREELIST_OFF, m->freelist);
    bolt__st64(page + BOLT_META_PGID_OFF, m->pgid);
    bolt__st64(page + BOLT_META_TXID_OFF, m->txid);
    bolt__st64(page + BOLT_META_CHECKSUM_OFF, bolt__meta_sum(page));
}

int bolt__meta_choose(const bolt__meta *m0, int rc0, const bolt__meta *m1, int rc1, bolt__meta *out)
{
    if (rc0 != 0 && rc1 != 0)
        return rc0;
    if (rc0 != 0) {
        *out = *m1;
        return 0;
    }
    if (rc1 != 0) {
        *out = *m0;
        return 0;
    }
    *out = m1->txid > m0->txid ? *m1 : *m0;
    return 0;
}

int bolt__meta_sane(const bolt__meta *m, const char **why)
{
    uint32_t ps = m->page_size;
    /* bbolt has no rule here; strata reads any size in 512..65536 (it
     * creates only powers of two). */
    if (ps < BOLT_MIN_PAGE_SIZE || ps > BOLT_MAX_PAGE_SIZE) {
        *why = "page size outside 512..65536";
        return BOLT_EPAGESIZE;
    }
    if (m->pgid < 3 || m->pgid > BOLT_MAX_MAP_SIZE / ps) {
        *why = "high-water mark out of range";
        return BOLT_ECORRUPT;
    }
    if (m->root < 2 || m->root >= m->pgid) {
        *why = "root page out of range";
        return BOLT_ECORRUPT;
    }
    if (m->freelist != BOLT_NO_FREELIST && (m->freelist < 2 || m->freelist >= m->pgid)) {
        *why = "freelist page out of range";
        return BOLT_ECORRUPT;
    }
    return 0;
}

static bool page_size_in_range(uint32_t ps)
{
    return ps >= BOLT_MIN_PAGE_SIZE && ps <= BOLT_MAX_PAGE_SIZE;
}

int bolt__probe_page_size(bolt__probe_read_fn read, void *arg, uint64_t fsize, uint32_t hint,
                          uint32_t *page_size, uint32_t *guess)
{
    unsigned char buf[BOLT_PROBE_HEAD];
    size_t got = 0;
    *page_size = 0;
    if (guess != NULL)
        *guess = 0;
    int rc = read(arg, 0, buf, sizeof buf, &got);
    if (rc != 0)
        return rc;
    if (got < BOLT_META_END)
        return BOLT_EINVALID;
    if (guess != NULL && bolt__ld32(buf + BOLT_META_MAGIC_OFF) == BOLT_MAGIC &&
        page_size_in_range(bolt__ld32(buf + BOLT_META_PAGESIZE_OFF)))
        *guess = bolt__ld32(buf + BOLT_META_PAGESIZE_OFF);
    if (got < sizeof buf)
        return BOLT_EINVALID; /* shorter than any file bbolt or strata writes */
    bolt__meta m0;
    int rc0 = bolt__meta_decode(buf, got, &m0);
    if (rc0 == 0 && page_size_in_range(m0.page_size)) {
        *page_size = m0.page_size;
        return 0;
    }
    if (rc0 == 0)
        rc0 = BOLT_EPAGESIZE; /* a valid meta 0 naming an impossible size: try meta 1 */
    uint32_t cands[3 + 8];
    size_t nc = 0;
    if (hint != 0)
        cands[nc++] = hint;
    long sys = sysconf(_SC_PAGESIZE);
    if (sys > 0 && page_size_in_range((uint32_t)sys))
        cands[nc++] = (uint32_t)sys;
    for (uint32_t ps = BOLT_MIN_PAGE_SIZE; ps <= BOLT_MAX_PAGE_SIZE; ps *= 2)
        cands[nc++] = ps;
    for (size_t i = 0; i < nc; i++) {
        bolt__meta m1;
        if (!page_size_in_range(cands[i]) || (uint64_t)cands[i] + BOLT_META_END > fsize)
            continue;
        rc = read(arg, cands[i], buf, BOLT_META_END, &got);
        if (rc != 0)
            return rc;
        if (bolt__meta_decode(buf, got, &m1) == 0 && m1.page_size == cands[i]) {
            *page_size = cands[i];
            return 0;
        }
    }
    return rc0;
}
