/* Unit tests for ifname: the rule for bridge and port names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ifname.h"
#include "util.h"

static void
test_valid(void **state OVS_UNUSED)
{
    static const char *const good[] = {
        "br0",
        "a",
        "br-int",
        "vnet12",
        "br.0",
        "...",
        "a..b",
        "0123456789abcde",
        "br\xc3\xa9",
        "x\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "a@b",
        "a%b",
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        const char *why = ifname_problem(good[i]);
        if (why) {
            fail_msg("\"%s\" refused: %s", good[i], why);
        }
    }
}

static void
test_invalid(void **state OVS_UNUSED)
{
    static const struct {
        const char *name;
        const char *rule;
    } bad[] = {
        { "", "1 to 15 bytes" },
        { "0123456789abcdef", "1 to 15 bytes" },
        { ".", "not \".\" or \"..\"" },
        { "..", "not \".\" or \"..\"" },
        { "a/b", "no '/'" },
        { "../x%\x01", "no '/'" },
        { "b\x01", "control characters" },
        { "b\x7f", "control characters" },
        { "br 0", "spaces" },
        { "br\t0", "spaces" },
        { "x:y", "':'" },
        { "\xff", "not valid UTF-8" },
        { "a\xc3", "not valid UTF-8" },            /* Cut short. */
        { "\xc0\xaf", "not valid UTF-8" },         /* Overlong '/'. */
        { "\xed\xa0\x80", "not valid UTF-8" },     /* A surrogate. */
        { "\xf4\x90\x80\x80", "not valid UTF-8" }, /* Past U+10FFFF. */
        { "\x80x", "not valid UTF-8" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        const char *why = ifname_problem(bad[i].name);
        if (!why || !strstr(why, bad[i].rule)) {
            fail_msg("case %zu: got %s, expected %s", i, why ? why : "NULL",
                     bad[i].rule);
        }
    }
}

static void
test_escape(void **state OVS_UNUSED)
{
    char buf[64];
    assert_string_equal(ifname_escape("br0", buf, sizeof buf), "br0");
    assert_string_equal(ifname_escape("../x%\x01", buf, sizeof buf),
                        "../x%\\x01");
    assert_string_equal(ifname_escape("a b\\", buf, sizeof buf),
                        "a\\x20b\\x5c");
    assert_string_equal(ifname_escape("", buf, sizeof buf), "");
    /* Cut to fit, never in the middle of an escape. */
    assert_string_equal(ifname_escape("ab\x01", buf, 5), "ab");
    assert_string_equal(ifname_escape("abcdef", buf, 4), "abc");
    assert_string_equal(ifname_escape("abc", buf, 1), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
