#!/usr/bin/env bash
# libFuzzer targets for the module's parsers of client input (fuzz/README.md
# says what each covers):
#
#   tools/fuzz.sh [BUILD_DIR]            ("make fuzz")
#
# FUZZ_SECONDS   how long each target runs (default 15: CI); by hand, e.g.
#                FUZZ_SECONDS=600 make fuzz
# FUZZ_TARGETS   which targets (default: every fuzz/fuzz_NAME.c)
#
# nginx NGINX_FUZZ_VERSION (default 1.31.4) is built from
# ${NGINX_SOURCES:-../shared/nginx} by tools/build-nginx.sh with clang-14
# and -fsanitize=fuzzer-no-link,address,undefined into
# BUILD_DIR/fuzz/nginx-VERSION (cached; only the core and the http modules
# a request needs), with NGX_DEBUG_PALLOC so that every pool allocation is
# its own malloc() and AddressSanitizer sees overflows inside pools.  The
# module's sources are compiled with the same flags, and each
# fuzz/fuzz_NAME.c is linked with them and nginx's objects (its main()
# renamed: libFuzzer has its own) into BUILD_DIR/fuzz/fuzz_NAME.
#
# Each target first replays fuzz/regress/NAME/* (inputs that once crashed
# it), then runs for FUZZ_SECONDS from its seeds (fuzz/corpus/NAME) and the
# corpus it grew before (BUILD_DIR/fuzz/corpus/NAME, kept between runs).
# A crash, a sanitizer report, a leak or a timeout fails the run; the input
# is kept in BUILD_DIR/fuzz/crashes/NAME/ and the report in
# BUILD_DIR/fuzz/NAME.log.  Reproduce with BUILD_DIR/fuzz/fuzz_NAME FILE.
#
# Without the nginx sources it says so in one line and succeeds.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
sources=${NGINX_SOURCES:-../shared/nginx}
ver=${NGINX_FUZZ_VERSION:-1.31.4}
seconds=${FUZZ_SECONDS:-15}
out=$build/fuzz
tree=$out/nginx-$ver

cd "$top" || exit 1

if [ ! -d "$sources" ]; then
    echo "fuzz: skipped: no nginx sources at $sources" \
         "(set NGINX_SOURCES=DIR holding nginx-$ver.tar.gz)"
    exit 0
fi
NGINX_SOURCES=$(cd "$sources" && pwd)
export NGINX_SOURCES
tools/install-deps.sh fuzz || exit 1

cc=${FUZZ_CC:-clang-14}
san=-fsanitize=fuzzer-no-link,address,undefined
cc_opt="$san -fno-omit-frame-pointer -g -O1 -DNGX_DEBUG_PALLOC=1"

# the core, events and the http core: the module needs no other module
flags="--with-cc=$cc --with-compat --with-threads --with-debug --without-pcre
    --without-http-cache --without-mail_pop3_module --without-mail_imap_module
    --without-mail_smtp_module"
for m in charset gzip ssi userid access auth_basic mirror autoindex geo map \
         split_clients referer rewrite proxy fastcgi uwsgi scgi grpc \
         memcached limit_conn limit_req empty_gif browser upstream_hash \
         upstream_ip_hash upstream_least_conn upstream_random \
         upstream_keepalive upstream_zone
do
    flags="$flags --without-http_${m}_module"
done

t0=$(date +%s)
NGINX_MATRIX_FLAGS=$flags NGINX_CC_OPT=$cc_opt NGINX_LD_OPT=$san \
    tools/build-nginx.sh "$ver" "$out" > /dev/null || {
    echo "fuzz: FAIL: the nginx $ver build" >&2
    exit 1
}

# the module, as nginx's configure compiles an addon (its warnings too)
objs=$tree/objs
incs="-I $tree/src/src/core -I $tree/src/src/event -I $tree/src/src/event/modules
      -I $tree/src/src/os/unix -I $tree/src/src/http -I $tree/src/src/http/modules
      -I $objs -I $top/src"
# what the module's config defines through nginx's configure
version=$(cat "$top/VERSION")
cflags="-W -Wall -Wextra -Wpointer-arith -Wno-unused-parameter -Werror $cc_opt
        -DNGX_HTTP_KAFKA_VERSION=\"$version\""
mkdir -p "$out/module" "$out/crashes" "$out/corpus"

