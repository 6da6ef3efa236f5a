package KafkaGateway::Features;

# What the nginx under test ($TEST_NGINX_BINARY) was built with, from
# "nginx -V", so that a suite skips, with the reason, what that nginx cannot
# do instead of failing on it:
#
#   nginx_lacks(FEATURE, ...): '' when nginx has them all, else the reason
#   ("nginx built without --with-debug").  FEATURE is a configure flag
#   without its "--with-" ("debug", "http_auth_request_module",
#   "http_ssl_module", "http_v2_module").
#
# Scenario files:   plan skip_all => $why if $why = nginx_lacks(...);
#                   SKIP: { skip $why, N if $why = nginx_lacks(...); ... }
# Block files, both in the CPAN Test::Nginx and t/compat (the code runs in
# Test::Nginx::Util, hence the full name):
#   --- skip_eval: N: KafkaGateway::Features::nginx_lacks('debug')

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(nginx_lacks);

my $configure;

sub configure_arguments {
    return $configure if defined $configure;

    # as the runners choose it: nginx in PATH, else Debian's
    my $bin = $ENV{TEST_NGINX_BINARY}
              || ((grep { -x "$_/nginx" } split /:/, $ENV{PATH} // '')
                  ? 'nginx' : '/usr/sbin/nginx');
    my $out = `$bin -V 2>&1`;

    die "\"$bin -V\" failed: $out" if $? != 0;

    ($configure) = $out =~ /^configure arguments:(.*)$/m;
    $configure //= '';

    return $configure;
}

sub nginx_lacks {
    my $args = configure_arguments();
    my @missing = grep { $args !~ /(?:^|\s)--with-\Q$_\E(?:[\s=]|$)/ } @_;

    return '' unless @missing;
    return 'nginx built without ' . join(', ', map { "--with-$_" } @missing);
}

1;
