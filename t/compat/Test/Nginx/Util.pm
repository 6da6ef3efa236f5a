package Test::Nginx::Util;

# The nginx side of the compat runner: server root, nginx.conf, starting
# and stopping nginx, reading its logs, the per-block driver.  The HTTP
# side and the checks live in Test::Nginx::Socket.  See the POD there.

use strict;
use warnings;

use base 'Exporter';

use Carp qw(croak);
use Config ();
use Cwd ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Scalar::Util qw(looks_like_number);
use Test::More ();
use Test::LongString ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.29_compat';

our @EXPORT = qw(
    env_to_nginx is_str bail_out add_cleanup_handler add_block_preprocessor
    access_log_data error_log_data parse_headers parse_time trim
    show_all_chars run_tests run_test timeout workers worker_connections
    master_on master_off master_process_enabled log_level no_shuffle
    no_root_location html_dir server_root server_port server_port_for_client
    server_addr server_name config_preamble repeat_each no_long_string
    check_accum_error_log sleep_time verbose get_pid_from_pidfile
    is_running use_hup no_nginx_manager
    $NoLongString $ServerPort $ServerPortForClient $ServerAddr $ServerName
    $ServRoot $PidFile $ConfFile $ErrLogFile $RunTestHelper $CheckErrorLog
    $CheckShutdownErrorLog $RepeatEach $NginxVersion
);

# Settings, named and defaulted as in the real Test::Nginx::Util.

our $NoLongString;
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ServerAddr     = '127.0.0.1';
our $ServerName     = 'localhost';
our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || default_binary();
our $Workers        = 1;
our $WorkerConnections = 1024;
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $ServerPort     = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                      || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $NoRootLocation = 0;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $RepeatEach     = 1;
our $ConfigPreamble = '';

# Project strictness (not in the real Test::Nginx): on unless set to 0.
our $FailOnAlert = $ENV{TEST_NGINX_FAIL_ON_ALERT} // 1;

# A graceful quit (SIGQUIT) must finish within this many seconds.
our $QuitTimeout     = $UseValgrind ? 60 : 5;
our $StartTimeout    = $UseValgrind ? 60 : 10;

# nginx core's own exit-time allocations, beside this file.
our $CoreSuppressions = File::Spec->catfile(
    (File::Spec->splitpath(File::Spec->rel2abs(__FILE__)))[1],
    '..', '..', 'nginx-core.supp');

our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers);
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);
our ($NginxVersion, $NginxRawVersion, $NginxHasE);
our $ErrLogFilePos = 0;

# The last block that had a config section: a block without one runs with
# its configuration (the real one keeps that block's nginx running).
our $PrevConfigBlock;

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


# Setters and getters of the real API.

sub no_long_string ()   { $NoLongString = 1 }
sub no_shuffle ()       { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()        { $MasterProcessEnabled = 'on' }
sub master_off ()       { $MasterProcessEnabled = 'off' }
sub html_dir ()         { $HtmlDir }
sub server_root ()      { $ServRoot }
sub sleep_time ()       { $TestNginxSleep }
sub verbose ()          { $Verbose }
sub config_preamble ($) { $ConfigPreamble = shift }

sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}

for my $setting (qw(Timeout Workers WorkerConnections LogLevel ServerPort
                    ServerPortForClient ServerAddr ServerName RepeatEach))
{
    (my $sub = $setting) =~ s/(?<=[a-z])([A-Z])/_\l$1/g;
    $sub = lcfirst $sub;
    no strict 'refs';
    *{$sub} = sub (@) {
        ${$setting} = shift if @_;
        return ${$setting};
    };
}

sub use_hup () {
    croak "use_hup() is not supported by the t/compat runner";
}

