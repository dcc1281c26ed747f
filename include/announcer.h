/*
 * announcer: when each alias's gratuitous ARPs / unsolicited NAs go out.
 *
 * Per alias: a burst of 'count' rounds 'interval_ms' apart on a master
 * change, on a (re)connect of the master's bridge and on demand, and one
 * burst every 'refresh_s' (alias.announce).  A round is the owner's to
 * send (every address of the alias on every uplink of the master's
 * bridge, announce.h builds the frames); the announcer keeps only the
 * timers and the count of packets sent.
 */
#ifndef VMACD_ANNOUNCER_H
#define VMACD_ANNOUNCER_H 1

#include <ev.h>
#include <stdint.h>

struct announcer;
struct cfg_alias;

/* Sends one round for alias 'alias'; returns the packets sent, or a
 * negative errno (no master: -ENOENT, its bridge not connected:
 * -ENOTCONN). */
typedef int announcer_round_func(void *aux, const char *alias);

struct announcer *announcer_create(struct ev_loop *, announcer_round_func *,
                                   void *aux);
void announcer_destroy(struct announcer *); /* NULL-safe. */

/* Starts a burst now (restarting one in progress) and re-arms the periodic
 * refresh, with the settings of 'alias'. */
void announcer_start(struct announcer *, const struct cfg_alias *);
/* Re-arms only the periodic refresh (a reload that kept the master). */
void announcer_rearm(struct announcer *, const struct cfg_alias *);
/* Forgets alias 'name' (its timers stop). */
void announcer_remove(struct announcer *, const char *name);
/* Packets sent for alias 'name' so far. */
uint64_t announcer_count(const struct announcer *, const char *name);

#endif /* announcer.h */
