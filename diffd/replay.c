/* `diffd replay`: reads recorded traffic (HAR 1.2, JSON lines, GoReplay captures) and
 * sends it to a target, typically a `diffd serve --wait-all` in CI, with a bounded
 * number of requests in flight and optional pacing. libcurl's multi interface drives
 * the transfers from a plain poll loop: this is a one-shot client, so it needs no
 * event loop (DESIGN §1 lists libcurl for replay). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "cli.h"
#include "http.h"
#include "replay.h"
#include "util.h"

/* GoReplay's payload separator line. */
static const char gor_sep[] = "\xF0\x9F\x90\xB5\xF0\x9F\x99\x88\xF0\x9F\x99\x89";

static const char *const format_names[] = {"har", "jsonl", "gor"};

int replay_format_parse(const char *name, enum replay_format *out)
{
    for (int i = 0; i <= REPLAY_GOR; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum replay_format)i;
            return 0;
        }
    return -1;
}

const char *replay_format_name(enum replay_format f)
{
    return format_names[f];
}

static void entry_free(struct replay_entry *e)
{
    free(e->method);
    free(e->target);
    headers_free(&e->headers);
    buf_free(&e->body);
}

void replay_input_free(struct replay_input *in)
{
    for (size_t i = 0; i < in->n; i++)
        entry_free(&in->v[i]);
    free(in->v);
    memset(in, 0, sizeof(*in));
}

/* ---- shared validation -------------------------------------------------------- */

struct pstate {
    const char *file;
    struct replay_input *out;
    replay_diag_fn diag;
    void *ctx;
};

static void malformed(struct pstate *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void malformed(struct pstate *ps, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ps->out->malformed++;
    if (ps->diag) {
        char *full = xasprintf("%s:%d: %s", ps->file, line, msg);
        ps->diag(ps->ctx, full);
        free(full);
    }
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* A request target we can send: starts with '/', no whitespace or control bytes. */
static bool target_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

/* Headers the sender sets itself (or that must not be replayed as-is). */
static bool header_dropped(const char *name, size_t n)
{
    static const char *const own[] = {"host", "content-length", "expect"};
    if (n > 0 && name[0] == ':')
        return true; /* HTTP/2 pseudo-header in a browser HAR */
    char tmp[64];
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (ascii_casecmp(tmp, own[i]) == 0)
            return true;
    return http_is_hop_by_hop(tmp);
}

/* Adds a header after validation; returns false (and says why in why) when the
 * header cannot be sent. Dropped headers are accepted silently. */
static bool add_header(struct replay_entry *e, const char *name, size_t nlen, const char *value,
                       size_t vlen, char *why, size_t whylen)
{
    if (nlen > 0 && name[0] == ':')
        return true;
    if (!is_token(name, nlen)) {
        snprintf(why, whylen, "invalid header name \"%.*s\"", (int)(nlen > 60 ? 60 : nlen), name);
        return false;
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '\r' || c == '\n' || c == 0) {
            snprintf(why, whylen, "header %.*s: line break or NUL in the value",
                     (int)(nlen > 60 ? 60 : nlen), name);
            return false;
        }
    }
    if (!header_dropped(name, nlen))
        headers_add(&e->headers, name, nlen, value, vlen);
    return true;
}

static struct replay_entry *push_entry(struct replay_input *in, struct replay_entry *e)
{
    in->v = xrealloc(in->v, (in->n + 1) * sizeof(*in->v));
    in->v[in->n] = *e;
    memset(e, 0, sizeof(*e));
    return &in->v[in->n++];
}

/* ---- JSON lines ----------------------------------------------------------------- */

/* {"method","path","headers":{name: value | [values]},"body": string} */
static bool jsonl_entry(const cJSON *o, struct replay_entry *e, char *why, size_t whylen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(why, whylen, "expected a JSON object");
        return false;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "headers");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
    if (m && !cJSON_IsNull(m) &&
        (!cJSON_IsString(m) || !is_token(m->valuestring, strlen(m->valuestring)))) {
        snprintf(why, whylen, "\"method\" must be an HTTP method name");
        return false;
    }
    if (!cJSON_IsString(p)) {
        snprintf(why, whylen, "\"path\" missing or not a string");
        return false;
    }
    if (!target_ok(p->valuestring, strlen(p->valuestring))) {
        snprintf(why, whylen, "\"path\" must start with '/' and hold no spaces or control bytes");
        return false;
    }
    e->method = xstrdup(cJSON_IsString(m) ? m->valuestring : "GET");
    e->target = xstrdup(p->valuestring);
    if (h && !cJSON_IsNull(h)) {
        if (!cJSON_IsObject(h)) {
            snprintf(why, whylen, "\"headers\" must be an object of name: value");
            return false;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, h)
        {
            const char *name = item->string;
            if (cJSON_IsString(item)) {
                if (!add_header(e, name, strlen(name), item->valuestring, strlen(item->valuestring),
                                why, whylen))
                    return false;
            } else if (cJSON_IsArray(item)) {
                const cJSON *v;
                cJSON_ArrayForEach(v, item)
                {
                    if (!cJSON_IsString(v)) {
                        snprintf(why, whylen, "header %s: values must be strings", name);
                        return false;
                    }
                    if (!add_header(e, name, strlen(name), v->valuestring, strlen(v->valuestring),
                                    why, whylen))
                        return false;
                }
            } else {
                snprintf(why, whylen, "header %s: value must be a string", name);
                return false;
            }
        }
    }
    if (b && !cJSON_IsNull(b)) {
        if (!cJSON_IsString(b)) {
            snprintf(why, whylen, "\"body\" must be a string");
            return false;
        }
        buf_puts(&e->body, b->valuestring);
    }
    return true;
}

