/* The live report (DESIGN §7, reports/README.md): merged statistics rendered
 * as the report JSON, with every derived figure (relative/absolute, latency
 * quantiles, regressions, verdict) computed by regress.h — the same math the
 * CI gate applies to merged reports. */
#ifndef DIFFD_REPORTGEN_H
#define DIFFD_REPORTGEN_H

#include "config.h"
#include "util.h"

struct stats;
struct ruleset;

/* Appends the report of s to out. Borrows everything; rules may be NULL. */
void reportgen_write(struct buf *out, const struct stats *s, const struct config *cfg,
                     const struct ruleset *rules);

#endif
