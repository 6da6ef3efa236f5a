# Keys are read and checked when the configuration is: "nginx -t" fails on
# an unreadable, invalid, private, too weak or mismatched key, and a
# reload picks up a replaced key file.

use strict;
use warnings;

use Test::More;

use KafkaGateway::Harness qw(brokers_or_skip);
use KafkaGateway::JWT qw(make_keys jwt_sign);

brokers_or_skip();

my $ng = KafkaGateway::Harness->new(name => 'jwt-keys');
my $keys = make_keys($ng->dir . '/conf');

sub sh {
    system("$_[0] 2>/dev/null") == 0 or die "failed: $_[0]\n";
}

sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024"
   . " -out $keys/rsa1024.pem");
sh("openssl pkey -in $keys/rsa1024.pem -pubout -out $keys/rsa1024.pub");
sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1"
   . " -out $keys/k1.pem");
sh("openssl pkey -in $keys/k1.pem -pubout -out $keys/k1.pub");
sh("openssl genpkey -algorithm ED25519 -out $keys/ed.pem");
sh("openssl pkey -in $keys/ed.pem -pubout -out $keys/ed.pub");
sh("openssl req -x509 -new -key $keys/rsa.pem -subj /CN=issuer -days 2"
   . " -out $keys/rsa.crt");
sh("openssl pkey -in $keys/rsa.pub -pubin -outform DER -out $keys/rsa.der");
sh("printf 'too short' > $keys/short.key");
sh("head -c 200 $keys/rsa.pub > $keys/broken.pub");

sub location {
    my ($directives) = @_;
    return "        location / {\n            kafka_jwt \"kafka\";\n"
           . join('', map { "            $_;\n" } @$directives)
           . "            empty_gif;\n        }\n";
}

# [ name, directives, expected "nginx -t" error (undef: must pass) ]
my @cases = (
    [ 'RSA public key, type inferred', ['kafka_jwt_key_file rsa.pub'] ],
    [ 'EC public key, type given',
      ['kafka_jwt_key_file ec.pub', 'kafka_jwt_key_type ec'] ],
    [ 'certificate', ['kafka_jwt_key_file rsa.crt'] ],
    [ 'HMAC secret', ['kafka_jwt_key_file hmac.key',
                      'kafka_jwt_key_type hmac'] ],
    [ 'no such file', ['kafka_jwt_key_file nosuch.pub'],
      qr/open\(\) ".*nosuch.pub" failed/ ],
    [ 'truncated PEM', ['kafka_jwt_key_file broken.pub'],
      qr/no PEM public key or certificate in/ ],
    [ 'private key', ['kafka_jwt_key_file rsa.pem'],
      qr/holds a private key/ ],
    [ 'PEM file as an HMAC secret',
      ['kafka_jwt_key_file rsa.pub', 'kafka_jwt_key_type hmac'],
      qr/is a PEM file, not an HMAC secret/ ],
    [ 'DER key without a type', ['kafka_jwt_key_file rsa.der'],
      qr/is not a PEM public key; an HMAC secret needs/ ],
    [ 'secret without a type', ['kafka_jwt_key_file hmac.key'],
      qr/is not a PEM public key; an HMAC secret needs/ ],
    [ 'short HMAC secret',
      ['kafka_jwt_key_file short.key', 'kafka_jwt_key_type hmac'],
      qr/is shorter than 32 bytes/ ],
    [ 'RSA 1024', ['kafka_jwt_key_file rsa1024.pub'],
      qr/has 1024 bits, fewer than 2048/ ],
    [ 'secp256k1', ['kafka_jwt_key_file k1.pub'],
      qr/only P-256, P-384 and P-521 are supported/ ],
    [ 'Ed25519', ['kafka_jwt_key_file ed.pub'],
      qr/is neither RSA nor EC/ ],
    [ 'EC key, type rsa',
      ['kafka_jwt_key_file ec.pub', 'kafka_jwt_key_type rsa'],
      qr/is not an RSA public key/ ],
    [ 'no key file', [], qr/"kafka_jwt" requires "kafka_jwt_key_file"/ ],
    [ 'bad key type', ['kafka_jwt_key_file ec.pub',
                       'kafka_jwt_key_type dsa'],
      qr/invalid value "dsa"/ ],
);

for my $c (@cases) {
    my ($name, $directives, $error) = @$c;
    my ($ok, $out) = $ng->test_config(server => location($directives));

    if ($error) {
        ok(!$ok, "$name: nginx -t fails");
        like($out, $error, "$name: the error says why");

    } else {
        ok($ok, "$name: nginx -t passes") or diag($out);
    }
}

# a key at the http level, inherited by servers and locations, and a
# key type changed below it

{
    my ($ok, $out) = $ng->test_config(
        http => "    kafka_jwt_key_file ec.pub;\n",
        server => "        kafka_jwt \"kafka\";\n"
                  . "        location / { empty_gif; }\n"
                  . "        location /rsa { kafka_jwt_key_file rsa.pub;"
                  . " empty_gif; }\n");
    ok($ok, 'inherited keys: nginx -t passes') or diag($out);

    ($ok, $out) = $ng->test_config(
        http => "    kafka_jwt_key_file ec.pub;\n",
        server => "        location / { kafka_jwt \"kafka\";"
                  . " kafka_jwt_key_type rsa; empty_gif; }\n");
    ok(!$ok, 'inherited file, wrong type below: nginx -t fails');
    like($out, qr/is not an RSA public key/, 'and says why');
}

# reload re-reads the key file (not under valgrind: nginx runs there
# without a master process, which cannot reload)

if ($ng->valgrind) {
    done_testing();
    exit 0;
}

sh("cp $keys/ec.pub $keys/current.pub");

$ng->start(server => location(['kafka_jwt_key_file current.pub']));

my $t256 = jwt_sign('ES256', "$keys/ec.pem", { exp => time + 300 });
my $t384 = jwt_sign('ES384', "$keys/ec384.pem", { exp => time + 300 });

is($ng->request(path => '/', headers => ["Authorization: Bearer $t256"])
       ->{status}, 200, 'before reload: the P-256 key');

sh("cp $keys/ec384.pub $keys/current.pub");
kill 'HUP', $ng->{pid};

my $status;

for (1 .. 100) {
    select undef, undef, undef, 0.1;
    $status = $ng->request(path => '/',
                           headers => ["Authorization: Bearer $t384"])
                 ->{status};
    last if $status == 200;
}

is($status, 200, 'after reload: the P-384 key');
is($ng->request(path => '/', headers => ["Authorization: Bearer $t256"])
       ->{status}, 401, 'after reload: the old key no longer works');

$ng->no_error_log('reload');
$ng->stop;

done_testing();
