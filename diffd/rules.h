/* Rule files (DESIGN §4): parsing and linting of `[PATTERN]` sections and their
 * directives, the lookup of the sections that apply to an endpoint, and the
 * per-rule match counters shown in the report. Regexes are PCRE2, compiled once
 * (JIT when available); PCRE2 stays inside rules.c.
 *
 * Lifetime and threads: a ruleset is built by rules_new() + rules_add_*(), then
 * sealed by rules_finish(); after that it is immutable (except the relaxed
 * atomic counters) and may be shared read-only by any number of threads.
 * Reloading means building a new ruleset and swapping pointers; views, route
 * results and normalized responses borrow from the ruleset, so it must outlive
 * them. */
#ifndef DIFFD_RULES_H
#define DIFFD_RULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonpath.h"
#include "util.h"

struct route_pattern;

enum rule_kind {
    RULE_IGNORE,
    RULE_IGNORE_HEADER,
    RULE_REPLACE,
    RULE_TOLERANCE,
    RULE_UNORDERED,
    RULE_REDACT,
    RULE_REDACT_HEADER,
    RULE_SKIP,
    RULE_SAMPLE,
    RULE_STRIP_REQUEST_HEADER,
};

/* What a PATH argument designates. Besides JSONPath into a JSON body, `ignore`,
 * `replace` and `redact` accept the pseudo-fields `body` (a whole text or
 * binary body), `status` (ignore only) and `header.NAME`. */
enum rule_target {
    RULE_TARGET_JSON,
    RULE_TARGET_BODY,
    RULE_TARGET_STATUS,
    RULE_TARGET_HEADER,
};

struct rule_arg {
    enum rule_target target;
    struct jsonpath *path; /* RULE_TARGET_JSON */
    char *name;            /* header name, lowercase (RULE_TARGET_HEADER and *-header rules) */
};

/* One directive line. Read-only for users of this header. */
struct rule {
    enum rule_kind kind;
    const char *file; /* as given to rules_add_*() */
    unsigned line;
    char *text; /* the directive as written, comment and outer spaces removed */
    struct rule_arg *args;
    size_t nargs;
    void *re;             /* replace: the compiled pcre2_code (opaque outside rules.c) */
    char *replacement;    /* replace, as written */
    void *subst;          /* replace: the replacement compiled against re (opaque) */
    double number;        /* tolerance amount, or sample percent */
    bool percent;         /* tolerance given as NUMBER% */
    struct jsonpath *key; /* unordered ... by KEYPATH (relative to an element) */
    _Atomic uint64_t matched;
};

/* A [PATTERN] section. pattern is NULL for [*]. */
struct rules_section {
    struct route_pattern *pattern;
    const char *file;
    unsigned line;
    struct rule **rules; /* borrowed from the ruleset, in file order */
    size_t nrules;
};

/* The sections that apply to one endpoint, [*] sections first, then the
 * others in load order. Borrows from the ruleset. At most RULES_VIEW_MAX
 * sections apply to one endpoint (rules_finish() rejects a section pattern
 * matched by more); a view of a NULL ruleset is empty. */
#define RULES_VIEW_MAX 64
struct rules_view {
    const struct ruleset *rs;
    size_t nsec;
    const struct rules_section *sec[RULES_VIEW_MAX];
};

/* An empty ruleset; caller frees with rules_free(). */
struct ruleset *rules_new(void);
/* Accepts NULL. */
void rules_free(struct ruleset *rs);

/* Adds one file, or every `*.rules` file of a directory (not recursive) in
 * lexical order. Syntax errors are all recorded (see rules_error()). Returns 0
 * when clean, -1 when any syntax error was found, -2 when the path (or a file
 * in the directory) could not be read; err receives the first message
 * ("file:line:column: message", or "path: reason"). Borrows path. Both
 * fail once the ruleset is sealed by rules_finish(). */
int rules_add_path(struct ruleset *rs, const char *path, char *err, size_t errlen);
/* Adds rules from memory; name is used in messages and the report. Returns 0
 * or -1 as above. Borrows both. */
int rules_add_text(struct ruleset *rs, const char *name, const char *text, size_t len, char *err,
                   size_t errlen);
/* Seals the ruleset: precomputes per-section views. Returns -1 (with the first
 * error in err) when any error was recorded by the rules_add_*() calls or here. */
int rules_finish(struct ruleset *rs, char *err, size_t errlen);

/* All recorded errors, in order, as "file:line:column: message". */
size_t rules_error_count(const struct ruleset *rs);
const char *rules_error(const struct ruleset *rs, size_t i);

/* Sections in load order (for route naming). */
size_t rules_section_count(const struct ruleset *rs);
const struct rules_section *rules_section_at(const struct ruleset *rs, size_t i);

/* Fills *view with the sections that apply to the endpoint called name
 * ("GET /users/:id" or any Canonical-Resource text): [*] sections, and
 * sections whose pattern matches the name (`:x` matching any one segment,
 * `*` the rest). rs may be NULL. No allocation. */
void rules_view_for_endpoint(const struct ruleset *rs, const char *name, struct rules_view *view);
/* Same as above for the endpoint named by section i's own pattern
 * (precomputed by rules_finish()). */
void rules_view_for_section(const struct ruleset *rs, size_t i, struct rules_view *view);

/* Match scratch for rules_replace(): create one per thread or per batch of
 * calls to save an allocation per call. Caller frees with rules_matcher_free()
 * (accepts NULL). */
struct rules_matcher;
struct rules_matcher *rules_matcher_new(void);
void rules_matcher_free(struct rules_matcher *m);

/* Applies one `replace` rule to a string (all matches): on a match, *out
 * receives the result (reset first) and 1 is returned; 0 when nothing matched;
 * -1 when PCRE2 failed (out holds nothing useful). m may be NULL (then PCRE2
 * allocates its own match data). Thread-safe with one matcher per thread. */
int rules_replace(const struct rule *r, const char *s, size_t len, struct buf *out,
                  struct rules_matcher *m);

/* Adds n to a rule's match counter (relaxed atomic; safe from any thread). */
void rules_count(const struct rule *r, uint64_t n);

/* Report metadata: rules in load order (sections excluded). */
struct rules_rule_info {
    const char *file;
    unsigned line;
    const char *text;
    uint64_t matched;
};
size_t rules_rule_count(const struct ruleset *rs);
void rules_rule_info(const struct ruleset *rs, size_t i, struct rules_rule_info *out);
/* Adds n to the match counter of the rule written `text` at file:line, if rs
 * has it: how counts survive a reload and a restart (--state) for the rules
 * that did not change. Returns 1 when found, 0 when not. */
int rules_add_matched(const struct ruleset *rs, const char *file, unsigned line, const char *text,
                      uint64_t n);
/* Number of files loaded. */
size_t rules_file_count(const struct ruleset *rs);
/* Path of the i-th file loaded (i < rules_file_count()), as read. Borrowed. */
const char *rules_file_name(const struct ruleset *rs, size_t i);

#endif
