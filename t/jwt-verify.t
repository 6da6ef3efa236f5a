# Valid tokens: every supported algorithm is accepted with its key type,
# claims and header parameters become variables, and the verified "sub"
# becomes the Kafka key and the x-principal header of what is produced
# (read back from Kafka).

use strict;
use warnings;

use Test::More;
use JSON::PP;

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign);

brokers_or_skip();

my $ng = KafkaGateway::Harness->new(name => 'jwt-verify');
my $keys = make_keys($ng->dir . '/conf');

my %key_of = (
    HS256 => 'hmac.key', HS384 => 'hmac.key', HS512 => 'hmac.key',
    RS256 => 'rsa.pem', RS384 => 'rsa.pem', RS512 => 'rsa.pem',
    ES256 => 'ec.pem', ES384 => 'ec384.pem', ES512 => 'ec521.pem',
);

my %location_of = (
    HS256 => 'hs', HS384 => 'hs', HS512 => 'hs',
    RS256 => 'rs', RS384 => 'rs', RS512 => 'rs',
    ES256 => 'es', ES384 => 'es384', ES512 => 'es521',
);

my $produce = <<'LOC';
            kafka_produce $topic;
            kafka_produce_key $jwt_claim_sub;
            kafka_produce_header x-principal $jwt_claim_sub;
            kafka_produce_header x-tenant $jwt_claim_tenant;
LOC

$ng->start(
    http => <<'HTTP',
    log_format jwt '$status sub=$jwt_claim_sub alg=$jwt_header_alg';

    map $jwt_claim_sub $jwt_is_alice {
        alice    yes;
        default  no;
    }
HTTP
    server => <<"SERVER");
        access_log logs/jwt.log jwt;

        location ~ ^/hs/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_type hmac;
            kafka_jwt_key_file hmac.key;
$produce
        }

        location ~ ^/rs/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file rsa.pub;
$produce
        }

        location ~ ^/es/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
$produce
        }

        location ~ ^/es384/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_type ec;
            kafka_jwt_key_file ec384.pub;
$produce
        }

        location ~ ^/es521/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec521.pub;
$produce
        }

        # claims and header parameters as variables
        location = /claims {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            empty_gif;
            add_header X-Sub \$jwt_claim_sub;
            add_header X-Num \$jwt_claim_n;
            add_header X-Float \$jwt_claim_f;
            add_header X-Bool \$jwt_claim_b;
            add_header X-Arr \$jwt_claim_groups;
            add_header X-Obj \$jwt_claim_obj;
            add_header X-Camel \$jwt_claim_tenantid;
            add_header X-Missing "[\$jwt_claim_nothere]";
            add_header X-Null "[\$jwt_claim_nul]";
            add_header X-Kid \$jwt_header_kid;
            add_header X-Alg \$jwt_header_alg;
            add_header X-Map \$jwt_is_alice;
        }

        # EventSource cannot send headers: the token from a query argument
        # or a cookie
        location = /arg {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_jwt_token \$arg_access_token;
            empty_gif;
            add_header X-Sub \$jwt_claim_sub;
        }

        location = /cookie {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_jwt_token \$cookie_jwt;
            empty_gif;
            add_header X-Sub \$jwt_claim_sub;
        }

        location = /iss-aud {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_jwt_issuer https://issuer.example;
            kafka_jwt_issuer https://other.example;
            kafka_jwt_audience kafka-gateway;
            empty_gif;
        }

        location = /no-exp {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_jwt_require_exp off;
            empty_gif;
        }

        location = /leeway {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_jwt_leeway 60s;
            empty_gif;
        }

        # "kafka_jwt off" below a location that requires a token
        location /open/ {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;

            location /open/public {
                kafka_jwt off;
                empty_gif;
            }
        }
SERVER

my $now = time;

sub token {
    my ($alg, $claims, $header) = @_;
    return jwt_sign($alg, "$keys/$key_of{$alg}",
                    { exp => $now + 300, %$claims }, $header);
}

sub bearer { return ["Authorization: Bearer $_[0]"] }


# every algorithm with its key, produced record read back

