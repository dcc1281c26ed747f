/*
 * store: the config file, its journal and its checkpoints (see store.h).
 *
 * Journal segments are PATH.journal.N, N counting up; each record is one
 * line, {"put": ALIAS} or {"remove": NAME}.  Writes go to the current
 * segment.  A checkpoint first starts a new segment, then (in its thread)
 * fsyncs PATH, which by then holds every record of the older segments,
 * and deletes them.  The loop's renames over PATH and the checkpoint's
 * fsync of it are serialized by 'mutex', so the file a checkpoint makes
 * durable is the one PATH names.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "persist.h"
#include "ratelog.h"
#include "socket-util.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(store);

const char STORE_FILE_CHANGED[] = "file_changed";

/* Who a file is: changed when any of these differ. */
struct stamp {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct store {
    struct ev_loop *loop;
    char *path;
    char *base; /* PATH.base. */

    int jfd;             /* Current segment, or -1 until a write. */
    unsigned int jseq;   /* Its number. */
    unsigned int jfirst; /* The oldest segment that may exist. */
    size_t j_records;    /* Since the last checkpoint started. */

    struct stamp stamp; /* PATH as last read or written. */
    bool overwrite;     /* A forced write may replace an edit. */
    bool file_changed;  /* PATH changed on disk (writes refused). */

    pthread_mutex_t mutex; /* Renames over PATH vs the checkpoint. */
    ev_timer checkpoint_timer;
    ev_async done;
    bool running; /* A checkpoint thread. */
    pthread_t thread;
    unsigned int covers; /* Its segments: up to this one. */
    int result;          /* Its errno. */
    double result_ms;

