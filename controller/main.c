/*
 * vmacd: cluster aliases with a virtual MAC, answered and steered by Open
 * vSwitch flows.  The main program parses options, loads the config, wires
 * the engine and the API to the event loop and runs it.
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
#include "engine.h"
#include "fdlimit.h"
#include "oflimit.h"
#include "oflisten.h"
#include "openvswitch/vlog.h"
#include "procsched.h"
#include "tlsio.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(main);

struct vmacd {
    struct ev_loop *loop;
    const char *config_path;
    struct engine *engine;
    struct api *api;
    struct tlsio_ctx *of_tls, *api_tls; /* NULL: not configured. */
    struct oflimit *limit;              /* The OpenFlow peers' bounds. */
    struct fdlimit_plan fds;
    ev_signal sigterm, sigint, sighup;
    int exit_code;
};

static void
usage(void)
{
    printf("vmacd %s: cluster aliases with a virtual MAC on Open vSwitch\n"
           "usage: vmacd [OPTIONS]\n"
           "  -c, --config FILE      configuration (JSON); without it, the\n"
           "                         defaults: listen ptcp:6653:127.0.0.1,\n"
           "                         API on /run/vmacd/vmacd.sock, no alias\n"
           "  -t, --check-config     validate the configuration and exit\n"
           "  -l, --log-level LEVEL  emer, err, warn, info (default), dbg\n"
           "      --log-module M:LEVEL  level of one module (repeatable)\n"
           "      --syslog           also log to syslog (stderr always)\n"
           "      --realtime-priority N  run in SCHED_FIFO at priority N\n"
           "                         (1..99) for punctual health probes\n"
           "      --mlockall         lock all memory (no paging stalls)\n"
           "  -h, --help             this help\n"
           "  -V, --version          version\n"
           "Signals: SIGTERM/SIGINT exit and leave the flows in place;\n"
           "SIGHUP reloads the configuration (an invalid one is refused).\n",
           VMACD_VERSION);
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents OVS_UNUSED)
{
    VLOG_INFO("signal %d: exiting; flows stay installed on the switches",
              w->signum);
    ev_break(loop, EVBREAK_ALL);
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
    if (!d->config_path) {
        VLOG_WARN("SIGHUP: no --config file to reload");
        return;
    }
    char *error;
    struct config *cfg = config_load(d->config_path, &error);
    if (!cfg) {
        VLOG_ERR("SIGHUP: configuration refused, keeping the running one: "
                 "%s",
                 error);
        free(error);
        return;
    }
    reload_limits(d, cfg);
    engine_reload(d->engine, cfg);
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
    engine_destroy(d->engine);
    api_destroy(d->api);
    oflimit_destroy(d->limit);
    oflisten_set_default_tls(NULL);
    tlsio_ctx_destroy(d->of_tls);
    tlsio_ctx_destroy(d->api_tls);
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
    enum { OPT_SYSLOG = 256, OPT_LOG_MODULE, OPT_REALTIME, OPT_MLOCKALL };
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'l' },
        { "log-module", required_argument, NULL, OPT_LOG_MODULE },
        { "syslog", no_argument, NULL, OPT_SYSLOG },
        { "realtime-priority", required_argument, NULL, OPT_REALTIME },
        { "mlockall", no_argument, NULL, OPT_MLOCKALL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct vmacd d = { .exit_code = 0 };
    bool check_only = false, use_syslog = false, mlock = false;
    int rt_prio = 0;

    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_INFO);

    for (;;) {
        int c = getopt_long(argc, argv, "c:tl:hV", long_options, NULL);
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

    char *error = NULL;
    struct config *cfg = d.config_path
                             ? config_load(d.config_path, &error)
                             : config_parse_string("{}", "<defaults>", &error);
    if (!cfg) {
        fprintf(stderr, "vmacd: %s\n", error);
        free(error);
        return 1;
    }
    if (!load_tls(&cfg->openflow_tls, "openflow.tls", &d.of_tls)
        || !load_tls(&cfg->api_tls, "api.tcp.tls", &d.api_tls)) {
        tlsio_ctx_destroy(d.of_tls);
        config_destroy(cfg);
        return 1;
    }
    if (check_only) {
        printf("%s: valid (%zu aliases, %zu bridges)\n",
               d.config_path ? d.config_path : "<defaults>", cfg->n_aliases,
               cfg->n_bridges);
        tlsio_ctx_destroy(d.of_tls);
        tlsio_ctx_destroy(d.api_tls);
        config_destroy(cfg);
        return 0;
    }

    /* Before anything runs on the loop: probes are timed from the start. */
    error = procsched_apply(rt_prio, mlock);
    if (error) {
        fprintf(stderr, "vmacd: %s\n", error);
        free(error);
        config_destroy(cfg);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    d.loop = ev_default_loop(EVFLAG_AUTO);

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
    struct oflimit_config lc;
    limit_config(&d, cfg, &lc);
    d.limit = oflimit_create(&lc);
    oflimit_set_default(d.limit);
    oflisten_set_default_tls(d.of_tls);

    d.engine = engine_create(d.loop, cfg, &error);
    if (!d.engine) {
        fprintf(stderr, "vmacd: %s\n", error);
        free(error);
        vmacd_cleanup(&d);
        return 1;
    }
    if (d.config_path) {
        engine_set_config_path(d.engine, d.config_path);
    }
    engine_attach_api(d.engine, d.api);
    api_route_extend(d.api, "GET", "/v1/status", status_limits, &d);

    ev_signal_init(&d.sigterm, on_stop, SIGTERM);
    ev_signal_init(&d.sigint, on_stop, SIGINT);
    ev_signal_init(&d.sighup, on_reload, SIGHUP);
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);
    ev_signal_start(d.loop, &d.sighup);

    VLOG_INFO("vmacd %s started (%zu aliases; API on %s)", VMACD_VERSION,
              engine_config(d.engine)->n_aliases,
              engine_config(d.engine)->api_socket);
    ev_run(d.loop, 0);

    ev_signal_stop(d.loop, &d.sigterm);
    ev_signal_stop(d.loop, &d.sigint);
    ev_signal_stop(d.loop, &d.sighup);
    vmacd_cleanup(&d);
    ev_loop_destroy(d.loop);
    return d.exit_code;
}
