# kafka_status and kafka_health: both exposition formats and their content
# types, the figures after known requests (failures included) read back
# exactly, the topic cap, $kafka_ack_time in an access log, promtool's
# verdict on real output, the JSON form holding the text form's figures,
# and readiness with a broker taken down and brought back.
#
# Sections of this file (checked after the block's last response):
#   --- metrics eval      [ 'name{labels} value', ... ]: exact samples of
#                         GET /status, polled until they hold (10 s)
#   --- absent eval       [ qr/.../, ... ]: no sample line matches
#   --- kafka_counts eval { topic => N }: records in Kafka
#   --- ack_log eval      [ qr/.../, ... ]: logs/ack.log, line by line
#   --- promtool          promtool check metrics on GET /status
#   --- json_same         GET /status?format=json = GET /status
#   --- outage[: who]     kafka_health while the private broker goes down;
#                         "who" names the client in the reason ("producer")
#   --- metrics_like eval [ qr/.../, ... ]: GET /status has lines matching
#                         each, polled until it has (10 s)
#   --- metrics_unlike eval [ qr/.../, ... ]: and then none matching these

use Test::Nginx::Socket 'no_plan';
use KafkaGateway::Test qw(start_broker http_request wait_until dump_topic);
use KafkaGateway::JWT qw(make_keys jwt_sign);
use File::Temp qw(tempdir);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);

master_on();
workers(1);
log_level('info');
no_shuffle();

my $promtool = (grep { -x "$_/promtool" } split /:/, $ENV{PATH} || '')[0];
$promtool &&= "$promtool/promtool";
die "promtool is missing (tools/install-deps.sh installs Debian's "
    . "prometheus)\n" if !$promtool && $ENV{CI};

# kafka_health's outage: a broker of this file's own, so that taking it
# down does not disturb the shared one
my $private = start_broker(brokers => 1, topics => ['status-ready:1']);
$ENV{TEST_NGINX_PRIVATE_BROKERS} = $private->bootstrap;

# TEST 12's contract (a number "n") and a static file larger than its
# message.max.bytes (1000), so that its kafka_log record is refused
my $files = tempdir(CLEANUP => 1);
{
    open my $fh, '>', "$files/schema.json" or die "$files/schema.json: $!";
    print $fh '{"type":"object","properties":{"n":{"type":"number"}}}';
    close $fh;
    open $fh, '>', "$files/big.txt" or die "$files/big.txt: $!";
    print $fh 'x' x 2000;
    close $fh;
}
$ENV{TEST_NGINX_STATUS_FILES} = $files;

my $keys = make_keys(tempdir(CLEANUP => 1));
$ENV{TEST_NGINX_HMAC_KEY} = "$keys/hmac.key";
our $expired = jwt_sign('HS256', "$keys/hmac.key",
                        { sub => 'a', exp => time - 3600 });
our $early = jwt_sign('HS256', "$keys/hmac.key",
                      { sub => 'a', nbf => time + 3600, exp => time + 7200 });
our $stranger = jwt_sign('HS256', "$keys/hmac.key",
                         { sub => 'a', iss => 'someone-else',
                           exp => time + 3600 });
our $no_grant = jwt_sign('HS256', "$keys/hmac.key",
                         { sub => 'a', scope => 'kafka:produce:other',
                           exp => time + 3600 });
our $granted = jwt_sign('HS256', "$keys/hmac.key",
                        { sub => 'a', scope => 'kafka:produce:status-jwt',
                          exp => time + 3600 });

my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;

sub get {
    my ($path, %h) = @_;
    return http_request(port => $port, path => $path, headers => \%h,
                        timeout => 10);
}

# An SSE client that reads until it has N events (or 10 s), then leaves.
sub sse_read {
    my ($path, $n) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($buf, $deadline) = ('', time + 10);
    my $sel = IO::Select->new($s);
    while (time < $deadline && (() = $buf =~ /^data: /mg) < $n) {
        next unless $sel->can_read(0.2);
        sysread($s, $buf, 65536, length $buf) or last;
    }
    close $s;
    return $buf;
}

