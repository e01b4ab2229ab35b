/*
 * cmd_compact.c: `strata compact -o DST SRC`: copy the live data of SRC
 * into a new file DST with full pages and no free pages (bolt_compact),
 * and print the sizes before and after.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_db.h"

static void compact_usage(FILE *out)
{
    fprintf(out, "usage: strata compact [options] -o DST SRC\n\n"
                 "Copy every bucket and key of SRC into the new file DST (which must not\n"
                 "exist), pages filled completely, and print the sizes before and after.\n"
                 "SRC is read in one read transaction under a shared lock.\n\n"
                 "  -o, --output DST      the new file\n"
                 "  --tx-max-size N       copy through transactions, committing whenever one's\n"
                 "                        keys and values would pass N bytes (bbolt's way);\n"
                 "                        default 0: no transactions, DST is written bottom-up\n"
                 "                        page by page (faster, every page full)\n"
                 "  --no-sync             skip the per-commit syncs (DST is still synced\n"
                 "                        once at the end)\n"
                 "  --timeout DURATION    wait this long for SRC's lock (1s)\n");
}

static void compact_progress(void *arg, uint64_t keys)
{
    (void)arg;
    fprintf(stderr, "\rcompact: %" PRIu64 " keys copied\033[K", keys);
}

int cmd_compact(int argc, char **argv)
{
    enum { OPT_TX_MAX = 2000, OPT_NO_SYNC };
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, 'o' },
        { "tx-max-size", required_argument, NULL, OPT_TX_MAX },
        { "no-sync", no_argument, NULL, OPT_NO_SYNC },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    bolt_compact_options co = { sizeof co, 0, false, 0, NULL, NULL };
    bool tty = isatty(STDERR_FILENO);
    if (tty)
        co.progress = compact_progress; /* progress only on a terminal */
    const char *dst = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            compact_usage(stdout);
            return CLI_OK;
        case 'o':
            dst = optarg;
            break;
        case OPT_TX_MAX: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                fprintf(stderr, "strata compact: --tx-max-size '%s' is not a byte count\n", optarg);
                return CLI_USAGE;
            }
            co.tx_max_size = v;
            break;
        }
        case OPT_NO_SYNC:
            co.no_sync = true;
            break;
        default:
            if (cli_opts_handle("compact", &o, c, optarg) != 0) {
                compact_usage(stderr);
                return CLI_USAGE;
            }
        }
    }
    if (argc - optind != 1 || dst == NULL) {
        compact_usage(stderr);
        return CLI_USAGE;
    }
    const char *src = argv[optind];
    struct stat st;
    if (stat(dst, &st) == 0) {
        fprintf(stderr, "strata compact: %s exists; compact writes a new file only\n", dst);
        return CLI_USAGE;
    }
    bolt_db *db;
    int code = cli_db_open_read("compact", &o, src, &db);
    if (code != CLI_OK)
        return code;
    uint64_t before = stat(src, &st) == 0 ? (uint64_t)st.st_size : 0;
    bolt_compact_result res;
    int rc = bolt_compact(db, dst, &co, &res);
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (rc != 0) {
        code = cli_report("compact", rc == -EEXIST ? dst : src, rc);
        char why[256];
        bolt_db_last_corruption(db, why, sizeof why);
        if (why[0] != '\0')
            fprintf(stderr, "strata compact: %s: %s\n", src, why);
        bolt_close(db);
        return code;
    }
    bolt_close(db);
    printf("%s: %" PRIu64 " bytes -> %s: %" PRIu64 " bytes (%.1f%%)\n", src, before, dst,
           res.dst_size, before ? 100.0 * (double)res.dst_size / (double)before : 0.0);
    if (res.txs == 0)
        printf("copied %" PRIu64 " buckets, %" PRIu64 " keys, written bottom-up\n", res.buckets,
               res.keys);
    else
        printf("copied %" PRIu64 " buckets, %" PRIu64 " keys in %" PRIu64 " transaction%s\n",
               res.buckets, res.keys, res.txs, res.txs == 1 ? "" : "s");
    return CLI_OK;
}
