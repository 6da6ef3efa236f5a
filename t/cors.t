# CORS with add_header: the preflight (OPTIONS, no credentials) is answered
# by the configuration in the rewrite phase, before kafka_jwt and the
# content handler, and produces nothing; actual requests and their errors
# carry the CORS headers.  Every block runs the one location below.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

our $TOKEN = jwt_sign('ES256', "$keys/ec.pem",
                      { sub => 'web', exp => time + 3600,
                        scope => 'kafka:produce:cors' });

my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;

    map $http_origin $cors_origin {
        default "";
        "https://app.example.com" $http_origin;
    }
HTTP

my $config = <<'CONFIG';
    location ~ ^/topics/(?<topic>[^/]+)$ {
        if ($request_method = OPTIONS) {
            add_header Access-Control-Allow-Origin $cors_origin;
            add_header Access-Control-Allow-Methods "POST, OPTIONS";
            add_header Access-Control-Allow-Headers
                       "Authorization, Content-Type";
            add_header Access-Control-Max-Age 600;
            add_header Vary Origin;
            return 204;
        }

        add_header Access-Control-Allow-Origin $cors_origin always;
        add_header Access-Control-Expose-Headers WWW-Authenticate always;
        add_header Vary Origin always;

        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_acl_claim scope;

        kafka_produce $topic;
    }
CONFIG

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $http_config)
        unless defined $block->http_config;
    $block->set_value("config", $config) unless defined $block->config;

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: preflight: 204 without a token, neither kafka_jwt nor the ACL consulted
--- request
OPTIONS /topics/cors
--- more_headers
Origin: https://app.example.com
Access-Control-Request-Method: POST
Access-Control-Request-Headers: authorization,content-type
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Access-Control-Allow-Methods: POST, OPTIONS
Access-Control-Allow-Headers: Authorization, Content-Type
Access-Control-Max-Age: 600
Vary: Origin
!WWW-Authenticate
--- response_body chomp
--- no_error_log
kafka jwt
kafka acl
[error]
[alert]
[crit]
--- kafka_topic_count: cors 0



=== TEST 2: preflight from another origin: 204 without the origin allowed
--- request
OPTIONS /topics/cors
--- more_headers
Origin: https://evil.example
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
!Access-Control-Allow-Origin
!WWW-Authenticate
--- no_error_log
kafka jwt
kafka acl
[error]
[alert]
[crit]
--- kafka_topic_count: cors 0



=== TEST 3: POST with a token: produced, with the CORS headers
--- request
POST /topics/cors
from the browser
--- more_headers eval
"Origin: https://app.example.com\nAuthorization: Bearer $::TOKEN"
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Vary: Origin
--- kafka_topic: cors
--- kafka_records eval
[ { key => undef, value => "from the browser" } ]



=== TEST 4: POST without a token: 401 the page can read, challenge exposed
--- request
POST /topics/cors
no token
--- more_headers
Origin: https://app.example.com
--- error_code: 401
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Access-Control-Expose-Headers: WWW-Authenticate
WWW-Authenticate: Bearer realm="kafka"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- kafka_topic_count: cors 1



=== TEST 5: POST to a topic not granted: 403 with the CORS header
--- request
POST /topics/other-cors
not granted
--- more_headers eval
"Origin: https://app.example.com\nAuthorization: Bearer $::TOKEN"
--- error_code: 403
--- response_headers
Access-Control-Allow-Origin: https://app.example.com
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"other-cors\""}
--- kafka_topic_count: other-cors 0



=== TEST 6: another origin: CORS is for browsers, the token still decides
--- request
POST /topics/cors
other origin
--- more_headers eval
"Origin: https://evil.example\nAuthorization: Bearer $::TOKEN"
--- error_code: 200
--- response_headers
!Access-Control-Allow-Origin
Vary: Origin
--- kafka_topic: cors
--- kafka_records eval
[ { key => undef, value => "other origin" } ]
--- kafka_topic_count: cors 2
