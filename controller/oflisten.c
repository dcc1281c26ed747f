/*
 * oflisten: OpenFlow listeners and active connections (see oflisten.h).
 */
#include "oflisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "oflimit.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "reconnect.h"
#include "socket-util.h"
#include "tlsio.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(oflisten);

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 8000
#define HANDSHAKE_TIMEOUT 10.0 /* Seconds for a TLS handshake. */

struct passive {
    struct ovs_list node; /* In oflisten->passives. */
    struct oflisten *ol;
    char *target;
    char *unix_path; /* For punix: removed on destroy. */
    bool tls;        /* pssl: */
    int fd;
    ev_io io;
    ev_timer resume; /* Re-enables accept after EMFILE. */
};

struct oflisten_active {
    struct ovs_list node; /* In oflisten->actives. */
    struct oflisten *ol;
    char *target;
    bool tls; /* ssl: */
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int fd; /* Connecting socket, or -1. */
    ev_io io;
    ev_timer retry;        /* When 'rc' wants to be run again. */
    struct reconnect *rc;  /* Backoff: libopenvswitch's reconnect FSM. */
    struct handshake *hs; /* TLS handshake in progress, or NULL. */
};

/* A TLS handshake in progress: the peer is not handed over before its
 * certificate is verified. */
struct handshake {
    struct ovs_list node; /* In oflisten->handshakes. */
    struct oflisten *ol;
    struct oflisten_active *active; /* NULL for an accepted peer. */
    int fd;
    char *peer;
    struct tlsio *tls;
    ev_io io;
    ev_timer timeout;
};

struct oflisten {
    struct ev_loop *loop;
    oflisten_conn_func *cb;
    void *aux;
    struct tlsio_ctx *tls; /* Not owned. */
    struct oflimit *limit; /* Not owned. */
    struct ovs_list passives;
    struct ovs_list actives;
    struct ovs_list handshakes;
};

static struct tlsio_ctx *default_tls;

static void active_failed(struct oflisten_active *, int error);

static void
set_nonblock_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) {
        (void) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* "IP:PORT" / "[V6]:PORT" (active) or "PORT[:IP]" (passive, 127.0.0.1
 * without IP), through libopenvswitch's socket-util.  A name is never
 * resolved.  The configuration checked the syntax with a message of its own
 * (config-check.c): socket-util's error log is for what slips past. */
static int
parse_ip_port(const char *s, bool passive, struct sockaddr_storage *ss,
              unsigned int *len)
{
    /* socket-util takes an empty port as the default port, and -1 (none)
     * as 65535: the port must be there. */
    const char *colon = strrchr(s, ':');
    bool ok;
    if (passive) {
        char *with_ip = strchr(s, ':') ? xstrdup(s)
                                       : xasprintf("%s:127.0.0.1", s);
        ok = *s && *s != ':'
             && inet_parse_passive(with_ip, -1, ss, false, NULL);
        free(with_ip);
    } else {
        ok = colon && colon[1] && inet_parse_active(s, -1, ss, false, NULL)
             && ss_get_port(ss);
    }
    if (!ok || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
        return EINVAL;
    }
    *len = ss_length(ss);
    return 0;
}

static int
parse_unix(const char *path, struct sockaddr_storage *ss, unsigned int *len)
{
    struct sockaddr_un *sun = (struct sockaddr_un *) ss;
    if (!path[0] || strlen(path) >= sizeof sun->sun_path) {
        return EINVAL;
    }
    memset(ss, 0, sizeof *ss);
    sun->sun_family = AF_UNIX;
    strcpy(sun->sun_path, path);
    *len = sizeof *sun;
    return 0;
}

int
oflisten_parse_target(const char *target, int *kind,
                      struct sockaddr_storage *ss, unsigned int *len)
{
    if (!strncmp(target, "ptcp:", 5)) {
        *kind = OFLISTEN_PTCP;
        return parse_ip_port(target + 5, true, ss, len);
    } else if (!strncmp(target, "pssl:", 5)) {
        *kind = OFLISTEN_PSSL;
        return parse_ip_port(target + 5, true, ss, len);
    } else if (!strncmp(target, "ssl:", 4)) {
        *kind = OFLISTEN_SSL;
        return parse_ip_port(target + 4, false, ss, len);
    } else if (!strncmp(target, "punix:", 6)) {
        *kind = OFLISTEN_PUNIX;
        return parse_unix(target + 6, ss, len);
    } else if (!strncmp(target, "tcp:", 4)) {
        *kind = OFLISTEN_TCP;
        return parse_ip_port(target + 4, false, ss, len);
    } else if (!strncmp(target, "unix:", 5)) {
        *kind = OFLISTEN_UNIX;
        return parse_unix(target + 5, ss, len);
    }
    return EINVAL;
}

static void
peer_name(const struct sockaddr_storage *ss, bool tls, const char *fallback,
          char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    const char *scheme = tls ? "ssl" : "tcp";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *) ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        snprintf(buf, size, "%s:%s:%u", scheme, ip, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *) ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        snprintf(buf, size, "%s:[%s]:%u", scheme, ip, ntohs(sin6->sin6_port));
    } else {
        snprintf(buf, size, "%s", fallback);
    }
}

