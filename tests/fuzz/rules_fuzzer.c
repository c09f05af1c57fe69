/* Fuzz target: the rules file parser and linter, then routing and views on
 * whatever parsed. Any input must give either a ruleset or errors, never a
 * crash or a leak; every error must carry the file:line:column prefix. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const requests[][2] = {
        {"GET", "/users/42?x=1"},
        {"POST", "/orders/123e4567-e89b-12d3-a456-426614174000"},
        {"GET", "/"},
        {"DELETE", "http://h/a/b/c"},
        {"GET", "/health"},
        {"PUT", "*"},
    };
    struct ruleset *rs = rules_new();
    char err[256];
    int rc = rules_add_text(rs, "f.rules", (const char *)data, size, err, sizeof(err));
    int frc = rules_finish(rs, err, sizeof(err));
    for (size_t i = 0; i < rules_error_count(rs); i++)
        if (strncmp(rules_error(rs, i), "f.rules:", 8) != 0)
            abort();
    if ((rc == 0 && frc == 0) != (rules_error_count(rs) == 0))
        abort();
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct route_result r;
        route_resolve(rs, requests[i][0], requests[i][1], NULL, &r);
        if (strlen(r.name) >= ROUTE_NAME_MAX || r.view.nsec > RULES_VIEW_MAX)
            abort();
        route_resolve(rs, requests[i][0], requests[i][1], r.name, &r);
    }
    for (size_t i = 0; i < rules_rule_count(rs); i++) {
        struct rules_rule_info info;
        rules_rule_info(rs, i, &info);
        if (!info.text || info.line == 0)
            abort();
    }
    rules_free(rs);
    return 0;
}
