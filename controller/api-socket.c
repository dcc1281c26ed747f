/*
 * api-socket: the api's listening sockets (unix, optional TCP).
 */
#include "api-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* Sockets. */

char *
api_open_unix(struct api *api, const struct api_options *opts, int *fdp)
{
    const char *path = opts->socket_path;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;

    if (strlen(path) >= sizeof sun.sun_path) {
        return xasprintf("socket path %s is too long", path);
    }
    strcpy(sun.sun_path, path);

    if (!lstat(path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            return xasprintf("%s exists and is not a socket", path);
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) {
            return xasprintf("socket: %s", ovs_strerror(errno));
        }
        int error
            = connect(probe, (struct sockaddr *) &sun, sizeof sun) ? errno : 0;
        close(probe);
        if (!error) {
            return xasprintf("another vmacd is running on %s", path);
        } else if (error != ECONNREFUSED && error != ENOENT) {
            return xasprintf("cannot check existing socket %s: %s", path,
                             ovs_strerror(error));
        }
        if (unlink(path) && errno != ENOENT) {
            return xasprintf("cannot remove stale socket %s: %s", path,
                             ovs_strerror(errno));
        }
        api->removed_stale = true;
    }

    gid_t gid = (gid_t) -1;
    if (opts->socket_group) {
        struct group *gr = getgrnam(opts->socket_group);
        if (!gr) {
            return xasprintf("unknown group %s", opts->socket_group);
        }
        gid = gr->gr_gid;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return xasprintf("socket: %s", ovs_strerror(errno));
    }
    mode_t old_mask = umask(0117);
    int error = bind(fd, (struct sockaddr *) &sun, sizeof sun) ? errno : 0;
    umask(old_mask);
    if (error) {
        close(fd);
        return xasprintf("cannot bind %s: %s", path, ovs_strerror(error));
    }
    if (chmod(path, 0660) || (gid != (gid_t) -1 && chown(path, -1, gid))
        || listen(fd, 64) || stat(path, &st)) {
        error = errno;
        close(fd);
        unlink(path);
        return xasprintf("cannot set up socket %s: %s", path,
                         ovs_strerror(error));
    }
    api->socket_path = xstrdup(path);
    api->socket_dev = st.st_dev;
    api->socket_ino = st.st_ino;
    *fdp = fd;
    return NULL;
}

char *
api_open_tcp(struct api *api, const struct api_options *opts, int *fdp)
{
    struct sockaddr_storage ss;
    socklen_t len;
    bool loopback;

    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    if (opts->tcp_port > 65535) {
        return xasprintf("invalid TCP port %u", opts->tcp_port);
    }
    if (inet_pton(AF_INET, opts->tcp_address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(opts->tcp_port);
        loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, opts->tcp_address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(opts->tcp_port);
        loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)
                   || (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)
                       && sin6->sin6_addr.s6_addr[12] == 127);
        len = sizeof *sin6;
    } else {
        return xasprintf("invalid TCP address %s", opts->tcp_address);
    }
    if (!loopback && !opts->allow_nonloopback && !opts->tcp_tls) {
        return xasprintf("TCP address %s is not a loopback address "
                         "(use TLS, or set allow_nonloopback to allow it)",
                         opts->tcp_address);
    }

    int fd
        = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return xasprintf("socket: %s", ovs_strerror(errno));
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (struct sockaddr *) &ss, len) || listen(fd, 64)
        || getsockname(fd, (struct sockaddr *) &ss, &len)) {
        int error = errno;
        close(fd);
        return xasprintf("cannot listen on %s port %u: %s", opts->tcp_address,
                         opts->tcp_port, ovs_strerror(error));
    }
    api->tcp_port
        = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    *fdp = fd;
    return NULL;
}
