/*
 * health: the probe state machine of one member (pure: no I/O, no clocks).
 *
 * The caller sends the probes and feeds their results, link changes and
 * the passing of time, always with the current time 'now' in
 * milliseconds.  The module counts consecutive misses and successes
 * against 'fall' and 'rise', damps flapping, and says whether the member
 * is usable ("healthy" for the alias model, see alias_state_set_health()).
 *
 * States (health_state_name() gives the names shown by the API):
 *
 *   UNKNOWN   No verdict yet (start, or the probe settings changed).
 *             Healthy, so that a restart of vmacd moves no traffic; after
 *             health_forget() "unverified": still healthy, but the alias
 *             model lets it take the master role only as a last resort.
 *             'rise' successes in a row -> UP; 'fall' misses in a row
 *             -> DOWN; link down -> DOWN.
 *   UP        Healthy.  'fall' misses in a row -> DOWN (a flap); link
 *             down -> DOWN (a flap).  A success resets the miss count.
 *   DOWN      Not healthy.  'rise' successes in a row, link up -> UP.
 *             A miss resets the success count.  Link down resets it too.
 *   HELD      Flap damping: the member flapped HEALTH_FLAP_LIMIT times
 *             within HEALTH_FLAP_WINDOW_MS.  Not healthy whatever the
 *             probes say until 'held_until'; then DOWN (it needs 'rise'
 *             successes again).  A flap while HELD restarts the hold with
 *             the same duration.  Each new hold doubles the duration (from
 *             HEALTH_HOLD_BASE_MS up to HEALTH_HOLD_MAX_MS); the doubling
 *             is forgotten after HEALTH_STABLE_MS continuously UP.
 *
 * A flap is a transition from UP (or UNKNOWN) to DOWN, whether the probes
 * or the link caused it.  A member that is not probed (probe type "none",
 * no address) uses rise = fall = 1 with link events only: link up
 * -> UP at once (unless HELD), link down -> DOWN.
 *
 * Drain is not a state here: a drained member keeps being probed, so that
 * its health is known when it is undrained (the alias model handles drain).
 */
#ifndef VMACD_HEALTH_H
#define VMACD_HEALTH_H 1

#include <stdbool.h>

/* Flap damping constants (documented in docs/config.md). */
#define HEALTH_FLAP_LIMIT 5
#define HEALTH_FLAP_WINDOW_MS 10000
#define HEALTH_HOLD_BASE_MS 1000
#define HEALTH_HOLD_MAX_MS 60000
#define HEALTH_STABLE_MS 60000

enum health_state {
    HEALTH_UNKNOWN,
    HEALTH_UP,
    HEALTH_DOWN,
    HEALTH_HELD,
};

/* One member's probe state.  Plain data, so that it can be embedded and
 * copied; fields are read-only outside health.c. */
struct health {
    enum health_state state;
    unsigned int fall, rise; /* Settings. */
    bool probed;             /* False: link events only. */
    bool link_up;
    unsigned int misses;                /* Consecutive. */
    unsigned int successes;             /* Consecutive. */
    long long since;                    /* When 'state' was entered. */
    long long flaps[HEALTH_FLAP_LIMIT]; /* Ring of the last flaps' times. */
    unsigned int n_flaps_total;
    unsigned int flap_pos;
    unsigned int n_holds; /* Holds since the last stable period. */
    long long hold_ms;    /* Duration of the current/last hold. */
    long long held_until; /* Valid while HELD. */
    const char *reason;   /* Of the last transition. */
    bool unverified;      /* UNKNOWN after health_forget(). */
};

/* Lifecycle: no allocation. */
void health_init(struct health *, unsigned int fall, unsigned int rise,
                 bool probed, long long now);

/* Inputs.  Each returns true if the state changed (then health_state()
 * and health->reason tell the new state and why). */
bool health_probe_result(struct health *, bool ok, long long now);
bool health_link(struct health *, bool up, long long now);

/* Timers: call at health_next_wakeup() (or any time).  Returns true if the
 * state changed. */
bool health_run(struct health *, long long now);

/* When health_run() wants to be called, LLONG_MAX if never. */
long long health_next_wakeup(const struct health *);

/* Is the member usable (UNKNOWN or UP)? */
bool health_ok(const struct health *);

/* The verdict no longer holds (its bridge reconnected: the member may
 * have restarted meanwhile; another vmacd took over): UP becomes UNKNOWN,
 * "unverified" until the next verdict ('rise' successes or 'fall' misses
 * in a row).  DOWN and HELD stay.  Returns true if anything changed. */
bool health_forget(struct health *, const char *reason, long long now);
/* False while UNKNOWN after health_forget(). */
bool health_verified(const struct health *);

const char *health_state_name(enum health_state);

#endif /* health.h */
