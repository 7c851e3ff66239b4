package SQWire;

# The servqual wire format, version 1, in Perl: the canonical encoder that
# docs/wire-format.md describes byte for byte, the counter names, and the
# test vectors read back from the document.

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;

our @EXPORT_OK = qw(encode_datagram counter_names doc_vectors);

# the SQ_C_* order of include/servqual_wire.h
my @COUNTERS = qw(requests status_1xx status_2xx status_3xx status_4xx
    status_5xx client_aborts body_incomplete upstream_errors
    upstream_timeouts bytes_sent tls_none tls_1_0 tls_1_1 tls_1_2 tls_1_3
    http_1_0 http_1_1 http_2 http_3 compressible compressed hsts);

sub counter_names { return @COUNTERS }

sub _uint {
    my ($n) = @_;
    return pack('C', $n)          if $n < 128;
    return pack('CC', 0xcc, $n)   if $n < 256;
    return pack('Cn', 0xcd, $n)   if $n < 65536;
    return pack('CN', 0xce, $n)   if $n < 2**32;
    return pack('CQ>', 0xcf, $n);
}

sub _str {
    my ($s) = @_;
    my $l = length $s;
    return pack('C', 0xa0 | $l) . $s if $l < 32;
    return pack('CC', 0xd9, $l) . $s if $l < 256;
    die "string too long for the wire format\n";
}

sub _array {
    my ($n) = @_;
    return pack('C', 0x90 | $n)  if $n < 16;
    return pack('Cn', 0xdc, $n)  if $n < 65536;
    return pack('CN', 0xdd, $n);
}

# a patchable header: always array32
sub _array32 { return pack('CN', 0xdd, $_[0]) }

# encode_datagram(v => 1, node => ..., pid => ..., seq => ..., ws => ...,
#     we => ..., dd => ..., dr => ..., so => ..., go => ...,
#     s => [[endpoint, region, segment, [counters], [hist], [hist]], ...])
sub encode_datagram {
    my (%d) = @_;
    my $o = pack('C', 0x80 | 11);

    $o .= _str('v') . _uint($d{v});
    $o .= _str('node') . _str($d{node});
    $o .= _str('pid') . _uint($d{pid});
    $o .= _str('seq') . _uint($d{seq});
    $o .= _str($_) . _uint($d{$_}) for qw(ws we dd dr so go);
    $o .= _str('s') . _array32(scalar @{ $d{s} });

    for my $s (@{ $d{s} }) {
        $o .= _array(6) . _str($s->[0]) . _str($s->[1]) . _str($s->[2]);
        $o .= _array(scalar @{ $s->[3] });
        $o .= _uint($_) for @{ $s->[3] };
        for my $h ($s->[4], $s->[5]) {
            $o .= _array32(scalar @$h);
            $o .= _uint($_) for @$h;
        }
    }

    return $o;
}

# the test vectors of docs/wire-format.md: a list of hex strings, in order
sub doc_vectors {
    my $doc = File::Spec->catfile(dirname(__FILE__), '..', '..', 'docs',
                                  'wire-format.md');
    open my $fh, '<', $doc or die "$doc: $!\n";
    my $text = do { local $/; <$fh> };
    my @v;
    while ($text =~ /```hex\n(.*?)```/sg) {
        (my $hex = $1) =~ s/\s+//g;
        push @v, $hex;
    }
    return @v;
}

1;
