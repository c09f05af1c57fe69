/* The diff engine (DESIGN §5): compares two normalized responses (or two JSON
 * trees) field by field and yields differences of kind value, type, missing,
 * extra, length or error, each with an exact path (`$.items[3].price`), a
 * generalized field path (`$.items[*].price`) and the two values. Writers
 * render them as JSON lines or as an RFC 6902 JSON Patch.
 *
 * Semantics: object key order never matters; numbers compare by value (1
 * equals 1.0; beyond 2^53 only as precisely as a double); `tolerance` rules
 * make near numbers equal (NUMBER: |a-b| <= NUMBER; NUMBER%: |a-b| <=
 * NUMBER/100 * max(|a|,|b|)); `unordered` arrays compare as multisets, or
 * matched by a key. Duplicate object keys are paired in order of appearance.
 * The order of differences is deterministic: the primary's (left) document
 * order, then what only the right side has.
 *
 * Ownership: a struct jsondiff is a reusable result + scratch space, one per
 * thread (not shared). Entries borrow the compared trees: they stay valid
 * until the next jsondiff_* comparison on the same object, jsondiff_free(),
 * or until the trees are freed, whichever comes first. */
#ifndef DIFFD_JSONDIFF_H
#define DIFFD_JSONDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "normalize.h"
#include "rules.h"
#include "util.h"

enum jsondiff_kind {
    JSONDIFF_VALUE,   /* same JSON type, different value */
    JSONDIFF_TYPE,    /* different JSON types (or body kinds: JSON vs text vs binary) */
    JSONDIFF_MISSING, /* present on the left (primary), absent on the right */
    JSONDIFF_EXTRA,   /* absent on the left, present on the right */
    JSONDIFF_LENGTH,  /* arrays of different lengths (common prefix compared by index) */
    JSONDIFF_ERROR,   /* a leg failed (field `error`) */
};

/* "value", "type", "missing", "extra", "length", "error". */
const char *jsondiff_kind_name(enum jsondiff_kind k);

struct jsondiff_entry {
    enum jsondiff_kind kind;
    const char *path;  /* exact: "$.items[3].price", "status", "header.etag", "body", "error" */
    const char *field; /* generalized: indices as [*] */
    /* RFC 6901 pointer a patch op uses ("" for the body root, ends in "/-" for an
     * element only the right side of an unordered array has); NULL outside the body. */
    const char *pointer;
    const cJSON *left;                      /* borrowed; NULL when absent (extra, error) */
    const cJSON *right;                     /* borrowed; NULL when absent (missing, error) */
    size_t left_len, right_len;             /* JSONDIFF_LENGTH: array lengths */
    enum leg_error left_error, right_error; /* JSONDIFF_ERROR */
    bool redacted; /* a redact rule covers the values (or part of them): mask before storing */
};

struct jsondiff;

/* A new, empty result; caller frees with jsondiff_free() (accepts NULL). */
struct jsondiff *jsondiff_new(void);
void jsondiff_free(struct jsondiff *d);

/* Compares two normalized responses (normalized with the same view): `error`
 * first (when a leg failed nothing else is compared; two legs failing the same
 * way are equal), then `status`, `header.*` by name, then the body. Applies
 * the view's tolerance, unordered and redact rules and counts their matches.
 * Replaces d's previous entries; returns how many differences were found. */
size_t jsondiff_responses(struct jsondiff *d, const struct rules_view *view,
                          const struct norm_response *left, const struct norm_response *right);

/* Compares two JSON trees as bodies (paths from `$`). view may be NULL. */
size_t jsondiff_trees(struct jsondiff *d, const struct rules_view *view, const cJSON *left,
                      const cJSON *right);

size_t jsondiff_count(const struct jsondiff *d);
/* The i-th difference (i < jsondiff_count()); borrowed from d. */
const struct jsondiff_entry *jsondiff_get(const struct jsondiff *d, size_t i);

/* Appends v as compact JSON: numbers in the shortest form that reads back the
 * same (integers without exponent below 1e21; infinities as 1e999), strings
 * escaped, object members in their order. */
void jsondiff_write_value(struct buf *out, const cJSON *v);
/* Appends one line per difference:
 * {"path":...,"field":...,"kind":...,"left":...,"right":...}\n
 * (left omitted for extra, right for missing; lengths for length; leg error
 * names or "ok" for error). Values are written as they are: mask redacted
 * entries before calling this for anything stored. */
void jsondiff_write_lines(const struct jsondiff *d, struct buf *out);
/* Appends an RFC 6902 JSON Patch (a JSON array, one op per line) that turns the
 * left body into the right one, as normalized (ignored fields are absent,
 * tolerated numbers and unordered arrays left as they are). Status and header
 * differences are not part of a body patch. */
void jsondiff_write_patch(const struct jsondiff *d, struct buf *out);

/* Applies an RFC 6902 patch limited to the ops jsondiff writes (add, remove,
 * replace) to *doc (which it may replace). Returns 0, or -1 with a message.
 * Exposed to check patches in tests and fuzzing. Borrows patch. */
int jsondiff_apply_patch(cJSON **doc, const cJSON *patch, char *err, size_t errlen);

#endif
