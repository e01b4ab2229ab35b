/*
 * cmd_keys.c: `strata keys DB BUCKET...`: the keys of a bucket in key
 * order; nested buckets are flagged.
 */
#include "cli.h"
#include "cli_db.h"

int cli_list_entries(const char *cmd, const cli_opts *o, const char *path, char **names, int n,
                     bool buckets_only);

static void keys_usage(FILE *out)
{
    fprintf(out, "usage: strata keys [options] DB BUCKET...\n\n"
                 "List the keys of the bucket BUCKET/... in key order; nested buckets\n"
                 "are followed by a tab and (bucket).\n\n" CLI_COMMON_HELP);
}

int cmd_keys(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        CLI_COMMON_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    cli_opts o;
    cli_opts_init(&o);
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            keys_usage(stdout);
            return CLI_OK;
        }
        if (cli_opts_handle("keys", &o, c, optarg) != 0) {
            keys_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind < 2) {
        keys_usage(stderr);
        return CLI_USAGE;
    }
    return cli_list_entries("keys", &o, argv[optind], argv + optind + 1, argc - optind - 1, false);
}
