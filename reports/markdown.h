/* Markdown rendering of a report for a pull-request comment: a verdict line, a table
 * of endpoints and the list of regressions. */
#ifndef DIFFD_MARKDOWN_H
#define DIFFD_MARKDOWN_H

#include "report.h"
#include "util.h"

/* Appends the Markdown for r (borrowed; recomputed) to out. Text from traffic
 * (endpoint names, field paths) has every ASCII punctuation character
 * backslash-escaped, so it can neither break the table (`|`) nor inject HTML or
 * links; line breaks become spaces. */
void markdown_render(const struct report *r, struct buf *out);

/* Appends s escaped as Markdown inline text (see above). */
void markdown_escape(struct buf *out, const char *s);

#endif
