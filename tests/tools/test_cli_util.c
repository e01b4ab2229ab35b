/* test_cli_util.c: tools/strata/cli_util.c (formats, arguments, exit codes). */
#include "cli.h"
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

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_format_names);
    RUN(test_print_bytes);
    RUN(test_arg_bytes);
    RUN(test_exit_codes);
    return 0;
}
