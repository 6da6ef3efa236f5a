# Valid tokens: every supported algorithm is accepted with its key type,
# claims and header parameters become variables (headers, map, log_format),
# and the verified "sub" becomes the Kafka key and the x-principal header
# of what is produced (read back from Kafka).  Every block runs the
# locations below.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use JSON::PP ();

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

my %key_of = (
    HS256 => 'hmac.key', HS384 => 'hmac.key', HS512 => 'hmac.key',
    RS256 => 'rsa.pem', RS384 => 'rsa.pem', RS512 => 'rsa.pem',
    ES256 => 'ec.pem', ES384 => 'ec384.pem', ES512 => 'ec521.pem',
);

my $now = time;

sub token {
    my ($alg, $claims, $header) = @_;
    return jwt_sign($alg, "$keys/$key_of{$alg}",
                    { exp => $now + 3600, %$claims }, $header);
}

# one token an algorithm, for the producing blocks
our %ALG = map { ($_ => token($_, { sub => 'user-' . lc, tenant => 'acme' })) }
           keys %key_of;

our $CLAIMS = token('ES256', { sub => 'alice', n => 42, f => 1.5,
                               b => JSON::PP::true, groups => ['a', 'b'],
                               obj => { x => 1 }, tenantId => 'T-1',
                               nul => undef },
                    { kid => 'key-1' });
our $EVE = token('ES256', { sub => 'eve' });
our $OTHER_ISS = token('ES256', { iss => 'https://other.example',
                                  aud => ['x', 'kafka-gateway'] });
our $ISS = token('ES256', { iss => 'https://issuer.example',
                            aud => 'kafka-gateway' });
our $NO_EXP = jwt_sign('ES256', "$keys/ec.pem", { sub => 'x' });
# exp in the past and nbf in the future by half the leeway: a slow run
# (valgrind: this block came more than 30 s after the token was made) stays
# well inside it
our $LEEWAY = token('ES256', { exp => $now - 1800, nbf => $now + 1800 });

my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;

    log_format jwt '$status sub=$jwt_claim_sub alg=$jwt_header_alg';

    map $jwt_claim_sub $jwt_is_alice {
        alice    yes;
        default  no;
    }
HTTP

my $produce = <<'LOC';
        kafka_produce $topic;
        kafka_produce_key $jwt_claim_sub;
        kafka_produce_header x-principal $jwt_claim_sub;
        kafka_produce_header x-tenant $jwt_claim_tenant;
LOC

my $config = <<"CONFIG" . <<'CONFIG';
    location ~ ^/hs/topics/(?<topic>[^/]+)\$ {
        kafka_jwt "kafka";
        kafka_jwt_key_type hmac;
        kafka_jwt_key_file \$TEST_NGINX_JWT_KEYS/hmac.key;
$produce
    }

    location ~ ^/rs/topics/(?<topic>[^/]+)\$ {
        kafka_jwt "kafka";
        kafka_jwt_key_file \$TEST_NGINX_JWT_KEYS/rsa.pub;
$produce
    }

    location ~ ^/es/topics/(?<topic>[^/]+)\$ {
        kafka_jwt "kafka";
        kafka_jwt_key_file \$TEST_NGINX_JWT_KEYS/ec.pub;
$produce
    }

    location ~ ^/es384/topics/(?<topic>[^/]+)\$ {
        kafka_jwt "kafka";
        kafka_jwt_key_type ec;
        kafka_jwt_key_file \$TEST_NGINX_JWT_KEYS/ec384.pub;
$produce
    }

    location ~ ^/es521/topics/(?<topic>[^/]+)\$ {
        kafka_jwt "kafka";
        kafka_jwt_key_file \$TEST_NGINX_JWT_KEYS/ec521.pub;
$produce
    }
