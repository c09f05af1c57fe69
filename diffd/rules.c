/* Rule files: the line-oriented parser and linter of DESIGN §4, section lookup
 * for an endpoint, `replace` through PCRE2 (JIT) and the per-rule counters.
 *
 * A file is parsed line by line. A line is a `[PATTERN]` section header or a
 * directive followed by arguments. Arguments are separated by blanks, except
 * that blanks inside quotes or brackets do not split (so `$['odd key']` is one
 * argument), a `replace` regex runs from `/` to the next unescaped `/`, and a
 * whole argument in double quotes is unquoted (`""` is an empty replacement).
 * `#` starts a comment where an argument could start. Every error is recorded
 * with its file, line and column; parsing goes on to report the next ones. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "route.h"

struct ruleset {
    char **files;
    size_t nfiles;
    struct rule **rules;
    size_t nrules;
    struct rules_section **secs;
    size_t nsecs;
    struct rules_view *secview; /* per section, from rules_finish(); nsec 0 when unused */
    char **errors;
    size_t nerrors;
    bool finished;
};

#define MAX_TOKENS 64

struct tok {
    const char *s; /* raw text in the line */
    size_t len;
    size_t col; /* 1-based */
    char *val;  /* unquoted value when quoted, else NULL */
};

struct lineparse {
    struct ruleset *rs;
    const char *file;
    unsigned line;
    struct rules_section *sec;
    bool bad_section; /* the last section header had an error: check, do not keep */
    size_t errors_before;
};

static void *grow(void *v, size_t n, size_t size)
{
    /* Arrays grow by powers of two: reallocate when n reaches one. */
    if (n == 0 || (n & (n - 1)) == 0)
        return xrealloc(v, (n ? n * 2 : 4) * size);
    return v;
}

static void record_error(struct lineparse *lp, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void record_error(struct lineparse *lp, size_t col, const char *fmt, ...)
{
    struct buf b = {0};
    buf_printf(&b, "%s:%u:%zu: ", lp->file, lp->line, col);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    struct ruleset *rs = lp->rs;
    rs->errors = grow(rs->errors, rs->nerrors, sizeof(*rs->errors));
    rs->errors[rs->nerrors++] = buf_steal(&b);
}

static void record_plain_error(struct ruleset *rs, const char *msg)
{
    rs->errors = grow(rs->errors, rs->nerrors, sizeof(*rs->errors));
    rs->errors[rs->nerrors++] = xstrdup(msg);
}

/* Token text for messages: at most 60 bytes, control bytes shown as '?'. */
static const char *show(const struct tok *t, char *out, size_t outlen)
{
    size_t n = t->len < 60 ? t->len : 60;
    if (n >= outlen)
        n = outlen - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t->s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    out[n] = '\0';
    return out;
}

struct ruleset *rules_new(void)
{
    return xcalloc(1, sizeof(struct ruleset));
}

static void rule_free(struct rule *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nargs; i++) {
        jsonpath_free(r->args[i].path);
        free(r->args[i].name);
    }
    free(r->args);
    pcre2_code_free(r->re);
    free(r->subst);
    free(r->replacement);
    jsonpath_free(r->key);
    free(r->text);
    free(r);
}

void rules_free(struct ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->nsecs; i++) {
        route_pattern_free(rs->secs[i]->pattern);
        free(rs->secs[i]->rules);
        free(rs->secs[i]);
    }
    free(rs->secs);
    free(rs->secview);
    for (size_t i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    for (size_t i = 0; i < rs->nerrors; i++)
        free(rs->errors[i]);
    free(rs->errors);
    free(rs);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A double-quoted argument: returns its unescaped value or NULL on error
 * (*bad is the offset of the problem). \" \\ \n \t \r are the escapes. */
static char *unquote(const char *s, size_t len, size_t *bad)
{
    struct buf b = {0};
    buf_reserve(&b, len);
    for (size_t i = 1; i + 1 < len; i++) {
        char c = s[i];
        if (c == '\\') {
            char e = s[++i];
            if (i + 1 >= len) {
                *bad = i;
                buf_free(&b);
                return NULL;
            }
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
            if (!strchr("nrt\\\"", e)) {
                *bad = i - 1;
                buf_free(&b);
                return NULL;
            }
        }
        buf_append(&b, &c, 1);
    }
    buf_append(&b, "", 0); /* terminates an empty value too */
    return buf_steal(&b);
}

/* Frees the values of the first n tokens after an error; returns -1. */
static int untokenize(struct tok *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(toks[i].val);
        toks[i].val = NULL;
    }
    return -1;
}

