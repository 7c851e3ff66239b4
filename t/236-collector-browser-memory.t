#!/usr/bin/perl

# What the browser's measurements cost the window store: 10,000
# server-only series, then the same with beacons on 100 of them.  The
# server-only rows pay a pointer each (servqual_window_memory_bytes per
# series stays within 32 bytes of what the server's data needs, measured
# against the figure a row of one request costs); a row with beacons
# pays for its own browser histograms only.  SQ_MEMORY_REPORT=1 prints
# the figures (SERVQUAL_COLLECTOR= an older build compares: the
# server-only part sends version 2).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use SQWire qw(datagram series);
use Test::More;

my $N = 10_000;
my $c = SQCollector->new(conf => "limits: { max_series: 20000 }\n");
$c->start;

my $seq = 0;

# one request per series, 500 series a datagram

sub feed {
    my ($from, $to, $browser) = @_;
    for (my $i = $from; $i < $to; $i += 500) {
        my $last = $i + 499 < $to - 1 ? $i + 499 : $to - 1;
        $c->send(datagram(seq => ++$seq, version => $browser ? 3 : 2,
                          series => [ map {
            series(endpoint => "/p$_", region => 'BR',
                   latencies => [0.05],
                   $browser ? (browser => { lcp => [1.5], cls => [0.05],
                                            inp => [0.1], fcp => [0.8],
                                            ttfb => [0.2] })
                            : ())
        } $i .. $last ]));
    }
}

sub memory {
    my ($series) = @_;
    my $m;
    $c->wait_for(sub {
        $m = $c->get('/metrics')->{content};
        return ($c->metric($m, 'servqual_series') // 0) >= $series;
    }, 60) or return undef;
    return $c->metric($m, 'servqual_window_memory_bytes');
}

feed(0, $N, 0);
my $server = memory($N);
ok(defined $server, "$N server-only series");

my $per = $server / $N;
diag sprintf '%d server-only series: %.0f bytes, %.1f per series',
             $N, $server, $per if $ENV{SQ_MEMORY_REPORT};

# 100 more series, with beacons: what a browser row costs on top

feed($N, $N + 100, 1);
my $with = memory($N + 100);
my $per_browser = ($with - $server) / 100;
diag sprintf '100 series with beacons: %.1f bytes each (%.1f more than '
             . 'a server-only one)', $per_browser, $per_browser - $per
    if $ENV{SQ_MEMORY_REPORT};

cmp_ok($per_browser, '>', $per + 5 * 8,
       'a row with beacons holds its browser histograms');
cmp_ok($per_browser - $per, '<', 4096, 'about a kilobyte, not more');

# the server-only rows: their size comes from the server's data; the
# browser's part adds one pointer to the series and one to its slot
# (measured: 774.9 bytes a series before wire version 3, 790.9 with it;
# 922.2 with the open-addressed table and the slot being written; 810.2
# with the Prometheus buckets sized to the bounds in use and the slot's
# first bins in its own allocation)

cmp_ok($per, '<', 1000, 'a server-only row stays small');
cmp_ok($per, '<', 880, 'the Prometheus buckets and the slot being '
       . 'written sized to use');

is($c->stop, 0, 'clean exit');

done_testing();
