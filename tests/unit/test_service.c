/* Unit tests of the service helpers: pidfile (the PID in a locked file),
 * statedump (the SIGUSR1 dump written to a file) and logctl (log levels
 * set all or none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "logctl.h"
#include "openvswitch/vlog.h"
#include "pidfile.h"
#include "statedump.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(test_service);

static char *
make_dir(void)
{
    char *dir = xstrdup("/tmp/test_service_XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static long
read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = -1;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return pid;
}

static const char *argv0;

/* "test_service --lock-child PATH PID": 0 if pidfile_create(PATH)
 * succeeds, 1 if it says "already running as PID <PID>", 2 otherwise. */
static int
lock_child(const char *path, const char *parent)
{
    char *error;
    struct pidfile *pf = pidfile_create(path, &error);
    if (pf) {
        pidfile_destroy(pf);
        return 0;
    }
    char *expected = xasprintf("already running as PID %s", parent);
    int status = strstr(error, expected) ? 1 : 2;
    free(expected);
    free(error);
    return status;
}

/* Runs lock_child() in another process (fcntl locks do not conflict within
 * one), a fresh one (exec), so that it inherits nothing to leak. */
static int
create_in_child(const char *path)
{
    char parent[32];
    snprintf(parent, sizeof parent, "%ld", (long) getpid());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        execl(argv0, argv0, "--lock-child", path, parent, (char *) NULL);
        _exit(3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void
test_pidfile(void **state OVS_UNUSED)
{
    char *dir = make_dir();
    char *path = xasprintf("%s/vmacd.pid", dir);
    char *error = (char *) 1;

    struct pidfile *pf = pidfile_create(path, &error);
    assert_non_null(pf);
    assert_null(error);
    /* Held: another process is refused and names us.  (Checked before
     * read_pid(): closing any descriptor of the file drops our lock, as
     * POSIX locks go; the daemon never opens its pidfile twice.) */
    assert_int_equal(create_in_child(path), 1);
    assert_int_equal(create_in_child(path), 1);
    assert_int_equal(read_pid(path), getpid());
    pidfile_destroy(pf);
    assert_int_equal(access(path, F_OK), -1);

    /* A stale file (nobody holds its lock) is taken over. */
    FILE *f = fopen(path, "w");
    fputs("999999\n", f);
    fclose(f);
    assert_int_equal(create_in_child(path), 0);

    /* A file another process replaced is not ours to remove. */
    pf = pidfile_create(path, &error);
    assert_non_null(pf);
    assert_int_equal(unlink(path), 0);
    f = fopen(path, "w");
    fputs("1\n", f);
    fclose(f);
    pidfile_destroy(pf);
    assert_int_equal(read_pid(path), 1);
    unlink(path);

    /* No such directory: an error naming the file. */
    char *bad = xasprintf("%s/none/vmacd.pid", dir);
    assert_null(pidfile_create(bad, &error));
    assert_non_null(strstr(error, bad));
    free(error);
    free(bad);
    pidfile_destroy(NULL);

    rmdir(dir);
    free(path);
    free(dir);
}

static void
test_statedump_file(void **state OVS_UNUSED)
{
    char *dir = make_dir();
    char *path = xasprintf("%s/state.json", dir);
    json_t *dump = json_pack("{s:{s:s}, s:[{s:s, s:s}], s:[]}", "status",
                             "version", "0.0", "aliases", "name", "web",
                             "master", "m1", "bridges");

    assert_null(statedump_write_file(dump, path));
    json_error_t jerr;
    json_t *back = json_load_file(path, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(back, dump));
    json_decref(back);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    /* Replaced, not rewritten in place. */
    ino_t ino = st.st_ino;
    json_object_set_new(dump, "bridges", json_pack("[{s:s}]", "name", "b"));
    assert_null(statedump_write_file(dump, path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_not_equal(st.st_ino, ino);
    back = json_load_file(path, 0, &jerr);
    assert_true(json_equal(back, dump));
    json_decref(back);

    /* No such directory: an error, nothing written. */
    char *bad = xasprintf("%s/none/state.json", dir);
    char *error = statedump_write_file(dump, bad);
    assert_non_null(error);
    assert_non_null(strstr(error, "cannot create"));
    free(error);
    free(bad);

    statedump_log(dump); /* Logs; must not crash on any shape. */
    json_t *odd = json_pack("{s:[i], s:i}", "aliases", 1, "bridges", 2);
    statedump_log(odd);
    json_decref(odd);

    json_decref(dump);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

static const char *
level_of(const char *module, const char *dest)
{
    static char level[16];
    json_t *levels = logctl_levels_json();
    const char *l = json_string_value(json_object_get(
        json_object_get(json_object_get(levels, "modules"), module), dest));
    snprintf(level, sizeof level, "%s", l ? l : "(none)");
    json_decref(levels);
    return level;
}

static void
test_logctl_all_or_none(void **state OVS_UNUSED)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_INFO);
    assert_string_equal(level_of("test_service", "console"), "info");

    /* The second spec is bad: the first is not applied either. */
    json_t *specs = json_pack("[s, s]", "test_service:dbg", "nosuch:warn");
    char *error = logctl_set(specs);
    assert_non_null(error);
    assert_non_null(strstr(error, "set[1]"));
    free(error);
    json_decref(specs);
    assert_string_equal(level_of("test_service", "console"), "info");

    /* A wildcard that failed later is undone too. */
    specs = json_pack("[s, s]", "any:emer", "test_service:loud");
    error = logctl_set(specs);
    assert_non_null(error);
    free(error);
    json_decref(specs);
    assert_string_equal(level_of("test_service", "syslog"), "info");
    assert_string_equal(level_of("logctl", "file"), "info");

    /* Patterns and the facility are refused. */
    specs = json_pack("[s]", "pattern:console:%m");
    error = logctl_set(specs);
    assert_non_null(error);
    assert_non_null(strstr(error, "only levels"));
    free(error);
    json_decref(specs);

    /* Good specs apply. */
    specs = json_pack("[s, s]", "test_service:console:dbg", "syslog:warn");
    assert_null(logctl_set(specs));
    json_decref(specs);
    assert_string_equal(level_of("test_service", "console"), "dbg");
    assert_string_equal(level_of("test_service", "syslog"), "warn");
    assert_string_equal(level_of("test_service", "file"), "info");

    /* Not an array, empty, not strings. */
    json_t *bad[] = {
        json_string("x"),
        json_array(),
        json_pack("[i]", 1),
        json_pack("[s]", ""),
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        error = logctl_set(bad[i]);
        assert_non_null(error);
        free(error);
        json_decref(bad[i]);
    }
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
}

int
main(int argc, char *argv[])
{
    if (argc == 4 && !strcmp(argv[1], "--lock-child")) {
        return lock_child(argv[2], argv[3]);
    }
    argv0 = argv[0];
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pidfile),
        cmocka_unit_test(test_statedump_file),
        cmocka_unit_test(test_logctl_all_or_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
