/*
 * vsdb: vmacd's side of the Open vSwitch database.
 *
 * When the configuration has "ovsdb", it runs the OVSDB client (ovsdbc.h),
 * logs its connects and disconnects (rate-limited), and looks after the
 * fail_mode of the bridges the engine looks after (vsdb_set_bridges()):
 *
 *   - "fail_mode": "secure": every such bridge that is not secure is set
 *     to secure (logged, and an API event), again whenever someone sets it
 *     back, with a backoff after failed writes;
 *   - "fail_mode": "check": vmacd writes nothing and reports such bridges
 *     (log warning, API).
 *
 * Without "ovsdb" it logs once that fail mode, iface ids and VLAN tags are
 * not checked.  "GET /v1/ovsdb" shows the connection, what the database
 * holds (bridges, ports, interfaces) and the state of each bridge vmacd
 * looks after.
 */
#ifndef VMACD_VSDB_H
#define VMACD_VSDB_H 1

struct api;
struct config;
struct ev_loop;
struct ovsdbc;
struct sset;
struct vsdb;

/* Starts the client if 'cfg' (borrowed) has "ovsdb". */
struct vsdb *vsdb_create(struct ev_loop *, const struct config *cfg);
/* Stops the client (joins its thread).  Accepts NULL. */
void vsdb_destroy(struct vsdb *);

/* The configuration changed (borrowed): a new remote or TLS files restart
 * the client, a new fail_mode applies at once. */
void vsdb_set_config(struct vsdb *, const struct config *cfg);

/* The bridges to look after (borrowed): those the config lists and those
 * that carry an alias (engine_on_bridges()); applies at once. */
void vsdb_set_bridges(struct vsdb *, const struct sset *bridges);

/* Calls 'cb' with each new snapshot of the database once synced (borrowed;
 * ovsdbc_snap_ref() to keep it), and with NULL when the client stops (the
 * config lost "ovsdb").  A lost connection tells nothing: the last
 * snapshot stays the best knowledge. */
struct ovsdbc_snap;
typedef void vsdb_snapshot_cb(const struct ovsdbc_snap *, void *aux);
void vsdb_on_snapshot(struct vsdb *, vsdb_snapshot_cb *, void *aux);

/* Registers "GET /v1/ovsdb" and publishes events on 'api'. */
void vsdb_attach_api(struct vsdb *, struct api *);

/* The client, or NULL without "ovsdb" (for the engine). */
struct ovsdbc *vsdb_client(const struct vsdb *);

#endif /* vsdb.h */
