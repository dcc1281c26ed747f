/*
 * alias: the election model of one alias (pure: no I/O, no clocks).
 *
 * The caller feeds member events (port status, health, drain) and then runs
 * the election, passing the current time 'now' in milliseconds to every
 * call.  The model answers who is master, why it changed, and when it wants
 * to be asked again (for preempt_delay).
 *
 * Members are identified by their index in the alias config's 'members'
 * array.  The config passed to alias_state_create() must outlive the state.
 *
 * Eligible = port present && link up && healthy && not drained.  A member
 * whose port status was never reported counts as absent.  Health defaults to
 * healthy, drain to not drained.  Among eligible members, verified ones
 * come first (alias_state_set_verified()).
 *
 * State machine of the alias (alias_state_elect() is the only place that
 * moves between states, except alias_state_move()):
 *
 *   NONE      No master.  On elect: if a member is eligible, the best one
 *             becomes master ("initial" for the very first master, "member
 *             up" later) -> MASTER.
 *   MASTER    The master is eligible and no better eligible member is
 *             waiting (or preemption is off: "held").  On elect:
 *               master ineligible -> failover to best eligible ("master
 *                 link down", "master port absent", "master unhealthy",
 *                 "master drained") -> MASTER, or "no live member" -> NONE;
 *               better member eligible, preempt, delay 0 -> switch
 *                 ("preempt") -> MASTER;
 *               better member eligible, preempt, delay > 0 -> PREEMPT_WAIT.
 *   PREEMPT_WAIT  A better member is eligible but has not yet been eligible
 *             continuously for preempt_delay_ms.  'next_wakeup' is when the
 *             earliest better member will have been.  On elect: master
 *             ineligible -> failover as above; a better member has been
 *             eligible long enough -> the best such member ("preempt") ->
 *             MASTER (or PREEMPT_WAIT again if an even better one is still
 *             waiting); no better member eligible any more (it flapped)
 *             -> MASTER.  A member that flaps restarts its own delay.
 *   OVERRIDE  The master was chosen by alias_state_move() (a planned move).
 *             Preemption is suspended: the master stays until it becomes
 *             ineligible, then a normal failover happens -> MASTER / NONE.
 *
 * alias_state_move() does not report anything itself: the next
 * alias_state_elect() reports the change with reason "move".  More
 * generally, alias_state_elect() reports 'changed' relative to the master it
 * reported last time, so no change is ever lost.
 */
#ifndef VMACD_ALIAS_H
#define VMACD_ALIAS_H 1

#include <stdbool.h>
#include <stddef.h>

struct cfg_alias;

/* Lifecycle.  The 'cfg' alias must outlive the state. */
struct alias_state *alias_state_create(const struct cfg_alias *cfg);
void alias_state_destroy(struct alias_state *); /* NULL-safe. */

/* Makes 'cfg' the alias's config from now on, keeping every member's
 * state: 'cfg' must have the same members (names, in the same order) as
 * the config it replaces; their other settings (priority, drained...)
 * and the alias's (preempt...) may differ and count from the next
 * election.  Returns false (and changes nothing) if the members differ. */
bool alias_state_set_config(struct alias_state *, const struct cfg_alias *);

/* Inputs (member index = position in cfg->members).  An out-of-range index
 * is logged and ignored.  Each takes 'now' (ms). */
void alias_state_set_port(struct alias_state *, size_t member, bool present,
                          bool link_up, long long now);
void alias_state_set_health(struct alias_state *, size_t member, bool ok,
                            long long now);
void alias_state_set_drained(struct alias_state *, size_t member, bool drained,
                             long long now);
/* An unverified member is healthy only for want of a verdict (its probes
 * restarted after its bridge reconnected or this vmacd took over): it is
 * eligible, but takes the master role only when no verified member can,
 * never preempts, and comes after verified members in the buckets.  A
 * master that is unverified keeps the role.  Default verified. */
void alias_state_set_verified(struct alias_state *, size_t member,
                              bool verified, long long now);

/* Result of one election. */
struct alias_election {
    bool changed;          /* Master differs from the last reported one. */
    int old_master;        /* Last reported master, -1 = none. */
    int new_master;        /* Master now, -1 = none. */
    const char *reason;    /* Why it changed; when !changed, the current
                            * situation ("stable", "preempt pending",
                            * "held", "moved", "no live member"). */
    long long next_wakeup; /* Call alias_state_elect() again at this time
                            * (ms), LLONG_MAX if there is no need. */
};

/* Runs the election at time 'now' and fills 'r'. */
void alias_state_elect(struct alias_state *, long long now,
                       struct alias_election *r);

/* Planned move of the master to 'member' (-1 = the best eligible member
 * other than the current master).  Returns 0 on success (the next
 * alias_state_elect() reports it with reason "move"); ENOENT if 'member' is
 * out of range; EINVAL if it is not eligible or, for -1, if no other member
 * is eligible.  Nothing changes on error.  The moved-to member stays master
 * until it becomes ineligible (preemption is suspended until then). */
int alias_state_move(struct alias_state *, int member, long long now);

/* Current master, -1 when none. */
int alias_state_master(const struct alias_state *);

/* Fills 'order' with at most 'max' member indexes in election order for the
 * fast_failover buckets: the master first, then the eligible members by
 * priority (desc) then name (asc), then the members that are ineligible only
 * because their link is down.  Drained, unhealthy and absent members are
 * never listed.  Returns the number of entries written. */
size_t alias_state_order(const struct alias_state *, size_t *order,
                         size_t max);

/* Member state for display: "up" (eligible), "down" (port absent, link
 * down or unhealthy), "drained", "unknown" (port status never reported),
 * NULL if 'member' is out of range. */
const char *alias_member_state_name(const struct alias_state *, size_t member);

/* Name of the alias state for display: "none", "master", "preempt-wait",
 * "override". */
const char *alias_state_name(const struct alias_state *);

#endif /* alias.h */
