/*
 * announce: gratuitous ARP and unsolicited NA frames, composed with
 * libopenvswitch's packet helpers.
 */
#include "announce.h"

#include "dp-packet.h"
#include "packets.h"

void
announce_build_garp(struct dp_packet *b, struct eth_addr vmac, ovs_be32 ip4)
{
    compose_arp(b, ARP_OP_REQUEST, vmac, eth_addr_zero, true, ip4, ip4);
}

void
announce_build_una(struct dp_packet *b, struct eth_addr vmac,
                   const struct in6_addr *ip6)
{
    static const struct eth_addr all_nodes_mac
        = ETH_ADDR_C(33, 33, 00, 00, 00, 01);

    /* compose_nd_na() uses the source address as the target and 'vmac' as
     * both the Ethernet source and the target link-layer address. */
    compose_nd_na(b, vmac, all_nodes_mac, ip6, &in6addr_all_hosts,
                  htonl(ND_RSO_OVERRIDE));
}

void
announce_tag(struct dp_packet *b, uint16_t vid)
{
    eth_push_vlan(b, htons(ETH_TYPE_VLAN_8021Q), htons(vid & VLAN_VID_MASK));
}
