#!/usr/bin/env bash
# "make demo": vmacd in a private Open vSwitch sandbox, failover shown live.
# Run "demo.sh --help" for what it does.  Needs root; builds nothing (make
# demo builds first).
set -euo pipefail

# Paths relative to the repository, so the commands shown read as typed.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly HERE=ovs-scripts
readonly PY=/usr/bin/python3
readonly VMACD=${VMACD_BIN:-build/bin/vmacd}
readonly VMACCTL=${VMACCTL_BIN:-build/bin/vmacctl}
readonly SANDBOX_SH=$HERE/sandbox.sh

readonly ALIAS4=192.0.2.100 ALIAS6=2001:db8::100
readonly VMAC=02:00:5e:00:01:01
readonly PORT=7000                 # demo-service.py's UDP/TCP port.

usage() {
    cat <<'EOF'
usage: demo.sh [--keep]

Builds a sandbox (private ovsdb-server + userspace ovs-vswitchd in network
namespaces of their own):

    c1 192.0.2.1   ─c1-p─┐
    m1 192.0.2.11  ─m1-p─┤
    m2 192.0.2.12  ─m2-p─┼─ br0 ─up0══phys-up─ phys ─p1-p─ p1 192.0.2.50
    m3 192.0.2.13  ─m3-p─┘  (vmacd)           (standalone: the "physical" segment)

runs vmacd with alias "web" (192.0.2.100, 2001:db8::100, VMAC
02:00:5e:00:01:01; members m1 > m2 > m3 by priority, each carrying the
alias on lo and answering its own name on UDP/TCP port 7000), then shows:
br0, made like a plain "ovs-vsctl add-br" (fail_mode standalone), set to
fail_mode=secure by vmacd over OVSDB, the client resolving the alias to the VMAC (answered by a flow), traffic
reaching m1, a 1 kHz UDP prober while m1's link goes down (traffic moves
to m2, the client's neighbor entry stays, gratuitous ARPs leave on the
uplink) and comes back (traffic returns to m1), and the timeline.

  --keep   leave the sandbox and vmacd running afterwards and print how to
           explore and stop them (also after a failure)
  -h, --help  this help

Exit status 0 if every check passed; otherwise 1 with the reason.
EOF
}

KEEP=false
for arg in "$@"; do
    case $arg in
        --keep) KEEP=true ;;
        -h|--help) usage; exit 0 ;;
        *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

# --- output helpers ---------------------------------------------------------

if [ -t 1 ]; then
    BOLD=$'\e[1m' RED=$'\e[31m' GREEN=$'\e[32m' RESET=$'\e[0m'
else
    BOLD='' RED='' GREEN='' RESET=''
fi
T_START_NS=$(date +%s%N)
exec 3>&2                          # fail() reaches the terminal from anywhere.

section() {
    printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$RESET"
}

ok() {
    printf '%sok%s: %s\n' "$GREEN" "$RESET" "$*"
}

fail() {
    printf '\n%sdemo FAILED%s: %s\n' "$RED$BOLD" "$RESET" "$*" >&3
    exit 1
}

# Prints "[HOST]$ CMD" (or "$ CMD" for HOST "-"), then runs CMD, in HOST's
# namespace unless HOST is "-".
show() {
    local host=$1
    shift
    if [ "$host" = - ]; then
        printf '$ %s\n' "$*"
        "$@"
    else
        printf '[%s]$ %s\n' "$host" "$*"
        in_host "$host" "$@"
    fi
}

# Prints a command line as "$ ..." without running it.
cmdline() {
    printf '$ %s\n' "$*"
}

# --- sandbox helpers --------------------------------------------------------

DIR=                               # Everything of this run lives in DIR.
SB=                                # The sandbox directory (DIR/ovs).
PREFIX=vd$$-
VMACD_PID=
PROBER_PID=
TCPDUMP_PID=
SERVICE_PIDS=()
SANDBOX_STARTED=false
DONE=false

# in_host HOST CMD...: CMD in HOST's namespace, at most 20 s.
in_host() {
    local host=$1
    shift
    timeout 20 ip netns exec "$PREFIX$host" "$@"
}

# bg_in_host HOST CMD...: the same, in the background, unbounded ($! is
# CMD's PID: "ip netns exec" execs it).
bg_in_host() {
    local host=$1
    shift
    ip netns exec "$PREFIX$host" "$@" &
}

