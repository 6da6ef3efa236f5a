#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-http-kafka-gateway with Debian's
# tools (dpkg-buildpackage, debhelper and nginx-dev's dh-sequence-nginx):
#
#   tools/build-deb.sh [BUILD_DIR]
#
# The package is built from a copy of the tree in BUILD_DIR/deb/src, so the
# working tree stays clean; the .deb is moved to BUILD_DIR, the .changes,
# .buildinfo, -dbgsym package and the build log stay in BUILD_DIR/deb.
#
# The copy gets the two files debian/ does not carry, so that nothing is
# said twice: debian/changelog (version VERSION-1, dated from the last
# commit) and debian/copyright (the text of LICENSE).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
work=$build/deb
src=$work/src
pkg=libnginx-mod-http-kafka-gateway
maint=$(sed -n 's/^Maintainer: //p' "$top/debian/control")

version=$(cat "$top/VERSION")
case $version in
    [0-9]*) ;;
    *) echo "build-deb: VERSION holds \"$version\", not a version" >&2; exit 1 ;;
esac

rm -rf "$work"
mkdir -p "$src"
cp -a "$top/config" "$top/src" "$top/debian" "$top/examples" \
      "$top/README.md" "$top/nginx.conf.sample" "$top/LICENSE" \
      "$top/VERSION" "$src/"

# the date of the last commit, so the same commit builds the same package
# (dpkg-buildpackage takes SOURCE_DATE_EPOCH from the changelog)
if date=$(git -C "$top" log -1 --format=%cD 2>/dev/null) && [ -n "$date" ]
then
    rev=$(git -C "$top" describe --always --dirty 2>/dev/null)
else
    date=$(date -R -r "$top/VERSION")
    rev=
fi

# shellcheck disable=SC1091
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")

cat > "$src/debian/changelog" <<CHANGELOG
nginx-kafka-gateway ($version-1) ${codename:-unstable}; urgency=medium

  * nginx-kafka-gateway $version${rev:+ (git $rev)}, built for this
    system's nginx (the nginx-abi dependency says which).

 -- $maint  $date
CHANGELOG

{
    cat <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nginx-kafka-gateway

Files: *
Copyright: $(sed -n 's/^Copyright (c) //p' "$top/LICENSE")
License: BSD-2-Clause

License: BSD-2-Clause
COPYRIGHT
    # the license text after its title and copyright lines, as a
    # copyright-format paragraph: indented, empty lines as " ."
    sed -n '/^Redistribution/,$p' "$top/LICENSE" | sed -e 's/^$/./' -e 's/^/ /'
} > "$src/debian/copyright"

echo "build-deb: building $pkg $version-1 in $work (log: $work/build.log)"
(cd "$src" && dpkg-buildpackage -b -us -uc) > "$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (log: $work/build.log)" >&2
    exit 1
}

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=${pkg}_$version-1_$arch.deb
mv -f "$work/$deb" "$build/$deb"
echo "built $build/$deb"
