#!/usr/bin/env bash
# Proves that the block runner can fail: each case below is a block file
# with one deliberate mistake (or a deliberately misbehaving nginx), run
# with prove, which must FAIL for the expected reason.  A control file
# without mistakes must pass.  Stock nginx, no module.  Prints TAP:
#
#   bash t/selftest/negative.sh            # from the top of the tree
#   prove -e bash t/selftest/negative.sh
#
# Uses t/compat only when the CPAN Test::Nginx is not installed, as
# "make test" does; the cases for t/compat's own strictness
# (TEST_NGINX_FAIL_ON_ALERT, slow graceful quit) run only with t/compat.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

work=$(mktemp -d /tmp/runner-negative.XXXXXX)
trap 'rm -rf "$work"' EXIT

inc=(-I t/lib)
compat=0
if ! perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    inc=(-I t/compat "${inc[@]}")
    compat=1
fi

export TEST_NGINX_SERVROOT=$work/servroot
unset TEST_NGINX_LOAD_MODULES
ulimit -c 0

header='BEGIN { delete $ENV{TEST_NGINX_LOAD_MODULES} }
use Test::Nginx::Socket "no_plan";
master_on();
no_shuffle();
run_tests();

__DATA__
'

n=0
failed=0

# case NAME EXPECT [compat-only]: the block file is read from stdin; prove
# must fail and its output must contain EXPECT ("pass" = must pass).
case_() {
    local name=$1 expect=$2 only=${3:-}
    local file=$work/$name.t
    { printf '%s\n' "$header"; cat; } > "$file"
    n=$((n + 1))

    if [ "$only" = compat ] && [ $compat = 0 ]; then
        echo "ok $n - $name # SKIP t/compat only"
        return
    fi

    if [ -n "${CASE_ENV:-}" ] && [ "$CASE_ENV" != "${CASE_ENV#*VALGRIND}" ] \
       && ! command -v valgrind > /dev/null; then
        echo "ok $n - $name # SKIP no valgrind"
        return
    fi

    local out rc
    out=$(env ${CASE_ENV:-} prove -v "${inc[@]}" "$file" 2>&1)
    rc=$?

    if [ "$expect" = pass ]; then
        if [ $rc = 0 ]; then
            echo "ok $n - $name: passes"
        else
            echo "not ok $n - $name: should pass"
            printf '%s\n' "$out" | sed 's/^/# /'
            failed=$((failed + 1))
        fi
        return
    fi

    if [ $rc != 0 ] && printf '%s\n' "$out" | grep '^not ok' \
                       | grep -qF -- "$expect"; then
        echo "ok $n - $name: fails with \"$expect\""
    else
        echo "not ok $n - $name: prove should fail with \"$expect\" (rc $rc)"
        printf '%s\n' "$out" | sed 's/^/# /'
        failed=$((failed + 1))
    fi
}

echo "1..14"

case_ control pass <<'EOF'
=== TEST 1: everything as expected
--- config
    location = /t {
        add_header X-Test a;
        return 200 "hello";
    }
--- request
GET /t
--- response_headers
X-Test: a
--- response_body chomp
hello
--- no_error_log
[error]
EOF

case_ wrong-status "TEST 1: wrong status - status code ok" <<'EOF'
=== TEST 1: wrong status
--- config
    location = /t {
        return 404;
    }
--- request
GET /t
--- error_code: 200
EOF

case_ wrong-body "TEST 1: wrong body - response_body - response is expected" <<'EOF'
=== TEST 1: wrong body
--- config
    location = /t {
        return 200 "hello";
    }
--- request
GET /t
--- response_body chomp
goodbye
EOF

case_ wrong-body-like "TEST 1: wrong body like - response_body_like" <<'EOF'
=== TEST 1: wrong body like
--- config
    location = /t {
        return 200 "hello";
    }
--- request
GET /t
--- response_body_like: ^bye
EOF

case_ wrong-header "TEST 1: wrong header - header X-Test ok" <<'EOF'
=== TEST 1: wrong header
--- config
    location = /t {
        add_header X-Test a;
        return 200 "hello";
    }
--- request
GET /t
--- response_headers
X-Test: b
EOF

case_ header-not-absent "header X-Test not present in the raw headers" <<'EOF'
=== TEST 1: header present
--- config
    location = /t {
        add_header X-Test a;
        return 200 "hello";
    }
--- request
GET /t
--- response_headers
!X-Test
EOF

case_ unexpected-error 'pattern "[error]" should not match any line in error.log' <<'EOF'
=== TEST 1: an [error] listed in no_error_log
--- config
--- request
GET /missing.html
--- error_code: 404
--- no_error_log
[error]
EOF

case_ missing-error-log 'should match a line in error.log' <<'EOF'
=== TEST 1: an error_log pattern that is never logged
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- error_log
this line is never logged
EOF

case_ must-die-lives "TEST 1: a valid config - die as expected" <<'EOF'
=== TEST 1: a valid config
--- config
    location = /t {
        return 200;
    }
--- must_die
EOF

case_ timeout "client socket timed out" <<'EOF'
=== TEST 1: a response slower than the timeout, without abort
--- config
    location = /slow {
        limit_rate 1;
        return 200 "0123456789";
    }
--- request
GET /slow
--- timeout: 300ms
--- ignore_response
EOF

case_ alert "unexpected alert lines" compat <<'EOF'
=== TEST 1: a worker killed by a signal
--- config
    location = /t {
        return 200;
    }
--- init
# the pid file is written before the worker is forked: wait for it
my $master = Test::Nginx::Util::get_pid_from_pidfile('');
my @workers;
for (1 .. 300) {
    @workers = Test::Nginx::Util::children_of($master) and last;
    select undef, undef, undef, 0.01;
}
kill 'SEGV', @workers;
select undef, undef, undef, 0.3;
--- request
GET /t
EOF

case_ slow-quit "did not quit gracefully" compat <<'EOF'
=== TEST 1: a request still being served when nginx is told to quit
--- config
    location = /slow {
        limit_rate 1;
        return 200 "0123456789abcdefghij";
    }
    location = /t {
        return 200;
    }
--- init
use IO::Socket::INET;
our $held = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
    or die "connect: $!";
print $held "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n";
select undef, undef, undef, 0.2;
--- request
GET /t
EOF

CASE_ENV=TEST_NGINX_USE_VALGRIND=1 case_ valgrind-control pass compat <<'EOF'
=== TEST 1: stock nginx under valgrind has nothing to report
--- config
    location ~ ^/r(\d)$ {
        return 200 "r$1";
    }
--- request
GET /r1
--- response_body chomp
r1
--- no_error_log
[error]
EOF

CASE_ENV=TEST_NGINX_USE_VALGRIND=1 case_ valgrind-report "valgrind: ==1== Invalid read of size 4" compat <<'EOF'
=== TEST 1: a valgrind log with an error fails the block
--- config
    location = /t {
        return 200;
    }
--- init
open my $fh, '>', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/valgrind.1.log" or die;
print $fh "==1== Invalid read of size 4\n==1==    at 0x0: ngx_foo\n";
close $fh;
--- request
GET /t
EOF

if [ $failed != 0 ]; then
    echo "# $failed of $n cases did not behave" >&2
    exit 1
fi
exit 0
