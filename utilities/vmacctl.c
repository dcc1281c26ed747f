/*
 * vmacctl: command-line client for vmacd's HTTP/JSON API over its unix
 * socket (libcurl).
 *
 * This file: the options, the usage texts and the commands.  The API client
 * is in vmacctl-http.c, the rendering of replies as text in
 * vmacctl-table.c.
 *
 * Exit codes: 0 ok, 1 the API answered with an error, 2 usage error,
 * 3 cannot connect (or the connection failed).
 */
#include "vmacctl-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/vmacd/vmacd.sock"

const char *vmacctl_socket_path;
const char *vmacctl_if_match;
bool vmacctl_json_output;
long vmacctl_timeout_ms = VMACCTL_DEFAULT_TIMEOUT_S * 1000;

/* Usage texts. */

static const char usage_main[]
    = "usage: vmacctl [OPTIONS] COMMAND [ARG...]\n"
      "\n"
      "Commands:\n"
      "  status                 daemon version, uptime, bridges, counts\n"
      "  bridge list            list bridges\n"
      "  bridge show NAME       one bridge with its ports\n"
      "  alias list             list aliases with their masters\n"
      "  alias show NAME        one alias with its members\n"
      "  alias add -f FILE      create an alias from JSON (FILE or - for "
      "stdin)\n"
      "  alias set NAME -f FILE replace an alias\n"
      "  alias remove NAME      delete an alias\n"
      "  member add ALIAS NAME --bridge B --port P [--mac M] [--ip IP]\n"
      "             [--priority N]   add (or replace) a member\n"
      "  member remove|drain|undrain ALIAS NAME\n"
      "  move ALIAS [MEMBER]    make MEMBER (default: best other) master\n"
      "  announce ALIAS         send GARP/NA for ALIAS now\n"
      "  flows BRIDGE           flows and groups vmacd installed on BRIDGE\n"
      "  events [--follow]      recent events; --follow keeps streaming\n"
      "  log list               log levels of every module\n"
      "  log set SPEC...        set log levels, e.g. engine:dbg\n"
      "  raw METHOD PATH [BODY] send any request, print the JSON reply\n"
      "\n"
      "Options (anywhere on the line):\n"
      "  --socket PATH  API socket (default: $VMACD_SOCKET, "
      "else " DEFAULT_SOCKET ")\n"
      "  --json         print the API's JSON instead of tables\n"
      "  --if-match ETAG  writes: only if the alias's ETag still matches\n"
      "  -t, --timeout SECS  give up after SECS seconds (default 5; 0: wait\n"
      "                 forever; writes: 5 s more, the daemon's own wait\n"
      "                 for the switches; events --follow: to connect)\n"
      "  -h, --help     this help; COMMAND --help for a command's help\n"
      "  -V, --version  vmacctl's version\n"
      "\n"
      "Writes return once the switches applied the change; a change still\n"
      "pending for a disconnected bridge is reported on stderr.\n"
      "\n"
      "Exit codes: 0 ok, 1 API error, 2 usage error, 3 cannot connect (or\n"
      "no reply within the timeout).\n";

static const char usage_status[]
    = "usage: vmacctl status\n"
      "Shows the daemon's version, uptime, bridges and object counts.\n";
static const char usage_bridge[]
    = "usage: vmacctl bridge list\n"
      "       vmacctl bridge show NAME\n"
      "Lists the bridges connected to vmacd, or shows one with its ports.\n";
static const char usage_alias[]
    = "usage: vmacctl alias list\n"
      "       vmacctl alias show NAME\n"
      "       vmacctl alias add -f FILE\n"
      "       vmacctl alias set NAME -f FILE\n"
      "       vmacctl alias remove NAME\n"
      "Lists the aliases, shows one with its members and their states,\n"
      "creates one from a JSON alias object (FILE, or - for stdin), replaces\n"
      "one (the state fields of \"alias show --json\" output are ignored,\n"
      "so it can be edited and fed back) or deletes one.\n";
static const char usage_member[]
    = "usage: vmacctl member add ALIAS NAME --bridge BRIDGE --port PORT\n"
      "                          [--mac MAC] [--ip IP] [--priority N]\n"
      "       vmacctl member remove ALIAS NAME\n"
      "       vmacctl member drain ALIAS NAME\n"
      "       vmacctl member undrain ALIAS NAME\n"
      "Adds (or replaces) a member of ALIAS, removes it, or drains it (a\n"
      "drained member is never elected master; persisted) and undrains it.\n";
