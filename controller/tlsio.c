/*
 * tlsio: TLS on a non-blocking socket with OpenSSL (see tlsio.h).
 */
#include "tlsio.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "hash.h"
#include "openvswitch/hmap.h"
#include "util.h"

struct tlsio_ctx {
    SSL_CTX *ssl_ctx;
};

struct tlsio {
    SSL *ssl;
    bool want_write;
    bool handshake_done;
    char *peer_cn;
};

/* The OpenSSL error queue as one line after 'prefix' (if nonnull),
 * emptied. */
static char *
tlsio_errors(const char *prefix)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    if (!e) {
        return xstrdup(prefix ? prefix : "unknown TLS error");
    }
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return prefix ? xasprintf("%s: %s", prefix, buf) : xstrdup(buf);
}

struct tlsio_ctx *
tlsio_ctx_create(const struct tlsio_config *cfg, char **errp)
{
    *errp = NULL;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx) {
        *errp = tlsio_errors("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* Switches close TCP without close_notify; OpenFlow and HTTP framing
     * tell a truncated message anyway. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);

    char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->certificate) != 1) {
        what = xasprintf("certificate %s", cfg->certificate);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->private_key,
                                           SSL_FILETYPE_PEM)
               != 1) {
        what = xasprintf("private key %s", cfg->private_key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        what = xasprintf("private key %s does not match certificate %s",
                         cfg->private_key, cfg->certificate);
    } else if (SSL_CTX_load_verify_locations(ctx, cfg->ca_cert, NULL) != 1) {
        what = xasprintf("CA certificate %s", cfg->ca_cert);
    } else {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_cert);
        if (!names) {
            what = xasprintf("CA certificate %s", cfg->ca_cert);
        } else {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    }
    if (what) {
        *errp = tlsio_errors(what);
        free(what);
        SSL_CTX_free(ctx);
        return NULL;
    }

    struct tlsio_ctx *t = xzalloc(sizeof *t);
    t->ssl_ctx = ctx;
    return t;
}

void
tlsio_ctx_destroy(struct tlsio_ctx *t)
{
    if (t) {
        /* Sessions hold their own reference to the SSL_CTX. */
        SSL_CTX_free(t->ssl_ctx);
        free(t);
    }
}

struct tlsio *
tlsio_create(struct tlsio_ctx *t, int fd, bool server)
{
    SSL *ssl = SSL_new(t->ssl_ctx);
    if (!ssl || !SSL_set_fd(ssl, fd)) {
        /* Only out of memory gets here. */
        out_of_memory();
    }
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
    }
    struct tlsio *s = xzalloc(sizeof *s);
    s->ssl = ssl;
    return s;
}

void
tlsio_destroy(struct tlsio *s)
{
    if (s) {
        SSL_free(s->ssl);
        free(s->peer_cn);
        free(s);
    }
}

/* Keeps printable ASCII of 'in', replacing everything else with '?', so
 * that the CN can go into logs and JSON as it is. */
static char *
sanitize(const char *in)
{
    char *out = xstrdup(in);
    for (char *p = out; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            *p = '?';
        }
    }
    return out;
}

static void
tlsio_read_cn(struct tlsio *s)
{
    X509 *cert = SSL_get1_peer_certificate(s->ssl);
    char cn[256] = "";
    if (cert) {
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
                                      NID_commonName, cn, sizeof cn)
            < 0) {
            cn[0] = '\0';
        }
        X509_free(cert);
    }
    s->peer_cn = sanitize(cn);
}

int
tlsio_handshake(struct tlsio *s, char **errp)
{
    *errp = NULL;
    if (s->handshake_done) {
        return 0;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        long v = SSL_get_verify_result(s->ssl);
        if (v != X509_V_OK) {
            /* Not reached with SSL_VERIFY_PEER; checked all the same. */
            *errp = xasprintf("peer certificate not verified: %s",
                              X509_verify_cert_error_string(v));
            return EPROTO;
        }
        s->handshake_done = true;
        tlsio_read_cn(s);
        return 0;
    }
    int error = SSL_get_error(s->ssl, r);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        s->want_write = error == SSL_ERROR_WANT_WRITE;
        return EAGAIN;
    }
    long v = SSL_get_verify_result(s->ssl);
    if (error == SSL_ERROR_SSL && v != X509_V_OK) {
        ERR_clear_error();
        *errp = xasprintf("peer certificate refused: %s",
                          X509_verify_cert_error_string(v));
    } else if (error == SSL_ERROR_SSL) {
        *errp = tlsio_errors(NULL);
    } else if (error == SSL_ERROR_SYSCALL && errno) {
        *errp = xstrdup(ovs_strerror(errno));
    } else {
        ERR_clear_error();
        *errp = xstrdup("connection closed during the TLS handshake");
    }
    return EPROTO;
}

/* Maps the outcome 'r' of SSL_read() or SSL_write() to the recv()/send()
 * convention. */
static ssize_t
tlsio_result(struct tlsio *s, int r, bool reading)
{
    if (r > 0) {
        return r;
    }
    int saved = errno;
    int error = SSL_get_error(s->ssl, r);
    switch (error) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        s->want_write = error == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify from the peer. */
        if (reading) {
            return 0;
        }
        errno = ECONNRESET;
        return -1;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (!saved && reading) {
            /* The TCP connection ended without close_notify. */
            return 0;
        }
        errno = saved ? saved : ECONNRESET;
        return -1;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

ssize_t
tlsio_recv(struct tlsio *s, void *buf, size_t n)
{
    ERR_clear_error();
    errno = 0;
    return tlsio_result(s, SSL_read(s->ssl, buf, MIN(n, INT_MAX)), true);
}

ssize_t
tlsio_send(struct tlsio *s, const void *buf, size_t n)
{
    if (!n) {
        return 0;
    }
    ERR_clear_error();
    errno = 0;
    return tlsio_result(s, SSL_write(s->ssl, buf, MIN(n, INT_MAX)), false);
}

bool
tlsio_want_write(const struct tlsio *s)
{
    return s->want_write;
}

bool
tlsio_pending(const struct tlsio *s)
{
    /* SSL_pending() counts only decrypted bytes; a whole record may wait
     * undecrypted in OpenSSL's buffer too. */
    return SSL_pending(s->ssl) > 0 || SSL_has_pending(s->ssl);
}

const char *
tlsio_peer_cn(const struct tlsio *s)
{
    return s->peer_cn;
}

void
tlsio_shutdown(struct tlsio *s)
{
    if (s->handshake_done) {
        ERR_clear_error();
        (void) SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
}

/* Handover. */

struct handover {
    struct hmap_node node; /* In 'handovers', by fd. */
    int fd;
    struct tlsio *s;
};

static struct hmap handovers = HMAP_INITIALIZER(&handovers);

static struct handover *
handover_find(int fd)
{
    struct handover *h;
    HMAP_FOR_EACH_WITH_HASH (h, node, hash_int(fd, 0), &handovers) {
        if (h->fd == fd) {
            return h;
        }
    }
    return NULL;
}

void
tlsio_handover_put(int fd, struct tlsio *s)
{
    struct handover *h = handover_find(fd);
    if (h) {
        tlsio_destroy(h->s);
    } else {
        h = xmalloc(sizeof *h);
        h->fd = fd;
        hmap_insert(&handovers, &h->node, hash_int(fd, 0));
    }
    h->s = s;
}

struct tlsio *
tlsio_handover_take(int fd)
{
    struct handover *h = handover_find(fd);
    if (!h) {
        return NULL;
    }
    struct tlsio *s = h->s;
    hmap_remove(&handovers, &h->node);
    free(h);
    return s;
}