newest_h=$(ls -t src/*.h fuzz/*.h | head -n 1)
for c in src/*.c fuzz/fuzz_common.c; do
    o=$out/module/$(basename "$c" .c).o
    if [ "$o" -nt "$c" ] && [ "$o" -nt "$newest_h" ] \
       && [ "$o" -nt "$objs/ngx_auto_config.h" ]; then
        continue
    fi
    # shellcheck disable=SC2086
    $cc $cflags $incs -c "$c" -o "$o" || {
        echo "fuzz: FAIL: compiling $c" >&2
        exit 1
    }
done

# nginx's objects: main() renamed; the libraries of nginx's own link line
if [ ! "$out/nginx-nomain.o" -nt "$objs/src/core/nginx.o" ]; then
    objcopy --redefine-sym main=ngx_fuzz_unused_main \
        "$objs/src/core/nginx.o" "$out/nginx-nomain.o" || exit 1
fi
nginx_objs=$(find "$objs/src" -name '*.o' ! -path '*/core/nginx.o' | sort)
nginx_libs=$(awk '/ngx_modules\.o \\$/ { on = 1; next }
                  on && NF == 0 { exit }
                  on { gsub(/\\/, ""); print }' "$objs/Makefile" \
             | tr '\n' ' ' | sed "s/$san//")
libs="-lrdkafka -ljansson -ljwt -lcrypto -lpcre2-8 -lyaml -lm $nginx_libs"
t_build=$(( $(date +%s) - t0 ))

targets=${FUZZ_TARGETS:-$(cd fuzz && ls fuzz_*.c | sed -n \
                          's/^fuzz_\(.*\)\.c$/\1/p' | grep -v '^common$')}

export ASAN_OPTIONS="detect_leaks=1:malloc_fill_byte=90:max_malloc_fill_size=1048576${KGW_ASAN_OPTIONS:+:$KGW_ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:suppressions=$top/tools/ubsan.supp"

failed=0
summary=
t0=$(date +%s)
for t in $targets; do
    bin=$out/fuzz_$t
    if [ ! -f "fuzz/fuzz_$t.c" ]; then
        echo "fuzz: FAIL: no fuzz/fuzz_$t.c" >&2
        failed=1
        continue
    fi
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer,address,undefined $incs -I fuzz \
        -o "$bin" "fuzz/fuzz_$t.c" "$out"/module/*.o "$out/nginx-nomain.o" \
        $nginx_objs "$objs/ngx_modules.o" $libs || {
        echo "fuzz: FAIL: building fuzz_$t" >&2
        failed=1
        continue
    }

    log=$out/$t.log
    crashes=$out/crashes/$t
    corpus=$out/corpus/$t
    mkdir -p "$crashes" "$corpus"
    : > "$log"

    # the inputs that once crashed this target
    if [ -d "fuzz/regress/$t" ] && [ -n "$(ls "fuzz/regress/$t")" ]; then
        if ! "$bin" "fuzz/regress/$t"/* >> "$log" 2>&1; then
            echo "fuzz: FAIL: $t: a regression input fails again (see $log)"
            grep -m 20 -e 'ERROR:' -e 'runtime error' -e 'check failed' \
                -e '^    #[0-9]' "$log"
            failed=1
            continue
        fi
    fi

    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    before=$(ls "$crashes" | wc -l)

    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="$crashes/" \
        "${dict[@]}" "$corpus" "fuzz/corpus/$t" >> "$log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    size=$(ls "$corpus" | wc -l)
    found=$(( $(ls "$crashes" | wc -l) - before ))
    line="fuzz: $t: ${execs:-?} execs in $seconds s, corpus $size inputs, findings $found"
    echo "$line"
    summary="$summary$line"$'\n'

    if [ $rc != 0 ] || [ "$found" != 0 ]; then
        failed=1
        echo "fuzz: FAIL: $t (exit $rc); input in $crashes, report in $log:"
        grep -m 40 -e 'ERROR:' -e 'SUMMARY' -e 'runtime error' \
            -e 'check failed' -e '^    #[0-9]' -e 'Test unit written' "$log"
    fi
done
t_run=$(( $(date +%s) - t0 ))

echo "fuzz: build ${t_build} s (cached when a few s), fuzzing ${t_run} s"
if [ $failed = 0 ]; then
    echo "fuzz: PASS"
else
    echo "fuzz: FAIL"
fi
exit $failed