static const char usage_move[]
    = "usage: vmacctl move ALIAS [MEMBER]\n"
      "Makes MEMBER (default: the best eligible member other than the\n"
      "current master) the master of ALIAS.  It stays master until it fails\n"
      "(preemption is suspended); not persisted.\n";
static const char usage_announce[]
    = "usage: vmacctl announce ALIAS\n"
      "Sends gratuitous ARP / unsolicited NA for ALIAS out of the uplinks.\n";
static const char usage_flows[]
    = "usage: vmacctl flows BRIDGE\n"
      "Prints the flows and groups vmacd installed on BRIDGE (ovs-ofctl "
      "syntax).\n";
static const char usage_events[]
    = "usage: vmacctl events [--follow]\n"
      "Prints recent events; with --follow (-f), keeps printing new events\n"
      "until interrupted.\n";
static const char usage_log[]
    = "usage: vmacctl log list\n"
      "       vmacctl log set SPEC...\n"
      "Lists every log module's level per destination (console, syslog,\n"
      "file), or sets levels at run time, as \"ovs-appctl vlog/set\" does.\n"
      "SPEC is MODULE, DESTINATION and LEVEL, in any order, separated by\n"
      "':'; a missing module or destination means all, a missing level\n"
      "dbg: \"engine:dbg\", \"syslog:warn\", \"api:console:info\".\n"
      "Levels: off, emer, err, warn, info, dbg.  All SPECs apply, or none.\n";
static const char usage_raw[]
    = "usage: vmacctl raw METHOD PATH [BODY]\n"
      "Sends METHOD PATH (e.g. GET /v1) with the optional JSON BODY and\n"
      "prints the reply.\n";

static int usage_error(const char *usage, const char *fmt, ...)
    OVS_PRINTF_FORMAT(2, 3);
static int alias_add(int argc, char *argv[]);
static int alias_set(const char *name, int argc, char *argv[]);
static int alias_remove(const char *name);

static int
usage_error(const char *usage, const char *fmt, ...)
{
    va_list args;

    fputs("vmacctl: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputs("\n", stderr);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

static bool
wants_help(int argc, char *argv[])
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return true;
        }
    }
    return false;
}

