# The HTTP contract of kafka_jwt, as Test::Nginx blocks: challenges,
# JSON bodies, satisfy any/all, limit_except, realms, claims in headers,
# keys refused at start.  No Kafka here (empty_gif answers).

use strict;
use warnings;

BEGIN {
    unless (eval { require Test::Nginx::Socket; 1 }) {
        print "1..0 # SKIP Test::Nginx::Socket is not available "
              . "(prove -I t/compat)\n";
        exit 0;
    }
}

use Test::Nginx::Socket;
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::JWT qw(make_keys jwt_sign jwt_raw);

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

our $ES = jwt_sign('ES256', "$keys/ec.pem",
                   { sub => 'alice', exp => time + 3600, roles => ['a'] });
our $EXPIRED = jwt_sign('ES256', "$keys/ec.pem",
                        { sub => 'alice', exp => time - 60 });
our $NONE = jwt_raw('{"alg":"none"}', '{"sub":"root"}') . 'c2ln';
our $INJECT = jwt_sign('ES256', "$keys/ec.pem",
                       { sub => "a\r\nSet-Cookie: evil=1", name => "ok",
                         exp => time + 3600 });
our $INJECT_LF = jwt_sign('ES256', "$keys/ec.pem",
                          { sub => "a\nX-Evil: 1", name => "ok",
                            exp => time + 3600 });
our $INJECT_NESTED = jwt_sign('ES256', "$keys/ec.pem",
                              { sub => "bob", roles => ["x\x7fy"],
                                exp => time + 3600 },
                              { kid => "k\r\nX-Evil: 1" });
our $CONFUSED = jwt_sign('HS256', "$keys/ec.pub",
                         { sub => 'mallory', exp => time + 3600 });

no_shuffle();

# per response: the status, each response_headers line, the body check,
# each error_log/no_error_log line; must_die: 1 + its error_log lines
plan tests => 81;

run_tests();

__DATA__

=== TEST 1: no token: 401, Bearer challenge without an error, JSON body
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- error_log
kafka jwt: no bearer token was provided
--- no_error_log
[error]
[alert]



=== TEST 2: a valid token; a claim in a response header
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Roles $jwt_claim_roles;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::ES"
--- error_code: 200
--- response_headers
X-Sub: alice
X-Roles: ["a"]
!WWW-Authenticate
--- no_error_log
[error]
[alert]



=== TEST 3: expired: invalid_token with the reason
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::EXPIRED"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has expired"
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has expired"}
--- error_log
kafka jwt: token rejected: the token has expired
--- no_error_log
[error]
[alert]



=== TEST 4: alg none
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::NONE"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="unsigned tokens are not accepted"
--- no_error_log
[error]
[alert]



=== TEST 5: HS256 signed with the EC public key (key confusion)
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::CONFUSED"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
--- no_error_log
[error]
[alert]



=== TEST 6: the realm is a quoted-string
--- config
    location = /t {
        kafka_jwt 'say "hi" \ bye';
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="say \"hi\" \\ bye"
--- no_error_log
[error]
[alert]



=== TEST 7: a realm variable that is "off" disables the check
--- config
    location = /t {
        set $realm off;
        kafka_jwt $realm;
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
[error]
[alert]



=== TEST 8: satisfy any, nothing lets the request in: nginx's 401 page
--- config
    location = /t {
        satisfy any;
        deny all;
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
Content-Type: text/html
--- response_body_like: <h1>401 Authorization Required</h1>
--- no_error_log
[alert]



=== TEST 9: satisfy any, allowed by address: no challenge left
--- config
    location = /t {
        satisfy any;
        allow all;
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
GET /t
--- error_code: 200
--- response_headers
!WWW-Authenticate
--- no_error_log
[error]
[alert]



=== TEST 10: limit_except: a token for everything but GET
--- config
    location = /t {
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;

        limit_except GET {
            kafka_jwt "kafka";
        }

        empty_gif;
    }
--- request eval
["GET /t", "DELETE /t"]
--- error_code eval
[200, 401]
--- no_error_log
[error]
[alert]



=== TEST 11: HEAD: the status and the challenge, no body
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
    }
--- request
HEAD /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
--- no_error_log
[error]
[alert]



=== TEST 12: a private key is refused at start
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pem;
        empty_gif;
    }
--- must_die
--- error_log
holds a private key; kafka_jwt_key_file takes the public key



=== TEST 13: a PEM key declared as an HMAC secret is refused at start
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_type hmac;
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub;
        empty_gif;
    }
--- must_die
--- error_log
is a PEM file, not an HMAC secret



=== TEST 14: a signed claim with CR LF cannot add a response header
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Name $jwt_claim_name;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::INJECT"
--- error_code: 200
--- response_headers
X-Name: ok
!X-Sub
!Set-Cookie
--- error_log
the token's "sub" holds a control character, the variable is left empty
--- no_error_log
[error]
[alert]



=== TEST 15: a bare LF in a claim is refused the same way
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Name $jwt_claim_name;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::INJECT_LF"
--- error_code: 200
--- response_headers
X-Name: ok
!X-Sub
!X-Evil
--- error_log
the token's "sub" holds a control character
--- no_error_log
[error]
[alert]



=== TEST 16: DEL in a nested claim, CR LF in a header parameter: both left empty
--- config
    location = /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        empty_gif;
        add_header X-Sub $jwt_claim_sub;
        add_header X-Roles $jwt_claim_roles;
        add_header X-Kid $jwt_header_kid;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::INJECT_NESTED"
--- error_code: 200
--- response_headers
X-Sub: bob
!X-Roles
!X-Kid
!X-Evil
--- error_log
the token's "roles" holds a control character
the token's "kid" holds a control character
--- no_error_log
[error]
[alert]
