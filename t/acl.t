# Per-topic authorization from the token's grants (kafka_acl_claim): exact
# names, globs, string and array claims, a 403 JSON error naming the topic
# and the action, nothing produced when denied (read back), decisions made
# on the topic as evaluated (so URI tricks cannot pick another topic), and
# the $kafka_acl_* variables.  Every block runs the locations below unless
# it has its own.

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

my $exp = time + 3600;

sub token {
    return jwt_sign('HS256', "$keys/hmac.key", { sub => 'alice',
                                                 exp => $exp, @_ });
}

our $SCOPED = token(scope => 'openid profile kafka:produce:acl-orders '
                             . 'kafka:produce:logs-* kafka:consume:audit '
                             . 'kafka:produce:team-*-events '
                             . 'kafka:produce:ord?rs kafka:produce:');
our $ARRAY = token(grants => ['kafka:produce:a-acl', 'kafka:produce:b-*',
                              'kafka:consume:c-acl',
                              'kafka:produce:d-acl kafka:produce:e-acl']);
our $MISSING = token();
our $NUMBER = token(grants => 42);
our $OBJECT = token(grants => { 'kafka:produce:a-acl' => 1 });
our $NULL = token(grants => undef);
our $ALL = token(grants => 'kafka:produce:*');
our $OK_ONLY = token(grants => 'kafka:produce:ok-acl');

my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;
HTTP

my $config = <<'CONFIG';
    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_acl_claim scope;
        kafka_produce $topic;
    }

    location = /produce {
        kafka_jwt "kafka";
        kafka_acl_claim grants;
        kafka_produce $arg_topic;
    }

    # error_page for 403 takes precedence over the module's JSON
    location ~ ^/custom/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_acl_claim scope;
        kafka_produce $topic;
        error_page 403 = @denied;
    }

    location @denied {
        return 403 "custom denial\n";
    }

    # the decision as variables
    location = /check {
        kafka_jwt "kafka";
        kafka_acl_claim scope;
        kafka_acl_topic $arg_topic;
        empty_gif;
        add_header X-Produce $kafka_acl_produce;
        add_header X-Consume $kafka_acl_consume;
    }

    location = /check-no-acl {
        kafka_jwt "kafka";
        kafka_acl_topic $arg_topic;
        empty_gif;
        add_header X-Produce $kafka_acl_produce;
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

=== TEST 1: scope allows an exact name
--- request
POST /topics/acl-orders
allowed acl-orders
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: acl-orders
--- kafka_records eval
[ { key => undef, value => "allowed acl-orders" } ]



=== TEST 2: scope allows a glob
--- request
POST /topics/logs-acl
allowed logs-acl
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: logs-acl
--- kafka_records eval
[ { key => undef, value => "allowed logs-acl" } ]



=== TEST 3: a glob matches an empty rest
--- request
POST /topics/logs-
allowed logs-
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: logs-
--- kafka_records eval
[ { key => undef, value => "allowed logs-" } ]



=== TEST 4: a glob inside the name
--- request
POST /topics/team-acl-events
allowed team-acl-events
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: team-acl-events
--- kafka_records eval
[ { key => undef, value => "allowed team-acl-events" } ]



=== TEST 5: scope refuses audit, nothing produced
--- request
POST /topics/audit
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"audit\""}
--- kafka_topic_count: audit 0



=== TEST 6: scope refuses orders2, nothing produced
--- request
POST /topics/orders2
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"orders2\""}
--- kafka_topic_count: orders2 0



=== TEST 7: scope refuses Orders, nothing produced
--- request
POST /topics/Orders
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"Orders\""}
--- kafka_topic_count: Orders 0



=== TEST 8: scope refuses xorders, nothing produced
--- request
POST /topics/xorders
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"xorders\""}
--- kafka_topic_count: xorders 0



=== TEST 9: scope refuses logs, nothing produced
--- request
POST /topics/logs
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"logs\""}
--- kafka_topic_count: logs 0



=== TEST 10: scope refuses logsx-acl, nothing produced
--- request
POST /topics/logsx-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"logsx-acl\""}
--- kafka_topic_count: logsx-acl 0



=== TEST 11: scope refuses team-acl-events-old, nothing produced
--- request
POST /topics/team-acl-events-old
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"team-acl-events-old\""}
--- kafka_topic_count: team-acl-events-old 0



=== TEST 12: scope refuses ordxrs, nothing produced
--- request
POST /topics/ordxrs
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"ordxrs\""}
--- kafka_topic_count: ordxrs 0



=== TEST 13: scope refuses secret-acl, nothing produced
--- request
POST /topics/secret-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"secret-acl\""}
--- kafka_topic_count: secret-acl 0



=== TEST 14: array claim: an exact grant
--- request
POST /produce?topic=a-acl
v
--- more_headers eval
"Authorization: Bearer $::ARRAY"
--- error_code: 200
--- kafka_topic: a-acl
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 15: array claim: a glob grant
--- request
POST /produce?topic=b-acl
v
--- more_headers eval
"Authorization: Bearer $::ARRAY"
--- error_code: 200
--- kafka_topic: b-acl
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 16: array claim: an element with several grants
--- request
POST /produce?topic=e-acl
v
--- more_headers eval
"Authorization: Bearer $::ARRAY"
--- error_code: 200
--- kafka_topic: e-acl
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 17: array claim: a consume grant only
--- request
POST /produce?topic=c-acl
refused
--- more_headers eval
"Authorization: Bearer $::ARRAY"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"c-acl\""}
--- kafka_topic_count: c-acl 0



