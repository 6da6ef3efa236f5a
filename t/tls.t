# TLS: produce over HTTPS and over HTTP/2 (listen ... ssl http2) with a
# self-signed certificate made here, JWT over both, and
# examples/secure-gateway.conf loaded and used for real.
#
# Test::Nginx speaks plain HTTP/1.1 only: each block's request goes to the
# test server, whose locations pass it on to the TLS servers (on unix
# sockets in the server root) as an HTTPS client (proxy_pass https://)
# or an HTTP/2 client over TLS (grpc_pass grpcs://, which speaks HTTP/2
# with ALPN "h2" to any server).  What the TLS server saw is written into
# the record ($server_protocol, $ssl_protocol) and read back from Kafka.

use strict;
use warnings;

use Test::Nginx::Socket;
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features qw(nginx_lacks);

if (my $why = nginx_lacks('http_ssl_module', 'http_v2_module')) {
    plan skip_all => $why;
}

plan 'no_plan';

my $keys = make_keys(tempdir(CLEANUP => 1));
my $root = $ENV{TEST_NGINX_SERVER_ROOT};

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
       . " -nodes -keyout $keys/tls.key -out $keys/tls.crt -days 2"
       . " -subj /CN=localhost 2>/dev/null") == 0 or die "openssl req";

our $TOKEN = jwt_sign('ES256', "$keys/ec.pem",
                      { sub => 'alice', exp => time + 300 });
our $EXAMPLE = jwt_sign('ES256', "$keys/ec.pem", {
    sub => 'svc-1', exp => time + 300, iss => 'https://login.example.com/',
    aud => 'kafka-gateway', scope => 'kafka:produce:example-tls' });

# examples/secure-gateway.conf's http block with this test's paths,
# sockets and broker, for the blocks that include it; its audit log goes
# to the error log, where a block looks for it
{
    open my $in, '<', 'examples/secure-gateway.conf' or die;
    my $conf = do { local $/; <$in> };
    close $in;

    my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "no http block";
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS} // '127.0.0.1:9';
    my $n = 0;

    $n += $http =~ s/kafka_brokers .*;/kafka_brokers $brokers;/;
    $n += $http =~ s{/etc/nginx/kafka/issuer.pub}{$keys/ec.pub};
    $n += $http =~ s{/etc/nginx/tls/kafka.example.com.crt}{$keys/tls.crt};
    $n += $http =~ s{/etc/nginx/tls/kafka.example.com.key}{$keys/tls.key};
    $n += $http =~ s{/var/log/nginx/kafka-audit.log}{$root/logs/error.log};
    $n += $http =~ s/listen  80;/listen  unix:$root\/logs\/example-http.sock;/;
    $n += $http =~ s/listen  443 ssl http2;/listen  unix:$root\/logs\/example-https.sock ssl http2;/;

    die "examples/secure-gateway.conf: $n of 7 site-specific lines found\n"
        unless $n == 7;

    open my $out, '>', "$keys/example-http.conf" or die;
    print $out $http;
    close $out;
}

my $tls_server = <<'SERVER';
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/logs/tls.sock ssl http2;
        server_name localhost;

        ssl_certificate $TEST_NGINX_JWT_KEYS/tls.crt;
        ssl_certificate_key $TEST_NGINX_JWT_KEYS/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        location ~ ^/topics/(?<topic>[^/]+)$ {
            kafka_produce $topic;
            kafka_produce_header x-protocol $server_protocol;
            kafka_produce_header x-tls $ssl_protocol;
        }

        location ~ ^/jwt/topics/(?<topic>[^/]+)$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
            kafka_produce $topic;
            kafka_produce_key $jwt_claim_sub;
            kafka_produce_header x-protocol $server_protocol;
            kafka_produce_header x-tls $ssl_protocol;
        }
    }
SERVER

my $config = <<'CONFIG';
    # the plain server has no produce location
    location /topics/ {
        return 404;
    }

    location /https/ {
        proxy_pass https://unix:$TEST_NGINX_SERVER_ROOT/logs/tls.sock:/;
        proxy_http_version 1.1;
    }

    location /h2/ {
        rewrite ^/h2(/.*)$ $1 break;
        grpc_pass grpcs://unix:$TEST_NGINX_SERVER_ROOT/logs/tls.sock;
    }
CONFIG

