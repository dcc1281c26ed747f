/*
 * persist: atomic file replacement (see persist.h).
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Writes all of 'data' to 'fd'.  Returns 0 or an errno value. */
static int
write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        data += n;
        len -= n;
    }
    return 0;
}

/* Splits 'path' into a malloc'd directory ("." if none) and a pointer to
 * the base name inside 'path'. */
static char *
split_dir(const char *path, const char **basep)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        *basep = path;
        return xstrdup(".");
    }
    *basep = slash + 1;
    return slash == path ? xstrdup("/") : xmemdup0(path, slash - path);
}

char *
persist_write(const char *path, const char *data, size_t len)
{
    const char *base;
    char *dir = split_dir(path, &base);
    char *tmp = xasprintf("%s/.%s.tmpXXXXXX", dir, base);
    char *error = NULL;
    int dfd = -1;
    int fd = mkstemp(tmp);

    if (fd < 0) {
        error = xasprintf("%s: cannot create temporary file in %s: %s", path,
                          dir, ovs_strerror(errno));
        goto out;
    }

    struct stat st;
    mode_t mode = !stat(path, &st) ? st.st_mode & 07777 : 0644;
    int err = fchmod(fd, mode) ? errno : 0;
    if (!err) {
        err = write_all(fd, data, len);
    }
    if (!err && fsync(fd)) {
        err = errno;
    }
    if (close(fd) && !err) {
        err = errno;
    }
    if (!err && rename(tmp, path)) {
        err = errno;
    }
    if (err) {
        error = xasprintf("%s: cannot write: %s", path, ovs_strerror(err));
        unlink(tmp);
        goto out;
    }

    /* Make the rename itself durable. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd)) {
        error = xasprintf("%s: written, but cannot sync directory %s: %s",
                          path, dir, ovs_strerror(errno));
    }
    if (dfd >= 0) {
        close(dfd);
    }

out:
    free(tmp);
    free(dir);
    return error;
}

char *
persist_write_json(const char *path, const json_t *json)
{
    char *text = json_dumps(json, JSON_INDENT(2));
    if (!text) {
        return xasprintf("%s: cannot encode JSON", path);
    }
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';

    char *error = persist_write(path, text, len);
    free(text);
    return error;
}
