#!/usr/bin/env bash
# Installs the Debian packages vmacd needs (when missing) and builds a static
# libopenvswitch from Debian's openvswitch-source into build/ovs/, matching
# the installed ovs-vswitchd.  Idempotent: a second run does nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build/ovs"

packages=(
    build-essential pkg-config autoconf automake libtool
    openvswitch-switch openvswitch-source
    libjansson-dev libev-dev libmicrohttpd-dev libcurl4-openssl-dev
    libssl-dev libcap-ng-dev libunbound-dev libnuma-dev libcmocka-dev
    python3 python3-pytest python3-scapy
    iproute2 iputils-arping iputils-ping tcpdump procps psmisc
    valgrind gnuplot-nox clang curl socat keepalived
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing Debian packages; as root run:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Installing must not start the packages' system daemons (the system
    # ovs-vswitchd, keepalived): the tests run private ones.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    rc=0
    { apt-get update -qq \
      && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        || rc=$?
    [ -z "$made_policy" ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || { echo "deps: apt-get failed ($rc)" >&2; exit "$rc"; }
fi

# The installed switch must not run as the system service inside CI
# sandboxes; our scripts start private daemons.  Nothing to do here.

want=$(ovs-vswitchd --version | sed -n 's/^ovs-vswitchd (Open vSwitch) //p')
tarball=/usr/src/openvswitch/openvswitch.tar.gz
# The stamp names the build flags: a checkout built without TLS rebuilds.
stamp="$build/.built-$want-ssl"
src="$build/openvswitch"

# libopenvswitch and jansson both export json_object(), json_string()...
# (OVS's are accessors of its own JSON type).  Link a copy of the OVS
# archives whose clashing symbols are renamed ovs_*, so that our calls reach
# jansson and OVS's own calls reach OVS.
rename_symbols() {
    local so
    so=$(ls /usr/lib/*/libjansson.so.4 2>/dev/null | head -n 1)
    [ -n "$so" ] || { echo "deps: libjansson.so.4 not found" >&2; exit 1; }
    nm -D --defined-only "$so" | awk '{print $NF}' | sed 's/@.*//' \
        | sort -u > "$build/jansson.syms"
    nm -g --defined-only "$src/lib/.libs/libopenvswitch.a" \
        "$src/lib/.libs/libopenvswitchavx512.a" 2>/dev/null \
        | awk 'NF == 3 {print $3}' | sort -u > "$build/ovs.syms"
    comm -12 "$build/ovs.syms" "$build/jansson.syms" \
        | awk '{print $1, "ovs_" $1}' > "$build/rename.syms"
    for a in libopenvswitch libopenvswitchavx512; do
        objcopy --redefine-syms="$build/rename.syms" \
            "$src/lib/.libs/$a.a" "$build/$a-vmacd.a.tmp"
        mv "$build/$a-vmacd.a.tmp" "$build/$a-vmacd.a"
    done
}

if [ -f "$stamp" ] && [ -f "$src/lib/.libs/libopenvswitch.a" ]; then
    if [ ! -f "$build/libopenvswitch-vmacd.a" ]; then
        rename_symbols
    fi
    exit 0
fi

echo "deps: building libopenvswitch $want from $tarball (about a minute)"
rm -rf "$build"
mkdir -p "$build"
tar -xzf "$tarball" -C "$build"
[ -d "$src" ] || { echo "deps: $tarball did not unpack to openvswitch/" >&2; exit 1; }

have=$(sed -n 's/^AC_INIT(openvswitch, *\([^,]*\),.*/\1/p' "$src/configure.ac")
if [ "$have" != "$want" ]; then
    echo "deps: openvswitch-source is $have but ovs-vswitchd is $want" >&2
    exit 1
fi

cd "$src"
./configure -q --enable-static --disable-shared --enable-ssl \
    > "$build/configure.log" 2>&1 || {
    tail -20 "$build/configure.log" >&2
    exit 1
}
jobs=$(nproc)
built=$(printf 'print-bs:\n\t@echo $(BUILT_SOURCES)\n' \
        | make -s -f Makefile -f - print-bs)
# shellcheck disable=SC2086
{ make -j"$jobs" $built && make -j"$jobs" lib/libopenvswitch.la; } \
    > "$build/make.log" 2>&1 || {
    tail -20 "$build/make.log" >&2
    exit 1
}
rename_symbols
touch "$stamp"
echo "deps: libopenvswitch $want ready in $src"