/* Names go into URL paths: same rule as the API's path parameters. */
static bool
valid_name(const char *s)
{
    size_t len = strlen(s);

    if (!len || len > 63 || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-")
           == len;
}

static const char *const bridge_header[] = {
    "NAME", "DATAPATH_ID", "CONNECTED", "OPENFLOW", "PORTS", "ALIASES",
};

static void
bridge_row(struct vmacctl_table *t, const json_t *b)
{
    vmacctl_table_add(t, vmacctl_value_str(b, "name"));
    vmacctl_table_add(t, vmacctl_value_str(b, "datapath_id"));
    vmacctl_table_add(t, vmacctl_value_str(b, "connected"));
    vmacctl_table_add(t, vmacctl_value_str(b, "openflow_version"));
    const json_t *ports = json_object_get(b, "ports");
    vmacctl_table_add(t, json_is_array(ports)
                             ? xasprintf("%zu", json_array_size(ports))
                             : xstrdup("-"));
    vmacctl_table_add(t, vmacctl_value_str(b, "aliases"));
}

/* Commands. */

static int
cmd_status(int argc, char *argv[] OVS_UNUSED)
{
    json_t *j;
    int ret;

    if (argc) {
        return usage_error(usage_status, "status takes no arguments");
    }
    ret = vmacctl_get("/v1/status", &j);
    if (ret || !j) {
        return ret;
    }
    char *version = vmacctl_value_str(j, "version");
    const json_t *uptime = json_object_get(j, "uptime_s");
    if (json_is_number(uptime)) {
        printf("vmacd %s, up %.0f s\n", version, json_number_value(uptime));
    } else {
        printf("vmacd %s\n", version);
    }
    free(version);

    const json_t *counts = json_object_get(j, "counts");
    const char *key;
    json_t *v;
    if (json_is_object(counts)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        json_object_foreach ((json_t *) counts, key, v) {
            ds_put_format(&s, "%s%s: ", s.length ? ", " : "", key);
            vmacctl_put_value(&s, v);
        }
        printf("%s\n", ds_cstr(&s));
        ds_destroy(&s);
    }

    const json_t *bridges = json_object_get(j, "bridges");
    if (json_array_size(bridges)) {
        static const char *const header[] = {
            "BRIDGE",
            "DATAPATH_ID",
            "CONNECTED",
        };
        struct vmacctl_table t;
        size_t i;
        json_t *b;
        printf("\n");
        vmacctl_table_init(&t, header, ARRAY_SIZE(header));
        json_array_foreach (bridges, i, b) {
            vmacctl_table_add(&t, vmacctl_value_str(b, "name"));
            vmacctl_table_add(&t, vmacctl_value_str(b, "datapath_id"));
            vmacctl_table_add(&t, vmacctl_value_str(b, "connected"));
        }
        vmacctl_table_print(&t);
    }
    json_decref(j);
    return EXIT_OK;
}

static int
bridge_list(void)
{
    json_t *j;
    int ret = vmacctl_get("/v1/bridges", &j);
    if (ret || !j) {
        return ret;
    }
    struct vmacctl_table t;
    size_t i;
    json_t *b;
    vmacctl_table_init(&t, bridge_header, ARRAY_SIZE(bridge_header));
    json_array_foreach (json_object_get(j, "bridges"), i, b) {
        bridge_row(&t, b);
    }
    vmacctl_table_print(&t);
    json_decref(j);
    return EXIT_OK;
}

static int
bridge_show(const char *name)
{
    char *path = xasprintf("/v1/bridges/%s", name);
    json_t *b;
    int ret = vmacctl_get(path, &b);
    free(path);
    if (ret || !b) {
        return ret;
    }
    vmacctl_print_field(b, "name", "name:");
    vmacctl_print_field(b, "datapath_id", "datapath_id:");
    vmacctl_print_field(b, "connected", "connected:");
    vmacctl_print_field(b, "openflow_version", "openflow_version:");
    vmacctl_print_field(b, "aliases", "aliases:");

    static const char *const header[] = {
        "PORT", "NUMBER", "MAC", "LINK", "ADMIN", "UPLINK",
    };
    struct vmacctl_table t;
    size_t i;
    json_t *p;
    printf("\n");
    vmacctl_table_init(&t, header, ARRAY_SIZE(header));
    json_array_foreach (json_object_get(b, "ports"), i, p) {
        const json_t *ld = json_object_get(p, "link_down");
        const json_t *ad = json_object_get(p, "admin_down");
        vmacctl_table_add(&t, vmacctl_value_str(p, "name"));
        vmacctl_table_add(&t, vmacctl_value_str(p, "number"));
        vmacctl_table_add(&t, vmacctl_value_str(p, "mac"));
        vmacctl_table_add(&t, xstrdup(!json_is_boolean(ld) ? "-"
                                      : json_is_true(ld)   ? "down"
                                                           : "up"));
        vmacctl_table_add(&t, xstrdup(!json_is_boolean(ad) ? "-"
                                      : json_is_true(ad)   ? "down"
                                                           : "up"));
        vmacctl_table_add(&t, vmacctl_value_str(p, "uplink"));
    }
    vmacctl_table_print(&t);
    json_decref(b);
    return EXIT_OK;
}

static int
cmd_bridge(int argc, char *argv[])
{
    if (argc == 1 && !strcmp(argv[0], "list")) {
        return bridge_list();
    } else if (argc == 2 && !strcmp(argv[0], "show")) {
        if (!valid_name(argv[1])) {
            return usage_error(usage_bridge, "invalid bridge name \"%s\"",
                               argv[1]);
        }
        return bridge_show(argv[1]);
    }
    return usage_error(usage_bridge,
                       argc ? "bad bridge command" : "missing bridge command");
}

/* "2 up / 3" for an alias's members. */
static char *
members_summary(const json_t *alias)
{
    const json_t *members = json_object_get(alias, "members");
    size_t n_up = 0;
    size_t i;
    json_t *m;

    json_array_foreach (members, i, m) {
        const char *state = json_string_value(json_object_get(m, "state"));
        n_up += state && !strcmp(state, "up");
    }
    return xasprintf("%zu up / %zu", n_up, json_array_size(members));
}

static int
alias_list(void)
{
    json_t *j;
    int ret = vmacctl_get("/v1/aliases", &j);
    if (ret || !j) {
        return ret;
    }
    static const char *const header[] = {
        "NAME", "ADDRESSES", "VMAC", "MASTER", "MEMBERS",
    };
    struct vmacctl_table t;
    size_t i;
    json_t *a;
    vmacctl_table_init(&t, header, ARRAY_SIZE(header));
    json_array_foreach (json_object_get(j, "aliases"), i, a) {
        vmacctl_table_add(&t, vmacctl_value_str(a, "name"));
        vmacctl_table_add(&t, vmacctl_value_str(a, "addresses"));
        vmacctl_table_add(&t, vmacctl_value_str(a, "vmac"));
        vmacctl_table_add(&t, vmacctl_value_str(a, "master"));
        vmacctl_table_add(&t, members_summary(a));
    }
    vmacctl_table_print(&t);
    json_decref(j);
    return EXIT_OK;
}

static int
alias_show(const char *name)
{
    char *path = xasprintf("/v1/aliases/%s", name);
    json_t *a;
    int ret = vmacctl_get(path, &a);
    free(path);
    if (ret || !a) {
        return ret;
    }
    vmacctl_print_field(a, "name", "name:");
    vmacctl_print_field(a, "addresses", "addresses:");
    vmacctl_print_field(a, "vmac", "vmac:");
    vmacctl_print_field(a, "master", "master:");
    vmacctl_print_field(a, "preempt", "preempt:");
    vmacctl_print_field(a, "preempt_delay_ms", "preempt_delay_ms:");
    vmacctl_print_field(a, "announce", "announce:");
    vmacctl_print_field(a, "probe", "probe:");

    static const char *const header[] = {
        "MEMBER", "BRIDGE", "PORT", "MAC", "IP", "PRIORITY", "STATE", "MASTER",
    };
    struct vmacctl_table t;
    size_t i;
    json_t *m;
    printf("\n");
    vmacctl_table_init(&t, header, ARRAY_SIZE(header));
    json_array_foreach (json_object_get(a, "members"), i, m) {
        vmacctl_table_add(&t, vmacctl_value_str(m, "name"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "bridge"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "port"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "mac"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "ip"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "priority"));
        vmacctl_table_add(&t, vmacctl_value_str(m, "state"));
        vmacctl_table_add(&t, json_is_true(json_object_get(m, "master"))
                                  ? xstrdup("*")
                                  : xstrdup(""));
    }
    vmacctl_table_print(&t);
    json_decref(a);
    return EXIT_OK;
}

static int
cmd_alias(int argc, char *argv[])
{
    if (argc == 1 && !strcmp(argv[0], "list")) {
        return alias_list();
    } else if (argc == 2 && !strcmp(argv[0], "show")) {
        if (!valid_name(argv[1])) {
            return usage_error(usage_alias, "invalid alias name \"%s\"",
                               argv[1]);
        }
        return alias_show(argv[1]);
    } else if (argc >= 1 && !strcmp(argv[0], "add")) {
        return alias_add(argc - 1, argv + 1);
    } else if (argc >= 2
               && (!strcmp(argv[0], "set") || !strcmp(argv[0], "remove"))) {
        if (!valid_name(argv[1])) {
            return usage_error(usage_alias, "invalid alias name \"%s\"",
                               argv[1]);
        }
        if (!strcmp(argv[0], "set")) {
            return alias_set(argv[1], argc - 2, argv + 2);
        } else if (argc == 2) {
            return alias_remove(argv[1]);
        }
        return usage_error(usage_alias, "alias remove takes one NAME");
    }
    return usage_error(usage_alias,
                       argc ? "bad alias command" : "missing alias command");
}

static int
cmd_flows(int argc, char *argv[])
{
    if (argc != 1) {
        return usage_error(usage_flows, "flows takes one BRIDGE");
    } else if (!valid_name(argv[0])) {
        return usage_error(usage_flows, "invalid bridge name \"%s\"", argv[0]);
    }
    char *path = xasprintf("/v1/bridges/%s/flows", argv[0]);
    json_t *j;
    int ret = vmacctl_get(path, &j);
    free(path);
    if (ret || !j) {
        return ret;
    }
    static const char *const lists[] = { "flows", "groups" };
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
        const json_t *list = json_object_get(j, lists[k]);
        size_t i;
        json_t *line;
        if (k) {
            printf("\n");
        }
        printf("%s (%zu):\n", lists[k], json_array_size(list));
        json_array_foreach (list, i, line) {
            printf(" %s\n",
                   json_is_string(line) ? json_string_value(line) : "?");
        }
    }
    json_decref(j);
    return EXIT_OK;
}

