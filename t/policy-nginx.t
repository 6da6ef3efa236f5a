# The gateway's policy is nginx's own: limit_req, limit_conn, auth_request,
# auth_basic, allow/deny and satisfy compose with kafka_jwt and
# kafka_produce.  These blocks check the composition (what is answered and
# what reaches Kafka), not new code.  Every block runs the locations below
# unless it has its own; refusals by limit_req and limit_conn are logged at
# [warn] so that any [error] still fails a block.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features ();

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

open my $fh, '>', "$keys/htpasswd" or die;
print $fh "alice:{PLAIN}secret\n";
close $fh;

our $TOKEN = jwt_sign('HS256', "$keys/hmac.key",
                      { sub => 'alice', exp => time + 3600 });
our $BOB = jwt_sign('HS256', "$keys/hmac.key",
                    { sub => 'bob', exp => time + 3600 });

my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;

    limit_req_zone $binary_remote_addr zone=produce:1m rate=1r/m;
    limit_req_zone $binary_remote_addr zone=produce503:1m rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=streams:1m;

    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;

    log_format status '$request_uri answered $status';
HTTP

my $config = <<'CONFIG';
    # limit_req (preaccess) runs before kafka_jwt (access): excess is
    # refused before any token is looked at (the token comes in the query
    # here, so that one block can send requests with and without it)
    location ~ ^/limited/topics/(?<topic>[^/]+)$ {
        limit_req zone=produce;
        limit_req_status 429;
        limit_req_log_level warn;
        kafka_jwt "kafka";
        kafka_jwt_token $arg_access_token;
        kafka_produce $topic;
    }

    location ~ ^/limited503/topics/(?<topic>[^/]+)$ {
        limit_req zone=produce503;
        limit_req_log_level warn;
        kafka_produce $topic;
    }

    # limit_conn: while the request here is in progress (its mirror
    # subrequest is answered first), the mirror sends a second request
    # from the same address to /conn, which must be refused
    location ~ ^/conn-first/topics/(?<topic>[^/]+)$ {
        limit_conn streams 1;
        limit_conn_log_level warn;
        mirror /conn-second;
        mirror_request_body off;
        kafka_produce $topic;
    }

    location = /conn-second {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/conn/topics/conn-pol;
        proxy_set_body "second";
    }

    location ~ ^/conn/topics/(?<topic>[^/]+)$ {
        limit_conn streams 1;
        limit_conn_log_level warn;
        access_log logs/error.log status;
        kafka_produce $topic;
    }

    # satisfy any: a trusted address or a token
    location ~ ^/any/topics/(?<topic>[^/]+)$ {
        satisfy any;
        allow 127.0.0.2;
        deny all;
        kafka_jwt "kafka";
        kafka_produce $topic;
    }

    location ~ ^/any-local/topics/(?<topic>[^/]+)$ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        kafka_jwt "kafka";
        kafka_produce $topic;
    }

    # satisfy any: Basic credentials or a token
    location ~ ^/basic-or-jwt/topics/(?<topic>[^/]+)$ {
        satisfy any;
        auth_basic "kafka";
        auth_basic_user_file $TEST_NGINX_JWT_KEYS/htpasswd;
        kafka_jwt "kafka";
        kafka_produce $topic;
    }

    # satisfy all: Basic credentials and a token (from the query, as
    # both cannot be in Authorization)
    location ~ ^/basic-and-jwt/topics/(?<topic>[^/]+)$ {
        auth_basic "kafka";
        auth_basic_user_file $TEST_NGINX_JWT_KEYS/htpasswd;
        kafka_jwt "kafka";
        kafka_jwt_token $arg_access_token;
        kafka_produce $topic;
    }

    # an error_page for 401 replaces the module's JSON body
    location ~ ^/custom401/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_produce $topic;
        error_page 401 = @unauthorized;
    }

    location @unauthorized {
        default_type application/problem+json;
        return 401 '{"title":"log in first"}';
    }
CONFIG

