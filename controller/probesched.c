/*
 * probesched: precise periodic callbacks on a timerfd (see probesched.h).
 */
#include "probesched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(probesched);

struct probesched {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    struct heap heap;  /* Entries; max = earliest due. */
    uint64_t armed_ns; /* Due time the timerfd is armed for. */
};

uint64_t
probesched_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The heap is a max-heap: earlier due times get higher priorities. */
static uint64_t
priority(uint64_t due_ns)
{
    return UINT64_MAX - due_ns;
}

static void
arm(struct probesched *s)
{
    uint64_t due = 0;
    if (!heap_is_empty(&s->heap)) {
        struct probesched_entry *e
            = CONTAINER_OF(heap_max(&s->heap), struct probesched_entry, node);
        due = e->due_ns;
    }
    if (due == s->armed_ns) {
        return;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (due) {
        its.it_value.tv_sec = due / 1000000000ull;
        its.it_value.tv_nsec = due % 1000000000ull;
    }
    if (timerfd_settime(s->fd, TFD_TIMER_ABSTIME, &its, NULL)) {
        VLOG_ERR("timerfd_settime: %s", ovs_strerror(errno));
    }
    s->armed_ns = due;
}

/* Runs the entries due now, each at most once (an entry is re-queued for
 * its next period before its callback runs), in due order; with 'ready',
 * stops at the first entry it declines.  Returns the callbacks run. */
static size_t
run_due(struct probesched *s, probesched_ready_func *ready)
{
    uint64_t now = probesched_now_ns();
    size_t budget = heap_count(&s->heap), n = 0;
    while (budget-- && !heap_is_empty(&s->heap)) {
        struct probesched_entry *e
            = CONTAINER_OF(heap_max(&s->heap), struct probesched_entry, node);
        if (e->due_ns > now || (ready && !ready(e))) {
            break;
        }
        int64_t late = now - e->due_ns;
        e->due_ns += e->period_ns;
        if (e->due_ns <= now) {
            e->due_ns = now + e->period_ns;
        }
        heap_change(&s->heap, &e->node, priority(e->due_ns));
        e->cb(e, late);
        n++;
        now = probesched_now_ns();
    }
    return n;
}

static void
sched_io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w, int revents OVS_UNUSED)
{
    struct probesched *s = CONTAINER_OF(w, struct probesched, io);
    uint64_t expirations;
    if (read(s->fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) {
        VLOG_ERR("timerfd read: %s", ovs_strerror(errno));
    }
    s->armed_ns = 0;
    run_due(s, NULL);
    arm(s);
}

size_t
probesched_run_due(struct probesched *s, probesched_ready_func *ready)
{
    if (!s || heap_is_empty(&s->heap)) {
        return 0;
    }
    const struct probesched_entry *first
        = CONTAINER_OF(heap_max(&s->heap), struct probesched_entry, node);
    if (first->due_ns > probesched_now_ns()) {
        return 0;
    }
    size_t n = run_due(s, ready);
    arm(s);
    return n;
}

struct probesched *
probesched_create(struct ev_loop *loop, char **errp)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) {
        *errp = xasprintf("timerfd_create: %s", ovs_strerror(errno));
        return NULL;
    }
    struct probesched *s = xzalloc(sizeof *s);
    s->loop = loop;
    s->fd = fd;
    heap_init(&s->heap);
    ev_io_init(&s->io, sched_io_cb, fd, EV_READ);
    ev_io_start(loop, &s->io);
    *errp = NULL;
    return s;
}

void
probesched_destroy(struct probesched *s)
{
    if (!s) {
        return;
    }
    ev_io_stop(s->loop, &s->io);
    close(s->fd);
    heap_destroy(&s->heap);
    free(s);
}

void
probesched_start(struct probesched *s, struct probesched_entry *e,
                 uint64_t delay_ns, uint64_t period_ns, probesched_func *cb)
{
    ovs_assert(period_ns > 0);
    probesched_stop(s, e);
    e->due_ns = probesched_now_ns() + delay_ns;
    e->period_ns = period_ns;
    e->cb = cb;
    e->active = true;
    heap_insert(&s->heap, &e->node, priority(e->due_ns));
    arm(s);
}

void
probesched_stop(struct probesched *s, struct probesched_entry *e)
{
    if (e->active) {
        heap_remove(&s->heap, &e->node);
        e->active = false;
        arm(s);
    }
}
