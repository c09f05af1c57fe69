/* Endpoint naming and section patterns. Everything on the request path works on
 * the caller's strings in place and writes into fixed buffers: no allocation. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

enum seg_type { SEG_LIT, SEG_PARAM, SEG_REST };

struct route_seg {
    enum seg_type type;
    const char *s; /* into pattern->text */
    size_t len;
};

struct route_pattern {
    bool all;
    bool any_method;
    char *text; /* normalized "METHOD /path" or "*" */
    size_t method_len;
    const char *path; /* into text */
    size_t nseg;
    struct route_seg *seg;
};

/* Bounded writer for the name buffer: cuts at a UTF-8 character boundary. */
struct out {
    char *p;
    size_t cap;
    size_t len;
    bool full;
};

/* Length of the valid UTF-8 character at s (at most n bytes), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* Appends s[0..n) to the name: control bytes and invalid UTF-8 become '?' (names
 * end up in JSON reports and logs), and a character that does not fit whole is
 * left out, ending the name. */
static void out_put(struct out *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (o->full || o->cap == 0)
        return;
    size_t i = 0;
    while (i < n) {
        size_t len = 1;
        unsigned char c = u[i];
        if (c >= 0x80)
            len = utf8_char(u + i, n - i);
        if (o->len + (len ? len : 1) > o->cap - 1) {
            o->full = true;
            break;
        }
        if (c < 0x20 || c == 0x7f || len == 0) {
            o->p[o->len++] = '?';
            i++;
            continue;
        }
        memcpy(o->p + o->len, s + i, len);
        o->len += len;
        i += len;
    }
    o->p[o->len] = '\0';
}

static bool is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool route_is_id_segment(const char *s, size_t n)
{
    if (n == 0)
        return false;
    size_t digits = 0, letters = 0, hex = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            letters++;
        else if (c != '-' && c != '_')
            other++;
        if (is_hex(c))
            hex++;
    }
    if (digits == n)
        return true;
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
        return true;
    if (n >= 16 && hex == n)
        return true;
    return n >= 20 && other == 0 && digits > 0 && letters > 0;
}

/* The path part of a request target: origin-form as is, absolute-form without
 * scheme and authority. Returns the start; *end stops at '?' or '#'. */
static const char *target_path(const char *target, const char **end)
{
    const char *p = target ? target : "";
    const char *scheme = strstr(p, "://");
    if (p[0] != '/' && scheme && scheme < p + 8) {
        p = scheme + 3;
        while (*p && *p != '/' && *p != '?' && *p != '#')
            p++;
    }
    const char *e = p;
    while (*e && *e != '?' && *e != '#')
        e++;
    *end = e;
    return p;
}

void route_template(const char *method, const char *target, char *buf, size_t buflen)
{
    struct out o = {.p = buf, .cap = buflen};
    if (buflen)
        buf[0] = '\0';
    out_put(&o, method ? method : "", method ? strlen(method) : 0);
    out_put(&o, " ", 1);
    const char *end;
    const char *p = target_path(target, &end);
    if (p == end) {
        out_put(&o, "/", 1);
        return;
    }
    if (*p != '/') {
        out_put(&o, p, (size_t)(end - p));
        return;
    }
    while (p < end) {
        out_put(&o, "/", 1);
        p++;
        const char *q = p;
        while (q < end && *q != '/')
            q++;
        if (route_is_id_segment(p, (size_t)(q - p)))
            out_put(&o, ":id", 3);
        else
            out_put(&o, p, (size_t)(q - p));
        p = q;
    }
}

static int pfail(size_t *errpos, size_t at, char *err, size_t errlen, const char *msg,
                 const char *tok, size_t toklen)
{
    if (errpos)
        *errpos = at;
    return errf(err, errlen, "%s \"%.*s\"", msg, (int)(toklen > 60 ? 60 : toklen), tok);
}

int route_pattern_parse(const char *text, size_t len, struct route_pattern **out, size_t *errpos,
                        char *err, size_t errlen)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    while (len > i && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (i == len)
        return pfail(errpos, i, err, errlen, "empty section pattern", "", 0);
    if (len - i == 1 && text[i] == '*') {
        struct route_pattern *p = xcalloc(1, sizeof(*p));
        p->all = true;
        p->text = xstrdup("*");
        *out = p;
        return 0;
    }
    size_t m0 = i;
    while (i < len && text[i] != ' ' && text[i] != '\t')
        i++;
    size_t mlen = i - m0;
    bool any = mlen == 1 && text[m0] == '*';
    for (size_t k = m0; k < i && !any; k++)
        if (!is_tchar((unsigned char)text[k]))
            return pfail(errpos, m0, err, errlen, "bad method in section pattern", text + m0, mlen);
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i == len)
        return pfail(errpos, m0, err, errlen, "section pattern needs METHOD /path or *, got",
                     text + m0, mlen);
    if (text[i] != '/')
        return pfail(errpos, i, err, errlen, "section path must start with /, got", text + i,
                     len - i);
    size_t p0 = i;
    for (size_t k = p0; k < len; k++) {
        unsigned char c = (unsigned char)text[k];
        if (c <= ' ' || c == '?' || c == '#' || c == 0x7f)
            return pfail(errpos, k, err, errlen, "bad character in section path", text + k, 1);
    }
    struct route_pattern *p = xcalloc(1, sizeof(*p));
    p->any_method = any;
    p->method_len = mlen;
    p->text = xasprintf("%.*s %.*s", (int)mlen, text + m0, (int)(len - p0), text + p0);
    p->path = p->text + mlen + 1;
    size_t nseg = 1;
    for (const char *c = p->path + 1; *c; c++)
        nseg += *c == '/';
    p->seg = xcalloc(nseg, sizeof(*p->seg));
    const char *s = p->path + 1;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        struct route_seg *g = &p->seg[p->nseg++];
        g->s = s;
        g->len = n;
        g->type = SEG_LIT;
        size_t at = p0 + (size_t)(s - p->path);
        if (n == 1 && s[0] == '*') {
            if (e) {
                route_pattern_free(p);
                return pfail(errpos, at, err, errlen, "* must be the last path segment, got",
                             text + at, len - at);
            }
            g->type = SEG_REST;
        } else if (n > 0 && s[0] == ':') {
            if (n == 1) {
                route_pattern_free(p);
                return pfail(errpos, at, err, errlen, "parameter without a name", ":", 1);
            }
            g->type = SEG_PARAM;
        } else if (memchr(s, '*', n)) {
            route_pattern_free(p);
            return pfail(errpos, at, err, errlen, "* must be a whole segment, got", s, n);
        }
        if (!e)
            break;
        s = e + 1;
    }
    *out = p;
    return 0;
}

