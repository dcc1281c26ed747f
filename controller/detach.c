/*
 * detach: fork, and let the parent wait for the child's start-up.  See
 * include/detach.h.
 */
#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's end of the pipe to the waiting parent, or -1. */
static int ready_fd = -1;

void
detach_start(void)
{
    int fds[2];

    fflush(NULL);
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "vmacd: --detach: pipe: %s\n", strerror(errno));
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "vmacd: --detach: fork: %s\n", strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        /* Parent: one byte means ready; EOF means the child died. */
        char c;
        ssize_t n;
        close(fds[1]);
        do {
            n = read(fds[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n == 1) {
            _exit(0);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            continue;
        }
        if (WIFEXITED(status)) {
            _exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
        }
        fprintf(stderr,
                "vmacd: --detach: the daemon died during start-up "
                "(signal %d)\n",
                WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        _exit(1);
    }
    close(fds[0]);
    ready_fd = fds[1];
    setsid();
}

void
detach_done(void)
{
    if (ready_fd < 0) {
        return;
    }
    ssize_t n;
    do {
        n = write(ready_fd, "", 1);
    } while (n < 0 && errno == EINTR);
    close(ready_fd);
    ready_fd = -1;

    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            close(null);
        }
    }
}
