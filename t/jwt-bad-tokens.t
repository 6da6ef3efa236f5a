# The bad-token corpus: every token here is refused with 401, the right
# WWW-Authenticate challenge and a JSON body; nothing reaches Kafka (read
# back), the reason is logged at info without the token, and the worker
# stays up.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign jwt_raw b64url json_text);

brokers_or_skip();

my $ng = KafkaGateway::Harness->new(name => 'jwt-bad-tokens');
my $keys = make_keys($ng->dir . '/conf');

# a second secret, for signatures by someone else
system("openssl rand -out $keys/other.key 64") == 0 or die;
system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
       . " -out $keys/other-ec.pem 2>/dev/null") == 0 or die;

my $topic = unique_topic('jwt-bad');

$ng->start(server => <<"SERVER");
        location ~ ^/hs/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_type hmac;
            kafka_jwt_key_file hmac.key;
            kafka_jwt_max_size 1k;
            kafka_produce \$topic;
        }

        location ~ ^/rs/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file rsa.pub;
            kafka_jwt_issuer https://issuer.example;
            kafka_jwt_audience kafka-gateway;
            kafka_produce \$topic;
        }

        location ~ ^/es/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_produce \$topic;
        }
SERVER

my $now = time;
my %ok = (sub => 'alice', exp => $now + 300);
my %rs_ok = (%ok, iss => 'https://issuer.example', aud => 'kafka-gateway');

my $hs = jwt_sign('HS256', "$keys/hmac.key", \%ok);
my ($h64, $p64, $s64) = split /\./, $hs;

my $hs_header = json_text({ alg => 'HS256', typ => 'JWT' });
my $ok_payload = json_text(\%ok);