static void parse_jsonl(const char *data, size_t len, struct pstate *ps)
{
    const char *p = data, *end = data + len;
    int line = 0;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s < le) {
            char why[256] = "";
            struct replay_entry e = {0};
            e.line = line;
            const char *stop = NULL;
            cJSON *o = cJSON_ParseWithLengthOpts(s, (size_t)(le - s), &stop, false);
            while (o && stop && stop < le && (*stop == ' ' || *stop == '\t' || *stop == '\r'))
                stop++;
            if (o && stop != le) {
                cJSON_Delete(o);
                o = NULL;
            }
            if (!o)
                malformed(ps, line, "invalid JSON");
            else if (!jsonl_entry(o, &e, why, sizeof(why)))
                malformed(ps, line, "%s", why);
            else
                push_entry(ps->out, &e);
            entry_free(&e);
            cJSON_Delete(o);
        }
        p = eol ? eol + 1 : end;
    }
}

/* ---- HAR ---------------------------------------------------------------------------- */

/* A tiny JSON skipper over text cJSON has already validated: finds where each element
 * of log.entries starts so messages can give its line. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

static const char *skip_value(const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p >= end)
        return end;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']')
                if (--depth == 0)
                    return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && !strchr(",}] \t\r\n", *p))
        p++;
    return p;
}

/* Inside an object at p ('{'), finds the value of member `key`; NULL if absent. */
static const char *find_member(const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return NULL;
        const char *k = p + 1;
        const char *kend = skip_string(p, end);
        bool match = (size_t)(kend - 1 - k) == klen && memcmp(k, key, klen) == 0;
        p = skip_ws(kend, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        if (match)
            return p;
        p = skip_ws(skip_value(p, end), end);
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

static int line_at(const char *data, const char *at)
{
    int line = 1;
    for (const char *p = data; p < at; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* Start lines of the elements of log.entries; 0 where not found. Caller frees. */
static int *har_entry_lines(const char *data, size_t len, size_t count)
{
    int *lines = xcalloc(count + 1, sizeof(int));
    const char *end = data + len;
    const char *log = find_member(data, end, "log");
    const char *arr = log ? find_member(log, end, "entries") : NULL;
    if (!arr || *arr != '[')
        return lines;
    const char *p = arr + 1;
    int cur_line = line_at(data, p);
    const char *cur = p;
    for (size_t i = 0; i < count; i++) {
        p = skip_ws(p, end);
        if (p >= end || *p == ']')
            break;
        cur_line += line_at(cur, p) - 1;
        cur = p;
        lines[i] = cur_line;
        p = skip_ws(skip_value(p, end), end);
        if (p < end && *p == ',')
            p++;
    }
    return lines;
}

/* path+query of an absolute URL (fragment removed); NULL when it is not one. */
static char *url_target(const char *url)
{
    const char *s = strstr(url, "://");
    if (!s)
        return url[0] == '/' ? xstrndup(url, strcspn(url, "#")) : NULL;
    const char *path = s + 3 + strcspn(s + 3, "/?#");
    if (*path == '\0' || *path == '#')
        return xstrdup("/");
    if (*path == '?')
        return xasprintf("/%.*s", (int)strcspn(path, "#"), path);
    return xstrndup(path, strcspn(path, "#"));
}

static bool har_entry(const cJSON *entry, struct replay_entry *e, char *why, size_t whylen)
{
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(entry, "request");
    if (!cJSON_IsObject(req)) {
        snprintf(why, whylen, "entry has no \"request\" object");
        return false;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "method");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(req, "url");
    if (!cJSON_IsString(m) || !is_token(m->valuestring, strlen(m->valuestring))) {
        snprintf(why, whylen, "request.method missing or not a method name");
        return false;
    }
    if (!cJSON_IsString(u)) {
        snprintf(why, whylen, "request.url missing or not a string");
        return false;
    }
    e->target = url_target(u->valuestring);
    if (!e->target || !target_ok(e->target, strlen(e->target))) {
        snprintf(why, whylen, "request.url \"%.80s\" is not an absolute URL without spaces",
                 u->valuestring);
        return false;
    }
    e->method = xstrdup(m->valuestring);
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(req, "headers");
    if (hs && !cJSON_IsArray(hs)) {
        snprintf(why, whylen, "request.headers must be an array");
        return false;
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, hs)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(h, "name");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "value");
        if (!cJSON_IsString(n) || !cJSON_IsString(v)) {
            snprintf(why, whylen, "request.headers: each needs string name and value");
            return false;
        }
        if (!add_header(e, n->valuestring, strlen(n->valuestring), v->valuestring,
                        strlen(v->valuestring), why, whylen))
            return false;
    }
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(req, "postData");
    if (pd && !cJSON_IsNull(pd)) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(pd, "text");
        const cJSON *mime = cJSON_GetObjectItemCaseSensitive(pd, "mimeType");
        if (text && !cJSON_IsString(text)) {
            snprintf(why, whylen, "request.postData.text must be a string");
            return false;
        }
        if (cJSON_IsString(text))
            buf_puts(&e->body, text->valuestring);
        if (cJSON_IsString(mime) && *mime->valuestring &&
            !headers_get(&e->headers, "content-type") &&
            !add_header(e, "Content-Type", 12, mime->valuestring, strlen(mime->valuestring), why,
                        whylen))
            return false;
    }
    return true;
}

static int parse_har(const char *data, size_t len, struct pstate *ps, char *err, size_t errlen)
{
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &stop, false);
    if (!root) {
        const char *at = stop ? stop : cJSON_GetErrorPtr();
        return errf(err, errlen, "%s:%d: invalid JSON, not a HAR file", ps->file,
                    at && at >= data && at <= data + len ? line_at(data, at) : 1);
    }
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(root, "log");
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(log, "entries");
    if (!cJSON_IsArray(entries)) {
        cJSON_Delete(root);
        return errf(err, errlen, "%s: not a HAR file (no log.entries array)", ps->file);
    }
    size_t count = (size_t)cJSON_GetArraySize(entries);
    int *lines = har_entry_lines(data, len, count);
    size_t i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, entries)
    {
        char why[256] = "";
        struct replay_entry e = {0};
        int line = lines[i] ? lines[i] : 1;
        e.line = line;
        if (!cJSON_IsObject(entry))
            malformed(ps, line, "entry %zu: expected an object", i + 1);
        else if (!har_entry(entry, &e, why, sizeof(why)))
            malformed(ps, line, "entry %zu: %s", i + 1, why);
        else
            push_entry(ps->out, &e);
        entry_free(&e);
        i++;
    }
    free(lines);
    cJSON_Delete(root);
    return 0;
}

