package KafkaGateway::Test;

# Helpers for scenario tests (plain Test::More files) and for block-file
# extensions: a private dev broker, what landed in Kafka (kafka-dev-dump),
# the one launcher every scripted file starts, reloads and stops nginx
# with, a small HTTP client.  Independent of the block runner (t/compat or
# the CPAN Test::Nginx).  POD at the end.

use strict;
use warnings;

use base 'Exporter';

use Carp qw(croak);
use Config ();
use Cwd ();
use File::Path qw(make_path);
use File::Spec ();
use File::Temp qw(tempdir);
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 ();
use POSIX qw(:sys_wait_h);
use Test::More ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';

our @EXPORT_OK = qw(
    start_broker shared_broker dump_topic start_nginx
    check_error_log_clean check_valgrind_clean http_request wait_until
    free_port decode_b64 produce
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# Daemonized nginx masters are re-parented to us and reaped here (Linux
# PR_SET_CHILD_SUBREAPER), not left as zombies where init does not reap.
{
    my %prctl = (x86_64 => 157, aarch64 => 167);
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)/;
    if ($^O eq 'linux' && $arch && $prctl{$arch}) {
        syscall($prctl{$arch}, 36, 1, 0, 0, 0);
    }
}

# Everything started here, stopped at the latest by END.
my @Started;
my $MainPid = $$;

END {
    if ($$ == $MainPid) {
        local $?;
        $_->stop for grep { defined } reverse @Started;
    }
}


# Small utilities.

sub wait_until (&;$$) {
    my ($cond, $timeout, $interval) = @_;
    $timeout = 10 unless defined $timeout;
    $interval ||= 0.05;
    my $deadline = time + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep $interval;
    }
}

sub free_port () {
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => 0, Proto => 'tcp',
                                     Listen => 1, ReuseAddr => 1)
        or croak "free_port: cannot bind 127.0.0.1:0: $!";
    my $port = $sock->sockport;
    close $sock;
    return $port;
}

sub decode_b64 ($) {
    my $s = shift;
    return undef unless defined $s;
    return MIME::Base64::decode_base64($s);
}

sub slurp ($) {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    my $data = <$in>;
    return defined $data ? $data : '';
}

sub alive ($) {
    my $pid = shift;
    return 0 unless $pid;
    return 0 if waitpid($pid, WNOHANG) == $pid;
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $stat = <$st>;
        return 0 if defined $stat && $stat =~ /\)\s+Z\s/;
    }
    return 1;
}

# Runs a command with a time limit; returns (exit status, stdout, stderr).
sub run_cmd {
    my ($cmd, %opt) = @_;
    my $timeout = $opt{timeout} || 20;
    my $dir = tempdir('kgw-cmd-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', defined $opt{stdin_file} ? $opt{stdin_file}
                                                  : '/dev/null';
        open STDOUT, '>', "$dir/out";
        open STDERR, '>', "$dir/err";
        exec @$cmd or POSIX::_exit(127);
    }
    my $status;
    my $deadline = time + $timeout;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $status = $?;
            last;
        }
        if (time >= $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.02;
    }
    return ($status, slurp("$dir/out"), slurp("$dir/err"));
}


# The dev broker.

sub start_broker {
    my (%opts) = @_;
    my $bin = $opts{binary} || $ENV{KAFKA_DEV_BROKER}
              || 'build/kafka-dev-broker';
    croak "start_broker: $bin is not executable (make tools?)"
        unless -x $bin;

    my $dir = tempdir('kafka-dev-broker-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $info = "$dir/broker.info";
    my @cmd = ($bin, '-n', $opts{brokers} || 3, '-f', $info, '-c', 0, '-q',
               @{ $opts{args} || [] });

    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/broker.out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }

    my $self = bless { pid => $pid, dir => $dir, cmd => \@cmd },
                     'KafkaGateway::Test::Broker';
    push @Started, $self;

    my $ready = wait_until {
        return 'dead' unless alive($pid);
        slurp($info) =~ /^ready$/m ? 'ready' : 0;
    } $opts{timeout} || 15;

    if (!$ready || $ready ne 'ready') {
        my $out = slurp("$dir/broker.out");
        $self->stop;
        croak "start_broker: @cmd did not become ready"
              . ($out =~ /\S/ ? ":\n$out" : '');
    }

    my $text = slurp($info);
    ($self->{bootstrap}) = $text =~ /^bootstrap=(\S+)$/m;
    ($self->{control_addr}) = $text =~ /^control=(\S+)$/m;
    croak "start_broker: no bootstrap= in $info:\n$text"
        unless $self->{bootstrap};

    for my $t (@{ $opts{topics} || [] }) {
        my ($name, $parts) = ref $t ? @$t : split /:/, $t;
        $self->control("topic $name " . ($parts || 4));
    }

    return $self;
}