static void
tune_socket(int fd, int family)
{
    if (family == AF_INET || family == AF_INET6) {
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

/* TLS handshakes. */

static void
handshake_destroy(struct handshake *h, bool close_fd)
{
    struct ev_loop *loop = h->ol->loop;
    ev_io_stop(loop, &h->io);
    ev_timer_stop(loop, &h->timeout);
    ovs_list_remove(&h->node);
    oflimit_handshake_end(h->ol->limit);
    if (h->active) {
        h->active->hs = NULL;
    }
    tlsio_destroy(h->tls);
    if (close_fd) {
        close(h->fd);
    }
    free(h->peer);
    free(h);
}

static void
handshake_failed(struct handshake *h, const char *why)
{
    struct oflisten_active *a = h->active;

    RL_WARN("%s: TLS handshake failed: %s", h->peer, why);
    oflimit_count_tls_failure(h->ol->limit);
    handshake_destroy(h, true);
    if (a) {
        active_failed(a, EPROTO);
    }
}

/* Hands the verified connection to the owner, with its session. */
static void
handshake_done(struct handshake *h)
{
    struct oflisten *ol = h->ol;
    struct oflisten_active *a = h->active;
    struct tlsio *tls = h->tls;
    int fd = h->fd;
    char *peer = h->peer;

    VLOG_INFO("%s: TLS connection from certificate CN \"%s\"", peer,
              tlsio_peer_cn(tls));
    h->tls = NULL;
    h->peer = NULL;
    handshake_destroy(h, false);
    tlsio_handover_put(fd, tls);
    ol->cb(fd, peer, a, ol->aux);
    /* An owner that did not make a channel on 'fd' left the session. */
    tlsio_destroy(tlsio_handover_take(fd));
    free(peer);
}

static void
handshake_step(struct handshake *h)
{
    char *error;
    int r = tlsio_handshake(h->tls, &error);
    if (r == EAGAIN) {
        int events = tlsio_want_write(h->tls) ? EV_WRITE : EV_READ;
        if (events != (h->io.events & (EV_READ | EV_WRITE))) {
            ev_io_stop(h->ol->loop, &h->io);
            ev_io_set(&h->io, h->fd, events);
        }
        ev_io_start(h->ol->loop, &h->io);
    } else if (r) {
        handshake_failed(h, error);
        free(error);
    } else {
        handshake_done(h);
    }
}

static void
handshake_io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w,
                int revents OVS_UNUSED)
{
    handshake_step(CONTAINER_OF(w, struct handshake, io));
}

static void
handshake_timeout_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                     int revents OVS_UNUSED)
{
    handshake_failed(CONTAINER_OF(w, struct handshake, timeout),
                     "no handshake within 10 s");
}

/* Starts the TLS handshake on connected 'fd' (server side for an accepted
 * peer, client side for 'active'). */
