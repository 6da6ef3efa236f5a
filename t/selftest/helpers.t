# Self-test of t/lib/KafkaGateway/Test.pm (not part of the product suite):
#
#   prove -I t/compat -I t/lib t/selftest/
#
# The broker helpers run against t/selftest/fake-broker.pl (the control
# protocol only); the produce/dump round trip needs the real dev tools and
# the module in build/ and is skipped without them.  Elsewhere nginx is
# stock nginx, no module.

use strict;
use warnings;

use File::Spec ();
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use Test2::API qw(intercept);
use Time::HiRes qw(time sleep);

my $module;
BEGIN {
    $module = delete $ENV{TEST_NGINX_LOAD_MODULES};
    $module = File::Spec->rel2abs('build/ngx_http_kafka_gateway_module.so')
        unless defined $module && length $module;
}

use KafkaGateway::Test qw(:all);

my $tmp = tempdir('kgw-selftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub slurp {
    open my $in, '<', shift or return '';
    local $/;
    return scalar <$in>;
}


# The dev broker helpers, against the fake broker.
{
    local $ENV{KAFKA_DEV_BROKER} = 't/selftest/fake-broker.pl';
    my $b = start_broker(brokers => 2, topics => ['orders:2', 'plain']);

    like($b->bootstrap, qr/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/,
         'start_broker: bootstrap lists the 2 brokers');
    like($b->control_addr, qr/^127\.0\.0\.1:\d+$/,
         'start_broker: control address read from the info file');
    is($b->control('ping'), 'ok pong', 'control returns the reply line');
    is($b->control('down 1'), 'ok down 1', 'control: down 1');
    ok(!eval { $b->control('down 7'); 1 }, 'an error reply dies');
    like($@, qr/'down 7': error no broker 7/, '... with the reply');

    my $log = slurp("$b->{dir}/broker.info.log");
    like($log, qr/^topic orders 2$/m, 'topics => name:parts is created');
    like($log, qr/^topic plain 4$/m, 'topics => name gets 4 partitions');
    like(join(' ', @{ $b->{cmd} }), qr/ -n 2 -f \S+broker\.info -c 0 -q$/,
         'broker command line');

    my $pid = $b->pid;
    $b->stop;
    ok(!kill(0, $pid), 'stop: the broker is gone');
}

{
    local $ENV{KAFKA_DEV_BROKER} = '/bin/false';
    ok(!eval { start_broker(); 1 }, 'start_broker dies if the broker exits');
    like($@, qr/did not become ready/, '... saying so');
}

{
    local $ENV{TEST_NGINX_KAFKA_BROKERS};
    delete $ENV{TEST_NGINX_KAFKA_BROKERS};
    is(shared_broker(), undef, 'shared_broker: undef without a broker');

    $ENV{TEST_NGINX_KAFKA_BROKERS} = '127.0.0.1:9';
    local $ENV{TEST_NGINX_KAFKA_CONTROL};
    delete $ENV{TEST_NGINX_KAFKA_CONTROL};
    my $b = shared_broker();
    is($b->bootstrap, '127.0.0.1:9', 'shared_broker: the bootstrap list');
    ok(!eval { $b->control('ping'); 1 }, 'control without an address dies');
    like($@, qr/TEST_NGINX_KAFKA_CONTROL unset/, '... saying why');
    $b->stop;
    pass('stop of a shared broker does nothing');
}