/* ---- GoReplay ------------------------------------------------------------------------- */

/* Decodes a chunked body; -1 when it is malformed. */
static int dechunk(const char *p, const char *end, struct buf *out)
{
    for (;;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return -1;
        char *num_end = NULL;
        errno = 0;
        unsigned long long n = strtoull(p, &num_end, 16);
        if (errno || num_end == p)
            return -1;
        p = eol + 1;
        if (n == 0)
            return 0; /* trailers ignored */
        if (n > (unsigned long long)(end - p))
            return -1;
        buf_append(out, p, (size_t)n);
        p += n;
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n')
            p++;
    }
}

/* One raw HTTP/1.x request (GoReplay payload type 1). */
static bool gor_request(const char *p, const char *end, struct replay_entry *e, char *why,
                        size_t whylen)
{
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) {
        snprintf(why, whylen, "no request line");
        return false;
    }
    const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    const char *sp1 = memchr(p, ' ', (size_t)(le - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || (size_t)(le - sp2 - 1) < 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        snprintf(why, whylen, "bad request line \"%.60s\"", p);
        for (char *c = why; *c; c++)
            if (*c == '\r' || *c == '\n')
                *c = ' ';
        return false;
    }
    if (!is_token(p, (size_t)(sp1 - p)) || !target_ok(sp1 + 1, (size_t)(sp2 - sp1 - 1))) {
        snprintf(why, whylen, "bad method or target in the request line");
        return false;
    }
    e->method = xstrndup(p, (size_t)(sp1 - p));
    e->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    p = eol + 1;
    long long clen = -1;
    bool chunked = false;
    for (;;) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) {
            snprintf(why, whylen, "headers not terminated by an empty line");
            return false;
        }
        le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (le == p) {
            p = eol + 1;
            break;
        }
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon) {
            snprintf(why, whylen, "header line without ':'");
            return false;
        }
        const char *v = colon + 1;
        while (v < le && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nlen = (size_t)(colon - p);
        if (nlen == 14 && ascii_ncasecmp(p, "content-length", 14) == 0) {
            clen = strtoll(v, NULL, 10);
            if (clen < 0) {
                snprintf(why, whylen, "bad Content-Length");
                return false;
            }
        } else if (nlen == 17 && ascii_ncasecmp(p, "transfer-encoding", 17) == 0) {
            chunked = (size_t)(ve - v) >= 7 && ascii_ncasecmp(ve - 7, "chunked", 7) == 0;
        }
        if (!add_header(e, p, nlen, v, (size_t)(ve - v), why, whylen))
            return false;
        p = eol + 1;
    }
    if (chunked) {
        if (dechunk(p, end, &e->body) == -1) {
            snprintf(why, whylen, "malformed chunked body");
            return false;
        }
    } else if (clen >= 0) {
        if (clen > end - p) {
            snprintf(why, whylen, "body shorter than its Content-Length %lld", clen);
            return false;
        }
        buf_append(&e->body, p, (size_t)clen);
    } else {
        buf_append(&e->body, p, (size_t)(end - p));
    }
    return true;
}