/* Splits a directive line into tokens. Token regex_at_for_replace of a
 * `replace` line is a /regex/flags. Returns the count, or -1 on error
 * (recorded, and no token value left allocated). */
static int tokenize(struct lineparse *lp, const char *line, size_t len, struct tok *toks,
                    size_t regex_at_for_replace)
{
    size_t n = 0, i = 0;
    bool is_replace = false;
    for (;;) {
        while (i < len && is_blank(line[i]))
            i++;
        if (i >= len || line[i] == '#')
            break;
        if (n == MAX_TOKENS) {
            record_error(lp, i + 1, "too many arguments (at most %d)", MAX_TOKENS - 1);
            return untokenize(toks, n);
        }
        struct tok *t = &toks[n];
        t->s = line + i;
        t->col = i + 1;
        t->val = NULL;
        size_t start = i;
        if (is_replace && n == regex_at_for_replace && line[i] == '/') {
            i++;
            while (i < len && line[i] != '/') {
                if (line[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            if (i >= len) {
                record_error(lp, start + 1, "unterminated regex (missing closing /)");
                return untokenize(toks, n);
            }
            i++;
            while (i < len && !is_blank(line[i]))
                i++;
        } else if (line[i] == '"') {
            i++;
            while (i < len && line[i] != '"') {
                if (line[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            if (i >= len) {
                record_error(lp, start + 1, "unterminated quoted string");
                return untokenize(toks, n);
            }
            i++;
            if (i < len && !is_blank(line[i])) {
                record_error(lp, i + 1, "expected a blank after the closing quote");
                return untokenize(toks, n);
            }
            size_t bad = 0;
            t->val = unquote(line + start, i - start, &bad);
            if (!t->val) {
                record_error(lp, start + bad + 1, "bad escape in quoted string");
                return untokenize(toks, n);
            }
        } else {
            char quote = 0;
            int depth = 0;
            while (i < len && (quote || depth > 0 || !is_blank(line[i]))) {
                char c = line[i];
                if (quote) {
                    if (c == '\\' && i + 1 < len)
                        i++;
                    else if (c == quote)
                        quote = 0;
                } else if (c == '\'' || c == '"') {
                    quote = c;
                } else if (c == '[') {
                    depth++;
                } else if (c == ']' && depth > 0) {
                    depth--;
                }
                i++;
            }
            if (quote) {
                record_error(lp, start + 1, "unterminated quote in \"%.*s\"",
                             (int)((i - start) > 60 ? 60 : i - start), line + start);
                return untokenize(toks, n);
            }
        }
        t->len = i - start;
        if (n == 0)
            is_replace = t->len == 7 && memcmp(t->s, "replace", 7) == 0;
        n++;
    }
    return (int)n;
}

static const char *tok_value(const struct tok *t, size_t *len)
{
    if (t->val) {
        *len = strlen(t->val);
        return t->val;
    }
    *len = t->len;
    return t->s;
}

static bool tok_is(const struct tok *t, const char *s)
{
    return !t->val && t->len == strlen(s) && memcmp(t->s, s, t->len) == 0;
}

static char *lower_dup(const char *s, size_t n)
{
    char *p = xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 'A' && p[i] <= 'Z')
            p[i] = (char)(p[i] + 32);
    return p;
}

static int parse_header_name(struct lineparse *lp, const struct tok *t, char **out)
{
    size_t n;
    const char *s = tok_value(t, &n);
    char tmp[64];
    if (n == 0) {
        record_error(lp, t->col, "empty header name");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i])) {
            record_error(lp, t->col, "bad header name \"%s\"", show(t, tmp, sizeof(tmp)));
            return -1;
        }
    *out = lower_dup(s, n);
    return 0;
}

enum { ALLOW_BODY = 1, ALLOW_STATUS = 2, ALLOW_HEADER = 4 };

static int parse_path(struct lineparse *lp, const struct tok *t, unsigned allow,
                      struct rule_arg *arg)
{
    char tmp[64];
    size_t n;
    const char *s = tok_value(t, &n);
    memset(arg, 0, sizeof(*arg));
    if ((allow & ALLOW_BODY) && n == 4 && memcmp(s, "body", 4) == 0) {
        arg->target = RULE_TARGET_BODY;
        return 0;
    }
    if ((allow & ALLOW_STATUS) && n == 6 && memcmp(s, "status", 6) == 0) {
        arg->target = RULE_TARGET_STATUS;
        return 0;
    }
    if ((allow & ALLOW_HEADER) && n > 7 && memcmp(s, "header.", 7) == 0) {
        struct tok h = {.s = s + 7, .len = n - 7, .col = t->col + 7};
        arg->target = RULE_TARGET_HEADER;
        return parse_header_name(lp, &h, &arg->name);
    }
    if (n == 0 || s[0] != '$') {
        const char *also = (allow & ALLOW_HEADER) ? ", body, header.NAME"
                           : (allow & ALLOW_BODY) ? " or body"
                                                  : "";
        record_error(lp, t->col, "bad path \"%s\": expected a JSONPath starting with $%s",
                     show(t, tmp, sizeof(tmp)), also);
        return -1;
    }
    char msg[128];
    size_t pos = 0;
    arg->target = RULE_TARGET_JSON;
    if (jsonpath_parse(s, n, false, &arg->path, &pos, msg, sizeof(msg)) == -1) {
        record_error(lp, t->val ? t->col : t->col + pos, "bad path \"%s\": %s",
                     show(t, tmp, sizeof(tmp)), msg);
        return -1;
    }
    return 0;
}

/* A non-negative finite number, optionally followed by %. */
static int parse_number(struct lineparse *lp, const struct tok *t, bool allow_pct, double *out,
                        bool *pct)
{
    char tmp[64];
    char num[64];
    size_t n = t->len;
    *pct = false;
    if (n > 0 && t->s[n - 1] == '%') {
        *pct = true;
        n--;
    }
    if (t->val || n == 0 || n >= sizeof(num) || (*pct && !allow_pct))
        goto bad;
    memcpy(num, t->s, n);
    num[n] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(num, &end);
    if (errno || end != num + n || !isfinite(v) || v < 0 || (num[0] < '0' || num[0] > '9'))
        goto bad;
    *out = v;
    return 0;
bad:
    record_error(lp, t->col, "bad number \"%s\"%s", show(t, tmp, sizeof(tmp)),
                 allow_pct ? " (expected NUMBER or NUMBER%)" : "");
    return -1;
}

/* A replacement compiled against its regex: literal runs and group numbers,
 * so that applying it is a loop of JIT matches and copies. */
struct subst_part {
    int group; /* -1: literal text */
    size_t off, len;
};

struct subst {
    bool jit;
    uint32_t ncap;
    size_t nparts;
    struct subst_part parts[];
};

static void add_part(struct subst **sp, size_t *cap, int group, size_t off, size_t len)
{
    struct subst *sub = *sp;
    if (group < 0 && len == 0)
        return;
    if (group < 0 && sub->nparts && sub->parts[sub->nparts - 1].group < 0 &&
        sub->parts[sub->nparts - 1].off + sub->parts[sub->nparts - 1].len == off) {
        sub->parts[sub->nparts - 1].len += len;
        return;
    }
    if (sub->nparts == *cap) {
        *cap *= 2;
        sub = xrealloc(sub, sizeof(*sub) + *cap * sizeof(sub->parts[0]));
        *sp = sub;
    }
    sub->parts[sub->nparts++] = (struct subst_part){group, off, len};
}

/* Compiles $n, ${n}, ${name} and $$ in a replacement against the regex. */
static struct subst *compile_replacement(struct lineparse *lp, const struct tok *t, const char *s,
                                         pcre2_code *re)
{
    size_t cap = 4;
    struct subst *sub = xcalloc(1, sizeof(*sub) + cap * sizeof(sub->parts[0]));
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &sub->ncap);
    size_t jitsize = 0;
    sub->jit = pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jitsize) == 0 && jitsize > 0;
    size_t lit = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '$')
            continue;
        size_t at = i++;
        add_part(&sub, &cap, -1, lit, at - lit);
        if (s[i] == '$') {
            lit = i; /* the second $ starts the next literal run */
            continue;
        }
        bool brace = s[i] == '{';
        if (brace)
            i++;
        size_t b = i;
        while ((s[i] >= '0' && s[i] <= '9') ||
               (brace &&
                (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))))
            i++;
        size_t nlen = i - b;
        if (nlen == 0 || (brace && s[i] != '}')) {
            record_error(lp, t->col,
                         "bad $ reference in replacement at offset %zu "
                         "(use $1, ${1}, ${name} or $$)",
                         at);
            goto fail;
        }
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(nlen < 63 ? nlen : 63), s + b);
        int group;
        if (name[0] >= '0' && name[0] <= '9') {
            unsigned long g = strtoul(name, NULL, 10);
            if (g > sub->ncap) {
                record_error(lp, t->col, "replacement refers to group $%s but the regex has %u",
                             name, sub->ncap);
                goto fail;
            }
            group = (int)g;
        } else {
            group = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
            if (group < 0) {
                record_error(lp, t->col, "replacement refers to unknown group ${%s}", name);
                goto fail;
            }
        }
        add_part(&sub, &cap, group, 0, 0);
        if (!brace)
            i--;
        lit = i + 1;
    }
    add_part(&sub, &cap, -1, lit, strlen(s) - lit);
    return sub;
