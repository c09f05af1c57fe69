/* Endpoint naming (DESIGN §4): the Canonical-Resource header, else the first
 * rules section whose pattern matches, else `METHOD /path` with the query
 * removed and id-like segments replaced by `:id`. Also the section patterns
 * themselves (`GET /users/:id`, a final `*` segment for the rest of a path).
 * route_resolve() is the proxy's per-request entry: no allocation, no lock. */
#ifndef DIFFD_ROUTE_H
#define DIFFD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

#define ROUTE_NAME_MAX 256 /* bytes, NUL included; longer names are cut at a UTF-8 boundary */
#define ROUTE_MAX_STRIP 32 /* distinct strip-request-header names reported per endpoint */

struct route_result {
    char name[ROUTE_NAME_MAX];
    bool skip;     /* a `skip` rule applies: proxy only, never compare */
    double sample; /* percent from the last applicable `sample` rule; < 0 when none */
    size_t nstrip;
    const char *strip[ROUTE_MAX_STRIP]; /* lowercase header names, borrowed from the ruleset */
    struct rules_view view;             /* the sections that apply (for normalize/jsondiff) */
};

/* Names the endpoint of a request and gathers its routing rules into *out.
 * rs may be NULL (no rules). method and target (origin-form "path?query", or
 * absolute-form) are borrowed; canonical_resource is the header's value or
 * NULL. Bumps the match counters of skip/sample/strip-request-header rules.
 * Thread-safe on a sealed ruleset; does not allocate. */
void route_resolve(const struct ruleset *rs, const char *method, const char *target,
                   const char *canonical_resource, struct route_result *out);

/* The automatic name: "METHOD /path" with query removed and id-like segments
 * (all digits, UUIDs, 16+ hex digits, 20+ characters mixing letters and
 * digits) replaced by `:id`. Writes at most outlen bytes, NUL-terminated. */
void route_template(const char *method, const char *target, char *out, size_t outlen);

/* True when a path segment looks like an identifier (see route_template()). */
bool route_is_id_segment(const char *s, size_t n);

/* A section pattern: `*` (every endpoint) or `METHOD /path` where METHOD may be
 * `*`, a segment `:name` matches one segment and a final `*` the rest (one or
 * more segments). */
struct route_pattern;

/* Parses text[0..len). On success *out is a new pattern (caller frees with
 * route_pattern_free()). On error returns -1, *errpos is the byte offset of
 * the offending token and err names it. */
int route_pattern_parse(const char *text, size_t len, struct route_pattern **out, size_t *errpos,
                        char *err, size_t errlen);
void route_pattern_free(struct route_pattern *p);
/* Normalized text ("GET /users/:id", "*"). Borrowed. */
const char *route_pattern_text(const struct route_pattern *p);
/* True for `*`. */
bool route_pattern_is_all(const struct route_pattern *p);
/* True when the pattern's method is `*` (the endpoint name then carries the
 * request's method). */
bool route_pattern_any_method(const struct route_pattern *p);
/* Matches a request: method and the path part of a target (query ignored). */
bool route_pattern_match(const struct route_pattern *p, const char *method, const char *target);
/* Matches an endpoint name "METHOD /path"; a name without that shape matches
 * only `*`. */
bool route_pattern_match_name(const struct route_pattern *p, const char *name);

#endif
