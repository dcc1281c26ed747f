/*
 * ovsdbc: vmacd's client of the local Open vSwitch database.
 *
 * It monitors the few columns vmacd reads (Open_vSwitch, Bridge, Port,
 * Interface, Controller) and makes the one write vmacd needs (a bridge's
 * fail_mode).  The protocol is libopenvswitch's own: the ovsdb-idl with the
 * generated vswitch-idl, whose jsonrpc session reconnects with backoff.
 *
 * Threads.  The IDL cannot be driven from the libev loop: it registers what
 * it waits for (its socket, reconnect and probe timers, TLS wants) with
 * OVS's thread-local poll loop, which keeps them in a private table that
 * only poll_block() reads, and poll_block() blocks.  So the IDL runs in a
 * thread of its own ("ovsdb") with OVS's poll loop, and the libev side
 * only ever sees what that thread hands over, under one mutex:
 *
 *   - the connection status (latest value wins);
 *   - the newest snapshot of the database (latest wins: a mailbox of one,
 *     so a burst of changes costs one snapshot on the libev side);
 *   - the results of writes (at most OVSDBC_MAX_WRITES in flight, so that
 *     queue is bounded too).
 *
 * An ev_async wakes the loop; a latch wakes the thread.  Callbacks run on
 * the libev side only, never from inside the call that caused them.
 *
 * Snapshots are immutable and refcounted: a consumer may keep one (and
 * look things up in it) for as long as it likes, whatever the database
 * does meanwhile.  A new snapshot is handed over only when its content
 * differs from the previous one, so a reconnect that finds the same
 * database changes nothing.
 */
#ifndef VMACD_OVSDBC_H
#define VMACD_OVSDBC_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/types.h"
#include "ovs-atomic.h"
#include "uuid.h"

struct ev_loop;
struct json_t;
struct ovsdbc;

/* Writes in flight at most (ovsdbc_set_fail_mode() says EAGAIN beyond). */
#define OVSDBC_MAX_WRITES 64

/* The snapshot model. */

/* Bridge fail_mode column.  UNSET behaves as STANDALONE in OVS. */
enum ovsdbc_fail_mode {
    OVSDBC_FAIL_UNSET,
    OVSDBC_FAIL_STANDALONE,
    OVSDBC_FAIL_SECURE,
};

/* Port vlan_mode column.  UNSET: OVS picks "access" for a port with a tag
 * and "trunk" for one without. */
enum ovsdbc_vlan_mode {
    OVSDBC_VLAN_UNSET,
    OVSDBC_VLAN_ACCESS,
    OVSDBC_VLAN_TRUNK,
    OVSDBC_VLAN_NATIVE_TAGGED,
    OVSDBC_VLAN_NATIVE_UNTAGGED,
    OVSDBC_VLAN_DOT1Q_TUNNEL,
};

struct ovsdbc_port;
struct ovsdbc_bridge;

struct ovsdbc_iface {
    char *name;
    struct uuid uuid;
    int64_t ofport;        /* OpenFlow port number, or -1: none (not assigned
                            * yet, or the interface failed). */
    char *iface_id;        /* external_ids:iface-id, or NULL. */
    bool has_attached_mac; /* external_ids:attached-mac is a MAC. */
    struct eth_addr attached_mac;
    const struct ovsdbc_port *port; /* The port it belongs to. */
};

struct ovsdbc_port {
    char *name;
    struct uuid uuid;
    int tag; /* 0..4095, or -1: no tag. */
    size_t n_trunks;
    uint16_t *trunks; /* Ascending; empty: every VLAN (for a trunk). */
    enum ovsdbc_vlan_mode vlan_mode;
    size_t n_ifaces;
    struct ovsdbc_iface *ifaces;        /* By name. */
    const struct ovsdbc_bridge *bridge; /* The bridge it belongs to. */
};

struct ovsdbc_bridge {
    char *name;
    struct uuid uuid;
    bool has_datapath_id; /* ovs-vswitchd fills it in once it runs it. */
    uint64_t datapath_id;
    enum ovsdbc_fail_mode fail_mode;
    size_t n_controllers;
    char **controllers; /* Controller targets, sorted. */
    size_t n_ports;
    struct ovsdbc_port *ports; /* By name. */
};

struct ovsdbc_snap {
    struct ovs_refcount ref;
    uint64_t seq; /* 1 for the first snapshot of a client, then +1. */

    /* The Open_vSwitch row (missing before "ovs-vsctl init"). */
    bool has_ovs_row;
    char *ovs_version; /* Or NULL (ovs-vswitchd fills these in). */
    char *db_version;
    char *system_id;  /* external_ids:system-id, or NULL. */
    int64_t next_cfg; /* Configuration asked for... */
    int64_t cur_cfg;  /* ...and the one ovs-vswitchd applied. */

    size_t n_bridges;
    struct ovsdbc_bridge *bridges; /* By name. */
};

struct ovsdbc_snap *ovsdbc_snap_ref(const struct ovsdbc_snap *);
void ovsdbc_snap_unref(struct ovsdbc_snap *); /* Accepts NULL. */

