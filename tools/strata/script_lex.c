/*
 * script_lex.c: the lexical layer of the script language (ORACLE.md §1):
 * tokens, the split of an op's tokens into positional arguments, options
 * and flags, numbers, key ranges, and the error records ops return.
 *
 * Every rule here is the oracle's, including its corners, because a line
 * the oracle rejects must be a script error here too (and the other way
 * round): the output of both stops at that line.
 *   - Separators are ' ', '\t' and '\r'. A '#' starts a comment only where
 *     a token would start; inside a bare token it is a byte like others.
 *   - A token is quoted only when it starts with '"'; a '"' later in a bare
 *     token is literal. A quoted token must be followed by a separator or
 *     the end of the line.
 *   - Numbers are Go's strconv.ParseInt(s, 10, 64): optional sign, digits,
 *     no spaces, no base prefix, no underscores.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "script.h"

static bool is_sep(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int unhex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int tok_push(script_tok **toks, size_t *cap, size_t n, script_tok t)
{
    if (n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 16;
        script_tok *v = realloc(*toks, ncap * sizeof *v);
        if (v == NULL)
            return -1;
        *toks = v;
        *cap = ncap;
    }
    (*toks)[n] = t;
    return 0;
}

long script_tokenize(unsigned char *line, size_t len, script_tok **toks, size_t *cap,
                     const char **why)
{
    size_t n = 0, i = 0;
    /* Invariant: line[0..i) is consumed; tokens before i are in *toks. A
     * quoted token is decoded into line starting at its opening quote:
     * each escape is at least as long as the byte it stands for, so the
     * write position never passes the read position. */
    while (i < len) {
        unsigned char c = line[i];
        if (is_sep(c)) {
            i++;
            continue;
        }
        if (c == '#')
            break;
        if (c != '"') {
            size_t j = i;
            while (j < len && !is_sep(line[j]))
                j++;
            if (tok_push(toks, cap, n++, (script_tok){ line + i, j - i, false }) != 0)
                return -2;
            i = j;
            continue;
        }
        unsigned char *dst = line + i;
        size_t w = 0;
        bool closed = false;
        i++;
        while (i < len) {
            c = line[i];
            if (c == '"') {
                closed = true;
                i++;
                break;
            }
            if (c != '\\') {
                dst[w++] = c;
                i++;
                continue;
            }
            if (i + 1 >= len) {
                *why = "dangling backslash";
                return -1;
            }
            unsigned char e = line[i + 1];
            switch (e) {
            case '\\':
            case '"':
                dst[w++] = e;
                i += 2;
                break;
            case 'n':
                dst[w++] = '\n';
                i += 2;
                break;
            case 't':
                dst[w++] = '\t';
                i += 2;
                break;
            case 'r':
                dst[w++] = '\r';
                i += 2;
                break;
            case '0':
                dst[w++] = '\0';
                i += 2;
                break;
            case 'x': {
                if (i + 4 > len) {
                    *why = "short \\x escape";
                    return -1;
                }
                int h = unhex(line[i + 2]), l = unhex(line[i + 3]);
                if (h < 0 || l < 0) {
                    *why = "bad \\x escape";
                    return -1;
                }
                dst[w++] = (unsigned char)(h << 4 | l);
                i += 4;
                break;
            }
            default:
                *why = "unknown escape";
                return -1;
            }
        }
        if (!closed) {
            *why = "unterminated quoted string";
            return -1;
        }
        if (i < len && !is_sep(line[i])) {
            *why = "garbage after closing quote";
            return -1;
        }
        if (tok_push(toks, cap, n++, (script_tok){ dst, w, true }) != 0)
            return -2;
    }
    return (long)n;
}

int script_fail(script_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return SCRIPT_FAIL;
}

int script_internal(script_ctx *c, int rc, const char *what)
{
    const char *name = cli_status_name(rc);
    snprintf(c->why, sizeof c->why, "%s: %s%s%s%s", what, cli_strerror(rc), name ? " (" : "",
             name ? name : "", name ? ")" : "");
    return SCRIPT_INTERNAL;
}

