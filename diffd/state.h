/* The --state file (DESIGN §6): statistics, samples and rule match counts written atomically
 * (temporary file, fsync, rename, fsync of the directory) and read back at
 * start. The file is a header line `DIFFD-STATE 1 <bytes> <crc32>` followed
 * by a JSON document; a file whose header, length, checksum or JSON is wrong
 * is refused, never silently dropped. */
#ifndef DIFFD_STATE_H
#define DIFFD_STATE_H

#include <stddef.h>

struct stats;
struct sample_store;
struct ruleset;

/* Writes s, samples and the match counts of rules (both may be NULL) to path.
 * Returns 0, or -1 with a message naming the file. Borrows everything. */
int state_save(const char *path, const struct stats *s, const struct sample_store *samples,
               const struct ruleset *rules, char *err, size_t errlen);

/* Reads path into s (merged into what it holds) and samples, and adds the
 * saved match counts to the rules of `rules` (may be NULL) that are still
 * written the same at the same file and line; counts of rules changed since
 * are dropped. Returns 0 when loaded, 1 when the file does not exist, -1 when
 * it cannot be read or is corrupt (err names the file and the problem). */
int state_load(const char *path, struct stats *s, struct sample_store *samples,
               const struct ruleset *rules, char *err, size_t errlen);

#endif
