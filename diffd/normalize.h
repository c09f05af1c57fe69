/* Normalization (DESIGN §5): a response (status, headers, body) becomes the
 * comparable form that jsondiff walks: `status`, `header.<lowercase-name>` and
 * a body that is a JSON tree, a text string or a binary length+hash. gzip and
 * deflate bodies are decoded first; the endpoint's ignore/ignore-header/replace
 * rules are applied here. Also the masking of responses for storage (redact).
 *
 * Every compared value is a cJSON node so one diff walk serves all fields. A
 * norm_response owns all of its nodes and strings; normalize_free() releases
 * them (status and header nodes live in blocks, the body's tree in an arena of
 * its own: never cJSON_Delete() any of them, nor add or detach nodes; copy
 * with cJSON_Duplicate() to change one).
 *
 * The arena: while a body is parsed and its rules applied, cJSON's allocator
 * hooks (installed by this module at program start, see
 * normalize_install_hooks()) take memory from chunks that belong to the
 * norm_response, and normalize_free() releases the chunks instead of freeing
 * node by node; elsewhere the hooks are malloc() and free(). Parsing an
 * 870-byte body makes 137 allocations; the arena took `make bench-diff` at
 * 1 KB from 69,000-75,000 to 84,000-87,500 trials/s (README, Performance).
 * A norm_response may be copied by value (no pointer into itself). Thread-safe: several threads may
 * normalize with the same sealed ruleset at once. */
#ifndef DIFFD_NORMALIZE_H
#define DIFFD_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "rules.h"

#define NORMALIZE_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define NORMALIZE_REDACTED "[REDACTED]"

enum norm_body {
    NORM_BODY_NONE,   /* empty body, or removed by `ignore body` */
    NORM_BODY_JSON,   /* body is a JSON tree (paths `$...`) */
    NORM_BODY_TEXT,   /* body is a string node holding the text (field `body`) */
    NORM_BODY_BINARY, /* body is a string node "<binary N bytes hash H>" (field `body`) */
};

struct norm_header {
    const char *name; /* lowercase; the field is "header.<name>" */
    cJSON *value;     /* string node; repeated headers joined with ", " */
};

struct norm_response {
    enum leg_error error;        /* LEG_OK, or why the leg failed (nothing else is then set) */
    cJSON *status;               /* number node, or NULL when `ignore status` applies */
    struct norm_header *headers; /* sorted by name, one per name */
    size_t nheaders;
    enum norm_body body_kind;
    cJSON *body;      /* see enum norm_body; NULL for NORM_BODY_NONE */
    size_t body_len;  /* decoded length in bytes */
    bool oversized;   /* decoded body over max_body: compared by length+hash only */
    bool undecodable; /* Content-Encoding could not be decoded: raw bytes compared */
    /* Storage behind status and headers (one block each, not per node). */
    cJSON *nodes_;
    char *strings_;
    struct norm_chunk *arena_; /* storage behind body: NULL when it was malloc()ed */
};

struct normalize_opts {
    size_t max_body; /* 0 means NORMALIZE_DEFAULT_MAX_BODY */
};

/* Installs the cJSON allocator hooks behind the body arenas (see above).
 * Done once before main() runs; call again only after cJSON_InitHooks(NULL)
 * (the benchmark measures plain cJSON that way), never while another thread
 * uses cJSON or a norm_response made under other hooks is alive. */
void normalize_install_hooks(void);

/* Normalizes one response with the rules of view (NULL or empty: no rules).
 * Borrows view, resp and opts (opts may be NULL); fills *out, which the caller
 * releases with normalize_free(). A leg that failed (resp->error != LEG_OK)
 * gives a norm_response with only `error` set. Never fails: a body that cannot
 * be decoded or parsed falls back to text or binary. */
void normalize_response(const struct rules_view *view, const struct http_response *resp,
                        const struct normalize_opts *opts, struct norm_response *out);

/* Releases what *n owns and zeroes it. Accepts a zeroed struct. */
void normalize_free(struct norm_response *n);

/* Masks a response for storage (samples, logs, dashboard, reports): headers
 * named by `redact-header` get the value NORMALIZE_REDACTED; values at
 * `redact` JSON paths become that string (the body is decoded and re-encoded
 * as compact JSON, Content-Encoding removed and Content-Length updated);
 * `redact body` replaces a whole body. Modifies resp in place; returns the
 * number of values masked. */
size_t normalize_redact(const struct rules_view *view, struct http_response *resp, size_t max_body);

/* Decodes a gzip/x-gzip/deflate body into *out (reset first), writing at most
 * max_body bytes. Returns 1 when decoded, 0 when the encoding is identity or
 * empty (out untouched), -1 when undecodable or unknown, -2 when the decoded
 * size exceeds max_body. Exposed for tests and tools. */
int normalize_decode(const char *encoding, const char *data, size_t len, size_t max_body,
                     struct buf *out);

#endif