fail:
    free(sub);
    return NULL;
}

static int parse_regex(struct lineparse *lp, struct rule *r, const struct tok *t)
{
    char tmp[64];
    if (t->val || t->len < 2 || t->s[0] != '/') {
        record_error(lp, t->col, "expected /REGEX/ after the path, got \"%s\"",
                     show(t, tmp, sizeof(tmp)));
        return -1;
    }
    size_t close = t->len - 1;
    while (close > 0 && t->s[close] != '/')
        close--;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    for (size_t i = close + 1; i < t->len; i++) {
        switch (t->s[i]) {
        case 'i':
            opts |= PCRE2_CASELESS;
            break;
        case 'm':
            opts |= PCRE2_MULTILINE;
            break;
        case 's':
            opts |= PCRE2_DOTALL;
            break;
        case 'x':
            opts |= PCRE2_EXTENDED;
            break;
        default:
            record_error(lp, t->col + i, "unknown regex flag \"%c\" (use i, m, s or x)",
                         t->s[i] >= 0x20 ? t->s[i] : '?');
            return -1;
        }
    }
    if (close == 1) {
        record_error(lp, t->col, "empty regex");
        return -1;
    }
    /* `\/` in the file stands for `/`; everything else reaches PCRE2 as written. */
    struct buf pat = {0};
    for (size_t i = 1; i < close; i++) {
        if (t->s[i] == '\\' && i + 1 < close && t->s[i + 1] == '/')
            i++;
        buf_append(&pat, &t->s[i], 1);
    }
    int ec = 0;
    PCRE2_SIZE eoff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, opts, &ec, &eoff, NULL);
    buf_free(&pat);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        record_error(lp, t->col + 1 + eoff, "bad regex \"%s\": %s", show(t, tmp, sizeof(tmp)),
                     (const char *)msg);
        return -1;
    }
    /* JIT is an optimization: where it is unavailable the interpreter runs. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    r->re = re;
    return 0;
}

static struct rule *new_rule(struct lineparse *lp, enum rule_kind kind, const char *text,
                             size_t textlen)
{
    struct rule *r = xcalloc(1, sizeof(*r));
    r->kind = kind;
    r->file = lp->file;
    r->line = lp->line;
    r->text = xstrndup(text, textlen);
    atomic_init(&r->matched, 0);
    return r;
}

struct directive {
    const char *name;
    enum rule_kind kind;
    int min_args, max_args; /* max -1: unbounded */
};