# [ name, location, token, expected error_description ]
my @cases = (
    [ 'wrong signature', 'hs',
      jwt_sign('HS256', "$keys/other.key", \%ok),
      'the signature is invalid' ],

    [ 'payload changed after signing', 'hs',
      "$h64." . b64url(json_text({ %ok, sub => 'admin' })) . ".$s64",
      'the signature is invalid' ],

    [ 'signature of another token', 'hs',
      "$h64." . (split /\./, jwt_sign('HS256', "$keys/hmac.key",
                                      { %ok, sub => 'bob' }))[1] . ".$s64",
      'the signature is invalid' ],

    [ 'truncated signature', 'hs', substr($hs, 0, -8),
      'the signature is invalid' ],

    [ 'two segments', 'hs', "$h64.$p64", 'the token is malformed' ],

    [ 'one segment', 'hs', $h64, 'the token is malformed' ],

    [ 'extra segment', 'hs', "$hs.$s64", 'the token is malformed' ],

    [ 'five segments (JWE)', 'hs', "$h64.$p64.$s64.$s64.$s64",
      'the token is malformed' ],

    [ 'empty payload segment', 'hs', "$h64..$s64",
      'the token is malformed' ],

    [ 'standard base64 characters', 'hs',
      "$h64.$p64.$s64" =~ s/-/+/gr =~ s/_/\//gr . '+/',
      'the token is malformed' ],

    [ 'base64 padding', 'hs', "$h64.$p64.$s64==",
      'the token is malformed' ],

    # one character more than a multiple of four cannot be base64
    [ 'invalid base64 length', 'hs',
      "$h64." . substr($p64, 0, 4 * int(length($p64) / 4) + 1) . ".$s64",
      'the token is malformed' ],

    [ 'non-ASCII byte', 'hs', "$h64.$p64\xc3\xa9.$s64",
      'the token is malformed' ],

    [ 'header not JSON', 'hs',
      jwt_raw('{"alg":"HS256"', $ok_payload, 'HS256', "$keys/hmac.key"),
      'the token header is not a JSON object' ],

    [ 'header a JSON string', 'hs',
      jwt_raw('"HS256"', $ok_payload, 'HS256', "$keys/hmac.key"),
      'the token header is not a JSON object' ],

    [ 'duplicate alg in the header', 'hs',
      jwt_raw('{"alg":"RS256","alg":"HS256"}', $ok_payload, 'HS256',
              "$keys/hmac.key"),
      'the token header is not a JSON object' ],

    [ 'payload not JSON', 'hs',
      jwt_raw($hs_header, 'sub=alice', 'HS256', "$keys/hmac.key"),
      'the token payload is not a JSON object' ],

    [ 'payload a JSON array', 'hs',
      jwt_raw($hs_header, '[{"sub":"alice"}]', 'HS256', "$keys/hmac.key"),
      'the token payload is not a JSON object' ],

    [ 'payload truncated JSON', 'hs',
      jwt_raw($hs_header, substr($ok_payload, 0, -1), 'HS256',
              "$keys/hmac.key"),
      'the token payload is not a JSON object' ],

    [ 'alg none, empty signature', 'hs',
      jwt_raw('{"alg":"none","typ":"JWT"}', $ok_payload),
      'the token is malformed' ],

    [ 'alg none with a signature', 'hs',
      jwt_raw('{"alg":"none","typ":"JWT"}', $ok_payload) . $s64,
      'unsigned tokens are not accepted' ],

    [ 'alg None', 'hs',
      jwt_raw('{"alg":"None"}', $ok_payload) . $s64,
      'the token algorithm is not supported' ],

    [ 'alg hs256 (case)', 'hs',
      jwt_raw('{"alg":"hs256"}', $ok_payload) . $s64,
      'the token algorithm is not supported' ],

    [ 'alg PS256', 'hs',
      jwt_raw('{"alg":"PS256"}', $ok_payload) . $s64,
      'the token algorithm is not supported' ],

    [ 'no alg', 'hs',
      jwt_raw('{"typ":"JWT"}', $ok_payload, 'HS256', "$keys/hmac.key"),
      'the token has no algorithm' ],

    [ 'alg not a string', 'hs',
      jwt_raw('{"alg":256}', $ok_payload, 'HS256', "$keys/hmac.key"),
      'the token has no algorithm' ],

    # key confusion: HS256 with the RSA public key (as published, and as
    # nginx re-encodes it) as the HMAC secret
    [ 'HS256 signed with the RSA public key file', 'rs',
      jwt_sign('HS256', "$keys/rsa.pub", \%rs_ok),
      'the token algorithm does not match the key' ],

    [ 'HS512 signed with the EC public key file', 'es',
      jwt_sign('HS512', "$keys/ec.pub", \%ok),
      'the token algorithm does not match the key' ],

    [ 'RS256 token, HMAC key', 'hs',
      jwt_sign('RS256', "$keys/rsa.pem", \%ok),
      'the token algorithm does not match the key' ],

    [ 'RS256 token, EC key', 'es',
      jwt_sign('RS256', "$keys/rsa.pem", \%ok),
      'the token algorithm does not match the key' ],

    [ 'ES384 token, P-256 key', 'es',
      jwt_sign('ES384', "$keys/ec384.pem", \%ok),
      'the token algorithm does not match the key' ],

    [ 'ES256 token signed by another P-256 key', 'es',
      jwt_sign('ES256', "$keys/other-ec.pem", \%ok),
      'the signature is invalid' ],

    [ 'RS256 with a signature of other data', 'rs',
      jwt_sign('RS256', "$keys/rsa.pem", \%rs_ok) =~ s/\.[^.]+$//r . '.'
          . (split /\./, jwt_sign('RS256', "$keys/rsa.pem", { a => 1 }))[2],
      'the signature is invalid' ],

    [ 'crit header', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", \%ok, { crit => ['exp'] }),
      'the token has critical header parameters' ],

    [ 'typ JWE', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", \%ok, { typ => 'JWE' }),
      'the token type is not JWT' ],

    [ 'expired', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, exp => $now - 5 }),
      'the token has expired' ],

    [ 'not yet valid', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, nbf => $now + 3600 }),
      'the token is not valid yet' ],

    [ 'no exp', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { sub => 'alice' }),
      'the token has no expiry' ],

    [ 'exp as a string', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, exp => '' . ($now + 300) }),
      'the token has a claim of the wrong type' ],

    [ 'sub a number', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, sub => 42 }),
      'the token has a claim of the wrong type' ],

    [ 'sub an array', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, sub => ['alice'] }),
      'the token has a claim of the wrong type' ],

    [ 'aud with a number', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, aud => ['a', 1] }),
      'the token has a claim of the wrong type' ],

    [ 'wrong issuer', 'rs',
      jwt_sign('RS256', "$keys/rsa.pem",
               { %rs_ok, iss => 'https://issuer.example.evil' }),
      'the token issuer is not accepted' ],

    [ 'no issuer', 'rs',
      jwt_sign('RS256', "$keys/rsa.pem",
               { sub => 'a', exp => $now + 60, aud => 'kafka-gateway' }),
      'the token issuer is not accepted' ],

    [ 'wrong audience', 'rs',
      jwt_sign('RS256', "$keys/rsa.pem", { %rs_ok, aud => 'kafka' }),
      'the token audience is not accepted' ],

    [ 'audience array without ours', 'rs',
      jwt_sign('RS256', "$keys/rsa.pem",
               { %rs_ok, aud => ['a', 'kafka-gateway-x'] }),
      'the token audience is not accepted' ],

    [ 'over kafka_jwt_max_size', 'hs',
      jwt_sign('HS256', "$keys/hmac.key", { %ok, pad => 'x' x 1024 }),
      'the token is too large' ],
);

