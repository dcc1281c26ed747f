/*
 * vmacd: cluster aliases with a virtual MAC, answered and steered by Open
 * vSwitch flows.  The main program parses options, loads the config, wires
 * the engine and the API to the event loop and runs it, as a service:
 * pidfile, --detach, systemd notification, signals (SIGHUP reload, SIGUSR1
 * state dump, SIGTERM/SIGINT exit).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ev.h>

#include "api.h"
#include "config.h"
#include "detach.h"
#include "engine.h"
#include "fdlimit.h"
#include "logctl.h"
#include "oflimit.h"
#include "oflisten.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "pidfile.h"
#include "procsched.h"
#include "sdnotify.h"
#include "sset.h"
#include "statedump.h"
#include "store.h"
#include "tlsio.h"
#include "util.h"
#include "verror.h"
#include "vsdb.h"

VLOG_DEFINE_THIS_MODULE(main);

struct vmacd {
    struct ev_loop *loop;
    const char *config_path;
    const char *state_file; /* --state-file: SIGUSR1 writes here. */
    struct engine *engine;
    struct vsdb *vsdb; /* The OVSDB side (fail mode). */
    struct api *api;
    struct store *store;
    struct sdnotify *sdnotify;
    struct pidfile *pidfile;
    struct tlsio_ctx *of_tls, *api_tls; /* NULL: not configured. */
    struct oflimit *limit;              /* The OpenFlow peers' bounds. */
    struct fdlimit_plan fds;
    ev_signal sigterm, sigint, sighup, sigusr1;
    int exit_code;
};

static void
usage(void)
{
    printf(
        "vmacd %s: cluster aliases with a virtual MAC on Open vSwitch\n"
        "usage: vmacd [OPTIONS]\n"
        "  -c, --config FILE      configuration (JSON); without it, the\n"
        "                         defaults: listen ptcp:6653:127.0.0.1,\n"
        "                         API on /run/vmacd/vmacd.sock, no alias\n"
        "  -t, --check-config     validate the configuration and exit\n"
        "      --pidfile[=FILE]   write the PID to FILE (default\n"
        "                         " PIDFILE_DEFAULT "), locked while\n"
        "                         running: a second vmacd refuses it\n"
        "      --detach           run in the background; returns once\n"
        "                         the API listens (exit status: the\n"
        "                         daemon's if it fails to start)\n"
        "      --state-file FILE  SIGUSR1 writes the state dump to FILE\n"
        "                         (JSON) instead of the log\n"
        "      --realtime-priority N  run in SCHED_FIFO at priority N\n"
        "                         (1..99) for punctual health probes\n"
        "      --mlockall         lock all memory (no paging stalls)\n"
        "Logging (libopenvswitch's vlog; stderr at info by default):\n"
        "  -l, --log-level LEVEL  stderr level: emer, err, warn, info, dbg\n"
        "      --log-module M:LEVEL  stderr level of one module\n"
        "      --syslog           also log to syslog at info\n"
        "  -v, --verbose[=SPEC]   vlog spec: [MODULE][:DESTINATION][:LEVEL]\n"
        "                         (destinations console, syslog, file),\n"
        "                         e.g. -vsyslog:info -vengine:dbg\n"
        "      --log-file[=FILE]  also log to FILE (reopened on SIGHUP)\n"
        "      --syslog-method=libc|unix:PATH|udp:IP:PORT|null\n"
        "      --syslog-target=IP:PORT  copy syslog lines there (UDP)\n"
        "  -h, --help             this help\n"
        "  -V, --version          version\n"
        "Signals: SIGTERM/SIGINT exit and leave the flows in place;\n"
        "SIGHUP reloads the configuration (an invalid one is refused);\n"
        "SIGUSR1 dumps the state (aliases, members, bridges) to the log\n"
        "or the --state-file.  Log levels change at run time with\n"
        "\"vmacctl log set\" (PUT /v1/log).\n",
        VMACD_VERSION);
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents OVS_UNUSED)
{
    struct vmacd *d = w->signum == SIGTERM
                          ? CONTAINER_OF(w, struct vmacd, sigterm)
                          : CONTAINER_OF(w, struct vmacd, sigint);
    VLOG_INFO("signal %d: exiting; flows stay installed on the switches",
              w->signum);
    sdnotify_stopping(d->sdnotify);
    ev_break(loop, EVBREAK_ALL);
}