/* One event: "SEQ TIME TYPE key=value ...". */
static void
print_event(const char *line)
{
    if (vmacctl_json_output) {
        printf("%s\n", line);
        return;
    }
    json_t *e = json_loads(line, 0, NULL);
    if (!json_is_object(e)) {
        printf("%s\n", line);
        json_decref(e);
        return;
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    const json_t *seq = json_object_get(e, "seq");
    const json_t *time = json_object_get(e, "time");
    if (json_is_integer(seq)) {
        ds_put_format(&s, "%6lld ", (long long) json_integer_value(seq));
    }
    if (json_is_number(time)) {
        time_t t = json_number_value(time);
        struct tm tm;
        char buf[32];
        localtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
        ds_put_format(&s, "%s.%03d ", buf,
                      (int) ((json_number_value(time) - t) * 1000));
    }
    char *type = vmacctl_value_str(e, "type");
    ds_put_cstr(&s, type);
    free(type);
    const char *key;
    json_t *v;
    json_object_foreach (e, key, v) {
        if (strcmp(key, "seq") && strcmp(key, "time") && strcmp(key, "type")) {
            ds_put_format(&s, " %s=", key);
            vmacctl_put_value(&s, v);
        }
    }
    printf("%s\n", ds_cstr(&s));
    ds_destroy(&s);
    json_decref(e);
}

static int
cmd_events(int argc, char *argv[])
{
    bool follow = false;

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = true;
        } else {
            return usage_error(usage_events, "unknown argument \"%s\"",
                               argv[i]);
        }
    }
    json_t *j;
    int ret = vmacctl_call_api(
        "GET", follow ? "/v1/events?history=true" : "/v1/events?follow=false",
        NULL, print_event, &j);
    json_decref(j);
    return ret;
}

