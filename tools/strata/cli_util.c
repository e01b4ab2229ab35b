/*
 * cli_util.c: formats, arguments and error reporting shared by the
 * commands (cli_util.h states the round-trip rule). Pure functions but for
 * the path alias, so they are unit-tested.
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

static const struct {
    const char *name;
    cli_format fmt;
} format_names[] = {
    { "auto", CLI_FORMAT_AUTO },       { "text", CLI_FORMAT_TEXT },     { "hex", CLI_FORMAT_HEX },
    { "escaped", CLI_FORMAT_ESCAPED }, { "ascii", CLI_FORMAT_ESCAPED }, /* the old name */
    { "bytes", CLI_FORMAT_BYTES },
};

int cli_format_parse2(const char *name, bool allow_bytes, cli_format *out)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcmp(name, format_names[i].name) == 0) {
            if (format_names[i].fmt == CLI_FORMAT_BYTES && !allow_bytes)
                return -1;
            *out = format_names[i].fmt;
            return 0;
        }
    }
    return -1;
}

int cli_format_parse(const char *name, cli_format *out)
{
    return cli_format_parse2(name, false, out);
}

const char *cli_format_name(cli_format fmt)
{
    switch (fmt) {
    case CLI_FORMAT_TEXT:
        return "text";
    case CLI_FORMAT_HEX:
        return "hex";
    case CLI_FORMAT_ESCAPED:
        return "escaped";
    case CLI_FORMAT_BYTES:
        return "bytes";
    default:
        return "auto";
    }
}

bool cli_is_printable(const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

/*
 * auto's choice: text only when printable, not led by the hex marker, and
 * not led by '-' (which an argument list would take for an option).
 */
static bool auto_is_text(const unsigned char *p, size_t n)
{
    return cli_is_printable(p, n) && !(n >= 2 && p[0] == '0' && p[1] == 'x') &&
           !(n >= 1 && p[0] == '-');
}

static const char hex_digits[] = "0123456789abcdef";

char *cli_bytes_str(const void *data, size_t n, cli_format fmt, size_t *len)
{
    const unsigned char *p = data;
    bool marked = false;
    if (fmt == CLI_FORMAT_AUTO) {
        if (auto_is_text(p, n)) {
            fmt = CLI_FORMAT_TEXT;
        } else {
            fmt = CLI_FORMAT_HEX;
            marked = true;
        }
    }
    size_t cap;
    switch (fmt) {
    case CLI_FORMAT_HEX:
        cap = 2 * n + 3;
        break;
    case CLI_FORMAT_ESCAPED:
        cap = 4 * n + 1;
        break;
    default:
        cap = n + 1;
    }
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    size_t k = 0;
    if (fmt == CLI_FORMAT_HEX) {
        if (marked) {
            s[k++] = '0';
            s[k++] = 'x';
        }
        for (size_t i = 0; i < n; i++) {
            s[k++] = hex_digits[p[i] >> 4];
            s[k++] = hex_digits[p[i] & 15];
        }
    } else if (fmt == CLI_FORMAT_ESCAPED) {
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '\\') {
                s[k++] = '\\';
                s[k++] = '\\';
            } else if (p[i] >= 0x20 && p[i] <= 0x7e && !(i == 0 && p[i] == '-')) {
                s[k++] = (char)p[i];
            } else {
                s[k++] = '\\';
                s[k++] = 'x';
                s[k++] = hex_digits[p[i] >> 4];
                s[k++] = hex_digits[p[i] & 15];
            }
        }
    } else {
        if (n > 0)
            memcpy(s, p, n);
        k = n;
    }
    s[k] = '\0';
    if (len != NULL)
        *len = k;
    return s;
}

