/*
 * detach: vmacd's --detach, the classic daemon start.  detach_start() forks:
 * the parent waits until the child says it is ready (detach_done()) and
 * exits 0, or exits with the child's exit status if the child dies first,
 * so that "vmacd --detach" returns once the daemon serves, or fails with
 * the reason on the terminal.  The child runs in a session of its own.
 *
 * Call detach_start() before anything that must belong to the daemon
 * process (event loop, sockets, pidfile locks), and detach_done() once it
 * is ready.
 */
#ifndef VMACD_DETACH_H
#define VMACD_DETACH_H 1

/* Returns in the child only; the parent never returns.  Exits 1 with a
 * message on stderr if it cannot fork. */
void detach_start(void);

/* In the child: tells the parent to exit 0 and points the standard streams
 * at /dev/null (log to syslog or a --log-file then).  The daemon stays in
 * its working directory, so relative paths in its options and config keep
 * working.  Does nothing without a detach_start(). */
void detach_done(void);

#endif /* detach.h */
