/* JSONPath for rule files: the RFC 9535 subset of DESIGN §4 ($.a.b, $['odd key'],
 * $.a[3], $.a[*].b, $..b). A path is parsed once and matched against the exact
 * path of a node, one step at a time during a tree walk, without allocating. */
#ifndef DIFFD_JSONPATH_H
#define DIFFD_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Matching runs a small NFA whose states are segment positions, kept in a
 * 64-bit mask: hence the limit on segments. */
#define JSONPATH_MAX_SEGMENTS 63

enum jsonpath_sel {
    JSONPATH_NAME,     /* .name or ['name'] */
    JSONPATH_INDEX,    /* [3] */
    JSONPATH_WILDCARD, /* .* or [*] */
};

struct jsonpath_seg {
    enum jsonpath_sel sel;
    bool descendant;  /* reached with `..`: any depth below, not only a child */
    const char *name; /* JSONPATH_NAME: unescaped bytes (may hold NUL), name_len long */
    size_t name_len;
    size_t index; /* JSONPATH_INDEX */
};

/* A parsed path. Fields are read-only for users; free with jsonpath_free(). */
struct jsonpath {
    size_t nseg;
    struct jsonpath_seg *seg;
    char *text; /* the source text, NUL-terminated */
};

struct cJSON;

/* One step of an exact path: an object member (name, len; name need not be
 * NUL-terminated) or an array index. Optional context, for selectors that
 * look at values or at the array's length (filters `[?...]`, negative indices,
 * slices): node is the value being stepped into and array_len the length of
 * the array an index step is in; NULL / 0 when the walker does not know them
 * (a walker that lacks them asks jsonpath_state_needs_node() first). */
struct jsonpath_elem {
    const char *name;
    size_t len;
    size_t index;
    bool is_index;
    const struct cJSON *node;
    size_t array_len;
};

/* Parses text[0..len) as a path starting with `$` (or `@` when allow_relative,
 * for keys relative to an array element). On success *out is a new path
 * (caller frees with jsonpath_free()) and 0 is returned. On error returns -1,
 * sets *errpos to the byte offset of the offending character and writes a
 * message naming it into err. Rejects negative indices, slices, filters and
 * more than JSONPATH_MAX_SEGMENTS segments. */
int jsonpath_parse(const char *text, size_t len, bool allow_relative, struct jsonpath **out,
                   size_t *errpos, char *err, size_t errlen);
/* Accepts NULL. */
void jsonpath_free(struct jsonpath *p);

/* True when the path names at most one node (no wildcard, no `..`). */
bool jsonpath_is_singular(const struct jsonpath *p);

/* Incremental matching. A state is what is known after the steps so far:
 * start with jsonpath_start(), feed each step of the exact path with
 * jsonpath_step(). jsonpath_state_matches() says whether the path seen so far
 * is matched; a state of 0 means no longer path can match either, so a walk
 * can stop stepping that subtree. */
uint64_t jsonpath_start(const struct jsonpath *p);
static inline uint64_t jsonpath_step(const struct jsonpath *p, uint64_t state,
                                     const struct jsonpath_elem *e);
bool jsonpath_state_matches(const struct jsonpath *p, uint64_t state);
/* True when the next step from state can only be decided with the elem's node
 * or array_len (a filter, a negative index or a slice is live in state). A
 * streaming walker that has neither builds the subtree first. */
bool jsonpath_state_needs_node(const struct jsonpath *p, uint64_t state);

/* Whole-path convenience over the three functions above. Borrows everything. */
bool jsonpath_match(const struct jsonpath *p, const struct jsonpath_elem *path, size_t n);

/* Appends one step in normalized form: `.name` when name is an ASCII
 * identifier, `['...']` otherwise (escaped as RFC 9535 normalized paths do),
 * `[3]` for an index, or `[*]` for an index when generalize is set. */
void jsonpath_append_elem(struct buf *b, const struct jsonpath_elem *e, bool generalize);
/* Appends one step as an RFC 6901 JSON Pointer token: `/name` (~ and / escaped)
 * or `/3`. */
void jsonpath_append_pointer(struct buf *b, const struct jsonpath_elem *e);

/* Inline: it runs once per node and rule during every walk. */
static inline uint64_t jsonpath_step(const struct jsonpath *p, uint64_t state,
                                     const struct jsonpath_elem *e)
{
    uint64_t next = 0;
    /* Bit nseg (matched) has no outgoing transition: a longer path does not match. */
    state &= ((uint64_t)1 << p->nseg) - 1;
    while (state) {
        unsigned i = (unsigned)__builtin_ctzll(state);
        state &= state - 1;
        const struct jsonpath_seg *g = &p->seg[i];
        if (g->descendant)
            next |= (uint64_t)1 << i;
        bool hit;
        switch (g->sel) {
        case JSONPATH_WILDCARD:
            hit = true;
            break;
        case JSONPATH_INDEX:
            hit = e->is_index && e->index == g->index;
            break;
        default:
            hit = !e->is_index && e->len == g->name_len &&
                  (e->len == 0 ||
                   (e->name[0] == g->name[0] && memcmp(e->name, g->name, e->len) == 0));
            break;
        }
        if (hit)
            next |= (uint64_t)1 << (i + 1);
    }
    return next;
}

#endif
