# The Debian package (make deb), installed into this system: Debian's own
# nginx loads it with its default configuration, a produce location added
# as a conf.d snippet answers with Kafka's offset, and a purge leaves the
# system's nginx as it was.  "make test-deb" builds the package and runs
# this file; it changes the system (apt-get install, apt-get purge), so it
# lives outside t/*.t and "make test" never runs it.
#
# Only the package's own files go into /etc/nginx; the nginx under test
# runs from a private prefix with a test-only nginx.conf that includes the
# system's modules-enabled and the snippet.  No service is started: the
# package's postinst only triggers a reload of a running system nginx, and
# a policy-rc.d (created here if there is none) keeps invoke-rc.d from
# starting one.

use strict;
use warnings;

use lib 't/lib';
use Cwd ();
use File::Copy qw(copy);
use File::Find ();
use File::Temp qw(tempdir);
use JSON::PP ();
use Test::More;
use KafkaGateway::Test qw(start_broker start_nginx http_request wait_until
                          dump_topic check_error_log_clean free_port);

my $pkg = 'libnginx-mod-http-kafka-gateway';
my $so = '/usr/lib/nginx/modules/ngx_http_kafka_gateway_module.so';
my $available = '/usr/share/nginx/modules-available/mod-http-kafka-gateway.conf';
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-kafka-gateway.conf';
my $load = 'load_module modules/ngx_http_kafka_gateway_module.so;';
my $doc = "/usr/share/doc/$pkg";
my $policy = '/usr/sbin/policy-rc.d';
my @watched = ('/etc/nginx', '/usr/lib/nginx/modules',
               '/usr/share/nginx/modules-available');

plan skip_all => 'needs root: installs and purges the package'
    if $> != 0;
plan skip_all => 'needs Debian (dpkg, apt-get)'
    unless -e '/etc/debian_version' && -x '/usr/bin/apt-get';
plan skip_all => "needs Debian's nginx (/usr/sbin/nginx)"
    unless -x '/usr/sbin/nginx';
plan skip_all => 'no dev broker (run "make test-deb")'
    unless -x ($ENV{KAFKA_DEV_BROKER} || 'build/kafka-dev-broker');

my $version = slurp('VERSION');
$version =~ s/\s+//g;
chomp(my $arch = `dpkg --print-architecture`);
my $deb = ($ENV{KGW_BUILD} || 'build') . "/${pkg}_$version-1_$arch.deb";

plan skip_all => "no package $deb (run \"make deb\")" unless -f $deb;

BAIL_OUT("$pkg is installed already; this test installs and purges it,"
         . " so it runs only where it is not installed")
    if installed();

my ($t_status, $t_out) = sh('/usr/sbin/nginx', '-t');
BAIL_OUT("the system's nginx -t fails before the test:\n$t_out")
    if $t_status != 0;

my %before = (files => state_of(@watched), port80 => port80(),
              pid => -e '/run/nginx.pid' ? 1 : 0);

