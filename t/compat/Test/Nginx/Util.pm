package Test::Nginx::Util;

# The nginx side of the compat runner: server root, nginx.conf, starting
# and stopping nginx, reading its logs, the per-block driver.  The HTTP
# side and the checks live in Test::Nginx::Socket.  See the POD there.

use strict;
use warnings;

use base 'Exporter';

use Config ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Test::More ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.29_compat';

# Only what the suites use (see the POD in Test::Nginx::Socket).
our @EXPORT = qw(
    bail_out add_block_preprocessor error_log_data parse_headers parse_time
    trim run_tests workers master_on log_level no_shuffle
    $ServerPort $ServerAddr $ServerName $Timeout $TestNginxSleep
    $RunTestHelper $CheckErrorLog
);

# Settings, named and defaulted as in the real Test::Nginx::Util.

our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle      = 0;
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $Timeout        = 3;
our $ServerAddr     = '127.0.0.1';
our $ServerName     = 'localhost';
our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || default_binary();
our $Workers        = 1;
our $WorkerConnections = 1024;
our $LogLevel       = 'debug';
our $MasterProcessEnabled = 'off';
our $ServerPort     = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                      || 1984;
our $TestNginxSleep = 0.015;

# Project strictness (not in the real Test::Nginx): on unless set to 0.
our $FailOnAlert = $ENV{TEST_NGINX_FAIL_ON_ALERT} // 1;

# A graceful quit (SIGQUIT) must finish within this many seconds.
our $QuitTimeout     = $UseValgrind ? 60 : 5;
our $StartTimeout    = $UseValgrind ? 60 : 10;

# nginx core's own exit-time allocations, beside this file.
our $CoreSuppressions = File::Spec->catfile(
    (File::Spec->splitpath(File::Spec->rel2abs(__FILE__)))[1],
    '..', '..', 'nginx-core.supp');

our @BlockPreprocessors;
our ($RunTestHelper, $CheckErrorLog);
our ($NginxVersion, $NginxHasE);
our $ErrLogFilePos = 0;

# The nginx this process started: master pid, and whether it is our
# child (valgrind mode runs it in the foreground).
our ($NginxPid, $NginxIsChild, $NginxExitStatus);
our $InSubprocess;

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT}
                                    || 't/servroot');
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/nginx.stderr";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Become the "subreaper" of our descendants (Linux prctl
# PR_SET_CHILD_SUBREAPER), so that a daemonized nginx master is re-parented
# to us and reaped here rather than left a zombie where init does not reap.
{
    my %prctl = (x86_64 => 157, aarch64 => 167);
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)/;
    if ($^O eq 'linux' && $arch && $prctl{$arch}) {
        syscall($prctl{$arch}, 36, 1, 0, 0, 0);
    }
}

sub default_binary {
    for my $dir (split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} || '') {
        next if $dir eq '';
        return "$dir/nginx" if -f "$dir/nginx" && -x _;
    }
    return '/usr/sbin/nginx';
}


# Setters of the real API.

sub no_shuffle ()       { $NoShuffle = 1 }
sub master_on ()        { $MasterProcessEnabled = 'on' }
sub workers ($)         { $Workers = shift }
sub log_level ($)       { $LogLevel = shift }

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub parse_time ($) {
    my $tm = shift;
    return undef unless defined $tm;
    $tm =~ s/^\s+|\s+$//g;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm /= 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

# "Name: value" per line; "!Name" means the header must be absent.
sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, defined $s ? $s : '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = defined $val ? $val : '';
        }
    }
    return \%headers;
}


# Processes.

sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid;
    if ($NginxIsChild && $NginxPid && $pid == $NginxPid) {
        # reap our own child so that a zombie does not look alive
        return 0 if defined $NginxExitStatus;
        if (waitpid($pid, WNOHANG) == $pid) {
            $NginxExitStatus = $?;
            return 0;
        }
    }
    return 0 unless kill 0, $pid;
    # a zombie is not running
    if (open my $st, '<', "/proc/$pid/stat") {
        my $stat = <$st>;
        return 0 if defined $stat && $stat =~ /\)\s+Z\s/;
    }
    return 1;
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub children_of ($) {
    my $ppid = shift;
    my @kids;
    opendir my $dh, '/proc' or return;
    for my $pid (grep /^\d+$/, readdir $dh) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $stat = <$st>;
        next unless defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
        push @kids, $pid if $1 == $ppid;
    }
    closedir $dh;
    return @kids;
}

