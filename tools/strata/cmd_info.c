/*
 * cmd_info.c: `strata info DB`: the page size and every field of both meta
 * pages, side by side, with what is wrong with each and which one is
 * current; and, for an etcd snapshot, its 32-byte SHA-256 trailer. Reads
 * with pread and no lock (cli_raw), so it works on files bolt_open refuses
 * and on files a writer holds. Exit 0 when both metas are valid, 1 when one
 * is not (or a trailer does not match), 3 when the file is not a bolt file
 * at all.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <strata/common.h>

#include "cli.h"
#include "cli_io.h"
#include "cli_json.h"
#include "cli_raw.h"

#define TRAILER_SIZE 32

const cli_command_spec cmd_info_spec = {
    .name = "info",
    .min_args = 1,
    .max_args = 1,
    .common = CLI_C_LIVE | CLI_C_JSON | CLI_C_TIMEOUT,
    .synopsis = "[options] DB",
    .about = "Print the page size and both meta pages' fields (magic, version, page\n"
             "size, flags, root, freelist, high-water mark, txid, checksum), what is\n"
             "wrong with each, and which one is current. A file whose size is whole\n"
             "pages plus 32 bytes is an etcd snapshot ('etcdctl snapshot save',\n"
             "'strata snapshot --trailer'): its SHA-256 trailer is checked and shown.\n"
             "Reads with pread and takes no lock; --live repeats the read when a commit\n"
             "lands under it. Exit 1 if a meta is bad or the trailer does not match.\n"
             "(--timeout is accepted for symmetry: info takes no lock.)",
    .json = "file, size, pages, page_size: numbers (page_size 0: no meta tells it)\n"
            "current: 0, 1 or null   the meta bolt would use\n"
            "metas: [{page, status: \"ok\"|\"bad\", problem: TEXT|null, magic, version,\n"
            "  page_size, flags, root, freelist: N|null, pgid, txid, sequence,\n"
            "  checksum: \"0x...\", checksum_ok: BOOL}...]\n"
            "etcd_trailer: null, or {sha256: HEX, matches: BOOL}",
    .exits = "0 both metas valid; 1 a meta is bad, or an etcd trailer does not match;\n"
             "2 usage; 3 not a bolt file, missing or unreadable",
    .example = "$ strata info my.db\n"
               "$ strata info --json etcd.snapshot   # etcd_trailer.matches",
};

static void row_u64(FILE *out, const char *name, const cli_raw *r, uint64_t v0, uint64_t v1,
                    bool hex)
{
    char a[32], b[32];
    snprintf(a, sizeof a, hex ? "0x%" PRIx64 : "%" PRIu64, v0);
    snprintf(b, sizeof b, hex ? "0x%" PRIx64 : "%" PRIu64, v1);
    fprintf(out, "  %-10s %-24s %s\n", name, a, r->page_size ? b : "-");
}

static void freelist_text(const bolt__meta *m, char *buf, size_t n)
{
    if (m->freelist == BOLT_NO_FREELIST)
        snprintf(buf, n, "none");
    else
        snprintf(buf, n, "%" PRIu64, m->freelist);
}

static void checksum_text(const cli_raw *r, int i, char *buf, size_t n)
{
    const bolt__meta *m = &r->meta[i];
    if (m->magic != BOLT_MAGIC)
        snprintf(buf, n, "0x%016" PRIx64, m->checksum);
    else if (m->checksum == 0)
        snprintf(buf, n, "0 (unchecked)");
    else if (r->meta_rc[i] == BOLT_ECHECKSUM)
        snprintf(buf, n, "0x%016" PRIx64 " BAD", m->checksum);
    else
        snprintf(buf, n, "0x%016" PRIx64 " ok", m->checksum);
}

/*
 * An etcd snapshot is the bolt image (whole pages) and 32 bytes of SHA-256
 * over it. 1 with the stored and computed digests when the file has that
 * shape, 0 when it does not, or a negative errno.
 */
static int trailer_check(const cli_raw *r, uint8_t stored[32], uint8_t computed[32])
{
    if (r->page_size == 0 || r->file_size < TRAILER_SIZE ||
        (r->file_size - TRAILER_SIZE) % r->page_size != 0 || r->file_size % r->page_size == 0)
        return 0;
    uint64_t image = r->file_size - TRAILER_SIZE;
    int rc = cli_raw_read(r, image, stored, TRAILER_SIZE);
    if (rc != 0)
        return rc;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return -ENOMEM;
    strata_sha256_ctx c;
    strata_sha256_init(&c);
    for (uint64_t off = 0; off < image; off += CHUNK) {
        size_t n = image - off < CHUNK ? (size_t)(image - off) : CHUNK;
        if ((rc = cli_raw_read(r, off, buf, n)) != 0) {
            free(buf);
            return rc;
        }
        strata_sha256_update(&c, buf, n);
    }
    free(buf);
    strata_sha256_final(&c, computed);
    return 1;
}

static json_t *meta_json(const cli_raw *r, int i)
{
    const bolt__meta *m = &r->meta[i];
    json_t *o = json_object();
    char buf[32];
    cli_json_set(o, "page", json_integer(i));
    cli_json_set(o, "status", json_string(r->meta_rc[i] == 0 ? "ok" : "bad"));
    cli_json_set(o, "problem", r->meta_rc[i] == 0 ? json_null() : json_string(r->meta_why[i]));
    snprintf(buf, sizeof buf, "0x%08" PRIx32, m->magic);
    cli_json_set(o, "magic", json_string(buf));
    cli_json_set(o, "version", cli_json_u64(m->version));
    cli_json_set(o, "page_size", cli_json_u64(m->page_size));
    cli_json_set(o, "flags", cli_json_u64(m->flags));
    cli_json_set(o, "root", cli_json_u64(m->root));
    cli_json_set(o, "freelist",
                 m->freelist == BOLT_NO_FREELIST ? json_null() : cli_json_u64(m->freelist));
    cli_json_set(o, "pgid", cli_json_u64(m->pgid));
    cli_json_set(o, "txid", cli_json_u64(m->txid));
    cli_json_set(o, "sequence", cli_json_u64(m->sequence));
    snprintf(buf, sizeof buf, "0x%016" PRIx64, m->checksum);
    cli_json_set(o, "checksum", json_string(buf));
    cli_json_set(o, "checksum_ok",
                 json_boolean(r->meta_rc[i] != BOLT_ECHECKSUM && m->magic == BOLT_MAGIC));
    return o;
}

