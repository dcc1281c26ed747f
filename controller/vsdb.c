/*
 * vsdb: the OVSDB client's lifecycle, its logs, and the fail mode policy
 * (vsdb.h).
 */
#include "vsdb-private.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(vsdb);

/* Connects, disconnects and failed writes: network-driven. */

#define BACKOFF_MIN 1.0  /* Seconds before retrying a failed write... */
#define BACKOFF_MAX 30.0 /* ...doubling up to this. */

static void vsdb_run(struct vsdb *);

void
vsdb_publish(struct vsdb *v, const char *type, json_t *event)
{
    if (!v->api) {
        json_decref(event);
        return;
    }
    json_object_set_new(event, "type", json_string(type));
    json_object_set_new(event, "time", json_real(ev_time()));
    api_publish_event(v->api, event);
}

static const char *
fail_mode_text(enum ovsdbc_fail_mode mode)
{
    return (mode == OVSDBC_FAIL_SECURE       ? "secure"
            : mode == OVSDBC_FAIL_STANDALONE ? "standalone"
                                             : "unset (standalone)");
}

/* Writes. */

static struct vsdb_bridge *
bridge_by_write(const struct vsdb *v, uint64_t id)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &v->bridges) {
        struct vsdb_bridge *b = node->data;
        if (b->writing && b->write_id == id) {
            return b;
        }
    }
    return NULL;
}

static void
write_done(struct ovsdbc *c OVS_UNUSED, uint64_t id,
           enum ovsdbc_write_result result, const char *error, void *v_)
{
    struct vsdb *v = v_;
    struct vsdb_bridge *b = bridge_by_write(v, id);
    if (!b) {
        return; /* No longer looked after. */
    }
    b->writing = false;
    free(b->last_error);
    b->last_error = NULL;

    if (result == OVSDBC_WRITE_OK) {
        b->n_set++;
        b->backoff = 0;
        b->retry_at = 0;
        VLOG_INFO("%s: fail_mode was %s, set it to secure: the datapath "
                  "keeps vmacd's flows while vmacd is down",
                  b->name, fail_mode_text(b->was));
        json_t *ev = json_object();
        json_object_set_new(ev, "bridge", json_string(b->name));
        json_object_set_new(ev, "was", json_string(fail_mode_text(b->was)));
        vsdb_publish(v, "fail_mode_set", ev);
    } else {
        b->last_error = xstrdup(error ? error : "unknown error");
        b->backoff
            = (b->backoff ? MIN(2 * b->backoff, BACKOFF_MAX) : BACKOFF_MIN);
        b->retry_at = ev_now(v->loop) + b->backoff;
        if (result == OVSDBC_WRITE_ERROR) {
            RL_WARN("%s: setting fail_mode=secure failed (%s); "
                    "retrying in %.0f s",
                    b->name, b->last_error, b->backoff);
        } else {
            RL_INFO("%s: setting fail_mode=secure must be tried again "
                    "(%s); retrying in %.0f s",
                    b->name, b->last_error, b->backoff);
        }
    }
    vsdb_run(v);
}

static void
retry_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w, int revents OVS_UNUSED)
{
    vsdb_run(CONTAINER_OF(w, struct vsdb, retry));
}

/* The policy: every bridge looked after that the database has and that
 * is not secure is set secure ("secure") or reported ("check"). */
static void
vsdb_run(struct vsdb *v)
{
    if (!v->client || ovsdbc_status(v->client)->state != OVSDBC_SYNCED) {
        return;
    }
    const struct ovsdbc_snap *snap = ovsdbc_snapshot(v->client);
    double now = ev_now(v->loop);
    double next = INFINITY;

    struct shash_node *node;
    SHASH_FOR_EACH (node, &v->bridges) {
        struct vsdb_bridge *b = node->data;
        const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(snap, b->name);
        if (!br || br->fail_mode == OVSDBC_FAIL_SECURE) {
            b->reported = false;
            continue;
        }
        if (v->cfg->fail_mode == CFG_FAIL_MODE_CHECK) {
            if (!b->reported) {
                b->reported = true;
                RL_WARN("%s: fail_mode is %s: about 15 s after vmacd "
                        "stops, ovs-vswitchd goes fail-open and vmacd's "
                        "flows stop answering; set it with \"ovs-vsctl "
                        "set-fail-mode %s secure\", or let vmacd "
                        "(\"ovsdb\": {\"fail_mode\": \"secure\"})",
                        b->name, fail_mode_text(br->fail_mode), b->name);
                json_t *ev = json_object();
                json_object_set_new(ev, "bridge", json_string(b->name));
                json_object_set_new(
                    ev, "fail_mode",
                    json_string(fail_mode_text(br->fail_mode)));
                vsdb_publish(v, "fail_mode_not_secure", ev);
            }
            continue;
        }
        if (b->writing) {
            continue;
        } else if (now < b->retry_at) {
            next = MIN(next, b->retry_at);
            continue;
        }
        if (!ovsdbc_set_fail_mode(v->client, b->name, OVSDBC_FAIL_SECURE,
                                  &b->write_id)) {
            b->writing = true;
            b->was = br->fail_mode;
        }
        /* Else OVSDBC_MAX_WRITES are in flight: the next write_done runs
         * this again. */
    }

    ev_timer_stop(v->loop, &v->retry);
    if (next < INFINITY) {
        ev_timer_set(&v->retry, MAX(next - now, 0.001), 0);
        ev_timer_start(v->loop, &v->retry);
    }
}