# "name{labels}" => value
sub samples {
    my $text = shift;
    my %s;
    for (split /\n/, $text) {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{.*\})?) (\S+)$/ or return undef;
        $s{$k} = $v;
    }
    return \%s;
}

sub json_samples {
    my $doc = eval { JSON::PP::decode_json(shift) } or return undef;
    my %s;
    for my $f (@{ $doc->{families} }) {
        for my $x (@{ $f->{samples} }) {
            my $l = $x->{labels};
            my $labels = join ',', map { qq{$_="$l->{$_}"} } sort keys %$l;
            $s{$x->{name} . ($labels ? "{$labels}" : '')} = 0 + $x->{value};
        }
    }
    return \%s;
}

# the text form's keys with labels sorted, as json_samples makes them
sub sorted_keys {
    my $s = shift;
    my %out;
    for my $k (keys %$s) {
        my ($name, $labels) = $k =~ /^([^{]+)(?:\{(.*)\})?$/;
        my @l = sort split /,(?=[a-z_]+=")/, $labels // '';
        $out{$name . (@l ? '{' . join(',', @l) . '}' : '')} = 0 + $s->{$k};
    }
    return \%out;
}

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    return if $dry_run;

    my $reqs = $block->request;
    return if ref $reqs eq 'ARRAY' && $req_idx != $#$reqs;

    my $name = $block->name;

    for my $read (@{ $block->sse_read || [] }) {
        my ($path, $n, $like) = @$read;
        my $buf = sse_read($path, $n);
        is(scalar(() = $buf =~ /^data: /mg), $n, "$name - $path: $n event(s)");
        like($buf, $like, "$name - $path: the events") if $like;
    }

    if (my $want = $block->metrics) {
        my %want = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } @$want;
        my $have = {};
        wait_until {
            $have = samples(get('/status')->{body}) || {};
            !grep { ($have->{$_} // 'none') ne $want{$_} } keys %want;
        } 10, 0.2;
        for my $k (sort keys %want) {
            is($have->{$k} // 'none', $want{$k}, "$name - $k");
        }
        for my $re (@{ $block->absent || [] }) {
            my @hits = grep { $_ =~ $re } keys %$have;
            is("@hits", '', "$name - no sample matches $re");
        }
    }

    if (my $res = $block->metrics_like) {
        my $text = '';
        wait_until {
            $text = get('/status')->{body};
            !grep { $text !~ $_ } @$res;
        } 10, 0.2;
        like($text, $_, "$name - a line matches $_") for @$res;
        unlike($text, $_, "$name - no line matches $_")
            for @{ $block->metrics_unlike || [] };
    }

    if (my $counts = $block->kafka_counts) {
        for my $topic (sort keys %$counts) {
            my $records = dump_topic($ENV{TEST_NGINX_KAFKA_BROKERS}, $topic);
            is(scalar @$records, $counts->{$topic},
               "$name - $topic holds $counts->{$topic} record(s)");
        }
    }

    if (my $res = $block->ack_log) {
        my $root = $Test::Nginx::Util::ServRoot
                   // $ENV{TEST_NGINX_SERVER_ROOT};
        my @lines;
        wait_until {
            open my $in, '<', "$root/logs/ack.log" or return 0;
            @lines = <$in>;
            chomp @lines;
            @lines >= @$res;
        } 5, 0.1;
        is(scalar @lines, scalar @$res, "$name - access log lines");
        for my $i (0 .. $#$res) {
            like($lines[$i] // '', $res->[$i], "$name - access log line $i");
        }
    }

    if (defined $block->promtool) {
        SKIP: {
            skip 'promtool is not installed (tools/install-deps.sh '
                 . 'installs Debian\'s prometheus)', 2 unless $promtool;
            my $text = get('/status')->{body};
            my $dir = tempdir(CLEANUP => 1);
            open my $out, '>', "$dir/metrics" or die;
            print $out $text;
            close $out;
            my $verdict = `$promtool check metrics < $dir/metrics 2>&1`;
            is($? >> 8, 0, "$name - promtool check metrics passes");
            is($verdict, '', "$name - promtool: no error, no lint warning");
        }
    }

    if (defined $block->json_same) {
        my ($text, $json);
        # a statistics report may land between the two: take a pair
        # around which the text form did not change
        for (1 .. 5) {
            my $t1 = get('/status')->{body};
            my $j = get('/status?format=json')->{body};
            my $t2 = get('/status')->{body};
            ($text, $json) = ($t1, $j);
            last if $t1 eq $t2;
        }
        my $ts = sorted_keys(samples($text) || {});
        my $js = json_samples($json) || {};
        ok(scalar(keys %$ts) > 20, "$name - the text form has samples");
        is_deeply($js, $ts, "$name - JSON holds the text form's figures");
    }

    if (defined $block->outage) {
        my $who = $block->outage || 'producer';
        my $r;
        my $up = wait_until { ($r = get('/health'))->{status} == 200 } 15;
        ok($up, "$name - ready with the broker up");
        like($r->{body}, qr/^\{"status":"ok","producer_brokers_up":1,/,
             "$name - the body says ok");

        $private->control('down all');
        my $down = wait_until { ($r = get('/health'))->{status} == 503 } 15;
        $private->control('up all');

        ok($down, "$name - 503 with the broker down");
        is($r->{body}, qq'{"status":"unavailable","reason":"the $who is '
                       . 'connected to no broker"}', "$name - the reason");
        like($r->{headers}{'content-type'} // '', qr{^application/json},
             "$name - JSON");

        my $again = wait_until { get('/health')->{status} == 200 } 30;
        ok($again, "$name - ready again with the broker back");
    }
});

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }

    # a worker's first record waits for metadata (seconds under valgrind)
    if (!defined $block->timeout) {
        $block->set_value("timeout", 15);
    }
});

run_tests();

__DATA__

=== TEST 1: the text exposition format and its content type
--- config
    location = /status { kafka_status; }
--- request
GET /status
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like eval
qr{\A# HELP nginx_kafka_info [^\n]+
# TYPE nginx_kafka_info gauge
nginx_kafka_info\{version="\d+\.\d+\.\d+",librdkafka="\d+\.\d+\.\d+[^"]*"\} 1
# HELP nginx_kafka_produce_requests_total [^\n]+
# TYPE nginx_kafka_produce_requests_total counter
.*
# TYPE nginx_kafka_produce_ack_seconds histogram
.*
nginx_kafka_producer_queue_bytes 0
\z}s



=== TEST 2: JSON when asked with ?format=json
--- config
    location = /status { kafka_status; }
--- request
GET /status?format=json
--- response_headers
Content-Type: application/json
--- response_body_like
^\{"families":\[\{"name":"nginx_kafka_info","type":"gauge","help":"[^"]+","samples":\[\{"name":"nginx_kafka_info","labels":\{"version":"\d+\.\d+\.\d+","librdkafka":"[^"]+"\},"value":1\}\]\},.*\]\}\]\}$



