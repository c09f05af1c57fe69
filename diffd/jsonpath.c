/* JSONPath subset of RFC 9535 for rule files: parser, incremental matcher and
 * the writers of normalized exact paths and JSON Pointers. */
#include "jsonpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    struct jsonpath_seg seg[JSONPATH_MAX_SEGMENTS];
    size_t name_off[JSONPATH_MAX_SEGMENTS];
    size_t nseg;
    struct buf names; /* unescaped names, back to back; offsets in name_off */
    size_t *errpos;
    char *err;
    size_t errlen;
};

static int fail(struct parser *p, size_t at, const char *msg)
{
    *p->errpos = at;
    if (at < p->len)
        return errf(p->err, p->errlen, "%s at \"%c\"", msg, p->s[at]);
    return errf(p->err, p->errlen, "%s at end of path", msg);
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* RFC 9535 name-first / name-char, accepting any non-ASCII byte (UTF-8). */
static bool is_name_first(int c)
{
    return is_alpha(c) || c >= 0x80;
}

static bool is_name_char(int c)
{
    return is_name_first(c) || is_digit(c);
}

static int add_seg(struct parser *p, size_t at, enum jsonpath_sel sel, bool desc)
{
    if (p->nseg == JSONPATH_MAX_SEGMENTS)
        return fail(p, at, "path has more than 63 segments");
    struct jsonpath_seg *g = &p->seg[p->nseg];
    memset(g, 0, sizeof(*g));
    g->sel = sel;
    g->descendant = desc;
    p->name_off[p->nseg] = p->names.len;
    p->nseg++;
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xc0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        t[0] = (char)(0xf0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, t, n);
}

/* A quoted member name: '...' or "..." with JSON-style escapes. */
static int parse_quoted(struct parser *p)
{
    char q = p->s[p->pos++];
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, p->pos, "unterminated quoted name");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == (unsigned char)q) {
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail(p, p->pos, "control character in quoted name");
        if (c != '\\') {
            buf_append(&p->names, &p->s[p->pos++], 1);
            continue;
        }
        size_t at = p->pos++;
        if (p->pos >= p->len)
            return fail(p, at, "unterminated escape");
        char e = p->s[p->pos++];
        char out;
        switch (e) {
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case '/':
        case '\\':
        case '\'':
        case '"':
            out = e;
            break;
        case 'u': {
            unsigned cp, lo;
            if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) == -1)
                return fail(p, at, "bad \\u escape");
            p->pos += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, at, "unpaired surrogate in \\u escape");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return fail(p, at, "unpaired surrogate in \\u escape");
            }
            put_utf8(&p->names, cp);
            continue;
        }
        default:
            return fail(p, at + 1, "unknown escape");
        }
        buf_append(&p->names, &out, 1);
    }
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

static int parse_bracket(struct parser *p, bool desc)
{
    size_t open = p->pos++;
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, open, "unclosed [");
    char c = p->s[p->pos];
    if (c == '\'' || c == '"') {
        if (add_seg(p, p->pos, JSONPATH_NAME, desc) == -1)
            return -1;
        if (parse_quoted(p) == -1)
            return -1;
    } else if (c == '*') {
        if (add_seg(p, p->pos, JSONPATH_WILDCARD, desc) == -1)
            return -1;
        p->pos++;
    } else if (c == '-') {
        return fail(p, p->pos, "negative indices are not supported");
    } else if (is_digit(c)) {
        size_t at = p->pos;
        if (add_seg(p, at, JSONPATH_INDEX, desc) == -1)
            return -1;
        if (c == '0' && p->pos + 1 < p->len && is_digit(p->s[p->pos + 1]))
            return fail(p, at, "index with a leading zero");
        size_t v = 0;
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            if (v > 999999999u)
                return fail(p, at, "index too large");
            v = v * 10 + (size_t)(p->s[p->pos] - '0');
            p->pos++;
        }
        p->seg[p->nseg - 1].index = v;
    } else {
        return fail(p, p->pos, "expected a quoted name, an index or * inside []");
    }
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',')
        return fail(p, p->pos, "unions are not supported");
    if (p->pos < p->len && p->s[p->pos] == ':')
        return fail(p, p->pos, "slices are not supported");
    if (p->pos >= p->len || p->s[p->pos] != ']')
        return fail(p, p->pos, "expected ]");
    p->pos++;
    return 0;
}

/* After `.` or `..`: a shorthand name or `*`. */
static int parse_shorthand(struct parser *p, bool desc)
{
    if (p->pos < p->len && p->s[p->pos] == '*') {
        p->pos++;
        return add_seg(p, p->pos - 1, JSONPATH_WILDCARD, desc);
    }
    if (p->pos >= p->len || !is_name_first((unsigned char)p->s[p->pos]))
        return fail(p, p->pos, "expected a member name (use ['...'] for other names)");
    if (add_seg(p, p->pos, JSONPATH_NAME, desc) == -1)
        return -1;
    size_t start = p->pos;
    while (p->pos < p->len && is_name_char((unsigned char)p->s[p->pos]))
        p->pos++;
    buf_append(&p->names, p->s + start, p->pos - start);
    return 0;
}