sub proc_cmdline ($) {
    my $pid = shift;
    open my $in, '<', "/proc/$pid/cmdline" or return '';
    my $cmd = do { local $/; <$in> };
    return '' unless defined $cmd;
    $cmd =~ s/\0/ /g;
    return $cmd;
}

sub looks_like_nginx ($) {
    my $pid = shift;
    my $cmd = proc_cmdline($pid);
    return $cmd =~ /nginx|valgrind|memcheck/;
}

# An nginx process of this server root: it has a file under it open (its
# error log), whatever its command line says.  Other nginx instances on
# the machine are never touched.
sub owned_by_servroot ($) {
    my $pid = shift;
    return 0 unless looks_like_nginx($pid);
    opendir my $fd, "/proc/$pid/fd" or return 0;
    for my $f (readdir $fd) {
        my $link = readlink "/proc/$pid/fd/$f";
        return 1 if defined $link && index($link, "$ServRoot/") == 0;
    }
    return 0;
}

# Processes (nginx masters or orphaned workers) holding a listening socket
# on $port, found through /proc/net/tcp{,6} and /proc/*/fd.
sub pids_listening_on ($) {
    my $port = shift;
    my %inodes;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            my @f = split ' ';
            next unless @f > 9 && $f[1] =~ /:([0-9A-F]{4})$/;
            next unless hex($1) == $port && $f[3] eq '0A';    # LISTEN
            $inodes{$f[9]} = 1;
        }
    }
    return () unless %inodes;
    my @pids;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep /^\d+$/, readdir $dh) {
        next if $pid == $$;
        opendir my $fd, "/proc/$pid/fd" or next;
        for my $f (readdir $fd) {
            my $link = readlink "/proc/$pid/fd/$f" or next;
            if ($link =~ /^socket:\[(\d+)\]$/ && $inodes{$1}) {
                push @pids, $pid;
                last;
            }
        }
        closedir $fd;
    }
    closedir $dh;
    return @pids;
}

sub wait_gone ($$) {
    my ($pids, $limit) = @_;
    my $deadline = time + $limit;
    while (1) {
        my @alive = grep { is_running($_) } @$pids;
        return 1 unless @alive;
        return 0 if time >= $deadline;
        sleep 0.02;
    }
}

# Stops an nginx master and its workers.  Returns (elapsed seconds, 1 if the
# graceful quit finished within $limit).  Escalates to TERM, then KILL.
sub stop_nginx_pid ($$$) {
    my ($pid, $limit, $name) = @_;
    return (0, 1) unless is_running($pid);

    my @workers = children_of($pid);
    my $start = time;
    kill SIGQUIT, $pid;
    my $graceful = wait_gone([$pid], $limit);
    my $elapsed = time - $start;

    if (!$graceful) {
        warn "$name - nginx $pid did not quit within $limit s; "
             . "sending SIGTERM\n";
        @workers = (@workers, children_of($pid));
        kill SIGTERM, $pid;
        if (!wait_gone([$pid], 3)) {
            warn "$name - killing nginx $pid with SIGKILL\n";
            kill SIGKILL, $pid, children_of($pid);
            wait_gone([$pid], 3);
        }
    }

    # workers normally leave before the master; never leave one behind
    my @left = grep { is_running($_) && looks_like_nginx($_) } @workers;
    if (@left && !wait_gone(\@left, 2)) {
        warn "$name - killing leftover nginx workers @left\n";
        kill SIGKILL, grep { is_running($_) } @left;
        wait_gone(\@left, 2);
    }

    if ($NginxIsChild && $NginxPid && $pid == $NginxPid) {
        $NginxExitStatus = $? if !defined $NginxExitStatus
                                 && waitpid($pid, 0) == $pid;
    } else {
        # a daemon re-parented to us (subreaper)
        waitpid($_, WNOHANG) for $pid, @workers;
    }

    return ($elapsed, $graceful);
}

