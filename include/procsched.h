#ifndef VMACD_PROCSCHED_H
#define VMACD_PROCSCHED_H 1

/*
 * procsched: the daemon's CPU scheduling and memory locking.
 *
 * Health probes every 10 ms are only as punctual as the kernel lets the
 * event loop run: on a busy host an ordinary (SCHED_OTHER) process can wait
 * milliseconds for a CPU.  vmacd --realtime-priority puts the whole process
 * in SCHED_FIFO (like keepalived's vrrp_rt_priority) and --mlockall keeps
 * its pages resident (like ovs-vswitchd --mlockall).  Both need privileges
 * (CAP_SYS_NICE, CAP_IPC_LOCK): when asked for and refused, vmacd does not
 * start, so an operator never believes a setting is in force when it is
 * not.
 */

#include <stdbool.h>

#include <jansson.h>

#define PROCSCHED_MIN_PRIO 1
#define PROCSCHED_MAX_PRIO 99

/* Parses a --realtime-priority argument: 1..99.  Returns false (and
 * leaves '*prio' alone) when 'arg' is not such a number. */
bool procsched_parse_priority(const char *arg, int *prio);

/* Applies SCHED_FIFO at 'prio' (when prio > 0) and mlockall(MCL_CURRENT |
 * MCL_FUTURE) (when 'lock').  Returns NULL, or an error message for the
 * caller to free. */
char *procsched_apply(int prio, bool lock);

/* The process's scheduling as the kernel reports it now: {"policy":
 * "other"|"fifo"|"rr"|..., "priority": N, "nice": N, "memory_locked":
 * bool}. */
json_t *procsched_to_json(void);

#endif /* procsched.h */
