/*
 * probepkt: the packets of the health probes (pure: builds and checks
 * packets, no I/O).  engine-health.c sends what is built here by
 * packet-out and hands the replies that reach it by packet-in to the
 * checks here.
 *
 * The probe identity of a bridge is its probe_source MAC (and, for TCP,
 * its IPv4 address); for IPv6 it is the link-local address derived from
 * that MAC (modified EUI-64, probepkt_nd_source()).
 *
 * ARP probe: an RFC 5227 probe (request, broadcast, sender IP 0.0.0.0,
 * sender MAC = the identity's): the member answers to the identity's MAC
 * and learns no neighbour entry.
 *
 * ND probe: a Neighbor Solicitation for the member's IPv6 address, as for
 * address resolution (RFC 4861 7.2.2): from the identity's link-local
 * address to the target's solicited-node multicast address (Ethernet
 * 33:33:ff:XX:XX:XX), hop limit 255, with a source link-layer address
 * option (the identity's MAC).  The member answers with a solicited NA to
 * the identity's link-local address and MAC, carrying its target
 * link-layer address.  It keeps a neighbour entry for the identity's
 * link-local address (nothing else uses it).  Not the Duplicate Address
 * Detection form (source ::): a DAD NS for an address that is still
 * tentative on the member (being added, link just up) is a collision by
 * RFC 4862 5.4.3, and the member would give its address up.
 *
 * TCP probe: a SYN from the identity's IPv4 address; vmacd resets a
 * SYN-ACK with an RST (probepkt_tcp() builds both).
 */
#ifndef VMACD_PROBEPKT_H
#define VMACD_PROBEPKT_H 1

#include <netinet/in.h>
#include <stdint.h>

#include "openvswitch/types.h"
#include "packets.h"

struct dp_packet;
struct flow;

/* The IPv6 link-local address of the probe identity with MAC 'mac'
 * (fe80::/64, modified EUI-64 of 'mac'). */
void probepkt_nd_source(struct eth_addr mac, struct in6_addr *lla);

/* Replaces 'b''s contents with an ARP probe for 'target' from 'src'. */
void probepkt_arp(struct dp_packet *b, struct eth_addr src, ovs_be32 target);

/* Replaces 'b''s contents with an ND probe (NS) for 'target' from the
 * identity with MAC 'src'. */
void probepkt_nd(struct dp_packet *b, struct eth_addr src,
                 const struct in6_addr *target);

/* Replaces 'b''s contents with a TCP segment (IPv4, no options) from
 * 'src':'sport' to 'dst':'dport' with 'flags' (TCP_SYN, TCP_RST...). */
void probepkt_tcp(struct dp_packet *b, struct eth_addr eth_src,
                  struct eth_addr eth_dst, ovs_be32 src, ovs_be32 dst,
                  uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                  uint16_t flags);

/* Checks that the packet parsed into 'flow' by flow_extract() is an answer
 * to an ARP probe of the identity with MAC 'probe_mac': an ARP reply to
 * 'probe_mac' whose sender MAC is its Ethernet source.  Returns NULL and
 * sets '*ip' (the sender IP) and '*mac' (the sender's MAC), or returns a
 * static string that says what is wrong. */
const char *probepkt_arp_reply(const struct flow *flow,
                               struct eth_addr probe_mac, ovs_be32 *ip,
                               struct eth_addr *mac);

/* Checks that 'pkt', parsed into 'flow' by flow_extract(), is an answer to
 * an ND probe of the identity with MAC 'probe_mac': a solicited Neighbor
 * Advertisement (RFC 4861 7.1.2: hop limit 255, code 0, valid checksum,
 * unicast target) from a unicast Ethernet source to 'probe_mac' and the
 * identity's link-local address, not truncated, with no extension header,
 * whose target link-layer address option, if any, equals its Ethernet
 * source.  Returns NULL and sets '*target' and '*mac' (the target
 * link-layer address, or the Ethernet source without that option), or
 * returns a static string that says what is wrong. */
const char *probepkt_nd_reply(const struct dp_packet *pkt,
                              const struct flow *flow,
                              struct eth_addr probe_mac,
                              struct in6_addr *target, struct eth_addr *mac);

#endif /* probepkt.h */
