/*
 * statedump: SIGUSR1's state dump (engine_state_dump()'s JSON: status,
 * aliases with their masters and members' health, bridges), written either
 * to a file or to the log.
 */
#ifndef VMACD_STATEDUMP_H
#define VMACD_STATEDUMP_H 1

#include <jansson.h>

/* Writes 'dump' to 'path' as indented JSON, replacing the file atomically
 * (a temporary file in the same directory, then rename()), mode 0640.
 * Returns NULL, or a malloc'd message (and 'path' is left as it was). */
char *statedump_write_file(const json_t *dump, const char *path)
    __attribute__((warn_unused_result));

/* Logs 'dump' at INFO, one line per part, each with compact JSON:
 * "state dump: status {...}", one "state dump: alias NAME {...}" per alias
 * and one "state dump: bridge NAME {...}" per bridge, between "state dump
 * begins" and "state dump ends (N aliases, M bridges)". */
void statedump_log(const json_t *dump);

#endif /* statedump.h */
