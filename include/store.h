/*
 * store: the config file as the durable store of the aliases.
 *
 * An API write is durable and in the config file before its reply, at the
 * cost of the change rather than of the config:
 *
 *   1. one record (the alias as it is now, or its removal) is appended to
 *      a journal beside the file, PATH.journal.N, and fdatasync()ed: that
 *      makes the change durable (about a millisecond, whatever the number
 *      of aliases);
 *   2. PATH is replaced atomically (a temporary file renamed over it) by
 *      the config with the change, written from each alias's cached text,
 *      so no other alias is serialized again; it is not fsync()ed here;
 *   3. shortly after (STORE_CHECKPOINT_DELAY_MS without writes), a thread
 *      of its own fsync()s PATH and its directory, keeps that file as
 *      PATH.base (a hard link) and deletes the journal it covers; the
 *      event loop never waits for a large fsync.
 *
 * After a crash, PATH (or, if a crash left it incomplete, PATH.base) with
 * the journals replayed in order on top is the config: records are whole
 * aliases, so replaying one that the file already holds changes nothing,
 * and no acknowledged write is lost.  PATH holds the settings
 * pretty-printed and one alias per line.
 *
 * A hand edit of PATH is never overwritten: before each write the store
 * compares PATH's identity (device, inode, size, modification time) with
 * what it last read or wrote.  If it changed, writes are refused (EBUSY,
 * kind STORE_FILE_CHANGED) until the file is reloaded (SIGHUP:
 * store_reload(), which replays the journal on top of the edited file) or
 * a write says to overwrite it ('force').
 */
#ifndef VMACD_STORE_H
#define VMACD_STORE_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

#include "openvswitch/compiler.h"

struct cfg_alias;
struct config;
struct store;
struct verror;

#define STORE_CHECKPOINT_DELAY_MS 200

/* The kind (verror.h) of a write refused because PATH changed on disk. */
extern const char STORE_FILE_CHANGED[];

/* Loads 'path' (or PATH.base if a crash left 'path' incomplete) and
 * replays its journals (records that no longer apply are skipped, with a
 * warning); if there were any, writes PATH durably at once and deletes
 * them.  Returns 0 with '*storep' and '*cfgp', or an errno and 'e'. */
int store_open(struct ev_loop *, const char *path, struct store **storep,
               struct config **cfgp, struct verror *e) OVS_WARN_UNUSED_RESULT;
/* Finishes a checkpoint in progress, makes PATH durable, and frees the
 * store.  NULL-safe. */
void store_close(struct store *);

const char *store_path(const struct store *);

/* Checks that a write may proceed: 0, or EBUSY (kind STORE_FILE_CHANGED)
 * when PATH changed on disk since the store read or wrote it and 'force'
 * is false.  With 'force', the write overwrites the edit. */
int store_check(struct store *, bool force, struct verror *)
    OVS_WARN_UNUSED_RESULT;

/* Persists 'cfg' with alias 'a' in place of its namesake (or added), or
 * without alias 'name': steps 1 and 2 above.  Returns 0, or an errno and
 * 'e' (then the journal and PATH are as they were).  'cfg' itself is not
 * changed: the caller applies the change once this succeeded. */
int store_put_alias(struct store *, const struct config *cfg,
                    const struct cfg_alias *a, struct verror *)
    OVS_WARN_UNUSED_RESULT;
int store_remove_alias(struct store *, const struct config *cfg,
                       const char *name, struct verror *)
    OVS_WARN_UNUSED_RESULT;

/* Reads PATH again, with the journal replayed on top: the config that
 * SIGHUP applies (written back to PATH if the journal added to it).
 * Returns 0 with '*cfgp' or an errno and 'e'. */
int store_reload(struct store *, struct config **cfgp, struct verror *)
    OVS_WARN_UNUSED_RESULT;

/* {"path", "journal_records", "checkpoints", "checkpoint_failures",
 *  "last_checkpoint_ms", "file_changed"}. */
json_t *store_to_json(const struct store *);

#endif /* store.h */
