/*
 * statedump: the state dump to a file or the log.  See include/statedump.h.
 */
#include "statedump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(statedump);

char *
statedump_write_file(const json_t *dump, const char *path)
{
    char *tmp = xasprintf("%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        char *error
            = xasprintf("%s: cannot create (%s)", tmp, ovs_strerror(errno));
        free(tmp);
        return error;
    }

    char *error = NULL;
    if (fchmod(fd, 0640) < 0) {
        error = xasprintf("%s: chmod: %s", tmp, ovs_strerror(errno));
    } else if (json_dumpfd(dump, fd, JSON_INDENT(2))) {
        error = xasprintf("%s: write failed (%s)", tmp, ovs_strerror(errno));
    } else if (write(fd, "\n", 1) != 1) {
        error = xasprintf("%s: write failed (%s)", tmp, ovs_strerror(errno));
    }
    if (close(fd) < 0 && !error) {
        error = xasprintf("%s: close: %s", tmp, ovs_strerror(errno));
    }
    if (!error && rename(tmp, path) < 0) {
        error
            = xasprintf("rename %s to %s: %s", tmp, path, ovs_strerror(errno));
    }
    if (error) {
        unlink(tmp);
    }
    free(tmp);
    return error;
}

/* Logs one part: "state dump: WHAT {...}". */
static void
statedump_log_part(const char *what, const json_t *part)
{
    char *text = json_dumps(part, JSON_COMPACT);
    VLOG_INFO("state dump: %s %s", what, text ? text : "?");
    free(text);
}

void
statedump_log(const json_t *dump)
{
    const json_t *aliases = json_object_get(dump, "aliases");
    const json_t *bridges = json_object_get(dump, "bridges");
    size_t i;
    const json_t *v;

    VLOG_INFO("state dump begins");
    statedump_log_part("status", json_object_get(dump, "status"));
    json_array_foreach (aliases, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        char *what = xasprintf("alias %s", name ? name : "?");
        statedump_log_part(what, v);
        free(what);
    }
    json_array_foreach (bridges, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        char *what = xasprintf("bridge %s", name ? name : "?");
        statedump_log_part(what, v);
        free(what);
    }
    const json_t *hooks = json_object_get(dump, "hooks");
    if (hooks) {
        statedump_log_part("hooks", hooks);
    }
    VLOG_INFO("state dump ends (%zu aliases, %zu bridges)",
              json_array_size(aliases), json_array_size(bridges));
}
