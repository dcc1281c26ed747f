/*
 * probepkt: the packets of the health probes (see probepkt.h), built on
 * libopenvswitch's packets.h.
 */
#include "probepkt.h"

#include <netinet/ip6.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "flow.h"
#include "packets.h"

void
probepkt_nd_source(struct eth_addr mac, struct in6_addr *lla)
{
    in6_generate_lla(mac, lla);
}

void
probepkt_arp(struct dp_packet *b, struct eth_addr src, ovs_be32 target)
{
    compose_arp(b, ARP_OP_REQUEST, src, eth_addr_zero, true, htonl(0), target);
}

void
probepkt_nd(struct dp_packet *b, struct eth_addr src,
            const struct in6_addr *target)
{
    struct in6_addr lla;
    probepkt_nd_source(src, &lla);
    /* To the solicited-node address of 'target', hop limit 255, source
     * link-layer address option 'src', checksum set. */
    compose_nd_ns(b, src, &lla, target);
}

void
probepkt_tcp(struct dp_packet *b, struct eth_addr eth_src,
             struct eth_addr eth_dst, ovs_be32 src, ovs_be32 dst,
             uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint16_t flags)
{
    dp_packet_clear(b);
    struct ip_header *ip = eth_compose(b, eth_dst, eth_src, ETH_TYPE_IP,
                                       IP_HEADER_LEN + TCP_HEADER_LEN);
    memset(ip, 0, IP_HEADER_LEN + TCP_HEADER_LEN);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_tot_len = htons(IP_HEADER_LEN + TCP_HEADER_LEN);
    ip->ip_frag_off = htons(0x4000) /* Don't fragment. */;
    ip->ip_ttl = 64;
    ip->ip_proto = IPPROTO_TCP;
    put_16aligned_be32(&ip->ip_src, src);
    put_16aligned_be32(&ip->ip_dst, dst);
    ip->ip_csum = csum(ip, IP_HEADER_LEN);

    struct tcp_header *tcp = (struct tcp_header *) (ip + 1);
    tcp->tcp_src = htons(sport);
    tcp->tcp_dst = htons(dport);
    put_16aligned_be32(&tcp->tcp_seq, htonl(seq));
    put_16aligned_be32(&tcp->tcp_ack, htonl(ack));
    tcp->tcp_ctl = TCP_CTL(flags, 5);
    tcp->tcp_winsz = htons(flags & TCP_SYN ? 1024 : 0);
    tcp->tcp_csum = csum_finish(
        csum_continue(packet_csum_pseudoheader(ip), tcp, TCP_HEADER_LEN));
}

const char *
probepkt_arp_reply(const struct flow *flow, struct eth_addr probe_mac,
                   ovs_be32 *ip, struct eth_addr *mac)
{
    if (flow->dl_type != htons(ETH_TYPE_ARP)
        || flow->nw_proto != ARP_OP_REPLY) {
        return "not an ARP reply";
    }
    if (!eth_addr_equals(flow->dl_dst, probe_mac)) {
        return "not for the probe identity";
    }
    if (eth_addr_is_multicast(flow->dl_src) || eth_addr_is_zero(flow->dl_src)
        || !eth_addr_equals(flow->dl_src, flow->arp_sha)) {
        return "sender MAC is not the Ethernet source";
    }
    *ip = flow->nw_src;
    *mac = flow->arp_sha;
    return NULL;
}

const char *
probepkt_nd_reply(const struct dp_packet *pkt, const struct flow *flow,
                  struct eth_addr probe_mac, struct in6_addr *target,
                  struct eth_addr *mac)
{
    if (flow->dl_type != htons(ETH_TYPE_IPV6)) {
        return "not IPv6";
    }
    /* An ICMPv6 message right after the IPv6 header, complete (without
     * an L4 header, flow_extract() found the packet malformed). */
    const struct ovs_16aligned_ip6_hdr *nh = dp_packet_l3(pkt);
    const struct ovs_nd_msg *na = dp_packet_l4(pkt);
    size_t l4_size = na ? dp_packet_l4_size(pkt) : 0;
    if (!nh || !na || nh->ip6_nxt != IPPROTO_ICMPV6
        || (const char *) na != (const char *) (nh + 1)
        || l4_size != ntohs(nh->ip6_plen) || l4_size < ND_MSG_LEN) {
        return "truncated, not ICMPv6, or with an extension header";
    }
    if (flow->nw_proto != IPPROTO_ICMPV6
        || flow->tp_src != htons(ND_NEIGHBOR_ADVERT)) {
        return "not a neighbor advertisement";
    }
    if (flow->tp_dst != htons(0) || flow->nw_ttl != 255) {
        return "code not 0 or hop limit not 255";
    }
    struct in6_addr lla;
    probepkt_nd_source(probe_mac, &lla);
    if (!eth_addr_equals(flow->dl_dst, probe_mac)
        || !ipv6_addr_equals(&flow->ipv6_dst, &lla)) {
        return "not for the probe identity";
    }
    if (eth_addr_is_multicast(flow->dl_src)
        || eth_addr_is_zero(flow->dl_src)) {
        return "multicast or zero Ethernet source";
    }
    if (packet_csum_upperlayer6(nh, na, IPPROTO_ICMPV6, l4_size)) {
        return "bad ICMPv6 checksum";
    }
    if (!(flow->igmp_group_ip4 & htonl(ND_RSO_SOLICITED))) {
        return "not solicited";
    }
    /* flow_extract() leaves the target zero when the options are invalid
     * (e.g. a link-layer address option twice). */
    if (!ipv6_addr_is_set(&flow->nd_target)
        || ipv6_addr_is_multicast(&flow->nd_target)) {
        return "invalid options, or a zero or multicast target";
    }
    if (!eth_addr_is_zero(flow->arp_tha)
        && !eth_addr_equals(flow->arp_tha, flow->dl_src)) {
        return "target link-layer address is not the Ethernet source";
    }
    *target = flow->nd_target;
    *mac = flow->dl_src;
    return NULL;
}
