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
    ASSERT_EQ_INT(cli_format_parse("ascii", &f), 0);
    ASSERT_EQ_INT(f, CLI_FORMAT_ASCII);
    ASSERT_EQ_INT(cli_format_parse("HEX", &f), -1);
    ASSERT_EQ_INT(cli_format_parse("", &f), -1);
}

static void test_print_bytes(void)
{
    ASSERT_EQ_STR(render("widgets", 7, CLI_FORMAT_AUTO), "widgets");
    ASSERT_EQ_STR(render("a\x01", 2, CLI_FORMAT_AUTO), "6101");
    ASSERT_EQ_STR(render("a\x01", 2, CLI_FORMAT_ASCII), "a\\x01");
    ASSERT_EQ_STR(render("a\\b", 3, CLI_FORMAT_ASCII), "a\\x5cb"); /* escapes stay unambiguous */
    ASSERT_EQ_STR(render("\xff\x00", 2, CLI_FORMAT_HEX), "ff00");
    ASSERT_EQ_STR(render("", 0, CLI_FORMAT_HEX), "");
}

static void test_arg_bytes(void)
{
    unsigned char *b;
    size_t n;
    ASSERT_EQ_INT(cli_arg_bytes("t", "key", CLI_FORMAT_AUTO, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "key", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "00fF7a", CLI_FORMAT_HEX, &b, &n), 0);
    ASSERT_EQ_MEM(b, n, "\x00\xff\x7a", 3);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "", CLI_FORMAT_HEX, &b, &n), 0);
    ASSERT_EQ_SIZE(n, 0);
    free(b);
    ASSERT_EQ_INT(cli_arg_bytes("t", "abc", CLI_FORMAT_HEX, &b, &n), -1);
    ASSERT_EQ_INT(cli_arg_bytes("t", "zz", CLI_FORMAT_HEX, &b, &n), -1);
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
    RUN(test_arg_bytes);
    RUN(test_exit_codes);
    RUN(test_parse_shorts);
    return 0;
}
