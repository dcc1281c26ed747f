/*
 * hooks: an alias's "notify" program, run after a master change (hooks.h).
 */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(hooks);

#define N_ENV 9

struct hook_job {
    struct ovs_list node; /* In hooks' 'queue' or 'running'. */
    struct hooks *hooks;
    char *program;
    char *alias;
    unsigned int timeout_ms;
    char *env[N_ENV]; /* NULL-terminated "KEY=value" strings. */
    pid_t pid;        /* Process (group) id once started. */
    int fd;           /* Read end of the output pipe, or -1. */
    size_t logged;    /* Output bytes logged so far. */
    size_t dropped;   /* Output bytes not logged. */
    bool timed_out;
    ev_io io;
    ev_child child;
    ev_timer timer;
};

struct hooks {
    struct ev_loop *loop;
    struct ovs_list queue;   /* Waiting jobs, oldest first. */
    struct ovs_list running; /* Started jobs. */
    struct hooks_stats stats;
};

static void start_next(struct hooks *);

struct hooks *
hooks_create(struct ev_loop *loop)
{
    struct hooks *h = xzalloc(sizeof *h);
    h->loop = loop;
    ovs_list_init(&h->queue);
    ovs_list_init(&h->running);
    return h;
}

static void
job_free(struct hook_job *j)
{
    for (size_t i = 0; i < N_ENV; i++) {
        free(j->env[i]);
    }
    free(j->program);
    free(j->alias);
    free(j);
}

/* Reads what the hook wrote and logs it, one line per message, up to
 * HOOKS_MAX_LOG_BYTES a run; the rest is read and dropped. */
static bool
job_read(struct hook_job *j)
{
    char buf[1024];
    for (int round = 0; round < 16; round++) {
        ssize_t n = read(j->fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR)) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return true;
        } else if (n <= 0) {
            return false;
        }
        size_t room = (j->logged < HOOKS_MAX_LOG_BYTES
                           ? HOOKS_MAX_LOG_BYTES - j->logged
                           : 0);
        size_t take = (size_t) n < room ? (size_t) n : room;
        j->dropped += n - take;
        j->logged += take;
        char *p = buf;
        char *end = buf + take;
        while (p < end) {
            char *nl = memchr(p, '\n', end - p);
            int len = (int) ((nl ? nl : end) - p);
            if (len) {
                RL_INFO("%s: %s: %.*s", j->alias, j->program, len, p);
            }
            p += len + 1;
        }
    }
    return true;
}

static void
job_close_pipe(struct hook_job *j)
{
    if (j->fd >= 0) {
        ev_io_stop(j->hooks->loop, &j->io);
        close(j->fd);
        j->fd = -1;
    }
}

static void
on_output(struct ev_loop *loop OVS_UNUSED, ev_io *w, int revents OVS_UNUSED)
{
    struct hook_job *j = CONTAINER_OF(w, struct hook_job, io);
    if (!job_read(j)) {
        job_close_pipe(j);
    }
}

static void
on_timeout(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
           int revents OVS_UNUSED)
{
    struct hook_job *j = CONTAINER_OF(w, struct hook_job, timer);
    RL_WARN("%s: hook %s (pid %ld) still running after %u ms, killed",
            j->alias, j->program, (long) j->pid, j->timeout_ms);
    j->timed_out = true;
    j->hooks->stats.timed_out++;
    kill(-j->pid, SIGKILL);
}