ofctl() {
    OVS_RUNDIR=$SB timeout 10 ovs-ofctl -O OpenFlow15 "$@"
}

vsctl() {
    timeout 20 ovs-vsctl --timeout=10 --db="unix:$SB/db.sock" "$@"
}

api() {
    timeout 5 curl -sf --unix-socket "$DIR/api.sock" "http://localhost$1"
}

# json_get PATH EXPR: EXPR (Python, over "d") evaluated on GET PATH.
json_get() {
    api "$1" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

# wait_for WHAT SECONDS CMD...: polls CMD every 50 ms; fails the demo once
# SECONDS have passed (CMD is tried a last time at the deadline).
wait_for() {
    local what=$1 secs=$2 deadline
    shift 2
    deadline=$(($(date +%s%N) + secs * 1000000000))
    while true; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if [ "$(date +%s%N)" -ge "$deadline" ]; then
            fail "timed out after ${secs} s waiting for $what"
        fi
        sleep 0.05
    done
}

alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# stop_pid PID: SIGTERM, SIGKILL after 5 s.
stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

keep_message() {
    cat <<EOF

${BOLD}== Left running (--keep) ==${RESET}
Explore:
  source ovs-scripts/env.sh $SB
  ovs-ofctl -O OpenFlow15 dump-flows br0
  ovs-ofctl -O OpenFlow15 dump-groups br0
  $VMACCTL --socket $DIR/api.sock status
  $VMACCTL --socket $DIR/api.sock alias show web
  ip netns exec ${PREFIX}c1 ping $ALIAS4
  ip netns exec ${PREFIX}c1 $PY ovs-scripts/demo-service.py ask udp $ALIAS4
  ovs-scripts/sandbox.sh link $SB m1-p down     # and: up
vmacd (PID ${VMACD_PID:-not started}) logs to $DIR/vmacd.log; config: $DIR/vmacd.json.
Stop everything:
  ${VMACD_PID:+kill $VMACD_PID; }ovs-scripts/sandbox.sh stop $SB; rm -rf $DIR
EOF
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ -n "$DIR" ] && [ -f "$DIR/vmacd.log" ]; then
        echo "--- last lines of $DIR/vmacd.log ---" >&2
        tail -n 15 "$DIR/vmacd.log" >&2 || true
    fi
    # The prober and the capture are not part of what --keep leaves.
    stop_pid "$PROBER_PID"
    stop_pid "$TCPDUMP_PID"
    if $KEEP && [ -n "$DIR" ]; then
        keep_message
        exit "$rc"
    fi
    local pid
    stop_pid "$VMACD_PID"
    for pid in "${SERVICE_PIDS[@]}"; do
        stop_pid "$pid"
    done
    if $SANDBOX_STARTED; then
        "$SANDBOX_SH" stop "$SB" >/dev/null 2>&1 \
            || echo "demo.sh: sandbox.sh stop $SB failed" >&2
    fi
    if [ -n "$DIR" ]; then
        rm -rf "$DIR"
    fi
    if [ "$rc" -eq 0 ] && $DONE; then
        printf '\nCleaned up (sandbox stopped, vmacd stopped, %s removed).\n' \
            "$DIR"
    fi
    exit "$rc"
}

# --- preflight --------------------------------------------------------------

[ "$(id -u)" -eq 0 ] \
    || { echo "demo.sh: needs root (network namespaces, veths, OVS)" >&2; exit 1; }
for tool in ip ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl tcpdump curl \
        timeout "$PY"; do
    command -v "$tool" >/dev/null \
        || { echo "demo.sh: $tool is missing (run make deps)" >&2; exit 1; }
done
for bin in "$VMACD" "$VMACCTL"; do
    [ -x "$bin" ] \
        || { echo "demo.sh: $bin is missing (run make)" >&2; exit 1; }
done

# Any other failing command also ends the demo with a message (in the main
# shell only: a failing subshell is reported by the command that ran it).
set -E
trap '[ "$BASHPID" != $$ ] || fail "line $LINENO: \"$BASH_COMMAND\" failed"' ERR
trap cleanup EXIT
trap 'echo "demo.sh: interrupted, cleaning up" >&3; exit 130' INT
trap 'echo "demo.sh: terminated, cleaning up" >&3; exit 143' TERM

