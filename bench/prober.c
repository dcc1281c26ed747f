/* prober: the client-side outage meter of "make bench", and the member
 * echo service it talks to.
 *
 *   prober serve NAME PORT
 *       Answers every UDP datagram on PORT (IPv4 and IPv6, any local
 *       address) with "NAME:" followed by the datagram, sent from the
 *       address the datagram was sent to (IP_PKTINFO), so an alias carried
 *       on lo or a VRRP address on eth0 answers as itself.
 *
 *   prober probe ADDR PORT RATE MAX_S OUT [READY_N]
 *       Sends datagram "SEQ" to ADDR:PORT RATE times per second until its
 *       stdin closes, SIGTERM/SIGINT, or MAX_S seconds; then waits 300 ms
 *       for late replies and writes OUT: one line per datagram, "SEQ
 *       SEND_NS REPLY_NS NAME" (CLOCK_MONOTONIC nanoseconds, REPLY_NS 0 and
 *       NAME "-" when unanswered).  Prints "ready" on stdout once READY_N
 *       (default 100) replies came back; exits 3 if none within 5 s.
 *
 * CLOCK_MONOTONIC is shared by all network namespaces, so the driver can
 * place its own failure-injection times on the same axis. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 16
#define NAME_LEN 32

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void) sig;
    stop_requested = 1;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* The echo service. */

static int
open_serve_socket(int family, int port)
{
    int one = 1;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET) {
        struct sockaddr_in sin = {
            .sin_family = AF_INET,
            .sin_port = htons(port),
        };

        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0) {
            die("bind (IPv4)");
        }
    } else {
        struct sockaddr_in6 sin6 = {
            .sin6_family = AF_INET6,
            .sin6_port = htons(port),
            .sin6_addr = IN6ADDR_ANY_INIT,
        };

        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &sin6, sizeof sin6) < 0) {
            die("bind (IPv6)");
        }
    }
    return fd;
}

/* Answers every datagram waiting on 'fd' from the address it was sent to. */
static void
serve_one(int fd, const char *name)
{
    for (int i = 0; i < 1024; i++) {
        char in[512], out[600], cbuf[256];
        struct sockaddr_storage peer;
        struct iovec iov = { in, sizeof in };
        struct msghdr msg = {
            .msg_name = &peer,
            .msg_namelen = sizeof peer,
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = cbuf,
            .msg_controllen = sizeof cbuf,
        };
        ssize_t n = recvmsg(fd, &msg, 0);

        if (n < 0) {
            return;
        }

        /* Keep only the destination address: reply from it. */
        char obuf[256];
        size_t olen = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
             c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                struct cmsghdr *oc = (struct cmsghdr *) obuf;

                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                pi.ipi_spec_dst = pi.ipi_addr;
                pi.ipi_ifindex = 0;
                oc->cmsg_level = IPPROTO_IP;
                oc->cmsg_type = IP_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof pi);
                memcpy(CMSG_DATA(oc), &pi, sizeof pi);
                olen = CMSG_SPACE(sizeof pi);
            } else if (c->cmsg_level == IPPROTO_IPV6
                       && c->cmsg_type == IPV6_PKTINFO) {
                struct in6_pktinfo pi;
                struct cmsghdr *oc = (struct cmsghdr *) obuf;

                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                pi.ipi6_ifindex = 0;
                oc->cmsg_level = IPPROTO_IPV6;
                oc->cmsg_type = IPV6_PKTINFO;
                oc->cmsg_len = CMSG_LEN(sizeof pi);
                memcpy(CMSG_DATA(oc), &pi, sizeof pi);
                olen = CMSG_SPACE(sizeof pi);
            }
        }

        int len = snprintf(out, sizeof out, "%s:%.*s", name, (int) n, in);
        if (len < 0 || (size_t) len >= sizeof out) {
            continue;
        }
        struct iovec oiov = { out, (size_t) len };
        struct msghdr omsg = {
            .msg_name = &peer,
            .msg_namelen = msg.msg_namelen,
            .msg_iov = &oiov,
            .msg_iovlen = 1,
            .msg_control = olen ? obuf : NULL,
            .msg_controllen = olen,
        };
        sendmsg(fd, &omsg, 0);
    }
}

static int
cmd_serve(int argc, char *argv[])
{
    if (argc != 2) {
        fprintf(stderr, "usage: prober serve NAME PORT\n");
        return 2;
    }
    const char *name = argv[0];
    int port = atoi(argv[1]);
    struct pollfd pfd[2] = {
        { .fd = open_serve_socket(AF_INET, port), .events = POLLIN },
        { .fd = open_serve_socket(AF_INET6, port), .events = POLLIN },
    };

    printf("ready\n");
    fflush(stdout);
    while (!stop_requested) {
        if (poll(pfd, 2, 1000) < 0 && errno != EINTR) {
            die("poll");
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents & POLLIN) {
                serve_one(pfd[i].fd, name);
            }
        }
    }
    return 0;
}

/* The prober. */

struct probe {
    int64_t sent_ns;
    int64_t reply_ns;
    int name; /* Index in names[], -1 if unanswered. */
};

static char names[MAX_NAMES][NAME_LEN];
static int n_names;

