/* Self-contained HTML rendering of a report: inline CSS, no script, readable offline
 * (open the file or attach it as a CI artifact). */
#ifndef DIFFD_HTML_H
#define DIFFD_HTML_H

#include "report.h"
#include "util.h"

/* Appends an HTML document for r (borrowed; recomputed) to out. Every value from
 * the report is HTML-escaped, and a Content-Security-Policy forbids scripts, so
 * hostile endpoint names or paths show as text. */
void html_render(const struct report *r, struct buf *out);

#endif