my $example_config = <<'CONFIG';
    location /example-https/ {
        proxy_pass https://unix:$TEST_NGINX_SERVER_ROOT/logs/example-https.sock:/;
        proxy_http_version 1.1;
    }

    location /example-h2/ {
        rewrite ^/example-h2(/.*)$ $1 break;
        grpc_pass grpcs://unix:$TEST_NGINX_SERVER_ROOT/logs/example-https.sock;
    }

    location /example-http/ {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/logs/example-http.sock:/;
    }
CONFIG

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->example) {
        $block->set_value("http_config",
                          "include \$TEST_NGINX_JWT_KEYS/example-http.conf;");
        $block->set_value("config", $example_config);

    } else {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;\n"
                          . $tls_server);
        $block->set_value("config", $config);
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: HTTPS: produced over HTTP/1.1 and TLS
--- request
POST /https/topics/tls
over https
--- error_code: 200
--- kafka_topic: tls
--- kafka_records eval
[ { key => undef, value => "over https",
    headers => { "x-protocol" => "HTTP/1.1", "x-tls" => qr/^TLSv1\.[23]$/ } } ]



=== TEST 2: HTTPS with a token: produced, keyed by its subject
--- request
POST /https/jwt/topics/tls
jwt over https
--- more_headers eval
"Authorization: Bearer $::TOKEN"
--- error_code: 200
--- kafka_topic: tls
--- kafka_records eval
[ { key => "alice", value => "jwt over https",
    headers => { "x-protocol" => "HTTP/1.1", "x-tls" => qr/^TLSv1\.[23]$/ } } ]



=== TEST 3: HTTPS without a token: 401
--- request
POST /https/jwt/topics/tls
no token
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- kafka_topic_count: tls 2



=== TEST 4: HTTP/2 over TLS: produced
--- request
POST /h2/topics/tls
over h2
--- error_code: 200
--- kafka_topic: tls
--- kafka_records eval
[ { key => undef, value => "over h2",
    headers => { "x-protocol" => "HTTP/2.0", "x-tls" => qr/^TLSv1\.[23]$/ } } ]



=== TEST 5: HTTP/2 with a token: produced, keyed by its subject
--- request
POST /h2/jwt/topics/tls
jwt over h2
--- more_headers eval
"Authorization: Bearer $::TOKEN"
--- error_code: 200
--- kafka_topic: tls
--- kafka_records eval
[ { key => "alice", value => "jwt over h2",
    headers => { "x-protocol" => "HTTP/2.0", "x-tls" => qr/^TLSv1\.[23]$/ } } ]



=== TEST 6: HTTP/2 without a token: 401, the challenge, the JSON body
--- request
POST /h2/jwt/topics/tls
no token
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}



=== TEST 7: the plain server has no produce location; exactly the four accepted records landed
--- request
POST /topics/tls
plain
--- error_code: 404
--- kafka_topic_count: tls 4



=== TEST 8: the example: produced over TLS and HTTP/2 with CORS, the audit log names the subject
--- example
--- request
POST /example-h2/topics/example-tls
from the example
--- more_headers eval
"Authorization: Bearer $::EXAMPLE\nOrigin: https://app.example.com"
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Strict-Transport-Security: max-age=31536000
--- error_log
sub=svc-1 "POST /topics/example-tls
--- no_error_log
[error]
[alert]
[crit]
--- kafka_topic: example-tls
--- kafka_records eval
[ { key => "svc-1", value => "from the example",
    headers => { "x-principal" => "svc-1", "x-request-id" => qr/^[0-9a-f]{32}$/ } } ]



=== TEST 9: the example: a topic not granted
--- example
--- request
POST /example-https/topics/other-example-tls
x
--- more_headers eval
"Authorization: Bearer $::EXAMPLE\nOrigin: https://app.example.com"
--- error_code: 403
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
--- kafka_topic_count: other-example-tls 0



=== TEST 10: the example: the preflight
--- example
--- request
OPTIONS /example-https/topics/example-tls
--- more_headers
Origin: https://app.example.com
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Access-Control-Allow-Methods: POST, OPTIONS



=== TEST 11: the example: HTTP redirects to HTTPS; one record in all
--- example
--- request
GET /example-http/topics/example-tls
--- error_code: 301
--- kafka_topic_count: example-tls 1
