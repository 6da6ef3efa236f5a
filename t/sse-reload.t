# A reload with clients connected: the old worker ends its streams at once
# (a final comment, a proper end) and exits promptly, with no open socket
# left; clients that reconnect with their last id miss nothing and get
# nothing twice.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use Time::HiRes qw(sleep time);

plan skip_all => 'reload needs the master process (not under valgrind)'
    if sse_valgrind();

my $topic = sse_unique_topic('sse-reload');

sse_start_nginx(<<'LOC');
        location ~ ^/s/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_format json;
        }
LOC

sse_produce($topic, 0, undef, 'before');

my @clients = map { sse_open("/s/$topic") } 1 .. 3;
sse_read($_, 5, until => sub { defined $_[0]{last_id} }) for @clients;

sse_produce($topic, 0, undef, "a$_") for 1 .. 3;
sse_read($_, 5, until => sub { @{ $_[0]{events} } >= 3 }) for @clients;

my ($old) = sse_worker_pids();
my $t0 = time();
sse_reload();

my $gone;
for (1 .. 100) {
    if (!kill 0, $old) {
        $gone = time() - $t0;
        last;
    }
    sleep 0.05;
}

ok(defined $gone && $gone < 3,
   'the old worker exits promptly: ' . ($gone // 'never') . ' s');

for my $c (@clients) {
    sse_read($c, 3);
}

ok((grep { $_->{ended} && grep { /^closing: the server is restarting/ }
                            @{ $_->{comments} } } @clients) == 3,
   'every stream ended with a comment saying why');
ok((grep { $_->{complete} } @clients) == 3, 'and a proper end of response');

# records produced while the clients are away

sse_produce($topic, 0, undef, "b$_") for 1 .. 3;

for my $c (@clients) {
    my $r = sse_get("/s/$topic", 8,
                    headers => { 'Last-Event-ID' => $c->{last_id} },
                    until => sub { @{ $_[0]{events} } >= 3 });
    sse_read($r, 0.3) unless $r->{ended};
    $c->{after} = [ map { /"value":"([^"]*)"/ ? $1 : '?' }
                    map { $_->{data} } @{ $r->{events} } ];
}

is_deeply([ map { join ',', @{ $_->{after} } } @clients ],
          [ ('b1,b2,b3') x 3 ],
          'each client resumes with exactly the records it missed');

my $log = sse_error_log();
unlike($log, qr/open socket/, 'no open socket left in the old worker');
unlike($log, qr/\[(alert|crit|emerg|error)\]/, 'no errors in the error log');

sse_stop_nginx();

done_testing();
