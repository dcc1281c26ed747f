/*
 * alias: the election model of one alias.  See alias.h for the state
 * machine.
 */
#include "alias.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "config.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"

VLOG_DEFINE_THIS_MODULE(alias);

/* States of an alias (see alias.h). */
#define ALIAS_STATES                                                          \
    ALIAS_STATE(NONE, "none")                                                 \
    ALIAS_STATE(MASTER, "master")                                             \
    ALIAS_STATE(PREEMPT_WAIT, "preempt-wait")                                 \
    ALIAS_STATE(OVERRIDE, "override")

enum alias_fsm_state {
#define ALIAS_STATE(ENUM, NAME) ALIAS_S_##ENUM,
    ALIAS_STATES
#undef ALIAS_STATE
};

static const char *const alias_fsm_names[] = {
#define ALIAS_STATE(ENUM, NAME) NAME,
    ALIAS_STATES
#undef ALIAS_STATE
};

struct alias_member {
    bool reported; /* Port status was reported at least once. */
    bool present;  /* Port exists on its bridge. */
    bool link_up;
    bool healthy;             /* Default true. */
    bool unverified;          /* Healthy for want of a verdict (health
                               * forgotten on a reconnect or takeover);
                               * default false. */
    bool drained;             /* Default false. */
    bool eligible;            /* Cached alias_member_eligible__(). */
    long long eligible_since; /* Valid while 'eligible'. */
};

struct alias_state {
    const struct cfg_alias *cfg;
    struct alias_member *members; /* cfg->n_members entries. */
    enum alias_fsm_state state;
    int master;                 /* -1 = none. */
    int reported_master;        /* Master at the last elect report. */
    const char *pending_reason; /* Reason of a change not reported. */
    bool ever_master;           /* Some member has been master. */
};

struct alias_state *
alias_state_create(const struct cfg_alias *cfg)
{
    struct alias_state *st = xzalloc(sizeof *st);

    st->cfg = cfg;
    st->members
        = xcalloc(cfg->n_members ? cfg->n_members : 1, sizeof *st->members);
    for (size_t i = 0; i < cfg->n_members; i++) {
        st->members[i].healthy = true;
    }
    st->state = ALIAS_S_NONE;
    st->master = -1;
    st->reported_master = -1;
    return st;
}

bool
alias_state_set_config(struct alias_state *st, const struct cfg_alias *cfg)
{
    if (cfg->n_members != st->cfg->n_members) {
        return false;
    }
    for (size_t i = 0; i < cfg->n_members; i++) {
        if (strcmp(cfg->members[i].name, st->cfg->members[i].name)) {
            return false;
        }
    }
    st->cfg = cfg;
    return true;
}

void
alias_state_destroy(struct alias_state *st)
{
    if (st) {
        free(st->members);
        free(st);
    }
}

static bool
alias_member_eligible__(const struct alias_member *m)
{
    return m->present && m->link_up && m->healthy && !m->drained;
}

/* Refreshes the cached eligibility of member 'i' after an input. */
static void
alias_member_update(struct alias_state *st, size_t i, long long now)
{
    struct alias_member *m = &st->members[i];
    bool eligible = alias_member_eligible__(m);

    if (eligible && !m->eligible) {
        m->eligible_since = now;
    }
    m->eligible = eligible;
}

static struct alias_member *
alias_member_get(struct alias_state *st, size_t member, const char *what)
{
    if (member >= st->cfg->n_members) {
        VLOG_WARN("alias %s: %s for member index %zu out of range (%zu "
                  "members), ignored",
                  st->cfg->name, what, member, st->cfg->n_members);
        return NULL;
    }
    return &st->members[member];
}

void
alias_state_set_port(struct alias_state *st, size_t member, bool present,
                     bool link_up, long long now)
{
    struct alias_member *m = alias_member_get(st, member, "port status");

    if (m) {
        m->reported = true;
        m->present = present;
        m->link_up = present && link_up;
        alias_member_update(st, member, now);
    }
}

void
alias_state_set_health(struct alias_state *st, size_t member, bool ok,
                       long long now)
{
    struct alias_member *m = alias_member_get(st, member, "health");

    if (m) {
        m->healthy = ok;
        alias_member_update(st, member, now);
    }
}

