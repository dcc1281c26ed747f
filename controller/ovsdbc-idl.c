/*
 * ovsdbc-idl: the body of ovsdbc's thread (ovsdbc.h says why there is
 * one).  It owns the ovsdb-idl and runs OVS's poll loop: run the IDL, hand
 * the libev side a new snapshot when the monitored columns changed, run
 * the writes it asked for (one transaction at a time), wait.
 *
 * Nothing here includes jansson: libopenvswitch's JSON type has accessors
 * with the same names (see the Makefile's renamed archive).
 */
#include "ovsdbc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "ovsdbc-private.h"
#include "packets.h"
#include "smap.h"
#include "stream-ssl.h"
#include "util.h"
#include "vswitch-idl.h"

VLOG_DEFINE_THIS_MODULE(ovsdbc);

/* The columns vmacd reads.  Everything else is not monitored. */
static void
add_columns(struct ovsdb_idl *idl)
{
    static const struct ovsdb_idl_column *const columns[] = {
        &ovsrec_open_vswitch_col_ovs_version,
        &ovsrec_open_vswitch_col_db_version,
        &ovsrec_open_vswitch_col_external_ids,
        &ovsrec_open_vswitch_col_next_cfg,
        &ovsrec_open_vswitch_col_cur_cfg,
        &ovsrec_bridge_col_name,
        &ovsrec_bridge_col_datapath_id,
        &ovsrec_bridge_col_fail_mode,
        &ovsrec_bridge_col_controller,
        &ovsrec_bridge_col_ports,
        &ovsrec_controller_col_target,
        &ovsrec_port_col_name,
        &ovsrec_port_col_tag,
        &ovsrec_port_col_trunks,
        &ovsrec_port_col_vlan_mode,
        &ovsrec_port_col_interfaces,
        &ovsrec_interface_col_name,
        &ovsrec_interface_col_ofport,
        &ovsrec_interface_col_external_ids,
    };
    for (size_t i = 0; i < ARRAY_SIZE(columns); i++) {
        ovsdb_idl_add_column(idl, columns[i]);
    }
}

/* Snapshots. */