static void gor_block(const char *p, const char *end, int line, struct pstate *ps)
{
    char why[256] = "";
    struct replay_entry e = {0};
    e.line = line;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    /* Header: "<type> <id> <timestamp-ns> <latency>". */
    if (!eol || p[0] < '1' || p[0] > '3' || p[1] != ' ') {
        malformed(ps, line, "not a GoReplay payload header (\"1 <id> <timestamp> <latency>\")");
        return;
    }
    if (p[0] != '1') {
        ps->out->ignored++; /* a recorded response, not a request */
        return;
    }
    if (!gor_request(eol + 1, end, &e, why, sizeof(why)))
        malformed(ps, line, "%s", why);
    else
        push_entry(ps->out, &e);
    entry_free(&e);
}

static void parse_gor(const char *data, size_t len, struct pstate *ps)
{
    const char *p = data, *end = data + len;
    int line = 1;
    while (p < end) {
        /* The block ends at "\n<separator>" followed by a newline or the end. */
        const char *q = p, *stop = end, *next = end;
        while ((q = memmem(q, (size_t)(end - q), gor_sep, sizeof(gor_sep) - 1)) != NULL) {
            const char *after = q + sizeof(gor_sep) - 1;
            if ((q == data || q[-1] == '\n') &&
                (after == end || *after == '\n' || (*after == '\r' && after + 1 < end))) {
                stop = q > p ? q - 1 : q; /* drop the newline before the separator */
                if (stop > p && stop[-1] == '\r')
                    stop--;
                next = after < end && *after == '\r' ? after + 1 : after;
                if (next < end)
                    next++;
                break;
            }
            q = after;
        }
        const char *s = p;
        while (s < stop && (*s == '\n' || *s == '\r'))
            s++;
        if (s < stop)
            gor_block(s, stop, line + line_at(p, s) - 1, ps);
        line += line_at(p, next) - 1;
        p = next;
    }
}