static const struct directive directives[] = {
    {"ignore", RULE_IGNORE, 1, -1},
    {"ignore-header", RULE_IGNORE_HEADER, 1, -1},
    {"replace", RULE_REPLACE, 3, 3},
    {"tolerance", RULE_TOLERANCE, 2, 2},
    {"unordered", RULE_UNORDERED, 1, 3},
    {"redact", RULE_REDACT, 1, -1},
    {"redact-header", RULE_REDACT_HEADER, 1, -1},
    {"skip", RULE_SKIP, 0, 0},
    {"sample", RULE_SAMPLE, 1, 1},
    {"strip-request-header", RULE_STRIP_REQUEST_HEADER, 1, -1},
};

static int parse_args(struct lineparse *lp, struct rule *r, struct tok *toks, int ntok)
{
    char tmp[64];
    int nargs = ntok - 1;
    struct tok *a = toks + 1;
    switch (r->kind) {
    case RULE_IGNORE:
    case RULE_REDACT:
    case RULE_IGNORE_HEADER:
    case RULE_REDACT_HEADER:
    case RULE_STRIP_REQUEST_HEADER: {
        bool header = r->kind == RULE_IGNORE_HEADER || r->kind == RULE_REDACT_HEADER ||
                      r->kind == RULE_STRIP_REQUEST_HEADER;
        unsigned allow =
            r->kind == RULE_IGNORE ? ALLOW_BODY | ALLOW_STATUS | ALLOW_HEADER : ALLOW_BODY;
        r->args = xcalloc((size_t)nargs, sizeof(*r->args));
        for (int i = 0; i < nargs; i++) {
            int rc = header ? parse_header_name(lp, &a[i], &r->args[i].name)
                            : parse_path(lp, &a[i], allow, &r->args[i]);
            if (header)
                r->args[i].target = RULE_TARGET_HEADER;
            r->nargs++;
            if (rc == -1)
                return -1;
        }
        return 0;
    }
    case RULE_REPLACE:
        r->args = xcalloc(1, sizeof(*r->args));
        r->nargs = 1;
        if (parse_path(lp, &a[0], ALLOW_BODY | ALLOW_HEADER, &r->args[0]) == -1)
            return -1;
        if (parse_regex(lp, r, &a[1]) == -1)
            return -1;
        if (!a[2].val && a[2].len > 0 && a[2].s[0] == '\'') {
            record_error(lp, a[2].col, "quote the replacement with double quotes, got \"%s\"",
                         show(&a[2], tmp, sizeof(tmp)));
            return -1;
        }
        r->replacement = a[2].val ? xstrdup(a[2].val) : xstrndup(a[2].s, a[2].len);
        r->subst = compile_replacement(lp, &a[2], r->replacement, r->re);
        return r->subst ? 0 : -1;
    case RULE_TOLERANCE:
        r->args = xcalloc(1, sizeof(*r->args));
        r->nargs = 1;
        if (parse_path(lp, &a[0], 0, &r->args[0]) == -1)
            return -1;
        return parse_number(lp, &a[1], true, &r->number, &r->percent);
    case RULE_UNORDERED: {
        r->args = xcalloc(1, sizeof(*r->args));
        r->nargs = 1;
        if (parse_path(lp, &a[0], 0, &r->args[0]) == -1)
            return -1;
        if (nargs == 1)
            return 0;
        if (!tok_is(&a[1], "by")) {
            record_error(lp, a[1].col, "expected \"by KEYPATH\" after the path, got \"%s\"",
                         show(&a[1], tmp, sizeof(tmp)));
            return -1;
        }
        if (nargs != 3) {
            record_error(lp, a[1].col, "\"by\" needs a KEYPATH");
            return -1;
        }
        size_t n;
        const char *s = tok_value(&a[2], &n);
        /* A key path is relative to the element: `id`, `meta.id`, `@.id` or `$.id`. */
        struct buf kp = {0};
        size_t shift = 0;
        if (n > 0 && s[0] != '$' && s[0] != '@') {
            buf_puts(&kp, s[0] == '[' ? "@" : "@.");
            shift = kp.len;
        }
        buf_append(&kp, s, n);
        if (kp.data[0] == '$')
            kp.data[0] = '@';
        char msg[128];
        size_t pos = 0;
        int rc = jsonpath_parse(kp.data, kp.len, true, &r->key, &pos, msg, sizeof(msg));
        buf_free(&kp);
        if (rc == -1) {
            pos = pos >= shift ? pos - shift : 0;
            record_error(lp, a[2].col + (a[2].val ? 0 : pos), "bad key path \"%s\": %s",
                         show(&a[2], tmp, sizeof(tmp)), msg);
            return -1;
        }
        if (r->key->nseg == 0 || !jsonpath_is_singular(r->key)) {
            record_error(lp, a[2].col, "key path \"%s\" must name one member (no *, no ..)",
                         show(&a[2], tmp, sizeof(tmp)));
            return -1;
        }
        return 0;
    }
    case RULE_SAMPLE: {
        bool pct;
        if (parse_number(lp, &a[0], true, &r->number, &pct) == -1)
            return -1;
        if (r->number > 100) {
            record_error(lp, a[0].col, "sample \"%s\" is over 100%%",
                         show(&a[0], tmp, sizeof(tmp)));
            return -1;
        }
        return 0;
    }
    case RULE_SKIP:
        return 0;
    }
    return 0;
}