static int
cmd_log(int argc, char *argv[])
{
    json_t *j;
    int ret;

    if (argc == 1 && !strcmp(argv[0], "list")) {
        ret = vmacctl_get("/v1/log", &j);
    } else if (argc >= 2 && !strcmp(argv[0], "set")) {
        json_t *specs = json_array();
        for (int i = 1; i < argc; i++) {
            json_array_append_new(specs, json_string(argv[i]));
        }
        char *body
            = json_dumps(json_pack("{s:o}", "set", specs), JSON_COMPACT);
        ret = vmacctl_call_api("PUT", "/v1/log", body, NULL, &j);
        free(body);
        if (!ret && vmacctl_json_output) {
            vmacctl_print_json(j);
            json_decref(j);
            j = NULL;
        }
    } else {
        return usage_error(usage_log, argc && !strcmp(argv[0], "set")
                                          ? "log set takes SPEC..."
                                      : argc ? "bad log command"
                                             : "missing log command");
    }
    if (ret || !j) {
        return ret;
    }

    /* One column per destination ("console" -> CONSOLE). */
    const json_t *dests = json_object_get(j, "destinations");
    size_t n_cols = json_array_size(dests) + 1;
    char **header = xmalloc(n_cols * sizeof *header);
    header[0] = xstrdup("MODULE");
    for (size_t i = 1; i < n_cols; i++) {
        const char *name = json_string_value(json_array_get(dests, i - 1));
        header[i] = xstrdup(name ? name : "?");
        for (char *p = header[i]; *p; p++) {
            *p = (*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A' : *p;
        }
    }
    struct vmacctl_table t;
    vmacctl_table_init(&t, (const char *const *) header, n_cols);
    const char *module;
    json_t *levels;
    json_object_foreach (json_object_get(j, "modules"), module, levels) {
        vmacctl_table_add(&t, xstrdup(module));
        for (size_t i = 1; i < n_cols; i++) {
            const char *dest = json_string_value(json_array_get(dests, i - 1));
            vmacctl_table_add(&t, vmacctl_value_str(levels, dest ? dest : ""));
        }
    }
    vmacctl_table_print(&t);
    for (size_t i = 0; i < n_cols; i++) {
        free(header[i]);
    }
    free(header);
    json_decref(j);
    return EXIT_OK;
}

static int
cmd_raw(int argc, char *argv[])
{
    if (argc < 2 || argc > 3) {
        return usage_error(usage_raw, "raw takes METHOD PATH [BODY]");
    }
    const char *method = argv[0];
    const char *path = argv[1];
    if (!*method
        || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method)) {
        return usage_error(usage_raw, "METHOD must be uppercase, e.g. GET");
    } else if (path[0] != '/') {
        return usage_error(usage_raw, "PATH must start with '/'");
    }
    json_t *j;
    int ret
        = vmacctl_call_api(method, path, argc == 3 ? argv[2] : NULL, NULL, &j);
    if (!ret && j) {
        vmacctl_print_json(j);
    }
    json_decref(j);
    return ret;
}

