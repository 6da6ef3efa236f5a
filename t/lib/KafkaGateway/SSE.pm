package KafkaGateway::SSE;

# Scenario helpers for the kafka_consume_sse tests: an nginx of its own
# (TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES, TEST_NGINX_PORT) against the
# broker in TEST_NGINX_KAFKA_BROKERS, records produced through the
# gateway's own kafka_produce (exact bytes, any partition), and an SSE
# client that parses what a browser would see.

use strict;
use warnings;

use Exporter ();
our @ISA = ('Exporter');
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use Test::More;

our @EXPORT = qw(sse_start_nginx sse_stop_nginx sse_reload sse_worker_pids
                 sse_produce sse_open sse_read sse_get sse_error_log
                 sse_partitions sse_port sse_unique_topic sse_request
                 sse_valgrind sse_close sse_open_at);

my $port = $ENV{TEST_NGINX_PORT} || 2984;
my $binary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{TEST_NGINX_LOAD_MODULES};
my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};
my $servroot;

sub sse_port { $port }

sub sse_valgrind { $ENV{TEST_NGINX_USE_VALGRIND} }

sub import {
    if (!$brokers) {
        plan skip_all => 'TEST_NGINX_KAFKA_BROKERS is not set '
                         . '(run under tools/with-broker.sh)';
    }

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

# sse_start_nginx(LOCATIONS, http => EXTRA, listen => EXTRA)
sub sse_start_nginx {
    my ($locations, %opt) = @_;

    $servroot = ($ENV{TEST_NGINX_SERVROOT} || 't/servroot') . "-sse-$$";
    remove_tree($servroot);
    make_path("$servroot/conf", "$servroot/logs", "$servroot/html");
    $servroot = abs_path($servroot);

    my $http = $opt{http} || '';
    my $listen = $opt{listen} || '';
    my $workers = $opt{workers} || 1;
    my $valgrind = sse_valgrind() ? "master_process off;\ndaemon off;" : '';

    open my $fh, '>', "$servroot/conf/nginx.conf" or die $!;
    print $fh <<"CONF";
load_module $module;
worker_processes $workers;
$valgrind
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log logs/access.log;
    client_body_temp_path $servroot/body;
    proxy_temp_path $servroot/proxy;
    fastcgi_temp_path $servroot/fastcgi;
    uwsgi_temp_path $servroot/uwsgi;
    scgi_temp_path $servroot/scgi;
    client_max_body_size 4m;

    kafka_brokers $brokers;
    kafka_consumer_property fetch.wait.max.ms 100;
    kafka_producer_property linger.ms 0;
    $http

    server {
        listen 127.0.0.1:$port $listen;
        root $servroot/html;

        location = /produce {
            kafka_internal_topics on;
            kafka_produce \$arg_topic;
            kafka_produce_key \$arg_key;
            kafka_produce_partition \$arg_partition;
        }

$locations
    }
}
CONF
    close $fh;

    if (sse_valgrind()) {
        my $pid = fork();
        if ($pid == 0) {
            open STDOUT, '>', "$servroot/logs/stdout";
            open STDERR, '>&', \*STDOUT;
            my ($supp) = grep { -f } map { "$_/KafkaGateway/sse.supp" } @INC;
            exec 'valgrind', '--leak-check=full', '--show-leak-kinds=definite',
                 '--keep-debuginfo=yes', "--suppressions=$supp",
                 "--log-file=$servroot/logs/valgrind.log", '--num-callers=30',
                 $binary, '-p', $servroot, '-c', 'conf/nginx.conf';
            exit 1;
        }
        $KafkaGateway::SSE::valgrind_pid = $pid;

    } else {
        system($binary, '-p', $servroot, '-c', 'conf/nginx.conf') == 0
            or BAIL_OUT("nginx did not start: " . sse_error_log());
    }

    for (1 .. (sse_valgrind() ? 300 : 100)) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        if ($s) {
            close $s;
            last;
        }
        sleep 0.1;
    }

    # the master listens (and writes its pid file) before its workers
    # exist: callers of sse_worker_pids() need them
    for (1 .. 100) {
        last if sse_valgrind() || sse_worker_pids() >= $workers;
        sleep 0.1;
    }

    return $servroot;
}

sub sse_master_pid {
    return $KafkaGateway::SSE::valgrind_pid if sse_valgrind();
    open my $fh, '<', "$servroot/logs/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

sub sse_worker_pids {
    my $master = sse_master_pid() or return ();
    return ($master) if sse_valgrind();
    my @pids = split /\s+/, `pgrep -P $master` // '';
    return grep { length } @pids;
}

sub sse_reload {
    my $master = sse_master_pid();
    kill 'HUP', $master;
}

# The error records of a valgrind log: invalid accesses, uninitialised
# values, definite leaks.  (An output piece freed while the chunked
# filter's busy chain still linked its buffer was found this way; see
# ngx_http_kafka_sse_release().)
sub sse_valgrind_errors {
    my ($log) = @_;
    return [ grep { /Invalid (?:read|write|free)|uninitialised/
                    || /are definitely lost in/ }
             split /^==\d+==[ \t]*\n/m, $log ];
}

sub sse_stop_nginx {
    my $master = sse_master_pid() or return;
    kill 'QUIT', $master;

    for (1 .. 300) {
        last unless kill 0, $master;
        if (sse_valgrind()) {
            waitpid($master, 1);
        }
        sleep 0.1;
    }

    if (sse_valgrind()) {
        my $log = do { local (@ARGV, $/) = "$servroot/logs/valgrind.log"; <> }
                  // '';
        my $errors = sse_valgrind_errors($log);
        ok(!@$errors && $log !~ /definitely lost: [1-9]/,
           'valgrind: no invalid accesses, nothing definitely lost')
            or diag(join "\n", @$errors);
    }
}

# a test that dies leaves no nginx behind to hold the port
END {
    local $?;
    if ($servroot) {
        my $master = sse_master_pid();
        if ($master && kill 0, $master) {
            kill 'QUIT', $master;
            for (1 .. (sse_valgrind() ? 300 : 50)) {
                waitpid($master, 1) if sse_valgrind();
                last unless kill 0, $master;
                sleep 0.1;
            }
        }
    }
}

sub sse_error_log {
    return '' unless $servroot;
    local (@ARGV, $/) = "$servroot/logs/error.log";
    return <> // '';
}

# a plain request; returns (status, headers, body)
sub sse_request {
    my ($method, $path, $body, %headers) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
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
    return sse_open_at($port, $path, %headers);
}

# the same against another nginx (e.g. one from KafkaGateway::Test)
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
