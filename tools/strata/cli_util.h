/*
 * cli_util.h: helpers every `strata` command shares: how keys, bucket
 * names and values are written and read (the round-trip rule below), and
 * error reporting with the right exit code.
 *
 * The round-trip rule (issue 20): whatever a command prints for a key, a
 * bucket name or a value can be given back to any command as an argument
 * in the same format and means the same bytes. The default format, auto,
 * is unambiguous on its own:
 *   - bytes that are all printable ASCII (0x20..0x7e) and start neither
 *     with "0x" nor with '-' are written as they are ("widgets");
 *   - anything else -- a non-printable byte, text that itself starts with
 *     "0x", or text that starts with '-' (an argument list would take it
 *     for an option) -- is written as "0x" and lower-case hex ("0x00ff",
 *     "0x3078" for the text "0x", "0x2d61" for "-a").
 * Read back, an argument starting with "0x" is hex (a malformed one is a
 * usage error naming the text's own hex form); anything else is the text.
 * The other formats are chosen with --key-format / --bucket-format /
 * --value-format and hold for input and output alike:
 *   text     the bytes as they are (input: the argument's bytes; give a
 *            name that starts with '-' after "--", which ends the options)
 *   hex      lower-case hex without a prefix (input: hex, "0x" optional)
 *   escaped  printable ASCII as it is, '\' as "\\", other bytes (and a
 *            leading '-') "\xNN" (input: the same escapes; any other '\'
 *            is a usage error)
 *   bytes    output only: the raw bytes, no newline (get, page-item)
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

/* How keys, bucket names and values are written and read. */
typedef enum cli_format {
    CLI_FORMAT_AUTO = 0, /* text when printable and not "0x"-led, else 0x + hex */
    CLI_FORMAT_TEXT,     /* the bytes as they are */
    CLI_FORMAT_HEX,      /* lower-case hex, no prefix (input: "0x" optional) */
    CLI_FORMAT_ESCAPED,  /* printable ASCII, "\\" and "\xNN" */
    CLI_FORMAT_BYTES,    /* output only: raw bytes, no newline */
} cli_format;

/* The old name of escaped ("--key-format ascii" is still accepted). */
#define CLI_FORMAT_ASCII CLI_FORMAT_ESCAPED

/*
 * "auto", "text", "hex", "escaped" (or "ascii"), and "bytes" when
 * allow_bytes -> 0 and *out; else -1 (a usage error).
 */
int cli_format_parse2(const char *name, bool allow_bytes, cli_format *out);
/* cli_format_parse2 without bytes. */
int cli_format_parse(const char *name, cli_format *out);
/* The format's name as the options spell it. */
const char *cli_format_name(cli_format fmt);

/* Print n bytes in the format (bytes: raw; auto as the rule above). */
void cli_print_bytes(FILE *out, const void *data, size_t n, cli_format fmt);

/*
 * The bytes written in the format as a malloc'd NUL-terminated string
 * (free it); *len (may be NULL) gets its length, which for text and bytes
 * may include NUL bytes. NULL when out of memory.
 */
char *cli_bytes_str(const void *data, size_t n, cli_format fmt, size_t *len);

/* True when every byte is printable ASCII (0x20..0x7e). */
bool cli_is_printable(const void *data, size_t n);

/* Decode n hex digits (n even, either case) into n / 2 bytes; 0 or -1. */
int cli_hex_decode(const char *hex, size_t n, unsigned char *out);

/*
 * Decode an argument written in fmt (bytes counts as text). *out is
 * malloc'd (free it), NUL-terminated after its *len bytes. 0; -1 with a
 * static *why when the argument is malformed for the format; -2 when out
 * of memory.
 */
int cli_parse_bytes(const char *arg, cli_format fmt, unsigned char **out, size_t *len,
                    const char **why);

/*
 * cli_parse_bytes for a command: 0, or -1 after printing
 * "strata CMD: 'ARG' ..." (a usage error; out of memory is printed too).
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

/*
 * Name `shown` in messages instead of `path` (the temporary copy of
 * standard input is reported as "-"). NULL path clears it.
 */
void cli_path_alias(const char *path, const char *shown);
/* path, or its alias. */
const char *cli_path_shown(const char *path);

#endif