DIR=$(mktemp -d /tmp/vmacd-demo.XXXXXX)
SB=$DIR/ovs

# --- 1. topology ------------------------------------------------------------

section "1. Sandbox: bridge br0 (vmacd's), client c1, members m1-m3, uplink to p1"
"$SANDBOX_SH" start "$SB" "$PREFIX"
SANDBOX_STARTED=true
"$SANDBOX_SH" add-bridge "$SB" phys none
# As a plain "ovs-vsctl add-br" leaves it: no fail_mode (standalone).
"$SANDBOX_SH" add-bridge "$SB" --fail-mode none br0 "unix:$SB/of.sock" \
    up0:phys:phys-up
"$SANDBOX_SH" add-host "$SB" p1 phys p1-p 02:00:00:00:00:50 \
    192.0.2.50/24 2001:db8::50/64
"$SANDBOX_SH" add-host "$SB" c1 br0 c1-p 02:00:00:00:00:01 \
    192.0.2.1/24 2001:db8::1/64
for i in 1 2 3; do
    "$SANDBOX_SH" add-host "$SB" "m$i" br0 "m$i-p" "02:00:00:00:00:1$i" \
        "192.0.2.1$i/24" "2001:db8::1$i/64"
    # Like LVS direct routing: the alias on lo, never answered over ARP.
    in_host "m$i" ip addr add "$ALIAS4/32" dev lo
    in_host "m$i" ip addr add "$ALIAS6/128" dev lo
    in_host "m$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    bg_in_host "m$i" "$PY" "$HERE/demo-service.py" serve "m$i" \
        "$ALIAS4" "$ALIAS6" --port "$PORT" --ready-file "$DIR/m$i.ready" \
        >"$DIR/m$i.log" 2>&1
    SERVICE_PIDS+=($!)
done
for i in 1 2 3; do
    wait_for "the name service on m$i" 10 test -s "$DIR/m$i.ready"
done
cat <<EOF
sandbox $SB (namespaces ${PREFIX}*):

    c1 192.0.2.1   ─c1-p─┐
    m1 192.0.2.11  ─m1-p─┤
    m2 192.0.2.12  ─m2-p─┼─ br0 ─up0══phys-up─ phys ─p1-p─ p1 192.0.2.50
    m3 192.0.2.13  ─m3-p─┘  (vmacd)           (standalone: the "physical" segment)

EOF
show m1 ip -br addr show dev lo
ok "topology up; name service listening on m1, m2, m3 (port $PORT)"

# --- 2. vmacd ---------------------------------------------------------------

section "2. vmacd: alias web = $ALIAS4 + $ALIAS6, VMAC $VMAC"
sed -e "s|@OF_SOCKET@|$SB/of.sock|" -e "s|@API_SOCKET@|$DIR/api.sock|" \
    -e "s|@OVSDB_REMOTE@|unix:$SB/db.sock|" \
    "$HERE/demo.json.in" >"$DIR/vmacd.json"
cmdline "ovs-vsctl get bridge br0 fail_mode"
fail_mode_before=$(vsctl get bridge br0 fail_mode)
echo "$fail_mode_before   (empty: OVS runs it standalone, fail-open ~15 s" \
    "after its controller is gone)"
"$VMACD" --check-config --config "$DIR/vmacd.json" >/dev/null \
    || fail "vmacd refused the demo config $DIR/vmacd.json"
"$VMACD" --config "$DIR/vmacd.json" >"$DIR/vmacd.log" 2>&1 </dev/null &
VMACD_PID=$!
echo "vmacd running (PID $VMACD_PID), config $DIR/vmacd.json"

bridge_connected() {
    alive "$VMACD_PID" || fail "vmacd exited"
    [ "$(json_get /v1/bridges/br0 'd.get("connected")')" = True ]
}
master_is() {
    [ "$(json_get /v1/aliases/web 'd.get("master")')" = "$1" ]
}
fail_mode_is() {
    [ "$(vsctl get bridge br0 fail_mode)" = "$1" ]
}
wait_for "vmacd to report bridge br0 connected" 10 bridge_connected
wait_for "alias web to have master m1" 5 master_is m1
wait_for "vmacd to set br0's fail_mode to secure" 10 fail_mode_is secure
cmdline "ovs-vsctl get bridge br0 fail_mode"
vsctl get bridge br0 fail_mode
grep "fail_mode was" "$DIR/vmacd.log" | sed 's/^/  vmacd: /'
ok "vmacd made br0 secure over OVSDB: its flows outlive vmacd"
show - "$VMACCTL" --socket "$DIR/api.sock" alias show web
COOKIE=$(json_get /v1/aliases/web 'd["cookie"]')
GROUP=$(json_get /v1/aliases/web 'd["group_id"]')
ok "br0 connected, master m1; web's flows carry cookie $COOKIE, group $GROUP"

