package SQWire;

# The servqual wire format in Perl, every name and number read from
# include/servqual_wire.h and include/servqual_hist.h: the datagram's keys
# (SQ_K_* and SQ_WIRE_KEY_NAMES), the series fields (SQ_F_*), the
# histogram order (SQ_H_*), the counters (SQ_C_* and
# SQ_WIRE_COUNTER_NAMES), the browser's fields of version 3 (SQ_FB_*,
# SQ_B_* with SQ_WIRE_BHIST_NAMES, SQ_BC_* with SQ_WIRE_BCOUNTER_NAMES,
# SQ_WIRE_CLS_SCALE) and the bucket scheme.  On top of them: the
# canonical encoder of docs/wire-format.md and its test vectors, a
# builder for test datagrams of any shape, a strict decoder and checker,
# totals over datagrams, and the datagram listeners (udp and unix) that
# stand in for the collector.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use File::Spec;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);

use Data::MessagePack;

use SQProc qw(repo_root prefix read_file owner_process);


our @EXPORT_OK = qw(
    wire_key wire_keys wire_field wire_hists wire_const
    counter_names counter_index
    bcounter_names bcounter_index wire_bhists wire_bfield
    sq_hist_index sq_hist_lower sq_hist_upper sq_hist_buckets
    encode_datagram doc_vectors
    datagram series histogram cls_histogram browser msgpack_pack
    decode_datagram datagram_problems decode_hist sum_datagrams
    series_total hist_total hist_quantile seq_gaps
    udp_listener unix_listener
);


my $LAST_UDP;                  # the defaults for nginx's %%UDP_PORT%%
my $LAST_UNIX;                 # and %%UNIX_SOCK%%
my @LISTENERS;                 # unix listener paths to unlink at exit


# ---------------------------------------------------------------------------
# The headers

my (%CONST, %ENUM, @KEYS, @COUNTERS, @HISTS, %HIST, @BCOUNTERS, @BHISTS);

