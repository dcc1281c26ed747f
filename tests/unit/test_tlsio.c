/*
 * Unit tests for tlsio (TLS on a non-blocking socket) with certificates
 * made for the test (tls-certs.c), over socket pairs: handshakes, the
 * peer's CN, refused peers (another CA, no certificate, plaintext), data
 * both ways with partial reads and writes, the handover table, and an
 * ofchan speaking OpenFlow through a session it took over.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ofchan.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "tls-certs.h"
#include "tlsio.h"
#include "util.h"

struct fixture {
    char dir[64];
    struct tls_ca *a, *b;
    char *files[6]; /* server, client, stranger: key and cert each. */
    struct tlsio_ctx *server, *client, *stranger;
};

static struct tlsio_ctx *
ctx_or_fail(const char *key, const char *cert, const char *ca)
{
    struct tlsio_config tc = { key, cert, ca };
    char *error;
    struct tlsio_ctx *ctx = tlsio_ctx_create(&tc, &error);
    if (!ctx) {
        fail_msg("tlsio_ctx_create: %s", error);
    }
    assert_null(error);
    return ctx;
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    strcpy(f->dir, "/tmp/test_tlsio.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->a = tls_ca_create(f->dir, "a");
    f->b = tls_ca_create(f->dir, "b");
    tls_ca_issue(f->a, "server", &f->files[0], &f->files[1]);
    tls_ca_issue(f->a, "client", &f->files[2], &f->files[3]);
    tls_ca_issue(f->b, "stranger", &f->files[4], &f->files[5]);
    f->server = ctx_or_fail(f->files[0], f->files[1], tls_ca_file(f->a));
    f->client = ctx_or_fail(f->files[2], f->files[3], tls_ca_file(f->a));
    /* Trusts the server, but its own certificate is from CA b. */
    f->stranger = ctx_or_fail(f->files[4], f->files[5], tls_ca_file(f->a));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    tlsio_ctx_destroy(f->server);
    tlsio_ctx_destroy(f->client);
    tlsio_ctx_destroy(f->stranger);
    for (size_t i = 0; i < ARRAY_SIZE(f->files); i++) {
        unlink(f->files[i]);
        free(f->files[i]);
    }
    char *a = xasprintf("%s/a-ca.pem", f->dir);
    char *b = xasprintf("%s/b-ca.pem", f->dir);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
    rmdir(f->dir);
    tls_ca_destroy(f->a);
    tls_ca_destroy(f->b);
    free(f);
    return 0;
}

static void
nonblocking_pair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds),
                     0);
}

/* Drives both handshakes until both are done or one fails; returns the
 * server's and the client's results. */
static void
handshake(struct tlsio *s, struct tlsio *c, int *rs, int *rc, char **es,
          char **ec)
{
    *rs = *rc = EAGAIN;
    *es = *ec = NULL;
    for (int i = 0; i < 200 && (*rs == EAGAIN || *rc == EAGAIN); i++) {
        if (*rs == EAGAIN) {
            *rs = tlsio_handshake(s, es);
        }
        if (*rc == EAGAIN) {
            *rc = tlsio_handshake(c, ec);
        }
        if ((*rs && *rs != EAGAIN) || (*rc && *rc != EAGAIN)) {
            break;
        }
    }
}

