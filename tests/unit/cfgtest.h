/*
 * cfgtest: the config parsers for unit tests, with the convention tests
 * check most easily: the config, or NULL and a malloc'd message in
 * '*errp' (NULL on success).
 */
#ifndef VMACD_CFGTEST_H
#define VMACD_CFGTEST_H 1

#include <jansson.h>

struct config;

struct config *cfgtest_parse(const char *text, const char *origin,
                             char **errp);
struct config *cfgtest_parse_json(const json_t *, const char *origin,
                                  char **errp);
struct config *cfgtest_load(const char *path, char **errp);

#endif /* cfgtest.h */
