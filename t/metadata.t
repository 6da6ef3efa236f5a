# kafka_metadata: REST Proxy v2's GET /topics, /topics/{name} and
# /topics/{name}/partitions, compared field by field with the v2 shapes
# against what the dev broker (librdkafka's mock cluster: 3 brokers,
# topics created with "--- kafka_topics" get replication factor 3, and
# "leader TOPIC PARTITION ID" pins a leader) really holds; the 404 40401
# of an unknown topic; internal topics left out; the caller's grants
# filtering the list (two tokens); GET and POST on one location, with
# the Allow header of a 405 listing both; 503 when no broker answers; and
# the cache (kafka_metadata_cache): a topic created after a fetch shows
# once the cached answer has expired.
#
# Bodies are checked with "--- json eval": one expectation per request,
# either the decoded document itself (is_deeply) or a code ref called with
# the document.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Test::More;
use JSON::PP ();
use File::Temp qw(tempdir);
use Time::HiRes ();

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);
use KafkaGateway::Features ();

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

my $exp = time + 300;

sub token {
    return jwt_sign('HS256', "$keys/hmac.key", { sub => 'md', exp => $exp,
                                                 @_ });
}

# one token may consume md-acl-a and produce to md-acl-b*, the other only
# produce to md-acl-c
our $TOKEN_AB = token(scope => 'kafka:consume:md-acl-a kafka:produce:md-acl-b*');
our $TOKEN_C = token(scope => 'kafka:produce:md-acl-c');

my $http_config = <<'HTTP';
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;
HTTP

# the REST Proxy v2 layout
my $config = <<'CONFIG';
    location = /topics {
        kafka_metadata topics;
    }

    location ~ ^/topics/(?<topic>[^/]+)$ {
        kafka_metadata topic $topic;
        kafka_produce $topic;
    }

    location ~ ^/topics/(?<topic>[^/]+)/partitions$ {
        kafka_metadata partitions $topic;
    }

    location ~ ^/topics/(?<topic>[^/]+)/partitions/(?<p>[^/]+)$ {
        kafka_metadata partition $topic $p;
        kafka_produce $topic;
        kafka_produce_partition $p;
    }

    location = /acl/topics {
        kafka_jwt "kafka";
        kafka_acl_claim scope;
        kafka_metadata topics;
    }

    location ~ ^/acl/topics/(?<topic>[^/]+)$ {
        kafka_jwt "kafka";
        kafka_acl_claim scope;
        kafka_metadata topic $topic;
    }
CONFIG

master_on();
workers(1);
log_level('debug');
no_shuffle();

