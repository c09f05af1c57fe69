/* Request parsing with llhttp: accumulates the span callbacks into a
 * struct http_request and maps parser errors to HTTP statuses. */
#include "reqparser.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static struct reqparser *P(llhttp_t *h)
{
    return h->data;
}

static int fail(llhttp_t *h, int status, const char *msg)
{
    struct reqparser *p = P(h);
    p->error_status = status;
    snprintf(p->error_msg, sizeof(p->error_msg), "%s", msg);
    llhttp_set_error_reason(h, msg);
    return HPE_USER;
}

static int count_header_bytes(llhttp_t *h, size_t len)
{
    struct reqparser *p = P(h);
    p->header_bytes += len;
    if (p->header_bytes > REQPARSER_MAX_HEADER_BYTES)
        return fail(h, 431, "request header block larger than 64 KiB");
    return 0;
}

static int on_message_begin(llhttp_t *h)
{
    struct reqparser *p = P(h);
    p->in_message = true;
    p->headers_done = false;
    p->header_bytes = 0;
    return 0;
}

static int on_url(llhttp_t *h, const char *at, size_t len)
{
    struct reqparser *p = P(h);
    if (count_header_bytes(h, len))
        return HPE_USER;
    buf_append(&p->url, at, len);
    return 0;
}

static int on_header_field(llhttp_t *h, const char *at, size_t len)
{
    if (count_header_bytes(h, len))
        return HPE_USER;
    buf_append(&P(h)->name, at, len);
    return 0;
}

/* RFC 9110 §5.6.2 token characters. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* llhttp lets some non-token bytes into field names; a proxy must not, or
 * it and a backend could disagree on which header a line is. */
static int on_header_field_complete(llhttp_t *h)
{
    struct reqparser *p = P(h);
    if (p->name.len == 0)
        return fail(h, 400, "malformed request: empty header name");
    for (size_t i = 0; i < p->name.len; i++)
        if (!is_tchar((unsigned char)p->name.data[i]))
            return fail(h, 400, "malformed request: invalid character in header name");
    return 0;
}