static void hex32(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int info_view(void *ctx, cli_raw *r, FILE *out, FILE *err)
{
    const cli_opts *o = ctx;
    const char *path = cli_path_shown(r->path);
    if (r->page_size == 0) {
        fprintf(err, "strata info: %s: not a bolt file (no valid meta page at any page size)\n",
                path);
        return CLI_NOOPEN;
    }
    uint8_t stored[32], computed[32];
    int trc = trailer_check(r, stored, computed);
    if (trc < 0) {
        fprintf(err, "strata info: %s: reading the etcd trailer: %s\n", path, strerror(-trc));
        return CLI_NOOPEN;
    }
    bool matches = trc == 1 && memcmp(stored, computed, 32) == 0;
    int code = CLI_OK;
    for (int i = 0; i < 2; i++)
        if (r->meta_rc[i] != 0)
            code = CLI_FINDING;
    if (trc == 1 && !matches)
        code = CLI_FINDING;
    char s0[65], s1[65];
    if (o->json) {
        json_t *doc = json_object(), *metas = json_array();
        cli_json_set(doc, "file", json_string(path));
        cli_json_set(doc, "size", cli_json_u64(r->file_size));
        cli_json_set(doc, "pages", cli_json_u64(r->file_pages));
        cli_json_set(doc, "page_size", cli_json_u64(r->page_size));
        cli_json_set(doc, "current", r->current < 0 ? json_null() : json_integer(r->current));
        for (int i = 0; i < 2; i++)
            cli_json_append(metas, meta_json(r, i));
        cli_json_set(doc, "metas", metas);
        if (trc == 1) {
            json_t *t = json_object();
            hex32(stored, s0);
            cli_json_set(t, "sha256", json_string(s0));
            cli_json_set(t, "matches", json_boolean(matches));
            cli_json_set(doc, "etcd_trailer", t);
        } else {
            cli_json_set(doc, "etcd_trailer", json_null());
        }
        int jc = cli_json_print("info", out, doc);
        return jc != CLI_OK ? jc : code;
    }
    fprintf(out, "file       %s\n", path);
    fprintf(out, "size       %" PRIu64 " bytes (%" PRIu64 " pages)\n", r->file_size, r->file_pages);
    fprintf(out, "page size  %" PRIu32 "\n", r->page_size);
    fprintf(out, "current    %s\n",
            r->current < 0 ? "none (no valid meta)"
            : r->current   ? "meta 1"
                           : "meta 0");
    fprintf(out, "  %-10s %-24s %s\n", "", "meta 0", "meta 1");
    for (int i = 0; i < 2; i++)
        snprintf(i ? s1 : s0, sizeof s0, "%s", r->meta_rc[i] == 0 ? "ok" : "BAD");
    fprintf(out, "  %-10s %-24s %s\n", "status", s0, s1);
    const bolt__meta *m0 = &r->meta[0], *m1 = &r->meta[1];
    row_u64(out, "magic", r, m0->magic, m1->magic, true);
    row_u64(out, "version", r, m0->version, m1->version, false);
    row_u64(out, "page size", r, m0->page_size, m1->page_size, false);
    row_u64(out, "flags", r, m0->flags, m1->flags, true);
    row_u64(out, "root", r, m0->root, m1->root, false);
    freelist_text(m0, s0, sizeof s0);
    freelist_text(m1, s1, sizeof s1);
    fprintf(out, "  %-10s %-24s %s\n", "freelist", s0, s1);
    row_u64(out, "pgid", r, m0->pgid, m1->pgid, false);
    row_u64(out, "txid", r, m0->txid, m1->txid, false);
    row_u64(out, "sequence", r, m0->sequence, m1->sequence, false);
    checksum_text(r, 0, s0, sizeof s0);
    checksum_text(r, 1, s1, sizeof s1);
    fprintf(out, "  %-10s %-24s %s\n", "checksum", s0, s1);
    for (int i = 0; i < 2; i++)
        if (r->meta_rc[i] != 0)
            fprintf(out, "meta %d (page %d): %s\n", i, i, r->meta_why[i]);
    if (trc == 1) {
        hex32(stored, s0);
        fprintf(out,
                "etcd snapshot: the last 32 bytes are a SHA-256 trailer over the %" PRIu64
                "-byte image (%s)\n",
                r->file_size - TRAILER_SIZE, matches ? "matches" : "DOES NOT MATCH");
        fprintf(out, "  trailer    %s\n", s0);
        if (!matches) {
            hex32(computed, s1);
            fprintf(out, "  computed   %s\n", s1);
        }
    }
    return code;
}

int cmd_info(int argc, char **argv)
{
    cli_opts o;
    int parsed = cli_parse(&cmd_info_spec, argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    cli_input in;
    int code = cli_input_begin("info", argv[optind], &in);
    if (code != CLI_OK)
        return code;
    code = cli_raw_view(&o, in.path, info_view, &o);
    cli_input_end(&in);
    return code;
}
