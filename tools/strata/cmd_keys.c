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
    static const cli_command_spec spec = {
        .name = "keys", .usage = keys_usage, .min_args = 2, .max_args = -1
    };
    cli_opts o;
    int code = cli_parse(&spec, argc, argv, &o);
    if (code >= 0)
        return code;
    return cli_list_entries("keys", &o, argv[optind], argv + optind + 1, argc - optind - 1, false);
}
