# The bad-token corpus: every token here is refused with 401, the right
# WWW-Authenticate challenge and a JSON body, the reason is logged at info
# without the token, and nothing reaches Kafka: the last block's valid
# token finds the topic empty and leaves exactly its one record.  Every
# block runs the three locations below (HMAC, RSA with issuer and
# audience, EC P-256).

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign jwt_raw b64url json_text);

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

# a second secret and EC key, for signatures by someone else
system("openssl rand -out $keys/other.key 64") == 0 or die;
system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
       . " -out $keys/other-ec.pem 2>/dev/null") == 0 or die;

my $now = time;
my %ok = (sub => 'alice', exp => $now + 3600);  # valid for the slowest run
my %rs_ok = (%ok, iss => 'https://issuer.example', aud => 'kafka-gateway');

my $hmac = "$keys/hmac.key";

our $HS = jwt_sign('HS256', $hmac, \%ok);
my ($h64, $p64, $s64) = split /\./, $HS;

my $hs_header = json_text({ alg => 'HS256', typ => 'JWT' });
my $ok_payload = json_text(\%ok);

# the corpus, by the names the blocks use
our %T = (
    wrong_sig => jwt_sign('HS256', "$keys/other.key", \%ok),
    payload_changed =>
        "$h64." . b64url(json_text({ %ok, sub => 'admin' })) . ".$s64",
    other_sig =>
        "$h64." . (split /\./, jwt_sign('HS256', $hmac,
                                        { %ok, sub => 'bob' }))[1]
        . ".$s64",
    truncated_sig => substr($HS, 0, -8),

    two_segments => "$h64.$p64",
    one_segment => $h64,
    extra_segment => "$HS.$s64",
    jwe_segments => "$h64.$p64.$s64.$s64.$s64",
    empty_payload => "$h64..$s64",
    std_base64 => "$h64.$p64.$s64" =~ s/-/+/gr =~ s/_/\//gr . '+/',
    padding => "$h64.$p64.$s64==",
    # one character more than a multiple of four cannot be base64
    bad_b64_length =>
        "$h64." . substr($p64, 0, 4 * int(length($p64) / 4) + 1) . ".$s64",
    non_ascii => "$h64.$p64\xc3\xa9.$s64",

    header_not_json => jwt_raw('{"alg":"HS256"', $ok_payload, 'HS256', $hmac),
    header_string => jwt_raw('"HS256"', $ok_payload, 'HS256', $hmac),
    duplicate_alg => jwt_raw('{"alg":"RS256","alg":"HS256"}', $ok_payload,
                             'HS256', $hmac),
    payload_not_json => jwt_raw($hs_header, 'sub=alice', 'HS256', $hmac),
    payload_array => jwt_raw($hs_header, '[{"sub":"alice"}]', 'HS256', $hmac),
    payload_truncated => jwt_raw($hs_header, substr($ok_payload, 0, -1),
                                 'HS256', $hmac),

    none_empty => jwt_raw('{"alg":"none","typ":"JWT"}', $ok_payload),
    none_signed => jwt_raw('{"alg":"none","typ":"JWT"}', $ok_payload) . $s64,
    alg_None => jwt_raw('{"alg":"None"}', $ok_payload) . $s64,
    alg_lower => jwt_raw('{"alg":"hs256"}', $ok_payload) . $s64,
    alg_PS256 => jwt_raw('{"alg":"PS256"}', $ok_payload) . $s64,
    no_alg => jwt_raw('{"typ":"JWT"}', $ok_payload, 'HS256', $hmac),
    alg_number => jwt_raw('{"alg":256}', $ok_payload, 'HS256', $hmac),

    # key confusion: HS* with the RSA or EC public key (as published) as
    # the HMAC secret
    hs_rsa_pub => jwt_sign('HS256', "$keys/rsa.pub", \%rs_ok),
    hs_ec_pub => jwt_sign('HS512', "$keys/ec.pub", \%ok),
    rs_hmac => jwt_sign('RS256', "$keys/rsa.pem", \%ok),
    rs_ec => jwt_sign('RS256', "$keys/rsa.pem", \%ok),
    es384_p256 => jwt_sign('ES384', "$keys/ec384.pem", \%ok),
    es_other_key => jwt_sign('ES256', "$keys/other-ec.pem", \%ok),
    rs_other_data =>
        jwt_sign('RS256', "$keys/rsa.pem", \%rs_ok) =~ s/\.[^.]+$//r . '.'
        . (split /\./, jwt_sign('RS256', "$keys/rsa.pem", { a => 1 }))[2],

    crit => jwt_sign('HS256', $hmac, \%ok, { crit => ['exp'] }),
    typ_jwe => jwt_sign('HS256', $hmac, \%ok, { typ => 'JWE' }),
    expired => jwt_sign('HS256', $hmac, { %ok, exp => $now - 5 }),
    not_yet => jwt_sign('HS256', $hmac, { %ok, nbf => $now + 3600 }),
    no_exp => jwt_sign('HS256', $hmac, { sub => 'alice' }),
    exp_string => jwt_sign('HS256', $hmac, { %ok, exp => '' . ($now + 300) }),
    sub_number => jwt_sign('HS256', $hmac, { %ok, sub => 42 }),
    sub_array => jwt_sign('HS256', $hmac, { %ok, sub => ['alice'] }),
    aud_number => jwt_sign('HS256', $hmac, { %ok, aud => ['a', 1] }),

    wrong_iss => jwt_sign('RS256', "$keys/rsa.pem",
                          { %rs_ok, iss => 'https://issuer.example.evil' }),
    no_iss => jwt_sign('RS256', "$keys/rsa.pem",
                       { sub => 'a', exp => $now + 3600,
                         aud => 'kafka-gateway' }),
    wrong_aud => jwt_sign('RS256', "$keys/rsa.pem",
                          { %rs_ok, aud => 'kafka' }),
    aud_array => jwt_sign('RS256', "$keys/rsa.pem",
                          { %rs_ok, aud => ['a', 'kafka-gateway-x'] }),

    too_large => jwt_sign('HS256', $hmac, { %ok, pad => 'x' x 1024 }),
);

