/* The rules in force, and their reload (SIGHUP, POST /api/v1/rules/reload).
 * Workers read the current ruleset with one atomic load per request; a
 * reload builds a new ruleset from the same --rules paths and swaps the
 * pointer. A file with an error keeps the old rules and records the error.
 * Replaced rulesets are kept until shutdown, because trials in flight (and
 * their route views) still point into them. */
#ifndef DIFFD_LIVERULES_H
#define DIFFD_LIVERULES_H

#include <stddef.h>

#include "util.h"

struct ruleset;
struct liverules;

/* Loads paths[0..n) (n may be 0: an empty ruleset). On error returns NULL and
 * prints every "file:line:column: message" to stderr. */
struct liverules *liverules_new(char *const *paths, size_t n);
void liverules_free(struct liverules *lr);

/* The ruleset in force. Any thread; no lock. Never NULL. */
const struct ruleset *liverules_current(const struct liverules *lr);

/* Reloads from the original paths. Returns 0, or -1 with the first error in
 * err (the old rules stay). Any thread. */
int liverules_reload(struct liverules *lr, char *err, size_t errlen);

/* Appends {"paths":[...],"files":[{"path","text"}],"rules":[{"file","line",
 * "text","matched"}],"last_reload":{"time","ok","error"}}. */
void liverules_write_json(struct liverules *lr, struct buf *out);

#endif