for my $alg (sort keys %key_of) {
    my $topic = unique_topic("jwt-$alg");
    my $sub = "user-" . lc $alg;

    my $r = $ng->request(method => 'POST',
                         path => "/$location_of{$alg}/topics/$topic",
                         headers => bearer(token($alg, { sub => $sub,
                                                        tenant => 'acme' })),
                         body => "hello $alg");

    is($r->{status}, 200, "$alg: accepted") or diag($r->{body});

    my $records = kafka_dump($topic);

    is(scalar @$records, 1, "$alg: one record produced");
    is($records->[0]{key}, $sub, "$alg: the key is the token's sub");
    like($records->[0]{headers} // '', qr/(^|,)x-principal=\Q$sub\E(,|$)/,
         "$alg: x-principal is the token's sub");
    like($records->[0]{headers} // '', qr/(^|,)x-tenant=acme(,|$)/,
         "$alg: a custom claim as a header");
    is($records->[0]{value}, "hello $alg", "$alg: the value");
}

$ng->no_error_log('algorithms');


# variables

{
    my $t = token('ES256', { sub => 'alice', n => 42, f => 1.5,
                             b => JSON::PP::true, groups => ['a', 'b'],
                             obj => { x => 1 }, tenantId => 'T-1',
                             nul => undef },
                  { kid => 'key-1' });

    my $r = $ng->request(path => '/claims', headers => bearer($t));
    my $h = $r->{headers};

    is($r->{status}, 200, 'claims: accepted');
    is($h->{'x-sub'}, 'alice', 'claims: string as it is');
    is($h->{'x-num'}, '42', 'claims: integer as text');
    is($h->{'x-float'}, '1.5', 'claims: real as text');
    is($h->{'x-bool'}, 'true', 'claims: boolean as text');
    is($h->{'x-arr'}, '["a","b"]', 'claims: array as compact JSON');
    is($h->{'x-obj'}, '{"x":1}', 'claims: object as compact JSON');
    is($h->{'x-camel'}, 'T-1', 'claims: a mixed-case claim name');
    is($h->{'x-missing'}, '[]', 'claims: a missing claim is empty');
    is($h->{'x-null'}, '[]', 'claims: a null claim is empty');
    is($h->{'x-kid'}, 'key-1', 'header: kid');
    is($h->{'x-alg'}, 'ES256', 'header: alg');
    is($h->{'x-map'}, 'yes', 'a claim through map');
}

{
    my $t = token('ES256', { sub => 'eve' });

    my $r = $ng->request(path => "/arg?access_token=$t");
    is($r->{status}, 200, 'token from a query argument');
    is($r->{headers}{'x-sub'}, 'eve', 'token from a query argument: sub');

    $r = $ng->request(path => '/arg', headers => bearer($t));
    is($r->{status}, 401,
       'with kafka_jwt_token, the Authorization header is not used');

    $r = $ng->request(path => '/cookie', headers => ["Cookie: a=b; jwt=$t"]);
    is($r->{status}, 200, 'token from a cookie');
    is($r->{headers}{'x-sub'}, 'eve', 'token from a cookie: sub');

    $r = $ng->request(path => '/claims',
                      headers => ["Authorization: bearer   $t"]);
    is($r->{status}, 200, 'the Bearer scheme is case-insensitive');
}

{
    my $r = $ng->request(path => '/iss-aud',
                         headers => bearer(token('ES256', {
                             iss => 'https://other.example',
                             aud => ['x', 'kafka-gateway'] })));
    is($r->{status}, 200, 'second issuer, audience in an array');

    $r = $ng->request(path => '/iss-aud',
                      headers => bearer(token('ES256', {
                          iss => 'https://issuer.example',
                          aud => 'kafka-gateway' })));
    is($r->{status}, 200, 'issuer, audience as a string');

    my $t = jwt_sign('ES256', "$keys/ec.pem", { sub => 'x' });

    $r = $ng->request(path => '/no-exp', headers => bearer($t));
    is($r->{status}, 200, 'no exp, kafka_jwt_require_exp off');

    $r = $ng->request(path => '/leeway',
                      headers => bearer(token('ES256', { exp => $now - 30,
                                                         nbf => $now + 30 })));
    is($r->{status}, 200, 'expired and not yet valid, within the leeway');

    $r = $ng->request(path => '/open/public');
    is($r->{status}, 200, 'kafka_jwt off in a nested location');

    $r = $ng->request(path => '/open/other');
    is($r->{status}, 401, 'the enclosing location still needs a token');
}

$ng->no_error_log('variables');

my $log = $ng->slurp('logs/jwt.log');
like($log, qr/^200 sub=alice alg=ES256$/m,
     'claims in log_format');

$ng->stop;

done_testing();