sub shared_broker () {
    my $bootstrap = $ENV{TEST_NGINX_KAFKA_BROKERS};
    return undef unless defined $bootstrap && length $bootstrap;
    return bless { bootstrap => $bootstrap,
                   control_addr => $ENV{TEST_NGINX_KAFKA_CONTROL},
                   shared => 1 }, 'KafkaGateway::Test::Broker';
}


# What landed in Kafka.

sub dump_topic {
    my ($bootstrap, $topic, %opts) = @_;
    my $bin = $opts{binary} || $ENV{KAFKA_DEV_DUMP} || 'build/kafka-dev-dump';
    croak "dump_topic: no bootstrap list" unless $bootstrap;
    my ($status, $out, $err) = run_cmd([$bin, '-b', $bootstrap, '-t', $topic,
                                        @{ $opts{args} || [] }],
                                       timeout => $opts{timeout} || 20);
    croak "dump_topic: $bin -b $bootstrap -t $topic failed (status "
          . "$status): $err" if $status != 0;

    my $json = JSON::PP->new->utf8;
    my $bytes = JSON::PP->new;     # a line that is not UTF-8: byte strings
    my @records;
    for my $line (split /\n/, $out) {
        next unless $line =~ /\S/;
        my $rec = eval { $json->decode($line) }
                  || eval { $bytes->decode($line) };
        croak "dump_topic: bad JSON line from $bin: $line ($@)" unless $rec;
        push @records, $rec;
    }
    return \@records;
}

# A private nginx.

sub produce {
    my ($bootstrap, $topic, %rec) = @_;
    my $kcat = $rec{kcat} || 'kcat';
    my @cmd = ($kcat, '-P', '-b', $bootstrap, '-t', $topic);
    push @cmd, '-p', $rec{partition} if defined $rec{partition};

    my $h = $rec{headers} || [];
    my @pairs = ref $h eq 'HASH' ? map { ($_ => $h->{$_}) } sort keys %$h
                                 : @$h;
    while (my ($name, $value) = splice @pairs, 0, 2) {
        push @cmd, '-H', defined $value ? "$name=$value" : $name;
    }

    my $dir = tempdir('kgw-produce-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $stdin;
    if (defined $rec{value} && length $rec{value}) {
        # a file is sent as one message, any bytes and newlines included
        open my $fh, '>', "$dir/value" or croak "produce: $dir/value: $!";
        binmode $fh;
        print $fh $rec{value};
        close $fh;
        push @cmd, '-k', $rec{key} if defined $rec{key};
        push @cmd, @{ $rec{args} || [] }, "$dir/value";
    } else {
        # kcat skips empty files and lines: send "KEY<delim>" on stdin
        # with -K (and -Z for a null value, which also makes an empty key
        # null)
        my $key = defined $rec{key} ? $rec{key} : '';
        croak "produce: a key with a newline needs a non-empty value"
            if $key =~ /\n/;
        my $delim = "\x{1}";
        open my $fh, '>', "$dir/stdin" or croak "produce: $dir/stdin: $!";
        binmode $fh;
        print $fh "$key$delim\n";
        close $fh;
        push @cmd, '-K', $delim;
        push @cmd, '-Z' unless defined $rec{value};
        push @cmd, @{ $rec{args} || [] };
        $stdin = "$dir/stdin";
    }

    my ($status, $out, $err) = run_cmd(\@cmd, timeout => $rec{timeout} || 20,
                                       stdin_file => $stdin);
    croak "produce: @cmd failed (status $status): $err" if $status != 0;
    return 1;
}


# A private nginx.

sub expand_vars ($$) {
    my ($text, $vars) = @_;
    return '' unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $v = exists $vars->{$1} ? $vars->{$1} : $ENV{$1};
        croak "start_nginx: \$$1 is used but not set" unless defined $v;
        $v;
    }ge;
    return $text;
}

