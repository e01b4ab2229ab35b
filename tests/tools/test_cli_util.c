/* test_cli_util.c: tools/strata/cli_util.c (formats, arguments, exit codes) and cli_parse. */
#include "cli.h"
#include "cli_db.h"
#include "cli_util.h"

#include <errno.h>

#include <strata/bolt.h>

#include "harness.h"

static const char *render(const void *data, size_t n, cli_format fmt)
{
    static char buf[256];
    memset(buf, 0, sizeof buf);
    FILE *f = fmemopen(buf, sizeof buf, "w");
    ASSERT_NOT_NULL(f);
    cli_print_bytes(f, data, n, fmt);
    fclose(f);
    return buf;
}

static void test_format_names(void)
{
    cli_format f;
    ASSERT_EQ_INT(cli_format_parse("auto", &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_AUTO);
    ASSERT_EQ_INT(cli_format_parse("hex", &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_HEX);
    ASSERT_EQ_INT(cli_format_parse("text", &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_TEXT);
    ASSERT_EQ_INT(cli_format_parse("escaped", &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_ESCAPED);
    ASSERT_EQ_INT(cli_format_parse("ascii", &f), 0); /* the old name of escaped */
    ASSERT_EQ_INT(f, CLI_FORMAT_ESCAPED);
    ASSERT_EQ_INT(cli_format_parse("bytes", &f), -1); /* output of values only */
    ASSERT_EQ_INT(cli_format_parse2("bytes", true, &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_BYTES);
    ASSERT_EQ_INT(cli_format_parse("HEX", &f), -1);
    ASSERT_EQ_INT(cli_format_parse("", &f), -1);
}

static void test_print_bytes(void)
{
    ASSERT_EQ_STR(render("widgets", 7, CLI_FORMAT_AUTO), "widgets");
    ASSERT_EQ_STR(render("a\x01", 2, CLI_FORMAT_AUTO), "0x6101");
    ASSERT_EQ_STR(render("0x41", 4, CLI_FORMAT_AUTO), "0x30783431"); /* text led by 0x: marked */
    ASSERT_EQ_STR(render("0X41", 4, CLI_FORMAT_AUTO), "0X41");       /* only 0x is the mark */
    ASSERT_EQ_STR(render("00", 2, CLI_FORMAT_AUTO), "00");
    ASSERT_EQ_STR(render("-a", 2, CLI_FORMAT_AUTO), "0x2d61"); /* would read as an option */
    ASSERT_EQ_STR(render("a-", 2, CLI_FORMAT_AUTO), "a-");
    ASSERT_EQ_STR(render("-a", 2, CLI_FORMAT_ESCAPED), "\\x2da");
    ASSERT_EQ_STR(render("\x00", 1, CLI_FORMAT_AUTO), "0x00");
    ASSERT_EQ_STR(render("a\x01", 2, CLI_FORMAT_ESCAPED), "a\\x01");
    ASSERT_EQ_STR(render("a\\b", 3, CLI_FORMAT_ESCAPED), "a\\\\b");
    ASSERT_EQ_STR(render("\xff\x00", 2, CLI_FORMAT_HEX), "ff00");
    ASSERT_EQ_STR(render("", 0, CLI_FORMAT_HEX), "");
    ASSERT_EQ_STR(render("", 0, CLI_FORMAT_AUTO), "");
    ASSERT_EQ_STR(render("a b", 3, CLI_FORMAT_TEXT), "a b");
}

/* xorshift64*: the test's own generator, seeded from harness_seed(). */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Every byte string printed in a format parses back to itself in that format. */
static void test_round_trip(void)
{
    static const cli_format fmts[] = { CLI_FORMAT_AUTO, CLI_FORMAT_HEX, CLI_FORMAT_ESCAPED };
    uint64_t seed = harness_seed() | 1;
    for (int iter = 0; iter < 2000; iter++) {
        unsigned char key[24];
        size_t n = (size_t)(next_rand(&seed) % sizeof key);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_rand(&seed);
            /* Mostly text, some 0x-led text, some bytes. */
            key[i] = r % 4 == 0 ? (unsigned char)(r >> 8) : (unsigned char)(' ' + (r >> 8) % 95);
        }
        if (n >= 2 && iter % 5 == 0) {
            key[0] = '0';
            key[1] = 'x';
        }
        if (n >= 1 && iter % 7 == 0)
            key[0] = '-';
        for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
            size_t len;
            char *s = cli_bytes_str(key, n, fmts[f], &len);
            ASSERT_NOT_NULL(s);
            ASSERT_EQ_SIZE(strlen(s), len);
            unsigned char *back;
            size_t blen;
            const char *why;
            ASSERT_EQ_INT(cli_parse_bytes(s, fmts[f], &back, &blen, &why), 0);
            ASSERT_EQ_MEM(back, blen, key, n);
            free(back);
            free(s);
        }
    }
}

static void test_arg_bytes(void)
{
    unsigned char *b;
    size_t n;
    ASSERT_EQ_INT(cli_arg_bytes("t", "key", CLI_FORMAT_AUTO, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "key", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "0x00fF7a", CLI_FORMAT_AUTO, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "\x00\xff\x7a", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "00fF7a", CLI_FORMAT_HEX, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "\x00\xff\x7a", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "0x00", CLI_FORMAT_HEX, &b, &n), 0); /* prefix optional */
    ASSERT_EQ_MEM(b, n, "\x00", 1);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "0x41", CLI_FORMAT_TEXT, &b, &n), 0); /* text is text */
    ASSERT_EQ_MEM(b, n, "0x41", 4);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "a\\x00\\\\", CLI_FORMAT_ESCAPED, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "a\x00\\", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "", CLI_FORMAT_HEX, &b, &n), 0);
    ASSERT_EQ_SIZE(n, 0);
    free(b);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* the messages of the refusals below */
    ASSERT_NOT_NULL(stderr);
    int r1 = cli_arg_bytes("t", "abc", CLI_FORMAT_HEX, &b, &n);
    int r2 = cli_arg_bytes("t", "zz", CLI_FORMAT_HEX, &b, &n);
    int r3 = cli_arg_bytes("t", "0xzz", CLI_FORMAT_AUTO, &b, &n); /* marked but not hex */
    int r4 = cli_arg_bytes("t", "a\\q", CLI_FORMAT_ESCAPED, &b, &n);
    fclose(stderr);
    stderr = saved;
    ASSERT_EQ_INT(r1, -1);
    ASSERT_EQ_INT(r2, -1);
    ASSERT_EQ_INT(r3, -1);
    ASSERT_EQ_INT(r4, -1);
}

