#!/usr/bin/env bash
# Private Open vSwitch sandboxes for vmacd's tests and demo.
#
# Each sandbox is a directory holding every runtime file (database, sockets,
# pidfiles, logs) plus a network namespace "${PREFIX}sw" in which its own
# ovsdb-server and userspace ovs-vswitchd run, and one namespace per host.
# Run "sandbox.sh --help" for the commands.
set -euo pipefail

readonly SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
readonly HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly STATE=sandbox.state
readonly DAEMONS="ovs-vswitchd ovsdb-server"   # Stop order.

usage() {
    cat <<'EOF'
usage: sandbox.sh COMMAND DIR [ARGS...]

Commands:
  start DIR PREFIX
      Create namespace PREFIXsw and run a private ovsdb-server and userspace
      ovs-vswitchd in it, with every runtime file in DIR (created if
      missing).  PREFIX: letters, digits, '-', '_', at most 24 chars.
  add-bridge DIR [--fail-mode MODE] NAME TARGET [UPLINK...]
      Add netdev bridge NAME.  TARGET is an OpenFlow controller target
      (unix:/path/of.sock reaches a controller in any namespace;
      tcp:127.0.0.1:PORT only one inside PREFIXsw): the bridge gets
      fail_mode=secure, OpenFlow13-15, in-band off and max_backoff=1000.
      TARGET "none": no controller, fail_mode=standalone (a "physical"
      switch).  --fail-mode secure|standalone|none overrides the fail_mode
      ("none": the column stays empty, as after a plain "ovs-vsctl add-br";
      OVS then behaves as standalone).  UPLINK is PORT (an interface already
      in PREFIXsw) or PORT:PEERBRIDGE:PEERPORT (a new veth pair to existing
      PEERBRIDGE).
  add-link DIR BRIDGE_A PORT_A BRIDGE_B PORT_B
      Connect two bridges of the sandbox with a veth pair PORT_A--PORT_B.
  add-host DIR [--tag N] [--iface-id ID] HOST BRIDGE PORT MAC [ADDR/LEN...]
      Create namespace PREFIXHOST with eth0 (MAC, up, the IPv4/IPv6
      addresses, no IPv6 DAD, addresses kept on link down, TX checksum
      offload off) whose veth peer PORT is in PREFIXsw and a port of
      BRIDGE.  "-" as ADDR is skipped.  --tag N: PORT is an access port
      of VLAN N (Port tag).  --iface-id ID: the Interface gets
      external_ids:iface-id=ID and attached-mac=MAC (what libvirt sets).
      A host in VLAN N behind a trunk: add it with --tag N to a standalone
      ("physical") bridge whose link to the other bridge is a trunk
      (port-vlan); this kernel has no 802.1Q devices for eth0.N.
  port-vlan DIR PORT access N | trunk VLANS [MODE [NATIVE]] | none
      Set the VLAN configuration of switch port PORT: an access port of
      VLAN N (tag=N); a trunk of VLANS (comma-separated; trunks=VLANS),
      MODE trunk (default), native-tagged or native-untagged with native
      VLAN NATIVE (tag=NATIVE); or none (tag, trunks and vlan_mode
      cleared: every VLAN, as OVS's default).
  replug DIR HOST NEWPORT
      What libvirt does when a VM restarts: delete HOST's switch port and
      its veth, then plug HOST in again through a new veth whose switch
      end is NEWPORT, with the same eth0 (MAC, addresses) and the same
      Port tag and Interface external_ids (iface-id, attached-mac).
      OVS gives NEWPORT another OpenFlow port number.
  ovsdb-stop DIR [--kill]
      Stop the sandbox's ovsdb-server by its PID (SIGTERM, or SIGKILL with
      --kill: the socket file stays behind, as after a crash).
  ovsdb-start DIR
      Start the sandbox's ovsdb-server again on the same database and
      socket; returns once it answers.
  db DIR
      Print the OVSDB remote of the sandbox (unix:DIR/db.sock).
  link DIR PORT up|down
      Set the switch-side end PORT up or down.  Down makes OpenFlow report
      config PORT_DOWN and state LINK_DOWN for the port.
  host-link DIR HOST up|down
      Set HOST's eth0 up or down.  Down makes OpenFlow report state
      LINK_DOWN (config stays 0) for the switch-side port.
  ns DIR [HOST]
      Print the namespace name of HOST, or of the switch without HOST.
  stop DIR [--keep-logs]
      Stop the processes recorded as "pid NAME PID" lines in DIR/sandbox.state
      (callers append their own, e.g. a controller running outside the
      namespaces; only live ones naming DIR in their command line are
      signalled) and the daemons, kill what still runs in the sandbox's
      namespaces, delete the namespaces (and so every veth), and remove the
      files start created in DIR (logs too, unless --keep-logs).
      Idempotent; safe on a half set-up sandbox; ignores SIGINT, SIGTERM
      and SIGHUP so that it finishes; a second stop of DIR waits for one
      already running.

Use "source ovs-scripts/env.sh DIR" to point ovs-vsctl/ovs-ofctl/ovs-appctl
at a sandbox.  Commands on one DIR must not run concurrently.
EOF
}