int jsonpath_parse(const char *text, size_t len, bool allow_relative, struct jsonpath **out,
                   size_t *errpos, char *err, size_t errlen)
{
    size_t dummy;
    struct parser p = {
        .s = text, .len = len, .errpos = errpos ? errpos : &dummy, .err = err, .errlen = errlen};
    *out = NULL;
    if (len == 0 || (text[0] != '$' && !(allow_relative && text[0] == '@')))
        return fail(&p, 0,
                    allow_relative ? "path must start with $ or @" : "path must start with $");
    p.pos = 1;
    while (p.pos < len) {
        char c = text[p.pos];
        int rc;
        if (c == '.' && p.pos + 1 < len && text[p.pos + 1] == '.') {
            p.pos += 2;
            if (p.pos < len && text[p.pos] == '[')
                rc = parse_bracket(&p, true);
            else
                rc = parse_shorthand(&p, true);
        } else if (c == '.') {
            p.pos++;
            rc = parse_shorthand(&p, false);
        } else if (c == '[') {
            rc = parse_bracket(&p, false);
        } else if (c == '?' || c == '(') {
            rc = fail(&p, p.pos, "filters and expressions are not supported");
        } else {
            rc = fail(&p, p.pos, "unexpected character");
        }
        if (rc == -1) {
            buf_free(&p.names);
            return -1;
        }
    }
    struct jsonpath *jp = xcalloc(1, sizeof(*jp));
    jp->nseg = p.nseg;
    jp->seg = xcalloc(p.nseg ? p.nseg : 1, sizeof(*jp->seg));
    size_t textlen = len;
    /* Text and names share one allocation; names are pointed into it. */
    jp->text = xmalloc(textlen + 1 + p.names.len + 1);
    memcpy(jp->text, text, textlen);
    jp->text[textlen] = '\0';
    char *names = jp->text + textlen + 1;
    if (p.names.len)
        memcpy(names, p.names.data, p.names.len);
    names[p.names.len] = '\0';
    for (size_t i = 0; i < p.nseg; i++) {
        jp->seg[i] = p.seg[i];
        if (jp->seg[i].sel == JSONPATH_NAME) {
            size_t end = i + 1 < p.nseg ? p.name_off[i + 1] : p.names.len;
            jp->seg[i].name = names + p.name_off[i];
            jp->seg[i].name_len = end - p.name_off[i];
        }
    }
    buf_free(&p.names);
    *out = jp;
    return 0;
}

void jsonpath_free(struct jsonpath *p)
{
    if (!p)
        return;
    free(p->seg);
    free(p->text);
    free(p);
}

bool jsonpath_is_singular(const struct jsonpath *p)
{
    for (size_t i = 0; i < p->nseg; i++)
        if (p->seg[i].descendant || p->seg[i].sel == JSONPATH_WILDCARD)
            return false;
    return true;
}

uint64_t jsonpath_start(const struct jsonpath *p)
{
    (void)p;
    return 1;
}

bool jsonpath_state_matches(const struct jsonpath *p, uint64_t state)
{
    return (state >> p->nseg) & 1;
}

bool jsonpath_state_needs_node(const struct jsonpath *p, uint64_t state)
{
    /* Names, indices and wildcards are decided by the step alone. */
    (void)p;
    (void)state;
    return false;
}

bool jsonpath_match(const struct jsonpath *p, const struct jsonpath_elem *path, size_t n)
{
    uint64_t s = jsonpath_start(p);
    for (size_t i = 0; i < n && s; i++)
        s = jsonpath_step(p, s, &path[i]);
    return jsonpath_state_matches(p, s);
}

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !is_alpha((unsigned char)s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]))
            return false;
    return true;
}

/* Appends pre, the decimal digits of v, then post (no printf: hot when many
 * differences are written). */
static void append_index(struct buf *b, char pre, size_t v, char post)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    if (post)
        tmp[--n] = post;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--n] = pre;
    buf_append(b, tmp + n, sizeof(tmp) - n);
}

void jsonpath_append_elem(struct buf *b, const struct jsonpath_elem *e, bool generalize)
{
    if (e->is_index) {
        if (generalize)
            buf_append(b, "[*]", 3);
        else
            append_index(b, '[', e->index, ']');
        return;
    }
    if (is_identifier(e->name, e->len)) {
        buf_reserve(b, e->len + 1);
        b->data[b->len++] = '.';
        memcpy(b->data + b->len, e->name, e->len);
        b->len += e->len;
        b->data[b->len] = '\0';
        return;
    }
    buf_append(b, "['", 2);
    size_t run = 0;
    for (size_t i = 0; i < e->len; i++) {
        unsigned char c = (unsigned char)e->name[i];
        if (c >= 0x20 && c != '\'' && c != '\\') {
            run++;
            continue;
        }
        buf_append(b, e->name + i - run, run);
        run = 0;
        switch (c) {
        case '\'':
            buf_append(b, "\\'", 2);
            break;
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\b':
            buf_append(b, "\\b", 2);
            break;
        case '\f':
            buf_append(b, "\\f", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        default:
            buf_printf(b, "\\u%04x", c);
            break;
        }
    }
    buf_append(b, e->name + e->len - run, run);
    buf_append(b, "']", 2);
}

void jsonpath_append_pointer(struct buf *b, const struct jsonpath_elem *e)
{
    if (e->is_index) {
        append_index(b, '/', e->index, 0);
        return;
    }
    buf_append(b, "/", 1);
    size_t run = 0;
    for (size_t i = 0; i < e->len; i++) {
        char c = e->name[i];
        if (c != '~' && c != '/') {
            run++;
            continue;
        }
        buf_append(b, e->name + i - run, run);
        run = 0;
        buf_append(b, c == '~' ? "~0" : "~1", 2);
    }
    buf_append(b, e->name + e->len - run, run);
}
