/* Plain HTTP message types: header lists and request/response records. */
#include "http.h"

#include <stdlib.h>
#include <string.h>

void headers_add(struct headers *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n].name = xstrndup(name, nlen);
    h->v[h->n].value = xstrndup(value, vlen);
    h->n++;
}

const char *headers_get(const struct headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (ascii_casecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

size_t headers_remove(struct headers *h, const char *name)
{
    size_t out = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (ascii_casecmp(h->v[i].name, name) == 0) {
            free(h->v[i].name);
            free(h->v[i].value);
            removed++;
            continue;
        }
        h->v[out++] = h->v[i];
    }
    h->n = out;
    return removed;
}

void headers_free(struct headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

bool http_is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    };
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (ascii_casecmp(name, hop[i]) == 0)
            return true;
    return false;
}

/* True when `name` appears as a token of the Connection header value. */
bool http_connection_lists(const char *connection, const char *name)
{
    if (!connection)
        return false;
    size_t nlen = strlen(name);
    const char *p = connection;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t tlen = strcspn(p, ",");
        size_t end = tlen;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == nlen && ascii_ncasecmp(p, name, nlen) == 0)
            return true;
        p += tlen;
    }
    return false;
}

const char *leg_error_name(enum leg_error e)
{
    switch (e) {
    case LEG_OK:
        return "ok";
    case LEG_ERR_REFUSED:
        return "refused";
    case LEG_ERR_RESET:
        return "reset";
    case LEG_ERR_TIMEOUT:
        return "timeout";
    case LEG_ERR_TOO_LARGE:
        return "too_large";
    case LEG_ERR_OTHER:
        return "error";
    }
    return "error";
}

void http_request_free(struct http_request *r)
{
    free(r->method);
    free(r->target);
    headers_free(&r->headers);
    headers_free(&r->trailers);
    buf_free(&r->body);
    r->method = r->target = NULL;
}

void http_response_free(struct http_response *r)
{
    headers_free(&r->headers);
    headers_free(&r->trailers);
    buf_free(&r->body);
    free(r->error_msg);
    r->error_msg = NULL;
}

enum status_class status_class_of(int status, bool failed)
{
    if (failed || status < 200 || status > 599)
        return STATUS_ERROR;
    return (enum status_class)(status / 100 - 2);
}

const char *status_class_name(enum status_class c)
{
    static const char *const names[STATUS_CLASSES] = {"2xx", "3xx", "4xx", "5xx", "error"};
    return c >= 0 && c < STATUS_CLASSES ? names[c] : "?";
}