die() {
    echo "sandbox.sh: $*" >&2
    exit 1
}

# Runs "$@" with the OVS tools pointed at sandbox $dir.
ovs_env() {
    OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir OVS_SYSCONFDIR=$dir "$@"
}

vsctl() {
    ovs_env ovs-vsctl --timeout=20 --db="unix:$dir/db.sock" "$@"
}

in_sw() {
    timeout 20 ip netns exec "$sw_ns" "$@"
}

record() {
    echo "$*" >>"$dir/$STATE"
}

# Reads the sandbox's prefix and switch namespace from the state file.
load_state() {
    [ -f "$dir/$STATE" ] || die "$dir: no sandbox here (run start first)"
    prefix=$(sed -n 's/^prefix //p' "$dir/$STATE")
    [ -n "$prefix" ] || die "$dir/$STATE: no prefix recorded"
    sw_ns=${prefix}sw
}

set_dir() {
    [ -n "${1:-}" ] || die "missing DIR (see --help)"
    [ -d "$1" ] || die "$1: no such directory"
    dir=$(cd "$1" && pwd)
}

check_ifname() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$ ]] \
        || die "bad interface name '$1' (1-15 of [A-Za-z0-9_.-])"
}

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$ ]] \
        || die "bad name '$1' (1-24 of [A-Za-z0-9_-])"
}

# True if $1 is a live (not zombie) process whose command line mentions the
# sandbox directory.  The command-line check keeps a recycled PID from being
# signalled: only processes started for this sandbox name files in it.
ours() {
    local pid=$1 state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$state" ] && [ "$state" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"
}

# Prints the PID of daemon $1 if it is ours and alive, read from the state
# file (its last "pid NAME PID" line) or from its pidfile; nothing otherwise.
daemon_pid() {
    local name=$1 pid
    pid=$(sed -n "s/^pid $name //p" "$dir/$STATE" 2>/dev/null | tail -1)
    if [ -z "$pid" ] && [ -f "$dir/$name.pid" ]; then
        pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    fi
    if ours "$pid"; then
        echo "$pid"
    fi
    return 0
}

# Waits up to $2 tenths of a second for process $1 to be gone or a zombie.
wait_gone() {
    local pid=$1 n=$2 state
    while [ "$n" -gt 0 ]; do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
        [ -z "$state" ] || [ "$state" = Z ] && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# True if process $1 is gone or a zombie.
gone() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
    [ -z "$state" ] || [ "$state" = Z ]
}

