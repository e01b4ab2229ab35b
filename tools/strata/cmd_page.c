/*
 * cmd_page.c: `strata page DB ID...`: decode pages (meta fields, freelist
 * ids, branch separators and children, leaf keys and values, bucket
 * headers), or hexdump them with --format hex. Byte-level: a damaged page
 * is decoded as far as its elements allow, with what is wrong (exit 1).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_raw.h"

/* Keys and values longer than this are cut in the decoded view (page-item shows all). */
#define PAGE_SHOW_MAX 64

static void page_usage(FILE *out)
{
    fprintf(out, "usage: strata page [options] DB ID...\n\n"
                 "Decode the pages ID... (the whole run with its overflow pages): meta\n"
                 "fields, freelist ids, branch elements (key -> child page), leaf elements\n"
                 "(key, value or bucket header). Keys and values longer than 64 bytes are\n"
                 "cut; 'strata page-item' prints one element whole. Exit 1 if a page is\n"
                 "damaged.\n\n"
                 "  --format decoded|hex           decoded view (default) or a "
                 "hexdump\n" CLI_COMMON_HELP);
}

static void show(const bolt_val *v, cli_format fmt)
{
    size_t n = v->size > PAGE_SHOW_MAX ? PAGE_SHOW_MAX : v->size;
    cli_print_bytes(stdout, v->data, n, fmt);
    if (n < v->size)
        printf("... (%zu bytes)", v->size);
}

static void hexdump(const unsigned char *p, size_t n, uint64_t base)
{
    bool starred = false;
    for (size_t off = 0; off < n; off += 16) {
        if (off > 0 && off + 16 <= n && memcmp(p + off, p + off - 16, 16) == 0) {
            if (!starred)
                printf("*\n");
            starred = true;
            continue;
        }
        starred = false;
        printf("%08" PRIx64 " ", base + off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < n)
                printf("%s%02x", i == 8 ? "  " : " ", p[off + i]);
            else
                printf("%s  ", i == 8 ? "  " : " ");
        }
        printf("  |");
        for (size_t i = 0; i < 16 && off + i < n; i++)
            putchar(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.');
        printf("|\n");
    }
    printf("%08" PRIx64 "\n", base + n);
}