my @secrets;

for my $c (@cases) {
    my ($name, $loc, $token, $reason) = @$c;

    push @secrets, (split /\./, $token)[2] // $token;

    my $r = $ng->request(method => 'POST', path => "/$loc/topics/$topic",
                         headers => ["Authorization: Bearer $token"],
                         body => "must not be produced: $name");

    is($r->{status}, 401, "$name: 401");
    is($r->{headers}{'www-authenticate'},
       qq{Bearer realm="kafka", error="invalid_token", }
       . qq{error_description="$reason"},
       "$name: WWW-Authenticate");
    is($r->{headers}{'content-type'}, 'application/json',
       "$name: JSON body");

    my $body = eval { decode_json($r->{body}) } // {};
    is($body->{error_code}, 40101, "$name: error_code");
    is($body->{message}, "invalid token: $reason", "$name: message");
}

# no token at all: the challenge has no error attribute

for my $c (['no Authorization', []],
           ['Basic credentials', ['Authorization: Basic YWxpY2U6c2VjcmV0']],
           ['empty Bearer', ['Authorization: Bearer ']],
           ['Bearer without a space', ["Authorization: Bearer$hs"]])
{
    my ($name, $headers) = @$c;

    my $r = $ng->request(method => 'POST', path => "/hs/topics/$topic",
                         headers => $headers, body => "must not be produced");

    is($r->{status}, 401, "$name: 401");
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="kafka"',
       "$name: challenge without an error");

    my $body = eval { decode_json($r->{body}) } // {};
    is($body->{message}, 'a bearer token is required', "$name: message");
}

# HEAD: the same status and challenge, no body

{
    my $r = $ng->request(method => 'HEAD', path => "/hs/topics/$topic");
    is($r->{status}, 401, 'HEAD without a token: 401');
    is($r->{body}, '', 'HEAD: no body');
}

my $log = $ng->new_log;

like($log, qr/\[info\].*kafka jwt: token rejected: the signature is invalid/,
     'the reason is logged at info');
like($log, qr/\[info\].*kafka jwt: no bearer token was provided/,
     'a missing token is logged at info');
ok(!(grep { length > 10 && index($log, $_) >= 0 } @secrets),
   'no token is logged');
unlike($log, qr/\[(error|alert|crit|emerg)\]|exited on signal/,
       'no [error] or [alert], the worker did not crash');

is(scalar @{ kafka_dump($topic) }, 0, 'nothing was produced');

# the same worker and topic still work: the check above could fail

my $r = $ng->request(method => 'POST', path => "/hs/topics/$topic",
                     headers => ["Authorization: Bearer $hs"],
                     body => 'the one record');
is($r->{status}, 200, 'a valid token still works');

my $records = kafka_dump($topic);
is(scalar @$records, 1, 'exactly the valid record was produced');
is($records->[0]{value}, 'the one record', 'and it is the valid one');

$ng->no_error_log('after the corpus');
$ng->stop;

done_testing();