void
alias_state_set_verified(struct alias_state *st, size_t member,
                         bool verified, long long now)
{
    struct alias_member *m = alias_member_get(st, member, "verified");

    if (m) {
        if (m->unverified && verified) {
            /* A preempt_delay counts from the verdict. */
            m->eligible_since = now;
        }
        m->unverified = !verified;
        alias_member_update(st, member, now);
    }
}

void
alias_state_set_drained(struct alias_state *st, size_t member, bool drained,
                        long long now)
{
    struct alias_member *m = alias_member_get(st, member, "drain");

    if (m) {
        m->drained = drained;
        alias_member_update(st, member, now);
    }
}

/* Returns true if member 'a' ranks before member 'b': higher priority, then
 * smaller name, then smaller index. */
static bool
alias_member_better(const struct alias_state *st, size_t a, size_t b)
{
    const struct cfg_member *ma = &st->cfg->members[a];
    const struct cfg_member *mb = &st->cfg->members[b];

    if (ma->priority != mb->priority) {
        return ma->priority > mb->priority;
    }
    int cmp = strcmp(ma->name, mb->name);
    return cmp ? cmp < 0 : a < b;
}

/* Returns the best eligible member other than 'except' (-1 for none), or -1
 * if there is none.  A verified member goes before any unverified one:
 * those take the role only when nobody else can. */
static int
alias_best_eligible(const struct alias_state *st, int except)
{
    int best = -1;

    for (size_t i = 0; i < st->cfg->n_members; i++) {
        const struct alias_member *m = &st->members[i];
        if (!m->eligible || (int) i == except) {
            continue;
        }
        if (best < 0
            || (st->members[best].unverified && !m->unverified)
            || (st->members[best].unverified == m->unverified
                && alias_member_better(st, i, best))) {
            best = i;
        }
    }
    return best;
}

/* May member 'i' preempt the master: eligible, verified, ranking before
 * it?  (An unverified master is not preempted for being unverified.) */
static bool
alias_member_preempts(const struct alias_state *st, size_t i)
{
    const struct alias_member *m = &st->members[i];
    return (m->eligible && !m->unverified
            && alias_member_better(st, i, st->master));
}

/* Why the master is no longer eligible. */
static const char *
alias_master_loss_reason(const struct alias_member *m)
{
    return (!m->present   ? "master port absent"
            : !m->link_up ? "master link down"
            : !m->healthy ? "master unhealthy"
                          : "master drained");
}

static void
alias_set_master(struct alias_state *st, int master, const char *reason)
{
    if (master != st->master) {
        st->master = master;
        st->pending_reason = reason;
        if (master >= 0) {
            st->ever_master = true;
        }
    }
}

/* State NONE: take the best eligible member, if any. */
static void
alias_elect_none(struct alias_state *st)
{
    int best = alias_best_eligible(st, -1);

    if (best >= 0) {
        alias_set_master(st, best, st->ever_master ? "member up" : "initial");
        st->state = ALIAS_S_MASTER;
    }
}

/* The master has become ineligible: fail over. */
static void
alias_elect_failover(struct alias_state *st)
{
    const char *why = alias_master_loss_reason(&st->members[st->master]);
    int best = alias_best_eligible(st, -1);

    alias_set_master(st, best, best >= 0 ? why : "no live member");
    st->state = best >= 0 ? ALIAS_S_MASTER : ALIAS_S_NONE;
}

/* States MASTER and PREEMPT_WAIT with an eligible master: apply the
 * preemption policy.  Sets '*wakeup' to when a waiting better member will
 * have been eligible for preempt_delay_ms. */
static void
alias_elect_preempt(struct alias_state *st, long long now, long long *wakeup)
{
    const struct cfg_alias *cfg = st->cfg;
    int best = alias_best_eligible(st, -1);

    if (best == st->master || !cfg->preempt) {
        st->state = ALIAS_S_MASTER;
        return;
    }

    /* Among the members better than the master, take the best one that has
     * been eligible for the whole delay. */
    int ready = -1;
    for (size_t i = 0; i < cfg->n_members; i++) {
        const struct alias_member *m = &st->members[i];
        if (alias_member_preempts(st, i)
            && now - m->eligible_since >= (long long) cfg->preempt_delay_ms
            && (ready < 0 || alias_member_better(st, i, ready))) {
            ready = i;
        }
    }
    if (ready >= 0) {
        alias_set_master(st, ready, "preempt");
    }

    /* Anyone still better than the (possibly new) master is waiting. */
    st->state = ALIAS_S_MASTER;
    for (size_t i = 0; i < cfg->n_members; i++) {
        const struct alias_member *m = &st->members[i];
        if (alias_member_preempts(st, i)) {
            long long due = m->eligible_since + cfg->preempt_delay_ms;
            *wakeup = MIN(*wakeup, due);
            st->state = ALIAS_S_PREEMPT_WAIT;
        }
    }
}

