# Self-test of the block runner (t/compat, or the CPAN Test::Nginx when it
# is installed): every feature of the block format that the suites use,
# and only those, with the same results under both runners.  Stock nginx
# directives only, no module loaded.  Not part of the product suite:
#
#   prove -I t/compat -I t/lib t/selftest/
#
# The plan is counted by the rule in Test::Nginx::Socket's POD (compat):
# per response 1 for the status, 1 per response_headers line, 1 for a body
# check; 1 per error_log/no_error_log pattern per response; must_die 1 +
# its patterns; plus what add_response_body_check callbacks emit.

use strict;
use warnings;

BEGIN { delete $ENV{TEST_NGINX_LOAD_MODULES} }

use Test::Nginx::Socket;

master_on();
workers(1);
log_level('info');
no_shuffle();

# a default http_config, as the suites' preprocessors give one
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', 'map $uri $mapped { default "pre"; }')
        unless defined $block->http_config;
});

# a section of our own, checked after every response (as KafkaGateway::Blocks
# checks kafka_records)
Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $want = $block->can('body_length') ? $block->body_length : undef;
    return if $dry_run || !defined $want;
    $want = $want->[$req_idx] if ref $want;
    Test::More::is(length($body // ''), $want,
                   $block->name . " - body_length (req $req_idx)");
});

plan tests => 64;

run_tests();

__DATA__

=== TEST 1: return 200 with a body, a header and an absent header
--- config
    location = /t {
        return 200 "hello";
    }
--- request
GET /t
--- response_body chomp
hello
--- response_headers
Content-Type: text/plain
!X-Absent
--- no_error_log
[error]
[alert]



=== TEST 2: return 404: the status code and the stock error page
--- config
    location = /t {
        return 404;
    }
--- request
GET /t
--- error_code: 404
--- response_body_like: <h1>404 Not Found</h1>
--- no_error_log
[error]



=== TEST 3: add_header, checked exactly
--- config
    location = /t {
        add_header X-Test "a b";
        return 200 ok;
    }
--- request
GET /t
--- response_headers
X-Test: a b
Content-Length: 2
--- response_body chomp
ok



=== TEST 4: response_headers_like is an anchored regex
--- config
    location = /t {
        return 200 ok;
    }
--- request
GET /t
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
Content-Type: text/.*



=== TEST 5: a POST body is trimmed and sent with a Content-Length
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        access_log off;
        return 200 "len=$http_content_length";
    }
--- request
POST /echo
hello world
--- response_body chomp
len=11



=== TEST 6: POST to a location that does not read the body
--- config
    location = /nothing {
        return 204;
    }
--- request
POST /nothing
some body
--- error_code: 204
--- response_body



=== TEST 7: error_log expectations: a missing file logs open() failed
--- config
--- request
GET /missing.html
--- error_code: 404
--- error_log
missing.html" failed
(2: No such file or directory)



=== TEST 8: several requests, each on a fresh connection
--- config
    location = /a {
        return 200 "a";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
['^a$', '<h1>404 Not Found</h1>']



=== TEST 9: more_headers
--- config
    location = /h {
        return 200 "$http_x_foo|$http_x_bar|$http_connection";
    }
--- request
GET /h
--- more_headers
X-Foo: 1
X-Bar: two words
--- response_body chomp
1|two words|close



=== TEST 10: raw_request is sent as it is
--- config
    location = /t {
        return 200 "$server_protocol";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body chomp
HTTP/1.0



=== TEST 11: pipelined requests on one connection
--- config
    location ~ ^/p(\d)$ {
        return 200 "p$1:$connection_requests";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- error_code eval
[200, 200]
--- response_body eval
["p1:1", "p2:2"]



=== TEST 12: timeout with abort: the client gives up without failing
--- config
    location = /slow {
        limit_rate 1;
        return 200 "0123456789";
    }
--- request
GET /slow
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 13: must_die: an unknown directive
--- config
    bogus_directive on;
--- must_die
--- error_log
unknown directive "bogus_directive"



=== TEST 14: $TEST_NGINX_ variables are expanded in the config
--- config
    location = /t {
        return 200 "port=$TEST_NGINX_SERVER_PORT";
    }
--- request
GET /t
--- response_body_like: ^port=\d+$



=== TEST 15: http_config lands in the http context
--- http_config
    map $uri $mapped {
        default "mapped";
    }
--- config
    location = /t {
        return 200 $mapped;
    }
--- request
GET /t
--- response_body chomp
mapped



=== TEST 16: add_block_preprocessor: the default http_config
--- config
    location = /t {
        return 200 $mapped;
    }
--- request
GET /t
--- response_body chomp
pre



=== TEST 17: add_response_body_check runs after every response
--- config
    location ~ ^/len/(\d+)$ {
        return 200 "$1";
    }
--- request eval
["GET /len/1", "GET /len/22"]
--- body_length eval
[1, 2]
--- error_code eval
[200, 200]



=== TEST 18: wait, then the error log
--- config
    location = /t {
        return 200 "something else";
    }
--- request
GET /t
--- wait: 0.1
--- response_body chomp
something else
--- no_error_log
[error]
[crit]



=== TEST 19: skip_eval: a true expression skips the block's N tests
--- config
    location = /t {
        return 500;
    }
--- skip_eval: 2: 1
--- request
GET /t
--- error_code: 200
--- response_body: never checked



=== TEST 20: skip_eval: a false expression runs the block
--- config
    location = /t {
        return 200 "ran";
    }
--- skip_eval: 2: 0
--- request
GET /t
--- error_code: 200
--- response_body chomp
ran



=== TEST 21: more_headers eval: an array, one per request
--- config
    location = /t {
        return 200 "$http_x_n";
    }
--- request eval
[ "GET /t", "GET /t" ]
--- more_headers eval
[ "X-N: one", "X-N: two" ]
--- response_body eval
[ "one", "two" ]



=== TEST 22: error_log and no_error_log eval: Regexps and texts
--- config
    location = /t {
        return 404;
    }
--- request
GET /t/
--- error_code: 404
--- error_log eval
[ qr/\[error\] \d+#\d+: \*\d+ "[^"]*\/html\/t\/index\.html" is not found/,
  "No such file" ]
--- no_error_log eval
qr/\[alert\]|\[crit\]/
