#!/usr/bin/env bash
# Builds ngx_http_kafka_gateway_module.so against an nginx source tree.
#
#   tools/build-module.sh [BUILD_DIR]
#
# NGINX_SRC: the nginx tree (default: Debian's nginx-dev copy at
# /usr/share/nginx/src, whose "conf_flags" file holds the configure flags of
# Debian's /usr/sbin/nginx).  A release tarball's tree (./configure) or one
# laid out as in the nginx repository (auto/configure, run from the top of
# the tree) will do.  A tree without conf_flags is configured with
# --with-compat --with-threads plus NGINX_CONFIGURE_FLAGS, so the module
# loads into an nginx of the same version built with --with-compat.
# MODULE_CC_OPT: extra compiler flags (e.g. -fsanitize=address).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
src=$(realpath -m "${NGINX_SRC:-/usr/share/nginx/src}")
tree=$build/nginx
stamp=$tree/.configured

if [ ! -e "$src" ]; then
    if [ -n "${NGINX_SRC:-}" ]; then
        echo "build-module: NGINX_SRC=$src does not exist" >&2
    else
        echo "build-module: no nginx source tree at $src (apt-get install nginx-dev, or set NGINX_SRC)" >&2
    fi
    exit 1
elif [ ! -d "$src" ]; then
    echo "build-module: $src is not a directory (unpack the nginx archive and set NGINX_SRC to its top folder)" >&2
    exit 1
elif [ ! -f "$src/src/core/nginx.h" ]; then
    echo "build-module: $src is not the top of an nginx source tree (no src/core/nginx.h)" >&2
    exit 1
elif [ -f "$src/configure" ]; then
    configure=configure             # release tarball, Debian's nginx-dev
elif [ -f "$src/auto/configure" ]; then
    configure=auto/configure        # layout of the nginx repository
else
    echo "build-module: $src has neither configure nor auto/configure" >&2
    exit 1
fi

version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$src/src/core/nginx.h")
want="$src|$version|${NGINX_CONFIGURE_FLAGS:-}|${MODULE_CC_OPT:-}|$(cat "$top/config")"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    rm -rf "$tree"
    mkdir -p "$build"
    cp -a "$src" "$tree"
    cd "$tree"

    if [ -f conf_flags ]; then
        # shellcheck disable=SC1091
        . ./conf_flags
    else
        NGX_CONF_FLAGS=(--with-compat --with-threads)
    fi

    # shellcheck disable=SC2086
    sh $configure "${NGX_CONF_FLAGS[@]}" ${NGINX_CONFIGURE_FLAGS:-} \
        --with-cc-opt="-O2 -g -fPIC -fstack-protector-strong ${MODULE_CC_OPT:-}" \
        --add-dynamic-module="$top" > "$build/configure.log" 2>&1 || {
            tail -n 30 "$build/configure.log" >&2
            exit 1
        }

    printf '%s' "$want" > "$stamp"
fi

cd "$tree"
make -s -f objs/Makefile modules
# replaced by rename: a running nginx maps the old file, and overwriting it
# in place corrupts that nginx's code on its next reload
cp objs/ngx_http_kafka_gateway_module.so "$build/.module.so.tmp"
mv -f "$build/.module.so.tmp" "$build/ngx_http_kafka_gateway_module.so"
echo "built $build/ngx_http_kafka_gateway_module.so"
