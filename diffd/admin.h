/* The admin listener (DESIGN §8): its own thread and event loop, serving
 * /healthz now; the report, dashboard and metrics plug in here. It reads the
 * workers' counters (atomics) and never blocks them. */
#ifndef DIFFD_ADMIN_H
#define DIFFD_ADMIN_H

#include <stddef.h>

struct worker;
struct serve_ctx;
struct admin;

/* Binds addr:port (port 0 picks one; *bound_port receives it) and starts the
 * admin thread. Returns NULL with a message naming the address on error. */
struct admin *admin_start(struct serve_ctx *ctx, struct worker *workers, int n_workers,
                          const char *addr, int port, int *bound_port, char *err, size_t errlen);
/* Stops periodic snapshots (shutdown has begun; the final state is written
 * by the caller once the workers stopped). Accepts NULL. */
void admin_quiesce(struct admin *a);
/* Stops the thread and frees everything; accepts NULL. */
void admin_stop(struct admin *a);

#endif