my $auth_request = <<'CONFIG';
    location ~ ^/authreq/topics/(?<topic>[^/]+)$ {
        auth_request /authz;
        kafka_produce $topic;
    }

    location = /authz {
        internal;

        if ($http_x_api_key = "good") {
            return 204;
        }

        return 403;
    }

    # the auth_request subrequest sees the claims of the main request
    location ~ ^/jwt-authreq/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        auth_request /authz-sub;
        kafka_produce $topic;
    }

    location = /authz-sub {
        internal;

        if ($jwt_claim_sub = "alice") {
            return 204;
        }

        return 403;
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

    if (!defined $block->config) {
        $block->set_value("config", defined $block->auth_request
                                    ? $auth_request : $config);
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: limit_req: the first request passes, the excess gets 429, even without a token
--- request eval
[ "POST /limited/topics/limited-pol?access_token=$::TOKEN\nv",
  "POST /limited/topics/limited-pol?access_token=$::TOKEN\nv",
  "POST /limited/topics/limited-pol?access_token=$::TOKEN\nv",
  "POST /limited/topics/limited-pol?access_token=$::TOKEN\nv",
  "POST /limited/topics/limited-pol\nv" ]
--- error_code eval
[200, 429, 429, 429, 429]
--- kafka_topic_count: limited-pol 1



=== TEST 2: limit_req: 503 by default, only the first request produced
--- request eval
[ "POST /limited503/topics/limited503-pol\nv",
  "POST /limited503/topics/limited503-pol\nv",
  "POST /limited503/topics/limited503-pol\nv" ]
--- error_code eval
[200, 503, 503]
--- no_error_log
[error]
[alert]
[crit]
--- kafka_topic_count: limited503-pol 1



=== TEST 3: limit_conn: a second request while the first is in progress gets 503; the first is served whole
--- request
POST /conn-first/topics/conn-pol
slow-body!
--- error_code: 200
--- error_log
limiting connections by zone "streams"
/conn/topics/conn-pol answered 503
--- no_error_log
[error]
[alert]
[crit]
--- kafka_topic: conn-pol
--- kafka_records eval
[ { key => undef, value => "slow-body!" } ]
--- kafka_topic_count: conn-pol 1



=== TEST 4: limit_conn: the slot is free again
--- request
POST /conn/topics/conn-pol
third
--- error_code: 200
--- error_log
/conn/topics/conn-pol answered 200
--- no_error_log
[error]
[alert]
[crit]
--- kafka_topic: conn-pol
--- kafka_records eval
[ { key => undef, value => "third" } ]



=== TEST 5: auth_request: allowed
--- skip_eval: 6: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- auth_request
--- request
POST /authreq/topics/authreq-pol
v
--- more_headers
X-Api-Key: good
--- error_code: 200
--- kafka_topic: authreq-pol
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 6: auth_request: denied, only the allowed request produced
--- skip_eval: 5: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- auth_request
--- request
POST /authreq/topics/authreq-pol
v
--- more_headers
X-Api-Key: bad
--- error_code: 403
--- kafka_topic_count: authreq-pol 1



=== TEST 7: auth_request sees $jwt_claim_sub: alice allowed
--- skip_eval: 6: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- auth_request
--- request
POST /jwt-authreq/topics/jwt-authreq-pol
v
--- more_headers eval
"Authorization: Bearer $::TOKEN"
--- error_code: 200
--- kafka_topic: jwt-authreq-pol
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 8: auth_request sees $jwt_claim_sub: bob denied
--- skip_eval: 5: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- auth_request
--- request
POST /jwt-authreq/topics/jwt-authreq-pol
v
--- more_headers eval
"Authorization: Bearer $::BOB"
--- error_code: 403
--- kafka_topic_count: jwt-authreq-pol 1



=== TEST 9: auth_request after kafka_jwt: no token is 401 before the subrequest
--- skip_eval: 6: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- auth_request
--- request
POST /jwt-authreq/topics/jwt-authreq-pol
v
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- kafka_topic_count: jwt-authreq-pol 1



=== TEST 10: satisfy any: address not trusted, no token: 401 with the Bearer challenge
--- request
POST /any/topics/any-pol
v
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- kafka_topic_count: any-pol 0



=== TEST 11: satisfy any: a bad token: 401 invalid_token
--- request
POST /any/topics/any-pol
v
--- more_headers
Authorization: Bearer x.y.z
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", .*
--- kafka_topic_count: any-pol 0



=== TEST 12: satisfy any: a valid token
--- request
POST /any/topics/any-pol
by token
--- more_headers eval
"Authorization: Bearer $::TOKEN"
--- error_code: 200
--- kafka_topic: any-pol
--- kafka_records eval
[ { key => undef, value => "by token" } ]



=== TEST 13: satisfy any: a trusted address without a token, no challenge left
--- request
POST /any-local/topics/any-pol
by address
--- error_code: 200
--- response_headers
!WWW-Authenticate
--- kafka_topic: any-pol
--- kafka_records eval
[ { key => undef, value => "by address" } ]
--- kafka_topic_count: any-pol 2



=== TEST 14: satisfy any: Basic credentials
--- request
POST /basic-or-jwt/topics/basic-pol
by basic
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 200
--- kafka_topic: basic-pol
--- kafka_records eval
[ { key => undef, value => "by basic" } ]



=== TEST 15: satisfy any: a token instead of Basic credentials
--- request
POST /basic-or-jwt/topics/basic-pol
by token
--- more_headers eval
"Authorization: Bearer $::TOKEN"
--- error_code: 200
--- kafka_topic: basic-pol
--- kafka_records eval
[ { key => undef, value => "by token" } ]



=== TEST 16: satisfy any: wrong Basic credentials and no token: 401, nothing more produced
--- request
POST /basic-or-jwt/topics/basic-pol
v
--- more_headers
Authorization: Basic YWxpY2U6d3Jvbmc=
--- error_code: 401
--- error_log
user "alice": password mismatch
--- no_error_log
[alert]
[crit]
--- kafka_topic_count: basic-pol 2



=== TEST 17: satisfy all: Basic credentials and a token
--- request eval
"POST /basic-and-jwt/topics/both-pol?access_token=$::TOKEN\nboth"
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 200
--- kafka_topic: both-pol
--- kafka_records eval
[ { key => undef, value => "both" } ]



=== TEST 18: satisfy all: Basic credentials only
--- request
POST /basic-and-jwt/topics/both-pol
v
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- kafka_topic_count: both-pol 1



=== TEST 19: satisfy all: a token only, one record in all
--- request eval
"POST /basic-and-jwt/topics/both-pol?access_token=$::TOKEN\nv"
--- error_code: 401
--- response_headers
WWW-Authenticate: Basic realm="kafka"
--- kafka_topic_count: both-pol 1



=== TEST 20: error_page 401: its body, the challenge is kept, nothing produced
--- request
POST /custom401/topics/custom-pol
v
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"title":"log in first"}
--- kafka_topic_count: custom-pol 0
