/* What a running `diffd serve` shares between its threads: the configuration,
 * the rules in force, the settings the admin API changes at run time, the
 * results restored from --state and the analysis pool. Read-mostly: fields are
 * set before the threads start; the atomics are what changes later. */
#ifndef DIFFD_SERVE_H
#define DIFFD_SERVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "samples.h"

struct liverules;
struct stats;
struct analysis;

struct serve_ctx {
    const struct config *cfg;
    struct liverules *rules; /* the rules in force (reloadable) */
    /* Runtime settings (PATCH /api/v1/config): read by workers per request. */
    atomic_uint_fast64_t sample_ppm; /* sampling rate, parts per million */
    atomic_bool paused;              /* true: nothing is compared */
    struct sample_budget sample_budget;
    /* Results restored from --state (or NULL): added to every report. Only
     * the admin thread touches them after start. */
    struct stats *base;
    struct sample_store base_samples;
    struct analysis *analysis; /* the comparison threads */
    int access_log_fd;         /* -1 when off */
    char id_prefix[16];
};

#endif
