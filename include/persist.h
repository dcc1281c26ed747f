/*
 * persist: atomic replacement of a file's contents.
 *
 * persist_write() writes the new contents to a temporary file in the same
 * directory, fsyncs it, renames it over the target and fsyncs the
 * directory.  Whatever happens (crash, SIGKILL, power loss after the
 * directory fsync), the target holds either its old or its new contents,
 * never a mix.  The new file keeps the old file's permission bits (0644 if
 * there was no old file).
 */
#ifndef VMACD_PERSIST_H
#define VMACD_PERSIST_H 1

#include <jansson.h>
#include <stddef.h>

/* Replaces 'path' with 'len' bytes of 'data'.  Returns NULL on success,
 * otherwise a malloc'd message (the target is then unchanged and no
 * temporary file is left behind). */
char *persist_write(const char *path, const char *data, size_t len)
    __attribute__((warn_unused_result));

/* Writes 'json' to 'path' with persist_write(), pretty-printed (2-space
 * indent, keys in insertion order) and ending with a newline. */
char *persist_write_json(const char *path, const json_t *json)
    __attribute__((warn_unused_result));

#endif /* persist.h */
