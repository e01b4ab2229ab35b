/*
 * main.c: the `strata` command line: global options, then one subcommand
 * from the table below (one file per command, cmd_<name>.c).
 *
 *   strata [--help | --version] COMMAND [options] [args]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <strata/common.h>

#ifdef STRATA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

/*
 * jemalloc reads this before main. "thp:always" asks for transparent huge
 * pages on its heap (madvise MADV_HUGEPAGE), as Go's runtime (1.12-1.20)
 * does for its heap: etcd and bbolt, the peers the benchmarks run beside,
 * get huge pages on a machine whose THP mode is "madvise", and so does the
 * CLI now. The in-memory key index and the read buffers are pointer-chased
 * trees over hundreds of MiB, where a 4 KiB-page TLB misses on nearly every
 * step. MALLOC_CONF in the environment still overrides it.
 */
const char *malloc_conf = "thp:always";
#endif

#include "cli.h"
#include "cli_db.h"

static const cli_command commands[] = {
    { "bench", "benchmarks of the layers: index, bolt, lease, mvcc, stall", cmd_bench,
      &cmd_bench_spec },
    { "buckets", "list the buckets at the top of a db (or inside a bucket)", cmd_buckets,
      &cmd_buckets_spec },
    { "check", "verify a db file; one line per problem", cmd_check, &cmd_check_spec },
    { "compact", "copy the live data into a new, fully packed file", cmd_compact,
      &cmd_compact_spec },
    { "completion", "print the bash completion script (strata completion bash)", cmd_completion,
      &cmd_completion_spec },
    { "defrag", "defragment an etcd db file in place (etcd's backend defrag)", cmd_defrag,
      &cmd_defrag_spec },
    { "dump", "print the canonical dump (bolt-dump v1)", cmd_dump, &cmd_dump_spec },
    { "etcd", "etcd's answers from a member's db (status, get, history, leases, hashkv, ...)",
      cmd_etcd, &cmd_etcd_spec },
    { "gen", "write a demo db from a seeded generator", cmd_gen, &cmd_gen_spec },
    { "get", "print the value of a key", cmd_get, &cmd_get_spec },
    { "hash", "etcd's backend hash of a db file (CRC-32C, as etcd computes it)", cmd_hash,
      &cmd_hash_spec },
    { "info", "page size and both meta pages' fields", cmd_info, &cmd_info_spec },
    { "keys", "list the keys of a bucket", cmd_keys, &cmd_keys_spec },
    { "load", "create a db from a canonical dump on standard input", cmd_load, &cmd_load_spec },
    { "page", "decode pages (or hexdump them with --format hex)", cmd_page, &cmd_page_spec },
    { "page-item", "print one element of a branch or leaf page", cmd_page_item,
      &cmd_page_item_spec },
    { "pages", "list every page: id, type, items, overflow; free pages marked", cmd_pages,
      &cmd_pages_spec },
    { "restore", "create a db file from a snapshot (plain, sha256 trailer, gzip)", cmd_restore,
      &cmd_restore_spec },
    { "salvage", "copy everything readable from a damaged file into a new one", cmd_salvage,
      &cmd_salvage_spec },
    { "script", "run an mvcc script (on stdin); print etcd's canonical output", cmd_script,
      &cmd_script_spec },
    { "snapshot", "write a consistent copy of a db file (etcd's snapshot)", cmd_snapshot,
      &cmd_snapshot_spec },
    { "stats", "bbolt's bucket statistics (pages, keys, depth, bytes) of top-level buckets",
      cmd_stats, &cmd_stats_spec },
    { "strerror", "describe strata status codes (e.g. strata strerror -5104)", cmd_strerror,
      &cmd_strerror_spec },
    { "surgery", "repair a copy of a damaged file (meta, pages, freelist)", cmd_surgery,
      &cmd_surgery_spec },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_commands(size_t *n)
{
    *n = N_COMMANDS;
    return commands;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: strata [--help] [--version] COMMAND [options] [args]\n\n"
                 "strata inspects, checks and repairs bbolt and etcd db files.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nRun 'strata COMMAND --help' for a command's options and an example; 'man strata'.\n"
            "Keys, bucket names and values print as text, or as 0x-hex when not printable (or\n"
            "when the text starts with 0x), and are read back the same way. Read commands take\n"
            "--live (no lock) and --json; '-' is standard input or output.\n"
            "Exit codes: 0 ok, 1 finding, 2 usage, 3 cannot open/read, 4 internal error.\n");
}

int main(int argc, char **argv)
{
#ifdef STRATA_HAVE_JEMALLOC
    /*
     * The CLI links jemalloc (its malloc family replaces the process's), so
     * the library's allocations feed the bench's jemalloc statistics; say so
     * to the library, so that strata_allocator() tells the truth.
     */
    static const strata_allocator_fns je = { malloc, calloc, realloc, free, "jemalloc" };
    if (strata_set_allocator(&je) != 0) {
        fprintf(stderr, "strata: internal error: cannot set the allocator\n");
        return CLI_INTERNAL;
    }
#endif
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    /* '+' stops at the first non-option: the command's own options follow it. */
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return CLI_OK;
        case 'V':
            printf("strata %s (allocator %s)\n", strata_version(), strata_allocator());
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "version") == 0) {
        printf("strata %s (allocator %s)\n", strata_version(), strata_allocator());
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            int first = optind;
            optind = 0; /* glibc: 0 fully resets getopt for the command's own parse */
            return commands[i].run(argc - first, argv + first);
        }
    }
    fprintf(stderr, "strata: unknown command '%s'\n\n", name);
    usage(stderr);
    return CLI_USAGE;
}
