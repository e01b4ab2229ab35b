/*
 * cli_json.h: --json output for every command, through jansson (the CLI's
 * only JSON library; libstrata never sees it).
 *
 * Rules: one JSON document per run on stdout (cli_json_print), an object
 * whose field names are listed in the command's --help and never change
 * meaning; keys, bucket names and values are strings written in their
 * format (cli_json_bytes: auto gives text or "0x" hex, so a field can be
 * passed back to `strata get` as it is); numbers are JSON integers, except
 * a uint64 above 2^63 - 1, which is a decimal string; progress and
 * warnings stay on stderr. Building calls take ownership of the values
 * they are given (jansson's _new functions); a NULL from an allocation
 * makes the whole document fail at cli_json_print.
 */
#ifndef STRATA_CLI_JSON_H
#define STRATA_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_util.h"

/*
 * Bytes as a JSON string in fmt. Text that is not valid UTF-8 (JSON
 * strings must be) is written in auto's form instead. NULL on no memory.
 */
json_t *cli_json_bytes(const void *data, size_t n, cli_format fmt);

/* A uint64: an integer, or a decimal string above INT64_MAX. */
json_t *cli_json_u64(uint64_t v);

/* obj[key] = v (v's reference is taken, NULL is recorded as a failure). */
void cli_json_set(json_t *obj, const char *key, json_t *v);
/* arr += v, likewise. */
void cli_json_append(json_t *arr, json_t *v);

/*
 * Write doc (indented, one trailing newline) to out and release it.
 * Returns CLI_OK, or CLI_INTERNAL after a message on stderr when doc is
 * NULL or a value could not be built (out of memory) or written.
 */
int cli_json_print(const char *cmd, FILE *out, json_t *doc);

#endif
