/* Functions on trials (types in trial-t.h). */
#ifndef DIFFD_TRIAL_H
#define DIFFD_TRIAL_H

#include <stddef.h>

#include "trial-t.h"

/* A new, zeroed trial; caller frees with trial_free(). */
struct trial *trial_new(void);
/* Releases the trial and everything it owns. Accepts NULL. */
void trial_free(struct trial *t);

/* Bytes the trial holds (request and response bodies and headers): what it
 * costs the analysis queue. */
size_t trial_bytes(const struct trial *t);

#endif
