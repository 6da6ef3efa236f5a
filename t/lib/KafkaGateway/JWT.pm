package KafkaGateway::JWT;

# Keys and tokens for the JWT tests, with core Perl and the openssl tool
# only: keys are generated at test time, HS* tokens are signed with
# Digest::SHA, RS* and ES* tokens with "openssl dgst -sign" (an ES
# signature is turned from DER into JOSE's raw r||s).

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);

use Exporter 'import';
our @EXPORT_OK = qw(make_keys b64url jwt_sign jwt_raw json_text);

my $json = JSON::PP->new->canonical->allow_nonref;

sub json_text { return $json->encode($_[0]) }

sub b64url {
    my ($data) = @_;
    my $s = encode_base64($data, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub run {
    my (@cmd) = @_;
    system(@cmd) == 0 or die "failed: @cmd\n";
}

# make_keys(DIR): writes hmac.key (64 random bytes), rsa.pem/rsa.pub
# (2048 bits), ec.pem/ec.pub (P-256), ec384.pem/ec384.pub, ec521.pem/ec521.pub
# into DIR and returns DIR.

sub make_keys {
    my ($dir) = @_;
    $dir //= tempdir(CLEANUP => 1);

    return $dir if -s "$dir/ec521.pub";

    my $q = '2>/dev/null';
    run("openssl rand -out $dir/hmac.key 64 $q");
    run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"
        . " -out $dir/rsa.pem $q");
    run("openssl pkey -in $dir/rsa.pem -pubout -out $dir/rsa.pub $q");

    for my $c (['ec', 'P-256'], ['ec384', 'P-384'], ['ec521', 'P-521']) {
        run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$c->[1]"
            . " -out $dir/$c->[0].pem $q");
        run("openssl pkey -in $dir/$c->[0].pem -pubout -out $dir/$c->[0].pub"
            . " $q");
    }

    return $dir;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!\n";
    local $/;
    return scalar <$fh>;
}

# a DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) to r||s of n bytes each
sub der_to_raw {
    my ($der, $n) = @_;
    my @b = unpack 'C*', $der;
    my $i = 0;

    die "not a DER sequence\n" unless $b[$i++] == 0x30;
    my $len = $b[$i++];
    $i += $len & 0x7f if $len & 0x80;

    my $raw = '';
    for (1 .. 2) {
        die "not a DER integer\n" unless $b[$i++] == 0x02;
        my $l = $b[$i++];
        my $int = pack 'C*', @b[$i .. $i + $l - 1];
        $i += $l;
        $int =~ s/^\x00+//;
        $raw .= ("\x00" x ($n - length $int)) . $int;
    }

    return $raw;
}

my %hmac = (HS256 => \&hmac_sha256, HS384 => \&hmac_sha384,
            HS512 => \&hmac_sha512);
my %ec_size = (ES256 => 32, ES384 => 48, ES512 => 66);

# signature of INPUT with ALG and the key in FILE (a secret or a private
# key PEM)
sub sign {
    my ($alg, $file, $input) = @_;

    if ($hmac{$alg}) {
        return $hmac{$alg}->($input, slurp($file));
    }

    my ($bits) = $alg =~ /^[RE]S(\d+)$/ or die "unknown alg $alg\n";
    my $dir = tempdir(CLEANUP => 1);

    open my $fh, '>:raw', "$dir/in" or die;
    print $fh $input;
    close $fh;

    run("openssl dgst -sha$bits -sign $file -out $dir/sig $dir/in");
    my $sig = slurp("$dir/sig");

    return $alg =~ /^ES/ ? der_to_raw($sig, $ec_size{$alg}) : $sig;
}

# jwt_sign(ALG, KEYFILE, CLAIMS [, EXTRA_HEADER]): a signed compact JWS
sub jwt_sign {
    my ($alg, $file, $claims, $extra) = @_;
    my $header = { alg => $alg, typ => 'JWT', %{ $extra // {} } };

    my $input = b64url(ref $header ? json_text($header) : $header) . '.'
                . b64url(ref $claims ? json_text($claims) : $claims);

    return $input . '.' . b64url(sign($alg, $file, $input));
}

# jwt_raw(HEADER_JSON_TEXT, PAYLOAD_TEXT, SIGN_ALG, KEYFILE): a token with
# exactly these header and payload bytes, signed with SIGN_ALG (or with an
# empty signature when SIGN_ALG is undef)
sub jwt_raw {
    my ($header, $payload, $alg, $file) = @_;
    my $input = b64url($header) . '.' . b64url($payload);

    return $input . '.' . (defined $alg ? b64url(sign($alg, $file, $input))
                                        : '');
}

1;