    uint64_t checkpoints, failures;
    double last_ms;
};

static void checkpoint_timer_cb(struct ev_loop *, ev_timer *, int revents);
static void done_cb(struct ev_loop *, ev_async *, int revents);

static void
stamp_get(const char *path, struct stamp *s)
{
    struct stat st;
    *s = (struct stamp){ .valid = false };
    if (!stat(path, &st)) {
        *s = (struct stamp){
            .valid = true,
            .dev = st.st_dev,
            .ino = st.st_ino,
            .size = st.st_size,
            .mtime = st.st_mtim,
        };
    }
}

static bool
stamp_equal(const struct stamp *a, const struct stamp *b)
{
    return (a->valid == b->valid && a->dev == b->dev && a->ino == b->ino
            && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec
            && a->mtime.tv_nsec == b->mtime.tv_nsec);
}

static char *
segment_name(const char *path, unsigned int n)
{
    return xasprintf("%s.journal.%u", path, n);
}

static double
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Writing PATH. */

/* The config as PATH holds it: 'cfg' with 'put' in place of its namesake
 * (or after the last alias), without alias 'skip' (either may be NULL). */
struct doc {
    const struct config *cfg;
    const struct cfg_alias *put;
    const char *skip;
};

static void
put_alias_line(FILE *f, const struct cfg_alias *a, bool *first)
{
    size_t len;
    const char *text = config_alias_json_text(a, &len);
    fputs(*first ? "\n    " : ",\n    ", f);
    fwrite(text, len, 1, f);
    *first = false;
}

static int
write_doc(FILE *f, void *doc_)
{
    const struct doc *doc = doc_;
    json_t *settings = config_settings_to_json(doc->cfg);
    char *head = json_dumps(settings, JSON_INDENT(2));
    json_decref(settings);
    if (!head) {
        return ENOMEM;
    }
    /* "{\n  ...\n}": the aliases go before the closing brace. */
    char *end = strrchr(head, '}');
    *end = '\0';
    while (end > head && (end[-1] == '\n' || end[-1] == ' ')) {
        *--end = '\0';
    }
    fputs(head, f);
    free(head);

    fputs(",\n  \"aliases\": [", f);
    bool first = true, placed = false;
    for (size_t i = 0; i < doc->cfg->n_aliases; i++) {
        const struct cfg_alias *a = doc->cfg->aliases[i];
        if (doc->skip && !strcmp(a->name, doc->skip)) {
            continue;
        }
        if (doc->put && !strcmp(a->name, doc->put->name)) {
            a = doc->put;
            placed = true;
        }
        put_alias_line(f, a, &first);
    }
    if (doc->put && !placed) {
        put_alias_line(f, doc->put, &first);
    }
    fputs(first ? "]\n}\n" : "\n  ]\n}\n", f);
    return ferror(f) ? (errno ? errno : EIO) : 0;
}

/* Renames 'tmp' over PATH while no checkpoint holds the file. */
static int
rename_locked(struct store *st, const char *tmp)
{
    pthread_mutex_lock(&st->mutex);
    int error = rename(tmp, st->path) ? errno : 0;
    pthread_mutex_unlock(&st->mutex);
    return error;
}

/* Replaces PATH by 'doc': durably (fsync of the file and its directory)
 * with 'sync', else for readers only (durability is the journal's). */
static int
write_path(struct store *st, const struct doc *doc, bool sync,
           struct verror *e)
{
    if (sync) {
        return persist_write_with(st->path, write_doc, CONST_CAST(void *, doc),
                                  e);
    }
    char *dir = dir_name(st->path);
    char *name = base_name(st->path);
    char *tmp = xasprintf("%s/.%s.tmpXXXXXX", dir, name);
    free(dir);
    free(name);
    int error = 0;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        error = errno;
    } else {
        struct stat old;
        error = fchmod(fd, !stat(st->path, &old) ? old.st_mode & 07777
                                                  : 0644)
                    ? errno
                    : write_doc(f, CONST_CAST(void *, doc));
        if (fclose(f) && !error) {
            error = errno;
        }
        fd = -1;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (!error) {
        error = rename_locked(st, tmp);
    }
    if (error) {
        unlink(tmp);
        verror_set(e, error, VERR_IO, NULL, "%s: cannot write: %s", st->path,
                   ovs_strerror(error));
    }
    free(tmp);
    return error;
}

/* Journals. */

/* Numbers of the segments of 'path' that exist, sorted. */
static size_t
list_segments(const char *path, unsigned int **nums)
{
    char *dir = dir_name(path);
    char *base = base_name(path);
    char *prefix = xasprintf("%s.journal.", base);
    size_t n = 0, allocated = 0;
    *nums = NULL;

    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *s = de->d_name;
        if (strncmp(s, prefix, strlen(prefix))) {
            continue;
        }
        s += strlen(prefix);
        char *tail;
        unsigned long x = strtoul(s, &tail, 10);
        if (*s < '0' || *s > '9' || *tail || !x || x > UINT_MAX) {
            continue;
        }
        if (n >= allocated) {
            *nums = x2nrealloc(*nums, &allocated, sizeof **nums);
        }
        (*nums)[n++] = x;
    }
    if (d) {
        closedir(d);
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && (*nums)[j - 1] > (*nums)[j]; j--) {
            unsigned int t = (*nums)[j];
            (*nums)[j] = (*nums)[j - 1];
            (*nums)[j - 1] = t;
        }
    }
    free(prefix);
    free(base);
    free(dir);
    return n;
}

/* Applies one record to 'cfg'.  Returns false if it does not apply. */
static bool
apply_record(struct config *cfg, const json_t *rec, struct verror *e)
{
    const json_t *put = json_object_get(rec, "put");
    const json_t *rm = json_object_get(rec, "remove");
    struct cfg_renumbering r = { 0 };

    if (json_is_object(put) && json_object_size(rec) == 1) {
        const json_t *name = json_object_get(put, "name");
        const char *old = (json_is_string(name)
                               && config_find_alias(cfg,
                                                    json_string_value(name))
                               ? json_string_value(name)
                               : NULL);
        struct cfg_alias *a;
        if (config_parse_alias(cfg, put, old, &a, e)) {
            return false;
        }
        cfg_alias_unref(config_put_alias(cfg, a, &r));
    } else if (json_is_string(rm) && json_object_size(rec) == 1) {
        cfg_alias_unref(config_remove_alias(cfg, json_string_value(rm), &r));
    } else {
        verror_set(e, EINVAL, VERR_INVALID, NULL, "not a journal record");
        return false;
    }
    cfg_renumbering_destroy(&r);
    return true;
}