static void parse_section(struct lineparse *lp, const char *line, size_t len, size_t at)
{
    struct ruleset *rs = lp->rs;
    const char *close = memchr(line + at, ']', len - at);
    lp->sec = NULL;
    lp->bad_section = true;
    if (!close) {
        record_error(lp, at + 1, "unclosed section \"[\" (missing ])");
        return;
    }
    size_t after = (size_t)(close - line) + 1;
    while (after < len && is_blank(line[after]))
        after++;
    if (after < len && line[after] != '#') {
        record_error(lp, after + 1, "unexpected text after section: \"%.*s\"",
                     (int)((len - after) > 60 ? 60 : len - after), line + after);
        return;
    }
    struct route_pattern *pat = NULL;
    size_t pos = 0;
    char msg[160];
    size_t plen = (size_t)(close - line) - at - 1;
    if (route_pattern_parse(line + at + 1, plen, &pat, &pos, msg, sizeof(msg)) == -1) {
        record_error(lp, at + 2 + pos, "%s", msg);
        return;
    }
    struct rules_section *sec = xcalloc(1, sizeof(*sec));
    if (route_pattern_is_all(pat))
        route_pattern_free(pat);
    else
        sec->pattern = pat;
    sec->file = lp->file;
    sec->line = lp->line;
    rs->secs = grow(rs->secs, rs->nsecs, sizeof(*rs->secs));
    rs->secs[rs->nsecs++] = sec;
    lp->sec = sec;
    lp->bad_section = false;
}