=== TEST 3: JSON when asked with Accept, text for anything else
--- config
    location = /status { kafka_status; }
--- request eval
["GET /status", "GET /status?format=text"]
--- more_headers
Accept: text/html, application/json;q=0.9
--- response_headers eval
["Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4"]
--- response_body_like eval
['^\{"families":', '^# HELP ']



=== TEST 4: GET and HEAD only
--- config
    location = /status { kafka_status; }
    location = /health { kafka_health; }
--- request eval
["POST /status\nx", "DELETE /health", "HEAD /status"]
--- error_code eval
[405, 405, 200]
--- response_headers eval
["Allow: GET, HEAD", "Allow: GET, HEAD", "Content-Type: text/plain; version=0.0.4"]
--- response_body_like eval
['"error_code":40501', '"error_code":40501', '^$']



=== TEST 5: produce figures after known requests, failures included
--- config
    location = /status { kafka_status; }
    location ~ ^/p/(?<t>[^/]+)$ {
        kafka_produce $t;
        kafka_produce_key $arg_key;
    }
    location = /nowhere {
        kafka_produce status-p-fail;
        kafka_produce_partition 99;
        kafka_produce_timeout 2s;
    }
--- request eval
["POST /p/status-p?key=k1\nhello",
 "POST /p/status-p?key=k2\nworld!",
 "POST /p/status-p\nno key",
 "DELETE /p/status-p",
 "GET /p/status-p",
 "POST /p/__internal\nx",
 "POST /nowhere\nlost"]
