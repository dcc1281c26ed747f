/*
 * fgtest: what the unit tests of flowgen share (tests/unit/test_flowgen.c,
 * test_flowgen_vlan.c).  Each assert fails the running cmocka test, with
 * both sides as text and how they differ.
 */
#ifndef VMACD_FGTEST_H
#define VMACD_FGTEST_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/ofp-protocol.h"

struct fs_part;
struct svec;

/* The flows of 'p' as text, one per line, in order, appended to 'out'; the
 * group of group part 'p' as one line (malloc'd). */
void fgtest_part_lines(const struct fs_part *p, uint32_t cookie_prefix,
                       struct svec *out);
char *fgtest_group_line(const struct fs_part *p);

/* A part built from ovs-ofctl lines (flows, or one group), as a switch
 * would take them. */
struct fs_part *fgtest_part_from_lines(uint32_t id, const char *const *lines,
                                       size_t n);
struct fs_part *fgtest_group_from_line(const char *line);

void fgtest_assert_parts_equal(const struct fs_part *got,
                               const struct fs_part *want);
void fgtest_assert_flows(const struct fs_part *got, const char *const *lines,
                         size_t n);
void fgtest_assert_group(const struct fs_part *got, const char *line);

/* Does 'p' have a flow equal to 'line' (actions included)?  One of
 * priority 'priority'? */
bool fgtest_has_flow(const struct fs_part *p, const char *line);
bool fgtest_has_priority(const struct fs_part *p, uint16_t priority);

/* The trip through a switch for 'protocol' gives 'p' back. */
void fgtest_assert_roundtrip(const struct fs_part *p,
                             enum ofputil_protocol protocol);

/* Golden file 'path' holds 'want' (flowgen's output for 'what'), and each
 * of its flow and group lines loads as what vmacd installs; with
 * VMACD_UPDATE_GOLDEN=1 in the environment it is written first. */
void fgtest_golden(const char *path, const char *want, const char *what);

#endif /* fgtest.h */
