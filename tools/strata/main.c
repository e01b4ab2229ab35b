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
#endif

#include "cli.h"

static const cli_command commands[] = {
    { "bench", "micro-benchmarks (strata bench index)", cmd_bench },
    { "buckets", "list the buckets at the top of a db (or inside a bucket)", cmd_buckets },
    { "check", "verify a db file; one line per problem", cmd_check },
    { "compact", "copy the live data into a new, fully packed file", cmd_compact },
    { "defrag", "defragment an etcd db file in place (etcd's backend defrag)", cmd_defrag },
    { "dump", "print the canonical dump (bolt-dump v1)", cmd_dump },
    { "gen", "write a demo db from a seeded generator", cmd_gen },
    { "get", "print the value of a key", cmd_get },
    { "hash", "etcd's backend hash of a db file (CRC-32C, as etcd computes it)", cmd_hash },
    { "info", "page size and both meta pages' fields", cmd_info },
    { "keys", "list the keys of a bucket", cmd_keys },
    { "load", "create a db from a canonical dump on standard input", cmd_load },
    { "page", "decode pages (or hexdump them with --format hex)", cmd_page },
    { "page-item", "print one element of a branch or leaf page", cmd_page_item },
    { "pages", "list every page: id, type, items, overflow; free pages marked", cmd_pages },
    { "restore", "create a db file from a snapshot (plain, sha256 trailer, gzip)", cmd_restore },
    { "salvage", "copy everything readable from a damaged file into a new one", cmd_salvage },
    { "script", "run an mvcc script (ORACLE.md) on stdin; print etcd's canonical output",
      cmd_script },
    { "snapshot", "write a consistent copy of a db file (etcd's snapshot)", cmd_snapshot },
    { "stats", "bucket statistics: pages, keys, depth, bytes used/allocated", cmd_stats },
    { "strerror", "describe strata status codes (e.g. strata strerror -5104)", cmd_strerror },
    { "surgery", "repair a copy of a damaged file (meta, pages, freelist)", cmd_surgery },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: strata [--help] [--version] COMMAND [options] [args]\n\n"
                 "strata inspects, checks and repairs bbolt and etcd db files.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'strata COMMAND --help' for a command's options.\n"
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
