/*
 * cmd_strerror.c: `strata strerror CODE...`: print the name and message of
 * each status code, as any layer of the library returns them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "cli_json.h"
#include "cli_util.h"

const cli_command_spec cmd_strerror_spec = {
    .name = "strerror",
    .min_args = 0,
    .max_args = -1,
    .common = CLI_C_JSON,
    .synopsis = "[--json] CODE...",
    .about = "Print each strata status code's symbolic name and message, as any layer\n"
             "of the library returns them. Negative codes (-5104) are codes, not options.",
    .json = "codes: [{code, name (null if unknown), message}...]",
    .exits = "0 every code known; 1 a code unknown to every layer; 2 usage",
    .example = "$ strata strerror -5104 -5105",
};

/* A CODE argument: a number, negative ones included (getopt would take them for options). */
static bool is_code(const char *arg)
{
    return (arg[0] == '-' || arg[0] == '+') ? arg[1] >= '0' && arg[1] <= '9'
                                            : arg[0] >= '0' && arg[0] <= '9';
}

int cmd_strerror(int argc, char **argv)
{
    /* The options go through the table's parser; the codes are set aside first. */
    char **opts = calloc((size_t)argc + 1, sizeof *opts);
    char **nums = calloc((size_t)argc + 1, sizeof *nums);
    if (opts == NULL || nums == NULL) {
        free(opts);
        free(nums);
        fprintf(stderr, "strata strerror: out of memory\n");
        return CLI_INTERNAL;
    }
    int nopts = 0, nnums = 0;
    bool dashdash = false;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !dashdash && strcmp(argv[i], "--") == 0)
            dashdash = true;
        if (i > 0 && (dashdash || is_code(argv[i])))
            nums[nnums++] = argv[i];
        else
            opts[nopts++] = argv[i];
    }
    cli_opts o;
    int parsed = cli_parse(&cmd_strerror_spec, nopts, opts, &o);
    for (int i = optind; parsed < 0 && i < nopts; i++)
        nums[nnums++] = opts[i]; /* not a number: refused below as not a code */
    free(opts);
    if (parsed < 0 && nnums == 0) {
        cli_usage(&cmd_strerror_spec, stderr);
        parsed = CLI_USAGE;
    }
    if (parsed >= 0) {
        free(nums);
        return parsed;
    }
    bool json = o.json;
    json_t *codes = json ? json_array() : NULL;
    int status = CLI_OK;
    for (int i = 0; i < nnums; i++) {
        if (strcmp(nums[i], "--") == 0)
            continue;
        char *end;
        errno = 0;
        long code = strtol(nums[i], &end, 0);
        if (errno != 0 || end == nums[i] || *end != '\0' || code < -100000 || code > 100000) {
            fprintf(stderr, "strata strerror: '%s' is not a status code\n", nums[i]);
            json_decref(codes);
            free(nums);
            return CLI_USAGE;
        }
        const char *name = cli_status_name((int)code);
        if (name == NULL)
            status = CLI_FINDING;
        if (codes != NULL) {
            json_t *e = json_object();
            cli_json_set(e, "code", json_integer(code));
            cli_json_set(e, "name", name != NULL ? json_string(name) : json_null());
            cli_json_set(e, "message", json_string(cli_strerror((int)code)));
            cli_json_append(codes, e);
            continue;
        }
        printf("%ld %s: %s\n", code, name ? name : "?", cli_strerror((int)code));
    }
    free(nums);
    if (codes != NULL) {
        json_t *doc = json_object();
        cli_json_set(doc, "codes", codes);
        int jc = cli_json_print("strerror", stdout, doc);
        if (jc != CLI_OK)
            return jc;
    }
    return status;
}