sub start_nginx {
    my ($config, %opts) = @_;
    my $ngx = bless { opts => \%opts }, 'KafkaGateway::Test::Nginx';

    $ngx->{binary} = $opts{binary} || $ENV{TEST_NGINX_BINARY}
                     || ((grep { -x "$_/nginx" } split /:/, $ENV{PATH} || '')
                         ? 'nginx' : '/usr/sbin/nginx');
    $ngx->{port} = $opts{port} || $ENV{TEST_NGINX_SCENARIO_PORT}
                   || free_port();
    # under t/ as the block runner's t/servroot, so that tools/test-asan.sh
    # finds sanitizer output in the error logs; kept after a sanitizer run
    # (for that look) or when asked
    $ngx->{prefix} = $opts{prefix}
                     || tempdir('servroot-kgw-XXXXXX',
                                DIR => -d 't' ? 't' : File::Spec->tmpdir,
                                CLEANUP => !$ENV{KGW_KEEP_NGINX_PREFIX}
                                           && !$ENV{ASAN_OPTIONS});
    $ngx->{prefix} = Cwd::abs_path($ngx->{prefix});
    for my $d (qw(conf logs html)) {
        make_path("$ngx->{prefix}/$d");
    }

    # valgrind => 1 asks for memcheck when TEST_NGINX_USE_VALGRIND is set:
    # nginx then runs in the foreground as our child (daemon off, master
    # and workers traced), one valgrind log per process
    $ngx->{valgrind} = $opts{valgrind} && $ENV{TEST_NGINX_USE_VALGRIND};

    $ngx->write_config($config, %opts);
    push @Started, $ngx;

    my $child;
    if ($ngx->{valgrind}) {
        $child = fork;
        croak "fork: $!" unless defined $child;
        if ($child == 0) {
            open STDIN, '<', '/dev/null';
            open STDOUT, '>', "$ngx->{prefix}/logs/stdout.log";
            open STDERR, '>&', \*STDOUT;
            exec $ngx->valgrind_cmd, $ngx->cmd or POSIX::_exit(127);
        }
    } else {
        my ($status, undef, $err) = run_cmd([$ngx->cmd], timeout => 30);
        if ($status != 0) {
            my $log = $ngx->error_log;
            croak "start_nginx: nginx failed to start (status $status): $err"
                  . ($log =~ /\S/ ? "\nerror.log:\n$log" : '');
        }
    }

    my $pid = wait_until {
        return 'dead' if $child && !alive($child);
        my $p = $ngx->pid_from_file;
        $p && alive($p) ? $p : 0;
    } $opts{start_timeout} || ($ngx->{valgrind} ? 60 : 10);
    croak "start_nginx: nginx under valgrind exited:\n" . $ngx->error_log
        if $pid && $pid eq 'dead';
    croak "start_nginx: no live nginx master in $ngx->{prefix}/logs/nginx.pid"
        unless $pid;
    $ngx->{pid} = $pid;

    wait_until { $ngx->accepting } $ngx->{valgrind} ? 60 : 10
        or croak "start_nginx: nothing accepts on port $ngx->{port}";

    # the master listens and writes its pid file before its workers exist:
    # callers of workers() need them
    if ($ngx->master_process) {
        my $want = $opts{workers} || 1;
        wait_until { my @w = $ngx->workers; @w >= $want } $ngx->{valgrind} ? 60 : 10
            or croak "start_nginx: fewer than $want workers run";
    }

    return $ngx;
}

# One test: no memcheck error or definite leak in the valgrind logs of
# $ngx (call it after nginx stopped).  Passes when nginx did not run
# under valgrind.
sub check_valgrind_clean {
    my ($ngx) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad;
    for my $file (sort glob "$ngx->{prefix}/logs/valgrind.*.log") {
        my $text = slurp($file);
        push @bad, "$file:\n$text"
            if $text =~ /Invalid (?:read|write|free)|uninitialised
                        |Mismatched free|unaddressable|Process terminating
                        |definitely lost in [1-9]|ERROR SUMMARY: [1-9]/x;
    }
    my $ok = Test::More::ok(!@bad, 'valgrind: no memcheck error or '
                                   . 'definite leak'
                                   . ($ngx->{valgrind} ? '' : ' (not run)'));
    Test::More::diag(substr join("\n", @bad), 0, 8000) unless $ok;
    return $ok;
}

