/* `diffd serve` flags: defaults, accepted forms, and errors that name the
 * flag and the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static int parse(struct config *cfg, char *err, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "serve";
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    return config_parse_serve(cfg, argc, argv, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const char *args[] = {"--primary", "http://p:1", "--candidate", "https://c.example/api/", NULL};
    assert_int_equal(parse(&cfg, err, args), 0);
    assert_string_equal(cfg.listen_addr, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8880);
    assert_int_equal(cfg.admin_port, 8888);
    assert_true(cfg.sample_percent == 100.0);
    assert_int_equal(cfg.respond, ROLE_PRIMARY);
    assert_int_equal(cfg.timeout_ms, 10000);
    assert_int_equal(cfg.connect_timeout_ms, 1000);
    assert_int_equal(cfg.max_body, 8u << 20);
    assert_int_equal(cfg.max_inflight, 4096);
    assert_false(cfg.backends[ROLE_SECONDARY].configured);
    assert_string_equal(cfg.backends[ROLE_CANDIDATE].base, "https://c.example/api");
    assert_string_equal(cfg.backends[ROLE_CANDIDATE].hostport, "c.example");
    assert_string_equal(cfg.backends[ROLE_PRIMARY].base, "http://p:1");
    config_free(&cfg);
    const char *v6[] = {"--primary", "http://[::1]:8080/x", "--candidate", "http://[::1]", NULL};
    assert_int_equal(parse(&cfg, err, v6), 0);
    assert_string_equal(cfg.backends[ROLE_PRIMARY].hostport, "[::1]:8080");
    config_free(&cfg);
}

static void test_values(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    const char *args[] = {"--primary=http://p:1",
                          "--secondary",
                          "http://s:2",
                          "--candidate",
                          "http://c:3",
                          "--listen",
                          "0.0.0.0:9000",
                          "--admin",
                          "9001",
                          "--sample",
                          "12.5",
                          "--sample-key",
                          "header:X-User",
                          "--respond",
                          "none",
                          "--wait-all",
                          "--allow-side-effects",
                          "--max-body",
                          "512k",
                          "--threads",
                          "3",
                          "--preserve-host",
                          NULL};
    assert_int_equal(parse(&cfg, err, args), 0);
    assert_string_equal(cfg.listen_addr, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 9000);
    assert_string_equal(cfg.admin_addr, "127.0.0.1");
    assert_int_equal(cfg.admin_port, 9001);
    assert_true(cfg.sample_percent == 12.5);
    assert_int_equal(cfg.sample_key_kind, SAMPLE_KEY_HEADER);
    assert_string_equal(cfg.sample_key_name, "X-User");
    assert_int_equal(cfg.respond, RESPOND_NONE);
    assert_true(cfg.wait_all && cfg.allow_side_effects && cfg.preserve_host);
    assert_int_equal(cfg.max_body, 512 * 1024);
    assert_int_equal(cfg.threads, 3);
    config_free(&cfg);
}

static void test_errors_name_the_flag(void **state)
{
    (void)state;
    static const struct {
        const char *args[8];
        const char *must_contain;
    } cases[] = {
        {{"--primary", "http://p", "--candidate", "http://c", "--sample", "101", NULL}, "--sample"},
        {{"--primary", "http://p", "--candidate", "http://c", "--sample", "abc", NULL}, "--sample"},
        {{"--primary", "ftp://p", "--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://p?x=1", "--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://127.0.0.1:", "--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://p", "--candidate", "http://c:99999", NULL}, "--candidate"},
        {{"--primary", "http://p", "--candidate", "http://c:8x", NULL}, "--candidate"},
        {{"--primary", "http://:80", "--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://[::1", "--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://p", NULL}, "--candidate"},
        {{"--candidate", "http://c", NULL}, "--primary"},
        {{"--primary", "http://p", "--candidate", "http://c", "--listen", "1.2.3.4:99999", NULL},
         "--listen"},
        {{"--primary", "http://p", "--candidate", "http://c", "--respond", "both", NULL},
         "--respond"},
        {{"--primary", "http://p", "--candidate", "http://c", "--respond", "secondary", NULL},
         "--secondary"},
        {{"--primary", "http://p", "--candidate", "http://c", "--bogus", NULL}, "--bogus"},
        {{"--primary", "http://p", "--candidate", "http://c", "--timeout", NULL}, "--timeout"},
        {{"--primary", "http://p", "--candidate", "http://c", "--timeout", "0", NULL}, "--timeout"},
        {{"--primary", "http://p", "--candidate", "http://c", "--max-body", "-5", NULL},
         "--max-body"},
        {{"--primary", "http://p", "--candidate", "http://c", "--sample-key", "cookie:x", NULL},
         "--sample-key"},
        {{"--primary", "http://p", "--candidate", "http://c", "--threads", "0", NULL}, "--threads"},
        {{"--primary", "http://p", "--candidate", "http://c", "--wait-all=yes", NULL},
         "--wait-all"},
        {{"--primary", "http://p", "--candidate", "http://c", "stray", NULL}, "stray"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[256] = "";
        assert_int_equal(parse(&cfg, err, cases[i].args), -1);
        if (!strstr(err, cases[i].must_contain))
            fail_msg("case %zu: \"%s\" does not mention %s", i, err, cases[i].must_contain);
        config_free(&cfg);
    }
}

static void test_hostport(void **state)
{
    (void)state;
    char *addr = NULL;
    int port = 0;
    assert_int_equal(config_parse_hostport("[::1]:80", "127.0.0.1", &addr, &port), 0);
    assert_string_equal(addr, "::1");
    assert_int_equal(port, 80);
    free(addr);
    assert_int_equal(config_parse_hostport("0", "127.0.0.1", &addr, &port), 0);
    assert_string_equal(addr, "127.0.0.1");
    assert_int_equal(port, 0);
    free(addr);
    assert_int_equal(config_parse_hostport("host:", "127.0.0.1", &addr, &port), -1);
    assert_int_equal(config_parse_hostport(":80", "127.0.0.1", &addr, &port), -1);
    assert_int_equal(config_parse_hostport("[::1]80", "127.0.0.1", &addr, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors_name_the_flag),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
