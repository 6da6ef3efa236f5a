# kafka_consume_sse: the response headers, the event/id/data fields of
# both formats, multi-line and binary values, the heartbeat, and the
# errors a client gets for a bad topic, a malformed id or a wrong method.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;

my $topic = sse_unique_topic('sse-basic');

sse_start_nginx(<<'LOC');
        location ~ ^/v/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_start earliest;
            kafka_consume_heartbeat 1s;
            kafka_consume_retry 1500ms;
        }

        location ~ ^/j/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_start earliest;
            kafka_consume_format json;
            kafka_consume_event update;
        }

        location ~ ^/internal/(?<t>[^/]+)$ {
            kafka_internal_topics on;
            kafka_consume_sse $t;
            kafka_consume_start earliest;
        }
LOC

sse_produce($topic, 0, 'k1', "one line");
sse_produce($topic, 0, undef, "first\nsecond\r\nthird");
sse_produce($topic, 0, 'k3', "\xff\x00\xfe binary");
sse_produce($topic, 0, "caf\xc3\xa9", "{\"n\":1,\"s\":\"caf\xc3\xa9\"}");

# value format

my $h = sse_get("/v/$topic", 10, until => sub { @{ $_[0]{events} } >= 4 });

is($h->{status}, 200, 'value: 200');
like($h->{head}, qr{^Content-Type: text/event-stream\r?$}mi,
     'value: Content-Type');
like($h->{head}, qr{^Cache-Control: no-cache\r?$}mi, 'value: Cache-Control');
like($h->{head}, qr{^X-Accel-Buffering: no\r?$}mi,
     'value: X-Accel-Buffering');
like($h->{head}, qr{^Transfer-Encoding: chunked\r?$}mi, 'value: chunked');
unlike($h->{head}, qr{^Content-Length}mi, 'value: no Content-Length');
is($h->{retry}, 1500, 'retry: from kafka_consume_retry');

my @ev = @{ $h->{events} };
is(scalar @ev, 4, 'value: four events');
is($ev[0]{event}, $topic, 'event: the topic by default');
is($ev[0]{data}, 'one line', 'data: a one-line value');
is($ev[1]{data}, "first\nsecond\nthird", 'data: line breaks split data lines');
like($ev[1]{raw}, qr/^data: first\ndata: second\ndata: third$/m,
     'data: one field per line');
like($ev[2]{raw}, qr/^: base64\ndata: (\S+)$/m,
     'binary value: a ": base64" comment before the data');
is($ev[2]{data}, '/wD+IGJpbmFyeQ==', 'binary value: base64 of the bytes');
is($ev[3]{data}, "{\"n\":1,\"s\":\"caf\xc3\xa9\"}", 'UTF-8 value: as is');
like($ev[0]{id}, qr/^0:1(,\d+:0)*$/,
     'id: partition 0 at offset 1 after the first record');
like($ev[3]{id}, qr/^0:4(,\d+:0)*$/, 'id: next offset of every partition');

# the heartbeat comes after a second of silence

sse_read_more($h = sse_open("/v/$topic"), 3.5);
ok((grep { $_ eq 'ping' } @{ $h->{comments} }) >= 2, 'heartbeat: ": ping"');

# json format

$h = sse_get("/j/$topic", 10, until => sub { @{ $_[0]{events} } >= 4 });
@ev = @{ $h->{events} };
is(scalar @ev, 4, 'json: four events');
is($ev[0]{event}, 'update', 'json: event from kafka_consume_event');
like($ev[0]{data},
     qr/^\{"topic":"\Q$topic\E","partition":0,"offset":0,"timestamp":\d{13},"key":"k1","value":"one line","headers":\[\]\}$/,
     'json: the record as one object');
like($ev[1]{data}, qr/"key":null,"value":"first\\nsecond\\r\\nthird"/,
     'json: no key is null, line breaks escaped');
like($ev[2]{data}, qr/"value":"\/wD\+IGJpbmFyeQ==".*"value_encoding":"base64"/,
     'json: binary value as base64, flagged');
like($ev[3]{data}, qr/"key":"caf\xc3\xa9","value":"\{\\"n\\":1,\\"s\\":\\"caf\xc3\xa9\\"\}"/,
     'json: UTF-8 key and value as strings');
unlike($ev[1]{raw}, qr/^data: .*\n^data:/m, 'json: one data line');

# errors

my ($status, $head, $body) = sse_request('GET', '/v/bad%20topic');
is($status, 400, 'bad topic: 400');
like($body, qr/^\{"error_code":40001,"message":"invalid topic name/,
     'bad topic: JSON error');

($status, $head, $body) = sse_request('GET', '/v/__consumer_offsets');
is($status, 400, 'an internal topic: 400');
is($body, '{"error_code":40001,"message":"topic \\"__consumer_offsets\\" '
          . 'is internal to Kafka"}', 'an internal topic: JSON error');

sse_produce('__sse-internal', 0, 'ik', 'internal record');
my $internal = sse_get('/internal/__sse-internal', 10,
                       until => sub { @{ $_[0]{events} } >= 1 });
is($internal->{status}, 200, 'kafka_internal_topics on: 200');
is($internal->{events}[0]{data}, 'internal record',
   'kafka_internal_topics on: the internal topic streams');

($status, undef, $body) = sse_request('GET', '/v/caf%C3%A9');
is($body, qq|{"error_code":40001,"message":"invalid topic name \\"caf\xc3\xa9\\": |
          . '1 to 249 characters of a-z, A-Z, 0-9, \\".\\", \\"_\\", \\"-\\""}',
   'a UTF-8 topic name is quoted as UTF-8');

for my $id ('x', '0:1,0:2', '1:2,0:1', '0:', ':5', '0:1,', '0:99999999999999999999') {
    ($status, undef, $body) = sse_request('GET', "/v/$topic",
                                          undef, 'Last-Event-ID' => $id);
    is($status, 400, "malformed id \"$id\": 400");
    like($body, qr/"error_code":40002/, "malformed id \"$id\": JSON error");
}

($status, undef, $body) = sse_request('GET', "/v/$topic?last_event_id=zz");
is($status, 400, 'malformed ?last_event_id=: 400');

($status, undef, $body) = sse_request('GET', "/v/$topic?since=yesterday");
is($status, 400, 'malformed ?since=: 400');
like($body, qr/"error_code":40003/, 'malformed ?since=: JSON error');

($status, $head, $body) = sse_request('POST', "/v/$topic", 'x');
is($status, 405, 'POST: 405');
like($head, qr/^Allow: GET, HEAD\r?$/mi, 'POST: Allow header');
like($body, qr/"error_code":40501/, 'POST: JSON error');

($status, $head, $body) = sse_request('HEAD', "/v/$topic");
is($status, 200, 'HEAD: 200');
like($head, qr{^Content-Type: text/event-stream}mi, 'HEAD: the stream type');
is($body, '', 'HEAD: no body');

sse_stop_nginx();

my $log = sse_error_log();
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
unlike($log, qr/\[error\]/, 'no errors in the error log');

done_testing();


sub sse_read_more {
    my ($h, $secs) = @_;
    KafkaGateway::SSE::sse_read($h, $secs);
    close $h->{sock};
}
