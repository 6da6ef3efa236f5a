# CORS with add_header: the preflight (OPTIONS, no credentials) is answered
# by the configuration in the rewrite phase, before kafka_jwt and the
# content handler, and produces nothing; actual requests and their errors
# carry the CORS headers.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign);

brokers_or_skip();

my $ng = KafkaGateway::Harness->new(name => 'cors');
my $keys = make_keys($ng->dir . '/conf');

$ng->start(
    http => <<'HTTP',
    map $http_origin $cors_origin {
        default "";
        "https://app.example.com" $http_origin;
    }
HTTP
    server => <<'SERVER');
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
            kafka_jwt_key_file ec.pub;
            kafka_acl_claim scope;

            kafka_produce $topic;
        }
SERVER

my $topic = unique_topic('cors');
my $token = jwt_sign('ES256', "$keys/ec.pem",
                     { sub => 'web', exp => time + 300,
                       scope => "kafka:produce:$topic" });
my $app = 'Origin: https://app.example.com';

# preflight

{
    my $r = $ng->request(method => 'OPTIONS', path => "/topics/$topic",
                         headers => [$app,
                                     'Access-Control-Request-Method: POST',
                                     'Access-Control-Request-Headers: '
                                     . 'authorization,content-type']);
    my $h = $r->{headers};

    is($r->{status}, 204, 'preflight: 204 without a token');
    is($h->{'access-control-allow-origin'}, 'https://app.example.com',
       'preflight: the origin is allowed');
    is($h->{'access-control-allow-methods'}, 'POST, OPTIONS',
       'preflight: methods');
    like($h->{'access-control-allow-headers'}, qr/\bAuthorization\b/,
         'preflight: Authorization may be sent');
    is($h->{'access-control-max-age'}, '600', 'preflight: max age');
    ok(!exists $h->{'www-authenticate'}, 'preflight: no challenge');
    is($r->{body}, '', 'preflight: no body');

    $r = $ng->request(method => 'OPTIONS', path => "/topics/$topic",
                      headers => ['Origin: https://evil.example',
                                  'Access-Control-Request-Method: POST']);
    is($r->{status}, 204, 'preflight from another origin: 204');
    ok(!exists $r->{headers}{'access-control-allow-origin'},
       'preflight from another origin: not allowed');

    unlike($ng->new_log, qr/kafka (jwt|acl)/,
           'preflight: neither kafka_jwt nor the ACL was consulted');
}

# actual requests

{
    my $r = $ng->request(method => 'POST', path => "/topics/$topic",
                         headers => [$app, "Authorization: Bearer $token"],
                         body => 'from the browser');
    is($r->{status}, 200, 'POST with a token: produced');
    is($r->{headers}{'access-control-allow-origin'},
       'https://app.example.com', 'POST: CORS header');
    is($r->{headers}{vary}, 'Origin', 'POST: Vary');

    $r = $ng->request(method => 'POST', path => "/topics/$topic",
                      headers => [$app], body => 'no token');
    is($r->{status}, 401, 'POST without a token: 401');
    is($r->{headers}{'access-control-allow-origin'},
       'https://app.example.com', '401: CORS header, the page can read it');
    is($r->{headers}{'access-control-expose-headers'}, 'WWW-Authenticate',
       '401: the challenge is exposed');
    is(eval { decode_json($r->{body})->{error_code} }, 40101,
       '401: JSON body');

    $r = $ng->request(method => 'POST', path => "/topics/other-$topic",
                      headers => [$app, "Authorization: Bearer $token"],
                      body => 'not granted');
    is($r->{status}, 403, 'POST to a topic not granted: 403');
    is($r->{headers}{'access-control-allow-origin'},
       'https://app.example.com', '403: CORS header');

    $r = $ng->request(method => 'POST', path => "/topics/$topic",
                      headers => ['Origin: https://evil.example',
                                  "Authorization: Bearer $token"],
                      body => 'other origin');
    is($r->{status}, 200,
       'another origin: CORS is for browsers, the token still decides');
    ok(!exists $r->{headers}{'access-control-allow-origin'},
       'another origin: no CORS header, a browser hides the answer');
}

my @values = map { $_->{value} } @{ kafka_dump($topic) };
is_deeply([sort @values], ['from the browser', 'other origin'],
          'only the two accepted POSTs produced; preflights produced nothing');
is(scalar @{ kafka_dump("other-$topic") }, 0, 'nothing to the other topic');

$ng->no_error_log('cors');
$ng->stop;

done_testing();
