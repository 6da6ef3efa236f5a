# "make run" as a new user meets it: tools/run-demo.sh serves
# nginx.conf.sample with the dev broker; the README's curl example
# produces, and the demo page opened afterwards in headless Chromium shows
# those records (it starts an hour back, not at "latest"); the browser's
# favicon request leaves no error in the log.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::Browser;
use KafkaGateway::Test qw(http_request);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use JSON::PP ();

plan skip_all => 'the demo runs nginx itself (not under valgrind)'
    if $ENV{TEST_NGINX_USE_VALGRIND};
plan skip_all => 'no broker (run under tools/with-broker.sh)'
    unless $ENV{KAFKA_BROKERS};

browser_or_skip();

my $top = "$FindBin::Bin/..";
my $prefix = tempdir(CLEANUP => 1);
chmod 0755, $prefix;      # workers run as nobody
my $port = $ENV{TEST_NGINX_SCENARIO_PORT} || 8480;

my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    open STDOUT, '>', "$prefix/demo.out";
    open STDERR, '>&', \*STDOUT;
    $ENV{RUN_PREFIX} = $prefix;
    $ENV{RUN_PORT} = $port;
    $ENV{NGINX_BIN} = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    $ENV{MODULE} = $ENV{TEST_NGINX_LOAD_MODULES};
    exec "$top/tools/run-demo.sh";
    exit 1;
}

my $up;
for (1 .. 100) {
    last if $up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    sleep 0.1;
}
ok($up, 'make run serves on its port') or BAIL_OUT(`cat $prefix/demo.out`);

# the README's first curl line

my ($status) = http_request(port => $port, method => 'POST',
    path => '/topics/sales',
    body => '{"records":[{"key":"alice","value":{"tickets":5}},'
            . '{"key":"bob","value":{"tickets":10}}]}',
    headers => [ 'Content-Type' => 'application/vnd.kafka.json.v2+json' ]);
is($status, 200, 'the README example is produced');

# then the page the demo prints

my $url = "http://127.0.0.1:$port/sse.html?topic=sales";
my $out = `node '@{[ browser_dir() ]}/demo-page.js' '$url' '#log' alice,bob 20000`;
my ($json) = $out =~ /^done (.*)$/m;
my $res = eval { JSON::PP::decode_json($json // '{}') } || {};
ok($res->{ok}, 'the page shows the records produced before it was opened')
    or diag($out);
like($res->{text} // '', qr/"alice" \{"tickets":5\}/, 'alice\'s record as sent');
like($res->{text} // '', qr/"bob" \{"tickets":10\}/, 'bob\'s record as sent');

($status) = http_request(port => $port, path => '/favicon.ico');
is($status, 204, 'favicon.ico: 204');

kill 'QUIT', $pid;
waitpid($pid, 0);

open my $log, '<', "$prefix/logs/error.log" or die $!;
my @bad = grep { /\[(error|alert|crit|emerg)\]/ } <$log>;
is(join('', @bad), '', 'no errors in the error log (favicon included)');

done_testing();
