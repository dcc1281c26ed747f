#!/usr/bin/env bash
# `make deb`: builds the Debian package vmacd_VERSION_ARCH.deb in build/deb/
# from a copy of the checkout (its tracked and new files, as they are in the
# work tree), with dpkg-buildpackage, offline and from Debian packages only,
# then runs lintian on it.  The copy links this checkout's libopenvswitch
# (build/ovs, made by `make deps`) instead of building it again.
#
# DEB_BUILD_OPTIONS is passed on (e.g. nocheck: skip the unit tests).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/deb"
version=$(cat "$top/VERSION")
debversion=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
if [ "$debversion" != "$version" ]; then
    echo "deb: debian/changelog is at $debversion but VERSION says $version" >&2
    exit 1
fi
[ -f "$top/build/ovs/libopenvswitch-vmacd.a" ] || {
    echo "deb: build/ovs has no libopenvswitch (run make deps)" >&2
    exit 1
}

rm -rf "$out"
src="$out/vmacd-$version"
mkdir -p "$src/build"
cd "$top"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard
else
    find . -path ./build -prune -o -type f -print0
fi | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$src"
ln -s "$(readlink -f "$top/build/ovs")" "$src/build/ovs"

echo "deb: building in $src"
(cd "$src" && dpkg-buildpackage -b -uc -us) > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "deb: dpkg-buildpackage failed; see $out/build.log" >&2
    exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="$out/vmacd_${version}_$arch.deb"
[ -f "$deb" ] || { echo "deb: $deb was not built" >&2; exit 1; }

# Every lintian tag of severity warning or error fails; the overrides in
# debian/vmacd.lintian-overrides say why each is accepted.
lintian --fail-on error,warning --display-info "$deb" | tee "$out/lintian.log"
echo "deb: $deb"