static void
handshake_start(struct oflisten *ol, int fd, const char *peer,
                struct oflisten_active *active)
{
    struct handshake *h = xzalloc(sizeof *h);
    h->ol = ol;
    h->active = active;
    h->fd = fd;
    h->peer = xstrdup(peer);
    h->tls = tlsio_create(ol->tls, fd, !active);
    ev_io_init(&h->io, handshake_io_cb, fd, EV_READ);
    ev_timer_init(&h->timeout, handshake_timeout_cb, HANDSHAKE_TIMEOUT, 0.);
    ev_timer_start(ol->loop, &h->timeout);
    ovs_list_push_back(&ol->handshakes, &h->node);
    oflimit_handshake_begin(ol->limit);
    if (active) {
        active->hs = h;
    }
    handshake_step(h);
}

/* Passive side. */

static void
passive_accept_cb(struct ev_loop *loop, ev_io *w, int revents OVS_UNUSED)
{
    struct passive *p = CONTAINER_OF(w, struct passive, io);
    struct oflisten *ol = p->ol;

    /* Bounded: at most 64 accepts per wake-up. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept(p->fd, (struct sockaddr *) &ss, &len);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                || errno == ENOMEM) {
                RL_WARN("%s: accept failed (%s); pausing accepts "
                        "for 1 s",
                        p->target, ovs_strerror(errno));
                oflimit_count_accept_pause(ol->limit);
                ev_io_stop(loop, &p->io);
                ev_timer_set(&p->resume, 1., 0.);
                ev_timer_start(loop, &p->resume);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK
                       && errno != EINTR && errno != ECONNABORTED) {
                RL_WARN("%s: accept failed (%s)", p->target,
                        ovs_strerror(errno));
            }
            return;
        }
        set_nonblock_cloexec(fd);
        tune_socket(fd, ss.ss_family);

        char name[128];
        char fallback[128];
        snprintf(fallback, sizeof fallback, "%s#%d", p->target, fd);
        peer_name(&ss, p->tls, fallback, name, sizeof name);
        if (!oflimit_peer_room(ol->limit)) {
            RL_WARN("%s: refusing OpenFlow connection: %zu peers "
                    "already (openflow.max_peers, or the descriptor "
                    "limit)",
                    name, oflimit_config(ol->limit)->max_peers);
            oflimit_count_refused(ol->limit);
            close(fd);
            continue;
        }
        if (p->tls) {
            handshake_start(ol, fd, name, NULL);
        } else {
            ol->cb(fd, name, NULL, ol->aux);
        }
    }
}

static void
passive_resume_cb(struct ev_loop *loop, ev_timer *w, int revents OVS_UNUSED)
{
    struct passive *p = CONTAINER_OF(w, struct passive, resume);
    ev_io_start(loop, &p->io);
}

/* Returns true if something accepts connections on unix socket 'ss'. */
static bool
unix_socket_alive(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool alive = !connect(fd, (const struct sockaddr *) ss, len);
    close(fd);
    return alive;
}

static int
passive_open(struct oflisten *ol, const char *target, int kind,
             const struct sockaddr_storage *ss, socklen_t len, char **errp)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int error = errno;
        *errp = xasprintf("%s: socket: %s", target, ovs_strerror(error));
        return error;
    }
    char *unix_path = NULL;
    if (kind == OFLISTEN_PUNIX) {
        const struct sockaddr_un *sun = (const void *) ss;
        struct stat st;
        if (!stat(sun->sun_path, &st)) {
            if (!S_ISSOCK(st.st_mode)) {
                *errp = xasprintf("%s: %s exists and is not a socket", target,
                                  sun->sun_path);
                close(fd);
                return EEXIST;
            }
            if (unix_socket_alive(ss, len)) {
                *errp = xasprintf("%s: another process listens on %s", target,
                                  sun->sun_path);
                close(fd);
                return EADDRINUSE;
            }
            unlink(sun->sun_path);
        }
        unix_path = xstrdup(sun->sun_path);
    } else {
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    /* A unix socket is created 0660 whatever the umask: no window in
     * which others may connect. */
    mode_t old_mask = unix_path ? umask(0117) : 0;
    int error = bind(fd, (const struct sockaddr *) ss, len) ? errno : 0;
    if (unix_path) {
        umask(old_mask);
        if (!error && chmod(unix_path, 0660)) {
            error = errno;
            unlink(unix_path);
        }
    }
    if (!error && listen(fd, 64)) {
        error = errno;
    }
    if (error) {
        *errp = xasprintf("%s: %s", target, ovs_strerror(error));
        close(fd);
        free(unix_path);
        return error;
    }
    set_nonblock_cloexec(fd);

    struct passive *p = xzalloc(sizeof *p);
    p->ol = ol;
    p->target = xstrdup(target);
    p->unix_path = unix_path;
    p->tls = kind == OFLISTEN_PSSL;
    p->fd = fd;
    ev_io_init(&p->io, passive_accept_cb, fd, EV_READ);
    ev_init(&p->resume, passive_resume_cb);
    ev_io_start(ol->loop, &p->io);
    ovs_list_push_back(&ol->passives, &p->node);
    VLOG_INFO("listening for OpenFlow on %s", target);
    return 0;
}