/* ---- format guessing and entry point ----------------------------------------------- */

int replay_guess_format(const char *data, size_t len, enum replay_format *out)
{
    const char *end = data + len;
    const char *p = data;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    p = skip_ws(p, end);
    if (p >= end)
        return -1;
    if (*p == '{') {
        cJSON *root = cJSON_ParseWithLength(p, (size_t)(end - p));
        bool har = root && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "log"));
        cJSON_Delete(root);
        *out = har ? REPLAY_HAR : REPLAY_JSONL;
        return 0;
    }
    if (*p >= '1' && *p <= '3' && p + 1 < end && p[1] == ' ' &&
        memmem(p, (size_t)(end - p), gor_sep, sizeof(gor_sep) - 1)) {
        *out = REPLAY_GOR;
        return 0;
    }
    return -1;
}

int replay_parse(const char *data, size_t len, enum replay_format fmt, const char *file,
                 struct replay_input *out, replay_diag_fn diag, void *ctx, char *err, size_t errlen)
{
    struct pstate ps = {file, out, diag, ctx};
    switch (fmt) {
    case REPLAY_HAR:
        return parse_har(data, len, &ps, err, errlen);
    case REPLAY_JSONL:
        parse_jsonl(data, len, &ps);
        return 0;
    case REPLAY_GOR:
        parse_gor(data, len, &ps);
        return 0;
    }
    return errf(err, errlen, "%s: unknown format", file);
}

/* ---- sending ---------------------------------------------------------------------------- */

#define REPLAY_MAX_FAILURE_LINES 5

struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    size_t idx;
    char errbuf[CURL_ERROR_SIZE];
};

struct run {
    const struct replay_input *in;
    const char *target;
    size_t concurrency;
    double rate;
    bool progress;
    size_t next;     /* next entry to start */
    size_t inflight; /* transfers running */
    size_t classes[6];
    size_t failed;
    uint64_t t0;
};

static size_t discard(char *p, size_t size, size_t nmemb, void *userdata)
{
    (void)p;
    (void)userdata;
    return size * nmemb;
}

