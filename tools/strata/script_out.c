/*
 * script_out.c: the canonical output of the script language (ORACLE.md
 * §3): lines, quoted bytes, key-value lines and etcd's error strings.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <strata/lease.h>

#include "cli_util.h"
#include "script.h"

void script_print(script_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

void script_line(script_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    putc('\n', c->out);
}

void script_q(script_ctx *c, const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    FILE *f = c->out;
    putc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char b = p[i];
        if (b >= 0x20 && b <= 0x7e && b != '"' && b != '\\') {
            putc(b, f);
        } else {
            putc('\\', f);
            putc('x', f);
            putc(hex[b >> 4], f);
            putc(hex[b & 15], f);
        }
    }
    putc('"', f);
}

void script_kv_line(script_ctx *c, const char *prefix, const script_kv *kv, bool with_value)
{
    fputs(prefix, c->out);
    fputs(" key=", c->out);
    script_q(c, kv->key, kv->klen);
    script_print(c, " create=%" PRId64 " mod=%" PRId64 " ver=%" PRId64 " lease=%" PRId64,
                 kv->create, kv->mod, kv->version, kv->lease);
    if (with_value) {
        fputs(" value=", c->out);
        script_q(c, kv->value, kv->vlen);
    }
    putc('\n', c->out);
}

bool script_error_is_etcd(int rc)
{
    /* etcd's own errors, which mvcc.h and lease.h give etcd's messages;
     * the layers' other codes (a closed store, a damaged record, ...) are
     * strata's, and etcd has no output for them. */
    switch (rc) {
    case MVCC_ECOMPACTED:
    case MVCC_EFUTUREREV:
    case MVCC_ECANCELED:
    case MVCC_EWATCHERNOTEXIST:
    case MVCC_EEMPTYWATCHERRANGE:
    case MVCC_EDUPWATCHID:
    case LEASE_ENOTPRIMARY:
    case LEASE_ENOTFOUND:
    case LEASE_EEXISTS:
    case LEASE_ETTLTOOLARGE:
        return true;
    default:
        return false;
    }
}

void script_error(script_ctx *c, int rc)
{
    const char *msg = cli_strerror(rc);
    fputs("error=", c->out);
    script_q(c, msg, strlen(msg));
}