# Our nginx, or one left by a previous run that crashed (pid file, or
# whatever nginx still listens on our port).
sub kill_leftover_nginx ($) {
    my $name = shift;

    if (defined $NginxPid) {
        stop_nginx_pid($NginxPid, $QuitTimeout, $name);
        undef $NginxPid;
        undef $NginxIsChild;
    }

    my $pid = get_pid_from_pidfile($name);
    if ($pid && is_running($pid) && owned_by_servroot($pid)) {
        warn "$name - stopping a leftover nginx (pid $pid)\n";
        stop_nginx_pid($pid, 2, $name);
    }

    for my $p (pids_listening_on($ServerPort)) {
        next unless owned_by_servroot($p);
        warn "$name - killing leftover nginx process $p on port "
             . "$ServerPort\n";
        kill SIGKILL, $p;
        wait_gone([$p], 2);
    }
}

sub cleanup () {
    if (defined $NginxPid && !$InSubprocess) {
        stop_nginx_pid($NginxPid, $QuitTimeout, 'cleanup');
        undef $NginxPid;
    }
}

END {
    if (!$InSubprocess) {
        local $?;
        cleanup();
    }
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub {
        cleanup() unless $InSubprocess;
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
    };
}


# Logs.

sub read_lines_from ($$) {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return ([], $pos);
    seek $in, $pos, 0 if $pos > 0;
    my @lines = <$in>;
    my $end = tell $in;
    close $in;
    return (\@lines, $end);
}

# The error log lines written since the previous call, as in the real one.
sub error_log_data () {
    sleep $TestNginxSleep * 3;
    my ($lines, $end) = read_lines_from($ErrLogFile, $ErrLogFilePos);
    $ErrLogFilePos = $end;
    return $lines;
}

sub whole_file ($) {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    my $data = <$in>;
    return defined $data ? $data : '';
}

sub log_tail ($$) {
    my ($file, $n) = @_;
    my @lines = split /^/m, whole_file($file);
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}


# Configuration.

sub expand_env_in_text ($$) {
    my ($text, $name) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        bail_out("$name - No environment $1 defined.\n")
            unless defined $ENV{$1};
        $ENV{$1};
    }ge;

    return $text;
}

sub setup_server_root () {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"));
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to do mkdir $dir: $!\n");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub write_config_file ($) {
    my $block = shift;
    my $name = $block->name;

    my $config = expand_env_in_text($block->config, $name);
    my $http_config = expand_env_in_text($block->http_config, $name) // '';
    my $daemon = $UseValgrind ? 'off' : 'on';

    my $modules = '';
    if ($LoadModules) {
        $modules = join '', map { "load_module $_;\n" }
                            grep { length } split /\s+/, $LoadModules;
    }

    my $user = $> == 0 ? "user root;\n" : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
$modules$user

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path       $ServRoot/proxy_temp;
    fastcgi_temp_path     $ServRoot/fastcgi_temp;
    uwsgi_temp_path       $ServRoot/uwsgi_temp;
    scgi_temp_path        $ServRoot/scgi_temp;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$ServerName';

        client_max_body_size 30M;

        # Begin test case config...
$config
        # End test case config.

        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
    }
}

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
_EOC_
    close $out;
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the nginx binary "
                 . "$NginxBinary: " . ($out // ''));
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s) {
        return sprintf "%d.%03d%03d", $1, $2, $3;
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}


# Running nginx.

sub nginx_cmd () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', 'conf/nginx.conf');
    push @cmd, '-e', 'logs/error.log' if $NginxHasE;
    return @cmd;
}