static struct xfer *xfer_start(struct run *run, CURLM *multi, size_t idx)
{
    const struct replay_entry *e = &run->in->v[idx];
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->idx = idx;
    x->h = curl_easy_init();
    if (!x->h) {
        fprintf(stderr, "diffd replay: cannot initialise libcurl\n");
        abort();
    }
    char *url = xasprintf("%s%s", run->target, e->target);
    bool has_ct = false, has_accept = false;
    for (size_t i = 0; i < e->headers.n; i++) {
        const struct header *h = &e->headers.v[i];
        char *line = h->value[0] ? xasprintf("%s: %s", h->name, h->value)
                                 : xasprintf("%s;", h->name); /* curl's empty-value syntax */
        x->hdrs = curl_slist_append(x->hdrs, line);
        free(line);
        has_ct = has_ct || ascii_casecmp(h->name, "content-type") == 0;
        has_accept = has_accept || ascii_casecmp(h->name, "accept") == 0;
    }
    /* Send what was recorded, not curl's defaults. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (!has_accept)
        x->hdrs = curl_slist_append(x->hdrs, "Accept:");
    if (!has_ct)
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
    curl_easy_setopt(x->h, CURLOPT_URL, url);
    curl_easy_setopt(x->h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (strcmp(e->method, "HEAD") == 0) {
        curl_easy_setopt(x->h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(e->method, "GET") != 0 || e->body.len > 0) {
        curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, e->method);
        if (e->body.len > 0 || strcmp(e->method, "POST") == 0 || strcmp(e->method, "PUT") == 0 ||
            strcmp(e->method, "PATCH") == 0) {
            curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->body.len);
            curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, e->body.len ? e->body.data : "");
        }
    }
    free(url);
    curl_multi_add_handle(multi, x->h);
    run->inflight++;
    return x;
}

static void xfer_done(struct run *run, CURLM *multi, CURLMsg *msg)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    if (msg->data.result == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        int cls = status >= 100 && status < 600 ? (int)(status / 100) : 0;
        run->classes[cls]++;
    } else {
        const struct replay_entry *e = &run->in->v[x->idx];
        if (run->failed < REPLAY_MAX_FAILURE_LINES)
            fprintf(stderr, "%sdiffd replay: %s %s (line %d): %s\n",
                    run->progress ? "\r\033[K" : "", e->method, e->target, e->line,
                    x->errbuf[0] ? x->errbuf : curl_easy_strerror(msg->data.result));
        else if (run->failed == REPLAY_MAX_FAILURE_LINES)
            fprintf(stderr, "%sdiffd replay: further failures not shown\n",
                    run->progress ? "\r\033[K" : "");
        run->failed++;
    }
    curl_multi_remove_handle(multi, x->h);
    curl_easy_cleanup(x->h);
    curl_slist_free_all(x->hdrs);
    free(x);
    run->inflight--;
}

static size_t answered(const struct run *run)
{
    size_t n = 0;
    for (int i = 0; i < 6; i++)
        n += run->classes[i];
    return n;
}

static void draw_progress(const struct run *run)
{
    size_t total = run->in->n, done = answered(run) + run->failed;
    int width = 30, filled = total ? (int)(done * (size_t)width / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu done, %zu in flight, %zu failed\033[K", bar, done, total,
            run->inflight, run->failed);
    fflush(stderr);
}

/* Sends every entry; returns 0, or -1 when the multi interface itself failed. */
static int send_all(struct run *run)
{
    CURLM *multi = curl_multi_init();
    if (!multi)
        return -1;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)run->concurrency);
    uint64_t last_draw = 0;
    run->t0 = now_us();
    int rc = 0;
    while (run->next < run->in->n || run->inflight > 0) {
        uint64_t now = now_us();
        long wait_ms = 100;
        while (run->next < run->in->n && run->inflight < run->concurrency) {
            if (run->rate > 0) {
                uint64_t due = run->t0 + (uint64_t)((double)run->next * 1e6 / run->rate);
                if (due > now) {
                    long ms = (long)((due - now + 999) / 1000);
                    if (ms < wait_ms)
                        wait_ms = ms;
                    break;
                }
            }
            xfer_start(run, multi, run->next++);
        }
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            rc = -1;
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                xfer_done(run, multi, msg);
        if (run->progress && now - last_draw > 100000) {
            draw_progress(run);
            last_draw = now;
        }
        if (run->inflight == 0 && run->next >= run->in->n)
            break;
        if (run->inflight > 0 || run->rate > 0)
            curl_multi_poll(multi, NULL, 0, (int)(wait_ms > 0 ? wait_ms : 1), NULL);
    }
    if (run->progress) {
        draw_progress(run);
        fprintf(stderr, "\n");
    }
    /* Only reached early on a multi failure: release what is still attached. */
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE)
            xfer_done(run, multi, msg);
    curl_multi_cleanup(multi);
    return rc;
}

static void replay_usage(FILE *out)
{
    fprintf(out,
            "usage: diffd replay --target URL --input FILE [--format har|jsonl|gor]\n"
            "                    [--rate RPS] [--concurrency N]\n"
            "\n"
            "Sends recorded requests to URL (typically a `diffd serve --wait-all` proxy).\n"
            "\n"
            "  --target URL       http:// or https:// base URL; the recorded path and query\n"
            "                     are appended\n"
            "  --input FILE       HAR 1.2, JSON lines ({\"method\",\"path\",\"headers\",\"body\"}\n"
            "                     per line) or a GoReplay capture (\"-\" reads stdin)\n"
            "  --format F         har, jsonl or gor [guessed from the content]\n"
            "  --rate RPS         requests started per second [unlimited]\n"
            "  --concurrency N    requests in flight at most [8]\n"
            "  -h, --help         this text\n"
            "\n"
            "A malformed entry is reported as file:line: message and skipped. Host,\n"
            "Content-Length and hop-by-hop headers are not replayed (set for the target).\n"
            "Exit: 0 done, 2 usage error, unreadable input, nothing valid to send, or no\n"
            "request answered at all.\n");
}

