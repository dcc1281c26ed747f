/*
 * Unit tests for probepkt: the probes as a member receives them (parsed
 * back with flow_extract(), checksums checked), and the checks of the
 * replies, against a reply as Linux sends it and against broken ones.
 */
#include <arpa/inet.h>
#include <netinet/ip6.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csum.h"
#include "dp-packet.h"
#include "flow.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "probepkt.h"

#define PMAC "02:76:6d:61:63:70" /* The default probe identity. */
#define PLLA "fe80::76:6dff:fe61:6370"
#define MMAC "02:00:00:00:00:11" /* A member. */
#define MIP6 "2001:db8::11"

static struct eth_addr
mac(const char *s)
{
    struct eth_addr ea;
    assert_true(eth_addr_from_string(s, &ea));
    return ea;
}

static struct in6_addr
ip6(const char *s)
{
    struct in6_addr a;
    assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
    return a;
}

static void
assert_ip6(const struct in6_addr *a, const char *want)
{
    char buf[INET6_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET6, a, buf, sizeof buf));
    assert_string_equal(buf, want);
}

static void
assert_mac(struct eth_addr a, const char *want)
{
    char buf[ETH_ADDR_STRLEN + 1];
    snprintf(buf, sizeof buf, ETH_ADDR_FMT, ETH_ADDR_ARGS(a));
    assert_string_equal(buf, want);
}

/* A received packet: 'b''s bytes, parsed as vmacd parses a packet-in. */
struct rx {
    uint8_t data[256] __attribute__((aligned(8)));
    struct dp_packet pkt;
    struct flow flow;
};

static void
rx_parse(struct rx *rx, const void *data, size_t size)
{
    assert_true(size <= sizeof rx->data);
    memcpy(rx->data, data, size);
    dp_packet_use_const(&rx->pkt, rx->data, size);
    flow_extract(&rx->pkt, &rx->flow);
}

static void
rx_init(struct rx *rx, const struct dp_packet *b)
{
    rx_parse(rx, dp_packet_data(b), dp_packet_size(b));
}

/* The ICMPv6 checksum of 'rx' is right. */
static bool
icmp6_csum_ok(const struct rx *rx)
{
    return !packet_csum_upperlayer6(dp_packet_l3(&rx->pkt),
                                    dp_packet_l4(&rx->pkt), IPPROTO_ICMPV6,
                                    dp_packet_l4_size(&rx->pkt));
}

static void
test_nd_source(void **state OVS_UNUSED)
{
    struct in6_addr lla;
    probepkt_nd_source(mac(PMAC), &lla);
    assert_ip6(&lla, PLLA);
}

/* The NS as the member gets it: address resolution form (RFC 4861 7.2.2),
 * not DAD: from the identity's link-local address with its MAC in a source
 * link-layer address option, to the target's solicited-node group. */
static void
test_nd_probe(void **state OVS_UNUSED)
{
    struct in6_addr target = ip6(MIP6);
    struct dp_packet b;
    struct rx rx;

    dp_packet_init(&b, 128);
    probepkt_nd(&b, mac(PMAC), &target);
    rx_init(&rx, &b);
    dp_packet_uninit(&b);

    const struct flow *f = &rx.flow;
    assert_int_equal(dp_packet_size(&rx.pkt), 14 + 40 + 24 + 8);
    assert_mac(f->dl_src, PMAC);
    assert_mac(f->dl_dst, "33:33:ff:00:00:11");
    assert_int_equal(ntohs(f->dl_type), ETH_TYPE_IPV6);
    assert_ip6(&f->ipv6_src, PLLA);
    assert_ip6(&f->ipv6_dst, "ff02::1:ff00:11");
    assert_int_equal(f->nw_ttl, 255);
    assert_int_equal(f->nw_proto, IPPROTO_ICMPV6);
    assert_int_equal(ntohs(f->tp_src), ND_NEIGHBOR_SOLICIT);
    assert_int_equal(ntohs(f->tp_dst), 0);
    assert_ip6(&f->nd_target, MIP6);
    assert_mac(f->arp_sha, PMAC); /* SLL option. */
    assert_true(eth_addr_is_zero(f->arp_tha));
    assert_int_equal(ntohl(f->igmp_group_ip4), 0); /* Flags. */
    assert_true(icmp6_csum_ok(&rx));
}