# what must never appear in the log: each token's signature (the token
# itself when it has none)
our %SECRET = map { ($_ => (split /\./, $T{$_})[2] // $T{$_}) } keys %T;

for (keys %SECRET) {
    die "$_: too short to look for in the log\n" if length $SECRET{$_} <= 10;
}

my $config = <<'CONFIG';
    location ~ ^/hs/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_jwt_key_type hmac;
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;
        kafka_jwt_max_size 1k;
        kafka_produce $topic;
    }

    location ~ ^/rs/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub;
        kafka_jwt_issuer https://issuer.example;
        kafka_jwt_audience kafka-gateway;
        kafka_produce $topic;
    }

    location ~ ^/es/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_produce $topic;
    }
CONFIG

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }

    $block->set_value("config", $config) unless defined $block->config;

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: wrong signature
--- request
POST /hs/topics/jwt-bad
must not be produced: wrong signature
--- more_headers eval
"Authorization: Bearer $::T{wrong_sig}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{wrong_sig}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 2: payload changed after signing
--- request
POST /hs/topics/jwt-bad
must not be produced: payload changed after signing
--- more_headers eval
"Authorization: Bearer $::T{payload_changed}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{payload_changed}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 3: signature of another token
--- request
POST /hs/topics/jwt-bad
must not be produced: signature of another token
--- more_headers eval
"Authorization: Bearer $::T{other_sig}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{other_sig}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 4: truncated signature
--- request
POST /hs/topics/jwt-bad
must not be produced: truncated signature
--- more_headers eval
"Authorization: Bearer $::T{truncated_sig}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{truncated_sig}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 5: two segments
--- request
POST /hs/topics/jwt-bad
must not be produced: two segments
--- more_headers eval
"Authorization: Bearer $::T{two_segments}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{two_segments}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 6: one segment
--- request
POST /hs/topics/jwt-bad
must not be produced: one segment
--- more_headers eval
"Authorization: Bearer $::T{one_segment}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{one_segment}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 7: extra segment
--- request
POST /hs/topics/jwt-bad
must not be produced: extra segment
--- more_headers eval
"Authorization: Bearer $::T{extra_segment}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{extra_segment}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 8: five segments (JWE)
--- request
POST /hs/topics/jwt-bad
must not be produced: five segments (JWE)
--- more_headers eval
"Authorization: Bearer $::T{jwe_segments}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{jwe_segments}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 9: empty payload segment
--- request
POST /hs/topics/jwt-bad
must not be produced: empty payload segment
--- more_headers eval
"Authorization: Bearer $::T{empty_payload}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{empty_payload}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 10: standard base64 characters
--- request
POST /hs/topics/jwt-bad
must not be produced: standard base64 characters
--- more_headers eval
"Authorization: Bearer $::T{std_base64}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{std_base64}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 11: base64 padding
--- request
POST /hs/topics/jwt-bad
must not be produced: base64 padding
--- more_headers eval
"Authorization: Bearer $::T{padding}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{padding}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 12: invalid base64 length
--- request
POST /hs/topics/jwt-bad
must not be produced: invalid base64 length
--- more_headers eval
"Authorization: Bearer $::T{bad_b64_length}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{bad_b64_length}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 13: non-ASCII byte
--- request
POST /hs/topics/jwt-bad
must not be produced: non-ASCII byte
--- more_headers eval
"Authorization: Bearer $::T{non_ascii}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{non_ascii}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 14: header not JSON
--- request
POST /hs/topics/jwt-bad
must not be produced: header not JSON
--- more_headers eval
"Authorization: Bearer $::T{header_not_json}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token header is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token header is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token header is not a JSON object
--- no_error_log eval
"$::SECRET{header_not_json}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 15: header a JSON string
--- request
POST /hs/topics/jwt-bad
must not be produced: header a JSON string
--- more_headers eval
"Authorization: Bearer $::T{header_string}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token header is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token header is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token header is not a JSON object
--- no_error_log eval
"$::SECRET{header_string}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 16: duplicate alg in the header
--- request
POST /hs/topics/jwt-bad
must not be produced: duplicate alg in the header
--- more_headers eval
"Authorization: Bearer $::T{duplicate_alg}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token header is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token header is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token header is not a JSON object
--- no_error_log eval
"$::SECRET{duplicate_alg}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 17: payload not JSON
--- request
POST /hs/topics/jwt-bad
must not be produced: payload not JSON
--- more_headers eval
"Authorization: Bearer $::T{payload_not_json}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token payload is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token payload is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token payload is not a JSON object
--- no_error_log eval
"$::SECRET{payload_not_json}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 18: payload a JSON array
--- request
POST /hs/topics/jwt-bad
must not be produced: payload a JSON array
--- more_headers eval
"Authorization: Bearer $::T{payload_array}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token payload is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token payload is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token payload is not a JSON object
--- no_error_log eval
"$::SECRET{payload_array}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 19: payload truncated JSON
--- request
POST /hs/topics/jwt-bad
must not be produced: payload truncated JSON
--- more_headers eval
"Authorization: Bearer $::T{payload_truncated}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token payload is not a JSON object"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token payload is not a JSON object"}
--- error_log
kafka jwt: token rejected: the token payload is not a JSON object
--- no_error_log eval
"$::SECRET{payload_truncated}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 20: alg none, empty signature
--- request
POST /hs/topics/jwt-bad
must not be produced: alg none, empty signature
--- more_headers eval
"Authorization: Bearer $::T{none_empty}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is malformed"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is malformed"}
--- error_log
kafka jwt: token rejected: the token is malformed
--- no_error_log eval
"$::SECRET{none_empty}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 21: alg none with a signature
--- request
POST /hs/topics/jwt-bad
must not be produced: alg none with a signature
--- more_headers eval
"Authorization: Bearer $::T{none_signed}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="unsigned tokens are not accepted"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: unsigned tokens are not accepted"}
--- error_log
kafka jwt: token rejected: unsigned tokens are not accepted
--- no_error_log eval
"$::SECRET{none_signed}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 22: alg None
--- request
POST /hs/topics/jwt-bad
must not be produced: alg None
--- more_headers eval
"Authorization: Bearer $::T{alg_None}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm is not supported"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm is not supported"}
--- error_log
kafka jwt: token rejected: the token algorithm is not supported
--- no_error_log eval
"$::SECRET{alg_None}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 23: alg hs256 (case)
--- request
POST /hs/topics/jwt-bad
must not be produced: alg hs256 (case)
--- more_headers eval
"Authorization: Bearer $::T{alg_lower}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm is not supported"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm is not supported"}
--- error_log
kafka jwt: token rejected: the token algorithm is not supported
--- no_error_log eval
"$::SECRET{alg_lower}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 24: alg PS256
--- request
POST /hs/topics/jwt-bad
must not be produced: alg PS256
--- more_headers eval
"Authorization: Bearer $::T{alg_PS256}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm is not supported"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm is not supported"}
--- error_log
kafka jwt: token rejected: the token algorithm is not supported
--- no_error_log eval
"$::SECRET{alg_PS256}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 25: no alg
--- request
POST /hs/topics/jwt-bad
must not be produced: no alg
--- more_headers eval
"Authorization: Bearer $::T{no_alg}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has no algorithm"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has no algorithm"}
--- error_log
kafka jwt: token rejected: the token has no algorithm
--- no_error_log eval
"$::SECRET{no_alg}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 26: alg not a string
--- request
POST /hs/topics/jwt-bad
must not be produced: alg not a string
--- more_headers eval
"Authorization: Bearer $::T{alg_number}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has no algorithm"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has no algorithm"}
--- error_log
kafka jwt: token rejected: the token has no algorithm
--- no_error_log eval
"$::SECRET{alg_number}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 27: HS256 signed with the RSA public key file
--- request
POST /rs/topics/jwt-bad
must not be produced: HS256 signed with the RSA public key file
--- more_headers eval
"Authorization: Bearer $::T{hs_rsa_pub}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm does not match the key"}
--- error_log
kafka jwt: token rejected: the token algorithm does not match the key
--- no_error_log eval
"$::SECRET{hs_rsa_pub}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 28: HS512 signed with the EC public key file
--- request
POST /es/topics/jwt-bad
must not be produced: HS512 signed with the EC public key file
--- more_headers eval
"Authorization: Bearer $::T{hs_ec_pub}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm does not match the key"}
--- error_log
kafka jwt: token rejected: the token algorithm does not match the key
--- no_error_log eval
"$::SECRET{hs_ec_pub}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 29: RS256 token, HMAC key
--- request
POST /hs/topics/jwt-bad
must not be produced: RS256 token, HMAC key
--- more_headers eval
"Authorization: Bearer $::T{rs_hmac}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm does not match the key"}
--- error_log
kafka jwt: token rejected: the token algorithm does not match the key
--- no_error_log eval
"$::SECRET{rs_hmac}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 30: RS256 token, EC key
--- request
POST /es/topics/jwt-bad
must not be produced: RS256 token, EC key
--- more_headers eval
"Authorization: Bearer $::T{rs_ec}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm does not match the key"}
--- error_log
kafka jwt: token rejected: the token algorithm does not match the key
--- no_error_log eval
"$::SECRET{rs_ec}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 31: ES384 token, P-256 key
--- request
POST /es/topics/jwt-bad
must not be produced: ES384 token, P-256 key
--- more_headers eval
"Authorization: Bearer $::T{es384_p256}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token algorithm does not match the key"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token algorithm does not match the key"}
--- error_log
kafka jwt: token rejected: the token algorithm does not match the key
--- no_error_log eval
"$::SECRET{es384_p256}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 32: ES256 token signed by another P-256 key
--- request
POST /es/topics/jwt-bad
must not be produced: ES256 token signed by another P-256 key
--- more_headers eval
"Authorization: Bearer $::T{es_other_key}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{es_other_key}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 33: RS256 with a signature of other data
--- request
POST /rs/topics/jwt-bad
must not be produced: RS256 with a signature of other data
--- more_headers eval
"Authorization: Bearer $::T{rs_other_data}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the signature is invalid"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the signature is invalid"}
--- error_log
kafka jwt: token rejected: the signature is invalid
--- no_error_log eval
"$::SECRET{rs_other_data}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 34: crit header
--- request
POST /hs/topics/jwt-bad
must not be produced: crit header
--- more_headers eval
"Authorization: Bearer $::T{crit}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has critical header parameters"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has critical header parameters"}
--- error_log
kafka jwt: token rejected: the token has critical header parameters
--- no_error_log eval
"$::SECRET{crit}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 35: typ JWE
--- request
POST /hs/topics/jwt-bad
must not be produced: typ JWE
--- more_headers eval
"Authorization: Bearer $::T{typ_jwe}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token type is not JWT"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token type is not JWT"}
--- error_log
kafka jwt: token rejected: the token type is not JWT
--- no_error_log eval
"$::SECRET{typ_jwe}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 36: expired
--- request
POST /hs/topics/jwt-bad
must not be produced: expired
--- more_headers eval
"Authorization: Bearer $::T{expired}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has expired"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has expired"}
--- error_log
kafka jwt: token rejected: the token has expired
--- no_error_log eval
"$::SECRET{expired}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 37: not yet valid
--- request
POST /hs/topics/jwt-bad
must not be produced: not yet valid
--- more_headers eval
"Authorization: Bearer $::T{not_yet}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is not valid yet"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is not valid yet"}
--- error_log
kafka jwt: token rejected: the token is not valid yet
--- no_error_log eval
"$::SECRET{not_yet}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 38: no exp
--- request
POST /hs/topics/jwt-bad
must not be produced: no exp
--- more_headers eval
"Authorization: Bearer $::T{no_exp}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has no expiry"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has no expiry"}
--- error_log
kafka jwt: token rejected: the token has no expiry
--- no_error_log eval
"$::SECRET{no_exp}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 39: exp as a string
--- request
POST /hs/topics/jwt-bad
must not be produced: exp as a string
--- more_headers eval
"Authorization: Bearer $::T{exp_string}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has a claim of the wrong type"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has a claim of the wrong type"}
--- error_log
kafka jwt: token rejected: the token has a claim of the wrong type
--- no_error_log eval
"$::SECRET{exp_string}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 40: sub a number
--- request
POST /hs/topics/jwt-bad
must not be produced: sub a number
--- more_headers eval
"Authorization: Bearer $::T{sub_number}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has a claim of the wrong type"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has a claim of the wrong type"}
--- error_log
kafka jwt: token rejected: the token has a claim of the wrong type
--- no_error_log eval
"$::SECRET{sub_number}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 41: sub an array
--- request
POST /hs/topics/jwt-bad
must not be produced: sub an array
--- more_headers eval
"Authorization: Bearer $::T{sub_array}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has a claim of the wrong type"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has a claim of the wrong type"}
--- error_log
kafka jwt: token rejected: the token has a claim of the wrong type
--- no_error_log eval
"$::SECRET{sub_array}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 42: aud with a number
--- request
POST /hs/topics/jwt-bad
must not be produced: aud with a number
--- more_headers eval
"Authorization: Bearer $::T{aud_number}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token has a claim of the wrong type"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token has a claim of the wrong type"}
--- error_log
kafka jwt: token rejected: the token has a claim of the wrong type
--- no_error_log eval
"$::SECRET{aud_number}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 43: wrong issuer
--- request
POST /rs/topics/jwt-bad
must not be produced: wrong issuer
--- more_headers eval
"Authorization: Bearer $::T{wrong_iss}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token issuer is not accepted"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token issuer is not accepted"}
--- error_log
kafka jwt: token rejected: the token issuer is not accepted
--- no_error_log eval
"$::SECRET{wrong_iss}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 44: no issuer
--- request
POST /rs/topics/jwt-bad
must not be produced: no issuer
--- more_headers eval
"Authorization: Bearer $::T{no_iss}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token issuer is not accepted"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token issuer is not accepted"}
--- error_log
kafka jwt: token rejected: the token issuer is not accepted
--- no_error_log eval
"$::SECRET{no_iss}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 45: wrong audience
--- request
POST /rs/topics/jwt-bad
must not be produced: wrong audience
--- more_headers eval
"Authorization: Bearer $::T{wrong_aud}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token audience is not accepted"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token audience is not accepted"}
--- error_log
kafka jwt: token rejected: the token audience is not accepted
--- no_error_log eval
"$::SECRET{wrong_aud}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 46: audience array without ours
--- request
POST /rs/topics/jwt-bad
must not be produced: audience array without ours
--- more_headers eval
"Authorization: Bearer $::T{aud_array}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token audience is not accepted"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token audience is not accepted"}
--- error_log
kafka jwt: token rejected: the token audience is not accepted
--- no_error_log eval
"$::SECRET{aud_array}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 47: over kafka_jwt_max_size
--- request
POST /hs/topics/jwt-bad
must not be produced: over kafka_jwt_max_size
--- more_headers eval
"Authorization: Bearer $::T{too_large}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka", error="invalid_token", error_description="the token is too large"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"invalid token: the token is too large"}
--- error_log
kafka jwt: token rejected: the token is too large
--- no_error_log eval
"$::SECRET{too_large}\n[warn]\n[error]\n[alert]\n[crit]"



