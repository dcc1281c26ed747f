/*
 * oflimit: the bounds that all OpenFlow peers share (see oflimit.h).
 */
#include "oflimit.h"

#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(oflimit);

struct oflimit {
    struct oflimit_config cfg;
    struct ovs_list peers; /* struct oflimit_peer. */
    size_t n_peers;
    size_t n_handshakes;
    size_t queued;

    uint64_t n_refused;
    uint64_t n_dropped_peer_queue;
    uint64_t n_dropped_total_queue;
    uint64_t n_tls_failures;
    uint64_t n_accept_pauses;
};

static struct oflimit *default_limit;

struct oflimit *
oflimit_create(const struct oflimit_config *cfg)
{
    struct oflimit *l = xzalloc(sizeof *l);
    l->cfg = *cfg;
    ovs_list_init(&l->peers);
    return l;
}

void
oflimit_destroy(struct oflimit *l)
{
    if (!l) {
        return;
    }
    struct oflimit_peer *p;
    LIST_FOR_EACH_POP (p, node, &l->peers) {
        p->limit = NULL;
    }
    if (default_limit == l) {
        default_limit = NULL;
    }
    free(l);
}

void
oflimit_reconfigure(struct oflimit *l, const struct oflimit_config *cfg)
{
    /* Peers and queues over the new bounds stay until they change: the
     * next connection or send is checked against them. */
    l->cfg = *cfg;
}

const struct oflimit_config *
oflimit_config(const struct oflimit *l)
{
    return &l->cfg;
}

void
oflimit_set_default(struct oflimit *l)
{
    default_limit = l;
}

struct oflimit *
oflimit_default(void)
{
    return default_limit;
}

bool
oflimit_peer_room(const struct oflimit *l)
{
    return !l || l->n_peers + l->n_handshakes < l->cfg.max_peers;
}

void
oflimit_count_refused(struct oflimit *l)
{
    if (l) {
        l->n_refused++;
    }
}

void
oflimit_count_tls_failure(struct oflimit *l)
{
    if (l) {
        l->n_tls_failures++;
    }
}

void
oflimit_count_accept_pause(struct oflimit *l)
{
    if (l) {
        l->n_accept_pauses++;
    }
}

void
oflimit_count_peer_overflow(struct oflimit *l)
{
    if (l) {
        l->n_dropped_peer_queue++;
    }
}

void
oflimit_handshake_begin(struct oflimit *l)
{
    if (l) {
        l->n_handshakes++;
    }
}

void
oflimit_handshake_end(struct oflimit *l)
{
    if (l) {
        ovs_assert(l->n_handshakes > 0);
        l->n_handshakes--;
    }
}

void
oflimit_peer_register(struct oflimit *l, struct oflimit_peer *p)
{
    p->limit = l;
    p->queued = 0;
    p->stuck_since = 0;
    ovs_list_push_back(&l->peers, &p->node);
    l->n_peers++;
}

void
oflimit_peer_unregister(struct oflimit_peer *p)
{
    struct oflimit *l = p->limit;
    if (!l) {
        return;
    }
    ovs_assert(l->queued >= p->queued);
    l->queued -= p->queued;
    p->queued = 0;
    ovs_list_remove(&p->node);
    l->n_peers--;
    p->limit = NULL;
}

/* The peer to drop when the total is full: the one stuck the longest. */
static struct oflimit_peer *
oflimit_victim(const struct oflimit *l)
{
    struct oflimit_peer *best = NULL, *p;
    LIST_FOR_EACH (p, node, &l->peers) {
        if (!p->queued) {
            continue;
        }
        if (!best || p->stuck_since < best->stuck_since
            || (p->stuck_since == best->stuck_since
                && p->queued > best->queued)) {
            best = p;
        }
    }
    return best;
}

bool
oflimit_peer_queue(struct oflimit_peer *p, size_t n, double now)
{
    struct oflimit *l = p->limit;
    if (!l) {
        return true;
    }
    /* Each drop frees a non-empty queue, so this ends. */
    while (l->queued + n > l->cfg.max_queue_bytes) {
        struct oflimit_peer *victim = oflimit_victim(l);
        if (!victim || victim == p) {
            l->n_dropped_total_queue++;
            RL_WARN("%s: OpenFlow output to all peers would pass "
                    "%zu bytes; dropping this peer (%zu bytes queued)",
                    p->name(p), l->cfg.max_queue_bytes, p->queued);
            return false;
        }
        l->n_dropped_total_queue++;
        RL_WARN("%s: OpenFlow output to all peers would pass %zu "
                "bytes; dropping this peer, which has not taken its "
                "%zu queued bytes for %.1f s",
                victim->name(victim), l->cfg.max_queue_bytes,
                victim->queued, now - victim->stuck_since);
        size_t before = l->queued;
        victim->drop(victim, "output queue of all peers full");
        ovs_assert(l->queued < before);
    }
    if (!p->queued) {
        p->stuck_since = now;
    }
    p->queued += n;
    l->queued += n;
    return true;
}

void
oflimit_peer_unqueue(struct oflimit_peer *p, size_t n, double now)
{
    struct oflimit *l = p->limit;
    ovs_assert(p->queued >= n);
    p->queued -= n;
    p->stuck_since = p->queued ? now : 0;
    if (l) {
        ovs_assert(l->queued >= n);
        l->queued -= n;
    }
}

json_t *
oflimit_to_json(const struct oflimit *l)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "peers",
        (json_int_t) l->n_peers, "handshakes", (json_int_t) l->n_handshakes,
        "max_peers", (json_int_t) l->cfg.max_peers, "queued_bytes",
        (json_int_t) l->queued, "max_queue_bytes",
        (json_int_t) l->cfg.max_queue_bytes, "max_peer_queue_bytes",
        (json_int_t) l->cfg.max_peer_queue_bytes, "peers_refused",
        (json_int_t) l->n_refused, "dropped_peer_queue",
        (json_int_t) l->n_dropped_peer_queue, "dropped_total_queue",
        (json_int_t) l->n_dropped_total_queue, "tls_handshakes_failed",
        (json_int_t) l->n_tls_failures, "accept_paused",
        (json_int_t) l->n_accept_pauses);
}
