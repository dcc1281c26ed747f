/*
 * fdlimit: the process's descriptors, shared out so that OpenFlow peers can
 * never starve the API.
 *
 * At start-up, fdlimit_plan() raises the soft RLIMIT_NOFILE towards the
 * hard one if the configured bounds need more, then keeps, out of what is
 * left after the descriptors already open and a margin for everything else
 * vmacd opens (listeners, timers, the config file, logs), enough for the
 * API's connections, and gives the OpenFlow peers the rest.  When the
 * limit is too low for both, the API keeps its configured connections if
 * they take at most a quarter of what is left, else a quarter (at least 4
 * connections a listener): peers are then refused before the API ever runs
 * short.
 */
#ifndef VMACD_FDLIMIT_H
#define VMACD_FDLIMIT_H 1

#include <jansson.h>
#include <stdbool.h>

/* Descriptors kept for what is neither an API connection nor a peer. */
#define FDLIMIT_MARGIN 32

/* Descriptors one API connection may use (api.h). */
#define FDLIMIT_PER_API_CONN 3

struct fdlimit_request {
    unsigned int peers;         /* openflow.max_peers. */
    unsigned int api_conns;     /* api.max_connections, per listener. */
    unsigned int api_listeners; /* 1 or 2. */
};

struct fdlimit_plan {
    unsigned long long limit;   /* RLIMIT_NOFILE (soft) in force. */
    unsigned int open_at_start; /* Descriptors open when planned. */
    unsigned int api_conns;     /* API connections per listener. */
    unsigned int reserved_api;  /* Descriptors kept for them. */
    unsigned int peers;         /* OpenFlow peers that fit. */
    bool raised;                /* The soft limit was raised. */
};

/* Returns false with a malloc'd message in '*errp' if not even the
 * smallest API and one peer fit. */
bool fdlimit_plan(const struct fdlimit_request *, struct fdlimit_plan *,
                  char **errp) __attribute__((warn_unused_result));

/* {"limit", "open_at_start", "reserved_api", "margin", "peers"} */
json_t *fdlimit_to_json(const struct fdlimit_plan *);

#endif /* fdlimit.h */