/* Writes. */

/* Sends a write and reports its result.  'what' describes the change
 * ("alias web added"). */
static int
write_call(const char *method, const char *path, const json_t *body,
           const char *what)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *j;
    int ret = vmacctl_call_api(
        method, path, text ? text : (strcmp(method, "POST") ? NULL : "{}"),
        NULL, &j);
    free(text);
    if (ret) {
        return ret;
    }
    if (vmacctl_json_output) {
        vmacctl_print_json(j ? j : json_null());
    } else {
        const json_t *master = json_object_get(j, "master");
        printf("%s", what);
        if (json_is_string(master)) {
            printf(" (master %s)", json_string_value(master));
        } else if (json_is_null(master)) {
            printf(" (no master)");
        }
        printf("\n");
    }
    const json_t *pending = json_object_get(j, "pending_bridges");
    if (json_array_size(pending)) {
        struct ds s = DS_EMPTY_INITIALIZER;
        vmacctl_put_value(&s, pending);
        fprintf(stderr,
                "vmacctl: change pending on disconnected or lagging "
                "bridges: %s\n",
                ds_cstr(&s));
        ds_destroy(&s);
    }
    json_decref(j);
    return EXIT_OK;
}

/* Reads a JSON object from 'file' ("-": stdin) into '*jp'. */
static int
read_json_file(const char *usage, const char *file, json_t **jp)
{
    json_error_t error;
    *jp = (!strcmp(file, "-")
               ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &error)
               : json_load_file(file, JSON_REJECT_DUPLICATES, &error));
    if (!*jp) {
        return usage_error(usage, "%s:%d:%d: %s",
                           !strcmp(file, "-") ? "<stdin>" : file, error.line,
                           error.column, error.text);
    }
    if (!json_is_object(*jp)) {
        json_decref(*jp);
        return usage_error(usage, "%s: expected a JSON object (an alias)",
                           file);
    }
    return EXIT_OK;
}

/* Removes the state fields "alias show --json" adds to the config. */
static void
strip_state(json_t *alias)
{
    static const char *const keys[] = {
        "master",
        "state",
        "cookie",
        "group_id",
        "announcements_sent",
        "generation",
        "pending_bridges",
        "vlan",
        "vlan_conflict",
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        json_object_del(alias, keys[i]);
    }
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(alias, "members"), i, m) {
        json_object_del(m, "state");
        json_object_del(m, "master");
        json_object_del(m, "probe_state");
        json_object_del(m, "bridge_known");
        json_object_del(m, "vlan");
        json_object_del(m, "vlan_error");
    }
}

/* Parses "-f FILE" at argv[0..1]. */
static const char *
file_arg(int argc, char *argv[])
{
    if (argc == 2 && (!strcmp(argv[0], "-f") || !strcmp(argv[0], "--file"))) {
        return argv[1];
    }
    return NULL;
}

static int
alias_add(int argc, char *argv[])
{
    const char *file = file_arg(argc, argv);
    json_t *j;
    if (!file) {
        return usage_error(usage_alias, "alias add takes -f FILE");
    }
    int ret = read_json_file(usage_alias, file, &j);
    if (ret) {
        return ret;
    }
    strip_state(j);
    const char *name = json_string_value(json_object_get(j, "name"));
    char *what = xasprintf("alias %s added", name ? name : "?");
    ret = write_call("POST", "/v1/aliases", j, what);
    free(what);
    json_decref(j);
    return ret;
}

static int
alias_set(const char *name, int argc, char *argv[])
{
    const char *file = file_arg(argc, argv);
    json_t *j;
    if (!file) {
        return usage_error(usage_alias, "alias set takes NAME -f FILE");
    }
    int ret = read_json_file(usage_alias, file, &j);
    if (ret) {
        return ret;
    }
    strip_state(j);
    char *path = xasprintf("/v1/aliases/%s", name);
    char *what = xasprintf("alias %s replaced", name);
    ret = write_call("PUT", path, j, what);
    free(what);
    free(path);
    json_decref(j);
    return ret;
}