sub check_error_log_clean {
    my ($ngx, @whitelist) = @_;
    my $log = ref $ngx ? $ngx->error_log : slurp($ngx);
    my @bad = grep {
        my $line = $_;
        $line =~ /\[(?:alert|emerg|crit|error)\]|open socket #\d+ left
                 |worker process \d+ exited on signal/x
            && !grep { $line =~ $_ } @whitelist;
    } split /\n/, $log;

    my $where = ref $ngx ? "nginx on port $ngx->{port}" : $ngx;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::ok(!@bad, "error log of $where is clean");
    if (!$ok) {
        splice @bad, 20 if @bad > 20;
        Test::More::diag(join "\n", map { "  $_" } @bad);
    }
    return $ok;
}


# A small HTTP/1.1 client, one request per connection.

sub http_request {
    my (%args) = @_;
    my $method = $args{method} || 'GET';
    my $path = defined $args{path} ? $args{path} : '/';
    my $host = $args{host} || '127.0.0.1';
    my $port = $args{port}
               || ($args{nginx} && $args{nginx}->port)
               || $ENV{TEST_NGINX_SCENARIO_PORT}
               or croak "http_request: no port";
    my $timeout = $args{timeout} || 10;
    my $body = $args{body};

    my @headers;
    my $h = $args{headers} || [];
    @headers = ref $h eq 'HASH' ? map { ($_ => $h->{$_}) } sort keys %$h
                                : @$h;
    my %given = map { (lc($_) => 1) }
                @headers[grep { !($_ % 2) } 0 .. $#headers];

    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: localhost\r\n" unless $given{host};
    $req .= "Connection: close\r\n" unless $given{connection};
    if (defined $body && !$given{'content-length'}
        && !$given{'transfer-encoding'})
    {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }
    while (my ($k, $v) = splice @headers, 0, 2) {
        $req .= "$k: $v\r\n";
    }
    $req .= "\r\n";
    $req .= $body if defined $body;

    my $fail = sub {
        my $why = shift;
        my $res = { status => 599, reason => 'Internal Exception',
                    headers => {}, body => $why, error => $why };
        return wantarray ? (599, {}, $why) : $res;
    };

    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout)
        or return $fail->("connect to $host:$port: $!");
    $sock->autoflush(1);
    local $SIG{PIPE} = 'IGNORE';

    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $req) {
        $sel->can_write($timeout) or return $fail->("write timed out");
        my $n = syswrite $sock, $req, length($req) - $off, $off;
        last unless defined $n;         # the server may answer early
        $off += $n;
    }

    my $raw = '';
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return $fail->("read timed out after $timeout s") if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $sock, my $chunk, 65536;
        last if !$n;
        $raw .= $chunk;
        last if $args{method} && $args{method} eq 'HEAD'
                && $raw =~ /\r\n\r\n/;
    }
    close $sock;

    my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, defined $head ? $head : '';
    my ($status, $reason) = ($status_line || '') =~ m{^HTTP/\d\.\d (\d+) ?(.*)}
        or return $fail->("bad response: " . substr($raw, 0, 200));

    my %headers;
    for my $line (@lines) {
        my ($k, $v) = split /:\s*/, $line, 2;
        $k = lc $k;
        $headers{$k} = exists $headers{$k} ? "$headers{$k}, $v" : $v;
    }

    $rest = '' unless defined $rest;
    if ($method eq 'HEAD' || $status == 204 || $status == 304) {
        $rest = '';
    } elsif (($headers{'transfer-encoding'} || '') =~ /chunked/i) {
        my $out = '';
        while ($rest =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $size = hex $1;
            last if $size == 0;
            $out .= substr $rest, 0, $size, '';
            $rest =~ s/^\r\n//;
        }
        $rest = $out;
    } elsif (defined $headers{'content-length'}) {
        $rest = substr $rest, 0, $headers{'content-length'};
    }

    return ($status, \%headers, $rest) if wantarray;
    return { status => $status, reason => $reason, headers => \%headers,
             body => $rest };
}


