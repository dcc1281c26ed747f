/*
 * ifname: the rule for bridge and port names (Linux interface names).
 *
 * One rule for the config's names (config-check.c) and for the names
 * switches give their bridges (switches.c): 1 to IFNAME_MAX_LEN bytes of
 * valid UTF-8, not "." or "..", no '/', ':', space or control character.
 */
#ifndef VMACD_IFNAME_H
#define VMACD_IFNAME_H 1

#include <stddef.h>

#define IFNAME_MAX_LEN 15

/* Returns NULL if 'name' is a valid interface name, else the rule it
 * breaks (a static string that reads inside parentheses after "is not a
 * valid interface name", e.g. "no '/', ':', spaces or control
 * characters"). */
const char *ifname_problem(const char *name);

/* Writes 'name' into 'buf' for a log line: printable ASCII as it is,
 * '\' and every other byte as \xNN, cut to fit 'size' (at least 1).
 * Returns 'buf'. */
char *ifname_escape(const char *name, char *buf, size_t size);

#endif /* ifname.h */
