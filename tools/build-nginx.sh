#!/usr/bin/env bash
# Builds one nginx release from its source archive, for the version matrix.
#
#   tools/build-nginx.sh VERSION [BUILD_DIR]
#   tools/build-nginx.sh --flags      prints the configure flags
#
# Takes ${NGINX_SOURCES:-../shared/nginx}/nginx-VERSION.tar.gz (a release
# tarball, or a tree laid out as in the nginx repository, with
# auto/configure), unpacks it in BUILD_DIR/nginx-VERSION/src (default
# BUILD_DIR: ./build), builds it in BUILD_DIR/nginx-VERSION/objs (the tree
# stays clean for tools/build-module.sh) and prints the path of the binary,
# BUILD_DIR/nginx-VERSION/sbin/nginx.
# A second run with the same archive and flags does nothing.
#
# The flags (NGINX_MATRIX_FLAGS overrides them) are Debian 12's modules that
# the suites use: auth_request (t/policy-nginx.t), HTTP/2 and ssl (t/tls.t),
# debug logging, threads, plus realip and stub_status as Debian has them;
# limit_req, limit_conn, map, mirror and proxy are built by default.  The
# module is built against the same tree and flags (tools/test-matrix.sh).
# NGINX_CC_OPT and NGINX_LD_OPT go to configure's --with-cc-opt and
# --with-ld-opt (make test-asan: -fsanitize=address,undefined); give such a
# build its own BUILD_DIR.  Both are part of the cache key, as the flags are.
# Paths: the prefix is BUILD_DIR/nginx-VERSION/prefix; the error log, pid and
# temp paths are relative to the prefix, so `nginx -p DIR` (Test::Nginx)
# writes everything under DIR, as root or not.
set -euo pipefail

flags=${NGINX_MATRIX_FLAGS:---with-compat --with-threads --with-debug
    --with-pcre-jit --with-http_ssl_module --with-http_v2_module
    --with-http_auth_request_module --with-http_realip_module
    --with-http_stub_status_module}
# one line: the flags are part of the cache key
flags=$(tr -s ' \n' '  ' <<< "$flags")
flags=${flags% }
cc_opt=${NGINX_CC_OPT:-}
ld_opt=${NGINX_LD_OPT:-}

if [ "${1:-}" = --flags ]; then
    echo "$flags"
    exit 0
fi

top=$(cd "$(dirname "$0")/.." && pwd)
ver=${1:?usage: tools/build-nginx.sh VERSION [BUILD_DIR]}
build=$(realpath -m "${2:-$top/build}")
sources=${NGINX_SOURCES:-$top/../shared/nginx}
archive=$sources/nginx-$ver.tar.gz
out=$build/nginx-$ver
stamp=$out/.nginx-built

if [ ! -f "$archive" ]; then
    echo "build-nginx: no archive $archive (set NGINX_SOURCES)" >&2
    exit 1
fi

want="$(sha256sum < "$archive" | cut -d' ' -f1)|$flags|$out|builddir"
if [ -n "$cc_opt$ld_opt" ]; then
    want="$want|cc-opt=$cc_opt|ld-opt=$ld_opt"
fi
if [ -x "$out/sbin/nginx" ] && [ -f "$stamp" ] \
   && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$out/sbin/nginx"
    exit 0
fi

rm -rf "$out"
mkdir -p "$out/src" "$out/sbin" "$out/prefix/logs" "$out/prefix/conf"
tar -xzf "$archive" -C "$out/src" --strip-components=1

cd "$out/src"
if [ -x configure ]; then
    configure=./configure
elif [ -f auto/configure ]; then
    configure=auto/configure
else
    echo "build-nginx: $archive holds no nginx tree (no configure," \
         "no auto/configure)" >&2
    exit 1
fi

start=$(date +%s)
opts=()
[ -n "$cc_opt" ] && opts+=(--with-cc-opt="$cc_opt")
[ -n "$ld_opt" ] && opts+=(--with-ld-opt="$ld_opt")
# shellcheck disable=SC2086
$configure --prefix="$out/prefix" --builddir="$out/objs" $flags \
    ${opts[@]+"${opts[@]}"} > "$out/nginx-configure.log" 2>&1 || {
    tail -n 30 "$out/nginx-configure.log" >&2
    echo "build-nginx: configure of nginx $ver failed (see $out/nginx-configure.log)" >&2
    exit 1
}
make -j"${MAKE_JOBS:-2}" -f "$out/objs/Makefile" > "$out/nginx-make.log" 2>&1 || {
    tail -n 30 "$out/nginx-make.log" >&2
    echo "build-nginx: make of nginx $ver failed (see $out/nginx-make.log)" >&2
    exit 1
}
cp "$out/objs/nginx" "$out/sbin/nginx"
cp conf/mime.types "$out/prefix/conf/" 2>/dev/null || true
echo $(( $(date +%s) - start )) > "$out/.build-seconds"
printf '%s' "$want" > "$stamp"
echo "build-nginx: nginx $ver built in $(cat "$out/.build-seconds") s" >&2
echo "$out/sbin/nginx"
