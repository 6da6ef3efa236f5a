# Keys are read and checked when the configuration is: nginx refuses to
# start on an unreadable, invalid, private, too weak or mismatched key, a
# good key of each kind verifies its tokens, and a reload picks up a
# replaced key file.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use File::Copy qw(copy);
use File::Temp qw(tempdir);

use lib 't/lib';
use KafkaGateway::Blocks;
use KafkaGateway::JWT qw(make_keys jwt_sign);

my $keys = make_keys(tempdir(CLEANUP => 1));

$ENV{TEST_NGINX_JWT_KEYS} = $keys;

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

# the key file TEST 22 replaces while nginx runs
copy("$keys/ec.pub", "$keys/current.pub") or die "copy: $!";

my %claims = (sub => 'alice', exp => time + 3600);

our $RS = jwt_sign('RS256', "$keys/rsa.pem", \%claims);
our $ES = jwt_sign('ES256', "$keys/ec.pem", \%claims);
our $ES384 = jwt_sign('ES384', "$keys/ec384.pem", \%claims);
our $HS = jwt_sign('HS256', "$keys/hmac.key", \%claims);

# --- init of TEST 22: current.pub becomes the P-384 key (nginx is then
# reloaded)
sub use_p384_key {
    copy("$keys/ec384.pub", "$keys/current.pub") or die "copy: $!";
}

master_on();
workers(1);
log_level('info');
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
                          "kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;");
    }

    if (!defined $block->no_error_log && !defined $block->error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[crit]");
    }
});

run_tests();

__DATA__

=== TEST 1: an RSA public key, type inferred, verifies RS256
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::RS"
--- error_code: 200



=== TEST 2: an EC public key, type given, verifies ES256
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_key_type ec;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::ES"
--- error_code: 200



=== TEST 3: a certificate: its RSA key verifies RS256
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.crt;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::RS"
--- error_code: 200



=== TEST 4: an HMAC secret verifies HS256
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;
        kafka_jwt_key_type hmac;
        empty_gif;
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::HS"
--- error_code: 200



=== TEST 5: no such file
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/nosuch.pub;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
nosuch.pub" failed



=== TEST 6: a truncated PEM
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/broken.pub;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
no PEM public key or certificate in



=== TEST 7: a private key
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pem;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
holds a private key



=== TEST 8: a PEM file as an HMAC secret
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub;
        kafka_jwt_key_type hmac;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is a PEM file, not an HMAC secret



=== TEST 9: a DER key without a type
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.der;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is not a PEM public key; an HMAC secret needs



=== TEST 10: a secret without a type
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/hmac.key;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is not a PEM public key; an HMAC secret needs



=== TEST 11: a short HMAC secret
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/short.key;
        kafka_jwt_key_type hmac;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is shorter than 32 bytes



=== TEST 12: RSA 1024
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa1024.pub;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
has 1024 bits, fewer than 2048



=== TEST 13: secp256k1
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/k1.pub;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
only P-256, P-384 and P-521 are supported



=== TEST 14: Ed25519
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ed.pub;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is neither RSA nor EC



=== TEST 15: an EC key declared rsa
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_key_type rsa;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
is not an RSA public key



=== TEST 16: kafka_jwt without a key file
--- config
    location /t {
        kafka_jwt "kafka";
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
"kafka_jwt" requires "kafka_jwt_key_file"



=== TEST 17: an unknown key type
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
        kafka_jwt_key_type dsa;
        empty_gif;
    }
--- must_die
--- error_log
[emerg]
invalid value "dsa"



=== TEST 18: a key at the http level is inherited by the server's kafka_jwt
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
--- config
    kafka_jwt "kafka";
    location /t { empty_gif; }
    location /rsa { kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub; empty_gif; }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::ES"
--- error_code: 200



=== TEST 19: a location's own key replaces the inherited one
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
--- config
    kafka_jwt "kafka";
    location /t { empty_gif; }
    location /rsa { kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/rsa.pub; empty_gif; }
--- request eval
["GET /rsa", "GET /t"]
--- more_headers eval
"Authorization: Bearer $::RS"
--- error_code eval
[200, 401]



=== TEST 20: an inherited file of the wrong type below it
--- http_config
    kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/ec.pub;
--- config
    location /t { kafka_jwt "kafka"; kafka_jwt_key_type rsa; empty_gif; }
--- must_die
--- error_log
[emerg]
is not an RSA public key



=== TEST 21: before a reload: the key file holds the P-256 key
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/current.pub;
        kafka_jwt_token $arg_t;
        empty_gif;
    }
--- request eval
["GET /t?t=$::ES", "GET /t?t=$::ES384"]
--- error_code eval
[200, 401]



=== TEST 22: a reload re-reads the replaced key file: P-384 in, P-256 out
--- config
    location /t {
        kafka_jwt "kafka";
        kafka_jwt_key_file $TEST_NGINX_JWT_KEYS/current.pub;
        kafka_jwt_token $arg_t;
        empty_gif;
    }
--- init
main::use_p384_key();
KafkaGateway::Blocks::reload();
--- request eval
["GET /t?t=$::ES384", "GET /t?t=$::ES"]
--- error_code eval
[200, 401]
--- no_error_log
[error]
[alert]
[crit]