# --- 3. resolution ----------------------------------------------------------

section "3. c1 resolves the alias: answered by a flow in br0, not by a host"
# The ARP responder: priority 300, arp_op=1 for the alias (the 310 flow only
# matches members' own requests).
arp_responder() {
    ofctl dump-flows br0 "cookie=$COOKIE/-1" \
        | grep "priority=300,arp,arp_tpa=$ALIAS4,arp_op=1 "
}
n_packets() {
    sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p'
}
arp_before=$(arp_responder | n_packets) \
    || fail "br0 has no ARP responder flow for $ALIAS4"
echo "ARP responder flow before: n_packets=$arp_before"
show c1 ping -q -c 1 -W 2 "$ALIAS4" || fail "c1 cannot ping $ALIAS4"
show c1 ping -q -6 -c 1 -W 2 "$ALIAS6" || fail "c1 cannot ping $ALIAS6"
show c1 ip neigh show "$ALIAS4"
show c1 ip -6 neigh show "$ALIAS6"
neigh_mac() {
    in_host c1 ip neigh show "$1" | sed -n 's/.* lladdr \([0-9a-f:]*\).*/\1/p'
}
[ "$(neigh_mac "$ALIAS4")" = "$VMAC" ] \
    || fail "c1 did not resolve $ALIAS4 to the VMAC $VMAC"
[ "$(neigh_mac "$ALIAS6")" = "$VMAC" ] \
    || fail "c1 did not resolve $ALIAS6 to the VMAC $VMAC"
cmdline "ovs-ofctl -O OpenFlow15 dump-flows br0 cookie=$COOKIE/-1" \
    "| grep priority=300,arp,"
arp_responder
arp_after=$(arp_responder | n_packets) \
    || fail "br0 has no ARP responder flow for $ALIAS4"
[ "${arp_after:-0}" -gt "${arp_before:-0}" ] \
    || fail "the ARP responder flow did not count c1's request"
ok "c1 sees the VMAC for both addresses; the ARP responder counted" \
    "$((arp_after - arp_before)) request(s)"

# --- 4. service -------------------------------------------------------------

section "4. Traffic to the alias reaches the master, m1"
for proto in udp tcp; do
    for addr in "$ALIAS4" "$ALIAS6"; do
        answer=$(show c1 "$PY" "$HERE/demo-service.py" ask "$proto" "$addr" \
            --port "$PORT") || fail "no $proto answer from $addr"
        echo "$answer"
        [ "$(tail -n 1 <<<"$answer")" = m1 ] \
            || fail "$proto to $addr answered by '$(tail -n 1 <<<"$answer")', not m1"
    done
done
ok "m1 answers on UDP and TCP, IPv4 and IPv6"

# --- 5. failover ------------------------------------------------------------

section "5. m1's link goes down under 1 kHz UDP probing, then comes back"
bg_in_host p1 tcpdump -i eth0 -nn -U -w "$DIR/uplink.pcap" "arp or icmp6" \
    >/dev/null 2>"$DIR/tcpdump.log"
TCPDUMP_PID=$!
wait_for "tcpdump on p1" 5 grep -q "listening on" "$DIR/tcpdump.log"
echo "capturing ARP and ICMPv6 on p1 (the physical segment behind up0)"

bg_in_host c1 "$PY" "$HERE/demo-prober.py" run "$ALIAS4" --port "$PORT" \
    --rate 1000 --out "$DIR/probe.json" --status "$DIR/probe.status" \
    --max-seconds 60 >"$DIR/prober.log" 2>&1