/* Warns, once per bridge, about members on a bridge that no "bridges"
 * entry lists and no connected switch has: most likely a typo. */
static void
warn_unknown_bridges(const struct engine *eng)
{
    const struct config *cfg = engine_config(eng);
    struct sset warned = SSET_INITIALIZER(&warned);

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = cfg->aliases[i];
        for (size_t m = 0; m < a->n_members; m++) {
            const char *br = a->members[m].bridge;
            if (!sset_contains(&warned, br) && !engine_bridge_known(eng, br)) {
                sset_add(&warned, br);
                VLOG_WARN("member %s of alias %s is on bridge \"%s\", which "
                          "no \"bridges\" entry lists and no connected "
                          "switch has (a typo?)",
                          a->members[m].name, a->name, br);
            }
        }
    }
    sset_destroy(&warned);
}

/* systemd's STATUS=: "N aliases, C of B bridges connected". */
static char *
status_line(void *d_)
{
    struct vmacd *d = d_;
    json_t *dump = engine_state_dump(d->engine, true);
    json_t *counts
        = json_object_get(json_object_get(dump, "status"), "counts");
    char *line = xasprintf(
        "%lld aliases, %lld of %lld bridges connected",
        (long long) json_integer_value(json_object_get(counts, "aliases")),
        (long long) json_integer_value(
            json_object_get(counts, "bridges_connected")),
        (long long) json_integer_value(json_object_get(counts, "bridges")));
    json_decref(dump);
    return line;
}

static void
on_dump(struct ev_loop *loop OVS_UNUSED, ev_signal *w, int revents OVS_UNUSED)
{
    struct vmacd *d = CONTAINER_OF(w, struct vmacd, sigusr1);
    json_t *dump = engine_state_dump(d->engine, false);
    if (d->state_file) {
        char *error = statedump_write_file(dump, d->state_file);
        if (error) {
            VLOG_ERR("SIGUSR1: state dump not written: %s", error);
            free(error);
        } else {
            VLOG_INFO("SIGUSR1: state dump written to %s", d->state_file);
        }
    } else {
        statedump_log(dump);
    }
    json_decref(dump);
}

static void
on_snapshot(const struct ovsdbc_snap *snap, void *d_)
{
    struct vmacd *d = d_;
    engine_set_ovsdb(d->engine, snap);
}

static void
on_bridges(const struct sset *bridges, void *d_)
{
    struct vmacd *d = d_;
    vsdb_set_bridges(d->vsdb, bridges);
}

/* The OpenFlow peers' bounds from 'cfg', within what the descriptors
 * allow. */
static void
limit_config(const struct vmacd *d, const struct config *cfg,
             struct oflimit_config *lc)
{
    lc->max_peers = MIN(cfg->max_peers, d->fds.peers);
    lc->max_queue_bytes = cfg->max_queue_bytes;
    lc->max_peer_queue_bytes = cfg->max_peer_queue_bytes;
}

static bool
tls_equal(const struct cfg_tls *a, const struct cfg_tls *b)
{
    return (!a->private_key == !b->private_key
            && (!a->private_key
                || (!strcmp(a->private_key, b->private_key)
                    && !strcmp(a->certificate, b->certificate)
                    && !strcmp(a->ca_cert, b->ca_cert))));
}

/* What a reload can change outside the engine: the peers' bounds.  TLS
 * and the API's bounds are read at start-up only. */
static void
reload_limits(struct vmacd *d, const struct config *cfg)
{
    const struct config *old = engine_config(d->engine);
    struct oflimit_config lc;
    limit_config(d, cfg, &lc);
    oflimit_reconfigure(d->limit, &lc);
    if (!tls_equal(&old->openflow_tls, &cfg->openflow_tls)
        || !tls_equal(&old->api_tls, &cfg->api_tls)
        || old->api_max_connections != cfg->api_max_connections
        || old->api_max_incomplete != cfg->api_max_incomplete
        || old->api_request_timeout_ms != cfg->api_request_timeout_ms) {
        VLOG_WARN("reload: TLS settings and the API's bounds change only "
                  "on restart");
    }
}

