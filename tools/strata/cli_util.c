/*
 * cli_util.c: formats, arguments and error reporting shared by the
 * commands. Pure functions, no global state, so they are unit-tested.
 */
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strata/lease.h>
#include <strata/mvcc.h>

#include "cli.h"

const char *cli_strerror(int rc)
{
    /* mvcc's chain covers idx, backend, bolt and common; lease's range is apart. */
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_LEASE))
        return lease_strerror(rc);
    return mvcc_strerror(rc);
}

const char *cli_status_name(int rc)
{
    if (STRATA_IN_RANGE(rc, STRATA_RANGE_LEASE))
        return lease_status_name(rc);
    return mvcc_status_name(rc);
}

int cli_format_parse(const char *name, cli_format *out)
{
    static const struct {
        const char *name;
        cli_format fmt;
    } names[] = { { "auto", CLI_FORMAT_AUTO },
                  { "ascii", CLI_FORMAT_ASCII },
                  { "hex", CLI_FORMAT_HEX } };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].fmt;
            return 0;
        }
    }
    return -1;
}

bool cli_is_printable(const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

static void print_hex(FILE *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        putc(digits[p[i] >> 4], out);
        putc(digits[p[i] & 15], out);
    }
}

void cli_print_bytes(FILE *out, const void *data, size_t n, cli_format fmt)
{
    const unsigned char *p = data;
    if (fmt == CLI_FORMAT_AUTO)
        fmt = cli_is_printable(p, n) ? CLI_FORMAT_ASCII : CLI_FORMAT_HEX;
    if (fmt == CLI_FORMAT_HEX) {
        print_hex(out, p, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] <= 0x7e && p[i] != '\\')
            putc(p[i], out);
        else
            fprintf(out, "\\x%02x", p[i]);
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cli_hex_decode(const char *hex, size_t n, unsigned char *out)
{
    if (n % 2 != 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int cli_arg_bytes(const char *cmd, const char *arg, cli_format fmt, unsigned char **out,
                  size_t *len)
{
    size_t n = strlen(arg);
    if (fmt != CLI_FORMAT_HEX) {
        unsigned char *copy = malloc(n + 1);
        if (copy == NULL) {
            fprintf(stderr, "strata %s: out of memory\n", cmd);
            return -1;
        }
        memcpy(copy, arg, n + 1);
        *out = copy;
        *len = n;
        return 0;
    }
    unsigned char *bytes = malloc(n / 2 + 1);
    if (bytes == NULL) {
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    if (cli_hex_decode(arg, n, bytes) != 0) {
        fprintf(stderr, "strata %s: '%s' is not hex (an even number of 0-9a-f digits)\n", cmd, arg);
        free(bytes);
        return -1;
    }
    *out = bytes;
    *len = n / 2;
    return 0;
}

int cli_exit_for(int rc)
{
    if (rc == 0)
        return CLI_OK;
    if (rc > 0)
        return CLI_FINDING; /* an expected outcome, e.g. not found */
    switch (rc) {
    case BOLT_EPANIC:
        return CLI_INTERNAL;
    case STRATA_EMISUSE:
        return CLI_USAGE;
    default:
        return CLI_NOOPEN;
    }
}

int cli_report(const char *cmd, const char *path, int rc)
{
    const char *name = cli_status_name(rc);
    if (path != NULL)
        fprintf(stderr, "strata %s: %s: %s", cmd, path, cli_strerror(rc));
    else
        fprintf(stderr, "strata %s: %s", cmd, cli_strerror(rc));
    if (name != NULL)
        fprintf(stderr, " (%s)", name);
    fputc('\n', stderr);
    return cli_exit_for(rc);
}