--- error_code eval
[200, 200, 200, 400, 405, 400, 404]
--- response_body_like eval
['"offsets"', '"offsets"', '"offsets"', '"error_code":40003',
 '"error_code":40501', '"error_code":40001', '"error_code"']
--- metrics eval
['nginx_kafka_produce_requests_total{topic="status-p",status="200"} 3',
 'nginx_kafka_produce_requests_total{topic="status-p",status="400"} 1',
 'nginx_kafka_produce_requests_total{topic="",status="405"} 1',
 'nginx_kafka_produce_requests_total{topic="",status="400"} 1',
 'nginx_kafka_produce_requests_total{topic="status-p-fail",status="404"} 1',
 'nginx_kafka_produce_records_total{topic="status-p",result="acked"} 3',
 'nginx_kafka_produce_records_total{topic="status-p",result="failed"} 0',
 'nginx_kafka_produce_records_total{topic="status-p-fail",result="acked"} 0',
 'nginx_kafka_produce_records_total{topic="status-p-fail",result="failed"} 1',
 'nginx_kafka_produce_bytes_total{topic="status-p"} 21',
 'nginx_kafka_produce_bytes_total{topic="status-p-fail"} 0',
 'nginx_kafka_produce_ack_seconds_count{topic="status-p"} 3',
 'nginx_kafka_produce_ack_seconds_bucket{topic="status-p",le="+Inf"} 3',
 'nginx_kafka_produce_ack_seconds_count{topic="status-p-fail"} 0',
 'nginx_kafka_sse_streams{topic="status-p"} 0',
 'nginx_kafka_jwt_rejected_total{reason="missing"} 0']
--- absent eval
[qr/__internal/]
--- kafka_counts eval
{ 'status-p' => 3, 'status-p-fail' => 0 }



=== TEST 6: $kafka_ack_time in an access log and a header
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    log_format ack '$status $kafka_ack_time';
--- config
    location = /status { kafka_status; }
    location = /p {
        kafka_produce status-ack;
        access_log logs/ack.log ack;
        add_header X-Ack-Time $kafka_ack_time;
    }
    location = /fire {
        kafka_produce status-ack;
        kafka_produce_ack off;
        access_log logs/ack.log ack;
    }
--- request eval
["POST /p\none", "POST /p\ntwo", "GET /p", "POST /fire\nthree"]
--- error_code eval
[200, 200, 405, 202]
--- response_headers_like eval
["X-Ack-Time: \\d+\\.\\d{3}", "X-Ack-Time: \\d+\\.\\d{3}", "Allow: .+",
 "Content-Type: .+"]
--- ack_log eval
[qr/^200 \d+\.\d{3}$/, qr/^200 \d+\.\d{3}$/, qr/^405 -$/, qr/^202 -$/]
--- metrics eval
['nginx_kafka_produce_ack_seconds_count{topic="status-ack"} 2',
 'nginx_kafka_produce_records_total{topic="status-ack",result="acked"} 3',
 'nginx_kafka_produce_requests_total{topic="status-ack",status="202"} 1']
--- kafka_counts eval
{ 'status-ack' => 3 }



=== TEST 7: SSE streams, events, closes and resumes
--- config
    location = /status { kafka_status; }
    location = /p {
        kafka_produce status-sse;
        kafka_produce_partition 0;
    }
    location = /sse {
        kafka_consume_sse status-sse;
        kafka_consume_start earliest;
    }
