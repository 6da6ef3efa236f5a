# kafka_consume_sse: exact resume.  A client that reconnects with its last
# id (Last-Event-ID, or ?last_event_id= on a first connection) gets exactly
# the records it missed on every partition, then live ones, none twice;
# clients at different offsets share the worker's readers; an id older
# than the log start resumes there and says so.

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use KafkaGateway::SSE;
use Time::HiRes qw(sleep);

my $topic = sse_unique_topic('sse-resume');

sse_start_nginx(<<'LOC', http => 'kafka_consumer_property fetch.message.max.bytes 2097152;');
        location ~ ^/s/(?<t>[^/]+)$ {
            kafka_consume_sse $t;
            kafka_consume_start earliest;
        }
LOC

# the topic comes into being with the broker's default partition count

sse_produce($topic, 0, undef, 'p0-0');
my $np = sse_partitions("/s/$topic");
my $parts = $np < 3 ? $np : 3;
diag("$topic has $np partition(s), using $parts");

my %count = (0 => 1);
my @all = ('p0-0');

sub produce_round {
    my @new;
    for my $p (0 .. $parts - 1) {
        my $v = "p$p-" . ($count{$p}++ // 0);
        $count{$p} //= 1;
        sse_produce($topic, $p, undef, $v);
        push @new, $v;
    }
    push @all, @new;
    return @new;
}

produce_round() for 1 .. 2;

# the first client reads some, then leaves

my $h = sse_open("/s/$topic");
sse_read($h, 8, until => sub { @{ $_[0]{events} } >= 4 });
close $h->{sock};

my @seen = map { $_->{data} } @{ $h->{events} };
my $id = $h->{events}[-1]{id};
ok(@seen >= 4, 'the first client got events');
like($id, qr/^0:\d+(,\d+:\d+)*$/, "its last id: $id");

my @missed = produce_round();
push @missed, produce_round();

my %seen = map { $_ => 1 } @seen;
my @expect = grep { !$seen{$_} } @all;

# reconnect with the header, as a browser does

$h = sse_open("/s/$topic", 'Last-Event-ID' => $id);
sse_read($h, 8, until => sub { @{ $_[0]{events} } >= @expect });
sse_read($h, 1);

my @got = map { $_->{data} } @{ $h->{events} };
is_deeply([ sort @got ], [ sort @expect ],
          'Last-Event-ID: exactly the records missed, on every partition');
is_deeply([ grep { /^p0-/ } @got ], [ grep { /^p0-/ } @expect ],
          'Last-Event-ID: in partition order');

my @live = produce_round();
sse_read($h, 8, until => sub { @{ $_[0]{events} } >= @expect + @live });
sse_read($h, 0.5);
@got = map { $_->{data} } @{ $h->{events} };
is_deeply([ sort @got[@expect .. $#got] ], [ sort @live ],
          'then the live records, none twice');
my $live_id = $h->{last_id};
close $h->{sock};

# the same from the query string of a first connection

(my $qid = $id) =~ s/:/%3A/g;
@expect = grep { !$seen{$_} } @all;
my $q = sse_get("/s/$topic?last_event_id=$qid", 8,
                until => sub { @{ $_[0]{events} } >= @expect });
is_deeply([ sort map { $_->{data} } @{ $q->{events} } ], [ sort @expect ],
          '?last_event_id=: the same records');

# the header wins over the query string (a browser's reconnect keeps both)

$q = sse_get("/s/$topic?last_event_id=$qid", 2,
             headers => { 'Last-Event-ID' => $live_id });
is(scalar @{ $q->{events} }, 0, 'Last-Event-ID wins over ?last_event_id=');
is($q->{last_id}, $live_id, 'and its first id is the one sent');

# two clients at different offsets in the same worker

my $x = sse_open("/s/$topic");
my $y = sse_open("/s/$topic", 'Last-Event-ID' => $id);
sse_read($x, 8, until => sub { @{ $_[0]{events} } >= @all });
sse_read($y, 8, until => sub { @{ $_[0]{events} } >= @expect });

my @more = produce_round();
sse_read($x, 8, until => sub { @{ $_[0]{events} } >= @all });
sse_read($y, 8, until => sub { @{ $_[0]{events} } >= @expect + @more });
sse_read($_, 0.5) for $x, $y;

is_deeply([ sort map { $_->{data} } @{ $x->{events} } ], [ sort @all ],
          'two clients: the one from the start gets everything once');
is_deeply([ sort map { $_->{data} } @{ $y->{events} } ],
          [ sort @expect, @more ],
          'two clients: the one resumed gets the rest once');
close $_->{sock} for $x, $y;

# an id older than the log start (the broker trims a partition past 5 MB)

my $big = sse_unique_topic('sse-trim');
sse_produce($big, 0, undef, 'x' x 900_000) for 1 .. 8;
sse_produce($big, 0, undef, 'last');

my $t = sse_get("/s/$big", 5, until => sub { defined $_[0]{last_id} });
my ($start) = ($t->{last_id} // '') =~ /^0:(\d+)/;

SKIP: {
    skip 'the broker did not trim the partition', 3 unless $start;

    (my $old = $t->{last_id}) =~ s/\d+(,|$)/0$1/g;

    $t = sse_get("/s/$big", 8, headers => { 'Last-Event-ID' => $old },
                 until => sub { grep { $_->{data} eq 'last' }
                                     @{ $_[0]{events} } });

    like($t->{comments}[0] // '',
         qr/^partition 0: offset 0 is before the log start, resuming at $start/,
         'a first comment says the id was older than the log start');
    like($t->{events}[0]{id}, qr/^0:@{[ $start + 1 ]}(,|$)/,
         'the stream resumes at the log start');
    is($t->{events}[-1]{data}, 'last', 'and goes on to the end');
}

sse_stop_nginx();

my $log = sse_error_log();
unlike($log, qr/\[(alert|crit|emerg|error)\]/, 'no errors in the error log');

done_testing();
