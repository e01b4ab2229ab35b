/*
 * cmd_keys.c: `strata keys DB BUCKET...`: the keys of a bucket in key
 * order, one per line in the key format; nested buckets are flagged (and
 * written in the bucket format, as they are path elements).
 */
#include "cli.h"
#include "cli_db.h"
#include "cli_io.h"

int cli_list_entries(const cli_opts *o, const char *path, char **names, int n, bool buckets_only);

const cli_command_spec cmd_keys_spec = {
    .name = "keys",
    .min_args = 2,
    .max_args = -1,
    .common = CLI_C_KEYS | CLI_C_BUCKETS | CLI_C_TIMEOUT | CLI_C_LIVE | CLI_C_JSON,
    .synopsis = "[options] DB BUCKET...",
    .about = "List the keys of the bucket BUCKET/... in key order, one per line: text,\n"
             "or 0x-hex when not printable (or when the text starts with 0x), so each\n"
             "line can be given back to 'strata get' as KEY. A nested bucket is followed\n"
             "by a tab and (bucket), its name in the bucket format. A damaged file\n"
             "where a bucket on the path, or one beside it, has another's pages is\n"
             "refused with the page named (exit 3) rather than listing the other's keys.",
    .json = "keys: [{key: KEY, bucket: BOOL}...]   in key order; bucket: a nested bucket",
    .example = "$ strata keys my.db widgets\n"
               "0x0001\n"
               "blue\n"
               "$ strata get my.db widgets 0x0001",
};

int cmd_keys(int argc, char **argv)
{
    cli_opts o;
    int code = cli_parse(&cmd_keys_spec, argc, argv, &o);
    if (code >= 0)
        return code;
    cli_input in;
    if ((code = cli_input_begin("keys", argv[optind], &in)) != CLI_OK)
        return code;
    code = cli_list_entries(&o, in.path, argv + optind + 1, argc - optind - 1, false);
    cli_input_end(&in);
    return code;
}
