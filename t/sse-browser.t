# A real browser: headless Chromium (Debian's chromium, driven by
# playwright-core from npm) opens a page served by the same nginx, whose
# EventSource receives produced records.  The server then drops every
# stream (a reload); the browser reconnects by itself, with Last-Event-ID,
# and goes on without a gap or a duplicate.
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
use IO::Select;
use JSON::PP ();
use Time::HiRes qw(sleep time);

plan skip_all => 'reload needs the master process (not under valgrind)'
    if sse_valgrind();

browser_or_skip();
my $dir = browser_dir();

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

my $url = 'http://127.0.0.1:' . sse_port() . '/page.html';
open my $node, '-|', 'node', "$dir/sse-browser.js", $url, 6, 30000
    or die "node: $!";

my $sel = IO::Select->new($node);
my ($opens, $got, $done) = (0, 0, undef);

sub wait_state {
    my ($cond, $secs) = @_;
    my $end = time() + $secs;
    while (time() < $end && !defined $done) {
        return 1 if $cond->();
        next unless $sel->can_read(0.2);
        my $line = <$node>;
        last unless defined $line;
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
close $node;

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
