/*
 * probesched: precise periodic callbacks for health probes.
 *
 * libev's epoll backend rounds its sleep up to whole milliseconds, which
 * makes 10 ms probes leave up to 1 ms late.  This scheduler keeps every
 * periodic entry in one heap ordered by due time and sleeps on a timerfd
 * armed (absolute, CLOCK_MONOTONIC, nanoseconds) for the earliest one; the
 * timerfd is an ordinary libev I/O watcher, so everything still runs in
 * the one loop.  Entries never drift: each is due at first + k * period;
 * after a stall longer than a period an entry restarts its period from
 * now (no burst of catch-up calls).
 */
#ifndef VMACD_PROBESCHED_H
#define VMACD_PROBESCHED_H 1

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

struct probesched;
struct probesched_entry;

/* Called when 'e' is due; 'late_ns' is how late (>= 0).  The callback may
 * remove or re-add any entry, 'e' included. */
typedef void probesched_func(struct probesched_entry *e, int64_t late_ns);

struct probesched_entry {
    struct heap_node node; /* Private. */
    uint64_t due_ns;       /* Private: next due (CLOCK_MONOTONIC). */
    uint64_t period_ns;    /* Private. */
    probesched_func *cb;   /* Private. */
    bool active;           /* Private. */
};

/* Returns NULL and sets '*errp' if no timerfd could be created. */
struct probesched *probesched_create(struct ev_loop *, char **errp);
void probesched_destroy(struct probesched *); /* NULL-safe. */

/* Starts 'e': first due after 'delay_ns', then every 'period_ns' (> 0).
 * Restarts it if it was active. */
void probesched_start(struct probesched *, struct probesched_entry *e,
                      uint64_t delay_ns, uint64_t period_ns,
                      probesched_func *cb);
/* Stops 'e' (no-op if it is not active). */
void probesched_stop(struct probesched *, struct probesched_entry *e);

/* Runs, right now, the entries that are due, in due order, then re-arms
 * the timerfd; with 'ready' (may be NULL), stops at the first due entry
 * for which it returns false (that one stays due for the loop).  For code
 * that holds the loop for milliseconds (building a large API reply), so
 * that probes falling due meanwhile still leave on time.  NULL-safe.
 * Returns the number of callbacks run. */
typedef bool probesched_ready_func(const struct probesched_entry *);
size_t probesched_run_due(struct probesched *, probesched_ready_func *ready);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t probesched_now_ns(void);

#endif /* probesched.h */