static const char *
alias_situation(const struct alias_state *st)
{
    switch (st->state) {
    case ALIAS_S_NONE:
        return "no live member";
    case ALIAS_S_PREEMPT_WAIT:
        return "preempt pending";
    case ALIAS_S_OVERRIDE:
        return "moved";
    case ALIAS_S_MASTER:
    default:
        return (alias_best_eligible(st, -1) != st->master ? "held" : "stable");
    }
}

void
alias_state_elect(struct alias_state *st, long long now,
                  struct alias_election *r)
{
    long long wakeup = LLONG_MAX;

    if (st->master >= 0 && !st->members[st->master].eligible) {
        alias_elect_failover(st);
    }

    switch (st->state) {
    case ALIAS_S_NONE:
        alias_elect_none(st);
        break;
    case ALIAS_S_MASTER:
    case ALIAS_S_PREEMPT_WAIT:
        alias_elect_preempt(st, now, &wakeup);
        break;
    case ALIAS_S_OVERRIDE:
        /* Preemption is suspended until the master fails. */
        break;
    }

    r->old_master = st->reported_master;
    r->new_master = st->master;
    r->changed = r->old_master != r->new_master;
    r->reason = (r->changed && st->pending_reason ? st->pending_reason
                                                  : alias_situation(st));
    r->next_wakeup = wakeup;

    st->reported_master = st->master;
    st->pending_reason = NULL;
}

int
alias_state_move(struct alias_state *st, int member, long long now)
{
    (void) now;

    if (member < -1
        || (member >= 0 && (size_t) member >= st->cfg->n_members)) {
        return ENOENT;
    }
    if (member == -1) {
        member = alias_best_eligible(st, st->master);
        if (member < 0) {
            return EINVAL;
        }
    } else if (!st->members[member].eligible) {
        return EINVAL;
    }

    alias_set_master(st, member, "move");
    st->state = ALIAS_S_OVERRIDE;
    return 0;
}

int
alias_state_master(const struct alias_state *st)
{
    return st->master;
}

/* Ranks for alias_state_order(): lower goes first, -1 = never listed. */
static int
alias_order_rank(const struct alias_state *st, size_t i)
{
    const struct alias_member *m = &st->members[i];

    bool usable = m->eligible || (m->present && m->healthy && !m->drained);
    if ((int) i == st->master && usable) {
        return 0;
    } else if (m->eligible) {
        return m->unverified ? 2 : 1;
    } else if (m->present && m->healthy && !m->drained) {
        /* Only the link is down. */
        return 3;
    }
    return -1;
}

size_t
alias_state_order(const struct alias_state *st, size_t *order, size_t max)
{
    size_t n = 0;

    /* Insertion sort: member counts are small. */
    for (size_t i = 0; i < st->cfg->n_members; i++) {
        int rank = alias_order_rank(st, i);
        if (rank < 0) {
            continue;
        }

        size_t pos = n;
        while (pos > 0) {
            size_t prev = order[pos - 1];
            int prev_rank = alias_order_rank(st, prev);
            if (prev_rank < rank
                || (prev_rank == rank && !alias_member_better(st, i, prev))) {
                break;
            }
            pos--;
        }
        if (pos >= max) {
            continue;
        }
        size_t end = n < max ? n : max - 1;
        memmove(&order[pos + 1], &order[pos], (end - pos) * sizeof *order);
        order[pos] = i;
        if (n < max) {
            n++;
        }
    }
    return n;
}

const char *
alias_member_state_name(const struct alias_state *st, size_t member)
{
    if (member >= st->cfg->n_members) {
        return NULL;
    }

    const struct alias_member *m = &st->members[member];
    return (m->drained     ? "drained"
            : !m->reported ? "unknown"
            : m->eligible  ? "up"
                           : "down");
}

const char *
alias_state_name(const struct alias_state *st)
{
    return alias_fsm_names[st->state];
}