package KafkaGateway::Test::Broker;

use Carp qw(croak);
use IO::Socket::INET ();
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

sub bootstrap    { $_[0]{bootstrap} }
sub control_addr { $_[0]{control_addr} }
sub pid          { $_[0]{pid} }

sub control {
    my ($self, $cmd) = @_;
    my $addr = $self->{control_addr}
        or croak "broker control: no control address"
                 . ($self->{shared} ? " (TEST_NGINX_KAFKA_CONTROL unset)"
                                    : '');
    my $sock = IO::Socket::INET->new(PeerAddr => $addr, Proto => 'tcp',
                                     Timeout => 10)
        or croak "broker control: connect to $addr: $!";
    $sock->autoflush(1);
    print $sock "$cmd\n";

    my $reply = '';
    my $sel = IO::Select->new($sock);
    my $deadline = time + 10;
    while ($reply !~ /\n/) {
        my $left = $deadline - time;
        croak "broker control: no reply to '$cmd'"
            if $left <= 0 || !$sel->can_read($left);
        my $n = sysread $sock, my $chunk, 4096;
        last unless $n;
        $reply .= $chunk;
    }
    close $sock;

    ($reply) = split /\r?\n/, $reply;
    $reply = '' unless defined $reply;
    croak "broker control: '$cmd': $reply" if $reply !~ /^ok\b/;
    return $reply;
}

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    if (KafkaGateway::Test::alive($pid) && $self->{control_addr}) {
        eval { $self->control('quit') };
    }
    for my $sig (undef, 'TERM', 'KILL') {
        kill $sig, $pid if defined $sig;
        last if KafkaGateway::Test::wait_until(
            sub { !KafkaGateway::Test::alive($pid) }, 3);
    }
    waitpid($pid, WNOHANG);
}

sub DESTROY { $_[0]->stop if $_[0]{pid} }


package KafkaGateway::Test::Nginx;

use Carp qw(croak);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

sub port   { $_[0]{port} }
sub master_process {
    my $m = $_[0]{opts}{master_process};
    return !defined $m || $m;
}
sub prefix { $_[0]{prefix} }
sub pid    { $_[0]{pid} }

sub cmd {
    my $self = shift;
    return ($self->{binary}, '-p', "$self->{prefix}/", '-c', 'conf/nginx.conf',
            '-e', 'logs/error.log');
}

sub valgrind_cmd {
    my $self = shift;
    my @cmd = ('valgrind', '--tool=memcheck', '--leak-check=full',
               '--show-leak-kinds=definite',
               '--errors-for-leak-kinds=definite', '--trace-children=yes',
               '--num-callers=50', '--keep-debuginfo=yes',
               "--log-file=$self->{prefix}/logs/valgrind.%p.log");
    for my $supp ('t/compat/nginx-core.supp', 't/valgrind.suppress') {
        push @cmd, '--suppressions=' . Cwd::abs_path($supp) if -f $supp;
    }
    return @cmd;
}

sub pid_from_file {
    my $self = shift;
    my $pid = KafkaGateway::Test::slurp("$self->{prefix}/logs/nginx.pid");
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub error_log {
    my $self = shift;
    return KafkaGateway::Test::slurp("$self->{prefix}/logs/error.log");
}

sub accepting {
    my $self = shift;
    my $port = sprintf '%04X', $self->{port};
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            my @f = split ' ';
            return 1 if @f > 3 && $f[1] =~ /:$port$/ && $f[3] eq '0A';
        }
    }
    return 0;
}