/* Replays every segment of 'path' into 'cfg'; returns the records. */
static size_t
replay(const char *path, struct config *cfg)
{
    unsigned int *nums;
    size_t n = list_segments(path, &nums), records = 0;
    for (size_t i = 0; i < n; i++) {
        char *name = segment_name(path, nums[i]);
        FILE *f = fopen(name, "r");
        if (!f) {
            VLOG_WARN("%s: cannot open: %s", name, ovs_strerror(errno));
            free(name);
            continue;
        }
        struct ds line = DS_EMPTY_INITIALIZER;
        for (unsigned int lineno = 1; !ds_get_line(&line, f); lineno++) {
            json_error_t jerr;
            json_t *rec = json_loads(ds_cstr(&line), JSON_REJECT_DUPLICATES,
                                     &jerr);
            struct verror e = VERROR_INITIALIZER;
            if (!rec) {
                /* A record cut short by a crash: it was never
                 * acknowledged. */
                VLOG_WARN("%s:%u: skipping an incomplete record", name,
                          lineno);
            } else if (!apply_record(cfg, rec, &e)) {
                VLOG_WARN("%s:%u: skipping a record that no longer applies: "
                          "%s",
                          name, lineno, e.message);
            } else {
                records++;
            }
            verror_destroy(&e);
            json_decref(rec);
        }
        ds_destroy(&line);
        fclose(f);
        free(name);
    }
    free(nums);
    return records;
}

/* Deletes the segments up to 'last'. */
static void
delete_segments(struct store *st, unsigned int last)
{
    for (; st->jfirst <= last; st->jfirst++) {
        char *name = segment_name(st->path, st->jfirst);
        if (unlink(name) && errno != ENOENT) {
            RL_WARN("%s: cannot delete: %s", name,
                    ovs_strerror(errno));
        }
        free(name);
    }
}

/* The checkpoint's work, in its thread or at start: makes PATH durable
 * and keeps it as PATH.base.  Returns 0 or an errno. */
static int
make_durable(struct store *st)
{
    pthread_mutex_lock(&st->mutex);
    int error = 0;
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd)) {
        error = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    char *tmp = xasprintf("%s.tmp", st->base);
    if (!error) {
        unlink(tmp);
        if (link(st->path, tmp) || rename(tmp, st->base)) {
            error = errno;
            unlink(tmp);
        }
    }
    free(tmp);
    if (!error) {
        error = fsync_parent_dir(st->path);
    }
    pthread_mutex_unlock(&st->mutex);
    return error;
}

/* Lifecycle. */

static void
store_free(struct store *st)
{
    pthread_mutex_destroy(&st->mutex);
    free(st->path);
    free(st->base);
    free(st);
}

int
store_open(struct ev_loop *loop, const char *path, struct store **storep,
           struct config **cfgp, struct verror *e)
{
    *storep = NULL;
    struct store *st = xzalloc(sizeof *st);
    st->loop = loop;
    st->path = xstrdup(path);
    st->base = xasprintf("%s.base", path);
    st->jfd = -1;
    pthread_mutex_init(&st->mutex, NULL);

    int error = config_load(path, cfgp, e);
    if (error && !access(st->base, R_OK)) {
        /* A crash before the file's data reached the disk: the last
         * durable file and the journal have it all. */
        struct verror e2 = VERROR_INITIALIZER;
        if (!config_load(st->base, cfgp, &e2)) {
            VLOG_WARN("%s; restoring it from %s and its journal", e->message,
                      st->base);
            verror_destroy(e);
            error = 0;
        }
        verror_destroy(&e2);
    }
    if (error) {
        store_free(st);
        return error;
    }

    unsigned int *nums;
    size_t n = list_segments(path, &nums);
    st->jfirst = n ? nums[0] : 1;
    st->jseq = n ? nums[n - 1] + 1 : 1;
    free(nums);
    if (n) {
        size_t records = replay(path, *cfgp);
        VLOG_INFO("%s: replayed %zu journal records", path, records);
        struct doc doc = { .cfg = *cfgp };
        error = write_path(st, &doc, true, e);
        if (!error) {
            error = make_durable(st);
            if (error) {
                verror_set(e, error, VERR_IO, NULL, "%s: cannot sync: %s",
                           path, ovs_strerror(error));
            }
        }
        if (error) {
            config_destroy(*cfgp);
            *cfgp = NULL;
            store_free(st);
            return error;
        }
        delete_segments(st, st->jseq - 1);
    }
    stamp_get(path, &st->stamp);

