/*
 * cli.h: what every `strata` subcommand shares: the command table entry,
 * the exit codes, and the status describer that knows every layer.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes, the same for every command. */
enum cli_exit {
    CLI_OK = 0,       /* done, nothing to report */
    CLI_FINDING = 1,  /* ran fine and found something: check problems, key not found */
    CLI_USAGE = 2,    /* bad command line */
    CLI_NOOPEN = 3,   /* cannot open or read the input: missing, not bolt, locked, I/O */
    CLI_INTERNAL = 4, /* an error inside strata */
};

struct cli_command_spec;

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `strata --help` */
    /* argv[0] is the command name; getopt state is reset before the call. */
    int (*run)(int argc, char **argv);
    /* Its option table (cli_db.h), for completion and the man page; NULL if none. */
    const struct cli_command_spec *spec;
} cli_command;

/* Every command, for `strata completion`; n gets the count. */
const cli_command *cli_commands(size_t *n);

/* The table-driven commands' specs (cli_db.h). */
extern const struct cli_command_spec cmd_buckets_spec, cmd_check_spec, cmd_compact_spec,
        cmd_defrag_spec, cmd_dump_spec, cmd_get_spec, cmd_hash_spec, cmd_info_spec, cmd_keys_spec,
        cmd_page_spec, cmd_page_item_spec, cmd_pages_spec, cmd_restore_spec, cmd_snapshot_spec,
        cmd_stats_spec, cmd_completion_spec, cmd_script_spec, cmd_etcd_spec, cmd_gen_spec,
        cmd_load_spec, cmd_salvage_spec, cmd_surgery_spec, cmd_strerror_spec, cmd_bench_spec;

int cmd_buckets(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_strerror(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_pages(int argc, char **argv);
int cmd_page(int argc, char **argv);
int cmd_page_item(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_surgery(int argc, char **argv);
int cmd_salvage(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_defrag(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_script(int argc, char **argv);
int cmd_etcd(int argc, char **argv);

#endif