# dump_topic decodes the dump tool's JSON lines.
{
    my $dump = "$tmp/fake-dump";
    open my $out, '>', $dump or die;
    print $out <<'_EOS_';
#!/bin/sh
[ "$1 $3" = "-b -t" ] || { echo "usage: -b B -t T" >&2; exit 2; }
[ "$4" = missing ] && { echo "unknown topic" >&2; exit 1; }
echo '{"partition":0,"offset":5,"timestamp":1,"key":"alice","key_b64":"YWxpY2U=","value":"h\u00e9","value_b64":"aMOp","headers":[["x-a","1","MQ=="],["x-null",null,null]]}'
echo ''
echo '{"partition":3,"offset":0,"timestamp":2,"key":null,"key_b64":null,"value":null,"value_b64":"AAEC/w==","headers":[]}'
_EOS_
    close $out;
    chmod 0755, $dump;

    local $ENV{KAFKA_DEV_DUMP} = $dump;
    my $r = dump_topic('127.0.0.1:1', 'sales');
    is(scalar @$r, 2, 'dump_topic: one record per JSON line');
    is_deeply([map { "$_->{partition}:$_->{offset}" } @$r], ['0:5', '3:0'],
              'dump_topic: partitions and offsets');
    is($r->[0]{key}, 'alice', 'key as text');
    is($r->[0]{value}, "h\x{e9}", 'value as text (characters)');
    is(decode_b64($r->[0]{value_b64}), "h\xc3\xa9", 'value bytes via b64');
    is_deeply($r->[0]{headers}, [['x-a', '1', 'MQ=='], ['x-null', undef, undef]],
              'headers');
    is($r->[1]{key}, undef, 'null key');
    is(decode_b64($r->[1]{value_b64}), "\x00\x01\x02\xff", 'binary value');
    ok(!eval { dump_topic('127.0.0.1:1', 'missing'); 1 },
       'dump_topic dies when the tool fails');
    like($@, qr/unknown topic/, '... with its stderr');
}


# A round trip through the gateway and dump_topic, with the real dev tools:
# records produced by kafka_produce read back as they are in Kafka.
SKIP: {
    my $broker_bin = $ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker';
    my $dump_bin = $ENV{KAFKA_DEV_DUMP} || 'build/kafka-dev-dump';
    skip "no $broker_bin / $dump_bin / $module (make module tools)", 8
        unless -x $broker_bin && -x $dump_bin && -f $module;

    my $b = start_broker(topics => ['roundtrip:4']);
    my $n = start_nginx(<<'_EOC_', load_modules => $module,
        location = /p {
            kafka_produce roundtrip;
            kafka_produce_key $arg_key;
            kafka_produce_partition $arg_p;
            kafka_produce_header x-a $arg_a;
            kafka_produce_header x-b $arg_b;
        }
_EOC_
                        http_config => 'kafka_brokers ' . $b->bootstrap . ';');
    my @sent = (
        [POST => '/p?key=k1&p=1&a=one&b=two', "line 1\nline 2\x00\xff"],
        [DELETE => '/p?key=k0&p=0', undef],         # a tombstone
        [POST => '/p?key=kk&p=2', ''],
        [POST => '/p?p=3', 'no key'],
    );
    is(join(' ', map { http_request(nginx => $n, method => $_->[0],
                                    path => $_->[1], body => $_->[2])->{status}
                     } @sent),
       '200 200 200 200', 'the gateway acknowledges four records');

    my $r = dump_topic($b->bootstrap, 'roundtrip');
    my %p = map { ($_->{partition} => $_) } @$r;
    is(decode_b64($p{1}{value_b64}), "line 1\nline 2\x00\xff",
       'the value arrives as one message, bytes intact');
    is($p{1}{key}, 'k1', 'the key');
    is_deeply([map { [$_->[0], $_->[1]] } @{ $p{1}{headers} }],
              [['x-a', 'one'], ['x-b', 'two']], 'the headers');
    is($p{0}{value_b64}, undef, 'a tombstone is a null value');
    is($p{3}{key}, undef, 'no key');
    is($p{2}{key}, 'kk', 'a key with an empty value');
    is(decode_b64($p{2}{value_b64}), '', 'an empty value (not null)');
    $n->stop;
}


# A private nginx: start, requests, reload, clean log checks, quit.
my @more = (workers => 2, listen => 'backlog=64');
my $ngx = start_nginx(<<'_EOC_', http_config => <<'_EOH_', @more);
        location = /t {
            add_header X-Port $TEST_NGINX_SERVER_PORT;
            return 200 "version 1";
        }
        location = /echo {
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/len;
        }
        location = /len {
            return 200 "len=$http_content_length ct=$http_content_type";
        }
        location = /slow {
            limit_rate 1;
            return 200 "0123456789abcdefghij";
        }
