# The gateway's policy is nginx's own: limit_req, limit_conn, auth_request,
# auth_basic, allow/deny and satisfy compose with kafka_jwt and
# kafka_produce.  These tests check the composition (what is answered and
# what reaches Kafka), not new code.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features qw(nginx_lacks);

brokers_or_skip();

# an nginx without the auth_request module runs the rest
my $no_auth_request = nginx_lacks('http_auth_request_module');

my $ng = KafkaGateway::Harness->new(name => 'policy-nginx');
my $keys = make_keys($ng->dir . '/conf');

open my $fh, '>', $ng->dir . '/conf/htpasswd' or die;
print $fh "alice:{PLAIN}secret\n";
close $fh;

$ng->start(
    http => <<'HTTP',
    limit_req_zone $binary_remote_addr zone=produce:1m rate=1r/m;
    limit_req_zone $binary_remote_addr zone=produce503:1m rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=streams:1m;

    kafka_jwt_key_type hmac;
    kafka_jwt_key_file hmac.key;
HTTP
    server => <<'SERVER' . ($no_auth_request ? '' : <<'AUTH_REQUEST'));
        # limit_req (preaccess) runs before kafka_jwt (access): excess is
        # refused before any token is looked at
        location ~ ^/limited/topics/(?<topic>[^/]+)$ {
            limit_req zone=produce;
            limit_req_status 429;
            kafka_jwt "kafka";
            kafka_produce $topic;
        }

        location ~ ^/limited503/topics/(?<topic>[^/]+)$ {
            limit_req zone=produce503;
            kafka_produce $topic;
        }

        location ~ ^/conn/topics/(?<topic>[^/]+)$ {
            limit_conn streams 1;
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
            auth_basic_user_file htpasswd;
            kafka_jwt "kafka";
            kafka_produce $topic;
        }

        # satisfy all: Basic credentials and a token (from the query, as
        # both cannot be in Authorization)
        location ~ ^/basic-and-jwt/topics/(?<topic>[^/]+)$ {
            auth_basic "kafka";
            auth_basic_user_file htpasswd;
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
SERVER
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
AUTH_REQUEST

my $run = unique_topic('p');
my $token = jwt_sign('HS256', "$keys/hmac.key",
                     { sub => 'alice', exp => time + 300 });
my $bob = jwt_sign('HS256', "$keys/hmac.key",
                   { sub => 'bob', exp => time + 300 });
my @bearer = ("Authorization: Bearer $token");

sub produce {
    my ($path, $headers, $body) = @_;
    return $ng->request(method => 'POST', path => $path,
                        headers => $headers // [], body => $body // 'v');
}

sub records { scalar @{ kafka_dump($_[0]) } }


# limit_req

{
    my $topic = "limited-$run";
    my @status = map { produce("/limited/topics/$topic", \@bearer)->{status} }
                 1 .. 4;

    is_deeply(\@status, [200, 429, 429, 429],
              'limit_req: the first request passes, the excess gets 429');

    is(produce("/limited/topics/$topic")->{status}, 429,
       'limit_req: refused before the token is checked');

    is(records($topic), 1, 'limit_req: only the first request produced');

    $topic = "limited503-$run";
    @status = map { produce("/limited503/topics/$topic")->{status} } 1 .. 3;
    is_deeply(\@status, [200, 503, 503],
              'limit_req: 503 by default');
    is(records($topic), 1, 'limit_req 503: only the first request produced');
}

$ng->no_error_log('limit_req', qr/limiting requests/);


# limit_conn on a request that is still streaming its body

{
    my $topic = "conn-$run";
    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ng->port,
                                     Proto => 'tcp') or die;

    $slow->autoflush(1);
    print $slow "POST /conn/topics/$topic HTTP/1.1\r\nHost: localhost\r\n"
                . "Content-Length: 10\r\nConnection: close\r\n\r\nslow-";
    ok($ng->has_read($slow),
       'limit_conn: nginx has read the first request and waits for its body');

    my $r = produce("/conn/topics/$topic", [], 'second');
    is($r->{status}, 503,
       'limit_conn: a second request while the first streams gets 503');

    print $slow "body!";

    my $answer = do { local $/; <$slow> } // '';
    close $slow;

    like($answer, qr{^HTTP/1.1 200 }, 'limit_conn: the slow request is served');

    my $records = kafka_dump($topic);
    is(scalar @$records, 1, 'limit_conn: only the slow request produced');
    is($records->[0]{value}, 'slow-body!', 'limit_conn: its whole body');

    is(produce("/conn/topics/$topic", [], 'third')->{status}, 200,
       'limit_conn: the slot is free again');
}

$ng->no_error_log('limit_conn', qr/limiting connections/);


# auth_request

SKIP: {
    skip $no_auth_request, 8 if $no_auth_request;

    my $topic = "authreq-$run";

    is(produce("/authreq/topics/$topic", ['X-Api-Key: good'])->{status}, 200,
       'auth_request: allowed');
    is(produce("/authreq/topics/$topic", ['X-Api-Key: bad'])->{status}, 403,
       'auth_request: denied');
    is(records($topic), 1, 'auth_request: only the allowed request produced');

    $topic = "jwt-authreq-$run";

    is(produce("/jwt-authreq/topics/$topic", \@bearer)->{status}, 200,
       'auth_request sees $jwt_claim_sub: alice allowed');
    is(produce("/jwt-authreq/topics/$topic", ["Authorization: Bearer $bob"])
           ->{status}, 403, 'auth_request sees $jwt_claim_sub: bob denied');
    is(produce("/jwt-authreq/topics/$topic")->{status}, 401,
       'no token: 401 before the subrequest');
    is(records($topic), 1, 'auth_request with JWT: one record');

    $ng->no_error_log('auth_request');
}


# satisfy

{
    my $topic = "any-$run";

    my $r = produce("/any/topics/$topic");
    is($r->{status}, 401, 'satisfy any: address not trusted, no token: 401');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="kafka"',
       'satisfy any: the Bearer challenge');

    $r = produce("/any/topics/$topic", ["Authorization: Bearer x.y.z"]);
    is($r->{status}, 401, 'satisfy any: a bad token: 401');
    like($r->{headers}{'www-authenticate'}, qr/error="invalid_token"/,
         'satisfy any: invalid_token');

    is(produce("/any/topics/$topic", \@bearer)->{status}, 200,
       'satisfy any: a valid token');

    $r = produce("/any-local/topics/$topic");
    is($r->{status}, 200, 'satisfy any: a trusted address without a token');
    ok(!exists $r->{headers}{'www-authenticate'},
       'satisfy any: no challenge left in the success');

    is(records($topic), 2, 'satisfy any: the two accepted requests produced');

    $topic = "basic-$run";

    is(produce("/basic-or-jwt/topics/$topic",
               ['Authorization: Basic ' . 'YWxpY2U6c2VjcmV0'])->{status},
       200, 'satisfy any: Basic credentials');
    is(produce("/basic-or-jwt/topics/$topic", \@bearer)->{status}, 200,
       'satisfy any: a token');
    is(produce("/basic-or-jwt/topics/$topic",
               ['Authorization: Basic ' . 'YWxpY2U6d3Jvbmc='])->{status},
       401, 'satisfy any: wrong Basic credentials and no token');
    is(records($topic), 2, 'satisfy any with auth_basic: two records');

    $topic = "both-$run";

    is(produce("/basic-and-jwt/topics/$topic?access_token=$token",
               ['Authorization: Basic YWxpY2U6c2VjcmV0'])->{status},
       200, 'satisfy all: Basic credentials and a token');
    is(produce("/basic-and-jwt/topics/$topic",
               ['Authorization: Basic YWxpY2U6c2VjcmV0'])->{status},
       401, 'satisfy all: Basic credentials only');
    is(produce("/basic-and-jwt/topics/$topic?access_token=$token")
           ->{status}, 401, 'satisfy all: a token only');
    is(records($topic), 1, 'satisfy all: one record');
}

$ng->no_error_log('satisfy',
                  qr/access forbidden by rule|user "alice": password mismatch/);


# error_page 401

{
    my $topic = "custom-$run";
    my $r = produce("/custom401/topics/$topic");

    is($r->{status}, 401, 'error_page 401: status');
    is($r->{body}, '{"title":"log in first"}', 'error_page 401: its body');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="kafka"',
       'error_page 401: the challenge is kept');
    is(records($topic), 0, 'error_page 401: nothing produced');
}

$ng->no_error_log('error_page');
$ng->stop;

done_testing();