PROBER_PID=$!
# prober_at NAME [MIN]: the latest reply came from NAME, with at least MIN
# replies so far.
prober_at() {
    alive "$PROBER_PID" || fail "the prober exited ($(cat "$DIR/prober.log"))"
    local answered last
    read -r _ answered last <"$DIR/probe.status" || return 1
    [ "$last" = "$1" ] && [ "$answered" -ge "${2:-0}" ]
}
wait_for "the prober's first 300 replies from m1" 5 prober_at m1 300
echo "prober: UDP to $ALIAS4:$PORT from c1 at 1000/s; $(cut -d' ' -f2 \
    "$DIR/probe.status") replies so far, all from m1"

echo "c1's neighbor entry before:"
show c1 ip neigh show "$ALIAS4"
mac_before=$(neigh_mac "$ALIAS4")

T_DOWN0=$(date +%s.%N)
show - "$SANDBOX_SH" link "$SB" m1-p down
T_DOWN1=$(date +%s.%N)
wait_for "traffic to move to m2" 5 prober_at m2
ok "the prober's replies now come from m2"
cmdline "ovs-ofctl -O OpenFlow15 dump-groups br0 $GROUP"
ofctl dump-groups br0 "$GROUP" | tail -n +2
master_is m2 || fail "vmacd does not report m2 as master"

# garps_since T: ARP frames from the VMAC captured after T.
garps_since() {
    timeout 10 tcpdump -r "$DIR/uplink.pcap" -nn -tt \
        "arp and ether src $VMAC" 2>/dev/null \
        | awk -v t="$1" '$1 >= t' | wc -l
}
at_least() {
    [ "$("$1" "$2")" -ge "$3" ]
}
wait_for "3 gratuitous ARPs on the uplink" 5 at_least garps_since "$T_DOWN0" 3

echo "c1's neighbor entry after:"
show c1 ip neigh show "$ALIAS4"
[ "$(neigh_mac "$ALIAS4")" = "$mac_before" ] \
    || fail "c1's neighbor entry for $ALIAS4 changed"
ok "c1's entry still says $mac_before: the client noticed nothing"

sleep 0.3                          # Let m2 serve for a moment.
T_UP0=$(date +%s.%N)
show - "$SANDBOX_SH" link "$SB" m1-p up
T_UP1=$(date +%s.%N)
wait_for "traffic to return to m1" 5 prober_at m1
wait_for "alias web to have master m1 again" 5 master_is m1
ok "m1 is back: vmacd preempted, the prober's replies come from m1"
wait_for "3 more gratuitous ARPs on the uplink" 5 \
    at_least garps_since "$T_UP0" 3
sleep 0.2

stop_pid "$PROBER_PID"
PROBER_PID=
[ -s "$DIR/probe.json" ] \
    || fail "the prober wrote no results ($(cat "$DIR/prober.log"))"
stop_pid "$TCPDUMP_PID"
TCPDUMP_PID=

section "6. What the physical segment saw: announcements from the VMAC"
echo "frames from $VMAC captured on p1 (t=0: the link-down command):"
timeout 10 tcpdump -r "$DIR/uplink.pcap" -nn -tt "ether src $VMAC" \
    2>/dev/null \
    | awk -v t0="$T_DOWN0" '$1 >= t0 {
          t = $1; $1 = ""; printf "  t=%9.1f ms %s\n", (t - t0) * 1000, $0 }'
n_down=$(($(garps_since "$T_DOWN0") - $(garps_since "$T_UP0")))
n_up=$(garps_since "$T_UP0")
ok "$n_down gratuitous ARP(s) after the failover, $n_up after the switch-back" \
    "(plus unsolicited NAs for $ALIAS6)"

section "7. Timeline"
api "/v1/events?follow=false" >"$DIR/events.jsonl" \
    || fail "cannot read vmacd's events"
show - "$VMACCTL" --socket "$DIR/api.sock" events
echo
"$PY" "$HERE/demo-prober.py" report "$DIR/probe.json" \
    --events "$DIR/events.jsonl" --down "$T_DOWN0" "$T_DOWN1" \
    --up "$T_UP0" "$T_UP1" --from m1 --to m2 --link m1-p \
    || fail "the failover checks above did not pass"

DONE=true
tenths=$((($(date +%s%N) - T_START_NS) / 100000000))
printf '\n%sDemo passed%s in %d.%d s.\n' "$GREEN$BOLD" "$RESET" \
    $((tenths / 10)) $((tenths % 10))
