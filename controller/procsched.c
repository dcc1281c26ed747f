/*
 * procsched: SCHED_FIFO and mlockall for the daemon (see procsched.h).
 */
#include "procsched.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(procsched);

/* Whether this process called mlockall() successfully. */
static bool all_locked;

bool
procsched_parse_priority(const char *arg, int *prio)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < PROCSCHED_MIN_PRIO
        || v > PROCSCHED_MAX_PRIO) {
        return false;
    }
    *prio = v;
    return true;
}

char *
procsched_apply(int prio, bool lock)
{
    if (lock) {
        if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
            return xasprintf("--mlockall: mlockall failed (%s)",
                             ovs_strerror(errno));
        }
        all_locked = true;
        VLOG_INFO("memory locked (mlockall)");
    }
    if (prio > 0) {
        struct sched_param sp = { .sched_priority = prio };
        if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
            return xasprintf("--realtime-priority %d: sched_setscheduler "
                             "failed (%s)",
                             prio, ovs_strerror(errno));
        }
        VLOG_INFO("scheduling: SCHED_FIFO priority %d", prio);
    }
    return NULL;
}

static const char *
policy_name(int policy)
{
    switch (policy) {
    case SCHED_OTHER:
        return "other";
    case SCHED_FIFO:
        return "fifo";
    case SCHED_RR:
        return "rr";
    case SCHED_BATCH:
        return "batch";
    case SCHED_IDLE:
        return "idle";
    default:
        return "unknown";
    }
}

json_t *
procsched_to_json(void)
{
    json_t *o = json_object();
    int policy = sched_getscheduler(0);
    struct sched_param sp = { .sched_priority = 0 };
    if (policy >= 0) {
        sched_getparam(0, &sp);
    }
    json_object_set_new(o, "policy", json_string(policy_name(policy)));
    json_object_set_new(o, "priority", json_integer(sp.sched_priority));
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    json_object_set_new(o, "nice", errno ? json_null() : json_integer(nice));
    json_object_set_new(o, "memory_locked", json_boolean(all_locked));
    return o;
}