static void
test_handshake_and_data(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    nonblocking_pair(fds);
    struct tlsio *s = tlsio_create(f->server, fds[0], true);
    struct tlsio *c = tlsio_create(f->client, fds[1], false);
    assert_null(tlsio_peer_cn(s));

    int rs, rc;
    char *es, *ec;
    handshake(s, c, &rs, &rc, &es, &ec);
    assert_int_equal(rs, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(tlsio_peer_cn(s), "client");
    assert_string_equal(tlsio_peer_cn(c), "server");

    /* 1 MB client to server, through a socket pair that holds much less:
     * partial writes, EAGAIN, and reads in between. */
    size_t total = 1 << 20, sent = 0, got = 0;
    char *out = xmalloc(total), *in = xmalloc(total);
    for (size_t i = 0; i < total; i++) {
        out[i] = i * 7 + (i >> 9);
    }
    for (int i = 0; i < 100000 && got < total; i++) {
        if (sent < total) {
            ssize_t n = tlsio_send(c, out + sent, total - sent);
            if (n > 0) {
                sent += n;
            } else {
                assert_int_equal(errno, EAGAIN);
            }
        }
        ssize_t n = tlsio_recv(s, in + got, total - got);
        if (n > 0) {
            got += n;
        } else {
            assert_true(n < 0 && errno == EAGAIN);
        }
    }
    assert_int_equal(got, total);
    assert_memory_equal(in, out, total);
    free(in);
    free(out);

    /* The other way, and the end of the stream. */
    assert_int_equal(tlsio_send(s, "bye", 3), 3);
    char buf[8];
    assert_int_equal(tlsio_recv(c, buf, sizeof buf), 3);
    assert_memory_equal(buf, "bye", 3);
    assert_int_equal(tlsio_recv(c, buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    assert_false(tlsio_want_write(c));
    tlsio_shutdown(s);
    assert_int_equal(tlsio_recv(c, buf, sizeof buf), 0);

    tlsio_destroy(s);
    tlsio_destroy(c);
    close(fds[0]);
    close(fds[1]);
}

static void
expect_refused(struct tlsio *s, struct tlsio *c, const char *reason)
{
    int rs, rc;
    char *es, *ec;
    handshake(s, c, &rs, &rc, &es, &ec);
    assert_int_equal(rs, EPROTO);
    assert_non_null(es);
    if (!strstr(es, reason)) {
        fail_msg("server's reason \"%s\" lacks \"%s\"", es, reason);
    }
    assert_null(tlsio_peer_cn(s));
    free(es);
    free(ec);
}

static void
test_refused_peers(void **state)
{
    struct fixture *f = *state;
    int fds[2];

    /* A certificate from another CA. */
    nonblocking_pair(fds);
    struct tlsio *s = tlsio_create(f->server, fds[0], true);
    struct tlsio *c = tlsio_create(f->stranger, fds[1], false);
    expect_refused(s, c, "peer certificate refused");
    tlsio_destroy(s);
    tlsio_destroy(c);
    close(fds[0]);
    close(fds[1]);

    /* No certificate at all. */
    nonblocking_pair(fds);
    s = tlsio_create(f->server, fds[0], true);
    SSL_CTX *bare = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(bare);
    SSL_set_fd(ssl, fds[1]);
    SSL_set_connect_state(ssl);
    int rs = EAGAIN;
    char *es = NULL;
    for (int i = 0; i < 200 && rs == EAGAIN; i++) {
        ERR_clear_error();
        SSL_do_handshake(ssl);
        rs = tlsio_handshake(s, &es);
    }
    assert_int_equal(rs, EPROTO);
    assert_non_null(strstr(es, "certificate"));
    free(es);
    SSL_free(ssl);
    SSL_CTX_free(bare);
    ERR_clear_error();
    tlsio_destroy(s);
    close(fds[0]);
    close(fds[1]);

    /* Plaintext: an OpenFlow HELLO. */
    nonblocking_pair(fds);
    s = tlsio_create(f->server, fds[0], true);
    static const char hello[8] = { 6, 0, 0, 8, 0, 0, 0, 1 };
    assert_int_equal(write(fds[1], hello, sizeof hello), sizeof hello);
    rs = tlsio_handshake(s, &es);
    assert_int_equal(rs, EPROTO);
    assert_non_null(strstr(es, "wrong version number"));
    free(es);
    tlsio_destroy(s);
    close(fds[0]);
    close(fds[1]);

    /* The peer closes during the handshake. */
    nonblocking_pair(fds);
    s = tlsio_create(f->server, fds[0], true);
    close(fds[1]);
    rs = tlsio_handshake(s, &es);
    assert_int_equal(rs, EPROTO);
    if (!strstr(es, "closed during the TLS handshake")) {
        fail_msg("reason: %s", es);
    }
    free(es);
    tlsio_destroy(s);
    close(fds[0]);
}

static void
test_ctx_errors(void **state)
{
    struct fixture *f = *state;
    char *error;
    struct tlsio_config tc
        = { f->files[0], "/nonexistent/cert.pem", tls_ca_file(f->a) };
    assert_null(tlsio_ctx_create(&tc, &error));
    assert_non_null(strstr(error, "certificate /nonexistent/cert.pem"));
    free(error);

    /* The client's key with the server's certificate. */
    tc = (struct tlsio_config){ f->files[2], f->files[1], tls_ca_file(f->a) };
    assert_null(tlsio_ctx_create(&tc, &error));
    if (!strstr(error, "private key") || !strstr(error, "mismatch")) {
        fail_msg("reason: %s", error);
    }
    free(error);

    tc = (struct tlsio_config){ f->files[0], f->files[1], "/nonexistent" };
    assert_null(tlsio_ctx_create(&tc, &error));
    assert_non_null(strstr(error, "CA certificate /nonexistent"));
    free(error);
}

static void
test_handover(void **state)
{
    struct fixture *f = *state;
    assert_null(tlsio_handover_take(42));
    struct tlsio *a = tlsio_create(f->server, 42, true);
    struct tlsio *b = tlsio_create(f->server, 42, true);
    tlsio_handover_put(42, a);
    tlsio_handover_put(42, b); /* Replaces (and frees) 'a'. */
    assert_ptr_equal(tlsio_handover_take(42), b);
    assert_null(tlsio_handover_take(42));
    tlsio_destroy(b);
}

/* An ofchan on a session it took over. */

struct chan_ctx {
    bool connected, closed;
    int messages;
};

static void
on_connected(struct ofchan *c OVS_UNUSED, void *aux)
{
    ((struct chan_ctx *) aux)->connected = true;
}

static void
on_message(struct ofchan *c OVS_UNUSED, enum ofptype t OVS_UNUSED,
           const struct ofp_header *oh OVS_UNUSED, void *aux)
{
    ((struct chan_ctx *) aux)->messages++;
}

static void
on_closed(struct ofchan *c OVS_UNUSED, const char *r OVS_UNUSED, void *aux)
{
    ((struct chan_ctx *) aux)->closed = true;
}

static const struct ofchan_callbacks chan_cbs = {
    .connected = on_connected,
    .message = on_message,
    .closed = on_closed,
};

/* Reads whole OpenFlow messages from 'c' into 'rx'; returns how many
 * ECHO_REPLY messages it found. */
static int
read_replies(struct tlsio *c, struct ofpbuf *rx)
{
    char buf[16384];
    ssize_t n;
    while ((n = tlsio_recv(c, buf, sizeof buf)) > 0) {
        ofpbuf_put(rx, buf, n);
    }
    int replies = 0;
    while (rx->size >= 8) {
        const uint8_t *h = rx->data;
        size_t len = (h[2] << 8) | h[3];
        if (rx->size < len) {
            break;
        }
        replies += h[1] == 3; /* OFPT_ECHO_REPLY */
        ofpbuf_pull(rx, len);
    }
    return replies;
}

static void
test_ofchan_over_tls(void **state)
{
    struct fixture *f = *state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    int fds[2];
    nonblocking_pair(fds);
    struct tlsio *s = tlsio_create(f->server, fds[0], true);
    struct tlsio *c = tlsio_create(f->client, fds[1], false);
    int rs, rc;
    char *es, *ec;
    handshake(s, c, &rs, &rc, &es, &ec);
    assert_int_equal(rs, 0);
    assert_int_equal(rc, 0);

    tlsio_handover_put(fds[0], s);
    struct chan_ctx ctx = { false, false, 0 };
    struct ofchan_options opts;
    ofchan_default_options(&opts);
    opts.limit = NULL;
    struct ofchan *chan
        = ofchan_create(loop, fds[0], "tls-test", &opts, &chan_cbs, &ctx);
    assert_null(tlsio_handover_take(fds[0]));
    assert_string_equal(ofchan_peer_cn(chan), "client");

    /* HELLO both ways. */
    static const uint8_t hello[16]
        = { 6, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x40 };
    assert_int_equal(tlsio_send(c, hello, sizeof hello), sizeof hello);
    for (int i = 0; i < 1000 && !ctx.connected; i++) {
        ev_run(loop, EVRUN_NOWAIT);
    }
    assert_true(ctx.connected);

    /* 100 echo requests of 60 kB without reading: replies queue in the
     * channel (6 MB) and drain through TLS once the peer reads. */
    struct ofpbuf rx;
    ofpbuf_init(&rx, 0);
    int n_req = 100, replies = 0;
    size_t req_len = 60000;
    uint8_t *req = xzalloc(req_len);
    req[0] = 6;
    req[1] = 2; /* OFPT_ECHO_REQUEST */
    req[2] = req_len >> 8;
    req[3] = req_len & 0xff;
    for (int i = 0; i < n_req; i++) {
        size_t off = 0;
        double until = ev_time() + 60;
        while (off < req_len && ev_time() < until) {
            ssize_t n = tlsio_send(c, req + off, req_len - off);
            if (n > 0) {
                off += n;
            } else {
                ev_run(loop, EVRUN_NOWAIT);
            }
        }
        assert_int_equal(off, req_len);
    }
    /* A deadline, not a count: valgrind is slow. */
    double deadline = ev_time() + 60;
    while (replies < n_req && ev_time() < deadline) {
        ev_run(loop, EVRUN_NOWAIT);
        replies += read_replies(c, &rx);
    }
    assert_int_equal(replies, n_req);
    assert_false(ctx.closed);
    struct ofchan_stats st;
    ofchan_get_stats(chan, &st);
    assert_int_equal(st.queued_bytes, 0);

    free(req);
    ofpbuf_uninit(&rx);
    ofchan_destroy(chan);
    tlsio_destroy(c);
    close(fds[1]);
    ev_loop_destroy(loop);
}

int
main(void)
{
    /* As in vmacd: OpenSSL writes with write(), which raises SIGPIPE on
     * a socket whose peer is gone. */
    signal(SIGPIPE, SIG_IGN);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data),
        cmocka_unit_test(test_refused_peers),
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_handover),
        cmocka_unit_test(test_ofchan_over_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
