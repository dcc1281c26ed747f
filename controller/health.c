/*
 * health: the probe state machine of one member.  See health.h.
 */
#include "health.h"

#include <limits.h>
#include <string.h>

#include "util.h"

static const char *const health_names[] = {
    [HEALTH_UNKNOWN] = "unknown",
    [HEALTH_UP] = "up",
    [HEALTH_DOWN] = "down",
    [HEALTH_HELD] = "held",
};

const char *
health_state_name(enum health_state s)
{
    return ((size_t) s < ARRAY_SIZE(health_names) ? health_names[s]
                                                  : "invalid");
}

void
health_init(struct health *h, unsigned int fall, unsigned int rise,
            bool probed, long long now)
{
    memset(h, 0, sizeof *h);
    h->state = HEALTH_UNKNOWN;
    h->fall = probed ? MAX(fall, 1) : 1;
    h->rise = probed ? MAX(rise, 1) : 1;
    h->probed = probed;
    h->link_up = true;
    h->since = now;
    h->reason = "start";
    for (size_t i = 0; i < HEALTH_FLAP_LIMIT; i++) {
        h->flaps[i] = LLONG_MIN;
    }
}

static bool
health_enter(struct health *h, enum health_state s, const char *reason,
             long long now)
{
    if (s == h->state) {
        return false;
    }
    h->state = s;
    h->since = now;
    h->reason = reason;
    h->misses = h->successes = 0;
    h->unverified = false;
    return true;
}

bool
health_forget(struct health *h, const char *reason, long long now)
{
    if (h->state == HEALTH_UP) {
        health_enter(h, HEALTH_UNKNOWN, reason, now);
    } else if (h->state != HEALTH_UNKNOWN || h->unverified) {
        return false; /* DOWN needs 'rise' anyway; HELD stays held. */
    } else {
        h->misses = h->successes = 0;
        h->reason = reason;
    }
    h->unverified = true;
    return true;
}

bool
health_verified(const struct health *h)
{
    return !h->unverified;
}

/* Records a flap at 'now'; enters (or extends) HELD when there were
 * HEALTH_FLAP_LIMIT of them within HEALTH_FLAP_WINDOW_MS.  Returns true if
 * the member is (now) held. */
static bool
health_flap(struct health *h, long long now)
{
    h->n_flaps_total++;
    h->flaps[h->flap_pos] = now;
    h->flap_pos = (h->flap_pos + 1) % HEALTH_FLAP_LIMIT;

    if (h->state == HEALTH_HELD) {
        h->held_until = now + h->hold_ms;
        return true;
    }
    /* The oldest of the last HEALTH_FLAP_LIMIT flaps is at 'flap_pos'. */
    long long oldest = h->flaps[h->flap_pos];
    if (oldest != LLONG_MIN && now - oldest < HEALTH_FLAP_WINDOW_MS) {
        long long hold = HEALTH_HOLD_BASE_MS;
        for (unsigned int i = 0; i < h->n_holds && hold < HEALTH_HOLD_MAX_MS;
             i++) {
            hold *= 2;
        }
        h->hold_ms = MIN(hold, HEALTH_HOLD_MAX_MS);
        h->n_holds++;
        h->held_until = now + h->hold_ms;
        health_enter(h, HEALTH_HELD, "flapping", now);
        return true;
    }
    return false;
}

/* Forgets the hold doubling after a long stable UP period. */
static void
health_check_stable(struct health *h, long long now)
{
    if (h->state == HEALTH_UP && h->n_holds
        && now - h->since >= HEALTH_STABLE_MS) {
        h->n_holds = 0;
    }
}

bool
health_probe_result(struct health *h, bool ok, long long now)
{
    bool changed = health_run(h, now);

    if (!h->link_up) {
        return changed; /* Results while the link is down: void. */
    }
    if (ok) {
        h->misses = 0;
        h->successes++;
    } else {
        h->successes = 0;
        h->misses++;
    }

    switch (h->state) {
    case HEALTH_UNKNOWN:
    case HEALTH_UP:
        if (!ok && h->misses >= h->fall) {
            if (!health_flap(h, now)) {
                health_enter(h, HEALTH_DOWN, "probe timeout", now);
            }
            return true;
        } else if (ok && h->state == HEALTH_UNKNOWN
                   && h->successes >= h->rise) {
            return health_enter(h, HEALTH_UP, "probes answered", now);
        }
        break;
    case HEALTH_DOWN:
        if (ok && h->successes >= h->rise) {
            return health_enter(h, HEALTH_UP, "probes answered", now);
        }
        break;
    case HEALTH_HELD:
        break;
    }
    return changed;
}

bool
health_link(struct health *h, bool up, long long now)
{
    bool changed = health_run(h, now);

    if (up == h->link_up) {
        return changed;
    }
    h->link_up = up;
    if (!up) {
        /* Every loss of link counts as a flap (while HELD it only
         * restarts the hold). */
        bool was_held = h->state == HEALTH_HELD;
        if (health_flap(h, now)) {
            return changed || !was_held;
        }
        changed |= health_enter(h, HEALTH_DOWN, "link down", now);
        h->misses = h->successes = 0;
        return changed;
    }
    h->misses = h->successes = 0;
    if (!h->probed && h->state != HEALTH_HELD) {
        changed |= health_enter(h, HEALTH_UP, "link up", now);
    }
    return changed;
}

bool
health_run(struct health *h, long long now)
{
    health_check_stable(h, now);
    if (h->state == HEALTH_HELD && now >= h->held_until) {
        health_enter(h, HEALTH_DOWN, "hold expired", now);
        if (!h->probed && h->link_up) {
            health_enter(h, HEALTH_UP, "hold expired", now);
        }
        return true;
    }
    return false;
}

long long
health_next_wakeup(const struct health *h)
{
    if (h->state == HEALTH_HELD) {
        return h->held_until;
    } else if (h->state == HEALTH_UP && h->n_holds) {
        return h->since + HEALTH_STABLE_MS;
    }
    return LLONG_MAX;
}

bool
health_ok(const struct health *h)
{
    return h->state == HEALTH_UNKNOWN || h->state == HEALTH_UP;
}
