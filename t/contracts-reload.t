# Contracts and reloads: a reload compiles a changed schema file (the new
# workers check against it); a broken schema is refused with the file and
# the position in it, at start (as "nginx -t" refuses it) and at a reload,
# which leaves the running workers with the schema they have.
#
# --- schema_file is the text of the schema file when the block's nginx
# starts; an --- init changes it and reloads (KafkaGateway::Blocks::reload).
# Each block produces to its own topic, whose values it checks.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;

our $Dir = tempdir(CLEANUP => 1);

$ENV{TEST_NGINX_CT_RELOAD} = $Dir;

our $V2 = '{"required": ["b"]}';
our $Broken = qq({"required": ["b"],\n "properties": {"b": {"type": "strin"}}}\n);

# the schema file nginx reads
sub schema {
    my ($text) = @_;
    open my $fh, '>', "$Dir/s.json" or die "$Dir/s.json: $!";
    print $fh $text;
    close $fh;
}

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    schema(KafkaGateway::Blocks::section($block, 'schema_file')
           // die $block->name . ": no --- schema_file\n");

    $block->set_value("http_config",
                      "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");

    $block->set_value("config", <<'_EOC_');
    location ~ ^/p/(?<topic>[^/]+)$ {
        kafka_produce $topic;
        kafka_produce_schema $TEST_NGINX_CT_RELOAD/s.json;
    }
_EOC_

    if (!defined $block->no_error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: the schema at start: {"b":1} is refused, {"a":1} is produced
--- schema_file
{"required": ["a"]}
--- request eval
["POST /p/ct-reload-v1\n{\"b\":1}", "POST /p/ct-reload-v1\n{\"a\":1}"]
--- error_code eval
[422, 200]
--- response_body_like eval
[qr/required property \\"a\\" is missing/, qr/^\{"offsets":\[/]
--- kafka_topic_values eval
{ topic => "ct-reload-v1", values => ['{"a":1}'] }



=== TEST 2: a reload with a changed schema: the new workers produce {"b":2} and refuse {"a":2} by the new schema
--- schema_file
{"required": ["a"]}
--- init
main::schema($::V2);
KafkaGateway::Blocks::reload();
--- request eval
["POST /p/ct-reload-v2\n{\"b\":2}", "POST /p/ct-reload-v2\n{\"a\":2}"]
--- error_code eval
[200, 422]
--- response_body_like eval
[qr/^\{"offsets":\[/, qr/required property \\"b\\" is missing/]
--- kafka_topic_values eval
{ topic => "ct-reload-v2", values => ['{"b":2}'] }



=== TEST 3: a broken schema: nginx refuses to start (as "nginx -t" does), naming the file and the place in it
--- schema_file eval
$::Broken
--- must_die
--- error_log eval
qr{schema "\Q$::Dir\E/s\.json": invalid schema at /properties/b/type: unknown type}



=== TEST 4: a reload with a broken schema is refused, logged with the file and the place; the workers still produce what the schema they have accepts
--- schema_file eval
$::V2
--- init
main::schema($::Broken);
KafkaGateway::Blocks::reload(
    refused => qr{s\.json": invalid schema at /properties/b/type});
--- request
POST /p/ct-reload-kept
{"b":3}
--- error_code: 200
--- response_body_like: ^\{"offsets":\[
--- error_log eval
qr{\[emerg\].*schema "\Q$::Dir\E/s\.json": invalid schema at /properties/b/type: unknown type}
--- kafka_topic_values eval
{ topic => "ct-reload-kept", values => ['{"b":3}'] }



=== TEST 5: a reload with a broken schema is refused; the workers still refuse what the schema they have refuses
--- schema_file eval
$::V2
--- init
main::schema($::Broken);
KafkaGateway::Blocks::reload(
    refused => qr{s\.json": invalid schema at /properties/b/type});
--- request
POST /p/ct-reload-refused
{"a":3}
--- error_code: 422
--- response_body_like: required property \\"b\\" is missing
--- error_log eval
qr{\[emerg\].*schema "\Q$::Dir\E/s\.json": invalid schema at /properties/b/type: unknown type}
--- kafka_topic_count: ct-reload-refused 0
