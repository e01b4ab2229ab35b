/*
 * cli_json.c: --json helpers (see cli_json.h).
 */
#include "cli_json.h"

#include <stdbool.h>
#include <stdlib.h>

#include "cli.h"

/* Set when a value could not be built; cli_json_print then fails the document. */
static bool json_failed;

json_t *cli_json_bytes(const void *data, size_t n, cli_format fmt)
{
    size_t len;
    if (fmt == CLI_FORMAT_BYTES)
        fmt = CLI_FORMAT_AUTO;
    char *s = cli_bytes_str(data, n, fmt, &len);
    if (s == NULL)
        return NULL;
    json_t *j = json_stringn(s, len);
    free(s);
    if (j == NULL && fmt == CLI_FORMAT_TEXT) /* not UTF-8: the unambiguous form */
        return cli_json_bytes(data, n, CLI_FORMAT_AUTO);
    return j;
}

json_t *cli_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

void cli_json_set(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
        json_failed = true;
}

void cli_json_append(json_t *arr, json_t *v)
{
    if (v == NULL || arr == NULL || json_array_append_new(arr, v) != 0)
        json_failed = true;
}

int cli_json_print(const char *cmd, FILE *out, json_t *doc)
{
    if (doc == NULL || json_failed) {
        json_decref(doc);
        json_failed = false;
        fprintf(stderr, "strata %s: out of memory building the JSON output\n", cmd);
        return CLI_INTERNAL;
    }
    /* Reals with 15 significant digits: a figure printed as 0.06 reads back as 0.06
     * (jansson's default, 17, shows the binary fraction: 0.059999999999999998). */
    int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(doc);
    if (rc != 0 || fputc('\n', out) == EOF) {
        fprintf(stderr, "strata %s: cannot write the JSON output\n", cmd);
        return CLI_NOOPEN;
    }
    return CLI_OK;
}