sub _load_headers {
    return if @KEYS;

    my $inc = File::Spec->catdir(repo_root(), 'include');
    my $wire = read_file("$inc/servqual_wire.h")
        or croak "cannot read $inc/servqual_wire.h";
    my $hist = read_file("$inc/servqual_hist.h")
        or croak "cannot read $inc/servqual_hist.h";

    while ($wire =~ /^#define\s+(SQ_WIRE_\w+)\s+(\d+|"[^"]*")\s*$/mg) {
        my ($name, $v) = ($1, $2);
        $v =~ s/\A"(.*)"\z/$1/;
        $CONST{$name} = $v;
    }

    # each enum counts from 0; its last member is the number of the others
    while ($wire =~ /enum\s*\{([^}]*)\}/g) {
        my @ids = $1 =~ /^\s*(SQ_\w+)/mg;
        my $last = pop @ids;
        $ENUM{ $ids[$_] } = $_ for 0 .. $#ids;
        $CONST{$last} = @ids;
    }

    @KEYS = _names($wire, 'SQ_WIRE_KEY_NAMES', 'SQ_K_', 'SQ_WIRE_NKEYS');
    @COUNTERS = _names($wire, 'SQ_WIRE_COUNTER_NAMES', 'SQ_C_',
                       'SQ_WIRE_NCOUNTERS');

    # version 3: the browser's counters and histograms
    @BCOUNTERS = _names($wire, 'SQ_WIRE_BCOUNTER_NAMES', 'SQ_BC_',
                        'SQ_WIRE_NBCOUNTERS');
    @BHISTS = _names($wire, 'SQ_WIRE_BHIST_NAMES', 'SQ_B_',
                     'SQ_WIRE_NBHISTS');
    croak "servqual_wire.h: SQ_WIRE_BROWSER_FIELDS is not the browser"
          . " counters and " . @BHISTS . " histograms"
        unless ($CONST{SQ_WIRE_BROWSER_FIELDS} // -1) == 1 + @BHISTS
               && ($ENUM{SQ_FB_HIST_LCP} // -1) == $ENUM{SQ_FB_COUNTERS} + 1;
    $CONST{SQ_WIRE_SERIES_FIELDS_BROWSER}
        = $CONST{SQ_WIRE_SERIES_FIELDS} + $CONST{SQ_WIRE_BROWSER_FIELDS};

    # SQ_H_RT -> "rt": the histograms' names in wire order
    my @h = sort { $ENUM{$a} <=> $ENUM{$b} } grep { /^SQ_H_/ } keys %ENUM;
    croak "servqual_wire.h: " . @h . " SQ_H_* but SQ_WIRE_NHISTS is "
          . ($CONST{SQ_WIRE_NHISTS} // 'missing')
        if @h != ($CONST{SQ_WIRE_NHISTS} // -1);
    @HISTS = map { lc s/^SQ_H_//r } @h;

    for (qw(SQ_F_ENDPOINT SQ_F_REGION SQ_F_SEGMENT SQ_F_COUNTERS
            SQ_F_HIST_RT SQ_WIRE_SERIES_FIELDS SQ_WIRE_VERSION
            SQ_WIRE_VERSION_MIN SQ_WIRE_CLS_SCALE))
    {
        croak "$_ not in servqual_wire.h"
            unless defined $ENUM{$_} || defined $CONST{$_};
    }

    for (qw(SQ_HIST_SUB_BITS SQ_HIST_MAX_EXP)) {
        $hist =~ /#define\s+$_\s+(\d+)/ or croak "$_ not in servqual_hist.h";
        $HIST{$_} = $1;
    }
    $HIST{SUB} = 1 << $HIST{SQ_HIST_SUB_BITS};
    $HIST{BUCKETS} = ($HIST{SQ_HIST_MAX_EXP} - $HIST{SQ_HIST_SUB_BITS} + 2)
                     * $HIST{SUB};
}


# the strings of a name table macro, checked against its enum

sub _names {
    my ($wire, $macro, $prefix, $count) = @_;

    my ($text) = $wire =~ /#define\s+$macro((?:.*\\\n)*.*)/
        or croak "$macro not found in servqual_wire.h";
    my @names = $text =~ /"([^"]+)"/g;
    my @ids = grep { /^$prefix/ } keys %ENUM;

    croak "servqual_wire.h: " . @ids . " $prefix* but " . @names
          . " names in $macro"
        if @ids != @names || @names != ($CONST{$count} // -1);

    return @names;
}


# wire_key('SQ_K_SEQ'): the name of a datagram key ("seq").

sub wire_key {
    my ($id) = @_;

    _load_headers();
    croak "unknown wire key $id"
        unless $id =~ /^SQ_K_/ && defined $ENUM{$id};
    return $KEYS[ $ENUM{$id} ];
}


# wire_keys(): every key name in the order the module writes them.

sub wire_keys {
    _load_headers();
    return @KEYS;
}


# wire_field('SQ_F_COUNTERS'): a series field's index in the series array.

sub wire_field {
    my ($id) = @_;

    _load_headers();
    croak "unknown series field $id"
        unless $id =~ /^SQ_F_/ && defined $ENUM{$id};
    return $ENUM{$id};
}


# wire_hists(): the histograms' names in wire order ("rt", "ttfb"); the
# one at position i is series field SQ_F_HIST_RT + i.

sub wire_hists {
    _load_headers();
    return @HISTS;
}


# wire_const('SQ_WIRE_MAX_NODE'): a number (or string) the header
# defines, or an enum's count (SQ_WIRE_NKEYS, SQ_WIRE_SERIES_FIELDS).

sub wire_const {
    my ($name) = @_;

    _load_headers();
    croak "$name not in servqual_wire.h" unless defined $CONST{$name};
    return $CONST{$name};
}


# counter_names(): the counter names in wire order (SQ_C_* enum order).

sub counter_names {
    _load_headers();
    return @COUNTERS;
}


# counter_index('SQ_C_REQUESTS'): a counter's index in the counters array.

sub counter_index {
    my ($id) = @_;

    _load_headers();
    croak "unknown counter $id"
        unless $id =~ /^SQ_C_/ && defined $ENUM{$id};
    return $ENUM{$id};
}


# bcounter_names(): the browser counter names in wire order (SQ_BC_*).

sub bcounter_names {
    _load_headers();
    return @BCOUNTERS;
}


# bcounter_index('SQ_BC_BEACONS'): a browser counter's index in the
# browser counters array.

sub bcounter_index {
    my ($id) = @_;

    _load_headers();
    croak "unknown browser counter $id"
        unless $id =~ /^SQ_BC_/ && defined $ENUM{$id};
    return $ENUM{$id};
}


# wire_bhists(): the browser's histograms' names in wire order ("lcp",
# "inp", "cls", "fcp", "ttfb"); the one at position i is series field
# wire_bfield('SQ_FB_HIST_LCP') + i.

sub wire_bhists {
    _load_headers();
    return @BHISTS;
}


# wire_bfield('SQ_FB_HIST_CLS'): a browser field's index in a version 3
# series array of SQ_WIRE_SERIES_FIELDS_BROWSER (after the six others).

sub wire_bfield {
    my ($id) = @_;

    _load_headers();
    croak "unknown browser field $id"
        unless $id =~ /^SQ_FB_/ && defined $ENUM{$id};
    return $CONST{SQ_WIRE_SERIES_FIELDS} + $ENUM{$id};
}


# the key names the code below uses, by enum

sub _k {
    return map { wire_key($_) } @_;
}


# ---------------------------------------------------------------------------
# The histogram bucket scheme

# sq_hist_buckets(): the number of histogram buckets (SQ_HIST_BUCKETS).

sub sq_hist_buckets {
    _load_headers();
    return $HIST{BUCKETS};
}


# sq_hist_index($us): the bucket of a value in microseconds, as the C
# sq_hist_index (values above 2^32-1 are clamped into the last bucket).

sub sq_hist_index {
    my ($v) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};
    $v = int $v;

    return $v if $v < 2 * $HIST{SUB};
    $v = 0xffffffff if $v > 0xffffffff;

    my $e = 0;
    $e++ while ($v >> ($e + 1)) > 0;

    return (($e - $bits) << $bits) + ($v >> ($e - $bits));
}


# sq_hist_lower($i), sq_hist_upper($i): bucket $i covers [lower, upper)
# microseconds, as the C functions.

sub sq_hist_lower {
    my ($i) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};

    return $i if $i < 2 * $HIST{SUB};

    my $e = ($i >> $bits) + $bits - 1;
    return (($i & ($HIST{SUB} - 1)) | $HIST{SUB}) << ($e - $bits);
}


sub sq_hist_upper {
    my ($i) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};

    return $i + 1 if $i < 2 * $HIST{SUB};

    my $e = ($i >> $bits) + $bits - 1;
    return sq_hist_lower($i) + (1 << ($e - $bits));
}


