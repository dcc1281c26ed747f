/*
 * sdnotify: tells systemd how vmacd is doing (a Type=notify service),
 * through libsystemd's sd_notify(3):
 *
 *   READY=1       once the API listens and the configuration is applied;
 *   STATUS=...    a one-line state, from a callback, sent again whenever
 *                 it changes (checked every SDNOTIFY_STATUS_S seconds);
 *   RELOADING=1   on SIGHUP, then READY=1 once reloaded;
 *   STOPPING=1    on SIGTERM/SIGINT;
 *   WATCHDOG=1    from the event loop, every half WatchdogSec=, when the
 *                 unit sets one ($WATCHDOG_USEC): a hung loop stops it.
 *
 * Without $NOTIFY_SOCKET (not started by systemd) nothing is sent and no
 * timer runs.
 */
#ifndef VMACD_SDNOTIFY_H
#define VMACD_SDNOTIFY_H 1

#include <stdbool.h>

struct ev_loop;

#define SDNOTIFY_STATUS_S 5.0

/* Returns a malloc'd one-line status. */
typedef char *sdnotify_status_cb(void *aux);

struct sdnotify *sdnotify_create(struct ev_loop *, sdnotify_status_cb *,
                                 void *aux);
void sdnotify_destroy(struct sdnotify *);

/* Whether systemd listens ($NOTIFY_SOCKET is set). */
bool sdnotify_enabled(const struct sdnotify *);

void sdnotify_ready(struct sdnotify *);
void sdnotify_reloading(struct sdnotify *);
void sdnotify_stopping(struct sdnotify *);

#endif /* sdnotify.h */
