# TLS: produce over HTTPS and over HTTP/2 (listen ... ssl http2) with a
# self-signed certificate made here, JWT over both, and
# examples/secure-gateway.conf loaded and used for real.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features qw(nginx_lacks);

brokers_or_skip();

if (my $why = nginx_lacks('http_ssl_module', 'http_v2_module')) {
    plan skip_all => $why;
}

my $ng = KafkaGateway::Harness->new(name => 'tls');
my $dir = $ng->dir;
my $keys = make_keys("$dir/conf");

system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
       . " -nodes -keyout $keys/tls.key -out $keys/tls.crt -days 2"
       . " -subj /CN=localhost 2>/dev/null") == 0 or die "openssl req";

my $curl_h2 = `curl -V` =~ /\bHTTP2\b/;

my $tls = $ng->port(1);

$ng->start(server => <<"SERVER", servers => <<"SERVERS");
        location / {
            return 404;
        }
SERVER
    server {
        listen 127.0.0.1:$tls ssl http2;
        server_name localhost;

        ssl_certificate tls.crt;
        ssl_certificate_key tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        location ~ ^/topics/(?<topic>[^/]+)\$ {
            kafka_produce \$topic;
            kafka_produce_header x-protocol \$server_protocol;
        }

        location ~ ^/jwt/topics/(?<topic>[^/]+)\$ {
            kafka_jwt "kafka";
            kafka_jwt_key_file ec.pub;
            kafka_produce \$topic;
            kafka_produce_key \$jwt_claim_sub;
            kafka_produce_header x-protocol \$server_protocol;
        }
    }
SERVERS

my $run = unique_topic('tls');
my $token = jwt_sign('ES256', "$keys/ec.pem",
                     { sub => 'alice', exp => time + 300 });

sub produce {
    my (%args) = @_;
    return $ng->request(method => 'POST', scheme => 'https', port => 1,
                        %args);
}

{
    my $r = produce(path => "/topics/$run", body => 'over https');
    is($r->{status}, 200, 'HTTPS: produced') or diag($r->{body});
    is($r->{protocol}, 'HTTP/1.1', 'HTTPS: HTTP/1.1');

    $r = produce(path => "/jwt/topics/$run", body => 'jwt over https',
                 headers => ["Authorization: Bearer $token"]);
    is($r->{status}, 200, 'HTTPS with a token: produced');

    $r = produce(path => "/jwt/topics/$run", body => 'no token');
    is($r->{status}, 401, 'HTTPS without a token: 401');
}

SKIP: {
    skip 'curl without HTTP/2', 6 unless $curl_h2;

    my $r = produce(path => "/topics/$run", body => 'over h2', http2 => 1);
    is($r->{status}, 200, 'HTTP/2: produced') or diag($r->{body});
    is($r->{protocol}, 'HTTP/2', 'HTTP/2: negotiated');

    $r = produce(path => "/jwt/topics/$run", body => 'jwt over h2',
                 http2 => 1, headers => ["Authorization: Bearer $token"]);
    is($r->{status}, 200, 'HTTP/2 with a token: produced');

    $r = produce(path => "/jwt/topics/$run", body => 'no token', http2 => 1);
    is($r->{status}, 401, 'HTTP/2 without a token: 401');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="kafka"',
       'HTTP/2: the challenge');
    is(eval { decode_json($r->{body})->{error_code} }, 40101,
       'HTTP/2: the JSON body');
}

{
    my %seen = map { ($_->{value} => $_) } @{ kafka_dump($run) };
    my @want = ('over https', 'jwt over https',
                $curl_h2 ? ('over h2', 'jwt over h2') : ());

    is_deeply([sort keys %seen], [sort @want],
              'exactly the accepted records landed');
    like($seen{'over https'}{headers}, qr/x-protocol=HTTP\/1.1/,
         'the HTTPS record');
    is($seen{'jwt over https'}{key}, 'alice', 'the token subject as key');

    if ($curl_h2) {
        like($seen{'over h2'}{headers}, qr/x-protocol=HTTP\/2.0/,
             'the HTTP/2 record');
    }
}