static void
test_arp_probe(void **state OVS_UNUSED)
{
    struct dp_packet b;
    struct rx rx;

    dp_packet_init(&b, 128);
    probepkt_arp(&b, mac(PMAC), inet_addr("192.0.2.11"));
    rx_init(&rx, &b);
    dp_packet_uninit(&b);

    const struct flow *f = &rx.flow;
    assert_mac(f->dl_src, PMAC);
    assert_true(eth_addr_is_broadcast(f->dl_dst));
    assert_int_equal(ntohs(f->dl_type), ETH_TYPE_ARP);
    assert_int_equal(f->nw_proto, ARP_OP_REQUEST);
    assert_int_equal(f->nw_src, 0); /* RFC 5227 probe. */
    assert_int_equal(f->nw_dst, inet_addr("192.0.2.11"));
    assert_mac(f->arp_sha, PMAC);
}

static void
test_tcp_probe(void **state OVS_UNUSED)
{
    struct dp_packet b;
    struct rx rx;

    dp_packet_init(&b, 128);
    probepkt_tcp(&b, mac(PMAC), mac(MMAC), inet_addr("192.0.2.250"),
                 inet_addr("192.0.2.11"), 49152, 7777, 1000, 0, TCP_SYN);
    rx_init(&rx, &b);
    dp_packet_uninit(&b);

    const struct flow *f = &rx.flow;
    assert_mac(f->dl_dst, MMAC);
    assert_int_equal(f->nw_proto, IPPROTO_TCP);
    assert_int_equal(f->nw_src, inet_addr("192.0.2.250"));
    assert_int_equal(ntohs(f->tp_src), 49152);
    assert_int_equal(ntohs(f->tp_dst), 7777);
    assert_int_equal(ntohs(f->tcp_flags), TCP_SYN);
    const struct ip_header *ip = dp_packet_l3(&rx.pkt);
    assert_int_equal(csum(ip, IP_HEADER_LEN), 0);
    assert_int_equal(
        csum_finish(csum_continue(packet_csum_pseudoheader(ip),
                                  dp_packet_l4(&rx.pkt), TCP_HEADER_LEN)),
        0);
}

/* The member's answer as Linux sends it (ndisc_send_na): from its
 * address, to the identity, solicited + override, with a target
 * link-layer address option. */
static void
linux_na(struct dp_packet *b, const char *eth_src, ovs_be32 rso)
{
    struct in6_addr src = ip6(MIP6), dst;
    probepkt_nd_source(mac(PMAC), &dst);
    compose_nd_na(b, mac(eth_src), mac(PMAC), &src, &dst, rso);
}

/* Sets the ICMPv6 checksum of the bytes 'data' right (after an edit). */
static void
fix_csum(uint8_t *data, size_t size)
{
    struct ovs_16aligned_ip6_hdr *nh = (void *) (data + ETH_HEADER_LEN);
    struct ovs_nd_msg *na = (void *) (nh + 1);
    na->icmph.icmp6_cksum = 0;
    na->icmph.icmp6_cksum = packet_csum_upperlayer6(
        nh, na, IPPROTO_ICMPV6, size - ETH_HEADER_LEN - IPV6_HEADER_LEN);
}

static const char *
check_na(uint8_t *data, size_t size, struct in6_addr *target,
         struct eth_addr *m)
{
    struct rx rx;
    rx_parse(&rx, data, size);
    return probepkt_nd_reply(&rx.pkt, &rx.flow, mac(PMAC), target, m);
}

