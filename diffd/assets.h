/* The dashboard's files (web/), embedded at build time by
 * tools/embed_assets.py into build/gen/assets.c. */
#ifndef DIFFD_ASSETS_H
#define DIFFD_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path; /* URL path, "/index.html" */
    const char *mime;
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted content hash */
};

/* n_assets entries, then a zeroed one. */
extern const struct asset assets[];
extern const size_t n_assets;

#endif
