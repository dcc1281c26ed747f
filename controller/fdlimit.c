/*
 * fdlimit: descriptors shared out between the API and the OpenFlow peers
 * (see fdlimit.h).
 */
#include "fdlimit.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "util.h"

#define MIN_API_CONNS 4

/* Descriptors open now (those of /proc/self/fd, less the one reading
 * it). */
static unsigned int
count_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned int n = 0;
    if (!d) {
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n ? n - 1 : 0;
}

bool
fdlimit_plan(const struct fdlimit_request *req, struct fdlimit_plan *plan,
             char **errp)
{
    unsigned long long per_conn
        = (unsigned long long) FDLIMIT_PER_API_CONN * req->api_listeners;
    struct rlimit rl;

    *errp = NULL;
    memset(plan, 0, sizeof *plan);
    plan->open_at_start = count_open();
    if (getrlimit(RLIMIT_NOFILE, &rl)) {
        *errp = xasprintf("getrlimit: %s", ovs_strerror(errno));
        return false;
    }

    unsigned long long fixed
        = (unsigned long long) plan->open_at_start + FDLIMIT_MARGIN;
    unsigned long long need = fixed + per_conn * req->api_conns + req->peers;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need
        && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = rl;
        raised.rlim_cur = MIN(need, rl.rlim_max);
        if (!setrlimit(RLIMIT_NOFILE, &raised)) {
            rl = raised;
            plan->raised = true;
        }
    }
    plan->limit = rl.rlim_cur;

    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        plan->api_conns = req->api_conns;
        plan->peers = req->peers;
    } else {
        unsigned long long left
            = rl.rlim_cur > fixed ? rl.rlim_cur - fixed : 0;
        unsigned long long api = MIN(req->api_conns, left / 4 / per_conn);
        api = MAX(api, MIN(MIN_API_CONNS, req->api_conns));
        if (left <= api * per_conn) {
            *errp = xasprintf("the descriptor limit (RLIMIT_NOFILE %llu) "
                              "is too low: %u descriptors are open, %d are "
                              "kept for files and timers, %llu for %llu "
                              "API connections, and none are left for "
                              "OpenFlow peers",
                              (unsigned long long) rl.rlim_cur,
                              plan->open_at_start, FDLIMIT_MARGIN,
                              api * per_conn, api);
            return false;
        }
        plan->api_conns = api;
        plan->peers = MIN(req->peers, left - api * per_conn);
    }
    plan->reserved_api = plan->api_conns * per_conn;
    return true;
}

json_t *
fdlimit_to_json(const struct fdlimit_plan *plan)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I}", "limit", (json_int_t) plan->limit,
        "open_at_start", (json_int_t) plan->open_at_start, "reserved_api",
        (json_int_t) plan->reserved_api, "margin", (json_int_t) FDLIMIT_MARGIN,
        "peers", (json_int_t) plan->peers);
}
