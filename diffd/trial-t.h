/* The types of a trial (DESIGN §3): one sampled request and what each of the
 * three backends answered. Types only, no functions: the proxy fills a trial
 * while its legs run, then hands it to the analysis threads, which compare it
 * and keep samples of it (samples.h) — each side includes this header and not
 * the other's.
 *
 * Ownership: a struct trial owns everything it points to (the request, each
 * leg's response and reason phrase); trial_free() (analysis.h) releases it.
 * Its route view borrows from the ruleset in force when the request came in,
 * which liverules keeps alive until shutdown. */
#ifndef DIFFD_TRIAL_T_H
#define DIFFD_TRIAL_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "route.h"

/* Where a trial's request came from (the report counts trials per source). */
enum trial_source {
    TRIAL_SOURCE_PROXY, /* a client of the proxy listener (a mirror, a replay) */
    TRIAL_SOURCE_VXLAN, /* packets of a VXLAN mirror session */
    TRIAL_SOURCE_PCAP,  /* a capture file replayed with its recorded answers */
    TRIAL_SOURCES,
};

/* One backend's part of a trial. */
struct trial_leg {
    bool active;   /* part of the trial: sent (or, observed, seen on the wire) */
    bool observed; /* the answer was observed on the wire, not called */
    struct http_response resp;
    char *reason; /* the status line's reason phrase, or NULL */
};

struct trial {
    char id[48];
    enum trial_source source;
    struct http_request req;
    struct route_result route; /* endpoint name and the rules that apply */
    struct trial_leg legs[ROLE_COUNT];
    uint64_t started_us; /* monotonic time the request was read */
    /* Hand-over to the analysis threads. */
    size_t bytes;       /* bodies and headers held, for --analysis-queue-bytes */
    struct trial *next; /* the queue's link */
};

#endif
