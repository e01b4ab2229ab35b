/*
 * cmd_page_item.c: `strata page-item DB ID N`: element N of branch or leaf
 * page ID, whole: its key and its value (a leaf) or child page (a branch).
 * The element is bounds-checked on its own, so one good element of a
 * damaged page can still be read. Exit 1 when N is past the page's count
 * or the element is damaged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_raw.h"

static void item_usage(FILE *out)
{
    fprintf(out, "usage: strata page-item [options] DB ID N\n\n"
                 "Print element N (from 0) of branch or leaf page ID: 'key: K' and\n"
                 "'value: V' (a leaf; a bucket's value is its header and inline page in\n"
                 "hex) or 'child: PGID' (a branch).\n\n"
                 "  --key-only                     print only the key's bytes\n"
                 "  --value-only                   print only the value's bytes\n" CLI_COMMON_HELP);
}

static int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int cmd_page_item(int argc, char **argv)
{
    enum { OPT_KEY_ONLY = 2000, OPT_VALUE_ONLY };
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "key-only", no_argument, NULL, OPT_KEY_ONLY },
        { "value-only", no_argument, NULL, OPT_VALUE_ONLY },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    bool key_only = false, value_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            item_usage(stdout);
            return CLI_OK;
        }
        if (c == OPT_KEY_ONLY) {
            key_only = true;
            continue;
        }
        if (c == OPT_VALUE_ONLY) {
            value_only = true;
            continue;
        }
        if (cli_opts_handle("page-item", &o, c, optarg) != 0) {
            item_usage(stderr);
            return CLI_USAGE;
        }
    }
    uint64_t id, n;
    if (argc - optind != 3 || (key_only && value_only) || parse_u64(argv[optind + 1], &id) != 0 ||
        parse_u64(argv[optind + 2], &n) != 0) {
        item_usage(stderr);
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    cli_raw r;
    int code = cli_raw_open("page-item", &o, path, &r);
    if (code != CLI_OK)
        return code;
    unsigned char *buf = NULL;
    size_t size;
    const char *why = NULL;
    int rc = r.page_size == 0 ? BOLT_EINVALID : cli_raw_page(&r, id, &buf, &size, &why);
    cli_raw_close(&r);
    if (rc != 0) {
        if (rc == BOLT_EINVALID)
            fprintf(stderr, "strata page-item: %s: not a bolt file (no valid meta page)\n", path);
        else
            fprintf(stderr, "strata page-item: %s: page %" PRIu64 ": %s\n", path, id,
                    why != NULL ? why : strerror(-rc));
        return CLI_NOOPEN;
    }
    uint16_t flags = bolt__ld16(buf + BOLT_PAGE_FLAGS_OFF);
    unsigned count = bolt__ld16(buf + BOLT_PAGE_COUNT_OFF);
    code = CLI_OK;
    uint32_t eflags;
    bolt_val k, v;
    bolt_pgid child;
    if (flags != BOLT_PAGE_BRANCH && flags != BOLT_PAGE_LEAF) {
        fprintf(stderr,
                "strata page-item: %s: page %" PRIu64 " is a %s page, not a branch or leaf\n", path,
                id, cli_raw_type_name(flags));
        code = CLI_FINDING;
    } else if (n >= count) {
        fprintf(stderr,
                "strata page-item: %s: page %" PRIu64 " has %u elements; no element %" PRIu64 "\n",
                path, id, count, n);
        code = CLI_FINDING;
    } else if (cli_raw_elem(buf, size, (unsigned)n, &eflags, &k, &v, &child, &why) != 0) {
        fprintf(stderr, "strata page-item: %s: page %" PRIu64 " element %" PRIu64 ": %s\n", path,
                id, n, why);
        code = CLI_FINDING;
    } else if (key_only) {
        cli_print_bytes(stdout, k.data, k.size, o.key_fmt);
        putchar('\n');
    } else if (value_only) {
        if (flags == BOLT_PAGE_BRANCH)
            printf("%" PRIu64 "\n", child);
        else
            cli_print_bytes(stdout, v.data, v.size,
                            (eflags & BOLT_LEAF_BUCKET) ? CLI_FORMAT_HEX : o.value_fmt);
        if (flags == BOLT_PAGE_LEAF)
            putchar('\n');
    } else {
        printf("key: ");
        cli_print_bytes(stdout, k.data, k.size, o.key_fmt);
        if (flags == BOLT_PAGE_BRANCH) {
            printf("\nchild: %" PRIu64 "\n", child);
        } else {
            printf("\n%s: ", (eflags & BOLT_LEAF_BUCKET) ? "bucket" : "value");
            cli_print_bytes(stdout, v.data, v.size,
                            (eflags & BOLT_LEAF_BUCKET) ? CLI_FORMAT_HEX : o.value_fmt);
            putchar('\n');
        }
    }
    free(buf);
    return code;
}