/* Active side. */

static void active_connect(struct oflisten_active *);

static long long int
active_now(const struct oflisten_active *a)
{
    return (long long int) (ev_now(a->ol->loop) * 1000.0);
}

/* Does what the reconnect FSM asks now and sets the timer for its next
 * deadline (a connection attempt after the backoff, or the end of a
 * connect that takes too long). */
static void
active_run(struct oflisten_active *a)
{
    long long int now = active_now(a);
    switch (reconnect_run(a->rc, now)) {
    case RECONNECT_CONNECT:
        reconnect_connecting(a->rc, now);
        active_connect(a);
        break;
    case RECONNECT_DISCONNECT:
        /* Only while connecting: the attempt took too long. */
        active_failed(a, ETIMEDOUT);
        return;
    case RECONNECT_PROBE:
    default:
        /* No probes here: the channel probes its peer itself. */
        break;
    }
    ev_timer_stop(a->ol->loop, &a->retry);
    int ms = reconnect_timeout(a->rc, active_now(a));
    if (ms >= 0) {
        ev_timer_set(&a->retry, ms / 1000.0, 0.);
        ev_timer_start(a->ol->loop, &a->retry);
    }
}

static void
active_retry_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                int revents OVS_UNUSED)
{
    active_run(CONTAINER_OF(w, struct oflisten_active, retry));
}

static void
active_connected(struct oflisten_active *a)
{
    int fd = a->fd;
    a->fd = -1;
    ev_io_stop(a->ol->loop, &a->io);
    reconnect_connected(a->rc, active_now(a));
    tune_socket(fd, a->sa.ss_family);
    VLOG_INFO("%s: connected", a->target);
    if (a->tls) {
        handshake_start(a->ol, fd, a->target, a);
        return;
    }
    a->ol->cb(fd, a->target, a, a->ol->aux);
}

/* The attempt (or the TLS handshake after it) failed with 'error'. */
static void
active_failed(struct oflisten_active *a, int error)
{
    ev_io_stop(a->ol->loop, &a->io);
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    long long int now = active_now(a);
    if (reconnect_is_connected(a->rc)) {
        /* The TLS handshake failed (logged): no second warning. */
        reconnect_disconnected(a->rc, now, 0);
    } else {
        reconnect_connect_failed(a->rc, now, error);
    }
    RL_WARN("%s: connection failed (%s); retrying in %.0f s", a->target,
            ovs_strerror(error), reconnect_timeout(a->rc, now) / 1000.0);
    active_run(a);
}

static void
active_io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w, int revents OVS_UNUSED)
{
    struct oflisten_active *a = CONTAINER_OF(w, struct oflisten_active, io);
    int error = 0;
    socklen_t len = sizeof error;

    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &error, &len)) {
        error = errno;
    }
    if (error) {
        active_failed(a, error);
    } else {
        active_connected(a);
    }
}

static void
active_connect(struct oflisten_active *a)
{
    a->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a->fd < 0) {
        active_failed(a, errno);
        return;
    }
    set_nonblock_cloexec(a->fd);
    if (!connect(a->fd, (struct sockaddr *) &a->sa, a->sa_len)) {
        active_connected(a);
    } else if (errno == EINPROGRESS || errno == EAGAIN) {
        ev_io_set(&a->io, a->fd, EV_WRITE);
        ev_io_start(a->ol->loop, &a->io);
    } else {
        active_failed(a, errno);
    }
}

