/*
 * ovsdbc: the libev side of the OVSDB client (ovsdbc.h).  Starts and joins
 * the IDL thread (ovsdbc-idl.c), takes what it hands over when the
 * ev_async fires, and queues writes for it.
 */
#include "ovsdbc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "fatal-signal.h"
#include "ovs-rcu.h"
#include "ovsdbc-private.h"
#include "util.h"

struct ovsdbc {
    struct ovsdbc_shared sh; /* First: the thread's argument. */
    struct ev_loop *loop;
    ev_async async;
    struct ovsdbc_cbs cbs;
    void *aux;
    pthread_t thread;

    struct ovsdbc_status status; /* As last taken. */
    struct ovsdbc_snap *snap;    /* Newest taken, or NULL. */
    uint64_t next_id;
    size_t n_writes; /* Requested, result not yet delivered. */
};

static void
notify(struct ovsdbc_shared *sh)
{
    struct ovsdbc *c = CONTAINER_OF(sh, struct ovsdbc, sh);
    ev_async_send(c->loop, &c->async);
}

static void
async_cb(struct ev_loop *loop OVS_UNUSED, ev_async *w, int revents OVS_UNUSED)
{
    struct ovsdbc *c = CONTAINER_OF(w, struct ovsdbc, async);
    struct ovsdbc_result results[OVSDBC_MAX_WRITES];
    struct ovsdbc_snap *snap;
    bool status_changed;
    size_t n;

    ovs_mutex_lock(&c->sh.mutex);
    status_changed = c->sh.status_changed;
    if (status_changed) {
        c->status = c->sh.status;
        c->sh.status_changed = false;
    }
    snap = c->sh.snap;
    c->sh.snap = NULL;
    n = c->sh.n_results;
    memcpy(results, c->sh.results, n * sizeof *results);
    c->sh.n_results = 0;
    ovs_mutex_unlock(&c->sh.mutex);

    if (snap) {
        ovsdbc_snap_unref(c->snap);
        c->snap = snap;
    }
    ovs_assert(n <= c->n_writes);
    c->n_writes -= n;
    if ((snap || status_changed) && c->cbs.changed) {
        c->cbs.changed(c, c->aux);
    }
    for (size_t i = 0; i < n && c->cbs.write_done; i++) {
        c->cbs.write_done(c, results[i].id, results[i].result,
                          results[i].error[0] ? results[i].error : NULL,
                          c->aux);
    }
}

/* OVS's poll loop registers its fatal-signal pipe on first use, which
 * installs OVS's handlers for SIGTERM, SIGINT, SIGHUP, SIGALRM and SIGSEGV
 * where none is set, and must happen while the process has one thread.
 * Do it here, and put back what was there: libev owns vmacd's signals. */
static void
fatal_signal_init_quietly(void)
{
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGSEGV };
    struct sigaction old[ARRAY_SIZE(signals)];

    for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
        sigaction(signals[i], NULL, &old[i]);
    }
    fatal_signal_init();
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
        sigaction(signals[i], &old[i], NULL);
    }
}

/* True once a client started its thread (and so OVS's RCU module). */
static bool started;

struct ovsdbc *
ovsdbc_create(struct ev_loop *loop, const struct ovsdbc_options *opts,
              const struct ovsdbc_cbs *cbs, void *aux)
{
    bool first = !started;
    struct ovsdbc *c = xzalloc(sizeof *c);

    c->loop = loop;
    c->cbs = *cbs;
    c->aux = aux;
    c->next_id = 1;
    c->status.state = OVSDBC_CONNECTING;
    c->sh.remote = xstrdup(opts->remote);
    c->sh.private_key = nullable_xstrdup(opts->private_key);
    c->sh.certificate = nullable_xstrdup(opts->certificate);
    c->sh.ca_cert = nullable_xstrdup(opts->ca_cert);
    c->sh.notify = notify;
    c->sh.status.state = OVSDBC_CONNECTING;
    latch_init(&c->sh.wake);
    ovs_mutex_init(&c->sh.mutex);
    ev_async_init(&c->async, async_cb);
    ev_async_start(loop, &c->async);

    if (first) {
        fatal_signal_init_quietly();
    }

    /* The thread takes no signals: they all go to the libev loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    c->thread = ovs_thread_create("ovsdb", ovsdbc_thread_main, &c->sh);
    if (first) {
        /* ovs_thread_create() made the main thread an RCU reader that
         * never quiesces (the libev loop does not); vmacd's main thread
         * holds no RCU-protected pointers, so say so once, or OVS's RCU
         * thread (started here) would wait for it forever. */
        ovsrcu_quiesce_start();
        started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return c;
}

void
ovsdbc_destroy(struct ovsdbc *c)
{
    if (!c) {
        return;
    }

    ovs_mutex_lock(&c->sh.mutex);
    c->sh.exiting = true;
    ovs_mutex_unlock(&c->sh.mutex);
    latch_set(&c->sh.wake);
    xpthread_join(c->thread, NULL);

    ev_async_stop(c->loop, &c->async);
    ovsdbc_snap_unref(c->sh.snap);
    ovsdbc_snap_unref(c->snap);
    latch_destroy(&c->sh.wake);
    ovs_mutex_destroy(&c->sh.mutex);
    free(c->sh.remote);
    free(c->sh.private_key);
    free(c->sh.certificate);
    free(c->sh.ca_cert);
    free(c);
}

void
ovsdbc_exit(void)
{
    if (started) {
        ovsrcu_exit();
    }
}

const char *
ovsdbc_remote(const struct ovsdbc *c)
{
    return c->sh.remote;
}

const struct ovsdbc_status *
ovsdbc_status(const struct ovsdbc *c)
{
    return &c->status;
}

const struct ovsdbc_snap *
ovsdbc_snapshot(const struct ovsdbc *c)
{
    return c->snap;
}

size_t
ovsdbc_n_writes(const struct ovsdbc *c)
{
    return c->n_writes;
}

int
ovsdbc_set_fail_mode(struct ovsdbc *c, const char *bridge,
                     enum ovsdbc_fail_mode fail_mode, uint64_t *idp)
{
    struct ovsdbc_request rq = { .id = c->next_id, .fail_mode = fail_mode };

    if (c->n_writes >= OVSDBC_MAX_WRITES) {
        return EAGAIN;
    } else if (strlen(bridge) >= sizeof rq.bridge) {
        return EINVAL;
    }
    ovs_strlcpy(rq.bridge, bridge, sizeof rq.bridge);

    ovs_mutex_lock(&c->sh.mutex);
    /* Requests and results together never exceed n_writes. */
    ovs_assert(c->sh.n_requests < OVSDBC_MAX_WRITES);
    c->sh.requests[c->sh.n_requests++] = rq;
    ovs_mutex_unlock(&c->sh.mutex);
    latch_set(&c->sh.wake);

    c->n_writes++;
    *idp = c->next_id++;
    return 0;
}