_EOC_
    map $uri $unused_var { default 1; }
_EOH_

ok($ngx->port, 'start_nginx: a port (' . $ngx->port . ')');
like(slurp($ngx->prefix . '/conf/nginx.conf'),
     qr/listen\s+127\.0\.0\.1:\d+ backlog=64;/,
     'the config listens on 127.0.0.1, with the listen parameters');
is(scalar(() = $ngx->workers), 2,
   'workers => 2, running when start_nginx returns');
like($ngx->prefix, qr{/t/servroot-kgw-\w+$}, 'the prefix is under t/');

my ($status, $headers, $body) = http_request(nginx => $ngx, path => '/t');
is($status, 200, 'http_request: status');
is($body, 'version 1', 'http_request: body');
is($headers->{'x-port'}, $ngx->port,
   'headers, lower-case names; $TEST_NGINX_SERVER_PORT is this port');

my $res = http_request(port => $ngx->port, method => 'POST', path => '/echo',
                       headers => { 'Content-Type' => 'text/x-test' },
                       body => "abc\n");
is($res->{status}, 200, 'POST: status (scalar context: a hash)');
is($res->{body}, 'len=4 ct=text/x-test',
   'POST: the body is sent untouched, with a Content-Length');

$res = http_request(nginx => $ngx, path => '/slow', timeout => 0.5);
is($res->{status}, 599, 'a timeout is status 599');
like($res->{body}, qr/timed out/, '... with the reason');

$res = http_request(port => free_port(), path => '/');
is($res->{status}, 599, 'a refused connection is status 599');

my @old = $ngx->workers;
$ngx->reload(<<'_EOC_');
        location = /t {
            return 200 "version 2";
        }
_EOC_
my %old = map { ($_ => 1) } @old;
is(scalar(grep { !$old{$_} } $ngx->workers) >= 2, 1,
   'reload: new workers are running');
is((http_request(nginx => $ngx, path => '/t'))[2], 'version 2',
   'reload: the new configuration answers');

ok(!eval { $ngx->reload('bogus_directive;'); 1 },
   'a reload with a bad config dies');
like($@, qr/rejected.*unknown directive "bogus_directive"/s,
     '... with the emerg line');
$ngx->reload('location = /t { return 200 "version 3"; }');
is((http_request(nginx => $ngx, path => '/t'))[2], 'version 3',
   'a good reload after a bad one');

check_error_log_clean($ngx, qr/unknown directive "bogus_directive"/);

is((http_request(nginx => $ngx, path => '/missing.html'))[0], 404,
   'a missing file: 404');
my $events = intercept {
    check_error_log_clean($ngx, qr/unknown directive "bogus_directive"/);
};
my @oks = grep { $_->isa('Test2::Event::Ok') } @$events;
ok(@oks == 1 && !$oks[0]->pass,
   'check_error_log_clean fails on an [error] line');
check_error_log_clean($ngx, qr/unknown directive "bogus_directive"/,
                      qr/open\(\) ".*missing\.html" failed/);

my $elapsed = $ngx->quit(timeout => 5);
ok(defined $elapsed && $elapsed < 5, 'quit: returns the seconds it took');
ok(!kill(0, $ngx->pid_from_file // 0) || !-e $ngx->prefix . '/logs/nginx.pid',
   'quit: nginx is gone');


# quit with a request still in flight: undef after the timeout, then killed.
{
    my $slow = start_nginx(<<'_EOC_');
        location = /slow {
            limit_rate 1;
            return 200 "0123456789abcdefghij";
        }
_EOC_
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $slow->port)
        or die "connect: $!";
    print $sock "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n";
    sleep 0.3;

    my $master = $slow->pid;
    my @workers = $slow->workers;
    my $t0 = time;
    is($slow->quit(timeout => 1), undef,
       'quit: undef when nginx is still running after the timeout');
    ok(time - $t0 < 6, '... and it does not wait much longer');
    ok(wait_until { !grep { kill 0, $_ } $master, @workers } 5,
       '... then master and workers are killed');
    close $sock;
}

done_testing();
