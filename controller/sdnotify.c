/*
 * sdnotify: systemd notification (READY, STATUS, RELOADING, STOPPING,
 * WATCHDOG) from the libev loop.  See include/sdnotify.h.
 */
#include "sdnotify.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <systemd/sd-daemon.h>

#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(sdnotify);

struct sdnotify {
    struct ev_loop *loop;
    bool enabled;
    sdnotify_status_cb *status_cb;
    void *aux;
    char *status;      /* Last STATUS= sent. */
    ev_timer status_t; /* Every SDNOTIFY_STATUS_S. */
    ev_timer watchdog; /* Every half WatchdogSec=, if set. */
};

static void
sdnotify_send(const char *state)
{
    int error = sd_notify(0, state);
    if (error < 0) {
        RL_WARN("sd_notify(%s): %s", state, ovs_strerror(-error));
    }
}

/* Sends STATUS= if it changed. */
static void
sdnotify_update_status(struct sdnotify *sn)
{
    char *status = sn->status_cb(sn->aux);
    if (!sn->status || strcmp(status, sn->status)) {
        char *msg = xasprintf("STATUS=%s", status);
        sdnotify_send(msg);
        free(msg);
        free(sn->status);
        sn->status = status;
    } else {
        free(status);
    }
}

static void
sdnotify_status_cb_(struct ev_loop *loop OVS_UNUSED, ev_timer *t,
                    int revents OVS_UNUSED)
{
    sdnotify_update_status(CONTAINER_OF(t, struct sdnotify, status_t));
}

static void
sdnotify_watchdog_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *t OVS_UNUSED,
                     int revents OVS_UNUSED)
{
    sdnotify_send("WATCHDOG=1");
}

struct sdnotify *
sdnotify_create(struct ev_loop *loop, sdnotify_status_cb *cb, void *aux)
{
    struct sdnotify *sn = xzalloc(sizeof *sn);
    const char *socket = getenv("NOTIFY_SOCKET");

    sn->loop = loop;
    sn->enabled = socket && *socket;
    sn->status_cb = cb;
    sn->aux = aux;
    ev_timer_init(&sn->status_t, sdnotify_status_cb_, SDNOTIFY_STATUS_S,
                  SDNOTIFY_STATUS_S);
    ev_init(&sn->watchdog, sdnotify_watchdog_cb);
    if (!sn->enabled) {
        return sn;
    }

    uint64_t usec = 0;
    int r = sd_watchdog_enabled(0, &usec);
    if (r > 0 && usec > 0) {
        double period = usec / 2e6;
        ev_timer_set(&sn->watchdog, period, period);
        ev_timer_start(loop, &sn->watchdog);
        VLOG_INFO("systemd watchdog: WATCHDOG=1 every %.3f s", period);
    } else if (r < 0) {
        VLOG_WARN("systemd watchdog settings ignored: %s", ovs_strerror(-r));
    }
    return sn;
}

void
sdnotify_destroy(struct sdnotify *sn)
{
    if (!sn) {
        return;
    }
    ev_timer_stop(sn->loop, &sn->status_t);
    ev_timer_stop(sn->loop, &sn->watchdog);
    free(sn->status);
    free(sn);
}

bool
sdnotify_enabled(const struct sdnotify *sn)
{
    return sn->enabled;
}

void
sdnotify_ready(struct sdnotify *sn)
{
    if (!sn->enabled) {
        return;
    }
    sdnotify_send("READY=1");
    free(sn->status);
    sn->status = NULL;
    sdnotify_update_status(sn);
    ev_timer_again(sn->loop, &sn->status_t);
}

void
sdnotify_reloading(struct sdnotify *sn)
{
    if (sn->enabled) {
        sdnotify_send("RELOADING=1");
    }
}

void
sdnotify_stopping(struct sdnotify *sn)
{
    if (sn->enabled) {
        ev_timer_stop(sn->loop, &sn->status_t);
        sdnotify_send("STOPPING=1");
    }
}