sub no_nginx_manager () {
    croak "no_nginx_manager() is not supported by the t/compat runner";
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

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

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
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
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
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

# The error log lines written since the previous call (all of them with
# check_accum_error_log), as in the real one.
sub error_log_data () {
    sleep $TestNginxSleep * 3;
    my ($lines, $end) = read_lines_from($ErrLogFile,
                                        $CheckAccumErrLog ? 0
                                                          : $ErrLogFilePos);
    $ErrLogFilePos = $end unless $CheckAccumErrLog;
    return $lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    my ($lines) = read_lines_from($AccLogFile, 0);
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

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $val = $rand_ports->{$var} ||= gen_rand_port($rand_ports);
            bail_out("$name - Cannot find an available listening port "
                     . "number for $var.\n") unless $val;
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub gen_rand_port ($) {
    my $used = shift;
    my %used = map { ($_ => 1) } $ServerPort, values %$used;
    for (1 .. 1000) {
        my $port = int(rand 63550) + 1985;
        next if $used{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto => 'tcp');
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

sub setup_server_root () {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"));
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

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if defined $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if defined $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - Failed to set the date of $path\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = expand_env_in_text($block->main_config, $name,
                                         $rand_ports);
    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $rand_ports);
    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $rand_ports);
    for ($main_config, $http_config, $post_main_config, $config) {
        $_ = '' unless defined $_;
    }

    my $server_name = $block->server_name;
    $server_name = $ServerName unless defined $server_name;
    (my $quoted_server_name = $server_name) =~ s/\\/\\\\/g;
    $quoted_server_name =~ s/'/\\'/g;

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $daemon = $UseValgrind ? 'off' : 'on';

    my $modules = '';
    if ($LoadModules) {
        $modules = join '', map { "load_module $_;\n" }
                            grep { length } split /\s+/, $LoadModules;
    }

    my $env = '';
    for my $v (@EnvToNginx) {
        $env .= "env " . ($v =~ /\s/ ? "'$v'" : $v) . ";\n";
    }

    my $user = $> == 0 ? "user root;\n" : '';

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$modules$env$user
$main_config

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
        server_name     '$quoted_server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

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
        $NginxRawVersion = "$1.$2.$3";
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
# error_log / shutdown_error_log patterns matches the line.
sub check_strict_log ($) {
    my $block = shift;
    return unless $FailOnAlert;
    my $name = $block->name;

    my @pats;
    for my $sec (qw(error_log shutdown_error_log)) {
        my $v = $block->$sec;
        next unless defined $v;
        push @pats, !ref $v ? (grep { length } split /\n+/, $v)
                  : ref $v eq 'ARRAY' ? (grep { defined } @$v)
                  : ($v);
    }

    my @bad;
    for my $line (split /^/m, whole_file($ErrLogFile)) {
        next unless $line =~ /\[alert\]|\[emerg\]|open\ socket\ \#\d+\ left
                             |worker\ process\ \d+\ exited\ on\ signal/x;
        next if defined $block->must_die && $line =~ /\[emerg\]/;
        next if grep { ref $_ ? $line =~ $_ : index($line, $_) >= 0 } @pats;
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
    $ENV{TEST_NGINX_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_PORT};
    $ENV{TEST_NGINX_HTML_DIR} = $HtmlDir
        unless defined $ENV{TEST_NGINX_HTML_DIR};
    $ENV{TEST_NGINX_SERVROOT} = $ServRoot
        unless defined $ENV{TEST_NGINX_SERVROOT};

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

sub block_skip ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval the Perl code "
                 . "\"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op) = ($1, $2);
        my $ver = sprintf "%d.%03d%03d", $3, $4, $5;
        my $reason = $6 || "nginx version $op $3.$4.$5";
        return ($n, $reason) if eval "$NginxVersion $op $ver";
    }

    return;
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;
    my $rand_ports = {};

    return if defined $block->SKIP;

    my $conf_block = $block;
    if (defined $block->config) {
        $PrevConfigBlock = $block;
    } elsif ($PrevConfigBlock) {
        $conf_block = $PrevConfigBlock;
    } else {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.");
    }
    my $config = expand_env_in_text($conf_block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;

    my ($skip_n, $skip_reason) = block_skip($block);
    if (defined $skip_n) {
        SKIP: {
            Test::More::skip("$name - $skip_reason", $skip_n);
        }
        return;
    }

    kill_leftover_nginx($name);
    setup_server_root();
    write_user_files($block, $rand_ports);
    write_config_file($conf_block, $config, $rand_ports);
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
    my $todo = $block->todo;
    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;
        if (defined $todo) {
            $todo =~ /^\s*(\d+)\s*:\s*(.*)/s
                or bail_out("$name - Invalid --- todo spec: $todo");
            TODO: {
                Test::More::todo_skip("$name - $2", $1);
            }
            next;
        }
        $RunTestHelper->($block, 0, $i - 1);
    }

    stop_block_nginx($block);
}

sub run_must_die ($) {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my $status = run_nginx_sync();
        my $exit_code = $status >> 8;

        if ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($exit_code, $must_die,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            my $pid = wait_for_pidfile($name, undef);
            stop_nginx_pid($pid, $QuitTimeout, $name) if $pid;
        }
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
        } elsif ($Verbose) {
            warn sprintf("%s - nginx quit in %.2f s\n", $name, $elapsed);
        }
        if ($NginxIsChild && $status != 0 && $status != -1) {
            Test::More::diag("$name - nginx under valgrind exited with "
                             . "status $status");
        }
    }
    undef $NginxIsChild;

    if (defined $block->shutdown_error_log
        || defined $block->no_shutdown_error_log)
    {
        $CheckShutdownErrorLog->($block, 0);
    }

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
