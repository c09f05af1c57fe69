/* Request rewriting between the client and the legs: mirror-source
 * normalization (X-Original-URI, "-shadow" Host suffix) and the header list
 * each leg is sent (hop-by-hop removed, Host, X-Diffd-Role/X-Diffd-Trial). */
#ifndef DIFFD_REWRITE_H
#define DIFFD_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* Writes host with a trailing "-shadow" removed from the name part, keeping any
 * port: "api-shadow:8080" → "api:8080", "api-shadow" → "api", "[::1]:80" as is.
 * Returns out. out must hold strlen(host) + 1 bytes. */
char *rewrite_strip_shadow(const char *host, char *out);

/* Applies X-Original-URI (nginx mirror): when present and a valid origin-form
 * target ("/..."), it replaces req->target and the header is removed. */
void rewrite_original_uri(struct http_request *req);

/* Builds the headers one leg is sent, into out (appended; caller frees with
 * headers_free()). Drops hop-by-hop headers, headers named in Connection,
 * Content-Length and Expect (the client library frames the body itself), any
 * incoming X-Diffd-* header, and the names in strip[0..n_strip) (rules'
 * strip-request-header, for legs that do not answer the client). Host is
 * backend_hostport unless preserve_host, then the client's Host without
 * "-shadow". Adds X-Diffd-Role and X-Diffd-Trial. Borrows everything. */
void rewrite_leg_headers(const struct http_request *req, const char *backend_hostport,
                         bool preserve_host, const char *role, const char *trial_id,
                         const char *const *strip, size_t n_strip, struct headers *out);

#endif
