/*
 * vsdb internals, shared by vsdb.c (client lifecycle, fail mode policy)
 * and vsdb-api.c (GET /v1/ovsdb).
 */
#ifndef VMACD_VSDB_PRIVATE_H
#define VMACD_VSDB_PRIVATE_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "openvswitch/shash.h"
#include "ovsdbc.h"
#include "vsdb.h"

/* A bridge whose fail_mode vmacd looks after. */
struct vsdb_bridge {
    char *name;
    bool writing;              /* A write is in flight... */
    uint64_t write_id;         /* ...with this id. */
    enum ovsdbc_fail_mode was; /* What the write replaces. */
    unsigned int n_set;        /* Writes that succeeded. */
    double backoff;   /* Seconds before the next try, after a failure. */
    double retry_at;  /* ev_now() of the next try, or 0. */
    char *last_error; /* Of the last failed write, or NULL. */
    bool reported;    /* "check": its not being secure was logged. */
};

struct vsdb {
    struct ev_loop *loop;
    struct api *api;
    struct cfg_ovsdb *cfg; /* A copy of the config's "ovsdb", or NULL. */
    struct ovsdbc *client; /* With 'cfg'. */
    struct shash bridges;  /* Name -> struct vsdb_bridge. */
    ev_timer retry;        /* The next vsdb_bridge retry_at. */
    char *policy_logged;   /* The last log_policy() line. */

    /* The client's state as last seen, for the logs. */
    enum ovsdbc_state state;
    double state_since; /* ev_now() when it was entered. */
    bool complained;    /* A failed attempt was logged since the last
                         * connect. */
    int last_error;

    /* Who hears of new synced snapshots (vsdb_on_snapshot()). */
    vsdb_snapshot_cb *snap_cb;
    void *snap_aux;
    uint64_t epoch;      /* Clients started so far. */
    uint64_t told_epoch; /* What was told last: that client's... */
    uint64_t told_seq;   /* ...snapshot 'seq'... */
    bool told_null;      /* ...or NULL (no client). */
};

/* vsdb.c */
void vsdb_publish(struct vsdb *, const char *type, json_t *event);

/* vsdb-api.c */
void vsdb_api_routes(struct vsdb *, struct api *);
/* The warning about bridge 'b' (NULL if none), given what the database
 * says of it ('br', NULL when missing or not synced). */
char *vsdb_bridge_warning(const struct vsdb *, const struct vsdb_bridge *b,
                          const struct ovsdbc_bridge *br);

#endif /* vsdb-private.h */