static void
on_exit_cb(struct ev_loop *loop, ev_child *w, int revents OVS_UNUSED)
{
    struct hook_job *j = CONTAINER_OF(w, struct hook_job, child);
    struct hooks *h = j->hooks;
    int status = w->rstatus;

    ev_child_stop(loop, &j->child);
    ev_timer_stop(loop, &j->timer);
    /* What is left in the pipe; a process the hook left behind in its
     * group could keep it open, so it is closed now and the group
     * killed. */
    if (j->fd >= 0) {
        job_read(j);
        job_close_pipe(j);
    }
    kill(-j->pid, SIGKILL);
    if (j->dropped) {
        RL_WARN("%s: hook %s: %zu bytes of output not logged", j->alias,
                j->program, j->dropped);
    }
    if (j->timed_out) {
        /* Counted and logged already. */
    } else if (WIFEXITED(status) && !WEXITSTATUS(status)) {
        VLOG_DBG("%s: hook %s exited", j->alias, j->program);
    } else {
        h->stats.failed++;
        if (WIFEXITED(status)) {
            RL_WARN("%s: hook %s exited with status %d", j->alias, j->program,
                    WEXITSTATUS(status));
        } else {
            RL_WARN("%s: hook %s killed by signal %d", j->alias, j->program,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
    }
    ovs_list_remove(&j->node);
    h->stats.running--;
    job_free(j);
    start_next(h);
}

/* In the child, between fork and exec: async-signal-safe calls only (vmacd
 * has threads: the OVSDB client's, the store's checkpoint). */
static void OVS_NO_RETURN
child_exec(const struct hook_job *j, int out_fd, int max_fd)
{
    setpgid(0, 0);
    if (chdir("/")) {
        _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &dfl, NULL);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0
        || dup2(out_fd, 2) < 0) {
        _exit(126);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
#endif
    {
        /* Without close_range (kernels before 5.9). */
        for (int fd = 3; fd < max_fd; fd++) {
            close(fd);
        }
    }
    char *argv[] = { j->program, NULL };
    execve(j->program, argv, (char **) j->env);
    _exit(127);
}

static bool
job_start(struct hooks *h, struct hook_job *j)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        RL_WARN("%s: hook %s: pipe: %s", j->alias, j->program,
                ovs_strerror(errno));
        return false;
    }
    /* The descriptor limit, for a child without close_range (getrlimit is
     * not async-signal-safe). */
    struct rlimit rl;
    int max_fd
        = (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY
                   && rl.rlim_cur < INT_MAX
               ? (int) rl.rlim_cur
               : 65536);
    pid_t pid = fork();
    if (pid < 0) {
        RL_WARN("%s: hook %s: fork: %s", j->alias, j->program,
                ovs_strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    } else if (!pid) {
        child_exec(j, fds[1], max_fd);
    }
    /* Also in the parent, so that a kill of the group right away finds
     * it. */
    setpgid(pid, pid);
    close(fds[1]);
    j->pid = pid;
    j->fd = fds[0];
    fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
    ev_io_init(&j->io, on_output, j->fd, EV_READ);
    ev_io_start(h->loop, &j->io);
    ev_child_init(&j->child, on_exit_cb, pid, 0);
    ev_child_start(h->loop, &j->child);
    ev_timer_init(&j->timer, on_timeout, j->timeout_ms / 1000.0, 0.);
    ev_timer_start(h->loop, &j->timer);
    h->stats.started++;
    h->stats.running++;
    ovs_list_push_back(&h->running, &j->node);
    VLOG_INFO("%s: hook %s started (pid %ld)", j->alias, j->program,
              (long) pid);
    return true;
}

static void
start_next(struct hooks *h)
{
    while (h->stats.running < HOOKS_MAX_RUNNING
           && !ovs_list_is_empty(&h->queue)) {
        struct hook_job *j = CONTAINER_OF(ovs_list_pop_front(&h->queue),
                                          struct hook_job, node);
        h->stats.queued--;
        if (!job_start(h, j)) {
            h->stats.failed++;
            job_free(j);
        }
    }
}

void
hooks_run(struct hooks *h, const struct cfg_notify *nt,
          const struct hooks_event *ev)
{
    if (!h || !nt || !nt->program) {
        return;
    }
    if (h->stats.queued >= HOOKS_MAX_QUEUED) {
        h->stats.dropped++;
        RL_WARN("%s: hook %s not run: %d hooks running and %d waiting "
                "(%llu dropped so far)",
                ev->alias, nt->program, HOOKS_MAX_RUNNING, HOOKS_MAX_QUEUED,
                (unsigned long long) h->stats.dropped);
        return;
    }
    struct hook_job *j = xzalloc(sizeof *j);
    j->hooks = h;
    j->program = xstrdup(nt->program);
    j->alias = xstrdup(ev->alias ? ev->alias : "");
    j->timeout_ms = nt->timeout_ms ? nt->timeout_ms : 1;
    j->fd = -1;
    size_t n = 0;
    j->env[n++] = xasprintf("VMACD_ALIAS=%s", j->alias);
    j->env[n++] = xasprintf("VMACD_OLD_MASTER=%s",
                            ev->old_master ? ev->old_master : "");
    j->env[n++] = xasprintf("VMACD_NEW_MASTER=%s",
                            ev->new_master ? ev->new_master : "");
    j->env[n++] = xasprintf("VMACD_REASON=%s", ev->reason ? ev->reason : "");
    j->env[n++] = xasprintf("VMACD_EVENT_TIME=%.6f", ev->event_time);
    j->env[n++] = xasprintf("VMACD_APPLIED_MS=%lld", ev->applied_ms);
    j->env[n++] = xasprintf("VMACD_BRIDGE=%s", ev->bridge ? ev->bridge : "");
    j->env[n++] = xstrdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
    ovs_assert(n < N_ENV);
    ovs_list_push_back(&h->queue, &j->node);
    h->stats.queued++;
    start_next(h);
}

void
hooks_get_stats(const struct hooks *h, struct hooks_stats *stats)
{
    *stats = h ? h->stats : (struct hooks_stats){ 0 };
}

void
hooks_destroy(struct hooks *h)
{
    if (!h) {
        return;
    }
    struct hook_job *j;
    LIST_FOR_EACH_POP (j, node, &h->queue) {
        job_free(j);
    }
    LIST_FOR_EACH_POP (j, node, &h->running) {
        kill(-j->pid, SIGKILL);
        for (int i = 0; i < 100; i++) {
            if (waitpid(j->pid, NULL, 0) >= 0 || errno != EINTR) {
                break;
            }
        }
        ev_child_stop(h->loop, &j->child);
        ev_timer_stop(h->loop, &j->timer);
        job_close_pipe(j);
        job_free(j);
    }
    free(h);
}
