/*
 * persist: atomic replacement of a file's contents.
 *
 * persist_write() writes the new contents to a temporary file in the same
 * directory, fsyncs it, renames it over the target and fsyncs the
 * directory.  Whatever happens (crash, SIGKILL, power loss after the
 * directory fsync), the target holds either its old or its new contents,
 * never a mix.  The new file keeps the old file's permission bits (0644 if
 * there was no old file).  Safe to call from any thread.
 */
#ifndef VMACD_PERSIST_H
#define VMACD_PERSIST_H 1

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "openvswitch/compiler.h"

struct verror;

/* Replaces 'path' with 'len' bytes of 'data'.  Returns 0, or an errno and
 * fills 'e' (the target is then unchanged and no temporary file is left
 * behind). */
int persist_write(const char *path, const char *data, size_t len,
                  struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Writes 'json' to 'path' with persist_write(), pretty-printed (2-space
 * indent, keys in insertion order) and ending with a newline. */
int persist_write_json(const char *path, const json_t *json, struct verror *e)
    OVS_WARN_UNUSED_RESULT;

/* The same, with the contents written by 'write' into 'f' (a temporary
 * file); 'write' returns 0 or an errno. */
int persist_write_with(const char *path, int (*write)(FILE *f, void *aux),
                       void *aux, struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Writes all of 'data' to 'fd'.  Returns 0 or an errno value. */
int persist_write_all(int fd, const char *data, size_t len)
    OVS_WARN_UNUSED_RESULT;

#endif /* persist.h */