sub write_config {
    my ($self, $config, %opts) = @_;
    my $prefix = $self->{prefix};
    my $vars = { TEST_NGINX_SERVER_PORT => $self->{port},
                 TEST_NGINX_SCENARIO_PORT => $self->{port},
                 TEST_NGINX_SERVER_ROOT => $prefix };

    my $modules = join '', map { "load_module $_;\n" }
                  grep { length } split /\s+/,
                  defined $opts{load_modules} ? $opts{load_modules}
                  : $ENV{TEST_NGINX_LOAD_MODULES} || '';
    my $env = join '', map { "env $_;\n" } @{ $opts{env} || [] };
    my $user = $> == 0 ? "user root;\n" : '';
    my $daemon = $self->{valgrind} ? 'off' : 'on';
    my $workers = $opts{workers} || 1;
    my $level = $opts{log_level} || 'info';
    my $master = defined $opts{master_process} && !$opts{master_process}
                 ? 'off' : 'on';
    my $listen = $opts{listen} ? " $opts{listen}" : '';
    my $main = KafkaGateway::Test::expand_vars($opts{main_config}, $vars);
    my $http = KafkaGateway::Test::expand_vars($opts{http_config}, $vars);
    my $server = KafkaGateway::Test::expand_vars($config, $vars);

    open my $out, '>', "$prefix/conf/nginx.conf"
        or croak "start_nginx: $prefix/conf/nginx.conf: $!";
    print $out <<_EOC_;
worker_processes  $workers;
daemon $daemon;
master_process $master;
error_log $prefix/logs/error.log $level;
pid       $prefix/logs/nginx.pid;
$modules$env$user
$main

http {
    access_log $prefix/logs/access.log;

    default_type text/plain;
    keepalive_timeout  68;

    client_body_temp_path $prefix/client_body_temp;
    proxy_temp_path       $prefix/proxy_temp;
    fastcgi_temp_path     $prefix/fastcgi_temp;
    uwsgi_temp_path       $prefix/uwsgi_temp;
    scgi_temp_path        $prefix/scgi_temp;

$http

    server {
        listen          127.0.0.1:$self->{port}$listen;
        server_name     localhost;

        client_max_body_size 30M;

$server
    }
}

events {
    worker_connections  1024;
}
_EOC_
    close $out;
}

# Workers of the master, from /proc.
sub workers {
    my $self = shift;
    my $ppid = $self->{pid} or return ();
    my @kids;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep /^\d+$/, readdir $dh) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $stat = <$st>;
        push @kids, $pid
            if defined $stat && $stat =~ /\)\s+[^Z]\S*\s+(\d+)/ && $1 == $ppid;
    }
    return sort { $a <=> $b } @kids;
}

# SIGHUP, optionally with a new configuration (same arguments as
# start_nginx), and waits until the master runs as many new workers as
# configured and every old worker is gone or shutting down (no longer
# accepting; it may still be finishing its requests).
sub reload {
    my ($self, @new) = @_;
    my $pid = $self->{pid} or croak "reload: nginx is not running";
    if (@new) {
        my ($config, %opts) = @new;
        %{ $self->{opts} } = (%{ $self->{opts} }, %opts);
        $self->write_config($config, %{ $self->{opts} });
    }
    my %old = map { ($_ => 1) } $self->workers;
    my $want = $self->{opts}{workers} || 1;
    my $log_size = length $self->error_log;
    kill 'HUP', $pid;
    my $ok = KafkaGateway::Test::wait_until(sub {
        # a configuration the master rejects: it keeps the old workers
        return 'rejected'
            if substr($self->error_log, $log_size) =~ /\[emerg\]/;
        my @now = $self->workers;
        return 0 if (grep { !$old{$_} } @now) < $want;
        for my $w (grep { $old{$_} } @now) {
            open my $in, '<', "/proc/$w/cmdline" or next;
            my $cmd = do { local $/; <$in> } // '';
            return 0 if $cmd !~ /shutting down/;
        }
        return 1;
    }, 10);
    if (!$ok || $ok eq 'rejected') {
        my $log = substr $self->error_log, $log_size;
        croak "reload: " . ($ok ? "the configuration was rejected"
                                : "no new workers within 10 s") . ":\n"
              . join("\n", grep { /\[(?:emerg|alert|crit)\]/ }
                           split /\n/, $log);
    }
    return 1;
}

# SIGQUIT; returns the seconds nginx took to exit, or undef if it was
# still running after timeout seconds (default 10; it is then killed).
sub quit {
    my ($self, %opts) = @_;
    my $pid = $self->{pid} or return 0;
    my $timeout = defined $opts{timeout} ? $opts{timeout} : 10;
    my @workers = $self->workers;
    my $start = time;
    kill 'QUIT', $pid;
    my $gone = KafkaGateway::Test::wait_until(
        sub { !KafkaGateway::Test::alive($pid) }, $timeout, 0.01);
    my $elapsed = time - $start;
    if (!$gone) {
        $self->kill_all(@workers);
        return undef;
    }
    delete $self->{pid};
    waitpid($_, WNOHANG) for $pid, @workers;
    return $elapsed;
}

