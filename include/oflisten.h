/*
 * oflisten: where OpenFlow connections come from.
 *
 * Passive targets ("ptcp:PORT[:IP]", "pssl:PORT[:IP]", "punix:PATH")
 * accept switches; active targets ("tcp:IP:PORT", "ssl:IP:PORT",
 * "unix:PATH") connect out and reconnect with exponential backoff (1 s
 * doubling to 8 s, libopenvswitch's reconnect FSM on a libev timer) after
 * a failure or after the owner reports the connection lost; a connection
 * that lasted at least its backoff starts again from 1 s.  Every new connection is handed to the owner as a
 * connected non-blocking socket.  Without IP, "ptcp:" and "pssl:" listen
 * on 127.0.0.1 only.  A "punix:" socket is created with mode 0660.
 *
 * "ssl:" and "pssl:" connections do their TLS handshake here (tlsio.h),
 * non-blocking on the loop and bounded in time; only a peer whose
 * certificate verified reaches the owner, and the socket then carries its
 * session (the ofchan made on it takes it with tlsio_handover_take()).
 *
 * With a limit (oflimit.h), a new passive connection that would pass the
 * peer bound is closed at once (counted and logged, rate-limited); so is
 * a failed handshake.  When accept() runs out of descriptors, accepting
 * pauses for a second instead of spinning.
 */
#ifndef VMACD_OFLISTEN_H
#define VMACD_OFLISTEN_H 1

#include <ev.h>

struct oflimit;
struct oflisten;
struct oflisten_active;
struct tlsio_ctx;

/* A new connection 'fd' from 'peer' (a printable name).  'active' is the
 * active target it came from, or NULL for an accepted one: the owner must
 * call oflisten_active_lost() when that connection ends. */
typedef void oflisten_conn_func(int fd, const char *peer,
                                struct oflisten_active *active, void *aux);

/* Uses the process defaults: the TLS context of oflisten_set_default_tls()
 * and oflimit_default(). */
struct oflisten *oflisten_create(struct ev_loop *, oflisten_conn_func *,
                                 void *aux);
void oflisten_destroy(struct oflisten *);

/* TLS context for "ssl:"/"pssl:" targets (not owned; NULL: such targets
 * are refused), and the limit (not owned; NULL: none), for this oflisten
 * or as the defaults of those created later. */
void oflisten_set_tls(struct oflisten *, struct tlsio_ctx *);
void oflisten_set_limit(struct oflisten *, struct oflimit *);
void oflisten_set_default_tls(struct tlsio_ctx *);

/* Adds a target.  Returns 0, or an errno with '*errp' set to a malloc'd
 * message (bad syntax: EINVAL; address in use: EADDRINUSE; ...). */
int oflisten_add(struct oflisten *, const char *target, char **errp)
    __attribute__((warn_unused_result));

/* The connection made by 'active' ended: reconnect after the backoff. */
void oflisten_active_lost(struct oflisten_active *);

/* Parses a target with socket-util's inet_parse_active()/_passive() (never
 * resolving names); exposed for tests.  Returns 0 or EINVAL. */
struct sockaddr_storage;
int oflisten_parse_target(const char *target, int *kind,
                          struct sockaddr_storage *, unsigned int *sa_len);
enum oflisten_kind {
    OFLISTEN_PTCP,
    OFLISTEN_PUNIX,
    OFLISTEN_TCP,
    OFLISTEN_UNIX,
    OFLISTEN_PSSL,
    OFLISTEN_SSL,
};

#endif /* oflisten.h */