/* The connection ran until now: one that lasted at least the backoff
 * starts the next one from the shortest backoff (reconnect's rule). */
void
oflisten_active_lost(struct oflisten_active *a)
{
    if (a && reconnect_is_connected(a->rc) && !a->hs) {
        long long int now = active_now(a);
        reconnect_activity(a->rc, now);
        reconnect_disconnected(a->rc, now, 0);
        active_run(a);
    }
}

/* Lifecycle. */

struct oflisten *
oflisten_create(struct ev_loop *loop, oflisten_conn_func *cb, void *aux)
{
    struct oflisten *ol = xzalloc(sizeof *ol);
    ol->loop = loop;
    ol->cb = cb;
    ol->aux = aux;
    ol->tls = default_tls;
    ol->limit = oflimit_default();
    ovs_list_init(&ol->passives);
    ovs_list_init(&ol->actives);
    ovs_list_init(&ol->handshakes);
    return ol;
}

void
oflisten_set_tls(struct oflisten *ol, struct tlsio_ctx *tls)
{
    ol->tls = tls;
}

void
oflisten_set_limit(struct oflisten *ol, struct oflimit *limit)
{
    ol->limit = limit;
}

void
oflisten_set_default_tls(struct tlsio_ctx *tls)
{
    default_tls = tls;
}

int
oflisten_add(struct oflisten *ol, const char *target, char **errp)
{
    struct sockaddr_storage ss;
    unsigned int len;
    int kind;

    *errp = NULL;
    if (oflisten_parse_target(target, &kind, &ss, &len)) {
        *errp = xasprintf("%s: invalid OpenFlow target (expected ptcp:PORT"
                          "[:IP], pssl:PORT[:IP], punix:PATH, tcp:IP:PORT, "
                          "ssl:IP:PORT or unix:PATH)",
                          target);
        return EINVAL;
    }
    bool tls = kind == OFLISTEN_PSSL || kind == OFLISTEN_SSL;
    if (tls && !ol->tls) {
        *errp = xasprintf("%s: a TLS target needs the TLS settings "
                          "(openflow.tls)",
                          target);
        return EINVAL;
    }
    if (kind == OFLISTEN_PTCP || kind == OFLISTEN_PUNIX
        || kind == OFLISTEN_PSSL) {
        return passive_open(ol, target, kind, &ss, len, errp);
    }

    struct oflisten_active *a = xzalloc(sizeof *a);
    a->ol = ol;
    a->tls = tls;
    a->target = xstrdup(target);
    a->sa = ss;
    a->sa_len = len;
    a->fd = -1;
    a->rc = reconnect_create(active_now(a));
    reconnect_set_name(a->rc, target);
    reconnect_set_quiet(a->rc, true); /* Logged here, rate-limited. */
    reconnect_set_backoff(a->rc, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    reconnect_set_probe_interval(a->rc, 0);
    ev_init(&a->io, active_io_cb);
    ev_init(&a->retry, active_retry_cb);
    ovs_list_push_back(&ol->actives, &a->node);
    reconnect_enable(a->rc, active_now(a));
    active_run(a);
    return 0;
}

void
oflisten_destroy(struct oflisten *ol)
{
    if (!ol) {
        return;
    }
    struct handshake *h, *next_h;
    LIST_FOR_EACH_SAFE (h, next_h, node, &ol->handshakes) {
        handshake_destroy(h, true);
    }
    struct passive *p;
    LIST_FOR_EACH_POP (p, node, &ol->passives) {
        ev_io_stop(ol->loop, &p->io);
        ev_timer_stop(ol->loop, &p->resume);
        close(p->fd);
        if (p->unix_path) {
            unlink(p->unix_path);
            free(p->unix_path);
        }
        free(p->target);
        free(p);
    }
    struct oflisten_active *a;
    LIST_FOR_EACH_POP (a, node, &ol->actives) {
        ev_io_stop(ol->loop, &a->io);
        ev_timer_stop(ol->loop, &a->retry);
        if (a->fd >= 0) {
            close(a->fd);
        }
        reconnect_destroy(a->rc);
        free(a->target);
        free(a);
    }
    free(ol);
}
