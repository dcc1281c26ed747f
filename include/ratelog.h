/*
 * ratelog: rate-limited logging, one policy for every path the network
 * drives (OpenFlow peers, packet-ins, API clients).  Each call site has
 * its own limit (5 messages a second, bursts of 20), so one noisy peer
 * silences only the message it causes, and the suppressed count shows in
 * the next message that passes (OVS vlog_rate_limit).
 *
 *     RL_WARN("%s: bad message", name);
 */
#ifndef VMACD_RATELOG_H
#define VMACD_RATELOG_H 1

#include "openvswitch/vlog.h"

#define RATELOG_RATE 5
#define RATELOG_BURST 20
#define RATELOG_LIMIT_INIT VLOG_RATE_LIMIT_INIT(RATELOG_RATE, RATELOG_BURST)

#define RATELOG(LEVEL, ...)                                                 \
    do {                                                                    \
        static struct vlog_rate_limit ratelog_rl__ = RATELOG_LIMIT_INIT;    \
        VLOG_RL(&ratelog_rl__, LEVEL, __VA_ARGS__);                         \
    } while (0)

#define RL_ERR(...) RATELOG(VLL_ERR, __VA_ARGS__)
#define RL_WARN(...) RATELOG(VLL_WARN, __VA_ARGS__)
#define RL_INFO(...) RATELOG(VLL_INFO, __VA_ARGS__)
#define RL_DBG(...) RATELOG(VLL_DBG, __VA_ARGS__)

#endif /* ratelog.h */