CONFIG

    # claims and header parameters as variables; the access log line
    # goes to the error log, where the block looks for it
    location = /claims {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
        access_log logs/error.log jwt;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Num $jwt_claim_n;
        add_header X-Float $jwt_claim_f;
        add_header X-Bool $jwt_claim_b;
        add_header X-Arr $jwt_claim_groups;
        add_header X-Obj $jwt_claim_obj;
        add_header X-Camel $jwt_claim_tenantid;
        add_header X-Missing "[$jwt_claim_nothere]";
        add_header X-Null "[$jwt_claim_nul]";
        add_header X-Kid $jwt_header_kid;
        add_header X-Alg $jwt_header_alg;
        add_header X-Map $jwt_is_alice;
    }

    # EventSource cannot send headers: the token from a query argument
    # or a cookie
    location = /arg {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_token $arg_access_token;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
    }

    location = /cookie {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_token $cookie_jwt;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
    }

    location = /iss-aud {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_issuer https://issuer.example;
        kafka_jwt_issuer https://other.example;
        kafka_jwt_audience kafka-gateway;
        empty_gif;
    }

    location = /no-exp {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_require_exp off;
        empty_gif;
    }

    location = /leeway {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_leeway 3600s;
        empty_gif;
    }

    # "kafka_jwt off" below a location that requires a token
    location /open/ {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;

        location /open/public {
            kafka_jwt off;
            empty_gif;
        }
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

=== TEST 1: ES256 with its key: sub is the key and x-principal
--- request
POST /es/topics/jwt-es256
hello ES256
--- more_headers eval
"Authorization: Bearer $::ALG{ES256}"
--- error_code: 200
--- kafka_topic: jwt-es256
--- kafka_records eval
[ { key => "user-es256", value => "hello ES256",
    headers => { "x-principal" => "user-es256", "x-tenant" => "acme" } } ]



=== TEST 2: ES384 with its key: sub is the key and x-principal
--- request
POST /es384/topics/jwt-es384
hello ES384
--- more_headers eval
"Authorization: Bearer $::ALG{ES384}"
--- error_code: 200
--- kafka_topic: jwt-es384
--- kafka_records eval
[ { key => "user-es384", value => "hello ES384",
    headers => { "x-principal" => "user-es384", "x-tenant" => "acme" } } ]



=== TEST 3: ES512 with its key: sub is the key and x-principal
--- request
POST /es521/topics/jwt-es512
hello ES512
--- more_headers eval
"Authorization: Bearer $::ALG{ES512}"
--- error_code: 200
--- kafka_topic: jwt-es512
--- kafka_records eval
[ { key => "user-es512", value => "hello ES512",
    headers => { "x-principal" => "user-es512", "x-tenant" => "acme" } } ]



=== TEST 4: HS256 with its key: sub is the key and x-principal
--- request
POST /hs/topics/jwt-hs256
hello HS256
--- more_headers eval
"Authorization: Bearer $::ALG{HS256}"
--- error_code: 200
--- kafka_topic: jwt-hs256
--- kafka_records eval
[ { key => "user-hs256", value => "hello HS256",
    headers => { "x-principal" => "user-hs256", "x-tenant" => "acme" } } ]



=== TEST 5: HS384 with its key: sub is the key and x-principal
--- request
POST /hs/topics/jwt-hs384
hello HS384
--- more_headers eval
"Authorization: Bearer $::ALG{HS384}"
--- error_code: 200
--- kafka_topic: jwt-hs384
--- kafka_records eval
[ { key => "user-hs384", value => "hello HS384",
    headers => { "x-principal" => "user-hs384", "x-tenant" => "acme" } } ]



=== TEST 6: HS512 with its key: sub is the key and x-principal
--- request
POST /hs/topics/jwt-hs512
hello HS512
--- more_headers eval
"Authorization: Bearer $::ALG{HS512}"
--- error_code: 200
--- kafka_topic: jwt-hs512
--- kafka_records eval
[ { key => "user-hs512", value => "hello HS512",
    headers => { "x-principal" => "user-hs512", "x-tenant" => "acme" } } ]



=== TEST 7: RS256 with its key: sub is the key and x-principal
--- request
POST /rs/topics/jwt-rs256
hello RS256
--- more_headers eval
"Authorization: Bearer $::ALG{RS256}"
--- error_code: 200
--- kafka_topic: jwt-rs256
--- kafka_records eval
[ { key => "user-rs256", value => "hello RS256",
    headers => { "x-principal" => "user-rs256", "x-tenant" => "acme" } } ]



=== TEST 8: RS384 with its key: sub is the key and x-principal
--- request
POST /rs/topics/jwt-rs384
hello RS384
--- more_headers eval
"Authorization: Bearer $::ALG{RS384}"
--- error_code: 200
--- kafka_topic: jwt-rs384
--- kafka_records eval
[ { key => "user-rs384", value => "hello RS384",
    headers => { "x-principal" => "user-rs384", "x-tenant" => "acme" } } ]



=== TEST 9: RS512 with its key: sub is the key and x-principal
--- request
POST /rs/topics/jwt-rs512
hello RS512
--- more_headers eval
"Authorization: Bearer $::ALG{RS512}"
--- error_code: 200
--- kafka_topic: jwt-rs512
--- kafka_records eval
[ { key => "user-rs512", value => "hello RS512",
    headers => { "x-principal" => "user-rs512", "x-tenant" => "acme" } } ]



=== TEST 10: claims and header parameters as variables, in headers, map and log_format
--- request
GET /claims
--- more_headers eval
"Authorization: Bearer $::CLAIMS"
--- error_code: 200
--- response_headers
X-Sub: alice
X-Num: 42
X-Float: 1.5
X-Bool: true
X-Arr: ["a","b"]
X-Obj: {"x":1}
X-Camel: T-1
X-Missing: []
X-Null: []
X-Kid: key-1
X-Alg: ES256
X-Map: yes
--- error_log
200 sub=alice alg=ES256
--- no_error_log
[error]
[alert]
[crit]



=== TEST 11: the token from a query argument
--- request eval
"GET /arg?access_token=$::EVE"
--- error_code: 200
--- response_headers
X-Sub: eve



=== TEST 12: with kafka_jwt_token, the Authorization header is not used
--- request
GET /arg
--- more_headers eval
"Authorization: Bearer $::EVE"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
!X-Sub



=== TEST 13: the token from a cookie
--- request
GET /cookie
--- more_headers eval
"Cookie: a=b; jwt=$::EVE"
--- error_code: 200
--- response_headers
X-Sub: eve



=== TEST 14: the Bearer scheme is case-insensitive, spaces after it skipped
--- request
GET /claims
--- more_headers eval
"Authorization: bearer   $::EVE"
--- error_code: 200
--- response_headers
X-Sub: eve



=== TEST 15: the second issuer, the audience in an array
--- request
GET /iss-aud
--- more_headers eval
"Authorization: Bearer $::OTHER_ISS"
--- error_code: 200



=== TEST 16: the first issuer, the audience as a string
--- request
GET /iss-aud
--- more_headers eval
"Authorization: Bearer $::ISS"
--- error_code: 200



=== TEST 17: no exp with kafka_jwt_require_exp off
--- request
GET /no-exp
--- more_headers eval
"Authorization: Bearer $::NO_EXP"
--- error_code: 200



=== TEST 18: expired and not yet valid, within the leeway
--- request
GET /leeway
--- more_headers eval
"Authorization: Bearer $::LEEWAY"
--- error_code: 200



=== TEST 19: kafka_jwt off in a nested location; the enclosing one still needs a token
--- request eval
["GET /open/public", "GET /open/other"]
--- error_code eval
[200, 401]
