/* Sampling: percent → decision, by hash of a key or by a per-thread PRNG. */
#include "sample.h"

#include <string.h>

#include "util.h"

/* Decisions are made on a scale of one million so that fractional percentages
 * such as 0.5 work. */
#define SCALE 1000000u

static uint64_t rng_next(struct sample_rng *rng)
{
    /* xorshift64*: fast, good enough for sampling, private to one thread. */
    uint64_t x = rng->s ? rng->s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

bool sample_decide(double percent, const char *key, size_t keylen, struct sample_rng *rng)
{
    if (percent >= 100.0)
        return true;
    if (percent <= 0.0)
        return false;
    uint64_t threshold = (uint64_t)(percent * (SCALE / 100) + 0.5);
    uint64_t h = key ? hash64(key, keylen) : rng_next(rng);
    /* Use the high bits: multiply-shift maps h uniformly onto [0, SCALE). */
    uint64_t bucket = (uint64_t)(((unsigned __int128)h * SCALE) >> 64);
    return bucket < threshold;
}

const char *sample_query_value(const char *target, const char *name, size_t *len)
{
    const char *q = strchr(target, '?');
    if (!q)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = q + 1;
    while (*p && *p != '#') {
        size_t plen = strcspn(p, "&#");
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *len = plen - nlen - 1;
            return p + nlen + 1;
        }
        if (plen == nlen && strncmp(p, name, nlen) == 0) {
            *len = 0;
            return p + plen;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return NULL;
}
