/* arpbench: how fast, and how quickly, an address is answered over ARP.
 *
 *   arpbench IFACE TARGET_IP WINDOW SECONDS
 *
 * Sends ARP requests for TARGET_IP out of IFACE (AF_PACKET, the
 * interface's MAC as sender) keeping WINDOW (1..32) requests outstanding,
 * for SECONDS.  Request k of the window claims sender address
 * 192.0.2.(200+k), so each reply (whose target address is the request's
 * sender) names its slot.  A slot with no reply after 100 ms counts as
 * lost and is sent again.  WINDOW 1 gives the reply latency; a larger one
 * the throughput.  Prints one JSON object: sent, answered, lost, rps,
 * p50_us, p99_us, max_us. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 32
#define MAX_SAMPLES (1 << 21)
#define LOST_NS 100000000LL

struct arp_frame {
    struct ether_header eth;
    struct ether_arp arp;
} __attribute__((packed));

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

int
main(int argc, char *argv[])
{
    if (argc != 5) {
        fprintf(stderr, "usage: arpbench IFACE TARGET_IP WINDOW SECONDS\n");
        return 2;
    }
    const char *ifname = argv[1];
    struct in_addr target;
    int window = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if (inet_pton(AF_INET, argv[2], &target) != 1 || window < 1
        || window > MAX_WINDOW || seconds <= 0 || seconds > 60) {
        fprintf(stderr,
                "arpbench: bad TARGET_IP, WINDOW (1..%d) or "
                "SECONDS (0..60)\n",
                MAX_WINDOW);
        return 2;
    }

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ARP));
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        perror(ifname);
        return 1;
    }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        perror(ifname);
        return 1;
    }
    uint8_t mac[ETH_ALEN];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ARP),
        .sll_ifindex = ifindex,
    };
    if (bind(fd, (struct sockaddr *) &sll, sizeof sll) < 0) {
        perror("bind");
        return 1;
    }

    int64_t *samples = malloc(MAX_SAMPLES * sizeof *samples);
    int64_t sent_at[MAX_WINDOW] = { 0 };
    long n_sent = 0, n_answered = 0, n_lost = 0, n_samples = 0;
    if (!samples) {
        perror("malloc");
        return 1;
    }

    struct arp_frame req;
    memset(&req, 0, sizeof req);
    memset(req.eth.ether_dhost, 0xff, ETH_ALEN);
    memcpy(req.eth.ether_shost, mac, ETH_ALEN);
    req.eth.ether_type = htons(ETH_P_ARP);
    req.arp.arp_hrd = htons(ARPHRD_ETHER);
    req.arp.arp_pro = htons(ETH_P_IP);
    req.arp.arp_hln = ETH_ALEN;
    req.arp.arp_pln = 4;
    req.arp.arp_op = htons(ARPOP_REQUEST);
    memcpy(req.arp.arp_sha, mac, ETH_ALEN);
    memcpy(req.arp.arp_tpa, &target, 4);

    int64_t start = now_ns();
    int64_t end = start + (int64_t) (seconds * 1e9);
    for (int64_t t = start; t < end; t = now_ns()) {
        /* (Re)send every idle or timed-out slot. */
        for (int k = 0; k < window; k++) {
            if (sent_at[k] && t - sent_at[k] < LOST_NS) {
                continue;
            }
            if (sent_at[k]) {
                n_lost++;
            }
            uint8_t spa[4] = { 192, 0, 2, (uint8_t) (200 + k) };
            memcpy(req.arp.arp_spa, spa, 4);
            if (send(fd, &req, sizeof req, 0) == sizeof req) {
                n_sent++;
                sent_at[k] = now_ns();
            } else {
                sent_at[k] = 0;
            }
        }

        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 10) <= 0) {
            continue;
        }
        for (int i = 0; i < 256; i++) {
            struct arp_frame rep;
            struct sockaddr_ll from;
            socklen_t fromlen = sizeof from;
            ssize_t n = recvfrom(fd, &rep, sizeof rep, 0,
                                 (struct sockaddr *) &from, &fromlen);
            if (n < 0) {
                break;
            }
            int64_t tr = now_ns();
            if (n < (ssize_t) sizeof rep || from.sll_pkttype == PACKET_OUTGOING
                || rep.arp.arp_op != htons(ARPOP_REPLY)
                || memcmp(rep.arp.arp_spa, &target, 4)
                || rep.arp.arp_tpa[0] != 192 || rep.arp.arp_tpa[1] != 0
                || rep.arp.arp_tpa[2] != 2 || rep.arp.arp_tpa[3] < 200) {
                continue;
            }
            int k = rep.arp.arp_tpa[3] - 200;
            if (k >= window || !sent_at[k]) {
                continue;
            }
            if (n_samples < MAX_SAMPLES) {
                samples[n_samples++] = tr - sent_at[k];
            }
            n_answered++;
            sent_at[k] = 0;
        }
    }
    double elapsed = (now_ns() - start) / 1e9;

    qsort(samples, n_samples, sizeof *samples, cmp_i64);
    double p50 = n_samples ? samples[n_samples / 2] / 1e3 : 0;
    double p99 = n_samples ? samples[(long) (n_samples * 0.99)] / 1e3 : 0;
    double max = n_samples ? samples[n_samples - 1] / 1e3 : 0;
    printf("{\"target\": \"%s\", \"window\": %d, \"seconds\": %.3f, "
           "\"sent\": %ld, \"answered\": %ld, \"lost\": %ld, \"rps\": %.1f, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
           argv[2], window, elapsed, n_sent, n_answered, n_lost,
           n_answered / elapsed, p50, p99, max);
    free(samples);
    close(fd);
    return 0;
}