static void test_exit_codes(void)
{
    ASSERT_EQ_INT(cli_exit_for(0), CLI_OK);
    ASSERT_EQ_INT(cli_exit_for(STRATA_NOTFOUND), CLI_FINDING);
    ASSERT_EQ_INT(cli_exit_for(-ENOENT), CLI_NOOPEN);
    ASSERT_EQ_INT(cli_exit_for(BOLT_EINVALID), CLI_NOOPEN);
    ASSERT_EQ_INT(cli_exit_for(BOLT_ETIMEOUT), CLI_NOOPEN);
    ASSERT_EQ_INT(cli_exit_for(BOLT_ECORRUPT), CLI_NOOPEN);
    ASSERT_EQ_INT(cli_exit_for(BOLT_EPANIC), CLI_INTERNAL);
    ASSERT_EQ_INT(cli_exit_for(STRATA_EMISUSE), CLI_USAGE);
    ASSERT_EQ_STR(cli_strerror(-5501), "lease not found");
    ASSERT_EQ_STR(cli_status_name(-5104), "BOLT_ECHECKSUM");
    ASSERT_NULL(cli_status_name(-5599));
}

static void parse_usage(FILE *out)
{
    fprintf(out, "usage: t [-o OUT] [--flag] ARG\n");
}

typedef struct parsed {
    const char *out;
    int flags;
} parsed;

static int parse_option(int c, const char *arg, void *ctx)
{
    parsed *p = ctx;
    if (c == 'o')
        p->out = arg;
    else
        p->flags++;
    return 0;
}

/* Run cli_parse on a NULL-terminated argument list; the positional count in *npos. */
static int parse(const cli_command_spec *spec, const char **args, int *npos)
{
    char *argv[16];
    int argc = 0;
    for (; args[argc] != NULL; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    optind = 0; /* glibc: a full reset, as main.c does before each command */
    opterr = 0;
    cli_opts o;
    int code = cli_parse(spec, argc, argv, &o);
    *npos = argc - optind;
    return code;
}

/* Short options come from spec->shorts only: -o takes its argument, -x is refused. */
static void test_parse_shorts(void)
{
    static const struct option extra[] = {
        { "output", required_argument, NULL, 'o' },
        { "flag", no_argument, NULL, 2000 },
        { NULL, 0, NULL, 0 },
    };
    parsed p = { NULL, 0 };
    cli_command_spec spec = { .name = "t",
                              .usage = parse_usage,
                              .min_args = 1,
                              .max_args = 1,
                              .shorts = "o:",
                              .extra = extra,
                              .on_option = parse_option,
                              .ctx = &p };
    int npos;
    const char *a1[] = { "t", "-o", "out.db", "--flag", "in.db", NULL };
    ASSERT_EQ_INT(parse(&spec, a1, &npos), -1);
    ASSERT_EQ_STR(p.out, "out.db");
    ASSERT_EQ_INT(p.flags, 1);
    ASSERT_EQ_INT(npos, 1);
    p.out = NULL;
    const char *a2[] = { "t", "in.db", "--output=o2", NULL };
    ASSERT_EQ_INT(parse(&spec, a2, &npos), -1);
    ASSERT_EQ_STR(p.out, "o2");
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* the usage text of the refusals below */
    ASSERT_NOT_NULL(stderr);
    const char *a3[] = { "t", "-x", "in.db", NULL };
    int code3 = parse(&spec, a3, &npos);
    const char *a4[] = { "t", "in.db", "-o", NULL };
    int code4 = parse(&spec, a4, &npos);
    spec.shorts = NULL; /* without shorts, -o is not an option */
    const char *a5[] = { "t", "-o", "x", "in.db", NULL };
    int code5 = parse(&spec, a5, &npos);
    fclose(stderr);
    stderr = saved;
    ASSERT_EQ_INT(code3, CLI_USAGE);
    ASSERT_EQ_INT(code4, CLI_USAGE);
    ASSERT_EQ_INT(code5, CLI_USAGE);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_format_names);
    RUN(test_print_bytes);
    RUN(test_round_trip);
    RUN(test_arg_bytes);
    RUN(test_exit_codes);
    RUN(test_parse_shorts);
    return 0;
}
