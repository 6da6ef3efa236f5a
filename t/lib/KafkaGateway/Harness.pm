package KafkaGateway::Harness;

# A small harness for the policy scenario tests (t/jwt-*.t, t/acl.t,
# t/policy-nginx.t, t/tls.t, t/cors.t): one nginx per test file, started
# with an "http" part and a "server" part like Test::Nginx's http_config
# and config sections, requests through curl (so HTTPS and HTTP/2 work),
# and what landed in Kafka read back with kcat.
#
# Environment, as "make test" exports it:
#   TEST_NGINX_KAFKA_BROKERS  the bootstrap list (the file is skipped
#                             without it)
#   TEST_NGINX_LOAD_MODULES   the module(s) to load
#   TEST_NGINX_BINARY         nginx (default: nginx in PATH)
#   TEST_NGINX_PORT           the first port (default 3984); a file may
#                             use PORT + 1 .. PORT + 5 as well
#   TEST_NGINX_USE_VALGRIND   run nginx under valgrind (one process,
#                             master_process off) and fail the file on any
#                             memcheck error or definite leak

use strict;
use warnings;

use Cwd qw(getcwd);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;

use Exporter 'import';
our @EXPORT_OK = qw(brokers_or_skip unique_topic kafka_dump);

my $topic_seq = 0;

sub brokers_or_skip {
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};

    plan skip_all => 'TEST_NGINX_KAFKA_BROKERS is not set (run "make test")'
        unless $brokers;

    return $brokers;
}

# a topic name of its own for each use, so reruns against one broker
# never see each other's records
sub unique_topic {
    my ($prefix) = @_;
    return sprintf '%s-%d-%d-%d', $prefix, $$, time, ++$topic_seq;
}

# kafka_dump(TOPIC): every record in TOPIC, as { key, headers, value }
# (headers as "name=value" joined by ","), in partition/offset order
sub kafka_dump {
    my ($topic) = @_;
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS};

    my @out = `kcat -C -b '$brokers' -t '$topic' -o beginning -e -q \\
               -f '%p\\t%o\\t%k\\t%h\\t%s\\n' 2>/dev/null`;
    my @records;

    for (@out) {
        chomp;
        my ($p, $o, $k, $h, $v) = split /\t/, $_, 5;
        next unless defined $v;
        push @records, { partition => $p, offset => $o, key => $k,
                         headers => $h, value => $v };
    }

    return [ sort { $a->{partition} <=> $b->{partition}
                    || $a->{offset} <=> $b->{offset} } @records ];
}

sub new {
    my ($class, %args) = @_;

    my $name = $args{name} or die "name required";
    my $port = $ENV{TEST_NGINX_PORT} || 3984;
    my $dir = getcwd() . "/t/servroot-$name";

    remove_tree($dir);
    make_path("$dir/conf", "$dir/logs", "$dir/html", "$dir/tmp");

    return bless { name => $name, dir => $dir, port => $port,
                   pid => undef }, $class;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} + ($_[1] // 0) }

sub valgrind { $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0 }

sub conf_text {
    my ($self, %args) = @_;

    my $dir = $self->{dir};
    my $port = $self->{port};
    my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS} // '127.0.0.1:9';
    my $modules = '';

    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
        $modules .= "load_module $m;\n";
    }

    my $http = $args{http} // '';
    my $server = $args{server} // '';
    my $servers = $args{servers} // '';
    my $main = $args{main} // '';

    my $process = $self->process_directives;

    return <<"CONF";
$modules
$process
worker_processes 1;
$main

events {
    worker_connections 256;
}

http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;

    kafka_brokers $brokers;

$http

    server {
        listen 127.0.0.1:$port;
        server_name localhost;

$server
    }

$servers
}
CONF
}

# what a configuration of one's own (start(file => ...)) must start with
sub process_directives {
    my ($self) = @_;
    my $dir = $self->{dir};
    my $master = $self->valgrind ? 'off' : 'on';

    return "daemon off;\nmaster_process $master;\n"
           . "error_log $dir/logs/error.log info;\npid $dir/logs/nginx.pid;\n";
}

sub nginx_bin { $ENV{TEST_NGINX_BINARY} || 'nginx' }

# test_config(%parts): runs "nginx -t"; returns (ok, output).  "-e stderr":
# the messages come back in the output, and never into logs/error.log (where
# an nginx built with the default error log path would write them, beside
# the running nginx's own lines), whatever path the binary has compiled in.
sub test_config {
    my ($self, %args) = @_;
    my $conf = $args{file} // $self->write_conf('test.conf', %args);
    my $bin = nginx_bin();
    my $out = `$bin -p $self->{dir}/ -c $conf -e stderr -t 2>&1`;

    return ($? == 0, $out);
}

sub write_conf {
    my ($self, $file, %args) = @_;
    my $path = "$self->{dir}/conf/$file";

    open my $fh, '>', $path or die "$path: $!";
    print $fh $self->conf_text(%args);
    close $fh;

    return $path;
}