/* The connection. */

static void
log_state(struct vsdb *v)
{
    const struct ovsdbc_status *s = ovsdbc_status(v->client);
    const char *remote = v->cfg->remote;
    enum ovsdbc_state old = v->state;

    if (s->state != old) {
        v->state = s->state;
        v->state_since = ev_now(v->loop);
        if (s->state == OVSDBC_SYNCED) {
            const struct ovsdbc_snap *snap = ovsdbc_snapshot(v->client);
            RL_INFO("ovsdb: connected to %s (%zu bridges)",
                    remote, snap ? snap->n_bridges : 0);
            v->complained = false;
            json_t *ev = json_object();
            json_object_set_new(ev, "remote", json_string(remote));
            vsdb_publish(v, "ovsdb_connected", ev);
        } else if (s->state == OVSDBC_CONNECTING && old != OVSDBC_CONNECTING) {
            RL_WARN("ovsdb: lost the connection to %s (%s); "
                    "reconnecting with backoff",
                    remote, ovs_retval_to_string(s->last_error));
            v->complained = true;
            json_t *ev = json_object();
            json_object_set_new(ev, "remote", json_string(remote));
            json_object_set_new(
                ev, "error", json_string(ovs_retval_to_string(s->last_error)));
            vsdb_publish(v, "ovsdb_disconnected", ev);
        }
    } else if (s->state == OVSDBC_CONNECTING && s->last_error
               && (!v->complained || s->last_error != v->last_error)) {
        RL_WARN("ovsdb: cannot connect to %s (%s); retrying with "
                "backoff (at most 8 s apart); fail modes are not "
                "checked until then",
                remote, ovs_retval_to_string(s->last_error));
        v->complained = true;
    }
    v->last_error = s->last_error;
}

/* Tells the snapshot's listener of a new synced snapshot. */
static void
tell_snapshot(struct vsdb *v)
{
    const struct ovsdbc_snap *snap = NULL;
    if (v->client) {
        snap = ovsdbc_snapshot(v->client);
        if (!snap || ovsdbc_status(v->client)->state != OVSDBC_SYNCED
            || (!v->told_null && v->told_epoch == v->epoch
                && v->told_seq == snap->seq)) {
            return;
        }
        v->told_epoch = v->epoch;
        v->told_seq = snap->seq;
        v->told_null = false;
    } else if (v->told_null) {
        return;
    } else {
        v->told_null = true;
    }
    if (v->snap_cb) {
        v->snap_cb(snap, v->snap_aux);
    }
}

static void
changed(struct ovsdbc *c OVS_UNUSED, void *v_)
{
    struct vsdb *v = v_;
    log_state(v);
    vsdb_run(v);
    tell_snapshot(v);
}

void
vsdb_on_snapshot(struct vsdb *v, vsdb_snapshot_cb *cb, void *aux)
{
    v->snap_cb = cb;
    v->snap_aux = aux;
    v->told_null = true; /* What the listener knows to start with. */
    tell_snapshot(v);
}

/* Lifecycle. */

static bool
nullable_streq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
same_connection(const struct cfg_ovsdb *a, const struct cfg_ovsdb *b)
{
    if (!a || !b) {
        return a == b;
    }
    return (!strcmp(a->remote, b->remote)
            && nullable_streq(a->private_key, b->private_key)
            && nullable_streq(a->certificate, b->certificate)
            && nullable_streq(a->ca_cert, b->ca_cert));
}

static void
bridge_free(struct vsdb_bridge *b)
{
    free(b->name);
    free(b->last_error);
    free(b);
}

static void
client_stop(struct vsdb *v)
{
    ovsdbc_destroy(v->client);
    v->client = NULL;
    struct shash_node *node;
    SHASH_FOR_EACH (node, &v->bridges) {
        struct vsdb_bridge *b = node->data;
        b->writing = false; /* Its result will never come. */
    }
}

