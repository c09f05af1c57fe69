/* HTTP message types shared by the proxy, the diff engine and the CLI: header
 * lists, requests and responses as plain data (no parser state). Ownership: a
 * struct owns every string and buffer it points to; *_free() releases them. */
#ifndef DIFFD_HTTP_H
#define DIFFD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct header {
    char *name; /* as received; compare case-insensitively */
    char *value;
};

struct headers {
    struct header *v;
    size_t n;
    size_t cap;
};

/* Appends a copy of name/value. */
void headers_add(struct headers *h, const char *name, size_t nlen, const char *value, size_t vlen);
/* First value of a header (case-insensitive name), or NULL. Borrowed. */
const char *headers_get(const struct headers *h, const char *name);
/* Removes every header of that name; returns how many were removed. */
size_t headers_remove(struct headers *h, const char *name);
void headers_free(struct headers *h);

/* True for the hop-by-hop headers of RFC 9110 §7.6.1 plus the ones a proxy
 * must never forward as-is (Keep-Alive, Proxy-*, TE, Trailer, Upgrade). */
bool http_is_hop_by_hop(const char *name);

/* True when `name` is one of the comma-separated tokens of a Connection
 * header value (such headers are hop-by-hop too). connection may be NULL. */
bool http_connection_lists(const char *connection, const char *name);

/* How a leg (one backend call of a trial) ended. */
enum leg_error {
    LEG_OK = 0,
    LEG_ERR_REFUSED,   /* connect failed: refused, unreachable, DNS */
    LEG_ERR_RESET,     /* connection reset or closed mid-response */
    LEG_ERR_TIMEOUT,   /* --timeout or --connect-timeout passed */
    LEG_ERR_TOO_LARGE, /* response body over --max-body */
    LEG_ERR_OTHER,     /* TLS, protocol or anything else */
};

const char *leg_error_name(enum leg_error e);

/* The classes a leg's outcome is counted in, everywhere (per-leg counters,
 * statistics, reports, metrics): 2xx 3xx 4xx 5xx, and error for a leg that
 * failed or answered nonsense (a final answer is never 1xx). */
enum status_class {
    STATUS_2XX,
    STATUS_3XX,
    STATUS_4XX,
    STATUS_5XX,
    STATUS_ERROR,
    STATUS_CLASSES,
};

/* The class of a final status (failed: the leg had no answer). */
enum status_class status_class_of(int status, bool failed);
/* "2xx" ... "5xx", "error". */
const char *status_class_name(enum status_class c);

struct http_request {
    char *method;
    char *target; /* path and query as sent by the client (after X-Original-URI) */
    struct headers headers;
    struct buf body;
    struct headers trailers; /* after the body (HTTP/2, gRPC); empty on HTTP/1.1 */
};

struct http_response {
    int status; /* 0 when the leg failed */
    struct headers headers;
    struct buf body;
    struct headers trailers; /* after the body (HTTP/2 trailers: grpc-status...) */
    enum leg_error error;
    char *error_msg;     /* human text for error, or NULL */
    uint64_t latency_us; /* request sent → response complete (or failure) */
};

void http_request_free(struct http_request *r);
void http_response_free(struct http_response *r);

#endif
