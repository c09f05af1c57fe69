/* Samples: example trials kept for people to look at (DESIGN §6) — the
 * request, the three responses and their differences, redacted by the rules
 * before they are stored, bodies capped at 64 KiB, differences listed up to
 * the caps below. Each analysis thread keeps its own
 * store; a global budget (--max-samples) bounds them all together. A sample
 * is stored as its JSON text, ready to serve. */
#ifndef DIFFD_SAMPLES_H
#define DIFFD_SAMPLES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

#define SAMPLES_BODY_CAP (64 * 1024)
/* Differences listed per side of a sample: per field path, in all, and the
 * largest value written (JSON bytes). The rest are counted in not_listed. */
#define SAMPLES_DIFFS_PER_FIELD 20
#define SAMPLES_MAX_DIFFS 1000
#define SAMPLES_VALUE_CAP 4096

struct trial;
struct jsondiff;

struct sample {
    char *id;
    char *endpoint;
    char *json; /* the whole sample document */
};

struct sample_store {
    struct sample *v;
    size_t n, cap;
};

/* Shared limit on the number of samples of all stores. */
struct sample_budget {
    atomic_long used;
    long max;
};

/* Takes one unit of the budget; false when it is spent. */
bool samples_budget_take(struct sample_budget *b);

/* Builds the sample document of a completed trial: request and responses
 * copied, redact/redact-header rules of view applied, bodies capped at
 * SAMPLES_BODY_CAP, differences listed (values under redact rules masked).
 * noise may be NULL (no secondary). Caller frees the result with free(). */
char *samples_build(const struct trial *t, const struct rules_view *view,
                    const struct jsondiff *raw, const struct jsondiff *noise, size_t max_body);

/* Adds a sample (takes ownership of json; copies id and endpoint). */
void samples_put(struct sample_store *s, const char *id, const char *endpoint, char *json);
/* The sample with that id, or NULL. Borrowed. */
const struct sample *samples_get(const struct sample_store *s, const char *id);
/* Copies every sample of src into dst. */
void samples_copy_into(struct sample_store *dst, const struct sample_store *src);
void samples_clear(struct sample_store *s);

#endif
