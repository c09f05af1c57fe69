/* Sampling decisions: which requests become trials. Random by default; with
 * --sample-key, a hash of the key's value decides, so the same key always gets
 * the same decision (GoReplay's consistent sampling). */
#ifndef DIFFD_SAMPLE_H
#define DIFFD_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-thread pseudo-random state; seed with any non-zero value. */
struct sample_rng {
    uint64_t s;
};

/* True when a request with this key (or, with key == NULL, a random draw from
 * rng) falls inside `percent` (0–100). 0 never samples, 100 always does. */
bool sample_decide(double percent, const char *key, size_t keylen, struct sample_rng *rng);

/* The raw value of query parameter `name` in a request target ("/p?a=1&b=2"),
 * or NULL. *len receives its length. Borrows target. */
const char *sample_query_value(const char *target, const char *name, size_t *len);

#endif