static void parse_directive(struct lineparse *lp, const char *line, size_t len, size_t at,
                            bool *outside_reported)
{
    struct tok toks[MAX_TOKENS];
    char tmp[64];
    int ntok = tokenize(lp, line, len, toks, 2);
    if (ntok <= 0)
        return;
    const struct directive *d = NULL;
    for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
        if (tok_is(&toks[0], directives[i].name))
            d = &directives[i];
    struct rule *r = NULL;
    if (!d) {
        record_error(lp, toks[0].col, "unknown directive \"%s\"", show(&toks[0], tmp, sizeof(tmp)));
        goto out;
    }
    int nargs = ntok - 1;
    if (nargs < d->min_args) {
        record_error(lp, toks[0].col, "\"%s\" needs %s argument%s", d->name,
                     d->min_args == 1   ? "an"
                     : d->min_args == 2 ? "two"
                                        : "three",
                     d->min_args == 1 ? "" : "s");
        goto out;
    }
    if (d->max_args >= 0 && nargs > d->max_args) {
        record_error(lp, toks[d->max_args + 1].col, "unexpected argument \"%s\" to \"%s\"",
                     show(&toks[d->max_args + 1], tmp, sizeof(tmp)), d->name);
        goto out;
    }
    if (!lp->sec && !lp->bad_section) {
        if (!*outside_reported)
            record_error(lp, toks[0].col,
                         "directive \"%s\" outside a section (open one with [*] or "
                         "[METHOD /path] above it)",
                         d->name);
        *outside_reported = true;
        goto out;
    }
    const struct tok *last = &toks[ntok - 1];
    size_t textlen = (size_t)(last->s + last->len - (line + at));
    r = new_rule(lp, d->kind, line + at, textlen);
    if (parse_args(lp, r, toks, ntok) == -1 || !lp->sec) {
        rule_free(r);
        goto out;
    }
    struct ruleset *rs = lp->rs;
    rs->rules = grow(rs->rules, rs->nrules, sizeof(*rs->rules));
    rs->rules[rs->nrules++] = r;
    lp->sec->rules = grow(lp->sec->rules, lp->sec->nrules, sizeof(*lp->sec->rules));
    lp->sec->rules[lp->sec->nrules++] = r;
out:
    for (int i = 0; i < ntok; i++)
        free(toks[i].val);
}