static int
compare_bridge_rows(const void *a_, const void *b_)
{
    const struct ovsrec_bridge *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

static int
compare_port_rows(const void *a_, const void *b_)
{
    const struct ovsrec_port *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

static int
compare_iface_rows(const void *a_, const void *b_)
{
    const struct ovsrec_interface *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_, *const *b = b_;
    return strcmp(*a, *b);
}

static int
compare_u16(const void *a_, const void *b_)
{
    const uint16_t *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static char *
nonempty_strdup(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

static enum ovsdbc_vlan_mode
parse_vlan_mode(const char *s)
{
    static const struct {
        const char *name;
        enum ovsdbc_vlan_mode mode;
    } modes[] = {
        { "access", OVSDBC_VLAN_ACCESS },
        { "trunk", OVSDBC_VLAN_TRUNK },
        { "native-tagged", OVSDBC_VLAN_NATIVE_TAGGED },
        { "native-untagged", OVSDBC_VLAN_NATIVE_UNTAGGED },
        { "dot1q-tunnel", OVSDBC_VLAN_DOT1Q_TUNNEL },
    };
    for (size_t i = 0; s && i < ARRAY_SIZE(modes); i++) {
        if (!strcmp(s, modes[i].name)) {
            return modes[i].mode;
        }
    }
    /* The schema allows nothing else. */
    return OVSDBC_VLAN_UNSET;
}

/* A datapath_id is 16 hex digits (ovs-vswitchd writes it). */
static bool
parse_datapath_id(const char *s, uint64_t *dpid)
{
    if (!s || strlen(s) != 16) {
        return false;
    }
    uint64_t x = 0;
    for (const char *c = s; *c; c++) {
        int d = hexit_value(*c);
        if (d < 0) {
            return false;
        }
        x = (x << 4) | d;
    }
    *dpid = x;
    return true;
}

static void
build_iface(const struct ovsrec_interface *row, struct ovsdbc_port *port,
            struct ovsdbc_iface *iface)
{
    iface->name = xstrdup(row->name);
    iface->uuid = row->header_.uuid;
    iface->ofport = row->n_ofport ? row->ofport[0] : -1;
    if (iface->ofport < 1 || iface->ofport > UINT16_MAX) {
        iface->ofport = -1;
    }
    iface->iface_id
        = nonempty_strdup(smap_get(&row->external_ids, "iface-id"));
    const char *mac = smap_get(&row->external_ids, "attached-mac");
    iface->has_attached_mac
        = mac && eth_addr_from_string(mac, &iface->attached_mac);
    if (!iface->has_attached_mac) {
        iface->attached_mac = eth_addr_zero;
    }
    iface->port = port;
}

static void
build_port(const struct ovsrec_port *row, struct ovsdbc_bridge *br,
           struct ovsdbc_port *port)
{
    port->name = xstrdup(row->name);
    port->uuid = row->header_.uuid;
    port->tag
        = (row->n_tag && row->tag[0] >= 0 && row->tag[0] <= 4095 ? row->tag[0]
                                                                 : -1);
    port->trunks = xmalloc(MAX(row->n_trunks, 1) * sizeof *port->trunks);
    for (size_t i = 0; i < row->n_trunks; i++) {
        if (row->trunks[i] >= 0 && row->trunks[i] <= 4095) {
            port->trunks[port->n_trunks++] = row->trunks[i];
        }
    }
    qsort(port->trunks, port->n_trunks, sizeof *port->trunks, compare_u16);
    port->vlan_mode = parse_vlan_mode(row->vlan_mode);
    port->bridge = br;

    const struct ovsrec_interface **rows
        = xmalloc(MAX(row->n_interfaces, 1) * sizeof *rows);
    memcpy(rows, row->interfaces, row->n_interfaces * sizeof *rows);
    qsort(rows, row->n_interfaces, sizeof *rows, compare_iface_rows);
    port->n_ifaces = row->n_interfaces;
    port->ifaces = xcalloc(MAX(port->n_ifaces, 1), sizeof *port->ifaces);
    for (size_t i = 0; i < port->n_ifaces; i++) {
        build_iface(rows[i], port, &port->ifaces[i]);
    }
    free(rows);
}

static void
build_bridge(const struct ovsrec_bridge *row, struct ovsdbc_bridge *br)
{
    br->name = xstrdup(row->name);
    br->uuid = row->header_.uuid;
    br->has_datapath_id
        = parse_datapath_id(row->datapath_id, &br->datapath_id);
    br->fail_mode
        = (!row->fail_mode                     ? OVSDBC_FAIL_UNSET
           : !strcmp(row->fail_mode, "secure") ? OVSDBC_FAIL_SECURE
                                               : OVSDBC_FAIL_STANDALONE);

    br->controllers
        = xmalloc(MAX(row->n_controller, 1) * sizeof *br->controllers);
    for (size_t i = 0; i < row->n_controller; i++) {
        br->controllers[i] = xstrdup(row->controller[i]->target);
    }
    br->n_controllers = row->n_controller;
    qsort(br->controllers, br->n_controllers, sizeof *br->controllers,
          compare_strings);

    const struct ovsrec_port **rows
        = xmalloc(MAX(row->n_ports, 1) * sizeof *rows);
    memcpy(rows, row->ports, row->n_ports * sizeof *rows);
    qsort(rows, row->n_ports, sizeof *rows, compare_port_rows);
    br->n_ports = row->n_ports;
    br->ports = xcalloc(MAX(br->n_ports, 1), sizeof *br->ports);
    for (size_t i = 0; i < br->n_ports; i++) {
        build_port(rows[i], br, &br->ports[i]);
    }
    free(rows);
}

static struct ovsdbc_snap *
build_snapshot(struct ovsdb_idl *idl)
{
    struct ovsdbc_snap *snap = xzalloc(sizeof *snap);
    ovs_refcount_init(&snap->ref);

    const struct ovsrec_open_vswitch *ovs = ovsrec_open_vswitch_first(idl);
    if (ovs) {
        snap->has_ovs_row = true;
        snap->ovs_version = nonempty_strdup(ovs->ovs_version);
        snap->db_version = nonempty_strdup(ovs->db_version);
        snap->system_id
            = nonempty_strdup(smap_get(&ovs->external_ids, "system-id"));
        snap->next_cfg = ovs->next_cfg;
        snap->cur_cfg = ovs->cur_cfg;
    }

    size_t n = 0, allocated = 0;
    const struct ovsrec_bridge **rows = NULL;
    const struct ovsrec_bridge *row;
    OVSREC_BRIDGE_FOR_EACH(row, idl)
    {
        if (n >= allocated) {
            rows = x2nrealloc(rows, &allocated, sizeof *rows);
        }
        rows[n++] = row;
    }
    qsort(rows, n, sizeof *rows, compare_bridge_rows);
    snap->n_bridges = n;
    snap->bridges = xcalloc(MAX(n, 1), sizeof *snap->bridges);
    for (size_t i = 0; i < n; i++) {
        build_bridge(rows[i], &snap->bridges[i]);
    }
    free(rows);
    return snap;
}

/* Writes. */

struct thread_state {
    struct ovsdbc_shared *sh;
    struct ovsdb_idl *idl;
    struct ovsdbc_status status;
    unsigned int seqno_down;  /* IDL seqno while last not connected. */
    unsigned int seqno_built; /* IDL seqno of the last snapshot built. */
    struct ovsdbc_snap *last; /* Last snapshot handed over (a ref). */
    uint64_t snap_seq;

    /* The transaction in flight and the requests it carries. */
    struct ovsdb_idl_txn *txn;
    size_t n_batch;
    struct ovsdbc_request batch[OVSDBC_MAX_WRITES];
    struct ovsdbc_result out[OVSDBC_MAX_WRITES]; /* Results to hand over. */
    size_t n_out;
};

static void
add_result(struct thread_state *ts, uint64_t id,
           enum ovsdbc_write_result result, const char *error)
{
    ovs_assert(ts->n_out < OVSDBC_MAX_WRITES);
    struct ovsdbc_result *r = &ts->out[ts->n_out++];
    r->id = id;
    r->result = result;
    ovs_strlcpy(r->error, error ? error : "", sizeof r->error);
}

static const struct ovsrec_bridge *
find_bridge(struct ovsdb_idl *idl, const char *name)
{
    const struct ovsrec_bridge *row;
    OVSREC_BRIDGE_FOR_EACH(row, idl)
    {
        if (!strcmp(row->name, name)) {
            return row;
        }
    }
    return NULL;
}

/* Starts one transaction for the requests in ts->batch.  Requests that
 * cannot be part of it get their result at once. */
static void
start_txn(struct thread_state *ts)
{
    if (ts->status.state != OVSDBC_SYNCED) {
        for (size_t i = 0; i < ts->n_batch; i++) {
            add_result(ts, ts->batch[i].id, OVSDBC_WRITE_TRY_AGAIN,
                       "not connected to the database");
        }
        ts->n_batch = 0;
        return;
    }

    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(ts->idl);
    size_t n = 0;
    for (size_t i = 0; i < ts->n_batch; i++) {
        const struct ovsdbc_request *rq = &ts->batch[i];
        const struct ovsrec_bridge *br = find_bridge(ts->idl, rq->bridge);
        if (!br) {
            char *msg = xasprintf("no bridge named %s", rq->bridge);
            add_result(ts, rq->id, OVSDBC_WRITE_ERROR, msg);
            free(msg);
            continue;
        }
        const char *mode = ovsdbc_fail_mode_name(rq->fail_mode);
        ovsrec_bridge_set_fail_mode(br, mode[0] ? mode : NULL);
        ovsdb_idl_txn_add_comment(txn, "vmacd: fail_mode=%s on bridge %s",
                                  mode[0] ? mode : "(unset)", rq->bridge);
        ts->batch[n++] = *rq;
    }
    ts->n_batch = n;
    if (!n) {
        ovsdb_idl_txn_destroy(txn);
        return;
    }
    ts->txn = txn;
}

/* Hands the results of the transaction in flight over once it is done. */
static void
run_txn(struct thread_state *ts)
{
    enum ovsdb_idl_txn_status st = ovsdb_idl_txn_commit(ts->txn);
    enum ovsdbc_write_result result;
    const char *error = NULL;

    switch (st) {
    case TXN_INCOMPLETE:
        return;
    case TXN_SUCCESS:
    case TXN_UNCHANGED:
        result = OVSDBC_WRITE_OK;
        break;
    case TXN_TRY_AGAIN:
        result = OVSDBC_WRITE_TRY_AGAIN;
        error = "the database changed or the connection was lost";
        break;
    case TXN_UNCOMMITTED:
    case TXN_ABORTED:
    case TXN_NOT_LOCKED:
    case TXN_ERROR:
    default:
        result = OVSDBC_WRITE_ERROR;
        error = ovsdb_idl_txn_get_error(ts->txn);
        break;
    }
    for (size_t i = 0; i < ts->n_batch; i++) {
        add_result(ts, ts->batch[i].id, result, error);
    }
    ts->n_batch = 0;
    ovsdb_idl_txn_destroy(ts->txn);
    ts->txn = NULL;
}

/* The connection. */

static void
track_connection(struct thread_state *ts)
{
    struct ovsdbc_status *s = &ts->status;
    struct ovsdb_idl *idl = ts->idl;
    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    enum ovsdbc_state old = s->state;

    if (!ovsdb_idl_is_connected(idl)) {
        ts->seqno_down = seqno;
        s->state = OVSDBC_CONNECTING;
    } else {
        /* Every monitor reply (the first contents of a session) bumps the
         * seqno: a session is synced once it moved past the value it had
         * while disconnected. */
        s->state = seqno != ts->seqno_down ? OVSDBC_SYNCED : OVSDBC_SYNCING;
    }
    if (old == OVSDBC_CONNECTING && s->state != OVSDBC_CONNECTING) {
        s->n_connects++;
    } else if (old != OVSDBC_CONNECTING && s->state == OVSDBC_CONNECTING) {
        s->n_disconnects++;
    }
    s->last_error = ovsdb_idl_get_last_error(idl);
}

/* Builds a snapshot if the IDL changed; returns it if its content differs
 * from the last one handed over (a new reference), else NULL. */
static struct ovsdbc_snap *
maybe_snapshot(struct thread_state *ts)
{
    unsigned int seqno = ovsdb_idl_get_seqno(ts->idl);
    if (ts->status.state != OVSDBC_SYNCED || seqno == ts->seqno_built) {
        return NULL;
    }
    ts->seqno_built = seqno;
    struct ovsdbc_snap *snap = build_snapshot(ts->idl);
    if (ovsdbc_snap_equal(snap, ts->last)) {
        ovsdbc_snap_free__(snap);
        return NULL;
    }
    snap->seq = ++ts->snap_seq;
    ovsdbc_snap_unref(ts->last);
    ts->last = ovsdbc_snap_ref(snap);
    return snap;
}

/* Exchanges with the libev side: hands over status, '*snapp' (then sets
 * it to NULL) and results, and takes new requests (when no transaction is
 * in flight).  Returns false, exchanging nothing, when the thread must
 * exit. */
static bool
exchange(struct thread_state *ts, struct ovsdbc_snap **snapp,
         const struct ovsdbc_status *old_status)
{
    struct ovsdbc_shared *sh = ts->sh;
    bool notify = false;

    ovs_mutex_lock(&sh->mutex);
    if (sh->exiting) {
        ovs_mutex_unlock(&sh->mutex);
        return false;
    }
    if (memcmp(old_status, &ts->status, sizeof ts->status)) {
        sh->status = ts->status;
        sh->status_changed = true;
        notify = true;
    }
    if (*snapp) {
        ovsdbc_snap_unref(sh->snap); /* Never taken: replaced. */
        sh->snap = *snapp;
        *snapp = NULL;
        notify = true;
    }
    if (ts->n_out) {
        ovs_assert(sh->n_results + ts->n_out <= OVSDBC_MAX_WRITES);
        memcpy(&sh->results[sh->n_results], ts->out,
               ts->n_out * sizeof *ts->out);
        sh->n_results += ts->n_out;
        ts->n_out = 0;
        notify = true;
    }
    if (!ts->txn && !ts->n_batch && sh->n_requests) {
        memcpy(ts->batch, sh->requests, sh->n_requests * sizeof *sh->requests);
        ts->n_batch = sh->n_requests;
        sh->n_requests = 0;
    }
    ovs_mutex_unlock(&sh->mutex);

    if (notify) {
        sh->notify(sh);
    }
    return true;
}

void *
ovsdbc_thread_main(void *sh_)
{
    struct ovsdbc_shared *sh = sh_;
    struct thread_state ts = { .sh = sh };

    if (sh->private_key) {
        stream_ssl_set_key_and_cert(sh->private_key, sh->certificate);
        stream_ssl_set_ca_cert_file(sh->ca_cert, false);
    }
    /* Monitor only what add_columns() names; retry forever. */
    ts.idl = ovsdb_idl_create(sh->remote, &ovsrec_idl_class, false, true);
    add_columns(ts.idl);
    ts.status.state = OVSDBC_CONNECTING;

    struct ovsdbc_status reported;
    memset(&reported, 0, sizeof reported);
    reported.state = OVSDBC_CONNECTING;
    struct ovsdbc_snap *snap = NULL;
    for (;;) {
        if (!exchange(&ts, &snap, &reported)) {
            break;
        }
        reported = ts.status;

        ovsdb_idl_run(ts.idl);
        track_connection(&ts);
        if (ts.txn) {
            run_txn(&ts);
        }
        if (!ts.txn && ts.n_batch) {
            start_txn(&ts);
            if (ts.txn) {
                run_txn(&ts); /* Sends it; may finish at once. */
            }
        }
        snap = maybe_snapshot(&ts);
        if (snap || ts.n_out
            || memcmp(&reported, &ts.status, sizeof reported)) {
            continue; /* Hand it over before waiting. */
        }

        ovsdb_idl_wait(ts.idl);
        if (ts.txn) {
            ovsdb_idl_txn_wait(ts.txn);
        }
        latch_wait(&sh->wake);
        poll_block();
        latch_poll(&sh->wake);
    }

    ovsdbc_snap_unref(snap);
    if (ts.txn) {
        ovsdb_idl_txn_destroy(ts.txn);
    }
    ovsdbc_snap_unref(ts.last);
    ovsdb_idl_destroy(ts.idl);
    return NULL;
}
