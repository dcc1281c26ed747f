/*
 * logctl: vmacd's log levels at run time, through the API (in the spirit of
 * "ovs-appctl vlog/list" and "vlog/set"; vmacctl log list|set):
 *
 *   GET /v1/log   {"destinations": ["console", "syslog", "file"],
 *                  "modules": {"api": {"console": "info", "syslog": "off",
 *                                      "file": "off"}, ...}}
 *   PUT /v1/log   {"set": ["engine:dbg", "syslog:info", ...]} (or one
 *                 string): each entry is a vlog spec, MODULE, DESTINATION
 *                 and LEVEL in any order separated by ':' (a missing
 *                 module or destination means all; a missing level dbg),
 *                 as "vmacd -v" takes them.  All entries are checked and
 *                 applied, or none is (400 names the entry).  Replies with
 *                 the levels, as GET.
 *
 * Log patterns and the syslog facility stay command-line options.
 */
#ifndef VMACD_LOGCTL_H
#define VMACD_LOGCTL_H 1

#include <jansson.h>

struct api;

/* Registers GET and PUT /v1/log on 'api'. */
void logctl_register(struct api *);

/* The levels, as GET /v1/log returns them. */
json_t *logctl_levels_json(void);

/* Applies the vlog specs in 'specs' (an array of strings), all or none.
 * Returns NULL, or a malloc'd message naming the entry ("set[1]: ...")
 * and changes nothing. */
char *logctl_set(const json_t *specs) __attribute__((warn_unused_result));

#endif /* logctl.h */
