/*
 * cli_util.h: helpers every `strata` command shares: key/value formats,
 * literal-or-hex arguments, and error reporting with the right exit code.
 */
#ifndef STRATA_CLI_UTIL_H
#define STRATA_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The message of any strata status code, whatever layer it comes from. */
const char *cli_strerror(int rc);
/* Its symbolic name, or NULL when no layer knows the code. */
const char *cli_status_name(int rc);

/* How keys and values are shown (--key-format / --value-format). */
typedef enum cli_format {
    CLI_FORMAT_AUTO = 0, /* text when every byte is printable ASCII, else hex */
    CLI_FORMAT_ASCII,    /* text, non-printable bytes as \xNN */
    CLI_FORMAT_HEX,      /* lower-case hex */
} cli_format;

/* "auto", "ascii" or "hex" -> 0 and *out; else -1 (a usage error). */
int cli_format_parse(const char *name, cli_format *out);

/* Print n bytes in the format; an empty string prints nothing. */
void cli_print_bytes(FILE *out, const void *data, size_t n, cli_format fmt);

/* True when every byte is printable ASCII (0x20..0x7e). */
bool cli_is_printable(const void *data, size_t n);

/* Decode n hex digits (n even, either case) into n / 2 bytes; 0 or -1. */
int cli_hex_decode(const char *hex, size_t n, unsigned char *out);

/*
 * Decode a key or bucket name given on the command line: literally, or as
 * hex when fmt is CLI_FORMAT_HEX (upper or lower case, even length).
 * *out is malloc'd (free it) and holds *len bytes. 0, or -1 when the hex
 * is malformed (a usage error; the message is printed).
 */
int cli_arg_bytes(const char *cmd, const char *arg, cli_format fmt, unsigned char **out,
                  size_t *len);

/*
 * The exit code for a status code returned while opening or reading a
 * file: CLI_NOOPEN for I/O, format, lock and corruption errors, CLI_USAGE
 * for API misuse, CLI_INTERNAL for strata's own invariant failures.
 */
int cli_exit_for(int rc);

/* "strata CMD: PATH: message (NAME)" on stderr; returns cli_exit_for(rc). */
int cli_report(const char *cmd, const char *path, int rc);

#endif
