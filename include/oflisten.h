/*
 * oflisten: where OpenFlow connections come from.
 *
 * Passive targets ("ptcp:PORT[:IP]", "punix:PATH") accept switches;
 * active targets ("tcp:IP:PORT", "unix:PATH") connect out and reconnect
 * with exponential backoff (1 s doubling to 8 s) after a failure or after
 * the owner reports the connection lost.  Every new connection is handed
 * to the owner as a connected non-blocking socket.
 */
#ifndef VMACD_OFLISTEN_H
#define VMACD_OFLISTEN_H 1

#include <ev.h>

struct oflisten;
struct oflisten_active;

/* A new connection 'fd' from 'peer' (a printable name).  'active' is the
 * active target it came from, or NULL for an accepted one: the owner must
 * call oflisten_active_lost() when that connection ends. */
typedef void oflisten_conn_func(int fd, const char *peer,
                                struct oflisten_active *active, void *aux);

struct oflisten *oflisten_create(struct ev_loop *, oflisten_conn_func *,
                                 void *aux);
void oflisten_destroy(struct oflisten *);

/* Adds a target.  Returns 0, or an errno with '*errp' set to a malloc'd
 * message (bad syntax: EINVAL; address in use: EADDRINUSE; ...). */
int oflisten_add(struct oflisten *, const char *target, char **errp)
    __attribute__((warn_unused_result));

/* The connection made by 'active' ended: reconnect after the backoff. */
void oflisten_active_lost(struct oflisten_active *);

/* Parses "HOST:PORT" or "[V6]:PORT" style pieces; exposed for tests.
 * Returns 0 or EINVAL. */
struct sockaddr_storage;
int oflisten_parse_target(const char *target, int *kind,
                          struct sockaddr_storage *, unsigned int *sa_len);
enum oflisten_kind {
    OFLISTEN_PTCP,
    OFLISTEN_PUNIX,
    OFLISTEN_TCP,
    OFLISTEN_UNIX,
};

#endif /* oflisten.h */
