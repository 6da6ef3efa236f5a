#!/usr/bin/env bash
# The whole suite against nginx and the module built with AddressSanitizer
# and UndefinedBehaviorSanitizer:
#
#   tools/test-asan.sh [BUILD_DIR]            ("make test-asan")
#
# nginx NGINX_ASAN_VERSION (default 1.31.4, the newest mainline) is built
# from ${NGINX_SOURCES:-../shared/nginx} by tools/build-nginx.sh into
# BUILD_DIR/asan/nginx-VERSION (cached; the sanitizer flags are part of the
# cache key), the module against that tree with the same flags
# (BUILD_DIR/asan/nginx-VERSION/ngx_http_kafka_gateway_module.so).  The
# sanitizer runtimes are linked into the nginx binary; librdkafka, jansson
# and libjwt are Debian's, not instrumented.  nginx's pool allocator hands
# out pieces of large blocks, so ASan cannot see overflows inside a pool
# block; valgrind (make test-valgrind) does not either, but it sees other
# things (uninitialised reads, leaks).
#
# Every report goes to a file in a directory that the workers (user nobody,
# where a test does not say "user root") can write; the run fails if any
# report file exists, or if "AddressSanitizer" or "runtime error:" appears
# in any nginx error log or in the output of the suite.  The reports are
# printed and kept in BUILD_DIR/asan/reports.  ASAN_PROVE_ARGS: other test
# files; KGW_ASAN_OPTIONS, KGW_UBSAN_OPTIONS: appended to the options below
# (KGW_UBSAN_OPTIONS=halt_on_error=0:abort_on_error=0 lets the blocks run
# on after a UBSan report, which still fails the run).
#
# Without the sources it says so in one line and succeeds.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$top/build}")
sources=${NGINX_SOURCES:-../shared/nginx}
ver=${NGINX_ASAN_VERSION:-1.31.4}
out=$build/asan
tree=$out/nginx-$ver
module=$tree/ngx_http_kafka_gateway_module.so
log=$out/prove.log
keep=$out/reports

cd "$top" || exit 1

if [ ! -d "$sources" ]; then
    echo "test-asan: skipped: no nginx sources at $sources" \
         "(set NGINX_SOURCES=DIR holding nginx-$ver.tar.gz)"
    exit 0
fi
NGINX_SOURCES=$(cd "$sources" && pwd)
export NGINX_SOURCES
tools/install-deps.sh asan || exit 1

# clang, not gcc: gcc 12's UBSan ignores log_path when ASan is linked too
# (its reports go to stderr, which nginx points at the error log of the
# moment, and tests remove their logs); clang's ASan runtime carries UBSan
# and reads both UBSAN_OPTIONS and ASAN_OPTIONS when the process starts
cc=${ASAN_CC:-clang-14}
san=-fsanitize=address,undefined
cc_opt="$san -fno-omit-frame-pointer -g -O1"
flags="$(tools/build-nginx.sh --flags) --with-cc=$cc"

t0=$(date +%s)
nginx=$(NGINX_MATRIX_FLAGS=$flags NGINX_CC_OPT=$cc_opt NGINX_LD_OPT=$san \
        tools/build-nginx.sh "$ver" "$out") || {
    echo "test-asan: FAIL: the nginx $ver build" >&2
    exit 1
}
t_nginx=$(( $(date +%s) - t0 ))

# the module: the same configure flags and compiler as nginx, compiled and
# linked with the sanitizers (clang links their runtime into the nginx
# binary only; the module's calls into it resolve there)
t0=$(date +%s)
# nginx's dynamic modules define ngx_modules and ngx_module_names, which
# the binary defines too (objs/*_modules.c; nginx reads the module's with
# dlsym).  The module's references are bound to the binary's arrays, and
# ASan would register the module's 5-entry array at the binary's address:
# the binary's ngx_modules poisoned after 40 bytes, a global-buffer-overflow
# on the next reload (ngx_cycle_modules).  With ODR indicators, ASan
# registers each global through a private alias, at its own address.
NGINX_SRC=$tree/src NGINX_CONFIGURE_FLAGS="$flags --with-ld-opt=$san" \
MODULE_CC_OPT="$cc_opt -fsanitize-address-use-odr-indicator" \
    tools/build-module.sh "$tree" || {
    echo "test-asan: FAIL: the module build" >&2
    exit 1
}
t_module=$(( $(date +%s) - t0 ))

# as the Makefile does: the real Test::Nginx when installed, else t/compat
prove_inc=(-I t/lib)
perl -MTest::Nginx::Socket -e1 2> /dev/null || prove_inc+=(-I t/compat)

export KAFKA_DEV_BROKER=${KAFKA_DEV_BROKER:-$build/kafka-dev-broker}
export KAFKA_DEV_DUMP=${KAFKA_DEV_DUMP:-$build/kafka-dev-dump}

