/*
 * tlsio: TLS (OpenSSL) on a non-blocking socket that the caller watches
 * with its own event loop (libev here), for the OpenFlow channels and the
 * API's TCP listener.
 *
 * A context holds the private key, the certificate and the CA that peers'
 * certificates must chain to.  Every session requires and verifies the
 * peer's certificate, on both sides: a server asks for a client
 * certificate and refuses a client without one.  Host names are not
 * checked (as in Open vSwitch's stream-ssl): the CA decides who may
 * connect; the peer's certificate CN is kept for the owner, which may pin
 * an identity to it.  TLS 1.2 is the oldest version accepted.
 *
 * Every operation returns at once.  When one cannot progress,
 * tlsio_want_write() says whether the socket must become writable (else
 * readable) before it is tried again: OpenSSL may need to write while
 * reading, and read while writing.
 */
#ifndef VMACD_TLSIO_H
#define VMACD_TLSIO_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tlsio_ctx;
struct tlsio;

/* File names (PEM).  All three are required. */
struct tlsio_config {
    const char *private_key;
    const char *certificate;
    const char *ca_cert;
};

/* Loads the files and checks that the key matches the certificate.
 * Returns NULL with a malloc'd message in '*errp' on failure. */
struct tlsio_ctx *tlsio_ctx_create(const struct tlsio_config *, char **errp)
    __attribute__((warn_unused_result));
void tlsio_ctx_destroy(struct tlsio_ctx *);

/* A session on connected socket 'fd' (not owned: tlsio_destroy() does not
 * close it), as the server side or the client side. */
struct tlsio *tlsio_create(struct tlsio_ctx *, int fd, bool server);
void tlsio_destroy(struct tlsio *);

/* Drives the handshake.  Returns 0 once it is complete (the peer's
 * certificate verified), EAGAIN while it needs the socket again (see
 * tlsio_want_write()), or EPROTO with a malloc'd reason in '*errp' (e.g.
 * "peer certificate refused: ...", "...:wrong version number"). */
int tlsio_handshake(struct tlsio *, char **errp);

/* Like recv() and send() on the plaintext: return the bytes moved, or -1
 * with errno EAGAIN (see tlsio_want_write()), ECONNRESET or EPROTO;
 * tlsio_recv() returns 0 at the end of the stream. */
ssize_t tlsio_recv(struct tlsio *, void *, size_t);
ssize_t tlsio_send(struct tlsio *, const void *, size_t);

/* After EAGAIN: true if the socket must become writable, false if it must
 * become readable, before the operation can progress. */
bool tlsio_want_write(const struct tlsio *);

/* True if OpenSSL holds received bytes (decrypted or not) that the socket
 * will not signal again: read until EAGAIN while this is true. */
bool tlsio_pending(const struct tlsio *);

/* The peer certificate's subject CN ("" if it has none), once the
 * handshake is complete; NULL before. */
const char *tlsio_peer_cn(const struct tlsio *);

/* Sends a close_notify if the socket takes it now (best effort). */
void tlsio_shutdown(struct tlsio *);

/* Hands a session over with its socket: whoever takes a connected 'fd'
 * from a TLS listener takes the session that goes with it.  At most one
 * session per fd; put() replaces (and frees) an older one. */
void tlsio_handover_put(int fd, struct tlsio *);
struct tlsio *tlsio_handover_take(int fd);

#endif /* tlsio.h */
