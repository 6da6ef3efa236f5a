# Per-topic authorization from the token's grants (kafka_acl_claim): exact
# names, globs, string and array claims, a 403 JSON error naming the topic
# and the action, nothing produced when denied (read back), decisions made
# on the topic as evaluated (so URI tricks cannot pick another topic), and
# the $kafka_acl_* variables.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use KafkaGateway::Harness qw(brokers_or_skip unique_topic kafka_dump);
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features qw(nginx_lacks);

brokers_or_skip();

# an nginx without the auth_request module runs the rest
my $no_auth_request = nginx_lacks('http_auth_request_module');

my $ng = KafkaGateway::Harness->new(name => 'acl');
my $keys = make_keys($ng->dir . '/conf');

$ng->start(
    http => <<'HTTP',
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file hmac.key;
HTTP
    server => <<'SERVER' . ($no_auth_request ? '' : <<'AUTH_REQUEST'));
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
SERVER

        # the same rule built from the variable, in an auth_request
        # subrequest (it runs after the token is verified)
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
AUTH_REQUEST

my $exp = time + 300;

sub token {
    return jwt_sign('HS256', "$keys/hmac.key", { sub => 'alice',
                                                 exp => $exp, @_ });
}

my $scoped = token(scope => 'openid profile kafka:produce:orders '
                            . 'kafka:produce:logs-* kafka:consume:audit '
                            . 'kafka:produce:team-*-events '
                            . 'kafka:produce:ord?rs kafka:produce:');

my $run = unique_topic('r');