static int
name_index(const char *s, size_t len)
{
    if (len >= NAME_LEN) {
        len = NAME_LEN - 1;
    }
    for (int i = 0; i < n_names; i++) {
        if (strlen(names[i]) == len && !memcmp(names[i], s, len)) {
            return i;
        }
    }
    if (n_names == MAX_NAMES) {
        return MAX_NAMES - 1;
    }
    memcpy(names[n_names], s, len);
    names[n_names][len] = '\0';
    return n_names++;
}

/* Reads every waiting reply; returns how many were new. */
static int
receive_replies(int fd, struct probe *probes, long n_sent)
{
    int got = 0;

    for (int i = 0; i < 4096; i++) {
        char buf[600];
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);

        if (n < 0) {
            break;
        }
        int64_t t = now_ns();
        buf[n] = '\0';
        char *colon = memchr(buf, ':', n);
        if (!colon) {
            continue;
        }
        char *end;
        long seq = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || seq < 0 || seq >= n_sent
            || probes[seq].reply_ns) {
            continue;
        }
        probes[seq].reply_ns = t;
        probes[seq].name = name_index(buf, colon - buf);
        got++;
    }
    return got;
}

static int
cmd_probe(int argc, char *argv[])
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: prober probe ADDR PORT RATE MAX_S OUT "
                        "[READY_N]\n");
        return 2;
    }
    const char *addr = argv[0], *port = argv[1], *out = argv[4];
    double rate = atof(argv[2]), max_s = atof(argv[3]);
    long ready_n = argc == 6 ? atol(argv[5]) : 100;

    if (rate < 1 || rate > 100000 || max_s <= 0 || max_s > 600) {
        fprintf(stderr, "prober: RATE 1..100000, MAX_S 0..600\n");
        return 2;
    }

    struct addrinfo hints
        = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
    struct addrinfo *ai;
    if (getaddrinfo(addr, port, &hints, &ai)) {
        fprintf(stderr, "prober: bad address %s port %s\n", addr, port);
        return 2;
    }
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        die("socket/connect");
    }
    freeaddrinfo(ai);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

    long cap = (long) (rate * max_s) + 16;
    struct probe *probes = calloc(cap, sizeof *probes);
    if (!probes) {
        die("calloc");
    }
    int64_t period = (int64_t) (1e9 / rate);
    int64_t start = now_ns(), next = start;
    int64_t deadline = start + (int64_t) (max_s * 1e9);
    long n_sent = 0, n_replies = 0;
    int ready = 0, stdin_open = 1;

    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    while (!stop_requested && stdin_open && n_sent < cap) {
        int64_t t = now_ns();
        if (t >= deadline) {
            break;
        }
        if (t >= next) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld", n_sent);

            probes[n_sent].sent_ns = t;
            probes[n_sent].name = -1;
            n_sent++;
            send(fd, buf, len, 0);
            /* A late wake-up does not cause a burst. */
            next = next + period < t - period ? t + period : next + period;
        }
        if (!ready && t - start > 5000000000LL) {
            fprintf(stderr, "prober: no replies from %s within 5 s\n", addr);
            return 3;
        }

        struct pollfd pfd[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = 0, .events = POLLIN },
        };
        int64_t wait = next - now_ns();
        struct timespec ts = {
            .tv_sec = wait > 0 ? wait / 1000000000 : 0,
            .tv_nsec = wait > 0 ? wait % 1000000000 : 0,
        };
        if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR) {
            die("ppoll");
        }
        if (pfd[0].revents & POLLIN) {
            n_replies += receive_replies(fd, probes, n_sent);
            if (!ready && n_replies >= ready_n) {
                ready = 1;
                printf("ready\n");
                fflush(stdout);
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP)) {
            char b[64];
            ssize_t r = read(0, b, sizeof b);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                stdin_open = 0;
            }
        }
    }

    /* Late replies. */
    int64_t drain_end = now_ns() + 300000000;
    for (int64_t t = now_ns(); t < drain_end; t = now_ns()) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ms = (int) ((drain_end - t) / 1000000) + 1;

        if (poll(&pfd, 1, ms) > 0) {
            receive_replies(fd, probes, n_sent);
        }
    }

    FILE *f = fopen(out, "w");
    if (!f) {
        die(out);
    }
    fprintf(f, "# rate %g\n", rate);
    for (long i = 0; i < n_sent; i++) {
        fprintf(f, "%ld %lld %lld %s\n", i, (long long) probes[i].sent_ns,
                (long long) probes[i].reply_ns,
                probes[i].name >= 0 ? names[probes[i].name] : "-");
    }
    if (fclose(f)) {
        die(out);
    }
    free(probes);
    return 0;
}

int
main(int argc, char *argv[])
{
    struct sigaction sa = { .sa_handler = on_signal };

    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "serve")) {
        return cmd_serve(argc - 2, argv + 2);
    } else if (argc >= 2 && !strcmp(argv[1], "probe")) {
        return cmd_probe(argc - 2, argv + 2);
    }
    fprintf(stderr,
            "usage: prober serve NAME PORT\n"
            "       prober probe ADDR PORT RATE MAX_S OUT [READY_N]\n");
    return 2;
}