static int
alias_remove(const char *name)
{
    char *path = xasprintf("/v1/aliases/%s", name);
    char *what = xasprintf("alias %s removed", name);
    int ret = write_call("DELETE", path, NULL, what);
    free(what);
    free(path);
    return ret;
}

static int
cmd_member(int argc, char *argv[])
{
    if (argc < 3) {
        return usage_error(usage_member, argc ? "missing ALIAS or NAME"
                                              : "missing member command");
    }
    const char *sub = argv[0], *alias = argv[1], *member = argv[2];
    if (!valid_name(alias) || !valid_name(member)) {
        return usage_error(usage_member, "invalid alias or member name");
    }
    char *path = xasprintf("/v1/aliases/%s/members/%s", alias, member);
    char *what = NULL;
    int ret;

    if (!strcmp(sub, "add")) {
        json_t *m = json_object();
        ret = EXIT_OK;
        for (int i = 3; i < argc && !ret; i += 2) {
            const char *opt = argv[i];
            const char *val = i + 1 < argc ? argv[i + 1] : NULL;
            const char *key = (!strcmp(opt, "--bridge")     ? "bridge"
                               : !strcmp(opt, "--port")     ? "port"
                               : !strcmp(opt, "--mac")      ? "mac"
                               : !strcmp(opt, "--ip")       ? "ip"
                               : !strcmp(opt, "--priority") ? "priority"
                                                            : NULL);
            if (!key || !val) {
                ret = usage_error(usage_member,
                                  "bad or incomplete option "
                                  "\"%s\"",
                                  opt);
            } else if (!strcmp(key, "priority")) {
                char *end;
                long prio = strtol(val, &end, 10);
                if (!*val || *end) {
                    ret = usage_error(usage_member, "--priority takes an "
                                                    "integer");
                } else {
                    json_object_set_new(m, key, json_integer(prio));
                }
            } else {
                json_object_set_new(m, key, json_string(val));
            }
        }
        if (!ret
            && (!json_object_get(m, "bridge")
                || !json_object_get(m, "port"))) {
            ret = usage_error(usage_member, "member add needs --bridge and "
                                            "--port");
        }
        if (!ret) {
            what = xasprintf("member %s of alias %s set", member, alias);
            ret = write_call("PUT", path, m, what);
        }
        json_decref(m);
    } else if (argc != 3) {
        ret = usage_error(usage_member, "too many arguments");
    } else if (!strcmp(sub, "remove")) {
        what = xasprintf("member %s removed from alias %s", member, alias);
        ret = write_call("DELETE", path, NULL, what);
    } else if (!strcmp(sub, "drain") || !strcmp(sub, "undrain")) {
        char *p2 = xasprintf("%s/%s", path, sub);
        what = xasprintf("member %s of alias %s %sed", member, alias, sub);
        ret = write_call("POST", p2, NULL, what);
        free(p2);
    } else {
        ret = usage_error(usage_member, "bad member command \"%s\"", sub);
    }
    free(what);
    free(path);
    return ret;
}

static int
cmd_move(int argc, char *argv[])
{
    if (argc < 1 || argc > 2) {
        return usage_error(usage_move, "move takes ALIAS [MEMBER]");
    }
    if (!valid_name(argv[0]) || (argc == 2 && !valid_name(argv[1]))) {
        return usage_error(usage_move, "invalid alias or member name");
    }
    json_t *body = json_object();
    if (argc == 2) {
        json_object_set_new(body, "member", json_string(argv[1]));
    }
    char *path = xasprintf("/v1/aliases/%s/move", argv[0]);
    char *what = xasprintf("alias %s moved", argv[0]);
    int ret = write_call("POST", path, body, what);
    free(what);
    free(path);
    json_decref(body);
    return ret;
}

static int
cmd_announce(int argc, char *argv[])
{
    if (argc != 1 || !valid_name(argv[0])) {
        return usage_error(usage_announce, "announce takes one ALIAS");
    }
    char *path = xasprintf("/v1/aliases/%s/announce", argv[0]);
    char *what = xasprintf("alias %s announced", argv[0]);
    int ret = write_call("POST", path, NULL, what);
    free(what);
    free(path);
    return ret;
}

struct command {
    const char *name;
    int (*run)(int argc, char *argv[]);
    const char *usage;
};