sub produce {
    my ($path, $token, $body) = @_;
    return $ng->request(method => 'POST', path => $path,
                        headers => ["Authorization: Bearer $token"],
                        body => $body // 'v');
}

sub denied {
    my ($r, $topic, $name, $action) = @_;
    $action //= 'produce to';

    is($r->{status}, 403, "$name: 403");

    my $body = eval { decode_json($r->{body}) } // {};
    is($body->{error_code}, 40301, "$name: error_code");
    is($body->{message}, qq{not authorized to $action topic "$topic"},
       "$name: the message names the action and the topic");
}


# a space-separated scope claim

my @allowed = ("orders", "logs-$run", "logs-", "team-$run-events");
my @refused = ("audit", "orders2", "Orders", "xorders", "logs", "logsx-$run",
               "team-$run-events-old", "ordxrs", "secret-$run");

for my $topic (@allowed) {
    my $r = produce("/topics/$topic", $scoped, "allowed $run");
    is($r->{status}, 200, "scope allows $topic") or diag($r->{body});
}

for my $topic (@refused) {
    denied(produce("/topics/$topic", $scoped, "refused $run"), $topic,
           "scope refuses $topic");
}

for my $topic (@refused) {
    next unless $topic =~ /\Q$run\E/;
    is(scalar @{ kafka_dump($topic) }, 0, "nothing produced to $topic");
}

my $records = kafka_dump("logs-$run");
is(scalar @$records, 1, "the allowed topic got its record");


# an array claim, other claim shapes

{
    my $t = token(grants => ["kafka:produce:a-$run", "kafka:produce:b-*",
                             "kafka:consume:c-$run",
                             "kafka:produce:d-$run kafka:produce:e-$run"]);

    is(produce("/produce?topic=a-$run", $t)->{status}, 200,
       'array: exact grant');
    is(produce("/produce?topic=b-$run", $t)->{status}, 200,
       'array: glob grant');
    is(produce("/produce?topic=e-$run", $t)->{status}, 200,
       'array: an element with several grants');
    denied(produce("/produce?topic=c-$run", $t), "c-$run",
           'array: consume grant only');

    for my $claim (['missing', token()],
                   ['a number', token(grants => 42)],
                   ['an object', token(grants => { "kafka:produce:a-$run"
                                                   => 1 })],
                   ['null', token(grants => undef)])
    {
        denied(produce("/produce?topic=a-$run", $claim->[1]), "a-$run",
               "claim $claim->[0]: nothing is granted");
    }

    my $all = token(grants => 'kafka:produce:*');
    is(produce("/produce?topic=anything-$run", $all)->{status}, 200,
       'kafka:produce:* allows any topic');
}


# the topic that is checked is the topic that is produced to

{
    my $t = token(grants => "kafka:produce:ok-$run");

    # $arg_topic is the first "topic" argument, for the check and the
    # produce alike
    my $r = produce("/produce?topic=ok-$run&topic=secret-$run", $t,
                    "first arg $run");
    is($r->{status}, 200, 'repeated argument: the first one is used');

    denied(produce("/produce?topic=secret-$run&topic=ok-$run", $t),
           "secret-$run", 'repeated argument, denied one first');

    is(scalar @{ kafka_dump("secret-$run") }, 0,
       'nothing produced to the denied topic');
    is(scalar @{ kafka_dump("ok-$run") }, 1,
       'the allowed topic got exactly one record');

    # %-encoding and dot segments are resolved by nginx before the topic
    # is evaluated: whatever the spelling, the real topic is checked
    denied(produce("/topics/orders%2F..%2Fsecret-$run", $scoped),
           "secret-$run", 'encoded slash and dot segments');

    denied(produce("/topics/../topics/secret-$run", $scoped), "secret-$run",
           'dot segments');

    is(produce("/topics/%6frders", $scoped)->{status}, 200,
       '%-encoded allowed name');

    denied(produce("/topics/%61udit", $scoped), 'audit',
           '%-encoded refused name');

    # not a topic at all: refused before any grant is looked at
    is(produce("/produce?topic=orders/x", $scoped)->{status}, 400,
       'invalid topic name: 400');
    is(produce("/produce?topic=orders%20x", $scoped)->{status}, 400,
       'encoded space: 400');

    is(scalar @{ kafka_dump("secret-$run") }, 0,
       'still nothing produced to the denied topic');
}


# error_page for 403

{
    my $r = produce("/custom/topics/secret-$run", $scoped);
    is($r->{status}, 403, 'error_page 403: status');
    is($r->{body}, "custom denial\n", 'error_page 403: its body');
}


# variables

{
    my $r = $ng->request(path => '/check?topic=orders',
                         headers => ["Authorization: Bearer $scoped"]);
    is($r->{headers}{'x-produce'}, '1', '$kafka_acl_produce allowed');
    is($r->{headers}{'x-consume'}, '0', '$kafka_acl_consume refused');

    $r = $ng->request(path => '/check?topic=audit',
                      headers => ["Authorization: Bearer $scoped"]);
    is($r->{headers}{'x-produce'}, '0', '$kafka_acl_produce refused');
    is($r->{headers}{'x-consume'}, '1', '$kafka_acl_consume allowed');

    $r = $ng->request(path => '/check?topic=a/b',
                      headers => ["Authorization: Bearer $scoped"]);
    is($r->{headers}{'x-produce'}, '0', 'invalid topic: refused');

    $r = $ng->request(path => '/check-no-acl?topic=anything',
                      headers => ["Authorization: Bearer $scoped"]);
    is($r->{headers}{'x-produce'}, '1', 'no kafka_acl_claim: allowed');
}

SKIP: {
    skip $no_auth_request, 3 if $no_auth_request;

    my $r = produce("/via-auth/topics/orders", $scoped, "via auth $run");
    is($r->{status}, 200, 'auth_request rule on the variable: allowed');

    $r = produce("/via-auth/topics/secret-$run", $scoped);
    is($r->{status}, 403, 'auth_request rule on the variable: refused');

    is(scalar @{ kafka_dump("secret-$run") }, 0,
       'nothing produced through the auth_request rule');
}

$ng->no_error_log('acl');
$ng->stop;

done_testing();
