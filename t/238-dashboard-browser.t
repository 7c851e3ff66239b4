#!/usr/bin/perl

# The dashboard shows the server's view and the browser's side by side
# (headless Chromium): for the page in the worst shape, a page that
# paints late and jumps, the "Server and browser" table has its request
# time beside its beacons and the p75 of LCP, INP and CLS, each coloured
# by web.dev's levels (CLS 0.30 poor, LCP 3.2 s needs improvement), and
# the zone of tolerance names the browser's CLS as the tangibles value.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

use SQCollector;
use SQWire qw(datagram series);


my $chromium = $ENV{CHROMIUM_BIN} // '/usr/bin/chromium';
plan skip_all => "no $chromium" unless -x $chromium;

my $c = SQCollector->new(min_requests => 10);
$c->start;

sub lat { my ($s, $n) = @_; return [ ($s) x $n ] }

for my $seq (1 .. 2) {
    $c->send(datagram(seq => $seq, pid => 4000, series => [
        series(endpoint => '/shifty', region => 'BR',
               latencies => lat(0.05, 30), counters => { status_2xx => 30 },
               browser => { lcp => lat(3.2, 30), cls => lat(0.3, 30),
                            inp => lat(0.35, 30), fcp => lat(0.9, 30),
                            ttfb => lat(0.1, 30) }),
        series(endpoint => '/fine', region => 'BR',
               latencies => lat(0.05, 30), counters => { status_2xx => 30 },
               browser => { lcp => lat(1.0, 30), cls => lat(0.01, 30) }),
    ]));
}

ok($c->wait_for(sub {
    my $r = $c->row($c->json('/api/v1/quality'), scope => 'endpoint',
                    endpoint => '/shifty');
    return $r && ($r->{windows}{short}{browser}{beacons} // 0) == 60;
}), 'the collector has the beacons');

my $profile = tempdir(CLEANUP => 1);
my $dom = `$chromium --headless --no-sandbox --disable-gpu --no-first-run \\
           --disable-background-networking --disable-component-update \\
           --disable-sync --user-data-dir=$profile \\
           --virtual-time-budget=8000 --window-size=1400,1100 \\
           --dump-dom 'http://127.0.0.1:$c->{http}/' 2>/dev/null`;
is $? >> 8, 0, 'chromium loaded the dashboard';

my ($views) = $dom =~ m{<div id="views"[^>]*>(.*?)</div>}s;
ok defined $views, 'the "Server and browser" section';
$views //= '';

like $views, qr{<th>/shifty, all regions</th>},
     'the page in the worst shape first';
like $views, qr{<th>LCP p75</th>.*<th>INP p75</th>.*<th>CLS p75</th>}s,
     'LCP, INP and CLS columns';
like $views, qr{<td>60</td><td>0\.050 s</td><td>60</td>},
     'requests and request time beside the beacons';
like $views, qr{<td class="cell within"[^>]*>3\.[12]\d s</td>},
     'LCP 3.2 s: needs improvement';
like $views, qr{<td class="cell within"[^>]*>35\d ms</td>},
     'INP 350 ms: needs improvement';
like $views, qr{<td class="cell below"[^>]*>0\.30</td>}, 'CLS 0.30: poor';

like $dom, qr{CLS 0\.30}, 'the zone of tolerance shows the CLS that decided';

is($c->stop, 0, 'clean exit');

done_testing();