void route_pattern_free(struct route_pattern *p)
{
    if (!p)
        return;
    free(p->seg);
    free(p->text);
    free(p);
}

const char *route_pattern_text(const struct route_pattern *p)
{
    return p->text;
}

bool route_pattern_is_all(const struct route_pattern *p)
{
    return p->all;
}

bool route_pattern_any_method(const struct route_pattern *p)
{
    return p->any_method;
}

static bool match_path(const struct route_pattern *p, const char *path, const char *end)
{
    if (path >= end || *path != '/')
        return false;
    const char *s = path + 1;
    bool more = true;
    for (size_t i = 0; i < p->nseg; i++) {
        const struct route_seg *g = &p->seg[i];
        if (!more)
            return false;
        if (g->type == SEG_REST)
            return true;
        const char *q = s;
        while (q < end && *q != '/')
            q++;
        size_t n = (size_t)(q - s);
        if (g->type == SEG_PARAM && n == 0)
            return false;
        if (g->type == SEG_LIT && (n != g->len || memcmp(s, g->s, n) != 0))
            return false;
        if (q == end)
            more = false;
        else
            s = q + 1;
    }
    return !more;
}

static bool match_method(const struct route_pattern *p, const char *method, size_t mlen)
{
    return p->any_method || (mlen == p->method_len && memcmp(method, p->text, mlen) == 0);
}

bool route_pattern_match(const struct route_pattern *p, const char *method, const char *target)
{
    if (p->all)
        return true;
    if (!method || !match_method(p, method, strlen(method)))
        return false;
    const char *end;
    const char *path = target_path(target, &end);
    return match_path(p, path, end);
}

bool route_pattern_match_name(const struct route_pattern *p, const char *name)
{
    if (p->all)
        return true;
    const char *sp = strchr(name, ' ');
    if (!sp || sp[1] != '/')
        return false;
    if (!match_method(p, name, (size_t)(sp - name)))
        return false;
    const char *path = sp + 1;
    return match_path(p, path, path + strlen(path));
}

static void add_strip(struct route_result *out, const char *name)
{
    for (size_t i = 0; i < out->nstrip; i++)
        if (strcmp(out->strip[i], name) == 0)
            return;
    if (out->nstrip < ROUTE_MAX_STRIP)
        out->strip[out->nstrip++] = name;
}

static void apply_routing_rules(struct route_result *out)
{
    for (size_t s = 0; s < out->view.nsec; s++) {
        const struct rules_section *sec = out->view.sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            switch (rule->kind) {
            case RULE_SKIP:
                out->skip = true;
                rules_count(rule, 1);
                break;
            case RULE_SAMPLE:
                out->sample = rule->number;
                rules_count(rule, 1);
                break;
            case RULE_STRIP_REQUEST_HEADER:
                for (size_t a = 0; a < rule->nargs; a++)
                    add_strip(out, rule->args[a].name);
                rules_count(rule, 1);
                break;
            default:
                break;
            }
        }
    }
}

void route_resolve(const struct ruleset *rs, const char *method, const char *target,
                   const char *canonical_resource, struct route_result *out)
{
    out->name[0] = '\0';
    out->skip = false;
    out->sample = -1;
    out->nstrip = 0;
    out->view.rs = rs;
    out->view.nsec = 0;
    struct out o = {.p = out->name, .cap = sizeof(out->name)};

    if (canonical_resource) {
        const char *c = canonical_resource;
        size_t n = strlen(c);
        while (n && (*c == ' ' || *c == '\t')) {
            c++;
            n--;
        }
        while (n && (c[n - 1] == ' ' || c[n - 1] == '\t'))
            n--;
        if (n) {
            out_put(&o, c, n);
            rules_view_for_endpoint(rs, out->name, &out->view);
            apply_routing_rules(out);
            return;
        }
    }
    size_t nsec = rs ? rules_section_count(rs) : 0;
    for (size_t i = 0; i < nsec; i++) {
        const struct rules_section *sec = rules_section_at(rs, i);
        if (!sec->pattern || sec->pattern->all ||
            !route_pattern_match(sec->pattern, method, target))
            continue;
        if (sec->pattern->any_method) {
            out_put(&o, method, strlen(method));
            out_put(&o, " ", 1);
            out_put(&o, sec->pattern->path, strlen(sec->pattern->path));
            rules_view_for_endpoint(rs, out->name, &out->view);
        } else {
            out_put(&o, sec->pattern->text, strlen(sec->pattern->text));
            rules_view_for_section(rs, i, &out->view);
        }
        apply_routing_rules(out);
        return;
    }
    route_template(method ? method : "", target, out->name, sizeof(out->name));
    rules_view_for_endpoint(rs, out->name, &out->view);
    apply_routing_rules(out);
}
