/*
 * hooks: runs an alias's "notify" program after a master change,
 * asynchronously from the event loop (never waited for): its own process
 * group, stdin /dev/null, stdout and stderr logged (rate-limited, at most
 * HOOKS_MAX_LOG_BYTES a run), killed with its group at its timeout.  At
 * most HOOKS_MAX_RUNNING run at once; HOOKS_MAX_QUEUED more wait in FIFO
 * order, and further ones are dropped (counted, a rate-limited warning).
 *
 * Child processes are reaped with ev_child, so 'loop' must be libev's
 * default loop.
 */
#ifndef VMACD_HOOKS_H
#define VMACD_HOOKS_H 1

#include <stdint.h>

struct ev_loop;
struct cfg_notify;

#define HOOKS_MAX_RUNNING 8
#define HOOKS_MAX_QUEUED 64
#define HOOKS_MAX_LOG_BYTES 4096

struct hooks *hooks_create(struct ev_loop *loop);
void hooks_destroy(struct hooks *);

/* One master change, as the hook's environment shows it.  NULL strings
 * are passed as empty. */
struct hooks_event {
    const char *alias;
    const char *old_master;
    const char *new_master;
    const char *reason;
    const char *bridge;
    double event_time;    /* Unix time of the event, seconds. */
    long long applied_ms; /* Event to barrier. */
};

void hooks_run(struct hooks *, const struct cfg_notify *,
               const struct hooks_event *);

struct hooks_stats {
    uint64_t started;   /* Forked. */
    uint64_t failed;    /* Fork failed, or exited non-zero or by signal. */
    uint64_t timed_out; /* Killed at their timeout. */
    uint64_t dropped;   /* Queue full. */
    unsigned int running;
    unsigned int queued;
};

void hooks_get_stats(const struct hooks *, struct hooks_stats *);

#endif /* hooks.h */