static int show_meta(const unsigned char *p, size_t size)
{
    bolt__meta m;
    int rc = bolt__meta_decode(p, size, &m);
    printf("  magic      0x%08" PRIx32 "\n", bolt__ld32(p + BOLT_META_MAGIC_OFF));
    printf("  version    %" PRIu32 "\n", bolt__ld32(p + BOLT_META_VERSION_OFF));
    printf("  page size  %" PRIu32 "\n", bolt__ld32(p + BOLT_META_PAGESIZE_OFF));
    printf("  flags      0x%" PRIx32 "\n", bolt__ld32(p + BOLT_META_FLAGS_OFF));
    printf("  root       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_ROOT_OFF));
    uint64_t fl = bolt__ld64(p + BOLT_META_FREELIST_OFF);
    if (fl == BOLT_NO_FREELIST)
        printf("  freelist   none\n");
    else
        printf("  freelist   %" PRIu64 "\n", fl);
    printf("  pgid       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_PGID_OFF));
    printf("  txid       %" PRIu64 "\n", bolt__ld64(p + BOLT_META_TXID_OFF));
    printf("  checksum   0x%016" PRIx64 " (computed 0x%016" PRIx64 ")\n",
           bolt__ld64(p + BOLT_META_CHECKSUM_OFF), bolt__meta_sum(p));
    if (rc != 0) {
        printf("  problem: %s\n", cli_strerror(rc));
        return CLI_FINDING;
    }
    return CLI_OK;
}

static int show_freelist(const unsigned char *p, size_t size)
{
    uint64_t count = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    size_t first = BOLT_PAGE_HEADER_SIZE;
    if (count == BOLT_FREELIST_COUNT_ESCAPE) {
        count = bolt__ld64(p + BOLT_PAGE_HEADER_SIZE);
        first += 8;
    }
    printf("  %" PRIu64 " free ids\n", count);
    if (count > (size - first) / 8) {
        printf("  problem: the count runs past the end of the page run\n");
        return CLI_FINDING;
    }
    /* Runs of consecutive ids on one line each: "3-5", "9". */
    uint64_t start = 0, prev = 0;
    int col = 0;
    for (uint64_t i = 0; i <= count; i++) {
        uint64_t id = i < count ? bolt__ld64(p + first + i * 8) : 0;
        if (i > 0 && i < count && id == prev + 1) {
            prev = id;
            continue;
        }
        if (i > 0) {
            col += start == prev ? printf("%s%" PRIu64, col ? " " : "  ", start)
                                 : printf("%s%" PRIu64 "-%" PRIu64, col ? " " : "  ", start, prev);
            if (col > 70 || i == count) {
                putchar('\n');
                col = 0;
            }
        }
        start = prev = id;
    }
    return CLI_OK;
}

static int show_tree(const unsigned char *p, size_t size, bolt_pgid id, const cli_opts *o)
{
    int code = CLI_OK;
    const char *why;
    if (bolt__page_check(p, size, id, &why) != 0) {
        printf("  problem: %s\n", why);
        code = CLI_FINDING;
    }
    bool leaf = bolt__ld16(p + BOLT_PAGE_FLAGS_OFF) == BOLT_PAGE_LEAF;
    unsigned count = bolt__ld16(p + BOLT_PAGE_COUNT_OFF);
    for (unsigned i = 0; i < count; i++) {
        uint32_t flags;
        bolt_val k, v;
        bolt_pgid child;
        if (cli_raw_elem(p, size, i, &flags, &k, &v, &child, &why) != 0) {
            printf("  [%u] problem: %s\n", i, why);
            code = CLI_FINDING;
            if (BOLT_PAGE_HEADER_SIZE + (uint64_t)(i + 1) * BOLT_LEAF_ELEM_SIZE > size)
                break;
            continue;
        }
        printf("  [%u] key=", i);
        show(&k, o->key_fmt);
        if (!leaf) {
            printf(" child=%" PRIu64 "\n", child);
        } else if (flags & BOLT_LEAF_BUCKET) {
            if (v.size < BOLT_BUCKET_HEADER_SIZE) {
                printf(" bucket with a short header (%zu bytes)\n", v.size);
                code = CLI_FINDING;
                continue;
            }
            const unsigned char *b = v.data;
            bolt_pgid root = bolt__ld64(b + BOLT_BUCKET_ROOT_OFF);
            printf(" bucket root=%" PRIu64 " seq=%" PRIu64, root,
                   bolt__ld64(b + BOLT_BUCKET_SEQ_OFF));
            if (root == 0 && v.size >= BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE)
                printf(" (inline, %u keys)",
                       (unsigned)bolt__ld16(b + BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_COUNT_OFF));
            putchar('\n');
        } else {
            printf(" value=");
            show(&v, o->value_fmt);
            if (flags != 0)
                printf(" flags=0x%" PRIx32, flags);
            putchar('\n');
        }
    }
    return code;
}

int cmd_page(int argc, char **argv)
{
    enum { OPT_FORMAT = 2000 };
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, OPT_FORMAT },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    bool hex = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            page_usage(stdout);
            return CLI_OK;
        }
        if (c == OPT_FORMAT) {
            if (strcmp(optarg, "hex") != 0 && strcmp(optarg, "decoded") != 0) {
                fprintf(stderr, "strata page: format '%s' is not decoded or hex\n", optarg);
                return CLI_USAGE;
            }
            hex = strcmp(optarg, "hex") == 0;
            continue;
        }
        if (cli_opts_handle("page", &o, c, optarg) != 0) {
            page_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind < 2) {
        page_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    for (int i = optind + 1; i < argc; i++) {
        char *end;
        errno = 0;
        (void)strtoull(argv[i], &end, 10);
        if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-') {
            fprintf(stderr, "strata page: '%s' is not a page id\n", argv[i]);
            return CLI_USAGE;
        }
    }
    cli_raw r;
    int code = cli_raw_open("page", &o, path, &r);
    if (code != CLI_OK)
        return code;
    if (r.page_size == 0) {
        fprintf(stderr, "strata page: %s: not a bolt file (no valid meta page)\n", path);
        cli_raw_close(&r);
        return CLI_NOOPEN;
    }
    for (int i = optind + 1; i < argc; i++) {
        bolt_pgid id = strtoull(argv[i], NULL, 10);
        unsigned char *buf;
        size_t size;
        const char *why = NULL;
        int rc = cli_raw_page(&r, id, &buf, &size, &why);
        if (rc == BOLT_ECORRUPT && id < r.file_pages) {
            /* A garbage overflow count: show the first page alone. */
            printf("page %" PRIu64 ": %s; showing one page\n", id, why);
            size = r.page_size;
            buf = malloc(size);
            rc = buf == NULL ? -ENOMEM : cli_raw_read(&r, id * (uint64_t)r.page_size, buf, size);
            if (rc != 0)
                free(buf);
            code = CLI_FINDING;
        }
        if (rc != 0) {
            fprintf(stderr, "strata page: %s: page %" PRIu64 ": %s\n", path, id,
                    why != NULL ? why : strerror(-rc));
            code = CLI_NOOPEN;
            continue;
        }
        uint16_t flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
        bolt_pgid hid = bolt__ld64(buf + BOLT_PAGE_ID_OFF);
        if (hex) {
            printf("page %" PRIu64 " (%zu bytes at file offset %" PRIu64 ")\n", id, size,
                   id * (uint64_t)r.page_size);
            hexdump(buf, size, id * (uint64_t)r.page_size);
            free(buf);
            continue;
        }
        printf("page %" PRIu64 ": %s (flags 0x%02x), %u items, overflow %" PRIu32
               ", file offset %" PRIu64 "\n",
               id, cli_raw_type_name(flags), flags, (unsigned)bolt__ld16(buf + BOLT_PAGE_COUNT_OFF),
               bolt__ld32(buf + BOLT_PAGE_OVERFLOW_OFF), id * (uint64_t)r.page_size);
        int pc = CLI_OK;
        if (hid != id) {
            printf("  problem: header id %" PRIu64 " does not match the page's position\n", hid);
            pc = CLI_FINDING;
        }
        int tc = CLI_OK;
        switch (flags) {
        case BOLT_PAGE_META:
            tc = show_meta(buf, size);
            break;
        case BOLT_PAGE_FREELIST:
            tc = show_freelist(buf, size);
            break;
        case BOLT_PAGE_BRANCH:
        case BOLT_PAGE_LEAF:
            tc = show_tree(buf, size, id, &o);
            break;
        default:
            printf("  problem: unknown page type; try --format hex\n");
            tc = CLI_FINDING;
        }
        if ((pc != CLI_OK || tc != CLI_OK) && code == CLI_OK)
            code = CLI_FINDING;
        free(buf);
    }
    cli_raw_close(&r);
    return code;
}
