/* Inbound HTTP/1.1 request parsing on llhttp, without sockets: bytes in,
 * complete requests or an HTTP error status out. One parser per client
 * connection; it pauses after each request so pipelined requests are handed
 * over one at a time, in order. Lenient llhttp modes stay off. */
#ifndef DIFFD_REQPARSER_H
#define DIFFD_REQPARSER_H

#include <stdbool.h>
#include <stddef.h>

#include <llhttp.h>

#include "http.h"

#define REQPARSER_MAX_HEADER_BYTES (64 * 1024)

enum reqparser_result {
    RP_NEED_MORE = 0, /* all bytes consumed, request not complete yet */
    RP_REQUEST,       /* a request is complete: take it with reqparser_take() */
    RP_ERROR,         /* bad input: answer p->error_status and close */
};

struct reqparser {
    llhttp_t parser;
    size_t max_body;
    struct http_request req; /* being parsed */
    struct buf url;          /* request target, accumulated across spans */
    struct buf name, value;  /* current header, accumulated across spans */
    size_t header_bytes;     /* request line + header bytes seen so far */
    bool in_message;         /* first byte of a request seen, not yet complete */
    bool headers_done;
    bool paused;
    bool expect_continue; /* client waits for "100 Continue" before its body */
    bool keep_alive;      /* of the last completed request */
    bool http10;          /* the last completed request was HTTP/1.0 */
    int error_status;     /* 400, 413, 431, 405, 417 on RP_ERROR */
    char error_msg[160];
};

/* Initializes p for a new connection. Body bytes beyond max_body give 413. */
void reqparser_init(struct reqparser *p, size_t max_body);
void reqparser_free(struct reqparser *p);

/* Parses up to len bytes. Returns how many were consumed; *res says why it
 * stopped. After RP_REQUEST, unconsumed bytes (pipelined requests) must be fed
 * again after reqparser_take(). */
size_t reqparser_feed(struct reqparser *p, const char *data, size_t len,
                      enum reqparser_result *res);

/* Moves the completed request into *out (caller frees with
 * http_request_free()) and prepares for the next one. */
void reqparser_take(struct reqparser *p, struct http_request *out);

#endif