/* Offset of the first invalid UTF-8 byte, or len when valid. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n >= len)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
            return i;
        i += n + 1;
    }
    return len;
}

static const char *intern_file(struct ruleset *rs, const char *name)
{
    rs->files = grow(rs->files, rs->nfiles, sizeof(*rs->files));
    rs->files[rs->nfiles] = xstrdup(name);
    return rs->files[rs->nfiles++];
}

int rules_add_text(struct ruleset *rs, const char *name, const char *text, size_t len, char *err,
                   size_t errlen)
{
    if (rs->finished)
        return errf(err, errlen, "%s: rules added after rules_finish()", name);
    struct lineparse lp = {.rs = rs, .file = intern_file(rs, name), .errors_before = rs->nerrors};
    bool outside_reported = false;
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        lp.line++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        const char *nul = memchr(line, '\0', llen);
        if (nul) {
            record_error(&lp, (size_t)(nul - line) + 1, "NUL byte in rules file");
            continue;
        }
        size_t bad = utf8_check((const unsigned char *)line, llen);
        if (bad < llen) {
            record_error(&lp, bad + 1, "invalid UTF-8");
            continue;
        }
        size_t at = 0;
        while (at < llen && is_blank(line[at]))
            at++;
        if (at == llen || line[at] == '#')
            continue;
        if (line[at] == '[')
            parse_section(&lp, line, llen, at);
        else
            parse_directive(&lp, line, llen, at, &outside_reported);
    }
    if (rs->nerrors > lp.errors_before) {
        errf(err, errlen, "%s", rs->errors[lp.errors_before]);
        return -1;
    }
    return 0;
}

static int add_file(struct ruleset *rs, const char *path, char *err, size_t errlen)
{
    struct buf b = {0};
    char msg[512];
    if (buf_read_file(&b, path, msg, sizeof(msg)) == -1) {
        record_plain_error(rs, msg);
        errf(err, errlen, "%s", msg);
        buf_free(&b);
        return -2;
    }
    int rc = rules_add_text(rs, path, b.data ? b.data : "", b.len, err, errlen);
    buf_free(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rules_add_path(struct ruleset *rs, const char *path, char *err, size_t errlen)
{
    struct stat st;
    char msg[512];
    if (stat(path, &st) == -1) {
        snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
        goto io_error;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(rs, path, err, errlen);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
        goto io_error;
    }
    char **names = NULL;
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 7 || strcmp(e->d_name + n - 6, ".rules") != 0)
            continue;
        names = grow(names, nnames, sizeof(*names));
        names[nnames++] = xasprintf("%s/%s", path, e->d_name);
    }
    closedir(d);
    if (nnames > 1)
        qsort(names, nnames, sizeof(*names), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nnames; i++) {
        int r = add_file(rs, names[i], rc == 0 ? err : NULL, errlen);
        if (r < rc)
            rc = r;
        free(names[i]);
    }
    free(names);
    if (nnames == 0) {
        snprintf(msg, sizeof(msg), "%s: no *.rules files in this directory", path);
        record_plain_error(rs, msg);
        errf(err, errlen, "%s", msg);
        return -1;
    }
    return rc;
io_error:
    record_plain_error(rs, msg);
    errf(err, errlen, "%s", msg);
    return -2;
}

/* Fills a view for a name; returns false when more than RULES_VIEW_MAX apply. */
static bool fill_view(const struct ruleset *rs, const char *name, struct rules_view *view)
{
    view->rs = rs;
    view->nsec = 0;
    if (!rs)
        return true;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < rs->nsecs; i++) {
            const struct rules_section *s = rs->secs[i];
            if ((pass == 0) != (s->pattern == NULL))
                continue;
            if (s->pattern && !route_pattern_match_name(s->pattern, name))
                continue;
            if (view->nsec == RULES_VIEW_MAX)
                return false;
            view->sec[view->nsec++] = s;
        }
    }
    return true;
}

int rules_finish(struct ruleset *rs, char *err, size_t errlen)
{
    rs->secview = xcalloc(rs->nsecs ? rs->nsecs : 1, sizeof(*rs->secview));
    for (size_t i = 0; i < rs->nsecs; i++) {
        const struct rules_section *s = rs->secs[i];
        if (!s->pattern || route_pattern_any_method(s->pattern))
            continue;
        if (!fill_view(rs, route_pattern_text(s->pattern), &rs->secview[i])) {
            struct lineparse lp = {.rs = rs, .file = s->file, .line = s->line};
            record_error(&lp, 1, "more than %d sections apply to endpoint \"%s\"", RULES_VIEW_MAX,
                         route_pattern_text(s->pattern));
        }
    }
    rs->finished = true;
    if (rs->nerrors)
        return errf(err, errlen, "%s", rs->errors[0]);
    return 0;
}

size_t rules_error_count(const struct ruleset *rs)
{
    return rs->nerrors;
}

const char *rules_error(const struct ruleset *rs, size_t i)
{
    return i < rs->nerrors ? rs->errors[i] : NULL;
}

size_t rules_section_count(const struct ruleset *rs)
{
    return rs->nsecs;
}

const struct rules_section *rules_section_at(const struct ruleset *rs, size_t i)
{
    return rs->secs[i];
}