{
    my $r = $ng->request(path => "/topics/$run", method => 'POST',
                         body => 'plain');
    is($r->{status}, 404, 'the plain HTTP server has no produce location');
}

$ng->no_error_log('tls');
$ng->stop;


# examples/secure-gateway.conf, with this test's paths, ports and broker

{
    my $ex = KafkaGateway::Harness->new(name => 'tls-example');
    my $edir = $ex->dir;
    my $ekeys = make_keys("$edir/conf");

    system("cp $keys/tls.crt $keys/tls.key $edir/conf/") == 0 or die;

    open my $in, '<', 'examples/secure-gateway.conf' or die;
    my $conf = do { local $/; <$in> };
    close $in;

    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $https = $ex->port;
    my $http = $ex->port(1);
    my $n = 0;

    $n += $conf =~ s/^load_module .*\n/$modules . $ex->process_directives/me;
    $n += $conf =~ s/^worker_processes .*/worker_processes 1;/m;
    $n += $conf =~ s/kafka_brokers .*;/kafka_brokers $ENV{TEST_NGINX_KAFKA_BROKERS};/;
    $n += $conf =~ s{/etc/nginx/kafka/issuer.pub}{$edir/conf/ec.pub};
    $n += $conf =~ s{/etc/nginx/tls/kafka.example.com.crt}{$edir/conf/tls.crt};
    $n += $conf =~ s{/etc/nginx/tls/kafka.example.com.key}{$edir/conf/tls.key};
    $n += $conf =~ s{/var/log/nginx/}{$edir/logs/};
    $n += $conf =~ s/listen  80;/listen  127.0.0.1:$http;/;
    $n += $conf =~ s/listen  443 ssl http2;/listen  127.0.0.1:$https ssl http2;/;
    $n += $conf =~ s/^http \{/http {\n    client_body_temp_path $edir\/tmp\/body;/m;

    is($n, 10, 'example: every site-specific line was found');

    my $file = "$edir/conf/nginx.conf";
    open my $out, '>', $file or die;
    print $out $conf;
    close $out;

    my ($ok, $output) = $ex->test_config(file => $file);
    ok($ok, 'example: nginx -t passes') or diag($output);

    $ex->start(file => $file);

    my $topic = unique_topic('example');
    my $good = jwt_sign('ES256', "$ekeys/ec.pem", {
        sub => 'svc-1', exp => time + 300, iss => 'https://login.example.com/',
        aud => 'kafka-gateway', scope => "kafka:produce:$topic" });
    my @origin = ('Origin: https://app.example.com');

    my $r = $ex->request(method => 'POST', scheme => 'https',
                         path => "/topics/$topic", body => 'from the example',
                         headers => ["Authorization: Bearer $good", @origin],
                         http2 => $curl_h2);
    is($r->{status}, 200, 'example: produced over TLS') or diag($r->{body});
    is($r->{headers}{'access-control-allow-origin'},
       'https://app.example.com', 'example: CORS header');

    $r = $ex->request(method => 'POST', scheme => 'https',
                      path => "/topics/other-$topic", body => 'x',
                      headers => ["Authorization: Bearer $good", @origin]);
    is($r->{status}, 403, 'example: topic not granted');

    $r = $ex->request(method => 'OPTIONS', scheme => 'https',
                      path => "/topics/$topic",
                      headers => [@origin,
                                  'Access-Control-Request-Method: POST']);
    is($r->{status}, 204, 'example: preflight');

    $r = $ex->request(path => "/topics/$topic", port => 1);
    is($r->{status}, 301, 'example: HTTP redirects to HTTPS');

    my $records = kafka_dump($topic);
    is(scalar @$records, 1, 'example: one record');
    is($records->[0]{key}, 'svc-1', 'example: keyed by the token subject');

    like($ex->slurp('logs/kafka-audit.log'), qr/sub=svc-1 "POST \/topics\//,
         'example: the audit log names the subject');

    $ex->no_error_log('example', qr/limiting requests/);
    $ex->stop;
}

done_testing();
