/* Fuzz target: JSONPath parsing and matching. The input's first line is a
 * path; if it parses, it is matched against exact paths built from the rest of
 * the input, and every name it holds must survive the writer: written back
 * in normalized form, it parses again and matches itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t plen = nl ? (size_t)(nl - s) : size;
    struct jsonpath *p = NULL;
    char err[128];
    size_t pos = 0;
    if (jsonpath_parse(s, plen, size & 1, &p, &pos, err, sizeof(err)) != 0) {
        if (pos > plen || p)
            abort();
        return 0;
    }
    /* Exact paths: each byte of the rest is an index (< 16) or a 1-byte name. */
    struct jsonpath_elem elems[64];
    size_t n = 0;
    const char *rest = nl ? nl + 1 : s + size;
    for (const char *c = rest; c < s + size && n < 64; c++) {
        unsigned char b = (unsigned char)*c;
        elems[n++] = b < 16 ? (struct jsonpath_elem){.index = b, .is_index = true}
                            : (struct jsonpath_elem){.name = c, .len = 1};
    }
    uint64_t st = jsonpath_start(p);
    for (size_t i = 0; i < n; i++) {
        bool whole = jsonpath_match(p, elems, i + 1);
        st = jsonpath_step(p, st, &elems[i]);
        if (whole != jsonpath_state_matches(p, st))
            abort();
    }
    /* Names and indices written by the writer parse back to themselves. */
    for (size_t i = 0; i < p->nseg; i++) {
        const struct jsonpath_seg *g = &p->seg[i];
        if (g->sel == JSONPATH_WILDCARD || memchr(g->name ? g->name : "", '\0', g->name_len))
            continue;
        struct jsonpath_elem e = g->sel == JSONPATH_INDEX
                                     ? (struct jsonpath_elem){.index = g->index, .is_index = true}
                                     : (struct jsonpath_elem){.name = g->name, .len = g->name_len};
        struct buf b = {0};
        buf_puts(&b, "$");
        jsonpath_append_elem(&b, &e, false);
        struct jsonpath *q = NULL;
        if (jsonpath_parse(b.data, b.len, false, &q, NULL, err, sizeof(err)) != 0 ||
            !jsonpath_match(q, &e, 1))
            abort();
        jsonpath_free(q);
        buf_free(&b);
    }
    jsonpath_free(p);
    return 0;
}
