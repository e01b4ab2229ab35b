/*
 * info.c: read-only inspection for tools (the CLI's info/pages/page
 * commands): both meta pages as stored, page headers with their check
 * result, and the raw bytes of a page run.
 *
 * Rules:
 *   1. Nothing here trusts the file: every id is bounded by the
 *      transaction's high-water mark and readable length before a byte is
 *      read, and a page run is clipped to both.
 *   2. Nothing here changes state; results borrow from the map with the
 *      transaction's lifetime.
 */
#include "bolt_int.h"

static void meta_info(const unsigned char *page, size_t avail, bolt_meta_info *out)
{
    memset(out, 0, sizeof *out);
    if (avail < BOLT_META_END) {
        out->status = BOLT_EINVALID;
        return;
    }
    out->magic = bolt__ld32(page + BOLT_META_MAGIC_OFF);
    out->version = bolt__ld32(page + BOLT_META_VERSION_OFF);
    out->page_size = bolt__ld32(page + BOLT_META_PAGESIZE_OFF);
    out->flags = bolt__ld32(page + BOLT_META_FLAGS_OFF);
    out->root = bolt__ld64(page + BOLT_META_ROOT_OFF);
    out->root_sequence = bolt__ld64(page + BOLT_META_SEQUENCE_OFF);
    out->freelist = bolt__ld64(page + BOLT_META_FREELIST_OFF);
    out->pgid = bolt__ld64(page + BOLT_META_PGID_OFF);
    out->txid = bolt__ld64(page + BOLT_META_TXID_OFF);
    out->checksum = bolt__ld64(page + BOLT_META_CHECKSUM_OFF);
    out->computed = bolt__meta_sum(page);
    bolt__meta m;
    out->status = bolt__meta_decode(page, avail, &m);
}

int bolt_db_info_get(bolt_db *db, bolt_db_info *out)
{
    if (db == NULL)
        return BOLT_EDATABASENOTOPEN;
    bolt_tx *tx;
    int rc = bolt_tx_begin(db, 0, &tx); /* holds the map and a consistent meta */
    if (rc != 0)
        return rc;
    bolt_db_info info;
    memset(&info, 0, sizeof info);
    info.page_size = db->page_size;
    info.file_size = tx->limit;
    for (int i = 0; i < 2; i++) {
        size_t off = (size_t)i * db->page_size;
        size_t avail = tx->limit > off ? tx->limit - off : 0;
        if (avail > db->page_size)
            avail = db->page_size;
        meta_info(tx->map->base + off, avail, &info.meta[i]);
    }
    info.current = (int)(tx->meta.txid % 2);
    if (info.meta[info.current].status != 0 || info.meta[info.current].txid != tx->meta.txid)
        info.current = 1 - info.current;
    info.listed_free = UINT64_MAX;
    if (tx->meta.freelist != BOLT_NO_FREELIST) {
        uint32_t ov;
        rc = bolt__tx_page_run(tx, tx->meta.freelist, &ov, NULL);
        if (rc == 0) {
            const unsigned char *p = tx->map->base + tx->meta.freelist * db->page_size;
            uint64_t n = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
            if (n == BOLT_FREELIST_COUNT_ESCAPE)
                n = bolt__ld64(p + BOLT_PAGE_HEADER_SIZE);
            info.listed_free = n;
        }
    }
    bolt_tx_rollback(tx);
    if (rc != 0)
        return rc;
    *out = info;
    return 0;
}

/* Rule 1: the readable bytes of the run starting at id. */
static int run_bytes(bolt_tx *tx, bolt_pgid id, const unsigned char **p, size_t *len)
{
    uint64_t ps = tx->db->page_size;
    if (id >= tx->meta.pgid || (id + 1) * ps > tx->limit)
        return BOLT_NOTFOUND;
    const unsigned char *page = tx->map->base + id * ps;
    uint64_t pages = (uint64_t)bolt__ld32(page + BOLT_PAGE_OVERFLOW_OFF) + 1;
    if (pages > tx->meta.pgid - id)
        pages = tx->meta.pgid - id;
    if (id * ps + pages * ps > tx->limit)
        pages = (tx->limit - id * ps) / ps;
    *p = page;
    *len = (size_t)(pages * ps);
    return 0;
}

int bolt_tx_page_info(bolt_tx *tx, bolt_pgid id, bolt_page_info *out)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    const unsigned char *p;
    size_t len;
    rc = run_bytes(tx, id, &p, &len);
    if (rc != 0)
        return rc;
    bolt_page_info info;
    memset(&info, 0, sizeof info);
    info.id = bolt__ld64(p + BOLT_PAGE_ID_OFF);
    info.flags = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF);
    info.count = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    info.overflow = bolt__ld32(p + BOLT_PAGE_OVERFLOW_OFF);
    info.why = "";
    if (info.flags & BOLT_PAGE_BRANCH)
        info.type = "branch";
    else if (info.flags & BOLT_PAGE_LEAF)
        info.type = "leaf";
    else if (info.flags & BOLT_PAGE_META)
        info.type = "meta";
    else if (info.flags & BOLT_PAGE_FREELIST)
        info.type = "freelist";
    else
        info.type = "unknown";
    if (info.flags & (BOLT_PAGE_BRANCH | BOLT_PAGE_LEAF)) {
        const char *why = "";
        info.status = bolt__page_check(p, len, id, &why);
        info.why = info.status != 0 ? why : "";
    }
    *out = info;
    return 0;
}

int bolt_tx_page_bytes(bolt_tx *tx, bolt_pgid id, bolt_val *out)
{
    int rc = bolt__tx_usable(tx, false);
    if (rc != 0)
        return rc;
    const unsigned char *p;
    size_t len;
    rc = run_bytes(tx, id, &p, &len);
    if (rc != 0)
        return rc;
    out->data = p;
    out->size = len;
    return 0;
}