=== TEST 18: claim missing: nothing is granted
--- request
POST /produce?topic=a-acl
refused
--- more_headers eval
"Authorization: Bearer $::MISSING"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"a-acl\""}
--- kafka_topic_count: a-acl 1



=== TEST 19: claim a number: nothing is granted
--- request
POST /produce?topic=a-acl
refused
--- more_headers eval
"Authorization: Bearer $::NUMBER"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"a-acl\""}
--- kafka_topic_count: a-acl 1



=== TEST 20: claim an object: nothing is granted
--- request
POST /produce?topic=a-acl
refused
--- more_headers eval
"Authorization: Bearer $::OBJECT"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"a-acl\""}
--- kafka_topic_count: a-acl 1



=== TEST 21: claim null: nothing is granted
--- request
POST /produce?topic=a-acl
refused
--- more_headers eval
"Authorization: Bearer $::NULL"
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"a-acl\""}
--- kafka_topic_count: a-acl 1



=== TEST 22: kafka:produce:* allows any topic
--- request
POST /produce?topic=anything-acl
v
--- more_headers eval
"Authorization: Bearer $::ALL"
--- error_code: 200
--- kafka_topic: anything-acl
--- kafka_records eval
[ { key => undef, value => "v" } ]



=== TEST 23: the topic checked is the topic produced to: the first "topic" argument
--- request
POST /produce?topic=ok-acl&topic=secret-acl
first arg
--- more_headers eval
"Authorization: Bearer $::OK_ONLY"
--- error_code: 200
--- kafka_topic: ok-acl
--- kafka_records eval
[ { key => undef, value => "first arg" } ]



=== TEST 24: a repeated argument, the denied one first: refused, the allowed topic untouched
--- request
POST /produce?topic=secret-acl&topic=ok-acl
refused
--- more_headers eval
"Authorization: Bearer $::OK_ONLY"
--- error_code: 403
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"secret-acl\""}
--- kafka_topic_count: ok-acl 1



=== TEST 25: an encoded slash and dot segments are resolved before the check
--- request
POST /topics/orders%2F..%2Fsecret-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"secret-acl\""}
--- kafka_topic_count: secret-acl 0



=== TEST 26: dot segments are resolved before the check
--- request
POST /topics/../topics/secret-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"secret-acl\""}
--- kafka_topic_count: secret-acl 0



=== TEST 27: a %-encoded allowed name
--- request
POST /topics/%61cl-orders
encoded
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: acl-orders
--- kafka_records eval
[ { key => undef, value => "encoded" } ]



=== TEST 28: a %-encoded refused name
--- request
POST /topics/%61udit
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_body chomp
{"error_code":40301,"message":"not authorized to produce to topic \"audit\""}
--- kafka_topic_count: audit 0



=== TEST 29: not a topic at all: 400 before any grant is looked at
--- request
POST /produce?topic=orders/x
v
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 400
--- response_body_like: ^\{"error_code":40001,



=== TEST 30: an encoded space: 400; still nothing produced to the denied topic
--- request
POST /produce?topic=orders%20x
v
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 400
--- response_body_like: ^\{"error_code":40001,
--- kafka_topic_count: secret-acl 0



=== TEST 31: an error_page for 403 takes precedence over the JSON body
--- request
POST /custom/topics/secret-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- response_body
custom denial
--- kafka_topic_count: secret-acl 0



=== TEST 32: the decision as variables: $kafka_acl_produce, $kafka_acl_consume
--- request eval
[ "GET /check?topic=acl-orders", "GET /check?topic=audit",
  "GET /check?topic=a/b", "GET /check-no-acl?topic=anything" ]
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
[ "X-Produce: 1\nX-Consume: 0", "X-Produce: 0\nX-Consume: 1",
  "X-Produce: 0", "X-Produce: 1" ]



=== TEST 33: the same rule built from the variable in an auth_request subrequest: allowed
--- skip_eval: 6: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- config
    location ~ ^/via-auth/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        auth_request /acl-check;
        kafka_produce $topic;
    }

    # it runs after the token is verified
    location = /acl-check {
        internal;
        kafka_acl_claim scope;
        kafka_acl_topic $topic;

        if ($kafka_acl_produce != 1) {
            return 403;
        }

        return 204;
    }
--- request
POST /via-auth/topics/acl-orders
via auth
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 200
--- kafka_topic: acl-orders
--- kafka_records eval
[ { key => undef, value => "via auth" } ]



=== TEST 34: the auth_request rule on the variable: refused, nothing produced
--- skip_eval: 5: KafkaGateway::Features::nginx_lacks('http_auth_request_module')
--- config
    location ~ ^/via-auth/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        auth_request /acl-check;
        kafka_produce $topic;
    }

    location = /acl-check {
        internal;
        kafka_acl_claim scope;
        kafka_acl_topic $topic;

        if ($kafka_acl_produce != 1) {
            return 403;
        }

        return 204;
    }
--- request
POST /via-auth/topics/secret-acl
refused
--- more_headers eval
"Authorization: Bearer $::SCOPED"
--- error_code: 403
--- kafka_topic_count: secret-acl 0