my $json = JSON::PP->new;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $http_config)
        unless defined $block->http_config;
    $block->set_value("config", $config) unless defined $block->config;

    if (!defined $block->no_error_log && !defined $block->error_log
        && !defined $block->error_log_allowed)
    {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

add_response_body_check(sub {
    my ($block, $body, $i) = @_;

    return unless $block->can('json') && defined $block->json;

    my $want = $block->json->[$i] // return;
    my $name = $block->name . " - json[$i]";
    my $doc = eval { $json->decode($body) };

    ok(defined $doc, "$name - the body is JSON") or do {
        diag("the body: $body");
        return;
    };

    if (ref $want eq 'CODE') {
        $want->($doc, $name);
    } else {
        is_deeply($doc, $want, $name) or diag("the body: $body");
    }
});

# a topic as REST Proxy v2 shows it: each partition's leader is the one
# replica marked leader, every replica of the mock is in sync
sub v2_topic {
    my ($name, $leaders) = @_;
    return { name => $name, configs => {},
             partitions => v2_partitions($leaders) };
}

sub v2_partitions {
    my ($leaders) = @_;
    return [ map {
        my $p = $_;
        { partition => $p, leader => $leaders->[$p],
          replicas => [ map { { broker => $_,
                                leader => $_ == $leaders->[$p]
                                          ? JSON::PP::true : JSON::PP::false,
                                in_sync => JSON::PP::true } }
                        replicas_of($p) ] }
    } 0 .. $#$leaders ];
}

# the mock places a topic's 3 replicas on its 3 brokers (ids 1 to 3);
# their order is the broker's: by_broker() sorts the answer's
sub replicas_of { return (1, 2, 3) }

# sorts every replica list by broker, so that the comparison does not
# depend on the order the mock lists replicas in
sub by_broker {
    my ($doc) = @_;
    my $parts = ref $doc eq 'HASH' ? $doc->{partitions} : $doc;
    for my $p (@$parts) {
        $p->{replicas} = [ sort { $a->{broker} <=> $b->{broker} }
                           @{ $p->{replicas} } ];
    }
    return $doc;
}

sub topics_check {
    my (%want) = @_;
    return sub {
        my ($doc, $name) = @_;
        is(ref $doc, 'ARRAY', "$name - an array");
        my @names = @$doc;
        is_deeply(\@names, [ sort @names ], "$name - sorted");
        is(scalar(grep { /^__/ } @names), 0, "$name - no internal topic");
        my %has = map { $_ => 1 } @names;
        ok($has{$_}, "$name - lists $_") for @{ $want{has} || [] };
        ok(!$has{$_}, "$name - does not list $_") for @{ $want{not} || [] };
        if (my $only = $want{only}) {
            is_deeply([ grep { /$want{only_like}/ } @names ], $only,
                      "$name - exactly these of $want{only_like}");
        }
    };
}

# --- init: N requests for PATH have reached the worker (they wait)
sub wait_requests {
    my ($path, $n) = @_;
    my $re = qr/http request line: "GET \Q$path\E /;
    my $deadline = time + $KafkaGateway::Blocks::Patience;
    until ((() = KafkaGateway::Blocks::block_log() =~ /$re/g) >= $n) {
        die "$n request(s) for $path did not come\n" if time >= $deadline;
        Time::HiRes::sleep(0.05);
    }
}

# a kafka_control step: RE matches exactly N lines of the block's log
sub log_count {
    my ($re, $n) = @_;
    return sub {
        my $block = shift;
        my $got = () = KafkaGateway::Blocks::block_log() =~ /$re/g;
        Test::More::is($got, $n, $block->name . " - $n x $re");
    };
}

our $RTT = $ENV{TEST_NGINX_USE_VALGRIND} ? 1500 : 1000;
# TEST 12: the request must reach the worker before the client leaves, and
# the fetch must still be pending then: under valgrind on a loaded machine
# the request took more than 1.5 s to arrive, so the client waits 4.5 s
# there (1.5 s, times 3 for --- abort) and the fetch takes 6 s
our $RTT_LEAVE = $ENV{TEST_NGINX_USE_VALGRIND} ? 6000 : 1000;
our $LEAVE = $ENV{TEST_NGINX_USE_VALGRIND} ? 1.5 : 0.5;

run_tests();

__DATA__

=== TEST 1: GET /topics/{name}: REST Proxy v2's topic, field by field
--- kafka_topics: md-three:3
--- kafka_control eval
{ start => [ 'leader md-three 0 2', 'leader md-three 1 3',
             'leader md-three 2 1' ] }
--- request
GET /topics/md-three
--- error_code: 200
--- response_headers
Content-Type: application/vnd.kafka.v2+json
--- json eval
[ sub {
    my ($doc, $name) = @_;
    Test::More::is_deeply(main::by_broker($doc), main::v2_topic('md-three', [2, 3, 1]),
              $name);
} ]



=== TEST 2: GET /topics/{name}/partitions: the partitions array; /partitions/{id}: one partition
--- kafka_topics: md-parts:2
--- kafka_control eval
{ start => [ 'leader md-parts 0 3', 'leader md-parts 1 2' ] }
--- request eval
[ "GET /topics/md-parts/partitions", "GET /topics/md-parts/partitions/1",
  "GET /topics/md-parts/partitions/2", "GET /topics/md-parts/partitions/x" ]
--- error_code eval
[ 200, 200, 404, 400 ]
--- response_headers eval
[ ("Content-Type: application/vnd.kafka.v2+json") x 2,
  ("Content-Type: application/json") x 2 ]
--- json eval
[ sub {
    my ($doc, $name) = @_;
    Test::More::is_deeply(main::by_broker($doc),
                          main::v2_partitions([3, 2]), $name);
  },
  sub {
    my ($doc, $name) = @_;
    Test::More::is_deeply(main::by_broker([$doc])->[0],
                          main::v2_partitions([3, 2])->[1], $name);
  },
  sub {
    my ($doc, $name) = @_;
    Test::More::is($doc->{error_code}, 40402, "$name - 40402");
    Test::More::like($doc->{message}, qr/partition 2 .*md-parts.* not found/,
                     "$name - message");
  },
  sub {
    my ($doc, $name) = @_;
    Test::More::is($doc->{error_code}, 40002, "$name - 40002");
  } ]



=== TEST 3: GET /topics: the names, sorted, internal topics left out; HEAD: the headers alone
--- kafka_topics: md-list-b:1 md-list-a:2 __md-internal:1
--- request eval
[ "GET /topics", "HEAD /topics" ]
--- error_code eval
[ 200, 200 ]
--- response_headers eval
[ "Content-Type: application/vnd.kafka.v2+json",
  "Content-Type: application/vnd.kafka.v2+json" ]
--- json eval
[ main::topics_check(has => [ 'md-list-a', 'md-list-b' ],
                     not => [ '__md-internal' ]) ]
--- response_body_like eval
[ '^\[.*\]$', '^$' ]



=== TEST 4: an unknown topic is 404 40401; an invalid or internal name 400 40001
--- request eval
[ "GET /topics/md-never-made", "GET /topics/md-never-made/partitions",
  "GET /topics/__md-internal", "GET /topics/b%20d" ]
--- error_code eval
[ 404, 404, 400, 400 ]
--- json eval
[ { error_code => 40401, message => 'topic "md-never-made" not found' },
  { error_code => 40401, message => 'topic "md-never-made" not found' },
  sub { Test::More::is($_[0]{error_code}, 40001, "$_[1] - 40001") },
  sub { Test::More::is($_[0]{error_code}, 40001, "$_[1] - 40001") } ]



=== TEST 5: one location serves GET (metadata) and POST (produce), as REST Proxy does: a topic made by producing to it shows
The mock creates a topic on its first produce, with its default partition
count (4).
--- request eval
[ "POST /topics/md-made\nfirst", "GET /topics/md-made",
  "POST /topics/md-made/partitions/0\nsecond",
  "GET /topics/md-made/partitions/0" ]
--- error_code eval
[ 200, 200, 200, 200 ]
--- json eval
[ sub { Test::More::like($_[0]{offsets}[0]{offset}, qr/^\d+$/,
                         "$_[1] - produced") },
  sub {
    my ($doc, $name) = @_;
    Test::More::is($doc->{name}, 'md-made', "$name - name");
    Test::More::is_deeply([ map { $_->{partition} } @{ $doc->{partitions} } ],
                          [ 0 .. 3 ], "$name - partitions 0 to 3");
    for my $p (@{ $doc->{partitions} }) {
        my @lead = grep { $_->{leader} } @{ $p->{replicas} };
        Test::More::is(scalar @lead, 1, "$name - one replica leads");
        Test::More::is($lead[0]{broker}, $p->{leader},
                       "$name - the partition's leader");
    }
  },
  sub { Test::More::is($_[0]{offsets}[0]{partition}, 0, "$_[1] - produced") },
  sub { Test::More::is($_[0]{partition}, 0, "$_[1] - partition 0") } ]
--- kafka_topic_values eval
{ topic => 'md-made', values => [ 'first', 'second' ] }



=== TEST 6: a 405's Allow lists the metadata and the produce methods where both share a location, the metadata ones alone elsewhere
--- request eval
[ "PATCH /topics/md-made", "POST /topics", "PATCH /topics/md-made/partitions/0" ]
--- error_code eval
[ 405, 405, 405 ]
--- response_headers eval
[ "Allow: GET, HEAD, POST, PUT, DELETE", "Allow: GET, HEAD",
  "Allow: GET, HEAD, POST, PUT, DELETE" ]
--- json eval
[ sub { Test::More::is($_[0]{error_code}, 40501, "$_[1] - 40501") },
  sub { Test::More::is($_[0]{error_code}, 40501, "$_[1] - 40501") },
  sub { Test::More::is($_[0]{error_code}, 40501, "$_[1] - 40501") } ]



=== TEST 7: the list holds the topics the caller may produce to or consume from; two tokens, two lists
--- kafka_topics: md-acl-a:1 md-acl-b1:1 md-acl-b2:1 md-acl-c:1 md-acl-d:1
--- request eval
[ "GET /acl/topics", "GET /acl/topics", "GET /acl/topics" ]
--- more_headers eval
[ "Authorization: Bearer $::TOKEN_AB", "Authorization: Bearer $::TOKEN_C",
  "" ]
--- error_code eval
[ 200, 200, 401 ]
--- json eval
[ main::topics_check(only => [ 'md-acl-a', 'md-acl-b1', 'md-acl-b2' ],
                     only_like => qr/^md-acl-/),
  main::topics_check(only => [ 'md-acl-c' ], only_like => qr/^md-acl-/) ]



=== TEST 8: a topic outside the caller's grants is 403 40301, whether it exists or not; inside them, its metadata
--- request eval
[ "GET /acl/topics/md-acl-c", "GET /acl/topics/md-acl-nothing",
  "GET /acl/topics/md-acl-c", "GET /acl/topics/md-acl-b1" ]
--- more_headers eval
[ "Authorization: Bearer $::TOKEN_AB", "Authorization: Bearer $::TOKEN_AB",
  "Authorization: Bearer $::TOKEN_C", "Authorization: Bearer $::TOKEN_AB" ]
--- error_code eval
[ 403, 403, 200, 200 ]
--- json eval
[ { error_code => 40301,
    message => 'not authorized to produce to or consume from topic "md-acl-c"' },
  { error_code => 40301,
    message => 'not authorized to produce to or consume from topic "md-acl-nothing"' },
  sub { Test::More::is($_[0]{name}, 'md-acl-c', "$_[1] - md-acl-c") },
  sub { Test::More::is($_[0]{name}, 'md-acl-b1', "$_[1] - md-acl-b1") } ]



=== TEST 9: no broker answers: 503 50303 with Retry-After within kafka_metadata_timeout, never a hang; a fresh cached answer is still served
The first request fills the cache; the brokers go down; the second is
answered from the cache (3 s); once it has expired the third waits for
the fetch, which fails within kafka_metadata_timeout (1 s).
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_metadata_timeout 1s;
--- config
    location = /topics {
        kafka_metadata topics;
        kafka_metadata_cache 3s;
    }
--- kafka_topics: md-down:1
--- request eval
[ "GET /topics", "GET /topics", "GET /topics" ]
--- kafka_control eval
{ 0 => 'down all', 1 => sub { Time::HiRes::sleep(3.2) } }
--- timeout: 3
--- error_code eval
[ 200, 200, 503 ]
--- response_headers_like eval
[ "Content-Type: application/vnd.kafka.v2\\+json",
  "Content-Type: application/vnd.kafka.v2\\+json",
  "Retry-After: \\d+" ]
--- json eval
[ main::topics_check(has => [ 'md-down' ]),
  main::topics_check(has => [ 'md-down' ]),
  sub {
    Test::More::is($_[0]{error_code}, 50303, "$_[1] - 50303");
    Test::More::like($_[0]{message}, qr/^no metadata from Kafka/,
                     "$_[1] - message");
  } ]
--- error_log_allowed eval
[ qr/kafka producer: .*(?:Disconnected|Connection refused|brokers are down|Connect to)/ ]
--- no_error_log
[alert]
[crit]



=== TEST 10: a topic created after a fetch shows once kafka_metadata_cache has expired
--- config
    location = /topics {
        kafka_metadata topics;
        kafka_metadata_cache 1500ms;
    }
--- request eval
[ "GET /topics", "GET /topics", "GET /topics" ]
--- kafka_control eval
{ 0 => 'topic md-late 1', 1 => sub { Time::HiRes::sleep(1.7) } }
--- error_code eval
[ 200, 200, 200 ]
--- json eval
[ main::topics_check(not => [ 'md-late' ]),
  main::topics_check(not => [ 'md-late' ]),
  main::topics_check(has => [ 'md-late' ]) ]



=== TEST 11: requests waiting at the same time share one fetch
Every broker answer is delayed by RTT, so the fetch takes seconds; two
other clients ask first, then the block's request joins the same fetch.
(The fetches are counted in the debug log.)
--- skip_eval: 16: KafkaGateway::Features::nginx_lacks('debug')
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_metadata_timeout 20s;
--- config
    location = /topics {
        kafka_metadata topics;
    }
--- kafka_control eval
{ start => "rtt all $main::RTT",
  0 => [ qr/kafka_metadata: answered 3 request\(s\)/,
         main::log_count(qr/kafka_metadata: fetch posted/, 1) ] }
--- sse_other_client eval
[ { request => "GET /topics HTTP/1.0", status => 200 },
  { request => "GET /topics HTTP/1.0", status => 200 } ]
--- init
main::wait_requests('/topics', 2);
--- request
GET /topics
--- timeout: 20
--- error_code: 200
--- json eval
[ main::topics_check(has => [ 'md-three', 'md-made' ]) ]



=== TEST 12: a client that leaves while its request waits for the fetch is forgotten: the fetch completes, nothing touches the request
--- skip_eval: 7: KafkaGateway::Features::nginx_lacks('debug')
--- kafka_control eval
{ start => "rtt all $main::RTT_LEAVE",
  0 => [ qr/client prematurely closed connection/,
         qr/kafka_metadata: answered 0 request\(s\)/ ] }
--- request
GET /topics
--- timeout eval
$main::LEAVE
--- abort
--- error_code eval
''
--- response_body eval
''



=== TEST 13: kafka_metadata shares a location with kafka_produce only
--- config
    location /t {
        kafka_metadata topics;
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log
"kafka_metadata" in location "/t" can share its location only with "kafka_produce"



=== TEST 14: kafka_metadata's arguments are checked where it is written
--- config
    location /t {
        kafka_metadata partition md-x;
    }
--- must_die
--- error_log
"partition" requires a topic and a partition



=== TEST 15: kafka_metadata_timeout is bounded
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_metadata_timeout 0;
--- config
    location /t {
        kafka_metadata topics;
    }
--- must_die
--- error_log
"kafka_metadata_timeout" must be between 1ms and 60s in