--- request eval
["POST /p\none", "POST /p\ntwo"]
--- sse_read eval
[['/sse', 2, qr/data: one\n.*data: two\n/s],
 ['/sse?last_event_id=0:1', 1, qr/\A(?!.*data: one).*data: two\n/s]]
--- metrics eval
['nginx_kafka_sse_events_total{topic="status-sse"} 3',
 'nginx_kafka_sse_resumes_total{topic="status-sse"} 1',
 'nginx_kafka_sse_streams{topic="status-sse"} 0',
 'nginx_kafka_sse_streams_closed_total{topic="status-sse",reason="client"} 2',
 'nginx_kafka_sse_streams_closed_total{topic="status-sse",reason="slow"} 0',
 'nginx_kafka_sse_streams_closed_total{topic="status-sse",reason="error"} 0',
 'nginx_kafka_produce_requests_total{topic="status-sse",status="200"} 2']



=== TEST 8: JWT rejections by reason
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_HMAC_KEY;
--- config
    location = /status { kafka_status; }
    location = /p {
        kafka_jwt "kafka";
        kafka_jwt_token $arg_t;
        kafka_jwt_issuer me;
        kafka_acl_claim scope;
        kafka_produce status-jwt;
    }
--- request eval
["POST /p\nx", "POST /p?t=a.b.c\nx", "POST /p?t=$::expired\nx",
 "POST /p?t=$::early\nx", "POST /p?t=$::stranger\nx",
 "POST /p?t=$::no_grant\nx"]
--- error_code eval
[401, 401, 401, 401, 401, 401]
--- metrics eval
['nginx_kafka_jwt_rejected_total{reason="missing"} 1',
 'nginx_kafka_jwt_rejected_total{reason="invalid"} 1',
 'nginx_kafka_jwt_rejected_total{reason="expired"} 1',
 'nginx_kafka_jwt_rejected_total{reason="not_yet_valid"} 1',
 'nginx_kafka_jwt_rejected_total{reason="claims"} 2',
 'nginx_kafka_jwt_rejected_total{reason="forbidden"} 0',
 'nginx_kafka_produce_requests_total{topic="",status="401"} 6']



=== TEST 9: a grant that does not cover the topic is "forbidden"
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_HMAC_KEY;
--- config
    location = /status { kafka_status; }
    location = /p {
        kafka_jwt "kafka";
        kafka_jwt_token $arg_t;
        kafka_acl_claim scope;
        kafka_produce status-jwt;
    }
--- request eval
["POST /p?t=$::no_grant\nx", "POST /p?t=$::granted\nx"]
--- error_code eval
[403, 200]
--- metrics eval
['nginx_kafka_jwt_rejected_total{reason="forbidden"} 1',
 'nginx_kafka_jwt_rejected_total{reason="missing"} 0',
 'nginx_kafka_produce_requests_total{topic="",status="403"} 1',
 'nginx_kafka_produce_requests_total{topic="status-jwt",status="200"} 1']
--- kafka_counts eval
{ 'status-jwt' => 1 }



=== TEST 10: topics beyond kafka_status_topics are counted as "_other"
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_status_topics 2;
--- config
    location = /status { kafka_status; }
    location ~ ^/p/(?<t>[^/]+)$ { kafka_produce $t; }
