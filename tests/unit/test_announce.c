/*
 * Unit tests for announce: the bytes of the gratuitous ARP and of the
 * unsolicited NA, read by offset; the ICMPv6 checksum is recomputed here
 * independently of libopenvswitch; the 802.1Q tag of a frame for a trunk.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "announce.h"
#include "dp-packet.h"
#include "openvswitch/util.h"

static const uint8_t vmac_bytes[6] = { 0x02, 0x00, 0x5e, 0x00, 0x01, 0x01 };

static struct eth_addr
vmac(void)
{
    struct eth_addr ea;
    memcpy(ea.ea, vmac_bytes, 6);
    return ea;
}

static unsigned int
be16_at(const uint8_t *p, size_t off)
{
    return (p[off] << 8) | p[off + 1];
}

static void
test_garp(void **state OVS_UNUSED)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t zero[6] = { 0 };
    static const uint8_t ip[4] = { 192, 0, 2, 100 };
    struct dp_packet b;
    ovs_be32 ip4;

    memcpy(&ip4, ip, 4);
    dp_packet_init(&b, 0);
    announce_build_garp(&b, vmac(), ip4);

    const uint8_t *p = dp_packet_data(&b);
    assert_int_equal(dp_packet_size(&b), 14 + 28);
    assert_memory_equal(p + 0, bcast, 6);       /* eth dst */
    assert_memory_equal(p + 6, vmac_bytes, 6);  /* eth src */
    assert_int_equal(be16_at(p, 12), 0x0806);   /* ethertype ARP */
    assert_int_equal(be16_at(p, 14), 1);        /* htype Ethernet */
    assert_int_equal(be16_at(p, 16), 0x0800);   /* ptype IPv4 */
    assert_int_equal(p[18], 6);                 /* hlen */
    assert_int_equal(p[19], 4);                 /* plen */
    assert_int_equal(be16_at(p, 20), 1);        /* op request */
    assert_memory_equal(p + 22, vmac_bytes, 6); /* sha */
    assert_memory_equal(p + 28, ip, 4);         /* spa */
    assert_memory_equal(p + 32, zero, 6);       /* tha */
    assert_memory_equal(p + 38, ip, 4);         /* tpa */

    /* Building again into the same buffer replaces the contents. */
    announce_build_garp(&b, vmac(), ip4);
    assert_int_equal(dp_packet_size(&b), 14 + 28);
    dp_packet_uninit(&b);
}

/* One's complement sum over 'n' bytes, folded. */
static uint32_t
sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static uint16_t
fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

static void
test_una(void **state OVS_UNUSED)
{
    static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
    static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
    struct in6_addr ip6;
    struct dp_packet b;

    assert_int_equal(inet_pton(AF_INET6, "2001:db8::100", &ip6), 1);
    dp_packet_init(&b, 0);
    announce_build_una(&b, vmac(), &ip6);

    const uint8_t *p = dp_packet_data(&b);
    const size_t icmp_len = 24 + 8; /* NA header + TLL option. */
    assert_int_equal(dp_packet_size(&b), 14 + 40 + icmp_len);

    /* Ethernet. */
    assert_memory_equal(p + 0, mcast, 6);
    assert_memory_equal(p + 6, vmac_bytes, 6);
    assert_int_equal(be16_at(p, 12), 0x86dd);

    /* IPv6. */
    const uint8_t *ip = p + 14;
    assert_int_equal(ip[0] >> 4, 6);
    assert_int_equal(be16_at(ip, 4), icmp_len);  /* payload length */
    assert_int_equal(ip[6], 58);                 /* next header ICMPv6 */
    assert_int_equal(ip[7], 255);                /* hop limit */
    assert_memory_equal(ip + 8, &ip6, 16);       /* src */
    assert_memory_equal(ip + 24, all_nodes, 16); /* dst ff02::1 */

    /* ICMPv6 NA. */
    const uint8_t *icmp = ip + 40;
    assert_int_equal(icmp[0], 136);  /* type NA */
    assert_int_equal(icmp[1], 0);    /* code */
    assert_int_equal(icmp[4], 0x20); /* R=0 S=0 O=1 */
    assert_int_equal(icmp[5] | icmp[6] | icmp[7], 0);
    assert_memory_equal(icmp + 8, &ip6, 16); /* target */
    assert_int_equal(icmp[24], 2);           /* option TLL */
    assert_int_equal(icmp[25], 1);           /* length 8 bytes */
    assert_memory_equal(icmp + 26, vmac_bytes, 6);

    /* Checksum: pseudo-header (src, dst, length, next header) + message
     * must sum to 0xffff. */
    uint32_t sum = 0;
    sum = sum16(sum, ip + 8, 32);
    sum += icmp_len;
    sum += 58;
    sum = sum16(sum, icmp, icmp_len);
    assert_int_equal(fold(sum), 0xffff);
    assert_true(be16_at(icmp, 2) != 0);

    dp_packet_uninit(&b);
}

/* A frame for a trunk: the 802.1Q header after the MACs, the frame's own
 * ethertype and payload after it, unchanged; built again, untagged. */
static void
test_tag(void **state OVS_UNUSED)
{
    static const uint8_t ip[4] = { 192, 0, 2, 100 };
    struct dp_packet b, plain;
    ovs_be32 ip4;

    memcpy(&ip4, ip, 4);
    dp_packet_init(&plain, 0);
    announce_build_garp(&plain, vmac(), ip4);
    dp_packet_init(&b, 0);
    announce_build_garp(&b, vmac(), ip4);
    announce_tag(&b, 10);

    const uint8_t *p = dp_packet_data(&b);
    const uint8_t *q = dp_packet_data(&plain);
    assert_int_equal(dp_packet_size(&b), dp_packet_size(&plain) + 4);
    assert_memory_equal(p, q, 12);            /* dst, src */
    assert_int_equal(be16_at(p, 12), 0x8100); /* TPID */
    assert_int_equal(be16_at(p, 14), 10);     /* PCP 0, DEI 0, VID 10 */
    assert_memory_equal(p + 16, q + 12, dp_packet_size(&plain) - 12);

    /* The highest VID, and an NA: the same shape. */
    static const struct in6_addr ip6
        = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
    announce_build_una(&b, vmac(), &ip6);
    size_t len = dp_packet_size(&b);
    announce_tag(&b, 4095);
    p = dp_packet_data(&b);
    assert_int_equal(dp_packet_size(&b), len + 4);
    assert_int_equal(be16_at(p, 12), 0x8100);
    assert_int_equal(be16_at(p, 14), 4095);
    assert_int_equal(be16_at(p, 16), 0x86dd);

    announce_build_garp(&b, vmac(), ip4);
    assert_int_equal(dp_packet_size(&b), 14 + 28);
    assert_int_equal(be16_at(dp_packet_data(&b), 12), 0x0806);
    dp_packet_uninit(&b);
    dp_packet_uninit(&plain);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garp),
        cmocka_unit_test(test_una),
        cmocka_unit_test(test_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
