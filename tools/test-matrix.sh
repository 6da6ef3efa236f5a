#!/usr/bin/env bash
# Builds the module against other nginx releases and runs the suites there:
#
#   tools/test-matrix.sh [BUILD_DIR]          ("make test-matrix")
#
# For each version: nginx from ${NGINX_SOURCES:-../shared/nginx} built once
# (tools/build-nginx.sh, cached), the module built against that tree with
# the same flags (BUILD_DIR/nginx-VERSION/ngx_http_kafka_gateway_module.so,
# -Werror as always), a load check ("nginx -t" of a configuration that loads
# the module and uses it), then prove with a dev broker of its own:
#
#   NGINX_MATRIX_FULL     versions that run the whole suite, t/*.t
#                         (default: 1.31.4, the newest mainline)
#   NGINX_MATRIX_SMOKE    versions that run NGINX_MATRIX_SMOKE_TESTS
#                         (default: 1.24.0 1.26.3 1.30.4)
#   NGINX_MATRIX_SMOKE_TESTS   (default: produce, SSE, JWT and "nginx -t"
#                         checks: t/core.t t/produce-raw.t t/sse-basic.t
#                         t/jwt-challenge.t)
#
# Without the sources it says so in one line and succeeds: a user's clone
# has no ../shared.  Prints a table at the end; fails if any step failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
sources=${NGINX_SOURCES:-../shared/nginx}
full=${NGINX_MATRIX_FULL-1.31.4}
smoke=${NGINX_MATRIX_SMOKE-1.24.0 1.26.3 1.30.4}
smoke_tests=${NGINX_MATRIX_SMOKE_TESTS:-t/core.t t/produce-raw.t t/sse-basic.t t/jwt-challenge.t}

cd "$top" || exit 1

if [ ! -d "$sources" ]; then
    echo "test-matrix: skipped: no nginx sources at $sources" \
         "(set NGINX_SOURCES=DIR holding nginx-VERSION.tar.gz)"
    exit 0
fi
NGINX_SOURCES=$(cd "$sources" && pwd)
export NGINX_SOURCES

# as the Makefile does: the real Test::Nginx when installed, else t/compat
prove_inc=(-I t/lib)
perl -MTest::Nginx::Socket -e1 2> /dev/null || prove_inc+=(-I t/compat)

export KAFKA_DEV_BROKER=${KAFKA_DEV_BROKER:-$build/kafka-dev-broker}
export KAFKA_DEV_DUMP=${KAFKA_DEV_DUMP:-$build/kafka-dev-dump}

flags=$(tools/build-nginx.sh --flags)
rows=()
failed=0

# load_check NGINX MODULE DIR: "nginx -t" with the module loaded and its
# three parts (produce, SSE, JWT) configured
load_check() {
    local nginx=$1 module=$2 dir=$3

    rm -rf "$dir"
    mkdir -p "$dir/conf" "$dir/logs"
    printf '%064d\n' 0 > "$dir/conf/hmac.key"
    cat > "$dir/conf/nginx.conf" <<EOF
load_module $module;
events { }
http {
    kafka_brokers 127.0.0.1:9092;
    server {
        listen 127.0.0.1:1;
        location /produce { kafka_produce test; }
        location /events { kafka_consume_sse test; }
        location /jwt {
            kafka_jwt kafka;
            kafka_jwt_key_type hmac;
            kafka_jwt_key_file hmac.key;
            kafka_produce test;
        }
    }
}
EOF
    "$nginx" -p "$dir/" -c conf/nginx.conf -e stderr -t
}

# run_version VERSION TESTS...: one row of the table
run_version() {
    local ver=$1; shift
    local out=$build/nginx-$ver
    local log=$build/nginx-$ver.prove.log
    local module=$out/ngx_http_kafka_gateway_module.so
    local nginx t0 result=FAIL counts='-' tn='-' tm='-' tp='-'

    echo "=== nginx $ver"
    mkdir -p "$build"

    t0=$(date +%s)
    if ! nginx=$(tools/build-nginx.sh "$ver" "$build"); then
        result='FAIL: nginx build'
    else
        tn=$(cat "$out/.build-seconds" 2> /dev/null || echo '?')
        [ $(( $(date +%s) - t0 )) -lt 5 ] && tn="$tn (cached)"

        t0=$(date +%s)
        if ! NGINX_SRC=$out/src NGINX_CONFIGURE_FLAGS="$flags" \
             tools/build-module.sh "$out"; then
            result='FAIL: module build'
        else
            tm=$(( $(date +%s) - t0 ))
            if ! load_check "$nginx" "$module" "$out/load-check"; then
                result='FAIL: load check'
            else
                t0=$(date +%s)
                # glibc fills new allocations with a pattern, so that a
                # field left uninitialised (h->next before 1.23's lists
                # were handled) fails every time, not by chance
                # t/produce-recovery.t: 2 outages, not make test's 10
                GLIBC_TUNABLES=glibc.malloc.perturb=165 \
                TEST_NGINX_RECOVERY_TRIALS=${TEST_NGINX_RECOVERY_TRIALS:-2} \
                TEST_NGINX_BINARY=$nginx TEST_NGINX_LOAD_MODULES=$module \
                    tools/with-broker.sh prove "${prove_inc[@]}" "$@" 2>&1 \
                    | tee "$log"
                [ "${PIPESTATUS[0]}" = 0 ] && result=PASS
                tp=$(( $(date +%s) - t0 ))
                counts=$(sed -n 's/^\(Files=[0-9]*, Tests=[0-9]*\),.*/\1/p' \
                         "$log")
                # prove's summary: "t/x.t (Wstat: ... Tests: 59 Failed: 3)"
                counts="$counts$(sed -n 's/^\(t\/[^ ]*\) .*Failed: \([0-9]*\))$/; \1 failed \2/p' "$log" | tr -d '\n')"
            fi
        fi
    fi

    [ "$result" = PASS ] || failed=1
    rows+=("$ver|$result|${counts:-no summary}|$tn|$tm|$tp")
}

for ver in $full; do
    # shellcheck disable=SC2086
    run_version "$ver" t/*.t
done
for ver in $smoke; do
    # shellcheck disable=SC2086
    run_version "$ver" $smoke_tests
done

echo
echo "test-matrix: nginx | result | prove | nginx build s | module build s | prove s"
for row in "${rows[@]}"; do
    echo "test-matrix: ${row//|/ | }"
done

exit $failed