# apt-get reads the file as the _apt user: a directory it may enter
my $tmp = tempdir('kgw-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;
copy($deb, "$tmp/$pkg.deb") or BAIL_OUT("copy $deb: $!");
chmod 0644, "$tmp/$pkg.deb";

my ($made_policy, $ngx);

if (!-e $policy) {
    open my $p, '>', $policy or BAIL_OUT("$policy: $!");
    print $p "#!/bin/sh\n# t/package/deb.t: no service starts\nexit 101\n";
    close $p;
    chmod 0755, $policy;
    $made_policy = 1;
}

# Whatever happens, the system is left as it was.
END {
    my $rc = $?;
    $ngx->stop if $ngx;
    sh(apt_get('purge', $pkg)) if installed();
    unlink $policy if $made_policy;
    $? = $rc;
}


# install

my ($st, $out) = sh(apt_get('install', "$tmp/$pkg.deb"));
is($st, 0, "apt-get install $deb") or diag(tail($out));

BAIL_OUT('the package did not install') unless installed();

is(dpkg_field('Version'), "$version-1", 'the version is VERSION-1');

my ($abi) = dpkg_field('Provides', 'nginx') =~ /(nginx-abi-[^\s,]+)/;
my $depends = dpkg_field('Depends');
ok($abi && $depends =~ /(?:^|, )\Q$abi\E(?:,|$)/,
   "depends on the ABI the system's nginx provides ("
   . ($abi // 'none') . ')')
    or diag("Depends: $depends");
for my $lib (qw(librdkafka1 libjansson4 libjwt0 libssl3)) {
    like($depends, qr/(?:^|, )\Q$lib\E\b/, "depends on $lib (shlibs)");
}

ok(-f $so, "$so installed");
is(slurp($available), "$load\n",
   "$available loads the module");
is(readlink($enabled), $available, "$enabled links to it");
for my $f (qw(README.md.gz nginx.conf.sample examples/sse.conf
              examples/secure-gateway.conf examples/sse.html
              changelog.Debian.gz))
{
    ok(-f "$doc/$f", "$doc/$f installed");
}
like(slurp("$doc/copyright"), qr/^License: BSD-2-Clause$/m,
     "$doc/copyright: BSD-2-Clause");

is_deeply(port80(), $before{port80}, 'no new listener on port 80');


# Debian's nginx with its default configuration

($st, $out) = sh('/usr/sbin/nginx', '-t');
is($st, 0, 'nginx -t (/etc/nginx/nginx.conf) succeeds') or diag($out);

($st, $out) = sh('/usr/sbin/nginx', '-T');
like($out, qr{^# configuration file \Q$enabled\E:\n\Q$load\E$}m,
     'nginx -T: the default configuration loads the module');


# a produce location as a conf.d snippet, in a test-only nginx

my $broker = start_broker(brokers => 1, topics => ['deb-package:2']);
my $port = free_port();
my $confd = "$tmp/conf.d";
mkdir $confd;
open my $snippet, '>', "$confd/kafka-gateway.conf" or die "$confd: $!";
print $snippet <<_EOC_;
kafka_brokers  ${\ $broker->bootstrap };

server {
    listen  127.0.0.1:$port;

    location ~ ^/topics/(?<topic>[^/]+)\$ {
        kafka_produce      \$topic;
        kafka_produce_key  \$arg_key;
    }
}
_EOC_
close $snippet;

# The test-only nginx runs with its own prefix (-p); Debian's load files
# name "modules/...", relative to the prefix, which is /usr/share/nginx for
# the system's nginx, where nginx-common links modules to the real place.
my $prefix = "$tmp/nginx";
mkdir $prefix;
symlink '/usr/share/nginx/modules', "$prefix/modules"
    or die "symlink $prefix/modules: $!";

$ngx = eval {
    start_nginx('', prefix => $prefix, load_modules => '',
                main_config => 'include /etc/nginx/modules-enabled/*.conf;',
                http_config => "include $confd/*.conf;");
};
ok($ngx, 'the system nginx starts with modules-enabled and the snippet')
    or diag($@);

SKIP: {
    skip 'nginx did not start', 5 unless $ngx;

    ok((wait_until { accepting($port) } 10),
       "the snippet's server listens on 127.0.0.1:$port");

    my $value = "from the Debian package $$";
    my ($status, undef, $body) = http_request(
        method => 'POST', port => $port, path => '/topics/deb-package?key=k1',
        headers => { 'Content-Type' => 'text/plain' }, body => $value);
    is($status, 200, 'POST /topics/deb-package: 200') or diag($body);

    my $r = eval { JSON::PP->new->decode($body) } || {};
    my $o = ($r->{offsets} || [])->[0] || {};
    ok(defined $o->{offset} && $o->{offset} =~ /^\d+$/
       && defined $o->{partition},
       "the answer carries Kafka's partition and offset") or diag($body);

    my $records = dump_topic($broker->bootstrap, 'deb-package');
    is_deeply([map { [$_->{partition}, $_->{offset}, $_->{key}, $_->{value}] }
               @$records],
              [[$o->{partition}, $o->{offset}, 'k1', $value]],
              'the record is in Kafka, at that partition and offset');

    ok(defined $ngx->quit, 'nginx quits');
    check_error_log_clean($ngx);
}
undef $ngx;


# purge

($st, $out) = sh(apt_get('purge', $pkg));
is($st, 0, "apt-get purge $pkg") or diag(tail($out));
ok(!installed(), 'the package is gone (no config-files left)');

my $after = state_of(@watched);
is_deeply($after, $before{files},
          'nothing left or changed in ' . join(', ', @watched))
    or diag(diff($before{files}, $after));

($st, $out) = sh('/usr/sbin/nginx', '-t');
is($st, 0, 'nginx -t still succeeds') or diag($out);

is_deeply(port80(), $before{port80}, 'port 80 as before: no server left');
is(-e '/run/nginx.pid' ? 1 : 0, $before{pid},
   "the system nginx's pid file as before");

done_testing();


sub sh {
    my @cmd = @_;
    my $out = '';
    my $pid = open my $fh, '-|';
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or exit 127;
    }
    local $/;
    $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub apt_get {
    my ($what, $arg) = @_;
    # another apt-get on the machine: wait for its lock
    return ('env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-y', '-q',
            '-o', 'DPkg::Lock::Timeout=300', '--no-install-recommends',
            $what, $arg);
}

sub dpkg_field {
    my ($field, $name) = @_;
    my (undef, $out) = sh('dpkg-query', '-W', "-f=\${$field}", $name || $pkg);
    return $out;
}

sub installed {
    my ($st, $out) = sh('dpkg-query', '-W', '-f=${db:Status-Abbrev}', $pkg);
    return $st == 0 && $out =~ /^.[^n]/;
}

sub slurp {
    my $file = shift;
    open my $in, '<', $file or return undef;
    local $/;
    return <$in>;
}

sub tail {
    my @lines = split /\n/, shift;
    splice @lines, 0, @lines - 30 if @lines > 30;
    return join "\n", @lines;
}

# Every entry under the directories: type, mode, size, link target, and
# for files the modification time (a directory's own time changes when a
# package adds and removes an entry, which leaves nothing behind).
sub state_of {
    my %state;
    for my $top (@_) {
        if (!-e $top) {
            $state{$top} = 'absent';
            next;
        }
        File::Find::find({ no_chdir => 1, wanted => sub {
            my @st = lstat $_ or return;
            my $type = -l _ ? 'link ' . readlink($_) : -d _ ? 'dir' : 'file';
            $state{$_} = sprintf '%s %04o%s', $type, $st[2] & 07777,
                         -f _ ? " $st[7] $st[9]" : '';
        } }, $top);
    }
    return \%state;
}

sub diff {
    my ($old, $new) = @_;
    my %all = (%$old, %$new);
    return join "\n", map {
        my ($o, $n) = ($old->{$_} // 'absent', $new->{$_} // 'absent');
        $o eq $n ? () : "  $_: $o -> $n";
    } sort keys %all;
}

# Listening sockets on port 80, any address.
sub port80 {
    my @l;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            my @f = split ' ';
            push @l, $f[1] if @f > 3 && $f[1] =~ /:0050$/ && $f[3] eq '0A';
        }
    }
    return [sort @l];
}

sub accepting {
    my $hex = sprintf ':%04X', shift;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            my @f = split ' ';
            return 1 if @f > 3 && $f[1] =~ /\Q$hex\E$/ && $f[3] eq '0A';
        }
    }
    return 0;
}
