/* Collection of statistics shards from their owners (collect.h). */
#include "collect.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "samples.h"
#include "stats.h"
#include "util.h"

struct collect {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* the requester + each owner not yet done */
    int remaining; /* owners posted and not yet done */
    bool failed;   /* an owner could not be asked: the result would lack its part */
    enum collect_op op;
    bool want_samples;
    /* One part per owner: part i is written only by owner i, so filling it
     * takes no lock. */
    struct stats **parts;
    struct sample_store *part_samples;
    int nparts;
};

struct collect *collect_new(enum collect_op op, int nparts, bool want_samples, size_t max_endpoints,
                            size_t samples_per_field)
{
    struct collect *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->refs = 1;
    c->op = op;
    c->want_samples = want_samples;
    c->nparts = nparts;
    if (op == COLLECT_MERGE) {
        c->parts = xcalloc((size_t)(nparts ? nparts : 1), sizeof(*c->parts));
        c->part_samples = xcalloc((size_t)(nparts ? nparts : 1), sizeof(*c->part_samples));
        for (int i = 0; i < nparts; i++)
            c->parts[i] = stats_new(max_endpoints, samples_per_field);
    }
    return c;
}

void collect_unref(struct collect *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return;
    for (int i = 0; c->parts && i < c->nparts; i++) {
        stats_free(c->parts[i]);
        samples_clear(&c->part_samples[i]);
    }
    free(c->parts);
    free(c->part_samples);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void collect_post(struct collect *c, int idx)
{
    (void)idx;
    pthread_mutex_lock(&c->mu);
    c->refs++;
    c->remaining++;
    pthread_mutex_unlock(&c->mu);
}

void collect_unpost(struct collect *c, int idx)
{
    (void)idx;
    pthread_mutex_lock(&c->mu);
    c->refs--;
    c->remaining--;
    c->failed = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void collect_serve(struct collect *c, int idx, struct stats *shard, struct sample_store *samples)
{
    if (c->op == COLLECT_MERGE) {
        stats_merge(c->parts[idx], shard);
        if (c->want_samples)
            samples_copy_into(&c->part_samples[idx], samples);
    } else {
        stats_reset(shard);
        samples_clear(samples);
    }
    pthread_mutex_lock(&c->mu);
    c->remaining--;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    collect_unref(c);
}

int collect_wait(struct collect *c, long timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (c->remaining > 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != 0)
            break;
    int rc = c->remaining > 0 || c->failed ? -1 : 0;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void collect_result(struct collect *c, struct stats *acc, struct sample_store *samples)
{
    for (int i = 0; c->parts && i < c->nparts; i++) {
        stats_merge(acc, c->parts[i]);
        if (samples)
            samples_copy_into(samples, &c->part_samples[i]);
    }
}