# The reports' directory: outside the checkout (whose parents nobody may not
# be allowed to enter), world-writable and sticky like /tmp, because the
# workers of the suites that do not say "user root" run as nobody.  ASan and
# UBSan open log_path.PID in each process when it first reports; a worker is
# forked from the master, not executed, so it keeps the options the master
# read from the environment at start (nginx's clearing of the workers'
# environment does not matter).
reports=$(mktemp -d "${TMPDIR:-/tmp}/kgw-asan.XXXXXX") || exit 1
chmod 1777 "$reports"
trap 'rm -rf "$reports"' EXIT

# ASan:
#   abort_on_error=1   a worker that hits an error dies on SIGABRT, which
#                      nginx's master logs as an [alert] ("exited on signal
#                      6"): the block that caused it fails there and then,
#                      not only at the end (core dumps stay off: ASan's
#                      disable_coredump=1 default on 64-bit)
#   halt_on_error=1    (ASan's default, stated) after the first invalid
#                      access the process's memory is not to be trusted
#   detect_leaks=0     LeakSanitizer looks when a process exits: nginx's
#                      own short-lived processes ("nginx -s", a failing
#                      "nginx -t", hundreds in the suite) leave main()'s
#                      init cycle pool, and in a worker it looks after the
#                      cycle pool's cleanup has dlclose()d the module, so
#                      what the module or librdkafka left shows as frames in
#                      "<unknown module>" that no suppression can name;
#                      leaks are make test-valgrind's job
#   malloc_fill_byte=90, max_malloc_fill_size=1048576
#                      ASan's malloc replaces glibc's, so glibc.malloc.
#                      perturb has no effect on nginx; this is ASan's own
#                      perturb: new memory (pool blocks included) is filled
#                      with 0x5a, what perturb=165 writes, so a field left
#                      uninitialised in a pool allocation fails every time
#   handle_segv=1 (the default) a SIGSEGV is reported with its stack
# UBSan (with clang, in the same runtime as ASan: the same log_path): a
# stack for every report, and an error stops the process as ASan's do (a
# report is then also an [alert] in the block that caused it);
# tools/ubsan.supp: only nginx's own, explained there.
export ASAN_OPTIONS="log_path=$reports/sanitizer:abort_on_error=1:halt_on_error=1:detect_leaks=0:malloc_fill_byte=90:max_malloc_fill_size=1048576${KGW_ASAN_OPTIONS:+:$KGW_ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$reports/sanitizer:print_stacktrace=1:halt_on_error=1:abort_on_error=1:suppressions=$top/tools/ubsan.supp${KGW_UBSAN_OPTIONS:+:$KGW_UBSAN_OPTIONS}"
# for the processes whose malloc is glibc's (librdkafka's threads allocate
# through ASan too; the broker and the tools do not)
export GLIBC_TUNABLES=glibc.malloc.perturb=165
export TEST_NGINX_BINARY=$nginx TEST_NGINX_LOAD_MODULES=$module
# t/produce-recovery.t measures 10 outages in make test; 2 here (time)
export TEST_NGINX_RECOVERY_TRIALS=${TEST_NGINX_RECOVERY_TRIALS:-2}

mkdir -p "$out"
echo "test-asan: nginx $ver and the module with $san; reports in $reports"
t0=$(date +%s)
touch "$out/.suite-started"
# shellcheck disable=SC2086
tools/with-broker.sh prove "${prove_inc[@]}" ${ASAN_PROVE_ARGS:-t/*.t} 2>&1 \
    | tee "$log"
prove_rc=${PIPESTATUS[0]}
t_prove=$(( $(date +%s) - t0 ))

failed=0
rm -rf "$keep"
mkdir -p "$keep"
found=$(find "$reports" -type f | sort)
if [ -n "$found" ]; then
    failed=1
    for f in $found; do
        cp "$f" "$keep/"
        echo "test-asan: sanitizer report $keep/${f##*/}:"
        cat "$f"
    done
fi
# what did not go to a report file: the error logs this run wrote, the
# suite's output
logs=$(find t -path "*servroot*" -name "*.log" -type f -newer "$out/.suite-started" \
       2> /dev/null)
# shellcheck disable=SC2086
hits=$(grep -l -e AddressSanitizer -e 'runtime error:' $logs "$log" \
       2> /dev/null)
if [ -n "$hits" ]; then
    failed=1
    for f in $hits; do
        echo "test-asan: sanitizer output in $f:"
        grep -n -B2 -A30 -e AddressSanitizer -e 'runtime error:' "$f"
    done
fi

counts=$(sed -n 's/^\(Files=[0-9]*, Tests=[0-9]*\),.*/\1/p' "$log")
echo "test-asan: nginx build ${t_nginx} s (cached when a few s)," \
     "module build ${t_module} s, suite ${t_prove} s; ${counts:-no summary}"
if [ "$prove_rc" != 0 ]; then
    echo "test-asan: FAIL: the suite failed (see $log)"
    failed=1
fi
if [ -n "$found$hits" ]; then
    echo "test-asan: FAIL: sanitizer reports (above)"
else
    echo "test-asan: no sanitizer reports"
fi
[ $failed = 0 ] && echo "test-asan: PASS"
exit $failed
