/*
 * pidfile: the daemon's PID in a locked file.  See include/pidfile.h.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct pidfile {
    char *path;
    int fd; /* Open while we run: it holds the lock. */
    dev_t dev;
    ino_t ino;
};

/* Reads the PID stored in 'fd', or 0. */
static long
pidfile_read(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

struct pidfile *
pidfile_create(const char *path, char **errp)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *errp = xasprintf("%s: cannot open pidfile (%s)", path,
                          ovs_strerror(errno));
        return NULL;
    }

    struct flock lck = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
    };
    if (fcntl(fd, F_SETLK, &lck) < 0) {
        int error = errno;
        if (error == EAGAIN || error == EACCES) {
            struct flock holder = lck;
            long pid
                = (fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK
                       ? (long) holder.l_pid
                       : pidfile_read(fd));
            *errp = xasprintf("%s: already running as PID %ld", path, pid);
        } else {
            *errp = xasprintf("%s: cannot lock pidfile (%s)", path,
                              ovs_strerror(error));
        }
        close(fd);
        return NULL;
    }

    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long) getpid());
    struct stat st;
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, len, 0) != len
        || fstat(fd, &st) < 0) {
        *errp = xasprintf("%s: cannot write pidfile (%s)", path,
                          ovs_strerror(errno));
        unlink(path);
        close(fd);
        return NULL;
    }

    struct pidfile *pf = xmalloc(sizeof *pf);
    pf->path = xstrdup(path);
    pf->fd = fd;
    pf->dev = st.st_dev;
    pf->ino = st.st_ino;
    *errp = NULL;
    return pf;
}

void
pidfile_destroy(struct pidfile *pf)
{
    if (!pf) {
        return;
    }
    struct stat st;
    if (!stat(pf->path, &st) && st.st_dev == pf->dev && st.st_ino == pf->ino) {
        unlink(pf->path);
    }
    close(pf->fd);
    free(pf->path);
    free(pf);
}
