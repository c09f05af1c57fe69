/* JUnit XML rendering of a report for CI systems: one testsuite, one testcase per
 * endpoint, one <failure> per regression with its figures in the message. */
#ifndef DIFFD_JUNIT_H
#define DIFFD_JUNIT_H

#include "report.h"
#include "util.h"

/* Appends the XML document for r (borrowed; recomputed) to out. Every string from
 * the report is XML-escaped. Endpoints below min_compared with no regression are
 * <skipped>. */
void junit_render(const struct report *r, struct buf *out);

#endif
