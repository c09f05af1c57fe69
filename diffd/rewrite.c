/* Request rewriting for the legs of a trial (DESIGN §3 steps 2 and 4). */
#include "rewrite.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

char *rewrite_strip_shadow(const char *host, char *out)
{
    static const char suffix[] = "-shadow";
    const size_t slen = sizeof(suffix) - 1;
    size_t len = strlen(host);
    size_t name_end = len;
    if (host[0] != '[') {
        const char *colon = strrchr(host, ':');
        if (colon)
            name_end = (size_t)(colon - host);
    }
    if (name_end > slen && ascii_ncasecmp(host + name_end - slen, suffix, slen) == 0) {
        memcpy(out, host, name_end - slen);
        memcpy(out + name_end - slen, host + name_end, len - name_end + 1);
    } else {
        memcpy(out, host, len + 1);
    }
    return out;
}

void rewrite_original_uri(struct http_request *req)
{
    const char *orig = headers_get(&req->headers, "X-Original-URI");
    if (!orig)
        return;
    if (orig[0] == '/' && strpbrk(orig, " \r\n\t") == NULL) {
        char *t = xstrdup(orig);
        free(req->target);
        req->target = t;
    }
    headers_remove(&req->headers, "X-Original-URI");
}

static bool dropped(const char *name, const char *connection, const char *const *strip,
                    size_t n_strip)
{
    if (http_is_hop_by_hop(name) || ascii_casecmp(name, "host") == 0 ||
        ascii_casecmp(name, "content-length") == 0 || ascii_casecmp(name, "expect") == 0 ||
        ascii_ncasecmp(name, "x-diffd-", 8) == 0 || http_connection_lists(connection, name))
        return true;
    for (size_t i = 0; i < n_strip; i++)
        if (ascii_casecmp(name, strip[i]) == 0)
            return true;
    return false;
}

void rewrite_leg_headers(const struct http_request *req, const char *backend_hostport,
                         bool preserve_host, const char *role, const char *trial_id,
                         const char *const *strip, size_t n_strip, struct headers *out)
{
    const char *connection = headers_get(&req->headers, "Connection");
    const char *client_host = headers_get(&req->headers, "Host");
    if (preserve_host && client_host && *client_host) {
        char *h = xmalloc(strlen(client_host) + 1);
        rewrite_strip_shadow(client_host, h);
        headers_add(out, "Host", 4, h, strlen(h));
        free(h);
    } else {
        headers_add(out, "Host", 4, backend_hostport, strlen(backend_hostport));
    }
    for (size_t i = 0; i < req->headers.n; i++) {
        const struct header *h = &req->headers.v[i];
        if (dropped(h->name, connection, strip, n_strip))
            continue;
        headers_add(out, h->name, strlen(h->name), h->value, strlen(h->value));
    }
    headers_add(out, "X-Diffd-Role", 12, role, strlen(role));
    headers_add(out, "X-Diffd-Trial", 13, trial_id, strlen(trial_id));
}
