/*
 * pidfile: vmacd's --pidfile.  The file holds the daemon's PID and stays
 * locked (an fcntl write lock) while the daemon runs, so a second daemon
 * with the same pidfile refuses to start, and a file left by a daemon that
 * died is taken over.
 */
#ifndef VMACD_PIDFILE_H
#define VMACD_PIDFILE_H 1

#define PIDFILE_DEFAULT "/run/vmacd/vmacd.pid"

/* Creates (or takes over) 'path', writes the calling process's PID to it
 * and locks it.  Returns NULL and sets '*errp' to a malloc'd message if
 * another process holds the lock ("already running as PID N") or the file
 * cannot be written. */
struct pidfile *pidfile_create(const char *path, char **errp)
    __attribute__((warn_unused_result));

/* Removes the file (unless another process replaced it meanwhile), drops
 * the lock and frees.  Accepts NULL. */
void pidfile_destroy(struct pidfile *);

#endif /* pidfile.h */