static int on_header_value(llhttp_t *h, const char *at, size_t len)
{
    if (count_header_bytes(h, len))
        return HPE_USER;
    buf_append(&P(h)->value, at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *h)
{
    struct reqparser *p = P(h);
    /* Fields end with ": " and CRLF; count them so many tiny headers cannot
     * get around the header-size limit. */
    if (count_header_bytes(h, 4))
        return HPE_USER;
    /* Fields after a chunked body are trailers: not headers, and not sent on
     * (the legs get the body with a Content-Length). */
    if (!p->headers_done)
        headers_add(&p->req.headers, p->name.data ? p->name.data : "", p->name.len,
                    p->value.data ? p->value.data : "", p->value.len);
    buf_reset(&p->name);
    buf_reset(&p->value);
    return 0;
}

/* Brings the request target to origin-form ("/path?query"), the only form
 * legs are sent (RFC 9112 §3.2): absolute-form ("http://host/p") gives its
 * path, and its authority replaces Host (§3.2.2); "*" stays only for OPTIONS.
 * Anything else is refused, so a target can never steer a leg elsewhere. */
static int normalize_target(struct reqparser *p)
{
    char *t = p->req.target;
    if (t[0] == '/')
        return 0;
    if (strcmp(t, "*") == 0) {
        if (p->parser.method == HTTP_OPTIONS)
            return 0;
        snprintf(p->error_msg, sizeof(p->error_msg),
                 "malformed request: the target \"*\" is only valid with OPTIONS");
        return -1;
    }
    size_t skip = ascii_ncasecmp(t, "http://", 7) == 0    ? 7
                  : ascii_ncasecmp(t, "https://", 8) == 0 ? 8
                                                          : 0;
    if (skip) {
        const char *auth = t + skip;
        size_t alen = strcspn(auth, "/?#");
        if (alen > 0 && memchr(auth, '@', alen) == NULL) {
            const char *rest = auth + alen;
            char *path = rest[0] == '/' ? xstrdup(rest) : xasprintf("/%s", rest);
            headers_remove(&p->req.headers, "Host");
            headers_add(&p->req.headers, "Host", 4, auth, alen);
            free(p->req.target);
            p->req.target = path;
            return 0;
        }
    }
    snprintf(p->error_msg, sizeof(p->error_msg),
             "malformed request: the target must be a path (\"/...\") or an absolute http URL");
    return -1;
}

static int on_headers_complete(llhttp_t *h)
{
    struct reqparser *p = P(h);
    p->headers_done = true;
    if (h->method == HTTP_CONNECT) {
        fail(h, 405, "CONNECT is not supported by a mirroring proxy");
        return -1;
    }
    p->req.method = xstrdup(llhttp_method_name((llhttp_method_t)h->method));
    p->req.target = p->url.len ? xstrndup(p->url.data, p->url.len) : xstrdup("/");
    if (normalize_target(p) == -1) {
        char msg[sizeof(p->error_msg)];
        memcpy(msg, p->error_msg, sizeof(msg));
        fail(h, 400, msg);
        return -1;
    }
    if ((h->flags & F_CONTENT_LENGTH) && h->content_length > p->max_body) {
        fail(h, 413, "request body larger than --max-body");
        return -1;
    }
    const char *expect = headers_get(&p->req.headers, "Expect");
    if (expect) {
        if (ascii_casecmp(expect, "100-continue") != 0) {
            fail(h, 417, "unsupported Expect header (only 100-continue)");
            return -1;
        }
        bool has_body = (h->flags & F_CHUNKED) || h->content_length > 0;
        p->expect_continue = has_body && h->http_major == 1 && h->http_minor >= 1;
    }
    return 0;
}

static int on_body(llhttp_t *h, const char *at, size_t len)
{
    struct reqparser *p = P(h);
    if (p->req.body.len + len > p->max_body)
        return fail(h, 413, "request body larger than --max-body");
    buf_append(&p->req.body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *h)
{
    struct reqparser *p = P(h);
    p->in_message = false;
    p->expect_continue = false;
    p->keep_alive = llhttp_should_keep_alive(h) && !h->upgrade;
    p->http10 = h->http_major == 1 && h->http_minor == 0;
    return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void settings_init(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

void reqparser_init(struct reqparser *p, size_t max_body)
{
    /* One static settings object shared by every parser of every thread. */
    pthread_once(&settings_once, settings_init);
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->parser, HTTP_REQUEST, &settings);
    p->parser.data = p;
    p->max_body = max_body;
}

void reqparser_free(struct reqparser *p)
{
    http_request_free(&p->req);
    buf_free(&p->name);
    buf_free(&p->value);
    buf_free(&p->url);
}

size_t reqparser_feed(struct reqparser *p, const char *data, size_t len, enum reqparser_result *res)
{
    if (p->error_status) {
        *res = RP_ERROR;
        return 0;
    }
    if (p->paused) {
        llhttp_resume(&p->parser);
        p->paused = false;
    }
    if (len == 0) {
        *res = RP_NEED_MORE;
        return 0;
    }
    llhttp_errno_t e = llhttp_execute(&p->parser, data, len);
    if (e == HPE_OK) {
        *res = RP_NEED_MORE;
        return len;
    }
    if (e == HPE_PAUSED) {
        p->paused = true;
        *res = RP_REQUEST;
        return (size_t)(llhttp_get_error_pos(&p->parser) - data);
    }
    if (e == HPE_PAUSED_UPGRADE) {
        /* An Upgrade request is proxied as a plain request; the connection
         * closes after the answer (keep_alive was cleared). */
        p->paused = true;
        *res = RP_REQUEST;
        return len;
    }
    if (e == HPE_PAUSED_H2_UPGRADE) {
        /* "PRI * HTTP/2.0": an HTTP/2 client with prior knowledge. */
        p->error_status = 505;
        snprintf(p->error_msg, sizeof(p->error_msg),
                 "HTTP/2 is not supported here: send HTTP/1.1 (mirrors such as nginx and "
                 "Envoy can be told to)");
    }
    if (!p->error_status) {
        p->error_status = 400;
        snprintf(p->error_msg, sizeof(p->error_msg), "malformed request: %s",
                 llhttp_get_error_reason(&p->parser) ? llhttp_get_error_reason(&p->parser)
                                                     : llhttp_errno_name(e));
    }
    *res = RP_ERROR;
    return 0;
}

void reqparser_take(struct reqparser *p, struct http_request *out)
{
    *out = p->req;
    memset(&p->req, 0, sizeof(p->req));
    buf_reset(&p->url);
    buf_reset(&p->name);
    buf_reset(&p->value);
    p->header_bytes = 0;
    p->headers_done = false;
}