# SIGTERM to every PID given, up to 5 s for all of them to go, then SIGKILL
# to those left.  $1 names them in messages.
term_then_kill() {
    local what=$1 pid n=50 left
    shift
    [ $# -gt 0 ] || return 0
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    while :; do
        left=
        for pid in "$@"; do
            gone "$pid" || left="$left $pid"
        done
        [ -n "$left" ] || return 0
        n=$((n - 1))
        [ "$n" -gt 0 ] || break
        sleep 0.1
    done
    echo "sandbox.sh: $what ($left) ignored SIGTERM, killing" >&2
    for pid in $left; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in $left; do
        wait_gone "$pid" 50 || echo "sandbox.sh: $what ($pid) still alive" >&2
    done
}

stop_daemon() {
    local pid
    pid=$(daemon_pid "$1")
    [ -n "$pid" ] || return 0
    term_then_kill "$1" "$pid"
}

# Processes a caller started for the sandbox outside its namespaces (vmacd,
# say) and recorded as "pid NAME PID" lines (every such line, not only the
# last per name: a restarted daemon leaves one per run).  Only those still
# alive and naming the sandbox directory are signalled.
stop_tracked() {
    local name pid pids=
    [ -f "$dir/$STATE" ] || return 0
    while read -r name pid; do
        case " $DAEMONS " in *" $name "*) continue ;; esac
        if ours "$pid"; then
            pids="$pids $pid"
        fi
    done < <(sed -n 's/^pid //p' "$dir/$STATE")
    # shellcheck disable=SC2086  # Word splitting wanted.
    term_then_kill "tracked processes" $pids
}

# Kills whatever still runs inside the namespaces given (processes tests
# started there), all of them first and then waits once, so that a sandbox
# of 200 hosts is not 200 sequential waits; then deletes the namespaces,
# and with them every veth end they hold.
delete_namespaces() {
    local ns pid pids=
    for ns in "$@"; do
        [ -e "/run/netns/$ns" ] || continue
        pids="$pids $(ip netns pids "$ns" 2>/dev/null || true)"
    done
    for pid in $pids; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        wait_gone "$pid" 30 || true
    done
    for ns in "$@"; do
        [ -e "/run/netns/$ns" ] || continue
        ip netns del "$ns" 2>/dev/null \
            || echo "sandbox.sh: cannot delete $ns" >&2
    done
}