sub valgrind_cmd () {
    my @cmd = ('valgrind', '--tool=memcheck', '--leak-check=full',
               '--show-leak-kinds=definite',
               '--errors-for-leak-kinds=definite', '--error-exitcode=99',
               '--trace-children=yes', '--child-silent-after-fork=no',
               '--num-callers=50', '--keep-debuginfo=yes',
               "--log-file=$LogDir/valgrind.%p.log");
    for my $supp ($CoreSuppressions, File::Spec->rel2abs('t/valgrind.suppress'))
    {
        push @cmd, "--suppressions=$supp" if -f $supp;
    }
    if ($UseValgrind !~ /^\d+$/) {
        # TEST_NGINX_USE_VALGRIND="--more --options"
        push @cmd, split ' ', $UseValgrind;
    }
    return @cmd;
}

# fork + exec with stdout to /dev/null and stderr to $StderrFile.
sub spawn (@) {
    my @cmd = @_;
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', $StderrFile;
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

# Runs nginx in the foreground of this call (daemon on, or a must_die
# config) and returns its wait status.
sub run_nginx_sync () {
    my $pid = spawn(nginx_cmd());
    waitpid($pid, 0);
    return $?;
}

# Waits for the pid file to name a live process (the master writes it
# after its listening sockets are open).  Returns the pid or undef.
sub wait_for_pidfile ($$) {
    my ($name, $child) = @_;
    my $deadline = time + $StartTimeout;
    while (time < $deadline) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid && (!$child || $pid == $child) && is_running($pid)) {
            return $pid;
        }
        return undef if $child && !is_running($child);
        sleep 0.01;
    }
    return undef;
}

sub start_failed ($$) {
    my ($name, $why) = @_;
    my $stderr = log_tail($StderrFile, 20);
    my $errlog = log_tail($ErrLogFile, 20);
    Test::More::diag("$name - nginx stderr:\n$stderr") if $stderr =~ /\S/;
    Test::More::diag("$name - error.log tail:\n$errlog") if $errlog =~ /\S/;
    bail_out("$name - $why");
}

sub start_nginx ($) {
    my $name = shift;

    if ($UseValgrind) {
        my $pid = spawn(valgrind_cmd(), nginx_cmd());
        $NginxPid = $pid;
        $NginxIsChild = 1;
        undef $NginxExitStatus;
        if (!wait_for_pidfile($name, $pid)) {
            my $status = is_running($pid) ? 'still running'
                                          : "status $NginxExitStatus";
            start_failed($name, "Cannot start nginx under valgrind "
                                . "($status)");
        }
        return;
    }

    my $status;
    for my $try (1 .. 3) {
        $status = run_nginx_sync();
        last if $status == 0;
        last unless whole_file($ErrLogFile) =~ /Address already in use/;
        kill_leftover_nginx($name);
        sleep 0.5 * $try;
    }
    if ($status != 0) {
        start_failed($name, "Cannot start nginx using command \""
                            . join(' ', nginx_cmd())
                            . "\" (status code $status).");
    }

    my $pid = wait_for_pidfile($name, undef);
    start_failed($name, "nginx started but no live pid in $PidFile")
        unless $pid;
    $NginxPid = $pid;
    $NginxIsChild = 0;
}

sub valgrind_reports () {
    my @bad;
    my @files = glob "$LogDir/valgrind.*.log";
    for my $file (sort @files) {
        my $text = whole_file($file);
        my @hits;
        for my $line (split /\n/, $text) {
            if ($line =~ /Invalid\ (?:read|write|free)|uninitialised
                         |Mismatched\ free|Source\ and\ destination\ overlap
                         |points\ to\ unaddressable|Process\ terminating
                         |definitely\ lost\ in\ [1-9]
                         |ERROR\ SUMMARY:\ [1-9]/x)
            {
                push @hits, $line;
            }
        }
        next unless @hits;
        my $excerpt = $text;
        $excerpt = substr($excerpt, 0, 6000) . "\n[...]\n"
            if length $excerpt > 6000;
        push @bad, [$file, \@hits, $excerpt];
    }
    return @bad;
}