=== TEST 48: no Authorization: a challenge without an error
--- request
POST /hs/topics/jwt-bad
must not be produced
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
Content-Type: application/json
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- error_log
kafka jwt: no bearer token was provided
--- no_error_log
[warn]
[error]
[alert]
[crit]



=== TEST 49: Basic credentials are no bearer token
--- request
POST /hs/topics/jwt-bad
must not be produced
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- error_log
kafka jwt: no bearer token was provided
--- no_error_log
YWxpY2U6c2VjcmV0
[warn]
[error]
[alert]
[crit]



=== TEST 50: an empty Bearer is no bearer token
--- request
POST /hs/topics/jwt-bad
must not be produced
--- more_headers
Authorization: Bearer 
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- error_log
kafka jwt: no bearer token was provided
--- no_error_log
[warn]
[error]
[alert]
[crit]



=== TEST 51: Bearer without a space is no bearer token
--- request
POST /hs/topics/jwt-bad
must not be produced
--- more_headers eval
"Authorization: Bearer$::HS"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
{"error_code":40101,"message":"a bearer token is required"}
--- error_log
kafka jwt: no bearer token was provided
--- no_error_log
[warn]
[error]
[alert]
[crit]



=== TEST 52: HEAD without a token: the status and the challenge, no body; nothing was produced
--- request
HEAD /hs/topics/jwt-bad
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="kafka"
--- response_body chomp
--- kafka_topic_count: jwt-bad 0



=== TEST 53: the valid token still works: exactly its one record is in the topic
--- request
POST /hs/topics/jwt-bad
the one record
--- more_headers eval
"Authorization: Bearer $::HS"
--- error_code: 200
--- kafka_topic: jwt-bad
--- kafka_records eval
[ { key => undef, value => "the one record" } ]
--- kafka_topic_count: jwt-bad 1
