/* Trials: allocation, release and size (trial.h). */
#include "trial.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct trial *trial_new(void)
{
    return xcalloc(1, sizeof(struct trial));
}

void trial_free(struct trial *t)
{
    if (!t)
        return;
    for (int r = 0; r < ROLE_COUNT; r++) {
        http_response_free(&t->legs[r].resp);
        free(t->legs[r].reason);
    }
    http_request_free(&t->req);
    free(t);
}

static size_t headers_bytes(const struct headers *h)
{
    size_t n = h->cap * sizeof(*h->v);
    for (size_t i = 0; i < h->n; i++)
        n += strlen(h->v[i].name) + strlen(h->v[i].value) + 2;
    return n;
}

size_t trial_bytes(const struct trial *t)
{
    size_t n = sizeof(*t) + t->req.body.cap + headers_bytes(&t->req.headers);
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct http_response *resp = &t->legs[r].resp;
        n += resp->body.cap + headers_bytes(&resp->headers);
    }
    return n;
}
