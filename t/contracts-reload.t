# Contracts and reloads: a reload compiles a changed schema file (the new
# workers check against it), and a reload with a broken schema is refused
# with the file and the position, the running workers keeping the old one;
# "nginx -t" says the same.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempdir);
use Test::More;
use KafkaGateway::Test qw(start_broker start_nginx http_request dump_topic);

plan skip_all => 'no dev broker (run "make test")'
    unless $ENV{TEST_NGINX_KAFKA_BROKERS}
           || -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $nginx_bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

my $broker;
my $bs = $ENV{TEST_NGINX_KAFKA_BROKERS};
unless ($bs) {
    $broker = start_broker(brokers => 1, topics => ['ct-reload:1']);
    $bs = $broker->bootstrap;
}

my $dir = tempdir(CLEANUP => 1);

sub schema {
    my ($text) = @_;
    open my $fh, '>', "$dir/s.json" or die "$dir/s.json: $!";
    print $fh $text;
    close $fh;
}

sub post {
    my ($ngx, $body) = @_;
    return http_request(nginx => $ngx, method => 'POST', path => '/p',
                        body => $body);
}

my $config = <<"_EOC_";
    location /p {
        kafka_produce ct-reload;
        kafka_produce_schema $dir/s.json;
    }
_EOC_

schema('{"required": ["a"]}');

my $ngx = start_nginx($config, http_config => "kafka_brokers $bs;",
                      valgrind => 1);

is(post($ngx, '{"b":1}')->{status}, 422, 'v1: {"b":1} is refused');
is(post($ngx, '{"a":1}')->{status}, 200, 'v1: {"a":1} is produced');

schema('{"required": ["b"]}');
ok($ngx->reload, 'reload with a changed schema');

is(post($ngx, '{"b":2}')->{status}, 200, 'v2: {"b":2} is produced');
my $res = post($ngx, '{"a":2}');
is($res->{status}, 422, 'v2: {"a":2} is refused');
like($res->{body}, qr/required property \\"b\\" is missing/,
     '... by the new schema');

# a broken schema: nginx -t names the file and the position, a reload
# leaves the running workers with the schema they have

schema(qq({"required": ["b"],\n "properties": {"b": {"type": "strin"}}}\n));

my $out = `$nginx_bin -t -p $ngx->{prefix}/ -c conf/nginx.conf -e logs/error.log 2>&1`;
isnt($? >> 8, 0, 'nginx -t fails with a broken schema');
like($out, qr{schema "\Q$dir\E/s\.json": invalid schema at /properties/b/type: unknown type},
     '... naming the file and the place in it');

kill 'HUP', $ngx->{pid};
my $logged = KafkaGateway::Test::wait_until(
    sub { $ngx->error_log =~ m{s\.json": invalid schema at /properties/b/type} },
    10);
ok($logged, 'the refused reload is logged with the place');
is(post($ngx, '{"b":3}')->{status}, 200,
   'the workers still check against v2');
is(post($ngx, '{"a":3}')->{status}, 422, '... and refuse what v2 refuses');

my @values = map { $_->{value} } @{ dump_topic($bs, 'ct-reload') };
is_deeply([sort @values], ['{"a":1}', '{"b":2}', '{"b":3}'],
          'what landed in Kafka: the accepted records only');

ok(defined $ngx->quit(timeout => 10), 'quit');
unlike($ngx->error_log, qr/\[(alert|crit)\]/, 'no alert or crit in the log');
KafkaGateway::Test::check_valgrind_clean($ngx);

done_testing();
