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

#include "socket-util.h"
#include "util.h"
#include "verror.h"

int
persist_write_all(int fd, const char *data, size_t len)
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

int
persist_write_with(const char *path, int (*writer)(FILE *, void *),
                   void *aux, struct verror *e)
{
    char *dir = dir_name(path);
    char *base = base_name(path);
    char *tmp = xasprintf("%s/.%s.tmpXXXXXX", dir, base);
    int error = 0;
    int fd = mkstemp(tmp);

    if (fd < 0) {
        error = errno;
        verror_set(e, error, VERR_IO, NULL,
                   "%s: cannot create temporary file in %s: %s", path, dir,
                   ovs_strerror(error));
        goto out;
    }

    struct stat st;
    mode_t mode = !stat(path, &st) ? st.st_mode & 07777 : 0644;
    FILE *f = fdopen(fd, "w");
    error = !f ? errno : fchmod(fd, mode) ? errno : 0;
    if (!error) {
        error = writer(f, aux);
    }
    if (!error && fflush(f)) {
        error = errno;
    }
    if (!error && fsync(fd)) {
        error = errno;
    }
    if ((f ? fclose(f) : close(fd)) && !error) {
        error = errno;
    }
    if (!error && rename(tmp, path)) {
        error = errno;
    }
    if (error) {
        verror_set(e, error, VERR_IO, NULL, "%s: cannot write: %s", path,
                   ovs_strerror(error));
        unlink(tmp);
        goto out;
    }

    /* Make the rename itself durable. */
    error = fsync_parent_dir(path);
    if (error) {
        verror_set(e, error, VERR_IO, NULL,
                   "%s: written, but cannot sync directory %s: %s", path, dir,
                   ovs_strerror(error));
    }

out:
    free(tmp);
    free(base);
    free(dir);
    return error;
}

struct buffer {
    const char *data;
    size_t len;
};

static int
write_buffer(FILE *f, void *b_)
{
    const struct buffer *b = b_;
    return (b->len && fwrite(b->data, b->len, 1, f) != 1 ? (errno ? errno : EIO)
                                                       : 0);
}

int
persist_write(const char *path, const char *data, size_t len,
              struct verror *e)
{
    struct buffer b = { data, len };
    return persist_write_with(path, write_buffer, &b, e);
}

int
persist_write_json(const char *path, const json_t *json, struct verror *e)
{
    char *text = json_dumps(json, JSON_INDENT(2));
    if (!text) {
        return verror_set(e, ENOMEM, VERR_IO, NULL, "%s: cannot encode JSON",
                          path);
    }
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';

    int error = persist_write(path, text, len, e);
    free(text);
    return error;
}