void cli_print_bytes(FILE *out, const void *data, size_t n, cli_format fmt)
{
    const unsigned char *p = data;
    if (fmt == CLI_FORMAT_TEXT || fmt == CLI_FORMAT_BYTES ||
        (fmt == CLI_FORMAT_AUTO && auto_is_text(p, n))) {
        if (n > 0)
            fwrite(p, 1, n, out);
        return;
    }
    if (fmt == CLI_FORMAT_AUTO)
        fputs("0x", out);
    if (fmt == CLI_FORMAT_AUTO || fmt == CLI_FORMAT_HEX) {
        for (size_t i = 0; i < n; i++) {
            putc(hex_digits[p[i] >> 4], out);
            putc(hex_digits[p[i] & 15], out);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) { /* escaped */
        if (p[i] == '\\')
            fputs("\\\\", out);
        else if (p[i] >= 0x20 && p[i] <= 0x7e && !(i == 0 && p[i] == '-'))
            putc(p[i], out);
        else
            fprintf(out, "\\x%02x", p[i]); /* a leading '-' too: it is no option */
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

/* Decode "\\" and "\xNN" escapes; 0 or -1. out has room for strlen(arg). */
static int unescape(const char *arg, unsigned char *out, size_t *len)
{
    size_t k = 0;
    for (const char *s = arg; *s != '\0'; s++) {
        if (*s != '\\') {
            out[k++] = (unsigned char)*s;
            continue;
        }
        if (s[1] == '\\') {
            out[k++] = '\\';
            s++;
        } else if (s[1] == 'x' && hex_value(s[2]) >= 0 && hex_value(s[3]) >= 0) {
            out[k++] = (unsigned char)(hex_value(s[2]) << 4 | hex_value(s[3]));
            s += 3;
        } else {
            return -1;
        }
    }
    *len = k;
    return 0;
}

int cli_parse_bytes(const char *arg, cli_format fmt, unsigned char **out, size_t *len,
                    const char **why)
{
    size_t n = strlen(arg);
    unsigned char *b = malloc(n + 1);
    if (b == NULL)
        return -2;
    const char *hex = NULL;
    if (fmt == CLI_FORMAT_HEX)
        hex = strncmp(arg, "0x", 2) == 0 ? arg + 2 : arg;
    else if (fmt == CLI_FORMAT_AUTO && strncmp(arg, "0x", 2) == 0)
        hex = arg + 2;
    if (hex != NULL) {
        size_t h = strlen(hex);
        if (cli_hex_decode(hex, h, b) != 0) {
            free(b);
            *why = fmt == CLI_FORMAT_AUTO
                           ? "starts with 0x but is not hex (an even number of 0-9a-f digits); "
                             "text that starts with 0x is written in hex"
                           : "is not hex (an even number of 0-9a-f digits)";
            return -1;
        }
        *len = h / 2;
    } else if (fmt == CLI_FORMAT_ESCAPED) {
        if (unescape(arg, b, len) != 0) {
            free(b);
            *why = "has a '\\' that is not \\\\ or \\xNN (escaped format)";
            return -1;
        }
    } else {
        memcpy(b, arg, n);
        *len = n;
    }
    b[*len] = '\0';
    *out = b;
    return 0;
}

int cli_arg_bytes(const char *cmd, const char *arg, cli_format fmt, unsigned char **out,
                  size_t *len)
{
    const char *why = NULL;
    int r = cli_parse_bytes(arg, fmt, out, len, &why);
    if (r == -2) {
        fprintf(stderr, "strata %s: out of memory\n", cmd);
        return -1;
    }
    if (r != 0) {
        fprintf(stderr, "strata %s: '%s' %s", cmd, arg, why);
        if (fmt == CLI_FORMAT_AUTO) {
            fputs(": '", stderr);
            cli_print_bytes(stderr, arg, strlen(arg), CLI_FORMAT_AUTO);
            fputs("' is that text", stderr);
        }
        fputc('\n', stderr);
        return -1;
    }
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

static const char *alias_path, *alias_shown;

void cli_path_alias(const char *path, const char *shown)
{
    alias_path = path;
    alias_shown = shown;
}

const char *cli_path_shown(const char *path)
{
    if (path != NULL && alias_path != NULL && strcmp(path, alias_path) == 0)
        return alias_shown;
    return path;
}

int cli_report(const char *cmd, const char *path, int rc)
{
    const char *name = cli_status_name(rc);
    if (path != NULL)
        fprintf(stderr, "strata %s: %s: %s", cmd, cli_path_shown(path), cli_strerror(rc));
    else
        fprintf(stderr, "strata %s: %s", cmd, cli_strerror(rc));
    if (name != NULL)
        fprintf(stderr, " (%s)", name);
    if (rc == BOLT_ECORRUPT) {
        /* Without a handle, the only detail is a failed open's (the freelist checks). */
        char why[256];
        bolt_open_last_corruption(why, sizeof why);
        if (why[0] != '\0')
            fprintf(stderr, ": %s", why);
    }
    fputc('\n', stderr);
    return cli_exit_for(rc);
}
