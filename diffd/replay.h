/* Recorded traffic for `diffd replay`: HAR 1.2, JSON lines and GoReplay capture
 * files parsed into a list of requests. A malformed entry is reported as
 * "file:line: message" and skipped; the rest still replays. */
#ifndef DIFFD_REPLAY_H
#define DIFFD_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "util.h"

enum replay_format { REPLAY_HAR, REPLAY_JSONL, REPLAY_GOR };

/* One request to send. Headers exclude what the sender sets itself: Host,
 * Content-Length, hop-by-hop headers, Expect and HTTP/2 pseudo-headers. */
struct replay_entry {
    char *method;
    char *target; /* path and query, starts with '/' */
    struct headers headers;
    struct buf body;
    int line; /* where the entry starts in the input file */
};

struct replay_input {
    struct replay_entry *v;
    size_t n;
    size_t malformed; /* entries skipped */
    size_t ignored;   /* GoReplay response payloads (types 2 and 3): not requests */
};

/* Called once per malformed entry with "file:line: message". */
typedef void (*replay_diag_fn)(void *ctx, const char *msg);

/* "har", "jsonl", "gor" → format; -1 when unknown. */
int replay_format_parse(const char *name, enum replay_format *out);
const char *replay_format_name(enum replay_format f);

/* Guesses the format from the content: a JSON object with a "log" member is HAR,
 * other text starting with '{' is JSON lines, a "1 <id> ..." header followed by the
 * GoReplay separator line is gor. Returns -1 when none fits. */
int replay_guess_format(const char *data, size_t len, enum replay_format *out);

/* Parses data (len bytes) in format fmt; `file` names the input in messages. Each
 * malformed entry goes to diag (may be NULL) and is counted in out->malformed. Returns
 * -1 with a message in err only when the whole input is unusable (a HAR file that is
 * not JSON or has no log.entries). out must be zeroed; free it with
 * replay_input_free() in any case. */
int replay_parse(const char *data, size_t len, enum replay_format fmt, const char *file,
                 struct replay_input *out, replay_diag_fn diag, void *ctx, char *err,
                 size_t errlen);

void replay_input_free(struct replay_input *in);

#endif