# TEST_NGINX_FAIL_ON_ALERT: [alert]/[emerg] lines, open sockets left at
# exit and workers killed by a signal fail the block unless one of its
# error_log patterns matches the line.
sub check_strict_log ($) {
    my $block = shift;
    return unless $FailOnAlert;
    my $name = $block->name;

    my @pats = grep { ref || length }
               Test::Nginx::Socket::error_log_patterns(
                   scalar $block->error_log);

    my @bad;
    for my $line (split /^/m, whole_file($ErrLogFile)) {
        next unless $line =~ /\[alert\]|\[emerg\]|open\ socket\ \#\d+\ left
                             |worker\ process\ \d+\ exited\ on\ signal/x;
        next if defined $block->must_die && $line =~ /\[emerg\]/;
        next if grep { ref ? $line =~ $_ : index($line, $_) >= 0 } @pats;
        push @bad, $line;
    }

    if (@bad) {
        chomp @bad;
        Test::More::fail("$name - error.log has unexpected alert lines "
                         . "(TEST_NGINX_FAIL_ON_ALERT)");
        Test::More::diag(join "\n", map { "  $_" } @bad[0 .. ($#bad > 19
                                                               ? 19
                                                               : $#bad)]);
    }
}


# The per-file and per-block drivers.

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $NginxHasE = $NginxVersion >= 1.019005;

    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value('name', $0 . ' ' . $block->name);
        run_test($block);
    }

    cleanup();
}

# Every block has its own config and its own nginx.  (The real runner lets
# a block without a config reuse the running nginx; no suite needs that.)
sub run_test ($) {
    my $block = shift;
    my $name = $block->name;

    bail_out("$name - No '--- config' section specified (the t/compat "
             . "runner does not reuse the previous block's)")
        unless defined $block->config;

    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;

    # --- skip_eval: N: PERL (the suites skip what the nginx under test
    # was not built with, see KafkaGateway::Features)
    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval the Perl code "
                 . "\"$code\": $@") if $@;
        if ($skip) {
            SKIP: {
                Test::More::skip("$name - skip_eval", $n);
            }
            return;
        }
    }

    kill_leftover_nginx($name);
    setup_server_root();
    write_config_file($block);
    unlink $PidFile;

    if (defined $block->must_die) {
        run_must_die($block);
        check_strict_log($block);
        return;
    }

    start_nginx($name);

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    $RunTestHelper->($block);

    stop_block_nginx($block);
}

sub run_must_die ($) {
    my $block = shift;
    my $name = $block->name;

    $ErrLogFilePos = 0;
    my $status = run_nginx_sync();

    if ($status & 128) {
        Test::More::fail("$name - nginx core dumped");
    } else {
        Test::More::isnt($status, 0, "$name - die as expected");
    }

    $CheckErrorLog->($block);

    if ($status == 0) {
        warn "WARNING: $name - nginx must die but it does not; killing it\n";
        my $pid = wait_for_pidfile($name, undef);
        stop_nginx_pid($pid, $QuitTimeout, $name) if $pid;
    }
}

sub stop_block_nginx ($) {
    my $block = shift;
    my $name = $block->name;
    my $pid = $NginxPid;
    undef $NginxPid;

    local $NginxPid = $pid;
    if (!$pid || !is_running($pid)) {
        my $how = '';
        if ($NginxIsChild && defined $NginxExitStatus) {
            $how = " (wait status $NginxExitStatus)";
        }
        Test::More::fail("$name - nginx is gone before the end of the "
                         . "block$how");
    } else {
        my ($elapsed, $graceful) = stop_nginx_pid($pid, $QuitTimeout, $name);
        my $status = $NginxIsChild ? $NginxExitStatus // 0 : 0;
        if (!$graceful) {
            Test::More::fail(sprintf("%s - nginx did not quit gracefully "
                                     . "within %d s of SIGQUIT", $name,
                                     $QuitTimeout));
        }
        if ($NginxIsChild && $status != 0 && $status != -1) {
            Test::More::diag("$name - nginx under valgrind exited with "
                             . "status $status");
        }
    }
    undef $NginxIsChild;

    check_strict_log($block);

    if ($UseValgrind) {
        for my $bad (valgrind_reports()) {
            my ($file, $hits, $excerpt) = @$bad;
            Test::More::fail("$name - valgrind: $hits->[0]");
            Test::More::diag("$file:\n$excerpt");
        }
    }
}

1;
