#!/usr/bin/perl

# The wire format: the test vectors of docs/wire-format.md are canonical
# encodings of what they say, and the datagrams the module really sends
# are byte for byte what the canonical encoder makes of their content,
# including histograms continued across datagrams at a small buffer=.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx no_error_in_log);
use SQUpstream qw(start_upstream);
use SQWire qw(sq_hist_lower sq_hist_upper encode_datagram doc_vectors
              decode_datagram datagram_problems sum_datagrams series_total
              hist_total seq_gaps udp_listener);


# the keys as include/servqual_wire.h names them: the SQ_K_* enum, ended
# by its count SQ_WIRE_NKEYS, and SQ_WIRE_KEY_NAMES in the same order

my $hdr = do {
    local $/;
    open my $f, '<', "$FindBin::Bin/../include/servqual_wire.h" or die $!;
    <$f>;
};
my ($kenum) = $hdr =~ /enum\s*\{([^}]*\bSQ_WIRE_NKEYS\b[^}]*)\}/;
my @kids = ($kenum // '') =~ /^\s*(SQ_\w+)/mg;
my ($knames) = $hdr =~ /#define\s+SQ_WIRE_KEY_NAMES((?:.*\\\n)*.*)/;
my @keys = ($knames // '') =~ /"([^"]*)"/g;
my ($kmax) = $hdr =~ /#define\s+SQ_WIRE_KEY_MAX\s+(\d+)/;

is pop(@kids), 'SQ_WIRE_NKEYS', 'the key enum ends in its count';
is scalar(@keys), scalar(@kids), 'a name for each SQ_K_*';
is $kids[-1], 'SQ_K_SERIES', 'the series array is the last key';
is_deeply [sort keys %{ { map { $_ => 1 } @keys } }], [sort @keys],
          'the key names are distinct';
is((sort { $b <=> $a } map { length } @keys)[0], $kmax,
   'SQ_WIRE_KEY_MAX is the longest key');

my @vectors = doc_vectors();
is scalar(@vectors), 2, 'docs/wire-format.md has two test vectors';

my @v = map { decode_datagram(pack 'H*', $_) } @vectors;

for my $i (0 .. $#vectors) {
    is unpack('H*', encode_datagram(%{ $v[$i] })), $vectors[$i],
       'vector ' . ($i + 1) . ': canonical encoding';
    is_deeply [datagram_problems($v[$i])], [],
       'vector ' . ($i + 1) . ': conforms to servqual_wire.h';
}

is_deeply $v[0]{s}[0], ['search', 'JP', 'gold',
                        [1,0,0,0,0,1,0,0,0,0,374,1,0,0,0,0,0,1,0,0,0,0,0],
                        [95, 1], [22, 1]],
          'vector 1 says what the document says';

my ($t, $h) = sum_datagrams($v[1]);
my $s = $t->{'/checkout'}{BR}{_other};
is $s->{counters}{requests}, 3, 'vector 2: three requests';
is $s->{counters}{upstream_errors}, 1, 'vector 2: one upstream error';
is_deeply $s->{rt}, { 300 => 1, 420 => 1, 1120 => 1 },
          'vector 2: request-time buckets from deltas';
is_deeply $s->{ttfb}, { 5 => 1, 200 => 2, 290 => 1 },
          'vector 2: the continued first-byte histogram adds in';
is_deeply [@$h{qw(dd dr go)}], [2, 40, 1], 'vector 2: drops and overflow';
# version 3: a series with the browser's fields beside one without

my @v3 = doc_vectors('hex-v3');
is scalar(@v3), 1, 'docs/wire-format.md has a version 3 vector';

for my $hex (@v3) {
    my $m = decode_datagram(pack 'H*', $hex);
    is unpack('H*', encode_datagram(%$m)), $hex,
       'version 3 vector: canonical encoding';
    is_deeply [datagram_problems($m)], [],
       'version 3 vector: conforms to servqual_wire.h';
    is scalar(@{ $m->{s}[0] }), 12, 'a series with beacons has 12 fields';
    is scalar(@{ $m->{s}[1] }), 6, 'one without has 6';

    my ($t3) = sum_datagrams($m);
    my $b = $t3->{'/product'}{JP}{''}{browser};
    is $b->{counters}{beacons}, 2, 'version 3 vector: two beacons';
    is $b->{counters}{nav_reload}, 1, 'one of them a reload';
    is_deeply $b->{lcp}, { 969 => 1, 1039 => 1 }, 'LCP buckets';
    is_deeply $b->{cls}, { 462 => 1, 629 => 1 }, 'CLS buckets';
    ok sq_hist_lower(629) <= 30000 && 30000 < sq_hist_upper(629),
       'CLS 0.3 is bucket 629 (times 100000)';
    is $t3->{'/search'}{JP}{''}{browser}, undef, '/search: no browser part';
}

is sq_hist_lower(300), 864, 'bucket 300 starts at 864 us';
is sq_hist_upper(1120), 6356992, 'bucket 1120 ends at 6356992 us';

# the module's own datagrams, with a buffer small enough that histograms
# with many buckets must continue in the next datagram

my $udp = udp_listener();

# /j/<i> answers after 20 ms * 100^(i / 599): 600 requests from 20 ms to
# 2 s, about 90 to a doubling of time, where a histogram has 64 buckets:
# far more non-empty buckets than a 1k datagram holds (two bytes each, two
# histograms) with the longest node, endpoint, region and segment names
# the wire allows.  The backend forks for each request, a few milliseconds
# that bunch shorter delays together: evenly spaced times from 0 to 0.9 s
# gave 160 to 230 buckets and at times fitted in one datagram

my $n = 600;
my $up = start_upstream(map {
    my $delay = 0.02 * 100 ** ($_ / ($n - 1));
    ("/j/$_" => sub {
        select undef, undef, undef, $delay;
        return (200, { 'Content-Type' => 'text/plain' }, "ok\n");
    });
} 0 .. $n - 1);

my ($node, $endpoint, $region, $segment) = ('n' x 64, 'e' x 128, 'r' x 32,
                                            's' x 64);

my %vars = (UP_PORT => $up->port, NODE => $node, ENDPOINT => $endpoint);

start_nginx(<<'EOF', vars => \%vars);
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=60s buffer=1k
                       node=%%NODE%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        servqual_endpoint %%ENDPOINT%%;
        servqual_region $arg_r;
        servqual_segment $arg_s;

        location / {
            proxy_pass http://127.0.0.1:%%UP_PORT%%;
        }
    }
EOF

# all in one window, sent when nginx stops

my @pids;
for my $k (0 .. 59) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        http_get('/j/' . ($_ * 60 + $k) . "?r=$region&s=$segment")
            for 0 .. $n / 60 - 1;
        exit 0;
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;

stop_nginx();

# the continuations follow the datagram that completes the count: wait
# for them even on a loaded machine, where the stopping worker may be
# descheduled between two sends
my @d = $udp->recv_requests($n, settle => 3);
my @raw = $udp->raw_datagrams;

ok @raw >= 2, scalar(@raw) . ' datagrams for one window';
ok !(grep { length($_) > 1024 } @raw), 'none is longer than buffer=1k';

my $canonical = grep { encode_datagram(%{ decode_datagram($_) }) eq $_ } @raw;
is $canonical, scalar(@raw), "every datagram is canonically encoded";

is_deeply [map { datagram_problems($_) } @d], [], 'all conform';
is_deeply [grep { join(' ', sort keys %$_) ne join(' ', sort @keys) } @d], [],
          'each datagram has exactly the keys of SQ_WIRE_KEY_NAMES';
is_deeply [seq_gaps(@d)], [], 'consecutive sequence numbers';

($t) = sum_datagrams(@d);
is series_total($t, 'requests'), $n, 'counters counted once';
is hist_total($t, 'rt'), $n, 'request-time samples all there';
is hist_total($t, 'ttfb'), $n, 'first-byte samples all there';
ok keys %{ $t->{$endpoint}{$region}{$segment}{rt} } > 100,
   'many distinct buckets';

my $continued = grep { grep { $_->[3][0] == 0 } @{ $_->{s} } } @d;
ok $continued >= 1, 'some series entries are continuations';

no_error_in_log();

done_testing;
