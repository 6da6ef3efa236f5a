# Policy on kafka_consume_sse locations: JWT from a query argument (an
# EventSource cannot set headers), consume grants per topic, a stream
# filtered to the caller's own key, limit_conn, and SSE over HTTPS.

use strict;
use warnings;

use Test::More;
use FindBin;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Test qw(free_port);
use KafkaGateway::Features qw(nginx_lacks);

plan skip_all => 'several servers and curl: not under valgrind'
    if sse_valgrind();

my $keys = make_keys(tempdir(CLEANUP => 1));

system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
       . " -nodes -keyout $keys/tls.key -out $keys/tls.crt -days 2"
       . " -subj /CN=localhost 2>/dev/null") == 0 or die "openssl req";

my $topic = sse_unique_topic('psse');
my $other = sse_unique_topic('psse-other');
my $tls_port = free_port();

# an nginx without ssl runs the rest
my $no_ssl = nginx_lacks('http_ssl_module');

sse_start_nginx(<<"LOC", http => <<"HTTP" . ($no_ssl ? '' : <<"HTTPS"));
        # EventSource: the token comes in ?access_token=
        location ~ ^/mine/(?<t>[^/]+)\$ {
            kafka_jwt                  events;
            kafka_jwt_key_file         $keys/hmac.key;
            kafka_jwt_key_type         hmac;
            kafka_jwt_token            \$arg_access_token;
            kafka_acl_claim            scope;
            kafka_consume_sse          \$t;
            kafka_consume_start        earliest;
            kafka_consume_filter_key   \$jwt_claim_sub;
        }

        location ~ ^/limited/(?<t>[^/]+)\$ {
            limit_conn                 streams 2;
            limit_conn_status          429;
            kafka_consume_sse          \$t;
        }
LOC
    limit_conn_zone \$binary_remote_addr zone=streams:1m;
HTTP

    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate      $keys/tls.crt;
        ssl_certificate_key  $keys/tls.key;

        location ~ ^/events/(?<t>[^/]+)\$ {
            kafka_consume_sse          \$t;
            kafka_consume_start        earliest;
        }
    }
HTTPS

my $now = time;
sub token {
    my ($sub, $scope, %extra) = @_;
    return jwt_sign('HS256', "$keys/hmac.key",
                    { sub => $sub, scope => $scope, exp => $now + 600,
                      %extra });
}

sse_produce($topic, 0, 'alice', 'for alice 1');
sse_produce($topic, 1, 'bob', 'for bob');
sse_produce($topic, 2, 'alice', 'for alice 2');
sse_produce($topic, 0, undef, 'for nobody');
sse_produce($other, 0, 'alice', 'other topic');


# JWT and grants

{
    my ($status, $head, $body) = sse_request('GET', "/mine/$topic");
    is($status, 401, 'no token: 401');
    like($head, qr/^WWW-Authenticate: Bearer realm="events"/mi,
         '... with a Bearer challenge');
    like($body, qr/^\{"error_code":401\d\d,/, '... and a JSON body');
}

{
    my $bad = token('alice', "kafka:consume:$topic");
    $bad =~ s/.$/ $& eq 'A' ? 'B' : 'A' /e;
    my ($status, $head) = sse_request('GET',
                                      "/mine/$topic?access_token=$bad");
    is($status, 401, 'a bad signature: 401');
    like($head, qr/error="invalid_token"/, '... invalid_token');
}

{
    my $t = token('alice', "kafka:produce:$topic kafka:consume:$other");
    my ($status, undef, $body) = sse_request('GET',
                                             "/mine/$topic?access_token=$t");
    is($status, 403, 'a token without a consume grant for the topic: 403');
    like($body, qr/\Q$topic\E/, '... naming the topic');
    like($body, qr/consume/, '... and the action');
}

{
    my $t = token('alice', 'kafka:consume:psse-*');
    my $h = sse_get("/mine/$topic?access_token=$t", 6,
                    until => sub { @{ $_[0]{events} } >= 2 });
    like($h->{raw}, qr{^HTTP/1\.1 200}, 'a consume grant by prefix: 200');
    is_deeply([ sort map { $_->{data} } @{ $h->{events} } ],
              ['for alice 1', 'for alice 2'],
              'the stream is filtered to the token\'s sub: only alice\'s '
              . 'records');

    $t = token('bob', "kafka:consume:$topic");
    $h = sse_get("/mine/$topic?access_token=$t", 6,
                 until => sub { @{ $_[0]{events} } >= 1 });
    sse_read($h, 0.5);
    is_deeply([ map { $_->{data} } @{ $h->{events} } ], ['for bob'],
              'bob sees only bob\'s record');
}

{
    my $t = token('alice', "kafka:consume:$topic", exp => $now - 3600);
    my ($status) = sse_request('GET', "/mine/$topic?access_token=$t");
    is($status, 401, 'an expired token: 401, no stream');
}


# limit_conn: the third concurrent stream is refused

{
    my @open = map { sse_open("/limited/$topic") } 1 .. 2;
    sse_read($_, 3, until => sub { $_[0]{raw} =~ /\r\n\r\n/ }) for @open;
    like($_->{raw}, qr{^HTTP/1\.1 200}, 'a stream within limit_conn: 200')
        for @open;

    my ($status) = sse_request('GET', "/limited/$topic");
    is($status, 429, 'the third concurrent stream: 429 from limit_conn');

    sse_close($_) for @open;
    sleep 0.5;
    my $h = sse_open("/limited/$topic");
    sse_read($h, 3, until => sub { $_[0]{raw} =~ /\r\n\r\n/ });
    like($h->{raw}, qr{^HTTP/1\.1 200}, 'after the others left: 200 again');
    sse_close($h);
}


# SSE over HTTPS

SKIP: {
    skip $no_ssl, 2 if $no_ssl;
    skip 'no curl', 2 unless `curl --version 2>/dev/null` =~ /^curl/;
    my $out = `curl -skN --max-time 3 https://127.0.0.1:$tls_port/events/$topic 2>/dev/null`;
    my @data = $out =~ /^data: (.*)$/mg;
    is_deeply([ sort @data ],
              [ sort 'for alice 1', 'for bob', 'for alice 2', 'for nobody' ],
              'SSE over HTTPS: every record of the topic');
    like($out, qr/^id: \d+:\d+/m, '... with resume ids');
}

unlike(sse_error_log(), qr/\[(alert|crit|emerg)\]/, 'no alerts in the log');

sse_stop_nginx();

done_testing();