sub kill_all {
    my ($self, @workers) = @_;
    my $pid = delete $self->{pid} or return;
    push @workers, $self->workers_of($pid);
    kill 'TERM', $pid;
    if (!KafkaGateway::Test::wait_until(
             sub { !KafkaGateway::Test::alive($pid) }, 3))
    {
        kill 'KILL', $pid, @workers;
    }
    for my $w (@workers) {
        kill 'KILL', $w if KafkaGateway::Test::alive($w);
    }
    waitpid($_, WNOHANG) for $pid, @workers;
}

sub workers_of {
    my ($self, $pid) = @_;
    local $self->{pid} = $pid;
    return $self->workers;
}

# Graceful stop: quit, escalating after 10 s (60 s under valgrind).
# Returns quit's result.
sub stop {
    my $self = shift;
    return 0 unless $self->{pid};
    return $self->quit(timeout => $self->{valgrind} ? 60 : 10);
}

sub DESTROY { $_[0]->stop if $_[0]{pid} }

1;
__END__

=head1 NAME

KafkaGateway::Test - helpers for the gateway's scenario tests

=head1 SYNOPSIS

    use Test::More;
    use KafkaGateway::Test qw(:all);

    my $broker = start_broker(brokers => 3, topics => ['orders:2']);
    my $ngx = start_nginx(<<'_EOC_', http_config =>
                          'kafka_brokers $TEST_NGINX_KAFKA_BROKERS;');
        location /t { kafka_produce orders; }
    _EOC_
    ...
    my ($status, $headers, $body) = http_request(nginx => $ngx,
        method => 'POST', path => '/t', body => 'hello');
    $broker->control('down all');
    my $records = dump_topic($broker->bootstrap, 'orders');
    is(scalar @$records, 1, 'one record');
    ok(defined $ngx->quit(timeout => 5), 'quits within 5 s');
    check_error_log_clean($ngx, qr/broker is down/);
    done_testing;

=head1 DESCRIPTION

For tests the block format cannot express: a consumer reading what was
produced, a broker going down mid-test, reload with requests in flight.
Nothing here depends on the block runner, so these files run the same
whether prove uses t/compat or the CPAN Test::Nginx.  Nothing is
exported by default; C<:all> exports everything.  Whatever is started is
stopped at the latest when the test process ends.

=head2 start_broker(%opts)

Starts a private dev broker: C<$ENV{KAFKA_DEV_BROKER}> (default
F<build/kafka-dev-broker>, relative to the top of the tree, where prove
runs) with C<-n BROKERS -f DIR/broker.info -c 0 -q>, waits (C<timeout>,
default 15 s) for the info file's C<ready> line and reads its
C<bootstrap=> and C<control=> lines.  Options: C<brokers> (default 3),
C<topics> (C<'name'>, C<'name:partitions'> or C<[name, partitions]>;
created with the C<topic> control command, 4 partitions by default),
C<args> (more command-line arguments), C<binary>.  Dies if the broker does
not start, with its output.

Returns an object: C<bootstrap>, C<control_addr>, C<pid>,
C<control($line)> (one line on a fresh connection to the control port;
returns the reply line, C<ok ...>; dies on C<error ...> or no reply), and
C<stop> (C<quit>, then SIGTERM/SIGKILL).  Control commands: C<ping>,
C<down ID|all>, C<up ID|all>, C<rtt ID|all MS>, C<errors APIKEY COUNT
ERRNAME>, C<topic NAME PARTS>, C<quit>.

=head2 shared_broker()

The broker that C<tools/with-broker.sh> started for the whole run:
C<$TEST_NGINX_KAFKA_BROKERS> and, optionally, C<$TEST_NGINX_KAFKA_CONTROL>.
Returns undef when C<TEST_NGINX_KAFKA_BROKERS> is unset (so a test can
C<plan skip_all>).  C<control> dies when there is no control address;
C<stop> does nothing.

=head2 dump_topic($bootstrap, $topic, %opts)