--- request eval
["POST /p/status-cap-1\nx", "POST /p/status-cap-2\nx",
 "POST /p/status-cap-3\nx", "POST /p/status-cap-1\nx",
 "POST /p/status-cap-4\nx", "POST /p/_other\nx"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- metrics eval
['nginx_kafka_produce_requests_total{topic="status-cap-1",status="200"} 2',
 'nginx_kafka_produce_requests_total{topic="status-cap-2",status="200"} 1',
 'nginx_kafka_produce_requests_total{topic="_other",status="200"} 3',
 'nginx_kafka_produce_records_total{topic="_other",result="acked"} 3',
 'nginx_kafka_produce_ack_seconds_count{topic="_other"} 3']
--- absent eval
[qr/status-cap-3/, qr/status-cap-4/]
--- kafka_counts eval
{ 'status-cap-3' => 1, 'status-cap-4' => 1 }



=== TEST 11: kafka_status_topics is bounded where it is written
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_status_topics 0;
--- config
    location = /status { kafka_status; }
--- must_die
--- error_log
"kafka_status_topics" must be between 1 and 100000



=== TEST 12: promtool accepts real output, and JSON holds the same figures
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_type hmac;
    kafka_jwt_key_file $TEST_NGINX_HMAC_KEY;
    kafka_producer_property message.max.bytes 1000;
--- config
    location = /status { kafka_status; }
    location = /p { kafka_produce status-lint; }
    location = /sse {
        kafka_consume_sse status-lint;
        kafka_consume_start earliest;
    }
    location = /j {
        kafka_jwt "kafka";
        kafka_produce status-lint;
    }
    location = /v {
        kafka_produce status-lint-more;
        kafka_produce_schema $TEST_NGINX_STATUS_FILES/schema.json;
        kafka_produce_validation annotate;
    }
    location = /c {
        kafka_log status-lint-more;
        alias $TEST_NGINX_STATUS_FILES/big.txt;
    }
--- request eval
["POST /p\none", "POST /p\ntwo", "POST /j\nx", "POST /v\n{\"n\":\"x\"}",
 "GET /c"]
--- error_code eval
[200, 200, 401, 200, 200]
--- response_body_like eval
['"offsets"', '"offsets"', 'error_code', '"offsets"', '^x{2000}$']
--- sse_read eval
[['/sse', 2]]
--- metrics eval
['nginx_kafka_sse_events_total{topic="status-lint"} 2',
 'nginx_kafka_validation_failures_total{topic="status-lint-more",mode="annotate"} 1',
 'nginx_kafka_log_dropped_total{topic="status-lint-more"} 1']
--- promtool
--- json_same



=== TEST 13: kafka_health: 200 while a broker is connected, 503 with the reason while none is
--- http_config
    kafka_brokers $TEST_NGINX_PRIVATE_BROKERS;
--- config
    location = /health { kafka_health; }
    location = /p { kafka_produce status-ready; }
--- request
POST /p
x
--- outage
--- no_error_log
[alert]
[crit]



=== TEST 14: kafka_health when only fire-and-forget records are produced: the batching producer's state decides
--- http_config
    kafka_brokers $TEST_NGINX_PRIVATE_BROKERS;
--- config
    location = /health { kafka_health; }
    location = /p {
        kafka_produce status-ready;
        kafka_produce_ack off;
    }
--- request
POST /p
x
--- error_code: 202
--- outage: batch producer
--- no_error_log
[alert]
[crit]



=== TEST 15: acknowledged and fire-and-forget records go through two producers, each with its own metrics
--- config
    location = /status { kafka_status; }
    location = /p { kafka_produce status-two; }
    location = /f {
        kafka_produce status-two;
        kafka_produce_ack off;
    }
    location = /c {
        kafka_log status-two-log;
        return 204;
    }
--- request eval
["POST /p\none", "POST /f\ntwo", "GET /c"]
--- error_code eval
[200, 202, 204]
--- kafka_counts eval
{ 'status-two' => 2, 'status-two-log' => 1 }
--- metrics_like eval
[qr/^nginx_kafka_broker_up\{client="producer",broker="[^"]+"\} 1$/m,
 qr/^nginx_kafka_broker_up\{client="batch_producer",broker="[^"]+"\} 1$/m]



=== TEST 16: only acknowledged records: no batching producer is started
--- config
    location = /status { kafka_status; }
    location = /p { kafka_produce status-one; }
--- request
POST /p
one
--- kafka_counts eval
{ 'status-one' => 1 }
--- metrics_like eval
[qr/^nginx_kafka_broker_up\{client="producer",broker="[^"]+"\} 1$/m]
--- metrics_unlike eval
[qr/client="batch_producer"/]