static void print_diag(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

int replay_main(int argc, char **argv)
{
    const char *target = NULL, *input = NULL;
    bool have_format = false;
    enum replay_format fmt = REPLAY_JSONL;
    double rate = 0;
    long concurrency = 8;
    struct buf data = {0};
    struct replay_input in = {0};
    char *base = NULL;
    char err[512];
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        char *end = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            replay_usage(stdout);
            rc = 0;
            goto out;
        } else if (cli_is_flag(a, "--target")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--target", "replay")))
                goto out;
            target = v;
        } else if (cli_is_flag(a, "--input")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--input", "replay")))
                goto out;
            input = v;
        } else if (cli_is_flag(a, "--format")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--format", "replay")))
                goto out;
            if (replay_format_parse(v, &fmt) == -1) {
                fprintf(stderr, "diffd replay: --format must be har, jsonl or gor, not \"%s\"\n",
                        v);
                goto out;
            }
            have_format = true;
        } else if (cli_is_flag(a, "--rate")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--rate", "replay")))
                goto out;
            errno = 0;
            rate = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(rate) || rate <= 0) {
                fprintf(stderr, "diffd replay: --rate needs requests/s > 0, not \"%s\"\n", v);
                goto out;
            }
        } else if (cli_is_flag(a, "--concurrency")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--concurrency", "replay")))
                goto out;
            errno = 0;
            concurrency = strtol(v, &end, 10);
            if (errno || end == v || *end || concurrency < 1 || concurrency > 10000) {
                fprintf(stderr, "diffd replay: --concurrency needs 1..10000, not \"%s\"\n", v);
                goto out;
            }
        } else {
            fprintf(stderr, "diffd replay: unknown argument \"%s\" (see diffd replay --help)\n", a);
            goto out;
        }
    }
    if (!target || !input) {
        fprintf(stderr, "diffd replay: %s is required (see diffd replay --help)\n",
                !target ? "--target URL" : "--input FILE");
        goto out;
    }
    if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0) {
        fprintf(stderr, "diffd replay: --target must be an http:// or https:// URL, not \"%s\"\n",
                target);
        goto out;
    }
    size_t tlen = strlen(target);
    while (tlen > 0 && target[tlen - 1] == '/')
        tlen--;
    base = xstrndup(target, tlen);

    if (buf_read_file(&data, input, err, sizeof(err)) == -1) {
        fprintf(stderr, "diffd replay: %s\n", err);
        goto out;
    }
    if (!have_format && replay_guess_format(data.data, data.len, &fmt) == -1) {
        fprintf(stderr,
                "diffd replay: %s: cannot tell the format (HAR, JSON lines or GoReplay); give "
                "--format\n",
                input);
        goto out;
    }
    if (replay_parse(data.data, data.len, fmt, input, &in, print_diag, NULL, err, sizeof(err)) ==
        -1) {
        fprintf(stderr, "diffd replay: %s\n", err);
        goto out;
    }
    if (in.n == 0) {
        fprintf(stderr, "diffd replay: %s: no valid request to send (%zu malformed)\n", input,
                in.malformed);
        goto out;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct run run = {0};
    run.in = &in;
    run.target = base;
    run.concurrency = (size_t)concurrency;
    run.rate = rate;
    run.progress = isatty(STDERR_FILENO) == 1;
    int sent_rc = send_all(&run);
    double elapsed = (double)(now_us() - run.t0) / 1e6;
    size_t ok = answered(&run);
    size_t sent = ok + run.failed;
    printf("replay: %zu sent (%s), answered %zu: 1xx %zu, 2xx %zu, 3xx %zu, 4xx %zu, 5xx %zu, "
           "other %zu; failed %zu; malformed skipped %zu; %.2f s, %.1f req/s\n",
           sent, replay_format_name(fmt), ok, run.classes[1], run.classes[2], run.classes[3],
           run.classes[4], run.classes[5], run.classes[0], run.failed, in.malformed, elapsed,
           elapsed > 0 ? (double)sent / elapsed : 0.0);
    fflush(stdout);
    if (sent_rc == -1)
        fprintf(stderr, "diffd replay: libcurl failed while sending\n");
    else if (ok == 0)
        fprintf(stderr, "diffd replay: %s: no request was answered (target unreachable?)\n", base);
    else
        rc = 0;
    curl_global_cleanup();
out:
    free(base);
    replay_input_free(&in);
    buf_free(&data);
    return rc;
}
