/*
 * cmd_strerror.c: `strata strerror CODE...`: print the name and message of
 * each status code, as any layer of the library returns them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_util.h"

static void strerror_usage(FILE *out)
{
    fprintf(out, "usage: strata strerror [--json] CODE...\n\n"
                 "Print each strata status code's symbolic name and message. With --json\n"
                 "(first): one document, codes: [{code, name (null if unknown), message}].\n"
                 "Exit 1 when a code is unknown to every layer.\n");
    fprintf(out, "\nexample:\n  $ strata strerror -5104 -5105\n");
}

int cmd_strerror(int argc, char **argv)
{
    /* No getopt here: negative codes ("-5104") would read as options. */
    if (argc < 2) {
        strerror_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        strerror_usage(stdout);
        return CLI_OK;
    }
    bool json = strcmp(argv[1], "--json") == 0;
    if (json && argc < 3) {
        strerror_usage(stderr);
        return CLI_USAGE;
    }
    json_t *codes = json ? json_array() : NULL;
    int status = CLI_OK;
    for (int i = json ? 2 : 1; i < argc; i++) {
        char *end;
        errno = 0;
        long code = strtol(argv[i], &end, 0);
        if (errno != 0 || end == argv[i] || *end != '\0' || code < -100000 || code > 100000) {
            fprintf(stderr, "strata strerror: '%s' is not a status code\n", argv[i]);
            json_decref(codes);
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
    if (codes != NULL) {
        json_t *doc = json_object();
        cli_json_set(doc, "codes", codes);
        int jc = cli_json_print("strerror", stdout, doc);
        if (jc != CLI_OK)
            return jc;
    }
    return status;
}
