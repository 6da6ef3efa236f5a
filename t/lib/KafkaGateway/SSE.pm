package KafkaGateway::SSE;

# The client side of the kafka_consume_sse tests: streams opened, read and
# parsed as a browser's EventSource does, plain requests, and records
# produced through the gateway's own kafka_produce (exact bytes, any
# partition).  nginx is KafkaGateway::Test's launcher: sse_start_nginx is
# start_nginx with the broker in TEST_NGINX_KAFKA_BROKERS and a /produce
# location added; the other sse_*_nginx names call the same object.

use strict;
use warnings;

use Exporter ();
our @ISA = ('Exporter');
use Carp qw(croak);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use Test::More;
use KafkaGateway::Test qw(start_nginx check_valgrind_clean);

our @EXPORT = qw(sse_start_nginx sse_stop_nginx sse_reload sse_worker_pids
                 sse_produce sse_open sse_read sse_get sse_error_log
                 sse_partitions sse_port sse_unique_topic sse_request
                 sse_valgrind sse_close sse_open_at);

my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};
my $ngx;

sub sse_port {
    $ngx or croak "sse_port: nginx is not started";
    return $ngx->port;
}

sub sse_valgrind { $ENV{TEST_NGINX_USE_VALGRIND} }

sub import {
    if (!$brokers) {
        plan skip_all => 'TEST_NGINX_KAFKA_BROKERS is not set '
                         . '(run under tools/with-broker.sh)';
    }

    my $module = $ENV{TEST_NGINX_LOAD_MODULES};
    if (!$module || !-f $module) {
        plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the built '
                         . 'module';
    }

    __PACKAGE__->export_to_level(1, @_);
}

# a topic name no earlier run used: the dev broker lives for the whole suite
sub sse_unique_topic {
    my ($prefix) = @_;
    return sprintf('%s-%d-%d', $prefix, $$, int(time() * 1000) % 1000000);
}

# sse_start_nginx(LOCATIONS, http => EXTRA, listen => EXTRA, workers => N):
# the launcher's nginx (under valgrind when TEST_NGINX_USE_VALGRIND is
# set); returns its prefix
sub sse_start_nginx {
    my ($locations, %opt) = @_;

    $ngx = start_nginx(<<'_EOC_' . $locations,
        location = /produce {
            kafka_internal_topics on;
            kafka_produce $arg_topic;
            kafka_produce_key $arg_key;
            kafka_produce_partition $arg_partition;
        }

_EOC_
        http_config => "kafka_brokers $brokers;\n"
                       . "    kafka_consumer_property fetch.wait.max.ms 100;\n"
                       . "    kafka_producer_property linger.ms 0;\n"
                       . ($opt{http} || ''),
        listen => $opt{listen}, workers => $opt{workers}, valgrind => 1);

    return $ngx->prefix;
}

sub sse_worker_pids { $ngx ? $ngx->workers : () }

# SIGHUP; returns once the new workers run and the old ones shut down
sub sse_reload { $ngx->reload }

# a graceful stop; under valgrind, one more test: its logs are clean
sub sse_stop_nginx {
    return unless $ngx && $ngx->pid;
    $ngx->stop;
    check_valgrind_clean($ngx) if sse_valgrind();
}

sub sse_error_log { $ngx ? $ngx->error_log : '' }

# a plain request; returns (status, headers, body)
sub sse_request {
    my ($method, $path, $body, %headers) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . sse_port())
        or die "connect: $!";

    $body //= '';
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "Content-Length: " . length($body) . "\r\n" if length $body;
    $req .= "$_: $headers{$_}\r\n" for keys %headers;
    print $s "$req\r\n$body";

    local $/;
    my $resp = <$s> // '';
    close $s;

    my ($head, $rbody) = split /\r\n\r\n/, $resp, 2;
    my ($status) = $head =~ m{^HTTP/\S+ (\d+)};
    return ($status, $head, $rbody // '');
}

sub sse_produce {
    my ($topic, $partition, $key, $value) = @_;

    my $path = "/produce?topic=$topic";
    $path .= "&partition=$partition" if defined $partition;
    $path .= "&key=$key" if defined $key;

    my ($status, undef, $body) = sse_request('POST', $path, $value,
                                     'Content-Type' => 'application/octet-stream');
    die "produce to $topic failed: $status $body" unless $status == 200;
    return $body =~ /"offset":(\d+)/ ? $1 : undef;
}