sub start {
    my ($self, %args) = @_;

    my $conf = $args{file} // $self->write_conf('nginx.conf', %args);
    my $dir = $self->{dir};
    my @cmd = (nginx_bin(), '-p', "$dir/", '-c', $conf,
               '-e', "$dir/logs/error.log");

    if ($self->valgrind) {
        unshift @cmd, 'valgrind', '-q', '--tool=memcheck',
            '--leak-check=full', '--show-leak-kinds=definite',
            '--errors-for-leak-kinds=definite', '--num-callers=30',
            '--keep-debuginfo=yes',
            (-f 't/valgrind.suppress'
             ? ('--suppressions=' . getcwd() . '/t/valgrind.suppress') : ()),
            "--log-file=$dir/logs/valgrind.log";
    }

    # the checks see what this nginx writes, not what an earlier one did
    $self->{log_offset} = length $self->slurp('logs/error.log');

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$dir/logs/stdout.log";
        open STDERR, '>>', "$dir/logs/stderr.log";
        exec @cmd or die "exec: $!";
    }

    $self->{pid} = $pid;

    my $deadline = time + ($self->valgrind ? 60 : 10);

    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            die "nginx did not start:\n" . $self->slurp('logs/stderr.log')
                . $self->slurp('logs/error.log');
        }

        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{port},
                                      Proto => 'tcp');
        if ($s) {
            close $s;
            return $self;
        }

        sleep 0.05;
    }

    die "nginx did not listen on port $self->{port}";
}

sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return;

    kill 'QUIT', $pid;

    my $deadline = time + ($self->valgrind ? 120 : 20);

    while (time < $deadline) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
        fail("nginx did not exit on QUIT");
    }

    $self->{pid} = undef;

    if ($self->valgrind) {
        my $log = $self->slurp('logs/valgrind.log');
        is($log, '', 'valgrind: no memcheck errors or definite leaks')
            or diag($log);
    }
}

sub DESTROY {
    my ($self) = @_;

    if ($self->{pid}) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}

sub slurp {
    my ($self, $file) = @_;
    my $path = $file =~ m{^/} ? $file : "$self->{dir}/$file";

    open my $fh, '<:raw', $path or return '';
    local $/;
    return scalar <$fh>;
}

# the error log written since the last call
sub new_log {
    my ($self) = @_;
    my $log = $self->slurp('logs/error.log');
    my $new = substr($log, $self->{log_offset} // 0);

    $self->{log_offset} = length $log;

    return $new;
}

# has_read(SOCKET): true once nginx has read everything this client socket
# sent (nginx's end of the connection has nothing left in its receive
# queue, /proc/net/tcp); waits up to TIMEOUT seconds (default 10, 60 under
# valgrind).  nginx handles a connection's bytes in one go, so by then it
# has also run the phases they allowed (e.g. limit_conn counted it).
sub has_read {
    my ($self, $sock, $timeout) = @_;
    my $server = sprintf ':%04X', $sock->peerport;
    my $client = sprintf ':%04X', $sock->sockport;
    my $deadline = time + ($timeout // ($self->valgrind ? 60 : 10));

    while (1) {
        open my $in, '<', '/proc/net/tcp' or return 0;
        while (<$in>) {
            my @f = split ' ';
            next unless @f > 4 && $f[1] =~ /\Q$server\E$/
                        && $f[2] =~ /\Q$client\E$/;
            my (undef, $rx) = split /:/, $f[4];
            return 1 if hex($rx) == 0;
        }
        return 0 if time >= $deadline;
        sleep 0.01;
    }
}

# no [error], [alert], [crit], [emerg] in the log since the last check
# (optionally allowing lines that match ALLOW), and no worker crash
sub no_error_log {
    my ($self, $name, $allow) = @_;

    my @bad = grep { /\[(error|alert|crit|emerg)\]|exited on signal/
                     && !($allow && /$allow/) }
              split /\n/, $self->new_log;

    ok(!@bad, "$name: no [error] or [alert] in the error log")
        or diag(join "\n", @bad);
}

# request(%args): method, path, headers (array of "Name: value"), body,
# scheme (http|https), http2 (bool), port (offset from the first port);
# returns { status, headers => { lc name => value }, body, protocol }
sub request {
    my ($self, %args) = @_;

    my $dir = $self->{dir};
    my $scheme = $args{scheme} // 'http';
    my $port = $self->{port} + ($args{port} // 0);
    my $url = "$scheme://127.0.0.1:$port$args{path}";
    my @cmd = ('curl', '-sS', '--max-time', $args{timeout} // 10,
               '-D', "$dir/tmp/resp.headers", '-o', "$dir/tmp/resp.body");

    my $method = $args{method} // 'GET';

    # curl waits for the body of a HEAD response unless told with -I
    push @cmd, $method eq 'HEAD' ? '-I' : ('-X', $method);

    push @cmd, '-k' if $scheme eq 'https';
    push @cmd, $args{http2} ? '--http2' : '--http1.1';
    push @cmd, map { ('-H', $_) } @{ $args{headers} // [] };

    if (defined $args{body}) {
        open my $fh, '>:raw', "$dir/tmp/req.body" or die;
        print $fh $args{body};
        close $fh;
        push @cmd, '--data-binary', "\@$dir/tmp/req.body";
    }

    push @cmd, $url;

    unlink "$dir/tmp/resp.headers", "$dir/tmp/resp.body";
    system(@cmd);

    my $raw = $self->slurp("$dir/tmp/resp.headers");

    # the last header block (a "100 Continue" may come first)
    my @blocks = grep { /\S/ } split /\r?\n\r?\n/, $raw;
    my @lines = split /\r?\n/, $blocks[-1] // '';
    my $status_line = shift @lines // '';
    my ($proto, $status) = $status_line =~ m{^(HTTP/[\d.]+)\s+(\d+)};
    my %headers;

    for (@lines) {
        my ($n, $v) = /^([^:]+):\s*(.*)$/ or next;
        $n = lc $n;
        $headers{$n} = exists $headers{$n} ? "$headers{$n}, $v" : $v;
    }

    return { status => $status // 0, protocol => $proto // '',
             headers => \%headers,
             body => $method eq 'HEAD' ? ''
                                       : $self->slurp("$dir/tmp/resp.body") };
}

1;