    /* Every alias's text, now: the first write will not pay for them. */
    for (size_t i = 0; i < (*cfgp)->n_aliases; i++) {
        size_t len;
        config_alias_json_text((*cfgp)->aliases[i], &len);
    }
    ev_init(&st->checkpoint_timer, checkpoint_timer_cb);
    ev_async_init(&st->done, done_cb);
    ev_async_start(loop, &st->done);
    *storep = st;
    return 0;
}

static void finish_checkpoint(struct store *);

void
store_close(struct store *st)
{
    if (!st) {
        return;
    }
    if (st->running) {
        pthread_join(st->thread, NULL);
        finish_checkpoint(st);
    }
    ev_timer_stop(st->loop, &st->checkpoint_timer);
    ev_async_stop(st->loop, &st->done);
    if (st->jfd >= 0) {
        close(st->jfd);
        st->jfd = -1;
    }
    if (st->j_records && !st->file_changed) {
        /* PATH has every record: make it durable, then the journal can
         * go. */
        if (!make_durable(st)) {
            delete_segments(st, st->jseq);
        }
    }
    store_free(st);
}

const char *
store_path(const struct store *st)
{
    return st->path;
}

/* Writes. */

int
store_check(struct store *st, bool force, struct verror *e)
{
    struct stamp now;
    stamp_get(st->path, &now);
    if (stamp_equal(&now, &st->stamp)) {
        return 0;
    }
    if (force) {
        VLOG_WARN("%s changed on disk; a forced write overwrites it",
                  st->path);
        st->overwrite = true;
        return 0;
    }
    if (!st->file_changed) {
        VLOG_WARN("%s changed on disk: API writes are refused until it is "
                  "reloaded (SIGHUP) or a write forces it",
                  st->path);
    }
    st->file_changed = true;
    return verror_set(e, EBUSY, STORE_FILE_CHANGED, NULL,
                      "%s changed on disk since vmacd read it; reload it "
                      "first (SIGHUP, e.g. systemctl reload vmacd), or "
                      "repeat the request with ?force=true to overwrite "
                      "the edit",
                      st->path);
}

static void
schedule_checkpoint(struct store *st)
{
    ev_timer_stop(st->loop, &st->checkpoint_timer);
    ev_timer_set(&st->checkpoint_timer, STORE_CHECKPOINT_DELAY_MS / 1000.0,
                 0.);
    ev_timer_start(st->loop, &st->checkpoint_timer);
}

/* Appends 'text' as one record.  Returns 0 with the segment's size before
 * it in '*undo', or an errno and 'e'. */
