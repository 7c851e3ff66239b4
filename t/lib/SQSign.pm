package SQSign;

# Signed datagrams as include/servqual_sign.h defines them: key files
# ("ID:HEX", mode 0600) and the envelope (the map, then MAC, time, key id
# and magic), built independently of the C code with Digest::SHA.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use Exporter qw(import);
use Time::HiRes ();

our @EXPORT_OK = qw(write_key sign_datagram now_ms);

our $MAGIC = "\xc1SQ1";
our $TRAILER = 48;


sub now_ms {
    return int(Time::HiRes::time() * 1000);
}


# write_key($path, $id, $secret_bytes, $mode): a key file; returns the
# secret as hex (what must never appear in a log).

sub write_key {
    my ($path, $id, $secret, $mode) = @_;
    my $hex = unpack 'H*', $secret;
    open my $f, '>', $path or die "$path: $!";
    print $f "$id:$hex\n";
    close $f;
    chmod $mode // 0600, $path or die "chmod $path: $!";
    return $hex;
}


# sign_datagram($map, id => N, secret => BYTES, time => MS): the map with
# its trailer; time defaults to now.

sub sign_datagram {
    my ($map, %o) = @_;
    my $t = $o{time} // now_ms();
    my $tail = pack('Q>', $t) . pack('N', $o{id}) . $MAGIC;
    my $mac = hmac_sha256($map . $tail, $o{secret});
    return $map . $mac . $tail;
}

1;