cmd_stop() {
    local keep_logs=no f
    [ "${1:-}" = --keep-logs ] && keep_logs=yes
    [ -d "$dir" ] || return 0
    # Teardown finishes whatever interrupted its caller: a Ctrl-C or a
    # SIGTERM meant for the caller is ignored here (and by every command
    # run from here: an ignored signal stays ignored across exec).  A
    # second stop of the same DIR (a parent reaping what a killed child
    # was already tearing down) waits for the first, then finds nothing.
    trap '' INT TERM HUP
    exec 9<"$dir" || return 0
    flock 9
    stop_tracked
    for f in $DAEMONS; do
        stop_daemon "$f"
    done
    if [ -f "$dir/$STATE" ]; then
        # Hosts first, the switch namespace (holding the daemons) last.
        # shellcheck disable=SC2046  # One namespace name per word.
        delete_namespaces $(tac "$dir/$STATE" | sed -n 's/^netns //p')
    fi
    for f in "$dir"/conf.db "$dir"/.conf.db.~lock~ "$dir"/db.sock \
             "$dir"/*.ctl "$dir"/*.mgmt "$dir"/*.snoop "$dir"/*.pid; do
        [ -e "$f" ] && rm -f "$f"
    done
    if [ "$keep_logs" = no ]; then
        rm -f "$dir/ovsdb-server.log" "$dir/ovs-vswitchd.log"
    fi
    if [ -f "$dir/$STATE" ] && grep -qx 'created-dir' "$dir/$STATE"; then
        rm -f "$dir/$STATE"
        rmdir "$dir" 2>/dev/null || true
    else
        rm -f "$dir/$STATE"
    fi
}

# Polls "$@" every 0.1 s for up to $2 tries; fails (with a message) after.
wait_for() {
    local what=$1 tries=$2
    shift 2
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        if [ "$tries" -le 0 ]; then
            echo "sandbox.sh: timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.1
    done
}

# EXIT trap of start: on failure, shows the logs and undoes the start.
start_failed() {
    local rc=$? f
    trap - EXIT
    [ "$rc" -ne 0 ] || return 0
    echo "sandbox.sh: start failed; log tails:" >&2
    for f in "$dir"/ovsdb-server.log "$dir"/ovs-vswitchd.log; do
        [ -f "$f" ] && tail -5 "$f" | sed "s|^|  $(basename "$f"): |" >&2
    done
    cmd_stop --keep-logs
    exit "$rc"
}

cmd_start() {
    local input_dir=$1 created=no
    prefix=${2:-}
    check_name "$prefix"
    [ -e "$input_dir" ] || created=yes
    mkdir -p "$input_dir"
    set_dir "$input_dir"
    [ ! -e "$dir/$STATE" ] || die "$dir already holds a sandbox"
    sw_ns=${prefix}sw
    [ ! -e "/run/netns/$sw_ns" ] || die "namespace $sw_ns already exists"
    [ -r "$SCHEMA" ] || die "no OVS schema at $SCHEMA"

    echo "prefix $prefix" >"$dir/$STATE"
    [ $created = yes ] && record created-dir
    trap start_failed EXIT

    # Recorded before it exists: a start killed in between leaves nothing
    # that stop does not know of (stop skips what does not exist).
    record "netns $sw_ns"
    ip netns add "$sw_ns"
    in_sw ip link set lo up
    # The switch-side veth ends must not speak IPv6 (RS, MLD) themselves.
    in_sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1

    ovsdb-tool create "$dir/conf.db" "$SCHEMA"
    ovsdb_server_start
    vsctl --no-wait init

    # --disable-system: there is no kernel datapath; netdev bridges only.
    ovs_env timeout 30 ip netns exec "$sw_ns" ovs-vswitchd \
        "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" \
        --log-file="$dir/ovs-vswitchd.log" --detach --no-chdir \
        --disable-system --syslog-method=null -vconsole:off -vsyslog:off \
        >/dev/null 2>&1
    record "pid ovs-vswitchd $(cat "$dir/ovs-vswitchd.pid")"
    wait_for "ovs-vswitchd" 100 ovs_env ovs-appctl -T 1 \
        -t "$dir/ovs-vswitchd.$(cat "$dir/ovs-vswitchd.pid").ctl" version
    # Without --no-wait this returns once ovs-vswitchd applied the config.
    vsctl set Open_vSwitch . other_config:vmacd-sandbox="$prefix"
    trap - EXIT
}

# Creates a veth pair with both ends in the switch namespace, both up.
make_sw_veth() {
    check_ifname "$1"
    check_ifname "$2"
    ip link add "$1" netns "$sw_ns" type veth peer name "$2" netns "$sw_ns"
    in_sw ip link set "$1" up
    in_sw ip link set "$2" up
}

# add_port BRIDGE PORT [OVS-VSCTL ARGS...]: the extra arguments (e.g.
# "-- set port PORT tag=10") go into the same transaction.
add_port() {
    local bridge=$1 port=$2
    shift 2
    in_sw ip link show "$port" >/dev/null 2>&1 \
        || die "no interface $port in $sw_ns"
    # One port per transaction, so OpenFlow port numbers follow the order.
    vsctl add-port "$bridge" "$port" "$@"
    record "port $port $bridge"
}

check_vlan() {
    [[ $1 =~ ^[0-9]{1,4}$ ]] && [ "$1" -le 4095 ] \
        || die "bad VLAN '$1' (0..4095)"
}

cmd_add_bridge() {
    local fail_mode=default
    if [ "${1:-}" = --fail-mode ]; then
        [[ ${2:-} =~ ^(secure|standalone|none)$ ]] \
            || die "--fail-mode must be secure, standalone or none"
        fail_mode=$2
        shift 2
    fi
    [ $# -ge 2 ] || die "add-bridge needs DIR NAME TARGET [UPLINK...]"
    local name=$1 target=$2 uplink port peer_br peer_port
    shift 2
    check_ifname "$name"
    load_state
    if [ "$fail_mode" = default ]; then
        fail_mode=$([ "$target" = none ] && echo standalone || echo secure)
    fi
    local mode_arg=()
    [ "$fail_mode" = none ] || mode_arg=("fail_mode=$fail_mode")
    if [ "$target" = none ]; then
        vsctl add-br "$name" -- set bridge "$name" datapath_type=netdev \
            "${mode_arg[@]}" \
            protocols=OpenFlow10,OpenFlow11,OpenFlow12,OpenFlow13,OpenFlow14,OpenFlow15 \
            other_config:disable-in-band=true
    else
        [[ $target =~ ^(unix|tcp|ssl|ptcp|pssl|punix): ]] \
            || die "bad controller target '$target'"
        local add=(add-br "$name" -- set bridge "$name" datapath_type=netdev
            "${mode_arg[@]}" protocols=OpenFlow13,OpenFlow14,OpenFlow15
            other_config:disable-in-band=true
            -- set-controller "$name" "$target")
        local set_backoff=(set controller "$name" max_backoff=1000)
        # ovs-vswitchd 3.1 starts a controller connection with an 8 s
        # maximum backoff and applies the row's max_backoff only when the
        # row changes while the connection is up.  For a unix target with
        # nobody listening yet, a stand-in controller holds the connection
        # while max_backoff is set; from then on reconnects take <= 1 s.
        local path=${target#unix:}
        if [[ $target == unix:* ]] && [ ! -e "$path" ]; then
            ovs_env /usr/bin/python3 "$HERE/of-hold.py" --timeout 15 \
                "$path" -- ovs-vsctl --timeout=10 --db="unix:$dir/db.sock" \
                "${set_backoff[@]}" &
            local holder=$!
            if ! wait_for "stand-in controller" 100 test -S "$path" \
                || ! vsctl "${add[@]}"; then
                kill "$holder" 2>/dev/null || true
                wait "$holder" 2>/dev/null || true
                die "cannot add bridge $name"
            fi
            wait "$holder" || die "$name: max_backoff not applied"
        else
            vsctl "${add[@]}"
            vsctl "${set_backoff[@]}"
        fi
    fi
    record "bridge $name"
    for uplink in "$@"; do
        if [[ $uplink == *:* ]]; then
            IFS=: read -r port peer_br peer_port <<<"$uplink"
            [ -n "$port" ] && [ -n "$peer_br" ] && [ -n "$peer_port" ] \
                || die "bad uplink '$uplink' (PORT:PEERBRIDGE:PEERPORT)"
            make_sw_veth "$port" "$peer_port"
            add_port "$peer_br" "$peer_port"
            add_port "$name" "$port"
        else
            check_ifname "$uplink"
            add_port "$name" "$uplink"
        fi
    done
}

cmd_add_link() {
    [ $# -eq 4 ] || die "add-link needs BRIDGE_A PORT_A BRIDGE_B PORT_B"
    load_state
    make_sw_veth "$2" "$4"
    add_port "$1" "$2"
    add_port "$3" "$4"
}

# Sets up eth0 in namespace $host_ns, the peer of switch port $port:
# MAC, addresses, no DAD, up.
setup_host_eth0() {
    local mac=$1 addr
    shift
    local in_host=(timeout 20 ip netns exec "$host_ns")
    "${in_host[@]}" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 \
        net.ipv6.conf.eth0.keep_addr_on_down=1
    "${in_host[@]}" ip link set eth0 address "$mac"
    # Partial checksums would survive the userspace datapath: "tx off".
    "${in_host[@]}" /usr/bin/python3 "$HERE/tx-csum-off.py" eth0
    for addr in "$@"; do
        [ "$addr" = - ] || "${in_host[@]}" ip addr add "$addr" dev eth0
    done
    "${in_host[@]}" ip link set eth0 up
    in_sw ip link set "$port" up
}

# The ovs-vsctl arguments that give switch port $port its tag and its
# Interface's external_ids (appended to add-port's transaction).
port_settings() {
    local tag=$1 iface_id=$2 mac=$3
    settings=()
    [ -z "$tag" ] || settings+=(-- set port "$port" "tag=$tag")
    [ -z "$iface_id" ] || settings+=(-- set interface "$port"
        "external_ids:iface-id=\"$iface_id\""
        "external_ids:attached-mac=\"$mac\"")
}

cmd_add_host() {
    local tag="" iface_id=""
    while [[ ${1:-} == --* ]]; do
        case $1 in
            --tag) check_vlan "${2:-x}"; tag=$2 ;;
            --iface-id)
                [[ ${2:-} =~ ^[A-Za-z0-9_.:-]{1,255}$ ]] \
                    || die "bad iface-id '${2:-}' (1-255 of [A-Za-z0-9_.:-])"
                iface_id=$2 ;;
            *) die "unknown add-host option '$1'" ;;
        esac
        shift 2
    done
    [ $# -ge 4 ] || die "add-host needs HOST BRIDGE PORT MAC [ADDR/LEN...]"
    local host=$1 bridge=$2 port=$3 mac=$4 addr
    shift 4
    check_name "$host"
    [ "$host" != sw ] || die "host name 'sw' is the switch namespace"
    check_ifname "$port"
    [[ $mac =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] || die "bad MAC '$mac'"
    for addr in "$@"; do
        [ "$addr" = - ] || [[ $addr =~ ^[0-9a-fA-F.:]+/[0-9]+$ ]] \
            || die "bad address '$addr' (want ADDR/LEN)"
    done
    load_state
    host_ns=$prefix$host
    [ ! -e "/run/netns/$host_ns" ] || die "namespace $host_ns already exists"

    record "netns $host_ns"         # Before it exists, as in start.
    ip netns add "$host_ns"
    local in_host=(timeout 20 ip netns exec "$host_ns")
    "${in_host[@]}" ip link set lo up
    "${in_host[@]}" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.all.keep_addr_on_down=1 \
        net.ipv6.conf.default.keep_addr_on_down=1
    ip link add "$port" netns "$sw_ns" type veth peer name eth0 \
        netns "$host_ns"
    record "host $host $port"
    # For replug: everything about the host's link, "-" for unset.
    record "hostcfg $host $bridge $port $mac ${tag:--} ${iface_id:--} $*"
    setup_host_eth0 "$mac" "$@"
    local settings
    port_settings "$tag" "$iface_id" "$mac"
    add_port "$bridge" "$port" "${settings[@]}"
}

cmd_port_vlan() {
    [ $# -ge 2 ] || die "port-vlan needs PORT access N|trunk VLANS|none"
    local port=$1 kind=$2
    check_ifname "$port"
    load_state
    case $kind in
        access)
            [ $# -eq 3 ] || die "port-vlan PORT access N"
            check_vlan "$3"
            vsctl set port "$port" "tag=$3" -- clear port "$port" trunks \
                vlan_mode
            ;;
        trunk)
            [ $# -ge 3 ] && [ $# -le 5 ] \
                || die "port-vlan PORT trunk VLANS [MODE [NATIVE]]"
            local vlans=$3 mode=${4:-trunk} v
            for v in ${vlans//,/ }; do check_vlan "$v"; done
            local args=(set port "$port" "trunks=$vlans" "vlan_mode=$mode")
            case $mode in
                trunk)
                    [ $# -le 4 ] || die "a trunk takes no native VLAN"
                    args+=(-- clear port "$port" tag) ;;
                native-tagged | native-untagged)
                    [ $# -eq 5 ] || die "$mode needs a NATIVE VLAN"
                    check_vlan "$5"
                    args+=("tag=$5") ;;
                *) die "bad trunk mode '$mode'" ;;
            esac
            vsctl "${args[@]}"
            ;;
        none)
            [ $# -eq 2 ] || die "port-vlan PORT none"
            vsctl clear port "$port" tag trunks vlan_mode
            ;;
        *) die "port-vlan: expected access, trunk or none" ;;
    esac
}

cmd_replug() {
    [ $# -eq 2 ] || die "replug needs HOST NEWPORT"
    local host=$1 new=$2 cfg
    check_name "$host"
    check_ifname "$new"
    load_state
    cfg=$(sed -n "s/^hostcfg $host //p" "$dir/$STATE" | tail -1)
    [ -n "$cfg" ] || die "no host $host in this sandbox"
    local bridge port mac tag iface_id addrs
    read -r bridge port mac tag iface_id addrs <<<"$cfg"
    [ "$tag" != - ] || tag=""
    [ "$iface_id" != - ] || iface_id=""
    [ "$new" != "$port" ] || die "$new is the current port of $host"
    ! in_sw ip link show "$new" >/dev/null 2>&1 \
        || die "interface $new already exists in $sw_ns"
    host_ns=$prefix$host

    vsctl del-port "$bridge" "$port"
    in_sw ip link del "$port"
    ip link add "$new" netns "$sw_ns" type veth peer name eth0 \
        netns "$host_ns"
    record "host $host $new"
    record "hostcfg $host $bridge $new $mac ${tag:--} ${iface_id:--} $addrs"
    port=$new
    # shellcheck disable=SC2086  # The addresses are words.
    setup_host_eth0 "$mac" $addrs
    local settings
    port_settings "$tag" "$iface_id" "$mac"
    add_port "$bridge" "$new" "${settings[@]}"
}

ovsdb_server_start() {
    # --detach returns once the daemon is ready; "timeout" bounds that.
    # syslog goes nowhere: without a syslog daemon it writes to the console.
    ovs_env timeout 20 ip netns exec "$sw_ns" ovsdb-server "$dir/conf.db" \
        --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb-server.pid" \
        --log-file="$dir/ovsdb-server.log" --detach --no-chdir \
        --syslog-method=null -vconsole:off -vsyslog:off \
        >/dev/null 2>&1
    record "pid ovsdb-server $(cat "$dir/ovsdb-server.pid")"
    wait_for "ovsdb-server" 100 \
        ovs_env ovs-vsctl --timeout=1 --db="unix:$dir/db.sock" --no-wait show
}

cmd_ovsdb_stop() {
    local sig=TERM pid
    if [ "${1:-}" = --kill ]; then
        sig=KILL
    elif [ -n "${1:-}" ]; then
        die "ovsdb-stop takes only --kill"
    fi
    load_state
    pid=$(daemon_pid ovsdb-server)
    [ -n "$pid" ] || die "ovsdb-server is not running"
    kill "-$sig" "$pid"
    wait_gone "$pid" 50 || die "ovsdb-server ($pid) still alive"
}

cmd_ovsdb_start() {
    [ $# -eq 0 ] || die "ovsdb-start takes no arguments"
    load_state
    [ -z "$(daemon_pid ovsdb-server)" ] || die "ovsdb-server is running"
    ovsdb_server_start
}

cmd_link() {
    [ $# -eq 2 ] || die "link needs PORT up|down"
    [[ $2 =~ ^(up|down)$ ]] || die "link state must be up or down"
    check_ifname "$1"
    load_state
    in_sw ip link set "$1" "$2"
}

cmd_host_link() {
    [ $# -eq 2 ] || die "host-link needs HOST up|down"
    [[ $2 =~ ^(up|down)$ ]] || die "link state must be up or down"
    check_name "$1"
    load_state
    timeout 20 ip netns exec "$prefix$1" ip link set eth0 "$2"
}

cmd_ns() {
    load_state
    if [ -n "${1:-}" ]; then
        check_name "$1"
        echo "$prefix$1"
    else
        echo "$sw_ns"
    fi
}

main() {
    [ $# -ge 1 ] || { usage >&2; exit 2; }
    local cmd=$1
    case $cmd in
        -h | --help | help) usage; exit 0 ;;
    esac
    [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, veths)"
    [ $# -ge 2 ] || die "$cmd: missing DIR (see --help)"
    local d=$2
    shift 2
    case $cmd in
        start)
            [ $# -eq 1 ] || die "start needs DIR PREFIX"
            cmd_start "$d" "$1"
            ;;
        stop)
            [ -d "$d" ] || exit 0
            dir=$(cd "$d" && pwd)
            cmd_stop "$@"
            ;;
        add-bridge) set_dir "$d"; cmd_add_bridge "$@" ;;
        add-link) set_dir "$d"; cmd_add_link "$@" ;;
        add-host) set_dir "$d"; cmd_add_host "$@" ;;
        port-vlan) set_dir "$d"; cmd_port_vlan "$@" ;;
        replug) set_dir "$d"; cmd_replug "$@" ;;
        ovsdb-stop) set_dir "$d"; cmd_ovsdb_stop "$@" ;;
        ovsdb-start) set_dir "$d"; cmd_ovsdb_start "$@" ;;
        db)
            set_dir "$d"
            [ $# -eq 0 ] || die "db takes no arguments"
            load_state
            echo "unix:$dir/db.sock"
            ;;
        link) set_dir "$d"; cmd_link "$@" ;;
        host-link) set_dir "$d"; cmd_host_link "$@" ;;
        ns) set_dir "$d"; cmd_ns "$@" ;;
        *) die "unknown command '$cmd' (see --help)" ;;
    esac
}

main "$@"