static void
on_reload(struct ev_loop *loop OVS_UNUSED, ev_signal *w,
          int revents OVS_UNUSED)
{
    struct vmacd *d = CONTAINER_OF(w, struct vmacd, sighup);
    char *log_file = vlog_get_log_file();
    if (log_file) {
        /* Log rotation: the file may have been renamed meanwhile. */
        int error = vlog_reopen_log_file();
        if (error) {
            VLOG_ERR("SIGHUP: cannot reopen %s: %s", log_file,
                     ovs_strerror(error));
        }
        free(log_file);
    }
    if (!d->store) {
        VLOG_WARN("SIGHUP: no --config file to reload");
        return;
    }
    sdnotify_reloading(d->sdnotify);
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    if (store_reload(d->store, &cfg, &e)) {
        VLOG_ERR("SIGHUP: configuration refused, keeping the running one: "
                 "%s",
                 e.message);
        verror_destroy(&e);
    } else {
        reload_limits(d, cfg);
        engine_reload(d->engine, cfg);
        vsdb_set_config(d->vsdb, engine_config(d->engine));
        warn_unknown_bridges(d->engine);
    }
    sdnotify_ready(d->sdnotify);
}

/* Loads the TLS files of 'tls' (if configured) into '*ctxp'.  Returns
 * false with a message on stderr on failure. */
static bool
load_tls(const struct cfg_tls *tls, const char *what, struct tlsio_ctx **ctxp)
{
    *ctxp = NULL;
    if (!tls->private_key) {
        return true;
    }
    struct tlsio_config tc = {
        .private_key = tls->private_key,
        .certificate = tls->certificate,
        .ca_cert = tls->ca_cert,
    };
    char *error;
    *ctxp = tlsio_ctx_create(&tc, &error);
    if (!*ctxp) {
        fprintf(stderr, "vmacd: %s: %s\n", what, error);
        free(error);
        return false;
    }
    return true;
}

/* GET /v1/status: the bounds and what hit them. */
static void
status_limits(json_t *reply, void *d_)
{
    const struct vmacd *d = d_;
    json_object_set_new(reply, "limits",
                        json_pack("{s:o, s:o, s:o}", "openflow",
                                  oflimit_to_json(d->limit), "api",
                                  api_limits_to_json(d->api), "descriptors",
                                  fdlimit_to_json(&d->fds)));
}

static void
vmacd_cleanup(struct vmacd *d)
{
    sdnotify_destroy(d->sdnotify);
    vsdb_destroy(d->vsdb);
    engine_destroy(d->engine);
    api_destroy(d->api);
    store_close(d->store); /* Makes the file durable. */
    oflimit_destroy(d->limit);
    oflisten_set_default_tls(NULL);
    tlsio_ctx_destroy(d->of_tls);
    tlsio_ctx_destroy(d->api_tls);
    pidfile_destroy(d->pidfile);
    if (d->loop) {
        ev_loop_destroy(d->loop);
    }
}

/* Creates the directory that will hold 'path' (one level), if missing. */
static void
make_parent_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) && errno != EEXIST) {
            VLOG_WARN("cannot create %s: %s", dir, ovs_strerror(errno));
        }
    }
    free(dir);
}

static bool
set_level(const char *module, const char *level)
{
    enum vlog_level l = vlog_get_level_val(level);
    if (l == VLL_N_LEVELS) {
        return false;
    }
    struct vlog_module *m = NULL;
    if (module) {
        m = vlog_module_from_name(module);
        if (!m) {
            return false;
        }
    }
    vlog_set_levels(m, VLF_CONSOLE, l);
    return true;
}