static void
test_nd_reply(void **state OVS_UNUSED)
{
    const ovs_be32 so = htonl(ND_RSO_SOLICITED | ND_RSO_OVERRIDE);
    struct dp_packet b;
    struct in6_addr target;
    struct eth_addr m;
    uint8_t good[128] __attribute__((aligned(8)));
    uint8_t d[128] __attribute__((aligned(8)));

    dp_packet_init(&b, 128);
    linux_na(&b, MMAC, so);
    size_t n = dp_packet_size(&b);
    assert_int_equal(n, 86);
    memcpy(good, dp_packet_data(&b), n);

    const char *error = check_na(good, n, &target, &m);
    if (error) {
        fail_msg("good NA refused: %s", error);
    }
    assert_ip6(&target, MIP6);
    assert_mac(m, MMAC);

    struct ovs_16aligned_ip6_hdr *nh = (void *) (d + ETH_HEADER_LEN);
    struct ovs_nd_msg *na = (void *) (nh + 1);

    /* Without the TLL option: the Ethernet source. */
    memcpy(d, good, n);
    nh->ip6_plen = htons(ND_MSG_LEN);
    fix_csum(d, n - 8);
    assert_null(check_na(d, n - 8, &target, &m));
    assert_mac(m, MMAC);

    /* Broken ones, each with what is wrong. */
    memcpy(d, good, n);
    nh->ip6_hlim = 64;
    assert_string_equal(check_na(d, n, &target, &m),
                        "code not 0 or hop limit not 255");

    memcpy(d, good, n);
    na->icmph.icmp6_cksum ^= htons(1);
    assert_string_equal(check_na(d, n, &target, &m), "bad ICMPv6 checksum");

    memcpy(d, good, n);
    put_16aligned_be32(&na->rso_flags, htonl(ND_RSO_OVERRIDE));
    fix_csum(d, n);
    assert_string_equal(check_na(d, n, &target, &m), "not solicited");

    memcpy(d, good, n);
    na->options[0].mac = mac("02:00:00:00:00:99");
    fix_csum(d, n);
    assert_string_equal(
        check_na(d, n, &target, &m),
        "target link-layer address is not the Ethernet source");

    memcpy(d, good, n);
    struct in6_addr mcast = ip6("ff02::1");
    memcpy(&na->target, &mcast, sizeof mcast);
    fix_csum(d, n);
    assert_string_equal(check_na(d, n, &target, &m),
                        "invalid options, or a zero or multicast target");

    /* Truncated (a packet-in cut at max_len). */
    memcpy(d, good, n);
    assert_string_equal(check_na(d, n - 4, &target, &m),
                        "truncated, not ICMPv6, or with an extension header");

    /* To another address than the identity's (e.g. all-nodes). */
    dp_packet_clear(&b);
    struct in6_addr src = ip6(MIP6), all = ip6("ff02::1");
    compose_nd_na(&b, mac(MMAC), mac(PMAC), &src, &all, so);
    memcpy(d, dp_packet_data(&b), n);
    assert_string_equal(check_na(d, n, &target, &m),
                        "not for the probe identity");

    /* From a multicast source. */
    dp_packet_clear(&b);
    linux_na(&b, "03:00:00:00:00:11", so);
    memcpy(d, dp_packet_data(&b), n);
    assert_string_equal(check_na(d, n, &target, &m),
                        "multicast or zero Ethernet source");

    /* An NS is not an answer. */
    dp_packet_clear(&b);
    probepkt_nd(&b, mac(MMAC), &src);
    memcpy(d, dp_packet_data(&b), dp_packet_size(&b));
    assert_string_equal(check_na(d, dp_packet_size(&b), &target, &m),
                        "not a neighbor advertisement");

    dp_packet_uninit(&b);
}

static void
test_arp_reply(void **state OVS_UNUSED)
{
    struct dp_packet b;
    struct rx rx;
    ovs_be32 ip;
    struct eth_addr m;

    dp_packet_init(&b, 128);
    compose_arp(&b, ARP_OP_REPLY, mac(MMAC), mac(PMAC), false,
                inet_addr("192.0.2.11"), htonl(0));
    rx_init(&rx, &b);
    assert_null(probepkt_arp_reply(&rx.flow, mac(PMAC), &ip, &m));
    assert_int_equal(ip, inet_addr("192.0.2.11"));
    assert_mac(m, MMAC);

    /* Sender MAC other than the Ethernet source. */
    rx.flow.arp_sha = mac("02:00:00:00:00:99");
    assert_string_equal(probepkt_arp_reply(&rx.flow, mac(PMAC), &ip, &m),
                        "sender MAC is not the Ethernet source");

    /* A request is not an answer. */
    probepkt_arp(&b, mac(MMAC), inet_addr("192.0.2.11"));
    rx_init(&rx, &b);
    assert_string_equal(probepkt_arp_reply(&rx.flow, mac(PMAC), &ip, &m),
                        "not an ARP reply");
    dp_packet_uninit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nd_source), cmocka_unit_test(test_nd_probe),
        cmocka_unit_test(test_arp_probe), cmocka_unit_test(test_tcp_probe),
        cmocka_unit_test(test_nd_reply),  cmocka_unit_test(test_arp_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
