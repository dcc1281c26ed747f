/*
 * oflimit: the bounds that all OpenFlow peers share.
 *
 *   - peers: connections (OpenFlow channels, and TLS handshakes still in
 *     progress) at most 'max_peers'; a listener asks oflimit_peer_room()
 *     before it takes a new one, and refuses it (counted) when there is
 *     none;
 *   - output: bytes queued for sending, at most 'max_peer_queue_bytes' per
 *     peer (the channel checks that itself) and 'max_queue_bytes' in all.
 *     When a send would pass the total, the peer that has been unable to
 *     send for the longest time (its queue stuck since the earliest
 *     moment; the larger queue on a tie) is dropped to make room: a switch
 *     that does not read its socket pays, not the one that is busy with a
 *     large flow table.
 *
 * Each peer embeds a struct oflimit_peer and gives a 'drop' function that
 * closes it at once (freeing its queue, which must call
 * oflimit_peer_unqueue()).  Every drop and refusal is counted.
 *
 * One process-wide default limit can be set (oflimit_set_default()); the
 * modules that create peers pick it up when they are given no other.
 */
#ifndef VMACD_OFLIMIT_H
#define VMACD_OFLIMIT_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/list.h"

struct oflimit;

/* Defaults (docs/config.md, "openflow"). */
#define OFLIMIT_DEFAULT_MAX_PEERS 1024
#define OFLIMIT_DEFAULT_MAX_QUEUE_BYTES (64u << 20)

struct oflimit_config {
    size_t max_peers;
    size_t max_queue_bytes;      /* All peers together. */
    size_t max_peer_queue_bytes; /* One peer. */
};

struct oflimit_peer {
    struct ovs_list node; /* In the limit's list while registered. */
    struct oflimit *limit;
    size_t queued;      /* Bytes this peer has queued. */
    double stuck_since; /* When its queue last made no progress
                         * (0: empty queue). */
    const char *(*name)(const struct oflimit_peer *);
    void (*drop)(struct oflimit_peer *, const char *reason);
};

struct oflimit *oflimit_create(const struct oflimit_config *);
void oflimit_destroy(struct oflimit *);
void oflimit_reconfigure(struct oflimit *, const struct oflimit_config *);
const struct oflimit_config *oflimit_config(const struct oflimit *);

void oflimit_set_default(struct oflimit *);
struct oflimit *oflimit_default(void);

/* Peers.  A listener checks for room before it takes a connection, and
 * counts the one it refuses. */
bool oflimit_peer_room(const struct oflimit *);
void oflimit_count_refused(struct oflimit *);
void oflimit_count_tls_failure(struct oflimit *);
void oflimit_count_accept_pause(struct oflimit *);

/* Handshakes that hold a descriptor but no channel yet. */
void oflimit_handshake_begin(struct oflimit *);
void oflimit_handshake_end(struct oflimit *);

/* Channels.  'peer' must have 'name' and 'drop' set. */
void oflimit_peer_register(struct oflimit *, struct oflimit_peer *);
void oflimit_peer_unregister(struct oflimit_peer *);

/* Reserves 'n' more queued bytes for 'peer' at time 'now'.  Returns true
 * if they fit, possibly after dropping other peers; false if 'peer' itself
 * is the one to drop (the caller then closes it). */
bool oflimit_peer_queue(struct oflimit_peer *, size_t n, double now)
    __attribute__((warn_unused_result));
/* 'n' queued bytes were sent (progress at time 'now') or freed. */
void oflimit_peer_unqueue(struct oflimit_peer *, size_t n, double now);
/* A peer whose own queue bound was hit, dropped by its channel. */
void oflimit_count_peer_overflow(struct oflimit *);

/* {"peers", "handshakes", "max_peers", "queued_bytes", "max_queue_bytes",
 *  "max_peer_queue_bytes", "peers_refused", "dropped_peer_queue",
 *  "dropped_total_queue", "tls_handshakes_failed", "accept_paused"} */
json_t *oflimit_to_json(const struct oflimit *);

#endif /* oflimit.h */