/* Lookups (names compare bytewise, as OVSDB does). */
const struct ovsdbc_bridge *ovsdbc_snap_bridge(const struct ovsdbc_snap *,
                                               const char *name);
const struct ovsdbc_bridge *
ovsdbc_snap_bridge_by_dpid(const struct ovsdbc_snap *, uint64_t dpid);
const struct ovsdbc_port *ovsdbc_bridge_port(const struct ovsdbc_bridge *,
                                             const char *name);
const struct ovsdbc_iface *ovsdbc_bridge_iface(const struct ovsdbc_bridge *,
                                               const char *name);
/* Returns how many interfaces of 'br' carry external_ids:iface-id
 * 'iface_id' (more than one is a misconfiguration the caller reports) and
 * sets '*first' to the first of them by port and interface name (NULL when
 * none). */
size_t ovsdbc_bridge_find_iface_id(const struct ovsdbc_bridge *,
                                   const char *iface_id,
                                   const struct ovsdbc_iface **first);

/* True if the two snapshots have the same content ('seq' aside). */
bool ovsdbc_snap_equal(const struct ovsdbc_snap *, const struct ovsdbc_snap *);

const char *ovsdbc_fail_mode_name(enum ovsdbc_fail_mode); /* Column value. */
const char *ovsdbc_vlan_mode_name(enum ovsdbc_vlan_mode); /* Or NULL. */

/* The snapshot as JSON (jansson): {"open_vswitch": {...} or null,
 * "bridges": [...]}, the shape documented in docs/api.md (GET
 * /v1/ovsdb). */
struct json_t *ovsdbc_snap_to_json(const struct ovsdbc_snap *);

/* The client. */

enum ovsdbc_state {
    OVSDBC_CONNECTING, /* No session: connecting, or backing off. */
    OVSDBC_SYNCING,    /* Connected, waiting for the database's contents. */
    OVSDBC_SYNCED,     /* Connected; the snapshot is current. */
};

const char *ovsdbc_state_name(enum ovsdbc_state);

struct ovsdbc_status {
    enum ovsdbc_state state;
    unsigned int n_connects;    /* Sessions that came up. */
    unsigned int n_disconnects; /* Sessions that went down. */
    int last_error; /* Of the latest failed connection attempt or lost
                     * session: a positive errno, EOF, or 0. */
};

enum ovsdbc_write_result {
    OVSDBC_WRITE_OK,        /* Done (or it was already so). */
    OVSDBC_WRITE_TRY_AGAIN, /* Not connected, or lost on the way. */
    OVSDBC_WRITE_ERROR,     /* Refused (the error says why). */
};

const char *ovsdbc_write_result_name(enum ovsdbc_write_result);

struct ovsdbc_cbs {
    /* The status changed or a new snapshot arrived (or both). */
    void (*changed)(struct ovsdbc *, void *aux);
    /* Write 'id' finished; 'error' (for TRY_AGAIN and ERROR) is a message
     * for logs and the API, valid during the call. */
    void (*write_done)(struct ovsdbc *, uint64_t id, enum ovsdbc_write_result,
                       const char *error, void *aux);
};

struct ovsdbc_options {
    const char *remote; /* "unix:PATH", "tcp:IP:PORT" or "ssl:IP:PORT". */
    /* For ssl: (OVS's stream-ssl is process-wide: one ssl: client at a
     * time). */
    const char *private_key;
    const char *certificate;
    const char *ca_cert;
};

/* Starts the client's thread, which connects to 'opts->remote' and keeps
 * retrying with backoff.  Never fails (a remote that cannot be reached
 * shows in the status). */
struct ovsdbc *ovsdbc_create(struct ev_loop *, const struct ovsdbc_options *,
                             const struct ovsdbc_cbs *, void *aux);
/* Stops and joins the thread, closes the session and frees everything.
 * Writes in flight get no callback.  Accepts NULL. */
void ovsdbc_destroy(struct ovsdbc *);

const char *ovsdbc_remote(const struct ovsdbc *);
const struct ovsdbc_status *ovsdbc_status(const struct ovsdbc *);
/* The newest snapshot (borrowed: ovsdbc_snap_ref() to keep it), or NULL
 * before the first sync.  Kept while disconnected, so it may be stale:
 * the status says. */
const struct ovsdbc_snap *ovsdbc_snapshot(const struct ovsdbc *);

/* Sets the fail_mode of the bridge named 'bridge' to 'fail_mode'
 * ("secure" or "standalone") in one transaction, and later calls
 * write_done with '*idp'.  Returns 0, or EAGAIN when OVSDBC_MAX_WRITES
 * writes are in flight (no callback then). */
int ovsdbc_set_fail_mode(struct ovsdbc *, const char *bridge,
                         enum ovsdbc_fail_mode fail_mode, uint64_t *idp)
    __attribute__((warn_unused_result));
size_t ovsdbc_n_writes(const struct ovsdbc *); /* In flight. */

/* Once at exit, after every client is destroyed: if a client ever ran,
 * stops the RCU thread of libopenvswitch that its poll loop started and
 * frees what that still held (so that valgrind sees nothing left). */
void ovsdbc_exit(void);

#endif /* ovsdbc.h */