# ---------------------------------------------------------------------------
# Encoding: the canonical encoder, the document's vectors, test datagrams

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
    croak "string too long for the wire format";
}


sub _array {
    my ($n) = @_;

    return pack('C', 0x90 | $n)  if $n < 16;
    return pack('Cn', 0xdc, $n)  if $n < 65536;
    return pack('CN', 0xdd, $n);
}


# a patchable header: always array32

sub _array32 {
    return pack('CN', 0xdd, $_[0]);
}


# encode_datagram(%map): the bytes the module sends for a datagram map
# (keys by their wire names, see wire_key; the series field as arrays of
# SQ_WIRE_SERIES_FIELDS), byte for byte as docs/wire-format.md describes
# them: keys in header order, the series and histogram arrays as array32.

sub encode_datagram {
    my (%d) = @_;

    _load_headers();
    my ($node, $series) = _k(qw(SQ_K_NODE SQ_K_SERIES));
    my $f = wire_field('SQ_F_COUNTERS');
    my $h = wire_field('SQ_F_HIST_RT');
    # a version 1 map has fewer keys: those it has, in header order
    my @keys = grep { exists $d{$_} } @KEYS;
    my $o = pack('C', 0x80 | scalar @keys);

    for my $k (@keys) {
        $o .= _str($k);
        if ($k eq $node) {
            $o .= _str($d{$k});
        } elsif ($k eq $series) {
            $o .= _array32(scalar @{ $d{$k} });
        } else {
            $o .= _uint($d{$k});
        }
    }

    for my $s (@{ $d{$series} }) {
        $o .= _array(scalar @$s);
        $o .= _str($s->[$_]) for 0 .. $f - 1;
        $o .= _array(scalar @{ $s->[$f] });
        $o .= _uint($_) for @{ $s->[$f] };
        for my $hist (@$s[$h .. $h + $#HISTS]) {
            $o .= _array32(scalar @$hist);
            $o .= _uint($_) for @$hist;
        }

        # version 3: the browser's counters (shortest header), then its
        # histograms (array32), when the series carries them
        next if @$s <= $CONST{SQ_WIRE_SERIES_FIELDS};

        my $bc = $s->[ wire_bfield('SQ_FB_COUNTERS') ];
        my $bh = wire_bfield('SQ_FB_HIST_LCP');
        $o .= _array(scalar @$bc);
        $o .= _uint($_) for @$bc;
        for my $hist (@$s[$bh .. $bh + $#BHISTS]) {
            $o .= _array32(scalar @$hist);
            $o .= _uint($_) for @$hist;
        }
    }

    return $o;
}


# doc_vectors($tag): the test vectors of docs/wire-format.md, a list of
# hex strings in document order: the blocks fenced as ```hex, or as
# ```$tag when a tag is given ('hex-v1', 'hex-v3').

sub doc_vectors {
    my ($tag) = @_;

    my $doc = File::Spec->catfile(repo_root(), 'docs', 'wire-format.md');
    my $text = read_file($doc) or croak "cannot read $doc";
    my $fence = quotemeta($tag // 'hex');
    my @v;

    while ($text =~ /```$fence\n(.*?)```/sg) {
        (my $hex = $1) =~ s/\s+//g;
        push @v, $hex;
    }

    return @v;
}


# histogram(@seconds): a wire histogram [d0, c0, d1, c1, ...] of values
# given in seconds.

sub histogram {
    my (@seconds) = @_;

    my %b;
    $b{ sq_hist_index($_ * 1e6) }++ for @seconds;

    my ($prev, @out) = (0);
    for my $i (sort { $a <=> $b } keys %b) {
        push @out, (@out ? $i - $prev : $i), $b{$i};
        $prev = $i;
    }

    return \@out;
}


# cls_histogram(@scores): a wire histogram of layout shift scores, each
# carried as the score times SQ_WIRE_CLS_SCALE (0.1 -> bucket of 10000).

sub cls_histogram {
    my (@scores) = @_;

    _load_headers();
    return histogram(map { $_ * $CONST{SQ_WIRE_CLS_SCALE} / 1e6 } @scores);
}


# browser(lcp => [s, ...], inp => [s, ...], cls => [score, ...],
#         fcp => [s, ...], ttfb => [s, ...], counters => { name => n },
#         lcp_hist => [...], ... (a wire histogram as is)): the six browser
# fields of a version 3 series, [ counters, LCP, INP, CLS, FCP, TTFB ].
# Times in seconds, CLS as the score; "beacons" defaults to the largest
# number of values given for any measure, "nav_navigate" to beacons.

sub browser {
    my (%a) = @_;

    _load_headers();
    my %hist;
    my $n = 0;

    for my $name (@BHISTS) {
        my @v = @{ $a{$name} || [] };
        $n = @v if @v > $n;
        $hist{$name} = $a{"${name}_hist"}
                       || ($name eq 'cls' ? cls_histogram(@v)
                                          : histogram(@v));
    }

    my ($beacons, $navigate) = @BCOUNTERS[ $ENUM{SQ_BC_BEACONS},
                                           $ENUM{SQ_BC_NAV_NAVIGATE} ];
    my %c = ($beacons => $n, %{ $a{counters} || {} });
    $c{$navigate} //= $c{$beacons};

    my @b;
    $b[ $ENUM{SQ_FB_COUNTERS} ] = [ map { $c{$_} // 0 } @BCOUNTERS ];
    $b[ $ENUM{SQ_FB_HIST_LCP} + $_ ] = $hist{ $BHISTS[$_] } for 0 .. $#BHISTS;

    return \@b;
}


# series(endpoint => E, region => R, segment => S, latencies => [s, ...],
#        ttfb => [s, ...], counters => { name => n }, hist => [...],
#        ttfb_hist => [...], browser => { arguments of browser() }): one
# series array; requests defaults to the number of latencies, the
# histograms to those of the latencies.  With browser it has the version
# 3 browser fields too (SQ_WIRE_SERIES_FIELDS_BROWSER in all).

sub series {
    my (%a) = @_;

    _load_headers();
    my @lat = @{ $a{latencies} || [] };
    my %c = ($COUNTERS[ $ENUM{SQ_C_REQUESTS} ] => scalar(@lat),
             %{ $a{counters} || {} });
    my %hist = (
        $HISTS[0] => $a{hist} || histogram(@lat),
        $HISTS[1] => $a{ttfb_hist} || histogram(@{ $a{ttfb} || \@lat }),
    );
    my @s;

    @s[ map { wire_field($_) } qw(SQ_F_ENDPOINT SQ_F_REGION SQ_F_SEGMENT
                                  SQ_F_COUNTERS) ]
        = ($a{endpoint}, $a{region}, $a{segment} // '',
           [ map { $c{$_} // 0 } @COUNTERS ]);
    $s[ wire_field('SQ_F_HIST_RT') + $_ ] = $hist{ $HISTS[$_] }
        for 0 .. $#HISTS;
    push @s, @{ browser(%{ $a{browser} }) } if $a{browser};

    return \@s;
}


# datagram(node => N, pid => P, seq => S, dd => n, dr => n,
#          cr => n, cs => n, cx => n (the running totals, 0 if not given),
#          version => n, series => [series, ...], extra => { key => value },
#          without => [key, ...]): the msgpack bytes of a test datagram
# whose window ends now; version (default SQ_WIRE_VERSION) sets "v", and
# version 1 leaves out the running totals; extra sets (or adds) keys by
# their wire names, without removes some, for datagrams the collector
# must refuse.

my $PACKER = Data::MessagePack->new->prefer_integer(1)->utf8(1);

sub datagram {
    my (%a) = @_;

    _load_headers();
    my $now = int(time * 1000);
    my %v = (
        SQ_K_VERSION => $a{version} // $CONST{SQ_WIRE_VERSION},
        SQ_K_NODE    => $a{node} // 'test',
        SQ_K_PID     => $a{pid} // 1000,
        SQ_K_SEQ     => $a{seq} // 1,
        SQ_K_WS      => $now - 1000,
        SQ_K_WE      => $now,
        SQ_K_DD      => $a{dd} // 0,
        SQ_K_DR      => $a{dr} // 0,
        SQ_K_SO      => 0,
        SQ_K_GO      => 0,
        SQ_K_CR      => $a{cr} // 0,
        SQ_K_CS      => $a{cs} // 0,
        SQ_K_CX      => $a{cx} // 0,
        SQ_K_SERIES  => $a{series} || [],
    );
    my %m;

    for my $id (keys %ENUM) {
        next unless $id =~ /^SQ_K_/;
        croak "datagram: no value for $id" unless exists $v{$id};
        $m{ wire_key($id) } = $v{$id};
    }
    delete @m{ _k(qw(SQ_K_CR SQ_K_CS SQ_K_CX)) } if ($a{version} // 0) == 1;
    $m{$_} = $a{extra}{$_} for keys %{ $a{extra} || {} };
    delete $m{$_} for @{ $a{without} || [] };

    return $PACKER->pack(\%m);
}


# msgpack_pack($data): any Perl data as msgpack, as datagram packs it.

sub msgpack_pack {
    my ($data) = @_;

    return $PACKER->pack($data);
}


# ---------------------------------------------------------------------------
# Decoding and checking

# decode_datagram($bytes): the msgpack map of one datagram.  Strict: dies
# on malformed msgpack, trailing bytes, or a top level that is not a map.

my $MP = Data::MessagePack->new->prefer_integer(1);

sub decode_datagram {
    my ($bytes) = @_;

    my $m = eval { $MP->unpack($bytes) };
    croak "bad datagram: $@" if $@;
    croak "datagram is not a map" unless ref $m eq 'HASH';
    return $m;
}


# datagram_problems($map): what in a decoded datagram breaks the format of
# servqual_wire.h (an empty list when it conforms).

sub datagram_problems {
    my ($m) = @_;

    _load_headers();
    my @p;
    my $uint = qr/\A\d+\z/;
    my ($v, $node, $seq, $ws, $we, $series)
        = _k(qw(SQ_K_VERSION SQ_K_NODE SQ_K_SEQ SQ_K_WS SQ_K_WE
                SQ_K_SERIES));

    # a version 1 map has no running totals
    my %v2 = map { wire_key($_) => 1 } qw(SQ_K_CR SQ_K_CS SQ_K_CX);
    my $old = ($m->{$v} // '') eq $CONST{SQ_WIRE_VERSION_MIN}
              && !grep { exists $m->{$_} } keys %v2;

    for my $k (grep { $_ ne $node && $_ ne $series } @KEYS) {
        next if $old && $v2{$k};
        push @p, "\"$k\" missing or not a uint"
            unless defined $m->{$k} && !ref $m->{$k} && $m->{$k} =~ $uint;
    }
    my $ver = $m->{$v} // '';
    push @p, "$v is $ver, not $CONST{SQ_WIRE_VERSION_MIN}.."
             . $CONST{SQ_WIRE_VERSION}
        unless $old || ($ver =~ $uint && $ver > $CONST{SQ_WIRE_VERSION_MIN}
                        && $ver <= $CONST{SQ_WIRE_VERSION});
    $ver = 0 unless $ver =~ $uint;
    push @p, "$node missing or too long"
        unless defined $m->{$node} && !ref $m->{$node}
               && length $m->{$node} <= $CONST{SQ_WIRE_MAX_NODE};
    push @p, "$seq is 0" if ($m->{$seq} // 1) eq '0';
    push @p, "$we < $ws"
        if ($m->{$we} // 0) =~ $uint && ($m->{$ws} // 0) =~ $uint
           && $m->{$we} < $m->{$ws};

    my %known = map { $_ => 1 } @KEYS;
    push @p, "unknown key \"$_\"" for grep { !$known{$_} } sort keys %$m;

    if (ref $m->{$series} ne 'ARRAY') {
        push @p, "\"$series\" missing or not an array";
        return @p;
    }

    for my $i (0 .. $#{ $m->{$series} }) {
        push @p, map { "series $i: $_" }
                 _series_problems($m->{$series}[$i], $ver);
    }

    return @p;
}


sub _series_problems {
    my ($s, $ver) = @_;

    # from version 3 a series may carry the browser's fields too
    my $n = $CONST{SQ_WIRE_SERIES_FIELDS};
    my $nb = $CONST{SQ_WIRE_SERIES_FIELDS_BROWSER};
    my $browser = $ver >= 3 && ref $s eq 'ARRAY' && @$s == $nb;
    return "not an array of $n" . ($ver >= 3 ? " or $nb" : '')
        unless ref $s eq 'ARRAY' && (@$s == $n || $browser);

    my @p;

    # the labels: SQ_F_ENDPOINT is bounded by SQ_WIRE_MAX_ENDPOINT, ...
    for my $id (qw(SQ_F_ENDPOINT SQ_F_REGION SQ_F_SEGMENT)) {
        my $i = $ENUM{$id};
        my $max = $CONST{ $id =~ s/^SQ_F_/SQ_WIRE_MAX_/r };
        push @p, "key $i not a string of at most $max bytes"
            unless defined $s->[$i] && !ref $s->[$i]
                   && length $s->[$i] <= $max;
    }

    my $c = $s->[ $ENUM{SQ_F_COUNTERS} ];
    push @p, 'counters not an array of ' . scalar(@COUNTERS) . ' uints'
        unless ref $c eq 'ARRAY' && @$c == @COUNTERS
               && !grep { !defined || ref || !/\A\d+\z/ } @$c;

    for my $i (map { $ENUM{SQ_F_HIST_RT} + $_ } 0 .. $#HISTS) {
        eval { decode_hist($s->[$i]); 1 } or push @p, "field $i: $@";
    }

    return @p unless $browser;

    my $bc = $s->[ wire_bfield('SQ_FB_COUNTERS') ];
    push @p, 'browser counters not an array of ' . scalar(@BCOUNTERS)
             . ' uints'
        unless ref $bc eq 'ARRAY' && @$bc == @BCOUNTERS
               && !grep { !defined || ref || !/\A\d+\z/ } @$bc;

    my $bh = wire_bfield('SQ_FB_HIST_LCP');
    for my $i ($bh .. $bh + $#BHISTS) {
        eval { decode_hist($s->[$i]); 1 } or push @p, "field $i: $@";
    }

    return @p;
}


# decode_hist($flat): { bucket index => count } from a wire histogram
# [d0, c0, d1, c1, ...]; dies when it breaks the encoding rules.

sub decode_hist {
    my ($flat) = @_;

    _load_headers();
    croak "histogram is not an array\n" unless ref $flat eq 'ARRAY';
    croak "histogram has an odd length\n" if @$flat % 2;

    my %h;
    my $idx = -1;

    for (my $j = 0; $j < @$flat; $j += 2) {
        my ($d, $c) = @$flat[$j, $j + 1];
        croak "histogram pair $j not uints\n"
            unless defined $d && defined $c && $d =~ /\A\d+\z/
                   && $c =~ /\A\d+\z/;
        croak "histogram delta 0 at $j\n" if $j > 0 && $d == 0;
        croak "histogram count 0 at $j\n" if $c == 0;
        $idx = $j == 0 ? $d : $idx + $d;
        croak "histogram index $idx out of range\n"
            if $idx >= $HIST{BUCKETS};
        $h{$idx} = $c;
    }

    return \%h;
}


# ---------------------------------------------------------------------------
# Totals over datagrams

# sum_datagrams(@maps): totals per series, summed over datagrams (a series
# may appear in several):
#   $t->{$endpoint}{$region}{$segment} = {
#       counters => { requests => n, status_2xx => n, ... },
#       rt => { bucket => count }, ttfb => { bucket => count },
#       browser => { counters => { beacons => n, ... },
#                    lcp => { bucket => count }, inp => ..., cls => ...,
#                    fcp => ..., ttfb => ... } }
# (counter and histogram names from the header; browser only for a
# series that carried the version 3 browser fields).  In list context also
# the header totals, by key name (SQ_K_DD, SQ_K_DR, SQ_K_SO, SQ_K_GO):
#   ($t, { datagrams => n, dd => n, dr => n, so => n, go => n })

sub sum_datagrams {
    my (@maps) = @_;

    _load_headers();
    my %t;
    my @totals = _k(qw(SQ_K_DD SQ_K_DR SQ_K_SO SQ_K_GO));
    my $series = wire_key('SQ_K_SERIES');
    my @l = map { $ENUM{$_} } qw(SQ_F_ENDPOINT SQ_F_REGION SQ_F_SEGMENT);
    my $c = $ENUM{SQ_F_COUNTERS};
    my $h = $ENUM{SQ_F_HIST_RT};
    my %head = (datagrams => 0, map { $_ => 0 } @totals);

    for my $m (@maps) {
        $head{datagrams}++;
        $head{$_} += $m->{$_} // 0 for @totals;

        for my $s (@{ $m->{$series} // [] }) {
            my $e = $t{ $s->[ $l[0] ] }{ $s->[ $l[1] ] }{ $s->[ $l[2] ] }
                //= { counters => { map { $_ => 0 } @COUNTERS },
                      map { $_ => {} } @HISTS };

            $e->{counters}{ $COUNTERS[$_] } += $s->[$c][$_]
                for 0 .. $#COUNTERS;
            _add_hist($e->{ $HISTS[$_] }, decode_hist($s->[ $h + $_ ]))
                for 0 .. $#HISTS;
            _add_browser($e, $s)
                if @$s == $CONST{SQ_WIRE_SERIES_FIELDS_BROWSER};
        }
    }

    return wantarray ? (\%t, \%head) : \%t;
}


sub _add_hist {
    my ($into, $h) = @_;

    $into->{$_} += $h->{$_} for keys %$h;
}


sub _add_browser {
    my ($e, $s) = @_;

    my $b = $e->{browser} //= { counters => { map { $_ => 0 } @BCOUNTERS },
                                map { $_ => {} } @BHISTS };
    my $bc = $s->[ wire_bfield('SQ_FB_COUNTERS') ];
    my $bh = wire_bfield('SQ_FB_HIST_LCP');

    $b->{counters}{ $BCOUNTERS[$_] } += $bc->[$_] for 0 .. $#BCOUNTERS;
    _add_hist($b->{ $BHISTS[$_] }, decode_hist($s->[ $bh + $_ ]))
        for 0 .. $#BHISTS;
}


# series_total($t, $counter, endpoint => E, region => R, segment => S): a
# counter summed over the series of sum_datagrams matching the filters
# (an omitted filter matches all); a browser counter ("beacons", ...) by
# its name too.

sub series_total {
    my ($t, $counter, %f) = @_;

    my $n = 0;
    _each_series($t, \%f, sub {
        $n += $_[0]{counters}{$counter}
              // ($_[0]{browser} || {})->{counters}{$counter} // 0;
    });
    return $n;
}


# hist_total($t, $hist, filters as series_total, lo => us, hi => us): the
# count of histogram $hist (a name of wire_hists: 'rt', 'ttfb'; or of
# wire_bhists prefixed "browser_": 'browser_lcp') over the matching
# series, of the buckets lying wholly within [lo, hi) microseconds (CLS:
# score times SQ_WIRE_CLS_SCALE) when lo or hi is given.

sub hist_total {
    my ($t, $which, %f) = @_;

    my ($lo, $hi) = delete @f{qw(lo hi)};
    my $n = 0;

    _each_series($t, \%f, sub {
        my $h = _which_hist($_[0], $which);
        for my $i (keys %$h) {
            next if defined $lo && sq_hist_lower($i) < $lo;
            next if defined $hi && sq_hist_upper($i) > $hi;
            $n += $h->{$i};
        }
    });

    return $n;
}


sub _which_hist {
    my ($e, $which) = @_;

    return ($e->{browser} || {})->{$1} || {} if $which =~ /^browser_(\w+)$/;
    return $e->{$which} || {};
}


# hist_quantile($t, $hist, $q, filters as series_total): the q-quantile
# (0 < q <= 1) of histogram $hist (named as for hist_total) summed over
# the matching series, as the midpoint of the bucket it falls in
# (microseconds; CLS times SQ_WIRE_CLS_SCALE); undef when it is empty.

sub hist_quantile {
    my ($t, $which, $q, %f) = @_;

    my %sum;
    _each_series($t, \%f, sub { _add_hist(\%sum, _which_hist($_[0], $which)) });

    my $n = 0;
    $n += $_ for values %sum;
    return undef unless $n;

    my $rank = $q * $n;
    my $seen = 0;
    for my $i (sort { $a <=> $b } keys %sum) {
        $seen += $sum{$i};
        return (sq_hist_lower($i) + sq_hist_upper($i)) / 2 if $seen >= $rank;
    }
    return undef;
}


sub _each_series {
    my ($t, $f, $cb) = @_;

    for my $ep (sort keys %$t) {
        next if defined $f->{endpoint} && $ep ne $f->{endpoint};
        for my $rg (sort keys %{ $t->{$ep} }) {
            next if defined $f->{region} && $rg ne $f->{region};
            for my $sg (sort keys %{ $t->{$ep}{$rg} }) {
                next if defined $f->{segment} && $sg ne $f->{segment};
                $cb->($t->{$ep}{$rg}{$sg});
            }
        }
    }
}


# seq_gaps(@maps): sequence-number trouble per (node, pid): a list of
# strings like "node/pid: missing 4..5" or "duplicate 3" (empty when each
# worker's seq runs 1, 2, 3, ... or, for a worker first seen mid-run,
# contiguously from its first).

sub seq_gaps {
    my (@maps) = @_;

    my ($node, $pid, $seq) = _k(qw(SQ_K_NODE SQ_K_PID SQ_K_SEQ));
    my (%seqs, @p);
    push @{ $seqs{"$_->{$node}/$_->{$pid}"} }, $_->{$seq} for @maps;

    for my $w (sort keys %seqs) {
        my @s = sort { $a <=> $b } @{ $seqs{$w} };
        for my $j (1 .. $#s) {
            push @p, "$w: duplicate $s[$j]" if $s[$j] == $s[$j - 1];
            push @p, "$w: missing " . ($s[$j - 1] + 1) . '..' . ($s[$j] - 1)
                if $s[$j] > $s[$j - 1] + 1;
        }
    }

    return @p;
}


# ---------------------------------------------------------------------------
# Datagram listeners

# udp_listener(port => N): a UDP socket bound to 127.0.0.1 (a free port
# unless given: bind the port of an earlier %%UDP_PORT%% to bring a
# collector "back").  Becomes the default for %%UDP_PORT%%.  Returns an
# SQWire::Listener: ->port, ->recv_all, ->close.

sub udp_listener {
    my (%o) = @_;

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $o{port} // 0,
                                  Proto => 'udp', Type => SOCK_DGRAM)
        or croak "udp bind: $!";

    my $l = SQWire::Listener->_new($s, port => $s->sockport);
    $LAST_UDP = $l;
    return $l;
}


# unix_listener($path): a unix datagram socket bound at $path (default
# <prefix>/collector.sock), writable by nginx's workers.  Becomes the
# default for %%UNIX_SOCK%%.  Returns an SQWire::Listener: ->path,
# ->recv_all, ->close (which unlinks it).

sub unix_listener {
    my ($path) = @_;

    $path //= prefix() . '/collector.sock';
    croak "unix socket path too long (max 107 bytes): $path"
        if length $path > 107;
    unlink $path;

    my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
        or croak "unix bind $path: $!";
    chmod 0666, $path;
    push @LISTENERS, $path;

    my $l = SQWire::Listener->_new($s, path => $path);
    $LAST_UNIX = $l;
    return $l;
}


# last_udp_port(), last_unix_path(): the port of the last udp_listener
# and the path of the last unix_listener (undef when none).

sub last_udp_port {
    return $LAST_UDP ? $LAST_UDP->port : undef;
}


sub last_unix_path {
    return $LAST_UNIX ? $LAST_UNIX->path : undef;
}


package SQWire::Listener;

use Carp qw(croak);
use Errno qw(EINTR);
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time);


sub _new {
    my ($class, $s, %f) = @_;

    # room for bursts of 64 KiB datagrams (capped by net.core.rmem_max)
    setsockopt $s, SOL_SOCKET, SO_RCVBUF, pack('i', 4 << 20);
    $s->blocking(0);

    return bless { sock => $s, %f }, $class;
}


sub port { return $_[0]{port} }
sub path { return $_[0]{path} }


# ->recv_all(timeout => s, until => sub { my ($raw) = @_; ... },
#            idle => s): collect raw datagrams.  Returns an array ref (a
# list in list context) when until returns true for the datagrams so far
# (it is also asked before the first wait), after idle seconds without a
# new datagram (if given), or at the timeout (default 5 s).  Without until
# or idle it collects for the whole timeout.

sub recv_all {
    my ($self, %o) = @_;

    my $deadline = time + ($o{timeout} // 5);
    my $sel = IO::Select->new($self->{sock});
    my @got;
    my $last = time;

    until ($o{until} && $o{until}->(\@got)) {
        my $now = time;
        last if $now >= $deadline;
        last if $o{idle} && @got && $now - $last >= $o{idle};

        my $wait = $deadline - $now;
        $wait = $o{idle} if $o{idle} && $o{idle} < $wait;
        next unless $sel->can_read($wait);

        while (defined(my $d = $self->_recv_one)) {
            push @got, $d;
            $last = time;
        }
    }

    return wantarray ? @got : \@got;
}


sub _recv_one {
    my ($self) = @_;

    my $buf;
    my $r = recv $self->{sock}, $buf, 1 << 17, 0;
    return undef unless defined $r;
    push @{ $self->{raw} }, $buf;
    return $buf;
}


# ->raw_datagrams: every raw datagram received since the last call (or
# since the listener was made), in order.

sub raw_datagrams {
    my ($self) = @_;
    my $raw = $self->{raw} // [];
    $self->{raw} = [];
    return @$raw;
}


# ->recv_requests($n, timeout => s, settle => s): collect until the
# decoded datagrams' requests counters add up to at least $n, then go on
# for settle seconds (default 0.3) to catch any surplus; returns the
# decoded datagrams.  Dies on timeout with the number seen.

sub recv_requests {
    my ($self, $n, %o) = @_;

    my $total = 0;
    my $seen = 0;
    my @maps;
    my $k = SQWire::wire_key('SQ_K_SERIES');
    my $f = SQWire::wire_field('SQ_F_COUNTERS');
    my $req = SQWire::counter_index('SQ_C_REQUESTS');

    my $count = sub {
        my ($raw) = @_;
        while ($seen < @$raw) {
            my $m = SQWire::decode_datagram($raw->[$seen++]);
            push @maps, $m;
            $total += $_->[$f]->[$req] for @{ $m->{$k} };
        }
        return $total >= $n;
    };

    $self->recv_all(timeout => $o{timeout} // 10, until => $count);
    croak "received $total of $n requests" if $total < $n;

    my $settle = $o{settle} // 0.3;
    if ($settle > 0) {
        push @maps, map { SQWire::decode_datagram($_) }
                    $self->recv_all(timeout => $settle);
    }

    return wantarray ? @maps : \@maps;
}


sub close {
    my ($self) = @_;

    CORE::close $self->{sock} if $self->{sock};
    unlink $self->{path} if $self->{path};
    delete $self->{sock};
    return 1;
}


package SQWire;


END {
    if (owner_process()) {
        my $status = $?;
        unlink @LISTENERS;
        $? = $status;
    }
}


1;