void rules_view_for_endpoint(const struct ruleset *rs, const char *name, struct rules_view *view)
{
    fill_view(rs, name, view);
}

void rules_view_for_section(const struct ruleset *rs, size_t i, struct rules_view *view)
{
    const struct rules_section *s = rs->secs[i];
    if (rs->finished && s->pattern && !route_pattern_any_method(s->pattern)) {
        *view = rs->secview[i];
        return;
    }
    fill_view(rs, s->pattern ? route_pattern_text(s->pattern) : "*", view);
}

#define MATCHER_PAIRS 16 /* small enough for malloc's per-thread cache */

struct rules_matcher *rules_matcher_new(void)
{
    pcre2_match_data *md = pcre2_match_data_create(MATCHER_PAIRS, NULL);
    if (!md) {
        fprintf(stderr, "diffd: out of memory creating PCRE2 match data\n");
        abort();
    }
    return (struct rules_matcher *)md;
}

void rules_matcher_free(struct rules_matcher *m)
{
    pcre2_match_data_free((pcre2_match_data *)m);
}

int rules_replace(const struct rule *r, const char *s, size_t len, struct buf *out,
                  struct rules_matcher *m)
{
    const struct subst *sub = r->subst;
    pcre2_code *re = r->re;
    pcre2_match_data *own = NULL;
    pcre2_match_data *md = (pcre2_match_data *)m;
    if (!md || sub->ncap >= MATCHER_PAIRS)
        md = own = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md)
        return -1;
    buf_reset(out);
    size_t start = 0, copied = 0;
    uint32_t opts = 0;
    int count = 0, rc = 0;
    /* Global substitution as pcre2demo does it: after an empty match, try a
     * non-empty one at the same place before moving on by one character. */
    for (;;) {
        rc = sub->jit ? pcre2_jit_match(re, (PCRE2_SPTR)s, len, start, opts, md, NULL)
                      : pcre2_match(re, (PCRE2_SPTR)s, len, start, opts, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            rc = 0;
            if (opts == 0 || start >= len)
                break;
            start++;
            while (start < len && ((unsigned char)s[start] & 0xc0) == 0x80)
                start++;
            opts = 0;
            continue;
        }
        if (rc < 0)
            break;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        buf_append(out, s + copied, ov[0] - copied);
        for (size_t i = 0; i < sub->nparts; i++) {
            const struct subst_part *p = &sub->parts[i];
            if (p->group < 0) {
                buf_append(out, r->replacement + p->off, p->len);
            } else if (p->group < rc && ov[2 * p->group] != PCRE2_UNSET) {
                buf_append(out, s + ov[2 * p->group], ov[2 * p->group + 1] - ov[2 * p->group]);
            }
        }
        copied = ov[1];
        count++;
        if (ov[0] == ov[1]) {
            if (ov[1] >= len)
                break;
            opts = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
        } else {
            opts = 0;
        }
        start = ov[1];
    }
    pcre2_match_data_free(own);
    if (rc < 0)
        return -1;
    if (count == 0)
        return 0;
    buf_append(out, s + copied, len - copied);
    return 1;
}

void rules_count(const struct rule *r, uint64_t n)
{
    /* Counters are the only mutable part of a sealed ruleset. */
    atomic_fetch_add_explicit(&((struct rule *)r)->matched, n, memory_order_relaxed);
}

size_t rules_rule_count(const struct ruleset *rs)
{
    return rs->nrules;
}

void rules_rule_info(const struct ruleset *rs, size_t i, struct rules_rule_info *out)
{
    const struct rule *r = rs->rules[i];
    out->file = r->file;
    out->line = r->line;
    out->text = r->text;
    out->matched = atomic_load_explicit(&((struct rule *)r)->matched, memory_order_relaxed);
}

int rules_add_matched(const struct ruleset *rs, const char *file, unsigned line, const char *text,
                      uint64_t n)
{
    for (size_t i = 0; rs && i < rs->nrules; i++) {
        const struct rule *r = rs->rules[i];
        if (r->line == line && strcmp(r->file, file) == 0 && strcmp(r->text, text) == 0) {
            rules_count(r, n);
            return 1;
        }
    }
    return 0;
}

const char *rules_file_name(const struct ruleset *rs, size_t i)
{
    return i < rs->nfiles ? rs->files[i] : NULL;
}

size_t rules_file_count(const struct ruleset *rs)
{
    return rs->nfiles;
}
