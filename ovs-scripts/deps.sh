#!/usr/bin/env bash
# Installs the Debian packages a vmacd target needs (only those missing) and,
# for building, a static libopenvswitch from Debian's openvswitch-source in
# build/ovs/.  Idempotent: a second run installs and builds nothing.
#
# usage: deps.sh [PROFILE...]       (default: build)
#        deps.sh --list [PROFILE...] prints the profiles' packages, one a
#                                    line, and does nothing else
#
#   build         what `make` needs: compiler, -dev libraries,
#                 openvswitch-source, scdoc (man pages); builds libopenvswitch
#   unit          `make unit`: cmocka
#   check         `make check`: cmocka, pytest, scapy, a userspace
#                 ovs-vswitchd for the sandboxes, the package tools (the
#                 package test builds and installs the .deb), man,
#                 bash-completion (the completion's test)
#   check-memory  `make check-memory`: check + valgrind
#   demo          `make demo`: the sandbox's switch and tools, curl
#   bench         `make bench`: the sandbox, keepalived, gnuplot, scapy
#   fuzz          `make fuzz`: clang
#   deb           `make deb`: debhelper, lintian, cmocka
#
# Every profile includes build.  Installing never starts the packages'
# system daemons (the system ovs-vswitchd, keepalived): the tests and the
# demo run private ones.  DEPS_NO_INSTALL=1 (set by debian/rules) reports
# missing packages and fails instead of installing them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build/ovs"

build_pkgs=(
    build-essential pkg-config autoconf automake libtool python3
    openvswitch-source
    libjansson-dev libev-dev libmicrohttpd-dev libcurl4-openssl-dev
    libssl-dev libcap-ng-dev libunbound-dev libnuma-dev libsystemd-dev
    scdoc
)
# What the sandboxes (ovs-scripts/sandbox.sh) use: tests, demo and bench.
sandbox_pkgs=(
    openvswitch-switch iproute2 procps python3 iputils-ping tcpdump
)
# The package build runs the unit tests (cmocka) unless nocheck.
deb_pkgs=(debhelper dpkg-dev fakeroot lintian libcmocka-dev)

list_only=
if [ "${1:-}" = --list ]; then
    list_only=1
    shift
fi
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(build)
packages=("${build_pkgs[@]}")
for profile in "${profiles[@]}"; do
    case "$profile" in
        build) ;;
        unit) packages+=(libcmocka-dev) ;;
        check)
            packages+=("${sandbox_pkgs[@]}" "${deb_pkgs[@]}"
                       libcmocka-dev python3-pytest python3-scapy man-db
                       systemd bash-completion)
            ;;
        check-memory)
            packages+=("${sandbox_pkgs[@]}" "${deb_pkgs[@]}"
                       libcmocka-dev python3-pytest python3-scapy man-db
                       systemd bash-completion valgrind)
            ;;
        demo) packages+=("${sandbox_pkgs[@]}" curl) ;;
        bench)
            packages+=("${sandbox_pkgs[@]}" python3-scapy keepalived
                       gnuplot-nox)
            ;;
        fuzz) packages+=(clang) ;;
        deb) packages+=("${deb_pkgs[@]}") ;;
        *)
            echo "deps: unknown profile \"$profile\" (build, unit, check," \
                 "check-memory, demo, bench, fuzz, deb)" >&2
            exit 2
            ;;
    esac
done

# Sets 'missing' to those of the arguments that are not installed.
find_missing() {
    missing=()
    local p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$status" in
            *"install ok installed"*) ;;
            *) missing+=("$p") ;;
        esac
    done
}

mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
if [ -n "$list_only" ]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi
find_missing "${packages[@]}"

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || [ -n "${DEPS_NO_INSTALL:-}" ]; then
        echo "deps: missing Debian packages; as root run:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    # One deps.sh installs at a time (parallel targets, other checkouts);
    # the others wait, then find what is still missing.
    exec 9> /run/lock/vmacd-deps.lock
    flock -w 900 9 || { echo "deps: another deps.sh holds the lock" >&2; exit 1; }
    find_missing "${missing[@]}"
fi

if [ ${#missing[@]} -gt 0 ]; then
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
    # Another apt run (another checkout's deps.sh, unattended upgrades) is
    # waited for instead of failing on its lock.
    lock=(-o DPkg::Lock::Timeout=600)
    rc=0
    { apt-get "${lock[@]}" update -qq \
      && apt-get "${lock[@]}" install -y -qq --no-install-recommends \
             "${missing[@]}"; } || rc=$?
    [ -z "$made_policy" ] || rm -f "$policy"
    [ "$rc" -eq 0 ] || { echo "deps: apt-get failed ($rc)" >&2; exit "$rc"; }
fi
exec 9>&-

# Only building needs libopenvswitch; every profile includes build.
#
# The version comes from the openvswitch-source package (its upstream part:
# "3.1.0-2+deb12u1" -> "3.1.0"), so that building needs no ovs-vswitchd.
pkgver=$(dpkg-query -W -f='${Version}' openvswitch-source)
want=${pkgver#*:}
want=${want%-*}
tarball=/usr/src/openvswitch/openvswitch.tar.gz
# The stamp names the build flags: a checkout built without TLS rebuilds.
stamp="$build/.built-$want-ssl"
src="$build/openvswitch"

if command -v ovs-vswitchd > /dev/null; then
    switch=$(ovs-vswitchd --version | sed -n 's/^ovs-vswitchd (Open vSwitch) //p')
    if [ -n "$switch" ] && [ "$switch" != "$want" ]; then
        echo "deps: note: ovs-vswitchd is $switch, libopenvswitch is $want" \
             "(openvswitch-source)" >&2
    fi
fi

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
    if [ ! -f "$build/libopenvswitch-vmacd.a" ] \
       || [ ! -f "$build/libopenvswitchavx512-vmacd.a" ]; then
        rename_symbols
    fi
    exit 0
fi

echo "deps: building libopenvswitch $want from $tarball (about a minute)"
# build/ovs may be a symbolic link to a shared build: replace the link, never
# what it points to.
if [ -L "$build" ]; then
    rm -f "$build"
else
    rm -rf "$build"
fi
mkdir -p "$build"
tar -xzf "$tarball" -C "$build"
[ -d "$src" ] || { echo "deps: $tarball did not unpack to openvswitch/" >&2; exit 1; }

have=$(sed -n 's/^AC_INIT(openvswitch, *\([^,]*\),.*/\1/p' "$src/configure.ac")
if [ "$have" != "$want" ]; then
    echo "deps: $tarball is $have but the openvswitch-source package is" \
         "$want" >&2
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
# This is a separate build, not part of the calling make's job server.
unset MAKEFLAGS MFLAGS MAKELEVEL
# shellcheck disable=SC2086
{ make -j"$jobs" $built && make -j"$jobs" lib/libopenvswitch.la; } \
    > "$build/make.log" 2>&1 || {
    tail -20 "$build/make.log" >&2
    exit 1
}
rename_symbols
touch "$stamp"
echo "deps: libopenvswitch $want ready in $src"