static int name_index(const char *const *names, const char *name)
{
    for (int i = 0; names != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

bool script_flag(const script_args *a, const char *name)
{
    int i = name_index(a->op->flags, name);
    return i >= 0 && a->flag[i];
}

const char *script_opt(const script_args *a, const char *name)
{
    int i = name_index(a->op->options, name);
    return i >= 0 ? a->opt[i] : NULL;
}

int script_parse_int64(const unsigned char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return -1;
    /* Accumulate the magnitude as uint64: the limit is 2^63 - 1 or 2^63. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = s[i] - '0';
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

/* Print at most the first 40 bytes of a token into buf, for messages. */
static const char *tok_text(const unsigned char *s, size_t len, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < size && i < 40; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f)
            buf[n++] = (char)s[i];
        else
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", s[i]);
    }
    buf[n] = '\0';
    return buf;
}

int script_pos_int64(script_ctx *c, const script_args *a, size_t i, const char *what, int64_t *out)
{
    char buf[64];
    if (i >= a->npos)
        return script_fail(c, "%s: missing %s", a->op->name, what);
    if (script_parse_int64(a->pos[i].s, a->pos[i].len, out) != 0)
        return script_fail(c, "%s: bad %s '%s'", a->op->name, what,
                           tok_text(a->pos[i].s, a->pos[i].len, buf, sizeof buf));
    return 0;
}

int script_opt_int64(script_ctx *c, const script_args *a, const char *name, int64_t def,
                     int64_t *out)
{
    char buf[64];
    int i = name_index(a->op->options, name);
    if (i < 0 || a->opt[i] == NULL) {
        *out = def;
        return 0;
    }
    const unsigned char *v = (const unsigned char *)a->opt[i];
    if (script_parse_int64(v, a->optlen[i], out) != 0)
        return script_fail(c, "%s: bad %s '%s'", a->op->name, name,
                           tok_text(v, a->optlen[i], buf, sizeof buf));
    return 0;
}

int script_key_range(script_ctx *c, const script_args *a, size_t first, script_range *r,
                     unsigned char **buf)
{
    static const unsigned char zero = 0;
    const char *op = a->op->name;
    *buf = NULL;
    if (a->npos < first + 1)
        return script_fail(c, "%s: missing key", op);
    const script_tok *key = &a->pos[first];
    bool prefix = script_flag(a, "prefix"), fromkey = script_flag(a, "fromkey");
    if (key->len == 0) {
        /* clientv3.WithPrefix(""): the whole key space. The oracle takes
         * this form before it looks at anything else on the line. */
        if (prefix && a->npos == first + 1) {
            *r = (script_range){ &zero, 1, &zero, 0 };
            return 0;
        }
        return script_fail(c, "%s: empty key", op);
    }
    *r = (script_range){ key->s, key->len, NULL, 0 };
    int ends = 0;
    if (a->npos > first + 1) {
        if (a->npos > first + 2)
            return script_fail(c, "%s: too many arguments", op);
        const script_tok *end = &a->pos[first + 1];
        if (end->len > 0) { /* "" is no range end, as gRPC sends it */
            r->end = end->s;
            r->elen = end->len;
            ends++;
        }
    }
    if (prefix) {
        /* clientv3.GetPrefixRangeEnd: drop trailing 0xff bytes, then add
         * one to the last byte; no such byte: "\0" (every key >= key). */
        size_t n = key->len;
        while (n > 0 && key->s[n - 1] == 0xff)
            n--;
        if (n == 0) {
            r->end = &zero;
            r->elen = 1;
        } else {
            unsigned char *e = malloc(n);
            if (e == NULL)
                return script_internal(c, -ENOMEM, op);
            memcpy(e, key->s, n);
            e[n - 1]++;
            *buf = e;
            r->end = e;
            r->elen = n;
        }
        ends++;
    }
    if (fromkey) {
        r->end = &zero;
        r->elen = 1;
        ends++;
    }
    if (ends > 1) {
        free(*buf);
        *buf = NULL;
        return script_fail(c, "%s: at most one of END, prefix, fromkey", op);
    }
    /* etcdserver's mkGteRange: an end of exactly "\0" means every key >= key. */
    if (r->end != NULL && r->elen == 1 && r->end[0] == 0)
        r->elen = 0;
    return 0;
}

int script_split_args(script_ctx *c, const script_op *op, const script_tok *toks, size_t n,
                      script_tok *pos, script_args *a)
{
    memset(a, 0, sizeof *a);
    a->op = op;
    a->pos = pos;
    for (size_t t = 0; t < n; t++) {
        const script_tok *k = &toks[t];
        if (!k->quoted) {
            const unsigned char *eq = memchr(k->s, '=', k->len);
            if (eq != NULL && eq > k->s) {
                size_t nlen = (size_t)(eq - k->s);
                for (int i = 0; op->options != NULL && op->options[i] != NULL; i++) {
                    if (strlen(op->options[i]) != nlen || memcmp(op->options[i], k->s, nlen) != 0)
                        continue;
                    if (a->opt[i] != NULL)
                        return script_fail(c, "option %s given twice", op->options[i]);
                    /* A bare token is followed by a separator or the end of
                     * the line buffer (which has room for a NUL): both free. */
                    unsigned char *v = (unsigned char *)eq + 1;
                    v[k->len - nlen - 1] = '\0';
                    a->opt[i] = (const char *)v;
                    a->optlen[i] = k->len - nlen - 1;
                    goto next;
                }
            }
            for (int i = 0; op->flags != NULL && op->flags[i] != NULL; i++) {
                if (strlen(op->flags[i]) == k->len && memcmp(op->flags[i], k->s, k->len) == 0) {
                    a->flag[i] = true;
                    goto next;
                }
            }
        }
        pos[a->npos++] = *k;
    next:;
    }
    return 0;
}
