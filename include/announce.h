/*
 * announce: gratuitous ARP and unsolicited neighbor advertisement frames
 * (pure packet builders, no I/O).
 *
 * They are sent out of uplink ports on failover and on demand so that
 * physical switches relearn where the VMAC lives and neighbors refresh
 * their caches.
 */
#ifndef VMACD_ANNOUNCE_H
#define VMACD_ANNOUNCE_H 1

#include <netinet/in.h>

#include "openvswitch/types.h"
#include "packets.h"

struct dp_packet;

/* Replaces the contents of 'b' by a gratuitous ARP in request form
 * (RFC 5227 announcement): eth src = sha = 'vmac', eth dst broadcast,
 * spa = tpa = 'ip4', tha zero, op 1. */
void announce_build_garp(struct dp_packet *b, struct eth_addr vmac,
                         ovs_be32 ip4);

/* Replaces the contents of 'b' by an unsolicited neighbor advertisement
 * (RFC 4861 7.2.6): eth src 'vmac', eth dst 33:33:00:00:00:01, ipv6 src =
 * target = 'ip6', ipv6 dst ff02::1, hop limit 255, flags R=0 S=0 O=1, one
 * target link-layer address option = 'vmac', valid checksum. */
void announce_build_una(struct dp_packet *b, struct eth_addr vmac,
                        const struct in6_addr *ip6);

/* Tags the frame in 'b' (built by one of the above) with an 802.1Q header
 * for VLAN 'vid' (1..4095, priority 0), for a trunk that carries the
 * alias's VLAN tagged. */
void announce_tag(struct dp_packet *b, uint16_t vid);

#endif /* announce.h */