static void
client_start(struct vsdb *v)
{
    static const struct ovsdbc_cbs cbs = {
        .changed = changed,
        .write_done = write_done,
    };
    struct ovsdbc_options opts = {
        .remote = v->cfg->remote,
        .private_key = v->cfg->private_key,
        .certificate = v->cfg->certificate,
        .ca_cert = v->cfg->ca_cert,
    };
    v->client = ovsdbc_create(v->loop, &opts, &cbs, v);
    v->epoch++;
    v->state = OVSDBC_CONNECTING;
    v->state_since = ev_now(v->loop);
    v->complained = false;
    v->last_error = 0;
}

/* Keeps the state of the bridges still looked after. */
static void
set_bridges(struct vsdb *v, const struct sset *wanted)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &v->bridges) {
        if (!sset_contains(wanted, node->name)) {
            bridge_free(node->data);
            shash_delete(&v->bridges, node);
        }
    }
    const char *name;
    SSET_FOR_EACH (name, wanted) {
        if (!shash_find(&v->bridges, name)) {
            struct vsdb_bridge *b = xzalloc(sizeof *b);
            b->name = xstrdup(name);
            shash_add(&v->bridges, name, b);
        }
    }
}

/* Logs what vmacd does with OVSDB, when that changed. */
static void
log_policy(struct vsdb *v)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    if (!v->cfg) {
        ds_put_cstr(&s, "no \"ovsdb\" in the configuration: bridges' "
                        "fail_mode, members' iface ids and ports' VLAN tags "
                        "are not checked (see docs/config.md, \"ovsdb\")");
    } else {
        bool check = v->cfg->fail_mode == CFG_FAIL_MODE_CHECK;
        ds_put_format(&s,
                      "ovsdb: %s, fail_mode \"%s\": vmacd %s "
                      "fail_mode=secure on ",
                      v->cfg->remote, check ? "check" : "secure",
                      check ? "checks" : "sets");
        const struct shash_node **nodes = shash_sort(&v->bridges);
        for (size_t i = 0; i < shash_count(&v->bridges); i++) {
            ds_put_format(&s, "%s%s", i ? ", " : "", nodes[i]->name);
        }
        free(nodes);
        if (shash_is_empty(&v->bridges)) {
            ds_put_cstr(&s, "no bridge (the configuration uses none)");
        }
    }
    if (!v->policy_logged || strcmp(v->policy_logged, ds_cstr(&s))) {
        VLOG_INFO("%s", ds_cstr(&s));
        free(v->policy_logged);
        v->policy_logged = ds_steal_cstr(&s);
    }
    ds_destroy(&s);
}

struct vsdb *
vsdb_create(struct ev_loop *loop, const struct config *cfg)
{
    struct vsdb *v = xzalloc(sizeof *v);
    v->loop = loop;
    v->told_null = true;
    shash_init(&v->bridges);
    ev_init(&v->retry, retry_cb);
    vsdb_set_config(v, cfg);
    return v;
}

void
vsdb_set_config(struct vsdb *v, const struct config *cfg)
{
    bool restart = !same_connection(v->cfg, cfg->ovsdb);
    bool mode_changed
        = (v->cfg && cfg->ovsdb && v->cfg->fail_mode != cfg->ovsdb->fail_mode);

    if (restart) {
        client_stop(v);
    }
    config_ovsdb_destroy(v->cfg);
    v->cfg = cfg->ovsdb ? config_ovsdb_clone(cfg->ovsdb) : NULL;
    if (mode_changed) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &v->bridges) {
            struct vsdb_bridge *b = node->data;
            b->reported = false;
            b->retry_at = b->backoff = 0;
        }
    }
    log_policy(v);
    if (restart && v->cfg) {
        client_start(v);
    }
    vsdb_run(v);
    tell_snapshot(v); /* NULL if "ovsdb" went. */
}

void
vsdb_set_bridges(struct vsdb *v, const struct sset *bridges)
{
    set_bridges(v, bridges);
    vsdb_run(v);
}

void
vsdb_destroy(struct vsdb *v)
{
    if (!v) {
        return;
    }
    client_stop(v);
    ev_timer_stop(v->loop, &v->retry);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &v->bridges) {
        bridge_free(node->data);
    }
    shash_destroy(&v->bridges);
    config_ovsdb_destroy(v->cfg);
    free(v->policy_logged);
    free(v);
}

void
vsdb_attach_api(struct vsdb *v, struct api *api)
{
    v->api = api;
    vsdb_api_routes(v, api);
}

struct ovsdbc *
vsdb_client(const struct vsdb *v)
{
    return v->client;
}
