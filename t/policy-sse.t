# Policy on kafka_consume_sse locations: JWT from a query argument (an
# EventSource cannot set headers), consume grants per topic, a stream
# filtered to the caller's own key, limit_conn, and SSE over HTTPS.
#
# Streams are read over HTTP/1.0 until silent (--- abort), see
# t/sse-basic.t.  The records of each stream's topic (psse-*, three
# partitions): alice's on 0 and 2, bob's on 1, one without a key on 0.

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Blocks;
use File::Temp qw(tempdir);
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Test qw(free_port);
use KafkaGateway::Features ();

my $keys = make_keys(tempdir(CLEANUP => 1));

system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
       . " -nodes -keyout $keys/tls.key -out $keys/tls.crt -days 2"
       . " -subj /CN=localhost 2>/dev/null") == 0 or die "openssl req";

$ENV{TEST_NGINX_JWT_KEYS} = $keys;
$ENV{TEST_NGINX_TLS_PORT} = free_port();

my $now = time;

sub token {
    my ($sub, $scope, %extra) = @_;
    return jwt_sign('HS256', "$keys/hmac.key",
                    { sub => $sub, scope => $scope, exp => $now + 600,
                      %extra });
}

our $BAD = token('alice', 'kafka:consume:psse-bad');
$BAD =~ s/.$/ $& eq 'A' ? 'B' : 'A' /e;
our $NO_GRANT = token('alice', 'kafka:produce:psse-grant '
                               . 'kafka:consume:psse-other');
our $ALICE = token('alice', 'kafka:consume:psse-*');
our $BOB = token('bob', 'kafka:consume:psse-bob');
our $EXPIRED = token('alice', 'kafka:consume:psse-expired',
                     exp => $now - 3600);

master_on();
workers(1);
log_level('debug');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_consumer_property fetch.wait.max.ms 100;
_EOC_
    }

    $block->set_value("config", <<'_EOC_' . ($block->config // ''));
    # EventSource: the token comes in ?access_token=
    location ~ ^/mine/(?<t>[^/]+)$ {
        kafka_jwt                  events;
        kafka_jwt_key_file         $TEST_NGINX_JWT_KEYS/hmac.key;
        kafka_jwt_key_type         hmac;
        kafka_jwt_token            $arg_access_token;
        kafka_acl_claim            scope;
        kafka_consume_sse          $t;
        kafka_consume_start        earliest;
        kafka_consume_filter_key   $jwt_claim_sub;
    }
_EOC_

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

sub records_in {
    my $topic = shift;
    return [ { topic => $topic, partition => 0, key => 'alice',
               value => 'for alice 1' },
             { topic => $topic, partition => 1, key => 'bob',
               value => 'for bob' },
             { topic => $topic, partition => 2, key => 'alice',
               value => 'for alice 2' },
             { topic => $topic, partition => 0, key => undef,
               value => 'for nobody' } ];
}

run_tests();

__DATA__

=== TEST 1: no token: 401 with a Bearer challenge and a JSON body
--- request
GET /mine/psse-none
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="events".*
--- response_body_like: ^\{"error_code":401\d\d,



=== TEST 2: a bad signature: 401 invalid_token
--- request eval
"GET /mine/psse-bad?access_token=$main::BAD"
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="events".*error="invalid_token".*



=== TEST 3: a token without a consume grant for the topic: 403 naming the topic and the action
--- request eval
"GET /mine/psse-grant?access_token=$main::NO_GRANT"
--- error_code: 403
--- response_body_like: ^(?=.*psse-grant)(?=.*consume)



=== TEST 4: a consume grant by prefix: 200, the stream filtered to the token's sub
--- request eval
"GET /mine/psse-alice?access_token=$main::ALICE HTTP/1.0"
--- kafka_topics: psse-alice:3
--- kafka_produce_before eval
[ @{ main::records_in('psse-alice') },
  { topic => 'psse-alice-other', partition => 0, key => 'alice',
    value => 'other topic' } ]
--- timeout: 1.5
--- abort
--- error_code: 200
--- sse_data eval
{ unordered => ['for alice 1', 'for alice 2'] }



=== TEST 5: bob sees only bob's record
--- request eval
"GET /mine/psse-bob?access_token=$main::BOB HTTP/1.0"
--- kafka_topics: psse-bob:3
--- kafka_produce_before eval
main::records_in('psse-bob')
--- timeout: 1.5
--- abort
--- error_code: 200
--- sse_data eval
[ 'for bob' ]



=== TEST 6: an expired token: 401, no stream
--- request eval
"GET /mine/psse-expired?access_token=$main::EXPIRED"
--- error_code: 401
--- response_body_like: ^\{"error_code":401\d\d,



=== TEST 7: limit_conn: the third concurrent stream is refused (429), and served once the others left
Two clients stream first; the block's first request is the third; once
nginx saw both leave, its second request streams.
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_consumer_property fetch.wait.max.ms 100;
    limit_conn_zone $binary_remote_addr zone=streams:1m;
    limit_conn_log_level warn;
--- config
    location ~ ^/limited/(?<t>[^/]+)$ {
        limit_conn                 streams 2;
        limit_conn_status          429;
        kafka_consume_sse          $t;
    }
--- sse_other_client eval
[ ({ request => 'GET /limited/psse-limit HTTP/1.0', status => 200 }) x 2 ]
--- request eval
[ "GET /limited/psse-limit HTTP/1.0", "GET /limited/psse-limit HTTP/1.0" ]
--- kafka_control eval
{ 0 => [ qr/\[warn\].*limiting connections by zone "streams"/,
         qr/client prematurely closed connection(?s:.*)client prematurely closed connection/ ] }
--- timeout: 1.5
--- abort
--- error_code eval
[ 429, 200 ]
--- response_body_like eval
[ '.', '^retry: \d+\nid: 0:0' ]



=== TEST 8: SSE over HTTPS: every record of the topic, with resume ids
nginx's own HTTPS client (proxy_pass) reads the stream of a TLS server.
--- skip_eval: 6: KafkaGateway::Features::nginx_lacks('http_ssl_module')
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_consumer_property fetch.wait.max.ms 100;

    server {
        listen 127.0.0.1:$TEST_NGINX_TLS_PORT ssl;
        ssl_certificate      $TEST_NGINX_JWT_KEYS/tls.crt;
        ssl_certificate_key  $TEST_NGINX_JWT_KEYS/tls.key;

        location ~ ^/events/(?<t>[^/]+)$ {
            kafka_consume_sse          $t;
            kafka_consume_start        earliest;
        }
    }
--- config
    location = /via-tls {
        proxy_pass https://127.0.0.1:$TEST_NGINX_TLS_PORT/events/psse-tls;
        proxy_http_version 1.0;
        proxy_buffering off;
    }
--- request
GET /via-tls HTTP/1.0
--- kafka_topics: psse-tls:3
--- kafka_produce_before eval
main::records_in('psse-tls')
--- timeout: 1.5
--- abort
--- error_code: 200
--- response_body_like: \nid: \d+:\d+
--- sse_data eval
{ 0 => ['for alice 1', 'for nobody'], 1 => ['for bob'],
  2 => ['for alice 2'] }