# An open stream: sse_open(PATH, HEADERS...) -> handle; sse_read(handle,
# SECONDS, until => sub { ... }) reads and parses what arrived.
sub sse_open {
    my ($path, %headers) = @_;
    return sse_open_at(sse_port(), $path, %headers);
}

# the same against another port (e.g. a second nginx)
sub sse_open_at {
    my ($at, $path, %headers) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$at")
        or die "connect: $!";
    binmode $s;

    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Accept: text/event-stream\r\n";
    $req .= "$_: $headers{$_}\r\n" for keys %headers;
    print $s "$req\r\n";

    return { sock => $s, raw => '', body => '', events => [],
             comments => [], last_id => undef, ended => 0 };
}

sub sse_read {
    my ($h, $secs, %opt) = @_;

    my $sel = IO::Select->new($h->{sock});
    my $deadline = time() + $secs;

    while (!$h->{ended} && time() < $deadline) {
        last if $opt{until} && $opt{until}->($h);

        next unless $sel->can_read(0.05);

        my $n = sysread($h->{sock}, my $buf, 65536);
        if (!$n) {
            $h->{ended} = 1;
            last;
        }

        $h->{raw} .= $buf;
        _parse($h);
    }

    return $h;
}

sub sse_close {
    my ($h) = @_;
    close $h->{sock};
}

# GET that reads for a while: returns the handle with status/headers/events
sub sse_get {
    my ($path, $secs, %opt) = @_;
    my $h = sse_open($path, %{ $opt{headers} || {} });
    sse_read($h, $secs, %opt);
    close $h->{sock};
    return $h;
}

sub _parse {
    my ($h) = @_;

    if (!defined $h->{head}) {
        my $i = index($h->{raw}, "\r\n\r\n");
        return if $i < 0;
        $h->{head} = substr($h->{raw}, 0, $i);
        $h->{rest} = substr($h->{raw}, $i + 4);
        ($h->{status}) = $h->{head} =~ m{^HTTP/\S+ (\d+)};
        $h->{chunked} = $h->{head} =~ /^Transfer-Encoding: chunked/mi;
    } else {
        $h->{rest} .= substr($h->{raw}, $h->{seen});
    }

    $h->{seen} = length $h->{raw};

    if ($h->{chunked}) {
        while ($h->{rest} =~ /^([0-9a-fA-F]+)\r\n/) {
            my $len = hex $1;
            my $hl = length($1) + 2;
            last if length($h->{rest}) < $hl + $len + 2;
            if ($len == 0) {
                $h->{complete} = 1;
                $h->{rest} = '';
                last;
            }
            $h->{body} .= substr($h->{rest}, $hl, $len);
            substr($h->{rest}, 0, $hl + $len + 2) = '';
        }
    } else {
        $h->{body} .= $h->{rest};
        $h->{rest} = '';
    }

    # complete blocks only, parsed as the EventSource algorithm does
    while ($h->{body} =~ /\n\n/) {
        my $i = index($h->{body}, "\n\n");
        my $block = substr($h->{body}, 0, $i);
        substr($h->{body}, 0, $i + 2) = '';

        my (%ev, @data);
        for my $line (split /\n/, $block, -1) {
            if ($line =~ /^:\s?(.*)$/) {
                push @{ $h->{comments} }, $1;
                next;
            }
            my ($f, $v) = $line =~ /^([^:]*):?\s?(.*)$/;
            if ($f eq 'data') { push @data, $v }
            elsif ($f eq 'id') { $ev{id} = $v; $h->{last_id} = $v }
            elsif ($f eq 'event') { $ev{event} = $v }
            elsif ($f eq 'retry') { $h->{retry} = $v }
        }

        next unless @data;
        $ev{data} = join "\n", @data;
        $ev{raw} = $block;
        push @{ $h->{events} }, \%ev;
    }
}

# the number of partitions of a topic, from a stream's first id
sub sse_partitions {
    my ($path) = @_;
    my $h = sse_get($path, 5, until => sub { defined $_[0]{last_id} });
    my @p = split /,/, $h->{last_id} // '';
    return scalar @p;
}

1;