int
main(int argc, char *argv[])
{
    enum {
        OPT_SYSLOG = 256,
        OPT_LOG_MODULE,
        OPT_REALTIME,
        OPT_MLOCKALL,
        OPT_PIDFILE,
        OPT_DETACH,
        OPT_STATE_FILE,
        VLOG_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 't' },
        { "pidfile", optional_argument, NULL, OPT_PIDFILE },
        { "detach", no_argument, NULL, OPT_DETACH },
        { "state-file", required_argument, NULL, OPT_STATE_FILE },
        { "log-level", required_argument, NULL, 'l' },
        { "log-module", required_argument, NULL, OPT_LOG_MODULE },
        { "syslog", no_argument, NULL, OPT_SYSLOG },
        { "realtime-priority", required_argument, NULL, OPT_REALTIME },
        { "mlockall", no_argument, NULL, OPT_MLOCKALL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        VLOG_LONG_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct vmacd d = { .exit_code = 0 };
    bool check_only = false, use_syslog = false, mlock = false;
    bool detach = false;
    const char *pidfile_path = NULL;
    int rt_prio = 0;

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_INFO);
    vlog_set_levels(NULL, VLF_FILE, VLL_INFO); /* Only with --log-file. */
    /* The syslog ident already says "vmacd" (OVS's pattern starts "ovs|"). */
    vlog_set_pattern(VLF_SYSLOG, "%05N|%c%T|%p|%m");

    for (;;) {
        int c = getopt_long(argc, argv, "c:tl:v::hV", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 'c':
            d.config_path = optarg;
            break;
        case 't':
            check_only = true;
            break;
        case 'l':
            if (!set_level(NULL, optarg)) {
                fprintf(stderr, "vmacd: unknown log level \"%s\"\n", optarg);
                return 2;
            }
            break;
        case OPT_LOG_MODULE: {
            char *copy = xstrdup(optarg);
            char *colon = strchr(copy, ':');
            bool ok = colon && (*colon = '\0', set_level(copy, colon + 1));
            free(copy);
            if (!ok) {
                fprintf(stderr,
                        "vmacd: bad --log-module \"%s\" (expected "
                        "MODULE:LEVEL)\n",
                        optarg);
                return 2;
            }
            break;
        }
        case OPT_SYSLOG:
            use_syslog = true;
            break;
        case OPT_REALTIME:
            if (!procsched_parse_priority(optarg, &rt_prio)) {
                fprintf(stderr,
                        "vmacd: bad --realtime-priority \"%s\" (expected "
                        "%d..%d)\n",
                        optarg, PROCSCHED_MIN_PRIO, PROCSCHED_MAX_PRIO);
                return 2;
            }
            break;
        case OPT_MLOCKALL:
            mlock = true;
            break;
        case OPT_PIDFILE:
            pidfile_path = optarg ? optarg : PIDFILE_DEFAULT;
            break;
        case OPT_DETACH:
            detach = true;
            break;
        case OPT_STATE_FILE:
            d.state_file = optarg;
            break;
            VLOG_OPTION_HANDLERS
        case 'h':
            usage();
            return 0;
        case 'V':
            printf("vmacd %s\n", VMACD_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'vmacd --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vmacd: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (use_syslog) {
        vlog_set_levels(NULL, VLF_SYSLOG, VLL_INFO);
    }

    struct verror e = VERROR_INITIALIZER;
    struct config *cfg;
    if (check_only || !d.config_path) {
        int error = (d.config_path
                         ? config_load(d.config_path, &cfg, &e)
                         : config_parse_string("{}", "<defaults>", &cfg, &e));
        if (error) {
            fprintf(stderr, "vmacd: %s\n", e.message);
            verror_destroy(&e);
            return 1;
        }
    }
    if (check_only) {
        bool ok = (load_tls(&cfg->openflow_tls, "openflow.tls", &d.of_tls)
                   && load_tls(&cfg->api_tls, "api.tcp.tls", &d.api_tls));
        if (ok) {
            printf("%s: valid (%zu aliases, %zu bridges)\n",
                   d.config_path ? d.config_path : "<defaults>",
                   cfg->n_aliases, cfg->n_bridges);
        }
        config_destroy(cfg);
        vmacd_cleanup(&d);
        return ok ? 0 : 1;
    }

    /* From here on, everything belongs to the daemon process. */
    if (detach) {
        detach_start();
    }
    char *error = NULL;
    if (pidfile_path) {
        make_parent_dir(pidfile_path);
        d.pidfile = pidfile_create(pidfile_path, &error);
        if (!d.pidfile) {
            fprintf(stderr, "vmacd: %s\n", error);
            free(error);
            config_destroy(cfg);
            return 1;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    d.loop = ev_default_loop(EVFLAG_AUTO);

    /* The config file and its journal (store.h). */
    if (d.config_path && store_open(d.loop, d.config_path, &d.store, &cfg,
                                    &e)) {
        fprintf(stderr, "vmacd: %s\n", e.message);
        verror_destroy(&e);
        vmacd_cleanup(&d);
        return 1;
    }
    if (!load_tls(&cfg->openflow_tls, "openflow.tls", &d.of_tls)
        || !load_tls(&cfg->api_tls, "api.tcp.tls", &d.api_tls)) {
        config_destroy(cfg);
        vmacd_cleanup(&d);
        return 1;
    }

    /* Before anything runs on the loop: probes are timed from the start. */
    error = procsched_apply(rt_prio, mlock);
    if (error) {
        fprintf(stderr, "vmacd: %s\n", error);
        free(error);
        config_destroy(cfg);
        vmacd_cleanup(&d);
        return 1;
    }

    /* Descriptors for the API first; the peers get what is left. */
    struct fdlimit_request fr = {
        .peers = cfg->max_peers,
        .api_conns = cfg->api_max_connections,
        .api_listeners = 1 + (cfg->api_tcp_address != NULL),
    };
    if (!fdlimit_plan(&fr, &d.fds, &error)) {
        fprintf(stderr, "vmacd: %s\n", error);
        free(error);
        config_destroy(cfg);
        vmacd_cleanup(&d);
        return 1;
    }
    if (d.fds.peers < cfg->max_peers
        || d.fds.api_conns < cfg->api_max_connections) {
        VLOG_WARN("the descriptor limit (%llu) allows %u OpenFlow peers "
                  "(openflow.max_peers %u) and %u API connections a "
                  "listener (api.max_connections %u)",
                  d.fds.limit, d.fds.peers, cfg->max_peers, d.fds.api_conns,
                  cfg->api_max_connections);
    }

    struct api_options ao = {
        .socket_path = cfg->api_socket,
        .socket_group = cfg->api_group,
        .tcp_address = cfg->api_tcp_address,
        .tcp_port = cfg->api_tcp_port,
        .allow_nonloopback = cfg->api_tcp_allow_nonloopback,
        .tcp_tls = d.api_tls,
        .max_connections = d.fds.api_conns,
        .max_incomplete = MIN(cfg->api_max_incomplete, d.fds.api_conns),
        .request_timeout_ms = cfg->api_request_timeout_ms,
    };
    make_parent_dir(cfg->api_socket);
    d.api = api_create(d.loop, &ao, &error);
    if (!d.api) {
        fprintf(stderr, "vmacd: API: %s\n", error);
        free(error);
        config_destroy(cfg);
        vmacd_cleanup(&d);
        return 1;
    }
    logctl_register(d.api);
    struct oflimit_config lc;
    limit_config(&d, cfg, &lc);
    d.limit = oflimit_create(&lc);
    oflimit_set_default(d.limit);
    oflisten_set_default_tls(d.of_tls);

    if (engine_create(d.loop, cfg, &d.engine, &e)) {
        fprintf(stderr, "vmacd: %s\n", e.message);
        verror_destroy(&e);
        vmacd_cleanup(&d);
        return 1;
    }
    engine_attach_api(d.engine, d.api, d.store);
    api_route_extend(d.api, "GET", "/v1/status", status_limits, &d);
    d.vsdb = vsdb_create(d.loop, engine_config(d.engine));
    vsdb_attach_api(d.vsdb, d.api);
    engine_on_bridges(d.engine, on_bridges, &d);
    vsdb_on_snapshot(d.vsdb, on_snapshot, &d);
    warn_unknown_bridges(d.engine);

    ev_signal_init(&d.sigterm, on_stop, SIGTERM);
    ev_signal_init(&d.sigint, on_stop, SIGINT);
    ev_signal_init(&d.sighup, on_reload, SIGHUP);
    ev_signal_init(&d.sigusr1, on_dump, SIGUSR1);
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);
    ev_signal_start(d.loop, &d.sighup);
    ev_signal_start(d.loop, &d.sigusr1);

    VLOG_INFO("vmacd %s started (%zu aliases; API on %s)", VMACD_VERSION,
              engine_config(d.engine)->n_aliases,
              engine_config(d.engine)->api_socket);

    /* Ready: the API listens and the configuration is applied (the switches
     * get it as they connect). */
    d.sdnotify = sdnotify_create(d.loop, status_line, &d);
    sdnotify_ready(d.sdnotify);
    detach_done();

    ev_run(d.loop, 0);

    ev_signal_stop(d.loop, &d.sigterm);
    ev_signal_stop(d.loop, &d.sigint);
    ev_signal_stop(d.loop, &d.sighup);
    ev_signal_stop(d.loop, &d.sigusr1);
    vmacd_cleanup(&d);
    ovsdbc_exit();
    return d.exit_code;
}
