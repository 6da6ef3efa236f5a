# A real browser: headless Chromium (Debian's chromium, driven by
# playwright-core from npm), launched once for both parts.
#
# 1. "make run" as a new user meets it: tools/run-demo.sh serves
#    nginx.conf.sample with the dev broker; the README's curl example
#    produces, and the demo page opened afterwards shows those records (it
#    starts an hour back, not at "latest"); the browser's favicon request
#    leaves no error in the log.
# 2. A page served by the launcher's nginx, whose EventSource receives
#    produced records.  The server then drops every stream (a reload); the
#    browser reconnects by itself, with Last-Event-ID, and goes on without
#    a gap or a duplicate.
#
# chromium (and nodejs/npm if there is no node) come from
# tools/install-deps.sh; the test installs playwright-core with npm into
# t/browser/node_modules (git-ignored).  As root, anything missing is a
# failure, not a skip.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use KafkaGateway::Browser;
use KafkaGateway::Test qw(http_request wait_until);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

plan skip_all => 'the demo runs nginx itself and the reload needs the '
                 . 'master process: not under valgrind'
    if sse_valgrind();
plan skip_all => 'no broker (run under tools/with-broker.sh)'
    unless $ENV{KAFKA_BROKERS};

browser_or_skip();
my $browser = browser_start();


# 1. The demo.

{
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

    my $up = wait_until {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
    } 10, 0.1;
    ok($up, 'make run serves on its port') or BAIL_OUT(`cat $prefix/demo.out`);
    close $up;      # nginx's graceful quit would wait for it

    # the README's first curl line

    # (30 s: the first produce of a fresh worker under the sanitizers,
    # while Chromium starts on the same cores, took more than 10 s in CI)
    my ($status, undef, $why) = http_request(port => $port, method => 'POST',
        path => '/topics/sales', timeout => 30,
        body => '{"records":[{"key":"alice","value":{"tickets":5}},'
                . '{"key":"bob","value":{"tickets":10}}]}',
        headers => [ 'Content-Type' => 'application/vnd.kafka.json.v2+json' ]);
    is($status, 200, 'the README example is produced')
        or diag($why, `cat $prefix/demo.out $prefix/logs/error.log`);

    # then the page the demo prints

    my $res = browser_job($browser, "demo-page http://127.0.0.1:$port"
                                    . '/sse.html?topic=sales #log alice,bob '
                                    . '20000', 40);
    ok($res->{ok}, 'the page shows the records produced before it was '
                   . 'opened') or diag($res->{text} // '');
    like($res->{text} // '', qr/"alice" \{"tickets":5\}/,
         'alice\'s record as sent');
    like($res->{text} // '', qr/"bob" \{"tickets":10\}/,
         'bob\'s record as sent');

    ($status) = http_request(port => $port, path => '/favicon.ico');
    is($status, 204, 'favicon.ico: 204');

    kill 'QUIT', $pid;
    waitpid($pid, 0);

    open my $log, '<', "$prefix/logs/error.log" or die $!;
    my @bad = grep { /\[(error|alert|crit|emerg)\]/ } <$log>;
    is(join('', @bad), '', 'no errors in the error log (favicon included)');
}


# 2. An EventSource across a reload.

my $topic = sse_unique_topic('sse-browser');
my $root = sse_start_nginx(<<'LOC');
        location = /page.html {
        }

        location = /favicon.ico {
            return 204;
        }

        location ~ ^/events/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_format json;
            kafka_consume_retry 500ms;
        }
LOC

open my $fh, '>', "$root/html/page.html" or die $!;
print $fh <<"HTML";
<!DOCTYPE html>
<html><body><script>
window.opens = 0; window.errors = 0; window.got = [];
const es = new EventSource('/events/$topic');
es.onopen = () => { window.opens++; };
es.onerror = () => { window.errors++; };
es.addEventListener('$topic', (e) => {
    window.got.push(JSON.parse(e.data).value + '\@' + e.lastEventId);
});
</script></body></html>
HTML
close $fh;

sse_produce($topic, 0, undef, 'before');

browser_send($browser, 'sse-browser http://127.0.0.1:' . sse_port()
                       . '/page.html 6 30000');

my ($opens, $got, $done) = (0, 0, undef);

sub wait_state {
    my ($cond, $secs) = @_;
    my $end = time() + $secs;
    while (time() < $end && !defined $done) {
        return 1 if $cond->();
        my $line = browser_line($browser, 0.2);
        next unless defined $line;
        if ($line =~ /^state opens=(\d+) got=(\d+)/) {
            ($opens, $got) = ($1, $2);
        } elsif ($line =~ /^done (.*)/) {
            $done = $1;
        } elsif ($line =~ /^failed (.*)/) {
            diag("browser: $1");
            $done = '{}';
        }
    }
    return $cond->();
}

ok(wait_state(sub { $opens >= 1 }, 20), 'the page\'s EventSource is open');

sse_produce($topic, 0, undef, "live-$_") for 1 .. 3;
ok(wait_state(sub { $got >= 3 }, 10), 'the browser receives live records');

# the server drops every stream; records keep coming meanwhile

sse_reload();
sse_produce($topic, 0, undef, "gap-$_") for 1 .. 3;

wait_state(sub { 0 }, 40);
browser_stop($browser);

my $res = eval { JSON::PP::decode_json($done // '{}') } || {};
my @got = @{ $res->{got} || [] };

ok(($res->{opens} // 0) >= 2,
   'the browser reconnected by itself: ' . ($res->{opens} // 0) . ' opens');
is_deeply([ map { (split /\@/)[0] } @got ],
          [qw(live-1 live-2 live-3 gap-1 gap-2 gap-3)],
          'every record once, in order, across the reconnection');
like($got[-1] // '', qr/\@0:7(,|$)/, 'the browser\'s last id names offset 7');

my $log = sse_error_log();
unlike($log, qr/\[(alert|crit|emerg|error)\]/, 'no errors in the error log');

sse_stop_nginx();

done_testing();