static int
append(struct store *st, const char *text, off_t *undo, struct verror *e)
{
    char *name = segment_name(st->path, st->jseq);
    int error = 0;
    if (st->jfd < 0) {
        st->jfd = open(name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (st->jfd < 0) {
            error = errno;
        }
    }
    *undo = error ? 0 : lseek(st->jfd, 0, SEEK_END);
    if (!error) {
        error = persist_write_all(st->jfd, text, strlen(text));
    }
    if (!error && fdatasync(st->jfd)) {
        error = errno;
    }
    if (error) {
        if (st->jfd >= 0 && *undo >= 0 && ftruncate(st->jfd, *undo)) {
            RL_WARN("%s: cannot truncate: %s", name,
                    ovs_strerror(errno));
        }
        verror_set(e, error, VERR_IO, NULL, "%s: cannot write: %s", name,
                   ovs_strerror(error));
    }
    free(name);
    return error;
}

/* Steps 1 and 2 for 'doc', whose change 'record' describes. */
static int
persist(struct store *st, const char *record, const struct doc *doc,
        struct verror *e)
{
    off_t undo;
    int error = append(st, record, &undo, e);
    if (error) {
        return error;
    }
    error = write_path(st, doc, false, e);
    if (error) {
        /* Not in the file: not a change at all. */
        if (ftruncate(st->jfd, undo)) {
            RL_WARN("%s: cannot undo a journal record: %s",
                    st->path, ovs_strerror(errno));
        }
        return error;
    }
    stamp_get(st->path, &st->stamp);
    st->overwrite = false;
    st->file_changed = false;
    st->j_records++;
    schedule_checkpoint(st);
    return 0;
}

int
store_put_alias(struct store *st, const struct config *cfg,
                const struct cfg_alias *a, struct verror *e)
{
    size_t len;
    const char *text = config_alias_json_text(a, &len);
    char *record = xasprintf("{\"put\":%s}\n", text);
    struct doc doc = { .cfg = cfg, .put = a };
    int error = persist(st, record, &doc, e);
    free(record);
    return error;
}

int
store_remove_alias(struct store *st, const struct config *cfg,
                   const char *name, struct verror *e)
{
    json_t *j = json_pack("{s:s}", "remove", name);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *record = xasprintf("%s\n", text);
    free(text);
    struct doc doc = { .cfg = cfg, .skip = name };
    int error = persist(st, record, &doc, e);
    free(record);
    return error;
}

int
store_reload(struct store *st, struct config **cfgp, struct verror *e)
{
    int error = config_load(st->path, cfgp, e);
    if (error) {
        return error;
    }
    size_t records = replay(st->path, *cfgp);
    st->file_changed = false;
    st->overwrite = false;
    if (records) {
        /* The edited file with the writes it did not have. */
        VLOG_INFO("%s: reloaded with %zu journal records on top", st->path,
                  records);
        struct doc doc = { .cfg = *cfgp };
        struct verror we = VERROR_INITIALIZER;
        if (write_path(st, &doc, false, &we)) {
            VLOG_ERR("%s", we.message);
            verror_destroy(&we);
        } else {
            schedule_checkpoint(st);
        }
    }
    stamp_get(st->path, &st->stamp);
    for (size_t i = 0; i < (*cfgp)->n_aliases; i++) {
        size_t len;
        config_alias_json_text((*cfgp)->aliases[i], &len);
    }
    return 0;
}

/* Checkpoints. */

static void *
checkpoint_main(void *st_)
{
    struct store *st = st_;
    double start = monotonic_ms();
    st->result = make_durable(st);
    st->result_ms = monotonic_ms() - start;
    ev_async_send(st->loop, &st->done);
    return NULL;
}

static void
checkpoint(struct store *st)
{
    if (st->running || st->file_changed) {
        return;
    }
    /* The records so far are in PATH; new ones go to a new segment. */
    if (st->jfd >= 0) {
        close(st->jfd);
        st->jfd = -1;
    }
    st->covers = st->jseq++;
    st->j_records = 0;
    st->running = true;
    int error = pthread_create(&st->thread, NULL, checkpoint_main, st);
    if (error) {
        RL_WARN("cannot start a thread (%s): syncing %s in the "
                "event loop",
                ovs_strerror(error), st->path);
        checkpoint_main(st);
        st->running = false;
        finish_checkpoint(st);
    }
}

static void
finish_checkpoint(struct store *st)
{
    st->running = false;
    if (st->result) {
        st->failures++;
        RL_ERR("%s: cannot make it durable (%s); the journal keeps "
               "the changes",
               st->path, ovs_strerror(st->result));
        st->j_records++; /* Try again later. */
    } else {
        st->checkpoints++;
        st->last_ms = st->result_ms;
        delete_segments(st, st->covers);
    }
}

static void
checkpoint_timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                    int revents OVS_UNUSED)
{
    checkpoint(CONTAINER_OF(w, struct store, checkpoint_timer));
}

static void
done_cb(struct ev_loop *loop OVS_UNUSED, ev_async *w, int revents OVS_UNUSED)
{
    struct store *st = CONTAINER_OF(w, struct store, done);
    if (!st->running) {
        return;
    }
    pthread_join(st->thread, NULL);
    finish_checkpoint(st);
    if (st->j_records) {
        schedule_checkpoint(st);
    }
}

json_t *
store_to_json(const struct store *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(st->path));
    json_object_set_new(o, "journal_records", json_integer(st->j_records));
    json_object_set_new(o, "checkpoints", json_integer(st->checkpoints));
    json_object_set_new(o, "checkpoint_failures", json_integer(st->failures));
    json_object_set_new(o, "last_checkpoint_ms", json_real(st->last_ms));
    json_object_set_new(o, "file_changed", json_boolean(st->file_changed));
    return o;
}
