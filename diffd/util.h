/* Small shared helpers: allocation that aborts on failure, a growable byte
 * buffer, string helpers and monotonic time. Every other module may use these. */
#ifndef DIFFD_UTIL_H
#define DIFFD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Allocation wrappers: never return NULL; print a message and abort instead.
 * Caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string; caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer. `data` is always NUL-terminated (not counted in len)
 * once anything was appended, so text can be used as a C string. A zeroed
 * struct is an empty buffer; buf_free() releases it and leaves it empty. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Gives the buffer's storage to the caller (free() it) and leaves b empty. */
char *buf_steal(struct buf *b);

/* Appends s[0..n) as a JSON string literal (quotes included): control
 * characters, quotes and backslashes escaped; invalid UTF-8 bytes become
 * U+FFFD so the output is always valid JSON. */
void buf_json_string(struct buf *b, const char *s, size_t n);

/* True when s[0..n) is valid UTF-8. */
bool utf8_valid(const char *s, size_t n);
/* Appends the base64 (RFC 4648, padded) encoding of p[0..n). */
void buf_base64(struct buf *b, const void *p, size_t n);

/* Appends the whole file at path ("-" reads standard input) to b, which is
 * then never NULL. Returns 0, or -1 with "PATH: reason" in err. */
int buf_read_file(struct buf *b, const char *path, char *err, size_t errlen);

/* Sends b->data[*off..b->len) on a non-blocking socket (no SIGPIPE). Returns
 * 1 when everything is sent (b reset, *off 0), 0 when the socket would block
 * (*off advanced), -1 on error (errno set). */
int sock_send_pending(int fd, struct buf *b, size_t *off);

/* Command-line flags given as "--flag VALUE" or "--flag=VALUE". */
bool cli_is_flag(const char *arg, const char *flag);
/* The value of the flag at argv[*i], advancing *i past a separate value; NULL
 * after printing "diffd CMD: FLAG needs a value" on stderr. */
const char *cli_flag_value(int argc, char **argv, int *i, const char *flag, const char *cmd);

/* Case-insensitive ASCII comparisons. */
int ascii_casecmp(const char *a, const char *b);
int ascii_ncasecmp(const char *a, const char *b, size_t n);

/* Monotonic clock in microseconds. */
uint64_t now_us(void);

/* 64-bit FNV-1a then a final avalanche mix: a stable hash for sampling keys
 * and body digests (the same input hashes the same on every run and host). */
uint64_t hash64(const void *p, size_t n);

/* Writes an error message into a caller buffer (err may be NULL). Returns -1 so
 * callers can `return errf(err, errlen, ...)`. */
int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