static const struct command commands[] = {
    { "status", cmd_status, usage_status },
    { "bridge", cmd_bridge, usage_bridge },
    { "alias", cmd_alias, usage_alias },
    { "member", cmd_member, usage_member },
    { "move", cmd_move, usage_move },
    { "announce", cmd_announce, usage_announce },
    { "flows", cmd_flows, usage_flows },
    { "events", cmd_events, usage_events },
    { "log", cmd_log, usage_log },
    { "raw", cmd_raw, usage_raw },
};

/* Parses --timeout's argument: seconds, a decimal number >= 0. */
static bool
parse_timeout(const char *s, long *msp)
{
    char *end;
    double secs = strtod(s, &end);
    if (!*s || *end || !(secs >= 0) || secs > 86400) {
        return false;
    }
    *msp = (long) (secs * 1000 + 0.5);
    if (secs > 0 && !*msp) {
        *msp = 1;
    }
    return true;
}

/* The global options, accepted anywhere on the command line (before "--"):
 * removes them from argv, leaving the command and its own arguments in
 * order.  Returns -1 to go on, otherwise an exit code.  A "-h"/"--help"
 * before the command asks for the main usage and is handled here; after
 * the command it stays, for the command's usage. */
static int
take_global_options(int *argcp, char *argv[])
{
    static const struct {
        const char *name;
        char short_name;
        bool has_arg;
    } globals[] = {
        { "socket", 0, true },     { "json", 0, false },
        { "if-match", 0, true },   { "timeout", 't', true },
        { "version", 'V', false },
    };
    int argc = *argcp, out = 1;
    bool command_seen = false, rest = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int g = -1;
        const char *value = NULL;

        if (!rest && !strcmp(arg, "--")) {
            rest = true;
            continue;
        }
        for (size_t k = 0; !rest && g < 0 && k < ARRAY_SIZE(globals); k++) {
            size_t len = strlen(globals[k].name);
            if (arg[0] == '-' && arg[1] == '-'
                && !strncmp(arg + 2, globals[k].name, len)) {
                if (!arg[2 + len]) {
                    g = k;
                } else if (arg[2 + len] == '=' && globals[k].has_arg) {
                    g = k;
                    value = arg + 3 + len;
                }
            } else if (globals[k].short_name && arg[0] == '-'
                       && arg[1] == globals[k].short_name && !arg[2]) {
                g = k;
            }
        }
        if (g < 0) {
            if (!command_seen && !rest
                && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
                fputs(usage_main, stdout);
                return EXIT_OK;
            }
            if (!command_seen && !rest && arg[0] == '-' && arg[1]) {
                return usage_error(usage_main, "unknown option \"%s\"", arg);
            }
            command_seen = true;
            argv[out++] = argv[i];
            continue;
        }
        if (globals[g].has_arg && !value) {
            if (i + 1 >= argc) {
                return usage_error(usage_main, "option \"%s\" needs a value",
                                   arg);
            }
            value = argv[++i];
        }
        const char *name = globals[g].name;
        if (!strcmp(name, "socket")) {
            vmacctl_socket_path = value;
        } else if (!strcmp(name, "json")) {
            vmacctl_json_output = true;
        } else if (!strcmp(name, "if-match")) {
            vmacctl_if_match = value;
        } else if (!strcmp(name, "timeout")) {
            if (!parse_timeout(value, &vmacctl_timeout_ms)) {
                return usage_error(usage_main,
                                   "--timeout takes seconds (a number >= "
                                   "0), not \"%s\"",
                                   value);
            }
        } else if (!strcmp(name, "version")) {
            printf("vmacctl %s\n", VMACD_VERSION);
            return EXIT_OK;
        }
    }
    argv[out] = NULL;
    *argcp = out;
    return -1;
}

int
main(int argc, char *argv[])
{
    vmacctl_socket_path = getenv("VMACD_SOCKET");
    if (!vmacctl_socket_path || !*vmacctl_socket_path) {
        vmacctl_socket_path = DEFAULT_SOCKET;
    }
    int ret = take_global_options(&argc, argv);
    if (ret >= 0) {
        return ret;
    }
    if (argc < 2) {
        return usage_error(usage_main, "missing command");
    }

    const char *name = argv[1];
    int n_args = argc - 2;
    char **args = argv + 2;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (!strcmp(name, commands[i].name)) {
            if (wants_help(n_args, args)) {
                fputs(commands[i].usage, stdout);
                return EXIT_OK;
            }
            vmacctl_http_init();
            ret = commands[i].run(n_args, args);
            vmacctl_http_cleanup();
            return ret;
        }
    }
    return usage_error(usage_main, "unknown command \"%s\"", name);
}