Runs C<$ENV{KAFKA_DEV_DUMP}> (default F<build/kafka-dev-dump>)
C<-b BOOTSTRAP -t TOPIC> and returns an array ref of the records, one hash
per JSON line: C<partition>, C<offset>, C<timestamp>, C<key> and C<value>
(text or undef), C<key_b64> and C<value_b64> (the bytes, base64; undef
for null), C<headers> (C<[[name, text-or-undef, base64], ...]>).
C<decode_b64> turns the C<_b64> fields into bytes.  Options: C<timeout>
(default 20 s), C<args>, C<binary>.  Dies if the tool fails.

=head2 start_nginx($config, %opts)

Writes a full nginx.conf (the block runner's skeleton: C<load_module>
lines from C<$TEST_NGINX_LOAD_MODULES>, C<master_process on>, temp paths
under the prefix, C<$config> inside C<server { listen 127.0.0.1:PORT; }>,
C<events> last) in a private prefix (F<t/servroot-kgw-XXXXXX>, removed
when the test ends), starts C<$TEST_NGINX_BINARY> (default nginx in PATH,
else F</usr/sbin/nginx>) with C<-p PREFIX/ -c conf/nginx.conf -e
logs/error.log>, and waits for its pid file, its listening socket and its
workers.  This is the one way the scripted files start nginx
(KafkaGateway::SSE's C<sse_start_nginx> calls it).  The port is C<port>, else
C<$TEST_NGINX_SCENARIO_PORT>, else a free port.  C<$TEST_NGINX_*> in the
configuration texts is replaced from the environment, and
C<$TEST_NGINX_SERVER_PORT> / C<$TEST_NGINX_SCENARIO_PORT> by this nginx's
port.  Options: C<http_config>, C<main_config>, C<listen> (parameters
after the C<listen> address, e.g. C<sndbuf=8k>), C<workers> (1),
C<log_level> (C<info>), C<master_process> (1), C<env> (names for C<env>
lines), C<load_modules> (instead of the environment variable), C<binary>,
C<port>, C<prefix>, C<valgrind> (when C<TEST_NGINX_USE_VALGRIND> is set:
nginx runs in the foreground, master and workers under valgrind memcheck
with the suppression files of F<t/>, one log per process in F<logs/>;
C<check_valgrind_clean> reads them).  KGW_KEEP_NGINX_PREFIX=1 keeps the
prefix for a look after the test; so does a sanitizer run
(C<ASAN_OPTIONS> set), for F<tools/test-asan.sh>.  Dies, with the error log, if nginx does not start.

The object: C<port>, C<prefix>, C<pid>, C<workers> (pids), C<error_log>
(contents), C<reload> (SIGHUP, optionally with new C<($config, %opts)>;
waits until the new workers started), C<quit(timeout =E<gt> S)> (SIGQUIT;
returns the seconds it took, or undef if nginx was still running after S
seconds, default 10 - it is then killed), C<stop> (the same with 10 s).

=head2 check_error_log_clean($ngx, @whitelist)

One test: no C<[alert]>, C<[emerg]>, C<[crit]> or C<[error]> line, C<open
socket #N left> or C<worker process N exited on signal> line in the error
log of C<$ngx> (an object, or a file name) except lines matching one of
the C<@whitelist> regexes.  The lines are shown on failure.

=head2 check_valgrind_clean($ngx)

One test, after nginx stopped: no invalid access, uninitialised value or
definite leak in the valgrind logs of C<$ngx> (started with C<valgrind
=E<gt> 1>).  Passes, saying so, when nginx did not run under valgrind.

=head2 http_request(%args)

One HTTP/1.1 request on a fresh connection (C<Connection: close>):
C<method> (GET), C<path> (/), C<headers> (hash ref or array ref of pairs),
C<body> (sent with a Content-Length), C<port> (or C<nginx =E<gt> $ngx>),
C<host> (127.0.0.1), C<timeout> (10 s for the whole exchange).  In list
context returns C<($status, \%headers, $body)>, headers with lower-case
names (repeated ones joined with ", "), chunked bodies decoded; in scalar
context a hash ref with C<status>, C<reason>, C<headers>, C<body>.  A
connection failure or timeout gives status 599 and the reason as the
body.

=head2 wait_until { ... } $timeout, $interval

Calls the block until it returns true (returned) or C<$timeout> seconds
(default 10) have passed (undef).  C<free_port> returns a free port on
127.0.0.1.

=cut
